//===- Quantization.cpp - onnx quantize / dequantize / int matmul -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Reference lowerings of ONNX's linear quantization ops: QuantizeLinear and
// DequantizeLinear (per tensor, per axis, blocked), DynamicQuantizeLinear,
// MatMulInteger and QLinearMatMul. Each is one or two linalg.generics that
// follow ONNX's reference arithmetic exactly (round half to even, integer
// accumulation in int32, saturation to the quantized range). The fused
// kernels that keep weights packed come with the quantization fusion pass;
// these define the semantics it must match.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace onnx = sparsa::onnx;
namespace sp = sparsa::sparsa;

namespace {
/// How a scale or zero point addresses the quantized tensor.
struct QuantParam {
  Value value;           ///< The scale / zero point tensor (null: none).
  bool isUnsigned = false;
  int64_t axis = -1;     ///< Per-axis / blocked axis; -1 per tensor.
  int64_t blockSize = 0; ///< > 0: blocked along |axis|.

  /// The parameter for the element at the current linalg indices.
  Value read(OpBuilder &b, Location l) const {
    auto t = cast<RankedTensorType>(value.getType());
    SmallVector<Value> idx;
    if (axis < 0) {
      idx.assign(t.getRank(), indexCst(b, l, 0));
    } else if (blockSize == 0) {
      idx.push_back(linalg::IndexOp::create(b, l, axis));
    } else {
      for (int64_t d = 0; d < t.getRank(); ++d) {
        Value i = linalg::IndexOp::create(b, l, d);
        if (d == axis)
          i = arith::DivUIOp::create(b, l, i, indexCst(b, l, blockSize));
        idx.push_back(i);
      }
    }
    return tensor::ExtractOp::create(b, l, value, idx);
  }
};
} // namespace

/// Classifies |param| for an input of rank |rank| (ONNX: a scalar or
/// one-element tensor is per tensor, a 1-D tensor per axis, else blocked).
static QuantParam quantParam(Value param, bool isUnsigned, int64_t axis,
                             int64_t blockSize, int64_t rank) {
  QuantParam p{param, isUnsigned, -1, 0};
  if (!param)
    return p;
  auto t = cast<RankedTensorType>(param.getType());
  bool scalar = t.getRank() == 0 || (t.hasStaticShape() && t.getNumElements() == 1 &&
                                     blockSize == 0);
  if (scalar)
    return p;
  p.axis = normalizeAxis(axis, rank);
  p.blockSize = blockSize;
  return p;
}

/// Integer (signless, |isUnsigned| for its interpretation) or float -> |to|.
static Value toFloat(OpBuilder &b, Location l, Value v, Type to, bool isUnsigned) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (auto ft = dyn_cast<FloatType>(from))
    return ft.getWidth() < cast<FloatType>(to).getWidth()
               ? arith::ExtFOp::create(b, l, to, v).getResult()
               : arith::TruncFOp::create(b, l, to, v).getResult();
  if (isUnsigned)
    return arith::UIToFPOp::create(b, l, to, v);
  return arith::SIToFPOp::create(b, l, to, v);
}

static Value toI32(OpBuilder &b, Location l, Value v, bool isUnsigned) {
  Type i32 = b.getI32Type();
  unsigned w = v.getType().getIntOrFloatBitWidth();
  if (w == 32)
    return v;
  if (w > 32)
    return arith::TruncIOp::create(b, l, i32, v);
  if (isUnsigned)
    return arith::ExtUIOp::create(b, l, i32, v);
  return arith::ExtSIOp::create(b, l, i32, v);
}

/// Rounds |v| half to even and adds |zp| (float; before rounding when
/// |zpFirst|, as QLinearMatMul's reference does), saturates to the range of
/// |intType| and converts.
static Value saturateToInt(OpBuilder &b, Location l, Value v, Value zp, Type intType,
                           bool isUnsigned, bool zpFirst = false) {
  Type ft = v.getType();
  if (zp && zpFirst)
    v = arith::AddFOp::create(b, l, v, zp);
  v = math::RoundEvenOp::create(b, l, v);
  if (zp && !zpFirst)
    v = arith::AddFOp::create(b, l, v, zp);
  unsigned w = intType.getIntOrFloatBitWidth();
  double lo = isUnsigned ? 0.0 : -std::ldexp(1.0, w - 1);
  double hi = isUnsigned ? std::ldexp(1.0, w) - 1 : std::ldexp(1.0, w - 1) - 1;
  v = arith::MaxNumFOp::create(b, l, v, floatCst(b, l, ft, lo));
  v = arith::MinNumFOp::create(b, l, v, floatCst(b, l, ft, hi));
  if (isUnsigned)
    return arith::FPToUIOp::create(b, l, intType, v);
  return arith::FPToSIOp::create(b, l, intType, v);
}

/// One parallel generic over |x|'s shape producing |resultType|.
static Value mapOver(OpBuilder &b, Location loc, Value x, RankedTensorType resultType,
                     llvm::function_ref<Value(OpBuilder &, Location, Value)> body) {
  int64_t rank = resultType.getRank();
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, resultType, x, createEmptyLike(b, loc, resultType, x), maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               linalg::YieldOp::create(nb, l, body(nb, l, a[0]));
             })
      .getResult(0);
}

static FailureOr<Value> lowerQuantizeLinear(onnx::QuantizeLinearOp op, LowerCtx &ctx) {
  Location loc = op.getLoc();
  auto xT = cast<RankedTensorType>(op.getX().getType());
  auto rT = cast<RankedTensorType>(op.getY().getType());
  int64_t rank = xT.getRank();
  QuantParam scale = quantParam(op.getYScale(), false, op.getAxis(), op.getBlockSize(), rank);
  QuantParam zp = quantParam(op.getYZeroPoint(),
                             op.getYZeroPoint() && ctx.isUnsigned(op.getYZeroPoint()),
                             op.getAxis(), op.getBlockSize(), rank);
  bool outU = ctx.unsignedResults[0];
  bool xU = ctx.isUnsigned(op.getX());
  Type st = getElementTypeOrSelf(op.getYScale());
  Type f32 = ctx.b.getF32Type();
  return mapOver(ctx.b, loc, op.getX(), rT, [&](OpBuilder &b, Location l, Value x) {
    // x / scale in the scale's type, as ONNX's reference computes it.
    Value q = arith::DivFOp::create(b, l, toFloat(b, l, x, st, xU), scale.read(b, l));
    q = toFloat(b, l, q, f32, false);
    Value z = zp.value ? toFloat(b, l, zp.read(b, l), f32, zp.isUnsigned) : Value();
    return saturateToInt(b, l, q, z, rT.getElementType(), outU);
  });
}

static FailureOr<Value> lowerDequantizeLinear(onnx::DequantizeLinearOp op,
                                              LowerCtx &ctx) {
  Location loc = op.getLoc();
  auto xT = cast<RankedTensorType>(op.getX().getType());
  auto rT = cast<RankedTensorType>(op.getY().getType());
  int64_t rank = xT.getRank();
  QuantParam scale = quantParam(op.getXScale(), false, op.getAxis(), op.getBlockSize(), rank);
  QuantParam zp = quantParam(op.getXZeroPoint(),
                             op.getXZeroPoint() && ctx.isUnsigned(op.getXZeroPoint()),
                             op.getAxis(), op.getBlockSize(), rank);
  bool xU = ctx.isUnsigned(op.getX());
  Type f32 = ctx.b.getF32Type();
  return mapOver(ctx.b, loc, op.getX(), rT, [&](OpBuilder &b, Location l, Value x) {
    // (x - zero_point) in float32, times the scale, in the result type.
    Value d = toFloat(b, l, x, f32, xU);
    if (zp.value)
      d = arith::SubFOp::create(b, l, d, toFloat(b, l, zp.read(b, l), f32, zp.isUnsigned));
    Value y = arith::MulFOp::create(b, l, d, toFloat(b, l, scale.read(b, l), f32, false));
    return toFloat(b, l, y, rT.getElementType(), false);
  });
}

/// Reduces all of |x| to a 0-d tensor.
static Value reduceAll(OpBuilder &b, Location loc, Value x, Value init,
                       llvm::function_ref<Value(OpBuilder &, Location, Value, Value)> fn) {
  auto xT = cast<RankedTensorType>(x.getType());
  int64_t rank = xT.getRank();
  auto outT = RankedTensorType::get({}, xT.getElementType());
  Value acc = linalg::FillOp::create(
                  b, loc, init,
                  tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, xT.getElementType())
                      .getResult())
                  .getResult(0);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, {}, b.getContext())};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::reduction);
  return linalg::GenericOp::create(b, loc, outT, x, acc, maps, iters,
                                   [&](OpBuilder &nb, Location l, ValueRange a) {
                                     linalg::YieldOp::create(nb, l, fn(nb, l, a[1], a[0]));
                                   })
      .getResult(0);
}

/// DynamicQuantizeLinear's scale and (float, rounded) zero point of |x|.
static std::pair<Value, Value> dynamicQuantParams(OpBuilder &b, Location loc, Value x) {
  Type f32 = b.getF32Type();
  Value zero = floatCst(b, loc, f32, 0.0);
  Value maxT = reduceAll(b, loc, x, zero, [](OpBuilder &nb, Location l, Value a, Value v) {
    return arith::MaximumFOp::create(nb, l, a, v).getResult();
  });
  Value minT = reduceAll(b, loc, x, zero, [](OpBuilder &nb, Location l, Value a, Value v) {
    return arith::MinimumFOp::create(nb, l, a, v).getResult();
  });
  // The reductions start at 0, so they are max(0, max x) and min(0, min x).
  Value maxV = tensor::ExtractOp::create(b, loc, maxT, ValueRange{});
  Value minV = tensor::ExtractOp::create(b, loc, minT, ValueRange{});
  Value range = arith::SubFOp::create(b, loc, maxV, minV);
  Value same = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, maxV, minV);
  range = arith::SelectOp::create(b, loc, same, floatCst(b, loc, f32, 1.0), range);
  Value scale = arith::DivFOp::create(b, loc, range, floatCst(b, loc, f32, 255.0));
  Value zpF = arith::SubFOp::create(b, loc, zero, arith::DivFOp::create(b, loc, minV, scale));
  zpF = arith::MinNumFOp::create(b, loc,
                                 arith::MaxNumFOp::create(b, loc, zpF, zero),
                                 floatCst(b, loc, f32, 255.0));
  zpF = math::RoundEvenOp::create(b, loc, zpF);
  return {scale, zpF};
}

static FailureOr<SmallVector<Value>> lowerDynamicQuantizeLinear(Operation *raw,
                                                                LowerCtx &ctx) {
  auto op = cast<onnx::DynamicQuantizeLinearOp>(raw);
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getX();
  Type f32 = b.getF32Type(), u8 = b.getIntegerType(8);
  // Plain names: lambdas capture them (C++17 cannot capture structured
  // bindings).
  auto params = dynamicQuantParams(b, loc, x);
  Value scale = params.first, zpF = params.second;
  Value zpI = arith::FPToUIOp::create(b, loc, u8, zpF);
  auto yT = cast<RankedTensorType>(op.getY().getType());
  Value y = mapOver(b, loc, x, yT, [&](OpBuilder &nb, Location l, Value v) {
    Value q = arith::DivFOp::create(nb, l, v, scale);
    return saturateToInt(nb, l, q, zpF, u8, /*isUnsigned=*/true);
  });
  Value scaleT = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({}, f32), ValueRange{scale});
  Value zpT = tensor::FromElementsOp::create(b, loc, RankedTensorType::get({}, u8),
                                             ValueRange{zpI});
  return SmallVector<Value>{y, scaleT, zpT};
}

/// |x| widened to int32 minus its zero point: a scalar, or a 1-D tensor
/// indexed by dimension |zpDim| of |x| (a row of A or a column of B).
static Value centered(OpBuilder &b, Location loc, Value x, bool xU, Value zp, bool zpU,
                      int64_t zpDim) {
  auto xT = cast<RankedTensorType>(x.getType());
  auto rT = xT.clone(b.getI32Type());
  QuantParam p = quantParam(zp, zpU, zpDim, 0, xT.getRank());
  return mapOver(b, loc, x, rT, [&](OpBuilder &nb, Location l, Value v) {
    Value w = toI32(nb, l, v, xU);
    if (!zp)
      return w;
    return arith::SubIOp::create(nb, l, w, toI32(nb, l, p.read(nb, l), zpU)).getResult();
  });
}

static Value integerMatMul(OpBuilder &b, Location loc, LowerCtx &ctx, Value A, Value azp,
                           Value B, Value bzp, RankedTensorType accT) {
  auto aT = cast<RankedTensorType>(A.getType());
  auto bT = cast<RankedTensorType>(B.getType());
  Value a32 = centered(b, loc, A, ctx.isUnsigned(A), azp, azp && ctx.isUnsigned(azp),
                       std::max<int64_t>(aT.getRank() - 2, 0));
  Value b32 = centered(b, loc, B, ctx.isUnsigned(B), bzp, bzp && ctx.isUnsigned(bzp),
                       bT.getRank() - 1);
  return buildMatMul(b, loc, a32, b32, accT);
}

static FailureOr<Value> lowerMatMulInteger(onnx::MatMulIntegerOp op, LowerCtx &ctx) {
  return integerMatMul(ctx.b, op.getLoc(), ctx, op.getA(), op.getAZeroPoint(), op.getB(),
                       op.getBZeroPoint(), cast<RankedTensorType>(op.getY().getType()));
}

static FailureOr<Value> lowerQLinearMatMul(onnx::QLinearMatMulOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto rT = cast<RankedTensorType>(op.getY().getType());
  int64_t rank = rT.getRank();
  auto accT = rT.clone(b.getI32Type());
  Value acc = integerMatMul(b, loc, ctx, op.getA(), op.getAZeroPoint(), op.getB(),
                            op.getBZeroPoint(), accT);
  auto aT = cast<RankedTensorType>(op.getA().getType());
  auto bT = cast<RankedTensorType>(op.getB().getType());
  // a_scale per row of the result, b_scale per column.
  QuantParam as = quantParam(op.getAScale(), false, aT.getRank() >= 2 ? rank - 2 : -1, 0, rank);
  QuantParam bs = quantParam(op.getBScale(), false, bT.getRank() >= 2 ? rank - 1 : -1, 0, rank);
  QuantParam ys = quantParam(op.getYScale(), false, -1, 0, rank);
  QuantParam yzp = quantParam(op.getYZeroPoint(), ctx.isUnsigned(op.getYZeroPoint()), -1,
                              0, rank);
  bool outU = ctx.unsignedResults[0];
  Type st = getElementTypeOrSelf(op.getAScale());
  Type f64 = b.getF64Type();
  return mapOver(b, loc, acc, rT, [&](OpBuilder &nb, Location l, Value c) {
    // As ONNX's reference: the multiplier in the scales' type, the rest in
    // double precision (int32 * float promotes to float64 in numpy).
    Value m = arith::DivFOp::create(
        nb, l, arith::MulFOp::create(nb, l, as.read(nb, l), toFloat(nb, l, bs.read(nb, l), st, false)),
        toFloat(nb, l, ys.read(nb, l), st, false));
    Value d = arith::MulFOp::create(nb, l, toFloat(nb, l, c, f64, false),
                                    toFloat(nb, l, m, f64, false));
    Value z = toFloat(nb, l, yzp.read(nb, l), f64, yzp.isUnsigned);
    return saturateToInt(nb, l, d, z, rT.getElementType(), outU, /*zpFirst=*/true);
  });
}

/// Rows of A up to which 4-bit MatMulNBits with int8 activations takes
/// the packed int8 GEMV (past them, the float GEMM on A's int8 codes).
static constexpr int64_t kMaxPackedRows = 64;

/// com.microsoft.MatMulNBits. Decoding (a few rows) with 4-bit weights in
/// blocks of a multiple of 32 reads the packed weights once, dequantizing
/// in registers; otherwise the weight is unpacked to a [K, N] tensor of A's
/// type, then one matmul (+ bias).
Value sparsa::lowering::buildBlockQuantMatMul(OpBuilder &b, Location loc, Value Ain,
                                              const BlockQuant &q, RankedTensorType rT) {
  int64_t K = q.K, N = q.N, bits = q.bits, bs = q.bs;
  int64_t kBlocks = llvm::divideCeil(K, bs);
  Type elt = rT.getElementType(), f32 = b.getF32Type(), i32 = b.getI32Type();
  Value B = q.B, scales = q.scales, zp = q.zp;
  bool packedZp = zp && getElementTypeOrSelf(zp).isInteger(8);
  auto i32c = [&](OpBuilder &nb, Location l, int64_t v) -> Value {
    return arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(v));
  };
  // Reads |t| (2-D [N, cols] or flat) at row n, column c.
  auto at = [&](OpBuilder &nb, Location l, Value t, Value n, Value c, int64_t cols) {
    auto tT = cast<RankedTensorType>(t.getType());
    if (tT.getRank() == 2)
      return tensor::ExtractOp::create(nb, l, t, ValueRange{n, c}).getResult();
    Value flat = arith::AddIOp::create(
        nb, l, arith::MulIOp::create(nb, l, n, indexCst(nb, l, cols)), c);
    SmallVector<Value> idx(tT.getRank(), indexCst(nb, l, 0));
    idx.back() = flat;
    return tensor::ExtractOp::create(nb, l, t, idx).getResult();
  };
  // Bits [shift, shift + bits) of byte |v| as an int32.
  auto field = [&](OpBuilder &nb, Location l, Value byte, Value shift) {
    Value v = arith::ExtUIOp::create(nb, l, i32, byte);
    v = arith::ShRUIOp::create(nb, l, v, shift);
    return arith::AndIOp::create(nb, l, v, i32c(nb, l, (1 << bits) - 1)).getResult();
  };
  // The zero point of block |blk| of row |n| as f32.
  auto zeroPoint = [&](OpBuilder &nb, Location l, Value n, Value blk) -> Value {
    if (!zp)
      return floatCst(nb, l, f32, double(1 << (bits - 1)));
    if (packedZp) {
      Value zbit = arith::MulIOp::create(nb, l, blk, indexCst(nb, l, bits));
      Value zbyte = arith::DivUIOp::create(nb, l, zbit, indexCst(nb, l, 8));
      Value zshift = arith::IndexCastOp::create(
          nb, l, i32, arith::RemUIOp::create(nb, l, zbit, indexCst(nb, l, 8)));
      int64_t zCols = llvm::divideCeil(kBlocks * bits, 8);
      return arith::SIToFPOp::create(nb, l, f32,
                                     field(nb, l, at(nb, l, zp, n, zbyte, zCols), zshift));
    }
    return toFloat(nb, l, at(nb, l, zp, n, blk, kBlocks), f32, false);
  };
  // A as [M, K].
  Value A = Ain;
  auto aT = cast<RankedTensorType>(A.getType());
  if (aT.getRank() > 2) {
    ReassociationIndices lead;
    for (int64_t i = 0; i + 1 < aT.getRank(); ++i)
      lead.push_back(i);
    A = tensor::CollapseShapeOp::create(
        b, loc, A, SmallVector<ReassociationIndices>{lead, {aT.getRank() - 1}});
  } else if (aT.getRank() == 1) {
    A = tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get({1, K}, aT.getElementType()),
                                      A, SmallVector<ReassociationIndices>{{0, 1}});
  }
  OpFoldResult M = tensor::getMixedSize(b, loc, A, 0);
  auto y2T = RankedTensorType::get({getConstantIntValue(M).value_or(ShapedType::kDynamic), N},
                                   elt);
  // Reference: the weight unpacked to [K, N] of A's type, then a matmul.
  GenericBuilder G0{b, loc, f32};
  // int8 activations: each row's block b of A as i8 codes round(a * 127 /
  // max|a|) and the block's scale max|a| / 127 (0 for an all-zero block).
  auto blockAbsMax = [&]() {
    // A zero-padded to whole blocks, viewed [M, blocks, bs].
    int64_t Kp = kBlocks * bs;
    Value Ap = A;
    if (Kp != K) {
      SmallVector<OpFoldResult> lo = {b.getIndexAttr(0), b.getIndexAttr(0)};
      SmallVector<OpFoldResult> hi = {b.getIndexAttr(0), b.getIndexAttr(Kp - K)};
      auto aT2 = cast<RankedTensorType>(A.getType());
      auto pT = RankedTensorType::get({aT2.getDimSize(0), Kp}, f32);
      Ap = tensor::PadOp::create(b, loc, pT, A, lo, hi, zeroOf(b, loc, f32));
    }
    auto apT = cast<RankedTensorType>(Ap.getType());
    Value A3 = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({apT.getDimSize(0), kBlocks, bs}, f32), Ap,
        SmallVector<ReassociationIndices>{{0}, {1, 2}});
    // max |a| on the bit patterns: |a|'s bits order as unsigned integers
    // the way the values do, and any NaN's above +inf's, so the integer
    // max keeps a NaN (the float max with NaN propagation does not
    // vectorize as a reduction: it was ~20 % of a small GEMV's call).
    Value bitsMax = G0.generic(
        ValueRange{A3}, {{0, 1, 2}},
        G0.filled({M, b.getIndexAttr(kBlocks)}, i32, i32c(b, loc, 0)), {0, 1}, 3, {2},
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value bits = arith::BitcastOp::create(nb, l, i32, a[0]);
          bits = arith::AndIOp::create(nb, l, bits, i32c(nb, l, 0x7fffffff));
          return arith::MaxUIOp::create(nb, l, a.back(), bits);
        });
    return G0.generic(ValueRange{bitsMax}, {{0, 1}},
                      G0.empty({M, b.getIndexAttr(kBlocks)}, f32), {0, 1}, 2, {},
                      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                        return arith::BitcastOp::create(nb, l, f32, a[0]);
                      });
  };
  // The i8 code of A[m, k] (0 past K) given the block absmax tensor.
  auto code = [&](OpBuilder &nb, Location l, Value amax, Value m, Value k) -> Value {
    Value inside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, k, indexCst(nb, l, K));
    Value kc = arith::MinUIOp::create(nb, l, k, indexCst(nb, l, K - 1));
    Value blk = arith::DivUIOp::create(nb, l, kc, indexCst(nb, l, bs));
    Value mx = tensor::ExtractOp::create(nb, l, amax, ValueRange{m, blk});
    Value pos = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, mx, zeroOf(nb, l, f32));
    Value inv = arith::SelectOp::create(
        nb, l, pos, arith::DivFOp::create(nb, l, floatCst(nb, l, f32, 127.0), mx),
        zeroOf(nb, l, f32));
    Value v = tensor::ExtractOp::create(nb, l, A, ValueRange{m, kc});
    Value r = math::RoundEvenOp::create(nb, l, arith::MulFOp::create(nb, l, v, inv));
    r = arith::MinNumFOp::create(nb, l, arith::MaxNumFOp::create(nb, l, r, floatCst(nb, l, f32, -127.0)),
                                 floatCst(nb, l, f32, 127.0));
    r = arith::SelectOp::create(nb, l, inside, r, zeroOf(nb, l, f32));
    return arith::FPToSIOp::create(nb, l, b.getIntegerType(8), r);
  };
  // int8 activations for the float kernels: A's codes dequantized, so
  // the same products run in f32.
  auto int8RoundTrip = [&]() -> Value {
    Value amax = blockAbsMax();
    auto aT2 = cast<RankedTensorType>(A.getType());
    Value Aq = G0.generic(ValueRange{}, {}, G0.empty({M, b.getIndexAttr(K)}, f32), {0, 1}, 2, {},
                          [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                            Value m = linalg::IndexOp::create(nb, l, 0);
                            Value k = linalg::IndexOp::create(nb, l, 1);
                            Value c = arith::SIToFPOp::create(nb, l, f32, code(nb, l, amax, m, k));
                            Value blk = arith::DivUIOp::create(nb, l, k, indexCst(nb, l, bs));
                            Value mx = tensor::ExtractOp::create(nb, l, amax, ValueRange{m, blk});
                            return arith::MulFOp::create(
                                nb, l, c,
                                arith::DivFOp::create(nb, l, mx, floatCst(nb, l, f32, 127.0)));
                          });
    if (Aq.getType() != aT2)
      Aq = tensor::CastOp::create(b, loc, aT2, Aq);
    return Aq;
  };
  auto reference = [&]() -> Value {
    Value Aq = q.int8 ? int8RoundTrip() : A;
    // Unpacked in tiles of kTileN columns (loops column tile, k, column):
    // the tile's rows of codes stay in L1 while k runs (a plain [K, N]
    // loop nest reads each code byte from another row, N rows apart).
    constexpr int64_t kTileN = 16;
    bool tiled = N % kTileN == 0;
    auto wT = tiled ? RankedTensorType::get({K, N / kTileN, kTileN}, elt)
                    : RankedTensorType::get({K, N}, elt);
    Value empty = tensor::EmptyOp::create(b, loc, wT.getShape(), elt);
    MLIRContext *ctx = b.getContext();
    SmallVector<AffineMap> maps = {
        tiled ? AffineMap::get(3, 0,
                               {getAffineDimExpr(1, ctx), getAffineDimExpr(0, ctx),
                                getAffineDimExpr(2, ctx)},
                               ctx)
              : b.getMultiDimIdentityMap(2)};
    SmallVector<utils::IteratorType> iters(tiled ? 3 : 2, utils::IteratorType::parallel);
    Value W = linalg::GenericOp::create(
                  b, loc, wT, ValueRange{}, empty, maps, iters,
                  [&](OpBuilder &nb, Location l, ValueRange) {
                    Value k = linalg::IndexOp::create(nb, l, tiled ? 1 : 0);
                    Value n = tiled ? arith::AddIOp::create(
                                          nb, l,
                                          arith::MulIOp::create(nb, l,
                                                                linalg::IndexOp::create(nb, l, 0),
                                                                indexCst(nb, l, kTileN)),
                                          linalg::IndexOp::create(nb, l, 2))
                                          .getResult()
                                    : linalg::IndexOp::create(nb, l, 1).getResult();
                    Value blk = arith::DivUIOp::create(nb, l, k, indexCst(nb, l, bs));
                    Value within = arith::RemUIOp::create(nb, l, k, indexCst(nb, l, bs));
                    Value bit = arith::MulIOp::create(nb, l, within, indexCst(nb, l, bits));
                    Value byteIdx = arith::DivUIOp::create(nb, l, bit, indexCst(nb, l, 8));
                    Value shift = arith::IndexCastOp::create(
                        nb, l, i32, arith::RemUIOp::create(nb, l, bit, indexCst(nb, l, 8)));
                    Value byte = tensor::ExtractOp::create(nb, l, B, ValueRange{n, blk, byteIdx});
                    Value q = arith::SIToFPOp::create(nb, l, f32, field(nb, l, byte, shift));
                    Value z = zeroPoint(nb, l, n, blk);
                    Value s = toFloat(nb, l, at(nb, l, scales, n, blk, kBlocks), f32, false);
                    Value w = arith::MulFOp::create(nb, l, arith::SubFOp::create(nb, l, q, z), s);
                    linalg::YieldOp::create(nb, l, toFloat(nb, l, w, elt, false));
                  })
                  .getResult(0);
    if (tiled)
      W = tensor::CollapseShapeOp::create(b, loc, RankedTensorType::get({K, N}, elt), W,
                                          SmallVector<ReassociationIndices>{{0}, {1, 2}});
    return buildMatMul(b, loc, Aq, W, y2T);
  };
  // Decoding with 4-bit weights in blocks of 32k: the weights stay packed;
  // y[m, n] = sum over bytes kk of a[2kk] w_lo + a[2kk + 1] w_hi, the
  // nibbles dequantized on the fly ((q - z) s of their block). The generic
  // is tagged for the contraction kernels' packed-int4 GEMV; A's even and
  // odd columns are laid out apart once so both read as vectors.
  // 8-bit weights in blocks of 16k bytes take the same route, one byte
  // per column of A.
  bool q8 = bits == 8;
  bool q4 = (bits == 4 ? bs % 32 == 0 : bits == 8 && bs % 16 == 0) && elt.isF32() &&
            (!zp || packedZp || getElementTypeOrSelf(zp).isF32());
  // The weight operands both packed kernels read: the codes [N, Kh],
  // scales and zero points as [N, blocks] f32 (views of the constants when
  // they are f32; packed zero points were unpacked at compile time by the
  // weight preparation, else here), packed 4-bit zero points kept packed,
  // or none (a constant zero point the generic carries).
  struct WeightOperands {
    Value bq, s2, z2;
    bool zPacked;
    double zConst;
  };
  auto weightOperands = [&]() -> WeightOperands {
    GenericBuilder G{b, loc, f32};
    // Scales and zero points as [N, blocks] f32: views of the constants
    // when they are f32 (packed zero points were unpacked at compile time
    // by the weight preparation), else unpacked here; no zero point: a
    // single 8 every block reads.
    auto blocksView = [&](Value t) -> Value {
      auto tt = cast<RankedTensorType>(t.getType());
      if (tt.getRank() == 2)
        return t;
      return tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({N, kBlocks}, tt.getElementType()), t,
          SmallVector<ReassociationIndices>{{0, 1}});
    };
    auto perBlock = [&](function_ref<Value(OpBuilder &, Location, Value, Value)> f) {
      return G.generic(ValueRange{}, {}, G.empty({b.getIndexAttr(N), b.getIndexAttr(kBlocks)}, f32),
                       {0, 1}, 2, {}, [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                         return f(nb, l, linalg::IndexOp::create(nb, l, 0),
                                  linalg::IndexOp::create(nb, l, 1));
                       });
    };
    Value s2 = getElementTypeOrSelf(scales).isF32()
                   ? blocksView(scales)
                   : perBlock([&](OpBuilder &nb, Location l, Value n, Value blk) {
                       return toFloat(nb, l, at(nb, l, scales, n, blk, kBlocks), f32, false);
                     });
    Value z2;
    double zConst = double(1 << (bits - 1));
    // Packed zero points stay packed: the kernels read blocks / 2 bytes
    // (4-bit) per row instead of 4 per block.
    bool zPacked = packedZp;
    int64_t zPerRow = llvm::divideCeil(kBlocks * bits, int64_t(8));
    if (!zp)
      ; // the body's constant (sparsa.zero_point)
    else if (getElementTypeOrSelf(zp).isF32())
      z2 = blocksView(zp);
    else if (zPacked)
      z2 = cast<RankedTensorType>(zp.getType()).getRank() == 2
               ? zp
               : tensor::ExpandShapeOp::create(
                     b, loc, RankedTensorType::get({N, zPerRow}, b.getIntegerType(8)), zp,
                     SmallVector<ReassociationIndices>{{0, 1}})
                     .getResult();
    else
      z2 = perBlock([&](OpBuilder &nb, Location l, Value n, Value blk) {
        return zeroPoint(nb, l, n, blk);
      });
    Value bq = tensor::CollapseShapeOp::create(b, loc, B,
                                               SmallVector<ReassociationIndices>{{0}, {1, 2}});
    return {bq, s2, z2, zPacked, zConst};
  };
  // |gemm|: the weights still packed, for many rows of A (prefill): the
  // generic runs (n, m, kk) into C^T [N, Mp] from A^T's halves [Kh, Mp]
  // (Mp: M rounded up to 16, the padding zero), tagged q4_gemm / q8_gemm
  // for the contraction kernels' dequantize-into-L1 GEMM, then C^T is
  // transposed back. A^T makes the GEMM's vectors run along m, so each
  // weight is dequantized once per call and broadcast against 16 rows.
  auto packed = [&](bool gemm) -> Value {
    // The GEMM has no int8 kernel: int8 activations round-trip through
    // their codes and take the float GEMM.
    bool int8 = q.int8 && !gemm;
    Value src = gemm && q.int8 ? int8RoundTrip() : A;
    int64_t bb = bs * bits / 8, Kh = kBlocks * bb, stride = q8 ? 1 : 2;
    GenericBuilder G{b, loc, f32};
    Value Mv = getValueOrCreateConstantIndexOp(b, loc, M);
    OpFoldResult Mp = M;
    if (gemm)
      Mp = arith::MulIOp::create(b, loc,
                                 arith::CeilDivUIOp::create(b, loc, Mv, indexCst(b, loc, 16)),
                                 indexCst(b, loc, 16))
               .getResult();
    if (auto c = getConstantIntValue(Mp))
      Mp = b.getIndexAttr(*c);
    auto half = [&](int64_t odd) {
      auto shape = gemm ? SmallVector<OpFoldResult>{b.getIndexAttr(Kh), Mp}
                        : SmallVector<OpFoldResult>{M, b.getIndexAttr(Kh)};
      return G.generic(ValueRange{}, {}, G.empty(shape, f32), {0, 1}, 2, {},
                       [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                         Value m = linalg::IndexOp::create(nb, l, gemm ? 1 : 0);
                         Value kk = linalg::IndexOp::create(nb, l, gemm ? 0 : 1);
                         Value k = arith::AddIOp::create(
                             nb, l, arith::MulIOp::create(nb, l, kk, indexCst(nb, l, stride)),
                             indexCst(nb, l, odd));
                         Value inside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, k,
                                                              indexCst(nb, l, K));
                         Value kc = arith::MinUIOp::create(nb, l, k, indexCst(nb, l, K - 1));
                         Value mc = m;
                         if (gemm) { // rows past M (padding) read as zero
                           inside = arith::AndIOp::create(
                               nb, l, inside,
                               arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, m, Mv));
                           mc = arith::MinUIOp::create(
                               nb, l, m,
                               arith::SubIOp::create(nb, l, Mv, indexCst(nb, l, 1)));
                         }
                         Value v = tensor::ExtractOp::create(nb, l, src, ValueRange{mc, kc});
                         return arith::SelectOp::create(nb, l, inside, v, zeroOf(nb, l, f32));
                       });
    };
    // int8 activations: the halves hold i8 codes.
    Value amax = int8 ? blockAbsMax() : Value();
    auto codeHalf = [&](int64_t odd) {
      GenericBuilder Gi{b, loc, b.getIntegerType(8)};
      return Gi.generic(ValueRange{}, {}, Gi.empty({M, b.getIndexAttr(Kh)}, b.getIntegerType(8)),
                        {0, 1}, 2, {}, [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                          Value m = linalg::IndexOp::create(nb, l, 0);
                          Value kk = linalg::IndexOp::create(nb, l, 1);
                          Value k = arith::AddIOp::create(
                              nb, l, arith::MulIOp::create(nb, l, kk, indexCst(nb, l, stride)),
                              indexCst(nb, l, odd));
                          return code(nb, l, amax, m, k);
                        });
    };
    Value aE = int8 ? codeHalf(0) : half(0);
    Value aO = q8 ? Value() : int8 ? codeHalf(1) : half(1);
    WeightOperands wo = weightOperands();
    Value bq = wo.bq, s2 = wo.s2, z2 = wo.z2;
    bool zPacked = wo.zPacked;
    double zConst = wo.zConst;
    MLIRContext *mctx = b.getContext();
    AffineExpr m = getAffineDimExpr(0, mctx), n = getAffineDimExpr(1, mctx),
               kk = getAffineDimExpr(2, mctx);
    auto map = [&](ArrayRef<AffineExpr> e) { return AffineMap::get(3, 0, e, mctx); };
    // A's halves: [M, Kh] (m, kk), or transposed [Kh, Mp] (kk, m).
    AffineMap aMap = gemm ? map({kk, m}) : map({m, kk});
    SmallVector<AffineMap> maps = {aMap, aMap, map({n, kk}), map({n, kk.floorDiv(bb)})};
    SmallVector<Value> ins = {aE, aO, bq, s2};
    if (q8) {
      maps.erase(maps.begin() + 1);
      ins.erase(ins.begin() + 1);
    }
    if (z2) {
      maps.push_back(zPacked ? map({n, kk.floorDiv(bb).floorDiv(8 / bits)})
                             : map({n, kk.floorDiv(bb)}));
      ins.push_back(z2);
    }
    Value asl;
    if (int8) {
      // Per 4 bytes of a row (one i32 lane of the dot products): the
      // activation scale of its block.
      int64_t lanes = llvm::divideCeil(Kh, int64_t(4));
      asl = G.generic(ValueRange{}, {}, G.empty({M, b.getIndexAttr(lanes)}, f32), {0, 1}, 2, {},
                      [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                        Value mm = linalg::IndexOp::create(nb, l, 0);
                        Value ln = linalg::IndexOp::create(nb, l, 1);
                        Value blk = arith::DivUIOp::create(
                            nb, l, arith::MulIOp::create(nb, l, ln, indexCst(nb, l, 4)),
                            indexCst(nb, l, bb));
                        Value mx = tensor::ExtractOp::create(nb, l, amax, ValueRange{mm, blk});
                        return arith::DivFOp::create(nb, l, mx, floatCst(nb, l, f32, 127.0));
                      });
      maps.push_back(map({m, kk.floorDiv(4)}));
      ins.push_back(asl);
    }
    maps.push_back(gemm ? map({n, m}) : map({m, n}));
    SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                              utils::IteratorType::parallel,
                                              utils::IteratorType::reduction};
    Value init = gemm ? G.filled({b.getIndexAttr(N), Mp}, f32, zeroOf(b, loc, f32))
                      : G.filled({M, b.getIndexAttr(N)}, f32, zeroOf(b, loc, f32));
    auto gemv = linalg::GenericOp::create(
        b, loc, init.getType(), ins, init, maps, iters,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          SmallVector<Value> v(args);
          if (q8) { // no odd half
            v.insert(v.begin() + 1, Value());
          }
          if (z2 && zPacked) { // the block's field of the packed byte
            Value kIdx = linalg::IndexOp::create(nb, l, 2);
            Value blk = arith::DivUIOp::create(nb, l, kIdx, indexCst(nb, l, bb));
            Value sh = arith::MulIOp::create(
                nb, l, arith::RemUIOp::create(nb, l, blk, indexCst(nb, l, 8 / bits)),
                indexCst(nb, l, bits));
            Value zb = arith::ExtUIOp::create(nb, l, i32, v[4]);
            zb = arith::ShRUIOp::create(nb, l, zb, arith::IndexCastOp::create(nb, l, i32, sh));
            zb = arith::AndIOp::create(nb, l, zb, i32c(nb, l, (1 << bits) - 1));
            v[4] = arith::UIToFPOp::create(nb, l, f32, zb);
          }
          if (!z2) // the zero point, then the accumulator
            v.insert(v.begin() + 4, floatCst(nb, l, f32, zConst));
          Value byte = arith::ExtUIOp::create(nb, l, i32, v[2]);
          if (int8) {
            // v: codes even, odd, byte, scale, zero point, lane scale, acc;
            // (codes . (q - z)) * scale * activation scale.
            auto term = [&](Value c, Value qv) {
              return arith::MulFOp::create(nb, l, arith::SIToFPOp::create(nb, l, f32, c),
                                           arith::SubFOp::create(nb, l, qv, v[4]));
            };
            Value dot;
            if (q8) {
              dot = term(v[0], arith::UIToFPOp::create(nb, l, f32, byte));
            } else {
              Value lo = arith::UIToFPOp::create(
                  nb, l, f32, arith::AndIOp::create(nb, l, byte, i32c(nb, l, 15)));
              Value hi = arith::UIToFPOp::create(
                  nb, l, f32, arith::ShRUIOp::create(nb, l, byte, i32c(nb, l, 4)));
              dot = arith::AddFOp::create(nb, l, term(v[0], lo), term(v[1], hi));
            }
            Value sc = arith::MulFOp::create(nb, l, v[3], v[5]);
            Value sum = arith::AddFOp::create(nb, l, v[6], arith::MulFOp::create(nb, l, dot, sc));
            linalg::YieldOp::create(nb, l, sum);
            return;
          }
          if (q8) {
            Value w = arith::MulFOp::create(
                nb, l,
                arith::SubFOp::create(nb, l, arith::UIToFPOp::create(nb, l, f32, byte), v[4]),
                v[3]);
            Value sum = arith::AddFOp::create(nb, l, v[5], arith::MulFOp::create(nb, l, v[0], w));
            linalg::YieldOp::create(nb, l, sum);
            return;
          }
          Value lo = arith::UIToFPOp::create(
              nb, l, f32, arith::AndIOp::create(nb, l, byte, i32c(nb, l, 15)));
          Value hi = arith::UIToFPOp::create(
              nb, l, f32, arith::ShRUIOp::create(nb, l, byte, i32c(nb, l, 4)));
          Value wlo = arith::MulFOp::create(nb, l, arith::SubFOp::create(nb, l, lo, v[4]), v[3]);
          Value whi = arith::MulFOp::create(nb, l, arith::SubFOp::create(nb, l, hi, v[4]), v[3]);
          Value acc = arith::AddFOp::create(nb, l, v[5], arith::MulFOp::create(nb, l, v[0], wlo));
          acc = arith::AddFOp::create(nb, l, acc, arith::MulFOp::create(nb, l, v[1], whi));
          linalg::YieldOp::create(nb, l, acc);
        });
    StringRef tag = int8 ? (q8 ? "q8_vnni" : "q4_vnni")
                    : gemm ? (q8 ? "q8_gemm" : "q4_gemm")
                           : (q8 ? "q8_gemv" : "q4_gemv");
    gemv->setAttr(::sparsa::sparsa::kKernelAttrName, b.getStringAttr(tag));
    gemv->setAttr(::sparsa::sparsa::kBlockBytesAttrName, b.getI64IntegerAttr(bb));
    if (!z2)
      gemv->setAttr(::sparsa::sparsa::kZeroPointAttrName, b.getF32FloatAttr(zConst));
    if (z2 && zPacked)
      gemv->setAttr(::sparsa::sparsa::kPackedZeroPointsAttrName, b.getI64IntegerAttr(bits));
    if (!gemm)
      return gemv.getResult(0);
    // C^T [N, Mp] back to [M, N].
    Value ct = gemv.getResult(0);
    return G.generic(ValueRange{}, {}, G.empty({M, b.getIndexAttr(N)}, f32), {0, 1}, 2, {},
                     [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                       Value mi = linalg::IndexOp::create(nb, l, 0);
                       Value ni = linalg::IndexOp::create(nb, l, 1);
                       return tensor::ExtractOp::create(nb, l, ct, ValueRange{ni, mi});
                     });
  };
  Value y2;
  std::optional<int64_t> staticM = getConstantIntValue(M);
  // Rows past q.gemvRows take the packed GEMM (past kMaxPackedRows with
  // int8 activations: their GEMV's int8 dot products stay ahead longer).
  int64_t gemvRows = q.int8 ? kMaxPackedRows : q.gemvRows;
  auto manyRows = [&]() { return packed(/*gemm=*/true); };
  // A target that multiplies int8 matrices itself (GPU tensor cores, a
  // CPU with VNNI) gets the int8 generic at every row count; its kernels
  // pick the rows' path.
  bool int8Matrices = q.int8 && q.int8Matrices;
  if (!q4) {
    y2 = reference();
  } else if (int8Matrices) {
    y2 = packed(/*gemm=*/false);
  } else if (staticM) {
    y2 = *staticM <= gemvRows ? packed(/*gemm=*/false) : manyRows();
  } else {
    // Rows known at run time: a few (decoding) take the GEMV, more the
    // GEMM (or the unpacked weights).
    Value few = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule,
                                      getValueOrCreateConstantIndexOp(b, loc, M),
                                      indexCst(b, loc, gemvRows));
    auto branch = [&](function_ref<Value()> build) {
      return [&, build](OpBuilder &nb, Location) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value v = build();
        if (v.getType() != y2T)
          v = tensor::CastOp::create(b, loc, y2T, v);
        scf::YieldOp::create(b, loc, v);
      };
    };
    auto ifOp = scf::IfOp::create(b, loc, few, branch([&] { return packed(/*gemm=*/false); }),
                                  branch(manyRows));
    y2 = ifOp.getResult(0);
  }
  // Back to A's leading dims.
  Value y = y2;
  if (rT.getRank() != 2) {
    SmallVector<Value> dims;
    for (int64_t i = 0; i + 1 < rT.getRank(); ++i)
      dims.push_back(dimOf(b, loc, Ain, i));
    dims.push_back(indexCst(b, loc, N));
    y = reshapeTo(b, loc, y2, rT, dims);
  } else if (y.getType() != rT) {
    y = tensor::CastOp::create(b, loc, rT, y);
  }
  if (q.bias)
    y = buildElementwise(b, loc, ValueRange{y, q.bias}, rT,
                         [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                           return arith::AddFOp::create(nb, l, a[0], a[1]);
                         });
  return y;
}

static FailureOr<Value> lowerMatMulNBits(onnx::MatMulNBitsOp op, LowerCtx &ctx) {
  BlockQuant q{op.getB(), op.getScales(), op.getZeroPoints(), op.getBias(),
               op.getK(),  op.getN(),      op.getBits(),       op.getBlockSize()};
  return buildBlockQuantMatMul(ctx.b, op.getLoc(), op.getA(), q,
                               cast<RankedTensorType>(op.getY().getType()));
}


/// The activation of a sparsa.quant_matmul: |x| times its input scales,
/// plus its noise, fake-quantized per tensor for `qdq`.
static Value quantMatMulActivation(sp::QuantMatMulOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getInput();
  Value is = op.getInputScales(), noise = op.getInputNoise();
  bool qdq = op.getActivation() == "qdq";
  if (!is && !noise && !qdq)
    return x;
  auto xT = cast<RankedTensorType>(x.getType());
  int64_t rank = xT.getRank();
  Type f32 = b.getF32Type(), elt = xT.getElementType();
  SmallVector<Value> ins = {x};
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  AffineMap last = AffineMap::get(rank, 0, b.getAffineDimExpr(rank - 1));
  for (Value v : {is, noise})
    if (v) {
      ins.push_back(v);
      maps.push_back(last);
    }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value azp = op.getActZeroPoint();
  bool zpU = !azp || ctx.isUnsigned(azp);
  Type qT = azp ? getElementTypeOrSelf(azp) : b.getIntegerType(8);
  auto scalarOf = [&](OpBuilder &nb, Location l, Value t) {
    auto tt = cast<RankedTensorType>(t.getType());
    SmallVector<Value> idx(tt.getRank(), indexCst(nb, l, 0));
    return tensor::ExtractOp::create(nb, l, t, idx).getResult();
  };
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, xT, ins, createEmptyLike(b, loc, xT, x), maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value v = a[0];
               unsigned i = 1;
               if (is)
                 v = arith::MulFOp::create(nb, l, v, a[i++]);
               if (noise)
                 v = arith::AddFOp::create(nb, l, v, a[i++]);
               if (qdq) {
                 Value s = toFloat(nb, l, scalarOf(nb, l, op.getActScale()), f32, false);
                 Value z = azp ? toFloat(nb, l, scalarOf(nb, l, azp), f32, zpU)
                               : floatCst(nb, l, f32, 0.0);
                 Value d = arith::DivFOp::create(nb, l, toFloat(nb, l, v, f32, false), s);
                 Value qv = saturateToInt(nb, l, d, z, qT, zpU);
                 v = arith::MulFOp::create(
                     nb, l, arith::SubFOp::create(nb, l, toFloat(nb, l, qv, f32, zpU), z), s);
                 v = toFloat(nb, l, v, elt, false);
               }
               linalg::YieldOp::create(nb, l, v);
             })
      .getResult(0);
}

/// float(acc) * (x_scale * scales[n]) (+ bias), back to the input's
/// leading dims: the end of the `dynamic` activation path.
static Value dynamicRescale(OpBuilder &b, Location loc, sp::QuantMatMulOp op, Value acc,
                            OpFoldResult M, Value xs, Value x) {
  int64_t N = op.getN();
  auto rT = cast<RankedTensorType>(op.getType());
  Type f32 = b.getF32Type();
  // Rescale, add the bias, back to the input's leading dims.
  Value sc = op.getScales();
  auto sT = cast<RankedTensorType>(sc.getType());
  if (sT.getRank() == 2)
    sc = tensor::CollapseShapeOp::create(b, loc, sc, SmallVector<ReassociationIndices>{{0, 1}});
  auto y2T = RankedTensorType::get({getConstantIntValue(M).value_or(ShapedType::kDynamic), N},
                                   rT.getElementType());
  SmallVector<Value> rins = {acc, sc};
  AffineMap id2 = b.getMultiDimIdentityMap(2);
  AffineMap col = AffineMap::get(2, 0, b.getAffineDimExpr(1));
  SmallVector<AffineMap> rmaps = {id2, col};
  if (op.getBias()) {
    rins.push_back(op.getBias());
    rmaps.push_back(col);
  }
  rmaps.push_back(id2);
  SmallVector<OpFoldResult> ySizes = {M, b.getIndexAttr(N)};
  Value yEmpty = tensor::EmptyOp::create(b, loc, ySizes, rT.getElementType());
  Value y2 = linalg::GenericOp::create(
                 b, loc, yEmpty.getType(), rins, yEmpty, rmaps,
                 SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   Value sn = toFloat(nb, l, a[1], f32, false);
                   Value v = arith::MulFOp::create(nb, l, arith::SIToFPOp::create(nb, l, f32, a[0]),
                                                   arith::MulFOp::create(nb, l, xs, sn));
                   v = toFloat(nb, l, v, rT.getElementType(), false);
                   if (op.getBias())
                     v = arith::AddFOp::create(nb, l, v, a[2]);
                   linalg::YieldOp::create(nb, l, v);
                 })
                 .getResult(0);
  if (y2.getType() != y2T)
    y2 = tensor::CastOp::create(b, loc, y2T, y2);
  if (rT.getRank() == 2)
    return y2.getType() == rT ? y2 : tensor::CastOp::create(b, loc, rT, y2).getResult();
  SmallVector<Value> dims;
  for (int64_t i = 0; i + 1 < rT.getRank(); ++i)
    dims.push_back(dimOf(b, loc, x, i));
  dims.push_back(indexCst(b, loc, N));
  return reshapeTo(b, loc, y2, rT, dims);
}

/// |v| through the casts that make unsigned tensors signless.
static Value skipCasts(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!isa<tensor::BitcastOp, UnrealizedConversionCastOp>(def) || def->getNumOperands() != 1)
      break;
    v = def->getOperand(0);
  }
  return v;
}

/// `dynamic` activation: A quantized per tensor to uint8 as
/// DynamicQuantizeLinear does; exact int32 products with the unpacked
/// weight codes; then float(acc) * (x_scale * scale[n]) (+ bias).
static Value dynamicQuantMatMul(sp::QuantMatMulOp op, Value x, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  int64_t K = op.getK(), N = op.getN(), bits = op.getBits();
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), u8 = b.getIntegerType(8);
  auto params = dynamicQuantParams(b, loc, x);
  Value xs = params.first, xzF = params.second;
  // x as [M, K] of centered int32 codes.
  auto xT = cast<RankedTensorType>(x.getType());
  Value x2 = x;
  if (xT.getRank() != 2) {
    ReassociationIndices lead;
    for (int64_t i = 0; i + 1 < xT.getRank(); ++i)
      lead.push_back(i);
    if (xT.getRank() == 1)
      x2 = tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get({1, K}, f32), x,
                                         SmallVector<ReassociationIndices>{{0, 1}});
    else
      x2 = tensor::CollapseShapeOp::create(
          b, loc, x, SmallVector<ReassociationIndices>{lead, {xT.getRank() - 1}});
  }
  auto x2T = cast<RankedTensorType>(x2.getType());
  Value xc = mapOver(b, loc, x2, x2T.clone(i32), [&](OpBuilder &nb, Location l, Value v) {
    Value q = saturateToInt(nb, l, arith::DivFOp::create(nb, l, v, xs), xzF, u8, true);
    return arith::SubIOp::create(nb, l, arith::ExtUIOp::create(nb, l, i32, q),
                                 arith::FPToSIOp::create(nb, l, i32, xzF))
        .getResult();
  });
  // Weight bytes as [N, bytes]; one block, so the zero point is per row.
  Value bq = tensor::CollapseShapeOp::create(b, loc, op.getWeight(),
                                             SmallVector<ReassociationIndices>{{0}, {1, 2}});
  Value zp = op.getZeroPoints();
  MLIRContext *mctx = b.getContext();
  AffineExpr m = getAffineDimExpr(0, mctx), n = getAffineDimExpr(1, mctx),
             k = getAffineDimExpr(2, mctx);
  auto map = [&](ArrayRef<AffineExpr> e) { return AffineMap::get(3, 0, e, mctx); };
  if (bits == 8) {
    // 8-bit weights: A's uint8 codes, its zero point as an operand, tagged
    // for the contraction kernels' VNNI GEMV (`q8_dyn`):
    // acc[m, n] += (x_q - x_zp) * (q - z).
    Value xq = mapOver(b, loc, x2, x2T.clone(b.getIntegerType(8)),
                       [&](OpBuilder &nb, Location l, Value v) {
                         return saturateToInt(nb, l, arith::DivFOp::create(nb, l, v, xs), xzF,
                                              u8, true);
                       });
    Value xzT = tensor::FromElementsOp::create(
        b, loc, RankedTensorType::get({1}, i32),
        ValueRange{arith::FPToSIOp::create(b, loc, i32, xzF)});
    Value bqK = bq;
    if (cast<RankedTensorType>(bq.getType()).getDimSize(1) != K)
      bqK = tensor::ExtractSliceOp::create(
          b, loc, bq, SmallVector<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
          SmallVector<OpFoldResult>{b.getIndexAttr(N), b.getIndexAttr(K)},
          SmallVector<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    SmallVector<Value> dins = {xq, bqK};
    SmallVector<AffineMap> dmaps = {map({m, k}), map({n, k})};
    // One zero point for every row (per-tensor weights): a constant of the
    // body, stated on the op for the kernel.
    std::optional<int64_t> zUniform;
    if (!zp) {
      zUniform = 128;
    } else if (ElementsAttr za; matchPattern(skipCasts(zp), m_Constant(&za))) {
      SmallVector<char> storage;
      auto bytes = onnx::getConstantBytes(za, storage);
      if (succeeded(bytes) && !bytes->empty() &&
          llvm::all_of(*bytes, [&](char c) { return c == bytes->front(); }))
        zUniform = static_cast<uint8_t>(bytes->front());
    }
    if (zUniform)
      zp = Value();
    if (zp) {
      auto zT = cast<RankedTensorType>(zp.getType());
      dins.push_back(zp);
      dmaps.push_back(zT.getRank() == 2 ? map({n, getAffineConstantExpr(0, mctx)}) : map({n}));
    }
    dins.push_back(xzT);
    dmaps.push_back(map({getAffineConstantExpr(0, mctx)}));
    dmaps.push_back(map({m, n}));
    OpFoldResult Md = tensor::getMixedSize(b, loc, x2, 0);
    GenericBuilder Gd{b, loc, i32};
    Value initD = Gd.filled({Md, b.getIndexAttr(N)}, i32, zeroOf(b, loc, i32));
    auto dyn = linalg::GenericOp::create(
        b, loc, initD.getType(), dins, initD, dmaps,
        SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                         utils::IteratorType::parallel,
                                         utils::IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value xv = arith::SubIOp::create(nb, l, arith::ExtUIOp::create(nb, l, i32, a[0]),
                                           a[zp ? 3 : 2]);
          Value z = zp ? arith::ExtUIOp::create(nb, l, i32, a[2]).getResult()
                       : arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(*zUniform))
                             .getResult();
          Value w = arith::SubIOp::create(nb, l, arith::ExtUIOp::create(nb, l, i32, a[1]), z);
          Value sum = arith::AddIOp::create(nb, l, a.back(), arith::MulIOp::create(nb, l, xv, w));
          linalg::YieldOp::create(nb, l, sum);
        });
    dyn->setAttr(::sparsa::sparsa::kKernelAttrName, b.getStringAttr("q8_dyn"));
    if (zUniform)
      dyn->setAttr(::sparsa::sparsa::kZeroPointAttrName, b.getF32FloatAttr(float(*zUniform)));
    return dynamicRescale(b, loc, op, dyn.getResult(0), Md, xs, x);
  }
  SmallVector<Value> ins = {xc, bq};
  SmallVector<AffineMap> maps = {map({m, k}), map({n, (k * bits).floorDiv(8)})};
  if (zp) {
    auto zT = cast<RankedTensorType>(zp.getType());
    ins.push_back(zp);
    maps.push_back(zT.getRank() == 2 ? map({n, getAffineConstantExpr(0, mctx)}) : map({n}));
  }
  OpFoldResult M = tensor::getMixedSize(b, loc, x2, 0);
  GenericBuilder G{b, loc, i32};
  Value init = G.filled({M, b.getIndexAttr(N)}, i32, zeroOf(b, loc, i32));
  maps.push_back(map({m, n}));
  SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                            utils::IteratorType::parallel,
                                            utils::IteratorType::reduction};
  auto i32c = [&](OpBuilder &nb, Location l, int64_t v) -> Value {
    return arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(v));
  };
  Value acc =
      linalg::GenericOp::create(
          b, loc, init.getType(), ins, init, maps, iters,
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value kIdx = linalg::IndexOp::create(nb, l, 2);
            Value shift = arith::IndexCastOp::create(
                nb, l, i32,
                arith::RemUIOp::create(
                    nb, l, arith::MulIOp::create(nb, l, kIdx, indexCst(nb, l, bits)),
                    indexCst(nb, l, 8)));
            Value mask = i32c(nb, l, (1 << bits) - 1);
            Value w = arith::AndIOp::create(
                nb, l, arith::ShRUIOp::create(nb, l, arith::ExtUIOp::create(nb, l, i32, a[1]), shift),
                mask);
            Value z = zp ? arith::AndIOp::create(nb, l, arith::ExtUIOp::create(nb, l, i32, a[2]),
                                                 mask)
                               .getResult()
                         : i32c(nb, l, 1 << (bits - 1));
            w = arith::SubIOp::create(nb, l, w, z);
            Value prod = arith::MulIOp::create(nb, l, a[0], w);
            Value sum = arith::AddIOp::create(nb, l, a.back(), prod);
            linalg::YieldOp::create(nb, l, sum);
          })
          .getResult(0);
  return dynamicRescale(b, loc, op, acc, M, xs, x);
}

static FailureOr<Value> lowerQuantMatMul(sp::QuantMatMulOp op, LowerCtx &ctx) {
  Value a = quantMatMulActivation(op, ctx);
  if (op.getActivation() == "dynamic")
    return dynamicQuantMatMul(op, a, ctx);
  BlockQuant q{op.getWeight(),        op.getScales(),      op.getZeroPoints(),
               op.getBias(),          int64_t(op.getK()),  int64_t(op.getN()),
               int64_t(op.getBits()), int64_t(op.getBlockSize())};
  q.int8 = op.getActivation() == "int8";
  q.int8Matrices = sp::getTarget(op).getInt8Matrices();
  return buildBlockQuantMatMul(ctx.b, op.getLoc(), a, q, cast<RankedTensorType>(op.getType()));
}

void sparsa::lowering::populateQuantizationLowerings(LoweringTable &t) {
  addSingle<sp::QuantMatMulOp, lowerQuantMatMul>(t);
  addSingle<onnx::MatMulNBitsOp, lowerMatMulNBits>(t);
  addSingle<onnx::DequantizeLinearOp, lowerDequantizeLinear>(t);
  t[TypeID::get<onnx::DynamicQuantizeLinearOp>()] = lowerDynamicQuantizeLinear;
  addSingle<onnx::MatMulIntegerOp, lowerMatMulInteger>(t);
  addSingle<onnx::QLinearMatMulOp, lowerQLinearMatMul>(t);
  addSingle<onnx::QuantizeLinearOp, lowerQuantizeLinear>(t);
}
