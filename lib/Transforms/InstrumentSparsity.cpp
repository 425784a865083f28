//===- InstrumentSparsity.cpp - profile counters for sparse FFNs -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The sparsity profiler's compile-time half: one global array of counters
// per sparse FFN, which the FFN's lowering updates on every call and the
// runtime reads back (layout in Passes.td and SparsaDialect.h).
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace sparsa {
#define GEN_PASS_DEF_INSTRUMENTSPARSITYPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace sp = sparsa::sparsa;

namespace {
struct InstrumentSparsityPass final
    : sparsa::impl::InstrumentSparsityPassBase<InstrumentSparsityPass> {
  using InstrumentSparsityPassBase::InstrumentSparsityPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToStart(module.getBody());
    int64_t next = 0;
    module.walk([&](sp::SparseFFNOp op) {
      // Index-set FFNs (CoreInfer, Deja Vu) are told their neurons.
      if (op.getIndices())
        return;
      // w1 [H, F], or packed one row per neuron [F, blocks, bytes].
      int64_t neurons =
          cast<RankedTensorType>(op.getW1().getType()).getDimSize(op.isQuantized() ? 0 : 1);
      if (ShapedType::isDynamic(neurons))
        return;
      std::string name = "sparsa_profile_" + std::to_string(next++);
      auto type = MemRefType::get({sp::kProfileNeuronSlot + neurons}, b.getI64Type());
      auto init = DenseElementsAttr::get(RankedTensorType::get(type.getShape(), b.getI64Type()),
                                         b.getI64IntegerAttr(0).getValue());
      auto global = memref::GlobalOp::create(b, op.getLoc(), name, b.getStringAttr("public"),
                                             type, init, /*constant=*/false,
                                             /*alignment=*/b.getI64IntegerAttr(64));
      // The ONNX node the counters describe, for the profile.
      std::string node = "sparse_ffn";
      if (auto loc = dyn_cast<NameLoc>(op.getLoc()))
        node = loc.getName().str();
      global->setAttr(sp::kProfileNodeAttrName, b.getStringAttr(node));
      op->setAttr(sp::kProfileAttrName, FlatSymbolRefAttr::get(global.getSymNameAttr()));
    });
  }
};
} // namespace
