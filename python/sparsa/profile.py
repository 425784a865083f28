"""Reads a sparsity profile and tells how sparse each FFN is.

    sparsa-compile model.onnx -o model.so --instrument=sparsity
    sparsa-run model.so --input x=tokens.npy --profile profile.json
    python -m sparsa.profile profile.json [--png profile.png]
        [--core-set core.npy [--coverage 0.9] [--layer NODE]]

Prints one line per fused sparse FFN (ONNX node, neurons, tokens, mean
active fraction, the 10th / 50th / 90th percentile of the per-token active
fraction, neurons that never fired, and how many of the most frequent
neurons cover 90 % of all activations); --png draws the density per layer
and each layer's neuron-frequency distribution; --core-set writes the
CoreInfer-style core neurons (the most frequent neurons covering
--coverage of all activations, sorted indices as int64) as an .npy file to
feed an FFN over a neuron index set. With several layers and no --layer,
one file per layer is written (NAME.<i>.npy).
"""

import argparse
import json
import sys
from typing import List

import numpy as np


def load(path: str) -> dict:
    with open(path) as f:
        profile = json.load(f)
    if profile.get("format") != "sparsa-sparsity-profile 1":
        raise ValueError(f"{path}: not a Sparsa sparsity profile")
    return profile


def density_percentile(layer: dict, q: float) -> float:
    """The q-quantile (0..1) of the per-token active fraction, from the 1 %
    histogram (the upper edge of the bin that reaches it)."""
    hist = np.asarray(layer["density_histogram"], dtype=np.int64)
    total = hist.sum()
    if total == 0:
        return 0.0
    reach = np.searchsorted(np.cumsum(hist), q * total)
    return min(1.0, (reach + 1) / len(hist))


def core_set(layer: dict, coverage: float = 0.9) -> np.ndarray:
    """The fewest most-frequent neurons whose firings cover |coverage| of
    all firings of |layer| (ties by index), sorted ascending, int64."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError("coverage must be in (0, 1]")
    counts = np.asarray(layer["neuron_counts"], dtype=np.int64)
    total = counts.sum()
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(len(counts)), -counts))
    covered = np.cumsum(counts[order])
    n = int(np.searchsorted(covered, coverage * total - 1e-9 * total) + 1)
    return np.sort(order[:n]).astype(np.int64)


def table(profile: dict) -> List[str]:
    rows = ["| layer (ONNX node) | neurons | tokens | mean active | p10 / p50 / p90 | "
            "never fire | core for 90 % |",
            "|---|---:|---:|---:|---|---:|---:|"]
    for layer in profile["layers"]:
        counts = np.asarray(layer["neuron_counts"])
        p = [density_percentile(layer, q) for q in (0.1, 0.5, 0.9)]
        rows.append(
            f"| {layer['node']} | {layer['neurons']} | {layer['tokens']} | "
            f"{100 * layer['mean_density']:.1f} % | "
            f"{100 * p[0]:.0f} / {100 * p[1]:.0f} / {100 * p[2]:.0f} % | "
            f"{100 * np.mean(counts == 0):.1f} % | {len(core_set(layer, 0.9))} |")
    return rows


def chart(profile: dict, path: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    layers = profile["layers"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(layers))
    ax1.bar(x, [100 * l["mean_density"] for l in layers], color="#3b7dd8")
    ax1.set_xticks(x, [str(i) for i in x])
    ax1.set_xlabel("sparse FFN (model order)")
    ax1.set_ylabel("active neurons per token (%)")
    ax1.set_title("Density per layer")
    for i, l in enumerate(layers):
        counts = np.asarray(l["neuron_counts"], dtype=np.float64)
        freq = counts / max(1, l["tokens"])
        ax2.hist(freq, bins=50, range=(0, 1), histtype="step", label=f"{i}: {l['node']}")
    ax2.set_xlabel("fraction of tokens a neuron fires on")
    ax2.set_ylabel("neurons")
    ax2.set_title("Neuron frequency")
    if len(layers) <= 8:
        ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m sparsa.profile", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", help="JSON written by sparsa-run --profile or Model.write_profile")
    ap.add_argument("--png", help="write the density / neuron-frequency chart here")
    ap.add_argument("--core-set", help="write the core neurons (.npy, int64) here")
    ap.add_argument("--coverage", type=float, default=0.9,
                    help="share of all activations the core set covers (default 0.9)")
    ap.add_argument("--layer", help="ONNX node of the FFN for --core-set (default: all)")
    args = ap.parse_args(argv)
    try:
        profile = load(args.profile)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("\n".join(table(profile)))
    if args.png:
        chart(profile, args.png)
        print(f"wrote {args.png}")
    if args.core_set:
        layers = profile["layers"]
        if args.layer:
            layers = [l for l in layers if l["node"] == args.layer]
            if not layers:
                print(f"error: no sparse FFN '{args.layer}' in the profile", file=sys.stderr)
                return 1
        for i, layer in enumerate(layers):
            path = args.core_set
            if len(layers) > 1:
                stem = path[:-4] if path.endswith(".npy") else path
                path = f"{stem}.{i}.npy"
            idx = core_set(layer, args.coverage)
            np.save(path, idx)
            print(f"wrote {path}: {len(idx)} of {layer['neurons']} neurons "
                  f"({layer['node']}, {100 * args.coverage:.0f} % of activations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
