//===- sparsa-compile.cpp - ONNX model to a loadable library ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The ahead-of-time compiler driver: import, fuse, lower, emit. Flags are the
// contract in DESIGN.md; every stage can be printed with --emit. Errors are
// printed as `MODEL.onnx:<node name>: error: ...` and the exit code is 1.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Conversion/Passes.h"
#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Importer/ONNX/Importer.h"
#include "sparsa/Pipelines/Pipelines.h"
#include "sparsa/Target/CPU/CPUEmitter.h"
#include "sparsa/Target/CUDA/CUDAEmitter.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <random>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory sparsaCategory("sparsa-compile options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"),
                                      cl::Required, cl::cat(sparsaCategory));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("path"), cl::init("-"), cl::cat(sparsaCategory));
static cl::opt<std::string> target("target", cl::desc("cpu or cuda"),
                                   cl::init("cpu"), cl::cat(sparsaCategory));
static cl::opt<std::string> cpu("cpu", cl::desc("CPU to tune for"),
                                cl::init("native"), cl::cat(sparsaCategory));
static cl::opt<std::string> gpuArch("gpu-arch", cl::desc("GPU architecture"),
                                    cl::init("sm_80"), cl::cat(sparsaCategory));
static cl::list<std::string> inputShapes(
    "input-shape", cl::desc("Pin an input's shape: NAME:D0xD1x..."), cl::cat(sparsaCategory));
static cl::opt<std::string>
    emit("emit",
         cl::desc("so|mlir-onnx|mlir-fused|mlir-lowered|llvm-ir|asm|obj|ptx"),
         cl::init("so"), cl::cat(sparsaCategory));
static cl::opt<std::string> reportFile("report", cl::desc("Write a JSON report"),
                                       cl::init(""), cl::cat(sparsaCategory));
static cl::opt<std::string>
    disableFusion("disable-fusion",
                  cl::desc("Comma-separated families: routing,activation_sparsity,"
                           "quantization,flow_attention; also attention (the dense "
                           "softmax attention kernel fusion)"),
                  cl::init(""), cl::cat(sparsaCategory));
static cl::opt<std::string>
    instrument("instrument",
               cl::desc("Build an instrumented library: 'sparsity' counts each sparse "
                        "FFN's active neurons per token (read with sparsa-run --profile)"),
               cl::init(""), cl::cat(sparsaCategory));
static cl::opt<char> optLevel("O", cl::desc("Optimization level 0-3"),
                              cl::Prefix, cl::init('3'), cl::cat(sparsaCategory));
static cl::opt<int64_t> parallelTasks(
    "parallel-tasks",
    cl::desc("Tuning: target number of parallel tiles per op (0 = no threads)"),
    cl::init(-1), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> gpuEmulate(
    "x-gpu-emulate",
    cl::desc("Test aid: lower with the GPU device mapping but run its kernels "
             "on the host (a CPU library)"),
    cl::init(false), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> gpuEmulateAdversarial(
    "x-gpu-emulate-adversarial",
    cl::desc("Test aid, with --x-gpu-emulate: run each launch's blocks and "
             "threads in reverse order and fill device allocations with NaN "
             "/ 0xA5 bytes"),
    cl::init(false), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<int64_t> gpuVectorWidth(
    "x-gpu-vector-width",
    cl::desc("Tuning, --target=cuda: outputs along n per matmul thread (one "
             "vector load of 1, 2 or 4 floats; 1 = scalar threads)"),
    cl::init(4), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<int64_t> gpuUnroll(
    "x-gpu-unroll",
    cl::desc("Tuning, --target=cuda: reduction steps whose loads a matmul "
             "thread issues together, divided by its rows"),
    cl::init(8), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> gpuSharedTiles(
    "x-gpu-shared-tiles",
    cl::desc("Tuning, --target=cuda: GEMMs of at least 64 x 64 outputs stage "
             "operand tiles through shared memory (=false: register-tiled "
             "threads only)"),
    cl::init(true), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> selfSchedule(
    "x-self-schedule",
    cl::desc("Tuning, CPU: a parallel region's last loop hands out its "
             "iterations from a shared counter (=false: libomp's dynamic "
             "schedule)"),
    cl::init(true), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> gpuWarpCompaction(
    "x-gpu-warp-compaction",
    cl::desc("Tuning, --target=cuda: active-index lists built by warps "
             "(vote.ballot + popc; =false: chunks of 128 positions per thread)"),
    cl::init(true), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> gpuQuantizedGemv(
    "x-gpu-quantized-gemv",
    cl::desc("Tuning, --target=cuda: packed int4 / int8 GEMVs read 16-byte "
             "vectors of codes, dp4a with --int8-activations (=false: split-K "
             "byte loops)"),
    cl::init(true), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> gpuTensorCores(
    "x-gpu-tensor-cores",
    cl::desc("Tuning, --target=cuda: f16 / bf16 matmuls run on tensor cores "
             "(mma.sync; =false: scalar threads)"),
    cl::init(true), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<int64_t> gpuTargetThreads(
    "x-gpu-target-threads",
    cl::desc("Tuning, --target=cuda: threads split-K (and the chunked quantized GEMVs) aim for"),
    cl::init(131072), cl::Hidden, cl::cat(sparsaCategory));
static cl::opt<bool> int8Activations(
    "int8-activations",
    cl::desc("Quantized matmuls (int4 / int8 weights) quantize their float "
             "activations to int8 per block and use int8 dot products (ONNX "
             "Runtime's accuracy_level 4; fast with AVX-512 VNNI, dp4a on "
             "--target=cuda)"),
    cl::init(false), cl::cat(sparsaCategory));
static cl::opt<bool> textInput("x-onnx-text",
                               cl::desc("Read the model as ONNX text syntax"),
                               cl::init(false), cl::cat(sparsaCategory));

static const char *const kFamilies[] = {"routing", "activation_sparsity",
                                        "quantization", "flow_attention"};

namespace {
/// Collects what the report needs while the stages run.
struct Report {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  llvm::json::Object stages;
  std::vector<std::string> errors;
  std::string cpuName;
  llvm::StringMap<int64_t> fused;
  int64_t attention = 0;
  llvm::json::Array unfused;
  /// What fused ops left outside themselves (e.g. a gate kept as ONNX ops).
  llvm::json::Array notes;
  /// Counts the fused regions per family and collects the candidates a
  /// fusion pass marked as not fused, with the node and the reason, and
  /// the notes fused ops carry.
  void collectFusions(ModuleOp module) {
    module.walk([&](Operation *op) {
      StringRef family = sparsa::sparsa::fusionFamily(op);
      if (!family.empty())
        ++fused[family];
      if (isa<sparsa::sparsa::AttentionOp>(op))
        ++attention;
      std::string node;
      if (auto name = dyn_cast<NameLoc>(op->getLoc()))
        node = name.getName().str();
      // {family = text} entries of attribute |attr| as report objects.
      auto collect = [&](StringRef attr, StringRef key, llvm::json::Array &into) {
        if (auto marks = op->getAttrOfType<DictionaryAttr>(attr))
          for (NamedAttribute m : marks)
            into.push_back(llvm::json::Object{
                {"node", node},
                {"op", op->getName().getStringRef()},
                {"family", m.getName().strref()},
                {key, cast<StringAttr>(m.getValue()).getValue()}});
      };
      collect(sparsa::kFusionNoteAttrName, "note", notes);
      collect(sparsa::kUnfusedAttrName, "reason", unfused);
    });
  }
  double mark(const char *stage, std::chrono::steady_clock::time_point &t0) {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - t0).count();
    stages[stage] = s;
    t0 = now;
    return s;
  }
  void write(bool ok) {
    if (reportFile.empty())
      return;
    llvm::json::Object fusions;
    for (const char *f : kFamilies)
      fusions[f] = fused.lookup(f);
    llvm::json::Array errs;
    for (auto &e : errors)
      errs.push_back(e);
    llvm::json::Object root{
        {"model", inputFile.getValue()},
        {"target", target.getValue()},
        {"cpu", cpuName},
        {"emit", emit.getValue()},
        {"success", ok},
        {"fusions", std::move(fusions)},
        // Dense kernel fusions (not sparsity families).
        {"kernel_fusions", llvm::json::Object{{"attention", attention}}},
        {"unfused", llvm::json::Array(unfused)},
        {"notes", llvm::json::Array(notes)},
        {"compile_seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
             .count()},
        {"stage_seconds", std::move(stages)},
        {"errors", std::move(errs)}};
    std::error_code ec;
    llvm::raw_fd_ostream os(reportFile, ec);
    if (ec) {
      llvm::errs() << reportFile << ": error: cannot write report: "
                   << ec.message() << "\n";
      return;
    }
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  }
};
} // namespace

/// Prints a diagnostic as `MODEL:<node>: error: message`.
static std::string formatDiagnostic(Diagnostic &diag) {
  std::string where = inputFile;
  Location loc = diag.getLocation();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      loc = fused.getLocations().front();
  if (auto name = dyn_cast<NameLoc>(loc))
    where += ":" + name.getName().str();
  else if (!isa<FileLineColLoc>(loc) && !isa<UnknownLoc>(loc)) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << loc;
    where += ":" + s;
  }
  const char *sev = diag.getSeverity() == DiagnosticSeverity::Error     ? "error"
                    : diag.getSeverity() == DiagnosticSeverity::Warning ? "warning"
                    : diag.getSeverity() == DiagnosticSeverity::Note    ? "note"
                                                                        : "remark";
  return where + ": " + sev + ": " + diag.str();
}

static bool writeText(StringRef path, llvm::function_ref<void(llvm::raw_ostream &)> fn) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    llvm::errs() << path << ": error: cannot open for writing: " << ec.message()
                 << "\n";
    return false;
  }
  fn(os);
  return true;
}

static int fatal(Report &report, const std::string &msg) {
  llvm::errs() << inputFile << ": error: " << msg << "\n";
  report.errors.push_back(msg);
  report.write(false);
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // The pass-manager debugging flags (--mlir-print-ir-after=PASS,
  // --mlir-print-ir-after-failure, ...) as sparsa-opt has them; hidden
  // from --help.
  registerAllPasses();
  sparsa::registerSparsaConversionPasses();
  sparsa::registerSparsaTransformsPasses();
  mlir::registerPassManagerCLOptions();
  // --help lists Sparsa's options only (LLVM's own stay usable, hidden).
  cl::HideUnrelatedOptions(sparsaCategory);
  cl::ParseCommandLineOptions(argc, argv, "Sparsa ahead-of-time compiler\n");
  Report report;

  static const llvm::StringSet<> emits = {"so", "mlir-onnx", "mlir-fused",
                                          "mlir-lowered", "llvm-ir", "asm",
                                          "obj", "ptx"};
  if (!emits.contains(emit))
    return fatal(report, "unknown --emit=" + emit);
  if (target != "cpu" && target != "cuda")
    return fatal(report, "unknown --target=" + target + " (expected cpu or cuda)");
  if (emit == "ptx" && target != "cuda")
    return fatal(report, "--emit=ptx requires --target=cuda");
  bool cuda = target == "cuda" && !gpuEmulate;
  std::vector<std::string> gpuArchs = sparsa::cudaArchitectures(gpuArch);
  for (const std::string &a : gpuArchs)
    if (!llvm::StringRef(a).starts_with("sm_") || std::atoi(a.c_str() + 3) < 50)
      return fatal(report, "unknown --gpu-arch=" + a + " (expected sm_XX, e.g. sm_80)");
  if (cuda && !instrument.empty())
    return fatal(report, "--instrument=sparsity is not supported with --target=cuda");
  if (optLevel < '0' || optLevel > '3')
    return fatal(report, std::string("invalid optimization level -O") +
                             optLevel.getValue());
  for (StringRef f : llvm::split(StringRef(disableFusion), ',')) {
    if (f.empty())
      continue;
    if (!llvm::is_contained(kFamilies, f) && f != "attention")
      return fatal(report, "unknown fusion family '" + f.str() +
                               "' in --disable-fusion");
  }
  if (!instrument.empty() && instrument != "sparsity")
    return fatal(report, "unknown --instrument=" + instrument + " (expected sparsity)");
  if (emit == "so" && outputFile == "-")
    return fatal(report, "-o OUT.so is required");
  unsigned opt = optLevel - '0';

  sparsa::ONNXImportOptions importOptions;
  importOptions.forceText = textInput;
  for (const std::string &s : inputShapes) {
    std::string err = sparsa::parseInputShapeFlag(s, importOptions);
    if (!err.empty())
      return fatal(report, err);
  }

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  registry.insert<sparsa::onnx::ONNXDialect, sparsa::sparsa::SparsaDialect>();
  MLIRContext ctx(registry);
  ctx.disableMultithreading(); // 2-core machine; pass-level threads do not pay.
  ctx.printOpOnDiagnostic(false); // the node name says where; no IR dumps
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    std::string line = formatDiagnostic(diag);
    llvm::errs() << line << "\n";
    for (Diagnostic &note : diag.getNotes())
      llvm::errs() << formatDiagnostic(note) << "\n";
    if (diag.getSeverity() == DiagnosticSeverity::Error)
      report.errors.push_back(line);
    return success();
  });

  auto t0 = std::chrono::steady_clock::now();
  OwningOpRef<ModuleOp> module =
      sparsa::importONNXFile(&ctx, inputFile, importOptions);
  if (!module) {
    report.write(false);
    return 1;
  }
  report.mark("import", t0);
  auto printModule = [&](StringRef path) {
    return writeText(path,
                     [&](llvm::raw_ostream &os) {
                       // Locations carry the ONNX node names: keep them.
                       module->print(os, OpPrintingFlags().enableDebugInfo());
                     })
               ? 0
               : 1;
  };
  if (emit == "mlir-onnx") {
    report.write(true);
    return printModule(outputFile);
  }

  sparsa::SparsaCPUPipelineOptions options;
  options.disableFusion = disableFusion;
  // The target decides the kernels: vector width, int8 dot products.
  std::string error;
  auto tm = sparsa::createCPUTargetMachine(cpu, opt, error);
  if (!tm)
    return fatal(report, error);
  {
    const llvm::MCSubtargetInfo *sti = tm->getMCSubtargetInfo();
    options.vectorBits = sti->checkFeatures("+avx512f")  ? 512
                         : sti->checkFeatures("+avx2") ? 256
                                                       : 128;
    options.vnni = sti->checkFeatures("+avx512f,+avx512vnni");
  }
  // The int8 semantics do not depend on the machine: without VNNI the
  // same int32 products run as portable loops (correct, not fast).
  // (CUDA: the GPU's int8 GEMVs are dp4a kernels.)
  if (int8Activations && !cuda && !options.vnni)
    llvm::errs() << inputFile << ": warning: --int8-activations without AVX-512 VNNI on this "
                 << "target: the int8 products run as portable loops (slow)\n";
  options.int8Activations = int8Activations;
  options.instrumentSparsity = instrument == "sparsity";
  if (parallelTasks >= 0)
    options.parallelTasks = parallelTasks;
  auto runPipeline = [&](auto build, const char *stage) {
    PassManager pm(&ctx);
    build(pm, options);
    if (failed(mlir::applyPassManagerCLOptions(pm)))
      return false;
    if (failed(pm.run(*module)))
      return false;
    report.mark(stage, t0);
    return true;
  };
  if (!runPipeline(sparsa::buildSparsaFusionPipeline, "fusion")) {
    report.write(false);
    return 1;
  }
  report.collectFusions(*module);
  if (emit == "mlir-fused") {
    report.write(true);
    return printModule(outputFile);
  }
  if (!runPipeline(sparsa::buildSparsaOutlineWeightsPipeline, "outline")) {
    report.write(false);
    return 1;
  }
  std::random_device rd;
  uint64_t modelId = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  std::string sidecar = emit == "so" ? sparsa::sidecarPathFor(outputFile) : "";
  FailureOr<std::string> info = sparsa::extractWeights(*module, sidecar, modelId);
  if (failed(info)) {
    report.write(false);
    return 1;
  }
  report.mark("weights", t0);
  options.gpuChip = gpuArchs.front();
  if (gpuVectorWidth != 1 && gpuVectorWidth != 2 && gpuVectorWidth != 4) {
    llvm::errs() << "sparsa-compile: --x-gpu-vector-width must be 1, 2 or 4\n";
    return 1;
  }
  if (gpuTargetThreads < 1) {
    llvm::errs() << "sparsa-compile: --x-gpu-target-threads must be positive\n";
    return 1;
  }
  options.gpuVectorWidth = gpuVectorWidth;
  options.gpuTargetThreads = gpuTargetThreads;
  options.gpuUnroll = std::max<int64_t>(1, gpuUnroll);
  options.gpuSharedTiles = gpuSharedTiles;
  options.gpuTensorCores = gpuTensorCores;
  options.gpuQuantizedGemv = gpuQuantizedGemv;
  options.gpuWarpCompaction = gpuWarpCompaction;
  options.selfSchedule = selfSchedule;
  options.emulateGPU = gpuEmulate;
  options.emulateAdversarial = gpuEmulateAdversarial;
  if (!runPipeline(cuda || gpuEmulate ? sparsa::buildSparsaGPULoweringPipeline
                        : sparsa::buildSparsaCPULoweringPipeline,
                   "lowering")) {
    report.write(false);
    return 1;
  }
  if (cuda) {
    // Device code: a cubin per architecture and the PTX, in one fat binary.
    std::string ptx;
    if (failed(sparsa::buildCUDAFatBinaries(
            *module, gpuArchs, sparsa::cudaToolkitPath(""), ptx))) {
      report.write(false);
      return 1;
    }
    report.mark("ptxas", t0);
    if (emit == "ptx") {
      report.write(true);
      return writeText(outputFile, [&](llvm::raw_ostream &os) { os << ptx; }) ? 0 : 1;
    }
    *info += "target cuda\n";
  }
  if (failed(sparsa::addRuntimeInterface(*module, *info))) {
    report.write(false);
    return 1;
  }
  if (emit == "mlir-lowered") {
    report.write(true);
    return printModule(outputFile);
  }

  report.cpuName = tm->getTargetCPU().str();
  llvm::LLVMContext llvmCtx;
  auto llvmModule = sparsa::translateAndOptimize(*module, llvmCtx, *tm, opt, error);
  if (!llvmModule)
    return fatal(report, error);
  report.mark("llvm_opt", t0);
  if (emit == "llvm-ir") {
    report.write(true);
    return writeText(outputFile, [&](llvm::raw_ostream &os) { llvmModule->print(os, nullptr); })
               ? 0
               : 1;
  }
  if (emit == "asm" || emit == "obj") {
    if (!sparsa::emitMachineCode(*llvmModule, *tm, outputFile, emit == "asm", error))
      return fatal(report, error);
    report.mark("codegen", t0);
    report.write(true);
    return 0;
  }
  // emit == "so": object to a temporary file next to the output, then link.
  std::string objPath = outputFile + ".o";
  if (!sparsa::emitMachineCode(*llvmModule, *tm, objPath, false, error))
    return fatal(report, error);
  report.mark("codegen", t0);
  bool linked = sparsa::linkSharedLibrary(objPath, outputFile, error);
  llvm::sys::fs::remove(objPath);
  if (!linked)
    return fatal(report, error);
  report.mark("link", t0);
  report.write(true);
  return 0;
}
