//===- MoE.cpp - com.microsoft.MoE reference lowering ----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The reference semantics of ONNX Runtime's MoE op as dense linalg: routing
// weights (softmax, top-k by rank, optional renormalization) are computed
// for every (token, expert) pair, every expert runs on every token, and the
// combine multiplies by the weight (zero for unselected experts). This is
// E times the work of a routed kernel; the routing fusion replaces it with
// code that reads only the chosen experts' weights, and must match it.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace onnx = sparsa::onnx;

namespace {
/// The operands and attributes of MoE / QMoE (weights already float).
struct MoEParams {
  Value input, logits, w1, b1, w2, b2, w3, b3;
  int64_t k;
  StringRef act;
  bool normalize;
  int64_t fusion;
  double alpha, beta;
  std::optional<double> limit;
  RankedTensorType resultType;
};
} // namespace

static FailureOr<Value> buildMoE(Operation *op, OpBuilder &b, const MoEParams &p) {
  Location loc = op->getLoc();
  Value x = p.input, logits = p.logits;
  auto xT = cast<RankedTensorType>(x.getType());
  Type elt = xT.getElementType();
  // [B, S, H] -> [T, H].
  if (xT.getRank() == 3)
    x = tensor::CollapseShapeOp::create(b, loc, x,
                                        SmallVector<ReassociationIndices>{{0, 1}, {2}});
  Value T = dimOf(b, loc, x, 0), H = dimOf(b, loc, x, 1);
  Value E = dimOf(b, loc, logits, 1);
  Value W1 = p.w1, W2 = p.w2;
  Value F1 = dimOf(b, loc, W1, 1), I = dimOf(b, loc, W2, 2);
  int64_t k = p.k;
  Value zero = zeroOf(b, loc, elt);
  GenericBuilder G{b, loc, elt};
  auto add = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::AddFOp::create(nb, l, a, c);
  };
  auto mul = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::MulFOp::create(nb, l, a, c);
  };

  // Routing weights w[t, e]. Loops (t, e[, e2]).
  Value rowMax = G.generic(logits, {{0, 1}}, G.filled({T}, elt, lowestOf(b, loc, elt, false)),
                         {0}, 2, {1}, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                           return arith::MaximumFOp::create(nb, l, a[1], a[0]);
                         });
  Value rowSum = G.generic(ValueRange{logits, rowMax}, {{0, 1}, {0}},
                         G.filled({T}, elt, zero), {0}, 2, {1},
                         [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                           Value e = math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, a[0], a[1]));
                           return add(nb, l, a[2], e);
                         });
  Type i32 = b.getI32Type();
  Value rank = G.ranks(logits);
  Value weights = G.generic(ValueRange{logits, rowMax, rowSum, rank}, {{0, 1}, {0}, {0}, {0, 1}},
      G.filled({T, E}, elt, zero), {0, 1}, 2, {},
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value p = arith::DivFOp::create(
            nb, l, math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, a[0], a[1])), a[2]);
        Value chosen = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::slt, a[3],
            arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(k)));
        return arith::SelectOp::create(nb, l, chosen, p, zeroOf(nb, l, elt));
      });
  if (p.normalize) {
    Value sel = G.generic(weights, {{0, 1}}, G.filled({T}, elt, zero), {0}, 2,
                        {1}, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                          return add(nb, l, a[1], a[0]);
                        });
    weights = G.generic(ValueRange{weights, sel}, {{0, 1}, {0}},
                      G.filled({T, E}, elt, zero), {0, 1}, 2, {},
                      [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                        return arith::DivFOp::create(nb, l, a[0], a[1]);
                      });
  }

  // Expert projections h[e, t, o] = x[t] . W[e, o] (+ bias[e, o]); loops
  // (e, t, o, i) with i reduced.
  auto project = [&](Value in, Value W, Value bias, Value outDim) -> Value {
    Value acc = G.filled({E, T, outDim}, elt, zero);
    if (bias)
      acc = G.generic(bias, {{0, 2}}, acc, {0, 1, 2}, 3, {},
                    [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    bool perExpert = cast<RankedTensorType>(in.getType()).getRank() == 3;
    SmallVector<int64_t> inDims = perExpert ? SmallVector<int64_t>{0, 1, 3}
                                            : SmallVector<int64_t>{1, 3};
    return G.generic(ValueRange{in, W}, {inDims, {0, 2, 3}}, acc, {0, 1, 2}, 4, {3},
                   [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     return add(nb, l, a[2], mul(nb, l, a[0], a[1]));
                   });
  };
  Value h = project(x, W1, p.b1, F1);

  // Activation a[e, t, j], j < inter.
  StringRef act = p.act;
  Value a;
  auto cst = [&](OpBuilder &nb, Location l, double v) { return floatCst(nb, l, elt, v); };
  if (act == "swiglu") {
    Value g = h, lin = h;
    int64_t fusion = p.fusion;
    if (fusion == 0)
      lin = project(x, p.w3, p.b3, I);
    if (fusion == 2) {
      // [gate | linear] halves of each fc1 row.
      auto half = [&](Value offset) -> Value {
        SmallVector<OpFoldResult> offs = {b.getIndexAttr(0), b.getIndexAttr(0), offset};
        SmallVector<OpFoldResult> sizes = {E, T, I};
        SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
        return tensor::ExtractSliceOp::create(b, loc, h, offs, sizes, strides);
      };
      g = half(indexCst(b, loc, 0));
      lin = half(I);
    }
    MLIRContext *ctx = b.getContext();
    AffineExpr e0 = getAffineDimExpr(0, ctx), t = getAffineDimExpr(1, ctx),
               j = getAffineDimExpr(2, ctx);
    // Interleaved (fusion 1): gate at 2j, linear at 2j + 1.
    AffineExpr gj = fusion == 1 ? j * 2 : j;
    AffineExpr lj = fusion == 1 ? j * 2 + 1 : j;
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {e0, t, gj}, ctx),
                                   AffineMap::get(3, 0, {e0, t, lj}, ctx),
                                   b.getMultiDimIdentityMap(3)};
    std::optional<double> limit = p.limit;
    double alpha = p.alpha, beta = p.beta;
    Value init = G.filled({E, T, I}, elt, zero);
    SmallVector<utils::IteratorType> iters(3, utils::IteratorType::parallel);
    a = linalg::GenericOp::create(
            b, loc, init.getType(), ValueRange{g, lin}, init, maps, iters,
            [&](OpBuilder &nb, Location l, ValueRange v) {
              Value G = v[0], L = v[1];
              if (limit) {
                G = arith::MinimumFOp::create(nb, l, G, cst(nb, l, *limit));
                L = arith::MaximumFOp::create(
                    nb, l, arith::MinimumFOp::create(nb, l, L, cst(nb, l, *limit)),
                    cst(nb, l, -*limit));
              }
              Value s = applyExpertActivation(nb, l, "silu", G, alpha);
              linalg::YieldOp::create(
                  nb, l, mul(nb, l, s, arith::AddFOp::create(nb, l, L, cst(nb, l, beta))));
            })
            .getResult(0);
  } else {
    a = G.generic(h, {{0, 1, 2}}, G.filled({E, T, F1}, elt, zero), {0, 1, 2}, 3,
                {}, [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                  // ONNX Runtime's MoE "gelu" is the tanh approximation.
                  return applyExpertActivation(nb, l, act == "gelu" ? "gelu_tanh" : act, v[0]);
                });
  }
  Value y = project(a, W2, p.b2, H);

  // Combine: out[t, o] = sum_e w[t, e] * y[e, t, o]; loops (t, o, e).
  Value out = G.generic(ValueRange{weights, y}, {{0, 2}, {2, 0, 1}},
                      G.filled({T, H}, elt, zero), {0, 1}, 3, {2},
                      [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                        return add(nb, l, v[2], mul(nb, l, v[0], v[1]));
                      });
  auto rT = p.resultType;
  if (rT.getRank() == 3) {
    SmallVector<Value> dims = {dimOf(b, loc, p.input, 0), dimOf(b, loc, p.input, 1),
                               dimOf(b, loc, p.input, 2)};
    return reshapeTo(b, loc, out, rT, dims);
  }
  if (out.getType() != rT)
    out = tensor::CastOp::create(b, loc, rT, out);
  return out;
}

template <typename OpTy>
static MoEParams moeAttributes(OpTy op) {
  MoEParams p;
  p.input = op.getInput();
  p.logits = op.getRouterProbs();
  p.k = op.getK();
  p.act = op.getActivationType();
  p.normalize = op.getNormalizeRoutingWeights() != 0;
  p.fusion = op.getSwigluFusion();
  p.alpha = op.getActivationAlpha().convertToDouble();
  p.beta = op.getActivationBeta().convertToDouble();
  if (auto l = op.getSwigluLimit())
    p.limit = l->convertToDouble();
  p.resultType = cast<RankedTensorType>(op.getType());
  p.b1 = op.getFc1ExpertsBias();
  p.b2 = op.getFc2ExpertsBias();
  p.b3 = op.getFc3ExpertsBias();
  return p;
}

static FailureOr<Value> lowerMoE(onnx::MoEOp op, LowerCtx &lctx) {
  MoEParams p = moeAttributes(op);
  p.w1 = op.getFc1ExpertsWeights();
  p.w2 = op.getFc2ExpertsWeights();
  p.w3 = op.getFc3ExpertsWeights();
  return buildMoE(op, lctx.b, p);
}

/// Dequantizes QMoE expert weights q [E, out, in * bits / 8] (uint8, low
/// bits first) with scales [E, out] or [E, out, in / block] and optional
/// packed zero points into a float [E, out, in] tensor of |elt|.
static Value dequantizeExperts(OpBuilder &b, Location loc, Value q, Value scales, Value zp,
                               int64_t bits, int64_t block, Type elt) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  int64_t perByte = 8 / bits;
  SmallVector<Value> sizes = {dimOf(b, loc, q, 0), dimOf(b, loc, q, 1),
                              arith::MulIOp::create(b, loc, dimOf(b, loc, q, 2),
                                                    indexCst(b, loc, perByte))};
  SmallVector<OpFoldResult> ofr(sizes.begin(), sizes.end());
  Value empty = tensor::EmptyOp::create(b, loc, ofr, elt);
  auto field = [&](OpBuilder &nb, Location l, Value byte, Value elemIdx) -> Value {
    Value shift = arith::IndexCastOp::create(
        nb, l, i32,
        arith::MulIOp::create(nb, l,
                              arith::RemUIOp::create(nb, l, elemIdx, indexCst(nb, l, perByte)),
                              indexCst(nb, l, bits)));
    Value v = arith::ShRUIOp::create(nb, l, arith::ExtUIOp::create(nb, l, i32, byte), shift);
    return arith::AndIOp::create(
        nb, l, v, arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr((1 << bits) - 1)));
  };
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(3)};
  SmallVector<utils::IteratorType> iters(3, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, empty.getType(), ValueRange{}, empty, maps, iters,
             [&](OpBuilder &nb, Location l, ValueRange) {
               Value e = linalg::IndexOp::create(nb, l, 0), o = linalg::IndexOp::create(nb, l, 1),
                     i = linalg::IndexOp::create(nb, l, 2);
               Value byteIdx = arith::DivUIOp::create(nb, l, i, indexCst(nb, l, perByte));
               Value byte = tensor::ExtractOp::create(nb, l, q, ValueRange{e, o, byteIdx});
               Value qv = arith::SIToFPOp::create(nb, l, f32, field(nb, l, byte, i));
               // Per-row scale, or per block along `in`; zero points packed
               // like the weights (per row: along `out`).
               Value blk = block ? arith::DivUIOp::create(nb, l, i, indexCst(nb, l, block)).getResult()
                                 : Value();
               SmallVector<Value> sIdx = {e, o};
               if (block)
                 sIdx.push_back(blk);
               Value s = tensor::ExtractOp::create(nb, l, scales, sIdx);
               if (s.getType() != f32)
                 s = arith::ExtFOp::create(nb, l, f32, s);
               Value z;
               if (!zp) {
                 z = floatCst(nb, l, f32, double(1 << (bits - 1)));
               } else {
                 Value pos = block ? blk : o;
                 Value zb = arith::DivUIOp::create(nb, l, pos, indexCst(nb, l, perByte));
                 SmallVector<Value> zIdx = block ? SmallVector<Value>{e, o, zb}
                                                 : SmallVector<Value>{e, zb};
                 Value zbyte = tensor::ExtractOp::create(nb, l, zp, zIdx);
                 z = arith::SIToFPOp::create(nb, l, f32, field(nb, l, zbyte, pos));
               }
               Value w = arith::MulFOp::create(nb, l, arith::SubFOp::create(nb, l, qv, z), s);
               if (elt != f32)
                 w = arith::TruncFOp::create(nb, l, elt, w);
               linalg::YieldOp::create(nb, l, w);
             })
      .getResult(0);
}

static FailureOr<Value> lowerQMoE(onnx::QMoEOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  MoEParams p = moeAttributes(op);
  Type elt = getElementTypeOrSelf(op.getInput());
  int64_t bits = op.getExpertWeightBits(), block = op.getBlockSize();
  p.w1 = dequantizeExperts(b, loc, op.getFc1ExpertsWeights(), op.getFc1Scales(),
                           op.getFc1ZeroPoints(), bits, block, elt);
  p.w2 = dequantizeExperts(b, loc, op.getFc2ExpertsWeights(), op.getFc2Scales(),
                           op.getFc2ZeroPoints(), bits, block, elt);
  if (op.getFc3ExpertsWeights())
    p.w3 = dequantizeExperts(b, loc, op.getFc3ExpertsWeights(), op.getFc3Scales(),
                             op.getFc3ZeroPoints(), bits, block, elt);
  return buildMoE(op, b, p);
}

void sparsa::lowering::populateMoELowerings(LoweringTable &t) {
  addSingle<onnx::MoEOp, lowerMoE>(t);
  addSingle<onnx::QMoEOp, lowerQMoE>(t);
}
