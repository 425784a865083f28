"""Transformer-FFN style graphs and every foundation op, compared with ONNX
Runtime on random inputs."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_matches_ort, ort_run, save
from sparsa import models

RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def build(tmp_path, nodes, inputs, outputs, inits=(), name="g.onnx", opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]),
                tmp_path / name)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def test_ffn_block_dynamic_batch_and_seq(tmp_path, compile_model):
    path = models.ffn_block(str(tmp_path / "ffn.onnx"), hidden=64, inner=256)
    model = compile_model(path)
    assert model.inputs[0].shape == (None, None, 64)
    for b, s in [(1, 1), (2, 7)]:
        assert_matches_ort(model, path, {"x": rand(b, s, 64)})


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_axes(tmp_path, compile_model, axis):
    path = build(tmp_path, [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=axis)],
                 [vi("x", (3, 5, 7))], [vi("y", (3, 5, 7))])
    assert_matches_ort(compile_model(path), path, {"x": 4 * rand(3, 5, 7)})


def test_elementwise_broadcast_chain(tmp_path, compile_model):
    nodes = [
        helper.make_node("Sub", ["a", "b"], ["s"], name="sub"),
        helper.make_node("Div", ["s", "c"], ["d"], name="div"),
        helper.make_node("Tanh", ["d"], ["t"], name="tanh"),
        helper.make_node("Sigmoid", ["t"], ["g"], name="sigmoid"),
        helper.make_node("Mul", ["g", "a"], ["y"], name="mul"),
    ]
    c = (np.abs(rand(1, 6)) + 0.5).astype(np.float32)
    path = build(tmp_path, nodes, [vi("a", ("N", 4, 6)), vi("b", (4, 1))],
                 [vi("y", ("N", 4, 6))], [numpy_helper.from_array(c, "c")])
    assert_matches_ort(compile_model(path), path, {"a": rand(2, 4, 6), "b": rand(4, 1)})


def test_shape_ops(tmp_path, compile_model):
    shape = numpy_helper.from_array(np.array([0, -1], np.int64), "shape")
    axes0 = numpy_helper.from_array(np.array([0], np.int64), "axes0")
    axes_last = numpy_helper.from_array(np.array([-1], np.int64), "axes_last")
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),       # [N, 12]
        helper.make_node("Transpose", ["r"], ["t"], name="transpose", perm=[1, 0]),  # [12, N]
        helper.make_node("Unsqueeze", ["t", "axes0"], ["u"], name="unsqueeze"),  # [1, 12, N]
        helper.make_node("Squeeze", ["u", "axes0"], ["q"], name="squeeze"),      # [12, N]
        helper.make_node("Unsqueeze", ["q", "axes_last"], ["u2"], name="unsq2"),  # [12, N, 1]
        helper.make_node("Squeeze", ["u2"], ["q2"], name="squeeze_all"),          # [12, N]
        helper.make_node("Concat", ["q2", "t"], ["y"], name="concat", axis=0),   # [24, N]
        helper.make_node("Identity", ["y"], ["z"], name="identity"),
    ]
    path = build(tmp_path, nodes, [vi("x", (3, 3, 4))], [vi("z", (24, 3))],
                 [shape, axes0, axes_last])
    assert_matches_ort(compile_model(path), path, {"x": rand(3, 3, 4)})


def test_transpose_default_perm_and_3d(tmp_path, compile_model):
    nodes = [helper.make_node("Transpose", ["x"], ["a"], name="rev"),
             helper.make_node("Transpose", ["a"], ["y"], name="perm", perm=[1, 2, 0])]
    path = build(tmp_path, nodes, [vi("x", (2, 3, 4))], [vi("y", (3, 2, 4))])
    assert_matches_ort(compile_model(path), path, {"x": rand(2, 3, 4)})


def test_cast_roundtrip(tmp_path, compile_model):
    nodes = [helper.make_node("Cast", ["x"], ["i"], name="to_i64", to=TensorProto.INT64),
             helper.make_node("Cast", ["i"], ["h"], name="to_f16", to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["h"], ["y"], name="to_f32", to=TensorProto.FLOAT),
             helper.make_node("Cast", ["x"], ["b"], name="to_bool", to=TensorProto.BOOL),
             helper.make_node("Cast", ["b"], ["z"], name="bool_to_i32", to=TensorProto.INT32)]
    path = build(tmp_path, nodes, [vi("x", (16,))],
                 [vi("y", (16,)), vi("i", (16,), TensorProto.INT64),
                  vi("z", (16,), TensorProto.INT32)])
    x = (10 * rand(16)).astype(np.float32)
    x[0] = 0.0
    assert_matches_ort(compile_model(path), path, {"x": x})


def test_integer_arithmetic(tmp_path, compile_model):
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Mul", ["s", "b"], ["m"], name="mul"),
             helper.make_node("Div", ["m", "c"], ["y"], name="div")]
    c = numpy_helper.from_array(np.array([3, -2, 5, 7], np.int64), "c")
    path = build(tmp_path, nodes, [vi("a", (2, 4), TensorProto.INT64),
                                   vi("b", (4,), TensorProto.INT64)],
                 [vi("y", (2, 4), TensorProto.INT64)], [c])
    feeds = {"a": RNG.integers(-50, 50, (2, 4)).astype(np.int64),
             "b": RNG.integers(-9, 9, (4,)).astype(np.int64)}
    assert_matches_ort(compile_model(path), path, feeds)


def test_output_is_input_and_constant(tmp_path, compile_model):
    """Outputs that alias an input or a constant are copied, never freed."""
    k = numpy_helper.from_array(rand(4, 4), "k")
    nodes = [helper.make_node("Identity", ["x"], ["y"], name="passthrough"),
             helper.make_node("Identity", ["k"], ["z"], name="const_out")]
    path = build(tmp_path, nodes, [vi("x", (4, 4))], [vi("y", (4, 4)), vi("z", (4, 4))], [k])
    model = compile_model(path)
    x = rand(4, 4)
    for _ in range(3):
        out = assert_matches_ort(model, path, {"x": x})
    out["y"][0, 0] = 123.0  # outputs are the caller's own arrays
    assert x[0, 0] != 123.0


def test_nan_and_inf_propagate(tmp_path, compile_model):
    path = models.mlp(str(tmp_path / "m.onnx"), [8, 8, 8], batch=2)
    model = compile_model(path)
    x = rand(2, 8)
    x[0, 3] = np.nan
    x[1, 1] = np.inf
    from conftest import ort_run
    ours = model.run({"x": x})["y"]
    ref = ort_run(path, {"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))


@pytest.mark.parametrize("a_shape,b_shape,y_shape", [
    ((8,), (8,), ()),                       # dot product: both promoted
    ((2, 1, 3, 8), (5, 8, 4), (2, 5, 3, 4)),  # batch broadcasting both ways
    (("B", 3, 8), (8, 4), ("B", 3, 4)),       # dynamic batch x weight
    ((3, 8), ("B", 8, 4), ("B", 3, 4)),       # weight-like lhs, batched rhs
    (("B", 3, 8), ("C", 8, 4), ("B", 3, 4)),  # both dynamic, rhs batch 1 at run time
])
def test_matmul_numpy_semantics(tmp_path, compile_model, a_shape, b_shape, y_shape):
    path = build(tmp_path, [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
                 [vi("a", a_shape), vi("b", b_shape)], [vi("y", y_shape)])
    concrete = lambda s: tuple({"C": 1}.get(d, 2) if isinstance(d, str) else d  # noqa: E731
                               for d in s)
    assert_matches_ort(compile_model(path), path,
                       {"a": rand(*concrete(a_shape)), "b": rand(*concrete(b_shape))})


def test_scalar_and_dynamic_broadcast(tmp_path, compile_model):
    nodes = [helper.make_node("Mul", ["s", "x"], ["m"], name="scale"),
             helper.make_node("Add", ["m", "row"], ["y"], name="add_row")]
    path = build(tmp_path, nodes, [vi("s", ()), vi("x", ("N", 5)), vi("row", (1, 5))],
                 [vi("y", ("N", 5))])
    assert_matches_ort(compile_model(path), path,
                       {"s": np.array(1.5, np.float32), "x": rand(3, 5), "row": rand(1, 5)})


@pytest.mark.parametrize("op", ["Mul", "Add", "Where"])
def test_dims_that_are_one_only_at_run_time(tmp_path, compile_model, op):
    """Both operands typed [?, 4, ?, 16]-like, one of them [1, 1, L, 16] at
    run time (transformers' rotary tables times the activations): numpy
    broadcasting stretches the run-time 1s, in either operand order."""
    if op == "Where":
        nodes = [helper.make_node("Greater", ["x", "t"], ["c"], name="cmp"),
                 helper.make_node("Where", ["c", "x", "t"], ["y"], name="sel")]
    else:
        nodes = [helper.make_node(op, ["x", "t"], ["y"], name="op")]
    path = build(tmp_path, nodes, [vi("x", ("B", 4, "L", 16)), vi("t", ("b", "h", "L", 16))],
                 [vi("y", ("B", 4, "L", 16))])
    model = compile_model(path)
    for xb, tb, th in [(2, 1, 1), (1, 1, 4), (3, 3, 1), (2, 2, 4)]:
        assert_matches_ort(model, path, {"x": rand(xb, 4, 9, 16), "t": rand(tb, th, 9, 16)})
    # The run-time-1 operand first.
    path2 = build(tmp_path, [helper.make_node("Sub", ["t", "x"], ["y"], name="sub")],
                  [vi("x", ("B", 4, "L", 16)), vi("t", ("b", 1, "L", 16))],
                  [vi("y", ("B", 4, "L", 16))], name="g2.onnx")
    assert_matches_ort(compile_model(path2, name="m2"), path2,
                       {"x": rand(2, 4, 5, 16), "t": rand(1, 1, 5, 16)})


@pytest.mark.parametrize("cpu", ["haswell", "x86-64"])
def test_kernels_for_narrower_vector_units(tmp_path, compile_model, cpu):
    """--cpu picks the kernels' vector width (AVX2: 8 floats, SSE: 4): GEMM,
    GEMV and row-reduction kernels with masked tails at odd sizes."""
    path = models.mlp(str(tmp_path / "m.onnx"), [100, 300, 70], batch="B")
    model = compile_model(path, cpu=cpu)
    for b in [1, 7]:
        assert_matches_ort(model, path, {"x": rand(b, 100)})
    sm = build(tmp_path, [helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=-1)],
               [vi("x", ("N", 37))], [vi("y", ("N", 37))], name="sm.onnx")
    assert_matches_ort(compile_model(sm, name="sm", cpu=cpu), sm, {"x": 3 * rand(5, 37)})


@pytest.mark.parametrize("shape,k,largest", [
    ((1, 3000), 300, 1),      # a predictor choosing neurons (radix select path)
    ((3, 2048), 17, 0),       # several rows, smallest
    ((4096,), 4096, 1),       # k = the whole axis
    ((2, 1500), 1, 1),
    ((5, 256), 26, 1),        # a top-k FFN's 256 neurons (radix select from 128)
    ((2, 130), 130, 0),
    ((3, 127), 40, 1),        # below 128: ranking
])
def test_topk_long_axis(tmp_path, compile_model, shape, k, largest):
    """Long f32 axes take radix select; values, indices and order (ties to the
    lower index) must match ONNX Runtime, including repeated values and
    zeros of both signs (equal: ties by index)."""
    kk = numpy_helper.from_array(np.array([k], np.int64), "k")
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk", axis=-1,
                            largest=largest)
    out_shape = shape[:-1] + (k,)
    path = build(tmp_path, [node], [vi("x", shape)],
                 [vi("v", out_shape), vi("i", out_shape, TensorProto.INT64)], [kk])
    model = compile_model(path)
    x = rand(*shape)
    x.reshape(-1)[::7] = 0.5          # many ties
    x.reshape(-1)[::11] = -0.0        # signed zeros and negatives
    x.reshape(-1)[3::13] = 0.0
    assert_matches_ort(model, path, {"x": x})


def test_topk_unsorted_long_axis(tmp_path, compile_model):
    """sorted = 0 (the consumer needs the set only): the k chosen come in
    index order; as sets, values and indices match ONNX Runtime."""
    kk = numpy_helper.from_array(np.array([200], np.int64), "k")
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk", axis=-1, sorted=0)
    path = build(tmp_path, [node], [vi("x", (2, 3000))],
                 [vi("v", (2, 200)), vi("i", (2, 200), TensorProto.INT64)], [kk])
    x = rand(2, 3000)
    ours = compile_model(path).run({"x": x})
    ref = ort_run(path, {"x": x})
    assert np.all(np.diff(ours["i"], axis=1) > 0)
    np.testing.assert_array_equal(np.sort(ours["i"], 1), np.sort(ref["i"], 1))
    np.testing.assert_array_equal(np.take_along_axis(x, ours["i"], 1), ours["v"])


@pytest.mark.parametrize("op,attrs", [
    ("Floor", {}), ("Ceil", {}), ("Round", {}), ("Sign", {}), ("Softplus", {}),
    ("Softsign", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {}),
    ("Mish", {}),
])
def test_rounding_and_smooth_activations(tmp_path, compile_model, op, attrs):
    """Fake quantization's `round(x / s)`, floor / ceil / sign, and the
    smooth and hard activations (Softplus as in Mamba's step size, Mish,
    MobileNet's HardSwish), with halves, zeros, large magnitudes (Softplus
    must not overflow) and NaN."""
    x = np.concatenate([8 * rand(2, 40),
                        np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.0, -0.0, 90.0, -90.0,
                                   3.0, -3.0, 1e-3, np.nan, 40.0, -40.0] * 5] * 2,
                                 np.float32)], axis=1)
    path = build(tmp_path, [helper.make_node(op, ["x"], ["y"], name=op.lower(), **attrs)],
                 [vi("x", ("N", 120))], [vi("y", ("N", 120))], opset=18)
    model = compile_model(path)
    ours, ref = model.run({"x": x})["y"], ort_run(path, {"x": x})["y"]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(ours[ok], ref[ok], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("op,attrs", [
    ("IsNaN", {}), ("IsInf", {}), ("IsInf", {"detect_negative": 0}),
    ("IsInf", {"detect_positive": 0}), ("IsInf", {"detect_positive": 0, "detect_negative": 0}),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_infinity_tests(tmp_path, compile_model, op, attrs, dtype):
    """IsNaN / IsInf (either sign, or neither) on NaN, both infinities, the
    largest finite values and ordinary numbers."""
    x = np.concatenate([rand(2, 24), np.array(
        [[np.nan, np.inf, -np.inf, 0.0, -0.0, 3.4e38, -3.4e38, 1.0] * 3] * 2, np.float32)],
        axis=1).astype(dtype)
    path = build(tmp_path, [helper.make_node(op, ["x"], ["y"], name=op.lower(), **attrs)],
                 [vi("x", ("N", 48), helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))],
                 [vi("y", ("N", 48), TensorProto.BOOL)], opset=13)
    ours, ref = compile_model(path).run({"x": x})["y"], ort_run(path, {"x": x})["y"]
    np.testing.assert_array_equal(ours, ref)
    assert ref.any() or attrs == {"detect_positive": 0, "detect_negative": 0}


@pytest.mark.parametrize("slope_shape", [(1,), (6,), (4, 1)])
def test_prelu_slope_broadcast(tmp_path, compile_model, slope_shape):
    slope = rand(*slope_shape)
    path = build(tmp_path, [helper.make_node("PRelu", ["x", "s"], ["y"], name="prelu")],
                 [vi("x", ("N", 4, 6))], [vi("y", ("N", 4, 6))],
                 [numpy_helper.from_array(slope, "s")])
    assert_matches_ort(compile_model(path), path, {"x": rand(3, 4, 6)})


def test_hand_written_fake_quantization(tmp_path, compile_model):
    """torch's fake quantization written by hand, as a QAT model exports
    it: q = clamp(round(x / s) + zp, 0, 255), x' = (q - zp) * s."""
    s, zp = np.float32(0.05), np.float32(128)
    nodes = [helper.make_node("Div", ["x", "s"], ["xs"], name="div"),
             helper.make_node("Round", ["xs"], ["r"], name="round"),
             helper.make_node("Add", ["r", "zp"], ["rz"], name="add"),
             helper.make_node("Clip", ["rz", "lo", "hi"], ["q"], name="clip"),
             helper.make_node("Sub", ["q", "zp"], ["qz"], name="sub"),
             helper.make_node("Mul", ["qz", "s"], ["y"], name="mul")]
    inits = [numpy_helper.from_array(np.array(v, np.float32), n)
             for n, v in (("s", s), ("zp", zp), ("lo", 0.0), ("hi", 255.0))]
    path = build(tmp_path, nodes, [vi("x", ("N", 64))], [vi("y", ("N", 64))], inits)
    x = 5 * rand(4, 64)
    x[0, :8] = np.array([0.025, 0.075, -0.025, 0.125, 10.0, -10.0, 0.0, 0.05], np.float32)
    assert_matches_ort(compile_model(path), path, {"x": x})


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("pads", [[0, 1, 0, 2], [1, 2, 3, 0], [0, -1, 1, 2]])
def test_pad_modes(tmp_path, compile_model, mode, pads):
    """F.pad as exported: constant (with a fill), reflect, edge and wrap,
    on a dynamic leading axis; negative pads crop."""
    inits = [numpy_helper.from_array(np.array(pads, np.int64), "pads"),
             numpy_helper.from_array(np.array(1.5, np.float32), "c")]
    node = helper.make_node("Pad", ["x", "pads", "c"] if mode == "constant" else ["x", "pads"],
                            ["y"], name="pad", mode=mode)
    path = build(tmp_path, [node], [vi("x", ("N", 5))], [vi("y", (None, None))], inits,
                 opset=19)
    model = compile_model(path)
    for n in [4, 6]:  # reflect's pads stay below the size
        assert_matches_ort(model, path, {"x": rand(n, 5)})


def test_pad_run_time_pads_axes_and_ints(tmp_path, compile_model):
    """Pads and axes as graph inputs (read at run time), an int64 tensor,
    the fill default 0."""
    node = helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"], name="pad")
    path = build(tmp_path, [node],
                 [vi("x", (2, 3, 4), TensorProto.INT64), vi("pads", (4,), TensorProto.INT64),
                  vi("axes", (2,), TensorProto.INT64)],
                 [vi("y", (None, None, None), TensorProto.INT64)], opset=19)
    model = compile_model(path)
    x = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    for pads, axes in [([1, 0, 2, 3], [-1, 1]), ([0, 2, 1, -1], [0, 2])]:
        assert_matches_ort(model, path, {"x": x, "pads": np.array(pads, np.int64),
                                         "axes": np.array(axes, np.int64)})


@pytest.mark.parametrize("x_shape,w_shape,attrs,bias", [
    # Mamba's depthwise causal Conv1d: group = channels, pads [k - 1, 0]
    (("B", 8, "L"), (8, 1, 4), {"group": 8, "pads": [3, 0]}, True),
    # a ViT / V-MoE patch embedding: stride = kernel
    (("B", 3, 16, 16), (12, 3, 4, 4), {"strides": [4, 4]}, True),
    # grouped, dilated, strided, asymmetric pads
    ((2, 6, 9, 11), (4, 3, 3, 2), {"group": 2, "dilations": [2, 1], "strides": [1, 2],
                                   "pads": [1, 0, 2, 1]}, False),
    ((1, 4, 7, 6), (6, 4, 3, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}, True),
    ((1, 2, 5, 4, 6), (3, 2, 2, 3, 1), {"pads": [0, 1, 0, 1, 0, 0]}, True),  # 3-D
])
def test_conv(tmp_path, compile_model, x_shape, w_shape, attrs, bias):
    w = (rand(*w_shape) / 3).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")]
    ins = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rand(w_shape[0]), "b"))
        ins.append("b")
    path = build(tmp_path, [helper.make_node("Conv", ins, ["y"], name="conv", **attrs)],
                 [vi("x", x_shape)], [vi("y", [None] * len(x_shape))], inits)
    model = compile_model(path)
    sizes = [[1 if d == "B" else 17 if d == "L" else d for d in x_shape],
             [2 if d == "B" else 5 if d == "L" else d for d in x_shape]]
    for shape in sizes:
        assert_matches_ort(model, path, {"x": rand(*shape)})


@pytest.mark.parametrize("op", ["ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
                                "ReduceLogSumExp"])
@pytest.mark.parametrize("axes,keepdims", [([-1], 1), ([0, 2], 0), (None, 1)])
def test_norm_reductions(tmp_path, compile_model, op, axes, keepdims):
    """torch.norm / F.normalize (a cosine router's L2 norm), logsumexp, on
    a dynamic leading axis (opset 18: axes as an input)."""
    ins = ["x"] + (["axes"] if axes is not None else [])
    inits = [numpy_helper.from_array(np.array(axes, np.int64), "axes")] if axes else []
    path = build(tmp_path, [helper.make_node(op, ins, ["y"], name="r", keepdims=keepdims)],
                 [vi("x", ("N", 3, 5))], [vi("y", None)], inits, opset=18)
    model = compile_model(path)
    x = rand(4, 3, 5)
    if op == "ReduceLogSum":
        x = np.abs(x) + 0.1
    if op == "ReduceLogSumExp":
        x[0, 1, :] = 80.0          # exp overflows without the max shift
        x[1, 2, :] = -np.inf       # log 0
    ours, ref = model.run({"x": x})["y"], ort_run(path, {"x": x})["y"]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_cosine_router_normalize(tmp_path, compile_model):
    """F.normalize(x) @ F.normalize(E).T as a cosine-similarity MoE router
    writes it: ReduceL2 keepdims, Clip(min=eps), Expand, Div."""
    e = numpy_helper.from_array(rand(16, 8), "e")
    nodes = [
        helper.make_node("ReduceL2", ["x", "ax"], ["n"], name="l2", keepdims=1),
        helper.make_node("Clip", ["n", "eps"], ["nc"], name="clip"),
        helper.make_node("Shape", ["x"], ["xs"], name="shape"),
        helper.make_node("Expand", ["nc", "xs"], ["ne"], name="expand"),
        helper.make_node("Div", ["x", "ne"], ["xn"], name="div"),
        helper.make_node("MatMul", ["xn", "e"], ["y"], name="mm"),
    ]
    inits = [e, numpy_helper.from_array(np.array([-1], np.int64), "ax"),
             numpy_helper.from_array(np.array(1e-12, np.float32), "eps")]
    path = build(tmp_path, nodes, [vi("x", ("T", 16))], [vi("y", ("T", 8))], inits, opset=18)
    model = compile_model(path)
    x = rand(5, 16)
    x[0] = 0.0  # the eps keeps a zero row finite
    assert_matches_ort(model, path, {"x": x})
