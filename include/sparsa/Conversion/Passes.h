//===- Passes.h - Sparsa conversion passes ----------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Declares the conversion passes (onnx -> upstream dialects).
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_CONVERSION_PASSES_H
#define SPARSA_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

namespace sparsa {

#define GEN_PASS_DECL
#include "sparsa/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparsa/Conversion/Passes.h.inc"

} // namespace sparsa

#endif // SPARSA_CONVERSION_PASSES_H
