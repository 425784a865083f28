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

// -----

/// [Pattern: MatMulNBits packed zero points]
/// IN:  4-bit zero points packed two per byte (a constant), one per block
/// OUT: one f32 zero point per block, unpacked at compile time (the decode
///      kernel reads them as vectors)
// CHECK-LABEL: func.func @nbits_zero_points
// CHECK: %[[Z:.+]] = onnx.Constant {value = dense_resource<{{.+}}> : tensor<6xf32>}
// CHECK: onnx.ms.MatMulNBits %arg0, %{{.+}}, %{{.+}} zero_points = %[[Z]] {K = 96 : si64, N = 2 : si64, block_size = 32 : si64} : (tensor<1x96xf32>, tensor<2x3x16xui8>, tensor<6xf32>, tensor<6xf32>) -> tensor<1x2xf32>
func.func @nbits_zero_points(%a: tensor<1x96xf32>) -> tensor<1x2xf32> {
  %b = onnx.Constant {value = dense<17> : tensor<2x3x16xui8>} : () -> tensor<2x3x16xui8>
  %s = onnx.Constant {value = dense<0.5> : tensor<6xf32>} : () -> tensor<6xf32>
  %z = onnx.Constant {value = dense<[[33, 7], [18, 9]]> : tensor<2x2xui8>} : () -> tensor<2x2xui8>
  %y = onnx.ms.MatMulNBits %a, %b, %s zero_points = %z {K = 96 : si64, N = 2 : si64, block_size = 32 : si64} : (tensor<1x96xf32>, tensor<2x3x16xui8>, tensor<6xf32>, tensor<2x2xui8>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
