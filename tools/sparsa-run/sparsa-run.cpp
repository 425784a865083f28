//===- sparsa-run.cpp - Run a compiled model on .npy inputs ----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Command-line runner over the runtime C API: reads inputs from .npy files,
// runs (optionally timed), writes each output to DIR/<name>.npy.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Runtime/sparsa_runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct NpyArray {
  std::string descr;
  std::vector<int64_t> shape;
  std::vector<char> data;
};

const std::map<std::string, int32_t> &descrToDtype() {
  static const std::map<std::string, int32_t> m = {
      {"<f4", SPARSA_DTYPE_F32}, {"|u1", SPARSA_DTYPE_U8}, {"|i1", SPARSA_DTYPE_I8},
      {"<u2", SPARSA_DTYPE_U16}, {"<i2", SPARSA_DTYPE_I16}, {"<i4", SPARSA_DTYPE_I32},
      {"<i8", SPARSA_DTYPE_I64}, {"|b1", SPARSA_DTYPE_BOOL}, {"<f2", SPARSA_DTYPE_F16},
      {"<f8", SPARSA_DTYPE_F64}, {"<u4", SPARSA_DTYPE_U32}, {"<u8", SPARSA_DTYPE_U64}};
  return m;
}

std::string dtypeToDescr(int32_t dt) {
  for (auto &[d, v] : descrToDtype())
    if (v == dt)
      return d;
  return "";
}

/// Extracts the value of |key| from a .npy header dict.
std::string headerField(const std::string &h, const std::string &key) {
  size_t p = h.find("'" + key + "'");
  if (p == std::string::npos)
    return "";
  p = h.find(':', p);
  size_t q = p + 1;
  while (q < h.size() && h[q] == ' ')
    ++q;
  if (h[q] == '(') {
    size_t e = h.find(')', q);
    return h.substr(q, e - q + 1);
  }
  if (h[q] == '\'') {
    size_t e = h.find('\'', q + 1);
    return h.substr(q + 1, e - q - 1);
  }
  size_t e = h.find_first_of(",}", q);
  return h.substr(q, e - q);
}

bool readNpy(const std::string &path, NpyArray &out, std::string &err) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    err = "cannot open " + path;
    return false;
  }
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    err = path + " is not a .npy file";
    return false;
  }
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint16_t h16;
    f.read(reinterpret_cast<char *>(&h16), 2);
    hlen = h16;
  } else {
    f.read(reinterpret_cast<char *>(&hlen), 4);
  }
  if (!f || hlen > (1u << 20)) {
    err = path + ": bad .npy header";
    return false;
  }
  std::string header(hlen, '\0');
  f.read(header.data(), hlen);
  out.descr = headerField(header, "descr");
  if (headerField(header, "fortran_order") == "True") {
    err = path + ": Fortran-order arrays are not supported";
    return false;
  }
  std::string shape = headerField(header, "shape");
  std::stringstream ss(shape.size() > 2 ? shape.substr(1, shape.size() - 2) : "");
  std::string tok;
  size_t count = 1;
  while (std::getline(ss, tok, ',')) {
    if (tok.find_first_not_of(' ') == std::string::npos)
      continue;
    out.shape.push_back(std::stoll(tok));
    count *= out.shape.back();
  }
  auto it = descrToDtype().find(out.descr);
  if (it == descrToDtype().end()) {
    err = path + ": unsupported dtype '" + out.descr + "'";
    return false;
  }
  out.data.resize(count * sparsa_dtype_size(it->second));
  if (!f.read(out.data.data(), out.data.size())) {
    err = path + ": file is shorter than its shape";
    return false;
  }
  return true;
}

bool writeNpy(const std::string &path, const sparsa_tensor_t &t) {
  std::string shape = "(";
  size_t count = 1;
  for (int i = 0; i < t.rank; ++i) {
    shape += std::to_string(t.dims[i]) + (t.rank == 1 ? "," : (i + 1 < t.rank ? ", " : ""));
    count *= t.dims[i];
  }
  shape += ")";
  std::string header = "{'descr': '" + dtypeToDescr(t.dtype) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f)
    return false;
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t hlen = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<char *>(&hlen), 2);
  f << header;
  f.write(static_cast<const char *>(t.data), count * sparsa_dtype_size(t.dtype));
  return static_cast<bool>(f);
}

std::string sanitize(const std::string &name) {
  std::string s = name;
  for (char &c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      c = '_';
  return s;
}

int usage() {
  std::fprintf(stderr,
               "usage: sparsa-run MODEL.so --input NAME=FILE.npy ... [--output-dir DIR]\n"
               "                  [--iters N] [--warmup W] [--threads T] [--profile FILE.json]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  std::string modelPath, outDir = ".", profilePath;
  std::vector<std::pair<std::string, std::string>> inputs;
  int iters = 0, warmup = 1, threads = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string &flag) -> const char * {
      if (a.rfind(flag + "=", 0) == 0)
        return argv[i] + flag.size() + 1;
      if (a == flag && i + 1 < argc)
        return argv[++i];
      return nullptr;
    };
    if (const char *v = value("--input")) {
      std::string s = v;
      size_t eq = s.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "sparsa-run: error: --input expects NAME=FILE.npy\n");
        return 2;
      }
      inputs.emplace_back(s.substr(0, eq), s.substr(eq + 1));
    } else if (const char *v = value("--output-dir")) {
      outDir = v;
    } else if (const char *v = value("--iters")) {
      iters = std::atoi(v);
    } else if (const char *v = value("--warmup")) {
      warmup = std::atoi(v);
    } else if (const char *v = value("--threads")) {
      threads = std::atoi(v);
    } else if (const char *v = value("--profile")) {
      profilePath = v;
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "sparsa-run: error: unknown option %s\n", a.c_str());
      return usage();
    } else if (modelPath.empty()) {
      modelPath = a;
    } else {
      return usage();
    }
  }
  if (modelPath.empty())
    return usage();
  sparsa_model_t *model = nullptr;
  if (sparsa_model_load(modelPath.c_str(), &model) != SPARSA_OK) {
    std::fprintf(stderr, "%s: error: %s\n", modelPath.c_str(), sparsa_last_error());
    return 1;
  }
  if (threads > 0)
    sparsa_model_set_num_threads(model, threads);
  if (!profilePath.empty() && sparsa_model_num_profiles(model) == 0) {
    std::fprintf(stderr,
                 "%s: error: --profile needs a library compiled with --instrument=sparsity "
                 "(with at least one fused sparse FFN)\n",
                 modelPath.c_str());
    return 1;
  }
  std::vector<NpyArray> arrays(inputs.size());
  std::vector<sparsa_tensor_t> tensors(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string err;
    if (!readNpy(inputs[i].second, arrays[i], err)) {
      std::fprintf(stderr, "sparsa-run: error: %s\n", err.c_str());
      return 1;
    }
    if (arrays[i].shape.size() > SPARSA_MAX_RANK) {
      std::fprintf(stderr, "sparsa-run: error: %s: rank too large\n",
                   inputs[i].second.c_str());
      return 1;
    }
    sparsa_tensor_t &t = tensors[i];
    std::memset(&t, 0, sizeof(t));
    t.name = inputs[i].first.c_str();
    t.dtype = descrToDtype().at(arrays[i].descr);
    t.rank = static_cast<int32_t>(arrays[i].shape.size());
    for (int k = 0; k < t.rank; ++k)
      t.dims[k] = arrays[i].shape[k];
    t.data = arrays[i].data.data();
  }
  int nOut = sparsa_model_num_outputs(model);
  std::vector<sparsa_tensor_t> outputs(nOut);
  auto runOnce = [&]() -> bool {
    if (sparsa_model_run(model, tensors.data(), static_cast<int32_t>(tensors.size()),
                         outputs.data()) != SPARSA_OK) {
      std::fprintf(stderr, "%s: error: %s\n", modelPath.c_str(), sparsa_last_error());
      return false;
    }
    return true;
  };
  auto releaseOutputs = [&]() {
    for (auto &o : outputs)
      sparsa_tensor_release(&o);
  };
  if (iters > 0) {
    for (int i = 0; i < warmup; ++i) {
      if (!runOnce())
        return 1;
      releaseOutputs();
    }
    // The profile counts the timed runs only.
    if (!profilePath.empty())
      sparsa_model_reset_profile(model);
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      if (!runOnce())
        return 1;
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (i + 1 < iters)
        releaseOutputs();
    }
    std::sort(ms.begin(), ms.end());
    std::printf("latency_ms min=%.4f median=%.4f p90=%.4f\n", ms.front(),
                ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 9 / 10)]);
  } else if (!runOnce()) {
    return 1;
  }
  // The output folder is created when missing (like `mkdir -p`).
  std::error_code ec;
  std::filesystem::create_directories(outDir, ec);
  if (ec) {
    std::fprintf(stderr, "sparsa-run: error: cannot create %s: %s\n", outDir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  for (auto &o : outputs) {
    std::string path = outDir + "/" + sanitize(o.name) + ".npy";
    if (!writeNpy(path, o)) {
      std::fprintf(stderr, "sparsa-run: error: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  releaseOutputs();
  if (!profilePath.empty() &&
      sparsa_model_write_profile(model, profilePath.c_str()) != SPARSA_OK) {
    std::fprintf(stderr, "sparsa-run: error: %s\n", sparsa_last_error());
    return 1;
  }
  sparsa_model_release(model);
  return 0;
}
