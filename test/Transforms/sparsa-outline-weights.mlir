// RUN: sparsa-opt %s --sparsa-outline-weights=min-bytes=64 | FileCheck %s

/// [Pattern: outline large constants]
/// IN:  a 4x8xf32 constant (128 bytes) and a 2xi64 constant (16 bytes)
/// OUT: the large one becomes a trailing argument tagged sparsa.weight; the
///      small one stays inline. Every argument is read-only for bufferization.

// CHECK-LABEL: func.func @outline
// CHECK-SAME: %{{.+}}: tensor<1x4xf32> {bufferization.writable = false}
// CHECK-SAME: %[[W:.+]]: tensor<4x8xf32> {bufferization.writable = false, sparsa.weight = dense<1.000000e+00> : tensor<4x8xf32>}
// CHECK: onnx.Constant {value = dense<[1, 8]> : tensor<2xi64>}
// CHECK: onnx.MatMul %{{.+}}, %[[W]]
func.func @outline(%x: tensor<1x4xf32>) -> tensor<1x8xf32> {
  %w = onnx.Constant {value = dense<1.0> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %s = onnx.Constant {value = dense<[1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %0 = onnx.MatMul %x, %w : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %1 = onnx.Reshape %0, %s : (tensor<1x8xf32>, tensor<2xi64>) -> tensor<1x8xf32>
  return %1 : tensor<1x8xf32>
}
