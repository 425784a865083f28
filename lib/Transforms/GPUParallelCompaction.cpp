//===- GPUParallelCompaction.cpp - index lists built by many threads ------===//
//
// Part of Sparsa: an ahead-of-time compiler for sparse-activation models.
//
//===----------------------------------------------------------------------===//
//
// The lowering lists active neurons with one serial loop (the CPU runs it on
// the calling thread in a few microseconds). On the GPU that loop is a
// one-thread kernel walking every neuron. Here it becomes count / scan /
// write over chunks (see Passes.td): the same list, built by
// ceil(n / chunk) threads, with no atomics.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"

namespace sparsa {
#define GEN_PASS_DEF_GPUPARALLELCOMPACTIONPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {

/// |v| without the tensor.casts around it.
static Value throughCasts(Value v) {
  while (auto cast = v.getDefiningOp<tensor::CastOp>())
    v = cast.getSource();
  return v;
}

/// A serial loop listing the positions where a predicate holds.
struct ListLoop {
  scf::ForOp loop;
  unsigned listArg = 0, countArg = 1;
  /// The predicate's condition and the body ops it is computed by, in
  /// order.
  Value cond;
  SmallVector<Operation *> predicate;
};

/// Matches the form in Passes.td; nothing when |loop| is anything else.
static std::optional<ListLoop> matchListLoop(scf::ForOp loop) {
  if (loop.getNumRegionIterArgs() != 2 || !matchPattern(loop.getStep(), m_One()))
    return std::nullopt;
  ListLoop m;
  m.loop = loop;
  if (isa<IndexType>(loop.getInitArgs()[0].getType()))
    std::swap(m.listArg, m.countArg);
  auto listType = dyn_cast<RankedTensorType>(loop.getInitArgs()[m.listArg].getType());
  if (!listType || listType.getRank() != 1 || !listType.getElementType().isIndex() ||
      !isa<IndexType>(loop.getInitArgs()[m.countArg].getType()) ||
      !loop.getInductionVar().getType().isIndex())
    return std::nullopt;
  Value iv = loop.getInductionVar();
  Value list = loop.getRegionIterArgs()[m.listArg];
  Value count = loop.getRegionIterArgs()[m.countArg];
  Block *body = loop.getBody();

  // The loop yields an scf.if's results, each to its own iter arg.
  auto yield = cast<scf::YieldOp>(body->getTerminator());
  auto ifOp = throughCasts(yield.getOperand(m.listArg)).getDefiningOp<scf::IfOp>();
  if (!ifOp || ifOp->getBlock() != body || ifOp.getNumResults() != 2 ||
      !ifOp.elseBlock() || yield.getOperand(m.countArg).getDefiningOp() != ifOp)
    return std::nullopt;
  auto listRes = dyn_cast<OpResult>(throughCasts(yield.getOperand(m.listArg)));
  auto countRes = cast<OpResult>(yield.getOperand(m.countArg));
  if (listRes.getResultNumber() == countRes.getResultNumber())
    return std::nullopt;
  unsigned li = listRes.getResultNumber(), ci = countRes.getResultNumber();

  // Then: insert the position at the count, count + 1.
  auto thenYield = ifOp.thenYield();
  auto insert = throughCasts(thenYield.getOperand(li)).getDefiningOp<tensor::InsertOp>();
  if (!insert || insert.getScalar() != iv || throughCasts(insert.getDest()) != list ||
      insert.getIndices().size() != 1 || insert.getIndices()[0] != count)
    return std::nullopt;
  auto inc = thenYield.getOperand(ci).getDefiningOp<arith::AddIOp>();
  if (!inc || !((inc.getLhs() == count && matchPattern(inc.getRhs(), m_One())) ||
                (inc.getRhs() == count && matchPattern(inc.getLhs(), m_One()))))
    return std::nullopt;
  // Else: both unchanged.
  auto elseYield = ifOp.elseYield();
  if (throughCasts(elseYield.getOperand(li)) != list || elseYield.getOperand(ci) != count)
    return std::nullopt;

  // Nothing in the body touches memory (on tensors: everything is a value).
  for (Operation &op : body->without_terminator())
    if (!isMemoryEffectFree(&op))
      return std::nullopt;

  // The condition depends on the position, never on the list or the count.
  m.cond = ifOp.getCondition();
  llvm::SetVector<Operation *> slice;
  SmallVector<Value> work = {m.cond};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (v == list || v == count)
      return std::nullopt;
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != body)
      continue; // the position, or defined above the loop
    if (!slice.insert(def))
      continue;
    // Values used inside the op's regions count too.
    def->walk([&](Operation *nested) { llvm::append_range(work, nested->getOperands()); });
  }
  for (Operation &op : body->without_terminator())
    if (slice.contains(&op))
      m.predicate.push_back(&op);
  return m;
}

/// The predicate at position |i|, its ops cloned at |b|'s insertion point.
static Value predicateAt(OpBuilder &b, const ListLoop &m, Value i) {
  IRMapping map;
  map.map(scf::ForOp(m.loop).getInductionVar(), i);
  for (Operation *op : m.predicate)
    b.clone(*op, map);
  return map.lookupOrDefault(m.cond);
}

struct GPUParallelCompactionPass final
    : sparsa::impl::GPUParallelCompactionPassBase<GPUParallelCompactionPass> {
  using GPUParallelCompactionPassBase::GPUParallelCompactionPassBase;

  void runOnOperation() override {
    if (chunk < 1) {
      getOperation().emitError("sparsa-gpu-parallel-compaction: chunk must be positive");
      return signalPassFailure();
    }
    SmallVector<ListLoop> loops;
    getOperation().walk([&](scf::ForOp loop) {
      std::optional<ListLoop> m = matchListLoop(loop);
      if (!m)
        return;
      std::optional<APInt> trips = loop.getStaticTripCount();
      if (trips && trips->getSExtValue() < minPositions)
        return;
      loops.push_back(*m);
    });
    IRRewriter rewriter(&getContext());
    for (ListLoop &m : loops)
      rewrite(rewriter, m);
  }

  void rewrite(IRRewriter &b, const ListLoop &m) {
    scf::ForOp loop = m.loop;
    Location loc = loop.getLoc();
    b.setInsertionPoint(loop);
    Type idx = b.getIndexType();
    auto cst = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(b, loc, v); };
    Value c0 = cst(0), c1 = cst(1), cChunk = cst(chunk);
    Value lb = loop.getLowerBound(), ub = loop.getUpperBound();
    // Positions (none when ub <= lb) and chunks.
    Value n = arith::MaxSIOp::create(b, loc, arith::SubIOp::create(b, loc, ub, lb), c0);
    Value chunks = arith::CeilDivUIOp::create(b, loc, n, cChunk);
    auto countsType = RankedTensorType::get({ShapedType::kDynamic}, idx);
    auto chunkRange = [&](OpBuilder &nb, Location l, Value c) -> std::pair<Value, Value> {
      Value lo = arith::AddIOp::create(nb, l, lb, arith::MulIOp::create(nb, l, c, cChunk));
      Value hi = arith::MinSIOp::create(nb, l, arith::AddIOp::create(nb, l, lo, cChunk), ub);
      return {lo, hi};
    };

    // 1. Each chunk's count.
    Value countsInit = tensor::EmptyOp::create(b, loc, countsType, ValueRange{chunks});
    auto count = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{chunks}, ValueRange{countsInit}, std::nullopt,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          auto [lo, hi] = chunkRange(nb, l, args[0]);
          auto scan = scf::ForOp::create(
              nb, l, lo, hi, c1, ValueRange{c0},
              [&](OpBuilder &fb, Location fl, Value i, ValueRange acc) {
                Value p = predicateAt(fb, m, i);
                Value one = arith::SelectOp::create(fb, fl, p, c1, c0);
                scf::YieldOp::create(fb, fl,
                                     ValueRange{arith::AddIOp::create(fb, fl, acc[0], one)});
              });
          Value cell = tensor::FromElementsOp::create(
              nb, l, RankedTensorType::get({1}, idx), ValueRange{scan.getResult(0)});
          auto term = scf::InParallelOp::create(nb, l);
          OpBuilder tb = OpBuilder::atBlockBegin(term.getBody());
          tensor::ParallelInsertSliceOp::create(
              tb, l, cell, args[1], ArrayRef<OpFoldResult>{args[0]},
              ArrayRef<OpFoldResult>{tb.getIndexAttr(1)},
              ArrayRef<OpFoldResult>{tb.getIndexAttr(1)});
        });
    Value counts = count.getResult(0);

    // 2. Exclusive prefix sum from the loop's starting count.
    Value k0 = loop.getInitArgs()[m.countArg];
    Value offsetsInit = tensor::EmptyOp::create(b, loc, countsType, ValueRange{chunks});
    auto scan = scf::ForOp::create(
        b, loc, c0, chunks, c1, ValueRange{offsetsInit, k0},
        [&](OpBuilder &fb, Location fl, Value c, ValueRange acc) {
          Value offsets = tensor::InsertOp::create(fb, fl, acc[1], acc[0], ValueRange{c});
          Value cnt = tensor::ExtractOp::create(fb, fl, counts, ValueRange{c});
          scf::YieldOp::create(
              fb, fl, ValueRange{offsets, arith::AddIOp::create(fb, fl, acc[1], cnt)});
        });
    Value offsets = scan.getResult(0), total = scan.getResult(1);

    // 3. Each chunk writes its positions at its offset.
    Value listInit = loop.getInitArgs()[m.listArg];
    auto write = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{chunks}, ValueRange{listInit}, std::nullopt,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          auto [lo, hi] = chunkRange(nb, l, args[0]);
          Value off = tensor::ExtractOp::create(nb, l, offsets, ValueRange{args[0]});
          Value cnt = tensor::ExtractOp::create(nb, l, counts, ValueRange{args[0]});
          SmallVector<OpFoldResult> offs = {off}, sizes = {cnt}, strides = {nb.getIndexAttr(1)};
          Value slice = tensor::ExtractSliceOp::create(nb, l, countsType, args[1], offs, sizes,
                                                       strides);
          auto fill = scf::ForOp::create(
              nb, l, lo, hi, c1, ValueRange{slice, c0},
              [&](OpBuilder &fb, Location fl, Value i, ValueRange acc) {
                Value p = predicateAt(fb, m, i);
                auto ifOp = scf::IfOp::create(
                    fb, fl, p,
                    [&](OpBuilder &ib, Location il) {
                      Value put = tensor::InsertOp::create(ib, il, i, acc[0], ValueRange{acc[1]});
                      scf::YieldOp::create(
                          ib, il, ValueRange{put, arith::AddIOp::create(ib, il, acc[1], c1)});
                    },
                    [&](OpBuilder &ib, Location il) { scf::YieldOp::create(ib, il, acc); });
                scf::YieldOp::create(fb, fl, ifOp.getResults());
              });
          auto term = scf::InParallelOp::create(nb, l);
          OpBuilder tb = OpBuilder::atBlockBegin(term.getBody());
          tensor::ParallelInsertSliceOp::create(tb, l, fill.getResult(0), args[1], offs, sizes,
                                                strides);
        });

    SmallVector<Value> results(2);
    results[m.listArg] = write.getResult(0);
    results[m.countArg] = total;
    b.replaceOp(loop, results);
  }
};

} // namespace
