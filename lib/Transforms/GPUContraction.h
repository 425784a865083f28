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

/// The buffer |v| is a view of: follows view-like ops to their source.
mlir::Value bufferRoot(mlir::Value v);

/// Whether the buffer |root| is a fresh allocation of the function.
bool isFreshAllocation(mlir::Value root);

} // namespace sparsa

#endif // SPARSA_LIB_TRANSFORMS_GPUCONTRACTION_H
