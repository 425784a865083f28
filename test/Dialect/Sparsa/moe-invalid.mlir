// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

func.func @k_too_large(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{k = 5 must be in [1, number of experts]}}
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 5 : i64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func @bad_gating(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x8xf32>, %w2: tensor<4x8x16xf32>) -> tensor<?x16xf32> {
  // expected-error @+1 {{gating must be 'softmax', 'sigmoid' or 'none' (got 'tanh')}}
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
