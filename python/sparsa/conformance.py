"""ONNX backend node tests through sparsa-compile and the Sparsa runtime.

    python -m sparsa.conformance [--out docs/conformance.md] [--json r.json]
        [--ops Add,Relu] [--jobs 2] [--min-pass-rate 0.95]

The test cases come from the `onnx` package itself
(`onnx.backend.test.case.node.collect_testcases`): each is a one-op model
with inputs and expected outputs computed by ONNX's reference code. Every
case of the operators Sparsa targets is compiled, run, and compared with
the case's own tolerances. Results are written as a per-op Markdown table.

A case is *unsupported by design* when it uses an element type Sparsa does
not implement on purpose (strings, 8/6/4-bit floats, 2-bit integers,
complex, bfloat16 at the numpy boundary), sequence or optional values, or
training-mode Dropout; those are listed with the reason and excluded from
the pass rate. Everything else counts: a compile error on a listed op (int4
tensor types, for now) is a failure, not an exclusion.
"""

import argparse
import concurrent.futures
import json
import os
import sys
import tempfile
import time
import warnings
from collections import defaultdict

import numpy as np

# The operators issue 3 lists (plus the foundation's element-wise ops, and the
# rounding / smooth activations hand-written fake quantization and Mamba-,
# MobileNet-style blocks use, and the NaN / infinity tests the dynamo exporter
# writes after attention softmaxes).
TARGET_OPS = """MatMul Gemm MatMulInteger QLinearMatMul QuantizeLinear DequantizeLinear
DynamicQuantizeLinear TopK Softmax LogSoftmax Sigmoid Relu LeakyRelu Elu Gelu Erf Tanh Exp
Log Sqrt Reciprocal Pow Abs Neg Clip Min Max Where Greater GreaterOrEqual Less LessOrEqual
Equal Not And Or Gather GatherElements GatherND ScatterElements ScatterND OneHot NonZero
CumSum ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ArgMax Einsum LayerNormalization
Reshape Transpose Concat Split Slice Squeeze Unsqueeze Expand Tile Cast Shape Size
ConstantOfShape Range Flatten Identity Dropout Add Sub Mul Div Constant Trilu Cos Sin
Floor Ceil Round Sign Softplus Softsign HardSigmoid HardSwish Mish PRelu Pad Conv ReduceL1
ReduceL2 ReduceSumSquare ReduceLogSum ReduceLogSumExp IsNaN IsInf""".split()

# TensorProto data types Sparsa does not support on purpose, with why.
BY_DESIGN = {
    8: "string tensors: no numeric kernels",
    14: "complex64: no complex arithmetic in sparse-activation models",
    15: "complex128: no complex arithmetic in sparse-activation models",
    16: "bfloat16: no numpy dtype at the Python boundary; ONNX Runtime CPU lacks most bf16 kernels",
    17: "float8e4m3fn: 8-bit floats are out of scope (int8/int4 are the quantized types)",
    18: "float8e4m3fnuz: 8-bit floats are out of scope",
    19: "float8e5m2: 8-bit floats are out of scope",
    20: "float8e5m2fnuz: 8-bit floats are out of scope",
    23: "float4e2m1: 4-bit floats are out of scope",
    24: "float8e8m0: 8-bit floats are out of scope",
    25: "uint2 tensors: out of scope",
    26: "int2 tensors: out of scope",
}


def _case_dtypes(model):
    types = set()
    graph = model.graph
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.type.HasField("tensor_type"):
            types.add(vi.type.tensor_type.elem_type)
    for init in graph.initializer:
        types.add(init.data_type)
    for node in graph.node:
        for attr in node.attribute:
            if attr.name == "to":
                types.add(attr.i)
            if attr.HasField("t"):
                types.add(attr.t.data_type)
    return types


def _compare(expected, got, rtol, atol):
    if got.shape != expected.shape:
        return f"shape {got.shape} != expected {expected.shape}"
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype} != expected {expected.dtype}"
    if expected.dtype.kind in "fc":
        try:
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError as e:
            return "values differ: " + str(e).strip().splitlines()[-1][:200]
    elif not np.array_equal(got, expected):
        return "values differ"
    return None


def _non_tensor_values(model):
    """Graph inputs/outputs typed as sequences, optionals or maps."""
    graph = model.graph
    return [vi.name for vi in list(graph.input) + list(graph.output)
            if not vi.type.HasField("tensor_type")]


def _by_design_reason(case):
    """Why a case is out of scope by design, or None."""
    model = case.model
    reasons = sorted(BY_DESIGN[t] for t in _case_dtypes(model) if t in BY_DESIGN)
    if reasons:
        return reasons[0]
    if _non_tensor_values(model):
        return ("sequence / optional values: Sparsa compiles tensor graphs "
                "(no sequence or optional types in exported sparse models)")
    if case.name.startswith("test_training_dropout"):
        return ("training-mode Dropout: its output depends on a random mask; "
                "Sparsa compiles inference graphs")
    return None


def _as_declared(value, vi):
    """The test data as an array of the input's declared element type (some
    cases store float inputs as object arrays)."""
    from onnx import TensorProto, helper, numpy_helper

    if isinstance(value, TensorProto):
        return numpy_helper.to_array(value)
    arr = np.asarray(value)
    if arr.dtype == object and arr.ndim == 0 and isinstance(arr.item(), TensorProto):
        return numpy_helper.to_array(arr.item())
    if arr.dtype == object:
        arr = arr.astype(helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type))
    return arr


def run_case(case, workdir):
    """Returns (status, detail): status is pass, fail or by-design."""
    import onnx

    import sparsa

    model = case.model
    reason = _by_design_reason(case)
    if reason:
        return "by-design", reason
    path = os.path.join(workdir, case.name + ".onnx")
    so = os.path.join(workdir, case.name + ".so")
    onnx.save(model, path)
    try:
        sparsa.compile(path, so)
    except Exception as e:  # noqa: BLE001 - every failure is a result
        lines = [l for l in str(e).splitlines() if "error:" in l] or [str(e)]
        return "fail", "compile: " + lines[0].split("error:", 1)[-1].strip()[:240]
    try:
        loaded = sparsa.load(so)
        init_names = {i.name for i in model.graph.initializer}
        in_vis = [i for i in model.graph.input if i.name not in init_names]
        out_names = [o.name for o in model.graph.output]
        for inputs, outputs in case.data_sets:
            feeds = {vi.name: _as_declared(v, vi) for vi, v in zip(in_vis, inputs)}
            got = loaded.run(feeds)
            for name, expected, vi in zip(out_names, outputs, model.graph.output):
                expected = _as_declared(expected, vi)
                problem = _compare(expected, np.asarray(got[name]), case.rtol, case.atol)
                if problem:
                    return "fail", f"output '{name}': {problem}"
    except Exception as e:  # noqa: BLE001
        return "fail", "run: " + str(e).splitlines()[0][:240]
    finally:
        for f in (path, so, so + ".weights"):
            if os.path.exists(f):
                os.remove(f)
    return "pass", ""


def collect(ops):
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    selected = []
    for case in cases:
        types = [n.op_type for n in case.model.graph.node]
        # One-op cases only: "_expanded" variants test ONNX function bodies.
        if types and types[0] in ops and len(set(types)) == 1:
            selected.append((types[0], case))
    return selected


def write_markdown(path, results, elapsed):
    by_op = defaultdict(lambda: {"pass": [], "fail": [], "by-design": []})
    for op, name, status, detail in results:
        by_op[op][status].append((name, detail))
    passed = sum(len(v["pass"]) for v in by_op.values())
    failed = sum(len(v["fail"]) for v in by_op.values())
    design = sum(len(v["by-design"]) for v in by_op.values())
    rate = passed / max(1, passed + failed)
    lines = [
        "# ONNX backend conformance",
        "",
        "Generated by `python -m sparsa.conformance` (runs in CI): every one-op ONNX "
        "backend node test of the operators Sparsa targets, compiled with `sparsa-compile`, "
        "run with the Sparsa runtime, compared with ONNX's expected outputs at each test's "
        "own tolerances.",
        "",
        f"**{passed} passed, {failed} failed, {design} unsupported by design; "
        f"pass rate {100 * rate:.1f} % of {passed + failed} counted cases** "
        f"({elapsed:.0f} s).",
        "",
        "| op | passed | failed | by design | failures (first 3) | by-design reasons |",
        "|---|---|---|---|---|---|",
    ]
    for op in TARGET_OPS:
        if op not in by_op:
            lines.append(f"| {op} | 0 | 0 | 0 | no one-op node test in this onnx version | |")
            continue
        v = by_op[op]
        fails = "; ".join(f"`{n}`: {d}" for n, d in v["fail"][:3]).replace("|", "\\|")
        reasons = "; ".join(sorted({d for _, d in v["by-design"]})).replace("|", "\\|")
        lines.append(f"| {op} | {len(v['pass'])} | {len(v['fail'])} | "
                     f"{len(v['by-design'])} | {fails} | {reasons} |")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return rate


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/conformance.md")
    p.add_argument("--json", default=None)
    p.add_argument("--ops", default=",".join(TARGET_OPS))
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--min-pass-rate", type=float, default=0.0)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)

    ops = set(args.ops.split(","))
    cases = collect(ops)
    start = time.time()
    results = []
    with tempfile.TemporaryDirectory(prefix="sparsa-conformance-") as workdir:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(run_case, case, workdir): (op, case.name)
                       for op, case in cases}
            for fut in concurrent.futures.as_completed(futures):
                op, name = futures[fut]
                status, detail = fut.result()
                results.append((op, name, status, detail))
                if args.verbose and status == "fail":
                    print(f"FAIL {name}: {detail}", file=sys.stderr)
    results.sort()
    rate = write_markdown(args.out, results, time.time() - start)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(op=o, name=n, status=s, detail=d) for o, n, s, d in results],
                      f, indent=1)
    passed = sum(1 for r in results if r[2] == "pass")
    failed = sum(1 for r in results if r[2] == "fail")
    print(f"conformance: {passed} passed, {failed} failed, "
          f"{len(results) - passed - failed} by design; pass rate {100 * rate:.1f} %")
    return 0 if rate >= args.min_pass_rate else 1


if __name__ == "__main__":
    raise SystemExit(main())
