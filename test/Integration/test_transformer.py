"""A transformer encoder block exported the way torch.onnx writes it,
compiled once with symbolic batch and sequence and run at several sizes
against ONNX Runtime."""

import numpy as np
import pytest

from conftest import assert_matches_ort
from sparsa import models


@pytest.mark.parametrize("gelu", ["erf", "tanh"])
def test_transformer_block_two_sequence_lengths(tmp_path, compile_model, gelu):
    path = models.transformer_block(str(tmp_path / "block.onnx"), hidden=64, heads=4,
                                    inner=256, gelu=gelu)
    model = compile_model(path)
    assert model.inputs[0].shape == (None, None, 64)
    rng = np.random.default_rng(3)
    for batch, seq in [(1, 5), (2, 17), (3, 1)]:
        x = rng.standard_normal((batch, seq, 64)).astype(np.float32)
        assert_matches_ort(model, path, {"x": x})


def test_transformer_block_external_data(tmp_path, compile_model):
    path = models.transformer_block(str(tmp_path / "ext.onnx"), external_data=True)
    assert (tmp_path / "ext.onnx.data").stat().st_size > 64 * 64 * 4
    model = compile_model(path)
    x = np.random.default_rng(4).standard_normal((2, 9, 64)).astype(np.float32)
    assert_matches_ort(model, path, {"x": x})
