"""Dense softmax attention end to end: the MatMul / scale / mask / Softmax /
MatMul chain in the spellings exporters use fuses into sparsa.attention
(reported under kernel_fusions) and matches ONNX Runtime on the original
graph: block-wise scores in both layouts (many query rows: [Lk, rows];
decoding: [rows, Lk]), uneven blocks, masks, dynamic shapes; near misses
keep their ops."""

import numpy as np
import pytest

from conftest import assert_matches_ort, compile_with_report
from sparsa import models


def feeds_for(rng, q_shape, k_shape, v_shape, mask_shape=None):
    f = {"q": rng.standard_normal(q_shape).astype(np.float32),
         "k": rng.standard_normal(k_shape).astype(np.float32),
         "v": rng.standard_normal(v_shape).astype(np.float32)}
    if mask_shape is not None:
        m = np.zeros(mask_shape, np.float32)
        m[..., -3:] = -np.inf          # the last keys padded out
        f["mask"] = m
    return f


def shapes(batch, heads, seq, kv_seq, d, dv, merged=False, key_layout="transpose"):
    lead = [batch * heads] if merged else [batch, heads]
    k = lead + ([d, kv_seq] if key_layout == "input_kt" else [kv_seq, d])
    return lead + [seq, d], k, lead + [kv_seq, dv]


CASES = [
    dict(),                                         # HF eager: Div by sqrt(d)
    dict(scale="mul"),
    dict(scale="sdpa"),                             # torch SDPA export: d**-0.25 on q and k^T
    dict(scale="none"),
    dict(mask="causal"),
    dict(mask="padding"),
    dict(merged_heads=True),                        # rank 3 [B*H, L, d]
    dict(key_layout="input_kt"),                    # k already [.., d, L]
    dict(key_layout="input_kt", seq=1, kv_seq=37),  # ... decoding
    dict(seq=1, kv_seq=37),                         # decoding: dot products
    dict(seq=4, kv_seq=9, mask="causal"),
    dict(seq=70, kv_seq=45, value_dim=48),          # uneven row blocks, Dv != d
    dict(seq=130, kv_seq=130, mask="padding", scale="sdpa"),
    dict(scale="shape"),                            # q.shape[-1] ** 0.5 (dynamic axes)
    dict(mask="masked_fill"),                       # masked_fill(j > i, -inf) from Ranges
    dict(mask="masked_fill", seq=1, kv_seq=1),
    dict(mask="keep", scale="shape", seq=33),       # Where(keep, scores, -inf)
    dict(mask="padding", scale="sdpa", nan_guard=True),  # dynamo: Where(IsNaN(p), 0, p)
    dict(seq=1, kv_seq=37, nan_guard=True, opset=20),
    # GPT-OSS's attention sinks: a per-head logit in the softmax, its column
    # sliced off after it (with and without the row max subtracted first)
    dict(sinks="max", mask="causal"),
    dict(sinks="plain", mask="padding", scale="mul"),
    dict(sinks="max", seq=1, kv_seq=37, opset=18),             # decoding
    dict(sinks="max", seq=70, kv_seq=70, mask="masked_fill"),  # uneven blocks
]


@pytest.mark.parametrize("kw", CASES)
def test_attention_fuses_and_matches(tmp_path, kw):
    kw = {"seq": 64, "heads": 2, "head_dim": 32, "batch": 2, **kw}
    path = models.attention(str(tmp_path / "attn.onnx"), **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1, report
    seq, kv = kw["seq"], kw.get("kv_seq", kw["seq"])
    d, dv = kw["head_dim"], kw.get("value_dim") or kw["head_dim"]
    q, k, v = shapes(kw["batch"], kw["heads"], seq, kv, d, dv, kw.get("merged_heads", False),
                     kw.get("key_layout", "transpose"))
    mask = [kw["batch"], 1, 1, kv] if kw.get("mask") == "padding" else None
    feeds = feeds_for(np.random.default_rng(0), q, k, v, mask)
    if kw.get("mask") == "keep":
        keep = np.random.default_rng(1).random((kw["batch"], 1, 1, kv)) < 0.7
        keep[..., 0] = True  # no row without a key
        feeds["keep"] = keep
    assert_matches_ort(model, path, feeds)


def test_dynamic_shapes(tmp_path):
    """Symbolic batch and sequence: one library, several sizes (blocks of
    64 rows and a partial one)."""
    path = models.attention(str(tmp_path / "attn.onnx"), seq="S", heads=2, head_dim=16,
                            batch="B", mask="padding")
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1
    for b, s in [(1, 1), (2, 5), (1, 64), (3, 67)]:
        q, k, v = shapes(b, 2, s, s, 16, 16)
        assert_matches_ort(model, path,
                           feeds_for(np.random.default_rng(s), q, k, v, [b, 1, 1, s]))


def test_nan_and_fully_masked_rows_propagate(tmp_path):
    """A NaN in a query and a query row whose keys are all masked give NaN
    rows, as ONNX Runtime computes them; other rows are unaffected."""
    path = models.attention(str(tmp_path / "attn.onnx"), seq=8, heads=1, head_dim=16,
                            batch=2, mask="padding")
    model, _ = compile_with_report(tmp_path, path)
    f = feeds_for(np.random.default_rng(1), [2, 1, 8, 16], [2, 1, 8, 16], [2, 1, 8, 16],
                  [2, 1, 1, 8])
    f["q"][0, 0, 3, 5] = np.nan
    f["mask"][1] = -np.inf
    out = assert_matches_ort(model, path, f)["y"]
    assert np.isnan(out[0, 0, 3]).all() and np.isnan(out[1]).all()
    assert np.isfinite(out[0, 0, [0, 1, 2, 4, 5, 6, 7]]).all()


def test_nan_guard_zeroes_fully_masked_rows(tmp_path):
    """Under the dynamo exporter's Where(IsNaN(p), 0, p), a query row whose
    keys are all masked with -inf, and one with a NaN score, give zeros
    (NaN without the guard, above); the fused op keeps the guard's
    meaning."""
    path = models.attention(str(tmp_path / "attn.onnx"), seq=8, heads=1, head_dim=16,
                            batch=2, mask="padding", nan_guard=True)
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1, report
    f = feeds_for(np.random.default_rng(1), [2, 1, 8, 16], [2, 1, 8, 16], [2, 1, 8, 16],
                  [2, 1, 1, 8])
    f["q"][0, 0, 3, 5] = np.nan
    f["mask"][1] = -np.inf
    out = assert_matches_ort(model, path, f)["y"]
    assert (out[0, 0, 3] == 0).all() and (out[1] == 0).all()
    assert np.isfinite(out[0, 0, [0, 1, 2, 4, 5, 6, 7]]).all()
    assert (np.abs(out[0, 0, [0, 1, 2, 4, 5, 6, 7]]) > 0).any()


def test_sinks_keep_fully_masked_rows_finite(tmp_path):
    """With a sink, a query row whose keys are all masked has all its
    probability on the sink: (about) zeros, not NaN, as ONNX Runtime computes
    the original graph; the other rows weigh their keys by less than one."""
    path = models.attention(str(tmp_path / "attn.onnx"), seq=8, heads=2, head_dim=16,
                            batch=2, mask="padding", sinks="max")
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1, report
    f = feeds_for(np.random.default_rng(4), [2, 2, 8, 16], [2, 2, 8, 16], [2, 2, 8, 16],
                  [2, 1, 1, 8])
    f["mask"][1] = -np.inf
    out = assert_matches_ort(model, path, f)["y"]
    # (masked keys weigh 2^-126 at most in the fused kernel, not 0)
    assert np.abs(out[1]).max() < 1e-30 and np.isfinite(out[0]).all()
    assert (np.abs(out[0]) > 1e-3).any()


@pytest.mark.parametrize("kw,why", [
    (dict(return_probs=True), "the probabilities are a graph output"),
    (dict(softmax_axis=2), "softmax over the query axis is not attention"),
    (dict(sinks="keys"), "the sink column sliced off by [0, L), not [0, -1)"),
])
def test_near_misses_keep_their_ops(tmp_path, kw, why):
    path = models.attention(str(tmp_path / "attn.onnx"), seq=16, heads=2, head_dim=8, **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 0, why
    q, k, v = shapes(1, 2, 16, 16, 8, 8)
    assert_matches_ort(model, path, feeds_for(np.random.default_rng(2), q, k, v))


def test_disable_fusion(tmp_path):
    path = models.attention(str(tmp_path / "attn.onnx"), seq=32, heads=2, head_dim=16)
    fused, _ = compile_with_report(tmp_path, path, "fused")
    plain, report = compile_with_report(tmp_path, path, "plain", disable_fusion=["attention"])
    assert report["kernel_fusions"]["attention"] == 0
    f = feeds_for(np.random.default_rng(3), *shapes(1, 2, 32, 32, 16, 16))
    np.testing.assert_allclose(fused.run(f)["y"], plain.run(f)["y"], rtol=1e-4, atol=1e-5)
