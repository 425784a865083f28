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
#include "mlir/Dialect/Vector/IR/VectorOps.h"

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
  Value r2 = arith::MulFOp::create(b, loc, p, arith::BitcastOp::create(b, loc, f32, e));
  return arith::SelectOp::create(b, loc, under, f(0.0), r2);
}

/// A mask value at or below this masks its key: -inf, the dtype minimum
/// exporters fill with, BERT's -10000. Such a key's exponential underflows
/// to exactly 0 in any row that keeps some other key, so leaving it out
/// changes nothing.
static constexpr double kDeadMask = -1.0e4;

/// Per mask row, as f32 key positions: [lo, hi) from the first to the last
/// key the row keeps (lo = +inf, hi = -inf where it keeps none), and
/// [zlo, zhi) from the first to the last key its mask is not 0 for.
struct MaskRanges {
  Value lo, hi, zlo, zhi;
};

/// MaskRanges of |mask| (rank R, its key dim not broadcast), with the
/// mask's own (broadcast) leading dims: four min / max row reductions over
/// the mask and a row of key positions, which vectorize as any softmax's.
static MaskRanges maskRanges(GenericBuilder &B, Value mask, int64_t rank) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type f32 = b.getF32Type();
  OpFoldResult lk = tensor::getMixedSize(b, loc, mask, rank - 1);
  Value pos = B.generic(ValueRange{}, {}, B.empty({lk}, f32), {0}, 1, {},
                        [&](OpBuilder &gb, Location gl, ValueRange) -> Value {
                          Value j = linalg::IndexOp::create(gb, gl, 0);
                          Value i = arith::IndexCastOp::create(gb, gl, gb.getI64Type(), j);
                          return arith::SIToFPOp::create(gb, gl, f32, i);
                        });
  SmallVector<OpFoldResult> rowShape;
  SmallVector<int64_t> all, rowDims;
  for (int64_t i = 0; i < rank; ++i) {
    all.push_back(i);
    if (i + 1 < rank) {
      rowShape.push_back(tensor::getMixedSize(b, loc, mask, i));
      rowDims.push_back(i);
    }
  }
  double inf = std::numeric_limits<double>::infinity();
  // One reduction: over keys j, min (or max) of pos_j (+ 1 for an end)
  // where |pred|(mask, threshold) holds.
  auto reduce = [&](arith::CmpFPredicate pred, double threshold, bool end) {
    Value init = B.filled(rowShape, f32, floatCst(b, loc, f32, end ? -inf : inf));
    return B.generic(ValueRange{mask, pos}, {all, {rank - 1}}, init, rowDims, rank, {rank - 1},
                     [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                       Value hit = arith::CmpFOp::create(gb, gl, pred, a[0],
                                                         floatCst(gb, gl, f32, threshold));
                       Value at = a[1];
                       if (end)
                         at = arith::AddFOp::create(gb, gl, at, floatCst(gb, gl, f32, 1.0));
                       Value v = arith::SelectOp::create(
                           gb, gl, hit, at, floatCst(gb, gl, f32, end ? -inf : inf));
                       if (end)
                         return arith::MaximumFOp::create(gb, gl, a[2], v);
                       return arith::MinimumFOp::create(gb, gl, a[2], v);
                     });
  };
  // Kept: above the threshold, or NaN (which must reach the output).
  // Not 0: anything else, NaN included.
  return {reduce(arith::CmpFPredicate::UGT, kDeadMask, false),
          reduce(arith::CmpFPredicate::UGT, kDeadMask, true),
          reduce(arith::CmpFPredicate::UNE, 0.0, false),
          reduce(arith::CmpFPredicate::UNE, 0.0, true)};
}

/// What a block of query rows [r0, r0 + n) computes: the keys [lo, lo +
/// len), the union of its rows' kept keys, or all keys where a row keeps
/// none (its softmax is then the reference's over every key: NaN, zeros,
/// or near-uniform over keys masked by a finite value); and the keys
/// [wlo, wlo + wlen) among those where its mask is not 0, the only ones
/// the mask must be added to.
struct BlockKeys {
  Value lo, len, wlo, wlen;
};

static BlockKeys blockKeys(GenericBuilder &B, const MaskRanges &mr, ArrayRef<Value> leadAt,
                           bool rowBcast, Value r0, OpFoldResult n, Value lk) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type f32 = b.getF32Type();
  double inf = std::numeric_limits<double>::infinity();
  auto at = [&](OpBuilder &ob, Value t, Value row) {
    SmallVector<Value> idx(leadAt);
    idx.push_back(row);
    return tensor::ExtractOp::create(ob, loc, t, idx).getResult();
  };
  // Over the block's rows: min lo, max hi, min zlo, max zhi, and whether
  // some row keeps no key (its lo is +inf).
  SmallVector<Value> acc;
  Value empty;
  if (rowBcast) {
    Value zero = B.idx(0);
    for (Value t : {mr.lo, mr.hi, mr.zlo, mr.zhi})
      acc.push_back(at(b, t, zero));
    empty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, acc[0],
                                  floatCst(b, loc, f32, inf));
  } else {
    Value end = arith::AddIOp::create(b, loc, r0, getValueOrCreateConstantIndexOp(b, loc, n));
    SmallVector<Value> init = {floatCst(b, loc, f32, inf), floatCst(b, loc, f32, -inf),
                               floatCst(b, loc, f32, inf), floatCst(b, loc, f32, -inf),
                               arith::ConstantOp::create(b, loc, b.getBoolAttr(false))};
    auto loop = scf::ForOp::create(
        b, loc, r0, end, B.idx(1), init, [&](OpBuilder &lb, Location ll, Value r, ValueRange a) {
          Value lo = at(lb, mr.lo, r);
          Value none = arith::CmpFOp::create(lb, ll, arith::CmpFPredicate::OEQ, lo,
                                             floatCst(lb, ll, f32, inf));
          scf::YieldOp::create(
              lb, ll,
              ValueRange{arith::MinimumFOp::create(lb, ll, a[0], lo),
                         arith::MaximumFOp::create(lb, ll, a[1], at(lb, mr.hi, r)),
                         arith::MinimumFOp::create(lb, ll, a[2], at(lb, mr.zlo, r)),
                         arith::MaximumFOp::create(lb, ll, a[3], at(lb, mr.zhi, r)),
                         arith::OrIOp::create(lb, ll, a[4], none)});
        });
    acc.assign(loop.getResults().begin(), std::prev(loop.getResults().end()));
    empty = loop.getResults().back();
  }
  // Positions as indices, clamped to [0, Lk] first (+-inf included).
  Value lkF = arith::SIToFPOp::create(
      b, loc, f32, arith::IndexCastOp::create(b, loc, b.getI64Type(), lk));
  auto toIndex = [&](Value f) -> Value {
    f = arith::MaximumFOp::create(b, loc, f, floatCst(b, loc, f32, 0.0));
    f = arith::MinimumFOp::create(b, loc, f, lkF);
    Value i = arith::FPToSIOp::create(b, loc, b.getI64Type(), f);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), i);
  };
  Value lo = arith::SelectOp::create(b, loc, empty, B.idx(0), toIndex(acc[0]));
  Value hi = arith::SelectOp::create(b, loc, empty, lk, toIndex(acc[1]));
  hi = arith::MaxUIOp::create(b, loc, hi, lo);
  Value wlo = arith::MaxUIOp::create(b, loc, lo, toIndex(acc[2]));
  Value whi = arith::MaxUIOp::create(b, loc, wlo,
                                     arith::MinUIOp::create(b, loc, hi, toIndex(acc[3])));
  return {lo, arith::SubIOp::create(b, loc, hi, lo), wlo,
          arith::SubIOp::create(b, loc, whi, wlo)};
}

/// Side of the tiles the mask is transposed in.
static constexpr int64_t kTile = 16;

/// The kTile x kTile tile |rows| (kTile vectors) transposed: log2(kTile)
/// stages of two-source shuffles, each swapping the off-diagonal s x s
/// blocks of every 2s x 2s block (s = kTile / 2, ..., 1).
static SmallVector<Value> transposeTile(OpBuilder &b, Location loc, SmallVector<Value> rows) {
  for (int64_t s = kTile / 2; s >= 1; s /= 2) {
    SmallVector<int64_t> lo(kTile), hi(kTile);
    for (int64_t j = 0; j < kTile; ++j) {
      lo[j] = (j & s) == 0 ? j : kTile + j - s;
      hi[j] = (j & s) == 0 ? j + s : kTile + j;
    }
    for (int64_t i = 0; i < kTile; ++i) {
      if (i & s)
        continue;
      Value a = rows[i], c = rows[i | s];
      rows[i] = vector::ShuffleOp::create(b, loc, a, c, lo);
      rows[i | s] = vector::ShuffleOp::create(b, loc, a, c, hi);
    }
  }
  return rows;
}

/// dst [C, R] (+)= scale * src^T for src [R, C] (f32), R a static
/// multiple of kTile, adding to dst where |accumulate|: whole kTile x kTile
/// tiles transposed in registers (a transposed read would be a gather per
/// element); the last C % kTile columns of src, if any, by a generic.
static Value addTransposed(GenericBuilder &B, Value dst, Value src, double scale,
                           bool accumulate = true) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type f32 = b.getF32Type();
  auto vt = VectorType::get({kTile}, f32);
  int64_t rows = cast<RankedTensorType>(src.getType()).getDimSize(0);
  Value cols = dimOf(b, loc, dst, 0);
  Value tile = B.idx(kTile);
  Value full = arith::MulIOp::create(b, loc, arith::DivUIOp::create(b, loc, cols, tile), tile);
  Value pad = floatCst(b, loc, f32, 0.0);
  Value sv = vector::BroadcastOp::create(b, loc, vt, floatCst(b, loc, f32, scale));
  auto overCols = scf::ForOp::create(
      b, loc, B.idx(0), full, tile, ValueRange{dst},
      [&](OpBuilder &kb, Location kl, Value k0, ValueRange kAcc) {
        Value acc = kAcc[0];
        for (int64_t q0 = 0; q0 < rows; q0 += kTile) {
          SmallVector<Value> m;
          for (int64_t i = 0; i < kTile; ++i)
            m.push_back(vector::TransferReadOp::create(kb, kl, vt, src,
                                                       ValueRange{indexCst(kb, kl, q0 + i), k0},
                                                       pad, ArrayRef<bool>{true}));
          m = transposeTile(kb, kl, m);
          Value q0v = indexCst(kb, kl, q0);
          for (int64_t j = 0; j < kTile; ++j) {
            Value kj = arith::AddIOp::create(kb, kl, k0, indexCst(kb, kl, j));
            Value sRow;
            if (accumulate) {
              sRow = vector::TransferReadOp::create(kb, kl, vt, acc, ValueRange{kj, q0v}, pad,
                                                    ArrayRef<bool>{true});
              sRow = vector::FMAOp::create(kb, kl, m[j], sv, sRow);
            } else {
              sRow = arith::MulFOp::create(kb, kl, m[j], sv);
            }
            acc = vector::TransferWriteOp::create(kb, kl, sRow, acc, ValueRange{kj, q0v},
                                                  ArrayRef<bool>{true})
                      .getResult();
          }
        }
        scf::YieldOp::create(kb, kl, acc);
      });
  Value out = overCols.getResult(0);
  if (std::optional<int64_t> c = getConstantIntValue(cols); c && *c % kTile == 0)
    return out;
  // The last C % kTile columns.
  Value rest = arith::SubIOp::create(b, loc, cols, full);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1), r = b.getIndexAttr(rows);
  auto dyn = RankedTensorType::get({ShapedType::kDynamic, rows}, f32);
  Value sTail = tensor::ExtractSliceOp::create(b, loc, dyn, out, ArrayRef<OpFoldResult>{full, zero},
                                               ArrayRef<OpFoldResult>{rest, r},
                                               ArrayRef<OpFoldResult>{one, one});
  Value mTail = tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({rows, ShapedType::kDynamic}, f32), src,
      ArrayRef<OpFoldResult>{zero, full}, ArrayRef<OpFoldResult>{r, rest},
      ArrayRef<OpFoldResult>{one, one});
  sTail = B.generic(mTail, {{1, 0}}, sTail, {0, 1}, 2, {},
                    [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                      Value c = floatCst(gb, gl, f32, scale);
                      if (!accumulate)
                        return arith::MulFOp::create(gb, gl, a[0], c);
                      return math::FmaOp::create(gb, gl, a[0], c, a[1]);
                    });
  return tensor::InsertSliceOp::create(b, loc, sTail, out, ArrayRef<OpFoldResult>{full, zero},
                                       ArrayRef<OpFoldResult>{rest, r},
                                       ArrayRef<OpFoldResult>{one, one});
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
  // Sizes known only at run time must agree (a sparsa-run-checks check):
  // K's and V's leading dims the query's or 1, V's positions K's. The run
  // then fails with the check's message, and the loops run over the
  // positions both have, so nothing is read out of bounds.
  if (op->hasAttr(::sparsa::sparsa::kCheckAttrName)) {
    Value bad = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
    auto ne = [&](Value x, Value y) {
      return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x, y).getResult();
    };
    auto qt = cast<RankedTensorType>(op.getQuery().getType());
    for (Value in : {op.getKey(), op.getValue()})
      for (int64_t i = 0; i + 2 < rank; ++i) {
        if (!cast<RankedTensorType>(in.getType()).isDynamicDim(i) && !qt.isDynamicDim(i))
          continue; // static: the verifier checked it
        Value d = dimOf(b, loc, in, i);
        bad = arith::OrIOp::create(
            b, loc, bad,
            arith::AndIOp::create(b, loc, ne(d, B.idx(1)), ne(d, dimOf(b, loc, op.getQuery(), i))));
      }
    Value lv = dimOf(b, loc, v, 1);
    bad = arith::OrIOp::create(b, loc, bad, ne(getValueOrCreateConstantIndexOp(b, loc, Lk), lv));
    failCheckIf(B, op, bad);
    Lk = arith::MinUIOp::create(b, loc, getValueOrCreateConstantIndexOp(b, loc, Lk), lv)
             .getResult();
  }
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
  // Masked keys: a block of query rows computes only the keys between the
  // first and the last that any of its rows keeps, and adds the mask only
  // where it is not 0 (maskRanges, blockKeys): a causal block skips the
  // keys after its last row and adds the mask on its diagonal only.
  bool base2 = elt.isF32();
  MaskRanges ranges;
  bool rowBcast = false, colBcast = false;
  if (mask) {
    auto mt = cast<RankedTensorType>(mask.getType());
    rowBcast = mt.getDimSize(rank - 2) == 1;
    colBcast = mt.getDimSize(rank - 1) == 1;
    if (!colBcast)
      ranges = maskRanges(B, mask, rank);
  }
  // The mask in the scores' base: f32 scores are in base 2, so the mask is
  // scaled by log2 e, once per call. A finite mask value below -FLT_MAX /
  // log2 e (the dtype minimum exporters fill with) stays finite, at
  // -FLT_MAX: a row masked by it everywhere weighs its keys equally, as
  // the reference does, rather than turning NaN as -inf does.
  Value maskAdd = mask;
  if (mask && base2) {
    SmallVector<int64_t> all;
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i) {
      all.push_back(i);
      sizes.push_back(tensor::getMixedSize(b, loc, mask, i));
    }
    maskAdd = B.generic(mask, {all}, B.empty(sizes, elt), all, rank, {},
                        [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                          Value m = arith::MulFOp::create(gb, gl, a[0],
                                                          floatCst(gb, gl, elt, M_LOG2E));
                          Value lowest = floatCst(gb, gl, elt,
                                                  -std::numeric_limits<float>::max());
                          Value ninf = arith::CmpFOp::create(
                              gb, gl, arith::CmpFPredicate::OEQ, a[0],
                              floatCst(gb, gl, elt, -std::numeric_limits<double>::infinity()));
                          return arith::SelectOp::create(
                              gb, gl, ninf, m, arith::MaximumFOp::create(gb, gl, m, lowest));
                        });
  }
  Value blocks = arith::CeilDivUIOp::create(b, loc, LqV, B.idx(rows));
  Value out = B.empty({NB, Lq, Dv}, elt);
  double scale = op.getScale().convertToDouble();
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
        SmallVector<Value> maskLead;
        for (int64_t i = 0; mask && i + 2 < rank; ++i)
          maskLead.push_back(leadIndex(mask, i));
        // The keys this block computes, [kLo, kLo + kLen), and those the
        // mask is added to, [wLo, wLo + wLen).
        OpFoldResult kLo = zero, kLen = Lk, wLo = zero, wLen = Lk;
        if (ranges.lo) {
          BlockKeys bk = blockKeys(B, ranges, maskLead, rowBcast, r0, n, LkV);
          kLo = bk.lo;
          kLen = bk.len;
          wLo = bk.wlo;
          wLen = bk.wlen;
        }
        // K's and V's batch row: the task's leading indices, index 0 along
        // a dim of size 1 (MatMul broadcasts it), divided by the group
        // along a static dim the query's is a multiple of (grouped-query
        // attention's kv heads), clamped into a dim that disagrees at run
        // time (a run check reports it).
        auto rowOf = [&](Value orig) -> OpFoldResult {
          auto ot = cast<RankedTensorType>(orig.getType());
          auto qt = cast<RankedTensorType>(op.getQuery().getType());
          if (ot.getShape().drop_back(2) == qt.getShape().drop_back(2) &&
              ShapedType::isStaticShape(ot.getShape().drop_back(2)))
            return bi;
          Value row = B.idx(0);
          for (int64_t i = 0; i + 2 < rank; ++i) {
            Value d = dimOf(b, l, orig, i);
            int64_t od = ot.getDimSize(i), qd = qt.getDimSize(i);
            Value at = leadIndex(orig, i);
            if (!ShapedType::isDynamic(od) && !ShapedType::isDynamic(qd) && od > 1 && od != qd)
              at = arith::DivUIOp::create(b, l, lead[i], B.idx(qd / od));
            at = arith::MinUIOp::create(b, l, at, arith::SubIOp::create(b, l, d, B.idx(1)));
            row = arith::AddIOp::create(b, l, arith::MulIOp::create(b, l, row, d), at);
          }
          return row;
        };
        OpFoldResult kRow = rowOf(op.getKey()), vRow = rowOf(op.getValue());
        auto slice2 = [&](Value t, OpFoldResult off1, OpFoldResult off2, OpFoldResult n1,
                          OpFoldResult n2) {
          OpFoldResult at = t == k ? kRow : t == v ? vRow : OpFoldResult(bi);
          SmallVector<OpFoldResult> offs = {at, off1, off2}, sizes = {one, n1, n2};
          auto tt = cast<RankedTensorType>(t.getType());
          auto rt = RankedTensorType::get({getConstantIntValue(n1).value_or(ShapedType::kDynamic),
                                           getConstantIntValue(n2).value_or(ShapedType::kDynamic)},
                                          tt.getElementType());
          return tensor::ExtractSliceOp::create(b, l, rt, t, offs, sizes,
                                                SmallVector<OpFoldResult>(3, one))
              .getResult();
        };
        Value qs = slice2(q, r0, zero, n, D);
        Value ks = keyT ? slice2(k, zero, kLo, D, kLen) : slice2(k, kLo, zero, kLen, D);
        Value vs = slice2(v, kLo, zero, kLen, Dv);
        Value fzero = zeroOf(b, l, elt);
        // Loop dims of a scores-shaped generic: (query row, key) in the
        // scores' own order.
        auto sdims = [&](int64_t qd, int64_t kd) {
          return transposed ? SmallVector<int64_t>{kd, qd} : SmallVector<int64_t>{qd, kd};
        };
        int64_t qLoop = transposed ? 1 : 0, kLoop = transposed ? 0 : 1;
        SmallVector<OpFoldResult> sShape =
            transposed ? SmallVector<OpFoldResult>{kLen, n} : SmallVector<OpFoldResult>{n, kLen};
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
          std::optional<int64_t> nRows = getConstantIntValue(n);
          Value qt = elt.isF32() && nRows && *nRows % kTile == 0
                         ? addTransposed(B, B.empty({D, n}, elt), qs, qScale, false)
                         : B.generic(qs, {{1, 0}}, B.empty({D, n}, elt), {0, 1}, 2, {}, scaleQ);
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
        // 2. The mask, added in place where it is not 0: on the keys
        //    [wLo, wLo + wLen), from key wOff of the scores on.
        if (mask) {
          OpFoldResult wOff = zero, wKeys = kLen;
          if (ranges.lo) {
            wOff = arith::SubIOp::create(b, l, getValueOrCreateConstantIndexOp(b, l, wLo),
                                         getValueOrCreateConstantIndexOp(b, l, kLo))
                       .getResult();
            wKeys = wLen;
          }
          SmallVector<OpFoldResult> offs, sizes;
          for (Value i : maskLead) {
            offs.push_back(i);
            sizes.push_back(one);
          }
          offs.append({rowBcast ? zero : OpFoldResult(r0), colBcast ? zero : wLo});
          sizes.append({rowBcast ? one : n, colBcast ? one : wKeys});
          auto staticOr = [](OpFoldResult f) {
            return getConstantIntValue(f).value_or(ShapedType::kDynamic);
          };
          auto rt = RankedTensorType::get({staticOr(sizes[rank - 2]), staticOr(sizes[rank - 1])},
                                          elt);
          Value ms = tensor::ExtractSliceOp::create(b, l, rt, maskAdd, offs, sizes,
                                                    SmallVector<OpFoldResult>(rank, one));
          SmallVector<OpFoldResult> wOffs = {zero, wOff}, wSizes = {n, wKeys};
          if (transposed) {
            std::swap(wOffs[0], wOffs[1]);
            std::swap(wSizes[0], wSizes[1]);
          }
          SmallVector<OpFoldResult> unit(2, one);
          auto wt = RankedTensorType::get({staticOr(wSizes[0]), staticOr(wSizes[1])}, elt);
          Value sw = tensor::ExtractSliceOp::create(b, l, wt, s, wOffs, wSizes, unit);
          std::optional<int64_t> nRows = getConstantIntValue(n);
          if (transposed && elt.isF32() && !rowBcast && !colBcast && nRows &&
              *nRows % kTile == 0)
            sw = addTransposed(B, sw, ms, 1.0);
          else
            sw = B.generic(ms, {{rowBcast ? -1 : qLoop, colBcast ? -1 : kLoop}}, sw, {0, 1}, 2, {},
                         [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                           return arith::AddFOp::create(gb, gl, a[1], a[0]);
                         });
          s = tensor::InsertSliceOp::create(b, l, sw, s, wOffs, wSizes, unit);
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
