//===- FlowAttention.cpp - flow and linear attention lowering --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers sparsa.flow_attention and sparsa.linear_attention in time linear
// in the sequence length. The leading dims fold into one batch dim; one
// parallel task per (batch, head) works on its [L, D] slices:
//
//  - non-causal: the feature-mapped keys and values are reduced once into
//    a D x Dv state (K'^T V, a GEMM over positions) and the normalizer
//    vectors (column sums, D wide); the queries then read the state (a
//    GEMM), scaled per row.
//  - causal: the prefix sums over positions are row scans (one D-wide
//    vector update per position), and the product is a chunked scan: per
//    block of chunk_size positions, out = q_c S + tril(q_c k_c^T) v_c and
//    S += k_c^T v_c, three small GEMMs on data that stays in L1.
//
// Every reduction is written so the CPU passes get the forms they vectorize:
// row reductions over the contiguous feature dim, column sums as vector
// updates, and contractions whose B and C rows are contiguous. Nothing L x S
// or L x D x Dv exists.
//
// ONNX's LinearAttention (every update rule) runs as its recurrence, one
// task per (batch, kv head, block of state columns) with the state in
// cache: one or two passes over the state's rows per position.
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
namespace onnx = sparsa::onnx;

namespace {
/// Builds one (batch, head) task's tensors: [n, D] matrices, [n] and [D]
/// vectors.
struct HeadBuilder {
  GenericBuilder &B;
  OpFoldResult L, D, Dv;
  int64_t chunk;
  /// The task's [L, Dv] slice of the result, when the product should write
  /// there directly (no copy of the whole head's output afterwards).
  Value outInit = nullptr;

  OpBuilder &b() { return B.b; }
  Location loc() { return B.loc; }
  Type elt() { return B.elt; }
  Value zero() { return zeroOf(B.b, B.loc, B.elt); }
  Value zeros(ArrayRef<OpFoldResult> sizes) { return B.filled(sizes, elt(), zero()); }
  OpFoldResult rowsOf(Value x) { return tensor::getMixedSize(b(), loc(), x, 0); }
  OpFoldResult colsOf(Value x) { return tensor::getMixedSize(b(), loc(), x, 1); }

  /// phi(x) element-wise.
  Value feature(Value x, StringRef map) {
    if (map == "identity")
      return x;
    return B.generic(x, {{0, 1}}, B.empty({rowsOf(x), colsOf(x)}, elt()), {0, 1}, 2, {},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value v = a[0];
                       Value one = B.fcst(nb, l, 1.0);
                       if (map == "relu")
                         return arith::MaximumFOp::create(nb, l, v, B.fcst(nb, l, 0.0));
                       if (map == "elu1") {
                         Value pos = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, v,
                                                           B.fcst(nb, l, 0.0));
                         return arith::SelectOp::create(nb, l, pos,
                                                        arith::AddFOp::create(nb, l, v, one),
                                                        math::ExpOp::create(nb, l, v));
                       }
                       Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, v));
                       return arith::DivFOp::create(nb, l, one,
                                                    arith::AddFOp::create(nb, l, one, e));
                     });
  }

  /// sum over rows of x [n, c] -> [c] (a vector update per row).
  Value colSum(Value x) {
    return B.generic(x, {{0, 1}}, zeros({colsOf(x)}), {1}, 2, {0},
                     [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return arith::AddFOp::create(nb, l, a[1], a[0]);
                     });
  }

  /// [n]: (x_i + ex) . (w + ew) for each row x_i of x [n, D] with the
  /// vector w [D], or with row i of w when w is an [n, D] matrix too.
  Value rowDot(Value x, double ex, Value w, double ew) {
    bool rows = cast<RankedTensorType>(w.getType()).getRank() == 2;
    SmallVector<int64_t> wDims = rows ? SmallVector<int64_t>{0, 1} : SmallVector<int64_t>{1};
    return B.generic(ValueRange{x, w}, {{0, 1}, wDims}, zeros({rowsOf(x)}), {0}, 2, {1},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value p = a[0], q = a[1];
                       if (ex != 0.0)
                         p = arith::AddFOp::create(nb, l, p, B.fcst(nb, l, ex));
                       if (ew != 0.0)
                         q = arith::AddFOp::create(nb, l, q, B.fcst(nb, l, ew));
                       return arith::AddFOp::create(nb, l, a[2],
                                                    arith::MulFOp::create(nb, l, p, q));
                     });
  }

  /// x^T s [c] for x [n, c], s [n] (a GEMV over positions).
  Value weightedColSum(Value x, Value s) {
    return B.generic(ValueRange{s, x}, {{0}, {0, 1}}, zeros({colsOf(x)}), {1}, 2, {0},
                     [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return arith::AddFOp::create(nb, l, a[2],
                                                    arith::MulFOp::create(nb, l, a[0], a[1]));
                     });
  }

  /// x [n, c] with row i multiplied by s[i].
  Value scaleRows(Value x, Value s) {
    return B.generic(ValueRange{s, x}, {{0}, {0, 1}},
                     B.empty({rowsOf(x), colsOf(x)}, elt()), {0, 1}, 2, {},
                     [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return arith::MulFOp::create(nb, l, a[0], a[1]);
                     });
  }

  /// x [n, c] with row i multiplied by s[i], in place.
  Value scaleRowsInPlace(Value x, Value s) {
    return B.generic(s, {{0}}, x, {0, 1}, 2, {},
                     [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return arith::MulFOp::create(nb, l, a[0], a[1]);
                     });
  }

  /// f(v[i], i) element-wise over a vector [n].
  Value mapVector(ValueRange vs, function_ref<Value(OpBuilder &, Location, ValueRange, Value)> f) {
    SmallVector<SmallVector<int64_t>> dims(vs.size(), SmallVector<int64_t>{0});
    return B.generic(vs, dims, B.empty({rowsOf(vs.front())}, elt()), {0}, 1, {},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value i = linalg::IndexOp::create(nb, l, 0);
                       return f(nb, l, a.drop_back(), i);
                     });
  }

  /// i + 1 as a float, for the causal normalizers.
  static Value position(OpBuilder &nb, Location l, Type elt, Value i) {
    Value i64 = arith::IndexCastOp::create(nb, l, nb.getI64Type(), i);
    Value f = arith::SIToFPOp::create(nb, l, elt, i64);
    return arith::AddFOp::create(nb, l, f, floatCst(nb, l, elt, 1.0));
  }

  /// Inclusive prefix sum over the rows of x [n, c] (times s[i] per row
  /// when given): one vector update per position.
  Value prefixRows(Value x, Value s = nullptr) {
    Value init = s ? scaleRows(x, s)
                   : B.generic(x, {{0, 1}}, B.empty({rowsOf(x), colsOf(x)}, elt()), {0, 1}, 2,
                               {}, [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    OpBuilder &bb = b();
    Value n = getValueOrCreateConstantIndexOp(bb, loc(), rowsOf(x));
    OpFoldResult c = colsOf(x);
    auto loop = scf::ForOp::create(
        bb, loc(), B.idx(1), n, B.idx(1), ValueRange{init},
        [&](OpBuilder &nb, Location l, Value i, ValueRange iter) {
          OpBuilder::InsertionGuard g(bb);
          bb.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value acc = iter[0];
          Value prev = arith::SubIOp::create(bb, l, i, B.idx(1));
          Value r0 = rowOf(acc, prev, c), r1 = rowOf(acc, i, c);
          Value sum = B.generic(r0, {{0}}, r1, {0}, 1, {},
                                [](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                                  return arith::AddFOp::create(gb, gl, a[1], a[0]);
                                });
          Value next = insertRow(sum, acc, i, c);
          scf::YieldOp::create(bb, l, next);
        });
    return loop.getResult(0);
  }

  /// Inclusive prefix sum of a vector [n].
  Value prefixVector(Value v) {
    OpBuilder &bb = b();
    Value n = getValueOrCreateConstantIndexOp(bb, loc(), rowsOf(v));
    auto loop = scf::ForOp::create(
        bb, loc(), B.idx(1), n, B.idx(1), ValueRange{v},
        [&](OpBuilder &nb, Location l, Value i, ValueRange iter) {
          Value prev = arith::SubIOp::create(nb, l, i, indexCst(nb, l, 1));
          Value a = tensor::ExtractOp::create(nb, l, iter[0], ValueRange{prev});
          Value c = tensor::ExtractOp::create(nb, l, iter[0], ValueRange{i});
          Value s = arith::AddFOp::create(nb, l, a, c);
          scf::YieldOp::create(nb, l, tensor::InsertOp::create(nb, l, s, iter[0],
                                                               ValueRange{i})
                                          .getResult());
        });
    return loop.getResult(0);
  }

  Value rowOf(Value x, Value i, OpFoldResult c) {
    OpFoldResult one = b().getIndexAttr(1), z = b().getIndexAttr(0);
    auto rt = RankedTensorType::get({getConstantIntValue(c).value_or(ShapedType::kDynamic)},
                                    elt());
    return tensor::ExtractSliceOp::create(b(), loc(), rt, x, SmallVector<OpFoldResult>{i, z},
                                          SmallVector<OpFoldResult>{one, c},
                                          SmallVector<OpFoldResult>{one, one});
  }
  Value insertRow(Value row, Value x, Value i, OpFoldResult c) {
    OpFoldResult one = b().getIndexAttr(1), z = b().getIndexAttr(0);
    return tensor::InsertSliceOp::create(b(), loc(), row, x, SmallVector<OpFoldResult>{i, z},
                                         SmallVector<OpFoldResult>{one, c},
                                         SmallVector<OpFoldResult>{one, one});
  }
  Value rows(Value x, Value r0, OpFoldResult n) {
    OpFoldResult one = b().getIndexAttr(1), z = b().getIndexAttr(0);
    OpFoldResult c = colsOf(x);
    auto rt = RankedTensorType::get({getConstantIntValue(n).value_or(ShapedType::kDynamic),
                                     getConstantIntValue(c).value_or(ShapedType::kDynamic)},
                                    elt());
    return tensor::ExtractSliceOp::create(b(), loc(), rt, x, SmallVector<OpFoldResult>{r0, z},
                                          SmallVector<OpFoldResult>{n, c},
                                          SmallVector<OpFoldResult>{one, one});
  }

  /// x [n, c] transposed to [c, n].
  Value transposed(Value x) {
    return B.generic(x, {{1, 0}}, B.empty({colsOf(x), rowsOf(x)}, elt()), {0, 1}, 2, {},
                     [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  }

  /// acc [m, n] + a^T b for a [k, m], b [k, n] (a read transposed: the
  /// kernels broadcast A's elements, so A's layout does not matter).
  Value matmulTransA(Value a, Value bm, Value acc) {
    return B.generic(ValueRange{a, bm}, {{2, 0}, {2, 1}}, acc, {0, 1}, 3, {2},
                     [](OpBuilder &nb, Location l, ValueRange x) -> Value {
                       return arith::AddFOp::create(nb, l, x[2],
                                                    arith::MulFOp::create(nb, l, x[0], x[1]));
                     });
  }

  /// One sequential pass over the positions with D-wide running sums in
  /// vector registers (static D): |step| gets the position i, its query
  /// and key rows and the running sums, updates the sums and returns the
  /// per-position outputs; returns those outputs as [L] vectors. The sweep
  /// reads each row once: the prefix sums never exist as [L, D] tensors.
  using SweepStep = function_ref<SmallVector<Value>(
      OpBuilder &, Location, Value, Value, Value, MutableArrayRef<Value>, Value &)>;
  SmallVector<Value> sweep(Value qf, Value kf, int64_t numSums, int64_t numOuts,
                           SweepStep step) {
    OpBuilder &bb = b();
    Location l0 = loc();
    int64_t d = *getConstantIntValue(D);
    auto vt = VectorType::get({d}, elt());
    Value zv = arith::ConstantOp::create(bb, l0, vt, bb.getZeroAttr(vt));
    SmallVector<Value> init(numSums, zv);
    init.push_back(zero()); // a scalar running sum
    for (int64_t o = 0; o < numOuts; ++o)
      init.push_back(B.empty({L}, elt()));
    Value Lv = getValueOrCreateConstantIndexOp(bb, l0, L);
    auto loop = scf::ForOp::create(
        bb, l0, B.idx(0), Lv, B.idx(1), init,
        [&](OpBuilder &nb, Location l, Value i, ValueRange iter) {
          Value c0 = indexCst(nb, l, 0);
          Value pad = zeroOf(nb, l, elt());
          auto row = [&](Value x) {
            return vector::TransferReadOp::create(nb, l, vt, x, ValueRange{i, c0}, pad,
                                                  ArrayRef<bool>{true})
                .getResult();
          };
          SmallVector<Value> sums(iter.take_front(numSums));
          Value scalar = iter[numSums];
          SmallVector<Value> outs = step(nb, l, i, row(qf), row(kf), sums, scalar);
          SmallVector<Value> yields(sums);
          yields.push_back(scalar);
          for (int64_t o = 0; o < numOuts; ++o)
            yields.push_back(
                tensor::InsertOp::create(nb, l, outs[o], iter[numSums + 1 + o], ValueRange{i}));
          scf::YieldOp::create(nb, l, yields);
        });
    return SmallVector<Value>(loop.getResults().drop_front(numSums + 1));
  }

  /// Vector helpers for sweep steps.
  static Value splat(OpBuilder &nb, Location l, VectorType vt, Value x) {
    return vector::BroadcastOp::create(nb, l, vt, x);
  }
  /// sum(a * b), reassociated (a tree of vector adds, not a serial chain).
  static Value dot(OpBuilder &nb, Location l, Value a, Value b) {
    Value p = arith::MulFOp::create(nb, l, a, b);
    auto red = vector::ReductionOp::create(nb, l, vector::CombiningKind::ADD, p);
    red.setFastmath(arith::FastMathFlags::reassoc);
    return red;
  }

  /// sum_j q_i k_j^T v_j over all j (causal: j <= i) for q, k [L, D],
  /// v [L, Dv]; returns [L, Dv].
  Value product(Value q, Value k, Value v, bool causal) {
    if (!causal) {
      Value state = matmulTransA(k, v, zeros({D, Dv}));
      // The zero fill right before the GEMM: the kernels then start from
      // zero registers instead of writing and re-reading the zeros.
      Value outZero = outInit
                          ? linalg::FillOp::create(b(), loc(), zero(), outInit).getResult(0)
                          : zeros({L, Dv});
      return B.matmulInto(q, state, outZero);
    }
    // Chunked scan: the state S [D, Dv] holds sum k_j^T v_j of the chunks
    // before; inside a chunk the masked scores do the rest.
    OpBuilder &bb = b();
    Location l0 = loc();
    Value Lv = getValueOrCreateConstantIndexOp(bb, l0, L);
    Value C = B.idx(chunk);
    std::optional<int64_t> staticL = getConstantIntValue(L);
    bool even = staticL && *staticL % chunk == 0;
    // Loop-carried: the state, the output (each chunk's rows are written
    // in place) and the chunk's scores buffer (zeroed per chunk in place;
    // a fresh zero tensor per chunk would be CSE'd with the state's and
    // copied).
    Value out0 = outInit ? outInit : B.empty({L, Dv}, elt());
    Value scratch0 = B.empty({b().getIndexAttr(chunk), b().getIndexAttr(chunk)}, elt());
    auto loop = scf::ForOp::create(
        bb, l0, B.idx(0), Lv, C, ValueRange{zeros({D, Dv}), out0, scratch0},
        [&](OpBuilder &nb, Location l, Value c0, ValueRange iter) {
          OpBuilder::InsertionGuard g(bb);
          bb.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          OpFoldResult n = bb.getIndexAttr(chunk);
          if (!even)
            n = arith::MinUIOp::create(bb, l, C, arith::SubIOp::create(bb, l, Lv, c0))
                    .getResult();
          Value qc = rows(q, c0, n), kc = rows(k, c0, n), vc = rows(v, c0, n);
          Value state = iter[0];
          // Scores of the chunk, upper triangle zeroed: S_c = q_c k_c^T.
          Value kcT = transposed(kc);
          OpFoldResult z0 = bb.getIndexAttr(0), o1 = bb.getIndexAttr(1);
          Value scores = iter[2];
          if (!even)
            scores = tensor::ExtractSliceOp::create(bb, l, scores,
                                                    SmallVector<OpFoldResult>{z0, z0},
                                                    SmallVector<OpFoldResult>{n, n},
                                                    SmallVector<OpFoldResult>{o1, o1});
          scores = linalg::FillOp::create(bb, l, zero(), scores).getResult(0);
          Value sc = B.matmulInto(qc, kcT, scores);
          sc = B.generic(ValueRange{}, {}, sc, {0, 1}, 2, {},
                         [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                           Value i = linalg::IndexOp::create(gb, gl, 0);
                           Value j = linalg::IndexOp::create(gb, gl, 1);
                           Value keep = arith::CmpIOp::create(gb, gl, arith::CmpIPredicate::ule,
                                                              j, i);
                           return arith::SelectOp::create(gb, gl, keep, a[0],
                                                          zeroOf(gb, gl, elt()));
                         });
          // The chunk's output rows, zeroed in place in the output.
          Value ocInit = linalg::FillOp::create(bb, l, zero(), rows(iter[1], c0, n)).getResult(0);
          Value oc = B.matmulInto(qc, state, ocInit);
          oc = B.matmulInto(sc, vc, oc);
          Value next = B.matmulInto(kcT, vc, state);
          Value out = tensor::InsertSliceOp::create(bb, l, oc, iter[1],
                                                    SmallVector<OpFoldResult>{c0, z0},
                                                    SmallVector<OpFoldResult>{n, Dv},
                                                    SmallVector<OpFoldResult>{o1, o1});
          Value scratch = sc;
          if (!even)
            scratch = tensor::InsertSliceOp::create(bb, l, sc, iter[2],
                                                    SmallVector<OpFoldResult>{z0, z0},
                                                    SmallVector<OpFoldResult>{n, n},
                                                    SmallVector<OpFoldResult>{o1, o1});
          scf::YieldOp::create(bb, l, ValueRange{next, out, scratch});
        });
    return loop.getResult(1);
  }
};

/// Runs |body| once per (batch, head) on [L, D] / [S, D] / [S, Dv] slices
/// and assembles the [..., L, Dv] result.
Value perHead(OpBuilder &b, Location loc, Operation *op, int64_t chunk,
              function_ref<Value(HeadBuilder &, Value, Value, Value)> body) {
  auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
  Type elt = resultType.getElementType();
  GenericBuilder B{b, loc, elt};
  Value q = toBatched(b, loc, op->getOperand(0));
  Value k = toBatched(b, loc, op->getOperand(1));
  Value v = toBatched(b, loc, op->getOperand(2));
  OpFoldResult NB = tensor::getMixedSize(b, loc, q, 0), L = tensor::getMixedSize(b, loc, q, 1),
               D = tensor::getMixedSize(b, loc, q, 2), S = tensor::getMixedSize(b, loc, k, 1),
               Dv = tensor::getMixedSize(b, loc, v, 2);
  Value out = B.empty({NB, L, Dv}, elt);
  Value result = forallTiles(b, loc, {NB}, out, [&](ValueRange ivs, Value shared) -> TaskTile {
    Value bi = ivs[0];
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    auto slice = [&](Value t, OpFoldResult n1, OpFoldResult n2) {
      auto rt = RankedTensorType::get({getConstantIntValue(n1).value_or(ShapedType::kDynamic),
                                       getConstantIntValue(n2).value_or(ShapedType::kDynamic)},
                                      elt);
      return tensor::ExtractSliceOp::create(b, loc, rt, t,
                                            SmallVector<OpFoldResult>{bi, zero, zero},
                                            SmallVector<OpFoldResult>{one, n1, n2},
                                            SmallVector<OpFoldResult>(3, one))
          .getResult();
    };
    HeadBuilder H{B, L, D, Dv, chunk};
    H.outInit = slice(shared, L, Dv);
    Value o = body(H, slice(q, L, D), slice(k, S, D), slice(v, S, Dv));
    return {o, {bi, zero, zero}, {one, L, Dv}};
  });
  return fromBatched(b, loc, result, op->getOperand(0), resultType);
}
} // namespace

static FailureOr<Value> lowerFlowAttention(sp::FlowAttentionOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  double eps = op.getEps().convertToDouble();
  bool causal = op.getCausal();
  std::string map = op.getFeatureMap().str();
  std::optional<double> aScale, cScale;
  if (auto a = op.getAllocationScale())
    aScale = a->convertToDouble();
  if (auto c = op.getCompetitionScale())
    cScale = c->convertToDouble();
  return perHead(b, op.getLoc(), op, op.getChunkSize(),
                 [&](HeadBuilder &H, Value q, Value k, Value v) -> Value {
    GenericBuilder &B = H.B;
    Type elt = B.elt;
    Value qf = H.feature(q, map), kf = H.feature(k, map);
    auto cst = [&](OpBuilder &nb, Location l, double x) { return floatCst(nb, l, elt, x); };
    auto clip = [&](OpBuilder &nb, Location l, Value x) -> Value {
      x = arith::MaximumFOp::create(nb, l, x, cst(nb, l, -1.0));
      return arith::MinimumFOp::create(nb, l, x, cst(nb, l, 1.0));
    };
    auto sigmoid = [&](OpBuilder &nb, Location l, Value x) -> Value {
      Value one = cst(nb, l, 1.0);
      Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, x));
      return arith::DivFOp::create(nb, l, one, arith::AddFOp::create(nb, l, one, e));
    };
    if (!causal) {
      // Incoming and outgoing flow.
      Value qSum = H.colSum(qf), kSum = H.colSum(kf);
      Value inc = H.mapVector(H.rowDot(qf, eps, kSum, eps),
                              [&](OpBuilder &nb, Location l, ValueRange a, Value) -> Value {
                                return arith::DivFOp::create(nb, l, cst(nb, l, 1.0), a[0]);
                              });
      Value outg = H.mapVector(H.rowDot(kf, eps, qSum, eps),
                               [&](OpBuilder &nb, Location l, ValueRange a, Value) -> Value {
                                 return arith::DivFOp::create(nb, l, cst(nb, l, 1.0), a[0]);
                               });
      // Conservation: sink per query, source per key.
      Value kO = H.weightedColSum(kf, outg), qI = H.weightedColSum(qf, inc);
      Value Lf = arith::UIToFPOp::create(
          B.b, B.loc, elt,
          arith::IndexCastUIOp::create(B.b, B.loc, B.b.getI64Type(),
                                       getValueOrCreateConstantIndexOp(B.b, B.loc, H.L)));
      Value Sf = arith::UIToFPOp::create(
          B.b, B.loc, elt,
          arith::IndexCastUIOp::create(B.b, B.loc, B.b.getI64Type(),
                                       dimOf(B.b, B.loc, k, 0)));
      Value alloc = aScale ? floatCst(B.b, B.loc, elt, *aScale)
                           : arith::DivFOp::create(B.b, B.loc, Lf, Sf).getResult();
      Value comp = cScale ? floatCst(B.b, B.loc, elt, *cScale) : Sf;
      // Allocation A_i times the incoming flow I_i: one scale per query row.
      Value rowScale = H.mapVector(ValueRange{H.rowDot(qf, eps, kO, eps), inc},
                                   [&](OpBuilder &nb, Location l, ValueRange a, Value) -> Value {
                                     Value s = sigmoid(nb, l, arith::MulFOp::create(nb, l, a[0], alloc));
                                     return arith::MulFOp::create(nb, l, s, a[1]);
                                   });
      // Competition: softmax over the keys of the clipped source, times c.
      Value src = H.mapVector(H.rowDot(kf, eps, qI, eps),
                              [&](OpBuilder &nb, Location l, ValueRange a, Value) -> Value {
                                return clip(nb, l, a[0]);
                              });
      // The source is clipped to [-1, 1], so exp cannot overflow: no max.
      Value ex = H.mapVector(src, [&](OpBuilder &nb, Location l, ValueRange a, Value) -> Value {
        return math::ExpOp::create(nb, l, a[0]);
      });
      Value total = B.generic(ex, {{0}}, B.filled({}, elt, zeroOf(B.b, B.loc, elt)), {}, 1, {0},
                              [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                                return arith::AddFOp::create(nb, l, a[1], a[0]);
                              });
      Value competition =
          B.generic(ValueRange{ex, total}, {{0}, {}}, B.empty({H.rowsOf(ex)}, elt), {0}, 1, {},
                    [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                      return arith::MulFOp::create(nb, l, arith::DivFOp::create(nb, l, a[0], a[1]),
                                                   comp);
                    });
      // The competition scales the keys' rows (k_j^T (v_j c_j) = (k_j c_j)^T
      // v_j; the keys' features are in cache, v is read once, by the GEMM)
      // and the allocation the queries' rows, so the GEMM writes the result.
      return H.product(H.scaleRowsInPlace(qf, rowScale), H.scaleRowsInPlace(kf, competition), v, false);
    }
    // Causal: prefix sums with the normalizers n_i = i + 1.
    auto pos = [&](OpBuilder &nb, Location l, Value i) {
      return HeadBuilder::position(nb, l, elt, i);
    };
    if (getConstantIntValue(H.D)) {
      // One sweep: running sums of K', Q', K' O and Q' I (4 x D) and of
      // exp(source); per position the query scale and the competition.
      auto vt = VectorType::get({*getConstantIntValue(H.D)}, elt);
      SmallVector<Value> outs = H.sweep(
          qf, kf, 4, 2,
          [&](OpBuilder &nb, Location l, Value i, Value qi, Value ki,
              MutableArrayRef<Value> sums, Value &cex) -> SmallVector<Value> {
            auto add = [&](Value a, Value b) { return arith::AddFOp::create(nb, l, a, b).getResult(); };
            auto mul = [&](Value a, Value b) { return arith::MulFOp::create(nb, l, a, b).getResult(); };
            auto div = [&](Value a, Value b) { return arith::DivFOp::create(nb, l, a, b).getResult(); };
            Value e = cst(nb, l, eps), ev = HeadBuilder::splat(nb, l, vt, e);
            Value &cq = sums[0], &ck = sums[1], &ckO = sums[2], &cqI = sums[3];
            cq = add(cq, qi);
            ck = add(ck, ki);
            Value n = pos(nb, l, i);
            Value qe = add(qi, ev), ke = add(ki, ev);
            Value inc = div(n, HeadBuilder::dot(nb, l, qe, add(ck, ev)));
            Value outg = div(n, HeadBuilder::dot(nb, l, ke, add(cq, ev)));
            ckO = add(ckO, mul(ki, HeadBuilder::splat(nb, l, vt, outg)));
            cqI = add(cqI, mul(qi, HeadBuilder::splat(nb, l, vt, inc)));
            Value sink = div(HeadBuilder::dot(nb, l, qe, add(ckO, ev)), n);
            Value src = clip(nb, l, div(HeadBuilder::dot(nb, l, ke, add(cqI, ev)), n));
            Value ex = math::ExpOp::create(nb, l, src);
            cex = add(cex, ex);
            Value comp = mul(div(ex, cex), n);
            Value scale = mul(sigmoid(nb, l, sink), div(inc, n));
            return {scale, comp};
          });
      // The values are scaled in one streaming pass (the chunks then read
      // them from cache; reading v 64 rows at a time inside the scan is
      // slower than this extra pass).
      return H.product(H.scaleRowsInPlace(qf, outs[0]), kf, H.scaleRows(v, outs[1]), true);
    }
    Value cq = H.prefixRows(qf), ck = H.prefixRows(kf);
    Value inc = H.mapVector(H.rowDot(qf, eps, ck, eps),
                            [&](OpBuilder &nb, Location l, ValueRange a, Value i) -> Value {
                              return arith::DivFOp::create(nb, l, pos(nb, l, i), a[0]);
                            });
    Value outg = H.mapVector(H.rowDot(kf, eps, cq, eps),
                             [&](OpBuilder &nb, Location l, ValueRange a, Value i) -> Value {
                               return arith::DivFOp::create(nb, l, pos(nb, l, i), a[0]);
                             });
    Value ckO = H.prefixRows(kf, outg), cqI = H.prefixRows(qf, inc);
    // Query row scale: sigmoid(sink) * I_i / n_i.
    Value rowScale =
        H.mapVector(ValueRange{H.rowDot(qf, eps, ckO, eps), inc},
                    [&](OpBuilder &nb, Location l, ValueRange a, Value i) -> Value {
                      Value n = pos(nb, l, i);
                      Value sink = arith::DivFOp::create(nb, l, a[0], n);
                      return arith::MulFOp::create(nb, l, sigmoid(nb, l, sink),
                                                   arith::DivFOp::create(nb, l, a[1], n));
                    });
    Value ex = H.mapVector(H.rowDot(kf, eps, cqI, eps),
                           [&](OpBuilder &nb, Location l, ValueRange a, Value i) -> Value {
                             Value src = arith::DivFOp::create(nb, l, a[0], pos(nb, l, i));
                             return math::ExpOp::create(nb, l, clip(nb, l, src));
                           });
    Value cex = H.prefixVector(ex);
    Value competition =
        H.mapVector(ValueRange{ex, cex}, [&](OpBuilder &nb, Location l, ValueRange a,
                                             Value i) -> Value {
          return arith::MulFOp::create(nb, l, arith::DivFOp::create(nb, l, a[0], a[1]),
                                       pos(nb, l, i));
        });
    Value qs = H.scaleRows(qf, rowScale), vs = H.scaleRows(v, competition);
    return H.product(qs, kf, vs, true);
  });
}

static FailureOr<Value> lowerLinearAttention(sp::LinearAttentionOp op, LowerCtx &ctx) {
  OpBuilder &b = ctx.b;
  double eps = op.getEps().convertToDouble(), scale = op.getScale().convertToDouble();
  bool causal = op.getCausal(), normalize = op.getNormalize();
  std::string map = op.getFeatureMap().str();
  return perHead(b, op.getLoc(), op, op.getChunkSize(),
                 [&](HeadBuilder &H, Value q, Value k, Value v) -> Value {
    Type elt = H.B.elt;
    Value qf = H.feature(q, map), kf = H.feature(k, map);
    Value out = H.product(qf, kf, v, causal);
    if (!normalize && scale == 1.0)
      return out;
    Value rowScale;
    if (normalize) {
      Value den;
      if (causal && getConstantIntValue(H.D)) {
        // One sweep: the running sum of K' and its dot with each query.
        den = H.sweep(qf, kf, 1, 1,
                      [&](OpBuilder &nb, Location l, Value, Value qi, Value ki,
                          MutableArrayRef<Value> sums, Value &) -> SmallVector<Value> {
                        sums[0] = arith::AddFOp::create(nb, l, sums[0], ki);
                        return {HeadBuilder::dot(nb, l, qi, sums[0])};
                      })[0];
      } else {
        den = causal ? H.rowDot(qf, 0.0, H.prefixRows(kf), 0.0)
                     : H.rowDot(qf, 0.0, H.colSum(kf), 0.0);
      }
      rowScale = H.mapVector(den, [&](OpBuilder &nb, Location l, ValueRange a, Value) -> Value {
        Value d = a[0];
        if (eps != 0.0)
          d = arith::AddFOp::create(nb, l, d, floatCst(nb, l, elt, eps));
        return arith::DivFOp::create(nb, l, floatCst(nb, l, elt, scale), d);
      });
    } else {
      rowScale = H.B.filled({H.L}, elt, floatCst(H.b(), H.loc(), elt, scale));
    }
    return H.scaleRowsInPlace(out, rowScale);
  });
}

/// ONNX LinearAttention (linear, gated, delta or gated_delta rule) as the
/// recurrence itself: one task per (batch, key / value head, block of
/// state columns), its [dk, cb] state in the present_state tile (in cache
/// across the steps; every rule updates and reads the columns
/// independently). Per step, on rows of the state as cb-wide vectors:
///  - delta rules: one read-only pass accumulates the retrieval from the
///    decayed rows (gated_delta), r = (exp(g) S)^T k; u = beta (v - r);
///  - one pass decays each row (gated rules), adds k_d u to it, writes it
///    and accumulates every query head of the group's q_d S[d] in registers;
/// then writes the group's outputs (times the scale) for that step. The
/// output is built as [B, T, Hq, dv], where a task's outputs are one
/// [T, G, cb] tile, and viewed as [B, T, Hq * dv].
/// The linear rule runs it too: on this CPU it was as fast as the chunked
/// scan or faster (to 3x) from decode steps to 4096 positions but in one
/// case (d 32, T 4096, no states: 4 % slower); it does 4 dk dv flops per
/// position and kv head against 4 dk dv + 4 C dk for chunks of C.
static FailureOr<SmallVector<Value>> lowerOnnxLinearAttention(Operation *o, LowerCtx &ctx) {
  auto op = cast<onnx::LinearAttentionOp>(o);
  OpBuilder &b = ctx.b;
  Location loc = op.getLoc();
  auto yType = cast<RankedTensorType>(op.getOutput().getType());
  auto sType = cast<RankedTensorType>(op.getPresentState().getType());
  Type elt = yType.getElementType();
  GenericBuilder B{b, loc, elt};
  Value q = op.getQuery(), k = op.getKey(), v = op.getValue(), past = op.getPastState();
  Value decay = op.getDecay(), beta = op.getBeta();
  StringRef rule = op.getUpdateRule();
  bool gated = rule == "gated" || rule == "gated_delta";
  bool delta = rule == "delta" || rule == "gated_delta";
  int64_t hq = op.getQNumHeads(), hkv = op.getKvNumHeads(), group = hq / hkv;
  int64_t dk = cast<RankedTensorType>(q.getType()).getDimSize(2) / hq;
  int64_t dv = cast<RankedTensorType>(v.getType()).getDimSize(2) / hkv;
  bool perKeyDecay = decay && cast<RankedTensorType>(decay.getType()).getDimSize(2) != hkv;
  bool sharedBeta = beta && cast<RankedTensorType>(beta.getType()).getDimSize(2) == 1;
  double scale = op.getScale().convertToDouble();
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(double(dk));
  OpFoldResult NBq = tensor::getMixedSize(b, loc, q, 0), Tq = tensor::getMixedSize(b, loc, q, 1);
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  OpFoldResult DK = b.getIndexAttr(dk), DV = b.getIndexAttr(dv);
  // Batch and sequence sizes known only at run time may disagree (a
  // sparsa-run-checks check): the run then fails with the check's message,
  // and the loops stop at the smallest sizes, so nothing is read out of
  // bounds. NB and T are the sizes the loops run to.
  OpFoldResult NB = NBq, T = Tq;
  if (op->hasAttr(::sparsa::sparsa::kCheckAttrName)) {
    Value bad = arith::ConstantOp::create(b, loc, b.getBoolAttr(false));
    auto agree = [&](OpFoldResult &run, OpFoldResult want, Value x, int64_t i) {
      OpFoldResult got = tensor::getMixedSize(b, loc, x, i);
      if (getConstantIntValue(got) && getConstantIntValue(want) &&
          *getConstantIntValue(got) == *getConstantIntValue(want))
        return;
      Value g = getValueOrCreateConstantIndexOp(b, loc, got);
      Value w = getValueOrCreateConstantIndexOp(b, loc, want);
      bad = arith::OrIOp::create(b, loc, bad,
                                 arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, g, w));
      run = arith::MinUIOp::create(b, loc, getValueOrCreateConstantIndexOp(b, loc, run), g)
                .getResult();
    };
    for (Value x : {k, v, decay, beta}) {
      if (!x)
        continue;
      agree(NB, NBq, x, 0);
      agree(T, Tq, x, 1);
    }
    if (past)
      agree(NB, NBq, past, 0);
    failCheckIf(B, op, bad);
  }
  std::optional<int64_t> staticT = getConstantIntValue(T);
  // The state's columns evolve independently (every rule's update and
  // retrieval are per column), so tasks may take blocks of cb columns:
  // only when there are fewer than 8 (batch, kv head) tasks (one batch
  // assumed when dynamic), halving down to 32 columns. Per row a block pays
  // the same scalar loads of k_d and q_d, so whole rows are cheaper when
  // the heads already fill the threads.
  int64_t cb = dv, tasks = getConstantIntValue(NBq).value_or(1) * hkv;
  while (tasks * (dv / cb) < 8 && cb % 2 == 0 && cb / 2 >= 32 && (cb / 2) % 16 == 0)
    cb /= 2;
  auto vt = VectorType::get({cb}, elt);
  OpFoldResult CB = b.getIndexAttr(cb);

  // The output as [B, T, Hq, dv]: a task's query heads and columns are a
  // rectangular [T, G, cb] tile of it.
  Value yOut = B.empty({NBq, Tq, b.getIndexAttr(hq), DV}, elt);
  Value sOut = B.empty({NBq, b.getIndexAttr(hkv), DK, DV}, elt);
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{NB, b.getIndexAttr(hkv), b.getIndexAttr(dv / cb)},
      ValueRange{yOut, sOut}, std::nullopt, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value bi = args[0], hk = args[1], ySh = args[3], sSh = args[4];
        auto c = [&](int64_t x) { return indexCst(nb, l, x); };
        Value colOff = arith::MulIOp::create(nb, l, args[2], c(cb));
        // This head's state columns, S_0 in place.
        auto stateT = RankedTensorType::get({dk, cb}, elt);
        SmallVector<OpFoldResult> sOffs{bi, hk, zero, colOff}, sSizes{one, one, DK, CB},
            unit4(4, one);
        Value S = tensor::ExtractSliceOp::create(nb, l, stateT, sSh, sOffs, sSizes, unit4);
        if (past) {
          Value p = tensor::ExtractSliceOp::create(nb, l, stateT, past, sOffs, sSizes, unit4);
          S = linalg::CopyOp::create(nb, l, p, S).getResult(0);
        } else {
          S = linalg::FillOp::create(nb, l, zeroOf(nb, l, elt), S).getResult(0);
        }
        // The group's outputs, these columns: [T, G, cb].
        Value head0 = arith::MulIOp::create(nb, l, hk, c(group));
        auto yTileT =
            RankedTensorType::get({staticT.value_or(ShapedType::kDynamic), group, cb}, elt);
        SmallVector<OpFoldResult> yOffs{bi, zero, head0, colOff},
            ySizes{one, T, nb.getIndexAttr(group), CB}, unit3(4, one);
        Value Y = tensor::ExtractSliceOp::create(nb, l, yTileT, ySh, yOffs, ySizes, unit3);
        Value kCol0 = arith::MulIOp::create(nb, l, hk, c(dk));
        Value vCol0 = arith::AddIOp::create(nb, l, arith::MulIOp::create(nb, l, hk, c(dv)),
                                            colOff);
        Value qCol0 = arith::MulIOp::create(nb, l, hk, c(group * dk));
        Value Tv = getValueOrCreateConstantIndexOp(nb, l, T);
        auto steps = scf::ForOp::create(
            nb, l, c(0), Tv, c(1), ValueRange{S, Y},
            [&](OpBuilder &fb, Location fl, Value t, ValueRange st) {
              Value pad = zeroOf(fb, fl, elt), c0 = indexCst(fb, fl, 0);
              auto at = [&](Value x, Value col) {
                return tensor::ExtractOp::create(fb, fl, x, ValueRange{bi, t, col}).getResult();
              };
              auto readRow = [&](OpBuilder &rb, Location rl, Value x, Value d) {
                return vector::TransferReadOp::create(rb, rl, vt, x, ValueRange{d, c0}, pad,
                                                      ArrayRef<bool>{true})
                    .getResult();
              };
              auto splat = [&](OpBuilder &rb, Location rl, Value x) {
                return vector::BroadcastOp::create(rb, rl, vt, x).getResult();
              };
              auto expOf = [&](OpBuilder &rb, Location rl, Value x) {
                return math::ExpOp::create(rb, rl, x).getResult();
              };
              // The head's decay factor (one per head), or per row below.
              Value headDecay =
                  gated && !perKeyDecay ? expOf(fb, fl, at(decay, hk)) : Value();
              auto rowDecay = [&](OpBuilder &rb, Location rl, Value d) -> Value {
                if (!gated)
                  return Value();
                if (headDecay)
                  return headDecay;
                Value col = arith::AddIOp::create(rb, rl, kCol0, d);
                return expOf(rb, rl,
                             tensor::ExtractOp::create(rb, rl, decay, ValueRange{bi, t, col}));
              };
              auto keyAt = [&](OpBuilder &rb, Location rl, Value d) -> Value {
                Value col = arith::AddIOp::create(rb, rl, kCol0, d);
                return tensor::ExtractOp::create(rb, rl, k, ValueRange{bi, t, col});
              };
              Value vRow = vector::TransferReadOp::create(
                  fb, fl, vt, v, ValueRange{bi, t, vCol0}, pad, ArrayRef<bool>{true});
              Value zv = arith::ConstantOp::create(fb, fl, vt, fb.getZeroAttr(vt));
              Value state = st[0];
              Value u = vRow;
              if (delta) {
                // r = (exp(g) S)^T k (gated_delta decays; delta does not).
                // A read-only pass: the decayed rows stay in registers and
                // pass 2 decays them again as it writes them (one store of
                // the state per step, not two).
                auto pass1 = scf::ForOp::create(
                    fb, fl, c0, indexCst(fb, fl, dk), indexCst(fb, fl, 1), ValueRange{zv},
                    [&](OpBuilder &pb, Location pl, Value d, ValueRange it) {
                      Value row = readRow(pb, pl, state, d);
                      if (Value g = rowDecay(pb, pl, d))
                        row = arith::MulFOp::create(pb, pl, row, splat(pb, pl, g));
                      Value r = vector::FMAOp::create(pb, pl, splat(pb, pl, keyAt(pb, pl, d)),
                                                      row, it[0]);
                      scf::YieldOp::create(pb, pl, r);
                    });
                Value bt = at(beta, sharedBeta ? c0 : hk);
                u = arith::MulFOp::create(fb, fl, splat(fb, fl, bt),
                                          arith::SubFOp::create(fb, fl, vRow, pass1.getResult(0)));
              }
              // S[d] = (exp(g) S[d]) + k_d u; o_g += q_g,d S[d].
              SmallVector<Value> init{state};
              init.append(group, zv);
              auto pass2 = scf::ForOp::create(
                  fb, fl, c0, indexCst(fb, fl, dk), indexCst(fb, fl, 1), init,
                  [&](OpBuilder &pb, Location pl, Value d, ValueRange it) {
                    Value row = readRow(pb, pl, it[0], d);
                    if (Value g = rowDecay(pb, pl, d))
                      row = arith::MulFOp::create(pb, pl, row, splat(pb, pl, g));
                    row = vector::FMAOp::create(pb, pl, splat(pb, pl, keyAt(pb, pl, d)), u, row);
                    SmallVector<Value> yields{vector::TransferWriteOp::create(
                                                  pb, pl, row, it[0], ValueRange{d, c0},
                                                  ArrayRef<bool>{true})
                                                  .getResult()};
                    for (int64_t g = 0; g < group; ++g) {
                      Value col = arith::AddIOp::create(
                          pb, pl, arith::AddIOp::create(pb, pl, qCol0, indexCst(pb, pl, g * dk)),
                          d);
                      Value qd = tensor::ExtractOp::create(pb, pl, q, ValueRange{bi, t, col});
                      yields.push_back(
                          vector::FMAOp::create(pb, pl, splat(pb, pl, qd), row, it[1 + g]));
                    }
                    scf::YieldOp::create(pb, pl, yields);
                  });
              Value Yt = st[1];
              Value sc = splat(fb, fl, floatCst(fb, fl, elt, scale));
              for (int64_t g = 0; g < group; ++g) {
                Value o = arith::MulFOp::create(fb, fl, pass2.getResult(1 + g), sc);
                Yt = vector::TransferWriteOp::create(
                         fb, fl, o, Yt, ValueRange{t, indexCst(fb, fl, g), c0},
                         ArrayRef<bool>{true})
                         .getResult();
              }
              scf::YieldOp::create(fb, fl, ValueRange{pass2.getResult(0), Yt});
            });
        auto term = scf::InParallelOp::create(nb, l);
        OpBuilder tb = OpBuilder::atBlockBegin(term.getBody());
        tensor::ParallelInsertSliceOp::create(tb, l, steps.getResult(1), ySh, yOffs, ySizes,
                                              unit3);
        tensor::ParallelInsertSliceOp::create(tb, l, steps.getResult(0), sSh, sOffs, sSizes,
                                              unit4);
      });
  Value y = tensor::CollapseShapeOp::create(
      b, loc, forall.getResult(0), SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  Value st = forall.getResult(1);
  if (y.getType() != yType)
    y = tensor::CastOp::create(b, loc, yType, y);
  if (st.getType() != sType)
    st = tensor::CastOp::create(b, loc, sType, st);
  return SmallVector<Value>{y, st};
}

void sparsa::lowering::populateFlowAttentionLowerings(LoweringTable &t) {
  addSingle<sp::FlowAttentionOp, lowerFlowAttention>(t);
  addSingle<sp::LinearAttentionOp, lowerLinearAttention>(t);
  t[TypeID::get<onnx::LinearAttentionOp>()] = lowerOnnxLinearAttention;
}
