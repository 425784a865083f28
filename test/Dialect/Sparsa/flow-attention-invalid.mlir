// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

func.func @rank_mismatch(%q: tensor<2x4x8xf32>, %k: tensor<4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{expected query, key, value and the result of one rank >= 2}}
  %o = sparsa.flow_attention %q, %k, %v : (tensor<2x4x8xf32>, tensor<4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

func.func @element_types(%q: tensor<4x8xf32>, %k: tensor<4x8xf16>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{query, key, value and the result must have one element type}}
  %o = sparsa.linear_attention %q, %k, %v : (tensor<4x8xf32>, tensor<4x8xf16>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @batch_dims(%q: tensor<2x4x8xf32>, %k: tensor<3x4x8xf32>, %v: tensor<3x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{query, key, value and the result must share the leading dims}}
  %o = sparsa.flow_attention %q, %k, %v : (tensor<2x4x8xf32>, tensor<3x4x8xf32>, tensor<3x4x8xf32>) -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

func.func @feature_dim(%q: tensor<4x8xf32>, %k: tensor<4x6xf32>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{query and key must have the same feature dim}}
  %o = sparsa.linear_attention %q, %k, %v : (tensor<4x8xf32>, tensor<4x6xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @positions(%q: tensor<4x8xf32>, %k: tensor<5x8xf32>, %v: tensor<6x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{key and value must have the same number of positions}}
  %o = sparsa.flow_attention %q, %k, %v : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<6x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @result_shape(%q: tensor<4x8xf32>, %k: tensor<5x8xf32>, %v: tensor<5x3xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected the result [..., L, Dv]}}
  %o = sparsa.flow_attention %q, %k, %v : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<5x3xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @causal_lengths(%q: tensor<4x8xf32>, %k: tensor<5x8xf32>, %v: tensor<5x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{causal attention needs as many queries as keys}}
  %o = sparsa.linear_attention %q, %k, %v {causal} : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<5x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @feature_map(%q: tensor<4x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{unknown feature_map 'softplus' (expected sigmoid, elu1, relu or identity)}}
  %o = sparsa.flow_attention %q, %k, %v {feature_map = "softplus"} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @chunk(%q: tensor<4x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{chunk_size must be positive}}
  %o = sparsa.linear_attention %q, %k, %v {causal, chunk_size = 0 : i64} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @eps(%q: tensor<4x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{eps must be non-negative}}
  %o = sparsa.flow_attention %q, %k, %v {eps = -1.0 : f64} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}
