//===- MatMul.cpp - onnx matrix products to linalg -------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers MatMul and Gemm to one contraction linalg.generic each, with numpy
// batch broadcasting and transposes expressed in the indexing maps, and
// Gemm's bias as the accumulator's initial value.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace onnx = sparsa::onnx;

/// Emits `init + sum_k a*b` as one linalg.generic. |aMap|/|bMap| index the
/// operands in an iteration space of |numLoops| loops, the last of which is
/// the reduction; |outMap| indexes the accumulator.
static Value buildContraction(OpBuilder &b, Location loc, Value lhs, Value rhs,
                              Value init, ArrayRef<AffineMap> maps,
                              int64_t numLoops, float alpha) {
  SmallVector<utils::IteratorType> iters(numLoops, utils::IteratorType::parallel);
  iters.back() = utils::IteratorType::reduction;
  Type elt = getElementTypeOrSelf(init);
  auto generic = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{lhs, rhs}, init, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r;
        if (isa<FloatType>(elt)) {
          // `contract` lets LLVM fuse the multiply-add into an FMA, as MLAS
          // and numpy's BLAS do.
          auto contract = arith::FastMathFlagsAttr::get(
              nb.getContext(), arith::FastMathFlags::contract);
          Value prod = arith::MulFOp::create(nb, nl, args[0], args[1], contract);
          if (alpha != 1.0f)
            prod = arith::MulFOp::create(
                nb, nl, prod,
                arith::ConstantOp::create(nb, nl, elt,
                                          nb.getFloatAttr(elt, alpha)),
                contract);
          r = arith::AddFOp::create(nb, nl, args[2], prod, contract);
        } else {
          Value prod = arith::MulIOp::create(nb, nl, args[0], args[1]);
          r = arith::AddIOp::create(nb, nl, args[2], prod);
        }
        linalg::YieldOp::create(nb, nl, r);
      });
  return generic.getResult(0);
}

/// onnx.MatMul => zero-filled accumulator + one contraction generic. Leading
/// (batch) dimensions broadcast numpy style; rank-1 operands are promoted by
/// leaving the corresponding m / n loop out.
static FailureOr<Value> lowerMatMul(onnx::MatMulOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto aT = cast<RankedTensorType>(op.getA().getType());
  auto bT = cast<RankedTensorType>(op.getB().getType());
  auto rT = cast<RankedTensorType>(op.getY().getType());
  bool hasM = aT.getRank() >= 2, hasN = bT.getRank() >= 2;
  int64_t batchRank = rT.getRank() - (hasM ? 1 : 0) - (hasN ? 1 : 0);
  // Loops: batch..., [m], [n], k.
  int64_t numLoops = batchRank + hasM + hasN + 1;
  int64_t mLoop = batchRank, nLoop = batchRank + hasM, kLoop = numLoops - 1;
  auto dim = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  auto batchExprs = [&](RankedTensorType t, int64_t matrixDims) {
    SmallVector<AffineExpr> e;
    int64_t tb = t.getRank() - matrixDims;
    for (int64_t i = 0; i < tb; ++i) {
      int64_t o = i + (batchRank - tb);
      if (t.getDimSize(i) == 1 && rT.getDimSize(o) != 1)
        e.push_back(getAffineConstantExpr(0, ctx));
      else
        e.push_back(dim(o));
    }
    return e;
  };
  SmallVector<AffineExpr> aE = batchExprs(aT, hasM ? 2 : 1);
  if (hasM)
    aE.push_back(dim(mLoop));
  aE.push_back(dim(kLoop));
  SmallVector<AffineExpr> bE = batchExprs(bT, hasN ? 2 : 1);
  bE.push_back(dim(kLoop));
  if (hasN)
    bE.push_back(dim(nLoop));
  SmallVector<AffineExpr> oE;
  for (int64_t i = 0; i < batchRank; ++i)
    oE.push_back(dim(i));
  if (hasM)
    oE.push_back(dim(mLoop));
  if (hasN)
    oE.push_back(dim(nLoop));
  SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, aE, ctx),
                                 AffineMap::get(numLoops, 0, bE, ctx),
                                 AffineMap::get(numLoops, 0, oE, ctx)};
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) -> Value {
    if (hasN && i == rT.getRank() - 1)
      return dimOf(b, loc, op.getB(), bT.getRank() - 1);
    if (hasM && i == batchRank)
      return dimOf(b, loc, op.getA(), aT.getRank() - 2);
    SmallVector<Value> batchOperands;
    // Batch dims: whichever operand carries it.
    for (auto [v, t, md] : {std::tuple{op.getA(), aT, hasM ? 2 : 1},
                            std::tuple{op.getB(), bT, hasN ? 2 : 1}}) {
      int64_t d = i - (batchRank - (t.getRank() - md));
      if (d >= 0 && d < t.getRank() - md && t.getDimSize(d) != 1)
        return t.isDynamicDim(d)
                   ? dimOf(b, loc, v, d)
                   : arith::ConstantIndexOp::create(b, loc, t.getDimSize(d))
                         .getResult();
    }
    return arith::ConstantIndexOp::create(b, loc, 1);
  });
  Value init = linalg::FillOp::create(b, loc, zeroOf(b, loc, rT.getElementType()),
                                      empty)
                   .getResult(0);
  return buildContraction(b, loc, op.getA(), op.getB(), init, maps, numLoops,
                          1.0f);
}

/// onnx.Gemm => accumulator initialized with beta*C (broadcast), then one
/// contraction adding alpha*op(A)*op(B): the bias costs no extra pass.
static FailureOr<Value> lowerGemm(onnx::GemmOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto rT = cast<RankedTensorType>(op.getY().getType());
  Type elt = rT.getElementType();
  if (!isa<FloatType>(elt))
    return op.emitError("onnx.Gemm: only floating-point Gemm is supported (got ")
               << elt << ")",
           failure();
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  // Loops: m, n, k.
  AffineMap aMap = AffineMap::get(
      3, 0, op.getTransA() ? ArrayRef<AffineExpr>{d(2), d(0)}
                           : ArrayRef<AffineExpr>{d(0), d(2)}, ctx);
  AffineMap bMap = AffineMap::get(
      3, 0, op.getTransB() ? ArrayRef<AffineExpr>{d(1), d(2)}
                           : ArrayRef<AffineExpr>{d(2), d(1)}, ctx);
  AffineMap oMap = AffineMap::get(3, 0, {d(0), d(1)}, ctx);
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) {
    if (i == 0)
      return dimOf(b, loc, op.getA(), op.getTransA() ? 1 : 0);
    return dimOf(b, loc, op.getB(), op.getTransB() ? 0 : 1);
  });
  Value init;
  float beta = op.getBeta().convertToFloat();
  if (op.getC() && beta != 0.0f) {
    Value betaV = arith::ConstantOp::create(b, loc, elt, b.getFloatAttr(elt, beta));
    auto cT = cast<RankedTensorType>(op.getC().getType());
    SmallVector<AffineMap> maps = {broadcastMap(ctx, cT, rT.getShape(), 2),
                                   b.getMultiDimIdentityMap(2)};
    SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
    init = linalg::GenericOp::create(
               b, loc, rT, op.getC(), empty, maps, iters,
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 Value v = args[0];
                 if (beta != 1.0f)
                   v = arith::MulFOp::create(nb, nl, v, betaV);
                 linalg::YieldOp::create(nb, nl, v);
               })
               .getResult(0);
  } else {
    init = linalg::FillOp::create(b, loc, zeroOf(b, loc, elt), empty).getResult(0);
  }
  return buildContraction(b, loc, op.getA(), op.getB(), init,
                          {aMap, bMap, oMap}, 3,
                          op.getAlpha().convertToFloat());
}


void sparsa::lowering::populateMatMulLowerings(LoweringTable &t) {
  addSingle<onnx::GemmOp, lowerGemm>(t);
  addSingle<onnx::MatMulOp, lowerMatMul>(t);
}
