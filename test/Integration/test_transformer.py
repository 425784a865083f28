"""A transformer encoder block exported the way torch.onnx writes it,
compiled once with symbolic batch and sequence and run at several sizes
against ONNX Runtime."""

import numpy as np
import pytest

from conftest import assert_matches_ort
from sparsa import models


@pytest.mark.parametrize("gelu", ["erf", "tanh", "op"])
def test_transformer_block_two_sequence_lengths(tmp_path, compile_model, gelu):
    path = models.transformer_block(str(tmp_path / "block.onnx"), hidden=64, heads=4,
                                    inner=256, gelu=gelu)
    model = compile_model(path)
    assert model.inputs[0].shape == (None, None, 64)
    rng = np.random.default_rng(3)
    for batch, seq in [(1, 5), (2, 17), (3, 1)]:
        x = rng.standard_normal((batch, seq, 64)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


def test_transformer_block_external_data(tmp_path, compile_model):
    path = models.transformer_block(str(tmp_path / "ext.onnx"), external_data=True)
    assert (tmp_path / "ext.onnx.data").stat().st_size > 64 * 64 * 4
    model = compile_model(path)
    x = np.random.default_rng(4).standard_normal((2, 9, 64)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("opset", [18, 21])
def test_rmsnorm_with_axes_input_at_new_opsets(tmp_path, compile_model, opset):
    """RMSNorm as torch exports it at opset >= 18 (ReduceMean takes its axes
    as an input): types the ONNX library cannot infer are completed."""
    from onnx import TensorProto, helper, numpy_helper

    from conftest import save

    w = numpy_helper.from_array(np.linspace(0.5, 1.5, 32).astype(np.float32), "weight")
    consts = [numpy_helper.from_array(np.array([-1], np.int64), "axes"),
              numpy_helper.from_array(np.array(2.0, np.float32), "two"),
              numpy_helper.from_array(np.array(1e-6, np.float32), "eps")]
    nodes = [
        helper.make_node("Pow", ["x", "two"], ["sq"], name="/norm/Pow"),
        helper.make_node("ReduceMean", ["sq", "axes"], ["ms"], name="/norm/ReduceMean",
                         keepdims=1),
        helper.make_node("Add", ["ms", "eps"], ["mse"], name="/norm/Add"),
        helper.make_node("Sqrt", ["mse"], ["rms"], name="/norm/Sqrt"),
        helper.make_node("Div", ["x", "rms"], ["n"], name="/norm/Div"),
        helper.make_node("Mul", ["n", "weight"], ["y"], name="/norm/Mul"),
    ]
    graph = helper.make_graph(
        nodes, "rmsnorm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 32])],
        [w] + consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    path = save(model, tmp_path / "rms.onnx")
    compiled = compile_model(path)
    rng = np.random.default_rng(5)
    for shape in [(1, 3, 32), (2, 8, 32)]:
        assert_matches_ort(compiled, path, {"x": rng.standard_normal(shape).astype(np.float32)})
