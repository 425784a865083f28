//===- GPUMapToKernels.cpp - bufferized functions to GPU launches -*- C++ -*-//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The GPU target's device mapping. After bufferization and the loop
// lowering, a function body is a sequence of host work (shape arithmetic,
// views, allocations) and device work (loop nests that read and write
// buffers). This pass moves all device work into `gpu.launch` regions so the
// host never touches a buffer:
//
//   - an outermost `scf.parallel` becomes one launch: its iteration space is
//     linearized over `blockSize`-thread blocks, one thread per iteration,
//     nested loops run inside the thread; one of a few iterations whose
//     iterations hold parallel loops (the CPU lowering's thread tasks) is a
//     host loop instead, each task's loops their own launches;
//   - other buffer work between two host ops (sequential loops, scalar loads
//     and stores, loops with reductions) is grouped into a one-thread launch;
//     scalars it produces for the host come back through a one-element
//     device buffer;
//   - buffers the function allocates become `gpu.alloc` / `gpu.dealloc`
//     (device memory; results stay on the device for the runtime to copy);
//     allocations inside kernels with static shapes become private
//     `memref.alloca`;
//   - constant globals a kernel reads are re-materialized inside it, so
//     kernel outlining copies them into the device module.
//
//===----------------------------------------------------------------------===//

#include "GPUContraction.h"

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"

namespace sparsa {
#define GEN_PASS_DEF_GPUMAPTOKERNELSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

/// The linear index of (x, y, z) in a grid of |sizes| (x fastest):
/// (z * sy + y) * sx + x. A thread's in its block, or a block's in the grid.
static Value linearIndex(OpBuilder &b, Location loc, ArrayRef<Value> ids,
                         ArrayRef<Value> sizes) {
  Value zy =
      arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, ids[2], sizes[1]), ids[1]);
  return arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, zy, sizes[0]), ids[0]);
}

namespace {

/// Values a kernel may recompute from scratch instead of capturing: constant
/// globals and views of them (host addresses of globals mean nothing on the
/// device).
static bool isSinkable(Operation *op) {
  if (isa<memref::GetGlobalOp, arith::ConstantOp>(op))
    return true;
  if (isa<ViewLikeOpInterface, memref::CastOp, memref::ReinterpretCastOp,
          memref::CollapseShapeOp, memref::ExpandShapeOp>(op))
    return llvm::all_of(op->getOperands(), [](Value v) {
      Operation *def = v.getDefiningOp();
      return !isa<MemRefType>(v.getType()) || (def && isSinkable(def));
    });
  return false;
}

struct GPUMapToKernelsPass final
    : sparsa::impl::GPUMapToKernelsPassBase<GPUMapToKernelsPass> {
  using GPUMapToKernelsPassBase::GPUMapToKernelsPassBase;

  /// Buffers only the host touches: bookkeeping arrays the deallocation
  /// lowering passes to its helper function (pointer lists, ownership
  /// flags), and anything else handed to a host function call.
  DenseSet<Value> hostBuffers;

  static Value stripCasts(Value v) {
    while (auto cast = v.getDefiningOp<memref::CastOp>())
      v = cast.getSource();
    return v;
  }

  /// Work the host does itself: pure scalar and view arithmetic (no buffer
  /// is read or written), calls of host helpers and their buffers, buffer
  /// management, terminators.
  bool isHostOp(Operation *op) {
    if (isa<func::ReturnOp, func::CallOp, scf::YieldOp, memref::AllocOp,
            memref::AllocaOp, memref::DeallocOp, memref::GetGlobalOp>(op) ||
        op->getDialect()->getNamespace() == "gpu")
      return true;
    if (auto load = dyn_cast<memref::LoadOp>(op))
      return isHostMemory(load.getMemref());
    if (auto store = dyn_cast<memref::StoreOp>(op))
      return isHostMemory(store.getMemref());
    return op->getNumRegions() == 0 && isMemoryEffectFree(op);
  }

  /// Host bookkeeping buffers, and mutable globals: the run status word the
  /// index checks set lives in the library's (thread-local) host memory,
  /// where the runtime reads it.
  bool isHostMemory(Value memref) {
    memref = stripCasts(memref);
    if (hostBuffers.contains(memref))
      return true;
    auto get = memref.getDefiningOp<memref::GetGlobalOp>();
    if (!get)
      return false;
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(get, get.getNameAttr());
    return global && !global.getConstant();
  }

  /// Control flow that stays on the host, its regions mapped like a
  /// function body: it holds kernels of its own (parallel loops), calls
  /// host code, allocates buffers whose size it computes, frees buffers
  /// from outside, or yields buffers. Static scratch buffers of sequential
  /// code do not count: they become private to the thread that runs it.
  bool isHostControl(Operation *op) {
    if (!isa<scf::IfOp, scf::ForOp, scf::WhileOp, scf::IndexSwitchOp>(op))
      return false;
    if (llvm::any_of(op->getResultTypes(), [](Type t) { return isa<MemRefType>(t); }))
      return true;
    return op->walk([&](Operation *inner) {
               // Launches already formed (row kernels) stay launches.
               bool host = isa<scf::ParallelOp, func::CallOp, gpu::LaunchOp>(inner);
               if (auto store = dyn_cast<memref::StoreOp>(inner))
                 host = isHostMemory(store.getMemref());
               if (isa<memref::AllocOp, memref::AllocaOp>(inner))
                 host = !cast<MemRefType>(inner->getResult(0).getType()).hasStaticShape();
               if (auto dealloc = dyn_cast<memref::DeallocOp>(inner))
                 host = !op->isAncestor(stripCasts(dealloc.getMemref()).getParentBlock()->getParentOp());
               return host ? WalkResult::interrupt() : WalkResult::advance();
             }).wasInterrupted();
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    // Functions the entry calls (the deallocation helper) are host code.
    if (func.isPrivate())
      return;
    if (!func.getBody().hasOneBlock()) {
      func.emitError("the GPU mapping expects a single-block function body");
      return signalPassFailure();
    }
    hostBuffers.clear();
    func.walk([&](func::CallOp call) {
      for (Value v : call.getOperands())
        if (isa<MemRefType>(v.getType()))
          hostBuffers.insert(stripCasts(v));
    });
    if (failed(processBlock(func.getBody().front())))
      return signalPassFailure();
    func.walk([&](gpu::LaunchOp launch) {
      privatizeKernelAllocations(launch);
      sinkConstants(launch);
    });
  }

  LogicalResult processBlock(Block &block) {
    if (failed(moveAllocationsToDevice(block)) || failed(formKernels(block)))
      return failure();
    return success();
  }

  /// Host-level allocations become device allocations.
  LogicalResult moveAllocationsToDevice(Block &body) {
    IRRewriter rewriter(&getContext());
    SmallVector<Operation *> ops;
    for (Operation &op : body) {
      if (auto dealloc = dyn_cast<memref::DeallocOp>(op);
          dealloc && hostBuffers.contains(stripCasts(dealloc.getMemref())))
        continue;
      if (isa<memref::AllocOp, memref::AllocaOp>(op) &&
          hostBuffers.contains(op.getResult(0)))
        continue;
      if (isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp>(op))
        ops.push_back(&op);
    }
    for (Operation *op : ops) {
      rewriter.setInsertionPoint(op);
      Location loc = op->getLoc();
      if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        gpu::DeallocOp::create(rewriter, loc, TypeRange{}, ValueRange{},
                               dealloc.getMemref());
        rewriter.eraseOp(op);
        continue;
      }
      auto type = cast<MemRefType>(op->getResult(0).getType());
      if (!type.getLayout().isIdentity() || type.getMemorySpace())
        return op->emitError("cannot place this buffer in device memory");
      auto alloc = gpu::AllocOp::create(rewriter, loc, type, Type(), ValueRange{},
                                        op->getOperands(), ValueRange{});
      // A stack buffer lives until its block ends: free it there.
      if (isa<memref::AllocaOp>(op)) {
        Operation *end = body.getTerminator();
        if (!llvm::is_contained(end->getOperands(), op->getResult(0))) {
          rewriter.setInsertionPoint(end);
          gpu::DeallocOp::create(rewriter, loc, TypeRange{}, ValueRange{},
                                 alloc.getMemref());
        }
      }
      rewriter.replaceOp(op, alloc.getMemref());
    }
    return success();
  }

  /// Walks the body once, collecting runs of device work into kernels.
  LogicalResult formKernels(Block &body) {
    llvm::SetVector<Operation *> group;
    auto flush = [&]() -> LogicalResult {
      if (group.empty())
        return success();
      LogicalResult r = buildSerialKernel(body, group);
      group.clear();
      return r;
    };
    for (Operation &op : llvm::make_early_inc_range(body)) {
      if (auto loop = dyn_cast<scf::ParallelOp>(op);
          loop && loop.getNumResults() == 0) {
        if (failed(flush()))
          return failure();
        if (scf::ForOp tasks = tasksOnHost(loop)) {
          // Each task's own parallel loops become launches.
          if (failed(processBlock(*tasks.getBody())))
            return failure();
          continue;
        }
        buildParallelKernel(loop);
        continue;
      }
      if (isHostControl(&op)) {
        // Its regions may read what the group writes, and its operands
        // (conditions, bounds) are host values.
        if (failed(flush()))
          return failure();
        for (Region &region : op.getRegions())
          for (Block &block : region)
            if (failed(processBlock(block)))
              return failure();
        continue;
      }
      if (auto reshape = dyn_cast<memref::ReshapeOp>(op)) {
        // A view whose shape is read from a buffer: the host reads it, from
        // a host copy unless it is a constant global.
        if (failed(flush()))
          return failure();
        Value shape = reshape.getShape();
        if (!shape.getDefiningOp<memref::GetGlobalOp>()) {
          OpBuilder b(reshape);
          auto type = cast<MemRefType>(shape.getType());
          if (!type.hasStaticShape())
            return reshape.emitError("cannot read a dynamic shape buffer on the host");
          Value host = memref::AllocaOp::create(
              b, reshape.getLoc(), MemRefType::get(type.getShape(), type.getElementType()));
          gpu::MemcpyOp::create(b, reshape.getLoc(), TypeRange{}, ValueRange{}, host, shape);
          gpu::WaitOp::create(b, reshape.getLoc(), Type(), ValueRange{});
          reshape.getShapeMutable().assign(host);
        }
        continue;
      }
      if (!isHostOp(&op)) {
        group.insert(&op);
        continue;
      }
      // A host op that needs a value of the pending group, or that frees
      // or returns buffers, waits for the group.
      bool usesGroup = llvm::any_of(op.getOperands(), [&](Value v) {
        Operation *def = v.getDefiningOp();
        return def && group.contains(def);
      });
      // Scalar and vector arithmetic on the group's values joins it (the
      // host gets the scalars it needs back anyway; vectors, e.g. of a
      // task's vectorized reduction, stay in the thread).
      if (usesGroup && op.getNumRegions() == 0 && op.getNumResults() > 0 &&
          !op.hasTrait<OpTrait::IsTerminator>() && isMemoryEffectFree(&op) &&
          llvm::all_of(op.getResultTypes(), [](Type t) {
            return getElementTypeOrSelf(t).isIntOrIndexOrFloat() &&
                   (t.isIntOrIndexOrFloat() || isa<VectorType>(t));
          })) {
        group.insert(&op);
        continue;
      }
      if (usesGroup || isa<func::ReturnOp, scf::YieldOp, gpu::DeallocOp>(op))
        if (failed(flush()))
          return failure();
    }
    return flush();
  }

  /// One thread runs |ops| in order. The launch goes where the last op was:
  /// host ops in between never use the group's values (formKernels flushes
  /// first), and the group may use theirs.
  LogicalResult buildSerialKernel(Block &body, const llvm::SetVector<Operation *> &ops) {
    Operation *last = ops.back();
    Location loc = ops.front()->getLoc();
    OpBuilder b(last);
    b.setInsertionPointAfter(last);
    // Scalars the host needs after the kernel.
    SmallVector<Value> escaping;
    for (Operation *op : ops)
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *u) {
              return !ops.contains(body.findAncestorOpInBlock(*u));
            }))
          escaping.push_back(r);
    SmallVector<Value> slots;
    for (Value v : escaping) {
      if (!v.getType().isIntOrIndexOrFloat())
        return v.getDefiningOp()->emitError(
            "cannot return a value of this type from device code to the host");
      auto slotType = MemRefType::get({1}, v.getType());
      slots.push_back(gpu::AllocOp::create(b, loc, slotType, Type(), ValueRange{},
                                           ValueRange{}, ValueRange{})
                          .getMemref());
    }
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto launch = gpu::LaunchOp::create(b, loc, one, one, one, one, one, one);
    Block &kernel = launch.getBody().front();
    OpBuilder kb = OpBuilder::atBlockEnd(&kernel);
    auto terminator = gpu::TerminatorOp::create(kb, loc);
    for (Operation *op : ops)
      op->moveBefore(terminator);
    if (escaping.empty())
      return success();
    kb.setInsertionPoint(terminator);
    Value zero = arith::ConstantIndexOp::create(kb, loc, 0);
    for (auto [v, slot] : llvm::zip(escaping, slots))
      memref::StoreOp::create(kb, loc, v, slot, zero);
    // Read the scalars back: copy each to a host buffer, wait once, load.
    b.setInsertionPointAfter(launch);
    SmallVector<Value> hostBufs;
    for (Value slot : slots) {
      hostBufs.push_back(memref::AllocaOp::create(b, loc, cast<MemRefType>(slot.getType())));
      gpu::MemcpyOp::create(b, loc, TypeRange{}, ValueRange{}, hostBufs.back(), slot);
    }
    gpu::WaitOp::create(b, loc, Type(), ValueRange{});
    Value hostZero = arith::ConstantIndexOp::create(b, loc, 0);
    for (auto [v, slot, hostBuf] : llvm::zip(escaping, slots, hostBufs)) {
      Value hostValue = memref::LoadOp::create(b, loc, hostBuf, hostZero);
      gpu::DeallocOp::create(b, loc, TypeRange{}, ValueRange{}, slot);
      v.replaceUsesWithIf(hostValue, [&](OpOperand &use) {
        return !launch->isAncestor(use.getOwner());
      });
    }
    return success();
  }

  /// Host-thread tasks: an outermost parallel loop of at most
  /// kMaxHostTasks iterations (the static part of its trip count; run-time
  /// bounds count as one) whose iterations hold parallel loops of their own
  /// (the lowering splits the columns of a sparse FFN's gathered axpy, a
  /// router's expert slots or its experts with tokens, over the CPU's
  /// threads). One thread per task would run each task's parallel loops
  /// serially; instead the tasks become a host loop (iterations of a
  /// parallel loop are independent) and each task's loops its own
  /// launches. Returns the host loop, or null where |loop| stays a kernel.
  scf::ForOp tasksOnHost(scf::ParallelOp loop) {
    // A run-time count (a router's experts with tokens, a batch's heads)
    // counts as few: each task holds whole parallel loops of its own.
    int64_t tasks = 1;
    for (auto [lb, ub, step] :
         llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
      std::optional<int64_t> l = getConstantIntValue(lb), u = getConstantIntValue(ub),
                             st = getConstantIntValue(step);
      if (l && u && st && *st > 0)
        tasks *= std::max<int64_t>(0, llvm::divideCeil(*u - *l, *st));
    }
    if (tasks > kMaxHostTasks ||
        !loop.getBody()
             ->walk([](scf::ParallelOp) { return WalkResult::interrupt(); })
             .wasInterrupted())
      return nullptr;
    // Nested host loops, one per dimension (upstream's rewrite).
    IRRewriter rewriter(loop.getContext());
    rewriter.setInsertionPoint(loop);
    FailureOr<scf::LoopNest> nest = scf::parallelForToNestedFors(rewriter, loop);
    if (failed(nest))
      return nullptr;
    return nest->loops.back();
  }

  static constexpr int64_t kMaxHostTasks = 16;

  /// One thread per iteration of |loop|, linearized over 1-D blocks.
  void buildParallelKernel(scf::ParallelOp loop) {
    Location loc = loop.getLoc();
    OpBuilder b(loop);
    int64_t rank = loop.getNumLoops();
    SmallVector<Value> counts;
    Value total = arith::ConstantIndexOp::create(b, loc, 1);
    for (int64_t i = 0; i < rank; ++i) {
      Value span = arith::SubIOp::create(b, loc, loop.getUpperBound()[i],
                                         loop.getLowerBound()[i]);
      Value n = arith::CeilDivSIOp::create(b, loc, span, loop.getStep()[i]);
      n = arith::MaxSIOp::create(b, loc, n, arith::ConstantIndexOp::create(b, loc, 0));
      counts.push_back(n);
      total = arith::MulIOp::create(b, loc, total, n);
    }
    Value block = arith::ConstantIndexOp::create(b, loc, blockSize);
    Value grid = arith::CeilDivSIOp::create(b, loc, total, block);
    // An empty space still launches one block (a zero grid is a launch
    // error); its threads all fail the bound check.
    grid = arith::MaxSIOp::create(b, loc, grid, arith::ConstantIndexOp::create(b, loc, 1));
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto launch = gpu::LaunchOp::create(b, loc, grid, one, one, block, one, one);
    Block &kernel = launch.getBody().front();
    OpBuilder kb = OpBuilder::atBlockEnd(&kernel);
    gpu::TerminatorOp::create(kb, loc);
    kb.setInsertionPointToStart(&kernel);
    Value gid = arith::AddIOp::create(
        kb, loc, arith::MulIOp::create(kb, loc, launch.getBlockIds().x, block),
        launch.getThreadIds().x);
    Value inRange = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, gid, total);
    auto guard = scf::IfOp::create(kb, loc, inRange, /*withElseRegion=*/false);
    kb.setInsertionPointToStart(&guard.getThenRegion().front());
    IRMapping map;
    Value rest = gid;
    for (int64_t i = rank - 1; i >= 0; --i) {
      Value idx = rank == 1 ? rest : arith::RemUIOp::create(kb, loc, rest, counts[i]);
      if (i > 0)
        rest = arith::DivUIOp::create(kb, loc, rest, counts[i]);
      Value iv = arith::AddIOp::create(
          kb, loc, loop.getLowerBound()[i],
          arith::MulIOp::create(kb, loc, idx, loop.getStep()[i]));
      map.map(loop.getInductionVars()[i], iv);
    }
    for (Operation &op : loop.getBody()->without_terminator())
      kb.clone(op, map);
    loop.erase();
  }

  /// Scratch buffers of a thread with static shapes: small ones go on its
  /// stack; larger ones (the driver reserves a thread's stack for every
  /// thread that can be resident, and caps it at 512 KiB) are slices of one
  /// device buffer the host allocates around the launch, a slice per
  /// launched thread.
  void privatizeKernelAllocations(gpu::LaunchOp launch) {
    SmallVector<memref::AllocOp> allocs;
    launch.walk([&](memref::AllocOp op) {
      if (op.getType().hasStaticShape() && op.getType().getLayout().isIdentity())
        allocs.push_back(op);
    });
    for (memref::AllocOp op : allocs) {
      OpBuilder b(op);
      MemRefType type = op.getType();
      // Index elements are 64-bit on NVPTX; other element types than
      // integers, floats and index (vectors, complex) stay on the stack.
      Type elt = type.getElementType();
      bool sized = elt.isIntOrIndexOrFloat();
      int64_t eltBytes =
          elt.isIndex() ? 8 : sized ? llvm::divideCeil(elt.getIntOrFloatBitWidth(), 8) : 0;
      int64_t bytes = type.getNumElements() * eltBytes;
      Value scratch;
      if (!sized || bytes <= kMaxStackScratchBytes) {
        scratch = memref::AllocaOp::create(b, op.getLoc(), type, ValueRange{},
                                           op.getAlignmentAttr());
      } else {
        scratch = sliceOfSharedScratch(launch, op, llvm::alignTo(bytes, 64));
      }
      for (Operation *user : llvm::make_early_inc_range(op->getUsers()))
        if (isa<memref::DeallocOp>(user))
          user->erase();
      op.replaceAllUsesWith(scratch);
      op.erase();
    }
  }

  static constexpr int64_t kMaxStackScratchBytes = 4096;

  /// A `memref.view` of |alloc|'s type into a device buffer of |stride| bytes
  /// per thread of |launch|, allocated before the launch and freed after it.
  Value sliceOfSharedScratch(gpu::LaunchOp launch, memref::AllocOp alloc,
                             int64_t stride) {
    Location loc = alloc.getLoc();
    OpBuilder host(launch);
    Value threads = launch.getGridSizeX();
    for (Value v : {launch.getGridSizeY(), launch.getGridSizeZ(), launch.getBlockSizeX(),
                    launch.getBlockSizeY(), launch.getBlockSizeZ()})
      threads = arith::MulIOp::create(host, loc, threads, v);
    Value total = arith::MulIOp::create(
        host, loc, threads, arith::ConstantIndexOp::create(host, loc, stride));
    auto bufferType = MemRefType::get({ShapedType::kDynamic}, host.getI8Type());
    auto buffer = gpu::AllocOp::create(host, loc, bufferType, /*asyncToken=*/Type(),
                                       /*asyncDependencies=*/ValueRange{},
                                       ValueRange{total}, ValueRange{});
    OpBuilder after(launch->getContext());
    after.setInsertionPointAfter(launch);
    gpu::DeallocOp::create(after, loc, /*asyncToken=*/Type(), ValueRange{},
                           buffer.getMemref());

    OpBuilder b(alloc);
    gpu::KernelDim3 bid = launch.getBlockIds(), tid = launch.getThreadIds(),
                    grid = launch.getGridSize(), block = launch.getBlockSize();
    auto mul = [&](Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); };
    auto add = [&](Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); };
    Value blockId = linearIndex(b, loc, {bid.x, bid.y, bid.z}, {grid.x, grid.y, grid.z});
    Value threadInBlock =
        linearIndex(b, loc, {tid.x, tid.y, tid.z}, {block.x, block.y, block.z});
    Value threadsPerBlock = mul(mul(block.x, block.y), block.z);
    Value linear = add(mul(blockId, threadsPerBlock), threadInBlock);
    Value offset = mul(linear, arith::ConstantIndexOp::create(b, loc, stride));
    return memref::ViewOp::create(b, loc, alloc.getType(), buffer.getMemref(), offset,
                                  ValueRange{});
  }

  /// Clones constant globals (and views of them) a kernel uses into it.
  void sinkConstants(gpu::LaunchOp launch) {
    Region &region = launch.getBody();
    bool changed = true;
    while (changed) {
      changed = false;
      SetVector<Value> above;
      getUsedValuesDefinedAbove(region, above);
      for (Value v : above) {
        Operation *def = v.getDefiningOp();
        if (!def || !isSinkable(def) || !isa<MemRefType>(v.getType()))
          continue;
        OpBuilder b = OpBuilder::atBlockBegin(&region.front());
        Operation *clone = b.clone(*def);
        replaceAllUsesInRegionWith(v, clone->getResult(0), region);
        changed = true;
      }
    }
  }
};
} // namespace

namespace sparsa {
#define GEN_PASS_DEF_GPUMERGEMODULESPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

namespace {
/// Moves every kernel into the first `gpu.module`, renamed after the module
/// it came from (outlining names the modules uniquely), so the model
/// carries one device binary: one ptxas run per architecture, one module
/// load at run time.
struct GPUMergeModulesPass final
    : sparsa::impl::GPUMergeModulesPassBase<GPUMergeModulesPass> {
  using GPUMergeModulesPassBase::GPUMergeModulesPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    if (gpuModules.size() < 2)
      return;
    gpu::GPUModuleOp into = gpuModules.front();
    SymbolTable intoTable(into);
    // (module, kernel) -> the kernel's name in |into|.
    llvm::DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> kernels;
    for (gpu::GPUModuleOp from : llvm::drop_begin(gpuModules)) {
      StringAttr fromName = from.getSymNameAttr();
      // Rename inside |from| first (kernels after their module, device
      // globals to a free name), then move everything over.
      for (Operation &op : from.getBody()->getOperations()) {
        auto sym = dyn_cast<SymbolOpInterface>(&op);
        if (!sym)
          continue;
        StringAttr oldName = sym.getNameAttr();
        std::string base = isa<gpu::GPUFuncOp>(op) ? fromName.str() : oldName.str();
        std::string name = base;
        for (unsigned i = 0; intoTable.lookup(name) || (name != oldName.getValue() &&
                                                        SymbolTable::lookupSymbolIn(from, name));
             ++i)
          name = base + "_" + std::to_string(i);
        StringAttr newName = StringAttr::get(&getContext(), name);
        if (newName != oldName) {
          if (failed(SymbolTable::replaceAllSymbolUses(oldName, newName, from)))
            return signalPassFailure();
          sym.setName(newName);
        }
        if (isa<gpu::GPUFuncOp>(op))
          kernels[{fromName, oldName}] = newName;
      }
      for (Operation &op : llvm::make_early_inc_range(from.getBody()->getOperations())) {
        if (!isa<SymbolOpInterface>(op))
          continue;
        op.moveBefore(into.getBody(), into.getBody()->end());
        intoTable.insert(&op);
      }
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      SymbolRefAttr kernel = launch.getKernel();
      StringAttr mod = kernel.getRootReference();
      StringAttr fn = kernel.getLeafReference();
      if (mod == into.getSymNameAttr())
        return;
      launch.setKernelAttr(SymbolRefAttr::get(
          into.getSymNameAttr(),
          {FlatSymbolRefAttr::get(kernels.lookup({mod, fn}))}));
    });
    for (gpu::GPUModuleOp from : llvm::drop_begin(gpuModules))
      from.erase();
  }
};
} // namespace

namespace sparsa {
#define GEN_PASS_DEF_GPUEMULATEONHOSTPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

namespace {
/// Fills |buffer| with NaN (floats) or 0xA5 bytes (integers), in loops at the
/// rewriter's insertion point.
static void fillWithPoison(RewriterBase &rewriter, Value buffer) {
  Location loc = buffer.getLoc();
  auto type = cast<MemRefType>(buffer.getType());
  Type element = type.getElementType();
  TypedAttr value;
  if (auto f = dyn_cast<FloatType>(element))
    value = rewriter.getFloatAttr(f, APFloat::getQNaN(f.getFloatSemantics()));
  else if (auto i = dyn_cast<IntegerType>(element))
    value = rewriter.getIntegerAttr(i, APInt::getSplat(i.getWidth(), APInt(8, 0xA5)));
  else
    return; // index and others: left as they are
  Value fill = arith::ConstantOp::create(rewriter, loc, value);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  SmallVector<Value> ivs;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    Value size = memref::DimOp::create(rewriter, loc, buffer, d);
    auto loop = scf::ForOp::create(rewriter, loc, zero, size, one);
    ivs.push_back(loop.getInductionVar());
    rewriter.setInsertionPointToStart(loop.getBody());
  }
  memref::StoreOp::create(rewriter, loc, fill, buffer, ivs);
}

/// Test aid: runs the device mapping's launches on the host, every block and
/// thread in turn, with device memory as host memory. A kernel whose body
/// synchronizes its block (`gpu.all_reduce`, `gpu.barrier`, at the top
/// level of the body or in `scf.for` loops around it) runs as segments
/// between those points: each segment a loop over the block's threads;
/// values the block shares (of ops free of memory effects on shared values:
/// block ids, all_reduce results, the loops' indices) are computed once per
/// block; a thread's values a later segment reads are kept per thread; an
/// all_reduce combines the threads' operands in order; a loop around
/// synchronizations runs once per block, its body's first segment rotated
/// into the last one's threads (see `rotate`).
struct GPUEmulateOnHostPass final
    : sparsa::impl::GPUEmulateOnHostPassBase<GPUEmulateOnHostPass> {
  using GPUEmulateOnHostPassBase::GPUEmulateOnHostPassBase;

  /// Nested loops over |bounds| before |anchor|; returns the innermost
  /// body's terminator and the (possibly reversed) indices.
  Operation *loopNest(OpBuilder &b, Location loc, Operation *anchor, ArrayRef<Value> bounds,
                      SmallVectorImpl<Value> &ivs) {
    b.setInsertionPoint(anchor);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    for (Value bound : bounds) {
      auto loop = scf::ForOp::create(b, loc, zero, bound, one);
      b.setInsertionPointToStart(loop.getBody());
      Value iv = loop.getInductionVar();
      if (reverse) // bound - 1 - iv
        iv = arith::SubIOp::create(b, loc, arith::SubIOp::create(b, loc, bound, one), iv);
      ivs.push_back(iv);
      anchor = loop.getBody()->getTerminator();
    }
    return anchor;
  }

  static bool isSync(Operation *op) {
    return isa<gpu::AllReduceOp, gpu::BarrierOp>(op) || isWarpCollective(op);
  }

  /// Warp collectives: each thread's operands go to per-thread buffers,
  /// then each thread computes its own result from its warp's.
  static bool isWarpCollective(Operation *op) {
    return isa<nvgpu::MmaSyncOp, NVVM::VoteSyncOp>(op);
  }
  /// The operands a warp collective reads per thread (a ballot's mask is
  /// the full warp's).
  static SmallVector<Value> warpOperands(Operation *op) {
    if (auto vote = dyn_cast<NVVM::VoteSyncOp>(op))
      return {vote.getPred()};
    return SmallVector<Value>(op->getOperands());
  }

  /// Per-thread buffers hold a vector of several dimensions flattened.
  static Type slotElement(Type t) {
    auto v = dyn_cast<VectorType>(t);
    return v && v.getRank() > 1 ? VectorType::get({v.getNumElements()}, v.getElementType()) : t;
  }
  static Value newSlot(OpBuilder &b, Location loc, Type t, Value count) {
    return memref::AllocOp::create(b, loc, MemRefType::get({ShapedType::kDynamic}, slotElement(t)),
                                   count);
  }
  static void storeSlot(OpBuilder &b, Location loc, Value v, Value slot, Value at) {
    Type flat = slotElement(v.getType());
    if (flat != v.getType())
      v = vector::ShapeCastOp::create(b, loc, cast<VectorType>(flat), v);
    memref::StoreOp::create(b, loc, v, slot, at);
  }
  static Value loadSlot(OpBuilder &b, Location loc, Value slot, Value at, Type t) {
    Value v = memref::LoadOp::create(b, loc, slot, at);
    if (v.getType() != t)
      v = vector::ShapeCastOp::create(b, loc, cast<VectorType>(t), v);
    return v;
  }

  /// Each thread's result of an `mma.sync` from its warp's fragments in
  /// |slotA|, |slotB|, |slotC| (PTX's layouts: see
  /// sparsa-gpu-contraction-kernels), summed in k order: m16n8k16 with f16
  /// / bf16 inputs in f32, m16n8k32 with s8 inputs in i32.
  static Value emulateMma(OpBuilder &b, Location loc, nvgpu::MmaSyncOp mma, Value slotA,
                          Value slotB, Value slotC, Value linear) {
    auto c = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(b, loc, v); };
    auto addi = [&](Value x, Value y) -> Value { return arith::AddIOp::create(b, loc, x, y); };
    auto muli = [&](Value x, int64_t y) -> Value { return arith::MulIOp::create(b, loc, x, c(y)); };
    auto divi = [&](Value x, int64_t y) -> Value {
      return arith::DivUIOp::create(b, loc, x, c(y));
    };
    auto remi = [&](Value x, int64_t y) -> Value {
      return arith::RemUIOp::create(b, loc, x, c(y));
    };
    Type f32 = b.getF32Type();
    auto resultType = cast<VectorType>(mma.getType());
    // s8: 4 k per register, 32 k; 16-bit floats: 2 per register, 16 k.
    bool s8 = cast<VectorType>(mma.getMatrixA().getType()).getElementType().isInteger(8);
    const int64_t perReg = s8 ? 4 : 2, kSize = s8 ? 32 : 16, half = kSize / 2;
    Value lane = remi(linear, 32);
    Value warpBase = arith::SubIOp::create(b, loc, linear, lane);
    Value g = divi(lane, 4), q = remi(lane, 4);
    Value own = memref::LoadOp::create(b, loc, slotC, linear);
    Value d = arith::ConstantOp::create(b, loc, cast<VectorType>(own.getType()),
                                        b.getZeroAttr(own.getType()));
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        Value start = vector::ExtractOp::create(b, loc, own, ArrayRef<int64_t>{i * 2 + j});
        Value col = addi(muli(q, 2), c(j));
        auto loop = scf::ForOp::create(
            b, loc, c(0), c(kSize), c(1), start,
            [&](OpBuilder &lb, Location l, Value k, ValueRange acc) {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPoint(lb.getInsertionBlock(), lb.getInsertionPoint());
              // (f16: h = 8, p = 2; s8: h = 16, p = 4.)
              Value groupInK = divi(remi(k, half), perReg), upper = divi(k, half),
                    within = remi(k, perReg);
              // a(row g + 8i, k): lane g * 4 + (k % h) / p, register i + 2 (k / h).
              Value aLane = addi(warpBase, addi(muli(g, 4), groupInK));
              Value aAt = addi(muli(addi(c(i), muli(upper, 2)), perReg), within);
              // b(k, column 2q + j): lane col * 4 + (k % h) / p, register k / h.
              Value bLane = addi(warpBase, addi(muli(col, 4), groupInK));
              Value bAt = addi(muli(upper, perReg), within);
              Value av = vector::ExtractOp::create(
                  b, l, memref::LoadOp::create(b, l, slotA, aLane).getResult(),
                  ArrayRef<OpFoldResult>{aAt});
              Value bv = vector::ExtractOp::create(
                  b, l, memref::LoadOp::create(b, l, slotB, bLane).getResult(),
                  ArrayRef<OpFoldResult>{bAt});
              if (s8) {
                Type i32 = b.getI32Type();
                Value prod = arith::MulIOp::create(b, l, arith::ExtSIOp::create(b, l, i32, av),
                                                   arith::ExtSIOp::create(b, l, i32, bv));
                scf::YieldOp::create(b, l,
                                     ValueRange{arith::AddIOp::create(b, l, acc[0], prod)});
                return;
              }
              Value prod = arith::MulFOp::create(b, l, arith::ExtFOp::create(b, l, f32, av),
                                                 arith::ExtFOp::create(b, l, f32, bv));
              scf::YieldOp::create(b, l, ValueRange{arith::AddFOp::create(b, l, acc[0], prod)});
            });
        d = vector::InsertOp::create(b, loc, loop.getResult(0), d, ArrayRef<int64_t>{i * 2 + j});
      }
    return vector::ShapeCastOp::create(b, loc, resultType, d);
  }

  /// Each thread's result of a `vote.sync ballot` (full warps): bit l set
  /// where lane l of its warp voted true (|slot|: the threads' votes).
  static Value emulateBallot(OpBuilder &b, Location loc, Value slot, Value linear,
                             Value threadCount) {
    auto c = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(b, loc, v); };
    Type i32 = b.getI32Type();
    Value base = arith::SubIOp::create(b, loc, linear,
                                       arith::RemUIOp::create(b, loc, linear, c(32)));
    Value last = arith::SubIOp::create(b, loc, threadCount, c(1));
    Value zero = arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(0));
    auto loop = scf::ForOp::create(
        b, loc, c(0), c(32), c(1), ValueRange{zero},
        [&](OpBuilder &lb, Location l, Value lane, ValueRange acc) {
          Value t = arith::AddIOp::create(lb, l, base, lane);
          Value exists = arith::CmpIOp::create(lb, l, arith::CmpIPredicate::ult, t, threadCount);
          Value vote = memref::LoadOp::create(lb, l, slot,
                                              ValueRange{arith::MinUIOp::create(lb, l, t, last)});
          Value bit = arith::ExtUIOp::create(lb, l, i32,
                                             arith::AndIOp::create(lb, l, vote, exists));
          Value shift = arith::IndexCastOp::create(lb, l, i32, lane);
          Value mask = arith::OrIOp::create(lb, l, acc[0],
                                            arith::ShLIOp::create(lb, l, bit, shift));
          scf::YieldOp::create(lb, l, ValueRange{mask});
        });
    return loop.getResult(0);
  }

  /// A loop whose body synchronizes the block (every thread runs the same
  /// iterations): it runs once per block, its body as segments.
  static bool isSyncLoop(Operation *op) {
    return isa<scf::ForOp>(op) &&
           op->walk([](Operation *inner) {
               return isSync(inner) ? WalkResult::interrupt() : WalkResult::advance();
             }).wasInterrupted();
  }

  /// The loop's per-thread iteration arguments go through buffers indexed
  /// by |linear| (the thread in the block): stored before the loop and at
  /// the end of each iteration, loaded at its start and after the loop. The
  /// loop itself then carries nothing and its body can run as segments.
  void demoteIterArgs(RewriterBase &rewriter, scf::ForOp loop, Value linear, Value threadCount,
                      Operation *hostAnchor, SmallVectorImpl<Value> &buffers) {
    if (loop.getNumRegionIterArgs() == 0)
      return;
    Location loc = loop.getLoc();
    SmallVector<Value> slots;
    rewriter.setInsertionPoint(hostAnchor);
    for (Value init : loop.getInitArgs()) {
      slots.push_back(newSlot(rewriter, loc, init.getType(), threadCount));
      buffers.push_back(slots.back());
    }
    rewriter.setInsertionPoint(loop);
    for (auto [init, slot] : llvm::zip(loop.getInitArgs(), slots))
      storeSlot(rewriter, loc, init, slot, linear);
    auto bare = scf::ForOp::create(rewriter, loc, loop.getLowerBound(), loop.getUpperBound(),
                                   loop.getStep());
    Block *to = bare.getBody();
    rewriter.setInsertionPointToStart(to);
    SmallVector<Value> args;
    for (auto [slot, init] : llvm::zip(slots, loop.getInitArgs()))
      args.push_back(loadSlot(rewriter, loc, slot, linear, init.getType()));
    Block *from = loop.getBody();
    auto yield = cast<scf::YieldOp>(from->getTerminator());
    from->getArgument(0).replaceAllUsesWith(bare.getInductionVar());
    for (auto [arg, v] : llvm::zip(loop.getRegionIterArgs(), args))
      arg.replaceAllUsesWith(v);
    for (Operation &op : llvm::make_early_inc_range(from->without_terminator()))
      op.moveBefore(to->getTerminator());
    rewriter.setInsertionPoint(to->getTerminator());
    for (auto [v, slot] : llvm::zip(yield.getOperands(), slots))
      storeSlot(rewriter, loc, v, slot, linear);
    rewriter.setInsertionPointAfter(bare);
    for (auto [result, slot] : llvm::zip(loop.getResults(), slots))
      result.replaceAllUsesWith(loadSlot(rewriter, loc, slot, linear, result.getType()));
    rewriter.eraseOp(loop);
  }

  LogicalResult emulate(RewriterBase &rewriter, gpu::LaunchOp launch) {
    if (!launch.getBody().hasOneBlock() || launch.getAsyncToken() ||
        !launch.getPrivateAttributions().empty())
      return launch.emitError("cannot emulate this launch");
    Location loc = launch.getLoc();
    Block &body = launch.getBody().front();
    bool collective = false;
    // A synchronization may sit in the body or in loops (only) around it.
    WalkResult nested = launch.getBody().walk([&](Operation *op) {
      if (!isSync(op))
        return WalkResult::advance();
      collective = true;
      for (Operation *p = op->getParentOp(); p != launch; p = p->getParentOp())
        if (!isa<scf::ForOp>(p))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (nested.wasInterrupted())
      return launch.emitError("cannot emulate a block synchronization in a nested region "
                              "other than a loop");
    WalkResult withRegion = launch.getBody().walk([&](gpu::AllReduceOp reduce) {
      if (reduce.getOp())
        return WalkResult::advance();
      reduce.emitError("cannot emulate an all_reduce with a region");
      return WalkResult::interrupt();
    });
    if (withRegion.wasInterrupted())
      return failure();
    WalkResult otherVote = launch.getBody().walk([&](NVVM::VoteSyncOp vote) {
      if (vote.getKind() == NVVM::VoteSyncKind::ballot)
        return WalkResult::advance();
      vote.emitError("cannot emulate a vote.sync other than ballot");
      return WalkResult::interrupt();
    });
    if (otherVote.wasInterrupted())
      return failure();
    rewriter.setInsertionPoint(launch);
    Value blockBounds[] = {launch.getGridSizeX(), launch.getGridSizeY(),
                           launch.getGridSizeZ()};
    Value threadBounds[] = {launch.getBlockSizeX(), launch.getBlockSizeY(),
                            launch.getBlockSizeZ()};
    gpu::KernelDim3 blockIds = launch.getBlockIds(), threadIds = launch.getThreadIds(),
                    grid = launch.getGridSize(), block = launch.getBlockSize();
    Value threadArgs[] = {threadIds.x, threadIds.y, threadIds.z};
    // Workgroup memory: one host buffer, reused by each block in turn.
    SmallVector<Value> sharedBuffers;
    for (BlockArgument arg : launch.getWorkgroupAttributions()) {
      auto type = cast<MemRefType>(arg.getType());
      auto host = memref::AllocOp::create(
          rewriter, loc, MemRefType::get(type.getShape(), type.getElementType(), type.getLayout()));
      arg.replaceAllUsesWith(host);
      sharedBuffers.push_back(host);
    }
    // (Views of it keep the workgroup space in their types: host memory now.)
    launch.getBody().walk([](Operation *op) {
      for (Value r : op->getResults())
        if (auto type = dyn_cast<MemRefType>(r.getType());
            type && isa_and_present<gpu::AddressSpaceAttr>(type.getMemorySpace()))
          r.setType(MemRefType::get(type.getShape(), type.getElementType(), type.getLayout()));
    });
    // Per-thread storage for values crossing block synchronizations.
    Value threadCount;
    SmallVector<Value> buffers;
    if (collective) {
      threadCount = arith::MulIOp::create(
          rewriter, loc, arith::MulIOp::create(rewriter, loc, threadBounds[0], threadBounds[1]),
          threadBounds[2]);
      // The thread's index in its block, for the loops' carried values.
      OpBuilder::InsertionGuard g(rewriter);
      rewriter.setInsertionPointToStart(&body);
      Value linear = linearIndex(rewriter, loc, {threadIds.x, threadIds.y, threadIds.z},
                                   {block.x, block.y, block.z});
      SmallVector<scf::ForOp> loops;
      launch.getBody().walk([&](scf::ForOp loop) {
        if (isSyncLoop(loop))
          loops.push_back(loop);
      });
      for (scf::ForOp loop : loops)
        demoteIterArgs(rewriter, loop, linear, threadCount, launch, buffers);
    }
    SmallVector<Value> bivs;
    Operation *blockAnchor = nullptr;
    auto blockLoops = [&]() {
      blockAnchor = loopNest(rewriter, loc, launch, blockBounds, bivs);
      Value from[] = {blockIds.x, blockIds.y, blockIds.z, grid.x, grid.y, grid.z,
                      block.x,    block.y,    block.z};
      Value to[] = {bivs[0],         bivs[1],         bivs[2],
                    blockBounds[0],  blockBounds[1],  blockBounds[2],
                    threadBounds[0], threadBounds[1], threadBounds[2]};
      for (auto [f, t] : llvm::zip(from, to))
        f.replaceAllUsesWith(t);
      rewriter.eraseOp(body.getTerminator());
      if (poison)
        for (Value shared : sharedBuffers) {
          rewriter.setInsertionPoint(blockAnchor);
          fillWithPoison(rewriter, shared);
        }
    };
    if (!collective) {
      blockLoops();
      SmallVector<Value> tivs;
      Operation *anchor = loopNest(rewriter, loc, blockAnchor, threadBounds, tivs);
      for (auto [f, t] : llvm::zip(threadArgs, tivs))
        f.replaceAllUsesWith(t);
      for (Operation &op : llvm::make_early_inc_range(body))
        op.moveBefore(anchor);
      rewriter.setInsertionPointAfter(launch);
      for (Value shared : sharedBuffers)
        memref::DeallocOp::create(rewriter, loc, shared);
      rewriter.eraseOp(launch);
      return success();
    }
    // Segments between synchronizations, in program order; a loop around
    // synchronizations ends one segment, its body holds its own, and the
    // ops after it start the next.
    SmallVector<SmallVector<Operation *>> segments(1);
    DenseMap<Operation *, unsigned> segmentOf;
    DenseSet<Value> uniform;
    for (Value v : {blockIds.x, blockIds.y, blockIds.z, grid.x, grid.y, grid.z, block.x,
                    block.y, block.z})
      uniform.insert(v);
    std::function<void(Block &)> collect = [&](Block &blk) {
      for (Operation &op : blk.without_terminator()) {
        if (isSync(&op)) {
          segmentOf[&op] = segments.size() - 1;
          segments.emplace_back();
        } else if (isSyncLoop(&op)) {
          uniform.insert(cast<scf::ForOp>(op).getInductionVar());
          segments.emplace_back();
          collect(*cast<scf::ForOp>(op).getBody());
          segments.emplace_back();
        } else {
          segmentOf[&op] = segments.size() - 1;
          segments.back().push_back(&op);
        }
      }
    };
    collect(body);
    // The segment an op (at any depth) runs in; none for a loop around
    // synchronizations (its bounds must be uniform).
    auto segmentOfUser = [&](Operation *op) -> std::optional<unsigned> {
      for (Operation *p = op; p && p != launch; p = p->getParentOp())
        if (auto it = segmentOf.find(p); it != segmentOf.end())
          return it->second;
      return std::nullopt;
    };
    // Values the whole block shares.
    auto isUniform = [&](Value v) {
      return uniform.contains(v) || !launch->isAncestor(v.getParentRegion()->getParentOp());
    };
    DenseSet<Operation *> uniformOps;
    for (ArrayRef<Operation *> ops : segments)
      for (Operation *op : ops) {
        if (op->getNumRegions() != 0 || !isMemoryEffectFree(op) ||
            !llvm::all_of(op->getOperands(), isUniform))
          continue;
        uniformOps.insert(op);
        for (Value r : op->getResults())
          uniform.insert(r);
      }
    launch.getBody().walk([&](gpu::AllReduceOp reduce) { uniform.insert(reduce.getResult()); });
    WalkResult divergent = launch.getBody().walk([&](scf::ForOp loop) {
      if (isSyncLoop(loop) && !llvm::all_of(ValueRange{loop.getLowerBound(),
                                                       loop.getUpperBound(), loop.getStep()},
                                            isUniform)) {
        loop.emitError("cannot emulate a loop around a block synchronization whose bounds "
                       "differ between threads");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (divergent.wasInterrupted())
      return failure();
    // Thread values read by a later segment (the all_reduce's operand
    // counts as read by its own segment).
    llvm::SetVector<Value> crossing;
    DenseMap<Value, unsigned> definedIn;
    for (auto [k, ops] : llvm::enumerate(segments))
      for (Operation *op : ops) {
        if (uniformOps.contains(op))
          continue;
        for (Value r : op->getResults())
          for (Operation *user : r.getUsers())
            if (std::optional<unsigned> at = segmentOfUser(user); at && *at > k) {
              crossing.insert(r);
              definedIn[r] = k;
            }
      }
    // A warp collective's result is each thread's, made between the
    // segment it ends and the next.
    launch.getBody().walk([&](Operation *op) {
      if (!isWarpCollective(op) || op->use_empty())
        return;
      crossing.insert(op->getResult(0));
      definedIn[op->getResult(0)] = segmentOf.lookup(op);
    });
    DenseMap<Value, Value> slots;
    rewriter.setInsertionPoint(launch);
    for (Value v : crossing) {
      if (!v.getType().isIntOrIndexOrFloat() && !isa<VectorType>(v.getType()))
        return launch.emitError("cannot emulate: a ") << v.getType()
               << " value of a thread crosses a block synchronization";
      slots[v] = newSlot(rewriter, loc, v.getType(), threadCount);
      buffers.push_back(slots[v]);
    }
    DenseMap<Operation *, Value> reduceBuffers;
    launch.getBody().walk([&](gpu::AllReduceOp reduce) {
      reduceBuffers[reduce] = memref::AllocOp::create(
          rewriter, loc, MemRefType::get({ShapedType::kDynamic}, reduce.getType()), threadCount);
      buffers.push_back(reduceBuffers[reduce]);
    });
    // A warp collective's operands (an mma's fragments, a ballot's votes),
    // per thread.
    DenseMap<Operation *, SmallVector<Value>> warpSlots;
    launch.getBody().walk([&](Operation *op) {
      if (!isWarpCollective(op))
        return;
      for (Value v : warpOperands(op)) {
        warpSlots[op].push_back(newSlot(rewriter, loc, v.getType(), threadCount));
        buffers.push_back(warpSlots[op].back());
      }
    });
    blockLoops();
    // Emits segment |k|'s thread loops before |anchor|; returns the
    // innermost loop's terminator and the thread's index in the block.
    struct ThreadLoops {
      Operation *outer, *inner; // the outermost loop, the innermost terminator
      Value linear;
      SmallVector<Value> tivs;
    };
    DenseMap<unsigned, ThreadLoops> emitted;
    auto emitSegment = [&](unsigned k, Operation *anchor) -> ThreadLoops {
      ArrayRef<Operation *> ops = segments[k];
      for (Operation *op : ops)
        if (uniformOps.contains(op))
          op->moveBefore(anchor);
      SmallVector<Value> tivs;
      Operation *inner = loopNest(rewriter, loc, anchor, threadBounds, tivs);
      Operation *loop = inner->getParentOp();
      while (loop->getParentOp() != anchor->getParentOp())
        loop = loop->getParentOp();
      rewriter.setInsertionPoint(inner);
      Value linear = linearIndex(rewriter, loc, tivs, threadBounds);
      auto inThisSegment = [&](OpOperand &use) { return segmentOfUser(use.getOwner()) == k; };
      for (Value v : crossing) {
        if (definedIn.lookup(v) >= k ||
            !llvm::any_of(v.getUses(), [&](OpOperand &use) { return inThisSegment(use); }))
          continue;
        Value loaded = loadSlot(rewriter, loc, slots[v], linear, v.getType());
        v.replaceUsesWithIf(loaded, inThisSegment);
      }
      for (Operation *op : ops)
        if (!uniformOps.contains(op))
          op->moveBefore(inner);
      for (auto [f, t] : llvm::zip(threadArgs, tivs))
        f.replaceUsesWithIf(t, [&](OpOperand &use) { return loop->isAncestor(use.getOwner()); });
      rewriter.setInsertionPoint(inner);
      for (Operation *op : ops)
        for (Value r : op->getResults())
          if (crossing.contains(r))
            storeSlot(rewriter, loc, r, slots[r], linear);
      emitted[k] = {loop, inner, linear, tivs};
      return emitted[k];
    };
    // A GPU thread runs on from a loop body's last segment into the next
    // iteration's first without waiting for the others: the first segment
    // of iteration i + 1 runs in the thread loops of the last of iteration
    // i (thread by thread), and once before the loop for the first
    // iteration. A kernel missing the barrier that ends its loop body (the
    // next iteration overwrites what others still read) then reads wrong
    // data here too.
    auto rotate = [&](scf::ForOp loop, const ThreadLoops &first, const ThreadLoops &last) {
      Block *bodyBlock = loop.getBody();
      Value iv = loop.getInductionVar();
      auto cloneFirst = [&](IRMapping &m, bool wholeNest) {
        for (Operation &op : *bodyBlock) {
          if (&op == first.outer)
            break;
          // (mma.sync ops wait in place for their erasure.)
          if (!isSync(&op))
            rewriter.clone(op, m);
        }
        if (wholeNest) {
          rewriter.clone(*first.outer, m);
          return;
        }
        // The thread loops' own indices, outer to inner.
        SmallVector<Value> from, to;
        for (Operation *p = first.inner->getParentOp();; p = p->getParentOp()) {
          from.push_back(cast<scf::ForOp>(p).getInductionVar());
          if (p == first.outer)
            break;
        }
        for (Operation *p = last.inner->getParentOp();; p = p->getParentOp()) {
          to.push_back(cast<scf::ForOp>(p).getInductionVar());
          if (p == last.outer)
            break;
        }
        m.map(from, to);
        m.map(first.tivs, last.tivs);
        for (Operation &op : first.inner->getBlock()->without_terminator())
          rewriter.clone(op, m);
      };
      rewriter.setInsertionPoint(loop);
      Value any = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt,
                                        loop.getLowerBound(), loop.getUpperBound());
      auto prologue = scf::IfOp::create(rewriter, loc, any, /*withElseRegion=*/false);
      rewriter.setInsertionPointToStart(&prologue.getThenRegion().front());
      IRMapping atStart;
      atStart.map(iv, loop.getLowerBound());
      cloneFirst(atStart, /*wholeNest=*/true);
      rewriter.setInsertionPoint(last.inner);
      Value next = arith::AddIOp::create(rewriter, loc, iv, loop.getStep());
      Value more = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt, next,
                                         loop.getUpperBound());
      auto again = scf::IfOp::create(rewriter, loc, more, /*withElseRegion=*/false);
      rewriter.setInsertionPointToStart(&again.getThenRegion().front());
      IRMapping atNext;
      atNext.map(iv, next);
      cloneFirst(atNext, /*wholeNest=*/false);
      // (The clones store what later segments read; the originals go.)
      first.outer->walk([&](Operation *op) {
        for (Value r : op->getResults())
          crossing.remove(r);
      });
      rewriter.eraseOp(first.outer);
    };
    unsigned k = 0;
    // (mma.sync and vote.sync ops, erased once every segment is out; their
    // operands, stored per thread, are detached from them first: a loop's
    // rotation may erase the ops defining them.)
    SmallVector<Operation *> warpCollectives;
    auto detach = [&](Operation *op) {
      OpBuilder hb(launch);
      for (OpOperand &operand : op->getOpOperands()) {
        Type t = operand.get().getType();
        operand.set(arith::ConstantOp::create(hb, loc, t, cast<TypedAttr>(hb.getZeroAttr(t))));
      }
    };
    std::function<void(Block &, Operation *)> emit = [&](Block &blk, Operation *anchor) {
      SmallVector<Operation *> ops;
      for (Operation &op : blk.without_terminator())
        if (isSync(&op) || isSyncLoop(&op))
          ops.push_back(&op);
      for (Operation *op : ops) {
        ThreadLoops before = emitSegment(k++, anchor);
        Operation *inner = before.inner;
        Value linear = before.linear;
        if (auto reduce = dyn_cast<gpu::AllReduceOp>(op)) {
          Value buffer = reduceBuffers.lookup(reduce);
          rewriter.setInsertionPoint(inner);
          // (An operand of an earlier segment was reloaded above.)
          memref::StoreOp::create(rewriter, loc, reduce.getValue(), buffer, linear);
          // The threads' values combined in order, once per block.
          rewriter.setInsertionPoint(anchor);
          Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
          Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
          Value first = memref::LoadOp::create(rewriter, loc, buffer, zero);
          auto fold = scf::ForOp::create(rewriter, loc, one, threadCount, one, first);
          {
            OpBuilder::InsertionGuard g(rewriter);
            rewriter.setInsertionPointToStart(fold.getBody());
            Value next = memref::LoadOp::create(rewriter, loc, buffer, fold.getInductionVar());
            Value c = vector::makeArithReduction(rewriter, loc,
                                                 gpu::convertReductionKind(*reduce.getOp()),
                                                 next, fold.getRegionIterArgs()[0]);
            scf::YieldOp::create(rewriter, loc, c);
          }
          reduce.getResult().replaceAllUsesWith(fold.getResult(0));
          rewriter.eraseOp(op);
        } else if (isWarpCollective(op)) {
          // Each thread leaves its operands; then each computes its own
          // result from its warp's (an mma's share of the product, a
          // ballot's mask).
          ArrayRef<Value> in = warpSlots[op];
          rewriter.setInsertionPoint(inner);
          for (auto [v, slot] : llvm::zip(warpOperands(op), in))
            storeSlot(rewriter, loc, v, slot, linear);
          if (!op->use_empty()) {
            SmallVector<Value> tivs;
            Operation *at = loopNest(rewriter, loc, anchor, threadBounds, tivs);
            rewriter.setInsertionPoint(at);
            Value self = linearIndex(rewriter, loc, tivs, threadBounds);
            Value r = isa<nvgpu::MmaSyncOp>(op)
                          ? emulateMma(rewriter, loc, cast<nvgpu::MmaSyncOp>(op), in[0], in[1],
                                       in[2], self)
                          : emulateBallot(rewriter, loc, in[0], self, threadCount);
            storeSlot(rewriter, loc, r, slots[op->getResult(0)], self);
          }
          // (Its uses, in later segments, load the result: erased after.)
          detach(op);
          warpCollectives.push_back(op);
        } else if (isa<gpu::BarrierOp>(op)) {
          rewriter.eraseOp(op);
        } else {
          auto loop = cast<scf::ForOp>(op);
          loop->moveBefore(anchor);
          // (The first segment's thread loops are the body's first ones.)
          unsigned firstSegment = k;
          emit(*loop.getBody(), loop.getBody()->getTerminator());
          ThreadLoops last = emitSegment(k++, loop.getBody()->getTerminator());
          rotate(loop, emitted[firstSegment], last);
        }
      }
    };
    emit(body, blockAnchor);
    emitSegment(k, blockAnchor);
    for (Operation *collective : warpCollectives)
      rewriter.eraseOp(collective);
    rewriter.setInsertionPointAfter(launch);
    for (Value buffer : llvm::concat<Value>(buffers, sharedBuffers))
      memref::DeallocOp::create(rewriter, loc, buffer);
    rewriter.eraseOp(launch);
    return success();
  }

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp op) { launches.push_back(op); });
    for (gpu::LaunchOp launch : launches)
      if (failed(emulate(rewriter, launch)))
        return signalPassFailure();
    SmallVector<Operation *> gpuOps;
    getOperation().walk([&](Operation *op) {
      if (isa<gpu::AllocOp, gpu::DeallocOp, gpu::MemcpyOp, gpu::WaitOp>(op))
        gpuOps.push_back(op);
    });
    for (Operation *op : gpuOps) {
      rewriter.setInsertionPoint(op);
      if (auto alloc = dyn_cast<gpu::AllocOp>(op)) {
        auto host = rewriter.replaceOpWithNewOp<memref::AllocOp>(
            op, alloc.getType(), alloc.getDynamicSizes());
        if (poison) {
          rewriter.setInsertionPointAfter(host);
          fillWithPoison(rewriter, host);
        }
      }
      else if (auto dealloc = dyn_cast<gpu::DeallocOp>(op))
        rewriter.replaceOpWithNewOp<memref::DeallocOp>(op, dealloc.getMemref());
      else if (auto copy = dyn_cast<gpu::MemcpyOp>(op))
        rewriter.replaceOpWithNewOp<memref::CopyOp>(op, copy.getSrc(), copy.getDst());
      else
        rewriter.eraseOp(op);
    }
  }
};
} // namespace

namespace sparsa {
#define GEN_PASS_DEF_GPUSPLITREDUCTIONSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

namespace {
/// Whether |op| is in a row kernel (an scf.forall mapped to GPU blocks by
/// sparsa-gpu-form-row-kernels): its reductions are the block's.
static bool inRowKernel(Operation *op) {
  for (auto f = op->getParentOfType<scf::ForallOp>(); f; f = f->getParentOfType<scf::ForallOp>())
    if (f.getMapping())
      return true;
  return false;
}

/// Whether |body| (a linalg body) yields its output argument plus terms
/// that do not depend on it: the argument's only use is an addf, whose
/// result's only use is the next addf of the chain, up to the yield (`out +
/// a`, `(out + a) + b`). Such a body can start from a partial sum of zero.
static bool sumsIntoOutput(Block *body) {
  Value v = body->getArguments().back();
  Operation *yield = body->getTerminator();
  while (true) {
    if (!v.hasOneUse())
      return false;
    Operation *user = *v.getUsers().begin();
    if (user == yield)
      return yield->getNumOperands() == 1;
    if (!isa<arith::AddFOp>(user))
      return false;
    v = user->getResult(0);
  }
}

/// Split-K for the GPU: a contraction whose output has few elements (a
/// decode GEMV's N) gives one thread per output element too few threads to
/// keep the memory system busy. Splitting the reduction into `ratio`
/// independent chunks multiplies the threads (each reads K / ratio rows of
/// the weights, coalesced across the warp) and adds a small combining
/// kernel over the partial sums.
struct GPUSplitReductionsPass final
    : sparsa::impl::GPUSplitReductionsPassBase<GPUSplitReductionsPass> {
  using GPUSplitReductionsPassBase::GPUSplitReductionsPassBase;

  /// The chunk count for a reduction of |reduction| steps with |parallel|
  /// threads: the largest power of two dividing it that keeps chunks of at
  /// least 32 and the threads within target-threads (1: no split).
  int64_t splitRatio(int64_t reduction, int64_t parallel) const {
    int64_t ratio = 1;
    while (ratio * 2 * parallel <= targetThreads && reduction % (ratio * 2) == 0 &&
           reduction / (ratio * 2) >= 32)
      ratio *= 2;
    return ratio;
  }

  /// Split-K for a static reduction that upstream splitReduction declines
  /// because some operand is indexed through an expression of the
  /// reduction loop (a packed weight's block scales `(n, k floordiv 16)`,
  /// its zero points): the quantized GEMVs. The reduction k becomes
  /// `c * S + kk` in every map; operands indexed by k itself have that
  /// dimension expanded to [C, S]; the partial sums [..., C] (the chunk
  /// fastest, next to the weight's contiguous k when the largest operand
  /// has k innermost) are then added per output.
  void splitIndexedReduction(RewriterBase &b, linalg::GenericOp op) {
    if (!op.hasPureTensorSemantics() || op.getNumReductionLoops() != 1 ||
        op.getNumDpsInits() != 1)
      return;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    auto kinds = op.getIteratorTypesArray();
    unsigned nLoops = ranges.size();
    unsigned r = 0;
    int64_t parallel = 1;
    bool dynamicParallel = false;
    for (unsigned i = 0; i < nLoops; ++i) {
      if (kinds[i] == utils::IteratorType::reduction)
        r = i;
      else if (ShapedType::isDynamic(ranges[i]))
        dynamicParallel = true;
      else
        parallel *= ranges[i];
    }
    // Plain maps with static shapes are upstream's, unless the body reads
    // loop indices (upstream does not remap linalg.index: the reduction's
    // would read the chunk's); run-time parallel sizes only for the
    // lowering's gathered dot products (one per listed row: as many
    // threads as active neurons, each reading a whole row), whose partial
    // sums stay small (rows x chunks).
    bool plain = llvm::all_of(op.getIndexingMapsArray(),
                              [](AffineMap m) { return m.isProjectedPermutation(); });
    auto kind = op->getAttrOfType<StringAttr>("sparsa.kernel");
    bool gatheredDot = kind && kind.getValue() == "gather_dot";
    // Packed-weight GEMVs get chunked threads of their own on buffers
    // (sparsa-gpu-quantized-gemv).
    if (keepPackedGemvs && sparsa::planGPUQuantizedGemv(op))
      return;
    if ((plain && !dynamicParallel && !op.hasIndexSemantics()) ||
        (dynamicParallel && !gatheredDot))
      return;
    int64_t R = ranges[r];
    if (ShapedType::isDynamic(R) || R < minReduction || parallel >= targetThreads)
      return;
    Value init = op.getDpsInits()[0];
    auto outType = dyn_cast<RankedTensorType>(init.getType());
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    AffineMap outMap = maps.back();
    if (!outType || !isa<FloatType>(outType.getElementType()) ||
        !outMap.isProjectedPermutation() || outMap.isFunctionOfDim(r) ||
        !sumsIntoOutput(op.getBlock()))
      return;
    MLIRContext *ctx = op.getContext();
    // Operands indexed by k itself (once, as a whole result), and the
    // largest one's layout.
    SmallVector<int> pure(op.getNumDpsInputs(), -1);
    bool anyPure = false, chunkLast = false;
    int64_t largest = -1;
    for (OpOperand *in : op.getDpsInputOperands()) {
      auto t = dyn_cast<RankedTensorType>(in->get().getType());
      AffineMap m = maps[in->getOperandNumber()];
      if (!t)
        return;
      int count = 0;
      for (auto [i, e] : llvm::enumerate(m.getResults()))
        if (e == getAffineDimExpr(r, ctx)) {
          pure[in->getOperandNumber()] = i;
          ++count;
        }
      // Operands whose k is expanded need static shapes.
      if (count > 1 || (count == 1 && !t.hasStaticShape()))
        return;
      anyPure |= count == 1;
      if (t.hasStaticShape() && t.getNumElements() > largest) {
        largest = t.getNumElements();
        chunkLast = count == 1 && pure[in->getOperandNumber()] == t.getRank() - 1;
      }
    }
    int64_t ratio = splitRatio(R, parallel);
    if (!anyPure || ratio < 2)
      return;
    int64_t S = R / ratio;

    // New loops: the parallel loops in order with the chunk c first or
    // last among them, then kk.
    SmallVector<unsigned> newPos(nLoops);
    unsigned next = chunkLast ? 0 : 1;
    for (unsigned i = 0; i < nLoops; ++i)
      if (i != r)
        newPos[i] = next++;
    unsigned cPos = chunkLast ? next : 0, kkPos = nLoops;
    unsigned newLoops = nLoops + 1;
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    SmallVector<AffineExpr> subst(nLoops);
    for (unsigned i = 0; i < nLoops; ++i)
      subst[i] = i == r ? d(cPos) * S + d(kkPos) : d(newPos[i]);
    auto rewrite = [&](AffineMap m) {
      return simplifyAffineMap(m.replaceDimsAndSymbols(subst, {}, newLoops, 0));
    };

    Location loc = op.getLoc();
    b.setInsertionPoint(op);
    SmallVector<Value> ins;
    SmallVector<AffineMap> newMaps;
    for (OpOperand *in : op.getDpsInputOperands()) {
      AffineMap m = maps[in->getOperandNumber()];
      int at = pure[in->getOperandNumber()];
      if (at < 0) {
        ins.push_back(in->get());
        newMaps.push_back(rewrite(m));
        continue;
      }
      auto t = cast<RankedTensorType>(in->get().getType());
      SmallVector<int64_t> shape;
      SmallVector<ReassociationIndices> groups;
      SmallVector<AffineExpr> results;
      for (auto [i, e] : llvm::enumerate(m.getResults())) {
        ReassociationIndices g;
        g.push_back(shape.size());
        if (static_cast<int>(i) == at) {
          shape.append({ratio, S});
          g.push_back(shape.size() - 1);
          results.append({d(cPos), d(kkPos)});
        } else {
          shape.push_back(t.getDimSize(i));
          results.push_back(rewrite(AffineMap::get(nLoops, 0, e, ctx)).getResult(0));
        }
        groups.push_back(g);
      }
      ins.push_back(tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get(shape, t.getElementType()), in->get(), groups));
      newMaps.push_back(AffineMap::get(newLoops, 0, results, ctx));
    }
    // Partial sums: the output's dims with the chunk first or last.
    SmallVector<OpFoldResult> partShape = tensor::getMixedSizes(b, loc, init);
    SmallVector<AffineExpr> partResults;
    for (AffineExpr e : outMap.getResults())
      partResults.push_back(rewrite(AffineMap::get(nLoops, 0, e, ctx)).getResult(0));
    if (chunkLast) {
      partShape.push_back(b.getIndexAttr(ratio));
      partResults.push_back(d(cPos));
    } else {
      partShape.insert(partShape.begin(), b.getIndexAttr(ratio));
      partResults.insert(partResults.begin(), d(cPos));
    }
    newMaps.push_back(AffineMap::get(newLoops, 0, partResults, ctx));
    Type elt = outType.getElementType();
    Value zero = arith::ConstantOp::create(b, loc, elt, b.getZeroAttr(elt));
    Value partInit =
        linalg::FillOp::create(b, loc, zero,
                               ValueRange{tensor::EmptyOp::create(b, loc, partShape, elt)})
            .getResult(0);
    SmallVector<utils::IteratorType> newKinds(newLoops, utils::IteratorType::parallel);
    newKinds[kkPos] = utils::IteratorType::reduction;
    Block *body = op.getBlock();
    auto part = linalg::GenericOp::create(
        b, loc, partInit.getType(), ins, ValueRange{partInit}, newMaps, newKinds,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          IRMapping map;
          map.map(body->getArguments(), args);
          for (Operation &inner : body->without_terminator()) {
            if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
              unsigned dim = index.getDim();
              Value v = dim == r ? arith::AddIOp::create(
                                       nb, l,
                                       arith::MulIOp::create(
                                           nb, l, linalg::IndexOp::create(nb, l, cPos),
                                           arith::ConstantIndexOp::create(nb, l, S)),
                                       linalg::IndexOp::create(nb, l, kkPos))
                                       .getResult()
                                 : linalg::IndexOp::create(nb, l, newPos[dim]).getResult();
              map.map(index.getResult(), v);
              continue;
            }
            nb.clone(inner, map);
          }
          linalg::YieldOp::create(nb, l,
                                  ValueRange{map.lookup(body->getTerminator()->getOperand(0))});
        });
    // out += the partial sums over the chunks.
    unsigned outRank = outType.getRank();
    SmallVector<AffineExpr> sumIn, sumOut;
    for (unsigned i = 0; i < outRank; ++i) {
      sumIn.push_back(d(i));
      sumOut.push_back(d(i));
    }
    if (chunkLast)
      sumIn.push_back(d(outRank));
    else
      sumIn.insert(sumIn.begin(), d(outRank));
    SmallVector<utils::IteratorType> sumKinds(outRank, utils::IteratorType::parallel);
    sumKinds.push_back(utils::IteratorType::reduction);
    auto total = linalg::GenericOp::create(
        b, loc, outType, ValueRange{part.getResult(0)}, ValueRange{init},
        {AffineMap::get(outRank + 1, 0, sumIn, ctx), AffineMap::get(outRank + 1, 0, sumOut, ctx)},
        sumKinds, [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(nb, l,
                                  ValueRange{arith::AddFOp::create(nb, l, args[1], args[0])});
        });
    b.replaceOp(op, total.getResults());
  }

  /// A sum over a list of run-time length: `out[c] += f(in0[j], in1[j], ...,
  /// c)` over j in [0, n), n dynamic, every input 1-D and indexed by j, the
  /// 1-D output by c, the body adding to the output (the sparse FFN's
  /// gathered axpy: out[c] += a[j] * w[rows[j], c]). One thread per c would
  /// walk all n listed rows; instead the list is padded to chunks of
  /// |rowsPerChunk| and a partial sum per (chunk, c) is one thread, then a
  /// sum over the chunks. Padded rows are skipped by a guard (the inputs are
  /// padded with zeros only to keep their reads in bounds).
  bool splitRowList(RewriterBase &b, linalg::GenericOp op) {
    if (!op.hasPureTensorSemantics() || op.getNumLoops() != 2 || op.getNumDpsInits() != 1 ||
        op.getNumDpsInputs() == 0 || op.getNumReductionLoops() != 1)
      return false;
    auto kinds = op.getIteratorTypesArray();
    if (kinds[0] != utils::IteratorType::reduction)
      return false;
    MLIRContext *ctx = op.getContext();
    AffineMap byRow = AffineMap::get(2, 0, getAffineDimExpr(0, ctx));
    AffineMap byCol = AffineMap::get(2, 0, getAffineDimExpr(1, ctx));
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    for (OpOperand *in : op.getDpsInputOperands()) {
      auto t = dyn_cast<RankedTensorType>(in->get().getType());
      if (!t || t.getRank() != 1 || !t.isDynamicDim(0) || maps[in->getOperandNumber()] != byRow)
        return false;
    }
    Value init = op.getDpsInits()[0];
    auto outType = dyn_cast<RankedTensorType>(init.getType());
    if (!outType || outType.getRank() != 1 || maps.back() != byCol ||
        !isa<FloatType>(outType.getElementType()))
      return false;
    // The body adds to the output once, and reads no row position.
    Block *body = op.getBlock();
    if (!sumsIntoOutput(body))
      return false;
    bool readsRow = false;
    body->walk([&](linalg::IndexOp index) { readsRow |= index.getDim() == 0; });
    if (readsRow)
      return false;

    Location loc = op.getLoc();
    b.setInsertionPoint(op);
    Type elt = outType.getElementType();
    Value chunk = arith::ConstantIndexOp::create(b, loc, rowsPerChunk);
    Value n = tensor::DimOp::create(b, loc, op.getDpsInputs()[0], 0);
    Value chunks = arith::CeilDivUIOp::create(b, loc, n, chunk);
    Value padded = arith::MulIOp::create(b, loc, chunks, chunk);
    Value high = arith::SubIOp::create(b, loc, padded, n);
    SmallVector<Value> ins;
    for (Value in : op.getDpsInputs()) {
      Type t = getElementTypeOrSelf(in.getType());
      Value zero = arith::ConstantOp::create(b, loc, t, b.getZeroAttr(t));
      auto padT = RankedTensorType::get({ShapedType::kDynamic}, t);
      Value p = tensor::PadOp::create(b, loc, padT, in, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
                                      ArrayRef<OpFoldResult>{high}, zero);
      ins.push_back(tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({ShapedType::kDynamic, rowsPerChunk}, t), p,
          SmallVector<ReassociationIndices>{{0, 1}},
          ArrayRef<OpFoldResult>{chunks, b.getIndexAttr(rowsPerChunk)}));
    }
    // Partial sums [chunks, C] over (chunk, c, row in chunk).
    OpFoldResult cols = tensor::getMixedSize(b, loc, init, 0);
    Value zero = arith::ConstantOp::create(b, loc, elt, b.getZeroAttr(elt));
    Value partInit = linalg::FillOp::create(
                         b, loc, zero,
                         ValueRange{tensor::EmptyOp::create(
                             b, loc, ArrayRef<OpFoldResult>{chunks, cols}, elt)})
                         .getResult(0);
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    SmallVector<AffineMap> partMaps(ins.size(), AffineMap::get(3, 0, {d(0), d(2)}, ctx));
    partMaps.push_back(AffineMap::get(3, 0, {d(0), d(1)}, ctx));
    auto part = linalg::GenericOp::create(
        b, loc, partInit.getType(), ins, ValueRange{partInit}, partMaps,
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          IRMapping map;
          map.map(body->getArguments(), args);
          for (Operation &inner : body->without_terminator())
            nb.clone(inner, map);
          Value next = map.lookup(body->getTerminator()->getOperand(0));
          // Padded rows leave the partial sum as it is.
          Value row = arith::AddIOp::create(
              nb, l,
              arith::MulIOp::create(nb, l, linalg::IndexOp::create(nb, l, 0), chunk),
              linalg::IndexOp::create(nb, l, 2));
          Value real = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, row, n);
          linalg::YieldOp::create(
              nb, l, ValueRange{arith::SelectOp::create(nb, l, real, next, args.back())});
        });
    // out[c] = init[c] + sum over chunks of the partial sums.
    auto total = linalg::GenericOp::create(
        b, loc, outType, ValueRange{part.getResult(0)}, ValueRange{init},
        {AffineMap::get(2, 0, {d(1), d(0)}, ctx), AffineMap::get(2, 0, {d(0)}, ctx)},
        {utils::IteratorType::parallel, utils::IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(nb, l,
                                  ValueRange{arith::AddFOp::create(nb, l, args[1], args[0])});
        });
    b.replaceOp(op, total.getResults());
    return true;
  }

  void runOnOperation() override {
    {
      // Run-time row lists, then static reductions upstream declines (the
      // partial sums either makes qualify for neither).
      SmallVector<linalg::GenericOp> generics;
      getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
      IRRewriter rewriter(&getContext());
      for (linalg::GenericOp op : generics)
        if (inRowKernel(op))
          continue;
        else if (rowsPerChunk <= 0 || !splitRowList(rewriter, op))
          splitIndexedReduction(rewriter, op);
    }
    SmallVector<linalg::LinalgOp> candidates;
    getOperation().walk([&](linalg::LinalgOp op) {
      // Only plain (projected permutation) indexing: upstream
      // splitReduction builds invalid IR for maps such as a packed
      // weight's block scales `(n, k floordiv 32)` (the verifier then
      // crashes) instead of declining them. Nor bodies that read loop
      // indices, which it leaves pointing at the old loop numbers.
      if (!inRowKernel(op) && op.hasPureTensorSemantics() && op.getNumReductionLoops() == 1 &&
          op.getNumDpsInits() == 1 && op.hasOnlyProjectedPermutations() &&
          !op.hasIndexSemantics())
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      auto control = [&](linalg::LinalgOp l) -> linalg::SplitReductionOptions {
        linalg::SplitReductionOptions none;
        SmallVector<int64_t> ranges = l.getStaticLoopRanges();
        int64_t parallel = 1, reduction = 0;
        // Static shapes only: the upstream rewrite builds its partial-sum
        // tensor without dynamic sizes (pin the batch with --input-shape).
        if (llvm::any_of(ranges, ShapedType::isDynamic))
          return none;
        for (auto [range, kind] : llvm::zip(ranges, l.getIteratorTypesArray())) {
          if (kind == utils::IteratorType::reduction)
            reduction = range;
          else
            parallel *= range;
        }
        // Threads, not outputs: the contraction kernels give a thread
        // several outputs.
        if (auto plan = sparsa::planGPUContraction(l, vectorWidth, maxRows))
          parallel = std::max<int64_t>(1, parallel / plan->perThread());
        if (reduction < minReduction ||
            parallel >= targetThreads)
          return none;
        int64_t ratio = splitRatio(reduction, parallel);
        if (ratio < 2)
          return none;
        linalg::SplitReductionOptions options;
        options.ratio = ratio;
        options.index = 0;
        options.innerParallel = false;
        return options;
      };
      rewriter.setInsertionPoint(op);
      // Ops whose combiner is not a plain reduction are left alone.
      (void)linalg::splitReduction(rewriter, op, control);
    }
    // Reductions innermost (e.g. the combining op splitReduction makes,
    // which reduces its first dimension): loops become one thread per
    // output running its reduction, not a host loop of launches.
    SmallVector<linalg::GenericOp> generics;
    getOperation().walk([&](linalg::GenericOp op) { generics.push_back(op); });
    for (linalg::GenericOp op : generics) {
      if (inRowKernel(op))
        continue;
      SmallVector<unsigned> order;
      auto kinds = op.getIteratorTypesArray();
      for (unsigned i = 0; i < kinds.size(); ++i)
        if (kinds[i] == utils::IteratorType::parallel)
          order.push_back(i);
      for (unsigned i = 0; i < kinds.size(); ++i)
        if (kinds[i] != utils::IteratorType::parallel)
          order.push_back(i);
      if (llvm::equal(order, llvm::seq<unsigned>(0, kinds.size())))
        continue;
      rewriter.setInsertionPoint(op);
      (void)linalg::interchangeGenericOp(rewriter, op, order);
    }
  }
};
} // namespace
