//===- CUDAEmitter.h - device binaries of the GPU target -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_TARGET_CUDA_CUDAEMITTER_H
#define SPARSA_TARGET_CUDA_CUDAEMITTER_H

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace sparsa {

/// The architectures a CUDA model carries cubins for: the requested ones
/// (`--gpu-arch`, comma-separated) plus sm_80 and sm_90 where they are not
/// older than the first requested one, which is the PTX target (embedded
/// too, for GPUs newer than all of them).
std::vector<std::string> cudaArchitectures(llvm::StringRef requested);

/// Replaces the PTX of every `gpu.binary` (from `gpu-module-to-binary
/// {format=isa}`) by a fat binary: ptxas compiles a cubin for each of
/// |archs| and `fatbinary` packs them with the PTX. Fails with a diagnostic
/// when the PTX calls an unresolved `__nv_*` function or ptxas rejects it.
/// |ptx| receives the PTX text (all binaries, in order).
mlir::LogicalResult buildCUDAFatBinaries(mlir::ModuleOp module,
                                         const std::vector<std::string> &archs,
                                         llvm::StringRef toolkit, std::string &ptx);

} // namespace sparsa

#endif // SPARSA_TARGET_CUDA_CUDAEMITTER_H
