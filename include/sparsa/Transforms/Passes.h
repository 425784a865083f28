//===- Passes.h - Sparsa transformation passes ------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Declares the transformation passes of Sparsa (weight preparation, CPU
// loop shaping).
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_TRANSFORMS_PASSES_H
#define SPARSA_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

namespace sparsa {

#define GEN_PASS_DECL
#include "sparsa/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparsa/Transforms/Passes.h.inc"

/// Name of the function argument attribute holding a weight's data.
inline constexpr llvm::StringLiteral kWeightAttrName = "sparsa.weight";
/// What a weight argument keeps once its data has gone to the sidecar: its
/// byte offset there (a multiple of 64; the runtime's device copy is 256-byte
/// aligned), which code generation may rely on for vector alignment.
inline constexpr llvm::StringLiteral kWeightOffsetAttrName = "sparsa.weight_offset";

/// Name of the discardable attribute a fusion pass puts on a candidate it
/// did not fuse: a dictionary {family = "reason"}.
inline constexpr llvm::StringLiteral kUnfusedAttrName = "sparsa.unfused";

/// Records on |op| why |family| did not fuse it (the report lists it).
void markUnfused(mlir::Operation *op, llvm::StringRef family, llvm::StringRef reason);

/// Name of the discardable attribute a fusion pass puts on a fused op to say
/// what it left outside of it: a dictionary {family = "note"}.
inline constexpr llvm::StringLiteral kFusionNoteAttrName = "sparsa.fusion_note";

/// Records on the fused |op| a note of |family| (the report's `notes`).
void markFusionNote(mlir::Operation *op, llvm::StringRef family, llvm::StringRef note);

} // namespace sparsa

#endif // SPARSA_TRANSFORMS_PASSES_H
