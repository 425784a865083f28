"""ctypes binding of the Sparsa runtime C API (include/sparsa/Runtime)."""

import ctypes
import functools
import math
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ._compiler import SparsaError
from ._paths import runtime_library

MAX_RANK = 8

# ONNX TensorProto.DataType numbers <-> numpy dtypes.
_DTYPES = {
    1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
    7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
    13: np.uint64,
}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_NP_DTYPES = {k: np.dtype(v) for k, v in _DTYPES.items()}


class _Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32),
                ("rank", ctypes.c_int32), ("dims", ctypes.c_int64 * MAX_RANK),
                ("data", ctypes.c_void_p)]


_lib = None
_lib_lock = threading.Lock()


def _library():
    global _lib
    with _lib_lock:
        if _lib is None:
            lib = ctypes.CDLL(str(runtime_library()))
            P = ctypes.c_void_p
            lib.sparsa_last_error.restype = ctypes.c_char_p
            lib.sparsa_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(P)]
            lib.sparsa_model_release.argtypes = [P]
            lib.sparsa_model_num_inputs.argtypes = [P]
            lib.sparsa_model_num_outputs.argtypes = [P]
            lib.sparsa_model_input_info.argtypes = [P, ctypes.c_int32, ctypes.POINTER(_Tensor)]
            lib.sparsa_model_output_info.argtypes = [P, ctypes.c_int32, ctypes.POINTER(_Tensor)]
            lib.sparsa_model_input_dim_param.argtypes = [P, ctypes.c_int32, ctypes.c_int32]
            lib.sparsa_model_input_dim_param.restype = ctypes.c_char_p
            lib.sparsa_model_set_num_threads.argtypes = [P, ctypes.c_int32]
            lib.sparsa_model_run.argtypes = [P, ctypes.POINTER(_Tensor), ctypes.c_int32,
                                             ctypes.POINTER(_Tensor)]
            lib.sparsa_tensor_release.argtypes = [ctypes.POINTER(_Tensor)]
            lib.sparsa_model_is_cuda.argtypes = [P]
            lib.sparsa_model_run_device_inputs.argtypes = lib.sparsa_model_run.argtypes
            lib.sparsa_model_num_profiles.argtypes = [P]
            lib.sparsa_model_write_profile.argtypes = [P, ctypes.c_char_p]
            lib.sparsa_model_reset_profile.argtypes = [P]
            _lib = lib
        return _lib


def _check(status: int):
    if status != 0:
        raise SparsaError(_library().sparsa_last_error().decode(errors="replace"))


def _release_buffer(self):
    # Hands the buffer back to the runtime (the last array over it is gone).
    try:
        t = _Tensor()
        t.data = ctypes.addressof(self)
        _lib.sparsa_tensor_release(ctypes.byref(t))
    except Exception:  # interpreter shutdown
        pass


@functools.lru_cache(maxsize=256)
def _owned_buffer_type(nbytes: int) -> type:
    """A ctypes array type of |nbytes| bytes whose instances, made over an
    output buffer the runtime handed over, release it when collected; numpy
    keeps the instance as the array's base. (A ctypes view and
    np.ndarray(buffer=...) cost ~0.5 us per output against ~3 us for an
    __array_interface__ object and np.asarray.)"""
    return type("_OwnedBuffer", (ctypes.c_char * nbytes,),
                {"__slots__": (), "__del__": _release_buffer})


def _address(arr: np.ndarray) -> int:
    """The address of a C-contiguous array's data (arr.ctypes.data costs
    ~1 us; a ctypes view of a writable, non-empty buffer ~0.3 us)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(arr))
    except (TypeError, ValueError):  # read-only or empty
        return arr.ctypes.data


@dataclass(frozen=True)
class TensorInfo:
    """An input or output: name, numpy dtype, shape (None = dynamic)."""
    name: str
    dtype: np.dtype
    shape: Tuple[Optional[int], ...]
    dim_params: Tuple[str, ...] = ()


def _info(t: _Tensor) -> Tuple[str, np.dtype, Tuple[Optional[int], ...]]:
    shape = tuple(None if t.dims[i] < 0 else int(t.dims[i]) for i in range(t.rank))
    return t.name.decode(), np.dtype(_DTYPES.get(t.dtype, np.uint8)), shape


class Model:
    """A compiled model loaded by the runtime. Safe to run from many threads."""

    def __init__(self, path: str, num_threads: int = 0):
        lib = _library()
        self._lib = lib
        self._names: Dict[str, bytes] = {}
        # Per thread: the last call's input descriptors, reused while the
        # feeds keep their names, shapes and dtypes (decode loops), so a
        # call only writes each input's data address.
        self._local = threading.local()
        handle = ctypes.c_void_p()
        _check(lib.sparsa_model_load(str(path).encode(), ctypes.byref(handle)))
        self._handle = handle
        self.path = str(path)
        self.inputs: List[TensorInfo] = []
        for i in range(lib.sparsa_model_num_inputs(handle)):
            t = _Tensor()
            _check(lib.sparsa_model_input_info(handle, i, ctypes.byref(t)))
            name, dtype, shape = _info(t)
            params = tuple(lib.sparsa_model_input_dim_param(handle, i, d).decode()
                           for d in range(t.rank))
            self.inputs.append(TensorInfo(name, dtype, shape, params))
        self.outputs: List[TensorInfo] = []
        # Outputs of a static, non-empty shape and a numpy dtype: what an
        # array over the runtime's buffer needs, worked out once.
        self._static_outputs = []
        for i in range(lib.sparsa_model_num_outputs(handle)):
            t = _Tensor()
            _check(lib.sparsa_model_output_info(handle, i, ctypes.byref(t)))
            o = TensorInfo(*_info(t))
            self.outputs.append(o)
            static = t.dtype in _DTYPES and None not in o.shape and math.prod(o.shape) > 0
            self._static_outputs.append(
                (o.shape, o.dtype, _owned_buffer_type(math.prod(o.shape) * o.dtype.itemsize))
                if static else None)
        if num_threads:
            self.set_num_threads(num_threads)

    def set_num_threads(self, n: int):
        _check(_library().sparsa_model_set_num_threads(self._handle, int(n)))

    def run(self, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Runs the model on |feeds| (name -> array); returns name -> array.

        Arrays are passed as they are (made C-contiguous): a wrong dtype, rank or
        shape is reported by the runtime as a SparsaError, never converted.
        """
        if not isinstance(feeds, dict):
            raise TypeError("feeds must be a dict of input name -> numpy array")
        # Kept lean: this wrapper is on every call's path (a few microseconds).
        lib = self._lib
        last = getattr(self._local, "feeds", None)
        tensors = None
        converted = ()
        if last is not None and len(last[0]) == len(feeds):
            # The same names, shapes and dtypes as this thread's last call.
            keys, shapes, dtypes, structs, cached = last
            for (name, value), key, shape, dtype, t in zip(feeds.items(), keys, shapes, dtypes,
                                                           structs):
                if (name != key or type(value) is not np.ndarray or value.shape != shape
                        or value.dtype is not dtype or not value.flags.c_contiguous):
                    break
                t.data = _address(value)
            else:
                tensors = cached
        if tensors is None:
            # |converted| keeps the arrays made from the feeds alive across
            # the call (the feeds themselves are the caller's).
            tensors, converted = self._describe(feeds)
        outs = (_Tensor * max(1, len(self.outputs)))()
        _check(lib.sparsa_model_run(self._handle, tensors, len(feeds), outs))
        result = {}
        for t, info, static in zip(outs, self.outputs, self._static_outputs):
            if static is not None and t.data:
                result[info.name] = np.ndarray(static[0], static[1],
                                               buffer=static[2].from_address(t.data))
                continue
            shape = tuple(t.dims[:t.rank])
            dtype = _NP_DTYPES[t.dtype]
            nbytes = math.prod(shape) * dtype.itemsize
            if t.data and nbytes:
                # The runtime's buffer becomes the array's memory (no copy);
                # it is released when the array is garbage collected.
                buf = _owned_buffer_type(nbytes).from_address(t.data)
                arr = np.ndarray(shape, dtype, buffer=buf)
            else:
                arr = np.zeros(shape, dtype=dtype)
                lib.sparsa_tensor_release(ctypes.byref(t))
            result[info.name] = arr
        return result

    def _describe(self, feeds: Dict[str, np.ndarray]):
        """The runtime's descriptors of |feeds| and the arrays they point to;
        kept as this thread's last when the feeds are those arrays."""
        arrays = []
        tensors = (_Tensor * max(1, len(feeds)))()
        for t, (name, value) in zip(tensors, feeds.items()):
            # np.ascontiguousarray would turn a 0-d array into 1-d.
            arr = value if type(value) is np.ndarray and value.flags.c_contiguous \
                else np.asarray(value, order="C")
            code = _CODES.get(arr.dtype)
            if code is None:
                raise SparsaError(f"input '{name}': unsupported dtype {arr.dtype}")
            if arr.ndim > MAX_RANK:
                raise SparsaError(f"input '{name}': rank {arr.ndim} exceeds {MAX_RANK}")
            arrays.append(arr)
            key = name if type(name) is str else str(name)
            encoded = self._names.get(key)
            if encoded is None:
                encoded = self._names.setdefault(key, key.encode())
            t.name = encoded
            t.dtype = code
            t.rank = arr.ndim
            t.dims[:arr.ndim] = arr.shape
            t.data = _address(arr)
        # Only exact matches reuse these: a feed that needed converting (a
        # list, a strided view) is described afresh each call.
        if all(type(v) is np.ndarray and v is a for v, a in zip(feeds.values(), arrays)):
            self._local.feeds = (tuple(feeds), [a.shape for a in arrays],
                                 [a.dtype for a in arrays], list(tensors), tensors)
        else:
            self._local.feeds = None
        return tensors, arrays

    # Sparsity profile (libraries compiled with instrument="sparsity").

    @property
    def target(self) -> str:
        """'cuda' for a library compiled with --target=cuda, else 'cpu'."""
        return "cuda" if _library().sparsa_model_is_cuda(self._handle) else "cpu"

    @property
    def has_profile(self) -> bool:
        """Whether the library counts its sparse FFNs' active neurons."""
        return _library().sparsa_model_num_profiles(self._handle) > 0

    def write_profile(self, path: str) -> str:
        """Writes the active-neuron counts of every run since load (or the
        last reset_profile) to |path| as JSON; `python -m sparsa.profile`
        turns it into a table, a chart and a core-neuron set."""
        _check(_library().sparsa_model_write_profile(self._handle, str(path).encode()))
        return str(path)

    def profile(self) -> dict:
        """The sparsity profile as a dict (see write_profile)."""
        import json
        import os
        import tempfile
        fd, path = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        try:
            self.write_profile(path)
            with open(path) as f:
                return json.load(f)
        finally:
            os.unlink(path)

    def reset_profile(self):
        _check(_library().sparsa_model_reset_profile(self._handle))

    def __call__(self, **feeds) -> Dict[str, np.ndarray]:
        return self.run(feeds)

    def close(self):
        if getattr(self, "_handle", None):
            _library().sparsa_model_release(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return f"sparsa.Model({self.path!r}, inputs={self.inputs}, outputs={self.outputs})"


def load(path: str, num_threads: int = 0) -> Model:
    """Loads a library compiled by sparsa-compile (its weights file next to it)."""
    return Model(path, num_threads)
