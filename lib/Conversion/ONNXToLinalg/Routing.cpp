//===- Routing.cpp - sparsa.moe lowering: only the chosen experts -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers the canonical routing op so that only the selected experts'
// weights are read:
//
//   1. gate scores [T, E] (softmax or sigmoid) and each expert's rank among
//      the token's scores; rank < k selects it, and the rank is its slot;
//   2. the slots [T, k] (expert index, routing weight), renormalized and
//      scaled;
//   3. decode (T == 1, static): for each slot one GEMV pair over that
//      expert's weights, static shapes, so the CPU kernels (split-reduction
//      GEMV across threads) apply unchanged;
//      otherwise: a counting sort of the T*k (token, slot) pairs by expert
//      (counts, prefix sums; no data-dependent shapes), then per expert with
//      tokens one gather of its rows, a GEMM pair over its weights and a
//      weighted scatter-add into the output.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace sp = sparsa::sparsa;


/// The experts' inner size F (quantized: from w2's packed rows).
static OpFoldResult innerSize(OpBuilder &b, Location loc, sp::MoEOp op) {
  if (!op.isQuantized())
    return tensor::getMixedSize(b, loc, op.getW2(), 1);
  auto w2 = cast<RankedTensorType>(op.getW2().getType());
  return b.getIndexAttr(w2.getDimSize(2) * 8 / op.getWeightBits());
}

/// Applies the expert activation to |h| [M, F1] -> [M, F] (gated: combines
/// the gate and linear parts, from |h| per gate_layout or from |lin|; the
/// shared expert always has its linear part in |lin|).
static Value activate(GenericBuilder &B, sp::MoEOp op, Value h, Value lin, bool shared = false) {
  OpBuilder &b = B.b;
  MLIRContext *ctx = b.getContext();
  StringRef act = op.getActivation();
  double alpha = op.getAlpha().convertToDouble(), beta = op.getBeta().convertToDouble();
  std::optional<double> limit;
  if (auto l = op.getLimit())
    limit = l->convertToDouble();
  Type elt = B.elt;
  auto applyAct = [&](OpBuilder &nb, Location l, Value z) {
    return applyExpertActivation(nb, l, act, z, alpha);
  };
  SmallVector<OpFoldResult> sizes = {
      tensor::getMixedSize(b, B.loc, h, 0),
      shared ? tensor::getMixedSize(b, B.loc, h, 1) : innerSize(b, B.loc, op)};
  Value init = B.empty(sizes, elt);
  if (!op.isGated())
    return B.generic(h, {{0, 1}}, init, {0, 1}, 2, {},
                     [&](OpBuilder &nb, Location l, ValueRange a) {
                       return applyAct(nb, l, a[0]);
                     });
  int64_t layout = shared ? 0 : op.getGateLayout();
  AffineExpr m = getAffineDimExpr(0, ctx), j = getAffineDimExpr(1, ctx);
  AffineExpr gj = j, lj = j;
  if (layout == 1) {
    gj = j * 2;
    lj = j * 2 + 1;
  }
  // Both operands of the combining generic must span exactly [M, F]:
  // linalg takes loop bounds from the first operand indexing each dim.
  Value gate = h, linSrc = lin;
  if (layout == 2) {
    // [gate | linear] halves: the linear part starts at column F.
    Value F = getValueOrCreateConstantIndexOp(b, B.loc, innerSize(b, B.loc, op));
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    auto half = [&](OpFoldResult col) -> Value {
      SmallVector<OpFoldResult> offs = {b.getIndexAttr(0), col};
      return tensor::ExtractSliceOp::create(b, B.loc, h, offs, sizes, strides);
    };
    gate = half(b.getIndexAttr(0));
    linSrc = half(F);
  } else if (layout == 1) {
    linSrc = h;
  }
  SmallVector<AffineMap> maps = {AffineMap::get(2, 0, {m, gj}, ctx),
                                 AffineMap::get(2, 0, {m, lj}, ctx),
                                 b.getMultiDimIdentityMap(2)};
  SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, B.loc, init.getType(), ValueRange{gate, linSrc}, init, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange v) {
               Value G = v[0], L = v[1];
               if (limit) {
                 G = arith::MinimumFOp::create(nb, l, G, B.fcst(nb, l, *limit));
                 L = arith::MaximumFOp::create(
                     nb, l, arith::MinimumFOp::create(nb, l, L, B.fcst(nb, l, *limit)),
                     B.fcst(nb, l, -*limit));
               }
               if (beta != 0.0)
                 L = arith::AddFOp::create(nb, l, L, B.fcst(nb, l, beta));
               Value r = arith::MulFOp::create(nb, l, applyAct(nb, l, G), L);
               linalg::YieldOp::create(nb, l, r);
             })
      .getResult(0);
}

/// |rows| [M, in] times expert |e|'s quantized weight |w| [E, out, in *
/// bits / 8] (with its scales, zero points and bias [E, out]) -> [M, out]:
/// the expert's codes viewed in MatMulNBits' layout (one block per row
/// without block_size), so decoding keeps them packed.
static Value quantExpertMatMul(GenericBuilder &B, sp::MoEOp op, Value rows, Value w,
                               Value scales, Value zp, Value bias, Value e) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  auto wT = cast<RankedTensorType>(w.getType());
  int64_t bits = op.getWeightBits(), N = wT.getDimSize(1), in = wT.getDimSize(2) * 8 / bits;
  int64_t bs = op.getBlockSize() ? op.getBlockSize() : in, blocks = in / bs;
  Value codes = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({N, blocks, bs * bits / 8}, wT.getElementType()),
      B.expertSlice(w, e), SmallVector<ReassociationIndices>{{0}, {1, 2}});
  Value s = op.getBlockSize() ? B.expertSlice(scales, e) : B.biasSlice(scales, e);
  Value z;
  if (zp && op.getBlockSize()) {
    z = B.expertSlice(zp, e); // packed along the blocks, as MatMulNBits'
  } else if (zp) {
    // Packed along the rows: one f32 zero point per row, [N, 1].
    Value zRow = B.biasSlice(zp, e);
    Type f32 = b.getF32Type();
    GenericBuilder F{b, loc, f32};
    z = F.generic(ValueRange{}, {}, F.empty({b.getIndexAttr(N), b.getIndexAttr(1)}, f32), {0, 1},
                  2, {}, [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                    Value n = linalg::IndexOp::create(nb, l, 0);
                    return arith::UIToFPOp::create(nb, l, f32,
                                                   packedCode(nb, l, zRow, {}, n, bits));
                  });
  }
  BlockQuant q{codes, s, z, bias ? B.biasSlice(bias, e) : Value(), in, N, bits, bs};
  q.int8 = op.getInt8Activations();
  q.int8Matrices = ::sparsa::sparsa::getTarget(op).getInt8Matrices();
  // One expert runs on one thread: its GEMV stays ahead of the GEMM's
  // narrow tiles up to 16 rows (measured on the QMoE prefill, 2048 -> 5632
  // SwiGLU, per-row scales: 31 ms against 36 with 8).
  q.gemvRows = 16;
  auto rowsT = cast<RankedTensorType>(rows.getType());
  return buildBlockQuantMatMul(b, loc, rows, q,
                               RankedTensorType::get({rowsT.getDimSize(0), N}, B.elt));
}

/// The expert FFN of expert |e| on |rows| [M, H] -> [M, H].
static Value expertFFN(GenericBuilder &B, sp::MoEOp op, Value rows, Value e) {
  if (op.isQuantized()) {
    Value h = quantExpertMatMul(B, op, rows, op.getW1(), op.getW1Scales(), op.getW1ZeroPoints(),
                                op.getB1(), e);
    Value lin;
    if (op.getW3())
      lin = quantExpertMatMul(B, op, rows, op.getW3(), op.getW3Scales(), op.getW3ZeroPoints(),
                              op.getB3(), e);
    Value a = activate(B, op, h, lin);
    return quantExpertMatMul(B, op, a, op.getW2(), op.getW2Scales(), op.getW2ZeroPoints(),
                             op.getB2(), e);
  }
  auto slice = [&](Value bias) { return bias ? B.biasSlice(bias, e) : Value(); };
  Value h = B.matmul(rows, B.expertSlice(op.getW1(), e), slice(op.getB1()));
  Value lin;
  if (op.getW3())
    lin = B.matmul(rows, B.expertSlice(op.getW3(), e), slice(op.getB3()));
  Value a = activate(B, op, h, lin);
  return B.matmul(a, B.expertSlice(op.getW2(), e), slice(op.getB2()));
}

/// The slots of the op's own gate: expert [T, k] (index) and weight [T, k]
/// for rank r < k among each token's gate scores, before renormalization
/// and scaling.
static std::pair<Value, Value> gateSlots(GenericBuilder &B, sp::MoEOp op, Value logits,
                                         OpFoldResult T, OpFoldResult E, Value Ev) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type elt = B.elt;
  int64_t k = op.getK();
  Value zero = zeroOf(b, loc, elt), one = B.fcst(b, loc, 1.0);
  Type i32 = b.getI32Type(), idxT = b.getIndexType();
  Value Tv = getValueOrCreateConstantIndexOp(b, loc, T);
  auto add = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::AddFOp::create(nb, l, a, c);
  };
  // 1. Gate scores p[t, e].
  Value p;
  if (op.getGating() == "softmax") {
    Value rowMax = B.generic(logits, {{0, 1}}, B.filled({T}, elt, lowestOf(b, loc, elt, false)),
                             {0}, 2, {1}, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                               return arith::MaximumFOp::create(nb, l, a[1], a[0]);
                             });
    Value ex = B.generic(ValueRange{logits, rowMax}, {{0, 1}, {0}}, B.empty({T, E}, elt), {0, 1},
                         2, {}, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                           return math::ExpOp::create(nb, l,
                                                      arith::SubFOp::create(nb, l, a[0], a[1]));
                         });
    Value sum = B.generic(ex, {{0, 1}}, B.filled({T}, elt, zero), {0}, 2, {1},
                          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                            return add(nb, l, a[1], a[0]);
                          });
    p = B.generic(ValueRange{ex, sum}, {{0, 1}, {0}}, B.empty({T, E}, elt), {0, 1}, 2, {},
                  [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                    return arith::DivFOp::create(nb, l, a[0], a[1]);
                  });
  } else if (op.getGating() == "none") {
    p = logits;
  } else {
    p = B.generic(logits, {{0, 1}}, B.empty({T, E}, elt), {0, 1}, 2, {},
                  [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                    Value ex = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[0]));
                    return arith::DivFOp::create(nb, l, B.fcst(nb, l, 1.0),
                                                 add(nb, l, B.fcst(nb, l, 1.0), ex));
                  });
  }
  // Selection scores: the gate scores, plus the selection bias; with
  // groups, experts outside the topk_group best groups (each scored by the
  // sum of its two best selection scores) score 0, as DeepSeek-V3's
  // masked_fill does.
  Value sel = p;
  if (Value bias = op.getSelectionBias())
    sel = B.generic(ValueRange{p, bias}, {{0, 1}, {1}}, B.empty({T, E}, elt), {0, 1}, 2, {},
                    [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                      return add(nb, l, a[0], a[1]);
                    });
  int64_t groups = op.getNGroup();
  if (groups > 1) {
    int64_t perGroup = cast<RankedTensorType>(logits.getType()).getDimSize(1) / groups;
    OpFoldResult G = b.getIndexAttr(groups);
    Value groupScore = B.generic(
        ValueRange{}, {}, B.empty({T, G}, elt), {0, 1}, 2, {},
        [&](OpBuilder &nb, Location l, ValueRange) -> Value {
          Value t = linalg::IndexOp::create(nb, l, 0), g = linalg::IndexOp::create(nb, l, 1);
          Value first = arith::MulIOp::create(nb, l, g, indexCst(nb, l, perGroup));
          Value best = lowestOf(nb, l, elt, false), second = best;
          for (int64_t j = 0; j < perGroup; ++j) {
            Value e = arith::AddIOp::create(nb, l, first, indexCst(nb, l, j));
            Value v = tensor::ExtractOp::create(nb, l, sel, ValueRange{t, e});
            second = arith::MaximumFOp::create(nb, l, second,
                                               arith::MinimumFOp::create(nb, l, best, v));
            best = arith::MaximumFOp::create(nb, l, best, v);
          }
          return add(nb, l, best, second);
        });
    Value groupRank = B.ranks(groupScore);
    int64_t topkGroup = op.getTopkGroup();
    sel = B.generic(sel, {{0, 1}}, B.empty({T, E}, elt), {0, 1}, 2, {},
                    [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                      Value t = linalg::IndexOp::create(nb, l, 0);
                      Value e = linalg::IndexOp::create(nb, l, 1);
                      Value g = arith::DivUIOp::create(nb, l, e, indexCst(nb, l, perGroup));
                      Value r = tensor::ExtractOp::create(nb, l, groupRank, ValueRange{t, g});
                      Value ok = arith::CmpIOp::create(
                          nb, l, arith::CmpIPredicate::slt, r,
                          arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(topkGroup)));
                      return arith::SelectOp::create(nb, l, ok, a[0], zeroOf(nb, l, elt));
                    });
  }
  // Rank of expert e among the token's selection scores.
  Value rank = B.ranks(sel);

  // 2. Slots: expert[t, r] and weight[t, r] for rank r < k.
  Value c0 = B.idx(0), c1 = B.idx(1), cK = B.idx(k);
  Value slotExpert = B.filled({T, b.getIndexAttr(k)}, idxT, c0);
  Value slotWeight = B.filled({T, b.getIndexAttr(k)}, elt, zero);
  auto tLoop = scf::ForOp::create(
      b, loc, c0, Tv, c1, ValueRange{slotExpert, slotWeight},
      [&](OpBuilder &nb, Location l, Value t, ValueRange acc) {
        auto eLoop = scf::ForOp::create(
            nb, l, c0, Ev, c1, acc, [&](OpBuilder &eb, Location el, Value e, ValueRange acc2) {
              Value r = arith::IndexCastOp::create(
                  eb, el, idxT, tensor::ExtractOp::create(eb, el, rank, ValueRange{t, e}));
              Value chosen = arith::CmpIOp::create(eb, el, arith::CmpIPredicate::ult, r, cK);
              auto ifOp = scf::IfOp::create(
                  eb, el, chosen,
                  [&](OpBuilder &ib, Location il) {
                    // Ungated selection (a 0/1 mask): weight 1.
                    Value w = op.getGating() == "none"
                                  ? one
                                  : tensor::ExtractOp::create(ib, il, p, ValueRange{t, e})
                                        .getResult();
                    Value se = tensor::InsertOp::create(ib, il, e, acc2[0], ValueRange{t, r});
                    Value sw = tensor::InsertOp::create(ib, il, w, acc2[1], ValueRange{t, r});
                    scf::YieldOp::create(ib, il, ValueRange{se, sw});
                  },
                  [&](OpBuilder &ib, Location il) {
                    scf::YieldOp::create(ib, il, acc2);
                  });
              scf::YieldOp::create(eb, el, ifOp.getResults());
            });
        scf::YieldOp::create(nb, l, eLoop.getResults());
      });
  return {tLoop.getResult(0), tLoop.getResult(1)};
}

/// The slots of a given routing: the expert indices as index values and
/// the routing weights; a pair whose index is outside [0, E) goes to expert
/// 0 with weight 0 (it adds nothing, and the counting sort stays inside the
/// expert count).
static std::pair<Value, Value> givenSlots(GenericBuilder &B, sp::MoEOp op, OpFoldResult T,
                                          Value Ev) {
  OpBuilder &b = B.b;
  Type elt = B.elt, idxT = b.getIndexType();
  Value idx = op.getExpertIndices(), w = op.getRouterLogits();
  OpFoldResult K = b.getIndexAttr(op.getK());
  // A pair's expert as an index, and whether it is in [0, E).
  auto expertOf = [&](OpBuilder &nb, Location l, Value i) -> std::pair<Value, Value> {
    Value e = arith::IndexCastOp::create(nb, l, idxT, i);
    Value ok = arith::AndIOp::create(
        nb, l, arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, e, indexCst(nb, l, 0)),
        arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, e, Ev));
    return {e, ok};
  };
  Value slotExpert = B.generic(idx, {{0, 1}}, B.empty({T, K}, idxT), {0, 1}, 2, {},
                               [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                                 auto [e, ok] = expertOf(nb, l, a[0]);
                                 return arith::SelectOp::create(nb, l, ok, e,
                                                                indexCst(nb, l, 0));
                               });
  Value slotWeight = B.generic(ValueRange{w, idx}, {{0, 1}, {0, 1}}, B.empty({T, K}, elt),
                               {0, 1}, 2, {},
                               [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                                 Value ok = expertOf(nb, l, a[1]).second;
                                 return arith::SelectOp::create(nb, l, ok, a[0],
                                                                zeroOf(nb, l, elt));
                               });
  return {slotExpert, slotWeight};
}

static FailureOr<Value> lowerMoE(sp::MoEOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  if (op.isQuantized())
    for (Value w : {op.getW1(), op.getW2(), op.getW3()})
      if (w && !cast<RankedTensorType>(w.getType()).hasStaticShape())
        return op.emitOpError("quantized expert weights need static shapes"), failure();
  Value x = op.getInput(), logits = op.getRouterLogits();
  auto xT = cast<RankedTensorType>(x.getType());
  Type elt = xT.getElementType();
  GenericBuilder B{b, loc, elt};
  if (xT.getRank() == 3)
    x = tensor::CollapseShapeOp::create(b, loc, x,
                                        SmallVector<ReassociationIndices>{{0, 1}, {2}});
  auto x2T = cast<RankedTensorType>(x.getType());
  // The expert count from the stacked weights (a given routing's
  // router_logits are [T, k]).
  OpFoldResult T = tensor::getMixedSize(b, loc, x, 0), H = tensor::getMixedSize(b, loc, x, 1),
               E = tensor::getMixedSize(b, loc, op.getW1(), 0);
  Value Tv = dimOf(b, loc, x, 0), Ev = dimOf(b, loc, op.getW1(), 0);
  int64_t k = op.getK();
  Value zero = zeroOf(b, loc, elt);
  Type idxT = b.getIndexType();
  auto add = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::AddFOp::create(nb, l, a, c);
  };

  Value c0 = B.idx(0), c1 = B.idx(1), cK = B.idx(k);
  Value slotExpert, slotWeight;
  std::tie(slotExpert, slotWeight) = op.hasGivenRouting() ? givenSlots(B, op, T, Ev)
                                                          : gateSlots(B, op, logits, T, E, Ev);
  double scaling = op.getRoutedScaling().convertToDouble();
  if (op.getNormalize() || scaling != 1.0) {
    Value denom = B.filled({T}, elt, op.getNormalize() ? zero : B.fcst(b, loc, 1.0));
    if (op.getNormalize())
      denom = B.generic(slotWeight, {{0, 1}}, denom, {0}, 2, {1},
                        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                          return add(nb, l, a[1], a[0]);
                        });
    slotWeight = B.generic(ValueRange{slotWeight, denom}, {{0, 1}, {0}},
                           B.empty({T, b.getIndexAttr(k)}, elt), {0, 1}, 2, {},
                           [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                             Value w = arith::DivFOp::create(nb, l, a[0], a[1]);
                             if (scaling != 1.0)
                               w = arith::MulFOp::create(nb, l, w, B.fcst(nb, l, scaling));
                             return w;
                           });
  }

  Value out = B.filled({T, H}, elt, zero);
  if (op.getSharedW1()) {
    // The shared expert on every token starts the output.
    Value h = B.matmul(x, op.getSharedW1(), Value());
    Value lin = op.getSharedW3() ? B.matmul(x, op.getSharedW3(), Value()) : Value();
    Value ys = B.matmul(activate(B, op, h, lin, /*shared=*/true), op.getSharedW2(), Value());
    if (Value sg = op.getSharedGate()) {
      Value gl = tensor::CollapseShapeOp::create(
          b, loc, B.matmul(x, sg, Value()), SmallVector<ReassociationIndices>{{0, 1}}); // [T]
      ys = B.generic(ValueRange{ys, gl}, {{0, 1}, {0}}, B.empty({T, H}, elt), {0, 1}, 2, {},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       Value ex = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[1]));
                       Value s = arith::DivFOp::create(
                           nb, l, B.fcst(nb, l, 1.0), add(nb, l, B.fcst(nb, l, 1.0), ex));
                       return arith::MulFOp::create(nb, l, a[0], s);
                     });
    }
    out = ys;
  }
  auto scaledAdd = [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    // (acc row, expert row, weight) -> acc + weight * row
    return add(nb, l, a[2], arith::MulFOp::create(nb, l, a[1], a[0]));
  };

  if (x2T.getDimSize(0) == 1) {
    // 3a. Decode: one static GEMV pair per slot.
    if (k >= 2) {
      // Slots in parallel: each thread streams whole experts' weights
      // (longer streams than splitting every GEMV), then the slots sum.
      auto slotsT = RankedTensorType::get({k, x2T.getDimSize(1)}, elt);
      Value slots = B.empty({b.getIndexAttr(k), H}, elt);
      auto forall = scf::ForallOp::create(
          b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(k)}, ValueRange{slots}, std::nullopt,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            GenericBuilder NB{nb, l, elt};
            Value j = args[0];
            Value e = tensor::ExtractOp::create(nb, l, slotExpert, ValueRange{c0, j});
            Value w = tensor::ExtractOp::create(nb, l, slotWeight, ValueRange{c0, j});
            Value y = expertFFN(NB, op, x, e); // [1, H]
            Value scaled = NB.generic(ValueRange{w, y}, {{}, {0, 1}},
                                      NB.empty({nb.getIndexAttr(1), H}, elt), {0, 1}, 2, {},
                                      [&](OpBuilder &eb, Location el, ValueRange v) -> Value {
                                        return arith::MulFOp::create(eb, el, v[0], v[1]);
                                      });
            auto term = scf::InParallelOp::create(nb, l);
            OpBuilder tb = OpBuilder::atBlockBegin(term.getBody());
            SmallVector<OpFoldResult> strides(2, tb.getIndexAttr(1));
            tensor::ParallelInsertSliceOp::create(
                tb, l, scaled, args[1], SmallVector<OpFoldResult>{j, tb.getIndexAttr(0)},
                SmallVector<OpFoldResult>{tb.getIndexAttr(1), H}, strides);
          });
      (void)slotsT;
      // out[0, h] += sum_j slots[j, h]; loops (h, j).
      out = B.generic(forall.getResult(0), {{1, 0}}, out, {2, 0}, 3, {1},
                      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                        return add(nb, l, a[1], a[0]);
                      });
    } else {
      auto loop = scf::ForOp::create(
          b, loc, c0, cK, c1, ValueRange{out},
          [&](OpBuilder &nb, Location l, Value j, ValueRange acc) {
            GenericBuilder NB{nb, l, elt};
            Value e = tensor::ExtractOp::create(nb, l, slotExpert, ValueRange{c0, j});
            Value w = tensor::ExtractOp::create(nb, l, slotWeight, ValueRange{c0, j});
            Value y = expertFFN(NB, op, x, e);
            Value next = NB.generic(ValueRange{w, y}, {{}, {0, 1}}, acc[0], {0, 1}, 2, {},
                                    scaledAdd);
            scf::YieldOp::create(nb, l, next);
          });
      out = loop.getResult(0);
    }
  } else {
    // 3b. Counting sort of the (token, slot) pairs by expert.
    Value counts = B.filled({E}, idxT, c0);
    auto count = scf::ForOp::create(
        b, loc, c0, Tv, c1, ValueRange{counts}, [&](OpBuilder &nb, Location l, Value t, ValueRange acc) {
          auto inner = scf::ForOp::create(
              nb, l, c0, cK, c1, acc, [&](OpBuilder &jb, Location jl, Value j, ValueRange acc2) {
                Value e = tensor::ExtractOp::create(jb, jl, slotExpert, ValueRange{t, j});
                Value c = tensor::ExtractOp::create(jb, jl, acc2[0], e);
                Value c2 = arith::AddIOp::create(jb, jl, c, c1);
                scf::YieldOp::create(
                    jb, jl, tensor::InsertOp::create(jb, jl, c2, acc2[0], e).getResult());
              });
          scf::YieldOp::create(nb, l, inner.getResults());
        });
    counts = count.getResult(0);
    // start[e] = sum of counts before e.
    Value starts = B.filled({E}, idxT, c0);
    auto prefix = scf::ForOp::create(
        b, loc, c0, Ev, c1, ValueRange{starts, c0},
        [&](OpBuilder &nb, Location l, Value e, ValueRange acc) {
          Value s = tensor::InsertOp::create(nb, l, acc[1], acc[0], e);
          Value c = tensor::ExtractOp::create(nb, l, counts, e);
          scf::YieldOp::create(nb, l, ValueRange{s, arith::AddIOp::create(nb, l, acc[1], c)});
        });
    starts = prefix.getResult(0);
    // Place each pair at its expert's next position; remember where each
    // (token, slot) went, and list the experts that got tokens.
    OpFoldResult pairs = arith::MulIOp::create(b, loc, Tv, cK).getResult();
    Value permToken = B.empty({pairs}, idxT), permWeight = B.empty({pairs}, elt);
    Value slotPos = B.empty({T, b.getIndexAttr(k)}, idxT);
    auto place = scf::ForOp::create(
        b, loc, c0, Tv, c1, ValueRange{starts, permToken, permWeight, slotPos},
        [&](OpBuilder &nb, Location l, Value t, ValueRange acc) {
          auto inner = scf::ForOp::create(
              nb, l, c0, cK, c1, acc, [&](OpBuilder &jb, Location jl, Value j, ValueRange a) {
                Value e = tensor::ExtractOp::create(jb, jl, slotExpert, ValueRange{t, j});
                Value w = tensor::ExtractOp::create(jb, jl, slotWeight, ValueRange{t, j});
                Value pos = tensor::ExtractOp::create(jb, jl, a[0], e);
                Value cur = tensor::InsertOp::create(jb, jl, arith::AddIOp::create(jb, jl, pos, c1),
                                                     a[0], e);
                Value pt = tensor::InsertOp::create(jb, jl, t, a[1], pos);
                Value pw = tensor::InsertOp::create(jb, jl, w, a[2], pos);
                Value sp = tensor::InsertOp::create(jb, jl, pos, a[3], ValueRange{t, j});
                scf::YieldOp::create(jb, jl, ValueRange{cur, pt, pw, sp});
              });
          scf::YieldOp::create(nb, l, inner.getResults());
        });
    permToken = place.getResult(1);
    permWeight = place.getResult(2);
    slotPos = place.getResult(3);
    std::pair<Value, Value> withTokens =
        B.listWhere(Ev, [&](OpBuilder &nb, Location l, Value e) -> Value {
          Value cnt = tensor::ExtractOp::create(nb, l, counts, e);
          return arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, cnt, c0);
        });
    Value active = withTokens.first, numActive = withTokens.second;

    // One task per expert with tokens, spread over the threads (each
    // streams whole experts' weights): gather its rows, FFN, scale by the
    // routing weights, write them at the expert's positions.
    auto rowsT = RankedTensorType::get({ShapedType::kDynamic, x2T.getDimSize(1)}, elt);
    Value expertRows = B.empty({pairs, H}, elt);
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{numActive}, ValueRange{expertRows}, std::nullopt,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          GenericBuilder IB{nb, l, elt};
          Value e = tensor::ExtractOp::create(nb, l, active, args[0]);
          Value cnt = tensor::ExtractOp::create(nb, l, counts, e);
          Value start = tensor::ExtractOp::create(nb, l, starts, e);
          Value rows = IB.generic(ValueRange{}, {}, IB.empty({cnt, H}, elt), {0, 1}, 2, {},
                                  [&](OpBuilder &gb, Location gl, ValueRange) -> Value {
                                    Value i = linalg::IndexOp::create(gb, gl, 0);
                                    Value h = linalg::IndexOp::create(gb, gl, 1);
                                    Value tok = tensor::ExtractOp::create(
                                        gb, gl, permToken,
                                        ValueRange{arith::AddIOp::create(gb, gl, start, i)});
                                    return tensor::ExtractOp::create(gb, gl, x,
                                                                     ValueRange{tok, h});
                                  });
          Value y = expertFFN(IB, op, rows, e);
          Value scaled = IB.generic(y, {{0, 1}}, IB.empty({cnt, H}, elt), {0, 1}, 2, {},
                                    [&](OpBuilder &gb, Location gl, ValueRange a) -> Value {
                                      Value i = linalg::IndexOp::create(gb, gl, 0);
                                      Value w = tensor::ExtractOp::create(
                                          gb, gl, permWeight,
                                          ValueRange{arith::AddIOp::create(gb, gl, start, i)});
                                      return arith::MulFOp::create(gb, gl, a[0], w);
                                    });
          if (scaled.getType() != rowsT)
            scaled = tensor::CastOp::create(nb, l, rowsT, scaled);
          auto term = scf::InParallelOp::create(nb, l);
          OpBuilder tb = OpBuilder::atBlockBegin(term.getBody());
          SmallVector<OpFoldResult> offs = {start, tb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {cnt, H};
          SmallVector<OpFoldResult> strides(2, tb.getIndexAttr(1));
          tensor::ParallelInsertSliceOp::create(tb, l, scaled, args[1], offs, sizes, strides);
        });
    expertRows = forall.getResult(0);
    // out[t] = sum over the token's slots of its expert rows.
    out = B.generic(
        ValueRange{slotPos}, {{0, 2}}, out, {0, 1}, 3, {2},
        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
          Value h = linalg::IndexOp::create(nb, l, 1);
          Value row = tensor::ExtractOp::create(nb, l, expertRows, ValueRange{a[0], h});
          return add(nb, l, a[1], row);
        });
  }

  auto rT = cast<RankedTensorType>(op.getType());
  if (rT.getRank() == 3)
    return reshapeTo(b, loc, out, rT, dimsOf(b, loc, op.getInput()));
  if (out.getType() != rT)
    out = tensor::CastOp::create(b, loc, rT, out);
  return out;
}

void sparsa::lowering::populateRoutingLowerings(LoweringTable &t) {
  addSingle<sp::MoEOp, lowerMoE>(t);
}
