//===- Elementwise.cpp - Element-wise onnx ops to linalg -------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers element-wise onnx ops (arithmetic, activations, comparisons, logic,
// select, casts) to one broadcasting linalg.generic each; the upstream
// element-wise fusion pass later merges chains into single loops.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace onnx = sparsa::onnx;

using BodyFn = llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

static RankedTensorType resultType(Operation *op, unsigned i = 0) {
  return cast<RankedTensorType>(op->getResult(i).getType());
}

static Value elementwise(Operation *op, LowerCtx &ctx, ValueRange operands,
                         BodyFn body) {
  return buildElementwise(ctx.b, op->getLoc(), operands, resultType(op), body);
}

//===----------------------------------------------------------------------===//
// Arithmetic
//===----------------------------------------------------------------------===//

/// Add/Sub/Mul/Div with float, signed and unsigned bodies.
template <typename OpTy, typename FOp, typename SIOp, typename UIOp>
static FailureOr<Value> lowerArith(OpTy op, LowerCtx &ctx) {
  bool isUnsigned = ctx.isUnsigned(op->getOperand(0));
  Type elt = resultType(op).getElementType();
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       if (isa<FloatType>(elt))
                         return FOp::create(b, l, a[0], a[1]);
                       if (isUnsigned)
                         return UIOp::create(b, l, a[0], a[1]);
                       return SIOp::create(b, l, a[0], a[1]);
                     });
}

/// Pow: computed in the base's float type (integers through f64, exact for
/// the magnitudes integer pow can represent).
static FailureOr<Value> lowerPow(onnx::PowOp op, LowerCtx &ctx) {
  Type baseT = resultType(op).getElementType();
  Type expT = getElementTypeOrSelf(op.getY());
  bool baseUnsigned = ctx.isUnsigned(op.getX()), expUnsigned = ctx.isUnsigned(op.getY());
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       Type ct = isa<FloatType>(baseT) ? baseT : b.getF64Type();
                       auto toCompute = [&](Value v, Type t, bool isU) -> Value {
                         if (t == ct)
                           return v;
                         if (isa<FloatType>(t))
                           return t.getIntOrFloatBitWidth() < ct.getIntOrFloatBitWidth()
                                      ? arith::ExtFOp::create(b, l, ct, v).getResult()
                                      : arith::TruncFOp::create(b, l, ct, v).getResult();
                         return isU ? arith::UIToFPOp::create(b, l, ct, v).getResult()
                                    : arith::SIToFPOp::create(b, l, ct, v).getResult();
                       };
                       Value r = math::PowFOp::create(b, l, toCompute(a[0], baseT, baseUnsigned),
                                                      toCompute(a[1], expT, expUnsigned));
                       if (isa<FloatType>(baseT))
                         return r;
                       return baseUnsigned ? arith::FPToUIOp::create(b, l, baseT, r).getResult()
                                           : arith::FPToSIOp::create(b, l, baseT, r).getResult();
                     });
}

/// Max/Min over any number of broadcast operands.
template <bool IsMax>
static FailureOr<Value> lowerMinMax(Operation *op, LowerCtx &ctx) {
  bool isUnsigned = ctx.isUnsigned(op->getOperand(0));
  Type elt = resultType(op).getElementType();
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       Value r = a[0];
                       for (Value v : a.drop_front()) {
                         if (isa<FloatType>(elt))
                           r = IsMax ? arith::MaximumFOp::create(b, l, r, v).getResult()
                                     : arith::MinimumFOp::create(b, l, r, v).getResult();
                         else if (isUnsigned)
                           r = IsMax ? arith::MaxUIOp::create(b, l, r, v).getResult()
                                     : arith::MinUIOp::create(b, l, r, v).getResult();
                         else
                           r = IsMax ? arith::MaxSIOp::create(b, l, r, v).getResult()
                                     : arith::MinSIOp::create(b, l, r, v).getResult();
                       }
                       return r;
                     });
}
static FailureOr<Value> lowerMax(onnx::MaxOp op, LowerCtx &ctx) {
  return lowerMinMax<true>(op, ctx);
}
static FailureOr<Value> lowerMin(onnx::MinOp op, LowerCtx &ctx) {
  return lowerMinMax<false>(op, ctx);
}

/// Clip: the optional scalar bounds are read once, outside the loop.
static FailureOr<Value> lowerClip(onnx::ClipOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Type elt = resultType(op).getElementType();
  bool isUnsigned = ctx.isUnsigned(op.getInput());
  auto scalar = [&](Value t) -> Value {
    if (!t)
      return Value();
    auto type = cast<RankedTensorType>(t.getType());
    SmallVector<Value> idx(type.getRank(), indexCst(b, loc, 0));
    return tensor::ExtractOp::create(b, loc, t, idx);
  };
  Value lo = scalar(op.getMin()), hi = scalar(op.getMax());
  return elementwise(op, ctx, op.getInput(),
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value r = a[0];
                       bool f = isa<FloatType>(elt);
                       if (lo)
                         r = f ? arith::MaximumFOp::create(nb, l, r, lo).getResult()
                             : isUnsigned ? arith::MaxUIOp::create(nb, l, r, lo).getResult()
                                          : arith::MaxSIOp::create(nb, l, r, lo).getResult();
                       if (hi)
                         r = f ? arith::MinimumFOp::create(nb, l, r, hi).getResult()
                             : isUnsigned ? arith::MinUIOp::create(nb, l, r, hi).getResult()
                                          : arith::MinSIOp::create(nb, l, r, hi).getResult();
                       return r;
                     });
}

//===----------------------------------------------------------------------===//
// Unary ops and activations
//===----------------------------------------------------------------------===//

using UnaryFn = Value (*)(OpBuilder &, Location, Value, Operation *);

template <typename OpTy, UnaryFn Fn>
static FailureOr<Value> lowerUnary(OpTy op, LowerCtx &ctx) {
  Operation *raw = op.getOperation();
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) {
                       return Fn(b, l, a[0], raw);
                     });
}

static Value reluBody(OpBuilder &b, Location l, Value x, Operation *) {
  return arith::MaximumFOp::create(b, l, x, zeroOf(b, l, x.getType()));
}
/// A unary op that is one math op.
template <typename MathOp>
static Value mathBody(OpBuilder &b, Location l, Value x, Operation *) {
  return MathOp::create(b, l, x);
}
static Value sigmoidBody(OpBuilder &b, Location l, Value x, Operation *) {
  Value one = floatCst(b, l, x.getType(), 1.0);
  Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
  return arith::DivFOp::create(b, l, one, arith::AddFOp::create(b, l, one, e));
}
static Value reciprocalBody(OpBuilder &b, Location l, Value x, Operation *) {
  return arith::DivFOp::create(b, l, floatCst(b, l, x.getType(), 1.0), x);
}
static Value absBody(OpBuilder &b, Location l, Value x, Operation *op) {
  if (isa<FloatType>(x.getType()))
    return math::AbsFOp::create(b, l, x);
  auto it = cast<IntegerType>(getElementTypeOrSelf(op->getOperand(0)));
  (void)it;
  return math::AbsIOp::create(b, l, x);
}
static Value negBody(OpBuilder &b, Location l, Value x, Operation *) {
  if (isa<FloatType>(x.getType()))
    return arith::NegFOp::create(b, l, x);
  return arith::SubIOp::create(b, l, zeroOf(b, l, x.getType()), x);
}
static Value notBody(OpBuilder &b, Location l, Value x, Operation *) {
  Value one = arith::ConstantOp::create(b, l, b.getBoolAttr(true));
  return arith::XOrIOp::create(b, l, x, one);
}
static Value isNaNBody(OpBuilder &b, Location l, Value x, Operation *) {
  return arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, x, x);
}
static Value isInfBody(OpBuilder &b, Location l, Value x, Operation *raw) {
  auto op = cast<onnx::IsInfOp>(raw);
  auto ft = cast<FloatType>(x.getType());
  auto isInf = [&](bool negative) -> Value {
    Value inf = arith::ConstantOp::create(
        b, l, b.getFloatAttr(ft, APFloat::getInf(ft.getFloatSemantics(), negative)));
    return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, x, inf);
  };
  Value r = arith::ConstantOp::create(b, l, b.getBoolAttr(false));
  if (op.getDetectPositive() != 0)
    r = isInf(false);
  if (op.getDetectNegative() != 0)
    r = arith::OrIOp::create(b, l, r, isInf(true));
  return r;
}
/// 1, -1 or the input itself (0, -0, NaN).
static Value signBody(OpBuilder &b, Location l, Value x, Operation *) {
  Type t = x.getType();
  Value zero = zeroOf(b, l, t), one, minusOne, pos, neg;
  if (isa<FloatType>(t)) {
    one = floatCst(b, l, t, 1.0), minusOne = floatCst(b, l, t, -1.0);
    pos = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, zero);
    neg = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, x, zero);
  } else {
    one = arith::ConstantOp::create(b, l, b.getIntegerAttr(t, 1));
    minusOne = arith::ConstantOp::create(b, l, b.getIntegerAttr(t, -1));
    pos = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, x, zero);
    neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, x, zero);
  }
  return arith::SelectOp::create(b, l, pos, one,
                                 arith::SelectOp::create(b, l, neg, minusOne, x));
}
/// log(1 + exp(x)) as max(x, 0) + log(1 + exp(-|x|)): no overflow.
static Value softplusOf(OpBuilder &b, Location l, Value x) {
  Type t = x.getType();
  Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, math::AbsFOp::create(b, l, x)));
  Value lg = math::LogOp::create(b, l, arith::AddFOp::create(b, l, floatCst(b, l, t, 1.0), e));
  return arith::AddFOp::create(b, l, arith::MaximumFOp::create(b, l, x, zeroOf(b, l, t)), lg);
}
static Value softplusBody(OpBuilder &b, Location l, Value x, Operation *) {
  return softplusOf(b, l, x);
}
static Value mishBody(OpBuilder &b, Location l, Value x, Operation *) {
  return arith::MulFOp::create(b, l, x, math::TanhOp::create(b, l, softplusOf(b, l, x)));
}
static Value softsignBody(OpBuilder &b, Location l, Value x, Operation *) {
  Value den = arith::AddFOp::create(b, l, floatCst(b, l, x.getType(), 1.0),
                                    math::AbsFOp::create(b, l, x));
  return arith::DivFOp::create(b, l, x, den);
}
/// max(0, min(1, alpha * x + beta)).
static Value hardSigmoidOf(OpBuilder &b, Location l, Value x, double alpha, double beta) {
  Type t = x.getType();
  Value y = arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, x, floatCst(b, l, t, alpha)),
                                  floatCst(b, l, t, beta));
  return arith::MaximumFOp::create(
      b, l, zeroOf(b, l, t), arith::MinimumFOp::create(b, l, floatCst(b, l, t, 1.0), y));
}
static Value hardSigmoidBody(OpBuilder &b, Location l, Value x, Operation *op) {
  auto hs = cast<onnx::HardSigmoidOp>(op);
  return hardSigmoidOf(b, l, x, hs.getAlpha().convertToFloat(), hs.getBeta().convertToFloat());
}
static Value hardSwishBody(OpBuilder &b, Location l, Value x, Operation *) {
  return arith::MulFOp::create(b, l, x, hardSigmoidOf(b, l, x, 1.0 / 6.0, 0.5));
}
static Value leakyReluBody(OpBuilder &b, Location l, Value x, Operation *op) {
  float alpha = cast<onnx::LeakyReluOp>(op).getAlpha().convertToFloat();
  Value ax = arith::MulFOp::create(b, l, x, floatCst(b, l, x.getType(), alpha));
  Value pos = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, x,
                                    zeroOf(b, l, x.getType()));
  return arith::SelectOp::create(b, l, pos, x, ax);
}
static Value eluBody(OpBuilder &b, Location l, Value x, Operation *op) {
  float alpha = cast<onnx::EluOp>(op).getAlpha().convertToFloat();
  Value em1 = arith::SubFOp::create(b, l, math::ExpOp::create(b, l, x),
                                    floatCst(b, l, x.getType(), 1.0));
  Value neg = arith::MulFOp::create(b, l, em1, floatCst(b, l, x.getType(), alpha));
  Value pos = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x,
                                    zeroOf(b, l, x.getType()));
  return arith::SelectOp::create(b, l, pos, x, neg);
}
static Value geluBody(OpBuilder &b, Location l, Value x, Operation *op) {
  Type t = x.getType();
  Value half = floatCst(b, l, t, 0.5), one = floatCst(b, l, t, 1.0);
  Value inner;
  if (cast<onnx::GeluOp>(op).getApproximate() == "tanh") {
    // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
    Value x3 = arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, x, x), x);
    Value s = arith::AddFOp::create(
        b, l, x, arith::MulFOp::create(b, l, x3, floatCst(b, l, t, 0.044715)));
    inner = math::TanhOp::create(
        b, l, arith::MulFOp::create(b, l, s, floatCst(b, l, t, 0.7978845608028654)));
  } else {
    inner = math::ErfOp::create(
        b, l, arith::MulFOp::create(b, l, x, floatCst(b, l, t, 0.7071067811865476)));
  }
  return arith::MulFOp::create(
      b, l, arith::MulFOp::create(b, l, half, x),
      arith::AddFOp::create(b, l, one, inner));
}

//===----------------------------------------------------------------------===//
// Comparisons, logic, select
//===----------------------------------------------------------------------===//

template <typename OpTy, arith::CmpFPredicate FP, arith::CmpIPredicate SP,
          arith::CmpIPredicate UP>
static FailureOr<Value> lowerCompare(OpTy op, LowerCtx &ctx) {
  bool isUnsigned = ctx.isUnsigned(op->getOperand(0));
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       if (isa<FloatType>(a[0].getType()))
                         return arith::CmpFOp::create(b, l, FP, a[0], a[1]);
                       return arith::CmpIOp::create(b, l, isUnsigned ? UP : SP, a[0],
                                                    a[1]);
                     });
}

template <typename OpTy, typename LogicOp>
static FailureOr<Value> lowerLogic(OpTy op, LowerCtx &ctx) {
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       return LogicOp::create(b, l, a[0], a[1]);
                     });
}

static FailureOr<Value> lowerWhere(onnx::WhereOp op, LowerCtx &ctx) {
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       return arith::SelectOp::create(b, l, a[0], a[1], a[2]);
                     });
}

/// Trilu: an element-wise generic over the input's shape that keeps
/// [.., i, j] when j - i >= k (upper) or <= k (lower), k read at run time.
static FailureOr<Value> lowerTrilu(onnx::TriluOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto type = cast<RankedTensorType>(toSignless(op.getType()));
  Value x = op.getInput();
  int64_t rank = type.getRank();
  Value k = op.getK() ? extractIndex(b, loc, op.getK(), 0) : indexCst(b, loc, 0);
  bool upper = op.getUpper() != 0;
  Value init = createEmptyLike(b, loc, type, x);
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{x}, ValueRange{init}, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value i = linalg::IndexOp::create(nb, l, rank - 2);
               Value j = linalg::IndexOp::create(nb, l, rank - 1);
               // j - i against k, in signed index arithmetic.
               Value d = arith::SubIOp::create(nb, l, j, i);
               Value keep = arith::CmpIOp::create(
                   nb, l, upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle, d, k);
               linalg::YieldOp::create(
                   nb, l, ValueRange{arith::SelectOp::create(nb, l, keep, a[0],
                                                             zeroOf(nb, l, a[0].getType()))});
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Cast
//===----------------------------------------------------------------------===//

/// Converts one element from |from| to |to| (signedness given separately,
/// since both are signless here).
static Value convertElement(OpBuilder &b, Location l, Value x, Type from, Type to,
                            bool fromUnsigned, bool toUnsigned) {
  if (from == to)
    return x;
  auto fF = dyn_cast<FloatType>(from), tF = dyn_cast<FloatType>(to);
  auto fI = dyn_cast<IntegerType>(from), tI = dyn_cast<IntegerType>(to);
  if (fF && tF) {
    if (fF.getWidth() == tF.getWidth()) // f16 <-> bf16: through f32
      return arith::TruncFOp::create(
          b, l, to, arith::ExtFOp::create(b, l, b.getF32Type(), x));
    return fF.getWidth() < tF.getWidth()
               ? arith::ExtFOp::create(b, l, to, x).getResult()
               : arith::TruncFOp::create(b, l, to, x).getResult();
  }
  if (fI && tF)
    return (fromUnsigned || fI.getWidth() == 1)
               ? arith::UIToFPOp::create(b, l, to, x).getResult()
               : arith::SIToFPOp::create(b, l, to, x).getResult();
  if (fF && tI) {
    if (tI.getWidth() == 1)
      return arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNE, x,
                                   zeroOf(b, l, from));
    return toUnsigned ? arith::FPToUIOp::create(b, l, to, x).getResult()
                      : arith::FPToSIOp::create(b, l, to, x).getResult();
  }
  if (fI && tI) {
    if (tI.getWidth() == 1)
      return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, x,
                                   zeroOf(b, l, from));
    if (fI.getWidth() < tI.getWidth())
      return (fromUnsigned || fI.getWidth() == 1)
                 ? arith::ExtUIOp::create(b, l, to, x).getResult()
                 : arith::ExtSIOp::create(b, l, to, x).getResult();
    if (fI.getWidth() > tI.getWidth())
      return arith::TruncIOp::create(b, l, to, x);
    return x;
  }
  return Value();
}

/// PRelu: x < 0 ? slope * x : x, the slope broadcast to x.
static FailureOr<Value> lowerPRelu(onnx::PReluOp op, LowerCtx &ctx) {
  Type elt = resultType(op).getElementType();
  bool isUnsigned = ctx.isUnsigned(op->getOperand(0));
  return elementwise(op, ctx, op->getOperands(),
                     [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                       Value zero = zeroOf(b, l, elt);
                       if (isUnsigned)
                         return a[0];
                       if (isa<FloatType>(elt)) {
                         Value neg = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                                           a[0], zero);
                         return arith::SelectOp::create(
                             b, l, neg, arith::MulFOp::create(b, l, a[0], a[1]), a[0]);
                       }
                       Value neg =
                           arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, a[0], zero);
                       return arith::SelectOp::create(
                           b, l, neg, arith::MulIOp::create(b, l, a[0], a[1]), a[0]);
                     });
}

static FailureOr<Value> lowerCast(onnx::CastOp op, LowerCtx &ctx) {
  Type from = getElementTypeOrSelf(op.getInput());
  Type to = resultType(op).getElementType();
  if (!isa<FloatType, IntegerType>(from) || !isa<FloatType, IntegerType>(to))
    return op.emitError("onnx.Cast: conversion from ")
               << from << " to " << to << " is not supported",
           failure();
  bool fromU = ctx.isUnsigned(op.getInput());
  bool toU = !ctx.unsignedResults.empty() && ctx.unsignedResults[0];
  return elementwise(op, ctx, op.getInput(),
                     [&](OpBuilder &b, Location l, ValueRange a) {
                       return convertElement(b, l, a[0], from, to, fromU, toU);
                     });
}

void sparsa::lowering::populateElementwiseLowerings(LoweringTable &t) {
  using namespace arith;
  addSingle<onnx::TriluOp, lowerTrilu>(t);
  using FP = CmpFPredicate;
  using IP = CmpIPredicate;
  addSingle<onnx::AbsOp, lowerUnary<onnx::AbsOp, absBody>>(t);
  addSingle<onnx::AddOp, lowerArith<onnx::AddOp, AddFOp, AddIOp, AddIOp>>(t);
  addSingle<onnx::AndOp, lowerLogic<onnx::AndOp, AndIOp>>(t);
  addSingle<onnx::CastOp, lowerCast>(t);
  addSingle<onnx::ClipOp, lowerClip>(t);
  addSingle<onnx::DivOp, lowerArith<onnx::DivOp, DivFOp, DivSIOp, DivUIOp>>(t);
  addSingle<onnx::EluOp, lowerUnary<onnx::EluOp, eluBody>>(t);
  addSingle<onnx::EqualOp, lowerCompare<onnx::EqualOp, FP::OEQ, IP::eq, IP::eq>>(t);
  addSingle<onnx::ErfOp, lowerUnary<onnx::ErfOp, mathBody<math::ErfOp>>>(t);
  addSingle<onnx::ExpOp, lowerUnary<onnx::ExpOp, mathBody<math::ExpOp>>>(t);
  addSingle<onnx::GeluOp, lowerUnary<onnx::GeluOp, geluBody>>(t);
  addSingle<onnx::IsNaNOp, lowerUnary<onnx::IsNaNOp, isNaNBody>>(t);
  addSingle<onnx::IsInfOp, lowerUnary<onnx::IsInfOp, isInfBody>>(t);
  addSingle<onnx::GreaterOp, lowerCompare<onnx::GreaterOp, FP::OGT, IP::sgt, IP::ugt>>(t);
  addSingle<onnx::GreaterOrEqualOp,
            lowerCompare<onnx::GreaterOrEqualOp, FP::OGE, IP::sge, IP::uge>>(t);
  addSingle<onnx::LeakyReluOp, lowerUnary<onnx::LeakyReluOp, leakyReluBody>>(t);
  addSingle<onnx::FloorOp, lowerUnary<onnx::FloorOp, mathBody<math::FloorOp>>>(t);
  addSingle<onnx::CeilOp, lowerUnary<onnx::CeilOp, mathBody<math::CeilOp>>>(t);
  addSingle<onnx::RoundOp, lowerUnary<onnx::RoundOp, mathBody<math::RoundEvenOp>>>(t);
  addSingle<onnx::SignOp, lowerUnary<onnx::SignOp, signBody>>(t);
  addSingle<onnx::SoftplusOp, lowerUnary<onnx::SoftplusOp, softplusBody>>(t);
  addSingle<onnx::SoftsignOp, lowerUnary<onnx::SoftsignOp, softsignBody>>(t);
  addSingle<onnx::MishOp, lowerUnary<onnx::MishOp, mishBody>>(t);
  addSingle<onnx::HardSigmoidOp, lowerUnary<onnx::HardSigmoidOp, hardSigmoidBody>>(t);
  addSingle<onnx::HardSwishOp, lowerUnary<onnx::HardSwishOp, hardSwishBody>>(t);
  addSingle<onnx::PReluOp, lowerPRelu>(t);
  addSingle<onnx::LessOp, lowerCompare<onnx::LessOp, FP::OLT, IP::slt, IP::ult>>(t);
  addSingle<onnx::LessOrEqualOp,
            lowerCompare<onnx::LessOrEqualOp, FP::OLE, IP::sle, IP::ule>>(t);
  addSingle<onnx::LogOp, lowerUnary<onnx::LogOp, mathBody<math::LogOp>>>(t);
  addSingle<onnx::MaxOp, lowerMax>(t);
  addSingle<onnx::MinOp, lowerMin>(t);
  addSingle<onnx::MulOp, lowerArith<onnx::MulOp, MulFOp, MulIOp, MulIOp>>(t);
  addSingle<onnx::NegOp, lowerUnary<onnx::NegOp, negBody>>(t);
  addSingle<onnx::NotOp, lowerUnary<onnx::NotOp, notBody>>(t);
  addSingle<onnx::OrOp, lowerLogic<onnx::OrOp, OrIOp>>(t);
  addSingle<onnx::PowOp, lowerPow>(t);
  addSingle<onnx::ReciprocalOp, lowerUnary<onnx::ReciprocalOp, reciprocalBody>>(t);
  addSingle<onnx::ReluOp, lowerUnary<onnx::ReluOp, reluBody>>(t);
  addSingle<onnx::SigmoidOp, lowerUnary<onnx::SigmoidOp, sigmoidBody>>(t);
  addSingle<onnx::SqrtOp, lowerUnary<onnx::SqrtOp, mathBody<math::SqrtOp>>>(t);
  addSingle<onnx::CosOp, lowerUnary<onnx::CosOp, mathBody<math::CosOp>>>(t);
  addSingle<onnx::SinOp, lowerUnary<onnx::SinOp, mathBody<math::SinOp>>>(t);
  addSingle<onnx::SubOp, lowerArith<onnx::SubOp, SubFOp, SubIOp, SubIOp>>(t);
  addSingle<onnx::TanhOp, lowerUnary<onnx::TanhOp, mathBody<math::TanhOp>>>(t);
  addSingle<onnx::WhereOp, lowerWhere>(t);
}
