//===- SparsaOps.td - Sparsa fused-op dialect --------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The `sparsa` dialect holds the canonical fused ops that the four fusion
// families (routing, activation sparsity, quantization, flow attention)
// produce, and the dense kernel fusions (softmax attention) whose lowering
// needs more than element-wise fusion gives.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_DIALECT_SPARSA_IR_SPARSAOPS_TD
#define SPARSA_DIALECT_SPARSA_IR_SPARSAOPS_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Sparsa_Dialect : Dialect {
  let name = "sparsa";
  let summary = "Canonical fused ops for sparse-activation models";
  let description = [{
    Each op in this dialect is the single canonical form of one sparse
    pattern, whatever way an exporter wrote it. Its lowering skips the
    inactive work (unselected experts, inactive neurons, packed weights that
    stay packed, linear-time attention state).
  }];
  let cppNamespace = "::sparsa::sparsa";
  let useDefaultAttributePrinterParser = 1;
}

//===----------------------------------------------------------------------===//
// Targets
//===----------------------------------------------------------------------===//

def Sparsa_TargetInfoAttrInterface : AttrInterface<"TargetInfoAttrInterface"> {
  let cppNamespace = "::sparsa::sparsa";
  let description = [{
    What the lowerings shared by the targets (`convert-onnx-to-linalg`) ask
    of the target they lower for, instead of branching on it. The pipelines
    put the target on the module as `sparsa.target` (`sparsa-set-target`);
    IR without one lowers for the CPU's defaults.
  }];
  let methods = [
    InterfaceMethod<[{
        Blocks of listed rows (active neurons, kept top-k entries, input
        entries, index sets) that a one-token sparse lowering splits its
        gathered dot products and axpys into, each an `scf.forall`
        iteration with its own partial sum; 1: one block, for a target that
        spreads the rows over threads itself.
      }], "int64_t", "getRowTasks">,
    InterfaceMethod<[{
        Whether quantized matmuls with int8 activations keep the
        activations' int8 codes against the packed weights at any row
        count, because the target multiplies int8 matrices itself (tensor
        cores): the lowering then writes the int8 generic for prefill as
        for decoding. False: past the GEMV's rows the codes round-trip to
        float for the float packed GEMM.
      }], "bool", "getInt8Matrices", (ins), [{}], [{ return false; }]>,
  ];
}

// The interface's getRowTasks and getInt8Matrices are the row_tasks and
// int8_matrices parameters' accessors.
def Sparsa_CPUTargetAttr : AttrDef<Sparsa_Dialect, "CPUTarget",
    [Sparsa_TargetInfoAttrInterface]> {
  let mnemonic = "cpu";
  let summary = "Lowering for the CPU pipeline (OpenMP threads)";
  let description = [{
    `row_tasks` blocks of listed rows per sparse gathered op, one per
    thread of a typical host (the OpenMP runtime hands them to its
    threads); at least 1. `int8_matrices`: the CPU has int8 dot products
    (AVX-512 VNNI), so quantized matmuls with int8 activations keep their
    int8 codes at every row count (the VNNI kernel, its rows blocked);
    without it, past 64 rows they take the float packed GEMM.

    ```mlir
    module attributes {sparsa.target = #sparsa.cpu<row_tasks = 2>} {}
    module attributes {sparsa.target = #sparsa.cpu<row_tasks = 2, int8_matrices = true>} {}
    ```
  }];
  let parameters = (ins DefaultValuedParameter<"int64_t", "2">:$row_tasks,
                        DefaultValuedParameter<"bool", "false">:$int8_matrices);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

/// A string parameter (printed quoted), parsed into the context's uniqued
/// strings so the parsed value outlives the parser.
class Sparsa_StringParameter<string desc, string value>
    : StringRefParameter<desc, value> {
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::StringRef> {
    std::string text;
    if ($_parser.parseString(&text))
      return ::mlir::failure();
    return ::mlir::StringAttr::get($_parser.getContext(), text).getValue();
  }() }];
}

def Sparsa_CUDATargetAttr : AttrDef<Sparsa_Dialect, "CUDATarget",
    [DeclareAttrInterfaceMethods<Sparsa_TargetInfoAttrInterface,
                                 ["getInt8Matrices"]>]> {
  let mnemonic = "cuda";
  let summary = "Lowering for the NVIDIA GPU pipeline";
  let description = [{
    One block of listed rows per sparse gathered op: the GPU passes split
    the rows over device threads themselves (`sparsa-gpu-split-reductions`),
    so blocks for host threads would only serialize their launches.
    `chip` is the SM the pipeline compiles for; from `sm_80` on, int8
    activations keep their codes for prefill's quantized GEMMs, which run
    on int8 tensor cores (`mma.sync` m16n8k32).

    ```mlir
    module attributes {sparsa.target = #sparsa.cuda<chip = "sm_90">} {}
    ```
  }];
  let parameters = (ins Sparsa_StringParameter<"the SM", "\"sm_80\"">:$chip);
  let assemblyFormat = "`<` struct(params) `>`";
}

/// Base class of every `sparsa` op.
class Sparsa_Op<string mnemonic, list<Trait> traits = []>
    : Op<Sparsa_Dialect, mnemonic, traits>;

def Sparsa_FloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;
/// Expert weights: float, or packed integer codes (uint8).
def Sparsa_ExpertWeights : RankedTensorOf<[F16, BF16, F32, F64, UI8]>;

//===----------------------------------------------------------------------===//
// Routing family
//===----------------------------------------------------------------------===//

def Sparsa_MoEOp : Sparsa_Op<"moe", [Pure, AttrSizedOperandSegments]> {
  let summary = "Routed mixture of experts: gate, top-k, grouped expert FFN, combine";
  let description = [{
    The canonical routing op. Per token `t` of `input` (`[T, H]` or
    `[B, S, H]`, flattened to `T` tokens):

    1. Scores over the `E` experts from `router_logits` `[T, E]`:
       `softmax` over all experts, element-wise `sigmoid`, or `none` (the
       logits rank the experts and every selected one weighs 1: a 0/1
       routing mask, as Mixture-of-Hidden-Dimensions uses).
    2. The `k` experts with the highest scores (ties go to the lower expert
       index) and their scores; with `normalize` the `k` scores are divided
       by their sum (softmax-then-top-k-then-renormalize equals top-k over
       logits then softmax over the `k`, so both gate forms map here); then
       multiplied by `routed_scaling`. DeepSeek-V3's selection: the optional
       `selection_bias` `[E]` is added to the scores for choosing only (the
       weights stay the unbiased scores), and with `n_group` > 1 the experts
       form `n_group` equal groups, each scored by the sum of its two best
       (biased) scores, and only the `topk_group` best groups compete.
       With `gating = "given"` the gate stays outside the op: `router_logits`
       are then the routing weights `[T, k]` themselves and `expert_indices`
       (integer, `[T, k]`) the experts they weigh, as any gate the fusion
       does not recognize computes them. A pair whose index is outside
       `[0, E)` adds nothing (the fusion wraps negative indices first where
       the exported form reads them from the end, as Gather and OneHot do).
       Steps 1 and 2 are then only the optional renormalization and
       scaling.
    3. Each selected expert `e` computes
       `y_e = (act(x W1[e] + b1[e]) [* (x W3[e] + b3[e] + beta)]) W2[e] + b2[e]`
       with weights in matmul layout: `w1`, `w3` `[E, H, F]`, `w2`
       `[E, F, H]`, biases `[E, F]` / `[E, H]`.
    4. `output[t] = sum_j weight[t, j] * y_{e_j}(x[t])`, plus, when
       `shared_w1`/`shared_w2` (`[H, Fs]`, `[Fs, H]`, and `shared_w3` for
       gated experts) are given, a shared expert on every token with the same
       activation, optionally scaled per token by
       `sigmoid(x shared_gate)` (`shared_gate` `[H, 1]`, Qwen-MoE).

    The op is *gated* (a GLU such as SwiGLU) when `w3` is present
    (`gate_layout = 0`) or when `w1` holds both halves (`[E, H, 2F]`):
    `gate_layout = 1` interleaves gate and linear columns (gate at `2j`,
    linear at `2j + 1`), `gate_layout = 2` concatenates them (gate first).
    `activation` is `relu`, `gelu` (erf), `gelu_tanh`, `silu`
    (`x * sigmoid(alpha * x)`) or `identity`. For gated ops `limit`, when
    set, clamps the gate from above and the linear part to `[-limit, limit]`
    (ONNX Runtime's clamped SwiGLU), and `beta` is added to the linear part.

    *Quantized experts* (`weight_bits` 2, 4 or 8; 0, the default, means
    float weights as above): `w1`, `w2` and `w3` are then uint8 in
    torch Linear row layout, rows are output features, `bits`-bit codes
    packed along the input dimension low bits first (com.microsoft QMoE's
    raw layout): `w1` `[E, F1, H * bits / 8]` (`F1` = `F`, or `2F` for a
    combined gate and linear part), `w2` `[E, H, F * bits / 8]`, `w3`
    `[E, F, H * bits / 8]`. Each weight `wi` comes with `wi_scales`,
    per row `[E, out]` (`block_size` = 0) or per block of `block_size`
    inputs `[E, out, in / block_size]`, and optionally `wi_zero_points`,
    packed like the codes: per row along `out` `[E, ceil(out * bits / 8)]`,
    per block `[E, out, ceil(in / block_size * bits / 8)]` (by default
    `2^(bits - 1)`). A weight is `(q - zero_point) * scale`; the codes stay
    packed down to the kernels (decoding dequantizes in registers). The
    shared expert stays float. With `int8_activations` the expert inputs
    are quantized to symmetric int8 per block of `block_size` (per row
    without one) and the products accumulate in int32, as
    `sparsa.quant_matmul`'s `int8` activation (`--int8-activations`).

    Only the selected experts' weights are read: the lowering computes the
    gate and top-k, counting-sorts the `T * k` (token, expert) pairs by
    expert (a static upper bound, no data-dependent shapes) and runs one
    GEMV/GEMM per expert over its tokens only.

    ```mlir
    %y = sparsa.moe %x, %logits, %w1, %w2 w3 = %w3 {activation = "silu", k = 2 : i64, normalize = true} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Sparsa_FloatTensor:$input, Sparsa_FloatTensor:$router_logits,
                   Sparsa_ExpertWeights:$w1, Sparsa_ExpertWeights:$w2,
                   Optional<Sparsa_ExpertWeights>:$w3,
                   Optional<Sparsa_FloatTensor>:$b1,
                   Optional<Sparsa_FloatTensor>:$b2,
                   Optional<Sparsa_FloatTensor>:$b3,
                   Optional<Sparsa_FloatTensor>:$selection_bias,
                   Optional<Sparsa_FloatTensor>:$shared_w1,
                   Optional<Sparsa_FloatTensor>:$shared_w2,
                   Optional<Sparsa_FloatTensor>:$shared_w3,
                   Optional<Sparsa_FloatTensor>:$shared_gate,
                   Optional<Sparsa_FloatTensor>:$w1_scales,
                   Optional<Sparsa_FloatTensor>:$w2_scales,
                   Optional<Sparsa_FloatTensor>:$w3_scales,
                   Optional<RankedTensorOf<[UI8]>>:$w1_zero_points,
                   Optional<RankedTensorOf<[UI8]>>:$w2_zero_points,
                   Optional<RankedTensorOf<[UI8]>>:$w3_zero_points,
                   Optional<RankedTensorOf<[I32, I64]>>:$expert_indices,
                   I64Attr:$k,
                   DefaultValuedAttr<I64Attr, "1">:$n_group,
                   DefaultValuedAttr<I64Attr, "1">:$topk_group,
                   DefaultValuedStrAttr<StrAttr, "softmax">:$gating,
                   DefaultValuedAttr<BoolAttr, "false">:$normalize,
                   DefaultValuedAttr<F64Attr, "1.0">:$routed_scaling,
                   DefaultValuedStrAttr<StrAttr, "relu">:$activation,
                   DefaultValuedAttr<I64Attr, "0">:$gate_layout,
                   DefaultValuedAttr<F64Attr, "1.0">:$alpha,
                   DefaultValuedAttr<F64Attr, "0.0">:$beta,
                   OptionalAttr<F64Attr>:$limit,
                   DefaultValuedAttr<I64Attr, "0">:$weight_bits,
                   DefaultValuedAttr<I64Attr, "0">:$block_size,
                   DefaultValuedAttr<BoolAttr, "false">:$int8_activations);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $router_logits `,` $w1 `,` $w2 (`w3` `=` $w3^)?
    (`b1` `=` $b1^)? (`b2` `=` $b2^)? (`b3` `=` $b3^)?
    (`selection_bias` `=` $selection_bias^)?
    (`shared_w1` `=` $shared_w1^)? (`shared_w2` `=` $shared_w2^)?
    (`shared_w3` `=` $shared_w3^)? (`shared_gate` `=` $shared_gate^)?
    (`w1_scales` `=` $w1_scales^)? (`w2_scales` `=` $w2_scales^)?
    (`w3_scales` `=` $w3_scales^)? (`w1_zero_points` `=` $w1_zero_points^)?
    (`w2_zero_points` `=` $w2_zero_points^)? (`w3_zero_points` `=` $w3_zero_points^)?
    (`expert_indices` `=` $expert_indices^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Whether the expert FFN is a GLU (gate times linear part).
    bool isGated() { return getW3() || getGateLayout() != 0; }
    /// Whether the expert weights are packed integer codes.
    bool isQuantized() { return getWeightBits() != 0; }
    /// Whether the routing weights and expert indices are operands (a gate
    /// outside the op) rather than computed from router logits.
    bool hasGivenRouting() { return getGating() == "given"; }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Activation sparsity family
//===----------------------------------------------------------------------===//

def Sparsa_SparseFFNOp : Sparsa_Op<"sparse_ffn", [Pure, AttrSizedOperandSegments]> {
  let summary = "FFN whose hidden activation is mostly zero: only active neurons are computed";
  let description = [{
    `y = a W2 + b2` with the hidden activation of `input` (`[T, H]` or
    `[B, S, H]`)

    - `mode = "relu"`: `a = max(x W1 + b1, 0)` (OPT); `mode = "relu2"`:
      its square (Primer's squared ReLU, the same zeros);
    - `mode = "threshold"`: `a = h if h > threshold else 0` with
      `h = x W1 + b1` (FATReLU); a NaN `h` is inactive (0), or, with
      `nan_active`, kept (the spellings `masked_fill(h <= t, 0)` and
      `h * (h > t)` keep it);
    - `mode = "abs_threshold"`: `a = g if |g| > threshold else 0` with
      `g = activation(x W1 + b1)`, `activation` one of `identity`, `silu`,
      `gelu`, `gelu_tanh` (CATS: a SiLU gate cut by magnitude); a NaN `g` is
      inactive unless `nan_active`;

    and, with `up` (`[F, H]`, one row per neuron) given, `a` times the
    linear part `x up^T + b_up` (a ReLU-gated GLU, ProSparse; under a
    threshold a NaN gate is then active, as the graph's `0 * NaN` is NaN).
    Weights:
    `w1` `[H, F]`, `w2` `[F, H]` (one contiguous row per neuron), biases
    `b1` `[F]`, `b_up` `[F]`, `b2` `[H]`. With `relu_up`
    the linear part goes through a ReLU too (dReLU, TurboSparse:
    `relu(x W1 + b1) * relu(x up^T + b_up)`).

    With `indices` (`[K]`, a neuron index set given by the model: CoreInfer's
    core neurons as an input, or a predictor's top-k as in Deja Vu), only
    those neurons exist: `w1` is then `[F, H]` (one row per neuron) too, any
    activation applies (`mode` also `gelu`, `gelu_tanh`, `silu`,
    `identity`), and `y = act(x w1[idx]^T + b1[idx]) [* ...] w2[idx] + b2`.
    Indices wrap once if negative and are clamped into `[0, F)`, as Gather's
    lowering does: never an out-of-bounds read.

    *Quantized weights* (`weight_bits` 2, 4 or 8; modes `relu` and
    `threshold`, no `indices`): `w1` is then MatMulNBits' packed
    layout, one row per neuron: uint8 `[F, ceil(H / block_size),
    block_size * bits / 8]` with `w1_scales` `[F, blocks]` and optional
    packed `w1_zero_points` `[F, ceil(blocks * bits / 8)]`; a GLU's `up`
    is packed the same way, with `up_scales` and optional `up_zero_points`
    shaped as w1's (the same bits and block size); `w2` holds one
    row of codes per neuron along the outputs, uint8 `[F, H * bits / 8]`
    (low bits first), with `w2_scales` `[ceil(F / block_size), H]` per block
    of neurons and optional `w2_zero_points` uint8 `[ceil(F / block_size),
    H]` (one code per byte). A weight is `(q - zero_point) * scale`, the
    zero point by default `2^(bits - 1)`: exactly MatMulNBits' values, its
    down projection repacked at compile time so an active neuron's codes
    are one contiguous row. With `int8_activations` (quantized weights
    only) the gate's input is quantized to symmetric int8 per block of
    `block_size` (MatMulNBits' `accuracy_level` 4, VNNI dot products); the
    down projection keeps float activations.

    The lowering computes the gate densely, then, for one token, finds the
    active neurons in one pass and reads only their rows of `up` and `w2`
    (gather dot products and row axpys, split over threads by columns;
    packed rows are dequantized in registers).

    ```mlir
    %y = sparsa.sparse_ffn %x, %w1, %w2 b1 = %b1 b2 = %b2 {mode = "relu"} : (tensor<1x1024xf32>, tensor<1024x4096xf32>, tensor<4096x1024xf32>, tensor<4096xf32>, tensor<1024xf32>) -> tensor<1x1024xf32>
    ```
  }];
  let arguments = (ins Sparsa_FloatTensor:$input, Sparsa_ExpertWeights:$w1,
                   Sparsa_ExpertWeights:$w2, Optional<Sparsa_ExpertWeights>:$up,
                   Optional<Sparsa_FloatTensor>:$b1, Optional<Sparsa_FloatTensor>:$b_up,
                   Optional<Sparsa_FloatTensor>:$b2,
                   Optional<RankedTensorOf<[I32, I64]>>:$indices,
                   Optional<Sparsa_FloatTensor>:$w1_scales,
                   Optional<RankedTensorOf<[UI8]>>:$w1_zero_points,
                   Optional<Sparsa_FloatTensor>:$w2_scales,
                   Optional<RankedTensorOf<[UI8]>>:$w2_zero_points,
                   Optional<Sparsa_FloatTensor>:$up_scales,
                   Optional<RankedTensorOf<[UI8]>>:$up_zero_points,
                   DefaultValuedStrAttr<StrAttr, "relu">:$mode,
                   DefaultValuedAttr<F64Attr, "0.0">:$threshold,
                   DefaultValuedAttr<I64Attr, "0">:$weight_bits,
                   DefaultValuedAttr<I64Attr, "0">:$block_size,
                   DefaultValuedAttr<BoolAttr, "false">:$int8_activations,
                   DefaultValuedAttr<BoolAttr, "false">:$nan_active,
                   DefaultValuedStrAttr<StrAttr, "identity">:$activation,
                   DefaultValuedAttr<BoolAttr, "false">:$relu_up);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $w1 `,` $w2 (`up` `=` $up^)? (`b1` `=` $b1^)? (`b_up` `=` $b_up^)?
    (`b2` `=` $b2^)? (`indices` `=` $indices^)?
    (`w1_scales` `=` $w1_scales^)? (`w1_zero_points` `=` $w1_zero_points^)?
    (`w2_scales` `=` $w2_scales^)? (`w2_zero_points` `=` $w2_zero_points^)?
    (`up_scales` `=` $up_scales^)? (`up_zero_points` `=` $up_zero_points^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// Whether the weights are packed integer codes.
    bool isQuantized() { return getWeightBits() != 0; }
    /// The verifier's part for packed weights.
    ::mlir::LogicalResult verifyQuantized();
  }];
  let hasVerifier = 1;
}

def Sparsa_SparseInputMatMulOp
    : Sparsa_Op<"sparse_input_matmul", [Pure]> {
  let summary = "MatMul of an input thresholded by magnitude: only its large entries' weight rows are read";
  let description = [{
    `y = where(|x| > threshold, x, 0) w + bias` (TEAL / CATS input
    sparsity) with `input` `[T, H]` or `[B, S, H]`, `w` `[H, N]` (one
    contiguous row per input entry) and `bias` `[N]`. A NaN entry is
    dropped, or, with `nan_active`, kept.

    The lowering, for one token, lists the entries above the threshold and
    adds one weight row per entry (axpys, the entries split over threads);
    more tokens take the dense masked matmul.

    ```mlir
    %y = sparsa.sparse_input_matmul %x, %w {threshold = 0.5 : f64} : (tensor<1x4096xf32>, tensor<4096x4096xf32>) -> tensor<1x4096xf32>
    ```
  }];
  let arguments = (ins Sparsa_FloatTensor:$input, Sparsa_FloatTensor:$w,
                   Optional<Sparsa_FloatTensor>:$bias,
                   DefaultValuedAttr<F64Attr, "0.0">:$threshold,
                   DefaultValuedAttr<BoolAttr, "false">:$nan_active);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $w (`bias` `=` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Sparsa_TopKMatMulOp : Sparsa_Op<"topk_matmul", [Pure]> {
  let summary = "MatMul of a top-k sparse activation: only the kept neurons' weight rows are read";
  let description = [{
    `y[t] = sum_j values[t, j] * w[indices[t, j], :] + bias`: the product of
    an activation that keeps `k` entries per token (`indices` / `values`
    `[T, k]`, distinct per token, as a TopK gives them; the rest zero, as
    exporters write it with ScatterElements into zeros) by `w` `[F, N]` (one
    contiguous row per neuron). Indices wrap once if negative and are
    clamped into `[0, F)`.

    For one token the lowering adds one weight row per kept entry (axpys,
    the entries split over threads); more tokens scatter into a dense activation
    and multiply.

    ```mlir
    %y = sparsa.topk_matmul %idx, %vals, %w : (tensor<1x256xi64>, tensor<1x256xf32>, tensor<16384x4096xf32>) -> tensor<1x4096xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32, I64]>:$indices, Sparsa_FloatTensor:$values,
                   Sparsa_FloatTensor:$w, Optional<Sparsa_FloatTensor>:$bias);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $indices `,` $values `,` $w (`bias` `=` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization family
//===----------------------------------------------------------------------===//

def Sparsa_QuantMatMulOp
    : Sparsa_Op<"quant_matmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "MatMul by block-quantized weights that stay packed down to the kernel";
  let description = [{
    `y = a W (+ bias)` for `input` `[..., K]` and weights quantized in
    blocks of `block_size` along K: `W[k, n] = (q[n, k] - z[n, k / bs]) *
    scales[n, k / bs]`, `q` packed in `weight` (uint8 `[N, ceil(K / bs),
    bs * bits / 8]`, elements from the low bits up: com.microsoft
    MatMulNBits' layout, whatever form the model arrived in). `scales` is
    `[N, blocks]` (or flat); `zero_points` packed uint8 `[N, ceil(blocks *
    bits / 8)]` or float `[N, blocks]`, by default `2^(bits - 1)`.

    The activation `a` is built from `x' = input * input_scales +
    input_noise` (both optional `[K]`: AWQ's per-input-channel scales,
    NoisyQuant's fixed noise) according to `activation`:

    - `float`: `a = x'`;
    - `qdq`: `a = DequantizeLinear(QuantizeLinear(x', act_scale,
      act_zero_point))`, per tensor (uint8 or int8 by the zero point's type,
      round half to even, saturating): a static QDQ export's activation;
    - `dynamic`: `x'` is quantized per tensor to uint8 as
      `DynamicQuantizeLinear` does, products accumulate exactly in int32
      and `y[n] = float(acc) * (x_scale * scales[n])` (one block: integer
      zero points only); ONNX Runtime's `quantize_dynamic` form;
    - `int8`: each row of `x'` is quantized per block of `block_size`
      along K to symmetric int8 (`s_a = max|x'| / 127`, round half to
      even), products accumulate exactly in int32 per block and `y[n] =
      sum over blocks of s_a * scales[n, b] * acc_b` (ONNX Runtime's
      `accuracy_level = 4`; `--int8-activations` turns float activations
      into this, for VNNI dot products).

    `form` names the exporter form it was fused from (for the report).

    ```mlir
    %y = sparsa.quant_matmul %x, %q, %s zero_points = %z {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64, form = "MatMulNBits"} : (tensor<1x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>, tensor<32x1xui8>) -> tensor<1x32xf32>
    ```
  }];
  let arguments = (ins Sparsa_FloatTensor:$input, TensorOf<[UI8]>:$weight,
                   Sparsa_FloatTensor:$scales,
                   Optional<TensorOf<[UI8, F16, BF16, F32]>>:$zero_points,
                   Optional<Sparsa_FloatTensor>:$bias,
                   Optional<Sparsa_FloatTensor>:$input_scales,
                   Optional<Sparsa_FloatTensor>:$input_noise,
                   Optional<Sparsa_FloatTensor>:$act_scale,
                   Optional<TensorOf<[I8, UI8]>>:$act_zero_point,
                   I64Attr:$K, I64Attr:$N, DefaultValuedAttr<I64Attr, "4">:$bits,
                   I64Attr:$block_size,
                   DefaultValuedStrAttr<StrAttr, "float">:$activation,
                   DefaultValuedStrAttr<StrAttr, "">:$form);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $weight `,` $scales (`zero_points` `=` $zero_points^)? (`bias` `=` $bias^)?
    (`input_scales` `=` $input_scales^)? (`input_noise` `=` $input_noise^)?
    (`act_scale` `=` $act_scale^)? (`act_zero_point` `=` $act_zero_point^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Flow attention family
//===----------------------------------------------------------------------===//

def Sparsa_FlowAttentionOp : Sparsa_Op<"flow_attention", [Pure]> {
  let summary = "Flowformer Flow-Attention in time linear in the sequence length";
  let description = [{
    Flow-Attention (Flowformer, Wu et al. 2022) of `query` `[..., L, D]`,
    `key` `[..., S, D]` and `value` `[..., S, Dv]` (the same leading batch
    and head dims on all three) into `[..., L, Dv]`. With `Q' = phi(query)`,
    `K' = phi(key)` (`feature_map`, Flowformer's is `sigmoid`) and
    `e = eps`, non-causal:

    ```
    I_i = 1 / ((Q'_i + e) . (sum_j K'_j + e))        incoming flow
    O_j = 1 / ((K'_j + e) . (sum_i Q'_i + e))        outgoing flow
    Ih_i = (Q'_i + e) . (sum_j K'_j O_j + e)          conserved sink
    Oh_j = clip((K'_j + e) . (sum_i Q'_i I_i + e), -1, 1)
    A_i = sigmoid(Ih_i * a)    a = allocation_scale, default L / S
    C   = softmax_j(Oh_j) * c  c = competition_scale, default S
    out_i = A_i I_i Q'_i (sum_j K'_j^T (V_j C_j))
    ```

    `causal` (L = S) turns every sum into a prefix sum over positions
    `j <= i` with the normalizers `n_i = i + 1` of the reference code:
    `I_i = n_i / ((Q'_i + e) . (cumsum K')_i + e)`, `O_i` likewise,
    `Ih_i = (Q'_i + e) . ((cumsum K' O)_i + e) / n_i`,
    `Oh_i = clip((K'_i + e) . ((cumsum Q' I)_i + e) / n_i, -1, 1)`,
    `A_i = sigmoid(Ih_i)`, `C_i = exp(Oh_i) / (cumsum exp Oh)_i * n_i`,
    `out_i = A_i I_i / n_i Q'_i sum_{j <= i} K'_j^T (V_j C_j)`.

    The lowering keeps one `D x Dv` state per (batch, head): one pass over
    keys and values builds it, one pass over queries reads it; the causal
    form is a chunked scan (`chunk_size` positions dense inside a chunk,
    the state carried across chunks). Nothing `L x S` or `L x D x Dv` is
    materialized.

    ```mlir
    %o = sparsa.flow_attention %q, %k, %v {causal} : (tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>) -> tensor<1x8x128x64xf32>
    ```
  }];
  let arguments = (ins Sparsa_FloatTensor:$query, Sparsa_FloatTensor:$key,
                   Sparsa_FloatTensor:$value,
                   DefaultValuedAttr<StrAttr, "\"sigmoid\"">:$feature_map,
                   UnitAttr:$causal,
                   DefaultValuedAttr<F64Attr, "1.0e-6">:$eps,
                   OptionalAttr<F64Attr>:$allocation_scale,
                   OptionalAttr<F64Attr>:$competition_scale,
                   DefaultValuedAttr<I64Attr, "64">:$chunk_size);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Sparsa_LinearAttentionOp : Sparsa_Op<"linear_attention", [Pure]> {
  let summary = "Kernelized linear attention with a D x Dv state per head";
  let description = [{
    Linear attention (Katharopoulos et al. 2020) of `query` `[..., L, D]`,
    `key` `[..., S, D]` and `value` `[..., S, Dv]` into `[..., L, Dv]`,
    with `Q' = phi(query)`, `K' = phi(key)` (`feature_map`: `elu1` is
    `elu(x) + 1`):

    ```
    out_i = scale * Q'_i (sum_j K'_j^T V_j) [/ (Q'_i . sum_j K'_j + eps)]
    ```

    the division present when `normalize` is set. `causal` (L = S) sums
    over `j <= i` only; the lowering is a chunked scan: dense products
    inside a block of `chunk_size` positions and a `D x Dv` state carried
    across blocks (the hybrid form of chunked linear attention). Without
    `normalize`, causal, identity feature map, it is ONNX `LinearAttention`
    (opset 27) with `update_rule = "linear"` and no past state.

    ```mlir
    %o = sparsa.linear_attention %q, %k, %v {feature_map = "elu1", normalize, eps = 1.0e-6 : f64} : (tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>, tensor<1x8x128x64xf32>) -> tensor<1x8x128x64xf32>
    ```
  }];
  let arguments = (ins Sparsa_FloatTensor:$query, Sparsa_FloatTensor:$key,
                   Sparsa_FloatTensor:$value,
                   DefaultValuedAttr<StrAttr, "\"identity\"">:$feature_map,
                   UnitAttr:$causal, UnitAttr:$normalize,
                   DefaultValuedAttr<F64Attr, "0.0">:$eps,
                   DefaultValuedAttr<F64Attr, "1.0">:$scale,
                   DefaultValuedAttr<I64Attr, "64">:$chunk_size);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Kernel fusion (not a sparsity family)
//===----------------------------------------------------------------------===//

def Sparsa_AttentionOp : Sparsa_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "Softmax attention computed block by block: the scores never reach memory";
  let description = [{
    `output = softmax(scale * query key^T + mask) value` over the last axis,
    with `query` `[..., Lq, D]`, `key` `[..., Lk, D]` (`[..., D, Lk]` when
    `key_transposed`), `value` `[..., Lk, Dv]`, the query's leading (batch,
    head) dims on key and value, each equal, 1 (broadcast, as MatMul does)
    or a static divisor of the query's static size (grouped-query
    attention: query head `h` reads kv head `h / (Hq / Hkv)`), and an
    optional additive `mask` that broadcasts (numpy rules) to the scores
    `[..., Lq, Lk]`.

    `sparsa-fuse-attention` forms it from the MatMul / scale / mask /
    Softmax / MatMul chain every exporter writes, so that the lowering can
    keep a block of query rows' scores in cache between the two products
    instead of writing the `Lq x Lk` scores to memory and reading them back
    several times. Its only sparsity is the mask's: the lowering reads the
    mask at run time and computes, per block of query rows, only the keys
    from the first to the last one a row keeps (a mask value at or below
    -10000 hides its key; a block with a row that keeps none computes every
    key).

    `nan_rows_zero`: a query row whose probabilities are NaN (every key
    masked with -inf, or a NaN score) gives zeros instead of NaN, as the
    guard `Where(IsNaN(p), 0, p)` after the Softmax asks (the dynamo
    exporter writes it in every scaled_dot_product_attention).

    `sinks` (GPT-OSS's attention sinks): one more logit per (batch, head)
    joins each row's softmax without a value, so the row's probabilities
    sum to less than one: `p_j = exp(s_j) / (sum_i exp(s_i) + exp(sink))`.
    Its shape is the query's leading dims, each 1 (broadcast) or equal
    (`[1, heads]` for `[B, heads, Lq, D]`); the sink is not scaled.

    ```mlir
    %o = sparsa.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>) -> tensor<1x8x512x64xf32>
    ```
  }];
  let arguments = (ins Sparsa_FloatTensor:$query, Sparsa_FloatTensor:$key,
                   Sparsa_FloatTensor:$value, Optional<Sparsa_FloatTensor>:$mask,
                   Optional<Sparsa_FloatTensor>:$sinks,
                   DefaultValuedAttr<F64Attr, "1.0">:$scale,
                   UnitAttr:$key_transposed, UnitAttr:$nan_rows_zero);
  let results = (outs Sparsa_FloatTensor:$output);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `=` $mask^)? (`sinks` `=` $sinks^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // SPARSA_DIALECT_SPARSA_IR_SPARSAOPS_TD
