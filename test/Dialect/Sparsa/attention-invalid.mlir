// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

func.func @rank_mismatch(%q: tensor<2x4x8xf32>, %k: tensor<4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{expected query, key, value and the result of one rank >= 2}}
  %o = sparsa.attention %q, %k, %v : (tensor<2x4x8xf32>, tensor<4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

func.func @element_types(%q: tensor<4x8xf32>, %k: tensor<4x8xf16>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{all operands must have the query's element type}}
  %o = sparsa.attention %q, %k, %v : (tensor<4x8xf32>, tensor<4x8xf16>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @batch_dims(%q: tensor<2x4x8xf32>, %k: tensor<3x4x8xf32>, %v: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  // expected-error @+1 {{key and value must have the query's leading dims (each 1, equal or a static divisor), the result the query's}}
  %o = sparsa.attention %q, %k, %v : (tensor<2x4x8xf32>, tensor<3x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %o : tensor<2x4x8xf32>
}

// -----

func.func @head_dim(%q: tensor<4x8xf32>, %k: tensor<4x16xf32>, %v: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{query and key must have the same head dim}}
  %o = sparsa.attention %q, %k, %v : (tensor<4x8xf32>, tensor<4x16xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @transposed_key_head_dim(%q: tensor<4x8xf32>, %kt: tensor<4x8xf32>, %v: tensor<8x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{query and key must have the same head dim}}
  %o = sparsa.attention %q, %kt, %v {key_transposed} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @positions(%q: tensor<4x8xf32>, %k: tensor<5x8xf32>, %v: tensor<6x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{key and value must have the same number of positions}}
  %o = sparsa.attention %q, %k, %v : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<6x8xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @result_shape(%q: tensor<4x8xf32>, %k: tensor<5x8xf32>, %v: tensor<5x3xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected the result [..., Lq, Dv]}}
  %o = sparsa.attention %q, %k, %v : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<5x3xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @mask_shape(%q: tensor<4x8xf32>, %k: tensor<5x8xf32>, %v: tensor<5x8xf32>, %m: tensor<4x4xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{the mask must broadcast to the scores [..., Lq, Lk]}}
  %o = sparsa.attention %q, %k, %v mask = %m : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<5x8xf32>, tensor<4x4xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @mask_rank(%q: tensor<4x8xf32>, %k: tensor<5x8xf32>, %v: tensor<5x8xf32>, %m: tensor<1x4x5xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{the mask must broadcast to the scores [..., Lq, Lk]}}
  %o = sparsa.attention %q, %k, %v mask = %m : (tensor<4x8xf32>, tensor<5x8xf32>, tensor<5x8xf32>, tensor<1x4x5xf32>) -> tensor<4x8xf32>
  return %o : tensor<4x8xf32>
}

// -----

func.func @sinks_shape(%q: tensor<1x4x7x16xf32>, %k: tensor<1x4x9x16xf32>, %v: tensor<1x4x9x8xf32>, %s: tensor<1x3xf32>) -> tensor<1x4x7x8xf32> {
  // expected-error @+1 {{sinks must have the query's leading dims (each 1 or equal)}}
  %o = sparsa.attention %q, %k, %v sinks = %s : (tensor<1x4x7x16xf32>, tensor<1x4x9x16xf32>, tensor<1x4x9x8xf32>, tensor<1x3xf32>) -> tensor<1x4x7x8xf32>
  return %o : tensor<1x4x7x8xf32>
}

// -----

func.func @heads_not_a_divisor(%q: tensor<1x6x8x16xf32>, %k: tensor<1x4x8x16xf32>) -> tensor<1x6x8x16xf32> {
  // expected-error @+1 {{key and value must have the query's leading dims (each 1, equal or a static divisor), the result the query's}}
  %o = sparsa.attention %q, %k, %k : (tensor<1x6x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>) -> tensor<1x6x8x16xf32>
  return %o : tensor<1x6x8x16xf32>
}
