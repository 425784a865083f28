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
  // An input streaming rows over (reduction, d), like B[k, n] of a matmul;
  // a broadcast input indexed by d alone (softmax's row max) is no reason
  // to move the reduction out of the innermost loop.
  unsigned red = numLoops - 1;
  bool readContiguously = llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
    AffineMap m = op.getMatchingIndexingMap(in);
    return m.getNumResults() > 0 && m.getResults().back() == last &&
           m.isFunctionOfDim(red);
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
      // Ops already inside a parallel loop (e.g. one routed expert per
      // task) run on their task's thread; their loop order still matters.
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
      if (op->getParentOfType<scf::ForallOp>())
        continue;
      if (succeeded(splitReductionForThreads(rewriter, op)))
        continue;
      tileForThreads(rewriter, op);
    }
  }

  /// GEMV-shaped contractions (a few output rows, a long reduction) split the
  /// reduction across threads instead: the reduction loop k becomes (p, kk)
  /// with p parallel, each thread streams one contiguous block of weight rows
  /// into its own partial result [p, ...out], and a small merge adds the
  /// partials to the original accumulator. Tiling the output columns instead
  /// makes every thread read short strided pieces of each row, which the
  /// prefetchers handle badly. (Upstream partial-reduction tiling puts the
  /// partial dimension innermost, which makes the partial writes strided.)
  LogicalResult splitReductionForThreads(RewriterBase &rewriter,
                                         linalg::GenericOp op) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    auto iters = op.getIteratorTypesArray();
    unsigned numLoops = ranges.size();
    if (numLoops < 2 || op.getNumDpsInits() != 1 || op.getNumDpsInputs() < 1 ||
        llvm::any_of(ranges, ShapedType::isDynamic) ||
        iters.back() != utils::IteratorType::parallel ||
        !llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isProjectedPermutation(); }) ||
        !isAddAccumulation(op))
      return failure();
    SmallVector<unsigned> reductions;
    int64_t rows = 1, work = 1;
    for (unsigned i = 0; i < numLoops; ++i) {
      work *= ranges[i];
      if (iters[i] == utils::IteratorType::reduction)
        reductions.push_back(i);
      else if (i + 1 < numLoops)
        rows *= ranges[i];
    }
    if (reductions.size() != 1 || rows > kMaxSplitReductionRows || work < minWork)
      return failure();
    unsigned k = reductions.front();
    int64_t parts = tasks;
    while (parts > 1 && (ranges[k] % parts != 0 || ranges[k] / parts < 64))
      --parts;
    if (parts < 2)
      return failure();

    MLIRContext *ctx = op.getContext();
    Location loc = op.getLoc();
    rewriter.setInsertionPoint(op);
    // New loops: p, then the old loops with k now meaning kk (size K/parts).
    auto shift = [&](AffineExpr e) {
      return getAffineDimExpr(cast<AffineDimExpr>(e).getPosition() + 1, ctx);
    };
    AffineExpr pDim = getAffineDimExpr(0, ctx);
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    for (OpOperand *in : op.getDpsInputOperands()) {
      AffineMap m = op.getMatchingIndexingMap(in);
      auto type = cast<RankedTensorType>(in->get().getType());
      SmallVector<AffineExpr> exprs;
      SmallVector<int64_t> shape;
      SmallVector<ReassociationIndices> groups;
      for (auto [i, e] : llvm::enumerate(m.getResults())) {
        ReassociationIndices group;
        if (cast<AffineDimExpr>(e).getPosition() == k) {
          group = {(int64_t)shape.size(), (int64_t)shape.size() + 1};
          exprs.append({pDim, shift(e)});
          shape.append({parts, type.getDimSize(i) / parts});
        } else {
          group = {(int64_t)shape.size()};
          exprs.push_back(shift(e));
          shape.push_back(type.getDimSize(i));
        }
        groups.push_back(group);
      }
      Value v = in->get();
      if (shape.size() != (size_t)type.getRank())
        v = tensor::ExpandShapeOp::create(
            rewriter, loc, RankedTensorType::get(shape, type.getElementType()), v,
            groups);
      inputs.push_back(v);
      maps.push_back(AffineMap::get(numLoops + 1, 0, exprs, ctx));
    }
    OpOperand *init = op.getDpsInitOperand(0);
    auto initType = cast<RankedTensorType>(init->get().getType());
    SmallVector<AffineExpr> outExprs = {pDim};
    for (AffineExpr e : op.getMatchingIndexingMap(init).getResults())
      outExprs.push_back(shift(e));
    maps.push_back(AffineMap::get(numLoops + 1, 0, outExprs, ctx));
    SmallVector<int64_t> partialShape = {parts};
    llvm::append_range(partialShape, initType.getShape());
    auto partialType = RankedTensorType::get(partialShape, initType.getElementType());
    Value zero = arith::ConstantOp::create(
        rewriter, loc, initType.getElementType(),
        rewriter.getZeroAttr(initType.getElementType()));
    Value partialInit =
        linalg::FillOp::create(rewriter, loc, zero,
                               tensor::EmptyOp::create(rewriter, loc, partialShape,
                                                       initType.getElementType())
                                   .getResult())
            .getResult(0);
    SmallVector<utils::IteratorType> newIters = {utils::IteratorType::parallel};
    llvm::append_range(newIters, iters);
    auto partial = linalg::GenericOp::create(rewriter, loc, partialType, inputs,
                                             partialInit, maps, newIters);
    rewriter.inlineRegionBefore(op.getRegion(), partial.getRegion(),
                                partial.getRegion().begin());
    // Merge: accumulator + sum over p.
    auto merged = linalg::ReduceOp::create(
        rewriter, loc, partial.getResult(0), init->get(), ArrayRef<int64_t>{0},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value sum = arith::AddFOp::create(b, l, args[0], args[1]);
          linalg::YieldOp::create(b, l, sum);
        });
    rewriter.replaceOp(op, merged.getResult(0));

    // One forall iteration per block of weight rows.
    SmallVector<OpFoldResult> sizes(numLoops + 1, rewriter.getIndexAttr(0));
    sizes[0] = rewriter.getIndexAttr(1);
    scf::SCFTilingOptions options;
    options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    options.setTileSizes(sizes);
    rewriter.setInsertionPoint(partial);
    auto tiled = scf::tileUsingSCF(
        rewriter, cast<TilingInterface>(partial.getOperation()), options);
    if (succeeded(tiled))
      rewriter.replaceOp(partial, tiled->replacements);
    return success();
  }

  /// True when |op|'s body is `yield(addf(out, x))` with the accumulator
  /// used nowhere else: partial sums starting at zero then add up exactly.
  static bool isAddAccumulation(linalg::GenericOp op) {
    Block &body = op.getRegion().front();
    Value acc = body.getArgument(body.getNumArguments() - 1);
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    auto add = yield.getValues().front().getDefiningOp<arith::AddFOp>();
    if (!add || !acc.hasOneUse() || !isa<FloatType>(acc.getType()))
      return false;
    return add.getLhs() == acc || add.getRhs() == acc;
  }

  /// Output rows up to which a contraction counts as GEMV-shaped.
  static constexpr int64_t kMaxSplitReductionRows = 4;

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
