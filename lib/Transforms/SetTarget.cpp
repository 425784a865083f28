//===- SetTarget.cpp - Record the target a module lowers for --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

namespace sparsa {
#define GEN_PASS_DEF_SETTARGETPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace sp = sparsa::sparsa;

namespace {
struct SetTargetPass final : sparsa::impl::SetTargetPassBase<SetTargetPass> {
  using SetTargetPassBase::SetTargetPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError(); };
    Attribute attr;
    if (target == "cpu")
      attr = sp::CPUTargetAttr::getChecked(emitError, &getContext(), int64_t(rowTasks),
                                           bool(int8Matrices));
    else if (target == "cuda")
      attr = sp::CUDATargetAttr::get(&getContext(), chip);
    else
      module.emitError() << "sparsa-set-target: unknown target '" << target
                         << "' (expected cpu or cuda)";
    if (!attr)
      return signalPassFailure();
    module->setAttr(sp::kTargetAttrName, attr);
  }
};
} // namespace
