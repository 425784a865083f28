//===- GPURowKernels.cpp - block-per-row kernels for the GPU ------*- C++ -*-//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Softmax, layer norm and their kin reduce each row, then map the row with
// the reductions' results. The shared lowering writes them as separate
// linalg ops (max, sum, a per-row term, the map), which the GPU mapping
// would run as several launches of one thread per row, each walking the
// whole row. Here they become one kernel with a block per row:
//
//   - sparsa-gpu-form-row-kernels (tensors): the map is tiled by one along
//     its row loops and the per-row producers are fused into the tile; the
//     scf.forall is mapped to #gpu.block<linear_dim_i>;
//   - sparsa-gpu-row-kernels-to-launches (buffers): such a forall becomes a
//     gpu.launch; reductions are strided per-thread partials combined by
//     gpu.all_reduce, per-row values stay scalars, the map is strided over
//     the block's threads;
//   - sparsa-gpu-lower-all-reduce (outlined kernels): upstream's lowering of
//     gpu.all_reduce to warp shuffles and shared memory.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"

namespace sparsa {
#define GEN_PASS_DEF_GPUFORMROWKERNELSPASS
#define GEN_PASS_DEF_GPUROWKERNELSTOLAUNCHESPASS
#define GEN_PASS_DEF_GPULOWERALLREDUCEPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {

/// Whether |loop| is a row kernel: mapped to linear block dimensions.
static bool isRowKernel(scf::ForallOp loop) {
  std::optional<ArrayAttr> mapping = loop.getMapping();
  return mapping && !mapping->empty() &&
         llvm::all_of(*mapping, [](Attribute a) {
           auto block = dyn_cast<gpu::GPUBlockMappingAttr>(a);
           return block && block.getBlock() >= gpu::MappingId::LinearDim0;
         });
}

//===----------------------------------------------------------------------===//
// Forming row kernels (tensors)
//===----------------------------------------------------------------------===//

/// Whether |v| is a per-row value made by a reduction: the result of a
/// reduction generic, or of an element-wise generic over such values
/// (mean = sum / n), a few levels deep.
static bool madeByReduction(Value v, int depth = 0) {
  auto g = v.getDefiningOp<linalg::GenericOp>();
  if (!g || depth > 6 || !g.hasPureTensorSemantics() || g.getNumDpsInits() != 1)
    return false;
  if (g.getNumReductionLoops() > 0)
    return true;
  return llvm::any_of(g.getDpsInputs(),
                      [&](Value in) { return madeByReduction(in, depth + 1); });
}

/// Element types a block reduction moves (gpu.shuffle: 32 and 64 bits).
static bool shufflable(Type t) {
  return t.isF32() || t.isF64() || t.isInteger(32) || t.isInteger(64);
}

/// The all_reduce kind of a combining op, and its neutral element.
struct Combiner {
  Operation *op;               // the body's combining op
  unsigned outOperand;         // which of its operands is the output
  gpu::AllReduceOperation kind;
  TypedAttr neutral;
};

static std::optional<Combiner> matchCombiner(linalg::GenericOp op) {
  Block *body = op.getBlock();
  Value out = body->getArguments().back();
  Operation *yield = body->getTerminator();
  if (!out.hasOneUse() || yield->getNumOperands() != 1 || !shufflable(out.getType()))
    return std::nullopt;
  Operation *c = *out.getUsers().begin();
  if (c->getNumOperands() != 2 || c->getNumResults() != 1 ||
      yield->getOperand(0) != c->getResult(0) || !c->getResult(0).hasOneUse())
    return std::nullopt;
  using K = gpu::AllReduceOperation;
  std::optional<K> kind = llvm::TypeSwitch<Operation *, std::optional<K>>(c)
                              .Case([](arith::AddFOp) { return K::ADD; })
                              .Case([](arith::MulFOp) { return K::MUL; })
                              .Case([](arith::MaximumFOp) { return K::MAXIMUMF; })
                              .Case([](arith::MinimumFOp) { return K::MINIMUMF; })
                              .Case([](arith::MaxNumFOp) { return K::MAXNUMF; })
                              .Case([](arith::MinNumFOp) { return K::MINNUMF; })
                              .Case([](arith::AddIOp) { return K::ADD; })
                              .Case([](arith::MulIOp) { return K::MUL; })
                              .Case([](arith::MaxSIOp) { return K::MAXSI; })
                              .Case([](arith::MinSIOp) { return K::MINSI; })
                              .Case([](arith::MaxUIOp) { return K::MAXUI; })
                              .Case([](arith::MinUIOp) { return K::MINUI; })
                              .Case([](arith::AndIOp) { return K::AND; })
                              .Case([](arith::OrIOp) { return K::OR; })
                              .Case([](arith::XOrIOp) { return K::XOR; })
                              .Default([](Operation *) { return std::nullopt; });
  std::optional<TypedAttr> neutral = arith::getNeutralElement(c);
  if (!kind || !neutral)
    return std::nullopt;
  unsigned outOperand = c->getOperand(0) == out ? 0 : 1;
  if (c->getOperand(1 - outOperand) == out)
    return std::nullopt;
  return Combiner{c, outOperand, *kind, *neutral};
}

struct GPUFormRowKernelsPass final
    : sparsa::impl::GPUFormRowKernelsPassBase<GPUFormRowKernelsPass> {
  using GPUFormRowKernelsPassBase::GPUFormRowKernelsPassBase;

  /// Elements per row below which a block per row does not pay (a warp).
  static constexpr int64_t kMinRowElements = 32;

  /// The map's loops the per-row operands do not index (the row's own
  /// loops), or none where |op| is not a row map.
  static std::optional<llvm::SmallBitVector> reducedLoops(linalg::GenericOp op) {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
        op.getNumLoops() == 0 || op.getNumReductionLoops() != 0 ||
        !op.getIndexingMapsArray().back().isIdentity() ||
        !isa<FloatType>(getElementTypeOrSelf(op.getResult(0).getType())))
      return std::nullopt;
    std::optional<llvm::SmallBitVector> missing;
    for (OpOperand *in : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(in);
      // Loops, or 0 for a kept dimension of one (keepdims reductions).
      bool plain = llvm::all_of(map.getResults(), [](AffineExpr e) {
        auto c = dyn_cast<AffineConstantExpr>(e);
        return isa<AffineDimExpr>(e) || (c && c.getValue() == 0);
      });
      if (!plain || !madeByReduction(in->get()))
        continue;
      // Block reductions move 32- and 64-bit values (gpu.shuffle): a
      // 16-bit per-row value keeps the usual path.
      if (!shufflable(getElementTypeOrSelf(in->get().getType())))
        return std::nullopt;
      llvm::SmallBitVector m(op.getNumLoops(), true);
      for (AffineExpr e : map.getResults())
        if (auto d = dyn_cast<AffineDimExpr>(e))
          m.reset(d.getPosition());
      if (m.none())
        continue;
      if (missing && *missing != m)
        return std::nullopt; // per-row values of different rows
      missing = m;
    }
    if (!missing || missing->all())
      return std::nullopt; // no per-row operand, or no row loop left
    // Rows shorter than a warp (a softmax over 8 keys) keep a thread per
    // row: a block would leave most of its threads idle at every
    // reduction.
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    int64_t elements = 1;
    bool dynamic = false;
    for (int i : missing->set_bits()) {
      if (ShapedType::isDynamic(ranges[i]))
        dynamic = true;
      else
        elements *= ranges[i];
    }
    if (!dynamic && elements < kMinRowElements)
      return std::nullopt;
    return missing;
  }

  /// A generic input that is `tensor.expand_shape` adding unit dimensions
  /// (a keepdims reduction's [R] -> [R, 1], read through `(d0, 0)`) reads
  /// the unexpanded tensor instead, so the per-row value is the reduction's
  /// own result.
  static bool foldUnitExpand(linalg::GenericOp op) {
    bool changed = false;
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    for (OpOperand *in : op.getDpsInputOperands()) {
      auto expand = in->get().getDefiningOp<tensor::ExpandShapeOp>();
      if (!expand)
        continue;
      ArrayRef<int64_t> outShape = expand.getResultType().getShape();
      ArrayRef<int64_t> srcShape = expand.getSrcType().getShape();
      SmallVector<unsigned> carriers;
      bool ok = true;
      for (auto [i, group] : llvm::enumerate(expand.getReassociationIndices())) {
        SmallVector<int64_t> nonUnit;
        for (int64_t d : group)
          if (outShape[d] != 1)
            nonUnit.push_back(d);
        if (nonUnit.size() > 1 || (nonUnit.empty() && srcShape[i] != 1)) {
          ok = false;
          break;
        }
        carriers.push_back(nonUnit.empty() ? group.back() : nonUnit.front());
      }
      if (!ok)
        continue;
      AffineMap m = maps[in->getOperandNumber()];
      // A unit dimension goes where it is read at a constant 0 or by a loop
      // another operand also indexes: a loop only the expanded operand
      // indexes must keep its extent.
      llvm::SmallBitVector elsewhere(op.getNumLoops());
      for (OpOperand &other : op->getOpOperands())
        if (&other != in)
          for (AffineExpr e : maps[other.getOperandNumber()].getResults())
            if (auto d = dyn_cast<AffineDimExpr>(e))
              elsewhere.set(d.getPosition());
      bool droppable = true;
      for (unsigned r = 0; r < m.getNumResults(); ++r)
        if (!llvm::is_contained(carriers, r)) {
          auto c = dyn_cast<AffineConstantExpr>(m.getResult(r));
          auto d = dyn_cast<AffineDimExpr>(m.getResult(r));
          droppable &= (c && c.getValue() == 0) || (d && elsewhere.test(d.getPosition()));
        }
      if (!droppable)
        continue;
      SmallVector<AffineExpr> kept;
      for (unsigned c : carriers)
        kept.push_back(m.getResult(c));
      maps[in->getOperandNumber()] =
          AffineMap::get(m.getNumDims(), m.getNumSymbols(), kept, op.getContext());
      in->set(expand.getSrc());
      changed = true;
    }
    if (changed)
      op.setIndexingMapsAttr(Builder(op.getContext()).getAffineMapArrayAttr(maps));
    return changed;
  }

  /// Element-wise ops of a per-row value over full rows (exp(x - max),
  /// read by both the sum and the division of a softmax written out op by
  /// op) are fused into each op that reads them: recomputed, never stored,
  /// so the row's reductions and map read only the input and per-row
  /// values.
  static void fuseRowElementwise(func::FuncOp func, RewriterBase &rewriter) {
    for (int round = 0; round < 8; ++round) {
      bool changed = false;
      SmallVector<linalg::GenericOp> generics;
      func.walk([&](linalg::GenericOp op) { generics.push_back(op); });
      DenseSet<Operation *> erased;
      for (linalg::GenericOp op : generics) {
        if (erased.contains(op) || op->getParentOfType<scf::ForallOp>())
          continue;
        for (OpOperand *in : op.getDpsInputOperands()) {
          auto producer = in->get().getDefiningOp<linalg::GenericOp>();
          // Full rows (the consumer's loops), reading a per-row value
          // broadcast along the row.
          if (!producer || producer.getNumReductionLoops() != 0 ||
              producer.getNumDpsInits() != 1 || !producer.hasPureTensorSemantics() ||
              producer.getNumLoops() != op.getNumLoops() ||
              !op.getMatchingIndexingMap(in).isPermutation() ||
              !llvm::any_of(producer.getDpsInputOperands(),
                            [&](OpOperand *pin) {
                              return madeByReduction(pin->get()) &&
                                     producer.getMatchingIndexingMap(pin).getNumResults() <
                                         producer.getNumLoops();
                            }) ||
              !linalg::areElementwiseOpsFusable(in))
            continue;
          rewriter.setInsertionPoint(op);
          FailureOr<linalg::ElementwiseOpFusionResult> fused =
              linalg::fuseElementwiseOps(rewriter, in);
          if (failed(fused))
            continue;
          // The consumer's results; the producer stays for other readers.
          for (auto [from, to] : fused->replacements)
            if (from.getDefiningOp() == op.getOperation())
              rewriter.replaceAllUsesWith(from, to);
          for (Operation *dead : {op.getOperation(), producer.getOperation()})
            if (dead->use_empty()) {
              erased.insert(dead);
              rewriter.eraseOp(dead);
            }
          changed = true;
          break;
        }
      }
      if (!changed)
        return;
    }
  }

  /// Tiles |op| by one along the loops |rows| marks (the rest whole) into
  /// an scf.forall mapped to linear block ids, fusing in the producers of
  /// per-row operands: fills and generics (|generics|) or fills alone.
  static FailureOr<scf::SCFTileAndFuseResult>
  tileRows(RewriterBase &rewriter, linalg::GenericOp op, const llvm::SmallBitVector &rows,
           bool generics) {
    MLIRContext *ctx = op.getContext();
    SmallVector<OpFoldResult> sizes;
    SmallVector<Attribute> mapping;
    for (unsigned i = 0; i < op.getNumLoops(); ++i) {
      sizes.push_back(rewriter.getIndexAttr(rows[i] ? 1 : 0));
      if (rows[i])
        mapping.push_back(gpu::GPUBlockMappingAttr::get(
            ctx, static_cast<gpu::MappingId>(
                     static_cast<unsigned>(gpu::MappingId::LinearDim0) + mapping.size())));
    }
    if (mapping.size() > 10)
      return failure(); // more row loops than linear mapping ids
    scf::SCFTilingOptions tiling;
    tiling.setTileSizes(sizes);
    tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
    tiling.setMapping(mapping);
    scf::SCFTileAndFuseOptions options;
    options.setTilingOptions(tiling);
    // Only per-row values (a slice of one element per dimension); full
    // rows are read where they are.
    options.setFusionControlFn(
        [generics](tensor::ExtractSliceOp slice, OpResult producer,
                   bool) -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
          Operation *def = producer.getOwner();
          if (!isa<linalg::FillOp>(def) && !(generics && isa<linalg::GenericOp>(def)))
            return std::nullopt;
          if (!llvm::all_of(slice.getResultType().getShape(),
                            [](int64_t d) { return d == 1; }))
            return std::nullopt;
          return scf::SCFTileAndFuseOptions::ControlFnResult{};
        });
    rewriter.setInsertionPoint(op);
    FailureOr<scf::SCFTileAndFuseResult> tiled = scf::tileConsumerAndFuseProducersUsingSCF(
        rewriter, cast<TilingInterface>(op.getOperation()), options);
    if (failed(tiled) || tiled->loops.empty())
      return failure();
    return tiled;
  }

  /// Replaces |op| by its tile and erases the untiled producers nothing
  /// else reads (recorded in |erased|).
  static void commitTile(RewriterBase &rewriter, linalg::GenericOp op,
                         scf::SCFTileAndFuseResult &tiled, DenseSet<Operation *> &erased) {
    rewriter.replaceOp(op, tiled.replacements.lookup(op.getResult(0)));
    erased.insert(op);
    for (Operation *producer : llvm::reverse(tiled.fusedProducers))
      if (producer->use_empty()) {
        erased.insert(producer);
        rewriter.eraseOp(producer);
      }
  }

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    DenseSet<Operation *> erased;
    getOperation().walk([&](linalg::GenericOp op) { foldUnitExpand(op); });
    fuseRowElementwise(getOperation(), rewriter);
    {
      // Fusion into a reduction keeps the producer's full-size result as a
      // second output while another op still read it; it is dead now.
      RewritePatternSet patterns(&getContext());
      linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
      GreedyRewriteConfig config;
      config.setMaxIterations(4);
      (void)applyPatternsGreedily(getOperation(), std::move(patterns), config);
    }
    SmallVector<std::pair<linalg::GenericOp, llvm::SmallBitVector>> maps;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<scf::ForallOp>())
        return;
      if (std::optional<llvm::SmallBitVector> reduced = reducedLoops(op))
        maps.emplace_back(op, *reduced);
    });
    // Last consumer first: an earlier map that fed it stays where it is.
    for (auto &[op, reduced] : llvm::reverse(maps)) {
      if (erased.contains(op))
        continue;
      FailureOr<scf::SCFTileAndFuseResult> tiled =
          tileRows(rewriter, op, ~reduced, /*generics=*/true);
      if (failed(tiled))
        continue;
      // At least one reduction must have joined the tile.
      bool fusedReduction = llvm::any_of(tiled->tiledAndFusedOps, [](Operation *t) {
        auto g = dyn_cast<linalg::GenericOp>(t);
        return g && g.getNumReductionLoops() > 0;
      });
      if (!fusedReduction) {
        // Nothing shared: leave the op as it was.
        for (LoopLikeOpInterface loop : llvm::reverse(tiled->loops))
          rewriter.eraseOp(loop);
        continue;
      }
      commitTile(rewriter, op, *tiled, erased);
    }
    // Plain reductions of many rows (ReduceSum / ReduceMean / ReduceMax
    // over the last axes, a pooling): a block per row as well, its threads
    // reading consecutive elements, instead of a thread walking each row.
    SmallVector<linalg::GenericOp> reductions;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op->getParentOfType<scf::ForallOp>() && isPlainRowReduction(op))
        reductions.push_back(op);
    });
    for (linalg::GenericOp op : reductions) {
      if (erased.contains(op))
        continue;
      // A per-row element-wise op that alone reads the result (ReduceMean's
      // division) is the tile's consumer: the reduction and its fill join
      // it, and the kernel writes the final value.
      if (op->hasOneUse()) {
        auto user = dyn_cast<linalg::GenericOp>(*op->getUsers().begin());
        if (user && !user->getParentOfType<scf::ForallOp>() && user.hasPureTensorSemantics() &&
            user.getNumDpsInits() == 1 && user.getNumReductionLoops() == 0 &&
            user.getNumLoops() == op.getNumParallelLoops() &&
            llvm::all_of(user.getIndexingMapsArray(),
                         [](AffineMap m) { return m.isIdentity(); })) {
          llvm::SmallBitVector all(user.getNumLoops(), true);
          FailureOr<scf::SCFTileAndFuseResult> tiled =
              tileRows(rewriter, user, all, /*generics=*/true);
          if (succeeded(tiled)) {
            commitTile(rewriter, user, *tiled, erased);
            continue;
          }
        }
      }
      llvm::SmallBitVector rows(op.getNumLoops());
      for (auto [i, kind] : llvm::enumerate(op.getIteratorTypesArray()))
        rows[i] = kind == utils::IteratorType::parallel;
      // Only the fill the reduction starts from joins.
      FailureOr<scf::SCFTileAndFuseResult> tiled =
          tileRows(rewriter, op, rows, /*generics=*/false);
      if (failed(tiled))
        continue;
      commitTile(rewriter, op, *tiled, erased);
    }
  }

  /// A reduction a block per row serves: one full-size input (the others,
  /// if any, per-row values), a combiner the block reduction knows, at
  /// least 64 rows (fewer static rows are split-K's) and 32 elements per
  /// row (or run-time sizes). Contractions (two inputs indexed by the
  /// reduction) and the lowering's tagged kernels are not.
  static bool isPlainRowReduction(linalg::GenericOp op) {
    if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
        op.getNumReductionLoops() == 0 || op.getNumParallelLoops() == 0 ||
        op->hasAttr(::sparsa::sparsa::kKernelAttrName) || !matchCombiner(op) ||
        !op.getIndexingMapsArray().back().isProjectedPermutation())
      return false;
    auto kinds = op.getIteratorTypesArray();
    int full = 0;
    for (OpOperand *in : op.getDpsInputOperands()) {
      AffineMap m = op.getMatchingIndexingMap(in);
      if (!m.isProjectedPermutation())
        return false;
      auto reduced = [&](AffineExpr e) {
        return kinds[cast<AffineDimExpr>(e).getPosition()] == utils::IteratorType::reduction;
      };
      if (!llvm::any_of(m.getResults(), reduced))
        continue;
      // Rows contiguous in memory: a reduction over an outer axis (a
      // column sum) is already coalesced with a thread per output.
      if (m.getNumResults() == 0 || !reduced(m.getResults().back()))
        return false;
      ++full;
    }
    if (full != 1)
      return false;
    int64_t rows = 1, elements = 1;
    bool dynamicRows = false, dynamicElements = false;
    for (auto [range, kind] : llvm::zip(op.getStaticLoopRanges(), kinds)) {
      bool row = kind == utils::IteratorType::parallel;
      if (ShapedType::isDynamic(range))
        (row ? dynamicRows : dynamicElements) = true;
      else
        (row ? rows : elements) *= range;
    }
    return (dynamicRows || rows >= 64) && (dynamicElements || elements >= kMinRowElements);
  }
};

//===----------------------------------------------------------------------===//
// Row kernels to launches (buffers)
//===----------------------------------------------------------------------===//

static bool allOnes(Type t) {
  auto m = dyn_cast<MemRefType>(t);
  return m && m.hasStaticShape() &&
         llvm::all_of(m.getShape(), [](int64_t d) { return d == 1; });
}

struct GPURowKernelsToLaunchesPass final
    : sparsa::impl::GPURowKernelsToLaunchesPassBase<GPURowKernelsToLaunchesPass> {
  using GPURowKernelsToLaunchesPassBase::GPURowKernelsToLaunchesPassBase;

  /// Builds the kernel for |loop| into |launch|'s body; fails (leaving
  /// partial IR in the launch, which the caller erases) on ops it does not
  /// know.
  struct Builder {
    scf::ForallOp loop;
    gpu::LaunchOp launch;
    OpBuilder b;
    IRMapping map;
    /// Per-row buffers (allocated in the body, every dimension one) and
    /// views of them -> the buffer.
    DenseMap<Value, Value> rowBuffer;
    /// Per-row buffer -> its current value.
    DenseMap<Value, Value> rowValue;
    Value tid, threads;
    bool pendingWrites = false;
    /// Per-row results in memory the body did not allocate (the row's
    /// element of a reduction's output): tracked as values, stored once at
    /// the end by thread 0.
    SmallVector<Value> writeBack;

    /// Tracks |out| (one element, not allocated in the body) as a per-row
    /// value stored at the end; its value so far is |init| (or, where null,
    /// what memory holds).
    void trackOutput(Value out, Value init) {
      rowBuffer[out] = out;
      writeBack.push_back(out);
      rowValue[out] = init ? init : loadOne(out);
    }

    Builder(scf::ForallOp loop, gpu::LaunchOp launch)
        : loop(loop), launch(launch), b(loop.getContext()) {}

    Location loc() { return loop.getLoc(); }

    Value rowOf(Value v) { return rowBuffer.lookup(v); }

    /// The indices |m| gives at the loop indices |loops|.
    SmallVector<Value> indicesAt(AffineMap m, ValueRange loops) {
      SmallVector<Value> idx;
      for (unsigned i = 0; i < m.getNumResults(); ++i)
        idx.push_back(affine::AffineApplyOp::create(b, loc(), m.getSubMap({i}), loops));
      return idx;
    }

    /// The single element of the one-element buffer |v| (in the kernel).
    Value loadOne(Value v) {
      auto type = cast<MemRefType>(v.getType());
      SmallVector<Value> zeros(type.getRank(), arith::ConstantIndexOp::create(b, loc(), 0));
      return memref::LoadOp::create(b, loc(), map.lookupOrDefault(v), zeros);
    }

    /// The value of operand |v| of a generic at |indices| (loads for
    /// memory, the scalar for a per-row buffer).
    Value readAt(Value v, AffineMap m, ValueRange loops) {
      if (Value row = rowOf(v))
        return rowValue.lookup(row);
      return memref::LoadOp::create(b, loc(), map.lookupOrDefault(v), indicesAt(m, loops));
    }

    /// Clones the body of |op| but its yield (and |skip|) with the block
    /// arguments bound to |args| and linalg.index to |loops|; returns the
    /// yielded values.
    SmallVector<Value> cloneBody(linalg::GenericOp op, ValueRange args, ValueRange loops,
                                 IRMapping &bm, Operation *skip = nullptr) {
      Block *body = op.getBlock();
      bm.map(body->getArguments().take_front(args.size()), args);
      for (Operation &inner : body->without_terminator()) {
        if (&inner == skip)
          continue;
        if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
          bm.map(index.getResult(), loops[index.getDim()]);
          continue;
        }
        b.clone(inner, bm);
      }
      SmallVector<Value> out;
      for (Value v : body->getTerminator()->getOperands())
        out.push_back(bm.lookupOrDefault(v));
      return out;
    }

    /// The loop sizes of |op| (in the kernel).
    SmallVector<Value> loopSizes(linalg::GenericOp op) {
      SmallVector<Value> sizes;
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      for (unsigned d = 0; d < op.getNumLoops(); ++d) {
        if (!ShapedType::isDynamic(ranges[d])) {
          sizes.push_back(arith::ConstantIndexOp::create(b, loc(), ranges[d]));
          continue;
        }
        Value size;
        for (OpOperand &operand : op->getOpOperands()) {
          AffineMap m = op.getMatchingIndexingMap(&operand);
          for (unsigned r = 0; r < m.getNumResults() && !size; ++r)
            if (auto e = dyn_cast<AffineDimExpr>(m.getResult(r));
                e && e.getPosition() == d && !rowOf(operand.get()))
              size = memref::DimOp::create(b, loc(), map.lookupOrDefault(operand.get()), r);
          if (size)
            break;
        }
        if (!size)
          return {};
        sizes.push_back(size);
      }
      return sizes;
    }

    /// A loop over the elements [0, n) of the loops |dims| of |sizes|
    /// spread over the block's threads (consecutive threads, consecutive
    /// innermost elements); other loops are 0. |body| gets the loop
    /// indices and the iteration arguments.
    scf::ForOp stridedLoop(ArrayRef<Value> sizes, ArrayRef<unsigned> dims, ValueRange init,
                           function_ref<SmallVector<Value>(ValueRange, ValueRange)> body) {
      Value n = arith::ConstantIndexOp::create(b, loc(), 1);
      for (unsigned d : dims)
        n = arith::MulIOp::create(b, loc(), n, sizes[d]);
      auto loop = scf::ForOp::create(b, loc(), tid, n, threads, init);
      OpBuilder::InsertionGuard g(b);
      if (!loop.getBody()->empty())
        loop.getBody()->getTerminator()->erase();
      b.setInsertionPointToStart(loop.getBody());
      Value zero = arith::ConstantIndexOp::create(b, loc(), 0);
      SmallVector<Value> ivs(sizes.size(), zero);
      Value rest = loop.getInductionVar();
      for (unsigned d : llvm::reverse(dims)) {
        if (d == dims.front()) {
          ivs[d] = rest;
          break;
        }
        ivs[d] = arith::RemUIOp::create(b, loc(), rest, sizes[d]);
        rest = arith::DivUIOp::create(b, loc(), rest, sizes[d]);
      }
      SmallVector<Value> yields = body(ivs, loop.getRegionIterArgs());
      scf::YieldOp::create(b, loc(), yields);
      return loop;
    }

    void barrierIfWritten() {
      if (pendingWrites)
        gpu::BarrierOp::create(b, loc());
      pendingWrites = false;
    }

    LogicalResult reduction(linalg::GenericOp op) {
      std::optional<Combiner> c = matchCombiner(op);
      if (!c || op.getNumDpsInits() != 1)
        return failure();
      Value out = op.getDpsInits()[0];
      if (!rowOf(out) && allOnes(out.getType()))
        trackOutput(out, Value()); // accumulates into what the output holds
      if (!rowOf(out) || !rowValue.lookup(rowOf(out)))
        return failure();
      SmallVector<Value> sizes = loopSizes(op);
      if (sizes.empty())
        return failure();
      SmallVector<unsigned> dims;
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      for (auto [d, kind] : llvm::enumerate(op.getIteratorTypesArray())) {
        if (kind == utils::IteratorType::reduction)
          dims.push_back(d);
        else if (ranges[d] != 1)
          return failure(); // a reduction per row, rows one each
      }
      if (llvm::any_of(op.getDpsInputs(), [&](Value v) { return !rowOf(v); }))
        barrierIfWritten();
      Value neutral = arith::ConstantOp::create(b, loc(), c->neutral);
      auto partial = stridedLoop(sizes, dims, neutral, [&](ValueRange ivs, ValueRange acc) {
        SmallVector<Value> args;
        for (OpOperand *in : op.getDpsInputOperands())
          args.push_back(readAt(in->get(), op.getMatchingIndexingMap(in), ivs));
        IRMapping bm = map;
        bm.map(op.getBlock()->getArguments().back(), acc[0]);
        cloneBody(op, args, ivs, bm, c->op);
        // acc <combine> term, in the body's operand order.
        Value term = bm.lookupOrDefault(c->op->getOperand(1 - c->outOperand));
        IRMapping cm;
        cm.map(c->op->getOperand(c->outOperand), acc[0]);
        cm.map(c->op->getOperand(1 - c->outOperand), term);
        return SmallVector<Value>{b.clone(*c->op, cm)->getResult(0)};
      });
      Value all = gpu::AllReduceOp::create(b, loc(), partial.getResult(0),
                                           gpu::AllReduceOperationAttr::get(b.getContext(), c->kind),
                                           /*uniform=*/true)
                      .getResult();
      IRMapping cm;
      cm.map(c->op->getOperand(c->outOperand), rowValue.lookup(rowOf(out)));
      cm.map(c->op->getOperand(1 - c->outOperand), all);
      rowValue[rowOf(out)] = b.clone(*c->op, cm)->getResult(0);
      return success();
    }

    LogicalResult elementwise(linalg::GenericOp op) {
      bool rowOutputs = llvm::all_of(op.getDpsInits(), [&](Value v) { return rowOf(v); });
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      bool single = llvm::all_of(ranges, [](int64_t r) { return r == 1; });
      if (single && rowOutputs) {
        // Per-row scalars: every thread computes them.
        SmallVector<Value> zeros(op.getNumLoops(),
                                 arith::ConstantIndexOp::create(b, loc(), 0));
        SmallVector<Value> args;
        for (OpOperand *in : op.getDpsInputOperands())
          args.push_back(readAt(in->get(), op.getMatchingIndexingMap(in), zeros));
        for (Value init : op.getDpsInits())
          args.push_back(rowValue.lookup(rowOf(init)));
        IRMapping bm = map;
        SmallVector<Value> results = cloneBody(op, args, zeros, bm);
        for (auto [init, r] : llvm::zip(op.getDpsInits(), results))
          rowValue[rowOf(init)] = r;
        return success();
      }
      if (llvm::any_of(op.getDpsInits(), [&](Value v) { return rowOf(v); }))
        return failure();
      // The row's map: a strided share of its elements per thread.
      SmallVector<Value> sizes = loopSizes(op);
      if (sizes.empty())
        return failure();
      if (llvm::any_of(op.getDpsInputs(), [&](Value v) { return !rowOf(v); }) ||
          op.payloadUsesValueFromOperand(op.getDpsInitOperand(0)))
        barrierIfWritten();
      SmallVector<unsigned> dims = llvm::to_vector(llvm::seq<unsigned>(0, op.getNumLoops()));
      stridedLoop(sizes, dims, {}, [&](ValueRange ivs, ValueRange) {
        SmallVector<Value> args;
        for (OpOperand *in : op.getDpsInputOperands())
          args.push_back(readAt(in->get(), op.getMatchingIndexingMap(in), ivs));
        for (OpOperand &init : op.getDpsInitsMutable()) {
          Type t = getElementTypeOrSelf(init.get().getType());
          args.push_back(op.payloadUsesValueFromOperand(&init)
                             ? readAt(init.get(), op.getMatchingIndexingMap(&init), ivs)
                             : arith::ConstantOp::create(b, loc(), t, b.getZeroAttr(t))
                                   .getResult());
        }
        IRMapping bm = map;
        SmallVector<Value> results = cloneBody(op, args, ivs, bm);
        for (auto [init, r] : llvm::zip(op.getDpsInitsMutable(), results)) {
          memref::StoreOp::create(b, loc(), r, map.lookupOrDefault(init.get()),
                                  indicesAt(op.getMatchingIndexingMap(&init), ivs));
        }
        return SmallVector<Value>{};
      });
      pendingWrites = true;
      return success();
    }

    LogicalResult build() {
      Block &kernel = launch.getBody().front();
      b.setInsertionPointToStart(&kernel);
      tid = launch.getThreadIds().x;
      threads = launch.getBlockSizeX();
      // The forall's indices from the block id (last dimension fastest).
      SmallVector<Value> ivs(loop.getRank());
      SmallVector<Value> lbs = loop.getLowerBound(b), steps = loop.getStep(b),
                         counts = tripCounts(b);
      Value rest = launch.getBlockIds().x;
      for (int64_t d = loop.getRank() - 1; d >= 0; --d) {
        Value i = d == 0 ? rest : arith::RemUIOp::create(b, loc(), rest, counts[d]).getResult();
        if (d > 0)
          rest = arith::DivUIOp::create(b, loc(), rest, counts[d]);
        ivs[d] =
            arith::AddIOp::create(b, loc(), lbs[d], arith::MulIOp::create(b, loc(), i, steps[d]));
      }
      map.map(loop.getInductionVars(), ivs);
      for (Operation &op : loop.getBody()->without_terminator()) {
        if (auto alloc = dyn_cast<memref::AllocOp>(op); alloc && allOnes(alloc.getType())) {
          rowBuffer[alloc] = alloc;
          continue;
        }
        if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
          if (rowOf(dealloc.getMemref()))
            continue;
          return failure();
        }
        if (auto fill = dyn_cast<linalg::FillOp>(op)) {
          Value out = fill.getDpsInits()[0];
          Value value = map.lookupOrDefault(fill.getDpsInputs()[0]);
          // A per-row buffer bufferization placed outside a loop of one row
          // (the tile is the whole tensor): private if only this body and
          // deallocations use it.
          if (auto alloc = out.getDefiningOp<memref::AllocOp>();
              alloc && !rowOf(out) && allOnes(alloc.getType()) &&
              llvm::all_of(alloc->getUsers(), [&](Operation *u) {
                return isa<memref::DeallocOp>(u) || loop->isAncestor(u);
              })) {
            rowBuffer[out] = out;
          } else if (!rowOf(out) && allOnes(out.getType())) {
            // The row's element of an outer buffer (a reduction's result).
            trackOutput(out, value);
            continue;
          }
          if (!rowOf(out))
            return failure();
          rowValue[rowOf(out)] = value;
          continue;
        }
        if (isa<linalg::CopyOp, memref::CopyOp>(op) && rowOf(op.getOperand(1))) {
          // A per-row value copied (bufferization's copy of a fill two
          // reductions start from).
          Value src = op.getOperand(0), dst = op.getOperand(1);
          if (rowOf(src) && !rowValue.lookup(rowOf(src)))
            return failure();
          rowValue[rowOf(dst)] = rowOf(src) ? rowValue.lookup(rowOf(src)) : loadOne(src);
          continue;
        }
        if (auto g = dyn_cast<linalg::GenericOp>(op)) {
          if (!g.hasPureBufferSemantics())
            return failure();
          // A per-row buffer read before it is written.
          for (Value in : g->getOperands())
            if (Value row = rowOf(in); row && !rowValue.lookup(row) &&
                                       !llvm::is_contained(g.getDpsInits(), in))
              return failure();
          if (failed(g.getNumReductionLoops() ? reduction(g) : elementwise(g)))
            return failure();
          continue;
        }
        if (auto view = dyn_cast<ViewLikeOpInterface>(op); view && op.getNumResults() == 1) {
          if (Value row = rowOf(view.getViewSource())) {
            rowBuffer[op.getResult(0)] = row;
            continue;
          }
        }
        if (op.getNumRegions() == 0 && isMemoryEffectFree(&op) &&
            llvm::none_of(op.getOperands(), [&](Value v) { return rowOf(v); })) {
          b.clone(op, map);
          continue;
        }
        return failure();
      }
      if (!writeBack.empty()) {
        Value zero = arith::ConstantIndexOp::create(b, loc(), 0);
        Value first =
            arith::CmpIOp::create(b, loc(), arith::CmpIPredicate::eq, tid, zero);
        auto once = scf::IfOp::create(b, loc(), first, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(&once.getThenRegion().front());
        for (Value out : writeBack) {
          auto type = cast<MemRefType>(out.getType());
          SmallVector<Value> zeros(type.getRank(), zero);
          memref::StoreOp::create(b, loc(), rowValue.lookup(out), map.lookupOrDefault(out),
                                  zeros);
        }
      }
      gpu::TerminatorOp::create(b, loc());
      return success();
    }

    /// The trip counts of the forall's dimensions, built (folded) at |bb|.
    SmallVector<Value> tripCounts(OpBuilder &bb) {
      SmallVector<Value> counts;
      for (auto [lb, ub, step] :
           llvm::zip(loop.getLowerBound(bb), loop.getUpperBound(bb), loop.getStep(bb))) {
        Value n = bb.createOrFold<arith::CeilDivSIOp>(
            loc(), bb.createOrFold<arith::SubIOp>(loc(), ub, lb), step);
        counts.push_back(bb.createOrFold<arith::MaxSIOp>(
            loc(), n, arith::ConstantIndexOp::create(bb, loc(), 0)));
      }
      return counts;
    }
  };

  /// Threads per block for rows of |elements| (dynamic: -1).
  static int64_t blockThreads(int64_t elements) {
    if (elements < 0)
      return 256;
    if (elements >= 16384)
      return 1024;
    return std::clamp<int64_t>(llvm::PowerOf2Ceil(elements), 32, 256);
  }

  /// Elements one row reduces or maps (the largest static loop space of
  /// the body's generics over their loops other than size one), or -1.
  static int64_t rowElements(scf::ForallOp loop) {
    int64_t most = 1;
    bool dynamic = false;
    loop.getBody()->walk([&](linalg::GenericOp g) {
      int64_t n = 1;
      for (int64_t r : g.getStaticLoopRanges()) {
        if (ShapedType::isDynamic(r))
          dynamic = true;
        else
          n *= r;
      }
      most = std::max(most, n);
    });
    return dynamic ? -1 : most;
  }

  void runOnOperation() override {
    SmallVector<scf::ForallOp> loops;
    getOperation().walk([&](scf::ForallOp loop) {
      if (isRowKernel(loop))
        loops.push_back(loop);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForallOp loop : loops) {
      if (succeeded(convert(loop)))
        continue;
      // The usual mapping takes it, one thread per row: the row's linalg
      // ops become sequential loops, so the forall does not read as host
      // tasks (parallel loops inside) and launch kernels row by row.
      loop.removeMappingAttr();
      SmallVector<linalg::LinalgOp> ops;
      loop.getBody()->walk([&](linalg::LinalgOp op) { ops.push_back(op); });
      for (linalg::LinalgOp op : ops) {
        rewriter.setInsertionPoint(op);
        if (succeeded(linalg::linalgOpToLoops(rewriter, op)))
          rewriter.eraseOp(op);
      }
    }
  }

  LogicalResult convert(scf::ForallOp loop) {
    if (loop.getNumResults() != 0)
      return failure();
    OpBuilder host(loop);
    Location loc = loop.getLoc();
    Builder kb(loop, nullptr);
    Value total = arith::ConstantIndexOp::create(host, loc, 1);
    for (Value n : kb.tripCounts(host))
      total = host.createOrFold<arith::MulIOp>(loc, total, n);
    scf::IfOp guard;
    if (!getConstantIntValue(total)) {
      // A run-time count of zero rows launches nothing (a zero grid is a
      // launch error).
      Value any = arith::CmpIOp::create(host, loc, arith::CmpIPredicate::sgt, total,
                                        arith::ConstantIndexOp::create(host, loc, 0));
      guard = scf::IfOp::create(host, loc, any, /*withElseRegion=*/false);
      host.setInsertionPointToStart(&guard.getThenRegion().front());
    }
    Value one = arith::ConstantIndexOp::create(host, loc, 1);
    Value block = arith::ConstantIndexOp::create(host, loc, blockThreads(rowElements(loop)));
    auto launch = gpu::LaunchOp::create(host, loc, total, one, one, block, one, one);
    kb.launch = launch;
    // The launch body is built from scratch: drop the default block's
    // terminator if any.
    Block &body = launch.getBody().front();
    while (!body.empty())
      body.back().erase();
    if (failed(kb.build())) {
      if (guard)
        guard.erase();
      else
        launch.erase();
      // The host arithmetic built for the count is dead; canonicalization
      // removes it.
      return failure();
    }
    loop.erase();
    return success();
  }
};

//===----------------------------------------------------------------------===//
// gpu.all_reduce lowering (outlined kernels)
//===----------------------------------------------------------------------===//

struct GPULowerAllReducePass final
    : sparsa::impl::GPULowerAllReducePassBase<GPULowerAllReducePass> {
  using GPULowerAllReducePassBase::GPULowerAllReducePassBase;

  void runOnOperation() override {
    bool any = false;
    // Upstream's rewrite splits the block holding the op: only a kernel
    // function's own body can take that (a nested scf region cannot).
    WalkResult nested = getOperation().walk([&](gpu::AllReduceOp op) {
      any = true;
      if (isa<gpu::GPUFuncOp>(op->getParentOp()))
        return WalkResult::advance();
      op.emitError("cannot lower a gpu.all_reduce outside a kernel function's "
                   "own body (it is in a nested region)");
      return WalkResult::interrupt();
    });
    if (nested.wasInterrupted())
      return signalPassFailure();
    if (!any)
      return;
    RewritePatternSet patterns(&getContext());
    populateGpuAllReducePatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
