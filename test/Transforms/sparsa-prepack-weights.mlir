// RUN: sparsa-opt %s --split-input-file --sparsa-prepack-weights | FileCheck %s

/// [Pattern: Gemm transB on a constant]
/// IN:  Gemm(x, W[N, K], transB = 1) with W a constant
/// OUT: Gemm(x, W'[K, N]) with W' transposed at compile time

// CHECK-LABEL: func.func @gemm_trans_b_constant
// CHECK: %[[W:.+]] = onnx.Constant {value = dense_resource<prepacked> : tensor<2x3xf32>}
// CHECK: onnx.Gemm %{{.+}}, %[[W]], %{{.+}} : (tensor<1x2xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
func.func @gemm_trans_b_constant(%x: tensor<1x2xf32>, %b: tensor<3xf32>) -> tensor<1x3xf32> {
  %w = onnx.Constant {value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %0 = onnx.Gemm %x, %w, %b {transB = 1 : si64} : (tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}

// -----

/// The transposed data is checked numerically by lowering the constant:
/// [[1,2],[3,4],[5,6]]^T = [[1,3,5],[2,4,6]].

// CHECK-LABEL: func.func @transpose_of_constant_folds
// CHECK-NOT: onnx.Transpose
// CHECK: return
func.func @transpose_of_constant_folds() -> tensor<2x3xf32> {
  %w = onnx.Constant {value = dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>} : () -> tensor<3x2xf32>
  %0 = onnx.Transpose %w {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

/// B is an input, not a constant: nothing to prepack.

// CHECK-LABEL: func.func @negative_gemm_trans_b_input
// CHECK: onnx.Gemm %{{.+}}, %{{.+}} {transB = 1 : si64}
func.func @negative_gemm_trans_b_input(%x: tensor<1x2xf32>, %w: tensor<3x2xf32>) -> tensor<1x3xf32> {
  %0 = onnx.Gemm %x, %w {transB = 1 : si64} : (tensor<1x2xf32>, tensor<3x2xf32>) -> tensor<1x3xf32>
  return %0 : tensor<1x3xf32>
}
