//===- FuseRouting.cpp - MoE routing forms -> sparsa.moe --------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The routing fusion family: each way an exporter writes mixture-of-experts
// routing becomes one `sparsa.moe`. A recognizer either fuses its candidate
// or records why not on it (sparsa.unfused), so the report can say.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Transforms/Passes.h"

#include "OnnxPatterns.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cmath>
#include <map>

namespace sparsa {
#define GEN_PASS_DEF_FUSEROUTINGPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace onnx = sparsa::onnx;
namespace sp = sparsa::sparsa;
using sparsa::markUnfused;
using namespace sparsa::patterns;

/// Sets |family|'s entry of the dictionary attribute |name| on |op|.
static void setFamilyEntry(Operation *op, StringRef name, StringRef family, StringRef text) {
  MLIRContext *ctx = op->getContext();
  NamedAttrList entries;
  if (auto old = op->getAttrOfType<DictionaryAttr>(name))
    entries.append(old.getValue());
  entries.set(family, StringAttr::get(ctx, text));
  op->setAttr(name, entries.getDictionary(ctx));
}

void sparsa::markUnfused(Operation *op, StringRef family, StringRef reason) {
  setFamilyEntry(op, kUnfusedAttrName, family, reason);
}

void sparsa::markFusionNote(Operation *op, StringRef family, StringRef note) {
  setFamilyEntry(op, kFusionNoteAttrName, family, note);
}

/// |w| [E, A, B] as [E, B, A] (an onnx.Transpose, folded at compile time
/// for constant weights by weight preparation).
static Value swapLastTwo(OpBuilder &b, Location loc, Value w) {
  if (!w)
    return w;
  auto t = cast<RankedTensorType>(w.getType());
  auto rt = RankedTensorType::get({t.getDimSize(0), t.getDimSize(2), t.getDimSize(1)},
                                  t.getElementType());
  return onnx::TransposeOp::create(b, loc, rt, w, b.getDenseI64ArrayAttr({0, 2, 1}));
}

static void packGateAndLinear(OpBuilder &b, Location loc, Value &w1, Value &w3, Value &b1,
                              Value &b3, int64_t &layout);

namespace {
/// Operands and attributes of a sparsa.moe to build (defaults: softmax
/// gate, no renormalization, one group, relu, separate gate weights).
struct MoESpec {
  Value x, logits, w1, w2, w3, b1, b2, b3, selectionBias;
  Value indices; // the expert indices of a given routing (logits: its weights)
  Value sharedW1, sharedW2, sharedW3, sharedGate;
  // Quantized experts (bits > 0): scales and zero points per weight.
  Value s1, s2, s3, z1, z2, z3;
  int64_t bits = 0, blockSize = 0;
  int64_t k = 1, nGroup = 1, topkGroup = 1, layout = 0;
  StringRef gating = "softmax", act = "relu";
  bool normalize = false;
  double scaling = 1.0, alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
};
} // namespace

static sp::MoEOp buildMoE(OpBuilder &b, Location loc, const MoESpec &m) {
  return sp::MoEOp::create(
      b, loc, m.x.getType(), m.x, m.logits, m.w1, m.w2, m.w3, m.b1, m.b2, m.b3,
      m.selectionBias, m.sharedW1, m.sharedW2, m.sharedW3, m.sharedGate, m.s1, m.s2, m.s3, m.z1,
      m.z2, m.z3, m.indices, b.getI64IntegerAttr(m.k), b.getI64IntegerAttr(m.nGroup), b.getI64IntegerAttr(m.topkGroup),
      b.getStringAttr(m.gating), b.getBoolAttr(m.normalize), b.getF64FloatAttr(m.scaling),
      b.getStringAttr(m.act), b.getI64IntegerAttr(m.layout), b.getF64FloatAttr(m.alpha),
      b.getF64FloatAttr(m.beta), m.limit ? b.getF64FloatAttr(*m.limit) : FloatAttr(),
      b.getI64IntegerAttr(m.bits), b.getI64IntegerAttr(m.blockSize));
}

/// Replaces the com.microsoft (Q)MoE |op| by the sparsa.moe |m| describes,
/// or, when that would not verify, records |why| on |op|.
static LogicalResult replaceWithMoE(Operation *op, OpBuilder &b, const MoESpec &m,
                                    StringRef why) {
  auto moe = buildMoE(b, op->getLoc(), m);
  if (!verifiesQuietly(moe)) {
    moe.erase();
    markUnfused(op, "routing", why);
    return failure();
  }
  op->getResult(0).replaceAllUsesWith(moe.getResult());
  op->erase();
  return success();
}

/// The expert activation of com.microsoft (Q)MoE in canonical terms: the
/// activation, the gate layout and the SwiGLU constants.
template <typename MsOp>
static void microsoftActivation(MsOp op, MoESpec &m) {
  StringRef act = op.getActivationType();
  bool swiglu = act == "swiglu";
  m.act = swiglu ? "silu" : act == "gelu" ? "gelu_tanh" : act;
  m.layout = swiglu ? op.getSwigluFusion() : 0;
  if (swiglu) {
    m.alpha = op.getActivationAlpha().convertToDouble();
    m.beta = op.getActivationBeta().convertToDouble();
    if (op.getSwigluLimit())
      m.limit = op.getSwigluLimit()->convertToDouble();
  }
}

/// com.microsoft.QMoE: the packed expert weights [E, out, in * bits / 8]
/// are already the canonical op's quantized layout, so they go in as they
/// are (nothing unpacked; the kernels dequantize in registers).
static LogicalResult fuseMicrosoftQMoE(onnx::QMoEOp op) {
  auto x = dyn_cast<RankedTensorType>(op.getInput().getType());
  auto r = dyn_cast<RankedTensorType>(op.getRouterProbs().getType());
  if (!x || !r) {
    markUnfused(op, "routing", "input or router_probs of unknown rank");
    return failure();
  }
  for (Value w : {op.getFc1ExpertsWeights(), op.getFc2ExpertsWeights(),
                  op.getFc3ExpertsWeights()}) {
    auto t = w ? dyn_cast<RankedTensorType>(w.getType()) : RankedTensorType();
    if (w && (!t || t.getRank() != 3 || !t.hasStaticShape())) {
      markUnfused(op, "routing", "quantized expert weights need static shapes [E, out, in * "
                                 "bits / 8]");
      return failure();
    }
  }
  OpBuilder b(op);
  MoESpec m;
  m.x = op.getInput();
  m.logits = op.getRouterProbs();
  m.w1 = op.getFc1ExpertsWeights();
  m.w2 = op.getFc2ExpertsWeights();
  m.w3 = op.getFc3ExpertsWeights();
  m.b1 = op.getFc1ExpertsBias();
  m.b2 = op.getFc2ExpertsBias();
  m.b3 = op.getFc3ExpertsBias();
  m.s1 = op.getFc1Scales();
  m.s2 = op.getFc2Scales();
  m.s3 = op.getFc3Scales();
  m.z1 = op.getFc1ZeroPoints();
  m.z2 = op.getFc2ZeroPoints();
  m.z3 = op.getFc3ZeroPoints();
  m.bits = op.getExpertWeightBits();
  m.blockSize = op.getBlockSize();
  m.k = op.getK();
  m.normalize = op.getNormalizeRoutingWeights() != 0;
  microsoftActivation(op, m);
  return replaceWithMoE(op, b, m, "the operands do not form a valid quantized sparsa.moe");
}

/// Form E: com.microsoft.MoE. Its weights are torch Linear rows
/// [E, out, in]; the canonical op takes matmul layout [E, in, out].
static LogicalResult fuseMicrosoftMoE(onnx::MoEOp op) {
  auto w1T = dyn_cast<RankedTensorType>(op.getFc1ExpertsWeights().getType());
  auto w2T = dyn_cast<RankedTensorType>(op.getFc2ExpertsWeights().getType());
  auto x = dyn_cast<RankedTensorType>(op.getInput().getType());
  auto r = dyn_cast<RankedTensorType>(op.getRouterProbs().getType());
  if (!w1T || !w2T || !x || !r || w1T.getRank() != 3 || w2T.getRank() != 3) {
    markUnfused(op, "routing", "expert weights of unknown rank");
    return failure();
  }
  for (Value v : op->getOperands())
    if (getElementTypeOrSelf(v) != x.getElementType()) {
      markUnfused(op, "routing", "operands of mixed element types");
      return failure();
    }
  OpBuilder b(op);
  Location loc = op.getLoc();
  MoESpec m;
  microsoftActivation(op, m);
  Value w1 = swapLastTwo(b, loc, op.getFc1ExpertsWeights());
  Value w3 = swapLastTwo(b, loc, op.getFc3ExpertsWeights());
  Value b1 = op.getFc1ExpertsBias(), b3 = op.getFc3ExpertsBias();
  int64_t layout = m.layout;
  packGateAndLinear(b, loc, w1, w3, b1, b3, layout);
  m.x = op.getInput();
  m.logits = op.getRouterProbs();
  m.w1 = w1;
  m.w2 = swapLastTwo(b, loc, op.getFc2ExpertsWeights());
  m.w3 = w3;
  m.b1 = b1;
  m.b2 = op.getFc2ExpertsBias();
  m.b3 = b3;
  m.k = op.getK();
  m.normalize = op.getNormalizeRoutingWeights() != 0;
  m.layout = layout;
  return replaceWithMoE(op, b, m, "the operands do not form a valid sparsa.moe");
}

//===----------------------------------------------------------------------===//
// Matching helpers
//===----------------------------------------------------------------------===//

namespace {
/// The routing gate in canonical terms.
struct Gate {
  onnx::TopKOp topk;
  /// The router logits; for a given routing (gating "given"), the routing
  /// weights, with |indices| the experts they weigh and |why| matchGate's
  /// reason for not taking the gate.
  Value logits, indices;
  std::string why;
  /// Whether the form reads negative indices from the end (Gather, OneHot,
  /// ScatterElements), and the expert count when the form gives it.
  bool wrapsNegative = false;
  int64_t experts = ShapedType::kDynamic;
  StringRef gating = "softmax";
  bool normalize = false;
  double scaling = 1.0;
  int64_t k = 0;
  // DeepSeek-V3 selection: bias added for choosing, group-limited top-k.
  Value selectionBias;
  int64_t nGroup = 1, topkGroup = 1;
};

/// A matcher's outcome: a reason when it recognized enough of a routing
/// pattern to call it a near miss.
struct Miss {
  Operation *at = nullptr;
  std::string reason;
};
} // namespace

/// Routing weights |weights| [T, k] and expert indices |indices| [T, k]
/// back to the router logits.
/// The k of a TopK that selects experts: the largest scores along the last
/// axis of a [tokens, experts] matrix (or, with |batched|, of unflattened
/// [batch, tokens, experts] scores), k constant; otherwise says why not.
static std::optional<int64_t> expertTopK(onnx::TopKOp topk, Miss &miss,
                                         bool batched = false) {
  miss.at = topk;
  int64_t rank = rankOf(topk.getX());
  int64_t axis = topk.getAxis() < 0 ? topk.getAxis() + rank : topk.getAxis();
  if (rank != 2 && !(batched && rank == 3)) {
    miss.reason = rank == 3 ? "router scores are [batch, tokens, experts] in a form that needs "
                              "them as a [tokens, experts] matrix"
                            : "router scores are not a [tokens, experts] matrix";
    return std::nullopt;
  }
  if (axis != rank - 1) {
    miss.reason = "TopK selects along axis " + std::to_string(axis) +
                  ", not the expert axis";
    return std::nullopt;
  }
  if (!topk.getLargest()) {
    miss.reason = "TopK selects the smallest scores";
    return std::nullopt;
  }
  std::optional<int64_t> k = constInt(topk.getK());
  if (!k)
    miss.reason = "TopK's k is not a constant";
  return k;
}

/// The scores TopK chooses on, when they are not the gate scores |scores|
/// themselves: `scores + bias` (a constant [E]), optionally with the experts
/// outside the best groups zeroed as transformers' DeepSeek-V3 router does:
/// Where(mask, biased, 0) with mask = Reshape(Expand(Unsqueeze(
/// ScatterElements(0, TopK(ReduceSum(TopK(Reshape(biased, [T, G, E/G]),
/// 2).values), topk_group).indices, 1)))) (possibly negated).
static LogicalResult matchSelection(Value sel, Value scores, Gate &g, Miss &miss) {
  auto fail = [&](StringRef why) {
    miss.reason = why.str();
    return failure();
  };
  Value biased = sel;
  if (auto where = sel.getDefiningOp<onnx::WhereOp>()) {
    // Polarity: how many Nots between the condition and the group mask.
    bool flip = false;
    Value c = where.getCondition();
    while (Operation *d = c.getDefiningOp()) {
      if (isa<onnx::NotOp>(d))
        flip = !flip;
      else if (!isa<onnx::CastOp, onnx::ReshapeOp, onnx::ExpandOp, onnx::UnsqueezeOp,
                    onnx::IdentityOp>(d))
        break;
      c = d->getOperand(0);
    }
    // Selected groups hold 1, so the condition is true there unless
    // negated; the biased scores must sit in that branch, zero (transformers
    // 4.x) or -inf (5.x) in the other.
    Value kept = flip ? where.getY() : where.getX();
    Value dropped = flip ? where.getX() : where.getY();
    std::optional<double> fill = constFloat(dropped);
    if (!fill || !(*fill == 0.0 || (std::isinf(*fill) && *fill < 0)))
      return fail("experts outside the chosen groups are not set to zero or -inf");
    auto scatter = c.getDefiningOp<onnx::ScatterElementsOp>();
    auto groupTopK = scatter ? scatter.getIndices().getDefiningOp<onnx::TopKOp>()
                             : onnx::TopKOp();
    if (!scatter || !groupTopK || scatter.getReduction() != "none" ||
        !isZeroTensor(scatter.getData()))
      return fail("the expert mask is not a scatter of the chosen groups");
    Miss groupMiss;
    std::optional<int64_t> topkGroup = expertTopK(groupTopK, groupMiss);
    auto sum = groupTopK.getX().getDefiningOp<onnx::ReduceSumOp>();
    auto top2 = sum ? sum.getData().getDefiningOp<onnx::TopKOp>() : onnx::TopKOp();
    auto grouped = top2 ? top2.getX().getDefiningOp<onnx::ReshapeOp>() : onnx::ReshapeOp();
    if (!topkGroup || !sum || !top2 || !grouped || top2.getValues() != sum.getData() ||
        constInt(top2.getK()) != 2 || rankOf(grouped.getReshaped()) != 3 ||
        grouped.getData() != kept || !reducesAxis(sum, 2) || sum.getKeepdims())
      return fail("group scores are not the sum of each group's two best scores");
    int64_t groups = cast<RankedTensorType>(grouped.getReshaped().getType()).getDimSize(1);
    if (ShapedType::isDynamic(groups))
      return fail("the number of expert groups is not static");
    g.nGroup = groups;
    g.topkGroup = *topkGroup;
    biased = kept;
  }
  if (biased != scores) {
    auto add = operandsWith<onnx::AddOp>(biased, [&](Value v) { return v == scores; });
    if (!add || !isConstant(add->second) || rankOf(add->second) != 1)
      return fail("experts are chosen on scores other than the gate's (plus a constant "
                  "bias)");
    g.selectionBias = add->second;
  }
  return success();
}

/// x when |v| = Unsqueeze(x, [-1]) (a new last axis, x[..., None]), else
/// null.
static Value lastAxisUnsqueezed(Value v) {
  auto un = v.getDefiningOp<onnx::UnsqueezeOp>();
  auto axes = un ? onnx::getConstantI64Values(un.getAxes())
                 : FailureOr<SmallVector<int64_t>>(failure());
  int64_t r = rankOf(v);
  if (!un || failed(axes) || axes->size() != 1 || ((*axes)[0] != -1 && (*axes)[0] != r - 1))
    return Value();
  return un.getData();
}

/// A maximum along the last axis as torch.max(s, -1) exports it: the op
/// (ArgMax or ReduceMax) of |v| = Op(s, last axis, keepdims), or
/// Unsqueeze(Op(s, keepdims = 0), -1); |kept| says whether the axis is
/// kept as 1 (the [T, 1] of a top-1 TopK).
template <typename OpTy>
static OpTy maxAlongLast(Value v, bool &kept) {
  kept = true;
  if (Value x = lastAxisUnsqueezed(v)) {
    auto op = x.getDefiningOp<OpTy>();
    return op && !op.getKeepdims() ? op : OpTy();
  }
  auto op = v.getDefiningOp<OpTy>();
  if (!op)
    return OpTy();
  kept = op.getKeepdims() != 0;
  return op;
}

/// Whether |op| reduces the last axis of its data.
static bool onLastAxis(onnx::ArgMaxOp op) {
  int64_t r = rankOf(op.getData()), a = op.getAxis();
  return r > 0 && (a < 0 ? a + r : a) == r - 1;
}
static bool onLastAxis(onnx::ReduceMaxOp op) { return reducesAxis(op, -1); }

/// The gate behind routing weights |weights| and expert indices |indices|
/// ([T, k], or with |batched| also [B, S, k]; every reduction on the last
/// axis). Top-1 may be torch.max: the indices ArgMax, the weights
/// ReduceMax of the same scores, [T, 1] or (both) [T].
static FailureOr<Gate> matchGate(Value weights, Value indices, Miss &miss,
                                 bool batched = false, bool softmaxOfValues = false) {
  Gate g;
  bool kept = true;
  auto argmax = maxAlongLast<onnx::ArgMaxOp>(indices, kept);
  auto topk = indices.getDefiningOp<onnx::TopKOp>();
  if (argmax && onLastAxis(argmax)) {
    miss.at = argmax;
    int64_t r = rankOf(argmax.getData());
    if (r != 2 && !(batched && r == 3)) {
      miss.reason = "router scores are not a [tokens, experts] matrix";
      return failure();
    }
    if (argmax.getSelectLastIndex()) {
      miss.reason = "ArgMax picks the last of tied experts (select_last_index = 1)";
      return failure();
    }
    g.k = 1;
  } else if (topk && topk.getIndices() == indices) {
    std::optional<int64_t> k = expertTopK(topk, miss, batched);
    if (!k)
      return failure();
    g.k = *k;
    g.topk = topk;
  } else {
    return failure();
  }
  Value selected = argmax ? argmax.getData() : topk.getX(); // what the choice is on
  const int64_t rank = rankOf(selected), last = rank - 1;
  auto onLast = [&](int64_t axis) { return (axis < 0 ? axis + rank : axis) == last; };
  // The values chosen: TopK's, or torch.max's ReduceMax alongside the ArgMax.
  auto isTopValues = [&](Value w) {
    if (topk)
      return w == topk.getValues();
    bool wKept;
    auto rmax = maxAlongLast<onnx::ReduceMaxOp>(w, wKept);
    return rmax && rmax.getData() == selected && onLastAxis(rmax) && wKept == kept;
  };
  if (softmaxOfValues) {
    // Softmax(ScatterElements(-inf, idx, values)): the softmax over the k.
    if (!isTopValues(weights)) {
      miss.reason = "the scattered routing logits are not the top-k values";
      return failure();
    }
    g.logits = selected;
    g.gating = "softmax";
    g.normalize = true;
    return g;
  }
  Value w = weights;
  // Routed scaling factor (a scalar Mul), then renormalization.
  if (auto m = operandsWith<onnx::MulOp>(w, [](Value v) { return bool(constFloat(v)); })) {
    g.scaling = *constFloat(m->first);
    w = m->second;
  }
  if (auto soft = w.getDefiningOp<onnx::SoftmaxOp>()) {
    // Mixtral: TopK over the logits, softmax over the k chosen.
    if (!isTopValues(soft.getInput()) || !kept || !onLast(soft.getAxis())) {
      miss.reason = "routing weights are a softmax of something other than the top-k";
      return failure();
    }
    g.logits = selected;
    g.gating = "softmax";
    g.normalize = true;
    return g;
  }
  if (auto div = w.getDefiningOp<onnx::DivOp>()) {
    // Sum of the weights, possibly plus a tiny epsilon (transformers adds
    // 1e-20 against division by zero).
    Value denom = div.getB();
    auto tiny = [](Value v) {
      std::optional<double> c = v ? constFloat(v) : std::nullopt;
      return c && std::abs(*c) <= 1e-6;
    };
    if (auto eps = operandsWith<onnx::AddOp>(denom, tiny))
      denom = eps->second;
    // ...or clamped from below by one (ERNIE 4.5: clamp(sum, min=1e-12)).
    else if (auto clip = denom.getDefiningOp<onnx::ClipOp>();
             clip && !clip.getMax() && tiny(clip.getMin()))
      denom = clip.getInput();
    else if (auto mx = denom.getDefiningOp<onnx::MaxOp>(); mx && mx->getNumOperands() == 2)
      for (int i = 0; i < 2; ++i)
        if (tiny(mx->getOperand(i))) {
          denom = mx->getOperand(1 - i);
          break;
        }
    // The sum, or their 1-norm (DBRX: torch.norm(w, p=1), as ReduceL1 or
    // ReduceSum(Abs(w))), the same for the non-negative scores checked
    // below.
    auto sum = denom.getDefiningOp<onnx::ReduceSumOp>();
    auto l1 = denom.getDefiningOp<onnx::ReduceL1Op>();
    Value summed = sum ? sum.getData() : l1 ? l1.getData() : Value();
    if (auto abs = summed ? summed.getDefiningOp<onnx::AbsOp>() : onnx::AbsOp(); abs && sum)
      summed = abs.getX();
    bool reduces = sum ? reducesAxis(sum, last) && sum.getKeepdims()
                       : l1 && reducesAxis(l1, last) && l1.getKeepdims();
    if (!summed || summed != div.getA() || !kept || !reduces) {
      miss.reason = "routing weights are divided by something other than their sum";
      return failure();
    }
    g.normalize = true;
    w = div.getA();
  }
  // The weights are the top-k values, or the scores gathered at the top-k
  // indices (DeepSeek-V3 chooses on biased, group-masked scores).
  Value scores;
  if (isTopValues(w)) {
    scores = selected;
  } else if (auto ge = w.getDefiningOp<onnx::GatherElementsOp>();
             ge && ge.getIndices() == indices && onLast(ge.getAxis())) {
    scores = ge.getData();
  } else {
    miss.reason = "routing weights are not the top-k scores";
    return failure();
  }
  if (auto soft = scores.getDefiningOp<onnx::SoftmaxOp>()) {
    if (!onLast(soft.getAxis())) {
      miss.reason = "the gate softmax is not over the expert axis";
      return failure();
    }
    g.gating = "softmax";
    g.logits = soft.getInput();
  } else if (auto sig = scores.getDefiningOp<onnx::SigmoidOp>()) {
    g.gating = "sigmoid";
    g.logits = sig.getX();
  } else {
    miss.reason = "top-k of raw logits used as routing weights (no softmax or sigmoid)";
    return failure();
  }
  if (selected == scores)
    return g;
  if (failed(matchSelection(selected, scores, g, miss)))
    return failure();
  return g;
}

/// A gate the fusion does not recognize, kept outside the op as the ONNX
/// ops that compute it: the form's routing weights |weights| and integer
/// expert indices |indices| become a given routing, both [T, k] (or
/// [B, S, k]) with k static. The routed forms that take it sum one term per
/// (token, slot) pair, so any gate's choices fuse exactly; |why| is what
/// matchGate said of the gate.
static FailureOr<Gate> givenGate(Value weights, Value indices, StringRef why,
                                 bool wrapsNegative,
                                 int64_t experts = ShapedType::kDynamic) {
  auto wT = dyn_cast<RankedTensorType>(weights.getType());
  auto iT = dyn_cast<RankedTensorType>(indices.getType());
  if (!wT || !iT || !isa<FloatType>(wT.getElementType()) ||
      !(iT.getElementType().isSignlessInteger(64) ||
        iT.getElementType().isSignlessInteger(32)) ||
      (wT.getRank() != 2 && wT.getRank() != 3) || wT.getShape() != iT.getShape() ||
      ShapedType::isDynamic(wT.getShape().back()) || wT.getShape().back() < 1 ||
      (!ShapedType::isDynamic(experts) && experts < wT.getShape().back()))
    return failure();
  Gate g;
  g.experts = experts;
  g.gating = "given";
  g.logits = weights;
  g.indices = indices;
  g.k = wT.getShape().back();
  g.wrapsNegative = wrapsNegative;
  g.why = why.str();
  return g;
}

/// The report's note on the op of a given routing.
static std::string givenNote(const Gate &g) {
  return "gate kept as ONNX ops (" + (g.why.empty() ? "not a recognized top-k gate" : g.why) +
         "); the experts take its routing weights and indices";
}

/// Whether a given routing has one row per token of |x| ([T, H] or
/// [B, S, H]): its leading dims equal |x|'s, static or both dynamic (a
/// routing that only broadcasts against the tokens does not fit the op),
/// and weights of |x|'s element type. A recognized gate always fits.
static bool fitsTokens(const Gate &g, Value x) {
  if (!g.indices)
    return true;
  auto wT = cast<RankedTensorType>(g.logits.getType());
  auto xT = dyn_cast<RankedTensorType>(x.getType());
  if (!xT || xT.getRank() != wT.getRank() || xT.getElementType() != wT.getElementType())
    return false;
  for (int64_t d = 0; d + 1 < wT.getRank(); ++d)
    if (wT.getDimSize(d) != xT.getDimSize(d))
      return false;
  return true;
}

/// Why a given routing that does not fit the tokens stops the fusion: the
/// gate's own near miss, if any.
static std::string unfitReason(const Gate &g) {
  return g.why.empty() ? "the routing weights do not have one row per token" : g.why;
}

/// The number of experts the gate routes to (dynamic when unknown).
static int64_t expertCount(const Gate &g) {
  if (g.indices)
    return g.experts;
  return cast<RankedTensorType>(g.logits.getType()).getShape().back();
}

/// The gate of a routed form that sums one term per (token, slot): the
/// recognized gate, or else a given routing of its weights and indices.
static FailureOr<Gate> gateOrGiven(Value weights, Value indices, Miss &miss, bool batched,
                                   bool wrapsNegative) {
  auto gate = matchGate(weights, indices, miss, batched);
  if (succeeded(gate))
    return gate;
  return givenGate(weights, indices, miss.reason, wrapsNegative);
}

/// |idx| with indices in [-E, -1] counted from the end, as ONNX's Gather and
/// OneHot read them: Where(Less(idx, 0), Add(idx, E), idx).
static Value wrapNegative(OpBuilder &b, Location loc, Value idx, int64_t E) {
  auto t = cast<RankedTensorType>(idx.getType());
  auto scalarT = RankedTensorType::get({}, t.getElementType());
  auto cst = [&](int64_t v) {
    return onnx::ConstantOp::create(
        b, loc, scalarT, DenseIntElementsAttr::get(scalarT, APInt(t.getElementTypeBitWidth(), v, true)));
  };
  Value neg = onnx::LessOp::create(b, loc, RankedTensorType::get(t.getShape(), b.getI1Type()),
                                   idx, cst(0));
  Value shifted = onnx::AddOp::create(b, loc, t, idx, cst(E));
  return onnx::WhereOp::create(b, loc, t, neg, shifted, idx);
}

//===----------------------------------------------------------------------===//
// Weight stacking (compile time)
//===----------------------------------------------------------------------===//

/// Stacks per-expert constants (each of |shape|; null: an expert with no
/// branch, zeros) into one [E, shape...] constant, or fails.
static FailureOr<Value> stackConstants(OpBuilder &b, Location loc, ArrayRef<Value> parts,
                                       ArrayRef<int64_t> shape, Type elt) {
  auto partT = RankedTensorType::get(shape, elt);
  size_t partBytes = partT.getNumElements() * (elt.getIntOrFloatBitWidth() / 8);
  SmallVector<char> all(parts.size() * partBytes, 0);
  for (auto [i, v] : llvm::enumerate(parts)) {
    if (!v)
      continue;
    auto cst = v.getDefiningOp<onnx::ConstantOp>();
    if (!cst)
      return failure();
    auto t = cast<RankedTensorType>(cst.getType());
    if (t.getElementType() != elt || t.getNumElements() != partT.getNumElements())
      return failure();
    SmallVector<char> storage;
    auto bytes = onnx::getConstantBytes(cst.getValue(), storage);
    if (failed(bytes) || bytes->size() != partBytes)
      return failure();
    std::memcpy(all.data() + i * partBytes, bytes->data(), partBytes);
  }
  SmallVector<int64_t> full = {(int64_t)parts.size()};
  llvm::append_range(full, shape);
  return bytesConstant(b, loc, RankedTensorType::get(full, elt), all);
}

/// A constant with the same bytes as |v| and shape |shape| (dropping unit
/// dims of a stacked bias [E, 1, N] -> [E, N]).
static FailureOr<Value> reshapeConstant(OpBuilder &b, Location loc, Value v,
                                        ArrayRef<int64_t> shape) {
  auto cst = v.getDefiningOp<onnx::ConstantOp>();
  if (!cst)
    return failure();
  auto t = cast<RankedTensorType>(cst.getType());
  auto nt = RankedTensorType::get(shape, t.getElementType());
  if (!t.hasStaticShape() || t.getNumElements() != nt.getNumElements())
    return failure();
  if (nt == t)
    return v;
  SmallVector<char> storage;
  auto bytes = onnx::getConstantBytes(cst.getValue(), storage);
  if (failed(bytes))
    return failure();
  return bytesConstant(b, loc, nt, *bytes);
}

//===----------------------------------------------------------------------===//
// Forms
//===----------------------------------------------------------------------===//

namespace {
/// Stacked expert parameters in the canonical layouts.
struct Experts {
  Value w1, w2, w3, b1, b2, b3;
  StringRef act;
  double alpha = 1.0; // silu: h * sigmoid(alpha * h)
  // A clamped GLU (GPT-OSS): see ExpertFFN.
  std::optional<double> limit;
  double beta = 0.0;
};

/// Everything a routed MoE needs to become a sparsa.moe.
struct Routed {
  Value x; // [T, H]
  Gate gate;
  Experts experts;
  /// A shared expert's output that is one of the routed sum's own terms
  /// (form C's Add chain), or null.
  Value sharedTerm;
};
} // namespace

/// Packs separate gate (w1) and linear (w3) expert weights, both constant,
/// into one [E, H, 2F] constant with the halves side by side
/// (gate_layout = 2): one GEMV per expert then streams both, which keeps
/// the weight streams long. Torch-layout stacks under a Transpose are
/// packed before it. Leaves everything as is when the data is not at hand.
static void packGateAndLinear(OpBuilder &b, Location loc, Value &w1, Value &w3, Value &b1,
                              Value &b3, int64_t &layout) {
  if (!w1 || !w3 || layout != 0)
    return;
  auto t1 = w1.getDefiningOp<onnx::TransposeOp>(), t3 = w3.getDefiningOp<onnx::TransposeOp>();
  bool torch = t1 && t3;
  Value a = torch ? t1.getData() : w1, c = torch ? t3.getData() : w3;
  auto aT = dyn_cast<RankedTensorType>(a.getType());
  if (!aT || aT != c.getType() || aT.getRank() != 3 || !aT.hasStaticShape())
    return;
  auto ab = constantBytes(a), cb = constantBytes(c);
  if (failed(ab) || failed(cb))
    return;
  int64_t eb = aT.getElementTypeBitWidth() / 8;
  // Concatenate along F: torch layout [E, F, H] -> blocks per expert;
  // matmul layout [E, H, F] -> rows per (expert, h).
  int64_t outer = torch ? aT.getDimSize(0) : aT.getDimSize(0) * aT.getDimSize(1);
  int64_t chunk = (torch ? aT.getDimSize(1) * aT.getDimSize(2) : aT.getDimSize(2)) * eb;
  SmallVector<char> packed(2 * outer * chunk);
  for (int64_t i = 0; i < outer; ++i) {
    std::memcpy(packed.data() + 2 * i * chunk, ab->data() + i * chunk, chunk);
    std::memcpy(packed.data() + (2 * i + 1) * chunk, cb->data() + i * chunk, chunk);
  }
  SmallVector<int64_t> shape(aT.getShape());
  shape[torch ? 1 : 2] *= 2;
  Value both = bytesConstant(b, loc, RankedTensorType::get(shape, aT.getElementType()), packed);
  if (torch)
    both = swapLastTwo(b, loc, both);
  // Biases [E, F] each -> [E, 2F] (a missing half is zeros).
  if (b1 || b3) {
    Value any = b1 ? b1 : b3;
    auto bT = cast<RankedTensorType>(any.getType());
    if (!bT.hasStaticShape())
      return;
    int64_t E = bT.getDimSize(0), F = bT.getDimSize(1);
    SmallVector<char> zeros(E * F * eb, 0);
    auto b1b = b1 ? constantBytes(b1) : FailureOr<SmallVector<char>>(zeros);
    auto b3b = b3 ? constantBytes(b3) : FailureOr<SmallVector<char>>(zeros);
    if (failed(b1b) || failed(b3b))
      return;
    SmallVector<char> pb(2 * E * F * eb);
    for (int64_t e = 0; e < E; ++e) {
      std::memcpy(pb.data() + 2 * e * F * eb, b1b->data() + e * F * eb, F * eb);
      std::memcpy(pb.data() + (2 * e + 1) * F * eb, b3b->data() + e * F * eb, F * eb);
    }
    b1 = bytesConstant(b, loc, RankedTensorType::get({E, 2 * F}, bT.getElementType()), pb);
    b3 = Value();
  }
  w1 = both;
  w3 = Value();
  layout = 2;
}

/// A shared expert's output |other| (DeepSeek-V3, Qwen-MoE): FFN(x) or
/// Sigmoid(x Wsg) * FFN(x) with the routed experts' activation |act| and
/// gating (|gated|), constant weights and no biases. Returns the FFN and
/// the sigmoid gate's weight (or null).
static std::optional<std::pair<ExpertFFN, Value>> sharedExpert(Value other, Value x,
                                                               StringRef act, bool gated,
                                                               double alpha = 1.0) {
  Value gateW;
  if (auto mul = other.getDefiningOp<onnx::MulOp>()) {
    for (int i = 0; i < 2; ++i) {
      auto sig = mul->getOperand(i).getDefiningOp<onnx::SigmoidOp>();
      auto mm = sig ? sig.getX().getDefiningOp<onnx::MatMulOp>() : onnx::MatMulOp();
      if (mm && mm.getA() == x && isConstant(mm.getB()) && rankOf(mm.getB()) == 2 &&
          cast<RankedTensorType>(mm.getB().getType()).getDimSize(1) == 1) {
        gateW = mm.getB();
        other = mul->getOperand(1 - i);
        break;
      }
    }
  }
  auto f = matchFFN(other);
  if (!f || f->in != x || f->act != act || f->alpha != alpha || bool(f->p3.weight) != gated ||
      f->reluUp)
    return std::nullopt;
  for (const Projection *p : {&f->p1, &f->p2, &f->p3})
    if (p->weight && (p->bias || p->einsum || !isConstant(p->weight) || rankOf(p->weight) != 2))
      return std::nullopt;
  return std::make_pair(*f, gateW);
}

/// Fills the shared operands of |m| from |shared| (sharedExpert's).
static void fillShared(OpBuilder &b, Location loc, const std::pair<ExpertFFN, Value> &shared,
                       MoESpec &m) {
  const ExpertFFN &f = shared.first;
  auto layoutOf = [&](const Projection &p) {
    return p.transposed ? transpose2D(b, loc, p.weight) : p.weight;
  };
  m.sharedW1 = layoutOf(f.p1);
  m.sharedW2 = layoutOf(f.p2);
  if (f.p3.weight)
    m.sharedW3 = layoutOf(f.p3);
  m.sharedGate = shared.second;
}

/// A shared expert added to the routed output: the single user of
/// |routed| is Add(routed, shared) (see sharedExpert). Returns that Add and
/// fills the shared operands of |m|, or returns null.
static Operation *matchSharedExpert(OpBuilder &b, Location loc, Value routed, MoESpec &m,
                                    bool gated) {
  if (!routed.hasOneUse())
    return nullptr;
  auto add = dyn_cast<onnx::AddOp>(*routed.getUsers().begin());
  if (!add || add.getType() != routed.getType())
    return nullptr;
  Value other = add.getA() == routed ? add.getB() : add.getA();
  auto shared = sharedExpert(other, m.x, m.act, gated, m.alpha);
  if (!shared)
    return nullptr;
  fillShared(b, loc, *shared, m);
  return add;
}

/// Unflattened router logits [B, S, E] as the op's [B * S, E].
static Value flattenTokens(OpBuilder &b, Location loc, Value logits) {
  auto t = cast<RankedTensorType>(logits.getType());
  if (t.getRank() != 3)
    return logits;
  int64_t B = t.getDimSize(0), S = t.getDimSize(1), E = t.getDimSize(2);
  int64_t T = ShapedType::isDynamic(B) || ShapedType::isDynamic(S) ? ShapedType::kDynamic : B * S;
  auto shapeT = RankedTensorType::get({2}, b.getI64Type());
  Value shape = onnx::ConstantOp::create(b, loc, shapeT,
                                         DenseIntElementsAttr::get(shapeT, {int64_t(-1), E}));
  return onnx::ReshapeOp::create(b, loc, RankedTensorType::get({T, E}, t.getElementType()),
                                 logits, shape);
}

/// Builds the sparsa.moe replacing |anchor|'s result (or the Add of a
/// shared expert to it); returns the op whose result was replaced.
static Operation *emitMoE(Operation *anchor, const Routed &r) {
  OpBuilder b(anchor);
  const Gate &g = r.gate;
  Experts e = r.experts;
  int64_t layout = 0;
  packGateAndLinear(b, anchor->getLoc(), e.w1, e.w3, e.b1, e.b3, layout);
  MoESpec m;
  m.x = r.x;
  m.logits = flattenTokens(b, anchor->getLoc(), g.logits);
  if (g.indices) {
    m.indices = flattenTokens(b, anchor->getLoc(), g.indices);
    // Stacked constants: E is static.
    int64_t E = cast<RankedTensorType>(e.w1.getType()).getDimSize(0);
    if (g.wrapsNegative)
      m.indices = wrapNegative(b, anchor->getLoc(), m.indices, E);
  }
  m.w1 = e.w1;
  m.w2 = e.w2;
  m.w3 = e.w3;
  m.b1 = e.b1;
  m.b2 = e.b2;
  m.b3 = e.b3;
  m.k = g.k;
  m.gating = g.gating;
  m.normalize = g.normalize;
  m.scaling = g.scaling;
  m.selectionBias = g.selectionBias;
  m.nGroup = g.nGroup;
  m.topkGroup = g.topkGroup;
  m.act = e.act;
  m.alpha = e.alpha;
  m.limit = e.limit;
  m.beta = e.beta;
  m.layout = layout;
  Operation *replaced = anchor;
  if (r.sharedTerm) {
    // Checked by the matcher; the chain's root already includes it.
    auto shared = sharedExpert(r.sharedTerm, m.x, m.act, bool(r.experts.w3), m.alpha);
    assert(shared && "a shared term the matcher checked");
    fillShared(b, anchor->getLoc(), *shared, m);
  } else if (Operation *add = matchSharedExpert(b, anchor->getLoc(), anchor->getResult(0), m,
                                                bool(r.experts.w3))) {
    replaced = add;
    b.setInsertionPoint(add);
  }
  sp::MoEOp moe = buildMoE(b, anchor->getLoc(), m);
  if (g.indices)
    sparsa::markFusionNote(moe, "routing", givenNote(g));
  Value out = moe.getResult();
  if (out.getType() != replaced->getResult(0).getType())
    out = onnx::IdentityOp::create(b, anchor->getLoc(), replaced->getResult(0).getType(), out)
              .getResult();
  replaced->getResult(0).replaceAllUsesWith(out);
  return replaced;
}

/// Per-expert FFNs (2-D weights, one per expert index; missing experts
/// null) stacked into canonical [E, ...] constants.
static FailureOr<Experts> stackExperts(OpBuilder &b, Location loc,
                                       ArrayRef<std::optional<ExpertFFN>> ffns,
                                       std::string &why) {
  const ExpertFFN *first = nullptr;
  for (auto &f : ffns)
    if (f) {
      first = &*f;
      break;
    }
  if (!first) {
    why = "no expert branches";
    return failure();
  }
  auto shapeOf = [](Value v) { return cast<RankedTensorType>(v.getType()).getShape(); };
  bool gated = bool(first->p3.weight);
  if (first->act == "relu2") {
    why = "squared ReLU activations in routed experts are not supported";
    return failure();
  }
  if (first->act == "threshold" || first->act == "abs_threshold") {
    why = "threshold (FATReLU, CATS) activations in routed experts are not supported";
    return failure();
  }
  if (first->reluUp) {
    why = "dReLU experts (a ReLU on both halves of the GLU) are not supported";
    return failure();
  }
  for (auto &f : ffns) {
    if (!f)
      continue;
    auto same = [&](const Projection &p, const Projection &q) {
      return bool(p.weight) == bool(q.weight) && bool(p.bias) == bool(q.bias) &&
             p.transposed == q.transposed &&
             (!p.weight || (isConstant(p.weight) && rankOf(p.weight) == 2 &&
                            shapeOf(p.weight) == shapeOf(q.weight)));
    };
    if (f->act != first->act || f->reluUp != first->reluUp || f->alpha != first->alpha) {
      auto name = [](const ExpertFFN &e) -> std::string {
        if (e.reluUp)
          return "drelu";
        if (e.alpha != 1.0)
          return (e.act + "(" + std::to_string(e.alpha) + " x)").str();
        return e.act.str();
      };
      why = "experts use different activations (" + name(*first) + " and " + name(*f) + ")";
      return failure();
    }
    if (!same(f->p1, first->p1) || !same(f->p2, first->p2) || !same(f->p3, first->p3)) {
      why = "experts differ in weight shapes, biases or layouts, or have non-constant "
            "weights";
      return failure();
    }
  }
  Experts ex;
  ex.act = first->act;
  ex.alpha = first->alpha;
  Type elt = getElementTypeOrSelf(first->p1.weight);
  auto stack = [&](auto get, Value &out, bool transposed) -> LogicalResult {
    SmallVector<Value> parts;
    Value any;
    for (auto &f : ffns) {
      parts.push_back(f ? get(*f) : Value());
      any = any ? any : parts.back();
    }
    if (!any)
      return success();
    SmallVector<int64_t> shape(shapeOf(any));
    if (shape.size() == 2 && shape[0] == 1 && !transposed)
      shape.erase(shape.begin()); // bias [1, N]
    auto st = stackConstants(b, loc, parts, shape, elt);
    if (failed(st))
      return failure();
    out = *st;
    if (transposed && shape.size() == 2)
      out = swapLastTwo(b, loc, out);
    return success();
  };
  if (failed(stack([](const ExpertFFN &f) { return f.p1.weight; }, ex.w1,
                   first->p1.transposed)) ||
      failed(stack([](const ExpertFFN &f) { return f.p2.weight; }, ex.w2,
                   first->p2.transposed)) ||
      failed(stack([](const ExpertFFN &f) { return f.p1.bias; }, ex.b1, false)) ||
      failed(stack([](const ExpertFFN &f) { return f.p2.bias; }, ex.b2, false)) ||
      (gated && (failed(stack([](const ExpertFFN &f) { return f.p3.weight; }, ex.w3,
                              first->p3.transposed)) ||
                 failed(stack([](const ExpertFFN &f) { return f.p3.bias; }, ex.b3, false))))) {
    why = "expert weights or biases are not byte-addressable constants of one shape";
    return failure();
  }
  return ex;
}

/// Form C: sum over experts of Mul(FFN_e(x), ReduceSum(Cast(Equal(idx, e))
/// * weights, last axis, keepdims)), on [T, H] or unflattened [B, S, H].
/// With top-1 the ReduceSum may be left out (the product [T, 1], or [T]
/// unsqueezed last), or the weights applied once after the sum of the
/// masked outputs: Mul(sum_e FFN_e(x) * Cast(Equal(idx, e)), weights)
/// (Switch Transformer).
namespace {
/// The routing behind a dense [T, E] routing matrix: the top-k weights and
/// indices it scatters; |softmaxOfValues| when the matrix is a softmax of
/// the top-k values scattered into -inf (the weights are then the values'
/// softmax, Mixtral's gate written densely).
struct DenseRouting {
  Value weights, indices;
  bool softmaxOfValues = false;
  /// Negative indices count from the end (ScatterElements, OneHot), and
  /// the matrix's expert count.
  bool wraps = false;
  int64_t experts = ShapedType::kDynamic;
};
} // namespace
static std::optional<DenseRouting> denseRouting(Value d, Operation *anchor, Miss &miss,
                                                bool batched = false);

static FailureOr<Routed> matchEqualMaskChain(Operation *anchor, Miss &miss) {
  // The chain, or the chain times the weights applied after it.
  Value root = anchor->getResult(0), postWeights;
  if (auto mul = dyn_cast<onnx::MulOp>(anchor)) {
    for (int i = 0; i < 2 && !postWeights; ++i)
      if (mul->getOperand(i).getDefiningOp<onnx::AddOp>() &&
          rankOf(mul->getOperand(1 - i)) == rankOf(root)) {
        root = mul->getOperand(i);
        postWeights = mul->getOperand(1 - i);
      }
    if (!postWeights)
      return failure();
  } else if (!isa<onnx::AddOp>(anchor)) {
    return failure();
  }
  // Collect the Add tree's leaves.
  SmallVector<Value> leaves, work = {root};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (auto add = v.getDefiningOp<onnx::AddOp>()) {
      work.push_back(add.getB());
      work.push_back(add.getA());
      continue;
    }
    leaves.push_back(v);
  }
  if (leaves.size() < 2)
    return failure();
  Value indices, weights, x, dense, sharedLeaf;
  bool softmaxOfValues = false, unsummed = false, denseWraps = false;
  int64_t denseExperts = ShapedType::kDynamic;
  std::map<int64_t, ExpertFFN> byExpert;
  // Column e of the dense routing matrix D [T, E] (or [B, S, E]):
  // D[..., e:e+1] (Slice) or D[..., e, None] (Unsqueeze(Gather(D, e, last
  // axis))).
  auto lastOf = [](Value v, int64_t axis) {
    int64_t rank = rankOf(v);
    return (rank == 2 || rank == 3) && (axis == -1 || axis == rank - 1);
  };
  auto denseColumn = [&](Value v) -> std::optional<std::pair<Value, int64_t>> {
    if (auto sl = v.getDefiningOp<onnx::SliceOp>()) {
      auto starts = onnx::getConstantI64Values(sl.getStarts());
      auto ends = onnx::getConstantI64Values(sl.getEnds());
      auto axes = sl.getAxes() ? onnx::getConstantI64Values(sl.getAxes())
                               : FailureOr<SmallVector<int64_t>>(failure());
      if (failed(starts) || failed(ends) || failed(axes) || starts->size() != 1 ||
          axes->size() != 1 || !lastOf(sl.getData(), (*axes)[0]) || (*starts)[0] < 0 ||
          (*ends)[0] != (*starts)[0] + 1)
        return std::nullopt;
      if (sl.getSteps()) {
        auto steps = onnx::getConstantI64Values(sl.getSteps());
        if (failed(steps) || steps->size() != 1 || (*steps)[0] != 1)
          return std::nullopt;
      }
      return std::make_pair(sl.getData(), (*starts)[0]);
    }
    auto un = v.getDefiningOp<onnx::UnsqueezeOp>();
    auto g = un ? un.getData().getDefiningOp<onnx::GatherOp>() : onnx::GatherOp();
    std::optional<int64_t> e = g ? constInt(g.getIndices()) : std::nullopt;
    if (!g || !e || *e < 0 || !lastOf(g.getData(), g.getAxis()) ||
        rankOf(g.getIndices()) != 0 || rankOf(v) != rankOf(g.getData()))
      return std::nullopt;
    return std::make_pair(g.getData(), *e);
  };
  // Zeros the sum starts from (`out = torch.zeros_like(x)`, then `out =
  // out + ...`), no wider than the sum.
  size_t zeroLeaves = 0;
  auto sumT = dyn_cast<RankedTensorType>(anchor->getResult(0).getType());
  if (!sumT)
    return failure();
  auto isStartingZeros = [&](Value leaf) {
    auto t = dyn_cast<RankedTensorType>(leaf.getType());
    if (!t || t.getRank() != sumT.getRank() || !isZeroTensor(leaf))
      return false;
    for (auto [d, s] : llvm::zip(t.getShape(), sumT.getShape()))
      if (!ShapedType::isDynamic(d) && d != 1 && d != s)
        return false;
    return true;
  };
  for (Value leaf : leaves) {
    if (isStartingZeros(leaf)) {
      ++zeroLeaves;
      continue;
    }
    auto mul = leaf.getDefiningOp<onnx::MulOp>();
    size_t before = byExpert.size();
    for (int i = 0; mul && i < 2; ++i) {
      if (auto col = denseColumn(mul->getOperand(i))) {
        auto ffn = matchFFN(mul->getOperand(1 - i));
        if (!ffn || (dense && dense != col->first) || (x && x != ffn->in) ||
            byExpert.count(col->second))
          continue;
        dense = col->first;
        x = ffn->in;
        byExpert[col->second] = *ffn;
        break;
      }
    }
    if (byExpert.size() != before)
      continue;
    if (!mul) {
      // The one term that is not an expert's: a shared expert.
      if (sharedLeaf)
        return failure();
      sharedLeaf = leaf;
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      // The expert's factor: ReduceSum(mask * w, -1, keepdims) [T, 1]; with
      // top-1 also mask * w, or a mask alone when the weights come after.
      Value c = mul->getOperand(i);
      SmallVector<std::pair<Value, Value>> maskAndWeights;
      if (auto sum = c.getDefiningOp<onnx::ReduceSumOp>();
          sum && reducesAxis(sum, -1) && sum.getKeepdims()) {
        if (auto prod = sum.getData().getDefiningOp<onnx::MulOp>())
          for (int j = 0; j < 2; ++j)
            maskAndWeights.push_back({prod->getOperand(j), prod->getOperand(1 - j)});
      } else {
        auto cT = dyn_cast<RankedTensorType>(c.getType());
        if (!cT || cT.getRank() != sumT.getRank() || cT.getShape().back() != 1)
          continue;
        if (Value x = lastAxisUnsqueezed(c))
          c = x;
        else if (c.getDefiningOp<onnx::UnsqueezeOp>())
          continue;
        if (postWeights) {
          maskAndWeights.push_back({c, Value()});
        } else if (auto prod = c.getDefiningOp<onnx::MulOp>()) {
          for (int j = 0; j < 2; ++j)
            maskAndWeights.push_back({prod->getOperand(j), prod->getOperand(1 - j)});
        }
        if (!maskAndWeights.empty())
          unsummed = true;
      }
      for (auto [m, w] : maskAndWeights) {
        if (auto cast = m.getDefiningOp<onnx::CastOp>())
          m = cast.getInput();
        auto eq = m.getDefiningOp<onnx::EqualOp>();
        if (!eq)
          continue;
        std::optional<int64_t> e = constInt(eq.getB());
        Value idx = eq.getA();
        if (!e) {
          e = constInt(eq.getA());
          idx = eq.getB();
        }
        if (!e)
          continue;
        auto ffn = matchFFN(mul->getOperand(1 - i));
        if (!ffn)
          continue;
        if ((indices && (indices != idx || weights != w || x != ffn->in)) ||
            byExpert.count(*e))
          return failure();
        indices = idx;
        weights = w;
        x = ffn->in;
        byExpert[*e] = *ffn;
      }
    }
    if (byExpert.size() == before) {
      // A Mul term that is not an expert's: a (sigmoid-gated) shared expert.
      if (sharedLeaf)
        return failure();
      sharedLeaf = leaf;
    }
  }
  if (dense) {
    // Experts weighted by columns of the dense routing matrix.
    if (indices)
      return failure();
    auto routing = denseRouting(dense, anchor, miss, /*batched=*/true);
    if (!routing)
      return failure();
    weights = routing->weights;
    indices = routing->indices;
    softmaxOfValues = routing->softmaxOfValues;
    denseWraps = routing->wraps;
    denseExperts = routing->experts;
  }
  if (byExpert.size() + (sharedLeaf ? 1 : 0) + zeroLeaves != leaves.size() ||
      byExpert.size() < 2 || !indices)
    return failure();
  if (postWeights) {
    // Switch Transformer: the sum of the masked outputs times the top-1
    // weight [T, 1] (or [T] unsqueezed, as the indices may be).
    if (dense || sharedLeaf)
      return failure();
    weights = postWeights;
    if (Value w = lastAxisUnsqueezed(weights); w && rankOf(indices) == rankOf(w))
      weights = w;
  }
  Routed r;
  auto gate = matchGate(weights, indices, miss, /*batched=*/true, softmaxOfValues);
  if (failed(gate) && !softmaxOfValues) {
    // Any other gate stays outside the op. Equal masks give no expert
    // count: the experts are those up to the last branch's (an index past
    // them matches no branch, and adds nothing to the op either).
    gate = givenGate(weights, indices, miss.reason, /*wrapsNegative=*/dense && denseWraps,
                     dense ? denseExperts : byExpert.rbegin()->first + 1);
  }
  if (failed(gate))
    return failure();
  if (unsummed && gate->k != 1)
    return failure();
  r.gate = *gate;
  r.x = x;
  miss.at = anchor;
  if (!fitsTokens(*gate, x)) {
    // Not a given routing after all: the gate's own near miss, if any.
    miss.reason = unfitReason(*gate);
    return failure();
  }
  auto logitsT = cast<RankedTensorType>(gate->logits.getType());
  int64_t E = expertCount(*gate);
  if (ShapedType::isDynamic(E) || byExpert.rbegin()->first >= E || byExpert.begin()->first < 0) {
    miss.reason = "expert indices outside the router's expert count";
    return failure();
  }
  if (rankOf(x) != logitsT.getRank()) {
    miss.reason = logitsT.getRank() == 2 ? "expert input is not a [tokens, hidden] matrix"
                                         : "expert input is not [batch, tokens, hidden] like "
                                           "the router scores";
    return failure();
  }
  SmallVector<std::optional<ExpertFFN>> ffns(E);
  for (auto &[e, f] : byExpert)
    ffns[e] = f;
  OpBuilder b(anchor);
  auto ex = stackExperts(b, anchor->getLoc(), ffns, miss.reason);
  if (failed(ex))
    return failure();
  r.experts = *ex;
  if (sharedLeaf) {
    if (!sharedExpert(sharedLeaf, x, ex->act, bool(ex->w3), ex->alpha)) {
      miss.reason = "a term of the expert sum is neither an expert's nor a shared expert";
      return failure();
    }
    r.sharedTerm = sharedLeaf;
  }
  return r;
}

/// Stacked 3-D expert weights of a batched FFN (forms B and D); |indices|
/// set when each weight is Gather(stacked, indices).
static FailureOr<Experts> stackedExperts(OpBuilder &b, Location loc, const ExpertFFN &f,
                                         Value indices, std::string &why) {
  bool gathered = bool(indices);
  Experts ex;
  ex.act = f.act;
  ex.alpha = f.alpha;
  ex.limit = f.limit;
  ex.beta = f.beta;
  if (f.act == "relu2") {
    why = "squared ReLU activations in routed experts are not supported";
    return failure();
  }
  if (f.act == "threshold" || f.act == "abs_threshold") {
    why = "threshold (FATReLU, CATS) activations in routed experts are not supported";
    return failure();
  }
  if (f.reluUp) {
    why = "dReLU experts (a ReLU on both halves of the GLU) are not supported";
    return failure();
  }
  auto weight = [&](const Projection &p, Value &out) -> LogicalResult {
    if (!p.weight)
      return success();
    Value w = p.weight;
    if (gathered) {
      auto g = gatheredRows(w);
      if (!g || g->second != indices)
        return failure();
      w = g->first;
    }
    if (!isConstant(w) || rankOf(w) != 3)
      return failure();
    // Rows are outputs ([E, out, in], batched_mm experts): folded to the
    // canonical [E, in, out] at compile time.
    out = p.transposed ? swapLastTwo(b, loc, w) : w;
    return success();
  };
  auto bias = [&](const Projection &p, Value &out) -> LogicalResult {
    if (!p.bias)
      return success();
    if (gathered) {
      // b[idx] per pair (transformers 5's batched_mm biases): the stack.
      auto g = gatheredRows(p.bias);
      if (!g || g->second != indices || !isConstant(g->first) || rankOf(g->first) != 2 ||
          rankOf(p.bias) != 2)
        return failure();
      out = g->first;
      return success();
    }
    auto t = cast<RankedTensorType>(p.bias.getType());
    if (t.getRank() != 3 || t.getDimSize(1) != 1)
      return failure();
    auto r = reshapeConstant(b, loc, p.bias, {t.getDimSize(0), t.getDimSize(2)});
    if (failed(r))
      return failure();
    out = *r;
    return success();
  };
  if (failed(weight(f.p1, ex.w1)) || failed(weight(f.p2, ex.w2)) ||
      failed(weight(f.p3, ex.w3)) || failed(bias(f.p1, ex.b1)) || failed(bias(f.p2, ex.b2)) ||
      failed(bias(f.p3, ex.b3))) {
    why = gathered ? "expert weights (or biases) are not constants gathered by the top-k "
                     "indices"
                   : "expert weights are not stacked [E, in, out] constants with "
                     "[E, 1, out] biases";
    return failure();
  }
  return ex;
}

/// The routed op of a batched FFN over stacked 3-D expert weights (forms B
/// and D; |indices| set when each weight is Gather(stacked, indices)).
static FailureOr<Routed> routedStacked(Operation *anchor, const Gate &gate,
                                       const ExpertFFN &ffn, Value indices, Miss &miss) {
  Routed r;
  r.gate = gate;
  r.x = peelUnitDims(ffn.in);
  miss.at = anchor;
  if (!fitsTokens(gate, r.x)) {
    miss.reason = unfitReason(gate);
    return failure();
  }
  int64_t rank = rankOf(gate.logits);
  if (rankOf(r.x) != rank) {
    miss.reason = rank == 3 ? "expert input is not [batch, tokens, hidden] like the router "
                              "scores"
                            : "expert input is not a [tokens, hidden] matrix";
    return failure();
  }
  OpBuilder b(anchor);
  auto ex = stackedExperts(b, anchor->getLoc(), ffn, indices, miss.reason);
  if (failed(ex))
    return failure();
  int64_t E = cast<RankedTensorType>(ex->w1.getType()).getDimSize(0);
  if (gate.indices && (ShapedType::isDynamic(E) || E < gate.k ||
                       (!ShapedType::isDynamic(gate.experts) && gate.experts != E))) {
    miss.reason = "the given routing does not fit the stacked experts";
    return failure();
  }
  r.experts = *ex;
  return r;
}

/// Form D: ReduceSum over k of Mul(FFN(x) with weights Gather(stacked, idx)
/// [T, k, (1,) H], Unsqueeze(weights, 2)).
static FailureOr<Routed> matchGatherByIndex(Operation *anchor, Miss &miss) {
  // [T, k, H], or with unflattened tokens (Einsums) [B, S, k, H].
  auto sum = dyn_cast<onnx::ReduceSumOp>(anchor);
  int64_t rank = sum ? rankOf(sum.getData()) : -1;
  if (!sum || (rank != 3 && rank != 4) || !reducesAxis(sum, -2) || sum.getKeepdims())
    return failure();
  auto mul = sum.getData().getDefiningOp<onnx::MulOp>();
  if (!mul)
    return failure();
  for (int i = 0; i < 2; ++i) {
    Value y = mul->getOperand(i);
    if (auto sq = y.getDefiningOp<onnx::SqueezeOp>())
      y = sq.getData();
    auto ffn = matchFFN(y);
    if (!ffn || (rank == 4 && (!ffn->p1.einsum || rankOf(ffn->in) != 3)))
      continue;
    Value wv = mul->getOperand(1 - i);
    auto un = wv.getDefiningOp<onnx::UnsqueezeOp>();
    if (!un)
      continue;
    auto g = gatheredRows(ffn->p1.weight); // W[idx]: Gather, or GatherND (dynamo)
    if (!g || ffn->p1.einsum != ffn->p2.einsum)
      continue;
    miss.at = anchor;
    // The weights scale their pair's output: Unsqueeze(w, last).
    auto axes = onnx::getConstantI64Values(un.getAxes());
    if (failed(axes) || axes->size() != 1 || ((*axes)[0] != rank - 1 && (*axes)[0] != -1))
      return failure();
    auto gate = gateOrGiven(un.getData(), g->second, miss, /*batched=*/rank == 4,
                            /*wrapsNegative=*/true);
    if (failed(gate))
      return failure();
    return routedStacked(anchor, *gate, *ffn, g->second, miss);
  }
  return failure();
}

/// The tokens x [T, H] each repeated k times (repeat_interleave(x, k, 0)):
/// Reshape(Expand(Unsqueeze(x, 1), [T or 1, k, H or 1]), [T * k, H]) as
/// the dynamo exporter writes it, or Flatten(Tile(Unsqueeze(x, 1), [1, k,
/// 1]), 2) as TorchScript does (the repeats folded at import). Returns x.
static Value repeatedRows(Value v, int64_t k) {
  if (!v || rankOf(v) != 2)
    return Value();
  Operation *def = v.getDefiningOp();
  Value rep;
  if (auto rs = dyn_cast_or_null<onnx::ReshapeOp>(def))
    rep = rs.getData();
  else if (auto fl = dyn_cast_or_null<onnx::FlattenOp>(def); fl && fl.getAxis() == 2)
    rep = fl.getInput();
  if (!rep || rankOf(rep) != 3 || cast<RankedTensorType>(rep.getType()).getDimSize(1) != k)
    return Value();
  Value in;
  if (auto ex = rep.getDefiningOp<onnx::ExpandOp>()) {
    in = ex.getInput();
  } else if (auto tile = rep.getDefiningOp<onnx::TileOp>()) {
    auto reps = onnx::getConstantI64Values(tile.getRepeats());
    if (failed(reps) || *reps != SmallVector<int64_t>{1, k, 1})
      return Value();
    in = tile.getInput();
  }
  auto un = in ? in.getDefiningOp<onnx::UnsqueezeOp>() : onnx::UnsqueezeOp();
  if (!un || rankOf(un.getData()) != 2)
    return Value();
  auto axes = onnx::getConstantI64Values(un.getAxes());
  if (failed(axes) || axes->size() != 1 || ((*axes)[0] != 1 && (*axes)[0] != -2))
    return Value();
  return un.getData();
}

/// Form D as transformers (v5) writes its batched_mm experts: every
/// (token, slot) pair a row, the token repeated k times, the pair's expert
/// weights gathered by the flattened top-k indices, the rows scaled by the
/// flattened routing weights and summed per token:
/// ReduceSum(Reshape(Mul(FFN(repeat_interleave(x, k)), Unsqueeze(
/// Reshape(w, [-1]), -1)), [T, k, H]), axis 1).
static FailureOr<Routed> matchRepeatedTokens(Operation *anchor, Miss &miss) {
  auto sum = dyn_cast<onnx::ReduceSumOp>(anchor);
  if (!sum || rankOf(sum.getData()) != 3 || !reducesAxis(sum, 1) || sum.getKeepdims())
    return failure();
  auto rs = sum.getData().getDefiningOp<onnx::ReshapeOp>();
  auto mul = rs ? rs.getData().getDefiningOp<onnx::MulOp>() : onnx::MulOp();
  int64_t k = cast<RankedTensorType>(sum.getData().getType()).getDimSize(1);
  if (!mul || rankOf(mul) != 2 || ShapedType::isDynamic(k))
    return failure();
  // The flattened [T * k] vector of a [T, k] matrix.
  auto flattened = [](Value v) -> Value {
    auto r = v ? v.getDefiningOp<onnx::ReshapeOp>() : onnx::ReshapeOp();
    return r && rankOf(v) == 1 && rankOf(r.getData()) == 2 ? r.getData() : Value();
  };
  for (int i = 0; i < 2; ++i) {
    auto ffn = matchFFN(mul->getOperand(i), /*clamped=*/true);
    auto un = mul->getOperand(1 - i).getDefiningOp<onnx::UnsqueezeOp>();
    if (!ffn || !un || rankOf(un) != 2)
      continue;
    auto axes = onnx::getConstantI64Values(un.getAxes());
    if (failed(axes) || axes->size() != 1 || ((*axes)[0] != 1 && (*axes)[0] != -1))
      continue;
    Value weights = flattened(un.getData());
    auto g = gatheredRows(ffn->p1.weight);
    Value indices = g ? flattened(g->second) : Value();
    Value x = repeatedRows(ffn->in, k);
    if (!weights || !indices || !x || ffn->p1.einsum || ffn->p2.einsum)
      continue;
    miss.at = anchor;
    auto gate = gateOrGiven(weights, indices, miss, /*batched=*/false, /*wrapsNegative=*/true);
    if (failed(gate)) {
      // The pair layout is unmistakable; say why it stops here.
      if (miss.reason.empty())
        miss.reason = "the routing weights and indices are not a recognized top-k gate";
      return failure();
    }
    if (gate->k != k) {
      miss.reason = "the tokens are repeated " + std::to_string(k) + " times for top-" +
                    std::to_string(gate->k) + " routing";
      return failure();
    }
    ExpertFFN perToken = *ffn;
    perToken.in = x;
    return routedStacked(anchor, *gate, perToken, g->second, miss);
  }
  return failure();
}

/// |v| = Gather(data, constant c, axis 0) on a rank-1 or rank-2 data.
static std::optional<std::pair<Value, int64_t>> gatherRow(Value v) {
  auto g = v ? v.getDefiningOp<onnx::GatherOp>() : onnx::GatherOp();
  if (!g || g.getAxis() != 0)
    return std::nullopt;
  std::optional<int64_t> c = constInt(g.getIndices());
  if (!c || rankOf(g.getIndices()) != 0)
    return std::nullopt;
  return std::make_pair(g.getData(), *c);
}

/// |v| = Reshape / Unsqueeze / Squeeze chains peeled.
static Value peelReshapes(Value v) {
  while (v && isa_and_nonnull<onnx::ReshapeOp, onnx::UnsqueezeOp, onnx::SqueezeOp,
                              onnx::FlattenOp>(v.getDefiningOp()))
    v = v.getDefiningOp()->getOperand(0);
  return v;
}

/// Row |r| of NonZero's output [rank, N] as a [N] vector: Gather(nz, r) or
/// torch.where's export Squeeze(Split(Transpose(nz), axis 1)[r], 1).
/// Returns (the NonZero result, r, the Split when that form).
struct NonZeroRow {
  Value nz;
  int64_t row;
  Operation *split = nullptr;
};
static std::optional<NonZeroRow> nonZeroRow(Value v) {
  if (auto r = gatherRow(v))
    return NonZeroRow{r->first, r->second};
  auto sq = v ? v.getDefiningOp<onnx::SqueezeOp>() : onnx::SqueezeOp();
  if (!sq)
    return std::nullopt;
  // The dynamo exporter's nz.T[:, r]: Squeeze(Slice(Transpose(nz), [r],
  // [r + 1], axes [1]), [1]); the Transpose is the shared "split" point.
  if (auto sl = sq.getData().getDefiningOp<onnx::SliceOp>()) {
    auto tr = sl.getData().getDefiningOp<onnx::TransposeOp>();
    auto starts = onnx::getConstantI64Values(sl.getStarts());
    auto ends = onnx::getConstantI64Values(sl.getEnds());
    auto axes = sl.getAxes() ? onnx::getConstantI64Values(sl.getAxes())
                             : FailureOr<SmallVector<int64_t>>(failure());
    if (!tr || tr.getPermutation().size() != 2 || tr.getPermutation()[0] != 1 ||
        failed(starts) || failed(ends) || failed(axes) || starts->size() != 1 ||
        axes->size() != 1 || ((*axes)[0] != 1 && (*axes)[0] != -1) ||
        (*ends)[0] != (*starts)[0] + 1 || (*starts)[0] < 0 || (*starts)[0] > 1)
      return std::nullopt;
    return NonZeroRow{tr.getData(), (*starts)[0], tr};
  }
  auto split = sq.getData().getDefiningOp<onnx::SplitOp>();
  if (!split || (split.getAxis() != 1 && split.getAxis() != -1))
    return std::nullopt;
  auto tr = split.getInput().getDefiningOp<onnx::TransposeOp>();
  if (!tr || tr.getPermutation().size() != 2 || tr.getPermutation()[0] != 1)
    return std::nullopt;
  return NonZeroRow{tr.getData(), (int64_t)cast<OpResult>(sq.getData()).getResultNumber(),
                    split};
}

/// The dynamo exporter's `x[None, tok]`: Transpose(GatherND(Transpose(
/// Unsqueeze(x, 0), [1, 0, 2]), Unsqueeze(tok, -1)), [1, 0, 2]). Returns
/// (x, tok).
static bool isPerm(onnx::TransposeOp t, ArrayRef<int64_t> p) {
  return t && llvm::equal(t.getPermutation(), p);
}
static std::optional<std::pair<Value, Value>> gatherNDRows(Value v) {
  auto outer = v.getDefiningOp<onnx::TransposeOp>();
  if (!isPerm(outer, {1, 0, 2}))
    return std::nullopt;
  auto gnd = outer.getData().getDefiningOp<onnx::GatherNDOp>();
  if (!gnd || gnd.getBatchDims() != 0)
    return std::nullopt;
  auto inner = gnd.getData().getDefiningOp<onnx::TransposeOp>();
  auto idx = gnd.getIndices().getDefiningOp<onnx::UnsqueezeOp>();
  if (!isPerm(inner, {1, 0, 2}) || !idx || rankOf(idx.getData()) != 1)
    return std::nullopt;
  auto un = inner.getData().getDefiningOp<onnx::UnsqueezeOp>();
  auto axes = un ? onnx::getConstantI64Values(un.getAxes())
                 : FailureOr<SmallVector<int64_t>>(failure());
  auto idxAxes = onnx::getConstantI64Values(idx.getAxes());
  if (!un || rankOf(un.getData()) != 2 || failed(axes) || axes->size() != 1 ||
      (*axes)[0] != 0 || failed(idxAxes) || idxAxes->size() != 1 ||
      ((*idxAxes)[0] != 1 && (*idxAxes)[0] != -1))
    return std::nullopt;
  return std::make_pair(un.getData(), idx.getData());
}

/// The expert input rows Gather(x, tok, axis 0) (GatherND(x, Unsqueeze(tok,
/// -1)) from the dynamo exporter), or the export of `x[None,
/// tok].reshape(-1, H)`: Reshape(Gather(Unsqueeze(x, 0), tok, axis 1)).
/// Returns (x, tok).
static std::optional<std::pair<Value, Value>> tokenRows(Value in) {
  if (auto rows = gatheredRows(in); rows && rankOf(rows->second) == 1 && rankOf(in) == 2)
    return rows;
  auto r = in.getDefiningOp<onnx::ReshapeOp>();
  if (r && rankOf(in) == 2)
    if (auto rows = gatherNDRows(r.getData()))
      return rows;
  auto g = r ? r.getData().getDefiningOp<onnx::GatherOp>() : onnx::GatherOp();
  if (!g || g.getAxis() != 1 || rankOf(g.getIndices()) != 1 || rankOf(in) != 2)
    return std::nullopt;
  auto un = g.getData().getDefiningOp<onnx::UnsqueezeOp>();
  if (!un || rankOf(un.getData()) != 2)
    return std::nullopt;
  auto axes = onnx::getConstantI64Values(un.getAxes());
  if (failed(axes) || axes->size() != 1 || (*axes)[0] != 0)
    return std::nullopt;
  return std::make_pair(un.getData(), g.getIndices());
}

/// Whether |v| is the constant |k|, or the size of a static dim equal to
/// |k| read from a shape (Gather(Shape(t), i), as dynamic exports write
/// `t.shape[i]`).
static bool isCount(Value v, int64_t k) {
  if (constInt(v) == k)
    return true;
  while (auto c = v.getDefiningOp<onnx::CastOp>())
    v = c.getInput();
  auto g = v.getDefiningOp<onnx::GatherOp>();
  auto sh = g ? g.getData().getDefiningOp<onnx::ShapeOp>() : onnx::ShapeOp();
  std::optional<int64_t> i = g ? constInt(g.getIndices()) : std::nullopt;
  if (!sh || !i || sh.getStart() != 0)
    return false;
  auto t = dyn_cast<RankedTensorType>(sh.getData().getType());
  int64_t d = *i < 0 ? *i + (t ? t.getRank() : 0) : *i;
  return t && d >= 0 && d < t.getRank() && t.getDimSize(d) == k;
}

namespace {
/// One unrolled expert branch of form A.
struct BranchA {
  int64_t expert;
  ExpertFFN ffn;
  Value mask, tokens, slots, weights;
};
} // namespace

/// The row weights [n, 1] of a form A branch: the routing weight of each
/// (token, slot) pair, from the flattened weights or GatherND.
static Value routingWeightSource(Value col, Value tok, Value slot, int64_t k) {
  Operation *u = col.getDefiningOp();
  if (!u || !isa<onnx::UnsqueezeOp, onnx::ReshapeOp, onnx::GatherNDOp>(u) ||
      rankOf(col) != 2)
    return Value();
  Value w = isa<onnx::GatherNDOp>(u) ? col : peelReshapes(col);
  if (auto g = w.getDefiningOp<onnx::GatherOp>(); g && g.getAxis() == 0) {
    // weights.reshape(-1)[tok * k + slot] (or the flattened [T * k, 1]
    // rows of weights[..., None], k read from a shape)
    Value flat = peelReshapes(g.getData());
    auto add = g.getIndices().getDefiningOp<onnx::AddOp>();
    if (!flat || flat == g.getData() || !add || rankOf(flat) != 2)
      return Value();
    for (int i = 0; i < 2; ++i) {
      auto mul = add->getOperand(i).getDefiningOp<onnx::MulOp>();
      if (!mul || add->getOperand(1 - i) != slot)
        continue;
      for (int j = 0; j < 2; ++j)
        if (mul->getOperand(j) == tok && isCount(mul->getOperand(1 - j), k))
          return flat;
    }
    return Value();
  }
  if (auto gnd = w.getDefiningOp<onnx::GatherNDOp>(); gnd && gnd.getBatchDims() == 0) {
    // weights[stack(tok, slot)]
    auto cat = gnd.getIndices().getDefiningOp<onnx::ConcatOp>();
    if (!cat || cat.getInputs().size() != 2 || (cat.getAxis() != 1 && cat.getAxis() != -1))
      return Value();
    auto col0 = cat.getInputs()[0].getDefiningOp<onnx::UnsqueezeOp>();
    auto col1 = cat.getInputs()[1].getDefiningOp<onnx::UnsqueezeOp>();
    if (!col0 || !col1 || col0.getData() != tok || col1.getData() != slot)
      return Value();
    // weights[..., None][tok, slot] (dynamo): the [T, k, 1] view of the weights.
    Value data = gnd.getData();
    if (auto un = data.getDefiningOp<onnx::UnsqueezeOp>(); un && rankOf(data) == 3 &&
                                                           rankOf(un.getData()) == 2)
      return un.getData();
    return data;
  }
  return Value();
}

namespace {
/// One scatter of a form A chain: ScatterElements or ScatterND.
struct ScatterLink {
  Operation *op;
  Value indices, updates;
};
/// A [T, k, E] 0/1 expert mask of top-k indices [T, k]; depth E, or none
/// when its values are not 0/1 or E is not constant.
struct OneHotMask {
  Value indices;
  std::optional<int64_t> depth;
  /// Whether negative indices count from the end (OneHot; not an Equal
  /// against arange).
  bool wraps = false;
};
} // namespace
static std::optional<OneHotMask> oneHotMask(Value v, int64_t rank = 3) {
  if (auto oh = v.getDefiningOp<onnx::OneHotOp>()) {
    if (rankOf(oh.getOutput()) != rank || (oh.getAxis() != -1 && oh.getAxis() != rank - 1))
      return std::nullopt;
    std::optional<int64_t> depth = constInt(oh.getDepth());
    FailureOr<SmallVector<int64_t>> vals = onnx::getConstantI64Values(oh.getValues());
    if (failed(vals) || vals->size() != 2 || (*vals)[0] != 0 || (*vals)[1] == 0)
      depth = std::nullopt;
    return OneHotMask{oh.getIndices(), depth, /*wraps=*/true};
  }
  while (auto c = v.getDefiningOp<onnx::CastOp>())
    v = c.getInput();
  auto eq = v.getDefiningOp<onnx::EqualOp>();
  if (!eq || rankOf(eq.getResult()) != rank)
    return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    auto un = eq->getOperand(i).getDefiningOp<onnx::UnsqueezeOp>();
    auto axes = un ? onnx::getConstantI64Values(un.getAxes())
                   : FailureOr<SmallVector<int64_t>>(failure());
    if (!un || rankOf(un.getData()) != rank - 1 || failed(axes) || axes->size() != 1 ||
        ((*axes)[0] != rank - 1 && (*axes)[0] != -1))
      continue;
    // arange(E): the constants 0, 1, ..., E - 1.
    FailureOr<SmallVector<int64_t>> range = onnx::getConstantI64Values(eq->getOperand(1 - i));
    if (failed(range) || rankOf(eq->getOperand(1 - i)) != 1)
      return OneHotMask{un.getData(), std::nullopt};
    for (auto [j, r] : llvm::enumerate(*range))
      if (r != (int64_t)j)
        return OneHotMask{un.getData(), std::nullopt};
    return OneHotMask{un.getData(), (int64_t)range->size()};
  }
  return std::nullopt;
}

/// Whether |v| is a tensor filled with -inf (or a finite stand-in at most
/// -1e9, whose exp is 0 next to any real logit): a constant,
/// ConstantOfShape, or Expand of one (torch.full_like(x, -inf)). NaN is not.
static bool isMinusInfTensor(Value v) {
  return isFilledWith(v, [](double x) { return x <= -1e9; });
}

/// The dense routing matrix [T, E] of form B: top-k weights scattered into
/// zeros, ScatterElements(0, idx, w, axis -1), or as OneHot times the
/// values, ReduceSum(Cast(OneHot(idx, E)) * Unsqueeze(w, -1), axis -2), or
/// (Shazeer's top-k gating as written by hand) the softmax of the top-k
/// values scattered into -inf, Softmax(ScatterElements(-inf, idx, v)).
/// Sets |miss| when the matrix is of that shape but not a routing one.
static std::optional<DenseRouting> denseRouting(Value d, Operation *anchor, Miss &miss,
                                                bool batched) {
  int64_t rank = rankOf(d);
  bool softmax = false;
  if (auto soft = d.getDefiningOp<onnx::SoftmaxOp>();
      soft && (soft.getAxis() == -1 || soft.getAxis() == rank - 1)) {
    d = soft.getInput();
    softmax = true;
  }
  if (auto scatter = d.getDefiningOp<onnx::ScatterElementsOp>()) {
    if (scatter.getReduction() != "none" || (rank != 2 && !(batched && rank == 3)) ||
        (scatter.getAxis() != rank - 1 && scatter.getAxis() != -1))
      return std::nullopt;
    if (softmax ? !isMinusInfTensor(scatter.getData()) : !isZeroTensor(scatter.getData())) {
      miss.at = anchor;
      miss.reason = softmax ? "routing logits are scattered into a matrix other than -inf "
                              "before the softmax"
                            : "routing weights are scattered into a non-zero matrix";
      return std::nullopt;
    }
    return DenseRouting{scatter.getUpdates(), scatter.getIndices(), softmax, /*wraps=*/true,
                        cast<RankedTensorType>(d.getType()).getShape().back()};
  }
  if (softmax)
    return std::nullopt;
  // ReduceSum(OneHot(idx) [T, k, E] * Unsqueeze(w, -1), -2); [B, S, k, E]
  // when batched.
  auto sum = d.getDefiningOp<onnx::ReduceSumOp>();
  int64_t sumRank = sum ? rankOf(sum.getData()) : -1;
  if (!sum || sum.getKeepdims() || (sumRank != 3 && !(batched && sumRank == 4)) ||
      !reducesAxis(sum, -2))
    return std::nullopt;
  auto mul = sum.getData().getDefiningOp<onnx::MulOp>();
  if (!mul)
    return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    Value m = mul->getOperand(i);
    while (auto c = m.getDefiningOp<onnx::CastOp>())
      m = c.getInput();
    std::optional<OneHotMask> oh = oneHotMask(m, sumRank);
    auto un = mul->getOperand(1 - i).getDefiningOp<onnx::UnsqueezeOp>();
    auto axes = un ? onnx::getConstantI64Values(un.getAxes())
                   : FailureOr<SmallVector<int64_t>>(failure());
    if (!oh || !oh->depth || !un || failed(axes) || axes->size() != 1 ||
        ((*axes)[0] != sumRank - 1 && (*axes)[0] != -1) || rankOf(un.getData()) != sumRank - 1)
      continue;
    return DenseRouting{un.getData(), oh->indices, false, oh->wraps, *oh->depth};
  }
  return std::nullopt;
}

/// The gate of a dense routing matrix: the recognized gate, or else a given
/// routing of the weights and indices it is built from (not of a softmax
/// of scattered values: its weights are not the values).
static FailureOr<Gate> denseGate(const DenseRouting &r, Miss &miss, bool batched) {
  auto gate = matchGate(r.weights, r.indices, miss, batched, r.softmaxOfValues);
  if (succeeded(gate) || r.softmaxOfValues)
    return gate;
  return givenGate(r.weights, r.indices, miss.reason, r.wraps, r.experts);
}

/// Form B: ReduceSum over experts of Mul(FFN(x) on stacked weights, the
/// dense routing matrix [T, E]) in the layouts batched MatMuls give: the
/// outputs [E, T, H] (x Unsqueezed at 0) times Unsqueeze(Transpose(D))
/// [E, T, 1], summed over axis 0; or [T, E, H], as Transpose(those, [1, 0,
/// 2]) or Squeeze(FFN(x[:, None, None]) [T, E, 1, H], 2), times
/// Unsqueeze(D, -1), summed over axis 1.
static FailureOr<Routed> matchDenseMasked(Operation *anchor, Miss &miss) {
  // [E, T, H] / [T, E, H], or with unflattened tokens (Einsums) [B, S, E, H].
  auto sum = dyn_cast<onnx::ReduceSumOp>(anchor);
  int64_t rank = sum ? rankOf(sum.getData()) : -1;
  if (!sum || sum.getKeepdims() || (rank != 3 && rank != 4))
    return failure();
  bool batched = rank == 4;
  bool expertsFirst = !batched && reducesAxis(sum, 0);
  if (!expertsFirst && !reducesAxis(sum, -2))
    return failure();
  auto mul = sum.getData().getDefiningOp<onnx::MulOp>();
  if (!mul)
    return failure();
  auto unsqueezedLast = [rank](Value v) -> Value {
    Operation *u = v.getDefiningOp();
    if (!u || !isa<onnx::UnsqueezeOp, onnx::ReshapeOp>(u) || rankOf(v) != rank ||
        cast<RankedTensorType>(v.getType()).getDimSize(rank - 1) != 1 ||
        rankOf(u->getOperand(0)) != rank - 1)
      return Value();
    return u->getOperand(0);
  };
  for (int i = 0; i < 2; ++i) {
    Value y = mul->getOperand(i), dense;
    Value wt = unsqueezedLast(mul->getOperand(1 - i));
    if (!wt)
      continue;
    std::optional<ExpertFFN> ffn;
    if (expertsFirst) {
      // Dense routing weights [T, E] as [E, T, 1].
      auto tr = wt.getDefiningOp<onnx::TransposeOp>();
      if (!tr || tr.getPermutation() != ArrayRef<int64_t>{1, 0})
        continue;
      dense = tr.getData();
    } else {
      dense = wt;
      ffn = matchFFN(y);
      if (ffn && ffn->p1.einsum && ffn->p2.einsum && (!ffn->p3.weight || ffn->p3.einsum)) {
        // Einsums `th,ehf->tef`, `tef,efh->teh` (or `bsh,ehf->bsef`, ...):
        // [T, E, H] (or [B, S, E, H]) as computed.
      } else if (batched) {
        continue;
      } else if (auto tr = y.getDefiningOp<onnx::TransposeOp>();
                 tr && tr.getPermutation() == ArrayRef<int64_t>{1, 0, 2}) {
        y = tr.getData(); // [E, T, H] computed, then transposed
        ffn.reset();
      } else if (auto sq = y.getDefiningOp<onnx::SqueezeOp>(); sq && rankOf(sq.getData()) == 4 &&
                                                             cast<RankedTensorType>(
                                                                 sq.getData().getType())
                                                                     .getDimSize(2) == 1) {
        y = sq.getData(); // [T, E, 1, H] from x as [T, 1, 1, H]
        ffn.reset();
      } else {
        continue;
      }
    }
    if (!ffn)
      ffn = matchFFN(y);
    if (!ffn)
      continue;
    // The layout of the expert outputs follows from the input's: [1, T, H]
    // (or [T, H]) gives [E, T, *]; [T, 1, 1, H] gives [T, E, 1, *]; the
    // expert Einsums (all three projections) give [T, E, *] from [T, H].
    bool einsum = ffn->p1.einsum && ffn->p2.einsum && (!ffn->p3.weight || ffn->p3.einsum);
    if (ffn->p1.einsum != einsum || ffn->p2.einsum != einsum ||
        (einsum && (expertsFirst || rankOf(ffn->in) != rank - 1 ||
                    rankOf(ffn->p1.weight) != 3)))
      continue;
    int64_t inRank = rankOf(ffn->in);
    if (!einsum) {
      if ((rankOf(y) == 3 && inRank != 2 && inRank != 3) || (rankOf(y) == 4 && inRank != 4))
        continue;
      if (inRank == 4) {
        auto t = cast<RankedTensorType>(ffn->in.getType());
        if (t.getDimSize(1) != 1 || t.getDimSize(2) != 1)
          continue;
      }
      if (inRank == 3 && cast<RankedTensorType>(ffn->in.getType()).getDimSize(0) != 1)
        continue;
    }
    auto routing = denseRouting(dense, anchor, miss, batched);
    if (!routing) {
      if (!miss.reason.empty())
        return failure();
      continue;
    }
    miss.at = anchor;
    auto gate = denseGate(*routing, miss, batched);
    if (failed(gate))
      return failure();
    return routedStacked(anchor, *gate, *ffn, Value(), miss);
  }
  return failure();
}

/// Whether the Einsum |eq| sums expert outputs weighted by a dense routing
/// matrix: `te,teh->th` (any letters, any leading token letters), the
/// operands in either order. Sets |denseFirst|.
static bool isWeightedExpertSum(StringRef eq, bool &denseFirst) {
  eq = eq.trim();
  if (eq.contains('.') || eq.contains(' '))
    return false;
  auto [lhs, out] = eq.split("->");
  auto [a, b] = lhs.split(',');
  if (b.contains(','))
    return false;
  denseFirst = a.size() < b.size();
  StringRef d = denseFirst ? a : b, y = denseFirst ? b : a;
  // d = L e, y = L e h, out = L h, every letter distinct.
  llvm::SmallDenseSet<char, 8> seen(y.begin(), y.end());
  if (d.size() < 2 || y.size() != d.size() + 1 || seen.size() != y.size() ||
      !y.starts_with(d) || out.size() != d.size())
    return false;
  return out == (d.drop_back() + Twine(y.back())).str();
}

/// Form B with one module per expert: the experts' outputs stacked on an
/// expert axis (torch.stack: Unsqueeze + Concat), [T, E, H] (or [B, S, E,
/// H], or [E, T, H]), weighted by the dense routing matrix and summed over
/// the experts: ReduceSum(Mul(stack, Unsqueeze(D, -1)), expert axis) (D
/// transposed to [E, T] for [E, T, H]), or Einsum `te,teh->th`.
static FailureOr<Routed> matchStackedOutputs(Operation *anchor, Miss &miss) {
  Value stack, dense;
  auto axisOf = [](Value v) -> std::optional<int64_t> {
    auto un = v.getDefiningOp<onnx::UnsqueezeOp>();
    auto axes = un ? onnx::getConstantI64Values(un.getAxes())
                   : FailureOr<SmallVector<int64_t>>(failure());
    if (!un || failed(axes) || axes->size() != 1)
      return std::nullopt;
    int64_t r = rankOf(v);
    return (*axes)[0] < 0 ? (*axes)[0] + r : (*axes)[0];
  };
  if (auto sum = dyn_cast<onnx::ReduceSumOp>(anchor)) {
    auto mul = sum.getData().getDefiningOp<onnx::MulOp>();
    int64_t r = rankOf(sum.getData());
    if (!mul || sum.getKeepdims() || (r != 3 && r != 4))
      return failure();
    for (int i = 0; i < 2 && !stack; ++i) {
      auto cat = mul->getOperand(i).getDefiningOp<onnx::ConcatOp>();
      Value w = mul->getOperand(1 - i);
      if (!cat || axisOf(w) != r - 1)
        continue;
      int64_t ea = cat.getAxis() < 0 ? cat.getAxis() + r : cat.getAxis();
      if (!reducesAxis(sum, ea))
        continue;
      Value d = w.getDefiningOp<onnx::UnsqueezeOp>().getData();
      if (ea == 0 && r == 3) {
        // [E, T, H] times Unsqueeze(Transpose(D), -1).
        auto tr = d.getDefiningOp<onnx::TransposeOp>();
        if (!tr || tr.getPermutation() != ArrayRef<int64_t>{1, 0})
          continue;
        d = tr.getData();
      } else if (ea != r - 2) {
        continue;
      }
      stack = cat.getResult();
      dense = d;
    }
  } else if (auto ein = dyn_cast<onnx::EinsumOp>(anchor)) {
    bool denseFirst = false;
    if (ein.getInputs().size() != 2 || !isWeightedExpertSum(ein.getEquation(), denseFirst))
      return failure();
    dense = ein.getInputs()[denseFirst ? 0 : 1];
    stack = ein.getInputs()[denseFirst ? 1 : 0];
    auto cat = stack.getDefiningOp<onnx::ConcatOp>();
    int64_t r = rankOf(stack);
    if (!cat || (cat.getAxis() != r - 2 && cat.getAxis() != -2))
      return failure();
  }
  if (!stack)
    return failure();
  auto cat = stack.getDefiningOp<onnx::ConcatOp>();
  int64_t r = rankOf(stack);
  int64_t ea = cat.getAxis() < 0 ? cat.getAxis() + r : cat.getAxis();
  Value x;
  SmallVector<std::optional<ExpertFFN>> ffns;
  for (Value in : cat.getInputs()) {
    std::optional<ExpertFFN> ffn;
    if (axisOf(in) == ea)
      ffn = matchFFN(in.getDefiningOp<onnx::UnsqueezeOp>().getData());
    if (!ffn || (x && ffn->in != x))
      return failure();
    x = ffn->in;
    ffns.push_back(*ffn);
  }
  auto routing = denseRouting(dense, anchor, miss, /*batched=*/true);
  if (!routing)
    return failure();
  miss.at = anchor;
  auto gate = denseGate(*routing, miss, /*batched=*/true);
  if (failed(gate))
    return failure();
  miss.at = anchor;
  auto logitsT = cast<RankedTensorType>(gate->logits.getType());
  if (expertCount(*gate) != (int64_t)ffns.size()) {
    miss.reason = "the stacked expert outputs are not one per router expert";
    return failure();
  }
  if (!fitsTokens(*gate, x)) {
    miss.reason = unfitReason(*gate);
    return failure();
  }
  if (rankOf(x) != logitsT.getRank()) {
    miss.reason = "expert input is not shaped like the router scores";
    return failure();
  }
  Routed out;
  out.gate = *gate;
  out.x = x;
  OpBuilder b(anchor);
  auto ex = stackExperts(b, anchor->getLoc(), ffns, miss.reason);
  if (failed(ex))
    return failure();
  out.experts = *ex;
  return out;
}

/// Form A: a chain of ScatterElements(add, axis 0) from zeros, one per
/// expert: NonZero of the expert's OneHot mask row gives (slot, token)
/// pairs; the tokens' rows run through the expert FFN, scaled by their
/// routing weights, and are added into the output rows.
static FailureOr<Routed> matchOneHotNonZero(Operation *anchor, Miss &miss) {
  // The scatters, last first: a chain of ScatterElements(add) from zeros,
  // or torch's index_add_ export, acc = Add(acc, ScatterElements(zeros,
  // idx, updates)) (no reduction: each expert's tokens are distinct).
  SmallVector<ScatterLink> chain;
  Value cur = anchor->getResult(0);
  if (isa<onnx::ScatterElementsOp, onnx::ScatterNDOp>(anchor)) {
    while (true) {
      if (auto s = cur.getDefiningOp<onnx::ScatterElementsOp>()) {
        if (s.getReduction() != "add" || s.getAxis() != 0 || rankOf(cur) != 2)
          return failure();
        chain.push_back({s, s.getIndices(), s.getUpdates()});
        cur = s.getData();
        continue;
      }
      // The dynamo exporter's index_add_: ScatterND(add) with [n, 1] row
      // indices.
      if (auto s = cur.getDefiningOp<onnx::ScatterNDOp>()) {
        if (s.getReduction() != "add" || rankOf(cur) != 2 || rankOf(s.getIndices()) != 2)
          return failure();
        chain.push_back({s, s.getIndices(), s.getUpdates()});
        cur = s.getData();
        continue;
      }
      break;
    }
  } else if (isa<onnx::AddOp>(anchor)) {
    while (auto add = cur.getDefiningOp<onnx::AddOp>()) {
      onnx::ScatterElementsOp s;
      Value rest;
      for (int i = 0; i < 2; ++i)
        if (auto c = add->getOperand(i).getDefiningOp<onnx::ScatterElementsOp>();
            c && c.getReduction() == "none" && c.getAxis() == 0 && isZeroTensor(c.getData())) {
          s = c;
          rest = add->getOperand(1 - i);
          break;
        }
      if (!s || rankOf(cur) != 2)
        break;
      chain.push_back({s, s.getIndices(), s.getUpdates()});
      cur = rest;
    }
    if (chain.empty())
      return failure();
  } else {
    return failure();
  }
  SmallVector<BranchA> branches;
  Value x, oneHotIdx, weights;
  int64_t E = -1;
  bool equalMask = false; // the masks are Equal(idx, e): E is the router's
  bool wraps = false;      // OneHot masks: negative indices count from the end
  for (ScatterLink &s : chain) {
    // updates = FFN(Gather(x, tok)) * weight column (expanded to the
    // index shape by the index_add_ export)
    Value upd = s.updates;
    if (auto ex = upd.getDefiningOp<onnx::ExpandOp>())
      upd = ex.getInput();
    auto mul = upd.getDefiningOp<onnx::MulOp>();
    if (!mul)
      return failure();
    for (int i = 0; i < 2; ++i) {
      auto ffn = matchFFN(mul->getOperand(i));
      if (!ffn)
        continue;
      auto rowsOf = tokenRows(ffn->in);
      if (!rowsOf)
        continue;
      Value xIn = rowsOf->first, tok = rowsOf->second;
      // tok, slot = rows of NonZero(mask[e]).
      auto tokRow = nonZeroRow(tok);
      if (!tokRow)
        continue;
      auto nz = tokRow->nz.getDefiningOp<onnx::NonZeroOp>();
      if (!nz)
        continue;
      Value maskV = nz.getX();
      while (auto c = maskV.getDefiningOp<onnx::CastOp>())
        maskV = c.getInput();
      std::optional<OneHotMask> oh;
      int64_t expert = -1, tokenRow = 0;
      // A hand-written loop's mask, `torch.where(idx == e)` on the top-k
      // indices [T, k]: NonZero rows (token, slot); the depth is the
      // router's.
      auto eq = maskV.getDefiningOp<onnx::EqualOp>();
      std::optional<int64_t> e = eq ? constInt(eq.getB()) : std::nullopt;
      Value eqIdx = eq ? eq.getA() : Value();
      if (eq && !e) {
        e = constInt(eq.getA());
        eqIdx = eq.getB();
      }
      if (e && rankOf(eqIdx) == 2) {
        oh = OneHotMask{eqIdx, std::nullopt};
        expert = *e;
        equalMask = true;
      } else if (auto maskRow = gatherRow(maskV)) {
        auto tr = maskRow->first.getDefiningOp<onnx::TransposeOp>();
        // The [T, k, E] expert mask: OneHot(idx, E), or the dynamo export
        // of one_hot, Cast(Equal(Unsqueeze(idx, -1), arange(E))).
        oh = tr ? oneHotMask(tr.getData()) : std::nullopt;
        if (!oh)
          return failure();
        // OneHot is [T, k, E]; the mask row after the transpose is
        // [perm[1], perm[2]] of those: T at position 1 or 2 of perm.
        SmallVector<int64_t> perm(tr.getPermutation());
        if (perm.size() != 3 || perm[0] != 2)
          return failure();
        tokenRow = perm[1] == 0 ? 0 : 1;
        expert = maskRow->second;
        miss.at = anchor;
        if (!oh->depth) {
          miss.reason = "expert mask is not a 0/1 OneHot of constant depth";
          return failure();
        }
      } else {
        continue;
      }
      if (tokRow->row != tokenRow)
        return failure();
      // The other NonZero row is the slot.
      Value slot;
      if (auto trSplit = dyn_cast_or_null<onnx::TransposeOp>(tokRow->split)) {
        for (Operation *sl : trSplit->getUsers())
          for (Operation *user : sl->getUsers())
            if (auto r = nonZeroRow(user->getResult(0)); r && r->row == 1 - tokenRow)
              slot = user->getResult(0);
      } else if (tokRow->split) {
        for (Operation *user : tokRow->split->getResult(1 - tokenRow).getUsers())
          if (auto r = nonZeroRow(user->getResult(0)); r && r->row == 1 - tokenRow)
            slot = user->getResult(0);
      } else {
        for (Operation *user : nz->getUsers())
          if (auto r = gatherRow(user->getResult(0)); r && r->second == 1 - tokenRow)
            slot = user->getResult(0);
      }
      int64_t depth = oh->depth.value_or(-1);
      miss.at = anchor;
      if (!slot) {
        miss.reason = "cannot find the slot of each routed token";
        return failure();
      }
      int64_t k = cast<RankedTensorType>(oh->indices.getType()).getDimSize(1);
      Value w = routingWeightSource(mul->getOperand(1 - i), tok, slot, k);
      if (!w) {
        miss.reason = "expert outputs are scaled by something other than the routing "
                      "weight of their (token, slot)";
        return failure();
      }
      // The scatter indices must be the tokens broadcast over the row.
      Value index = s.indices;
      if (auto ex = index.getDefiningOp<onnx::ExpandOp>())
        index = ex.getInput();
      else if (auto tile = index.getDefiningOp<onnx::TileOp>())
        index = tile.getInput();
      auto un = index.getDefiningOp<onnx::UnsqueezeOp>();
      if (!un || un.getData() != tok) {
        miss.reason = "expert outputs are added to rows other than their tokens'";
        return failure();
      }
      if ((x && (x != xIn || oneHotIdx != oh->indices || weights != w || E != depth))) {
        miss.reason = "expert branches route different inputs";
        return failure();
      }
      x = xIn;
      oneHotIdx = oh->indices;
      wraps = oh->wraps;
      weights = w;
      E = depth;
      branches.push_back({expert, *ffn, Value(), tok, slot, w});
      break;
    }
  }
  if (branches.size() != chain.size() || branches.empty())
    return failure();
  miss.at = anchor;
  if (!isZeroTensor(cur)) {
    miss.reason = "expert outputs are added into a non-zero tensor";
    return failure();
  }
  auto gate = matchGate(weights, oneHotIdx, miss);
  // Any other gate stays outside the op. The expert count is the mask's
  // depth; Equal masks have none, so the experts are those up to the last
  // branch's (an index past them matches no branch and adds nothing, as it
  // adds nothing to the op).
  if (failed(gate)) {
    if (equalMask)
      for (BranchA &br : branches)
        E = std::max(E, br.expert + 1);
    gate = givenGate(weights, oneHotIdx, miss.reason, wraps, E);
  }
  if (failed(gate))
    return failure();
  miss.at = anchor;
  int64_t gateE = expertCount(*gate);
  if (equalMask && !ShapedType::isDynamic(gateE))
    E = gateE;
  if (gateE != E) {
    miss.reason = equalMask ? "the router's expert count is not static"
                            : "the expert mask's depth differs from the router's expert count";
    return failure();
  }
  SmallVector<std::optional<ExpertFFN>> ffns(E);
  for (BranchA &br : branches) {
    if (br.expert < 0 || br.expert >= E || ffns[br.expert]) {
      miss.reason = "expert branches do not map one-to-one onto experts";
      return failure();
    }
    ffns[br.expert] = br.ffn;
  }
  Routed r;
  r.gate = *gate;
  r.x = x;
  if (rankOf(x) != 2) {
    miss.reason = "expert input is not a [tokens, hidden] matrix";
    return failure();
  }
  if (!fitsTokens(*gate, x)) {
    // Not a given routing after all: the gate's own near miss, if any.
    miss.reason = unfitReason(*gate);
    return failure();
  }
  OpBuilder b(anchor);
  auto ex = stackExperts(b, anchor->getLoc(), ffns, miss.reason);
  if (failed(ex))
    return failure();
  r.experts = *ex;
  return r;
}

/// Adds the inner links of |anchor|'s Add tree or ScatterElements chain to
/// |covered|.
static void coveredChain(Operation *anchor, llvm::DenseSet<Operation *> &covered) {
  SmallVector<Operation *> work = {anchor};
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    for (Value v : op->getOperands())
      if (Operation *d = v.getDefiningOp();
          d && d->getName() == anchor->getName() && !isa<onnx::ReduceSumOp>(d) &&
          covered.insert(d).second)
        work.push_back(d);
  }
}

/// Columns [c0, c0 + n) of every row of a row-major [R, C] byte matrix.
static SmallVector<char> columns(ArrayRef<char> m, int64_t R, int64_t C, int64_t c0, int64_t n,
                                 int64_t elt) {
  SmallVector<char> out(R * n * elt);
  for (int64_t r = 0; r < R; ++r)
    std::memcpy(out.data() + r * n * elt, m.data() + (r * C + c0) * elt, n * elt);
  return out;
}

/// A row-major [R, C] byte matrix transposed to [C, R].
static SmallVector<char> transposedBytes(ArrayRef<char> m, int64_t R, int64_t C, int64_t elt) {
  SmallVector<char> out(m.size());
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c)
      std::memcpy(out.data() + (c * R + r) * elt, m.data() + (r * C + c) * elt, elt);
  return out;
}

/// Mixture of Hidden Dimensions: the down projection (MatMul, or Gemm) of an FFN whose
/// activation [T, F], viewed as [T, G, g] groups, is multiplied by a mask
/// [T, G] = Concat(ones [T, S], routed [T, G - S]) with the routed part a
/// (scaled) ScatterElements of ones or of routing weights at the top-k
/// groups. Becomes the shared groups as a dense FFN plus a sparsa.moe over
/// the routed groups (experts = column groups).
static FailureOr<Value> fuseMoHD(Operation *down, Miss &miss) {
  // The down projection: MatMul, or Gemm (torch's nn.Linear, transB, with
  // its bias) whose weight is transposed at compile time.
  Value A, W2, bias2;
  bool w2Transposed = false;
  if (auto mm = dyn_cast<onnx::MatMulOp>(down)) {
    A = mm.getA();
    W2 = mm.getB();
  } else if (auto gemm = dyn_cast<onnx::GemmOp>(down)) {
    if (gemm.getTransA() || gemm.getAlpha().convertToDouble() != 1.0 ||
        gemm.getBeta().convertToDouble() != 1.0 || (gemm.getC() && !isConstant(gemm.getC())))
      return failure();
    A = gemm.getA();
    W2 = gemm.getB();
    w2Transposed = gemm.getTransB();
    bias2 = gemm.getC();
  } else {
    return failure();
  }
  auto h2 = A.getDefiningOp<onnx::ReshapeOp>();
  if (!h2 || !isConstant(W2) || rankOf(W2) != 2 || rankOf(h2.getReshaped()) != 2)
    return failure();
  auto mul = h2.getData().getDefiningOp<onnx::MulOp>();
  if (!mul || rankOf(mul.getC()) != 3)
    return failure();
  onnx::ReshapeOp hg;
  Value mask3;
  for (int i = 0; i < 2; ++i)
    if (auto r = mul->getOperand(i).getDefiningOp<onnx::ReshapeOp>(); r && rankOf(r.getData()) == 2) {
      hg = r;
      mask3 = mul->getOperand(1 - i);
    }
  if (!hg)
    return failure();
  Operation *u = mask3.getDefiningOp();
  if (!u || !isa<onnx::UnsqueezeOp, onnx::ReshapeOp>(u) || rankOf(u->getOperand(0)) != 2)
    return failure();
  Value mask = u->getOperand(0);
  auto hgT = cast<RankedTensorType>(hg.getReshaped().getType());
  int64_t G = hgT.getDimSize(1), gsz = hgT.getDimSize(2);
  auto maskT = cast<RankedTensorType>(mask3.getType());
  if (ShapedType::isDynamic(G) || ShapedType::isDynamic(gsz) || maskT.getDimSize(1) != G ||
      maskT.getDimSize(2) != 1)
    return failure();
  // Shared groups first (always on), then the routed ones.
  int64_t S = 0;
  Value routed = mask;
  if (auto cat = mask.getDefiningOp<onnx::ConcatOp>()) {
    if (cat.getInputs().size() != 2 || (cat.getAxis() != 1 && cat.getAxis() != -1))
      return failure();
    Value ones = cat.getInputs()[0];
    miss.at = down;
    if (!isAllOnes(ones)) {
      miss.reason = "MoHD mask: the always-on groups are not a mask of ones";
      return failure();
    }
    S = cast<RankedTensorType>(ones.getType()).getDimSize(1);
    routed = cat.getInputs()[1];
  }
  double scale = 1.0;
  if (auto m = operandsWith<onnx::MulOp>(routed, [](Value v) { return bool(constFloat(v)); })) {
    scale = *constFloat(m->first);
    routed = m->second;
  }
  auto scatter = routed.getDefiningOp<onnx::ScatterElementsOp>();
  if (!scatter || scatter.getReduction() != "none" ||
      (scatter.getAxis() != 1 && scatter.getAxis() != -1) || !isZeroTensor(scatter.getData()))
    return failure();
  miss.at = down;
  // Routing weights: ones (a 0/1 group mask) or the gate's weights.
  Gate gate;
  Value upd = scatter.getUpdates();
  if (isAllOnes(upd)) {
    auto topk = scatter.getIndices().getDefiningOp<onnx::TopKOp>();
    if (!topk || topk.getIndices() != scatter.getIndices()) {
      miss.reason = "MoHD mask is not scattered at top-k indices";
      return failure();
    }
    std::optional<int64_t> k = expertTopK(topk, miss);
    if (!k)
      return failure();
    miss.at = down;
    gate.topk = topk;
    gate.k = *k;
    gate.gating = "none";
    Value scores = topk.getX();
    if (auto soft = scores.getDefiningOp<onnx::SoftmaxOp>())
      scores = soft.getInput();
    else if (auto sig = scores.getDefiningOp<onnx::SigmoidOp>())
      scores = sig.getX();
    gate.logits = scores;
  } else {
    auto g = matchGate(upd, scatter.getIndices(), miss);
    // Any other gate: its weights and indices as a given routing (the
    // scatter reads negative indices from the end).
    if (failed(g))
      g = givenGate(upd, scatter.getIndices(), miss.reason, /*wrapsNegative=*/true, G - S);
    if (failed(g))
      return failure();
    gate = *g;
  }
  gate.scaling *= scale;
  // The FFN up to the activation.
  Value h;
  StringRef act = matchActivation(hg.getData(), h);
  if (act == "threshold" || act == "abs_threshold" || act == "relu2") {
    miss.reason = act == "relu2" ? "squared ReLU activations in MoHD are not supported"
                                 : "threshold (FATReLU, CATS) activations in MoHD are not "
                                   "supported";
    return failure();
  }
  auto p1 = matchProjection(h);
  if (!p1 || !isConstant(p1->weight) || p1->einsum || rankOf(p1->weight) != 2 ||
      rankOf(p1->in) != 2) {
    miss.reason = "MoHD up projection is not a constant [H, F] MatMul or Gemm";
    return failure();
  }
  auto w1T = cast<RankedTensorType>(p1->weight.getType());
  auto w2T = cast<RankedTensorType>(W2.getType());
  // [H, F] and [F, H] as laid out (Gemm transB: [F, H] and [H, F]).
  int64_t H = w1T.getDimSize(p1->transposed ? 1 : 0), F = w1T.getDimSize(p1->transposed ? 0 : 1);
  Type elt = w1T.getElementType();
  if (!elt.isIntOrFloat() || elt.getIntOrFloatBitWidth() % 8)
    return failure();
  int64_t eb = elt.getIntOrFloatBitWidth() / 8;
  int64_t E = G - S;
  int64_t gateE = expertCount(gate);
  if (F != G * gsz || w2T.getDimSize(w2Transposed ? 1 : 0) != F ||
      w2T.getDimSize(w2Transposed ? 0 : 1) != H || gateE != E) {
    miss.reason = "MoHD groups do not tile the hidden dimension, or the router does "
                  "not score the routed groups";
    return failure();
  }
  auto w1b = constantBytes(p1->weight), w2b = constantBytes(W2);
  if (succeeded(w1b) && p1->transposed)
    w1b = transposedBytes(*w1b, F, H, eb);
  if (succeeded(w2b) && w2Transposed)
    w2b = transposedBytes(*w2b, H, F, eb);
  FailureOr<SmallVector<char>> b1b = p1->bias ? constantBytes(p1->bias)
                                              : FailureOr<SmallVector<char>>(SmallVector<char>());
  if (failed(w1b) || failed(w2b) || failed(b1b) || (p1->bias && (int64_t)b1b->size() != F * eb)) {
    miss.reason = "MoHD weights are not byte-addressable constants";
    return failure();
  }
  OpBuilder b(down);
  Location loc = down->getLoc();
  // Routed groups: experts [E, H, g], [E, g, H], [E, g].
  SmallVector<char> w1s, w2s(w2b->begin() + S * gsz * H * eb, w2b->end());
  for (int64_t e = 0; e < E; ++e) {
    SmallVector<char> cols = columns(*w1b, H, F, (S + e) * gsz, gsz, eb);
    w1s.append(cols.begin(), cols.end());
  }
  Value x = p1->in;
  if (!fitsTokens(gate, x)) {
    miss.reason = unfitReason(gate);
    return failure();
  }
  MoESpec m;
  m.x = x;
  m.logits = gate.logits;
  if (gate.indices)
    m.indices = gate.wrapsNegative ? wrapNegative(b, loc, gate.indices, E) : gate.indices;
  m.w1 = bytesConstant(b, loc, RankedTensorType::get({E, H, gsz}, elt), w1s);
  m.w2 = bytesConstant(b, loc, RankedTensorType::get({E, gsz, H}, elt), w2s);
  if (p1->bias)
    m.b1 = bytesConstant(b, loc, RankedTensorType::get({E, gsz}, elt),
                         ArrayRef<char>(*b1b).drop_front(S * gsz * eb));
  m.k = gate.k;
  m.gating = gate.gating;
  m.normalize = gate.normalize;
  m.scaling = gate.scaling;
  m.act = act;
  sp::MoEOp moe = buildMoE(b, loc, m);
  if (gate.indices)
    sparsa::markFusionNote(moe, "routing", givenNote(gate));
  Value result = moe.getResult();
  if (S > 0) {
    // Shared groups: a dense FFN over the first S * g columns.
    int64_t Fs = S * gsz;
    auto xT = cast<RankedTensorType>(x.getType());
    auto hT = RankedTensorType::get({xT.getDimSize(0), Fs}, elt);
    Value ws1 = bytesConstant(b, loc, RankedTensorType::get({H, Fs}, elt),
                              columns(*w1b, H, F, 0, Fs, eb));
    Value ws2 = bytesConstant(b, loc, RankedTensorType::get({Fs, H}, elt),
                              ArrayRef<char>(*w2b).take_front(Fs * H * eb));
    Value hs = onnx::MatMulOp::create(b, loc, hT, x, ws1);
    if (p1->bias)
      hs = onnx::AddOp::create(
          b, loc, hT, hs,
          bytesConstant(b, loc, RankedTensorType::get({Fs}, elt),
                        ArrayRef<char>(*b1b).take_front(Fs * eb)));
    hs = emitActivation(b, loc, act, hs);
    Value ys = onnx::MatMulOp::create(b, loc, x.getType(), hs, ws2);
    result = onnx::AddOp::create(b, loc, x.getType(), ys, result);
  }
  if (bias2)
    result = onnx::AddOp::create(b, loc, x.getType(), result, bias2);
  Type downType = down->getResult(0).getType();
  if (result.getType() != downType)
    result = onnx::IdentityOp::create(b, loc, downType, result);
  down->getResult(0).replaceAllUsesWith(result);
  return result;
}

namespace {
struct FuseRoutingPass final : sparsa::impl::FuseRoutingPassBase<FuseRoutingPass> {
  using FuseRoutingPassBase::FuseRoutingPassBase;

  void runOnOperation() override {
    // Fused gate_up projections (a Split of the output) as two.
    splitPackedProjections(getOperation());
    SmallVector<onnx::MoEOp> msMoE;
    getOperation().walk([&](onnx::MoEOp op) { msMoE.push_back(op); });
    for (onnx::MoEOp op : msMoE)
      (void)fuseMicrosoftMoE(op);

    // Graph forms, anchored at the op producing the combined output; the
    // last candidates first, so an Add chain fuses whole.
    SmallVector<Operation *> anchors;
    getOperation().walk([&](Operation *op) {
      if (isa<onnx::AddOp, onnx::MulOp, onnx::ReduceSumOp, onnx::ScatterElementsOp,
              onnx::ScatterNDOp, onnx::MatMulOp, onnx::GemmOp, onnx::EinsumOp>(op))
        anchors.push_back(op);
    });
    llvm::DenseSet<Operation *> erased;
    for (Operation *anchor : llvm::reverse(anchors)) {
      if (erased.contains(anchor))
        continue;
      Miss miss;
      if (isa<onnx::MatMulOp, onnx::GemmOp>(anchor)) {
        if (succeeded(fuseMoHD(anchor, miss)))
          eraseDeadProducers(anchor, erased);
        else if (!miss.reason.empty())
          markUnfused(miss.at ? miss.at : anchor, "routing", miss.reason);
        continue;
      }
      FailureOr<Routed> r = failure();
      for (auto matcher : {matchOneHotNonZero, matchEqualMaskChain, matchDenseMasked,
                           matchStackedOutputs, matchGatherByIndex, matchRepeatedTokens}) {
        r = matcher(anchor, miss);
        if (succeeded(r) || !miss.reason.empty())
          break;
      }
      if (failed(r)) {
        if (!miss.reason.empty()) {
          markUnfused(miss.at ? miss.at : anchor, "routing", miss.reason);
          // The rest of a recognized chain is not a candidate of its own.
          coveredChain(anchor, erased);
        }
        continue;
      }
      eraseDeadProducers(emitMoE(anchor, *r), erased);
    }
    SmallVector<onnx::QMoEOp> msQMoE;
    getOperation().walk([&](onnx::QMoEOp op) { msQMoE.push_back(op); });
    for (onnx::QMoEOp op : msQMoE)
      (void)fuseMicrosoftQMoE(op);
  }
};
} // namespace
