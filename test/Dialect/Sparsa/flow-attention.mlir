// RUN: sparsa-opt %s --split-input-file | sparsa-opt --split-input-file | FileCheck %s

/// Flow-Attention with the defaults: sigmoid feature map, eps 1e-6, L / S
/// and S taken from the shapes at run time, chunks of 64.
// CHECK-LABEL: func.func @flow_default
// CHECK: sparsa.flow_attention %arg0, %arg1, %arg2 : (tensor<1x8x128x64xf32>, tensor<1x8x96x64xf32>, tensor<1x8x96x32xf32>) -> tensor<1x8x128x32xf32>
func.func @flow_default(%q: tensor<1x8x128x64xf32>, %k: tensor<1x8x96x64xf32>, %v: tensor<1x8x96x32xf32>) -> tensor<1x8x128x32xf32> {
  %o = sparsa.flow_attention %q, %k, %v : (tensor<1x8x128x64xf32>, tensor<1x8x96x64xf32>, tensor<1x8x96x32xf32>) -> tensor<1x8x128x32xf32>
  return %o : tensor<1x8x128x32xf32>
}

// -----

/// Causal, dynamic batch and length, a chunk of 32, the exporter's
/// constants kept as attributes.
// CHECK-LABEL: func.func @flow_causal
// CHECK: sparsa.flow_attention %arg0, %arg1, %arg2 {allocation_scale = 1.000000e+00 : f64, causal, chunk_size = 32 : i64, competition_scale = 5.000000e+01 : f64, feature_map = "relu"}
func.func @flow_causal(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %o = sparsa.flow_attention %q, %k, %v {causal, chunk_size = 32 : i64, feature_map = "relu", eps = 1.0e-6 : f64, allocation_scale = 1.0 : f64, competition_scale = 50.0 : f64} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

/// Linear attention: elu + 1, normalized, causal; and the bare recurrence
/// of ONNX LinearAttention ("linear": identity map, a scale, no normalizer)
/// on rank 3.
// CHECK-LABEL: func.func @linear
// CHECK: sparsa.linear_attention %arg0, %arg1, %arg2 {causal, eps = 9.9999999999999995E-7 : f64, feature_map = "elu1", normalize} : (tensor<2x3x10x8xf32>, tensor<2x3x10x8xf32>, tensor<2x3x10x4xf32>) -> tensor<2x3x10x4xf32>
// CHECK: sparsa.linear_attention %arg3, %arg3, %arg3 {causal, scale = 5.000000e-01 : f64} : (tensor<6x10x8xf32>, tensor<6x10x8xf32>, tensor<6x10x8xf32>) -> tensor<6x10x8xf32>
func.func @linear(%q: tensor<2x3x10x8xf32>, %k: tensor<2x3x10x8xf32>, %v: tensor<2x3x10x4xf32>, %x: tensor<6x10x8xf32>) -> (tensor<2x3x10x4xf32>, tensor<6x10x8xf32>) {
  %a = sparsa.linear_attention %q, %k, %v {feature_map = "elu1", causal, normalize, eps = 1.0e-6 : f64} : (tensor<2x3x10x8xf32>, tensor<2x3x10x8xf32>, tensor<2x3x10x4xf32>) -> tensor<2x3x10x4xf32>
  %b = sparsa.linear_attention %x, %x, %x {causal, scale = 0.5 : f64} : (tensor<6x10x8xf32>, tensor<6x10x8xf32>, tensor<6x10x8xf32>) -> tensor<6x10x8xf32>
  return %a, %b : tensor<2x3x10x4xf32>, tensor<6x10x8xf32>
}
