"""Data-dependent shapes and the indexing ops routing exporters use:
NonZero and what follows it, scatters, quantize/dequantize chains, compiled
once and run at several sizes against ONNX Runtime."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_matches_ort, save

RNG = np.random.default_rng(11)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def make(tmp_path, nodes, inputs, outputs, inits=(), opset=18, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return save(model, tmp_path / name)


def test_nonzero_gather_matmul_scatter(tmp_path, compile_model):
    """MoE form-A shape: pick the tokens whose gate is positive (NonZero),
    gather them, run an expert, scatter-add the result back."""
    w = numpy_helper.from_array((RNG.standard_normal((16, 16)) / 4).astype(np.float32), "w")
    nodes = [
        helper.make_node("Greater", ["gate", "zero"], ["mask"], name="/router/Greater"),
        helper.make_node("NonZero", ["mask"], ["nz"], name="/router/NonZero"),
        helper.make_node("Squeeze", ["nz", "ax0"], ["idx"], name="/router/Squeeze"),
        helper.make_node("Gather", ["x", "idx"], ["rows"], name="/expert/Gather", axis=0),
        helper.make_node("MatMul", ["rows", "w"], ["h"], name="/expert/MatMul"),
        helper.make_node("Relu", ["h"], ["a"], name="/expert/Relu"),
        helper.make_node("Unsqueeze", ["idx", "ax1"], ["idx2"], name="/combine/Unsqueeze"),
        helper.make_node("Expand", ["idx2", "shape_a"], ["idx3"], name="/combine/Expand"),
        helper.make_node("ScatterElements", ["x", "idx3", "a"], ["y"], name="/combine/Scatter",
                         axis=0, reduction="add"),
    ]
    inits = [w, numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "ax0"),
             numpy_helper.from_array(np.array([1], np.int64), "ax1"),
             numpy_helper.from_array(np.array([1, 16], np.int64), "shape_a")]
    path = make(tmp_path, nodes, [vi("x", ["T", 16]), vi("gate", ["T"])], [vi("y", ["T", 16])],
                inits)
    model = compile_model(path)
    for tokens in [1, 7, 33]:
        x = RNG.standard_normal((tokens, 16)).astype(np.float32)
        gate = RNG.standard_normal(tokens).astype(np.float32)
        assert_matches_ort(model, path, {"x": x, "gate": gate})
    # No token selected: a zero-size NonZero result flows through.
    assert_matches_ort(model, path, {"x": x[:3], "gate": -np.ones(3, np.float32)})


def test_reshape_to_a_shape_built_from_run_time_pieces(tmp_path, compile_model):
    """torch's index_put export reshapes to Concat(Shape(grid), Shape(t)[2:])
    with the second piece empty: ONNX 1.12's data propagation leaves the
    Reshape untyped (its rank is still the shape's length), and the empty
    piece must not become an out-of-range insert in the Concat."""
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"], name="/Shape"),
        helper.make_node("Gather", ["xs", "i0"], ["n"], name="/Gather", axis=0),
        helper.make_node("Range", ["zero", "n", "one"], ["r"], name="/Range"),
        helper.make_node("Unsqueeze", ["r", "ax1"], ["rc"], name="/Unsqueeze"),
        helper.make_node("Add", ["rc", "r"], ["grid"], name="/Add"),
        helper.make_node("Shape", ["grid"], ["gs"], name="/Shape_1"),
        helper.make_node("Slice", ["xs", "s2", "big"], ["tail"], name="/Slice"),
        helper.make_node("Concat", ["gs", "tail"], ["shape"], name="/Concat", axis=0),
        helper.make_node("Flatten", ["x"], ["xf"], name="/Flatten", axis=0),
        helper.make_node("Reshape", ["xf", "shape"], ["y"], name="/Reshape"),
        helper.make_node("Relu", ["y"], ["z"], name="/Relu"),
    ]
    inits = [i64("zero", 0), i64("one", 1), i64("ax1", [1]), i64("s2", [2]),
             i64("big", [np.iinfo(np.int64).max]), i64("i0", 0)]
    path = make(tmp_path, nodes, [vi("x", ["N", "N"])], [vi("z", [None, None])], inits,
                opset=17)
    model = compile_model(path)
    for n in [1, 3, 6]:
        assert_matches_ort(model, path, {"x": RNG.standard_normal((n, n)).astype(np.float32)})


def test_reshape_to_shape_arithmetic_then_unbind(tmp_path, compile_model):
    """torch's `qkv.reshape(B, L, 3, H, d // H).unbind(2)`: the shape is
    Concat(B, L, 3, H, Cast(Div(Gather(Shape(x), 2), H))) with B, L read at
    run time. ONNX 1.12 types the Reshape with five unknown dims, so the
    Split and the Squeeze of its size-1 axis could not be typed; the
    importer works the static dims out of the shape arithmetic."""
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)  # noqa: E731
    nodes = [helper.make_node("Shape", ["x"], ["xs"], name="/Shape")]
    for i in range(3):
        nodes.append(helper.make_node("Gather", ["xs", f"i{i}"], [f"g{i}"], name=f"/Gather_{i}",
                                      axis=0))
    nodes += [
        helper.make_node("Div", ["g2", "heads"], ["hd"], name="/Div"),
        helper.make_node("Cast", ["hd"], ["hdc"], name="/Cast", to=TensorProto.INT64),
        helper.make_node("Unsqueeze", ["g0", "ax0"], ["u0"], name="/Unsqueeze_0"),
        helper.make_node("Unsqueeze", ["g1", "ax0"], ["u1"], name="/Unsqueeze_1"),
        helper.make_node("Unsqueeze", ["hdc", "ax0"], ["u2"], name="/Unsqueeze_2"),
        helper.make_node("Concat", ["u0", "u1", "three", "heads1", "u2"], ["shape"],
                         name="/Concat", axis=0),
        helper.make_node("Tile", ["x", "rep"], ["x3"], name="/Tile"),
        helper.make_node("Reshape", ["x3", "shape"], ["r"], name="/Reshape"),
        helper.make_node("Split", ["r", "ones"], ["q", "k", "v"], name="/Split", axis=2),
        helper.make_node("Squeeze", ["q", "ax2"], ["qs"], name="/Squeeze_0"),
        helper.make_node("Squeeze", ["v", "ax2"], ["vs"], name="/Squeeze_1"),
        helper.make_node("Mul", ["qs", "vs"], ["y"], name="/Mul"),
    ]
    inits = [i64("i0", 0), i64("i1", 1), i64("i2", 2), i64("heads", 4), i64("heads1", [4]),
             i64("three", [3]), i64("ax0", [0]), i64("ax2", [2]), i64("ones", [1, 1, 1]),
             i64("rep", [1, 1, 3])]
    path = make(tmp_path, nodes, [vi("x", ["B", "L", 32])], [vi("y", [None] * 4)], inits, opset=17)
    model = compile_model(path)
    for b, l in [(1, 1), (2, 5)]:
        x = RNG.standard_normal((b, l, 32)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


def test_split_of_nonzero_rows_by_constant_sizes(tmp_path, compile_model):
    """A traced loop over `mask.nonzero()` (transformers 5's eager experts:
    `for e in expert_hit`): the NonZero rows Split by constant sizes [1, 1]
    on their run-time axis, each Squeezed there. ONNX 1.12 leaves the
    pieces' dim unknown; the importer gives it the constant sizes, so the
    Squeeze compiles (it failed with "cannot squeeze dynamic dimension")."""
    nodes = [
        helper.make_node("Greater", ["x", "zero"], ["mask"], name="/hit/Greater"),
        helper.make_node("NonZero", ["mask"], ["nz"], name="/hit/NonZero"),
        helper.make_node("Transpose", ["nz"], ["rows"], name="/hit/Transpose", perm=[1, 0]),
        helper.make_node("Split", ["rows", "sizes"], ["r0", "r1"], name="/hit/Split", axis=0),
        helper.make_node("Squeeze", ["r0", "ax0"], ["e0"], name="/loop/Squeeze"),
        helper.make_node("Squeeze", ["r1", "ax0"], ["e1"], name="/loop/Squeeze_1"),
        helper.make_node("Gather", ["w", "e0"], ["w0"], name="/loop/Gather", axis=0),
        helper.make_node("Gather", ["w", "e1"], ["w1"], name="/loop/Gather_1", axis=0),
        helper.make_node("Add", ["w0", "w1"], ["y"], name="/loop/Add"),
    ]
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array([1, 1], np.int64), "sizes"),
             numpy_helper.from_array(np.array([0], np.int64), "ax0"),
             numpy_helper.from_array(RNG.standard_normal((6, 4)).astype(np.float32), "w")]
    path = make(tmp_path, nodes, [vi("x", [6])], [vi("y", [1, 4])], inits, opset=17)
    model = compile_model(path)
    x = np.array([-1.0, 2.0, -3.0, -0.5, 4.0, -2.0], np.float32)  # experts 1 and 4 hit
    assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("n", [8, 9])
def test_slice_bounds_from_shape_arithmetic_are_typed(tmp_path, compile_model, n):
    """TorchScript's chunk(2, -1): Slices of the last axis ending at
    (n + 1) // 2 and 2 * ((n + 1) // 2), n read from the Shape. Typed
    [.., n / 2] at import (ONNX 1.12 leaves them unknown), so the halves'
    element-wise product compiles as a static-width loop; odd n too."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="/chunk/Shape"),
        helper.make_node("Gather", ["s", "last"], ["d"], name="/chunk/Gather", axis=0),
        helper.make_node("Add", ["d", "one"], ["d1"], name="/chunk/Add"),
        helper.make_node("Div", ["d1", "two"], ["h"], name="/chunk/Div"),
        helper.make_node("Mul", ["h", "two"], ["e"], name="/chunk/Mul"),
        helper.make_node("Slice", ["x", "zero", "h", "last"], ["a"], name="/chunk/Slice"),
        helper.make_node("Slice", ["x", "h", "e", "last"], ["b"], name="/chunk/Slice_1"),
        helper.make_node("Sigmoid", ["a"], ["sa"], name="/glu/Sigmoid"),
    ]
    inits = [numpy_helper.from_array(np.array(v, np.int64), name)
             for name, v in (("last", [-1]), ("one", [1]), ("two", [2]), ("zero", [0]))]
    path = make(tmp_path, nodes, [vi("x", ["T", n])],
                [vi("sa", ["T", "a"]), vi("b", ["T", "b"])], inits, opset=17,
                name=f"c{n}.onnx")
    model = compile_model(path)
    out = assert_matches_ort(model, path, {"x": RNG.standard_normal((3, n)).astype(np.float32)})
    assert out["sa"].shape == (3, (n + 1) // 2) and out["b"].shape == (3, n // 2)


def test_nonzero_output_shape_varies(tmp_path, compile_model):
    path = make(tmp_path, [helper.make_node("NonZero", ["x"], ["y"], name="nz")],
                [vi("x", ["N", 3])], [vi("y", [2, "K"], TensorProto.INT64)])
    model = compile_model(path)
    for n in [1, 4, 9]:
        x = (RNG.random((n, 3)) > 0.5).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatternd_reductions_dynamic_rows(tmp_path, compile_model, reduction):
    nodes = [helper.make_node("ScatterND", ["data", "idx", "upd"], ["y"], name="s",
                              reduction=reduction)]
    path = make(tmp_path, nodes,
                [vi("data", ["N", 4]), vi("idx", ["M", 1], TensorProto.INT64),
                 vi("upd", ["M", 4])], [vi("y", ["N", 4])])
    model = compile_model(path)
    for n, m in [(5, 2), (9, 4)]:
        # Duplicates are undefined for "none" in ONNX, so only the reductions get them.
        idx = RNG.choice(n, size=(m, 1), replace=reduction != "none")
        assert_matches_ort(model, path, {"data": RNG.standard_normal((n, 4)).astype(np.float32),
                                         "idx": idx.astype(np.int64),
                                         "upd": RNG.standard_normal((m, 4)).astype(np.float32)})


def test_qdq_matmul_chain(tmp_path, compile_model):
    """A QDQ-quantized linear layer as ONNX Runtime's quantizer writes it:
    activation Q -> DQ, per-channel int8 weight DQ, MatMul, bias Add."""
    w = RNG.standard_normal((32, 8)).astype(np.float32)
    w_scale = (np.abs(w).max(axis=0) / 127).astype(np.float32)
    w_q = np.clip(np.rint(w / w_scale), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(w_q, "w_q"), numpy_helper.from_array(w_scale, "w_scale"),
             numpy_helper.from_array(np.array(0.05, np.float32), "x_scale"),
             numpy_helper.from_array(np.array(128, np.uint8), "x_zp"),
             numpy_helper.from_array(RNG.standard_normal(8).astype(np.float32), "b")]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zp"], ["xq"], name="/q"),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zp"], ["xd"], name="/dq"),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["wd"], name="/w_dq", axis=1),
        helper.make_node("MatMul", ["xd", "wd"], ["h"], name="/MatMul"),
        helper.make_node("Add", ["h", "b"], ["y"], name="/Add"),
    ]
    path = make(tmp_path, nodes, [vi("x", ["B", 32])], [vi("y", ["B", 8])], inits, opset=13)
    model = compile_model(path)
    for b in [1, 5]:
        assert_matches_ort(model, path, {"x": RNG.standard_normal((b, 32)).astype(np.float32)})


def test_dynamic_quantize_matmul_integer(tmp_path, compile_model):
    """Dynamic int8 quantization: DynamicQuantizeLinear -> MatMulInteger ->
    Cast -> Mul by the combined scale (ONNX Runtime's dynamic quantizer)."""
    w = RNG.standard_normal((16, 8)).astype(np.float32)
    w_scale = np.float32(np.abs(w).max() / 127)
    w_q = np.clip(np.rint(w / w_scale), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(w_q, "w_q"),
             numpy_helper.from_array(np.array(w_scale, np.float32), "w_scale"),
             numpy_helper.from_array(np.array(0, np.int8), "w_zp")]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xzp"], name="/dq"),
        helper.make_node("MatMulInteger", ["xq", "w_q", "xzp", "w_zp"], ["acc"], name="/mmi"),
        helper.make_node("Cast", ["acc"], ["accf"], name="/cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xs", "w_scale"], ["s"], name="/scale"),
        helper.make_node("Mul", ["accf", "s"], ["y"], name="/mul"),
    ]
    path = make(tmp_path, nodes, [vi("x", ["B", 16])], [vi("y", ["B", 8])], inits, opset=13)
    model = compile_model(path)
    # ONNX Runtime's uint8 x int8 MatMulInteger is exact only with VNNI
    # (elsewhere MLAS sums product pairs in saturating int16): there the
    # ONNX reference evaluator, the spec's int32 arithmetic, is the reference.
    exact_ort = "vnni" in open("/proc/cpuinfo").read()
    for b in [1, 6]:
        feeds = {"x": RNG.standard_normal((b, 16)).astype(np.float32)}
        if exact_ort:
            assert_matches_ort(model, path, feeds)
        else:
            from onnx.reference import ReferenceEvaluator
            ref = ReferenceEvaluator(path).run(None, feeds)[0]
            np.testing.assert_allclose(model.run(feeds)["y"], ref, atol=1e-5, rtol=1e-5)
