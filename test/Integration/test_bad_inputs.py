"""The bad-input list of the reliability work, one test per item not
covered elsewhere (test_importer_errors.py: truncated protobuf, cycles,
undefined values, values defined twice, unknown domains, external data
escaping / missing / short, huge initializers; test_runtime.py: wrong
dtype / rank / shape, out-of-range gather indices; test_activation_sparsity:
out-of-range neuron indices). Every case: a non-zero exit or a SparsaError
whose message names the node or input; never a crash, never a wrong answer."""

import ctypes
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import sparsa
from conftest import ort_run, save
from sparsa import _paths as sparsa_paths
from sparsa import _runtime

COMPILE = str(sparsa_paths.tool("sparsa-compile"))
RNG = np.random.default_rng(10)


def compile_proc(path, *args):
    return subprocess.run([COMPILE, str(path), "-o", os.devnull, "--emit=mlir-lowered", *args],
                          capture_output=True, text=True)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def graph_model(nodes, inputs, outputs, inits=(), opsets=(("", 17),), ir_version=8):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = ir_version
    return m


def write(m, path):
    path.write_bytes(m.SerializeToString())  # no checker: the model is meant to be bad
    return path


def expect_error(proc, *fragments):
    assert proc.returncode == 1, proc.stderr
    assert "Assertion" not in proc.stderr and "Stack dump" not in proc.stderr
    for f in fragments:
        assert f in proc.stderr, proc.stderr


# --- import-time errors -----------------------------------------------------

def test_malformed_protobuf_field(tmp_path):
    """Valid protobuf framing, wrong content: a graph field holding bytes
    that are not a GraphProto."""
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(bytes([0x08, 0x08, 0x3A, 0x05]) + b"\xff\xff\xff\xff\xff")
    expect_error(compile_proc(bad), "bad.onnx: error: not a valid ONNX model")


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    expect_error(compile_proc(empty), "empty.onnx: error: the model has no graph")


def test_missing_initializer_data(tmp_path):
    """An initializer with a shape and no data."""
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([4])
    m = graph_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                    [vi("x", (4,))], [vi("y", (4,))], [t])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")),
                 "initializer 'w' holds 0 elements (no raw data), its shape needs 4")


def test_missing_initializer_reference(tmp_path):
    """A node naming a weight that is neither an initializer nor an input."""
    m = graph_model([helper.make_node("MatMul", ["x", "fc.weight"], ["y"], name="/fc/MatMul")],
                    [vi("x", (1, 4))], [vi("y", (1, 4))])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")),
                 "m.onnx:/fc/MatMul: error: node consumes undefined value 'fc.weight'")


def test_duplicate_initializer(tmp_path):
    w = numpy_helper.from_array(np.ones(4, np.float32), "w")
    m = graph_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                    [vi("x", (4,))], [vi("y", (4,))], [w, w])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "'w' is defined twice")


def test_duplicate_graph_input(tmp_path):
    m = graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                    [vi("x", (4,)), vi("x", (4,))], [vi("y", (4,))])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "'x' is defined twice")


def test_initializer_as_default_input_value(tmp_path, compile_model):
    """IR < 4 lists initializers among the inputs as default values: not a
    duplicate. The model still compiles, and the weight is a constant."""
    w = np.arange(4, dtype=np.float32)
    m = graph_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                    [vi("x", (4,)), vi("w", (4,))], [vi("y", (4,))],
                    [numpy_helper.from_array(w, "w")], ir_version=3)
    model = compile_model(write(m, tmp_path / "m.onnx"))
    x = np.ones(4, np.float32)
    np.testing.assert_array_equal(model.run({"x": x})["y"], x + w)


def test_node_output_shadows_input(tmp_path):
    m = graph_model([helper.make_node("Relu", ["x"], ["x"], name="relu")],
                    [vi("x", (4,))], [vi("x", (4,))])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "relu: error: value 'x' is defined twice")


def test_no_default_opset(tmp_path):
    m = graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                    [vi("x", (4,))], [vi("y", (4,))], opsets=(("com.microsoft", 1),))
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")),
                 "error: the model imports no default-domain opset")


@pytest.mark.parametrize("opset", [1000])
def test_opset_from_the_future(tmp_path, opset):
    """An opset newer than any ONNX release: refused or compiled, never a
    crash; if it compiles, the answer is right."""
    m = graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                    [vi("x", (4,))], [vi("y", (4,))], opsets=(("", opset),))
    proc = compile_proc(write(m, tmp_path / "m.onnx"))
    assert proc.returncode in (0, 1), proc.stderr
    assert "Stack dump" not in proc.stderr
    if proc.returncode == 1:
        assert "error:" in proc.stderr


def test_op_unknown_in_its_opset(tmp_path):
    """Gelu is opset 20: in an opset-17 model it is an unknown op."""
    m = graph_model([helper.make_node("Gelu", ["x"], ["y"], name="gelu")],
                    [vi("x", (4,))], [vi("y", (4,))])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "m.onnx:gelu: error:")


def test_unknown_domain_without_opset_import(tmp_path):
    m = graph_model([helper.make_node("Foo", ["x"], ["y"], name="foo", domain="com.example")],
                    [vi("x", (4,))], [vi("y", (4,))])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "m.onnx:foo: error:")


def test_untyped_input_of_expand():
    """A fuzz finding (fuzz/regressions/sparsa-fuzz-onnx-proto): a MoE graph
    with mangled attributes whose failed nodes leave an Expand's data input
    untyped; ONNX 1.12's Expand inference dereferenced the missing type and
    crashed the process. The inference now skips nodes with an untyped
    required input, and the error names the first bad node."""
    path = (Path(__file__).resolve().parents[2] / "fuzz/regressions/sparsa-fuzz-onnx-proto"
            / "untyped-input-crashes-expand-inference")
    expect_error(compile_proc(path), "/moe/Softmax_2: error:")


def test_shape_conflict_matmul(tmp_path):
    w = numpy_helper.from_array(np.ones((5, 3), np.float32), "w")
    m = graph_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul")],
                    [vi("x", (2, 4))], [vi("y", (2, 3))], [w])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "/fc/MatMul")


def test_shape_conflict_declared_output(tmp_path):
    """The graph declares an output shape its producer cannot have."""
    m = graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                    [vi("x", (2, 4))], [vi("y", (2, 5))])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "error:")


def test_shape_conflict_broadcast(tmp_path):
    b = numpy_helper.from_array(np.ones(3, np.float32), "b")
    m = graph_model([helper.make_node("Add", ["x", "b"], ["y"], name="/bias/Add")],
                    [vi("x", (2, 4))], [vi("y", (2, 4))], [b])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "/bias/Add")


def test_shape_conflict_reshape(tmp_path):
    s = numpy_helper.from_array(np.array([3, 3], np.int64), "s")
    m = graph_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="/view/Reshape")],
                    [vi("x", (2, 4))], [vi("y", (3, 3))], [s])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "/view/Reshape")


@pytest.mark.parametrize("dims", [(1 << 62, 4), (1 << 31, 1 << 31, 1 << 31), (-5, 4)])
def test_input_dims_overflow(tmp_path, dims):
    """Input dims whose element count overflows 64 bits (or is negative)."""
    m = graph_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                    [vi("x", dims)], [vi("y", dims)])
    proc = subprocess.run([COMPILE, str(write(m, tmp_path / "m.onnx")), "-o",
                           str(tmp_path / "m.so")], capture_output=True, text=True)
    expect_error(proc, "'x'")


def test_constant_of_shape_overflow(tmp_path):
    s = numpy_helper.from_array(np.array([1 << 40, 1 << 40], np.int64), "s")
    m = graph_model([helper.make_node("ConstantOfShape", ["s"], ["y"], name="/fill")],
                    [], [vi("y", ("A", "B"))], [s])
    expect_error(compile_proc(write(m, tmp_path / "m.onnx")), "/fill")


def test_external_data_symlink_escaping_model_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(np.arange(16, dtype=np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    os.symlink(outside / "w.bin", folder / "w.bin")
    t = numpy_helper.from_array(np.zeros(16, np.float32), "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "w.bin"
    m = graph_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                    [vi("x", (16,))], [vi("y", (16,))], [t])
    expect_error(compile_proc(write(m, folder / "m.onnx")),
                 "external data location 'w.bin' of initializer 'w' escapes the model folder")


# --- run-time errors --------------------------------------------------------

@pytest.fixture
def gather_model(tmp_path, compile_model):
    """y = x @ Gather(W, idx)^T: a float input, an index input."""
    w = RNG.standard_normal((10, 8)).astype(np.float32)
    m = graph_model([helper.make_node("Gather", ["W", "idx"], ["g"], name="/rows/Gather", axis=0),
                     helper.make_node("Transpose", ["g"], ["gt"], name="/t", perm=[1, 0]),
                     helper.make_node("MatMul", ["x", "gt"], ["y"], name="/mm")],
                    [vi("x", ("N", 8)), vi("idx", ("K",), TensorProto.INT64)],
                    [vi("y", ("N", "K"))], [numpy_helper.from_array(w, "W")])
    path = save(m, tmp_path / "gather.onnx")
    return compile_model(path), path


def _run_raw(model, tensors, n=None, outs=True):
    lib = _runtime._library()
    arr = (_runtime._Tensor * max(1, len(tensors)))(*tensors) if tensors else None
    out = (_runtime._Tensor * len(model.outputs))() if outs else None
    status = lib.sparsa_model_run(model._handle, arr, len(tensors) if n is None else n, out)
    return status, lib.sparsa_last_error().decode()


def _tensor(name, dtype, dims, data):
    t = _runtime._Tensor()
    t.name = name.encode() if name is not None else None
    t.dtype, t.rank = dtype, len(dims)
    for i, d in enumerate(dims):
        t.dims[i] = d
    t.data = data
    return t


def test_null_pointers(gather_model):
    model, _ = gather_model
    lib = _runtime._library()
    x = np.ones((2, 8), np.float32)
    idx = np.array([1, 2], np.int64)
    good = [_tensor("x", 1, x.shape, x.ctypes.data), _tensor("idx", 7, idx.shape, idx.ctypes.data)]
    # Null data with elements.
    status, msg = _run_raw(model, [_tensor("x", 1, x.shape, None), good[1]])
    assert status == 1 and "input 'x'" in msg and "null" in msg
    # Null input array with a count; null output array.
    assert _run_raw(model, [], n=2)[0] == 1
    status, msg = _run_raw(model, good, outs=False)
    assert status == 1 and "null" in msg
    # Null model, null path, null info.
    assert lib.sparsa_model_run(None, None, 0, None) == 1
    assert lib.sparsa_model_load(None, None) == 1
    assert lib.sparsa_model_input_info(model._handle, 0, None) == 1
    assert lib.sparsa_model_input_info(model._handle, 7, None) == 1
    # Rank beyond SPARSA_MAX_RANK and negative dims.
    status, msg = _run_raw(model, [_tensor("x", 1, [2] * 8, x.ctypes.data), good[1]])
    assert status == 1 and "input 'x'" in msg
    bad = _tensor("x", 1, x.shape, x.ctypes.data)
    bad.rank = 99
    assert _run_raw(model, [bad, good[1]])[0] == 1
    status, msg = _run_raw(model, [_tensor("x", 1, (-2, 8), x.ctypes.data), good[1]])
    assert status == 1 and "input 'x'" in msg
    # The model still runs afterwards.
    np.testing.assert_allclose(model.run({"x": x, "idx": idx})["y"],
                               ort_run(gather_model[1], {"x": x, "idx": idx})["y"], rtol=1e-5)


def test_duplicate_input_names_at_run_time(gather_model):
    model, _ = gather_model
    x = np.ones((2, 8), np.float32)
    idx = np.array([1], np.int64)
    status, msg = _run_raw(model, [_tensor("x", 1, x.shape, x.ctypes.data),
                                   _tensor("x", 1, x.shape, x.ctypes.data)])
    assert status == 1 and "'x'" in msg
    status, msg = _run_raw(model, [_tensor(None, 1, x.shape, x.ctypes.data),
                                   _tensor("x", 1, x.shape, x.ctypes.data)])
    assert status == 1 and "'x'" in msg
    del idx


@pytest.mark.parametrize("bad", [10, -11, 1 << 40, -(1 << 62)])
def test_gather_index_input_out_of_range(gather_model, bad):
    model, _ = gather_model
    x = np.ones((2, 8), np.float32)
    with pytest.raises(sparsa.SparsaError, match=r"/rows/Gather: an index is out of range \[-10, 10\)"):
        model.run({"x": x, "idx": np.array([0, bad, 3], np.int64)})
    # Negative in-range indices count from the end, as in ONNX.
    idx = np.array([-1, -10, 9], np.int64)
    np.testing.assert_allclose(model.run({"x": x, "idx": idx})["y"],
                               ort_run(gather_model[1], {"x": x, "idx": idx})["y"], rtol=1e-5)


def test_expert_index_input_out_of_range(tmp_path, compile_model):
    """Expert ids given as a model input pick stacked expert weights: an id
    past the experts is a run-time error naming the node."""
    experts = RNG.standard_normal((4, 8, 6)).astype(np.float32)
    m = graph_model([helper.make_node("Gather", ["experts", "expert_id"], ["w"],
                                      name="/moe/pick_expert", axis=0),
                     helper.make_node("MatMul", ["x", "w"], ["y"], name="/moe/expert_mm")],
                    [vi("x", ("T", 1, 8)), vi("expert_id", ("T",), TensorProto.INT64)],
                    [vi("y", ("T", 1, 6))], [numpy_helper.from_array(experts, "experts")])
    path = save(m, tmp_path / "experts.onnx")
    model = compile_model(path)
    x = RNG.standard_normal((3, 1, 8)).astype(np.float32)
    ok = {"x": x, "expert_id": np.array([0, 3, 1], np.int64)}
    np.testing.assert_allclose(model.run(ok)["y"], ort_run(path, ok)["y"], rtol=1e-5, atol=1e-5)
    with pytest.raises(sparsa.SparsaError, match=r"/moe/pick_expert: an index is out of range \[-4, 4\)"):
        model.run({"x": x, "expert_id": np.array([0, 4, 1], np.int64)})


@pytest.mark.parametrize("which", ["mlp", "moe", "sparse_ffn", "flow", "attention"])
def test_nan_inf_inputs_propagate_like_onnx_runtime(tmp_path, compile_model, which):
    """NaN and +-Inf in the inputs of a dense model and of each fused family:
    the same NaN / Inf positions as ONNX Runtime, finite values close."""
    from test_runtime import stress_model_and_feeds
    model, path, feeds = stress_model_and_feeds(tmp_path, compile_model, which, seed=11, batch=4)
    flat = feeds[model.inputs[0].name].reshape(-1)
    flat[1], flat[5], flat[-1] = np.nan, np.inf, -np.inf
    ours, ref = model.run(feeds), ort_run(path, feeds)
    assert set(ours) == set(ref)
    for key, expected in ref.items():
        got = ours[key]
        assert np.isnan(expected).any() or np.isinf(expected).any()  # the case is exercised
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=key)
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected), err_msg=key)
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected), err_msg=key)
        fin = np.isfinite(expected)
        np.testing.assert_allclose(got[fin], expected[fin], rtol=1e-4, atol=1e-4, err_msg=key)
