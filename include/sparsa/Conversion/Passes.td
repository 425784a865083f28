//===- Passes.td - Sparsa conversion passes ----------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_CONVERSION_PASSES_TD
#define SPARSA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertONNXToLinalgPass
    : Pass<"convert-onnx-to-linalg", "mlir::func::FuncOp"> {
  let summary = "Lower `onnx` ops to linalg, tensor, arith and math on tensors";
  let description = [{
    Rewrites every `onnx` op into upstream tensor-level IR: matrix products
    and element-wise ops become `linalg.generic` (broadcasting expressed in
    indexing maps, Gemm's bias folded into the accumulator's initial value),
    Transpose becomes `linalg.transpose`, shape ops become `tensor` reshapes,
    constants become `arith.constant`. Dynamic dimensions stay dynamic; the
    sizes are taken from the operands with `tensor.dim`.

    Pre-condition: every value is a ranked tensor (the importer guarantees
    it). An op the lowering cannot express (e.g. Reshape with a non-constant
    shape) gets an error at its node's location and the pass fails.

    Before:
    ```mlir
    %y = onnx.Relu %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
    ```
    After:
    ```mlir
    %y = linalg.generic {...} ins(%x : tensor<?x8xf32>) outs(%e : tensor<?x8xf32>) {
      ^bb0(%in: f32, %out: f32):
        %0 = arith.maximumf %in, %cst : f32
        linalg.yield %0 : f32
    } -> tensor<?x8xf32>
    ```
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::bufferization::BufferizationDialect",
    "mlir::linalg::LinalgDialect", "mlir::math::MathDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect", "mlir::vector::VectorDialect",
    // The target the lowering asks (sparsa.target, or the CPU's defaults).
    "::sparsa::sparsa::SparsaDialect"
  ];
}

#endif // SPARSA_CONVERSION_PASSES_TD
