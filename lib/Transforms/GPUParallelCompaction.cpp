//===- GPUParallelCompaction.cpp - index lists built by many threads ------===//
//
// Part of Sparsa: an ahead-of-time compiler for sparse-activation models.
//
//===----------------------------------------------------------------------===//
//
// The lowering lists active neurons with one serial loop (the CPU runs it on
// the calling thread in a few microseconds). On the GPU that loop is a
// one-thread kernel walking every neuron. Here it becomes count / scan /
// write over chunks (see Passes.td), the same list with no atomics: on
// buffers one warp per chunk of 1024 positions, voting 32 at a time
// (sparsa-gpu-warp-compaction, the default); on tensors one thread per
// chunk of 128 (sparsa-gpu-parallel-compaction).
//
//===----------------------------------------------------------------------===//

#include "GPUContraction.h"

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"

namespace sparsa {
#define GEN_PASS_DEF_GPUPARALLELCOMPACTIONPASS
#define GEN_PASS_DEF_GPUWARPCOMPACTIONPASS
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

/// Whether |loop| has a static trip count below |minPositions|.
static bool tooFewPositions(scf::ForOp loop, int64_t minPositions) {
  std::optional<APInt> trips = loop.getStaticTripCount();
  return trips && trips->getSExtValue() < minPositions;
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
      if (std::optional<ListLoop> m = matchListLoop(loop);
          m && !tooFewPositions(loop, minPositions))
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

/// The bufferized list loop (see Passes.td).
struct BufferListLoop {
  scf::ForOp loop;
  memref::StoreOp store;
  Value cond;
  SmallVector<Operation *> predicate;
};

static std::optional<BufferListLoop> matchBufferListLoop(scf::ForOp loop) {
  if (loop.getNumRegionIterArgs() != 1 || !matchPattern(loop.getStep(), m_One()) ||
      !loop.getInductionVar().getType().isIndex() ||
      !isa<IndexType>(loop.getInitArgs()[0].getType()))
    return std::nullopt;
  Value iv = loop.getInductionVar(), count = loop.getRegionIterArgs()[0];
  Block *body = loop.getBody();
  auto yield = cast<scf::YieldOp>(body->getTerminator());
  auto ifOp = yield.getOperand(0).getDefiningOp<scf::IfOp>();
  if (!ifOp || ifOp->getBlock() != body || ifOp.getNumResults() != 1 || !ifOp.elseBlock() ||
      ifOp.elseYield().getOperand(0) != count)
    return std::nullopt;
  // Then: store the position at the count; count + 1.
  Block *then = ifOp.thenBlock();
  if (then->getOperations().size() != 3)
    return std::nullopt;
  auto store = dyn_cast<memref::StoreOp>(then->front());
  auto inc = ifOp.thenYield().getOperand(0).getDefiningOp<arith::AddIOp>();
  if (!store || store.getValueToStore() != iv || store.getIndices().size() != 1 ||
      store.getIndices()[0] != count || !inc || inc->getBlock() != then ||
      !((inc.getLhs() == count && matchPattern(inc.getRhs(), m_One())) ||
        (inc.getRhs() == count && matchPattern(inc.getLhs(), m_One()))))
    return std::nullopt;
  Value list = sparsa::bufferRoot(store.getMemRef());
  // The rest of the body computes the condition: it reads memory (not the
  // list) and writes none, and never uses the count.
  BufferListLoop m{loop, store, ifOp.getCondition(), {}};
  for (Operation &op : body->without_terminator()) {
    if (&op == ifOp.getOperation())
      continue;
    if (op.getNumRegions() != 0)
      return std::nullopt;
    auto load = dyn_cast<memref::LoadOp>(op);
    if (!load && !isMemoryEffectFree(&op))
      return std::nullopt;
    if (load && sparsa::bufferRoot(load.getMemRef()) == list)
      return std::nullopt;
    if (llvm::is_contained(op.getOperands(), count))
      return std::nullopt;
    m.predicate.push_back(&op);
  }
  if (m.cond.getParentBlock() == body && m.cond.getDefiningOp() == nullptr)
    return std::nullopt; // the count itself
  return m;
}

struct GPUWarpCompactionPass final
    : sparsa::impl::GPUWarpCompactionPassBase<GPUWarpCompactionPass> {
  using GPUWarpCompactionPassBase::GPUWarpCompactionPassBase;

  /// Positions one warp takes: 32 steps of 32 lanes.
  static constexpr int64_t kSteps = 32, kWarp = 32, kChunk = kSteps * kWarp;

  void runOnOperation() override {
    SmallVector<BufferListLoop> loops;
    getOperation().walk([&](scf::ForOp loop) {
      // (Loops in device code, or in parallel loops that may become device
      // code, stay as they are: launches cannot nest.)
      for (Operation *p = loop->getParentOp(); !isa<func::FuncOp>(p); p = p->getParentOp())
        if (!isa<scf::ForOp, scf::IfOp, scf::WhileOp, scf::IndexSwitchOp>(p))
          return;
      if (std::optional<BufferListLoop> m = matchBufferListLoop(loop);
          m && !tooFewPositions(loop, minPositions))
        loops.push_back(*m);
    });
    for (BufferListLoop &m : loops)
      rewrite(m);
  }

  /// One warp per chunk of kChunk positions; |body| builds a step given
  /// the lane's position, its predicate and the warp's ballot, carrying
  /// one index from |init|; returns the carried value after the chunk.
  /// Built at |b|'s insertion point, the launch under `chunks > 0`.
  void warpLaunch(OpBuilder &b, Location loc, BufferListLoop m, Value chunks,
                  function_ref<Value(OpBuilder &, Value chunk)> init,
                  function_ref<Value(OpBuilder &, Value i, Value p, Value mask, Value lane32,
                                     Value carried)>
                      step,
                  function_ref<void(OpBuilder &, Value chunk, Value lane, Value carried)> finish) {
    auto cst = [&](OpBuilder &nb, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(nb, loc, v);
    };
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, chunks, cst(b, 0));
    auto guard = scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
    OpBuilder gb = OpBuilder::atBlockBegin(&guard.getThenRegion().front());
    Value one = cst(gb, 1);
    auto launch = gpu::LaunchOp::create(gb, loc, chunks, one, one, cst(gb, kWarp), one, one);
    OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
    gpu::TerminatorOp::create(kb, loc);
    kb.setInsertionPointToStart(&launch.getBody().front());
    Value lane = launch.getThreadIds().x, chunk = launch.getBlockIds().x;
    Value lb = m.loop.getLowerBound(), ub = m.loop.getUpperBound();
    Value lo = arith::AddIOp::create(kb, loc, lb,
                                     arith::MulIOp::create(kb, loc, chunk, cst(kb, kChunk)));
    Value lastPos = arith::SubIOp::create(kb, loc, ub, cst(kb, 1));
    Type i32 = kb.getI32Type();
    Value lane32 = arith::IndexCastOp::create(kb, loc, i32, lane);
    Value full = arith::ConstantOp::create(kb, loc, i32, kb.getI32IntegerAttr(-1));
    auto loop = scf::ForOp::create(
        kb, loc, cst(kb, 0), cst(kb, kSteps), cst(kb, 1), ValueRange{init(kb, chunk)},
        [&](OpBuilder &fb, Location, Value s, ValueRange carried) {
          Value i = arith::AddIOp::create(
              fb, loc, lo,
              arith::AddIOp::create(fb, loc, arith::MulIOp::create(fb, loc, s, cst(fb, kWarp)),
                                    lane));
          // Past the end: false, the predicate read at the last position.
          Value inside = arith::CmpIOp::create(fb, loc, arith::CmpIPredicate::slt, i, ub);
          Value at = arith::MinSIOp::create(fb, loc, i, lastPos);
          IRMapping map;
          map.map(m.loop.getInductionVar(), at);
          for (Operation *op : m.predicate)
            fb.clone(*op, map);
          Value p = arith::AndIOp::create(fb, loc, inside, map.lookupOrDefault(m.cond));
          Value mask = NVVM::VoteSyncOp::create(fb, loc, i32, full, p, NVVM::VoteSyncKind::ballot);
          scf::YieldOp::create(fb, loc, step(fb, i, p, mask, lane32, carried[0]));
        });
    finish(kb, chunk, lane, loop.getResult(0));
  }

  void rewrite(BufferListLoop m) {
    scf::ForOp loop = m.loop;
    Location loc = loop.getLoc();
    OpBuilder b(loop);
    auto cst = [&](OpBuilder &nb, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(nb, loc, v);
    };
    Type idx = b.getIndexType(), i32 = b.getI32Type();
    Value n = arith::MaxSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, loop.getUpperBound(), loop.getLowerBound()),
        cst(b, 0));
    Value chunks = arith::CeilDivUIOp::create(b, loc, n, cst(b, kChunk));
    auto bufType = MemRefType::get({ShapedType::kDynamic}, idx);
    Value counts = memref::AllocOp::create(b, loc, bufType, ValueRange{chunks});
    Value offsets = memref::AllocOp::create(b, loc, bufType, ValueRange{chunks});
    auto popc = [&](OpBuilder &nb, Value x) -> Value {
      return arith::IndexCastUIOp::create(nb, loc, idx, math::CtPopOp::create(nb, loc, x));
    };
    auto laneZero = [&](OpBuilder &nb, Value lane) {
      return arith::CmpIOp::create(nb, loc, arith::CmpIPredicate::eq, lane, cst(nb, 0));
    };

    // 1. Each chunk's count: the sum of its ballots' set bits.
    warpLaunch(
        b, loc, m, chunks, [&](OpBuilder &nb, Value) { return cst(nb, 0); },
        [&](OpBuilder &nb, Value, Value, Value mask, Value, Value carried) -> Value {
          return arith::AddIOp::create(nb, loc, carried, popc(nb, mask));
        },
        [&](OpBuilder &nb, Value chunk, Value lane, Value total) {
          auto first = scf::IfOp::create(nb, loc, laneZero(nb, lane), /*withElseRegion=*/false);
          OpBuilder tb = OpBuilder::atBlockBegin(&first.getThenRegion().front());
          memref::StoreOp::create(tb, loc, total, counts, ValueRange{chunk});
        });

    // 2. Exclusive prefix sum from the loop's starting count.
    auto scan = scf::ForOp::create(
        b, loc, cst(b, 0), chunks, cst(b, 1), ValueRange{loop.getInitArgs()[0]},
        [&](OpBuilder &fb, Location, Value c, ValueRange acc) {
          memref::StoreOp::create(fb, loc, acc[0], offsets, ValueRange{c});
          Value cnt = memref::LoadOp::create(fb, loc, counts, ValueRange{c});
          scf::YieldOp::create(fb, loc, ValueRange{arith::AddIOp::create(fb, loc, acc[0], cnt)});
        });

    // 3. Each lane whose predicate holds writes its position after the
    //    chunk's earlier ones: the offset, the steps' counts so far, the
    //    set bits below its lane.
    Value list = m.store.getMemRef();
    warpLaunch(
        b, loc, m, chunks,
        [&](OpBuilder &nb, Value chunk) -> Value {
          return memref::LoadOp::create(nb, loc, offsets, ValueRange{chunk});
        },
        [&](OpBuilder &nb, Value i, Value p, Value mask, Value lane32, Value carried) -> Value {
          Value one = arith::ConstantOp::create(nb, loc, i32, nb.getI32IntegerAttr(1));
          Value below = arith::SubIOp::create(nb, loc, arith::ShLIOp::create(nb, loc, one, lane32),
                                              one);
          Value at = arith::AddIOp::create(
              nb, loc, carried, popc(nb, arith::AndIOp::create(nb, loc, mask, below)));
          auto put = scf::IfOp::create(nb, loc, p, /*withElseRegion=*/false);
          OpBuilder tb = OpBuilder::atBlockBegin(&put.getThenRegion().front());
          memref::StoreOp::create(tb, loc, i, list, ValueRange{at});
          return arith::AddIOp::create(nb, loc, carried, popc(nb, mask));
        },
        [](OpBuilder &, Value, Value, Value) {});
    memref::DeallocOp::create(b, loc, counts);
    memref::DeallocOp::create(b, loc, offsets);
    loop.getResult(0).replaceAllUsesWith(scan.getResult(0));
    loop.erase();
  }
};

} // namespace
