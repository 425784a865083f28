"""Sparsa: an ahead-of-time compiler for sparse-activation neural networks.

    import sparsa
    sparsa.compile("m.onnx", "m.so", target="cpu", input_shapes={"x": [1, 4096]})
    model = sparsa.load("m.so")
    outputs = model.run({"x": array})   # dict name -> numpy array
    outputs = model(x=array)            # the same

The compiler is the `sparsa-compile` executable; the runtime is
`libsparsa_runtime.so`, called through ctypes. Both are found in the build
folder of the checkout this package lives in, or where SPARSA_BUILD_DIR
points.
"""

from ._compiler import SparsaError, compile, compiler_path
from ._runtime import Model, TensorInfo, load

__all__ = ["SparsaError", "compile", "compiler_path", "load", "Model", "TensorInfo"]
__version__ = "0.1.0"
