// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

func.func @k_too_large(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{k = 5 must be in [1, number of experts]}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 5 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @bad_gating(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{gating must be 'softmax', 'sigmoid', 'none' or 'given' (got 'tanh')}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64, gating = "tanh"} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @bad_activation(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{unsupported activation 'swish'}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64, activation = "swish"} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @expert_count_mismatch(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<3x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert counts of the weights and router_logits differ}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<3x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @hidden_mismatch(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x12x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{w1 must be [E, H, F] and w2 [E, F, H] for hidden size 16}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x12x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @interleaved_needs_double_width(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{w1 must be [E, H, 2F] and w2 [E, F, H] for hidden size 16}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64, activation = "silu", gate_layout = 1 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @w3_with_packed_layout(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x16xf32>, %w2: tensor<4x8x16xf32>, %w3: tensor<4x16x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{w3 is only used with gate_layout = 0}}
  %y = sparsa.moe %x, %r, %w1, %w2 w3 = %w3 {k = 1 : i64, gate_layout = 2 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @limit_without_gate(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{limit and beta apply to gated experts only}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64, limit = 7.0 : f64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @bad_bias(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>, %b2: tensor<4x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{b2 has a mismatched shape}}
  %y = sparsa.moe %x, %r, %w1, %w2 b2 = %b2 {k = 1 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<4x8xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @mixed_types(%x: tensor<?x16xf32>, %r: tensor<?x4xf16>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{all operands must have the input's element type}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64} : (tensor<?x16xf32>, tensor<?x4xf16>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @groups_do_not_split(%x: tensor<?x16xf32>, %r: tensor<?x6xf32>, %w1: tensor<6x16x8xf32>, %w2: tensor<6x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{n_group = 4 must split the 6 experts into groups of at least 2 holding k experts in topk_group groups}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64, n_group = 4 : i64, topk_group = 1 : i64} : (tensor<?x16xf32>, tensor<?x6xf32>, tensor<6x16x8xf32>, tensor<6x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @topk_group_too_large(%x: tensor<?x16xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x16x8xf32>, %w2: tensor<8x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expected 1 <= topk_group <= n_group (got 3 and 2)}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64, n_group = 2 : i64, topk_group = 3 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<8x16x8xf32>, tensor<8x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @shared_half(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>, %s1: tensor<16x8xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{a shared expert needs shared_w1 and shared_w2}}
  %y = sparsa.moe %x, %r, %w1, %w2 shared_w1 = %s1 {k = 1 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<16x8xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @shared_not_gated(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>, %w3: tensor<4x16x8xf32>, %s1: tensor<16x8xf32>, %s2: tensor<8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{the shared expert must be gated (shared_w3) exactly when the routed experts are}}
  %y = sparsa.moe %x, %r, %w1, %w2 w3 = %w3 shared_w1 = %s1 shared_w2 = %s2 {k = 1 : i64, activation = "silu"} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @bad_selection_bias(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>, %b: tensor<5xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{selection_bias has a mismatched shape}}
  %y = sparsa.moe %x, %r, %w1, %w2 selection_bias = %b {k = 1 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<5xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @quant_bits(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x128x32xui8>, %w2: tensor<8x64x64xui8>, %s1: tensor<8x128xf32>, %s2: tensor<8x64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{weight_bits must be 0 (float weights), 2, 4 or 8 (got 3)}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {k = 2 : i64, weight_bits = 3 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x32xui8>, tensor<8x64x64xui8>, tensor<8x128xf32>, tensor<8x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @quant_no_scales(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x128x32xui8>, %w2: tensor<8x64x64xui8>, %s1: tensor<8x128xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{quantized w2 needs w2_scales}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 {k = 2 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x32xui8>, tensor<8x64x64xui8>, tensor<8x128xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @quant_float_weights(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x64x128xf32>, %w2: tensor<8x128x64xf32>, %s1: tensor<8x128xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{scales and zero points need weight_bits}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 {k = 2 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x64x128xf32>, tensor<8x128x64xf32>, tensor<8x128xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @quant_codes_not_uint8(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x128x32xf32>, %w2: tensor<8x64x64xui8>, %s1: tensor<8x128xf32>, %s2: tensor<8x64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{quantized weights and zero points must be uint8, every other operand of the input's element type}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {k = 2 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x32xf32>, tensor<8x64x64xui8>, tensor<8x128xf32>, tensor<8x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @quant_packed_rows(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x128x64xui8>, %w2: tensor<8x64x64xui8>, %s1: tensor<8x128xf32>, %s2: tensor<8x64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{quantized w1 must be [E, F, H * bits / 8] and w2 [E, H, F * bits / 8] for hidden size 64}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {k = 2 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x64xui8>, tensor<8x64x64xui8>, tensor<8x128xf32>, tensor<8x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @quant_block_scales(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x128x32xui8>, %w2: tensor<8x64x64xui8>, %s1: tensor<8x128xf32>, %s2: tensor<8x64x4xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{w1_scales has rank 2, expected 3}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, k = 2 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x32xui8>, tensor<8x64x64xui8>, tensor<8x128xf32>, tensor<8x64x4xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @quant_block_divides(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x128x32xui8>, %w2: tensor<8x64x64xui8>, %s1: tensor<8x128x2xf32>, %s2: tensor<8x64x4xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{w1's input size 64 is not a multiple of block_size 48}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {block_size = 48 : i64, k = 2 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x32xui8>, tensor<8x64x64xui8>, tensor<8x128x2xf32>, tensor<8x64x4xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @quant_zero_points(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x128x32xui8>, %w2: tensor<8x64x64xui8>, %s1: tensor<8x128xf32>, %s2: tensor<8x64xf32>, %z1: tensor<8x128xui8>) -> tensor<?x64xf32> {
  // expected-error @+1 {{w1_zero_points has a mismatched shape}}
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 w1_zero_points = %z1 {k = 2 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x32xui8>, tensor<8x64x64xui8>, tensor<8x128xf32>, tensor<8x64xf32>, tensor<8x128xui8>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

func.func @int8_float_experts(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{int8_activations needs quantized experts (weight_bits)}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 1 : i64, int8_activations = true} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @given_without_indices(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert_indices are given exactly when gating = 'given'}}
  %y = sparsa.moe %x, %w, %w1, %w2 {k = 2 : i64, gating = "given"} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @indices_without_given(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>, %idx: tensor<?x2xi64>) -> tensor<?x16xf32> {
  // expected-error @+1 {{expert_indices are given exactly when gating = 'given'}}
  %y = sparsa.moe %x, %r, %w1, %w2 expert_indices = %idx {k = 2 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<?x2xi64>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @given_shape_mismatch(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>, %idx: tensor<?x3xi64>) -> tensor<?x16xf32> {
  // expected-error @+1 {{a given routing needs routing weights (router_logits) and expert_indices of one shape [T, k]}}
  %y = sparsa.moe %x, %w, %w1, %w2 expert_indices = %idx {k = 2 : i64, gating = "given"} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<?x3xi64>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @given_with_groups(%x: tensor<?x16xf32>, %w: tensor<?x2xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>, %idx: tensor<?x2xi64>) -> tensor<?x16xf32> {
  // expected-error @+1 {{a given routing has no selection bias or expert groups}}
  %y = sparsa.moe %x, %w, %w1, %w2 expert_indices = %idx {k = 2 : i64, gating = "given", n_group = 2 : i64} : (tensor<?x16xf32>, tensor<?x2xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<?x2xi64>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
