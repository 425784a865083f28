"""The CUDA target end to end: compile, the device mapping's results (run on
the host, --x-gpu-emulate) against ONNX Runtime, and the runtime without and
with a CUDA driver. The GPU itself is exercised by tools/gpu-check.sh, which
runs the end-to-end suites with SPARSA_TEST_GPU=cuda on a GPU machine."""

import ctypes
import json
import shutil
import subprocess

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ROOT, _compile_cpu, assert_matches_ort, ort_run, save

import sparsa
from sparsa import models


def _driver_available():
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


HAVE_DRIVER = _driver_available()


def _emulated(tmp_path, onnx_path, name="emu", adversarial=False, **kwargs):
    so = tmp_path / f"{name}.so"
    extra = ["--x-gpu-emulate"] + (["--x-gpu-emulate-adversarial"] if adversarial else [])
    _compile_cpu(str(onnx_path), str(so), target="cuda", extra_args=extra, **kwargs)
    return sparsa.load(str(so))


def _softmax_gelu_model(path):
    """Element-wise math (libdevice on the GPU), a row reduction, a GEMM and
    a broadcast: one kernel of each kind."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((48, 40)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(40).astype(np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
        helper.make_node("Add", ["h", "b"], ["a"], name="bias"),
        helper.make_node("Tanh", ["a"], ["t"], name="tanh"),
        helper.make_node("Softmax", ["t"], ["s"], name="softmax", axis=-1),
        helper.make_node("ReduceSum", ["s", "axes"], ["y"], name="sum", keepdims=1),
    ]
    axes = numpy_helper.from_array(np.array([0], np.int64), "axes")
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 48])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 40])], [w, b, axes])
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.mark.parametrize("rows", [1, 7, 300])
def test_emulated_device_mapping_matches_ort(tmp_path, rows):
    path = _softmax_gelu_model(tmp_path / "m.onnx")
    model = _emulated(tmp_path, path)
    x = np.random.default_rng(rows).standard_normal((rows, 48)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("sparsity", [0.0, 0.9, 1.0])
@pytest.mark.parametrize("mode", ["relu", "glu"])
def test_emulated_sparse_ffn_matches_ort(tmp_path, mode, sparsity):
    """The activation-sparsity lowering's run-time dispatch (sparse or dense
    path by the active count) is host control flow around kernels; the
    active count comes back from the device."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=256, tokens=1,
                             mode=mode, sparsity=sparsity, seed=1)
    model = _emulated(tmp_path, path)
    x = np.random.default_rng(2).standard_normal((1, 64)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("mode", ["relu", "glu", "threshold"])
@pytest.mark.parametrize("warps", [True, False])
def test_emulated_parallel_compaction_matches_ort(tmp_path, mode, sparsity, warps):
    """The active-neuron list of 2500 neurons built in parallel: by warps
    (sparsa-gpu-warp-compaction: three chunks of 1024 positions, the last
    one partial, each a warp voting 32 positions at a time with
    vote.ballot, its lanes writing at the popc of the lanes below them), or
    by one thread per chunk of 128 (sparsa-gpu-parallel-compaction,
    --x-gpu-warp-compaction=false). Emulated with the blocks and threads of
    each launch run last first and device allocations poisoned, so a
    position written twice, or one left unwritten, shows in the sparse
    path's result."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=64, inner=2500, tokens=1,
                             mode=mode, sparsity=sparsity, seed=3)
    flags = [] if warps else ["--x-gpu-warp-compaction=false"]
    so = tmp_path / "emu.so"
    _compile_cpu(str(path), str(so), target="cuda",
                 extra_args=["--x-gpu-emulate", "--x-gpu-emulate-adversarial"] + flags)
    model = sparsa.load(str(so))
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 64)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})
    if sparsity == 0.5:
        ptx = tmp_path / "ffn.ptx"
        _compile_cpu(str(path), str(ptx), target="cuda", emit="ptx", extra_args=flags)
        assert ("vote.sync.ballot.b32" in ptx.read_text()) == warps


@pytest.mark.parametrize("mode,core", [("glu", 0), ("silu", 300)])
def test_emulated_gathered_dot_split_matches_ort(tmp_path, mode, core):
    """The gathered dot products split along their 512-float weight rows
    (sparsa-gpu-split-reductions, tagged gather_dot): a ReLU-gated GLU's
    linear part over its active neurons, and an index-set FFN's gate over
    300 given neurons. Emulated with reversed threads and poisoned
    allocations."""
    path = models.sparse_ffn(str(tmp_path / "ffn.onnx"), hidden=512, inner=1024, tokens=1,
                             mode=mode, sparsity=0.9, core=core, seed=5)
    model = _emulated(tmp_path, path, adversarial=True)
    rng = np.random.default_rng(0)
    for _ in range(2):
        feeds = {"x": rng.standard_normal((1, 512)).astype(np.float32)}
        if core:
            feeds["idx"] = np.sort(rng.choice(1024, core, replace=False)).astype(np.int64)
        assert_matches_ort(model, path, feeds)


def test_emulated_input_sparsity_compaction_matches_ort(tmp_path):
    """The input-sparse matmul's list of kept input columns (600 of them)
    goes through the same warp compaction."""
    path = models.teal(str(tmp_path / "teal.onnx"), hidden=600, out=96, tokens=1)
    model = _emulated(tmp_path, path, adversarial=True)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 600)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("bits,block,zp,K", [(4, 32, "packed", 1024), (4, 16, "float", 1024),
                                         (8, 32, "none", 1024), (4, 32, "packed", 1000),
                                         (2, 32, "packed", 2048)])
def test_emulated_quantized_gemv_split_matches_ort(tmp_path, bits, block, zp, K):
    """A decode MatMulNBits GEMV (static shapes): its reduction over packed
    codes is split into chunks although the scales and zero points are
    indexed through k floordiv block (sparsa-gpu-quantized-gemv for the
    packed GEMVs, sparsa-gpu-split-reductions for the unpacked 2-bit
    weight's), then summed per output. Emulated with reversed threads and poisoned
    allocations; K = 1000 is not a multiple of the block."""
    path = models.matmul_nbits(str(tmp_path / "nb.onnx"), K=K, N=256, bits=bits, block=block,
                               zp_mode=zp, batch=1, seed=bits)
    model = _emulated(tmp_path, path, adversarial=True)
    for seed in range(2):
        a = np.random.default_rng(seed).standard_normal((1, K)).astype(np.float32)
        assert_matches_ort(model, path, {"A": a}, atol=1e-3, rtol=1e-3)
    # The packed GEMVs (4-bit codes in blocks of 32k, 8-bit of 16k) read
    # 16-byte vectors of codes (sparsa-gpu-quantized-gemv; the model has
    # no other matmul whose threads would). The others unpack the weight.
    if (bits, block % 32) in ((4, 0), (8, 0)):
        ptx = tmp_path / "nb.ptx"
        _compile_cpu(path, str(ptx), target="cuda", emit="ptx")
        assert "ld.global.v4.b32" in ptx.read_text()


@pytest.mark.parametrize("bits,block,zp,K,rows", [
    (4, 32, "packed", 1024, 1),
    (4, 128, "none", 1000, 1),      # K not a multiple of the block
    (8, 32, "packed", 512, 1),
    (4, 64, "packed", 512, "M"),    # a run-time row count
    (4, 32, "float", 512, 1),
])
def test_int8_activation_gemv_dp4a_matches_ort(tmp_path, bits, block, zp, K, rows):
    """--int8-activations on the GPU (MatMulNBits, accuracy_level 4): the
    packed GEMV's threads read 16-byte vectors of codes and the int8
    activations' codes and take four-byte integer dot products, `dp4a` in
    the PTX (sparsa-gpu-quantized-gemv, sparsa-gpu-lower-dp4a). Emulated
    with reversed threads and poisoned allocations against ONNX Runtime's
    level-4 result (the same int8 semantics: float rounding only). With
    float zero points ONNX Runtime's level 4 stays fp32, so the reference
    is the CPU library's int8 result (test_quantization checks it)."""
    path = models.matmul_nbits(str(tmp_path / "nb.onnx"), K=K, N=96, bits=bits, block=block,
                               zp_mode=zp, batch=rows, accuracy_level=4, seed=bits + K)
    model = _emulated(tmp_path, path, adversarial=True, int8_activations=True)
    if zp == "float":
        _compile_cpu(path, str(tmp_path / "cpu.so"), int8_activations=True)
        cpu = sparsa.load(str(tmp_path / "cpu.so"))
    for count in ((1, 3) if rows == "M" else (1,)):
        a = np.random.default_rng(count).standard_normal((count, K)).astype(np.float32)
        ref = cpu.run({"A": a})["Y"] if zp == "float" else ort_run(path, {"A": a})["Y"]
        np.testing.assert_allclose(model.run({"A": a})["Y"], ref,
                                   atol=2e-5 * np.abs(ref).max(), rtol=1e-5)
    ptx = tmp_path / "nb.ptx"
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx", int8_activations=True)
    text = ptx.read_text()
    assert "dp4a.s32.u32" in text and "ld.global.v4.b32" in text


def _blocked_uint4_model(path, K, N, block, rows):
    """DequantizeLinear (opset 21) of uint4 weights in blocks of |block|
    along K with uint4 zero points, then MatMul."""
    rng = np.random.default_rng(block)
    kb = -(-K // block)
    q = rng.integers(0, 16, (K, N))
    z = rng.integers(0, 16, (kb, N))
    s = rng.uniform(0.01, 0.05, (kb, N)).astype(np.float32)
    inits = [helper.make_tensor("wq", TensorProto.UINT4, [K, N], q.flatten().tolist()),
             numpy_helper.from_array(s, "ws"),
             helper.make_tensor("wz", TensorProto.UINT4, [kb, N], z.flatten().tolist())]
    nodes = [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0,
                              block_size=block),
             helper.make_node("MatMul", ["A", "w"], ["Y"], name="/fc/MatMul")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("A", TensorProto.FLOAT, [rows, K])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [rows, N])], inits)
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)


@pytest.mark.parametrize("bits,block,zp,K,rows", [
    (4, 32, "packed", 512, "M"),    # run-time rows: the dp4a GEMV below 16, mma from 16
    (4, 32, "none", 1000, 40),      # K not a multiple of the block; edge tiles
    (4, 256, "packed", 1024, 33),   # a block spans two staged steps
    (8, 32, "packed", 512, "M"),    # 8-bit zero points: the block correction
    (8, 64, "none", 512, 70),       # 8-bit codes as q - 128, nothing to correct
    (4, 32, "float", 512, 20),      # f32 zero points: the block correction
    (4, 96, "dq", 384, "M"),        # blocked DequantizeLinear: blocks end mid-step
])
def test_int8_tensor_core_gemm_matches(tmp_path, bits, block, zp, K, rows):
    """--int8-activations prefill on the GPU: quantized GEMMs of 16 rows or
    more run on int8 tensor cores (mma.sync m16n8k32, s8 x s8 -> s32,
    sparsa-gpu-contraction-kernels), the i32 sums scaled per weight block
    into f32. Emulated with reversed threads and poisoned allocations
    (the emulator computes each mma from its warp's fragments as PTX lays
    them out), against the CPU library's int8 result (the same codes; it
    is checked against numpy and ONNX Runtime in test_quantization) and,
    where ONNX Runtime's accuracy_level 4 also quantizes the activations,
    against it."""
    path = str(tmp_path / "m.onnx")
    if zp == "dq":
        _blocked_uint4_model(path, K, 48, block, rows)
    else:
        models.matmul_nbits(path, K=K, N=96, bits=bits, block=block, zp_mode=zp, batch=rows,
                            accuracy_level=4, seed=bits + K)
    gpu = _emulated(tmp_path, path, adversarial=True, int8_activations=True)
    _compile_cpu(path, str(tmp_path / "cpu.so"), int8_activations=True)
    cpu = sparsa.load(str(tmp_path / "cpu.so"))
    for count in ((3, 16, 70) if rows == "M" else (rows,)):
        a = np.random.default_rng(count).standard_normal((count, K)).astype(np.float32)
        want, got = cpu.run({"A": a})["Y"], gpu.run({"A": a})["Y"]
        np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max(), rtol=1e-5)
        if zp in ("packed", "none"):
            ref = ort_run(path, {"A": a})["Y"]
            np.testing.assert_allclose(got, ref, atol=2e-5 * np.abs(ref).max(), rtol=1e-5)
    ptx = tmp_path / "m.ptx"
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx", int8_activations=True)
    text = ptx.read_text()
    assert "mma.sync.aligned.m16n8k32.row.col.satfinite.s32.s8.s8.s32" in text
    # Run-time rows keep the dp4a GEMV threads for fewer than 16.
    assert ("dp4a.s32.u32" in text) == (rows == "M")
    # Without tensor cores (or before sm_80) the same model has no mma.
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx", int8_activations=True,
                 extra_args=["--x-gpu-tensor-cores=false"])
    assert "mma.sync" not in ptx.read_text()


@pytest.mark.parametrize("weight_type,per_channel", [("QUInt8", False), ("QInt8", True)])
def test_dynamic_int8_gemv_dp4a_matches_ort(tmp_path, weight_type, per_channel):
    """ONNX Runtime's quantize_dynamic form (DynamicQuantizeLinear ->
    MatMulInteger -> Cast -> Mul) on the GPU: each GEMV's uint8 products
    are dp4a.u32.u32 dot products with the zero points' corrections, summed
    exactly in i32 (the CPU library's integers, so the same outputs), split
    over chunks of the weight row. Emulated adversarially; against ONNX
    Runtime where its u8 x u8 products are exact, else the CPU library."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    rng = np.random.default_rng(7)
    K, H, N = 512, 96, 32
    inits = [numpy_helper.from_array((rng.standard_normal((K, H)) * 0.1).astype(np.float32), "w1"),
             numpy_helper.from_array((rng.standard_normal((H, N)) * 0.2).astype(np.float32), "w2"),
             numpy_helper.from_array(rng.standard_normal(H).astype(np.float32), "b1")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"], name="/fc1/MatMul"),
             helper.make_node("Add", ["h0", "b1"], ["h1"], name="/fc1/Add"),
             helper.make_node("Relu", ["h1"], ["h"], name="/act/Relu"),
             helper.make_node("MatMul", ["h", "w2"], ["y"], name="/fc2/MatMul")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", N])], inits)
    src = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
               str(tmp_path / "float.onnx"))
    path = str(tmp_path / "dyn.onnx")
    quantize_dynamic(src, path, weight_type=getattr(QuantType, weight_type),
                     per_channel=per_channel, extra_options={"MatMulConstBOnly": True})
    model = _emulated(tmp_path, path, adversarial=True)
    _compile_cpu(path, str(tmp_path / "cpu.so"))
    cpu = sparsa.load(str(tmp_path / "cpu.so"))
    for rows in (1, 3):
        x = rng.standard_normal((rows, K)).astype(np.float32)
        got, want = model.run({"x": x})["y"], cpu.run({"x": x})["y"]
        np.testing.assert_allclose(got, want, atol=1e-6 * np.abs(want).max(), rtol=1e-6)
        if weight_type == "QUInt8":
            np.testing.assert_allclose(got, ort_run(path, {"x": x})["y"], atol=2e-4, rtol=2e-4)
    ptx = tmp_path / "dyn.ptx"
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx")
    assert ptx.read_text().count("dp4a.u32.u32") >= 24  # both GEMVs, 12 per vector


@pytest.mark.parametrize("kind", ["qmoe", "sparse_ffn"])
def test_int8_activations_compose_on_gpu(tmp_path, kind):
    """--int8-activations through the routing and activation-sparsity ops
    on the GPU: QMoE's experts (each a slice of the stacked int4 weights)
    and a quantized sparse FFN's gate take the dp4a GEMV, or with 16 rows
    or more the int8 tensor cores. The emulated library matches the CPU
    library's int8 results (which the CPU tests check against numpy), for
    one token, several, and 40 (an expert gets 16 or more of them)."""
    if kind == "qmoe":
        path = models.qmoe(str(tmp_path / "m.onnx"), hidden=256, inner=256, experts=4, k=2,
                           block=32, zero_points=True, act="relu", tokens="T")
    else:
        path = models.nbits_sparse_ffn(str(tmp_path / "m.onnx"), 128, 512, block=32,
                                       sparsity=0.9, tokens="T")
    cpu_so = tmp_path / "cpu.so"
    _compile_cpu(path, str(cpu_so), int8_activations=True)
    cpu = sparsa.load(str(cpu_so))
    gpu = _emulated(tmp_path, path, adversarial=True, int8_activations=True)
    for t in (1, 5, 40):
        rng = np.random.default_rng(t)
        feeds = {"x": rng.standard_normal((t, 256 if kind == "qmoe" else 128)).astype(np.float32)}
        want, got = cpu.run(feeds)["y"], gpu.run(feeds)["y"]
        scale = np.abs(want).max()
        # The second matmul re-quantizes the hidden activations to int8
        # codes: where the CPU's and the GPU's f32 sums of the first differ
        # in the last bit, a code can move by one step (seen for one token
        # of 40). At most 2 tokens may differ so, by under one step's
        # effect; every other token matches to float rounding.
        off = np.abs(got - want).max(axis=1) > 1e-5 * scale
        assert off.sum() <= (2 if t == 40 else 0), np.nonzero(off)[0]
        np.testing.assert_allclose(got[~off], want[~off], atol=1e-5 * scale, rtol=1e-5)
        np.testing.assert_allclose(got, want, atol=2e-3 * scale)
    ptx = tmp_path / "m.ptx"
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx", int8_activations=True)
    text = ptx.read_text()
    assert "dp4a.s32.u32" in text
    # From 16 rows (an expert's tokens, the gate's tokens) on tensor cores.
    assert "mma.sync.aligned.m16n8k32" in text


def _row_model(path, kind, shape, axis):
    """One row-wise op (sparsa-gpu-form-row-kernels' targets), its input
    dimensions given as ints or names (run-time sizes)."""
    rng = np.random.default_rng(11)
    static = [d if isinstance(d, int) else 3 for d in shape]
    inits = []
    if kind in ("softmax", "logsoftmax"):
        op = {"softmax": "Softmax", "logsoftmax": "LogSoftmax"}[kind]
        nodes = [helper.make_node(op, ["x"], ["y"], name=kind, axis=axis)]
    elif kind == "manual_softmax":
        # As exporters write softmax op by op: keepdims reductions, exp(x -
        # max) read by both the sum and the division.
        inits.append(numpy_helper.from_array(np.array([axis], np.int64), "ax"))
        nodes = [helper.make_node("ReduceMax", ["x", "ax"], ["m"], keepdims=1),
                 helper.make_node("Sub", ["x", "m"], ["d"]),
                 helper.make_node("Exp", ["d"], ["e"]),
                 helper.make_node("ReduceSum", ["e", "ax"], ["s"], keepdims=1),
                 helper.make_node("Div", ["e", "s"], ["y"])]
    elif kind in ("reduce_sum", "reduce_max", "reduce_mean"):
        # A plain reduction of many rows: a block per row (ReduceMean's
        # division in the same kernel).
        op = {"reduce_sum": "ReduceSum", "reduce_max": "ReduceMax",
              "reduce_mean": "ReduceMean"}[kind]
        inits.append(numpy_helper.from_array(np.array([axis], np.int64), "ax"))
        nodes = [helper.make_node(op, ["x", "ax"], ["y"], keepdims=0)]
    elif kind == "rmsnorm":
        # Llama's RMSNorm as exported: Pow, ReduceMean, Add, Sqrt,
        # Reciprocal, Mul by the input and the weight.
        inits += [numpy_helper.from_array(np.array([axis], np.int64), "ax"),
                  numpy_helper.from_array(np.array(1e-6, np.float32), "eps"),
                  numpy_helper.from_array(np.array(2.0, np.float32), "two"),
                  numpy_helper.from_array(rng.standard_normal(static[-1]).astype(np.float32),
                                          "w")]
        nodes = [helper.make_node("Pow", ["x", "two"], ["sq"]),
                 helper.make_node("ReduceMean", ["sq", "ax"], ["ms"], keepdims=1),
                 helper.make_node("Add", ["ms", "eps"], ["a"]),
                 helper.make_node("Sqrt", ["a"], ["r"]),
                 helper.make_node("Reciprocal", ["r"], ["ir"]),
                 helper.make_node("Mul", ["x", "ir"], ["n"]),
                 helper.make_node("Mul", ["n", "w"], ["y"])]
    else:  # layernorm, with or without bias
        norm = static[axis:]
        inits.append(numpy_helper.from_array(rng.standard_normal(norm).astype(np.float32), "s"))
        ins = ["x", "s"]
        if kind == "layernorm_bias":
            inits.append(numpy_helper.from_array(rng.standard_normal(norm).astype(np.float32),
                                                 "b"))
            ins.append("b")
        nodes = [helper.make_node("LayerNormalization", ins, ["y"], name="ln", axis=axis,
                                  epsilon=1e-5)]
    out_shape = shape[:-1] if kind.startswith("reduce") else shape
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    opset = 17 if kind in ("softmax", "logsoftmax", "layernorm", "layernorm_bias") else 18
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)


ROW_CASES = [
    ("softmax", [4, 1000], -1),       # a block of 256 threads, 4 elements each
    ("softmax", [6, 5], -1),          # rows shorter than a warp: a thread per row
    ("softmax", [2, 50, 7], 1),       # the reduced axis in the middle (strided rows)
    ("softmax", [1, 20000], -1),      # one long row: 1024 threads
    ("logsoftmax", ["N", 3, 77], -1),  # run-time row count
    ("layernorm", [3, 768], -1),
    ("layernorm_bias", ["B", "T", 64], -1),
    ("layernorm_bias", [2, 4, 33], -2),  # two reduced axes
    ("manual_softmax", [3, 4000], -1),
    ("rmsnorm", [3, 5, 96], -1),
    ("rmsnorm", ["B", "T", 96], -1),   # run-time batch and sequence
    ("reduce_sum", ["N", 300], -1),    # run-time row count
    ("reduce_max", [100, 50], -1),
    ("reduce_mean", [64, 4, 100], -1),
]


@pytest.mark.parametrize("kind,shape,axis", ROW_CASES)
def test_row_kernels_one_launch_and_match_ort(tmp_path, kind, shape, axis):
    """Softmax, LogSoftmax and LayerNormalization, and softmax and RMSNorm
    written op by op, are one kernel each on the GPU
    (sparsa-gpu-form-row-kernels, sparsa-gpu-row-kernels-to-launches), as
    are plain reductions of many rows:
    a block per row, its reductions combined by warp shuffles (the PTX holds
    one entry and shfl.sync). Emulated with each launch's threads run last
    first and device memory poisoned: a partial left out of a block
    reduction, a thread reading another's share of the row before it is
    written, or a row value computed from the wrong row shows against ONNX
    Runtime."""
    path = _row_model(tmp_path / "m.onnx", kind, shape, axis)
    ptx = tmp_path / "m.ptx"
    _compile_cpu(str(path), str(ptx), target="cuda", emit="ptx")
    text = ptx.read_text()
    if kind == "softmax" and isinstance(shape[axis], int) and shape[axis] < 32:
        # Rows shorter than a warp keep the separate one-thread-per-row
        # kernels.
        assert text.count(".entry") > 1 and "shfl.sync" not in text
    else:
        assert text.count(".entry") == 1, text.count(".entry")
        assert "shfl.sync.bfly" in text
    model = _emulated(tmp_path, path, adversarial=True)
    rng = np.random.default_rng(5)
    for rows in (1, 3):
        dims = [d if isinstance(d, int) else rows for d in shape]
        x = (rng.standard_normal(dims) * 4).astype(np.float32)
        # Sums of hundreds of terms of magnitude 4 in another order.
        atol = 1e-4 if kind == "reduce_sum" else 1e-5
        assert_matches_ort(model, path, {"x": x}, atol=atol, rtol=1e-5)


def test_row_kernel_zero_rows(tmp_path):
    """A run-time row count of zero launches nothing (a zero grid would be
    a launch error) and returns an empty result."""
    path = _row_model(tmp_path / "m.onnx", "softmax", ["N", 16], -1)
    model = _emulated(tmp_path, path, adversarial=True)
    out = model.run({"x": np.zeros((0, 16), np.float32)})
    assert out["y"].shape == (0, 16)


def test_cuda_library_and_report(tmp_path):
    path = _softmax_gelu_model(tmp_path / "m.onnx")
    so, report = tmp_path / "m.so", tmp_path / "r.json"
    _compile_cpu(str(path), str(so), target="cuda", report=str(report))
    r = json.loads(report.read_text())
    assert r["target"] == "cuda"
    assert "ptxas" in json.dumps(r)
    if not shutil.which("nm"):
        pytest.skip("no nm (binutils) on this machine to list the library's symbols")
    info = subprocess.run(["nm", "-D", str(so)], capture_output=True, text=True).stdout
    assert "U mgpuLaunchKernel" in info and "T sparsa_entry" in info


@pytest.mark.skipif(HAVE_DRIVER, reason="a CUDA driver is present: test_cuda_runs covers it")
def test_cuda_model_without_driver_is_a_clear_error(tmp_path):
    path = _softmax_gelu_model(tmp_path / "m.onnx")
    so = tmp_path / "m.so"
    _compile_cpu(str(path), str(so), target="cuda")
    with pytest.raises(sparsa.SparsaError, match="no CUDA driver: cannot load libcuda.so.1"):
        sparsa.load(str(so))
    # CPU models still load and run in the same process.
    cpu = tmp_path / "c.so"
    _compile_cpu(str(path), str(cpu))
    x = np.ones((2, 48), np.float32)
    assert_matches_ort(sparsa.load(str(cpu)), path, {"x": x})


@pytest.mark.skipif(not HAVE_DRIVER, reason="no CUDA driver on this machine (libcuda.so.1)")
def test_cuda_runs(tmp_path):
    path = _softmax_gelu_model(tmp_path / "m.onnx")
    so = tmp_path / "m.so"
    _compile_cpu(str(path), str(so), target="cuda")
    model = sparsa.load(str(so))
    for rows in (1, 300):
        x = np.random.default_rng(rows).standard_normal((rows, 48)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


def test_device_pointer_inputs_need_a_cuda_model(tmp_path):
    """The C API's device-pointer entry refuses CPU models with a clear
    error (on a GPU machine tools/gpu-check.sh runs the CUDA side)."""
    path = _softmax_gelu_model(tmp_path / "m.onnx")
    so = tmp_path / "c.so"
    _compile_cpu(str(path), str(so))
    model = sparsa.load(str(so))
    assert model.target == "cpu"
    from sparsa._runtime import _library, _Tensor
    lib = _library()
    x = np.ones((2, 48), np.float32)
    t = _Tensor()
    t.name, t.dtype, t.rank = b"x", 1, 2
    t.dims[0], t.dims[1] = 2, 48
    t.data = x.ctypes.data
    outs = (_Tensor * 1)()
    status = lib.sparsa_model_run_device_inputs(model._handle, ctypes.byref(t), 1, outs)
    assert status != 0
    assert b"device-pointer inputs need a model compiled with --target=cuda" in \
        lib.sparsa_last_error()


@pytest.mark.skipif(not HAVE_DRIVER, reason="no CUDA driver on this machine (libcuda.so.1)")
def test_device_pointer_inputs_run_on_cuda(tmp_path):
    """sparsa_model_run_device_inputs: the input already lives in device
    memory (allocated here through the driver API in the primary context
    the runtime uses); the outputs come back to the host as usual."""
    path = _softmax_gelu_model(tmp_path / "m.onnx")
    so = tmp_path / "m.so"
    _compile_cpu(str(path), str(so), target="cuda")
    model = sparsa.load(str(so))
    assert model.target == "cuda"
    cu = ctypes.CDLL("libcuda.so.1")
    dev, ctx, dptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
    assert cu.cuInit(0) == 0
    assert cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
    assert cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0
    assert cu.cuCtxSetCurrent(ctx) == 0
    x = np.random.default_rng(5).standard_normal((7, 48)).astype(np.float32)
    assert cu.cuMemAlloc_v2(ctypes.byref(dptr), ctypes.c_size_t(x.nbytes)) == 0
    try:
        assert cu.cuMemcpyHtoD_v2(dptr, ctypes.c_void_p(x.ctypes.data),
                                  ctypes.c_size_t(x.nbytes)) == 0
        from sparsa._runtime import _library, _Tensor, _check
        lib = _library()
        t = _Tensor()
        t.name, t.dtype, t.rank = b"x", 1, 2
        t.dims[0], t.dims[1] = 7, 48
        t.data = dptr.value
        outs = (_Tensor * 1)()
        _check(lib.sparsa_model_run_device_inputs(model._handle, ctypes.byref(t), 1, outs))
        o = outs[0]
        shape = tuple(int(o.dims[d]) for d in range(o.rank))
        got = np.ctypeslib.as_array(ctypes.cast(o.data, ctypes.POINTER(ctypes.c_float)),
                                    shape=shape).copy()
        lib.sparsa_tensor_release(ctypes.byref(o))
    finally:
        cu.cuMemFree_v2(dptr)
    expected = model.run({"x": x})["y"]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rows", [1, 300])
def test_adversarial_emulation_matches_ort(tmp_path, rows):
    """--x-gpu-emulate-adversarial: launches run last thread first over
    device allocations filled with NaN / 0xA5 bytes; a mapping without
    races or reads of unwritten memory still matches ONNX Runtime."""
    path = _softmax_gelu_model(tmp_path / "m.onnx")
    model = _emulated(tmp_path, path, adversarial=True)
    x = np.random.default_rng(rows).standard_normal((rows, 48)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})


@pytest.mark.parametrize("rows,k,n", [(1, 1024, 256), (4, 1024, 256), (8, 512, 128),
                                      (64, 512, 128), (1, 1024, 250)])
def test_vector_contraction_threads_match_ort(tmp_path, rows, k, n):
    """sparsa-gpu-contraction-kernels end to end: a decode GEMV (split-K
    chunks, their vector sum with the bias folded in), few-token GEMVs
    (one thread holds all rows), a GEMM (8-row tiles) and an N that is not a
    multiple of 4 (scalar threads). Emulated with reversed threads and
    poisoned allocations, so a folded fill that left an output unwritten
    shows; the PTX shows whether the vector loads were used."""
    path = models.mlp(str(tmp_path / "mm.onnx"), [k, n], batch=rows, seed=rows)
    model = _emulated(tmp_path, path, adversarial=True)
    x = np.random.default_rng(rows).standard_normal((rows, k)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})
    ptx = tmp_path / "mm.ptx"
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx")
    assert ("ld.global.v4" in ptx.read_text()) == (n % 4 == 0)


def _gemm_model(path, m, k, n, batch=None, form="matmul_add", seed=0):
    """x [batch?, m, k] times a [k, n] weight (or Gemm with transB), plus a
    bias; m may be a run-time dimension name."""
    rng = np.random.default_rng(seed)
    lead = [batch] if batch else []
    inits, nodes = [], []
    if form == "gemm_transb":
        inits.append(numpy_helper.from_array(
            rng.standard_normal((n, k)).astype(np.float32), "w"))
        inits.append(numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "b"))
        nodes.append(helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="gemm", transB=1))
    else:
        inits.append(numpy_helper.from_array(
            rng.standard_normal((k, n)).astype(np.float32), "w"))
        nodes.append(helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"))
        if form == "matmul_add":
            inits.append(numpy_helper.from_array(rng.standard_normal(n).astype(np.float32), "b"))
            nodes.append(helper.make_node("Add", ["h", "b"], ["y"], name="bias"))
        else:
            nodes.append(helper.make_node("Relu", ["h"], ["y"], name="relu"))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, lead + [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, lead + [m, n])], inits)
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


# (rows, k, n, batch, form): 128-tiles (96+ blocks), 64-tiles, edges in
# rows / columns / k, a batch in the grid's z, Gemm with transB.
GEMM_CASES = [
    (1024, 64, 1536, None, "matmul_add"),
    (128, 256, 192, None, "matmul_add"),
    (100, 72, 76, None, "matmul_relu"),
    (300, 136, 260, None, "matmul_add"),
    (64, 40, 128, 3, "matmul_relu"),
    (256, 512, 384, None, "gemm_transb"),
]


@pytest.mark.parametrize("m,k,n,batch,form", GEMM_CASES)
def test_shared_memory_gemm_matches_ort(tmp_path, m, k, n, batch, form):
    """GEMMs of at least 64 x 64 outputs stage tiles of both operands
    through shared memory (sparsa-gpu-contraction-kernels, shared-tiles):
    the PTX holds .shared tiles and bar.sync. Emulated with threads last
    first and device memory poisoned, where each loop iteration's first
    segment runs on from the last segment's threads (no wait at the
    back edge, as on a GPU): a tile overwritten before every thread has read
    it, a tile read before every thread stored its share, an edge row or
    column stored out of place, or k past the end not masked shows against
    ONNX Runtime."""
    path = _gemm_model(tmp_path / "g.onnx", m, k, n, batch, form, seed=m + k + n)
    ptx = tmp_path / "g.ptx"
    _compile_cpu(str(path), str(ptx), target="cuda", emit="ptx")
    text = ptx.read_text()
    assert ".shared" in text and "bar.sync" in text
    # The tiles are read as 16-byte vectors.
    assert ".shared .align 16" in text and ".shared .align 4" not in text
    off = tmp_path / "off.ptx"
    _compile_cpu(str(path), str(off), target="cuda", emit="ptx",
                 extra_args=["--x-gpu-shared-tiles=false"])
    assert ".shared" not in off.read_text()
    model = _emulated(tmp_path, path, adversarial=True)
    x = np.random.default_rng(7).standard_normal(([batch] if batch else []) + [m, k])
    # Sums of up to 512 products of magnitude ~1, in k order on both sides.
    assert_matches_ort(model, path, {"x": x.astype(np.float32)}, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_tiled_gemm_runtime_rows(tmp_path, dtype):
    """A run-time row count (a dynamic batch or sequence axis, as exporters
    write them) gets the shared-memory tiles (f32) or tensor cores (f16)
    too: the grid's rows are computed at run time, rows past the count read
    clamped and are not stored, and a count of zero launches nothing."""
    if dtype == "f32":
        path = str(_gemm_model(tmp_path / "g.onnx", "T", 64, 128))
    else:
        path, _, _, _ = _half_gemm_model(str(tmp_path / "g.onnx"), "T", 72, 80, "f16")
    ptx = tmp_path / "g.ptx"
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx")
    text = ptx.read_text()
    assert ".shared" in text and "bar.sync" in text
    assert ("mma.sync" in text) == (dtype == "f16")
    model = _emulated(tmp_path, path, adversarial=True)
    k = 64 if dtype == "f32" else 72
    for rows in (0, 1, 70, 130):
        x = np.random.default_rng(rows).standard_normal((rows, k)).astype(np.float32)
        if rows == 0:
            assert model.run({"x": x})["y"].shape == (0, 128 if dtype == "f32" else 80)
            continue
        tol = {"atol": 1e-4, "rtol": 1e-5} if dtype == "f32" else {"atol": 0.06, "rtol": 2e-3}
        assert_matches_ort(model, path, {"x": x}, **tol)


def _half_gemm_model(path, m, k, n, dtype, batch=None, form="matmul", seed=0):
    """f32 x [batch?, m, k] cast to f16 / bf16, times a 16-bit [k, n]
    weight (Gemm with transB: [n, k], plus a bias), cast back to f32; the
    16-bit weight (as float32) is returned for a numpy reference."""
    import ml_dtypes
    rng = np.random.default_rng(seed)
    code = TensorProto.FLOAT16 if dtype == "f16" else TensorProto.BFLOAT16
    npt = np.float16 if dtype == "f16" else ml_dtypes.bfloat16
    shape = (n, k) if form == "gemm_transb" else (k, n)
    w = rng.standard_normal(shape).astype(npt)
    inits = [helper.make_tensor("w", code, list(shape), w.view(np.uint16).tobytes(), raw=True)]
    nodes = [helper.make_node("Cast", ["x"], ["xh"], name="to_half", to=code)]
    if form == "gemm_transb":
        bias = rng.standard_normal(n).astype(npt)
        inits.append(helper.make_tensor("b", code, [n], bias.view(np.uint16).tobytes(), raw=True))
        nodes.append(helper.make_node("Gemm", ["xh", "w", "b"], ["yh"], name="gemm", transB=1))
    else:
        nodes.append(helper.make_node("MatMul", ["xh", "w"], ["yh"], name="mm"))
    nodes.append(helper.make_node("Cast", ["yh"], ["y"], name="to_f32", to=TensorProto.FLOAT))
    lead = [batch] if batch else []
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, lead + [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, lead + [m, n])], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    wf = w.astype(np.float32)
    return path, (wf.T if form == "gemm_transb" else wf), (
        bias.astype(np.float32) if form == "gemm_transb" else None), npt


# (dtype, rows, k, n, batch, form): full 64-tiles, edges in rows, columns
# and k (k not a multiple of the 32-step), a batch, Gemm with transB (b
# read along k) and a bias.
HALF_CASES = [
    ("f16", 128, 256, 192, None, "matmul"),
    ("f16", 100, 72, 76, None, "matmul"),
    ("bf16", 100, 72, 76, None, "matmul"),
    ("bf16", 33, 40, 24, 2, "matmul"),
    ("f16", 64, 96, 80, None, "gemm_transb"),
]


@pytest.mark.parametrize("dtype,m,k,n,batch,form", HALF_CASES)
def test_tensor_core_gemm_matches_reference(tmp_path, dtype, m, k, n, batch, form):
    """f16 / bf16 MatMul and Gemm sum their products in f32 and round once
    (as MLAS and cuBLAS do), on the CPU and the GPU; on the GPU they run on
    tensor cores (mma.sync m16n8k16, PTX accepted by ptxas for sm_80 and
    sm_90 in conftest). Emulated with threads last first and poisoned
    memory, each mma computed from its warp's fragments as PTX lays them out:
    a fragment register loaded from the wrong row or k, a tile read before
    every thread stored its share, or an edge stored out of place shows
    against the numpy reference (products of the 16-bit values and the bias
    summed in f64, rounded once to 16 bits: one unit in the last place of
    tolerance)."""
    path, w, bias, npt = _half_gemm_model(str(tmp_path / "h.onnx"), m, k, n, dtype, batch,
                                          form, seed=m + k)
    x = np.random.default_rng(9).standard_normal(([batch] if batch else []) + [m, k])
    x = x.astype(np.float32)
    exact = x.astype(npt).astype(np.float64) @ w.astype(np.float64)
    if bias is not None:  # the accumulators start from the bias
        exact = exact + bias
    ref = exact.astype(np.float32).astype(npt).astype(np.float32)
    ulp = np.abs(ref).astype(np.float32) * (2.0 ** (-10 if dtype == "f16" else -7)) + 1e-6
    ptx = tmp_path / "h.ptx"
    _compile_cpu(path, str(ptx), target="cuda", emit="ptx")
    kind = "f16" if dtype == "f16" else "bf16"
    text = ptx.read_text()
    assert f"mma.sync.aligned.m16n8k16.row.col.f32.{kind}.{kind}.f32" in text
    # Fragments are 4-byte pairs of 16-bit elements: tiles aligned beyond it.
    assert ".shared .align 16" in text and ".shared .align 2 " not in text
    cpu = tmp_path / "cpu.so"
    _compile_cpu(path, str(cpu))
    for model in (sparsa.load(str(cpu)), _emulated(tmp_path, path, adversarial=True)):
        got = model.run({"x": x})["y"]
        assert np.all(np.abs(got - ref) <= ulp * 1.01), float(np.max(np.abs(got - ref) / ulp))


def test_f16_matmul_matches_ort(tmp_path):
    """An f16 MatMul sums in f32 like ONNX Runtime's: equal results on the
    CPU and on the emulated tensor cores."""
    path, _, _, _ = _half_gemm_model(str(tmp_path / "h.onnx"), 70, 136, 96, "f16")
    x = np.random.default_rng(4).standard_normal((70, 136)).astype(np.float32)
    cpu = tmp_path / "cpu.so"
    _compile_cpu(path, str(cpu))
    for model in (sparsa.load(str(cpu)), _emulated(tmp_path, path, adversarial=True)):
        assert_matches_ort(model, path, {"x": x}, atol=0.06, rtol=2e-3)
