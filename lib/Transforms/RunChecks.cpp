//===- RunChecks.cpp - numbered run-time checks of model inputs -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"

namespace sparsa {
#define GEN_PASS_DEF_RUNCHECKSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace sp = sparsa::sparsa;

namespace {
struct RunChecksPass final : sparsa::impl::RunChecksPassBase<RunChecksPass> {
  using RunChecksPassBase::RunChecksPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    SmallVector<Attribute> messages;
    auto node = [](Operation *op) -> std::string {
      if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
        return loc.getName().str();
      return op->getName().getStringRef().str();
    };
    auto neurons = [](Value w, int64_t dim) -> std::string {
      int64_t n = cast<RankedTensorType>(w.getType()).getDimSize(dim);
      return ShapedType::isDynamic(n) ? std::string("the FFN's neurons")
                                      : "[-" + std::to_string(n) + ", " + std::to_string(n) + ")";
    };
    module.walk([&](Operation *op) {
      std::string what;
      if (auto ffn = dyn_cast<sp::SparseFFNOp>(op); ffn && ffn.getIndices())
        what = "a neuron index of the index set is out of range " + neurons(ffn.getW2(), 0);
      else if (auto topk = dyn_cast<sp::TopKMatMulOp>(op))
        what = "a neuron index of the top-k activation is out of range " +
               neurons(topk.getW(), 0);
      else if (auto gather = dyn_cast<sparsa::onnx::GatherOp>(op);
               gather && !matchPattern(gather.getIndices(), m_Constant())) {
        // Indices computed at run time (token ids into an embedding, say);
        // constant ones are checked by the importer's shape inference.
        auto data = cast<RankedTensorType>(gather.getData().getType());
        int64_t axis = gather.getAxis() < 0 ? gather.getAxis() + data.getRank()
                                            : gather.getAxis();
        int64_t n = axis >= 0 && axis < data.getRank() ? data.getDimSize(axis)
                                                        : ShapedType::kDynamic;
        what = "an index is out of range " +
               (ShapedType::isDynamic(n) ? std::string("of the data")
                                         : "[-" + std::to_string(n) + ", " + std::to_string(n) + ")") +
               " along axis " + std::to_string(axis);
      }
      if (auto la = dyn_cast<sparsa::onnx::LinearAttentionOp>(op)) {
        // Sizes only known at run time must agree (the kernels read every
        // input at the query's batch and sequence indices).
        auto dim = [](Value v, int64_t i) {
          return cast<RankedTensorType>(v.getType()).getDimSize(i);
        };
        auto unsure = [](int64_t a, int64_t b) {
          return ShapedType::isDynamic(a) || ShapedType::isDynamic(b);
        };
        bool check = la.getPastState() &&
                     unsure(dim(la.getPastState(), 0), dim(la.getQuery(), 0));
        for (Value in : {la.getKey(), la.getValue(), la.getDecay(), la.getBeta()})
          for (int64_t i : {0, 1})
            check |= in && unsure(dim(in, i), dim(la.getQuery(), i));
        if (check)
          what = "the key, value, decay, beta and past_state must have the query's batch "
                 "size (and the first four its sequence length)";
      }
      if (auto at = dyn_cast<sp::AttentionOp>(op)) {
        // The same: the kernel reads K and V at the query's leading
        // indices (or 0 where their dim is 1) and V at K's positions.
        auto type = [](Value v) { return cast<RankedTensorType>(v.getType()); };
        int64_t rank = type(at.getQuery()).getRank();
        auto unsure = [](int64_t a, int64_t b) {
          return ShapedType::isDynamic(a) || ShapedType::isDynamic(b);
        };
        bool check = false;
        for (Value in : {at.getKey(), at.getValue()})
          for (int64_t i = 0; i + 2 < rank; ++i)
            check |= type(in).getDimSize(i) != 1 &&
                     unsure(type(in).getDimSize(i), type(at.getQuery()).getDimSize(i));
        int64_t lk = type(at.getKey()).getDimSize(at.getKeyTransposed() ? rank - 1 : rank - 2);
        check |= unsure(lk, type(at.getValue()).getDimSize(rank - 2));
        if (check)
          what = "the key and value must have the query's leading (batch, head) sizes, or 1, "
                 "and the same number of positions";
      }
      if (what.empty())
        return;
      messages.push_back(StringAttr::get(ctx, node(op) + ": " + what));
      op->setAttr(sp::kCheckAttrName,
                  IntegerAttr::get(IntegerType::get(ctx, 64), messages.size()));
    });
    if (messages.empty() || module.lookupSymbol(sp::kRunStatusSymbol))
      return;
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToStart(module.getBody());
    auto type = MemRefType::get({1}, b.getI64Type());
    auto init = DenseElementsAttr::get(RankedTensorType::get({1}, b.getI64Type()),
                                       b.getI64IntegerAttr(0).getValue());
    auto global = memref::GlobalOp::create(b, module.getLoc(), sp::kRunStatusSymbol,
                                           b.getStringAttr("public"), type, init,
                                           /*constant=*/false, /*alignment=*/IntegerAttr());
    global->setAttr(sp::kCheckMessagesAttrName, b.getArrayAttr(messages));
  }
};
} // namespace
