"""Activation sparsity end to end: FFNs whose activation is exactly zero for
inactive neurons (ReLU in its spellings, FATReLU thresholds, ReLU-gated GLU)
fuse into sparsa.sparse_ffn and match ONNX Runtime on the original graph for
one token (the sparse path) and several (dense); near misses stay unfused
and say why."""

import numpy as np
import pytest

from conftest import assert_matches_ort, compile_with_report, int8_rows, ort_run, sparsa
from sparsa import models


def check(model, path, hidden, tokens=(1, 7, 64), three_d=False, extra=None):
    for t in tokens:
        shape = (1, t, hidden) if three_d else (t, hidden)
        feeds = {"x": np.random.default_rng(t).standard_normal(shape).astype(np.float32)}
        feeds.update(extra or {})
        assert_matches_ort(model, path, feeds)


@pytest.mark.parametrize("kw", [
    dict(),                                   # OPT: MatMul + Add, Relu
    dict(relu="Max"),                         # Max(h, 0)
    dict(relu="Clip", gemm=True),             # Clip(h, 0), nn.Linear as Gemm(transB)
    dict(mode="threshold"),                   # FATReLU
    dict(mode="glu"),                         # ProSparse: down(relu(gate x) * up x)
    dict(mode="glu", gemm=True, bias=False),
    dict(three_d=True),                       # [B, S, H]
    dict(sparsity=0.9),                       # 90 % inactive
    dict(sparsity=0.9, hidden=520, inner=384),  # columns split over tasks, odd sizes
    dict(relu="Relu2", sparsity=0.8),         # squared ReLU (Primer): Pow(Relu(h), 2)
    dict(relu="Relu2Mul", mode="glu", gemm=True),  # Relu(h) * Relu(h), gated
    dict(mode="drelu"),                       # dReLU: relu(gate x) * relu(up x)
    dict(mode="drelu", gemm=True, sparsity=0.8),
    dict(mode="drelu", sparsity=0.5, three_d=True),
    # one gate_up_proj whose output chunk(2, -1) cuts (Phi-3's MLP): Split
    dict(mode="glu", packed=True, sparsity=0.8),
    dict(mode="glu", packed=True, gemm=True, opset=18),   # nn.Linear, Split(num_outputs)
    dict(mode="glu", packed=True, three_d=True, bias=False),
    dict(mode="cats", packed=True, bias=False),                # CATS on a fused gate_up
    dict(mode="glu", packed="slice", sparsity=0.5),            # TorchScript's chunk: Slices
    dict(mode="glu", packed="slice", gemm=True),
    dict(mode="glu", packed="slice", three_d=True, bias=False),
])
def test_sparse_ffn_fuses_and_matches(tmp_path, kw):
    """One static token takes the sparse path; a dynamic token count the
    dense one (checked at 1, 7 and 64 tokens)."""
    kw = {"hidden": 64, "inner": 256, **kw}
    for tokens in [1, "T"]:
        path = models.sparse_ffn(str(tmp_path / f"ffn_{tokens}.onnx"), tokens=tokens, **kw)
        model, report = compile_with_report(tmp_path, path, f"ffn_{tokens}")
        assert report["fusions"]["activation_sparsity"] == 1, report
        assert report["unfused"] == []
        check(model, path, kw["hidden"], tokens=(1,) if tokens == 1 else (1, 7, 64),
              three_d=kw.get("three_d", False))


def test_no_active_neuron(tmp_path):
    """Every neuron inactive for some token: the output is the down bias."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=128, tokens=1,
                             sparsity=0.9999)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 1
    check(model, path, 64, tokens=(1,))


def test_disabled_fusion_matches(tmp_path):
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=256, mode="glu",
                             tokens=1, sparsity=0.7)
    fused, _ = compile_with_report(tmp_path, path, "fused")
    plain, report = compile_with_report(tmp_path, path, "plain",
                                        disable_fusion=["activation_sparsity"])
    assert report["fusions"]["activation_sparsity"] == 0
    x = np.random.default_rng(2).standard_normal((1, 64)).astype(np.float32)
    np.testing.assert_allclose(fused.run({"x": x})["y"], plain.run({"x": x})["y"],
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kw,reason", [
    (dict(extra_output=True), "the activation is also used elsewhere"),
    (dict(mode="threshold", threshold_input=True), "the activation threshold is not a constant"),
    (dict(mode="threshold", inactive_value=0.5), "inactive neurons take a non-zero value"),
])
def test_near_misses(tmp_path, kw, reason):
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=128, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 0
    (miss,) = report["unfused"]
    assert miss["family"] == "activation_sparsity" and reason in miss["reason"], miss
    extra = {"t": np.array(0.25, np.float32)} if kw.get("threshold_input") else None
    check(model, path, 64, extra=extra)


def test_gelu_ffn_is_not_sparse(tmp_path):
    """Dense activations (GELU, SiLU) have no exact zeros: no fusion, no
    near-miss noise in the report."""
    path = models.ffn_block(str(tmp_path / "ffn.onnx"), 64, 256)
    _, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 0


@pytest.mark.parametrize("form", models.THRESHOLD_FORMS)
@pytest.mark.parametrize("tokens", [1, "T"])
def test_threshold_spellings(tmp_path, form, tokens):
    """FATReLU as exporters spell it (Where of Greater / Less / >=,
    masked_fill's Where(h <= t, 0, h), Not, h * float(h > t)) fuses with
    the same meaning: `>=` keeps h == t (the threshold becomes the float
    below t), checked with gates exactly at t."""
    from conftest import ort_run
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=256, tokens=tokens,
                             mode="threshold", threshold_form=form, threshold=0.25, bias=False)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 1, report
    assert report["unfused"] == []
    check(model, path, 64, tokens=(1,) if tokens == 1 else (1, 7))
    # Gates exactly at the threshold: x = e_0 / w1[0, j] * t puts h_j = t
    # for the neurons j where that is exact in float32.
    import onnx
    from onnx import numpy_helper
    w1 = next(numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer
              if i.name == "fc1.weight")
    x = np.zeros((1, 64), np.float32)
    j = int(np.argmax(np.abs(w1[0])))
    x[0, 0] = np.float32(0.25) / w1[0, j]
    assert np.float32(x[0, 0] * w1[0, j]) == np.float32(0.25)
    ours, ref = model.run({"x": x})["y"], ort_run(path, {"x": x})["y"]
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("form", ["where", "masked_fill", "mul_mask", "where_zeros", "where_ge"])
@pytest.mark.parametrize("act,glu", [("silu", True), ("gelu", True), ("silu", False)])
@pytest.mark.parametrize("tokens", [1, "T"])
def test_cats_magnitude_threshold(tmp_path, form, act, glu, tokens):
    """CATS: the gate activation g = silu(x Wg) (or GELU) kept where |g| > t,
    in the threshold spellings (key Abs(g)), times the linear part: one
    sparsa.sparse_ffn in mode abs_threshold, matching ONNX Runtime for one
    token (the sparse path) and several (dense)."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=256, tokens=tokens,
                             mode="cats", cats_act=act, glu=glu, threshold=0.3,
                             threshold_form=form)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 1, report
    assert report["unfused"] == []
    check(model, path, 64, tokens=(1,) if tokens == 1 else (1, 7, 64))


@pytest.mark.parametrize("form", ["where", "masked_fill", "mul_mask"])
def test_cats_nan_and_cut_values(tmp_path, form):
    """CATS's NaN gate follows the spelling (dropped by Where(|g| > t),
    kept by masked_fill and the mask product), as ONNX Runtime computes
    it; and a gate whose magnitude is exactly t is dropped."""
    from conftest import ort_run
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=128, tokens=1,
                             mode="cats", threshold=0.3, threshold_form=form, bias=False)
    model, _ = compile_with_report(tmp_path, path)
    x = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)
    x[0, 7] = np.nan
    ours, ref = model.run({"x": x})["y"], ort_run(path, {"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[~np.isnan(ours)], ref[~np.isnan(ref)], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kw,reason", [
    (dict(threshold_input=True), "not a constant"),
    (dict(inactive_value=0.5), "non-zero value"),
])
def test_cats_near_misses(tmp_path, kw, reason):
    """A CATS cut by a model input, or filling dropped neurons with a
    non-zero value, stays unfused and says why."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=128, mode="cats",
                             **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 0
    assert any(reason in u["reason"] for u in report["unfused"]), report["unfused"]
    extra = {"t": np.array(0.3, np.float32)} if kw.get("threshold_input") else None
    check(model, path, 64, extra=extra)


@pytest.mark.parametrize("mode,form", [("relu", "where"), ("threshold", "where"),
                                       ("threshold", "masked_fill"),
                                       ("threshold", "mul_mask"), ("threshold", "not_le")])
def test_nan_propagates_like_onnx_runtime(tmp_path, mode, form):
    """ReLU passes NaN on (max(NaN, 0) = NaN); Where(h > t, h, 0) drops it
    (NaN > t is false) while masked_fill(h <= t, 0), Not(h <= t) and
    h * float(h > t) keep it. The sparse path must agree with ONNX
    Runtime."""
    from conftest import ort_run
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=128, tokens=1,
                             mode=mode, threshold_form=form)
    model, _ = compile_with_report(tmp_path, path)
    x = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)
    x[0, 5] = np.nan
    ours, ref = model.run({"x": x})["y"], ort_run(path, {"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[~np.isnan(ours)], ref[~np.isnan(ref)], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kw", [
    dict(core=32),                                     # CoreInfer: index set input
    dict(core=32, gemm=True, mode="silu"),             # nn.Linear weights, SiLU
    dict(core=16, tokens=1, predictor_rank=8, mode="gelu"),  # Deja Vu predictor
    dict(core=16, tokens=1, predictor_rank=8, gemm="transpose"),  # x @ W[idx].t()
    dict(core=32, gemm="transpose", mode="silu", bias=False),
    dict(core=32, bias=False, tokens=1, mode="glu_free"),
])
def test_index_set_ffn(tmp_path, kw):
    """An FFN over a neuron index set fuses with any activation; negative
    indices wrap like ONNX Gather's."""
    kw = dict(kw)
    if kw.get("mode") == "glu_free":
        kw["mode"] = "relu"
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=256, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 1, report
    rng = np.random.default_rng(3)
    for t in ([1] if kw.get("tokens") == 1 else [1, 7, 64]):
        feeds = {"x": rng.standard_normal((t, 64)).astype(np.float32)}
        if not kw.get("predictor_rank"):
            idx = rng.choice(256, kw["core"], replace=False).astype(np.int64)
            idx[:4] -= 256  # the same neurons, written from the end
            feeds["idx"] = idx
        assert_matches_ort(model, path, feeds)


@pytest.mark.parametrize("hidden,inner,core", [(256, 1024, 300), (128, 2048, 400),
                                               (600, 1024, 200)])
def test_index_set_ffn_split_over_threads(tmp_path, hidden, inner, core):
    """Index sets big enough that their gathered axpy splits over threads
    (rows x hidden >= 32768). Under 512 columns the axpy is one op that
    sparsa-cpu-tile-parallel splits like a GEMV; its body reads the weight
    column with linalg.index, which the split must renumber (it once read
    the row loop instead: every output wrong)."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=hidden, inner=inner,
                             tokens=1, mode="silu", core=core, seed=5)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 1, report
    rng = np.random.default_rng(0)
    for _ in range(2):
        feeds = {"x": rng.standard_normal((1, hidden)).astype(np.float32),
                 "idx": np.sort(rng.choice(inner, core, replace=False)).astype(np.int64)}
        assert_matches_ort(model, path, feeds)


@pytest.mark.parametrize("tokens", [1, "T"])
def test_index_set_out_of_range_is_an_error(tmp_path, tokens):
    """An index outside [-F, F) fails the run with the node's name, as ONNX
    Runtime's Gather does (the kernels clamp it, so nothing is read out of
    bounds); negative indices within range count from the end; the model
    keeps working after the error."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=256, core=8,
                             tokens=tokens)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 1
    x = np.ones((1, 64), np.float32)
    for bad in (256, 10_000, -257):
        idx = np.array([0, 1, 2, 3, 4, 5, 6, bad], np.int64)
        with pytest.raises(sparsa.SparsaError,
                           match=r"neuron index of the index set is out of range \[-256, 256\)"):
            model.run({"x": x, "idx": idx})
    idx = np.array([0, 1, 2, 3, 4, 5, 6, -1], np.int64)
    assert_matches_ort(model, path, {"x": x, "idx": idx})


@pytest.mark.parametrize("kw", [dict(), dict(gemm=True), dict(bias=False, hidden=600, out=520),
                                dict(form="mul_mask"), dict(form="masked_fill"),
                                dict(form="where_ge", gemm=True)])
def test_input_sparsity_teal(tmp_path, kw):
    """TEAL: Where(|x| > t, x, 0) @ W; one token reads only the weight rows
    of the kept entries, more tokens run the masked dense matmul."""
    hidden = kw.get("hidden", 64)
    for tokens in [1, "T"]:
        path = models.teal(str(tmp_path / f"teal_{tokens}.onnx"), tokens=tokens, **kw)
        model, report = compile_with_report(tmp_path, path, f"teal_{tokens}")
        assert report["fusions"]["activation_sparsity"] == 1, report
        check(model, path, hidden, tokens=(1,) if tokens == 1 else (1, 7, 64))


def test_input_sparsity_threshold_input_is_a_near_miss(tmp_path):
    path = models.teal(str(tmp_path / "teal.onnx"), threshold_input=True)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 0
    (miss,) = report["unfused"]
    assert "input threshold is not a constant" in miss["reason"]
    check(model, path, 64, extra={"t": np.array(0.8, np.float32)})


@pytest.mark.parametrize("kw", [dict(), dict(gemm=True, hidden=600, inner=512),
                                dict(topk_form="mask"), dict(topk_form="abs_mask", gemm=True),
                                dict(topk_form="where"), dict(topk_form="abs_gather")])
def test_explicit_topk_activation(tmp_path, kw):
    """Explicit top-k: SiLU activation -> TopK -> ScatterElements into zeros
    -> down projection; one token adds only the k kept rows. Also as a 0/1
    (or bool) mask of the TopK's indices times the activation, the TopK over
    the activation or its magnitude (Q-Sparse), and as the activation's own
    entries gathered at |act|'s top-k and scattered."""
    hidden = kw.get("hidden", 64)
    kw = {"hidden": hidden, "inner": 256, **kw}
    for tokens in [1, "T"]:
        path = models.sparse_ffn(str(tmp_path / f"topk_{tokens}.onnx"), tokens=tokens,
                                 mode="topk", topk=24, **kw)
        model, report = compile_with_report(tmp_path, path, f"topk_{tokens}")
        assert report["fusions"]["activation_sparsity"] == 1, report
        assert not report["unfused"], report["unfused"]
        check(model, path, hidden, tokens=(1,) if tokens == 1 else (1, 7, 64))


def test_topk_mask_of_another_shape_is_not_fused(tmp_path):
    """Near miss: the top-k mask of a TopK over a different tensor than the
    activation keeps its ops and still matches (a mask broadcast over a
    wider activation is not a selection of the activation's neurons)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto as TP
    rng = np.random.default_rng(3)
    H, F, k = 32, 64, 8
    w1 = numpy_helper.from_array(rng.standard_normal((H, F)).astype(np.float32) / 6, "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((F, H)).astype(np.float32) / 8, "w2")
    kk = numpy_helper.from_array(np.array([k], np.int64), "k")
    zeros = numpy_helper.from_array(np.zeros((1, F), np.float32), "zeros")
    ones = numpy_helper.from_array(np.ones((1, k), np.float32), "ones")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]),
             helper.make_node("Relu", ["h"], ["a"]),
             # The TopK of token 0 only: one [1, F] mask broadcast over T tokens.
             helper.make_node("Slice", ["a", "s0", "s1"], ["a0"]),
             helper.make_node("TopK", ["a0", "k"], ["v", "i"], axis=-1),
             helper.make_node("ScatterElements", ["zeros", "i", "ones"], ["m"], axis=-1),
             helper.make_node("Mul", ["a", "m"], ["am"]),
             helper.make_node("MatMul", ["am", "w2"], ["y"])]
    inits = [w1, w2, kk, zeros, ones, numpy_helper.from_array(np.array([0], np.int64), "s0"),
             numpy_helper.from_array(np.array([1], np.int64), "s1")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [4, H])],
                              [helper.make_tensor_value_info("y", TP.FLOAT, [4, H])], inits)
    model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model_proto.ir_version = 8
    path = str(tmp_path / "bcast.onnx")
    onnx.save(model_proto, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 0
    assert any("mask and the activation differ in shape" in u["reason"]
               for u in report["unfused"]), report["unfused"]
    x = rng.standard_normal((4, H)).astype(np.float32)
    np.testing.assert_allclose(model.run({"x": x})["y"], ort_run(path, {"x": x})["y"],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["relu", "glu", "threshold", "drelu"])
@pytest.mark.parametrize("inactive", [0.99, 0.9, 0.5, 0.0001])
def test_densities_one_token(tmp_path, mode, inactive):
    """1 %, 10 %, 50 % and ~100 % active neurons (past 60 % the dense path
    runs): every density matches ONNX Runtime for batch 1 and 16."""
    for tokens in [1, 16]:
        path = models.sparse_ffn(str(tmp_path / f"d_{tokens}.onnx"), hidden=96, inner=512,
                                 tokens=tokens, mode=mode, sparsity=inactive, threshold=0.05)
        model, report = compile_with_report(tmp_path, path, f"d_{tokens}")
        assert report["fusions"]["activation_sparsity"] == 1
        check(model, path, 96, tokens=(tokens,))


@pytest.mark.parametrize("mode", ["topk", "core", "predictor", "teal"])
@pytest.mark.parametrize("density", [0.01, 0.1, 0.5, 1.0])
def test_densities_other_modes(tmp_path, mode, density):
    """The selected-neuron modes at 1 %, 10 %, 50 % and 100 % of the
    neurons (explicit top-k keeps them, an index set or a predictor's top-k
    lists them, a TEAL threshold keeps that share of the input), batch 1
    and 16 (the predictor form is one token), against ONNX Runtime."""
    from statistics import NormalDist
    hidden, inner = 96, 512
    k = max(1, int(round(density * inner)))
    for tokens in ([1] if mode == "predictor" else [1, 16]):
        path = str(tmp_path / f"{mode}_{tokens}.onnx")
        extra = None
        if mode == "topk":
            models.sparse_ffn(path, hidden=hidden, inner=inner, tokens=tokens, mode="topk",
                              topk=k)
        elif mode == "core":
            models.sparse_ffn(path, hidden=hidden, inner=inner, tokens=tokens, mode="silu",
                              core=k)
            extra = {"idx": np.sort(np.random.default_rng(k).choice(inner, k, replace=False))
                     .astype(np.int64)}
        elif mode == "predictor":
            models.sparse_ffn(path, hidden=hidden, inner=inner, tokens=1, mode="relu", core=k,
                              predictor_rank=16)
        else:  # |x| > t keeps ~density of a standard normal input
            t = NormalDist().inv_cdf(1 - density / 2) if density < 1 else 0.0
            hidden = inner
            models.teal(path, hidden=inner, out=96, tokens=tokens, threshold=t)
        model, report = compile_with_report(tmp_path, path, f"{mode}_{tokens}")
        assert report["fusions"]["activation_sparsity"] == 1, report
        check(model, path, hidden, tokens=(tokens,), extra=extra)


# --------------------------------------------------------------------------
# Quantized sparse FFNs: MatMulNBits -> ReLU / threshold -> MatMulNBits
# --------------------------------------------------------------------------

def dequantized_nbits(model_path, name, bits, block, K, N):
    """The float [K, N] weight a MatMulNBits node |name| holds, in float64."""
    import onnx
    from onnx import numpy_helper
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(model_path).graph.initializer}
    B = inits[name + "_B"].reshape(N, -1)
    kb = -(-K // block)
    per = 8 // bits
    codes = np.zeros((N, B.shape[1] * per), np.float64)
    for i in range(per):
        codes[:, i::per] = (B >> (i * bits)) & ((1 << bits) - 1)
    zp = inits.get(name + "_z")
    if zp is None:
        z = np.full((N, kb), 1 << (bits - 1))
    else:
        zp = zp.reshape(N, -1)
        z = np.zeros((N, zp.shape[1] * per))
        for i in range(per):
            z[:, i::per] = (zp >> (i * bits)) & ((1 << bits) - 1)
        z = z[:, :kb]
    s = inits[name + "_s"].reshape(N, kb)
    w = (codes.reshape(N, kb, block) - z[..., None]) * s[..., None]
    return w.reshape(N, -1)[:, :K].T, inits


@pytest.mark.parametrize("bits,block,zp_mode,act,hidden,inner", [
    (4, 32, "packed", "relu", 64, 256),
    (4, 32, "none", "threshold", 64, 256),   # FATReLU, default zero points
    (4, 32, "packed", "relu2", 64, 256),     # squared ReLU
    (8, 16, "packed", "relu", 96, 200),      # 8-bit; inner not a multiple of the block
    (4, 64, "packed", "relu", 128, 320),     # blocks of 64
    (2, 32, "packed", "relu", 64, 128),      # 2-bit
    (4, 32, "packed", "relu", 72, 256),      # outputs not a multiple of 32 (column tails)
])
@pytest.mark.parametrize("sparsity", [0.99, 0.9, 0.5, 0.0])
def test_quantized_sparse_ffn(tmp_path, bits, block, zp_mode, act, hidden, inner, sparsity):
    """An int4 / int8 FFN (MatMulNBits up with its bias, ReLU or a threshold,
    MatMulNBits down, Add bias) fuses into one quantized sparse FFN (the
    report shows it; the MatMulNBits are gone); one token reads only the
    active neurons' rows of packed codes, a few tokens do so one at a time,
    more run the dense GEMMs on the packed codes. Matches
    the fp32-dequantized numpy reference and ONNX Runtime, from 1 % to
    100 % active neurons."""
    check_nbits_ffn(tmp_path, bits, block, zp_mode, act, hidden, inner, sparsity)


def with_output(path, name, shape, out):
    """|path| with its intermediate |name| [shape] f32 also a graph output
    (a near miss: the value is used outside the pattern), saved to |out|."""
    import onnx
    from onnx import helper
    m = onnx.load(path)
    m.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape))
    onnx.save(m, out)


def expect_unfused(tmp_path, name, reason):
    """Compiles tmp_path/NAME.onnx: no sparse FFN, the report's reason at the
    Relu, the result still ONNX Runtime's; returns the report."""
    path = str(tmp_path / f"{name}.onnx")
    model, report = compile_with_report(tmp_path, path, name)
    assert report["fusions"]["activation_sparsity"] == 0
    assert {"family": "activation_sparsity", "node": "/act/Relu", "op": "onnx.Relu",
            "reason": reason} in report["unfused"]
    x = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x}, atol=1e-4, rtol=1e-4)
    return report


def check_nbits_ffn(tmp_path, bits, block, zp_mode, act, hidden, inner, sparsity, glu=""):
    """Builds the quantized (GLU) FFN for one token and for a dynamic token
    count, checks that it fuses into one sparse FFN, and compares 1, 3, 20
    and 70 tokens with the fp32-dequantized numpy reference and ONNX
    Runtime (20 tokens run per token or, with many active neurons, the
    dense path; 70 the dense path: the gate's packed GEMM and the down
    projection's dequantizing GEMM)."""
    for tokens in [1, "T"]:
        path = models.nbits_sparse_ffn(
            str(tmp_path / f"q_{tokens}.onnx"), hidden, inner, bits=bits, block=block,
            zp_mode=zp_mode, sparsity=sparsity, act=act,
            threshold=0.25 if act == "threshold" else 0.0, tokens=tokens, glu=glu)
        model, report = compile_with_report(tmp_path, path, f"q_{tokens}")
        assert report["fusions"]["activation_sparsity"] == 1, report
        assert report["fusions"]["quantization"] == 0, report
        assert report["unfused"] == [], report["unfused"]
        w1, inits = dequantized_nbits(path, "fc1", bits, block, hidden, inner)
        w2, _ = dequantized_nbits(path, "fc2", bits, block, inner, hidden)
        w3 = dequantized_nbits(path, "fc3", bits, block, hidden, inner)[0] if glu else None
        for t in ((1,) if tokens == 1 else (1, 3, 20, 70)):
            x = np.random.default_rng(t).standard_normal((t, hidden)).astype(np.float32)
            h = x.astype(np.float64) @ w1 + inits["fc1_bias"]
            a = np.where(h > 0.25, h, 0.0) if act == "threshold" else np.maximum(h, 0)
            if act == "relu2":
                a = a * a
            if glu:
                a = a * (x.astype(np.float64) @ w3 + inits["fc3_bias"])
            ref = a @ w2 + inits["fc2_b2"]
            ours = model.run({"x": x})["y"]
            np.testing.assert_allclose(ours, ref, atol=2e-5 * max(1.0, np.abs(ref).max()),
                                       rtol=1e-4)
            assert_matches_ort(model, path, {"x": x}, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bits,block,zp_mode,act,hidden,inner,glu", [
    (4, 32, "packed", "relu", 64, 256, "au"),
    (4, 32, "none", "threshold", 64, 256, "ua"),  # FATReLU gate, default zero points
    (4, 64, "packed", "relu", 128, 320, "au"),     # blocks of 64; inner not a multiple
    (4, 32, "packed", "relu", 72, 256, "ua"),      # hidden not a multiple of the block
    (8, 16, "packed", "relu", 96, 200, "au"),      # 8-bit: the reference loops
])
@pytest.mark.parametrize("sparsity", [0.99, 0.9, 0.5, 0.0])
def test_quantized_glu_ffn(tmp_path, bits, block, zp_mode, act, hidden, inner, glu, sparsity):
    """A ReLU-gated GLU (ProSparse) with MatMulNBits gate, linear part and
    down projection, Mul in either order, fuses into one quantized sparse
    FFN; one token reads only the active neurons' rows of the linear part
    (gathered dot products with packed rows) and of the down projection.
    Matches the fp32-dequantized numpy reference and ONNX Runtime from 1 %
    to 100 % active neurons, for 1, 3 and 20 tokens."""
    check_nbits_ffn(tmp_path, bits, block, zp_mode, act, hidden, inner, sparsity, glu)


def test_quantized_glu_ffn_non_finite_input(tmp_path):
    """An Inf in x reaches the gathered dot products of the GLU's linear
    part: IEEE semantics (the reference loops), as ONNX Runtime computes
    them, not the NaN the zero-point algebra would give."""
    path = models.nbits_sparse_ffn(str(tmp_path / "g.onnx"), 64, 256, sparsity=0.5, glu="au")
    model, _ = compile_with_report(tmp_path, path, "g")
    x = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)
    x[0, 5] = np.inf
    assert_matches_ort(model, path, {"x": x}, atol=1e-4, rtol=1e-4)


def test_quantized_glu_near_misses(tmp_path):
    """The GLU's linear part also an output, or quantized with another
    block size: no sparse FFN (the MatMulNBits stay quantized matmuls) and
    the report says why."""
    path = models.nbits_sparse_ffn(str(tmp_path / "g.onnx"), 64, 128, sparsity=0.9, glu="au")
    with_output(path, "u", [1, 128], str(tmp_path / "used.onnx"))
    report = expect_unfused(tmp_path, "used",
                            "the GLU's product or its linear part is also used elsewhere")
    assert report["fusions"]["quantization"] == 3
    requantized(path, str(tmp_path / "blocks.onnx"), "fc3", (64, 128), 16)
    expect_unfused(tmp_path, "blocks", "the GLU's MatMulNBits use different bit widths or "
                   "block sizes")


@pytest.mark.parametrize("sparsity", [0.9, 0.0])
def test_quantized_sparse_ffn_int8_activations(tmp_path, sparsity):
    """--int8-activations reaches the gate of a quantized sparse FFN: its
    input is quantized to int8 per block of the weights (the VNNI packed
    GEMV, MatMulNBits' accuracy_level 4) while the down projection keeps
    float activations. Checked against that arithmetic in numpy (the
    fp32-dequantized weights), for one token (active rows only) and 16."""
    hidden, inner, block = 128, 512, 32
    for tokens, counts in ((1, (1,)), ("T", (1, 16))):
        path = models.nbits_sparse_ffn(str(tmp_path / f"q_{tokens}.onnx"), hidden, inner,
                                       block=block, sparsity=sparsity, tokens=tokens)
        model, report = compile_with_report(tmp_path, path, f"q_{tokens}",
                                            int8_activations=True)
        assert report["fusions"]["activation_sparsity"] == 1, report
        check_int8_gate(model, path, hidden, inner, block, counts)


def check_int8_gate(model, path, hidden, inner, block, counts):
    w1, inits = dequantized_nbits(path, "fc1", 4, block, hidden, inner)
    w2, _ = dequantized_nbits(path, "fc2", 4, block, inner, hidden)
    for t in counts:
        x = np.random.default_rng(t).standard_normal((t, hidden)).astype(np.float32)
        h = int8_rows(x, block) @ w1 + inits["fc1_bias"]
        ref = np.maximum(h, 0) @ w2 + inits["fc2_b2"]
        ours = model.run({"x": x})["y"]
        np.testing.assert_allclose(ours, ref, atol=2e-4 * np.abs(ref).max(), rtol=1e-4)
        # And within int8 rounding of the float result.
        exact = np.maximum(x.astype(np.float64) @ w1 + inits["fc1_bias"], 0) @ w2 \
            + inits["fc2_b2"]
        assert np.abs(ours - exact).max() < 0.05 * np.abs(exact).max()


def requantized(path, out, name, shape, block):
    """|path| saved as |out| with MatMulNBits "/NAME/MatMulNBits" re-quantized
    (random weights of |shape| [K, N], packed zero points) in blocks of
    |block|."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    node = next(n for n in m.graph.node if n.name == f"/{name}/MatMulNBits")
    for a in node.attribute:
        if a.name == "block_size":
            a.i = block
    inits = {t.name: t for t in m.graph.initializer}
    w = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    B, sc, z = models.quantize_nbits(w, 4, block, "packed")
    for suffix, arr in (("_B", B), ("_s", sc.reshape(-1)), ("_z", z)):
        inits[name + suffix].CopyFrom(numpy_helper.from_array(arr, name + suffix))
    onnx.save(m, out)
    return out


def test_quantized_sparse_ffn_near_misses(tmp_path):
    """The gate used elsewhere, or the two projections quantized with
    different block sizes: the MatMulNBits stay quantized matmuls (fused by
    the quantization family) and the report says why the FFN did not."""
    path = models.nbits_sparse_ffn(str(tmp_path / "q.onnx"), 64, 128, sparsity=0.9)
    with_output(path, "a", [1, 128], str(tmp_path / "used.onnx"))
    report = expect_unfused(tmp_path, "used", "the activation is also used elsewhere")
    assert report["fusions"]["quantization"] == 2
    # Down projection re-quantized with blocks of 16 (the up one keeps 32).
    requantized(path, str(tmp_path / "blocks.onnx"), "fc2", (128, 64), 16)
    expect_unfused(tmp_path, "blocks", "the two MatMulNBits use different bit widths or block "
                   "sizes")


def test_index_set_ffn_with_quick_gelu_is_a_near_miss(tmp_path):
    """An index-set FFN (W1[:, idx], W2[idx]) whose activation is a scaled
    SiLU (quick GELU): sparsa.sparse_ffn has no such activation, so the
    report says why and the graph runs as written."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(3)
    c = lambda n, v: numpy_helper.from_array(np.asarray(v), n)  # noqa: E731
    nodes = [
        helper.make_node("Gather", ["w1", "idx"], ["w1i"], name="g1", axis=1),
        helper.make_node("MatMul", ["x", "w1i"], ["h"], name="fc1"),
        helper.make_node("Mul", ["h", "k"], ["hk"], name="scale"),
        helper.make_node("Sigmoid", ["hk"], ["s"], name="sig"),
        helper.make_node("Mul", ["h", "s"], ["a"], name="act"),
        helper.make_node("Gather", ["w2", "idx"], ["w2i"], name="g2", axis=0),
        helper.make_node("MatMul", ["a", "w2i"], ["y"], name="fc2"),
    ]
    inits = [c("w1", (rng.standard_normal((16, 64)) / 4).astype(np.float32)),
             c("w2", (rng.standard_normal((64, 16)) / 8).astype(np.float32)),
             c("k", np.array(1.702, np.float32))]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16]),
                     helper.make_tensor_value_info("idx", TensorProto.INT64, ["K"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])], inits)
    path = str(tmp_path / "ffn.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    model, report = compile_with_report(tmp_path, path)
    assert report["fusions"]["activation_sparsity"] == 0
    (miss,) = report["unfused"]
    assert "quick GELU" in miss["reason"], miss
    feeds = {"x": rng.standard_normal((1, 16)).astype(np.float32),
             "idx": np.array([3, 9, 40, 41, 63], np.int64)}
    assert_matches_ort(model, path, feeds)
