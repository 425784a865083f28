//===- GPUQuantizedKernels.cpp - packed-weight GEMV threads for the GPU ---===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The quantized matmul lowering writes a decode GEMV over packed 4- or
// 8-bit codes as one `linalg.generic` over code bytes, tagged for the CPU's
// kernels. As scalar GPU loops each thread would read one byte per
// multiply-add. Here each thread reads 16-byte vectors of codes instead,
// interleaved with the other chunks of its row so a warp's load is one run
// of 512 bytes; with int8 activations the products are four-byte integer
// dot products, which `sparsa-gpu-lower-dp4a` maps to `dp4a` in the device
// module.
//
//===----------------------------------------------------------------------===//

#include "GPUContraction.h"

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"
#include "sparsa/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace sparsa {
#define GEN_PASS_DEF_GPUQUANTIZEDGEMVPASS
#define GEN_PASS_DEF_GPULOWERDP4APASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;

/// Bytes of codes one thread loads at a time.
static constexpr int64_t kVectorBytes = 16;
/// Most chunks one row is split into (a warp's worth).
static constexpr int64_t kMaxChunks = 32;

/// Whether |op| has loops (m, n, k) of kinds (parallel, parallel,
/// reduction) and one 2-D init of |elt| indexed (m, n).
static bool isGemvNest(linalg::LinalgOp op, Type elt) {
  if (op.getNumLoops() != 3 || op.getNumDpsInits() != 1 ||
      op.getIteratorTypesArray() !=
          SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel,
                                           utils::IteratorType::reduction})
    return false;
  MLIRContext *ctx = op.getContext();
  OpOperand *init = op.getDpsInitOperand(0);
  auto outType = dyn_cast<ShapedType>(init->get().getType());
  return outType && outType.hasRank() && outType.getRank() == 2 &&
         outType.getElementType() == elt &&
         op.getMatchingIndexingMap(init) ==
             AffineMap::get(3, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
}

/// Whether input |operand| of |op| has element type |elt|, rank |rank| and
/// the indexing map |exprs| (over m, n, k).
static bool isInput(linalg::LinalgOp op, int64_t operand, ArrayRef<AffineExpr> exprs, Type elt,
                    int64_t rank) {
  OpOperand &o = op->getOpOperand(operand);
  auto type = dyn_cast<ShapedType>(o.get().getType());
  if (!type || !type.hasRank() || type.getRank() != rank || type.getElementType() != elt)
    return false;
  return simplifyAffineMap(op.getMatchingIndexingMap(&o)) ==
         simplifyAffineMap(AffineMap::get(3, 0, exprs, op.getContext()));
}

/// Whether the 2-D |v| has static rows that are whole 16-byte vectors.
static bool vectorRows(Value v) {
  auto type = cast<ShapedType>(v.getType());
  return !ShapedType::isDynamic(type.getDimSize(0)) &&
         !ShapedType::isDynamic(type.getDimSize(1)) && type.getDimSize(1) % kVectorBytes == 0;
}

/// The `q8_dyn` GEMV: `out += (ext(x) - xz) * (ext(q) - z)` in i32 over
/// uint8 codes x [M, K] and q [N, K], z per row (an operand [N] or [N, 1])
/// or constant (`sparsa.zero_point`), xz a one-element operand.
static std::optional<sparsa::GPUQuantizedGemv> planDynamicGemv(linalg::LinalgOp op) {
  MLIRContext *ctx = op.getContext();
  Type i8 = IntegerType::get(ctx, 8), i32 = IntegerType::get(ctx, 32);
  if (!isGemvNest(op, i32))
    return std::nullopt;
  sparsa::GPUQuantizedGemv q;
  q.q8 = q.dynamic = true;
  auto constZp = op->getAttrOfType<FloatAttr>(::sparsa::sparsa::kZeroPointAttrName);
  if (constZp)
    q.zeroPoint = constZp.getValueAsDouble();
  int next = 0;
  q.aEven = next++;
  q.codes = next++;
  if (!constZp)
    q.zeroPoints = next++;
  q.actZeroPoint = next++;
  if (static_cast<int>(op.getNumDpsInputs()) != next)
    return std::nullopt;
  AffineExpr m = getAffineDimExpr(0, ctx), n = getAffineDimExpr(1, ctx),
             k = getAffineDimExpr(2, ctx), zero = getAffineConstantExpr(0, ctx);
  if (!isInput(op, q.aEven, {m, k}, i8, 2) || !isInput(op, q.codes, {n, k}, i8, 2) ||
      !vectorRows(op->getOperand(q.codes)) ||
      !isInput(op, q.actZeroPoint, {zero}, i32, 1) ||
      (q.zeroPoints >= 0 && !isInput(op, q.zeroPoints, {n}, i8, 1) &&
       !isInput(op, q.zeroPoints, {n, zero}, i8, 2)))
    return std::nullopt;
  return q;
}

std::optional<sparsa::GPUQuantizedGemv> sparsa::planGPUQuantizedGemv(linalg::LinalgOp op) {
  auto tag = op->getAttrOfType<StringAttr>(::sparsa::sparsa::kKernelAttrName);
  if (!tag)
    return std::nullopt;
  GPUQuantizedGemv q;
  StringRef kind = tag.getValue();
  if (kind == "q8_dyn")
    return planDynamicGemv(op);
  if (kind == "q4_gemv" || kind == "q8_gemv" || kind == "q4_vnni" || kind == "q8_vnni") {
    q.q8 = kind.starts_with("q8");
    q.int8 = kind.ends_with("vnni");
  } else {
    return std::nullopt;
  }
  auto bytes = op->getAttrOfType<IntegerAttr>(::sparsa::sparsa::kBlockBytesAttrName);
  if (!bytes || bytes.getInt() <= 0 || bytes.getInt() % kVectorBytes != 0)
    return std::nullopt;
  q.blockBytes = bytes.getInt();
  auto constZp = op->getAttrOfType<FloatAttr>(::sparsa::sparsa::kZeroPointAttrName);
  auto packedZp = op->getAttrOfType<IntegerAttr>(::sparsa::sparsa::kPackedZeroPointsAttrName);
  if (constZp && packedZp)
    return std::nullopt;
  if (packedZp) {
    q.zeroPointBits = packedZp.getInt();
    if (q.zeroPointBits != 2 && q.zeroPointBits != 4 && q.zeroPointBits != 8)
      return std::nullopt;
  }
  if (constZp)
    q.zeroPoint = constZp.getValueAsDouble();
  if (!isGemvNest(op, Float32Type::get(op.getContext())))
    return std::nullopt;
  int next = 0;
  q.aEven = next++;
  if (!q.q8)
    q.aOdd = next++;
  q.codes = next++;
  q.scales = next++;
  if (!constZp)
    q.zeroPoints = next++;
  if (q.int8)
    q.actScales = next++;
  if (static_cast<int>(op.getNumDpsInputs()) != next)
    return std::nullopt;

  // Every operand 2-D with the map the lowering gives it.
  MLIRContext *ctx = op.getContext();
  AffineExpr m = getAffineDimExpr(0, ctx), n = getAffineDimExpr(1, ctx),
             kk = getAffineDimExpr(2, ctx);
  Type i8 = IntegerType::get(ctx, 8), f32 = Float32Type::get(ctx);
  auto is = [&](int64_t operand, ArrayRef<AffineExpr> exprs, Type elt) {
    return isInput(op, operand, exprs, elt, 2);
  };
  Type act = q.int8 ? i8 : f32;
  int64_t bb = q.blockBytes;
  if (!is(q.aEven, {m, kk}, act) || (q.aOdd >= 0 && !is(q.aOdd, {m, kk}, act)) ||
      !is(q.codes, {n, kk}, i8) || !is(q.scales, {n, kk.floorDiv(bb)}, f32) ||
      (q.actScales >= 0 && !is(q.actScales, {m, kk.floorDiv(4)}, f32)))
    return std::nullopt;
  if (q.zeroPoints >= 0 &&
      !(q.zeroPointBits ? is(q.zeroPoints, {n, kk.floorDiv(bb).floorDiv(8 / q.zeroPointBits)}, i8)
                        : is(q.zeroPoints, {n, kk.floorDiv(bb)}, f32)))
    return std::nullopt;
  // The code rows: a static whole number of 16-byte vectors.
  if (!vectorRows(op->getOperand(q.codes)))
    return std::nullopt;
  return q;
}

/// Whether every row of |v| starts 16-byte aligned: its last stride is 1
/// and the others are multiples of 16 bytes, and it is an aligned buffer
/// or a view of one that moves by such strides (an expert's slice of
/// stacked weights).
bool sparsa::rowsAligned16(Value v) {
  auto type = dyn_cast<MemRefType>(v.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (!type || failed(type.getStridesAndOffset(strides, offset)) || strides.empty() ||
      strides.back() != 1)
    return false;
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  if (bytes == 0)
    return false;
  auto aligned = [&](int64_t stride) {
    return !ShapedType::isDynamic(stride) && (stride * bytes) % kVectorBytes == 0;
  };
  if (!llvm::all_of(ArrayRef<int64_t>(strides).drop_back(), aligned))
    return false;
  if (auto sub = v.getDefiningOp<memref::SubViewOp>()) {
    SmallVector<int64_t> sourceStrides;
    int64_t sourceOffset;
    if (failed(sub.getSourceType().getStridesAndOffset(sourceStrides, sourceOffset)))
      return false;
    for (auto [at, stride] : llvm::zip(sub.getMixedOffsets(), sourceStrides)) {
      std::optional<int64_t> c = getConstantIntValue(at);
      if (c == 0)
        continue;
      if (ShapedType::isDynamic(stride) ||
          (c ? (*c * stride * bytes) % kVectorBytes != 0 : !aligned(stride)))
        return false;
    }
    return rowsAligned16(sub.getSource());
  }
  if (isa_and_present<memref::CollapseShapeOp, memref::ExpandShapeOp, memref::CastOp>(
          v.getDefiningOp()))
    return rowsAligned16(v.getDefiningOp()->getOperand(0));
  // A constant global kept in the code (the device module gets a copy
  // with its alignment).
  if (auto get = v.getDefiningOp<memref::GetGlobalOp>()) {
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(get, get.getNameAttr());
    return global && global.getAlignment().value_or(1) >= kVectorBytes;
  }
  // alignedBuffer counts in floats: 16 bytes are 4 of them.
  return ::sparsa::alignedBuffer(v, kVectorBytes / 4);
}

/// Whether the 16-byte loads of codes and activations are aligned.
static bool operandsAligned(linalg::LinalgOp op, const sparsa::GPUQuantizedGemv &q) {
  auto ok = [&](int operand) {
    return operand < 0 || sparsa::rowsAligned16(op->getOperand(operand));
  };
  return ok(q.aEven) && ok(q.aOdd) && ok(q.codes);
}

bool sparsa::int8MmaFits(linalg::LinalgOp op, const GPUQuantizedGemv &q) {
  if (!q.int8 || q.dynamic || !op.hasPureBufferSemantics())
    return false;
  auto codesType = cast<MemRefType>(op->getOperand(q.codes).getType());
  int64_t N = codesType.getDimSize(0), Kh = codesType.getDimSize(1);
  if (Kh % 32 != 0 || (q.q8 && q.blockBytes % 32 != 0) || N < 16)
    return false;
  return operandsAligned(op, q);
}

namespace {

struct GPUQuantizedGemvPass final
    : sparsa::impl::GPUQuantizedGemvPassBase<GPUQuantizedGemvPass> {
  using GPUQuantizedGemvPassBase::GPUQuantizedGemvPassBase;

  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, sparsa::GPUQuantizedGemv>> todo;
    getOperation().walk([&](linalg::GenericOp op) {
      if (!op.hasPureBufferSemantics())
        return;
      if (std::optional<sparsa::GPUQuantizedGemv> q = sparsa::planGPUQuantizedGemv(op))
        if (operandsAligned(op, *q))
          todo.push_back({op, *q});
    });
    for (auto &[op, q] : todo) {
      if (int8TensorCores && sparsa::int8MmaFits(op, q)) {
        Value out = op.getDpsInits()[0];
        auto outType = cast<MemRefType>(out.getType());
        // Static rows: enough for an m16 tile, the tensor cores'.
        if (!outType.isDynamicDim(0) && outType.getDimSize(0) >= sparsa::kInt8MmaRows)
          continue;
        if (outType.isDynamicDim(0)) {
          // Rows known at run time: the tensor cores' from 16 on, these
          // threads below.
          OpBuilder b(op);
          Location loc = op.getLoc();
          Value rows = memref::DimOp::create(b, loc, out, 0);
          Value many = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::uge, rows,
              arith::ConstantIndexOp::create(b, loc, sparsa::kInt8MmaRows));
          auto branch = scf::IfOp::create(b, loc, many, /*withElseRegion=*/true);
          b.setInsertionPoint(branch.thenBlock()->getTerminator());
          b.clone(*op);
          b.setInsertionPoint(branch.elseBlock()->getTerminator());
          auto few = cast<linalg::GenericOp>(b.clone(*op));
          build(few, q);
          few.erase();
          op.erase();
          continue;
        }
      }
      build(op, q);
      op.erase();
    }
  }

  void build(linalg::GenericOp op, const sparsa::GPUQuantizedGemv &q) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
    SmallVector<Value> ins(op.getDpsInputs());
    Value out = op.getDpsInits()[0];
    auto input = [&](int i) { return i < 0 ? Value() : ins[i]; };
    Value aEven = input(q.aEven), aOdd = input(q.aOdd), codes = input(q.codes),
          scales = input(q.scales), zeroPoints = input(q.zeroPoints),
          actScales = input(q.actScales), actZeroPoint = input(q.actZeroPoint);
    // The sums: f32, or exact i32 (dynamic).
    Type accType = q.dynamic ? i32 : f32;
    auto add = [&](OpBuilder &nb, Location l, Value x, Value y) -> Value {
      return q.dynamic ? arith::AddIOp::create(nb, l, x, y).getResult()
                       : arith::AddFOp::create(nb, l, x, y).getResult();
    };
    // Index constants, made once before the loops.
    DenseMap<int64_t, Value> constants;
    auto cst = [&](int64_t v) {
      Value &c = constants[v];
      if (!c)
        c = arith::ConstantIndexOp::create(b, loc, v);
      return c;
    };
    auto codesType = cast<MemRefType>(codes.getType());
    int64_t N = codesType.getDimSize(0), Kh = codesType.getDimSize(1);
    int64_t vectors = Kh / kVectorBytes;
    auto outType = cast<MemRefType>(out.getType());
    Value M = outType.isDynamicDim(0) ? memref::DimOp::create(b, loc, out, cst(0)).getResult()
                                      : cst(outType.getDimSize(0));
    // Chunks per row: threads up to the target (a run-time row count
    // counts as one row).
    int64_t rows = outType.isDynamicDim(0) ? 1 : outType.getDimSize(0);
    int64_t chunks = 1;
    while (chunks * 2 <= std::min(kMaxChunks, vectors) &&
           rows * N * chunks * 2 <= targetThreads)
      chunks *= 2;

    // Partial sums [M, N, chunks] (the output itself for one chunk).
    Value partial = out;
    if (chunks > 1) {
      auto partialType = MemRefType::get({outType.getDimSize(0), N, chunks}, accType);
      SmallVector<Value> dyn;
      if (outType.isDynamicDim(0))
        dyn.push_back(M);
      partial = memref::AllocOp::create(b, loc, partialType, dyn,
                                        b.getI64IntegerAttr(kVectorBytes));
    }

    // (Every index constant the loops use exists before them.)
    for (int64_t v : {int64_t(0), int64_t(1), N, chunks, vectors, kVectorBytes,
                      std::max<int64_t>(q.blockBytes, 1), int64_t(4),
                      q.zeroPointBits ? 8 / q.zeroPointBits : 1, q.zeroPointBits})
      cst(v);
    auto vec = [&](int64_t n, Type elt) { return VectorType::get({n}, elt); };
    auto splat = [&](OpBuilder &bb, VectorType type, int64_t v) -> Value {
      return arith::ConstantOp::create(
          bb, loc, type,
          DenseElementsAttr::get(type, bb.getIntegerAttr(type.getElementType(), v)));
    };
    scf::ParallelOp::create(
        b, loc, ValueRange{cst(0), cst(0), cst(0)}, ValueRange{M, cst(N), cst(chunks)},
        ValueRange{cst(1), cst(1), cst(1)},
        [&](OpBuilder &pb, Location, ValueRange ivs) {
          Value m = ivs[0], n = ivs[1], c = ivs[2];
          Value zero = arith::ConstantOp::create(pb, loc, accType, pb.getZeroAttr(accType));
          // Dynamic: both zero points as i32, read once.
          Value zw, zx;
          if (q.dynamic) {
            auto zpType = zeroPoints ? cast<MemRefType>(zeroPoints.getType()) : MemRefType();
            zw = zeroPoints ? arith::ExtUIOp::create(
                                  pb, loc, i32,
                                  memref::LoadOp::create(
                                      pb, loc, zeroPoints,
                                      zpType.getRank() == 1 ? SmallVector<Value>{n}
                                                            : SmallVector<Value>{n, cst(0)}))
                                  .getResult()
                            : arith::ConstantOp::create(
                                  pb, loc, i32, pb.getI32IntegerAttr(int64_t(q.zeroPoint)))
                                  .getResult();
            zx = memref::LoadOp::create(pb, loc, actZeroPoint, ValueRange{cst(0)});
          }
          auto loop = scf::ForOp::create(
              pb, loc, c, cst(vectors), cst(chunks), ValueRange{zero},
              [&](OpBuilder &fb, Location, Value v, ValueRange accs) {
                Value k0 = arith::MulIOp::create(fb, loc, v, cst(kVectorBytes));
                auto load = [&](Value buffer, Value row, VectorType type) -> Value {
                  return vector::LoadOp::create(fb, loc, type, buffer, ValueRange{row, k0},
                                                /*nontemporal=*/false,
                                                llvm::MaybeAlign(kVectorBytes));
                };
                VectorType four32 = vec(4, i32);
                auto slice = [&](Value x, int64_t i) -> Value {
                  // (A shuffle: device code has no strided slices.)
                  return vector::ShuffleOp::create(fb, loc, x, x,
                                                   ArrayRef<int64_t>{i, i + 1, i + 2, i + 3});
                };
                auto reduce = [&](Value x, Value acc) -> Value {
                  return vector::ReductionOp::create(fb, loc, vector::CombiningKind::ADD, x, acc);
                };
                if (q.dynamic) {
                  // sum (x - zx)(w - zw) = dot(x, w) - zw sum(x) - zx sum(w)
                  // + 16 zx zw, the dot products four bytes at a time.
                  Value w = load(codes, n, vec(kVectorBytes, i8));
                  Value x = load(aEven, m, vec(kVectorBytes, i8));
                  Value dot = arith::ConstantOp::create(fb, loc, i32, fb.getI32IntegerAttr(0));
                  Value sx = dot, sw = dot;
                  for (int64_t i = 0; i < kVectorBytes; i += 4) {
                    Value xi = arith::ExtUIOp::create(fb, loc, four32, slice(x, i));
                    Value wi = arith::ExtUIOp::create(fb, loc, four32, slice(w, i));
                    dot = reduce(arith::MulIOp::create(fb, loc, xi, wi), dot);
                    sx = reduce(xi, sx);
                    sw = reduce(wi, sw);
                  }
                  auto mul = [&](Value a, Value b2) -> Value {
                    return arith::MulIOp::create(fb, loc, a, b2);
                  };
                  Value sixteen =
                      arith::ConstantOp::create(fb, loc, i32, fb.getI32IntegerAttr(kVectorBytes));
                  Value t = arith::SubIOp::create(fb, loc, dot, mul(zw, sx));
                  t = arith::SubIOp::create(fb, loc, t, mul(zx, sw));
                  t = arith::AddIOp::create(fb, loc, t, mul(sixteen, mul(zx, zw)));
                  scf::YieldOp::create(fb, loc, ValueRange{arith::AddIOp::create(fb, loc, accs[0], t)});
                  return;
                }
                // One block's codes: its scale and zero point.
                Value blk = arith::DivUIOp::create(fb, loc, k0, cst(q.blockBytes));
                Value scale = memref::LoadOp::create(fb, loc, scales, ValueRange{n, blk});
                Value z;
                if (!zeroPoints) {
                  z = arith::ConstantOp::create(fb, loc, f32, fb.getF32FloatAttr(q.zeroPoint));
                } else if (!q.zeroPointBits) {
                  z = memref::LoadOp::create(fb, loc, zeroPoints, ValueRange{n, blk});
                } else {
                  int64_t per = 8 / q.zeroPointBits;
                  Value byte = memref::LoadOp::create(
                      fb, loc, zeroPoints,
                      ValueRange{n, arith::DivUIOp::create(fb, loc, blk, cst(per))});
                  Value shift = arith::IndexCastOp::create(
                      fb, loc, i32,
                      arith::MulIOp::create(fb, loc, arith::RemUIOp::create(fb, loc, blk, cst(per)),
                                            cst(q.zeroPointBits)));
                  Value field = arith::ShRUIOp::create(
                      fb, loc, arith::ExtUIOp::create(fb, loc, i32, byte), shift);
                  field = arith::AndIOp::create(
                      fb, loc, field,
                      arith::ConstantOp::create(fb, loc, i32,
                                                fb.getI32IntegerAttr((1 << q.zeroPointBits) - 1)));
                  z = arith::UIToFPOp::create(fb, loc, f32, field);
                }
                Value w = load(codes, n, vec(kVectorBytes, i8));
                // The codes as bytes: 8-bit as they are; 4-bit the low
                // nibbles (even k) and the high ones (odd k), masked as
                // 32-bit words.
                SmallVector<Value> codeBytes = {w};
                if (!q.q8) {
                  VectorType words = vec(kVectorBytes / 4, i32);
                  Value w32 = vector::BitCastOp::create(fb, loc, words, w);
                  Value mask = splat(fb, words, 0x0F0F0F0F);
                  Value lo = arith::AndIOp::create(fb, loc, w32, mask);
                  Value hi = arith::AndIOp::create(
                      fb, loc, arith::ShRUIOp::create(fb, loc, w32, splat(fb, words, 4)), mask);
                  codeBytes = {vector::BitCastOp::create(fb, loc, w.getType(), lo),
                               vector::BitCastOp::create(fb, loc, w.getType(), hi)};
                }
                SmallVector<Value> acts = {aEven};
                if (aOdd)
                  acts.push_back(aOdd);
                Value sum = accs[0];
                if (q.int8) {
                  // (dot(a, q) - z * sum(a)) * scale * activation scale, the
                  // dot products four bytes at a time in i32.
                  Value dot = arith::ConstantOp::create(fb, loc, i32, fb.getI32IntegerAttr(0));
                  Value total = dot;
                  for (auto [a, qv] : llvm::zip(acts, codeBytes)) {
                    Value av = load(a, m, vec(kVectorBytes, i8));
                    for (int64_t i = 0; i < kVectorBytes; i += 4) {
                      Value ai = arith::ExtSIOp::create(fb, loc, four32, slice(av, i));
                      Value qi = arith::ExtUIOp::create(fb, loc, four32, slice(qv, i));
                      dot = reduce(arith::MulIOp::create(fb, loc, ai, qi), dot);
                      total = reduce(ai, total);
                    }
                  }
                  Value actScale = memref::LoadOp::create(
                      fb, loc, actScales,
                      ValueRange{m, arith::DivUIOp::create(fb, loc, k0, cst(4))});
                  Value d = arith::SubFOp::create(
                      fb, loc, arith::SIToFPOp::create(fb, loc, f32, dot),
                      arith::MulFOp::create(fb, loc, z,
                                            arith::SIToFPOp::create(fb, loc, f32, total)));
                  Value s = arith::MulFOp::create(fb, loc, scale, actScale);
                  sum = arith::AddFOp::create(fb, loc, sum, arith::MulFOp::create(fb, loc, d, s));
                } else {
                  // Each code dequantized in registers, times its
                  // activation, 16 lanes at a time.
                  VectorType lanes = vec(kVectorBytes, f32);
                  Value zv = vector::BroadcastOp::create(fb, loc, lanes, z);
                  Value sv = vector::BroadcastOp::create(fb, loc, lanes, scale);
                  Value part;
                  for (auto [a, qv] : llvm::zip(acts, codeBytes)) {
                    Value av = load(a, m, lanes);
                    Value wq = arith::UIToFPOp::create(fb, loc, lanes, qv);
                    Value wd = arith::MulFOp::create(
                        fb, loc, arith::SubFOp::create(fb, loc, wq, zv), sv);
                    Value p = arith::MulFOp::create(fb, loc, av, wd);
                    part = part ? arith::AddFOp::create(fb, loc, part, p).getResult() : p;
                  }
                  sum = vector::ReductionOp::create(fb, loc, vector::CombiningKind::ADD, part,
                                                    sum);
                }
                scf::YieldOp::create(fb, loc, sum);
              });
          Value result = loop.getResult(0);
          if (chunks > 1) {
            memref::StoreOp::create(pb, loc, result, partial, ValueRange{m, n, c});
          } else {
            Value prev = memref::LoadOp::create(pb, loc, out, ValueRange{m, n});
            memref::StoreOp::create(pb, loc, add(pb, loc, prev, result), out, ValueRange{m, n});
          }
          scf::ReduceOp::create(pb, loc);
        });
    if (chunks == 1)
      return;
    // out[m, n] += the chunks' partial sums, in chunk order.
    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx);
    linalg::GenericOp::create(
        b, loc, TypeRange{}, ValueRange{partial}, ValueRange{out},
        ArrayRef<AffineMap>{AffineMap::get(3, 0, {d0, d1, d2}, ctx),
                            AffineMap::get(3, 0, {d0, d1}, ctx)},
        ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                      utils::IteratorType::parallel,
                                      utils::IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(nb, l, ValueRange{add(nb, l, args[1], args[0])});
        });
    memref::DeallocOp::create(b, loc, partial);
  }
};

/// `ext(x)` for a vector<4xi8> x: x and whether the extension is signed.
static std::optional<std::pair<Value, bool>> extendedBytes(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def || !isa<arith::ExtSIOp, arith::ExtUIOp>(def))
    return std::nullopt;
  Value in = def->getOperand(0);
  auto type = dyn_cast<VectorType>(in.getType());
  if (!type || type.getShape() != ArrayRef<int64_t>{4} || !type.getElementType().isInteger(8))
    return std::nullopt;
  return std::pair(in, isa<arith::ExtSIOp>(def));
}

struct GPULowerDp4aPass final : sparsa::impl::GPULowerDp4aPassBase<GPULowerDp4aPass> {
  using GPULowerDp4aPassBase::GPULowerDp4aPassBase;

  void runOnOperation() override {
    SmallVector<vector::ReductionOp> reductions;
    getOperation().walk([&](vector::ReductionOp op) {
      auto type = op.getSourceVectorType();
      if (op.getKind() == vector::CombiningKind::ADD && type.getShape() == ArrayRef<int64_t>{4} &&
          type.getElementType().isInteger(32) && !type.isScalable())
        reductions.push_back(op);
    });
    for (vector::ReductionOp op : reductions) {
      Value a, bv;
      bool aSigned = false, bSigned = false;
      if (auto mul = op.getVector().getDefiningOp<arith::MulIOp>()) {
        auto x = extendedBytes(mul.getLhs()), y = extendedBytes(mul.getRhs());
        if (!x || !y)
          continue;
        std::tie(a, aSigned) = *x;
        std::tie(bv, bSigned) = *y;
      } else if (auto x = extendedBytes(op.getVector())) {
        std::tie(a, aSigned) = *x;
      } else {
        continue;
      }
      OpBuilder b(op);
      Location loc = op.getLoc();
      Type i32 = b.getI32Type();
      if (!bv) { // a sum of four bytes: the dot product with ones
        auto four = VectorType::get({4}, b.getI8Type());
        bv = arith::ConstantOp::create(b, loc, four,
                                       DenseElementsAttr::get(four, b.getI8IntegerAttr(1)));
      }
      Value acc = op.getAcc();
      if (!acc)
        acc = arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(0));
      auto kind = [&](bool isSigned) {
        return NVVM::DotAccumulateTypeAttr::get(b.getContext(),
                                                isSigned ? NVVM::DotAccumulateType::SIGNED
                                                         : NVVM::DotAccumulateType::UNSIGNED);
      };
      Value dot = NVVM::DotAccumulate4WayOp::create(b, loc, i32, a, kind(aSigned), bv,
                                                    kind(bSigned), acc);
      op.replaceAllUsesWith(dot);
      op.erase();
    }
  }
};

} // namespace
