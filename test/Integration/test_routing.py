"""Routing fusion end to end: every exporter form of a mixture-of-experts
layer (shared/PATTERNS.md forms A-E) fuses into one sparsa.moe, and the
compiled model matches ONNX Runtime running the original graph for 1, 7 and
64 tokens. Near misses stay unfused, say why in the report, and still match.
"""

import numpy as np
import pytest

from conftest import assert_matches_ort, compile_with_report, sparsa
from sparsa import models

H = 64
TOKENS = [1, 7, 64]


def check_tokens(model, path, tokens=TOKENS, hidden=H):
    for t in tokens:
        x = np.random.default_rng(t).standard_normal((t, hidden)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


# com.microsoft.MoE's gelu is the tanh form (test_contrib_ops covers it).
FORMS_ACTS = [(f, a) for f in "ABCDE" for a in ["relu", "gelu", "silu", "swiglu"]
              if not (f == "E" and a == "gelu")]


@pytest.mark.parametrize("form,act", FORMS_ACTS)
def test_form_fuses_and_matches(tmp_path, form, act):
    bias = form != "D" and not (form == "E" and act == "swiglu")
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=128, experts=8, k=2,
                      act=act, bias=bias)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    assert report["unfused"] == []
    check_tokens(model, path)


@pytest.mark.parametrize("form,kw", [
    ("C", dict(gating="topk_softmax")),                       # Mixtral gate
    ("B", dict(gating="sigmoid", normalize=True, scaling=2.5)),  # DeepSeek-V3 gate
    ("D", dict(gating="sigmoid", normalize=False)),
    ("A", dict(gating="softmax", normalize=False, k=1)),
    # DBRX: the top-k softmax values over their 1-norm (ReduceL1, or
    # ReduceSum(Abs)), the renormalization for non-negative weights
    ("D", dict(gating="dbrx")),
    ("A", dict(gating="dbrx_abs")),
    ("C", dict(gating="dbrx", opset=18)),
    ("B", dict(gating="dbrx_abs", opset=18)),
    ("B", dict(gating="topk_softmax", k=3, experts=4)),
    ("C", dict(gemm=True, bias=True)),                        # nn.Linear as Gemm(transB)
    ("A", dict(gemm=True, bias=True, act="gelu")),
    ("A", dict(missing=(1, 6), act="swiglu")),                # experts absent from the export
    ("A", dict(a_mask="equal", act="gelu", bias=True)),       # torch.where(idx == e)
    ("A", dict(a_mask="equal", gating="topk_softmax", gemm=True, missing=(3,))),
    ("C", dict(missing=(2,))),
    # form B as batched torch.matmul writes it in other layouts, and the
    # dense matrix as OneHot times the weights
    ("B", dict(layout="TE", act="relu")),                     # x[:, None, None] @ W
    ("B", dict(layout="ET_perm", act="swiglu")),              # (x[None] @ W).permute(1, 0, 2)
    ("B", dict(dense="onehot", act="gelu", bias=True)),
    ("B", dict(layout="TE", dense="onehot", gating="sigmoid", scaling=2.5)),
    # torch.einsum over the stacked experts (forms B and D)
    ("B", dict(layout="einsum", act="swiglu")),
    ("B", dict(layout="einsum", dense="onehot", act="gelu")),
    ("D", dict(layout="einsum", act="relu")),
    ("D", dict(layout="einsum", act="swiglu", gating="sigmoid")),
    # form C with the weights as columns of the dense routing matrix, and
    # a shared expert as the chain's first term (out = shared(x); out += ...)
    ("C", dict(c_weights="slice", shared=64, shared_first=True, act="swiglu",
               gating="sigmoid", scaling=2.5)),
    ("C", dict(c_weights="gather", act="relu")),
    ("C", dict(zeros_first=True, act="swiglu")),             # out = zeros_like(x); out += ...
    # tanh GELU as torch writes it below opset 20, and GPT-2's gelu_new
    ("A", dict(a_mask="equal", act="gelu_tanh", bias=True)),
    ("C", dict(act="gelu_new", gemm=True)),
    ("B", dict(layout="stack", act="gelu_tanh")),
    ("C", dict(shared=48, shared_first=True, shared_gate=True)),
    # form B with one module per expert, outputs torch.stack-ed and
    # weighted by the dense routing matrix
    ("B", dict(layout="stack", act="relu", bias=True)),
    ("B", dict(layout="stack", gemm=True, bias=True, act="gelu", gating="sigmoid", scaling=2.5)),
    ("B", dict(layout="stack_einsum", act="swiglu")),
    ("B", dict(layout="stack0", act="silu", gating="topk_softmax")),
    # Shazeer's top-k gating written by hand: the top-k logits scattered
    # into -inf, softmax over all experts (Mixtral's gate, densely)
    ("B", dict(layout="stack", dense="neginf", gating="topk_softmax", bias=True)),
    ("B", dict(layout="ET", dense="neginf", gating="topk_softmax", act="swiglu")),
    ("C", dict(c_weights="slice", dense="neginf", gating="topk_softmax", act="gelu")),
])
def test_gate_and_layout_variants(tmp_path, form, kw):
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=96, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    check_tokens(model, path)


@pytest.mark.parametrize("form,kw", [
    ("C", dict(act="swiglu")),
    ("C", dict(gating="topk_softmax", shared=48, shared_gate=True)),   # Mixtral gate, Qwen shared
    ("C", dict(c_weights="slice", gating="sigmoid", scaling=2.5, act="relu",
               shared=32, shared_first=True)),
    ("C", dict(c_weights="gather", bias=True, act="gelu")),
    ("C", dict(gemm=False, missing=(5,), normalize=False, zeros_first=True)),
    ("E", dict(act="silu")),
    ("B", dict(layout="stack", bias=True, act="relu")),
    ("B", dict(layout="stack_einsum", act="swiglu", gating="sigmoid")),
    ("C", dict(c_weights="gather", dense="neginf", gating="topk_softmax")),
    ("B", dict(layout="einsum", act="swiglu")),                        # bth,ehf->btef
    ("B", dict(layout="einsum", act="gelu", dense="onehot", gating="sigmoid", normalize=False)),
    ("D", dict(layout="einsum", act="swiglu", gating="topk_softmax")),  # bth,btkhf->btkf
    ("D", dict(layout="einsum", act="relu", shared=48)),
])
def test_unflattened_batch_input(tmp_path, form, kw):
    """A module that never flattens its tokens: x [B, S, H], the gate's
    Softmax / TopK / ReduceSum and the routing matrix on the last axis of
    [B, S, E] (Slice / Gather at axis 2). It fuses to one sparsa.moe on the
    [B, S, H] input with the logits flattened to [B * S, E]."""
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=96, batch="B", **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    assert report["unfused"] == []
    for b, s in [(1, 1), (2, 5), (3, 17)]:
        x = np.random.default_rng(b * s).standard_normal((b, s, H)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("form", ["A", "C", "E"])
def test_disabled_fusion_still_matches(tmp_path, form):
    """--disable-fusion=routing keeps the original graph (E: the dense
    reference lowering) and must agree with the fused build."""
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=64, act="silu")
    fused, _ = compile_with_report(tmp_path, path, "fused")
    plain, report = compile_with_report(tmp_path, path, "plain", disable_fusion=["routing"])
    assert report["fusions"]["routing"] == 0
    x = np.random.default_rng(3).standard_normal((7, H)).astype(np.float32)
    np.testing.assert_allclose(fused.run({"x": x})["y"], plain.run({"x": x})["y"],
                               atol=1e-5, rtol=1e-5)


def test_gate_outputs_used_elsewhere(tmp_path):
    """Routing weights and scores that are also model outputs are still
    computed; the combine fuses."""
    path = models.moe(str(tmp_path / "moe.onnx"), "B", hidden=H, inner=64,
                      extra_outputs=["weights", "scores"])
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1
    check_tokens(model, path)


def test_topk_on_token_axis_is_a_near_miss(tmp_path):
    path = models.moe(str(tmp_path / "moe.onnx"), "C", hidden=H, inner=64, k=2, topk_axis=0)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 0
    (miss,) = report["unfused"]
    assert miss["family"] == "routing" and miss["op"] == "onnx.TopK"
    assert "axis 0" in miss["reason"], miss
    # Selecting over tokens only broadcasts when T == k.
    check_tokens(model, path, tokens=[2])


def test_dense_softmax_gate_over_a_finite_fill_is_a_near_miss(tmp_path):
    """Softmax(ScatterElements(fill, idx, top-k logits)) is a top-k gate only
    when the fill is -inf: with 0 every expert gets weight. The report says
    so and the graph runs unfused."""
    import onnx
    from onnx import numpy_helper
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "B", hidden=H, inner=64, layout="stack", dense="neginf",
               gating="topk_softmax", act="relu")
    m = onnx.load(path)
    (cos,) = [n for n in m.graph.node if n.op_type == "ConstantOfShape" and
              np.isneginf(numpy_helper.to_array(n.attribute[0].t)).all()]
    cos.attribute[0].t.CopyFrom(numpy_helper.from_array(np.zeros(1, np.float32), "zero"))
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 0
    (miss,) = report["unfused"]
    assert "other than -inf" in miss["reason"], miss
    check_tokens(model, path)


def test_mismatched_expert_shapes_are_a_near_miss(tmp_path):
    shapes = [64] * 8
    shapes[3] = 32
    path = models.moe(str(tmp_path / "moe.onnx"), "C", hidden=H, inner=64, shapes=shapes)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 0
    assert len(report["unfused"]) == 1, report["unfused"]
    assert "weight shapes" in report["unfused"][0]["reason"]
    check_tokens(model, path)


def test_fused_ir_keeps_no_routing_ops(tmp_path):
    """After fusion one sparsa.moe replaces the whole unrolled graph."""
    path = models.moe(str(tmp_path / "moe.onnx"), "C", hidden=H, inner=64, tokens=1)
    out = tmp_path / "fused.mlir"
    sparsa.compile(path, str(out), emit="mlir-fused")
    text = out.read_text()
    assert text.count("sparsa.moe") == 1
    assert "onnx.Equal" not in text and "onnx.TopK" not in text


@pytest.mark.parametrize("form,kw", [
    # sigmoid scores, renormalized, routed scaling, a shared SwiGLU expert
    ("A", dict(gating="sigmoid", scaling=2.5, shared=48, act="swiglu")),
    # DeepSeek-V3's router as transformers writes it: correction bias for
    # the choice, 4 groups of which 2 compete, weights gathered from the
    # unbiased scores, epsilon renormalization, scaling, shared expert
    ("C", dict(gating="deepseek", experts=8, k=2, scaling=2.5, shared=32, act="swiglu")),
    ("A", dict(gating="deepseek", experts=16, k=4, n_group=4, topk_group=2)),
    ("B", dict(gating="deepseek", experts=8, k=2, normalize=False, n_group=2, topk_group=1)),
    # Qwen-MoE: shared expert scaled by sigmoid(x Wsg)
    ("D", dict(gating="softmax", normalize=False, shared=32, shared_gate=True, act="relu")),
])
def test_deepseek_and_shared_experts(tmp_path, form, kw):
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=64, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    fused = tmp_path / "fused.mlir"
    sparsa.compile(path, str(fused), emit="mlir-fused")
    text = fused.read_text()
    if kw.get("shared"):
        assert "shared_w1" in text  # the shared expert is part of the fused op
    if kw.get("gating") == "deepseek":
        assert "selection_bias" in text and "n_group" in text
    check_tokens(model, path)


@pytest.mark.parametrize("kw", [
    dict(),                                         # 0/1 mask, activation scaling
    dict(weighted=True, act="relu"),                # mask of the softmax weights
    dict(shared=0, act="gelu", bias=False, k=3),    # no always-on groups
    dict(gemm=True),                                # nn.Linear: Gemm(transB) with its bias
    dict(gemm=True, tokens=7, constant_masks=True),  # TorchScript, static shapes
    dict(gemm=True, bias=False, weighted=True, act="relu"),
])
def test_mohd_fuses_and_matches(tmp_path, kw):
    path = models.mohd(str(tmp_path / "mohd.onnx"), hidden=H, inner=256, groups=8,
                       **{"shared": 2, **kw})
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    check_tokens(model, path, tokens=(kw["tokens"],) if "tokens" in kw else TOKENS)


@pytest.mark.parametrize("experts,k", [(4, 1), (4, 2), (8, 1)])
def test_expert_counts_and_k(tmp_path, experts, k):
    path = models.moe(str(tmp_path / "moe.onnx"), "A", hidden=H, inner=64, experts=experts,
                      k=k)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1
    check_tokens(model, path)


def test_many_tokens_share_experts(tmp_path):
    """ExpertFlow-style batches: many tokens routed to the same few experts
    (identical rows route identically); grouping must keep every token."""
    path = models.moe(str(tmp_path / "moe.onnx"), "C", hidden=H, inner=64, experts=8, k=2)
    model, _ = compile_with_report(tmp_path, path)
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, H)).astype(np.float32)
    x = base[rng.integers(0, 3, size=96)] + 1e-3 * rng.standard_normal((96, H)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("form,kw", [
    ("C", dict(top1="max_flat", normalize=False)),                  # (w * (idx == e))[..., None]
    ("C", dict(top1="max_flat", normalize=False, c_weights="after")),  # Switch: sum, then * w
    ("C", dict(top1="max", c_weights="after", normalize=False, act="gelu")),
    ("C", dict(top1="max", act="swiglu", shared=32)),              # keepdim, renormalized (= 1)
    ("C", dict(top1="max", batch="B", normalize=False, opset=18)),  # ReduceMax axes as input
    ("B", dict(top1="max", normalize=False, act="silu")),
    ("B", dict(top1="max", layout="stack", normalize=False, gating="sigmoid")),
    ("D", dict(top1="max", normalize=False, act="swiglu", scaling=2.0)),
])
def test_top1_by_torch_max(tmp_path, form, kw):
    """Top-1 routing written with torch.max: ReduceMax + ArgMax of the gate
    scores on the expert axis, kept ([T, 1]) or not ([T], form C's factor
    then unsqueezed), or Switch Transformer's weight applied once after the
    masked sum. One sparsa.moe with k = 1."""
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=64, k=1, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    assert report["unfused"] == []
    if "batch" in kw:
        for b, s in [(1, 1), (2, 9)]:
            x = np.random.default_rng(b * s).standard_normal((b, s, H)).astype(np.float32)
            assert_matches_ort(model, path, {"x": x})
    else:
        check_tokens(model, path)


def test_top1_ties_pick_the_first_expert(tmp_path):
    """A zero router gives every expert the same score: ArgMax (and ONNX
    TopK) pick the lowest index, and so must the fused op."""
    import onnx
    from onnx import numpy_helper
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "C", hidden=H, inner=64, k=1, top1="max_flat", normalize=False,
               c_weights="after")
    m = onnx.load(path)
    (wg,) = [t for t in m.graph.initializer if t.name == "router.weight"]
    wg.CopyFrom(numpy_helper.from_array(np.zeros((H, 8), np.float32), "router.weight"))
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    check_tokens(model, path)


def test_argmax_of_last_tie_is_a_given_routing(tmp_path):
    """ArgMax with select_last_index = 1 chooses differently from a top-k
    on ties, so it is not the op's gate: it stays as ONNX ops, the experts
    take its choice as a given routing, and the note says why."""
    import onnx
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "C", hidden=H, inner=64, k=1, top1="max", normalize=False)
    m = onnx.load(path)
    (am,) = [n for n in m.graph.node if n.op_type == "ArgMax"]
    am.attribute.append(onnx.helper.make_attribute("select_last_index", 1))
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1 and report["unfused"] == []
    (note,) = report["notes"]
    assert "select_last_index" in note["note"], note
    check_tokens(model, path)


def test_top1_weights_of_other_scores_are_a_given_routing(tmp_path):
    """The op's gate weighs by the maximum of the scores the ArgMax chose
    on: the maximum of the raw logits is no weight of its gate, so the
    routing is given (the note says why) and still matches."""
    import onnx
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "C", hidden=H, inner=64, k=1, top1="max", normalize=False)
    m = onnx.load(path)
    (rm,) = [n for n in m.graph.node if n.op_type == "ReduceMax"]
    (mm,) = [n for n in m.graph.node if n.name == "/router/MatMul"]
    rm.input[0] = mm.output[0]
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1 and report["unfused"] == []
    (note,) = report["notes"]
    assert "not the top-k scores" in note["note"], note
    check_tokens(model, path)


@pytest.mark.parametrize("form,kw", [
    ("A", {}), ("B", {}), ("C", dict(shared=32)), ("D", dict(layout="einsum")),
    ("C", dict(batch="B")),
])
def test_quick_gelu_experts(tmp_path, form, kw):
    """CLIP's quick GELU, x * sigmoid(1.702 x), in the experts (and a shared
    expert): the op's SiLU with alpha 1.702."""
    batch = "batch" in kw
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=64,
                      act="quick_gelu", **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    assert report["unfused"] == []
    if batch:
        x = np.random.default_rng(2).standard_normal((2, 5, H)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})
    else:
        check_tokens(model, path)


def test_experts_with_different_sigmoid_scales_are_a_near_miss(tmp_path):
    """One expert's SiLU scaled differently (1.702 in all but one): the
    experts do not share one activation."""
    import onnx
    from onnx import numpy_helper
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "C", hidden=H, inner=64, act="quick_gelu")
    m = onnx.load(path)
    k = next(t for t in m.graph.initializer if t.name.startswith("qg"))
    k.CopyFrom(numpy_helper.from_array(np.array(1.5, np.float32), k.name))
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 0
    (miss,) = report["unfused"]
    assert "different activations" in miss["reason"], miss
    check_tokens(model, path)


def test_scattered_logits_other_than_the_top_k_values_is_a_near_miss(tmp_path):
    """Softmax(ScatterElements(-inf, idx, 2 * top-k logits)): a tempered
    softmax, not the softmax over the k; the report says so and the graph
    runs as written."""
    import onnx
    from onnx import helper as oh, numpy_helper
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "B", hidden=H, inner=64, layout="stack", dense="neginf",
               gating="topk_softmax", act="relu")
    m = onnx.load(path)
    (sc,) = [n for n in m.graph.node if n.op_type == "ScatterElements"]
    m.graph.initializer.append(numpy_helper.from_array(np.array(2.0, np.float32), "temper"))
    m.graph.node.insert(list(m.graph.node).index(sc),
                        oh.make_node("Mul", [sc.input[2], "temper"], ["tempered"],
                                     name="/temper"))
    sc.input[2] = "tempered"
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 0
    (miss,) = report["unfused"]
    assert "not the top-k values" in miss["reason"], miss
    check_tokens(model, path)


@pytest.mark.parametrize("kw", [
    dict(act="swiglu"),                                         # Mixtral / Qwen-MoE / OLMoE
    dict(act="swiglu", opset=18),                               # Split(num_outputs=2)
    dict(act="swiglu", gating="topk_softmax", layout="batched_mm_gather"),
    dict(act="swiglu", layout="batched_mm_t", gating="sigmoid", scaling=2.5),
    dict(act="gelu", gating="softmax", normalize=False),        # no gate: up_proj only
    dict(act="swiglu", gating="deepseek", n_group=4, topk_group=2, shared=32),
    dict(act="swiglu", top1="max", normalize=False, k=1),
    dict(act="swiglu", layout="batched_mm_ts"),                 # TorchScript: Tile, Slices
    dict(act="relu", layout="batched_mm_ts", k=3, gating="sigmoid"),
])
def test_transformers5_batched_mm_experts(tmp_path, kw):
    """transformers 5's experts (batched_mm, the implementation its models
    export through): one row per (token, slot) pair, the tokens
    repeat_interleave-d, W[expert_ids] per pair as GatherND, torch Linear
    rows under `bmm(W, x[..., None])`, gate_up_proj cut in two by Split,
    the pairs scaled and summed over a [T, k, H] view. One sparsa.moe."""
    kw = dict(kw)
    kw.setdefault("layout", "batched_mm")
    path = models.moe(str(tmp_path / "moe.onnx"), "D", hidden=H, inner=96, experts=8,
                      **{"k": 2, **kw})
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    assert report["unfused"] == []
    check_tokens(model, path)


def test_batched_mm_repeat_count_not_k_is_a_near_miss(tmp_path):
    """Tokens repeated three times for top-2 routing: the pair rows no
    longer line up with the flattened indices; reported, and still right
    where ONNX Runtime can run it (one token: the [T, 3, H] view of 2 rows
    fails there too, so only the report is checked)."""
    import onnx
    from onnx import numpy_helper
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "D", hidden=H, inner=64, layout="batched_mm", act="swiglu")
    m = onnx.load(path)
    for t in m.graph.initializer:
        if t.name in ("bmm.rep", "bmm.view"):
            v = numpy_helper.to_array(t).copy()
            v[1] = 3
            t.CopyFrom(numpy_helper.from_array(v, t.name))
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 0
    (miss,) = report["unfused"]
    assert "repeated 3 times for top-2" in miss["reason"], miss


def test_batched_mm_with_weights_from_elsewhere_is_a_given_routing(tmp_path):
    """The pair rows' weights a model input instead of the gate's top-k
    values: the pair layout is recognized, the gate is not, so the input
    and the TopK's indices are the op's given routing."""
    import onnx
    from onnx import helper, TensorProto
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "D", hidden=H, inner=64, layout="batched_mm", act="swiglu")
    m = onnx.load(path)
    (flat,) = [n for n in m.graph.node
               if n.op_type == "Reshape" and n.input[1] == "bmm.wflat"]
    flat.input[0] = "w"
    m.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, ["T", 2]))
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1 and report["unfused"] == []
    (note,) = report["notes"]
    assert "not the top-k scores" in note["note"], note
    rng = np.random.default_rng(5)
    feeds = {"x": rng.standard_normal((5, H)).astype(np.float32),
             "w": rng.random((5, 2)).astype(np.float32)}
    assert_matches_ort(model, path, feeds)


@pytest.mark.parametrize("kw", [
    dict(bias=True, limit=1.5),     # most gates and ups clamped (inputs of std 3)
    dict(bias=True, limit=7.0),     # GPT-OSS's own limit
    dict(bias=False, limit=1.0, gating="topk_softmax"),
])
def test_gpt_oss_clamped_swiglu_experts(tmp_path, kw):
    """GPT-OSS's experts as transformers 5 exports them: weights [E, in,
    out], gate and up interleaved in gate_up_proj (Slices of step 2),
    biases gathered per pair, the clamped SwiGLU (clamp(up, -L, L) + 1) *
    g * sigmoid(1.702 g), g = clamp(gate, max=L). One sparsa.moe with
    alpha, beta = 1 and limit; inputs large enough that the clamps bite."""
    path = models.moe(str(tmp_path / "moe.onnx"), "D", hidden=H, inner=48, experts=8, k=2,
                      act="swiglu", layout="batched_mm_oai", **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    assert report["unfused"] == []
    for t in TOKENS:
        x = 3 * np.random.default_rng(t).standard_normal((t, H)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


def test_gpt_oss_uneven_clamps_are_not_fused(tmp_path):
    """The up clamp at another limit than the gate's: not the op's one
    limit, so nothing fuses, and the graph runs as exported."""
    import onnx
    from onnx import numpy_helper
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "D", hidden=H, inner=48, act="swiglu", layout="batched_mm_oai",
               bias=True, limit=2.0)
    m = onnx.load(path)
    for t in m.graph.initializer:
        if t.name == "oai.nlimit":
            t.CopyFrom(numpy_helper.from_array(np.array(-3.0, np.float32), t.name))
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 0
    x = 3 * np.random.default_rng(4).standard_normal((5, H)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("spelling", ["clip", "max"])
def test_renormalization_by_clamped_sum(tmp_path, spelling):
    """ERNIE 4.5 divides the chosen weights by clamp(sum, min=1e-12)
    (Clip, or Max with the constant): the op's renormalization."""
    import onnx
    from onnx import helper, numpy_helper
    path = str(tmp_path / "moe.onnx")
    models.moe(path, "D", hidden=H, inner=64, layout="batched_mm", act="swiglu")
    m = onnx.load(path)
    (div,) = [n for n in m.graph.node if n.op_type == "Div"]
    m.graph.initializer.append(numpy_helper.from_array(np.array(1e-12, np.float32), "norm_min"))
    if spelling == "clip":
        node = helper.make_node("Clip", [div.input[1], "norm_min"], ["clamped"], name="/clamp")
    else:
        node = helper.make_node("Max", [div.input[1], "norm_min"], ["clamped"], name="/clamp")
    m.graph.node.insert(list(m.graph.node).index(div), node)
    div.input[1] = "clamped"
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    check_tokens(model, path)


# Gates the pass does not recognize: PhiMoE's sparsemixer, a top-k over
# LogSoftmax weighted by Exp of the values, and a softmax over the k values
# scaled after the choice. Every form that weighs one term per (token, slot)
# takes their weights and indices as a given routing.
GIVEN_CASES = [
    ("A", dict(gating="sparsemixer", act="swiglu")),
    ("A", dict(gating="log_softmax", act="gelu", bias=True)),
    ("A", dict(gating="scaled_softmax", a_mask="equal", act="swiglu")),
    ("A", dict(gating="sparsemixer", gemm=True, missing=(2,), act="relu")),
    ("B", dict(gating="sparsemixer", act="swiglu")),
    ("B", dict(gating="log_softmax", dense="onehot", act="gelu")),
    ("B", dict(gating="scaled_softmax", layout="stack", act="relu")),
    ("C", dict(gating="sparsemixer", act="swiglu")),
    ("C", dict(gating="log_softmax", c_weights="slice", act="silu")),
    ("D", dict(gating="sparsemixer", act="swiglu")),
    ("D", dict(gating="sparsemixer", layout="batched_mm", act="swiglu")),
    ("D", dict(gating="scaled_softmax", layout="batched_mm_ts", act="swiglu")),
    ("D", dict(gating="log_softmax", layout="batched_mm_t", act="swiglu")),
    # unflattened [B, S, H] tokens: the weights and indices [B, S, k]
    ("C", dict(gating="sparsemixer", batch="B", act="swiglu")),
    ("D", dict(gating="log_softmax", layout="einsum", batch="B", act="gelu")),
    ("B", dict(gating="scaled_softmax", layout="stack", batch="B", act="relu")),
]


@pytest.mark.parametrize("form,kw", GIVEN_CASES)
def test_unrecognized_gate_fuses_as_given_routing(tmp_path, form, kw):
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=128, experts=8, k=2,
                      **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    assert report["unfused"] == []
    (note,) = report["notes"]
    assert note["family"] == "routing" and note["op"] == "sparsa.moe", note
    assert note["note"].startswith("gate kept as ONNX ops"), note
    if "batch" not in kw:
        check_tokens(model, path)
        return
    for b, t in [(1, 1), (2, 7), (3, 16)]:
        x = np.random.default_rng(t).standard_normal((b, t, H)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


def test_mohd_with_an_unrecognized_gate_is_a_given_routing(tmp_path):
    path = models.mohd(str(tmp_path / "mohd.onnx"), weighted="sqrt")
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1 and report["unfused"] == [], report
    (note,) = report["notes"]
    assert note["note"].startswith("gate kept as ONNX ops"), note
    check_tokens(model, path)


def test_recognized_gate_leaves_no_note(tmp_path):
    path = models.moe(str(tmp_path / "moe.onnx"), "D", hidden=H, inner=64, act="swiglu")
    _, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1 and report["notes"] == []


def _shift_topk_indices(path, by):
    """Rewrites |path| so the TopK's indices become idx + |by| everywhere."""
    import onnx
    from onnx import helper
    m = onnx.load(path)
    (topk,) = [n for n in m.graph.node if n.op_type == "TopK"]
    raw = topk.output[1] + "_raw"
    m.graph.initializer.append(helper.make_tensor("shift", onnx.TensorProto.INT64, [],
                                                  [by]))
    shift = helper.make_node("Add", [raw, "shift"], [topk.output[1]], name="shift_indices")
    topk.output[1] = raw
    m.graph.node.insert(list(m.graph.node).index(topk) + 1, shift)
    onnx.save(m, path)


@pytest.mark.parametrize("form,kw", [
    ("A", dict()),                                 # OneHot reads -1 as the last expert
    ("D", dict()),                                 # so does Gather
    ("D", dict(layout="batched_mm")),              # and GatherND
    ("B", dict()),                                 # and ScatterElements
])
def test_given_negative_indices_count_from_the_end(tmp_path, form, kw):
    """Indices in [-E, -1] mean the expert E + i to OneHot, Gather and
    ScatterElements: the fusion wraps them before the op, and the result
    matches ONNX Runtime."""
    path = models.moe(str(tmp_path / "moe.onnx"), form, hidden=H, inner=64, experts=8, k=2,
                      gating="log_softmax", act="swiglu", **kw)
    _shift_topk_indices(path, -8)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    check_tokens(model, path)


def test_given_indices_outside_an_equal_chain_add_nothing(tmp_path):
    """Form C's Equal(idx, e) masks never match an index past the experts:
    shifted by +8, no expert runs, and the op (whose pairs outside [0, E) add
    nothing) gives the same zeros as ONNX Runtime."""
    path = models.moe(str(tmp_path / "moe.onnx"), "C", hidden=H, inner=64, experts=8, k=2,
                      gating="log_softmax", act="swiglu")
    _shift_topk_indices(path, 8)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["routing"] == 1, report
    x = np.random.default_rng(3).standard_normal((5, H)).astype(np.float32)
    (y,) = model.run({"x": x}).values()
    assert not np.any(y)
    check_tokens(model, path)
