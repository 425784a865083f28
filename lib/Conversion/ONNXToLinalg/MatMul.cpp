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

/// Conv: X zero-padded (a generic reading inside the data), the channels
/// split into groups (X [N, G, C/G, D...], W [G, M/G, C/G, k...]), one
/// generic contracting channels and kernel taps into Y [N, G, M/G, O...]
/// (started from the bias), collapsed back to [N, M, O...].
static FailureOr<Value> lowerConv(onnx::ConvOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto rT = cast<RankedTensorType>(op.getY().getType());
  auto wT = cast<RankedTensorType>(op.getW().getType());
  Type elt = rT.getElementType();
  int64_t rank = rT.getRank(), r = rank - 2;
  int64_t G = op.getGroup(), M = wT.getDimSize(0), Cg = wT.getDimSize(1), Mg = M / G;
  Value x = op.getX();
  auto xT = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> xShape(xT.getShape());
  xShape[1] = Cg * G;
  if (xT.isDynamicDim(1)) {
    xT = xT.clone(xShape);
    x = tensor::CastOp::create(b, loc, xT, x);
  }
  auto pads = op.getResolvedPads(xT.getShape().drop_front(2));
  if (failed(pads))
    return op.emitError("onnx.Conv: auto_pad needs static spatial sizes"), failure();
  SmallVector<int64_t> st = op.getStridesOr1(), dl = op.getDilationsOr1();
  Value zero = indexCst(b, loc, 0);
  Value fzero = floatCst(b, loc, elt, 0.0);
  // Zero padding.
  if (llvm::any_of(*pads, [](int64_t p) { return p != 0; })) {
    SmallVector<int64_t> shape(xShape);
    SmallVector<Value> dims = dimsOf(b, loc, x), outDims = dims, lo(rank, zero),
                       pbegin(rank, zero);
    for (int64_t i = 0; i < r; ++i) {
      int64_t extra = (*pads)[i] + (*pads)[i + r];
      if (!ShapedType::isDynamic(shape[2 + i]))
        shape[2 + i] += extra;
      outDims[2 + i] = arith::AddIOp::create(b, loc, dims[2 + i], indexCst(b, loc, extra));
      pbegin[2 + i] = indexCst(b, loc, (*pads)[i]);
    }
    auto pT = xT.clone(shape);
    x = buildPad(b, loc, x, pT, outDims, lo, dims, pbegin, "constant", fzero);
    xT = pT;
  }
  // Groups as their own axis.
  auto expand = [&](Value v, RankedTensorType to, int64_t at) {
    SmallVector<ReassociationIndices> groups;
    for (int64_t i = 0, j = 0; i < cast<RankedTensorType>(v.getType()).getRank(); ++i) {
      if (i == at) {
        groups.push_back({j, j + 1});
        j += 2;
      } else {
        groups.push_back({j++});
      }
    }
    return tensor::ExpandShapeOp::create(b, loc, to, v, groups).getResult();
  };
  SmallVector<int64_t> xg = {xT.getDimSize(0), G, Cg};
  llvm::append_range(xg, xT.getShape().drop_front(2));
  Value xs = expand(x, xT.clone(xg), 1);
  SmallVector<int64_t> wg = {G, Mg, Cg};
  llvm::append_range(wg, wT.getShape().drop_front(2));
  Value ws = expand(op.getW(), wT.clone(wg), 0);
  // Output sizes O = (padded - dilation (k - 1) - 1) / stride + 1.
  SmallVector<int64_t> oShape(rT.getShape().drop_front(2));
  SmallVector<Value> oDims;
  for (int64_t i = 0; i < r; ++i) {
    // A kernel longer than the (run-time) input leaves no output: 0, not a
    // negative size (ONNX Runtime rejects such an input).
    Value span = arith::SubIOp::create(
        b, loc, dimOf(b, loc, x, 2 + i),
        indexCst(b, loc, dl[i] * (wT.getDimSize(2 + i) - 1) + 1));
    Value o = arith::AddIOp::create(
        b, loc, arith::DivSIOp::create(b, loc, span, indexCst(b, loc, st[i])),
        indexCst(b, loc, 1));
    Value none = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, span, zero);
    oDims.push_back(arith::SelectOp::create(b, loc, none, zero, o));
  }
  SmallVector<int64_t> kShape(wT.getShape().drop_front(2));
  auto d = [&](int64_t i) { return getAffineDimExpr(i, ctx); };
  // y [N, G, M/G, ...] + the bias [M] as [G, M/G].
  auto addBias = [&](Value y) -> Value {
    Value bias = op.getB();
    if (!bias)
      return y;
    auto bT = cast<RankedTensorType>(bias.getType());
    if (bT.isDynamicDim(0))
      bias = tensor::CastOp::create(b, loc, bT.clone({M}), bias);
    Value bg = tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get({G, Mg}, elt), bias,
                                             SmallVector<ReassociationIndices>{{0, 1}});
    auto yT = cast<RankedTensorType>(y.getType());
    int64_t n = yT.getRank();
    SmallVector<utils::IteratorType> par(n, utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, yT, bg, y,
               SmallVector<AffineMap>{AffineMap::get(n, 0, {d(1), d(2)}, ctx),
                                      b.getMultiDimIdentityMap(n)},
               par,
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 Value v = arith::AddFOp::create(nb, nl, a[1], a[0]);
                 linalg::YieldOp::create(nb, nl, v);
               })
        .getResult(0);
  };
  if (Cg == 1 && Mg == 1) {
    // Depthwise (Mamba's causal Conv1d): one generic over n, g, O..., the
    // taps k... reduced; a matmul per channel would be [1, K] x [K, P].
    // Loops n, g, m, O..., c, k... (m and c of size 1).
    int64_t loops = 4 + 2 * r;
    SmallVector<AffineExpr> xe = {d(0), d(1), d(3 + r)}, we = {d(1), d(2), d(3 + r)},
                            ye = {d(0), d(1), d(2)};
    for (int64_t i = 0; i < r; ++i) {
      xe.push_back(d(3 + i) * st[i] + d(4 + r + i) * dl[i]);
      we.push_back(d(4 + r + i));
      ye.push_back(d(3 + i));
    }
    SmallVector<int64_t> yShape = {rT.getDimSize(0), G, 1};
    llvm::append_range(yShape, rT.getShape().drop_front(2));
    auto ygT = RankedTensorType::get(yShape, elt);
    Value empty = createEmpty(b, loc, ygT, [&](int64_t i) -> Value {
      return i == 0 ? dimOf(b, loc, x, 0) : oDims[i - 3];
    });
    Value init = linalg::FillOp::create(b, loc, fzero, empty).getResult(0);
    SmallVector<utils::IteratorType> iters(loops, utils::IteratorType::parallel);
    for (int64_t i = 3 + r; i < loops; ++i)
      iters[i] = utils::IteratorType::reduction;
    Value y = linalg::GenericOp::create(
                  b, loc, ygT, ValueRange{xs, ws}, init,
                  SmallVector<AffineMap>{AffineMap::get(loops, 0, xe, ctx),
                                         AffineMap::get(loops, 0, we, ctx),
                                         AffineMap::get(loops, 0, ye, ctx)},
                  iters,
                  [&](OpBuilder &nb, Location nl, ValueRange a) {
                    Value p = arith::MulFOp::create(nb, nl, a[0], a[1]);
                    Value acc = arith::AddFOp::create(nb, nl, a[2], p);
                    linalg::YieldOp::create(nb, nl, acc);
                  })
                  .getResult(0);
    y = addBias(y);
    SmallVector<ReassociationIndices> back = {{0}, {1, 2}};
    for (int64_t i = 0; i < r; ++i)
      back.push_back({3 + i});
    Value out = tensor::CollapseShapeOp::create(b, loc, y, back);
    if (out.getType() != rT)
      out = tensor::CastOp::create(b, loc, rT, out);
    return out;
  }
  // im2col, transposed: col [N, G, C/G, k..., O...] (then [N, G, C/G * K,
  // P]), so that Y[n, g] = W[g] [M/G, C/G * K] @ col[n, g] lands in the
  // output's own layout [N, G, M/G, P].
  int64_t K = 1;
  for (int64_t k : kShape)
    K *= k;
  int64_t loops = 3 + 2 * r;
  SmallVector<AffineExpr> xe = {d(0), d(1), d(2)};
  for (int64_t i = 0; i < r; ++i)
    xe.push_back(d(3 + r + i) * st[i] + d(3 + i) * dl[i]);
  SmallVector<int64_t> colShape = {xT.getDimSize(0), G, Cg};
  llvm::append_range(colShape, kShape);
  llvm::append_range(colShape, oShape);
  auto colT = RankedTensorType::get(colShape, elt);
  Value colEmpty = createEmpty(b, loc, colT, [&](int64_t i) -> Value {
    return i == 0 ? dimOf(b, loc, x, 0) : oDims[i - 3 - r];
  });
  SmallVector<utils::IteratorType> par(loops, utils::IteratorType::parallel);
  Value col = linalg::GenericOp::create(
                  b, loc, colT, xs, colEmpty,
                  SmallVector<AffineMap>{AffineMap::get(loops, 0, xe, ctx),
                                         b.getMultiDimIdentityMap(loops)},
                  par,
                  [&](OpBuilder &nb, Location nl, ValueRange a) {
                    linalg::YieldOp::create(nb, nl, a[0]);
                  })
                  .getResult(0);
  SmallVector<ReassociationIndices> colGroups = {{0}, {1}, {}, {}};
  for (int64_t i = 0; i <= r; ++i)
    colGroups[2].push_back(2 + i);
  for (int64_t i = 0; i < r; ++i)
    colGroups[3].push_back(3 + r + i);
  int64_t P = 1;
  for (int64_t o : oShape)
    P = ShapedType::isDynamic(o) || ShapedType::isDynamic(P) ? ShapedType::kDynamic : P * o;
  Value col2 = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({xT.getDimSize(0), G, Cg * K, P}, elt), col, colGroups);
  Value w2 = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({G, Mg, Cg * K}, elt), ws,
      SmallVector<ReassociationIndices>{{0}, {1}, llvm::to_vector(llvm::seq<int64_t>(2, 3 + r))});
  auto mmT = RankedTensorType::get({rT.getDimSize(0), G, Mg, P}, elt);
  Value y = addBias(buildMatMul(b, loc, w2, col2, mmT));
  // [N, G, M/G, P] -> [N, M, O...].
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({rT.getDimSize(0), M, P}, elt), y,
      SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}});
  SmallVector<int64_t> outShape = {rT.getDimSize(0), M};
  llvm::append_range(outShape, oShape);
  SmallVector<ReassociationIndices> outGroups = {{0}, {1}, {}};
  for (int64_t i = 0; i < r; ++i)
    outGroups[2].push_back(2 + i);
  auto sizeOf = [&](int64_t s, Value v) -> OpFoldResult {
    return ShapedType::isDynamic(s) ? OpFoldResult(v) : OpFoldResult(b.getIndexAttr(s));
  };
  SmallVector<OpFoldResult> outSizes = {sizeOf(outShape[0], dimOf(b, loc, x, 0)),
                                        b.getIndexAttr(M)};
  for (int64_t i = 0; i < r; ++i)
    outSizes.push_back(sizeOf(outShape[2 + i], oDims[i]));
  Value out = tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get(outShape, elt), flat,
                                            outGroups, outSizes);
  if (out.getType() != rT)
    out = tensor::CastOp::create(b, loc, rT, out);
  return out;
}

void sparsa::lowering::populateMatMulLowerings(LoweringTable &t) {
  addSingle<onnx::ConvOp, lowerConv>(t);
  addSingle<onnx::EinsumOp, lowerEinsum>(t);
  addSingle<onnx::GemmOp, lowerGemm>(t);
  addSingle<onnx::MatMulOp, lowerMatMul>(t);
}
