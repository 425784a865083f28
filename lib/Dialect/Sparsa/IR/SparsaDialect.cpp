//===- SparsaDialect.cpp - Sparsa dialect registration ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Registers the `sparsa` dialect and its (family-specific) ops.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace sparsa::sparsa;

#include "sparsa/Dialect/Sparsa/IR/SparsaOpsDialect.cpp.inc"

#include "sparsa/Dialect/Sparsa/IR/SparsaAttrInterfaces.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "sparsa/Dialect/Sparsa/IR/SparsaAttrs.cpp.inc"

void SparsaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "sparsa/Dialect/Sparsa/IR/SparsaOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "sparsa/Dialect/Sparsa/IR/SparsaAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Targets
//===----------------------------------------------------------------------===//

LogicalResult CPUTargetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                    int64_t rowTasks, bool) {
  if (rowTasks < 1)
    return emitError() << "row_tasks must be at least 1, got " << rowTasks;
  return success();
}

int64_t CUDATargetAttr::getRowTasks() const { return 1; }

bool sparsa::sparsa::chipHasInt8Mma(StringRef chip) {
  unsigned sm = 0;
  return chip.consume_front("sm_") && !chip.consumeInteger(10, sm) && sm >= 80;
}

bool CUDATargetAttr::getInt8Matrices() const { return chipHasInt8Mma(getChip()); }

TargetInfoAttrInterface sparsa::sparsa::getTarget(Operation *op) {
  for (Operation *at = op; at; at = at->getParentOp())
    if (auto target = at->getAttrOfType<TargetInfoAttrInterface>(kTargetAttrName))
      return target;
  return CPUTargetAttr::get(op->getContext(), /*row_tasks=*/2, /*int8_matrices=*/false);
}

StringRef sparsa::sparsa::fusionFamily(Operation *op) {
  if (isa<MoEOp>(op))
    return "routing";
  if (isa<SparseFFNOp, SparseInputMatMulOp, TopKMatMulOp>(op))
    return "activation_sparsity";
  if (isa<FlowAttentionOp, LinearAttentionOp>(op))
    return "flow_attention";
  if (isa<QuantMatMulOp>(op))
    return "quantization";
  if (auto family = op->getAttrOfType<StringAttr>(kFamilyAttrName))
    return family.getValue();
  return "";
}

//===----------------------------------------------------------------------===//
// MoEOp
//===----------------------------------------------------------------------===//

/// True when two dimension sizes can be equal at run time.
static bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Checks that the optional operand |v| (named |name|) has rank
/// |want|.size() and dims compatible with |want|.
static LogicalResult checkShape(Operation *op, Value v, ArrayRef<int64_t> want,
                                StringRef name) {
  if (!v)
    return success();
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getRank() != (int64_t)want.size())
    return op->emitOpError(name) << " has rank " << t.getRank() << ", expected " << want.size();
  for (auto [have, w] : llvm::zip(t.getShape(), want))
    if (!compatible(have, w))
      return op->emitOpError(name) << " has a mismatched shape";
  return success();
}

LogicalResult MoEOp::verify() {
  StringRef gating = getGating(), act = getActivation();
  if (gating != "softmax" && gating != "sigmoid" && gating != "none" && gating != "given")
    return emitOpError("gating must be 'softmax', 'sigmoid', 'none' or 'given' (got '")
           << gating << "')";
  bool given = hasGivenRouting();
  if (given != bool(getExpertIndices()))
    return emitOpError("expert_indices are given exactly when gating = 'given'");
  if (given && (getSelectionBias() || getNGroup() != 1))
    return emitOpError("a given routing has no selection bias or expert groups");
  if (act != "relu" && act != "gelu" && act != "gelu_tanh" && act != "silu" &&
      act != "identity")
    return emitOpError("unsupported activation '") << act << "'";
  int64_t layout = getGateLayout();
  if (layout < 0 || layout > 2)
    return emitOpError("gate_layout must be 0, 1 or 2 (got ") << layout << ")";
  if (layout != 0 && getW3())
    return emitOpError("w3 is only used with gate_layout = 0 (gate and linear "
                       "parts in separate weights)");
  if (getB3() && !getW3())
    return emitOpError("b3 needs w3");
  if (!isGated() && (getLimit() || !getBeta().isZero()))
    return emitOpError("limit and beta apply to gated experts only");
  auto x = cast<RankedTensorType>(getInput().getType());
  auto r = cast<RankedTensorType>(getRouterLogits().getType());
  auto w1 = cast<RankedTensorType>(getW1().getType());
  auto w2 = cast<RankedTensorType>(getW2().getType());
  if (getType() != x)
    return emitOpError("expected the result type to match the input");
  bool quantized = isQuantized();
  if ((x.getRank() != 2 && x.getRank() != 3) || r.getRank() != 2 || w1.getRank() != 3 ||
      w2.getRank() != 3)
    return emitOpError("expected input [T, H] or [B, S, H], router_logits [T, ")
           << (given ? "k], " : "E], ")
           << (quantized ? "w1 [E, F1, H * bits / 8] and w2 [E, H, F * bits / 8]"
                         : "w1 [E, H, F] and w2 [E, F, H]");
  int64_t bits = getWeightBits(), bs = getBlockSize();
  if (bits != 0 && bits != 2 && bits != 4 && bits != 8)
    return emitOpError("weight_bits must be 0 (float weights), 2, 4 or 8 (got ") << bits << ")";
  if (bs < 0 || (bs != 0 && (!quantized || (bs * bits) % 8 != 0)))
    return emitOpError("block_size must be 0 or, for quantized experts, a positive number "
                       "of inputs filling whole bytes (got ")
           << bs << ")";
  if (getInt8Activations() && !quantized)
    return emitOpError("int8_activations needs quantized experts (weight_bits)");
  Value weights[] = {getW1(), getW2(), getW3()};
  Value scales[] = {getW1Scales(), getW2Scales(), getW3Scales()};
  Value zeroPoints[] = {getW1ZeroPoints(), getW2ZeroPoints(), getW3ZeroPoints()};
  for (int i = 0; i < 3; ++i) {
    if (!quantized && (scales[i] || zeroPoints[i]))
      return emitOpError("scales and zero points need weight_bits");
    if (quantized && weights[i] && !scales[i])
      return emitOpError("quantized w") << i + 1 << " needs w" << i + 1 << "_scales";
    if (!weights[i] && (scales[i] || zeroPoints[i]))
      return emitOpError("w") << i + 1 << "_scales and zero points need w" << i + 1;
  }
  for (Value v : getOperands()) {
    if (v == getExpertIndices())
      continue;
    bool integer = llvm::is_contained(zeroPoints, v) ||
                   (quantized && llvm::is_contained(weights, v));
    if (integer ? !getElementTypeOrSelf(v).isUnsignedInteger(8)
                : getElementTypeOrSelf(v) != x.getElementType())
      return emitOpError(quantized ? "quantized weights and zero points must be uint8, every "
                                     "other operand of the input's element type"
                                   : "all operands must have the input's element type");
  }
  int64_t E = given ? w1.getDimSize(0) : r.getDimSize(1), H = x.getShape().back();
  // Quantized: the input size of a packed row, and the size of a dimension
  // from its packed bytes.
  auto unpacked = [&](int64_t bytes) {
    return ShapedType::isDynamic(bytes) ? bytes : bytes * 8 / bits;
  };
  int64_t F = quantized ? unpacked(w2.getDimSize(2)) : w2.getDimSize(1);
  int64_t k = getK();
  if (k < 1 || (!ShapedType::isDynamic(E) && k > E))
    return emitOpError("k = ") << k << " must be in [1, number of experts]";
  if (x.getRank() == 2 && !compatible(x.getDimSize(0), r.getDimSize(0)))
    return emitOpError("router_logits must have one row per token");
  if (given) {
    auto idx = cast<RankedTensorType>(getExpertIndices().getType());
    if (idx.getRank() != 2 || !compatible(idx.getDimSize(0), r.getDimSize(0)) ||
        !compatible(idx.getDimSize(1), r.getDimSize(1)) || !compatible(r.getDimSize(1), k))
      return emitOpError("a given routing needs routing weights (router_logits) and "
                         "expert_indices of one shape [T, k]");
  }
  int64_t f1 = layout == 0 ? F : (ShapedType::isDynamic(F) ? F : 2 * F);
  if (!compatible(w1.getDimSize(0), E) || !compatible(w2.getDimSize(0), E))
    return emitOpError("expert counts of the weights and router_logits differ");
  if (quantized) {
    if (!compatible(unpacked(w1.getDimSize(2)), H) || !compatible(w2.getDimSize(1), H) ||
        !compatible(w1.getDimSize(1), f1))
      return emitOpError("quantized w1 must be [E, ")
             << (layout == 0 ? "F" : "2F") << ", H * bits / 8] and w2 [E, H, F * bits / 8]"
             << " for hidden size " << H;
  } else if (!compatible(w1.getDimSize(1), H) || !compatible(w2.getDimSize(2), H) ||
             !compatible(w1.getDimSize(2), f1)) {
    return emitOpError("w1 must be [E, H, ")
           << (layout == 0 ? "F" : "2F") << "] and w2 [E, F, H] for hidden size " << H;
  }
  auto check = [&](Value v, ArrayRef<int64_t> want, StringRef name) {
    return checkShape(getOperation(), v, want, name);
  };
  if (quantized) {
    // Per weight: its [rows, inputs] unpacked; scales per row or per
    // block; zero points packed along rows (per row) or blocks.
    int64_t dims[3][2] = {{f1, H}, {H, F}, {F, H}};
    auto ceilDiv = [](int64_t a, int64_t b) {
      return ShapedType::isDynamic(a) ? a : (a + b - 1) / b;
    };
    auto packedSize = [&](int64_t n) {
      return ShapedType::isDynamic(n) ? n : (n * bits + 7) / 8;
    };
    for (int i = 0; i < 3; ++i) {
      if (!weights[i])
        continue;
      int64_t rows = dims[i][0], in = dims[i][1];
      std::string w = "w" + std::to_string(i + 1);
      if (bs && !ShapedType::isDynamic(in) && in % bs != 0)
        return emitOpError(w) << "'s input size " << in << " is not a multiple of block_size "
                              << bs;
      if (i == 2 && failed(check(weights[i], {E, F, packedSize(H)}, "w3")))
        return failure();
      int64_t blocks = bs ? ceilDiv(in, bs) : 1;
      SmallVector<int64_t> sWant = {E, rows};
      if (bs)
        sWant.push_back(blocks);
      if (failed(check(scales[i], sWant, w + "_scales")))
        return failure();
      SmallVector<int64_t> zWant = bs ? SmallVector<int64_t>{E, rows, packedSize(blocks)}
                                      : SmallVector<int64_t>{E, packedSize(rows)};
      if (failed(check(zeroPoints[i], zWant, w + "_zero_points")))
        return failure();
    }
  } else if (failed(check(getW3(), {E, H, F}, "w3"))) {
    return failure();
  }
  if (failed(check(getB1(), {E, f1}, "b1")) ||
      failed(check(getB2(), {E, H}, "b2")) || failed(check(getB3(), {E, F}, "b3")) ||
      failed(check(getSelectionBias(), {E}, "selection_bias")) ||
      failed(check(getSharedGate(), {H, 1}, "shared_gate")))
    return failure();
  int64_t groups = getNGroup(), topkGroup = getTopkGroup();
  if (groups < 1 || topkGroup < 1 || topkGroup > groups)
    return emitOpError("expected 1 <= topk_group <= n_group (got ")
           << topkGroup << " and " << groups << ")";
  if (groups > 1 && !ShapedType::isDynamic(E) &&
      (E % groups != 0 || E / groups < 2 || k > topkGroup * (E / groups)))
    return emitOpError("n_group = ")
           << groups << " must split the " << E
           << " experts into groups of at least 2 holding k experts in topk_group groups";
  if (bool(getSharedW1()) != bool(getSharedW2()) ||
      ((getSharedW3() || getSharedGate()) && !getSharedW1()))
    return emitOpError("a shared expert needs shared_w1 and shared_w2");
  if (getSharedW1()) {
    if (bool(getSharedW3()) != isGated())
      return emitOpError("the shared expert must be gated (shared_w3) exactly when the "
                         "routed experts are");
    auto s1 = cast<RankedTensorType>(getSharedW1().getType());
    int64_t Fs = s1.getRank() == 2 ? s1.getDimSize(1) : ShapedType::kDynamic;
    if (failed(check(getSharedW1(), {H, Fs}, "shared_w1")) ||
        failed(check(getSharedW2(), {Fs, H}, "shared_w2")) ||
        failed(check(getSharedW3(), {H, Fs}, "shared_w3")))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// SparseFFNOp
//===----------------------------------------------------------------------===//

LogicalResult SparseFFNOp::verify() {
  StringRef mode = getMode();
  bool indexed = bool(getIndices());
  bool exactZeros =
      mode == "relu" || mode == "relu2" || mode == "threshold" || mode == "abs_threshold";
  bool dense = mode == "gelu" || mode == "gelu_tanh" || mode == "silu" || mode == "identity";
  if (!exactZeros && !(indexed && dense))
    return emitOpError("mode must be 'relu', 'relu2', 'threshold' or 'abs_threshold'")
           << (indexed ? ", 'gelu', 'gelu_tanh', 'silu' or 'identity'" : " without indices")
           << " (got '" << mode << "')";
  StringRef act = getActivation();
  if (act != "identity" && act != "silu" && act != "gelu" && act != "gelu_tanh")
    return emitOpError("activation must be 'identity', 'silu', 'gelu' or 'gelu_tanh' (got '")
           << act << "')";
  if (act != "identity" && mode != "abs_threshold")
    return emitOpError("an activation before the threshold needs mode = 'abs_threshold'");
  if (indexed && cast<RankedTensorType>(getIndices().getType()).getRank() != 1)
    return emitOpError("indices must be a 1-D neuron index set");
  bool thresholded = mode == "threshold" || mode == "abs_threshold";
  if (!thresholded && !getThreshold().isZero())
    return emitOpError("a threshold needs mode = 'threshold' or 'abs_threshold'");
  if (getNanActive() && !thresholded)
    return emitOpError("nan_active needs mode = 'threshold' or 'abs_threshold'");
  if (getThreshold().isNegative())
    return emitOpError("the threshold must not be negative");
  auto x = cast<RankedTensorType>(getInput().getType());
  if (getType() != x)
    return emitOpError("expected the result type to match the input");
  if (x.getRank() != 2 && x.getRank() != 3)
    return emitOpError("expected input [T, H] or [B, S, H]");
  if (getReluUp() && !getUp())
    return emitOpError("relu_up needs up");
  if (isQuantized())
    return verifyQuantized();
  if (getW1Scales() || getW2Scales() || getW1ZeroPoints() || getW2ZeroPoints() ||
      getUpScales() || getUpZeroPoints() || getBlockSize() != 0)
    return emitOpError("scales, zero points and block_size need weight_bits");
  if (getInt8Activations())
    return emitOpError("int8_activations needs quantized weights (weight_bits)");
  for (Value v : getOperands())
    if (v != getIndices() && getElementTypeOrSelf(v) != x.getElementType())
      return emitOpError("all operands must have the input's element type");
  if (getBUp() && !getUp())
    return emitOpError("b_up needs up");
  int64_t H = x.getShape().back();
  auto w1 = cast<RankedTensorType>(getW1().getType());
  if (w1.getRank() != 2)
    return emitOpError(indexed ? "w1 must be [F, H]" : "w1 must be [H, F]");
  int64_t F = w1.getDimSize(indexed ? 0 : 1);
  auto check = [&](Value v, ArrayRef<int64_t> want, StringRef name) {
    return checkShape(getOperation(), v, want, name);
  };
  if (failed(check(getW1(), indexed ? ArrayRef<int64_t>{F, H} : ArrayRef<int64_t>{H, F},
                  "w1")) ||
      failed(check(getW2(), {F, H}, "w2")) ||
      failed(check(getUp(), {F, H}, "up")) || failed(check(getB1(), {F}, "b1")) ||
      failed(check(getBUp(), {F}, "b_up")) || failed(check(getB2(), {H}, "b2")))
    return failure();
  return success();
}

LogicalResult SparseFFNOp::verifyQuantized() {
  int64_t bits = getWeightBits(), bs = getBlockSize();
  if (bits != 2 && bits != 4 && bits != 8)
    return emitOpError("weight_bits must be 0 (float weights), 2, 4 or 8 (got ") << bits << ")";
  if (bs <= 0 || (bs * bits) % 8 != 0)
    return emitOpError("quantized weights need a block_size filling whole bytes (got ") << bs
                                                                                         << ")";
  if (getIndices() || (getMode() != "relu" && getMode() != "relu2" && getMode() != "threshold"))
    return emitOpError(
        "quantized weights take mode 'relu', 'relu2' or 'threshold', without indices");
  if (!getW1Scales() || !getW2Scales())
    return emitOpError("quantized weights need w1_scales and w2_scales");
  if (bool(getUp()) != bool(getUpScales()) || (getUpZeroPoints() && !getUp()))
    return emitOpError("quantized up needs up_scales (and up_zero_points only with up)");
  if (getBUp() && !getUp())
    return emitOpError("b_up needs up");
  auto x = cast<RankedTensorType>(getInput().getType());
  for (Value v : getOperands()) {
    bool codes = v == getW1() || v == getW2() || v == getW1ZeroPoints() ||
                 v == getW2ZeroPoints() || v == getUp() || v == getUpZeroPoints();
    if (codes ? !getElementTypeOrSelf(v).isUnsignedInteger(8)
              : getElementTypeOrSelf(v) != x.getElementType())
      return emitOpError("codes and zero points must be uint8, every other operand of the "
                         "input's element type");
  }
  auto w1 = cast<RankedTensorType>(getW1().getType());
  auto w2 = cast<RankedTensorType>(getW2().getType());
  if (!w1.hasStaticShape() || !w2.hasStaticShape() || w1.getRank() != 3 || w2.getRank() != 2)
    return emitOpError("quantized weights must be static: w1 [F, ceil(H / block_size), "
                       "block_size * bits / 8] and w2 [F, H * bits / 8]");
  int64_t H = x.getShape().back(), F = w1.getDimSize(0);
  if (ShapedType::isDynamic(H))
    return emitOpError("quantized weights need a static hidden size");
  int64_t blocks1 = (H + bs - 1) / bs, blocks2 = (F + bs - 1) / bs;
  auto check = [&](Value v, ArrayRef<int64_t> want, StringRef name) {
    return checkShape(getOperation(), v, want, name);
  };
  if ((H * bits) % 8 != 0)
    return emitOpError("H * bits must fill whole bytes (a row of w2)");
  if (failed(check(getW1(), {F, blocks1, bs * bits / 8}, "w1")) ||
      failed(check(getW2(), {F, H * bits / 8}, "w2")) ||
      failed(check(getW1Scales(), {F, blocks1}, "w1_scales")) ||
      failed(check(getW1ZeroPoints(), {F, (blocks1 * bits + 7) / 8}, "w1_zero_points")) ||
      failed(check(getUp(), {F, blocks1, bs * bits / 8}, "up")) ||
      failed(check(getUpScales(), {F, blocks1}, "up_scales")) ||
      failed(check(getUpZeroPoints(), {F, (blocks1 * bits + 7) / 8}, "up_zero_points")) ||
      failed(check(getBUp(), {F}, "b_up")) ||
      failed(check(getW2Scales(), {blocks2, H}, "w2_scales")) ||
      failed(check(getW2ZeroPoints(), {blocks2, H}, "w2_zero_points")) ||
      failed(check(getB1(), {F}, "b1")) || failed(check(getB2(), {H}, "b2")))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// SparseInputMatMulOp
//===----------------------------------------------------------------------===//

LogicalResult SparseInputMatMulOp::verify() {
  if (getThreshold().isNegative())
    return emitOpError("the threshold must not be negative");
  auto x = cast<RankedTensorType>(getInput().getType());
  auto w = cast<RankedTensorType>(getW().getType());
  auto y = cast<RankedTensorType>(getType());
  if ((x.getRank() != 2 && x.getRank() != 3) || w.getRank() != 2)
    return emitOpError("expected input [T, H] or [B, S, H] and w [H, N]");
  for (Value v : getOperands())
    if (getElementTypeOrSelf(v) != x.getElementType())
      return emitOpError("all operands must have the input's element type");
  if (!compatible(x.getShape().back(), w.getDimSize(0)))
    return emitOpError("w must have one row per input entry");
  if (y.getRank() != x.getRank() || !compatible(y.getShape().back(), w.getDimSize(1)))
    return emitOpError("expected the result [..., N]");
  for (int64_t i = 0; i + 1 < x.getRank(); ++i)
    if (!compatible(x.getDimSize(i), y.getDimSize(i)))
      return emitOpError("the result's leading dims must match the input's");
  if (auto b = getBias()) {
    auto bt = cast<RankedTensorType>(b.getType());
    if (bt.getRank() != 1 || !compatible(bt.getDimSize(0), w.getDimSize(1)))
      return emitOpError("bias must be [N]");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// QuantMatMulOp
//===----------------------------------------------------------------------===//

LogicalResult QuantMatMulOp::verify() {
  int64_t K = getK(), N = getN(), bits = getBits(), bs = getBlockSize();
  if (K <= 0 || N <= 0)
    return emitOpError("K and N must be positive");
  if (bits != 2 && bits != 4 && bits != 8)
    return emitOpError("bits must be 2, 4 or 8");
  if (bs <= 0 || (bs * bits) % 8 != 0)
    return emitOpError("block_size must be positive and fill whole bytes");
  int64_t blocks = (K + bs - 1) / bs;
  auto x = cast<RankedTensorType>(getInput().getType());
  auto y = cast<RankedTensorType>(getType());
  if (x.getRank() < 1 || !compatible(x.getShape().back(), K))
    return emitOpError("expected the input [..., K] with K = ") << K;
  if (y.getRank() != x.getRank() || !compatible(y.getShape().back(), N))
    return emitOpError("expected the result [..., N] with N = ") << N;
  for (int64_t i = 0; i + 1 < x.getRank(); ++i)
    if (!compatible(x.getDimSize(i), y.getDimSize(i)))
      return emitOpError("the result's leading dims must match the input's");
  if (y.getElementType() != x.getElementType())
    return emitOpError("the result must have the input's element type");
  auto w = cast<RankedTensorType>(getWeight().getType());
  if (w.getRank() != 3 || !compatible(w.getDimSize(0), N) ||
      !compatible(w.getDimSize(1), blocks) || !compatible(w.getDimSize(2), bs * bits / 8))
    return emitOpError("expected the weight [N, ceil(K / block_size), block_size * bits / 8] = [")
           << N << ", " << blocks << ", " << bs * bits / 8 << "]";
  // [N, blocks] or flat [N * blocks].
  auto perBlock = [&](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() == 2)
      return compatible(t.getDimSize(0), N) && compatible(t.getDimSize(1), blocks);
    return t.getRank() == 1 && compatible(t.getDimSize(0), N * blocks);
  };
  if (!perBlock(getScales()))
    return emitOpError("expected the scales [N, blocks] or [N * blocks]");
  if (Value z = getZeroPoints()) {
    auto zt = cast<RankedTensorType>(z.getType());
    if (zt.getElementType().isInteger(8)) {
      int64_t perRow = (blocks * bits + 7) / 8;
      bool ok = zt.getRank() == 2 ? compatible(zt.getDimSize(0), N) &&
                                        compatible(zt.getDimSize(1), perRow)
                                  : zt.getRank() == 1 && compatible(zt.getDimSize(0), N * perRow);
      if (!ok)
        return emitOpError("expected packed zero points [N, ") << perRow << "]";
    } else if (!perBlock(z)) {
      return emitOpError("expected float zero points [N, blocks] or [N * blocks]");
    }
  }
  auto vectorOf = [&](Value v, int64_t n) {
    auto t = cast<RankedTensorType>(v.getType());
    return t.getRank() == 1 && compatible(t.getDimSize(0), n) &&
           t.getElementType() == x.getElementType();
  };
  if (getBias() && !vectorOf(getBias(), N))
    return emitOpError("bias must be [N] of the input's type");
  if (getInputScales() && !vectorOf(getInputScales(), K))
    return emitOpError("input_scales must be [K] of the input's type");
  if (getInputNoise() && !vectorOf(getInputNoise(), K))
    return emitOpError("input_noise must be [K] of the input's type");
  auto scalar = [](Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    return t.hasStaticShape() && t.getNumElements() == 1;
  };
  StringRef act = getActivation();
  if (act == "qdq") {
    if (!getActScale() || !scalar(getActScale()) ||
        (getActZeroPoint() && !scalar(getActZeroPoint())))
      return emitOpError("activation 'qdq' needs a one-element act_scale (and zero point)");
  } else if (getActScale() || getActZeroPoint()) {
    return emitOpError("act_scale and act_zero_point belong to activation 'qdq'");
  }
  if ((act == "dynamic" || act == "int8" || act == "qdq") && !x.getElementType().isF32())
    return emitOpError("activation '") << act << "' needs an f32 input";
  if (act == "dynamic") {
    if (blocks != 1)
      return emitOpError("activation 'dynamic' needs one block along K");
    if (getZeroPoints() && !getElementTypeOrSelf(getZeroPoints()).isInteger(8))
      return emitOpError("activation 'dynamic' needs integer zero points");
  } else if (act != "float" && act != "qdq" && act != "int8") {
    return emitOpError("activation must be 'float', 'qdq', 'dynamic' or 'int8'");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TopKMatMulOp
//===----------------------------------------------------------------------===//

LogicalResult TopKMatMulOp::verify() {
  auto idx = cast<RankedTensorType>(getIndices().getType());
  auto vals = cast<RankedTensorType>(getValues().getType());
  auto w = cast<RankedTensorType>(getW().getType());
  auto y = cast<RankedTensorType>(getType());
  if (idx.getRank() != 2 || vals.getRank() != 2 || w.getRank() != 2 || y.getRank() != 2)
    return emitOpError("expected indices and values [T, k], w [F, N] and a result [T, N]");
  for (int64_t i = 0; i < 2; ++i)
    if (!compatible(idx.getDimSize(i), vals.getDimSize(i)))
      return emitOpError("indices and values must have the same shape");
  Type elt = vals.getElementType();
  if (w.getElementType() != elt || y.getElementType() != elt ||
      (getBias() && getElementTypeOrSelf(getBias()) != elt))
    return emitOpError("values, w, bias and the result must share one element type");
  if (!compatible(y.getDimSize(0), vals.getDimSize(0)) ||
      !compatible(y.getDimSize(1), w.getDimSize(1)))
    return emitOpError("expected the result [T, N]");
  if (auto b = getBias()) {
    auto bt = cast<RankedTensorType>(b.getType());
    if (bt.getRank() != 1 || !compatible(bt.getDimSize(0), w.getDimSize(1)))
      return emitOpError("bias must be [N]");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  auto q = cast<RankedTensorType>(getQuery().getType());
  auto k = cast<RankedTensorType>(getKey().getType());
  auto v = cast<RankedTensorType>(getValue().getType());
  auto o = cast<RankedTensorType>(getType());
  int64_t rank = q.getRank();
  if (rank < 2 || k.getRank() != rank || v.getRank() != rank || o.getRank() != rank)
    return emitOpError("expected query, key, value and the result of one rank >= 2");
  for (Value x : getOperands())
    if (getElementTypeOrSelf(x) != q.getElementType())
      return emitOpError("all operands must have the query's element type");
  if (o.getElementType() != q.getElementType())
    return emitOpError("the result must have the query's element type");
  // Key and value broadcast along their leading dims of size 1, as
  // MatMul does, and may have a static divisor of the query's static size
  // (grouped-query attention: query head h reads kv head h / (Hq / Hkv)).
  auto fits = [&](int64_t kv, int64_t qd) {
    return kv == 1 || compatible(kv, qd) ||
           (!ShapedType::isDynamic(kv) && !ShapedType::isDynamic(qd) && kv > 0 && qd % kv == 0);
  };
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (!fits(k.getDimSize(i), q.getDimSize(i)) || !fits(v.getDimSize(i), q.getDimSize(i)) ||
        !compatible(q.getDimSize(i), o.getDimSize(i)))
      return emitOpError("key and value must have the query's leading dims (each 1, equal or "
                         "a static divisor), the result the query's");
  int64_t d = q.getDimSize(rank - 1);
  int64_t kd = getKeyTransposed() ? k.getDimSize(rank - 2) : k.getDimSize(rank - 1);
  int64_t lk = getKeyTransposed() ? k.getDimSize(rank - 1) : k.getDimSize(rank - 2);
  if (!compatible(d, kd))
    return emitOpError("query and key must have the same head dim");
  if (!compatible(lk, v.getDimSize(rank - 2)))
    return emitOpError("key and value must have the same number of positions");
  if (!compatible(o.getDimSize(rank - 2), q.getDimSize(rank - 2)) ||
      !compatible(o.getDimSize(rank - 1), v.getDimSize(rank - 1)))
    return emitOpError("expected the result [..., Lq, Dv]");
  if (Value m = getMask()) {
    auto mt = cast<RankedTensorType>(m.getType());
    if (mt.getRank() > rank)
      return emitOpError("the mask must broadcast to the scores [..., Lq, Lk]");
    SmallVector<int64_t> scores(q.getShape());
    scores.back() = lk;
    for (int64_t i = 0; i < mt.getRank(); ++i) {
      int64_t md = mt.getDimSize(mt.getRank() - 1 - i), sd = scores[rank - 1 - i];
      if (md != 1 && !compatible(md, sd))
        return emitOpError("the mask must broadcast to the scores [..., Lq, Lk]");
    }
  }
  if (Value s = getSinks()) {
    auto st = cast<RankedTensorType>(s.getType());
    bool fits = st.getRank() == rank - 2;
    for (int64_t i = 0; fits && i < st.getRank(); ++i)
      fits = st.getDimSize(i) == 1 || compatible(st.getDimSize(i), q.getDimSize(i));
    if (!fits)
      return emitOpError("sinks must have the query's leading dims (each 1 or equal)");
  }
  return success();
}

/// The rules flow and linear attention share: query [..., L, D], key
/// [..., S, D], value [..., S, Dv] -> [..., L, Dv], one float type, a
/// known feature map, L = S when causal, a positive chunk, eps >= 0.
static LogicalResult verifyLinearTimeAttention(Operation *op, StringRef featureMap,
                                               bool causal, int64_t chunk, double eps) {
  auto q = cast<RankedTensorType>(op->getOperand(0).getType());
  auto k = cast<RankedTensorType>(op->getOperand(1).getType());
  auto v = cast<RankedTensorType>(op->getOperand(2).getType());
  auto o = cast<RankedTensorType>(op->getResult(0).getType());
  int64_t rank = q.getRank();
  if (rank < 2 || k.getRank() != rank || v.getRank() != rank || o.getRank() != rank)
    return op->emitOpError("expected query, key, value and the result of one rank >= 2");
  for (Type t : {k.getElementType(), v.getElementType(), o.getElementType()})
    if (t != q.getElementType())
      return op->emitOpError("query, key, value and the result must have one element type");
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (!compatible(q.getDimSize(i), k.getDimSize(i)) ||
        !compatible(q.getDimSize(i), v.getDimSize(i)) ||
        !compatible(q.getDimSize(i), o.getDimSize(i)))
      return op->emitOpError("query, key, value and the result must share the leading dims");
  if (!compatible(q.getDimSize(rank - 1), k.getDimSize(rank - 1)))
    return op->emitOpError("query and key must have the same feature dim");
  if (!compatible(k.getDimSize(rank - 2), v.getDimSize(rank - 2)))
    return op->emitOpError("key and value must have the same number of positions");
  if (!compatible(o.getDimSize(rank - 2), q.getDimSize(rank - 2)) ||
      !compatible(o.getDimSize(rank - 1), v.getDimSize(rank - 1)))
    return op->emitOpError("expected the result [..., L, Dv]");
  if (causal && !compatible(q.getDimSize(rank - 2), k.getDimSize(rank - 2)))
    return op->emitOpError("causal attention needs as many queries as keys");
  if (!llvm::is_contained({"sigmoid", "elu1", "relu", "identity"}, featureMap))
    return op->emitOpError("unknown feature_map '")
           << featureMap << "' (expected sigmoid, elu1, relu or identity)";
  if (chunk <= 0)
    return op->emitOpError("chunk_size must be positive");
  if (eps < 0.0)
    return op->emitOpError("eps must be non-negative");
  return success();
}

LogicalResult FlowAttentionOp::verify() {
  return verifyLinearTimeAttention(*this, getFeatureMap(), getCausal(), getChunkSize(),
                                   getEps().convertToDouble());
}

LogicalResult LinearAttentionOp::verify() {
  return verifyLinearTimeAttention(*this, getFeatureMap(), getCausal(), getChunkSize(),
                                   getEps().convertToDouble());
}

#define GET_OP_CLASSES
#include "sparsa/Dialect/Sparsa/IR/SparsaOps.cpp.inc"
