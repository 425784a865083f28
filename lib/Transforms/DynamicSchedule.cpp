//===- DynamicSchedule.cpp - dynamic OpenMP loop schedules -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace sparsa {
#define GEN_PASS_DEF_DYNAMICSCHEDULEPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {
/// Pauses a waiting thread spends, at most, before it leaves the rest of
/// the wait to the runtime's barrier (which sleeps): ~10 ms at ~40 ns a
/// pause, far longer than one iteration of a generated loop.
constexpr int64_t kMaxSpins = 1 << 18;

struct DynamicSchedulePass final
    : sparsa::impl::DynamicSchedulePassBase<DynamicSchedulePass> {
  using DynamicSchedulePassBase::DynamicSchedulePassBase;

  void runOnOperation() override {
    SmallVector<std::pair<omp::WsloopOp, bool>> last;
    getOperation().walk([&](omp::WsloopOp loop) {
      // Loops whose schedule was left to us may schedule themselves.
      bool own = !loop.getScheduleKind() && canSelfSchedule(loop);
      if (!loop.getScheduleKind())
        loop.setScheduleKindAttr(omp::ClauseScheduleKindAttr::get(
            loop.getContext(), omp::ClauseScheduleKind::Dynamic));
      // A loop that ends its parallel region needs no barrier of its
      // own: the region's end joins the threads anyway. With one, a
      // thread that finishes first sleeps there (KMP_BLOCKTIME=0) and
      // its wake-up costs tens of microseconds on a virtual machine.
      Operation *next = loop->getNextNode();
      if (!loop.getNowait() && next && isa<omp::TerminatorOp>(next) &&
          isa<omp::ParallelOp>(loop->getParentOp())) {
        loop.setNowait(true);
        last.push_back({loop, own && selfSchedule});
      }
    });
    for (auto [loop, own] : last)
      masterWaitsLast(loop, own);
  }

  /// Whether |loop| can hand out its iterations itself: a plain loop (no
  /// reduction, private, linear or allocate clause, not ordered) whose
  /// schedule this pass chose.
  static bool canSelfSchedule(omp::WsloopOp loop) {
    return loop.getReductionVars().empty() && loop.getPrivateVars().empty() &&
           loop.getLinearVars().empty() && loop.getAllocateVars().empty() &&
           !loop.getOrdered();
  }

  /// The thread that goes on after the region (thread 0) waits, spinning,
  /// until every iteration has finished, so that it reaches the region's
  /// closing barrier last and passes it without sleeping; the other
  /// threads reach it first and go to sleep as before. This is the join
  /// ONNX Runtime's pool makes: the caller spins on the work still out,
  /// the workers block. The spin lasts at most one iteration of the loop
  /// (and never more than kMaxSpins pauses).
  ///
  /// With |selfSchedule|, the work-sharing loop itself goes: each thread
  /// takes the next iteration from a shared counter (an atomic add) until
  /// none is left. This is the dynamic schedule without the runtime's
  /// dispatch calls, which in the libomp this machine ships (LLVM 19's)
  /// format debug strings on every call (~0.25 us each, one per
  /// iteration and thread).
  void masterWaitsLast(omp::WsloopOp loop, bool selfSchedule) {
    auto parallel = cast<omp::ParallelOp>(loop->getParentOp());
    auto nest = dyn_cast<omp::LoopNestOp>(loop.getWrappedLoop());
    auto func = loop->getParentOfType<FunctionOpInterface>();
    if (!nest || !func || func.isExternal() ||
        parallel->getParentOfType<omp::ParallelOp>() ||
        !nest.getRegion().hasOneBlock())
      return;
    auto yield = dyn_cast<omp::YieldOp>(nest.getRegion().front().getTerminator());
    if (!yield || yield.getNumOperands() != 0)
      return;
    auto module = func->getParentOfType<ModuleOp>();
    MLIRContext *ctx = &getContext();
    Location loc = loop.getLoc();
    OpBuilder b(ctx);
    Type i64 = b.getI64Type(), i32 = b.getI32Type();

    // Counters on the function's stack frame: iterations finished and
    // (self-scheduled) iterations handed out.
    b.setInsertionPointToStart(&func.getFunctionBody().front());
    auto counterType = MemRefType::get({}, i64);
    Value counter = memref::AllocaOp::create(b, loc, counterType);
    Value taken;
    if (selfSchedule)
      taken = memref::AllocaOp::create(b, loc, counterType);
    b.setInsertionPoint(parallel);
    Value zero = arith::ConstantIntOp::create(b, loc, i64, 0);
    Value one = arith::ConstantIntOp::create(b, loc, i64, 1);
    memref::StoreOp::create(b, loc, zero, counter);
    if (taken)
      memref::StoreOp::create(b, loc, zero, taken);

    b.setInsertionPoint(yield);
    memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi, one, counter,
                                ValueRange{});

    // Iterations in all: the product of the nest's trip counts.
    b.setInsertionPoint(loop);
    auto toI64 = [&](OpBuilder &nb, Value v) -> Value {
      if (v.getType().isIndex())
        return arith::IndexCastOp::create(nb, loc, i64, v);
      if (v.getType() == i64)
        return v;
      return arith::ExtSIOp::create(nb, loc, i64, v);
    };
    Value total = one;
    SmallVector<Value> trips;
    for (auto [lb, ub, step] : llvm::zip(nest.getLoopLowerBounds(),
                                         nest.getLoopUpperBounds(),
                                         nest.getLoopSteps())) {
      Value span = arith::SubIOp::create(b, loc, toI64(b, ub), toI64(b, lb));
      if (nest.getLoopInclusive())
        span = arith::AddIOp::create(b, loc, span, one);
      Value t = arith::CeilDivSIOp::create(b, loc, span, toI64(b, step));
      t = arith::MaxSIOp::create(b, loc, t, zero);
      trips.push_back(t);
      total = arith::MulIOp::create(b, loc, total, t);
    }

    if (selfSchedule) {
      // while ((k = taken++) < total) { the ivs of k, row-major; body }
      Block &body = nest.getRegion().front();
      SmallVector<Value> ivs(trips.size());
      auto whileOp = scf::WhileOp::create(
          b, loc, TypeRange{i64}, ValueRange{},
          [&](OpBuilder &nb, Location l, ValueRange) {
            // LLVM's atomicrmw yields the value before the add.
            Value k = memref::AtomicRMWOp::create(nb, l, arith::AtomicRMWKind::addi, one,
                                                  taken, ValueRange{});
            Value more = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, k, total);
            scf::ConditionOp::create(nb, l, more, ValueRange{k});
          },
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value rest = args[0];
            for (int64_t d = static_cast<int64_t>(trips.size()) - 1; d >= 0; --d) {
              Value pos = rest;
              if (d) {
                pos = arith::RemSIOp::create(nb, l, rest, trips[d]);
                rest = arith::DivSIOp::create(nb, l, rest, trips[d]);
              }
              Value lb = toI64(nb, nest.getLoopLowerBounds()[d]);
              Value step = toI64(nb, nest.getLoopSteps()[d]);
              Value iv = arith::AddIOp::create(nb, l, lb, arith::MulIOp::create(nb, l, pos, step));
              Type ivType = body.getArgument(d).getType();
              if (ivType.isIndex())
                iv = arith::IndexCastOp::create(nb, l, ivType, iv);
              else if (ivType != i64)
                iv = arith::TruncIOp::create(nb, l, ivType, iv);
              ivs[d] = iv;
            }
            scf::YieldOp::create(nb, l);
          });
      // The body (all but its omp.yield) moves into the while loop, inside
      // an scf.execute_region: lowering the memref.alloca_scope that
      // convert-scf-to-openmp wraps it in splits it into several blocks,
      // which an scf.while's region may not have.
      Block &after = whileOp.getAfter().front();
      OpBuilder ab = OpBuilder::atBlockTerminator(&after);
      auto region = scf::ExecuteRegionOp::create(ab, loc, TypeRange{});
      region.setNoInline(true); // (until scf-to-cf, after the memref lowering)
      Block *inner = &region.getRegion().emplaceBlock();
      inner->getOperations().splice(inner->end(), body.getOperations(), body.begin(),
                                    std::prev(body.end()));
      ab.setInsertionPointToEnd(inner);
      scf::YieldOp::create(ab, loc);
      for (auto [arg, iv] : llvm::zip(body.getArguments(), ivs))
        arg.replaceAllUsesWith(iv);
      loop.erase();
      b.setInsertionPointAfter(whileOp);
    } else {
      b.setInsertionPointAfter(loop);
    }

    StringRef name = "omp_get_thread_num";
    if (!module.lookupSymbol(name)) {
      OpBuilder mb = OpBuilder::atBlockEnd(module.getBody());
      auto decl = func::FuncOp::create(mb, loc, name,
                                       b.getFunctionType({}, {i32}));
      decl.setPrivate();
    }
    Value tid = func::CallOp::create(b, loc, name, TypeRange{i32}, ValueRange{})
                    .getResult(0);
    Value isMaster = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, tid,
        arith::ConstantIntOp::create(b, loc, i32, 0));
    auto ifOp = scf::IfOp::create(b, loc, isMaster, /*withElse=*/false);
    b.setInsertionPointToStart(&ifOp.getThenRegion().front());
    Value limit = arith::ConstantIntOp::create(b, loc, i64, kMaxSpins);
    scf::WhileOp::create(
        b, loc, TypeRange{i64}, ValueRange{zero},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value done = memref::AtomicRMWOp::create(
              nb, l, arith::AtomicRMWKind::addi, zero, counter, ValueRange{});
          Value pending =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, done, total);
          Value patient = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                                args[0], limit);
          Value again = arith::AndIOp::create(nb, l, pending, patient);
          scf::ConditionOp::create(nb, l, again, args);
        },
        [&](OpBuilder &nb, Location l, ValueRange args) {
          LLVM::CallIntrinsicOp::create(nb, l, nb.getStringAttr("llvm.x86.sse2.pause"),
                                        ValueRange{});
          Value next = arith::AddIOp::create(nb, l, args[0], one);
          scf::YieldOp::create(nb, l, next);
        });
  }
};
} // namespace
