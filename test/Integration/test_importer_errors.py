"""Bad models from protobuf files: a clear error naming the model and the
node, a non-zero exit, never a crash."""

import os
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ROOT, save
from sparsa import _paths as sparsa_paths, models

COMPILE = str(sparsa_paths.tool("sparsa-compile"))


def run_compile(path, *args):
    return subprocess.run([COMPILE, str(path), "--emit=mlir-onnx", "-o", os.devnull, *args],
                          capture_output=True, text=True)


def model_of(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def test_node_names_locate_ops(tmp_path):
    path = models.mlp(str(tmp_path / "m.onnx"), [4, 4, 4], batch=1)
    proc = subprocess.run([COMPILE, path, "--emit=mlir-onnx", "-o", "-"],
                          capture_output=True, text=True, check=True)
    assert 'loc("/fc0/MatMul")' in proc.stdout
    assert 'loc("/act0/Relu")' in proc.stdout


def test_truncated_protobuf(tmp_path):
    path = models.mlp(str(tmp_path / "m.onnx"), [64, 64, 64], batch=1)
    data = open(path, "rb").read()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    proc = run_compile(cut)
    assert proc.returncode == 1
    assert "cut.onnx: error: not a valid ONNX model" in proc.stderr


def test_undefined_value(tmp_path):
    m = model_of([helper.make_node("Relu", ["ghost"], ["y"], name="relu_node")],
                 [vi("x", (2,))], [vi("y", (2,))])
    proc = run_compile(save(m, tmp_path / "u.onnx"))
    assert proc.returncode == 1
    assert "u.onnx:relu_node: error: node consumes undefined value 'ghost'" in proc.stderr


def test_cycle_is_an_undefined_value(tmp_path):
    m = model_of([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                  helper.make_node("Relu", ["a"], ["b"], name="second")],
                 [vi("x", (2,))], [vi("b", (2,))])
    proc = run_compile(save(m, tmp_path / "c.onnx"))
    assert proc.returncode == 1
    assert "c.onnx:first: error: node consumes undefined value 'b'" in proc.stderr


def test_value_defined_twice(tmp_path):
    m = model_of([helper.make_node("Relu", ["x"], ["y"], name="one"),
                  helper.make_node("Sigmoid", ["x"], ["y"], name="two")],
                 [vi("x", (2,))], [vi("y", (2,))])
    proc = run_compile(save(m, tmp_path / "d.onnx"))
    assert proc.returncode == 1
    assert "d.onnx:two: error: value 'y' is defined twice" in proc.stderr


def test_unsupported_domain_listed(tmp_path):
    m = model_of([helper.make_node("FusedMatMul", ["x", "x"], ["y"], name="fm",
                                   domain="com.microsoft")],
                 [vi("x", (2, 2))], [vi("y", (2, 2))])
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    proc = run_compile(save(m, tmp_path / "ms.onnx"))
    assert proc.returncode == 1
    assert "ms.onnx:fm: error: unsupported op 'com.microsoft.FusedMatMul'" in proc.stderr
    assert "the model uses 1 unsupported op(s): com.microsoft.FusedMatMul (node 'fm')" in proc.stderr


def _external(tmp_path, location, length=None, write=True):
    w = np.arange(16, dtype=np.float32)
    t = numpy_helper.from_array(w, "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in [("location", location), ("offset", "0")] + (
            [("length", str(length))] if length is not None else []):
        e = t.external_data.add()
        e.key, e.value = k, v
    if write:
        (tmp_path / "w.bin").write_bytes(w.tobytes()[:32])  # only 8 of 16 floats
    m = model_of([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", (16,))], [vi("y", (16,))], [t])
    path = tmp_path / "ext.onnx"
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return path


@pytest.mark.parametrize("location", ["../w.bin", "/etc/passwd", "sub/../../w.bin"])
def test_external_data_escaping_model_folder(tmp_path, location):
    proc = run_compile(_external(tmp_path, location))
    assert proc.returncode == 1
    assert f"external data location '{location}' of initializer 'w' escapes the model folder" in proc.stderr


def test_external_data_missing_file(tmp_path):
    proc = run_compile(_external(tmp_path, "nothere.bin", write=False))
    assert proc.returncode == 1
    assert "cannot read external data file" in proc.stderr


def test_external_data_short(tmp_path):
    proc = run_compile(_external(tmp_path, "w.bin", length=64))
    assert proc.returncode == 1
    assert "external data of initializer 'w' is short: needs 64 bytes at offset 0, file has 32" in proc.stderr


def test_external_data_wrong_size(tmp_path):
    proc = run_compile(_external(tmp_path, "w.bin"))
    assert proc.returncode == 1
    assert "initializer 'w' has 32 bytes of data, its shape needs 64" in proc.stderr


def test_external_data_ok(tmp_path, compile_model):
    w = np.arange(16, dtype=np.float32)
    (tmp_path / "w.bin").write_bytes(b"\0" * 8 + w.tobytes())
    t = numpy_helper.from_array(w, "w")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "w.bin"), ("offset", "8"), ("length", "64")]:
        e = t.external_data.add()
        e.key, e.value = k, v
    m = model_of([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", (16,))], [vi("y", (16,))], [t])
    path = tmp_path / "ext_ok.onnx"
    path.write_bytes(m.SerializeToString())
    model = compile_model(path)
    x = np.ones(16, np.float32)
    np.testing.assert_array_equal(model.run({"x": x})["y"], x + w)


def test_graph_output_never_produced(tmp_path):
    m = model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                 [vi("x", (2,))], [vi("y", (2,)), vi("z", (2,))])
    proc = run_compile(save(m, tmp_path / "o.onnx"))
    assert proc.returncode == 1
    assert "o.onnx:z: error: graph output 'z' is never produced" in proc.stderr


def test_string_input_rejected(tmp_path):
    m = model_of([helper.make_node("Identity", ["s"], ["y"], name="id")],
                 [vi("s", (2,), TensorProto.STRING)], [vi("y", (2,), TensorProto.STRING)])
    proc = run_compile(save(m, tmp_path / "s.onnx"))
    assert proc.returncode == 1
    assert "s.onnx:s: error: graph input 's' is not a tensor of a supported element type" in proc.stderr


def test_huge_initializer_shape(tmp_path):
    t = TensorProto()
    t.name = "w"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([1 << 30, 1 << 30])
    t.raw_data = b"\0" * 16
    m = model_of([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", (1,))], [vi("y", (1 << 30, 1 << 30))], [t])
    path = tmp_path / "big.onnx"
    path.write_bytes(m.SerializeToString())
    proc = run_compile(path)
    assert proc.returncode == 1
    assert "initializer 'w' has an invalid or too large shape" in proc.stderr
