// RUN: sparsa-opt %s --sparsa-fuse-quantization="int8-activations=true" | FileCheck %s

/// With int8-activations, float activations become `int8` (per-block int8
/// codes, int32 dot products); QDQ and dynamic activations keep theirs.
// CHECK-LABEL: func.func @nbits
// CHECK: sparsa.quant_matmul {{.+}}activation = "int8"{{.+}}form = "MatMulNBits"
func.func @nbits(%x: tensor<1x64xf32>) -> tensor<1x4xf32> {
  %b = onnx.Constant {value = dense<17> : tensor<4x2x16xui8>} : () -> tensor<4x2x16xui8>
  %s = onnx.Constant {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %y = onnx.ms.MatMulNBits %x, %b, %s {K = 64 : si64, N = 4 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x64xf32>, tensor<4x2x16xui8>, tensor<4x2xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// CHECK-LABEL: func.func @dynamic_stays
// CHECK: sparsa.quant_matmul {{.+}}activation = "dynamic"
func.func @dynamic_stays(%x: tensor<?x32xf32>) -> tensor<?x4xf32> {
  %wq = onnx.Constant {value = dense<-3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %ws = onnx.Constant {value = dense<0.01> : tensor<f32>} : () -> tensor<f32>
  %xq, %xs, %xz = onnx.DynamicQuantizeLinear %x : (tensor<?x32xf32>) -> (tensor<?x32xui8>, tensor<f32>, tensor<ui8>)
  %acc = onnx.MatMulInteger %xq, %wq a_zero_point = %xz : (tensor<?x32xui8>, tensor<32x4xi8>, tensor<ui8>) -> tensor<?x4xi32>
  %f = onnx.Cast %acc {to = 1 : si64} : (tensor<?x4xi32>) -> tensor<?x4xf32>
  %sc = onnx.Mul %xs, %ws : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %m = onnx.Mul %f, %sc : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  return %m : tensor<?x4xf32>
}

/// The gate of a quantized sparse FFN takes int8 activations too; a float
/// sparse FFN has none to take.
// CHECK-LABEL: func.func @sparse_ffn
// CHECK: sparsa.sparse_ffn {{.+}}int8_activations = true
// CHECK: sparsa.sparse_ffn
// CHECK-NOT: int8_activations
func.func @sparse_ffn(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>,
                      %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>, %f1: tensor<64x256xf32>,
                      %f2: tensor<256x64xf32>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>, tensor<8x64xf32>) -> tensor<1x64xf32>
  %z = sparsa.sparse_ffn %y, %f1, %f2 : (tensor<1x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>) -> tensor<1x64xf32>
  return %z : tensor<1x64xf32>
}
