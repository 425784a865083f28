//===- OutlineWeights.cpp - Large constants become weight args -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Turns large constants into function arguments tagged with their data, so
// the emitter can put weights into the mmapped sidecar file instead of the
// object file.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Transforms/Passes.h"

namespace sparsa {
#define GEN_PASS_DEF_OUTLINEWEIGHTSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace onnx = sparsa::onnx;

namespace {
struct OutlineWeightsPass final
    : sparsa::impl::OutlineWeightsPassBase<OutlineWeightsPass> {
  using OutlineWeightsPassBase::OutlineWeightsPassBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      SmallVector<onnx::ConstantOp> large;
      func.walk([&](onnx::ConstantOp cst) {
        auto type = cast<ShapedType>(cst.getType());
        if (!type.hasStaticShape() || type.getElementTypeBitWidth() % 8 != 0)
          return;
        int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
        if (bytes >= minBytes)
          large.push_back(cst);
      });
      Block &entry = func.getBody().front();
      for (onnx::ConstantOp cst : large) {
        unsigned idx = func.getNumArguments();
        if (failed(func.insertArgument(idx, cst.getType(),
                                       DictionaryAttr::get(&getContext()),
                                       cst.getLoc())))
          return signalPassFailure();
        func.setArgAttr(idx, sparsa::kWeightAttrName, cst.getValue());
        cst.getResult().replaceAllUsesWith(entry.getArgument(idx));
        cst.erase();
        ++numOutlined;
      }
      // Inputs belong to the caller and weights are mapped read-only: no
      // argument may be bufferized in place.
      for (unsigned i = 0; i < func.getNumArguments(); ++i)
        func.setArgAttr(i, "bufferization.writable",
                        BoolAttr::get(&getContext(), false));
    }
  }
};
} // namespace
