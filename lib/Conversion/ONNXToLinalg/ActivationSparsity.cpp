//===- ActivationSparsity.cpp - sparsa.sparse_ffn lowering -----*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Lowers the sparse FFN so that, for one token, only the active neurons'
// weights are read after the gate:
//
//   1. the gate h = x W1 + b1, dense (a GEMV);
//   2. one pass over h listing the active neurons (h > 0, or h > threshold);
//   3. for a GLU, the linear part of the active neurons only: one dot
//      product of x with each active row of `up`;
//   4. y = b2 + sum over active neurons of a_i * W2[i, :]: each active row
//      of W2 is one contiguous stream (an axpy); the columns are split over
//      the threads.
//
// Steps 3 and 4 are generics over gathered rows tagged for the contraction
// kernels, which run them eight listed rows at a time.
//
// More tokens take the dense computation (the same loops a dense FFN gets).
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;
namespace sp = sparsa::sparsa;

/// The activation value of gate |g| (0 when inactive) and whether it is
/// active. A NaN gate propagates through ReLU (max(NaN, 0) is NaN, as
/// ONNX's Relu) and is inactive under a threshold (NaN > t is false, as
/// Where(Greater) computes it), unless the op says `nan_active` (as
/// masked_fill(h <= t, 0) computes it: an unordered comparison).
static std::pair<Value, Value> activation(OpBuilder &b, Location loc, sp::SparseFFNOp op,
                                          Value g) {
  Type t = g.getType();
  Value zero = zeroOf(b, loc, t);
  // A NaN gate is a NaN input (the weights are finite), which makes the
  // GLU's linear part NaN too: the graph's 0 * NaN is NaN however the
  // threshold is spelled. In a GLU a NaN gate is therefore active (and
  // NaN), or skipping its linear part would hide the NaN.
  auto cmp = op.getNanActive() || op.getUp() ? arith::CmpFPredicate::UGT
                                             : arith::CmpFPredicate::OGT;
  if (op.getMode() == "abs_threshold") {
    // CATS: the activation, kept where its magnitude passes the cut.
    Value a = applyExpertActivation(b, loc, op.getActivation(), g);
    Value cut = floatCst(b, loc, t, op.getThreshold().convertToDouble());
    Value active = arith::CmpFOp::create(b, loc, cmp, math::AbsFOp::create(b, loc, a), cut);
    return {arith::SelectOp::create(b, loc, active, a, zero), active};
  }
  if (op.getMode() == "threshold") {
    Value cut = floatCst(b, loc, t, op.getThreshold().convertToDouble());
    Value active = arith::CmpFOp::create(b, loc, cmp, g, cut);
    return {arith::SelectOp::create(b, loc, active, g, zero), active};
  }
  Value active = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, g, zero);
  Value relu = arith::MaximumFOp::create(b, loc, g, zero);
  if (op.getMode() == "relu2") // squared ReLU: the same zeros
    relu = arith::MulFOp::create(b, loc, relu, relu);
  return {relu, active};
}

/// A GLU's neuron value: the activation times the linear part, itself
/// through a ReLU for dReLU (`relu_up`); just the activation without one.
static Value gluValue(OpBuilder &b, Location loc, sp::SparseFFNOp op, Value act, Value lin) {
  if (!lin)
    return act;
  if (op.getReluUp())
    lin = arith::MaximumFOp::create(b, loc, lin, zeroOf(b, loc, lin.getType()));
  return arith::MulFOp::create(b, loc, act, lin);
}

/// Blocks of listed rows the active-row dot products and axpys of |op|'s
/// lowering are split into, as the target being lowered for asks: the
/// CPU's one per thread of a typical host, the GPU's one (its passes
/// spread the rows over device threads themselves).
static int64_t rowTasks(Operation *op) { return sp::getTarget(op).getRowTasks(); }

/// Tokens up to which a quantized sparse FFN may run its one-token
/// lowering once per token (each reading only its active neurons' rows)
/// rather than unpacking the down projection for a dense matmul, when the
/// tokens' active rows add up to at most kTokenLoopRows times the neurons
/// (measured on a 4096 -> 14336 int4 FFN at ~10 % density, 2 threads: 8
/// tokens 43 -> 10 ms, 32 tokens 74 -> 42 ms, 64 tokens 126 -> ~85 ms).
static constexpr int64_t kTokenLoop = 64, kTokenLoopRows = 8;

/// Splits [0, n) into |tasks| near-equal blocks; returns block |t|'s
/// [lo, hi).
static std::pair<Value, Value> block(OpBuilder &b, Location loc, Value t, Value n,
                                     int64_t tasks) {
  Value per = arith::CeilDivUIOp::create(b, loc, n, indexCst(b, loc, tasks));
  Value lo = arith::MinUIOp::create(b, loc, arith::MulIOp::create(b, loc, t, per), n);
  Value hi = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, lo, per), n);
  return {lo, hi};
}

/// The first |n| elements of the 1-D |t|.
static Value prefix(OpBuilder &b, Location loc, Value t, Value n) {
  auto type = RankedTensorType::get({ShapedType::kDynamic}, getElementTypeOrSelf(t));
  return tensor::ExtractSliceOp::create(b, loc, type, t, ArrayRef<OpFoldResult>{b.getIndexAttr(0)},
                                        ArrayRef<OpFoldResult>{n},
                                        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
}

/// The weight at (row, col) inside a generic's body, for weights that are
/// not a plain float tensor (packed codes).
using WeightAt = llvm::function_ref<Value(OpBuilder &, Location, Value row, Value col)>;

/// acc [C] + sum_j a[j] * w[rows[j], c]: a gathered axpy the contraction
/// kernels run eight rows at a time (a float |w|; with |weightAt|, packed
/// weights, plain loops).
static Value gatherAxpy(GenericBuilder &B, Value acc, Value a, Value rows, Value w,
                        WeightAt weightAt = nullptr, ArrayRef<NamedAttribute> tags = {}) {
  Value out = B.generic(ValueRange{a, rows}, {{0}, {0}}, acc, {1}, 2, {0},
                        [&](OpBuilder &eb, Location el, ValueRange v) -> Value {
                          Value col = linalg::IndexOp::create(eb, el, 1);
                          Value wv = weightAt ? weightAt(eb, el, v[1], col)
                                              : tensor::ExtractOp::create(
                                                    eb, el, w, ValueRange{v[1], col})
                                                    .getResult();
                          return arith::AddFOp::create(eb, el, v[2],
                                                       arith::MulFOp::create(eb, el, v[0], wv));
                        });
  if (!weightAt)
    out.getDefiningOp()->setAttr(sp::kKernelAttrName, B.b.getStringAttr("gather_axpy"));
  for (NamedAttribute tag : tags)
    out.getDefiningOp()->setAttr(tag.getName(), tag.getValue());
  return out;
}

/// start[j] + sum_h x[h] * w[rows[j], h] for x [H]: gathered dot products
/// the contraction kernels run eight rows at a time; start is each row's
/// bias (or zero).
static Value gatherDot(GenericBuilder &B, Value x, Value w, Value rows, Value bias,
                       WeightAt weightAt = nullptr, ArrayRef<NamedAttribute> tags = {}) {
  OpFoldResult len = tensor::getMixedSize(B.b, B.loc, rows, 0);
  Type elt = B.elt;
  Value start = B.generic(rows, {{0}}, B.empty({len}, elt), {0}, 1, {},
                          [&](OpBuilder &eb, Location el, ValueRange v) -> Value {
                            return bias ? tensor::ExtractOp::create(eb, el, bias, v[0]).getResult()
                                        : zeroOf(eb, el, elt);
                          });
  Value dots = B.generic(ValueRange{x, rows}, {{1}, {0}}, start, {0}, 2, {1},
                         [&](OpBuilder &eb, Location el, ValueRange v) -> Value {
                           Value col = linalg::IndexOp::create(eb, el, 1);
                           Value wv = weightAt ? weightAt(eb, el, v[1], col)
                                               : tensor::ExtractOp::create(
                                                     eb, el, w, ValueRange{v[1], col})
                                                     .getResult();
                           return arith::AddFOp::create(eb, el, v[2],
                                                        arith::MulFOp::create(eb, el, v[0], wv));
                         });
  if (!weightAt)
    dots.getDefiningOp()->setAttr(sp::kKernelAttrName, B.b.getStringAttr("gather_dot"));
  for (NamedAttribute tag : tags)
    dots.getDefiningOp()->setAttr(tag.getName(), tag.getValue());
  return dots;
}

/// out [1, H] + sum_j a[j] * w[idx[j], :] over the first |n| listed rows.
/// The listed rows split into one block per task, each a gathered axpy over
/// all H columns into its own partial sum; the partial sums are added to
/// |init| at the end. Each thread thus streams whole rows: split by
/// columns instead, a thread reads a short run of every row (1 KB of a
/// 4096-column int4 row), which the hardware prefetchers cover worse (the
/// int4 FFN stack, ~50 % active, ran 2-4 % slower). A small or dynamic H
/// is one gathered axpy, as is |rowBlocks| = 1.
static Value axpyRows(GenericBuilder &B, int64_t rowBlocks, Value init, Value w, Value idx,
                      Value a, Value n, WeightAt weightAt = nullptr,
                      ArrayRef<NamedAttribute> tags = {}) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type elt = B.elt;
  int64_t Hs = cast<RankedTensorType>(init.getType()).getDimSize(1);
  int64_t tasks = ShapedType::isDynamic(Hs) || Hs < 512 ? 1 : rowBlocks;
  auto rowT = RankedTensorType::get({Hs}, elt);
  Value idxN = prefix(b, loc, idx, n), aN = prefix(b, loc, a, n);
  OpFoldResult H = tensor::getMixedSize(b, loc, init, 1);
  Value parts = tasks == 1 ? init
                           : B.filled({b.getIndexAttr(tasks), H}, elt, floatCst(b, loc, elt, 0.0));
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(tasks)}, ValueRange{parts}, std::nullopt,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        std::pair<Value, Value> chunk = block(nb, l, args[0], n, tasks);
        Value lo = chunk.first, len = arith::SubIOp::create(nb, l, chunk.second, lo);
        auto listed = [&](Value t) -> Value {
          return tensor::ExtractSliceOp::create(
              nb, l, RankedTensorType::get({ShapedType::kDynamic}, getElementTypeOrSelf(t)), t,
              ArrayRef<OpFoldResult>{lo}, ArrayRef<OpFoldResult>{len},
              ArrayRef<OpFoldResult>{nb.getIndexAttr(1)});
        };
        SmallVector<OpFoldResult> offs = {args[0], nb.getIndexAttr(0)};
        SmallVector<OpFoldResult> sizes = {nb.getIndexAttr(1), H};
        SmallVector<OpFoldResult> strides(2, nb.getIndexAttr(1));
        Value acc = tensor::ExtractSliceOp::create(nb, l, rowT, args[1], offs, sizes, strides);
        GenericBuilder NB{nb, l, elt};
        Value next = gatherAxpy(NB, acc, listed(aN), listed(idxN), w, weightAt, tags);
        auto term = scf::InParallelOp::create(nb, l);
        OpBuilder tb = OpBuilder::atBlockBegin(term.getBody());
        tensor::ParallelInsertSliceOp::create(tb, l, next, args[1], offs, sizes, strides);
      });
  if (tasks == 1)
    return forall.getResult(0);
  return B.generic(forall.getResult(0), {{1, 0}}, init, {-1, 0}, 2, {1},
                   [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                     return arith::AddFOp::create(nb, l, v[1], v[0]);
                   });
}

/// d[j] = (bias[idx[j]]) + x . w[idx[j], :] for the listed rows: the rows
/// split into |tasks| chunks; each row one contiguous dot product.
static Value dotRows(GenericBuilder &B, int64_t tasks, Value x, Value w, Value idx, Value n,
                     Value bias, WeightAt weightAt = nullptr,
                     ArrayRef<NamedAttribute> tags = {}) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type elt = B.elt;
  // x as [H].
  Value xv = tensor::CollapseShapeOp::create(b, loc, x,
                                             SmallVector<ReassociationIndices>{{0, 1}});
  Value init = B.empty({n}, elt);
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(tasks)}, ValueRange{init},
      std::nullopt, [&](OpBuilder &nb, Location l, ValueRange args) {
        std::pair<Value, Value> chunk = block(nb, l, args[0], n, tasks);
        Value lo = chunk.first, hi = chunk.second;
        Value len = arith::SubIOp::create(nb, l, hi, lo);
        GenericBuilder NB{nb, l, elt};
        Value rows = tensor::ExtractSliceOp::create(
            nb, l, RankedTensorType::get({ShapedType::kDynamic}, getElementTypeOrSelf(idx)), idx,
            ArrayRef<OpFoldResult>{lo}, ArrayRef<OpFoldResult>{len},
            ArrayRef<OpFoldResult>{nb.getIndexAttr(1)});
        Value dots = gatherDot(NB, xv, w, rows, bias, weightAt, tags);
        auto term = scf::InParallelOp::create(nb, l);
        OpBuilder tb = OpBuilder::atBlockBegin(term.getBody());
        tensor::ParallelInsertSliceOp::create(
            tb, l, dots, args[1], ArrayRef<OpFoldResult>{lo}, ArrayRef<OpFoldResult>{len},
            ArrayRef<OpFoldResult>{tb.getIndexAttr(1)});
      });
  return forall.getResult(0);
}

/// The neuron index set: negative indices wrap once, then everything is
/// clamped into [0, F), as the Gather lowering does (never an out-of-bounds
/// read).
static Value clampedIndices(GenericBuilder &B, Value indices, Value F) {
  OpBuilder &b = B.b;
  Type idxT = b.getIndexType();
  OpFoldResult K = tensor::getMixedSize(b, B.loc, indices, 0);
  return B.generic(indices, {{0}}, B.empty({K}, idxT), {0}, 1, {},
                   [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     Value i = arith::IndexCastOp::create(nb, l, idxT, a[0]);
                     Value zero = indexCst(nb, l, 0), one = indexCst(nb, l, 1);
                     Value neg = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, i, zero);
                     i = arith::SelectOp::create(nb, l, neg, arith::AddIOp::create(nb, l, i, F), i);
                     i = arith::MaxSIOp::create(nb, l, i, zero);
                     return arith::MinSIOp::create(nb, l, i, arith::SubIOp::create(nb, l, F, one));
                   });
}

/// Rows idx[j] of |w| [F, H] as a compact [K, H] tensor.
static Value gatherRows(GenericBuilder &B, Value w, Value idx) {
  OpBuilder &b = B.b;
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, B.loc, idx, 0),
                                     tensor::getMixedSize(b, B.loc, w, 1)};
  return B.generic(idx, {{0}}, B.empty(sizes, B.elt), {0, 1}, 2, {},
                   [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                     Value col = linalg::IndexOp::create(nb, l, 1);
                     return tensor::ExtractOp::create(nb, l, w, ValueRange{a[0], col});
                   });
}

/// An index-set FFN: the neurons idx only, for every token. Their rows of
/// w1 / up / w2 are gathered once into compact matrices, which the dense
/// kernels then stream (dot products for w1 / up, a GEMV/GEMM for w2).
static Value lowerIndexed(GenericBuilder &B, sp::SparseFFNOp op, Value x, Value indices,
                          Value init) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type elt = B.elt;
  Value F = dimOf(b, loc, op.getW1(), 0);
  checkIndexRange(B, op, indices, F);
  Value idx = clampedIndices(B, indices, F);
  OpFoldResult T = tensor::getMixedSize(b, loc, x, 0),
               K = tensor::getMixedSize(b, loc, idx, 0);
  auto add = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::AddFOp::create(nb, l, a, c);
  };
  auto mul = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::MulFOp::create(nb, l, a, c);
  };
  // x [T, H] . rows [K, H]^T (+ bias[idx]) -> [T, K].
  auto project = [&](Value w, Value bias) -> Value {
    Value rows = gatherRows(B, w, idx);
    Value acc = bias ? B.generic(idx, {{1}}, B.empty({T, K}, elt), {0, 1}, 2, {},
                                 [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                                   return tensor::ExtractOp::create(nb, l, bias, a[0]);
                                 })
                     : B.filled({T, K}, elt, zeroOf(b, loc, elt));
    return B.generic(ValueRange{x, rows}, {{0, 2}, {1, 2}}, acc, {0, 1}, 3, {2},
                     [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                       return add(nb, l, a[2], mul(nb, l, a[0], a[1]));
                     });
  };
  StringRef mode = op.getMode();
  auto actOf = [&](OpBuilder &nb, Location l, Value v) -> Value {
    return mode == "relu" || mode == "relu2" || mode == "threshold" || mode == "abs_threshold"
               ? activation(nb, l, op, v).first
                                                 : applyExpertActivation(nb, l, mode, v);
  };
  if (cast<RankedTensorType>(x.getType()).getDimSize(0) == 1 &&
      !ShapedType::isDynamic(cast<RankedTensorType>(x.getType()).getDimSize(1))) {
    // One token: a dot product per listed row of w1 (and up), then an axpy
    // per listed row of w2, straight from the weights. (Splitting the
    // listed rows over the tasks for both products in one parallel loop,
    // with partial outputs summed after, measured the same.)
    Value Kv = dimOf(b, loc, idx, 0);
    int64_t tasks = rowTasks(op);
    Value g = dotRows(B, tasks, x, op.getW1(), idx, Kv, op.getB1());
    Value lin = op.getUp() ? dotRows(B, tasks, x, op.getUp(), idx, Kv, op.getBUp()) : Value();
    SmallVector<Value> ins = {g};
    SmallVector<SmallVector<int64_t>> dims = {{0}};
    if (lin) {
      ins.push_back(lin);
      dims.push_back({0});
    }
    Value a = B.generic(ins, dims, B.empty({K}, elt), {0}, 1, {},
                        [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                          Value act = actOf(nb, l, v[0]);
                          return gluValue(nb, l, op, act, lin ? v[1] : Value());
                        });
    return axpyRows(B, tasks, init, op.getW2(), idx, a, Kv);
  }
  Value g = project(op.getW1(), op.getB1());
  Value lin = op.getUp() ? project(op.getUp(), op.getBUp()) : Value();
  SmallVector<Value> ins = {g};
  SmallVector<SmallVector<int64_t>> dims = {{0, 1}};
  if (lin) {
    ins.push_back(lin);
    dims.push_back({0, 1});
  }
  Value a = B.generic(ins, dims, B.empty({T, K}, elt), {0, 1}, 2, {},
                      [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                        Value act = actOf(nb, l, v[0]);
                        return gluValue(nb, l, op, act, lin ? v[1] : Value());
                      });
  Value rows2 = gatherRows(B, op.getW2(), idx);
  return B.generic(ValueRange{a, rows2}, {{0, 2}, {2, 1}}, init, {0, 1}, 3, {2},
                   [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                     return add(nb, l, v[2], mul(nb, l, v[0], v[1]));
                   });
}


/// The sparsity profile of one call (`--instrument=sparsity`): adds the
/// gate |g| [T, F]'s active neurons to the counters of the global the op
/// is tagged with (layout: sp::kProfile*).
static void recordProfile(GenericBuilder &B, sp::SparseFFNOp op, Value g) {
  auto sym = op->getAttrOfType<FlatSymbolRefAttr>(sp::kProfileAttrName);
  if (!sym)
    return;
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type i64 = b.getI64Type();
  int64_t F = cast<RankedTensorType>(g.getType()).getDimSize(1);
  int64_t slots = sp::kProfileNeuronSlot + F;
  auto memType = MemRefType::get({slots}, i64);
  Value glob = memref::GetGlobalOp::create(b, loc, memType, sym.getValue());
  Value cur = bufferization::ToTensorOp::create(b, loc, RankedTensorType::get({slots}, i64),
                                                glob, /*restrict=*/true, /*writable=*/true);
  OpFoldResult T = tensor::getMixedSize(b, loc, g, 0);
  auto addi = [](OpBuilder &nb, Location l, ValueRange a) -> Value {
    return arith::AddIOp::create(nb, l, a[0], a[1]);
  };
  Value active = B.generic(g, {{0, 1}}, B.empty({T, b.getIndexAttr(F)}, i64), {0, 1}, 2, {},
                           [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                             return arith::ExtUIOp::create(nb, l, i64,
                                                           activation(nb, l, op, a[0]).second);
                           });
  // Each neuron's firings, summed over the tokens.
  auto sliceType = RankedTensorType::get({F}, i64);
  Value neurons = tensor::ExtractSliceOp::create(
      b, loc, sliceType, cur, ArrayRef<OpFoldResult>{b.getIndexAttr(sp::kProfileNeuronSlot)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(F)}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  neurons = B.generic(active, {{0, 1}}, neurons, {1}, 2, {0}, addi);
  // Each token's active count, then the token totals and histogram.
  Value zero = arith::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(0));
  Value perToken = B.generic(active, {{0, 1}}, B.filled({T}, i64, zero), {0}, 2, {1}, addi);
  Value Tv = getValueOrCreateConstantIndexOp(b, loc, T);
  auto loop = scf::ForOp::create(
      b, loc, B.idx(0), Tv, B.idx(1), ValueRange{cur},
      [&](OpBuilder &nb, Location l, Value t, ValueRange acc) {
        auto c64 = [&](int64_t v) {
          return arith::ConstantOp::create(nb, l, i64, nb.getI64IntegerAttr(v)).getResult();
        };
        auto bump = [&](Value tensor, Value slot, Value by) -> Value {
          Value old = tensor::ExtractOp::create(nb, l, tensor, slot);
          return tensor::InsertOp::create(nb, l, arith::AddIOp::create(nb, l, old, by), tensor,
                                          slot);
        };
        Value n = tensor::ExtractOp::create(nb, l, perToken, t);
        Value next = bump(acc[0], indexCst(nb, l, 0), c64(1));
        next = bump(next, indexCst(nb, l, 1), n);
        Value bin = arith::MinSIOp::create(
            nb, l, arith::DivSIOp::create(nb, l, arith::MulIOp::create(nb, l, n, c64(sp::kProfileBins)),
                                          c64(F)),
            c64(sp::kProfileBins - 1));
        Value slot = arith::IndexCastOp::create(
            nb, l, nb.getIndexType(), arith::AddIOp::create(nb, l, bin, c64(sp::kProfileHistogramSlot)));
        scf::YieldOp::create(nb, l, bump(next, slot, c64(1)));
      });
  Value updated = tensor::InsertSliceOp::create(
      b, loc, neurons, loop.getResult(0), ArrayRef<OpFoldResult>{b.getIndexAttr(sp::kProfileNeuronSlot)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(F)}, ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  bufferization::MaterializeInDestinationOp::create(b, loc, Type(), updated, glob,
                                                    /*restrict=*/true, /*writable=*/true);
}

/// scf.if on |cond| yielding |then| or |otherwise| (each built on its own
/// branch), cast to |type|.
static Value ifElse(GenericBuilder &B, Value cond, RankedTensorType type,
                    function_ref<Value(GenericBuilder &)> then,
                    function_ref<Value(GenericBuilder &)> otherwise) {
  auto side = [&](function_ref<Value(GenericBuilder &)> body) {
    return [&, body](OpBuilder &ob, Location l) {
      GenericBuilder G{ob, l, B.elt};
      Value v = body(G);
      if (v.getType() != type)
        v = tensor::CastOp::create(ob, l, type, v);
      scf::YieldOp::create(ob, l, v);
    };
  };
  return scf::IfOp::create(B.b, B.loc, cond, side(then), side(otherwise)).getResult(0);
}

/// A sparse FFN with packed weights: the gate by the packed GEMV (the
/// quantized matmul's kernels); for one token, the active neurons' rows of
/// codes only, each dequantized with its block's scales and zero points
/// (one row of codes per neuron, see the op); more tokens unpack w2 once
/// and run the dense matmul.
static Value lowerQuantizedFFN(GenericBuilder &B, sp::SparseFFNOp op, Value x) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type elt = B.elt;
  auto x2T = cast<RankedTensorType>(x.getType());
  int64_t bits = op.getWeightBits(), bs = op.getBlockSize(), H = x2T.getDimSize(1);
  int64_t F = cast<RankedTensorType>(op.getW1().getType()).getDimSize(0);
  OpFoldResult T = tensor::getMixedSize(b, loc, x, 0);
  BlockQuant q{op.getW1(), op.getW1Scales(), op.getW1ZeroPoints(), op.getB1(), H, F, bits, bs};
  q.int8 = op.getInt8Activations();
  q.int8Matrices = ::sparsa::sparsa::getTarget(op).getInt8Matrices();
  Value g = buildBlockQuantMatMul(b, loc, x, q,
                                  RankedTensorType::get({x2T.getDimSize(0), F}, elt));
  recordProfile(B, op, g);
  Value w2 = op.getW2(), s2 = op.getW2Scales(), z2 = op.getW2ZeroPoints();
  // w2[f, n] dequantized: (code - z[f / bs, n]) * s[f / bs, n].
  auto weightAt = [&](OpBuilder &nb, Location l, Value f, Value n) -> Value {
    Value code = packedCode(nb, l, w2, f, n, bits);
    Value blk = arith::DivUIOp::create(nb, l, f, indexCst(nb, l, bs));
    Value z = z2 ? arith::UIToFPOp::create(
                       nb, l, elt,
                       tensor::ExtractOp::create(nb, l, z2, ValueRange{blk, n}))
                       .getResult()
                 : floatCst(nb, l, elt, double(1 << (bits - 1)));
    Value s = tensor::ExtractOp::create(nb, l, s2, ValueRange{blk, n});
    return arith::MulFOp::create(
        nb, l, arith::SubFOp::create(nb, l, arith::UIToFPOp::create(nb, l, elt, code), z), s);
  };
  // A GLU's linear part (up: MatMulNBits' layout, rows of codes [F, bytes]).
  Value up = op.getUp(), upZp = op.getUpZeroPoints(), upCodes;
  if (up)
    upCodes = tensor::CollapseShapeOp::create(b, loc, up,
                                              SmallVector<ReassociationIndices>{{0}, {1, 2}});
  // up[f, k] dequantized: (code - z[f, k / bs]) * s[f, k / bs].
  auto upAt = [&](OpBuilder &nb, Location l, Value f, Value k) -> Value {
    Value code = packedCode(nb, l, upCodes, f, k, bits);
    Value blk = arith::DivUIOp::create(nb, l, k, indexCst(nb, l, bs));
    Value z = upZp ? arith::UIToFPOp::create(nb, l, elt, packedCode(nb, l, upZp, f, blk, bits))
                         .getResult()
                   : floatCst(nb, l, elt, double(1 << (bits - 1)));
    Value s = tensor::ExtractOp::create(nb, l, op.getUpScales(), ValueRange{f, blk});
    return arith::MulFOp::create(
        nb, l, arith::SubFOp::create(nb, l, arith::UIToFPOp::create(nb, l, elt, code), z), s);
  };
  // One token (x1 [1, H], its gate g1 [1, F]): list the active neurons,
  // then one row of codes each.
  auto oneToken = [&](GenericBuilder &O, Value x1, Value g1) -> Value {
    OpBuilder &ob = O.b;
    Value c0 = O.idx(0);
    std::pair<Value, Value> active = O.listWhere(O.idx(F), [&](OpBuilder &nb, Location l, Value i) {
      Value gi = tensor::ExtractOp::create(nb, l, g1, ValueRange{c0, i});
      return activation(nb, l, op, gi).second;
    });
    Value idx = active.first, n = active.second;
    // A GLU's linear part of the active neurons: one gathered dot product
    // of x with each one's row of codes (tagged for the packed kernel).
    Value lin;
    if (up) {
      SmallVector<NamedAttribute> dotTags = {
          ob.getNamedAttr(sp::kKernelAttrName, ob.getStringAttr("q_gather_dot")),
          ob.getNamedAttr("sparsa.bits", ob.getI64IntegerAttr(bits)),
          ob.getNamedAttr("sparsa.block_size", ob.getI64IntegerAttr(bs))};
      if (!upZp)
        dotTags.push_back(ob.getNamedAttr(sp::kZeroPointAttrName,
                                          ob.getF32FloatAttr(float(1 << (bits - 1)))));
      else
        dotTags.push_back(ob.getNamedAttr(sp::kPackedZeroPointsAttrName,
                                          ob.getI64IntegerAttr(bits)));
      lin = dotRows(O, rowTasks(op), x1, Value(), idx, n, op.getBUp(), upAt, dotTags);
    }
    SmallVector<Value> ins = {idx};
    SmallVector<SmallVector<int64_t>> dims = {{0}};
    if (lin) {
      ins.push_back(lin);
      dims.push_back({0});
    }
    Value a = O.generic(ins, dims, O.empty({n}, elt), {0}, 1, {},
                        [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                          Value gi = tensor::ExtractOp::create(
                              nb, l, g1, ValueRange{indexCst(nb, l, 0), v[0]});
                          Value act = activation(nb, l, op, gi).first;
                          return gluValue(nb, l, op, act, lin ? v[1] : Value());
                        });
    // Tagged for the packed gathered-axpy kernel (every task's columns
    // start at 0: whole bytes of codes).
    SmallVector<NamedAttribute> tags = {
        ob.getNamedAttr(sp::kKernelAttrName, ob.getStringAttr("q_gather_axpy")),
        ob.getNamedAttr("sparsa.bits", ob.getI64IntegerAttr(bits)),
        ob.getNamedAttr("sparsa.block_rows", ob.getI64IntegerAttr(bs))};
    Value init1 = O.biasRows(op.getB2(), ob.getIndexAttr(1), ob.getIndexAttr(H));
    return axpyRows(O, rowTasks(op), init1, w2, idx, a, n, weightAt, tags);
  };
  if (x2T.getDimSize(0) == 1)
    return oneToken(B, x, g);
  // A few tokens: one at a time, each reading only its active neurons'
  // rows (the gate above ran once for all of them).
  auto outT = RankedTensorType::get({x2T.getDimSize(0), H}, elt);
  auto perToken = [&](GenericBuilder &P) -> Value {
    OpBuilder &pb = P.b;
    Value init = P.biasRows(op.getB2(), T, pb.getIndexAttr(H));
    auto loop = scf::ForOp::create(
        pb, loc, P.idx(0), dimOf(pb, loc, x, 0), P.idx(1), ValueRange{init},
        [&](OpBuilder &lb, Location l, Value t, ValueRange acc) {
          GenericBuilder L{lb, l, elt};
          auto row = [&](Value v, int64_t cols) -> Value {
            return tensor::ExtractSliceOp::create(
                lb, l, RankedTensorType::get({1, cols}, elt), v,
                ArrayRef<OpFoldResult>{t, lb.getIndexAttr(0)},
                ArrayRef<OpFoldResult>{lb.getIndexAttr(1), lb.getIndexAttr(cols)},
                ArrayRef<OpFoldResult>{lb.getIndexAttr(1), lb.getIndexAttr(1)});
          };
          Value y1 = oneToken(L, row(x, H), row(g, F));
          Value next = tensor::InsertSliceOp::create(
              lb, l, y1, acc[0], ArrayRef<OpFoldResult>{t, lb.getIndexAttr(0)},
              ArrayRef<OpFoldResult>{lb.getIndexAttr(1), lb.getIndexAttr(H)},
              ArrayRef<OpFoldResult>{lb.getIndexAttr(1), lb.getIndexAttr(1)});
          scf::YieldOp::create(lb, l, next);
        });
    return loop.getResult(0);
  };
  // More tokens: the activation (times a GLU's linear part, a quantized
  // matmul), w2 unpacked to [F, H] once, a matmul.
  auto dense = [&](GenericBuilder &D) -> Value {
    OpBuilder &db = D.b;
    Value init = D.biasRows(op.getB2(), T, db.getIndexAttr(H));
    SmallVector<Value> ins = {g};
    SmallVector<SmallVector<int64_t>> dims = {{0, 1}};
    if (up) {
      BlockQuant qu{up, op.getUpScales(), op.getUpZeroPoints(), op.getBUp(), H, F, bits, bs};
      ins.push_back(buildBlockQuantMatMul(db, loc, x, qu,
                                          RankedTensorType::get({x2T.getDimSize(0), F}, elt)));
      dims.push_back({0, 1});
    }
    Value a = D.generic(ins, dims, D.empty({T, db.getIndexAttr(F)}, elt), {0, 1}, 2, {},
                        [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                          Value act = activation(nb, l, op, v[0]).first;
                          return gluValue(nb, l, op, act, up ? v[1] : Value());
                        });
    if (bits == 2) { // w2 unpacked to [F, H] floats, then the float GEMM
      Value w2f = D.generic(ValueRange{}, {},
                            D.empty({db.getIndexAttr(F), db.getIndexAttr(H)}, elt), {0, 1}, 2, {},
                            [&](OpBuilder &nb, Location l, ValueRange) -> Value {
                              return weightAt(nb, l, linalg::IndexOp::create(nb, l, 0),
                                              linalg::IndexOp::create(nb, l, 1));
                            });
      return D.matmulInto(a, w2f, init);
    }
    // 4 and 8 bits: y += a w2 over (m, n, k) with w2's codes read in place
    // (k, n / per byte), its scales and zero points per block of neurons,
    // tagged for the contraction kernels' GEMM, which dequantizes each
    // panel of w2 as it packs it.
    MLIRContext *mctx = db.getContext();
    AffineExpr m = getAffineDimExpr(0, mctx), n = getAffineDimExpr(1, mctx),
               k = getAffineDimExpr(2, mctx);
    auto map = [&](ArrayRef<AffineExpr> e) { return AffineMap::get(3, 0, e, mctx); };
    SmallVector<Value> gIns = {a, w2, s2};
    SmallVector<AffineMap> maps = {map({m, k}), map({k, bits == 4 ? n.floorDiv(2) : n}),
                                   map({k.floorDiv(bs), n})};
    Value zc = z2;
    if (zc) {
      gIns.push_back(zc);
      maps.push_back(map({k.floorDiv(bs), n}));
    }
    maps.push_back(map({m, n}));
    Type i32 = db.getI32Type();
    auto gemm = linalg::GenericOp::create(
        db, loc, init.getType(), gIns, init, maps,
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange v) {
          Value q = arith::ExtUIOp::create(nb, l, i32, v[1]);
          if (bits == 4) { // the nibble of column n: low for even n
            Value nIdx = linalg::IndexOp::create(nb, l, 1);
            Value sh = arith::IndexCastOp::create(
                nb, l, i32,
                arith::MulIOp::create(nb, l, arith::RemUIOp::create(nb, l, nIdx, indexCst(nb, l, 2)),
                                      indexCst(nb, l, 4)));
            q = arith::AndIOp::create(
                nb, l, arith::ShRUIOp::create(nb, l, q, sh),
                arith::ConstantOp::create(nb, l, i32, nb.getI32IntegerAttr(15)));
          }
          Value z = zc ? arith::UIToFPOp::create(nb, l, elt,
                                                 arith::ExtUIOp::create(nb, l, i32, v[3]))
                             .getResult()
                       : floatCst(nb, l, elt, double(1 << (bits - 1)));
          Value w = arith::MulFOp::create(
              nb, l, arith::SubFOp::create(nb, l, arith::UIToFPOp::create(nb, l, elt, q), z),
              v[2]);
          Value sum = arith::AddFOp::create(nb, l, v.back(),
                                            arith::MulFOp::create(nb, l, v[0], w));
          linalg::YieldOp::create(nb, l, sum);
        });
    gemm->setAttr(sp::kKernelAttrName,
                  db.getStringAttr(bits == 4 ? "q4_gemm_kn" : "q8_gemm_kn"));
    gemm->setAttr("sparsa.block_size", db.getI64IntegerAttr(bs));
    return gemm.getResult(0);
  };
  int64_t staticT = x2T.getDimSize(0);
  if (!ShapedType::isDynamic(staticT) && staticT > kTokenLoop)
    return dense(B);
  // Per token while the tokens' active rows add up to at most
  // kTokenLoopRows times the neurons (each token reads its own rows; the
  // dense path unpacks and repacks all of w2 once, about that much work).
  Type i64 = b.getI64Type();
  Value zero64 = arith::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(0));
  Value count0 = linalg::FillOp::create(
                     b, loc, zero64, tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{}, i64)
                                         .getResult())
                     .getResult(0);
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> cmaps = {AffineMap::getMultiDimIdentityMap(2, ctx),
                                  AffineMap::get(2, 0, {}, ctx)};
  Value count = linalg::GenericOp::create(
                    b, loc, count0.getType(), ValueRange{g}, ValueRange{count0}, cmaps,
                    SmallVector<utils::IteratorType>(2, utils::IteratorType::reduction),
                    [&](OpBuilder &nb, Location l, ValueRange v) {
                      Value on = arith::ExtUIOp::create(nb, l, i64, activation(nb, l, op, v[0]).second);
                      linalg::YieldOp::create(nb, l,
                                              arith::AddIOp::create(nb, l, v[1], on).getResult());
                    })
                    .getResult(0);
  Value rowsRead = tensor::ExtractOp::create(b, loc, count, ValueRange{});
  Value few = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, dimOf(b, loc, x, 0),
                            B.idx(kTokenLoop)),
      arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::ule, rowsRead,
          arith::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(kTokenLoopRows * F))));
  return ifElse(B, few, outT, perToken, dense);
}

/// The sparse FFN on x [T, H] (2-D), into [T, H].
static Value lowerSparseFFN2D(GenericBuilder &B, sp::SparseFFNOp op, Value x) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type elt = B.elt;
  auto x2T = cast<RankedTensorType>(x.getType());
  if (op.isQuantized())
    return lowerQuantizedFFN(B, op, x);
  OpFoldResult T = tensor::getMixedSize(b, loc, x, 0), H = tensor::getMixedSize(b, loc, x, 1),
               F = tensor::getMixedSize(b, loc, op.getW1(), 1);
  auto add = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::AddFOp::create(nb, l, a, c);
  };
  auto mul = [](OpBuilder &nb, Location l, Value a, Value c) -> Value {
    return arith::MulFOp::create(nb, l, a, c);
  };
  // Output rows start at b2 (or zero).
  auto outInit = [&]() { return B.biasRows(op.getB2(), T, H); };
  // Dense: a = act(g) [* (x up^T + b_up)], y = a W2 + b2, with builder |D|.
  auto dense = [&](GenericBuilder &D, Value g) -> Value {
    Value lin;
    if (Value up = op.getUp()) {
      Value acc = D.biasRows(op.getBUp(), T, F);
      lin = D.generic(ValueRange{x, up}, {{0, 2}, {1, 2}}, acc, {0, 1}, 3, {2},
                      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                        return add(nb, l, a[2], mul(nb, l, a[0], a[1]));
                      });
    }
    SmallVector<Value> ins = {g};
    SmallVector<SmallVector<int64_t>> dims = {{0, 1}};
    if (lin) {
      ins.push_back(lin);
      dims.push_back({0, 1});
    }
    Value a = D.generic(ins, dims, D.empty({T, F}, elt), {0, 1}, 2, {},
                        [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                          Value act = activation(nb, l, op, v[0]).first;
                          return gluValue(nb, l, op, act, lin ? v[1] : Value());
                        });
    Value init = D.biasRows(op.getB2(), T, H);
    return D.generic(ValueRange{a, op.getW2()}, {{0, 2}, {2, 1}}, init, {0, 1}, 3, {2},
                     [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                       return add(nb, l, v[2], mul(nb, l, v[0], v[1]));
                     });
  };
  Value out, g;
  if (!op.getIndices()) {
    g = B.matmul(x, op.getW1(), op.getB1()); // [T, F]
    recordProfile(B, op, g);
  }
  if (Value indices = op.getIndices()) {
    out = lowerIndexed(B, op, x, indices, outInit());
  } else if (x2T.getDimSize(0) != 1) {
    out = dense(B, g);
  } else {
    // One token: list the active neurons.
    Value c0 = B.idx(0), Fv = dimOf(b, loc, op.getW1(), 1);
    std::pair<Value, Value> active = B.listWhere(Fv, [&](OpBuilder &nb, Location l, Value i) {
      Value gi = tensor::ExtractOp::create(nb, l, g, ValueRange{c0, i});
      return activation(nb, l, op, gi).second;
    });
    Value listed = active.first, n = active.second;
    // Past ~60 % active, streaming every row of w2 densely is faster than
    // gathering them (measured: 1.3x at 100 %, even at ~60 %). A GLU's
    // `up` (one row per neuron) is read by gathered dot products eight
    // rows at a time either way, faster than the dense fallback's one
    // dot product at a time: a GLU always takes the gathered path.
    Value sparse = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::ule,
        arith::MulIOp::create(b, loc, n, B.idx(op.getUp() ? 0 : 5)),
        arith::MulIOp::create(b, loc, Fv, B.idx(3)));
    auto branch = scf::IfOp::create(
        b, loc, sparse,
        [&](OpBuilder &sb, Location sl) {
          GenericBuilder S{sb, sl, elt};
          Value idx = listed;
          // Active values a[j] (times the linear part for a GLU: one dot
          // product of x with each active row of `up`).
          Value lin;
          if (Value up = op.getUp())
            lin = dotRows(S, rowTasks(op), x, up, idx, n, op.getBUp());
          SmallVector<Value> ins = {idx};
          SmallVector<SmallVector<int64_t>> dims = {{0}};
          if (lin) {
            ins.push_back(lin);
            dims.push_back({0});
          }
          Value a = S.generic(ins, dims, S.empty({n}, elt), {0}, 1, {},
                              [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                                Value gi = tensor::ExtractOp::create(
                                    nb, l, g, ValueRange{indexCst(nb, l, 0), v[0]});
                                Value act = activation(nb, l, op, gi).first;
                                return gluValue(nb, l, op, act, lin ? v[1] : Value());
                              });
          Value init = S.biasRows(op.getB2(), T, H);
          // y = b2 + sum_j a[j] * W2[idx[j], :].
          Value y = axpyRows(S, rowTasks(op), init, op.getW2(), idx, a, n);
          scf::YieldOp::create(sb, sl, y);
        },
        [&](OpBuilder &db, Location dl) {
          GenericBuilder D{db, dl, elt};
          Value y = dense(D, g);
          scf::YieldOp::create(db, dl, y);
        });
    out = branch.getResult(0);
  }
  return out;
}

/// |body| on the 2-D |ins| (tokens first) as they are when their token
/// count is static; when it is known only at run time, an scf.if: |body| on
/// |ins| cast to one row when the count is 1 (the one-token lowering),
/// else on |ins| as they are. The result as [?, cols].
static Value branchOnOneToken(GenericBuilder &B, ValueRange ins, int64_t cols,
                              function_ref<Value(GenericBuilder &, ValueRange)> body) {
  OpBuilder &b = B.b;
  Location loc = B.loc;
  if (!ShapedType::isDynamic(cast<RankedTensorType>(ins[0].getType()).getDimSize(0)))
    return body(B, ins);
  Value one = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, dimOf(b, loc, ins[0], 0),
                                    B.idx(1));
  return ifElse(
      B, one, RankedTensorType::get({ShapedType::kDynamic, cols}, B.elt),
      [&](GenericBuilder &T) {
        SmallVector<Value> rows;
        for (Value v : ins) {
          auto t = cast<RankedTensorType>(v.getType());
          rows.push_back(tensor::CastOp::create(
              T.b, T.loc, RankedTensorType::get({1, t.getDimSize(1)}, t.getElementType()), v));
        }
        return body(T, rows);
      },
      [&](GenericBuilder &E) { return body(E, ins); });
}

/// |x| ([T, H] or [B, S, H]) as [tokens, H].
static Value tokensByHidden(OpBuilder &b, Location loc, Value x) {
  if (cast<RankedTensorType>(x.getType()).getRank() != 3)
    return x;
  return tensor::CollapseShapeOp::create(b, loc, x,
                                         SmallVector<ReassociationIndices>{{0, 1}, {2}});
}

static FailureOr<Value> lowerSparseFFN(sp::SparseFFNOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  Type elt = getElementTypeOrSelf(op.getInput());
  GenericBuilder B{b, loc, elt};
  Value x = tokensByHidden(b, loc, op.getInput());
  auto x2T = cast<RankedTensorType>(x.getType());
  // [T, H] back to the result's shape.
  auto rT = cast<RankedTensorType>(op.getType());
  auto result = [&](Value out) -> Value {
    if (rT.getRank() == 3)
      return reshapeTo(b, loc, out, rT, dimsOf(b, loc, op.getInput()));
    return out.getType() == rT ? out : tensor::CastOp::create(b, loc, rT, out).getResult();
  };
  // Tokens known at run time only (exporters' dynamic batch and sequence
  // dims): one token at run time takes the one-token lowering.
  return result(branchOnOneToken(B, x, x2T.getDimSize(1),
                                 [&](GenericBuilder &G, ValueRange xs) {
                                   return lowerSparseFFN2D(G, op, xs[0]);
                                 }));
}

/// TEAL input sparsity: y = (x where |x| > t) W + bias.
static FailureOr<Value> lowerSparseInputMatMul(sp::SparseInputMatMulOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  Type elt = getElementTypeOrSelf(op.getInput());
  GenericBuilder B{b, loc, elt};
  Value x = tokensByHidden(b, loc, op.getInput());
  Value w = op.getW();
  double t = op.getThreshold().convertToDouble();
  // |x| > t keeps the entry (NaN is dropped: the comparison is false, as
  // Where(Greater(Abs(x), t)) computes it; kept with nan_active).
  arith::CmpFPredicate gt =
      op.getNanActive() ? arith::CmpFPredicate::UGT : arith::CmpFPredicate::OGT;
  auto keep = [&](OpBuilder &nb, Location l, Value v) -> Value {
    return arith::CmpFOp::create(nb, l, gt,
                                 math::AbsFOp::create(nb, l, v), floatCst(nb, l, elt, t));
  };
  auto lower2D = [&](GenericBuilder &B, ValueRange xs) -> Value {
    OpBuilder &b = B.b;
    Location loc = B.loc;
    Value x = xs[0];
    auto x2T = cast<RankedTensorType>(x.getType());
    OpFoldResult T = tensor::getMixedSize(b, loc, x, 0), N = tensor::getMixedSize(b, loc, w, 1);
    Value init = B.biasRows(op.getBias(), T, N);
    Value out;
    if (x2T.getDimSize(0) != 1) {
      Value masked = B.generic(
          x, {{0, 1}}, B.empty({T, tensor::getMixedSize(b, loc, x, 1)}, elt), {0, 1}, 2, {},
          [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            return arith::SelectOp::create(nb, l, keep(nb, l, a[0]), a[0], zeroOf(nb, l, elt));
          });
      out = B.generic(ValueRange{masked, w}, {{0, 2}, {2, 1}}, init, {0, 1}, 3, {2},
                      [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                        return arith::AddFOp::create(nb, l, v[2],
                                                     arith::MulFOp::create(nb, l, v[0], v[1]));
                      });
    } else {
      // One token: list the kept entries, then one row of w per entry.
      Value c0 = B.idx(0);
      std::pair<Value, Value> kept =
          B.listWhere(dimOf(b, loc, x, 1), [&](OpBuilder &nb, Location l, Value i) {
            return keep(nb, l, tensor::ExtractOp::create(nb, l, x, ValueRange{c0, i}));
          });
      Value vals = B.generic(kept.first, {{0}}, B.empty({kept.second}, elt), {0}, 1, {},
                             [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                               return tensor::ExtractOp::create(nb, l, x, ValueRange{c0, a[0]});
                             });
      out = axpyRows(B, rowTasks(op), init, w, kept.first, vals, kept.second);
    }
    return out;
  };
  Value out = branchOnOneToken(B, x, cast<RankedTensorType>(w.getType()).getDimSize(1), lower2D);
  auto rT = cast<RankedTensorType>(op.getType());
  if (rT.getRank() == 3) {
    SmallVector<Value> dims = dimsOf(b, loc, op.getInput());
    dims.back() = dimOf(b, loc, w, 1);
    return reshapeTo(b, loc, out, rT, dims);
  }
  if (out.getType() != rT)
    out = tensor::CastOp::create(b, loc, rT, out);
  return out;
}

/// y[t] = bias + sum_j values[t, j] * w[indices[t, j], :].
static FailureOr<Value> lowerTopKMatMul(sp::TopKMatMulOp op, LowerCtx &lctx) {
  OpBuilder &b = lctx.b;
  Location loc = op.getLoc();
  auto vT = cast<RankedTensorType>(op.getValues().getType());
  Type elt = vT.getElementType();
  GenericBuilder B{b, loc, elt};
  Value w = op.getW();
  Value F = dimOf(b, loc, w, 0);
  checkIndexRange(B, op, op.getIndices(), F);
  auto lower2D = [&](GenericBuilder &B, ValueRange iv) -> Value {
    OpBuilder &b = B.b;
    Location loc = B.loc;
    Value indices = iv[0], values = iv[1];
    auto vT = cast<RankedTensorType>(values.getType());
    OpFoldResult T = tensor::getMixedSize(b, loc, values, 0),
                 N = tensor::getMixedSize(b, loc, w, 1);
    Value init = B.biasRows(op.getBias(), T, N);
    Value out;
    if (vT.getDimSize(0) == 1) {
      // One token: one axpy per kept entry.
      auto flat = [&](Value v) -> Value {
        return tensor::CollapseShapeOp::create(b, loc, v,
                                               SmallVector<ReassociationIndices>{{0, 1}});
      };
      Value idx = clampedIndices(B, flat(indices), F);
      Value vals = flat(values);
      out = axpyRows(B, rowTasks(op), init, w, idx, vals, dimOf(b, loc, vals, 0));
    } else {
      // Scatter into a dense activation [T, F], then the matmul.
      OpFoldResult Fs = tensor::getMixedSize(b, loc, w, 0);
      Value dense = B.filled({T, Fs}, elt, zeroOf(b, loc, elt));
      Value c0 = B.idx(0), c1 = B.idx(1);
      Value Tv = dimOf(b, loc, values, 0), Kv = dimOf(b, loc, values, 1);
      Type idxT = b.getIndexType();
      auto rows = scf::ForOp::create(
          b, loc, c0, Tv, c1, ValueRange{dense},
          [&](OpBuilder &nb, Location l, Value t, ValueRange acc) {
            auto cols = scf::ForOp::create(
                nb, l, c0, Kv, c1, acc, [&](OpBuilder &jb, Location jl, Value j, ValueRange a) {
                  Value raw = arith::IndexCastOp::create(
                      jb, jl, idxT, tensor::ExtractOp::create(jb, jl, indices, ValueRange{t, j}));
                  Value zero = indexCst(jb, jl, 0), one = indexCst(jb, jl, 1);
                  Value neg = arith::CmpIOp::create(jb, jl, arith::CmpIPredicate::slt, raw, zero);
                  Value i = arith::SelectOp::create(jb, jl, neg,
                                                    arith::AddIOp::create(jb, jl, raw, F), raw);
                  i = arith::MinSIOp::create(jb, jl, arith::MaxSIOp::create(jb, jl, i, zero),
                                             arith::SubIOp::create(jb, jl, F, one));
                  Value v = tensor::ExtractOp::create(jb, jl, values, ValueRange{t, j});
                  scf::YieldOp::create(
                      jb, jl,
                      tensor::InsertOp::create(jb, jl, v, a[0], ValueRange{t, i}).getResult());
                });
            scf::YieldOp::create(nb, l, cols.getResults());
          });
      out = B.generic(ValueRange{rows.getResult(0), w}, {{0, 2}, {2, 1}}, init, {0, 1}, 3, {2},
                      [&](OpBuilder &nb, Location l, ValueRange v) -> Value {
                        return arith::AddFOp::create(nb, l, v[2],
                                                     arith::MulFOp::create(nb, l, v[0], v[1]));
                      });
    }
    return out;
  };
  Value out = branchOnOneToken(B, ValueRange{op.getIndices(), op.getValues()},
                               cast<RankedTensorType>(w.getType()).getDimSize(1), lower2D);
  if (out.getType() != op.getType())
    out = tensor::CastOp::create(b, loc, op.getType(), out);
  return out;
}

void sparsa::lowering::populateActivationSparsityLowerings(LoweringTable &t) {
  addSingle<sp::TopKMatMulOp, lowerTopKMatMul>(t);
  addSingle<sp::SparseFFNOp, lowerSparseFFN>(t);
  addSingle<sp::SparseInputMatMulOp, lowerSparseInputMatMul>(t);
}
