//===- ContractionKernels.cpp - register-blocked matmul loops --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Rewrites contraction linalg.generics on buffers (`C[.., m, n] += A[.., m,
// k] * B[.., k, n]`, any batch dims, n contiguous in B and C) into vector
// loops with the accumulators in registers:
//
//  - GEMM (many rows): an MR x (NV * VL) tile of C stays in vector registers
//    while k runs; each k step broadcasts MR elements of A and loads NV
//    vectors of B's row k. Rows left over run a one-row tile.
//  - GEMV (a few rows): each thread streams KR = 8 rows of B at once; two
//    vectors of C are read, get KR fused multiply-adds each and are written
//    back, so C traffic falls KR-fold while B is read as KR concurrent
//    sequential streams (more DRAM requests in flight).
//
// Column tails use masked loads and stores, so any N works. Everything is
// upstream vector / scf / memref ops; LLVM turns vector.fma into FMAs of
// the target's width.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <limits>

namespace sparsa {
#define GEN_PASS_DEF_CONTRACTIONKERNELSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace sp = sparsa::sparsa;

namespace {
/// The loop roles of a matched contraction.
struct Contraction {
  linalg::GenericOp op;
  OpOperand *a, *b, *c;
  int64_t n, k, m = -1;
  SmallVector<int64_t> outer; // remaining (batch) loops
};
} // namespace

/// Whether |v|'s innermost dimension has unit stride.
static bool unitInnerStride(Value v) {
  auto t = dyn_cast<MemRefType>(v.getType());
  if (!t || t.getRank() == 0)
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(t.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

/// Calls |body| on [0, n) in groups of |r| (body(builder, first, r)), then
/// on the rest one at a time (body(builder, i, 1)).
static void forGroups(OpBuilder &b, Location loc, Value n, int64_t r,
                      function_ref<void(OpBuilder &, Value, int64_t)> body) {
  auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  Value main = arith::SubIOp::create(b, loc, n, arith::RemUIOp::create(b, loc, n, cst(r)));
  for (auto [lo, hi, step] : {std::tuple(cst(0).getResult(), main, r),
                              std::tuple(main, n, int64_t(1))})
    scf::ForOp::create(b, loc, lo, hi, cst(step), ValueRange{},
                       [&, step = step](OpBuilder &lb, Location, Value i, ValueRange) {
                         body(lb, i, step);
                         scf::YieldOp::create(lb, loc);
                       });
}

/// Whether every operand of |op| has a unit innermost stride.
static bool allUnitInnerStride(linalg::GenericOp op) {
  return llvm::all_of(op->getOpOperands(),
                      [](OpOperand &o) { return unitInnerStride(o.get()); });
}


/// The low and high nibbles of 16 bytes (zero-extended to i32 lanes |q|) as
/// f32: vpermps reads the low 4 bits of each index, so a lookup in
/// [0, 1, ..., 15] masks and converts a nibble in one step (AVX-512).
static std::pair<Value, Value> nibbleFloats(OpBuilder &b, Location loc, Value q) {
  auto v16 = [&](Type t) { return VectorType::get({16}, t); };
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  SmallVector<float> iota;
  for (int l = 0; l < 16; ++l)
    iota.push_back(float(l));
  Value table = arith::ConstantOp::create(
      b, loc, v16(f32), DenseElementsAttr::get(v16(f32), ArrayRef<float>(iota)));
  Value four = arith::ConstantOp::create(
      b, loc, v16(i32), DenseElementsAttr::get(v16(i32), b.getI32IntegerAttr(4).getValue()));
  StringAttr permvar = b.getStringAttr("llvm.x86.avx512.permvar.sf.512");
  Value lo =
      LLVM::CallIntrinsicOp::create(b, loc, v16(f32), permvar, ValueRange{table, q}).getResult(0);
  Value hi = LLVM::CallIntrinsicOp::create(
                 b, loc, v16(f32), permvar,
                 ValueRange{table, arith::ShRUIOp::create(b, loc, q, four)})
                 .getResult(0);
  return {lo, hi};
}

static std::optional<Contraction> match(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return std::nullopt;
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues().front().getDefiningOp<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  Value acc = body.getArgument(2);
  Value prodV = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  auto mul = prodV.getDefiningOp<arith::MulFOp>();
  if (!mul || (add.getLhs() != acc && add.getRhs() != acc))
    return std::nullopt;
  Value x = body.getArgument(0), y = body.getArgument(1);
  if (!((mul.getLhs() == x && mul.getRhs() == y) || (mul.getLhs() == y && mul.getRhs() == x)))
    return std::nullopt;
  Type elt = acc.getType();
  if (!elt.isF32() && !elt.isF64())
    return std::nullopt;
  for (AffineMap m : op.getIndexingMapsArray())
    if (!m.isProjectedPermutation() || m.getNumResults() == 0)
      return std::nullopt;
  auto iters = op.getIteratorTypesArray();
  Contraction c{op, nullptr, nullptr, op.getDpsInitOperand(0), -1, -1, -1, {}};
  for (auto [i, it] : llvm::enumerate(iters))
    if (it == utils::IteratorType::reduction) {
      if (c.k >= 0)
        return std::nullopt;
      c.k = i;
    }
  if (c.k < 0)
    return std::nullopt;
  auto dimsOf = [&](OpOperand *o) {
    SmallVector<int64_t> d;
    for (AffineExpr e : op.getMatchingIndexingMap(o).getResults())
      d.push_back(cast<AffineDimExpr>(e).getPosition());
    return d;
  };
  SmallVector<int64_t> cDims = dimsOf(c.c);
  c.n = cDims.back();
  for (OpOperand *in : op.getDpsInputOperands())
    (dimsOf(in).back() == c.n ? c.b : c.a) = in;
  if (!c.a || !c.b || c.a == c.b)
    return std::nullopt;
  SmallVector<int64_t> aDims = dimsOf(c.a), bDims = dimsOf(c.b);
  if (llvm::is_contained(aDims, c.n) || !llvm::is_contained(aDims, c.k) ||
      !llvm::is_contained(bDims, c.k) || llvm::is_contained(cDims, c.k))
    return std::nullopt;
  if (cDims.size() >= 2) {
    int64_t cand = cDims[cDims.size() - 2];
    if (llvm::is_contained(aDims, cand) && !llvm::is_contained(bDims, cand))
      c.m = cand;
  }
  for (int64_t i = 0; i < (int64_t)iters.size(); ++i)
    if (i != c.n && i != c.k && i != c.m) {
      if (!llvm::is_contained(cDims, i))
        return std::nullopt;
      c.outer.push_back(i);
    }
  if (!unitInnerStride(c.b->get()) || !unitInnerStride(c.c->get()))
    return std::nullopt;
  return c;
}

namespace {
struct Emitter {
  OpBuilder &b;
  Location loc;
  Contraction &c;
  VectorType vecType;
  int64_t vl;
  SmallVector<Value> iv; // current value of each loop dim

  Value cst(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  SmallVector<Value> indices(OpOperand *o) {
    SmallVector<Value> idx;
    for (AffineExpr e : c.op.getMatchingIndexingMap(o).getResults())
      idx.push_back(iv[cast<AffineDimExpr>(e).getPosition()]);
    return idx;
  }
  Value zeroVec() {
    return arith::ConstantOp::create(b, loc, vecType, b.getZeroAttr(vecType));
  }
  /// Masks for NV vectors starting at column n0 of a row of |n| columns.
  SmallVector<Value> masks(Value n0, Value n, int64_t nv) {
    SmallVector<Value> ms;
    auto maskType = VectorType::get({vl}, b.getI1Type());
    Value rem = arith::SubIOp::create(b, loc, n, n0);
    for (int64_t j = 0; j < nv; ++j) {
      Value r = arith::SubIOp::create(b, loc, rem, cst(j * vl));
      ms.push_back(vector::CreateMaskOp::create(b, loc, maskType, ValueRange{r}));
    }
    return ms;
  }
  Value load(OpOperand *o, Value mask) {
    return vector::MaskedLoadOp::create(b, loc, vecType, o->get(), indices(o), mask,
                                        zeroVec());
  }
  void store(OpOperand *o, Value mask, Value v) {
    vector::MaskedStoreOp::create(b, loc, o->get(), indices(o), mask, v);
  }
  Value scalarA() { return memref::LoadOp::create(b, loc, c.a->get(), indices(c.a)); }
};
} // namespace

/// The float GEMM's register tile (rows of C by vectors of columns), as
/// the pass's GEMM and the dequantizing one use it.
static constexpr int64_t kGemmPanelRows = 6, kGemmPanelVectors = 4;

/// GEMM tile: rows [m0, m0 + rows) x columns [n0, n0 + nv * vl) of C in
/// registers across the whole k loop. B comes from the |packed| panel, or
/// in place when null. With |fresh| (an i1, true in the first k block of a
/// C whose zero fill was dropped) the accumulators start at zero.
static void emitGemmTile(Emitter &e, Value m0, int64_t rows, Value n0, Value n,
                         int64_t nv, Value kLo, Value kHi, Value packed, Value fresh) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Contraction &c = e.c;
  SmallVector<Value> ms = e.masks(n0, n, nv);
  SmallVector<Value> accs;
  for (int64_t i = 0; i < rows; ++i) {
    if (c.m >= 0)
      e.iv[c.m] = arith::AddIOp::create(b, loc, m0, e.cst(i));
    for (int64_t j = 0; j < nv; ++j) {
      e.iv[c.n] = arith::AddIOp::create(b, loc, n0, e.cst(j * e.vl));
      Value acc = e.load(c.c, ms[j]);
      if (fresh)
        acc = arith::SelectOp::create(b, loc, fresh, e.zeroVec(), acc);
      accs.push_back(acc);
    }
  }
  auto loop = scf::ForOp::create(
      b, loc, kLo, kHi, e.cst(1), accs,
      [&](OpBuilder &nb, Location l, Value k, ValueRange iter) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        e.iv[c.k] = k;
        SmallVector<Value> bv;
        Value kk = arith::SubIOp::create(b, l, k, kLo);
        for (int64_t j = 0; j < nv; ++j) {
          if (!packed) {
            e.iv[c.n] = arith::AddIOp::create(b, l, n0, e.cst(j * e.vl));
            bv.push_back(e.load(c.b, ms[j]));
            continue;
          }
          bv.push_back(vector::LoadOp::create(b, l, e.vecType, packed,
                                              ValueRange{kk, e.cst(j * e.vl)}));
        }
        SmallVector<Value> next;
        for (int64_t i = 0; i < rows; ++i) {
          if (c.m >= 0)
            e.iv[c.m] = arith::AddIOp::create(b, l, m0, e.cst(i));
          Value av = vector::BroadcastOp::create(b, l, e.vecType, e.scalarA());
          for (int64_t j = 0; j < nv; ++j)
            next.push_back(vector::FMAOp::create(b, l, av, bv[j], iter[i * nv + j]));
        }
        scf::YieldOp::create(b, l, next);
      });
  for (int64_t i = 0; i < rows; ++i) {
    if (c.m >= 0)
      e.iv[c.m] = arith::AddIOp::create(b, loc, m0, e.cst(i));
    for (int64_t j = 0; j < nv; ++j) {
      e.iv[c.n] = arith::AddIOp::create(b, loc, n0, e.cst(j * e.vl));
      e.store(c.c, ms[j], loop.getResult(i * nv + j));
    }
  }
}

/// The rows [mMain, m) left after the whole tiles (fewer than
/// kGemmPanelRows; known at run time) as one tile of their height.
static void emitLeftoverTile(Emitter &e, Value mMain, Value m, Value n0, Value n, Value kLo,
                             Value kHi, Value packed, Value fresh) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value left = arith::SubIOp::create(b, loc, m, mMain);
  SmallVector<int64_t> heights;
  for (int64_t rows = 1; rows < kGemmPanelRows; ++rows)
    heights.push_back(rows);
  auto sw = scf::IndexSwitchOp::create(b, loc, TypeRange{}, left, heights, heights.size());
  {
    OpBuilder db = OpBuilder::atBlockEnd(&sw.getDefaultRegion().emplaceBlock());
    scf::YieldOp::create(db, loc);
  }
  for (int64_t rows : heights) {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToEnd(&sw.getCaseRegions()[rows - 1].emplaceBlock());
    emitGemmTile(e, mMain, rows, n0, n, kGemmPanelVectors, kLo, kHi, packed, fresh);
    scf::YieldOp::create(b, loc);
  }
}

/// Copies B[k0:k1, n0:n0 + nv * vl] (masked columns read as zero) into the
/// contiguous panel |packed| [depth, nv * vl]: the GEMM tiles then read B
/// as one sequential stream instead of short pieces of far-apart rows.
static void packPanel(Emitter &e, Value packed, Value k0, Value k1, Value n0, Value n,
                      int64_t nv) {
  OpBuilder &b = e.b;
  Contraction &c = e.c;
  SmallVector<Value> ms = e.masks(n0, n, nv);
  scf::ForOp::create(b, e.loc, k0, k1, e.cst(1), ValueRange{},
                     [&](OpBuilder &nb, Location l, Value k, ValueRange) {
                       OpBuilder::InsertionGuard g(b);
                       b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
                       e.iv[c.k] = k;
                       Value kk = arith::SubIOp::create(b, l, k, k0);
                       for (int64_t j = 0; j < nv; ++j) {
                         e.iv[c.n] = arith::AddIOp::create(b, l, n0, e.cst(j * e.vl));
                         vector::StoreOp::create(b, l, e.load(c.b, ms[j]), packed,
                                                 ValueRange{kk, e.cst(j * e.vl)});
                       }
                       scf::YieldOp::create(b, l);
                     });
}

/// GEMV step: |kr| rows of B from k0 applied to one row of C, streaming
/// across the columns nv vectors at a time.
static void emitGemvRows(Emitter &e, Value k0, int64_t kr, Value n, int64_t nv) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Contraction &c = e.c;
  SmallVector<Value> av;
  for (int64_t i = 0; i < kr; ++i) {
    e.iv[c.k] = arith::AddIOp::create(b, loc, k0, e.cst(i));
    av.push_back(vector::BroadcastOp::create(b, loc, e.vecType, e.scalarA()));
  }
  scf::ForOp::create(
      b, loc, e.cst(0), n, e.cst(nv * e.vl), ValueRange{},
      [&](OpBuilder &nb, Location l, Value n0, ValueRange) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        SmallVector<Value> ms = e.masks(n0, n, nv);
        SmallVector<Value> cols, accs;
        for (int64_t j = 0; j < nv; ++j) {
          cols.push_back(arith::AddIOp::create(b, l, n0, e.cst(j * e.vl)));
          e.iv[c.n] = cols.back();
          accs.push_back(e.load(c.c, ms[j]));
        }
        for (int64_t i = 0; i < kr; ++i) {
          e.iv[c.k] = arith::AddIOp::create(b, l, k0, e.cst(i));
          for (int64_t j = 0; j < nv; ++j) {
            e.iv[c.n] = cols[j];
            accs[j] = vector::FMAOp::create(b, l, av[i], e.load(c.b, ms[j]), accs[j]);
          }
        }
        for (int64_t j = 0; j < nv; ++j) {
          e.iv[c.n] = cols[j];
          e.store(c.c, ms[j], accs[j]);
        }
        scf::YieldOp::create(b, l);
      });
}

/// Streaming step for a few rows known at run time: |kr| rows of B from k0
/// applied to all |m| rows of C, one column chunk at a time, so the chunk
/// of B (kr x nv vectors) stays in L1 while every row of C uses it.
static void emitStreamRows(Emitter &e, Value k0, int64_t kr, Value m, Value n, int64_t nv) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Contraction &c = e.c;
  scf::ForOp::create(
      b, loc, e.cst(0), n, e.cst(nv * e.vl), ValueRange{},
      [&](OpBuilder &nb, Location l, Value n0, ValueRange) {
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        SmallVector<Value> ms = e.masks(n0, n, nv);
        SmallVector<Value> cols;
        for (int64_t j = 0; j < nv; ++j)
          cols.push_back(arith::AddIOp::create(b, l, n0, e.cst(j * e.vl)));
        scf::ForOp::create(
            b, l, e.cst(0), m, e.cst(1), ValueRange{},
            [&](OpBuilder &rb, Location rl, Value row, ValueRange) {
              OpBuilder::InsertionGuard g2(b);
              b.setInsertionPoint(rb.getInsertionBlock(), rb.getInsertionPoint());
              if (c.m >= 0)
                e.iv[c.m] = row;
              SmallVector<Value> accs;
              for (int64_t j = 0; j < nv; ++j) {
                e.iv[c.n] = cols[j];
                accs.push_back(e.load(c.c, ms[j]));
              }
              for (int64_t i = 0; i < kr; ++i) {
                e.iv[c.k] = arith::AddIOp::create(b, rl, k0, e.cst(i));
                Value av = vector::BroadcastOp::create(b, rl, e.vecType, e.scalarA());
                for (int64_t j = 0; j < nv; ++j) {
                  e.iv[c.n] = cols[j];
                  accs[j] = vector::FMAOp::create(b, rl, av, e.load(c.b, ms[j]), accs[j]);
                }
              }
              for (int64_t j = 0; j < nv; ++j) {
                e.iv[c.n] = cols[j];
                e.store(c.c, ms[j], accs[j]);
              }
              scf::YieldOp::create(b, rl);
            });
        scf::YieldOp::create(b, l);
      });
}

/// The zero fill of |buf| that |op| directly follows (only side-effect-free
/// ops between), or null.
static linalg::FillOp precedingZeroFill(Operation *op, Value buf) {
  for (Operation *p = op->getPrevNode(); p; p = p->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(p))
      return fill.getOutputs().front() == buf &&
                     matchPattern(fill.getInputs().front(), m_AnyZeroFloat())
                 ? fill
                 : linalg::FillOp();
    if (!isMemoryEffectFree(p))
      return {};
  }
  return {};
}

//===----------------------------------------------------------------------===//
// Gathered rows (activation sparsity: only the listed rows of a weight)
//===----------------------------------------------------------------------===//

namespace {
/// A generic tagged `sparsa.kernel = "gather_dot"` (out[j] += x[h] *
/// w[idx[j], h], loops (j, h)) or `"gather_axpy"` (out[c] += a[j] *
/// w[idx[j], off + c], loops (j, c)), whose body reads w with a memref.load.
struct Gathered {
  linalg::GenericOp op;
  bool dot;
  Value vec;    // x (dot) or a (axpy), 1-D
  Value idx;    // row indices, 1-D index
  Value w;      // the gathered matrix
  Value offset; // column offset into w (axpy), or null
};
} // namespace

static std::optional<Gathered> matchGathered(linalg::GenericOp op) {
  auto kind = op->getAttrOfType<StringAttr>(sp::kKernelAttrName);
  if (!kind || !op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 2)
    return std::nullopt;
  Gathered g{op, kind.getValue() == "gather_dot", {}, {}, {}, {}};
  if (!g.dot && kind.getValue() != "gather_axpy")
    return std::nullopt;
  Block &body = op.getRegion().front();
  memref::LoadOp load;
  for (Operation &o : body.without_terminator())
    if (auto l = dyn_cast<memref::LoadOp>(o)) {
      if (load)
        return std::nullopt;
      load = l;
    }
  if (!load || load.getIndices().size() != 2 ||
      load.getMemRef().getParentRegion() == &op.getRegion() ||
      !load.getMemRefType().getElementType().isF32())
    return std::nullopt;
  auto rowArg = dyn_cast<BlockArgument>(load.getIndices()[0]);
  if (!rowArg || rowArg.getOwner() != &body || rowArg.getArgNumber() > 1)
    return std::nullopt;
  Value col = load.getIndices()[1];
  if (auto add = col.getDefiningOp<arith::AddIOp>()) {
    Value other = add.getLhs().getDefiningOp<linalg::IndexOp>() ? add.getRhs() : add.getLhs();
    if (other.getParentRegion() == &op.getRegion())
      return std::nullopt;
    g.offset = other;
    col = other == add.getRhs() ? add.getLhs() : add.getRhs();
  }
  auto index = col.getDefiningOp<linalg::IndexOp>();
  if (!index || index.getDim() != 1)
    return std::nullopt;
  g.idx = op.getDpsInputOperand(rowArg.getArgNumber())->get();
  g.vec = op.getDpsInputOperand(1 - rowArg.getArgNumber())->get();
  g.w = load.getMemRef();
  if (!unitInnerStride(g.w) || !unitInnerStride(op.getDpsInitOperand(0)->get()) ||
      !unitInnerStride(g.vec))
    return std::nullopt;
  return g;
}

/// Rewrites a gathered-row generic into vector loops over kGatherRows
/// listed rows at once: as many independent streams from memory as a
/// dense GEMV, and for axpys the output read and written once per group.
static void rewriteGathered(const Gathered &g, int64_t vectorBits) {
  linalg::GenericOp op = g.op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type();
  int64_t vl = vectorBits / 32;
  auto vecType = VectorType::get({vl}, f32);
  auto maskType = VectorType::get({vl}, b.getI1Type());
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  Value out = op.getDpsInitOperand(0)->get();
  Value rowsN = memref::DimOp::create(b, loc, g.idx, 0);
  Value len = memref::DimOp::create(b, loc, g.dot ? g.vec : out, 0);
  Value zero = arith::ConstantOp::create(b, loc, vecType, b.getZeroAttr(vecType));
  constexpr int64_t kGatherRows = 8;
  auto group = [&](OpBuilder &gb, Value j0, int64_t rows) {
    SmallVector<Value> ri, av;
    for (int64_t u = 0; u < rows; ++u) {
      Value j = arith::AddIOp::create(gb, loc, j0, cst(gb, u));
      ri.push_back(memref::LoadOp::create(gb, loc, g.idx, ValueRange{j}));
      if (!g.dot)
        av.push_back(vector::BroadcastOp::create(
            gb, loc, vecType, memref::LoadOp::create(gb, loc, g.vec, ValueRange{j})));
    }
    auto wLoad = [&](OpBuilder &lb, int64_t u, Value c, Value mask) -> Value {
      Value col = g.offset ? arith::AddIOp::create(lb, loc, c, g.offset).getResult() : c;
      return vector::MaskedLoadOp::create(lb, loc, vecType, g.w, ValueRange{ri[u], col}, mask,
                                          zero);
    };
    if (g.dot) {
      auto loop = scf::ForOp::create(
          gb, loc, cst(gb, 0), len, cst(gb, vl), SmallVector<Value>(rows, zero),
          [&](OpBuilder &lb, Location l, Value h, ValueRange acc) {
            Value mask = vector::CreateMaskOp::create(
                lb, l, maskType, ValueRange{arith::SubIOp::create(lb, l, len, h)});
            Value x = vector::MaskedLoadOp::create(lb, l, vecType, g.vec, ValueRange{h}, mask,
                                                   zero);
            SmallVector<Value> next;
            for (int64_t u = 0; u < rows; ++u)
              next.push_back(vector::FMAOp::create(lb, l, x, wLoad(lb, u, h, mask), acc[u]));
            scf::YieldOp::create(lb, l, next);
          });
      auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
      for (int64_t u = 0; u < rows; ++u) {
        Value j = arith::AddIOp::create(gb, loc, j0, cst(gb, u));
        Value old = memref::LoadOp::create(gb, loc, out, ValueRange{j});
        Value sum = vector::ReductionOp::create(gb, loc, vector::CombiningKind::ADD,
                                                loop.getResult(u), old, fm);
        memref::StoreOp::create(gb, loc, sum, out, ValueRange{j});
      }
      return;
    }
    scf::ForOp::create(
        gb, loc, cst(gb, 0), len, cst(gb, 2 * vl), ValueRange{},
        [&](OpBuilder &lb, Location l, Value c, ValueRange) {
          SmallVector<Value> cols, masks, acc;
          for (int64_t v = 0; v < 2; ++v) {
            cols.push_back(arith::AddIOp::create(lb, l, c, cst(lb, v * vl)));
            masks.push_back(vector::CreateMaskOp::create(
                lb, l, maskType, ValueRange{arith::SubIOp::create(lb, l, len, cols[v])}));
            acc.push_back(vector::MaskedLoadOp::create(lb, l, vecType, out, ValueRange{cols[v]},
                                                       masks[v], zero));
          }
          for (int64_t u = 0; u < rows; ++u)
            for (int64_t v = 0; v < 2; ++v)
              acc[v] = vector::FMAOp::create(lb, l, av[u], wLoad(lb, u, cols[v], masks[v]),
                                             acc[v]);
          for (int64_t v = 0; v < 2; ++v)
            vector::MaskedStoreOp::create(lb, l, out, ValueRange{cols[v]}, masks[v], acc[v]);
          scf::YieldOp::create(lb, l);
        });
  };
  forGroups(b, loc, rowsN, kGatherRows, group);
  op.erase();
}

//===----------------------------------------------------------------------===//
// Gathered rows of packed codes (quantized sparse FFN: active neurons only)
//===----------------------------------------------------------------------===//

namespace {
/// A generic tagged `sparsa.kernel = "q_gather_axpy"` by the sparse FFN
/// lowering: out[c] += a[j] * (code(w[idx[j]], off + c) - z[idx[j] / bs,
/// off + c]) * s[idx[j] / bs, off + c], loops (j, c); `sparsa.bits` codes
/// packed along each row, `sparsa.block_rows` = bs. Its body reads the
/// codes, scales and (optional) zero points with memref.loads.
struct QGathered {
  linalg::GenericOp op;
  Value a, idx, codes, scales, zp, offset;
  int64_t bits, bs;
};
} // namespace

static std::optional<QGathered> matchQGathered(linalg::GenericOp op) {
  auto kind = op->getAttrOfType<StringAttr>(sp::kKernelAttrName);
  auto bits = op->getAttrOfType<IntegerAttr>("sparsa.bits");
  auto bs = op->getAttrOfType<IntegerAttr>("sparsa.block_rows");
  if (!kind || kind.getValue() != "q_gather_axpy" || !bits || !bs ||
      !op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 2)
    return std::nullopt;
  QGathered g{op, op.getDpsInputOperand(0)->get(), op.getDpsInputOperand(1)->get(), {}, {}, {},
              {}, bits.getInt(), bs.getInt()};
  Block &body = op.getRegion().front();
  BlockArgument rowArg = body.getArgument(1);
  for (Operation &o : body.without_terminator()) {
    auto l = dyn_cast<memref::LoadOp>(o);
    if (!l)
      continue;
    if (l.getIndices().size() != 2 || l.getMemRef().getParentRegion() == &op.getRegion())
      return std::nullopt;
    Type et = l.getMemRefType().getElementType();
    if (et.isInteger(8) && l.getIndices()[0] == rowArg) {
      g.codes = l.getMemRef();
    } else if (et.isInteger(8)) {
      g.zp = l.getMemRef();
    } else if (et.isF32()) {
      g.scales = l.getMemRef();
      if (auto add = l.getIndices()[1].getDefiningOp<arith::AddIOp>()) {
        Value other = add.getLhs().getDefiningOp<linalg::IndexOp>() ? add.getRhs() : add.getLhs();
        if (other.getParentRegion() == &op.getRegion())
          return std::nullopt;
        g.offset = other;
      }
    } else {
      return std::nullopt;
    }
  }
  if (!g.codes || !g.scales || !unitInnerStride(g.codes) || !unitInnerStride(g.scales) ||
      (g.zp && !unitInnerStride(g.zp)) || !unitInnerStride(op.getDpsInitOperand(0)->get()))
    return std::nullopt;
  return g;
}

/// Segments of listed rows (at most this many) sharing a block of neurons,
/// and how many rows ahead the codes are prefetched.
static constexpr int64_t kSegmentRows = 16, kPrefetchRowsAhead = 16;

/// The 4-bit gathered axpy by segments: each run of consecutive listed rows
/// in one block of neurons (a sorted active list of a block of bs neurons
/// is one run) shares the block's scales and zero points, s (sum a q - z
/// sum a), whatever the density; per 32 columns, each row's 16 code bytes
/// widen to 16 lanes once and their low nibbles (even columns) and high
/// nibbles (odd columns) become floats by vpermps lookups; the output,
/// scales and zero points are split into even and odd columns once per
/// segment and step. The codes kPrefetchRowsAhead listed rows ahead, and
/// the next segment's scales and zero points, are prefetched at the same
/// columns: a row's run of bytes (2 KB at 4096 int4 columns) is short for
/// the hardware prefetchers, and a segment's scales start a new run each.
static void emitSegments4(const QGathered &g) {
  linalg::GenericOp op = g.op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type(), i1 = b.getI1Type();
  Type index = b.getIndexType();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  Value out = op.getDpsInitOperand(0)->get();
  Value rowsN = memref::DimOp::create(b, loc, g.idx, 0);
  Value len = memref::DimOp::create(b, loc, out, 0);
  Value zf = arith::ConstantOp::create(b, loc, vec(16, f32), b.getZeroAttr(vec(16, f32)));
  Value zb16 = arith::ConstantOp::create(b, loc, vec(16, i8), b.getZeroAttr(vec(16, i8)));
  Value zConst;
  if (!g.zp)
    zConst = arith::ConstantOp::create(
        b, loc, vec(16, f32), DenseElementsAttr::get(vec(16, f32), b.getF32FloatAttr(8.0f)));
  SmallVector<int64_t> evens, odds, lowHalf, highHalf;
  for (int64_t l = 0; l < 16; ++l) {
    evens.push_back(2 * l);
    odds.push_back(2 * l + 1);
    lowHalf.push_back(l % 2 ? 16 + l / 2 : l / 2);
    highHalf.push_back(l % 2 ? 24 + l / 2 : 8 + l / 2);
  }
  auto blockOf = [&](OpBuilder &ob, Value j) -> Value {
    return arith::DivUIOp::create(ob, loc, memref::LoadOp::create(ob, loc, g.idx, ValueRange{j}),
                                  cst(ob, g.bs));
  };
  Value zero = cst(b, 0);
  scf::WhileOp::create(
      b, loc, TypeRange{index}, ValueRange{zero},
      [&](OpBuilder &wb, Location l, ValueRange args) {
        Value more = arith::CmpIOp::create(wb, l, arith::CmpIPredicate::ult, args[0], rowsN);
        scf::ConditionOp::create(wb, l, more, args);
      },
      [&](OpBuilder &sb, Location l, ValueRange args) {
        Value j0 = args[0];
        Value blk = blockOf(sb, j0);
        Value last = arith::SubIOp::create(sb, l, rowsN, cst(sb, 1));
        Value limit = arith::MinUIOp::create(
            sb, l, rowsN, arith::AddIOp::create(sb, l, j0, cst(sb, kSegmentRows)));
        // The segment's end: the first row past |limit| or in another block
        // (the index read clamped: never past the list).
        auto scan = scf::WhileOp::create(
            sb, l, TypeRange{index},
            ValueRange{arith::AddIOp::create(sb, l, j0, cst(sb, 1)).getResult()},
            [&](OpBuilder &wb, Location wl, ValueRange a) {
              Value in = arith::CmpIOp::create(wb, wl, arith::CmpIPredicate::ult, a[0], limit);
              Value same = arith::CmpIOp::create(
                  wb, wl, arith::CmpIPredicate::eq,
                  blockOf(wb, arith::MinUIOp::create(wb, wl, a[0], last)), blk);
              scf::ConditionOp::create(wb, wl, arith::AndIOp::create(wb, wl, in, same), a);
            },
            [&](OpBuilder &wb, Location wl, ValueRange a) {
              scf::YieldOp::create(wb, wl,
                                   ValueRange{arith::AddIOp::create(wb, wl, a[0], cst(wb, 1))
                                                  .getResult()});
            });
        Value j1 = scan.getResult(0);
        // The next segment's block: its scales and zero points are
        // prefetched at this segment's columns.
        Value nextBlk = blockOf(sb, arith::MinUIOp::create(sb, l, j1, last));
        Value zeroF = arith::ConstantOp::create(sb, l, f32, sb.getZeroAttr(f32));
        auto sum = scf::ForOp::create(
            sb, l, j0, j1, cst(sb, 1), ValueRange{zeroF},
            [&](OpBuilder &fb, Location fl, Value j, ValueRange acc) {
              Value a = memref::LoadOp::create(fb, fl, g.a, ValueRange{j});
              scf::YieldOp::create(fb, fl,
                                   ValueRange{arith::AddFOp::create(fb, fl, acc[0], a, fm)
                                                  .getResult()});
            });
        Value sumAv = vector::BroadcastOp::create(sb, l, vec(16, f32), sum.getResult(0));
        Value count = arith::SubIOp::create(sb, l, j1, j0);
        Value pairsEnd = arith::AddIOp::create(
            sb, l, j0, arith::MulIOp::create(sb, l, arith::DivUIOp::create(sb, l, count, cst(sb, 2)),
                                             cst(sb, 2)));
        Value odd = arith::CmpIOp::create(sb, l, arith::CmpIPredicate::ne, pairsEnd, j1);
        scf::ForOp::create(
            sb, l, cst(sb, 0), len, cst(sb, 32), ValueRange{},
            [&](OpBuilder &lb, Location l, Value c, ValueRange) {
              Value rem = arith::SubIOp::create(lb, l, len, c);
              Value c16 = arith::AddIOp::create(lb, l, c, cst(lb, 16));
              Value rem16 = arith::SubIOp::create(
                  lb, l, rem, arith::MinUIOp::create(lb, l, rem, cst(lb, 16)));
              Value m0 = vector::CreateMaskOp::create(lb, l, vec(16, i1), ValueRange{rem});
              Value m1 = vector::CreateMaskOp::create(lb, l, vec(16, i1), ValueRange{rem16});
              Value byteMask = vector::CreateMaskOp::create(
                  lb, l, vec(16, i1),
                  ValueRange{arith::CeilDivUIOp::create(lb, l, rem, cst(lb, 2))});
              Value col = g.offset ? arith::AddIOp::create(lb, l, c, g.offset).getResult() : c;
              Value col16 = arith::AddIOp::create(lb, l, col, cst(lb, 16));
              Value byte0 = arith::DivUIOp::create(lb, l, col, cst(lb, 2));
              auto prefetch = [&](Value mem, Value at) {
                memref::PrefetchOp::create(lb, l, mem, ValueRange{nextBlk, at}, /*isWrite=*/false,
                                           /*localityHint=*/3, /*isDataCache=*/true);
              };
              prefetch(g.scales, col);
              prefetch(g.scales, col16);
              if (g.zp)
                prefetch(g.zp, col);
              // One row's codes into the even / odd sums.
              auto row = [&](OpBuilder &rb, Value j, Value tE, Value tO) -> std::pair<Value, Value> {
                Value ahead = arith::MinUIOp::create(
                    rb, l, arith::AddIOp::create(rb, l, j, cst(rb, kPrefetchRowsAhead)), last);
                memref::PrefetchOp::create(
                    rb, l, g.codes,
                    ValueRange{memref::LoadOp::create(rb, l, g.idx, ValueRange{ahead}), byte0},
                    /*isWrite=*/false, /*localityHint=*/2, /*isDataCache=*/true);
                Value r = memref::LoadOp::create(rb, l, g.idx, ValueRange{j});
                Value av = vector::BroadcastOp::create(
                    rb, l, vec(16, f32), memref::LoadOp::create(rb, l, g.a, ValueRange{j}));
                Value bytes = vector::MaskedLoadOp::create(rb, l, vec(16, i8), g.codes,
                                                           ValueRange{r, byte0}, byteMask, zb16);
                auto [lo, hi] = nibbleFloats(rb, l, arith::ExtUIOp::create(rb, l, vec(16, i32), bytes));
                return {vector::FMAOp::create(rb, l, av, lo, tE).getResult(),
                        vector::FMAOp::create(rb, l, av, hi, tO).getResult()};
              };
              // Pairs of rows into two sets of sums (independent chains),
              // then the odd row.
              auto pairs = scf::ForOp::create(
                  lb, l, j0, pairsEnd, cst(lb, 2), ValueRange{zf, zf, zf, zf},
                  [&](OpBuilder &rb, Location, Value j, ValueRange t) {
                    auto [e0, o0] = row(rb, j, t[0], t[1]);
                    auto [e1, o1] = row(rb, arith::AddIOp::create(rb, l, j, cst(rb, 1)), t[2], t[3]);
                    scf::YieldOp::create(rb, l, ValueRange{e0, o0, e1, o1});
                  });
              auto tail = scf::IfOp::create(
                  lb, l, odd,
                  [&](OpBuilder &rb, Location) {
                    auto [e, o] = row(rb, pairsEnd, pairs.getResult(0), pairs.getResult(1));
                    scf::YieldOp::create(rb, l, ValueRange{e, o});
                  },
                  [&](OpBuilder &rb, Location) {
                    scf::YieldOp::create(rb, l,
                                         ValueRange{pairs.getResult(0), pairs.getResult(1)});
                  });
              // Two 16-column halves of |mem|[lead..., col] split into their
              // even and odd columns.
              auto split = [&](Value lo, Value hi) -> std::pair<Value, Value> {
                return {vector::ShuffleOp::create(lb, l, lo, hi, evens),
                        vector::ShuffleOp::create(lb, l, lo, hi, odds)};
              };
              auto [accE, accO] = split(
                  vector::MaskedLoadOp::create(lb, l, vec(16, f32), out, ValueRange{c}, m0, zf),
                  vector::MaskedLoadOp::create(lb, l, vec(16, f32), out, ValueRange{c16}, m1, zf));
              auto [sE, sO] = split(
                  vector::MaskedLoadOp::create(lb, l, vec(16, f32), g.scales,
                                               ValueRange{blk, col}, m0, zf),
                  vector::MaskedLoadOp::create(lb, l, vec(16, f32), g.scales,
                                               ValueRange{blk, col16}, m1, zf));
              Value zE = zConst, zO = zConst;
              if (g.zp) {
                auto zpHalf = [&](Value at, Value m) -> Value {
                  return arith::UIToFPOp::create(
                      lb, l, vec(16, f32),
                      arith::ExtUIOp::create(
                          lb, l, vec(16, i32),
                          vector::MaskedLoadOp::create(lb, l, vec(16, i8), g.zp,
                                                       ValueRange{blk, at}, m, zb16)));
                };
                std::tie(zE, zO) = split(zpHalf(col, m0), zpHalf(col16, m1));
              }
              // s (sum a q - z sum a), per half.
              auto finish = [&](Value t0, Value t1, Value z, Value sc, Value acc) -> Value {
                Value t = arith::AddFOp::create(lb, l, t0, t1, fm);
                t = arith::SubFOp::create(lb, l, t, arith::MulFOp::create(lb, l, z, sumAv, fm),
                                          fm);
                return vector::FMAOp::create(lb, l, sc, t, acc);
              };
              Value e = finish(tail.getResult(0), pairs.getResult(2), zE, sE, accE);
              Value o = finish(tail.getResult(1), pairs.getResult(3), zO, sO, accO);
              vector::MaskedStoreOp::create(lb, l, out, ValueRange{c}, m0,
                                            vector::ShuffleOp::create(lb, l, e, o, lowHalf));
              vector::MaskedStoreOp::create(lb, l, out, ValueRange{c16}, m1,
                                            vector::ShuffleOp::create(lb, l, e, o, highHalf));
              scf::YieldOp::create(lb, l);
            });
        scf::YieldOp::create(sb, l, ValueRange{j1});
      });
}

/// Rewrites a packed gathered axpy into vector loops: per group of up to 8
/// listed rows and 16 columns, each row's codes are widened to 16 lanes
/// (bytes duplicated, shifted to their field; 2- and 4-bit fields become
/// floats by one lookup, vpermps reading an index's low 4 bits); the
/// output is read and written once per group. When the group's rows all
/// lie in one block of neurons (sorted active lists: nearly always) they
/// share its scales and zero points: sum a (q - z) s = s (sum a q - z sum
/// a), one multiply-add per row; otherwise each row is dequantized with its
/// own block's. 4-bit rows go by segments of one block instead
/// (emitSegments4). The columns' offset must keep byte boundaries (the
/// lowering's is 0: each task covers all columns of its listed rows).
static void rewriteQGathered(const QGathered &g) {
  linalg::GenericOp op = g.op;
  if (g.bits == 4) {
    emitSegments4(g);
    op.erase();
    return;
  }
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type(), i1 = b.getI1Type();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  int64_t bits = g.bits, per = 8 / bits, nBytes = 16 * bits / 8;
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  Value out = op.getDpsInitOperand(0)->get();
  Value rowsN = memref::DimOp::create(b, loc, g.idx, 0);
  Value len = memref::DimOp::create(b, loc, out, 0);
  Value zf = arith::ConstantOp::create(b, loc, vec(16, f32), b.getZeroAttr(vec(16, f32)));
  Value zb = arith::ConstantOp::create(b, loc, vec(nBytes, i8), b.getZeroAttr(vec(nBytes, i8)));
  Value zb16 = arith::ConstantOp::create(b, loc, vec(16, i8), b.getZeroAttr(vec(16, i8)));
  SmallVector<int64_t> dup;
  SmallVector<int32_t> shifts;
  SmallVector<float> table;
  for (int64_t l = 0; l < 16; ++l) {
    dup.push_back(l / per);
    shifts.push_back(int32_t((l % per) * bits));
    table.push_back(float(l & ((1 << bits) - 1)));
  }
  Value shiftV = arith::ConstantOp::create(
      b, loc, vec(16, i32), DenseElementsAttr::get(vec(16, i32), ArrayRef<int32_t>(shifts)));
  Value tableV = arith::ConstantOp::create(
      b, loc, vec(16, f32), DenseElementsAttr::get(vec(16, f32), ArrayRef<float>(table)));
  StringAttr permvar = b.getStringAttr("llvm.x86.avx512.permvar.sf.512");
  Value zConst;
  if (!g.zp)
    zConst = arith::ConstantOp::create(
        b, loc, vec(16, f32),
        DenseElementsAttr::get(vec(16, f32), b.getF32FloatAttr(float(1 << (bits - 1)))));
  constexpr int64_t kRows = 8;
  auto group = [&](OpBuilder &gb, Value j0, int64_t rows) {
    SmallVector<Value> ri, blk, av;
    Value sumA, same;
    for (int64_t u = 0; u < rows; ++u) {
      Value j = arith::AddIOp::create(gb, loc, j0, cst(gb, u));
      ri.push_back(memref::LoadOp::create(gb, loc, g.idx, ValueRange{j}));
      blk.push_back(arith::DivUIOp::create(gb, loc, ri.back(), cst(gb, g.bs)));
      Value a = memref::LoadOp::create(gb, loc, g.a, ValueRange{j});
      av.push_back(vector::BroadcastOp::create(gb, loc, vec(16, f32), a));
      sumA = u ? arith::AddFOp::create(gb, loc, sumA, a, fm).getResult() : a;
      if (u) {
        Value eq = arith::CmpIOp::create(gb, loc, arith::CmpIPredicate::eq, blk[u], blk[0]);
        same = u > 1 ? arith::AndIOp::create(gb, loc, same, eq).getResult() : eq;
      }
    }
    Value sumAv = vector::BroadcastOp::create(gb, loc, vec(16, f32), sumA);
    // The columns: |shared| rows of one block of neurons.
    auto columns = [&](OpBuilder &cb, bool shared) {
      scf::ForOp::create(
          cb, loc, cst(cb, 0), len, cst(cb, 16), ValueRange{},
          [&](OpBuilder &lb, Location l, Value c, ValueRange) {
            Value rem = arith::SubIOp::create(lb, l, len, c);
            Value mask = vector::CreateMaskOp::create(lb, l, vec(16, i1), ValueRange{rem});
            Value byteMask = vector::CreateMaskOp::create(
                lb, l, vec(nBytes, i1),
                ValueRange{arith::CeilDivUIOp::create(lb, l, rem, cst(lb, per))});
            Value col = g.offset ? arith::AddIOp::create(lb, l, c, g.offset).getResult() : c;
            Value byte0 = arith::DivUIOp::create(lb, l, col, cst(lb, per));
            Value acc = vector::MaskedLoadOp::create(lb, l, vec(16, f32), out, ValueRange{c},
                                                     mask, zf);
            // Block |bk|'s zero points and scales of these columns.
            auto zeroPoints = [&](Value bk) -> Value {
              if (!g.zp)
                return zConst;
              return arith::UIToFPOp::create(
                  lb, l, vec(16, f32),
                  arith::ExtUIOp::create(
                      lb, l, vec(16, i32),
                      vector::MaskedLoadOp::create(lb, l, vec(16, i8), g.zp,
                                                   ValueRange{bk, col}, mask, zb16)));
            };
            auto scales = [&](Value bk) -> Value {
              return vector::MaskedLoadOp::create(lb, l, vec(16, f32), g.scales,
                                                  ValueRange{bk, col}, mask, zf);
            };
            // Two partial sums (shared rows) keep the multiply-adds of
            // consecutive rows independent.
            Value part[2] = {zf, zf};
            for (int64_t u = 0; u < rows; ++u) {
              Value bytes = vector::MaskedLoadOp::create(lb, l, vec(nBytes, i8), g.codes,
                                                         ValueRange{ri[u], byte0}, byteMask, zb);
              Value qf;
              if (per == 1) {
                qf = arith::UIToFPOp::create(lb, l, vec(16, f32),
                                             arith::ExtUIOp::create(lb, l, vec(16, i32), bytes));
              } else {
                Value wide = vector::ShuffleOp::create(lb, l, bytes, bytes, dup);
                Value q = arith::ShRUIOp::create(
                    lb, l, arith::ExtUIOp::create(lb, l, vec(16, i32), wide), shiftV);
                qf = LLVM::CallIntrinsicOp::create(lb, l, vec(16, f32), permvar,
                                                   ValueRange{tableV, q})
                         .getResult(0);
              }
              if (shared) {
                part[u % 2] = vector::FMAOp::create(lb, l, av[u], qf, part[u % 2]);
                continue;
              }
              Value w = arith::MulFOp::create(
                  lb, l, arith::SubFOp::create(lb, l, qf, zeroPoints(blk[u])), scales(blk[u]));
              acc = vector::FMAOp::create(lb, l, av[u], w, acc);
            }
            if (shared) {
              // s (sum a q - z sum a)
              Value t = arith::AddFOp::create(lb, l, part[0], part[1], fm);
              t = arith::SubFOp::create(
                  lb, l, t, arith::MulFOp::create(lb, l, zeroPoints(blk[0]), sumAv, fm), fm);
              acc = vector::FMAOp::create(lb, l, scales(blk[0]), t, acc);
            }
            vector::MaskedStoreOp::create(lb, l, out, ValueRange{c}, mask, acc);
            scf::YieldOp::create(lb, l);
          });
    };
    if (rows == 1) {
      columns(gb, /*shared=*/false);
      return;
    }
    scf::IfOp::create(
        gb, loc, same,
        [&](OpBuilder &tb, Location l) {
          columns(tb, /*shared=*/true);
          scf::YieldOp::create(tb, l);
        },
        [&](OpBuilder &eb, Location l) {
          columns(eb, /*shared=*/false);
          scf::YieldOp::create(eb, l);
        });
  };
  forGroups(b, loc, rowsN, kRows, group);
  op.erase();
}

//===----------------------------------------------------------------------===//
// Packed 4-bit GEMV (MatMulNBits decoding)
//===----------------------------------------------------------------------===//

/// The generic tagged `sparsa.kernel = "q4_gemv"` by the MatMulNBits
/// lowering: ins (aEven [M, Kh], aOdd [M, Kh], packed bytes [N, Kh] i8,
/// scales [N, blocks], zero points [N, blocks] unless one constant
/// `sparsa.zero_point` serves all), out [M, N], loops
/// (m, n, kk) over the Kh bytes of a row, `sparsa.block_bytes` bytes per
/// block (a multiple of 16).
///
/// `q8_gemv` is its 8-bit twin: one A operand [M, Kp] (a byte per column),
/// bytes [N, Kp] read as unsigned codes.
static bool isQ8(linalg::GenericOp op) {
  auto kind = op->getAttrOfType<StringAttr>(sp::kKernelAttrName);
  return kind && kind.getValue() == "q8_gemv";
}

/// For a generic tagged |q4| or |q8| by the quantized matmul lowering, on
/// buffers, with one output and `sparsa.block_bytes` a multiple of 16:
/// whether it is the 8-bit one, and whether its zero points are an input
/// (else one constant `sparsa.zero_point` stands for all); nullopt for any
/// other op.
struct PackedKernel {
  bool q8;
  bool zInput;
};
static std::optional<PackedKernel> packedKernel(linalg::GenericOp op, StringRef q4,
                                                StringRef q8) {
  auto kind = op->getAttrOfType<StringAttr>(sp::kKernelAttrName);
  auto bb = op->getAttrOfType<IntegerAttr>(sp::kBlockBytesAttrName);
  if (!kind || (kind.getValue() != q4 && kind.getValue() != q8) || !bb ||
      bb.getInt() % 16 != 0 || !op.hasPureBufferSemantics() || op.getNumDpsInits() != 1)
    return std::nullopt;
  return PackedKernel{kind.getValue() == q8, !op->hasAttr(sp::kZeroPointAttrName)};
}

static bool isQ4Gemv(linalg::GenericOp op) {
  auto k = packedKernel(op, "q4_gemv", "q8_gemv");
  return k && op.getNumDpsInputs() == (k->zInput ? 5 : 4) - (k->q8 ? 1 : 0) &&
         allUnitInnerStride(op);
}


/// The 16 nibbles of 8 bytes of |mem| at |idx| (the first |count| bytes
/// read, the rest zero), low nibble first, as i32 lanes: packed 4-bit codes
/// in their element order.
static Value nibblesInOrder(OpBuilder &b, Location loc, Value mem, ValueRange idx,
                            Value count) {
  Type i8 = b.getI8Type(), i32 = b.getI32Type();
  auto v8 = VectorType::get({8}, i8);
  auto v16 = VectorType::get({16}, i32);
  Value m8 = vector::CreateMaskOp::create(b, loc, VectorType::get({8}, b.getI1Type()),
                                          ValueRange{count});
  Value bytes = vector::MaskedLoadOp::create(b, loc, v8, mem, idx, m8,
                                             arith::ConstantOp::create(b, loc, v8, b.getZeroAttr(v8)));
  SmallVector<int64_t> dup;
  SmallVector<int32_t> shifts;
  for (int64_t l = 0; l < 16; ++l) {
    dup.push_back(l / 2);
    shifts.push_back(4 * (l % 2));
  }
  Value q = arith::ExtUIOp::create(b, loc, v16, vector::ShuffleOp::create(b, loc, bytes, bytes, dup));
  q = arith::ShRUIOp::create(
      b, loc, q,
      arith::ConstantOp::create(b, loc, v16, DenseElementsAttr::get(v16, ArrayRef<int32_t>(shifts))));
  return arith::AndIOp::create(
      b, loc, q,
      arith::ConstantOp::create(b, loc, v16,
                                DenseElementsAttr::get(v16, b.getI32IntegerAttr(15).getValue())));
}

/// The zero points of blocks [b0, b0 + 16) of row |n| as f32 (lanes past
/// |blocks| unspecified: their scales are masked to 0): f32 [N, blocks],
/// packed |zbits|-bit codes [N, bytes], or one constant.
static Value zeroPointVector(OpBuilder &kb, Location loc, linalg::GenericOp op, Value zp,
                             Value n, Value b0, Value blocks, Value mask) {
  Type f32 = kb.getF32Type(), i8 = kb.getI8Type(), i32 = kb.getI32Type();
  auto v16 = [&](Type t) { return VectorType::get({16}, t); };
  Value zf = arith::ConstantOp::create(kb, loc, v16(f32), kb.getZeroAttr(v16(f32)));
  if (!zp)
    return vector::BroadcastOp::create(
        kb, loc, v16(f32),
        arith::ConstantOp::create(kb, loc, f32,
                                  cast<FloatAttr>(op->getAttr(sp::kZeroPointAttrName))));
  auto zbits = op->getAttrOfType<IntegerAttr>(sp::kPackedZeroPointsAttrName);
  if (!zbits)
    return vector::MaskedLoadOp::create(kb, loc, v16(f32), zp, ValueRange{n, b0}, mask, zf);
  auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(kb, loc, v); };
  Value left = arith::SubIOp::create(kb, loc, blocks, b0);
  Value codes;
  if (zbits.getInt() == 8) {
    Value bytes = vector::MaskedLoadOp::create(
        kb, loc, v16(i8), zp, ValueRange{n, b0}, mask,
        arith::ConstantOp::create(kb, loc, v16(i8), kb.getZeroAttr(v16(i8))));
    codes = arith::ExtUIOp::create(kb, loc, v16(i32), bytes);
  } else { // 4-bit: 8 bytes, two blocks each (low nibble first)
    Value count = arith::MinUIOp::create(
        kb, loc, arith::CeilDivUIOp::create(kb, loc, left, cst(2)), cst(8));
    codes = nibblesInOrder(kb, loc, zp, ValueRange{n, arith::DivUIOp::create(kb, loc, b0, cst(2))},
                           count);
  }
  return arith::UIToFPOp::create(kb, loc, v16(f32), codes);
}

/// sum over blocks of scales[n, b] * z[n, b] * u[m, b] for each row m of
/// |ms|, sixteen blocks at a time (|u| [M, padded] holds each block's
/// activation sum, 0 past the last block): the zero points' share of a
/// packed GEMV's outputs (m, n). The rows share each step's scales and
/// zero points (int8 prefill: 4 rows, a third of the correction's work).
static SmallVector<Value> zeroPointCorrections(OpBuilder &mb, Location loc, linalg::GenericOp op,
                                               Value sc, Value zp, Value u, Value n,
                                               ArrayRef<Value> ms, Value blocks, Value padded) {
  Type f32 = mb.getF32Type();
  auto v16 = VectorType::get({16}, f32);
  auto maskType = VectorType::get({16}, mb.getI1Type());
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  Value zf = arith::ConstantOp::create(mb, loc, v16, mb.getZeroAttr(v16));
  auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(mb, loc, v); };
  auto corr = scf::ForOp::create(
      mb, loc, cst(0), padded, cst(16), SmallVector<Value>(ms.size(), zf),
      [&](OpBuilder &kb, Location, Value b0, ValueRange acc) {
        Value mask = vector::CreateMaskOp::create(
            kb, loc, maskType, ValueRange{arith::SubIOp::create(kb, loc, blocks, b0)});
        Value sv = vector::MaskedLoadOp::create(kb, loc, v16, sc, ValueRange{n, b0}, mask, zf);
        Value zv = zeroPointVector(kb, loc, op, zp, n, b0, blocks, mask);
        Value sz = arith::MulFOp::create(kb, loc, sv, zv, fm);
        SmallVector<Value> next;
        for (auto [m, a] : llvm::zip_equal(ms, acc)) {
          Value uv = vector::LoadOp::create(kb, loc, v16, u, ValueRange{m, b0});
          next.push_back(vector::FMAOp::create(kb, loc, sz, uv, a));
        }
        scf::YieldOp::create(kb, loc, next);
      });
  return SmallVector<Value>(corr.getResults());
}

static Value zeroPointCorrection(OpBuilder &mb, Location loc, linalg::GenericOp op, Value sc,
                                 Value zp, Value u, Value n, Value m, Value blocks,
                                 Value padded) {
  return zeroPointCorrections(mb, loc, op, sc, zp, u, n, {m}, blocks, padded).front();
}

/// Where per-call work on |vals| (a GEMV's A) goes: before the parallel
/// loops directly around |op| (the threads' tasks) when they define none
/// of |vals| and nothing in them but |op| writes memory (A is then the
/// same for every task), so it runs once per call instead of once per
/// task; else before |op|.
static Operation *onceBefore(Operation *op, ValueRange vals) {
  Operation *target = op;
  for (Operation *p = op->getParentOp(); p && isa<scf::ForallOp, scf::ParallelOp>(p);
       p = p->getParentOp()) {
    bool outside = llvm::all_of(vals, [&](Value v) {
      return !v || !p->isAncestor(v.getParentBlock()->getParentOp());
    });
    bool writes = false;
    p->walk([&](Operation *inner) {
      if (inner == op || op->isAncestor(inner) || isa<scf::InParallelOp>(inner))
        return;
      auto effects = dyn_cast<MemoryEffectOpInterface>(inner);
      if (effects ? effects.hasEffect<MemoryEffects::Write>()
                  : !inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
                        !isPure(inner))
        writes = true;
    });
    if (!outside || writes)
      break;
    target = p;
  }
  return target;
}

/// Guards a packed GEMV's kernel: whether every activation is finite is
/// read off A's block sums |sumA| ([M, padded], made at |at| once per
/// call: an Inf or NaN activation makes its block's sum Inf or NaN); the
/// kernel belongs where the returned builder points (the then-branch of
/// an scf.if before |op|), and a copy of |op| (its reference loops) takes
/// the else-branch: an Inf activation keeps IEEE semantics ((q - z) s Inf
/// is +-Inf, or NaN at q = z), which the kernels' zero-point algebra
/// (s z sum a) and int8 pieces lose. (A block sum that overflows also
/// takes the reference loops.)
static OpBuilder finiteBranch(linalg::GenericOp op, Value sumA, Operation *at) {
  Location loc = op.getLoc();
  OpBuilder pre(at); // after the loops that fill |sumA|
  Type f32 = pre.getF32Type(), i1 = pre.getI1Type();
  auto v16 = VectorType::get({16}, f32);
  auto cst = [&](OpBuilder &ob, int64_t c) { return arith::ConstantIndexOp::create(ob, loc, c); };
  Value M = memref::DimOp::create(pre, loc, sumA, 0);
  Value padded = memref::DimOp::create(pre, loc, sumA, 1);
  Value big = vector::BroadcastOp::create(
      pre, loc, v16,
      arith::ConstantOp::create(pre, loc, pre.getF32FloatAttr(std::numeric_limits<float>::max())));
  Value yes = arith::ConstantOp::create(pre, loc, pre.getBoolAttr(true));
  auto rows = scf::ForOp::create(
      pre, loc, cst(pre, 0), M, cst(pre, 1), ValueRange{yes},
      [&](OpBuilder &mb, Location, Value m, ValueRange okM) {
        auto cols = scf::ForOp::create(
            mb, loc, cst(mb, 0), padded, cst(mb, 16), okM,
            [&](OpBuilder &kb, Location, Value k, ValueRange ok) {
              Value v = math::AbsFOp::create(
                  kb, loc, vector::LoadOp::create(kb, loc, v16, sumA, ValueRange{m, k}));
              Value in = arith::CmpFOp::create(kb, loc, arith::CmpFPredicate::OLE, v, big);
              scf::YieldOp::create(
                  kb, loc,
                  arith::AndIOp::create(
                      kb, loc, ok[0],
                      vector::ReductionOp::create(kb, loc, vector::CombiningKind::AND, in))
                      .getResult());
            });
        scf::YieldOp::create(mb, loc, cols.getResults());
      });
  Value flag = memref::AllocaOp::create(pre, loc, MemRefType::get({1}, i1));
  memref::StoreOp::create(pre, loc, rows.getResult(0), flag, ValueRange{cst(pre, 0)});
  OpBuilder b(op);
  auto choice = scf::IfOp::create(
      b, loc, memref::LoadOp::create(b, loc, flag, ValueRange{cst(b, 0)}), /*withElse=*/true);
  b.setInsertionPoint(choice.elseBlock()->getTerminator());
  b.clone(*op);
  b.setInsertionPoint(choice.thenBlock()->getTerminator());
  return b;
}

/// Per row m of A and block of |bb| bytes, the block's sum of A (its even
/// and odd columns |aE|, |aO| [M, Kh], |aO| null for 8-bit codes) into a
/// new [M, padded] f32 buffer, 0 past |blocks|.
static Value blockSumsOfA(OpBuilder &b, Location loc, Value aE, Value aO, Value M, Value blocks,
                          Value padded, int64_t bb) {
  Type f32 = b.getF32Type();
  auto v16 = VectorType::get({16}, f32);
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  Value zf = arith::ConstantOp::create(b, loc, v16, b.getZeroAttr(v16));
  Value sumA = memref::AllocaOp::create(b, loc, MemRefType::get({ShapedType::kDynamic,
                                                                 ShapedType::kDynamic}, f32),
                                        ValueRange{M, padded});
  Value zeroF = arith::ConstantOp::create(b, loc, f32, b.getZeroAttr(f32));
  scf::ForOp::create(b, loc, cst(b, 0), M, cst(b, 1), ValueRange{},
                     [&](OpBuilder &mb, Location, Value m, ValueRange) {
    scf::ForOp::create(mb, loc, cst(mb, 0), padded, cst(mb, 1), ValueRange{},
                       [&](OpBuilder &kb, Location, Value blk, ValueRange) {
      Value inside = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, blk, blocks);
      Value base = arith::MulIOp::create(
          kb, loc, arith::MinUIOp::create(kb, loc, blk,
                                          arith::SubIOp::create(kb, loc, blocks, cst(kb, 1))),
          cst(kb, bb));
      Value u = zf;
      for (int64_t sub = 0; sub < bb; sub += 16) {
        Value kk = arith::AddIOp::create(kb, loc, base, cst(kb, sub));
        for (Value h : {aE, aO})
          if (h)
            u = arith::AddFOp::create(
                kb, loc, u, vector::LoadOp::create(kb, loc, v16, h, ValueRange{m, kk}), fm);
      }
      Value su = vector::ReductionOp::create(kb, loc, vector::CombiningKind::ADD, u, fm);
      memref::StoreOp::create(kb, loc, arith::SelectOp::create(kb, loc, inside, su, zeroF),
                              sumA, ValueRange{m, blk});
      scf::YieldOp::create(kb, loc);
    });
    scf::YieldOp::create(mb, loc);
  });
  return sumA;
}

/// Per output column n (rows of the packed weight in order: one
/// sequential stream) and row m of A: per block, 16 bytes at a time are
/// widened to two vectors of nibbles (low = even k, high = odd k) and
/// multiplied with A's even and odd columns; the block's sum is scaled
/// once; the zero points apply through each block's sum of A, computed
/// once per call: sum (q - z) s a = sum s (q . a) - sum s z (sum a).
static constexpr int64_t kQ4Unroll = 4;
static constexpr int64_t kQ4PrefetchRows = 4;

static void rewriteQ4Gemv(linalg::GenericOp op, bool avx512) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  auto v16 = [&](Type t) { return VectorType::get({16}, t); };
  bool q8 = isQ8(op);
  unsigned shift = q8 ? 1 : 0; // q8 has no odd half of A
  Value aE = op.getDpsInputOperand(0)->get();
  Value aO = q8 ? Value() : op.getDpsInputOperand(1)->get();
  Value bq = op.getDpsInputOperand(2 - shift)->get(), sc = op.getDpsInputOperand(3 - shift)->get();
  Value zp = op->hasAttr(sp::kZeroPointAttrName) ? Value()
                                                 : op.getDpsInputOperand(4 - shift)->get();
  Value out = op.getDpsInitOperand(0)->get();
  int64_t bb = op->getAttrOfType<IntegerAttr>(sp::kBlockBytesAttrName).getInt();
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  Value M = memref::DimOp::create(b, loc, out, 0), N = memref::DimOp::create(b, loc, out, 1);
  Value blocks = memref::DimOp::create(b, loc, sc, 1);
  Value lastRow = arith::SubIOp::create(b, loc, N, cst(b, 1));
  Value zf = arith::ConstantOp::create(b, loc, v16(f32), b.getZeroAttr(v16(f32)));
  Value fifteen = arith::ConstantOp::create(
      b, loc, v16(i32), DenseElementsAttr::get(v16(i32), b.getI32IntegerAttr(15).getValue()));
  Value four = arith::ConstantOp::create(
      b, loc, v16(i32), DenseElementsAttr::get(v16(i32), b.getI32IntegerAttr(4).getValue()));
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  // Per row of A, each block's sum of A, padded to whole vectors of blocks
  // (zeros past the end): the zero points then apply once per output as
  // sum over blocks of s z sumA, sixteen blocks per vector.
  // (Once per call: before the tasks' loop where A comes from outside it.)
  Operation *at = onceBefore(op, {aE, aO});
  OpBuilder pre(at);
  Value rowsA = memref::DimOp::create(pre, loc, aE, 0);
  Value blocksA = arith::DivUIOp::create(pre, loc, memref::DimOp::create(pre, loc, aE, 1),
                                         cst(pre, bb));
  Value padded = arith::MulIOp::create(
      pre, loc, arith::CeilDivUIOp::create(pre, loc, blocksA, cst(pre, 16)), cst(pre, 16));
  Value sumA = blockSumsOfA(pre, loc, aE, aO, rowsA, blocksA, padded, bb);
  // The kernel for finite activations (else the reference loops).
  b = finiteBranch(op, sumA, at);
  scf::ForOp::create(b, loc, cst(b, 0), N, cst(b, 1), ValueRange{},
                     [&](OpBuilder &nb, Location, Value n, ValueRange) {
    scf::ForOp::create(nb, loc, cst(nb, 0), M, cst(nb, 1), ValueRange{},
                       [&](OpBuilder &mb, Location, Value m, ValueRange) {
      // One block into |acc|: s times the block's nibbles . A. Long blocks
      // (a whole row with per-row scales) sum into several partial
      // vectors, so consecutive FMAs do not wait on each other.
      int64_t partials = std::min<int64_t>(bb / 16, kQ4Unroll);
      auto block = [&](OpBuilder &kb, Value blk, Value acc) -> Value {
        Value s = memref::LoadOp::create(kb, loc, sc, ValueRange{n, blk});
        Value base = arith::MulIOp::create(kb, loc, blk, cst(kb, bb));
        SmallVector<Value> ts(partials, zf);
        for (int64_t sub = 0; sub < bb; sub += 16) {
          Value &t = ts[(sub / 16) % partials];
          Value kk = arith::AddIOp::create(kb, loc, base, cst(kb, sub));
          Value bytes =
              vector::LoadOp::create(kb, loc, v16(kb.getI8Type()), bq, ValueRange{n, kk});
          Value q = arith::ExtUIOp::create(kb, loc, v16(i32), bytes);
          if (q8) {
            Value w = arith::UIToFPOp::create(kb, loc, v16(f32), q);
            Value a = vector::LoadOp::create(kb, loc, v16(f32), aE, ValueRange{m, kk});
            t = vector::FMAOp::create(kb, loc, a, w, t);
            continue;
          }
          Value lo, hi;
          if (avx512) {
            std::tie(lo, hi) = nibbleFloats(kb, loc, q);
          } else {
            lo = arith::UIToFPOp::create(kb, loc, v16(f32),
                                         arith::AndIOp::create(kb, loc, q, fifteen));
            hi = arith::UIToFPOp::create(kb, loc, v16(f32),
                                         arith::ShRUIOp::create(kb, loc, q, four));
          }
          Value ae = vector::LoadOp::create(kb, loc, v16(f32), aE, ValueRange{m, kk});
          Value ao = vector::LoadOp::create(kb, loc, v16(f32), aO, ValueRange{m, kk});
          t = vector::FMAOp::create(kb, loc, ae, lo, t);
          t = vector::FMAOp::create(kb, loc, ao, hi, t);
        }
        Value t = ts[0];
        for (int64_t j = 1; j < partials; ++j)
          t = arith::AddFOp::create(kb, loc, t, ts[j], fm);
        Value sv = vector::BroadcastOp::create(kb, loc, v16(f32), s);
        return vector::FMAOp::create(kb, loc, t, sv, acc);
      };
      // kQ4Unroll blocks per step into as many accumulators, so the FMAs
      // of consecutive blocks do not wait on each other; then the rest.
      Value mainBlocks = arith::SubIOp::create(
          mb, loc, blocks, arith::RemUIOp::create(mb, loc, blocks, cst(mb, kQ4Unroll)));
      // The same bytes and scales kQ4PrefetchRows rows on (clamped to the
      // last row): without it the hardware prefetchers leave the loads
      // waiting on DRAM.
      Value ahead = arith::MinUIOp::create(
          mb, loc, arith::AddIOp::create(mb, loc, n, cst(mb, kQ4PrefetchRows)), lastRow);
      auto unrolled = scf::ForOp::create(
          mb, loc, cst(mb, 0), mainBlocks, cst(mb, kQ4Unroll),
          SmallVector<Value>(kQ4Unroll, zf),
          [&](OpBuilder &kb, Location, Value blk, ValueRange acc) {
            Value kk = arith::MulIOp::create(kb, loc, blk, cst(kb, bb));
            for (int64_t line = 0; line < kQ4Unroll * bb; line += 64)
              memref::PrefetchOp::create(
                  kb, loc, bq,
                  ValueRange{ahead, arith::AddIOp::create(kb, loc, kk, cst(kb, line))},
                  /*isWrite=*/false, /*localityHint=*/3, /*isDataCache=*/true);
            memref::PrefetchOp::create(kb, loc, sc, ValueRange{ahead, blk}, /*isWrite=*/false,
                                       /*localityHint=*/3, /*isDataCache=*/true);
            SmallVector<Value> next;
            for (int64_t j = 0; j < kQ4Unroll; ++j)
              next.push_back(
                  block(kb, arith::AddIOp::create(kb, loc, blk, cst(kb, j)), acc[j]));
            scf::YieldOp::create(kb, loc, next);
          });
      auto blockLoop = scf::ForOp::create(
          mb, loc, mainBlocks, blocks, cst(mb, 1), ValueRange{unrolled.getResult(0)},
          [&](OpBuilder &kb, Location, Value blk, ValueRange acc) {
            scf::YieldOp::create(kb, loc, block(kb, blk, acc[0]));
          });
      Value total = blockLoop.getResult(0);
      for (int64_t j = 1; j < kQ4Unroll; ++j)
        total = arith::AddFOp::create(mb, loc, total, unrolled.getResult(j), fm);
      total = arith::SubFOp::create(
          mb, loc, total,
          zeroPointCorrection(mb, loc, op, sc, zp, sumA, n, m, blocks, padded), fm);
      Value old = memref::LoadOp::create(mb, loc, out, ValueRange{m, n});
      Value sum = vector::ReductionOp::create(mb, loc, vector::CombiningKind::ADD,
                                              total, old, fm);
      memref::StoreOp::create(mb, loc, sum, out, ValueRange{m, n});
      scf::YieldOp::create(mb, loc);
    });
    scf::YieldOp::create(nb, loc);
  });
  op.erase();
}


//===----------------------------------------------------------------------===//
// Gathered dot products with packed 4- or 8-bit rows (a quantized GLU's up)
//===----------------------------------------------------------------------===//

/// `q4_gemm` / `q8_gemm`: the packed weights against many rows of A
/// (prefill), computed transposed: C^T [N, Mp] += W [N, K] A^T [K, Mp].
/// Operands: A^T's even and odd halves [Kh, Mp] (one [Kh, Mp] for 8-bit),
/// codes [N, Kh], scales [N, blocks], zero points as for `q4_gemv`; C^T
/// [N, Mp] (Mp a multiple of 16: A^T's padding columns are zero).
static bool isQGemm(linalg::GenericOp op) {
  auto k = packedKernel(op, "q4_gemm", "q8_gemm");
  return k && op.getNumDpsInputs() == (k->zInput ? 5 : 4) - (k->q8 ? 1 : 0) &&
         allUnitInnerStride(op);
}

/// Rows of W per register tile, bytes of codes per block of the reduction
/// (256 k of 4-bit weights: A^T's rows of the block, 2 x 128 x Mp x 4
/// bytes, stay in L2 while every tile of rows reads them).
static constexpr int64_t kQGemmRows = 6, kQGemmBytes = 128;

/// Per block of kQGemmBytes code bytes and tile of kQGemmRows rows of W:
/// the tile's weights are dequantized once, (q - z) s as the reference
/// rounds it, with vector lookups (nibbleFloats) for the nibbles, into an
/// L1 buffer per half (even / odd k); then for
/// every 64 columns of C^T (then 16 at a time) the tile's 6 x 4 vector
/// accumulators take, per k, one broadcast weight per row against four
/// vectors of A^T: 24 FMAs per 4 loads of A and 6 broadcasts. Weights are
/// read once per call, each dequantized once per call.
static void rewriteQGemm(linalg::GenericOp op, bool avx512) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type(), i1 = b.getI1Type();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  bool q8 = op->getAttrOfType<StringAttr>(sp::kKernelAttrName).getValue() == "q8_gemm";
  unsigned i = 0;
  Value aE = op.getDpsInputOperand(i++)->get();
  Value aO = q8 ? Value() : op.getDpsInputOperand(i++)->get();
  Value bq = op.getDpsInputOperand(i++)->get();
  Value sc = op.getDpsInputOperand(i++)->get();
  Value zp = op->hasAttr(sp::kZeroPointAttrName) ? Value() : op.getDpsInputOperand(i++)->get();
  auto zbits = op->getAttrOfType<IntegerAttr>(sp::kPackedZeroPointsAttrName);
  Value out = op.getDpsInitOperand(0)->get();
  int64_t bb = op->getAttrOfType<IntegerAttr>(sp::kBlockBytesAttrName).getInt();
  Value N = memref::DimOp::create(b, loc, bq, 0), Kh = memref::DimOp::create(b, loc, bq, 1);
  Value cols = memref::DimOp::create(b, loc, out, 1);
  Value zf = arith::ConstantOp::create(b, loc, vec(16, f32), b.getZeroAttr(vec(16, f32)));
  SmallVector<Value> halves = {aE};
  if (aO)
    halves.push_back(aO);
  auto bufType = MemRefType::get({kQGemmRows, kQGemmBytes}, f32);
  SmallVector<Value> wd;
  for (size_t h = 0; h < halves.size(); ++h)
    wd.push_back(memref::AllocaOp::create(b, loc, bufType, b.getI64IntegerAttr(64)));

  // The zero point of block |blk| of row |n| as f32.
  auto zeroPoint = [&](OpBuilder &ob, Value n, Value blk) -> Value {
    if (!zp)
      return arith::ConstantOp::create(ob, loc, f32,
                                       cast<FloatAttr>(op->getAttr(sp::kZeroPointAttrName)));
    if (!zbits)
      return memref::LoadOp::create(ob, loc, zp, ValueRange{n, blk});
    int64_t per = 8 / zbits.getInt();
    Value byte = memref::LoadOp::create(
        ob, loc, zp, ValueRange{n, arith::DivUIOp::create(ob, loc, blk, cst(ob, per))});
    Value shift = arith::IndexCastOp::create(
        ob, loc, i32,
        arith::MulIOp::create(ob, loc, arith::RemUIOp::create(ob, loc, blk, cst(ob, per)),
                              cst(ob, zbits.getInt())));
    Value v = arith::ShRUIOp::create(ob, loc, arith::ExtUIOp::create(ob, loc, i32, byte), shift);
    v = arith::AndIOp::create(
        ob, loc, v,
        arith::ConstantOp::create(ob, loc, i32, ob.getI32IntegerAttr((1 << zbits.getInt()) - 1)));
    return arith::UIToFPOp::create(ob, loc, f32, v);
  };

  // Rows [n0, n0 + R) of W, code bytes [k0, k0 + len) dequantized into
  // the buffers (row r at wd[h][r, 0:len]).
  auto dequantize = [&](OpBuilder &ob, Value n0, int64_t R, Value k0, Value len) {
    for (int64_t r = 0; r < R; ++r) {
      Value n = arith::AddIOp::create(ob, loc, n0, cst(ob, r));
      scf::ForOp::create(ob, loc, cst(ob, 0), len, cst(ob, 16), ValueRange{},
                         [&](OpBuilder &db, Location, Value c, ValueRange) {
        Value kk = arith::AddIOp::create(db, loc, k0, c);
        Value blk = arith::DivUIOp::create(db, loc, kk, cst(db, bb));
        Value s = memref::LoadOp::create(db, loc, sc, ValueRange{n, blk});
        Value sv = vector::BroadcastOp::create(db, loc, vec(16, f32), s);
        Value zv = vector::BroadcastOp::create(db, loc, vec(16, f32), zeroPoint(db, n, blk));
        Value bytes = vector::LoadOp::create(db, loc, vec(16, i8), bq, ValueRange{n, kk});
        Value q = arith::ExtUIOp::create(db, loc, vec(16, i32), bytes);
        SmallVector<Value> ws;
        if (q8) {
          ws.push_back(arith::UIToFPOp::create(db, loc, vec(16, f32), q));
        } else if (avx512) {
          auto [lo, hi] = nibbleFloats(db, loc, q);
          ws = {lo, hi};
        } else { // portable: mask and shift, then convert
          auto splat = [&](int32_t v) {
            return arith::ConstantOp::create(
                db, loc, vec(16, i32),
                DenseElementsAttr::get(vec(16, i32), db.getI32IntegerAttr(v).getValue()));
          };
          ws = {arith::UIToFPOp::create(db, loc, vec(16, f32),
                                        arith::AndIOp::create(db, loc, q, splat(15))),
                arith::UIToFPOp::create(db, loc, vec(16, f32),
                                        arith::ShRUIOp::create(db, loc, q, splat(4)))};
        }
        for (auto [h, w] : llvm::enumerate(ws))
          vector::StoreOp::create(
              db, loc, arith::MulFOp::create(db, loc, arith::SubFOp::create(db, loc, w, zv), sv),
              wd[h], ValueRange{cst(db, r), c});
        scf::YieldOp::create(db, loc);
      });
    }
  };

  // C^T rows [n0, n0 + R) x columns [m0, m0 + 16 nv) += the buffered
  // weights' k [0, len) against A^T rows [k0, k0 + len); |masked|: the
  // columns past |cols| are left alone.
  auto tile = [&](OpBuilder &ob, Value n0, int64_t R, Value m0, int64_t nv, Value k0,
                  Value len, bool masked) {
    auto col = [&](OpBuilder &cb, int64_t j) {
      return arith::AddIOp::create(cb, loc, m0, cst(cb, 16 * j)).getResult();
    };
    SmallVector<Value> masks;
    for (int64_t j = 0; masked && j < nv; ++j)
      masks.push_back(vector::CreateMaskOp::create(
          ob, loc, vec(16, i1), ValueRange{arith::SubIOp::create(ob, loc, cols, col(ob, j))}));
    auto load = [&](OpBuilder &lb, Value mem, Value row, int64_t j) -> Value {
      if (masked)
        return vector::MaskedLoadOp::create(lb, loc, vec(16, f32), mem,
                                            ValueRange{row, col(lb, j)}, masks[j], zf);
      return vector::LoadOp::create(lb, loc, vec(16, f32), mem, ValueRange{row, col(lb, j)});
    };
    SmallVector<Value> acc;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < nv; ++j)
        acc.push_back(load(ob, out, arith::AddIOp::create(ob, loc, n0, cst(ob, r)), j));
    auto loop = scf::ForOp::create(
        ob, loc, cst(ob, 0), len, cst(ob, 1), acc,
        [&](OpBuilder &kb, Location, Value kk, ValueRange it) {
          SmallVector<Value> next(it);
          Value row = arith::AddIOp::create(kb, loc, k0, kk);
          for (auto [h, half] : llvm::enumerate(halves)) {
            SmallVector<Value> av;
            for (int64_t j = 0; j < nv; ++j)
              av.push_back(load(kb, half, row, j));
            for (int64_t r = 0; r < R; ++r) {
              Value w = vector::BroadcastOp::create(
                  kb, loc, vec(16, f32),
                  memref::LoadOp::create(kb, loc, wd[h], ValueRange{cst(kb, r), kk}));
              for (int64_t j = 0; j < nv; ++j)
                next[r * nv + j] = vector::FMAOp::create(kb, loc, w, av[j], next[r * nv + j]);
            }
          }
          scf::YieldOp::create(kb, loc, next);
        });
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < nv; ++j) {
        Value row = arith::AddIOp::create(ob, loc, n0, cst(ob, r));
        Value v = loop.getResult(r * nv + j);
        if (masked)
          vector::MaskedStoreOp::create(ob, loc, out, ValueRange{row, col(ob, j)}, masks[j], v);
        else
          vector::StoreOp::create(ob, loc, v, out, ValueRange{row, col(ob, j)});
      }
  };

  scf::ForOp::create(b, loc, cst(b, 0), Kh, cst(b, kQGemmBytes), ValueRange{},
                     [&](OpBuilder &kb, Location, Value k0, ValueRange) {
    Value len = arith::MinUIOp::create(kb, loc, cst(kb, kQGemmBytes),
                                       arith::SubIOp::create(kb, loc, Kh, k0));
    Value colsMain = arith::SubIOp::create(
        kb, loc, cols, arith::RemUIOp::create(kb, loc, cols, cst(kb, 64)));
    forGroups(kb, loc, N, kQGemmRows, [&](OpBuilder &rb, Value n0, int64_t R) {
      dequantize(rb, n0, R, k0, len);
      scf::ForOp::create(rb, loc, cst(rb, 0), colsMain, cst(rb, 64), ValueRange{},
                         [&](OpBuilder &mb, Location, Value m0, ValueRange) {
        tile(mb, n0, R, m0, 4, k0, len, /*masked=*/false);
        scf::YieldOp::create(mb, loc);
      });
      // The last 1-3 vectors of columns in one tile of that width.
      Value rest = arith::CeilDivUIOp::create(
          rb, loc, arith::SubIOp::create(rb, loc, cols, colsMain), cst(rb, 16));
      auto sw = scf::IndexSwitchOp::create(rb, loc, TypeRange{}, rest,
                                           ArrayRef<int64_t>{1, 2, 3}, 3);
      sw.getDefaultRegion().emplaceBlock();
      {
        OpBuilder db = OpBuilder::atBlockEnd(&sw.getDefaultRegion().front());
        scf::YieldOp::create(db, loc);
      }
      for (int64_t nv = 1; nv <= 3; ++nv) {
        Block &blk = sw.getCaseRegions()[nv - 1].emplaceBlock();
        OpBuilder cb = OpBuilder::atBlockEnd(&blk);
        tile(cb, n0, R, colsMain, nv, k0, len, /*masked=*/true);
        scf::YieldOp::create(cb, loc);
      }
    });
    scf::YieldOp::create(kb, loc);
  });
  op.erase();
}

/// `q4_gemm_kn` / `q8_gemm_kn`: y [M, N] += a [M, K] w [K, N] with w's
/// codes in place, one row per k along n ([K, N * bits / 8], low bits
/// first), scales and optional zero points (one code per byte) per block
/// of `sparsa.block_size` rows of k: a quantized sparse FFN's down
/// projection with many tokens (neuron-major, so an active neuron's codes
/// are one row).
static bool isQGemmKN(linalg::GenericOp op) {
  auto kind = op->getAttrOfType<StringAttr>(sp::kKernelAttrName);
  auto bs = op->getAttrOfType<IntegerAttr>("sparsa.block_size");
  if (!kind || (kind.getValue() != "q4_gemm_kn" && kind.getValue() != "q8_gemm_kn") || !bs ||
      bs.getInt() <= 0 || !op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumDpsInputs() < 3 || op.getNumDpsInputs() > 4 || op.getNumLoops() != 3)
    return false;
  // The roles from the maps: y (m, n), a (m, k).
  AffineMap y = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  AffineMap a = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  if (y.getNumResults() != 2 || a.getNumResults() != 2 || !y.isProjectedPermutation() ||
      !a.isProjectedPermutation() || y.getResult(0) != a.getResult(0))
    return false;
  return allUnitInnerStride(op);
}

/// Copies w[k0:k1, n0:n0 + 64] dequantized, (q - z) s, into the panel
/// [depth, 64]; columns past |n| are zero (their scales read as zero).
static void packQuantPanel(Emitter &e, Value panel, Value codes, Value sc, Value zp,
                           Value k0, Value k1, Value n0, Value n, int64_t bits, int64_t bs,
                           float zConst) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type(), i1 = b.getI1Type();
  auto vec = [](int64_t l, Type t) { return VectorType::get({l}, t); };
  Value zf = arith::ConstantOp::create(b, loc, vec(16, f32), b.getZeroAttr(vec(16, f32)));
  Value zConstV = arith::ConstantOp::create(
      b, loc, vec(16, f32), DenseElementsAttr::get(vec(16, f32), b.getF32FloatAttr(zConst)));
  scf::ForOp::create(b, loc, k0, k1, e.cst(1), ValueRange{},
                     [&](OpBuilder &kb, Location, Value k, ValueRange) {
    auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(kb, loc, v); };
    Value blk = arith::DivUIOp::create(kb, loc, k, cst(bs));
    Value kk = arith::SubIOp::create(kb, loc, k, k0);
    for (int64_t j = 0; j < kGemmPanelVectors; ++j) {
      Value col = arith::AddIOp::create(kb, loc, n0, cst(16 * j));
      Value rem = arith::SubIOp::create(kb, loc, n, arith::MinUIOp::create(kb, loc, col, n));
      Value m16 = vector::CreateMaskOp::create(kb, loc, vec(16, i1), ValueRange{rem});
      Value q;
      if (bits == 4) {
        q = nibblesInOrder(kb, loc, codes,
                           ValueRange{k, arith::DivUIOp::create(kb, loc, col, cst(2))},
                           arith::CeilDivUIOp::create(kb, loc, rem, cst(2)));
      } else {
        Value bytes = vector::MaskedLoadOp::create(
            kb, loc, vec(16, i8), codes, ValueRange{k, col}, m16,
            arith::ConstantOp::create(kb, loc, vec(16, i8), kb.getZeroAttr(vec(16, i8))));
        q = arith::ExtUIOp::create(kb, loc, vec(16, i32), bytes);
      }
      Value qf = arith::UIToFPOp::create(kb, loc, vec(16, f32), q);
      Value s = vector::MaskedLoadOp::create(kb, loc, vec(16, f32), sc, ValueRange{blk, col},
                                             m16, zf);
      Value z = zConstV;
      if (zp)
        z = arith::UIToFPOp::create(
            kb, loc, vec(16, f32),
            arith::ExtUIOp::create(
                kb, loc, vec(16, i32),
                vector::MaskedLoadOp::create(
                    kb, loc, vec(16, i8), zp, ValueRange{blk, col}, m16,
                    arith::ConstantOp::create(kb, loc, vec(16, i8),
                                              kb.getZeroAttr(vec(16, i8))))));
      Value w = arith::MulFOp::create(kb, loc, arith::SubFOp::create(kb, loc, qf, z), s);
      vector::StoreOp::create(kb, loc, w, panel, ValueRange{kk, cst(16 * j)});
    }
    scf::YieldOp::create(kb, loc);
  });
}

/// The GEMM of the contraction kernels (64 columns by 256 k per panel,
/// 6-row register tiles) with w's panels dequantized as they are packed:
/// each weight dequantized once per call (with up to 64 columns, once per
/// 64-column block), never unpacked to memory as a whole.
static void rewriteQGemmKN(linalg::GenericOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  bool q4 = op->getAttrOfType<StringAttr>(sp::kKernelAttrName).getValue() == "q4_gemm_kn";
  int64_t bs = op->getAttrOfType<IntegerAttr>("sparsa.block_size").getInt();
  AffineMap ym = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  AffineMap am = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  Contraction c{op, op.getDpsInputOperand(0), op.getDpsInputOperand(1),
                op.getDpsInitOperand(0), -1, -1, -1, {}};
  c.m = cast<AffineDimExpr>(ym.getResult(0)).getPosition();
  c.n = cast<AffineDimExpr>(ym.getResult(1)).getPosition();
  c.k = cast<AffineDimExpr>(am.getResult(1)).getPosition();
  Value codes = op.getDpsInputOperand(1)->get(), sc = op.getDpsInputOperand(2)->get();
  Value zp = op.getNumDpsInputs() == 4 ? op.getDpsInputOperand(3)->get() : Value();
  Value out = c.c->get(), a = c.a->get();
  Emitter e{b, loc, c, VectorType::get({16}, b.getF32Type()), 16,
            SmallVector<Value>(op.getNumLoops())};
  Value M = memref::DimOp::create(b, loc, out, 0), N = memref::DimOp::create(b, loc, out, 1);
  Value K = memref::DimOp::create(b, loc, a, 1);
  constexpr int64_t depth = 256;
  Value panel = memref::AllocaOp::create(
      b, loc, MemRefType::get({depth, kGemmPanelVectors * 16}, b.getF32Type()),
      b.getI64IntegerAttr(64));
  auto loop = [&](Value lo, Value hi, Value step, function_ref<void(Value)> body) {
    auto f = scf::ForOp::create(b, loc, lo, hi, step);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(f.getBody()->getTerminator());
    body(f.getInductionVar());
  };
  loop(e.cst(0), N, e.cst(kGemmPanelVectors * 16), [&](Value n0) {
    loop(e.cst(0), K, e.cst(depth), [&](Value k0) {
      Value k1 = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, k0, e.cst(depth)), K);
      packQuantPanel(e, panel, codes, sc, zp, k0, k1, n0, N, q4 ? 4 : 8, bs, q4 ? 8.0f : 128.0f);
      Value mMain = arith::SubIOp::create(
          b, loc, M, arith::RemUIOp::create(b, loc, M, e.cst(kGemmPanelRows)));
      loop(e.cst(0), mMain, e.cst(kGemmPanelRows), [&](Value m0) {
        emitGemmTile(e, m0, kGemmPanelRows, n0, N, kGemmPanelVectors, k0, k1, panel, Value());
      });
      emitLeftoverTile(e, mMain, M, n0, N, k0, k1, panel, Value());
    });
  });
  op.erase();
}

namespace {
/// A generic tagged `sparsa.kernel = "q_gather_dot"` by the sparse FFN
/// lowering: out[j] += sum_k x[k] * (code(w[idx[j]], k) - z[idx[j], k / bs])
/// * s[idx[j], k / bs], loops (j, k); 4- or 8-bit codes packed along each
/// row (MatMulNBits' layout: [F, blocks * bs * bits / 8], whole vectors of
/// 16 bytes per block), scales [F, blocks], packed
/// zero points [F, zbytes] (`sparsa.zero_point_bits`) or the constant
/// `sparsa.zero_point`. Its body reads codes, scales and zero points with
/// memref.loads at row idx[j].
struct QGatherDot {
  linalg::GenericOp op;
  Value x, idx, codes, scales, zp;
  int64_t bs, bits;
};
} // namespace

static std::optional<QGatherDot> matchQGatherDot(linalg::GenericOp op) {
  auto kind = op->getAttrOfType<StringAttr>(sp::kKernelAttrName);
  auto bits = op->getAttrOfType<IntegerAttr>("sparsa.bits");
  auto bs = op->getAttrOfType<IntegerAttr>("sparsa.block_size");
  if (!kind || kind.getValue() != "q_gather_dot" || !bits ||
      (bits.getInt() != 4 && bits.getInt() != 8) || !bs || bs.getInt() <= 0 ||
      (bs.getInt() * bits.getInt() / 8) % 16 != 0 || !op.hasPureBufferSemantics() ||
      op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || op.getNumLoops() != 2)
    return std::nullopt;
  QGatherDot g{op, op.getDpsInputOperand(0)->get(), op.getDpsInputOperand(1)->get(), {}, {},
               {}, bs.getInt(), bits.getInt()};
  BlockArgument rowArg = op.getRegion().front().getArgument(1);
  SmallVector<Value> bytes;
  for (Operation &o : op.getRegion().front().without_terminator()) {
    auto l = dyn_cast<memref::LoadOp>(o);
    if (!l)
      continue;
    if (l.getIndices().size() != 2 || l.getIndices()[0] != rowArg ||
        l.getMemRef().getParentRegion() == &op.getRegion())
      return std::nullopt;
    Type et = l.getMemRefType().getElementType();
    if (et.isInteger(8) && !llvm::is_contained(bytes, l.getMemRef()))
      bytes.push_back(l.getMemRef());
    else if (et.isF32() && (!g.scales || g.scales == l.getMemRef()))
      g.scales = l.getMemRef();
    else if (!et.isInteger(8))
      return std::nullopt;
  }
  // The codes are the wider of the byte operands (a row of codes holds
  // bs / 2 bytes per block, of zero points at most one).
  auto cols = [](Value v) { return cast<MemRefType>(v.getType()).getDimSize(1); };
  if (bytes.empty() || bytes.size() > 2 || !g.scales)
    return std::nullopt;
  g.codes = bytes[0];
  if (bytes.size() == 2) {
    if (ShapedType::isDynamic(cols(bytes[0])) || ShapedType::isDynamic(cols(bytes[1])))
      return std::nullopt;
    if (cols(bytes[1]) > cols(bytes[0]))
      std::swap(bytes[0], bytes[1]);
    g.codes = bytes[0];
    g.zp = bytes[1];
  }
  auto zbits = op->getAttrOfType<IntegerAttr>(sp::kPackedZeroPointsAttrName);
  bool zOk = g.zp ? zbits && zbits.getInt() == g.bits
                  : bool(op->getAttrOfType<FloatAttr>(sp::kZeroPointAttrName));
  int64_t kh = cols(g.codes), blocks = cols(g.scales);
  if (!zOk || ShapedType::isDynamic(kh) || ShapedType::isDynamic(blocks) ||
      kh != blocks * g.bs * g.bits / 8 || cast<MemRefType>(g.x.getType()).getRank() != 1 ||
      !allUnitInnerStride(op) || !unitInnerStride(g.codes) || !unitInnerStride(g.scales) ||
      (g.zp && !unitInnerStride(g.zp)))
    return std::nullopt;
  return g;
}

/// Gathered dot products of x with packed 4-bit rows, two rows at a time:
/// x is split once per call into its even and odd entries (zero past its
/// end) and summed per block; per block of a row, 16 code bytes at a time
/// widen to 16 lanes whose low nibbles (times x's even entries) and high
/// nibbles (odd entries) become floats by vpermps lookups (8-bit codes:
/// converted, times x zero-padded); the block's sum is scaled once; the zero points apply through x's block sums (sum (q -
/// z) s x = sum s (q . x) - sum s z (sum x)). Non-finite x takes the
/// reference loops (IEEE semantics, see finiteBranch).
static void rewriteQGatherDot(const QGatherDot &g) {
  linalg::GenericOp op = g.op;
  Location loc = op.getLoc();
  Type f32 = OpBuilder(op).getF32Type(), i8 = OpBuilder(op).getI8Type(),
       i32 = OpBuilder(op).getI32Type(), i1 = OpBuilder(op).getI1Type();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  bool q8 = g.bits == 8;
  int64_t bb = g.bs * g.bits / 8;
  int64_t kh = cast<MemRefType>(g.codes.getType()).getDimSize(1);
  // x's even / odd entries [1, kh] and its block sums, once per call.
  Operation *at = onceBefore(op, {g.x});
  OpBuilder pre(at);
  auto halfType = MemRefType::get({1, kh}, f32);
  Value xE = memref::AllocaOp::create(pre, loc, halfType);
  Value xO = q8 ? Value() : memref::AllocaOp::create(pre, loc, halfType).getResult();
  Value H = memref::DimOp::create(pre, loc, g.x, 0);
  Value zf = arith::ConstantOp::create(pre, loc, vec(16, f32), pre.getZeroAttr(vec(16, f32)));
  SmallVector<int64_t> evens, odds;
  for (int64_t l = 0; l < 16; ++l) {
    evens.push_back(2 * l);
    odds.push_back(2 * l + 1);
  }
  scf::ForOp::create(pre, loc, cst(pre, 0), cst(pre, kh), cst(pre, 16), ValueRange{},
                     [&](OpBuilder &lb, Location, Value kk, ValueRange) {
    Value k0 = q8 ? kk : arith::MulIOp::create(lb, loc, kk, cst(lb, 2)).getResult();
    Value k1 = arith::AddIOp::create(lb, loc, k0, cst(lb, 16));
    // Entries left from |k| (0 past the end).
    auto left = [&](Value k) -> Value {
      Value past = arith::CmpIOp::create(lb, loc, arith::CmpIPredicate::uge, k, H);
      return arith::SelectOp::create(lb, loc, past, cst(lb, 0),
                                     arith::SubIOp::create(lb, loc, H, k));
    };
    auto part = [&](Value k) -> Value {
      Value m = vector::CreateMaskOp::create(lb, loc, vec(16, i1), ValueRange{left(k)});
      Value kc = arith::MinUIOp::create(lb, loc, k, H);
      return vector::MaskedLoadOp::create(lb, loc, vec(16, f32), g.x, ValueRange{kc}, m, zf);
    };
    Value lo = part(k0);
    if (q8) { // 8-bit codes: x itself, zero-padded
      vector::StoreOp::create(lb, loc, lo, xE, ValueRange{cst(lb, 0), kk});
      scf::YieldOp::create(lb, loc);
      return;
    }
    Value hi = part(k1);
    vector::StoreOp::create(lb, loc, vector::ShuffleOp::create(lb, loc, lo, hi, evens), xE,
                            ValueRange{cst(lb, 0), kk});
    vector::StoreOp::create(lb, loc, vector::ShuffleOp::create(lb, loc, lo, hi, odds), xO,
                            ValueRange{cst(lb, 0), kk});
    scf::YieldOp::create(lb, loc);
  });
  Value blocks = memref::DimOp::create(pre, loc, g.scales, 1);
  Value padded = arith::MulIOp::create(
      pre, loc, arith::CeilDivUIOp::create(pre, loc, blocks, cst(pre, 16)), cst(pre, 16));
  Value sumX = blockSumsOfA(pre, loc, xE, xO, cst(pre, 1), blocks, padded, bb);
  OpBuilder b = finiteBranch(op, sumX, at);
  Value zv = arith::ConstantOp::create(b, loc, vec(16, f32), b.getZeroAttr(vec(16, f32)));
  Value out = op.getDpsInitOperand(0)->get();
  Value n = memref::DimOp::create(b, loc, g.idx, 0);
  Value c0 = cst(b, 0);
  forGroups(b, loc, n, 2, [&](OpBuilder &gb, Value j0, int64_t R) {
    SmallVector<Value> js, rs;
    for (int64_t u = 0; u < R; ++u) {
      js.push_back(u ? arith::AddIOp::create(gb, loc, j0, cst(gb, u)).getResult() : j0);
      rs.push_back(memref::LoadOp::create(gb, loc, g.idx, ValueRange{js.back()}));
    }
    auto blockLoop = scf::ForOp::create(
        gb, loc, cst(gb, 0), blocks, cst(gb, 1), SmallVector<Value>(R, zv),
        [&](OpBuilder &kb, Location, Value blk, ValueRange acc) {
          Value base = arith::MulIOp::create(kb, loc, blk, cst(kb, bb));
          SmallVector<Value> t(R, zv);
          for (int64_t sub = 0; sub < bb; sub += 16) {
            Value p = sub ? arith::AddIOp::create(kb, loc, base, cst(kb, sub)).getResult() : base;
            Value xe = vector::LoadOp::create(kb, loc, vec(16, f32), xE, ValueRange{c0, p});
            Value xo = q8 ? Value()
                          : vector::LoadOp::create(kb, loc, vec(16, f32), xO, ValueRange{c0, p})
                                .getResult();
            for (int64_t u = 0; u < R; ++u) {
              Value bytes =
                  vector::LoadOp::create(kb, loc, vec(16, i8), g.codes, ValueRange{rs[u], p});
              Value q = arith::ExtUIOp::create(kb, loc, vec(16, i32), bytes);
              if (q8) {
                t[u] = vector::FMAOp::create(
                    kb, loc, arith::UIToFPOp::create(kb, loc, vec(16, f32), q), xe, t[u]);
                continue;
              }
              auto [lo, hi] = nibbleFloats(kb, loc, q);
              t[u] = vector::FMAOp::create(kb, loc, lo, xe, t[u]);
              t[u] = vector::FMAOp::create(kb, loc, hi, xo, t[u]);
            }
          }
          SmallVector<Value> next;
          for (int64_t u = 0; u < R; ++u) {
            Value s = vector::BroadcastOp::create(
                kb, loc, vec(16, f32),
                memref::LoadOp::create(kb, loc, g.scales, ValueRange{rs[u], blk}));
            next.push_back(vector::FMAOp::create(kb, loc, s, t[u], acc[u]));
          }
          scf::YieldOp::create(kb, loc, next);
        });
    for (int64_t u = 0; u < R; ++u) {
      Value total = arith::SubFOp::create(
          gb, loc, blockLoop.getResult(u),
          zeroPointCorrection(gb, loc, op, g.scales, g.zp, sumX, rs[u], c0, blocks, padded), fm);
      Value old = memref::LoadOp::create(gb, loc, out, ValueRange{js[u]});
      Value sum =
          vector::ReductionOp::create(gb, loc, vector::CombiningKind::ADD, total, old, fm);
      memref::StoreOp::create(gb, loc, sum, out, ValueRange{js[u]});
    }
  });
  op.erase();
}

//===----------------------------------------------------------------------===//
// int8-activation GEMV (VNNI): packed 4- or 8-bit weights . int8 codes of A
//===----------------------------------------------------------------------===//

/// Whether 64-byte steps never straddle two blocks of |bb| bytes.
static bool stepsKeepBlocks(int64_t bb) { return bb <= 64 ? 64 % bb == 0 : bb % 64 == 0; }

/// The generic tagged `q4_vnni` / `q8_vnni` by the quantized matmul
/// lowering (activation `int8`): ins (codes of A's even columns [M, Kh] i8,
/// odd columns (4-bit only), packed bytes [N, Kh] i8, scales [N, blocks],
/// zero points [N, blocks] unless `sparsa.zero_point`, and the activation
/// scale per 4 bytes of a row [M, ceil(Kh / 4)]), out [M, N].
static bool isVnniGemv(linalg::GenericOp op) {
  auto k = packedKernel(op, "q4_vnni", "q8_vnni");
  if (!k)
    return false;
  auto bb = op->getAttrOfType<IntegerAttr>(sp::kBlockBytesAttrName);
  if (op.getNumDpsInputs() != 6 - (k->q8 ? 1 : 0) - (k->zInput ? 0 : 1) ||
      !stepsKeepBlocks(bb.getInt()))
    return false;
  return allUnitInnerStride(op);
}

/// The base of the pieces of A (see rewriteQ4GemvSplit).
static constexpr int64_t kPieceBase = 254;

namespace {
/// A VNNI GEMV's operands: |evens| / |odds| hold P pieces of A's int8
/// codes ([M, Kh] each; no odd ones for 8-bit weights), piece p weighing
/// kPieceBase^-p; |asl| [M, ceil(Kh / 4)] the activation scale of each 4 bytes;
/// |u| [M, padded] each block's share of the zero points (the block's sum
/// of the represented A).
struct VnniOperands {
  linalg::GenericOp op;
  SmallVector<Value> evens, odds;
  Value bq, sc, zp, asl, u, out, blocks, padded;
  int64_t bb;
};
} // namespace

/// Per output column n and row m: 64 bytes of the weight row per step;
/// 4-bit codes split into low and high nibbles (bytes), each multiplied
/// with the codes of A's even / odd columns by vpdpbusd (4 bytes into
/// each of 16 i32 lanes), per piece of A; the pieces' lanes, converted to
/// f32 and weighed (Horner: p0 + (p1 + p2 / 254) / 254), are scaled by their
/// block's weight scale (lane -> block by a shuffle of the step's scales)
/// times its activation scale. The zero points enter once per output:
/// sum over blocks of s z u. With one piece (int8 activations), 4 rows of
/// A at a time share each step's weight loads, nibbles and scales: int8
/// prefill 0.15-0.21 -> 0.11-0.12 ms per row of a 4096 x 4096 int4 weight
/// at 16-512 rows, 2 threads (ONNX Runtime's accuracy level 4: 0.12).
static void emitVnniGemv(const VnniOperands &v) {
  linalg::GenericOp op = v.op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  bool q8 = v.odds.empty();
  int64_t pieces = v.evens.size();
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  Value bq = v.bq, sc = v.sc, zp = v.zp, asl = v.asl, out = v.out;
  int64_t bb = v.bb;
  auto cst = [&](OpBuilder &ob, int64_t c) { return arith::ConstantIndexOp::create(ob, loc, c); };
  Value M = memref::DimOp::create(b, loc, out, 0), N = memref::DimOp::create(b, loc, out, 1);
  Value Kh = memref::DimOp::create(b, loc, bq, 1);
  Value lanes = memref::DimOp::create(b, loc, asl, 1);
  auto splat = [&](VectorType t, Attribute a) {
    return arith::ConstantOp::create(b, loc, t, DenseElementsAttr::get(t, a)).getResult();
  };
  Value zf = splat(vec(16, f32), b.getF32FloatAttr(0.0));
  Value zi = splat(vec(16, i32), b.getI32IntegerAttr(0));
  Value fifteen = splat(vec(64, i8), b.getI8IntegerAttr(15));
  Value four = splat(vec(64, i8), b.getI8IntegerAttr(4));
  Value zi8 = splat(vec(64, i8), b.getI8IntegerAttr(0));
  Value piece = splat(vec(16, f32), b.getF32FloatAttr(1.0f / float(kPieceBase)));
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  StringAttr dpbusd = b.getStringAttr("llvm.x86.avx512.vpdpbusd.512");
  auto dot = [&](OpBuilder &kb, Value acc, Value w, Value a) {
    return LLVM::CallIntrinsicOp::create(kb, loc, vec(16, i32), dpbusd, ValueRange{acc, w, a})
        .getResult(0);
  };
  // Blocks per 64-byte step (bb <= 64), and the lane -> block shuffle.
  int64_t perStep = bb <= 64 ? 64 / bb : 1;
  SmallVector<int64_t> laneBlock;
  for (int64_t l = 0; l < 16; ++l)
    laneBlock.push_back(bb <= 64 ? l / (bb / 4) : 0);
  Value fullSteps = arith::DivUIOp::create(b, loc, Kh, cst(b, 64));
  // |R| consecutive output columns from |n0| for every row of A, against
  // one load of A's codes per step. With fewer than kRowBlock rows of A
  // the kernel streams the weights from DRAM, one row at a time: on Zen 4
  // (2 threads) two weight rows of 2 KB read step by step stream at
  // 18.5 GB/s where one sequential row streams at 32 GB/s, so the 8-layer
  // int4 FFN stack went from 25.6 to 30.6 GB/s with R = 1. With more rows
  // of A the kernel is compute-bound and R = 2 shares A's loads (int8
  // prefill: 0.165 -> 0.114 ms per row at 128 rows).
  Value lastRow = arith::SubIOp::create(b, loc, N, cst(b, 1));
  // Prefetch the same bytes kPrefetchGroups groups of R rows ahead.
  constexpr int64_t kPrefetchGroups = 2, kRowBlock = 4;
  // With one piece of A (int8 activations), kRowBlock rows of A share
  // each step's weight loads, nibble masks and scales (prefill; more
  // pieces would not fit the registers).
  const int64_t rowBlock = pieces == 1 ? kRowBlock : 1;
  auto columns = [&](OpBuilder &nb, Value n0, int64_t R) {
    SmallVector<Value> ns;
    for (int64_t r = 0; r < R; ++r)
      ns.push_back(r ? arith::AddIOp::create(nb, loc, n0, cst(nb, r)).getResult() : n0);
    // Rows |m0| .. |m0| + RM - 1 against the R columns; accumulator
    // (row i, column r) at i * R + r.
    auto rows = [&](OpBuilder &mb, Value m0, int64_t RM) {
      SmallVector<Value> ms;
      for (int64_t i = 0; i < RM; ++i)
        ms.push_back(i ? arith::AddIOp::create(mb, loc, m0, cst(mb, i)).getResult() : m0);
      // One step at byte |p| into |fs|; |valid| bytes (< 64) in the tail.
      auto step = [&](OpBuilder &kb, Value p, ValueRange fs, Value valid) {
        auto load = [&](Value mem, ValueRange idx, VectorType t, Value count, Value pass) {
          if (!count)
            return vector::LoadOp::create(kb, loc, t, mem, idx).getResult();
          Value mask = vector::CreateMaskOp::create(
              kb, loc, VectorType::get(t.getShape(), kb.getI1Type()), ValueRange{count});
          return vector::MaskedLoadOp::create(kb, loc, t, mem, idx, mask, pass).getResult();
        };
        Value l0 = arith::DivUIOp::create(kb, loc, p, cst(kb, 4));
        Value laneCount =
            valid ? arith::MinUIOp::create(kb, loc, arith::SubIOp::create(kb, loc, lanes, l0),
                                           cst(kb, 16))
                        .getResult()
                  : Value();
        // Per row: A's codes (per piece, even and odd) and lane scales.
        SmallVector<SmallVector<Value>> ae(RM), ao(RM);
        SmallVector<Value> al;
        for (int64_t i = 0; i < RM; ++i) {
          for (int64_t pc = 0; pc < pieces; ++pc) {
            ae[i].push_back(load(v.evens[pc], ValueRange{ms[i], p}, vec(64, i8), valid, zi8));
            if (!q8)
              ao[i].push_back(load(v.odds[pc], ValueRange{ms[i], p}, vec(64, i8), valid, zi8));
          }
          al.push_back(load(asl, ValueRange{ms[i], l0}, vec(16, f32), laneCount, zf));
        }
        Value blk0 = arith::DivUIOp::create(kb, loc, p, cst(kb, bb));
        SmallVector<Value> next(fs.begin(), fs.end());
        for (int64_t r = 0; r < R; ++r) {
          Value n = ns[r];
          if (!valid) {
            // The same bytes of the next group's row: DRAM latency hides
            // behind this group's work (rows past N are clamped).
            Value nn = arith::MinUIOp::create(
                kb, loc, arith::AddIOp::create(kb, loc, n, cst(kb, R * kPrefetchGroups)), lastRow);
            memref::PrefetchOp::create(kb, loc, bq, ValueRange{nn, p}, /*isWrite=*/false,
                                       /*localityHint=*/3, /*isDataCache=*/true);
          }
          Value wb = load(bq, ValueRange{n, p}, vec(64, i8), valid, zi8);
          Value lo, hi;
          if (!q8) {
            lo = arith::AndIOp::create(kb, loc, wb, fifteen);
            hi = arith::ShRUIOp::create(kb, loc, wb, four);
          }
          // The weight scales of the step's blocks, one per lane.
          Value sLanes;
          if (perStep == 1) {
            Value s = memref::LoadOp::create(kb, loc, sc, ValueRange{n, blk0});
            sLanes = vector::BroadcastOp::create(kb, loc, vec(16, f32), s);
          } else {
            Value left = arith::SubIOp::create(kb, loc, v.blocks, blk0);
            Value cnt = arith::MinUIOp::create(kb, loc, left, cst(kb, perStep));
            Value mask = vector::CreateMaskOp::create(kb, loc, vec(perStep, kb.getI1Type()),
                                                      ValueRange{cnt});
            Value pass = arith::ConstantOp::create(
                kb, loc, vec(perStep, f32),
                DenseElementsAttr::get(vec(perStep, f32), kb.getF32FloatAttr(0.0)));
            Value sv = vector::MaskedLoadOp::create(kb, loc, vec(perStep, f32), sc,
                                                    ValueRange{n, blk0}, mask, pass);
            sLanes = vector::ShuffleOp::create(kb, loc, sv, sv, laneBlock);
          }
          for (int64_t i = 0; i < RM; ++i) {
            // The pieces' lanes, last first: p0 + (p1 + p2 / base) / base.
            Value cf;
            for (int64_t pc = pieces - 1; pc >= 0; --pc) {
              Value acc = q8 ? dot(kb, zi, wb, ae[i][pc])
                             : dot(kb, dot(kb, zi, lo, ae[i][pc]), hi, ao[i][pc]);
              Value f = arith::SIToFPOp::create(kb, loc, vec(16, f32), acc);
              cf = cf ? vector::FMAOp::create(kb, loc, cf, piece, f).getResult() : f;
            }
            Value scale = arith::MulFOp::create(kb, loc, sLanes, al[i], fm);
            Value &f = next[i * R + r];
            f = vector::FMAOp::create(kb, loc, cf, scale, f);
          }
        }
        return next;
      };
      auto mainLoop = scf::ForOp::create(
          mb, loc, cst(mb, 0), fullSteps, cst(mb, 1), SmallVector<Value>(RM * R, zf),
          [&](OpBuilder &kb, Location, Value s, ValueRange acc) {
            Value p = arith::MulIOp::create(kb, loc, s, cst(kb, 64));
            scf::YieldOp::create(kb, loc, step(kb, p, acc, Value()));
          });
      SmallVector<Value> fs(mainLoop.getResults());
      // The tail (< 64 bytes), masked.
      Value pTail = arith::MulIOp::create(mb, loc, fullSteps, cst(mb, 64));
      Value rest = arith::SubIOp::create(mb, loc, Kh, pTail);
      Value hasTail = arith::CmpIOp::create(mb, loc, arith::CmpIPredicate::ugt, rest, cst(mb, 0));
      auto tail = scf::IfOp::create(
          mb, loc, hasTail,
          [&](OpBuilder &kb, Location) { scf::YieldOp::create(kb, loc, step(kb, pTail, fs, rest)); },
          [&](OpBuilder &kb, Location) { scf::YieldOp::create(kb, loc, fs); });
      for (int64_t r = 0; r < R; ++r) {
        Value n = ns[r];
        SmallVector<Value> corrs =
            zeroPointCorrections(mb, loc, op, sc, zp, v.u, n, ms, v.blocks, v.padded);
        for (int64_t i = 0; i < RM; ++i) {
          Value m = ms[i];
          Value f = arith::SubFOp::create(mb, loc, tail.getResult(i * R + r), corrs[i], fm);
          Value old = memref::LoadOp::create(mb, loc, out, ValueRange{m, n});
          Value sum = vector::ReductionOp::create(mb, loc, vector::CombiningKind::ADD, f, old, fm);
          memref::StoreOp::create(mb, loc, sum, out, ValueRange{m, n});
        }
      }
    };
    forGroups(nb, loc, M, rowBlock, rows);
  };
  auto allColumns = [&](OpBuilder &cb, int64_t R) { forGroups(cb, loc, N, R, columns); };
  int64_t staticM = cast<MemRefType>(out.getType()).getDimSize(0);
  if (!ShapedType::isDynamic(staticM)) {
    allColumns(b, staticM >= kRowBlock ? 2 : 1);
    return;
  }
  Value many = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, M, cst(b, kRowBlock));
  scf::IfOp::create(
      b, loc, many,
      [&](OpBuilder &tb, Location) {
        allColumns(tb, 2);
        scf::YieldOp::create(tb, loc);
      },
      [&](OpBuilder &eb, Location) {
        allColumns(eb, 1);
        scf::YieldOp::create(eb, loc);
      });
}

/// The int8-activation GEMV: one piece, A's codes from the lowering; the
/// zero points' share per block is the activation scale times the sum of
/// the block's codes.
static void rewriteVnniGemv(linalg::GenericOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  bool q8 = op->getAttrOfType<StringAttr>(sp::kKernelAttrName).getValue() == "q8_vnni";
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  VnniOperands v;
  v.op = op;
  unsigned i = 0;
  Value aE = op.getDpsInputOperand(i++)->get();
  Value aO = q8 ? Value() : op.getDpsInputOperand(i++)->get();
  v.evens = {aE};
  if (aO)
    v.odds = {aO};
  v.bq = op.getDpsInputOperand(i++)->get();
  v.sc = op.getDpsInputOperand(i++)->get();
  v.zp = op->hasAttr(sp::kZeroPointAttrName) ? Value() : op.getDpsInputOperand(i++)->get();
  v.asl = op.getDpsInputOperand(i++)->get();
  v.out = op.getDpsInitOperand(0)->get();
  v.bb = op->getAttrOfType<IntegerAttr>(sp::kBlockBytesAttrName).getInt();
  int64_t bb = v.bb;
  auto cst = [&](OpBuilder &ob, int64_t c) { return arith::ConstantIndexOp::create(ob, loc, c); };
  v.blocks = memref::DimOp::create(b, loc, v.sc, 1);
  // Per row and block: the activation scale times the block's sum of
  // codes (the zero points' share), padded to whole vectors of blocks;
  // once per call (before the tasks' loop where A comes from outside it).
  OpBuilder pre(onceBefore(op, {aE, aO, v.asl}));
  Value M = memref::DimOp::create(pre, loc, aE, 0);
  Value blocksA = arith::DivUIOp::create(pre, loc, memref::DimOp::create(pre, loc, aE, 1),
                                         cst(pre, bb));
  Value zi = arith::ConstantOp::create(pre, loc, vec(16, i32), pre.getZeroAttr(vec(16, i32)));
  v.padded = arith::MulIOp::create(
      pre, loc, arith::CeilDivUIOp::create(pre, loc, blocksA, cst(pre, 16)), cst(pre, 16));
  v.u = memref::AllocaOp::create(
      pre, loc, MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, f32),
      ValueRange{M, v.padded});
  Value zeroF = arith::ConstantOp::create(pre, loc, f32, pre.getZeroAttr(f32));
  scf::ForOp::create(pre, loc, cst(pre, 0), M, cst(pre, 1), ValueRange{},
                     [&](OpBuilder &mb, Location, Value m, ValueRange) {
    scf::ForOp::create(mb, loc, cst(mb, 0), v.padded, cst(mb, 1), ValueRange{},
                       [&](OpBuilder &kb, Location, Value blk, ValueRange) {
      Value inside = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, blk, blocksA);
      Value bc = arith::MinUIOp::create(kb, loc, blk,
                                        arith::SubIOp::create(kb, loc, blocksA, cst(kb, 1)));
      Value base = arith::MulIOp::create(kb, loc, bc, cst(kb, bb));
      Value s = zi;
      for (int64_t sub = 0; sub < bb; sub += 16) {
        Value kk = arith::AddIOp::create(kb, loc, base, cst(kb, sub));
        for (Value h : {aE, aO}) {
          if (!h)
            continue;
          Value c = vector::LoadOp::create(kb, loc, vec(16, i8), h, ValueRange{m, kk});
          s = arith::AddIOp::create(kb, loc, s, arith::ExtSIOp::create(kb, loc, vec(16, i32), c));
        }
      }
      Value total = vector::ReductionOp::create(kb, loc, vector::CombiningKind::ADD, s);
      Value as = memref::LoadOp::create(
          kb, loc, v.asl, ValueRange{m, arith::DivUIOp::create(kb, loc, base, cst(kb, 4))});
      Value uv = arith::MulFOp::create(kb, loc, arith::SIToFPOp::create(kb, loc, f32, total), as);
      memref::StoreOp::create(kb, loc, arith::SelectOp::create(kb, loc, inside, uv, zeroF), v.u,
                              ValueRange{m, blk});
      scf::YieldOp::create(kb, loc);
    });
    scf::YieldOp::create(mb, loc);
  });
  emitVnniGemv(v);
  op.erase();
}

/// The float-activation packed GEMV (`q4_gemv` / `q8_gemv`) on VNNI: A is
/// carried exactly enough for fp32 results as kSplitPieces int8 pieces per
/// block (c0 + c1 / 254 + c2 / 254^2 times max|a| / 127: 23-bit fixed
/// point against the block's largest |a|; each piece codes the previous
/// one's residual, which base 254 keeps within +-127), made once per
/// call; then the VNNI GEMV with three vpdpbusd per byte of weights
/// instead of float conversions (the products are exact in int32). The
/// zero points' share uses the blocks' float sums of A.
static constexpr int64_t kSplitPieces = 3;

static void rewriteQ4GemvSplit(linalg::GenericOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  bool q8 = isQ8(op);
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  unsigned shift = q8 ? 1 : 0;
  Value aE = op.getDpsInputOperand(0)->get();
  Value aO = q8 ? Value() : op.getDpsInputOperand(1)->get();
  VnniOperands v;
  v.op = op;
  v.bq = op.getDpsInputOperand(2 - shift)->get();
  v.sc = op.getDpsInputOperand(3 - shift)->get();
  v.zp = op->hasAttr(sp::kZeroPointAttrName) ? Value() : op.getDpsInputOperand(4 - shift)->get();
  v.out = op.getDpsInitOperand(0)->get();
  v.bb = op->getAttrOfType<IntegerAttr>(sp::kBlockBytesAttrName).getInt();
  int64_t bb = v.bb;
  auto cst = [&](OpBuilder &ob, int64_t c) { return arith::ConstantIndexOp::create(ob, loc, c); };
  v.blocks = memref::DimOp::create(b, loc, v.sc, 1);
  // All of A's preparation once per call (before the tasks' loop where A
  // comes from outside it).
  Operation *at = onceBefore(op, {aE, aO});
  OpBuilder pre(at);
  Value M = memref::DimOp::create(pre, loc, aE, 0);
  Value Kh = memref::DimOp::create(pre, loc, aE, 1);
  Value blocksA = arith::DivUIOp::create(pre, loc, Kh, cst(pre, bb));
  v.padded = arith::MulIOp::create(
      pre, loc, arith::CeilDivUIOp::create(pre, loc, blocksA, cst(pre, 16)), cst(pre, 16));
  v.u = blockSumsOfA(pre, loc, aE, aO, M, blocksA, v.padded, bb);
  // The pieces' codes, one [M, Kh] buffer per half and piece, and the
  // activation scale per 4 bytes.
  auto dyn2 = [&](Type t) {
    return MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic}, t);
  };
  SmallVector<Value> halves = {aE};
  if (aO)
    halves.push_back(aO);
  SmallVector<SmallVector<Value>> codes(halves.size());
  for (auto &h : codes)
    for (int64_t pc = 0; pc < kSplitPieces; ++pc)
      h.push_back(memref::AllocOp::create(pre, loc, dyn2(i8), ValueRange{M, Kh}));
  Value lanes = arith::CeilDivUIOp::create(pre, loc, Kh, cst(pre, 4));
  v.asl = memref::AllocOp::create(pre, loc, dyn2(f32), ValueRange{M, lanes});
  auto splat = [&](OpBuilder &ob, Value s) { return vector::BroadcastOp::create(ob, loc, vec(16, f32), s); };
  auto fconst = [&](OpBuilder &ob, float c) {
    return arith::ConstantOp::create(ob, loc, f32, ob.getF32FloatAttr(c)).getResult();
  };
  Value lim = vector::BroadcastOp::create(pre, loc, vec(16, f32), fconst(pre, 127.0f));
  Value nlim = vector::BroadcastOp::create(pre, loc, vec(16, f32), fconst(pre, -127.0f));
  Value zf = arith::ConstantOp::create(pre, loc, vec(16, f32), pre.getZeroAttr(vec(16, f32)));
  scf::ForOp::create(pre, loc, cst(pre, 0), M, cst(pre, 1), ValueRange{},
                     [&](OpBuilder &mb, Location, Value m, ValueRange) {
    scf::ForOp::create(mb, loc, cst(mb, 0), blocksA, cst(mb, 1), ValueRange{},
                       [&](OpBuilder &kb, Location, Value blk, ValueRange) {
      Value base = arith::MulIOp::create(kb, loc, blk, cst(kb, bb));
      // The block's largest |a|.
      Value mx = zf;
      for (int64_t sub = 0; sub < bb; sub += 16) {
        Value kk = arith::AddIOp::create(kb, loc, base, cst(kb, sub));
        for (Value h : halves)
          mx = arith::MaximumFOp::create(
              kb, loc, mx,
              math::AbsFOp::create(kb, loc,
                                   vector::LoadOp::create(kb, loc, vec(16, f32), h,
                                                          ValueRange{m, kk})));
      }
      Value amax = vector::ReductionOp::create(kb, loc, vector::CombiningKind::MAXIMUMF, mx);
      Value pos = arith::CmpFOp::create(kb, loc, arith::CmpFPredicate::OGT, amax, fconst(kb, 0.0f));
      Value inv = arith::SelectOp::create(
          kb, loc, pos, arith::DivFOp::create(kb, loc, fconst(kb, 127.0f), amax), fconst(kb, 0.0f));
      Value s = arith::DivFOp::create(kb, loc, amax, fconst(kb, 127.0f));
      // Piece p: codes of the residual at scale s / 254^p.
      SmallVector<Value> invs, scales;
      for (int64_t pc = 0; pc < kSplitPieces; ++pc) {
        float w = std::pow(float(kPieceBase), float(pc));
        invs.push_back(splat(kb, arith::MulFOp::create(kb, loc, inv, fconst(kb, w))));
        scales.push_back(splat(kb, arith::MulFOp::create(kb, loc, s, fconst(kb, 1.0f / w))));
      }
      for (int64_t sub = 0; sub < bb; sub += 16) {
        Value kk = arith::AddIOp::create(kb, loc, base, cst(kb, sub));
        for (size_t hh = 0; hh < halves.size(); ++hh) {
          Value r = vector::LoadOp::create(kb, loc, vec(16, f32), halves[hh], ValueRange{m, kk});
          for (int64_t pc = 0; pc < kSplitPieces; ++pc) {
            Value c = math::RoundEvenOp::create(kb, loc, arith::MulFOp::create(kb, loc, r, invs[pc]));
            c = arith::MinimumFOp::create(kb, loc, arith::MaximumFOp::create(kb, loc, c, nlim), lim);
            Value ci = arith::TruncIOp::create(
                kb, loc, vec(16, i8), arith::FPToSIOp::create(kb, loc, vec(16, i32), c));
            vector::StoreOp::create(kb, loc, ci, codes[hh][pc], ValueRange{m, kk});
            if (pc + 1 < kSplitPieces)
              r = vector::FMAOp::create(kb, loc, arith::NegFOp::create(kb, loc, c), scales[pc], r);
          }
        }
      }
      // Its 4-byte lanes' activation scale.
      Value l0 = arith::DivUIOp::create(kb, loc, base, cst(kb, 4));
      scf::ForOp::create(kb, loc, cst(kb, 0), cst(kb, bb / 4), cst(kb, 1), ValueRange{},
                         [&](OpBuilder &lb, Location, Value l, ValueRange) {
                           memref::StoreOp::create(lb, loc, s, v.asl,
                                                   ValueRange{m, arith::AddIOp::create(lb, loc, l0, l)});
                           scf::YieldOp::create(lb, loc);
                         });
      scf::YieldOp::create(kb, loc);
    });
    scf::YieldOp::create(mb, loc);
  });
  for (int64_t pc = 0; pc < kSplitPieces; ++pc) {
    v.evens.push_back(codes[0][pc]);
    if (aO)
      v.odds.push_back(codes[1][pc]);
  }
  // The VNNI kernel for finite activations (else the reference loops).
  OpBuilder kb = finiteBranch(op, v.u, at);
  auto vnniOp = cast<linalg::GenericOp>(kb.clone(*op));
  v.op = vnniOp;
  emitVnniGemv(v);
  vnniOp.erase();
  b.setInsertionPointAfter(at);
  for (auto &h : codes)
    for (Value c : h)
      memref::DeallocOp::create(b, loc, c);
  memref::DeallocOp::create(b, loc, v.asl);
  op.erase();
}

//===----------------------------------------------------------------------===//
// Dynamic-quantization GEMV (VNNI): uint8 codes of A . 8-bit weight codes
//===----------------------------------------------------------------------===//

/// The generic tagged `q8_dyn` by the quantized matmul lowering (activation
/// `dynamic`, 8-bit weights): ins (A's uint8 codes [M, K], weight codes
/// [N, K], the weights' zero point per row [N, 1] unless one
/// `sparsa.zero_point` serves all, A's zero point [1] i32), out i32 [M, N]
/// += (x_q - x_zp) * (q - z).
static bool isDynVnni(linalg::GenericOp op) {
  auto kind = op->getAttrOfType<StringAttr>(sp::kKernelAttrName);
  bool zInput = !op->hasAttr(sp::kZeroPointAttrName);
  if (!kind || kind.getValue() != "q8_dyn" || !op.hasPureBufferSemantics() ||
      op.getNumDpsInits() != 1 || op.getNumDpsInputs() != (zInput ? 4u : 3u))
    return false;
  return allUnitInnerStride(op);
}

/// Per output column n: one pass over the weight row for the sum of its
/// codes, then per row m of A the dot product of A's codes (the unsigned
/// operand of vpdpbusd) with the codes minus 128 (the signed one), 64
/// bytes per step, exact in int32; the zero points enter once per output:
/// sum (x - xz)(q - z) = D + 128 SA - z SA - xz SQ + K xz z.
static void rewriteDynVnni(linalg::GenericOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), i64 = b.getI64Type();
  auto vec = [](int64_t n, Type t) { return VectorType::get({n}, t); };
  bool hasZp = op.getNumDpsInputs() == 4;
  Value xq = op.getDpsInputOperand(0)->get(), bq = op.getDpsInputOperand(1)->get();
  Value zp = hasZp ? op.getDpsInputOperand(2)->get() : Value();
  Value xzT = op.getDpsInputOperand(hasZp ? 3 : 2)->get();
  Value out = op.getDpsInitOperand(0)->get();
  auto cst = [&](OpBuilder &ob, int64_t v) { return arith::ConstantIndexOp::create(ob, loc, v); };
  Value M = memref::DimOp::create(b, loc, out, 0), N = memref::DimOp::create(b, loc, out, 1);
  Value K = memref::DimOp::create(b, loc, xq, 1);
  auto splat = [&](VectorType t, Attribute a) {
    return arith::ConstantOp::create(b, loc, t, DenseElementsAttr::get(t, a)).getResult();
  };
  Value zi = splat(vec(16, i32), b.getI32IntegerAttr(0));
  Value zi8 = splat(vec(64, i8), b.getI8IntegerAttr(0));
  Value ones = splat(vec(64, i8), b.getI8IntegerAttr(1));
  Value flip = splat(vec(64, i8), b.getI8IntegerAttr(-128));
  StringAttr dpbusd = b.getStringAttr("llvm.x86.avx512.vpdpbusd.512");
  auto dot = [&](OpBuilder &kb, Value acc, Value u, Value s) {
    return LLVM::CallIntrinsicOp::create(kb, loc, vec(16, i32), dpbusd, ValueRange{acc, u, s})
        .getResult(0);
  };
  Value full = arith::DivUIOp::create(b, loc, K, cst(b, 64));
  Value pTail = arith::MulIOp::create(b, loc, full, cst(b, 64));
  Value rest = arith::SubIOp::create(b, loc, K, pTail);
  Value hasTail = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rest, cst(b, 0));
  auto load = [&](OpBuilder &kb, Value mem, ValueRange idx, Value count) -> Value {
    if (!count)
      return vector::LoadOp::create(kb, loc, vec(64, i8), mem, idx);
    Value mask = vector::CreateMaskOp::create(kb, loc, vec(64, kb.getI1Type()), ValueRange{count});
    return vector::MaskedLoadOp::create(kb, loc, vec(64, i8), mem, idx, mask, zi8);
  };
  // sum over the row (full steps, then the masked tail) of f(step).
  auto rowSum = [&](OpBuilder &ob, function_ref<Value(OpBuilder &, Value, Value, Value)> f) {
    auto loop = scf::ForOp::create(ob, loc, cst(ob, 0), full, cst(ob, 1), ValueRange{zi},
                                   [&](OpBuilder &kb, Location, Value v, ValueRange acc) {
                                     Value p = arith::MulIOp::create(kb, loc, v, cst(kb, 64));
                                     scf::YieldOp::create(kb, loc, f(kb, p, Value(), acc[0]));
                                   });
    auto tail = scf::IfOp::create(
        ob, loc, hasTail,
        [&](OpBuilder &kb, Location) {
          scf::YieldOp::create(kb, loc, f(kb, pTail, rest, loop.getResult(0)));
        },
        [&](OpBuilder &kb, Location) { scf::YieldOp::create(kb, loc, loop.getResult(0)); });
    Value s = vector::ReductionOp::create(ob, loc, vector::CombiningKind::ADD, tail.getResult(0));
    return arith::ExtSIOp::create(ob, loc, i64, s).getResult();
  };
  Value xz = arith::ExtSIOp::create(
      b, loc, i64, memref::LoadOp::create(b, loc, xzT, ValueRange{cst(b, 0)}));
  Value K64 = arith::IndexCastOp::create(b, loc, i64, K);
  // Per row of A: the sum of its codes.
  Value sa = memref::AllocaOp::create(b, loc, MemRefType::get({ShapedType::kDynamic}, i64),
                                      ValueRange{M});
  scf::ForOp::create(b, loc, cst(b, 0), M, cst(b, 1), ValueRange{},
                     [&](OpBuilder &mb, Location, Value m, ValueRange) {
    Value s = rowSum(mb, [&](OpBuilder &kb, Value p, Value count, Value acc) {
      return dot(kb, acc, load(kb, xq, ValueRange{m, p}, count), ones);
    });
    memref::StoreOp::create(mb, loc, s, sa, ValueRange{m});
    scf::YieldOp::create(mb, loc);
  });
  auto i64c = [&](OpBuilder &ob, int64_t v) {
    return arith::ConstantOp::create(ob, loc, i64, ob.getI64IntegerAttr(v)).getResult();
  };
  scf::ForOp::create(b, loc, cst(b, 0), N, cst(b, 1), ValueRange{},
                     [&](OpBuilder &nb, Location, Value n, ValueRange) {
    Value z = hasZp ? arith::ExtUIOp::create(
                          nb, loc, i64, memref::LoadOp::create(nb, loc, zp, ValueRange{n, cst(nb, 0)}))
                          .getResult()
                    : i64c(nb, int64_t(cast<FloatAttr>(op->getAttr(sp::kZeroPointAttrName))
                                           .getValueAsDouble()));
    scf::ForOp::create(nb, loc, cst(nb, 0), M, cst(nb, 1), ValueRange{},
                       [&](OpBuilder &mb, Location, Value m, ValueRange) {
      // One pass: D = sum x (q - 128) and the row's sum (q - 128).
      auto step = [&](OpBuilder &kb, Value p, Value count, ValueRange acc) {
        Value w = arith::XOrIOp::create(kb, loc, load(kb, bq, ValueRange{n, p}, count), flip);
        Value d = dot(kb, acc[0], load(kb, xq, ValueRange{m, p}, count), w);
        if (count) // masked-off bytes read 0, i.e. -128 once flipped
          w = arith::SelectOp::create(
              kb, loc,
              vector::CreateMaskOp::create(kb, loc, vec(64, kb.getI1Type()), ValueRange{count}),
              w, zi8);
        return SmallVector<Value>{d, dot(kb, acc[1], ones, w)};
      };
      auto loop = scf::ForOp::create(mb, loc, cst(mb, 0), full, cst(mb, 1), ValueRange{zi, zi},
                                     [&](OpBuilder &kb, Location, Value v, ValueRange acc) {
                                       Value p = arith::MulIOp::create(kb, loc, v, cst(kb, 64));
                                       scf::YieldOp::create(kb, loc, step(kb, p, Value(), acc));
                                     });
      auto tail = scf::IfOp::create(
          mb, loc, hasTail,
          [&](OpBuilder &kb, Location) {
            scf::YieldOp::create(kb, loc, step(kb, pTail, rest, loop.getResults()));
          },
          [&](OpBuilder &kb, Location) { scf::YieldOp::create(kb, loc, loop.getResults()); });
      auto total = [&](Value v) {
        Value s = vector::ReductionOp::create(mb, loc, vector::CombiningKind::ADD, v);
        return arith::ExtSIOp::create(mb, loc, i64, s).getResult();
      };
      Value d = total(tail.getResult(0));
      // The sum of the row's codes: sum (q - 128) + 128 K.
      Value sq = arith::AddIOp::create(mb, loc, total(tail.getResult(1)),
                                       arith::MulIOp::create(mb, loc, i64c(mb, 128), K64));
      Value s = memref::LoadOp::create(mb, loc, sa, ValueRange{m});
      // D + (128 - z) SA - xz SQ + K xz z
      Value t = arith::AddIOp::create(
          mb, loc, d, arith::MulIOp::create(mb, loc, arith::SubIOp::create(mb, loc, i64c(mb, 128), z), s));
      t = arith::SubIOp::create(mb, loc, t, arith::MulIOp::create(mb, loc, xz, sq));
      t = arith::AddIOp::create(
          mb, loc, t, arith::MulIOp::create(mb, loc, K64, arith::MulIOp::create(mb, loc, xz, z)));
      Value old = memref::LoadOp::create(mb, loc, out, ValueRange{m, n});
      Value sum = arith::AddIOp::create(mb, loc, old, arith::TruncIOp::create(mb, loc, i32, t));
      memref::StoreOp::create(mb, loc, sum, out, ValueRange{m, n});
      scf::YieldOp::create(mb, loc);
    });
    scf::YieldOp::create(nb, loc);
  });
  op.erase();
}

//===----------------------------------------------------------------------===//
// Row reductions
//===----------------------------------------------------------------------===//

namespace {
/// A reduction over the innermost loop: `out[p] = combine(out[p], f(in...))`
/// with f element-wise.
struct RowReduction {
  linalg::GenericOp op;
  Operation *combine;
  vector::CombiningKind kind;
};
} // namespace

static std::optional<RowReduction> matchRowReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumDpsInputs() < 1)
    return std::nullopt;
  unsigned numLoops = op.getNumLoops();
  auto iters = op.getIteratorTypesArray();
  if (numLoops < 1 || iters.back() != utils::IteratorType::reduction ||
      op.getNumReductionLoops() != 1)
    return std::nullopt;
  // The output: the parallel loops in order.
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outMap != AffineMap::getMultiDimIdentityMap(numLoops, op.getContext())
                    .getMajorSubMap(numLoops - 1))
    return std::nullopt;
  if (!unitInnerStride(op.getDpsInitOperand(0)->get()) && numLoops > 1)
    return std::nullopt;
  unsigned r = numLoops - 1;
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap m = op.getMatchingIndexingMap(in);
    if (!m.isProjectedPermutation())
      return std::nullopt;
    bool usesR = m.isFunctionOfDim(r);
    if (usesR && (m.getResults().back() != getAffineDimExpr(r, op.getContext()) ||
                  !unitInnerStride(in->get())))
      return std::nullopt;
  }
  Block &body = op.getRegion().front();
  Value acc = body.getArguments().back();
  if (!acc.getType().isF32() || !acc.hasOneUse())
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Operation *combine = yield.getValues().front().getDefiningOp();
  if (!combine || *acc.getUsers().begin() != combine)
    return std::nullopt;
  std::optional<vector::CombiningKind> kind;
  if (isa<arith::AddFOp>(combine))
    kind = vector::CombiningKind::ADD;
  else if (isa<arith::MaximumFOp>(combine))
    kind = vector::CombiningKind::MAXIMUMF;
  else if (isa<arith::MinimumFOp>(combine))
    kind = vector::CombiningKind::MINIMUMF;
  if (!kind)
    return std::nullopt;
  // Everything else: element-wise arith / math on scalars, no indices.
  for (Operation &o : body.without_terminator()) {
    if (&o == combine)
      continue;
    bool elementwise = o.hasTrait<OpTrait::Elementwise>() || isa<arith::ConstantOp>(o);
    if (!elementwise || o.getNumRegions() != 0 ||
        !llvm::all_of(o.getResultTypes(), [](Type t) { return t.isIntOrFloat(); }))
      return std::nullopt;
  }
  return RowReduction{op, combine, *kind};
}

/// Independent vector accumulators of a row reduction.
static constexpr int64_t kReductionUnroll = 4;

/// Vectorizes a row reduction: per output element, kReductionUnroll vector
/// accumulators run over the row (masked tails), then they are combined
/// and reduced across lanes once.
static void rewriteRowReduction(const RowReduction &rr, int64_t vectorBits) {
  linalg::GenericOp op = rr.op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type f32 = b.getF32Type();
  int64_t vl = vectorBits / 32;
  auto vecType = VectorType::get({vl}, f32);
  auto maskType = VectorType::get({vl}, b.getI1Type());
  unsigned numLoops = op.getNumLoops(), r = numLoops - 1;
  SmallVector<Range, 4> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  auto cst = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  SmallVector<Value> iv(numLoops);
  OpBuilder::InsertionGuard guard(b);
  for (unsigned d = 0; d < r; ++d) {
    auto loop = scf::ForOp::create(
        b, loc, cst(0), getValueOrCreateConstantIndexOp(b, loc, ranges[d].size), cst(1));
    b.setInsertionPoint(loop.getBody()->getTerminator());
    iv[d] = loop.getInductionVar();
  }
  auto indices = [&](OpOperand *o) {
    SmallVector<Value> idx;
    for (AffineExpr e : op.getMatchingIndexingMap(o).getResults())
      idx.push_back(iv[cast<AffineDimExpr>(e).getPosition()]);
    return idx;
  };
  Block &body = op.getRegion().front();
  // Row-invariant inputs: loaded once, broadcast.
  IRMapping map;
  for (OpOperand *in : op.getDpsInputOperands())
    if (!op.getMatchingIndexingMap(in).isFunctionOfDim(r)) {
      Value sc = memref::LoadOp::create(b, loc, in->get(), indices(in));
      map.map(body.getArgument(in->getOperandNumber()),
              vector::BroadcastOp::create(b, loc, vecType, sc).getResult());
    }
  // Scalars captured from outside the body: broadcast once.
  for (Operation &o : body.without_terminator())
    for (Value operand : o.getOperands())
      if (!map.contains(operand) && operand.getParentRegion() != &op.getRegion() &&
          operand.getType().isIntOrFloat())
        map.map(operand, vector::BroadcastOp::create(
                             b, loc, VectorType::get({vl}, operand.getType()), operand)
                             .getResult());
  auto fm = arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
  TypedAttr identity;
  if (rr.kind == vector::CombiningKind::ADD)
    identity = b.getF32FloatAttr(0.0f);
  else
    identity = b.getF32FloatAttr(rr.kind == vector::CombiningKind::MAXIMUMF
                                     ? -std::numeric_limits<float>::infinity()
                                     : std::numeric_limits<float>::infinity());
  Value init = arith::ConstantOp::create(b, loc, vecType,
                                         DenseElementsAttr::get(vecType, identity));
  Value R = getValueOrCreateConstantIndexOp(b, loc, ranges[r].size);
  // U independent accumulators, so consecutive vectors do not wait on one
  // another's combine (an add's latency is several cycles).
  int64_t staticR = op.getStaticLoopRanges()[r];
  int64_t unroll = ShapedType::isDynamic(staticR)
                       ? kReductionUnroll
                       : std::clamp<int64_t>(llvm::divideCeil(staticR, vl), 1, kReductionUnroll);
  Value accArg = body.getArguments().back();
  Value other = rr.combine->getOperand(0) == accArg ? rr.combine->getOperand(1)
                                                    : rr.combine->getOperand(0);
  auto loop = scf::ForOp::create(
      b, loc, cst(0), R, cst(vl * unroll), SmallVector<Value>(unroll, init),
      [&](OpBuilder &nb, Location l, Value j0, ValueRange iter) {
        SmallVector<Value> next;
        for (int64_t u = 0; u < unroll; ++u) {
          Value j = arith::AddIOp::create(nb, l, j0, arith::ConstantIndexOp::create(nb, l, u * vl));
          iv[r] = j;
          Value rem = arith::SubIOp::create(nb, l, R, j);
          Value mask = vector::CreateMaskOp::create(nb, l, maskType, ValueRange{rem});
          IRMapping m = map;
          for (OpOperand *in : op.getDpsInputOperands()) {
            if (!op.getMatchingIndexingMap(in).isFunctionOfDim(r))
              continue;
            auto inType = VectorType::get({vl}, getElementTypeOrSelf(in->get()));
            Value pass = arith::ConstantOp::create(nb, l, inType, nb.getZeroAttr(inType));
            SmallVector<Value> idx;
            for (AffineExpr e : op.getMatchingIndexingMap(in).getResults())
              idx.push_back(iv[cast<AffineDimExpr>(e).getPosition()]);
            m.map(body.getArgument(in->getOperandNumber()),
                  vector::MaskedLoadOp::create(nb, l, inType, in->get(), idx, mask, pass)
                      .getResult());
          }
          for (Operation &o : body.without_terminator()) {
            if (&o == rr.combine)
              break;
            if (auto c = dyn_cast<arith::ConstantOp>(o)) {
              auto vt = VectorType::get({vl}, c.getType());
              Value scalar = nb.clone(o)->getResult(0);
              m.map(c.getResult(), vector::BroadcastOp::create(nb, l, vt, scalar).getResult());
              continue;
            }
            Operation *clone = nb.clone(o, m);
            for (auto [res, orig] : llvm::zip(clone->getResults(), o.getResults()))
              res.setType(VectorType::get({vl}, orig.getType()));
          }
          // The combiner on vectors; lanes past the row keep the old value.
          Value v = m.lookupOrDefault(other);
          if (!isa<VectorType>(v.getType()))
            v = vector::BroadcastOp::create(nb, l, vecType, v);
          Operation *comb = nb.clone(*rr.combine, m);
          comb->setOperands({iter[u], v});
          comb->getResult(0).setType(vecType);
          if (auto fmi = dyn_cast<arith::ArithFastMathInterface>(comb))
            comb->setAttr(fmi.getFastMathAttrName(),
                          arith::FastMathFlagsAttr::get(nb.getContext(), fm));
          next.push_back(arith::SelectOp::create(nb, l, mask, comb->getResult(0), iter[u]));
        }
        scf::YieldOp::create(nb, l, next);
      });
  // The accumulators combined pairwise, then across lanes.
  Value acc = loop.getResult(0);
  for (int64_t u = 1; u < unroll; ++u) {
    Operation *comb = b.clone(*rr.combine);
    comb->setOperands({acc, loop.getResult(u)});
    comb->getResult(0).setType(vecType);
    if (auto fmi = dyn_cast<arith::ArithFastMathInterface>(comb))
      comb->setAttr(fmi.getFastMathAttrName(), arith::FastMathFlagsAttr::get(b.getContext(), fm));
    acc = comb->getResult(0);
  }
  OpOperand *out = op.getDpsInitOperand(0);
  Value old = memref::LoadOp::create(b, loc, out->get(), indices(out));
  Value red = vector::ReductionOp::create(b, loc, rr.kind, acc, old, fm);
  memref::StoreOp::create(b, loc, red, out->get(), indices(out));
  op.erase();
}

namespace {
struct ContractionKernelsPass final
    : sparsa::impl::ContractionKernelsPassBase<ContractionKernelsPass> {
  using ContractionKernelsPassBase::ContractionKernelsPassBase;

  static constexpr int64_t kGemmRows = kGemmPanelRows, kGemmVectors = kGemmPanelVectors;
  /// k steps per block: a packed panel (64 KiB) is streamed from L2 by the
  /// row tiles, which amortizes packing over more work; a B read in place
  /// (in L2 already) takes blocks whose 32 KiB stay in L1.
  static constexpr int64_t kGemmDepth = 256, kInPlaceDepth = 128;
  static constexpr int64_t kGemvRows = 8, kGemvVectors = 2;
  static constexpr int64_t kMaxGemvRows = 4;
  /// Rows known only at run time up to which B is streamed once (the C
  /// rows stay in L2) instead of packed.
  static constexpr int64_t kMaxStreamRows = 16;
  /// Largest B (bytes) the GEMM reads in place rather than packing.
  static constexpr int64_t kInPlaceBytes = 256 * 1024;

  void runOnOperation() override {
    // One walk; a generic that is both (a dot-product-shaped contraction)
    // gets the contraction kernel.
    SmallVector<Contraction> found;
    SmallVector<RowReduction> rows;
    SmallVector<Gathered> gathered;
    SmallVector<QGathered> qGathered;
    SmallVector<QGatherDot> qDots;
    SmallVector<linalg::GenericOp> q4, qGemms, qGemmsKN, vnniOps;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isQ4Gemv(op))
        q4.push_back(op);
      else if (isQGemm(op))
        qGemms.push_back(op);
      else if (isQGemmKN(op))
        qGemmsKN.push_back(op);
      else if (auto qg = vectorBits >= 512 ? matchQGathered(op) : std::nullopt)
        qGathered.push_back(*qg);
      else if (auto qd = vectorBits >= 512 ? matchQGatherDot(op) : std::nullopt)
        qDots.push_back(*qd);
      else if (vnni && vectorBits >= 512 && (isVnniGemv(op) || isDynVnni(op)))
        vnniOps.push_back(op);
      else if (auto g = matchGathered(op))
        gathered.push_back(*g);
      else if (auto c = match(op))
        found.push_back(*c);
      else if (auto rr = matchRowReduction(op))
        rows.push_back(*rr);
    });
    for (Contraction &c : found)
      rewrite(c);
    for (RowReduction &rr : rows)
      rewriteRowReduction(rr, vectorBits);
    for (Gathered &g : gathered)
      rewriteGathered(g, vectorBits);
    for (QGathered &g : qGathered)
      rewriteQGathered(g);
    for (QGatherDot &g : qDots)
      rewriteQGatherDot(g);
    for (linalg::GenericOp op : q4) {
      int64_t bb = op->getAttrOfType<IntegerAttr>(sp::kBlockBytesAttrName).getInt();
      if (vnni && vectorBits >= 512 && stepsKeepBlocks(bb))
        rewriteQ4GemvSplit(op);
      else
        rewriteQ4Gemv(op, vectorBits >= 512);
    }
    for (linalg::GenericOp op : qGemms)
      rewriteQGemm(op, vectorBits >= 512);
    for (linalg::GenericOp op : qGemmsKN)
      rewriteQGemmKN(op);
    for (linalg::GenericOp op : vnniOps) {
      if (isDynVnni(op))
        rewriteDynVnni(op);
      else
        rewriteVnniGemv(op);
    }
  }

  void rewrite(Contraction &c) {
    OpBuilder b(c.op);
    Location loc = c.op.getLoc();
    Type elt = cast<MemRefType>(c.c->get().getType()).getElementType();
    int64_t vl = std::max<int64_t>(1, vectorBits / elt.getIntOrFloatBitWidth());
    Emitter e{b, loc, c, VectorType::get({vl}, elt), vl,
              SmallVector<Value>(c.op.getNumLoops())};
    SmallVector<Range, 4> ranges =
        cast<linalg::LinalgOp>(c.op.getOperation()).createLoopRanges(b, loc);
    auto size = [&](int64_t d) {
      return getValueOrCreateConstantIndexOp(b, loc, ranges[d].size);
    };
    Value n = size(c.n), k = size(c.k);
    Value m = c.m >= 0 ? size(c.m) : e.cst(1);
    int64_t staticRows = 1;
    if (c.m >= 0)
      staticRows = c.op.getStaticLoopRanges()[c.m];
    bool gemv = !ShapedType::isDynamic(staticRows) && staticRows <= kMaxGemvRows;
    // Batch loops outermost.
    OpBuilder::InsertionGuard guard(b);
    for (int64_t d : c.outer) {
      auto loop = scf::ForOp::create(b, loc, e.cst(0), size(d), e.cst(1));
      b.setInsertionPoint(loop.getBody()->getTerminator());
      e.iv[d] = loop.getInductionVar();
    }
    auto rowLoop = [&](Value lo, Value hi, int64_t step,
                       llvm::function_ref<void(Value)> body) {
      auto loop = scf::ForOp::create(b, loc, lo, hi, e.cst(step));
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      body(loop.getInductionVar());
    };
    auto emitGemv = [&] {
      // KR rows of B at a time (then the leftover rows), applied to every
      // row of C before moving on: the block of B stays in L2 across the
      // few rows, so B streams from memory once.
      auto rows = [&](Value k0, int64_t kr) {
        rowLoop(e.cst(0), m, 1, [&](Value row) {
          if (c.m >= 0)
            e.iv[c.m] = row;
          emitGemvRows(e, k0, kr, n, kGemvVectors);
        });
      };
      Value kMain = arith::SubIOp::create(
          b, loc, k, arith::RemUIOp::create(b, loc, k, e.cst(kGemvRows)));
      rowLoop(e.cst(0), kMain, kGemvRows, [&](Value k0) { rows(k0, kGemvRows); });
      rowLoop(kMain, k, 1, [&](Value k0) { rows(k0, 1); });
    };
    // A C that was just zero-filled needs no fill when the GEMM tiles run
    // (they start from zero registers in the first k block instead).
    linalg::FillOp zeroFill = !gemv && !ShapedType::isDynamic(staticRows)
                                  ? precedingZeroFill(c.op, c.c->get())
                                  : linalg::FillOp();
    // B small enough to stay in L2 (attention's K^T and V blocks) is read
    // in place: packing it would copy it once per row block for nothing.
    int64_t staticK = c.op.getStaticLoopRanges()[c.k], staticN = c.op.getStaticLoopRanges()[c.n];
    // So is a B no wider than one panel: its rows already are the panel's
    // rows (a copy would only reorder nothing), whatever its depth.
    bool inPlace = !ShapedType::isDynamic(staticN) &&
                   (staticN <= kGemmVectors * vl ||
                    (!ShapedType::isDynamic(staticK) &&
                     staticK * staticN * (elt.getIntOrFloatBitWidth() / 8) <= kInPlaceBytes));
    int64_t depth = inPlace ? kInPlaceDepth : kGemmDepth;
    auto emitGemm = [&] {
      // Column blocks outer, then blocks of kGemmDepth reductions (the B
      // panel of a block, depth x 64 columns, stays in L2 across the row
      // tiles), then MR-row tiles, then the leftover rows.
      Value packed;
      if (!inPlace) {
        auto panelType = MemRefType::get({depth, kGemmVectors * vl}, elt);
        packed = memref::AllocaOp::create(b, loc, panelType, /*alignment=*/
                                          b.getI64IntegerAttr(64));
      }
      rowLoop(e.cst(0), n, kGemmVectors * vl, [&](Value n0) {
        rowLoop(e.cst(0), k, depth, [&](Value k0) {
          Value k1 = arith::MinUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, k0, e.cst(depth)), k);
          if (packed)
            packPanel(e, packed, k0, k1, n0, n, kGemmVectors);
          Value fresh;
          if (zeroFill)
            fresh = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, k0, e.cst(0));
          Value mMain = arith::SubIOp::create(
              b, loc, m, arith::RemUIOp::create(b, loc, m, e.cst(kGemmRows)));
          rowLoop(e.cst(0), mMain, kGemmRows, [&](Value m0) {
            emitGemmTile(e, m0, kGemmRows, n0, n, kGemmVectors, k0, k1, packed, fresh);
          });
          // Leftover rows: one tile of them (their number known at run
          // time: a switch over the 1-5 tile heights).
          int64_t left = ShapedType::isDynamic(staticRows) ? -1 : staticRows % kGemmRows;
          if (left > 0)
            emitGemmTile(e, mMain, left, n0, n, kGemmVectors, k0, k1, packed, fresh);
          else if (left < 0)
            emitLeftoverTile(e, mMain, m, n0, n, k0, k1, packed, fresh);
        });
      });
      if (zeroFill)
        zeroFill.erase();
    };
    auto emitStream = [&] {
      Value kMain = arith::SubIOp::create(
          b, loc, k, arith::RemUIOp::create(b, loc, k, e.cst(kGemvRows)));
      rowLoop(e.cst(0), kMain, kGemvRows,
              [&](Value k0) { emitStreamRows(e, k0, kGemvRows, m, n, kGemvVectors); });
      rowLoop(kMain, k, 1, [&](Value k0) { emitStreamRows(e, k0, 1, m, n, kGemvVectors); });
    };
    if (gemv) {
      emitGemv();
    } else if (ShapedType::isDynamic(staticRows)) {
      // Rows known at run time only (e.g. the tokens routed to one expert):
      // a few rows stream B once, more take the packed GEMM.
      Value few = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, m,
                                        e.cst(kMaxStreamRows));
      scf::IfOp::create(
          b, loc, few,
          [&](OpBuilder &nb, Location) {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            emitStream();
            scf::YieldOp::create(b, loc);
          },
          [&](OpBuilder &nb, Location) {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            emitGemm();
            scf::YieldOp::create(b, loc);
          });
    } else {
      emitGemm();
    }
    c.op.erase();
  }
};
} // namespace
