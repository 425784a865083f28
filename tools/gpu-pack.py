#!/usr/bin/env python3
"""Packs a prebuilt recording (tools/gpu-prepare.sh) into a bundle that fits
the device tool's carry limit: recordings are taken smallest first (by an
estimate of their compressed size) until BUDGET_MB; the others are replaced
by an omitted.txt, and tools/gpu-check.sh reports their tests as skipped
with that reason.

    gpu-pack.py RECORDING_DIR OUT.tar.xz [BUDGET_MB]
"""

import io
import lzma
import os
import sys
import tarfile


def estimate(entry: str) -> float:
    """Compressed size of |entry|'s files, from an LZMA (xz preset 0) pass
    over the first 1 MiB of each: close to xz's own ratio for random
    weights, and still small for the benchmark's pattern weights (a zlib
    estimate put a 1 GiB pattern library at 9 MiB, which then did not fit,
    where xz needs about 150 KiB)."""
    total = 0.0
    for name in os.listdir(entry):
        path = os.path.join(entry, name)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            sample = f.read(1 << 20)
        total += size * len(lzma.compress(sample, preset=0)) / max(1, len(sample))
    return total


def main() -> int:
    root, out = sys.argv[1], sys.argv[2]
    budget = float(sys.argv[3] if len(sys.argv) > 3 else 200) * 2**20
    sizes = sorted((estimate(os.path.join(root, k)), k) for k in os.listdir(root))
    used, omitted = 0.0, 0
    with tarfile.open(out, "w:xz", preset=6) as tar:
        for size, key in sizes:
            entry = os.path.join(root, key)
            if used + size <= budget:
                used += size
                tar.add(entry, arcname=os.path.join("prebuilt", key))
                continue
            omitted += 1
            note = (f"about {size / 2**20:.1f} MiB compressed; the carried bundle holds "
                    f"{budget / 2**20:.0f} MiB of recordings, smallest first "
                    "(tools/gpu-pack.py)").encode()
            info = tarfile.TarInfo(os.path.join("prebuilt", key, "omitted.txt"))
            info.size = len(note)
            tar.addfile(info, io.BytesIO(note))
    print(f"gpu-pack: {len(sizes) - omitted} recordings packed, {omitted} omitted "
          f"(over the {budget / 2**20:.0f} MiB budget); {os.path.getsize(out) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
