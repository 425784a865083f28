//===- FuzzCommon.cpp - Shared pieces of the fuzz targets -----------------===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "FuzzCommon.h"

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

const DialectRegistry &sparsa::fuzz::registry() {
  static DialectRegistry *reg = [] {
    auto *r = new DialectRegistry;
    registerAllDialects(*r);
    registerAllExtensions(*r);
    registerAllToLLVMIRTranslations(*r);
    registerAllPasses();
    r->insert<::sparsa::onnx::ONNXDialect, ::sparsa::sparsa::SparsaDialect>();
    return r;
  }();
  return *reg;
}

sparsa::fuzz::FuzzContext::FuzzContext()
    : ctx(registry(), MLIRContext::Threading::DISABLED),
      handler(&ctx, [this](Diagnostic &diag) {
        static const bool verbose = std::getenv("SPARSA_FUZZ_VERBOSE") != nullptr;
        if (diag.getSeverity() == DiagnosticSeverity::Error)
          ++errors;
        if (verbose)
          llvm::errs() << diag.getLocation() << ": " << diag << "\n";
        return success();
      }) {
  ctx.printOpOnDiagnostic(false);
}
