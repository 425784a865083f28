// RUN: sparsa-opt %s --split-input-file | sparsa-opt --split-input-file | FileCheck %s

/// sparsa.moe round-trips in its custom form, with and without the optional
/// gate weights and biases.

// CHECK-LABEL: func.func @moe_plain
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg3 {k = 2 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>) -> tensor<?x64xf32>
func.func @moe_plain(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x64x128xf32>,
                     %w2: tensor<8x128x64xf32>) -> tensor<?x64xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 2 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @moe_swiglu_sigmoid
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg3 w3 = %arg4 b1 = %arg5 b2 = %arg6 {activation = "silu", gating = "sigmoid", k = 1 : i64, normalize = true, routed_scaling = 2.500000e+00 : f64}
func.func @moe_swiglu_sigmoid(%x: tensor<2x3x16xf32>, %r: tensor<6x4xf32>, %w1: tensor<4x16x8xf32>,
                              %w2: tensor<4x8x16xf32>, %w3: tensor<4x16x8xf32>,
                              %b1: tensor<4x8xf32>, %b2: tensor<4x16xf32>) -> tensor<2x3x16xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 w3 = %w3 b1 = %b1 b2 = %b2 {activation = "silu", gating = "sigmoid", k = 1 : i64, normalize = true, routed_scaling = 2.5 : f64} : (tensor<2x3x16xf32>, tensor<6x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>, tensor<4x8xf32>, tensor<4x16xf32>) -> tensor<2x3x16xf32>
  return %y : tensor<2x3x16xf32>
}

// -----

// CHECK-LABEL: func.func @moe_interleaved_clamped
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg3 {activation = "silu", alpha = 1.702000e+00 : f64, beta = 1.000000e+00 : f64, gate_layout = 1 : i64, k = 2 : i64, limit = 7.000000e+00 : f64}
func.func @moe_interleaved_clamped(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x16xf32>,
                                   %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 {activation = "silu", alpha = 1.702 : f64, beta = 1.0 : f64, gate_layout = 1 : i64, k = 2 : i64, limit = 7.0 : f64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x16xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// CHECK-LABEL: func.func @moe_deepseek_shared
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg3 w3 = %arg4 selection_bias = %arg5 shared_w1 = %arg6 shared_w2 = %arg7 shared_w3 = %arg8 {activation = "silu", gating = "sigmoid", k = 2 : i64, n_group = 4 : i64, normalize = true, routed_scaling = 2.500000e+00 : f64, topk_group = 2 : i64}
func.func @moe_deepseek_shared(%x: tensor<?x16xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x16x4xf32>,
                               %w2: tensor<8x4x16xf32>, %w3: tensor<8x16x4xf32>, %bias: tensor<8xf32>,
                               %s1: tensor<16x32xf32>, %s2: tensor<32x16xf32>, %s3: tensor<16x32xf32>) -> tensor<?x16xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 w3 = %w3 selection_bias = %bias shared_w1 = %s1 shared_w2 = %s2 shared_w3 = %s3 {activation = "silu", gating = "sigmoid", k = 2 : i64, n_group = 4 : i64, topk_group = 2 : i64, normalize = true, routed_scaling = 2.5 : f64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<8x16x4xf32>, tensor<8x4x16xf32>, tensor<8x16x4xf32>, tensor<8xf32>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<16x32xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

/// Quantized experts: packed 4-bit codes in torch Linear rows, per-row
/// scales and zero points packed along the rows.

// CHECK-LABEL: func.func @moe_int4_per_row
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg3 w1_scales = %arg4 w2_scales = %arg5 w1_zero_points = %arg6 w2_zero_points = %arg7 {activation = "silu", gate_layout = 1 : i64, k = 2 : i64, weight_bits = 4 : i64}
func.func @moe_int4_per_row(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x256x32xui8>,
                            %w2: tensor<8x64x64xui8>, %s1: tensor<8x256xf32>, %s2: tensor<8x64xf32>,
                            %z1: tensor<8x128xui8>, %z2: tensor<8x32xui8>) -> tensor<?x64xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 w1_zero_points = %z1 w2_zero_points = %z2 {activation = "silu", gate_layout = 1 : i64, k = 2 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x256x32xui8>, tensor<8x64x64xui8>, tensor<8x256xf32>, tensor<8x64xf32>, tensor<8x128xui8>, tensor<8x32xui8>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

/// 8-bit blocked experts with separate gate and linear weights (w3) and
/// int8 activations.

// CHECK-LABEL: func.func @moe_int8_blocked
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg3 w3 = %arg4 w1_scales = %arg5 w2_scales = %arg6 w3_scales = %arg7 {activation = "silu", block_size = 32 : i64, int8_activations = true, k = 1 : i64, weight_bits = 8 : i64}
func.func @moe_int8_blocked(%x: tensor<1x64xf32>, %r: tensor<1x4xf32>, %w1: tensor<4x128x64xui8>,
                            %w2: tensor<4x64x128xui8>, %w3: tensor<4x128x64xui8>,
                            %s1: tensor<4x128x2xf32>, %s2: tensor<4x64x4xf32>,
                            %s3: tensor<4x128x2xf32>) -> tensor<1x64xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 w3 = %w3 w1_scales = %s1 w2_scales = %s2 w3_scales = %s3 {activation = "silu", block_size = 32 : i64, int8_activations = true, k = 1 : i64, weight_bits = 8 : i64} : (tensor<1x64xf32>, tensor<1x4xf32>, tensor<4x128x64xui8>, tensor<4x64x128xui8>, tensor<4x128x64xui8>, tensor<4x128x2xf32>, tensor<4x64x4xf32>, tensor<4x128x2xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

/// A given routing: the gate stays outside the op, which takes the routing
/// weights [T, k] (in router_logits' place) and the expert indices.

// CHECK-LABEL: func.func @moe_given_routing
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg3 w3 = %arg4 expert_indices = %arg5 {activation = "silu", gating = "given", k = 2 : i64}
func.func @moe_given_routing(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %w1: tensor<4x16x8xf32>,
                             %w2: tensor<4x8x16xf32>, %w3: tensor<4x16x8xf32>,
                             %idx: tensor<?x2xi64>) -> tensor<?x16xf32> {
  %y = sparsa.moe %x, %w, %w1, %w2 w3 = %w3 expert_indices = %idx {activation = "silu", gating = "given", k = 2 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>, tensor<?x2xi64>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
