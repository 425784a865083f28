//===- CUDAEmitter.cpp - PTX to fat binaries with the CUDA toolkit -*- C++ -*-//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// MLIR's NVPTX serialization gives PTX for one chip; a shipped model needs
// cubins for the GPUs it will meet plus PTX for newer ones. ptxas and
// fatbinary from the toolkit do that here, and the result goes back into
// the `gpu.binary` as a fatbin object, which the LLVM translation embeds
// and loads with mgpuModuleLoad.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Target/CUDA/CUDAEmitter.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <regex>

using namespace mlir;

std::vector<std::string> sparsa::cudaArchitectures(llvm::StringRef requested) {
  auto number = [](const std::string &a) { return std::atoi(a.c_str() + 3); };
  std::vector<std::string> archs;
  for (llvm::StringRef a : llvm::split(requested, ','))
    if (!a.trim().empty() && !llvm::is_contained(archs, a.trim().str()))
      archs.push_back(a.trim().str());
  if (archs.empty())
    archs.push_back("sm_80");
  // The PTX targets the first; a cubin cannot be built for an older GPU.
  for (const char *a : {"sm_80", "sm_90"})
    if (!llvm::is_contained(archs, a) && number(a) >= number(archs.front()))
      archs.push_back(a);
  std::sort(archs.begin() + 1, archs.end(),
            [&](auto &x, auto &y) { return number(x) < number(y); });
  return archs;
}

namespace {
/// Temporary files removed on scope exit.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (auto &p : paths)
      llvm::sys::fs::remove(p);
  }
  std::string make(llvm::StringRef suffix) {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createTemporaryFile("sparsa-cuda", suffix, path))
      return "";
    paths.push_back(path.str().str());
    return paths.back();
  }
};
} // namespace

namespace {
/// A toolkit program started in the background; finish() waits for it.
struct ToolRun {
  std::string program, errFile;
  llvm::sys::ProcessInfo process;
  bool started = false;
  std::string startError;

  /// On failure |error| gets the program's stderr.
  bool finish(std::string &error) {
    if (!started) {
      error = startError;
      return false;
    }
    std::string msg;
    llvm::sys::ProcessInfo done =
        llvm::sys::Wait(process, std::nullopt, &msg);
    if (done.ReturnCode == 0)
      return true;
    auto buf = llvm::MemoryBuffer::getFile(errFile);
    error = program + " failed" + (msg.empty() ? "" : " (" + msg + ")") + ": " +
            (buf ? (*buf)->getBuffer().trim().str() : std::string("no output"));
    return false;
  }
};
} // namespace

/// Starts |program| from the toolkit (else from PATH) with |args|.
static ToolRun startTool(llvm::StringRef toolkit, llvm::StringRef program,
                         std::vector<std::string> args, TempFiles &tmp) {
  ToolRun run;
  run.program = program.str();
  std::string path = (toolkit + "/bin/" + program).str();
  if (!llvm::sys::fs::can_execute(path)) {
    auto found = llvm::sys::findProgramByName(program);
    if (!found) {
      run.startError = "cannot find " + program.str() + " (CUDA toolkit at '" +
                       toolkit.str() + "'; set CUDA_HOME)";
      return run;
    }
    path = *found;
  }
  run.errFile = tmp.make("err");
  args.insert(args.begin(), path);
  llvm::SmallVector<llvm::StringRef> refs(args.begin(), args.end());
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, std::nullopt,
                                                llvm::StringRef(run.errFile)};
  bool failed = false;
  run.process = llvm::sys::ExecuteNoWait(path, refs, std::nullopt, redirects, 0,
                                         &run.startError, &failed);
  run.started = !failed;
  return run;
}

LogicalResult sparsa::buildCUDAFatBinaries(ModuleOp module,
                                           const std::vector<std::string> &archs,
                                           llvm::StringRef toolkit, std::string &ptx) {
  TempFiles tmp;
  WalkResult result = module.walk([&](gpu::BinaryOp binary) {
    SmallVector<Attribute> objects;
    for (Attribute a : binary.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(a);
      if (object.getFormat() != gpu::CompilationTarget::Assembly) {
        objects.push_back(a);
        continue;
      }
      llvm::StringRef text = object.getObject().getValue();
      ptx += text.str();
      // libdevice must have been linked: an extern __nv_ function would
      // fail at module load on the GPU, far from here.
      std::smatch m;
      std::string s = text.str();
      if (std::regex_search(s, m, std::regex(R"(\.extern \.func[^;]*?(__nv_[A-Za-z0-9]+))")))
        return binary.emitError("the device code calls ")
                   << m[1].str()
                   << " but libdevice was not linked (set CUDA_HOME to the CUDA toolkit)",
               WalkResult::interrupt();
      std::string ptxPath = tmp.make("ptx");
      {
        std::error_code ec;
        llvm::raw_fd_ostream os(ptxPath, ec);
        os << text;
      }
      std::vector<std::string> fatArgs = {"--64", "--compress-all"};
      std::string error;
      // One ptxas per architecture, all at once.
      std::vector<ToolRun> runs;
      for (const std::string &arch : archs) {
        std::string cubin = tmp.make("cubin");
        runs.push_back(startTool(toolkit, "ptxas",
                                 {"-arch=" + arch, "-O3", ptxPath, "-o", cubin}, tmp));
        fatArgs.push_back("--image3=kind=elf,sm=" + arch.substr(3) + ",file=" + cubin);
      }
      bool ok = true;
      for (ToolRun &run : runs)
        if (!run.finish(error) && ok) {
          ok = false;
          binary.emitError(error);
        }
      if (!ok)
        return WalkResult::interrupt();
      // The PTX's own target (`.target sm_XX`), JIT-compiled on newer GPUs.
      std::smatch t;
      std::string ptxArch = std::regex_search(s, t, std::regex(R"(\.target sm_(\d+))"))
                                ? t[1].str()
                                : archs.front().substr(3);
      fatArgs.push_back("--image3=kind=ptx,sm=" + ptxArch + ",file=" + ptxPath);
      std::string fatbin = tmp.make("fatbin");
      fatArgs.push_back("--create=" + fatbin);
      if (!startTool(toolkit, "fatbinary", fatArgs, tmp).finish(error))
        return binary.emitError(error), WalkResult::interrupt();
      auto bytes = llvm::MemoryBuffer::getFile(fatbin, /*IsText=*/false);
      if (!bytes)
        return binary.emitError("cannot read the fat binary"), WalkResult::interrupt();
      objects.push_back(gpu::ObjectAttr::get(
          binary.getContext(), object.getTarget(), gpu::CompilationTarget::Fatbin,
          StringAttr::get(binary.getContext(), (*bytes)->getBuffer()),
          object.getProperties(), object.getKernels()));
    }
    binary.setObjectsAttr(ArrayAttr::get(binary.getContext(), objects));
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}
