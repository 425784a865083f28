// RUN: sparsa-opt %s --split-input-file | sparsa-opt --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @heads
// CHECK: sparsa.attention %arg0, %arg1, %arg2 {scale = 1.250000e-01 : f64} : (tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>) -> tensor<1x8x512x64xf32>
func.func @heads(%q: tensor<1x8x512x64xf32>, %k: tensor<1x8x512x64xf32>, %v: tensor<1x8x512x64xf32>) -> tensor<1x8x512x64xf32> {
  %o = sparsa.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>) -> tensor<1x8x512x64xf32>
  return %o : tensor<1x8x512x64xf32>
}

// -----

// CHECK-LABEL: func.func @masked_transposed_key
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %arg3 {key_transposed} : (tensor<?x2x?x16xf32>, tensor<?x2x16x?xf32>, tensor<?x2x?x24xf32>, tensor<?x1x1x?xf32>) -> tensor<?x2x?x24xf32>
func.func @masked_transposed_key(%q: tensor<?x2x?x16xf32>, %kt: tensor<?x2x16x?xf32>, %v: tensor<?x2x?x24xf32>, %m: tensor<?x1x1x?xf32>) -> tensor<?x2x?x24xf32> {
  %o = sparsa.attention %q, %kt, %v mask = %m {key_transposed} : (tensor<?x2x?x16xf32>, tensor<?x2x16x?xf32>, tensor<?x2x?x24xf32>, tensor<?x1x1x?xf32>) -> tensor<?x2x?x24xf32>
  return %o : tensor<?x2x?x24xf32>
}

// -----

// CHECK-LABEL: func.func @rank2_causal
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %arg3 : (tensor<7x16xf32>, tensor<9x16xf32>, tensor<9x8xf32>, tensor<7x9xf32>) -> tensor<7x8xf32>
func.func @rank2_causal(%q: tensor<7x16xf32>, %k: tensor<9x16xf32>, %v: tensor<9x8xf32>, %m: tensor<7x9xf32>) -> tensor<7x8xf32> {
  %o = sparsa.attention %q, %k, %v mask = %m : (tensor<7x16xf32>, tensor<9x16xf32>, tensor<9x8xf32>, tensor<7x9xf32>) -> tensor<7x8xf32>
  return %o : tensor<7x8xf32>
}

// -----

// CHECK-LABEL: func.func @sinks
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %arg3 sinks = %arg4 : (tensor<1x4x7x16xf32>, tensor<1x4x9x16xf32>, tensor<1x4x9x8xf32>, tensor<7x9xf32>, tensor<1x4xf32>) -> tensor<1x4x7x8xf32>
func.func @sinks(%q: tensor<1x4x7x16xf32>, %k: tensor<1x4x9x16xf32>, %v: tensor<1x4x9x8xf32>, %m: tensor<7x9xf32>, %s: tensor<1x4xf32>) -> tensor<1x4x7x8xf32> {
  %o = sparsa.attention %q, %k, %v mask = %m sinks = %s : (tensor<1x4x7x16xf32>, tensor<1x4x9x16xf32>, tensor<1x4x9x8xf32>, tensor<7x9xf32>, tensor<1x4xf32>) -> tensor<1x4x7x8xf32>
  return %o : tensor<1x4x7x8xf32>
}

// -----

/// Key and value broadcast along a leading dim of size 1 (one batch of
/// keys for every query batch), as MatMul does.
// CHECK-LABEL: func.func @broadcast_keys
// CHECK: sparsa.attention %arg0, %arg1, %arg1 : (tensor<3x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<3x2x8x16xf32>
func.func @broadcast_keys(%q: tensor<3x2x8x16xf32>, %k: tensor<1x2x8x16xf32>) -> tensor<3x2x8x16xf32> {
  %o = sparsa.attention %q, %k, %k : (tensor<3x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<3x2x8x16xf32>
  return %o : tensor<3x2x8x16xf32>
}

// -----

/// Grouped-query attention: key and value with a static divisor of the
/// query's heads (query head h reads kv head h / 4).
// CHECK-LABEL: func.func @grouped_query
// CHECK: sparsa.attention %arg0, %arg1, %arg1 : (tensor<1x8x16x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32>) -> tensor<1x8x16x16xf32>
func.func @grouped_query(%q: tensor<1x8x16x16xf32>, %k: tensor<1x2x16x16xf32>) -> tensor<1x8x16x16xf32> {
  %o = sparsa.attention %q, %k, %k : (tensor<1x8x16x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32>) -> tensor<1x8x16x16xf32>
  return %o : tensor<1x8x16x16xf32>
}
