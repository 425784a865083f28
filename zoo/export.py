"""Exports the model zoo's ONNX fixtures with PyTorch (run by hand, in a
separate virtual environment: PyTorch is never needed by the build, the
tests or CI, which use the committed files).

    python3 -m venv /tmp/zoo-venv
    /tmp/zoo-venv/bin/pip install torch onnx onnxscript "transformers==4.46.3"
    /tmp/zoo-venv/bin/python zoo/export.py [--out zoo/models]

(transformers 4.46: its Mixtral / Qwen2-MoE blocks loop over the experts
with index_add_, which the TorchScript exporter writes. The
transformers_v5 group needs transformers 5 and runs only when named:

    /tmp/zoo-venv/bin/pip install --target /tmp/tf5 "transformers==5.25.0"
    PYTHONPATH=/tmp/tf5 /tmp/zoo-venv/bin/python zoo/export.py --only transformers_v5
)

Each model is a tiny, randomly initialized configuration (fixed seed);
exported with torch.onnx.export's TorchScript exporter (static, and dynamic
batch / sequence) and, where it works, the dynamo exporter. The versions
used are written to VERSIONS.txt next to the files.
"""

import argparse
import os

import torch
import torch.nn as nn


class FlowAttention(nn.Module):
    """Flowformer's Flow_Attention (thuml/Flowformer, Flowformer_LRA / core), on q, k, v [n, h, l, d]."""
    def __init__(self, eps=1e-6, causal=False):
        super().__init__(); self.eps = eps; self.causal = causal
    def kernel_method(self, x): return torch.sigmoid(x)
    def dot_product(self, q, k, v):
        kv = torch.einsum("nhld,nhlm->nhdm", k, v)
        return torch.einsum("nhld,nhdm->nhlm", q, kv)
    def causal_dot_product(self, q, k, v):
        kv = torch.einsum("nhld,nhlm->nhldm", k, v)
        kv = torch.cumsum(kv, dim=2)
        return torch.einsum("nhld,nhldm->nhlm", q, kv)
    def forward(self, queries, keys, values):
        queries = self.kernel_method(queries); keys = self.kernel_method(keys)
        if not self.causal:
            sink_incoming = 1.0 / (torch.einsum("nhld,nhd->nhl", queries + self.eps, keys.sum(dim=2) + self.eps))
            source_outgoing = 1.0 / (torch.einsum("nhld,nhd->nhl", keys + self.eps, queries.sum(dim=2) + self.eps))
            conserved_sink = torch.einsum("nhld,nhd->nhl", queries + self.eps, (keys * source_outgoing[:, :, :, None]).sum(dim=2) + self.eps)
            conserved_source = torch.einsum("nhld,nhd->nhl", keys + self.eps, (queries * sink_incoming[:, :, :, None]).sum(dim=2) + self.eps)
            conserved_source = torch.clamp(conserved_source, min=-1.0, max=1.0)
            sink_allocation = torch.sigmoid(conserved_sink * (float(queries.shape[2]) / float(keys.shape[2])))
            source_competition = torch.softmax(conserved_source, dim=-1) * float(keys.shape[2])
            x = (self.dot_product(queries * sink_incoming[:, :, :, None], keys, values * source_competition[:, :, :, None]) * sink_allocation[:, :, :, None])
            return x
        sink_incoming = 1.0 / (torch.einsum("nhld,nhld->nhl", queries + self.eps, keys.cumsum(dim=2) + self.eps))
        source_outgoing = 1.0 / (torch.einsum("nhld,nhld->nhl", keys + self.eps, queries.cumsum(dim=2) + self.eps))
        normal = (((torch.arange(queries.shape[2])).float() + 1.0)).to(queries.device)[None, None, :]
        sink_incoming = sink_incoming * normal
        source_outgoing = source_outgoing * normal
        conserved_sink = torch.einsum("nhld,nhld->nhl", queries + self.eps, (keys * source_outgoing[:, :, :, None]).cumsum(dim=2) + self.eps) / normal
        conserved_source = torch.einsum("nhld,nhld->nhl", keys + self.eps, (queries * sink_incoming[:, :, :, None]).cumsum(dim=2) + self.eps) / normal
        conserved_source = torch.clamp(conserved_source, min=-1.0, max=1.0)
        sink_allocation = torch.sigmoid(conserved_sink)
        conserved_source = torch.exp(conserved_source)
        source_competition = (conserved_source / conserved_source.cumsum(dim=-1)) * normal
        x = (self.causal_dot_product(queries * (sink_incoming[:, :, :, None] / normal[:, :, :, None]), keys, values * source_competition[:, :, :, None]) * sink_allocation[:, :, :, None])
        return x

class FlowformerBlock(nn.Module):
    """Projections around Flow-Attention, as in Flowformer's AttentionLayer:
    x [B, L, d_model] -> y [B, L, d_model]."""
    def __init__(self, d_model=64, heads=4, causal=False):
        super().__init__(); self.h = heads
        self.q = nn.Linear(d_model, d_model); self.k = nn.Linear(d_model, d_model); self.v = nn.Linear(d_model, d_model)
        self.o = nn.Linear(d_model, d_model); self.attn = FlowAttention(causal=causal)
    def forward(self, x):
        B, L, _ = x.shape
        q = self.q(x).view(B, L, self.h, -1).transpose(1, 2)
        k = self.k(x).view(B, L, self.h, -1).transpose(1, 2)
        v = self.v(x).view(B, L, self.h, -1).transpose(1, 2)
        y = self.attn(q, k, v).transpose(1, 2).reshape(B, L, -1)
        return self.o(y)



class FastLinearAttention(nn.Module):
    """fast-transformers' LinearAttention (Katharopoulos et al.), [N, L, H, D] layout."""
    def __init__(s, eps=1e-6): super().__init__(); s.eps = eps
    def forward(s, queries, keys, values):
        Q = torch.nn.functional.elu(queries) + 1
        K = torch.nn.functional.elu(keys) + 1
        KV = torch.einsum("nshd,nshm->nhmd", K, values)
        Z = 1 / (torch.einsum("nlhd,nhd->nlh", Q, K.sum(dim=1)) + s.eps)
        V = torch.einsum("nlhd,nhmd,nlh->nlhm", Q, KV, Z)
        return V.contiguous()

def export_fast_linear_attention(out):
    torch.manual_seed(0)
    m = FastLinearAttention().eval()
    q = torch.randn(2, 16, 4, 8)
    torch.onnx.export(m, (q, q, q), os.path.join(out, "linear_attention_fast_transformers.onnx"),
                      input_names=["q", "k", "v"], output_names=["y"], opset_version=17,
                      dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["q", "k", "v", "y"]})


def export_flowformer(out):
    for causal in (False, True):
        kind = "causal" if causal else "noncausal"
        torch.manual_seed(0)
        m = FlowformerBlock(causal=causal).eval()
        x = torch.randn(2, 24, 64)
        torch.onnx.export(m, (x,), os.path.join(out, f"flowformer_{kind}_static.onnx"),
                          input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
        torch.onnx.export(m, (x,), os.path.join(out, f"flowformer_{kind}_dyn.onnx"),
                          input_names=["x"], output_names=["y"], opset_version=17, dynamo=False,
                          dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}})
        from torch.export import Dim
        torch.onnx.export(m, (x,), os.path.join(out, f"flowformer_{kind}_dynamo.onnx"),
                          input_names=["x"], output_names=["y"], dynamo=True,
                          dynamic_shapes={"x": {0: Dim("batch"), 1: Dim("seq", min=2, max=8192)}})


class Expert(nn.Module):
    def __init__(s, h, f):
        super().__init__(); s.gate_proj = nn.Linear(h, f, bias=False); s.up_proj = nn.Linear(h, f, bias=False); s.down_proj = nn.Linear(f, h, bias=False)
    def forward(s, x): return s.down_proj(torch.nn.functional.silu(s.gate_proj(x)) * s.up_proj(x))
class DeepSeekMoE(nn.Module):
    """DeepSeek-V3-style: sigmoid scores, a correction bias for selection only, top-k,
    renormalize, routed scaling factor, one shared expert; experts looped with index_add_."""
    def __init__(s, h=64, f=64, E=8, k=2, scaling=2.5):
        super().__init__(); s.E, s.k, s.scaling = E, k, scaling
        s.gate = nn.Linear(h, E, bias=False)
        s.e_score_correction_bias = nn.Parameter(torch.randn(E) * 0.1)
        s.experts = nn.ModuleList([Expert(h, f) for _ in range(E)]); s.shared = Expert(h, 2 * f)
    def forward(s, x):
        B, L, H = x.shape
        h = x.view(-1, H)
        scores = torch.sigmoid(s.gate(h))
        _, idx = torch.topk(scores + s.e_score_correction_bias, s.k, dim=-1, sorted=False)
        w = scores.gather(1, idx)
        w = w / (w.sum(dim=-1, keepdim=True) + 1e-20) * s.scaling
        out = torch.zeros_like(h)
        mask = torch.nn.functional.one_hot(idx, num_classes=s.E).permute(2, 0, 1)
        for e in range(s.E):
            tok, slot = torch.where(mask[e])
            out.index_add_(0, tok, s.experts[e](h[tok]) * w[tok, slot, None])
        return (out + s.shared(h)).view(B, L, H)

def export_deepseek_moe(out):
    torch.manual_seed(0)
    m = DeepSeekMoE().eval()
    x = torch.randn(2, 8, 64)
    torch.onnx.export(m, (x,), os.path.join(out, "deepseek_moe.onnx"), input_names=["x"],
                      output_names=["y"], opset_version=17, dynamo=False,
                      dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}})


def export_deepseek_moe_dynamo(out):
    """The same block through the dynamo exporter: h[tok] as GatherND."""
    from torch.export import Dim
    torch.manual_seed(0)
    m = DeepSeekMoE().eval()
    x = torch.randn(2, 8, 64)
    torch.onnx.export(m, (x,), os.path.join(out, "deepseek_moe_dynamo.onnx"), input_names=["x"],
                      output_names=["y"], dynamo=True, external_data=False,
                      dynamic_shapes={"x": {0: Dim("batch"), 1: Dim("seq", min=2, max=4096)}})


class ThresholdFFNs(nn.Module):
    """Four sparse layers written the ways torch code writes thresholds:
    FATReLU as torch.where(h > t, h, 0), as h.masked_fill(h <= t, 0), as
    h * (h > t) (and, with |threshold_fn|, F.threshold, which only the
    dynamo exporter takes), then TEAL's input sparsity x * (x.abs() > t)."""
    def __init__(s, d=64, f=128, t=0.25, threshold_fn=False):
        super().__init__(); s.t = t; s.threshold_fn = threshold_fn
        s.up = nn.ModuleList(nn.Linear(d, f) for _ in range(3))
        s.down = nn.ModuleList(nn.Linear(f, d) for _ in range(3))
        s.teal = nn.Linear(d, d)
    def forward(s, x):
        h = s.up[0](x)
        x = x + s.down[0](torch.where(h > s.t, h, 0.0))
        h = s.up[1](x)
        x = x + s.down[1](h.masked_fill(h <= s.t, 0.0))
        h = s.up[2](x)
        a = torch.nn.functional.threshold(h, s.t, 0.0) if s.threshold_fn else h * (h > s.t)
        x = x + s.down[2](a)
        return s.teal(x * (x.abs() > 0.5))

def export_threshold_ffns(out):
    from torch.export import Dim
    torch.manual_seed(0)
    x = torch.randn(1, 64)
    torch.onnx.export(ThresholdFFNs().eval(), (x,), os.path.join(out, "threshold_ffns.onnx"),
                      input_names=["x"], output_names=["y"], opset_version=17, dynamo=False,
                      dynamic_axes={"x": {0: "tokens"}, "y": {0: "tokens"}})
    torch.manual_seed(0)
    torch.onnx.export(ThresholdFFNs(threshold_fn=True).eval(), (x,),
                      os.path.join(out, "threshold_ffns_dynamo.onnx"), input_names=["x"],
                      output_names=["y"], dynamo=True, external_data=False,
                      dynamic_shapes={"x": {0: Dim("tokens", min=1, max=4096)}})


class CATSMLP(nn.Module):
    """CATS (Lee et al. 2024) on a Llama-style SwiGLU MLP over [B, S, d]: the
    SiLU gate cut by magnitude, written as a mask product (CATS's code) and
    as torch.where with a zeros_like fill, in two layers."""
    def __init__(s, d=64, f=192, t=0.2):
        super().__init__(); s.t = t
        s.gate = nn.ModuleList(nn.Linear(d, f, bias=False) for _ in range(2))
        s.up = nn.ModuleList(nn.Linear(d, f, bias=False) for _ in range(2))
        s.down = nn.ModuleList(nn.Linear(f, d, bias=False) for _ in range(2))
    def forward(s, x):
        g = torch.nn.functional.silu(s.gate[0](x))
        x = x + s.down[0](g * (g.abs() > s.t) * s.up[0](x))
        g = torch.nn.functional.silu(s.gate[1](x))
        g = torch.where(g.abs() > s.t, g, torch.zeros_like(g))
        return x + s.down[1](g * s.up[1](x))

class DReLUMLP(nn.Module):
    """TurboSparse's dReLU MLP: relu(gate(x)) * relu(up(x)), then down."""
    def __init__(s, d=64, f=192):
        super().__init__()
        s.gate = nn.Linear(d, f, bias=False); s.up = nn.Linear(d, f, bias=False)
        s.down = nn.Linear(f, d, bias=False)
    def forward(s, x):
        return s.down(torch.relu(s.gate(x)) * torch.relu(s.up(x)))

def export_bsh(m, x, out, name):
    """|m| on x [batch, seq, d] as |name|.onnx (TorchScript, dynamic batch and
    sequence) and |name|_dynamo.onnx (the dynamo exporter)."""
    from torch.export import Dim
    torch.onnx.export(m, (x,), os.path.join(out, f"{name}.onnx"), input_names=["x"],
                      output_names=["y"], opset_version=17, dynamo=False,
                      dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}})
    torch.onnx.export(m, (x,), os.path.join(out, f"{name}_dynamo.onnx"), input_names=["x"],
                      output_names=["y"], dynamo=True, external_data=False,
                      dynamic_shapes={"x": {0: Dim("batch", max=64),
                                            1: Dim("seq", min=2, max=4096)}})

def export_cats(out):
    x = torch.randn(2, 8, 64)
    for name, cls in (("cats_mlp", CATSMLP), ("drelu_mlp", DReLUMLP)):
        torch.manual_seed(0)
        export_bsh(cls().eval(), x, out, name)


class DejaVuFFN(nn.Module):
    """Deja Vu for one token: a low-rank predictor's top-k neurons, then the
    FFN on nn.Linear weights indexed by them (x @ W1[idx].t(), W2[:, idx])."""
    def __init__(s, d=64, f=256, r=16, k=32):
        super().__init__(); s.k = k
        s.A = nn.Linear(d, r, bias=False); s.B = nn.Linear(r, f, bias=False)
        s.fc1 = nn.Linear(d, f); s.fc2 = nn.Linear(f, d)
    def forward(s, x):
        idx = torch.topk(s.B(s.A(x)), s.k, dim=-1).indices[0]
        h = torch.relu(x @ s.fc1.weight[idx].t() + s.fc1.bias[idx])
        return h @ s.fc2.weight[:, idx].t() + s.fc2.bias

def export_dejavu(out):
    torch.manual_seed(0)
    x = torch.randn(1, 64)
    for dynamo in (False, True):
        torch.manual_seed(0)
        m = DejaVuFFN().eval()
        name = "dejavu_ffn_dynamo.onnx" if dynamo else "dejavu_ffn.onnx"
        kw = dict(dynamo=True, external_data=False) if dynamo else dict(opset_version=17,
                                                                       dynamo=False)
        torch.onnx.export(m, (x,), os.path.join(out, name), input_names=["x"],
                          output_names=["y"], **kw)


class PredictorFFN(nn.Module):
    """One-token FFNs on the neurons a ReLU predictor MLP picks: Deja Vu's
    top-k of the scores (F.linear on W[idx] and W[:, idx]), or
    PowerInfer's positive scores (a NonZero index set of run-time length)."""
    def __init__(s, d=64, f=256, r=16, k=32, pick="topk"):
        super().__init__(); s.k, s.pick = k, pick
        s.fc1 = nn.Linear(d, f); s.fc2 = nn.Linear(f, d)
        s.p1 = nn.Linear(d, r, bias=False); s.p2 = nn.Linear(r, f, bias=False)
    def forward(s, x):  # [1, d]
        score = s.p2(torch.relu(s.p1(x)))[0]
        idx = score.topk(s.k).indices if s.pick == "topk" else (score > 0).nonzero().squeeze(-1)
        h = torch.relu(torch.nn.functional.linear(x, s.fc1.weight[idx], s.fc1.bias[idx]))
        return torch.nn.functional.linear(h, s.fc2.weight[:, idx], s.fc2.bias)

def export_predictor_ffns(out):
    x = torch.randn(1, 64)
    for pick, name in (("topk", "dejavu_mlp_predictor"), ("positive", "powerinfer_ffn")):
        torch.manual_seed(0)
        m = PredictorFFN(pick=pick).eval()
        torch.onnx.export(m, (x,), os.path.join(out, f"{name}.onnx"), input_names=["x"],
                          output_names=["y"], opset_version=17, dynamo=False)
        torch.onnx.export(m, (x,), os.path.join(out, f"{name}_dynamo.onnx"), input_names=["x"],
                          output_names=["y"], dynamo=True, external_data=False)


class CausalLinearAttention(nn.Module):
    """Causal linear attention (elu + 1) in the L x L form, masked as torch
    code builds the mask at run time: i = arange(L); masked_fill(j > i, 0)."""
    def __init__(s, d=64, h=4):
        super().__init__(); s.h = h
        s.q = nn.Linear(d, d); s.k = nn.Linear(d, d); s.v = nn.Linear(d, d)
    def forward(s, x):
        B, L, _ = x.shape
        q = torch.nn.functional.elu(s.q(x).view(B, L, s.h, -1).transpose(1, 2)) + 1
        k = torch.nn.functional.elu(s.k(x).view(B, L, s.h, -1).transpose(1, 2)) + 1
        v = s.v(x).view(B, L, s.h, -1).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)
        i = torch.arange(L)
        scores = scores.masked_fill(i[None, :] > i[:, None], 0.0)
        out = (scores @ v) / (scores.sum(-1, keepdim=True) + 1e-6)
        return out.transpose(1, 2).reshape(B, L, -1)

def export_causal_linear_attention(out):
    from torch.export import Dim
    torch.manual_seed(0)
    m = CausalLinearAttention().eval()
    x = torch.randn(2, 24, 64)
    torch.onnx.export(m, (x,), os.path.join(out, "linear_attention_arange_mask.onnx"),
                      input_names=["x"], output_names=["y"], opset_version=17, dynamo=False,
                      dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}})
    torch.onnx.export(m, (x,), os.path.join(out, "linear_attention_arange_mask_dynamo.onnx"),
                      input_names=["x"], output_names=["y"], dynamo=True, external_data=False,
                      dynamic_shapes={"x": {0: Dim("batch"), 1: Dim("seq", min=2, max=4096)}})


class CumSumLinearAttention(nn.Module):
    """Causal linear attention (elu + 1) as the naive reference code writes
    the causal product: the [B, H, L, D, D] outer products k_l v_l^T
    cumulatively summed over the positions, then each query's row times
    its state, `(q[..., None, :] @ kv)[..., 0, :]` ("matmul") or
    `(q[..., None] * kv).sum(-2)` ("mul_sum"); the normalizer from the
    running key sum."""
    def __init__(s, d=64, h=4, contraction="matmul"):
        super().__init__(); s.h, s.contraction = h, contraction
        s.q = nn.Linear(d, d); s.k = nn.Linear(d, d); s.v = nn.Linear(d, d)
    def forward(s, x):
        B, L, _ = x.shape
        q = torch.nn.functional.elu(s.q(x).view(B, L, s.h, -1).transpose(1, 2)) + 1
        k = torch.nn.functional.elu(s.k(x).view(B, L, s.h, -1).transpose(1, 2)) + 1
        v = s.v(x).view(B, L, s.h, -1).transpose(1, 2)
        kv = torch.cumsum(k.unsqueeze(-1) * v.unsqueeze(-2), dim=2)      # [B, H, L, D, D]
        if s.contraction == "matmul":
            num = (q.unsqueeze(-2) @ kv).squeeze(-2)
        else:
            num = (q.unsqueeze(-1) * kv).sum(-2)
        den = (q * torch.cumsum(k, dim=2)).sum(-1, keepdim=True) + 1e-6
        return (num / den).transpose(1, 2).reshape(B, L, -1)

def export_cumsum_linear_attention(out):
    x = torch.randn(2, 24, 64)
    for c in ("matmul", "mul_sum"):
        torch.manual_seed(0)
        m = CumSumLinearAttention(contraction=c).eval()
        name = f"linear_attention_cumsum_{c}"
        export_bsh(m, x, out, name)


class EinsumMoE(nn.Module):
    """Stacked experts written with torch.einsum: every expert on every
    token, combined through the dense [T, E] routing matrix (form B,
    "dense"), or the top-k experts' weights gathered per token (form D,
    "gather"); softmax over all experts, top-2, renormalized. |batched|:
    on unflattened [B, S, d] tokens, the einsums with two token letters."""
    def __init__(s, d=64, f=64, E=4, k=2, form="dense", batched=False):
        super().__init__(); s.E, s.k, s.form = E, k, form
        s.t = "bs" if batched else "t"
        s.gate = nn.Linear(d, E, bias=False)
        s.w1 = nn.Parameter(torch.randn(E, d, f) / 8)
        s.w3 = nn.Parameter(torch.randn(E, d, f) / 8)
        s.w2 = nn.Parameter(torch.randn(E, f, d) / 8)
    def forward(s, x):  # x [T, d] or [B, S, d]
        t = s.t
        w, idx = torch.topk(torch.softmax(s.gate(x), dim=-1), s.k, dim=-1)
        w = w / w.sum(dim=-1, keepdim=True)
        act = torch.nn.functional.silu
        if s.form == "dense":
            dense = torch.zeros(*x.shape[:-1], s.E).scatter(-1, idx, w)
            h = (act(torch.einsum(f"{t}h,ehf->{t}ef", x, s.w1))
                 * torch.einsum(f"{t}h,ehf->{t}ef", x, s.w3))
            return (torch.einsum(f"{t}ef,efh->{t}eh", h, s.w2) * dense[..., None]).sum(-2)
        h = (act(torch.einsum(f"{t}h,{t}khf->{t}kf", x, s.w1[idx]))
             * torch.einsum(f"{t}h,{t}khf->{t}kf", x, s.w3[idx]))
        return (torch.einsum(f"{t}kf,{t}kfh->{t}kh", h, s.w2[idx]) * w[..., None]).sum(-2)

def export_einsum_moe(out):
    from torch.export import Dim
    x = torch.randn(8, 64)
    for form in ("dense", "gather"):
        torch.manual_seed(0)
        m = EinsumMoE(form=form).eval()
        torch.onnx.export(m, (x,), os.path.join(out, f"moe_einsum_{form}.onnx"),
                          input_names=["x"], output_names=["y"], opset_version=17, dynamo=False,
                          dynamic_axes={"x": {0: "tokens"}, "y": {0: "tokens"}})
        torch.onnx.export(m, (x,), os.path.join(out, f"moe_einsum_{form}_dynamo.onnx"),
                          input_names=["x"], output_names=["y"], dynamo=True, external_data=False,
                          dynamic_shapes={"x": {0: Dim("tokens", min=1, max=4096)}})

def export_einsum_moe_bsh(out):
    for form in ("dense", "gather"):
        torch.manual_seed(0)
        export_bsh(EinsumMoE(form=form, batched=True).eval(), torch.randn(2, 8, 64), out,
                   f"moe_einsum_{form}_bsh")


class MoHDFFN(nn.Module):
    """Mixture of Hidden Dimensions: the FFN's hidden groups, the first S
    always on, a router's top-k of the others scaled by (G - S) / k."""
    def __init__(s, d=64, f=256, G=8, S=2, k=2):
        super().__init__(); s.G, s.S, s.k = G, S, k
        s.up = nn.Linear(d, f); s.down = nn.Linear(f, d)
        s.router = nn.Linear(d, G - S, bias=False)
    def forward(s, x):  # [T, d]
        T = x.shape[0]
        h = torch.nn.functional.silu(s.up(x)).view(T, s.G, -1)
        p = torch.softmax(s.router(x), dim=-1)
        _, idx = torch.topk(p, s.k, dim=-1)
        routed = torch.zeros_like(p).scatter(-1, idx, 1.0) * ((s.G - s.S) / s.k)
        mask = torch.cat([torch.ones(T, s.S), routed], dim=-1)
        return s.down((h * mask.unsqueeze(-1)).view(T, -1))


class UnrolledDenseMoE(nn.Module):
    """Every expert on every token, unrolled, each weighted by its column
    of the dense routing matrix, after a shared expert (DeepSeek-style
    sigmoid gate with routed scaling)."""
    def __init__(s, d=64, f=64, E=4, k=2, scaling=2.5):
        super().__init__(); s.E, s.k, s.scaling = E, k, scaling
        s.gate = nn.Linear(d, E, bias=False)
        s.experts = nn.ModuleList([Expert(d, f) for _ in range(E)]); s.shared = Expert(d, f)
    def forward(s, x):  # [T, d]
        scores = torch.sigmoid(s.gate(x))
        w, idx = torch.topk(scores, s.k, dim=-1)
        w = w / w.sum(-1, keepdim=True) * s.scaling
        dense = torch.zeros_like(scores).scatter(-1, idx, w)
        out = s.shared(x)
        for e in range(s.E):
            out = out + s.experts[e](x) * dense[:, e:e + 1]
        return out

def export_mohd_and_unrolled(out):
    from torch.export import Dim
    x = torch.randn(8, 64)
    for name, cls in (("mohd_ffn", MoHDFFN), ("moe_dense_unrolled", UnrolledDenseMoE)):
        torch.manual_seed(0)
        m = cls().eval()
        torch.onnx.export(m, (x,), os.path.join(out, f"{name}.onnx"), input_names=["x"],
                          output_names=["y"], opset_version=17, dynamo=False,
                          dynamic_axes={"x": {0: "tokens"}, "y": {0: "tokens"}})
        torch.onnx.export(m, (x,), os.path.join(out, f"{name}_dynamo.onnx"), input_names=["x"],
                          output_names=["y"], dynamo=True, external_data=False,
                          dynamic_shapes={"x": {0: Dim("tokens", min=2, max=4096)}})


class TopKRouter(nn.Module):
    """Shazeer's top-k gating as tutorials write it (the noise left out):
    the top-k logits scattered into -inf, softmax over all experts."""
    def __init__(s, d, E, k):
        super().__init__(); s.k = k; s.route = nn.Linear(d, E)
    def forward(s, x):
        logits = s.route(x)
        top, idx = logits.topk(s.k, dim=-1)
        sparse = torch.full_like(logits, float("-inf")).scatter(-1, idx, top)
        return torch.softmax(sparse, dim=-1)


class StackedSparseMoE(nn.Module):
    """A hand-written sparse MoE on unflattened [B, S, d] tokens: every
    expert (Linear-ReLU-Linear) on every token, the outputs torch.stack-ed
    on the expert axis and weighted by the dense router output (form B with
    one module per expert)."""
    def __init__(s, d=64, f=96, E=4, k=2):
        super().__init__(); s.router = TopKRouter(d, E, k)
        s.experts = nn.ModuleList([nn.Sequential(nn.Linear(d, f), nn.ReLU(), nn.Linear(f, d))
                                   for _ in range(E)])
    def forward(s, x):  # [B, S, d]
        gates = s.router(x)                                     # [B, S, E]
        outs = torch.stack([e(x) for e in s.experts], dim=-2)   # [B, S, E, d]
        return (outs * gates.unsqueeze(-1)).sum(dim=-2)


class EqualMaskMoE(nn.Module):
    """Form C on unflattened [B, S, d] tokens: softmax top-2 renormalized,
    each expert weighted by (w * (idx == e)).sum(-1, keepdim=True), summed
    into zeros_like(x)."""
    def __init__(s, d=64, f=64, E=4, k=2):
        super().__init__(); s.k = k
        s.gate = nn.Linear(d, E, bias=False)
        s.experts = nn.ModuleList([Expert(d, f) for _ in range(E)])
    def forward(s, x):  # [B, S, d]
        w, idx = torch.softmax(s.gate(x), dim=-1).topk(s.k, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for e, expert in enumerate(s.experts):
            out = out + expert(x) * (w * (idx == e)).sum(-1, keepdim=True)
        return out

class WhereLoopMoE(nn.Module):
    """A hand-written top-k loop on [B, S, d] flattened to tokens: top-2 of
    the logits, softmax over the two, then per expert `tok, slot =
    torch.where(idx == e)` and `out.index_add_(0, tok, expert(h[tok]) *
    w[tok, slot, None])` (form A without a OneHot mask)."""
    def __init__(s, d=64, f=96, E=4, k=2):
        super().__init__(); s.E, s.k = E, k; s.gate = nn.Linear(d, E, bias=False)
        s.experts = nn.ModuleList([nn.Sequential(nn.Linear(d, f), nn.GELU(), nn.Linear(f, d))
                                   for _ in range(E)])
    def forward(s, x):  # [B, S, d]
        B, S, d = x.shape
        h = x.reshape(-1, d)
        w, idx = torch.topk(s.gate(h), s.k, dim=-1)
        w = torch.softmax(w, dim=-1)
        out = torch.zeros_like(h)
        for e in range(s.E):
            tok, slot = torch.where(idx == e)
            out.index_add_(0, tok, s.experts[e](h[tok]) * w[tok, slot, None])
        return out.reshape(B, S, d)

def export_unflattened_moe(out):
    x = torch.randn(2, 8, 64)
    for name, cls in (("moe_stacked_bsh", StackedSparseMoE), ("moe_equal_mask_bsh", EqualMaskMoE),
                      ("moe_where_loop", WhereLoopMoE)):
        torch.manual_seed(0)
        m = cls().eval()
        export_bsh(m, x, out, name)


class ReLUExpert(nn.Module):
    def __init__(s, d, f):
        super().__init__(); s.fc1 = nn.Linear(d, f); s.fc2 = nn.Linear(f, d)
    def forward(s, x): return s.fc2(torch.relu(s.fc1(x)))

class Top1MoE(nn.Module):
    """Switch-Transformer-style top-1 routing on [B, S, d], the choice by
    torch.max (ReduceMax + ArgMax): each expert's output times
    `(w * (idx == e))[..., None]` ("term"), the masked outputs summed and
    scaled by the weight once (`out * w`, keepdim, "after"), or the weight
    scattered into a dense [B, S, E] matrix over the torch.stack-ed outputs
    ("stack")."""
    def __init__(s, d=64, f=96, E=4, style="term"):
        super().__init__(); s.style = style
        s.gate = nn.Linear(d, E, bias=False)
        s.experts = nn.ModuleList([ReLUExpert(d, f) for _ in range(E)])
    def forward(s, x):
        probs = torch.softmax(s.gate(x), dim=-1)
        if s.style == "stack":
            w, idx = probs.max(dim=-1, keepdim=True)
            dense = torch.zeros_like(probs).scatter(-1, idx, w)
            ys = torch.stack([ex(x) for ex in s.experts], dim=-2)
            return (ys * dense[..., None]).sum(-2)
        out = torch.zeros_like(x)
        if s.style == "term":
            w, idx = probs.max(dim=-1)
            for e, ex in enumerate(s.experts):
                out = out + ex(x) * (w * (idx == e))[..., None]
            return out
        w, idx = probs.max(dim=-1, keepdim=True)
        for e, ex in enumerate(s.experts):
            out = out + ex(x) * (idx == e)
        return out * w

def export_top1_moe(out):
    for style in ("term", "after", "stack"):
        torch.manual_seed(0)
        export_bsh(Top1MoE(style=style).eval(), torch.randn(2, 8, 64), out, f"moe_top1_{style}")


class PhiFirstLinearAttention(nn.Module):
    """Linear attention (Katharopoulos et al.) whose feature map is applied
    on [B, L, H, D] before the heads move forward, `phi(q).transpose(1, 2)`:
    TorchScript merges the keys' two transposes into one [0, 2, 3, 1].
    Non-causal with the normalizer, or causal in the L x L form (masked
    scores, row sums)."""
    def __init__(s, d=64, h=4, causal=False, phi="elu1"):
        super().__init__(); s.h, s.causal, s.phi = h, causal, phi
        s.qkv = nn.Linear(d, 3 * d); s.o = nn.Linear(d, d)
    def forward(s, x):
        B, L, d = x.shape
        q, k, v = s.qkv(x).reshape(B, L, 3, s.h, d // s.h).unbind(2)    # [B, L, H, D]
        f = (lambda t: torch.nn.functional.elu(t) + 1) if s.phi == "elu1" else torch.sigmoid
        q, k, v = f(q).transpose(1, 2), f(k).transpose(1, 2), v.transpose(1, 2)
        if s.causal:
            a = (q @ k.transpose(-2, -1)).tril()
            out = (a @ v) / (a.sum(-1, keepdim=True) + 1e-6)
        else:
            z = 1 / (q @ k.sum(-2, keepdim=True).transpose(-2, -1) + 1e-6)
            out = (q @ (k.transpose(-2, -1) @ v)) * z
        return s.o(out.transpose(1, 2).reshape(B, L, d))

def export_phi_first_linear_attention(out):
    for name, kw in (("linear_attention_phi_first", {}),
                     ("linear_attention_phi_first_causal", {"causal": True, "phi": "sigmoid"})):
        torch.manual_seed(0)
        export_bsh(PhiFirstLinearAttention(**kw).eval(), torch.randn(2, 16, 64), out, name)


class Logits(nn.Module):
    """input_ids [B, L] -> logits [B, L, vocab] of a causal LM, no cache."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids=input_ids, use_cache=False).logits


def export_transformers(out):
    """Tiny Hugging Face decoders (2 layers, hidden 64, vocab 128), random
    weights: Mixtral (8 -> 4 experts, top-2), Qwen2-MoE (shared expert with
    a sigmoid gate), OPT (ReLU FFN), Llama with a ReLU FFN (ProSparse-style,
    the config's hidden_act). Dynamic batch and sequence."""
    from transformers import (LlamaConfig, LlamaForCausalLM, MixtralConfig,
                              MixtralForCausalLM, OPTConfig, OPTForCausalLM, Qwen2MoeConfig,
                              Qwen2MoeForCausalLM)
    common = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    builds = {
        "mixtral": lambda: MixtralForCausalLM(MixtralConfig(**common, num_local_experts=4,
                                                            num_experts_per_tok=2)),
        "qwen2_moe": lambda: Qwen2MoeForCausalLM(Qwen2MoeConfig(
            **common, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=64,
            shared_expert_intermediate_size=128, decoder_sparse_step=1)),
        "opt": lambda: OPTForCausalLM(OPTConfig(
            vocab_size=128, hidden_size=64, ffn_dim=256, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=256, word_embed_proj_dim=64,
            activation_function="relu")),
        "llama_relu": lambda: LlamaForCausalLM(LlamaConfig(**common, hidden_act="relu")),
    }
    from torch.export import Dim
    for name, build in builds.items():
        torch.manual_seed(0)
        model = build().eval()
        ids = torch.randint(0, 128, (2, 8))
        torch.onnx.export(Logits(model), (ids,), os.path.join(out, name + ".onnx"),
                          input_names=["input_ids"], output_names=["logits"], opset_version=17,
                          dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}})
        if name in ("opt", "llama_relu", "mixtral"):  # the dynamo exporter too
            torch.manual_seed(0)  # a fresh instance: tracing leaves state behind
            model = build().eval()
            torch.onnx.export(Logits(model), (ids,), os.path.join(out, name + "_dynamo.onnx"),
                              input_names=["input_ids"], output_names=["logits"], dynamo=True,
                              dynamic_shapes={"input_ids": {0: Dim("batch"),
                                                            1: Dim("seq", min=2, max=200)}})


def export_transformers_v5(out):
    """transformers 5's MoE decoders (2 layers, hidden 64, vocab 128),
    random weights, through the dynamo exporter (TorchScript cannot export
    5.x's masks: aten::diff) with `experts_implementation="batched_mm"`,
    the one of 5.x's expert implementations either exporter handles
    ("eager" loops over the experts a NonZero found, "grouped_mm" is a
    custom op): Mixtral, Qwen2-MoE (sigmoid-gated shared expert),
    Qwen3-MoE, OLMoE, DeepSeek-V3 (first layer dense; group-limited
    selection with -inf outside the chosen groups), GPT-OSS (interleaved
    gate / up with biases, the clamped SwiGLU; attention with sinks), ERNIE
    4.5 (softmax scores plus a selection bias, clamp-renormalized); and
    Phi-3 with ReLU activations (dense: its MLP's fused gate_up_proj is cut
    by chunk, a Split, into a ReLU-gated GLU); PhiMoE (the sparsemixer
    gate). Needs transformers 5 (a venv
    of its own, or --target next to the 4.46 one)."""
    import transformers as T
    if int(T.__version__.split(".")[0]) < 5:
        raise SystemExit("transformers_v5 needs transformers >= 5 (pip install "
                         "'transformers==5.25.0' into another venv)")
    from torch.export import Dim
    common = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    builds = {
        "mixtral": lambda: T.MixtralForCausalLM(T.MixtralConfig(
            **common, num_local_experts=4, num_experts_per_tok=2)),
        "qwen2_moe": lambda: T.Qwen2MoeForCausalLM(T.Qwen2MoeConfig(
            **common, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=64,
            shared_expert_intermediate_size=128, decoder_sparse_step=1)),
        "qwen3_moe": lambda: T.Qwen3MoeForCausalLM(T.Qwen3MoeConfig(
            **common, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=64,
            decoder_sparse_step=1, norm_topk_prob=True, head_dim=16)),
        "olmoe": lambda: T.OlmoeForCausalLM(T.OlmoeConfig(
            **common, num_experts=8, num_experts_per_tok=2)),
        "deepseek_v3": lambda: T.DeepseekV3ForCausalLM(T.DeepseekV3Config(
            vocab_size=128, hidden_size=64, intermediate_size=128, moe_intermediate_size=32,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
            n_routed_experts=8, num_experts_per_tok=2, n_group=2, topk_group=1,
            first_k_dense_replace=1, n_shared_experts=1, q_lora_rank=32, kv_lora_rank=16,
            qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=16,
            max_position_embeddings=256)),
        "gpt_oss": lambda: T.GptOssForCausalLM(T.GptOssConfig(
            vocab_size=128, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, num_local_experts=4,
            num_experts_per_tok=2, max_position_embeddings=256,
            layer_types=["full_attention", "full_attention"])),
        # softmax scores plus a selection bias, renormalized by
        # clamp(sum, min=1e-12); a shared expert
        "ernie4_5_moe": lambda: T.Ernie4_5_MoeForCausalLM(T.Ernie4_5_MoeConfig(
            **common, moe_intermediate_size=32, moe_num_experts=8, moe_k=2,
            moe_layer_start_index=0, moe_num_shared_experts=1, head_dim=16)),
        # dense, for the fused gate_up_proj (chunk -> Split) of a ReLU GLU
        "phi3_relu": lambda: T.Phi3ForCausalLM(T.Phi3Config(
            **common, hidden_act="relu", pad_token_id=0)),
        # a gate no canonical form describes, fused as a given routing:
        # PhiMoE's sparsemixer (top-2 by arg max, each weighed by a softmax
        # over the logits within a jitter of the maximum)
        "phimoe": lambda: T.PhimoeForCausalLM(T.PhimoeConfig(
            **common, num_local_experts=4, num_experts_per_tok=2)),
    }
    for name, build in builds.items():
        torch.manual_seed(0)
        model = build()
        if name != "phi3_relu":  # dense
            model.set_experts_implementation("batched_mm")
        for pname, param in model.named_parameters():  # a bias that changes choices
            if "e_score_correction_bias" in pname and name == "ernie4_5_moe":
                with torch.no_grad():
                    param.copy_(0.2 * torch.randn_like(param))
        model.eval()
        ids = torch.randint(0, 128, (2, 8))
        torch.onnx.export(Logits(model), (ids,), os.path.join(out, name + "_v5_dynamo.onnx"),
                          input_names=["input_ids"], output_names=["logits"], dynamo=True,
                          external_data=False,
                          dynamic_shapes={"input_ids": {0: Dim("batch"),
                                                        1: Dim("seq", min=2, max=200)}})
    with open(os.path.join(out, "VERSIONS_v5.txt"), "w") as f:
        import onnx
        import onnxscript
        f.write(f"torch {torch.__version__}\nonnx {onnx.__version__}\n"
                f"onnxscript {onnxscript.__version__}\ntransformers {T.__version__}\n")


EXPORTS = {
    "flowformer": export_flowformer,
    "fast_linear_attention": export_fast_linear_attention,
    "transformers": export_transformers,
    "transformers_v5": export_transformers_v5,
    "deepseek_moe": export_deepseek_moe,
    "deepseek_moe_dynamo": export_deepseek_moe_dynamo,
    "threshold_ffns": export_threshold_ffns,
    "dejavu": export_dejavu,
    "causal_linear_attention": export_causal_linear_attention,
    "einsum_moe": export_einsum_moe,
    "einsum_moe_bsh": export_einsum_moe_bsh,
    "mohd_and_unrolled": export_mohd_and_unrolled,
    "unflattened_moe": export_unflattened_moe,
    "top1_moe": export_top1_moe,
    "phi_first_linear_attention": export_phi_first_linear_attention,
    "cats": export_cats,
    "cumsum_linear_attention": export_cumsum_linear_attention,
    "predictor_ffns": export_predictor_ffns,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "models"))
    p.add_argument("--only", nargs="*", choices=sorted(EXPORTS),
                   help="export only these (the others' files stay as they are)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.only or [n for n in EXPORTS if n != "transformers_v5"]:
        EXPORTS[name](args.out)
    if args.only:
        return
    import onnx
    import transformers
    import onnxscript
    with open(os.path.join(args.out, "VERSIONS.txt"), "w") as f:
        f.write(f"torch {torch.__version__}\nonnx {onnx.__version__}\n"
                f"onnxscript {onnxscript.__version__}\ntransformers {transformers.__version__}\n")


if __name__ == "__main__":
    main()
