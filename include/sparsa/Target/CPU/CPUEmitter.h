//===- CPUEmitter.h - LLVM-dialect module to a loadable library -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The back half of the CPU target: extracts weights into the sidecar file,
// adds the runtime interface (packed entry point + model description), and
// turns the LLVM-dialect module into LLVM IR, assembly, an object or a shared
// library.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_TARGET_CPU_CPUEMITTER_H
#define SPARSA_TARGET_CPU_CPUEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace sparsa {

/// Moves every `sparsa.weight` argument's data of the entry function into
/// the sidecar file |sidecarPath| (64-byte aligned, with a header carrying
/// |modelId|), strips the attribute, and returns the model description the
/// runtime reads (inputs, weights with offsets, outputs). With an empty
/// |sidecarPath| nothing is written (for --emit modes that stop early).
mlir::FailureOr<std::string> extractWeights(mlir::ModuleOp module,
                                            llvm::StringRef sidecarPath,
                                            uint64_t modelId);

/// Adds `sparsa_entry(void **args)` calling the C interface of the entry
/// function, and the `sparsa_model_info` string, to an LLVM-dialect module.
mlir::LogicalResult addRuntimeInterface(mlir::ModuleOp module,
                                        llvm::StringRef modelInfo);

/// Creates the target machine for |cpu| ("native" = this host).
std::unique_ptr<llvm::TargetMachine> createCPUTargetMachine(llvm::StringRef cpu,
                                                            unsigned optLevel,
                                                            std::string &error);

/// Translates to LLVM IR and runs the LLVM optimization pipeline.
std::unique_ptr<llvm::Module> translateAndOptimize(mlir::ModuleOp module,
                                                   llvm::LLVMContext &llvmCtx,
                                                   llvm::TargetMachine &tm,
                                                   unsigned optLevel,
                                                   std::string &error);

/// Emits assembly or an object file for |module|.
bool emitMachineCode(llvm::Module &module, llvm::TargetMachine &tm,
                     llvm::StringRef path, bool assembly, std::string &error);

/// Links |objectPath| into the shared library |soPath| (libomp, libm).
bool linkSharedLibrary(llvm::StringRef objectPath, llvm::StringRef soPath,
                       std::string &error);

/// Name of the sidecar weights file of |soPath|.
std::string sidecarPathFor(llvm::StringRef soPath);

} // namespace sparsa

#endif // SPARSA_TARGET_CPU_CPUEMITTER_H
