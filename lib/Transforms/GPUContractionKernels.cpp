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
// A GEMM (64+ rows and columns) is one gpu.launch instead, built here too:
// blocks of 256 threads stage tiles of both operands through workgroup
// memory, each thread holding an 8 x 8 (or 4 x 4) tile of outputs.
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
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <cmath>

namespace sparsa {
#define GEN_PASS_DEF_GPUCONTRACTIONKERNELSPASS
#define GEN_PASS_DEF_GPULOWERBF16MMAPASS
#define GEN_PASS_DEF_GPUALIGNWORKGROUPMEMORYPASS
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

/// Whether every operand of |op| is an f32 shaped value (static unless
/// |dynamic|) and |op| has |inputs| inputs, one init and one reduction loop.
bool f32Reduction(linalg::LinalgOp op, unsigned inputs, bool dynamic = false) {
  if (op.getNumDpsInputs() != inputs || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1)
    return false;
  return llvm::all_of(op->getOpOperands(), [&](OpOperand &operand) {
    auto type = dyn_cast<ShapedType>(operand.get().getType());
    return type && (dynamic || type.hasStaticShape()) && type.getElementType().isF32();
  });
}

/// The mulf and addf of a `out + in0 * in1` body (either operand order),
/// or nulls. |widened|: `out + extf(in0) * extf(in1)` instead.
std::pair<arith::MulFOp, arith::AddFOp> contractionBody(linalg::LinalgOp op,
                                                        bool widened = false) {
  Block *body = op.getBlock();
  arith::AddFOp add = yieldedAdd(op, 3, widened ? 5 : 3);
  if (!add)
    return {};
  Value acc = body->getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if ((add.getLhs() != acc && add.getRhs() != acc) || product == acc)
    return {};
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul || mul->getBlock() != body)
    return {};
  auto factor = [&](Value v) -> Value {
    if (!widened)
      return v;
    auto ext = v.getDefiningOp<arith::ExtFOp>();
    return ext ? ext.getIn() : Value();
  };
  Value p = factor(mul.getLhs()), q = factor(mul.getRhs());
  Value x = body->getArgument(0), y = body->getArgument(1);
  if (!((p == x && q == y) || (p == y && q == x)))
    return {};
  return {mul, add};
}

bool mapUses(AffineMap map, unsigned dim) {
  return map.isFunctionOfDim(dim);
}

/// The row loop of a contraction: the innermost loop of the output other
/// than |n| that `a` reads and `b` does not (a GEMM's or a multi-token
/// GEMV's m), if any.
std::optional<unsigned> rowLoop(AffineMap outMap, AffineMap aMap, AffineMap bMap, unsigned n) {
  std::optional<unsigned> row;
  for (AffineExpr e : outMap.getResults()) {
    unsigned d = cast<AffineDimExpr>(e).getPosition();
    if (d != n && mapUses(aMap, d) && !mapUses(bMap, d))
      row = d;
  }
  return row;
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
sparsa::planGPUContraction(linalg::LinalgOp op, int64_t width, int64_t maxRows,
                           bool dynamicRows) {
  // (Static operands: the loop ranges are static too; with |dynamicRows|
  // the row loop alone may be dynamic.)
  if (width < 1 || !f32Reduction(op, 2, dynamicRows) || !contractionBody(op).first)
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
  // Register rows: along the row loop.
  plan.rowDim = rowLoop(outMap, maps[plan.aOperand], maps[plan.bOperand], plan.nDim);
  for (unsigned d = 0; d < ranges.size(); ++d)
    if (ShapedType::isDynamic(ranges[d]) && plan.rowDim != d)
      return std::nullopt;
  if (plan.rowDim && !ShapedType::isDynamic(ranges[*plan.rowDim])) {
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
  if (width < 1 || !f32Reduction(op, 1) || !sumBody(op))
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

} // namespace

bool sparsa::alignedBuffer(Value v, int64_t width) {
  auto type = dyn_cast<MemRefType>(v.getType());
  if (!type || !type.getLayout().isIdentity() || type.getRank() == 0 ||
      type.getShape().back() % width != 0)
    return false;
  Value root = ::sparsa::bufferRoot(v);
  if (auto alloc = root.getDefiningOp<memref::AllocOp>())
    return static_cast<int64_t>(alloc.getAlignment().value_or(16)) >= width * 4;
  if (isa_and_present<gpu::AllocOp>(root.getDefiningOp()))
    return true;
  auto arg = dyn_cast<BlockArgument>(root);
  if (!arg || !arg.getOwner()->isEntryBlock())
    return false;
  auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
  return func && (func.getArgAttr(arg.getArgNumber(), ::sparsa::kWeightAttrName) ||
                  func.getArgAttr(arg.getArgNumber(), ::sparsa::kWeightOffsetAttrName));
}

namespace {

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
  if (!type || !type.getElementType().isF32() || !sparsa::alignedBuffer(biasBuffer, width))
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

/// What the tiled GEMM kernels share: a gpu.launch before the op over
/// output tiles of bm x bn (grid x: columns, y: rows, z: the other parallel
/// loops), its workgroup tiles, index arithmetic at the builder's point,
/// and the edges: rows and columns past a multiple of the tile read
/// clamped values and are not stored; k past the end reads clamped and is
/// masked to zero.
struct TileFrame {
  OpBuilder b;
  Location loc;
  int64_t M, N, K, BM, BN, BK;
  /// The workgroup tiles, in the order of their types.
  SmallVector<Value> tiles;
  /// The thread; the block tile's first row and column; the other parallel
  /// loops' indices (null at m, n and k).
  Value t, m0, n0;
  SmallVector<Value> base;
  /// A run-time row count (M is dynamic): the launch is inside an scf.if on
  /// it being positive (a zero grid is a launch error).
  Value rows;

  /// The product of the parallel loops other than |m| and |n| (and |dims|,
  /// those loops).
  static int64_t batchOf(ArrayRef<int64_t> ranges, unsigned m, unsigned n, unsigned k,
                         SmallVectorImpl<unsigned> *dims = nullptr) {
    int64_t batch = 1;
    for (unsigned d = 0; d < ranges.size(); ++d)
      if (d != m && d != n && d != k) {
        if (dims)
          dims->push_back(d);
        batch *= ranges[d];
      }
    return batch;
  }

  static MemRefType workgroupType(ArrayRef<int64_t> shape, Type elt) {
    auto space = gpu::AddressSpaceAttr::get(elt.getContext(), gpu::AddressSpace::Workgroup);
    return MemRefType::get(shape, elt, MemRefLayoutAttrInterface(), space);
  }

  TileFrame(linalg::GenericOp op, unsigned m, unsigned n, unsigned k, int64_t bm, int64_t bn,
            int64_t bk, int64_t threads, ArrayRef<MemRefType> tileTypes)
      : b(op), loc(op.getLoc()), BM(bm), BN(bn), BK(bk) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    M = ranges[m];
    N = ranges[n];
    K = ranges[k];
    SmallVector<unsigned> batchDims;
    int64_t batch = batchOf(ranges, m, n, k, &batchDims);
    Value rowTiles;
    if (ShapedType::isDynamic(M)) {
      Value out = op.getDpsInits()[0];
      AffineMap outMap = op.getIndexingMapsArray().back();
      for (unsigned r = 0; r < outMap.getNumResults(); ++r)
        if (cast<AffineDimExpr>(outMap.getResult(r)).getPosition() == m)
          rows = memref::DimOp::create(b, loc, out, r);
      Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, rows, c(0));
      auto guard = scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
      b.setInsertionPointToStart(&guard.getThenRegion().front());
      rowTiles = arith::DivUIOp::create(b, loc, addi(rows, c(BM - 1)), c(BM));
    } else {
      rowTiles = c(llvm::divideCeil(M, BM));
    }
    auto launch = gpu::LaunchOp::create(b, loc, c(llvm::divideCeil(N, BN)), rowTiles, c(batch),
                                        c(threads), c(1), c(1));
    for (MemRefType type : tileTypes)
      tiles.push_back(launch.addWorkgroupAttribution(type, loc));
    Block &body = launch.getBody().front();
    while (!body.empty())
      body.back().erase();
    b.setInsertionPointToStart(&body);
    gpu::KernelDim3 ids = launch.getBlockIds();
    t = launch.getThreadIds().x;
    n0 = muli(ids.x, BN);
    m0 = muli(ids.y, BM);
    base.resize(ranges.size());
    Value z = ids.z;
    for (unsigned d : llvm::reverse(batchDims)) {
      base[d] = rem(z, ranges[d]);
      z = div(z, ranges[d]);
    }
  }

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value addi(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value muli(Value x, int64_t y) { return arith::MulIOp::create(b, loc, x, c(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, loc, x, c(y)); }
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, loc, x, c(y)); }
  Value minu(Value x, int64_t y) { return arith::MinUIOp::create(b, loc, x, c(y)); }
  /// |map|'s indices with the loops at |values|.
  static SmallVector<Value> indices(AffineMap map, ArrayRef<Value> values) {
    SmallVector<Value> idx;
    for (AffineExpr e : map.getResults())
      idx.push_back(values[cast<AffineDimExpr>(e).getPosition()]);
    return idx;
  }
  Value rowAt(Value m) {
    if (rows)
      return arith::MinUIOp::create(b, loc, m, arith::SubIOp::create(b, loc, rows, c(1)));
    return M % BM ? minu(m, M - 1) : m;
  }
  /// Column |n| of a read |width| wide.
  Value colAt(Value n, int64_t width) { return N % BN ? minu(n, N - width) : n; }
  /// Reduction index |k| to read, and (past a multiple of the step) whether
  /// it is inside.
  std::pair<Value, Value> kAt(Value k) {
    if (K % BK == 0)
      return {k, Value()};
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, k, c(K));
    return {minu(k, K - 1), valid};
  }
  /// The reduction loop: |inits| holds the accumulators (the first
  /// |numAcc|) and the registers of the first step's loads. Each step
  /// stores its registers to the tiles (|store|), waits for the block,
  /// issues the next step's loads (|load| at the next step's first k; the
  /// last step loads its own again, unread) before its products
  /// (|compute| updates the accumulators from the tiles), and waits again
  /// before the next step overwrites the tiles.
  scf::ForOp stagedLoop(ValueRange inits, size_t numAcc, function_ref<void(ValueRange)> store,
                        function_ref<SmallVector<Value>(Value)> load,
                        function_ref<void(MutableArrayRef<Value>, Value)> compute) {
    int64_t steps = llvm::divideCeil(K, BK);
    return scf::ForOp::create(
        b, loc, c(0), c(steps), c(1), inits,
        [&](OpBuilder &lb, Location, Value step, ValueRange iter) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
          store(iter.drop_front(numAcc));
          gpu::BarrierOp::create(b, loc);
          SmallVector<Value> regs = load(muli(minu(addi(step, c(1)), steps - 1), BK));
          SmallVector<Value> acc(iter.take_front(numAcc));
          compute(acc, step);
          gpu::BarrierOp::create(b, loc);
          llvm::append_range(acc, regs);
          scf::YieldOp::create(b, loc, acc);
        });
  }

  /// Where the tiles do not divide the output: moves the builder into an
  /// scf.if on row |m| and column |n| being inside (the caller restores the
  /// insertion point).
  void guardInside(Value m, Value n) {
    Value inside;
    auto less = [&](Value x, int64_t bound) -> Value {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, c(bound));
    };
    if (rows)
      inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, m, rows);
    else if (M % BM)
      inside = less(m, M);
    if (N % BN) {
      Value col = less(n, N);
      inside = inside ? arith::AndIOp::create(b, loc, inside, col).getResult() : col;
    }
    if (!inside)
      return;
    auto guarded = scf::IfOp::create(b, loc, inside, /*withElseRegion=*/false);
    b.setInsertionPointToStart(&guarded.getThenRegion().front());
  }
};

/// Shared-memory tiles of a GEMM: a block of 16 x 16 threads computes
/// bm x bn outputs (each thread bm/16 x bn/16 of them), in steps of bk
/// along the reduction.
struct GemmTiles {
  static constexpr int64_t kSide = 16, kThreads = kSide * kSide;
  int64_t bm, bn, bk;
  int64_t tm() const { return bm / kSide; }
  int64_t tn() const { return bn / kSide; }
};

/// The tiles for |op| under |plan|, or nothing when it is not a GEMM worth
/// them: rows and n at least 64, k at least 16, vectors of 4 along n.
/// 128-tiles where they still give most SMs a block, 64-tiles otherwise.
std::optional<GemmTiles> chooseGemmTiles(linalg::LinalgOp op,
                                         const sparsa::GPUContractionPlan &plan) {
  if (!plan.rowDim || plan.width != 4)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t M = ranges[*plan.rowDim], N = ranges[plan.nDim], K = ranges[plan.kDim];
  bool dynamicRows = ShapedType::isDynamic(M);
  if ((!dynamicRows && M < 64) || N < 64 || K < 16)
    return std::nullopt;
  int64_t batch = TileFrame::batchOf(ranges, *plan.rowDim, plan.nDim, plan.kDim);
  if (batch > 65535)
    return std::nullopt;
  // (A run-time row count: 64-tiles, which waste less on few rows.)
  if (dynamicRows)
    return GemmTiles{64, 64, 16};
  int64_t blocks128 = llvm::divideCeil(M, 128) * llvm::divideCeil(N, 128) * batch;
  if (M >= 128 && N >= 128 && blocks128 >= 96)
    return GemmTiles{128, 128, 8};
  return GemmTiles{64, 64, 16};
}

/// A contraction of 16-bit floats accumulated in f32 (`out + extf(a) *
/// extf(b)`, the lowering of f16 / bf16 MatMul and Gemm): the operands and
/// loops a tensor-core kernel needs.
struct MmaPlan {
  unsigned aOperand, bOperand;
  unsigned mDim, nDim, kDim;
  Type elt; // f16 or bf16
};

std::optional<MmaPlan> planMma(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || !op.hasPureBufferSemantics())
    return std::nullopt;
  auto shaped = [](Value v) { return dyn_cast<MemRefType>(v.getType()); };
  MemRefType x = shaped(op.getDpsInputs()[0]), y = shaped(op.getDpsInputs()[1]),
             o = shaped(op.getDpsInits()[0]);
  if (!x || !y || !o || !o.getElementType().isF32() || x.getElementType() != y.getElementType() ||
      !(x.getElementType().isF16() || x.getElementType().isBF16()))
    return std::nullopt;
  if (!contractionBody(op, /*widened=*/true).first)
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(maps, [](AffineMap m) { return m.isProjectedPermutation(); }))
    return std::nullopt;
  MmaPlan plan;
  plan.elt = x.getElementType();
  sparsa::GPUContractionPlan dims;
  if (!placeReductionAndN(op, maps[2], dims))
    return std::nullopt;
  plan.kDim = dims.kDim;
  plan.nDim = dims.nDim;
  // b: the input that reads n (and k); a: the other, reading k and a row
  // loop m that b does not.
  bool found = false;
  for (unsigned bi = 0; bi < 2 && !found; ++bi) {
    AffineMap bMap = maps[bi], aMap = maps[1 - bi];
    if (mapUses(bMap, plan.nDim) && !mapUses(aMap, plan.nDim) && mapUses(aMap, plan.kDim) &&
        mapUses(bMap, plan.kDim)) {
      plan.bOperand = bi;
      plan.aOperand = 1 - bi;
      found = true;
    }
  }
  if (!found)
    return std::nullopt;
  std::optional<unsigned> m =
      rowLoop(maps[2], maps[plan.aOperand], maps[plan.bOperand], plan.nDim);
  if (!m)
    return std::nullopt;
  plan.mDim = *m;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  // (Static loops but the rows, which may be a run-time count.)
  for (unsigned d = 0; d < ranges.size(); ++d)
    if (ShapedType::isDynamic(ranges[d]) && d != plan.mDim)
      return std::nullopt;
  int64_t batch = TileFrame::batchOf(ranges, plan.mDim, plan.nDim, plan.kDim);
  if ((!ShapedType::isDynamic(ranges[plan.mDim]) && ranges[plan.mDim] < 16) ||
      ranges[plan.nDim] < 16 || batch > 65535)
    return std::nullopt;
  return plan;
}

/// The value of a `linalg.fill` that only initializes |op|'s output (see
/// initializingFill), erased: the accumulators' start; or null.
Value takeInitializingFill(linalg::GenericOp op) {
  linalg::FillOp fill = initializingFill(op, op.getDpsInits()[0]);
  if (!fill || !fill.getInputs()[0].getType().isF32())
    return Value();
  Value value = fill.getInputs()[0];
  fill.erase();
  return value;
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
    if (int8TensorCores)
      if (std::optional<sparsa::GPUQuantizedGemv> q = sparsa::planGPUQuantizedGemv(op);
          q && sparsa::int8MmaFits(op, *q)) {
        auto outType = cast<MemRefType>(op.getDpsInits()[0].getType());
        if (outType.isDynamicDim(0) || outType.getDimSize(0) >= sparsa::kInt8MmaRows) {
          buildInt8MmaGemm(op, *q, takeInitializingFill(op));
          op.erase();
          return;
        }
      }
    if (tensorCores)
      if (std::optional<MmaPlan> mma = planMma(op)) {
        buildMmaGemm(op, *mma, takeInitializingFill(op));
        op.erase();
        return;
      }
    std::optional<sparsa::GPUContractionPlan> plan =
        sparsa::planGPUContraction(op, width, maxRows);
    bool isSum = false;
    if (!plan) {
      plan = planGPUSum(op, width);
      isSum = plan.has_value();
    }
    // A run-time row count: the shared-memory tiles only.
    bool dynamicRows = false;
    if (!plan && sharedTiles) {
      plan = sparsa::planGPUContraction(op, width, maxRows, /*dynamicRows=*/true);
      dynamicRows = plan.has_value();
    }
    if (!plan)
      return;
    std::optional<GemmTiles> tiles;
    if (!isSum && sharedTiles)
      tiles = chooseGemmTiles(op, *plan);
    if (dynamicRows && !tiles)
      return;
    // A sum has no `a`: its terms are the vectors of `b`.
    Value a = isSum ? Value() : op.getDpsInputs()[plan->aOperand];
    Value b = op.getDpsInputs()[plan->bOperand];
    Value out = op.getDpsInits()[0];
    if (!sparsa::alignedBuffer(b, plan->width) || !sparsa::alignedBuffer(out, plan->width))
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
    Value fillValue = takeInitializingFill(op);

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

    if (tiles) {
      buildTiledGemm(op, *plan, *tiles, fillValue, bias, biasOperand, biasMap, biasAdd, mul,
                     add);
      op.erase();
      if (bias) {
        erased.insert(bias);
        bias.erase();
      }
      return;
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

  /// Builds, before |op|, a gpu.launch computing it on tensor cores: blocks
  /// of 4 warps, each warp 32 x 32 outputs as 2 x 4 tiles of `mma.sync`
  /// m16n8k16 (16-bit inputs, f32 accumulators), the operands staged
  /// through workgroup memory 32 k at a time (a's tile row-major, b's
  /// n-major, so each thread's fragment pairs are adjacent), the next
  /// step's elements loaded into registers during the current one. Edges
  /// as in buildTiledGemm. The caller erases |op|.
  static void buildMmaGemm(linalg::GenericOp op, const MmaPlan &plan, Value fillValue) {
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap aMap = maps[plan.aOperand], bMap = maps[plan.bOperand], outMap = maps.back();
    Value a = op.getDpsInputs()[plan.aOperand], bBuf = op.getDpsInputs()[plan.bOperand];
    Value out = op.getDpsInits()[0];
    const unsigned mDim = plan.mDim, nDim = plan.nDim, kDim = plan.kDim;
    constexpr int64_t BM = 64, BN = 64, BK = 32, pitch = BK + 8, threads = 128;
    constexpr int64_t per = BM * BK / threads; // elements of each tile per thread
    Type elt = plan.elt, f32 = Float32Type::get(op.getContext());
    // Rows of 32 k padded by 8 elements (16 bytes): a warp's fragment
    // reads (8 rows, 4 pairs each) fall in different banks.
    MemRefType tileType = TileFrame::workgroupType({BM, pitch}, elt);
    TileFrame f(op, mDim, nDim, kDim, BM, BN, BK, threads, {tileType, tileType});
    OpBuilder &b = f.b;
    Location loc = f.loc;
    Value aTile = f.tiles[0], bTile = f.tiles[1];
    auto lastIs = [](AffineMap m, unsigned d) {
      return cast<AffineDimExpr>(m.getResults().back()).getPosition() == d;
    };
    Value t = f.t, m0 = f.m0, n0 = f.n0;
    ArrayRef<Value> base = f.base;
    Value lane = f.rem(t, 32), warp = f.div(t, 32);
    Value wm = f.div(warp, 2), wn = f.rem(warp, 2);
    Value g = f.div(lane, 4), tq = f.rem(lane, 4);
    // Tile coordinates (row or column of the tile, k) of a thread's load |i|,
    // consecutive threads along the operand's contiguous index.
    auto coords = [&](int64_t i, bool alongK) -> std::pair<Value, Value> {
      Value e = f.addi(t, f.c(i * threads));
      return alongK ? std::pair(f.div(e, BK), f.rem(e, BK))
                    : std::pair(f.rem(e, BM), f.div(e, BM));
    };
    bool aAlongK = lastIs(aMap, kDim), bAlongK = lastIs(bMap, kDim);
    Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(elt, 0.0));
    auto loadStep = [&](Value k0) {
      SmallVector<Value> regs;
      for (auto [operand, map, alongK, dim, at] :
           {std::tuple{a, aMap, aAlongK, mDim, 0}, std::tuple{bBuf, bMap, bAlongK, nDim, 1}})
        for (int64_t i = 0; i < per; ++i) {
          auto [rc, kk] = coords(i, alongK);
          auto [k, valid] = f.kAt(f.addi(k0, kk));
          SmallVector<Value> values(base);
          values[dim] = at == 0 ? f.rowAt(f.addi(m0, rc)) : f.colAt(f.addi(n0, rc), 1);
          values[kDim] = k;
          Value v = memref::LoadOp::create(b, loc, operand, f.indices(map, values));
          if (valid)
            v = arith::SelectOp::create(b, loc, valid, v, zero);
          regs.push_back(v);
        }
      return regs;
    };
    auto storeStep = [&](ValueRange regs) {
      for (auto [tile, alongK, at] : {std::tuple{aTile, aAlongK, 0}, std::tuple{bTile, bAlongK, 1}})
        for (int64_t i = 0; i < per; ++i) {
          auto [rc, kk] = coords(i, alongK);
          memref::StoreOp::create(b, loc, regs[at * per + i], tile, ValueRange{rc, kk});
        }
    };
    auto pair = VectorType::get({2}, elt);
    auto aFragType = VectorType::get({4, 2}, elt), bFragType = VectorType::get({2, 2}, elt);
    auto accType = VectorType::get({2, 2}, f32);
    const llvm::MaybeAlign align4(4);
    // Fragments (PTX's m16n8k16 layouts; g = lane / 4, q = lane % 4): a's
    // registers hold (row g, k 2q and 2q + 1), (g + 8, 2q), (g, 2q + 8),
    // (g + 8, 2q + 8); b's (k 2q, column g) and (2q + 8, g); the
    // accumulators rows g and g + 8, columns 2q and 2q + 1.
    auto warpRow = [&](int64_t mi, int64_t half) {
      return f.addi(f.addi(f.muli(wm, 32), f.c(mi * 16 + half * 8)), g);
    };
    auto warpCol = [&](int64_t ni) { return f.addi(f.addi(f.muli(wn, 32), f.c(ni * 8)), g); };
    // The output column of accumulator element j of warp tile ni.
    auto accCol = [&](int64_t ni, int64_t j) {
      return f.addi(f.addi(n0, f.muli(wn, 32)), f.addi(f.c(ni * 8 + j), f.muli(tq, 2)));
    };

    SmallVector<Value> inits;
    for (int64_t mi = 0; mi < 2; ++mi)
      for (int64_t ni = 0; ni < 4; ++ni) {
        if (fillValue) {
          inits.push_back(vector::BroadcastOp::create(b, loc, accType, fillValue));
          continue;
        }
        Value v = arith::ConstantOp::create(b, loc, accType, b.getZeroAttr(accType));
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            SmallVector<Value> values(base);
            values[mDim] = f.rowAt(f.addi(m0, warpRow(mi, i)));
            values[nDim] = f.colAt(accCol(ni, j), 1);
            Value e = memref::LoadOp::create(b, loc, out, f.indices(outMap, values));
            v = vector::InsertOp::create(b, loc, e, v, ArrayRef<int64_t>{i, j});
          }
        inits.push_back(v);
      }
    const size_t numAcc = inits.size();
    llvm::append_range(inits, loadStep(f.c(0)));

    scf::ForOp loop =
        f.stagedLoop(inits, numAcc, storeStep, loadStep, [&](MutableArrayRef<Value> acc, Value) {
          Value q2 = f.muli(tq, 2);
          for (int64_t ks = 0; ks < BK / 16; ++ks) {
            Value k0 = f.addi(f.c(ks * 16), q2);
            SmallVector<Value> aFrags, bFrags;
            for (int64_t mi = 0; mi < 2; ++mi) {
              Value r0 = warpRow(mi, 0), r8 = warpRow(mi, 1);
              Value frag = arith::ConstantOp::create(b, loc, aFragType, b.getZeroAttr(aFragType));
              std::pair<Value, Value> at[] = {{r0, k0}, {r8, k0}, {r0, f.addi(k0, f.c(8))},
                                              {r8, f.addi(k0, f.c(8))}};
              for (auto [r, rc] : llvm::enumerate(at)) {
                Value v = vector::LoadOp::create(b, loc, pair, aTile,
                                                 ValueRange{rc.first, rc.second},
                                                 /*nontemporal=*/false, align4);
                frag = vector::InsertOp::create(b, loc, v, frag, ArrayRef<int64_t>{int64_t(r)});
              }
              aFrags.push_back(frag);
            }
            for (int64_t ni = 0; ni < 4; ++ni) {
              Value col = warpCol(ni);
              Value frag = arith::ConstantOp::create(b, loc, bFragType, b.getZeroAttr(bFragType));
              Value ks0[] = {k0, f.addi(k0, f.c(8))};
              for (int64_t r = 0; r < 2; ++r) {
                Value v = vector::LoadOp::create(b, loc, pair, bTile, ValueRange{col, ks0[r]},
                                                 /*nontemporal=*/false, align4);
                frag = vector::InsertOp::create(b, loc, v, frag, ArrayRef<int64_t>{r});
              }
              bFrags.push_back(frag);
            }
            for (int64_t mi = 0; mi < 2; ++mi)
              for (int64_t ni = 0; ni < 4; ++ni) {
                Value &accum = acc[mi * 4 + ni];
                accum = nvgpu::MmaSyncOp::create(b, loc, aFrags[mi], bFrags[ni], accum,
                                                 ArrayRef<int64_t>{16, 8, 16});
              }
          }
        });

    for (int64_t mi = 0; mi < 2; ++mi)
      for (int64_t ni = 0; ni < 4; ++ni)
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            OpBuilder::InsertionGuard guard(b);
            SmallVector<Value> values(base);
            values[mDim] = f.addi(m0, warpRow(mi, i));
            values[nDim] = accCol(ni, j);
            f.guardInside(values[mDim], values[nDim]);
            Value e = vector::ExtractOp::create(b, loc, loop.getResult(mi * 4 + ni),
                                                ArrayRef<int64_t>{i, j});
            memref::StoreOp::create(b, loc, e, out, f.indices(outMap, values));
          }
    gpu::TerminatorOp::create(b, loc);
  }

  /// Builds, before |op| (a packed GEMV of the quantized lowering with int8
  /// activations, `q4_vnni` / `q8_vnni`, loops m, n, kk over code bytes),
  /// a gpu.launch computing it on int8 tensor cores: blocks of 4 warps over
  /// 64 x 64 outputs, each warp 32 x 32 as 2 x 4 tiles of `mma.sync`
  /// m16n8k32 (s8 x s8, i32 accumulators). The activation codes and the
  /// code bytes are staged through workgroup memory BK = 64 (or 32) code
  /// bytes at a time, rows padded by 16 bytes so that a warp's fragment
  /// reads (8 rows, 4 words each) fall in 32 different banks. Each mma
  /// takes 32 k:
  /// - 4-bit codes: 16 code bytes, k 0-15 the even activations against
  ///   the low nibbles, k 16-31 the odd ones against the high nibbles
  ///   (each thread's b fragment is one word of codes);
  /// - 8-bit codes: 32 code bytes, each code minus 128 as an s8.
  /// At the end of each weight block the i32 sums are scaled into f32
  /// accumulators: `(dot - z * sum(a)) * scale * activation scale`. An
  /// integer zero point of 4-bit codes is instead subtracted from each
  /// code in its register (q - z is an s8), and sum(a), where needed, is
  /// a second mma against ones. The caller erases |op|.
  static void buildInt8MmaGemm(linalg::GenericOp op, const sparsa::GPUQuantizedGemv &q,
                               Value fillValue) {
    MLIRContext *ctx = op.getContext();
    SmallVector<Value> ins(op.getDpsInputs());
    auto input = [&](int i) { return i < 0 ? Value() : ins[i]; };
    Value aEven = input(q.aEven), aOdd = input(q.aOdd), codes = input(q.codes),
          scales = input(q.scales), zeroPoints = input(q.zeroPoints),
          actScales = input(q.actScales);
    Value out = op.getDpsInits()[0];
    const int64_t Kh = cast<MemRefType>(codes.getType()).getDimSize(1);
    constexpr int64_t BM = 64, BN = 64, threads = 128;
    // Code bytes per mma (32 k), per staged step, and a tile row's pitch.
    const int64_t chunk = q.q8 ? 32 : 16, BK = Kh % 64 == 0 ? 64 : 32, pitch = BK + 16;
    const int64_t bb = q.blockBytes;
    Type i8 = IntegerType::get(ctx, 8), i32 = IntegerType::get(ctx, 32),
         f32 = Float32Type::get(ctx);
    MemRefType aTileType = TileFrame::workgroupType({BM, pitch}, i8),
               bTileType = TileFrame::workgroupType({BN, pitch}, i8);
    SmallVector<Value> aBuffers = {aEven};
    if (aOdd)
      aBuffers.push_back(aOdd);
    SmallVector<MemRefType> tileTypes(aBuffers.size(), aTileType);
    tileTypes.push_back(bTileType);
    TileFrame f(op, /*m=*/0, /*n=*/1, /*k=*/2, BM, BN, BK, threads, tileTypes);
    OpBuilder &b = f.b;
    Location loc = f.loc;
    ArrayRef<Value> aTiles = ArrayRef<Value>(f.tiles).drop_back();
    Value bTile = f.tiles.back();
    Value t = f.t, m0 = f.m0, n0 = f.n0;
    Value lane = f.rem(t, 32), warp = f.div(t, 32);
    Value wm = f.div(warp, 2), wn = f.rem(warp, 2);
    Value g = f.div(lane, 4), tq = f.rem(lane, 4);

    // How the zero point z enters. 4-bit codes with an integer z of at
    // most 15 (the constant, or packed in up to 4 bits): q - z in each
    // code's byte. 8-bit codes are taken as q - 128, leaving z - 128.
    // Otherwise the block's sum of activation codes times z is taken off.
    bool constZ = !zeroPoints;
    bool smallIntZ = constZ && q.zeroPoint == std::floor(q.zeroPoint) && q.zeroPoint >= 0 &&
                     q.zeroPoint <= 15;
    bool inRegister = !q.q8 && (smallIntZ || (q.zeroPointBits > 0 && q.zeroPointBits <= 4));
    bool needSum = !inRegister && !(q.q8 && constZ && q.zeroPoint == 128);

    auto i32c = [&](int64_t v) -> Value {
      return arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(int32_t(uint32_t(v))));
    };
    auto f32c = [&](double v) -> Value {
      return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(float(v)));
    };
    // The packed zero point of column |n| in block |blk|, as i32.
    auto packedZ = [&](Value n, Value blk) -> Value {
      int64_t per = 8 / q.zeroPointBits;
      Value byte = memref::LoadOp::create(b, loc, zeroPoints, ValueRange{n, f.div(blk, per)});
      Value shift = arith::IndexCastOp::create(b, loc, i32, f.muli(f.rem(blk, per), q.zeroPointBits));
      Value field = arith::ShRUIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i32, byte), shift);
      return arith::AndIOp::create(b, loc, field, i32c((1 << q.zeroPointBits) - 1));
    };
    // The zero point the block correction takes off (f32), of column |n|.
    auto correctionZ = [&](Value n, Value blk) -> Value {
      Value z;
      if (constZ)
        z = f32c(q.zeroPoint);
      else if (q.zeroPointBits)
        z = arith::UIToFPOp::create(b, loc, f32, packedZ(n, blk));
      else
        z = memref::LoadOp::create(b, loc, zeroPoints, ValueRange{n, blk});
      if (q.q8)
        z = arith::SubFOp::create(b, loc, z, f32c(128.0));
      return z;
    };

    // Global -> registers -> workgroup memory: 16-byte vectors, consecutive
    // threads along a row.
    const int64_t vecPerRow = BK / 16, per = BM * vecPerRow / threads;
    auto vec16 = VectorType::get({16}, i8);
    const llvm::MaybeAlign align16(16), align4(4);
    auto coords = [&](int64_t i) -> std::pair<Value, Value> {
      Value e = f.addi(t, f.c(i * threads));
      return {f.div(e, vecPerRow), f.muli(f.rem(e, vecPerRow), 16)};
    };
    auto loadStep = [&](Value k0) {
      SmallVector<Value> regs;
      for (Value buffer : aBuffers)
        for (int64_t i = 0; i < per; ++i) {
          auto [r, kk] = coords(i);
          regs.push_back(vector::LoadOp::create(
              b, loc, vec16, buffer, ValueRange{f.rowAt(f.addi(m0, r)), f.addi(k0, kk)},
              /*nontemporal=*/false, align16));
        }
      for (int64_t i = 0; i < per; ++i) {
        auto [r, kk] = coords(i);
        regs.push_back(vector::LoadOp::create(
            b, loc, vec16, codes, ValueRange{f.colAt(f.addi(n0, r), 1), f.addi(k0, kk)},
            /*nontemporal=*/false, align16));
      }
      return regs;
    };
    auto storeStep = [&](ValueRange regs) {
      SmallVector<Value> tiles(aTiles);
      tiles.push_back(bTile);
      for (auto [ti, tile] : llvm::enumerate(tiles))
        for (int64_t i = 0; i < per; ++i) {
          auto [r, kk] = coords(i);
          vector::StoreOp::create(b, loc, regs[ti * per + i], tile, ValueRange{r, kk},
                                  /*nontemporal=*/false, align16);
        }
    };

    auto word4 = VectorType::get({4}, i8), one32 = VectorType::get({1}, i32);
    auto aFragType = VectorType::get({4, 4}, i8), bFragType = VectorType::get({2, 4}, i8);
    auto dotType = VectorType::get({2, 2}, i32);
    auto asWord = [&](Value v) -> Value {
      return vector::ExtractOp::create(b, loc, vector::BitCastOp::create(b, loc, one32, v),
                                       ArrayRef<int64_t>{0});
    };
    auto asBytes = [&](Value w) -> Value {
      return vector::BitCastOp::create(b, loc, word4,
                                       vector::BroadcastOp::create(b, loc, one32, w));
    };
    // Fragments (PTX's m16n8k32 layouts; g = lane / 4, q = lane % 4): a's
    // registers hold (row g, k 4q..4q+3), (g + 8, 4q..), (g, 16 + 4q..),
    // (g + 8, 16 + 4q..); b's (k 4q.., column g) and (16 + 4q.., g); the
    // accumulators rows g and g + 8, columns 2q and 2q + 1.
    auto warpRow = [&](int64_t mi, int64_t half) {
      return f.addi(f.addi(f.muli(wm, 32), f.c(mi * 16 + half * 8)), g);
    };
    auto warpCol = [&](int64_t ni) { return f.addi(f.addi(f.muli(wn, 32), f.c(ni * 8)), g); };
    auto accCol = [&](int64_t ni, int64_t j) {
      return f.addi(f.addi(n0, f.muli(wn, 32)), f.addi(f.c(ni * 8 + j), f.muli(tq, 2)));
    };
    auto accIndex = [](int64_t mi, int64_t ni, int64_t i, int64_t j) {
      return ((mi * 4 + ni) * 2 + i) * 2 + j;
    };
    constexpr int64_t numF32 = 2 * 4 * 2 * 2, numDots = 2 * 4;

    // Accumulators: 32 f32 outputs, 8 i32 mma tiles, (needSum) the 2 m
    // tiles' sums of activation codes.
    SmallVector<Value> inits;
    for (int64_t mi = 0; mi < 2; ++mi)
      for (int64_t ni = 0; ni < 4; ++ni)
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            if (fillValue) {
              inits.push_back(fillValue);
              continue;
            }
            Value row = f.rowAt(f.addi(m0, warpRow(mi, i)));
            inits.push_back(memref::LoadOp::create(b, loc, out,
                                                   ValueRange{row, f.colAt(accCol(ni, j), 1)}));
          }
    Value zeroDot = arith::ConstantOp::create(b, loc, dotType, b.getZeroAttr(dotType));
    inits.append(numDots + (needSum ? 2 : 0), zeroDot);
    const size_t numAcc = inits.size();
    llvm::append_range(inits, loadStep(f.c(0)));

    // The block that ends at code byte |end| (a block boundary): the i32
    // sums scaled into the f32 accumulators, then cleared.
    auto flush = [&](MutableArrayRef<Value> acc, Value end) {
      Value blk = f.div(arith::SubIOp::create(b, loc, end, f.c(1)), bb);
      Value lane4 = f.muli(blk, bb / 4);
      SmallVector<Value> rowScale, rowSum;
      for (int64_t mi = 0; mi < 2; ++mi)
        for (int64_t i = 0; i < 2; ++i) {
          Value row = f.rowAt(f.addi(m0, warpRow(mi, i)));
          rowScale.push_back(memref::LoadOp::create(b, loc, actScales, ValueRange{row, lane4}));
          if (needSum)
            rowSum.push_back(arith::SIToFPOp::create(
                b, loc, f32,
                vector::ExtractOp::create(b, loc, acc[numF32 + numDots + mi],
                                          ArrayRef<int64_t>{i, 0})));
        }
      for (int64_t ni = 0; ni < 4; ++ni)
        for (int64_t j = 0; j < 2; ++j) {
          Value col = f.colAt(accCol(ni, j), 1);
          Value scale = memref::LoadOp::create(b, loc, scales, ValueRange{col, blk});
          Value z = needSum ? correctionZ(col, blk) : Value();
          for (int64_t mi = 0; mi < 2; ++mi)
            for (int64_t i = 0; i < 2; ++i) {
              Value d = arith::SIToFPOp::create(
                  b, loc, f32,
                  vector::ExtractOp::create(b, loc, acc[numF32 + mi * 4 + ni],
                                            ArrayRef<int64_t>{i, j}));
              if (needSum)
                d = arith::SubFOp::create(b, loc, d,
                                          arith::MulFOp::create(b, loc, z, rowSum[mi * 2 + i]));
              Value s = arith::MulFOp::create(b, loc, scale, rowScale[mi * 2 + i]);
              Value &a = acc[accIndex(mi, ni, i, j)];
              a = arith::AddFOp::create(b, loc, a, arith::MulFOp::create(b, loc, d, s));
            }
        }
      for (size_t i = numF32; i < numAcc; ++i)
        acc[i] = zeroDot;
    };

    Value ones = arith::ConstantOp::create(
        b, loc, bFragType, DenseElementsAttr::get(bFragType, b.getI8IntegerAttr(1)));
    Value nibbles = i32c(0x0F0F0F0F), highBits = i32c(0x80808080), byteOnes = i32c(0x01010101);
    scf::ForOp loop = f.stagedLoop(
        inits, numAcc, storeStep, loadStep, [&](MutableArrayRef<Value> acc, Value step) {
          Value stepStart = f.muli(step, BK);
          for (int64_t j = 0; j < BK / chunk; ++j) {
            Value kc = f.addi(f.c(j * chunk), f.muli(tq, 4));
            Value kc16 = f.addi(kc, f.c(16));
            auto read = [&](Value tile, Value row, Value at) -> Value {
              return vector::LoadOp::create(b, loc, word4, tile, ValueRange{row, at},
                                            /*nontemporal=*/false, align4);
            };
            SmallVector<Value> aFrags;
            for (int64_t mi = 0; mi < 2; ++mi) {
              Value r0 = warpRow(mi, 0), r8 = warpRow(mi, 1);
              Value hiTile = aOdd ? aTiles[1] : aTiles[0], hiAt = aOdd ? kc : kc16;
              Value words[] = {read(aTiles[0], r0, kc), read(aTiles[0], r8, kc),
                               read(hiTile, r0, hiAt), read(hiTile, r8, hiAt)};
              Value frag = arith::ConstantOp::create(b, loc, aFragType, b.getZeroAttr(aFragType));
              for (auto [r, w] : llvm::enumerate(words))
                frag = vector::InsertOp::create(b, loc, w, frag, ArrayRef<int64_t>{int64_t(r)});
              aFrags.push_back(frag);
            }
            // The block of this chunk (for a packed zero point).
            Value chunkBlk = f.div(f.addi(stepStart, f.c(j * chunk)), bb);
            SmallVector<Value> bFrags;
            for (int64_t ni = 0; ni < 4; ++ni) {
              Value col = warpCol(ni);
              Value lo, hi;
              if (q.q8) {
                lo = arith::XOrIOp::create(b, loc, asWord(read(bTile, col, kc)), highBits);
                hi = arith::XOrIOp::create(b, loc, asWord(read(bTile, col, kc16)), highBits);
              } else {
                Value w = asWord(read(bTile, col, kc));
                lo = arith::AndIOp::create(b, loc, w, nibbles);
                hi = arith::AndIOp::create(
                    b, loc, arith::ShRUIOp::create(b, loc, w, i32c(4)), nibbles);
                if (inRegister) {
                  // Bytes q - z: (q + 128 - z) has no borrow, then the
                  // high bit flipped back.
                  Value zz = constZ ? i32c(int64_t(q.zeroPoint) * 0x01010101)
                                    : arith::MulIOp::create(
                                          b, loc, packedZ(f.colAt(f.addi(n0, col), 1), chunkBlk),
                                          byteOnes)
                                          .getResult();
                  auto minusZ = [&](Value x) -> Value {
                    Value biased = arith::SubIOp::create(
                        b, loc, arith::OrIOp::create(b, loc, x, highBits), zz);
                    return arith::XOrIOp::create(b, loc, biased, highBits);
                  };
                  lo = minusZ(lo);
                  hi = minusZ(hi);
                }
              }
              Value frag = arith::ConstantOp::create(b, loc, bFragType, b.getZeroAttr(bFragType));
              frag = vector::InsertOp::create(b, loc, asBytes(lo), frag, ArrayRef<int64_t>{0});
              frag = vector::InsertOp::create(b, loc, asBytes(hi), frag, ArrayRef<int64_t>{1});
              bFrags.push_back(frag);
            }
            for (int64_t mi = 0; mi < 2; ++mi) {
              for (int64_t ni = 0; ni < 4; ++ni) {
                Value &dot = acc[numF32 + mi * 4 + ni];
                dot = nvgpu::MmaSyncOp::create(b, loc, aFrags[mi], bFrags[ni], dot,
                                               ArrayRef<int64_t>{16, 8, 32});
              }
              if (needSum) {
                Value &sum = acc[numF32 + numDots + mi];
                sum = nvgpu::MmaSyncOp::create(b, loc, aFrags[mi], ones, sum,
                                               ArrayRef<int64_t>{16, 8, 32});
              }
            }
            // A block ends after this chunk: statically where blocks
            // divide the step, else where the byte count says so.
            int64_t endInStep = (j + 1) * chunk;
            Value end = f.addi(stepStart, f.c(endInStep));
            if (BK % bb == 0) {
              if (endInStep % bb == 0)
                flush(acc, end);
              continue;
            }
            if (bb % BK == 0 && endInStep != BK)
              continue;
            Value ends = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, f.rem(end, bb),
                                               f.c(0));
            SmallVector<Type> types;
            for (Value v : acc)
              types.push_back(v.getType());
            auto branch = scf::IfOp::create(b, loc, types, ends, /*withElseRegion=*/true);
            {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPointToStart(branch.thenBlock());
              SmallVector<Value> flushed(acc.begin(), acc.end());
              flush(flushed, end);
              scf::YieldOp::create(b, loc, flushed);
              b.setInsertionPointToStart(branch.elseBlock());
              scf::YieldOp::create(b, loc, SmallVector<Value>(acc.begin(), acc.end()));
            }
            for (auto [i, r] : llvm::enumerate(branch.getResults()))
              acc[i] = r;
          }
        });

    for (int64_t mi = 0; mi < 2; ++mi)
      for (int64_t ni = 0; ni < 4; ++ni)
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            OpBuilder::InsertionGuard guard(b);
            Value row = f.addi(m0, warpRow(mi, i)), col = accCol(ni, j);
            f.guardInside(row, col);
            memref::StoreOp::create(b, loc, loop.getResult(accIndex(mi, ni, i, j)), out,
                                    ValueRange{row, col});
          }
    gpu::TerminatorOp::create(b, loc);
  }

  /// Replaces nothing: builds, before |op|, the gpu.launch computing it
  /// with |tiles| staged through workgroup memory (see the pass
  /// description); the caller erases |op| (and the bias op it took in).
  static void buildTiledGemm(linalg::GenericOp op, const sparsa::GPUContractionPlan &plan,
                             GemmTiles tiles, Value fillValue, linalg::GenericOp bias,
                             unsigned biasOperand, AffineMap biasMap, arith::AddFOp biasAdd,
                             arith::MulFOp mul, arith::AddFOp add) {
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap aMap = maps[plan.aOperand], bMap = maps[plan.bOperand], outMap = maps.back();
    Value a = op.getDpsInputs()[plan.aOperand], bBuf = op.getDpsInputs()[plan.bOperand];
    Value out = op.getDpsInits()[0];
    unsigned rowDim = *plan.rowDim, nDim = plan.nDim, kDim = plan.kDim;
    const int64_t BM = tiles.bm, BN = tiles.bn, BK = tiles.bk, TM = tiles.tm(),
                  TN = tiles.tn(), side = GemmTiles::kSide, threads = GemmTiles::kThreads;
    // Elements of a's tile and vectors of b's each thread loads per step.
    const int64_t aPer = BM * BK / threads, bPer = BK * (BN / 4) / threads;
    assert(aPer * threads == BM * BK && bPer * threads == BK * BN / 4 && TM % 4 == 0 &&
           TN % 4 == 0 && "tiles the threads do not divide");
    Type f32 = Float32Type::get(op.getContext());
    // a's tile transposed (k-major, so a thread reads its rows as vectors),
    // each k's row padded by 4 floats: the eight threads storing one row's
    // eight k then hit eight different banks. b's tile as in memory.
    const int64_t aPitch = BM + 4;
    TileFrame f(op, rowDim, nDim, kDim, BM, BN, BK, threads,
                {TileFrame::workgroupType({BK, aPitch}, f32),
                 TileFrame::workgroupType({BK, BN}, f32)});
    OpBuilder &b = f.b;
    Location loc = f.loc;
    Value aTile = f.tiles[0], bTile = f.tiles[1];
    auto vec4 = VectorType::get({4}, f32);
    const llvm::MaybeAlign align16(16);
    Value t = f.t, m0 = f.m0, n0 = f.n0;
    ArrayRef<Value> base = f.base;
    Value tx = f.rem(t, side), ty = f.div(t, side);
    // The tile coordinates of load |i| of a thread: a's (k, row), along a's
    // contiguous index across consecutive threads; b's (k, column).
    bool aAlongK = cast<AffineDimExpr>(aMap.getResults().back()).getPosition() == kDim;
    auto aCoords = [&](int64_t i) -> std::pair<Value, Value> {
      Value e = f.addi(t, f.c(i * threads));
      return aAlongK ? std::pair(f.rem(e, BK), f.div(e, BK))
                     : std::pair(f.div(e, BM), f.rem(e, BM));
    };
    auto bCoords = [&](int64_t i) -> std::pair<Value, Value> {
      Value e = f.addi(t, f.c(i * threads));
      return {f.div(e, BN / 4), f.muli(f.rem(e, BN / 4), 4)};
    };
    // One step's loads from global memory, starting at reduction index k0.
    auto loadStep = [&](Value k0) {
      SmallVector<Value> regs;
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
      for (int64_t i = 0; i < aPer; ++i) {
        auto [kk, mm] = aCoords(i);
        auto [k, valid] = f.kAt(f.addi(k0, kk));
        SmallVector<Value> values(base);
        values[rowDim] = f.rowAt(f.addi(m0, mm));
        values[kDim] = k;
        Value v = memref::LoadOp::create(b, loc, a, f.indices(aMap, values));
        if (valid)
          v = arith::SelectOp::create(b, loc, valid, v, zero);
        regs.push_back(v);
      }
      for (int64_t i = 0; i < bPer; ++i) {
        auto [kk, nn] = bCoords(i);
        auto [k, valid] = f.kAt(f.addi(k0, kk));
        SmallVector<Value> values(base);
        values[nDim] = f.colAt(f.addi(n0, nn), 4);
        values[kDim] = k;
        Value v = vector::LoadOp::create(b, loc, vec4, bBuf, f.indices(bMap, values),
                                         /*nontemporal=*/false, align16);
        if (valid)
          v = arith::SelectOp::create(b, loc, valid, v,
                                      vector::BroadcastOp::create(b, loc, vec4, zero));
        regs.push_back(v);
      }
      return regs;
    };
    auto storeStep = [&](ValueRange regs) {
      for (int64_t i = 0; i < aPer; ++i) {
        auto [kk, mm] = aCoords(i);
        memref::StoreOp::create(b, loc, regs[i], aTile, ValueRange{kk, mm});
      }
      for (int64_t i = 0; i < bPer; ++i) {
        auto [kk, nn] = bCoords(i);
        vector::StoreOp::create(b, loc, regs[aPer + i], bTile, ValueRange{kk, nn},
                                /*nontemporal=*/false, align16);
      }
    };
    // A thread's rows: four consecutive, then (8 rows) the same four in
    // the tile's lower half; its columns likewise by vectors of 4.
    auto rowOf = [&](int64_t r) { return f.addi(f.muli(ty, 4), f.c((r / 4) * (BM / 2) + r % 4)); };
    auto colOf = [&](int64_t v) { return f.addi(f.muli(tx, 4), f.c(v * (BN / 2))); };
    const int64_t vecs = TN / 4;

    SmallVector<Value> inits;
    for (int64_t r = 0; r < TM; ++r)
      for (int64_t v = 0; v < vecs; ++v) {
        if (fillValue) {
          inits.push_back(vector::BroadcastOp::create(b, loc, vec4, fillValue));
          continue;
        }
        SmallVector<Value> values(base);
        values[rowDim] = f.rowAt(f.addi(m0, rowOf(r)));
        values[nDim] = f.colAt(f.addi(n0, colOf(v)), 4);
        inits.push_back(vector::LoadOp::create(b, loc, vec4, out, f.indices(outMap, values),
                                               /*nontemporal=*/false, align16));
      }
    const size_t numAcc = inits.size();
    llvm::append_range(inits, loadStep(f.c(0)));

    scf::ForOp loop =
        f.stagedLoop(inits, numAcc, storeStep, loadStep, [&](MutableArrayRef<Value> acc, Value) {
          for (int64_t kk = 0; kk < BK; ++kk) {
            SmallVector<Value> aFrag, bFrag;
            for (int64_t j = 0; j < TM / 4; ++j)
              aFrag.push_back(vector::LoadOp::create(
                  b, loc, vec4, aTile,
                  ValueRange{f.c(kk), f.addi(f.muli(ty, 4), f.c(j * (BM / 2)))},
                  /*nontemporal=*/false, align16));
            for (int64_t j = 0; j < vecs; ++j)
              bFrag.push_back(vector::LoadOp::create(b, loc, vec4, bTile,
                                                     ValueRange{f.c(kk), colOf(j)},
                                                     /*nontemporal=*/false, align16));
            for (int64_t r = 0; r < TM; ++r) {
              Value s = vector::ExtractOp::create(b, loc, aFrag[r / 4], r % 4);
              Value splat = vector::BroadcastOp::create(b, loc, vec4, s);
              for (int64_t v = 0; v < vecs; ++v) {
                Value &accum = acc[r * vecs + v];
                Value prod = arith::MulFOp::create(b, loc, splat, bFrag[v], mul.getFastmath());
                accum = arith::AddFOp::create(b, loc, accum, prod, add.getFastmath());
              }
            }
          }
        });

    // The outputs, with the bias if one was taken in; past the edge, none.
    for (int64_t r = 0; r < TM; ++r)
      for (int64_t v = 0; v < vecs; ++v) {
        OpBuilder::InsertionGuard guard(b);
        SmallVector<Value> values(base);
        values[rowDim] = f.addi(m0, rowOf(r));
        values[nDim] = f.addi(n0, colOf(v));
        f.guardInside(values[rowDim], values[nDim]);
        Value result = loop.getResult(r * vecs + v);
        if (bias) {
          Value bv = vector::LoadOp::create(b, loc, vec4, bias.getDpsInputs()[biasOperand],
                                            f.indices(biasMap, values),
                                            /*nontemporal=*/false, align16);
          result = arith::AddFOp::create(b, loc, result, bv, biasAdd.getFastmath());
        }
        vector::StoreOp::create(b, loc, result, out, f.indices(outMap, values),
                                /*nontemporal=*/false, align16);
      }
    gpu::TerminatorOp::create(b, loc);
  }
};

} // namespace

namespace {

struct GPULowerBF16MmaPass final
    : sparsa::impl::GPULowerBF16MmaPassBase<GPULowerBF16MmaPass> {
  using GPULowerBF16MmaPassBase::GPULowerBF16MmaPassBase;

  void runOnOperation() override {
    SmallVector<nvgpu::MmaSyncOp> mmas;
    getOperation().walk([&](nvgpu::MmaSyncOp op) {
      auto a = cast<VectorType>(op.getMatrixA().getType());
      auto c = cast<VectorType>(op.getMatrixC().getType());
      if (a.getElementType().isBF16() && c.getElementType().isF32() &&
          op.getMmaShapeAsArray() == std::array<int64_t, 3>{16, 8, 16})
        mmas.push_back(op);
    });
    for (nvgpu::MmaSyncOp op : mmas) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      Type i32 = b.getI32Type(), f32 = b.getF32Type();
      // Row r of a fragment (two bf16) as one 32-bit register.
      auto registers = [&](Value fragment, int64_t rows) {
        SmallVector<Value> regs;
        for (int64_t r = 0; r < rows; ++r) {
          Value pairOf = vector::ExtractOp::create(b, loc, fragment, ArrayRef<int64_t>{r});
          regs.push_back(LLVM::BitcastOp::create(b, loc, i32, pairOf));
        }
        return regs;
      };
      SmallVector<Value> accs;
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 2; ++j)
          accs.push_back(
              vector::ExtractOp::create(b, loc, op.getMatrixC(), ArrayRef<int64_t>{i, j}));
      auto structType =
          LLVM::LLVMStructType::getLiteral(b.getContext(), SmallVector<Type>(4, f32));
      auto mma = NVVM::MmaOp::create(
          b, loc, structType, registers(op.getMatrixA(), 4), registers(op.getMatrixB(), 2), accs,
          ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
          std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
          std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
      Value result = arith::ConstantOp::create(b, loc, op.getType(), b.getZeroAttr(op.getType()));
      for (int64_t e = 0; e < 4; ++e) {
        Value v = LLVM::ExtractValueOp::create(b, loc, mma.getResult(), ArrayRef<int64_t>{e});
        result = vector::InsertOp::create(b, loc, v, result, ArrayRef<int64_t>{e / 2, e % 2});
      }
      op.replaceAllUsesWith(result);
      op.erase();
    }
  }
};

/// The widest access the tiled kernels make to workgroup memory.
constexpr int64_t kWorkgroupAlignment = 16;

struct GPUAlignWorkgroupMemoryPass final
    : sparsa::impl::GPUAlignWorkgroupMemoryPassBase<GPUAlignWorkgroupMemoryPass> {
  using GPUAlignWorkgroupMemoryPassBase::GPUAlignWorkgroupMemoryPassBase;

  void runOnOperation() override {
    StringRef name = LLVM::LLVMDialect::getAlignAttrName();
    getOperation().walk([&](gpu::GPUFuncOp func) {
      Builder b(func.getContext());
      for (unsigned i = 0; i < func.getNumWorkgroupAttributions(); ++i) {
        auto current = dyn_cast_or_null<IntegerAttr>(func.getWorkgroupAttributionAttr(i, name));
        if (!current || current.getInt() < kWorkgroupAlignment)
          func.setWorkgroupAttributionAttr(i, b.getStringAttr(name),
                                           b.getI64IntegerAttr(kWorkgroupAlignment));
      }
    });
  }
};

} // namespace
