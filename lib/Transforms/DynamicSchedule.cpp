//===- DynamicSchedule.cpp - dynamic OpenMP loop schedules -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/OpenMP/OpenMPDialect.h"

namespace sparsa {
#define GEN_PASS_DEF_DYNAMICSCHEDULEPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {
struct DynamicSchedulePass final
    : sparsa::impl::DynamicSchedulePassBase<DynamicSchedulePass> {
  using DynamicSchedulePassBase::DynamicSchedulePassBase;

  void runOnOperation() override {
    getOperation().walk([](omp::WsloopOp loop) {
      if (!loop.getScheduleKind())
        loop.setScheduleKindAttr(omp::ClauseScheduleKindAttr::get(
            loop.getContext(), omp::ClauseScheduleKind::Dynamic));
    });
  }
};
} // namespace
