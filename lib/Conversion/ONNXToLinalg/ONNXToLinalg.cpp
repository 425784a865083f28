//===- ONNXToLinalg.cpp - Lower onnx ops to linalg/tensor ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers the `onnx` dialect to upstream tensor-level dialects. Each op has a
// named lowering function; the pass walks the function once in order and
// reports an error at the ONNX node for anything it cannot express, instead of
// leaving a "failed to legalize" behind.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Conversion/Passes.h"
#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/TypeSwitch.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

namespace sparsa {
#define GEN_PASS_DEF_CONVERTONNXTOLINALGPASS
#include "sparsa/Conversion/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace onnx = sparsa::onnx;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// Creates a `tensor.empty` of |type|; dynamic dimension `i` is taken from
/// |dynDim(i)|.
static Value createEmpty(OpBuilder &b, Location loc, RankedTensorType type,
                         llvm::function_ref<Value(int64_t)> dynDim) {
  SmallVector<Value> dyn;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dyn.push_back(dynDim(i));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dyn);
}

static Value dimOf(OpBuilder &b, Location loc, Value v, int64_t i) {
  return tensor::DimOp::create(b, loc, v, i);
}

/// Returns the broadcast source of output dimension |outDim| among
/// |operands|: the operand (and its dimension) whose size there is not a
/// static 1, used to size dynamic result dimensions.
static Value broadcastDim(OpBuilder &b, Location loc, ValueRange operands,
                          int64_t outRank, int64_t outDim) {
  for (Value v : operands) {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t d = outDim - (outRank - t.getRank());
    if (d < 0)
      continue;
    if (t.isDynamicDim(d))
      return dimOf(b, loc, v, d);
    if (t.getDimSize(d) != 1)
      return arith::ConstantIndexOp::create(b, loc, t.getDimSize(d));
  }
  return arith::ConstantIndexOp::create(b, loc, 1);
}

/// Indexing map reading |type| broadcast (numpy style, right-aligned) into an
/// iteration space of |outRank| dims whose trailing dims are the output's.
/// A static size-1 dimension that the output does not have reads index 0.
static AffineMap broadcastMap(MLIRContext *ctx, RankedTensorType type,
                              ArrayRef<int64_t> outShape, int64_t numLoops) {
  int64_t outRank = outShape.size();
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    int64_t o = i + (outRank - type.getRank());
    if (type.getDimSize(i) == 1 && outShape[o] != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(o, ctx));
  }
  return AffineMap::get(numLoops, 0, exprs, ctx);
}

/// Builds an element-wise linalg.generic over |operands| producing
/// |resultType| with numpy broadcasting; |body| computes one element.
static Value buildElementwise(
    OpBuilder &b, Location loc, ValueRange operands, RankedTensorType resultType,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = resultType.getRank();
  Value init = createEmpty(b, loc, resultType, [&](int64_t i) {
    return broadcastDim(b, loc, operands, rank, i);
  });
  SmallVector<AffineMap> maps;
  for (Value v : operands)
    maps.push_back(broadcastMap(ctx, cast<RankedTensorType>(v.getType()),
                                resultType.getShape(), rank));
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, resultType, operands, init, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r = body(nb, nl, args.drop_back());
        linalg::YieldOp::create(nb, nl, r);
      });
  return generic.getResult(0);
}

static Value zeroOf(OpBuilder &b, Location loc, Type t) {
  return arith::ConstantOp::create(b, loc, t, b.getZeroAttr(t));
}

static bool isUnsigned(Type t) {
  auto it = dyn_cast<IntegerType>(t);
  return it && it.isUnsigned();
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

/// onnx.Constant => arith.constant with inline dense data. Large weights were
/// moved to function arguments (sparsa-outline-weights) before this runs.
static FailureOr<Value> lowerConstant(onnx::ConstantOp op, OpBuilder &b) {
  auto type = cast<RankedTensorType>(op.getType());
  Attribute value = op.getValue();
  if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    bool detectedSplat = false;
    if (!blob || !DenseElementsAttr::isValidRawBuffer(type, blob->getData(),
                                                      detectedSplat)) {
      op.emitError("constant data does not match its type ") << type;
      return failure();
    }
    value = DenseElementsAttr::getFromRawBuffer(type, blob->getData());
  }
  auto typed = dyn_cast<TypedAttr>(value);
  if (!typed)
    return op.emitError("unsupported constant attribute"), failure();
  return arith::ConstantOp::create(b, op.getLoc(), typed).getResult();
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

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
static FailureOr<Value> lowerMatMul(onnx::MatMulOp op, OpBuilder &b) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto aT = cast<RankedTensorType>(op.getA().getType());
  auto bT = cast<RankedTensorType>(op.getB().getType());
  auto rT = cast<RankedTensorType>(op.getY().getType());
  if (!isa<FloatType>(aT.getElementType()) && isUnsigned(aT.getElementType()))
    return op.emitError("onnx.MatMul: unsigned operands are not supported"),
           failure();
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
static FailureOr<Value> lowerGemm(onnx::GemmOp op, OpBuilder &b) {
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

//===----------------------------------------------------------------------===//
// Element-wise ops
//===----------------------------------------------------------------------===//

/// Add/Sub/Mul/Div: one broadcasting generic; float, signed and unsigned
/// integer bodies.
template <typename OpTy, typename FOp, typename SIOp, typename UIOp>
static FailureOr<Value> lowerBinary(OpTy op, OpBuilder &b) {
  auto rT = cast<RankedTensorType>(op.getType());
  Type elt = rT.getElementType();
  return buildElementwise(
      b, op.getLoc(), op->getOperands(), rT,
      [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        if (isa<FloatType>(elt))
          return FOp::create(nb, nl, a[0], a[1]);
        if (isUnsigned(elt))
          return UIOp::create(nb, nl, a[0], a[1]);
        return SIOp::create(nb, nl, a[0], a[1]);
      });
}

static FailureOr<Value> lowerUnary(Operation *op, OpBuilder &b,
                                   llvm::function_ref<Value(OpBuilder &, Location,
                                                            Value)> fn) {
  auto rT = cast<RankedTensorType>(op->getResult(0).getType());
  return buildElementwise(b, op->getLoc(), op->getOperands(), rT,
                          [&](OpBuilder &nb, Location nl, ValueRange a) {
                            return fn(nb, nl, a[0]);
                          });
}

static Value floatCst(OpBuilder &b, Location loc, Type t, double v) {
  return arith::ConstantOp::create(b, loc, t, b.getFloatAttr(t, v));
}

static FailureOr<Value> lowerRelu(onnx::ReluOp op, OpBuilder &b) {
  return lowerUnary(op, b, [](OpBuilder &nb, Location nl, Value x) -> Value {
    return arith::MaximumFOp::create(nb, nl, x, zeroOf(nb, nl, x.getType()));
  });
}

static FailureOr<Value> lowerSigmoid(onnx::SigmoidOp op, OpBuilder &b) {
  return lowerUnary(op, b, [](OpBuilder &nb, Location nl, Value x) -> Value {
    Value one = floatCst(nb, nl, x.getType(), 1.0);
    Value e = math::ExpOp::create(nb, nl, arith::NegFOp::create(nb, nl, x));
    return arith::DivFOp::create(nb, nl, one, arith::AddFOp::create(nb, nl, one, e));
  });
}

static FailureOr<Value> lowerTanh(onnx::TanhOp op, OpBuilder &b) {
  return lowerUnary(op, b, [](OpBuilder &nb, Location nl, Value x) -> Value {
    return math::TanhOp::create(nb, nl, x);
  });
}

/// onnx.Cast => element-wise arith conversion chosen from the two types.
static FailureOr<Value> lowerCast(onnx::CastOp op, OpBuilder &b) {
  Type from = getElementTypeOrSelf(op.getInput());
  Type to = getElementTypeOrSelf(op.getOutput());
  auto conv = [&](OpBuilder &nb, Location nl, Value x) -> Value {
    if (from == to)
      return x;
    auto fF = dyn_cast<FloatType>(from), tF = dyn_cast<FloatType>(to);
    auto fI = dyn_cast<IntegerType>(from), tI = dyn_cast<IntegerType>(to);
    if (fF && tF)
      return fF.getWidth() < tF.getWidth()
                 ? arith::ExtFOp::create(nb, nl, to, x).getResult()
                 : arith::TruncFOp::create(nb, nl, to, x).getResult();
    if (fI && tF)
      return (fI.isUnsigned() || fI.getWidth() == 1)
                 ? arith::UIToFPOp::create(nb, nl, to, x).getResult()
                 : arith::SIToFPOp::create(nb, nl, to, x).getResult();
    if (fF && tI) {
      if (tI.getWidth() == 1)
        return arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::UNE, x,
                                     zeroOf(nb, nl, from));
      return tI.isUnsigned() ? arith::FPToUIOp::create(nb, nl, to, x).getResult()
                             : arith::FPToSIOp::create(nb, nl, to, x).getResult();
    }
    if (fI && tI) {
      if (tI.getWidth() == 1)
        return arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ne, x,
                                     zeroOf(nb, nl, from));
      if (fI.getWidth() < tI.getWidth())
        return (fI.isUnsigned() || fI.getWidth() == 1)
                   ? arith::ExtUIOp::create(nb, nl, to, x).getResult()
                   : arith::ExtSIOp::create(nb, nl, to, x).getResult();
      if (fI.getWidth() > tI.getWidth())
        return arith::TruncIOp::create(nb, nl, to, x);
      return arith::BitcastOp::create(nb, nl, to, x);
    }
    return Value();
  };
  bool supported = (isa<FloatType, IntegerType>(from)) &&
                   (isa<FloatType, IntegerType>(to));
  // Unsigned and signless integers of one width differ only in signedness;
  // arith works on signless values, which the importer uses for signed ones.
  if (!supported || isUnsigned(from) || isUnsigned(to))
    return op.emitError("onnx.Cast: conversion from ")
               << from << " to " << to << " is not supported",
           failure();
  return lowerUnary(op, b, conv);
}

/// onnx.Softmax => max-reduce, exp(x - max), sum-reduce, divide; four
/// generics the elementwise fusion pass later merges where it can.
static FailureOr<Value> lowerSoftmax(onnx::SoftmaxOp op, OpBuilder &b) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  auto rT = cast<RankedTensorType>(op.getType());
  Type elt = rT.getElementType();
  int64_t rank = rT.getRank();
  int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
  Value x = op.getInput();
  SmallVector<int64_t> redShape;
  SmallVector<AffineExpr> redExprs;
  for (int64_t i = 0; i < rank; ++i)
    if (i != axis) {
      redShape.push_back(rT.getDimSize(i));
      redExprs.push_back(getAffineDimExpr(i, ctx));
    }
  auto redT = RankedTensorType::get(redShape, elt);
  AffineMap id = b.getMultiDimIdentityMap(rank);
  AffineMap red = AffineMap::get(rank, 0, redExprs, ctx);
  SmallVector<utils::IteratorType> redIters(rank, utils::IteratorType::parallel);
  redIters[axis] = utils::IteratorType::reduction;
  SmallVector<utils::IteratorType> parIters(rank, utils::IteratorType::parallel);
  auto redEmpty = [&]() {
    return createEmpty(b, loc, redT, [&](int64_t i) {
      return dimOf(b, loc, x, i < axis ? i : i + 1);
    });
  };
  Value negInf = floatCst(b, loc, elt, -std::numeric_limits<double>::infinity());
  Value maxInit =
      linalg::FillOp::create(b, loc, negInf, redEmpty()).getResult(0);
  Value maxV =
      linalg::GenericOp::create(
          b, loc, redT, x, maxInit, {id, red}, redIters,
          [&](OpBuilder &nb, Location nl, ValueRange a) {
            linalg::YieldOp::create(nb, nl,
                                    arith::MaximumFOp::create(nb, nl, a[0], a[1])
                                        .getResult());
          })
          .getResult(0);
  Value full = createEmpty(b, loc, rT, [&](int64_t i) { return dimOf(b, loc, x, i); });
  Value expV = linalg::GenericOp::create(
                   b, loc, rT, ValueRange{x, maxV}, full, {id, red, id}, parIters,
                   [&](OpBuilder &nb, Location nl, ValueRange a) {
                     Value s = arith::SubFOp::create(nb, nl, a[0], a[1]);
                     linalg::YieldOp::create(
                         nb, nl, math::ExpOp::create(nb, nl, s).getResult());
                   })
                   .getResult(0);
  Value sumInit = linalg::FillOp::create(b, loc, zeroOf(b, loc, elt), redEmpty())
                      .getResult(0);
  Value sumV = linalg::GenericOp::create(
                   b, loc, redT, expV, sumInit, {id, red}, redIters,
                   [&](OpBuilder &nb, Location nl, ValueRange a) {
                     linalg::YieldOp::create(
                         nb, nl, arith::AddFOp::create(nb, nl, a[0], a[1])
                                     .getResult());
                   })
                   .getResult(0);
  Value full2 = createEmpty(b, loc, rT, [&](int64_t i) { return dimOf(b, loc, x, i); });
  return linalg::GenericOp::create(
             b, loc, rT, ValueRange{expV, sumV}, full2, {id, red, id}, parIters,
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               linalg::YieldOp::create(
                   nb, nl, arith::DivFOp::create(nb, nl, a[0], a[1]).getResult());
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

/// onnx.Reshape with a constant shape => tensor.reshape on a shape vector
/// computed from the input (0 copies a dimension, -1 takes the rest).
static FailureOr<Value> lowerReshape(onnx::ReshapeOp op, OpBuilder &b) {
  Location loc = op.getLoc();
  auto shape = onnx::getConstantI64Values(op.getShape());
  if (failed(shape))
    return op.emitError("onnx.Reshape: the shape input must be a constant"),
           failure();
  Value x = op.getData();
  auto inT = cast<RankedTensorType>(x.getType());
  auto rT = cast<RankedTensorType>(op.getType());
  if (inT.hasStaticShape() && rT.hasStaticShape()) {
    if (inT.getNumElements() != rT.getNumElements())
      return op.emitError("onnx.Reshape: cannot reshape ")
                 << inT << " to " << rT,
             failure();
  }
  Type idx = b.getIndexType();
  // total = product of input dims.
  Value total = arith::ConstantIndexOp::create(b, loc, 1);
  for (int64_t i = 0; i < inT.getRank(); ++i)
    total = arith::MulIOp::create(b, loc, total, dimOf(b, loc, x, i));
  SmallVector<Value> dims(shape->size());
  Value known = arith::ConstantIndexOp::create(b, loc, 1);
  int64_t inferred = -1;
  for (auto [i, s] : llvm::enumerate(*shape)) {
    if (s == -1) {
      inferred = i;
      continue;
    }
    if (s == 0 && !op.getAllowzero()) {
      if (static_cast<int64_t>(i) >= inT.getRank())
        return op.emitError("onnx.Reshape: shape[")
                   << i << "] = 0 copies a dimension the input does not have",
               failure();
      dims[i] = dimOf(b, loc, x, i);
    } else if (s < 0) {
      return op.emitError("onnx.Reshape: invalid shape value ") << s, failure();
    } else {
      dims[i] = arith::ConstantIndexOp::create(b, loc, s);
    }
    known = arith::MulIOp::create(b, loc, known, dims[i]);
  }
  if (inferred >= 0)
    dims[inferred] = arith::DivUIOp::create(b, loc, total, known);
  for (Value &d : dims)
    d = arith::IndexCastOp::create(b, loc, b.getI64Type(), d);
  (void)idx;
  Value shapeT = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({(int64_t)dims.size()}, b.getI64Type()), dims);
  return tensor::ReshapeOp::create(b, loc, rT, x, shapeT).getResult();
}

static FailureOr<Value> lowerTranspose(onnx::TransposeOp op, OpBuilder &b) {
  Location loc = op.getLoc();
  auto rT = cast<RankedTensorType>(op.getType());
  SmallVector<int64_t> perm = op.getPermutation();
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) {
    return dimOf(b, loc, op.getData(), perm[i]);
  });
  return linalg::TransposeOp::create(b, loc, op.getData(), empty, perm)
      .getResult()[0];
}

/// Groups |outRank| output dims around the |kept| ones so unit dims attach to
/// a neighbour: the reassociation of an expand/collapse between the shapes.
static SmallVector<ReassociationIndices>
unitDimReassociation(int64_t outRank, const llvm::SmallDenseSet<int64_t> &unit) {
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices cur;
  for (int64_t i = 0; i < outRank; ++i) {
    cur.push_back(i);
    if (!unit.contains(i)) {
      groups.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty() && !groups.empty())
    groups.back().append(cur.begin(), cur.end());
  return groups;
}

static FailureOr<Value> lowerUnsqueeze(onnx::UnsqueezeOp op, OpBuilder &b) {
  auto axes = onnx::getConstantI64Values(op.getAxes());
  if (failed(axes))
    return op.emitError("onnx.Unsqueeze: axes must be a constant"), failure();
  auto rT = cast<RankedTensorType>(op.getType());
  llvm::SmallDenseSet<int64_t> unit;
  for (int64_t a : *axes)
    unit.insert(a < 0 ? a + rT.getRank() : a);
  auto groups = unitDimReassociation(rT.getRank(), unit);
  auto inT = cast<RankedTensorType>(op.getData().getType());
  SmallVector<OpFoldResult> outShape;
  int64_t src = 0;
  for (int64_t i = 0; i < rT.getRank(); ++i) {
    if (unit.contains(i)) {
      outShape.push_back(b.getIndexAttr(1));
    } else {
      if (inT.isDynamicDim(src))
        outShape.push_back(dimOf(b, op.getLoc(), op.getData(), src));
      else
        outShape.push_back(b.getIndexAttr(inT.getDimSize(src)));
      ++src;
    }
  }
  return tensor::ExpandShapeOp::create(b, op.getLoc(), rT, op.getData(), groups,
                                       outShape)
      .getResult();
}

static FailureOr<Value> lowerSqueeze(onnx::SqueezeOp op, OpBuilder &b) {
  auto inT = cast<RankedTensorType>(op.getData().getType());
  auto rT = cast<RankedTensorType>(op.getType());
  llvm::SmallDenseSet<int64_t> unit;
  if (op.getAxes()) {
    auto axes = onnx::getConstantI64Values(op.getAxes());
    if (failed(axes))
      return op.emitError("onnx.Squeeze: axes must be a constant"), failure();
    for (int64_t a : *axes)
      unit.insert(a < 0 ? a + inT.getRank() : a);
  } else {
    for (int64_t i = 0; i < inT.getRank(); ++i)
      if (inT.getDimSize(i) == 1)
        unit.insert(i);
  }
  for (int64_t a : unit)
    if (inT.isDynamicDim(a))
      return op.emitError("onnx.Squeeze: cannot squeeze dynamic dimension ") << a,
             failure();
  auto groups = unitDimReassociation(inT.getRank(), unit);
  return tensor::CollapseShapeOp::create(b, op.getLoc(), rT, op.getData(), groups)
      .getResult();
}

/// onnx.Concat => tensor.empty + one tensor.insert_slice per input.
static FailureOr<Value> lowerConcat(onnx::ConcatOp op, OpBuilder &b) {
  Location loc = op.getLoc();
  auto rT = cast<RankedTensorType>(op.getType());
  int64_t rank = rT.getRank();
  int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
  Value first = op.getInputs().front();
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) -> Value {
    if (i != axis)
      return dimOf(b, loc, first, i);
    Value sum = arith::ConstantIndexOp::create(b, loc, 0);
    for (Value v : op.getInputs())
      sum = arith::AddIOp::create(b, loc, sum, dimOf(b, loc, v, axis));
    return sum;
  });
  Value result = empty;
  OpFoldResult offset = b.getIndexAttr(0);
  for (Value v : op.getInputs()) {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    offsets[axis] = offset;
    result = tensor::InsertSliceOp::create(b, loc, v, result, offsets, sizes,
                                           strides);
    std::optional<int64_t> off = getConstantIntValue(offset);
    std::optional<int64_t> sz = getConstantIntValue(sizes[axis]);
    if (off && sz) {
      offset = b.getIndexAttr(*off + *sz);
    } else {
      offset = arith::AddIOp::create(
                   b, loc, getValueOrCreateConstantIndexOp(b, loc, offset),
                   getValueOrCreateConstantIndexOp(b, loc, sizes[axis]))
                   .getResult();
    }
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

/// Dispatches one op to its lowering; returns a null value for ops that are
/// not `onnx` ops.
static FailureOr<Value> lowerOp(Operation *op, OpBuilder &b) {
  using namespace arith;
  return llvm::TypeSwitch<Operation *, FailureOr<Value>>(op)
      .Case([&](onnx::AddOp o) { return lowerBinary<onnx::AddOp, AddFOp, AddIOp, AddIOp>(o, b); })
      .Case([&](onnx::CastOp o) { return lowerCast(o, b); })
      .Case([&](onnx::ConcatOp o) { return lowerConcat(o, b); })
      .Case([&](onnx::ConstantOp o) { return lowerConstant(o, b); })
      .Case([&](onnx::DivOp o) { return lowerBinary<onnx::DivOp, DivFOp, DivSIOp, DivUIOp>(o, b); })
      .Case([&](onnx::GemmOp o) { return lowerGemm(o, b); })
      .Case([&](onnx::IdentityOp o) -> FailureOr<Value> { return o.getInput(); })
      .Case([&](onnx::MatMulOp o) { return lowerMatMul(o, b); })
      .Case([&](onnx::MulOp o) { return lowerBinary<onnx::MulOp, MulFOp, MulIOp, MulIOp>(o, b); })
      .Case([&](onnx::ReluOp o) { return lowerRelu(o, b); })
      .Case([&](onnx::ReshapeOp o) { return lowerReshape(o, b); })
      .Case([&](onnx::SigmoidOp o) { return lowerSigmoid(o, b); })
      .Case([&](onnx::SoftmaxOp o) { return lowerSoftmax(o, b); })
      .Case([&](onnx::SqueezeOp o) { return lowerSqueeze(o, b); })
      .Case([&](onnx::SubOp o) { return lowerBinary<onnx::SubOp, SubFOp, SubIOp, SubIOp>(o, b); })
      .Case([&](onnx::TanhOp o) { return lowerTanh(o, b); })
      .Case([&](onnx::TransposeOp o) { return lowerTranspose(o, b); })
      .Case([&](onnx::UnsqueezeOp o) { return lowerUnsqueeze(o, b); })
      .Default([&](Operation *o) -> FailureOr<Value> {
        if (isa<onnx::ONNXDialect>(o->getDialect()))
          return o->emitError("no CPU lowering for ") << o->getName(), failure();
        return Value();
      });
}

namespace {
struct ConvertONNXToLinalgPass final
    : sparsa::impl::ConvertONNXToLinalgPassBase<ConvertONNXToLinalgPass> {
  using ConvertONNXToLinalgPassBase::ConvertONNXToLinalgPassBase;

  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<sparsa::onnx::ONNXDialect>(op->getDialect()))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    bool failed = false;
    for (Operation *op : ops) {
      for (Value v : op->getOperands())
        if (!isa<RankedTensorType>(v.getType())) {
          op->emitError("operand of unknown rank: ONNX shape inference could "
                        "not type it; pin input shapes with --input-shape");
          failed = true;
        }
      if (failed)
        continue;
      rewriter.setInsertionPoint(op);
      FailureOr<Value> repl = lowerOp(op, rewriter);
      if (mlir::failed(repl)) {
        failed = true;
        continue;
      }
      Value v = *repl;
      if (v.getType() != op->getResult(0).getType())
        v = tensor::CastOp::create(rewriter, op->getLoc(),
                                   op->getResult(0).getType(), v);
      rewriter.replaceOp(op, v);
    }
    if (failed)
      signalPassFailure();
  }
};
} // namespace
