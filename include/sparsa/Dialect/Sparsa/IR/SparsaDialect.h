//===- SparsaDialect.h - Sparsa dialect -------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Declares the `sparsa` dialect of canonical fused ops.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_DIALECT_SPARSA_IR_SPARSADIALECT_H
#define SPARSA_DIALECT_SPARSA_IR_SPARSADIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaOpsDialect.h.inc"

#include "sparsa/Dialect/Sparsa/IR/SparsaAttrInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "sparsa/Dialect/Sparsa/IR/SparsaAttrs.h.inc"

#define GET_OP_CLASSES
#include "sparsa/Dialect/Sparsa/IR/SparsaOps.h.inc"

namespace sparsa::sparsa {
/// The target the lowerings shared by the targets lower for (a
/// TargetInfoAttrInterface attribute), set on the module by
/// sparsa-set-target.
inline constexpr llvm::StringLiteral kTargetAttrName = "sparsa.target";

/// The `sparsa.target` of the nearest op enclosing |op| (|op| included)
/// that has one, else the CPU target's defaults.
TargetInfoAttrInterface getTarget(mlir::Operation *op);

/// Whether the SM |chip| ("sm_80", "sm_90a") has int8 tensor cores of
/// `mma.sync` m16n8k32 (sm_80 and newer): the CUDA target's
/// getInt8Matrices, and the GPU pipeline's int8 tensor-core kernels.
bool chipHasInt8Mma(llvm::StringRef chip);

/// The fusion family (report key) a `sparsa` op belongs to, or "" for
/// any other op.
llvm::StringRef fusionFamily(mlir::Operation *op);

/// Set by a fusion pass on an op of another dialect that already is the
/// family's canonical op (ONNX LinearAttention): the family it counts for.
inline constexpr llvm::StringLiteral kFamilyAttrName = "sparsa.family";

/// Sparsity profile (`--instrument=sparsity`): a sparse FFN tagged with
/// `sparsa.profile = @sym` updates the i64 counters of the memref.global
/// @sym on every call: [0] tokens, [1] active neurons summed over tokens,
/// [2, 102) tokens per 1 % bin of their active fraction, [102, 102 + F)
/// each neuron's firing count. The global carries its ONNX node's name.
inline constexpr llvm::StringLiteral kProfileAttrName = "sparsa.profile";
inline constexpr llvm::StringLiteral kProfileNodeAttrName = "sparsa.profile_node";
inline constexpr int64_t kProfileBins = 100;
inline constexpr int64_t kProfileHistogramSlot = 2;
inline constexpr int64_t kProfileNeuronSlot = kProfileHistogramSlot + kProfileBins;

/// Run-time checks: a value read from the model's inputs that would index
/// out of bounds (a neuron index of an index-set FFN) is clamped, and the
/// id of the check that caught it (attribute kCheckAttrName on the op,
/// 1-based) is stored into the thread-local i64 global kRunStatusSymbol,
/// which the runtime reads after each run and turns into an error with the
/// message listed at that id (kCheckMessagesAttrName on the global).
inline constexpr llvm::StringLiteral kCheckAttrName = "sparsa.check";
inline constexpr llvm::StringLiteral kCheckMessagesAttrName = "sparsa.check_messages";
inline constexpr llvm::StringLiteral kRunStatusSymbol = "sparsa_run_status";

/// Kernel tags: a lowering marks a linalg.generic it built in a known shape
/// with `sparsa.kernel` ("gather_dot", "gather_axpy", "q4_gemv") so that
/// sparsa-contraction-kernels emits its dedicated vector loops; untagged
/// (or unmatched) generics keep their plain-loop meaning. A "q4_gemv" also
/// carries its bytes per block, and its zero point when one serves all.
inline constexpr llvm::StringLiteral kKernelAttrName = "sparsa.kernel";
inline constexpr llvm::StringLiteral kBlockBytesAttrName = "sparsa.block_bytes";
inline constexpr llvm::StringLiteral kZeroPointAttrName = "sparsa.zero_point";
/// On a packed GEMV generic: its zero points are packed `bits`-bit codes,
/// [N, ceil(blocks * bits / 8)] bytes, low bits first (MatMulNBits').
inline constexpr llvm::StringLiteral kPackedZeroPointsAttrName = "sparsa.zero_point_bits";
} // namespace sparsa::sparsa

#endif // SPARSA_DIALECT_SPARSA_IR_SPARSADIALECT_H
