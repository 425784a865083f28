// RUN: sparsa-opt %s | sparsa-opt | FileCheck %s
// RUN: sparsa-opt %s --mlir-print-op-generic | sparsa-opt | FileCheck %s

/// Round trip of every onnx op in its declarative assembly format.

// CHECK-LABEL: func.func @mlp_ops
func.func @mlp_ops(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  // CHECK: onnx.MatMul %{{.*}}, %{{.*}} : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %0 = onnx.MatMul %x, %w : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Add
  %1 = onnx.Add %0, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Sub
  %2 = onnx.Sub %1, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Mul
  %3 = onnx.Mul %2, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Div
  %4 = onnx.Div %3, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Relu
  %5 = onnx.Relu %4 : (tensor<?x4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Sigmoid
  %6 = onnx.Sigmoid %5 : (tensor<?x4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Tanh
  %7 = onnx.Tanh %6 : (tensor<?x4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Softmax %{{.*}} {axis = 1 : si64}
  %8 = onnx.Softmax %7 {axis = 1 : si64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  // CHECK: onnx.Identity
  %9 = onnx.Identity %8 : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return %9 : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @gemm
func.func @gemm(%a: tensor<2x8xf32>, %b: tensor<4x8xf32>, %c: tensor<4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  // CHECK: onnx.Gemm %{{.*}}, %{{.*}}, %{{.*}} {alpha = 5.000000e-01 : f32, transB = 1 : si64}
  %0 = onnx.Gemm %a, %b, %c {alpha = 0.5 : f32, transB = 1 : si64} : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Gemm %{{.*}}, %{{.*}} {transB = 1 : si64} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %1 = onnx.Gemm %a, %b {transB = 1 : si64} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %0, %1 : tensor<2x4xf32>, tensor<2x4xf32>
}

// CHECK-LABEL: func.func @shape_ops
func.func @shape_ops(%x: tensor<2x8xf32>, %y: tensor<2x3xf32>) -> (tensor<4x4xf32>, tensor<8x2xf32>, tensor<2x8xi64>, tensor<1x2x8xf32>, tensor<2x8xf32>, tensor<2x11xf32>) {
  // CHECK: onnx.Constant {value = dense<4> : tensor<2xi64>}
  %shape = onnx.Constant {value = dense<4> : tensor<2xi64>} : () -> tensor<2xi64>
  // CHECK: onnx.Reshape
  %0 = onnx.Reshape %x, %shape : (tensor<2x8xf32>, tensor<2xi64>) -> tensor<4x4xf32>
  // CHECK: onnx.Transpose %{{.*}} {perm = array<i64: 1, 0>}
  %1 = onnx.Transpose %x {perm = array<i64: 1, 0>} : (tensor<2x8xf32>) -> tensor<8x2xf32>
  // CHECK: onnx.Cast %{{.*}} {to = 7 : si64}
  %2 = onnx.Cast %x {to = 7 : si64} : (tensor<2x8xf32>) -> tensor<2x8xi64>
  %axes = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  // CHECK: onnx.Unsqueeze
  %3 = onnx.Unsqueeze %x, %axes : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<1x2x8xf32>
  // CHECK: onnx.Squeeze
  %4 = onnx.Squeeze %3, %axes : (tensor<1x2x8xf32>, tensor<1xi64>) -> tensor<2x8xf32>
  // CHECK: onnx.Concat %{{.*}}, %{{.*}} {axis = 1 : si64}
  %5 = onnx.Concat %x, %y {axis = 1 : si64} : (tensor<2x8xf32>, tensor<2x3xf32>) -> tensor<2x11xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<4x4xf32>, tensor<8x2xf32>, tensor<2x8xi64>, tensor<1x2x8xf32>, tensor<2x8xf32>, tensor<2x11xf32>
}
