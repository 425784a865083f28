"""`sparsa.compile`: a thin wrapper over the sparsa-compile executable.

Prebuilt outputs (for running the tests and benchmarks on a machine that
has a GPU but no LLVM/MLIR to build the compiler, see tools/gpu-check.sh):
with SPARSA_PREBUILT_DIR=DIR and SPARSA_PREBUILT_MODE=record, every compile
also stores its outputs (or its error) in DIR under a key of the model's
bytes, the compile options and the output's file name; with
SPARSA_PREBUILT_MODE=replay, compile runs no compiler and copies the stored
outputs (or raises the stored error). `--cpu` is left out of the key and recorded as x86-64-v3, so CPU
libraries recorded on one x86-64 machine run on another.
"""

import hashlib
import os
import shutil
import subprocess
from typing import Dict, Iterable, List, Optional, Sequence

from ._paths import tool


class SparsaError(RuntimeError):
    """A compile or run failure; the message is the compiler's or runtime's."""


class PrebuiltOmitted(SparsaError):
    """Replaying prebuilt outputs: this compile was recorded, but its outputs
    were left out of the bundle (too large to carry)."""


def compiler_path() -> str:
    return str(tool("sparsa-compile"))


def compile(model: str, output: str, *, target: str = "cpu", cpu: str = "native",
            gpu_arch: Optional[str] = None,
            input_shapes: Optional[Dict[str, Sequence[int]]] = None,
            emit: str = "so", report: Optional[str] = None,
            disable_fusion: Iterable[str] = (), opt_level: int = 3,
            instrument: Optional[str] = None, int8_activations: bool = False,
            extra_args: Sequence[str] = ()) -> str:
    """Compiles the ONNX file |model| into |output| (a .so by default).

    |int8_activations|: quantized matmuls quantize their activations to
    int8 per block (--int8-activations; ONNX Runtime's accuracy_level 4).
    |extra_args| go to sparsa-compile as they are. Raises SparsaError with
    the compiler's diagnostics on failure; returns |output|.
    """
    options = [f"--target={target}", f"--emit={emit}", f"-O{int(opt_level)}"]
    if gpu_arch:
        options.append(f"--gpu-arch={gpu_arch}")
    for name, shape in (input_shapes or {}).items():
        options.append(f"--input-shape={name}:" + "x".join(str(int(d)) for d in shape))
    if instrument:
        options.append(f"--instrument={instrument}")
    if int8_activations:
        options.append("--int8-activations")
    families = list(disable_fusion)
    if families:
        options.append("--disable-fusion=" + ",".join(families))
    options.extend(str(a) for a in extra_args)

    prebuilt = os.environ.get("SPARSA_PREBUILT_DIR")
    mode = os.environ.get("SPARSA_PREBUILT_MODE", "")
    if prebuilt and mode not in ("record", "replay"):
        raise SparsaError("SPARSA_PREBUILT_MODE must be 'record' or 'replay' "
                          f"when SPARSA_PREBUILT_DIR is set (got '{mode}')")
    # The output's file name is part of the key: a library names its weights
    # sidecar after it.
    entry = (os.path.join(prebuilt, _prebuilt_key(
        model, options + [os.path.basename(str(output))], bool(report))) if prebuilt else None)
    if entry and mode == "replay":
        return _replay(entry, model, output, report, options)
    if entry:
        cpu = "x86-64-v3"
    args = [compiler_path(), str(model), "-o", str(output), f"--cpu={cpu}"] + options
    if report:
        args.append(f"--report={report}")
    proc = subprocess.run(args, capture_output=True, text=True)
    error = None
    if proc.returncode != 0:
        error = proc.stderr.strip() or f"sparsa-compile failed ({proc.returncode})"
    if entry:
        _record(entry, output, report, error)
    if error is not None:
        raise SparsaError(error)
    return str(output)


# The files a compile may write beside its output: the weights sidecar.
_SIDECARS = (".weights",)


def _prebuilt_key(model: str, options: List[str], has_report: bool) -> str:
    h = hashlib.sha256()
    with open(model, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    h.update("\0".join(options + ["--report" if has_report else ""]).encode())
    return h.hexdigest()[:32]


def _record(entry: str, output: str, report: Optional[str], error: Optional[str]):
    shutil.rmtree(entry, ignore_errors=True)
    os.makedirs(entry)
    if error is not None:
        with open(os.path.join(entry, "error.txt"), "w") as f:
            f.write(error)
        return
    shutil.copyfile(output, os.path.join(entry, "output"))
    for suffix in _SIDECARS:
        if os.path.exists(str(output) + suffix):
            shutil.copyfile(str(output) + suffix, os.path.join(entry, "output" + suffix))
    if report:
        shutil.copyfile(report, os.path.join(entry, "report.json"))


def _replay(entry: str, model: str, output: str, report: Optional[str],
            options: List[str]) -> str:
    if not os.path.isdir(entry):
        raise SparsaError(
            f"no prebuilt output for {model} with {' '.join(options)} in "
            f"{os.path.dirname(entry)} (SPARSA_PREBUILT_MODE=replay): record it where "
            "the compiler runs (tools/gpu-prepare.sh)")
    omitted = os.path.join(entry, "omitted.txt")
    if os.path.exists(omitted):
        with open(omitted) as f:
            raise PrebuiltOmitted(f"prebuilt output of {os.path.basename(model)} omitted: "
                                  + f.read())
    error = os.path.join(entry, "error.txt")
    if os.path.exists(error):
        with open(error) as f:
            raise SparsaError(f.read())
    shutil.copyfile(os.path.join(entry, "output"), output)
    for suffix in _SIDECARS:
        if os.path.exists(os.path.join(entry, "output" + suffix)):
            shutil.copyfile(os.path.join(entry, "output" + suffix), str(output) + suffix)
    if report:
        shutil.copyfile(os.path.join(entry, "report.json"), report)
    return str(output)
