//===- Indexing.cpp - onnx gathers, one-hot and top-k ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers the data-dependent indexing ops. Indices are normalized (negative
// counts from the end) and clamped into range before any read, so a bad
// index can give a wrong element but never an out-of-bounds access; the
// runtime-checked form comes with the reliability work.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace onnx = sparsa::onnx;

static RankedTensorType resultType(Operation *op, unsigned i = 0) {
  return cast<RankedTensorType>(op->getResult(i).getType());
}

/// An integer index element -> a valid index into a dimension of size |dim|:
/// negative values wrap once, then the value is clamped to [0, dim - 1].
static Value normalizeIndex(OpBuilder &b, Location l, Value idx, Value dim) {
  Value i = idx.getType().isIndex()
                ? idx
                : arith::IndexCastOp::create(b, l, b.getIndexType(), idx).getResult();
  Value zero = indexCst(b, l, 0);
  Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i, zero);
  i = arith::SelectOp::create(b, l, neg, arith::AddIOp::create(b, l, i, dim), i);
  Value hi = arith::SubIOp::create(b, l, dim, indexCst(b, l, 1));
  return arith::MinSIOp::create(b, l, arith::MaxSIOp::create(b, l, i, zero), hi);
}

static FailureOr<Value> lowerGather(onnx::GatherOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  MLIRContext *mctx = b.getContext();
  Value data = op.getData(), indices = op.getIndices();
  auto dT = cast<RankedTensorType>(data.getType());
  auto iT = cast<RankedTensorType>(indices.getType());
  auto rT = resultType(op);
  int64_t axis = normalizeAxis(op.getAxis(), dT.getRank());
  int64_t ri = iT.getRank(), rank = rT.getRank();
  GenericBuilder GB{b, loc, dT.getElementType()};
  checkIndexRange(GB, op, indices, dimOf(b, loc, data, axis));
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) -> Value {
    if (i < axis)
      return dimOf(b, loc, data, i);
    if (i < axis + ri)
      return dimOf(b, loc, indices, i - axis);
    return dimOf(b, loc, data, i - ri + 1);
  });
  SmallVector<AffineExpr> iExprs;
  for (int64_t i = 0; i < ri; ++i)
    iExprs.push_back(getAffineDimExpr(axis + i, mctx));
  SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, iExprs, mctx),
                                 b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, rT, indices, empty, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               SmallVector<Value> idx;
               for (int64_t d = 0; d < dT.getRank(); ++d) {
                 if (d < axis)
                   idx.push_back(linalg::IndexOp::create(nb, l, d));
                 else if (d == axis)
                   idx.push_back(normalizeIndex(nb, l, a[0], dimOf(nb, l, data, d)));
                 else
                   idx.push_back(linalg::IndexOp::create(nb, l, d + ri - 1));
               }
               linalg::YieldOp::create(nb, l, tensor::ExtractOp::create(nb, l, data, idx).getResult());
             })
      .getResult(0);
}

static FailureOr<Value> lowerGatherElements(onnx::GatherElementsOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value data = op.getData(), indices = op.getIndices();
  auto rT = resultType(op);
  int64_t rank = rT.getRank(), axis = normalizeAxis(op.getAxis(), rank);
  Value empty = createEmptyLike(b, loc, rT, indices);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank), b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, rT, indices, empty, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               SmallVector<Value> idx;
               for (int64_t d = 0; d < rank; ++d)
                 idx.push_back(d == axis ? normalizeIndex(nb, l, a[0], dimOf(nb, l, data, d))
                                         : linalg::IndexOp::create(nb, l, d).getResult());
               linalg::YieldOp::create(nb, l, tensor::ExtractOp::create(nb, l, data, idx).getResult());
             })
      .getResult(0);
}

static FailureOr<Value> lowerOneHot(onnx::OneHotOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  MLIRContext *mctx = b.getContext();
  Value indices = op.getIndices();
  auto rT = resultType(op);
  int64_t rank = rT.getRank(), axis = normalizeAxis(op.getAxis(), rank);
  auto scalarAt = [&](Value t, int64_t i) -> Value {
    auto type = cast<RankedTensorType>(t.getType());
    SmallVector<Value> idx;
    for (int64_t d = 0; d < type.getRank(); ++d)
      idx.push_back(indexCst(b, loc, d == type.getRank() - 1 ? i : 0));
    return tensor::ExtractOp::create(b, loc, t, idx);
  };
  Value depthV = scalarAt(op.getDepth(), 0);
  Value depth = isa<FloatType>(depthV.getType())
                    ? arith::FPToSIOp::create(b, loc, b.getI64Type(), depthV).getResult()
                    : depthV;
  depth = arith::IndexCastOp::create(b, loc, b.getIndexType(), depth);
  Value off = scalarAt(op.getValues(), 0), on = scalarAt(op.getValues(), 1);
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) -> Value {
    if (i == axis)
      return depth;
    return dimOf(b, loc, indices, i < axis ? i : i - 1);
  });
  SmallVector<AffineExpr> iExprs;
  for (int64_t i = 0; i < rank; ++i)
    if (i != axis)
      iExprs.push_back(getAffineDimExpr(i, mctx));
  SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, iExprs, mctx),
                                 b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, rT, indices, empty, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange a) {
               Value v = a[0];
               if (isa<FloatType>(v.getType()))
                 v = arith::FPToSIOp::create(nb, l, nb.getI64Type(), v);
               Value i = arith::IndexCastOp::create(nb, l, nb.getIndexType(), v);
               Value neg = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, i,
                                                 indexCst(nb, l, 0));
               i = arith::SelectOp::create(nb, l, neg, arith::AddIOp::create(nb, l, i, depth), i);
               Value k = linalg::IndexOp::create(nb, l, axis);
               Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, i, k);
               linalg::YieldOp::create(nb, l, arith::SelectOp::create(nb, l, hit, on, off).getResult());
             })
      .getResult(0);
}

/// Axis length from which TopK selects by radix select rather than ranking
/// (a top-k FFN decode over 256 neurons: 24 -> 14 us).
static constexpr int64_t kLongTopK = 128;

/// TopK over a long last axis of f32 rows (a predictor choosing neurons
/// out of thousands): radix select instead of quadratic ranking. Per row,
/// with keys = the floats' bits made order-preserving as unsigned integers
/// (inverted for the smallest): four histogram passes (a byte each, from
/// the top) find the k-th best key T and how many keys equal to T are
/// wanted; one more pass takes every element better than T, then elements
/// equal to T by increasing index until k; the k chosen are ranked among themselves
/// (quadratic in k only) and written out sorted.
static FailureOr<SmallVector<Value>> lowerLongTopK(onnx::TopKOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getX();
  auto xT = cast<RankedTensorType>(x.getType());
  bool largest = op.getLargest();
  Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type(), idxT = b.getIndexType();
  auto vT = resultType(op, 0), iT = resultType(op, 1);
  int64_t rank = xT.getRank();
  Value rows = rank == 2 ? dimOf(b, loc, x, 0) : indexCst(b, loc, 1);
  Value n = dimOf(b, loc, x, rank - 1);
  Value k = extractIndex(b, loc, op.getK(), 0);
  Value c0 = indexCst(b, loc, 0), c1 = indexCst(b, loc, 1);
  auto at = [&](OpBuilder &nb, Location l, Value r, Value i) -> Value {
    return rank == 2 ? tensor::ExtractOp::create(nb, l, x, ValueRange{r, i}).getResult()
                     : tensor::ExtractOp::create(nb, l, x, ValueRange{i}).getResult();
  };
  // Order-preserving unsigned key of a float (larger float: larger key);
  // -0 takes +0's key, as the two compare equal (ties then go by index, as
  // in ONNX Runtime).
  auto key = [&](OpBuilder &nb, Location l, Value v) -> Value {
    Value isZero = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, v,
                                         arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0.0f)));
    Value bits = arith::SelectOp::create(
        nb, l, isZero, arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(0)),
        arith::BitcastOp::create(nb, l, i32, v));
    Value sign = arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(INT32_MIN));
    Value allOnes = arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(-1));
    Value neg = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, bits,
                                      arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(0)));
    Value kv = arith::SelectOp::create(nb, l, neg, arith::XOrIOp::create(nb, l, bits, allOnes),
                                       arith::XOrIOp::create(nb, l, bits, sign));
    return largest ? kv : arith::XOrIOp::create(nb, l, kv, allOnes).getResult();
  };
  Value vOut = createEmpty(b, loc, vT, [&](int64_t d) { return d == rank - 1 ? k : rows; });
  Value iOut = createEmpty(b, loc, iT, [&](int64_t d) { return d == rank - 1 ? k : rows; });
  auto perRow = scf::ForOp::create(
      b, loc, c0, rows, c1, ValueRange{vOut, iOut},
      [&](OpBuilder &rb, Location rl, Value r, ValueRange outs) {
        // 1. The k-th best key, a byte at a time from the top: per byte,
        //    one pass counts the keys that match the bytes found so far in
        //    a 256-bucket histogram; the bucket where the count from the
        //    top reaches the k still wanted is the next byte.
        Value t = arith::ConstantOp::create(rb, rl, i32, rb.getI32IntegerAttr(0));
        Value want = k;
        auto i32c = [&](OpBuilder &nb, Location l, int64_t v) -> Value {
          return arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(static_cast<int32_t>(v)));
        };
        for (int byte = 3; byte >= 0; --byte) {
          int shift = 8 * byte;
          Value hist0 = linalg::FillOp::create(
                            rb, rl, c0,
                            tensor::EmptyOp::create(rb, rl, ArrayRef<int64_t>{256}, idxT).getResult())
                            .getResult(0);
          auto histLoop = scf::ForOp::create(
              rb, rl, c0, n, c1, ValueRange{hist0},
              [&](OpBuilder &lb, Location ll, Value i, ValueRange acc) {
                Value kv = key(lb, ll, at(lb, ll, r, i));
                Value match = arith::ConstantOp::create(lb, ll, lb.getI1Type(), lb.getBoolAttr(true));
                if (byte < 3) {
                  Value high = i32c(lb, ll, static_cast<int64_t>(~0u << (shift + 8)));
                  match = arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::eq,
                                                arith::AndIOp::create(lb, ll, kv, high),
                                                arith::AndIOp::create(lb, ll, t, high));
                }
                Value digit = arith::AndIOp::create(
                    lb, ll, arith::ShRUIOp::create(lb, ll, kv, i32c(lb, ll, shift)),
                    i32c(lb, ll, 255));
                Value slot = arith::IndexCastOp::create(lb, ll, idxT, digit);
                Value old = tensor::ExtractOp::create(lb, ll, acc[0], slot);
                Value inc = arith::IndexCastOp::create(
                    lb, ll, idxT, arith::ExtUIOp::create(lb, ll, i64, match));
                scf::YieldOp::create(lb, ll,
                                     tensor::InsertOp::create(lb, ll, arith::AddIOp::create(lb, ll, old, inc),
                                                              acc[0], slot)
                                         .getResult());
              });
          Value hist = histLoop.getResult(0);
          // From the top bucket down: the first where the running count
          // reaches |want|; the count above it leaves the keys still wanted.
          auto scan = scf::ForOp::create(
              rb, rl, c0, indexCst(rb, rl, 256), c1, ValueRange{c0, c0, rb.createOrFold<arith::ConstantOp>(rl, rb.getBoolAttr(false)), c0},
              [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
                // acc: running count, chosen bucket, found, count above it.
                Value bucket = arith::SubIOp::create(lb, ll, indexCst(lb, ll, 255), j);
                Value cnt = tensor::ExtractOp::create(lb, ll, hist, bucket);
                Value total = arith::AddIOp::create(lb, ll, acc[0], cnt);
                Value reach = arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::uge, total, want);
                Value notYet = arith::XOrIOp::create(
                    lb, ll, acc[2], arith::ConstantOp::create(lb, ll, lb.getI1Type(), lb.getBoolAttr(true)));
                Value now = arith::AndIOp::create(lb, ll, reach, notYet);
                Value chosen = arith::SelectOp::create(lb, ll, now, bucket, acc[1]);
                Value above = arith::SelectOp::create(lb, ll, now, acc[0], acc[3]);
                Value found = arith::OrIOp::create(lb, ll, acc[2], now);
                scf::YieldOp::create(lb, ll, ValueRange{total, chosen, found, above});
              });
          Value digit = arith::IndexCastOp::create(
              rb, rl, i32, scan.getResult(1));
          t = arith::OrIOp::create(rb, rl, t,
                                   arith::ShLIOp::create(rb, rl, digit, i32c(rb, rl, shift)));
          want = arith::SubIOp::create(rb, rl, want, scan.getResult(3));
        }
        // 2. Everything better than t, then ties by increasing index: the
        //    keys still wanted after the last byte are the ties to take
        //    (each byte's scan subtracted the keys above its bucket).
        Value ties = want;
        Value cv = tensor::EmptyOp::create(rb, rl, ArrayRef<OpFoldResult>{k}, f32);
        Value ci = tensor::EmptyOp::create(rb, rl, ArrayRef<OpFoldResult>{k}, i64);
        auto collect = scf::ForOp::create(
            rb, rl, c0, n, c1, ValueRange{cv, ci, c0, c0},
            [&](OpBuilder &lb, Location ll, Value i, ValueRange acc) {
              Value v = at(lb, ll, r, i);
              Value kv = key(lb, ll, v);
              Value gt = arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::ugt, kv, t);
              Value eq = arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::eq, kv, t);
              Value room = arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::ult, acc[3], ties);
              Value tie = arith::AndIOp::create(lb, ll, eq, room);
              Value take = arith::OrIOp::create(lb, ll, gt, tie);
              auto ifOp = scf::IfOp::create(
                  lb, ll, take,
                  [&](OpBuilder &ib, Location il) {
                    Value vs = tensor::InsertOp::create(ib, il, v, acc[0], acc[2]);
                    Value is = tensor::InsertOp::create(
                        ib, il, arith::IndexCastOp::create(ib, il, i64, i), acc[1], acc[2]);
                    Value used = arith::AddIOp::create(
                        ib, il, acc[3],
                        arith::IndexCastOp::create(ib, il, idxT,
                                                   arith::ExtUIOp::create(ib, il, i64, tie)));
                    scf::YieldOp::create(ib, il, ValueRange{vs, is,
                                                            arith::AddIOp::create(ib, il, acc[2], c1),
                                                            used});
                  },
                  [&](OpBuilder &ib, Location il) { scf::YieldOp::create(ib, il, acc); });
              scf::YieldOp::create(lb, ll, ifOp.getResults());
            });
        Value selV = collect.getResult(0), selI = collect.getResult(1);
        // Unsorted (sorted = 0: the consumer only needs the set): the k
        // chosen in index order, as collected.
        if (!op.getSorted()) {
          auto write = [&](Value sel, Value into) -> Value {
            SmallVector<OpFoldResult> offs(rank, rb.getIndexAttr(0)), sizes(rank, rb.getIndexAttr(1)),
                strides(rank, rb.getIndexAttr(1));
            if (rank == 2)
              offs[0] = r;
            sizes[rank - 1] = k;
            return tensor::InsertSliceOp::create(rb, rl, sel, into, offs, sizes, strides);
          };
          scf::YieldOp::create(rb, rl, ValueRange{write(selV, outs[0]), write(selI, outs[1])});
          return;
        }
        // 3. Rank the k chosen among themselves; write each at its rank.
        auto place = scf::ForOp::create(
            rb, rl, c0, k, c1, ValueRange{outs[0], outs[1]},
            [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
              Value vj = tensor::ExtractOp::create(lb, ll, selV, j);
              Value kj = key(lb, ll, vj);
              auto rankLoop = scf::ForOp::create(
                  lb, ll, c0, k, c1, ValueRange{c0},
                  [&](OpBuilder &qb, Location ql, Value i, ValueRange racc) {
                    Value ki = key(qb, ql, tensor::ExtractOp::create(qb, ql, selV, i));
                    Value gt = arith::CmpIOp::create(qb, ql, arith::CmpIPredicate::ugt, ki, kj);
                    Value eq = arith::CmpIOp::create(qb, ql, arith::CmpIPredicate::eq, ki, kj);
                    // Chosen in index order: an equal key earlier in the list
                    // has the lower index.
                    Value earlier = arith::CmpIOp::create(qb, ql, arith::CmpIPredicate::ult, i, j);
                    Value ahead = arith::OrIOp::create(qb, ql, gt,
                                                       arith::AndIOp::create(qb, ql, eq, earlier));
                    Value inc = arith::IndexCastOp::create(
                        qb, ql, idxT, arith::ExtUIOp::create(qb, ql, i64, ahead));
                    scf::YieldOp::create(qb, ql, ValueRange{arith::AddIOp::create(qb, ql, racc[0], inc)});
                  });
              Value p = rankLoop.getResult(0);
              SmallVector<Value> pos = rank == 2 ? SmallVector<Value>{r, p} : SmallVector<Value>{p};
              Value ij = tensor::ExtractOp::create(lb, ll, selI, j);
              Value vo = tensor::InsertOp::create(lb, ll, vj, acc[0], pos);
              Value io = tensor::InsertOp::create(lb, ll, ij, acc[1], pos);
              scf::YieldOp::create(lb, ll, ValueRange{vo, io});
            });
        scf::YieldOp::create(rb, rl, place.getResults());
      });
  return SmallVector<Value>{perRow.getResult(0), perRow.getResult(1)};
}

/// TopK by ranking: rank_j = #{i : x_i before x_j} (strictly better, ties by
/// lower index), then output p takes the element of rank p. Quadratic in
/// the axis length, data-parallel, always sorted; routing fusion replaces it
/// where it matters.
static FailureOr<SmallVector<Value>> lowerTopK(Operation *raw, LowerCtx &ctx) {
  auto op = cast<onnx::TopKOp>(raw);
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  MLIRContext *mctx = b.getContext();
  Value x = op.getX();
  auto xT = cast<RankedTensorType>(x.getType());
  int64_t rank = xT.getRank(), axis = normalizeAxis(op.getAxis(), rank);
  // Long f32 rows: radix select (the ranking below is quadratic).
  if (xT.getElementType().isF32() && (rank == 1 || rank == 2) && axis == rank - 1 &&
      !xT.isDynamicDim(axis) && xT.getDimSize(axis) >= kLongTopK)
    return lowerLongTopK(op, ctx);
  bool largest = op.getLargest(), isU = ctx.isUnsigned(x);
  Type elt = xT.getElementType();
  auto i64 = b.getI64Type();
  // 1. ranks[..., j, ...]
  SmallVector<AffineExpr> iExprs;
  for (int64_t d = 0; d < rank; ++d)
    iExprs.push_back(getAffineDimExpr(d == axis ? rank : d, mctx));
  AffineMap idMap = AffineMap::getMultiDimIdentityMap(rank + 1, mctx).getMajorSubMap(rank);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  auto ranksT = xT.clone(i64);
  Value ranks0 = linalg::FillOp::create(
                     b, loc, zeroOf(b, loc, i64),
                     createEmptyLike(b, loc, ranksT, x))
                     .getResult(0);
  Value ranks =
      linalg::GenericOp::create(
          b, loc, ranksT, ValueRange{x, x}, ranks0,
          SmallVector<AffineMap>{idMap, AffineMap::get(rank + 1, 0, iExprs, mctx), idMap},
          iters,
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value xj = a[0], xi = a[1];
            Value j = linalg::IndexOp::create(nb, l, axis), i = linalg::IndexOp::create(nb, l, rank);
            Value better, equal;
            if (isa<FloatType>(elt)) {
              better = arith::CmpFOp::create(nb, l, largest ? arith::CmpFPredicate::OGT
                                                            : arith::CmpFPredicate::OLT, xi, xj);
              equal = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, xi, xj);
            } else {
              auto p = largest ? (isU ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt)
                               : (isU ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt);
              better = arith::CmpIOp::create(nb, l, p, xi, xj);
              equal = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, xi, xj);
            }
            Value earlier = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, i, j);
            Value before = arith::OrIOp::create(nb, l, better,
                                                arith::AndIOp::create(nb, l, equal, earlier));
            Value inc = arith::ExtUIOp::create(nb, l, i64, before);
            linalg::YieldOp::create(nb, l, arith::AddIOp::create(nb, l, a[2], inc).getResult());
          })
          .getResult(0);
  // 2. outputs[..., p, ...] = the element whose rank is p.
  Value k = extractIndex(b, loc, op.getK(), 0);
  auto vT = resultType(op, 0), iT = resultType(op, 1);
  auto outDim = [&](int64_t d) -> Value { return d == axis ? k : dimOf(b, loc, x, d); };
  Value vInit = linalg::FillOp::create(b, loc, zeroOf(b, loc, elt),
                                       createEmpty(b, loc, vT, outDim))
                    .getResult(0);
  Value iInit = linalg::FillOp::create(b, loc, zeroOf(b, loc, i64),
                                       createEmpty(b, loc, iT, outDim))
                    .getResult(0);
  auto sel = linalg::GenericOp::create(
      b, loc, TypeRange{vT, iT}, ValueRange{x, ranks}, ValueRange{vInit, iInit},
      SmallVector<AffineMap>{AffineMap::get(rank + 1, 0, iExprs, mctx),
                             AffineMap::get(rank + 1, 0, iExprs, mctx), idMap, idMap},
      iters, [&](OpBuilder &nb, Location l, ValueRange a) {
        Value p = arith::IndexCastOp::create(nb, l, i64, linalg::IndexOp::create(nb, l, axis));
        Value j = arith::IndexCastOp::create(nb, l, i64, linalg::IndexOp::create(nb, l, rank));
        Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, a[1], p);
        linalg::YieldOp::create(nb, l, ValueRange{arith::SelectOp::create(nb, l, hit, a[0], a[2]),
                                                  arith::SelectOp::create(nb, l, hit, j, a[3])});
      });
  return SmallVector<Value>{sel.getResult(0), sel.getResult(1)};
}

//===----------------------------------------------------------------------===//
// GatherND, ScatterElements, ScatterND, NonZero
//===----------------------------------------------------------------------===//

/// The index tuple indices[prefix..., 0..k) as valid positions into the
/// dims firstDim.. of |data| (GatherND / ScatterND).
static SmallVector<Value> indexTuple(OpBuilder &b, Location l, Value indices,
                                     ValueRange prefix, int64_t k, Value data,
                                     int64_t firstDim) {
  SmallVector<Value> pos;
  for (int64_t j = 0; j < k; ++j) {
    SmallVector<Value> at(prefix.begin(), prefix.end());
    at.push_back(indexCst(b, l, j));
    Value v = tensor::ExtractOp::create(b, l, indices, at);
    pos.push_back(normalizeIndex(b, l, v, dimOf(b, l, data, firstDim + j)));
  }
  return pos;
}

static FailureOr<Value> lowerGatherND(onnx::GatherNDOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value data = op.getData(), indices = op.getIndices();
  auto iT = cast<RankedTensorType>(indices.getType());
  auto rT = resultType(op);
  int64_t q = iT.getRank(), bd = op.getBatchDims();
  int64_t k = iT.getDimSize(q - 1), rank = rT.getRank();
  Value empty = createEmpty(b, loc, rT, [&](int64_t i) -> Value {
    if (i < q - 1)
      return dimOf(b, loc, indices, i);
    return dimOf(b, loc, data, bd + k + (i - (q - 1)));
  });
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, rT, ValueRange{}, empty,
             SmallVector<AffineMap>{b.getMultiDimIdentityMap(rank)}, iters,
             [&](OpBuilder &nb, Location l, ValueRange) {
               SmallVector<Value> out;
               for (int64_t d = 0; d < rank; ++d)
                 out.push_back(linalg::IndexOp::create(nb, l, d));
               SmallVector<Value> idx(out.begin(), out.begin() + bd);
               llvm::append_range(idx, indexTuple(nb, l, indices,
                                                  ArrayRef<Value>(out).take_front(q - 1), k,
                                                  data, bd));
               idx.append(out.begin() + (q - 1), out.end());
               linalg::YieldOp::create(nb, l,
                                       tensor::ExtractOp::create(nb, l, data, idx).getResult());
             })
      .getResult(0);
}

/// Combines an existing element with an update per a scatter reduction.
static Value scatterCombine(OpBuilder &b, Location l, StringRef reduction, Value old,
                            Value upd, bool isUnsigned) {
  bool f = isa<FloatType>(old.getType());
  if (reduction == "add")
    return f ? arith::AddFOp::create(b, l, old, upd).getResult()
             : arith::AddIOp::create(b, l, old, upd).getResult();
  if (reduction == "mul")
    return f ? arith::MulFOp::create(b, l, old, upd).getResult()
             : arith::MulIOp::create(b, l, old, upd).getResult();
  if (reduction == "max")
    return f ? arith::MaximumFOp::create(b, l, old, upd).getResult()
           : isUnsigned ? arith::MaxUIOp::create(b, l, old, upd).getResult()
                        : arith::MaxSIOp::create(b, l, old, upd).getResult();
  if (reduction == "min")
    return f ? arith::MinimumFOp::create(b, l, old, upd).getResult()
           : isUnsigned ? arith::MinUIOp::create(b, l, old, upd).getResult()
                        : arith::MinSIOp::create(b, l, old, upd).getResult();
  return upd;
}

/// Applies the update at |ivs| to |out| at |pos| with |reduction|.
static Value scatterOne(OpBuilder &b, Location l, StringRef reduction, bool isUnsigned,
                        Value updates, ValueRange ivs, Value out, ValueRange pos) {
  Value upd = tensor::ExtractOp::create(b, l, updates, ivs);
  Value old = tensor::ExtractOp::create(b, l, out, pos);
  Value v = scatterCombine(b, l, reduction, old, upd, isUnsigned);
  return tensor::InsertOp::create(b, l, v, out, pos);
}

/// A loop nest over every element of |shaped| (row-major, so updates apply
/// in ONNX's order), threading |init| through; |body| returns the new value.
static Value forEachElement(OpBuilder &b, Location loc, Value shaped, Value init,
                            llvm::function_ref<Value(OpBuilder &, Location, ValueRange,
                                                     Value)> body) {
  auto t = cast<RankedTensorType>(shaped.getType());
  SmallVector<Value> lbs, ubs, steps;
  for (int64_t d = 0; d < t.getRank(); ++d) {
    lbs.push_back(indexCst(b, loc, 0));
    ubs.push_back(dimOf(b, loc, shaped, d));
    steps.push_back(indexCst(b, loc, 1));
  }
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, ubs, steps, ValueRange{init},
      [&](OpBuilder &nb, Location l, ValueRange ivs, ValueRange iter) -> scf::ValueVector {
        return {body(nb, l, ivs, iter[0])};
      });
  return nest.results.empty() ? init : nest.results[0];
}

static FailureOr<Value> lowerScatterElements(onnx::ScatterElementsOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value data = op.getData(), indices = op.getIndices(), updates = op.getUpdates();
  int64_t rank = cast<RankedTensorType>(data.getType()).getRank();
  int64_t axis = normalizeAxis(op.getAxis(), rank);
  bool isU = ctx.isUnsigned(data);
  StringRef reduction = op.getReduction();
  return forEachElement(b, loc, updates, data,
                        [&](OpBuilder &nb, Location l, ValueRange ivs, Value out) -> Value {
                          SmallVector<Value> pos(ivs);
                          Value i = tensor::ExtractOp::create(nb, l, indices, ivs);
                          pos[axis] = normalizeIndex(nb, l, i, dimOf(nb, l, data, axis));
                          return scatterOne(nb, l, reduction, isU, updates, ivs, out, pos);
                        });
}

static FailureOr<Value> lowerScatterND(onnx::ScatterNDOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value data = op.getData(), indices = op.getIndices(), updates = op.getUpdates();
  auto iT = cast<RankedTensorType>(indices.getType());
  int64_t q = iT.getRank(), k = iT.getDimSize(q - 1);
  bool isU = ctx.isUnsigned(data);
  StringRef reduction = op.getReduction();
  return forEachElement(b, loc, updates, data,
                        [&](OpBuilder &nb, Location l, ValueRange ivs, Value out) -> Value {
                          SmallVector<Value> pos =
                              indexTuple(nb, l, indices, ivs.take_front(q - 1), k, data, 0);
                          pos.append(ivs.begin() + (q - 1), ivs.end());
                          return scatterOne(nb, l, reduction, isU, updates, ivs, out, pos);
                        });
}

/// NonZero: count the non-zeros, then one row-major pass writes each one's
/// coordinates into column `count` of a [rank, count] tensor.
static FailureOr<Value> lowerNonZero(onnx::NonZeroOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  Value x = op.getX();
  auto xT = cast<RankedTensorType>(x.getType());
  int64_t rank = xT.getRank();
  Type elt = xT.getElementType(), i64 = b.getI64Type();
  auto isNonZero = [&](OpBuilder &nb, Location l, Value v) -> Value {
    if (isa<FloatType>(elt))
      return arith::CmpFOp::create(nb, l, arith::CmpFPredicate::UNE, v, zeroOf(nb, l, elt));
    return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ne, v, zeroOf(nb, l, elt));
  };
  Value zero = indexCst(b, loc, 0), one = indexCst(b, loc, 1);
  // Pass 1: the count (an scf loop: a data-dependent size is needed first).
  Value countT = tensor::FromElementsOp::create(b, loc, RankedTensorType::get({}, b.getIndexType()),
                                                ValueRange{zero});
  countT = forEachElement(b, loc, x, countT,
                          [&](OpBuilder &nb, Location l, ValueRange ivs, Value acc) -> Value {
                            Value c = tensor::ExtractOp::create(nb, l, acc, ValueRange{});
                            Value nz = isNonZero(nb, l, tensor::ExtractOp::create(nb, l, x, ivs));
                            c = arith::AddIOp::create(
                                nb, l, c, arith::SelectOp::create(nb, l, nz, one, zero));
                            return tensor::InsertOp::create(nb, l, c, acc, ValueRange{});
                          });
  Value count = tensor::ExtractOp::create(b, loc, countT, ValueRange{});
  auto outT = RankedTensorType::get({rank, ShapedType::kDynamic}, i64);
  Value out = tensor::EmptyOp::create(b, loc, outT, ValueRange{count});
  // Pass 2: the coordinates; column index carried in a 0-d tensor.
  Value colT = tensor::FromElementsOp::create(b, loc, RankedTensorType::get({}, b.getIndexType()),
                                              ValueRange{zero});
  SmallVector<Value> lbs(rank, zero), steps(rank, one), ubs;
  for (int64_t d = 0; d < rank; ++d)
    ubs.push_back(dimOf(b, loc, x, d));
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lbs, ubs, steps, ValueRange{out, colT},
      [&](OpBuilder &nb, Location l, ValueRange ivs, ValueRange iter) -> scf::ValueVector {
        Value nz = isNonZero(nb, l, tensor::ExtractOp::create(nb, l, x, ivs));
        auto ifOp = scf::IfOp::create(
            nb, l, nz,
            [&](OpBuilder &tb, Location tl) {
              Value col = tensor::ExtractOp::create(tb, tl, iter[1], ValueRange{});
              Value o = iter[0];
              for (int64_t d = 0; d < rank; ++d) {
                Value c = arith::IndexCastOp::create(tb, tl, i64, ivs[d]);
                o = tensor::InsertOp::create(tb, tl, c, o,
                                             ValueRange{indexCst(tb, tl, d), col});
              }
              Value next = arith::AddIOp::create(tb, tl, col, indexCst(tb, tl, 1));
              Value colNext = tensor::InsertOp::create(tb, tl, next, iter[1], ValueRange{});
              scf::YieldOp::create(tb, tl, ValueRange{o, colNext});
            },
            [&](OpBuilder &eb, Location el) {
              scf::YieldOp::create(eb, el, ValueRange{iter[0], iter[1]});
            });
        return {ifOp.getResult(0), ifOp.getResult(1)};
      });
  Value result = nest.results.empty() ? out : nest.results[0];
  if (result.getType() != resultType(op))
    result = tensor::CastOp::create(b, loc, resultType(op), result);
  return result;
}

void sparsa::lowering::populateIndexingLowerings(LoweringTable &t) {
  addSingle<onnx::GatherNDOp, lowerGatherND>(t);
  addSingle<onnx::NonZeroOp, lowerNonZero>(t);
  addSingle<onnx::ScatterElementsOp, lowerScatterElements>(t);
  addSingle<onnx::ScatterNDOp, lowerScatterND>(t);
  addSingle<onnx::GatherElementsOp, lowerGatherElements>(t);
  addSingle<onnx::GatherOp, lowerGather>(t);
  addSingle<onnx::OneHotOp, lowerOneHot>(t);
  t[TypeID::get<onnx::TopKOp>()] = lowerTopK;
}
