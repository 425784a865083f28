#!/usr/bin/env python3
"""The GPU's own ceilings and the vendor library's figures for the GPU
benchmark's shapes, measured where PyTorch with CUDA is installed (the lent
H200's image; tools/gpu-check.sh runs it when it can import torch):

  - device-to-device copy of 2 GiB (bytes read + written per second) and a
    read-only pass (sum of 1 GiB): the bandwidth a kernel can reach;
  - cuBLAS fp32 (TF32 off) for the same GEMVs / GEMMs as
    `python -m sparsa.bench --gpu`, kernel time only (device events around
    back-to-back calls on device-resident data, no copies): the vendor's
    kernel beside our end-to-end run and our per-kernel trace.

Prints a markdown table. Medians of 20 timed calls after 3 warm-ups.
"""

import statistics
import sys


def main() -> int:
    try:
        import torch
    except ImportError:
        print("gpu-baseline: no PyTorch here; skipped")
        return 0
    if not torch.cuda.is_available():
        print("gpu-baseline: PyTorch sees no GPU; skipped")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")

    def median_ms(fn, iters=20, warmup=3):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(iters):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        return statistics.median(times)

    rows = ["| what | shape | ms | GB/s | TFLOP/s |", "|---|---|---|---|---|"]
    a = torch.empty(2**29, dtype=torch.float32, device=dev).uniform_()
    b = torch.empty_like(a)
    t = median_ms(lambda: b.copy_(a))
    rows.append(f"| device copy | 2 GiB | {t:.3f} | {2 * a.numel() * 4 / t / 1e6:.0f} | |")
    half = a[: 2**28]
    t = median_ms(lambda: half.sum())
    rows.append(f"| read (sum) | 1 GiB | {t:.3f} | {half.numel() * 4 / t / 1e6:.0f} | |")
    del a, b, half
    for m, k in [(1, 4096), (1, 8192), (1, 16384), (8, 8192), (512, 4096), (1024, 8192)]:
        x = torch.randn(m, k, device=dev)
        w = torch.randn(k, k, device=dev)
        bias = torch.randn(k, device=dev)
        t = median_ms(lambda: torch.addmm(bias, x, w))
        bytes_moved = 4 * (k * k + k + 2 * m * k)
        rows.append(f"| cuBLAS addmm | {m}x{k} @ {k}x{k} | {t:.3f} | "
                    f"{bytes_moved / t / 1e6:.0f} | {2 * m * k * k / t / 1e9:.2f} |")
        del x, w, bias
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
