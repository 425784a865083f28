//===- FuzzRuntime.cpp - Fuzz target: the runtime's input validation ------===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Calls sparsa_model_run on the model fuzz/runtime-model.onnxtxt compiled
// into $SPARSA_FUZZ_MODEL (scripts/fuzz.sh does it) with fuzzed input
// descriptors: names (real, unknown, NULL), dtypes (valid and not), ranks
// (up to past SPARSA_MAX_RANK, negative), dims (negative, huge, wrong),
// NULL data, and the index input's values in and out of range.
//
// The model: y = x @ Gather(W, idx)^T with W[r][c] = (r * 16 + c) % 7 - 3,
// x: float[N, 16], idx: int64[K], W: 64 x 16. Oracle: a call either fails
// with a message, or succeeds, and then every descriptor was valid, every
// index in [-64, 64), and y equals the product computed here (NaN where
// the inputs make it NaN). Anything else, or a sanitizer report, is a finding.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Runtime/sparsa_runtime.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

sparsa_model_t *gModel = nullptr;

[[noreturn]] void finding(const char *what) {
  std::fprintf(stderr, "sparsa-fuzz finding: %s (%s)\n", what, sparsa_last_error());
  std::abort();
}

float weight(int64_t r, int64_t c) { return float((r * 16 + c) % 7 - 3); }

struct Input {
  sparsa_tensor_t t{};
  std::string name;
  std::vector<unsigned char> storage;
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *path = std::getenv("SPARSA_FUZZ_MODEL");
  if (!path) {
    std::fprintf(stderr, "set SPARSA_FUZZ_MODEL to fuzz/runtime-model.onnxtxt compiled "
                         "with sparsa-compile (scripts/fuzz.sh does)\n");
    std::exit(2);
  }
  if (sparsa_model_load(path, &gModel) != SPARSA_OK) {
    std::fprintf(stderr, "cannot load %s: %s\n", path, sparsa_last_error());
    std::exit(2);
  }
  // Null arguments are refused, not dereferenced.
  if (sparsa_model_load(nullptr, nullptr) == SPARSA_OK ||
      sparsa_model_run(nullptr, nullptr, 0, nullptr) == SPARSA_OK ||
      sparsa_model_input_info(gModel, 99, nullptr) == SPARSA_OK)
    finding("a call with null arguments succeeded");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  sparsa_model_set_num_threads(gModel, fdp.ConsumeIntegralInRange<int32_t>(0, 3));
  static const int32_t dtypes[] = {SPARSA_DTYPE_F32, SPARSA_DTYPE_I64, SPARSA_DTYPE_I32,
                                   SPARSA_DTYPE_F64, SPARSA_DTYPE_U8, 0, 99, -1};
  int numInputs = fdp.ConsumeIntegralInRange(0, 3);
  std::vector<Input> inputs(numInputs);
  bool valid = numInputs == 2;
  bool seen[2] = {false, false};
  for (int i = 0; i < numInputs; ++i) {
    Input &in = inputs[i];
    // Mostly the right descriptor, each part sometimes wrong.
    int which = fdp.ConsumeIntegralInRange(0, 1); // 0: x, 1: idx
    switch (fdp.ConsumeIntegralInRange(0, 7)) {
    case 0: in.t.name = nullptr; which = i; break; // by position
    case 1: // any name: the input it names, if any
      in.name = fdp.ConsumeRandomLengthString(8);
      in.t.name = in.name.c_str();
      // (The C API sees the name up to its first NUL.)
      if (!std::strcmp(in.t.name, "x") || !std::strcmp(in.t.name, "idx"))
        which = !std::strcmp(in.t.name, "idx");
      else
        valid = false;
      break;
    default: in.t.name = which ? "idx" : "x";
    }
    if (which > 1) {
      valid = false;
      which = 1;
    }
    valid &= !seen[which];
    seen[which] = true;
    int32_t want = which ? SPARSA_DTYPE_I64 : SPARSA_DTYPE_F32;
    in.t.dtype = fdp.ConsumeIntegralInRange(0, 9) ? want : dtypes[fdp.ConsumeIntegralInRange(0, 7)];
    valid &= in.t.dtype == want;
    int32_t rank = which ? 1 : 2;
    in.t.rank = fdp.ConsumeIntegralInRange(0, 9) ? rank : fdp.ConsumeIntegralInRange(-2, 10);
    valid &= in.t.rank == rank;
    int64_t elements = 1;
    for (int d = 0; d < std::min<int32_t>(std::max<int32_t>(in.t.rank, 0), SPARSA_MAX_RANK);
         ++d) {
      int64_t dim;
      if (which == 0 && d == 1 && fdp.ConsumeIntegralInRange(0, 9))
        dim = 16;
      else if (fdp.ConsumeIntegralInRange(0, 15))
        dim = fdp.ConsumeIntegralInRange<int64_t>(0, 6);
      else
        dim = fdp.ConsumeIntegral<int64_t>(); // negative or huge
      in.t.dims[d] = dim;
      if (which == 0 && d == 1)
        valid &= dim == 16;
      if (dim < 0 || dim > (int64_t(1) << 20))
        elements = -1;
      else if (elements >= 0)
        elements = elements * dim > (int64_t(1) << 20) ? -1 : elements * dim;
    }
    size_t eltSize = sparsa_dtype_size(in.t.dtype);
    if (elements < 0 || eltSize == 0 || fdp.ConsumeIntegralInRange(0, 31) == 0) {
      // No buffer: a valid descriptor with elements must then be refused.
      in.t.data = nullptr;
      if (elements != 0)
        valid = false;
      continue;
    }
    in.storage.resize(size_t(elements) * eltSize + 1);
    if (which == 1 && in.t.dtype == SPARSA_DTYPE_I64) {
      for (int64_t e = 0; e < elements; ++e) {
        int64_t v = fdp.ConsumeIntegralInRange(0, 15)
                        ? fdp.ConsumeIntegralInRange<int64_t>(-64, 63)
                        : fdp.ConsumeIntegral<int64_t>();
        valid &= v >= -64 && v < 64;
        std::memcpy(in.storage.data() + e * 8, &v, 8);
      }
    } else if (which == 0 && in.t.dtype == SPARSA_DTYPE_F32) {
      for (int64_t e = 0; e < elements; ++e) {
        float v = fdp.ConsumeIntegralInRange(0, 31)
                      ? float(fdp.ConsumeIntegralInRange(-8, 8))
                      : fdp.PickValueInArray({NAN, INFINITY, -INFINITY, 1e30f});
        std::memcpy(in.storage.data() + e * 4, &v, 4);
      }
    } else {
      std::vector<uint8_t> bytes = fdp.ConsumeBytes<uint8_t>(in.storage.size());
      if (!bytes.empty())
        std::memcpy(in.storage.data(), bytes.data(), bytes.size());
    }
    in.t.data = in.storage.data();
  }
  valid &= seen[0] && seen[1];

  static const bool verbose = std::getenv("SPARSA_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    for (const Input &in : inputs)
      std::fprintf(stderr, "input %s dtype %d rank %d dims %lld %lld data %p\n",
                   in.t.name ? in.t.name : "(null)", in.t.dtype, in.t.rank,
                   (long long)in.t.dims[0], (long long)in.t.dims[1], in.t.data);
  std::vector<sparsa_tensor_t> descs;
  for (Input &in : inputs)
    descs.push_back(in.t);
  sparsa_tensor_t out{};
  sparsa_status_t status = sparsa_model_run(gModel, descs.data(), numInputs, &out);
  if (status != SPARSA_OK) {
    if (std::strlen(sparsa_last_error()) == 0)
      finding("a run failed without a message");
    return 0;
  }
  if (!valid)
    finding("a run with an invalid input succeeded");
  // Check the result against the product computed here.
  const Input &x = inputs[0].t.rank == 2 ? inputs[0] : inputs[1];
  const Input &idx = inputs[0].t.rank == 2 ? inputs[1] : inputs[0];
  int64_t n = x.t.dims[0], k = idx.t.dims[0];
  if (out.dtype != SPARSA_DTYPE_F32 || out.rank != 2 || out.dims[0] != n || out.dims[1] != k)
    finding("the output has the wrong type or shape");
  const float *xs = reinterpret_cast<const float *>(x.t.data);
  const int64_t *is = reinterpret_cast<const int64_t *>(idx.t.data);
  const float *ys = static_cast<const float *>(out.data);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      int64_t row = is[c] < 0 ? is[c] + 64 : is[c];
      double ref = 0, magnitude = 0;
      for (int64_t j = 0; j < 16; ++j) {
        ref += double(xs[r * 16 + j]) * weight(row, j);
        magnitude += std::fabs(double(xs[r * 16 + j]) * weight(row, j));
      }
      float y = ys[r * k + c];
      bool bothNaN = std::isnan(ref) && std::isnan(y);
      // Infinities: the order of the sum decides between Inf and NaN.
      bool inf = std::isinf(ref) || (std::isnan(y) && !std::isfinite(ref));
      // float accumulation: errors scale with the terms, not the sum.
      if (!bothNaN && !inf && !(std::fabs(y - ref) <= 1e-3 + 1e-6 * magnitude)) {
        std::fprintf(stderr, "y[%lld][%lld] = %g, expected %g (index %lld; N %lld, K %lld)\n",
                     (long long)r, (long long)c, y, ref, (long long)is[c], (long long)n,
                     (long long)k);
        finding("the output differs from the reference product");
      }
    }
  sparsa_tensor_release(&out);
  return 0;
}
