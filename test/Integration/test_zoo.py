"""Models PyTorch's exporters wrote (zoo/export.py, committed under
zoo/models with the versions used): each compiles, the expected fusion
families fire, and the outputs match ONNX Runtime on the same file for
several sequence lengths (dynamic-axes exports) or the exported one."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from conftest import compile_with_report, ort_run

ZOO = Path(__file__).resolve().parents[2] / "zoo" / "models"

# file -> expected fused regions per family (report keys; "attention" is
# a kernel fusion)
MODELS = {
    "flowformer_noncausal_static.onnx": {"flow_attention": 1},
    "flowformer_noncausal_dyn.onnx": {"flow_attention": 1},
    "flowformer_noncausal_dynamo.onnx": {"flow_attention": 1},
    "flowformer_causal_static.onnx": {"flow_attention": 1},
    "flowformer_causal_dyn.onnx": {"flow_attention": 1},
    "flowformer_causal_dynamo.onnx": {"flow_attention": 1},
    # fast-transformers' LinearAttention on [N, L, H, D] (3-input Einsum)
    "linear_attention_fast_transformers.onnx": {"flow_attention": 1},
    # transformers 4.46 decoders, 2 layers each
    "mixtral.onnx": {"routing": 2, "attention": 2},
    "qwen2_moe.onnx": {"routing": 2, "attention": 2},
    "opt.onnx": {"activation_sparsity": 2, "attention": 2},
    "llama_relu.onnx": {"activation_sparsity": 2, "attention": 2},
    # the same models through the dynamo exporter (its Mixtral dispatches
    # with GatherND / Slice-of-NonZero / ScatterND(add) and writes one_hot
    # as Equal with an arange)
    "opt_dynamo.onnx": {"activation_sparsity": 2, "attention": 2},
    "llama_relu_dynamo.onnx": {"activation_sparsity": 2, "attention": 2},
    "mixtral_dynamo.onnx": {"routing": 2, "attention": 2},
    # a DeepSeek-V3-style block (sigmoid scores, selection bias, scaling,
    # shared expert; experts looped with index_add_)
    "deepseek_moe.onnx": {"routing": 1},
    # the same through the dynamo exporter (h[tok] as GatherND)
    "deepseek_moe_dynamo.onnx": {"routing": 1},
    # FATReLU as torch.where / masked_fill / h * (h > t) (F.threshold in
    # the dynamo file) and TEAL's x * (x.abs() > t)
    "threshold_ffns.onnx": {"activation_sparsity": 4},
    "threshold_ffns_dynamo.onnx": {"activation_sparsity": 4},
    # Deja Vu: predictor top-k, then x @ W1[idx].t() on nn.Linear weights
    # (Gather + Transpose; GatherND through dynamo)
    "dejavu_ffn.onnx": {"activation_sparsity": 1},
    "dejavu_ffn_dynamo.onnx": {"activation_sparsity": 1},
    # a ReLU predictor MLP's top-k (Deja Vu, F.linear on W[idx] / W[:, idx];
    # dynamo: Gemm of a transposed GatherND) or positive scores (PowerInfer:
    # a NonZero index set); the predictor itself is reported, not fused
    "dejavu_mlp_predictor.onnx": {"activation_sparsity": 1},
    "dejavu_mlp_predictor_dynamo.onnx": {"activation_sparsity": 1},
    "powerinfer_ffn.onnx": {"activation_sparsity": 1},
    "powerinfer_ffn_dynamo.onnx": {"activation_sparsity": 1},
    # CATS on SwiGLU MLPs: g * (g.abs() > t) and torch.where(g.abs() > t,
    # g, zeros_like(g)) of the SiLU gate
    "cats_mlp.onnx": {"activation_sparsity": 2},
    "cats_mlp_dynamo.onnx": {"activation_sparsity": 2},
    # TurboSparse's dReLU: relu(gate(x)) * relu(up(x))
    "drelu_mlp.onnx": {"activation_sparsity": 1},
    "drelu_mlp_dynamo.onnx": {"activation_sparsity": 1},
    # causal linear attention masked by comparing arange(L) at run time
    "linear_attention_arange_mask.onnx": {"flow_attention": 1},
    "linear_attention_arange_mask_dynamo.onnx": {"flow_attention": 1},
    # causal linear attention as the naive reference: CumSum of the
    # [B, H, L, D, D] outer products, each query row times its state by
    # MatMul or Mul + ReduceSum
    "linear_attention_cumsum_matmul.onnx": {"flow_attention": 1},
    "linear_attention_cumsum_matmul_dynamo.onnx": {"flow_attention": 1},
    "linear_attention_cumsum_mul_sum.onnx": {"flow_attention": 1},
    "linear_attention_cumsum_mul_sum_dynamo.onnx": {"flow_attention": 1},
    # stacked SwiGLU experts with torch.einsum: every expert through the
    # dense routing matrix (form B), or W[idx] per token (form D)
    "moe_einsum_dense.onnx": {"routing": 1},
    "moe_einsum_dense_dynamo.onnx": {"routing": 1},
    "moe_einsum_gather.onnx": {"routing": 1},
    "moe_einsum_gather_dynamo.onnx": {"routing": 1},
    # Mixture of Hidden Dimensions on nn.Linear (Gemm) projections
    "mohd_ffn.onnx": {"routing": 1},
    "mohd_ffn_dynamo.onnx": {"routing": 1},
    # every expert unrolled, weighted by dense[:, e:e+1], after a shared expert
    "moe_dense_unrolled.onnx": {"routing": 1},
    "moe_dense_unrolled_dynamo.onnx": {"routing": 1},
    # hand-written MoEs on unflattened [B, S, d] tokens: experts'
    # outputs torch.stack-ed under Shazeer's top-k gate (softmax of the
    # top-k logits scattered into -inf); form C summed into zeros_like(x)
    "moe_stacked_bsh.onnx": {"routing": 1},
    "moe_stacked_bsh_dynamo.onnx": {"routing": 1},
    "moe_equal_mask_bsh.onnx": {"routing": 1},
    "moe_equal_mask_bsh_dynamo.onnx": {"routing": 1},
    # a hand-written top-k loop: torch.where(idx == e), index_add_
    "moe_where_loop.onnx": {"routing": 1},
    "moe_where_loop_dynamo.onnx": {"routing": 1},
    # the einsum experts on unflattened [B, S, d] tokens (`bsh,ehf->bsef`,
    # `bsh,bskhf->bskf`): forms B and D with two token letters
    "moe_einsum_dense_bsh.onnx": {"routing": 1},
    "moe_einsum_dense_bsh_dynamo.onnx": {"routing": 1},
    "moe_einsum_gather_bsh.onnx": {"routing": 1},
    "moe_einsum_gather_bsh_dynamo.onnx": {"routing": 1},
    # top-1 by torch.max (ReduceMax + ArgMax): per-expert factor
    # (w * (idx == e))[..., None], Switch's `out * w` after the masked sum,
    # or the weight scattered over torch.stack-ed outputs
    "moe_top1_term.onnx": {"routing": 1},
    "moe_top1_term_dynamo.onnx": {"routing": 1},
    "moe_top1_after.onnx": {"routing": 1},
    "moe_top1_after_dynamo.onnx": {"routing": 1},
    "moe_top1_stack.onnx": {"routing": 1},
    "moe_top1_stack_dynamo.onnx": {"routing": 1},
    # linear attention with the feature map applied on [B, L, H, D] before
    # the heads move forward (TorchScript merges the keys' transposes into
    # one [0, 2, 3, 1]); non-causal, and causal as torch.tril of the scores
    "linear_attention_phi_first.onnx": {"flow_attention": 1},
    "linear_attention_phi_first_dynamo.onnx": {"flow_attention": 1},
    "linear_attention_phi_first_causal.onnx": {"flow_attention": 1},
    "linear_attention_phi_first_causal_dynamo.onnx": {"flow_attention": 1},
    # transformers 5 decoders through the dynamo exporter, experts as
    # batched_mm (a row per (token, slot) pair, W[expert_ids] by GatherND,
    # gate_up_proj cut by Split), attention with Where(IsNaN(p), 0, p)
    "mixtral_v5_dynamo.onnx": {"routing": 2, "attention": 2},
    "qwen2_moe_v5_dynamo.onnx": {"routing": 2, "attention": 2},
    "qwen3_moe_v5_dynamo.onnx": {"routing": 2, "attention": 2},
    "olmoe_v5_dynamo.onnx": {"routing": 2, "attention": 2},
    # first layer dense; -inf outside the chosen expert groups
    "deepseek_v3_v5_dynamo.onnx": {"routing": 1, "attention": 2},
    # interleaved gate / up with per-pair biases, the clamped SwiGLU;
    # attention with sinks (a softmax over the keys and a per-head sink)
    "gpt_oss_v5_dynamo.onnx": {"routing": 2, "attention": 2},
    # softmax scores + a selection bias, weights / clamp(sum, min=1e-12)
    "ernie4_5_moe_v5_dynamo.onnx": {"routing": 2, "attention": 2},
    # dense Phi-3 with ReLU: gate_up_proj(x).chunk(2, -1) as a Split
    "phi3_relu_v5_dynamo.onnx": {"activation_sparsity": 2, "attention": 2},
    # PhiMoE's sparsemixer gate, no canonical gate: kept as ONNX ops, its
    # weights and indices given to the fused experts
    "phimoe_v5_dynamo.onnx": {"routing": 2, "attention": 2},
}


def feeds_for(path, batch, seq):
    """Random inputs for every graph input, batch and sequence substituted
    for the first two dims (token ids for input_ids)."""
    rng = np.random.default_rng(seq)
    feeds = {}
    for inp in onnx.load(str(path), load_external_data=False).graph.input:
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        shape = [batch, seq] + dims[2:]
        if inp.name == "input_ids":
            feeds[inp.name] = rng.integers(0, 128, shape).astype(np.int64)
        else:
            feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def input_shapes(path):
    """(batch, seq) pairs to run: the exported shape when static, else
    several (two sequence lengths at least)."""
    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    batch = dims[0].dim_value or None
    seq = dims[1].dim_value or None
    if batch and seq:
        return [(batch, seq)]
    return [(batch or b, seq or s) for b, s in [(1, 1), (2, 7), (1, 100)]]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model(tmp_path, name):
    path = ZOO / name
    model, report = compile_with_report(tmp_path, path)
    for family, count in MODELS[name].items():
        got = report["kernel_fusions" if family == "attention" else "fusions"][family]
        assert got == count, (name, report["fusions"], report["kernel_fusions"],
                              report["unfused"])
    for batch, seq in input_shapes(path):
        feeds = feeds_for(path, batch, seq)
        ref = ort_run(path, feeds)
        out = model.run(feeds)
        for key, expected in ref.items():
            np.testing.assert_allclose(
                out[key], expected, atol=1e-5 * max(1.0, float(np.abs(expected).max())),
                rtol=1e-4, err_msg=f"{name} {key} batch {batch} seq {seq}")
