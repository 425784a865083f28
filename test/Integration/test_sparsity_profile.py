"""The sparsity profiler: a library compiled with --instrument=sparsity
counts, per fused sparse FFN, the tokens, each token's active neurons and
each neuron's firings; sparsa-run --profile and Model.write_profile write
them; python -m sparsa.profile prints the per-layer table, draws the chart
and emits the CoreInfer core-neuron set. Every count is checked against
numpy on the same inputs."""

import json
import subprocess

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper, TensorProto

from conftest import ROOT, assert_matches_ort, compile_with_report, save, sparsa
from sparsa import models
from sparsa import profile as sprofile


def gate_weights(path):
    """W1 [H, F] and b1 [F] of the (single) FFN in a models.sparse_ffn file."""
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    w1 = next(v for k, v in inits.items() if k.endswith("fc1.weight"))
    b1 = next((v for k, v in inits.items() if k.endswith("fc1.bias")),
              np.zeros(w1.shape[1], np.float32))
    return w1, b1


def expected(x, w1, b1, threshold=None):
    h = x.astype(np.float64) @ w1.astype(np.float64) + b1
    active = h > (threshold if threshold is not None else 0.0)
    per_token = active.sum(1)
    F = w1.shape[1]
    hist = np.zeros(100, np.int64)
    for c in per_token:
        hist[min(99, c * 100 // F)] += 1
    return dict(tokens=len(x), active=int(per_token.sum()), hist=hist,
                neurons=active.sum(0).astype(np.int64))


def check_layer(layer, exp, F):
    assert layer["neurons"] == F
    assert layer["tokens"] == exp["tokens"]
    # The gate is computed in float32 by both; a neuron within a rounding
    # error of the threshold may differ.
    assert abs(layer["active"] - exp["active"]) <= 2, (layer["active"], exp["active"])
    np.testing.assert_allclose(layer["neuron_counts"], exp["neurons"], atol=2)
    assert sum(layer["density_histogram"]) == exp["tokens"]
    assert np.abs(np.asarray(layer["density_histogram"]) - exp["hist"]).sum() <= 4
    assert layer["mean_density"] == pytest.approx(layer["active"] / (exp["tokens"] * F))


@pytest.mark.parametrize("mode,sparsity", [("relu", 0.9), ("relu", 0.5), ("threshold", 0.7),
                                           ("glu", 0.9)])
def test_profile_matches_numpy(tmp_path, mode, sparsity):
    """Batches (dense path) and single tokens (sparse path) both count."""
    H, F = 64, 512
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=H, inner=F, mode=mode,
                             sparsity=sparsity, tokens="T")
    model, report = compile_with_report(tmp_path, path, instrument="sparsity")
    assert report["fusions"]["activation_sparsity"] == 1
    assert model.has_profile
    rng = np.random.default_rng(7)
    batches = [rng.standard_normal((t, H)).astype(np.float32) for t in (1, 16, 1, 3)]
    for x in batches:
        assert_matches_ort(model, path, {"x": x})
    w1, b1 = gate_weights(path)
    exp = expected(np.concatenate(batches), w1, b1,
                   threshold=0.25 if mode == "threshold" else None)
    prof = model.profile()
    assert prof["format"] == "sparsa-sparsity-profile 1"
    (layer,) = prof["layers"]
    check_layer(layer, exp, F)
    model.reset_profile()
    assert model.profile()["layers"][0]["tokens"] == 0


def two_layer_model(path, H=32, F=128, seed=0):
    """x -> ReLU FFN -> threshold FFN: two sparse FFNs in one graph."""
    rng = np.random.default_rng(seed)
    inits, nodes, cur = [], [], "x"
    weights = []
    for i, act in enumerate(["relu", "threshold"]):
        w1 = (rng.standard_normal((H, F)) / np.sqrt(H)).astype(np.float32)
        b1 = (0.1 * rng.standard_normal(F) - 0.5).astype(np.float32)
        w2 = (rng.standard_normal((F, H)) / np.sqrt(F)).astype(np.float32)
        weights.append((w1, b1))
        inits += [numpy_helper.from_array(w1, f"l{i}.w1"), numpy_helper.from_array(b1, f"l{i}.b1"),
                  numpy_helper.from_array(w2, f"l{i}.w2")]
        nodes += [helper.make_node("MatMul", [cur, f"l{i}.w1"], [f"h0_{i}"], name=f"/l{i}/fc1"),
                  helper.make_node("Add", [f"h0_{i}", f"l{i}.b1"], [f"h_{i}"], name=f"/l{i}/fc1_bias")]
        if act == "relu":
            nodes.append(helper.make_node("Relu", [f"h_{i}"], [f"a_{i}"], name=f"/l{i}/act"))
        else:
            inits += [numpy_helper.from_array(np.array(0.1, np.float32), f"l{i}.t"),
                      numpy_helper.from_array(np.array(0.0, np.float32), f"l{i}.z")]
            nodes += [helper.make_node("Greater", [f"h_{i}", f"l{i}.t"], [f"m_{i}"], name=f"/l{i}/gt"),
                      helper.make_node("Where", [f"m_{i}", f"h_{i}", f"l{i}.z"], [f"a_{i}"],
                                       name=f"/l{i}/act")]
        nodes.append(helper.make_node("MatMul", [f"a_{i}", f"l{i}.w2"], [f"y_{i}"], name=f"/l{i}/fc2"))
        cur = f"y_{i}"
    graph = helper.make_graph(nodes, "two_ffns",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", H])],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["T", H])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save(model, path), weights


def test_two_layers_cli_table_chart_and_core_set(tmp_path):
    """sparsa-run --profile on an instrumented two-layer model; the
    profile command's table, chart and core sets; the core set feeds an
    FFN over a neuron index set (CoreInfer), which fuses and matches ONNX
    Runtime."""
    H, F = 32, 128
    path, weights = two_layer_model(str(tmp_path / "two.onnx"), H, F)
    so = tmp_path / "two.so"
    sparsa.compile(path, str(so), instrument="sparsity")
    x = np.random.default_rng(3).standard_normal((40, H)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    prof_path = tmp_path / "profile.json"
    run = subprocess.run([str(ROOT / "build/bin/sparsa-run"), str(so), "--input",
                          f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path / "out"),
                          "--profile", str(prof_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    prof = json.loads(prof_path.read_text())
    assert [l["node"] for l in prof["layers"]] == ["/l0/fc2", "/l1/fc2"]
    # Layer 1's input is layer 0's output.
    h0 = np.maximum(x @ weights[0][0] + weights[0][1], 0)
    w2_0 = numpy_helper.to_array(
        next(i for i in onnx.load(path).graph.initializer if i.name == "l0.w2"))
    check_layer(prof["layers"][0], expected(x, *weights[0]), F)
    check_layer(prof["layers"][1], expected((h0 @ w2_0).astype(np.float32), *weights[1], 0.1), F)

    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "sparsa.profile", str(prof_path),
                          "--png", str(tmp_path / "p.png"), "--core-set", str(tmp_path / "core.npy"),
                          "--coverage", "0.8"], capture_output=True, text=True,
                         cwd=str(ROOT / "python"))
    assert out.returncode == 0, out.stderr
    assert "| /l0/fc2 | 128 | 40 |" in out.stdout
    assert (tmp_path / "p.png").stat().st_size > 10000
    core = np.load(tmp_path / "core.0.npy")
    counts = np.asarray(prof["layers"][0]["neuron_counts"])
    assert core.dtype == np.int64 and np.all(np.diff(core) > 0)
    assert counts[core].sum() >= 0.8 * counts.sum()
    # The smallest such set: dropping its least frequent neuron falls short.
    weakest = core[np.argmin(counts[core])]
    assert counts[core].sum() - counts[weakest] < 0.8 * counts.sum()
    assert sprofile.core_set(prof["layers"][0], 0.8).tolist() == core.tolist()

    # The core set feeds the core-neuron mode.
    cpath = models.sparse_ffn(str(tmp_path / "core_ffn.onnx"), hidden=H, inner=F, core=len(core),
                              tokens=1)
    model, report = compile_with_report(tmp_path, cpath, "core")
    assert report["fusions"]["activation_sparsity"] == 1
    assert_matches_ort(model, cpath, {"x": x[:1], "idx": core})


def test_profile_errors(tmp_path):
    """A library without counters says how to get them; --instrument takes
    only 'sparsity'."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=32, inner=64)
    so = tmp_path / "plain.so"
    sparsa.compile(path, str(so))
    model = sparsa.load(str(so))
    assert not model.has_profile
    with pytest.raises(sparsa.SparsaError, match="--instrument=sparsity"):
        model.write_profile(str(tmp_path / "p.json"))
    np.save(tmp_path / "x.npy", np.zeros((1, 32), np.float32))
    run = subprocess.run([str(ROOT / "build/bin/sparsa-run"), str(so), "--input",
                          f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path),
                          "--profile", str(tmp_path / "p.json")], capture_output=True, text=True)
    assert run.returncode == 1 and "--instrument=sparsity" in run.stderr
    with pytest.raises(sparsa.SparsaError, match="unknown --instrument=timing"):
        sparsa.compile(path, str(tmp_path / "bad.so"), instrument="timing")


def test_profile_of_a_quantized_ffn(tmp_path):
    """An int4 sparse FFN (MatMulNBits -> ReLU -> MatMulNBits) is profiled
    like a float one: its gate's active neurons, counted against numpy on
    the dequantized up projection."""
    from test_activation_sparsity import dequantized_nbits
    H, F = 64, 256
    path = models.nbits_sparse_ffn(str(tmp_path / "q.onnx"), H, F, sparsity=0.8, tokens="T")
    model, report = compile_with_report(tmp_path, path, instrument="sparsity")
    assert report["fusions"]["activation_sparsity"] == 1
    rng = np.random.default_rng(5)
    batches = [rng.standard_normal((t, H)).astype(np.float32) for t in (1, 8)]
    for x in batches:
        assert_matches_ort(model, path, {"x": x}, atol=1e-4)
    w1, inits = dequantized_nbits(path, "fc1", 4, 32, H, F)
    exp = expected(np.concatenate(batches), w1, inits["fc1_bias"])
    (layer,) = model.profile()["layers"]
    check_layer(layer, exp, F)
