"""Locates the build folder holding sparsa-compile and the runtime library."""

import os
from pathlib import Path


def build_dir() -> Path:
    env = os.environ.get("SPARSA_BUILD_DIR")
    if env:
        return Path(env)
    # python/sparsa/_paths.py -> <checkout>/build
    return Path(__file__).resolve().parents[2] / "build"


def tool(name: str) -> Path:
    path = build_dir() / "bin" / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} not found at {path}; build Sparsa first (scripts/build.sh) "
            "or set SPARSA_BUILD_DIR")
    return path


def runtime_library() -> Path:
    path = build_dir() / "lib" / "libsparsa_runtime.so"
    if not path.exists():
        raise FileNotFoundError(
            f"libsparsa_runtime.so not found at {path}; build Sparsa first "
            "(scripts/build.sh) or set SPARSA_BUILD_DIR")
    return path
