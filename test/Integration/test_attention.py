"""Dense softmax attention end to end: the MatMul / scale / mask / Softmax /
MatMul chain in the spellings exporters use fuses into sparsa.attention
(reported under kernel_fusions) and matches ONNX Runtime on the original
graph: block-wise scores in both layouts (many query rows: [Lk, rows];
decoding: [rows, Lk]), uneven blocks, masks, dynamic shapes; near misses
keep their ops."""

import re

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


LOWEST = np.finfo(np.float32).min


def full_mask(batch, seq, kv, rng):
    """transformers' 4-D mask [batch, 1, seq, kv] (query i at position
    i + kv - seq): batch 0 causal with its first 37 positions padded out
    (left padding) in float32's lowest, so its first query rows keep no
    key at all; the others causal in -inf with random holes."""
    i = np.arange(seq)[:, None] + (kv - seq)
    j = np.arange(kv)[None, :]
    m = np.zeros((batch, 1, seq, kv), np.float32)
    m[0, 0] = np.where((j <= i) & (j >= 37) & (i >= 37), 0.0, LOWEST)
    for b in range(1, batch):
        hide = (j > i) | (rng.random((seq, kv)) < 0.2)
        hide[:, 0] = False
        m[b, 0] = np.where(hide, -np.inf, 0.0)
    return m


def bias_mask(heads, seq, kv, rng):
    """A per-head additive bias [1, heads, seq, kv]: head 0 causal (-inf)
    plus random values, the others ALiBi's -slope * distance (every key
    kept)."""
    i = np.arange(seq)[:, None] + (kv - seq)
    j = np.arange(kv)[None, :]
    m = np.empty((1, heads, seq, kv), np.float32)
    m[0, 0] = np.where(j > i, -np.inf, rng.standard_normal((seq, kv)))
    for h in range(1, heads):
        m[0, h] = -(0.5 ** h) * np.abs(i - j)
    return m


# Masks over several blocks of 64 query rows: each block computes only the
# keys some row of it keeps, and adds the mask only where it is not 0.
MASK_CASES = [
    dict(seq=200, mask="causal"),                          # 4 blocks, the last of 8 rows
    dict(seq=128, kv_seq=300, mask="causal", mask_value="min"),  # keys before: a cache
    dict(seq=256, mask="sliding", window=40, mask_value="min"),  # Mistral's window
    dict(seq=250, mask="sliding", window=70),
    dict(seq=192, mask="masked_fill"),
    dict(seq=192, mask="full"),
    dict(seq=100, kv_seq=130, mask="bias"),
    dict(seq=3, kv_seq=300, mask="full"),                  # decoding rows: dot products
    dict(seq=1, kv_seq=300, mask="full"),
    dict(seq=200, mask="causal", merged_heads=True),
    dict(seq=96, head_dim=24, value_dim=40, mask="full"),  # D, Dv not multiples of 16
    dict(seq=200, mask="causal", sinks="max"),
]


@pytest.mark.parametrize("kw", MASK_CASES)
def test_masked_keys_skipped_match(tmp_path, kw):
    kw = {"heads": 2, "head_dim": 32, "batch": 2, **kw}
    path = models.attention(str(tmp_path / "attn.onnx"), **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1, report
    seq, kv = kw["seq"], kw.get("kv_seq", kw["seq"])
    d, dv = kw["head_dim"], kw.get("value_dim") or kw["head_dim"]
    q, k, v = shapes(kw["batch"], kw["heads"], seq, kv, d, dv, kw.get("merged_heads", False))
    rng = np.random.default_rng(5)
    feeds = feeds_for(rng, q, k, v)
    if kw["mask"] == "full":
        feeds["mask"] = full_mask(kw["batch"], seq, kv, rng)
    elif kw["mask"] == "bias":
        feeds["mask"] = bias_mask(kw["heads"], seq, kv, rng)
    out = assert_matches_ort(model, path, feeds)["y"]
    assert np.isfinite(out).all()


def test_skipped_keys_keep_edge_rows(tmp_path):
    """Rows a skipping kernel could get wrong, over 3 blocks of 64 rows:
    a row keeping no key in float32's lowest (ONNX Runtime: near-uniform
    weights over all keys), one keeping none in -inf (NaN), a NaN in the
    mask far from any kept key (NaN for its row), and a row keeping only
    the last key; each matches ONNX Runtime, and the other rows of their
    blocks stay finite."""
    seq = 160
    path = models.attention(str(tmp_path / "attn.onnx"), seq=seq, heads=1, head_dim=16,
                            batch=1, mask="full")
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1, report
    q, k, v = shapes(1, 1, seq, seq, 16, 16)
    f = feeds_for(np.random.default_rng(6), q, k, v)
    i = np.arange(seq)[:, None]
    j = np.arange(seq)[None, :]
    m = np.where(j <= i, 0.0, -np.inf).astype(np.float32)[None, None]
    m[0, 0, 10] = LOWEST        # block 0: keeps nothing, finite
    m[0, 0, 70] = -np.inf       # block 1: keeps nothing, -inf
    m[0, 0, 100, 150] = np.nan  # block 1: NaN past every kept key
    m[0, 0, 140, :] = -np.inf   # block 2: only the last key
    m[0, 0, 140, -1] = 0.0
    f["mask"] = m
    out = assert_matches_ort(model, path, f)["y"][0, 0]
    assert np.isnan(out[70]).all() and np.isnan(out[100]).all()
    ok = np.ones(seq, bool)
    ok[[70, 100]] = False
    assert np.isfinite(out[ok]).all()
    # The finite fully masked row weighs every key (about) equally.
    np.testing.assert_allclose(out[10], f["v"][0, 0].mean(axis=0), atol=0.2)
    np.testing.assert_allclose(out[140], f["v"][0, 0, -1], rtol=1e-5, atol=1e-6)


def test_key_batch_broadcast_and_run_checks(tmp_path):
    """K and V with their own symbolic batch: one batch of keys serves every
    query batch, as MatMul broadcasts it; a key batch that is neither 1 nor
    the query's, or values with other positions than the keys (ONNX Runtime
    refuses both), fail the run with a message naming the node instead of
    reading out of bounds."""
    import onnx
    import sparsa

    path = models.attention(str(tmp_path / "attn.onnx"), seq="S", heads=2, head_dim=8,
                            batch="B", mask="padding")
    m = onnx.load(path)
    for i in m.graph.input:
        if i.name in ("k", "v"):
            i.type.tensor_type.shape.dim[0].dim_param = "BK"
        if i.name == "v":
            i.type.tensor_type.shape.dim[2].dim_param = "SV"
    onnx.save(m, path)
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1, report
    rng = np.random.default_rng(8)

    def feeds(b, bk, s, sv):
        f = {"q": rng.standard_normal((b, 2, s, 8)).astype(np.float32),
             "k": rng.standard_normal((bk, 2, s, 8)).astype(np.float32),
             "v": rng.standard_normal((bk, 2, sv, 8)).astype(np.float32),
             "mask": np.zeros((b, 1, 1, s), np.float32)}
        f["mask"][0, ..., -2:] = -np.inf
        return f

    for b, bk, s in [(3, 1, 70), (2, 2, 5), (1, 1, 130)]:
        assert_matches_ort(model, path, feeds(b, bk, s, s))
    for args in [(3, 2, 9, 9), (2, 2, 9, 7)]:
        with pytest.raises(sparsa.SparsaError) as e:
            model.run(feeds(*args))
        assert "/attn/MatMul_1" in str(e.value) and "leading (batch, head) sizes" in str(e.value)


# Grouped-query attention: k and v with fewer heads, repeated per query head
# as transformers' repeat_kv exports; the op reads the kv heads themselves.
GQA_CASES = [
    (dict(heads=8, kv_heads=2, seq=100, mask="padding"), True),
    (dict(heads=4, kv_heads=1, seq=1, kv_seq=50), True),          # decoding, one kv head
    (dict(heads=4, kv_heads=2, seq=130, mask="causal", value_dim=24), True),
    (dict(heads=6, kv_heads=3, seq="S", batch="B", mask="padding"), True),
    # The Reshape's sizes read from q's shape: not provably the kv heads
    # merged, so the repeated copies stay (still fused, still right).
    (dict(heads=8, kv_heads=2, seq=40, repeat_sizes="query"), False),
]


@pytest.mark.parametrize("kw,peeled", GQA_CASES)
def test_grouped_query_heads_read_once(tmp_path, kw, peeled):
    import sparsa

    kw = {"head_dim": 16, "batch": 2, **kw}
    path = models.attention(str(tmp_path / "attn.onnx"), **kw)
    model, report = compile_with_report(tmp_path, path)
    assert report["kernel_fusions"]["attention"] == 1, report
    fused = sparsa.compile(path, str(tmp_path / "fused.mlir"), emit="mlir-fused")
    op = next(line for line in open(fused) if "sparsa.attention" in line)
    # The key's and value's head dims: the kv heads when read unrepeated.
    types = re.findall(r"tensor<([^>]*)>", op.split(": (", 1)[1])
    heads = kw["kv_heads"] if peeled else kw["heads"]
    assert [t.split("x")[1] for t in types[1:3]] == [str(heads)] * 2, op
    dv = kw.get("value_dim") or kw["head_dim"]
    sizes = [(2, kw["seq"])] if isinstance(kw["seq"], int) else [(2, 70), (1, 1), (3, 5)]
    for b, s in sizes:
        kv = kw.get("kv_seq", s)
        rng = np.random.default_rng(s)
        feeds = {"q": rng.standard_normal((b, kw["heads"], s, 16)).astype(np.float32),
                 "k": rng.standard_normal((b, kw["kv_heads"], kv, 16)).astype(np.float32),
                 "v": rng.standard_normal((b, kw["kv_heads"], kv, dv)).astype(np.float32)}
        if kw.get("mask") == "padding":
            feeds["mask"] = np.zeros((b, 1, 1, kv), np.float32)
            feeds["mask"][0, ..., kv // 2 + 1:] = -np.inf
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
