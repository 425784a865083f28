//===- GPUContraction.h - what a GPU contraction thread computes -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Shared by the GPU split-K pass (on tensors, which needs to know how many
// outputs one thread will compute) and the GPU contraction kernels pass (on
// buffers, which builds those threads); the buffer helpers also by the
// accumulator promotion.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_LIB_TRANSFORMS_GPUCONTRACTION_H
#define SPARSA_LIB_TRANSFORMS_GPUCONTRACTION_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace sparsa {

/// A contraction `out[P] += a[...] * b[..., n]` with one reduction loop k,
/// static f32 operands, `b` and `out` contiguous along the parallel loop n,
/// and `a` independent of n. One GPU thread computes `width` consecutive
/// n of `rows` consecutive rows (the loop `rowDim` that indexes `a` and
/// `out` but not `b`), reading each vector of `b` once for all its rows.
struct GPUContractionPlan {
  unsigned aOperand = 0, bOperand = 1;
  unsigned nDim = 0, kDim = 0;
  std::optional<unsigned> rowDim;
  int64_t rows = 1;
  int64_t width = 1;
  /// Outputs one thread computes.
  int64_t perThread() const { return rows * width; }
};

/// The plan for |op| with vectors of |width| elements and up to |maxRows|
/// register rows, or nothing when |op| is not such a contraction. With
/// |dynamicRows| the row loop may have a run-time size (for kernels that
/// handle any row count; rows is then 1).
std::optional<GPUContractionPlan> planGPUContraction(mlir::linalg::LinalgOp op,
                                                     int64_t width, int64_t maxRows,
                                                     bool dynamicRows = false);

/// A packed-weight GEMV of the quantized matmul lowering (`sparsa.kernel`
/// q4_gemv / q8_gemv / q4_vnni / q8_vnni; loops m, n, kk over code bytes):
/// which inputs are which, as sparsa-gpu-quantized-gemv builds its threads.
struct GPUQuantizedGemv {
  /// 8-bit codes (one per byte; no odd activations), int8 activations;
  /// `dynamic`: DynamicQuantizeLinear's uint8 activations against uint8
  /// codes, summed exactly in i32 (`q8_dyn`: no blocks or scales).
  bool q8 = false, int8 = false, dynamic = false;
  /// Code bytes per block (a multiple of 16).
  int64_t blockBytes = 0;
  /// Inputs: activations (even k, odd k), codes [N, Kh], scales [N,
  /// blocks], zero points (f32 [N, blocks], or packed), activation scales
  /// per 4 bytes (int8). Absent ones are -1.
  int aEven = -1, aOdd = -1, codes = -1, scales = -1, zeroPoints = -1, actScales = -1;
  /// `dynamic`: the activations' zero point (a one-element i32 input).
  int actZeroPoint = -1;
  /// Bits of each packed zero point (0: f32 zero points or none).
  int64_t zeroPointBits = 0;
  /// The zero point when there is no zero-point operand.
  double zeroPoint = 0;
};

/// The plan for |op| (on tensors or buffers), or nothing when it is not
/// such a GEMV in the layout the lowering builds.
std::optional<GPUQuantizedGemv> planGPUQuantizedGemv(mlir::linalg::LinalgOp op);

/// Rows from which an int8-activation packed GEMV runs on int8 tensor
/// cores (one m16 tile of `mma.sync` m16n8k32).
inline constexpr int64_t kInt8MmaRows = 16;

/// Whether the packed GEMV |op| (on buffers, planned as |q|) fits the
/// int8 tensor-core GEMM of sparsa-gpu-contraction-kernels: int8
/// activations, code rows a multiple of 32 bytes (8-bit codes: blocks of
/// 32 bytes too), at least 16 outputs, rows 16-byte aligned.
bool int8MmaFits(mlir::linalg::LinalgOp op, const GPUQuantizedGemv &q);

/// Whether the rows of the buffer |v| start 16-byte aligned (see
/// sparsa-gpu-quantized-gemv).
bool rowsAligned16(mlir::Value v);

/// The buffer |v| is a view of: follows view-like ops to their source.
mlir::Value bufferRoot(mlir::Value v);

/// Whether the buffer |root| is a fresh allocation of the function.
bool isFreshAllocation(mlir::Value root);

/// Whether vector accesses of |width| floats (4 x |width| bytes) into |v|
/// are aligned: a contiguous (identity layout) view of a fresh allocation
/// or of a weight argument (weights sit at 64-byte offsets of a 256-byte
/// aligned device buffer; `sparsa.weight_offset` once their data went to
/// the sidecar), whose rows are multiples of |width| elements.
bool alignedBuffer(mlir::Value v, int64_t width);

} // namespace sparsa

#endif // SPARSA_LIB_TRANSFORMS_GPUCONTRACTION_H
