#!/usr/bin/env bash
# The main job end to end on the bundled example: set up, build, generate a
# 2-layer MLP (1x4096 -> 4096 -> 4096), compile it, run it, and print its
# outputs and latency next to ONNX Runtime's (same thread count).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh >/dev/null
exec .venv/bin/python -m sparsa.demo "$@"
