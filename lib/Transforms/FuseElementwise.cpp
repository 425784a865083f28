//===- FuseElementwise.cpp - element-wise fusion, contractions kept -*- C++ -*-//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// linalg element-wise op fusion, restricted to all-parallel consumers.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace sparsa {
#define GEN_PASS_DEF_FUSEELEMENTWISEPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {
struct FuseElementwisePass final
    : sparsa::impl::FuseElementwisePassBase<FuseElementwisePass> {
  using FuseElementwisePassBase::FuseElementwisePassBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Fuse a single-use producer when the consumer visits each of its
    // elements once: all its
    // loops are parallel, or it reads the fused operand through a
    // permutation (a reduction over it, such as softmax's max or sum).
    // A contraction reads its operands through projections and would
    // recompute the producer for every output column.
    linalg::ControlFusionFn control = [](OpOperand *fused) {
      auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
      Operation *producer = fused->get().getDefiningOp();
      // A producer with several consumers would be recomputed in each.
      if (!consumer || !producer || !producer->hasOneUse())
        return false;
      if (consumer->hasAttr("sparsa.kernel"))
        return false;
      if (consumer.getNumLoops() == consumer.getNumParallelLoops())
        return true;
      return consumer.getMatchingIndexingMap(fused).isPermutation();
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, &getContext());
    // Generics tagged for a dedicated kernel (`sparsa.kernel`) stay out of
    // the worklist: folding a splat constant operand into one (per-tensor
    // scales) would rebuild it without its tag.
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (op != getOperation() && !op->hasAttr("sparsa.kernel"))
        ops.push_back(op);
    });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(applyOpPatternsGreedily(ops, std::move(patterns), config)))
      signalPassFailure();
  }
};
} // namespace
