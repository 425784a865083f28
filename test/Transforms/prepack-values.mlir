// RUN: sparsa-opt %s --sparsa-prepack-weights --convert-onnx-to-linalg | FileCheck %s

/// The prepacked data itself: [[1,2],[3,4],[5,6]]^T = [[1,3,5],[2,4,6]].

// CHECK-LABEL: func.func @transposed_values
// CHECK: arith.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
func.func @transposed_values() -> tensor<2x3xf32> {
  %w = onnx.Constant {value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %0 = onnx.Transpose %w {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}
