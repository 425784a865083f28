//===- Reduction.cpp - onnx reductions and normalizations ------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers Reduce*, ArgMax, Softmax, LogSoftmax, LayerNormalization and CumSum
// to linalg.generic reductions over the requested dimensions.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace onnx = sparsa::onnx;

using CombineFn = llvm::function_ref<Value(OpBuilder &, Location, Value acc, Value x)>;

/// Reduces |input| over |axes| (sorted, unique) starting from |init|; the
/// result drops the reduced dimensions. |extra| are tensors of the result's
/// shape read alongside (a row's max or mean); |body| gets (input element,
/// extra elements..., accumulator) and returns the new accumulator.
static Value reduceWith(OpBuilder &b, Location loc, Value input, ValueRange extra,
                        ArrayRef<int64_t> axes, Value init,
                        llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  MLIRContext *ctx = b.getContext();
  auto inT = cast<RankedTensorType>(input.getType());
  int64_t rank = inT.getRank();
  SmallVector<int64_t> shape;
  SmallVector<AffineExpr> exprs;
  SmallVector<Value> dyn;
  SmallVector<utils::IteratorType> iters;
  for (int64_t i = 0; i < rank; ++i) {
    bool reduced = llvm::is_contained(axes, i);
    iters.push_back(reduced ? utils::IteratorType::reduction
                            : utils::IteratorType::parallel);
    if (reduced)
      continue;
    shape.push_back(inT.getDimSize(i));
    exprs.push_back(getAffineDimExpr(i, ctx));
    if (inT.isDynamicDim(i))
      dyn.push_back(dimOf(b, loc, input, i));
  }
  auto outT = RankedTensorType::get(shape, init.getType());
  Value empty = tensor::EmptyOp::create(b, loc, shape, init.getType(), dyn);
  Value filled = linalg::FillOp::create(b, loc, init, empty).getResult(0);
  AffineMap outMap = AffineMap::get(rank, 0, exprs, ctx);
  SmallVector<Value> ins = {input};
  llvm::append_range(ins, extra);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  maps.append(extra.size() + 1, outMap);
  return linalg::GenericOp::create(
             b, loc, outT, ins, filled, maps, iters,
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               linalg::YieldOp::create(nb, nl, body(nb, nl, a));
             })
      .getResult(0);
}

static Value reduce(OpBuilder &b, Location loc, Value input, ArrayRef<int64_t> axes,
                    Value init, CombineFn combine) {
  return reduceWith(b, loc, input, {}, axes, init,
                    [&](OpBuilder &nb, Location l, ValueRange a) {
                      return combine(nb, l, a[1], a[0]);
                    });
}

/// Broadcasts reduced tensors back over |full|'s shape in a generic whose
/// body gets (full element, reduced elements..., extra elements...); |extra|
/// are read through |extraMaps|.
static Value mapWithReduced(OpBuilder &b, Location loc, Value full, ValueRange reduced,
                            ArrayRef<int64_t> axes, Type resultElt,
                            llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body,
                            ValueRange extra = {}, ArrayRef<AffineMap> extraMaps = {}) {
  MLIRContext *ctx = b.getContext();
  auto fullT = cast<RankedTensorType>(full.getType());
  int64_t rank = fullT.getRank();
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    if (!llvm::is_contained(axes, i))
      exprs.push_back(getAffineDimExpr(i, ctx));
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<Value> ins = {full};
  llvm::append_range(ins, reduced);
  llvm::append_range(ins, extra);
  SmallVector<AffineMap> maps = {id};
  maps.append(reduced.size(), AffineMap::get(rank, 0, exprs, ctx));
  llvm::append_range(maps, extraMaps);
  maps.push_back(id);
  auto outT = fullT.clone(resultElt);
  Value empty = createEmptyLike(b, loc, outT, full);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, outT, ins, empty, maps, iters,
             [&](OpBuilder &nb, Location nl, ValueRange a) {
               linalg::YieldOp::create(nb, nl, body(nb, nl, a.drop_back()));
             })
      .getResult(0);
}

/// A floating-point accumulation the backend may reorder (so reductions
/// along the innermost dimension vectorize); ONNX does not fix the order of
/// a reduction, and ONNX Runtime's kernels reorder it too.
static Value reassocAdd(OpBuilder &b, Location l, Value acc, Value x) {
  auto fm = arith::FastMathFlagsAttr::get(
      b.getContext(), arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  return arith::AddFOp::create(b, l, acc, x, fm);
}

static Value addFn(OpBuilder &b, Location l, Value acc, Value x) {
  if (isa<FloatType>(x.getType()))
    return reassocAdd(b, l, acc, x);
  return arith::AddIOp::create(b, l, acc, x);
}

//===----------------------------------------------------------------------===//
// Softmax / LogSoftmax
//===----------------------------------------------------------------------===//

/// Three passes: the max along |axis|; the sum of exp(x - max) (reading x
/// and the max, nothing materialized in between); then exp(x - max) / sum
/// (or x - max - log(sum) for LogSoftmax). NaN-free inputs may reorder the
/// max, so it vectorizes.
template <bool Log>
static Value softmaxLike(OpBuilder &b, Location loc, Value x, int64_t axis) {
  MLIRContext *ctx = b.getContext();
  Type elt = getElementTypeOrSelf(x);
  auto fm = arith::FastMathFlagsAttr::get(
      ctx, arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  Value maxV = reduce(b, loc, x, {axis}, lowestOf(b, loc, elt, false),
                      [&](OpBuilder &nb, Location l, Value acc, Value v) -> Value {
                        return arith::MaximumFOp::create(nb, l, acc, v, fm);
                      });
  auto redT = cast<RankedTensorType>(maxV.getType());
  Value sum = reduceWith(b, loc, x, maxV, {axis}, zeroOf(b, loc, elt),
                         [&](OpBuilder &nb, Location l, ValueRange a) {
                           Value e = math::ExpOp::create(
                               nb, l, arith::SubFOp::create(nb, l, a[0], a[1]));
                           return reassocAdd(nb, l, a[2], e);
                         });
  // Per row: log(sum) for LogSoftmax, 1 / sum for Softmax (one division
  // per row instead of one per element).
  Value rowTerm = buildElementwise(b, loc, sum, redT,
                                   [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                                     if (Log)
                                       return math::LogOp::create(nb, l, a[0]);
                                     return arith::DivFOp::create(
                                         nb, l, floatCst(nb, l, elt, 1.0), a[0]);
                                   });
  return mapWithReduced(
      b, loc, x, ValueRange{maxV, rowTerm}, {axis}, elt,
      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value shifted = arith::SubFOp::create(nb, l, a[0], a[1]);
        if (Log)
          return arith::SubFOp::create(nb, l, shifted, a[2]);
        return arith::MulFOp::create(nb, l, math::ExpOp::create(nb, l, shifted), a[2]);
      },
      {}, {});
}

static FailureOr<Value> lowerSoftmax(onnx::SoftmaxOp op, LowerCtx &ctx) {
  int64_t rank = cast<RankedTensorType>(op.getType()).getRank();
  return softmaxLike<false>(ctx.b, op.getLoc(), op.getInput(),
                            normalizeAxis(op.getAxis(), rank));
}

static FailureOr<Value> lowerLogSoftmax(onnx::LogSoftmaxOp op, LowerCtx &ctx) {
  int64_t rank = cast<RankedTensorType>(op.getType()).getRank();
  return softmaxLike<true>(ctx.b, op.getLoc(), op.getInput(),
                           normalizeAxis(op.getAxis(), rank));
}

//===----------------------------------------------------------------------===//
// Reduce* and ArgMax
//===----------------------------------------------------------------------===//

/// The reduced axes of a Reduce* op, sorted; std::nullopt for "no-op".
/// Fails (without a diagnostic) when the axes are only known at run time.
static FailureOr<std::optional<SmallVector<int64_t>>>
reduceAxes(Value data, Value axes, bool noopWithEmpty) {
  int64_t rank = cast<RankedTensorType>(data.getType()).getRank();
  SmallVector<int64_t> result;
  if (axes) {
    auto axesT = cast<RankedTensorType>(axes.getType());
    bool empty = axesT.hasStaticShape() && axesT.getNumElements() == 0;
    auto values = onnx::getConstantI64Values(axes);
    if (failed(values) && !empty)
      return failure();
    if (succeeded(values))
      for (int64_t a : *values)
        result.push_back(normalizeAxis(a, rank));
  }
  if (result.empty()) {
    if (noopWithEmpty)
      return std::optional<SmallVector<int64_t>>();
    for (int64_t i = 0; i < rank; ++i)
      result.push_back(i);
  }
  llvm::sort(result);
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return std::optional<SmallVector<int64_t>>(result);
}

/// The type of |input| reduced over |axes| (unit dims where keepdims).
static RankedTensorType reducedType(RankedTensorType inT, ArrayRef<int64_t> axes,
                                    bool keepdims) {
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < inT.getRank(); ++i) {
    if (!llvm::is_contained(axes, i))
      shape.push_back(inT.getDimSize(i));
    else if (keepdims)
      shape.push_back(1);
  }
  return RankedTensorType::get(shape, inT.getElementType());
}

/// Shapes a reduced value like the op's result: unit dims where keepdims.
static Value finishReduce(OpBuilder &b, Location loc, Value reduced, Type resultType,
                          ArrayRef<int64_t> axes, bool keepdims) {
  auto rT = cast<RankedTensorType>(resultType);
  if (!keepdims)
    return reduced;
  llvm::SmallDenseSet<int64_t> unit(axes.begin(), axes.end());
  return expandUnitDims(b, loc, reduced, rT, unit);
}

/// Lowers a reduction whose axes input is read at run time: one case per
/// possible axis set (2^rank at most), chosen by scf.index_switch.
static FailureOr<Value>
reduceRuntimeAxes(Operation *op, Value data, Value axes, bool keepdims, OpBuilder &b,
                  llvm::function_ref<Value(ArrayRef<int64_t>, RankedTensorType)> build) {
  Location loc = op->getLoc();
  auto inT = cast<RankedTensorType>(data.getType());
  auto axesT = cast<RankedTensorType>(axes.getType());
  int64_t rank = inT.getRank();
  if (!axesT.hasStaticShape() || rank > 6)
    return op->emitError(op->getName().getStringRef())
               << ": run-time axes need a static axes length and a rank of at most 6",
           failure();
  int64_t k = std::min<int64_t>(axesT.getNumElements(), rank);
  auto sets = axisSubsets(rank, keepdims ? 1 : k, k);
  auto rT = cast<RankedTensorType>(op->getResult(0).getType());
  auto anyT = RankedTensorType::get(
      SmallVector<int64_t>(rT.getRank(), ShapedType::kDynamic), rT.getElementType());
  if (sets.empty() || (!keepdims && rank - k != rT.getRank()))
    return op->emitError(op->getName().getStringRef())
               << ": the axes length does not match the result rank",
           failure();
  Value v = switchOnAxes(b, loc, axes, rank, sets, anyT, [&](ArrayRef<int64_t> set) {
    return build(set, reducedType(inT, set, keepdims).clone(rT.getElementType()));
  });
  return tensor::CastOp::create(b, loc, rT, v).getResult();
}

enum class ReduceKind { Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum };

template <typename OpTy, ReduceKind Kind>
static Value buildReduce(OpTy op, LowerCtx &ctx, ArrayRef<int64_t> axes,
                         RankedTensorType resultType) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Type elt = getElementTypeOrSelf(op.getData());
  // Bool max / min are any / all: unsigned on i1.
  bool isF = isa<FloatType>(elt),
       isU = ctx.isUnsigned(op.getData()) || elt.isInteger(1);
  Value init;
  switch (Kind) {
  case ReduceKind::Sum:
  case ReduceKind::Mean:
  case ReduceKind::L1:
  case ReduceKind::L2:
  case ReduceKind::SumSquare:
  case ReduceKind::LogSum:
    init = zeroOf(b, loc, elt);
    break;
  case ReduceKind::Prod:
    init = isF ? floatCst(b, loc, elt, 1.0)
               : arith::ConstantOp::create(b, loc, elt, b.getIntegerAttr(elt, 1))
                     .getResult();
    break;
  case ReduceKind::Max:
    init = lowestOf(b, loc, elt, isU);
    break;
  case ReduceKind::Min:
    init = highestOf(b, loc, elt, isU);
    break;
  }
  Value r = reduce(b, loc, op.getData(), axes, init,
                   [&](OpBuilder &nb, Location l, Value acc, Value x) -> Value {
                     switch (Kind) {
                     case ReduceKind::Sum:
                     case ReduceKind::Mean:
                     case ReduceKind::LogSum:
                       return addFn(nb, l, acc, x);
                     case ReduceKind::L1:
                       return addFn(nb, l, acc,
                                    isF ? math::AbsFOp::create(nb, l, x).getResult()
                                        : math::AbsIOp::create(nb, l, x).getResult());
                     case ReduceKind::L2:
                     case ReduceKind::SumSquare:
                       return addFn(nb, l, acc,
                                    isF ? arith::MulFOp::create(nb, l, x, x).getResult()
                                        : arith::MulIOp::create(nb, l, x, x).getResult());
                     case ReduceKind::Prod:
                       return isF ? arith::MulFOp::create(nb, l, acc, x).getResult()
                                  : arith::MulIOp::create(nb, l, acc, x).getResult();
                     case ReduceKind::Max:
                       return isF ? arith::MaximumFOp::create(nb, l, acc, x).getResult()
                              : isU ? arith::MaxUIOp::create(nb, l, acc, x).getResult()
                                    : arith::MaxSIOp::create(nb, l, acc, x).getResult();
                     case ReduceKind::Min:
                       return isF ? arith::MinimumFOp::create(nb, l, acc, x).getResult()
                              : isU ? arith::MinUIOp::create(nb, l, acc, x).getResult()
                                    : arith::MinSIOp::create(nb, l, acc, x).getResult();
                     }
                     return Value();
                   });
  if (Kind == ReduceKind::L2 || Kind == ReduceKind::LogSum) {
    auto rT = cast<RankedTensorType>(r.getType());
    r = buildElementwise(b, loc, r, rT, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
      if (Kind == ReduceKind::L2)
        return math::SqrtOp::create(nb, l, a[0]);
      return math::LogOp::create(nb, l, a[0]);
    });
  }
  if (Kind == ReduceKind::Mean) {
    Value count = indexCst(b, loc, 1);
    for (int64_t a : axes)
      count = arith::MulIOp::create(b, loc, count, dimOf(b, loc, op.getData(), a));
    Value c = isF ? arith::SIToFPOp::create(
                        b, loc, elt,
                        arith::IndexCastOp::create(b, loc, b.getI64Type(), count))
                        .getResult()
                  : arith::IndexCastOp::create(b, loc, elt, count).getResult();
    auto rT = cast<RankedTensorType>(r.getType());
    r = buildElementwise(b, loc, r, rT, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
      return isF ? arith::DivFOp::create(nb, l, a[0], c).getResult()
                 : arith::DivSIOp::create(nb, l, a[0], c).getResult();
    });
  }
  return finishReduce(b, loc, r, resultType, axes, op.getKeepdims());
}

/// log(sum(exp(x))) as m + log(sum(exp(x - m))), m the maximum (0 where
/// it is not finite: all -inf gives log 0 = -inf, an inf gives inf).
static Value buildLogSumExp(onnx::ReduceLogSumExpOp op, LowerCtx &ctx, ArrayRef<int64_t> axes,
                            RankedTensorType resultType) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getData();
  auto inT = cast<RankedTensorType>(x.getType());
  Type elt = inT.getElementType();
  Value mx = reduce(b, loc, x, axes, lowestOf(b, loc, elt, false),
                    [&](OpBuilder &nb, Location l, Value acc, Value v) -> Value {
                      return arith::MaximumFOp::create(nb, l, acc, v);
                    });
  auto mT = cast<RankedTensorType>(mx.getType());
  mx = buildElementwise(b, loc, mx, mT, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    Value finite = arith::CmpFOp::create(
        nb, l, arith::CmpFPredicate::OLT, math::AbsFOp::create(nb, l, a[0]),
        floatCst(nb, l, elt, std::numeric_limits<double>::infinity()));
    return arith::SelectOp::create(nb, l, finite, a[0], floatCst(nb, l, elt, 0.0));
  });
  llvm::SmallDenseSet<int64_t> unit(axes.begin(), axes.end());
  Value mk = expandUnitDims(b, loc, mx, reducedType(inT, axes, true), unit);
  Value e = buildElementwise(b, loc, ValueRange{x, mk}, inT,
                             [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                               return math::ExpOp::create(
                                   nb, l, arith::SubFOp::create(nb, l, a[0], a[1]));
                             });
  Value s = reduce(b, loc, e, axes, zeroOf(b, loc, elt),
                   [&](OpBuilder &nb, Location l, Value acc, Value v) -> Value {
                     return arith::AddFOp::create(nb, l, acc, v);
                   });
  Value r = buildElementwise(b, loc, ValueRange{s, mx}, mT,
                             [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                               return arith::AddFOp::create(
                                   nb, l, math::LogOp::create(nb, l, a[0]), a[1]);
                             });
  return finishReduce(b, loc, r, resultType, axes, op.getKeepdims());
}

static FailureOr<Value> lowerLogSumExp(onnx::ReduceLogSumExpOp op, LowerCtx &ctx) {
  if (!isa<FloatType>(getElementTypeOrSelf(op.getData())))
    return op.emitError("onnx.ReduceLogSumExp: only float data is supported"), failure();
  auto axes = reduceAxes(op.getData(), op.getAxes(), op.getNoopWithEmptyAxes());
  if (failed(axes))
    return reduceRuntimeAxes(op, op.getData(), op.getAxes(), op.getKeepdims(), ctx.b,
                             [&](ArrayRef<int64_t> set, RankedTensorType t) {
                               return buildLogSumExp(op, ctx, set, t);
                             });
  if (!*axes)
    return op.getData();
  return buildLogSumExp(op, ctx, **axes, cast<RankedTensorType>(op.getType()));
}

template <typename OpTy, ReduceKind Kind>
static FailureOr<Value> lowerReduce(OpTy op, LowerCtx &ctx) {
  if ((Kind == ReduceKind::L2 || Kind == ReduceKind::LogSum) &&
      !isa<FloatType>(getElementTypeOrSelf(op.getData())))
    return op.emitError(op->getName().getStringRef()) << ": only float data is supported",
           failure();
  auto axes = reduceAxes(op.getData(), op.getAxes(), op.getNoopWithEmptyAxes());
  if (failed(axes))
    return reduceRuntimeAxes(op, op.getData(), op.getAxes(), op.getKeepdims(), ctx.b,
                             [&](ArrayRef<int64_t> set, RankedTensorType t) {
                               return buildReduce<OpTy, Kind>(op, ctx, set, t);
                             });
  if (!*axes)
    return op.getData();
  return buildReduce<OpTy, Kind>(op, ctx, **axes, cast<RankedTensorType>(op.getType()));
}

static FailureOr<Value> lowerArgMax(onnx::ArgMaxOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  MLIRContext *mctx = b.getContext();
  auto inT = cast<RankedTensorType>(op.getData().getType());
  int64_t rank = inT.getRank(), axis = normalizeAxis(op.getAxis(), rank);
  Type elt = inT.getElementType();
  bool isF = isa<FloatType>(elt), isU = ctx.isUnsigned(op.getData());
  bool last = op.getSelectLastIndex();
  SmallVector<int64_t> shape;
  SmallVector<AffineExpr> exprs;
  SmallVector<Value> dyn;
  SmallVector<utils::IteratorType> iters;
  for (int64_t i = 0; i < rank; ++i) {
    iters.push_back(i == axis ? utils::IteratorType::reduction
                              : utils::IteratorType::parallel);
    if (i == axis)
      continue;
    shape.push_back(inT.getDimSize(i));
    exprs.push_back(getAffineDimExpr(i, mctx));
    if (inT.isDynamicDim(i))
      dyn.push_back(dimOf(b, loc, op.getData(), i));
  }
  Value vInit = linalg::FillOp::create(
                    b, loc, lowestOf(b, loc, elt, isU),
                    tensor::EmptyOp::create(b, loc, shape, elt, dyn).getResult())
                    .getResult(0);
  Value iInit = linalg::FillOp::create(
                    b, loc, zeroOf(b, loc, b.getI64Type()),
                    tensor::EmptyOp::create(b, loc, shape, b.getI64Type(), dyn).getResult())
                    .getResult(0);
  AffineMap outMap = AffineMap::get(rank, 0, exprs, mctx);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{vInit.getType(), iInit.getType()}, op.getData(),
      ValueRange{vInit, iInit},
      SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank), outMap, outMap}, iters,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value x = a[0], best = a[1], bestIdx = a[2];
        Value idx = arith::IndexCastOp::create(nb, l, nb.getI64Type(),
                                               linalg::IndexOp::create(nb, l, axis));
        Value better;
        if (isF)
          better = arith::CmpFOp::create(nb, l,
                                         last ? arith::CmpFPredicate::OGE
                                              : arith::CmpFPredicate::OGT,
                                         x, best);
        else
          better = arith::CmpIOp::create(
              nb, l,
              isU ? (last ? arith::CmpIPredicate::uge : arith::CmpIPredicate::ugt)
                  : (last ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sgt),
              x, best);
        // The first element always counts (it may equal the initial lowest).
        Value first = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, idx,
                                            zeroOf(nb, l, nb.getI64Type()));
        better = arith::OrIOp::create(nb, l, better, first);
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::SelectOp::create(nb, l, better, x, best),
                              arith::SelectOp::create(nb, l, better, idx, bestIdx)});
      });
  return finishReduce(b, loc, generic.getResult(1), op.getType(), {axis},
                      op.getKeepdims());
}

//===----------------------------------------------------------------------===//
// LayerNormalization
//===----------------------------------------------------------------------===//

static FailureOr<SmallVector<Value>> lowerLayerNorm(Operation *raw, LowerCtx &ctx) {
  auto op = cast<onnx::LayerNormalizationOp>(raw);
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  MLIRContext *mctx = b.getContext();
  Value x = op.getX();
  auto xT = cast<RankedTensorType>(x.getType());
  int64_t rank = xT.getRank(), axis = normalizeAxis(op.getAxis(), rank);
  Type elt = xT.getElementType();
  // Statistics in f32 for 16-bit inputs (stash_type = 1).
  Type ct = (elt.getIntOrFloatBitWidth() < 32 && op.getStashType() == 1)
                ? Type(b.getF32Type())
                : elt;
  auto ext = [&](OpBuilder &nb, Location l, Value v) -> Value {
    return v.getType() == ct ? v : arith::ExtFOp::create(nb, l, ct, v).getResult();
  };
  SmallVector<int64_t> axes;
  for (int64_t i = axis; i < rank; ++i)
    axes.push_back(i);
  Value count = indexCst(b, loc, 1);
  for (int64_t a : axes)
    count = arith::MulIOp::create(b, loc, count, dimOf(b, loc, x, a));
  Value n = arith::SIToFPOp::create(
      b, loc, ct, arith::IndexCastOp::create(b, loc, b.getI64Type(), count));
  Value sum = reduce(b, loc, x, axes, zeroOf(b, loc, ct),
                     [&](OpBuilder &nb, Location l, Value acc, Value v) -> Value {
                       return reassocAdd(nb, l, acc, ext(nb, l, v));
                     });
  auto redT = cast<RankedTensorType>(sum.getType());
  Value mean = buildElementwise(b, loc, sum, redT, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    return arith::DivFOp::create(nb, l, a[0], n);
  });
  // Sum of squared deviations, reading x and the mean (x - mean is never
  // materialized).
  Value sq = reduceWith(b, loc, x, mean, axes, zeroOf(b, loc, ct),
                        [&](OpBuilder &nb, Location l, ValueRange a) {
                          Value d = arith::SubFOp::create(nb, l, ext(nb, l, a[0]), a[1]);
                          return reassocAdd(nb, l, a[2], arith::MulFOp::create(nb, l, d, d));
                        });
  float eps = op.getEpsilon().convertToFloat();
  Value invStd = buildElementwise(b, loc, sq, redT, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    Value var = arith::DivFOp::create(nb, l, a[0], n);
    Value s = math::SqrtOp::create(nb, l, arith::AddFOp::create(nb, l, var, floatCst(nb, l, ct, eps)));
    return arith::DivFOp::create(nb, l, floatCst(nb, l, ct, 1.0), s);
  });
  // Y = (x - mean) * invStd * scale (+ bias), scale/bias broadcast over X.
  SmallVector<Value> extra = {op.getScale()};
  if (op.getB())
    extra.push_back(op.getB());
  SmallVector<AffineMap> extraMaps;
  for (Value v : extra)
    extraMaps.push_back(broadcastMap(mctx, cast<RankedTensorType>(v.getType()),
                                     xT.getShape(), rank));
  Type yElt = cast<RankedTensorType>(op.getY().getType()).getElementType();
  bool hasBias = static_cast<bool>(op.getB());
  Value y = mapWithReduced(
      b, loc, x, ValueRange{mean, invStd}, axes, yElt,
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value v = arith::SubFOp::create(nb, l, ext(nb, l, a[0]), a[1]);
        v = arith::MulFOp::create(nb, l, v, a[2]);
        v = arith::MulFOp::create(nb, l, v, ext(nb, l, a[3]));
        if (hasBias)
          v = arith::AddFOp::create(nb, l, v, ext(nb, l, a[4]));
        return v.getType() == yElt ? v : arith::TruncFOp::create(nb, l, yElt, v).getResult();
      },
      extra, extraMaps);
  llvm::SmallDenseSet<int64_t> unit(axes.begin(), axes.end());
  auto stat = [&](Value r, Value v) -> Value {
    if (!r)
      return Value();
    auto rT = cast<RankedTensorType>(r.getType());
    Value e = expandUnitDims(b, loc, v, rT.clone(ct), unit);
    if (rT.getElementType() == ct)
      return e;
    return buildElementwise(b, loc, e, rT, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
      return arith::TruncFOp::create(nb, l, rT.getElementType(), a[0]);
    });
  };
  return SmallVector<Value>{y, stat(op.getMean(), mean), stat(op.getInvStdDev(), invStd)};
}

//===----------------------------------------------------------------------===//
// CumSum
//===----------------------------------------------------------------------===//

/// out[.., i, ..] = sum over j of in[.., j, ..] where j <= i (exclusive: <,
/// reverse: >= / >). A quadratic generic, correct for every size; the flow
/// attention issue brings the linear scan where CumSum is hot.
static Value buildCumSum(onnx::CumSumOp op, int64_t axis, OpBuilder &b);

static FailureOr<Value> lowerCumSum(onnx::CumSumOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto axisV = onnx::getConstantI64Values(op.getAxis());
  auto xT = cast<RankedTensorType>(op.getX().getType());
  int64_t rank = xT.getRank();
  auto axisT = cast<RankedTensorType>(op.getAxis().getType());
  if (failed(axisV)) {
    // Run-time axis: one case per dimension.
    if (!axisT.hasStaticShape() || axisT.getNumElements() != 1)
      return op.emitError("onnx.CumSum: axis must be a scalar"), failure();
    SmallVector<SmallVector<int64_t>> cases;
    for (int64_t i = 0; i < rank; ++i)
      cases.push_back({i});
    return switchOnAxes(b, loc, op.getAxis(), rank, cases, xT,
                        [&](ArrayRef<int64_t> set) { return buildCumSum(op, set[0], b); });
  }
  if (axisV->size() != 1)
    return op.emitError("onnx.CumSum: axis must be a scalar"), failure();
  return buildCumSum(op, normalizeAxis((*axisV)[0], rank), b);
}

static Value buildCumSum(onnx::CumSumOp op, int64_t axis, OpBuilder &b) {
  Location loc = op.getLoc();
  MLIRContext *mctx = b.getContext();
  auto xT = cast<RankedTensorType>(op.getX().getType());
  int64_t rank = xT.getRank();
  Type elt = xT.getElementType();
  SmallVector<AffineExpr> inExprs;
  for (int64_t i = 0; i < rank; ++i)
    inExprs.push_back(getAffineDimExpr(i == axis ? rank : i, mctx));
  SmallVector<AffineMap> maps = {AffineMap::get(rank + 1, 0, inExprs, mctx),
                                 AffineMap::getMultiDimIdentityMap(rank + 1, mctx)
                                     .getMajorSubMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  Value init = linalg::FillOp::create(
                   b, loc, zeroOf(b, loc, elt),
                   createEmptyLike(b, loc, xT, op.getX()))
                   .getResult(0);
  bool excl = op.getExclusive(), rev = op.getReverse();
  arith::CmpIPredicate pred = rev ? (excl ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::sge)
                                  : (excl ? arith::CmpIPredicate::slt : arith::CmpIPredicate::sle);
  return linalg::GenericOp::create(
             b, loc, xT, op.getX(), init, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value i = linalg::IndexOp::create(nb, l, axis);
               Value j = linalg::IndexOp::create(nb, l, rank);
               Value take = arith::CmpIOp::create(nb, l, pred, j, i);
               Value add = arith::SelectOp::create(nb, l, take, a[0], zeroOf(nb, l, elt));
               linalg::YieldOp::create(nb, l, addFn(nb, l, a[1], add));
             })
      .getResult(0);
}

void sparsa::lowering::populateReductionLowerings(LoweringTable &t) {
  addSingle<onnx::ArgMaxOp, lowerArgMax>(t);
  addSingle<onnx::CumSumOp, lowerCumSum>(t);
  t[TypeID::get<onnx::LayerNormalizationOp>()] = lowerLayerNorm;
  addSingle<onnx::LogSoftmaxOp, lowerLogSoftmax>(t);
  addSingle<onnx::ReduceMaxOp, lowerReduce<onnx::ReduceMaxOp, ReduceKind::Max>>(t);
  addSingle<onnx::ReduceMeanOp, lowerReduce<onnx::ReduceMeanOp, ReduceKind::Mean>>(t);
  addSingle<onnx::ReduceMinOp, lowerReduce<onnx::ReduceMinOp, ReduceKind::Min>>(t);
  addSingle<onnx::ReduceProdOp, lowerReduce<onnx::ReduceProdOp, ReduceKind::Prod>>(t);
  addSingle<onnx::ReduceSumOp, lowerReduce<onnx::ReduceSumOp, ReduceKind::Sum>>(t);
  addSingle<onnx::ReduceL1Op, lowerReduce<onnx::ReduceL1Op, ReduceKind::L1>>(t);
  addSingle<onnx::ReduceL2Op, lowerReduce<onnx::ReduceL2Op, ReduceKind::L2>>(t);
  addSingle<onnx::ReduceSumSquareOp,
            lowerReduce<onnx::ReduceSumSquareOp, ReduceKind::SumSquare>>(t);
  addSingle<onnx::ReduceLogSumOp, lowerReduce<onnx::ReduceLogSumOp, ReduceKind::LogSum>>(t);
  addSingle<onnx::ReduceLogSumExpOp, lowerLogSumExp>(t);
  addSingle<onnx::SoftmaxOp, lowerSoftmax>(t);
}
