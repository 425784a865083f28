//===- StridedCopiesToLinalg.cpp - memref.copy of views to loops -*- C++ -*-//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Rewrites memref.copy between non-identity layouts into linalg.copy so the
// generated code never calls the MLIR C runner library's memrefCopy.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace sparsa {
#define GEN_PASS_DEF_STRIDEDCOPIESTOLINALGPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

namespace {
struct StridedCopiesToLinalgPass final
    : sparsa::impl::StridedCopiesToLinalgPassBase<StridedCopiesToLinalgPass> {
  using StridedCopiesToLinalgPassBase::StridedCopiesToLinalgPassBase;
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) {
      auto src = dyn_cast<MemRefType>(op.getSource().getType());
      auto dst = dyn_cast<MemRefType>(op.getTarget().getType());
      if (src && dst &&
          (all || !src.getLayout().isIdentity() || !dst.getLayout().isIdentity()))
        copies.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp op : copies) {
      rewriter.setInsertionPoint(op);
      linalg::CopyOp::create(rewriter, op.getLoc(), op.getSource(), op.getTarget());
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
