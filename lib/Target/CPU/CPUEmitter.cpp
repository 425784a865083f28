//===- CPUEmitter.cpp - LLVM-dialect module to a loadable library -*- C++ -*-//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Implements the CPU back half: sidecar weights, the runtime interface, LLVM
// optimization and code emission in-process, and the final link.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Target/CPU/CPUEmitter.h"
#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Importer/ONNX/Importer.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

/// The sidecar file starts with this header; each weight is 64-byte aligned.
static constexpr char kSidecarMagic[8] = {'S', 'P', 'A', 'R', 'S', 'A', 'W', '1'};
static constexpr uint64_t kSidecarHeaderBytes = 64;

std::string sparsa::sidecarPathFor(StringRef soPath) {
  return (soPath + ".weights").str();
}

/// Percent-encodes |s| so names never contain spaces or newlines.
static std::string encodeName(StringRef s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '/' ||
        c == ':')
      out.push_back(c);
    else
      out += llvm::formatv("%{0:X-2}", (unsigned)c).str();
  }
  return out.empty() ? "%" : out;
}

static std::string dtypeName(Type t) {
  if (t.isF32()) return "f32";
  if (t.isF16()) return "f16";
  if (t.isBF16()) return "bf16";
  if (t.isF64()) return "f64";
  if (t.isInteger(1)) return "bool";
  if (auto it = dyn_cast<IntegerType>(t))
    return (it.isUnsigned() ? "u" : "i") + std::to_string(it.getWidth());
  return "";
}

/// `<dtype> <rank> <dims...>`; a dynamic dim is `?` or `?<param>`.
static std::string describeType(ShapedType t, ArrayAttr dimParams) {
  std::string s = dtypeName(t.getElementType()) + " " +
                  std::to_string(t.getRank());
  for (int64_t i = 0; i < t.getRank(); ++i) {
    s += " ";
    if (t.isDynamicDim(i)) {
      s += "?";
      if (dimParams && i < (int64_t)dimParams.size())
        if (auto p = dyn_cast<StringAttr>(dimParams[i]))
          if (!p.getValue().empty())
            s += encodeName(p.getValue());
    } else {
      s += std::to_string(t.getDimSize(i));
    }
  }
  return s;
}

FailureOr<std::string> sparsa::extractWeights(ModuleOp module,
                                              StringRef sidecarPath,
                                              uint64_t modelId) {
  auto func = module.lookupSymbol<func::FuncOp>(kEntryFunctionName);
  if (!func)
    return module.emitError("no @") << kEntryFunctionName << " function",
           failure();
  std::string info = "sparsa-model 1\n";
  info += llvm::formatv("id {0:x16}\n", modelId).str();
  std::error_code ec;
  std::unique_ptr<llvm::raw_fd_ostream> out;
  if (!sidecarPath.empty()) {
    out = std::make_unique<llvm::raw_fd_ostream>(sidecarPath, ec);
    if (ec)
      return module.emitError("cannot write weights file '")
                 << sidecarPath << "': " << ec.message(),
             failure();
    char header[kSidecarHeaderBytes] = {};
    std::memcpy(header, kSidecarMagic, 8);
    std::memcpy(header + 8, &modelId, 8);
    out->write(header, sizeof(header));
  }
  uint64_t offset = kSidecarHeaderBytes;
  std::string lines;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto type = cast<ShapedType>(func.getArgument(i).getType());
    if (dtypeName(type.getElementType()).empty())
      return func.emitError("unsupported argument element type ")
                 << type.getElementType(),
             failure();
    auto weight = func.getArgAttrOfType<ElementsAttr>(i, kWeightAttrName);
    if (!weight) {
      auto name = func.getArgAttrOfType<StringAttr>(i, "onnx.name");
      lines += "input " + encodeName(name ? name.getValue() : "") + " " +
               describeType(type, func.getArgAttrOfType<ArrayAttr>(i, "onnx.dim_params")) +
               "\n";
      continue;
    }
    SmallVector<char> storage;
    auto bytes = onnx::getConstantBytes(weight, storage);
    if (failed(bytes))
      return func.emitError("weight ") << i << " has no byte-addressable data",
             failure();
    uint64_t aligned = llvm::alignTo(offset, 64);
    if (out) {
      out->write_zeros(aligned - offset);
      out->write(bytes->data(), bytes->size());
    }
    lines += "weight " + describeType(type, {}) + " " + std::to_string(aligned) +
             "\n";
    offset = aligned + bytes->size();
    func.removeArgAttr(i, kWeightAttrName);
    func.setArgAttr(i, kWeightOffsetAttrName,
                    IntegerAttr::get(IntegerType::get(func.getContext(), 64), aligned));
  }
  for (unsigned i = 0; i < func.getNumResults(); ++i) {
    auto type = cast<ShapedType>(func.getResultTypes()[i]);
    if (!type.hasRank() || dtypeName(type.getElementType()).empty())
      return func.emitError("unsupported output type ") << type, failure();
    auto name = func.getResultAttrOfType<StringAttr>(i, "onnx.name");
    lines += "output " + encodeName(name ? name.getValue() : "") + " " +
             describeType(type, {}) + "\n";
  }
  // Sparsity profile counters (--instrument=sparsity): symbol, neurons,
  // ONNX node.
  module.walk([&](memref::GlobalOp g) {
    auto node = g->getAttrOfType<StringAttr>(::sparsa::sparsa::kProfileNodeAttrName);
    if (!node)
      return;
    int64_t neurons = g.getType().getNumElements() - ::sparsa::sparsa::kProfileNeuronSlot;
    lines += "profile " + g.getSymName().str() + " " + std::to_string(neurons) + " " +
             encodeName(node.getValue()) + "\n";
    g->removeAttr(::sparsa::sparsa::kProfileNodeAttrName);
  });
  // Run-time checks: the status word and each check's message.
  if (auto status = module.lookupSymbol<memref::GlobalOp>(::sparsa::sparsa::kRunStatusSymbol)) {
    lines += "status " + status.getSymName().str() + "\n";
    if (auto messages =
            status->getAttrOfType<ArrayAttr>(::sparsa::sparsa::kCheckMessagesAttrName))
      for (auto [i, m] : llvm::enumerate(messages))
        lines += "check " + std::to_string(i + 1) + " " +
                 encodeName(cast<StringAttr>(m).getValue()) + "\n";
    status->removeAttr(::sparsa::sparsa::kCheckMessagesAttrName);
  }
  // The names now live in the description; the attributes would only
  // trouble the LLVM translation.
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    func.removeArgAttr(i, "onnx.name");
    func.removeArgAttr(i, "onnx.dim_params");
  }
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    func.removeResultAttr(i, StringAttr::get(module.getContext(), "onnx.name"));
  if (out) {
    out->close();
    if (out->has_error())
      return module.emitError("error writing weights file '") << sidecarPath << "'",
             failure();
  }
  info += "weights " +
          encodeName(sidecarPath.empty() ? "" : llvm::sys::path::filename(sidecarPath)) +
          " " + std::to_string(offset) + "\n";
  return info + lines;
}

LogicalResult sparsa::addRuntimeInterface(ModuleOp module, StringRef modelInfo) {
  MLIRContext *ctx = module.getContext();
  std::string ciName = (Twine("_mlir_ciface_") + kEntryFunctionName).str();
  auto ciface = module.lookupSymbol<LLVM::LLVMFuncOp>(ciName);
  if (!ciface)
    return module.emitError("missing C interface function ") << ciName;
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  Location loc = module.getLoc();
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  auto fnTy = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptrTy});
  auto entry = LLVM::LLVMFuncOp::create(b, loc, "sparsa_entry", fnTy);
  Block *blk = entry.addEntryBlock(b);
  b.setInsertionPointToStart(blk);
  SmallVector<Value> callArgs;
  for (auto [i, t] : llvm::enumerate(ciface.getFunctionType().getParams())) {
    if (!isa<LLVM::LLVMPointerType>(t))
      return ciface.emitError("expected only pointer parameters in the C "
                              "interface (got ")
             << t << ")";
    Value slot = LLVM::GEPOp::create(b, loc, ptrTy, ptrTy, blk->getArgument(0),
                                     ArrayRef<LLVM::GEPArg>{(int32_t)i});
    callArgs.push_back(LLVM::LoadOp::create(b, loc, ptrTy, slot));
  }
  LLVM::CallOp::create(b, loc, ciface, callArgs);
  LLVM::ReturnOp::create(b, loc, ValueRange{});

  b.setInsertionPointToEnd(module.getBody());
  std::string text = modelInfo.str();
  text.push_back('\0');
  auto arrTy = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), text.size());
  LLVM::GlobalOp::create(b, loc, arrTy, /*isConstant=*/true,
                         LLVM::Linkage::External, "sparsa_model_info",
                         b.getStringAttr(text));
  return success();
}

std::unique_ptr<llvm::TargetMachine>
sparsa::createCPUTargetMachine(StringRef cpu, unsigned optLevel,
                               std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  std::string cpuName = cpu.str(), features;
  if (cpu == "native") {
    cpuName = llvm::sys::getHostCPUName().str();
    for (auto &f : llvm::sys::getHostCPUFeatures())
      features += (f.second ? "+" : "-") + f.first().str() + ",";
  }
  llvm::TargetOptions options;
  // Constructors (a CUDA model's module load) go to .init_array, which the
  // dynamic loader runs; .ctors needs crtbegin's walker, which a library
  // linked without the C runtime's start files does not have.
  options.UseInitArray = true;
  auto level = optLevel == 0   ? llvm::CodeGenOptLevel::None
               : optLevel == 1 ? llvm::CodeGenOptLevel::Less
               : optLevel == 2 ? llvm::CodeGenOptLevel::Default
                               : llvm::CodeGenOptLevel::Aggressive;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpuName, features, options, llvm::Reloc::PIC_, std::nullopt,
      level));
  if (!tm) {
    error = "cannot create a target machine for CPU '" + cpuName + "'";
    return nullptr;
  }
  if (cpu != "native" && !tm->getMCSubtargetInfo()->isCPUStringValid(cpuName)) {
    error = "unknown CPU '" + cpuName + "' (try --cpu=native)";
    return nullptr;
  }
  return tm;
}

std::unique_ptr<llvm::Module>
sparsa::translateAndOptimize(ModuleOp module, llvm::LLVMContext &llvmCtx,
                             llvm::TargetMachine &tm, unsigned optLevel,
                             std::string &error) {
  // Code generation's note of where weights sit has served its purpose.
  module.walk([](LLVM::LLVMFuncOp func) {
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      func.removeArgAttr(i, StringAttr::get(func.getContext(), kWeightOffsetAttrName));
  });
  auto llvmModule = translateModuleToLLVMIR(module, llvmCtx, "sparsa_model");
  if (!llvmModule) {
    error = "translation to LLVM IR failed";
    return nullptr;
  }
  llvmModule->setDataLayout(tm.createDataLayout());
  llvmModule->setTargetTriple(tm.getTargetTriple());
  // Functions get the target's CPU and features so the optimizer's cost
  // model (vector width, FMA) matches the machine. With AVX-512, loops the
  // vectorizer handles (element-wise chains, exp) use full-width vectors
  // like the generated kernels do: LLVM's default preference of 256 bits
  // guards against frequency drops that recent cores no longer have.
  bool avx512 = tm.getMCSubtargetInfo()->checkFeatures("+avx512f");
  // The run status word is per thread: concurrent runs of one model report
  // their own errors (checks run on the calling thread).
  if (llvm::GlobalVariable *status =
          llvmModule->getGlobalVariable(::sparsa::sparsa::kRunStatusSymbol))
    status->setThreadLocal(true);
  for (llvm::Function &f : *llvmModule) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", tm.getTargetCPU());
    f.addFnAttr("target-features", tm.getTargetFeatureString());
    if (avx512)
      f.addFnAttr("prefer-vector-width", "512");
  }
  auto transformer = makeOptimizingTransformer(optLevel, 0, &tm);
  if (llvm::Error err = transformer(llvmModule.get())) {
    error = llvm::toString(std::move(err));
    return nullptr;
  }
  return llvmModule;
}

bool sparsa::emitMachineCode(llvm::Module &module, llvm::TargetMachine &tm,
                             StringRef path, bool assembly, std::string &error) {
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot open '" + path.str() + "': " + ec.message();
    return false;
  }
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, out.os(), nullptr,
                             assembly ? llvm::CodeGenFileType::AssemblyFile
                                      : llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit this file type";
    return false;
  }
  pm.run(module);
  out.keep();
  return true;
}

bool sparsa::linkSharedLibrary(StringRef objectPath, StringRef soPath,
                               std::string &error) {
  auto clang = llvm::sys::findProgramByName("clang-22");
  if (!clang)
    clang = llvm::sys::findProgramByName("clang");
  if (!clang) {
    error = "cannot find clang-22 to link the shared library";
    return false;
  }
  // libomp from the LLVM installation the compiler was built with.
  std::string libDir = "/usr/lib/llvm-22/lib";
  SmallVector<std::string> args = {
      *clang,      "-shared",       "-fuse-ld=lld", "-o", soPath.str(),
      objectPath.str(), "-L" + libDir, "-Wl,-rpath," + libDir,
      "-Wl,--as-needed", "-lomp", "-lm"};
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(*clang, argRefs, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0) {
    error = "linking failed (" + std::to_string(rc) + ")" +
            (msg.empty() ? "" : ": " + msg);
    return false;
  }
  return true;
}
