//===- Shape.cpp - onnx shape and data-movement ops ------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers constants and the ops that move data without arithmetic: Reshape,
// Flatten, (Un)Squeeze, Transpose, Concat, Split, Slice, Expand, Tile,
// Shape, Size, ConstantOfShape, Range, Identity, Dropout. Shape operands
// that are not constants are read at run time (dynamic shapes).
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace onnx = sparsa::onnx;

static RankedTensorType resultType(Operation *op, unsigned i = 0) {
  return cast<RankedTensorType>(op->getResult(i).getType());
}

/// A dynamic-size tensor.empty of |type| whose sizes are |dims| (index).
static Value emptyWithDims(OpBuilder &b, Location loc, RankedTensorType type,
                           ValueRange dims) {
  return createEmpty(b, loc, type, [&](int64_t i) { return dims[i]; });
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

/// onnx.Constant => arith.constant with inline dense data (signless). Large
/// weights were moved to function arguments before this runs.
static FailureOr<Value> lowerConstant(onnx::ConstantOp op, LowerCtx &ctx) {
  auto type = resultType(op);
  Attribute value = op.getValue();
  if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    bool splat = false;
    if (!blob || !DenseElementsAttr::isValidRawBuffer(type, blob->getData(), splat))
      return op.emitError("constant data does not match its type ") << type,
             failure();
    value = DenseElementsAttr::getFromRawBuffer(type, blob->getData());
  } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (dense.getType() != type)
      value = dense.bitcast(type.getElementType());
  }
  auto typed = dyn_cast<TypedAttr>(value);
  if (!typed)
    return op.emitError("unsupported constant attribute"), failure();
  return arith::ConstantOp::create(ctx.b, op.getLoc(), typed).getResult();
}

static FailureOr<SmallVector<Value>> lowerIdentityLike(Operation *op, LowerCtx &ctx) {
  SmallVector<Value> results = {op->getOperand(0)};
  if (op->getNumResults() > 1) {
    // Dropout's mask in inference: all true.
    auto mT = resultType(op, 1);
    Value empty = createEmptyLike(ctx.b, op->getLoc(), mT, op->getOperand(0));
    Value t = arith::ConstantOp::create(ctx.b, op->getLoc(), ctx.b.getBoolAttr(true));
    results.push_back(linalg::FillOp::create(ctx.b, op->getLoc(), t, empty).getResult(0));
  }
  return results;
}

//===----------------------------------------------------------------------===//
// Reshapes
//===----------------------------------------------------------------------===//

/// Reshape: the target sizes are computed from the shape operand (a
/// constant, or read at run time) with ONNX's 0 (copy) and -1 (infer).
static FailureOr<Value> lowerReshape(onnx::ReshapeOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getData();
  auto inT = cast<RankedTensorType>(x.getType());
  auto rT = resultType(op);
  auto shape = onnx::getConstantI64Values(op.getShape());
  Value total = indexCst(b, loc, 1);
  for (Value d : dimsOf(b, loc, x))
    total = arith::MulIOp::create(b, loc, total, d);
  int64_t rank = rT.getRank();
  SmallVector<Value> dims(rank);
  if (succeeded(shape)) {
    if (inT.hasStaticShape() && rT.hasStaticShape() &&
        inT.getNumElements() != rT.getNumElements())
      return op.emitError("onnx.Reshape: cannot reshape ") << inT << " to " << rT,
             failure();
    Value known = indexCst(b, loc, 1);
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
        dims[i] = indexCst(b, loc, s);
      }
      known = arith::MulIOp::create(b, loc, known, dims[i]);
    }
    if (inferred >= 0)
      dims[inferred] = arith::DivUIOp::create(b, loc, total, known);
  } else {
    // Run-time shape: per element, 0 copies, -1 takes what is left.
    Value zero = indexCst(b, loc, 0), minusOne = indexCst(b, loc, -1);
    SmallVector<Value> raw;
    Value known = indexCst(b, loc, 1);
    for (int64_t i = 0; i < rank; ++i) {
      Value s = extractIndex(b, loc, op.getShape(), i);
      if (!op.getAllowzero() && i < inT.getRank()) {
        Value isZero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, s, zero);
        s = arith::SelectOp::create(b, loc, isZero, dimOf(b, loc, x, i), s);
      }
      raw.push_back(s);
      Value isInfer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, s, minusOne);
      known = arith::MulIOp::create(
          b, loc, known, arith::SelectOp::create(b, loc, isInfer, indexCst(b, loc, 1), s));
    }
    Value rest = arith::DivUIOp::create(b, loc, total, known);
    for (int64_t i = 0; i < rank; ++i) {
      Value isInfer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, raw[i], minusOne);
      dims[i] = arith::SelectOp::create(b, loc, isInfer, rest, raw[i]);
    }
  }
  return reshapeTo(b, loc, x, rT, dims);
}

static FailureOr<Value> lowerUnsqueeze(onnx::UnsqueezeOp op, LowerCtx &ctx) {
  auto rT = resultType(op);
  auto axes = onnx::getConstantI64Values(op.getAxes());
  if (failed(axes)) {
    // Run-time axes: the inferred result type must be static.
    if (!rT.hasStaticShape())
      return op.emitError("onnx.Unsqueeze: axes must be a constant when the "
                          "result shape is not static"),
             failure();
    SmallVector<Value> dims;
    for (int64_t d : rT.getShape())
      dims.push_back(indexCst(ctx.b, op.getLoc(), d));
    return reshapeTo(ctx.b, op.getLoc(), op.getData(), rT, dims);
  }
  llvm::SmallDenseSet<int64_t> unit;
  for (int64_t a : *axes)
    unit.insert(normalizeAxis(a, rT.getRank()));
  return expandUnitDims(ctx.b, op.getLoc(), op.getData(), rT, unit);
}

static FailureOr<Value> lowerSqueeze(onnx::SqueezeOp op, LowerCtx &ctx) {
  auto inT = cast<RankedTensorType>(op.getData().getType());
  auto rT = resultType(op);
  llvm::SmallDenseSet<int64_t> unit;
  if (op.getAxes()) {
    auto axes = onnx::getConstantI64Values(op.getAxes());
    if (failed(axes)) {
      if (!rT.hasStaticShape())
        return op.emitError("onnx.Squeeze: axes must be a constant when the "
                            "result shape is not static"),
               failure();
      SmallVector<Value> dims;
      for (int64_t d : rT.getShape())
        dims.push_back(indexCst(ctx.b, op.getLoc(), d));
      return reshapeTo(ctx.b, op.getLoc(), op.getData(), rT, dims);
    }
    for (int64_t a : *axes)
      unit.insert(normalizeAxis(a, inT.getRank()));
  } else {
    for (int64_t i = 0; i < inT.getRank(); ++i)
      if (inT.getDimSize(i) == 1)
        unit.insert(i);
  }
  for (int64_t a : unit)
    if (inT.isDynamicDim(a))
      return op.emitError("onnx.Squeeze: cannot squeeze dynamic dimension ") << a,
             failure();
  return tensor::CollapseShapeOp::create(ctx.b, op.getLoc(), rT, op.getData(),
                                         unitDimGroups(inT.getRank(), unit))
      .getResult();
}

static FailureOr<Value> lowerFlatten(onnx::FlattenOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto inT = cast<RankedTensorType>(op.getInput().getType());
  int64_t axis = op.getAxis() < 0 ? op.getAxis() + inT.getRank() : op.getAxis();
  Value outer = indexCst(b, loc, 1), inner = indexCst(b, loc, 1);
  for (int64_t i = 0; i < inT.getRank(); ++i) {
    Value d = dimOf(b, loc, op.getInput(), i);
    if (i < axis)
      outer = arith::MulIOp::create(b, loc, outer, d);
    else
      inner = arith::MulIOp::create(b, loc, inner, d);
  }
  return reshapeTo(b, loc, op.getInput(), resultType(op), {outer, inner});
}

static FailureOr<Value> lowerTranspose(onnx::TransposeOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  SmallVector<int64_t> perm = op.getPermutation();
  Value empty = createEmpty(b, loc, resultType(op), [&](int64_t i) {
    return dimOf(b, loc, op.getData(), perm[i]);
  });
  return linalg::TransposeOp::create(b, loc, op.getData(), empty, perm).getResult()[0];
}

//===----------------------------------------------------------------------===//
// Concat / Split / Slice
//===----------------------------------------------------------------------===//

static FailureOr<Value> lowerConcat(onnx::ConcatOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto rT = resultType(op);
  int64_t rank = rT.getRank();
  int64_t axis = normalizeAxis(op.getAxis(), rank);
  Value first = op.getInputs().front();
  Value result = createEmpty(b, loc, rT, [&](int64_t i) -> Value {
    if (i != axis)
      return dimOf(b, loc, first, i);
    Value sum = indexCst(b, loc, 0);
    for (Value v : op.getInputs())
      sum = arith::AddIOp::create(b, loc, sum, dimOf(b, loc, v, axis));
    return sum;
  });
  OpFoldResult offset = b.getIndexAttr(0);
  for (Value v : op.getInputs()) {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    offsets[axis] = offset;
    std::optional<int64_t> off = getConstantIntValue(offset);
    std::optional<int64_t> sz = getConstantIntValue(sizes[axis]);
    // An empty piece (torch's `shape[2:]` of a rank-2 shape) adds nothing;
    // inserted at the end it would not verify (an offset past the last).
    if (sz == 0)
      continue;
    result = tensor::InsertSliceOp::create(b, loc, v, result, offsets, sizes, strides);
    if (off && sz)
      offset = b.getIndexAttr(*off + *sz);
    else
      offset = arith::AddIOp::create(b, loc, getValueOrCreateConstantIndexOp(b, loc, offset),
                                     getValueOrCreateConstantIndexOp(b, loc, sizes[axis]))
                   .getResult();
  }
  return result;
}

static FailureOr<SmallVector<Value>> lowerSplit(Operation *raw, LowerCtx &ctx) {
  auto op = cast<onnx::SplitOp>(raw);
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getInput();
  auto inT = cast<RankedTensorType>(x.getType());
  int64_t rank = inT.getRank(), axis = normalizeAxis(op.getAxis(), rank);
  int64_t n = op.getNumResults();
  Value dim = dimOf(b, loc, x, axis);
  SmallVector<Value> sizes;
  if (op.getSplit()) {
    auto splitT = cast<RankedTensorType>(op.getSplit().getType());
    if (!splitT.hasStaticShape() || splitT.getNumElements() != n)
      return op.emitError("onnx.Split: expected ")
                 << n << " split sizes (one per output)",
             failure();
    // Sizes read at run time, clamped so every slice stays in bounds.
    Value used = indexCst(b, loc, 0);
    for (int64_t i = 0; i < n; ++i) {
      Value left = arith::SubIOp::create(b, loc, dim, used);
      Value s = arith::MaxSIOp::create(b, loc, extractIndex(b, loc, op.getSplit(), i),
                                       indexCst(b, loc, 0));
      s = arith::MinSIOp::create(b, loc, s, left);
      sizes.push_back(s);
      used = arith::AddIOp::create(b, loc, used, s);
    }
  } else {
    // Equal parts, the last one smaller (ceil division), as ONNX 18 defines.
    Value nV = indexCst(b, loc, n);
    Value part = arith::CeilDivUIOp::create(b, loc, dim, nV);
    Value used = indexCst(b, loc, 0);
    for (int64_t i = 0; i < n; ++i) {
      Value left = arith::SubIOp::create(b, loc, dim, used);
      Value s = i + 1 == n ? left : arith::MinUIOp::create(b, loc, part, left).getResult();
      sizes.push_back(s);
      used = arith::AddIOp::create(b, loc, used, s);
    }
  }
  SmallVector<Value> results;
  Value offset = indexCst(b, loc, 0);
  for (int64_t i = 0; i < n; ++i) {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
    SmallVector<OpFoldResult> szs = tensor::getMixedSizes(b, loc, x);
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    offsets[axis] = offset;
    szs[axis] = sizes[i];
    auto rT = resultType(op, i);
    Value slice = tensor::ExtractSliceOp::create(b, loc, x, offsets, szs, strides);
    if (slice.getType() != rT)
      slice = tensor::CastOp::create(b, loc, rT, slice);
    results.push_back(slice);
    offset = arith::AddIOp::create(b, loc, offset, sizes[i]);
  }
  return results;
}

/// Slice: per dim, start/end/step from the operands (constant or run time),
/// clamped like ONNX; a generic reads input[start + i * step], so negative
/// steps need no special case.
static FailureOr<Value> lowerSlice(onnx::SliceOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getData();
  auto inT = cast<RankedTensorType>(x.getType());
  auto rT = resultType(op);
  int64_t rank = inT.getRank();
  auto startsT = cast<RankedTensorType>(op.getStarts().getType());
  if (!startsT.hasStaticShape())
    return op.emitError("onnx.Slice: starts must have a static length"), failure();
  int64_t count = startsT.getNumElements();
  SmallVector<Value> start(rank), step(rank), size(rank);
  for (int64_t d = 0; d < rank; ++d) {
    start[d] = indexCst(b, loc, 0);
    step[d] = indexCst(b, loc, 1);
    size[d] = dimOf(b, loc, x, d);
  }
  auto axesConst = op.getAxes() ? onnx::getConstantI64Values(op.getAxes())
                                : FailureOr<SmallVector<int64_t>>(failure());
  bool runtimeAxes = op.getAxes() && failed(axesConst);
  Value zero = indexCst(b, loc, 0), one = indexCst(b, loc, 1);
  Value rankV = indexCst(b, loc, rank);
  auto clamp = [&](Value v, Value lo, Value hi) -> Value {
    return arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, v, lo), hi);
  };
  auto select = [&](Value c, Value t, Value f) -> Value {
    return arith::SelectOp::create(b, loc, c, t, f);
  };
  for (int64_t i = 0; i < count; ++i) {
    Value sRaw = extractIndex(b, loc, op.getStarts(), i);
    Value eRaw = extractIndex(b, loc, op.getEnds(), i);
    Value st = op.getSteps() ? extractIndex(b, loc, op.getSteps(), i) : one;
    // A zero step is invalid ONNX; treat it as 1 rather than divide by 0.
    st = select(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, st, zero), one, st);
    Value axisV;
    if (runtimeAxes) {
      axisV = extractIndex(b, loc, op.getAxes(), i);
      axisV = select(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, axisV, zero),
                     arith::AddIOp::create(b, loc, axisV, rankV), axisV);
    }
    for (int64_t d = 0; d < rank; ++d) {
      int64_t fixed = op.getAxes() ? (runtimeAxes ? -1 : normalizeAxis((*axesConst)[i], rank))
                                   : i;
      if (!runtimeAxes && fixed != d)
        continue;
      Value dim = dimOf(b, loc, x, d);
      // Negative positions count from the end.
      auto wrap = [&](Value v) -> Value {
        Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v, zero);
        return select(neg, arith::AddIOp::create(b, loc, v, dim), v);
      };
      Value s = wrap(sRaw), e = wrap(eRaw);
      Value pos = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, st, zero);
      Value dimM1 = arith::SubIOp::create(b, loc, dim, one);
      // Positive step: clamp to [0, dim]; negative: to [-1, dim - 1].
      Value minusOne = indexCst(b, loc, -1);
      s = select(pos, clamp(s, zero, dim), clamp(s, minusOne, dimM1));
      e = select(pos, clamp(e, zero, dim), clamp(e, minusOne, dimM1));
      // size = max(0, ceil((e - s) / st))
      Value diff = arith::SubIOp::create(b, loc, e, s);
      Value absSt = select(pos, st, arith::SubIOp::create(b, loc, zero, st));
      Value absDiff = select(pos, diff, arith::SubIOp::create(b, loc, zero, diff));
      Value n = arith::MaxSIOp::create(
          b, loc, arith::CeilDivSIOp::create(b, loc, absDiff, absSt), zero);
      if (runtimeAxes) {
        Value match = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, axisV,
                                            indexCst(b, loc, d));
        start[d] = select(match, s, start[d]);
        step[d] = select(match, st, step[d]);
        size[d] = select(match, n, size[d]);
      } else {
        start[d] = s;
        step[d] = st;
        size[d] = n;
      }
    }
  }
  Value empty = emptyWithDims(b, loc, rT, size);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, rT, ValueRange{}, empty,
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)}, iters,
             [&](OpBuilder &nb, Location l, ValueRange) {
               SmallVector<Value> idx;
               for (int64_t d = 0; d < rank; ++d) {
                 Value i = linalg::IndexOp::create(nb, l, d);
                 idx.push_back(arith::AddIOp::create(
                     nb, l, start[d], arith::MulIOp::create(nb, l, i, step[d])));
               }
               linalg::YieldOp::create(nb, l, tensor::ExtractOp::create(nb, l, x, idx).getResult());
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Broadcasting producers
//===----------------------------------------------------------------------===//

/// Output sizes of Expand: numpy broadcast of the input's and the shape
/// operand's sizes (read at run time when not constant).
static FailureOr<Value> lowerExpand(onnx::ExpandOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto rT = resultType(op);
  auto inT = cast<RankedTensorType>(op.getInput().getType());
  int64_t rank = rT.getRank();
  auto shapeT = cast<RankedTensorType>(op.getShape().getType());
  if (!shapeT.hasStaticShape())
    return op.emitError("onnx.Expand: the shape operand needs a static length"), failure();
  int64_t shapeLen = shapeT.getNumElements();
  SmallVector<Value> dims;
  Value one = indexCst(b, loc, 1);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t si = i - (rank - shapeLen), ii = i - (rank - inT.getRank());
    Value s = si >= 0 ? extractIndex(b, loc, op.getShape(), si) : one;
    Value d = ii >= 0 ? dimOf(b, loc, op.getInput(), ii) : one;
    Value sIsOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, s, one);
    dims.push_back(arith::SelectOp::create(b, loc, sIsOne, d, s));
  }
  // Input dims of size 1 that grow are read at index 0 (run-time check).
  Value empty = emptyWithDims(b, loc, rT, dims);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value x = op.getInput();
  return linalg::GenericOp::create(
             b, loc, rT, ValueRange{}, empty,
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)}, iters,
             [&](OpBuilder &nb, Location l, ValueRange) {
               SmallVector<Value> idx;
               for (int64_t d = 0; d < inT.getRank(); ++d) {
                 int64_t o = d + (rank - inT.getRank());
                 Value i = linalg::IndexOp::create(nb, l, o);
                 Value in = dimOf(nb, l, x, d);
                 Value isOne = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, in,
                                                     indexCst(nb, l, 1));
                 idx.push_back(arith::SelectOp::create(nb, l, isOne, indexCst(nb, l, 0), i));
               }
               linalg::YieldOp::create(nb, l, tensor::ExtractOp::create(nb, l, x, idx).getResult());
             })
      .getResult(0);
}

static FailureOr<Value> lowerTile(onnx::TileOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto rT = resultType(op);
  int64_t rank = rT.getRank();
  Value x = op.getInput();
  SmallVector<Value> dims;
  for (int64_t i = 0; i < rank; ++i)
    dims.push_back(arith::MulIOp::create(b, loc, dimOf(b, loc, x, i),
                                         extractIndex(b, loc, op.getRepeats(), i)));
  Value empty = emptyWithDims(b, loc, rT, dims);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, rT, ValueRange{}, empty,
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)}, iters,
             [&](OpBuilder &nb, Location l, ValueRange) {
               SmallVector<Value> idx;
               for (int64_t d = 0; d < rank; ++d)
                 idx.push_back(arith::RemUIOp::create(nb, l, linalg::IndexOp::create(nb, l, d),
                                                      dimOf(nb, l, x, d)));
               linalg::YieldOp::create(nb, l, tensor::ExtractOp::create(nb, l, x, idx).getResult());
             })
      .getResult(0);
}

/// One generic over the result, each element read from the index its mode
/// gives, or the fill (declared in Common.h).
Value sparsa::lowering::buildPad(OpBuilder &b, Location loc, Value x, RankedTensorType rT,
                                 ArrayRef<Value> outDims, ArrayRef<Value> lo,
                                 ArrayRef<Value> kept, ArrayRef<Value> pbegin, StringRef mode,
                                 Value fill) {
  int64_t rank = rT.getRank();
  Value zero = indexCst(b, loc, 0), one = indexCst(b, loc, 1);
  Value empty = emptyWithDims(b, loc, rT, outDims);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, rT, ValueRange{}, empty,
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)}, iters,
             [&](OpBuilder &nb, Location l, ValueRange) {
               Value valid = arith::ConstantOp::create(nb, l, nb.getBoolAttr(true));
               SmallVector<Value> idx;
               for (int64_t d = 0; d < rank; ++d) {
                 Value o = linalg::IndexOp::create(nb, l, d);
                 Value size = kept[d];
                 Value last = arith::SubIOp::create(nb, l, size, one);
                 Value i = arith::SubIOp::create(nb, l, o, pbegin[d]);
                 auto cmp = [&](arith::CmpIPredicate p, Value lhs, Value rhs) {
                   return arith::CmpIOp::create(nb, l, p, lhs, rhs).getResult();
                 };
                 auto clamp = [&](Value v) {
                   return arith::MaxSIOp::create(
                              nb, l, zero, arith::MinSIOp::create(nb, l, v, last))
                       .getResult();
                 };
                 if (mode == "constant") {
                   Value inside = arith::AndIOp::create(
                       nb, l, cmp(arith::CmpIPredicate::sge, i, zero),
                       cmp(arith::CmpIPredicate::slt, i, size));
                   valid = arith::AndIOp::create(nb, l, valid, inside);
                 } else {
                   valid = arith::AndIOp::create(nb, l, valid,
                                                 cmp(arith::CmpIPredicate::sgt, size, zero));
                   if (mode == "reflect") {
                     // -i before the start, 2 (n - 1) - i past the end.
                     Value neg = cmp(arith::CmpIPredicate::slt, i, zero);
                     i = arith::SelectOp::create(nb, l, neg,
                                                 arith::SubIOp::create(nb, l, zero, i), i);
                     Value past = cmp(arith::CmpIPredicate::sgt, i, last);
                     Value mirrored = arith::SubIOp::create(
                         nb, l, arith::AddIOp::create(nb, l, last, last), i);
                     i = arith::SelectOp::create(nb, l, past, mirrored, i);
                   } else if (mode == "wrap") {
                     Value safe = arith::MaxSIOp::create(nb, l, size, one);
                     Value r = arith::RemSIOp::create(nb, l, i, safe);
                     Value negR = cmp(arith::CmpIPredicate::slt, r, zero);
                     i = arith::SelectOp::create(nb, l, negR,
                                                 arith::AddIOp::create(nb, l, r, safe), r);
                   }
                 }
                 idx.push_back(arith::AddIOp::create(nb, l, lo[d], clamp(i)));
               }
               auto ifOp = scf::IfOp::create(
                   nb, l, valid,
                   [&](OpBuilder &ib, Location il) {
                     scf::YieldOp::create(
                         ib, il, tensor::ExtractOp::create(ib, il, x, idx).getResult());
                   },
                   [&](OpBuilder &ib, Location il) { scf::YieldOp::create(ib, il, fill); });
               linalg::YieldOp::create(nb, l, ifOp.getResult(0));
             })
      .getResult(0);
}

/// Pad: one generic over the result, each element read from the source
/// index its mode gives (constant: the fill outside the data; edge: the
/// nearest; reflect: mirrored about the edge; wrap: modulo the size). The
/// pads are read at run time; sizes and indices are clamped so nothing is
/// read out of bounds (ONNX Runtime rejects pads that exceed reflect's
/// range, and a negative size).
static FailureOr<Value> lowerPad(onnx::PadOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto rT = resultType(op);
  int64_t rank = rT.getRank();
  Value x = op.getData();
  Type elt = rT.getElementType();
  Value zero = indexCst(b, loc, 0);
  SmallVector<Value> begin(rank, zero), end(rank, zero), dims = dimsOf(b, loc, x),
                                                          outDims = dims;
  if (auto axes = op.getPaddedAxes(); succeeded(axes)) {
    int64_t n = axes->size();
    for (int64_t j = 0; j < n; ++j) {
      begin[(*axes)[j]] = extractIndex(b, loc, op.getPads(), j);
      end[(*axes)[j]] = extractIndex(b, loc, op.getPads(), j + n);
    }
  } else {
    // Axes known at run time (their count is static): each dim takes the
    // pads of the entry naming it.
    int64_t n = cast<RankedTensorType>(op.getAxes().getType()).getDimSize(0);
    Value r = indexCst(b, loc, rank);
    for (int64_t j = 0; j < n; ++j) {
      Value a = extractIndex(b, loc, op.getAxes(), j);
      a = arith::SelectOp::create(
          b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, a, zero),
          arith::AddIOp::create(b, loc, a, r), a);
      Value pb = extractIndex(b, loc, op.getPads(), j);
      Value pe = extractIndex(b, loc, op.getPads(), j + n);
      for (int64_t d = 0; d < rank; ++d) {
        Value is = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, a,
                                         indexCst(b, loc, d));
        begin[d] = arith::AddIOp::create(b, loc, begin[d],
                                         arith::SelectOp::create(b, loc, is, pb, zero));
        end[d] = arith::AddIOp::create(b, loc, end[d],
                                       arith::SelectOp::create(b, loc, is, pe, zero));
      }
    }
  }
  // Negative pads crop first (ONNX Runtime's order): the kept elements
  // [lo, n - hi), m of them, then padded by the positive parts.
  SmallVector<Value> lo(rank), kept(rank), pbegin(rank);
  for (int64_t d = 0; d < rank; ++d) {
    auto neg = [&](Value v) {
      return arith::MaxSIOp::create(b, loc, arith::SubIOp::create(b, loc, zero, v), zero)
          .getResult();
    };
    auto pos = [&](Value v) { return arith::MaxSIOp::create(b, loc, v, zero).getResult(); };
    lo[d] = neg(begin[d]);
    pbegin[d] = pos(begin[d]);
    Value m = arith::SubIOp::create(b, loc, arith::SubIOp::create(b, loc, dims[d], lo[d]),
                                    neg(end[d]));
    kept[d] = arith::MaxSIOp::create(b, loc, m, zero);
    outDims[d] = arith::AddIOp::create(
        b, loc, arith::AddIOp::create(b, loc, kept[d], pbegin[d]), pos(end[d]));
  }
  Value fill;
  if (Value c = op.getConstantValue()) {
    auto ct = cast<RankedTensorType>(c.getType());
    fill = tensor::ExtractOp::create(b, loc, c,
                                     ct.getRank() ? ValueRange{zero} : ValueRange{})
               .getResult();
    if (fill.getType() != elt) // a signed / unsigned integer spelling
      fill = arith::BitcastOp::create(b, loc, elt, fill);
  } else {
    fill = isa<FloatType>(elt) ? floatCst(b, loc, elt, 0.0) : zeroOf(b, loc, elt);
  }
  return buildPad(b, loc, x, rT, outDims, lo, kept, pbegin, op.getMode(), fill);
}

//===----------------------------------------------------------------------===//
// Shape queries and generators
//===----------------------------------------------------------------------===//

static FailureOr<Value> lowerShape(onnx::ShapeOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  int64_t rank = cast<RankedTensorType>(op.getData().getType()).getRank();
  auto clampAxis = [&](int64_t a) {
    a = a < 0 ? a + rank : a;
    return std::clamp<int64_t>(a, 0, rank);
  };
  int64_t start = clampAxis(op.getStart());
  int64_t end = op.getEnd() ? clampAxis(*op.getEnd()) : rank;
  SmallVector<Value> dims;
  for (int64_t i = start; i < end; ++i)
    dims.push_back(arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                              dimOf(b, loc, op.getData(), i)));
  auto type = RankedTensorType::get({(int64_t)dims.size()}, b.getI64Type());
  if (dims.empty())
    return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, ArrayRef<int64_t>{}))
        .getResult();
  return tensor::FromElementsOp::create(b, loc, type, dims).getResult();
}

static FailureOr<Value> lowerSize(onnx::SizeOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value n = indexCst(b, loc, 1);
  for (Value d : dimsOf(b, loc, op.getData()))
    n = arith::MulIOp::create(b, loc, n, d);
  Value v = arith::IndexCastOp::create(b, loc, b.getI64Type(), n);
  return tensor::FromElementsOp::create(b, loc, RankedTensorType::get({}, b.getI64Type()), v)
      .getResult();
}

static FailureOr<Value> lowerConstantOfShape(onnx::ConstantOfShapeOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto rT = resultType(op);
  Type elt = rT.getElementType();
  Value fill = zeroOf(b, loc, elt);
  if (auto value = op.getValue()) {
    SmallVector<char> storage;
    auto bytes = onnx::getConstantBytes(*value, storage);
    if (auto dense = dyn_cast<DenseElementsAttr>(*value)) {
      auto a = dense.getValues<Attribute>()[0];
      if (auto ia = dyn_cast<IntegerAttr>(a))
        fill = arith::ConstantOp::create(b, loc, elt, b.getIntegerAttr(elt, ia.getValue()));
      else if (auto fa = dyn_cast<FloatAttr>(a))
        fill = arith::ConstantOp::create(b, loc, elt, b.getFloatAttr(elt, fa.getValueAsDouble()));
      else if (auto ba = dyn_cast<BoolAttr>(a))
        fill = arith::ConstantOp::create(b, loc, elt, b.getIntegerAttr(elt, ba.getValue()));
    } else if (succeeded(bytes) && !bytes->empty()) {
      auto attr = DenseElementsAttr::getFromRawBuffer(RankedTensorType::get({1}, elt), *bytes);
      fill = arith::ConstantOp::create(b, loc, elt, attr.getValues<TypedAttr>()[0]);
    }
  }
  SmallVector<Value> dims;
  for (int64_t i = 0; i < rT.getRank(); ++i)
    dims.push_back(extractIndex(b, loc, op.getInput(), i));
  Value empty = emptyWithDims(b, loc, rT, dims);
  return linalg::FillOp::create(b, loc, fill, empty).getResult(0);
}

static FailureOr<Value> lowerRange(onnx::RangeOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto rT = resultType(op);
  Type elt = rT.getElementType();
  bool isF = isa<FloatType>(elt);
  auto scalar = [&](Value t) -> Value {
    return tensor::ExtractOp::create(b, loc, t, ValueRange{}).getResult();
  };
  Value start = scalar(op.getStart()), limit = scalar(op.getLimit()),
        delta = scalar(op.getDelta());
  // n = max(ceil((limit - start) / delta), 0)
  Value n;
  if (isF) {
    Value q = arith::DivFOp::create(b, loc, arith::SubFOp::create(b, loc, limit, start), delta);
    Value c = math::CeilOp::create(b, loc, q);
    n = arith::FPToSIOp::create(b, loc, b.getI64Type(), c);
  } else {
    Value diff = arith::SubIOp::create(b, loc, limit, start);
    n = arith::CeilDivSIOp::create(b, loc, diff, delta);
    if (elt != b.getI64Type())
      n = arith::ExtSIOp::create(b, loc, b.getI64Type(), n);
  }
  n = arith::MaxSIOp::create(b, loc, n, zeroOf(b, loc, b.getI64Type()));
  Value size = arith::IndexCastOp::create(b, loc, b.getIndexType(), n);
  Value empty = emptyWithDims(b, loc, rT, size);
  return linalg::GenericOp::create(
             b, loc, rT, ValueRange{}, empty,
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(1)},
             SmallVector<utils::IteratorType>{utils::IteratorType::parallel},
             [&](OpBuilder &nb, Location l, ValueRange) {
               Value i = linalg::IndexOp::create(nb, l, 0);
               Value iv = arith::IndexCastOp::create(nb, l, nb.getI64Type(), i);
               Value v;
               if (isF) {
                 Value fi = arith::SIToFPOp::create(nb, l, elt, iv);
                 v = arith::AddFOp::create(nb, l, start, arith::MulFOp::create(nb, l, fi, delta));
               } else {
                 Value ii = elt == nb.getI64Type() ? iv : arith::TruncIOp::create(nb, l, elt, iv).getResult();
                 v = arith::AddIOp::create(nb, l, start, arith::MulIOp::create(nb, l, ii, delta));
               }
               linalg::YieldOp::create(nb, l, v);
             })
      .getResult(0);
}

void sparsa::lowering::populateShapeLowerings(LoweringTable &t) {
  addSingle<onnx::ConcatOp, lowerConcat>(t);
  addSingle<onnx::ConstantOfShapeOp, lowerConstantOfShape>(t);
  addSingle<onnx::ConstantOp, lowerConstant>(t);
  t[TypeID::get<onnx::DropoutOp>()] = lowerIdentityLike;
  addSingle<onnx::ExpandOp, lowerExpand>(t);
  addSingle<onnx::FlattenOp, lowerFlatten>(t);
  t[TypeID::get<onnx::IdentityOp>()] = lowerIdentityLike;
  addSingle<onnx::RangeOp, lowerRange>(t);
  addSingle<onnx::ReshapeOp, lowerReshape>(t);
  addSingle<onnx::ShapeOp, lowerShape>(t);
  addSingle<onnx::SizeOp, lowerSize>(t);
  addSingle<onnx::SliceOp, lowerSlice>(t);
  t[TypeID::get<onnx::SplitOp>()] = lowerSplit;
  addSingle<onnx::SqueezeOp, lowerSqueeze>(t);
  addSingle<onnx::TileOp, lowerTile>(t);
  addSingle<onnx::PadOp, lowerPad>(t);
  addSingle<onnx::TransposeOp, lowerTranspose>(t);
  addSingle<onnx::UnsqueezeOp, lowerUnsqueeze>(t);
}
