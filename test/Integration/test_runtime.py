"""The runtime through the Python API and sparsa-run: descriptions, input
validation errors (never a crash), threads, and the .npy runner."""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import sparsa
from sparsa import _paths as sparsa_paths
from conftest import ROOT, assert_matches_ort, ort_run, save
from sparsa import models

RNG = np.random.default_rng(3)
SPARSA_RUN = str(sparsa_paths.tool("sparsa-run"))


@pytest.fixture
def mlp(tmp_path, compile_model):
    path = models.mlp(str(tmp_path / "m.onnx"), [32, 64, 16], batch="N")
    return compile_model(path), path


def test_describe_inputs_outputs(mlp):
    model, _ = mlp
    (inp,) = model.inputs
    (out,) = model.outputs
    assert (inp.name, inp.dtype, inp.shape, inp.dim_params) == ("x", np.float32, (None, 32), ("N", ""))
    assert (out.name, out.dtype, out.shape) == ("y", np.float32, (None, 16))


def test_call_style(mlp):
    model, path = mlp
    x = RNG.standard_normal((2, 32)).astype(np.float32)
    np.testing.assert_array_equal(model(x=x)["y"], model.run({"x": x})["y"])


@pytest.mark.parametrize("feeds,message", [
    ({"x": np.zeros((2, 32), np.float64)}, r"input 'x': expected dtype float32, got float64"),
    ({"x": np.zeros((2, 32), np.int32)}, r"input 'x': expected dtype float32, got int32"),
    ({"x": np.zeros((2, 32, 1), np.float32)}, r"input 'x': expected rank 2 \[\?, 32\], got rank 3"),
    ({"x": np.zeros((32,), np.float32)}, r"input 'x': expected rank 2"),
    ({"x": np.zeros((2, 31), np.float32)}, r"input 'x': expected shape \[\?, 32\], got \[2, 31\]"),
    ({}, r"missing input 'x'"),
    ({"y": np.zeros((2, 32), np.float32)}, r"the model has no input named 'y'"),
    ({"x": np.zeros((2, 32), np.float32), "z": np.zeros(1, np.float32)},
     r"model takes 1 inputs, got 2"),
])
def test_bad_inputs_are_errors(mlp, feeds, message):
    model, _ = mlp
    with pytest.raises(sparsa.SparsaError, match=message):
        model.run(feeds)
    # The model stays usable after an error.
    x = RNG.standard_normal((1, 32)).astype(np.float32)
    assert model.run({"x": x})["y"].shape == (1, 16)


def test_empty_batch(mlp):
    model, _ = mlp
    out = model.run({"x": np.zeros((0, 32), np.float32)})
    assert out["y"].shape == (0, 16)


def test_non_contiguous_input_is_made_contiguous(mlp):
    model, path = mlp
    x = RNG.standard_normal((32, 6)).astype(np.float32).T  # a transposed view
    assert not x.flags["C_CONTIGUOUS"]
    assert_matches_ort(model, path, {"x": np.ascontiguousarray(x)})
    np.testing.assert_allclose(model.run({"x": x})["y"],
                               ort_run(path, {"x": np.ascontiguousarray(x)})["y"],
                               atol=1e-4, rtol=1e-4)


def test_repeated_calls_reuse_no_stale_descriptor(mlp):
    """Calls with the same names, shapes and dtypes as the thread's last
    reuse its input descriptors, writing only the data addresses: every
    result is still that call's, across shape changes, converted feeds (a
    transposed view), an input buffer rewritten in place, and wrong dtypes or names
    after a reused call (still errors)."""
    model, path = mlp

    def check(x):
        ref = ort_run(path, {"x": np.ascontiguousarray(np.asarray(x, np.float32))})["y"]
        np.testing.assert_allclose(model.run({"x": x})["y"], ref, atol=1e-4, rtol=1e-4)

    xs = [RNG.standard_normal((n, 32)).astype(np.float32) for n in (2, 2, 5, 2, 2)]
    for x in xs + xs[::-1]:
        check(x)
    view = np.ascontiguousarray(xs[0].T).T  # the same values, not C-contiguous
    check(view)
    check(view)
    check(xs[1])
    buf = xs[0].copy()
    check(buf)
    buf[:] = xs[3]
    check(buf)
    with pytest.raises(sparsa.SparsaError, match="dtype"):
        model.run({"x": buf.astype(np.float64)})
    check(buf)
    with pytest.raises(sparsa.SparsaError):
        model.run({"z": buf})
    check(buf)


def test_read_only_input_and_output_lifetime(mlp):
    """A read-only input is read in place; an output is the runtime's
    buffer, writable, and stays valid through views after the array and
    the run's other objects are gone (the buffer is released once, when
    the last view goes: the allocator would abort on a double free)."""
    import gc
    model, path = mlp
    x = RNG.standard_normal((3, 32)).astype(np.float32)
    x.flags.writeable = False
    y = model.run({"x": x})["y"]
    np.testing.assert_allclose(y, ort_run(path, {"x": x})["y"], atol=1e-4, rtol=1e-4)
    assert y.flags.writeable and y.flags.c_contiguous
    expected = y.copy()
    tail = y[1:]
    del y
    for _ in range(3):  # runs that reuse freed memory
        model.run({"x": np.ones((3, 32), np.float32)})
    gc.collect()
    np.testing.assert_array_equal(tail, expected[1:])
    tail[:] = 0  # the memory is ours to write
    del tail
    gc.collect()
    assert model.run({"x": x})["y"].shape == (3, 16)


def test_symbolic_dims_must_agree(tmp_path, compile_model):
    """Two inputs sharing the symbolic dim N must be given the same size."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"], name="add")], "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ("N", 4)),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ("N", 4))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ("N", 4))])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "add.onnx")
    model = compile_model(path)
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    assert_matches_ort(model, path, {"a": a, "b": a})
    with pytest.raises(sparsa.SparsaError, match=r"dimension 'N' is 5 here but 3 in another input"):
        model.run({"a": a, "b": np.zeros((5, 4), np.float32)})


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_counts_agree(mlp, threads):
    model, path = mlp
    model.set_num_threads(threads)
    x = RNG.standard_normal((64, 32)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})


def test_sparsa_run_cli(tmp_path):
    path = models.mlp(str(tmp_path / "m.onnx"), [32, 48, 8], batch=2)
    so = str(tmp_path / "m.so")
    sparsa.compile(path, so)
    x = RNG.standard_normal((2, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out_dir = tmp_path / "out" / "nested"  # created by sparsa-run
    proc = subprocess.run([SPARSA_RUN, so, "--input", f"x={tmp_path / 'x.npy'}",
                           "--output-dir", str(out_dir), "--iters", "5", "--threads", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("latency_ms min=")
    assert "median=" in proc.stdout and "p90=" in proc.stdout
    y = np.load(out_dir / "y.npy")
    np.testing.assert_allclose(y, ort_run(path, {"x": x})["y"], atol=1e-4, rtol=1e-4)


def test_sparsa_run_rejects_wrong_dtype(tmp_path):
    path = models.mlp(str(tmp_path / "m.onnx"), [8, 8, 8], batch=2)
    so = str(tmp_path / "m.so")
    sparsa.compile(path, so)
    np.save(tmp_path / "x.npy", np.zeros((2, 8), np.float64))
    proc = subprocess.run([SPARSA_RUN, so, "--input", f"x={tmp_path / 'x.npy'}",
                           "--output-dir", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "input 'x': expected dtype float32, got float64" in proc.stderr


def test_output_names_are_sanitized_for_files(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["out/relu:0"], name="relu")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (3,))],
        [helper.make_tensor_value_info("out/relu:0", TensorProto.FLOAT, (3,))])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "r.onnx")
    so = str(tmp_path / "r.so")
    sparsa.compile(path, so)
    assert sparsa.load(so).outputs[0].name == "out/relu:0"
    np.save(tmp_path / "x.npy", np.array([-1, 0, 2], np.float32))
    subprocess.run([SPARSA_RUN, so, "--input", f"x={tmp_path / 'x.npy'}",
                    "--output-dir", str(tmp_path)], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out_relu_0.npy"), [0, 0, 2])


def test_names_with_spaces_and_symbols(tmp_path, compile_model):
    """Tensor names travel percent-encoded in the model description and
    come back byte for byte (spaces, punctuation, UTF-8)."""
    names = ["input ids:0", "out/π (y)"]
    graph = helper.make_graph(
        [helper.make_node("Relu", [names[0]], [names[1]], name="relu node")], "g",
        [helper.make_tensor_value_info(names[0], TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info(names[1], TensorProto.FLOAT, [2, 3])])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "names.onnx")
    model = compile_model(path)
    assert [t.name for t in model.inputs] == [names[0]]
    assert [t.name for t in model.outputs] == [names[1]]
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    np.testing.assert_array_equal(model.run({names[0]: x})[names[1]], np.maximum(x, 0))


def test_stress_8_threads_1000_calls_bit_identical(tmp_path, compile_model):
    """8 threads x 1000 calls of one loaded model (attention: row blocks in
    parallel loops, scratch per call) give bit for bit what one thread gets
    alone; so do repeated runs (determinism at a fixed thread count)."""
    path = models.attention(str(tmp_path / "a.onnx"), seq=24, heads=2, head_dim=16,
                            batch="B", mask="padding")
    model = compile_model(path)
    feeds = []
    for i in range(8):
        f = {n: RNG.standard_normal((1 + i % 3, 2, 24, 16)).astype(np.float32) for n in "qkv"}
        f["mask"] = np.zeros((1 + i % 3, 1, 1, 24), np.float32)
        feeds.append(f)
    alone = [model.run(f)["y"] for f in feeds]
    for f, a in zip(feeds, alone):
        assert np.array_equal(model.run(f)["y"], a)
    mismatches = []

    def work(i):
        for n in range(1000):
            y = model.run(feeds[(i + n) % 8])["y"]
            if not np.array_equal(y, alone[(i + n) % 8]):
                mismatches.append((i, n))
                return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not mismatches, mismatches[:5]


def test_concurrent_run_errors_stay_with_their_call(tmp_path, compile_model):
    """A run that fails a check (an out-of-range neuron index) reports it to
    its own caller only: threads with good inputs, running at the same time
    on the same model, all succeed."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=256, core=8, tokens=1)
    model = compile_model(path)
    x = RNG.standard_normal((1, 64)).astype(np.float32)
    good = np.arange(8, dtype=np.int64) * 3
    bad = good.copy()
    bad[5] = 999
    expected = model.run({"x": x, "idx": good})["y"]
    problems = []

    def work(i):
        for _ in range(300):
            if i % 2:
                try:
                    model.run({"x": x, "idx": bad})
                    problems.append("bad input ran")
                except sparsa.SparsaError as e:
                    if "out of range" not in str(e):
                        problems.append(str(e))
            else:
                try:
                    if not np.array_equal(model.run({"x": x, "idx": good})["y"], expected):
                        problems.append("wrong output")
                except sparsa.SparsaError as e:
                    problems.append("good input failed: " + str(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not problems, problems[:5]


def test_gather_index_out_of_range_is_an_error(tmp_path, compile_model):
    """Token ids into an embedding (a Gather of a model input): an id
    outside [-vocab, vocab) fails the run naming the node, as ONNX
    Runtime's Gather does; negative ids in range count from the end."""
    table = numpy_helper.from_array(RNG.standard_normal((50, 8)).astype(np.float32), "emb")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["emb", "ids"], ["h"], name="/embed/Gather")], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "S"])],
        [helper.make_tensor_value_info("h", TensorProto.FLOAT, ["B", "S", 8])], [table])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "emb.onnx")
    model = compile_model(path)
    ok = np.array([[0, 49, -1, -50]], np.int64)
    assert_matches_ort(model, path, {"ids": ok})
    for bad in (50, -51, 1 << 40):
        ids = ok.copy()
        ids[0, 2] = bad
        with pytest.raises(sparsa.SparsaError,
                           match=r"/embed/Gather: an index is out of range \[-50, 50\) along axis 0"):
            model.run({"ids": ids})
    assert_matches_ort(model, path, {"ids": ok})


def _stress_models(tmp_path):
    """A dense MLP and one model of each fused family with scratch memory of
    its own (routing, activation sparsity, flow attention, attention)."""
    d = tmp_path
    yield "mlp", models.mlp(str(d / "mlp.onnx"), [64, 128, 32], batch="N"), \
        lambda r, n: {"x": r.standard_normal((n, 64)).astype(np.float32)}
    yield "moe", models.moe(str(d / "moe.onnx"), "A", hidden=32, inner=64, experts=4, k=2), \
        lambda r, n: {"x": r.standard_normal((n, 32)).astype(np.float32)}
    yield "sparse_ffn", models.sparse_ffn(str(d / "ffn.onnx"), hidden=32, inner=128,
                                          sparsity=0.9), \
        lambda r, n: {"x": r.standard_normal((n, 32)).astype(np.float32)}
    yield "flow", models.flowformer(str(d / "flow.onnx"), seq=16, heads=2, head_dim=8,
                                    causal=True), None
    yield "attention", models.attention(str(d / "att.onnx"), seq=16, heads=2, head_dim=8), None


def stress_model_and_feeds(tmp_path, compile_model, which, seed, batch):
    """One of _stress_models compiled and loaded, with one set of inputs
    (|batch| rows where the model has a batch): (model, onnx path, feeds)."""
    name, path, make = next(m for m in _stress_models(tmp_path) if m[0] == which)
    model = compile_model(path, name=name)
    rng = np.random.default_rng(seed)
    if make is None:  # fixed-shape models: inputs from the description
        feeds = {t.name: rng.standard_normal(t.shape).astype(t.dtype) for t in model.inputs}
    else:
        feeds = make(rng, batch)
    return model, path, feeds


@pytest.mark.parametrize("which", ["mlp", "moe", "sparse_ffn", "flow", "attention"])
def test_stress_8_threads_1000_calls_bit_identical(tmp_path, compile_model, which):
    """8 threads x 1000 calls of one loaded model, each thread with inputs
    of its own (different batch sizes where the model has a batch): every
    output is bit for bit the output of a single-threaded run of the same
    inputs (concurrent calls get their own scratch memory; results do not
    depend on what runs beside them)."""
    name, path, make = next(m for m in _stress_models(tmp_path) if m[0] == which)
    model = compile_model(path, name=name)
    rng = np.random.default_rng(7)
    if make is None:  # fixed-shape models: inputs from the description
        feeds = [{t.name: rng.standard_normal(t.shape).astype(t.dtype) for t in model.inputs}
                 for _ in range(8)]
    else:
        feeds = [make(rng, i + 1) for i in range(8)]
    refs = [model.run(f) for f in feeds]
    errors = []

    def work(i):
        try:
            for _ in range(1000):
                got = model.run(feeds[i])
                for k, v in refs[i].items():
                    if not np.array_equal(got[k], v, equal_nan=True):
                        raise AssertionError(f"thread {i}: output {k} differs")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    # And against ONNX Runtime, so the bit-identical answers are right.
    for f in feeds:
        assert_matches_ort(model, path, f)


@pytest.mark.parametrize("which", ["mlp", "moe", "sparse_ffn", "flow", "attention"])
def test_outputs_do_not_depend_on_thread_count(tmp_path, compile_model, which):
    """Determinism: the work split is fixed at compile time (tiles, split
    reductions, per-expert and per-neuron task lists), never by the number
    of threads that run it, so 1, 2, 3 and 5 threads give bit-identical
    outputs, and repeated runs too."""
    model, _, feeds = stress_model_and_feeds(tmp_path, compile_model, which, seed=5, batch=7)
    model.set_num_threads(1)
    ref = model.run(feeds)
    for threads in (2, 3, 5, 1):
        model.set_num_threads(threads)
        for _ in range(3):
            got = model.run(feeds)
            for k, v in ref.items():
                assert np.array_equal(got[k], v, equal_nan=True), f"{k} at {threads} threads"


def _run_mlp_script(tmp_path, dims, batch, script, extra=(), **env):
    """Compiles models.mlp(|dims|, |batch|) and runs |script| on it in a
    fresh interpreter (argv: the python folder, the library, |extra|) with
    |env| added; returns the finished process, checked for success."""
    path = models.mlp(str(tmp_path / "m.onnx"), dims, batch=batch)
    so = tmp_path / "m.so"
    sparsa.compile(path, str(so))
    proc = subprocess.run([sys.executable, "-c", script, str(ROOT / "python"), str(so), *extra],
                          env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


# Runs a small model with 2 threads, 10 runs per input shape (the adaptive
# thread count's warm-up, trials and decided runs), against one run with
# one thread.
_ADAPTIVE_SCRIPT = r"""
import ctypes, json, os, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import sparsa
threads = int(sys.argv[3])  # 0: the OpenMP default
m = sparsa.load(sys.argv[2], num_threads=threads)
xs = {rows: np.random.default_rng(rows).standard_normal((rows, 256)).astype(np.float32)
      for rows in (1, 3)}
ys = {rows: [m.run({"x": x})["y"] for _ in range(10)] for rows, x in xs.items()}
libomp = next(line.split()[-1] for line in open("/proc/self/maps") if "libomp" in line)
default_after = ctypes.CDLL(libomp).omp_get_max_threads()
# The references last: a count set for one model is the calling thread's
# OpenMP default afterwards.
ref = sparsa.load(sys.argv[2], num_threads=1)
print(json.dumps({"same": {rows: all(np.array_equal(y, ref.run({"x": xs[rows]})["y"])
                                     for y in ys[rows]) for rows in xs},
                  "default_after": default_after}))
"""


@pytest.mark.parametrize("mode,threads", [("trace", 2), ("trace", 0), ("0", 2)])
def test_adaptive_thread_count(tmp_path, mode, threads):
    # Per input shape, the runtime tries one thread against the requested
    # count on short runs and keeps the faster; outputs do not change
    # (whichever count it keeps: timing decides, so the test does not
    # assert which). SPARSA_ADAPTIVE_THREADS=trace prints one decision per
    # shape, after the trials; =0 turns the trials off. With the OpenMP
    # default count (0) a one-thread trial must not become the calling
    # thread's default: the second shape is still tried (where the default
    # is more than one thread).
    # SPARSA_ADAPTIVE_LONG_RUN_MS keeps a busy machine's slow runs from
    # ending the trials early (every shape gets its one-thread trials).
    proc = _run_mlp_script(tmp_path, [256, 512, 256], "N", _ADAPTIVE_SCRIPT,
                           extra=[str(threads)], SPARSA_ADAPTIVE_THREADS=mode,
                           SPARSA_ADAPTIVE_LONG_RUN_MS="1e9", OMP_NUM_THREADS="2")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["same"] == {"1": True, "3": True}
    if threads == 0:  # the OpenMP default is the caller's again
        assert got["default_after"] == 2
    lines = [l for l in proc.stderr.splitlines() if l.startswith("sparsa: threads for inputs")]
    if mode == "0":
        assert lines == []
        return
    assert len(lines) == 2, proc.stderr
    for line, rows in zip(lines, (1, 3)):
        assert f"[2 {rows} 256]: " in line, line
        assert line.split("]: ")[1].split()[0] in ("1", "2"), line
        assert "one thread: not tried" not in line, line


# Run with KMP_BLOCKTIME set (libomp reads it once, at start-up): several
# runs of a threaded model, then the calling thread's blocktime and the
# CPU time the process burns while it sleeps.
_BLOCKTIME_SCRIPT = r"""
import ctypes, json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import sparsa
m = sparsa.load(sys.argv[2], num_threads=2)
x = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
ys = [m.run({"x": x})["y"] for _ in range(5)]
libomp = next(line.split()[-1] for line in open("/proc/self/maps") if "libomp" in line)
omp = ctypes.CDLL(libomp)
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
before = cpu()
time.sleep(0.3)
print(json.dumps({"blocktime": omp.kmp_get_blocktime(), "sleep_cpu": cpu() - before,
                  "same": all(np.array_equal(y, ys[0]) for y in ys)}))
"""


@pytest.mark.parametrize("blocktime", ["0", "50"])
def test_threads_sleep_between_runs_as_asked(tmp_path, blocktime):
    # The runtime lets the team spin between the parallel regions of one
    # run (a wake-up per region costs tens of microseconds), then gives the
    # caller's blocktime back: with KMP_BLOCKTIME=0 the threads sleep
    # between runs, and a longer blocktime is left alone.
    proc = _run_mlp_script(tmp_path, [256, 1024, 256], 64, _BLOCKTIME_SCRIPT,
                           KMP_BLOCKTIME=blocktime)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["blocktime"] == int(blocktime)
    assert got["same"]
    if blocktime == "0":
        assert got["sleep_cpu"] < 0.1, got
