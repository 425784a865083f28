// RUN: sparsa-opt %s --split-input-file | sparsa-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @relu
// CHECK: sparsa.sparse_ffn %arg0, %arg1, %arg2 b1 = %arg3 b2 = %arg4 : (tensor<1x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64xf32>) -> tensor<1x64xf32>
func.func @relu(%x: tensor<1x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>,
                %b1: tensor<256xf32>, %b2: tensor<64xf32>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 b1 = %b1 b2 = %b2 {mode = "relu"} : (tensor<1x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<256xf32>, tensor<64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// CHECK-LABEL: func.func @cats_glu
// CHECK: sparsa.sparse_ffn %arg0, %arg1, %arg2 up = %arg3 {activation = "silu", mode = "abs_threshold", threshold = 2.500000e-01 : f64}
func.func @cats_glu(%x: tensor<1x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>,
                    %up: tensor<256x64xf32>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up {mode = "abs_threshold", activation = "silu", threshold = 0.25 : f64} : (tensor<1x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<256x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// CHECK-LABEL: func.func @threshold_glu
// CHECK: sparsa.sparse_ffn %arg0, %arg1, %arg2 up = %arg3 {mode = "threshold", threshold = 2.500000e-01 : f64}
func.func @threshold_glu(%x: tensor<2x?x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>,
                         %up: tensor<256x64xf32>) -> tensor<2x?x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up {mode = "threshold", threshold = 0.25 : f64} : (tensor<2x?x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<256x64xf32>) -> tensor<2x?x64xf32>
  return %y : tensor<2x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @teal
// CHECK: sparsa.sparse_input_matmul %arg0, %arg1 bias = %arg2 {threshold = 5.000000e-01 : f64} : (tensor<2x?x64xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<2x?x32xf32>
func.func @teal(%x: tensor<2x?x64xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>) -> tensor<2x?x32xf32> {
  %y = sparsa.sparse_input_matmul %x, %w bias = %b {threshold = 0.5 : f64} : (tensor<2x?x64xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<2x?x32xf32>
  return %y : tensor<2x?x32xf32>
}

// -----

// CHECK-LABEL: func.func @topk_matmul
// CHECK: sparsa.topk_matmul %arg0, %arg1, %arg2 bias = %arg3 : (tensor<?x16xi64>, tensor<?x16xf32>, tensor<256x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
func.func @topk_matmul(%i: tensor<?x16xi64>, %v: tensor<?x16xf32>, %w: tensor<256x64xf32>, %b: tensor<64xf32>) -> tensor<?x64xf32> {
  %y = sparsa.topk_matmul %i, %v, %w bias = %b : (tensor<?x16xi64>, tensor<?x16xf32>, tensor<256x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

/// Packed weights: up in MatMulNBits' layout (one row per neuron), down one
/// row of codes per neuron, scales and zero points per block of neurons.
// CHECK-LABEL: func.func @quantized_sparse_ffn
// CHECK: sparsa.sparse_ffn %arg0, %arg1, %arg2 b1 = %arg3 w1_scales = %arg4 w1_zero_points = %arg5 w2_scales = %arg6 w2_zero_points = %arg7 {block_size = 32 : i64, mode = "threshold", threshold = 2.500000e-01 : f64, weight_bits = 4 : i64}
func.func @quantized_sparse_ffn(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>,
                                %b1: tensor<256xf32>, %s1: tensor<256x2xf32>, %z1: tensor<256x1xui8>,
                                %s2: tensor<8x64xf32>, %z2: tensor<8x64xui8>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 b1 = %b1 w1_scales = %s1 w1_zero_points = %z1 w2_scales = %s2 w2_zero_points = %z2 {block_size = 32 : i64, mode = "threshold", threshold = 0.25 : f64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256xf32>, tensor<256x2xf32>, tensor<256x1xui8>, tensor<8x64xf32>, tensor<8x64xui8>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

/// The gate of packed weights with int8 activations.
// CHECK-LABEL: func.func @quantized_sparse_ffn_int8
// CHECK: sparsa.sparse_ffn %arg0, %arg1, %arg2 w1_scales = %arg3 w2_scales = %arg4 {block_size = 32 : i64, int8_activations = true, weight_bits = 4 : i64}
func.func @quantized_sparse_ffn_int8(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>,
                                     %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, int8_activations = true, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>, tensor<8x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

/// A quantized ReLU-gated GLU: `up` packed as w1 (MatMulNBits' layout) with
/// its own scales and packed zero points.
// CHECK-LABEL: func.func @quantized_glu
// CHECK: sparsa.sparse_ffn %arg0, %arg1, %arg2 up = %arg3 b_up = %arg4 w1_scales = %arg5 w2_scales = %arg6 up_scales = %arg7 up_zero_points = %arg8 {block_size = 32 : i64, weight_bits = 4 : i64}
func.func @quantized_glu(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %up: tensor<256x2x16xui8>, %bu: tensor<256xf32>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>, %s3: tensor<256x2xf32>, %z3: tensor<256x1xui8>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up b_up = %bu w1_scales = %s1 w2_scales = %s2 up_scales = %s3 up_zero_points = %z3 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2x16xui8>, tensor<256xf32>, tensor<256x2xf32>, tensor<8x64xf32>, tensor<256x2xf32>, tensor<256x1xui8>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
