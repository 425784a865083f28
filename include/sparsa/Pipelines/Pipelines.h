//===- Pipelines.h - Sparsa compilation pipelines ---------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Declares the pass pipelines from imported `onnx` IR to the LLVM dialect.
// The driver runs them in stages so it can stop at each `--emit` point.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_PIPELINES_PIPELINES_H
#define SPARSA_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace sparsa {

/// Options of the CPU pipelines; the driver fills them from its flags.
struct SparsaCPUPipelineOptions
    : public mlir::PassPipelineOptions<SparsaCPUPipelineOptions> {
  Option<int64_t> minWeightBytes{
      *this, "min-weight-bytes",
      llvm::cl::desc("Constants of at least this size go to the weights file"),
      llvm::cl::init(4096)};
  Option<int64_t> parallelTasks{
      *this, "parallel-tasks",
      llvm::cl::desc("Target number of parallel tiles per op (0 disables threading)"),
      llvm::cl::init(8)};
  Option<int64_t> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("Vector register width of the target CPU in bits"),
      llvm::cl::init(512)};
  Option<bool> int8Activations{
      *this, "int8-activations",
      llvm::cl::desc("Quantized matmuls quantize float activations to int8 "
                     "per block (VNNI dot products)"),
      llvm::cl::init(false)};
  Option<bool> vnni{
      *this, "vnni",
      llvm::cl::desc("The target CPU has AVX-512 VNNI (int8 dot products)"),
      llvm::cl::init(false)};
  Option<bool> selfSchedule{
      *this, "self-schedule",
      llvm::cl::desc("CPU target, tuning: a parallel region's last loop hands "
                     "out its iterations from a shared counter (false: "
                     "libomp's dynamic schedule)"),
      llvm::cl::init(true)};
  Option<std::string> disableFusion{
      *this, "disable-fusion",
      llvm::cl::desc("Comma-separated fusion families to skip"),
      llvm::cl::init("")};
  Option<std::string> gpuChip{
      *this, "gpu-chip",
      llvm::cl::desc("GPU target: the NVVM chip the PTX is generated for"),
      llvm::cl::init("sm_80")};
  Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("GPU target: CUDA toolkit folder (libdevice); default "
                     "$CUDA_HOME, else /usr/local/cuda"),
      llvm::cl::init("")};
  Option<int64_t> gpuVectorWidth{
      *this, "gpu-vector-width",
      llvm::cl::desc("GPU target, tuning: outputs along n per contraction "
                     "thread (one vector load; 1 = scalar threads)"),
      llvm::cl::init(4)};
  Option<int64_t> gpuUnroll{
      *this, "gpu-unroll",
      llvm::cl::desc("GPU target, tuning: reduction steps whose loads a "
                     "contraction thread issues together, divided by its rows"),
      llvm::cl::init(8)};
  Option<bool> gpuSharedTiles{
      *this, "gpu-shared-tiles",
      llvm::cl::desc("GPU target, tuning: GEMMs stage operand tiles through "
                     "shared memory (false: register-tiled threads only)"),
      llvm::cl::init(true)};
  Option<bool> gpuTensorCores{
      *this, "gpu-tensor-cores",
      llvm::cl::desc("GPU target, tuning: f16 / bf16 matmuls, and from sm_80 "
                     "quantized GEMMs with int8 activations, on tensor cores "
                     "(mma.sync; false: scalar threads, dp4a GEMV threads)"),
      llvm::cl::init(true)};
  Option<bool> gpuWarpCompaction{
      *this, "gpu-warp-compaction",
      llvm::cl::desc("GPU target, tuning: active-index lists built by warps "
                     "(vote.ballot + popc; false: chunks of 128 positions "
                     "per thread)"),
      llvm::cl::init(true)};
  Option<bool> gpuQuantizedGemv{
      *this, "gpu-quantized-gemv",
      llvm::cl::desc("GPU target, tuning: packed-weight GEMVs read 16-byte "
                     "vectors of codes (dp4a with int8 activations; false: "
                     "split-K byte loops)"),
      llvm::cl::init(true)};
  Option<int64_t> gpuTargetThreads{
      *this, "gpu-target-threads",
      llvm::cl::desc("GPU target, tuning: threads split-K aims for"),
      llvm::cl::init(131072)};
  Option<bool> emulateGPU{
      *this, "emulate-gpu",
      llvm::cl::desc("GPU pipeline, test aid: run the launches as host loops "
                     "(a CPU library that checks the device mapping)"),
      llvm::cl::init(false)};
  Option<bool> emulateAdversarial{
      *this, "emulate-adversarial",
      llvm::cl::desc("With emulate-gpu: threads in reverse order and device "
                     "allocations poisoned (finds races and reads of "
                     "uninitialized device memory)"),
      llvm::cl::init(false)};
  Option<bool> instrumentSparsity{
      *this, "instrument-sparsity",
      llvm::cl::desc("Count active neurons of every sparse FFN at run time"),
      llvm::cl::init(false)};
};

/// Stage 1, on `onnx` IR: fusion families and compile-time weight layout.
/// The result is what `--emit=mlir-fused` prints.
void buildSparsaFusionPipeline(mlir::OpPassManager &pm,
                               const SparsaCPUPipelineOptions &options);

/// Stage 2: large constants become weight arguments of the entry function.
void buildSparsaOutlineWeightsPipeline(mlir::OpPassManager &pm,
                                       const SparsaCPUPipelineOptions &options);

/// Stage 3: `onnx` + tensors down to the LLVM dialect for the CPU. The
/// result is what `--emit=mlir-lowered` prints.
void buildSparsaCPULoweringPipeline(mlir::OpPassManager &pm,
                                    const SparsaCPUPipelineOptions &options);

/// Stage 3 for NVIDIA GPUs: `onnx` + tensors to the LLVM dialect for the
/// host, with the kernels in a `gpu.binary` holding their PTX.
void buildSparsaGPULoweringPipeline(mlir::OpPassManager &pm,
                                    const SparsaCPUPipelineOptions &options);

/// The CUDA toolkit folder the GPU pipeline uses.
std::string cudaToolkitPath(llvm::StringRef option);

/// Registers `sparsa-cpu-pipeline` (all three stages) and
/// `sparsa-cpu-lowering-pipeline` (stage 3 alone) for sparsa-opt.
void registerSparsaPipelines();

} // namespace sparsa

#endif // SPARSA_PIPELINES_PIPELINES_H
