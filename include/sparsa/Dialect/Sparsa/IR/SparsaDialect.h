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
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "sparsa/Dialect/Sparsa/IR/SparsaOps.h.inc"

namespace sparsa::sparsa {
/// The fusion family (report key) a `sparsa` op belongs to, or "" for
/// any other op.
llvm::StringRef fusionFamily(mlir::Operation *op);
} // namespace sparsa::sparsa

#endif // SPARSA_DIALECT_SPARSA_IR_SPARSADIALECT_H
