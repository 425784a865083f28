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
