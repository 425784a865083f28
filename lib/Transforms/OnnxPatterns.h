//===- OnnxPatterns.h - Matching helpers of the fusion passes --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// What the fusion families share when reading exporter graphs in the onnx
// dialect: constants, projections (MatMul / Gemm with a bias), activations
// (ReLU in its spellings, GELU, SiLU, thresholds) and whole FFNs; and
// building constants from bytes at compile time.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_LIB_TRANSFORMS_ONNXPATTERNS_H
#define SPARSA_LIB_TRANSFORMS_ONNXPATTERNS_H

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"

#include <optional>

namespace sparsa::patterns {
using namespace mlir;
namespace onnx = ::sparsa::onnx;

/// The value of a one-element float / integer constant.
std::optional<double> constFloat(Value v);
std::optional<int64_t> constInt(Value v);
bool isConstant(Value v);
/// Rank of a ranked tensor value, -1 otherwise.
int64_t rankOf(Value v);
/// |v| without leading unit dims added by Unsqueeze / Reshape to a rank-2
/// value.
Value peelUnitDims(Value v);
/// The dims of |t| that are not statically 1, in order.
SmallVector<int64_t> nonUnitDims(RankedTensorType t);
/// Whether the Transpose permutation |perm| swaps the last two of |rank|
/// dims and keeps the others.
bool swapsLastTwo(std::optional<ArrayRef<int64_t>> perm, int64_t rank);
/// Whether |v| is an all-zero tensor (a constant or ConstantOfShape).
bool isZeroTensor(Value v);

/// The condition `key > t` (|greater|; `key >= t` with |inclusive|) or
/// `key <= t` (not |greater|; `key < t` without |inclusive|) in any
/// spelling: Greater / Less / GreaterOrEqual / LessOrEqual either way
/// round, or Not of the complement (|negated|: a NaN key then passes).
bool matchComparison(Value cond, bool greater, Value &key, Value &t, bool &inclusive,
                     bool &negated);

/// The value of the scalar |v| when it is known at compile time: a
/// one-element float or integer constant, or arithmetic on the static dims
/// of a shape, as exporters write `q.shape[-1] ** 0.5` with dynamic axes:
/// Cast(Gather(Shape(t), i)) with dim i of t static, under Sqrt, Pow,
/// Reciprocal, Mul and Div.
std::optional<double> scalarValue(Value v);
/// The (tensor, dim) whose size the one-element i64 |piece| of a shape is,
/// as exporters compute sizes: [Unsqueeze](Gather(Shape(t), j)),
/// Shape(t, j, j + 1), Slice(Shape(t), [j], [end]) (one element by its
/// type).
std::optional<std::pair<Value, int64_t>> shapeEntry(Value piece);

/// The float values of a static constant (f32 / f64 / bool).
std::optional<SmallVector<double>> constValues(Value v);
/// Whether every element of |v| satisfies |pred|: a constant,
/// ConstantOfShape, or an Expand of one (through Identity).
bool isFilledWith(Value v, function_ref<bool(double)> pred);
/// Whether |v| is all ones: a constant, ConstantOfShape(1), or an Expand
/// of a constant 1.
bool isAllOnes(Value v);

/// A value kept where a key (itself or its Abs) exceeds a threshold and
/// set to |fill| elsewhere: FATReLU `Where(h > t, h, 0)` (key = kept = h),
/// TEAL / CATS `Where(|x| > t, x, 0)` (key = Abs(x)), in the spellings exporters
/// write: `Where(key > t, kept, fill)` with the condition also as
/// `Less(t, key)` or `Not(key <= t)`; masked_fill's `Where(key <= t, fill,
/// kept)`; `kept * Cast(key > t)` (fill 0). With `>=` for `>`
/// (|inclusive|), `exclusive` is the float just below t, so that `key >
/// exclusive` is the same test; otherwise t. |nanKept|: a NaN key keeps
/// its value (masked_fill of `key <= t`, Not of it, the Mul by a mask:
/// NaN * 0 is NaN) rather than taking |fill| (`Where(key > t, ..)`: every
/// comparison with NaN is false). (The Mul also makes NaN of an infinite
/// kept value below the threshold, -inf * 0; the fused op gives 0 there.)
struct Thresholded {
  Value key, kept, threshold, fill;
  bool inclusive = false;
  bool nanKept = false;
  Operation *root = nullptr;
  /// The threshold as an exclusive one when it is a constant.
  std::optional<double> exclusive() const;
  /// Whether the dropped entries become 0: no fill (a mask product), a
  /// constant 0, or zeros of any shape (`torch.zeros_like(h)`).
  bool zeroFill() const;
};
std::optional<Thresholded> matchThresholded(Value v);

/// CATS: the dense activation ("silu", "gelu", "gelu_tanh") of h whose
/// magnitude |th| cuts (key Abs(kept), kept = act(h)), setting |h|; ""
/// otherwise.
StringRef magnitudeCutOf(const Thresholded &th, Value &h);

/// Rows of |v| picked by an index tensor: `Gather(data, idx, axis 0)`, or
/// the dynamo exporter's `data[idx]`, `GatherND(data, Unsqueeze(idx, -1))`.
/// Returns (data, idx).
std::optional<std::pair<Value, Value>> gatheredRows(Value v);

/// One projection `in @ W (+ bias)`.
struct Projection {
  Value in, weight, bias;
  bool transposed = false; // W stored [out, in] (Gemm transB)
  /// An Einsum applying one matrix per expert to every token, the way
  /// torch code writes stacked experts: `th,ehf->tef` / `tef,efh->teh`
  /// (W [E, in, out]; results [T, E, out]) or, with W gathered per token,
  /// `th,tkhf->tkf` / `tkf,tkfh->tkh` (results [T, k, out]).
  bool einsum = false;
};

/// An expert FFN `down(act(in W1 + b1) [* (in W3 + b3)]) + b2`.
struct ExpertFFN {
  Value in;
  Projection p1, p3, p2;
  StringRef act;
  Value actOut;          // the activation's result (the gate side of a GLU)
  double threshold = 0;  // act == "threshold": Where(h > threshold, h, 0)
  bool nanActive = false; // act == "threshold": a NaN h is kept
  /// act == "abs_threshold": the activation g whose magnitude is cut,
  /// Where(|g| > threshold, g, 0) (CATS).
  StringRef absOf = "identity";
  /// A GLU whose linear part goes through a ReLU too (dReLU: relu(in W1) *
  /// relu(in W3)).
  bool reluUp = false;
  /// act == "silu": h * sigmoid(alpha * h) (quick GELU: 1.702).
  double alpha = 1.0;
  /// A clamped GLU (GPT-OSS, ONNX Runtime's clamped SwiGLU): the gate
  /// clamped from above and the linear part to [-limit, limit], |beta|
  /// added to the linear part. Only matchFFN(.., clamped = true) sets them.
  std::optional<double> limit;
  double beta = 0.0;
};

/// `in @ W (+ bias)` as MatMul (+ Add of a constant) or Gemm.
std::optional<Projection> matchProjection(Value v);
/// The activation |a| = act(h): "relu" (Relu, Max(x, 0), Clip(x, 0)),
/// "gelu" / "gelu_tanh", "silu", "threshold" (FATReLU Where(h > t, h, 0)
/// in matchThresholded's spellings, the exclusive t in |threshold|, whether
/// a NaN h is kept in |nanActive|), "abs_threshold" (CATS: Where(|g| > t,
/// g, 0) of g = silu / gelu / gelu_tanh (h), named in |absOf|), or
/// "identity" with h = a. With |alpha|, "silu" may also be h * sigmoid(c *
/// h) for a constant c (quick GELU's 1.702, Swish-beta), c in |alpha|;
/// without it only c = 1 is "silu".
StringRef matchActivation(Value a, Value &h, double *threshold = nullptr,
                          bool *nanActive = nullptr, StringRef *absOf = nullptr,
                          double *alpha = nullptr);
/// An FFN producing |y|: projection, activation, optional GLU, projection.
/// With |clamped| a GLU may also clamp its halves and add a constant to
/// the linear one: `(Clip(u, -L, L) + beta) * act(Clip(g, max = L))`.
std::optional<ExpertFFN> matchFFN(Value y, bool clamped = false);
/// `Squeeze(Unsqueeze(u, a), a)` as u; any other |v| as itself.
Value peelUnitRoundTrip(Value v);

/// A dense_resource onnx.Constant of |type| holding |bytes|.
Value bytesConstant(OpBuilder &b, Location loc, RankedTensorType type, ArrayRef<char> bytes);
/// The bytes of the static onnx.Constant |v| (byte-sized elements).
FailureOr<SmallVector<char>> constantBytes(Value v);
/// |w| [A, B] as [B, A] (an onnx.Transpose weight preparation folds).
Value transpose2D(OpBuilder &b, Location loc, Value w);
/// Erases |op| if it is pure and unused, then, recursively, the producers
/// only it used; records every erased op in |erased|.
void eraseDeadProducers(Operation *op, llvm::DenseSet<Operation *> &erased);

/// A projection whose output features a Split cuts in two halves, as
/// `gate, up = F.linear(x, W_gate_up).chunk(2, -1)` exports (transformers'
/// fused gate_up_proj: Phi-3's MLP, every v5 MoE's experts), becomes two
/// projections on the constant weight's halves, so that the FFN matchers
/// see a GLU's separate gate and up projections. The projections:
/// MatMul by a constant, Gemm (its bias split too), the batched_mm
/// experts' matrix-vector product on rows gathered from a constant, each
/// optionally plus a constant bias. Other Splits stay.
void splitPackedProjections(Operation *root);

/// Whether |op| passes its verifier, without printing the verifier's
/// complaint: a fusion that builds an op to check its shapes drops a
/// candidate that fails, it does not report an error.
bool verifiesQuietly(Operation *op);

/// Re-emits activation |act| on |h| as onnx ops.
Value emitActivation(OpBuilder &b, Location loc, StringRef act, Value h);

/// Whether the reduce op sums exactly axis |axis| (normalized) of its input.
template <typename ReduceOp>
bool reducesAxis(ReduceOp op, int64_t axis) {
  int64_t rank = rankOf(op.getData());
  auto axes = op.getAxes() ? onnx::getConstantI64Values(op.getAxes())
                           : FailureOr<SmallVector<int64_t>>(failure());
  if (rank < 0 || failed(axes) || axes->size() != 1)
    return false;
  int64_t a = (*axes)[0] < 0 ? (*axes)[0] + rank : (*axes)[0];
  return a == (axis < 0 ? axis + rank : axis);
}
/// The two operands of a commutative binary op, |first| being the one that
/// satisfies |pred| (if either does).
template <typename OpTy>
std::optional<std::pair<Value, Value>> operandsWith(Value v,
                                                           function_ref<bool(Value)> pred) {
  auto op = v ? v.getDefiningOp<OpTy>() : OpTy();
  if (!op)
    return std::nullopt;
  if (pred(op.getA()))
    return std::make_pair(op.getA(), op.getB());
  if (pred(op.getB()))
    return std::make_pair(op.getB(), op.getA());
  return std::nullopt;
}

} // namespace sparsa::patterns

#endif // SPARSA_LIB_TRANSFORMS_ONNXPATTERNS_H
