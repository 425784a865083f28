// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --verify-diagnostics

/// Every diagnostic of the lowering: verifier-valid IR the CPU path cannot
/// express yet gets an error at the op, never a crash.

func.func @reshape_bad_count(%x: tensor<2x8xf32>) -> tensor<3x5xf32> {
  %s = onnx.Constant {value = dense<[3, 5]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{onnx.Reshape: cannot reshape 'tensor<2x8xf32>' to 'tensor<3x5xf32>'}}
  %0 = onnx.Reshape %x, %s : (tensor<2x8xf32>, tensor<2xi64>) -> tensor<3x5xf32>
  return %0 : tensor<3x5xf32>
}

// -----

func.func @reshape_zero_beyond_rank(%x: tensor<16xf32>) -> tensor<16x1xf32> {
  %s = onnx.Constant {value = dense<[16, 0]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{onnx.Reshape: shape[1] = 0 copies a dimension the input does not have}}
  %0 = onnx.Reshape %x, %s : (tensor<16xf32>, tensor<2xi64>) -> tensor<16x1xf32>
  return %0 : tensor<16x1xf32>
}

// -----

func.func @reshape_negative(%x: tensor<16xf32>) -> tensor<4x4xf32> {
  %s = onnx.Constant {value = dense<[4, -3]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{onnx.Reshape: invalid shape value -3}}
  %0 = onnx.Reshape %x, %s : (tensor<16xf32>, tensor<2xi64>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @unsqueeze_dynamic_axes(%x: tensor<?xf32>, %a: tensor<1xi64>) -> tensor<1x?xf32> {
  // expected-error @+1 {{onnx.Unsqueeze: axes must be a constant when the result shape is not static}}
  %0 = onnx.Unsqueeze %x, %a : (tensor<?xf32>, tensor<1xi64>) -> tensor<1x?xf32>
  return %0 : tensor<1x?xf32>
}

// -----

func.func @squeeze_dynamic_axes(%x: tensor<1x?xf32>, %a: tensor<1xi64>) -> tensor<?xf32> {
  // expected-error @+1 {{onnx.Squeeze: axes must be a constant when the result shape is not static}}
  %0 = onnx.Squeeze %x, %a : (tensor<1x?xf32>, tensor<1xi64>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @squeeze_dynamic_dim(%x: tensor<?x8xf32>) -> tensor<8xf32> {
  %a = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{onnx.Squeeze: cannot squeeze dynamic dimension 0}}
  %0 = onnx.Squeeze %x, %a : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @gemm_int(%a: tensor<2x3xi32>, %b: tensor<3x4xi32>) -> tensor<2x4xi32> {
  // expected-error @+1 {{onnx.Gemm: only floating-point Gemm is supported (got 'i32')}}
  %0 = onnx.Gemm %a, %b : (tensor<2x3xi32>, tensor<3x4xi32>) -> tensor<2x4xi32>
  return %0 : tensor<2x4xi32>
}

// -----

func.func @unranked_operand(%x: tensor<*xf32>) -> tensor<*xf32> {
  // expected-error @+1 {{operand of unknown rank: ONNX shape inference could not type it; pin input shapes with --input-shape}}
  %0 = onnx.Relu %x : (tensor<*xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

func.func @split_sizes_length(%x: tensor<4xf32>, %s: tensor<?xi64>) -> tensor<?xf32> {
  // expected-error @+1 {{onnx.Split: expected 2 split sizes (one per output)}}
  %0:2 = onnx.Split %x, %s : (tensor<4xf32>, tensor<?xi64>) -> (tensor<?xf32>, tensor<?xf32>)
  return %0#0 : tensor<?xf32>
}

// -----

func.func @slice_dynamic_starts(%x: tensor<4x4xf32>, %s: tensor<?xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{onnx.Slice: starts must have a static length}}
  %0 = onnx.Slice %x, %s, %s : (tensor<4x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @cumsum_runtime_axis(%x: tensor<4x4xf32>, %a: tensor<?xi64>) -> tensor<4x4xf32> {
  // expected-error @+1 {{onnx.CumSum: axis must be a scalar}}
  %0 = onnx.CumSum %x, %a : (tensor<4x4xf32>, tensor<?xi64>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @reduce_dynamic_axes_length(%x: tensor<2x3xf32>, %a: tensor<?xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{onnx.ReduceSum: run-time axes need a static axes length and a rank of at most 6}}
  %0 = onnx.ReduceSum %x, %a : (tensor<2x3xf32>, tensor<?xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

func.func @reduce_axes_length_vs_rank(%x: tensor<2x3xf32>, %a: tensor<1xi64>) -> tensor<f32> {
  // expected-error @+1 {{onnx.ReduceSum: the axes length does not match the result rank}}
  %0 = onnx.ReduceSum %x, %a {keepdims = 0 : si64} : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @reduce_l2_of_integers(%x: tensor<2x4xi32>, %a: tensor<1xi64>) -> tensor<2x1xi32> {
  // expected-error @+1 {{onnx.ReduceL2: only float data is supported}}
  %y = onnx.ReduceL2 %x, %a : (tensor<2x4xi32>, tensor<1xi64>) -> tensor<2x1xi32>
  return %y : tensor<2x1xi32>
}

// -----

func.func @reduce_log_sum_exp_of_integers(%x: tensor<2x4xi32>, %a: tensor<1xi64>) -> tensor<2x1xi32> {
  // expected-error @+1 {{onnx.ReduceLogSumExp: only float data is supported}}
  %y = onnx.ReduceLogSumExp %x, %a : (tensor<2x4xi32>, tensor<1xi64>) -> tensor<2x1xi32>
  return %y : tensor<2x1xi32>
}
