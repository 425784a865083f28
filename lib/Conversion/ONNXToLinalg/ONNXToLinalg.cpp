//===- ONNXToLinalg.cpp - Lower onnx ops to linalg/tensor ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The convert-onnx-to-linalg pass. Each op family (Elementwise.cpp,
// MatMul.cpp, Reduction.cpp, Shape.cpp, Indexing.cpp) fills one table of
// named lowering functions; the pass walks the function once in order and
// reports an error at the ONNX node for anything it cannot express, instead
// of leaving a "failed to legalize" behind.
//
// Unsigned integers: arith works on signless integers, so operands of
// unsigned type are bitcast to signless before an op is lowered (the
// lowering asks the context for the original signedness), results are
// bitcast back, and at the end the casts cancel and the function signature
// becomes signless. The runtime keeps the unsigned types in its description.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "sparsa/Conversion/Passes.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

namespace sparsa {
#define GEN_PASS_DEF_CONVERTONNXTOLINALGPASS
#include "sparsa/Conversion/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
using namespace sparsa::lowering;

static const LoweringTable &loweringTable() {
  static const LoweringTable table = [] {
    LoweringTable t;
    populateElementwiseLowerings(t);
    populateIndexingLowerings(t);
    populateMatMulLowerings(t);
    populateQuantizationLowerings(t);
    populateMoELowerings(t);
    populateRoutingLowerings(t);
    populateActivationSparsityLowerings(t);
    populateAttentionLowerings(t);
    populateFlowAttentionLowerings(t);
    populateReductionLowerings(t);
    populateShapeLowerings(t);
    return t;
  }();
  return table;
}

static bool isUnsignedTensor(Type t) {
  auto it = dyn_cast<IntegerType>(getElementTypeOrSelf(t));
  return it && it.isUnsigned();
}

/// Lowers |op| with signless operand and result types, restoring the
/// original types on the replacements.
static LogicalResult lowerOne(Operation *op, IRRewriter &rewriter) {
  auto it = loweringTable().find(op->getName().getTypeID());
  if (it == loweringTable().end())
    return op->emitError("no CPU lowering for ") << op->getName();
  LowerCtx ctx(rewriter);
  Location loc = op->getLoc();
  rewriter.setInsertionPoint(op);
  for (OpOperand &operand : op->getOpOperands()) {
    Value v = operand.get();
    if (!isUnsignedTensor(v.getType()))
      continue;
    Value cast = tensor::BitcastOp::create(rewriter, loc, toSignless(v.getType()), v);
    ctx.originalElementType[cast] = getElementTypeOrSelf(v);
    rewriter.modifyOpInPlace(op, [&] { operand.set(cast); });
  }
  SmallVector<Type> originalTypes;
  for (OpResult r : op->getResults()) {
    originalTypes.push_back(r.getType());
    ctx.unsignedResults.push_back(isUnsignedTensor(r.getType()));
    if (ctx.unsignedResults.back())
      r.setType(toSignless(r.getType()));
  }
  FailureOr<SmallVector<Value>> repl = it->second(op, ctx);
  // Restore the op's own types before replacing (or erroring out).
  for (auto [r, t] : llvm::zip(op->getResults(), originalTypes))
    r.setType(t);
  if (failed(repl))
    return failure();
  SmallVector<Value> values;
  for (auto [i, r] : llvm::enumerate(op->getResults())) {
    Value v = i < repl->size() ? (*repl)[i] : Value();
    if (!v) {
      if (!r.use_empty())
        return op->emitError("result ") << i << " is used but was not produced";
      values.push_back(Value());
      continue;
    }
    Type want = toSignless(r.getType());
    if (v.getType() != want)
      v = tensor::CastOp::create(rewriter, loc, want, v);
    if (want != r.getType())
      v = tensor::BitcastOp::create(rewriter, loc, r.getType(), v);
    values.push_back(v);
  }
  // Unused absent results have no replacement.
  for (auto [r, v] : llvm::zip(op->getResults(), values))
    if (v)
      r.replaceAllUsesWith(v);
  rewriter.eraseOp(op);
  return success();
}

/// Cancels bitcast pairs and makes the function signature signless.
static void dropUnsignedTypes(func::FuncOp func) {
  SmallVector<tensor::BitcastOp> casts;
  func.walk([&](tensor::BitcastOp op) { casts.push_back(op); });
  for (tensor::BitcastOp op : casts) {
    auto inner = op.getSource().getDefiningOp<tensor::BitcastOp>();
    if (inner && inner.getSource().getType() == op.getType())
      op.getResult().replaceAllUsesWith(inner.getSource());
  }
  for (tensor::BitcastOp op : llvm::reverse(casts))
    if (op->use_empty())
      op.erase();
  if (func.isExternal())
    return;
  Block &entry = func.getBody().front();
  for (BlockArgument arg : entry.getArguments()) {
    if (!isUnsignedTensor(arg.getType()))
      continue;
    Type signless = toSignless(arg.getType());
    arg.setType(signless);
    for (OpOperand &use : llvm::make_early_inc_range(arg.getUses())) {
      auto cast = dyn_cast<tensor::BitcastOp>(use.getOwner());
      if (cast && cast.getType() == signless) {
        cast.getResult().replaceAllUsesWith(arg);
        cast.erase();
      }
    }
  }
  SmallVector<Type> results;
  func.walk([&](func::ReturnOp ret) {
    results.clear();
    for (OpOperand &operand : ret->getOpOperands()) {
      if (auto cast = operand.get().getDefiningOp<tensor::BitcastOp>())
        if (toSignless(cast.getType()) == cast.getSource().getType()) {
          operand.set(cast.getSource());
          if (cast->use_empty())
            cast.erase();
        }
      results.push_back(toSignless(operand.get().getType()));
    }
  });
  SmallVector<Type> args(entry.getArgumentTypes());
  func.setFunctionType(FunctionType::get(func.getContext(), args, results));
}

namespace {
struct ConvertONNXToLinalgPass final
    : sparsa::impl::ConvertONNXToLinalgPassBase<ConvertONNXToLinalgPass> {
  using ConvertONNXToLinalgPassBase::ConvertONNXToLinalgPassBase;

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<sparsa::onnx::ONNXDialect, sparsa::sparsa::SparsaDialect>(op->getDialect()))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    bool failed = false;
    for (Operation *op : ops) {
      bool ranked = true;
      for (Value v : op->getOperands())
        if (!isa<RankedTensorType>(v.getType()))
          ranked = false;
      for (Type t : op->getResultTypes())
        if (!isa<RankedTensorType>(t))
          ranked = false;
      if (!ranked) {
        op->emitError("operand of unknown rank: ONNX shape inference could "
                      "not type it; pin input shapes with --input-shape");
        failed = true;
        continue;
      }
      if (mlir::failed(lowerOne(op, rewriter)))
        failed = true;
    }
    if (failed)
      return signalPassFailure();
    dropUnsignedTypes(getOperation());
  }
};
} // namespace
