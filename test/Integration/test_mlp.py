"""MLPs of several shapes, Gemm and MatMul forms, static and dynamic batch,
compared with ONNX Runtime."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_matches_ort, save
from sparsa import models

RNG = np.random.default_rng(42)


def x_of(shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("batch", [1, 64])
@pytest.mark.parametrize("gemm", [False, True])
def test_mlp_static_batch(tmp_path, compile_model, batch, gemm):
    path = models.mlp(str(tmp_path / "m.onnx"), [96, 160, 48], batch=batch, gemm=gemm)
    model = compile_model(path)
    assert model.inputs[0].shape == (batch, 96)
    assert_matches_ort(model, path, {"x": x_of((batch, 96))})


def test_mlp_dynamic_batch_two_sizes(tmp_path, compile_model):
    path = models.mlp(str(tmp_path / "m.onnx"), [64, 256, 256, 32], batch="N")
    model = compile_model(path)
    assert model.inputs[0].shape == (None, 64)
    assert model.inputs[0].dim_params == ("N", "")
    for batch in (3, 17):
        out = assert_matches_ort(model, path, {"x": x_of((batch, 64))})
        assert out["y"].shape == (batch, 32)


def test_mlp_pinned_batch(tmp_path, compile_model):
    """--input-shape pins the dynamic batch; other sizes are then rejected."""
    path = models.mlp(str(tmp_path / "m.onnx"), [32, 64, 16], batch="N")
    model = compile_model(path, input_shapes={"x": [4, 32]})
    assert model.inputs[0].shape == (4, 32)
    assert_matches_ort(model, path, {"x": x_of((4, 32))})
    with pytest.raises(Exception, match=r"expected shape \[4, 32\], got \[5, 32\]"):
        model.run({"x": x_of((5, 32))})


def test_mlp_4096_matches_ort(tmp_path, compile_model):
    """The foundation issue's bar: 1x4096 -> 4096 -> 4096, ReLU, fp32,
    max abs error <= 1e-4 against ONNX Runtime."""
    path = models.mlp(str(tmp_path / "m.onnx"), [4096, 4096, 4096], batch=1)
    model = compile_model(path)
    x = x_of((1, 4096))
    ours = model.run({"x": x})["y"]
    from conftest import ort_run
    ref = ort_run(path, {"x": x})["y"]
    assert float(np.max(np.abs(ours - ref))) <= 1e-4


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("weights_are_inputs", [False, True])
def test_gemm_transpose_alpha_beta(tmp_path, compile_model, trans_a, trans_b,
                                   weights_are_inputs):
    m, k, n = 5, 24, 40
    a_shape = (k, m) if trans_a else (m, k)
    b_shape = (n, k) if trans_b else (k, n)
    b = x_of(b_shape)
    c = x_of((1, n))
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, a_shape)]
    inits = [numpy_helper.from_array(c, "c")]
    if weights_are_inputs:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, b_shape))
    else:
        inits.append(numpy_helper.from_array(b, "b"))
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm",
                            alpha=0.75, beta=1.5, transA=trans_a, transB=trans_b)
    graph = helper.make_graph([node], "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (m, n))],
                              inits)
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "gemm.onnx")
    model = compile_model(path)
    feeds = {"a": x_of(a_shape)}
    if weights_are_inputs:
        feeds["b"] = b
    assert_matches_ort(model, path, feeds)


def test_gemm_without_bias_and_large_weights(tmp_path, compile_model):
    """Weights above the outlining threshold go to the sidecar file; the
    result must be the same as with inline constants."""
    path = models.mlp(str(tmp_path / "m.onnx"), [512, 300, 7], batch=2, gemm=True,
                      bias=False)
    model = compile_model(path)
    assert (tmp_path / "model.so.weights").stat().st_size > 512 * 300 * 4
    assert_matches_ort(model, path, {"x": x_of((2, 512))})


def test_matmul_vector_operands(tmp_path, compile_model):
    """Rank-1 operands are promoted (numpy matmul semantics)."""
    w = x_of((16, 8))
    v = x_of((8,))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="vecmat"),
         helper.make_node("MatMul", ["w", "v"], ["y"], name="matvec_unused"),
         helper.make_node("Add", ["h", "v"], ["z"], name="add")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (16,))],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, (8,)),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, (16,))],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(v, "v")])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                tmp_path / "vec.onnx")
    model = compile_model(path)
    assert_matches_ort(model, path, {"x": x_of((16,))})


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("gemm", [False, True])
def test_split_reduction_gemv(tmp_path, compile_model, batch, gemm):
    """Few rows and a long reduction take the split-reduction path (partial
    sums per block of weight rows, then a merge into the bias-initialised
    accumulator); the result must not depend on it."""
    path = models.mlp(str(tmp_path / "m.onnx"), [1024, 768, 256], batch=batch, gemm=gemm)
    model = compile_model(path)
    for threads in (1, 2):
        model.set_num_threads(threads)
        assert_matches_ort(model, path, {"x": x_of((batch, 1024))})
