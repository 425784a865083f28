//===- Attention.cpp - sparsa.attention lowering ---------------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers softmax attention block by block. The leading dims fold into one
// batch dim; one parallel task per (batch, block of kRows query rows):
//
//   1. S^T = K (scale Q_blk)^T      [Lk, rows]   (stays in L2)
//   2. S^T += mask                  in place
//   3. m = max over each column; then in one pass S^T = 2^(S^T - m) and
//      l = its column sums
//   4. O = S V / l                  [rows, Dv]   written to the output
//
// so the Lq x Lk scores never reach memory and the contraction kernels
// see two register-blocked GEMMs per task whose B operands (the query
// block, V) are contiguous rows that stay in L1; K is read as it is, with
// no transposed copy. Scores are kept in base 2 (log2 e folded into the
// scale) so the exponential is a short polynomial in 2^x. Blocks of a few
// rows (decoding) keep S [rows, Lk], one dot product per key.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace sparsa::lowering;
namespace sp = sparsa::sparsa;

/// Query rows per task: the scores block (kRows x Lk floats) stays in L2
/// for any Lk up to a few thousand, and there are enough tasks for the
/// threads.
static constexpr int64_t kRows = 64;
/// Query blocks of at most this many rows (static) compute their scores
/// as dot products, [rows, Lk]; larger ones as a GEMM into [Lk, rows].
static constexpr int64_t kDotRows = 4;

/// |mask| (rank <= R) as rank R with its last two dims equal to the scores'
/// [Lq, Lk] wherever they are not statically 1: a dynamic mask dim that
/// turns out to be 1 at run time is broadcast here, once, so the blocked
/// loops can read the mask with static maps.
static Value maskToScores(GenericBuilder &B, Value mask, int64_t rank, Value Lq, Value Lk) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  auto mt = cast<RankedTensorType>(mask.getType());
  if (mt.getRank() < rank) {
    SmallVector<int64_t> shape(rank - mt.getRank(), 1);
    llvm::append_range(shape, mt.getShape());
    llvm::SmallDenseSet<int64_t> unit;
    for (int64_t i = 0; i < rank - mt.getRank(); ++i)
      unit.insert(i);
    mask = expandUnitDims(b, loc, mask, RankedTensorType::get(shape, mt.getElementType()),
                          unit);
    mt = cast<RankedTensorType>(mask.getType());
  }
  if (!mt.isDynamicDim(rank - 2) && !mt.isDynamicDim(rank - 1))
    return mask;
  // Broadcast the last two dims: out[.., i, j] = mask[.., i or 0, j or 0].
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i + 2 < rank; ++i)
    sizes.push_back(tensor::getMixedSize(b, loc, mask, i));
  sizes.push_back(Lq);
  sizes.push_back(Lk);
  Value rowsOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        dimOf(b, loc, mask, rank - 2), B.idx(1));
  Value colsOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        dimOf(b, loc, mask, rank - 1), B.idx(1));
  Value out = B.empty(sizes, mt.getElementType());
  SmallVector<int64_t> all;
  for (int64_t i = 0; i < rank; ++i)
    all.push_back(i);
  return B.generic(ValueRange{}, {}, out, all, rank, {},
                   [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                     SmallVector<Value> idx;
                     for (int64_t i = 0; i < rank; ++i)
                       idx.push_back(linalg::IndexOp::create(nb, l, i));
                     Value zero = indexCst(nb, l, 0);
                     idx[rank - 2] = arith::SelectOp::create(nb, l, rowsOne, zero, idx[rank - 2]);
                     idx[rank - 1] = arith::SelectOp::create(nb, l, colsOne, zero, idx[rank - 1]);
                     return tensor::ExtractOp::create(nb, l, mask, idx);
                   });
}

/// 2^x for the x <= 0 of a softmax in base 2 (x - row max), f32: 15
/// vector ops where a general exp takes about 20. x below -126 (and -inf,
/// a masked score) is raised to -126, so 2^x is at most 1.2e-38 there
/// instead of 0; NaN propagates. The integer part comes from the round-to-
/// nearest of adding 1.5 * 2^23, whose low mantissa bits then hold it, so
/// no float-to-int conversion (poison on NaN) is needed; 2^f on [-0.5,
/// 0.5] is a degree-6 polynomial (relative error 1.1e-7).
static Value exp2NonPositive(OpBuilder &b, Location loc, Value x) {
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  auto f = [&](double v) { return floatCst(b, loc, f32, v); };
  auto i = [&](int32_t v) {
    return arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(v)).getResult();
  };
  Value low = f(-126.0);
  Value under = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, low);
  x = arith::SelectOp::create(b, loc, under, low, x);
  constexpr float kMagic = 12582912.0f; // 1.5 * 2^23
  Value y = arith::AddFOp::create(b, loc, x, f(kMagic));
  Value k = arith::SubFOp::create(b, loc, y, f(kMagic));
  Value r = arith::SubFOp::create(b, loc, x, k);
  static constexpr double kPoly[] = {1.0,
                                     0.6931471824645996,
                                     0.24022650718688965,
                                     0.05550327152013779,
                                     0.00961802527308464,
                                     0.0013400441966950893,
                                     0.0001546974090160802};
  Value p = f(kPoly[6]);
  for (int j = 5; j >= 0; --j)
    p = math::FmaOp::create(b, loc, p, r, f(kPoly[j]));
  // bits(y) = bits(kMagic) + k, so the exponent field of 2^k is
  // (bits(y) - bits(kMagic) + 127) << 23.
  Value bits = arith::BitcastOp::create(b, loc, i32, y);
  Value e = arith::ShLIOp::create(
      b, loc, arith::AddIOp::create(b, loc, bits, i(127 - 0x4B400000)), i(23));
  return arith::MulFOp::create(b, loc, p, arith::BitcastOp::create(b, loc, f32, e));
}

static FailureOr<Value> lowerAttention(sp::AttentionOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  auto resultType = cast<RankedTensorType>(op.getType());
  Type elt = resultType.getElementType();
  GenericBuilder B{b, loc, elt};
  int64_t rank = resultType.getRank();
  bool keyT = op.getKeyTransposed();

  Value q = toBatched(b, loc, op.getQuery());
  Value k = toBatched(b, loc, op.getKey());
  Value v = toBatched(b, loc, op.getValue());
  OpFoldResult NB = tensor::getMixedSize(b, loc, q, 0), Lq = tensor::getMixedSize(b, loc, q, 1),
               D = tensor::getMixedSize(b, loc, q, 2),
               Lk = tensor::getMixedSize(b, loc, k, keyT ? 2 : 1),
               Dv = tensor::getMixedSize(b, loc, v, 2);
  Value LqV = getValueOrCreateConstantIndexOp(b, loc, Lq);
  Value LkV = getValueOrCreateConstantIndexOp(b, loc, Lk);

  // The mask keeps its own (broadcast) batch dims; the task's batch index
  // is split back into the query's leading dims to find its slice.
  Value mask = op.getMask() ? maskToScores(B, op.getMask(), rank, LqV, LkV) : Value();
  SmallVector<Value> leadDims;
  for (int64_t i = 0; i + 2 < rank; ++i)
    leadDims.push_back(dimOf(b, loc, op.getQuery(), i));

  std::optional<int64_t> staticLq = getConstantIntValue(Lq);
  int64_t rows = staticLq ? std::min<int64_t>(kRows, std::max<int64_t>(*staticLq, 1)) : kRows;
  bool evenBlocks = staticLq && *staticLq % rows == 0;
  // A block of many query rows keeps its scores transposed, [Lk, rows]:
  // both products then read their B operand (the query block, V) as
  // contiguous rows, K needs no transposed copy, and the softmax
  // reductions run down the columns as plain vector updates. A few rows
  // (decoding) keep [rows, Lk]: the scores are dot products of the query
  // with K's rows.
  bool transposed = !evenBlocks || rows > kDotRows;
  Value blocks = arith::CeilDivUIOp::create(b, loc, LqV, B.idx(rows));
  Value out = B.empty({NB, Lq, Dv}, elt);
  double scale = op.getScale().convertToDouble();
  bool base2 = elt.isF32();
  double qScale = base2 ? scale * M_LOG2E : scale;

  Value result = forallTiles(
      b, loc, {NB, OpFoldResult(blocks)}, out, [&](ValueRange ivs, Value) -> TaskTile {
        Location l = loc;
        Value bi = ivs[0];
        Value r0 = arith::MulIOp::create(b, l, ivs[1], B.idx(rows));
        OpFoldResult n = b.getIndexAttr(rows);
        if (!evenBlocks)
          n = arith::MinUIOp::create(b, l, B.idx(rows), arith::SubIOp::create(b, l, LqV, r0))
                  .getResult();
        OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
        auto slice = [&](Value t, OpFoldResult off, OpFoldResult n1, OpFoldResult n2) {
          SmallVector<OpFoldResult> offs = {bi, off, zero}, sizes = {one, n1, n2};
          auto tt = cast<RankedTensorType>(t.getType());
          auto rt = RankedTensorType::get({getConstantIntValue(n1).value_or(ShapedType::kDynamic),
                                           getConstantIntValue(n2).value_or(ShapedType::kDynamic)},
                                          tt.getElementType());
          return tensor::ExtractSliceOp::create(b, l, rt, t, offs, sizes,
                                                SmallVector<OpFoldResult>(3, one))
              .getResult();
        };
        Value qs = slice(q, r0, n, D);
        Value ks = keyT ? slice(k, zero, D, Lk) : slice(k, zero, Lk, D);
        Value vs = slice(v, zero, Lk, Dv);
        Value fzero = zeroOf(b, l, elt);
        // Loop dims of a scores-shaped generic: (query row, key) in the
        // scores' own order.
        auto sdims = [&](int64_t qd, int64_t kd) {
          return transposed ? SmallVector<int64_t>{kd, qd} : SmallVector<int64_t>{qd, kd};
        };
        int64_t qLoop = transposed ? 1 : 0, kLoop = transposed ? 0 : 1;
        SmallVector<OpFoldResult> sShape =
            transposed ? SmallVector<OpFoldResult>{Lk, n} : SmallVector<OpFoldResult>{n, Lk};
        // 1. Scores. The scale (times log2 e: f32 scores are kept in base
        //    2, so exp becomes 2^x) goes into the query block: rows x D
        //    products rather than rows x Lk.
        auto scaleQ = [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
          if (qScale == 1.0)
            return a[0];
          return arith::MulFOp::create(gb, gl, a[0], floatCst(gb, gl, elt, qScale));
        };
        Value s;
        if (transposed) {
          // S^T [Lk, rows] = K [Lk, D] x (scale Q)^T [D, rows].
          Value qt = B.generic(qs, {{1, 0}}, B.empty({D, n}, elt), {0, 1}, 2, {}, scaleQ);
          SmallVector<int64_t> kDims = keyT ? SmallVector<int64_t>{2, 0} : SmallVector<int64_t>{0, 2};
          s = B.generic(ValueRange{ks, qt}, {kDims, {2, 1}}, B.filled(sShape, elt, fzero), {0, 1},
                        3, {2}, [](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                          return arith::AddFOp::create(gb, gl, a[2],
                                                       arith::MulFOp::create(gb, gl, a[0], a[1]));
                        });
        } else {
          // S [rows, Lk]: one dot product of a query row with a key.
          if (qScale != 1.0)
            qs = B.generic(qs, {{0, 1}}, B.empty({n, D}, elt), {0, 1}, 2, {}, scaleQ);
          SmallVector<int64_t> kDims = keyT ? SmallVector<int64_t>{2, 1} : SmallVector<int64_t>{1, 2};
          s = B.generic(ValueRange{qs, ks}, {{0, 2}, kDims}, B.filled(sShape, elt, fzero), {0, 1},
                        3, {2}, [](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                          return arith::AddFOp::create(gb, gl, a[2],
                                                       arith::MulFOp::create(gb, gl, a[0], a[1]));
                        });
        }
        // The tile's index along each leading dim, and its index into an
        // operand of those dims that broadcasts (size-1 dims read index 0).
        SmallVector<Value> lead(rank - 2);
        Value rest = bi;
        for (int64_t i = rank - 3; i >= 0; --i) {
          lead[i] = arith::RemUIOp::create(b, l, rest, leadDims[i]);
          rest = arith::DivUIOp::create(b, l, rest, leadDims[i]);
        }
        auto leadIndex = [&](Value t, int64_t i) -> Value {
          Value bcast = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, dimOf(b, l, t, i),
                                              B.idx(1));
          return arith::SelectOp::create(b, l, bcast, B.idx(0), lead[i]);
        };
        // 2. The mask, added in place.
        if (mask) {
          auto mt = cast<RankedTensorType>(mask.getType());
          SmallVector<OpFoldResult> offs, sizes;
          for (int64_t i = 0; i + 2 < rank; ++i) {
            offs.push_back(leadIndex(mask, i));
            sizes.push_back(one);
          }
          bool rowBcast = mt.getDimSize(rank - 2) == 1, colBcast = mt.getDimSize(rank - 1) == 1;
          offs.push_back(rowBcast ? zero : OpFoldResult(r0));
          sizes.push_back(rowBcast ? one : n);
          offs.push_back(zero);
          sizes.push_back(colBcast ? one : Lk);
          auto rt = RankedTensorType::get(
              {rowBcast ? 1 : getConstantIntValue(n).value_or(ShapedType::kDynamic),
               colBcast ? 1 : getConstantIntValue(Lk).value_or(ShapedType::kDynamic)},
              elt);
          Value ms = tensor::ExtractSliceOp::create(b, l, rt, mask, offs, sizes,
                                                    SmallVector<OpFoldResult>(rank, one));
          s = B.generic(ms, {{rowBcast ? -1 : qLoop, colBcast ? -1 : kLoop}}, s, {0, 1}, 2, {},
                        [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                          Value m = a[0];
                          if (base2)
                            m = arith::MulFOp::create(gb, gl, m, floatCst(gb, gl, elt, M_LOG2E));
                          return arith::AddFOp::create(gb, gl, a[1], m);
                        });
        }
        // 3. Max over each query's scores, exp in place, sum. A sink joins
        //    the max and starts the sum (in the scores' base).
        Value sink;
        if (Value sinks = op.getSinks()) {
          SmallVector<Value> at;
          for (int64_t i = 0; i + 2 < rank; ++i)
            at.push_back(leadIndex(sinks, i));
          sink = tensor::ExtractOp::create(b, l, sinks, at);
          if (base2)
            sink = arith::MulFOp::create(b, l, sink, floatCst(b, l, elt, M_LOG2E));
        }
        Value lowest = sink ? sink
                            : floatCst(b, l, elt, -std::numeric_limits<double>::infinity());
        SmallVector<int64_t> sd = sdims(qLoop, kLoop);
        Value mx = B.generic(s, {sd}, B.filled({n}, elt, lowest), {qLoop}, 2, {kLoop},
                             [](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                               return arith::MaximumFOp::create(gb, gl, a[0], a[1]);
                             });
        // The exponentials and their sums in one pass (two outputs: the
        // scores in place, and per query the sum over keys).
        Value sumInit = B.filled({n}, elt, fzero);
        if (sink)
          sumInit = B.generic(mx, {{0}}, B.empty({n}, elt), {0}, 1, {},
                              [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                                Value x = arith::SubFOp::create(gb, gl, sink, a[0]);
                                return base2 ? exp2NonPositive(gb, gl, x)
                                             : math::ExpOp::create(gb, gl, x).getResult();
                              });
        MLIRContext *mctx = b.getContext();
        auto dmap = [&](ArrayRef<int64_t> dims) {
          SmallVector<AffineExpr> e;
          for (int64_t d : dims)
            e.push_back(getAffineDimExpr(d, mctx));
          return AffineMap::get(2, 0, e, mctx);
        };
        SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
        iters[kLoop] = utils::IteratorType::reduction;
        auto expSum = linalg::GenericOp::create(
            b, l, TypeRange{s.getType(), sumInit.getType()}, ValueRange{mx},
            ValueRange{s, sumInit},
            ArrayRef<AffineMap>{dmap({qLoop}), dmap(sd), dmap({qLoop})}, iters,
            [&](OpBuilder &gb, Location gl, ValueRange a) {
              Value x = arith::SubFOp::create(gb, gl, a[1], a[0]);
              Value e = base2 ? exp2NonPositive(gb, gl, x)
                              : math::ExpOp::create(gb, gl, x).getResult();
              linalg::YieldOp::create(gb, gl,
                                      ValueRange{e, arith::AddFOp::create(gb, gl, a[2], e)});
            });
        Value p = expSum.getResult(0), sum = expSum.getResult(1);
        // 4. Weighted values, normalized: O [rows, Dv] = P V / sum, P read
        //    through the transposed map when the scores are [Lk, rows].
        SmallVector<int64_t> pDims = transposed ? SmallVector<int64_t>{2, 0} : SmallVector<int64_t>{0, 2};
        Value o = B.generic(ValueRange{p, vs}, {pDims, {2, 1}}, B.filled({n, Dv}, elt, fzero),
                            {0, 1}, 3, {2}, [](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                              return arith::AddFOp::create(
                                  gb, gl, a[2], arith::MulFOp::create(gb, gl, a[0], a[1]));
                            });
        bool nanRowsZero = op.getNanRowsZero();
        o = B.generic(sum, {{0}}, o, {0, 1}, 2, {},
                      [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                        Value r = arith::DivFOp::create(gb, gl, a[1], a[0]);
                        if (!nanRowsZero)
                          return r;
                        // A NaN row sum (max -inf, or a NaN score) makes every
                        // probability of the row NaN: Where(IsNaN(p), 0, p).
                        Value nan = arith::CmpFOp::create(gb, gl, arith::CmpFPredicate::UNO,
                                                          a[0], a[0]);
                        return arith::SelectOp::create(gb, gl, nan, floatCst(gb, gl, elt, 0.0),
                                                       r);
                      });
        return {o, {bi, r0, zero}, {one, n, Dv}};
      });
  return fromBatched(b, loc, result, op.getQuery(), resultType);
}

void sparsa::lowering::populateAttentionLowerings(LoweringTable &t) {
  addSingle<sp::AttentionOp, lowerAttention>(t);
}
