//===- FuseFlowAttention.cpp - flow / linear attention fusion --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The flow attention family: Flowformer's Flow-Attention (non-causal and
// causal) and kernelized linear attention, as exporters write them, become
// sparsa.flow_attention / sparsa.linear_attention, whose lowering runs in
// time linear in the sequence length.
//
// The graphs are long (Flow-Attention is about forty nodes) and every
// exporter spells the pieces differently, so the matcher works on meanings,
// not node sequences: each helper recognizes one quantity of the formula
// (a feature map, a sum over positions, a prefix sum, a per-row dot
// product, a per-row scaling, a reciprocal) in all its spellings (Einsum,
// MatMul, ReduceSum of a Mul; CumSum or a product with a lower-triangular
// ones matrix; Div or Reciprocal; keepdims or Unsqueeze), looking through
// reshapes that only add or drop unit dims. The top-level matchers then
// state the formulas of shared/PATTERNS.md in those terms. A candidate that
// has the shape of one (a product of feature-mapped queries and keys) but
// fails a term is reported with the term that failed.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "OnnxPatterns.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cmath>
#include <cstring>

namespace sparsa {
#define GEN_PASS_DEF_FUSEFLOWATTENTIONPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
using namespace sparsa::patterns;
namespace sp = sparsa::sparsa;

static constexpr llvm::StringLiteral kFamily = "flow_attention";

namespace {

/// The quantities a match has bound so far, and why it failed.
struct Match {
  Value q, k, v;         // raw queries, keys (before the feature map), values
  std::string map;       // feature map
  std::optional<double> eps;
  bool causal = false;
  int64_t rank = 0;      // of the attention's inputs and result
  std::string why;       // the first term that did not match

  /// Whether some alternative reached a product of feature-mapped keys
  /// (a candidate worth a reason), and the first failure after that.
  bool reached = false;
  std::string candidateWhy;

  /// Back to |saved| after a failed alternative, keeping the reasons.
  void restore(const Match &saved) {
    Match failed = std::move(*this);
    *this = saved;
    if (why.empty())
      why = failed.why;
    reached |= failed.reached;
    if (candidateWhy.empty())
      candidateWhy = failed.candidateWhy;
  }
  bool fail(StringRef reason) {
    if (why.empty())
      why = reason.str();
    if (reached && candidateWhy.empty())
      candidateWhy = reason.str();
    return false;
  }
};

/// |v| through ops that only add or remove unit dims (Unsqueeze, Squeeze,
/// Reshape, Flatten-free), Identity and same-type Casts.
Value strip(Value v) {
  while (v) {
    Operation *def = v.getDefiningOp();
    if (!def)
      return v;
    if (isa<onnx::IdentityOp>(def)) {
      v = def->getOperand(0);
      continue;
    }
    if (auto cast = dyn_cast<onnx::CastOp>(def)) {
      if (getElementTypeOrSelf(cast.getInput().getType()) == getElementTypeOrSelf(v.getType())) {
        v = cast.getInput();
        continue;
      }
      return v;
    }
    if (!isa<onnx::UnsqueezeOp, onnx::SqueezeOp, onnx::ReshapeOp>(def))
      return v;
    auto st = dyn_cast<RankedTensorType>(def->getOperand(0).getType());
    auto vt = dyn_cast<RankedTensorType>(v.getType());
    if (!st || !vt)
      return v;
    // Unsqueeze and Squeeze only move unit dims; a Reshape must be seen to.
    if (isa<onnx::ReshapeOp>(def) &&
        (nonUnitDims(st) != nonUnitDims(vt) ||
         llvm::count(st.getShape(), ShapedType::kDynamic) > 1))
      return v;
    v = def->getOperand(0);
  }
  return v;
}

/// The two operands of a binary op of type OpTy at |v| (stripped), in both
/// orders.
template <typename OpTy>
SmallVector<std::pair<Value, Value>, 2> operandsOf(Value v) {
  auto op = strip(v).getDefiningOp<OpTy>();
  if (!op)
    return {};
  Value a = strip(op->getOperand(0)), b = strip(op->getOperand(1));
  return {{a, b}, {b, a}};
}

/// Whether |v| is Trilu(all ones) keeping j - i <= k (lower) or >= k
/// (upper), looking through Casts (a bool or float mask).
bool isTriluOfOnes(Value v, bool upper, int64_t k) {
  v = strip(v);
  while (auto c = v.getDefiningOp<onnx::CastOp>())
    v = strip(c.getInput());
  auto t = v.getDefiningOp<onnx::TriluOp>();
  if (!t || (t.getUpper() != 0) != upper)
    return false;
  std::optional<int64_t> kv = t.getK() ? constInt(t.getK()) : std::optional<int64_t>(0);
  return kv && *kv == k && isAllOnes(strip(t.getInput()));
}

/// Whether |a| and |b| compute the same value: the same SSA value, equal
/// one-element constants, or the same pure op (name, attributes) on
/// operands that are the same in turn (an exporter that writes
/// `Shape -> Gather` once per use of the length).
bool sameValue(Value a, Value b, int depth = 0) {
  if (a == b)
    return true;
  if (!a || !b || a.getType() != b.getType() || depth > 8)
    return false;
  if (std::optional<double> x = scalarValue(a))
    return x == scalarValue(b);
  Operation *da = a.getDefiningOp(), *db = b.getDefiningOp();
  if (!da || !db || da->getName() != db->getName() || !isPure(da) ||
      da->getAttrDictionary() != db->getAttrDictionary() ||
      da->getNumOperands() != db->getNumOperands() ||
      da->getNumResults() != db->getNumResults() ||
      cast<OpResult>(a).getResultNumber() != cast<OpResult>(b).getResultNumber())
    return false;
  for (auto [x, y] : llvm::zip(da->getOperands(), db->getOperands()))
    if (!sameValue(x, y, depth + 1))
      return false;
  return true;
}

/// A vector of positions placed on one axis of an L x L mask, as exporters
/// build causal masks at run time: `Range(start, limit, delta)` (delta a
/// positive constant) that broadcasts along the rows (rank 1, or unit dims
/// before it: a column index j) or along the columns (`Unsqueeze(r, -1)`,
/// `Reshape(r, [-1, 1])`: a row index i), through Casts.
struct Positions {
  onnx::RangeOp range;
  bool row = false; // i (varies along axis -2) rather than j (axis -1)
};

std::optional<Positions> positions(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() < 1)
    return std::nullopt;
  // Exactly one dim that is not statically 1 says which axis it is on.
  int64_t r = type.getRank(), axis = -1;
  for (int64_t d = 0; d < r; ++d)
    if (type.getDimSize(d) != 1) {
      if (axis >= 0)
        return std::nullopt;
      axis = d;
    }
  if (axis < 0 || axis < r - 2)
    return std::nullopt;
  Positions p;
  p.row = axis == r - 2;
  // Back to the Range through ops that keep the order of its elements.
  while (Operation *def = v.getDefiningOp()) {
    if (auto range = dyn_cast<onnx::RangeOp>(def)) {
      std::optional<double> delta = scalarValue(range.getDelta());
      if (!delta || *delta <= 0)
        return std::nullopt;
      p.range = range;
      return p;
    }
    if (auto c = dyn_cast<onnx::CastOp>(def)) {
      // Integer positions may become floats, not the other way round.
      Type from = getElementTypeOrSelf(c.getInput().getType());
      if (!isa<IntegerType>(from) && !isa<FloatType>(getElementTypeOrSelf(v.getType())))
        return std::nullopt;
    } else if (!isa<onnx::IdentityOp, onnx::UnsqueezeOp, onnx::SqueezeOp, onnx::ReshapeOp>(def)) {
      return std::nullopt;
    }
    // Each of these keeps the element order; the dims were checked above
    // on the final value (one non-unit dim), so no Reshape folds two.
    v = def->getOperand(0);
  }
  return std::nullopt;
}

/// Which triangle of an L x L mask a comparison of positions marks (in
/// any spelling of matchComparison): `i >= j` (GreaterOrEqual(i, j),
/// LessOrEqual(j, i), Not(Less(i, j)), ...) the lower triangle with the
/// diagonal; `j > i` the positions above the diagonal. Both sides must be
/// the same Range.
enum class Triangle { None, Lower, StrictlyUpper };

Triangle rangeTriangle(Value v) {
  v = strip(v);
  while (auto c = v.getDefiningOp<onnx::CastOp>())
    v = strip(c.getInput());
  // As `hi > lo` (or `hi >= lo`).
  Value hi, lo;
  bool inclusive, negated;
  if (!matchComparison(v, /*greater=*/true, hi, lo, inclusive, negated))
    return Triangle::None;
  std::optional<Positions> a = positions(hi);
  std::optional<Positions> b = positions(lo);
  if (!a || !b || a->row == b->row)
    return Triangle::None;
  if (a->range != b->range &&
      !llvm::all_of(llvm::zip(a->range->getOperands(), b->range->getOperands()),
                    [](auto p) { return sameValue(std::get<0>(p), std::get<1>(p)); }))
    return Triangle::None;
  // i >= j keeps the diagonal (i > j does not); j > i is masked_fill's
  // upper triangle (j >= i takes the diagonal too).
  if (a->row)
    return inclusive ? Triangle::Lower : Triangle::None;
  return inclusive ? Triangle::None : Triangle::StrictlyUpper;
}

/// Whether |v| is a constant [.., L, L] (leading unit dims) that is 0
/// above the diagonal and, on and below it, 1 (|ones|) or any non-zero
/// (a boolean mask), Trilu(ones) that keeps the lower triangle, or a
/// comparison of positions built at run time (`i >= j`).
bool isLowerTriangular(Value v, bool ones) {
  v = strip(v);
  if (isTriluOfOnes(v, /*upper=*/false, 0) || rangeTriangle(v) == Triangle::Lower)
    return true;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() < 2 || !type.hasStaticShape())
    return false;
  int64_t L = type.getDimSize(type.getRank() - 1);
  if (type.getDimSize(type.getRank() - 2) != L || type.getNumElements() != L * L)
    return false;
  std::optional<SmallVector<double>> vals = constValues(v);
  if (!vals)
    return false;
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j) {
      double x = (*vals)[i * L + j];
      if (j > i ? x != 0.0 : (ones ? x != 1.0 : x == 0.0))
        return false;
    }
  return true;
}

/// Whether |v| marks the positions above the diagonal (masked_fill's
/// condition): a constant true exactly where j > i, Trilu(ones, upper,
/// k = 1), a comparison of positions (`j > i`), or Not / Equal-to-zero of
/// a lower-triangular mask.
bool isStrictlyUpper(Value v) {
  v = strip(v);
  if (isTriluOfOnes(v, /*upper=*/true, 1) || rangeTriangle(v) == Triangle::StrictlyUpper)
    return true;
  if (auto n = v.getDefiningOp<onnx::NotOp>())
    return isLowerTriangular(n->getOperand(0), /*ones=*/false);
  if (auto eq = v.getDefiningOp<onnx::EqualOp>())
    for (auto [m, z] : {std::pair(eq.getA(), eq.getB()), std::pair(eq.getB(), eq.getA())})
      if (isZeroTensor(strip(z)) && isLowerTriangular(m, /*ones=*/false))
        return true;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  std::optional<SmallVector<double>> vals = constValues(v);
  if (!type || type.getRank() < 2 || !vals)
    return false;
  int64_t L = type.getDimSize(type.getRank() - 1);
  if (type.getDimSize(type.getRank() - 2) != L || (int64_t)vals->size() != L * L)
    return false;
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j)
      if (((*vals)[i * L + j] != 0.0) != (j > i))
        return false;
  return true;
}

/// A scalar float constant, looking through unit reshapes.
std::optional<double> scalarConst(Value v) { return constFloat(strip(v)); }

/// The equation of a two-input Einsum at |v|, split into its terms.
struct Einsum {
  Value a, b;
  std::string ta, tb, out;
};
/// The terms of an Einsum with any number of inputs (no ellipsis).
std::optional<std::pair<SmallVector<std::string>, std::string>> einsumTerms(onnx::EinsumOp op) {
  std::string eq;
  for (char c : op.getEquation())
    if (c != ' ')
      eq.push_back(c);
  size_t arrow = eq.find("->");
  if (arrow == std::string::npos || eq.find("...") != std::string::npos)
    return std::nullopt;
  SmallVector<std::string> ins;
  std::string lhs = eq.substr(0, arrow);
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    ins.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos
                                                               : comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return std::make_pair(ins, eq.substr(arrow + 2));
}

std::optional<Einsum> einsumAt(Value v) {
  auto op = strip(v).getDefiningOp<onnx::EinsumOp>();
  auto terms = op ? einsumTerms(op) : std::nullopt;
  if (!terms || terms->first.size() != 2)
    return std::nullopt;
  return Einsum{strip(op.getInputs()[0]), strip(op.getInputs()[1]), terms->first[0],
                terms->first[1], terms->second};
}

/// The axes of a ReduceSum / CumSum (normalized to |rank|), if constant.
std::optional<SmallVector<int64_t>> axesOf(Value axes, int64_t rank) {
  if (!axes)
    return std::nullopt;
  auto vals = onnx::getConstantI64Values(axes);
  if (failed(vals))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (int64_t a : *vals)
    out.push_back(a < 0 ? a + rank : a);
  return out;
}

/// The tensor whose number of positions (dim -2) |v| is, as a dynamic
/// export writes it: [Cast](Gather(Shape(x), -2)) or Shape(x, -2, -1);
/// null otherwise.
Value positionCountOf(Value v) {
  v = strip(v);
  if (auto c = v.getDefiningOp<onnx::CastOp>())
    v = strip(c.getInput());
  auto norm = [](int64_t a, int64_t r) { return a < 0 ? a + r : a; };
  if (auto g = v.getDefiningOp<onnx::GatherOp>()) {
    auto sh = strip(g.getData()).getDefiningOp<onnx::ShapeOp>();
    if (!sh || g.getAxis() != 0 || sh.getStart() != 0 || sh.getEnd())
      return nullptr;
    int64_t r = rankOf(sh.getData());
    std::optional<int64_t> idx = constInt(g.getIndices());
    return idx && r >= 2 && norm(*idx, r) == r - 2 ? sh.getData() : nullptr;
  }
  if (auto sh = v.getDefiningOp<onnx::ShapeOp>()) {
    int64_t r = rankOf(sh.getData());
    if (r >= 2 && norm(sh.getStart(), r) == r - 2 && sh.getEnd() &&
        norm(*sh.getEnd(), r) == r - 1)
      return sh.getData();
  }
  return nullptr;
}

/// Whether |x| is |raw| or a feature map of it.
bool derivesFrom(Value x, Value raw) {
  x = strip(x);
  if (!raw || !x)
    return false;
  if (x == raw)
    return true;
  if (isa_and_nonnull<onnx::SigmoidOp, onnx::ReluOp, onnx::EluOp>(x.getDefiningOp()))
    return derivesFrom(x.getDefiningOp()->getOperand(0), raw);
  if (auto add = x.getDefiningOp<onnx::AddOp>())
    return derivesFrom(add.getA(), raw) || derivesFrom(add.getB(), raw);
  return false;
}

using Pred = function_ref<bool(Value)>;

class Matcher {
public:
  Match &m;
  explicit Matcher(Match &m) : m(m) {}

  /// phi(raw) with raw bound to |slot| (bound on first use).
  bool feature(Value v, Value &slot, bool allowIdentity) {
    v = strip(v);
    Value raw;
    std::string map;
    if (auto s = v.getDefiningOp<onnx::SigmoidOp>()) {
      raw = s.getX(), map = "sigmoid";
    } else if (auto r = v.getDefiningOp<onnx::ReluOp>()) {
      raw = r.getX(), map = "relu";
    } else {
      for (auto [x, c] : operandsOf<onnx::AddOp>(v))
        if (auto elu = x.getDefiningOp<onnx::EluOp>();
            elu && elu.getAlpha().convertToDouble() == 1.0 && scalarConst(c) == 1.0) {
          raw = elu.getX(), map = "elu1";
          break;
        }
    }
    if (!raw) {
      if (!allowIdentity || rankOf(v) < 2)
        return m.fail("the queries and keys are not feature-mapped (sigmoid, elu + 1, relu)");
      raw = v, map = "identity";
    }
    if (!m.map.empty() && m.map != map)
      return m.fail("queries and keys use different feature maps");
    m.map = map;
    if (slot && slot != raw)
      return false;
    slot = raw;
    return true;
  }
  bool qf(Value v) { return feature(v, m.q, m.map.empty() || m.map == "identity"); }
  bool kf(Value v) { return feature(v, m.k, m.map.empty() || m.map == "identity"); }
  /// The raw values, bound on first use.
  bool values(Value v) {
    if (rankOf(v) < 2 || (m.v && m.v != v))
      return false;
    m.v = v;
    return true;
  }

  /// x + eps (eps bound on first use; no Add is eps 0).
  bool plusEps(Value v, Pred x) {
    for (auto [a, c] : operandsOf<onnx::AddOp>(v))
      if (std::optional<double> e = scalarConst(c)) {
        if (m.eps && std::abs(*m.eps - *e) > 1e-6 * std::abs(*e))
          return m.fail("the epsilons differ");
        if (!x(a))
          return false;
        m.eps = *e;
        return true;
      }
    if (m.eps && *m.eps != 0.0)
      return m.fail("an epsilon is missing");
    if (!x(strip(v)))
      return false;
    m.eps = 0.0;
    return true;
  }

  /// Sum over the positions (axis -2) of a [.., L, D] matrix.
  bool colSum(Value v, Pred x) {
    auto rs = strip(v).getDefiningOp<onnx::ReduceSumOp>();
    if (!rs)
      return m.fail("expected a sum over the positions");
    int64_t rank = rankOf(rs.getData());
    auto axes = axesOf(rs.getAxes(), rank);
    if (!axes || axes->size() != 1 || (*axes)[0] != rank - 2)
      return m.fail("a sum is not over the positions");
    return x(strip(rs.getData()));
  }

  /// Inclusive prefix sum over the positions: CumSum along them, or a
  /// lower-triangular ones matrix times x.
  bool prefix(Value v, Pred x, bool vector = false) {
    v = strip(v);
    if (auto cs = v.getDefiningOp<onnx::CumSumOp>()) {
      int64_t rank = rankOf(cs.getX());
      std::optional<int64_t> axis = constInt(cs.getAxis());
      int64_t at = axis ? (*axis < 0 ? *axis + rank : *axis) : -1;
      // A vector [.., L] sums along its last axis ([.., L, 1]: the one
      // before).
      auto xt = cast<RankedTensorType>(cs.getX().getType());
      bool ok = vector ? at == rank - 1 || (at == rank - 2 && xt.getDimSize(rank - 1) == 1)
                       : at == rank - 2;
      if (!ok || cs.getExclusive() || cs.getReverse())
        return m.fail("a cumulative sum is not an inclusive one over the positions");
      return x(strip(cs.getX()));
    }
    if (auto mm = v.getDefiningOp<onnx::MatMulOp>(); mm && !vector) {
      if (!isLowerTriangular(mm.getA(), /*ones=*/true))
        return m.fail("a prefix sum's mask is not lower-triangular ones");
      return x(strip(mm.getB()));
    }
    return m.fail("expected a prefix sum over the positions (CumSum)");
  }

  /// Per-row dot products [.., L]: row i of the matrix a with the vector b
  /// (|rows|: with row i of the matrix b).
  bool rowDot(Value v, Pred a, Pred b, bool rows) {
    v = strip(v);
    if (std::optional<Einsum> e = einsumAt(v)) {
      for (bool swap : {false, true}) {
        const std::string &ta = swap ? e->tb : e->ta, &tb = swap ? e->ta : e->tb;
        Value va = swap ? e->b : e->a, vb = swap ? e->a : e->b;
        if (ta.size() < 2 || e->out != ta.substr(0, ta.size() - 1))
          continue;
        std::string want = rows ? ta : ta.substr(0, ta.size() - 2) + ta.back();
        if (tb != want)
          continue;
        return a(va) && b(vb);
      }
      return m.fail("an Einsum is not a per-row dot product");
    }
    if (auto rs = v.getDefiningOp<onnx::ReduceSumOp>()) {
      int64_t rank = rankOf(rs.getData());
      auto axes = axesOf(rs.getAxes(), rank);
      if (!axes || axes->size() != 1 || (*axes)[0] != rank - 1)
        return m.fail("a sum is not over the features");
      for (auto [x, y] : operandsOf<onnx::MulOp>(rs.getData())) {
        Match saved = m;
        if (a(x) && b(y))
          return true;
        m.restore(saved);
      }
      return m.fail("expected a per-row dot product");
    }
    if (auto mm = v.getDefiningOp<onnx::MatMulOp>(); mm && !rows) {
      // a [.., L, D] @ b^T [.., D, 1].
      Value bt = strip(mm.getB());
      if (auto tr = bt.getDefiningOp<onnx::TransposeOp>();
          tr && swapsLastTwo(tr.getPerm(), rankOf(bt)))
        bt = strip(tr.getData());
      return a(strip(mm.getA())) && b(bt);
    }
    return m.fail("expected a per-row dot product");
  }

  /// x [.., L, D] scaled per row by s.
  bool rowScaled(Value v, Pred x, Pred s) {
    auto pairs = operandsOf<onnx::MulOp>(v);
    if (pairs.empty())
      return m.fail("expected a per-row scaling");
    int64_t rank = rankOf(strip(v));
    for (auto [a, b] : pairs) {
      if (rankOf(a) != rank)
        continue;
      Match saved = m;
      if (x(a) && s(b))
        return true;
      m.restore(saved);
    }
    return m.fail("expected a per-row scaling");
  }

  /// 1 / x as Reciprocal, Div(1, x), or torch's `1.0 / x` export
  /// Mul(Reciprocal(x), 1.0).
  bool recip(Value v, Pred x) {
    v = strip(v);
    for (auto [r, c] : operandsOf<onnx::MulOp>(v))
      if (scalarConst(c) == 1.0) {
        v = r;
        break;
      }
    if (auto r = v.getDefiningOp<onnx::ReciprocalOp>())
      return x(strip(r.getX()));
    if (auto d = v.getDefiningOp<onnx::DivOp>(); d && scalarConst(d.getA()) == 1.0)
      return x(strip(d.getB()));
    return m.fail("expected a reciprocal");
  }

  /// The normalizers n_i = i + 1 over the positions: a constant 1..L, or
  /// Range(1, L + 1) / Range(0, L) + 1 (Cast to float).
  bool normal(Value v) {
    v = strip(v);
    if (std::optional<SmallVector<double>> vals = constValues(v)) {
      for (auto [i, x] : llvm::enumerate(*vals))
        if (x != double(i + 1))
          return m.fail("a normalizer is not 1, 2, ..., L");
      return !vals->empty();
    }
    auto rangeFrom = [](Value r, double start) {
      r = strip(r);
      if (auto c = r.getDefiningOp<onnx::CastOp>())
        r = strip(c.getInput());
      auto range = r.getDefiningOp<onnx::RangeOp>();
      if (!range)
        return false;
      auto st = constFloat(range.getStart());
      auto si = constInt(range.getStart());
      auto di = constInt(range.getDelta());
      auto df = constFloat(range.getDelta());
      bool startOk = (st && *st == start) || (si && *si == (int64_t)start);
      bool deltaOk = (df && *df == 1.0) || (di && *di == 1);
      return startOk && deltaOk;
    };
    if (rangeFrom(v, 1.0))
      return true;
    for (auto [r, c] : operandsOf<onnx::AddOp>(v))
      if (scalarConst(c) == 1.0 && rangeFrom(r, 0.0))
        return true;
    return m.fail("expected the normalizers 1, 2, ..., L");
  }

  /// x * n or x / (1 / n)-free spellings: Mul(x, n).
  bool timesNormal(Value v, Pred x) {
    for (auto [a, b] : operandsOf<onnx::MulOp>(v)) {
      Match saved = m;
      if (normal(b) && x(a))
        return true;
      m.restore(saved);
    }
    return m.fail("expected a product with the normalizers");
  }
  bool overNormal(Value v, Pred x) {
    auto d = strip(v).getDefiningOp<onnx::DivOp>();
    if (!d || !normal(d.getB()))
      return m.fail("expected a division by the normalizers");
    return x(strip(d.getA()));
  }

  /// sum_j x_i k_j^T v_j: the non-causal product in its spellings
  /// (x (k^T v), (x k^T) v, Einsums), or the causal one (a lower-
  /// triangular mask on x k^T, or CumSum of the outer products).
  bool product(Value out, Pred x, Pred k, Pred v) {
    out = strip(out);
    auto kt = [&](Value t) {
      t = strip(t);
      auto tr = t.getDefiningOp<onnx::TransposeOp>();
      if (!tr || !swapsLastTwo(tr.getPerm(), rankOf(t)))
        return m.fail("expected the keys transposed");
      if (!k(strip(tr.getData())))
        return false;
      m.reached = true;
      return true;
    };
    // The causal state as the reference code builds it: the prefix sum
    // over the positions of the outer products k_l v_l^T [P, L, D, M],
    // CumSum(Mul(Unsqueeze(k, -1), Unsqueeze(v, -2))) (the Einsum
    // nhld,nhlm->nhldm is below).
    auto outerState = [&](Value st) -> bool {
      auto cs = strip(st).getDefiningOp<onnx::CumSumOp>();
      if (!cs)
        return m.fail("expected the causal state as a CumSum");
      int64_t r = rankOf(cs.getX());
      if (r < 4)
        return m.fail("expected the causal state's outer products k v^T");
      auto mul = cs.getX().getDefiningOp<onnx::MulOp>();
      auto unsqueezedAt = [&](Value u, int64_t want) -> Value {
        auto un = u.getDefiningOp<onnx::UnsqueezeOp>();
        auto axes = un ? onnx::getConstantI64Values(un.getAxes())
                       : FailureOr<SmallVector<int64_t>>(failure());
        if (!un || failed(axes) || axes->size() != 1 || rankOf(u) != r)
          return Value();
        return ((*axes)[0] < 0 ? (*axes)[0] + r : (*axes)[0]) == want ? un.getData() : Value();
      };
      for (int i = 0; mul && i < 2; ++i) {
        Value kk = unsqueezedAt(mul->getOperand(i), r - 1);
        Value vv = unsqueezedAt(mul->getOperand(1 - i), r - 2);
        if (!kk || !vv)
          continue;
        if (!k(strip(kk)))
          return false;
        m.reached = true;
        // Checked once the keys are seen: a near miss worth its reason.
        std::optional<int64_t> axis = constInt(cs.getAxis());
        if (!axis || (*axis < 0 ? *axis + r : *axis) != r - 3 || cs.getExclusive() ||
            cs.getReverse())
          return m.fail("the causal state's CumSum is not over the positions");
        return v(strip(vv));
      }
      return m.fail("expected the causal state's outer products k v^T");
    };
    // Row l of x times its state, [P, L, M]: (x[.., None, :] @ S)[.., 0, :]
    // or (x[.., :, None] * S).sum(-2).
    if (auto rs = out.getDefiningOp<onnx::ReduceSumOp>();
        rs && m.causal && rankOf(rs.getData()) >= 4 && reducesAxis(rs, -2)) {
      auto mul = strip(rs.getData()).getDefiningOp<onnx::MulOp>();
      for (int i = 0; mul && i < 2; ++i) {
        Value xs = mul->getOperand(i), st = mul->getOperand(1 - i);
        auto xT = dyn_cast<RankedTensorType>(xs.getType());
        if (!xs.getDefiningOp<onnx::UnsqueezeOp>() || !xT ||
            xT.getRank() != rankOf(rs.getData()) || xT.getShape().back() != 1 ||
            !strip(st).getDefiningOp<onnx::CumSumOp>())
          continue;
        return outerState(st) && x(strip(xs));
      }
    }
    if (auto mm = out.getDefiningOp<onnx::MatMulOp>(); mm && m.causal) {
      auto aT = dyn_cast<RankedTensorType>(mm.getA().getType());
      int64_t r = rankOf(mm.getB());
      if (aT && r >= 4 && aT.getRank() == r && aT.getDimSize(r - 2) == 1 &&
          strip(mm.getB()).getDefiningOp<onnx::CumSumOp>())
        return outerState(mm.getB()) && x(strip(mm.getA()));
    }
    if (auto mm = out.getDefiningOp<onnx::MatMulOp>()) {
      Value a = strip(mm.getA()), b = strip(mm.getB());
      // x (k^T v)
      if (auto inner = b.getDefiningOp<onnx::MatMulOp>(); inner && !m.causal)
        if (kt(inner.getA()) && v(strip(inner.getB())))
          return x(a);
      // mask(x k^T) v
      Value s = a;
      bool masked = false;
      if (m.causal) {
        for (auto [p, t] : operandsOf<onnx::MulOp>(s))
          if (isLowerTriangular(t, /*ones=*/true)) {
            s = p, masked = true;
            break;
          }
        if (auto w = s.getDefiningOp<onnx::WhereOp>(); !masked && w) {
          // Where(tril, scores, 0), or masked_fill's Where(j > i, 0, scores).
          if (isZeroTensor(strip(w.getY())) &&
              isLowerTriangular(w.getCondition(), /*ones=*/false))
            s = strip(w.getX()), masked = true;
          else if (isZeroTensor(strip(w.getX())) && isStrictlyUpper(w.getCondition()))
            s = strip(w.getY()), masked = true;
        }
        // torch.tril(scores): Trilu(scores, upper = 0, k = 0).
        if (auto t = s.getDefiningOp<onnx::TriluOp>(); !masked && t && !t.getUpper()) {
          std::optional<int64_t> k = t.getK() ? constInt(t.getK()) : std::optional<int64_t>(0);
          if (k && *k == 0)
            s = strip(t.getInput()), masked = true;
        }
        if (!masked) {
          // Scores of feature-mapped queries and keys under another mask:
          // a near miss worth a reason.
          SmallVector<std::pair<Value, Value>, 2> maskedPairs = operandsOf<onnx::MulOp>(s);
          if (auto t = s.getDefiningOp<onnx::TriluOp>())
            maskedPairs.push_back({strip(t.getInput()), Value()});
          if (auto w = s.getDefiningOp<onnx::WhereOp>())
            maskedPairs.push_back({strip(w.getX()), Value()}),
                maskedPairs.push_back({strip(w.getY()), Value()});
          for (auto [p, t] : maskedPairs)
            if (auto qk = p.getDefiningOp<onnx::MatMulOp>()) {
              Match saved = m;
              if (kt(qk.getB()) && x(strip(qk.getA()))) {
                m.candidateWhy.clear();
                return m.fail("the mask on the scores is not lower-triangular");
              }
              m.restore(saved);
            }
          return m.fail("expected a lower-triangular mask on the scores");
        }
      }
      auto qk = s.getDefiningOp<onnx::MatMulOp>();
      if (!qk)
        return m.fail("expected a product of queries and keys");
      return kt(qk.getB()) && x(strip(qk.getA())) && v(b);
    }
    std::optional<Einsum> e = einsumAt(out);
    if (!e)
      return m.fail("expected the attention product (MatMul or Einsum)");
    // Terms: x = P l d, the state = P d m (or P l d m causal), out = P l m.
    for (bool swap : {false, true}) {
      const std::string &tx = swap ? e->tb : e->ta, &ts = swap ? e->ta : e->tb;
      Value vx = swap ? e->b : e->a, vs = swap ? e->a : e->b;
      if (tx.size() < 3)
        continue;
      std::string P = tx.substr(0, tx.size() - 2);
      char l = tx[tx.size() - 2], d = tx.back();
      if (e->out.size() != tx.size() || e->out.substr(0, P.size() + 1) != P + l)
        continue;
      char mm = e->out.back();
      auto state = [&](Value st, bool causal) {
        std::optional<Einsum> kv = einsumAt(st);
        if (!kv)
          return m.fail("expected the keys-values state as an Einsum");
        for (bool s2 : {false, true}) {
          const std::string &tk = s2 ? kv->tb : kv->ta, &tv = s2 ? kv->ta : kv->tb;
          Value vk = s2 ? kv->b : kv->a, vv = s2 ? kv->a : kv->b;
          if (tk.size() != tx.size() || tv.size() != tx.size())
            continue;
          std::string Pk = tk.substr(0, tk.size() - 2);
          char lk = tk[tk.size() - 2], dk = tk.back();
          if (tv != Pk + lk + tv.back())
            continue;
          char mk = tv.back();
          std::string want = causal ? Pk + lk + dk + mk : Pk + dk + mk;
          if (kv->out != want)
            continue;
          if (!k(vk))
            return false;
          m.reached = true;
          return v(vv);
        }
        return m.fail("an Einsum is not the keys-values state");
      };
      if (!m.causal && ts == P + d + mm)
        return state(vs, false) && x(vx);
      if (m.causal && ts == P + l + d + mm) {
        auto cs = vs.getDefiningOp<onnx::CumSumOp>();
        if (!cs)
          return m.fail("expected the causal state as a CumSum");
        int64_t rank = rankOf(cs.getX());
        std::optional<int64_t> axis = constInt(cs.getAxis());
        if (!axis || (*axis < 0 ? *axis + rank : *axis) != (int64_t)P.size() ||
            cs.getExclusive() || cs.getReverse())
          return m.fail("the causal state's CumSum is not over the positions");
        return state(strip(cs.getX()), true) && x(vx);
      }
    }
    return m.fail("an Einsum is not the attention product");
  }
};

/// The raw value |v| scaled per row by the competition, and the constant
/// |c| it multiplies the softmax by.
struct FlowFusion {
  Value q, k, v;
  bool causal;
  double eps;
  std::string map;
  std::optional<double> alloc, comp;
};

/// Flow-Attention ending in |root| (the allocation scaling).
std::optional<FlowFusion> matchFlow(Value root, Match &m) {
  Matcher M(m);
  std::optional<double> alloc, comp;
  auto Qf = [&](Value x) { return M.qf(x); };
  auto Kf = [&](Value x) { return M.kf(x); };
  auto QfE = [&](Value x) { return M.plusEps(x, Qf); };
  auto KfE = [&](Value x) { return M.plusEps(x, Kf); };
  // Incoming I and outgoing O flows.
  // The incoming (I: own = Q', other = K') and outgoing (O: own = K',
  // other = Q') flows: 1 / ((own + e) . (sum of other + e)), causal: with
  // prefix sums, times the normalizers.
  auto flow = [&](Value x, Pred ownE, Pred other) -> bool {
    auto inverse = [&](Value r) {
      return M.recip(r, [&](Value d) {
        return M.rowDot(d, ownE, [&](Value s) {
          return M.plusEps(s, [&](Value t) {
            return m.causal ? M.prefix(t, other) : M.colSum(t, other);
          });
        }, m.causal);
      });
    };
    return m.causal ? M.timesNormal(x, inverse) : inverse(x);
  };
  auto I = [&](Value x) { return flow(x, QfE, Kf); };
  auto O = [&](Value x) { return flow(x, KfE, Qf); };
  // sum over positions (or prefix) of x scaled by a flow.
  auto flowSum = [&](Value t, Pred x, Pred flow) {
    auto scaled = [&](Value y) { return M.rowScaled(y, x, flow); };
    return m.causal ? M.prefix(t, scaled) : M.colSum(t, scaled);
  };
  // Conserved sink and source.
  auto sink = [&](Value x) -> bool {
    auto dot = [&](Value d) {
      return M.rowDot(d, QfE, [&](Value s) {
        return M.plusEps(s, [&](Value t) { return flowSum(t, Kf, O); });
      }, m.causal);
    };
    return m.causal ? M.overNormal(x, dot) : dot(x);
  };
  auto source = [&](Value x) -> bool {
    auto clip = strip(x).getDefiningOp<onnx::ClipOp>();
    if (!clip || scalarConst(clip.getMin()) != -1.0 || scalarConst(clip.getMax()) != 1.0)
      return m.fail("the conserved source is not clipped to [-1, 1]");
    auto dot = [&](Value d) {
      return M.rowDot(d, KfE, [&](Value s) {
        return M.plusEps(s, [&](Value t) { return flowSum(t, Qf, I); });
      }, m.causal);
    };
    Value in = strip(clip.getInput());
    return m.causal ? M.overNormal(in, dot) : dot(in);
  };
  // Allocation: sigmoid(sink * c) (non-causal; c = L / S), sigmoid(sink).
  auto allocation = [&](Value x) -> bool {
    auto sg = strip(x).getDefiningOp<onnx::SigmoidOp>();
    if (!sg)
      return m.fail("expected the sink allocation (a Sigmoid)");
    Value in = strip(sg.getX());
    if (!m.causal) {
      // L / S from the shapes (a dynamic export): computed at run time.
      for (auto [s, r] : operandsOf<onnx::MulOp>(in))
        if (auto d = r.getDefiningOp<onnx::DivOp>();
            d && derivesFrom(positionCountOf(d.getA()), m.q) &&
            derivesFrom(positionCountOf(d.getB()), m.k)) {
          Match saved = m;
          if (sink(s)) {
            alloc.reset();
            return true;
          }
          m.restore(saved);
        }
      for (auto [s, c] : operandsOf<onnx::MulOp>(in))
        if (std::optional<double> f = scalarConst(c)) {
          Match saved = m;
          if (sink(s)) {
            alloc = *f;
            return true;
          }
          m.restore(saved);
        }
      if (auto d = in.getDefiningOp<onnx::DivOp>())
        if (std::optional<double> f = scalarConst(d.getB()); f && *f != 0.0 && sink(strip(d.getA()))) {
          alloc = 1.0 / *f;
          return true;
        }
      if (!sink(in))
        return false;
      alloc = 1.0;
      return true;
    }
    return sink(in);
  };
  // Competition: softmax over the positions * c (non-causal), or
  // exp / cumsum(exp) * n (causal).
  auto competition = [&](Value x) -> bool {
    if (!m.causal) {
      for (auto [s, c] : operandsOf<onnx::MulOp>(x)) {
        // The constant S, or S from the keys' shape (computed at run time).
        std::optional<double> f = scalarConst(c);
        bool runtimeS = !f && derivesFrom(positionCountOf(c), m.k);
        if (f || runtimeS) {
          auto sm = s.getDefiningOp<onnx::SoftmaxOp>();
          // The positions axis: the last of a [.., L] vector, the one
          // before the last of a keepdims [.., L, 1] one.
          int64_t r = rankOf(s);
          int64_t posAxis = r == m.rank ? r - 2 : r - 1;
          if (!sm || (sm.getAxis() < 0 ? sm.getAxis() + r : sm.getAxis()) != posAxis)
            return m.fail("the source competition is not a Softmax over the positions");
          if (!source(strip(sm.getInput())))
            return false;
          comp = f;
          return true;
        }
      }
      return m.fail("expected the source competition (Softmax times S)");
    }
    return M.timesNormal(x, [&](Value r) {
      auto d = strip(r).getDefiningOp<onnx::DivOp>();
      if (!d)
        return m.fail("expected exp(source) / cumsum(exp(source))");
      auto ex = strip(d.getA()).getDefiningOp<onnx::ExpOp>();
      if (!ex || !source(strip(ex.getX())))
        return m.fail("expected exp of the conserved source");
      Value e = strip(d.getA());
      return M.prefix(
          d.getB(),
          [&](Value t) {
            auto ex2 = t.getDefiningOp<onnx::ExpOp>();
            return t == e || (ex2 && source(strip(ex2.getX())));
          },
          /*vector=*/true);
    });
  };
  auto vScaled = [&](Value x) {
    return M.rowScaled(x, [&](Value raw) { return M.values(raw); }, competition);
  };
  auto qScaled = [&](Value x) {
    return M.rowScaled(x, Qf, [&](Value s) {
      return m.causal ? M.overNormal(s, I) : I(s);
    });
  };
  bool ok = M.rowScaled(root, [&](Value p) { return M.product(p, qScaled, Kf, vScaled); },
                        allocation);
  if (!ok || !m.q || !m.k || !m.v || m.map == "identity")
    return std::nullopt;
  return FlowFusion{m.q, m.k, m.v, m.causal, m.eps.value_or(0.0), m.map, alloc, comp};
}

/// Linear attention ending in |root|: num / (den [+ eps]) with num the
/// product of phi(q), phi(k), v and den phi(q) . sum phi(k) (or the row
/// sums of the masked scores); or, without a normalizer, the product alone.
struct LinearFusion {
  Value q, k, v;
  bool causal, normalize;
  double eps;
  std::string map;
};

std::optional<LinearFusion> matchLinear(Value root, Match &m, bool normalized) {
  Matcher M(m);
  auto Qf = [&](Value x) { return M.qf(x); };
  auto Kf = [&](Value x) { return M.kf(x); };
  auto V = [&](Value x) { return M.values(x); };
  auto num = [&](Value x) { return M.product(x, Qf, Kf, V); };
  if (!normalized) {
    if (!num(root) || (!m.causal && m.map == "identity"))
      return std::nullopt;
    return LinearFusion{m.q, m.k, m.v, m.causal, false, 0.0, m.map};
  }
  // The normalizer: phi(q) . (sum or prefix of phi(k)), or the row sums of
  // the (masked) scores that the numerator multiplies v by.
  auto den = [&](Value x) -> bool {
    Value s = strip(x);
    if (auto rs = s.getDefiningOp<onnx::ReduceSumOp>()) {
      int64_t rank = rankOf(rs.getData());
      auto axes = axesOf(rs.getAxes(), rank);
      if (axes && axes->size() == 1 && (*axes)[0] == rank - 1) {
        // The row sums of the scores a product with the values uses.
        Value scores = strip(rs.getData());
        for (Operation *user : scores.getUsers())
          if (auto mm = dyn_cast<onnx::MatMulOp>(user); mm && strip(mm.getA()) == scores) {
            Match saved = m;
            if (M.product(mm.getResult(), Qf, Kf, V))
              return true;
            m.restore(saved);
          }
      }
    }
    return M.rowDot(x, Qf, [&](Value t) {
      return m.causal ? M.prefix(t, Kf) : M.colSum(t, Kf);
    }, m.causal);
  };
  double eps = 0.0;
  auto denEps = [&](Value x) -> bool {
    for (auto [d, c] : operandsOf<onnx::AddOp>(x))
      if (std::optional<double> e = scalarConst(c)) {
        Match saved = m;
        if (den(d)) {
          eps = *e;
          return true;
        }
        m.restore(saved);
      }
    return den(strip(x));
  };
  bool ok = false;
  if (auto d = strip(root).getDefiningOp<onnx::DivOp>())
    ok = num(strip(d.getA())) && denEps(strip(d.getB()));
  else
    ok = M.rowScaled(root, num, [&](Value r) { return M.recip(r, denEps); });
  if (!ok || !m.q || !m.k || !m.v)
    return std::nullopt;
  return LinearFusion{m.q, m.k, m.v, m.causal, true, eps, m.map};
}

/// fast-transformers' LinearAttention on [N, L, H, D] (the Katharopoulos
/// reference code, exported as written):
///   KV = einsum("nshd,nshm->nhmd", K', V)
///   Z  = 1 / (einsum("nlhd,nhd->nlh", Q', K'.sum(dim=1)) + eps)
///   out = einsum("nlhd,nhmd,nlh->nlhm", Q', KV, Z)
/// Returns the fusion on the [N, L, H, D] tensors (the caller transposes).
std::optional<LinearFusion> matchHeadsLastLinear(onnx::EinsumOp root, Match &m) {
  auto terms = einsumTerms(root);
  if (!terms || terms->first.size() != 3 || rankOf(root.getOutput()) != 4)
    return std::nullopt;
  const std::string &o = terms->second;
  if (o.size() != 4)
    return std::nullopt;
  // Roles by letters: out = N L H M; Q = N L H D; KV = N H M D; Z = N L H.
  char N = o[0], L = o[1], H = o[2], M = o[3];
  int qi = -1, kvi = -1, zi = -1;
  char D = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string &t = terms->first[i];
    if (t.size() == 4 && t[0] == N && t[1] == L && t[2] == H && o.find(t[3]) == std::string::npos)
      qi = i, D = t[3];
  }
  for (int i = 0; i < 3; ++i) {
    const std::string &t = terms->first[i];
    if (t == std::string{N, H, M, D})
      kvi = i;
    if (t == std::string{N, L, H})
      zi = i;
  }
  if (qi < 0 || kvi < 0 || zi < 0)
    return std::nullopt;
  Matcher M2(m);
  auto Qf = [&](Value x) { return M2.qf(x); };
  auto Kf = [&](Value x) { return M2.kf(x); };
  Value q = strip(root.getInputs()[qi]), kv = strip(root.getInputs()[kvi]),
        z = strip(root.getInputs()[zi]);
  if (!Qf(q))
    return std::nullopt;
  // KV = einsum(K', V): K' = N S H D', V = N S H M', out N H M' D'.
  auto kvOp = kv.getDefiningOp<onnx::EinsumOp>();
  auto kvTerms = kvOp ? einsumTerms(kvOp) : std::nullopt;
  if (!kvTerms || kvTerms->first.size() != 2)
    return std::nullopt;
  Value vRaw;
  for (int i = 0; i < 2 && !vRaw; ++i) {
    const std::string &tk = kvTerms->first[i], &tv = kvTerms->first[1 - i];
    if (tk.size() != 4 || tv.size() != 4 || tk.substr(0, 3) != tv.substr(0, 3))
      continue;
    std::string want{tk[0], tk[2], tv[3], tk[3]};
    if (kvTerms->second != want)
      continue;
    if (Kf(strip(kvOp.getInputs()[i])))
      vRaw = strip(kvOp.getInputs()[1 - i]);
  }
  if (!vRaw)
    return std::nullopt;
  m.reached = true;
  // Z = 1 / (rowdot(Q', sum over positions of K') + eps), or without eps.
  double eps = 0.0;
  bool ok = M2.recip(z, [&](Value d) {
    Value dot = d;
    for (auto [x, c] : operandsOf<onnx::AddOp>(d))
      if (std::optional<double> e = scalarConst(c)) {
        eps = *e;
        dot = x;
        break;
      }
    auto zOp = dot.getDefiningOp<onnx::EinsumOp>();
    auto zTerms = zOp ? einsumTerms(zOp) : std::nullopt;
    if (!zTerms || zTerms->first.size() != 2)
      return m.fail("the normalizer is not an Einsum of the queries with the key sum");
    for (int i = 0; i < 2; ++i) {
      const std::string &ta = zTerms->first[i], &tb = zTerms->first[1 - i];
      if (ta.size() != 4 || zTerms->second != ta.substr(0, 3) ||
          tb != std::string{ta[0], ta[2], ta[3]})
        continue;
      auto rs = strip(zOp.getInputs()[1 - i]).getDefiningOp<onnx::ReduceSumOp>();
      if (!rs || rs.getKeepdims())
        continue;
      auto axes = axesOf(rs.getAxes(), 4);
      if (!axes || axes->size() != 1 || (*axes)[0] != 1)
        continue;
      return Qf(strip(zOp.getInputs()[i])) && Kf(strip(rs.getData()));
    }
    return m.fail("the normalizer is not an Einsum of the queries with the key sum");
  });
  if (!ok || rankOf(vRaw) != 4)
    return std::nullopt;
  return LinearFusion{m.q, m.k, vRaw, false, true, eps, m.map};
}

bool f32(Value v) { return getElementTypeOrSelf(v.getType()).isF32(); }

/// Builds the fused op for the flow or linear attention at |root|. On
/// failure, |why| is the reason from an attempt that got as far as a
/// product of feature-mapped queries and keys (empty when none did).
bool fuseAt(Operation *rootOp, std::string &why) {
  Value root = rootOp->getResult(0);
  if (rankOf(root) < 2 || !f32(root))
    return false;
  OpBuilder b(rootOp);
  Location loc = rootOp->getLoc();
  Operation *fused = nullptr;
  auto note = [&](const Match &m) {
    if (why.empty() && m.reached && !m.candidateWhy.empty())
      why = m.candidateWhy;
  };
  for (bool causal : {false, true}) {
    if (isa<onnx::MulOp>(rootOp)) {
      Match m;
      m.causal = causal;
      m.rank = rankOf(root);
      if (std::optional<FlowFusion> f = matchFlow(root, m)) {
        fused = sp::FlowAttentionOp::create(
            b, loc, root.getType(), f->q, f->k, f->v, b.getStringAttr(f->map),
            f->causal ? b.getUnitAttr() : UnitAttr(), b.getF64FloatAttr(f->eps),
            f->alloc ? b.getF64FloatAttr(*f->alloc) : FloatAttr(),
            f->comp ? b.getF64FloatAttr(*f->comp) : FloatAttr(), b.getI64IntegerAttr(64));
        break;
      }
      note(m);
    }
    for (bool normalized : {true, false}) {
      if (normalized ? !isa<onnx::DivOp, onnx::MulOp>(rootOp)
                     : !isa<onnx::MatMulOp, onnx::EinsumOp>(rootOp))
        continue;
      Match m;
      m.causal = causal;
      m.rank = rankOf(root);
      if (std::optional<LinearFusion> f = matchLinear(root, m, normalized)) {
        fused = sp::LinearAttentionOp::create(
            b, loc, root.getType(), f->q, f->k, f->v, b.getStringAttr(f->map),
            f->causal ? b.getUnitAttr() : UnitAttr(),
            f->normalize ? b.getUnitAttr() : UnitAttr(), b.getF64FloatAttr(f->eps),
            b.getF64FloatAttr(1.0), b.getI64IntegerAttr(64));
        break;
      }
      note(m);
    }
    if (fused)
      break;
  }
  // The [N, L, H, D] layout of fast-transformers: the fused op runs on
  // [N, H, L, D] views (Transposes around it).
  if (auto ein = dyn_cast<onnx::EinsumOp>(rootOp); ein && !fused) {
    Match m;
    m.rank = 4;
    if (std::optional<LinearFusion> f = matchHeadsLastLinear(ein, m)) {
      auto perm = b.getDenseI64ArrayAttr({0, 2, 1, 3});
      auto swapped = [&](Value t) -> Value {
        auto type = cast<RankedTensorType>(t.getType());
        SmallVector<int64_t> shape = {type.getDimSize(0), type.getDimSize(2),
                                      type.getDimSize(1), type.getDimSize(3)};
        return onnx::TransposeOp::create(b, loc, type.clone(shape), t, perm);
      };
      Value q = swapped(f->q), k = swapped(f->k), v = swapped(f->v);
      auto rt = cast<RankedTensorType>(root.getType());
      auto vt = cast<RankedTensorType>(v.getType());
      auto qt = cast<RankedTensorType>(q.getType());
      auto outType = rt.clone({qt.getDimSize(0), qt.getDimSize(1), qt.getDimSize(2),
                               vt.getDimSize(3)});
      auto op = sp::LinearAttentionOp::create(
          b, loc, outType, q, k, v, b.getStringAttr(f->map), UnitAttr(), b.getUnitAttr(),
          b.getF64FloatAttr(f->eps), b.getF64FloatAttr(1.0), b.getI64IntegerAttr(64));
      if (!f32(f->q) || !f32(f->v) || !verifiesQuietly(op)) {
        op.erase();
        return false;
      }
      Value back = swapped(op.getResult());
      if (back.getType() != root.getType())
        back = onnx::IdentityOp::create(b, loc, root.getType(), back);
      why.clear();
      root.replaceAllUsesWith(back);
      return true;
    }
    note(m);
  }
  if (!fused)
    return false;
  if (!llvm::all_of(fused->getOperands(), f32) || !verifiesQuietly(fused)) {
    why = "the matched attention has shapes or types the fused op does not take";
    fused->erase();
    return false;
  }
  why.clear();
  root.replaceAllUsesWith(fused->getResult(0));
  return true;
}

/// Adds |op| and its producers (a bounded walk) to |covered|.
void cover(Operation *op, llvm::DenseSet<Operation *> &covered, int depth = 64) {
  if (!op || depth == 0 || !covered.insert(op).second)
    return;
  for (Value in : op->getOperands())
    cover(in.getDefiningOp(), covered, depth - 1);
}

/// The ops of the feature map producing |v|, input side first: Sigmoid or
/// Relu, or Elu (alpha 1) then the Add of 1. Empty when |v| is none.
SmallVector<Operation *, 2> featureMapOps(Value v) {
  Operation *def = v.getDefiningOp();
  if (isa_and_nonnull<onnx::SigmoidOp, onnx::ReluOp>(def))
    return {def};
  if (auto add = dyn_cast_or_null<onnx::AddOp>(def))
    for (auto [x, c] : {std::pair(add.getA(), add.getB()), std::pair(add.getB(), add.getA())})
      if (auto elu = x.getDefiningOp<onnx::EluOp>();
          elu && elu.getAlpha().convertToDouble() == 1.0 && constFloat(c) == 1.0 &&
          rankOf(c) <= 1 && x.getType() == v.getType())
        return {elu, add};
  return {};
}

/// Code that applies the feature map before moving the heads forward,
/// `phi(x.view(B, L, H, D)).transpose(1, 2)`, transposes phi(X); and
/// TorchScript merges the keys' `.transpose(1, 2).transpose(-2, -1)` into
/// one Transpose(phi(K), [0, 2, 3, 1]). Rewrites each Transpose of a
/// feature map's output as the feature map of the transposed input,
/// phi(Transpose(X, p)), a Transpose whose perm is another one's of the
/// same phi(X) with the last two axes swapped (to the reverse order) first
/// becoming the swap of that one, so the product sees the keys, once
/// transposed, the way its other spellings do. The values are unchanged
/// (the feature maps are element-wise), and so is the number of transposes.
void sinkTransposesBelowFeatureMaps(Operation *root) {
  // Transposes of a feature map's output other than the plain swap of the
  // last two axes (the keys' transpose the product takes as it is).
  SmallVector<onnx::TransposeOp> candidates;
  root->walk([&](onnx::TransposeOp t) {
    if (rankOf(t.getData()) >= 3 && !featureMapOps(t.getData()).empty() &&
        !swapsLastTwo(t.getPerm(), rankOf(t.getData())))
      candidates.push_back(t);
  });
  // Merged transposes first: the swap of a sibling's result (a sibling
  // made when there is none).
  llvm::DenseSet<Operation *> merged;
  for (size_t i = 0, e = candidates.size(); i < e; ++i) {
    onnx::TransposeOp t = candidates[i];
    SmallVector<int64_t> p = t.getPermutation();
    int64_t r = p.size();
    // The keys transposed: the last two axes in reverse order.
    if (p[r - 2] < p[r - 1])
      continue;
    SmallVector<int64_t> q = p;
    std::swap(q[r - 2], q[r - 1]);
    onnx::TransposeOp sibling;
    for (onnx::TransposeOp s : candidates)
      if (s != t && !merged.contains(s) && s.getData() == t.getData() &&
          s.getPermutation() == q && s->getBlock() == t->getBlock())
        sibling = s;
    OpBuilder b(t);
    if (!sibling) {
      auto tt = cast<RankedTensorType>(t.getType());
      SmallVector<int64_t> shape(tt.getShape());
      std::swap(shape[r - 2], shape[r - 1]);
      sibling = onnx::TransposeOp::create(b, t.getLoc(), tt.clone(shape), t.getData(),
                                          b.getDenseI64ArrayAttr(q));
      candidates.push_back(sibling);
    } else if (t->isBeforeInBlock(sibling)) {
      sibling->moveBefore(t);
    }
    SmallVector<int64_t> swap = llvm::to_vector(llvm::seq<int64_t>(0, r));
    std::swap(swap[r - 2], swap[r - 1]);
    Value st = onnx::TransposeOp::create(b, t.getLoc(), t.getType(), sibling.getResult(),
                                         b.getDenseI64ArrayAttr(swap));
    t.getResult().replaceAllUsesWith(st);
    merged.insert(t);
    t.erase();
  }
  for (onnx::TransposeOp t : candidates) {
    if (merged.contains(t))
      continue;
    Value y = t.getData();
    SmallVector<Operation *, 2> map = featureMapOps(y);
    Value x = map.front()->getOperand(0);
    auto tt = cast<RankedTensorType>(t.getType());
    if (getElementTypeOrSelf(x) != tt.getElementType())
      continue;
    // The same ops on the transposed input, typed as the Transpose was.
    OpBuilder b(t);
    IRMapping mapping;
    mapping.map(x, onnx::TransposeOp::create(b, t.getLoc(), tt, x, t.getPermAttr()));
    for (Operation *op : map)
      b.clone(*op, mapping)->getResult(0).setType(tt);
    t.getResult().replaceAllUsesWith(mapping.lookup(y));
    t.erase();
    // The feature map on the untransposed input, if nothing else reads it.
    for (Operation *op : llvm::reverse(map))
      if (op->use_empty())
        op->erase();
  }
}

struct FuseFlowAttentionPass final
    : sparsa::impl::FuseFlowAttentionPassBase<FuseFlowAttentionPass> {
  using FuseFlowAttentionPassBase::FuseFlowAttentionPassBase;

  void runOnOperation() override {
    // ONNX LinearAttention (every update rule) is already this family's
    // op: its lowering runs the recurrence in linear time.
    getOperation().walk([&](onnx::LinearAttentionOp op) {
      op->setAttr(sp::kFamilyAttrName, StringAttr::get(op.getContext(), kFamily));
    });
    sinkTransposesBelowFeatureMaps(getOperation());
    SmallVector<Operation *> roots;
    getOperation().walk([&](Operation *op) {
      if (isa<onnx::MulOp, onnx::DivOp, onnx::MatMulOp, onnx::EinsumOp>(op))
        roots.push_back(op);
    });
    llvm::DenseSet<Operation *> erased, covered;
    // Last ops first: the whole formula fuses before any of its parts. A
    // candidate that does not fuse says why once, at its last op.
    for (Operation *root : llvm::reverse(roots)) {
      if (erased.contains(root))
        continue;
      std::string why;
      if (fuseAt(root, why)) {
        eraseDeadProducers(root, erased);
        continue;
      }
      if (!why.empty() && !covered.contains(root)) {
        sparsa::markUnfused(root, kFamily, why);
        cover(root, covered);
      }
    }
  }
};
} // namespace
