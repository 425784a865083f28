//===- FuseActivationSparsity.cpp - sparse FFNs -> sparsa.sparse_ffn -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The activation-sparsity fusion family: an FFN whose hidden activation is
// exactly zero for inactive neurons (ReLU in its spellings, FATReLU's
// threshold), optionally a ReLU-gated GLU, becomes one sparsa.sparse_ffn
// whose lowering reads only the active neurons' weights after the gate.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Transforms/Passes.h"

#include "OnnxPatterns.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace sparsa {
#define GEN_PASS_DEF_FUSEACTIVATIONSPARSITYPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
using namespace sparsa::patterns;
namespace sp = sparsa::sparsa;
using sparsa::markUnfused;

static constexpr StringLiteral kFamily = "activation_sparsity";

/// "not a constant", with where the value comes from: a model input, or
/// computed at run time (a top-k value of the activation itself, say).
static std::string notConstant(StringRef what, Value t) {
  return (what + " is not a constant" +
          (isa<BlockArgument>(t) ? " (a model input?)" : " (computed at run time)"))
      .str();
}

/// Why an activation written as Where(h > t, h, c) or, CATS, Where(|g| >
/// t, g, c) of a dense activation g (in any spelling of matchThresholded)
/// is not a sparse one, or "" when |a| is not of that shape.
static std::string whyNotThreshold(Value a) {
  std::optional<Thresholded> th = matchThresholded(a);
  Value gh;
  if (!th || (th->key != th->kept && magnitudeCutOf(*th, gh).empty()))
    return "";
  std::optional<double> t = th->exclusive();
  if (!t)
    return notConstant("the activation threshold", th->threshold);
  if (*t < 0.0)
    return "the activation threshold is negative";
  if (!th->zeroFill())
    return "inactive neurons take a non-zero value";
  return "";
}

/// A weight as [rows, cols] in the layout the op wants: |kn| = true asks
/// for MatMul layout [in, out], false for one row per neuron [out, in].
static Value layout(OpBuilder &b, Location loc, const Projection &p, bool kn) {
  bool isKN = !p.transposed;
  return isKN == kn ? p.weight : transpose2D(b, loc, p.weight);
}

/// The constant behind a weight gathered by the index set |idx| along
/// |axis|, or null.
static Value gatheredConstant(Value w, Value &idx, int64_t axis) {
  // Rows also as the dynamo exporter writes `w[idx]` (GatherND).
  if (std::optional<std::pair<Value, Value>> rows = axis == 0 ? gatheredRows(w) : std::nullopt;
      rows && !w.getDefiningOp<onnx::GatherOp>()) {
    if (!isConstant(rows->first) || rankOf(rows->second) != 1 ||
        (idx && rows->second != idx))
      return Value();
    idx = rows->second;
    return rows->first;
  }
  auto g = w ? w.getDefiningOp<onnx::GatherOp>() : onnx::GatherOp();
  if (!g || !isConstant(g.getData()) || rankOf(g.getIndices()) != 1)
    return Value();
  int64_t a = g.getAxis() < 0 ? g.getAxis() + rankOf(g.getData()) : g.getAxis();
  if (a != axis || (idx && g.getIndices() != idx))
    return Value();
  idx = g.getIndices();
  return g.getData();
}

/// An FFN over a neuron index set (CoreInfer's core neurons given as an
/// input; a predictor's top-k as in Deja Vu): every weight and bias is a
/// constant gathered by the same 1-D indices. Any activation.
static Operation *fuseIndexedFFN(Operation *anchor, const ExpertFFN &f, Operation *actOp) {
  if (f.alpha != 1.0) {
    markUnfused(actOp, kFamily, "a SiLU with a scaled sigmoid (quick GELU) is not a sparse "
                                "FFN activation");
    return nullptr;
  }
  Value idx;
  OpBuilder b(anchor);
  Location loc = anchor->getLoc();
  // Row per neuron [F, H]: MatMul weights [H, F] are gathered along axis 1
  // (and transposed here), Gemm(transB) weights [F, H] along axis 0.
  auto rowPerNeuron = [&](const Projection &p) -> Value {
    if (!p.weight)
      return Value();
    Value c = gatheredConstant(p.weight, idx, p.transposed ? 0 : 1);
    if (!c || rankOf(c) != 2)
      return Value();
    return p.transposed ? c : transpose2D(b, loc, c);
  };
  // The down projection as [F, H]: MatMul [F, H] along axis 0, Gemm(transB)
  // [H, F] along axis 1.
  auto down = [&](const Projection &p) -> Value {
    Value c = gatheredConstant(p.weight, idx, p.transposed ? 1 : 0);
    if (!c || rankOf(c) != 2)
      return Value();
    return p.transposed ? transpose2D(b, loc, c) : c;
  };
  auto bias = [&](Value v) -> Value {
    return v ? gatheredConstant(v, idx, 0) : Value();
  };
  Value w1 = rowPerNeuron(f.p1), w2 = down(f.p2);
  Value up = rowPerNeuron(f.p3);
  Value b1 = bias(f.p1.bias), bUp = bias(f.p3.bias);
  bool ok = w1 && w2 && (!f.p3.weight || up) && (!f.p1.bias || b1) &&
            (!f.p3.bias || bUp) && (!f.p2.bias || isConstant(f.p2.bias));
  if (!ok) {
    markUnfused(actOp, kFamily,
                "the gathered weights and biases do not share one index set over "
                "constant matrices");
    return nullptr;
  }
  if (!f.actOut.hasOneUse() || (f.p3.weight && !f.p2.in.hasOneUse())) {
    markUnfused(actOp, kFamily, "the activation is also used elsewhere");
    return nullptr;
  }
  auto op = sp::SparseFFNOp::create(b, loc, f.in.getType(), f.in, w1, w2, up, b1, bUp,
                                    f.p2.bias, idx, Value(), Value(), Value(), Value(), Value(),
                                    Value(), b.getStringAttr(f.act), b.getF64FloatAttr(f.threshold),
                                    b.getI64IntegerAttr(0), b.getI64IntegerAttr(0));
  op.setNanActive(f.nanActive);
  op.setActivation(f.absOf);
  op.setReluUp(f.reluUp);
  if (op.getType() != anchor->getResult(0).getType() || !verifiesQuietly(op)) {
    op.erase();
    markUnfused(actOp, kFamily, "the FFN's shapes do not form a sparsa.sparse_ffn");
    return nullptr;
  }
  anchor->getResult(0).replaceAllUsesWith(op.getResult());
  return anchor;
}

/// Fuses the FFN producing |y| into a sparsa.sparse_ffn when its activation
/// is sparse; returns the replaced op, or null (with a reason recorded on a
/// near miss).
static Operation *fuseSparseFFN(Operation *anchor) {
  Value y = anchor->getResult(0);
  std::optional<ExpertFFN> f = matchFFN(y);
  if (!f || f->act == "identity") {
    // A thresholded activation that is not a sparse one (the down
    // projection's input, or a GLU's gate side) says why.
    if (auto p2 = matchProjection(y)) {
      SmallVector<Value> candidates = {p2->in};
      if (auto mul = p2->in.getDefiningOp<onnx::MulOp>())
        candidates.append({mul.getA(), mul.getB()});
      for (Value a : candidates) {
        std::string why = whyNotThreshold(a);
        if (!why.empty()) {
          markUnfused(a.getDefiningOp(), kFamily, why);
          break;
        }
      }
    }
    return nullptr;
  }
  Operation *actOp = f->actOut.getDefiningOp();
  if (f->p1.weight.getDefiningOp<onnx::GatherOp>() || f->p1.weight.getDefiningOp<onnx::GatherNDOp>())
    return fuseIndexedFFN(anchor, *f, actOp);
  if (f->act != "relu" && f->act != "relu2" && f->act != "threshold" &&
      f->act != "abs_threshold")
    return nullptr; // dense activations (GELU, SiLU) have no exact zeros
  if (!f->actOut.hasOneUse() || (f->p3.weight && !f->p2.in.hasOneUse())) {
    markUnfused(actOp, kFamily, "the activation is also used elsewhere");
    return nullptr;
  }
  for (const Projection *p : {&f->p1, &f->p2, &f->p3}) {
    if (!p->weight)
      continue;
    if (rankOf(p->weight) > 2)
      return nullptr; // stacked expert weights: a mixture of experts' (routing)
    if (!isConstant(p->weight) || rankOf(p->weight) != 2 ||
        (p->bias && (!isConstant(p->bias) || rankOf(p->bias) != 1))) {
      markUnfused(actOp, kFamily,
                  "weights or biases are not constant matrices / vectors");
      return nullptr;
    }
  }
  int64_t rank = rankOf(f->in);
  if (rank != 2 && rank != 3) {
    markUnfused(actOp, kFamily, "the FFN input is not [T, H] or [B, S, H]");
    return nullptr;
  }
  auto inT = cast<RankedTensorType>(f->in.getType());
  auto outT = dyn_cast<RankedTensorType>(y.getType());
  if (outT && !inT.isDynamicDim(rank - 1) && !outT.isDynamicDim(outT.getRank() - 1) &&
      inT.getShape().back() != outT.getShape().back()) {
    // A bottleneck or widening MLP (a sparsity predictor's x A B, say).
    markUnfused(actOp, kFamily,
                "the FFN's output width " + std::to_string(outT.getShape().back()) +
                    " differs from its input's " + std::to_string(inT.getShape().back()) +
                    " (a sparse FFN keeps the width)");
    return nullptr;
  }
  OpBuilder b(anchor);
  Location loc = anchor->getLoc();
  auto op = sp::SparseFFNOp::create(
      b, loc, f->in.getType(), f->in, layout(b, loc, f->p1, true),
      layout(b, loc, f->p2, true),
      f->p3.weight ? layout(b, loc, f->p3, false) : Value(), f->p1.bias, f->p3.bias,
      f->p2.bias, Value(), Value(), Value(), Value(), Value(), Value(), Value(),
      b.getStringAttr(f->act),
      b.getF64FloatAttr(f->threshold), b.getI64IntegerAttr(0), b.getI64IntegerAttr(0));
  op.setNanActive(f->nanActive);
  op.setActivation(f->absOf);
  op.setReluUp(f->reluUp);
  if (op.getType() != y.getType() || !verifiesQuietly(op)) {
    op.erase();
    markUnfused(actOp, kFamily, "the FFN's shapes do not form a sparsa.sparse_ffn");
    return nullptr;
  }
  y.replaceAllUsesWith(op.getResult());
  return anchor;
}

/// `in @ dequant(W) (+ bias)` as com.microsoft.MatMulNBits, its bias an
/// input or a following Add of a constant [N].
namespace {
struct NBitsProjection {
  onnx::MatMulNBitsOp op;
  Value bias;
};
} // namespace

static std::optional<NBitsProjection> matchNBits(Value v) {
  Value bias;
  if (auto add = v.getDefiningOp<onnx::AddOp>()) {
    auto pair = operandsWith<onnx::AddOp>(v, [](Value o) {
      return bool(o.getDefiningOp<onnx::MatMulNBitsOp>());
    });
    if (!pair || !isConstant(pair->second) || rankOf(pair->second) != 1)
      return std::nullopt;
    v = pair->first;
    bias = pair->second;
  }
  auto op = v.getDefiningOp<onnx::MatMulNBitsOp>();
  if (!op || (bias && op.getBias()) || (bias && !v.hasOneUse()))
    return std::nullopt;
  return NBitsProjection{op, bias ? bias : op.getBias()};
}

/// A MatMulNBits constant as [rows, cols] (flat scales / zero points are
/// MatMulNBits' [N * cols] too), or null.
static Value as2D(OpBuilder &b, Location loc, Value v, int64_t rows, int64_t cols) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t || !t.hasStaticShape() || t.getNumElements() != rows * cols)
    return Value();
  if (t.getRank() == 2 && t.getDimSize(0) == rows)
    return v;
  FailureOr<SmallVector<char>> bytes = constantBytes(v);
  if (failed(bytes))
    return Value();
  return bytesConstant(b, loc, RankedTensorType::get({rows, cols}, t.getElementType()), *bytes);
}

/// An int4 / int8 sparse FFN: MatMulNBits (up, + bias), ReLU or a FATReLU
/// threshold (times a third MatMulNBits of the same input for a ReLU-gated
/// GLU), MatMulNBits (down, + bias), all weights constant. The up
/// projection stays in MatMulNBits' layout (one row per neuron); the down
/// projection is repacked at compile time one row of codes per neuron (the
/// same values), its scales and zero points per block of neurons.
static Operation *fuseQuantizedFFN(Operation *anchor) {
  Value y = anchor->getResult(0);
  std::optional<NBitsProjection> down = matchNBits(y);
  if (!down)
    return nullptr;
  Value act = down->op.getA(), h;
  double threshold = 0.0;
  bool nanActive = false;
  StringRef mode = matchActivation(act, h, &threshold, &nanActive);
  // A ReLU-gated GLU (ProSparse): Mul(act(gate x), up x), either order.
  std::optional<NBitsProjection> lin;
  Value glu, linOut;
  if (auto mul = act.getDefiningOp<onnx::MulOp>()) {
    for (auto [a, l] : {std::pair(mul.getA(), mul.getB()), std::pair(mul.getB(), mul.getA())}) {
      Value gh;
      double t = 0.0;
      bool nan = false;
      StringRef m = matchActivation(a, gh, &t, &nan);
      std::optional<NBitsProjection> lp = matchNBits(l);
      if ((m == "relu" || m == "relu2" || m == "threshold") && lp && matchNBits(gh)) {
        glu = act;
        act = a;
        h = gh;
        mode = m;
        threshold = t;
        nanActive = nan;
        lin = lp;
        linOut = l;
        break;
      }
    }
  }
  if (mode != "relu" && mode != "relu2" && mode != "threshold")
    return nullptr; // dense activations have no exact zeros
  std::optional<NBitsProjection> up = h ? matchNBits(h) : std::nullopt;
  if (!up)
    return nullptr;
  Operation *actOp = act.getDefiningOp();
  auto fail = [&](StringRef why) -> Operation * {
    markUnfused(actOp, kFamily, why);
    return nullptr;
  };
  if (glu && (!glu.hasOneUse() || !linOut.hasOneUse()))
    return fail("the GLU's product or its linear part is also used elsewhere");
  onnx::MatMulNBitsOp p1 = up->op, p2 = down->op;
  // The gate feeds only the activation (a threshold reads it twice: as the
  // kept value and through its comparison, which may pass a Not or a Cast
  // on its way to the activation's root).
  auto leadsOnlyToAct = [&](Operation *u) {
    for (int depth = 0; depth < 4 && u != actOp; ++depth) {
      if (u->getNumResults() != 1 || !u->getResult(0).hasOneUse())
        return false;
      u = *u->getResult(0).getUsers().begin();
    }
    return u == actOp;
  };
  bool gateOnlyActivates = llvm::all_of(h.getUsers(), leadsOnlyToAct);
  if (!act.hasOneUse() || !gateOnlyActivates)
    return fail("the activation is also used elsewhere");
  int64_t H = p1.getK(), F = p1.getN(), bits = p1.getBits(), bs = p1.getBlockSize();
  if (p2.getK() != F || p2.getN() != H)
    return fail("the two MatMulNBits do not form an FFN (K and N)");
  if (p2.getBits() != bits || p2.getBlockSize() != bs)
    return fail("the two MatMulNBits use different bit widths or block sizes");
  onnx::MatMulNBitsOp p3 = lin ? lin->op : onnx::MatMulNBitsOp();
  if (p3 && (p3.getK() != H || p3.getN() != F || p3.getA() != p1.getA()))
    return fail("the GLU's linear MatMulNBits does not match its gate (K, N and input)");
  if (p3 && (p3.getBits() != bits || p3.getBlockSize() != bs))
    return fail("the GLU's MatMulNBits use different bit widths or block sizes");
  if ((H * bits) % 8 != 0)
    return fail("a row of the repacked down projection does not fill whole bytes");
  SmallVector<Value> constants = {p1.getB(), p1.getScales(), p1.getZeroPoints(), p2.getB(),
                                  p2.getScales(), p2.getZeroPoints(), up->bias, down->bias};
  if (p3)
    constants.append({p3.getB(), p3.getScales(), p3.getZeroPoints(), lin->bias});
  for (Value v : constants)
    if (v && !isConstant(v))
      return fail("quantized weights, scales, zero points or biases are not constant");
  for (Value z : {Value(p1.getZeroPoints()), Value(p2.getZeroPoints()),
                  p3 ? Value(p3.getZeroPoints()) : Value()})
    if (z && !getElementTypeOrSelf(z).isInteger(8))
      return fail("float zero points (packed uint8 ones fuse)");
  if (!getElementTypeOrSelf(p2.getScales()).isF32() ||
      !getElementTypeOrSelf(p1.getScales()).isF32() ||
      (p3 && !getElementTypeOrSelf(p3.getScales()).isF32()) ||
      !getElementTypeOrSelf(p1.getA()).isF32())
    return fail("a quantized sparse FFN needs f32 activations and scales");
  int64_t rank = rankOf(p1.getA());
  if (rank != 2 && rank != 3)
    return fail("the FFN input is not [T, H] or [B, S, H]");
  OpBuilder b(anchor);
  Location loc = anchor->getLoc();
  int64_t blocks1 = (H + bs - 1) / bs, blocks2 = (F + bs - 1) / bs, bb = bs * bits / 8;
  int64_t per = 8 / bits, mask = (1 << bits) - 1;
  // Up: MatMulNBits' own layout, scales / zero points as [F, cols].
  Value w1 = p1.getB();
  Value s1 = as2D(b, loc, p1.getScales(), F, blocks1);
  Value z1 = p1.getZeroPoints() ? as2D(b, loc, p1.getZeroPoints(), F,
                                       (blocks1 * bits + 7) / 8)
                                : Value();
  // A GLU's linear part: MatMulNBits' layout too.
  Value w3, s3, z3;
  if (p3) {
    w3 = p3.getB();
    s3 = as2D(b, loc, p3.getScales(), F, blocks1);
    z3 = p3.getZeroPoints() ? as2D(b, loc, p3.getZeroPoints(), F, (blocks1 * bits + 7) / 8)
                            : Value();
    if (!s3 || (p3.getZeroPoints() && !z3))
      return fail("the MatMulNBits constants do not have MatMulNBits' shapes");
  }
  // Down: codes q[n, f] (B2 [H, blocks2, bb]) -> one row per neuron f
  // along n; scales [H, blocks2] -> [blocks2, H]; packed zero points ->
  // one byte per code [blocks2, H].
  FailureOr<SmallVector<char>> q2 = constantBytes(p2.getB()),
                               sc2 = constantBytes(p2.getScales());
  FailureOr<SmallVector<char>> zp2 = p2.getZeroPoints() ? constantBytes(p2.getZeroPoints())
                                                        : FailureOr<SmallVector<char>>(
                                                              SmallVector<char>());
  if (!s1 || (p1.getZeroPoints() && !z1) || failed(q2) || failed(sc2) || failed(zp2) ||
      int64_t(q2->size()) != H * blocks2 * bb || int64_t(sc2->size()) != 4 * H * blocks2)
    return fail("the MatMulNBits constants do not have MatMulNBits' shapes");
  auto code = [&](ArrayRef<char> bytes, int64_t at) {
    uint8_t byte = uint8_t(bytes[at / per]);
    return (byte >> ((at % per) * bits)) & mask;
  };
  int64_t rowBytes = H * bits / 8;
  SmallVector<char> codes(F * rowBytes, 0), scales(4 * blocks2 * H), zeros;
  for (int64_t n = 0; n < H; ++n)
    for (int64_t f = 0; f < F; ++f) {
      int64_t c = code(ArrayRef<char>(*q2).slice(n * blocks2 * bb, blocks2 * bb), f);
      int64_t at = f * H + n; // code index in the repacked [F, H]
      codes[at / per] = char(uint8_t(codes[at / per]) | (c << ((at % per) * bits)));
    }
  for (int64_t n = 0; n < H; ++n)
    for (int64_t k = 0; k < blocks2; ++k)
      std::memcpy(&scales[4 * (k * H + n)], &(*sc2)[4 * (n * blocks2 + k)], 4);
  if (p2.getZeroPoints()) {
    int64_t zRow = (blocks2 * bits + 7) / 8;
    if (int64_t(zp2->size()) != H * zRow)
      return fail("the MatMulNBits constants do not have MatMulNBits' shapes");
    zeros.resize(blocks2 * H);
    for (int64_t n = 0; n < H; ++n)
      for (int64_t k = 0; k < blocks2; ++k)
        zeros[k * H + n] = char(code(ArrayRef<char>(*zp2).slice(n * zRow, zRow), k));
  }
  Type u8 = getElementTypeOrSelf(p2.getB());
  Value w2 = bytesConstant(b, loc, RankedTensorType::get({F, rowBytes}, u8), codes);
  Value s2 = bytesConstant(b, loc, RankedTensorType::get({blocks2, H}, b.getF32Type()), scales);
  Value z2 = p2.getZeroPoints()
                 ? bytesConstant(b, loc, RankedTensorType::get({blocks2, H}, u8), zeros)
                 : Value();
  auto op = sp::SparseFFNOp::create(
      b, loc, y.getType(), p1.getA(), w1, w2, w3, up->bias, lin ? lin->bias : Value(),
      down->bias, Value(), s1, z1, s2, z2, s3, z3, b.getStringAttr(mode),
      b.getF64FloatAttr(threshold), b.getI64IntegerAttr(bits), b.getI64IntegerAttr(bs));
  op.setNanActive(nanActive);
  if (!verifiesQuietly(op)) {
    op.erase();
    return fail("the FFN's shapes do not form a quantized sparsa.sparse_ffn");
  }
  y.replaceAllUsesWith(op.getResult());
  return anchor;
}

/// TEAL / CATS input sparsity: MatMul (or Gemm) of Where(Greater(Abs(x),
/// t), x, 0) (any spelling of matchThresholded) by a constant weight, t a
/// constant >= 0.
static Operation *fuseSparseInput(Operation *anchor) {
  std::optional<Projection> p = matchProjection(anchor->getResult(0));
  if (!p || !p->weight || rankOf(p->weight) != 2)
    return nullptr;
  std::optional<Thresholded> th = matchThresholded(p->in);
  auto abs = th ? th->key.getDefiningOp<onnx::AbsOp>() : onnx::AbsOp();
  if (!abs || abs.getX() != th->kept)
    return nullptr;
  Operation *whereOp = th->root;
  std::optional<double> t = th->exclusive();
  if (!t || *t < 0.0) {
    markUnfused(whereOp, kFamily, t ? std::string("the input threshold is negative")
                                    : notConstant("the input threshold", th->threshold));
    return nullptr;
  }
  if (!th->zeroFill()) {
    markUnfused(whereOp, kFamily, "dropped input entries take a non-zero value");
    return nullptr;
  }
  if (!isConstant(p->weight) || (p->bias && (!isConstant(p->bias) || rankOf(p->bias) != 1))) {
    markUnfused(whereOp, kFamily, "the weight or bias is not constant");
    return nullptr;
  }
  int64_t rank = rankOf(th->kept);
  if (rank != 2 && rank != 3)
    return nullptr;
  OpBuilder b(anchor);
  Location loc = anchor->getLoc();
  Value w = p->transposed ? transpose2D(b, loc, p->weight) : p->weight;
  Value y = anchor->getResult(0);
  auto op = sp::SparseInputMatMulOp::create(b, loc, y.getType(), th->kept, w, p->bias,
                                            b.getF64FloatAttr(*t), b.getBoolAttr(th->nanKept));
  if (!verifiesQuietly(op)) {
    op.erase();
    markUnfused(whereOp, kFamily, "the shapes do not form a sparsa.sparse_input_matmul");
    return nullptr;
  }
  y.replaceAllUsesWith(op.getResult());
  return anchor;
}

/// A 0/1 mask of the top-k: ScatterElements(zeros, indices, ones), maybe
/// Cast (a bool mask to float, or float to bool).
static onnx::ScatterElementsOp onesScatter(Value mask) {
  while (auto c = mask.getDefiningOp<onnx::CastOp>())
    mask = c.getInput();
  auto scatter = mask.getDefiningOp<onnx::ScatterElementsOp>();
  return scatter && isAllOnes(scatter.getUpdates()) ? scatter : nullptr;
}

/// Explicit top-k activation sparsity: MatMul (or Gemm) of
/// ScatterElements(zeros [T, F], indices, values, axis -1) by a constant
/// weight, the indices those of a TopK along the last axis (distinct per
/// token, so the scatter is a plain sum of rows). The kept activation may
/// also be masked: act * ScatterElements(zeros, indices, ones) (or
/// Where(mask, act, 0)), the TopK's over act or over |act| (Q-Sparse);
/// the values are then act's entries at the indices (the TopK's own
/// values when it ranks act itself, else GatherElements).
static Operation *fuseTopKActivation(Operation *anchor) {
  std::optional<Projection> p = matchProjection(anchor->getResult(0));
  if (!p || !p->weight || rankOf(p->weight) != 2 || rankOf(p->in) != 2)
    return nullptr;
  auto scatter = p->in.getDefiningOp<onnx::ScatterElementsOp>();
  Value masked; // act, when the top-k is a mask times act (the mask's
                // shape is checked below, once the TopK is known)
  Operation *maskOp = p->in.getDefiningOp();
  if (isa_and_nonnull<onnx::MulOp>(maskOp)) {
    for (int i : {0, 1}) {
      Value act = maskOp->getOperand(1 - i);
      if (auto s = onesScatter(maskOp->getOperand(i)); s && act.getType() == p->in.getType()) {
        scatter = s;
        masked = act;
        break;
      }
    }
  } else if (auto where = dyn_cast_or_null<onnx::WhereOp>(maskOp)) {
    if (auto s = onesScatter(where.getCondition());
        s && isZeroTensor(where.getY()) && where.getX().getType() == p->in.getType()) {
      scatter = s;
      masked = where.getX();
    }
  }
  if (!scatter || scatter.getReduction() != "none" ||
      (scatter.getAxis() != 1 && scatter.getAxis() != -1))
    return nullptr;
  Operation *at = scatter;
  auto topk = scatter.getIndices().getDefiningOp<onnx::TopKOp>();
  int64_t topkRank = topk ? rankOf(topk.getX()) : 0;
  if (!topk || (topk.getAxis() != -1 && topk.getAxis() != topkRank - 1)) {
    markUnfused(at, kFamily, "the scattered indices are not those of a TopK over neurons "
                             "(they could repeat)");
    return nullptr;
  }
  if (!isZeroTensor(scatter.getData())) {
    markUnfused(at, kFamily, "the neurons outside the top-k are not zero");
    return nullptr;
  }
  if (!isConstant(p->weight) || (p->bias && (!isConstant(p->bias) || rankOf(p->bias) != 1))) {
    markUnfused(at, kFamily, "the weight or bias is not constant");
    return nullptr;
  }
  if (masked && cast<ShapedType>(scatter.getData().getType()).getShape() !=
                    cast<ShapedType>(masked.getType()).getShape()) {
    markUnfused(at, kFamily, "the top-k mask and the activation differ in shape");
    return nullptr;
  }
  OpBuilder b(anchor);
  Location loc = anchor->getLoc();
  Value w = p->transposed ? transpose2D(b, loc, p->weight) : p->weight;
  Value y = anchor->getResult(0);
  Value values = scatter.getUpdates();
  if (masked) {
    auto it = cast<ShapedType>(scatter.getIndices().getType());
    values = topk.getX() == masked
                 ? topk.getValues()
                 : onnx::GatherElementsOp::create(
                       b, loc, it.clone(getElementTypeOrSelf(masked.getType())), masked,
                       scatter.getIndices(), b.getIntegerAttr(b.getIntegerType(64, true), -1))
                       .getResult();
  }
  auto op = sp::TopKMatMulOp::create(b, loc, y.getType(), scatter.getIndices(), values, w,
                                     p->bias);
  if (!verifiesQuietly(op)) {
    op.erase();
    markUnfused(at, kFamily, "the shapes do not form a sparsa.topk_matmul");
    return nullptr;
  }
  y.replaceAllUsesWith(op.getResult());
  return anchor;
}

namespace {
struct FuseActivationSparsityPass final
    : sparsa::impl::FuseActivationSparsityPassBase<FuseActivationSparsityPass> {
  using FuseActivationSparsityPassBase::FuseActivationSparsityPassBase;

  void runOnOperation() override {
    // Fused gate_up projections (a Split of the output) as two.
    splitPackedProjections(getOperation());
    // FFN outputs: down projections (MatMul / Gemm) or their bias Add.
    SmallVector<Operation *> anchors;
    getOperation().walk([&](Operation *op) {
      if (isa<onnx::MatMulOp, onnx::GemmOp, onnx::AddOp, onnx::MatMulNBitsOp>(op))
        anchors.push_back(op);
    });
    // Last first: a bias Add anchors the whole FFN before its MatMul does.
    llvm::DenseSet<Operation *> erased;
    for (Operation *anchor : llvm::reverse(anchors)) {
      if (erased.contains(anchor))
        continue;
      Operation *replaced = fuseSparseFFN(anchor);
      if (!replaced)
        replaced = fuseQuantizedFFN(anchor);
      if (!replaced)
        replaced = fuseSparseInput(anchor);
      if (!replaced)
        replaced = fuseTopKActivation(anchor);
      if (replaced)
        eraseDeadProducers(replaced, erased);
    }
    relaxTopKOrder();
  }

  /// A TopK whose indices only choose the neurons of index-set FFNs (Deja
  /// Vu's predictor), its values unused, or whose values and indices only
  /// feed explicit top-k matmuls: the consumers sum over the set, so the
  /// TopK need not sort it (sorted = 0 skips ranking the k chosen, and
  /// leaves them in index order, which the weight reads like too).
  void relaxTopKOrder() {
    getOperation().walk([&](onnx::TopKOp topk) {
      if (!topk.getSorted())
        return;
      // An explicit top-k activation: values and indices, paired, feed
      // only sparsa.topk_matmul ops, whose sum over the kept rows does not
      // depend on their order (both outputs share one permutation). Its
      // lowering then skips ranking the k kept, quadratic in k (35 ms of
      // a 4096 -> 14336 FFN keeping all 14336).
      auto pairedMatMul = [&](Operation *user) {
        auto m = dyn_cast<sp::TopKMatMulOp>(user);
        return m && m.getIndices() == topk.getIndices() && m.getValues() == topk.getValues();
      };
      if (!topk.getValues().use_empty()) {
        if (llvm::all_of(topk.getValues().getUsers(), pairedMatMul) &&
            llvm::all_of(topk.getIndices().getUsers(), pairedMatMul))
          topk.setSorted(0);
        return;
      }
      SmallVector<Value> work = {topk.getIndices()};
      bool onlyFFNs = true;
      while (!work.empty() && onlyFFNs) {
        Value v = work.pop_back_val();
        for (Operation *user : v.getUsers()) {
          if (auto ffn = dyn_cast<sp::SparseFFNOp>(user); ffn && ffn.getIndices() == v)
            continue;
          // Shape-only steps between (Squeeze, Reshape to 1-D).
          if (isa<onnx::SqueezeOp, onnx::ReshapeOp, onnx::FlattenOp, onnx::UnsqueezeOp>(user) &&
              user->getOperand(0) == v) {
            work.push_back(user->getResult(0));
            continue;
          }
          onlyFFNs = false;
        }
      }
      if (onlyFFNs)
        topk.setSorted(0);
    });
  }
};
} // namespace
