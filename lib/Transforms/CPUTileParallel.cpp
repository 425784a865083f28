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
    IRRewriter rewriter(&getContext());
    fuseRowClusters(rewriter);
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) {
      // Ops already inside a parallel loop (e.g. one routed expert per
      // task) run on their task's thread; their loop order still matters.
      if (op.hasPureTensorSemantics())
        ops.push_back(op);
    });
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

  /// The dim a row-local op would be split along: its outermost parallel
  /// loop of static extent >= kMinClusterRows that indexes every output;
  /// -1 if none. Row-local: no input is read along a reduction loop
  /// without also being indexed by that dim (a matmul's B is), so a block of
  /// rows needs only the matching rows of its operands.
  int64_t rowDim(linalg::GenericOp op) {
    if (!op.hasPureTensorSemantics() || op->getParentOfType<scf::ForallOp>())
      return -1;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    auto iters = op.getIteratorTypesArray();
    for (AffineMap m : op.getIndexingMapsArray())
      if (!m.isProjectedPermutation())
        return -1;
    for (unsigned d = 0; d < ranges.size(); ++d) {
      if (iters[d] != utils::IteratorType::parallel)
        continue;
      if (ShapedType::isDynamic(ranges[d]) || ranges[d] < kMinClusterRows)
        continue;
      bool outputs = llvm::all_of(op.getDpsInitsMutable(), [&](OpOperand &o) {
        return op.getMatchingIndexingMap(&o).isFunctionOfDim(d);
      });
      bool local = llvm::all_of(op.getDpsInputOperands(), [&](OpOperand *in) {
        AffineMap m = op.getMatchingIndexingMap(in);
        for (unsigned r = 0; r < ranges.size(); ++r)
          if (iters[r] == utils::IteratorType::reduction && m.isFunctionOfDim(r) &&
              !m.isFunctionOfDim(d))
            return false;
        return true;
      });
      return outputs && local ? (int64_t)d : -1;
    }
    return -1;
  }

  /// Chains of row-local ops (element-wise ops, normalizations, softmax:
  /// every op reading only the rows it writes) become one parallel loop
  /// over blocks of rows instead of one per op: each thread runs the whole
  /// chain on its rows, which stay in its cache, and the threads meet once
  /// per chain instead of once per op.
  ///
  /// Ops join the cluster of their producers in program order while the
  /// rows line up (same extent, same tensor dim); a cluster closes when
  /// anything else reads one of its values, so moving its ops to one loop
  /// at its end keeps every use after its definition.
  struct Cluster {
    SmallVector<linalg::GenericOp> ops;
    int64_t rows = 0;
    bool open = true;
  };

  /// Tensor dim of the operand |o| of |op| that its row loop |d| indexes,
  /// or -1.
  static int64_t rowPosition(linalg::GenericOp op, OpOperand *o, int64_t d) {
    AffineMap m = op.getMatchingIndexingMap(o);
    for (auto [i, e] : llvm::enumerate(m.getResults()))
      if (auto de = dyn_cast<AffineDimExpr>(e); de && de.getPosition() == d)
        return i;
    return -1;
  }

  void fuseRowClusters(RewriterBase &rewriter) {
    SmallVector<std::unique_ptr<Cluster>> clusters;
    llvm::DenseMap<Operation *, Cluster *> clusterOf;
    auto close = [&](Operation *user) {
      for (Value v : user->getOperands())
        if (Operation *def = v.getDefiningOp())
          if (Cluster *c = clusterOf.lookup(def))
            c->open = false;
    };
    getOperation().walk([&](Operation *op) {
      auto g = dyn_cast<linalg::GenericOp>(op);
      int64_t d = g ? rowDim(g) : -1;
      if (d < 0) {
        close(op);
        return;
      }
      int64_t rows = g.getStaticLoopRanges()[d];
      Cluster *join = nullptr;
      bool ok = true;
      for (OpOperand &o : g->getOpOperands()) {
        Operation *def = o.get().getDefiningOp();
        Cluster *c = def ? clusterOf.lookup(def) : nullptr;
        if (!c)
          continue;
        auto p = cast<linalg::GenericOp>(def);
        int64_t pd = rowDim(p);
        OpOperand *init = p.getDpsInitOperand(cast<OpResult>(o.get()).getResultNumber());
        bool lined = c->open && c->rows == rows &&
                     rowPosition(g, &o, d) == rowPosition(p, init, pd) &&
                     (!join || join == c);
        if (!lined)
          ok = false;
        join = c;
      }
      if (!ok) {
        close(op);
        join = nullptr;
      }
      if (!join) {
        clusters.push_back(std::make_unique<Cluster>());
        join = clusters.back().get();
        join->rows = rows;
      }
      join->ops.push_back(g);
      clusterOf[op] = join;
    });
    for (auto &c : clusters) {
      int64_t work = 0;
      for (linalg::GenericOp op : c->ops) {
        int64_t w = 1;
        for (int64_t r : op.getStaticLoopRanges())
          w *= ShapedType::isDynamic(r) ? 1 : r;
        work += w;
      }
      if (c->ops.size() >= 2 && work >= minWork)
        buildCluster(rewriter, *c);
    }
  }

  /// One scf.forall over blocks of the cluster's rows running all its ops.
  void buildCluster(RewriterBase &rewriter, Cluster &c) {
    llvm::SmallPtrSet<Operation *, 8> members;
    for (linalg::GenericOp op : c.ops)
      members.insert(op);
    // Results read after the cluster: written to the loop's outputs.
    SmallVector<OpResult> escaping;
    SmallVector<int64_t> escapingPos;
    for (linalg::GenericOp op : c.ops)
      for (OpResult r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *u) { return !members.contains(u); })) {
          escaping.push_back(r);
          escapingPos.push_back(
              rowPosition(op, op.getDpsInitOperand(r.getResultNumber()), rowDim(op)));
        }
    if (escaping.empty())
      return;
    linalg::GenericOp last = c.ops.back();
    Location loc = last.getLoc();
    rewriter.setInsertionPointAfter(last);
    int64_t tile = std::max<int64_t>(1, llvm::divideCeil(c.rows, tasks));
    int64_t count = llvm::divideCeil(c.rows, tile);
    bool even = c.rows % tile == 0;
    // The loop writes each escaping result into its op's init, or, when
    // that init is itself a value of the cluster, into a fresh tensor.
    SmallVector<Value> outs;
    for (OpResult r : escaping) {
      Value init =
          cast<linalg::GenericOp>(r.getOwner()).getDpsInitOperand(r.getResultNumber())->get();
      if (Operation *def = init.getDefiningOp(); def && members.contains(def)) {
        auto type = cast<RankedTensorType>(init.getType());
        if (!type.hasStaticShape())
          return;
        init = tensor::EmptyOp::create(rewriter, loc, type.getShape(), type.getElementType());
      }
      outs.push_back(init);
    }
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(count)}, outs, std::nullopt,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value off = arith::MulIOp::create(b, l, args[0],
                                            arith::ConstantIndexOp::create(b, l, tile));
          OpFoldResult size = b.getIndexAttr(tile);
          if (!even)
            size = arith::MinUIOp::create(
                       b, l, arith::ConstantIndexOp::create(b, l, tile),
                       arith::SubIOp::create(b, l, arith::ConstantIndexOp::create(b, l, c.rows),
                                             off))
                       .getResult();
          auto rowsOf = [&](Value t, int64_t pos) -> Value {
            auto type = cast<RankedTensorType>(t.getType());
            SmallVector<OpFoldResult> offs(type.getRank(), b.getIndexAttr(0)), sizes,
                strides(type.getRank(), b.getIndexAttr(1));
            for (int64_t i = 0; i < type.getRank(); ++i)
              sizes.push_back(tensor::getMixedSize(b, l, t, i));
            offs[pos] = off;
            sizes[pos] = size;
            return tensor::ExtractSliceOp::create(b, l, t, offs, sizes, strides);
          };
          IRMapping map;
          for (linalg::GenericOp op : c.ops) {
            int64_t d = rowDim(op);
            for (OpOperand &o : op->getOpOperands()) {
              Value v = o.get();
              if (map.contains(v))
                continue;
              int64_t pos = rowPosition(op, &o, d);
              if (pos < 0)
                continue; // Broadcast along the rows: read whole.
              // An escaping result's init is the loop's output.
              if (op.isDpsInit(&o)) {
                auto it = llvm::find(escaping, op->getResult(op.getTiedOpResult(&o).getResultNumber()));
                if (it != escaping.end()) {
                  map.map(v, rowsOf(args[1 + (it - escaping.begin())], pos));
                  continue;
                }
              }
              map.map(v, rowsOf(v, pos));
            }
            Operation *clone = b.clone(*op, map);
            // The clone's row loop starts at the block's first row: an
            // index along it is the original's plus the block's offset.
            SmallVector<linalg::IndexOp> rowIndices;
            clone->walk([&](linalg::IndexOp index) {
              if (index.getDim() == static_cast<uint64_t>(d))
                rowIndices.push_back(index);
            });
            for (linalg::IndexOp index : rowIndices) {
              OpBuilder ib(index->getNextNode());
              Value shifted = arith::AddIOp::create(ib, index.getLoc(), index, off);
              index.getResult().replaceAllUsesExcept(shifted, shifted.getDefiningOp());
            }
            for (auto [res, init] : llvm::zip(clone->getResults(),
                                              cast<linalg::GenericOp>(clone).getDpsInits()))
              res.setType(init.getType());
            map.map(op->getResults(), clone->getResults());
            // An init value (often one tensor.empty shared by several
            // ops) was sliced for this op, perhaps from the loop's output;
            // a later op using it slices it afresh for itself.
            for (OpOperand &o : op->getOpOperands())
              if (op.isDpsInit(&o))
                map.erase(o.get());
          }
          // The tiles' sizes (tensor.dim of a partial block) are computed
          // before the terminator, whose body holds only the inserts.
          SmallVector<SmallVector<OpFoldResult>> tileSizes;
          for (OpResult r : escaping) {
            Value tileV = map.lookup(Value(r));
            SmallVector<OpFoldResult> sizes;
            for (int64_t j = 0; j < cast<RankedTensorType>(r.getType()).getRank(); ++j)
              sizes.push_back(tensor::getMixedSize(b, l, tileV, j));
            tileSizes.push_back(sizes);
          }
          auto term = scf::InParallelOp::create(b, l);
          b.setInsertionPointToStart(term.getBody());
          for (auto [i, r] : llvm::enumerate(escaping)) {
            auto type = cast<RankedTensorType>(r.getType());
            SmallVector<OpFoldResult> offs(type.getRank(), b.getIndexAttr(0)),
                strides(type.getRank(), b.getIndexAttr(1));
            offs[escapingPos[i]] = off;
            tensor::ParallelInsertSliceOp::create(b, l, map.lookup(Value(r)), args[1 + i], offs,
                                                  tileSizes[i], strides);
          }
        });
    for (auto [i, r] : llvm::enumerate(escaping))
      rewriter.replaceUsesWithIf(r, forall.getResult(i), [&](OpOperand &use) {
        return !members.contains(use.getOwner()) &&
               !forall->isProperAncestor(use.getOwner());
      });
    for (linalg::GenericOp op : llvm::reverse(c.ops))
      rewriter.eraseOp(op);
  }

  /// Smallest static row extent a row cluster is split along.
  static constexpr int64_t kMinClusterRows = 16;

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
    // A short reduction over long rows (a low-rank projection's second
    // factor, 256 x 14336) tiles the columns instead: each thread's piece of
    // a row is still a long run (>= 4 KB), and the partials' zero fill,
    // writes and merge (serial, ~3 x parts / K of the weight bytes) are
    // avoided. Measured on 256 x 14336 f32, 2 threads: 0.63 ms against
    // 0.66-0.69 split; at K = 4096 (4096 x 14336) the split stays ahead
    // by 1-3 %.
    int64_t n = ranges[numLoops - 1];
    Type elt = getElementTypeOrSelf(op.getDpsInits()[0].getType());
    int64_t eltBytes = elt.isIntOrFloat() ? std::max<int64_t>(1, elt.getIntOrFloatBitWidth() / 8) : 4;
    if (ranges[k] < kMinSplitReduction && n * eltBytes / std::max<int64_t>(1, tasks) >= 4096)
      return failure();
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
    // The body's loop indices (a gathered axpy reads its column): old loop
    // d is new loop d + 1, and k is p * (K / parts) + kk.
    SmallVector<linalg::IndexOp> indices;
    partial.getRegion().walk([&](linalg::IndexOp index) {
      if (index->getParentOfType<linalg::LinalgOp>() == partial)
        indices.push_back(index);
    });
    for (linalg::IndexOp index : indices) {
      OpBuilder::InsertionGuard guard(rewriter);
      rewriter.setInsertionPoint(index);
      Location l = index.getLoc();
      Value moved = linalg::IndexOp::create(rewriter, l, index.getDim() + 1);
      if (index.getDim() == k)
        moved = arith::AddIOp::create(
            rewriter, l,
            arith::MulIOp::create(rewriter, l, linalg::IndexOp::create(rewriter, l, 0),
                                  arith::ConstantIndexOp::create(rewriter, l, ranges[k] / parts)),
            moved);
      rewriter.replaceOp(index, moved);
    }
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
  /// Reductions shorter than this over long output rows tile the columns.
  static constexpr int64_t kMinSplitReduction = 1024;

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
