//===- PrepackWeights.cpp - Compile-time weight layout changes -*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Moves layout work on constant weights from run time to compile time:
// transposes of constants are folded, and Gemm's transB on a constant B is
// applied to the data so the kernel reads B contiguously along N.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/ONNX/IR/ONNXOps.h"
#include "sparsa/Transforms/Passes.h"

#include "OnnxPatterns.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace sparsa {
#define GEN_PASS_DEF_PREPACKWEIGHTSPASS
#include "sparsa/Transforms/Passes.h.inc"
} // namespace sparsa

using namespace mlir;
namespace onnx = sparsa::onnx;

/// Returns |cst|'s data permuted by |perm| as a new dense_resource constant,
/// or failure when the data cannot be read as bytes.
static FailureOr<onnx::ConstantOp>
transposeConstant(RewriterBase &rewriter, onnx::ConstantOp cst,
                  ArrayRef<int64_t> perm) {
  auto inT = cast<RankedTensorType>(cst.getType());
  SmallVector<char> storage;
  auto bytes = onnx::getConstantBytes(cst.getValue(), storage);
  if (failed(bytes))
    return failure();
  int64_t rank = inT.getRank();
  SmallVector<int64_t> outShape;
  for (int64_t p : perm)
    outShape.push_back(inT.getDimSize(p));
  auto outT = RankedTensorType::get(outShape, inT.getElementType());
  size_t eltBytes = inT.getElementTypeBitWidth() / 8;
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(bytes->size(), 64);
  char *dst = blob.getMutableData().data();
  const char *src = bytes->data();
  // Input strides (in elements), then walk the output in order.
  SmallVector<int64_t> inStride(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i)
    inStride[i] = inStride[i + 1] * inT.getDimSize(i + 1);
  SmallVector<int64_t> idx(rank, 0);
  int64_t n = inT.getNumElements();
  for (int64_t o = 0; o < n; ++o) {
    int64_t off = 0;
    for (int64_t d = 0; d < rank; ++d)
      off += idx[d] * inStride[perm[d]];
    std::memcpy(dst + o * eltBytes, src + off * eltBytes, eltBytes);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d])
        break;
      idx[d] = 0;
    }
  }
  auto attr = DenseResourceElementsAttr::get(outT, "prepacked", std::move(blob));
  return onnx::ConstantOp::create(rewriter, cst.getLoc(), outT, attr);
}

namespace {

// transpose(constant) => constant'
struct FoldTransposeOfConstant final : OpRewritePattern<onnx::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto cst = op.getData().getDefiningOp<onnx::ConstantOp>();
    if (!cst || !cast<RankedTensorType>(cst.getType()).hasStaticShape())
      return rewriter.notifyMatchFailure(op, "not a static constant");
    rewriter.setInsertionPoint(cst);
    auto packed = transposeConstant(rewriter, cst, op.getPermutation());
    if (failed(packed))
      return rewriter.notifyMatchFailure(op, "constant data is not byte-addressable");
    Value v = packed->getResult();
    if (v.getType() != op.getType())
      return rewriter.notifyMatchFailure(op, "result type differs");
    rewriter.replaceOp(op, v);
    return success();
  }
};

// gemm(a, constant, transB=1) => gemm(a, transpose(constant), transB=0)
struct PrepackGemmTransB final : OpRewritePattern<onnx::GemmOp> {
  PrepackGemmTransB(MLIRContext *ctx, llvm::Statistic &stat)
      : OpRewritePattern(ctx), numPrepacked(stat) {}
  LogicalResult matchAndRewrite(onnx::GemmOp op,
                                PatternRewriter &rewriter) const override {
    auto cst = op.getB().getDefiningOp<onnx::ConstantOp>();
    if (!op.getTransB() || !cst ||
        !cast<RankedTensorType>(cst.getType()).hasStaticShape())
      return rewriter.notifyMatchFailure(op, "B is not a transposed constant");
    rewriter.setInsertionPoint(cst);
    auto packed = transposeConstant(rewriter, cst, {1, 0});
    if (failed(packed))
      return rewriter.notifyMatchFailure(op, "constant data is not byte-addressable");
    rewriter.modifyOpInPlace(op, [&] {
      op.getBMutable().assign(packed->getResult());
      op.setTransB(0);
    });
    ++numPrepacked;
    return success();
  }
  llvm::Statistic &numPrepacked;
};

// MatMulNBits' packed 4-bit zero points (constant) => f32 zero points:
// the decode kernel then reads one float per block instead of extracting a
// nibble per block on every call.
struct UnpackNBitsZeroPoints final : OpRewritePattern<onnx::MatMulNBitsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(onnx::MatMulNBitsOp op,
                                PatternRewriter &rewriter) const override {
    Value zp = op.getZeroPoints();
    if (!zp || op.getBits() != 4 || !getElementTypeOrSelf(zp).isInteger(8) ||
        !getElementTypeOrSelf(op.getScales()).isF32())
      return rewriter.notifyMatchFailure(op, "not constant packed 4-bit zero points");
    FailureOr<SmallVector<char>> bytes = sparsa::patterns::constantBytes(zp);
    if (failed(bytes))
      return rewriter.notifyMatchFailure(op, "zero points are not a constant");
    int64_t N = op.getN(), blocks = llvm::divideCeil(op.getK(), op.getBlockSize());
    int64_t perRow = llvm::divideCeil(blocks * 4, 8);
    if ((int64_t)bytes->size() != N * perRow)
      return rewriter.notifyMatchFailure(op, "unexpected zero point size");
    SmallVector<char> out(N * blocks * sizeof(float));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t b = 0; b < blocks; ++b) {
        auto byte = static_cast<unsigned char>((*bytes)[n * perRow + b / 2]);
        float z = static_cast<float>((byte >> (4 * (b % 2))) & 15);
        std::memcpy(out.data() + (n * blocks + b) * sizeof(float), &z, sizeof(float));
      }
    rewriter.setInsertionPoint(op);
    auto type = RankedTensorType::get({N * blocks}, rewriter.getF32Type());
    Value f = sparsa::patterns::bytesConstant(rewriter, op.getLoc(), type, out);
    rewriter.modifyOpInPlace(op, [&] { op.getZeroPointsMutable().assign(f); });
    return success();
  }
};

struct PrepackWeightsPass final
    : sparsa::impl::PrepackWeightsPassBase<PrepackWeightsPass> {
  using PrepackWeightsPassBase::PrepackWeightsPassBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldTransposeOfConstant>(&getContext());
    patterns.add<PrepackGemmTransB>(&getContext(), numPrepacked);
    patterns.add<UnpackNBitsZeroPoints>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
