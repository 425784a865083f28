//===- Importer.h - ONNX model importer -------------------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Imports an ONNX model (protobuf or the ONNX text syntax) into a module of
// `onnx` dialect ops. Errors are emitted as diagnostics located at the ONNX
// node (a NameLoc carrying the node name).
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_IMPORTER_ONNX_IMPORTER_H
#define SPARSA_IMPORTER_ONNX_IMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace sparsa {

/// Options of the importer; the driver fills them from its flags.
struct ONNXImportOptions {
  /// Pins of dynamic input dimensions: input name -> full static shape.
  std::vector<std::pair<std::string, std::vector<int64_t>>> inputShapes;
  /// Treat the file as ONNX text syntax even if it does not end in .onnxtxt.
  bool forceText = false;
};

/// Name of the entry function the importer creates.
inline constexpr const char *kEntryFunctionName = "main_graph";

/// Imports |path|. Returns null after emitting diagnostics on failure.
mlir::OwningOpRef<mlir::ModuleOp>
importONNXFile(mlir::MLIRContext *ctx, llvm::StringRef path,
               const ONNXImportOptions &options);

/// Imports a model held in memory: |bytes| is a serialized ModelProto, or
/// ONNX text when |text| is set. |name| labels diagnostics. External data is
/// refused (an in-memory model has no folder to read it from). The fuzz
/// targets enter here.
mlir::OwningOpRef<mlir::ModuleOp>
importONNXBuffer(mlir::MLIRContext *ctx, llvm::StringRef bytes,
                 llvm::StringRef name, bool text,
                 const ONNXImportOptions &options);

/// Parses an `--input-shape` value `NAME:D0xD1x...` into |options|; returns
/// an error message on malformed input, empty on success.
std::string parseInputShapeFlag(llvm::StringRef flag, ONNXImportOptions &options);

} // namespace sparsa

#endif // SPARSA_IMPORTER_ONNX_IMPORTER_H
