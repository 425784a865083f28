"""Writes the seed corpora of the fuzz targets (scripts/fuzz.sh calls it):
protobuf models of every fused family at small sizes and the ONNX text
test inputs, serialized or as text."""

import pathlib
import sys

import onnx
import onnx.parser

from sparsa import models


def main(out: str, root: str):
    out_dir, src = pathlib.Path(out), pathlib.Path(root)
    proto, text = out_dir / "sparsa-fuzz-onnx-proto", out_dir / "sparsa-fuzz-onnx-text"
    proto.mkdir(parents=True, exist_ok=True)
    text.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    makers = {
        "mlp": lambda p: models.mlp(p, [8, 16, 4], batch="N"),
        "moe": lambda p: models.moe(p, "A", hidden=8, inner=16, experts=4, k=2),
        "sparse_ffn": lambda p: models.sparse_ffn(p, hidden=8, inner=32),
        "flow": lambda p: models.flowformer(p, seq=4, heads=1, head_dim=4, causal=True),
        "attention": lambda p: models.attention(p, seq=4, heads=1, head_dim=4),
        "nbits": lambda p: models.matmul_nbits(p, K=32, N=8, bits=4, block=16),
    }
    for name, make in makers.items():
        path = make(str(tmp / f"{name}.onnx"))
        (proto / f"{name}.onnx").write_bytes(pathlib.Path(path).read_bytes())
    for t in sorted(src.glob("test/**/*.onnxtxt")) + sorted(src.glob("fuzz/*.onnxtxt")):
        (text / t.name).write_text(t.read_text())
        try:
            model = onnx.parser.parse_model(t.read_text())
            (proto / (t.stem + ".onnx")).write_bytes(model.SerializeToString())
        except Exception:  # noqa: BLE001 - an input meant to be invalid
            pass


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
