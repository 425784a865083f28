"""The benchmark's report rendering (no timing): an earlier run's JSON is
re-rendered with each case's bytes bound from the suite's definitions."""

import json

from conftest import ROOT  # noqa: F401  (puts the package on the path)
from sparsa import bench


def test_render_adds_bytes_bound(tmp_path):
    result = dict(case="moe_decode_B", description="old", threads=2, sparsa_ms=10.0,
                  ort_ms=40.0, ratio=4.0, sparsa_gbs=25.0, ort_gbs=6.0, sparsa_gflops=13.0,
                  ort_gflops=3.0, pct_read_bw=70.0, max_abs_err=1e-6, compile_seconds=4.0,
                  extra={})
    machine = {"cpu": "test", "cores": 2, "suite": "full", "iters": 20,
               "bandwidth": {"2": {"read_gbs": 36.0, "triad_gbs": 30.0}}}
    src = tmp_path / "bench.json"
    src.write_text(json.dumps({"machine": machine, "results": [result]}))
    md = tmp_path / "performance.md"
    assert bench.main(["--render", str(src), "--out", str(tmp_path / "out"),
                       "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "| bytes bound |" in text
    # 8 experts top-2: a dense execution reads 4x the routed bytes.
    assert "| moe_decode_B | 2 | 10.000 | 40.000 | 4.00 | 4.00 |" in text
    assert "form B" in text  # the description comes from the suite now
