//===- OnnxPatterns.cpp - Matching helpers of the fusion passes -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#include "OnnxPatterns.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;
namespace onnx = sparsa::onnx;

namespace sparsa::patterns {

/// The value of a one-element float constant.
std::optional<double> constFloat(Value v) {
  ElementsAttr attr;
  if (!v || !matchPattern(v, m_Constant(&attr)) || attr.getNumElements() != 1)
    return std::nullopt;
  SmallVector<char> storage;
  auto bytes = onnx::getConstantBytes(attr, storage);
  if (failed(bytes))
    return std::nullopt;
  Type t = attr.getElementType();
  if (t.isF32()) {
    float f;
    std::memcpy(&f, bytes->data(), 4);
    return f;
  }
  if (t.isF64()) {
    double d;
    std::memcpy(&d, bytes->data(), 8);
    return d;
  }
  return std::nullopt;
}

/// The value of a one-element integer constant.
std::optional<int64_t> constInt(Value v) {
  if (!v)
    return std::nullopt;
  auto vals = onnx::getConstantI64Values(v);
  if (failed(vals) || vals->size() != 1)
    return std::nullopt;
  return vals->front();
}

bool isConstant(Value v) { return v && v.getDefiningOp<onnx::ConstantOp>(); }

int64_t rankOf(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t ? t.getRank() : -1;
}



SmallVector<int64_t> nonUnitDims(RankedTensorType t) {
  SmallVector<int64_t> d;
  for (int64_t s : t.getShape())
    if (s != 1)
      d.push_back(s);
  return d;
}

bool swapsLastTwo(std::optional<ArrayRef<int64_t>> perm, int64_t rank) {
  if (!perm || (int64_t)perm->size() != rank || rank < 2)
    return false;
  for (int64_t i = 0; i + 2 < rank; ++i)
    if ((*perm)[i] != i)
      return false;
  return (*perm)[rank - 2] == rank - 1 && (*perm)[rank - 1] == rank - 2;
}

/// |v| with leading unit dims added by Unsqueeze / Reshape peeled off, when
/// it is a rank-2 value so extended.
Value peelUnitDims(Value v) {
  while (v && rankOf(v) > 2) {
    Operation *def = v.getDefiningOp();
    if (!def || !isa<onnx::UnsqueezeOp, onnx::ReshapeOp>(def))
      return v;
    Value src = def->getOperand(0);
    auto st = dyn_cast<RankedTensorType>(src.getType());
    auto vt = cast<RankedTensorType>(v.getType());
    if (!st)
      return v;
    // Same non-unit dims in order: only unit dims were inserted.
    if (nonUnitDims(st) != nonUnitDims(vt) || st.getRank() >= vt.getRank())
      return v;
    v = src;
  }
  return v;
}

/// Whether |v| is an all-zero tensor (a constant or ConstantOfShape; bool:
/// all false).
bool isZeroTensor(Value v) {
  ElementsAttr attr;
  // torch.zeros with a run-time shape: Expand(0, shape).
  if (auto ex = v.getDefiningOp<onnx::ExpandOp>())
    return isZeroTensor(ex.getInput());
  if (auto cos = v.getDefiningOp<onnx::ConstantOfShapeOp>()) {
    if (!cos.getValue())
      return true; // ConstantOfShape's default value is 0
    attr = *cos.getValue();
  } else if (!matchPattern(v, m_Constant(&attr))) {
    return false;
  }
  if (attr.getElementType().isInteger(1)) { // all false (a bool mask)
    auto bools = attr.tryGetValues<bool>();
    return bools && llvm::none_of(*bools, [](bool x) { return x; });
  }
  SmallVector<char> storage;
  auto bytes = onnx::getConstantBytes(attr, storage);
  return succeeded(bytes) && llvm::all_of(*bytes, [](char c) { return c == 0; });
}

static std::optional<double> scalarValue(Value v, int depth) {
  if (!v || depth > 8)
    return std::nullopt;
  if (std::optional<double> f = constFloat(v))
    return f;
  if (std::optional<int64_t> i = constInt(v))
    return double(*i);
  Operation *op = v.getDefiningOp();
  if (!op || rankOf(v) > 1 ||
      (rankOf(v) == 1 && cast<RankedTensorType>(v.getType()).getDimSize(0) != 1))
    return std::nullopt;
  auto arg = [&](int i) { return scalarValue(op->getOperand(i), depth + 1); };
  if (isa<onnx::CastOp, onnx::IdentityOp, onnx::SqueezeOp, onnx::UnsqueezeOp,
          onnx::ReshapeOp>(op))
    return arg(0);
  if (auto entry = shapeEntry(v)) {
    auto t = dyn_cast<RankedTensorType>(entry->first.getType());
    if (!t || t.isDynamicDim(entry->second))
      return std::nullopt;
    return double(t.getDimSize(entry->second));
  }
  if (isa<onnx::SqrtOp>(op))
    if (std::optional<double> a = arg(0); a && *a >= 0)
      return std::sqrt(*a);
  if (isa<onnx::ReciprocalOp>(op))
    if (std::optional<double> a = arg(0); a && *a != 0)
      return 1.0 / *a;
  if (isa<onnx::PowOp, onnx::MulOp, onnx::DivOp, onnx::AddOp, onnx::SubOp>(op)) {
    std::optional<double> a = arg(0), b = arg(1);
    if (!a || !b)
      return std::nullopt;
    if (isa<onnx::PowOp>(op))
      return std::pow(*a, *b);
    if (isa<onnx::MulOp>(op))
      return *a * *b;
    if (isa<onnx::AddOp>(op))
      return *a + *b;
    if (isa<onnx::SubOp>(op))
      return *a - *b;
    // Integer Div truncates (torch's `//` of sizes).
    if (*b != 0)
      return isa<IntegerType>(getElementTypeOrSelf(v)) ? std::trunc(*a / *b) : *a / *b;
  }
  return std::nullopt;
}

std::optional<double> scalarValue(Value v) { return scalarValue(v, 0); }

std::optional<std::pair<Value, int64_t>> shapeEntry(Value piece) {
  if (auto u = piece.getDefiningOp<onnx::UnsqueezeOp>())
    piece = u.getData();
  auto pt = dyn_cast<RankedTensorType>(piece.getType());
  if (!pt || !pt.hasStaticShape() || pt.getNumElements() != 1)
    return std::nullopt;
  // Dim |j| of |t| (from the end when negative), if in range.
  auto at = [](Value t, int64_t j) -> std::optional<std::pair<Value, int64_t>> {
    int64_t r = rankOf(t);
    int64_t d = j < 0 ? j + r : j;
    if (r < 0 || d < 0 || d >= r)
      return std::nullopt;
    return std::make_pair(t, d);
  };
  if (auto g = piece.getDefiningOp<onnx::GatherOp>()) {
    auto sh = g.getData().getDefiningOp<onnx::ShapeOp>();
    std::optional<int64_t> j = constInt(g.getIndices());
    if (!sh || !j || g.getAxis() != 0 || sh.getStart() != 0 || sh.getEnd())
      return std::nullopt;
    return at(sh.getData(), *j);
  }
  if (auto sh = piece.getDefiningOp<onnx::ShapeOp>())
    return at(sh.getData(), sh.getStart());
  if (auto sl = piece.getDefiningOp<onnx::SliceOp>()) {
    auto sh = sl.getData().getDefiningOp<onnx::ShapeOp>();
    std::optional<int64_t> b = constInt(sl.getStarts());
    if (!sh || !b || sh.getStart() != 0 || sh.getEnd() ||
        (sl.getAxes() && constInt(sl.getAxes()) != std::optional<int64_t>(0)) ||
        (sl.getSteps() && constInt(sl.getSteps()) != std::optional<int64_t>(1)))
      return std::nullopt;
    return at(sh.getData(), *b);
  }
  return std::nullopt;
}

/// The float values of a static constant (f32 / f64 / bool).
std::optional<SmallVector<double>> constValues(Value v) {
  auto cst = v.getDefiningOp<onnx::ConstantOp>();
  if (!cst)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  Type et = type.getElementType();
  int64_t n = type.getNumElements();
  SmallVector<double> out;
  if (et.isInteger(1)) {
    // Booleans: one byte each in a resource blob, bits in a dense attr.
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
      AsmResourceBlob *blob = res.getRawHandle().getBlob();
      if (!blob || (int64_t)blob->getData().size() != n)
        return std::nullopt;
      for (char c : blob->getData())
        out.push_back(c ? 1.0 : 0.0);
      return out;
    }
    auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
    if (!dense)
      return std::nullopt;
    for (bool x : dense.getValues<bool>())
      out.push_back(x ? 1.0 : 0.0);
    return out;
  }
  FailureOr<SmallVector<char>> bytes = constantBytes(v);
  if (failed(bytes))
    return std::nullopt;
  if (et.isF32() && (int64_t)bytes->size() == 4 * n) {
    for (int64_t i = 0; i < n; ++i) {
      float f;
      std::memcpy(&f, bytes->data() + 4 * i, 4);
      out.push_back(f);
    }
  } else if (et.isF64() && (int64_t)bytes->size() == 8 * n) {
    for (int64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, bytes->data() + 8 * i, 8);
      out.push_back(d);
    }
  } else {
    return std::nullopt;
  }
  return out;
}

/// Whether |v| is all ones: a constant, ConstantOfShape(1), or an Expand
/// of a constant 1.
bool isFilledWith(Value v, function_ref<bool(double)> pred) {
  while (auto id = v.getDefiningOp<onnx::IdentityOp>())
    v = id->getOperand(0);
  if (auto e = v.getDefiningOp<onnx::ExpandOp>())
    return isFilledWith(e->getOperand(0), pred);
  if (auto cos = v.getDefiningOp<onnx::ConstantOfShapeOp>()) {
    if (!cos.getValue())
      return pred(0.0); // the default value is 0
    ElementsAttr value = *cos.getValue();
    SmallVector<char> storage;
    FailureOr<ArrayRef<char>> bytes = onnx::getConstantBytes(value, storage);
    Type t = value.getElementType();
    if (failed(bytes) || bytes->empty())
      return false;
    if (t.isF32()) {
      float f;
      std::memcpy(&f, bytes->data(), 4);
      return pred(f);
    }
    if (t.isF64()) {
      double d;
      std::memcpy(&d, bytes->data(), 8);
      return pred(d);
    }
    if (t.isInteger(64)) {
      int64_t i;
      std::memcpy(&i, bytes->data(), 8);
      return pred(double(i));
    }
    return false;
  }
  std::optional<SmallVector<double>> vals = constValues(v);
  return vals && llvm::all_of(*vals, pred);
}

bool isAllOnes(Value v) {
  return isFilledWith(v, [](double x) { return x == 1.0; });
}


bool matchComparison(Value cond, bool greater, Value &key, Value &t, bool &inclusive,
                     bool &negated) {
  if (auto n = cond.getDefiningOp<onnx::NotOp>()) {
    // Not(key <= t) is key > t, Not(key < t) is key >= t, and back.
    bool innerInclusive, innerNegated;
    if (!matchComparison(n.getX(), !greater, key, t, innerInclusive, innerNegated) ||
        innerNegated)
      return false;
    inclusive = !innerInclusive;
    negated = true;
    return true;
  }
  Operation *op = cond.getDefiningOp();
  if (!op || op->getNumOperands() != 2)
    return false;
  bool gt = isa<onnx::GreaterOp, onnx::GreaterOrEqualOp>(op);
  if (!gt && !isa<onnx::LessOp, onnx::LessOrEqualOp>(op))
    return false;
  // Greater(a, b) is a > b and b < a: the key is first when the op faces
  // the way asked for.
  bool keyFirst = gt == greater;
  key = op->getOperand(keyFirst ? 0 : 1);
  t = op->getOperand(keyFirst ? 1 : 0);
  inclusive = isa<onnx::GreaterOrEqualOp, onnx::LessOrEqualOp>(op);
  negated = false;
  return true;
}
static bool matchGreater(Value cond, Value &key, Value &t, bool &inclusive, bool &negated) {
  return matchComparison(cond, /*greater=*/true, key, t, inclusive, negated);
}
static bool matchLessOrEqual(Value cond, Value &key, Value &t, bool &inclusive, bool &negated) {
  return matchComparison(cond, /*greater=*/false, key, t, inclusive, negated);
}

std::optional<Thresholded> matchThresholded(Value v) {
  Thresholded r;
  r.root = v.getDefiningOp();
  bool negated;
  // The key is the kept value (FATReLU) or its magnitude (TEAL); that also
  // says which side of a comparison is the threshold.
  auto keyOf = [](Value key, Value kept) {
    auto abs = key.getDefiningOp<onnx::AbsOp>();
    return key == kept || (abs && abs.getX() == kept);
  };
  if (auto where = v.getDefiningOp<onnx::WhereOp>()) {
    if (matchGreater(where.getCondition(), r.key, r.threshold, r.inclusive, negated) &&
        keyOf(r.key, where.getX())) {
      r.kept = where.getX(), r.fill = where.getY();
      r.nanKept = negated; // Not(NaN <= t) is true
      return r;
    }
    // masked_fill(key <= t, fill): the kept side is the else branch, and
    // `key < t` dropped means `key >= t` kept.
    bool le;
    if (matchLessOrEqual(where.getCondition(), r.key, r.threshold, le, negated) &&
        keyOf(r.key, where.getY())) {
      r.inclusive = !le;
      r.kept = where.getY(), r.fill = where.getX();
      r.nanKept = !negated; // NaN <= t is false: NaN is not filled
      return r;
    }
    return std::nullopt;
  }
  if (auto mul = v.getDefiningOp<onnx::MulOp>()) {
    for (auto [kept, mask] : {std::pair(mul.getA(), mul.getB()), std::pair(mul.getB(), mul.getA())}) {
      auto cast = mask.getDefiningOp<onnx::CastOp>();
      if (!cast || !getElementTypeOrSelf(cast.getInput().getType()).isInteger(1) ||
          !matchGreater(cast.getInput(), r.key, r.threshold, r.inclusive, negated) ||
          !keyOf(r.key, kept))
        continue;
      r.kept = kept;
      r.fill = Value(); // zero
      r.nanKept = true; // NaN * 0 is NaN
      return r;
    }
  }
  return std::nullopt;
}

bool Thresholded::zeroFill() const {
  return !fill || constFloat(fill) == 0.0 || isZeroTensor(fill);
}

std::optional<double> Thresholded::exclusive() const {
  std::optional<double> t = constFloat(threshold);
  if (!t || !inclusive)
    return t;
  // key >= t is key > (the float below t); at t = 0 both keep only
  // non-zero values (a kept zero is a zero), so 0 stays 0.
  if (*t == 0.0)
    return 0.0;
  return double(std::nextafter(float(*t), -std::numeric_limits<float>::infinity()));
}

std::optional<std::pair<Value, Value>> gatheredRows(Value v) {
  if (auto g = v ? v.getDefiningOp<onnx::GatherOp>() : onnx::GatherOp()) {
    int64_t rank = rankOf(g.getData());
    if (g.getAxis() == 0 || (rank > 0 && g.getAxis() == -rank))
      return std::make_pair(g.getData(), g.getIndices());
    return std::nullopt;
  }
  auto gnd = v ? v.getDefiningOp<onnx::GatherNDOp>() : onnx::GatherNDOp();
  if (!gnd || gnd.getBatchDims() != 0)
    return std::nullopt;
  auto un = gnd.getIndices().getDefiningOp<onnx::UnsqueezeOp>();
  auto axes = un ? onnx::getConstantI64Values(un.getAxes())
                 : FailureOr<SmallVector<int64_t>>(failure());
  int64_t r = un ? rankOf(un.getData()) : -1;
  if (r < 1 || failed(axes) || axes->size() != 1 || ((*axes)[0] != r && (*axes)[0] != -1))
    return std::nullopt;
  return std::make_pair(gnd.getData(), un.getData());
}

/// Whether the Einsum |eq| applies one matrix per expert (or per token
/// and slot) to the last axis of its first input: `Th,ehf->Tef`,
/// `Tef,efh->Teh`, `Th,Tkhf->Tkf` or `Tkf,Tkfh->Tkh`, any letters, where
/// T is one token letter (`th,ehf->tef`) or several (unflattened tokens,
/// `bsh,ehf->bsef`).
static bool isExpertProjection(StringRef eq) {
  eq = eq.trim();
  if (eq.contains('.') || eq.contains(' '))
    return false;
  auto [lhs, out] = eq.split("->");
  auto [a, b] = lhs.split(',');
  if (a.size() < 2 || b.size() < 3 || out.empty() || b.contains(','))
    return false;
  auto distinct = [](StringRef s) {
    llvm::SmallDenseSet<char, 8> seen(s.begin(), s.end());
    return seen.size() == s.size();
  };
  if (!distinct(a) || !distinct(b) || !distinct(out))
    return false;
  char h = a.back();
  if (b[b.size() - 2] != h || out.contains(h))
    return false;
  char f = b.back();
  if (a.contains(f))
    return false;
  std::string want;
  if (b.size() == 3 && !a.contains(b[0])) // Th,ehf->Tef
    want = (a.drop_back() + Twine(b[0]) + Twine(f)).str();
  else if (b.size() == 3 && a.size() >= 3 && b[0] == a[a.size() - 2]) // Tef,efh->Teh
    want = (a.drop_back() + Twine(f)).str();
  else if (b.size() == a.size() + 2 && b.starts_with(a.drop_back()) &&
           !a.contains(b[a.size() - 1])) // Th,Tkhf->Tkf
    want = (b.drop_back(2) + Twine(f)).str();
  else if (a.size() >= 3 && b.size() == a.size() + 1 && b.starts_with(a)) // Tkf,Tkfh->Tkh
    want = (a.drop_back() + Twine(f)).str();
  return !want.empty() && out == want;
}

/// A projection's weight that is the Transpose of constant rows gathered
/// by an index set becomes those rows, the layout flag flipped (a
/// transposed plain constant folds before this; a gathered one cannot).
static void untransposeGathered(Projection &p) {
  auto t = p.weight.getDefiningOp<onnx::TransposeOp>();
  if (!t || rankOf(t.getData()) != 2 ||
      !swapsLastTwo(ArrayRef<int64_t>(t.getPermutation()), 2))
    return;
  auto g = t.getData().getDefiningOp<onnx::GatherOp>();
  std::optional<std::pair<Value, Value>> rows = gatheredRows(t.getData());
  if ((g && isConstant(g.getData())) || (rows && isConstant(rows->first))) {
    p.weight = t.getData();
    p.transposed = !p.transposed;
  }
}

/// The single axis of an Unsqueeze / Squeeze |op| (constant axes),
/// normalized on |rank|.
template <typename OpTy>
static std::optional<int64_t> singleAxis(OpTy op, int64_t rank) {
  if (!op || !op.getAxes())
    return std::nullopt;
  auto axes = onnx::getConstantI64Values(op.getAxes());
  if (failed(axes) || axes->size() != 1 || rank < 1)
    return std::nullopt;
  int64_t a = (*axes)[0] < 0 ? (*axes)[0] + rank : (*axes)[0];
  return a >= 0 && a < rank ? std::optional<int64_t>(a) : std::nullopt;
}

/// A matrix-vector product per row of x [S, in], as transformers' batched_mm
/// experts write it on weights gathered per (token, expert) pair:
/// `bmm(W, x.unsqueeze(-1)).squeeze(-1)` (W [S, out, in]: |transposed|) or
/// `bmm(x.unsqueeze(1), W).squeeze(1)` (W [S, in, out]).
static std::optional<Projection> batchedMatVec(Value v) {
  auto sq = v ? v.getDefiningOp<onnx::SqueezeOp>() : onnx::SqueezeOp();
  std::optional<int64_t> axis = singleAxis(sq, 3);
  auto mm = sq ? sq.getData().getDefiningOp<onnx::MatMulOp>() : onnx::MatMulOp();
  if (!axis || !mm || rankOf(mm.getA()) != 3 || rankOf(mm.getB()) != 3)
    return std::nullopt;
  auto vector = [](Value u, int64_t at) -> Value {
    auto un = u.getDefiningOp<onnx::UnsqueezeOp>();
    return rankOf(u) == 3 && singleAxis(un, 3) == at && rankOf(un.getData()) == 2
               ? un.getData()
               : Value();
  };
  Projection p;
  if (*axis == 2 && (p.in = vector(mm.getB(), 2))) {
    p.weight = mm.getA();
    p.transposed = true;
    return p;
  }
  if (*axis == 1 && (p.in = vector(mm.getA(), 1))) {
    p.weight = mm.getB();
    return p;
  }
  return std::nullopt;
}

/// `in @ W (+ bias)` as MatMul (+ Add) or Gemm.
std::optional<Projection> matchProjection(Value v) {
  Projection p;
  v = peelUnitRoundTrip(v);
  // A bias: a constant, or a constant gathered by a neuron index set.
  auto isBias = [](Value b) {
    if (b.getDefiningOp<onnx::GatherOp>() || b.getDefiningOp<onnx::GatherNDOp>()) {
      std::optional<std::pair<Value, Value>> rows = gatheredRows(b);
      return rows && isConstant(rows->first);
    }
    return isConstant(b);
  };
  if (auto add = operandsWith<onnx::AddOp>(v, [](Value x) {
        return x.getDefiningOp<onnx::MatMulOp>() || batchedMatVec(x);
      })) {
    if (!isBias(add->second))
      return std::nullopt;
    p.bias = add->second;
    v = add->first;
  }
  if (auto bmv = batchedMatVec(v)) {
    bmv->bias = p.bias;
    return bmv;
  }
  if (auto mm = v.getDefiningOp<onnx::MatMulOp>()) {
    p.in = mm.getA();
    p.weight = mm.getB();
    // torch's `x @ W[idx].t()` on an nn.Linear weight [out, in] gathered
    // by a neuron index set: the Gemm(transB) layout.
    untransposeGathered(p);
    return p;
  }
  if (auto ein = v.getDefiningOp<onnx::EinsumOp>();
      ein && !p.bias && ein.getInputs().size() == 2 &&
      rankOf(ein.getInputs()[1]) >= 3 && isExpertProjection(ein.getEquation())) {
    p.in = ein.getInputs()[0];
    p.weight = ein.getInputs()[1];
    p.einsum = true;
    return p;
  }
  if (auto gemm = v.getDefiningOp<onnx::GemmOp>()) {
    if (p.bias || gemm.getTransA() || gemm.getAlpha().convertToDouble() != 1.0 ||
        gemm.getBeta().convertToDouble() != 1.0)
      return std::nullopt;
    if (gemm.getC() && !isBias(gemm.getC()))
      return std::nullopt;
    p.in = gemm.getA();
    p.weight = gemm.getB();
    p.transposed = gemm.getTransB();
    p.bias = gemm.getC();
    // The dynamo exporter's `F.linear(h, W[:, idx])`: Gemm(transB) of the
    // Transpose of rows gathered from the folded W^T.
    untransposeGathered(p);
    return p;
  }
  return std::nullopt;
}

/// Leaves of a tree of Mul ops rooted at |v| (at most |depth| deep).
static void mulLeaves(Value v, int depth, SmallVectorImpl<Value> &leaves) {
  auto mul = v.getDefiningOp<onnx::MulOp>();
  if (!mul || depth == 0) {
    leaves.push_back(v);
    return;
  }
  mulLeaves(mul.getA(), depth - 1, leaves);
  mulLeaves(mul.getB(), depth - 1, leaves);
}

StringRef magnitudeCutOf(const Thresholded &th, Value &h) {
  auto abs = th.key.getDefiningOp<onnx::AbsOp>();
  if (!abs || abs.getX() != th.kept || !th.kept.getDefiningOp())
    return "";
  StringRef act = matchActivation(th.kept, h);
  return act == "silu" || act == "gelu" || act == "gelu_tanh" ? act : StringRef();
}

/// The activation |a| = act(h): returns its canonical name and sets |h|;
/// "identity" with h = a when |a| is no known activation.
StringRef matchActivation(Value a, Value &h, double *threshold, bool *nanActive,
                          StringRef *absOf, double *alpha) {
  h = a;
  // FATReLU: Where(h > t, h, 0) (any spelling of matchThresholded) with a
  // constant t >= 0; CATS: Where(|g| > t, g, 0) of a dense activation g.
  if (std::optional<Thresholded> th = matchThresholded(a);
      th && th->zeroFill()) {
    std::optional<double> t = th->exclusive();
    if (t && *t >= 0.0 && th->key == th->kept) {
      h = th->kept;
      if (threshold)
        *threshold = *t;
      if (nanActive)
        *nanActive = th->nanKept;
      return "threshold";
    }
    Value gh;
    StringRef inner = t && *t >= 0.0 ? magnitudeCutOf(*th, gh) : StringRef();
    if (!inner.empty()) {
      h = gh;
      if (threshold)
        *threshold = *t;
      if (nanActive)
        *nanActive = th->nanKept;
      if (absOf)
        *absOf = inner;
      return "abs_threshold";
    }
  }
  if (auto relu = a.getDefiningOp<onnx::ReluOp>()) {
    h = relu.getX();
    return "relu";
  }
  // Squared ReLU (Primer; "ReLU^2 wins"): Pow(relu(h), 2) or relu(h) *
  // relu(h), the same exact zeros as ReLU.
  Value base;
  if (auto pw = a.getDefiningOp<onnx::PowOp>();
      pw && (constFloat(pw.getY()) == 2.0 || constInt(pw.getY()) == 2))
    base = pw.getX();
  else if (auto mul = a.getDefiningOp<onnx::MulOp>(); mul && mul.getA() == mul.getB())
    base = mul.getA();
  if (base && base.getDefiningOp() && matchActivation(base, h) == "relu")
    return "relu2";
  h = a;
  if (auto mx = a.getDefiningOp<onnx::MaxOp>(); mx && mx.getData_0().size() == 2) {
    for (int i = 0; i < 2; ++i)
      if (constFloat(mx.getData_0()[i]) == 0.0) {
        h = mx.getData_0()[1 - i];
        return "relu";
      }
  }
  if (auto clip = a.getDefiningOp<onnx::ClipOp>();
      clip && clip.getMin() && constFloat(clip.getMin()) == 0.0 && !clip.getMax()) {
    h = clip.getInput();
    return "relu";
  }
  if (auto gelu = a.getDefiningOp<onnx::GeluOp>()) {
    h = gelu.getX();
    return gelu.getApproximate() == "tanh" ? "gelu_tanh" : "gelu";
  }
  SmallVector<Value> leaves;
  mulLeaves(a, 2, leaves);
  if (leaves.size() == 2) {
    // silu: h * sigmoid(h); with |alpha| also h * sigmoid(c * h).
    for (int i = 0; i < 2; ++i) {
      auto sig = leaves[i].getDefiningOp<onnx::SigmoidOp>();
      if (!sig)
        continue;
      if (sig.getX() == leaves[1 - i]) {
        h = leaves[1 - i];
        if (alpha)
          *alpha = 1.0;
        return "silu";
      }
      if (auto scaled = operandsWith<onnx::MulOp>(
              sig.getX(), [](Value v) { return constFloat(v).has_value(); });
          alpha && scaled && scaled->second == leaves[1 - i] &&
          rankOf(scaled->first) <= 1) {
        h = leaves[1 - i];
        *alpha = *constFloat(scaled->first);
        return "silu";
      }
    }
  }
  if (leaves.size() == 3) {
    // erf gelu: h * (1 + erf(h / sqrt(2))) * 0.5 in any grouping; tanh
    // gelu (GPT-2's gelu_new, torch's approximate="tanh" below opset 20):
    // h * (1 + tanh(sqrt(2 / pi) * (h + 0.044715 h^3))) * 0.5.
    Value half, onePlus, x;
    for (Value l : leaves) {
      if (constFloat(l) == 0.5)
        half = l;
      else if (auto add = operandsWith<onnx::AddOp>(
                   l, [](Value v) {
                     return bool(v.getDefiningOp<onnx::ErfOp>()) ||
                            bool(v.getDefiningOp<onnx::TanhOp>());
                   });
               add && constFloat(add->second) == 1.0)
        onePlus = add->first;
      else
        x = l;
    }
    if (auto th = half && onePlus && x ? onePlus.getDefiningOp<onnx::TanhOp>() : onnx::TanhOp()) {
      auto near = [](std::optional<double> c, double want) {
        return c && std::abs(*c - want) < 1e-4 * want;
      };
      // x^3: Pow(x, 3) or a product of three x.
      auto cube = [&](Value v) {
        if (auto pw = v.getDefiningOp<onnx::PowOp>())
          return pw.getX() == x && (constFloat(pw.getY()) == 3.0 || constInt(pw.getY()) == 3);
        SmallVector<Value> xs;
        mulLeaves(v, 2, xs);
        return xs.size() == 3 && llvm::all_of(xs, [&](Value l) { return l == x; });
      };
      auto scaled = operandsWith<onnx::MulOp>(
          th->getOperand(0), [&](Value v) { return near(constFloat(v), 0.7978845608); });
      auto inner = scaled ? operandsWith<onnx::AddOp>(scaled->second,
                                                      [&](Value v) { return v == x; })
                          : std::nullopt;
      auto cubic = inner ? operandsWith<onnx::MulOp>(
                               inner->second,
                               [&](Value v) { return near(constFloat(v), 0.044715); })
                         : std::nullopt;
      if (cubic && cube(cubic->second)) {
        h = x;
        return "gelu_tanh";
      }
      return "identity";
    }
    if (half && onePlus && x) {
      Value arg = onePlus.getDefiningOp<onnx::ErfOp>().getX();
      bool scaled = false;
      if (auto d = arg.getDefiningOp<onnx::DivOp>())
        scaled = d.getA() == x && constFloat(d.getB()) &&
                 std::abs(*constFloat(d.getB()) - 1.41421356) < 1e-4;
      if (auto m = operandsWith<onnx::MulOp>(arg, [&](Value v) { return v == x; }))
        scaled = constFloat(m->second) &&
                 std::abs(*constFloat(m->second) - 0.70710678) < 1e-4;
      if (scaled) {
        h = x;
        return "gelu";
      }
    }
  }
  return "identity";
}

/// An expert FFN producing |y|.
/// Clip(x, lo, hi) with constant bounds (absent: infinite): x and them.
static std::optional<std::tuple<Value, double, double>> clipped(Value v) {
  auto clip = v ? v.getDefiningOp<onnx::ClipOp>() : onnx::ClipOp();
  if (!clip)
    return std::nullopt;
  double inf = std::numeric_limits<double>::infinity();
  std::optional<double> lo = clip.getMin() ? constFloat(clip.getMin()) : -inf;
  std::optional<double> hi = clip.getMax() ? constFloat(clip.getMax()) : inf;
  if (!lo || !hi)
    return std::nullopt;
  return std::make_tuple(clip.getInput(), *lo, *hi);
}

std::optional<ExpertFFN> matchFFN(Value y, bool clamped) {
  ExpertFFN f;
  auto p2 = matchProjection(y);
  if (!p2)
    return std::nullopt;
  f.p2 = *p2;
  Value a = peelUnitRoundTrip(p2->in);
  // Gated: act(in W1) * (in W3).
  if (auto mul = a.getDefiningOp<onnx::MulOp>()) {
    for (int i = 0; i < 2; ++i) {
      Value gateSide = mul->getOperand(i), linSide = mul->getOperand(1 - i);
      Value h;
      double threshold = 0;
      bool nanActive = false;
      StringRef absOf = "identity";
      double alpha = 1.0;
      StringRef act = matchActivation(gateSide, h, &threshold, &nanActive, &absOf, &alpha);
      if (act == "identity")
        continue;
      // GPT-OSS: (Clip(u, -L, L) + beta) * act(Clip(g, max = L)).
      std::optional<double> limit;
      double beta = 0.0;
      if (clamped) {
        if (auto add = operandsWith<onnx::AddOp>(
                linSide, [](Value c) { return constFloat(c).has_value() && rankOf(c) <= 1; })) {
          beta = *constFloat(add->first);
          linSide = add->second;
        }
        auto cg = clipped(h), cu = clipped(linSide);
        if (cg || cu) {
          double inf = std::numeric_limits<double>::infinity();
          if (!cg || !cu || std::get<1>(*cg) != -inf || std::get<2>(*cg) != std::get<2>(*cu) ||
              std::get<1>(*cu) != -std::get<2>(*cu) || !(std::get<2>(*cu) > 0) ||
              std::isinf(std::get<2>(*cu)))
            continue;
          limit = std::get<2>(*cu);
          h = std::get<0>(*cg);
          linSide = std::get<0>(*cu);
        }
      }
      // dReLU (TurboSparse): both halves through a ReLU.
      bool reluUp = false;
      if (auto r = linSide.getDefiningOp<onnx::ReluOp>(); r && act == "relu") {
        linSide = r.getX();
        reluUp = true;
      }
      auto p1 = matchProjection(h), p3 = matchProjection(linSide);
      if (p1 && p3 && p1->in == p3->in) {
        f.reluUp = reluUp;
        f.p1 = *p1;
        f.p3 = *p3;
        f.act = act;
        f.actOut = gateSide;
        f.threshold = threshold;
        f.nanActive = nanActive;
        f.absOf = absOf;
        f.alpha = alpha;
        f.limit = limit;
        f.beta = beta;
        f.in = p1->in;
        return f;
      }
    }
  }
  Value h;
  f.act = matchActivation(a, h, &f.threshold, &f.nanActive, &f.absOf, &f.alpha);
  f.actOut = a;
  auto p1 = matchProjection(h);
  if (!p1)
    return std::nullopt;
  f.p1 = *p1;
  f.in = p1->in;
  return f;
}

/// A dense_resource onnx.Constant of |type| holding |bytes|.
Value bytesConstant(OpBuilder &b, Location loc, RankedTensorType type,
                           ArrayRef<char> bytes) {
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(bytes.size(), 64);
  std::memcpy(blob.getMutableData().data(), bytes.data(), bytes.size());
  auto attr = DenseResourceElementsAttr::get(type, "experts", std::move(blob));
  return onnx::ConstantOp::create(b, loc, type, attr);
}

/// The bytes of the static onnx.Constant |v| (byte-sized elements), or
/// failure.
FailureOr<SmallVector<char>> constantBytes(Value v) {
  auto cst = v ? v.getDefiningOp<onnx::ConstantOp>() : onnx::ConstantOp();
  if (!cst || !cast<RankedTensorType>(cst.getType()).hasStaticShape())
    return failure();
  SmallVector<char> storage;
  auto bytes = onnx::getConstantBytes(cst.getValue(), storage);
  if (failed(bytes))
    return failure();
  return SmallVector<char>(bytes->begin(), bytes->end());
}

/// |w| [A, B] as [B, A] (an onnx.Transpose weight preparation folds).
Value transpose2D(OpBuilder &b, Location loc, Value w) {
  auto t = cast<RankedTensorType>(w.getType());
  auto rt = RankedTensorType::get({t.getDimSize(1), t.getDimSize(0)}, t.getElementType());
  return onnx::TransposeOp::create(b, loc, rt, w, b.getDenseI64ArrayAttr({1, 0}));
}

/// Re-emits activation |act| on |h| as onnx ops.
Value emitActivation(OpBuilder &b, Location loc, StringRef act, Value h) {
  if (act == "relu")
    return onnx::ReluOp::create(b, loc, h.getType(), h);
  if (act == "relu2") {
    Value r = onnx::ReluOp::create(b, loc, h.getType(), h);
    return onnx::MulOp::create(b, loc, h.getType(), r, r);
  }
  if (act == "silu")
    return onnx::MulOp::create(b, loc, h.getType(), h,
                               onnx::SigmoidOp::create(b, loc, h.getType(), h));
  if (act == "gelu" || act == "gelu_tanh")
    return onnx::GeluOp::create(b, loc, h.getType(), h,
                                b.getStringAttr(act == "gelu" ? "none" : "tanh"));
  return h;
}


void eraseDeadProducers(Operation *op, llvm::DenseSet<Operation *> &erased) {
  if (!op->use_empty() || !isPure(op))
    return;
  SmallVector<Operation *> producers;
  for (Value v : op->getOperands())
    if (Operation *d = v.getDefiningOp())
      producers.push_back(d);
  erased.insert(op);
  op->erase();
  for (Operation *d : producers)
    if (!erased.contains(d))
      eraseDeadProducers(d, erased);
}

/// `Squeeze(Unsqueeze(u, a), a)` (the dynamo exporter's round trips
/// through a unit axis) as u; any other |v| as itself.
Value peelUnitRoundTrip(Value v) {
  auto sq = v ? v.getDefiningOp<onnx::SqueezeOp>() : onnx::SqueezeOp();
  auto un = sq ? sq.getData().getDefiningOp<onnx::UnsqueezeOp>() : onnx::UnsqueezeOp();
  if (!un)
    return v;
  int64_t rank = rankOf(un);
  std::optional<int64_t> a = singleAxis(sq, rank), b = singleAxis(un, rank);
  return a && a == b && un.getData().getType() == v.getType() ? un.getData() : v;
}

/// Half |i| of the static constant |c| along |axis|: the first or second
/// half of the axis, or with |interleaved| its even or odd entries; null
/// when the bytes are not at hand.
static Value constantHalf(OpBuilder &b, Location loc, Value c, int64_t axis, int64_t i,
                          bool interleaved) {
  auto t = dyn_cast<RankedTensorType>(c.getType());
  FailureOr<SmallVector<char>> bytes = constantBytes(c);
  if (!t || failed(bytes) || axis < 0 || axis >= t.getRank() ||
      t.getDimSize(axis) % 2 != 0 || t.getElementTypeBitWidth() % 8 != 0 ||
      (int64_t)bytes->size() != t.getNumElements() * (t.getElementTypeBitWidth() / 8))
    return Value();
  int64_t outer = 1, inner = t.getElementTypeBitWidth() / 8;
  for (int64_t d = 0; d < axis; ++d)
    outer *= t.getDimSize(d);
  for (int64_t d = axis + 1; d < t.getRank(); ++d)
    inner *= t.getDimSize(d);
  int64_t n = t.getDimSize(axis), m = n / 2;
  SmallVector<char> out;
  out.reserve(outer * m * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < m; ++j) {
      int64_t src = interleaved ? 2 * j + i : i * m + j;
      const char *p = bytes->data() + (o * n + src) * inner;
      out.append(p, p + inner);
    }
  SmallVector<int64_t> shape(t.getShape());
  shape[axis] = m;
  return bytesConstant(b, loc, RankedTensorType::get(shape, t.getElementType()), out);
}

/// |t| with dim |d| (negative: from the end) divided by two.
static RankedTensorType halved(Type type, int64_t d) {
  auto t = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(t.getShape());
  if (d < 0)
    d += t.getRank();
  if (!ShapedType::isDynamic(shape[d]))
    shape[d] /= 2;
  return RankedTensorType::get(shape, t.getElementType());
}

/// |rows| (a Gather / GatherND of constant rows) with the constant's
/// |axis| halved (|i|, |interleaved| as constantHalf), the same indices.
static Value gatheredHalf(OpBuilder &b, Value rows, int64_t axis, int64_t i,
                          bool interleaved) {
  auto g = gatheredRows(rows);
  if (!g || !isConstant(g->first))
    return Value();
  Value part = constantHalf(b, rows.getLoc(), g->first, axis, i, interleaved);
  if (!part)
    return Value();
  Operation *gather = b.clone(*rows.getDefiningOp());
  gather->setOperand(0, part);
  // The gathered value keeps the data's trailing axes: |axis| of the data
  // is |axis| + (rank(rows) - rank(data)) of the rows.
  gather->getResult(0).setType(halved(rows.getType(), axis + rankOf(rows) - rankOf(g->first)));
  return gather->getResult(0);
}

/// Half |i| of a projection |v| whose output features are cut in two
/// (halves, or even / odd features with |interleaved|): MatMul by a
/// constant [in, out]; Gemm by a constant (either layout, its bias split
/// too); a batched matrix-vector product on constant rows gathered per
/// pair; any of them plus a constant bias (or one gathered per pair),
/// through unit-axis round trips. Null when |v| is none of these.
static Value projectionHalf(OpBuilder &b, Value v, int64_t i, bool interleaved) {
  v = peelUnitRoundTrip(v);
  Location loc = v.getLoc();
  auto splitBias = [&](Value bias) -> Value {
    auto bt = dyn_cast<RankedTensorType>(bias.getType());
    if (!bt || bt.getRank() == 0 || bt.getShape().back() == 1)
      return bias; // broadcast: the same for both halves
    if (!isConstant(bias))
      return gatheredHalf(b, bias, rankOf(bias) - 1, i, interleaved);
    return constantHalf(b, loc, bias, bt.getRank() - 1, i, interleaved);
  };
  if (auto add = v.getDefiningOp<onnx::AddOp>()) {
    for (int o = 0; o < 2; ++o) {
      Value bias = add->getOperand(1 - o);
      auto rows = gatheredRows(bias);
      bool gathered = rows && isConstant(rows->first) && rankOf(rows->first) == 2;
      if (!(isConstant(bias) && rankOf(bias) <= 1) && !gathered)
        continue;
      Value half = projectionHalf(b, add->getOperand(o), i, interleaved);
      Value hb = half ? splitBias(bias) : Value();
      if (!half || !hb)
        return Value();
      return onnx::AddOp::create(b, loc, halved(v.getType(), -1), half, hb);
    }
    return Value();
  }
  if (auto mm = v.getDefiningOp<onnx::MatMulOp>(); mm && rankOf(mm.getB()) == 2) {
    Value w = constantHalf(b, loc, mm.getB(), 1, i, interleaved);
    return w ? onnx::MatMulOp::create(b, loc, halved(v.getType(), -1), mm.getA(), w)
             : Value();
  }
  if (auto gemm = v.getDefiningOp<onnx::GemmOp>(); gemm && !gemm.getTransA()) {
    Value w = constantHalf(b, loc, gemm.getB(), gemm.getTransB() ? 0 : 1, i, interleaved);
    Value c = gemm.getC();
    if (c && (!isConstant(c) || rankOf(c) > 2 || !(c = splitBias(c))))
      return Value();
    if (!w)
      return Value();
    auto g = cast<onnx::GemmOp>(b.clone(*gemm));
    g->setOperand(1, w);
    if (c)
      g->setOperand(2, c);
    g.getResult().setType(halved(v.getType(), -1));
    return g.getResult();
  }
  // Squeeze(MatMul(W[idx], Unsqueeze(x))) / Squeeze(MatMul(Unsqueeze(x), W[idx])).
  auto bmv = batchedMatVec(v);
  if (!bmv)
    return Value();
  int64_t d = bmv->transposed ? 1 : 2; // the out axis of W [S, out, in] / [S, in, out]
  auto rows = gatheredRows(bmv->weight);
  if (!rows || rankOf(rows->first) != 3)
    return Value();
  Value g = gatheredHalf(b, bmv->weight, d, i, interleaved);
  if (!g)
    return Value();
  auto sq = v.getDefiningOp<onnx::SqueezeOp>();
  auto mm = sq.getData().getDefiningOp<onnx::MatMulOp>();
  Operation *m = b.clone(*mm);
  m->setOperand(bmv->transposed ? 0 : 1, g);
  m->getResult(0).setType(halved(mm.getType(), d));
  Operation *s = b.clone(*sq);
  s->setOperand(0, m->getResult(0));
  s->getResult(0).setType(halved(v.getType(), -1));
  return s->getResult(0);
}

/// The two Slices that cut |in|'s last axis in two, as TorchScript writes
/// chunk(2, -1): [0, n/2) then [n/2, n) (bounds constants or shape
/// arithmetic, steps 1); or its even and odd entries (`h[..., ::2]`,
/// `h[..., 1::2]`: steps 2, |interleaved|), in that order; nothing else
/// reading |in| but Shapes (for those bounds).
struct SliceHalves {
  onnx::SliceOp first, second;
  bool interleaved = false;
};
static std::optional<SliceHalves> sliceHalves(Value in) {
  int64_t rank = rankOf(in);
  if (rank < 1)
    return std::nullopt;
  int64_t n = cast<RankedTensorType>(in.getType()).getDimSize(rank - 1);
  if (ShapedType::isDynamic(n) || n % 2 != 0)
    return std::nullopt;
  SmallVector<onnx::SliceOp, 2> slices;
  std::optional<double> step;
  for (Operation *user : in.getUsers()) {
    if (isa<onnx::ShapeOp>(user))
      continue;
    auto sl = dyn_cast<onnx::SliceOp>(user);
    if (!sl || sl.getData() != in || !sl.getAxes())
      return std::nullopt;
    auto axes = onnx::getConstantI64Values(sl.getAxes());
    if (failed(axes) || axes->size() != 1 ||
        ((*axes)[0] != -1 && (*axes)[0] != rank - 1))
      return std::nullopt;
    std::optional<double> st = sl.getSteps() ? scalarValue(sl.getSteps()) : 1.0;
    if (!st || (step && *step != *st) || (*st != 1.0 && *st != 2.0))
      return std::nullopt;
    step = st;
    slices.push_back(sl);
  }
  if (slices.size() != 2)
    return std::nullopt;
  if (scalarValue(slices[0].getStarts()) != 0.0)
    std::swap(slices[0], slices[1]);
  std::optional<double> s0 = scalarValue(slices[0].getStarts()),
                        e0 = scalarValue(slices[0].getEnds()),
                        s1 = scalarValue(slices[1].getStarts()),
                        e1 = scalarValue(slices[1].getEnds());
  double half = double(n / 2);
  if (*step == 2.0) {
    if (s0 != 0.0 || s1 != 1.0 || !e0 || !e1 || *e0 < double(n) || *e1 < double(n))
      return std::nullopt;
    return SliceHalves{slices[0], slices[1], true};
  }
  if (s0 != 0.0 || e0 != half || s1 != half || !e1 || *e1 < double(n))
    return std::nullopt;
  return SliceHalves{slices[0], slices[1], false};
}

void splitPackedProjections(Operation *root) {
  llvm::DenseSet<Operation *> erased;
  // Halves taken by two Slices: by projection too.
  SmallVector<SliceHalves> slicePairs;
  root->walk([&](onnx::SliceOp s) {
    if (auto pair = sliceHalves(s.getData()); pair && pair->first == s)
      slicePairs.push_back(*pair);
  });
  for (SliceHalves &pair : slicePairs) {
    Value in = pair.first.getData();
    OpBuilder b(pair.second->isBeforeInBlock(pair.first) ? pair.first : pair.second);
    Value h0 = projectionHalf(b, in, 0, pair.interleaved);
    Value h1 = h0 ? projectionHalf(b, in, 1, pair.interleaved) : Value();
    if (!h0 || !h1 || h0.getType() != pair.first.getType() ||
        h1.getType() != pair.second.getType()) {
      for (Value h : {h0, h1})
        if (h && h.getDefiningOp())
          eraseDeadProducers(h.getDefiningOp(), erased);
      continue;
    }
    pair.first.getResult().replaceAllUsesWith(h0);
    pair.second.getResult().replaceAllUsesWith(h1);
    // The Slices, their bounds' arithmetic, its Shapes, then the packed
    // projection once nothing reads it.
    for (onnx::SliceOp sl : {pair.first, pair.second})
      eraseDeadProducers(sl, erased);
  }
  SmallVector<onnx::SplitOp> splits;
  root->walk([&](onnx::SplitOp s) { splits.push_back(s); });
  for (onnx::SplitOp s : splits) {
    Value in = s.getInput();
    int64_t rank = rankOf(in);
    if (erased.contains(s) || s->getNumResults() != 2 || rank < 2 || !in.hasOneUse() ||
        !in.getDefiningOp())
      continue;
    int64_t axis = s.getAxis() < 0 ? s.getAxis() + rank : s.getAxis();
    int64_t n = cast<RankedTensorType>(in.getType()).getDimSize(rank - 1);
    auto partSize = [&](int r) {
      return cast<RankedTensorType>(s.getResult(r).getType()).getDimSize(rank - 1);
    };
    if (axis != rank - 1 || ShapedType::isDynamic(n) || n % 2 != 0 || partSize(0) != n / 2 ||
        partSize(1) != n / 2)
      continue;
    OpBuilder b(s);
    Value h0 = projectionHalf(b, in, 0, false);
    Value h1 = h0 ? projectionHalf(b, in, 1, false) : Value();
    if (!h0 || !h1 || h0.getType() != s.getResult(0).getType() ||
        h1.getType() != s.getResult(1).getType()) {
      // Nothing half-built stays behind.
      for (Value h : {h0, h1})
        if (h && h.getDefiningOp())
          eraseDeadProducers(h.getDefiningOp(), erased);
      continue;
    }
    s.getResult(0).replaceAllUsesWith(h0);
    s.getResult(1).replaceAllUsesWith(h1);
    erased.insert(s);
    s->erase();
    eraseDeadProducers(in.getDefiningOp(), erased);
  }
}

bool verifiesQuietly(Operation *op) {
  ScopedDiagnosticHandler quiet(op->getContext(), [](Diagnostic &) { return success(); });
  return succeeded(mlir::verify(op, /*verifyRecursively=*/false));
}

} // namespace sparsa::patterns
