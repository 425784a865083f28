//===- CUDARuntime.h - the runtime's CUDA driver layer ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// What Runtime.cpp needs of the GPU: libcuda is opened with dlopen at first
// use, so CPU-only machines load and run CPU models without it. The mgpu*
// functions compiled CUDA models call are defined in CUDARuntime.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_LIB_RUNTIME_CUDARUNTIME_H
#define SPARSA_LIB_RUNTIME_CUDARUNTIME_H

#include <cstddef>
#include <string>

namespace sparsa_cuda {

/// Opens libcuda and makes device 0's primary context current on this
/// thread; false with |why| ("no CUDA driver: ...") when that fails.
bool ensureDevice(std::string &why);

/// The first error an mgpu* call reported on this thread since the last
/// call (CUDA error name and the failing call), then cleared.
std::string takeError();

/// Device memory for the runtime's own copies. Each returns false and sets
/// |error| on failure.
bool alloc(void **ptr, size_t bytes, std::string &error);
bool free(void *ptr, std::string &error);
/// A run's buffers (inputs; the results the model allocated): from the
/// device's memory pool, ordered on the legacy stream.
bool allocTransient(void **ptr, size_t bytes, std::string &error);
bool freeTransient(void *ptr, std::string &error);
bool toDevice(void *dst, const void *src, size_t bytes, std::string &error);
bool toHost(void *dst, const void *src, size_t bytes, std::string &error);
/// A run's input: allocated and copied in order on the stream this thread's
/// model runs will launch on (the one mgpuStreamCreate hands out), so its
/// kernels need no further wait. |src| may be reused when this returns.
bool allocRunInput(void **ptr, size_t bytes, std::string &error);
bool toDeviceForRun(void *dst, const void *src, size_t bytes, std::string &error);
/// Frees an allocRunInput buffer after everything queued on that stream.
bool freeRunInput(void *ptr, std::string &error);

} // namespace sparsa_cuda

#endif // SPARSA_LIB_RUNTIME_CUDARUNTIME_H
