"""Flow attention family end to end: Flowformer's Flow-Attention (non-causal
and causal) and linear attention, in the spellings exporters write
(Einsum / MatMul, CumSum / L x L lower-triangular masks, keepdims or
Unsqueeze, Div or Reciprocal, static or dynamic axes), fuse into
sparsa.flow_attention / sparsa.linear_attention (counted under
fusions.flow_attention) and match ONNX Runtime on the original graphs;
near misses keep their ops, say why in the report and still match."""

import numpy as np
import pytest

from conftest import assert_matches_ort, compile_with_report, ort_run
from sparsa import models

# The flow normalizers divide by sums over up to a thousand positions and
# the reference sums in another order: compare at the output's magnitude.
ATOL = 2e-5
RTOL = 2e-4


def qkv(rng, batch, heads, seq, d, kv_seq=None, dv=None):
    kv_seq = seq if kv_seq is None else kv_seq
    dv = d if dv is None else dv
    return {"q": rng.standard_normal((batch, heads, seq, d)).astype(np.float32),
            "k": rng.standard_normal((batch, heads, kv_seq, d)).astype(np.float32),
            "v": rng.standard_normal((batch, heads, kv_seq, dv)).astype(np.float32)}


def check(tmp_path, path, feeds, fused=1, **compile_kwargs):
    model, report = compile_with_report(tmp_path, path, **compile_kwargs)
    assert report["fusions"]["flow_attention"] == fused, report
    out = model.run(feeds)
    ref = ort_run(path, feeds)
    scale = max(float(np.abs(ref["y"]).max()), 1e-3)
    np.testing.assert_allclose(out["y"], ref["y"], atol=ATOL * scale, rtol=RTOL)
    return report


FLOW = [
    # (causal, form, seq, head_dim, extra)
    (False, "einsum", 1, 32, {}),
    (False, "einsum", 7, 64, {}),
    (False, "einsum", 128, 32, {}),
    (False, "einsum", 1024, 64, {}),
    (False, "matmul", 7, 32, {}),
    (False, "matmul", 128, 64, {}),
    (False, "matmul", 70, 32, dict(kv_seq=45, value_dim=48)),   # L != S, Dv != D
    (True, "einsum", 1, 32, {}),             # CumSum of the [L, D, Dv] outer products
    (True, "einsum", 7, 64, {}),
    (True, "einsum", 130, 32, {}),           # chunks of 64 and a partial one
    (True, "einsum", 1024, 64, {}),
    (True, "matmul", 7, 32, {}),             # the L x L lower-triangular mask
    (True, "matmul", 100, 64, dict(mask="where")),
    (True, "matmul", 128, 32, dict(prefix="matmul")),   # prefix sums as tril @ x
    (True, "matmul", 70, 32, dict(prefix="range", mask="range_ge")),  # tril from Ranges
    (True, "matmul", 65, 32, dict(mask="masked_fill")),  # Where(j > i, 0, scores)
    (True, "matmul", 33, 64, dict(mask="trilu")),        # torch.tril(scores)
    (True, "matmul", 40, 32, dict(mask="trilu_ones")),   # * Trilu(ConstantOfShape(1))
    (True, "matmul", 1024, 32, {}),
]


@pytest.mark.parametrize("causal,form,seq,d,extra", FLOW)
def test_flowformer_fuses_and_matches(tmp_path, causal, form, seq, d, extra):
    path = models.flowformer(str(tmp_path / "flow.onnx"), seq=seq, heads=2, head_dim=d,
                             batch=1, causal=causal, form=form, **extra)
    feeds = qkv(np.random.default_rng(seq), 1, 2, seq, d, extra.get("kv_seq"),
                extra.get("value_dim"))
    check(tmp_path, path, feeds)


@pytest.mark.parametrize("causal", [False, True])
def test_flowformer_generator_is_the_formula(tmp_path, causal):
    """The test graphs compute shared/PATTERNS.md's formula (ONNX Runtime on
    the graph against a float64 numpy transcription)."""
    path = models.flowformer(str(tmp_path / "flow.onnx"), seq=33, heads=2, head_dim=16,
                             causal=causal, form="einsum")
    feeds = qkv(np.random.default_rng(1), 1, 2, 33, 16)
    ref = models.flow_reference(feeds["q"], feeds["k"], feeds["v"], causal)
    np.testing.assert_allclose(ort_run(path, feeds)["y"], ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("causal,form,mask", [(False, "einsum", None), (True, "einsum", None),
                                               (True, "matmul", "trilu"),
                                               (True, "matmul", "range_ge"),
                                               (True, "matmul", "range_fill")])
def test_flowformer_dynamic_axes(tmp_path, causal, form, mask):
    """Symbolic batch and sequence: L / S, S and the normalizers come from
    Shape / Gather / Range, the L x L mask from Trilu or from comparing
    Ranges of positions; one library runs every length."""
    extra = {"mask": mask} if mask else {}
    path = models.flowformer(str(tmp_path / "flow.onnx"), seq="L", heads=2, head_dim=32,
                             batch="B", causal=causal, form=form, **extra)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1, report
    for b, seq in [(1, 1), (2, 7), (1, 65), (2, 130)]:
        feeds = qkv(np.random.default_rng(seq), b, 2, seq, 32)
        ref = ort_run(path, feeds)["y"]
        np.testing.assert_allclose(model.run(feeds)["y"], ref,
                                   atol=ATOL * float(np.abs(ref).max()), rtol=RTOL)


@pytest.mark.parametrize("causal", [False, True])
def test_flowformer_dynamic_head_dim(tmp_path, causal):
    """A head dim known only at run time: the causal prefix sums take the
    general path (row scans over [L, D] tensors instead of the sweep with
    D-wide registers)."""
    path = models.flowformer(str(tmp_path / "flow.onnx"), seq=70, heads=2, head_dim="D",
                             causal=causal, form="einsum")
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1, report
    for d in (16, 40):
        feeds = qkv(np.random.default_rng(d), 1, 2, 70, d)
        ref = ort_run(path, feeds)["y"]
        np.testing.assert_allclose(model.run(feeds)["y"], ref,
                                   atol=ATOL * float(np.abs(ref).max()), rtol=RTOL)


LINEAR = [
    # (causal, form, feature, seq, head_dim)
    (False, "matmul", "elu1", 1, 32),
    (False, "matmul", "elu1", 128, 64),
    (False, "einsum", "elu1", 7, 32),
    (False, "einsum", "relu", 1024, 64),
    (False, "masked", "elu1", 64, 32),       # (phi(q) phi(k)^T) v / row sums, no mask
    (True, "masked", "elu1", 1, 32),
    (True, "masked", "elu1", 7, 64),
    (True, "masked", "sigmoid", 130, 32),
    (True, "masked", "elu1", 1024, 64),
]


@pytest.mark.parametrize("causal,form,feature,seq,d", LINEAR)
def test_linear_attention_fuses_and_matches(tmp_path, causal, form, feature, seq, d):
    path = models.linear_attention(str(tmp_path / "lin.onnx"), seq=seq, heads=2, head_dim=d,
                                   causal=causal, form=form, feature=feature,
                                   mask="tril" if causal else "none")
    check(tmp_path, path, qkv(np.random.default_rng(seq + 1), 1, 2, seq, d))


@pytest.mark.parametrize("mask", ["trilu", "trilu_ones", "masked_fill", "where", "range_ge",
                                  "range_le_mul", "range_fill", "range_not", "range_two"])
def test_linear_attention_mask_spellings(tmp_path, mask):
    path = models.linear_attention(str(tmp_path / "lin.onnx"), seq=70, heads=2, head_dim=16,
                                   causal=True, form="masked", mask=mask)
    check(tmp_path, path, qkv(np.random.default_rng(7), 1, 2, 70, 16))


def test_linear_attention_dynamic_trilu(tmp_path):
    """torch.tril of the scores with a symbolic length: Trilu needs no
    constant mask, so the causal L x L form fuses for every length."""
    path = models.linear_attention(str(tmp_path / "lin.onnx"), seq="L", heads=2, head_dim=16,
                                   batch="B", causal=True, form="masked", mask="trilu")
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1, report
    for b, seq in [(1, 1), (2, 9), (1, 131)]:
        feeds = qkv(np.random.default_rng(seq), b, 2, seq, 16)
        ref = ort_run(path, feeds)["y"]
        np.testing.assert_allclose(model.run(feeds)["y"], ref,
                                   atol=ATOL * float(np.abs(ref).max()), rtol=RTOL)


@pytest.mark.parametrize("contraction", ["matmul", "mul_sum", "vk"])
@pytest.mark.parametrize("seq,d,dv", [(1, 16, 16), (9, 16, 24), (130, 32, 16)])
def test_linear_attention_cumsum_outer_products(tmp_path, contraction, seq, d, dv):
    """The naive causal reference: CumSum over the positions of the outer
    products phi(k)[..., None] * v[..., None, :] ([L, d, dv] per head),
    each query row times its state by MatMul or Mul + ReduceSum; d != dv
    tells keys from values."""
    path = models.linear_attention(str(tmp_path / "lin.onnx"), seq=seq, heads=2, head_dim=d,
                                   value_dim=dv, causal=True, form="cumsum",
                                   contraction=contraction)
    check(tmp_path, path, qkv(np.random.default_rng(seq), 1, 2, seq, d, dv=dv))


def test_linear_attention_cumsum_dynamic(tmp_path):
    path = models.linear_attention(str(tmp_path / "lin.onnx"), seq="L", heads=2, head_dim=16,
                                   batch="B", causal=True, form="cumsum", contraction="mul_sum")
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1, report
    for b, seq in [(1, 1), (2, 9), (1, 70)]:
        feeds = qkv(np.random.default_rng(seq), b, 2, seq, 16)
        ref = ort_run(path, feeds)["y"]
        np.testing.assert_allclose(model.run(feeds)["y"], ref,
                                   atol=ATOL * float(np.abs(ref).max()), rtol=RTOL)


@pytest.mark.parametrize("causal,form,feature,mask", [
    (False, "matmul", "elu1", "none"),
    (False, "matmul", "sigmoid", "none"),
    (True, "masked", "elu1", "trilu"),
    (True, "masked", "relu", "tril"),
])
def test_linear_attention_feature_map_before_the_heads_move(tmp_path, causal, form, feature,
                                                            mask):
    """phi applied on [B, L, H, D], then Transpose [0, 2, 1, 3]; the keys'
    `.transpose(1, 2).transpose(-2, -1)` merged into one [0, 2, 3, 1] (as
    TorchScript writes it). The pass moves the transposes before the
    feature maps and the product fuses."""
    path = models.linear_attention(str(tmp_path / "lin.onnx"), seq=33, heads=2, head_dim=16,
                                   value_dim=24, causal=causal, form=form, feature=feature,
                                   mask=mask, phi_first=True)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1, report
    rng = np.random.default_rng(5)
    feeds = {"q": rng.standard_normal((1, 33, 2, 16)).astype(np.float32),
             "k": rng.standard_normal((1, 33, 2, 16)).astype(np.float32),
             "v": rng.standard_normal((1, 33, 2, 24)).astype(np.float32)}
    ref = ort_run(path, feeds)["y"]
    np.testing.assert_allclose(model.run(feeds)["y"], ref,
                               atol=ATOL * float(np.abs(ref).max()), rtol=RTOL)


def test_linear_attention_other_value_dim(tmp_path):
    path = models.linear_attention(str(tmp_path / "lin.onnx"), seq=50, heads=3, head_dim=16,
                                   value_dim=40, batch=2)
    check(tmp_path, path, qkv(np.random.default_rng(3), 2, 3, 50, 16, dv=40))


NEAR_MISSES = [
    # (builder, kwargs, words the report's reason must contain)
    (models.flowformer, dict(causal=False, form="einsum", clip=2.0), "clipped"),
    (models.flowformer, dict(causal=False, form="matmul", softmax_axis=-1), "positions"),
    (models.flowformer, dict(causal=True, form="matmul", mask="full"), "lower-triangular"),
    (models.linear_attention, dict(causal=False, form="masked", mask="triu"),
     "lower-triangular"),
    (models.linear_attention, dict(causal=False, form="masked", mask="trilu_upper"),
     "lower-triangular"),
    # Comparisons of positions that are not the causal triangle: j < i
    # (no diagonal) and j >= i.
    (models.linear_attention, dict(causal=True, form="masked", mask="range_strict"),
     "lower-triangular"),
    (models.linear_attention, dict(causal=True, form="masked", mask="range_upper"),
     "lower-triangular"),
    (models.flowformer, dict(causal=True, form="matmul", mask="range_strict"),
     "lower-triangular"),
]


@pytest.mark.parametrize("build,kw,words", NEAR_MISSES)
def test_near_misses_keep_their_ops(tmp_path, build, kw, words):
    path = build(str(tmp_path / "m.onnx"), seq=24, heads=2, head_dim=16, **kw)
    report = check(tmp_path, path, qkv(np.random.default_rng(5), 1, 2, 24, 16), fused=0)
    reasons = [u for u in report["unfused"] if u["family"] == "flow_attention"]
    assert len(reasons) == 1, report["unfused"]
    assert words in reasons[0]["reason"], reasons


def test_softmax_attention_is_not_touched(tmp_path):
    path = models.attention(str(tmp_path / "attn.onnx"), seq=32, heads=2, head_dim=16)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 0
    assert report["kernel_fusions"]["attention"] == 1
    assert not [u for u in report["unfused"] if u["family"] == "flow_attention"]


@pytest.mark.parametrize("causal", [False, True])
def test_disabled_fusion_still_matches(tmp_path, causal):
    """--disable-fusion=flow_attention compiles the original graph op by op."""
    path = models.flowformer(str(tmp_path / "flow.onnx"), seq=20, heads=2, head_dim=16,
                             causal=causal, form="einsum")
    check(tmp_path, path, qkv(np.random.default_rng(2), 1, 2, 20, 16), fused=0,
          disable_fusion=["flow_attention"])


ONNX_LINEAR = [
    # (kwargs, batch, seq)
    (dict(), 1, 100),                                             # chunks of 64 + 36
    (dict(q_heads=4, kv_heads=2, value_dim=12, past=True, scale=0.3), 2, 70),   # GQA
    (dict(q_heads=2, kv_heads=1, present=False), 1, 1),           # decode, state unused
    (dict(q_heads=3, kv_heads=3, head_dim=64, past=True), 1, 1),  # decode from a state
]


@pytest.mark.parametrize("kw,batch,seq", ONNX_LINEAR)
def test_onnx_linear_attention_op(tmp_path, kw, batch, seq):
    """ONNX LinearAttention (opset 27, update rule "linear") counts for the
    family and runs the same chunked scan on its packed layout, reading
    each head's columns in place; present_state matches too."""
    path = models.onnx_linear_attention(str(tmp_path / "la.onnx"), seq=seq, batch=batch, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1, report
    hq, hkv = kw.get("q_heads", 2), kw.get("kv_heads", 2)
    d = kw.get("head_dim", 16)
    dv = kw.get("value_dim", d)
    rng = np.random.default_rng(seq)
    feeds = {"q": rng.standard_normal((batch, seq, hq * d)).astype(np.float32),
             "k": rng.standard_normal((batch, seq, hkv * d)).astype(np.float32),
             "v": rng.standard_normal((batch, seq, hkv * dv)).astype(np.float32)}
    if kw.get("past"):
        feeds["past"] = rng.standard_normal((batch, hkv, d, dv)).astype(np.float32)
    ours = model.run(feeds)
    ref = ort_run(path, feeds)
    assert set(ours) == set(ref)
    for name, expected in ref.items():
        np.testing.assert_allclose(ours[name], expected,
                                   atol=ATOL * float(np.abs(expected).max()), rtol=RTOL)


def test_onnx_linear_attention_dynamic(tmp_path):
    path = models.onnx_linear_attention(str(tmp_path / "la.onnx"), seq="T", batch="B",
                                        q_heads=2, kv_heads=1, past=True)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1
    for b, t in [(1, 1), (2, 9), (1, 130)]:
        rng = np.random.default_rng(t)
        feeds = {"q": rng.standard_normal((b, t, 32)).astype(np.float32),
                 "k": rng.standard_normal((b, t, 16)).astype(np.float32),
                 "v": rng.standard_normal((b, t, 16)).astype(np.float32),
                 "past": rng.standard_normal((b, 1, 16, 16)).astype(np.float32)}
        ref = ort_run(path, feeds)
        ours = model.run(feeds)
        for name, expected in ref.items():
            np.testing.assert_allclose(ours[name], expected,
                                       atol=ATOL * float(np.abs(expected).max()), rtol=RTOL)


RECURRENT = [
    # (update_rule, decay, beta, kwargs, batch, seq)
    ("gated", "head", None, dict(), 1, 40),
    ("gated", "key", None, dict(q_heads=4, kv_heads=2, value_dim=12, past=True), 2, 9),
    ("delta", None, "head", dict(), 1, 33),
    ("delta", None, "one", dict(q_heads=4, kv_heads=1, past=True, scale=0.5), 1, 17),
    ("gated_delta", "head", "head", dict(q_heads=4, kv_heads=2, past=True), 2, 70),
    ("gated_delta", "key", "one", dict(head_dim=32, value_dim=64), 1, 1),   # decode
    (None, "head", "head", dict(present=False), 1, 5),   # ONNX's default rule, gated_delta
]


def recurrent_feeds(rng, batch, seq, hq, hkv, d, dv, past, decay, beta):
    """Inputs as gated / delta models see them: L2-normalized keys, decays
    in log space (negative), beta in (0, 1) as a sigmoid gives it."""
    k = rng.standard_normal((batch, seq, hkv, d)).astype(np.float32)
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    feeds = {"q": rng.standard_normal((batch, seq, hq * d)).astype(np.float32),
             "k": k.reshape(batch, seq, hkv * d),
             "v": rng.standard_normal((batch, seq, hkv * dv)).astype(np.float32)}
    if past:
        feeds["past"] = rng.standard_normal((batch, hkv, d, dv)).astype(np.float32)
    if decay:
        width = {"head": hkv, "key": hkv * d}[decay]
        feeds["decay"] = np.log(rng.uniform(0.8, 1.0, (batch, seq, width))).astype(np.float32)
    if beta:
        width = {"head": hkv, "one": 1}[beta]
        feeds["beta"] = rng.uniform(0.05, 0.95, (batch, seq, width)).astype(np.float32)
    return feeds


def recurrence_reference(feeds, rule, hq, hkv, scale=None):
    """The update rules of ONNX LinearAttention written out step by step
    (numpy, float64), independent of ONNX Runtime."""
    q, k, v = (feeds[n].astype(np.float64) for n in "qkv")
    b, t = q.shape[:2]
    d, dv, group = q.shape[2] // hq, v.shape[2] // hkv, hq // hkv
    scale = 1 / np.sqrt(d) if not scale else scale
    S = feeds["past"].astype(np.float64).copy() if "past" in feeds else np.zeros((b, hkv, d, dv))
    y = np.zeros((b, t, hq, dv))
    for bi in range(b):
        for h in range(hkv):
            for i in range(t):
                kt = k[bi, i, h * d:(h + 1) * d]
                vt = v[bi, i, h * dv:(h + 1) * dv]
                if "decay" in feeds:
                    g = feeds["decay"][bi, i]
                    g = g[h] if g.shape[0] == hkv else g[h * d:(h + 1) * d]
                    S[bi, h] *= np.exp(np.asarray(g, np.float64)).reshape(-1, 1)
                if "beta" in feeds:
                    bt = feeds["beta"][bi, i]
                    bt = bt[h] if bt.shape[0] == hkv else bt[0]
                    vt = bt * (vt - S[bi, h].T @ kt)
                S[bi, h] += np.outer(kt, vt)
                for g in range(group):
                    qh = q[bi, i, (h * group + g) * d:(h * group + g + 1) * d]
                    y[bi, i, h * group + g] = scale * qh @ S[bi, h]
    return y.reshape(b, t, hq * dv), S


@pytest.mark.parametrize("rule,decay,beta,kw,batch,seq", RECURRENT)
def test_onnx_linear_attention_recurrent_rules(tmp_path, rule, decay, beta, kw, batch, seq):
    """The gated, delta and gated_delta rules run as the recurrence, one
    task per key / value head; output and present_state match ONNX
    Runtime, and the step-by-step formula in numpy."""
    path = models.onnx_linear_attention(str(tmp_path / "la.onnx"), seq=seq, batch=batch,
                                        update_rule=rule, decay=decay, beta=beta, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["flow_attention"] == 1, report
    hq, hkv = kw.get("q_heads", 2), kw.get("kv_heads", 2)
    d = kw.get("head_dim", 16)
    dv = kw.get("value_dim", d)
    feeds = recurrent_feeds(np.random.default_rng(seq), batch, seq, hq, hkv, d, dv,
                            kw.get("past"), decay, beta)
    ours = model.run(feeds)
    ref = ort_run(path, feeds)
    assert set(ours) == set(ref)
    y64, s64 = recurrence_reference(feeds, rule or "gated_delta", hq, hkv, kw.get("scale"))
    np.testing.assert_allclose(ref["y"], y64, atol=1e-4 * float(np.abs(y64).max()), rtol=1e-3)
    for name, expected in ref.items():
        np.testing.assert_allclose(ours[name], expected,
                                   atol=ATOL * float(np.abs(expected).max()), rtol=RTOL)
    if "present" in ours:
        np.testing.assert_allclose(ours["present"], s64,
                                   atol=ATOL * float(np.abs(s64).max()), rtol=RTOL)


def test_onnx_linear_attention_recurrent_dynamic(tmp_path):
    """Dynamic batch and sequence, including T = 1 decode steps chained
    through present_state -> past_state: the same as one prefill."""
    path = models.onnx_linear_attention(str(tmp_path / "la.onnx"), seq="T", batch="B",
                                        q_heads=2, kv_heads=1, past=True,
                                        update_rule="gated_delta", decay="key", beta="head")
    model, _ = compile_with_report(tmp_path, path)
    for b, t in [(1, 1), (2, 9), (1, 130)]:
        feeds = recurrent_feeds(np.random.default_rng(t), b, t, 2, 1, 16, 16, True, "key",
                                "head")
        ref = ort_run(path, feeds)
        ours = model.run(feeds)
        for name, expected in ref.items():
            np.testing.assert_allclose(ours[name], expected,
                                       atol=ATOL * float(np.abs(expected).max()), rtol=RTOL)
    # Prefill of 6 positions = 6 decode steps carrying the state.
    feeds = recurrent_feeds(np.random.default_rng(0), 1, 6, 2, 1, 16, 16, True, "key", "head")
    whole = model.run(feeds)
    state, ys = feeds["past"], []
    for i in range(6):
        step = {n: (x if n == "past" else x[:, i:i + 1]) for n, x in feeds.items()}
        step["past"] = state
        out = model.run(step)
        ys.append(out["y"])
        state = out["present"]
    np.testing.assert_allclose(np.concatenate(ys, axis=1), whole["y"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(state, whole["present"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rule,decay,beta,words", [
    ("gated", None, None, "update_rule 'gated' needs decay input"),
    ("delta", "head", "head", "update_rule 'delta' takes no decay input"),
    ("gated_delta", "head", None, "update_rule 'gated_delta' needs beta input"),
    ("linear", None, "head", "update_rule 'linear' takes no beta input"),
    ("retention", None, None, "update_rule 'retention' is not one of"),
])
def test_onnx_linear_attention_rule_errors(tmp_path, rule, decay, beta, words):
    """A rule without the inputs it reads (or with ones it does not), or an
    unknown rule, is an error naming the node."""
    import sparsa
    path = models.onnx_linear_attention(str(tmp_path / "la.onnx"), update_rule=rule,
                                        decay=decay, beta=beta)
    with pytest.raises(sparsa.SparsaError) as e:
        sparsa.compile(path, str(tmp_path / "la.so"))
    msg = str(e.value)
    assert "/attn/LinearAttention" in msg and words in msg, msg




def test_onnx_linear_attention_run_time_sizes_must_agree(tmp_path):
    """Key / value / decay / beta with their own sequence dim ("S") and a
    past state with its own batch dim: sizes that disagree with the
    query's at run time fail the run naming the node (nothing is read out
    of bounds); sizes that agree run."""
    import onnx
    import sparsa
    path = models.onnx_linear_attention(str(tmp_path / "la.onnx"), seq="T", batch="B",
                                        q_heads=2, kv_heads=1, past=True,
                                        update_rule="gated_delta", decay="head", beta="head")
    m = onnx.load(path)
    for i in m.graph.input:
        if i.name in ("k", "v", "decay", "beta"):
            i.type.tensor_type.shape.dim[1].dim_param = "S"
        if i.name == "past":
            i.type.tensor_type.shape.dim[0].dim_param = "P"
    onnx.save(m, path)
    model, _ = compile_with_report(tmp_path, path)

    def feeds(b, t, s, pb):
        f = recurrent_feeds(np.random.default_rng(t), b, s, 2, 1, 16, 16, True, "head", "head")
        f["q"] = np.random.default_rng(1).standard_normal((b, t, 32)).astype(np.float32)
        f["past"] = np.random.default_rng(2).standard_normal((pb, 1, 16, 16)).astype(np.float32)
        return f

    f = feeds(2, 5, 5, 2)
    ref = ort_run(path, f)
    np.testing.assert_allclose(model.run(f)["y"], ref["y"],
                               atol=ATOL * float(np.abs(ref["y"]).max()), rtol=RTOL)
    for args in [(1, 5, 3, 1), (1, 3, 5, 1), (2, 4, 4, 1)]:
        with pytest.raises(sparsa.SparsaError) as e:
            model.run(feeds(*args))
        assert "/attn/LinearAttention" in str(e.value) and "query's batch size" in str(e.value)
