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
        seed: int = 0, opset: int = 17, weights: str = "random",
        dtype: str = "float32") -> str:
    """An MLP `dims[0] -> dims[1] -> ... -> dims[-1]` with |activation| between
    layers. With |gemm|, layers are Gemm nodes (weights [out, in] and
    transB=1 when |trans_b|, as torch.onnx exports nn.Linear); otherwise
    MatMul (+ Add bias) with weights [in, out]. |batch| may be a symbol
    (a dynamic dimension). |weights| "pattern" gives deterministic weights
    of few distinct values (every row a shift of one 61-periodic sequence)
    whose libraries compress well, for carrying large benchmark models.
    |dtype| "float16": weights and biases in f16, the f32 input cast to f16
    first and the output back to f32 (the graph's interface stays f32)."""
    _, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    half = dtype == "float16"
    wtype = np.float16 if half else np.float32
    nodes, inits, cur = [], [], "x"
    if half:
        nodes.append(helper.make_node("Cast", ["x"], ["x_half"], name="/input/Cast",
                                      to=TensorProto.FLOAT16))
        cur = "x_half"
    layers = list(zip(dims[:-1], dims[1:]))
    for i, (k, n) in enumerate(layers):
        shape = (n, k) if (gemm and trans_b) else (k, n)
        if weights == "pattern":
            r, c = np.ogrid[:shape[0], :shape[1]]
            w = (((7 * r + 3 * c) % 61 - 30) / (30.0 * np.sqrt(k))).astype(wtype)
        else:
            w = (rng.standard_normal(shape) / np.sqrt(k)).astype(wtype)
        inits.append(numpy_helper.from_array(w, f"fc{i}.weight"))
        ins = [cur, f"fc{i}.weight"]
        if bias:
            b = (0.1 * rng.standard_normal(n)).astype(wtype)
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
    if half:
        nodes.append(helper.make_node("Cast", [cur], ["y"], name="/output/Cast",
                                      to=TensorProto.FLOAT))
    else:
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


def attention(path: str, seq: Dim = 512, heads: Dim = 8, head_dim: int = 64,
              batch: Dim = 1, *, kv_seq: Optional[Dim] = None, value_dim: Optional[int] = None,
              scale: str = "div", mask: Optional[str] = None, merged_heads: bool = False,
              key_layout: str = "transpose", return_probs: bool = False,
              softmax_axis: int = -1, nan_guard: bool = False, sinks: Optional[str] = None,
              window: Optional[int] = None, mask_value: str = "-inf",
              kv_heads: Optional[int] = None, repeat_sizes: str = "own",
              seed: int = 0, opset: int = 17) -> str:
    """Scaled dot-product attention, softmax(q @ k^T * s [+ mask]) @ v, on
    inputs q [batch, heads, seq, head_dim], k [batch, heads, kv_seq,
    head_dim] and v [batch, heads, kv_seq, value_dim], in the spellings
    exporters use:

    - scale: "div" (MatMul, Div by sqrt(d): HF eager), "mul" (Mul by
      1/sqrt(d)), "sdpa" (torch scaled_dot_product_attention's export:
      q and k^T each multiplied by d**-0.25 before the MatMul), "shape"
      (Div by Pow(Cast(Gather(Shape(q), -1)), 0.5): `q.shape[-1] ** 0.5`
      with dynamic axes), "none";
    - mask: None, "causal" (Add of a constant [1, 1, seq, kv_seq] of 0 and
      -inf), "padding" (Add of an input mask [batch, 1, 1, kv_seq]),
      "masked_fill" (Where(j > i, -inf, scores), j and i compared from
      Ranges at run time: torch's masked_fill of a causal mask), "keep"
      (Where(bool input [batch, 1, 1, kv_seq], scores, -inf)), "full" (Add of
      an input mask [batch, 1, seq, kv_seq]: transformers' 4-D mask, causal
      and padding in one), "bias" (Add of an input [1, heads, seq, kv_seq]:
      a per-head additive bias, ALiBi's or T5's), "sliding" (Add of a
      constant causal mask that also hides keys |window| or more positions
      back: Mistral's sliding window); the constant masks put query i at
      position i + kv_seq - seq (the keys before it a cache);
    - mask_value: what the constant masks hold for a hidden key, "-inf" or
      "min" (float32's lowest, as transformers builds them);
    - kv_heads: grouped-query attention: k and v have kv_heads heads, each
      repeated heads / kv_heads times as transformers' `repeat_kv` exports
      through TorchScript: Reshape(Expand(Unsqueeze(x, 2), Where(Equal(s,
      -1), 1, s)), [B, heads, L, d]), the sizes from Shape(x) entries;
      repeat_sizes="query" reads the Reshape's batch and positions from q's
      shape instead (the kv heads cannot be proven to be merged: a near
      miss for reading k and v unrepeated);
    - merged_heads: rank 3, [batch * heads, seq, d];
    - key_layout: "transpose" (Transpose of k), "input_kt" (k given as
      [.., head_dim, kv_seq]);
    - return_probs: the softmax is a graph output too (a near miss:
      nothing may fuse it away); softmax_axis != -1: not attention;
    - nan_guard: the dynamo exporter's `Where(IsNaN(p), 0, p)` on the
      probabilities (a row with every key masked gives zeros);
    - sinks: GPT-OSS's attention sinks, a per-head logit (random constants
      `[heads]`, viewed `[1, heads, 1, 1]` and Expanded to `[..., seq, 1]`
      from q's shape)
      Concat-ed after the scores, the softmax over both, the sink's column
      sliced off (`probs[..., :-1]`): "max" subtracts the row max first as
      transformers does, "plain" does not; "keys" slices [0, kv_seq)
      instead of [0, -1) (not matched: the form says -1).
    """
    _, TensorProto, helper, numpy_helper = _onnx()
    kv_seq = seq if kv_seq is None else kv_seq
    value_dim = head_dim if value_dim is None else value_dim
    lead = [batch if not merged_heads else (batch * heads if isinstance(batch, int) and
                                            isinstance(heads, int) else "bh")]
    if not merged_heads:
        lead.append(heads)
    rank = len(lead) + 2
    swap = list(range(rank - 2)) + [rank - 1, rank - 2]
    nodes, inits = [], []
    kname, vname = "k", "v"
    if kv_heads is not None:
        if merged_heads or key_layout != "transpose" or not isinstance(heads, int) \
                or heads % kv_heads:
            raise ValueError("kv_heads needs [batch, heads, seq, d] keys and heads % kv_heads == 0")
        n = heads // kv_heads

        def i64(name, vals):
            inits.append(numpy_helper.from_array(np.array(vals, np.int64), name))

        i64("rk_0", 0)
        i64("rk_2", 2)
        i64("rk_ax0", [0])
        i64("rk_ax2", [2])
        i64("rk_mid", [kv_heads, n])
        i64("rk_heads", [heads])
        i64("rk_m1", [-1] * 5)
        i64("rk_ones", [1] * 5)

        def sizes(src, tag):
            """[batch] and [positions] of |src| as 1-element tensors:
            Unsqueeze(Gather(Shape(src), 0 / 2))."""
            node = helper.make_node
            nodes.append(node("Shape", [src], [f"{tag}_shape"], name=f"/attn/rk/Shape_{tag}"))
            out = []
            for at, i in (("b", "rk_0"), ("l", "rk_2")):
                nodes.extend([node("Gather", [f"{tag}_shape", i], [f"{tag}_{at}"],
                                   name=f"/attn/rk/Gather_{tag}_{at}", axis=0),
                              node("Unsqueeze", [f"{tag}_{at}", "rk_ax0"], [f"{tag}_{at}1"],
                                   name=f"/attn/rk/Unsqueeze_{tag}_{at}")])
                out.append(f"{tag}_{at}1")
            return out

        def repeat(x, dim):
            i64(f"rk_{x}_d", [dim])
            node = helper.make_node
            b1, l1 = sizes(x, x)
            nodes.extend([
                node("Concat", [b1, "rk_mid", l1, f"rk_{x}_d"], [f"{x}_es"],
                     name=f"/attn/rk/Concat_{x}_e", axis=0),
                node("Equal", [f"{x}_es", "rk_m1"], [f"{x}_neg"], name=f"/attn/rk/Equal_{x}"),
                node("Where", [f"{x}_neg", "rk_ones", f"{x}_es"], [f"{x}_es2"],
                     name=f"/attn/rk/Where_{x}"),
                node("Unsqueeze", [x, "rk_ax2"], [f"{x}_u"], name=f"/attn/rk/Unsqueeze_{x}"),
                node("Expand", [f"{x}_u", f"{x}_es2"], [f"{x}_e"], name=f"/attn/rk/Expand_{x}")])
            # The Reshape's sizes: x's again (TorchScript reads them anew),
            # or q's (repeat_sizes="query").
            rb1, rl1 = sizes("q" if repeat_sizes == "query" else x, f"r{x}")
            nodes.extend([
                node("Concat", [rb1, "rk_heads", rl1, f"rk_{x}_d"], [f"{x}_rs"],
                     name=f"/attn/rk/Concat_{x}_r", axis=0),
                node("Reshape", [f"{x}_e", f"{x}_rs"], [f"{x}_rep"],
                     name=f"/attn/rk/Reshape_{x}")])
            return f"{x}_rep"

        kname, vname = repeat("k", head_dim), repeat("v", value_dim)
    kt = kname
    if key_layout == "transpose":
        nodes.append(helper.make_node("Transpose", [kname], ["kt"], name="/attn/Transpose",
                                      perm=swap))
        kt = "kt"
    q = "q"
    if scale == "sdpa":
        inits.append(numpy_helper.from_array(np.array(head_dim ** -0.25, np.float32), "sq"))
        nodes += [helper.make_node("Mul", ["q", "sq"], ["qs"], name="/attn/Mul"),
                  helper.make_node("Mul", [kt, "sq"], ["kts"], name="/attn/Mul_1")]
        q, kt = "qs", "kts"
    nodes.append(helper.make_node("MatMul", [q, kt], ["s0"], name="/attn/MatMul"))
    cur = "s0"
    if scale == "div":
        inits.append(numpy_helper.from_array(np.array(np.sqrt(head_dim), np.float32), "scale"))
        nodes.append(helper.make_node("Div", [cur, "scale"], ["s1"], name="/attn/Div"))
        cur = "s1"
    elif scale == "mul":
        inits.append(numpy_helper.from_array(np.array([1 / np.sqrt(head_dim)], np.float32), "scale"))
        nodes.append(helper.make_node("Mul", ["scale", cur], ["s1"], name="/attn/Mul"))
        cur = "s1"
    elif scale == "shape":
        inits += [numpy_helper.from_array(np.array(-1, np.int64), "last"),
                  numpy_helper.from_array(np.array(0.5, np.float32), "half")]
        nodes += [helper.make_node("Shape", ["q"], ["qshape"], name="/attn/Shape"),
                  helper.make_node("Gather", ["qshape", "last"], ["d"], name="/attn/Gather", axis=0),
                  helper.make_node("Cast", ["d"], ["df"], name="/attn/Cast", to=TensorProto.FLOAT),
                  helper.make_node("Pow", ["df", "half"], ["sqrtd"], name="/attn/Pow"),
                  helper.make_node("Div", [cur, "sqrtd"], ["s1"], name="/attn/Div")]
        cur = "s1"
    inputs = []
    if mask in ("masked_fill", "keep"):
        inits.append(numpy_helper.from_array(np.array(-np.inf, np.float32), "ninf"))
        if mask == "keep":
            inputs.append(helper.make_tensor_value_info(
                "keep", TensorProto.BOOL, [lead[0]] + [1] * (rank - 2) + [kv_seq]))
            nodes.append(helper.make_node("Where", ["keep", cur, "ninf"], ["s2"],
                                          name="/attn/Where"))
        else:
            inits += [numpy_helper.from_array(np.array(0, np.int64), "r0"),
                      numpy_helper.from_array(np.array(1, np.int64), "r1"),
                      numpy_helper.from_array(np.array(-2, np.int64), "rows"),
                      numpy_helper.from_array(np.array([1], np.int64), "ax1"),
                      numpy_helper.from_array(np.array([0], np.int64), "ax0")]
            nodes += [helper.make_node("Shape", ["q"], ["qs"], name="/attn/Shape_1"),
                      helper.make_node("Shape", ["v"], ["vs"], name="/attn/Shape_2"),
                      helper.make_node("Gather", ["qs", "rows"], ["nq"], name="/attn/Gather_1",
                                       axis=0),
                      helper.make_node("Gather", ["vs", "rows"], ["nk"], name="/attn/Gather_2",
                                       axis=0),
                      helper.make_node("Range", ["r0", "nq", "r1"], ["iq"], name="/attn/Range"),
                      helper.make_node("Range", ["r0", "nk", "r1"], ["ik"], name="/attn/Range_1"),
                      helper.make_node("Unsqueeze", ["iq", "ax1"], ["i"], name="/attn/Unsqueeze"),
                      helper.make_node("Unsqueeze", ["ik", "ax0"], ["j"], name="/attn/Unsqueeze_1"),
                      helper.make_node("Greater", ["j", "i"], ["upper"], name="/attn/Greater"),
                      helper.make_node("Where", ["upper", "ninf", cur], ["s2"], name="/attn/Where")]
        cur = "s2"
    if mask in ("causal", "sliding"):
        if not (isinstance(seq, int) and isinstance(kv_seq, int)):
            raise ValueError("a causal constant mask needs static seq and kv_seq")
        hidden = {"-inf": -np.inf, "min": np.finfo(np.float32).min}[mask_value]
        i = np.arange(seq)[:, None] + (kv_seq - seq)
        j = np.arange(kv_seq)[None, :]
        seen = j <= i
        if mask == "sliding":
            if window is None:
                raise ValueError('mask="sliding" needs a window')
            seen &= j > i - window
        m = np.where(seen, 0.0, hidden).astype(np.float32)
        inits.append(numpy_helper.from_array(m.reshape([1] * (rank - 2) + [seq, kv_seq]), "mask"))
    elif mask == "padding":
        inputs.append(helper.make_tensor_value_info(
            "mask", TensorProto.FLOAT, [lead[0]] + [1] * (rank - 2) + [kv_seq]))
    elif mask == "full":
        inputs.append(helper.make_tensor_value_info(
            "mask", TensorProto.FLOAT, [lead[0]] + [1] * (rank - 3) + [seq, kv_seq]))
    elif mask == "bias":
        if merged_heads:
            raise ValueError('mask="bias" needs [batch, heads, seq, d]')
        inputs.append(helper.make_tensor_value_info(
            "mask", TensorProto.FLOAT, [1, heads, seq, kv_seq]))
    if mask in ("causal", "sliding", "padding", "full", "bias"):
        nodes.append(helper.make_node("Add", [cur, "mask"], ["s2"], name="/attn/Add"))
        cur = "s2"
    if sinks:
        if merged_heads or not isinstance(heads, int):
            raise ValueError("sinks need [batch, heads, seq, d] with static heads")
        rng = np.random.default_rng(seed)
        sv = rng.standard_normal(heads).astype(np.float32)
        inits += [numpy_helper.from_array(sv, "sinks"),
                  numpy_helper.from_array(np.array([1, heads, 1, 1], np.int64), "sink_view"),
                  numpy_helper.from_array(np.array([0], np.int64), "sk0"),
                  numpy_helper.from_array(np.array([-1], np.int64), "skm1"),
                  numpy_helper.from_array(np.array([1], np.int64), "sk1")]
        nodes += [helper.make_node("Reshape", ["sinks", "sink_view"], ["sink4"],
                                   name="/attn/Reshape_sinks"),
                  helper.make_node("Shape", ["q"], ["sshape"], name="/attn/Shape_s"),
                  helper.make_node("Slice", ["sshape", "sk0", "skm1"], ["slead"],
                                   name="/attn/Slice_s"),
                  helper.make_node("Concat", ["slead", "sk1"], ["sexp"], name="/attn/Concat_s",
                                   axis=0),
                  helper.make_node("Expand", ["sink4", "sexp"], ["sinkcol"],
                                   name="/attn/Expand_s"),
                  helper.make_node("Concat", [cur, "sinkcol"], ["comb"], name="/attn/Concat",
                                   axis=-1)]
        cur = "comb"
        if sinks == "max":
            if opset >= 18:
                nodes.append(helper.make_node("ReduceMax", [cur, "skm1"], ["cmax"],
                                              name="/attn/ReduceMax", keepdims=1))
            else:
                nodes.append(helper.make_node("ReduceMax", [cur], ["cmax"],
                                              name="/attn/ReduceMax", axes=[-1], keepdims=1))
            nodes.append(helper.make_node("Sub", [cur, "cmax"], ["shifted"], name="/attn/Sub"))
            cur = "shifted"
    nodes.append(helper.make_node("Softmax", [cur], ["p"], name="/attn/Softmax",
                                  axis=softmax_axis))
    probs = "p"
    if sinks:
        end = "skm1"
        if sinks == "keys":
            if not isinstance(kv_seq, int):
                raise ValueError('sinks="keys" needs a static kv_seq')
            inits.append(numpy_helper.from_array(np.array([kv_seq], np.int64), "skend"))
            end = "skend"
        nodes.append(helper.make_node("Slice", ["p", "sk0", end, "skm1"], ["pk"],
                                      name="/attn/Slice"))
        probs = "pk"
    if nan_guard:
        inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "pzero"))
        nodes += [helper.make_node("IsNaN", ["p"], ["pnan"], name="/attn/IsNaN"),
                  helper.make_node("Where", ["pnan", "pzero", "p"], ["pg"], name="/attn/Where_1")]
        probs = "pg"
    nodes.append(helper.make_node("MatMul", [probs, vname], ["y"], name="/attn/MatMul_1"))
    kv_lead = lead if kv_heads is None else [lead[0], kv_heads]
    kshape = kv_lead + ([head_dim, kv_seq] if key_layout == "input_kt" else [kv_seq, head_dim])
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, lead + [seq, value_dim])]
    if return_probs:
        outputs.append(helper.make_tensor_value_info("p", TensorProto.FLOAT, lead + [seq, kv_seq]))
    graph = helper.make_graph(
        nodes, "attention",
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, lead + [seq, head_dim]),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, kshape),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, kv_lead + [kv_seq, value_dim])]
        + inputs, outputs, inits)
    return _save(graph, path, opset)


#===------------------------------------------------------------------------===#
# Flow attention family (shared/PATTERNS.md): Flowformer, linear attention
#===------------------------------------------------------------------------===#

def _attn_io(helper, TensorProto, lead, seq, kv_seq, head_dim, value_dim):
    return [helper.make_tensor_value_info("q", TensorProto.FLOAT, lead + [seq, head_dim]),
            helper.make_tensor_value_info("k", TensorProto.FLOAT, lead + [kv_seq, head_dim]),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, lead + [kv_seq, value_dim])]


def _causal_mask(g: "_Graph", scores: str, mask: str, seq) -> str:
    """|scores| [.., L, L] under a causal mask, as exporters write it:
    "tril" Mul by a constant lower-triangular ones matrix, "where"
    Where(tril bool, scores, 0), "masked_fill" Where(j > i, 0, scores)
    (torch masked_fill of the upper triangle), "trilu" Trilu(scores,
    upper=0) (torch.tril; any L, also symbolic), "trilu_ones" Mul by
    Trilu(ConstantOfShape(1)) built from the shape at run time, "range_*"
    comparisons of positions (see _range_mask); near misses "full" (all
    ones), "triu" (upper triangle), "trilu_upper" (torch.triu),
    "range_strict" (j < i: no diagonal), "range_upper" (j >= i)."""
    f32 = np.float32
    if mask.startswith("range"):
        return _range_mask(g, scores, mask)
    if mask == "trilu":
        return g.op("Trilu", [scores], upper=0)
    if mask == "trilu_upper":
        return g.op("Trilu", [scores], upper=1)
    if mask == "trilu_ones":
        shape = g.op("Shape", [scores])
        ones = g.op("ConstantOfShape", [shape],
                    value=g.helper.make_tensor("one", g.TP.FLOAT, [1], [1.0]))
        return g.op("Mul", [scores, g.op("Trilu", [ones], upper=0)])
    if not isinstance(seq, int):
        raise ValueError(f"mask {mask!r} is a constant: it needs a static seq")
    if mask == "where":
        return g.op("Where", [g.const(f"causal{g.n}", np.tril(np.ones((seq, seq), bool))), scores,
                              g.const(f"zero{g.n}", np.array(0.0, f32))])
    if mask == "masked_fill":
        return g.op("Where", [g.const(f"upper{g.n}", np.triu(np.ones((seq, seq), bool), 1)),
                              g.const(f"zero{g.n}", np.array(0.0, f32)), scores])
    m = {"tril": np.tril, "triu": np.triu, "full": lambda x: x}[mask](np.ones((seq, seq), f32))
    return g.op("Mul", [scores, g.const(f"mask{g.n}", m)])


def _range_mask(g: "_Graph", scores: str, mask: str) -> str:
    """|scores| under a causal mask compared from positions at run time, as
    torch.onnx exports `i = torch.arange(L); i[:, None] >= i[None, :]` with
    L = scores.shape[-1] (Shape, Gather, Range, Unsqueeze):
    "range_ge" Where(i >= j, scores, 0); "range_le_mul" scores *
    float(j <= i) with j the rank-1 Range and i = Reshape(Range, [-1, 1]);
    "range_fill" masked_fill: Where(j > i, 0, scores); "range_not" Where(
    Not(i < j), scores, 0); "range_two" two Ranges, each with its own
    Shape / Gather (torch.arange written twice); near misses
    "range_strict" Where(i > j, ..) and "range_upper" Where(j >= i, ..)."""
    TP = g.TP
    i64 = lambda name, x: g.const(f"{name}{g.n}", np.array(x, np.int64))
    zero = g.const(f"zero{g.n}", np.array(0.0, np.float32))

    def arange():
        n = g.op("Gather", [g.op("Shape", [scores]), i64("lastdim", -1)], axis=0)
        return g.op("Range", [i64("r0", 0), n, i64("r1", 1)])

    idx = arange()
    row = g.op("Unsqueeze", [idx, i64("axr", [1])])  # i[:, None]
    col = g.op("Unsqueeze", [idx, i64("axc", [0])])  # i[None, :]
    if mask == "range_ge":
        return g.op("Where", [g.op("GreaterOrEqual", [row, col]), scores, zero])
    if mask == "range_le_mul":
        i = g.op("Reshape", [idx, i64("shp", [-1, 1])])
        m = g.op("Cast", [g.op("LessOrEqual", [idx, i])], to=TP.FLOAT)
        return g.op("Mul", [scores, m])
    if mask == "range_fill":
        return g.op("Where", [g.op("Greater", [col, row]), zero, scores])
    if mask == "range_not":
        return g.op("Where", [g.op("Not", [g.op("Less", [row, col])]), scores, zero])
    if mask == "range_two":
        col2 = g.op("Unsqueeze", [arange(), i64("axc", [0])])
        return g.op("Where", [g.op("GreaterOrEqual", [row, col2]), scores, zero])
    if mask == "range_strict":
        return g.op("Where", [g.op("Greater", [row, col]), scores, zero])
    if mask == "range_upper":
        return g.op("Where", [g.op("GreaterOrEqual", [col, row]), scores, zero])
    raise ValueError(f"unknown mask {mask!r}")


def flowformer(path: str, seq: Dim = 128, heads: Dim = 8, head_dim: int = 64,
               batch: Dim = 1, *, causal: bool = False, form: str = "einsum",
               kv_seq: Optional[Dim] = None, value_dim: Optional[int] = None,
               eps: float = 1e-6, prefix: str = "cumsum", clip: float = 1.0,
               mask: str = "tril", softmax_axis: int = 2, opset: int = 17) -> str:
    """Flowformer's Flow-Attention on q, k [batch, heads, seq, head_dim] and
    v [batch, heads, kv_seq, value_dim], written the way torch.onnx exports
    the reference module (thuml/Flowformer):

    - form "einsum": per-row dot products as Einsum("nhld,nhd->nhl"), sums
      as ReduceSum(keepdims=0), `[..., None]` as Unsqueeze, `1.0 / x` as
      Div, the product as Einsums (causal: the [L, D, Dv] outer products
      and CumSum of the reference causal_dot_product);
    - form "matmul": the same formula with keepdims sums, ReduceSum(Mul)
      row dots, Reciprocal, and the product as MatMuls (causal: the scores
      q k^T under a causal |mask| (see _causal_mask: "tril", "where",
      "masked_fill", "trilu", "trilu_ones"; near misses "full", "triu",
      "trilu_upper"), then times v: the L x L form);
    - prefix: "cumsum" (CumSum), "matmul" (a lower-triangular ones matrix
      times x) or "range" (that matrix as float(i >= j) from a Range of
      positions, any L) for the causal prefix sums;
    - clip: the conserved source's clip bound (1.0; anything else is a near
      miss); softmax_axis: the matmul form's competition softmax axis over
      [.., L, 1] (2, the positions; -1 is a near miss: a softmax of one).
    A symbolic seq writes L / S, S and the normalizers 1..L from the shapes
    (Shape, Gather, Cast, Range), as the exporter does with dynamic axes;
    prefix="matmul" and the L x L masks need a static seq."""
    _, TP, helper, nh = _onnx()
    g = _Graph("/flow")
    kv_seq = seq if kv_seq is None else kv_seq
    value_dim = head_dim if value_dim is None else value_dim
    lead = [batch, heads]
    f32 = lambda x: np.array(x, np.float32)
    E = g.const("eps", f32(eps))
    one = g.const("one", f32(1.0))
    ax = lambda name, vals: g.const(name, np.array(vals, np.int64))
    A2, AL, A3 = ax("ax2", [2]), ax("axm1", [-1]), ax("ax3", [3])
    ein = form == "einsum"

    def unsq(x):  # [.., L] -> [.., L, 1] (einsum form only)
        return g.op("Unsqueeze", [x, A3]) if ein else x

    def recip(x):
        return g.op("Div", [one, x]) if ein else g.op("Reciprocal", [x])

    def colsum(x):  # sum over positions
        return g.op("ReduceSum", [x, A2], keepdims=0 if ein else 1)

    def prefix_sum(x):
        if prefix == "cumsum":
            return g.op("CumSum", [x, g.const(f"cs{g.n}", np.array(2, np.int64))])
        if prefix == "range":  # float(i >= j) from positions at run time
            n = g.op("Gather", [g.op("Shape", [x]), g.const(f"pos{g.n}", np.array(2, np.int64))],
                     axis=0)
            r = g.op("Range", [g.const(f"p0{g.n}", np.array(0, np.int64)), n,
                               g.const(f"p1{g.n}", np.array(1, np.int64))])
            i = g.op("Unsqueeze", [r, g.const(f"pi{g.n}", np.array([1], np.int64))])
            tri = g.op("Cast", [g.op("GreaterOrEqual", [i, r])], to=TP.FLOAT)
        else:
            tri = g.const(f"tri{g.n}", np.tril(np.ones((seq, seq), np.float32)))
        return g.op("MatMul", [tri, x])

    def rowdot(a, b, rows):  # [.., L] (einsum) or [.., L, 1]
        if ein:
            eq = "nhld,nhld->nhl" if rows else "nhld,nhd->nhl"
            return g.op("Einsum", [a, b], equation=eq)
        return g.op("ReduceSum", [g.op("Mul", [a, b]), AL], keepdims=1)

    def plus_eps(x):
        return g.op("Add", [x, E])

    qf = g.op("Sigmoid", ["q"], name="/flow/Sigmoid")
    kf = g.op("Sigmoid", ["k"], name="/flow/Sigmoid_1")
    if not causal:
        inc = recip(rowdot(plus_eps(qf), plus_eps(colsum(kf)), False))
        out_flow = recip(rowdot(plus_eps(kf), plus_eps(colsum(qf)), False))
        sink = rowdot(plus_eps(qf), plus_eps(colsum(g.op("Mul", [kf, unsq(out_flow)]))), False)
        src = rowdot(plus_eps(kf), plus_eps(colsum(g.op("Mul", [qf, unsq(inc)]))), False)
        src = g.op("Clip", [src, g.const("cmin", f32(-clip)), g.const("cmax", f32(clip))])
        if isinstance(seq, int) and isinstance(kv_seq, int):
            ratio = g.const("ratio", f32(float(seq) / float(kv_seq)))
            S = g.const("S", f32(float(kv_seq)))
        else:  # torch.onnx with dynamic axes: float(x.shape[2]) from the shapes
            i2 = g.const("i2", np.array(2, np.int64))
            count = lambda x: g.op("Cast", [g.op("Gather", [g.op("Shape", [x]), i2], axis=0)],
                                   to=TP.FLOAT)
            S = count(kf)
            ratio = g.op("Div", [count(qf), S])
        alloc = g.op("Sigmoid", [g.op("Mul", [sink, ratio])])
        comp = g.op("Mul", [g.op("Softmax", [src], axis=-1 if ein else softmax_axis), S])
        qs = g.op("Mul", [qf, unsq(inc)])
        vs = g.op("Mul", ["v", unsq(comp)])
        if ein:
            kv = g.op("Einsum", [kf, vs], equation="nhld,nhlm->nhdm")
            prod = g.op("Einsum", [qs, kv], equation="nhld,nhdm->nhlm")
        else:
            kt = g.op("Transpose", [kf], perm=[0, 1, 3, 2])
            prod = g.op("MatMul", [qs, g.op("MatMul", [kt, vs])])
    else:
        if isinstance(seq, int):
            normal = g.const("normal", np.arange(1, seq + 1, dtype=np.float32)
                             .reshape(1, 1, seq) if ein else
                             np.arange(1, seq + 1, dtype=np.float32).reshape(1, 1, seq, 1))
        else:  # torch.arange(1, L + 1) with a dynamic L: Range, then Cast
            L = g.op("Gather", [g.op("Shape", ["q"]), g.const("i2", np.array(2, np.int64))],
                     axis=0)
            one_i = g.const("one_i", np.array(1, np.int64))
            normal = g.op("Cast", [g.op("Range", [one_i, g.op("Add", [L, one_i]), one_i])],
                          to=TP.FLOAT)
            # [1, 1, L] like the reference's normal[None, None, :] ([L, 1]
            # for the keepdims layout).
            normal = g.op("Unsqueeze", [normal, g.const("axn", np.array([0, 1] if ein else [1],
                                                                         np.int64))])
        inc = g.op("Mul", [recip(rowdot(plus_eps(qf), plus_eps(prefix_sum(kf)), True)), normal])
        out_flow = g.op("Mul", [recip(rowdot(plus_eps(kf), plus_eps(prefix_sum(qf)), True)),
                                normal])
        sink = g.op("Div", [rowdot(plus_eps(qf),
                                   plus_eps(prefix_sum(g.op("Mul", [kf, unsq(out_flow)]))),
                                   True), normal])
        src = g.op("Div", [rowdot(plus_eps(kf),
                                  plus_eps(prefix_sum(g.op("Mul", [qf, unsq(inc)]))), True),
                           normal])
        src = g.op("Clip", [src, g.const("cmin", f32(-clip)), g.const("cmax", f32(clip))])
        alloc = g.op("Sigmoid", [sink])
        ex = g.op("Exp", [src])
        ecs = g.op("CumSum", [ex, g.const("csv", np.array(-1 if ein else 2, np.int64))])
        comp = g.op("Mul", [g.op("Div", [ex, ecs]), normal])
        qs = g.op("Mul", [qf, g.op("Div", [unsq(inc), unsq(normal)])])
        vs = g.op("Mul", ["v", unsq(comp)])
        if ein:
            kv = g.op("Einsum", [kf, vs], equation="nhld,nhlm->nhldm")
            kv = g.op("CumSum", [kv, g.const("cs5", np.array(2, np.int64))])
            prod = g.op("Einsum", [qs, kv], equation="nhld,nhldm->nhlm")
        else:
            kt = g.op("Transpose", [kf], perm=[0, 1, 3, 2])
            scores = _causal_mask(g, g.op("MatMul", [qs, kt]), mask, seq)
            prod = g.op("MatMul", [scores, vs])
    g.nodes.append(helper.make_node("Mul", [prod, unsq(alloc)], ["y"], name="/flow/Mul_out"))
    graph = helper.make_graph(g.nodes, "flowformer",
                              _attn_io(helper, TP, lead, seq, kv_seq, head_dim, value_dim),
                              [helper.make_tensor_value_info("y", TP.FLOAT,
                                                             lead + [seq, value_dim])],
                              g.inits)
    return _save(graph, path, opset)


def linear_attention(path: str, seq: Dim = 128, heads: Dim = 8, head_dim: int = 64,
                     batch: Dim = 1, *, causal: bool = False, form: str = "matmul",
                     feature: str = "elu1", kv_seq: Optional[Dim] = None,
                     value_dim: Optional[int] = None, eps: float = 1e-6,
                     mask: str = "tril", contraction: str = "matmul",
                     phi_first: bool = False, opset: int = 17) -> str:
    """Linear attention (Katharopoulos et al.) on [batch, heads, seq, d]:
    out = phi(q) (phi(k)^T v) / (phi(q) . sum phi(k) + eps) with phi =
    elu + 1 (|feature| also "relu", "sigmoid"). Forms:

    - "matmul": MatMul(phi(q), MatMul(Transpose(phi(k)), v)), the
      normalizer a ReduceSum(Mul) row dot with keepdims sums, Div;
    - "einsum": Einsums for the state and the product, Einsum row dot,
      Reciprocal, Unsqueeze and Mul;
    - "masked": the L x L form, S = phi(q) phi(k)^T under a |mask| (causal:
      any of _causal_mask's; "none" non-causal; "triu": a near miss),
      out = (S v) / (rowsum S + eps);
    - "cumsum" (causal): the naive reference code's [L, d, dv] state, the
      outer products `phi(k)[..., None] * v[..., None, :]` CumSum'd over the
      positions, each query row times its state, |contraction| "matmul"
      (`(phi(q)[..., None, :] @ kv)[..., 0, :]`), "mul_sum"
      (`(phi(q)[..., None] * kv).sum(-2)`) or "vk" (the outer product's
      factors swapped, then "matmul"); the normalizer phi(q) . CumSum(phi(k)).

    |phi_first| (forms "matmul" and "masked"): q, k, v come as [batch, seq,
    heads, d], the feature map is applied there, then the heads move
    forward (Transpose [0, 2, 1, 3]), the keys' transpose merged into one
    Transpose(phi(k), [0, 2, 3, 1]) as TorchScript writes
    `phi(k).transpose(1, 2).transpose(-2, -1)`."""
    _, TP, helper, nh = _onnx()
    g = _Graph("/lin")
    kv_seq = seq if kv_seq is None else kv_seq
    value_dim = head_dim if value_dim is None else value_dim
    lead = [batch, heads]
    f32 = lambda x: np.array(x, np.float32)
    A2, AL = g.const("ax2", np.array([2], np.int64)), g.const("axm1", np.array([-1], np.int64))

    def phi(x):
        if feature == "elu1":
            return g.op("Add", [g.op("Elu", [x], alpha=1.0), g.const(f"one{g.n}", f32(1.0))])
        return g.op({"relu": "Relu", "sigmoid": "Sigmoid"}[feature], [x])

    if phi_first:
        if form not in ("matmul", "masked"):
            raise ValueError("phi_first is generated for forms matmul and masked")
        heads_fwd = [0, 2, 1, 3]
        qf = g.op("Transpose", [phi("q")], perm=heads_fwd)
        kp = phi("k")
        kf = g.op("Transpose", [kp], perm=heads_fwd)
        kT = g.op("Transpose", [kp], perm=[0, 2, 3, 1])                      # merged
        vT = g.op("Transpose", ["v"], perm=heads_fwd)
    else:
        qf, kf = phi("q"), phi("k")
        kT, vT = None, "v"
    E = g.const("eps", f32(eps))
    if form == "cumsum":
        if not causal:
            raise ValueError("the cumsum form is causal")
        c64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
        ku = g.op("Unsqueeze", [kf, c64("ax.k", [-1])])                       # [.., L, d, 1]
        vu = g.op("Unsqueeze", ["v", c64("ax.v", [-2])])                      # [.., L, 1, dv]
        outer = g.op("Mul", [vu, ku] if contraction == "vk" else [ku, vu])
        kv = g.op("CumSum", [outer, g.const("ax.pos", np.array(2, np.int32))])
        if contraction == "mul_sum":
            qu = g.op("Unsqueeze", [qf, c64("ax.q", [-1])])
            num = g.op("ReduceSum", [g.op("Mul", [qu, kv]), c64("ax.d", [-2])], keepdims=0)
        else:
            qu = g.op("Unsqueeze", [qf, c64("ax.q", [-2])])
            num = g.op("Squeeze", [g.op("MatMul", [qu, kv]), c64("ax.one", [-2])])
        ks = g.op("CumSum", [kf, g.const("ax.pos2", np.array(2, np.int32))])
        den = g.op("Add", [g.op("ReduceSum", [g.op("Mul", [qf, ks]), AL], keepdims=1), E])
        g.nodes.append(helper.make_node("Div", [num, den], ["y"], name="/lin/Div"))
    elif form == "masked":
        kt = kT or g.op("Transpose", [kf], perm=[0, 1, 3, 2])
        s = g.op("MatMul", [qf, kt])
        if causal or mask != "none":
            s = _causal_mask(g, s, mask, seq)
        num = g.op("MatMul", [s, vT])
        den = g.op("Add", [g.op("ReduceSum", [s, AL], keepdims=1), E])
        g.nodes.append(helper.make_node("Div", [num, den], ["y"], name="/lin/Div"))
    elif form == "einsum":
        if causal:
            raise ValueError("the einsum form is non-causal")
        kv = g.op("Einsum", [kf, "v"], equation="nhsd,nhsm->nhdm")
        num = g.op("Einsum", [qf, kv], equation="nhld,nhdm->nhlm")
        ksum = g.op("ReduceSum", [kf, A2], keepdims=0)
        z = g.op("Reciprocal", [g.op("Add", [g.op("Einsum", [qf, ksum], equation="nhld,nhd->nhl"),
                                            E])])
        z = g.op("Unsqueeze", [z, g.const("ax3", np.array([3], np.int64))])
        g.nodes.append(helper.make_node("Mul", [num, z], ["y"], name="/lin/Mul"))
    else:
        if causal:
            raise ValueError("the matmul form is non-causal (use form='masked')")
        kt = kT or g.op("Transpose", [kf], perm=[0, 1, 3, 2])
        num = g.op("MatMul", [qf, g.op("MatMul", [kt, vT])])
        ksum = g.op("ReduceSum", [kf, A2], keepdims=1)
        den = g.op("Add", [g.op("ReduceSum", [g.op("Mul", [qf, ksum]), AL], keepdims=1), E])
        g.nodes.append(helper.make_node("Div", [num, den], ["y"], name="/lin/Div"))
    ins = _attn_io(helper, TP, lead, seq, kv_seq, head_dim, value_dim)
    if phi_first:  # [batch, seq, heads, d]
        ins = [helper.make_tensor_value_info(n, TP.FLOAT, [batch, L, heads, d])
               for n, L, d in (("q", seq, head_dim), ("k", kv_seq, head_dim),
                               ("v", kv_seq, value_dim))]
    graph = helper.make_graph(g.nodes, "linear_attention", ins,
                              [helper.make_tensor_value_info("y", TP.FLOAT,
                                                             lead + [seq, value_dim])],
                              g.inits)
    return _save(graph, path, opset)


def onnx_linear_attention(path: str, seq: Dim = 16, q_heads: int = 2, kv_heads: int = 2,
                          head_dim: int = 16, value_dim: Optional[int] = None,
                          batch: Dim = 1, *, past: bool = False, present: bool = True,
                          scale: Optional[float] = None, update_rule: Optional[str] = "linear",
                          decay: Optional[str] = None, beta: Optional[str] = None) -> str:
    """One ONNX LinearAttention node (opset 27) on packed [batch, seq,
    heads * d] inputs: q_heads query heads over kv_heads key / value heads
    (grouped-query when fewer), an optional past_state input
    [batch, kv_heads, d, dv], present_state a graph output or unused.
    update_rule None leaves the attribute out (ONNX's default, gated_delta).
    decay ("head": [batch, seq, kv_heads], "key": [batch, seq, kv_heads * d])
    and beta ("head": [batch, seq, kv_heads], "one": [batch, seq, 1]) add
    the graph inputs "decay" / "beta" the gated and delta rules read."""
    onnx, TP, helper, _ = _onnx()
    dv = head_dim if value_dim is None else value_dim
    attrs = dict(q_num_heads=q_heads, kv_num_heads=kv_heads)
    if update_rule is not None:
        attrs["update_rule"] = update_rule
    if scale is not None:
        attrs["scale"] = scale
    ins = ["q", "k", "v", "past" if past else "", "decay" if decay else "",
           "beta" if beta else ""]
    while ins[-1] == "":
        ins.pop()
    node = helper.make_node("LinearAttention", ins, ["y", "present" if present else "unused"],
                            name="/attn/LinearAttention", **attrs)
    inputs = [helper.make_tensor_value_info("q", TP.FLOAT, [batch, seq, q_heads * head_dim]),
              helper.make_tensor_value_info("k", TP.FLOAT, [batch, seq, kv_heads * head_dim]),
              helper.make_tensor_value_info("v", TP.FLOAT, [batch, seq, kv_heads * dv])]
    if past:
        inputs.append(helper.make_tensor_value_info("past", TP.FLOAT,
                                                    [batch, kv_heads, head_dim, dv]))
    if decay:
        width = {"head": kv_heads, "key": kv_heads * head_dim}[decay]
        inputs.append(helper.make_tensor_value_info("decay", TP.FLOAT, [batch, seq, width]))
    if beta:
        width = {"head": kv_heads, "one": 1}[beta]
        inputs.append(helper.make_tensor_value_info("beta", TP.FLOAT, [batch, seq, width]))
    outputs = [helper.make_tensor_value_info("y", TP.FLOAT, [batch, seq, q_heads * dv])]
    if present:
        outputs.append(helper.make_tensor_value_info("present", TP.FLOAT,
                                                     [batch, kv_heads, head_dim, dv]))
    model = helper.make_model(helper.make_graph([node], "linear_attention_op", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 27)],
                              producer_name="sparsa.models")
    model.ir_version = 11
    if update_rule in ("linear", "gated", "delta", "gated_delta", None):
        onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def flow_reference(q, k, v, causal: bool, eps: float = 1e-6):
    """numpy Flow-Attention (the formula of shared/PATTERNS.md), float64."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    sig = lambda x: 1.0 / (1.0 + np.exp(-x))
    Q, K = sig(q), sig(k)
    L, S = Q.shape[-2], K.shape[-2]
    if not causal:
        I = 1.0 / np.einsum("...ld,...d->...l", Q + eps, K.sum(-2) + eps)
        O = 1.0 / np.einsum("...ld,...d->...l", K + eps, Q.sum(-2) + eps)
        sink = np.einsum("...ld,...d->...l", Q + eps, (K * O[..., None]).sum(-2) + eps)
        src = np.clip(np.einsum("...ld,...d->...l", K + eps,
                                (Q * I[..., None]).sum(-2) + eps), -1, 1)
        A = sig(sink * L / S)
        C = np.exp(src - src.max(-1, keepdims=True))
        C = C / C.sum(-1, keepdims=True) * S
        state = np.einsum("...ld,...lm->...dm", K, v * C[..., None])
        return (Q * I[..., None]) @ state * A[..., None]
    n = np.arange(1, L + 1, dtype=np.float64)
    I = n / np.einsum("...ld,...ld->...l", Q + eps, K.cumsum(-2) + eps)
    O = n / np.einsum("...ld,...ld->...l", K + eps, Q.cumsum(-2) + eps)
    sink = np.einsum("...ld,...ld->...l", Q + eps, (K * O[..., None]).cumsum(-2) + eps) / n
    src = np.clip(np.einsum("...ld,...ld->...l", K + eps,
                            (Q * I[..., None]).cumsum(-2) + eps) / n, -1, 1)
    A = sig(sink)
    e = np.exp(src)
    C = e / e.cumsum(-1) * n
    scores = np.tril((Q * (I / n)[..., None]) @ np.swapaxes(K, -1, -2))
    return scores @ (v * C[..., None]) * A[..., None]


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


#===------------------------------------------------------------------------===#
# Mixture of experts, in the forms exporters write (shared/PATTERNS.md)
#===------------------------------------------------------------------------===#

class _Graph:
    """A tiny graph builder: op(...) adds a node and returns its output names."""

    def __init__(self, prefix: str = ""):
        _, self.TP, self.helper, self.nh = _onnx()
        self.nodes, self.inits, self.n = [], [], 0
        self.prefix = prefix

    def const(self, name: str, value) -> str:
        self.inits.append(self.nh.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs, n_out: int = 1, name: Optional[str] = None,
           domain: str = "", **attrs):
        self.n += 1
        base = name or f"{self.prefix}/{op_type}_{self.n}"
        outs = [f"{base}_out{i}" for i in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=base,
                                                domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs


def _moe_gate(g: "_Graph", x: str, wg: str, k: int, gating: str, normalize: bool,
              scaling: float):
    """Router logits -> (routing weights [T, k], expert indices [T, k]).

    gating: `softmax` (Softmax -> TopK [-> / sum]), `topk_softmax` (TopK on
    the logits -> Softmax over the k, Mixtral), `sigmoid` (Sigmoid -> TopK
    [-> / sum] [-> * scaling]), `deepseek` (DeepSeek-V3's router as
    transformers writes it: sigmoid scores plus a correction bias for the
    choice, experts in g.n_group groups of which the g.topk_group with the
    best top-2 sums compete (masked_fill 0 elsewhere), weights gathered from
    the unbiased scores, renormalized with a 1e-20 epsilon, scaled),
    `sparsemixer` (PhiMoE's top-2 in eval mode, k = 2: each choice is the
    arg max of the logits left, weighed by the softmax over the logits
    within a relative jitter of 0.01 of that maximum; the second choice's
    logits have the first scattered to -inf), `dbrx` / `dbrx_abs` (softmax,
    top-k, divided by the values' 1-norm as ReduceL1 / ReduceSum(Abs): the
    renormalization, for these non-negative values), `log_softmax` (TopK over
    LogSoftmax, the weights Exp of the chosen values) or `scaled_softmax`
    (TopK over the logits, weights Softmax(values * 0.5) over the k: a
    temperature applied after the choice). The last three are no top-k gate
    the fusion recognizes: the routed forms that sum per (token, slot)
    take them as given routings."""
    logits = g.op("MatMul", [x, wg], name="/router/MatMul")
    kk = g.const("router.k", np.array([k], np.int64))
    g.scores = logits
    if gating == "sparsemixer":
        if k != 2:
            raise ValueError("sparsemixer routes top-2")
        c64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
        ninf = g.const("router.ninf", np.array(-np.inf, np.float32))
        jitter = g.const("router.jitter2", np.array(2 * 0.01, np.float32))
        choices = []
        cur = logits
        for n in range(2):
            thr = (g.op("ReduceMax", [cur, c64(f"router.ax{n}", [-1])], keepdims=1)
                   if getattr(g, "opset", 17) >= 18
                   else g.op("ReduceMax", [cur], axes=[-1], keepdims=1))
            ind = g.op("ArgMax", [cur], axis=-1, keepdims=1)
            factor = g.op("Max", [g.op("Abs", [logits]), thr])
            far = g.op("Greater", [g.op("Div", [g.op("Sub", [thr, logits]), factor]), jitter])
            gates = g.op("Softmax", [g.op("Where", [far, ninf, cur])], axis=-1)
            choices.append((g.op("GatherElements", [gates, ind], axis=-1), ind))
            if n == 0:
                cur = g.op("ScatterElements", [logits, ind, g.op("Expand", [
                    ninf, g.op("Shape", [ind])])], axis=-1)
        w = g.op("Concat", [choices[0][0], choices[1][0]], axis=-1)
        idx = g.op("Concat", [choices[0][1], choices[1][1]], axis=-1)
        return w, idx
    if gating in ("dbrx", "dbrx_abs"):
        # DBRX: softmax -> top-k -> / torch.norm(values, p=1, -1, keepdim)
        # (ReduceL1, or ReduceSum(Abs(values))).
        vals, idx = g.op("TopK", [g.op("Softmax", [logits], axis=-1), kk], 2, axis=-1)
        new_axes = getattr(g, "opset", 17) >= 18
        axes = g.const("router.l1_axes", np.array([-1], np.int64))
        if gating == "dbrx":
            norm = (g.op("ReduceL1", [vals, axes], keepdims=1) if new_axes
                    else g.op("ReduceL1", [vals], axes=[-1], keepdims=1))
        else:
            norm = g.op("ReduceSum", [g.op("Abs", [vals]), axes], keepdims=1)
        return g.op("Div", [vals, norm]), idx
    if gating == "log_softmax":
        vals, idx = g.op("TopK", [g.op("LogSoftmax", [logits], axis=-1), kk], 2, axis=-1)
        return g.op("Exp", [vals]), idx
    if gating == "scaled_softmax":
        vals, idx = g.op("TopK", [logits, kk], 2, axis=-1)
        half = g.const("router.temperature", np.array(0.5, np.float32))
        return g.op("Softmax", [g.op("Mul", [vals, half])], axis=-1), idx
    if gating == "deepseek":
        E = g.n_experts
        G, TG = g.n_group, g.topk_group
        c64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
        scores = g.op("Sigmoid", [logits])
        g.scores = scores
        bias = g.const("router.e_score_correction_bias",
                       (0.1 * np.random.default_rng(7).standard_normal(E)).astype(np.float32))
        sfc = g.op("Add", [scores, bias])
        grouped = g.op("Reshape", [sfc, c64("router.grouped", [-1, G, E // G])])
        top2, _ = g.op("TopK", [grouped, c64("router.two", [2])], 2, axis=-1)
        gscore = g.op("ReduceSum", [top2, c64("router.axm1", [-1])], keepdims=0)   # [T, G]
        _, gidx = g.op("TopK", [gscore, c64("router.topk_group", [TG])], 2, axis=-1)
        from onnx import TensorProto, helper
        gmask = g.op("ScatterElements", [
            g.op("ConstantOfShape", [g.op("Shape", [gscore])],
                 value=helper.make_tensor("z", TensorProto.FLOAT, [1], [0.0])),
            gidx,
            g.op("ConstantOfShape", [g.op("Shape", [gidx])],
                 value=helper.make_tensor("o", TensorProto.FLOAT, [1], [1.0]))], axis=1)
        smask = g.op("Reshape", [
            g.op("Expand", [g.op("Unsqueeze", [gmask, c64("router.ax2", [2])]),
                            c64("router.expand", [1, G, E // G])]),
            c64("router.flat", [-1, E])])
        notsel = g.op("Not", [g.op("Cast", [smask], to=TensorProto.BOOL)])
        tmp = g.op("Where", [notsel, g.const("router.zero", np.array(0.0, np.float32)), sfc])
        _, idx = g.op("TopK", [tmp, kk], 2, axis=-1)
        w = g.op("GatherElements", [scores, idx], axis=1)
        if normalize:
            s = g.op("ReduceSum", [w, c64("router.axes", [-1])], keepdims=1)
            w = g.op("Div", [w, g.op("Add", [s, g.const("router.eps",
                                                          np.array(1e-20, np.float32))])])
        if scaling != 1.0:
            w = g.op("Mul", [w, g.const("router.scale", np.array(scaling, np.float32))])
        return w, idx
    if gating == "topk_softmax":
        vals, idx = g.op("TopK", [logits, kk], 2, axis=-1)
        return g.op("Softmax", [vals], axis=-1), idx
    p = g.op("Softmax" if gating == "softmax" else "Sigmoid", [logits],
             **({"axis": -1} if gating == "softmax" else {}))
    g.scores = p
    top1 = getattr(g, "top1", None)
    if top1:  # torch.max(p, -1[, keepdim=True]): ReduceMax + ArgMax (k = 1)
        kd = 0 if top1 == "max_flat" else 1
        vals = (g.op("ReduceMax", [p, g.const("router.max_axes", np.array([-1], np.int64))],
                     keepdims=kd) if getattr(g, "opset", 17) >= 18
                else g.op("ReduceMax", [p], axes=[-1], keepdims=kd))
        idx = g.op("ArgMax", [p], axis=-1, keepdims=kd)
        if top1 == "max_flat" and (normalize or scaling != 1.0):
            raise ValueError('top1="max_flat" weights are generated unnormalized, unscaled')
    else:
        vals, idx = g.op("TopK", [p, kk], 2, axis=getattr(g, "topk_axis", -1))
    if normalize:
        s = g.op("ReduceSum", [vals, g.const("router.axes", np.array([-1], np.int64))],
                 keepdims=1)
        vals = g.op("Div", [vals, s])
    if scaling != 1.0:
        vals = g.op("Mul", [vals, g.const("router.scale", np.array(scaling, np.float32))])
    return vals, idx


def _moe_batched_mm(g: "_Graph", x: str, idx: str, vals: str, w1s, w2s, w3s, act: str,
                    k: int, H: int, F: int, *, transposed: bool, gathernd: bool,
                    opset: int, torchscript: bool = False) -> str:
    """transformers 5's batched_mm experts on x [T, H]: each token repeated
    k times (repeat_interleave), every (token, slot) pair's expert weights
    gathered by the flattened indices (`W[expert_ids]`: GatherND as the
    dynamo exporter writes it, or Gather), torch Linear rows [E, out, in]
    as `bmm(W, x.unsqueeze(-1)).squeeze(-1)` (|transposed|: [E, in, out] as
    `bmm(x.unsqueeze(1), W).squeeze(1)`), a GLU's gate and up rows
    concatenated in one gate_up_proj and cut by chunk(2, -1) (Split), the
    pairs scaled by the flattened weights, viewed [T, k, H] and summed.
    |torchscript|: as the TorchScript exporter writes the same code, the
    repeat as Flatten(Tile(x[:, None], repeats), 2) with the repeats
    [1, k, 1] built at run time (OneHot([1], 3, [1, k]), k read from the
    indices' Shape) and chunk(2, -1) as two Slices whose bounds come from
    the Shape ((n + 1) // 2)."""
    ax = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
    if torchscript:
        kdim = g.op("Reshape", [g.op("Squeeze", [g.op("Slice", [
            g.op("Shape", [idx]), ax("bmm.km1", [-1]), ax("bmm.kmax", [2**63 - 1]),
            ax("bmm.k0", [0])]), ax("bmm.k0s", [0])]), ax("bmm.k1", [1])])
        reps = g.op("Reshape", [g.op("OneHot", [ax("bmm.oh.i", [1]), ax("bmm.oh.d", 3),
                                                g.op("Concat", [ax("bmm.oh.off", [1]), kdim],
                                                     axis=0)]), ax("bmm.oh.flat", [-1])])
        xr = g.op("Flatten", [g.op("Tile", [g.op("Unsqueeze", [x, ax("bmm.ax1", [1])]), reps])],
                  axis=2)
    else:
        xr = g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [x, ax("bmm.ax1", [1])]),
                                              ax("bmm.rep", [1, k, 1])]),
                              ax("bmm.flat2", [-1, H])])
    ids = g.op("Reshape", [idx, ax("bmm.flat", [-1])])
    nd_ids = g.op("Unsqueeze", [ids, ax("bmm.axm1", [-1])]) if gathernd else None

    def pick(name, w):  # w [E, in, out] in matmul layout
        w = w if transposed else np.ascontiguousarray(w.transpose(0, 2, 1))
        if gathernd:
            return g.op("GatherND", [g.const(name, w), nd_ids], batch_dims=0)
        return g.op("Gather", [g.const(name, w), ids], axis=0)

    def linear(inp, w):
        if transposed:
            return g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [inp, ax(f"bmm.u{g.n}", [1])]),
                                                    w]), ax(f"bmm.s{g.n}", [1])])
        return g.op("Squeeze", [g.op("MatMul", [w, g.op("Unsqueeze", [inp, ax(f"bmm.u{g.n}", [-1])])]),
                                ax(f"bmm.s{g.n}", [-1])])

    if w3s is not None:  # gate_up_proj: the gate's F outputs, then the up's
        h = linear(xr, pick("experts.gate_up_proj", np.concatenate([w1s, w3s], axis=2)))
        if torchscript:
            n = g.op("Gather", [g.op("Shape", [h]), ax("bmm.last", [-1])], axis=0)
            half = g.op("Div", [g.op("Add", [n, ax("bmm.one", [1])]), ax("bmm.two", [2])])
            end = g.op("Mul", [half, ax("bmm.two2", [2])])
            gate = g.op("Slice", [h, ax("bmm.zero", [0]), half, ax("bmm.lastax", [-1])])
            up = g.op("Slice", [h, half, end, "bmm.lastax"])
        elif opset >= 18:
            gate, up = g.op("Split", [h], n_out=2, axis=1, num_outputs=2)
        else:
            gate, up = g.op("Split", [h, ax("bmm.halves", [F, F])], n_out=2, axis=1)
        a = g.op("Mul", [_moe_act(g, gate, "silu"), up])
    else:
        a = _moe_act(g, linear(xr, pick("experts.up_proj", w1s)), act)
    y = linear(a, pick("experts.down_proj", w2s))                           # [T * k, H]
    wv = g.op("Unsqueeze", [g.op("Reshape", [vals, ax("bmm.wflat", [-1])]), ax("bmm.wax", [-1])])
    y = g.op("Reshape", [g.op("Mul", [y, wv]), ax("bmm.view", [-1, k, H])])
    return g.op("ReduceSum", [y, ax("bmm.sum", [1])], keepdims=0)


def _moe_gpt_oss(g: "_Graph", x: str, idx: str, vals: str, w1s, w2s, w3s, b1s, b2s, b3s,
                 k: int, H: int, limit: float, bias: bool) -> str:
    """transformers 5's GPT-OSS experts through batched_mm, as the dynamo
    exporter writes them: weights [E, in, out] (is_transposed) under
    `bmm(x.unsqueeze(1), W[ids]).squeeze(1)` plus the pair's bias
    `b[ids]` (with |bias|), each result through a Squeeze(Unsqueeze) round
    trip, gate and up interleaved in gate_up_proj (`h[..., ::2]`,
    `h[..., 1::2]`: Slices of step 2), the clamped SwiGLU
    `(clamp(up, -limit, limit) + 1) * g * sigmoid(1.702 g)` with
    g = clamp(gate, max=limit)."""
    ax = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
    f32 = lambda name, v: g.const(name, np.array(v, np.float32))  # noqa: E731
    E, _, F = w1s.shape
    xr = g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [x, ax("oai.ax1", [1])]),
                                          ax("oai.rep", [1, k, 1])]), ax("oai.flat2", [-1, H])])
    nd = g.op("Unsqueeze", [g.op("Reshape", [idx, ax("oai.flat", [-1])]),
                            ax("oai.axm1", [-1])])
    pick = lambda name, w: g.op("GatherND", [g.const(name, w), nd], batch_dims=0)  # noqa: E731

    def linear(inp, w, b):
        y = g.op("Squeeze", [g.op("MatMul", [g.op("Unsqueeze", [inp, "oai.ax1"]), w]),
                             "oai.ax1"])
        if b is not None:
            y = g.op("Add", [y, b])
        return g.op("Squeeze", [g.op("Unsqueeze", [y, "oai.ax1"]), "oai.ax1"])

    gate_up = np.empty((E, H, 2 * F), np.float32)
    gate_up[:, :, 0::2], gate_up[:, :, 1::2] = w1s, w3s
    gate_up_b = np.empty((E, 2 * F), np.float32)
    gate_up_b[:, 0::2], gate_up_b[:, 1::2] = b1s, b3s
    h = linear(xr, pick("experts.gate_up_proj", gate_up),
               pick("experts.gate_up_proj_bias", gate_up_b) if bias else None)
    big = ax("oai.end", [2**63 - 1])
    gate = g.op("Slice", [h, ax("oai.s0", [0]), big, "oai.ax1", ax("oai.step", [2])])
    up = g.op("Slice", [h, "oai.ax1", big, "oai.ax1", "oai.step"])
    gate = g.op("Clip", [gate, "", f32("oai.limit", limit)])
    up = g.op("Clip", [up, f32("oai.nlimit", -limit), "oai.limit"])
    glu = g.op("Mul", [gate, g.op("Sigmoid", [g.op("Mul", [gate, f32("oai.alpha", 1.702)])])])
    a = g.op("Mul", [g.op("Add", [up, f32("oai.one", 1.0)]), glu])
    y = linear(a, pick("experts.down_proj", w2s),
               pick("experts.down_proj_bias", b2s) if bias else None)
    wv = g.op("Unsqueeze", [g.op("Reshape", [vals, "oai.flat"]), "oai.axm1"])
    y = g.op("Reshape", [g.op("Mul", [y, wv]), ax("oai.view", [-1, k, H])])
    return g.op("ReduceSum", [y, "oai.ax1"], keepdims=0)


def _moe_act(g: "_Graph", h: str, act: str) -> str:
    if act == "relu":
        return g.op("Relu", [h])
    if act == "gelu":  # torch's erf GELU as opset < 20 exports it
        e = g.op("Erf", [g.op("Div", [h, g.const(f"c{g.n}", np.array(1.4142135, np.float32))])])
        one = g.op("Add", [e, g.const(f"c{g.n}", np.array(1.0, np.float32))])
        return g.op("Mul", [g.op("Mul", [h, one]), g.const(f"c{g.n}", np.array(0.5, np.float32))])
    if act == "silu":
        return g.op("Mul", [h, g.op("Sigmoid", [h])])
    if act == "quick_gelu":  # CLIP's x * sigmoid(1.702 x)
        k = g.const(f"qg{g.n}", np.array(1.702, np.float32))
        return g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, k])])])
    if act in ("gelu_tanh", "gelu_new"):
        # torch's approximate="tanh" below opset 20 (h * (h * h)), or
        # GPT-2's gelu_new (Pow(h, 3)): 0.5 * h * (1 + tanh(c (h + a h^3)))
        c = lambda k, v: g.const(f"gelu{g.n}.{k}", np.array(v, np.float32))  # noqa: E731
        cube = (g.op("Mul", [h, g.op("Mul", [h, h])]) if act == "gelu_tanh"
                else g.op("Pow", [h, c("three", 3.0)]))
        inner = g.op("Add", [h, g.op("Mul", [c("a", 0.044715), cube])])
        t = g.op("Tanh", [g.op("Mul", [c("c", 0.7978845608028654), inner])])
        return g.op("Mul", [c("half", 0.5), g.op("Mul", [h, g.op("Add", [c("one", 1.0), t])])])
    raise ValueError(act)


def _moe_ffn(g: "_Graph", x: str, w1: str, w2: str, w3: Optional[str], act: str,
             b1: Optional[str] = None, b2: Optional[str] = None, gemm: bool = False) -> str:
    """down(act(x W1 + b1) [* x W3]) + b2: MatMul (+ Add) with [in, out]
    weights, or with |gemm| Gemm(transB=1) with [out, in] weights as
    torch.onnx exports nn.Linear."""
    def linear(inp, w, b):
        if gemm:
            return g.op("Gemm", [inp, w] + ([b] if b else []), transB=1)
        y = g.op("MatMul", [inp, w])
        return g.op("Add", [y, b]) if b else y
    h = linear(x, w1, b1)
    if act == "swiglu":
        a = g.op("Mul", [_moe_act(g, h, "silu"), linear(x, w3, None)])
    else:
        a = _moe_act(g, h, act)
    return linear(a, w2, b2)


def moe(path: str, form: str, hidden: int = 64, inner: int = 128, experts: int = 8,
        k: int = 2, *, tokens: Dim = "T", act: str = "silu", gating: str = "softmax",
        normalize: bool = True, scaling: float = 1.0, bias: bool = False,
        missing: Sequence[int] = (), gemm: bool = False, shapes: Sequence[int] = (),
        topk_axis: int = -1, extra_outputs: Sequence[str] = (), shared: int = 0,
        shared_gate: bool = False, n_group: int = 4, topk_group: int = 2,
        layout: str = "ET", dense: str = "scatter", c_weights: str = "equal",
        shared_first: bool = False, zeros_first: bool = False, a_mask: str = "onehot",
        batch: Optional[Dim] = None, top1: Optional[str] = None, limit: float = 7.0,
        seed: int = 0,
        opset: int = 17) -> str:
    """A mixture-of-experts layer `x [T, H] -> [T, H]` in exporter form |form|:

    - `A`: OneHot expert mask, per expert (unrolled) NonZero -> Gather the
      tokens -> FFN -> Mul routing weight -> ScatterElements(add);
      |a_mask| "equal": each expert's NonZero of `Equal(indices, e)` (a
      hand-written `tok, slot = torch.where(idx == e)`) instead;
      |missing| experts have no branch (as when an export pruned them);
    - `B`: every expert on every token (stacked weights, batched MatMul),
      routing weights scattered into a dense [T, E] matrix (|dense|
      "scatter", "onehot": ReduceSum(OneHot(idx) * w[..., None], -2), or
      "neginf" with gating "topk_softmax": Softmax(ScatterElements(-inf,
      idx, top-k logits)), also for form C's dense columns),
      Mul + ReduceSum; |layout| "ET" (x[None] @ W: [E, T, H], summed over
      axis 0), "TE" (x[:, None, None] @ W: [T, E, 1, H] squeezed, summed
      over axis 1), "ET_perm" ([E, T, H] permuted to [T, E, H]),
      "einsum" (torch.einsum `th,ehf->tef`, `tef,efh->teh`), or with one
      module per expert, their outputs `torch.stack`ed (Unsqueeze + Concat
      on the expert axis, `[T, E, H]`): "stack" (Mul + ReduceSum),
      "stack_einsum" (torch.einsum `te,teh->th`) or "stack0" (stacked on
      axis 0, `[E, T, H]`, times the transposed weights `[E, T, 1]`);
    - `C`: per expert Equal(indices, e) -> Cast -> Mul(weights) -> ReduceSum
      -> Mul(expert output) -> Add chain (|c_weights| "slice" / "gather":
      the weight of expert e as column e of the dense routing matrix,
      `dense[:, e:e+1]` / `dense[:, e, None]`; |shared_first|: the shared
      expert is the chain's first term, `out = shared(x); out += ...`;
      |zeros_first|: the chain starts from `torch.zeros_like(x)`);
    - `D`: Gather of the stacked expert weights by the top-k indices,
      batched MatMul (|layout| "einsum": `th,tkhf->tkf`, `tkf,tkfh->tkh`),
      weighted ReduceSum over k; |layout| "batched_mm" (transformers 5's
      experts: one row per (token, slot) pair, tokens repeat_interleave-d,
      weights [E, out, in] gathered by GatherND, a SwiGLU's gate_up_proj
      cut by Split), "batched_mm_t" (weights [E, in, out]),
      "batched_mm_gather" (Gather instead of GatherND) or "batched_mm_ts"
      (as TorchScript writes it: Tile with repeats built at run time,
      chunk as Slices) or "batched_mm_oai" (GPT-OSS: [E, in, out] weights,
      gate and up interleaved and cut by Slices of step 2, the clamped
      SwiGLU with |limit|, biases gathered per pair with |bias|);
    - `E`: com.microsoft.MoE (torch Linear layouts).

    act: relu, gelu (erf), silu, quick_gelu (`x * sigmoid(1.702 x)`), swiglu
    (`down(silu(x Wg) * x Wu)`).
    Forms A and C take |gemm| (experts as Gemm transB=1, torch's nn.Linear
    export). Near misses for negative tests: |shapes| gives per-expert inner
    sizes (form C), |topk_axis| selects along another axis, and
    |extra_outputs| (`weights`, `scores`) exposes gate values as outputs too.
    |batch| (forms C and E, B's stacked layouts, the einsum layout of forms
    B and D) makes the input `[batch, T, H]` unflattened, as
    a module that never reshapes its tokens exports it: the router's
    Softmax / TopK / ReduceSum and the routing matrix then work on the last
    axis of `[batch, T, E]` (com.microsoft.MoE takes the logits as `[B*T, E]`).
    |top1| (k = 1, softmax / sigmoid gates): the choice as torch.max
    writes it, ReduceMax + ArgMax on the last axis, "max" with keepdim
    ([T, 1], any form but A), "max_flat" without ([T]; form C, whose
    expert factor is then `(w * (idx == e))[..., None]`); form C's
    |c_weights| "after" (Switch Transformer) then sums the outputs masked
    by `idx == e` alone and scales the sum once by the weight.
    |shared| > 0 adds a shared expert of that inner size on every token
    (DeepSeek-V3 / Qwen-MoE), its output added to the routed sum; with
    |shared_gate| scaled by sigmoid(x Wsg) per token (Qwen-MoE). gating
    `deepseek` uses |n_group| groups of which |topk_group| compete.
    """
    _, TP, helper, _ = _onnx()
    rng = np.random.default_rng(seed)
    H, F, E = hidden, inner, experts
    g = _Graph("/moe")
    w1s = (rng.standard_normal((E, H, F)) / np.sqrt(H)).astype(np.float32)
    w3s = (rng.standard_normal((E, H, F)) / np.sqrt(H)).astype(np.float32)
    w2s = (rng.standard_normal((E, F, H)) / np.sqrt(F)).astype(np.float32)
    b1s = (0.1 * rng.standard_normal((E, F))).astype(np.float32)
    b2s = (0.1 * rng.standard_normal((E, H))).astype(np.float32)
    wg = g.const("router.weight", (rng.standard_normal((H, E)) / np.sqrt(H)).astype(np.float32))
    swiglu = act == "swiglu"
    srng = np.random.default_rng(seed + 1000)  # the shared expert's own stream
    stacked_outputs = form == "B" and layout in ("stack", "stack_einsum", "stack0")
    einsum_bd = form in "BD" and layout == "einsum"
    if batch is not None and ((form not in "CE" and not stacked_outputs and not einsum_bd) or
                              gating == "deepseek"):
        raise ValueError("an unflattened [batch, T, H] input is generated for forms C, E, "
                         "B's stacked layouts and the einsum layout of forms B and D, with "
                         "softmax / sigmoid gates")
    tl = "t" if batch is None else "bt"  # the Einsums' token letters
    if batch is not None and gemm:
        raise ValueError("Gemm takes [T, H] only (torch exports nn.Linear on [B, S, H] as "
                         "MatMul + Add)")
    last = -1 if batch is not None else 1  # the expert axis of [T, E] / [B, T, E]

    def shared_out():
        """The shared expert on every token (DeepSeek-V3 / Qwen-MoE)."""
        ws1 = g.const("shared.w1", (srng.standard_normal((H, shared)) / np.sqrt(H)).astype(np.float32))
        ws2 = g.const("shared.w2", (srng.standard_normal((shared, H)) / np.sqrt(shared)).astype(np.float32))
        ws3 = (g.const("shared.w3", (srng.standard_normal((H, shared)) / np.sqrt(H)).astype(np.float32))
               if swiglu else None)
        ys = _moe_ffn(g, "x", ws1, ws2, ws3, act)
        if shared_gate:
            wsg = g.const("shared.gate", (srng.standard_normal((H, 1)) / np.sqrt(H)).astype(np.float32))
            ys = g.op("Mul", [g.op("Sigmoid", [g.op("MatMul", ["x", wsg])]), ys])
        return ys
    x = "x"

    def _expert(g, e, inp):
        f = shapes[e] if shapes else F
        lay = (lambda w: np.ascontiguousarray(w.T)) if gemm else (lambda w: w)
        return _moe_ffn(g, inp, g.const(f"experts.{e}.w1", lay(w1s[e][:, :f])),
                        g.const(f"experts.{e}.w2", lay(w2s[e][:f])),
                        g.const(f"experts.{e}.w3", lay(w3s[e][:, :f])) if swiglu else None, act,
                        g.const(f"experts.{e}.b1", b1s[e][:f]) if bias else None,
                        g.const(f"experts.{e}.b2", b2s[e]) if bias else None, gemm=gemm)

    if form == "E":
        logits = g.op("MatMul", [x, wg], name="/router/MatMul")
        if batch is not None:  # router_probs are [num_tokens, E]
            logits = g.op("Reshape", [logits, g.const("logits.flat", np.array([-1, E], np.int64))])
        fc1 = w1s.transpose(0, 2, 1)
        if swiglu:  # ONNX Runtime's CPU kernel takes interleaved rows: gate 2j, up 2j+1
            fc1 = np.stack([fc1, w3s.transpose(0, 2, 1)], axis=2).reshape(E, 2 * F, H)
            if bias:
                raise ValueError("form E SwiGLU is generated without biases")
        ins = [x, logits, g.const("fc1", np.ascontiguousarray(fc1)),
               g.const("fc1_b", b1s) if bias else "",
               g.const("fc2", np.ascontiguousarray(w2s.transpose(0, 2, 1))),
               g.const("fc2_b", b2s) if bias else ""]
        while ins[-1] == "":
            ins.pop()
        if gating != "softmax" or scaling != 1.0:
            raise ValueError("com.microsoft.MoE gates with softmax only")
        out = g.op("MoE", ins, name="/moe/MoE", domain="com.microsoft", k=k,
                   activation_type={"gelu": "gelu"}.get(act, act),
                   normalize_routing_weights=int(normalize),
                   **({"swiglu_fusion": 1, "activation_alpha": 1.0, "activation_beta": 0.0}
                      if swiglu else {}))
        opsets = [("", opset), ("com.microsoft", 1)]
        if act == "gelu":
            raise ValueError("com.microsoft.MoE's gelu is the tanh approximation")
    else:
        g.topk_axis = topk_axis
        g.n_experts, g.n_group, g.topk_group = E, n_group, topk_group
        if top1 is not None:
            if top1 not in ("max", "max_flat") or k != 1 or gating not in ("softmax", "sigmoid"):
                raise ValueError('top1 is "max" or "max_flat", with k=1 and a softmax / '
                                 'sigmoid gate')
            if form == "A" or (top1 == "max_flat" and form != "C"):
                raise ValueError('top1="max" is generated for forms B-D, "max_flat" for C')
            g.top1, g.opset = top1, opset
        if c_weights == "after" and (top1 is None or form != "C" or shared):
            raise ValueError('c_weights="after" is form C with a top1 gate, no shared expert')
        if dense == "neginf":
            # Shazeer's top-k gating as written by hand: the top-k logits
            # scattered into -inf, softmax over all experts (= softmax over
            # the k, Mixtral's gate).
            if gating != "topk_softmax" or form not in "BC" or (form == "C" and
                                                                 c_weights == "equal"):
                raise ValueError('dense="neginf" is the topk_softmax gate of forms B and '
                                 'C (c_weights "slice" / "gather")')
            logits = g.op("MatMul", [x, wg], name="/router/MatMul")
            tv, idx = g.op("TopK", [logits, g.const("router.k", np.array([k], np.int64))], 2,
                           axis=-1)
            ninf = g.op("ConstantOfShape", [g.op("Shape", [logits])],
                        value=helper.make_tensor("ninf", TP.FLOAT, [1], [-np.inf]))
            dmat = g.op("Softmax", [g.op("ScatterElements", [ninf, idx, tv], axis=last)],
                        axis=-1)                                                # [T, E]
            vals = None
            gate_values = {"weights": dmat, "scores": logits}
        else:
            g.opset = getattr(g, "opset", opset)
            vals, idx = _moe_gate(g, x, wg, k, gating, normalize, scaling)
            gate_values = {"weights": vals, "scores": g.scores}
        opsets = [("", opset)]
        if stacked_outputs:
            if vals is not None:
                zeros = g.op("ConstantOfShape", [g.op("Shape", [g.op("MatMul", [x, wg])])],
                             value=helper.make_tensor("zero", TP.FLOAT, [1], [0.0]))
                dmat = g.op("ScatterElements", [zeros, idx, vals], axis=last)  # [T, E]
            ax = 0 if layout == "stack0" else 1 if batch is None else 2        # torch.stack dim
            if layout == "stack0" and batch is not None:
                raise ValueError("layout stack0 is generated for [T, H] inputs")
            c64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
            ys = [g.op("Unsqueeze", [_expert(g, e, x), c64(f"e{e}.stack", [ax])])
                  for e in range(E)]
            y = g.op("Concat", ys, axis=ax)                                     # [T, E, H]
            if layout == "stack_einsum":
                eq = "te,teh->th" if batch is None else "bte,bteh->bth"
                out = g.op("Einsum", [dmat, y], equation=eq)
            else:
                if layout == "stack0":
                    dmat = g.op("Transpose", [dmat], perm=[1, 0])               # [E, T]
                wt = g.op("Unsqueeze", [dmat, c64("ax.last", [-1])])            # [T, E, 1]
                out = g.op("ReduceSum", [g.op("Mul", [y, wt]),
                                         c64("ax.experts", [ax if batch is None else -2])],
                           keepdims=0)
        elif form == "B":
            w1, w2 = g.const("experts.w1", w1s), g.const("experts.w2", w2s)
            w3 = g.const("experts.w3", w3s) if swiglu else None
            b1 = g.const("experts.b1", b1s[:, None, :]) if bias else None
            b2 = g.const("experts.b2", b2s[:, None, :]) if bias else None
            i64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
            if dense == "onehot":
                oh = g.op("Cast", [g.op("OneHot", [idx, i64("depth", E), i64("ohv", [0, 1])],
                                        axis=-1)], to=TP.FLOAT)                # [T, k, E]
                wv = g.op("Unsqueeze", [vals, i64("axw", [-1])])
                dmat = g.op("ReduceSum", [g.op("Mul", [oh, wv]), i64("axk", [-2])],
                            keepdims=0)                                         # [T, E]
            elif vals is not None:
                zeros = g.op("ConstantOfShape", [g.op("Shape", [g.op("MatMul", [x, wg])])],
                             value=helper.make_tensor("zero", TP.FLOAT, [1], [0.0]))
                dmat = g.op("ScatterElements", [zeros, idx, vals], axis=last)  # [T, E]
            if layout == "einsum":
                if bias:
                    raise ValueError("layout einsum is generated without biases")
                ein = lambda a, w, eq: g.op("Einsum", [a, w], equation=eq)  # noqa: E731
                hh = ein(x, w1, f"{tl}h,ehf->{tl}ef")
                a = (g.op("Mul", [_moe_act(g, hh, "silu"), ein(x, w3, f"{tl}h,ehf->{tl}ef")])
                     if swiglu else _moe_act(g, hh, act))
                y = ein(a, w2, f"{tl}ef,efh->{tl}eh")                          # [T, E, H]
            elif layout == "TE":
                if bias:
                    raise ValueError("layout TE is generated without biases")
                xb = g.op("Unsqueeze", [x, i64("ax12", [1, 2])])               # [T, 1, 1, H]
                y = g.op("Squeeze", [_moe_ffn(g, xb, w1, w2, w3, act), i64("ax2s", [2])])
            else:
                xb = g.op("Unsqueeze", [x, i64("ax0", [0])])
                y = _moe_ffn(g, xb, w1, w2, w3, act, b1, b2)                   # [E, T, H]
            if layout == "ET":
                wt = g.op("Unsqueeze", [g.op("Transpose", [dmat], perm=[1, 0]),
                                        i64("ax2", [2])])                       # [E, T, 1]
                out = g.op("ReduceSum", [g.op("Mul", [y, wt]), i64("ax0r", [0])], keepdims=0)
            else:
                if layout == "ET_perm":
                    y = g.op("Transpose", [y], perm=[1, 0, 2])                 # [T, E, H]
                wt = g.op("Unsqueeze", [dmat, i64("ax2", [-1])])               # [T, E, 1]
                out = g.op("ReduceSum", [g.op("Mul", [y, wt]),
                                         i64("ax1r", [1 if batch is None else -2])], keepdims=0)
        elif form == "C":
            terms = [shared_out()] if shared and shared_first else []
            if c_weights in ("slice", "gather") and vals is not None:
                zeros = g.op("ConstantOfShape", [g.op("Shape", [g.op("MatMul", [x, wg])])],
                             value=helper.make_tensor("zero", TP.FLOAT, [1], [0.0]))
                dmat = g.op("ScatterElements", [zeros, idx, vals], axis=last)  # [T, E]
            for e in range(E):
                if e in missing:
                    continue
                i64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
                if c_weights == "slice":
                    c = g.op("Slice", [dmat, i64(f"e{e}.s", [e]), i64(f"e{e}.e", [e + 1]),
                                       i64(f"e{e}.a", [-1 if batch is None else 2])])
                elif c_weights == "gather":
                    c = g.op("Unsqueeze", [g.op("Gather", [dmat, i64(f"e{e}", e)], axis=1 if batch is None else 2),
                                           i64(f"e{e}.u", [-1])])
                else:
                    m = g.op("Cast", [g.op("Equal", [idx, i64(f"e{e}", e)])], to=TP.FLOAT)
                    if c_weights == "after":    # the mask alone, [T, 1]
                        c = (g.op("Unsqueeze", [m, i64(f"e{e}.u", [-1])])
                             if top1 == "max_flat" else m)
                    elif top1 == "max_flat":    # (w * (idx == e))[..., None]
                        c = g.op("Unsqueeze", [g.op("Mul", [vals, m]), i64(f"e{e}.u", [-1])])
                    else:
                        c = g.op("ReduceSum", [g.op("Mul", [m, vals]),
                                               i64(f"e{e}.axes", [last])], keepdims=1)
                y = _expert(g, e, x)
                terms.append(g.op("Mul", [y, c]))
            if zeros_first:  # out = torch.zeros_like(x); out = out + ...
                terms.insert(0, g.op("ConstantOfShape", [g.op("Shape", [x])],
                                     value=helper.make_tensor("zero_out", TP.FLOAT, [1], [0.0])))
            out = terms[0]
            for t in terms[1:]:
                out = g.op("Add", [out, t])
            if c_weights == "after":  # Switch Transformer: out * w once
                wa = (g.op("Unsqueeze", [vals, g.const("after.u", np.array([-1], np.int64))])
                      if top1 == "max_flat" else vals)
                out = g.op("Mul", [out, wa])
        elif form == "D":
            if bias and layout != "batched_mm_oai":
                raise ValueError("form D is generated without biases (but GPT-OSS's layout)")
            gw = lambda name, w: g.op("Gather", [g.const(name, w), idx], axis=0)  # noqa: E731
            if layout == "batched_mm_oai":
                if not swiglu:
                    raise ValueError("GPT-OSS experts are a clamped SwiGLU (act='swiglu')")
                b3s = (0.1 * rng.standard_normal((E, F))).astype(np.float32)
                out = _moe_gpt_oss(g, x, idx, vals, w1s, w2s, w3s, b1s, b2s, b3s, k, H,
                                   limit, bias)
            elif layout in ("batched_mm", "batched_mm_t", "batched_mm_gather",
                            "batched_mm_ts"):
                out = _moe_batched_mm(g, x, idx, vals, w1s, w2s, w3s if swiglu else None,
                                      act, k, H, F, transposed=layout == "batched_mm_t",
                                      gathernd=layout not in ("batched_mm_gather",
                                                              "batched_mm_ts"),
                                      opset=opset, torchscript=layout == "batched_mm_ts")
            elif layout == "einsum":
                ein = lambda a, w, eq: g.op("Einsum", [a, w], equation=eq)  # noqa: E731
                hh = ein(x, gw("experts.w1", w1s), f"{tl}h,{tl}khf->{tl}kf")
                a = (g.op("Mul", [_moe_act(g, hh, "silu"),
                                  ein(x, gw("experts.w3", w3s), f"{tl}h,{tl}khf->{tl}kf")])
                     if swiglu else _moe_act(g, hh, act))
                y = ein(a, gw("experts.w2", w2s), f"{tl}kf,{tl}kfh->{tl}kh")  # [T, k, H]
            else:
                xd = g.op("Unsqueeze", [x, g.const("ax12", np.array([1, 2], np.int64))])
                y = _moe_ffn(g, xd, gw("experts.w1", w1s), gw("experts.w2", w2s),
                             gw("experts.w3", w3s) if swiglu else None, act)  # [T, k, 1, H]
                y = g.op("Squeeze", [y, g.const("ax2s", np.array([2], np.int64))])
            if not layout.startswith("batched_mm"):
                wv = g.op("Unsqueeze", [vals, g.const("ax2u", np.array(
                    [2 if batch is None else -1], np.int64))])
                out = g.op("ReduceSum", [g.op("Mul", [y, wv]),
                                         g.const("ax1r", np.array([1 if batch is None else -2],
                                                                  np.int64))], keepdims=0)
        elif form == "A":
            if a_mask != "equal":
                mask = g.op("OneHot", [idx, g.const("depth", np.array(E, np.int64)),
                                       g.const("onehot.values", np.array([0, 1], np.int64))],
                            axis=-1)                                            # [T, k, E]
                mask = g.op("Transpose", [mask], perm=[2, 1, 0])                # [E, k, T]
            out = g.op("ConstantOfShape", [g.op("Shape", [x])],
                       value=helper.make_tensor("zero", TP.FLOAT, [1], [0.0]))
            flat_vals = g.op("Reshape", [vals, g.const("flat", np.array([-1], np.int64))])
            kc = g.const("kconst", np.array(k, np.int64))
            for e in range(E):
                if e in missing:
                    continue
                if a_mask == "equal":  # torch.where(idx == e): rows (token, slot)
                    nz = g.op("NonZero", [g.op("Equal", [idx, g.const(f"e{e}", np.array(e, np.int64))])])
                    tok = g.op("Gather", [nz, g.const(f"e{e}.r0", np.array(0, np.int64))], axis=0)
                    slot = g.op("Gather", [nz, g.const(f"e{e}.r1", np.array(1, np.int64))], axis=0)
                else:
                    m = g.op("Gather", [mask, g.const(f"e{e}", np.array(e, np.int64))], axis=0)
                    nz = g.op("NonZero", [m])                                   # [2, n]
                    slot = g.op("Gather", [nz, g.const(f"e{e}.r0", np.array(0, np.int64))], axis=0)
                    tok = g.op("Gather", [nz, g.const(f"e{e}.r1", np.array(1, np.int64))], axis=0)
                xs = g.op("Gather", [x, tok], axis=0)                           # [n, H]
                y = _expert(g, e, xs)
                w = g.op("Gather", [flat_vals, g.op("Add", [g.op("Mul", [tok, kc]), slot])],
                         axis=0)                                                # [n]
                y = g.op("Mul", [y, g.op("Unsqueeze", [w, g.const(f"e{e}.ax", np.array([1], np.int64))])])
                index = g.op("Expand", [g.op("Unsqueeze", [tok, g.const(f"e{e}.ax1", np.array([1], np.int64))]),
                                        g.op("Shape", [y])])
                out = g.op("ScatterElements", [out, index, y], axis=0, reduction="add")
        else:
            raise ValueError(f"unknown MoE form {form!r}")
    if shared and not (form == "C" and shared_first):
        out = g.op("Add", [out, shared_out()])
    for n in g.nodes:  # name the combined output "y"
        n.output[:] = ["y" if o == out else o for o in n.output]
    lead = [tokens] if batch is None else [batch, tokens]
    outputs = [helper.make_tensor_value_info("y", TP.FLOAT, lead + [H])]
    for name in extra_outputs:
        src = gate_values[name]
        g.nodes.append(helper.make_node("Identity", [src], [name], name=f"/out/{name}"))
        outputs.append(helper.make_tensor_value_info(name, TP.FLOAT, lead + [None]))
    graph = helper.make_graph(
        g.nodes, f"moe_{form}",
        [helper.make_tensor_value_info("x", TP.FLOAT, lead + [H])], outputs, g.inits)
    onnx, *_ = _onnx()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                              producer_name="sparsa.models")
    model.ir_version = 8
    if form != "E":
        onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def mohd(path: str, hidden: int = 64, inner: int = 256, groups: int = 8, shared: int = 2,
         k: int = 2, *, tokens: Dim = "T", act: str = "silu", weighted: bool = False,
         scale: Optional[float] = None, bias: bool = True, gemm: bool = False,
         constant_masks: bool = False, seed: int = 0, opset: int = 17) -> str:
    """A Mixture-of-Hidden-Dimensions FFN `x [T, H] -> [T, H]`: the hidden
    activation act(x W1 + b1) [T, F] is split into |groups| column groups;
    the first |shared| are always on, a router picks |k| of the others per
    token (a 0/1 mask, or the softmax weights with |weighted|; "sqrt":
    their square roots, which no recognized gate gives), the routed
    groups are scaled by |scale| (default (groups - shared) / k, activation
    scaling), and the masked activation goes through the down projection.
    |gemm| writes the projections as torch's nn.Linear export (Gemm, transB,
    bias inside); |constant_masks| (static |tokens|) writes the ones of the
    always-on groups and of the 0/1 scatter as constants, as the TorchScript
    exporter does with static shapes."""
    _, TP, helper, _ = _onnx()
    rng = np.random.default_rng(seed)
    H, F, G, S = hidden, inner, groups, shared
    g_size = F // G
    g = _Graph("/mohd")
    c64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
    w1a = (rng.standard_normal((H, F)) / np.sqrt(H)).astype(np.float32)
    w2a = (rng.standard_normal((F, H)) / np.sqrt(F)).astype(np.float32)
    # nn.Linear's [out, in] under Gemm(transB) with |gemm|
    w1 = g.const("fc1.weight", np.ascontiguousarray(w1a.T) if gemm else w1a)
    w2 = g.const("fc2.weight", np.ascontiguousarray(w2a.T) if gemm else w2a)
    b1 = g.const("fc1.bias", (0.1 * rng.standard_normal(F)).astype(np.float32)) if bias else None
    b2 = g.const("fc2.bias", (0.1 * rng.standard_normal(H)).astype(np.float32)) if bias else None
    wr = g.const("router.weight", (rng.standard_normal((H, G - S)) / np.sqrt(H)).astype(np.float32))
    if gemm:
        h = g.op("Gemm", ["x", w1] + ([b1] if b1 else []), transB=1)
    else:
        h = g.op("MatMul", ["x", w1])
        if b1:
            h = g.op("Add", [h, b1])
    h = _moe_act(g, h, act)
    hg = g.op("Reshape", [h, c64("shape.groups", [-1, G, g_size])])
    p = g.op("Softmax", [g.op("MatMul", ["x", wr], name="/router/MatMul")], axis=-1)
    vals, idx = g.op("TopK", [p, c64("router.k", [k])], 2, axis=-1)
    zeros = g.op("ConstantOfShape", [g.op("Shape", [p])],
                 value=helper.make_tensor("zero", TP.FLOAT, [1], [0.0]))
    if constant_masks and not isinstance(tokens, int):
        raise ValueError("constant masks need a static token count")
    if weighted == "sqrt":
        upd = g.op("Sqrt", [vals])  # no gate the fusion knows: a given routing
    elif weighted:
        upd = vals
    elif constant_masks:
        upd = g.const("ones.k", np.ones((tokens, k), np.float32))
    else:
        upd = g.op("ConstantOfShape", [g.op("Shape", [idx])],
                   value=helper.make_tensor("one", TP.FLOAT, [1], [1.0]))
    routed = g.op("ScatterElements", [zeros, idx, upd], axis=1)            # [T, G - S]
    s = scale if scale is not None else (G - S) / k
    routed = g.op("Mul", [routed, g.const("activation.scale", np.array(s, np.float32))])
    if constant_masks:
        ones = g.const("ones.shared", np.ones((tokens, S), np.float32))        # [T, S]
    else:
        tdim = g.op("Slice", [g.op("Shape", ["x"]), c64("s0", [0]), c64("s1", [1])])
        ones = g.op("ConstantOfShape", [g.op("Concat", [tdim, c64("shared.groups", [S])],
                                             axis=0)],
                    value=helper.make_tensor("one_s", TP.FLOAT, [1], [1.0]))  # [T, S]
    mask = g.op("Concat", [ones, routed], axis=1)                             # [T, G]
    hm = g.op("Mul", [hg, g.op("Unsqueeze", [mask, c64("ax2", [2])])])
    h2 = g.op("Reshape", [hm, c64("shape.flat", [-1, F])])
    if gemm:
        y = g.op("Gemm", [h2, w2] + ([b2] if b2 else []), transB=1)
    else:
        y = g.op("MatMul", [h2, w2])
        if b2:
            y = g.op("Add", [y, b2])
    for n in g.nodes:
        n.output[:] = ["y" if o == y else o for o in n.output]
    graph = helper.make_graph(
        g.nodes, "mohd", [helper.make_tensor_value_info("x", TP.FLOAT, [tokens, H])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [tokens, H])], g.inits)
    return _save(graph, path, opset)


THRESHOLD_FORMS = ("where", "where_less", "where_ge", "masked_fill", "masked_fill_lt",
                   "not_le", "mul_mask", "where_zeros")


def _threshold(g: "_Graph", key: str, kept: str, t: str, form: str = "where",
               fill: float = 0.0) -> str:
    """|kept| where |key| > |t|, else |fill|, in the spellings exporters
    write: "where" Where(key > t, kept, fill) (torch.where, F.threshold);
    "where_less" Where(t < key, ..); "where_ge" Where(key >= t, ..);
    "masked_fill" Where(key <= t, fill, kept) (kept.masked_fill(key <= t,
    fill)); "masked_fill_lt" Where(key < t, fill, kept) (keeps key >= t);
    "not_le" Where(Not(key <= t), kept, fill); "mul_mask" kept *
    float(key > t) (fill 0); "where_zeros" Where(key > t, kept,
    torch.zeros_like(kept)) (ConstantOfShape(Shape(kept)) of the fill)."""
    fill_c = lambda: g.const(f"inactive{g.n}", np.array(fill, np.float32))
    if form == "where":
        return g.op("Where", [g.op("Greater", [key, t]), kept, fill_c()])
    if form == "where_zeros":
        from onnx import TensorProto, helper
        like = g.op("ConstantOfShape", [g.op("Shape", [kept])],
                    value=helper.make_tensor(f"fill{g.n}", TensorProto.FLOAT, [1], [fill]))
        return g.op("Where", [g.op("Greater", [key, t]), kept, like])
    if form == "where_less":
        return g.op("Where", [g.op("Less", [t, key]), kept, fill_c()])
    if form == "where_ge":
        return g.op("Where", [g.op("GreaterOrEqual", [key, t]), kept, fill_c()])
    if form == "masked_fill":
        return g.op("Where", [g.op("LessOrEqual", [key, t]), fill_c(), kept])
    if form == "masked_fill_lt":
        return g.op("Where", [g.op("Less", [key, t]), fill_c(), kept])
    if form == "not_le":
        return g.op("Where", [g.op("Not", [g.op("LessOrEqual", [key, t])]), kept, fill_c()])
    if form == "mul_mask":
        return g.op("Mul", [kept, g.op("Cast", [g.op("Greater", [key, t])], to=g.TP.FLOAT)])
    raise ValueError(f"unknown threshold form {form!r}")


def sparse_ffn(path: str, hidden: int = 64, inner: int = 256, *, tokens: Dim = "T",
               mode: str = "relu", relu: str = "Relu", gemm: bool = False, bias: bool = True,
               threshold: float = 0.25, threshold_form: str = "where",
               three_d: bool = False, sparsity: float = 0.0,
               extra_output: bool = False, threshold_input: bool = False,
               inactive_value: float = 0.0, core: int = 0, predictor_rank: int = 0,
               topk: int = 0, topk_form: str = "scatter", cats_act: str = "silu",
               glu: bool = True, packed: Union[bool, str] = False, seed: int = 0,
               opset: int = 17,
               weights: str = "random") -> str:
    """An FFN `x -> down(act(x W1 + b1) [* (x Wup)]) + b2` whose activation
    is sparse, written as exporters do:

    - mode `relu` (OPT), with ReLU spelled |relu|: `Relu`, `Max` (Max(h, 0))
      or `Clip` (Clip(h, 0)); or squared, `Relu2` (Pow(Relu(h), 2)) or
      `Relu2Mul` (Relu(h) * Relu(h));
    - mode `threshold` (FATReLU): Where(h > threshold, h, 0), or another
      of _threshold's spellings (|threshold_form|);
    - mode `glu` (ProSparse): down(relu(x Wg) * (x Wu)); mode `drelu`
      (TurboSparse's dReLU): down(relu(x Wg) * relu(x Wu));
    - mode `cats` (CATS): the activation g = |cats_act|(x Wg + b) (`silu`,
      `gelu`) cut by magnitude, g where |g| > threshold (|threshold_form|'s
      spellings, key Abs(g)), times (x Wu) with |glu| (else no up).

    |packed| (modes `glu`, `cats`): the gate and up projections are one
    `gate_up_proj` [H, 2F] whose output `chunk(2, -1)` cuts in two (a
    Split; Phi-3's MLP), the gate's half first; |packed| "slice": chunk as
    the TorchScript exporter writes it, two Slices of the last axis ending
    at `(n + 1) // 2` and `2 * ((n + 1) // 2)`, n read from the Shape.

    |gemm| writes the projections as Gemm(transB=1) (torch nn.Linear);
    |sparsity| shifts b1 down so that about that fraction of neurons is
    inactive. Near misses: |extra_output| also returns the activation,
    |threshold_input| makes the threshold a model input, |inactive_value|
    != 0 makes inactive neurons non-zero.

    Index-set forms (any activation, `mode` also `silu` / `gelu`): with
    |core| > 0 the FFN runs on the neurons listed by the int64 input `idx`
    [core] (CoreInfer: W1 gathered along its columns, b1 and W2 along their
    rows); adding |predictor_rank| > 0 computes `idx` instead as the top
    |core| of a low-rank predictor `x A B` (Deja Vu; one token). |gemm|
    "transpose" writes torch's `x @ fc1.weight[idx].t()`: MatMul of a
    Transpose of the nn.Linear weight [out, in] gathered by the set.

    mode `topk`: the activation act(x W1 + b1) (SiLU) keeps its |topk|
    largest entries per token, |topk_form|: `scatter` (TopK ->
    ScatterElements of its values into zeros), `mask` (a 0/1 mask, ones
    scattered into zeros at the TopK's indices, times the activation),
    `abs_mask` (the same mask from the TopK of |act|: Q-Sparse keeps the
    largest magnitudes), `where` (a bool mask: Where(mask, act, 0)),
    `abs_gather` (the TopK of |act| picks, the
    activation's own entries are scattered: `zeros.scatter(-1, i,
    act.gather(-1, i))`).

    |weights| "pattern": each weight matrix is a 61-periodic sequence of the
    same variance (compressible libraries, for carrying large GPU benchmark
    models; neurons then come in 61 groups, so |sparsity| holds roughly)."""
    _, TP, helper, _ = _onnx()
    rng = np.random.default_rng(seed)
    H, F = hidden, inner
    g = _Graph("/ffn")
    shift = float(np.sqrt(2) * _erfinv(2 * sparsity - 1)) if sparsity else 0.0

    def params(n_in, n_out, b_shift=0.0):
        if weights == "pattern":  # uniform on [-1, 1] times sqrt(3 / n_in)
            r, c = np.ogrid[:n_in, :n_out]
            w = (((7 * r + 3 * c) % 61 - 30) / 30.0 * np.sqrt(3.0 / n_in)).astype(np.float32)
        else:
            w = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        b = ((0.1 * rng.standard_normal(n_out)) - b_shift).astype(np.float32)
        return w, b

    def linear(inp, n_in, n_out, name, with_bias, b_shift=0.0, wb=None):
        w, b = wb if wb is not None else params(n_in, n_out, b_shift)
        if gemm:
            ins = [inp, g.const(f"{name}.weight", np.ascontiguousarray(w.T))]
            if with_bias:
                ins.append(g.const(f"{name}.bias", b))
            return g.op("Gemm", ins, transB=1)
        y = g.op("MatMul", [inp, g.const(f"{name}.weight", w)])
        return g.op("Add", [y, g.const(f"{name}.bias", b)]) if with_bias else y

    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, ([1, tokens, H] if three_d
                                                             else [tokens, H]))]
    if core:
        return _indexed_ffn(g, path, inputs, H, F, tokens, mode, core, predictor_rank,
                            gemm, bias, rng, opset)
    up = None
    if packed:
        if mode not in ("glu", "cats") or not glu:
            raise ValueError("packed gate_up projections are generated for GLU FFNs")
        (wg, bg), (wu, _) = params(H, F, shift), params(H, F)
        wb = (np.concatenate([wg, wu], axis=1), np.concatenate([bg, np.zeros(F, np.float32)]))
        hu = linear("x", H, 2 * F, "gate_up", bias or shift != 0.0, wb=wb)
        if packed == "slice":
            i64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
            n = g.op("Gather", [g.op("Shape", [hu]), i64("chunk.last", [-1])], axis=0)
            half = g.op("Div", [g.op("Add", [n, i64("chunk.one", [1])]), i64("chunk.two", [2])])
            mid = g.op("Mul", [half, i64("chunk.m1", [1])])
            end = g.op("Mul", [half, i64("chunk.m2", [2])])
            axis = i64("chunk.axis", [-1])
            h = g.op("Slice", [hu, i64("chunk.zero", [0]), mid, axis])
            up = g.op("Slice", [hu, mid, end, axis])
        elif opset >= 18:
            h, up = g.op("Split", [hu], n_out=2, axis=-1, num_outputs=2)
        else:
            h, up = g.op("Split", [hu, g.const("gate_up.halves", np.array([F, F], np.int64))],
                         n_out=2, axis=-1)
    else:
        h = linear("x", H, F, "fc1", bias or shift != 0.0, shift)
    if mode in ("threshold", "cats"):
        t = "t" if threshold_input else g.const("threshold", np.array(threshold, np.float32))
        if threshold_input:
            inputs.append(helper.make_tensor_value_info("t", TP.FLOAT, []))
        if mode == "cats":
            act_h = _moe_act(g, h, cats_act)
            a = _threshold(g, g.op("Abs", [act_h]), act_h, t, threshold_form, inactive_value)
        else:
            a = _threshold(g, h, h, t, threshold_form, inactive_value)
    elif mode == "topk":
        act_h = _moe_act(g, h, "silu")
        key = g.op("Abs", [act_h]) if topk_form.startswith("abs") else act_h
        vals, idx = g.op("TopK", [key, g.const("topk.k", np.array([topk], np.int64))], 2,
                         axis=-1)
        zeros = g.op("ConstantOfShape", [g.op("Shape", [act_h])],
                     value=helper.make_tensor("zero_f", TP.FLOAT, [1], [0.0]))
        if topk_form == "scatter":
            a = g.op("ScatterElements", [zeros, idx, vals], axis=-1)
        elif topk_form in ("mask", "abs_mask"):
            ones = g.op("Expand", [g.const("topk.one", np.array(1.0, np.float32)),
                                   g.op("Shape", [idx])])
            mask = g.op("ScatterElements", [zeros, idx, ones], axis=-1)
            a = g.op("Mul", [act_h, mask])
        elif topk_form == "where":  # a bool mask: Where(mask, act, 0)
            false = g.op("ConstantOfShape", [g.op("Shape", [act_h])],
                         value=helper.make_tensor("false", TP.BOOL, [1], [False]))
            true = g.op("Expand", [g.const("topk.true", np.array(True)), g.op("Shape", [idx])])
            mask = g.op("ScatterElements", [false, idx, true], axis=-1)
            a = g.op("Where", [mask, act_h, g.const("topk.zero", np.array(0.0, np.float32))])
        elif topk_form == "abs_gather":
            picked = g.op("GatherElements", [act_h, idx], axis=-1)
            a = g.op("ScatterElements", [zeros, idx, picked], axis=-1)
        else:
            raise ValueError(topk_form)
    elif relu == "Relu":
        a = g.op("Relu", [h])
    elif relu == "Max":
        a = g.op("Max", [h, g.const("zero", np.array(0.0, np.float32))])
    elif relu == "Clip":
        a = g.op("Clip", [h, g.const("zero", np.array(0.0, np.float32))])
    elif relu == "Relu2":  # squared ReLU as torch writes relu(h) ** 2
        a = g.op("Pow", [g.op("Relu", [h]), g.const("two", np.array(2.0, np.float32))])
    elif relu == "Relu2Mul":  # ... and as relu(h) * relu(h)
        r = g.op("Relu", [h])
        a = g.op("Mul", [r, r])
    else:
        raise ValueError(relu)
    act = a
    if mode == "glu" or (mode == "cats" and glu):
        a = g.op("Mul", [a, up if up is not None else linear("x", H, F, "up", False)])
    elif mode == "drelu":
        a = g.op("Mul", [a, g.op("Relu", [linear("x", H, F, "up", False)])])
    y = linear(a, F, H, "fc2", bias)
    for n in g.nodes:
        n.output[:] = ["y" if o == y else o for o in n.output]
    out_shape = [1, tokens, H] if three_d else [tokens, H]
    outputs = [helper.make_tensor_value_info("y", TP.FLOAT, out_shape)]
    if extra_output:
        g.nodes.append(helper.make_node("Identity", [act], ["act"], name="/out/act"))
        outputs.append(helper.make_tensor_value_info("act", TP.FLOAT, [tokens, F]))
    graph = helper.make_graph(g.nodes, f"ffn_{mode}", inputs, outputs, g.inits)
    return _save(graph, path, opset)


def _erfinv(y: float) -> float:
    """Inverse error function (bisection; for choosing bias shifts)."""
    import math
    lo, hi = -6.0, 6.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if math.erf(mid) < y:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _indexed_ffn(g, path, inputs, H, F, tokens, mode, core, predictor_rank, gemm, bias,
                 rng, opset):
    _, TP, helper, _ = _onnx()
    c64 = lambda name, v: g.const(name, np.array(v, np.int64))  # noqa: E731
    w1 = (rng.standard_normal((H, F)) / np.sqrt(H)).astype(np.float32)
    w2 = (rng.standard_normal((F, H)) / np.sqrt(F)).astype(np.float32)
    b1 = (0.1 * rng.standard_normal(F)).astype(np.float32)
    b2 = (0.1 * rng.standard_normal(H)).astype(np.float32)
    if predictor_rank:
        A = (rng.standard_normal((H, predictor_rank)) / np.sqrt(H)).astype(np.float32)
        Bm = (rng.standard_normal((predictor_rank, F)) / np.sqrt(predictor_rank)).astype(np.float32)
        score = g.op("MatMul", [g.op("MatMul", ["x", g.const("predictor.A", A)]),
                                g.const("predictor.B", Bm)])                   # [1, F]
        _, top = g.op("TopK", [score, c64("predictor.k", [core])], 2, axis=-1)
        idx = g.op("Squeeze", [top, c64("predictor.ax0", [0])])               # [core]
    else:
        idx = "idx"
        inputs.append(helper.make_tensor_value_info("idx", TP.INT64, [core]))
    tr = lambda w: g.op("Transpose", [w], perm=[1, 0])  # noqa: E731
    if gemm == "transpose":  # torch: x @ fc1.weight[idx].t() (+ fc1.bias[idx])
        w1g = g.op("Gather", [g.const("fc1.weight", np.ascontiguousarray(w1.T)), idx], axis=0)
        h = g.op("MatMul", ["x", tr(w1g)])
        if bias:
            h = g.op("Add", [h, g.op("Gather", [g.const("fc1.bias", b1), idx], axis=0)])
    elif gemm:  # nn.Linear weights [out, in], gathered along the neuron rows
        w1g = g.op("Gather", [g.const("fc1.weight", np.ascontiguousarray(w1.T)), idx], axis=0)
        h = g.op("Gemm", ["x", w1g] + ([g.op("Gather", [g.const("fc1.bias", b1), idx], axis=0)]
                                        if bias else []), transB=1)
    else:
        w1g = g.op("Gather", [g.const("fc1.weight", w1), idx], axis=1)      # [H, core]
        h = g.op("MatMul", ["x", w1g])
        if bias:
            h = g.op("Add", [h, g.op("Gather", [g.const("fc1.bias", b1), idx], axis=0)])
    a = _moe_act(g, h, mode) if mode != "relu" else g.op("Relu", [h])
    if gemm == "transpose":  # h @ fc2.weight[:, idx].t() + fc2.bias
        w2g = g.op("Gather", [g.const("fc2.weight", np.ascontiguousarray(w2.T)), idx], axis=1)
        y = g.op("MatMul", [a, tr(w2g)])
        if bias:
            y = g.op("Add", [y, g.const("fc2.bias", b2)])
    elif gemm:
        w2g = g.op("Gather", [g.const("fc2.weight", np.ascontiguousarray(w2.T)), idx], axis=1)
        y = g.op("Gemm", [a, w2g] + ([g.const("fc2.bias", b2)] if bias else []), transB=1)
    else:
        y = g.op("MatMul", [a, g.op("Gather", [g.const("fc2.weight", w2), idx], axis=0)])
        if bias:
            y = g.op("Add", [y, g.const("fc2.bias", b2)])
    for n in g.nodes:
        n.output[:] = ["y" if o == y else o for o in n.output]
    graph = helper.make_graph(g.nodes, "ffn_indexed", inputs,
                              [helper.make_tensor_value_info("y", TP.FLOAT, [tokens, H])],
                              g.inits)
    return _save(graph, path, opset)


def teal(path: str, hidden: int = 64, out: int = 96, *, tokens: Dim = "T",
         threshold: float = 0.8, gemm: bool = False, bias: bool = True,
         threshold_input: bool = False, form: str = "where", seed: int = 0,
         opset: int = 17) -> str:
    """Input sparsity (TEAL / CATS): `y = Where(|x| > t, x, 0) @ W + b`, a
    projection whose input entries of small magnitude are dropped (|form|:
    another of _threshold's spellings, e.g. TEAL's `x * (x.abs() > t)`).
    |gemm| writes it as Gemm(transB=1); |threshold_input| makes t a model
    input (a near miss)."""
    _, TP, helper, _ = _onnx()
    rng = np.random.default_rng(seed)
    g = _Graph("/teal")
    w = (rng.standard_normal((hidden, out)) / np.sqrt(hidden)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, [tokens, hidden])]
    if threshold_input:
        t = "t"
        inputs.append(helper.make_tensor_value_info("t", TP.FLOAT, []))
    else:
        t = g.const("threshold", np.array(threshold, np.float32))
    xs = _threshold(g, g.op("Abs", ["x"]), "x", t, form)
    b = g.const("proj.bias", (0.1 * rng.standard_normal(out)).astype(np.float32)) if bias else None
    if gemm:
        y = g.op("Gemm", [xs, g.const("proj.weight", np.ascontiguousarray(w.T))] + ([b] if b else []),
                 transB=1)
    else:
        y = g.op("MatMul", [xs, g.const("proj.weight", w)])
        if b:
            y = g.op("Add", [y, b])
    for n in g.nodes:
        n.output[:] = ["y" if o == y else o for o in n.output]
    graph = helper.make_graph(g.nodes, "teal", inputs,
                              [helper.make_tensor_value_info("y", TP.FLOAT, [tokens, out])],
                              g.inits)
    return _save(graph, path, opset)


#===------------------------------------------------------------------------===#
# Quantized weights (com.microsoft.MatMulNBits)
#===------------------------------------------------------------------------===#

def pack_bits(values, bits):
    """Packs the last axis of |values| (ints in [0, 2^bits)) low bits first."""
    per = 8 // bits
    v = values.reshape(*values.shape[:-1], -1, per).astype(np.uint16)
    out = np.zeros(v.shape[:-1], np.uint16)
    for i in range(per):
        out |= v[..., i] << (i * bits)
    return out.astype(np.uint8)


def quantize_nbits(w, bits, block, zp_mode):
    """w [K, N] -> (B, scales, zero_points) in MatMulNBits' layout."""
    K, N = w.shape
    kb = -(-K // block)
    wp = np.zeros((kb * block, N), np.float32)
    wp[:K] = w
    blocks = wp.T.reshape(N, kb, block)
    qmax = (1 << bits) - 1
    if zp_mode == "none":
        zp = np.full((N, kb), 1 << (bits - 1), np.float32)
        scale = np.abs(blocks).max(axis=2) / (1 << (bits - 1)) + 1e-6
    else:
        lo, hi = blocks.min(axis=2), blocks.max(axis=2)
        scale = (hi - lo) / qmax + 1e-6
        zp = np.clip(np.rint(-lo / scale), 0, qmax)
    q = np.clip(np.rint(blocks / scale[..., None]) + zp[..., None], 0, qmax).astype(np.uint8)
    B = pack_bits(q, bits)  # [N, kb, block*bits/8]
    scales = scale.astype(np.float32)
    if zp_mode == "packed":
        zcols = -(-kb * bits // 8)
        zpad = np.zeros((N, zcols * (8 // bits)), np.uint8)
        zpad[:, :kb] = zp.astype(np.uint8)
        return B, scales, pack_bits(zpad, bits)
    if zp_mode == "float":
        return B, scales, zp.astype(np.float32)
    return B, scales, None


def nbits_initializers(w, bits: int, block: int, zp_mode: str):
    """MatMulNBits' initializers for the float weight |w| [K, N] (B, scales
    and, unless |zp_mode| is "none", zero points) and its input names,
    starting with the activation "A"."""
    _, _, _, numpy_helper = _onnx()
    B, scales, zp = quantize_nbits(w, bits, block, zp_mode)
    inits = [numpy_helper.from_array(B, "B"), numpy_helper.from_array(scales.reshape(-1), "scales")]
    ins = ["A", "B", "scales"]
    if zp is not None:
        inits.append(numpy_helper.from_array(zp.reshape(-1) if zp_mode == "float" else zp, "zp"))
        ins.append("zp")
    return inits, ins


def _save_ms(graph, path: str) -> str:
    """Saves |graph| as an opset-17 model that also imports com.microsoft."""
    onnx, _, helper, _ = _onnx()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              producer_name="sparsa.models")
    model.ir_version = 8
    onnx.save(model, path)
    return path


def matmul_nbits(path: str, K: int = 4096, N: int = 4096, *, bits: int = 4, block: int = 32,
                 zp_mode: str = "packed", batch: Dim = 1, accuracy_level: int = 0,
                 seed: int = 0, weights: str = "random") -> str:
    """y = A @ dequant(W) as com.microsoft.MatMulNBits (ONNX Runtime's 4-bit
    export): W [K, N] random, quantized per block of |block| along K with
    zero points |zp_mode| ("packed" uint8, "float", "none"). |weights|
    "pattern": the packed codes, scales and zero points are periodic
    sequences instead (no quantization pass over a float weight; the
    libraries compress well, for carrying large GPU benchmark models)."""
    _, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    if weights == "pattern":
        blocks = -(-K // block)
        r, c = np.ogrid[:N, :blocks * block * bits // 8]
        B = ((7 * r + 3 * c) % 251).astype(np.uint8).reshape(N, blocks, block * bits // 8)
        r, c = np.ogrid[:N, :blocks]
        scales = (((r + 5 * c) % 13 + 1) / (100.0 * np.sqrt(K))).astype(np.float32)
        inits = [numpy_helper.from_array(B, "B"),
                 numpy_helper.from_array(scales.reshape(-1), "scales")]
        ins = ["A", "B", "scales"]
        if zp_mode == "float":
            zp = np.full(N * blocks, (1 << bits) / 2 - 0.5, np.float32)
        elif zp_mode != "none":  # packed: any bytes are valid zero points
            r, c = np.ogrid[:N, :-(-blocks * bits // 8)]
            zp = ((3 * r + c) % 256).astype(np.uint8)
        if zp_mode != "none":
            inits.append(numpy_helper.from_array(zp, "zp"))
            ins.append("zp")
    else:
        inits, ins = nbits_initializers(rng.standard_normal((K, N)).astype(np.float32), bits,
                                        block, zp_mode)
    node = helper.make_node("MatMulNBits", ins, ["Y"], name="/fc/MatMulNBits",
                            domain="com.microsoft", K=K, N=N, bits=bits, block_size=block,
                            accuracy_level=accuracy_level)
    graph = helper.make_graph(
        [node], "matmul_nbits", [helper.make_tensor_value_info("A", TensorProto.FLOAT, [batch, K])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [batch, N])], inits)
    return _save_ms(graph, path)


def nbits_ffn_stack(path: str, hidden: int = 4096, inner: int = 14336, layers: int = 8, *,
                    block: int = 32, zp_mode: str = "packed", batch: Dim = 1,
                    accuracy_level: int = 0, seed: int = 0) -> str:
    """|layers| x (MatMulNBits up [hidden -> inner], Relu, MatMulNBits down
    [inner -> hidden]) with random 4-bit codes, scales and (packed) zero
    points written directly (no float weights: the full-size stack packs
    ~0.5 GB). Scales keep the activations of order one."""
    _, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = "x"
    for layer in range(layers):
        for part, (K, N) in (("up", (hidden, inner)), ("down", (inner, hidden))):
            kb = -(-K // block)
            name = f"l{layer}_{part}"
            B = rng.integers(0, 256, (N, kb, block // 2), dtype=np.uint8)
            # (q - z) has std ~4.6: each projection then keeps the rms (a
            # gain of 2^(1/4), Relu's 1/sqrt(2) in between).
            scale = (rng.uniform(0.9, 1.1, (N * kb,)) * (1.19 / np.sqrt(K))
                     / 4.6).astype(np.float32)
            inits += [numpy_helper.from_array(B, name + "_B"),
                      numpy_helper.from_array(scale, name + "_s")]
            ins = [x, name + "_B", name + "_s"]
            if zp_mode == "packed":
                zp = rng.integers(6, 10, (N, -(-kb // 2) * 2), dtype=np.uint8)
                inits.append(numpy_helper.from_array(pack_bits(zp, 4), name + "_z"))
                ins.append(name + "_z")
            y = f"{name}_y"
            nodes.append(helper.make_node("MatMulNBits", ins, [y], name=f"/{name}/MatMulNBits",
                                          domain="com.microsoft", K=K, N=N, bits=4,
                                          block_size=block, accuracy_level=accuracy_level))
            if part == "up":
                nodes.append(helper.make_node("Relu", [y], [y + "_act"], name=f"/{name}/Relu"))
                y = y + "_act"
            x = y
    nodes.append(helper.make_node("Identity", [x], ["y"], name="/out"))
    graph = helper.make_graph(
        nodes, "nbits_ffn_stack",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, hidden])], inits)
    return _save_ms(graph, path)


def qmoe(path: str, hidden: int = 2048, inner: int = 5632, experts: int = 8, k: int = 2, *,
         bits: int = 4, block: int = 0, zero_points: bool = False, act: str = "swiglu",
         tokens: Dim = 1, seed: int = 0) -> str:
    """A com.microsoft.QMoE layer `x [T, H] -> [T, H]` (ONNX Runtime's
    quantized MoE, raw weight layout) with random |bits|-bit codes, scales
    per row (|block| 0) or per block of |block| inputs, optional packed zero
    points, and a MatMul router. Codes and scales are written directly (no
    float weights: a Mixtral-sized layer packs hundreds of MB); the scales
    keep the activations of order one. SwiGLU experts interleave gate and
    linear rows (swiglu_fusion = 1)."""
    _, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    H, F, E = hidden, inner, experts
    qmax = (1 << bits) - 1
    # (q - z) of uniform codes around the middle has std ~ 2^bits / sqrt(12).
    spread = (1 << bits) / np.sqrt(12.0)
    inits = [numpy_helper.from_array(
        (rng.standard_normal((H, E)) / np.sqrt(H)).astype(np.float32), "router.weight")]

    def weight(name, out, inp):
        codes = rng.integers(0, qmax + 1, (E, out, inp), dtype=np.uint8)
        blocks = inp // block if block else 1
        scale = (rng.uniform(0.9, 1.1, (E, out, blocks)) / (spread * np.sqrt(inp))
                 ).astype(np.float32)
        if not block:
            scale = scale[..., 0]
        names = [name, name + "_scales"]
        inits.extend([numpy_helper.from_array(pack_bits(codes, bits), name),
                      numpy_helper.from_array(scale, name + "_scales")])
        zp = None
        if zero_points:
            mid = 1 << (bits - 1)
            per = 8 // bits
            shape = (E, out, -(-blocks // per) * per) if block else (E, -(-out // per) * per)
            z = rng.integers(mid - 2, mid + 2, shape, dtype=np.uint8)
            zp = name + "_zp"
            inits.append(numpy_helper.from_array(pack_bits(z, bits), zp))
        return names, zp

    f1 = 2 * F if act == "swiglu" else F
    (w1, s1), z1 = weight("fc1", f1, H)
    (w2, s2), z2 = weight("fc2", H, F)
    ins = ["x", "logits", w1, s1, "", w2, s2]
    if zero_points:
        ins += ["", "", "", "", z1, z2]
    attrs = dict(k=k, activation_type=act, normalize_routing_weights=1,
                 expert_weight_bits=bits, weights_prepacked=0)
    if block:
        attrs["block_size"] = block
    if act == "swiglu":
        attrs.update(swiglu_fusion=1, activation_alpha=1.0, activation_beta=0.0)
    nodes = [helper.make_node("MatMul", ["x", "router.weight"], ["logits"],
                              name="/router/MatMul"),
             helper.make_node("QMoE", ins, ["y"], name="/moe/QMoE", domain="com.microsoft",
                              **attrs)]
    graph = helper.make_graph(
        nodes, "qmoe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [tokens, H])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [tokens, H])], inits)
    return _save_ms(graph, path)


def nbits_sparse_ffn(path: str, hidden: int = 4096, inner: int = 14336, *, bits: int = 4,
                     block: int = 32, zp_mode: str = "packed", sparsity: float = 0.9,
                     act: str = "relu", threshold: float = 0.0, tokens: Dim = 1,
                     glu: str = "", seed: int = 0) -> str:
    """An OPT-style ReLU FFN with 4-bit (|bits|) MatMulNBits weights, as
    ONNX Runtime's MatMul-to-NBits quantizer writes it: MatMulNBits (up,
    bias input) -> Relu (or FATReLU's Where(h > |threshold|, h, 0) with act
    "threshold") -> MatMulNBits (down) -> Add (bias). The up projection's
    bias sits at the quantile that leaves ~(1 - |sparsity|) of the neurons
    active for standard normal inputs. |glu| "au" or "ua" makes it a
    ReLU-gated GLU (ProSparse): the activation times a third MatMulNBits
    of x ("fc3", bias input), Mul(a, u) or Mul(u, a)."""
    _, TensorProto, helper, numpy_helper = _onnx()
    rng = np.random.default_rng(seed)
    H, F = hidden, inner
    w1 = (rng.standard_normal((H, F)) / np.sqrt(H)).astype(np.float32)
    w2 = (rng.standard_normal((F, H)) / np.sqrt(F * (1 - sparsity))).astype(np.float32)
    # h = x w1 + b1 ~ N(b1, ~1): P(h > threshold) = 1 - sparsity.
    b1 = np.full(F, np.float32(np.sqrt(2.0) * _erfinv(2 * sparsity - 1) * -1 + threshold),
                 np.float32)
    b2 = (0.1 * rng.standard_normal(H)).astype(np.float32)
    inits, nodes = [], []

    def nbits(name, w, inp, out, bias=None):
        B, scales, zp = quantize_nbits(w, bits, block, zp_mode)
        K, N = w.shape
        ins = [inp, name + "_B", name + "_s", name + "_z" if zp is not None else ""]
        inits.extend([numpy_helper.from_array(B, name + "_B"),
                      numpy_helper.from_array(scales.reshape(-1), name + "_s")])
        if zp is not None:
            inits.append(numpy_helper.from_array(
                zp.reshape(-1) if zp_mode == "float" else zp, name + "_z"))
        if bias is not None:
            ins += ["", name + "_bias"]
            inits.append(numpy_helper.from_array(bias, name + "_bias"))
        while ins[-1] == "":
            ins.pop()
        nodes.append(helper.make_node("MatMulNBits", ins, [out], name=f"/{name}/MatMulNBits",
                                      domain="com.microsoft", K=K, N=N, bits=bits,
                                      block_size=block))

    nbits("fc1", w1, "x", "h", b1)
    if act == "threshold":
        nodes += [helper.make_node("Greater", ["h", "theta"], ["keep"], name="/act/Greater"),
                  helper.make_node("Where", ["keep", "h", "zero"], ["a"], name="/act/Where")]
        inits += [numpy_helper.from_array(np.array(threshold, np.float32), "theta"),
                  numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    elif act == "relu2":  # squared ReLU: relu(h) ** 2
        nodes += [helper.make_node("Relu", ["h"], ["r"], name="/act/Relu"),
                  helper.make_node("Pow", ["r", "two"], ["a"], name="/act/Pow")]
        inits.append(numpy_helper.from_array(np.array(2.0, np.float32), "two"))
    else:
        nodes.append(helper.make_node("Relu", ["h"], ["a"], name="/act/Relu"))
    down_in = "a"
    if glu:
        w3 = (rng.standard_normal((H, F)) / np.sqrt(H)).astype(np.float32)
        b3 = (0.1 * rng.standard_normal(F)).astype(np.float32)
        nbits("fc3", w3, "x", "u", b3)
        nodes.append(helper.make_node("Mul", ["a", "u"] if glu == "au" else ["u", "a"], ["m"],
                                      name="/glu/Mul"))
        down_in = "m"
    nbits("fc2", w2, down_in, "y0")
    nodes.append(helper.make_node("Add", ["y0", "fc2_b2"], ["y"], name="/fc2/Add"))
    inits.append(numpy_helper.from_array(b2, "fc2_b2"))
    graph = helper.make_graph(
        nodes, "nbits_sparse_ffn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [tokens, H])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [tokens, H])], inits)
    return _save_ms(graph, path)
