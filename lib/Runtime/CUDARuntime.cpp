//===- CUDARuntime.cpp - mgpu* ABI over the CUDA driver API ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Compiled CUDA models call MLIR's GPU runtime ABI (mgpuModuleLoad,
// mgpuLaunchKernel, mgpuMemAlloc, ...). This file implements it over the
// CUDA driver API, with libcuda.so.1 opened by dlopen at first use: no CUDA
// headers or libraries are needed to build or to run CPU models. A model's
// module is loaded from a global constructor when the library is opened; if
// there is no driver the load is recorded as failed and sparsa_model_load
// reports it. Errors never abort: the first one of a run is kept for the
// runtime to return with the CUDA error name.
//
//===----------------------------------------------------------------------===//

#include "CUDARuntime.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

// The few driver API types and entry points we use (cuda.h, CUDA >= 11.2).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUevent = CUevent_st *;
constexpr int kStreamNonBlocking = 1;
constexpr int kEventDisableTiming = 2;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **, void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuDeviceGetDefaultMemPool)(void **, CUdevice);
  CUresult (*cuMemPoolSetAttribute)(void *, int, void *);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuMemcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuMemHostRegister)(void *, size_t, unsigned);
  CUresult (*cuMemHostUnregister)(void *);
  CUcontext context = nullptr;
  std::string failure; // why the driver is unusable; empty when it works
};

Driver &driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    const char *libs[] = {"libcuda.so.1", "libcuda.so"};
    void *h = nullptr;
    std::string dlerr;
    for (const char *lib : libs) {
      if ((h = dlopen(lib, RTLD_NOW | RTLD_LOCAL)))
        break;
      const char *e = dlerror();
      if (dlerr.empty())
        dlerr = e ? e : lib;
    }
    if (!h) {
      d.failure = "no CUDA driver: cannot load libcuda.so.1 (" + dlerr + ")";
      return;
    }
    bool ok = true;
    auto load = [&](auto &fn, const char *name, bool required = true) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
      if (!fn && required) {
        ok = false;
        d.failure = std::string("no CUDA driver: libcuda lacks ") + name +
                    " (driver older than CUDA 11.2?)";
      }
    };
    load(d.cuInit, "cuInit");
    load(d.cuDeviceGet, "cuDeviceGet");
    load(d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    load(d.cuCtxSetCurrent, "cuCtxSetCurrent");
    load(d.cuGetErrorName, "cuGetErrorName");
    load(d.cuModuleLoadData, "cuModuleLoadData");
    load(d.cuModuleUnload, "cuModuleUnload");
    load(d.cuModuleGetFunction, "cuModuleGetFunction");
    load(d.cuLaunchKernel, "cuLaunchKernel");
    load(d.cuStreamCreate, "cuStreamCreate");
    load(d.cuStreamDestroy, "cuStreamDestroy_v2");
    load(d.cuStreamSynchronize, "cuStreamSynchronize");
    load(d.cuStreamWaitEvent, "cuStreamWaitEvent");
    load(d.cuEventCreate, "cuEventCreate");
    load(d.cuEventDestroy, "cuEventDestroy_v2");
    load(d.cuEventSynchronize, "cuEventSynchronize");
    load(d.cuEventRecord, "cuEventRecord");
    load(d.cuEventElapsedTime, "cuEventElapsedTime");
    load(d.cuMemAlloc, "cuMemAlloc_v2");
    load(d.cuMemAllocManaged, "cuMemAllocManaged");
    load(d.cuMemFree, "cuMemFree_v2");
    load(d.cuMemAllocAsync, "cuMemAllocAsync", false);
    load(d.cuMemFreeAsync, "cuMemFreeAsync", false);
    load(d.cuDeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool", false);
    load(d.cuMemPoolSetAttribute, "cuMemPoolSetAttribute", false);
    load(d.cuMemcpy, "cuMemcpy");
    load(d.cuMemcpyAsync, "cuMemcpyAsync");
    load(d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    load(d.cuMemsetD32Async, "cuMemsetD32Async");
    load(d.cuMemsetD16Async, "cuMemsetD16Async");
    load(d.cuMemHostRegister, "cuMemHostRegister_v2");
    load(d.cuMemHostUnregister, "cuMemHostUnregister");
    if (!ok)
      return;
    CUdevice dev = 0;
    CUresult r = d.cuInit(0);
    if (r == 0)
      r = d.cuDeviceGet(&dev, 0);
    if (r == 0)
      r = d.cuDevicePrimaryCtxRetain(&d.context, dev);
    if (r != 0) {
      const char *name = nullptr;
      d.cuGetErrorName(r, &name);
      d.failure = std::string("no usable CUDA device: ") + (name ? name : "unknown error");
      return;
    }
    // Models allocate their intermediates stream-ordered on every run: keep
    // freed blocks in the pool instead of returning them to the driver at
    // each synchronization (the default release threshold is 0).
    void *pool = nullptr;
    if (d.cuDeviceGetDefaultMemPool && d.cuMemPoolSetAttribute &&
        d.cuDeviceGetDefaultMemPool(&pool, dev) == 0) {
      uint64_t keep = UINT64_MAX;
      d.cuMemPoolSetAttribute(pool, /*CU_MEMPOOL_ATTR_RELEASE_THRESHOLD=*/4, &keep);
    }
  });
  return d;
}

thread_local std::string threadError;

/// Records the first failure of this thread; true when |r| succeeded.
bool check(CUresult r, const char *call) {
  if (r == 0)
    return true;
  if (threadError.empty()) {
    const char *name = nullptr;
    if (driver().cuGetErrorName)
      driver().cuGetErrorName(r, &name);
    threadError = std::string(call) + " failed: " + (name ? name : "CUDA error " + std::to_string(r));
  }
  return false;
}

/// The driver with device 0's context current on this thread, or null
/// (the failure recorded).
Driver *current() {
  Driver &d = driver();
  if (!d.failure.empty()) {
    if (threadError.empty())
      threadError = d.failure;
    return nullptr;
  }
  thread_local bool set = false;
  if (!set)
    set = check(d.cuCtxSetCurrent(d.context), "cuCtxSetCurrent");
  return set ? &d : nullptr;
}

CUdeviceptr dptr(const void *p) { return reinterpret_cast<CUdeviceptr>(p); }

// A model creates a stream per run and destroys it at the end: each thread
// keeps one instead (creating and destroying a stream costs more than a
// small model's kernels). The runtime puts a run's input copies on it too.
thread_local CUstream threadStream = nullptr;
thread_local bool threadStreamInUse = false;

/// This thread's run stream, created at first use; null on failure.
CUstream runStream(Driver *d) {
  if (!threadStream)
    check(d->cuStreamCreate(&threadStream, kStreamNonBlocking), "cuStreamCreate");
  return threadStream;
}

} // namespace

namespace sparsa_cuda {
bool ensureDevice(std::string &why) {
  Driver &d = driver();
  if (!d.failure.empty()) {
    why = d.failure;
    return false;
  }
  if (!current()) {
    why = takeError();
    return false;
  }
  return true;
}

std::string takeError() {
  std::string e;
  e.swap(threadError);
  return e;
}

bool alloc(void **ptr, size_t bytes, std::string &error) {
  CUdeviceptr p = 0;
  Driver *d = current();
  if (!d || !check(d->cuMemAlloc(&p, bytes ? bytes : 1), "cuMemAlloc"))
    return error = takeError(), false;
  *ptr = reinterpret_cast<void *>(p);
  return true;
}
bool free(void *ptr, std::string &error) {
  Driver *d = current();
  if (!d || !check(d->cuMemFree(dptr(ptr)), "cuMemFree"))
    return error = takeError(), false;
  return true;
}
// Per-run buffers come from the device's memory pool on the legacy stream
// (no device-wide synchronization as cuMemAlloc / cuMemFree have); the
// model's own stream-ordered allocations (its results) are freed here too.
bool allocTransient(void **ptr, size_t bytes, std::string &error) {
  Driver *d = current();
  if (d && !d->cuMemAllocAsync)
    return alloc(ptr, bytes, error);
  CUdeviceptr p = 0;
  if (!d || !check(d->cuMemAllocAsync(&p, bytes ? bytes : 1, nullptr), "cuMemAllocAsync"))
    return error = takeError(), false;
  *ptr = reinterpret_cast<void *>(p);
  return true;
}
bool freeTransient(void *ptr, std::string &error) {
  Driver *d = current();
  if (d && !d->cuMemFreeAsync)
    return free(ptr, error);
  if (!d || !check(d->cuMemFreeAsync(dptr(ptr), nullptr), "cuMemFreeAsync"))
    return error = takeError(), false;
  return true;
}
bool toDevice(void *dst, const void *src, size_t bytes, std::string &error) {
  Driver *d = current();
  // From pageable memory cuMemcpy may return before the DMA has landed, and
  // the model's kernels run on a non-blocking stream that does not wait for
  // the legacy stream: wait for it here.
  if (bytes && (!d || !check(d->cuMemcpy(dptr(dst), dptr(src), bytes), "cuMemcpy") ||
                !check(d->cuStreamSynchronize(nullptr), "cuStreamSynchronize")))
    return error = takeError(), false;
  return true;
}
bool allocRunInput(void **ptr, size_t bytes, std::string &error) {
  Driver *d = current();
  CUstream s = d && d->cuMemAllocAsync ? runStream(d) : nullptr;
  if (!s)
    return allocTransient(ptr, bytes, error);
  CUdeviceptr p = 0;
  if (!check(d->cuMemAllocAsync(&p, bytes ? bytes : 1, s), "cuMemAllocAsync"))
    return error = takeError(), false;
  *ptr = reinterpret_cast<void *>(p);
  return true;
}
bool freeRunInput(void *ptr, std::string &error) {
  Driver *d = current();
  CUstream s = d && d->cuMemFreeAsync ? runStream(d) : nullptr;
  if (!s)
    return freeTransient(ptr, error);
  if (!check(d->cuMemFreeAsync(dptr(ptr), s), "cuMemFreeAsync"))
    return error = takeError(), false;
  return true;
}
bool toDeviceForRun(void *dst, const void *src, size_t bytes, std::string &error) {
  // From pageable memory the driver stages the data before this returns;
  // the copy itself is ordered before the run's kernels on the same stream,
  // so no wait is needed here (toDevice waits for the legacy stream).
  Driver *d = current();
  CUstream s = d && d->cuMemcpyHtoDAsync ? runStream(d) : nullptr;
  if (!s)
    return toDevice(dst, src, bytes, error);
  if (bytes && !check(d->cuMemcpyHtoDAsync(dptr(dst), src, bytes, s), "cuMemcpyHtoDAsync"))
    return error = takeError(), false;
  return true;
}
bool toHost(void *dst, const void *src, size_t bytes, std::string &error) {
  // Device to pageable host memory: cuMemcpy returns when the data is there.
  Driver *d = current();
  if (bytes && (!d || !check(d->cuMemcpy(dptr(dst), dptr(src), bytes), "cuMemcpy")))
    return error = takeError(), false;
  return true;
}
} // namespace sparsa_cuda

//===----------------------------------------------------------------------===//
// MLIR's GPU runtime ABI (what gpu-to-llvm and the gpu.binary translation
// emit calls to).
//===----------------------------------------------------------------------===//

#define MGPU_API extern "C" __attribute__((visibility("default")))

MGPU_API CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  CUmodule module = nullptr;
  if (Driver *d = current())
    check(d->cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

MGPU_API CUmodule mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  return mgpuModuleLoad(data, 0);
}

// Kernel handles by module and name: a model looks its kernels up before
// every launch. Entries of a module go when it is unloaded.
static std::mutex functionsLock;
static std::map<std::pair<CUmodule, std::string>, CUfunction> functions;

// SPARSA_CUDA_TRACE=1: every launch is bracketed by timing events; at each
// stream synchronization the kernels' device times are added to a table by
// kernel name and grid, printed to stderr when a module is unloaded and at
// exit (the GPU benchmark's per-kernel breakdown; costs two event records
// per launch).
namespace {
struct TraceEntry {
  std::string kernel;
  CUevent start, stop;
};
struct TraceTotals {
  uint64_t launches = 0;
  double ms = 0;
};
bool tracing() {
  static const bool on = [] {
    const char *v = std::getenv("SPARSA_CUDA_TRACE");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}
std::mutex traceLock;
std::map<std::string, TraceTotals> &traceTotals() {
  static auto *totals = new std::map<std::string, TraceTotals>();
  return *totals;
}
thread_local std::vector<TraceEntry> pendingTrace;
/// Prints and clears the totals (at a module's unload and at exit).
void printTrace() {
  std::lock_guard<std::mutex> lock(traceLock);
  if (traceTotals().empty())
    return;
  std::fprintf(stderr, "sparsa cuda trace: kernel [grid x block], launches, total ms, mean us\n");
  for (auto &[name, t] : traceTotals())
    std::fprintf(stderr, "sparsa cuda trace: %s, %llu, %.3f, %.2f\n", name.c_str(),
                 static_cast<unsigned long long>(t.launches), t.ms,
                 t.launches ? 1e3 * t.ms / t.launches : 0.0);
  traceTotals().clear();
}
/// Adds the finished launches of this thread to the totals.
void collectTrace(Driver *d) {
  if (pendingTrace.empty())
    return;
  std::lock_guard<std::mutex> lock(traceLock);
  static bool registered = (std::atexit(printTrace), true);
  (void)registered;
  for (TraceEntry &e : pendingTrace) {
    float ms = 0;
    if (d->cuEventSynchronize(e.stop) == 0 && d->cuEventElapsedTime(&ms, e.start, e.stop) == 0) {
      TraceTotals &t = traceTotals()[e.kernel];
      ++t.launches;
      t.ms += ms;
    }
    d->cuEventDestroy(e.start);
    d->cuEventDestroy(e.stop);
  }
  pendingTrace.clear();
}
} // namespace

MGPU_API void mgpuModuleUnload(CUmodule module) {
  if (!module)
    return;
  if (tracing())
    printTrace();
  {
    std::lock_guard<std::mutex> lock(functionsLock);
    for (auto it = functions.begin(); it != functions.end();)
      it = it->first.first == module ? functions.erase(it) : std::next(it);
  }
  if (Driver *d = current())
    check(d->cuModuleUnload(module), "cuModuleUnload");
}

MGPU_API CUfunction mgpuModuleGetFunction(CUmodule module, const char *name) {
  CUfunction fn = nullptr;
  if (!module) {
    if (threadError.empty())
      threadError = "the model's GPU code is not loaded (" + std::string(name) + ")";
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(functionsLock);
  auto [it, inserted] = functions.try_emplace({module, name}, nullptr);
  if (!inserted)
    return it->second;
  if (Driver *d = current())
    check(d->cuModuleGetFunction(&fn, module, name), "cuModuleGetFunction");
  if (!fn)
    functions.erase(it);
  else
    it->second = fn;
  return fn;
}

/// The name a kernel handle was looked up by (for the trace).
static std::string kernelName(CUfunction fn) {
  std::lock_guard<std::mutex> lock(functionsLock);
  for (auto &[key, f] : functions)
    if (f == fn)
      return key.second;
  return "?";
}

MGPU_API void mgpuLaunchKernel(CUfunction fn, intptr_t gx, intptr_t gy, intptr_t gz,
                               intptr_t bx, intptr_t by, intptr_t bz, int32_t smem,
                               CUstream stream, void **params, void **extra,
                               size_t /*paramsCount*/) {
  if (!fn)
    return; // the missing module or function is already recorded
  if (gx <= 0 || gy <= 0 || gz <= 0 || gx > INT32_MAX || gy > 65535 || gz > 65535) {
    if (threadError.empty())
      threadError = "kernel launch with a grid of " + std::to_string(gx) + " x " +
                    std::to_string(gy) + " x " + std::to_string(gz) + " blocks";
    return;
  }
  Driver *d = current();
  if (!d)
    return;
  TraceEntry entry;
  bool trace = tracing() && d->cuEventCreate(&entry.start, 0) == 0;
  if (trace && d->cuEventCreate(&entry.stop, 0) != 0) {
    d->cuEventDestroy(entry.start);
    trace = false;
  }
  if (trace)
    d->cuEventRecord(entry.start, stream);
  check(d->cuLaunchKernel(fn, gx, gy, gz, bx, by, bz, smem, stream, params, extra),
        "cuLaunchKernel");
  if (trace) {
    d->cuEventRecord(entry.stop, stream);
    entry.kernel = kernelName(fn) + " [" + std::to_string(gx) + " x " + std::to_string(bx) + "]";
    pendingTrace.push_back(std::move(entry));
  }
}

// A model creates a stream per run and destroys it at the end: each thread
// keeps one instead (threadStream, above). A second stream asked for while
// it is in use is a real one.

MGPU_API CUstream mgpuStreamCreate() {
  if (threadStream && !threadStreamInUse) {
    threadStreamInUse = true;
    return threadStream;
  }
  CUstream s = nullptr;
  if (Driver *d = current())
    check(d->cuStreamCreate(&s, kStreamNonBlocking), "cuStreamCreate");
  if (s && !threadStream) {
    threadStream = s;
    threadStreamInUse = true;
  }
  return s;
}
MGPU_API void mgpuStreamDestroy(CUstream s) {
  if (s && s == threadStream) {
    threadStreamInUse = false;
    return;
  }
  if (Driver *d = current())
    check(d->cuStreamDestroy(s), "cuStreamDestroy");
}
MGPU_API void mgpuStreamSynchronize(CUstream s) {
  if (Driver *d = current()) {
    check(d->cuStreamSynchronize(s), "cuStreamSynchronize (a kernel failed)");
    if (tracing())
      collectTrace(d);
  }
}
MGPU_API void mgpuStreamWaitEvent(CUstream s, CUevent e) {
  if (Driver *d = current())
    check(d->cuStreamWaitEvent(s, e, 0), "cuStreamWaitEvent");
}
MGPU_API CUevent mgpuEventCreate() {
  CUevent e = nullptr;
  if (Driver *d = current())
    check(d->cuEventCreate(&e, kEventDisableTiming), "cuEventCreate");
  return e;
}
MGPU_API void mgpuEventDestroy(CUevent e) {
  if (Driver *d = current())
    check(d->cuEventDestroy(e), "cuEventDestroy");
}
MGPU_API void mgpuEventSynchronize(CUevent e) {
  if (Driver *d = current())
    check(d->cuEventSynchronize(e), "cuEventSynchronize");
}
MGPU_API void mgpuEventRecord(CUevent e, CUstream s) {
  if (Driver *d = current())
    check(d->cuEventRecord(e, s), "cuEventRecord");
}

MGPU_API void *mgpuMemAlloc(uint64_t bytes, CUstream stream, bool hostShared) {
  CUdeviceptr p = 0;
  Driver *d = current();
  if (!d || bytes == 0)
    return nullptr;
  if (hostShared)
    check(d->cuMemAllocManaged(&p, bytes, /*CU_MEM_ATTACH_GLOBAL=*/1), "cuMemAllocManaged");
  else if (d->cuMemAllocAsync && stream)
    check(d->cuMemAllocAsync(&p, bytes, stream), "cuMemAllocAsync");
  else
    check(d->cuMemAlloc(&p, bytes), "cuMemAlloc");
  return reinterpret_cast<void *>(p);
}

MGPU_API void mgpuMemFree(void *ptr, CUstream stream) {
  Driver *d = current();
  if (!d || !ptr)
    return;
  if (d->cuMemFreeAsync && stream)
    check(d->cuMemFreeAsync(dptr(ptr), stream), "cuMemFreeAsync");
  else
    check(d->cuMemFree(dptr(ptr)), "cuMemFree");
}

MGPU_API void mgpuMemcpy(void *dst, void *src, size_t bytes, CUstream stream) {
  if (Driver *d = current())
    check(d->cuMemcpyAsync(dptr(dst), dptr(src), bytes, stream), "cuMemcpyAsync");
}

MGPU_API void mgpuMemset32(void *dst, unsigned value, size_t count, CUstream stream) {
  if (Driver *d = current())
    check(d->cuMemsetD32Async(dptr(dst), value, count, stream), "cuMemsetD32Async");
}

MGPU_API void mgpuMemset16(void *dst, unsigned short value, size_t count, CUstream stream) {
  if (Driver *d = current())
    check(d->cuMemsetD16Async(dptr(dst), value, count, stream), "cuMemsetD16Async");
}

MGPU_API void mgpuMemHostRegister(void *ptr, uint64_t bytes) {
  if (Driver *d = current())
    check(d->cuMemHostRegister(ptr, bytes, 0), "cuMemHostRegister");
}

MGPU_API void mgpuMemHostUnregister(void *ptr) {
  if (Driver *d = current())
    check(d->cuMemHostUnregister(ptr), "cuMemHostUnregister");
}

MGPU_API void mgpuSetDefaultDevice(int32_t device) {
  if (device != 0 && threadError.empty())
    threadError = "only device 0 is supported";
}
