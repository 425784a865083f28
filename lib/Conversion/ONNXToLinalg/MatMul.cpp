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

/// |init| (a 16-bit float tensor) in f32: a fill of f32, or an element-wise
/// extension.
static Value widenInit(OpBuilder &b, Location loc, Value init) {
  auto type = cast<RankedTensorType>(init.getType());
  Type f32 = b.getF32Type();
  Value empty = tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, init), f32);
  if (auto fill = init.getDefiningOp<linalg::FillOp>()) {
    Value v = arith::ExtFOp::create(b, loc, f32, fill.getInputs()[0]);
    return linalg::FillOp::create(b, loc, v, empty).getResult(0);
  }
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(type.getRank()));
  SmallVector<utils::IteratorType> iters(type.getRank(), utils::IteratorType::parallel);
  return linalg::GenericOp::create(b, loc, empty.getType(), init, empty, maps, iters,
                                   [&](OpBuilder &nb, Location nl, ValueRange args) {
                                     linalg::YieldOp::create(
                                         nb, nl, arith::ExtFOp::create(nb, nl, f32, args[0])
                                                     .getResult());
                                   })
      .getResult(0);
}

/// Emits `init + sum_k a*b` as one linalg.generic. |aMap|/|bMap| index the
/// operands in an iteration space of |numLoops| loops, the last of which is
/// the reduction; |outMap| indexes the accumulator. Products of 16-bit
/// floats (f16, bf16) are summed in f32 and rounded once at the end, as
/// MLAS, cuBLAS and tensor cores do: the contraction reads the narrow
/// operands, extends each element, and accumulates into an f32 tensor, which
/// an element-wise truncation returns to the result type.
static Value buildContraction(OpBuilder &b, Location loc, Value lhs, Value rhs,
                              Value init, ArrayRef<AffineMap> maps,
                              int64_t numLoops, float alpha) {
  SmallVector<utils::IteratorType> iters(numLoops, utils::IteratorType::parallel);
  iters.back() = utils::IteratorType::reduction;
  Type narrow = getElementTypeOrSelf(init);
  bool widen = isa<FloatType>(narrow) && narrow.getIntOrFloatBitWidth() < 32;
  Value acc = widen ? widenInit(b, loc, init) : init;
  Type elt = getElementTypeOrSelf(acc);
  auto generic = linalg::GenericOp::create(
      b, loc, acc.getType(), ValueRange{lhs, rhs}, acc, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r;
        if (widen) {
          auto contract = arith::FastMathFlagsAttr::get(
              nb.getContext(), arith::FastMathFlags::contract);
          auto ext = [&](Value v) -> Value {
            return v.getType() == elt ? v : arith::ExtFOp::create(nb, nl, elt, v).getResult();
          };
          Value prod = arith::MulFOp::create(nb, nl, ext(args[0]), ext(args[1]), contract);
          if (alpha != 1.0f)
            prod = arith::MulFOp::create(
                nb, nl, prod,
                arith::ConstantOp::create(nb, nl, elt, nb.getFloatAttr(elt, alpha)), contract);
          r = arith::AddFOp::create(nb, nl, args[2], prod, contract);
        } else if (isa<FloatType>(elt)) {
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
  if (!widen)
    return generic.getResult(0);
  auto rank = cast<RankedTensorType>(init.getType()).getRank();
  SmallVector<AffineMap> idMaps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
  Value out = tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, init), narrow);
  return linalg::GenericOp::create(b, loc, out.getType(), generic.getResult(0), out, idMaps,
                                   parallel,
                                   [&](OpBuilder &nb, Location nl, ValueRange args) {
                                     linalg::YieldOp::create(
                                         nb, nl, arith::TruncFOp::create(nb, nl, narrow, args[0])
                                                     .getResult());
                                   })
      .getResult(0);
}

/// onnx.MatMul => zero-filled accumulator + one contraction generic. Leading
/// (batch) dimensions broadcast numpy style; rank-1 operands are promoted by
/// leaving the corresponding m / n loop out.
Value sparsa::lowering::buildMatMul(OpBuilder &b, Location loc, Value A, Value B,
                                    RankedTensorType rT) {
  MLIRContext *ctx = b.getContext();
  auto aT = cast<RankedTensorType>(A.getType());
  auto bT = cast<RankedTensorType>(B.getType());
  bool hasM = aT.getRank() >= 2, hasN = bT.getRank() >= 2;
  int64_t batchRank = rT.getRank() - (hasM ? 1 : 0) - (hasN ? 1 : 0);
  // Batch dims both operands have, one of them typed `?`: either may be 1
  // at run time and broadcast; stretch such operands to the larger size
  // first (a copy only when it happens).
  {
    int64_t aBatch = aT.getRank() - (hasM ? 2 : 1), bBatch = bT.getRank() - (hasN ? 2 : 1);
    SmallVector<int64_t> aDims, bDims;
    SmallVector<Value> aSizes, bSizes;
    for (int64_t o = 0; o < batchRank; ++o) {
      int64_t da = o - (batchRank - aBatch), db = o - (batchRank - bBatch);
      if (da < 0 || db < 0 || aT.getDimSize(da) == 1 || bT.getDimSize(db) == 1 ||
          (!aT.isDynamicDim(da) && !bT.isDynamicDim(db)))
        continue;
      Value n = arith::MaxUIOp::create(b, loc, dimOf(b, loc, A, da), dimOf(b, loc, B, db));
      if (aT.isDynamicDim(da))
        aDims.push_back(da), aSizes.push_back(n);
      if (bT.isDynamicDim(db))
        bDims.push_back(db), bSizes.push_back(n);
    }
    if (!aDims.empty())
      A = broadcastRuntimeOnes(b, loc, A, aDims, aSizes);
    if (!bDims.empty())
      B = broadcastRuntimeOnes(b, loc, B, bDims, bSizes);
  }
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
      return dimOf(b, loc, B, bT.getRank() - 1);
    if (hasM && i == batchRank)
      return dimOf(b, loc, A, aT.getRank() - 2);
    SmallVector<Value> batchOperands;
    // Batch dims: whichever operand carries it.
    for (auto [v, t, md] : {std::tuple{A, aT, hasM ? 2 : 1},
                            std::tuple{B, bT, hasN ? 2 : 1}}) {
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
  return buildContraction(b, loc, A, B, init, maps, numLoops, 1.0f);
}

static FailureOr<Value> lowerMatMul(onnx::MatMulOp op, LowerCtx &lctx) {
  return buildMatMul(lctx.b, op.getLoc(), op.getA(), op.getB(),
                     cast<RankedTensorType>(op.getY().getType()));
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


/// onnx.Einsum => one linalg.generic: each id of the parsed equation is a
/// loop, the output's ids are parallel, the rest reductions; a size-1
/// broadcast (`...`) dimension reads index 0.
static FailureOr<Value> lowerEinsum(onnx::EinsumOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> ranks;
  for (Value v : op.getInputs())
    ranks.push_back(cast<RankedTensorType>(v.getType()).getRank());
  std::string error;
  auto spec = onnx::parseEinsum(op.getEquation(), ranks, error);
  if (failed(spec))
    return op.emitError("onnx.Einsum: ") << error, failure();
  auto rT = cast<RankedTensorType>(op.getOutput().getType());
  int64_t n = spec->numIds;
  // The size of each id: from an input where it is not a broadcast 1.
  SmallVector<std::pair<Value, int64_t>> source(n, {Value(), -1});
  for (auto [v, ids] : llvm::zip(op.getInputs(), spec->inputs)) {
    auto t = cast<RankedTensorType>(v.getType());
    for (auto [d, id] : llvm::enumerate(ids))
      if (!source[id].first || (t.getDimSize(d) != 1 &&
                                cast<RankedTensorType>(source[id].first.getType())
                                        .getDimSize(source[id].second) == 1))
        source[id] = {v, static_cast<int64_t>(d)};
  }
  SmallVector<AffineMap> maps;
  for (auto [v, ids] : llvm::zip(op.getInputs(), spec->inputs)) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<AffineExpr> e;
    for (auto [d, id] : llvm::enumerate(ids)) {
      auto src = cast<RankedTensorType>(source[id].first.getType());
      bool broadcast = id < spec->numEllipsisIds && t.getDimSize(d) == 1 &&
                       src.getDimSize(source[id].second) != 1;
      e.push_back(broadcast ? getAffineConstantExpr(0, ctx) : getAffineDimExpr(id, ctx));
    }
    maps.push_back(AffineMap::get(n, 0, e, ctx));
  }
  SmallVector<AffineExpr> oE;
  for (int64_t id : spec->output)
    oE.push_back(getAffineDimExpr(id, ctx));
  maps.push_back(AffineMap::get(n, 0, oE, ctx));
  SmallVector<utils::IteratorType> iters(n, utils::IteratorType::reduction);
  for (int64_t id : spec->output)
    iters[id] = utils::IteratorType::parallel;
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) {
    auto [v, d] = source[spec->output[i]];
    return dimOf(b, loc, v, d);
  });
  Type elt = rT.getElementType();
  Value init = linalg::FillOp::create(b, loc, zeroOf(b, loc, elt), empty).getResult(0);
  bool isF = isa<FloatType>(elt);
  return linalg::GenericOp::create(
             b, loc, rT, op.getInputs(), init, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value prod = a[0];
               for (Value v : a.drop_front().drop_back())
                 prod = isF ? arith::MulFOp::create(nb, l, prod, v).getResult()
                            : arith::MulIOp::create(nb, l, prod, v).getResult();
               Value acc = a.back();
               Value r = isF ? arith::AddFOp::create(nb, l, acc, prod).getResult()
                             : arith::AddIOp::create(nb, l, acc, prod).getResult();
               linalg::YieldOp::create(nb, l, r);
             })
      .getResult(0);
}

void sparsa::lowering::populateMatMulLowerings(LoweringTable &t) {
  addSingle<onnx::EinsumOp, lowerEinsum>(t);
  addSingle<onnx::GemmOp, lowerGemm>(t);
  addSingle<onnx::MatMulOp, lowerMatMul>(t);
}
