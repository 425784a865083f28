//===- GPUContractionKernels.cpp - vector threads for GPU contractions ----===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// On the GPU target, a bufferized matmul-like `linalg.generic` would become
// one thread per output element issuing a 4-byte load per multiply-add.
// This pass builds its loops itself: one thread per `width` consecutive
// outputs along the contiguous loop n and `rows` rows, loading each piece of
// the weight row as one aligned vector (a 16-byte `ld.global.v4.f32`) and
// keeping every accumulator in registers. Split-K's combining sum gets the
// same threads without the multiply. A `linalg.fill` that only initializes
// the output becomes the accumulators' start value.
//
// Each output still sums its products in the same order, one k after the
// other, so results are those of the scalar loops.
//
//===----------------------------------------------------------------------===//

#include "GPUContraction.h"

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace sparsa {
#define GEN_PASS_DEF_GPUCONTRACTIONKERNELSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {

/// The addf that |op|'s body yields when the body has |numArgs| arguments
/// and |numOps| operations (the yield included), or null.
arith::AddFOp yieldedAdd(linalg::LinalgOp op, unsigned numArgs, size_t numOps) {
  Block *body = op.getBlock();
  if (body->getNumArguments() != numArgs || body->getOperations().size() != numOps)
    return {};
  auto yield = dyn_cast<linalg::YieldOp>(body->getTerminator());
  return yield && yield.getNumOperands() == 1
             ? yield.getOperand(0).getDefiningOp<arith::AddFOp>()
             : arith::AddFOp();
}

/// Whether every operand of |op| is a static f32 shaped value and |op| has
/// |inputs| inputs, one init and one reduction loop.
bool staticF32Reduction(linalg::LinalgOp op, unsigned inputs) {
  if (op.getNumDpsInputs() != inputs || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1)
    return false;
  return llvm::all_of(op->getOpOperands(), [](OpOperand &operand) {
    auto type = dyn_cast<ShapedType>(operand.get().getType());
    return type && type.hasStaticShape() && type.getElementType().isF32();
  });
}

/// The mulf and addf of a `out + in0 * in1` body (either operand order),
/// or nulls.
std::pair<arith::MulFOp, arith::AddFOp> contractionBody(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  arith::AddFOp add = yieldedAdd(op, 3, 3);
  if (!add)
    return {};
  Value acc = body->getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if ((add.getLhs() != acc && add.getRhs() != acc) || product == acc)
    return {};
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul || mul->getBlock() != body)
    return {};
  Value x = body->getArgument(0), y = body->getArgument(1);
  if (!((mul.getLhs() == x && mul.getRhs() == y) || (mul.getLhs() == y && mul.getRhs() == x)))
    return {};
  return {mul, add};
}

bool mapUses(AffineMap map, unsigned dim) {
  return map.isFunctionOfDim(dim);
}

/// Sets |plan|'s reduction loop and n (the output's last loop) when the
/// output map |outMap| holds every parallel loop once (each output element
/// is written by one thread) and not the reduction.
bool placeReductionAndN(linalg::LinalgOp op, AffineMap outMap, sparsa::GPUContractionPlan &plan) {
  auto kinds = op.getIteratorTypesArray();
  for (unsigned d = 0; d < kinds.size(); ++d)
    if (kinds[d] == utils::IteratorType::reduction)
      plan.kDim = d;
  if (outMap.getNumResults() != kinds.size() - 1 || outMap.getNumResults() == 0 ||
      mapUses(outMap, plan.kDim))
    return false;
  plan.nDim = cast<AffineDimExpr>(outMap.getResults().back()).getPosition();
  return true;
}

} // namespace

Value sparsa::bufferRoot(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

bool sparsa::isFreshAllocation(Value root) {
  return isa_and_present<memref::AllocOp, memref::AllocaOp, gpu::AllocOp>(root.getDefiningOp());
}

std::optional<sparsa::GPUContractionPlan>
sparsa::planGPUContraction(linalg::LinalgOp op, int64_t width, int64_t maxRows) {
  // (Static operands: the loop ranges are static too.)
  if (width < 1 || !staticF32Reduction(op, 2) || !contractionBody(op).first)
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(maps, [](AffineMap m) { return m.isProjectedPermutation(); }))
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();

  GPUContractionPlan plan;
  plan.width = width;
  AffineMap outMap = maps[2];
  if (!placeReductionAndN(op, outMap, plan))
    return std::nullopt;
  auto lastDimIs = [](AffineMap m, unsigned d) {
    return m.getNumResults() > 0 &&
           cast<AffineDimExpr>(m.getResults().back()).getPosition() == d;
  };
  bool found = false;
  for (unsigned b = 0; b < 2 && !found; ++b) {
    AffineMap bMap = maps[b], aMap = maps[1 - b];
    if (lastDimIs(bMap, plan.nDim) && !mapUses(aMap, plan.nDim) &&
        mapUses(aMap, plan.kDim) && mapUses(bMap, plan.kDim)) {
      plan.bOperand = b;
      plan.aOperand = 1 - b;
      found = true;
    }
  }
  if (!found || ranges[plan.nDim] % width != 0)
    return std::nullopt;
  // Register rows: the innermost other loop that `a` and the output vary
  // along and `b` does not (a GEMM's or a multi-token GEMV's m).
  AffineMap aMap = maps[plan.aOperand], bMap = maps[plan.bOperand];
  for (AffineExpr e : outMap.getResults()) {
    unsigned d = cast<AffineDimExpr>(e).getPosition();
    if (d != plan.nDim && mapUses(aMap, d) && !mapUses(bMap, d))
      plan.rowDim = d;
  }
  if (plan.rowDim) {
    int64_t range = ranges[*plan.rowDim];
    for (int64_t r = maxRows; r >= 1; r /= 2)
      if (range % r == 0) {
        plan.rows = r;
        break;
      }
  }
  return plan;
}

namespace {

/// The addf of an `out + in` body (either order), or null.
arith::AddFOp sumBody(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  arith::AddFOp add = yieldedAdd(op, 2, 2);
  if (!add)
    return {};
  Value in = body->getArgument(0), out = body->getArgument(1);
  if (!((add.getLhs() == in && add.getRhs() == out) ||
        (add.getLhs() == out && add.getRhs() == in)))
    return {};
  return add;
}

/// A sum over one loop (split-K's combining op: `out[P] += in[..., n]`)
/// as a plan without `a`: one thread per `width` outputs along n.
std::optional<sparsa::GPUContractionPlan> planGPUSum(linalg::LinalgOp op, int64_t width) {
  if (width < 1 || !staticF32Reduction(op, 1) || !sumBody(op))
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(maps, [](AffineMap m) { return m.isProjectedPermutation(); }))
    return std::nullopt;
  sparsa::GPUContractionPlan plan;
  plan.width = width;
  plan.bOperand = 0;
  AffineMap outMap = maps[1], inMap = maps[0];
  if (!placeReductionAndN(op, outMap, plan) || !mapUses(inMap, plan.kDim))
    return std::nullopt;
  if (cast<AffineDimExpr>(inMap.getResults().back()).getPosition() != plan.nDim ||
      ranges[plan.nDim] % width != 0)
    return std::nullopt;
  return plan;
}

/// Whether vector accesses of |v| are aligned to |bytes|: a contiguous
/// (identity layout) view of a fresh allocation or of a weight argument
/// (weights sit at 64-byte offsets of a 256-byte aligned device buffer;
/// `sparsa.weight_offset` once their data went to the sidecar),
/// whose rows are multiples of the vector.
bool alignedBuffer(Value v, int64_t width) {
  auto type = dyn_cast<MemRefType>(v.getType());
  if (!type || !type.getLayout().isIdentity() || type.getRank() == 0 ||
      type.getShape().back() % width != 0)
    return false;
  Value root = sparsa::bufferRoot(v);
  if (auto alloc = root.getDefiningOp<memref::AllocOp>())
    return static_cast<int64_t>(alloc.getAlignment().value_or(16)) >= width * 4;
  if (isa_and_present<gpu::AllocOp>(root.getDefiningOp()))
    return true;
  auto arg = dyn_cast<BlockArgument>(root);
  if (!arg || !arg.getOwner()->isEntryBlock())
    return false;
  auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
  return func && (func.getArgAttr(arg.getArgNumber(), sparsa::kWeightAttrName) ||
                  func.getArgAttr(arg.getArgNumber(), sparsa::kWeightOffsetAttrName));
}

/// Whether |op| (or an op nested in it) may touch the fresh allocation
/// |root|: it uses a view of it, or it calls something.
bool mayTouch(Operation *op, Value root) {
  WalkResult r = op->walk([&](Operation *nested) {
    if (isa<CallOpInterface>(nested))
      return WalkResult::interrupt();
    for (Value v : nested->getOperands())
      if (isa<MemRefType>(v.getType()) && sparsa::bufferRoot(v) == root)
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return r.wasInterrupted();
}

/// A `linalg.fill` of |out| that nothing reads before |op| overwrites every
/// element. Between the two may be ops that touch no memory (views,
/// constants), allocations, and, when |out| is a view of a fresh
/// allocation, ops that use no view of that allocation and call nothing
/// (e.g. the kernel of split-K's chunks before its combining sum).
linalg::FillOp initializingFill(linalg::GenericOp op, Value out) {
  Value root = sparsa::bufferRoot(out);
  bool fresh = sparsa::isFreshAllocation(root);
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev))
      if (fill.getOutputs()[0] == out)
        return fill;
    if (isMemoryEffectFree(prev) || isa<memref::AllocOp>(prev))
      continue;
    if (!fresh || mayTouch(prev, root))
      return {};
  }
  return {};
}

/// The op right after |op| if it adds a bias along n to |out| in place:
/// `out = out + bias` over the output's shape (identity maps on |out|),
/// the bias an aligned buffer whose last index is the output's last.
linalg::GenericOp biasEpilogue(linalg::GenericOp op, Value out, int64_t width) {
  auto next = dyn_cast_or_null<linalg::GenericOp>(op->getNextNode());
  if (!next || !next.hasPureBufferSemantics() || next.getNumDpsInputs() != 2 ||
      next.getNumDpsInits() != 1 || next.getDpsInits()[0] != out ||
      next.getNumReductionLoops() != 0)
    return {};
  SmallVector<AffineMap> maps = next.getIndexingMapsArray();
  unsigned self = next.getDpsInputs()[0] == out ? 0 : 1;
  if (next.getDpsInputs()[self] != out || next.getDpsInputs()[1 - self] == out ||
      !maps[self].isIdentity() || !maps[2].isIdentity() ||
      !maps[1 - self].isProjectedPermutation())
    return {};
  AffineMap biasMap = maps[1 - self];
  unsigned last = maps[2].getNumDims() - 1;
  if (biasMap.getNumResults() == 0 ||
      cast<AffineDimExpr>(biasMap.getResults().back()).getPosition() != last)
    return {};
  Value biasBuffer = next.getDpsInputs()[1 - self];
  auto type = dyn_cast<MemRefType>(biasBuffer.getType());
  if (!type || !type.getElementType().isF32() || !alignedBuffer(biasBuffer, width))
    return {};
  Block *body = next.getBlock();
  arith::AddFOp add = yieldedAdd(next, 3, 2);
  if (!add)
    return {};
  Value x = body->getArgument(self), y = body->getArgument(1 - self);
  if (!((add.getLhs() == x && add.getRhs() == y) || (add.getLhs() == y && add.getRhs() == x)))
    return {};
  return next;
}

struct GPUContractionKernelsPass final
    : sparsa::impl::GPUContractionKernelsPassBase<GPUContractionKernelsPass> {
  using GPUContractionKernelsPassBase::GPUContractionKernelsPassBase;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.hasPureBufferSemantics())
        candidates.push_back(op);
    });
    for (linalg::GenericOp op : candidates)
      if (!erased.contains(op))
        rewrite(op);
  }

  /// Candidates a rewrite folded away (a bias add it took in).
  DenseSet<Operation *> erased;

  void rewrite(linalg::GenericOp op) {
    std::optional<sparsa::GPUContractionPlan> plan =
        sparsa::planGPUContraction(op, width, maxRows);
    bool isSum = false;
    if (!plan) {
      plan = planGPUSum(op, width);
      isSum = plan.has_value();
    }
    if (!plan)
      return;
    // A sum has no `a`: its terms are the vectors of `b`.
    Value a = isSum ? Value() : op.getDpsInputs()[plan->aOperand];
    Value b = op.getDpsInputs()[plan->bOperand];
    Value out = op.getDpsInits()[0];
    if (!alignedBuffer(b, plan->width) || !alignedBuffer(out, plan->width))
      return;
    arith::MulFOp mul;
    arith::AddFOp add;
    std::tie(mul, add) = isSum ? std::pair(arith::MulFOp(), sumBody(op)) : contractionBody(op);
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap outMap = maps.back();
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    unsigned numDims = ranges.size();

    OpBuilder builder(op);
    Location loc = op.getLoc();
    auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(builder, loc, v); };
    Value fillValue;
    linalg::FillOp fill = initializingFill(op, out);
    if (fill && fill.getInputs()[0].getType().isF32()) {
      fillValue = fill.getInputs()[0];
      fill.erase();
    }

    // A bias add right after, in place on the output (`out = out + bias`,
    // the bias along n): added to the accumulators before their store.
    linalg::GenericOp bias = biasEpilogue(op, out, plan->width);
    unsigned biasOperand = 0;
    AffineMap biasMap;
    arith::AddFOp biasAdd;
    if (bias) {
      biasOperand = bias.getDpsInputs()[0] == out ? 1 : 0;
      // The bias's indices in the contraction's loops.
      // Its loop j is the output's index j, i.e. loop outMap(j) here.
      AffineMap own = bias.getIndexingMapsArray()[biasOperand];
      SmallVector<AffineExpr> outDims(outMap.getResults());
      biasMap = own.replaceDimsAndSymbols(outDims, {}, outMap.getNumDims(), 0);
      biasAdd = yieldedAdd(bias, 3, 2);
    }

    // Threads: the output's loops in its order, rows and n in tiles.
    SmallVector<unsigned> threadDims;
    for (AffineExpr e : outMap.getResults())
      threadDims.push_back(cast<AffineDimExpr>(e).getPosition());
    SmallVector<Value> lbs, ubs, steps;
    for (unsigned d : threadDims) {
      int64_t tile = d == plan->nDim ? plan->width : (plan->rowDim == d ? plan->rows : 1);
      lbs.push_back(cst(0));
      ubs.push_back(cst(ranges[d] / tile));
      steps.push_back(cst(1));
    }
    auto vecType = VectorType::get({plan->width}, builder.getF32Type());
    int64_t rows = plan->rows;
    uint64_t alignment = plan->width * 4;
    scf::ParallelOp::create(
        builder, loc, lbs, ubs, steps,
        [&](OpBuilder &b0, Location l, ValueRange ivs) {
          OpBuilder::InsertionGuard guard(b0);
          auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b0, l, v); };
          SmallVector<Value> dims(numDims);
          for (auto [d, iv] : llvm::zip(threadDims, ivs)) {
            if (d == plan->nDim)
              dims[d] = arith::MulIOp::create(b0, l, iv, c(plan->width));
            else if (plan->rowDim == d)
              dims[d] = arith::MulIOp::create(b0, l, iv, c(rows));
            else
              dims[d] = iv;
          }
          // Indices of |map| with row |r| of the tile and loop values |dims|.
          auto indices = [&](OpBuilder &bb, AffineMap map, ArrayRef<Value> values, int64_t r) {
            SmallVector<Value> idx;
            for (AffineExpr e : map.getResults()) {
              unsigned d = cast<AffineDimExpr>(e).getPosition();
              Value v = values[d];
              if (plan->rowDim == d && r > 0)
                v = arith::AddIOp::create(bb, l, v, arith::ConstantIndexOp::create(bb, l, r));
              idx.push_back(v);
            }
            return idx;
          };
          SmallVector<Value> inits;
          for (int64_t r = 0; r < rows; ++r) {
            if (fillValue)
              inits.push_back(vector::BroadcastOp::create(b0, l, vecType, fillValue));
            else
              inits.push_back(vector::LoadOp::create(b0, l, vecType, out,
                                                     indices(b0, outMap, dims, r),
                                                     /*nontemporal=*/false,
                                                     llvm::MaybeAlign(alignment)));
          }
          // k in steps of |unroll|: all loads of a step first, so they are
          // in flight together, then the multiply-adds in k order.
          int64_t kRange = ranges[plan->kDim];
          // (Fewer steps with more rows: a step's loads and products stay in
          // registers. But a thread that holds all rows of a few-token GEMV
          // is memory-bound: it keeps 4x the steps. On an H200 that took
          // an 8 x 8192 GEMV's kernel from 97 to 87 us, where the same
          // steps slowed a 512-row GEMM from 0.87 to 1.24 ms.)
          bool allRows = plan->rowDim && ranges[*plan->rowDim] == rows && rows > 1;
          int64_t step = 1, maxStep = std::max<int64_t>(1, (allRows ? 4 * unroll : unroll) / rows);
          while (step * 2 <= maxStep && kRange % (step * 2) == 0)
            step *= 2;
          auto loop = scf::ForOp::create(
              b0, l, c(0), c(kRange), c(step), inits,
              [&](OpBuilder &b1, Location l1, Value k0, ValueRange accs) {
                SmallVector<Value> bVecs;
                SmallVector<SmallVector<Value>> aVecs(step);
                for (int64_t u = 0; u < step; ++u) {
                  SmallVector<Value> values(dims);
                  values[plan->kDim] =
                      u == 0 ? k0
                             : arith::AddIOp::create(b1, l1, k0,
                                                     arith::ConstantIndexOp::create(b1, l1, u));
                  bVecs.push_back(vector::LoadOp::create(
                      b1, l1, vecType, b, indices(b1, maps[plan->bOperand], values, 0),
                      /*nontemporal=*/false, llvm::MaybeAlign(alignment)));
                  for (int64_t r = 0; a && r < rows; ++r) {
                    Value aScalar = memref::LoadOp::create(
                        b1, l1, a, indices(b1, maps[plan->aOperand], values, r));
                    aVecs[u].push_back(vector::BroadcastOp::create(b1, l1, vecType, aScalar));
                  }
                }
                SmallVector<Value> next(accs);
                for (int64_t u = 0; u < step; ++u)
                  for (int64_t r = 0; r < rows; ++r) {
                    Value prod = bVecs[u];
                    if (a)
                      prod = arith::MulFOp::create(b1, l1, aVecs[u][r], bVecs[u],
                                                   mul.getFastmath());
                    next[r] = arith::AddFOp::create(b1, l1, next[r], prod, add.getFastmath());
                  }
                scf::YieldOp::create(b1, l1, next);
              });
          for (int64_t r = 0; r < rows; ++r) {
            Value result = loop.getResult(r);
            if (bias) {
              Value v = vector::LoadOp::create(b0, l, vecType, bias.getDpsInputs()[biasOperand],
                                               indices(b0, biasMap, dims, r),
                                               /*nontemporal=*/false, llvm::MaybeAlign(alignment));
              result = arith::AddFOp::create(b0, l, result, v, biasAdd.getFastmath());
            }
            vector::StoreOp::create(b0, l, result, out, indices(b0, outMap, dims, r),
                                    /*nontemporal=*/false, llvm::MaybeAlign(alignment));
          }
        });
    op.erase();
    if (bias) {
      erased.insert(bias);
      bias.erase();
    }
  }
};

} // namespace
