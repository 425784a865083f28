#!/usr/bin/env bash
# Installs what Sparsa needs on a fresh Debian 12 machine (idempotent):
# LLVM/MLIR 22, clang-22, lld, libomp, the ONNX C++ library, protobuf,
# ninja, ccache; then a Python virtual environment (.venv) with numpy, onnx,
# onnxruntime, pytest and the sparsa package (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
      libomp-22-dev libonnx-dev libprotobuf-dev protobuf-compiler ninja-build
      ccache cmake python3-venv libclang-rt-22-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import numpy, onnx, onnxruntime, pytest, matplotlib, sparsa" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r python/requirements-dev.txt
  .venv/bin/pip install -q -e python
fi
