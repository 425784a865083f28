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


def _save(graph, path: str, opset: int, external_data: bool = False) -> str:
    """Wraps |graph| in a checked model of |opset| and writes it to |path|
    (weights to `path + '.data'` with |external_data|)."""
    onnx, _, helper, _ = _onnx()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="sparsa.models")
    model.ir_version = 8
    onnx.checker.check_model(model)
    if external_data:
        import os
        onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                  location=os.path.basename(path) + ".data", size_threshold=0)
    else:
        onnx.save(model, path)
    return path


def mlp(path: str, dims: Sequence[int], batch: Dim = 1, *, gemm: bool = False,
        trans_b: bool = True, bias: bool = True, activation: str = "Relu",
        seed: int = 0, opset: int = 17) -> str:
    """An MLP `dims[0] -> dims[1] -> ... -> dims[-1]` with |activation| between
    layers. With |gemm|, layers are Gemm nodes (weights [out, in] and
    transB=1 when |trans_b|, as torch.onnx exports nn.Linear); otherwise
    MatMul (+ Add bias) with weights [in, out]. |batch| may be a symbol
    (a dynamic dimension)."""
    _, TensorProto, helper, numpy_helper = _onnx()
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
    return _save(graph, path, opset)


def ffn_block(path: str, hidden: int, inner: int, batch: Dim = "batch",
              seq: Dim = "seq", *, seed: int = 0, opset: int = 17) -> str:
    """A transformer FFN block on [batch, seq, hidden] as torch exports it:
    MatMul + Add, Sigmoid-gated (SiLU written as x*sigmoid(x)), MatMul + Add,
    residual Add, then Softmax over the hidden axis (to exercise the op)."""
    _, TensorProto, helper, numpy_helper = _onnx()
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
    return _save(graph, path, opset)


def transformer_block(path: str, hidden: int = 64, heads: int = 4, inner: int = 256,
                      batch: Dim = "batch", seq: Dim = "seq", *, seed: int = 0,
                      opset: int = 17, gelu: str = "erf",
                      external_data: bool = False) -> str:
    """A pre-norm transformer encoder block on [batch, seq, hidden], written
    the way torch.onnx exports it: LayerNormalization; Q/K/V MatMul + Add;
    heads split with the Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    chain (so batch and seq stay symbolic); Transpose; QK^T / sqrt(d);
    Softmax; attention @ V; merge heads; output projection; residual;
    LayerNormalization; GELU FFN; residual.

    gelu: "erf" writes GELU as torch does before opset 20
    (x * 0.5 * (1 + Erf(x / sqrt 2))), "tanh" the tanh approximation as
    separate ops, "op" uses the Gelu op (opset 20)."""
    _, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    d = hidden // heads

    def weight(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)

    def vec(n, scale=0.1, offset=0.0):
        return (offset + scale * rng.standard_normal(n)).astype(np.float32)

    arrays = {
        "ln1.weight": vec(hidden, offset=1.0), "ln1.bias": vec(hidden),
        "q.weight": weight(hidden, hidden), "q.bias": vec(hidden),
        "k.weight": weight(hidden, hidden), "k.bias": vec(hidden),
        "v.weight": weight(hidden, hidden), "v.bias": vec(hidden),
        "o.weight": weight(hidden, hidden), "o.bias": vec(hidden),
        "ln2.weight": vec(hidden, offset=1.0), "ln2.bias": vec(hidden),
        "fc1.weight": weight(hidden, inner), "fc1.bias": vec(inner),
        "fc2.weight": weight(inner, hidden), "fc2.bias": vec(hidden),
    }
    consts = {
        "c0": np.array(0, np.int64), "c1": np.array(1, np.int64),
        "ax0": np.array([0], np.int64),
        "heads": np.array([heads], np.int64), "dhead": np.array([d], np.int64),
        "hid": np.array([hidden], np.int64),
        "scale": np.array(np.sqrt(d), np.float32),
        "half": np.array(0.5, np.float32), "one": np.array(1.0, np.float32),
        "sqrt2": np.array(np.sqrt(2.0), np.float32),
        "c044": np.array(0.044715, np.float32),
        "sqrt2pi": np.array(np.sqrt(2.0 / np.pi), np.float32),
        "three": np.array(3.0, np.float32),
    }
    inits = [numpy_helper.from_array(a, n) for n, a in arrays.items()]
    nodes = []

    def node(op, ins, outs, name, **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=name, **attrs))

    for n, a in consts.items():  # torch writes scalars as Constant nodes
        node("Constant", [], [n], f"/Constant_{n}",
             value=numpy_helper.from_array(a, n))
    node("LayerNormalization", ["x", "ln1.weight", "ln1.bias"], ["h1"], "/ln1/LayerNorm",
         axis=-1, epsilon=1e-5)
    # Symbolic batch and seq, read from the input's shape.
    node("Shape", ["h1"], ["shp"], "/attn/Shape")
    node("Gather", ["shp", "c0"], ["bsz"], "/attn/Gather", axis=0)
    node("Gather", ["shp", "c1"], ["len"], "/attn/Gather_1", axis=0)
    node("Unsqueeze", ["bsz", "ax0"], ["bsz1"], "/attn/Unsqueeze")
    node("Unsqueeze", ["len", "ax0"], ["len1"], "/attn/Unsqueeze_1")
    node("Concat", ["bsz1", "len1", "heads", "dhead"], ["split_shape"], "/attn/Concat",
         axis=0)
    node("Concat", ["bsz1", "len1", "hid"], ["merge_shape"], "/attn/Concat_1", axis=0)
    for p in "qkv":
        node("MatMul", ["h1", f"{p}.weight"], [f"{p}0"], f"/attn/{p}_proj/MatMul")
        node("Add", [f"{p}0", f"{p}.bias"], [f"{p}1"], f"/attn/{p}_proj/Add")
        node("Reshape", [f"{p}1", "split_shape"], [f"{p}2"], f"/attn/Reshape_{p}")
        perm = [0, 2, 3, 1] if p == "k" else [0, 2, 1, 3]
        node("Transpose", [f"{p}2"], [f"{p}h"], f"/attn/Transpose_{p}", perm=perm)
    node("MatMul", ["qh", "kh"], ["scores0"], "/attn/MatMul")
    node("Div", ["scores0", "scale"], ["scores"], "/attn/Div")
    node("Softmax", ["scores"], ["probs"], "/attn/Softmax", axis=-1)
    node("MatMul", ["probs", "vh"], ["ctx0"], "/attn/MatMul_1")
    node("Transpose", ["ctx0"], ["ctx1"], "/attn/Transpose", perm=[0, 2, 1, 3])
    node("Reshape", ["ctx1", "merge_shape"], ["ctx"], "/attn/Reshape")
    node("MatMul", ["ctx", "o.weight"], ["o0"], "/attn/o_proj/MatMul")
    node("Add", ["o0", "o.bias"], ["o1"], "/attn/o_proj/Add")
    node("Add", ["x", "o1"], ["r1"], "/Add")
    node("LayerNormalization", ["r1", "ln2.weight", "ln2.bias"], ["h2"], "/ln2/LayerNorm",
         axis=-1, epsilon=1e-5)
    node("MatMul", ["h2", "fc1.weight"], ["f0"], "/mlp/fc1/MatMul")
    node("Add", ["f0", "fc1.bias"], ["f1"], "/mlp/fc1/Add")
    if gelu == "op":
        node("Gelu", ["f1"], ["g"], "/mlp/act/Gelu")
        opset = max(opset, 20)
    elif gelu == "tanh":
        node("Mul", ["f1", "f1"], ["t0"], "/mlp/act/Mul")
        node("Mul", ["t0", "f1"], ["t1"], "/mlp/act/Mul_1")
        node("Mul", ["t1", "c044"], ["t2"], "/mlp/act/Mul_2")
        node("Add", ["f1", "t2"], ["t3"], "/mlp/act/Add")
        node("Mul", ["t3", "sqrt2pi"], ["t4"], "/mlp/act/Mul_3")
        node("Tanh", ["t4"], ["t5"], "/mlp/act/Tanh")
        node("Add", ["t5", "one"], ["t6"], "/mlp/act/Add_1")
        node("Mul", ["f1", "half"], ["t7"], "/mlp/act/Mul_4")
        node("Mul", ["t7", "t6"], ["g"], "/mlp/act/Mul_5")
    else:
        node("Div", ["f1", "sqrt2"], ["e0"], "/mlp/act/Div")
        node("Erf", ["e0"], ["e1"], "/mlp/act/Erf")
        node("Add", ["e1", "one"], ["e2"], "/mlp/act/Add")
        node("Mul", ["f1", "e2"], ["e3"], "/mlp/act/Mul")
        node("Mul", ["e3", "half"], ["g"], "/mlp/act/Mul_1")
    node("MatMul", ["g", "fc2.weight"], ["m0"], "/mlp/fc2/MatMul")
    node("Add", ["m0", "fc2.bias"], ["m1"], "/mlp/fc2/Add")
    node("Add", ["r1", "m1"], ["y"], "/Add_1")
    graph = helper.make_graph(
        nodes, "transformer_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, seq, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, seq, hidden])],
        inits)
    return _save(graph, path, opset, external_data)


def attention(path: str, seq: int = 512, heads: int = 8, head_dim: int = 64,
              batch: Dim = 1, *, opset: int = 17) -> str:
    """Scaled dot-product attention on [batch, heads, seq, head_dim] inputs
    q, k, v: softmax(q @ k^T / sqrt(d)) @ v, as exporters write it."""
    _, TensorProto, helper, numpy_helper = _onnx()
    scale = numpy_helper.from_array(np.array(np.sqrt(head_dim), np.float32), "scale")
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], name="/attn/Transpose", perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s0"], name="/attn/MatMul"),
        helper.make_node("Div", ["s0", "scale"], ["s1"], name="/attn/Div"),
        helper.make_node("Softmax", ["s1"], ["p"], name="/attn/Softmax", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"], name="/attn/MatMul_1"),
    ]
    shape = [batch, heads, seq, head_dim]
    graph = helper.make_graph(
        nodes, "attention",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in "qkv"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], [scale])
    return _save(graph, path, opset)


def layernorm_chain(path: str, rows: int = 512, hidden: int = 1024, layers: int = 4, *,
                    seed: int = 0, opset: int = 17) -> str:
    """|layers| times: y = LayerNorm(x + r) * gamma + beta, then x = y and
    r = GELU-free residual chain (Add, Mul by a scale vector), on [rows,
    hidden]: the element-wise / normalization work around transformer
    matmuls."""
    _, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    nodes, inits, cur = [], [], "x"
    for i in range(layers):
        g = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
        b = (0.1 * rng.standard_normal(hidden)).astype(np.float32)
        s = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
        inits += [numpy_helper.from_array(g, f"ln{i}.weight"),
                  numpy_helper.from_array(b, f"ln{i}.bias"),
                  numpy_helper.from_array(s, f"scale{i}")]
        nodes += [
            helper.make_node("Add", [cur, "r"], [f"a{i}"], name=f"/l{i}/Add"),
            helper.make_node("LayerNormalization", [f"a{i}", f"ln{i}.weight", f"ln{i}.bias"],
                             [f"n{i}"], name=f"/l{i}/LayerNorm", axis=-1, epsilon=1e-5),
            helper.make_node("Mul", [f"n{i}", f"scale{i}"], [f"m{i}"], name=f"/l{i}/Mul"),
        ]
        cur = f"m{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"], name="/out/Identity"))
    graph = helper.make_graph(
        nodes, "layernorm_chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, hidden]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, [rows, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, hidden])], inits)
    return _save(graph, path, opset)
