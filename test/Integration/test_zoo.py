"""Models PyTorch's exporters wrote (zoo/export.py, committed under
zoo/models with the versions used): each compiles, the expected fusion
families fire, and the outputs match ONNX Runtime on the same file for
several sequence lengths (dynamic-axes exports) or the exported one."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from conftest import compile_with_report, ort_run

ZOO = Path(__file__).resolve().parents[2] / "zoo" / "models"

# file -> (expected fused regions per family, input width)
MODELS = {
    "flowformer_noncausal_static.onnx": ({"flow_attention": 1}, 64),
    "flowformer_noncausal_dyn.onnx": ({"flow_attention": 1}, 64),
    "flowformer_noncausal_dynamo.onnx": ({"flow_attention": 1}, 64),
    "flowformer_causal_static.onnx": ({"flow_attention": 1}, 64),
    "flowformer_causal_dyn.onnx": ({"flow_attention": 1}, 64),
    "flowformer_causal_dynamo.onnx": ({"flow_attention": 1}, 64),
}


def input_shapes(path, width):
    """(batch, seq) pairs to run: the exported shape when static, else a few."""
    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    batch = dims[0].dim_value or None
    seq = dims[1].dim_value or None
    if batch and seq:
        return [(batch, seq)]
    return [(batch or b, seq or s) for b, s in [(1, 1), (2, 7), (1, 100)]]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model(tmp_path, name):
    expected, width = MODELS[name]
    path = ZOO / name
    model, report = compile_with_report(tmp_path, path)
    for family, count in expected.items():
        assert report["fusions"][family] == count, (name, report["fusions"], report["unfused"])
    for batch, seq in input_shapes(path, width):
        x = np.random.default_rng(seq).standard_normal((batch, seq, width)).astype(np.float32)
        ref = ort_run(path, {"x": x})["y"]
        out = model.run({"x": x})["y"]
        np.testing.assert_allclose(out, ref, atol=1e-5 * max(1.0, float(np.abs(ref).max())),
                                   rtol=1e-4, err_msg=f"{name} batch {batch} seq {seq}")
