//===- Runtime.cpp - Sparsa runtime: load, validate, run -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Implements the C API of sparsa_runtime.h: dlopen the compiled model, mmap
// its weights, check inputs against the model description, build MLIR
// memref descriptors, call the packed entry point and take the results.
// No MLIR/LLVM headers: the descriptor layout is MLIR's documented C ABI
// {allocated, aligned, offset, sizes[rank], strides[rank]}.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Runtime/sparsa_runtime.h"
#include "CUDARuntime.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <map>
#include <mutex>
#include <memory>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

thread_local std::string lastError;

sparsa_status_t fail(sparsa_status_t code, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  lastError = buf;
  return code;
}

/// One argument or result of the compiled entry function.
struct TensorDesc {
  std::string name;
  int32_t dtype = 0;
  std::vector<int64_t> dims;          // -1 = dynamic
  std::vector<std::string> dimParams; // symbolic names of dynamic dims
  uint64_t offset = 0;                // weights only
};

int32_t dtypeFromName(const std::string &s) {
  static const std::map<std::string, int32_t> names = {
      {"f32", SPARSA_DTYPE_F32},   {"u8", SPARSA_DTYPE_U8},
      {"i8", SPARSA_DTYPE_I8},     {"u16", SPARSA_DTYPE_U16},
      {"i16", SPARSA_DTYPE_I16},   {"i32", SPARSA_DTYPE_I32},
      {"i64", SPARSA_DTYPE_I64},   {"bool", SPARSA_DTYPE_BOOL},
      {"f16", SPARSA_DTYPE_F16},   {"f64", SPARSA_DTYPE_F64},
      {"u32", SPARSA_DTYPE_U32},   {"u64", SPARSA_DTYPE_U64},
      {"bf16", SPARSA_DTYPE_BF16}};
  auto it = names.find(s);
  return it == names.end() ? 0 : it->second;
}

const char *dtypeToName(int32_t dt) {
  switch (dt) {
  case SPARSA_DTYPE_F32: return "float32";
  case SPARSA_DTYPE_U8: return "uint8";
  case SPARSA_DTYPE_I8: return "int8";
  case SPARSA_DTYPE_U16: return "uint16";
  case SPARSA_DTYPE_I16: return "int16";
  case SPARSA_DTYPE_I32: return "int32";
  case SPARSA_DTYPE_I64: return "int64";
  case SPARSA_DTYPE_BOOL: return "bool";
  case SPARSA_DTYPE_F16: return "float16";
  case SPARSA_DTYPE_F64: return "float64";
  case SPARSA_DTYPE_U32: return "uint32";
  case SPARSA_DTYPE_U64: return "uint64";
  case SPARSA_DTYPE_BF16: return "bfloat16";
  default: return "unknown";
  }
}

std::string decodeName(const std::string &s) {
  if (s == "%")
    return "";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Counter layout (lib/Transforms/InstrumentSparsity.cpp): [0] tokens, [1]
// active neurons summed over tokens, [2, 102) histogram of each token's
// active fraction in 1 % bins, [102, 102 + F) each neuron's firing count.
constexpr int64_t kBins = 100, kHistogramSlot = 2, kNeuronSlot = kHistogramSlot + kBins;

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    }
    else
      out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string shapeString(const int64_t *dims, size_t rank) {
  std::string s = "[";
  for (size_t i = 0; i < rank; ++i) {
    if (i)
      s += ", ";
    s += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return s + "]";
}

/// libomp's entry points, looked up through the model library (null in one
/// linked without OpenMP).
struct OpenMP {
  void (*setNumThreads)(int) = nullptr;
  int (*getMaxThreads)() = nullptr;
  int (*getBlocktime)() = nullptr;
  void (*setBlocktime)(int) = nullptr;
  void (*forkCall)(void *, int32_t, void (*)(int32_t *, int32_t *), ...) = nullptr;
};

/// How long (ms) the model's worker threads may spin-wait between the
/// parallel regions of one run before they sleep. Waking a sleeping
/// thread costs tens of microseconds on a virtual machine (44-185 us
/// measured on the 2-vCPU host), once per region with KMP_BLOCKTIME=0;
/// a spinning thread costs nothing while the run lasts.
constexpr int kSpinMsWithinRun = 1;

/// libomp's source location record for __kmpc_fork_call (ident_t).
struct KmpIdent {
  int32_t reserved1 = 0, flags = 2 /* KMP_IDENT_KMPC */, reserved2 = 0, reserved3 = 0;
  const char *psource = ";sparsa_runtime;rest;0;0;;";
};

void emptyRegion(int32_t *, int32_t *) {}

/// Runs |entry| with the team's threads spinning between its parallel
/// regions when the caller's blocktime is shorter (KMP_BLOCKTIME=0, as
/// when another library shares the cores), then restores the blocktime
/// and forks one empty region so that the threads wait for the next run
/// with the caller's blocktime again: they sleep between runs as asked,
/// but a run of several regions pays for waking them only once.
void runSpinningWithin(const OpenMP &omp, void (*entry)(void **), void **args) {
  if (!omp.getBlocktime || !omp.setBlocktime || !omp.forkCall) {
    entry(args);
    return;
  }
  int blocktime = omp.getBlocktime();
  if (blocktime >= kSpinMsWithinRun) {
    entry(args);
    return;
  }
  omp.setBlocktime(kSpinMsWithinRun);
  entry(args);
  omp.setBlocktime(blocktime);
  static KmpIdent ident;
  omp.forkCall(&ident, 0, emptyRegion);
}

/// Short runs: whether one thread beats the requested count. Waking a
/// sleeping worker (KMP_BLOCKTIME=0, or a first run after a pause) costs
/// 30-80 us on the 2-vCPU host, more than a run of a few tens of
/// microseconds gains from a second thread (a 128 x 512 FFN decode: 13 us
/// on one thread, 62 us on two). Per input shapes, after one warm-up run,
/// kThreadTrials runs with each count alternate; one thread is kept when
/// its best run is kThreadGain faster, else the requested count. A run
/// longer than kLongRunSeconds with every thread ends the trials at once
/// (a wake-up is then noise, and a one-thread trial would cost a long
/// run). Results do not depend on the choice: the generated code splits
/// work into tasks independent of the thread count (bit-identical at 1, 2,
/// 3 and 5 threads, test_runtime.py). SPARSA_ADAPTIVE_THREADS=0 turns it
/// off; =trace prints each decision to stderr. SPARSA_ADAPTIVE_LONG_RUN_MS
/// overrides kLongRunSeconds.
struct ThreadChoice {
  int runs = 0;      // runs seen, the warm-up included
  int decided = 0;   // 0: trying; 1: one thread; 2: the requested count
  double one = 1e30, many = 1e30; // best seconds of each
};
constexpr int kThreadTrials = 3;
constexpr double kThreadGain = 0.9, kLongRunSeconds = 2e-3;
/// Distinct input shapes tracked per model (more keep the requested count).
constexpr size_t kMaxThreadChoices = 64;

} // namespace

struct sparsa_model_t {
  void *handle = nullptr;
  void (*entry)(void **) = nullptr;
  OpenMP omp;
  void *weights = nullptr;
  size_t weightsSize = 0;
  int32_t numThreads = 0;
  /// The adaptive thread count (ThreadChoice), per input shapes.
  bool adaptiveThreads = true, traceThreads = false;
  double longRunSeconds = kLongRunSeconds;
  std::mutex choicesMutex;
  std::map<std::vector<int64_t>, ThreadChoice> threadChoices;
  std::vector<TensorDesc> inputs, weightArgs, outputs;
  /// Argument order of the entry function: true = input, false = weight.
  std::vector<bool> argIsInput;
  /// Sparsity profile counters (--instrument=sparsity), one per sparse FFN.
  struct Profile {
    std::string node, symbol;
    int64_t neurons = 0;
    int64_t *counters = nullptr; // kProfile* layout, in the library
  };
  std::vector<Profile> profiles;
  /// Run-time checks: the (thread-local) status word and the message of
  /// each check id.
  std::string statusSymbol;
  std::map<int64_t, std::string> checkMessages;
  /// Compiled for CUDA: inputs, weights and outputs live in device memory;
  /// the weights are uploaded once, at load.
  bool cuda = false;
  void *deviceWeights = nullptr;

  ~sparsa_model_t() {
    std::string ignored;
    if (deviceWeights)
      sparsa_cuda::free(deviceWeights, ignored);
    if (weights && weights != MAP_FAILED)
      munmap(weights, weightsSize);
    if (handle)
      dlclose(handle);
  }
};

/// Parses the `sparsa_model_info` text the compiler embedded.
static sparsa_status_t parseInfo(sparsa_model_t &m, const char *info,
                                 std::string &weightsFile, uint64_t &id,
                                 uint64_t &weightsBytes) {
  std::istringstream in(info);
  std::string line;
  if (!std::getline(in, line) || line != "sparsa-model 1")
    return fail(SPARSA_FORMAT_ERROR, "unsupported model description version");
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind;
    ls >> kind;
    if (kind == "id") {
      std::string hex;
      ls >> hex;
      id = std::strtoull(hex.c_str(), nullptr, 16);
      continue;
    }
    if (kind == "weights") {
      std::string f;
      ls >> f >> weightsBytes;
      weightsFile = decodeName(f);
      continue;
    }
    if (kind == "target") {
      std::string t;
      ls >> t;
      if (t != "cuda" && t != "cpu")
        return fail(SPARSA_FORMAT_ERROR, "unknown model target '%s'", t.c_str());
      m.cuda = t == "cuda";
      continue;
    }
    if (kind == "status") {
      ls >> m.statusSymbol;
      continue;
    }
    if (kind == "check") {
      int64_t id = 0;
      std::string msg;
      ls >> id >> msg;
      m.checkMessages[id] = decodeName(msg);
      continue;
    }
    if (kind == "profile") {
      sparsa_model_t::Profile p;
      std::string node;
      ls >> p.symbol >> p.neurons >> node;
      if (!ls || p.neurons <= 0)
        return fail(SPARSA_FORMAT_ERROR, "malformed model description line '%s'",
                    line.c_str());
      p.node = decodeName(node);
      m.profiles.push_back(p);
      continue;
    }
    TensorDesc d;
    std::string name, dtype;
    if (kind != "weight") {
      ls >> name;
      d.name = decodeName(name);
    }
    size_t rank = 0;
    ls >> dtype >> rank;
    d.dtype = dtypeFromName(dtype);
    if (!ls || d.dtype == 0 || rank > SPARSA_MAX_RANK)
      return fail(SPARSA_FORMAT_ERROR, "malformed model description line '%s'",
                  line.c_str());
    for (size_t i = 0; i < rank; ++i) {
      std::string dim;
      ls >> dim;
      if (!dim.empty() && dim[0] == '?') {
        d.dims.push_back(-1);
        d.dimParams.push_back(decodeName(dim.substr(1)));
      } else {
        d.dims.push_back(std::strtoll(dim.c_str(), nullptr, 10));
        d.dimParams.push_back("");
      }
    }
    if (kind == "input") {
      m.inputs.push_back(d);
      m.argIsInput.push_back(true);
    } else if (kind == "weight") {
      ls >> d.offset;
      m.weightArgs.push_back(d);
      m.argIsInput.push_back(false);
    } else if (kind == "output") {
      m.outputs.push_back(d);
    } else {
      return fail(SPARSA_FORMAT_ERROR, "malformed model description line '%s'",
                  line.c_str());
    }
  }
  return SPARSA_OK;
}

extern "C" {

const char *sparsa_last_error(void) { return lastError.c_str(); }

size_t sparsa_dtype_size(int32_t dtype) {
  switch (dtype) {
  case SPARSA_DTYPE_U8: case SPARSA_DTYPE_I8: case SPARSA_DTYPE_BOOL: return 1;
  case SPARSA_DTYPE_U16: case SPARSA_DTYPE_I16: case SPARSA_DTYPE_F16:
  case SPARSA_DTYPE_BF16: return 2;
  case SPARSA_DTYPE_I32: case SPARSA_DTYPE_F32: case SPARSA_DTYPE_U32: return 4;
  case SPARSA_DTYPE_I64: case SPARSA_DTYPE_F64: case SPARSA_DTYPE_U64: return 8;
  default: return 0;
  }
}

/// Compiled models malloc their intermediate tensors on every run. glibc
/// serves large blocks with fresh mmaps, or trims freed heap memory back to
/// the kernel, so each run would page-fault (and zero) those megabytes
/// again. Keeping them in the heap makes repeated runs reuse warm pages, as
/// the arenas of other inference runtimes do. Set SPARSA_MALLOC_TUNING=0 to
/// leave the process's malloc settings alone.
static void tuneMallocOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char *env = std::getenv("SPARSA_MALLOC_TUNING");
    if (env && std::strcmp(env, "0") == 0)
      return;
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
}

sparsa_status_t sparsa_model_load(const char *path, sparsa_model_t **out_model) {
  tuneMallocOnce();
  if (!path || !out_model)
    return fail(SPARSA_INVALID_ARGUMENT, "null argument to sparsa_model_load");
  *out_model = nullptr;
  auto m = std::make_unique<sparsa_model_t>();
  // A relative path without '/' would make dlopen search the library path.
  std::string soPath = path;
  if (soPath.find('/') == std::string::npos)
    soPath = "./" + soPath;
  // A CUDA model loads its GPU code from a constructor at dlopen; an error
  // it records is this thread's.
  (void)sparsa_cuda::takeError();
  // CUDA models call the mgpu* functions of this library: make its symbols
  // global even when it was opened RTLD_LOCAL (Python's ctypes does).
  static std::once_flag promoted;
  std::call_once(promoted, [] {
    Dl_info self;
    if (dladdr(reinterpret_cast<void *>(&sparsa_model_load), &self) && self.dli_fname)
      dlopen(self.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  });
  m->handle = dlopen(soPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->handle)
    return fail(SPARSA_IO_ERROR, "cannot load '%s': %s", path, dlerror());
  auto *info = static_cast<const char *>(dlsym(m->handle, "sparsa_model_info"));
  m->entry = reinterpret_cast<void (*)(void **)>(dlsym(m->handle, "sparsa_entry"));
  if (!info || !m->entry)
    return fail(SPARSA_FORMAT_ERROR, "'%s' is not a Sparsa model library", path);
  m->omp.setNumThreads =
      reinterpret_cast<void (*)(int)>(dlsym(m->handle, "omp_set_num_threads"));
  m->omp.getMaxThreads = reinterpret_cast<int (*)()>(dlsym(m->handle, "omp_get_max_threads"));
  if (const char *env = std::getenv("SPARSA_ADAPTIVE_THREADS")) {
    m->adaptiveThreads = std::strcmp(env, "0") != 0;
    m->traceThreads = std::strcmp(env, "trace") == 0;
  }
  if (const char *env = std::getenv("SPARSA_ADAPTIVE_LONG_RUN_MS"))
    m->longRunSeconds = std::strtod(env, nullptr) * 1e-3;
  m->omp.getBlocktime = reinterpret_cast<int (*)()>(dlsym(m->handle, "kmp_get_blocktime"));
  m->omp.setBlocktime = reinterpret_cast<void (*)(int)>(dlsym(m->handle, "kmp_set_blocktime"));
  m->omp.forkCall = reinterpret_cast<decltype(m->omp.forkCall)>(
      dlsym(m->handle, "__kmpc_fork_call"));
  std::string weightsFile;
  uint64_t id = 0, weightsBytes = 0;
  if (sparsa_status_t s = parseInfo(*m, info, weightsFile, id, weightsBytes))
    return s;
  for (sparsa_model_t::Profile &p : m->profiles) {
    p.counters = static_cast<int64_t *>(dlsym(m->handle, p.symbol.c_str()));
    if (!p.counters)
      return fail(SPARSA_FORMAT_ERROR, "'%s' lacks its profile counters '%s'", path,
                  p.symbol.c_str());
  }
  if (!m->weightArgs.empty()) {
    std::string dir = soPath.substr(0, soPath.rfind('/') + 1);
    std::string wpath = dir + weightsFile;
    int fd = open(wpath.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return fail(SPARSA_IO_ERROR, "cannot open weights file '%s': %s",
                  wpath.c_str(), strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) != weightsBytes) {
      close(fd);
      return fail(SPARSA_FORMAT_ERROR,
                  "weights file '%s' has %lld bytes, the model expects %llu",
                  wpath.c_str(), (long long)st.st_size,
                  (unsigned long long)weightsBytes);
    }
    m->weightsSize = weightsBytes;
    m->weights = mmap(nullptr, weightsBytes, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m->weights == MAP_FAILED)
      return fail(SPARSA_IO_ERROR, "cannot map weights file '%s'", wpath.c_str());
    uint64_t fileId;
    std::memcpy(&fileId, static_cast<char *>(m->weights) + 8, 8);
    if (std::memcmp(m->weights, "SPARSAW1", 8) != 0 || fileId != id)
      return fail(SPARSA_FORMAT_ERROR,
                  "weights file '%s' does not belong to '%s' (recompile both)",
                  wpath.c_str(), path);
    for (const TensorDesc &w : m->weightArgs) {
      uint64_t bytes = sparsa_dtype_size(w.dtype);
      for (int64_t d : w.dims)
        bytes *= d;
      if (w.offset % 64 != 0 || w.offset > weightsBytes ||
          bytes > weightsBytes - w.offset)
        return fail(SPARSA_FORMAT_ERROR, "weights file '%s' is inconsistent",
                    wpath.c_str());
    }
  }
  if (m->cuda) {
    std::string why;
    if (!sparsa_cuda::ensureDevice(why))
      return fail(SPARSA_RUNTIME_ERROR, "cannot run '%s' (compiled with --target=cuda): %s",
                  path, why.c_str());
    std::string loadError = sparsa_cuda::takeError();
    if (!loadError.empty())
      return fail(SPARSA_RUNTIME_ERROR, "cannot load the GPU code of '%s': %s", path,
                  loadError.c_str());
    // Weights go to device memory once; runs only pass their addresses.
    if (m->weights && m->weights != MAP_FAILED) {
      if (!sparsa_cuda::alloc(&m->deviceWeights, m->weightsSize, why) ||
          !sparsa_cuda::toDevice(m->deviceWeights, m->weights, m->weightsSize, why))
        return fail(SPARSA_RUNTIME_ERROR, "cannot upload the weights of '%s': %s", path,
                    why.c_str());
      munmap(m->weights, m->weightsSize);
      m->weights = nullptr;
    }
  }
  *out_model = m.release();
  return SPARSA_OK;
}

void sparsa_model_release(sparsa_model_t *model) { delete model; }

//===----------------------------------------------------------------------===//
// Sparsity profile
//===----------------------------------------------------------------------===//


int32_t sparsa_model_num_profiles(const sparsa_model_t *model) {
  return model ? static_cast<int32_t>(model->profiles.size()) : 0;
}

sparsa_status_t sparsa_model_write_profile(const sparsa_model_t *model, const char *path) {
  if (!model || !path)
    return fail(SPARSA_INVALID_ARGUMENT, "null argument to sparsa_model_write_profile");
  if (model->profiles.empty())
    return fail(SPARSA_INVALID_ARGUMENT,
                "the model has no sparsity profile: compile it with --instrument=sparsity "
                "(and a sparse FFN must have fused)");
  std::string out = "{\n  \"format\": \"sparsa-sparsity-profile 1\",\n  \"layers\": [";
  for (size_t i = 0; i < model->profiles.size(); ++i) {
    const sparsa_model_t::Profile &p = model->profiles[i];
    const int64_t *c = p.counters;
    int64_t tokens = c[0], active = c[1];
    double density = tokens > 0 ? double(active) / (double(tokens) * double(p.neurons)) : 0.0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", density);
    out += i ? ",\n" : "\n";
    out += "    {\"node\": " + jsonString(p.node) + ", \"neurons\": " +
           std::to_string(p.neurons) + ", \"tokens\": " + std::to_string(tokens) +
           ", \"active\": " + std::to_string(active) + ", \"mean_density\": " + buf +
           ",\n     \"density_histogram\": [";
    for (int64_t b = 0; b < kBins; ++b)
      out += (b ? "," : "") + std::to_string(c[kHistogramSlot + b]);
    out += "],\n     \"neuron_counts\": [";
    for (int64_t n = 0; n < p.neurons; ++n)
      out += (n ? "," : "") + std::to_string(c[kNeuronSlot + n]);
    out += "]}";
  }
  out += "\n  ]\n}\n";
  FILE *f = std::fopen(path, "w");
  if (!f)
    return fail(SPARSA_IO_ERROR, "cannot write '%s': %s", path, strerror(errno));
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    return fail(SPARSA_IO_ERROR, "cannot write '%s'", path);
  return SPARSA_OK;
}

sparsa_status_t sparsa_model_reset_profile(sparsa_model_t *model) {
  if (!model)
    return fail(SPARSA_INVALID_ARGUMENT, "null argument to sparsa_model_reset_profile");
  for (sparsa_model_t::Profile &p : model->profiles)
    std::memset(p.counters, 0, sizeof(int64_t) * (kNeuronSlot + p.neurons));
  return SPARSA_OK;
}

int32_t sparsa_model_num_inputs(const sparsa_model_t *model) {
  return model ? static_cast<int32_t>(model->inputs.size()) : 0;
}
int32_t sparsa_model_num_outputs(const sparsa_model_t *model) {
  return model ? static_cast<int32_t>(model->outputs.size()) : 0;
}

static sparsa_status_t describe(const std::vector<TensorDesc> &list, int32_t index,
                                sparsa_tensor_t *out) {
  if (!out || index < 0 || index >= static_cast<int32_t>(list.size()))
    return fail(SPARSA_INVALID_ARGUMENT, "tensor index %d out of range", index);
  const TensorDesc &d = list[index];
  std::memset(out, 0, sizeof(*out));
  out->name = d.name.c_str();
  out->dtype = d.dtype;
  out->rank = static_cast<int32_t>(d.dims.size());
  for (size_t i = 0; i < d.dims.size(); ++i)
    out->dims[i] = d.dims[i];
  return SPARSA_OK;
}

sparsa_status_t sparsa_model_input_info(const sparsa_model_t *model, int32_t index,
                                        sparsa_tensor_t *out_info) {
  if (!model)
    return fail(SPARSA_INVALID_ARGUMENT, "null model");
  return describe(model->inputs, index, out_info);
}

const char *sparsa_model_input_dim_param(const sparsa_model_t *model,
                                         int32_t index, int32_t dim) {
  if (!model || index < 0 || index >= (int32_t)model->inputs.size() || dim < 0 ||
      dim >= (int32_t)model->inputs[index].dimParams.size())
    return "";
  return model->inputs[index].dimParams[dim].c_str();
}

sparsa_status_t sparsa_model_output_info(const sparsa_model_t *model,
                                         int32_t index, sparsa_tensor_t *out_info) {
  if (!model)
    return fail(SPARSA_INVALID_ARGUMENT, "null model");
  return describe(model->outputs, index, out_info);
}

sparsa_status_t sparsa_model_set_num_threads(sparsa_model_t *model,
                                             int32_t num_threads) {
  if (!model || num_threads < 0)
    return fail(SPARSA_INVALID_ARGUMENT, "invalid thread count %d", num_threads);
  model->numThreads = num_threads;
  return SPARSA_OK;
}

/// Appends a memref descriptor for a dense row-major buffer to |words|.
static void pushDescriptor(std::vector<int64_t> &words, void *data,
                           const std::vector<int64_t> &dims) {
  words.push_back(reinterpret_cast<int64_t>(data));
  words.push_back(reinterpret_cast<int64_t>(data));
  words.push_back(0);
  for (int64_t d : dims)
    words.push_back(d);
  std::vector<int64_t> strides(dims.size(), 1);
  for (int64_t i = static_cast<int64_t>(dims.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * dims[i + 1];
  for (int64_t s : strides)
    words.push_back(s);
}

/// The memref descriptor of the next result in the entry's result block
/// ({allocated, aligned, offset, sizes[rank], strides[rank]}); advances |w|.
struct ResultView {
  void *allocated;
  char *aligned;
  int64_t offset;
  const int64_t *sizes, *strides;
};
static ResultView nextResult(const std::vector<int64_t> &results, size_t &w, size_t rank) {
  ResultView v{reinterpret_cast<void *>(results[w]), reinterpret_cast<char *>(results[w + 1]),
               results[w + 2], &results[w + 3], &results[w + 3 + rank]};
  w += 3 + 2 * rank;
  return v;
}

/// Starts the output tensor |out| described by |d| with the sizes of the
/// result view |v| (data not yet set); returns its element count, whether
/// the view is row-major (any offset), and the furthest element it reaches.
struct ViewExtent {
  size_t elems = 1;
  bool rowMajor = true;
  int64_t last = 0;
};
static ViewExtent startOutput(sparsa_tensor_t &out, const TensorDesc &d, const ResultView &v) {
  std::memset(&out, 0, sizeof(out));
  out.name = d.name.c_str();
  out.dtype = d.dtype;
  out.rank = static_cast<int32_t>(d.dims.size());
  ViewExtent e;
  e.last = v.offset;
  int64_t expect = 1;
  for (int64_t k = out.rank - 1; k >= 0; --k) {
    out.dims[k] = v.sizes[k];
    e.elems *= static_cast<size_t>(v.sizes[k]);
    if (v.sizes[k] != 1 && v.strides[k] != expect)
      e.rowMajor = false;
    if (v.sizes[k] > 0)
      e.last += (v.sizes[k] - 1) * v.strides[k];
    expect *= v.sizes[k];
  }
  return e;
}

/// A failed run-time check (e.g. an out-of-range index in an input) set the
/// calling thread's status word: clear it, release the outputs (they are
/// not valid) and fail with the check's message.
static sparsa_status_t checkRunStatus(sparsa_model_t *model, sparsa_tensor_t *out_outputs) {
  if (model->statusSymbol.empty())
    return SPARSA_OK;
  // Thread-local: dlsym gives this thread's word.
  auto *status = static_cast<int64_t *>(dlsym(model->handle, model->statusSymbol.c_str()));
  if (!status || *status == 0)
    return SPARSA_OK;
  int64_t id = *status;
  *status = 0;
  for (size_t o = 0; o < model->outputs.size(); ++o)
    sparsa_tensor_release(&out_outputs[o]);
  auto it = model->checkMessages.find(id);
  return fail(SPARSA_RUNTIME_ERROR, "%s",
              it != model->checkMessages.end() ? it->second.c_str() : "a run-time check failed");
}

/// Gathers a strided view into a dense row-major buffer, a row at a time
/// when the innermost dimension is contiguous.
static void stridedCopy(char *dst, const char *src, int64_t offset, const int64_t *sizes,
                        const int64_t *strides, size_t rank, size_t elems, size_t elt) {
  size_t inner = rank > 0 && strides[rank - 1] == 1 ? sizes[rank - 1] : 1;
  size_t outerRank = inner > 1 ? rank - 1 : rank;
  std::vector<int64_t> idx(rank, 0);
  for (size_t e = 0; e < elems; e += inner) {
    int64_t off = offset;
    for (size_t k = 0; k < outerRank; ++k)
      off += idx[k] * strides[k];
    std::memcpy(dst + e * elt, src + off * elt, inner * elt);
    for (int64_t k = static_cast<int64_t>(outerRank) - 1; k >= 0; --k) {
      if (++idx[k] < sizes[k])
        break;
      idx[k] = 0;
    }
  }
}

/// A CUDA model's run after the entry returned: every output is copied to
/// a host buffer, then the device buffers the model allocated are freed.
static sparsa_status_t takeDeviceResults(sparsa_model_t *model,
                                         const std::vector<int64_t> &results,
                                         const std::vector<void *> &deviceInputs,
                                         bool ownInputs, sparsa_tensor_t *out_outputs) {
  std::string error = sparsa_cuda::takeError();
  std::vector<void *> toFree;
  char *wb = static_cast<char *>(model->deviceWeights);
  auto isOurs = [&](void *p) {
    char *c = static_cast<char *>(p);
    if (!p || (wb && c >= wb && c < wb + model->weightsSize))
      return false;
    return std::find(deviceInputs.begin(), deviceInputs.end(), p) == deviceInputs.end();
  };
  size_t w = 0;
  for (size_t o = 0; o < model->outputs.size(); ++o) {
    const TensorDesc &d = model->outputs[o];
    size_t rank = d.dims.size();
    ResultView v = nextResult(results, w, rank);
    if (isOurs(v.allocated))
      toFree.push_back(v.allocated);
    sparsa_tensor_t &out = out_outputs[o];
    ViewExtent e = startOutput(out, d, v);
    size_t elt = sparsa_dtype_size(d.dtype);
    out.data = std::malloc(std::max<size_t>(1, e.elems * elt));
    if (!out.data) {
      error = "out of memory for output '" + d.name + "'";
      continue;
    }
    if (e.elems == 0 || !error.empty())
      continue;
    if (e.rowMajor) {
      // One block (usually the whole buffer) straight into the output.
      sparsa_cuda::toHost(out.data, v.aligned + v.offset * elt, e.elems * elt, error);
      continue;
    }
    // A strided view: its span comes over once, then it is gathered here.
    std::vector<char> host(static_cast<size_t>(e.last + 1) * elt);
    if (sparsa_cuda::toHost(host.data(), v.aligned, host.size(), error))
      stridedCopy(static_cast<char *>(out.data), host.data(), v.offset, v.sizes, v.strides,
                  rank, e.elems, elt);
  }
  std::sort(toFree.begin(), toFree.end());
  toFree.erase(std::unique(toFree.begin(), toFree.end()), toFree.end());
  for (void *p : toFree) {
    std::string ignored;
    sparsa_cuda::freeTransient(p, ignored);
  }
  for (void *p : deviceInputs) {
    std::string ignored;
    if (p && ownInputs)
      sparsa_cuda::freeRunInput(p, ignored);
  }
  if (!error.empty()) {
    for (size_t o = 0; o < model->outputs.size(); ++o)
      sparsa_tensor_release(&out_outputs[o]);
    return fail(SPARSA_RUNTIME_ERROR, "CUDA: %s", error.c_str());
  }
  return checkRunStatus(model, out_outputs);
}

static sparsa_status_t runModel(sparsa_model_t *model, const sparsa_tensor_t *inputs,
                                int32_t num_inputs, sparsa_tensor_t *out_outputs,
                                bool deviceResident);

sparsa_status_t sparsa_model_run(sparsa_model_t *model, const sparsa_tensor_t *inputs,
                                 int32_t num_inputs, sparsa_tensor_t *out_outputs) {
  return runModel(model, inputs, num_inputs, out_outputs, false);
}

int32_t sparsa_model_is_cuda(const sparsa_model_t *model) {
  return model && model->cuda ? 1 : 0;
}

sparsa_status_t sparsa_model_run_device_inputs(sparsa_model_t *model,
                                               const sparsa_tensor_t *inputs,
                                               int32_t num_inputs,
                                               sparsa_tensor_t *out_outputs) {
  if (model && !model->cuda)
    return fail(SPARSA_INVALID_ARGUMENT,
                "device-pointer inputs need a model compiled with --target=cuda");
  return runModel(model, inputs, num_inputs, out_outputs, true);
}

/// Runs the entry with the requested thread count, or with one thread
/// where ThreadChoice found that faster for these input shapes.
static void runWithThreads(sparsa_model_t *model,
                           const std::vector<const sparsa_tensor_t *> &bound, void **args) {
  const OpenMP &omp = model->omp;
  int requested = model->numThreads > 0 ? model->numThreads
                  : omp.getMaxThreads   ? omp.getMaxThreads()
                                        : 1;
  ThreadChoice *choice = nullptr;
  const std::vector<int64_t> *shapes = nullptr;
  bool trialOne = false;
  int use = model->numThreads;
  if (model->adaptiveThreads && !model->cuda && requested > 1 && omp.setNumThreads) {
    std::vector<int64_t> key;
    for (const sparsa_tensor_t *t : bound) {
      key.push_back(t->rank);
      key.insert(key.end(), t->dims, t->dims + t->rank);
    }
    std::lock_guard<std::mutex> lock(model->choicesMutex);
    auto it = model->threadChoices.find(key);
    if (it == model->threadChoices.end() &&
        model->threadChoices.size() < kMaxThreadChoices)
      it = model->threadChoices.emplace(std::move(key), ThreadChoice()).first;
    if (it != model->threadChoices.end()) {
      ThreadChoice &c = it->second;
      if (c.decided == 1) {
        use = 1;
      } else if (!c.decided) {
        choice = &c; // std::map nodes stay put
        shapes = &it->first;
        // Run 0 warms up with every thread; then odd runs take one.
        trialOne = c.runs % 2 == 0 && c.runs > 0;
        if (trialOne)
          use = 1;
      }
    }
  }
  if (omp.setNumThreads && use > 0)
    omp.setNumThreads(use);
  auto start = std::chrono::steady_clock::now();
  runSpinningWithin(omp, model->entry, args);
  // With the OpenMP default (no count set), one thread was this call's
  // alone: give the calling thread its default back, or the next call
  // would read 1 as the default.
  if (use == 1 && model->numThreads == 0)
    omp.setNumThreads(requested);
  if (!choice)
    return;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard<std::mutex> lock(model->choicesMutex);
  ThreadChoice &c = *choice;
  if (c.decided)
    return; // decided by a concurrent run
  if (c.runs++ == 0)
    return; // the warm-up
  (trialOne ? c.one : c.many) = std::min(trialOne ? c.one : c.many, seconds);
  if (!trialOne && seconds > model->longRunSeconds)
    c.decided = 2;
  else if (c.runs > 2 * kThreadTrials)
    c.decided = c.one < kThreadGain * c.many ? 1 : 2;
  if (c.decided && model->traceThreads) {
    std::string dims;
    for (int64_t d : *shapes)
      dims += (dims.empty() ? "" : " ") + std::to_string(d);
    char one[64] = "not tried";
    if (c.one < 1e30)
      std::snprintf(one, sizeof one, "%.1f us", c.one * 1e6);
    std::fprintf(stderr,
                 "sparsa: threads for inputs (rank, dims...) [%s]: %d (best run on one "
                 "thread: %s; on %d: %.1f us)\n",
                 dims.c_str(), c.decided == 1 ? 1 : requested, one, requested, c.many * 1e6);
  }
}

static sparsa_status_t runModel(sparsa_model_t *model, const sparsa_tensor_t *inputs,
                                int32_t num_inputs, sparsa_tensor_t *out_outputs,
                                bool deviceResident) {
  if (!model || (num_inputs > 0 && !inputs) || !out_outputs)
    return fail(SPARSA_INVALID_ARGUMENT, "null argument to sparsa_model_run");
  const size_t n = model->inputs.size();
  if (num_inputs < 0 || static_cast<size_t>(num_inputs) > n)
    return fail(SPARSA_INVALID_ARGUMENT, "model takes %zu inputs, got %d", n,
                num_inputs);
  // Match the given tensors to declared inputs.
  std::vector<const sparsa_tensor_t *> bound(n, nullptr);
  for (int32_t i = 0; i < num_inputs; ++i) {
    const sparsa_tensor_t &t = inputs[i];
    size_t idx = n;
    if (!t.name) {
      idx = static_cast<size_t>(i);
    } else {
      for (size_t j = 0; j < n; ++j)
        if (model->inputs[j].name == t.name)
          idx = j;
      if (idx == n)
        return fail(SPARSA_INVALID_ARGUMENT, "the model has no input named '%s'",
                    t.name);
    }
    if (bound[idx])
      return fail(SPARSA_INVALID_ARGUMENT, "input '%s' given twice",
                  model->inputs[idx].name.c_str());
    bound[idx] = &t;
  }
  std::map<std::string, int64_t> symbols;
  for (size_t j = 0; j < n; ++j) {
    const TensorDesc &d = model->inputs[j];
    const sparsa_tensor_t *t = bound[j];
    const char *nm = d.name.c_str();
    if (!t)
      return fail(SPARSA_INVALID_ARGUMENT, "missing input '%s'", nm);
    if (t->dtype != d.dtype)
      return fail(SPARSA_INVALID_ARGUMENT,
                  "input '%s': expected dtype %s, got %s", nm,
                  dtypeToName(d.dtype), dtypeToName(t->dtype));
    if (t->rank != static_cast<int32_t>(d.dims.size()))
      return fail(SPARSA_INVALID_ARGUMENT,
                  "input '%s': expected rank %zu %s, got rank %d", nm,
                  d.dims.size(), shapeString(d.dims.data(), d.dims.size()).c_str(),
                  t->rank);
    uint64_t elems = 1;
    for (size_t k = 0; k < d.dims.size(); ++k) {
      int64_t got = t->dims[k];
      if (got < 0 || (d.dims[k] >= 0 && got != d.dims[k]))
        return fail(SPARSA_INVALID_ARGUMENT,
                    "input '%s': expected shape %s, got %s", nm,
                    shapeString(d.dims.data(), d.dims.size()).c_str(),
                    shapeString(t->dims, t->rank).c_str());
      if (d.dims[k] < 0 && !d.dimParams[k].empty()) {
        auto [it, inserted] = symbols.emplace(d.dimParams[k], got);
        if (!inserted && it->second != got)
          return fail(SPARSA_INVALID_ARGUMENT,
                      "input '%s': dimension '%s' is %lld here but %lld in "
                      "another input",
                      nm, d.dimParams[k].c_str(), (long long)got,
                      (long long)it->second);
      }
      if (got != 0 && elems > (UINT64_C(1) << 48) / static_cast<uint64_t>(got))
        return fail(SPARSA_INVALID_ARGUMENT, "input '%s': shape too large", nm);
      elems *= static_cast<uint64_t>(got);
    }
    if (!t->data && elems != 0)
      return fail(SPARSA_INVALID_ARGUMENT, "input '%s': null data pointer", nm);
  }

  // Descriptors: result block first, then one per argument.
  size_t resultWords = 0;
  for (const TensorDesc &o : model->outputs)
    resultWords += 3 + 2 * o.dims.size();
  std::vector<int64_t> results(resultWords + 1, 0);
  std::vector<std::vector<int64_t>> descs;
  descs.reserve(model->argIsInput.size());
  // CUDA models take device copies of the inputs (freed after the run).
  std::vector<void *> deviceInputs;
  if (deviceResident) {
    for (size_t j = 0; j < n; ++j)
      deviceInputs.push_back(bound[j]->data);
  } else if (model->cuda) {
    for (size_t j = 0; j < n; ++j) {
      const sparsa_tensor_t *t = bound[j];
      size_t bytes = sparsa_dtype_size(t->dtype);
      for (int32_t k = 0; k < t->rank; ++k)
        bytes *= static_cast<size_t>(t->dims[k]);
      void *p = nullptr;
      std::string error;
      if (!sparsa_cuda::allocRunInput(&p, bytes, error) ||
          !sparsa_cuda::toDeviceForRun(p, t->data, bytes, error)) {
        for (void *q : deviceInputs)
          sparsa_cuda::freeRunInput(q, error);
        if (p)
          sparsa_cuda::freeRunInput(p, error);
        return fail(SPARSA_RUNTIME_ERROR, "CUDA: input '%s': %s",
                    model->inputs[j].name.c_str(), error.c_str());
      }
      deviceInputs.push_back(p);
    }
  }
  size_t inIdx = 0, wIdx = 0;
  char *weightsBase = static_cast<char *>(model->cuda ? model->deviceWeights : model->weights);
  for (bool isInput : model->argIsInput) {
    std::vector<int64_t> words;
    if (isInput) {
      size_t j = inIdx++;
      const sparsa_tensor_t *t = bound[j];
      pushDescriptor(words, model->cuda ? deviceInputs[j] : t->data,
                     std::vector<int64_t>(t->dims, t->dims + t->rank));
    } else {
      const TensorDesc &w = model->weightArgs[wIdx++];
      pushDescriptor(words, weightsBase + w.offset, w.dims);
    }
    descs.push_back(std::move(words));
  }
  std::vector<void *> args;
  args.push_back(results.data());
  for (auto &d : descs)
    args.push_back(d.data());

  runWithThreads(model, bound, args.data());
  if (model->cuda)
    return takeDeviceResults(model, results, deviceInputs, !deviceResident, out_outputs);

  // Take the results: hand over a dense malloc'ed buffer, copy otherwise
  // (strided views, aligned sub-allocations, aliases of inputs or weights).
  std::vector<void *> toFree;
  size_t w = 0;
  auto isOurs = [&](void *p) {
    char *c = static_cast<char *>(p);
    char *wb = static_cast<char *>(model->weights);
    if (wb && c >= wb && c < wb + model->weightsSize)
      return false;
    for (size_t j = 0; j < n; ++j)
      if (bound[j]->data == p)
        return false;
    return p != nullptr;
  };
  for (size_t o = 0; o < model->outputs.size(); ++o) {
    const TensorDesc &d = model->outputs[o];
    size_t rank = d.dims.size();
    ResultView v = nextResult(results, w, rank);
    auto [allocated, aligned, offset, sizes, strides] = v;
    sparsa_tensor_t &out = out_outputs[o];
    ViewExtent e = startOutput(out, d, v);
    size_t elt = sparsa_dtype_size(d.dtype), elems = e.elems;
    bool contiguous = e.rowMajor;
    bool handOver = contiguous && offset == 0 && allocated == aligned && isOurs(allocated);
    for (size_t p = 0; p < o && handOver; ++p)
      if (out_outputs[p].data == allocated)
        handOver = false;
    if (handOver) {
      out.data = allocated;
      continue;
    }
    out.data = std::malloc(std::max<size_t>(1, elems * elt));
    if (!out.data)
      return fail(SPARSA_RUNTIME_ERROR, "out of memory for output '%s'",
                  d.name.c_str());
    char *dst = static_cast<char *>(out.data);
    if (contiguous) {
      // One block at an offset (a view into a larger or aligned buffer).
      std::memcpy(dst, aligned + offset * elt, elems * elt);
    } else {
      stridedCopy(dst, aligned, offset, sizes, strides, rank, elems, elt);
    }
    if (isOurs(allocated))
      toFree.push_back(allocated);
  }
  // Free each buffer the model allocated and we did not hand over, once.
  std::sort(toFree.begin(), toFree.end());
  toFree.erase(std::unique(toFree.begin(), toFree.end()), toFree.end());
  for (void *p : toFree) {
    bool handed = false;
    for (size_t o = 0; o < model->outputs.size(); ++o)
      handed |= out_outputs[o].data == p;
    if (!handed)
      std::free(p);
  }
  return checkRunStatus(model, out_outputs);
}

void sparsa_tensor_release(sparsa_tensor_t *tensor) {
  if (!tensor)
    return;
  std::free(tensor->data);
  tensor->data = nullptr;
}

} // extern "C"
