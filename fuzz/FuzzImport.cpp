//===- FuzzImport.cpp - Fuzz target: the ONNX importer --------------------===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Feeds the input to the importer as a serialized ModelProto
// (sparsa-fuzz-onnx-proto) or as ONNX text (sparsa-fuzz-onnx-text, built
// with SPARSA_FUZZ_TEXT). The importer must either return a module that
// verifies or report an error; seeds are the test models.
//
//===----------------------------------------------------------------------===//

#include "FuzzCommon.h"

#include "sparsa/Importer/ONNX/Importer.h"

#include "mlir/IR/Verifier.h"

#include <cstdint>

#ifdef SPARSA_FUZZ_TEXT
static constexpr bool kText = true;
#else
static constexpr bool kText = false;
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sparsa::fuzz::FuzzContext fc;
  sparsa::ONNXImportOptions options;
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      sparsa::importONNXBuffer(&fc.ctx, bytes, "fuzz", kText, options);
  if (!module) {
    if (fc.errors == 0)
      sparsa::fuzz::finding("the importer failed without an error");
    return 0;
  }
  if (mlir::failed(mlir::verify(*module)))
    sparsa::fuzz::finding("the importer returned a module that does not verify");
  return 0;
}
