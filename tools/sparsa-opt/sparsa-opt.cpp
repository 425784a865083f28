//===- sparsa-opt.cpp - mlir-opt style driver for Sparsa -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Registers the Sparsa dialects, passes and pipelines next to the upstream
// ones the pipelines use, then hands over to MlirOptMain.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Conversion/Passes.h"
#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Pipelines/Pipelines.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  sparsa::registerSparsaConversionPasses();
  sparsa::registerSparsaTransformsPasses();
  sparsa::registerSparsaPipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates device modules to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<sparsa::onnx::ONNXDialect, sparsa::sparsa::SparsaDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Sparsa optimizer driver\n", registry));
}
