"""Shared helpers of the end-to-end tests: build a model, compile it with
sparsa-compile, run it with the Sparsa runtime and with ONNX Runtime."""

import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

import sparsa  # noqa: E402
from sparsa._compiler import PrebuiltOmitted  # noqa: E402

import onnx  # noqa: E402  (required: the suite never skips itself)
import onnxruntime as ort  # noqa: E402

# GPU checks, by environment:
# - SPARSA_CHECK_CUDA=1 (the test command sets it): every model a test
#   compiles for the CPU is also compiled with --target=cuda, which runs
#   ptxas for sm_80 and sm_90 on its kernels; a failure fails that test.
# - SPARSA_TEST_GPU=emulate: tests compile through the GPU device mapping
#   with its kernels run on the host (--x-gpu-emulate), so their ONNX
#   Runtime comparisons check the mapping on a machine without a GPU.
# - SPARSA_TEST_GPU=emulate-adversarial: the same with each launch's threads
#   in reverse order and device allocations poisoned (races, reads of
#   memory no kernel wrote).
# - SPARSA_TEST_GPU=cuda (tools/gpu-check.sh, on a GPU machine): tests
#   compile with --target=cuda and run on the GPU.
# - SPARSA_TEST_GPU=record (tools/gpu-prepare.sh, with SPARSA_PREBUILT_*
#   set to record): every plain compile is done for --target=cuda exactly
#   as the cuda mode would do it (so it is recorded), then for the CPU, and
#   the test goes on with the CPU library; a GPU machine without the
#   compiler then runs the cuda mode from the recording.
_compile_cpu = sparsa.compile
GPU_MODE = os.environ.get("SPARSA_TEST_GPU", "")


def _compile_checking_cuda(model, output, **kwargs):
    plain = (kwargs.get("target", "cpu") == "cpu" and kwargs.get("emit", "so") == "so"
             and not kwargs.get("instrument"))
    if GPU_MODE == "record" and plain:
        # The same output name: a library refers to its weights sidecar by it.
        try:
            _compile_cpu(model, output, **dict(kwargs, target="cuda", extra_args=[]))
        except sparsa.SparsaError:
            pass  # recorded too; the CPU compile below reports it if it fails
        return _compile_cpu(model, output, **kwargs)
    if GPU_MODE and plain:
        extra = {"emulate": ["--x-gpu-emulate"],
                 "emulate-adversarial": ["--x-gpu-emulate",
                                         "--x-gpu-emulate-adversarial"]}.get(GPU_MODE, [])
        return _compile_cpu(model, output, **dict(kwargs, target="cuda", extra_args=extra))
    result = _compile_cpu(model, output, **kwargs)
    mode = os.environ.get("SPARSA_CHECK_CUDA", "")
    if mode and plain:
        keep = {k: v for k, v in kwargs.items() if k in ("input_shapes", "disable_fusion")}
        try:
            _compile_cpu(model, str(output) + ".cuda.so", target="cuda", **keep)
        except sparsa.SparsaError as e:
            if mode != "record":
                raise AssertionError(f"--target=cuda failed for {model}: {e}") from None
            with open("/tmp/cuda_failures.txt", "a") as f:
                f.write(f"{model}\n{e}\n\n")
    return result


sparsa.compile = _compile_checking_cuda


@pytest.fixture(autouse=True)
def _fresh_module_rng(request):
    """A module's shared `RNG` restarts for each test from a seed of the
    module's seed and the test's id, so a test's data do not depend on which
    tests ran before it (subsets, -x, xdist, skips): needed for replaying
    prebuilt libraries, which are keyed by the model's bytes."""
    module = request.module
    if isinstance(getattr(module, "RNG", None), np.random.Generator):
        base = getattr(module, "_RNG_SEED", None)
        if base is None:
            base = module._RNG_SEED = int(module.RNG.bit_generator.seed_seq.entropy)
        module.RNG = np.random.default_rng([base, zlib.crc32(request.node.nodeid.encode())])
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Replaying prebuilt libraries (tools/gpu-check.sh on a machine without
    the compiler): a test whose recording was too large to carry is reported
    as skipped with that reason, not as passed or failed."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(PrebuiltOmitted):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0,
                           f"Skipped: {call.excinfo.value}")

# fp32 tolerances against ONNX Runtime: the two libraries sum in different
# orders (and we fuse multiply-adds), so allow a few ulps of the magnitudes.
ATOL = 1e-4
RTOL = 1e-4


def ort_run(model_path, feeds, threads=1):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def save(model, path):
    model.ir_version = min(model.ir_version or 8, 8)
    onnx.save(model, str(path))
    return str(path)


@pytest.fixture
def compile_model(tmp_path):
    """compile_model(onnx_path, **compile_kwargs) -> loaded sparsa.Model"""
    def _compile(model_path, name="model", **kwargs):
        so = tmp_path / f"{name}.so"
        sparsa.compile(str(model_path), str(so), **kwargs)
        return sparsa.load(str(so))
    return _compile


def int8_rows(a, block):
    """|a| [M, K] quantized per row and block of |block| (0: the whole row)
    to symmetric int8 (round half to even) and back, in float64."""
    M, K = a.shape
    b = block or K
    blocks = a.astype(np.float64).reshape(M, K // b, b)
    amax = np.abs(blocks).max(axis=2, keepdims=True)
    scale = np.where(amax > 0, amax / 127.0, 0.0)
    q = np.clip(np.rint(blocks * np.where(amax > 0, 127.0 / np.where(amax > 0, amax, 1), 0)),
                -127, 127)
    return (q * scale).reshape(M, K)


def compile_with_report(tmp_path, onnx_path, name="model", **kwargs):
    """Compiles with --report; returns (loaded model, report dict)."""
    import json
    so = tmp_path / f"{name}.so"
    report = tmp_path / f"{name}.json"
    sparsa.compile(str(onnx_path), str(so), report=str(report), **kwargs)
    with open(report) as f:
        return sparsa.load(str(so)), json.load(f)


def assert_matches_ort(model, model_path, feeds, atol=ATOL, rtol=RTOL):
    ours = model.run(feeds)
    ref = ort_run(model_path, feeds)
    assert set(ours) == set(ref)
    for name, expected in ref.items():
        got = ours[name]
        assert got.shape == expected.shape, (name, got.shape, expected.shape)
        assert got.dtype == expected.dtype, (name, got.dtype, expected.dtype)
        np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol, err_msg=name)
    return ours
