//===- CPUTileParallel.cpp - Loop order and thread tiling ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Shapes each linalg.generic for the CPU: contractions get the loop order
// whose inner loop streams contiguous memory, and the largest parallel loop
// is tiled into an scf.forall that later becomes an OpenMP parallel loop.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/IR/PatternMatch.h"

namespace sparsa {
#define GEN_PASS_DEF_CPUTILEPARALLELPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

/// Returns the interchange that makes the output's innermost parallel
/// dimension the innermost loop, when the innermost loop is a reduction and
/// some input also reads that dimension contiguously; std::nullopt otherwise.
static std::optional<SmallVector<unsigned>>
contiguousInterchange(linalg::GenericOp op) {
  unsigned numLoops = op.getNumLoops();
  auto iters = op.getIteratorTypesArray();
  if (numLoops < 2 || op.getNumDpsInits() != 1 ||
      iters.back() != utils::IteratorType::reduction)
    return std::nullopt;
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outMap.getNumResults() == 0)
    return std::nullopt;
  auto last = dyn_cast<AffineDimExpr>(outMap.getResults().back());
  if (!last)
    return std::nullopt;
  unsigned d = last.getPosition();
  bool readContiguously = llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
    AffineMap m = op.getMatchingIndexingMap(in);
    return m.getNumResults() > 0 && m.getResults().back() == last;
  });
  if (!readContiguously)
    return std::nullopt;
  SmallVector<unsigned> perm;
  for (unsigned i = 0; i < numLoops; ++i)
    if (i != d)
      perm.push_back(i);
  perm.push_back(d);
  return perm;
}

namespace {
struct CPUTileParallelPass final
    : sparsa::impl::CPUTileParallelPassBase<CPUTileParallelPass> {
  using CPUTileParallelPassBase::CPUTileParallelPassBase;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.hasPureTensorSemantics())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : ops) {
      if (auto perm = contiguousInterchange(op)) {
        rewriter.setInsertionPoint(op);
        auto swapped = linalg::interchangeGenericOp(rewriter, op, *perm);
        if (succeeded(swapped))
          op = *swapped;
      }
      tileForThreads(rewriter, op);
    }
  }

  /// Tiles the parallel loop with the largest static extent into an
  /// scf.forall of about |tasks| tiles; leaves small ops alone.
  void tileForThreads(RewriterBase &rewriter, linalg::GenericOp op) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    auto iters = op.getIteratorTypesArray();
    int64_t work = 1, best = -1, bestExtent = 1;
    for (auto [i, r] : llvm::enumerate(ranges)) {
      if (ShapedType::isDynamic(r))
        continue;
      work *= r;
      if (iters[i] == utils::IteratorType::parallel && r > bestExtent) {
        best = i;
        bestExtent = r;
      }
    }
    if (best < 0 || work < minWork)
      return;
    int64_t tile = llvm::divideCeil(bestExtent, tasks);
    tile = std::max<int64_t>(16, llvm::alignTo(tile, 16));
    if (tile >= bestExtent)
      return;
    SmallVector<OpFoldResult> sizes(ranges.size(), rewriter.getIndexAttr(0));
    sizes[best] = rewriter.getIndexAttr(tile);
    scf::SCFTilingOptions options;
    options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    options.setTileSizes(sizes);
    rewriter.setInsertionPoint(op);
    auto tiled = scf::tileUsingSCF(rewriter, cast<TilingInterface>(op.getOperation()),
                                   options);
    if (failed(tiled))
      return; // Leave the op untiled: correct, only slower.
    rewriter.replaceOp(op, tiled->replacements);
  }
};
} // namespace
