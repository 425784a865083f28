//===- Passes.td - Sparsa transformation passes ------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_TRANSFORMS_PASSES_TD
#define SPARSA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def PrepackWeightsPass : Pass<"sparsa-prepack-weights", "mlir::func::FuncOp"> {
  let summary = "Change constant weight layouts at compile time where it pays";
  let description = [{
    Folds `onnx.Transpose` of a constant into a transposed constant, and
    rewrites `onnx.Gemm` with `transB = 1` and a constant B into `transB = 0`
    with B transposed at compile time, so the CPU kernel streams B row by row
    (contiguous along N) instead of reducing along strided memory. The
    packed 4-bit zero points of a `com.microsoft.MatMulNBits` (a constant)
    become one f32 per block (the op's float zero point form), which its
    decode kernel reads as vectors.

    Before:
    ```mlir
    %y = onnx.Gemm %x, %w {transB = 1 : si64} : (tensor<1x64xf32>, tensor<32x64xf32>) -> tensor<1x32xf32>
    ```
    After:
    ```mlir
    %wt = onnx.Constant {value = dense_resource<...> : tensor<64x32xf32>} : () -> tensor<64x32xf32>
    %y = onnx.Gemm %x, %wt : (tensor<1x64xf32>, tensor<64x32xf32>) -> tensor<1x32xf32>
    ```
  }];
  let statistics = [
    Statistic<"numPrepacked", "num-prepacked", "Constant weights transposed">
  ];
}

def OutlineWeightsPass : Pass<"sparsa-outline-weights", "mlir::ModuleOp"> {
  let summary = "Turn large constants into weight arguments of the entry function";
  let description = [{
    Every `onnx.Constant` of at least `min-bytes` bytes becomes a new trailing
    argument of the function that uses it, tagged `sparsa.weight` with the
    constant's data. The CPU emitter writes these arguments' data into the
    sidecar weights file that the runtime mmaps, so weights are neither
    compiled into the object nor copied at load. Every argument is also
    marked `bufferization.writable = false`: inputs belong to the caller and
    weights are mapped read-only, so nothing may be updated in place.

    Before:
    ```mlir
    func.func @main(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
      %w = onnx.Constant {value = dense_resource<w> : tensor<64x32xf32>} : () -> tensor<64x32xf32>
    ```
    After:
    ```mlir
    func.func @main(%x: tensor<1x64xf32>, %w: tensor<64x32xf32> {sparsa.weight = dense_resource<w> : tensor<64x32xf32>}) -> tensor<1x32xf32> {
    ```
  }];
  let options = [
    Option<"minBytes", "min-bytes", "int64_t", /*default=*/"4096",
           "Smallest constant (in bytes) moved out of the code">
  ];
  let statistics = [
    Statistic<"numOutlined", "num-outlined", "Constants turned into weights">
  ];
}

def SetTargetPass : Pass<"sparsa-set-target", "mlir::ModuleOp"> {
  let summary = "Record on the module the target it is lowered for";
  let description = [{
    Sets the module's `sparsa.target` attribute, which the lowerings shared
    by the targets (`convert-onnx-to-linalg`) read through
    `TargetInfoAttrInterface` instead of branching on the target:
    `target=cpu` gives `#sparsa.cpu<row_tasks = N>` (`row-tasks`, at least
    1; `int8-matrices` adds `int8_matrices = true`: AVX-512 VNNI), `target=cuda` gives `#sparsa.cuda<chip = "...">` (`chip`). Each
    pipeline runs it first; an existing `sparsa.target` is replaced. IR
    without one lowers for the CPU's defaults.

    ```mlir
    module attributes {sparsa.target = #sparsa.cuda<chip = "sm_90">} {
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "The target: cpu or cuda">,
    Option<"rowTasks", "row-tasks", "int64_t", /*default=*/"2",
           "cpu: blocks of listed rows per sparse gathered op">,
    Option<"int8Matrices", "int8-matrices", "bool", /*default=*/"false",
           "cpu: int8 dot products (VNNI) for int8 activations at every row count">,
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"",
           "cuda: the SM compiled for">
  ];
  let dependentDialects = ["::sparsa::sparsa::SparsaDialect"];
}

def CPUTileParallelPass
    : Pass<"sparsa-cpu-tile-parallel", "mlir::func::FuncOp"> {
  let summary = "Order loops for contiguous inner access and tile them across threads";
  let description = [{
    First, chains of row-local generics (element-wise ops, normalizations,
    softmax: each reads only the rows it writes, along its outermost
    parallel loop of static extent >= 16) become one `scf.forall` over
    about `tasks` blocks of rows running the whole chain, so the threads
    meet once per chain instead of once per op and each block stays in its
    thread's cache. Ops join their producers' chain in program order while
    the rows line up; a chain closes where any other op reads one of its
    values (a matmul reads all of B for any row), so the loop can sit at
    the chain's end. Values read after the chain are the loop's results.

    Then, for each remaining `linalg.generic` on tensors:
    1. If the innermost loop is a reduction while the output's innermost
       dimension is a parallel loop that some input also reads contiguously
       (the matmul `m, n, k` order), interchange so that dimension is
       innermost (`m, k, n`): the inner loop then streams a weight row and
       vectorizes without a horizontal reduction.
    2. GEMV-shaped contractions (at most 4 output rows, one long add
       reduction, static shapes) split the reduction instead: k becomes
       (p, kk) with p parallel, operands are viewed as `tasks` blocks of
       weight rows (`tensor.expand_shape`, no copy), one `scf.forall`
       iteration per block writes its own partial result, and a
       `linalg.reduce` adds the partials into the original accumulator. Each
       thread then streams one contiguous block of the weights. A short
       reduction (under 1024) over long output rows (at least 4 KB of a row
       per task, e.g. a low-rank predictor's 256 x 14336 factor) is tiled
       along the columns instead (step 3): each task's piece of a row is
       still a long run, and the partials' fill, writes and merge are saved. A body that
       reads its loop indices (`linalg.index`, e.g. a gathered axpy's
       column) has them renumbered for the new loops, k as `p * K/tasks + kk`.
    3. Otherwise, tile the parallel loop with the largest static extent into
       an `scf.forall` (later OpenMP), with about `tasks` tiles whose size is
       a multiple of 16. Ops with fewer than `min-work` elements of iteration
       space are left alone: threading them costs more than it saves.
  }];
  let options = [
    Option<"tasks", "tasks", "int64_t", /*default=*/"8",
           "Target number of parallel tiles per op">,
    Option<"minWork", "min-work", "int64_t", /*default=*/"32768",
           "Smallest iteration space (product of static loop extents) to parallelize">
  ];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::tensor::TensorDialect",
                           "mlir::affine::AffineDialect", "mlir::arith::ArithDialect"];
}

def StridedCopiesToLinalgPass
    : Pass<"sparsa-strided-copies-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Turn memref.copy between strided views into linalg.copy";
  let description = [{
    Bufferization copies into and out of strided views (concat's
    insert_slice, splits) with `memref.copy`, whose LLVM lowering calls the
    MLIR C runner library for non-contiguous layouts. Compiled models do not
    link that library: such copies become `linalg.copy`, i.e. plain loops.
    Contiguous copies stay `memref.copy` (an LLVM memcpy), unless `all` is
    set (the GPU target, where every copy between device buffers is a
    kernel).
  }];
  let options = [
    Option<"all", "all", "bool", "false", "Also contiguous copies">,
  ];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def GPUMapToKernelsPass : Pass<"sparsa-gpu-map-to-kernels", "mlir::func::FuncOp"> {
  let summary = "Move all buffer work of a bufferized function into gpu.launch regions";
  let description = [{
    The GPU target's device mapping, on bufferized functions whose linalg
    ops are already loops. Each outermost `scf.parallel` becomes a launch
    with one thread per iteration (the space linearized over 1-D blocks of
    `block-size` threads, nested loops inside the thread), except host
    tasks: one of at most 16 iterations (the static part of its bounds; a
    run-time count, such as a router's experts with tokens, counts as few)
    whose iterations hold parallel loops of their own becomes a host
    `scf.for`, each
    iteration's loops their own launches (the CPU lowering's thread tasks,
    which one thread each would run serially); other buffer work
    between host ops (sequential loops, loads, stores, reductions) becomes
    a one-thread launch, and scalars it hands to the host come back through
    a one-element device buffer (scalar arithmetic on them joins the
    launch). Control flow that holds kernels, allocates dynamic buffers,
    frees outside buffers or calls host code stays on the host, its regions
    mapped the same way. Host allocations become `gpu.alloc` /
    `gpu.dealloc`; static allocations inside kernels become private
    `memref.alloca`; constant globals a kernel reads are re-materialized in
    it so outlining copies them into the device module; a `memref.reshape`
    reads a device shape buffer through a host copy. Host memory stays
    host memory: buffers passed to function calls (the deallocation
    helper's lists; private functions are not mapped) and mutable globals
    (the run status word of the index checks). Afterwards the host never
    reads or writes a device buffer.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "256", "Threads per block">,
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::arith::ArithDialect",
                           "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect"];
}

def GPUPromoteAccumulatorsPass
    : Pass<"sparsa-gpu-promote-accumulators", "mlir::func::FuncOp"> {
  let summary = "Keep reduction accumulators in registers (GPU target)";
  let description = [{
    Loops from `convert-linalg-to-parallel-loops` load and store a
    reduction's output element on every iteration. For an `scf.for` whose
    body loads and then stores the same element (loop-invariant indices) of
    a buffer that the loop touches nowhere else, this pass loads the element
    once before the loop, carries it as an `iter_args` value and stores it
    once after. The accumulator's root (through view-like ops) must be a
    `memref.alloc`/`alloca` or `gpu.alloc`, and every other memory access
    in the loop must be to a buffer rooted at another allocation, a
    `memref.get_global` or an argument of the function; an op with effects
    on unknown memory (a call) stops it.

    On the device this turns a store per multiply-add into one per thread,
    and lets the loads of an unrolled reduction loop issue together.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect", "mlir::scf::SCFDialect"];
}

def GPUSplitReductionsPass : Pass<"sparsa-gpu-split-reductions", "mlir::func::FuncOp"> {
  let summary = "Split-K for contractions with few outputs (GPU target)";
  let description = [{
    On tensors: a linalg op with static loop ranges, one reduction loop of
    size at least `min-reduction` and fewer than `target-threads` parallel
    iterations gets its reduction split
    into `ratio` independent chunks (`linalg::splitReduction`): the largest
    power of two that divides the reduction, keeps chunks of at least 32,
    and keeps the threads x ratio within `target-threads`. Threads are the
    parallel iterations divided by the outputs one thread of
    `sparsa-gpu-contraction-kernels` computes (`vector-width` x its rows)
    where that pass will take the op. Each chunk is a thread of the
    partial-sum kernel; a small kernel combines them.

    A static reduction upstream declines because an operand is indexed
    through an expression of k (a packed weight's block scales and zero
    points, `(n, k floordiv 32)`: the quantized GEMVs), or that it would
    split wrongly because the body reads loop indices (`linalg.index`,
    which upstream leaves pointing at the old loop numbers: a gathered
    dot's weight column), is split by this pass itself when the body adds its terms to the output: k becomes
    `c * S + kk` in every map, the operands indexed by k itself have that
    dimension expanded to [C, S], one partial sum per chunk (the chunk the
    fastest-varying thread index when the largest operand is contiguous
    along k) and a sum per output. The same split serves the lowering's
    gathered dot products (`sparsa.kernel = "gather_dot"`: one per active
    neuron, a run-time count of rows, each a static reduction over its
    weight row), whose rows would otherwise be one thread each.

    A sum over a list of run-time length, `out[c] += f(in[j]..., c)` for j
    in [0, n) with n dynamic, every input 1-D and indexed by j, the 1-D
    float output by c (the sparse FFN's gathered axpy over the active
    neurons' rows), is split the same way with chunks of `rows-per-chunk`
    listed rows: the inputs are padded to whole chunks, one partial sum per
    (chunk, c) skips the padded rows, and a sum over the chunks adds them to
    the output. One thread per c would walk every listed row.

    Then every `linalg.generic` of the function gets its reduction loops
    innermost (`linalg::interchangeGenericOp`; the combining op reduces its
    first dimension): lowered to loops, each output is one thread running
    its reduction, instead of a host loop launching a kernel per step.

    The quantized lowering's packed-weight GEMVs are left whole
    (`keep-packed-gemvs`): sparsa-gpu-quantized-gemv chunks them itself.
  }];
  let options = [
    Option<"minReduction", "min-reduction", "int64_t", "512",
           "Smallest reduction size to split">,
    Option<"targetThreads", "target-threads", "int64_t", "131072",
           "Threads to reach">,
    Option<"vectorWidth", "vector-width", "int64_t", "4",
           "As sparsa-gpu-contraction-kernels' width (1: no vector threads)">,
    Option<"maxRows", "max-rows", "int64_t", "8",
           "As sparsa-gpu-contraction-kernels' max-rows">,
    Option<"rowsPerChunk", "rows-per-chunk", "int64_t", "32",
           "Listed rows one partial sum of a run-time-length reduction adds "
           "(0: no split)">,
    Option<"keepPackedGemvs", "keep-packed-gemvs", "bool", "true",
           "Leave the packed-weight GEMVs sparsa-gpu-quantized-gemv builds "
           "whole">,
  ];
  let dependentDialects = ["mlir::linalg::LinalgDialect", "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def GPUParallelCompactionPass
    : Pass<"sparsa-gpu-parallel-compaction", "mlir::func::FuncOp"> {
  let summary = "Active-index lists built by many threads (GPU target)";
  let description = [{
    On tensors: an `scf.for` over [lb, ub) step 1 that lists the positions
    where a predicate holds, in order,

    ```mlir
    %list, %n = scf.for %i = %lb to %ub step %c1
        iter_args(%l = %init, %k = %k0) -> (tensor<?xindex>, index) {
      %p = <memory-effect-free ops of %i, not of %l or %k>
      %r:2 = scf.if %p -> (tensor<?xindex>, index) {
        %l2 = tensor.insert %i into %l[%k] : tensor<?xindex>
        %k2 = arith.addi %k, %c1 : index
        scf.yield %l2, %k2 : tensor<?xindex>, index
      } else {
        scf.yield %l, %k : tensor<?xindex>, index
      }
      scf.yield %r#0, %r#1 : tensor<?xindex>, index
    }
    ```

    (the active-neuron compaction of `sparsa.sparse_ffn` and of the
    input-sparse matmul; `tensor.cast`s between the static and dynamic list
    types are looked through), becomes three steps that the device mapping
    runs as three launches instead of one thread walking every position:

    1. an `scf.forall` over chunks of `chunk` positions: each thread counts
       its chunk's positions where the predicate holds;
    2. an exclusive prefix sum of the counts, from `%k0` (one thread; there
       are `ceil(n / chunk)` counts), whose total is the loop's count;
    3. an `scf.forall` over the same chunks: each thread writes its chunk's
       positions, in order, into its own slice of the list starting at its
       offset (`tensor.extract_slice` / `tensor.parallel_insert_slice`,
       in place after bufferization).

    The list is the serial loop's, element for element: no atomics, no
    ordering between threads. Loops with a static trip count below
    `min-positions` are left serial.
  }];
  let options = [
    Option<"chunk", "chunk", "int64_t", "128", "Positions one thread scans">,
    Option<"minPositions", "min-positions", "int64_t", "512",
           "Smallest static trip count to rewrite">,
  ];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def GPUFormRowKernelsPass
    : Pass<"sparsa-gpu-form-row-kernels", "mlir::func::FuncOp"> {
  let summary = "Group row-wise reductions and the map that reads them (GPU target)";
  let description = [{
    On tensors, before `sparsa-gpu-split-reductions`: an all-parallel
    `linalg.generic` (identity output map) that reads a per-row value made
    by a reduction over some of its loops (softmax's max and sum, layer
    norm's mean and variance, RMSNorm's mean square, a ReduceSum divided
    back: the value reaches it directly or through element-wise ops on
    per-row values) is tiled with a tile of one along every other loop
    (`scf::tileConsumerAndFuseProducersUsingSCF`, an `scf.forall`), and the
    reductions, fills and per-row element-wise ops that make its per-row
    operands are fused into the tile. The full-size operands are not (a
    matmul feeding a softmax stays where it is). The loop is mapped to
    `#gpu.block<linear_dim_i>`: `sparsa-gpu-row-kernels-to-launches` makes
    it one launch, a block per row. The per-row chain the CPU lowering
    leaves as 4-7 launches of one thread per row becomes one kernel whose
    threads share every row's reductions.

    Forms written op by op are brought to that shape first: a generic input
    that is a `tensor.expand_shape` adding unit dimensions (a keepdims
    reduction read through `(d0, 0)`) reads the unexpanded tensor, and an
    element-wise op over full rows that reads a broadcast per-row value
    (exp(x - max), read by a softmax's sum and its division) is fused into
    each op that reads it (`linalg::fuseElementwiseOps`, recomputed instead
    of stored; results left unused are erased). Per-row values must be 32-
    or 64-bit (block reductions shuffle those).

    Plain reductions get the same loop: a reduction with one full-size
    input whose innermost dimension is reduced (rows contiguous), a
    combiner the block reduction knows, at least 64 rows or a run-time
    count (fewer static rows are `sparsa-gpu-split-reductions`' split-K)
    and at least 32 elements per row or a run-time count, tiled with its
    fill (a per-row element-wise op that alone reads the result, such as
    ReduceMean's division, is tiled instead, with the reduction fused in);
    contractions (two inputs indexed by the reduction) and the lowering's
    tagged kernels are left alone. Rows of fewer than 32 static elements
    (a softmax over 8 keys) keep a thread per row: a block would idle most
    of its threads at every reduction.
  }];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::tensor::TensorDialect",
                           "mlir::linalg::LinalgDialect", "mlir::gpu::GPUDialect"];
}

def GPURowKernelsToLaunchesPass
    : Pass<"sparsa-gpu-row-kernels-to-launches", "mlir::func::FuncOp"> {
  let summary = "Row kernels as one gpu.launch with block reductions";
  let description = [{
    On buffers, before the linalg-to-loops lowering: an `scf.forall` mapped
    to `#gpu.block<linear_dim_i>` (from `sparsa-gpu-form-row-kernels`)
    becomes one `gpu.launch` with a block per iteration. Its body runs in
    order on every thread of the block:

    - a reduction `linalg.generic` into a per-row buffer (all dimensions
      one, allocated in the body) whose body combines its output with one
      of `addf`, `mulf`, `maximumf`, `minimumf`, `maxnumf`, `minnumf` or
      their integer kinds: each thread folds a strided share of the
      reduced elements (consecutive threads read consecutive elements),
      then `gpu.all_reduce` combines the block's partials (warp shuffles
      and shared memory, upstream's lowering);
    - element-wise ops and fills of per-row buffers: scalars in registers,
      computed by every thread (the buffers disappear); a one-element view
      of an outer buffer (a plain reduction's output element) is tracked
      the same way, starting from its fill or its contents, and thread 0
      stores it once at the end;
    - an all-parallel `linalg.generic` (the map writing the row's output):
      each thread writes a strided share; a later op of the body that
      reads memory waits at a `gpu.barrier`.

    Views of the forall's buffers are rebuilt in the kernel. Block size:
    the reduced element count rounded up to a power of two, 32 to 256
    (1024 from 16384 elements). A forall whose body holds anything else is
    left to the usual mapping (its mapping dropped, its linalg ops made
    sequential loops: a thread per row rather than host tasks launching
    kernels row by row). Launches of a run-time
    row count are skipped when it is zero.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
                           "mlir::memref::MemRefDialect", "mlir::arith::ArithDialect",
                           "mlir::affine::AffineDialect"];
}

def GPULowerAllReducePass
    : Pass<"sparsa-gpu-lower-all-reduce", "mlir::gpu::GPUModuleOp"> {
  let summary = "Lower gpu.all_reduce in outlined kernels (upstream patterns)";
  let description = [{
    Applies upstream's `populateGpuAllReducePatterns` to the kernels of a
    `gpu.module`: each `gpu.all_reduce` becomes warp shuffles (`gpu.shuffle
    xor`), a workgroup buffer of one value per warp and barriers, which
    `convert-gpu-to-nvvm` lowers to `shfl.sync` and shared memory. The
    rewrite splits the block holding the op, so an all_reduce in a nested
    region (an `scf.if` in the kernel) is an error naming it.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::cf::ControlFlowDialect",
                           "mlir::arith::ArithDialect", "mlir::memref::MemRefDialect"];
}

def GPUContractionKernelsPass
    : Pass<"sparsa-gpu-contraction-kernels", "mlir::func::FuncOp"> {
  let summary = "Vector threads for matmul-like ops (GPU target)";
  let description = [{
    On buffers, before the linalg-to-loops lowering: a `linalg.generic`
    computing `out += a * b` over static f32 buffers, with one reduction
    loop k, `b` and `out` contiguous along the parallel loop n and `a`
    independent of n (a GEMV, a split-K chunk, a GEMM), becomes an
    `scf.parallel` loop nest built here. Each iteration (one GPU thread)
    computes `width` consecutive n of `max-rows` (or fewer, dividing the
    row count) consecutive rows: the loop that indexes `a` and `out` but not
    `b`. It loads each piece of `b` as one aligned vector, once for all its
    rows, and keeps its accumulators in registers (`scf.for` iter_args),
    storing them once. The reduction loop steps by up to `unroll` / rows
    (4 x `unroll` / rows when one thread holds all rows: a few-token GEMV,
    bound by memory), issuing each step's loads before its multiply-adds. A sum over one loop
    (`out += in`, split-K's combining op) gets the same threads without
    the multiply. A `linalg.fill` that initializes the output right
    before the op becomes the accumulators' start value.

    A GEMM (the row loop and n each at least 64, k at least 16) becomes
    one `gpu.launch` instead (`shared-tiles`): each block of 256 threads
    computes a 128 x 128 (or 64 x 64, when 128-tiles would give too few
    blocks) tile of the output; the reduction runs in steps of 8 (16),
    each step's tiles of `a` and `b` loaded into registers during the
    previous step, stored to workgroup memory (`a`'s transposed, rows
    padded against bank conflicts), then read by every thread for its
    8 x 8 (4 x 4) outputs, held in registers. Loops other than the rows, n
    and k (a batch) are the grid's z. Rows and columns past a multiple of
    the tile are loaded clamped and not stored; a reduction that is not a
    multiple of the step is read clamped and masked to zero. The row count
    may be dynamic (64-tiles; the launch under an `scf.if` on it being
    positive). Each output still sums its products in k order.

    A contraction of f16 or bf16 operands accumulated in f32 (`out +
    extf(a) * extf(b)`: how f16 / bf16 MatMul and Gemm lower), with at
    least 16 rows and 16 columns, runs on tensor cores (`tensor-cores`):
    one `gpu.launch` of 64 x 64 output tiles, 4 warps each computing 32 x
    32 outputs as `nvgpu.mma.sync` m16n8k16 tiles, both operands staged
    through workgroup memory 32 k at a time (the next step's elements
    loaded into registers during the current one), edges as above.

    With `int8-tensor-cores`, the quantized lowering's int8-activation
    GEMMs (`q4_vnni` / `q8_vnni`, the same generic as the decode GEMV, at
    16 rows or more, or a run-time count that `sparsa-gpu-quantized-gemv`
    found to be 16 or more) run on int8 tensor cores: 64 x 64 output
    tiles, 4 warps each computing 32 x 32 outputs as `nvgpu.mma.sync`
    m16n8k32 tiles (s8 x s8, i32 accumulators). The activation codes and
    the weight code bytes are staged through workgroup memory 32 or 64
    code bytes at a time. Each mma takes 32 k: for 4-bit codes 16 code
    bytes, the even activations against the low nibbles and the odd ones
    against the high nibbles; for 8-bit codes 32 bytes, each code minus
    128 as an s8. An integer zero point of 4-bit codes (the constant, or a
    packed one of up to 4 bits) is subtracted from each code in its
    register, so that `q - z` is an s8. Otherwise (f32 or 8-bit zero
    points) a second mma against ones sums the activation codes, and each
    block subtracts `z * sum(a)`. At the end of each weight block the i32
    sums become `(dot - z * sum(a)) * scale * activation scale`, added to
    f32 accumulators.

    Vector accesses need alignment: `b` and `out` must be identity-layout
    views of a fresh allocation or of a weight argument (`sparsa.weight`),
    with rows a multiple of `width`; other ops are left to the scalar
    loops. Each output sums its products in the same order as the scalar
    loops, so results do not change.
  }];
  let options = [
    Option<"width", "width", "int64_t", "4", "Outputs along n per thread (one vector load)">,
    Option<"maxRows", "max-rows", "int64_t", "8", "Rows per thread at most">,
    Option<"unroll", "unroll", "int64_t", "8",
           "Reduction steps whose loads are issued together: the largest "
           "power of two up to this divided by the rows that divides the "
           "reduction">,
    Option<"sharedTiles", "shared-tiles", "bool", "true",
           "GEMMs of at least 64 rows and 64 columns: one gpu.launch whose "
           "blocks stage tiles of both operands through shared memory">,
    Option<"tensorCores", "tensor-cores", "bool", "true",
           "f16 / bf16 contractions accumulated in f32: tensor-core "
           "mma.sync kernels">,
    Option<"int8TensorCores", "int8-tensor-cores", "bool", "false",
           "Quantized GEMMs with int8 activations of 16 rows or more: "
           "int8 tensor-core mma.sync m16n8k32 kernels (sm_80 and newer)">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::gpu::GPUDialect",
                           "mlir::memref::MemRefDialect", "mlir::nvgpu::NVGPUDialect",
                           "mlir::scf::SCFDialect", "mlir::vector::VectorDialect"];
}

def GPUWarpCompactionPass : Pass<"sparsa-gpu-warp-compaction", "mlir::func::FuncOp"> {
  let summary = "Active-index lists built by warps with vote.ballot (GPU target)";
  let description = [{
    On buffers, before the device mapping: an `scf.for` over [lb, ub) step 1
    that lists the positions where a predicate holds, in order,

    ```mlir
    %n = scf.for %i = %lb to %ub step %c1 iter_args(%k = %k0) -> (index) {
      %p = <ops of %i that write no memory and do not read %list>
      %r = scf.if %p -> (index) {
        memref.store %i, %list[%k] : memref<?xindex>
        %k2 = arith.addi %k, %c1 : index
        scf.yield %k2 : index
      } else {
        scf.yield %k : index
      }
      scf.yield %r : index
    }
    ```

    (the bufferized active-neuron compaction of `sparsa.sparse_ffn` and of
    the input-sparse matmul) becomes two launches of one warp per chunk of
    1024 positions, and an exclusive prefix sum of the chunks' counts
    between them (one thread; its total, from `%k0`, is the loop's result):

    1. each lane evaluates the predicate at positions lo + 32 s + lane for
       s in [0, 32) (consecutive lanes, consecutive positions; positions
       past `%ub` are false and read clamped); `nvvm.vote.sync ballot`
       gives the warp the step's 32 predicates as a mask, and the chunk's
       count is the sum of their `popc`;
    2. the same steps again: each lane whose predicate holds writes its
       position at the chunk's offset plus the count so far plus the
       number of set bits below its lane in the mask.

    The list is the serial loop's, element for element, with no atomics.
    Loops with a static trip count below `min-positions` stay serial.
  }];
  let options = [
    Option<"minPositions", "min-positions", "int64_t", "512",
           "Smallest static trip count to rewrite">,
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::math::MathDialect", "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect"];
}

def GPUQuantizedGemvPass : Pass<"sparsa-gpu-quantized-gemv", "mlir::func::FuncOp"> {
  let summary = "Packed-weight and int8 GEMV threads with 16-byte loads and dp4a (GPU target)";
  let description = [{
    On buffers, before the linalg-to-loops lowering: the quantized matmul
    lowering's packed GEMVs (`sparsa.kernel` = `q4_gemv` / `q8_gemv` with
    f32 activations, `q4_vnni` / `q8_vnni` with int8 activations:
    MatMulNBits, QMoE experts, quantized sparse FFN gates, in blocks of a
    multiple of 16 code bytes) become two `scf.parallel` nests built here.

    In the first, a thread per (row, output, chunk c of C) walks the row's
    16-byte vectors of codes c, c + C, c + 2C, ... (so a warp's load is
    512 consecutive bytes of one weight row), each one aligned 16-byte load
    (`ld.global.v4`) of 32 4-bit or 16 8-bit codes; one 16-byte vector
    lies in one block, so its scale, zero point (constant, f32, or a field
    of the packed byte) and activation scale are read once. With int8
    activations the codes' nibbles are masked out as bytes and multiplied
    with the activations' int8 codes as four-byte dot products (`out +=
    (dot(a, q) - z * dot(a, 1)) * scale * activation scale`, the dot
    products in i32): `vector.reduction <add>` of `extsi(a) * extui(q)`
    over `vector<4xi8>`, which `sparsa-gpu-lower-dp4a` turns into `dp4a`
    on the device. With f32 activations each code is dequantized in
    registers (`(q - z) * scale`) and multiplied with 16-element vectors
    of the activations. The chunk count C is the largest power of two up
    to 32 and the row's vector count that keeps the threads within
    `target-threads`; the chunks' partial sums [M, N, C] are then added
    per output by a `linalg.generic` (none when C is 1).

    The dynamic int8 GEMV (`q8_dyn`: DynamicQuantizeLinear's uint8
    activations against uint8 weight codes, `out += (x - zx) * (w - zw)` in
    i32) gets the same threads: per 16-byte vector the unsigned four-byte
    dot products `x . w`, `x . 1` and `w . 1` (dp4a), then `dot - zw
    sum(x) - zx sum(w) + 16 zx zw`, exact in i32 like the generic.

    The GPU split-K pass leaves these GEMVs whole (this pass splits them).
    Operands with other layouts or unaligned buffers keep the generic.

    With `int8-tensor-cores`, an int8-activation GEMV of 16 static rows or
    more that the tensor-core kernel can take is left to
    `sparsa-gpu-contraction-kernels`. One with a run-time row count is put
    under an `scf.if` on the count: 16 or more keeps the generic for the
    tensor-core kernel, fewer get the threads above.
  }];
  let options = [
    Option<"targetThreads", "target-threads", "int64_t", "131072",
           "Threads the chunks aim for (rows x outputs x chunks)">,
    Option<"int8TensorCores", "int8-tensor-cores", "bool", "false",
           "Leave int8-activation GEMMs of 16 rows or more to the "
           "tensor-core kernels of sparsa-gpu-contraction-kernels">,
  ];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::vector::VectorDialect",
                           "mlir::memref::MemRefDialect", "mlir::arith::ArithDialect"];
}

def GPULowerDp4aPass : Pass<"sparsa-gpu-lower-dp4a", "mlir::gpu::GPUModuleOp"> {
  let summary = "Four-byte integer dot products to nvvm dp4a";
  let description = [{
    In device modules, before `convert-gpu-to-nvvm`: a `vector.reduction
    <add>` (with or without an accumulator) of `arith.muli(ext(a), ext(b))`
    over `vector<4xi32>`, where `a` and `b` are `vector<4xi8>` and each
    `ext` is `arith.extsi` or `arith.extui`, becomes
    `nvvm.dot.accumulate.4way` (PTX `dp4a`, sm_61 and newer) with each
    operand signed or unsigned as its extension says; a reduction of one
    `ext(a)` alone (a sum of four bytes) is the dot product with unsigned
    ones. Everything else is left alone.
  }];
  let dependentDialects = ["mlir::NVVM::NVVMDialect", "mlir::arith::ArithDialect"];
}

def GPUAlignWorkgroupMemoryPass
    : Pass<"sparsa-gpu-align-workgroup-memory", "mlir::gpu::GPUModuleOp"> {
  let summary = "Align kernels' workgroup buffers to 16 bytes";
  let description = [{
    Marks every workgroup attribution of the module's kernels `llvm.align =
    16` (unless it already asks for more): NVVM lowering otherwise aligns a
    shared buffer to its element only (`.shared .align 2` for f16), while
    the tiled kernels read and write it with 4- to 16-byte vector accesses.
  }];
}

def GPULowerBF16MmaPass : Pass<"sparsa-gpu-lower-bf16-mma", "mlir::gpu::GPUModuleOp"> {
  let summary = "bf16 nvgpu.mma.sync to nvvm.mma.sync";
  let description = [{
    In device modules, before `convert-nvgpu-to-nvvm` (which infers the PTX
    types of f16, tf32 and integer operands but not bf16): each
    `nvgpu.mma.sync` m16n8k16 of bf16 fragments with f32 accumulators
    becomes `nvvm.mma.sync` (`mma.sync.aligned.m16n8k16.row.col.f32.bf16.
    bf16.f32`), its fragments' pairs of bf16 passed as 32-bit registers.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect", "mlir::NVVM::NVVMDialect",
                           "mlir::vector::VectorDialect"];
}

def GPUMergeModulesPass : Pass<"sparsa-gpu-merge-modules", "mlir::ModuleOp"> {
  let summary = "Put every outlined kernel into one gpu.module";
  let description = [{
    Kernel outlining makes one `gpu.module` per launch. This pass moves all
    kernels into the first one (each renamed after the module it came from)
    and retargets the launches, so a model carries a single device binary:
    one ptxas run per architecture at compile time, one module load at run
    time.
  }];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def GPUEmulateOnHostPass : Pass<"sparsa-gpu-emulate-on-host", "mlir::func::FuncOp"> {
  let summary = "Test aid: run the device mapping's launches as host loops";
  let description = [{
    Replaces each `gpu.launch` by sequential loops over its blocks and
    threads, and `gpu.alloc` / `gpu.dealloc` / `gpu.memcpy` / `gpu.wait`
    by host memory operations. The kernels `sparsa-gpu-map-to-kernels`
    forms never communicate between threads, so this runs them exactly on
    a machine without a GPU: the test suite checks the device mapping's
    results against ONNX Runtime this way (`sparsa-compile
    --x-gpu-emulate`). A kernel that synchronizes its block or its warps
    (`gpu.all_reduce` with an op kind, `gpu.barrier`, `nvgpu.mma.sync`,
    `nvvm.vote.sync ballot`, at the top level of its body or in `scf.for`
    loops around it: the row kernels, the tiled GEMMs, the warp
    compaction) runs as segments between those points, each a loop over
    the block's threads; ops free of memory effects on values the whole
    block shares run once per block, a thread's values a later segment
    reads (scalars and vectors) are kept in a buffer per thread, and an
    all_reduce combines its operands in thread order. An `mma.sync`
    (m16n8k16, f16 / bf16, f32 accumulators) and a ballot are warp
    collectives: each thread leaves its operands in per-thread buffers,
    then each computes its own result from its warp's (the fragments in
    PTX's layouts; the votes as bit l for lane l, lanes past the block's
    threads voting false). Workgroup attributions become one host buffer. A loop around synchronizations
    (bounds the same for every thread) runs once per block with its
    carried values in per-thread buffers; since a GPU thread goes on from
    the body's last segment into the next iteration's first without
    waiting, that first segment runs once before the loop and then inside
    the last segment's thread loop, for the next iteration. A
    synchronization in any other nested region is an error.

    Threads run in order, and fresh host memory often reads as zeros, so a
    race between threads or a read of device memory no kernel wrote can go
    unnoticed: `reverse` runs blocks and threads from the last to the first,
    `poison` fills every device allocation with NaN (floats) or 0xA5 bytes
    (integers) first (`sparsa-compile --x-gpu-emulate-adversarial`).
  }];
  let options = [
    Option<"reverse", "reverse", "bool", "false",
           "Run blocks and threads from the last to the first">,
    Option<"poison", "poison", "bool", "false",
           "Fill device allocations with NaN / 0xA5 bytes">,
  ];
  let dependentDialects = ["mlir::scf::SCFDialect", "mlir::memref::MemRefDialect",
                           "mlir::arith::ArithDialect", "mlir::vector::VectorDialect"];
}

def ContractionKernelsPass
    : Pass<"sparsa-contraction-kernels", "mlir::func::FuncOp"> {
  let summary = "Register-blocked vector loops for matmuls and row reductions";
  let description = [{
    Matches `C[.., m, n] += A[.., m, k] * B[.., k, n]` generics on buffers
    (any batch dims; n contiguous in B and C; f32 / f64) and replaces each
    by scf loops over vector ops: GEMM-shaped ones keep an MR x NR tile of
    C in registers while k runs; GEMV-shaped ones (at most 4 rows) stream
    eight rows of B at a time through a pair of C vectors. Column tails are
    masked. Reductions over the innermost loop (softmax's max and sum,
    layer-norm statistics, dot products along k) get a vector accumulator
    along the row and one horizontal reduction per output. Other generics
    are left to the scalar loop lowering.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", "512",
           "Vector register width in bits (512 for AVX-512, 256 for AVX2)">,
    Option<"vnni", "vnni", "bool", "false",
           "The target has AVX-512 VNNI: int8-activation GEMVs use vpdpbusd">,
  ];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect", "mlir::vector::VectorDialect",
                           "mlir::LLVM::LLVMDialect", "mlir::math::MathDialect"];
}

def FuseRoutingPass : Pass<"sparsa-fuse-routing", "mlir::func::FuncOp"> {
  let summary = "Fuse mixture-of-experts routing into `sparsa.moe`";
  let description = [{
    Recognizes the ways exporters write mixture-of-experts routing and
    replaces each with one `sparsa.moe`, whose lowering reads only the
    selected experts' weights. The gate, shared by every form, is a TopK
    over the expert axis of `Softmax(logits)` (optionally renormalized by
    `Div(ReduceSum)`), of `Sigmoid(logits)` (optionally renormalized, times
    a scalar routed scaling factor), or of the logits followed by a Softmax
    over the `k` values (Mixtral); DeepSeek-V3's router as transformers
    writes it also fuses: a correction bias added to the sigmoid scores for
    the choice, group-limited selection (`Where` zeroing the experts outside
    the `topk_group` groups with the best top-2 sums), weights gathered from
    the unbiased scores and renormalized with an epsilon. Expert FFNs are `MatMul (+ Add)` or
    `Gemm (transB)` projections around ReLU (`Relu`, `Max(x, 0)`,
    `Clip(x, 0)`), GELU (`Gelu`, or the erf expression torch exports),
    SiLU (`x * Sigmoid(x)`), identity, or a GLU `act(x W1) * (x W3)`.

    - A: OneHot expert mask, transposed; per expert (unrolled, experts may
      be missing) Gather(mask row) -> NonZero -> Gather(token rows) -> FFN
      -> Mul(routing weight of each (token, slot)) -> ScatterElements(add)
      into a zero output;
    - B: every expert on every token with stacked `[E, in, out]` weights
      (batched MatMuls giving `[E, T, *]` or `[T, E, 1, *]`, or the Einsums
      `th,ehf->tef` / `tef,efh->teh`), routing weights ScatterElements'd
      into a zero `[T, E]` matrix (or OneHot times the weights, summed over
      `k`), combined by Mul + ReduceSum over the experts;
    - C: per expert Equal(indices, e) -> Cast -> Mul(weights) -> ReduceSum
      (or a column of form B's dense routing matrix, Slice or Gather) ->
      Mul(expert output), summed by an Add chain, one of whose terms may be
      a shared expert;
    - D: stacked weights Gathered by the top-k indices (Gather, or
      GatherND as the dynamo exporter writes `W[idx]`), batched MatMul or
      the Einsums `th,tkhf->tkf` / `tkf,tkfh->tkh`, weighted ReduceSum over
      `k`;
    - E: `com.microsoft.MoE` (every activation incl. SwiGLU in its three
      layouts, clamped SwiGLU, biases, renormalization), whose torch-layout
      weights `[E, out, in]` become matmul layout by transposes that weight
      preparation folds at compile time.

    - MoHD (Mixture of Hidden Dimensions): the down projection (MatMul or
      Gemm) of an FFN whose activation, viewed as `[T, G, g]` column groups, is multiplied
      by `Concat(ones [T, S], scale * ScatterElements(0, top-k, 1 or
      weights))`: the `S` shared groups become a dense FFN, the routed
      groups a `sparsa.moe` (experts = column groups; a 0/1 mask is
      `gating = "none"`, the activation scale `routed_scaling`).

    Per-expert weights (A, C) are stacked into `[E, ...]` constants at
    compile time; a missing expert gets zero weights. Separate gate and
    linear weights of a GLU are packed side by side into one `[E, H, 2F]`
    constant (`gate_layout = 2`), so one GEMV streams both. A shared expert
    added to the routed sum (DeepSeek-V3; Qwen-MoE's scaled by
    `Sigmoid(x Wsg)`) becomes the op's `shared_*` operands.

    A candidate that does not fuse keeps its original ops and gets a
    `sparsa.unfused` attribute `{routing = "reason"}`, which the compiler's
    report lists.

    Before:
    ```mlir
    %y = onnx.ms.MoE %x, %r, %w1, %w2 {activation_type = "silu", k = 2 : si64} : ...
    ```
    After:
    ```mlir
    %t1 = onnx.Transpose %w1 {perm = array<i64: 0, 2, 1>} : ...
    %t2 = onnx.Transpose %w2 {perm = array<i64: 0, 2, 1>} : ...
    %y = sparsa.moe %x, %r, %t1, %t2 {activation = "silu", k = 2 : i64} : ...
    ```
  }];
  let dependentDialects = ["::sparsa::sparsa::SparsaDialect"];
}

def FuseActivationSparsityPass
    : Pass<"sparsa-fuse-activation-sparsity", "mlir::func::FuncOp"> {
  let summary = "Fuse FFNs with exactly-sparse activations into `sparsa.sparse_ffn`";
  let description = [{
    An FFN `down(act(x W1 + b1) [* (x Wup + b_up)]) + b2` whose activation
    is exactly zero for inactive neurons becomes one `sparsa.sparse_ffn`:
    ReLU (`Relu`, `Max(h, 0)`, `Clip(h, 0)`: OPT), squared ReLU
    (`Pow(relu(h), 2)`, `relu(h) * relu(h)`: Primer), FATReLU's threshold
    (`Where(Greater(h, t), h, 0)`, `t` a constant >= 0; also `Less(t, h)`,
    `>=`, masked_fill's `Where(h <= t, 0, h)`, `Not` of the complement and
    `h * Cast(h > t)`, a NaN kept where the spelling keeps it: the op's
    `nan_active`), and the ReLU-gated
    GLU (ProSparse). Projections are `MatMul` (+ `Add` bias) or `Gemm`
    (`transB`); weights must be constants, laid out at compile time: `w2`
    (and `up`) one row per neuron. An FFN whose weights and biases are all
    constants gathered by one 1-D index set (CoreInfer's core neurons as an
    input, Deja Vu's predicted top-k) fuses too, with any activation. A
    projection of `Where(Greater(Abs(x), t), x, 0)` (any of those spellings
    with the key `Abs(x)`: TEAL / CATS input
    sparsity) becomes `sparsa.sparse_input_matmul`; one of
    `ScatterElements(zeros, TopK indices, TopK values)` (explicit top-k
    activations) becomes `sparsa.topk_matmul`. A TopK whose indices, after
    fusion, only choose the neurons of index-set FFNs (Deja Vu's predictor;
    its values unused), or whose values and indices only feed
    `sparsa.topk_matmul` ops as a pair, gets `sorted = 0`: the consumer sums
    over the set, so its lowering skips ranking the chosen neurons
    (quadratic in k) and lists them in index order. Quantized FFNs (`com.microsoft.MatMulNBits` projections with
    constant codes, f32 scales and packed or no zero points, the same bits
    and block size throughout) fuse with ReLU / FATReLU and as ReLU-gated
    GLUs; the down projection is repacked one row of codes per neuron.

    Near misses keep their ops and record why (`sparsa.unfused =
    {activation_sparsity = "..."}`): the activation is also used elsewhere,
    the threshold is not a constant, inactive neurons take a non-zero value.

    Before:
    ```mlir
    %h = onnx.MatMul %x, %w1 : ...
    %a = onnx.Relu %h : ...
    %y = onnx.MatMul %a, %w2 : ...
    ```
    After:
    ```mlir
    %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "relu"} : ...
    ```
  }];
  let dependentDialects = ["::sparsa::sparsa::SparsaDialect"];
}

def FuseFlowAttentionPass : Pass<"sparsa-fuse-flow-attention", "mlir::func::FuncOp"> {
  let summary = "Fuse Flowformer flow attention and linear attention into linear-time ops";
  let description = [{
    The flow attention family. Flowformer's Flow-Attention becomes
    `sparsa.flow_attention` (non-causal; causal), kernelized linear
    attention `sparsa.linear_attention`, recognized by meaning rather than
    node order: feature maps (Sigmoid, Elu + 1, Relu), sums over positions
    (ReduceSum), prefix sums (CumSum, or a product with a lower-triangular
    ones matrix), per-row dot products (Einsum `..ld,..d->..l`, ReduceSum of
    a Mul, MatMul with a column), per-row scalings (Mul with a
    `[.., L, 1]` or unsqueezed `[.., L]` value), reciprocals (Reciprocal,
    `Div(1, x)`), the normalizers `1..L` (a constant or a Range) and the
    attention product (`x (k^T v)`, `(x k^T) v`, Einsums; causal: a
    lower-triangular mask on the `L x L` scores by Mul or Where, constant,
    a Trilu, or `i >= j` compared from a Range of positions at run time;
    or CumSum of the outer products). Candidates that reach a product of
    feature-mapped queries and keys but fail a term are marked with the
    term that failed (`sparsa.unfused`). Softmax attention is not touched.
  }];
  let dependentDialects = ["::sparsa::sparsa::SparsaDialect"];
}

def FuseQuantizationPass : Pass<"sparsa-fuse-quantization", "mlir::func::FuncOp"> {
  let summary = "Fuse quantized matmuls into `sparsa.quant_matmul` with packed weights";
  let description = [{
    Every exporter form of a matmul by quantized weights becomes one
    `sparsa.quant_matmul` whose weights stay packed (MatMulNBits' layout,
    repacked at compile time when the model stores them otherwise):

    - `com.microsoft.MatMulNBits` (its packed constant zero points become
      f32 per block, or disappear when all are the default);
    - `DequantizeLinear` of constant int8 / uint8 / int4 / uint4 weights
      (per tensor, per output channel, or blocked along K: opset 21's
      `block_size`) feeding `MatMul` or `Gemm` (`transB`; alpha = beta =
      1), plus a constant bias (Gemm's `C` or an `Add` after the product).
      Per-tensor and per-channel weights are cut into blocks of 128 along
      K (their scales repeat), so the packed kernels apply;
    - static QDQ (ONNX Runtime's quantizer): the activation's
      `DequantizeLinear(QuantizeLinear(x, s, z), s, z)`, per tensor, as
      activation `qdq`; NoisyQuant's constant noise `Add` before that
      `QuantizeLinear` as `input_noise` (its corrected bias is the bias);
    - AWQ: a `Mul` of the input by a constant per-input-channel vector, as
      `input_scales` (applied while the kernel lays out the activation);
    - dynamic quantization (`quantize_dynamic`): `DynamicQuantizeLinear`
      -> `MatMulInteger` -> `Cast(float)` -> `Mul(x_scale * w_scale)` (+
      bias), weights per tensor or per column, as activation `dynamic`.

    Near misses keep their ops and record why (`sparsa.unfused =
    {quantization = "..."}`): weights or scales that are not constants,
    scales per input channel, Gemm with alpha / beta other than 1, a
    rescale that is not `x_scale` times a constant.

    With `int8-activations`, every result with float activations takes
    activation `int8` instead (per-block int8 activations, int32 dot
    products: ONNX Runtime's `accuracy_level = 4`), and so do the
    quantized experts of `sparsa.moe` ops and the gate of quantized
    `sparsa.sparse_ffn` ops (`int8_activations`).
  }];
  let options = [
    Option<"int8Activations", "int8-activations", "bool", "false",
           "Quantize float activations to int8 per block (VNNI dot products)">,
  ];
  let dependentDialects = ["::sparsa::sparsa::SparsaDialect"];
}

def FuseAttentionPass : Pass<"sparsa-fuse-attention", "mlir::func::FuncOp"> {
  let summary = "Fuse softmax attention chains into `sparsa.attention`";
  let description = [{
    Kernel fusion, not a sparsity family (the report does not count it):
    `MatMul(Softmax(scale * MatMul(q, k^T) [+ mask], axis = -1), v)` becomes
    one `sparsa.attention`, whose lowering keeps a block of query rows'
    scores in cache between the two products. Recognized as exporters
    write it: `k^T` as a `Transpose` swapping the last two dims (or a value
    already laid out `[..., D, Lk]`); the scale as `Div` or `Mul` by a
    scalar constant (or a scalar computed from static dims of a shape,
    `q.shape[-1] ** 0.5`) after the product, or `Mul` by scalar constants
    on `q` and / or `k^T` before it (PyTorch's scaled_dot_product_attention
    export splits `1/sqrt(d)` over both), or none; an additive mask
    (`Add` of any value that broadcasts to the scores) after the scale, or
    masked_fill's `Where(cond, -inf, scores)` (`Where(keep, scores, -inf)`),
    which becomes the additive mask `Where(cond, -inf, 0)`.
    Every intermediate must have no other use (a model that also returns
    the attention probabilities keeps its ops), element types f32, and
    query, key and value the same leading dims.

    Before:
    ```mlir
    %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : ...
    %s = onnx.MatMul %q, %kt : ...
    %d = onnx.Div %s, %c8 : ...
    %p = onnx.Softmax %d {axis = -1 : si64} : ...
    %o = onnx.MatMul %p, %v : ...
    ```
    After:
    ```mlir
    %o = sparsa.attention %q, %k, %v {scale = 0.125 : f64} : ...
    ```
  }];
  let dependentDialects = ["::sparsa::sparsa::SparsaDialect"];
}

def FuseElementwisePass
    : Pass<"sparsa-fuse-elementwise", "mlir::func::FuncOp"> {
  let summary = "Fuse element-wise producers into element-wise consumers only";
  let description = [{
    Upstream's element-wise fusion also pulls element-wise producers into
    contractions, where they are recomputed for every output column (a
    bias + ReLU fused into the next matmul runs N times per element) and
    the contraction no longer matches the matmul kernels. This pass fuses
    only into consumers whose loops are all parallel: chains such as bias,
    activation and residual become one loop, contractions stay intact.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def InstrumentSparsityPass : Pass<"sparsa-instrument-sparsity", "mlir::ModuleOp"> {
  let summary = "Give every sparse FFN counters of its active neurons (the profiler)";
  let description = [{
    For each `sparsa.sparse_ffn` whose active neurons come from its
    activation (ReLU, threshold, ReLU-gated GLU), adds a zero-initialized
    public `memref.global @sparsa_profile_<i>` of `i64` and tags the op
    with `sparsa.profile = @sparsa_profile_<i>`; the lowering then adds,
    per call: the token count (slot 0), the active neurons summed over
    tokens (slot 1), a histogram of each token's active fraction in 100
    bins of 1 % (slots 2-101) and each neuron's firing count (slots 102 on).
    The driver lists the counters in the model description; the runtime
    writes them as a JSON profile. Counters are not atomic: profile from one
    thread of calls.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect"];
}

def RunChecksPass : Pass<"sparsa-run-checks", "mlir::ModuleOp"> {
  let summary = "Number the run-time checks of model inputs and declare their status word";
  let description = [{
    Ops that index with values computed at run time (an FFN over a neuron
    index set, a top-k activation's indices, a Gather of non-constant
    indices such as token ids into an embedding) and ONNX LinearAttention
    nodes whose inputs' batch or sequence sizes are only known at run time
    (they must agree with the query's) get a check id (`sparsa.check`) and
    a message naming their ONNX node; a public
    `memref.global @sparsa_run_status : memref<1xi64>` lists the messages.
    Their lowering clamps every index or loop bound (no out-of-bounds read)
    and stores the id of a failed check there; the runtime reports it as an error of the
    run naming the node (the status word is thread-local, so concurrent
    runs do not see each other's errors).
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect"];
}

def DynamicSchedulePass : Pass<"sparsa-dynamic-schedule", "mlir::ModuleOp"> {
  let summary = "Hand out parallel loop iterations to threads as they free up";
  let description = [{
    Sets `schedule(dynamic)` on every `omp.wsloop` that
    `convert-scf-to-openmp` produced (they default to static: iteration i
    of n goes to thread i * threads / n up front). The generated parallel
    loops have few, large iterations (blocks of listed rows, experts, attention
    row blocks), where a thread that is slowed down (a busy core, a
    neighbour on a shared host) would otherwise hold back the whole loop;
    taking one iteration at a time costs an atomic per iteration. Each
    iteration writes its own outputs, so results do not depend on which
    thread ran it.

    A loop that ends its `omp.parallel` region gets `nowait`: the region's
    closing barrier joins the threads anyway, and a second barrier costs a
    second sleep and wake-up (tens of microseconds on a virtual machine
    with `KMP_BLOCKTIME=0`). Such a loop also counts its finished
    iterations in a stack counter, and thread 0 (the one that goes on after
    the region) spins with `pause` until all are done before it reaches
    the barrier, at most 2^18 times: it arrives last and passes without
    sleeping, while the other threads arrive first and sleep. ONNX
    Runtime's pool joins the same way (the caller spins, workers block).
    The spin lasts at most about one iteration. It is skipped for nested
    parallel regions and for loop bodies of more than one block.

    Such a loop (with no reduction, private, linear or allocate clause and
    no schedule of its own) also hands out its iterations itself
    (`self-schedule`, on by default): the `omp.wsloop` becomes an
    `scf.while` in which each thread takes the next iteration from a second
    stack counter (an atomic add) until none is left, its indices computed
    from the iteration's number (row-major over the nest). This is the
    dynamic schedule without libomp's dispatch calls, which in the libomp
    this machine ships (LLVM 19's) format debug strings on every call
    (one call per iteration and thread, ~0.25 us each).
  }];
  let options = [
    Option<"selfSchedule", "self-schedule", "bool", /*default=*/"true",
           "Replace a region's last work-sharing loop by a shared iteration counter">,
  ];
  let dependentDialects = ["mlir::omp::OpenMPDialect", "mlir::arith::ArithDialect",
                           "mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
                           "mlir::scf::SCFDialect", "mlir::LLVM::LLVMDialect"];
}

def MathApproximationPass
    : Pass<"sparsa-math-approximation", "mlir::func::FuncOp"> {
  let summary = "Replace f32 transcendental calls by vectorizable polynomials";
  let description = [{
    `math.exp`, `log`, `tanh`, `erf` and their relatives lower to calls into
    libm, one element at a time, which keeps LLVM from vectorizing the
    softmax, GELU and sigmoid loops around them. This pass rewrites the f32
    ops into MLIR's polynomial approximations (a few ulp from libm; the
    conformance suite checks them against ONNX's tolerances), which are
    plain arithmetic that vectorizes.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect", "mlir::math::MathDialect",
                           "mlir::vector::VectorDialect"];
}

#endif // SPARSA_TRANSFORMS_PASSES_TD
