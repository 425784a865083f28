//===- FuzzCompile.cpp - Fuzz target: the whole compile pipeline ----------===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Structure-aware: the input bytes drive a generator that writes a small
// ONNX model (text syntax) as chains of the supported ops with random
// shapes, attributes and initializers, including the activation-sparsity,
// top-k and attention shapes the fusion passes look for, and now and then a
// deliberate mistake (mismatched weights, out-of-range constant indices).
// The model then goes through what sparsa-compile does up to LLVM IR:
// import, fusion, weight outlining, the CPU lowering (or the GPU pipeline
// with emulated launches), the runtime interface, translation and the LLVM
// verifier.
//
// Oracle: a failure must come with an error diagnostic; a model the
// importer accepted must compile (set SPARSA_FUZZ_LENIENT=1 to allow later
// failures with an error); the LLVM module must verify. SPARSA_FUZZ_PRINT=1
// prints each generated model.
//
//===----------------------------------------------------------------------===//

#include "FuzzCommon.h"

#include "sparsa/Importer/ONNX/Importer.h"
#include "sparsa/Pipelines/Pipelines.h"
#include "sparsa/Target/CPU/CPUEmitter.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

/// A float tensor of the graph: its name and dims (-1 = the symbolic N).
struct Value {
  std::string name;
  std::vector<int64_t> dims;
};

class Generator {
public:
  explicit Generator(FuzzedDataProvider &fdp) : fdp(fdp) {}

  std::string generate();

private:
  int64_t pick(int64_t lo, int64_t hi) { return fdp.ConsumeIntegralInRange(lo, hi); }
  bool coin() { return fdp.ConsumeBool(); }
  /// True with probability about 1/n.
  bool rarely(int n) { return pick(0, n - 1) == 0; }

  std::string fresh(const char *prefix) {
    return std::string(prefix) + std::to_string(counter++);
  }
  static std::string dimsText(const std::vector<int64_t> &dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i)
      s += (i ? "," : "") + (dims[i] < 0 ? std::string("N") : std::to_string(dims[i]));
    return s + "]";
  }
  /// A float initializer of static |dims| with small deterministic values.
  std::string floatInit(const std::vector<int64_t> &dims) {
    std::string name = fresh("w");
    int64_t n = 1;
    for (int64_t d : dims)
      n *= d;
    uint32_t state = static_cast<uint32_t>(pick(0, 1 << 20)) | 1;
    std::string s = "float" + dimsText(dims) + " " + name + " = {";
    for (int64_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      s += (i ? "," : "") + std::to_string(int((state >> 16) % 17) - 8) + ".0";
    }
    inits.push_back(s + "}");
    return name;
  }
  std::string intInit(const std::vector<int64_t> &values, bool scalar = false) {
    std::string name = fresh("i");
    std::string s = "int64" +
                    (scalar ? std::string("[]") : dimsText({int64_t(values.size())})) +
                    " " + name + " = {";
    for (size_t i = 0; i < values.size(); ++i)
      s += (i ? "," : "") + std::to_string(values[i]);
    inits.push_back(s + "}");
    return name;
  }
  std::string scalarInit(float v) {
    std::string name = fresh("s");
    inits.push_back("float " + name + " = {" + std::to_string(v) + "}");
    return name;
  }
  Value &operand() { return values[pick(0, values.size() - 1)]; }
  Value emit(const std::string &text, std::vector<int64_t> dims) {
    Value v{fresh("v"), std::move(dims)};
    body += "  " + v.name + " = " + text + "\n";
    values.push_back(v);
    return v;
  }
  /// A static dim, or 1 for N when a weight needs a size.
  static int64_t size(int64_t d) { return d < 0 ? 1 : d; }
  int64_t smallDim() { return pick(1, 8); }

  void step();
  void unary(const Value &x);
  void binaryWithConstant(const Value &x);
  void matmul(const Value &x);
  void sparseFFN(const Value &x);
  void topk(const Value &x);
  void attention(const Value &x);

  FuzzedDataProvider &fdp;
  int counter = 0;
  std::vector<Value> values;
  std::vector<std::string> inits;
  std::string body;
};

void Generator::unary(const Value &x) {
  static const char *ops[] = {"Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Abs", "Erf",
                              "Sqrt", "Log", "Reciprocal", "Cos", "Sin", "Identity"};
  int k = pick(0, 15);
  int axis = x.dims.empty() ? 0 : pick(-int(x.dims.size()), x.dims.size() - 1);
  if (k < 13)
    emit(std::string(ops[k]) + "(" + x.name + ")", x.dims);
  else if (k == 13)
    emit("LeakyRelu <alpha = 0.1>(" + x.name + ")", x.dims);
  else if (k == 14 && !x.dims.empty())
    emit(std::string(coin() ? "Softmax" : "LogSoftmax") + " <axis = " +
             std::to_string(axis) + ">(" + x.name + ")",
         x.dims);
  else
    emit("Elu <alpha = 1.0>(" + x.name + ")", x.dims);
}

void Generator::binaryWithConstant(const Value &x) {
  static const char *ops[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"};
  // A suffix of x's dims, some of them 1 (broadcast).
  std::vector<int64_t> dims;
  size_t rank = pick(0, x.dims.size());
  for (size_t i = x.dims.size() - rank; i < x.dims.size(); ++i)
    dims.push_back(x.dims[i] < 0 || coin() ? 1 : x.dims[i]);
  if (rarely(12) && !dims.empty())
    dims.back() += 1; // not broadcastable: must be an error
  std::string c = dims.empty() ? scalarInit(pick(1, 4)) : floatInit(dims);
  const char *op = ops[pick(0, 6)];
  emit(std::string(op) + "(" + x.name + ", " + c + ")", x.dims);
}

void Generator::matmul(const Value &x) {
  if (x.dims.empty())
    return unary(x);
  int64_t k = size(x.dims.back()), n = smallDim() * (coin() ? 1 : 8);
  std::vector<int64_t> out = x.dims;
  if (x.dims.size() == 2 && coin()) {
    // Gemm, weights maybe transposed, maybe a bias.
    bool transB = coin();
    std::string w = floatInit(transB ? std::vector<int64_t>{n, k}
                                     : std::vector<int64_t>{k + (rarely(12) ? 1 : 0), n});
    std::string call = "Gemm <transB = " + std::to_string(transB) + ", alpha = 0.5>(" +
                       x.name + ", " + w;
    if (coin())
      call += ", " + floatInit({n});
    out.back() = n;
    emit(call + ")", out);
    return;
  }
  std::string w = floatInit({k + (rarely(12) ? 1 : 0), n});
  out.back() = n;
  if (x.dims.size() == 1)
    out.clear(), out.push_back(n);
  Value y = emit("MatMul(" + x.name + ", " + w + ")", out);
  if (coin())
    emit("Add(" + y.name + ", " + floatInit({n}) + ")", out);
}

void Generator::sparseFFN(const Value &x) {
  // fc2(act(fc1 x + b)), or down(act(gate x) * up x): the activation
  // written the ways exporters write it.
  if (x.dims.empty())
    return unary(x);
  int64_t d = size(x.dims.back()), h = pick(2, 64);
  std::vector<int64_t> hid = x.dims, out = x.dims;
  hid.back() = h;
  if (x.dims.size() == 1)
    hid = {h}, out = {d};
  Value g = emit("MatMul(" + x.name + ", " + floatInit({d, h}) + ")", hid);
  if (coin())
    g = emit("Add(" + g.name + ", " + floatInit({h}) + ")", hid);
  Value a;
  switch (pick(0, 4)) {
  case 0: a = emit("Relu(" + g.name + ")", hid); break;
  case 1: a = emit("Max(" + g.name + ", " + scalarInit(0) + ")", hid); break;
  case 2: a = emit("Clip(" + g.name + ", " + scalarInit(0) + ")", hid); break;
  case 3: {
    Value m = emit("Greater(" + g.name + ", " + scalarInit(pick(0, 3)) + ")", hid);
    values.pop_back(); // bool: not an operand of the float ops
    a = emit("Where(" + m.name + ", " + g.name + ", " + scalarInit(0) + ")", hid);
    break;
  }
  default: {
    Value r = emit("Abs(" + x.name + ")", x.dims);
    Value m = emit("Greater(" + r.name + ", " + scalarInit(1) + ")", x.dims);
    values.pop_back();
    Value t = emit("Where(" + m.name + ", " + x.name + ", " + scalarInit(0) + ")", x.dims);
    a = emit("Relu(" + emit("MatMul(" + t.name + ", " + floatInit({d, h}) + ")", hid).name +
                 ")",
             hid);
  }
  }
  if (coin()) {
    Value up = emit("MatMul(" + x.name + ", " + floatInit({d, h}) + ")", hid);
    a = emit("Mul(" + a.name + ", " + up.name + ")", hid);
  }
  emit("MatMul(" + a.name + ", " + floatInit({h, d}) + ")", out);
}

void Generator::topk(const Value &x) {
  if (x.dims.empty() || x.dims.back() < 0)
    return unary(x);
  int64_t n = x.dims.back(), k = pick(1, n);
  if (rarely(12))
    k = n + 1; // k larger than the axis: must be an error
  std::vector<int64_t> dims = x.dims;
  dims.back() = k;
  std::string vals = fresh("v"), idx = fresh("t");
  body += "  " + vals + ", " + idx + " = TopK(" + x.name + ", " + intInit({k}) + ")\n";
  values.push_back({vals, dims});
  if (coin()) {
    // Top-k sparsity: the kept values scattered back into zeros.
    Value z = emit("Mul(" + x.name + ", " + scalarInit(0) + ")", x.dims);
    emit("ScatterElements <axis = -1>(" + z.name + ", " + idx + ", " + vals + ")", x.dims);
  }
}

void Generator::attention(const Value &x) {
  if (x.dims.size() < 2 || x.dims.back() < 0)
    return unary(x);
  size_t r = x.dims.size();
  std::string perm = "[";
  for (size_t i = 0; i < r; ++i)
    perm += (i ? "," : "") + std::to_string(i + 2 == r ? r - 1 : i + 1 == r ? r - 2 : i);
  std::vector<int64_t> t = x.dims, s = x.dims;
  std::swap(t[r - 1], t[r - 2]);
  s.back() = x.dims[r - 2];
  Value kt = emit("Transpose <perm = " + perm + "]>(" + x.name + ")", t);
  Value sc = emit("MatMul(" + x.name + ", " + kt.name + ")", s);
  Value sm = emit("Mul(" + sc.name + ", " + scalarInit(0.125f) + ")", s);
  Value p = emit("Softmax <axis = -1>(" + sm.name + ")", s);
  emit("MatMul(" + p.name + ", " + x.name + ")", x.dims);
}

void Generator::step() {
  Value x = operand();
  size_t r = x.dims.size();
  switch (pick(0, 13)) {
  case 0: return unary(x);
  case 1: return binaryWithConstant(x);
  case 2: {
    Value &y = operand();
    if (y.dims == x.dims)
      emit(std::string(coin() ? "Add" : "Mul") + "(" + x.name + ", " + y.name + ")", x.dims);
    return;
  }
  case 3: return matmul(x);
  case 4: return sparseFFN(x);
  case 5: return topk(x);
  case 6: return attention(x);
  case 7: { // Transpose
    if (r < 2)
      return unary(x);
    std::vector<int64_t> perm(r);
    for (size_t i = 0; i < r; ++i)
      perm[i] = i;
    for (size_t i = r - 1; i > 0; --i)
      std::swap(perm[i], perm[pick(0, i)]);
    std::vector<int64_t> dims;
    std::string p = "[";
    for (size_t i = 0; i < r; ++i) {
      p += (i ? "," : "") + std::to_string(perm[i]);
      dims.push_back(x.dims[perm[i]]);
    }
    emit("Transpose <perm = " + p + "]>(" + x.name + ")", dims);
    return;
  }
  case 8: { // Reshape of the trailing dims (0 keeps a leading N)
    for (size_t i = 1; i < r; ++i)
      if (x.dims[i] < 0)
        return unary(x);
    if (r >= 2 && coin()) {
      std::vector<int64_t> dims(x.dims.begin(), x.dims.end() - 2);
      std::vector<int64_t> shape;
      for (size_t i = 0; i + 2 < r; ++i)
        shape.push_back(x.dims[i] < 0 ? 0 : x.dims[i]);
      dims.push_back(x.dims[r - 2] * x.dims[r - 1]);
      shape.push_back(rarely(12) ? dims.back() + 1 : dims.back());
      if (r == 2 && x.dims[0] < 0)
        return unary(x);
      emit("Reshape(" + x.name + ", " + intInit(shape) + ")", dims);
    } else if (r >= 1 && x.dims.back() > 0 && x.dims.back() % 2 == 0) {
      std::vector<int64_t> dims = x.dims, shape;
      dims.back() /= 2;
      dims.push_back(2);
      for (size_t i = 0; i < dims.size(); ++i)
        shape.push_back(dims[i] < 0 ? 0 : dims[i]);
      emit("Reshape(" + x.name + ", " + intInit(shape) + ")", dims);
    } else {
      unary(x);
    }
    return;
  }
  case 9: { // Reduce over one axis
    if (r == 0)
      return unary(x);
    int64_t axis = pick(0, r - 1);
    bool keep = coin();
    std::vector<int64_t> dims = x.dims;
    if (keep)
      dims[axis] = 1;
    else
      dims.erase(dims.begin() + axis);
    std::string k = std::to_string(keep);
    switch (pick(0, 2)) {
    case 0:
      emit("ReduceSum <keepdims = " + k + ">(" + x.name + ", " + intInit({axis}) + ")", dims);
      break;
    case 1:
      emit("ReduceMean <keepdims = " + k + ", axes = [" + std::to_string(axis) + "]>(" +
               x.name + ")",
           dims);
      break;
    default:
      emit("ReduceMax <keepdims = " + k + ", axes = [" + std::to_string(axis) + "]>(" +
               x.name + ")",
           dims);
    }
    return;
  }
  case 10: { // Concat with itself along a static axis
    if (r == 0)
      return unary(x);
    int64_t axis = pick(0, r - 1);
    if (x.dims[axis] < 0)
      return unary(x);
    std::vector<int64_t> dims = x.dims;
    dims[axis] *= 2;
    emit("Concat <axis = " + std::to_string(axis) + ">(" + x.name + ", " + x.name + ")", dims);
    return;
  }
  case 11: { // Slice or Gather along a static axis
    if (r == 0)
      return unary(x);
    int64_t axis = pick(0, r - 1), n = x.dims[axis];
    if (n < 0)
      return unary(x);
    std::vector<int64_t> dims = x.dims;
    if (coin()) {
      int64_t lo = pick(0, n - 1), hi = pick(lo + 1, n);
      dims[axis] = hi - lo;
      emit("Slice(" + x.name + ", " + intInit({lo}) + ", " + intInit({hi}) + ", " +
               intInit({axis}) + ")",
           dims);
    } else {
      int64_t count = pick(1, 4);
      std::vector<int64_t> idx;
      for (int64_t i = 0; i < count; ++i)
        idx.push_back(rarely(16) ? n + pick(0, 3) : pick(-n, n - 1));
      dims[axis] = count;
      emit("Gather <axis = " + std::to_string(axis) + ">(" + x.name + ", " + intInit(idx) +
               ")",
           dims);
    }
    return;
  }
  case 12: { // LayerNormalization over the last axis
    if (r == 0 || x.dims.back() < 0)
      return unary(x);
    int64_t n = x.dims.back();
    emit("LayerNormalization <axis = -1, epsilon = 0.00001>(" + x.name + ", " +
             floatInit({n}) + ", " + floatInit({n}) + ")",
         x.dims);
    return;
  }
  default: { // Unsqueeze then Squeeze
    int64_t axis = pick(0, r);
    std::vector<int64_t> dims = x.dims;
    dims.insert(dims.begin() + axis, 1);
    Value u = emit("Unsqueeze(" + x.name + ", " + intInit({axis}) + ")", dims);
    if (coin())
      emit("Squeeze(" + u.name + ", " + intInit({axis}) + ")", x.dims);
    return;
  }
  }
}

std::string Generator::generate() {
  size_t rank = pick(1, 4);
  Value x{"x", {}};
  for (size_t i = 0; i < rank; ++i)
    x.dims.push_back(i == 0 && coin() ? -1 : smallDim());
  values.push_back(x);
  int steps = pick(1, 10);
  for (int i = 0; i < steps && fdp.remaining_bytes(); ++i)
    step();
  // The last value, and sometimes another one too (an intermediate used
  // elsewhere: the fusion passes must notice).
  std::vector<Value> outs = {values.back()};
  if (values.size() > 2 && coin())
    outs.push_back(values[pick(1, values.size() - 2)]);
  std::string sig = "fuzz (float" + dimsText(x.dims) + " x) => (";
  for (size_t i = 0; i < outs.size(); ++i) {
    // Output names must differ from every value: copy through Identity.
    std::string y = "y" + std::to_string(i);
    body += "  " + y + " = Identity(" + outs[i].name + ")\n";
    sig += (i ? ", float" : "float") + dimsText(outs[i].dims) + " " + y;
  }
  sig += ")\n";
  std::string text = "<\n  ir_version: 8,\n  opset_import: [\"\" : 17]\n>\n" + sig;
  if (!inits.empty()) {
    text += "<";
    for (size_t i = 0; i < inits.size(); ++i)
      text += (i ? ", " : "") + inits[i];
    text += ">\n";
  }
  return text + "{\n" + body + "}\n";
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using sparsa::fuzz::finding;
  FuzzedDataProvider fdp(data, size);
  bool gpu = fdp.ConsumeBool();
  std::string model = Generator(fdp).generate();
  static const bool print = std::getenv("SPARSA_FUZZ_PRINT") != nullptr;
  static const bool lenient = std::getenv("SPARSA_FUZZ_LENIENT") != nullptr;
  if (print)
    llvm::errs() << model;

  sparsa::fuzz::FuzzContext fc;
  mlir::OwningOpRef<mlir::ModuleOp> module = sparsa::importONNXBuffer(
      &fc.ctx, model, "fuzz.onnxtxt", /*text=*/true, sparsa::ONNXImportOptions());
  if (!module) {
    if (fc.errors == 0)
      finding("the importer failed without an error");
    return 0;
  }
  auto failedStage = [&](const char *stage) {
    if (fc.errors == 0) {
      llvm::errs() << stage << ": ";
      finding("a compile stage failed without an error");
    }
    if (!lenient) {
      llvm::errs() << stage << ": ";
      finding("a model the importer accepted did not compile");
    }
  };
  sparsa::SparsaCPUPipelineOptions options;
  options.emulateGPU = gpu;
  options.vectorBits = 256;
  auto run = [&](auto build) {
    mlir::PassManager pm(&fc.ctx);
    build(pm, options);
    return mlir::succeeded(pm.run(*module));
  };
  if (!run(sparsa::buildSparsaFusionPipeline))
    return failedStage("fusion"), 0;
  if (!run(sparsa::buildSparsaOutlineWeightsPipeline))
    return failedStage("outline"), 0;
  mlir::FailureOr<std::string> info = sparsa::extractWeights(*module, "", 1);
  if (mlir::failed(info))
    return failedStage("weights"), 0;
  if (!run(gpu ? sparsa::buildSparsaGPULoweringPipeline
               : sparsa::buildSparsaCPULoweringPipeline))
    return failedStage("lowering"), 0;
  if (mlir::failed(sparsa::addRuntimeInterface(*module, *info)))
    return failedStage("runtime interface"), 0;
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(*module, llvmCtx);
  if (!llvmModule)
    return failedStage("translation"), 0;
  if (llvm::verifyModule(*llvmModule, &llvm::errs()))
    finding("the LLVM module does not verify");
  return 0;
}
