//===- Common.h - Shared pieces of the onnx lowering -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Internal header of the ONNXToLinalg conversion: the lowering table each op
// family fills, the per-op context, and the IR-building helpers all families
// share (broadcasting maps, tensor.empty with dynamic sizes, element-wise
// generics).
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_LIB_CONVERSION_ONNXTOLINALG_COMMON_H
#define SPARSA_LIB_CONVERSION_ONNXTOLINALG_COMMON_H

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace sparsa::lowering {

/// What a lowering function sees besides the op: the builder (insertion
/// point before the op), and the signedness of operands. Unsigned integer
/// tensors are bitcast to signless before the op is lowered (arith works on
/// signless integers), so the original types are recorded here.
struct LowerCtx {
  explicit LowerCtx(mlir::OpBuilder &b) : b(b) {}
  mlir::OpBuilder &b;
  llvm::DenseMap<mlir::Value, mlir::Type> originalElementType;
  /// Whether each result was an unsigned integer tensor in the onnx dialect
  /// (the op being lowered already has signless result types).
  llvm::SmallVector<bool, 2> unsignedResults;

  /// True when |v| (an operand of the op being lowered) held an unsigned
  /// integer type in the onnx dialect.
  bool isUnsigned(mlir::Value v) const;
};

/// Lowers one onnx op; returns one value per result (null for an optional
/// result that is absent), or failure after emitting an error at the op.
using LowerFn =
    mlir::FailureOr<llvm::SmallVector<mlir::Value>> (*)(mlir::Operation *, LowerCtx &);

/// Op TypeID -> lowering function.
using LoweringTable = llvm::DenseMap<mlir::TypeID, LowerFn>;

/// Adapts `FailureOr<Value> fn(OpTy, LowerCtx &)` to a table entry.
template <typename OpTy, mlir::FailureOr<mlir::Value> (*Fn)(OpTy, LowerCtx &)>
mlir::FailureOr<llvm::SmallVector<mlir::Value>> single(mlir::Operation *op,
                                                       LowerCtx &ctx) {
  mlir::FailureOr<mlir::Value> v = Fn(llvm::cast<OpTy>(op), ctx);
  if (mlir::failed(v))
    return mlir::failure();
  return llvm::SmallVector<mlir::Value>{*v};
}

template <typename OpTy, mlir::FailureOr<mlir::Value> (*Fn)(OpTy, LowerCtx &)>
void addSingle(LoweringTable &table) {
  table[mlir::TypeID::get<OpTy>()] = single<OpTy, Fn>;
}

void populateElementwiseLowerings(LoweringTable &table);
void populateMatMulLowerings(LoweringTable &table);
void populateReductionLowerings(LoweringTable &table);
void populateShapeLowerings(LoweringTable &table);
void populateIndexingLowerings(LoweringTable &table);
void populateQuantizationLowerings(LoweringTable &table);
void populateMoELowerings(LoweringTable &table);
void populateRoutingLowerings(LoweringTable &table);
void populateActivationSparsityLowerings(LoweringTable &table);
void populateAttentionLowerings(LoweringTable &table);
void populateFlowAttentionLowerings(LoweringTable &table);

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// `tensor.empty` of |type|; dynamic dimension `i` is `dynDim(i)`.
mlir::Value createEmpty(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::RankedTensorType type,
                        llvm::function_ref<mlir::Value(int64_t)> dynDim);

/// `tensor.empty` of |type| whose dynamic sizes are those of |like| (same
/// rank).
mlir::Value createEmptyLike(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::RankedTensorType type, mlir::Value like);

/// Reassociation groups that fold the dims in |unit| into their neighbours
/// (unit dims join the preceding group; leading ones the first group).
llvm::SmallVector<mlir::ReassociationIndices>
unitDimGroups(int64_t rank, const llvm::SmallDenseSet<int64_t> &unit);

/// `tensor.dim` of |v| at |i| (folds for static dims later).
mlir::Value dimOf(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v, int64_t i);

/// Size of output dim |outDim| of a numpy broadcast of |operands|.
mlir::Value broadcastDim(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::ValueRange operands, int64_t outRank, int64_t outDim);

/// Map reading |type| broadcast (right-aligned) in an iteration space of
/// |numLoops| loops whose leading dims are the output's |outShape|.
mlir::AffineMap broadcastMap(mlir::MLIRContext *ctx, mlir::RankedTensorType type,
                             llvm::ArrayRef<int64_t> outShape, int64_t numLoops);

/// |v| with each dim d in |dims| (all dynamic in |v|'s type) stretched to
/// the size |sizes| gives when it is 1 at run time (numpy broadcasting of a
/// dim typed `?`): |v| itself when every such dim already has that size,
/// a broadcast copy otherwise (an scf.if on the sizes).
mlir::Value broadcastRuntimeOnes(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v,
                                 llvm::ArrayRef<int64_t> dims, mlir::ValueRange sizes);
/// Element-wise linalg.generic over |operands| with numpy broadcasting.
mlir::Value buildElementwise(
    mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange operands,
    mlir::RankedTensorType resultType,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>
        body);

/// The signless version of |t| (a tensor or element type).
mlir::Type toSignless(mlir::Type t);

mlir::Value zeroOf(mlir::OpBuilder &b, mlir::Location loc, mlir::Type t);
mlir::Value floatCst(mlir::OpBuilder &b, mlir::Location loc, mlir::Type t, double v);
mlir::Value indexCst(mlir::OpBuilder &b, mlir::Location loc, int64_t v);

/// The lowest / highest value of |t| (float: -inf / +inf).
mlir::Value lowestOf(mlir::OpBuilder &b, mlir::Location loc, mlir::Type t,
                     bool isUnsigned);
mlir::Value highestOf(mlir::OpBuilder &b, mlir::Location loc, mlir::Type t,
                      bool isUnsigned);

/// Normalizes |axis| into [0, rank).
int64_t normalizeAxis(int64_t axis, int64_t rank);

/// Reads element |i| of a 1-D (or 0-D) integer tensor as an index value.
mlir::Value extractIndex(mlir::OpBuilder &b, mlir::Location loc, mlir::Value t,
                         int64_t i);

/// |x| padded into |rT| (sizes |outDims|): along each axis d the kept
/// elements [lo[d], lo[d] + kept[d]) of |x| start at pbegin[d], the rest
/// filled per |mode| ("constant": |fill|; "edge", "reflect", "wrap": from
/// the kept elements). Reads are clamped into the kept range.
mlir::Value buildPad(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                     mlir::RankedTensorType rT, llvm::ArrayRef<mlir::Value> outDims,
                     llvm::ArrayRef<mlir::Value> lo, llvm::ArrayRef<mlir::Value> kept,
                     llvm::ArrayRef<mlir::Value> pbegin, llvm::StringRef mode,
                     mlir::Value fill);

/// Reshapes |v| to |type| (same element count, row-major order kept), with
/// dynamic target dims given by |dims| (one index value per target dim).
mlir::Value reshapeTo(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v,
                      mlir::RankedTensorType type, mlir::ValueRange dims);

/// Sizes of every dim of |v| as index values.
llvm::SmallVector<mlir::Value> dimsOf(mlir::OpBuilder &b, mlir::Location loc,
                                      mlir::Value v);

/// Inserts unit dims at the positions |unit| of |resultType| (expand_shape).
mlir::Value expandUnitDims(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v,
                           mlir::RankedTensorType resultType,
                           const llvm::SmallDenseSet<int64_t> &unit);

/// Builds |fn| for an axis set known only at run time (the values of the
/// 1-D or 0-D integer tensor |axes|, negative counting from the end): an
/// scf.index_switch over the bitmask of the normalized axes with one case
/// per set in |candidates| (each a sorted list of axes). Every case's
/// result is cast to |resultType|; an out-of-range mask takes the first
/// candidate.
mlir::Value switchOnAxes(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value axes, int64_t rank,
    llvm::ArrayRef<llvm::SmallVector<int64_t>> candidates,
    mlir::RankedTensorType resultType,
    llvm::function_ref<mlir::Value(llvm::ArrayRef<int64_t>)> fn);

/// numpy matmul of |A| and |B| (batch broadcasting, rank-1 promotion) into
/// a zero-initialized accumulator of |resultType|.
mlir::Value buildMatMul(mlir::OpBuilder &b, mlir::Location loc, mlir::Value A,
                        mlir::Value B, mlir::RankedTensorType resultType);

/// Weights quantized in blocks along K, in MatMulNBits' packed layout:
/// codes |B| uint8 [N, ceil(K / bs), bs * bits / 8] (low bits first),
/// |scales| [N, blocks] or flat, zero points |zp| packed uint8 [N,
/// ceil(blocks * bits / 8)] or float [N, blocks] (none: 2^(bits - 1)),
/// optional |bias| [N].
struct BlockQuant {
  mlir::Value B, scales, zp, bias;
  int64_t K, N, bits, bs;
  /// Activations quantized to int8 per row and block (symmetric).
  bool int8 = false;
  /// The target multiplies int8 matrices itself
  /// (TargetInfoAttrInterface::getInt8Matrices): with int8, the codes stay
  /// at every row count.
  bool int8Matrices = false;
  /// Rows of A up to which float activations take the packed GEMV rather
  /// than the packed GEMM (the GEMV's cost grows with every row; the
  /// GEMM's narrowest tile, 16 rows of A, runs at a quarter of its widest
  /// one's rate per FMA).
  int64_t gemvRows = 8;
};
/// `A @ W (+ bias)` for float |A| [..., K] and block-quantized |q|, into
/// |rT| [..., N]. With 4-bit blocks of 32k or 8-bit blocks of 16k the
/// codes stay packed: up to |q.gemvRows| rows (64 with int8 activations)
/// a generic tagged for the packed GEMV kernels, more a transposed one for
/// the packed GEMM (dequantizing each weight once per call); otherwise the
/// weight is unpacked to [K, N], then one matmul.
mlir::Value buildBlockQuantMatMul(mlir::OpBuilder &b, mlir::Location loc, mlir::Value A,
                                  const BlockQuant &q, mlir::RankedTensorType rT);

/// Code number |elem| (i32) of |bits|-bit codes packed low bits first
/// along the last dim of |t|, the leading indices |lead|: a scalar in a
/// generic's body.
mlir::Value packedCode(mlir::OpBuilder &b, mlir::Location loc, mlir::Value t,
                       mlir::ValueRange lead, mlir::Value elem, int64_t bits);

/// An expert FFN activation of the scalar |z|: `relu`, `gelu` (erf),
/// `gelu_tanh`, `silu` (`z * sigmoid(alpha * z)`) or `identity`.
mlir::Value applyExpertActivation(mlir::OpBuilder &b, mlir::Location loc,
                                  llvm::StringRef act, mlir::Value z, double alpha = 1.0);

/// Every sorted subset of [0, rank) with between |minSize| and |maxSize|
/// elements.
llvm::SmallVector<llvm::SmallVector<int64_t>> axisSubsets(int64_t rank, int64_t minSize,
                                                          int64_t maxSize);

/// The tile one task of forallTiles writes into the shared output.
struct TaskTile {
  mlir::Value value;
  llvm::SmallVector<mlir::OpFoldResult> offsets, sizes;
};
/// An scf.forall over |counts| tasks sharing the output |out|: |body| runs
/// with |b|'s insertion point inside the loop, gets the induction
/// variables and the shared output's block argument (to write into a
/// slice of it in place), and returns the tile it writes (unit strides).
/// Returns the loop's result.
mlir::Value forallTiles(
    mlir::OpBuilder &b, mlir::Location loc, llvm::ArrayRef<mlir::OpFoldResult> counts,
    mlir::Value out,
    llvm::function_ref<TaskTile(mlir::ValueRange ivs, mlir::Value shared)> body);

/// |t| [d0, ..., dn-3, L, D] as [B, L, D] (rank 2 gains a unit batch dim):
/// the attention lowerings run one task per leading index.
mlir::Value toBatched(mlir::OpBuilder &b, mlir::Location loc, mlir::Value t);
/// |result| [B, L, Dv] back to |resultType| [d0, ..., dn-3, L, Dv], the
/// leading dims taken from |like| (an operand with the same leading dims).
mlir::Value fromBatched(mlir::OpBuilder &b, mlir::Location loc, mlir::Value result,
                        mlir::Value like, mlir::RankedTensorType resultType);

// (Internal header: every includer already works in the mlir namespace.)
using namespace mlir;

using GenericBody = llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// IR-building shorthands for lowerings that build many generics (the
/// fused sparsa ops): maps from lists of loop dims, fills, slices, matmuls.
struct GenericBuilder {
  OpBuilder &b;
  Location loc;
  Type elt;

  Value idx(int64_t v) { return indexCst(b, loc, v); }
  Value fcst(OpBuilder &nb, Location l, double v) { return floatCst(nb, l, elt, v); }

  /// linalg.generic over |numLoops| loops; each operand's map lists its
  /// loop dims (-1: the constant index 0, a broadcast unit dim);
  /// |reductions| are the reduction loops.
  Value generic(ValueRange ins, ArrayRef<SmallVector<int64_t>> inDims, Value init,
                ArrayRef<int64_t> outDims, int64_t numLoops, ArrayRef<int64_t> reductions,
                GenericBody body) {
    MLIRContext *ctx = b.getContext();
    auto map = [&](ArrayRef<int64_t> dims) {
      SmallVector<AffineExpr> e;
      for (int64_t d : dims)
        e.push_back(d < 0 ? getAffineConstantExpr(0, ctx) : getAffineDimExpr(d, ctx));
      return AffineMap::get(numLoops, 0, e, ctx);
    };
    SmallVector<AffineMap> maps;
    for (ArrayRef<int64_t> d : inDims)
      maps.push_back(map(d));
    maps.push_back(map(outDims));
    SmallVector<utils::IteratorType> iters(numLoops, utils::IteratorType::parallel);
    for (int64_t r : reductions)
      iters[r] = utils::IteratorType::reduction;
    return linalg::GenericOp::create(b, loc, init.getType(), ins, init, maps, iters,
                                     [&](OpBuilder &nb, Location l, ValueRange a) {
                                       linalg::YieldOp::create(nb, l, body(nb, l, a));
                                     })
        .getResult(0);
  }

  /// Rank of each column of |scores| [R, C] within its row (i32): columns
  /// with a higher score, or an equal one at a lower index, come first.
  Value ranks(Value scores) {
    Type i32 = b.getI32Type();
    SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, scores, 0),
                                       tensor::getMixedSize(b, loc, scores, 1)};
    Value zero = arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(0));
    return generic(ValueRange{scores, scores}, {{0, 1}, {0, 2}}, filled(sizes, i32, zero),
                   {0, 1}, 3, {2}, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     Value c = linalg::IndexOp::create(nb, l, 1);
                     Value c2 = linalg::IndexOp::create(nb, l, 2);
                     Value gt = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, a[1], a[0]);
                     Value eq = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, a[1], a[0]);
                     Value lower = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, c2, c);
                     Value ahead =
                         arith::OrIOp::create(nb, l, gt, arith::AndIOp::create(nb, l, eq, lower));
                     return arith::AddIOp::create(nb, l, a[2],
                                                  arith::ExtUIOp::create(nb, l, i32, ahead));
                   });
  }
  Value empty(ArrayRef<OpFoldResult> sizes, Type t) {
    return tensor::EmptyOp::create(b, loc, sizes, t);
  }
  Value filled(ArrayRef<OpFoldResult> sizes, Type t, Value v) {
    return linalg::FillOp::create(b, loc, v, empty(sizes, t)).getResult(0);
  }

  /// Row |e| of a rank-3 tensor [E, R, C] as [R, C] (rank-reducing slice).
  Value expertSlice(Value w, Value e) {
    auto t = cast<RankedTensorType>(w.getType());
    SmallVector<OpFoldResult> offs = {e, b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), tensor::getMixedSize(b, loc, w, 1),
                                       tensor::getMixedSize(b, loc, w, 2)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    auto rt = RankedTensorType::get({t.getDimSize(1), t.getDimSize(2)}, t.getElementType());
    return tensor::ExtractSliceOp::create(b, loc, rt, w, offs, sizes, strides);
  }
  /// Row |e| of a rank-2 bias [E, N] as [N].
  Value biasSlice(Value bias, Value e) {
    auto t = cast<RankedTensorType>(bias.getType());
    SmallVector<OpFoldResult> offs = {e, b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), tensor::getMixedSize(b, loc, bias, 1)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    auto rt = RankedTensorType::get({t.getDimSize(1)}, t.getElementType());
    return tensor::ExtractSliceOp::create(b, loc, rt, bias, offs, sizes, strides);
  }

  /// rows [M, K] x W [K, N] (+ bias [N]) -> [M, N]. Loops (m, n, k); the
  /// CPU passes reorder, tile and vectorize it like any matmul.
  Value matmul(Value rows, Value W, Value bias) {
    Value acc = biasRows(bias, tensor::getMixedSize(b, loc, rows, 0),
                         tensor::getMixedSize(b, loc, W, 1));
    return matmulInto(rows, W, acc);
  }

  /// acc [M, N] + rows [M, K] x W [K, N].
  Value matmulInto(Value rows, Value W, Value acc) {
    return generic(ValueRange{rows, W}, {{0, 2}, {2, 1}}, acc, {0, 1}, 3, {2},
                   [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     return arith::AddFOp::create(nb, l, a[2],
                                                  arith::MulFOp::create(nb, l, a[0], a[1]));
                   });
  }

  /// [rows, cols] holding |bias| [cols] in every row, or zeros without one.
  Value biasRows(Value bias, OpFoldResult rows, OpFoldResult cols) {
    if (!bias)
      return filled({rows, cols}, elt, zeroOf(b, loc, elt));
    return generic(bias, {{1}}, empty({rows, cols}, elt), {0, 1}, 2, {},
                   [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  }

  /// The positions i in [0, n) where |pred(i)| holds, in order: an index
  /// tensor [count] and count (one scalar loop).
  std::pair<Value, Value> listWhere(Value n,
                                    llvm::function_ref<Value(OpBuilder &, Location, Value)> pred) {
    Value c0 = idx(0), c1 = idx(1);
    auto loop = scf::ForOp::create(
        b, loc, c0, n, c1, ValueRange{empty({OpFoldResult(n)}, b.getIndexType()), c0},
        [&](OpBuilder &nb, Location l, Value i, ValueRange acc) {
          auto ifOp = scf::IfOp::create(
              nb, l, pred(nb, l, i),
              [&](OpBuilder &ib, Location il) {
                Value list = tensor::InsertOp::create(ib, il, i, acc[0], acc[1]);
                scf::YieldOp::create(
                    ib, il, ValueRange{list, arith::AddIOp::create(ib, il, acc[1], c1)});
              },
              [&](OpBuilder &ib, Location il) { scf::YieldOp::create(ib, il, acc); });
          scf::YieldOp::create(nb, l, ifOp.getResults());
        });
    Value count = loop.getResult(1);
    Value list = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic}, b.getIndexType()),
        loop.getResult(0), ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{count}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    return {list, count};
  }
};

/// The run-time check of |op|'s index values (tagged by sparsa-run-checks):
/// when any of |indices| is outside [-F, F), the check's id goes to the run
/// status word and the run fails with its message (the lowering clamps
/// regardless, so nothing is read out of bounds). No-op for untagged ops.
void checkIndexRange(GenericBuilder &B, Operation *op, Value indices, Value F);
/// When |bad| (i1) holds at run time, |op|'s run-time check
/// (::sparsa::sparsa::kCheckAttrName) fails the run with its message;
/// nothing when |op| has no check.
void failCheckIf(GenericBuilder &B, Operation *op, Value bad);

} // namespace sparsa::lowering

#endif // SPARSA_LIB_CONVERSION_ONNXTOLINALG_COMMON_H
