//===- Importer.cpp - ONNX protobuf/text to the onnx dialect ---*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Reads a model with the official ONNX C++ library, runs ONNX shape
// inference, and emits one `onnx` op per node through a (op type, since
// version) handler table. Initializers become `dense_resource` constants;
// graph inputs and outputs become the signature of @main_graph. Every op is
// located at its node's name.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Importer/ONNX/Importer.h"
#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "onnx/defs/parser.h"
#include "onnx/defs/tensor_proto_util.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx/version_converter/convert.h"

#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <functional>
#include <variant>

using namespace mlir;
namespace onnx_ir = sparsa::onnx;
namespace proto = ::onnx;

namespace {

/// Lowest default-domain opset whose semantics the handlers implement;
/// older models are upgraded with ONNX's version converter.
constexpr int64_t kMinOpset = 13;

//===----------------------------------------------------------------------===//
// Import state
//===----------------------------------------------------------------------===//

class GraphImporter;

/// One node being imported: its operands, attributes and location.
struct NodeContext {
  GraphImporter &importer;
  const proto::NodeProto &node;
  Location loc;
  OpBuilder &b;
  int64_t opset;

  /// Operand |i|, or a null value when absent (optional input left empty).
  Value operand(int i) const;
  size_t numOperands() const { return node.input_size(); }
  Type resultType(int i = 0) const;

  const proto::AttributeProto *attr(StringRef name) const {
    for (const auto &a : node.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t intAttr(StringRef name, int64_t dflt) const {
    auto *a = attr(name);
    return a ? a->i() : dflt;
  }
  std::string strAttr(StringRef name, StringRef dflt) const {
    auto *a = attr(name);
    return a ? a->s() : dflt.str();
  }
  float floatAttr(StringRef name, float dflt) const {
    auto *a = attr(name);
    return a ? a->f() : dflt;
  }
  std::optional<SmallVector<int64_t>> intsAttr(StringRef name) const {
    auto *a = attr(name);
    if (!a)
      return std::nullopt;
    return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
  }
  IntegerAttr si64(int64_t v) const {
    return b.getIntegerAttr(b.getIntegerType(64, /*isSigned=*/true), v);
  }
  /// A constant 1-D i64 tensor (for attributes that became inputs).
  Value i64Constant(ArrayRef<int64_t> values) const {
    auto type = RankedTensorType::get({(int64_t)values.size()}, b.getI64Type());
    return onnx_ir::ConstantOp::create(b, loc, type,
                                       DenseIntElementsAttr::get(type, values));
  }
  /// An error at the node naming its op, domain and opset.
  InFlightDiagnostic error() const {
    return emitError(loc) << "onnx." << node.op_type() << " ("
                          << (node.domain().empty() ? "ai.onnx" : node.domain())
                          << " opset " << opset << "): ";
  }
};

/// Results of an imported node, in the order of the node's outputs (trailing
/// optional outputs the op does not produce may be missing).
using Results = SmallVector<Value, 1>;
using Handler = FailureOr<Results> (*)(NodeContext &);

/// A handler valid from opset |sinceVersion| on.
struct HandlerEntry {
  int64_t sinceVersion;
  Handler handler;
};

//===----------------------------------------------------------------------===//
// Handlers, one named function per op
//===----------------------------------------------------------------------===//

template <typename OpTy>
static FailureOr<Results> importUnary(NodeContext &n) {
  return Results{OpTy::create(n.b, n.loc, n.resultType(), n.operand(0)).getResult()};
}

template <typename OpTy>
static FailureOr<Results> importBinary(NodeContext &n) {
  return Results{
      OpTy::create(n.b, n.loc, n.resultType(), n.operand(0), n.operand(1))
          .getResult()};
}

static FailureOr<Results> importGemm(NodeContext &n) {
  return Results{onnx_ir::GemmOp::create(
             n.b, n.loc, n.resultType(), n.operand(0), n.operand(1),
             n.numOperands() > 2 ? n.operand(2) : Value(),
             n.b.getF32FloatAttr(n.floatAttr("alpha", 1.0f)),
             n.b.getF32FloatAttr(n.floatAttr("beta", 1.0f)),
             n.si64(n.intAttr("transA", 0)), n.si64(n.intAttr("transB", 0)))
      .getResult()};
}

static FailureOr<Results> importSoftmax(NodeContext &n) {
  // Opset 13 changed Softmax from "flatten trailing dims at axis (default 1)"
  // to "one axis (default -1)"; models below 13 were upgraded at load.
  return Results{onnx_ir::SoftmaxOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                    n.si64(n.intAttr("axis", -1)))
      .getResult()};
}

static FailureOr<Results> importReshape(NodeContext &n) {
  return Results{onnx_ir::ReshapeOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                    n.operand(1),
                                    n.si64(n.intAttr("allowzero", 0)))
      .getResult()};
}

static FailureOr<Results> importTranspose(NodeContext &n) {
  auto perm = n.intsAttr("perm");
  return Results{onnx_ir::TransposeOp::create(
             n.b, n.loc, n.resultType(), n.operand(0),
             perm ? n.b.getDenseI64ArrayAttr(*perm) : DenseI64ArrayAttr())
      .getResult()};
}

static FailureOr<Results> importCast(NodeContext &n) {
  int64_t to = n.intAttr("to", 0);
  if (!onnx_ir::getElementTypeForONNXDataType(n.b.getContext(), to))
    return n.error() << "unsupported target data type " << to, failure();
  return Results{onnx_ir::CastOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                 n.si64(to), n.si64(n.intAttr("saturate", 1)))
      .getResult()};
}

static FailureOr<Results> importUnsqueeze(NodeContext &n) {
  // Opset 13 moved `axes` from an attribute to an input.
  Value axes = n.numOperands() > 1 ? n.operand(1) : Value();
  if (!axes) {
    auto attr = n.intsAttr("axes");
    if (!attr)
      return n.error() << "missing axes", failure();
    axes = n.i64Constant(*attr);
  }
  return Results{onnx_ir::UnsqueezeOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                      axes)
      .getResult()};
}

static FailureOr<Results> importSqueeze(NodeContext &n) {
  Value axes = n.numOperands() > 1 ? n.operand(1) : Value();
  if (!axes)
    if (auto attr = n.intsAttr("axes"))
      axes = n.i64Constant(*attr);
  return Results{onnx_ir::SqueezeOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                    axes)
      .getResult()};
}

static FailureOr<Results> importConcat(NodeContext &n) {
  SmallVector<Value> inputs;
  for (size_t i = 0; i < n.numOperands(); ++i)
    inputs.push_back(n.operand(i));
  if (!n.attr("axis"))
    return n.error() << "missing required attribute 'axis'", failure();
  return Results{onnx_ir::ConcatOp::create(n.b, n.loc, n.resultType(), inputs,
                                   n.si64(n.intAttr("axis", 0)))
      .getResult()};
}

FailureOr<Results> importConstantNode(NodeContext &n);

/// A scalar constant of |elt| holding |v| (for attributes of old opsets that
/// became inputs).
static Value scalarConstant(NodeContext &n, Type elt, double v) {
  auto type = RankedTensorType::get({}, elt);
  Attribute a = isa<FloatType>(elt) ? Attribute(n.b.getFloatAttr(elt, v))
                                    : Attribute(n.b.getIntegerAttr(elt, (int64_t)v));
  return onnx_ir::ConstantOp::create(n.b, n.loc, type,
                                     DenseElementsAttr::get(type, a));
}

template <typename OpTy>
static FailureOr<Results> importAlphaActivation(NodeContext &n, float dflt) {
  return Results{OpTy::create(n.b, n.loc, n.resultType(), n.operand(0),
                              n.b.getF32FloatAttr(n.floatAttr("alpha", dflt)))
                     .getResult()};
}
static FailureOr<Results> importLeakyRelu(NodeContext &n) {
  return importAlphaActivation<onnx_ir::LeakyReluOp>(n, 0.01f);
}
static FailureOr<Results> importElu(NodeContext &n) {
  return importAlphaActivation<onnx_ir::EluOp>(n, 1.0f);
}
static FailureOr<Results> importConv(NodeContext &n) {
  Value bias = n.numOperands() > 2 ? n.operand(2) : Value();
  auto arr = [&](StringRef name) {
    auto v = n.intsAttr(name);
    return v ? n.b.getDenseI64ArrayAttr(*v) : DenseI64ArrayAttr();
  };
  return Results{onnx_ir::ConvOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                         n.operand(1), bias, n.b.getStringAttr(n.strAttr("auto_pad", "NOTSET")),
                                         arr("dilations"), n.si64(n.intAttr("group", 1)),
                                         arr("kernel_shape"), arr("pads"), arr("strides"))
                     .getResult()};
}
static FailureOr<Results> importPad(NodeContext &n) {
  Value value = n.numOperands() > 2 ? n.operand(2) : Value();
  Value axes = n.numOperands() > 3 ? n.operand(3) : Value();
  return Results{onnx_ir::PadOp::create(n.b, n.loc, n.resultType(), n.operand(0), n.operand(1),
                                        value, axes, n.strAttr("mode", "constant"))
                     .getResult()};
}
static FailureOr<Results> importHardSigmoid(NodeContext &n) {
  return Results{onnx_ir::HardSigmoidOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0),
                     n.b.getF32FloatAttr(n.floatAttr("alpha", 0.2f)),
                     n.b.getF32FloatAttr(n.floatAttr("beta", 0.5f)))
                     .getResult()};
}

static FailureOr<Results> importIsInf(NodeContext &n) {
  return Results{onnx_ir::IsInfOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                          n.si64(n.intAttr("detect_negative", 1)),
                                          n.si64(n.intAttr("detect_positive", 1)))
                     .getResult()};
}

static FailureOr<Results> importGelu(NodeContext &n) {
  auto *a = n.attr("approximate");
  return Results{onnx_ir::GeluOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                         a ? a->s() : std::string("none"))
                     .getResult()};
}

static FailureOr<Results> importClip(NodeContext &n) {
  Value lo = n.numOperands() > 1 ? n.operand(1) : Value();
  Value hi = n.numOperands() > 2 ? n.operand(2) : Value();
  // Before opset 11, min and max were float attributes.
  Type elt = getElementTypeOrSelf(n.operand(0));
  if (n.opset < 11) {
    if (n.attr("min"))
      lo = scalarConstant(n, elt, n.floatAttr("min", 0));
    if (n.attr("max"))
      hi = scalarConstant(n, elt, n.floatAttr("max", 0));
  }
  return Results{
      onnx_ir::ClipOp::create(n.b, n.loc, n.resultType(), n.operand(0), lo, hi)
          .getResult()};
}

template <typename OpTy>
static FailureOr<Results> importVariadic(NodeContext &n) {
  SmallVector<Value> inputs;
  for (size_t i = 0; i < n.numOperands(); ++i)
    inputs.push_back(n.operand(i));
  return Results{OpTy::create(n.b, n.loc, n.resultType(), inputs).getResult()};
}

static FailureOr<Results> importWhere(NodeContext &n) {
  return Results{onnx_ir::WhereOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                          n.operand(1), n.operand(2))
                     .getResult()};
}

/// Reduce*: `axes` is an input from opset 18 (ReduceSum: 13), an attribute
/// before; both become the optional operand.
template <typename OpTy>
static FailureOr<Results> importReduce(NodeContext &n) {
  Value axes = n.numOperands() > 1 ? n.operand(1) : Value();
  if (!axes)
    if (auto attr = n.intsAttr("axes"))
      axes = n.i64Constant(*attr);
  return Results{OpTy::create(n.b, n.loc, n.resultType(), n.operand(0), axes,
                              n.si64(n.intAttr("keepdims", 1)),
                              n.si64(n.intAttr("noop_with_empty_axes", 0)))
                     .getResult()};
}

static FailureOr<Results> importArgMax(NodeContext &n) {
  return Results{onnx_ir::ArgMaxOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0),
                     n.si64(n.intAttr("axis", 0)), n.si64(n.intAttr("keepdims", 1)),
                     n.si64(n.intAttr("select_last_index", 0)))
                     .getResult()};
}

static FailureOr<Results> importLogSoftmax(NodeContext &n) {
  return Results{onnx_ir::LogSoftmaxOp::create(n.b, n.loc, n.resultType(),
                                               n.operand(0),
                                               n.si64(n.intAttr("axis", -1)))
                     .getResult()};
}

static FailureOr<Results> importLayerNorm(NodeContext &n) {
  // The statistics results are a prefix: an unused Mean before a used
  // InvStdDev is still produced (they have the same type).
  Type mean = n.resultType(1), inv = n.resultType(2);
  SmallVector<Type> stats;
  if (mean || inv)
    stats.push_back(mean ? mean : inv);
  if (inv)
    stats.push_back(inv);
  auto op = onnx_ir::LayerNormalizationOp::create(
      n.b, n.loc, n.resultType(0), stats, n.operand(0), n.operand(1),
      n.numOperands() > 2 ? n.operand(2) : Value(), n.si64(n.intAttr("axis", -1)),
      n.b.getF32FloatAttr(n.floatAttr("epsilon", 1e-5f)),
      n.si64(n.intAttr("stash_type", 1)));
  return Results{op.getY(), op.getMean(), op.getInvStdDev()};
}

static FailureOr<Results> importCumSum(NodeContext &n) {
  return Results{onnx_ir::CumSumOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                           n.operand(1),
                                           n.si64(n.intAttr("exclusive", 0)),
                                           n.si64(n.intAttr("reverse", 0)))
                     .getResult()};
}

static FailureOr<Results> importTrilu(NodeContext &n) {
  Value k = n.numOperands() > 1 ? n.operand(1) : Value();
  return Results{onnx_ir::TriluOp::create(n.b, n.loc, n.resultType(), n.operand(0), k,
                                          n.si64(n.intAttr("upper", 1)))
                     .getResult()};
}

static FailureOr<Results> importFlatten(NodeContext &n) {
  return Results{onnx_ir::FlattenOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                            n.si64(n.intAttr("axis", 1)))
                     .getResult()};
}

static FailureOr<Results> importShape(NodeContext &n) {
  auto *end = n.attr("end");
  return Results{onnx_ir::ShapeOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                          n.si64(n.intAttr("start", 0)),
                                          end ? n.si64(end->i()) : IntegerAttr())
                     .getResult()};
}

static FailureOr<Results> importSlice(NodeContext &n) {
  Value starts = n.operand(1), ends = n.numOperands() > 2 ? n.operand(2) : Value();
  Value axes = n.numOperands() > 3 ? n.operand(3) : Value();
  Value steps = n.numOperands() > 4 ? n.operand(4) : Value();
  // Before opset 10, starts/ends/axes were attributes.
  if (n.opset < 10) {
    auto s = n.intsAttr("starts"), e = n.intsAttr("ends");
    if (!s || !e)
      return n.error() << "missing starts or ends", failure();
    starts = n.i64Constant(*s);
    ends = n.i64Constant(*e);
    if (auto a = n.intsAttr("axes"))
      axes = n.i64Constant(*a);
  }
  if (!starts || !ends)
    return n.error() << "missing starts or ends", failure();
  return Results{onnx_ir::SliceOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                          starts, ends, axes, steps)
                     .getResult()};
}

static FailureOr<Results> importSplit(NodeContext &n) {
  // Opset 13 moved `split` from an attribute to an input; 18 added
  // num_outputs (the number of node outputs says the same).
  Value split = n.numOperands() > 1 ? n.operand(1) : Value();
  if (!split)
    if (auto attr = n.intsAttr("split"))
      split = n.i64Constant(*attr);
  SmallVector<Type> types;
  for (int i = 0; i < n.node.output_size(); ++i)
    types.push_back(n.resultType(i));
  if (llvm::any_of(types, [](Type t) { return !t; }))
    return n.error() << "every output of Split must be used", failure();
  auto *num = n.attr("num_outputs");
  auto op = onnx_ir::SplitOp::create(n.b, n.loc, types, n.operand(0), split,
                                     n.si64(n.intAttr("axis", 0)),
                                     num ? n.si64(num->i()) : IntegerAttr());
  return Results(op.getResults().begin(), op.getResults().end());
}

FailureOr<Results> importConstantOfShape(NodeContext &n);

static FailureOr<Results> importRange(NodeContext &n) {
  return Results{onnx_ir::RangeOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                          n.operand(1), n.operand(2))
                     .getResult()};
}

static FailureOr<Results> importDropout(NodeContext &n) {
  // Inference only: ratio is ignored; training_mode must be absent or false.
  if (n.numOperands() > 2 && n.operand(2)) {
    bool isFalse = false;
    if (auto cst = n.operand(2).getDefiningOp<onnx_ir::ConstantOp>())
      if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue()))
        isFalse = dense.getElementType().isInteger(1) && dense.isSplat() &&
                  !dense.getSplatValue<bool>();
    if (!isFalse)
      return n.error() << "training_mode must be a constant false (inference only)",
             failure();
  }
  if (n.intAttr("is_test", 1) == 0 && n.opset < 7)
    return n.error() << "is_test = 0 (training) is not supported", failure();
  Type mask = n.resultType(1);
  auto op = onnx_ir::DropoutOp::create(n.b, n.loc, n.resultType(0), mask,
                                       n.operand(0));
  return Results{op.getOutput(), op.getMask()};
}

template <typename OpTy>
static FailureOr<Results> importAxisIndexing(NodeContext &n) {
  return Results{OpTy::create(n.b, n.loc, n.resultType(), n.operand(0), n.operand(1),
                              n.si64(n.intAttr("axis", 0)))
                     .getResult()};
}

static FailureOr<Results> importOneHot(NodeContext &n) {
  return Results{onnx_ir::OneHotOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                           n.operand(1), n.operand(2),
                                           n.si64(n.intAttr("axis", -1)))
                     .getResult()};
}

static FailureOr<Results> importTopK(NodeContext &n) {
  Value k = n.numOperands() > 1 ? n.operand(1) : Value();
  if (!k) // Before opset 10, k was an attribute.
    k = n.i64Constant({n.intAttr("k", 1)});
  auto op = onnx_ir::TopKOp::create(
      n.b, n.loc, n.resultType(0), n.resultType(1), n.operand(0), k,
      n.si64(n.intAttr("axis", -1)), n.si64(n.intAttr("largest", 1)),
      n.si64(n.intAttr("sorted", 1)));
  return Results{op.getValues(), op.getIndices()};
}

static FailureOr<Results> importGatherND(NodeContext &n) {
  return Results{onnx_ir::GatherNDOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                             n.operand(1),
                                             n.si64(n.intAttr("batch_dims", 0)))
                     .getResult()};
}

/// ScatterElements (and its opset-9 name Scatter); `reduction` arrived in
/// opset 16 (add, mul) and 18 (max, min).
static FailureOr<Results> importScatterElements(NodeContext &n) {
  std::string reduction = n.strAttr("reduction", "none");
  if (!onnx_ir::isScatterReduction(reduction))
    return n.error() << "unsupported reduction '" << reduction << "'", failure();
  return Results{onnx_ir::ScatterElementsOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0), n.operand(1), n.operand(2),
                     n.si64(n.intAttr("axis", 0)), n.b.getStringAttr(reduction))
                     .getResult()};
}

static FailureOr<Results> importScatterND(NodeContext &n) {
  std::string reduction = n.strAttr("reduction", "none");
  if (!onnx_ir::isScatterReduction(reduction))
    return n.error() << "unsupported reduction '" << reduction << "'", failure();
  return Results{onnx_ir::ScatterNDOp::create(n.b, n.loc, n.resultType(), n.operand(0),
                                              n.operand(1), n.operand(2),
                                              n.b.getStringAttr(reduction))
                     .getResult()};
}

static FailureOr<Results> importEinsum(NodeContext &n) {
  SmallVector<Value> inputs;
  for (int i = 0, e = static_cast<int>(n.numOperands()); i < e; ++i)
    inputs.push_back(n.operand(i));
  return Results{onnx_ir::EinsumOp::create(n.b, n.loc, n.resultType(), inputs,
                                           n.b.getStringAttr(n.strAttr("equation", "")))
                     .getResult()};
}

static FailureOr<Results> importQuantizeLinear(NodeContext &n) {
  if (n.intAttr("precision", 0) != 0)
    return n.error() << "the precision attribute is not supported", failure();
  return Results{onnx_ir::QuantizeLinearOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0), n.operand(1),
                     n.numOperands() > 2 ? n.operand(2) : Value(),
                     n.si64(n.intAttr("axis", 1)), n.si64(n.intAttr("block_size", 0)),
                     n.si64(n.intAttr("saturate", 1)))
                     .getResult()};
}

static FailureOr<Results> importDequantizeLinear(NodeContext &n) {
  return Results{onnx_ir::DequantizeLinearOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0), n.operand(1),
                     n.numOperands() > 2 ? n.operand(2) : Value(),
                     n.si64(n.intAttr("axis", 1)), n.si64(n.intAttr("block_size", 0)))
                     .getResult()};
}

static FailureOr<Results> importDynamicQuantizeLinear(NodeContext &n) {
  auto op = onnx_ir::DynamicQuantizeLinearOp::create(
      n.b, n.loc, n.resultType(0), n.resultType(1), n.resultType(2), n.operand(0));
  return Results{op.getY(), op.getYScale(), op.getYZeroPoint()};
}

static FailureOr<Results> importMatMulInteger(NodeContext &n) {
  return Results{onnx_ir::MatMulIntegerOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0), n.operand(1),
                     n.numOperands() > 2 ? n.operand(2) : Value(),
                     n.numOperands() > 3 ? n.operand(3) : Value())
                     .getResult()};
}

static FailureOr<Results> importQLinearMatMul(NodeContext &n) {
  SmallVector<Value> in;
  for (int i = 0; i < 8; ++i)
    in.push_back(n.operand(i));
  return Results{onnx_ir::QLinearMatMulOp::create(n.b, n.loc, n.resultType(), in[0],
                                                  in[1], in[2], in[3], in[4], in[5],
                                                  in[6], in[7])
                     .getResult()};
}


static FailureOr<Results> importMatMulNBits(NodeContext &n) {
  if (n.numOperands() > 4 && n.operand(4))
    return n.error() << "g_idx (act-order) is not supported", failure();
  if (n.intAttr("weight_prepacked", 0) != 0)
    return n.error() << "weight_prepacked = 1 is not supported", failure();
  for (const char *name : {"K", "N", "block_size"})
    if (!n.attr(name))
      return n.error() << "missing required attribute '" << name << "'", failure();
  return Results{onnx_ir::MatMulNBitsOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0), n.operand(1), n.operand(2),
                     n.numOperands() > 3 ? n.operand(3) : Value(),
                     n.numOperands() > 5 ? n.operand(5) : Value(), n.si64(n.intAttr("K", 0)),
                     n.si64(n.intAttr("N", 0)), n.si64(n.intAttr("bits", 4)),
                     n.si64(n.intAttr("block_size", 0)),
                     n.si64(n.intAttr("accuracy_level", 0)))
                     .getResult()};
}

/// LinearAttention (opset 27): the linear, gated, delta and gated_delta
/// update rules (ONNX's default is gated_delta), grouped-query heads, an
/// optional past state; the gated rules take decay (log space), the delta
/// rules beta. The op's verifier checks the rule against the inputs given.
static FailureOr<Results> importLinearAttention(NodeContext &n) {
  std::string rule = n.strAttr("update_rule", "gated_delta");
  if (n.numOperands() > 6)
    return n.error() << "takes at most 6 inputs (query, key, value, past_state, decay, "
                        "beta); the node has "
                     << n.numOperands(),
           failure();
  Value decay = n.numOperands() > 4 ? n.operand(4) : Value();
  Value beta = n.numOperands() > 5 ? n.operand(5) : Value();
  int64_t hq = n.intAttr("q_num_heads", 0), hkv = n.intAttr("kv_num_heads", 0);
  if (hq <= 0 || hkv <= 0 || hq % hkv != 0)
    return n.error() << "q_num_heads (" << hq << ") must be a positive multiple of "
                     << "kv_num_heads (" << hkv << ")",
           failure();
  if (rule != "linear")
    for (Value in : {n.operand(0), n.operand(1), n.operand(2), decay, beta})
      if (in && !getElementTypeOrSelf(in.getType()).isF32())
        return n.error() << "update_rule '" << rule
                         << "' is implemented for float32 inputs only",
               failure();
  Type yType = n.resultType(0), sType = n.resultType(1);
  if (!yType || !sType)
    return n.error() << "cannot type the outputs (the query and value need static last "
                        "dims)",
           failure();
  Value past = n.numOperands() > 3 ? n.operand(3) : Value();
  auto *chunk = n.attr("chunk_size");
  return Results{onnx_ir::LinearAttentionOp::create(
                     n.b, n.loc, yType, sType, n.operand(0), n.operand(1), n.operand(2), past,
                     decay, beta, n.si64(hq), n.si64(hkv),
                     n.b.getF32FloatAttr(n.floatAttr("scale", 0.0f)),
                     chunk ? n.si64(chunk->i()) : IntegerAttr(), n.b.getStringAttr(rule))
                     ->getResults()};
}

static FailureOr<Results> importMoE(NodeContext &n) {
  if (n.intAttr("use_sparse_mixer", 0) != 0)
    return n.error() << "use_sparse_mixer = 1 is not supported", failure();
  if (n.intAttr("swiglu_limit_after_activation", 0) != 0)
    return n.error() << "swiglu_limit_after_activation = 1 is not supported", failure();
  auto opt = [&](int i) {
    return static_cast<int>(n.numOperands()) > i ? n.operand(i) : Value();
  };
  auto *limit = n.attr("swiglu_limit");
  return Results{onnx_ir::MoEOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0), n.operand(1), n.operand(2),
                     n.operand(4), opt(3), opt(5), opt(6), opt(7), n.si64(n.intAttr("k", 1)),
                     n.b.getStringAttr(n.strAttr("activation_type", "relu")),
                     n.si64(n.intAttr("normalize_routing_weights", 0)),
                     n.si64(n.intAttr("swiglu_fusion", 0)),
                     n.b.getF32FloatAttr(n.floatAttr("activation_alpha", 1.0f)),
                     n.b.getF32FloatAttr(n.floatAttr("activation_beta", 0.0f)),
                     limit ? n.b.getF32FloatAttr(limit->f()) : FloatAttr())
                     .getResult()};
}

static FailureOr<Results> importQMoE(NodeContext &n) {
  if (n.strAttr("quant_type", "int") != "int")
    return n.error() << "quant_type '" << n.strAttr("quant_type", "int")
                     << "' is not supported (integer weights only)",
           failure();
  if (n.intAttr("weights_prepacked", -1) != 0)
    return n.error() << "only the raw weight layout (weights_prepacked = 0) is "
                        "supported; execution-provider prepacked layouts are not",
           failure();
  if (n.intAttr("use_sparse_mixer", 0) != 0)
    return n.error() << "use_sparse_mixer = 1 is not supported", failure();
  if (n.intAttr("swiglu_limit_after_activation", 0) != 0)
    return n.error() << "swiglu_limit_after_activation = 1 is not supported", failure();
  int64_t bits = n.intAttr("expert_weight_bits", 4);
  for (const char *name : {"fc1_expert_weight_bits", "fc2_expert_weight_bits",
                           "fc3_expert_weight_bits"})
    if (n.attr(name) && n.attr(name)->i() != bits)
      return n.error() << "per-projection bit widths (" << name << ") are not supported",
             failure();
  for (int i = 14, e = static_cast<int>(n.numOperands()); i < e; ++i)
    if (n.operand(i))
      return n.error() << "input " << i
                       << " (router_weights or FP scales) is not supported",
             failure();
  auto opt = [&](int i) {
    return static_cast<int>(n.numOperands()) > i ? n.operand(i) : Value();
  };
  if (!opt(3) || !opt(6))
    return n.error() << "integer QMoE needs fc1_scales and fc2_scales", failure();
  auto *limit = n.attr("swiglu_limit");
  return Results{onnx_ir::QMoEOp::create(
                     n.b, n.loc, n.resultType(), n.operand(0), n.operand(1), n.operand(2),
                     opt(3), n.operand(5), opt(6), opt(4), opt(7), opt(8), opt(9), opt(10),
                     opt(11), opt(12), opt(13), n.si64(n.intAttr("k", 1)),
                     n.b.getStringAttr(n.strAttr("activation_type", "relu")),
                     n.si64(n.intAttr("normalize_routing_weights", 0)),
                     n.si64(n.intAttr("swiglu_fusion", 0)),
                     n.b.getF32FloatAttr(n.floatAttr("activation_alpha", 1.0f)),
                     n.b.getF32FloatAttr(n.floatAttr("activation_beta", 0.0f)),
                     limit ? n.b.getF32FloatAttr(limit->f()) : FloatAttr(),
                     n.si64(bits), n.si64(n.intAttr("block_size", 0)))
                     .getResult()};
}

/// The handler table key of a node: the op type, prefixed by the domain
/// outside the default one ("com.microsoft.MoE").
static std::string handlerKey(const proto::NodeProto &node) {
  if (node.domain().empty() || node.domain() == "ai.onnx")
    return node.op_type();
  return node.domain() + "." + node.op_type();
}

/// The handler table: op type -> handlers by since-version (ascending).
static const llvm::StringMap<SmallVector<HandlerEntry, 1>> &handlerTable() {
  static const llvm::StringMap<SmallVector<HandlerEntry, 1>> table = [] {
    llvm::StringMap<SmallVector<HandlerEntry, 1>> t;
    auto onOp = [&](StringRef name, int64_t since, Handler h) {
      t[name].push_back({since, h});
    };
    onOp("Add", 7, importBinary<onnx_ir::AddOp>);
    onOp("Cast", 6, importCast);
    onOp("Concat", 4, importConcat);
    onOp("Constant", 1, importConstantNode);
    onOp("Div", 7, importBinary<onnx_ir::DivOp>);
    onOp("Gemm", 7, importGemm);
    onOp("Identity", 1, importUnary<onnx_ir::IdentityOp>);
    onOp("MatMul", 1, importBinary<onnx_ir::MatMulOp>);
    onOp("Mul", 7, importBinary<onnx_ir::MulOp>);
    onOp("Relu", 6, importUnary<onnx_ir::ReluOp>);
    onOp("Reshape", 5, importReshape);
    onOp("Sigmoid", 6, importUnary<onnx_ir::SigmoidOp>);
    onOp("Softmax", 13, importSoftmax);
    onOp("Squeeze", 1, importSqueeze);
    onOp("Sub", 7, importBinary<onnx_ir::SubOp>);
    onOp("Tanh", 6, importUnary<onnx_ir::TanhOp>);
    onOp("Transpose", 1, importTranspose);
    onOp("Unsqueeze", 1, importUnsqueeze);
    onOp("Abs", 6, importUnary<onnx_ir::AbsOp>);
    onOp("And", 7, importBinary<onnx_ir::AndOp>);
    onOp("ArgMax", 11, importArgMax);
    onOp("Clip", 6, importClip);
    onOp("ConstantOfShape", 9, importConstantOfShape);
    onOp("CumSum", 11, importCumSum);
    onOp("Trilu", 14, importTrilu);
    onOp("Dropout", 1, importDropout);
    onOp("Elu", 6, importElu);
    onOp("Equal", 7, importBinary<onnx_ir::EqualOp>);
    onOp("Erf", 9, importUnary<onnx_ir::ErfOp>);
    onOp("Floor", 6, importUnary<onnx_ir::FloorOp>);
    onOp("IsNaN", 9, importUnary<onnx_ir::IsNaNOp>);
    onOp("IsInf", 10, importIsInf);
    onOp("Ceil", 6, importUnary<onnx_ir::CeilOp>);
    onOp("Round", 11, importUnary<onnx_ir::RoundOp>);
    onOp("Sign", 9, importUnary<onnx_ir::SignOp>);
    onOp("Softplus", 1, importUnary<onnx_ir::SoftplusOp>);
    onOp("Softsign", 1, importUnary<onnx_ir::SoftsignOp>);
    onOp("HardSwish", 14, importUnary<onnx_ir::HardSwishOp>);
    onOp("HardSigmoid", 6, importHardSigmoid);
    onOp("Mish", 18, importUnary<onnx_ir::MishOp>);
    onOp("PRelu", 9, importBinary<onnx_ir::PReluOp>);
    onOp("Exp", 6, importUnary<onnx_ir::ExpOp>);
    onOp("Expand", 8, importBinary<onnx_ir::ExpandOp>);
    onOp("Flatten", 1, importFlatten);
    onOp("Gather", 1, importAxisIndexing<onnx_ir::GatherOp>);
    onOp("GatherElements", 11, importAxisIndexing<onnx_ir::GatherElementsOp>);
    onOp("Gelu", 20, importGelu);
    onOp("Greater", 7, importBinary<onnx_ir::GreaterOp>);
    onOp("GreaterOrEqual", 12, importBinary<onnx_ir::GreaterOrEqualOp>);
    onOp("LayerNormalization", 17, importLayerNorm);
    onOp("LeakyRelu", 6, importLeakyRelu);
    onOp("Less", 7, importBinary<onnx_ir::LessOp>);
    onOp("LessOrEqual", 12, importBinary<onnx_ir::LessOrEqualOp>);
    onOp("Log", 6, importUnary<onnx_ir::LogOp>);
    onOp("LogSoftmax", 13, importLogSoftmax);
    onOp("Max", 8, importVariadic<onnx_ir::MaxOp>);
    onOp("Min", 8, importVariadic<onnx_ir::MinOp>);
    onOp("Neg", 6, importUnary<onnx_ir::NegOp>);
    onOp("Not", 1, importUnary<onnx_ir::NotOp>);
    onOp("OneHot", 11, importOneHot);
    onOp("Or", 7, importBinary<onnx_ir::OrOp>);
    onOp("Pow", 7, importBinary<onnx_ir::PowOp>);
    onOp("Range", 11, importRange);
    onOp("Reciprocal", 6, importUnary<onnx_ir::ReciprocalOp>);
    onOp("ReduceMax", 1, importReduce<onnx_ir::ReduceMaxOp>);
    onOp("ReduceMean", 1, importReduce<onnx_ir::ReduceMeanOp>);
    onOp("ReduceMin", 1, importReduce<onnx_ir::ReduceMinOp>);
    onOp("ReduceProd", 1, importReduce<onnx_ir::ReduceProdOp>);
    onOp("ReduceSum", 1, importReduce<onnx_ir::ReduceSumOp>);
    onOp("ReduceL1", 1, importReduce<onnx_ir::ReduceL1Op>);
    onOp("ReduceL2", 1, importReduce<onnx_ir::ReduceL2Op>);
    onOp("ReduceSumSquare", 1, importReduce<onnx_ir::ReduceSumSquareOp>);
    onOp("ReduceLogSum", 1, importReduce<onnx_ir::ReduceLogSumOp>);
    onOp("ReduceLogSumExp", 1, importReduce<onnx_ir::ReduceLogSumExpOp>);
    onOp("Shape", 1, importShape);
    onOp("Size", 1, importUnary<onnx_ir::SizeOp>);
    onOp("Slice", 1, importSlice);
    onOp("Split", 2, importSplit);
    onOp("Sqrt", 6, importUnary<onnx_ir::SqrtOp>);
    onOp("Cos", 7, importUnary<onnx_ir::CosOp>);
    onOp("Sin", 7, importUnary<onnx_ir::SinOp>);
    onOp("Tile", 6, importBinary<onnx_ir::TileOp>);
    onOp("Pad", 11, importPad);
    onOp("Conv", 11, importConv);
    onOp("TopK", 1, importTopK);
    onOp("GatherND", 11, importGatherND);
    onOp("Scatter", 9, importScatterElements);
    onOp("ScatterElements", 11, importScatterElements);
    onOp("ScatterND", 11, importScatterND);
    onOp("NonZero", 9, importUnary<onnx_ir::NonZeroOp>);
    onOp("Einsum", 12, importEinsum);
    onOp("QuantizeLinear", 10, importQuantizeLinear);
    onOp("DequantizeLinear", 10, importDequantizeLinear);
    onOp("DynamicQuantizeLinear", 11, importDynamicQuantizeLinear);
    onOp("MatMulInteger", 10, importMatMulInteger);
    onOp("QLinearMatMul", 10, importQLinearMatMul);
    onOp("com.microsoft.MatMulNBits", 1, importMatMulNBits);
    onOp("com.microsoft.MoE", 1, importMoE);
    onOp("com.microsoft.QMoE", 1, importQMoE);
    onOp("Where", 9, importWhere);
    onOp("LinearAttention", 27, importLinearAttention);
    return t;
  }();
  return table;
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

/// The location diagnostics of |node| carry: its name, or for an unnamed
/// node the name of its first output.
static NameLoc nodeNameLoc(MLIRContext *ctx, const proto::NodeProto &node) {
  StringRef name = node.name();
  if (name.empty() && node.output_size() > 0)
    name = node.output(0);
  return NameLoc::get(StringAttr::get(ctx, name));
}

class GraphImporter {
public:
  GraphImporter(MLIRContext *ctx, StringRef modelPath, bool externalData)
      : ctx(ctx), b(ctx), modelPath(modelPath), externalData(externalData) {}

  OwningOpRef<ModuleOp> import(proto::ModelProto &model);

  Location nodeLoc(const proto::NodeProto &node) { return nodeNameLoc(ctx, node); }
  Location fileLoc() { return FileLineColLoc::get(ctx, modelPath, 0, 0); }

  /// MLIR type of an ONNX TypeProto; null when it is not a tensor of a
  /// supported element type.
  Type convertType(const proto::TypeProto &type);

  FailureOr<Value> importTensor(const proto::TensorProto &tensor, Location loc,
                                ShapedType expected = {});

  MLIRContext *ctx;
  OpBuilder b;
  std::string modelPath;
  /// Whether initializers may live in files next to the model (not for
  /// models imported from memory).
  bool externalData;
  llvm::StringMap<Value> values;
  llvm::StringMap<const proto::TypeProto *> valueTypes;
  const proto::NodeProto *currentNode = nullptr;
};

} // namespace

Value NodeContext::operand(int i) const {
  if (i >= node.input_size() || node.input(i).empty())
    return Value();
  return importer.values.lookup(node.input(i));
}

/// Ops whose first output has the type of their first input: when ONNX
/// 1.12's shape inference does not know the op (newer opsets, e.g. Gelu-20)
/// completeTypes takes the type from the input instead.
static bool resultTypeIsInputType(StringRef opType) {
  static const char *const ops[] = {
      "Abs",  "Clip", "Cos",        "CumSum",  "Dropout",    "Elu",        "Erf", "Sin",
      "Exp",  "Gelu", "Identity",   "LayerNormalization",    "LeakyRelu",
      "Log",  "LogSoftmax",         "Neg",     "Not",        "Reciprocal",
      "Relu", "Sigmoid",            "Softmax", "Sqrt",       "Tanh"};
  return llvm::is_contained(ops, opType);
}

Type NodeContext::resultType(int i) const {
  if (i >= node.output_size() || node.output(i).empty())
    return Type();
  // Every type comes from ONNX's inference, completed by completeTypes for
  // ops newer than the library's schemas.
  auto it = importer.valueTypes.find(node.output(i));
  return it == importer.valueTypes.end() ? Type() : importer.convertType(*it->second);
}

/// A constant int64 vector held by an initializer or Constant node.
static std::optional<std::vector<int64_t>>
constantInts(const proto::GraphProto &graph, const std::string &name) {
  auto read = [](const proto::TensorProto &t) -> std::optional<std::vector<int64_t>> {
    if (t.data_type() != proto::TensorProto::INT64 || t.has_data_location())
      return std::nullopt;
    try {
      return proto::ParseData<int64_t>(&t);
    } catch (const std::exception &) {
      return std::nullopt; // malformed data: the importer reports it later
    }
  };
  for (const auto &t : graph.initializer())
    if (t.name() == name)
      return read(t);
  for (const auto &node : graph.node())
    if (node.op_type() == "Constant" && node.output_size() == 1 && node.output(0) == name)
      for (const auto &a : node.attribute())
        if (a.name() == "value" && a.has_t())
          return read(a.t());
  return std::nullopt;
}

/// Gives types to values ONNX's shape inference left untyped because the
/// op is newer than the library's schemas (Gelu-20, ReduceMean-18 with an
/// axes input, ...): same-type ops take their input's type, reductions with
/// constant axes their reduced shape. Returns whether anything was added;
/// the caller reruns ONNX's inference, which carries on from these types.
static bool completeTypes(proto::ModelProto &model) {
  proto::GraphProto *graph = model.mutable_graph();
  std::map<std::string, proto::TypeProto> known;
  auto note = [&](const proto::ValueInfoProto &vi) {
    if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape())
      known[vi.name()] = vi.type();
  };
  for (const auto &vi : graph->input())
    note(vi);
  for (const auto &t : graph->initializer()) {
    proto::TypeProto type;
    type.mutable_tensor_type()->set_elem_type(t.data_type());
    auto *shape = type.mutable_tensor_type()->mutable_shape();
    for (int64_t d : t.dims())
      shape->add_dim()->set_dim_value(d);
    known.emplace(t.name(), type);
  }
  for (const auto &vi : graph->value_info())
    note(vi);
  for (const auto &vi : graph->output())
    note(vi);
  bool changed = false;
  for (const auto &node : graph->node()) {
    bool allKnown = llvm::all_of(node.output(), [&](const std::string &o) {
      return o.empty() || known.count(o);
    });
    if (node.output_size() == 0 || node.output(0).empty() || allKnown ||
        node.input_size() == 0 || !known.count(node.input(0)))
      continue;
    const proto::TypeProto &in = known[node.input(0)];
    proto::TypeProto out;
    StringRef op = node.op_type();
    if (known.count(node.output(0)) && op != "LinearAttention")
      continue;
    if (op == "LinearAttention" && node.domain().empty()) {
      // output [B, T, Hq * dv], present_state [B, Hkv, dk, dv] from the
      // packed query [B, T, Hq * dk] and value [B, T, Hkv * dv].
      int64_t hq = 0, hkv = 0;
      for (const auto &a : node.attribute()) {
        if (a.name() == "q_num_heads")
          hq = a.i();
        if (a.name() == "kv_num_heads")
          hkv = a.i();
      }
      const auto &qs = in.tensor_type().shape();
      if (hq <= 0 || hkv <= 0 || qs.dim_size() != 3 || node.input_size() < 3 ||
          !known.count(node.input(2)))
        continue;
      const auto &vs = known[node.input(2)].tensor_type().shape();
      if (vs.dim_size() != 3 || !vs.dim(2).has_dim_value() || !qs.dim(2).has_dim_value())
        continue;
      int64_t dk = qs.dim(2).dim_value() / hq, dv = vs.dim(2).dim_value() / hkv;
      proto::TypeProto y = in, st;
      y.mutable_tensor_type()->mutable_shape()->mutable_dim(2)->set_dim_value(hq * dv);
      st.mutable_tensor_type()->set_elem_type(in.tensor_type().elem_type());
      auto *ss = st.mutable_tensor_type()->mutable_shape();
      *ss->add_dim() = qs.dim(0);
      ss->add_dim()->set_dim_value(hkv);
      ss->add_dim()->set_dim_value(dk);
      ss->add_dim()->set_dim_value(dv);
      for (auto [i, t] : {std::pair<int, proto::TypeProto *>{0, &y}, {1, &st}}) {
        if (node.output_size() <= i || node.output(i).empty() || known.count(node.output(i)))
          continue;
        auto *vi = graph->add_value_info();
        vi->set_name(node.output(i));
        *vi->mutable_type() = *t;
        known[node.output(i)] = *t;
      }
      changed = true;
      continue;
    }
    if (resultTypeIsInputType(op) ||
        (node.domain() == "com.microsoft" && (op == "MoE" || op == "QMoE"))) {
      out = in;
    } else if (node.domain() == "com.microsoft" && op == "MatMulNBits") {
      // A [..., K] -> Y [..., N].
      int64_t N = -1;
      for (const auto &a : node.attribute())
        if (a.name() == "N")
          N = a.i();
      if (N < 0 || in.tensor_type().shape().dim_size() == 0)
        continue;
      out = in;
      auto *shape = out.mutable_tensor_type()->mutable_shape();
      shape->mutable_dim(shape->dim_size() - 1)->Clear();
      shape->mutable_dim(shape->dim_size() - 1)->set_dim_value(N);
    } else if (op == "DequantizeLinear" && node.domain().empty()) {
      // 1.12 does not know int4 inputs (opset 21): x's shape, the
      // scale's element type.
      if (node.input_size() < 2 || !known.count(node.input(1)))
        continue;
      out = in;
      out.mutable_tensor_type()->set_elem_type(known[node.input(1)].tensor_type().elem_type());
    } else if (op == "Slice" && node.domain().empty()) {
      // 1.12 gives up on Slice bounds computed at run time (transformers'
      // attention-mask slices): the rank is the input's, dims unknown.
      out.mutable_tensor_type()->set_elem_type(in.tensor_type().elem_type());
      auto *outShape = out.mutable_tensor_type()->mutable_shape();
      for (int i = 0; i < in.tensor_type().shape().dim_size(); ++i)
        outShape->add_dim();
    } else if (op == "Reshape" && node.domain().empty()) {
      // 1.12's data propagation can lose a Reshape whose shape is a Concat
      // of run-time pieces (one an empty Slice of a Shape, as torch writes
      // index_put): the rank is still the shape input's length.
      auto sIt = known.find(node.input_size() > 1 ? node.input(1) : std::string());
      if (sIt == known.end())
        continue;
      const auto &sShape = sIt->second.tensor_type().shape();
      if (sShape.dim_size() != 1 || !sShape.dim(0).has_dim_value())
        continue;
      out.mutable_tensor_type()->set_elem_type(in.tensor_type().elem_type());
      auto *outShape = out.mutable_tensor_type()->mutable_shape();
      for (int64_t i = 0; i < sShape.dim(0).dim_value(); ++i)
        outShape->add_dim();
    } else if (op.starts_with("Reduce")) {
      int64_t keepdims = 1, noop = 0;
      std::optional<std::vector<int64_t>> axes;
      for (const auto &a : node.attribute()) {
        if (a.name() == "keepdims")
          keepdims = a.i();
        if (a.name() == "noop_with_empty_axes")
          noop = a.i();
        if (a.name() == "axes")
          axes = std::vector<int64_t>(a.ints().begin(), a.ints().end());
      }
      if (node.input_size() > 1 && !node.input(1).empty())
        axes = constantInts(*graph, node.input(1));
      if (!axes)
        continue;
      const auto &shape = in.tensor_type().shape();
      int64_t rank = shape.dim_size();
      if (axes->empty() && noop) {
        out = in;
      } else {
        std::set<int64_t> reduced;
        for (int64_t a : *axes)
          reduced.insert(a < 0 ? a + rank : a);
        if (axes->empty())
          for (int64_t i = 0; i < rank; ++i)
            reduced.insert(i);
        out.mutable_tensor_type()->set_elem_type(in.tensor_type().elem_type());
        auto *outShape = out.mutable_tensor_type()->mutable_shape();
        for (int64_t i = 0; i < rank; ++i) {
          if (!reduced.count(i))
            *outShape->add_dim() = shape.dim(i);
          else if (keepdims)
            outShape->add_dim()->set_dim_value(1);
        }
      }
    } else {
      continue;
    }
    auto *vi = graph->add_value_info();
    vi->set_name(node.output(0));
    *vi->mutable_type() = out;
    known[node.output(0)] = out;
    changed = true;
  }
  return changed;
}

/// A Slice start or end |i| over |n| entries as ONNX reads it: negative
/// counts from the end, then clamped into [0, n].
static int64_t clampSliceIndex(int64_t i, int64_t n) {
  if (i < 0)
    i = i < -n ? 0 : i + n;
  return std::min(i, n);
}

/// Exporters write `x.view(B, L, H, -1)` with B and L read from shapes at
/// run time: Reshape(x, Concat(Unsqueeze(Gather(Shape(t), i)), ..., H,
/// -1)). ONNX 1.12 cannot tell the -1 without knowing that B and L are x's
/// own dims, so every head dim after it is unknown (and with it the
/// attention scale, the flow attention's static head dim, ...). This works
/// it out when each run-time piece is a dim of a tensor that matches one of
/// x's dims (the same tensor and dim, or the same dim_param) and the rest
/// is static, and writes it into the Reshape's output type. Returns whether
/// anything changed; the caller reruns ONNX's inference, which carries the
/// dim on to the ops after.
static bool refineReshapes(proto::ModelProto &model) {
  proto::GraphProto *graph = model.mutable_graph();
  std::map<std::string, proto::TypeProto *> types;
  for (auto *list : {graph->mutable_input(), graph->mutable_value_info(), graph->mutable_output()})
    for (auto &vi : *list)
      if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape())
        types[vi.name()] = vi.mutable_type();
  std::map<std::string, const proto::NodeProto *> producer;
  for (const auto &node : graph->node())
    for (const auto &o : node.output())
      producer[o] = &node;
  auto nodeOf = [&](const std::string &name, StringRef op) -> const proto::NodeProto * {
    auto it = producer.find(name);
    return it != producer.end() && it->second->op_type() == op && it->second->domain().empty()
               ? it->second
               : nullptr;
  };
  auto intAttr = [](const proto::NodeProto &n, StringRef name, int64_t dflt) {
    for (const auto &a : n.attribute())
      if (a.name() == name)
        return a.i();
    return dflt;
  };
  // A Shape of the whole tensor (no start or end).
  auto wholeShape = [&](const std::string &name) -> const proto::NodeProto * {
    const proto::NodeProto *sh = nodeOf(name, "Shape");
    if (!sh)
      return nullptr;
    for (const auto &a : sh->attribute())
      if ((a.name() == "start" && a.i() != 0) || a.name() == "end")
        return nullptr;
    return sh;
  };
  // Shape(t)[a:b]: a Slice (axis 0, step 1 or defaults) of a whole Shape,
  // with one start and one end (|starts|, |ends|, read by the caller): t
  // and the dims [a, b) of it, clamped into its rank.
  struct ShapeRange {
    std::string tensor;
    int64_t begin, end;
  };
  auto shapeRange = [&](const proto::NodeProto &slice,
                        const std::optional<std::vector<int64_t>> &starts,
                        const std::optional<std::vector<int64_t>> &ends)
      -> std::optional<ShapeRange> {
    const proto::NodeProto *sh = wholeShape(slice.input(0));
    auto st = sh ? types.find(sh->input(0)) : types.end();
    auto plain = [&](int i, int64_t v) {
      return slice.input_size() <= i || slice.input(i).empty() ||
             constantInts(*graph, slice.input(i)) == std::vector<int64_t>{v};
    };
    if (!sh || st == types.end() || !starts || !ends || starts->size() != 1 ||
        ends->size() != 1 || !plain(3, 0) || !plain(4, 1))
      return std::nullopt;
    int64_t rank = st->second->tensor_type().shape().dim_size();
    return ShapeRange{sh->input(0), clampSliceIndex((*starts)[0], rank),
                      clampSliceIndex((*ends)[0], rank)};
  };
  // A dim: a static size, or a symbolic key ("p:" dim_param, "t:" tensor
  // and index), or nothing when unknown.
  using Dim = std::variant<std::monostate, int64_t, std::string>;
  auto dimOf = [&](const std::string &tensor, int64_t i) -> Dim {
    auto it = types.find(tensor);
    if (it == types.end())
      return std::string("t:" + tensor + ":" + std::to_string(i));
    const auto &shape = it->second->tensor_type().shape();
    if (i < 0)
      i += shape.dim_size();
    if (i < 0 || i >= shape.dim_size())
      return std::monostate();
    const auto &d = shape.dim(i);
    if (d.has_dim_value())
      return d.dim_value();
    if (d.has_dim_param() && !d.dim_param().empty())
      return std::string("p:" + d.dim_param());
    return std::string("t:" + tensor + ":" + std::to_string(i));
  };
  // A scalar of shape arithmetic as torch writes `x.view(B, L, 3, H, d //
  // H)`: Gather(Shape(t), i), constants, Cast / Unsqueeze / Squeeze, and
  // Add / Sub / Mul / Div of two static values (non-negative, divisions
  // exact or truncating as torch's `//` of positive ints).
  std::function<Dim(const std::string &, int)> scalarDim = [&](const std::string &name,
                                                              int depth) -> Dim {
    if (depth > 16)
      return std::monostate();
    if (auto c = constantInts(*graph, name); c && c->size() == 1)
      return (*c)[0];
    auto it = producer.find(name);
    if (it == producer.end() || !it->second->domain().empty())
      return std::monostate();
    const proto::NodeProto &n = *it->second;
    StringRef op = n.op_type();
    if ((op == "Unsqueeze" || op == "Squeeze" || op == "Identity") && n.input_size() >= 1)
      return scalarDim(n.input(0), depth + 1);
    if (op == "Cast" && n.input_size() == 1) {
      int64_t to = intAttr(n, "to", 0);
      if (to != proto::TensorProto::INT64 && to != proto::TensorProto::INT32)
        return std::monostate();
      return scalarDim(n.input(0), depth + 1);
    }
    if (op == "Gather" && n.input_size() == 2 && intAttr(n, "axis", 0) == 0) {
      const proto::NodeProto *shape = wholeShape(n.input(0));
      auto idx = constantInts(*graph, n.input(1));
      if (!shape || !idx || idx->size() != 1)
        return std::monostate();
      return dimOf(shape->input(0), (*idx)[0]);
    }
    if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && n.input_size() == 2) {
      Dim a = scalarDim(n.input(0), depth + 1), b = scalarDim(n.input(1), depth + 1);
      auto *x = std::get_if<int64_t>(&a), *y = std::get_if<int64_t>(&b);
      int64_t r = 0;
      if (!x || !y || *x < 0 || *y < 0)
        return std::monostate();
      if (op == "Div") {
        if (*y == 0)
          return std::monostate();
        return *x / *y;
      }
      bool overflow = op == "Add"   ? __builtin_add_overflow(*x, *y, &r)
                      : op == "Sub" ? __builtin_sub_overflow(*x, *y, &r)
                                    : __builtin_mul_overflow(*x, *y, &r);
      if (overflow || r < 0)
        return std::monostate();
      return r;
    }
    return std::monostate();
  };
  bool changed = false;
  for (const auto &node : graph->node()) {
    if (node.op_type() != "Reshape" || !node.domain().empty() || node.input_size() < 2 ||
        node.output_size() < 1 || intAttr(node, "allowzero", 0) != 0)
      continue;
    auto outIt = types.find(node.output(0));
    auto inIt = types.find(node.input(0));
    if (outIt == types.end() || inIt == types.end())
      continue;
    auto *outShape = outIt->second->mutable_tensor_type()->mutable_shape();
    const auto &inShape = inIt->second->tensor_type().shape();
    const proto::NodeProto *concat = nodeOf(node.input(1), "Concat");
    if (!concat)
      continue;
    // The requested dims, piece by piece.
    std::vector<Dim> want;
    std::optional<size_t> inferred; // the -1
    bool ok = true;
    for (const auto &piece : concat->input()) {
      if (auto c = constantInts(*graph, piece)) {
        for (int64_t v : *c) {
          if (v == -1) {
            if (inferred)
              ok = false;
            inferred = want.size();
            want.push_back(std::monostate());
          } else if (v == 0) {
            want.push_back(dimOf(node.input(0), (int64_t)want.size()));
          } else {
            want.push_back(v);
          }
        }
        continue;
      }
      // Shape(t)[a:b] (transformers' `(*x.shape[:-1], -1, d)`): dims a..b-1 of t.
      if (const proto::NodeProto *slice = nodeOf(piece, "Slice")) {
        auto range = shapeRange(
            *slice,
            slice->input_size() > 1 ? constantInts(*graph, slice->input(1)) : std::nullopt,
            slice->input_size() > 2 ? constantInts(*graph, slice->input(2)) : std::nullopt);
        if (!range) {
          ok = false;
          break;
        }
        for (int64_t i = range->begin; i < range->end; ++i)
          want.push_back(dimOf(range->tensor, i));
        continue;
      }
      // One dim: a scalar worked out from shapes, or unknown.
      auto pt = types.find(piece);
      const proto::NodeProto *un = nodeOf(piece, "Unsqueeze");
      bool single = (pt != types.end() && pt->second->tensor_type().shape().dim_size() == 1 &&
                     pt->second->tensor_type().shape().dim(0).dim_value() == 1) ||
                    (un && scalarDim(un->input(0), 0).index() != 0);
      if (!single) {
        ok = false;
        break;
      }
      Dim d = scalarDim(un ? un->input(0) : piece, 0);
      if (auto *v = std::get_if<int64_t>(&d); v && *v == -1) {
        if (inferred)
          ok = false;
        inferred = want.size();
        d = std::monostate();
      } else if (v && *v == 0) {
        d = dimOf(node.input(0), (int64_t)want.size());
      }
      want.push_back(d);
    }
    if (!ok || (int)want.size() != outShape->dim_size())
      continue;
    if (!inferred) {
      // No -1: the dims worked out are the dims.
      for (size_t i = 0; i < want.size(); ++i) {
        auto *v = std::get_if<int64_t>(&want[i]);
        if (v && *v > 0 && !outShape->dim(i).has_dim_value()) {
          auto *d = outShape->mutable_dim(i);
          d->Clear();
          d->set_dim_value(*v);
          changed = true;
        }
      }
      continue;
    }
    if (outShape->dim(*inferred).has_dim_value())
      continue;
    // -1 = prod(input dims) / prod(the others), symbolic dims cancelling.
    std::multiset<std::string> symbols;
    int64_t num = 1, den = 1;
    for (int i = 0; i < inShape.dim_size() && ok; ++i) {
      Dim d = dimOf(node.input(0), i);
      if (auto *v = std::get_if<int64_t>(&d))
        ok = *v >= 0 && !__builtin_mul_overflow(num, *v, &num);
      else if (auto *k = std::get_if<std::string>(&d))
        symbols.insert(*k);
      else
        ok = false;
    }
    for (size_t i = 0; i < want.size() && ok; ++i) {
      if (i == *inferred)
        continue;
      if (auto *v = std::get_if<int64_t>(&want[i])) {
        ok = *v > 0 && !__builtin_mul_overflow(den, *v, &den);
      } else if (auto *k = std::get_if<std::string>(&want[i])) {
        auto it = symbols.find(*k);
        if (it == symbols.end())
          ok = false;
        else
          symbols.erase(it);
      } else {
        ok = false;
      }
    }
    if (!ok || !symbols.empty() || den <= 0 || num % den != 0 || num / den <= 0)
      continue;
    auto *d = outShape->mutable_dim(*inferred);
    d->Clear();
    d->set_dim_value(num / den);
    changed = true;
  }
  // Slices whose bounds are shape arithmetic (TorchScript's chunk(2, -1):
  // halves ending at (n + 1) / 2 and 2 * ((n + 1) / 2)), and Splits of
  // constant sizes on an axis of unknown length (torch.where's split of
  // NonZero rows): their dims along the axis, which ONNX 1.12's inference
  // leaves unknown; inference then carries them on.
  auto setDim = [&](const std::string &out, int64_t axis, int64_t size) {
    auto it = types.find(out);
    if (it == types.end() || size < 0)
      return;
    auto *shape = it->second->mutable_tensor_type()->mutable_shape();
    if (axis < 0 || axis >= shape->dim_size() || shape->dim(axis).has_dim_value())
      return;
    auto *d = shape->mutable_dim(axis);
    d->Clear();
    d->set_dim_value(size);
    changed = true;
  };
  auto operandInts = [&](const proto::NodeProto &n, int i) -> std::optional<std::vector<int64_t>> {
    if (n.input_size() <= i || n.input(i).empty())
      return std::nullopt;
    return constantInts(*graph, n.input(i));
  };
  for (const auto &node : graph->node()) {
    if (!node.domain().empty() || node.output_size() < 1)
      continue;
    auto in = node.input_size() ? types.find(node.input(0)) : types.end();
    if (in == types.end())
      continue;
    int64_t rank = in->second->tensor_type().shape().dim_size();
    if (node.op_type() == "Slice" && node.input_size() >= 3 && node.output_size() == 1) {
      int64_t axis = 0;
      if (node.input_size() > 3 && !node.input(3).empty()) {
        auto axes = operandInts(node, 3);
        if (!axes || axes->size() != 1)
          continue;
        axis = (*axes)[0] < 0 ? (*axes)[0] + rank : (*axes)[0];
      }
      if (node.input_size() > 4 && !node.input(4).empty() &&
          operandInts(node, 4) != std::vector<int64_t>{1})
        continue;
      Dim start = scalarDim(node.input(1), 0), end = scalarDim(node.input(2), 0),
          len = dimOf(node.input(0), axis);
      auto *b = std::get_if<int64_t>(&start), *e = std::get_if<int64_t>(&end),
           *n = std::get_if<int64_t>(&len);
      if (!b || !e || !n || axis < 0 || axis >= rank)
        continue;
      setDim(node.output(0), axis,
             std::max<int64_t>(0, clampSliceIndex(*e, *n) - clampSliceIndex(*b, *n)));
      for (int64_t d = 0; d < rank; ++d) // the other dims are the input's
        if (auto *v = d == axis ? nullptr : std::get_if<int64_t>(&(len = dimOf(node.input(0), d))))
          setDim(node.output(0), d, *v);
    } else if (node.op_type() == "Split") {
      std::optional<std::vector<int64_t>> sizes = operandInts(node, 1);
      if (!sizes)
        for (const auto &a : node.attribute())
          if (a.name() == "split")
            sizes = std::vector<int64_t>(a.ints().begin(), a.ints().end());
      int64_t axis = intAttr(node, "axis", 0);
      axis = axis < 0 ? axis + rank : axis;
      if (!sizes || (int)sizes->size() != node.output_size())
        continue;
      for (int i = 0; i < node.output_size(); ++i)
        setDim(node.output(i), axis, (*sizes)[i]);
    }
  }
  // A Tile's repeats computed from shapes become a constant, as the
  // TorchScript exporter writes repeat_interleave(x, k, dim): [1, k, 1] as
  // OneHot([1], 3, [1, k]) with k a dim read from a Shape. Then inference
  // types the Tile, and the fusions see the repeat count.
  std::function<std::optional<std::vector<int64_t>>(const std::string &, int)> vectorInts =
      [&](const std::string &name, int depth) -> std::optional<std::vector<int64_t>> {
    if (depth > 16)
      return std::nullopt;
    if (auto c = constantInts(*graph, name))
      return c;
    auto it = producer.find(name);
    if (it == producer.end() || !it->second->domain().empty())
      return std::nullopt;
    const proto::NodeProto &n = *it->second;
    StringRef op = n.op_type();
    if (op == "Concat" && intAttr(n, "axis", 0) == 0) {
      std::vector<int64_t> all;
      for (const auto &in : n.input()) {
        auto part = vectorInts(in, depth + 1);
        if (!part)
          return std::nullopt;
        all.insert(all.end(), part->begin(), part->end());
      }
      return all;
    }
    if ((op == "Reshape" || op == "Identity") && n.input_size() >= 1)
      return vectorInts(n.input(0), depth + 1); // row-major: the same values
    if (op == "OneHot" && n.input_size() == 3 && intAttr(n, "axis", -1) == -1) {
      auto idx = vectorInts(n.input(0), depth + 1), vals = vectorInts(n.input(2), depth + 1);
      Dim dd = scalarDim(n.input(1), depth + 1);
      auto *d = std::get_if<int64_t>(&dd);
      if (!idx || !vals || vals->size() != 2 || !d || *d <= 0 || *d > 64)
        return std::nullopt;
      std::vector<int64_t> out;
      for (int64_t i : *idx)
        for (int64_t j = 0; j < *d; ++j)
          out.push_back(j == (i < 0 ? i + *d : i) ? (*vals)[1] : (*vals)[0]);
      return out;
    }
    if (op == "Slice" && n.input_size() >= 3) {
      // Shape(t)[a:b] of static dims.
      auto range = shapeRange(n, vectorInts(n.input(1), depth + 1),
                              vectorInts(n.input(2), depth + 1));
      if (!range)
        return std::nullopt;
      std::vector<int64_t> out;
      for (int64_t i = range->begin; i < range->end; ++i) {
        Dim d = dimOf(range->tensor, i);
        auto *v = std::get_if<int64_t>(&d);
        if (!v)
          return std::nullopt;
        out.push_back(*v);
      }
      return out;
    }
    if ((op == "Squeeze" || op == "Unsqueeze" || op == "Cast") && n.input_size() >= 1)
      if (auto v = vectorInts(n.input(0), depth + 1); v && v->size() == 1)
        return v;
    Dim d = scalarDim(name, depth + 1);
    if (auto *v = std::get_if<int64_t>(&d))
      return std::vector<int64_t>{*v};
    return std::nullopt;
  };
  for (auto &node : *graph->mutable_node()) {
    if (node.op_type() != "Tile" || !node.domain().empty() || node.input_size() != 2 ||
        constantInts(*graph, node.input(1)))
      continue;
    auto in = types.find(node.input(0));
    auto reps = vectorInts(node.input(1), 0);
    if (in == types.end() || !reps ||
        (int)reps->size() != in->second->tensor_type().shape().dim_size() ||
        llvm::any_of(*reps, [](int64_t r) { return r < 0; }))
      continue;
    proto::TensorProto *t = graph->add_initializer();
    t->set_name(node.input(1) + "__sparsa_folded");
    t->set_data_type(proto::TensorProto::INT64);
    t->add_dims((int64_t)reps->size());
    for (int64_t r : *reps)
      t->add_int64_data(r);
    node.set_input(1, t->name());
    changed = true;
  }
  return changed;
}

namespace {
FailureOr<Results> importConstantOfShape(NodeContext &n) {
  ElementsAttr value;
  if (auto *a = n.attr("value")) {
    auto v = n.importer.importTensor(a->t(), n.loc);
    if (failed(v))
      return failure();
    auto cst = v->getDefiningOp<onnx_ir::ConstantOp>();
    value = cst.getValue();
    cst.erase();
  }
  return Results{onnx_ir::ConstantOfShapeOp::create(n.b, n.loc, n.resultType(),
                                                    n.operand(0), value)
                     .getResult()};
}

FailureOr<Results> importConstantNode(NodeContext &n) {
  if (auto *a = n.attr("value")) {
    auto v = n.importer.importTensor(a->t(), n.loc);
    if (failed(v))
      return failure();
    return Results{*v};
  }
  auto f32 = n.b.getF32Type();
  auto i64 = n.b.getI64Type();
  auto make = [&](ShapedType t, DenseElementsAttr v) {
    return Results{onnx_ir::ConstantOp::create(n.b, n.loc, t, v).getResult()};
  };
  if (auto *a = n.attr("value_float")) {
    auto t = RankedTensorType::get({}, f32);
    return make(t, DenseElementsAttr::get(t, a->f()));
  }
  if (auto *a = n.attr("value_floats")) {
    SmallVector<float> v(a->floats().begin(), a->floats().end());
    auto t = RankedTensorType::get({(int64_t)v.size()}, f32);
    return make(t, DenseElementsAttr::get(t, ArrayRef<float>(v)));
  }
  if (auto *a = n.attr("value_int")) {
    auto t = RankedTensorType::get({}, i64);
    return make(t, DenseElementsAttr::get(t, (int64_t)a->i()));
  }
  if (auto *a = n.attr("value_ints")) {
    SmallVector<int64_t> v(a->ints().begin(), a->ints().end());
    auto t = RankedTensorType::get({(int64_t)v.size()}, i64);
    return make(t, DenseElementsAttr::get(t, ArrayRef<int64_t>(v)));
  }
  return n.error() << "only value, value_float(s) and value_int(s) are supported",
         failure();
}
} // namespace

Type GraphImporter::convertType(const proto::TypeProto &type) {
  if (!type.has_tensor_type())
    return Type();
  const auto &tt = type.tensor_type();
  Type elt = onnx_ir::getElementTypeForONNXDataType(ctx, tt.elem_type());
  if (!elt)
    return Type();
  if (!tt.has_shape())
    return UnrankedTensorType::get(elt);
  SmallVector<int64_t> shape;
  for (const auto &d : tt.shape().dim())
    shape.push_back(d.has_dim_value() ? d.dim_value() : ShapedType::kDynamic);
  return RankedTensorType::get(shape, elt);
}

/// Whether a tensor of type |t| could exist: no negative static dimension,
/// and the bytes of its static dimensions below 2^48 (so that no size
/// computed later overflows). Dynamic dimensions are checked at run time.
static bool sizeFits(Type t) {
  auto ranked = dyn_cast<RankedTensorType>(t);
  if (!ranked)
    return true;
  Type elt = ranked.getElementType();
  uint64_t bytes = elt.isIntOrFloat() ? std::max(1u, elt.getIntOrFloatBitWidth() / 8) : 8;
  for (int64_t d : ranked.getShape()) {
    if (ShapedType::isDynamic(d))
      continue;
    if (d < 0)
      return false;
    if (d > 0 && bytes > (uint64_t(1) << 48) / uint64_t(d))
      return false;
    bytes *= uint64_t(d);
  }
  return true;
}

static std::string shapeText(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto ranked = dyn_cast<RankedTensorType>(t)) {
    os << "[";
    llvm::interleaveComma(ranked.getShape(), os, [&](int64_t d) {
      if (ShapedType::isDynamic(d))
        os << "?";
      else
        os << d;
    });
    os << "]";
  }
  return s;
}

/// Reads external data for |tensor| from a file inside the model's folder.
static FailureOr<std::string> readExternalData(const proto::TensorProto &tensor,
                                               StringRef modelPath,
                                               Location loc) {
  std::string location;
  uint64_t offset = 0, length = 0;
  bool hasLength = false;
  for (const auto &kv : tensor.external_data()) {
    if (kv.key() == "location")
      location = kv.value();
    else if (kv.key() == "offset")
      offset = std::strtoull(kv.value().c_str(), nullptr, 10);
    else if (kv.key() == "length") {
      length = std::strtoull(kv.value().c_str(), nullptr, 10);
      hasLength = true;
    }
  }
  if (location.empty() || llvm::sys::path::is_absolute(location) ||
      llvm::any_of(llvm::make_range(llvm::sys::path::begin(location),
                                    llvm::sys::path::end(location)),
                   [](StringRef c) { return c == ".."; })) {
    emitError(loc) << "external data location '" << location
                   << "' of initializer '" << tensor.name()
                   << "' escapes the model folder";
    return failure();
  }
  SmallString<256> folder(llvm::sys::path::parent_path(modelPath));
  if (folder.empty())
    folder = ".";
  SmallString<256> path(folder);
  llvm::sys::path::append(path, location);
  // A symbolic link inside the folder may still point out of it: compare
  // the resolved paths.
  SmallString<256> realFolder, realPath;
  if (!llvm::sys::fs::real_path(folder, realFolder) &&
      !llvm::sys::fs::real_path(path, realPath)) {
    StringRef resolved = realPath;
    if (!resolved.consume_front(realFolder) ||
        !llvm::sys::path::is_separator(resolved.empty() ? '\0' : resolved[0])) {
      emitError(loc) << "external data location '" << location
                     << "' of initializer '" << tensor.name()
                     << "' escapes the model folder (it resolves to '"
                     << realPath << "')";
      return failure();
    }
  }
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf) {
    emitError(loc) << "cannot read external data file '" << path
                   << "' of initializer '" << tensor.name() << "'";
    return failure();
  }
  uint64_t size = (*buf)->getBufferSize();
  if (!hasLength)
    length = size - std::min(offset, size);
  if (offset > size || length > size - offset) {
    emitError(loc) << "external data of initializer '" << tensor.name()
                   << "' is short: needs " << length << " bytes at offset "
                   << offset << ", file has " << size;
    return failure();
  }
  return std::string((*buf)->getBufferStart() + offset, length);
}

FailureOr<Value> GraphImporter::importTensor(const proto::TensorProto &tensor,
                                             Location loc, ShapedType expected) {
  Type elt = onnx_ir::getElementTypeForONNXDataType(ctx, tensor.data_type());
  if (!elt) {
    emitError(loc) << "initializer '" << tensor.name()
                   << "' has unsupported data type " << tensor.data_type();
    return failure();
  }
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  int64_t numElements = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && numElements > (int64_t(1) << 40) / d)) {
      emitError(loc) << "initializer '" << tensor.name()
                     << "' has an invalid or too large shape";
      return failure();
    }
    numElements *= d;
  }
  auto type = RankedTensorType::get(shape, elt);
  size_t eltBytes = std::max<size_t>(1, elt.getIntOrFloatBitWidth() / 8);
  size_t bytes = numElements * eltBytes;

  std::string storage;
  ArrayRef<char> data;
  // 4-bit integers arrive packed two per byte (low nibble first), in
  // raw_data, external data or int32_data (one packed byte per entry);
  // constants hold one byte per element.
  bool nibbles = elt.getIntOrFloatBitWidth() == 4;
  auto readExternal = [&]() -> FailureOr<std::string> {
    if (!externalData) {
      emitError(loc) << "initializer '" << tensor.name()
                     << "' has external data, which a model imported from "
                        "memory cannot have";
      return failure();
    }
    return readExternalData(tensor, modelPath, loc);
  };
  if (nibbles) {
    size_t packedBytes = (numElements + 1) / 2;
    std::string packed;
    if (tensor.data_location() == proto::TensorProto::EXTERNAL) {
      auto ext = readExternal();
      if (failed(ext))
        return failure();
      packed = std::move(*ext);
    } else if (tensor.has_raw_data()) {
      packed = tensor.raw_data();
    } else {
      for (int32_t v : tensor.int32_data())
        packed.push_back(static_cast<char>(v & 0xff));
    }
    if (packed.size() != packedBytes) {
      emitError(loc) << "initializer '" << tensor.name() << "' has " << packed.size()
                     << " bytes of 4-bit data, its shape needs " << packedBytes;
      return failure();
    }
    bool isSigned = !elt.isUnsignedInteger();
    storage.resize(numElements);
    for (int64_t i = 0; i < numElements; ++i) {
      int v = (static_cast<unsigned char>(packed[i / 2]) >> (4 * (i % 2))) & 15;
      if (isSigned)
        v = (v ^ 8) - 8;
      storage[i] = static_cast<char>(v);
    }
    data = ArrayRef<char>(storage.data(), storage.size());
  } else if (tensor.data_location() == proto::TensorProto::EXTERNAL) {
    auto ext = readExternal();
    if (failed(ext))
      return failure();
    storage = std::move(*ext);
    data = ArrayRef<char>(storage.data(), storage.size());
  } else if (tensor.has_raw_data()) {
    data = ArrayRef<char>(tensor.raw_data().data(), tensor.raw_data().size());
  } else {
    // Typed fields: floats in float_data, 64-bit ints in int64_data, the
    // small integer types and f16 widened into int32_data, f64 in double_data.
    storage.resize(bytes);
    char *out = storage.data();
    int64_t held = 0;
    auto count = [&](int n) {
      held = n;
      return static_cast<size_t>(n) == static_cast<size_t>(numElements);
    };
    bool ok = true;
    switch (tensor.data_type()) {
    case proto::TensorProto::FLOAT:
      ok = count(tensor.float_data_size());
      if (ok && bytes) // (an empty field's data() may be null)
        std::memcpy(out, tensor.float_data().data(), bytes);
      break;
    case proto::TensorProto::INT64:
      ok = count(tensor.int64_data_size());
      if (ok && bytes) // (an empty field's data() may be null)
        std::memcpy(out, tensor.int64_data().data(), bytes);
      break;
    case proto::TensorProto::DOUBLE:
      ok = count(tensor.double_data_size());
      if (ok && bytes) // (an empty field's data() may be null)
        std::memcpy(out, tensor.double_data().data(), bytes);
      break;
    case proto::TensorProto::UINT64:
      ok = count(tensor.uint64_data_size());
      if (ok && bytes) // (an empty field's data() may be null)
        std::memcpy(out, tensor.uint64_data().data(), bytes);
      break;
    default:
      ok = count(tensor.int32_data_size());
      for (int64_t i = 0; ok && i < numElements; ++i) {
        int32_t v = tensor.int32_data(i);
        std::memcpy(out + i * eltBytes, &v, eltBytes);
      }
    }
    if (!ok) {
      emitError(loc) << "initializer '" << tensor.name() << "' holds " << held
                     << " elements (no raw data), its shape needs " << numElements;
      return failure();
    }
    data = ArrayRef<char>(storage.data(), storage.size());
  }
  if (data.size() != bytes) {
    emitError(loc) << "initializer '" << tensor.name() << "' has " << data.size()
                   << " bytes of data, its shape needs " << bytes;
    return failure();
  }
  Attribute value;
  if (elt.isInteger(1)) {
    // i1 is bit-packed in MLIR's dense storage; ONNX stores a byte each.
    SmallVector<bool> bits(data.begin(), data.end());
    value = DenseElementsAttr::get(type, ArrayRef<bool>(bits));
  } else {
    std::string blobName = tensor.name().empty() ? "constant" : tensor.name();
    value = DenseResourceElementsAttr::get(
        type, blobName,
        HeapAsmResourceBlob::allocateAndCopyWithAlign(data, /*align=*/64));
  }
  return onnx_ir::ConstantOp::create(b, loc, type, cast<ElementsAttr>(value))
      .getResult();
}

OwningOpRef<ModuleOp> GraphImporter::import(proto::ModelProto &model) {
  const proto::GraphProto &graph = model.graph();
  int64_t opset = 0, msOpset = 0;
  for (const auto &os : model.opset_import()) {
    if (os.domain().empty() || os.domain() == "ai.onnx")
      opset = os.version();
    if (os.domain() == "com.microsoft")
      msOpset = os.version();
  }

  // Index the value types once: inputs, outputs, value_info.
  for (const auto &vi : graph.input())
    valueTypes[vi.name()] = &vi.type();
  for (const auto &vi : graph.value_info())
    valueTypes[vi.name()] = &vi.type();
  for (const auto &vi : graph.output())
    valueTypes[vi.name()] = &vi.type();

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc());
  (*module)->setAttr("onnx.opset", b.getI64IntegerAttr(opset));
  if (!graph.name().empty())
    (*module)->setAttr("onnx.graph_name", b.getStringAttr(graph.name()));

  llvm::StringSet<> initializerNames;
  for (const auto &t : graph.initializer())
    initializerNames.insert(t.name());

  // Signature: graph inputs that are not initializers, graph outputs.
  SmallVector<Type> argTypes, resultTypes;
  SmallVector<const proto::ValueInfoProto *> args;
  for (const auto &vi : graph.input()) {
    if (initializerNames.contains(vi.name()))
      continue;
    Type t = convertType(vi.type());
    // 4-bit integers exist as constant weights only: no runtime type.
    if (t && getElementTypeOrSelf(t).getIntOrFloatBitWidth() == 4) {
      emitError(NameLoc::get(b.getStringAttr(vi.name())))
          << "graph input '" << vi.name()
          << "' is a 4-bit integer tensor: int4 / uint4 are supported in initializers "
             "(quantized weights), not at the model's boundary";
      return nullptr;
    }
    if (!t) {
      emitError(NameLoc::get(b.getStringAttr(vi.name())))
          << "graph input '" << vi.name()
          << "' is not a tensor of a supported element type";
      return nullptr;
    }
    if (!sizeFits(t)) {
      emitError(NameLoc::get(b.getStringAttr(vi.name())))
          << "graph input '" << vi.name() << "' has shape " << shapeText(t)
          << ": a negative dimension or a size that overflows";
      return nullptr;
    }
    argTypes.push_back(t);
    args.push_back(&vi);
  }
  for (const auto &vi : graph.output()) {
    Type t = convertType(vi.type());
    if (t && getElementTypeOrSelf(t).getIntOrFloatBitWidth() == 4) {
      emitError(NameLoc::get(b.getStringAttr(vi.name())))
          << "graph output '" << vi.name()
          << "' is a 4-bit integer tensor: int4 / uint4 are supported in initializers "
             "(quantized weights), not at the model's boundary";
      return nullptr;
    }
    if (!t) {
      emitError(NameLoc::get(b.getStringAttr(vi.name())))
          << "graph output '" << vi.name()
          << "' is not a tensor of a supported element type";
      return nullptr;
    }
    // (Sizes are checked at the node producing the output.)
    resultTypes.push_back(t);
  }
  b.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(b, fileLoc(), sparsa::kEntryFunctionName,
                                   b.getFunctionType(argTypes, resultTypes));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = func.addEntryBlock();
  for (auto [i, vi] : llvm::enumerate(args)) {
    func.setArgAttr(i, "onnx.name", b.getStringAttr(vi->name()));
    SmallVector<Attribute> params;
    for (const auto &d : vi->type().tensor_type().shape().dim())
      params.push_back(b.getStringAttr(d.has_dim_param() ? d.dim_param() : ""));
    func.setArgAttr(i, "onnx.dim_params", b.getArrayAttr(params));
    values[vi->name()] = entry->getArgument(i);
  }
  for (auto [i, vi] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "onnx.name", b.getStringAttr(vi.name()));

  b.setInsertionPointToEnd(entry);
  bool ok = true;
  for (const auto &t : graph.initializer()) {
    auto v = importTensor(t, NameLoc::get(b.getStringAttr(t.name())));
    if (failed(v)) {
      ok = false;
      continue;
    }
    values[t.name()] = *v;
  }
  if (!ok)
    return nullptr;

  // Every node is imported; one that fails reports its error and poisons
  // its outputs, so nodes depending on it are skipped silently and all
  // independent errors are listed in one run.
  llvm::StringSet<> poisoned;
  for (const auto &node : graph.node()) {
    Location loc = nodeLoc(node);
    int64_t domainOpset = node.domain() == "com.microsoft" ? msOpset : opset;
    NodeContext n{*this, node, loc, b, domainOpset};
    auto poison = [&] {
      ok = false;
      for (const auto &out : node.output())
        if (!out.empty())
          poisoned.insert(out);
    };
    // Every consumed value must be defined before (ONNX requires
    // topological order; this also rejects cycles).
    bool skip = false, undefined = false;
    for (const auto &in : node.input()) {
      if (in.empty())
        continue;
      if (poisoned.contains(in))
        skip = true;
      else if (!values.count(in)) {
        emitError(loc) << "node consumes undefined value '" << in << "'";
        undefined = true;
      }
    }
    if (skip || undefined) {
      poison();
      continue;
    }
    const auto &entries = handlerTable().find(handlerKey(node))->second;
    const HandlerEntry *chosen = nullptr;
    for (const auto &e : entries)
      if (e.sinceVersion <= domainOpset)
        chosen = &e;
    if (!chosen) {
      n.error() << "not supported at this opset (the importer handles it from "
                << "opset " << entries.front().sinceVersion << ")";
      poison();
      continue;
    }
    bool typed = true;
    for (int i = 0; i < node.output_size(); ++i)
      if (!node.output(i).empty() && !isa_and_nonnull<TensorType>(n.resultType(i)) &&
          node.op_type() != "Constant") {
        auto it = valueTypes.find(node.output(i));
        const proto::TypeProto *t = it == valueTypes.end() ? nullptr : it->second;
        if (t && t->has_tensor_type() &&
            !onnx_ir::getElementTypeForONNXDataType(ctx, t->tensor_type().elem_type()))
          n.error() << "output '" << node.output(i)
                    << "' has unsupported element type "
                    << proto::TensorProto_DataType_Name(
                           static_cast<proto::TensorProto_DataType>(
                               t->tensor_type().elem_type()));
        else
          n.error() << "ONNX shape inference could not type output '"
                    << node.output(i) << "'";
        typed = false;
      }
    if (!typed) {
      poison();
      continue;
    }
    FailureOr<Results> results = chosen->handler(n);
    bool valid = succeeded(results);
    if (valid) {
      // Each op once (a TopK or LinearAttention defines several results).
      llvm::SmallPtrSet<Operation *, 2> verified;
      for (Value v : *results) {
        if (!v)
          continue;
        if (!sizeFits(v.getType())) {
          n.error() << "an output has shape " << shapeText(v.getType())
                    << ": a negative dimension or a size that overflows";
          valid = false;
          break;
        }
        if (Operation *def = v.getDefiningOp())
          if (verified.insert(def).second && failed(mlir::verify(def)))
            valid = false;
      }
    }
    for (int i = 0; valid && i < node.output_size(); ++i) {
      const std::string &out = node.output(i);
      if (out.empty())
        continue;
      if (i >= (int)results->size() || !(*results)[i]) {
        n.error() << "output " << i << " ('" << out << "') is not supported";
        valid = false;
      } else if (values.count(out) || poisoned.contains(out)) {
        emitError(loc) << "value '" << out << "' is defined twice";
        valid = false;
      } else {
        values[out] = (*results)[i];
      }
    }
    if (!valid)
      poison();
  }
  if (!ok)
    return nullptr;

  SmallVector<Value> results;
  for (const auto &vi : graph.output()) {
    Value v = values.lookup(vi.name());
    if (!v) {
      emitError(NameLoc::get(b.getStringAttr(vi.name())))
          << "graph output '" << vi.name() << "' is never produced";
      return nullptr;
    }
    results.push_back(v);
  }
  // Output types in the signature come from the graph; a value whose
  // inferred type is more or less precise gets a cast-free Identity only
  // when the types differ.
  for (auto [i, v] : llvm::enumerate(results))
    if (v.getType() != resultTypes[i])
      results[i] = onnx_ir::IdentityOp::create(b, v.getLoc(), resultTypes[i], v);
  func::ReturnOp::create(b, fileLoc(), results);
  // Each node's ops were verified as they were built; the signature and the
  // graph outputs' casts were not. A model that gets past the checks above
  // must still never reach a pass as invalid IR.
  if (failed(mlir::verify(*module)))
    return nullptr;
  return module;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

/// Sets the shape of graph input |name| to |dims|.
static LogicalResult pinInputShape(proto::ModelProto &model, StringRef name,
                                   ArrayRef<int64_t> dims, Location loc) {
  for (auto &vi : *model.mutable_graph()->mutable_input()) {
    if (vi.name() != name)
      continue;
    auto *shape = vi.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() != 0 && shape->dim_size() != (int)dims.size())
      return emitError(loc) << "--input-shape " << name << ": rank "
                            << dims.size() << " does not match the input's rank "
                            << shape->dim_size();
    for (auto [i, d] : llvm::enumerate(dims)) {
      if (i < (size_t)shape->dim_size()) {
        auto *dim = shape->mutable_dim(i);
        if (dim->has_dim_value() && dim->dim_value() != d)
          return emitError(loc) << "--input-shape " << name << ": dimension " << i
                                << " is fixed to " << dim->dim_value()
                                << " in the model, not " << d;
        dim->set_dim_value(d);
      } else {
        shape->add_dim()->set_dim_value(d);
      }
    }
    return success();
  }
  return emitError(loc) << "--input-shape: the model has no input named '"
                        << name << "'";
}

/// Inputs and outputs every node must have: the ONNX schema's required
/// formal inputs and its bounds, or, for the contrib ops the ONNX library
/// has no schema of, the inputs our handlers require. A node missing one is
/// an error here, before any handler sees it.
template <typename LocFn>
static LogicalResult checkArity(MLIRContext *ctx, const proto::ModelProto &model,
                                LocFn nodeLoc) {
  static const llvm::StringMap<SmallVector<int, 4>> contribRequired = {
      {"com.microsoft.MatMulNBits", {0, 1, 2}},
      {"com.microsoft.MoE", {0, 1, 2, 4}},
      {"com.microsoft.QMoE", {0, 1, 2, 5}},
      {"LinearAttention", {0, 1, 2}},
  };
  const auto &versions = proto::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  std::map<std::string, int64_t> opsets;
  for (const auto &os : model.opset_import())
    opsets[os.domain() == "ai.onnx" ? "" : os.domain()] = os.version();
  bool ok = true;
  for (const auto &node : model.graph().node()) {
    auto present = [&](int i) { return i < node.input_size() && !node.input(i).empty(); };
    // Every single (not optional) formal input is given, and so is every
    // input of a variadic one (Concat's, Sum's): ONNX has no empty
    // variadic input.
    auto hasRequiredInputs = [&](const proto::OpSchema &s) {
      const auto &formals = s.inputs();
      for (int i = 0; i < static_cast<int>(formals.size()); ++i) {
        auto option = formals[i].GetOption();
        if (option == proto::OpSchema::Single && !present(i)) {
          emitError(nodeLoc(node)) << "onnx." << node.op_type() << ": required input " << i
                                   << " ('" << formals[i].GetName() << "') is missing";
          return false;
        }
        if (option != proto::OpSchema::Variadic)
          continue;
        for (int j = i; j < node.input_size(); ++j)
          if (!present(j)) {
            emitError(nodeLoc(node))
                << "onnx." << node.op_type() << ": input " << j << " (of the variadic '"
                << formals[i].GetName() << "') has no name; variadic inputs cannot be omitted";
            return false;
          }
        break;
      }
      return true;
    };
    // A model newer than the library's schemas gets no schema: the latest
    // one the library knows may have other inputs (ReduceMean's axes).
    std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
    int64_t version = opsets[domain];
    auto known = versions.find(domain);
    const proto::OpSchema *schema =
        known != versions.end() && version <= known->second.second
            ? proto::OpSchemaRegistry::Schema(node.op_type(), static_cast<int>(version),
                                              domain)
            : nullptr;
    // Without a schema for this opset (from the future, or one the op did
    // not exist in), the latest schema the library has still names the
    // inputs the op requires; ops gain optional inputs, not required ones.
    const proto::OpSchema *latest =
        schema || known == versions.end()
            ? nullptr
            : proto::OpSchemaRegistry::Schema(node.op_type(), known->second.second, domain);
    if (latest) {
      ok &= hasRequiredInputs(*latest);
      continue;
    }
    if (schema) {
      if (node.input_size() > schema->max_input() || node.input_size() < schema->min_input() ||
          node.output_size() > schema->max_output() ||
          node.output_size() < schema->min_output()) {
        emitError(nodeLoc(node)) << "onnx." << node.op_type() << " takes "
                                 << schema->min_input() << " to " << schema->max_input()
                                 << " inputs and " << schema->min_output() << " to "
                                 << schema->max_output() << " outputs; the node has "
                                 << node.input_size() << " and " << node.output_size();
        ok = false;
        continue;
      }
      ok &= hasRequiredInputs(*schema);
      continue;
    }
    auto it = contribRequired.find(handlerKey(node));
    if (it == contribRequired.end())
      continue;
    for (int i : it->second)
      if (!present(i)) {
        emitError(nodeLoc(node)) << handlerKey(node) << ": required input " << i
                                 << " is missing";
        ok = false;
        break;
      }
    if (node.output_size() < 1 || node.output(0).empty()) {
      emitError(nodeLoc(node)) << handlerKey(node) << " has no output";
      ok = false;
    }
  }
  return success(ok);
}

/// Reports every op the importer has no handler for, all at once, before
/// ONNX shape inference runs (which would skip them and then trip over their
/// untyped outputs in the nodes after them).
static LogicalResult checkSupportedOps(MLIRContext *ctx, const proto::ModelProto &model,
                                       StringRef path) {
  const proto::GraphProto &graph = model.graph();
  auto nodeLoc = [&](const proto::NodeProto &node) { return nodeNameLoc(ctx, node); };
  const auto &table = handlerTable();
  SmallVector<const proto::NodeProto *> unsupported;
  for (const auto &node : graph.node())
    if (!table.count(handlerKey(node)))
      unsupported.push_back(&node);
  if (unsupported.empty())
    return checkArity(ctx, model, nodeLoc);
  std::string list;
  for (const auto *node : unsupported) {
    std::string qualified = node->domain().empty()
                                ? node->op_type()
                                : node->domain() + "." + node->op_type();
    std::string domain = node->domain().empty() ? "ai.onnx" : node->domain();
    int64_t version = 0;
    for (const auto &os : model.opset_import())
      if ((os.domain().empty() ? "ai.onnx" : os.domain()) == domain)
        version = os.version();
    emitError(nodeLoc(*node)) << "unsupported op '" << qualified << "' (domain '"
                              << domain << "', opset " << version << ")";
    if (!list.empty())
      list += ", ";
    list += qualified + " (node '" + nodeLoc(*node).getName().str() + "')";
  }
  return emitError(FileLineColLoc::get(ctx, path, 0, 0))
         << "the model uses " << unsupported.size() << " unsupported op(s): " << list;
}

/// Checks |tensor|'s dims and, for raw data, its size (ONNX's shape
/// inference reads constants' data trusting both); |what| names it.
static LogicalResult checkTensorSize(MLIRContext *ctx, const proto::TensorProto &tensor,
                                     Location loc, StringRef what) {
  int64_t numElements = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0 || (d > 0 && numElements > (int64_t(1) << 40) / d))
      return emitError(loc) << what << " '" << tensor.name()
                            << "' has an invalid or too large shape";
    numElements *= d;
  }
  if (tensor.data_location() == proto::TensorProto::EXTERNAL || !tensor.has_raw_data())
    return success();
  Type elt = onnx_ir::getElementTypeForONNXDataType(ctx, tensor.data_type());
  if (!elt || !elt.isIntOrFloat() || elt.getIntOrFloatBitWidth() % 8 != 0)
    return success(); // sub-byte and unsupported types: checked on import
  uint64_t bytes = uint64_t(numElements) * (elt.getIntOrFloatBitWidth() / 8);
  if (tensor.raw_data().size() != bytes)
    return emitError(loc) << what << " '" << tensor.name() << "' has "
                          << tensor.raw_data().size() << " bytes of data, its shape needs "
                          << bytes;
  return success();
}

/// The structural checks that must pass before ONNX shape inference sees
/// the graph (its inference functions dereference the types of inputs
/// without checking that they exist): every node input is defined before the
/// node (topological order; no cycles), no value is defined twice, and no
/// node carries a subgraph (If / Loop / Scan are not supported). Errors are
/// located at the node.
static LogicalResult checkGraphStructure(MLIRContext *ctx,
                                         const proto::GraphProto &graph) {
  auto loc = [&](const proto::NodeProto &node) { return nodeNameLoc(ctx, node); };
  llvm::StringSet<> defined, initializers, inputs;
  bool ok = true;
  for (const auto &t : graph.initializer()) {
    if (failed(checkTensorSize(ctx, t, NameLoc::get(StringAttr::get(ctx, t.name())),
                               "initializer")))
      ok = false;
    if (!initializers.insert(t.name()).second) {
      emitError(NameLoc::get(StringAttr::get(ctx, t.name())))
          << "initializer '" << t.name() << "' is defined twice";
      ok = false;
    }
    defined.insert(t.name());
  }
  for (const auto &vi : graph.input()) {
    // IR < 4 lists initializers among the inputs (as default values).
    if (!inputs.insert(vi.name()).second) {
      emitError(NameLoc::get(StringAttr::get(ctx, vi.name())))
          << "graph input '" << vi.name() << "' is defined twice";
      ok = false;
    }
    defined.insert(vi.name());
  }
  for (const auto &node : graph.node()) {
    for (const auto &attr : node.attribute())
      if (attr.has_t() && failed(checkTensorSize(ctx, attr.t(), loc(node), "tensor attribute")))
        ok = false;
    for (const auto &attr : node.attribute())
      if (attr.type() == proto::AttributeProto::GRAPH ||
          attr.type() == proto::AttributeProto::GRAPHS || attr.has_g() ||
          attr.graphs_size() > 0) {
        emitError(loc(node)) << "op '" << node.op_type()
                             << "' with a subgraph attribute ('" << attr.name()
                             << "') is not supported";
        ok = false;
      }
    for (const auto &in : node.input())
      if (!in.empty() && !defined.contains(in)) {
        emitError(loc(node)) << "node consumes undefined value '" << in << "'";
        ok = false;
      }
    for (const auto &out : node.output())
      if (!out.empty() && !defined.insert(out).second) {
        emitError(loc(node)) << "value '" << out << "' is defined twice";
        ok = false;
      }
  }
  for (const auto &vi : graph.output())
    if (!defined.contains(vi.name())) {
      emitError(NameLoc::get(StringAttr::get(ctx, vi.name())))
          << "graph output '" << vi.name() << "' is never produced";
      ok = false;
    }
  return success(ok);
}

/// Parses |bytes| as ONNX text or a serialized ModelProto.
static LogicalResult parseModel(StringRef bytes, bool text, Location loc,
                                proto::ModelProto &model) {
  if (text) {
    std::string source = bytes.str(); // the parser wants a C string
    try {
      auto status = proto::OnnxParser::Parse(model, source.c_str());
      if (!status.IsOK())
        return emitError(loc) << "cannot parse ONNX text: " << status.ErrorMessage();
    } catch (const std::exception &e) {
      // The parser converts numbers with std::stoi and friends.
      return emitError(loc) << "cannot parse ONNX text: " << e.what();
    }
    return success();
  }
  if (bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return emitError(loc) << "not a valid ONNX model (protobuf parse failed; the "
                             "file is truncated or not an ONNX ModelProto)";
  return success();
}

static OwningOpRef<ModuleOp> importModel(MLIRContext *ctx, proto::ModelProto &model,
                                         StringRef path, bool externalData,
                                         const sparsa::ONNXImportOptions &options);

OwningOpRef<ModuleOp> sparsa::importONNXFile(MLIRContext *ctx, StringRef path,
                                             const ONNXImportOptions &options) {
  ctx->loadDialect<onnx_ir::ONNXDialect, func::FuncDialect>();
  Location loc = FileLineColLoc::get(ctx, path, 0, 0);
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf) {
    emitError(loc) << "cannot read model file: " << buf.getError().message();
    return nullptr;
  }
  proto::ModelProto model;
  bool text = options.forceText || path.ends_with(".onnxtxt") ||
              path.ends_with(".onnx.txt");
  if (failed(parseModel((*buf)->getBuffer(), text, loc, model)))
    return nullptr;
  return importModel(ctx, model, path, /*externalData=*/true, options);
}

OwningOpRef<ModuleOp> sparsa::importONNXBuffer(MLIRContext *ctx, StringRef bytes,
                                               StringRef name, bool text,
                                               const ONNXImportOptions &options) {
  ctx->loadDialect<onnx_ir::ONNXDialect, func::FuncDialect>();
  Location loc = FileLineColLoc::get(ctx, name, 0, 0);
  proto::ModelProto model;
  if (failed(parseModel(bytes, text, loc, model)))
    return nullptr;
  return importModel(ctx, model, name, /*externalData=*/false, options);
}

/// Makes ONNX's shape inference skip a node whose required input has no
/// type (its producer failed inference) instead of running the op's
/// inference function on it: several of the library's functions (Expand's
/// in ONNX 1.12, among others) dereference the input type unchecked and
/// crash the process on a malformed model. Every schema's function is
/// wrapped once per process; with typed inputs it runs unchanged.
/// (Function-body schemas are left alone, see below.)
static void guardInferenceFunctions() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const proto::OpSchema &copy : proto::OpSchemaRegistry::get_all_schemas_with_history()) {
      auto *schema = const_cast<proto::OpSchema *>(proto::OpSchemaRegistry::Schema(
          copy.Name(), copy.SinceVersion(), copy.domain()));
      // A schema without its own function (GreaterOrEqual-16 and other
      // ops defined by a function body) must stay without one: ONNX then
      // infers through the body, and a wrapper, even of the placeholder
      // GetTypeAndShapeInferenceFunction returns, would stop that and
      // leave the output untyped.
      if (!schema || schema->SinceVersion() != copy.SinceVersion() ||
          !schema->has_type_and_shape_inference_function())
        continue;
      std::vector<bool> required;
      for (const auto &formal : schema->inputs())
        required.push_back(formal.GetOption() != proto::OpSchema::Optional);
      schema->TypeAndShapeInferenceFunction(
          [inner = schema->GetTypeAndShapeInferenceFunction(),
           required](proto::InferenceContext &ctx) {
            for (size_t i = 0; i < ctx.getNumInputs(); ++i) {
              // Inputs past the formals belong to a variadic last one.
              bool req = required.empty() ? false
                                          : required[std::min(i, required.size() - 1)];
              if (req && !ctx.getInputType(i))
                return;
            }
            inner(ctx);
          });
    }
  });
}

static OwningOpRef<ModuleOp> importModel(MLIRContext *ctx, proto::ModelProto &model,
                                         StringRef path, bool externalData,
                                         const sparsa::ONNXImportOptions &options) {
  Location loc = FileLineColLoc::get(ctx, path, 0, 0);
  guardInferenceFunctions();
  if (model.has_graph() && (failed(checkGraphStructure(ctx, model.graph())) ||
                            failed(checkSupportedOps(ctx, model, path))))
    return nullptr;
  if (!model.has_graph()) {
    emitError(loc) << "the model has no graph";
    return nullptr;
  }
  for (const auto &[name, dims] : options.inputShapes)
    if (failed(pinInputShape(model, name, dims, loc)))
      return nullptr;

  int64_t opset = -1;
  for (const auto &os : model.opset_import())
    if (os.domain().empty() || os.domain() == "ai.onnx")
      opset = os.version();
  if (opset < 0) {
    emitError(loc) << "the model imports no default-domain opset";
    return nullptr;
  }
  // ONNX shape inference, strict first. When it fails, import anyway with
  // the lenient result: our verifiers then usually report the problem at the
  // node by name; only if they find nothing is ONNX's message the error.
  auto infer = [&](int errorMode) {
    proto::ShapeInferenceOptions si{/*check_type=*/true, errorMode,
                                    /*enable_data_propagation=*/true};
    proto::shape_inference::InferShapes(model, proto::OpSchemaRegistry::Instance(),
                                        si);
  };
  std::string inferenceError;
  try {
    if (opset < kMinOpset) {
      // The converter's adapters need shapes (Softmax 12 -> 13 does).
      infer(/*errorMode=*/0);
      model = proto::version_conversion::ConvertVersion(model, kMinOpset);
    }
  } catch (const std::exception &e) {
    emitError(loc) << "cannot upgrade the model from opset " << opset
                   << " to " << kMinOpset << ": " << e.what();
    return nullptr;
  }
  try {
    infer(/*errorMode=*/1);
  } catch (const std::exception &e) {
    inferenceError = StringRef(e.what()).trim().str();
    try {
      infer(/*errorMode=*/0);
    } catch (const std::exception &) {
    }
  }
  // Ops newer than the library's schemas: type them ourselves and let ONNX
  // carry on from there (each round gets past at least one such node).
  for (int round = 0; round < 1000 && (int(completeTypes(model)) | int(refineReshapes(model))); ++round) {
    try {
      infer(/*errorMode=*/0);
    } catch (const std::exception &) {
    }
  }
  GraphImporter importer(ctx, path, externalData);
  OwningOpRef<ModuleOp> module = importer.import(model);
  if (module && !inferenceError.empty()) {
    // The ONNX library's schemas end at some opset; a newer model's ops may
    // have changed since (uneven Split, bool ReduceMax, ...). Its complaint
    // is then only a warning: every node was typed and verified anyway.
    const auto &versions = proto::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
    auto it = versions.find("");
    int64_t known = it == versions.end() ? 0 : it->second.second;
    if (opset <= known) {
      emitError(loc) << "ONNX shape inference failed: " << inferenceError;
      return nullptr;
    }
    emitWarning(loc) << "ONNX shape inference (which knows opsets up to " << known
                     << ") failed on this opset-" << opset
                     << " model; imported with the declared types: " << inferenceError;
  }
  return module;
}


std::string sparsa::parseInputShapeFlag(StringRef flag, ONNXImportOptions &options) {
  auto [name, dims] = flag.rsplit(':');
  if (name.empty() || dims.empty())
    return "expected NAME:D0xD1x... (got '" + flag.str() + "')";
  std::vector<int64_t> shape;
  SmallVector<StringRef> parts;
  dims.split(parts, 'x');
  for (StringRef p : parts) {
    int64_t d;
    if (p.getAsInteger(10, d) || d < 0)
      return "invalid dimension '" + p.str() + "' in --input-shape=" + flag.str();
    shape.push_back(d);
  }
  options.inputShapes.emplace_back(name.str(), std::move(shape));
  return "";
}
