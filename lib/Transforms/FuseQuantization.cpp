//===- FuseQuantization.cpp - quantized matmuls -> sparsa.quant_matmul -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Every way exporters write a matmul by quantized weights becomes one
// sparsa.quant_matmul whose weights stay packed (MatMulNBits' layout,
// repacked here at compile time when the model stored them otherwise):
//
//  - com.microsoft.MatMulNBits;
//  - DequantizeLinear of constant int8 / uint8 / int4 / uint4 weights (per
//    tensor, per output channel, or blocked along K) feeding MatMul or
//    Gemm (+ bias);
//  - ONNX Runtime's static QDQ: the activation's QuantizeLinear ->
//    DequantizeLinear pair (per tensor) folds in as activation `qdq`;
//  - NoisyQuant: a constant noise vector added before that QuantizeLinear
//    (and the corrected bias after the matmul);
//  - AWQ: a Mul of the input by a constant per-input-channel vector;
//  - ONNX Runtime's dynamic quantization: DynamicQuantizeLinear ->
//    MatMulInteger -> Cast -> Mul(x_scale * w_scale) (+ bias), as
//    activation `dynamic`.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "OnnxPatterns.h"

#include "mlir/IR/TypeUtilities.h"

#include <cstring>

namespace sparsa {
#define GEN_PASS_DEF_FUSEQUANTIZATIONPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
using namespace sparsa::patterns;
namespace sp = sparsa::sparsa;
using sparsa::markUnfused;

static constexpr StringLiteral kFamily = "quantization";

/// Block size along K for weights quantized per tensor or per channel: the
/// packed kernels take 16-byte steps and several blocks per step.
static constexpr int64_t kChannelBlock = 128;

namespace {
/// A quantized weight `W[k, n] = (code[n, k] - zp[n, k / bs]) * s[n, k / bs]`
/// with unsigned codes of |bits| bits, padded along K to whole blocks.
struct QuantWeight {
  int64_t K = 0, N = 0, bits = 8, bs = 0;
  std::vector<uint8_t> codes; // [N, blocks * bs]
  std::vector<float> scales;  // [N, blocks]
  std::vector<float> zps;     // [N, blocks], in codes
  int64_t blocks() const { return (K + bs - 1) / bs; }
};

/// What a fusion attempt found: the replacement, or why it did not fuse
/// (empty when the op is not a candidate at all).
struct Outcome {
  Operation *replaced = nullptr;
  std::string why;
};
} // namespace

static bool isF32(Value v) { return v && getElementTypeOrSelf(v).isF32(); }

static int64_t numElements(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.hasStaticShape() ? t.getNumElements() : -1;
}

/// The float values of a static f32 constant.
static std::optional<std::vector<float>> constFloats(Value v) {
  if (!isF32(v))
    return std::nullopt;
  auto bytes = constantBytes(v);
  if (failed(bytes))
    return std::nullopt;
  std::vector<float> out(bytes->size() / 4);
  std::memcpy(out.data(), bytes->data(), out.size() * 4);
  return out;
}

/// The integer values of a static 4- or 8-bit integer constant (one byte
/// per element), sign-extended when the type is signed.
static std::optional<std::vector<int32_t>> constCodes(Value v, int64_t &bits, bool &isSigned) {
  auto it = dyn_cast<IntegerType>(getElementTypeOrSelf(v));
  if (!it || (it.getWidth() != 8 && it.getWidth() != 4))
    return std::nullopt;
  bits = it.getWidth();
  isSigned = !it.isUnsigned();
  auto bytes = constantBytes(v);
  if (failed(bytes))
    return std::nullopt;
  std::vector<int32_t> out(bytes->size());
  for (size_t i = 0; i < out.size(); ++i) {
    auto u = static_cast<uint8_t>((*bytes)[i]);
    int32_t x = bits == 8 ? (isSigned ? int32_t(int8_t(u)) : int32_t(u))
                          : (isSigned ? ((u & 15) ^ 8) - 8 : (u & 15));
    out[i] = x;
  }
  return out;
}

/// |w|'s codes as MatMulNBits packs them: [N, blocks, bs * bits / 8].
static Value packedWeight(OpBuilder &b, Location loc, const QuantWeight &w) {
  int64_t blocks = w.blocks(), perBlock = w.bs * w.bits / 8, row = blocks * w.bs;
  SmallVector<char> out(w.N * blocks * perBlock, 0);
  int64_t perByte = 8 / w.bits;
  for (int64_t n = 0; n < w.N; ++n)
    for (int64_t k = 0; k < row; ++k) {
      auto c = static_cast<uint8_t>(w.codes[n * row + k]);
      out[n * blocks * perBlock + k / perByte] |= char(c << ((k % perByte) * w.bits));
    }
  auto t = RankedTensorType::get({w.N, blocks, perBlock}, b.getIntegerType(8, false));
  return bytesConstant(b, loc, t, out);
}

static Value floatConstant(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                           ArrayRef<float> data) {
  SmallVector<char> bytes(data.size() * 4);
  std::memcpy(bytes.data(), data.data(), bytes.size());
  return bytesConstant(b, loc, RankedTensorType::get(shape, b.getF32Type()), bytes);
}

/// |w|'s zero points for the op: none when all are the default
/// 2^(bits - 1); f32 [N, blocks]; or (|packed|) uint8 packed per row.
static Value zeroPoints(OpBuilder &b, Location loc, const QuantWeight &w, bool packed) {
  float dflt = float(1 << (w.bits - 1));
  if (llvm::all_of(w.zps, [&](float z) { return z == dflt; }))
    return Value();
  int64_t blocks = w.blocks();
  if (!packed)
    return floatConstant(b, loc, {w.N, blocks}, w.zps);
  int64_t perRow = (blocks * w.bits + 7) / 8, perByte = 8 / w.bits;
  SmallVector<char> out(w.N * perRow, 0);
  for (int64_t n = 0; n < w.N; ++n)
    for (int64_t k = 0; k < blocks; ++k)
      out[n * perRow + k / perByte] |=
          char(uint8_t(w.zps[n * blocks + k]) << ((k % perByte) * w.bits));
  return bytesConstant(b, loc, RankedTensorType::get({w.N, perRow}, b.getIntegerType(8, false)),
                       out);
}

/// The quantized weight behind `DequantizeLinear(q, s, zp)` used as the
/// [K, N] operand of a matmul (|kFirst|) or as [N, K] (Gemm's transB).
/// |oneBlock| asks for a single block along K (the dynamic path).
static FailureOr<QuantWeight> fromDequantize(onnx::DequantizeLinearOp dq, bool kFirst,
                                             bool oneBlock, std::string &why) {
  Value x = dq.getX(), s = dq.getXScale(), z = dq.getXZeroPoint();
  if (rankOf(x) != 2)
    return why = "the quantized weight is not 2-D", failure();
  if (!isConstant(x))
    return why = "the quantized weight is not a constant", failure();
  if (!isConstant(s) || (z && !isConstant(z)))
    return why = "the weight's scale or zero point is not a constant", failure();
  if (!isF32(s) || !isF32(dq.getY()))
    return why = "the weight's scale is not f32", failure();
  QuantWeight w;
  bool isSigned = false;
  auto codes = constCodes(x, w.bits, isSigned);
  if (!codes)
    return why = "the quantized weight is not 4- or 8-bit integers", failure();
  auto xT = cast<RankedTensorType>(x.getType());
  int64_t kDim = kFirst ? 0 : 1, nDim = 1 - kDim;
  w.K = xT.getDimSize(kDim);
  w.N = xT.getDimSize(nDim);
  int64_t axis = dq.getAxis() < 0 ? dq.getAxis() + 2 : dq.getAxis();
  int64_t dqBlock = dq.getBlockSize();
  int64_t ns = numElements(s);
  // How each element finds its scale: idx(k, n) into the scale tensor.
  std::function<int64_t(int64_t, int64_t)> at;
  if (dqBlock > 0) {
    if (axis != kDim)
      return why = "blocked scales are not along K", failure();
    int64_t kb = (w.K + dqBlock - 1) / dqBlock;
    if (ns != kb * w.N)
      return why = "unexpected blocked scale shape", failure();
    if (oneBlock && kb != 1)
      return why = "dynamic quantization with blocked weights", failure();
    // Scale shape is x's with K -> kb.
    at = kFirst ? std::function<int64_t(int64_t, int64_t)>(
                      [=](int64_t k, int64_t n) { return (k / dqBlock) * w.N + n; })
                : [=](int64_t k, int64_t n) { return n * kb + k / dqBlock; };
  } else if (ns == 1) {
    at = [](int64_t, int64_t) { return int64_t(0); };
  } else if (rankOf(s) == 1 && ns == w.N && axis == nDim) {
    at = [](int64_t, int64_t n) { return n; };
  } else if (rankOf(s) == 1 && axis == kDim) {
    return why = "scales per input channel (axis along K) do not fold into weight blocks",
           failure();
  } else {
    return why = "unexpected scale shape", failure();
  }
  if (z && numElements(z) != ns)
    return why = "zero point and scale shapes differ", failure();
  auto scales = constFloats(s);
  std::optional<std::vector<int32_t>> zcodes;
  if (z) {
    int64_t zbits;
    bool zSigned;
    zcodes = constCodes(z, zbits, zSigned);
    if (!zcodes || zbits != w.bits || zSigned != isSigned)
      return why = "the zero point's type differs from the weight's", failure();
  }
  if (!scales)
    return why = "the weight's scale is not readable", failure();
  // Block size: the model's, else one block (dynamic), else kChannelBlock
  // (or K rounded up to 16 when smaller).
  if (dqBlock > 0)
    w.bs = dqBlock;
  else if (oneBlock)
    w.bs = w.K;
  else
    w.bs = std::min<int64_t>(kChannelBlock, (w.K + 15) / 16 * 16);
  if ((w.bs * w.bits) % 8 != 0)
    return why = "the block size does not fill whole bytes", failure();
  int64_t offset = isSigned ? (1 << (w.bits - 1)) : 0;
  int64_t blocks = w.blocks(), row = blocks * w.bs;
  w.codes.assign(w.N * row, 0);
  w.scales.assign(w.N * blocks, 0.f);
  w.zps.assign(w.N * blocks, 0.f);
  for (int64_t n = 0; n < w.N; ++n) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      int64_t k0 = blk * w.bs;
      int64_t i = at(std::min(k0, w.K - 1), n);
      w.scales[n * blocks + blk] = (*scales)[i];
      w.zps[n * blocks + blk] = float((zcodes ? (*zcodes)[i] : 0) + offset);
    }
    for (int64_t k = 0; k < row; ++k) {
      int64_t c;
      if (k < w.K) {
        int64_t e = kFirst ? k * w.N + n : n * w.K + k;
        c = (*codes)[e] + offset;
      } else { // padding: the zero point (A is zero there anyway)
        c = int64_t(w.zps[n * blocks + k / w.bs]);
      }
      w.codes[n * row + k] = uint8_t(c);
    }
  }
  // Per-tensor or per-channel scales must be uniform within each block.
  if (dqBlock == 0)
    for (int64_t n = 0; n < w.N; ++n)
      for (int64_t k = 0; k < w.K; ++k)
        if ((*scales)[at(k, n)] != w.scales[n * blocks + k / w.bs])
          return why = "unexpected scale layout", failure();
  return w;
}

/// |v| = c with |c| a constant holding |n| f32 values along the last dim
/// (any leading unit dims): its values.
static std::optional<std::vector<float>> constVector(Value c, int64_t n) {
  auto t = dyn_cast<RankedTensorType>(c.getType());
  if (!t || !t.hasStaticShape() || t.getRank() < 1 || t.getNumElements() != n ||
      t.getShape().back() != n)
    return std::nullopt;
  return constFloats(c);
}

namespace {
/// The activation side of a quantized matmul: `x * scales + noise`,
/// fake-quantized for `qdq`.
struct Activation {
  Value x;
  Value inputScales, noise; // [K] constants (built), or null
  Value actScale, actZp;    // qdq
  StringRef form;
};
} // namespace

/// Peels NoisyQuant / QDQ / AWQ steps off the matmul input |a| with K
/// columns, building [K] constants before |at|.
static Activation peelActivation(OpBuilder &b, Location loc, Value a, int64_t K,
                                 bool allowQDQ) {
  Activation act{a, {}, {}, {}, {}, ""};
  // DequantizeLinear(QuantizeLinear(x, s, z), s, z), per tensor.
  if (allowQDQ)
    if (auto dq = a.getDefiningOp<onnx::DequantizeLinearOp>())
      if (auto q = dq.getX().getDefiningOp<onnx::QuantizeLinearOp>()) {
        std::optional<double> s1 = constFloat(dq.getXScale()), s2 = constFloat(q.getYScale());
        Value z1 = dq.getXZeroPoint(), z2 = q.getYZeroPoint();
        bool sameZp = (!z1 && !z2);
        if (z1 && z2 && z1.getType() == z2.getType() && numElements(z1) == 1) {
          auto b1 = constantBytes(z1), b2 = constantBytes(z2);
          sameZp = succeeded(b1) && succeeded(b2) && *b1 == *b2;
        }
        if (s1 && s2 && *s1 == *s2 && sameZp && isF32(q.getX()) && isF32(dq.getY()) &&
            numElements(dq.getXScale()) == 1 && q.getBlockSize() == 0) {
          act.x = q.getX();
          act.actScale = dq.getXScale();
          act.actZp = z1;
          act.form = "QDQ";
        }
      }
  // NoisyQuant: Add(x, noise) before the quantization.
  if (act.actScale)
    if (auto add = act.x.getDefiningOp<onnx::AddOp>())
      for (auto [x, c] : {std::pair(add.getA(), add.getB()), std::pair(add.getB(), add.getA())})
        if (auto noise = constVector(c, K); noise && rankOf(x) == rankOf(act.x)) {
          act.noise = floatConstant(b, loc, {K}, *noise);
          act.x = x;
          act.form = "NoisyQuant";
          break;
        }
  // AWQ: Mul(x, per-input-channel scales).
  if (auto mul = act.x.getDefiningOp<onnx::MulOp>())
    for (auto [x, c] : {std::pair(mul.getA(), mul.getB()), std::pair(mul.getB(), mul.getA())})
      if (auto s = constVector(c, K); s && rankOf(x) == rankOf(act.x) && isF32(x)) {
        act.inputScales = floatConstant(b, loc, {K}, *s);
        act.x = x;
        if (act.form.empty())
          act.form = "AWQ";
        break;
      }
  return act;
}

/// |y| followed by `Add(y, bias)` (its only use) with a constant [N]
/// bias: the Add, and the bias values.
static onnx::AddOp peelBias(Value y, int64_t N, std::vector<float> &bias) {
  if (!y.hasOneUse())
    return {};
  auto add = dyn_cast<onnx::AddOp>(*y.getUsers().begin());
  if (!add || add.getResult().getType() != y.getType())
    return {};
  Value c = add.getA() == y ? add.getB() : add.getA();
  auto v = constVector(c, N);
  if (!v)
    return {};
  bias = *v;
  return add;
}

/// Builds the op replacing |root| (whose result is [..., N]).
static Operation *buildQuantMatMul(OpBuilder &b, Operation *root, Value result,
                                   const Activation &act, Value weight, Value scales, Value zp,
                                   Value bias, int64_t K, int64_t N, int64_t bits, int64_t bs,
                                   StringRef activation, StringRef form) {
  auto op = sp::QuantMatMulOp::create(
      b, root->getLoc(), result.getType(), act.x, weight, scales, zp, bias, act.inputScales,
      act.noise, act.actScale, act.actZp, b.getI64IntegerAttr(K), b.getI64IntegerAttr(N),
      b.getI64IntegerAttr(bits), b.getI64IntegerAttr(bs), b.getStringAttr(activation),
      b.getStringAttr(form));
  if (!verifiesQuietly(op)) {
    op->erase();
    return nullptr;
  }
  result.replaceAllUsesWith(op.getResult());
  return root;
}

/// MatMul(A, DQ(W)) / Gemm(A, DQ(W), C) (+ Add bias).
static Outcome fuseDequantizedMatMul(Operation *root) {
  Value a, wv, c;
  bool kFirst = true;
  if (auto mm = dyn_cast<onnx::MatMulOp>(root)) {
    a = mm.getA();
    wv = mm.getB();
  } else if (auto g = dyn_cast<onnx::GemmOp>(root)) {
    a = g.getA();
    wv = g.getB();
    c = g.getC();
    kFirst = !g.getTransB();
    if (!wv.getDefiningOp<onnx::DequantizeLinearOp>())
      return {};
    if (g.getTransA() || g.getAlpha().convertToFloat() != 1.0f ||
        (c && g.getBeta().convertToFloat() != 1.0f))
      return {nullptr, "Gemm with transA or alpha / beta other than 1"};
  } else {
    return {};
  }
  auto dq = wv.getDefiningOp<onnx::DequantizeLinearOp>();
  if (!dq)
    return {};
  if (rankOf(wv) != 2 || rankOf(a) < 1 || !isF32(a) || !isF32(root->getResult(0)))
    return {nullptr, "not an f32 matmul by a 2-D weight"};
  std::string why;
  auto w = fromDequantize(dq, kFirst, /*oneBlock=*/false, why);
  if (failed(w))
    return {nullptr, why};
  Value y = root->getResult(0);
  OpBuilder b(root);
  Location loc = root->getLoc();
  std::vector<float> bias;
  Operation *last = root;
  if (c) {
    auto cv = constVector(c, w->N);
    if (!cv)
      return {nullptr, "Gemm's C is not a constant [N] bias"};
    bias = *cv;
  } else if (auto add = peelBias(y, w->N, bias)) {
    last = add;
    y = add.getResult();
  }
  Activation act = peelActivation(b, loc, a, w->K, /*allowQDQ=*/true);
  Value weight = packedWeight(b, loc, *w);
  Value scales = floatConstant(b, loc, {w->N, w->blocks()}, w->scales);
  Value zp = zeroPoints(b, loc, *w, /*packed=*/false);
  Value biasV = bias.empty() ? Value() : floatConstant(b, loc, {w->N}, bias);
  StringRef form = act.form.empty() ? StringRef("DequantizeLinear") : act.form;
  b.setInsertionPoint(last);
  if (!buildQuantMatMul(b, last, y, act, weight, scales, zp, biasV, w->K, w->N, w->bits, w->bs,
                        act.actScale ? "qdq" : "float", form))
    return {nullptr, "the operands do not form a valid sparsa.quant_matmul"};
  return {last, ""};
}

/// com.microsoft.MatMulNBits (+ AWQ input scales, + Add bias).
static Outcome fuseMatMulNBits(onnx::MatMulNBitsOp op) {
  if (!isF32(op.getA()) || !isF32(op.getScales()))
    return {nullptr, "MatMulNBits with non-f32 input or scales"};
  int64_t K = op.getK(), N = op.getN(), bits = op.getBits(), bs = op.getBlockSize();
  int64_t blocks = (K + bs - 1) / bs;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value y = op.getY();
  Operation *last = op;
  Value bias = op.getBias();
  std::vector<float> extra;
  if (auto add = peelBias(y, N, extra)) {
    std::vector<float> sum = extra;
    bool ok = true;
    if (bias) {
      auto old = constVector(bias, N);
      ok = old.has_value();
      for (int64_t i = 0; ok && i < N; ++i)
        sum[i] += (*old)[i];
    }
    if (ok) {
      bias = floatConstant(b, loc, {N}, sum);
      last = add;
      y = add.getResult();
    }
  }
  Activation act = peelActivation(b, loc, op.getA(), K, /*allowQDQ=*/false);
  // Constant packed zero points that are all the default disappear; 4- and
  // 8-bit ones stay packed (the kernels read them as they are), 2-bit ones
  // become f32 per block.
  Value zp = op.getZeroPoints();
  if (zp && getElementTypeOrSelf(zp).isInteger(8)) {
    auto bytes = constantBytes(zp);
    int64_t perRow = (blocks * bits + 7) / 8;
    if (succeeded(bytes) && int64_t(bytes->size()) == N * perRow) {
      std::vector<float> z(N * blocks);
      bool dflt = true;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < blocks; ++k) {
          int64_t bit = k * bits;
          auto byte = static_cast<uint8_t>((*bytes)[n * perRow + bit / 8]);
          z[n * blocks + k] = float((byte >> (bit % 8)) & ((1 << bits) - 1));
          dflt &= z[n * blocks + k] == float(1 << (bits - 1));
        }
      if (dflt)
        zp = Value();
      else if (bits == 2)
        zp = floatConstant(b, loc, {N, blocks}, z);
    }
  }
  StringRef form = act.form.empty() ? StringRef("MatMulNBits") : act.form;
  b.setInsertionPoint(last);
  if (!buildQuantMatMul(b, last, y, act, op.getB(), op.getScales(), zp, bias, K, N, bits, bs,
                        "float", form))
    return {nullptr, "the operands do not form a valid sparsa.quant_matmul"};
  return {last, ""};
}

/// DynamicQuantizeLinear(x) -> MatMulInteger(xq, Wq, x_zp, w_zp) ->
/// Cast(float) -> Mul(x_scale * w_scale) (+ Add bias).
static Outcome fuseDynamic(onnx::MatMulIntegerOp mmi) {
  auto dql = mmi.getA().getDefiningOp<onnx::DynamicQuantizeLinearOp>();
  if (!dql || mmi.getA() != dql.getY())
    return {};
  if (mmi.getAZeroPoint() != dql.getYZeroPoint())
    return {nullptr, "MatMulInteger's input zero point is not DynamicQuantizeLinear's"};
  Value acc = mmi.getY();
  auto castOp = acc.hasOneUse() ? dyn_cast<onnx::CastOp>(*acc.getUsers().begin()) : onnx::CastOp();
  if (!castOp || !isF32(castOp.getResult()) || !castOp.getResult().hasOneUse())
    return {nullptr, "MatMulInteger's result is not cast to f32 (alone)"};
  auto mul = dyn_cast<onnx::MulOp>(*castOp.getResult().getUsers().begin());
  if (!mul)
    return {nullptr, "the f32 product is not rescaled by a Mul"};
  Value scaleV = mul.getA() == castOp.getResult() ? mul.getB() : mul.getA();
  // x_scale * w_scale, in either order.
  auto sm = scaleV.getDefiningOp<onnx::MulOp>();
  Value ws;
  if (sm && sm.getA() == dql.getYScale())
    ws = sm.getB();
  else if (sm && sm.getB() == dql.getYScale())
    ws = sm.getA();
  if (!ws || !isConstant(ws))
    return {nullptr, "the rescale is not x_scale times a constant weight scale"};
  Value wq = mmi.getB();
  if (rankOf(wq) != 2 || !isConstant(wq))
    return {nullptr, "the quantized weight is not a 2-D constant"};
  Value wz = mmi.getBZeroPoint();
  if (wz && !isConstant(wz))
    return {nullptr, "the weight's zero point is not a constant"};
  int64_t N = cast<RankedTensorType>(wq.getType()).getDimSize(1);
  if (numElements(ws) != 1 && numElements(ws) != N)
    return {nullptr, "the weight scale is neither per tensor nor per column"};
  if (wz && numElements(wz) != 1 && numElements(wz) != N)
    return {nullptr, "the weight zero point is neither per tensor nor per column"};
  if (wz && numElements(wz) != numElements(ws))
    return {nullptr, "weight scale and zero point differ in granularity"};
  // The weight as a DequantizeLinear (axis 1: per column) would state it:
  // a temporary one reuses its reader.
  OpBuilder b(mul);
  Location loc = mmi.getLoc();
  auto dq = onnx::DequantizeLinearOp::create(
      b, loc, RankedTensorType::get(cast<RankedTensorType>(wq.getType()).getShape(),
                                    b.getF32Type()),
      wq, ws, wz, b.getI64IntegerAttr(1), b.getI64IntegerAttr(0));
  std::string why;
  FailureOr<QuantWeight> w = failure();
  if (rankOf(ws) <= 1)
    w = fromDequantize(dq, /*kFirst=*/true, /*oneBlock=*/true, why);
  else
    why = "the weight scale is not a scalar or a vector";
  dq->erase();
  if (failed(w))
    return {nullptr, why};
  Value y = mul.getResult();
  Operation *last = mul;
  std::vector<float> bias;
  if (auto add = peelBias(y, w->N, bias)) {
    last = add;
    y = add.getResult();
  }
  Value a = dql.getX();
  Activation act = peelActivation(b, loc, a, w->K, /*allowQDQ=*/false);
  b.setInsertionPoint(last);
  Value weight = packedWeight(b, loc, *w);
  Value scales = floatConstant(b, loc, {w->N, 1}, w->scales);
  Value zp = zeroPoints(b, loc, *w, /*packed=*/true);
  Value biasV = bias.empty() ? Value() : floatConstant(b, loc, {w->N}, bias);
  if (rankOf(y) != rankOf(a))
    return {nullptr, "the result's rank differs from the input's"};
  if (!buildQuantMatMul(b, last, y, act, weight, scales, zp, biasV, w->K, w->N, w->bits, w->bs,
                        "dynamic", act.form.empty() ? StringRef("dynamic") : act.form))
    return {nullptr, "the operands do not form a valid sparsa.quant_matmul"};
  return {last, ""};
}

namespace {
struct FuseQuantizationPass final
    : sparsa::impl::FuseQuantizationPassBase<FuseQuantizationPass> {
  using FuseQuantizationPassBase::FuseQuantizationPassBase;
  void runOnOperation() override {
    SmallVector<Operation *> anchors;
    getOperation().walk([&](Operation *op) {
      if (isa<onnx::MatMulNBitsOp, onnx::MatMulOp, onnx::GemmOp, onnx::MatMulIntegerOp>(op))
        anchors.push_back(op);
    });
    llvm::DenseSet<Operation *> erased;
    for (Operation *op : anchors) {
      if (erased.contains(op))
        continue;
      Outcome o;
      if (auto nb = dyn_cast<onnx::MatMulNBitsOp>(op))
        o = fuseMatMulNBits(nb);
      else if (auto mmi = dyn_cast<onnx::MatMulIntegerOp>(op))
        o = fuseDynamic(mmi);
      else
        o = fuseDequantizedMatMul(op);
      if (o.replaced)
        eraseDeadProducers(o.replaced, erased);
      else if (!o.why.empty())
        markUnfused(op, kFamily, o.why);
    }
    if (int8Activations) {
      // Quantized matmuls, the quantized experts of the routing op, and
      // the gate of quantized sparse FFNs.
      getOperation().walk([&](Operation *op) {
        if (auto qm = dyn_cast<sp::QuantMatMulOp>(op); qm && qm.getActivation() == "float")
          qm.setActivation("int8");
        else if (auto moe = dyn_cast<sp::MoEOp>(op); moe && moe.isQuantized())
          moe.setInt8Activations(true);
        else if (auto ffn = dyn_cast<sp::SparseFFNOp>(op); ffn && ffn.isQuantized())
          ffn.setInt8Activations(true);
      });
    }
  }
};
} // namespace
