//===- FuseAttention.cpp - softmax attention -> sparsa.attention -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Kernel fusion for dense softmax attention. The chain
//
//   MatMul(Softmax(scale * MatMul(q, k^T) [+ mask], axis = -1), v)
//
// becomes one sparsa.attention, whatever way the exporter spelled the
// transpose and the scale, so that its lowering never writes the Lq x Lk
// scores to memory. Not a sparsity family: nothing is skipped, so the
// report does not count it.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "OnnxPatterns.h"

#include <cmath>
#include <limits>
#include <variant>


namespace sparsa {
#define GEN_PASS_DEF_FUSEATTENTIONPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
using namespace sparsa::patterns;
namespace sp = sparsa::sparsa;

/// Whether |v| exists and nothing but the chain reads it.
static bool onlyUse(Value v) { return v && v.hasOneUse(); }

/// |v| = Mul(x, c) or Mul(c, x) with |c| a scalar known at compile time:
/// returns x and multiplies |scale| by c; otherwise |v| unchanged.
static Value peelScalarMul(Value v, double &scale) {
  auto mul = v.getDefiningOp<onnx::MulOp>();
  if (!mul || !onlyUse(v))
    return v;
  for (auto [x, c] : {std::pair(mul.getA(), mul.getB()), std::pair(mul.getB(), mul.getA())})
    if (std::optional<double> f = scalarValue(c); f && rankOf(x) == rankOf(v)) {
      scale *= *f;
      return x;
    }
  return v;
}

/// GPT-OSS's attention sinks around the softmax: |sl| = Slice(p, [0], [-1],
/// [last]) (the real keys' probabilities, the sink column dropped) of
/// p = Softmax(Concat([scores, Expand(sink)], last) [- ReduceMax(that,
/// last, keepdims)]) over the last axis, used only by the slice; the sink
/// [..., 1, 1] with static dims (Reshape(sinks, [1, heads, 1, 1])).
namespace {
struct SinkSoftmax {
  Value scores, sinks;
};
} // namespace
static std::optional<SinkSoftmax> sinkSoftmax(onnx::SliceOp sl, int64_t rank) {
  auto ints = [](Value v) {
    return v ? onnx::getConstantI64Values(v) : FailureOr<SmallVector<int64_t>>(failure());
  };
  auto lastAxis = [&](int64_t a) { return a == -1 || a == rank - 1; };
  auto starts = ints(sl.getStarts()), ends = ints(sl.getEnds()), axes = ints(sl.getAxes());
  if (failed(starts) || failed(ends) || failed(axes) || *starts != SmallVector<int64_t>{0} ||
      *ends != SmallVector<int64_t>{-1} || axes->size() != 1 || !lastAxis((*axes)[0]))
    return std::nullopt;
  if (sl.getSteps()) {
    auto steps = ints(sl.getSteps());
    if (failed(steps) || *steps != SmallVector<int64_t>{1})
      return std::nullopt;
  }
  auto sm = sl.getData().getDefiningOp<onnx::SoftmaxOp>();
  if (!sm || !onlyUse(sl.getData()) || !lastAxis(sm.getAxis()))
    return std::nullopt;
  Value in = sm.getInput();
  if (auto sub = in.getDefiningOp<onnx::SubOp>()) {
    // Less the row max: softmax's own shift, which changes nothing.
    auto rm = sub.getB().getDefiningOp<onnx::ReduceMaxOp>();
    if (!rm || rm.getData() != sub.getA() || !reducesAxis(rm, -1) || !rm.getKeepdims())
      return std::nullopt;
    in = sub.getA();
  }
  auto cat = in.getDefiningOp<onnx::ConcatOp>();
  if (!cat || cat.getInputs().size() != 2 || !lastAxis(cat.getAxis()))
    return std::nullopt;
  Value column = cat.getInputs()[1];
  if (auto ex = column.getDefiningOp<onnx::ExpandOp>())
    column = ex.getInput();
  auto t = dyn_cast<RankedTensorType>(column.getType());
  if (!t || t.getRank() != rank || !t.hasStaticShape() || t.getDimSize(rank - 1) != 1 ||
      t.getDimSize(rank - 2) != 1)
    return std::nullopt;
  return SinkSoftmax{cat.getInputs()[0], column};
}

/// The value every entry of the i64 tensor |v| holds, when known at
/// compile time: a constant, a ConstantOfShape, or a Mul of such (how
/// TorchScript writes a tensor of -1s: ConstantOfShape(1) * -1).
static std::optional<int64_t> filledI64(Value v, int depth = 0) {
  if (depth > 4)
    return std::nullopt;
  if (auto vals = onnx::getConstantI64Values(v); succeeded(vals) && !vals->empty()) {
    if (llvm::all_equal(*vals))
      return vals->front();
    return std::nullopt;
  }
  if (v.getDefiningOp<onnx::ConstantOfShapeOp>()) {
    for (int64_t c : {1, -1, 0})
      if (isFilledWith(v, [c](double x) { return x == double(c); }))
        return c;
    return std::nullopt;
  }
  if (auto mul = v.getDefiningOp<onnx::MulOp>()) {
    std::optional<int64_t> a = filledI64(mul.getA(), depth + 1),
                           b = filledI64(mul.getB(), depth + 1);
    if (a && b)
      return *a * *b;
  }
  return std::nullopt;
}

/// The one-element entries of a 1-D shape operand: the inputs of its
/// Concat, or its constant values; empty otherwise. TorchScript writes
/// Expand's shape as Where(Equal(s, -1), 1, s): s's entries (sizes are
/// never -1; an entry s has as -1 is read as the constant -1, which no
/// proof accepts for Expand).
static SmallVector<std::variant<int64_t, Value>> shapeEntries(Value shape, int64_t rank) {
  SmallVector<std::variant<int64_t, Value>> out;
  // A 1-D Reshape of a 1-D shape changes nothing.
  auto flat = [](Value v) {
    while (auto r = v.getDefiningOp<onnx::ReshapeOp>())
      if (rankOf(r.getData()) == 1 && rankOf(v) == 1)
        v = r.getData();
      else
        break;
    return v;
  };
  shape = flat(shape);
  // -1 entries replaced by 1: the other entries are s's.
  if (auto w = shape.getDefiningOp<onnx::WhereOp>())
    if (auto eq = w.getCondition().getDefiningOp<onnx::EqualOp>();
        eq && flat(eq.getA()) == flat(w.getY()) &&
        filledI64(eq.getB()) == std::optional<int64_t>(-1) &&
        filledI64(w.getX()) == std::optional<int64_t>(1))
      shape = flat(w.getY());
  if (auto vals = onnx::getConstantI64Values(shape); succeeded(vals)) {
    if ((int64_t)vals->size() == rank)
      out.assign(vals->begin(), vals->end());
    return out;
  }
  auto cat = shape.getDefiningOp<onnx::ConcatOp>();
  if (!cat)
    return out;
  for (Value piece : cat.getInputs()) {
    if (auto vals = onnx::getConstantI64Values(piece); succeeded(vals))
      out.append(vals->begin(), vals->end());
    else if (auto t = dyn_cast<RankedTensorType>(piece.getType());
             t && t.getRank() == 1 && t.getDimSize(0) == 1)
      out.push_back(piece);
    else
      return {};
  }
  if ((int64_t)out.size() != rank)
    out.clear();
  return out;
}

/// transformers' `repeat_kv` (grouped-query attention): |t| =
/// Reshape(Expand(Unsqueeze(x, [2]), [B, Hkv, n, L, D]), [B, Hkv * n, L,
/// D]) with x [B, Hkv, L, D], Hkv, D and the result's heads static:
/// returns x, which the op reads once (query head h reads key / value head
/// h / n) instead of the n copies. The Expand's sizes must provably be
/// x's with the constant n on the new axis, and the Reshape's batch and
/// positions x's (x's own Shape entries, or constants equal to its static
/// sizes; 1 in the Expand's shape, a single -1 or a 0 copying the batch in
/// the Reshape's): the types alone cannot tell [B, H, L, D] from, say,
/// [1, H, B * L, D].
static Value peelRepeatKV(Value t) {
  auto reshape = t.getDefiningOp<onnx::ReshapeOp>();
  auto expand = reshape ? reshape.getData().getDefiningOp<onnx::ExpandOp>() : nullptr;
  auto unsq = expand ? expand.getInput().getDefiningOp<onnx::UnsqueezeOp>() : nullptr;
  if (!unsq)
    return t;
  Value x = unsq.getData();
  auto xt = dyn_cast<RankedTensorType>(x.getType());
  auto et = dyn_cast<RankedTensorType>(expand.getType());
  auto rt = dyn_cast<RankedTensorType>(t.getType());
  auto axes = onnx::getConstantI64Values(unsq.getAxes());
  if (!xt || !et || !rt || xt.getRank() != 4 || et.getRank() != 5 || rt.getRank() != 4 ||
      failed(axes) || axes->size() != 1 || ((*axes)[0] != 2 && (*axes)[0] != -3))
    return t;
  int64_t hkv = xt.getDimSize(1), h = rt.getDimSize(1), d = xt.getDimSize(3);
  if (ShapedType::isDynamic(hkv) || ShapedType::isDynamic(h) || ShapedType::isDynamic(d) ||
      hkv < 1 || h <= hkv || h % hkv != 0 || rt.getDimSize(3) != d ||
      !(et.getDimSize(2) == ShapedType::kDynamic || et.getDimSize(2) == h / hkv))
    return t;
  // Whether |e| is provably x's size along dim |j|.
  auto isXSize = [&](const std::variant<int64_t, Value> &e, int64_t j) {
    if (auto *c = std::get_if<int64_t>(&e))
      return !xt.isDynamicDim(j) && *c == xt.getDimSize(j);
    auto entry = shapeEntry(std::get<Value>(e));
    if (!entry)
      return false;
    auto [src, dim] = *entry;
    // x's own, or read from the unsqueezed / expanded tensor (where x's
    // dims 0, 1, 2, 3 are 0, 1, 3, 4).
    return (src == x && dim == j) ||
           ((src == unsq.getResult() || src == expand.getResult()) && dim == (j < 2 ? j : j + 1));
  };
  auto isConst = [](const std::variant<int64_t, Value> &e, int64_t c) {
    auto *v = std::get_if<int64_t>(&e);
    return v && *v == c;
  };
  // The Expand broadcasts the new axis only, to n = H / Hkv copies: the
  // other sizes x's (or 1, which keeps x's).
  auto ex = shapeEntries(expand.getShape(), 5);
  auto keeps = [&](int64_t e, int64_t j) { return isConst(ex[e], 1) || isXSize(ex[e], j); };
  if (ex.size() != 5 || !keeps(0, 0) || !keeps(1, 1) || !isConst(ex[2], h / hkv) ||
      !keeps(3, 2) || !keeps(4, 3))
    return t;
  // The Reshape merges kv heads and copies: batch and positions x's.
  auto rs = shapeEntries(reshape.getShape(), 4);
  if (rs.size() != 4)
    return t;
  bool allowZero = reshape.getAllowzero() != 0;
  int inferred = 0;
  for (const auto &e : rs)
    inferred += isConst(e, -1);
  if (inferred > 1)
    return t;
  bool batch = isXSize(rs[0], 0) || (!allowZero && isConst(rs[0], 0)) ||
               (isConst(rs[0], -1) && isXSize(rs[2], 2));
  bool positions = isXSize(rs[2], 2) || (isConst(rs[2], -1) && batch);
  if (!batch || !positions)
    return t;
  return x;
}

/// Fuses the attention chain ending in |root| (the MatMul by v); returns
/// whether it did.
static bool fuseAttention(onnx::MatMulOp root) {
  Value probs = root.getA(), v = root.getB();
  // The dynamo exporter's guard `Where(IsNaN(p), 0, p)` on the
  // probabilities: a row with every key masked by -inf gives zeros.
  bool nanRowsZero = false;
  if (auto where = probs.getDefiningOp<onnx::WhereOp>(); where && onlyUse(probs)) {
    auto isNaN = where.getCondition().getDefiningOp<onnx::IsNaNOp>();
    std::optional<double> fill = constFloat(where.getX());
    if (!isNaN || isNaN.getX() != where.getY() || !fill || *fill != 0.0 ||
        rankOf(where.getX()) > 1 || !onlyUse(where.getCondition()))
      return false;
    probs = where.getY();
    nanRowsZero = true;
    if (!probs.getDefiningOp<onnx::SoftmaxOp>() ||
        llvm::range_size(probs.getUsers()) != 2)
      return false;
  } else if (!onlyUse(probs)) {
    return false;
  }
  int64_t rank = rankOf(probs);
  if (rank < 2 || rankOf(v) != rank)
    return false;
  // Scores [+ mask] into the softmax (with GPT-OSS's sinks, the scores
  // Concat-ed with them): the mask is whichever Add operand is not the
  // scaled product.
  Value x, mask, sinks;
  if (auto sl = probs.getDefiningOp<onnx::SliceOp>()) {
    auto sink = sinkSoftmax(sl, rank);
    if (!sink)
      return false;
    x = sink->scores;
    sinks = sink->sinks;
  } else {
    auto softmax = probs.getDefiningOp<onnx::SoftmaxOp>();
    if (!softmax || (softmax.getAxis() != -1 && softmax.getAxis() != rank - 1))
      return false;
    x = softmax.getInput();
  }
  double scale = 1.0;
  auto scaled = [&](Value s) -> Value {
    if (!onlyUse(s))
      return nullptr;
    if (auto div = s.getDefiningOp<onnx::DivOp>()) {
      std::optional<double> d = scalarValue(div.getB());
      if (!d || *d == 0.0 || rankOf(div.getA()) != rank)
        return nullptr;
      scale /= *d;
      s = div.getA();
    } else {
      s = peelScalarMul(s, scale);
    }
    auto mm = s.getDefiningOp<onnx::MatMulOp>();
    return mm && onlyUse(s) && rankOf(mm.getA()) == rank && rankOf(mm.getB()) == rank
               ? s
               : nullptr;
  };
  Value product = nullptr;
  // masked_fill(cond, -inf): Where(cond, -inf, scores) (or the kept side
  // first, Where(keep, scores, -inf)) is scores + Where(cond, -inf, 0).
  Value fillCond;
  bool fillWhenTrue = true;
  if (auto where = x.getDefiningOp<onnx::WhereOp>(); where && onlyUse(x)) {
    auto isNegInf = [](Value c) {
      std::optional<double> f = constFloat(c);
      return f && std::isinf(*f) && *f < 0 && rankOf(c) <= 1;
    };
    if (isNegInf(where.getX()) && (product = scaled(where.getY())))
      fillCond = where.getCondition();
    else if (isNegInf(where.getY()) && (product = scaled(where.getX())))
      fillCond = where.getCondition(), fillWhenTrue = false;
    else
      return false;
    if (rankOf(fillCond) < 0 || rankOf(fillCond) > rank)
      return false;
  } else if (auto add = x.getDefiningOp<onnx::AddOp>(); add && onlyUse(x)) {
    double before = scale;
    if ((product = scaled(add.getA())))
      mask = add.getB();
    else if (scale = before; (product = scaled(add.getB())))
      mask = add.getA();
    else
      return false;
    if (rankOf(mask) < 0 || rankOf(mask) > rank)
      return false;
  } else if (!(product = scaled(x))) {
    return false;
  }
  auto qk = product.getDefiningOp<onnx::MatMulOp>();
  Value q = peelScalarMul(qk.getA(), scale);
  Value kt = peelScalarMul(qk.getB(), scale);
  Value key = kt;
  bool keyTransposed = true;
  if (auto tr = kt.getDefiningOp<onnx::TransposeOp>();
      tr && swapsLastTwo(tr.getPerm(), rank)) {
    key = tr.getData();
    keyTransposed = false;
  }
  // Grouped-query attention: K and V as the kv heads, not their copies.
  if (!keyTransposed)
    key = peelRepeatKV(key);
  v = peelRepeatKV(v);
  for (Value t : {q, key, v, mask, sinks})
    if (t && !getElementTypeOrSelf(t.getType()).isF32())
      return false;

  OpBuilder b(root);
  if (fillCond) {
    // The additive mask of the masked_fill: 0 where kept, -inf where filled.
    Location loc = x.getLoc();
    auto scalar = RankedTensorType::get({}, b.getF32Type());
    float ninf = -std::numeric_limits<float>::infinity(), zero = 0.0f;
    auto bytes = [](const float &f) {
      return ArrayRef<char>(reinterpret_cast<const char *>(&f), sizeof(float));
    };
    Value inf = bytesConstant(b, loc, scalar, bytes(ninf));
    Value zer = bytesConstant(b, loc, scalar, bytes(zero));
    auto ct = cast<RankedTensorType>(fillCond.getType());
    auto mt = RankedTensorType::get(ct.getShape(), b.getF32Type());
    mask = onnx::WhereOp::create(b, loc, mt, fillCond, fillWhenTrue ? inf : zer,
                                 fillWhenTrue ? zer : inf);
  }
  if (sinks) {
    // The [..., 1, 1] sink logits as the query's leading dims.
    auto st = cast<RankedTensorType>(sinks.getType());
    auto lt = RankedTensorType::get(st.getShape().drop_back(2), st.getElementType());
    auto shapeT = RankedTensorType::get({lt.getRank()}, b.getI64Type());
    Value shape = onnx::ConstantOp::create(
        b, root.getLoc(), shapeT,
        DenseIntElementsAttr::get(shapeT, ArrayRef<int64_t>(lt.getShape())));
    sinks = onnx::ReshapeOp::create(b, root.getLoc(), lt, sinks, shape);
  }
  auto op = sp::AttentionOp::create(b, root.getLoc(), root.getType(), q, key, v, mask, sinks,
                                    b.getF64FloatAttr(scale),
                                    keyTransposed ? b.getUnitAttr() : UnitAttr(),
                                    nanRowsZero ? b.getUnitAttr() : UnitAttr());
  if (!verifiesQuietly(op)) {
    op.erase();
    return false;
  }
  root.getResult().replaceAllUsesWith(op.getResult());
  return true;
}

namespace {
struct FuseAttentionPass final : sparsa::impl::FuseAttentionPassBase<FuseAttentionPass> {
  using FuseAttentionPassBase::FuseAttentionPassBase;

  void runOnOperation() override {
    SmallVector<onnx::MatMulOp> roots;
    getOperation().walk([&](onnx::MatMulOp op) { roots.push_back(op); });
    llvm::DenseSet<Operation *> erased;
    for (onnx::MatMulOp root : llvm::reverse(roots))
      if (!erased.contains(root) && fuseAttention(root))
        eraseDeadProducers(root, erased);
  }
};
} // namespace
