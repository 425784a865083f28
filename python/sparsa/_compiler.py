"""`sparsa.compile`: a thin wrapper over the sparsa-compile executable."""

import subprocess
from typing import Dict, Iterable, Optional, Sequence

from ._paths import tool


class SparsaError(RuntimeError):
    """A compile or run failure; the message is the compiler's or runtime's."""


def compiler_path() -> str:
    return str(tool("sparsa-compile"))


def compile(model: str, output: str, *, target: str = "cpu", cpu: str = "native",
            gpu_arch: Optional[str] = None,
            input_shapes: Optional[Dict[str, Sequence[int]]] = None,
            emit: str = "so", report: Optional[str] = None,
            disable_fusion: Iterable[str] = (), opt_level: int = 3,
            instrument: Optional[str] = None, extra_args: Sequence[str] = ()) -> str:
    """Compiles the ONNX file |model| into |output| (a .so by default).

    |extra_args| go to sparsa-compile as they are. Raises SparsaError with
    the compiler's diagnostics on failure; returns |output|.
    """
    args = [compiler_path(), str(model), "-o", str(output), f"--target={target}",
            f"--cpu={cpu}", f"--emit={emit}", f"-O{int(opt_level)}"]
    if gpu_arch:
        args.append(f"--gpu-arch={gpu_arch}")
    for name, shape in (input_shapes or {}).items():
        args.append(f"--input-shape={name}:" + "x".join(str(int(d)) for d in shape))
    if report:
        args.append(f"--report={report}")
    if instrument:
        args.append(f"--instrument={instrument}")
    families = list(disable_fusion)
    if families:
        args.append("--disable-fusion=" + ",".join(families))
    args.extend(str(a) for a in extra_args)
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SparsaError(proc.stderr.strip() or f"sparsa-compile failed ({proc.returncode})")
    return str(output)
