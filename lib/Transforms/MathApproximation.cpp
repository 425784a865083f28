//===- MathApproximation.cpp - vectorizable transcendental ops -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Applies MLIR's polynomial approximations to the f32 transcendental ops
// the ONNX lowering emits, so the loops around them vectorize.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace sparsa {
#define GEN_PASS_DEF_MATHAPPROXIMATIONPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {
struct MathApproximationPass final
    : sparsa::impl::MathApproximationPassBase<MathApproximationPass> {
  using MathApproximationPassBase::MathApproximationPassBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    auto wanted = [](StringRef name) {
      return llvm::is_contained({"math.exp", "math.expm1", "math.log", "math.log1p",
                                 "math.log2", "math.tanh", "math.erf"},
                                name);
    };
    populateMathF32ExpansionPatterns(patterns, wanted);
    populateMathPolynomialApproximationPatterns(patterns, wanted);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
