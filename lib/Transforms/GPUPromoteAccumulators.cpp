//===- GPUPromoteAccumulators.cpp - reduction accumulators in registers ---===//
//
// Part of Sparsa: an ahead-of-time compiler for sparse-activation models.
//
//===----------------------------------------------------------------------===//
//
// Loop-invariant load/store pairs of an scf.for become an iter_args value:
// one load before the loop, one store after. The legality test is
// deliberately narrow (see Passes.td): the accumulator's buffer is a fresh
// allocation, the loop touches it only through the pair, and every other
// access is to a buffer rooted at another allocation, a global or a
// function argument.
//
//===----------------------------------------------------------------------===//

#include "GPUContraction.h"

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace sparsa {
#define GEN_PASS_DEF_GPUPROMOTEACCUMULATORSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {

using sparsa::isFreshAllocation;

/// Whether |other| cannot point into the fresh allocation |accRoot|: its
/// root is another allocation, a global, or an argument of the function.
static bool provablyDisjoint(Value other, Value accRoot) {
  Value root = sparsa::bufferRoot(other);
  if (root == accRoot)
    return false;
  if (isFreshAllocation(root) || root.getDefiningOp<memref::GetGlobalOp>())
    return true;
  auto arg = dyn_cast<BlockArgument>(root);
  return arg && isa<FunctionOpInterface>(arg.getOwner()->getParentOp()) &&
         arg.getOwner()->isEntryBlock();
}

/// Whether everything in |loop| other than |load| and |store| leaves the
/// accumulator alone: every read or write is of a buffer provably disjoint
/// from |accRoot|, and nothing has effects on unknown memory.
static bool othersLeaveAccumulatorAlone(scf::ForOp loop, Operation *load,
                                        Operation *store, Value accRoot) {
  WalkResult result = loop.getBody()->walk([&](Operation *op) {
    if (op == load || op == store)
      return WalkResult::advance();
    if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return WalkResult::advance(); // its nested ops are visited
    auto iface = dyn_cast<MemoryEffectOpInterface>(op);
    if (!iface)
      return op->getNumRegions() == 0 && isMemoryEffectFree(op)
                 ? WalkResult::advance()
                 : WalkResult::interrupt();
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (const auto &effect : effects) {
      if (isa<MemoryEffects::Allocate, MemoryEffects::Free>(effect.getEffect()))
        continue; // scratch of the op itself
      if (!isa<MemoryEffects::Read, MemoryEffects::Write>(effect.getEffect()))
        return WalkResult::interrupt();
      Value touched = effect.getValue();
      if (!touched || !isa<BaseMemRefType>(touched.getType()) ||
          !provablyDisjoint(touched, accRoot))
        return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return !result.wasInterrupted();
}

/// Promotes one load/store pair of |loop|; returns the new loop, or null.
static scf::ForOp promoteOne(RewriterBase &rewriter, scf::ForOp loop) {
  Block *body = loop.getBody();
  for (auto load : body->getOps<memref::LoadOp>()) {
    Value acc = load.getMemRef();
    if (!loop.isDefinedOutsideOfLoop(acc) ||
        !llvm::all_of(load.getIndices(), [&](Value v) {
          return loop.isDefinedOutsideOfLoop(v);
        }))
      continue;
    Value root = sparsa::bufferRoot(acc);
    if (!isFreshAllocation(root))
      continue;
    // Exactly one store to the same element, after the load, same block;
    // no other use of the buffer inside the loop.
    memref::StoreOp store;
    bool otherUse = false;
    for (Operation *user : acc.getUsers()) {
      if (user == load.getOperation() || !loop->isAncestor(user))
        continue;
      auto s = dyn_cast<memref::StoreOp>(user);
      if (!s || store || s->getBlock() != body ||
          s.getIndices() != load.getIndices() || !load->isBeforeInBlock(s)) {
        otherUse = true;
        break;
      }
      store = s;
    }
    if (otherUse || !store)
      continue;
    if (!othersLeaveAccumulatorAlone(loop, load, store, root))
      continue;

    rewriter.setInsertionPoint(loop);
    Value init = memref::LoadOp::create(rewriter, load.getLoc(), acc,
                                        load.getIndices());
    Value stored = store.getValueToStore();
    auto newLoop = cast<scf::ForOp>(*loop.replaceWithAdditionalYields(
        rewriter, ValueRange{init}, /*replaceInitOperandUsesInLoop=*/false,
        [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
          return SmallVector<Value>{stored};
        }));
    SmallVector<Value> indices(store.getIndices());
    BlockArgument carried = newLoop.getRegionIterArgs().back();
    rewriter.replaceAllUsesWith(load.getResult(), carried);
    rewriter.eraseOp(store);
    rewriter.eraseOp(load);
    rewriter.setInsertionPointAfter(newLoop);
    memref::StoreOp::create(rewriter, newLoop.getLoc(), newLoop.getResults().back(),
                            acc, indices);
    return newLoop;
  }
  return nullptr;
}

struct GPUPromoteAccumulatorsPass final
    : sparsa::impl::GPUPromoteAccumulatorsPassBase<GPUPromoteAccumulatorsPass> {
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) { loops.push_back(loop); });
    IRRewriter rewriter(&getContext());
    for (scf::ForOp loop : loops) // inner loops first (post-order)
      while (scf::ForOp next = promoteOne(rewriter, loop))
        loop = next;
  }
};

} // namespace
