//===- ONNXOps.cpp - ONNX dialect ops, verifiers and folders ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Implements the `onnx` dialect: registration, the verifiers that check what
// ONNX's own operator specification requires, and the trivial folders.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "llvm/ADT/StringExtras.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

using namespace mlir;
using namespace sparsa::onnx;

#include "sparsa/Dialect/ONNX/IR/ONNXOpsDialect.cpp.inc"

void ONNXDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "sparsa/Dialect/ONNX/IR/ONNXOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Type sparsa::onnx::getElementTypeForONNXDataType(MLIRContext *ctx, int64_t dt) {
  Builder b(ctx);
  switch (dt) {
  case 1: return b.getF32Type();
  case 2: return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case 3: return b.getIntegerType(8);
  case 4: return IntegerType::get(ctx, 16, IntegerType::Unsigned);
  case 5: return b.getIntegerType(16);
  case 6: return b.getIntegerType(32);
  case 7: return b.getIntegerType(64);
  case 9: return b.getI1Type();
  case 10: return b.getF16Type();
  case 11: return b.getF64Type();
  case 12: return IntegerType::get(ctx, 32, IntegerType::Unsigned);
  case 13: return IntegerType::get(ctx, 64, IntegerType::Unsigned);
  case 16: return b.getBF16Type();
  // 4-bit integers: one byte per element in constants (the value in its
  // low bits, sign-extended for int4), as MLIR stores them.
  case 21: return IntegerType::get(ctx, 4, IntegerType::Unsigned);
  case 22: return b.getIntegerType(4);
  default: return Type();
  }
}

FailureOr<SmallVector<int64_t>> sparsa::onnx::getConstantI64Values(Value value) {
  // Any constant-like producer: onnx.Constant, or arith.constant once the
  // lowering has already rewritten it.
  ElementsAttr elements;
  if (!matchPattern(value, m_Constant(&elements)))
    return failure();
  if (!elements || !isa<IntegerType>(elements.getElementType()))
    return failure();
  unsigned width = elements.getElementType().getIntOrFloatBitWidth();
  if (width != 32 && width != 64)
    return failure();
  // dense_resource blobs do not implement the typed value iterators, so read
  // the raw little-endian bytes for them.
  if (auto res = dyn_cast<DenseResourceElementsAttr>(elements)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return failure();
    ArrayRef<char> data = blob->getData();
    int64_t n = elements.getNumElements();
    if (static_cast<int64_t>(data.size()) != n * (width / 8))
      return failure();
    SmallVector<int64_t> values(n);
    for (int64_t i = 0; i < n; ++i) {
      if (width == 64) {
        std::memcpy(&values[i], data.data() + i * 8, 8);
      } else {
        int32_t v;
        std::memcpy(&v, data.data() + i * 4, 4);
        values[i] = v;
      }
    }
    return values;
  }
  auto dense = dyn_cast<DenseIntElementsAttr>(elements);
  if (!dense)
    return failure();
  SmallVector<int64_t> values;
  for (const APInt &v : dense.getValues<APInt>())
    values.push_back(v.getSExtValue());
  return values;
}

FailureOr<ArrayRef<char>>
sparsa::onnx::getConstantBytes(ElementsAttr attr, SmallVectorImpl<char> &storage) {
  auto type = cast<ShapedType>(attr.getType());
  unsigned bits = type.getElementTypeBitWidth();
  if (bits == 4) // one byte per element
    bits = 8;
  if (bits % 8 != 0)
    return failure();
  size_t expected = static_cast<size_t>(type.getNumElements()) * (bits / 8);
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != expected)
      return failure();
    return blob->getData();
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense)
    return failure();
  ArrayRef<char> raw = dense.getRawData();
  if (!dense.isSplat())
    return raw.size() == expected ? FailureOr<ArrayRef<char>>(raw)
                                  : FailureOr<ArrayRef<char>>(failure());
  storage.clear();
  storage.reserve(expected);
  for (int64_t i = 0, e = type.getNumElements(); i < e; ++i)
    storage.append(raw.begin(), raw.begin() + bits / 8);
  return ArrayRef<char>(storage);
}

FailureOr<SmallVector<int64_t>>
sparsa::onnx::broadcastShapes(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  size_t rank = std::max(lhs.size(), rhs.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t l = i < rank - lhs.size() ? 1 : lhs[i - (rank - lhs.size())];
    int64_t r = i < rank - rhs.size() ? 1 : rhs[i - (rank - rhs.size())];
    if (l == 1)
      out[i] = r;
    else if (r == 1)
      out[i] = l;
    else if (ShapedType::isDynamic(l))
      out[i] = r;
    else if (ShapedType::isDynamic(r) || l == r)
      out[i] = l;
    else
      return failure();
  }
  return out;
}

/// Prints a shape as `2x?x8` for diagnostics.
static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      "x");
  if (shape.empty())
    os << "scalar";
  return s;
}

/// Normalizes |axis| into [0, rank); fails when out of [-rank, rank).
static FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return failure();
  return axis < 0 ? axis + rank : axis;
}

static bool compatibleDims(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

//===----------------------------------------------------------------------===//
// ConstantOp / IdentityOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  Type valueType = getValue().getType();
  if (valueType != getOutput().getType())
    return emitOpError("expected value type (")
           << valueType << ") to match result type (" << getOutput().getType()
           << ")";
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult IdentityOp::verify() {
  if (failed(verifyCompatibleShape(getInput().getType(), getOutput().getType())) ||
      getElementTypeOrSelf(getInput()) != getElementTypeOrSelf(getOutput()))
    return emitOpError("expected result type (")
           << getOutput().getType() << ") to be compatible with input type ("
           << getInput().getType() << ")";
  return success();
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getOutput().getType())
    return getInput();
  return {};
}

OpFoldResult IdentityOp::fold(FoldAdaptor) {
  if (getInput().getType() == getOutput().getType())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// MatMulOp / GemmOp
//===----------------------------------------------------------------------===//

/// numpy matmul operand shapes: rank >= 1, matching contracting dims.
static LogicalResult verifyMatMulShapes(Operation *op, Value a, Value b) {
  auto lhs = dyn_cast<RankedTensorType>(a.getType());
  auto rhs = dyn_cast<RankedTensorType>(b.getType());
  if (!lhs || !rhs)
    return success();
  if (lhs.getRank() == 0 || rhs.getRank() == 0)
    return op->emitOpError("expected operands of rank >= 1 (got ")
           << lhs.getRank() << " and " << rhs.getRank() << ")";
  int64_t kl = lhs.getShape().back();
  int64_t kr = rhs.getRank() == 1 ? rhs.getDimSize(0)
                                  : rhs.getDimSize(rhs.getRank() - 2);
  if (!compatibleDims(kl, kr))
    return op->emitOpError("expected contracting dimensions to match (")
           << kl << " vs " << kr << ")";
  return success();
}

LogicalResult MatMulOp::verify() {
  Type lhsElt = getElementTypeOrSelf(getA()), rhsElt = getElementTypeOrSelf(getB());
  if (lhsElt != rhsElt)
    return emitOpError("expected operand element types to match (")
           << lhsElt << " vs " << rhsElt << ")";
  return verifyMatMulShapes(*this, getA(), getB());
}

LogicalResult GemmOp::verify() {
  auto a = dyn_cast<RankedTensorType>(getA().getType());
  auto b = dyn_cast<RankedTensorType>(getB().getType());
  if (getElementTypeOrSelf(getA()) != getElementTypeOrSelf(getB()))
    return emitOpError("expected operand element types to match (")
           << getElementTypeOrSelf(getA()) << " vs "
           << getElementTypeOrSelf(getB()) << ")";
  if (!a || !b)
    return success();
  if (a.getRank() != 2 || b.getRank() != 2)
    return emitOpError("expected rank-2 A and B (got ")
           << a.getRank() << " and " << b.getRank() << ")";
  int64_t ka = a.getDimSize(getTransA() ? 0 : 1);
  int64_t kb = b.getDimSize(getTransB() ? 1 : 0);
  if (!compatibleDims(ka, kb))
    return emitOpError("expected contracting dimensions to match (")
           << ka << " vs " << kb << ")";
  if (getC()) {
    auto c = dyn_cast<RankedTensorType>(getC().getType());
    int64_t m = a.getDimSize(getTransA() ? 1 : 0);
    int64_t n = b.getDimSize(getTransB() ? 0 : 1);
    if (c && (c.getRank() > 2 ||
              failed(broadcastShapes({m, n}, c.getShape())) ||
              broadcastShapes({m, n}, c.getShape())->size() != 2 ||
              !llvm::all_of(llvm::zip(*broadcastShapes({m, n}, c.getShape()),
                                      ArrayRef<int64_t>{m, n}),
                            [](auto p) {
                              return compatibleDims(std::get<0>(p),
                                                    std::get<1>(p));
                            })))
      return emitOpError("expected C of shape ")
             << shapeStr(c.getShape())
             << " to broadcast unidirectionally to " << shapeStr({m, n});
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Element-wise binary ops
//===----------------------------------------------------------------------===//

/// Shared verifier of Add/Sub/Mul/Div: same element type, broadcastable
/// shapes, and a result of the broadcast rank.
static LogicalResult verifyBinary(Operation *op) {
  Value lhs = op->getOperand(0), rhs = op->getOperand(1);
  Type lhsElt = getElementTypeOrSelf(lhs), rhsElt = getElementTypeOrSelf(rhs);
  if (lhsElt != rhsElt)
    return op->emitOpError("expected operand element types to match (")
           << lhsElt << " vs " << rhsElt << ")";
  if (getElementTypeOrSelf(op->getResult(0)) != lhsElt)
    return op->emitOpError("expected result element type (")
           << getElementTypeOrSelf(op->getResult(0))
           << ") to match operand element type (" << lhsElt << ")";
  auto lt = dyn_cast<RankedTensorType>(lhs.getType());
  auto rt = dyn_cast<RankedTensorType>(rhs.getType());
  if (!lt || !rt)
    return success();
  auto shape = broadcastShapes(lt.getShape(), rt.getShape());
  if (failed(shape))
    return op->emitOpError("operand shapes (")
           << shapeStr(lt.getShape()) << " and " << shapeStr(rt.getShape())
           << ") are not broadcast-compatible";
  auto res = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (res && res.getRank() != static_cast<int64_t>(shape->size()))
    return op->emitOpError("expected result rank ")
           << shape->size() << " (got " << res.getRank() << ")";
  return success();
}

LogicalResult AddOp::verify() { return verifyBinary(*this); }
LogicalResult SubOp::verify() { return verifyBinary(*this); }
LogicalResult MulOp::verify() { return verifyBinary(*this); }
LogicalResult DivOp::verify() { return verifyBinary(*this); }
LogicalResult PReluOp::verify() { return verifyBinary(*this); }

//===----------------------------------------------------------------------===//
// SoftmaxOp
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  auto type = dyn_cast<RankedTensorType>(getInput().getType());
  if (type && failed(normalizeAxis(getAxis(), type.getRank())))
    return emitOpError("axis ") << getAxis() << " is out of range for rank "
                                << type.getRank();
  return success();
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto shapeType = dyn_cast<RankedTensorType>(getShape().getType());
  if (shapeType && shapeType.getRank() != 1)
    return emitOpError("expected shape to be a 1-D tensor (got rank ")
           << shapeType.getRank() << ")";
  auto values = getConstantI64Values(getShape());
  if (succeeded(values)) {
    if (llvm::count(*values, -1) > 1)
      return emitOpError("shape may contain at most one -1");
    auto res = dyn_cast<RankedTensorType>(getReshaped().getType());
    if (res && res.getRank() != static_cast<int64_t>(values->size()))
      return emitOpError("expected result rank ")
             << values->size() << " (got " << res.getRank() << ")";
  }
  if (getElementTypeOrSelf(getData()) != getElementTypeOrSelf(getReshaped()))
    return emitOpError("expected result element type to match data");
  return success();
}

SmallVector<int64_t> TransposeOp::getPermutation() {
  if (auto perm = getPerm())
    return SmallVector<int64_t>(perm->begin(), perm->end());
  auto type = cast<RankedTensorType>(getData().getType());
  return llvm::to_vector(llvm::reverse(llvm::seq<int64_t>(0, type.getRank())));
}

LogicalResult TransposeOp::verify() {
  auto type = dyn_cast<RankedTensorType>(getData().getType());
  if (!type)
    return success();
  auto res = dyn_cast<RankedTensorType>(getTransposed().getType());
  if (res && res.getRank() != type.getRank())
    return emitOpError("expected a result of rank ")
           << type.getRank() << " (got " << res.getRank() << ")";
  // No perm: the dims reversed.
  SmallVector<int64_t> perm =
      getPerm() ? llvm::to_vector(*getPerm())
                : llvm::to_vector(llvm::reverse(llvm::seq<int64_t>(0, type.getRank())));
  if (static_cast<int64_t>(perm.size()) != type.getRank())
    return emitOpError("expected perm of size ")
           << type.getRank() << " (got " << perm.size() << ")";
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t p : perm)
    if (p < 0 || p >= type.getRank() || !seen.insert(p).second)
      return emitOpError("perm is not a permutation of [0, ")
             << type.getRank() << ")";
  if (res)
    for (auto [i, p] : llvm::enumerate(perm))
      if (!compatibleDims(res.getDimSize(i), type.getDimSize(p)))
        return emitOpError("result dimension ")
               << i << " (" << res.getDimSize(i) << ") does not match input dimension "
               << p << " (" << type.getDimSize(p) << ")";
  return success();
}

LogicalResult CastOp::verify() {
  Type target = getElementTypeForONNXDataType(getContext(), getTo());
  if (!target)
    return emitOpError("unsupported target data type ") << getTo();
  if (getElementTypeOrSelf(getOutput()) != target)
    return emitOpError("expected result element type (")
           << getElementTypeOrSelf(getOutput()) << ") to match 'to' (" << target
           << ")";
  return success();
}

SmallVector<int64_t> ConvOp::getStridesOr1() {
  int64_t r = cast<RankedTensorType>(getW().getType()).getRank() - 2;
  if (auto s = getStrides())
    return llvm::to_vector(*s);
  return SmallVector<int64_t>(r, 1);
}

SmallVector<int64_t> ConvOp::getDilationsOr1() {
  int64_t r = cast<RankedTensorType>(getW().getType()).getRank() - 2;
  if (auto d = getDilations())
    return llvm::to_vector(*d);
  return SmallVector<int64_t>(r, 1);
}

FailureOr<SmallVector<int64_t>> ConvOp::getResolvedPads(ArrayRef<int64_t> in) {
  auto wt = cast<RankedTensorType>(getW().getType());
  int64_t r = wt.getRank() - 2;
  StringRef autoPad = getAutoPad();
  if (autoPad == "NOTSET") {
    if (auto p = getPads())
      return llvm::to_vector(*p);
    return SmallVector<int64_t>(2 * r, 0);
  }
  if (autoPad == "VALID")
    return SmallVector<int64_t>(2 * r, 0);
  SmallVector<int64_t> pads(2 * r, 0), st = getStridesOr1(), dl = getDilationsOr1();
  for (int64_t i = 0; i < r; ++i) {
    int64_t k = wt.getDimSize(2 + i);
    if (ShapedType::isDynamic(in[i]) || ShapedType::isDynamic(k))
      return failure();
    int64_t out = (in[i] + st[i] - 1) / st[i];
    int64_t total = std::max<int64_t>((out - 1) * st[i] + (k - 1) * dl[i] + 1 - in[i], 0);
    int64_t small = total / 2, big = total - small;
    pads[i] = autoPad == "SAME_LOWER" ? big : small;
    pads[i + r] = autoPad == "SAME_LOWER" ? small : big;
  }
  return pads;
}

LogicalResult ConvOp::verify() {
  auto xt = dyn_cast<RankedTensorType>(getX().getType());
  auto wt = dyn_cast<RankedTensorType>(getW().getType());
  auto yt = dyn_cast<RankedTensorType>(getY().getType());
  if (!xt || !wt || !yt)
    return emitOpError("expected ranked operands and result");
  int64_t rank = xt.getRank(), r = rank - 2;
  if (rank < 3 || rank > 5 || wt.getRank() != rank || yt.getRank() != rank)
    return emitOpError("expected X, W and Y of one rank 3, 4 or 5 ([N, C, spatial...]; got ")
           << rank << ", " << wt.getRank() << ", " << yt.getRank() << ")";
  if (xt.getElementType() != wt.getElementType() || yt.getElementType() != xt.getElementType())
    return emitOpError("X, W and Y must have one element type");
  int64_t g = getGroup(), C = xt.getDimSize(1), M = wt.getDimSize(0), Cg = wt.getDimSize(1);
  if (g < 1)
    return emitOpError("group must be positive");
  if (ShapedType::isDynamic(M) || ShapedType::isDynamic(Cg) ||
      llvm::any_of(wt.getShape().drop_front(2), ShapedType::isDynamic))
    return emitOpError("the weight shape must be static");
  if (M % g != 0)
    return emitOpError("the ") << M << " output channels do not split into " << g << " groups";
  if (!ShapedType::isDynamic(C) && C != Cg * g)
    return emitOpError("X has ") << C << " channels, W expects " << Cg << " x " << g
                                 << " groups";
  if (getB()) {
    auto bt = dyn_cast<RankedTensorType>(getB().getType());
    if (!bt || bt.getRank() != 1 || (!bt.isDynamicDim(0) && bt.getDimSize(0) != M) ||
        bt.getElementType() != xt.getElementType())
      return emitOpError("the bias must be [") << M << "]";
  }
  auto checkLen = [&](std::optional<ArrayRef<int64_t>> a, StringRef name,
                      int64_t n) -> LogicalResult {
    if (a && (int64_t)a->size() != n)
      return emitOpError(name) << " has " << a->size() << " values (expected " << n << ")";
    return success();
  };
  if (failed(checkLen(getStrides(), "strides", r)) ||
      failed(checkLen(getDilations(), "dilations", r)) ||
      failed(checkLen(getKernelShape(), "kernel_shape", r)) ||
      failed(checkLen(getPads(), "pads", 2 * r)))
    return failure();
  // Sizes far beyond any tensor are errors (and keep the arithmetic below
  // from overflowing).
  constexpr int64_t kMax = int64_t(1) << 28;
  for (int64_t v : getStridesOr1())
    if (v < 1 || v > kMax)
      return emitOpError("strides must be positive (and below 2^28)");
  for (int64_t v : getDilationsOr1())
    if (v < 1 || v > kMax)
      return emitOpError("dilations must be positive (and below 2^28)");
  if (auto p = getPads(); p && llvm::any_of(*p, [](int64_t v) { return v < 0 || v > kMax; }))
    return emitOpError("pads must not be negative (or above 2^28)");
  for (int64_t k : wt.getShape().drop_front(2))
    if (k < 1 || k > kMax)
      return emitOpError("kernel sizes must be positive (and below 2^28)");
  if (auto k = getKernelShape())
    for (int64_t i = 0; i < r; ++i)
      if ((*k)[i] != wt.getDimSize(2 + i))
        return emitOpError("kernel_shape does not match the weight's spatial dims");
  StringRef autoPad = getAutoPad();
  if (autoPad != "NOTSET" && autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER" &&
      autoPad != "VALID")
    return emitOpError("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  for (int64_t d : xt.getShape().drop_front(2))
    if (!ShapedType::isDynamic(d) && d > kMax)
      return emitOpError("spatial sizes must be below 2^28");
  auto pads = getResolvedPads(xt.getShape().drop_front(2));
  if (failed(pads))
    return emitOpError("auto_pad ") << autoPad << " needs static spatial input sizes";
  auto st = getStridesOr1(), dl = getDilationsOr1();
  for (int64_t i = 0; i < r; ++i) {
    int64_t in = xt.getDimSize(2 + i), out = yt.getDimSize(2 + i);
    if (ShapedType::isDynamic(in))
      continue;
    // Every term is below 2^28 (checked above): no overflow in int64.
    int64_t span = in + (*pads)[i] + (*pads)[i + r] - dl[i] * (wt.getDimSize(2 + i) - 1) - 1;
    if (span < 0)
      return emitOpError("the kernel is larger than the padded input along axis ") << 2 + i;
    int64_t want = span / st[i] + 1;
    if (!ShapedType::isDynamic(out) && out != want)
      return emitOpError("expected output size ") << want << " along axis " << 2 + i
                                                   << " (got " << out << ")";
  }
  return success();
}

FailureOr<SmallVector<int64_t>> PadOp::getPaddedAxes() {
  auto in = dyn_cast<RankedTensorType>(getData().getType());
  if (!in)
    return failure();
  int64_t rank = in.getRank();
  SmallVector<int64_t> axes;
  if (!getAxes()) {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
    return axes;
  }
  auto values = getConstantI64Values(getAxes());
  if (failed(values))
    return failure();
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t a : *values) {
    auto norm = normalizeAxis(a, rank);
    if (failed(norm) || !seen.insert(*norm).second)
      return failure();
    axes.push_back(*norm);
  }
  return axes;
}

LogicalResult PadOp::verify() {
  StringRef mode = getMode();
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    return emitOpError("mode must be constant, reflect, edge or wrap (got '") << mode << "')";
  auto in = dyn_cast<RankedTensorType>(getData().getType());
  auto out = dyn_cast<RankedTensorType>(getOutput().getType());
  if (!in || !out)
    return emitOpError("expected ranked data and result");
  if (in.getRank() != out.getRank() || in.getElementType() != out.getElementType())
    return emitOpError("the result must have the data's rank and element type");
  if (getConstantValue()) {
    auto ct = dyn_cast<RankedTensorType>(getConstantValue().getType());
    if (!ct || ct.getElementType() != in.getElementType() || ct.getRank() > 1 ||
        (ct.getRank() == 1 && ct.getDimSize(0) != 1))
      return emitOpError("constant_value must be one element of the data's type");
  }
  auto axes = getPaddedAxes();
  auto pt = dyn_cast<RankedTensorType>(getPads().getType());
  if (!pt || pt.getRank() != 1)
    return emitOpError("pads must be a 1-D tensor");
  // Read element by element: the count must be known (two per axis).
  if (pt.isDynamicDim(0))
    return emitOpError("pads must have a static length");
  if (failed(axes)) {
    // Axes read at run time: their count must be known.
    auto at = dyn_cast<RankedTensorType>(getAxes().getType());
    if (succeeded(getConstantI64Values(getAxes())))
      return emitOpError("axes must be in range and distinct");
    if (!at || at.getRank() != 1 || at.isDynamicDim(0))
      return emitOpError("axes known only at run time need a static count");
    if (pt.getDimSize(0) != 2 * at.getDimSize(0))
      return emitOpError("pads has ") << pt.getDimSize(0) << " values for "
                                      << at.getDimSize(0) << " axes";
    return success();
  }
  int64_t n = axes->size();
  if (pt.getDimSize(0) != 2 * n)
    return emitOpError("pads has ") << pt.getDimSize(0) << " values for " << n
                                    << " axes (expected " << 2 * n << ")";
  if (auto pads = getConstantI64Values(getPads()); succeeded(pads) && (int64_t)pads->size() == 2 * n) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t a = (*axes)[j], d = in.getDimSize(a), r = out.getDimSize(a);
      if (ShapedType::isDynamic(d))
        continue;
      int64_t want;
      if (__builtin_add_overflow(d, (*pads)[j], &want) ||
          __builtin_add_overflow(want, (*pads)[j + n], &want))
        return emitOpError("pads overflow the size of axis ") << a;
      if (want < 0)
        return emitOpError("pads remove more than the ") << d << " elements of axis " << a;
      if (!ShapedType::isDynamic(r) && r != want)
        return emitOpError("expected dimension ") << a << " of size " << want << " (got " << r
                                                   << ")";
    }
  }
  return success();
}

LogicalResult UnsqueezeOp::verify() {
  auto axes = getConstantI64Values(getAxes());
  auto in = dyn_cast<RankedTensorType>(getData().getType());
  auto out = dyn_cast<RankedTensorType>(getExpanded().getType());
  if (failed(axes) || !in || !out)
    return success();
  if (out.getRank() != in.getRank() + static_cast<int64_t>(axes->size()))
    return emitOpError("expected result rank ")
           << in.getRank() + axes->size() << " (got " << out.getRank() << ")";
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t a : *axes) {
    auto norm = normalizeAxis(a, out.getRank());
    if (failed(norm) || !seen.insert(*norm).second)
      return emitOpError("axis ") << a << " is out of range or repeated";
  }
  return success();
}

LogicalResult SqueezeOp::verify() {
  auto in = dyn_cast<RankedTensorType>(getData().getType());
  if (!in || !getAxes())
    return success();
  auto axes = getConstantI64Values(getAxes());
  if (failed(axes))
    return success();
  for (int64_t a : *axes) {
    auto norm = normalizeAxis(a, in.getRank());
    if (failed(norm))
      return emitOpError("axis ") << a << " is out of range for rank "
                                  << in.getRank();
    int64_t d = in.getDimSize(*norm);
    if (!ShapedType::isDynamic(d) && d != 1)
      return emitOpError("cannot squeeze dimension ")
             << *norm << " of size " << d;
  }
  return success();
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError("expected at least one input");
  auto first = dyn_cast<RankedTensorType>(getInputs().front().getType());
  if (!first)
    return success();
  auto axis = normalizeAxis(getAxis(), first.getRank());
  if (failed(axis))
    return emitOpError("axis ") << getAxis() << " is out of range for rank "
                                << first.getRank();
  for (Value v : getInputs().drop_front()) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t)
      continue;
    if (t.getElementType() != first.getElementType())
      return emitOpError("expected all inputs to have element type ")
             << first.getElementType();
    if (t.getRank() != first.getRank())
      return emitOpError("expected all inputs to have rank ")
             << first.getRank() << " (got " << t.getRank() << ")";
    for (int64_t i = 0; i < t.getRank(); ++i)
      if (i != *axis && !compatibleDims(t.getDimSize(i), first.getDimSize(i)))
        return emitOpError("input shapes ")
               << shapeStr(first.getShape()) << " and " << shapeStr(t.getShape())
               << " differ outside the concatenation axis";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// More element-wise ops
//===----------------------------------------------------------------------===//

/// Checks that the ranked operands in |values| broadcast together.
static LogicalResult verifyBroadcastable(Operation *op, ValueRange values) {
  SmallVector<int64_t> shape;
  bool first = true;
  std::string all;
  for (Value v : values) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t)
      return success();
    all += (all.empty() ? "" : ", ") + shapeStr(t.getShape());
    if (first) {
      shape.assign(t.getShape().begin(), t.getShape().end());
      first = false;
      continue;
    }
    auto b = broadcastShapes(shape, t.getShape());
    if (failed(b))
      return op->emitOpError("operand shapes (") << all
                                                 << ") are not broadcast-compatible";
    shape = *b;
  }
  return success();
}

/// All |values| have the element type of the first one.
static LogicalResult verifySameElementType(Operation *op, ValueRange values,
                                           StringRef what) {
  Type first = getElementTypeOrSelf(values.front());
  for (Value v : values.drop_front())
    if (getElementTypeOrSelf(v) != first)
      return op->emitOpError("expected ")
             << what << " element types to match (" << first << " vs "
             << getElementTypeOrSelf(v) << ")";
  return success();
}

/// |axis| is in [-rank, rank) of |v|'s ranked type.
static LogicalResult verifyAxis(Operation *op, Value v, int64_t axis,
                                int64_t extra = 0) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (t && failed(normalizeAxis(axis, t.getRank() + extra)))
    return op->emitOpError("axis ") << axis << " is out of range for rank "
                                    << t.getRank();
  return success();
}

LogicalResult GeluOp::verify() {
  if (getApproximate() != "none" && getApproximate() != "tanh")
    return emitOpError("approximate must be 'none' or 'tanh' (got '")
           << getApproximate() << "')";
  return success();
}

LogicalResult ClipOp::verify() {
  for (Value bound : {getMin(), getMax()}) {
    if (!bound)
      continue;
    if (getElementTypeOrSelf(bound) != getElementTypeOrSelf(getInput()))
      return emitOpError("expected bound element type (")
             << getElementTypeOrSelf(bound) << ") to match input ("
             << getElementTypeOrSelf(getInput()) << ")";
    auto t = dyn_cast<RankedTensorType>(bound.getType());
    if (t && t.hasStaticShape() && t.getNumElements() != 1)
      return emitOpError("expected bounds to be scalars (got ") << t << ")";
  }
  if (getType() != getInput().getType())
    return emitOpError("expected result type to match input");
  return success();
}

LogicalResult PowOp::verify() {
  if (getElementTypeOrSelf(getZ()) != getElementTypeOrSelf(getX()))
    return emitOpError("expected result element type (")
           << getElementTypeOrSelf(getZ()) << ") to match base ("
           << getElementTypeOrSelf(getX()) << ")";
  return verifyBroadcastable(*this, getOperands());
}

static LogicalResult verifyVariadic(Operation *op) {
  if (op->getNumOperands() == 0)
    return op->emitOpError("expected at least one input");
  SmallVector<Value> all(op->getOperands());
  all.push_back(op->getResult(0));
  if (failed(verifySameElementType(op, all, "operand and result")))
    return failure();
  return verifyBroadcastable(op, op->getOperands());
}
LogicalResult MaxOp::verify() { return verifyVariadic(*this); }
LogicalResult MinOp::verify() { return verifyVariadic(*this); }

static LogicalResult verifyCompare(Operation *op, bool logical) {
  if (failed(verifySameElementType(op, op->getOperands(), "operand")))
    return failure();
  if (logical && !getElementTypeOrSelf(op->getOperand(0)).isInteger(1))
    return op->emitOpError("expected bool operands (got ")
           << getElementTypeOrSelf(op->getOperand(0)) << ")";
  return verifyBroadcastable(op, op->getOperands());
}
LogicalResult EqualOp::verify() { return verifyCompare(*this, false); }
LogicalResult GreaterOp::verify() { return verifyCompare(*this, false); }
LogicalResult GreaterOrEqualOp::verify() { return verifyCompare(*this, false); }
LogicalResult LessOp::verify() { return verifyCompare(*this, false); }
LogicalResult LessOrEqualOp::verify() { return verifyCompare(*this, false); }
LogicalResult AndOp::verify() { return verifyCompare(*this, true); }
LogicalResult OrOp::verify() { return verifyCompare(*this, true); }

LogicalResult WhereOp::verify() {
  if (failed(verifySameElementType(*this, {getX(), getY(), getOutput()},
                                   "X, Y and result")))
    return failure();
  return verifyBroadcastable(*this, getOperands());
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

static LogicalResult verifyReduce(Operation *op, Value data, Value axes) {
  auto t = dyn_cast<RankedTensorType>(data.getType());
  if (!t || !axes)
    return success();
  auto values = getConstantI64Values(axes);
  if (failed(values))
    return success();
  llvm::SmallSet<int64_t, 8> seen;
  for (int64_t a : *values) {
    auto norm = normalizeAxis(a, t.getRank());
    if (failed(norm))
      return op->emitOpError("axis ") << a << " is out of range for rank "
                                      << t.getRank();
    if (!seen.insert(*norm).second)
      return op->emitOpError("axis ") << a << " is repeated";
  }
  return success();
}
LogicalResult ReduceSumOp::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceMeanOp::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceMaxOp::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceMinOp::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceProdOp::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceL1Op::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceL2Op::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceSumSquareOp::verify() {
  return verifyReduce(*this, getData(), getAxes());
}
LogicalResult ReduceLogSumOp::verify() { return verifyReduce(*this, getData(), getAxes()); }
LogicalResult ReduceLogSumExpOp::verify() {
  return verifyReduce(*this, getData(), getAxes());
}

LogicalResult ArgMaxOp::verify() { return verifyAxis(*this, getData(), getAxis()); }
LogicalResult LogSoftmaxOp::verify() { return verifyAxis(*this, getInput(), getAxis()); }

LogicalResult LayerNormalizationOp::verify() {
  if (failed(verifyAxis(*this, getX(), getAxis())))
    return failure();
  if (getStatistics().size() > 2)
    return emitOpError("expected at most 2 statistics results (Mean, "
                       "InvStdDev), got ")
           << getStatistics().size();
  SmallVector<Value> v = {getX(), getScale()};
  if (getB())
    v.push_back(getB());
  return verifySameElementType(*this, v, "X, Scale and B");
}

//===----------------------------------------------------------------------===//
// Shape and indexing ops
//===----------------------------------------------------------------------===//

LogicalResult FlattenOp::verify() {
  // Flatten's axis may equal the rank (all dims go to the first output dim).
  return verifyAxis(*this, getInput(), getAxis(), /*extra=*/1);
}

LogicalResult SplitOp::verify() {
  if (getOutputs().empty())
    return emitOpError("expected at least one output");
  if (failed(verifyAxis(*this, getInput(), getAxis())))
    return failure();
  auto t = dyn_cast<RankedTensorType>(getInput().getType());
  if (!t || !getSplit())
    return success();
  auto sizes = getConstantI64Values(getSplit());
  if (failed(sizes))
    return success();
  if (sizes->size() != getOutputs().size())
    return emitOpError("expected ") << getOutputs().size()
                                    << " split sizes (got " << sizes->size() << ")";
  int64_t axis = *normalizeAxis(getAxis(), t.getRank());
  int64_t sum = 0;
  for (int64_t v : *sizes)
    sum += v;
  if (!t.isDynamicDim(axis) && sum != t.getDimSize(axis))
    return emitOpError("split sizes add up to ")
           << sum << ", not the dimension size " << t.getDimSize(axis);
  return success();
}

LogicalResult GatherOp::verify() { return verifyAxis(*this, getData(), getAxis()); }

LogicalResult GatherElementsOp::verify() {
  if (failed(verifyAxis(*this, getData(), getAxis())))
    return failure();
  auto d = dyn_cast<RankedTensorType>(getData().getType());
  auto i = dyn_cast<RankedTensorType>(getIndices().getType());
  if (d && i && d.getRank() != i.getRank())
    return emitOpError("expected data and indices of the same rank (got ")
           << d.getRank() << " and " << i.getRank() << ")";
  return success();
}

LogicalResult TopKOp::verify() { return verifyAxis(*this, getX(), getAxis()); }

//===----------------------------------------------------------------------===//
// GatherND / Scatter / Einsum
//===----------------------------------------------------------------------===//

LogicalResult GatherNDOp::verify() {
  auto d = dyn_cast<RankedTensorType>(getData().getType());
  auto i = dyn_cast<RankedTensorType>(getIndices().getType());
  if (!d || !i)
    return success();
  int64_t b = getBatchDims();
  if (i.getRank() < 1)
    return emitOpError("expected indices of rank >= 1");
  if (b < 0 || b >= std::min(d.getRank(), i.getRank()))
    return emitOpError("batch_dims ") << b << " must be less than the ranks of data ("
                                      << d.getRank() << ") and indices (" << i.getRank()
                                      << ")";
  int64_t k = i.getDimSize(i.getRank() - 1);
  if (!ShapedType::isDynamic(k) && (k < 1 || b + k > d.getRank()))
    return emitOpError("index tuples of length ")
           << k << " do not fit data of rank " << d.getRank() << " after " << b
           << " batch dims";
  if (ShapedType::isDynamic(k))
    return emitOpError("the last dimension of indices must be static");
  return success();
}

bool sparsa::onnx::isScatterReduction(StringRef r) {
  return r == "none" || r == "add" || r == "mul" || r == "max" || r == "min";
}

/// What ScatterElements and ScatterND share: a known reduction, the result
/// typed like the data, updates of the data's element type.
static LogicalResult verifyScatter(Operation *op, StringRef reduction, Value data,
                                   Value updates) {
  if (!isScatterReduction(reduction))
    return op->emitOpError("unknown reduction '") << reduction << "'";
  if (op->getResult(0).getType() != data.getType())
    return op->emitOpError("expected result type to match data");
  if (getElementTypeOrSelf(updates) != getElementTypeOrSelf(data))
    return op->emitOpError("expected updates of the data's element type");
  return success();
}

LogicalResult ScatterElementsOp::verify() {
  if (failed(verifyScatter(*this, getReduction(), getData(), getUpdates())))
    return failure();
  auto d = dyn_cast<RankedTensorType>(getData().getType());
  auto i = dyn_cast<RankedTensorType>(getIndices().getType());
  auto u = dyn_cast<RankedTensorType>(getUpdates().getType());
  if (d && i && u && (d.getRank() != i.getRank() || i.getShape() != u.getShape()))
    return emitOpError("expected data, indices and updates of one rank, and "
                       "indices and updates of one shape");
  return verifyAxis(*this, getData(), getAxis());
}

LogicalResult ScatterNDOp::verify() {
  if (failed(verifyScatter(*this, getReduction(), getData(), getUpdates())))
    return failure();
  auto d = dyn_cast<RankedTensorType>(getData().getType());
  auto i = dyn_cast<RankedTensorType>(getIndices().getType());
  auto u = dyn_cast<RankedTensorType>(getUpdates().getType());
  if (!d || !i || !u)
    return success();
  if (i.getRank() < 1 || i.isDynamicDim(i.getRank() - 1))
    return emitOpError("expected indices of rank >= 1 with a static last dimension");
  int64_t k = i.getDimSize(i.getRank() - 1);
  if (k > d.getRank())
    return emitOpError("index tuples of length ") << k << " exceed the data rank "
                                                  << d.getRank();
  if (u.getRank() != i.getRank() - 1 + d.getRank() - k)
    return emitOpError("expected updates of rank ")
           << i.getRank() - 1 + d.getRank() - k << " (got " << u.getRank() << ")";
  return success();
}

FailureOr<EinsumSpec> sparsa::onnx::parseEinsum(StringRef equation,
                                                ArrayRef<int64_t> ranks,
                                                std::string &error) {
  std::string eq;
  for (char c : equation)
    if (c != ' ')
      eq.push_back(c);
  StringRef lhs = eq, rhs;
  bool explicitOut = false;
  if (size_t arrow = lhs.find("->"); arrow != StringRef::npos) {
    rhs = lhs.substr(arrow + 2);
    lhs = lhs.substr(0, arrow);
    explicitOut = true;
  }
  SmallVector<StringRef> terms;
  lhs.split(terms, ',');
  if (terms.size() != ranks.size()) {
    error = "the equation has " + std::to_string(terms.size()) + " input terms for " +
            std::to_string(ranks.size()) + " inputs";
    return failure();
  }
  // Count the letters of each term and size the ellipsis.
  auto letters = [](StringRef t) {
    int64_t n = 0;
    for (char c : t)
      n += llvm::isAlpha(c);
    return n;
  };
  auto valid = [](StringRef t) {
    StringRef rest = t;
    size_t e = rest.find("...");
    if (e != StringRef::npos && rest.substr(e + 3).contains("..."))
      return false;
    for (size_t i = 0; i < t.size(); ++i) {
      if (llvm::isAlpha(t[i]))
        continue;
      if (t.substr(i).starts_with("...")) {
        i += 2;
        continue;
      }
      return false;
    }
    return true;
  };
  EinsumSpec spec;
  SmallVector<int64_t> ellRank(terms.size(), 0);
  for (auto [i, t] : llvm::enumerate(terms)) {
    if (!valid(t)) {
      error = "invalid term '" + t.str() + "'";
      return failure();
    }
    int64_t n = letters(t);
    bool ell = t.contains("...");
    if ((!ell && n != ranks[i]) || (ell && n > ranks[i])) {
      error = "term '" + t.str() + "' does not match input " + std::to_string(i) +
              " of rank " + std::to_string(ranks[i]);
      return failure();
    }
    ellRank[i] = ell ? ranks[i] - n : 0;
    spec.numEllipsisIds = std::max(spec.numEllipsisIds, ellRank[i]);
  }
  int64_t numEll = spec.numEllipsisIds;
  llvm::DenseMap<char, int64_t> ids;
  llvm::DenseMap<char, int64_t> count;
  spec.numIds = numEll;
  auto termIds = [&](StringRef t, int64_t ellN, SmallVector<int64_t> &out,
                     bool isOutput) -> bool {
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '.') {
        for (int64_t e = numEll - ellN; e < numEll; ++e)
          out.push_back(e);
        i += 2;
        continue;
      }
      auto it = ids.find(t[i]);
      if (it == ids.end()) {
        if (isOutput)
          return false;
        it = ids.insert({t[i], spec.numIds++}).first;
      }
      if (!isOutput)
        ++count[t[i]];
      out.push_back(it->second);
    }
    return true;
  };
  for (auto [i, t] : llvm::enumerate(terms)) {
    spec.inputs.emplace_back();
    termIds(t, ellRank[i], spec.inputs.back(), false);
  }
  if (explicitOut) {
    if (!valid(rhs)) {
      error = "invalid output term '" + rhs.str() + "'";
      return failure();
    }
    if (!termIds(rhs, numEll, spec.output, true)) {
      error = "output term '" + rhs.str() + "' uses a letter no input has";
      return failure();
    }
    llvm::SmallDenseSet<int64_t> seen;
    for (int64_t id : spec.output)
      if (!seen.insert(id).second) {
        error = "output term '" + rhs.str() + "' repeats a letter";
        return failure();
      }
  } else {
    for (int64_t e = 0; e < numEll; ++e)
      spec.output.push_back(e);
    SmallVector<char> once;
    for (auto [c, n] : count)
      if (n == 1)
        once.push_back(c);
    llvm::sort(once);
    for (char c : once)
      spec.output.push_back(ids[c]);
  }
  return spec;
}

LogicalResult EinsumOp::verify() {
  SmallVector<int64_t> ranks;
  for (Value v : getInputs()) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t)
      return success();
    ranks.push_back(t.getRank());
  }
  if (ranks.empty())
    return emitOpError("expected at least one input");
  std::string error;
  auto spec = parseEinsum(getEquation(), ranks, error);
  if (failed(spec))
    return emitOpError("equation '") << getEquation() << "': " << error;
  auto r = dyn_cast<RankedTensorType>(getType());
  if (r && r.getRank() != static_cast<int64_t>(spec->output.size()))
    return emitOpError("expected a result of rank ") << spec->output.size();
  SmallVector<Value> all(getInputs());
  all.push_back(getOutput());
  return verifySameElementType(*this, all, "input and result");
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

/// Scale / zero point shapes: scalar, 1-D along |axis|, or blocked.
static LogicalResult verifyQuantParams(Operation *op, Value x, Value scale, Value zp,
                                       int64_t axis, int64_t blockSize) {
  if (zp && scale.getType() != zp.getType() &&
      cast<ShapedType>(scale.getType()).getShape() != cast<ShapedType>(zp.getType()).getShape())
    return op->emitOpError("expected the scale and zero point of one shape");
  auto xT = dyn_cast<RankedTensorType>(x.getType());
  auto sT = dyn_cast<RankedTensorType>(scale.getType());
  if (!xT || !sT)
    return success();
  if (blockSize < 0)
    return op->emitOpError("block_size must be >= 0 (got ") << blockSize << ")";
  bool scalar = sT.getRank() == 0 || (sT.getRank() == 1 && sT.getDimSize(0) == 1);
  if (scalar && blockSize == 0)
    return success();
  if (failed(verifyAxis(op, x, axis)))
    return failure();
  int64_t a = *normalizeAxis(axis, xT.getRank());
  if (blockSize == 0) {
    if (sT.getRank() != 1)
      return op->emitOpError("expected a scalar or 1-D scale without block_size (got rank ")
             << sT.getRank() << ")";
    if (!sT.isDynamicDim(0) && !xT.isDynamicDim(a) && sT.getDimSize(0) != xT.getDimSize(a))
      return op->emitOpError("expected ")
             << xT.getDimSize(a) << " scales along axis " << a << " (got "
             << sT.getDimSize(0) << ")";
    return success();
  }
  if (sT.getRank() != xT.getRank())
    return op->emitOpError("blocked scales must have the input's rank ")
           << xT.getRank() << " (got " << sT.getRank() << ")";
  for (int64_t d = 0; d < xT.getRank(); ++d) {
    if (xT.isDynamicDim(d) || sT.isDynamicDim(d))
      continue;
    int64_t want = d == a ? llvm::divideCeil(xT.getDimSize(d), blockSize) : xT.getDimSize(d);
    if (sT.getDimSize(d) != want)
      return op->emitOpError("blocked scale dimension ")
             << d << " must be " << want << " (got " << sT.getDimSize(d) << ")";
  }
  return success();
}

LogicalResult QuantizeLinearOp::verify() {
  if (getYZeroPoint() &&
      getElementTypeOrSelf(getYZeroPoint()) != getElementTypeOrSelf(getY()))
    return emitOpError("expected the result element type to match the zero point");
  return verifyQuantParams(*this, getX(), getYScale(), getYZeroPoint(), getAxis(),
                           getBlockSize());
}

LogicalResult DequantizeLinearOp::verify() {
  if (getXZeroPoint() &&
      getElementTypeOrSelf(getXZeroPoint()) != getElementTypeOrSelf(getX()))
    return emitOpError("expected the zero point element type to match the input");
  if (getElementTypeOrSelf(getY()) != getElementTypeOrSelf(getXScale()))
    return emitOpError("expected the result element type to match the scale");
  return verifyQuantParams(*this, getX(), getXScale(), getXZeroPoint(), getAxis(),
                           getBlockSize());
}

LogicalResult MatMulIntegerOp::verify() {
  if (getAZeroPoint() &&
      getElementTypeOrSelf(getAZeroPoint()) != getElementTypeOrSelf(getA()))
    return emitOpError("expected a_zero_point of A's element type");
  if (getBZeroPoint() &&
      getElementTypeOrSelf(getBZeroPoint()) != getElementTypeOrSelf(getB()))
    return emitOpError("expected b_zero_point of B's element type");
  return verifyMatMulShapes(*this, getA(), getB());
}

LogicalResult QLinearMatMulOp::verify() {
  if (getElementTypeOrSelf(getAZeroPoint()) != getElementTypeOrSelf(getA()) ||
      getElementTypeOrSelf(getBZeroPoint()) != getElementTypeOrSelf(getB()) ||
      getElementTypeOrSelf(getYZeroPoint()) != getElementTypeOrSelf(getY()))
    return emitOpError("expected each zero point of its tensor's element type");
  return verifyMatMulShapes(*this, getA(), getB());
}

//===----------------------------------------------------------------------===//
// com.microsoft ops
//===----------------------------------------------------------------------===//

LogicalResult MatMulNBitsOp::verify() {
  int64_t bits = getBits(), bs = getBlockSize(), K = getK(), N = getN();
  if (bits != 2 && bits != 4 && bits != 8)
    return emitOpError("bits must be 2, 4 or 8 (got ") << bits << ")";
  if (bs < 16 || !llvm::isPowerOf2_64(bs))
    return emitOpError("block_size must be a power of two >= 16 (got ") << bs << ")";
  if (K <= 0 || N <= 0)
    return emitOpError("K and N must be positive");
  int64_t kBlocks = llvm::divideCeil(K, bs);
  auto bT = dyn_cast<RankedTensorType>(getB().getType());
  if (bT && bT.hasStaticShape()) {
    SmallVector<int64_t> want = {N, kBlocks, bs * bits / 8};
    if (bT.getShape() != ArrayRef<int64_t>(want))
      return emitOpError("expected B of shape ") << shapeStr(want) << " (got "
                                                 << shapeStr(bT.getShape()) << ")";
  }
  auto sT = dyn_cast<RankedTensorType>(getScales().getType());
  if (sT && sT.hasStaticShape() && sT.getNumElements() != N * kBlocks)
    return emitOpError("expected ") << N * kBlocks << " scales (got "
                                    << sT.getNumElements() << ")";
  if (getElementTypeOrSelf(getScales()) != getElementTypeOrSelf(getA()))
    return emitOpError("expected scales of A's element type");
  if (auto zp = getZeroPoints()) {
    auto zT = dyn_cast<RankedTensorType>(zp.getType());
    bool packed = getElementTypeOrSelf(zp).isUnsignedInteger(8);
    int64_t want = packed ? N * llvm::divideCeil(kBlocks * bits, 8) : N * kBlocks;
    if (zT && zT.hasStaticShape() && zT.getNumElements() != want)
      return emitOpError("expected ") << want << " zero point elements (got "
                                      << zT.getNumElements() << ")";
  }
  auto aT = dyn_cast<RankedTensorType>(getA().getType());
  if (aT && !aT.isDynamicDim(aT.getRank() - 1) && aT.getShape().back() != K)
    return emitOpError("expected A's last dimension to be K = ") << K;
  return success();
}

/// The expert activation of MoE / QMoE: a known kind, a valid SwiGLU
/// layout, and fc3 present exactly for unfused SwiGLU.
static LogicalResult verifyExpertActivation(Operation *op, StringRef act, int64_t fusion,
                                            bool hasFc3) {
  if (act != "relu" && act != "gelu" && act != "silu" && act != "identity" &&
      act != "swiglu")
    return op->emitOpError("unsupported activation_type '") << act << "'";
  if (fusion < 0 || fusion > 2)
    return op->emitOpError("swiglu_fusion must be 0, 1 or 2");
  bool unfusedSwiglu = act == "swiglu" && fusion == 0;
  if (hasFc3 && !unfusedSwiglu)
    return op->emitOpError("fc3 weights are only used by swiglu with swiglu_fusion = 0");
  if (unfusedSwiglu && !hasFc3)
    return op->emitOpError("swiglu with swiglu_fusion = 0 needs fc3 weights");
  return success();
}

LogicalResult TriluOp::verify() {
  auto t = cast<RankedTensorType>(getInput().getType());
  if (t.getRank() < 2)
    return emitOpError("expected an input of rank >= 2");
  if (Value k = getK())
    if (auto kt = dyn_cast<RankedTensorType>(k.getType());
        kt && (kt.getRank() > 1 || (kt.getRank() == 1 && kt.getDimSize(0) > 1)))
      return emitOpError("k must be a scalar or a 1-element tensor");
  return success();
}

LogicalResult LinearAttentionOp::verify() {
  auto q = dyn_cast<RankedTensorType>(getQuery().getType());
  auto k = dyn_cast<RankedTensorType>(getKey().getType());
  auto v = dyn_cast<RankedTensorType>(getValue().getType());
  int64_t hq = getQNumHeads(), hkv = getKvNumHeads();
  if (!q || !k || !v || q.getRank() != 3 || k.getRank() != 3 || v.getRank() != 3)
    return emitOpError("expected query, key and value packed as [B, T, H * d]");
  auto y = dyn_cast<RankedTensorType>(getOutput().getType());
  auto st = dyn_cast<RankedTensorType>(getPresentState().getType());
  if (!y || y.getRank() != 3 || !st || st.getRank() != 4)
    return emitOpError("expected output [B, T, Hq * dv] and present_state [B, Hkv, dk, dv]");
  if (hq <= 0 || hkv <= 0 || hq % hkv != 0)
    return emitOpError("q_num_heads must be a positive multiple of kv_num_heads");
  int64_t qd = q.getDimSize(2), kd = k.getDimSize(2), vd = v.getDimSize(2);
  if (ShapedType::isDynamic(qd) || ShapedType::isDynamic(kd) || ShapedType::isDynamic(vd))
    return emitOpError("the packed head dims must be static");
  if (qd % hq != 0 || kd % hkv != 0 || vd % hkv != 0 || qd / hq != kd / hkv)
    return emitOpError("expected query [B, T, Hq * dk], key [B, T, Hkv * dk] and value "
                       "[B, T, Hkv * dv]");
  if (qd == 0 || vd == 0)
    return emitOpError("the head dims dk and dv must be positive");
  if (Value past = getPastState()) {
    auto p = dyn_cast<RankedTensorType>(past.getType());
    if (!p || p.getRank() != 4 || (!p.isDynamicDim(1) && p.getDimSize(1) != hkv) ||
        (!p.isDynamicDim(2) && p.getDimSize(2) != qd / hq) ||
        (!p.isDynamicDim(3) && p.getDimSize(3) != vd / hkv))
      return emitOpError("expected past_state [B, Hkv, dk, dv]");
  }
  // Every packed input has the query's batch and sequence dims.
  for (Value in : {getKey(), getValue(), getDecay(), getBeta()}) {
    auto t = in ? dyn_cast<RankedTensorType>(in.getType()) : RankedTensorType();
    if (t && t.getRank() == 3 &&
        (!compatibleDims(t.getDimSize(0), q.getDimSize(0)) ||
         !compatibleDims(t.getDimSize(1), q.getDimSize(1))))
      return emitOpError("expected the key, value, decay and beta to have the query's batch "
                         "and sequence dims [")
             << q.getDimSize(0) << ", " << q.getDimSize(1) << ", ...]";
  }
  StringRef rule = getUpdateRule();
  if (!llvm::is_contained({"linear", "gated", "delta", "gated_delta"}, rule))
    return emitOpError("update_rule '")
           << rule << "' is not one of linear, gated, delta, gated_delta";
  bool gated = rule == "gated" || rule == "gated_delta";
  bool delta = rule == "delta" || rule == "gated_delta";
  if (gated != bool(getDecay()))
    return emitOpError("update_rule '") << rule << (gated ? "' needs" : "' takes no")
                                        << " decay input";
  if (delta != bool(getBeta()))
    return emitOpError("update_rule '") << rule << (delta ? "' needs" : "' takes no")
                                        << " beta input";
  // (kd = Hkv * dk.)
  if (Value decay = getDecay()) {
    auto g = dyn_cast<RankedTensorType>(decay.getType());
    if (!g || g.getRank() != 3 || g.isDynamicDim(2) ||
        (g.getDimSize(2) != hkv && g.getDimSize(2) != kd))
      return emitOpError("expected decay [B, T, Hkv] or [B, T, Hkv * dk] (last dim ")
             << hkv << " or " << kd << ")";
  }
  if (Value beta = getBeta()) {
    auto bt = dyn_cast<RankedTensorType>(beta.getType());
    if (!bt || bt.getRank() != 3 || bt.isDynamicDim(2) ||
        (bt.getDimSize(2) != hkv && bt.getDimSize(2) != 1))
      return emitOpError("expected beta [B, T, Hkv] or [B, T, 1] (last dim ")
             << hkv << " or 1)";
  }
  return success();
}

LogicalResult MoEOp::verify() {
  StringRef act = getActivationType();
  if (failed(verifyExpertActivation(*this, act, getSwigluFusion(),
                                    bool(getFc3ExpertsWeights()))))
    return failure();
  auto w1 = dyn_cast<RankedTensorType>(getFc1ExpertsWeights().getType());
  auto w2 = dyn_cast<RankedTensorType>(getFc2ExpertsWeights().getType());
  auto r = dyn_cast<RankedTensorType>(getRouterProbs().getType());
  auto x = dyn_cast<RankedTensorType>(getInput().getType());
  if (!w1 || !w2 || !r || !x)
    return success();
  if (w1.getRank() != 3 || w2.getRank() != 3 || r.getRank() != 2 ||
      (x.getRank() != 2 && x.getRank() != 3))
    return emitOpError("expected input [T, H] or [B, S, H], router_probs [T, E] "
                       "and expert weights [E, out, in]");
  if (getType() != getInput().getType())
    return emitOpError("expected the result type to match the input");
  int64_t k = getK();
  if (k < 1 || (!r.isDynamicDim(1) && k > r.getDimSize(1)))
    return emitOpError("k = ") << k << " must be in [1, number of experts]";
  auto same = [](int64_t a, int64_t b) {
    return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
  };
  int64_t H = x.getShape().back();
  int64_t inter = w2.getDimSize(2);
  int64_t fc1Rows = (act == "swiglu" && getSwigluFusion() != 0) ? 2 * inter : inter;
  if (!same(w1.getDimSize(0), r.getDimSize(1)) || !same(w2.getDimSize(0), r.getDimSize(1)))
    return emitOpError("expert counts of the weights and router_probs differ");
  if (!same(w1.getDimSize(2), H) || !same(w2.getDimSize(1), H) ||
      !same(w1.getDimSize(1), fc1Rows))
    return emitOpError("expert weight shapes ")
           << shapeStr(w1.getShape()) << " and " << shapeStr(w2.getShape())
           << " do not match hidden size " << H << " and the activation";
  return success();
}

LogicalResult QMoEOp::verify() {
  if (failed(verifyExpertActivation(*this, getActivationType(), getSwigluFusion(),
                                    bool(getFc3ExpertsWeights()))))
    return failure();
  if (bool(getFc3ExpertsWeights()) != bool(getFc3Scales()))
    return emitOpError("fc3 weights and fc3 scales come together");
  int64_t bits = getExpertWeightBits(), bs = getBlockSize();
  if (bits != 2 && bits != 4 && bits != 8)
    return emitOpError("expert_weight_bits must be 2, 4 or 8 (got ") << bits << ")";
  if (bs != 0 && (bs < 16 || !llvm::isPowerOf2_64(bs)))
    return emitOpError("block_size must be 0 or a power of two >= 16 (got ") << bs << ")";
  if (getType() != getInput().getType())
    return emitOpError("expected the result type to match the input");
  auto w1 = dyn_cast<RankedTensorType>(getFc1ExpertsWeights().getType());
  auto s1 = dyn_cast<RankedTensorType>(getFc1Scales().getType());
  if (w1 && s1 && (w1.getRank() != 3 || s1.getRank() != (bs ? 3 : 2)))
    return emitOpError("expected weights [E, out, in * bits / 8] and scales ")
           << (bs ? "[E, out, in / block_size]" : "[E, out]");
  return success();
}

#define GET_OP_CLASSES
#include "sparsa/Dialect/ONNX/IR/ONNXOps.cpp.inc"
