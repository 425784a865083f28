"""Small generated ONNX models for examples, tests and benchmarks.

Needs the `onnx` package. Weights are random with a fixed seed; every
function writes the model to |path| and returns the path.
"""

from typing import Optional, Sequence, Union

import numpy as np

Dim = Union[int, str]


def _onnx():
    import onnx  # noqa: F401  (imported lazily: the runtime does not need it)
    from onnx import TensorProto, helper, numpy_helper
    return onnx, TensorProto, helper, numpy_helper


def mlp(path: str, dims: Sequence[int], batch: Dim = 1, *, gemm: bool = False,
        trans_b: bool = True, bias: bool = True, activation: str = "Relu",
        seed: int = 0, opset: int = 17) -> str:
    """An MLP `dims[0] -> dims[1] -> ... -> dims[-1]` with |activation| between
    layers. With |gemm|, layers are Gemm nodes (weights [out, in] and
    transB=1 when |trans_b|, as torch.onnx exports nn.Linear); otherwise
    MatMul (+ Add bias) with weights [in, out]. |batch| may be a symbol
    (a dynamic dimension)."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    nodes, inits, cur = [], [], "x"
    layers = list(zip(dims[:-1], dims[1:]))
    for i, (k, n) in enumerate(layers):
        w = (rng.standard_normal((n, k) if (gemm and trans_b) else (k, n))
             / np.sqrt(k)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"fc{i}.weight"))
        ins = [cur, f"fc{i}.weight"]
        if bias:
            b = (0.1 * rng.standard_normal(n)).astype(np.float32)
            inits.append(numpy_helper.from_array(b, f"fc{i}.bias"))
        out = f"fc{i}_out"
        if gemm:
            nodes.append(helper.make_node(
                "Gemm", ins + ([f"fc{i}.bias"] if bias else []), [out],
                name=f"/fc{i}/Gemm", transB=int(trans_b)))
        else:
            mm = out if not bias else f"fc{i}_mm"
            nodes.append(helper.make_node("MatMul", ins, [mm], name=f"/fc{i}/MatMul"))
            if bias:
                nodes.append(helper.make_node("Add", [mm, f"fc{i}.bias"], [out],
                                              name=f"/fc{i}/Add"))
        cur = out
        if i + 1 < len(layers) and activation:
            nodes.append(helper.make_node(activation, [cur], [f"act{i}"],
                                          name=f"/act{i}/{activation}"))
            cur = f"act{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"], name="/output/Identity"))
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, dims[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, dims[-1]])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="sparsa.models")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def ffn_block(path: str, hidden: int, inner: int, batch: Dim = "batch",
              seq: Dim = "seq", *, seed: int = 0, opset: int = 17) -> str:
    """A transformer FFN block on [batch, seq, hidden] as torch exports it:
    MatMul + Add, Sigmoid-gated (SiLU written as x*sigmoid(x)), MatMul + Add,
    residual Add, then Softmax over the hidden axis (to exercise the op)."""
    onnx, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((hidden, inner)) / np.sqrt(hidden)).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(inner)).astype(np.float32)
    w2 = (rng.standard_normal((inner, hidden)) / np.sqrt(inner)).astype(np.float32)
    b2 = (0.1 * rng.standard_normal(hidden)).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "up.weight"), (b1, "up.bias"), (w2, "down.weight"), (b2, "down.bias")]]
    nodes = [
        helper.make_node("MatMul", ["x", "up.weight"], ["u0"], name="/up/MatMul"),
        helper.make_node("Add", ["u0", "up.bias"], ["u1"], name="/up/Add"),
        helper.make_node("Sigmoid", ["u1"], ["s"], name="/act/Sigmoid"),
        helper.make_node("Mul", ["u1", "s"], ["h"], name="/act/Mul"),
        helper.make_node("MatMul", ["h", "down.weight"], ["d0"], name="/down/MatMul"),
        helper.make_node("Add", ["d0", "down.bias"], ["d1"], name="/down/Add"),
        helper.make_node("Add", ["d1", "x"], ["r"], name="/residual/Add"),
        helper.make_node("Softmax", ["r"], ["y"], name="/out/Softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, seq, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, seq, hidden])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="sparsa.models")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
