//===- ONNXOps.h - ONNX dialect ---------------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Declares the `onnx` dialect and its ops, plus small helpers shared by the
// importer, the verifiers and the lowering.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_DIALECT_ONNX_IR_ONNXOPS_H
#define SPARSA_DIALECT_ONNX_IR_ONNXOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "sparsa/Dialect/ONNX/IR/ONNXOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "sparsa/Dialect/ONNX/IR/ONNXOps.h.inc"

namespace sparsa::onnx {

/// Maps an ONNX TensorProto.DataType number to an MLIR element type; returns
/// a null type for data types Sparsa does not support.
mlir::Type getElementTypeForONNXDataType(mlir::MLIRContext *ctx, int64_t dt);

/// Reads a constant i32/i64 tensor (e.g. Reshape's shape, Unsqueeze's axes)
/// produced by an `onnx.Constant`; fails when |value| is not one.
mlir::FailureOr<llvm::SmallVector<int64_t>> getConstantI64Values(mlir::Value value);

/// Returns the raw little-endian bytes of a constant (dense_resource blob or
/// dense elements; a splat is expanded into |storage|). Fails for element
/// types that are not a whole number of bytes (i1).
mlir::FailureOr<llvm::ArrayRef<char>>
getConstantBytes(mlir::ElementsAttr attr, llvm::SmallVectorImpl<char> &storage);

/// Computes the numpy broadcast of two shapes (kDynamic for `?`); fails when
/// two static dimensions differ and neither is 1.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

/// A parsed Einsum equation: every dimension (the broadcast dimensions of
/// `...` first, then each letter) gets an id; each input and the output list
/// the ids of their dimensions in order.
struct EinsumSpec {
  int64_t numIds = 0;
  /// Ids of the `...` dimensions, in order (right-aligned across inputs).
  int64_t numEllipsisIds = 0;
  llvm::SmallVector<llvm::SmallVector<int64_t>> inputs;
  llvm::SmallVector<int64_t> output;
};

/// Parses |equation| for inputs of the given ranks; on failure |error| says
/// what is wrong.
mlir::FailureOr<EinsumSpec> parseEinsum(llvm::StringRef equation,
                                        llvm::ArrayRef<int64_t> ranks,
                                        std::string &error);

/// Whether |r| is a reduction mode of ScatterElements / ScatterND.
bool isScatterReduction(llvm::StringRef r);

} // namespace sparsa::onnx

#endif // SPARSA_DIALECT_ONNX_IR_ONNXOPS_H
