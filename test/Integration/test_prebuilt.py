"""Prebuilt compiles (SPARSA_PREBUILT_DIR / SPARSA_PREBUILT_MODE, used by
tools/gpu-prepare.sh and tools/gpu-check.sh on a GPU machine without the
compiler): a recorded library replays without running sparsa-compile and
gives the same numbers as ONNX Runtime; recorded errors replay as errors;
a compile that was not recorded, or was left out of the bundle, says so."""

import os

import numpy as np
import pytest

from conftest import ROOT, _compile_cpu, assert_matches_ort

import sparsa
from sparsa import models
from sparsa._compiler import PrebuiltOmitted


def _mode(monkeypatch, tmp_path, mode):
    monkeypatch.setenv("SPARSA_PREBUILT_DIR", str(tmp_path / "rec"))
    monkeypatch.setenv("SPARSA_PREBUILT_MODE", mode)


def test_record_then_replay_without_the_compiler(tmp_path, monkeypatch):
    # Weights above the outlining threshold: the sidecar travels too.
    path = models.mlp(str(tmp_path / "m.onnx"), [512, 300, 7], batch="N")
    _mode(monkeypatch, tmp_path, "record")
    os.makedirs(tmp_path / "a")
    _compile_cpu(path, str(tmp_path / "a" / "model.so"), report=str(tmp_path / "a" / "r.json"))
    assert (tmp_path / "a" / "model.so.weights").exists()

    # Replay where there is no compiler: a build folder with the runtime only.
    build = tmp_path / "runtime-only"
    (build / "lib").mkdir(parents=True)
    os.symlink(sparsa._paths.runtime_library(), build / "lib" / "libsparsa_runtime.so")
    monkeypatch.setenv("SPARSA_BUILD_DIR", str(build))
    _mode(monkeypatch, tmp_path, "replay")
    os.makedirs(tmp_path / "b")
    so = str(tmp_path / "b" / "model.so")
    _compile_cpu(path, so, report=str(tmp_path / "b" / "r.json"))
    assert (tmp_path / "b" / "r.json").read_text() == (tmp_path / "a" / "r.json").read_text()
    x = np.random.default_rng(3).standard_normal((5, 512)).astype(np.float32)
    assert_matches_ort(sparsa.load(so), path, {"x": x})

    # Other options (or another output name) were not recorded.
    with pytest.raises(sparsa.SparsaError, match="no prebuilt output for .* -O2"):
        _compile_cpu(path, so, opt_level=2)
    with pytest.raises(sparsa.SparsaError, match="no prebuilt output"):
        _compile_cpu(path, str(tmp_path / "b" / "other.so"))


def test_errors_and_omitted_recordings_replay(tmp_path, monkeypatch):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    _mode(monkeypatch, tmp_path, "record")
    with pytest.raises(sparsa.SparsaError) as recorded:
        _compile_cpu(str(bad), str(tmp_path / "bad.so"))
    _mode(monkeypatch, tmp_path, "replay")
    with pytest.raises(sparsa.SparsaError) as replayed:
        _compile_cpu(str(bad), str(tmp_path / "bad.so"))
    assert str(replayed.value) == str(recorded.value)

    # An entry tools/gpu-pack.py left out of the bundle.
    (entry,) = (tmp_path / "rec").iterdir()
    for f in entry.iterdir():
        f.unlink()
    (entry / "omitted.txt").write_text("about 9 MiB compressed")
    with pytest.raises(PrebuiltOmitted, match="omitted: about 9 MiB"):
        _compile_cpu(str(bad), str(tmp_path / "bad.so"))


def test_bad_mode_is_an_error(tmp_path, monkeypatch):
    _mode(monkeypatch, tmp_path, "replya")
    with pytest.raises(sparsa.SparsaError, match="must be 'record' or 'replay'"):
        _compile_cpu(str(ROOT / "zoo" / "models" / "opt.onnx"), str(tmp_path / "m.so"))
