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
    SmallVector<omp::WsloopOp> last;
    getOperation().walk([&](omp::WsloopOp loop) {
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
        last.push_back(loop);
      }
    });
    for (omp::WsloopOp loop : last)
      masterWaitsLast(loop);
  }

  /// The thread that goes on after the region (thread 0) waits, spinning,
  /// until every iteration has finished, so that it reaches the region's
  /// closing barrier last and passes it without sleeping; the other
  /// threads reach it first and go to sleep as before. This is the join
  /// ONNX Runtime's pool makes: the caller spins on the work still out,
  /// the workers block. The spin lasts at most one iteration of the loop
  /// (and never more than kMaxSpins pauses).
  void masterWaitsLast(omp::WsloopOp loop) {
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

    // A counter of finished iterations, on the function's stack frame.
    b.setInsertionPointToStart(&func.getFunctionBody().front());
    auto counterType = MemRefType::get({}, i64);
    Value counter = memref::AllocaOp::create(b, loc, counterType);
    b.setInsertionPoint(parallel);
    Value zero = arith::ConstantIntOp::create(b, loc, i64, 0);
    Value one = arith::ConstantIntOp::create(b, loc, i64, 1);
    memref::StoreOp::create(b, loc, zero, counter);

    b.setInsertionPoint(yield);
    memref::AtomicRMWOp::create(b, loc, arith::AtomicRMWKind::addi, one, counter,
                                ValueRange{});

    // Iterations in all: the product of the nest's trip counts.
    b.setInsertionPointAfter(loop);
    Value total = one;
    for (auto [lb, ub, step] : llvm::zip(nest.getLoopLowerBounds(),
                                         nest.getLoopUpperBounds(),
                                         nest.getLoopSteps())) {
      auto toI64 = [&](Value v) -> Value {
        if (v.getType().isIndex())
          return arith::IndexCastOp::create(b, loc, i64, v);
        if (v.getType() == i64)
          return v;
        return arith::ExtSIOp::create(b, loc, i64, v);
      };
      Value span = arith::SubIOp::create(b, loc, toI64(ub), toI64(lb));
      if (nest.getLoopInclusive())
        span = arith::AddIOp::create(b, loc, span, one);
      Value trips = arith::CeilDivSIOp::create(b, loc, span, toI64(step));
      trips = arith::MaxSIOp::create(b, loc, trips, zero);
      total = arith::MulIOp::create(b, loc, total, trips);
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
