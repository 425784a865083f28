// RUN: sparsa-opt %s --split-input-file | sparsa-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @nbits
// CHECK: sparsa.quant_matmul %arg0, %arg1, %arg2 zero_points = %arg3 bias = %arg4 {K = 64 : i64, N = 32 : i64, block_size = 32 : i64, form = "MatMulNBits"} : (tensor<?x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>, tensor<32x1xui8>, tensor<32xf32>) -> tensor<?x32xf32>
func.func @nbits(%x: tensor<?x64xf32>, %q: tensor<32x2x16xui8>, %s: tensor<32x2xf32>,
                 %z: tensor<32x1xui8>, %b: tensor<32xf32>) -> tensor<?x32xf32> {
  %y = sparsa.quant_matmul %x, %q, %s zero_points = %z bias = %b {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64, form = "MatMulNBits"} : (tensor<?x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>, tensor<32x1xui8>, tensor<32xf32>) -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// NoisyQuant over an 8-bit per-channel weight, 3-D input, K = 100 padded to
// one block of 112.
// CHECK-LABEL: func.func @noisy_qdq
// CHECK: sparsa.quant_matmul %arg0, %arg1, %arg2 input_noise = %arg3 act_scale = %arg4 act_zero_point = %arg5 {K = 100 : i64, N = 8 : i64, activation = "qdq", bits = 8 : i64, block_size = 112 : i64}
func.func @noisy_qdq(%x: tensor<2x?x100xf32>, %q: tensor<8x1x112xui8>, %s: tensor<8x1xf32>,
                     %n: tensor<100xf32>, %as: tensor<f32>, %az: tensor<ui8>) -> tensor<2x?x8xf32> {
  %y = sparsa.quant_matmul %x, %q, %s input_noise = %n act_scale = %as act_zero_point = %az {K = 100 : i64, N = 8 : i64, bits = 8 : i64, block_size = 112 : i64, activation = "qdq"} : (tensor<2x?x100xf32>, tensor<8x1x112xui8>, tensor<8x1xf32>, tensor<100xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x?x8xf32>
  return %y : tensor<2x?x8xf32>
}

// -----

// CHECK-LABEL: func.func @dynamic_awq
// CHECK: sparsa.quant_matmul %arg0, %arg1, %arg2 input_scales = %arg3 {K = 64 : i64, N = 16 : i64, activation = "dynamic", bits = 8 : i64, block_size = 64 : i64}
func.func @dynamic_awq(%x: tensor<1x64xf32>, %q: tensor<16x1x64xui8>, %s: tensor<16x1xf32>,
                       %is: tensor<64xf32>) -> tensor<1x16xf32> {
  %y = sparsa.quant_matmul %x, %q, %s input_scales = %is {K = 64 : i64, N = 16 : i64, bits = 8 : i64, block_size = 64 : i64, activation = "dynamic"} : (tensor<1x64xf32>, tensor<16x1x64xui8>, tensor<16x1xf32>, tensor<64xf32>) -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}
