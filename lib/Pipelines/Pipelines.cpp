//===- Pipelines.cpp - Sparsa compilation pipelines ------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Builds the staged CPU pipeline. Upstream passes are used wherever they do
// the job; each stage says why it sits where it does.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Pipelines/Pipelines.h"
#include "sparsa/Conversion/Passes.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

/// Appends an upstream textual pipeline; the strings are fixed, so a parse
/// failure is a programming error reported loudly at the first run.
static void addUpstream(OpPassManager &pm, StringRef pipeline) {
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error(llvm::Twine("sparsa: bad built-in pipeline: ") +
                             pipeline);
}

void sparsa::buildSparsaFusionPipeline(OpPassManager &pm,
                                       const SparsaCPUPipelineOptions &options) {
  // 1. Fold what the exporter left foldable, so fusion sees canonical IR.
  pm.addPass(createCanonicalizerPass());
  // 2. Fusion families (routing, activation sparsity, quantization, flow
  //    attention) run here as they land; --disable-fusion skips them.
  auto enabled = [&](StringRef family) {
    return !llvm::is_contained(llvm::split(StringRef(options.disableFusion), ','), family);
  };
  if (enabled("routing"))
    pm.addNestedPass<func::FuncOp>(createFuseRoutingPass());
  // After routing: expert FFNs belong to the routed op.
  if (enabled("activation_sparsity"))
    pm.addNestedPass<func::FuncOp>(createFuseActivationSparsityPass());
  // Quantized matmuls: after activation sparsity, whose FFNs need float
  // constant weights (a dequantized weight is not one).
  if (enabled("quantization")) {
    FuseQuantizationPassOptions quant;
    quant.int8Activations = options.int8Activations;
    pm.addNestedPass<func::FuncOp>(createFuseQuantizationPass(quant));
  }
  // Flow and linear attention: before softmax attention, whose chains
  // never match theirs (no feature maps), so the order only saves work.
  if (enabled("flow_attention"))
    pm.addNestedPass<func::FuncOp>(createFuseFlowAttentionPass());
  // Kernel fusion, not a family: dense softmax attention in one op whose
  // lowering keeps the scores in cache.
  if (enabled("attention"))
    pm.addNestedPass<func::FuncOp>(createFuseAttentionPass());
  // 3. Weight layout last: fusion may choose layouts of its own first.
  pm.addNestedPass<func::FuncOp>(createPrepackWeightsPass());
  pm.addPass(createCSEPass());
  // 4. Counters for the sparsity profile: one global per sparse FFN, which
  //    its lowering updates and the model description lists.
  if (options.instrumentSparsity)
    pm.addPass(createInstrumentSparsityPass());
}

void sparsa::buildSparsaOutlineWeightsPipeline(
    OpPassManager &pm, const SparsaCPUPipelineOptions &options) {
  OutlineWeightsPassOptions outline;
  outline.minBytes = options.minWeightBytes;
  pm.addPass(createOutlineWeightsPass(outline));
  // Checks of index values read from inputs: numbered here, so the model
  // description can list their messages before lowering.
  pm.addPass(createRunChecksPass());
}

/// Shared by both targets: onnx -> linalg/tensor, the shape arithmetic it
/// leaves cleaned up, then element-wise chains (bias, activation, residual)
/// fused into one loop nest before any tiling, so tiling sees the final ops.
static void addLinalgFrontEnd(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(sparsa::createConvertONNXToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(sparsa::createFuseElementwisePass());
}

/// One-shot bufferization of the whole module (identity layouts at the
/// function boundary give the runtime plain strided descriptors), then the
/// ownership-based deallocation.
static void addBufferization(OpPassManager &pm) {
  addUpstream(pm, "one-shot-bufferize{bufferize-function-boundaries "
                  "function-boundary-type-conversion=identity-layout-map}");
  addUpstream(pm, "buffer-deallocation-pipeline,convert-bufferization-to-memref");
}

void sparsa::buildSparsaCPULoweringPipeline(
    OpPassManager &pm, const SparsaCPUPipelineOptions &options) {
  // 1-2. onnx -> linalg/tensor for the CPU, element-wise chains fused.
  //      Listed rows split into one block per thread of a typical host
  //      (2), never more blocks than the thread tasks asked for
  //      (--parallel-tasks=0, no threads: one block).
  SetTargetPassOptions target;
  target.target = "cpu";
  target.rowTasks = std::clamp<int64_t>(options.parallelTasks, 1, 2);
  target.int8Matrices = options.vnni;
  pm.addPass(createSetTargetPass(target));
  addLinalgFrontEnd(pm);
  // 3. Loop order + thread tiling on tensors (scf.forall), where the tiling
  //    interface handles slices and partial tiles for us.
  if (options.parallelTasks > 0) {
    CPUTileParallelPassOptions tile;
    tile.tasks = options.parallelTasks;
    pm.addNestedPass<func::FuncOp>(createCPUTileParallelPass(tile));
  }
  pm.addPass(createCanonicalizerPass());
  // 4-5. Bufferize the whole module at once and free intermediates;
  //    results keep ownership for the caller (a result that aliases an
  //    argument or a constant is cloned, and the clone lowered to alloc +
  //    copy).
  addBufferization(pm);
  // 6. Copies into strided views (concat, split) become linalg.copy loops
  //    rather than calls to MLIR's C runner library; then linalg -> scf; LLVM's loop vectorizer then vectorizes the
  //    contiguous inner loops that step 3 arranged.
  pm.addNestedPass<func::FuncOp>(createStridedCopiesToLinalgPass());
  // Matmul-like generics get register-blocked vector loops; the rest go
  // to scalar loops that LLVM vectorizes.
  ContractionKernelsPassOptions kernels;
  kernels.vectorBits = options.vectorBits;
  kernels.vnni = options.vnni;
  pm.addNestedPass<func::FuncOp>(createContractionKernelsPass(kernels));
  addUpstream(pm, "func.func(convert-linalg-to-loops)");
  // 7. Threads: forall -> parallel -> OpenMP (libomp at run time).
  addUpstream(pm, "func.func(scf-forall-to-parallel),convert-scf-to-openmp");
  DynamicSchedulePassOptions schedule;
  schedule.selfSchedule = options.selfSchedule;
  pm.addPass(createDynamicSchedulePass(schedule));
  // 8. To LLVM. finalize-memref-to-llvm must precede scf-to-cf, or the
  //    alloca scopes OpenMP conversion creates fail to lower. Aligned
  //    allocations keep the allocated and aligned pointers equal, so the
  //    runtime hands result buffers over instead of copying them.
  addUpstream(pm, "expand-strided-metadata,lower-affine,"
                  "finalize-memref-to-llvm{use-aligned-alloc=true},convert-scf-to-cf,"
                  "math-extend-to-supported-types");
  pm.addNestedPass<func::FuncOp>(createMathApproximationPass());
  addUpstream(pm, "convert-vector-to-llvm,convert-math-to-llvm,"
                  "convert-math-to-libm,convert-to-llvm,"
                  "reconcile-unrealized-casts,canonicalize,cse");
}

std::string sparsa::cudaToolkitPath(StringRef option) {
  if (!option.empty())
    return option.str();
  if (const char *home = std::getenv("CUDA_HOME"); home && *home)
    return home;
  return "/usr/local/cuda";
}

void sparsa::buildSparsaGPULoweringPipeline(
    OpPassManager &pm, const SparsaCPUPipelineOptions &options) {
  // 1-2. As on the CPU (for the GPU target): onnx -> linalg/tensor,
  //      element-wise chains fused.
  SetTargetPassOptions target;
  target.target = "cuda";
  target.chip = options.gpuChip;
  pm.addPass(createSetTargetPass(target));
  addLinalgFrontEnd(pm);
  // Sizes of results from their operands' (the reduction of a run-time
  // batch has the input's batch): the lowering's broadcast checks between
  // the two fold away, so a row chain is straight-line linalg.
  addUpstream(pm, "func.func(resolve-ranked-shaped-type-result-dims,canonicalize)");
  // Row-wise reductions and the map reading them (softmax, layer norm):
  // one tile per row, a block per row later.
  pm.addNestedPass<func::FuncOp>(createGPUFormRowKernelsPass());
  // Fusion repeats a producer per slice that reads it (softmax's max feeds
  // the sum and the map): one copy each.
  addUpstream(pm, "func.func(cse)");
  // Decode-sized contractions get split-K: enough threads to keep HBM busy.
  GPUSplitReductionsPassOptions split;
  split.targetThreads = options.gpuTargetThreads;
  split.vectorWidth = options.gpuVectorWidth;
  split.keepPackedGemvs = options.gpuQuantizedGemv;
  pm.addNestedPass<func::FuncOp>(createGPUSplitReductionsPass(split));
  if (!options.gpuWarpCompaction)
    pm.addNestedPass<func::FuncOp>(createGPUParallelCompactionPass());
  pm.addPass(createCanonicalizerPass());
  // 3. Bufferize and free intermediates exactly as the CPU pipeline does.
  addBufferization(pm);
  // 4. Every copy is a loop (device buffers have no host memcpy), linalg
  //    ops become parallel loops, and the device mapping moves all buffer
  //    work into launches.
  StridedCopiesToLinalgPassOptions copies;
  copies.all = true;
  pm.addNestedPass<func::FuncOp>(createStridedCopiesToLinalgPass(copies));
  // Active-index lists: warps vote on their positions (after bufferization:
  // the kernels are built as launches).
  if (options.gpuWarpCompaction)
    pm.addNestedPass<func::FuncOp>(createGPUWarpCompactionPass());
  // Int8 tensor cores (mma.sync m16n8k32, sm_80 on), by the contraction
  // kernels: the quantized GEMV pass leaves them their GEMMs.
  bool int8TensorCores = options.gpuTensorCores && options.gpuVectorWidth > 1 &&
                         ::sparsa::sparsa::chipHasInt8Mma(options.gpuChip);
  // Row kernels: one launch each, block reductions.
  pm.addNestedPass<func::FuncOp>(createGPURowKernelsToLaunchesPass());
  // Packed-weight GEMVs: 16-byte loads of codes, int8 dot products.
  if (options.gpuQuantizedGemv) {
    GPUQuantizedGemvPassOptions quantized;
    quantized.targetThreads = options.gpuTargetThreads;
    quantized.int8TensorCores = int8TensorCores;
    pm.addNestedPass<func::FuncOp>(createGPUQuantizedGemvPass(quantized));
  }
  // Matmul-like ops get vector threads with register accumulators; the
  // rest become scalar loops.
  if (options.gpuVectorWidth > 1) {
    GPUContractionKernelsPassOptions kernels;
    kernels.width = options.gpuVectorWidth;
    kernels.unroll = options.gpuUnroll;
    kernels.sharedTiles = options.gpuSharedTiles;
    kernels.tensorCores = options.gpuTensorCores;
    kernels.int8TensorCores = int8TensorCores;
    pm.addNestedPass<func::FuncOp>(createGPUContractionKernelsPass(kernels));
  }
  addUpstream(pm, "func.func(convert-linalg-to-parallel-loops,scf-forall-to-parallel)");
  pm.addNestedPass<func::FuncOp>(createGPUPromoteAccumulatorsPass());
  pm.addNestedPass<func::FuncOp>(createGPUMapToKernelsPass());
  if (options.emulateGPU) {
    // Test aid: the same kernels, run by the host one thread at a time.
    GPUEmulateOnHostPassOptions emulation;
    emulation.reverse = emulation.poison = options.emulateAdversarial;
    pm.addNestedPass<func::FuncOp>(createGPUEmulateOnHostPass(emulation));
    addUpstream(pm, "expand-strided-metadata,lower-affine,"
                    "finalize-memref-to-llvm{use-aligned-alloc=true},convert-scf-to-cf,"
                    "convert-vector-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
                    "convert-to-llvm,reconcile-unrealized-casts,canonicalize,cse");
    return;
  }
  // 5. Kernels to NVVM; the host keeps launches and copies on one stream.
  std::string toolkit = cudaToolkitPath(options.cudaPath);
  // Constants and index math go into the kernels (static loop bounds and
  // strides for the device code generator, fewer parameters).
  addUpstream(pm, "func.func(canonicalize,gpu-launch-sink-index-computations),"
                  "gpu-kernel-outlining");
  pm.addPass(createGPUMergeModulesPass());
  // Block reductions: warp shuffles and shared memory.
  pm.addNestedPass<gpu::GPUModuleOp>(createGPULowerAllReducePass());
  addUpstream(pm, "func.func(gpu-async-region)");
  addUpstream(pm, "nvvm-attach-target{chip=" + options.gpuChip.getValue() +
                      " features=+ptx80 O=3}");
  // Shared tiles are read as vectors: 16-byte aligned buffers. (Tensor
  // cores: bf16 mma.sync needs its PTX types given; int8 GEMVs: four-byte
  // dot products become dp4a.)
  pm.addNestedPass<gpu::GPUModuleOp>(createGPUAlignWorkgroupMemoryPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createGPULowerBF16MmaPass());
  pm.addNestedPass<gpu::GPUModuleOp>(createGPULowerDp4aPass());
  addUpstream(pm, "gpu.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
                  "convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,canonicalize,cse,"
                  "reconcile-unrealized-casts)");
  // 6. Host code to LLVM (as on the CPU, without OpenMP), then the device
  //    modules to PTX; the emitter turns the PTX into a fat binary.
  addUpstream(pm, "expand-strided-metadata,lower-affine,"
                  "finalize-memref-to-llvm{use-aligned-alloc=true},convert-scf-to-cf,"
                  "gpu-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
                  "convert-to-llvm,reconcile-unrealized-casts,canonicalize,cse");
  addUpstream(pm, "gpu-module-to-binary{format=isa toolkit=" + toolkit + "}");
}

void sparsa::registerSparsaPipelines() {
  PassPipelineRegistration<SparsaCPUPipelineOptions>(
      "sparsa-cpu-pipeline",
      "Full CPU pipeline: onnx IR to the LLVM dialect",
      [](OpPassManager &pm, const SparsaCPUPipelineOptions &options) {
        buildSparsaFusionPipeline(pm, options);
        buildSparsaOutlineWeightsPipeline(pm, options);
        buildSparsaCPULoweringPipeline(pm, options);
      });
  PassPipelineRegistration<SparsaCPUPipelineOptions>(
      "sparsa-cpu-lowering-pipeline",
      "CPU lowering stage alone: onnx IR (weights outlined) to the LLVM dialect",
      [](OpPassManager &pm, const SparsaCPUPipelineOptions &options) {
        buildSparsaCPULoweringPipeline(pm, options);
      });
  PassPipelineRegistration<SparsaCPUPipelineOptions>(
      "sparsa-gpu-lowering-pipeline",
      "NVIDIA GPU lowering stage alone: onnx IR (weights outlined) to host "
      "LLVM dialect plus a gpu.binary of PTX",
      [](OpPassManager &pm, const SparsaCPUPipelineOptions &options) {
        buildSparsaGPULoweringPipeline(pm, options);
      });
}
