//===- Common.cpp - Shared pieces of the onnx lowering ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// IR-building helpers shared by the op-family lowerings.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include "mlir/Dialect/Utils/ReshapeOpsUtils.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsa::lowering;

bool LowerCtx::isUnsigned(Value v) const {
  Type t = originalElementType.lookup(v);
  if (!t)
    t = getElementTypeOrSelf(v);
  auto it = dyn_cast<IntegerType>(t);
  return it && it.isUnsigned();
}

Value sparsa::lowering::createEmpty(OpBuilder &b, Location loc, RankedTensorType type,
                                    llvm::function_ref<Value(int64_t)> dynDim) {
  SmallVector<Value> dyn;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dyn.push_back(dynDim(i));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dyn);
}

Value sparsa::lowering::dimOf(OpBuilder &b, Location loc, Value v, int64_t i) {
  auto t = cast<RankedTensorType>(v.getType());
  if (!t.isDynamicDim(i))
    return indexCst(b, loc, t.getDimSize(i));
  return tensor::DimOp::create(b, loc, v, i);
}

SmallVector<Value> sparsa::lowering::dimsOf(OpBuilder &b, Location loc, Value v) {
  SmallVector<Value> dims;
  for (int64_t i = 0, e = cast<RankedTensorType>(v.getType()).getRank(); i < e; ++i)
    dims.push_back(dimOf(b, loc, v, i));
  return dims;
}

Value sparsa::lowering::indexCst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value sparsa::lowering::broadcastDim(OpBuilder &b, Location loc, ValueRange operands,
                                     int64_t outRank, int64_t outDim) {
  for (Value v : operands) {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t d = outDim - (outRank - t.getRank());
    if (d < 0)
      continue;
    if (t.isDynamicDim(d))
      return dimOf(b, loc, v, d);
    if (t.getDimSize(d) != 1)
      return indexCst(b, loc, t.getDimSize(d));
  }
  return indexCst(b, loc, 1);
}

AffineMap sparsa::lowering::broadcastMap(MLIRContext *ctx, RankedTensorType type,
                                         ArrayRef<int64_t> outShape,
                                         int64_t numLoops) {
  int64_t outRank = outShape.size();
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    int64_t o = i + (outRank - type.getRank());
    if (type.getDimSize(i) == 1 && outShape[o] != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(o, ctx));
  }
  return AffineMap::get(numLoops, 0, exprs, ctx);
}

Value sparsa::lowering::broadcastRuntimeOnes(OpBuilder &b, Location loc, Value v,
                                             ArrayRef<int64_t> dims, ValueRange sizes) {
  auto type = cast<RankedTensorType>(v.getType());
  int64_t rank = type.getRank();
  Value same = arith::ConstantIntOp::create(b, loc, 1, 1);
  for (auto [d, n] : llvm::zip(dims, sizes))
    same = arith::AndIOp::create(
        b, loc, same,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, dimOf(b, loc, v, d), n));
  auto ifOp = scf::IfOp::create(
      b, loc, same,
      [&](OpBuilder &nb, Location nl) { scf::YieldOp::create(nb, nl, v); },
      [&](OpBuilder &nb, Location nl) {
        SmallVector<Value> flags(rank), outSizes(rank);
        for (int64_t d = 0; d < rank; ++d)
          outSizes[d] = dimOf(nb, nl, v, d);
        for (auto [d, n] : llvm::zip(dims, sizes)) {
          flags[d] = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq, outSizes[d],
                                           indexCst(nb, nl, 1));
          outSizes[d] = n;
        }
        Value init = createEmpty(nb, nl, type, [&](int64_t i) { return outSizes[i]; });
        Value copy =
            linalg::GenericOp::create(
                nb, nl, type, ValueRange{}, init,
                ArrayRef<AffineMap>{nb.getMultiDimIdentityMap(rank)},
                SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
                [&](OpBuilder &gb, Location gl, ValueRange) {
                  SmallVector<Value> idx;
                  for (int64_t d = 0; d < rank; ++d) {
                    Value i = linalg::IndexOp::create(gb, gl, d);
                    idx.push_back(flags[d] ? arith::SelectOp::create(gb, gl, flags[d],
                                                                     indexCst(gb, gl, 0), i)
                                                 .getResult()
                                           : i);
                  }
                  linalg::YieldOp::create(gb, gl,
                                          ValueRange{tensor::ExtractOp::create(gb, gl, v, idx)});
                })
                .getResult(0);
        scf::YieldOp::create(nb, nl, copy);
      });
  return ifOp.getResult(0);
}

Value sparsa::lowering::buildElementwise(
    OpBuilder &b, Location loc, ValueRange operands, RankedTensorType resultType,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = resultType.getRank();
  // Output dims where a dynamic operand dim meets another operand's dim:
  // numpy broadcasting may stretch a dim that is 1 only at run time (a
  // [1, L, D] rotary table times [B, L, D] activations, both typed ?).
  auto dimAt = [&](Value v, int64_t o) -> int64_t {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t d = o - (rank - t.getRank());
    return d < 0 ? -1 : d;
  };
  SmallVector<int64_t> ambiguous;
  for (int64_t o = 0; o < rank; ++o) {
    int64_t contributing = 0;
    bool dynamic = false;
    for (Value v : operands) {
      int64_t d = dimAt(v, o);
      if (d < 0)
        continue;
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getDimSize(d) == 1)
        continue;
      ++contributing;
      dynamic |= t.isDynamicDim(d);
    }
    if (contributing >= 2 && dynamic)
      ambiguous.push_back(o);
  }
  // The output's dims: at an ambiguous position the largest operand dim
  // (a valid broadcast has only 1 and one other size there).
  SmallVector<Value> outDims(rank);
  for (int64_t o = 0; o < rank; ++o) {
    if (!llvm::is_contained(ambiguous, o)) {
      outDims[o] = broadcastDim(b, loc, operands, rank, o);
      continue;
    }
    Value m;
    for (Value v : operands)
      if (int64_t d = dimAt(v, o); d >= 0) {
        Value dv = dimOf(b, loc, v, d);
        m = m ? arith::MaxUIOp::create(b, loc, m, dv).getResult() : dv;
      }
    outDims[o] = m;
  }
  // An operand whose dynamic dim turns out to be 1 where the output's is
  // not is stretched first (a copy only when that happens), so the op
  // stays one generic with affine maps.
  SmallVector<Value> ins(operands);
  for (Value &v : ins) {
    SmallVector<int64_t> dims;
    SmallVector<Value> sizes;
    for (int64_t o : ambiguous)
      if (int64_t d = dimAt(v, o);
          d >= 0 && cast<RankedTensorType>(v.getType()).isDynamicDim(d))
        dims.push_back(d), sizes.push_back(outDims[o]);
    if (!dims.empty())
      v = broadcastRuntimeOnes(b, loc, v, dims, sizes);
  }
  SmallVector<AffineMap> maps;
  for (Value v : ins)
    maps.push_back(broadcastMap(ctx, cast<RankedTensorType>(v.getType()),
                                resultType.getShape(), rank));
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = createEmpty(b, loc, resultType, [&](int64_t i) { return outDims[i]; });
  return linalg::GenericOp::create(
             b, loc, resultType, ins, init, maps,
             SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, body(nb, nl, args.drop_back()));
             })
      .getResult(0);
}

Type sparsa::lowering::toSignless(Type t) {
  if (auto shaped = dyn_cast<RankedTensorType>(t))
    return shaped.clone(toSignless(shaped.getElementType()));
  if (auto it = dyn_cast<IntegerType>(t))
    if (!it.isSignless())
      return IntegerType::get(t.getContext(), it.getWidth());
  return t;
}

Value sparsa::lowering::zeroOf(OpBuilder &b, Location loc, Type t) {
  return arith::ConstantOp::create(b, loc, t, b.getZeroAttr(t));
}

Value sparsa::lowering::floatCst(OpBuilder &b, Location loc, Type t, double v) {
  return arith::ConstantOp::create(b, loc, t, b.getFloatAttr(t, v));
}

Value sparsa::lowering::lowestOf(OpBuilder &b, Location loc, Type t, bool isUnsigned) {
  if (auto ft = dyn_cast<FloatType>(t))
    return arith::ConstantOp::create(
        b, loc, t, b.getFloatAttr(t, APFloat::getInf(ft.getFloatSemantics(), true)));
  unsigned w = t.getIntOrFloatBitWidth();
  APInt v = isUnsigned ? APInt::getMinValue(w) : APInt::getSignedMinValue(w);
  return arith::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, v));
}

Value sparsa::lowering::highestOf(OpBuilder &b, Location loc, Type t, bool isUnsigned) {
  if (auto ft = dyn_cast<FloatType>(t))
    return arith::ConstantOp::create(
        b, loc, t, b.getFloatAttr(t, APFloat::getInf(ft.getFloatSemantics(), false)));
  unsigned w = t.getIntOrFloatBitWidth();
  APInt v = isUnsigned ? APInt::getMaxValue(w) : APInt::getSignedMaxValue(w);
  return arith::ConstantOp::create(b, loc, t, b.getIntegerAttr(t, v));
}

int64_t sparsa::lowering::normalizeAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

Value sparsa::lowering::extractIndex(OpBuilder &b, Location loc, Value t, int64_t i) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<Value> idx;
  if (type.getRank() == 1)
    idx.push_back(indexCst(b, loc, i));
  else
    for (int64_t d = 0; d < type.getRank(); ++d)
      idx.push_back(indexCst(b, loc, 0));
  Value e = tensor::ExtractOp::create(b, loc, t, idx);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), e);
}

Value sparsa::lowering::reshapeTo(OpBuilder &b, Location loc, Value v,
                                  RankedTensorType type, ValueRange dims) {
  if (v.getType() == type)
    return v;
  SmallVector<Value> i64s;
  for (Value d : dims)
    i64s.push_back(arith::IndexCastOp::create(b, loc, b.getI64Type(), d));
  auto shapeType = RankedTensorType::get({type.getRank()}, b.getI64Type());
  Value shape = tensor::FromElementsOp::create(b, loc, shapeType, i64s);
  auto src = cast<RankedTensorType>(v.getType());
  // tensor.reshape needs the element type to match; result keeps |type|.
  return tensor::ReshapeOp::create(b, loc, type.clone(src.getElementType()), v, shape);
}

Value sparsa::lowering::createEmptyLike(OpBuilder &b, Location loc,
                                        RankedTensorType type, Value like) {
  return createEmpty(b, loc, type, [&](int64_t i) { return dimOf(b, loc, like, i); });
}

SmallVector<ReassociationIndices>
sparsa::lowering::unitDimGroups(int64_t rank, const llvm::SmallDenseSet<int64_t> &unit) {
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices cur;
  for (int64_t i = 0; i < rank; ++i) {
    cur.push_back(i);
    if (!unit.contains(i)) {
      groups.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty() && !groups.empty())
    groups.back().append(cur.begin(), cur.end());
  return groups;
}

Value sparsa::lowering::expandUnitDims(OpBuilder &b, Location loc, Value v,
                                       RankedTensorType resultType,
                                       const llvm::SmallDenseSet<int64_t> &unit) {
  SmallVector<ReassociationIndices> groups = unitDimGroups(resultType.getRank(), unit);
  auto inT = cast<RankedTensorType>(v.getType());
  SmallVector<OpFoldResult> outShape;
  int64_t src = 0;
  for (int64_t i = 0; i < resultType.getRank(); ++i) {
    if (unit.contains(i)) {
      outShape.push_back(b.getIndexAttr(1));
      continue;
    }
    if (inT.isDynamicDim(src))
      outShape.push_back(dimOf(b, loc, v, src));
    else
      outShape.push_back(b.getIndexAttr(inT.getDimSize(src)));
    ++src;
  }
  return tensor::ExpandShapeOp::create(
             b, loc, resultType.clone(inT.getElementType()), v, groups, outShape)
      .getResult();
}

Value sparsa::lowering::switchOnAxes(
    OpBuilder &b, Location loc, Value axes, int64_t rank,
    ArrayRef<SmallVector<int64_t>> candidates, RankedTensorType resultType,
    llvm::function_ref<Value(ArrayRef<int64_t>)> fn) {
  auto axesT = cast<RankedTensorType>(axes.getType());
  int64_t count = axesT.getRank() == 0 ? 1 : axesT.getDimSize(0);
  Value mask = indexCst(b, loc, 0), rankV = indexCst(b, loc, rank);
  Value zero = indexCst(b, loc, 0), one = indexCst(b, loc, 1);
  for (int64_t j = 0; j < count; ++j) {
    Value a = extractIndex(b, loc, axes, j);
    Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, a, zero);
    a = arith::SelectOp::create(b, loc, neg, arith::AddIOp::create(b, loc, a, rankV), a);
    // Out of range: a bit no candidate has.
    Value bad = arith::OrIOp::create(
        b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, a, zero),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, a, rankV));
    a = arith::SelectOp::create(b, loc, bad, rankV, a);
    mask = arith::OrIOp::create(b, loc, mask, arith::ShLIOp::create(b, loc, one, a));
  }
  SmallVector<int64_t> keys;
  for (const auto &c : candidates) {
    int64_t k = 0;
    for (int64_t a : c)
      k |= int64_t(1) << a;
    keys.push_back(k);
  }
  auto sw = scf::IndexSwitchOp::create(b, loc, TypeRange{resultType}, mask, keys,
                                       keys.size());
  auto fill = [&](Region &region, ArrayRef<int64_t> axesSet) {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(&region.emplaceBlock());
    Value v = fn(axesSet);
    if (v.getType() != resultType)
      v = tensor::CastOp::create(b, loc, resultType, v);
    scf::YieldOp::create(b, loc, v);
  };
  for (auto [i, c] : llvm::enumerate(candidates))
    fill(sw.getCaseRegions()[i], c);
  fill(sw.getDefaultRegion(), candidates.front());
  return sw.getResult(0);
}

SmallVector<SmallVector<int64_t>> sparsa::lowering::axisSubsets(int64_t rank,
                                                                 int64_t minSize,
                                                                 int64_t maxSize) {
  SmallVector<SmallVector<int64_t>> result;
  for (int64_t m = 0; m < (int64_t(1) << rank); ++m) {
    int64_t n = llvm::popcount(static_cast<uint64_t>(m));
    if (n < minSize || n > maxSize)
      continue;
    SmallVector<int64_t> set;
    for (int64_t a = 0; a < rank; ++a)
      if (m & (int64_t(1) << a))
        set.push_back(a);
    result.push_back(set);
  }
  return result;
}

Value sparsa::lowering::applyExpertActivation(OpBuilder &b, Location loc, StringRef act,
                                              Value z, double alpha) {
  Type t = z.getType();
  auto cst = [&](double v) { return floatCst(b, loc, t, v); };
  auto mul = [&](Value x, Value y) -> Value { return arith::MulFOp::create(b, loc, x, y); };
  auto add = [&](Value x, Value y) -> Value { return arith::AddFOp::create(b, loc, x, y); };
  if (act == "relu")
    return arith::MaximumFOp::create(b, loc, z, cst(0.0));
  if (act == "silu") {
    Value az = alpha == 1.0 ? z : mul(z, cst(alpha));
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, az));
    return arith::DivFOp::create(b, loc, z, add(cst(1.0), e));
  }
  if (act == "gelu")
    return mul(mul(cst(0.5), z),
               add(cst(1.0), math::ErfOp::create(b, loc, mul(z, cst(0.7071067811865476)))));
  if (act == "gelu_tanh") {
    Value z3 = mul(mul(z, z), z);
    Value inner = mul(cst(0.7978845608028654), add(z, mul(cst(0.044715), z3)));
    return mul(mul(cst(0.5), z), add(cst(1.0), math::TanhOp::create(b, loc, inner)));
  }
  return z;
}

/// |op|'s run-time check: its id (::sparsa::sparsa::kCheckAttrName) and
/// the module's run status word, or nothing when |op| is unchecked.
static std::optional<std::pair<IntegerAttr, memref::GlobalOp>> runCheckOf(Operation *op) {
  auto id = op->getAttrOfType<IntegerAttr>(::sparsa::sparsa::kCheckAttrName);
  auto module = op->getParentOfType<ModuleOp>();
  auto status = module ? module.lookupSymbol<memref::GlobalOp>(::sparsa::sparsa::kRunStatusSymbol)
                       : memref::GlobalOp();
  if (!id || !status)
    return std::nullopt;
  return std::make_pair(id, status);
}

/// The run-time check of |op|'s input indices (::sparsa::sparsa::kCheckAttrName): when
/// any index is outside [-F, F), the check's id goes to the run status
/// word and the run fails with its message (the kernels still clamp).
void sparsa::lowering::checkIndexRange(GenericBuilder &B, Operation *op, Value indices,
                                        Value F) {
  if (!runCheckOf(op))
    return;
  OpBuilder &b = B.b;
  Location loc = B.loc;
  Type i1 = b.getI1Type(), idxT = b.getIndexType();
  int64_t rank = cast<RankedTensorType>(indices.getType()).getRank();
  SmallVector<int64_t> all;
  for (int64_t d = 0; d < rank; ++d)
    all.push_back(d);
  Value no = arith::ConstantOp::create(b, loc, i1, b.getBoolAttr(false));
  Value any = B.generic(indices, {all}, B.filled({}, i1, no), {}, rank, all,
                        [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                          Value i = arith::IndexCastOp::create(nb, l, idxT, a[0]);
                          Value low = arith::CmpIOp::create(
                              nb, l, arith::CmpIPredicate::slt,
                              arith::AddIOp::create(nb, l, i, F), indexCst(nb, l, 0));
                          Value high =
                              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, i, F);
                          return arith::OrIOp::create(
                              nb, l, a[1], arith::OrIOp::create(nb, l, low, high));
                        });
  Value bad = tensor::ExtractOp::create(b, loc, any, ValueRange{});
  failCheckIf(B, op, bad);
}

void sparsa::lowering::failCheckIf(GenericBuilder &B, Operation *op, Value bad) {
  auto check = runCheckOf(op);
  if (!check)
    return;
  IntegerAttr id = check->first;
  memref::GlobalOp status = check->second;
  scf::IfOp::create(B.b, B.loc, bad, [&](OpBuilder &nb, Location l) {
    Value word = memref::GetGlobalOp::create(nb, l, status.getType(), status.getSymName());
    Value code = arith::ConstantOp::create(nb, l, nb.getI64Type(),
                                           nb.getI64IntegerAttr(id.getInt()));
    memref::StoreOp::create(nb, l, code, word, ValueRange{indexCst(nb, l, 0)});
    scf::YieldOp::create(nb, l);
  });
}

Value sparsa::lowering::toBatched(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t rank = type.getRank();
  if (rank == 3)
    return t;
  if (rank == 2) {
    auto rt = RankedTensorType::get({1, type.getDimSize(0), type.getDimSize(1)},
                                    type.getElementType());
    return expandUnitDims(b, loc, t, rt, {0});
  }
  ReassociationIndices lead;
  for (int64_t i = 0; i + 2 < rank; ++i)
    lead.push_back(i);
  return tensor::CollapseShapeOp::create(
      b, loc, t, SmallVector<ReassociationIndices>{lead, {rank - 2}, {rank - 1}});
}

Value sparsa::lowering::fromBatched(OpBuilder &b, Location loc, Value result, Value like,
                                    RankedTensorType resultType) {
  int64_t rank = resultType.getRank();
  if (rank == 2) {
    result = tensor::CollapseShapeOp::create(
        b, loc, result, SmallVector<ReassociationIndices>{{0, 1}, {2}});
  } else if (rank > 3) {
    ReassociationIndices lead;
    SmallVector<OpFoldResult> shape;
    for (int64_t i = 0; i + 2 < rank; ++i) {
      lead.push_back(i);
      shape.push_back(tensor::getMixedSize(b, loc, like, i));
    }
    shape.push_back(tensor::getMixedSize(b, loc, result, 1));
    shape.push_back(tensor::getMixedSize(b, loc, result, 2));
    SmallVector<int64_t> staticShape;
    for (OpFoldResult s : shape)
      staticShape.push_back(getConstantIntValue(s).value_or(ShapedType::kDynamic));
    result = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(staticShape, resultType.getElementType()), result,
        SmallVector<ReassociationIndices>{lead, {rank - 2}, {rank - 1}}, shape);
  }
  if (result.getType() != resultType)
    result = tensor::CastOp::create(b, loc, resultType, result);
  return result;
}

Value sparsa::lowering::forallTiles(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> counts,
                                    Value out,
                                    function_ref<TaskTile(ValueRange, Value)> body) {
  auto forall = scf::ForallOp::create(
      b, loc, counts, ValueRange{out}, std::nullopt,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        TaskTile tile = body(args.drop_back(), args.back());
        auto term = scf::InParallelOp::create(b, l);
        b.setInsertionPointToStart(term.getBody());
        tensor::ParallelInsertSliceOp::create(
            b, l, tile.value, args.back(), tile.offsets, tile.sizes,
            SmallVector<OpFoldResult>(tile.offsets.size(), b.getIndexAttr(1)));
      });
  return forall.getResult(0);
}

Value sparsa::lowering::packedCode(OpBuilder &b, Location loc, Value t, ValueRange lead,
                                   Value elem, int64_t bits) {
  Type i32 = b.getI32Type();
  Value bit = arith::MulIOp::create(b, loc, elem, indexCst(b, loc, bits));
  SmallVector<Value> idx(lead);
  idx.push_back(arith::DivUIOp::create(b, loc, bit, indexCst(b, loc, 8)));
  Value byte = tensor::ExtractOp::create(b, loc, t, idx);
  Value shift = arith::IndexCastOp::create(
      b, loc, i32, arith::RemUIOp::create(b, loc, bit, indexCst(b, loc, 8)));
  Value v = arith::ShRUIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i32, byte), shift);
  return arith::AndIOp::create(
      b, loc, v, arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr((1 << bits) - 1)));
}
