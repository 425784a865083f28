"""The main job end to end on a bundled example: generate a 2-layer MLP,
compile it with sparsa-compile, run it with the Sparsa runtime and with ONNX
Runtime, and print both outputs and latencies side by side.

    python -m sparsa.demo [--hidden 4096] [--threads 2] [--iters 30]
"""

import argparse
import os
import time

import numpy as np

import sparsa
from sparsa import models
from sparsa.bench import _alternating_medians


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=4096)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--out", default="out/demo")
    args = p.parse_args(argv)

    # Both libraries are timed in this one process, alternating run by run.
    # On a machine with few cores, a thread pool that spin-waits after its
    # run steals the cores the other library needs next, so neither spins:
    # ONNX Runtime's allow_spinning = 0 and libomp's KMP_BLOCKTIME = 0 (set
    # before the model's libomp starts).
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    import onnxruntime as ort

    os.makedirs(args.out, exist_ok=True)
    h = args.hidden
    onnx_path = os.path.join(args.out, "mlp.onnx")
    so_path = os.path.join(args.out, "mlp.so")
    report = os.path.join(args.out, "report.json")
    print(f"1. generating a 2-layer MLP 1x{h} -> {h} -> {h} (fp32, ReLU): {onnx_path}")
    models.mlp(onnx_path, [h, h, h], batch=1)
    t0 = time.perf_counter()
    sparsa.compile(onnx_path, so_path, report=report)
    print(f"2. compiled with sparsa-compile in {time.perf_counter() - t0:.2f} s: "
          f"{so_path} (+ {os.path.basename(so_path)}.weights), report {report}")

    model = sparsa.load(so_path, num_threads=args.threads)
    x = np.random.default_rng(1).standard_normal((1, h)).astype(np.float32)
    ours = model.run({"x": x})["y"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x})[0]
    err = float(np.max(np.abs(ours - ref)))
    np.set_printoptions(precision=5, suppress=True)
    print("3. outputs (first 6 values):")
    print(f"   sparsa       {ours[0, :6]}")
    print(f"   onnxruntime  {ref[0, :6]}")
    print(f"   max |sparsa - onnxruntime| = {err:.3g}")

    t_ours, t_ort = _alternating_medians(
        [lambda: model.run({"x": x}), lambda: sess.run(None, {"x": x})], args.iters)
    mb = 2 * h * h * 4 / 1e6
    print(f"4. median latency, {args.threads} thread(s), {args.iters} alternating runs "
          f"({mb:.0f} MB of weights; neither library spin-waits between runs):")
    print(f"   sparsa       {t_ours:8.3f} ms  ({mb / t_ours:6.1f} GB/s)")
    print(f"   onnxruntime  {t_ort:8.3f} ms  ({mb / t_ort:6.1f} GB/s)")
    print(f"   ratio onnxruntime/sparsa = {t_ort / t_ours:.2f}")
    return 0 if err <= 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
