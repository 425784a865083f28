// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

/// One case per verifier diagnostic of the onnx dialect.

func.func @constant_type_mismatch() -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Constant' op expected value type ('tensor<2xi64>') to match result type ('tensor<2xf32>')}}
  %0 = onnx.Constant {value = dense<1> : tensor<2xi64>} : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @identity_type_mismatch(%x: tensor<4xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{'onnx.Identity' op expected result type ('tensor<5xf32>') to be compatible with input type ('tensor<4xf32>')}}
  %0 = onnx.Identity %x : (tensor<4xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

func.func @matmul_element_types(%a: tensor<2x3xf32>, %b: tensor<3x4xf16>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.MatMul' op expected operand element types to match ('f32' vs 'f16')}}
  %0 = onnx.MatMul %a, %b : (tensor<2x3xf32>, tensor<3x4xf16>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @matmul_rank0(%a: tensor<f32>, %b: tensor<3x4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.MatMul' op expected operands of rank >= 1 (got 0 and 2)}}
  %0 = onnx.MatMul %a, %b : (tensor<f32>, tensor<3x4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @matmul_contracting(%a: tensor<2x3xf32>, %b: tensor<5x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.MatMul' op expected contracting dimensions to match (3 vs 5)}}
  %0 = onnx.MatMul %a, %b : (tensor<2x3xf32>, tensor<5x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @gemm_element_types(%a: tensor<2x3xf32>, %b: tensor<3x4xf64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.Gemm' op expected operand element types to match ('f32' vs 'f64')}}
  %0 = onnx.Gemm %a, %b : (tensor<2x3xf32>, tensor<3x4xf64>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @gemm_rank(%a: tensor<2x3x1xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.Gemm' op expected rank-2 A and B (got 3 and 2)}}
  %0 = onnx.Gemm %a, %b : (tensor<2x3x1xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @gemm_trans_b_contracting(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x3xf32> {
  /// With transB = 1, B is [N, K]: K is 4 here, not 3.
  // expected-error @+1 {{'onnx.Gemm' op expected contracting dimensions to match (3 vs 4)}}
  %0 = onnx.Gemm %a, %b {transB = 1 : si64} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @gemm_bias(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<5xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.Gemm' op expected C of shape 5 to broadcast unidirectionally to 2x4}}
  %0 = onnx.Gemm %a, %b, %c : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<5xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @add_element_types(%a: tensor<4xf32>, %b: tensor<4xi64>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Add' op expected operand element types to match ('f32' vs 'i64')}}
  %0 = onnx.Add %a, %b : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @mul_result_element_type(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf16> {
  // expected-error @+1 {{'onnx.Mul' op expected result element type ('f16') to match operand element type ('f32')}}
  %0 = onnx.Mul %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

func.func @sub_not_broadcastable(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'onnx.Sub' op operand shapes (2x3 and 4x3) are not broadcast-compatible}}
  %0 = onnx.Sub %a, %b : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @div_result_rank(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'onnx.Div' op expected result rank 2 (got 1)}}
  %0 = onnx.Div %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @relu_type(%x: tensor<4xf32>) -> tensor<4xf16> {
  // expected-error @+1 {{'onnx.Relu' op failed to verify that all of {X, Y} have same type}}
  %0 = onnx.Relu %x : (tensor<4xf32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

func.func @softmax_axis(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.Softmax' op axis 2 is out of range for rank 2}}
  %0 = onnx.Softmax %x {axis = 2 : si64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @reshape_shape_rank(%x: tensor<2x8xf32>, %s: tensor<2x1xi64>) -> tensor<16xf32> {
  // expected-error @+1 {{'onnx.Reshape' op expected shape to be a 1-D tensor (got rank 2)}}
  %0 = onnx.Reshape %x, %s : (tensor<2x8xf32>, tensor<2x1xi64>) -> tensor<16xf32>
  return %0 : tensor<16xf32>
}

// -----

func.func @reshape_two_minus_one(%x: tensor<2x8xf32>) -> tensor<4x4xf32> {
  %s = onnx.Constant {value = dense<-1> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{'onnx.Reshape' op shape may contain at most one -1}}
  %0 = onnx.Reshape %x, %s : (tensor<2x8xf32>, tensor<2xi64>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @reshape_result_rank(%x: tensor<2x8xf32>) -> tensor<16xf32> {
  %s = onnx.Constant {value = dense<[4, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{'onnx.Reshape' op expected result rank 2 (got 1)}}
  %0 = onnx.Reshape %x, %s : (tensor<2x8xf32>, tensor<2xi64>) -> tensor<16xf32>
  return %0 : tensor<16xf32>
}

// -----

func.func @reshape_element_type(%x: tensor<2x8xf32>) -> tensor<4x4xf16> {
  %s = onnx.Constant {value = dense<[4, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{'onnx.Reshape' op expected result element type to match data}}
  %0 = onnx.Reshape %x, %s : (tensor<2x8xf32>, tensor<2xi64>) -> tensor<4x4xf16>
  return %0 : tensor<4x4xf16>
}

// -----

func.func @transpose_perm_size(%x: tensor<2x8xf32>) -> tensor<8x2xf32> {
  // expected-error @+1 {{'onnx.Transpose' op expected perm of size 2 (got 3)}}
  %0 = onnx.Transpose %x {perm = array<i64: 1, 0, 2>} : (tensor<2x8xf32>) -> tensor<8x2xf32>
  return %0 : tensor<8x2xf32>
}

// -----

func.func @transpose_not_permutation(%x: tensor<2x8xf32>) -> tensor<8x2xf32> {
  // expected-error @+1 {{'onnx.Transpose' op perm is not a permutation of [0, 2)}}
  %0 = onnx.Transpose %x {perm = array<i64: 1, 1>} : (tensor<2x8xf32>) -> tensor<8x2xf32>
  return %0 : tensor<8x2xf32>
}

// -----

func.func @transpose_result_rank(%x: tensor<2x8xf32>) -> tensor<16xf32> {
  // expected-error @+1 {{'onnx.Transpose' op expected a result of rank 2 (got 1)}}
  %0 = onnx.Transpose %x {perm = array<i64: 1, 0>} : (tensor<2x8xf32>) -> tensor<16xf32>
  return %0 : tensor<16xf32>
}

// -----

func.func @transpose_result_dims(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'onnx.Transpose' op result dimension 0 (2) does not match input dimension 1 (8)}}
  %0 = onnx.Transpose %x {perm = array<i64: 1, 0>} : (tensor<2x8xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @cast_unsupported(%x: tensor<4xf32>) -> tensor<4xf32> {
  /// 8 is ONNX's string type.
  // expected-error @+1 {{'onnx.Cast' op unsupported target data type 8}}
  %0 = onnx.Cast %x {to = 8 : si64} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @cast_result_type(%x: tensor<4xf32>) -> tensor<4xi32> {
  // expected-error @+1 {{'onnx.Cast' op expected result element type ('i32') to match 'to' ('i64')}}
  %0 = onnx.Cast %x {to = 7 : si64} : (tensor<4xf32>) -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @unsqueeze_rank(%x: tensor<8xf32>) -> tensor<1x1x8xf32> {
  %a = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{'onnx.Unsqueeze' op expected result rank 2 (got 3)}}
  %0 = onnx.Unsqueeze %x, %a : (tensor<8xf32>, tensor<1xi64>) -> tensor<1x1x8xf32>
  return %0 : tensor<1x1x8xf32>
}

// -----

func.func @unsqueeze_axis(%x: tensor<8xf32>) -> tensor<1x8xf32> {
  %a = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{'onnx.Unsqueeze' op axis 2 is out of range or repeated}}
  %0 = onnx.Unsqueeze %x, %a : (tensor<8xf32>, tensor<1xi64>) -> tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// -----

func.func @squeeze_axis_range(%x: tensor<1x8xf32>) -> tensor<8xf32> {
  %a = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{'onnx.Squeeze' op axis 3 is out of range for rank 2}}
  %0 = onnx.Squeeze %x, %a : (tensor<1x8xf32>, tensor<1xi64>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @squeeze_non_unit(%x: tensor<2x8xf32>) -> tensor<8xf32> {
  %a = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{'onnx.Squeeze' op cannot squeeze dimension 0 of size 2}}
  %0 = onnx.Squeeze %x, %a : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @concat_empty() -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Concat' op expected at least one input}}
  %0 = onnx.Concat {axis = 0 : si64} : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @concat_axis(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x6xf32> {
  // expected-error @+1 {{'onnx.Concat' op axis 2 is out of range for rank 2}}
  %0 = onnx.Concat %a, %b {axis = 2 : si64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

func.func @concat_element_type(%a: tensor<2x3xf32>, %b: tensor<2x3xf16>) -> tensor<2x6xf32> {
  // expected-error @+1 {{'onnx.Concat' op expected all inputs to have element type 'f32'}}
  %0 = onnx.Concat %a, %b {axis = 1 : si64} : (tensor<2x3xf32>, tensor<2x3xf16>) -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

func.func @concat_rank(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x6xf32> {
  // expected-error @+1 {{'onnx.Concat' op expected all inputs to have rank 2 (got 1)}}
  %0 = onnx.Concat %a, %b {axis = 1 : si64} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

func.func @concat_other_dims(%a: tensor<2x3xf32>, %b: tensor<4x3xf32>) -> tensor<2x6xf32> {
  // expected-error @+1 {{'onnx.Concat' op input shapes 2x3 and 4x3 differ outside the concatenation axis}}
  %0 = onnx.Concat %a, %b {axis = 1 : si64} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x6xf32>
  return %0 : tensor<2x6xf32>
}

// -----

func.func @gelu_approximate(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Gelu' op approximate must be 'none' or 'tanh' (got 'fast')}}
  %0 = onnx.Gelu %x {approximate = "fast"} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @clip_bound_type(%x: tensor<4xf32>, %lo: tensor<f16>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Clip' op expected bound element type ('f16') to match input ('f32')}}
  %0 = onnx.Clip %x min = %lo : (tensor<4xf32>, tensor<f16>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @clip_bound_not_scalar(%x: tensor<4xf32>, %lo: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Clip' op expected bounds to be scalars (got 'tensor<2xf32>')}}
  %0 = onnx.Clip %x min = %lo : (tensor<4xf32>, tensor<2xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @clip_result(%x: tensor<4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.Clip' op expected result type to match input}}
  %0 = onnx.Clip %x : (tensor<4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @pow_result(%x: tensor<4xf32>, %y: tensor<4xi64>) -> tensor<4xi64> {
  // expected-error @+1 {{'onnx.Pow' op expected result element type ('i64') to match base ('f32')}}
  %0 = onnx.Pow %x, %y : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xi64>
  return %0 : tensor<4xi64>
}

// -----

func.func @max_empty() -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Max' op expected at least one input}}
  %0 = onnx.Max : () -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @min_types(%x: tensor<4xf32>, %y: tensor<4xf16>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Min' op expected operand and result element types to match ('f32' vs 'f16')}}
  %0 = onnx.Min %x, %y : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @max_shapes(%x: tensor<4xf32>, %y: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Max' op operand shapes (4, 3) are not broadcast-compatible}}
  %0 = onnx.Max %x, %y : (tensor<4xf32>, tensor<3xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @and_not_bool(%x: tensor<4xi32>) -> tensor<4xi1> {
  // expected-error @+1 {{'onnx.And' op expected bool operands (got 'i32')}}
  %0 = onnx.And %x, %x : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi1>
  return %0 : tensor<4xi1>
}

// -----

func.func @less_types(%x: tensor<4xf32>, %y: tensor<4xi32>) -> tensor<4xi1> {
  // expected-error @+1 {{'onnx.Less' op expected operand element types to match ('f32' vs 'i32')}}
  %0 = onnx.Less %x, %y : (tensor<4xf32>, tensor<4xi32>) -> tensor<4xi1>
  return %0 : tensor<4xi1>
}

// -----

func.func @where_types(%c: tensor<4xi1>, %x: tensor<4xf32>, %y: tensor<4xi32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.Where' op expected X, Y and result element types to match ('f32' vs 'i32')}}
  %0 = onnx.Where %c, %x, %y : (tensor<4xi1>, tensor<4xf32>, tensor<4xi32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @reduce_axis_range(%x: tensor<2x4xf32>) -> tensor<2xf32> {
  %a = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  // expected-error @+1 {{'onnx.ReduceSum' op axis 2 is out of range for rank 2}}
  %0 = onnx.ReduceSum %x, %a {keepdims = 0 : si64} : (tensor<2x4xf32>, tensor<1xi64>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @reduce_axis_repeated(%x: tensor<2x4xf32>) -> tensor<2xf32> {
  %a = onnx.Constant {value = dense<[1, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{'onnx.ReduceMean' op axis -1 is repeated}}
  %0 = onnx.ReduceMean %x, %a {keepdims = 0 : si64} : (tensor<2x4xf32>, tensor<2xi64>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @argmax_axis(%x: tensor<2x4xf32>) -> tensor<2xi64> {
  // expected-error @+1 {{'onnx.ArgMax' op axis -3 is out of range for rank 2}}
  %0 = onnx.ArgMax %x {axis = -3 : si64, keepdims = 0 : si64} : (tensor<2x4xf32>) -> tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

func.func @logsoftmax_axis(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.LogSoftmax' op axis 2 is out of range for rank 2}}
  %0 = onnx.LogSoftmax %x {axis = 2 : si64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @layernorm_types(%x: tensor<2x4xf32>, %s: tensor<4xf16>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.LayerNormalization' op expected X, Scale and B element types to match ('f32' vs 'f16')}}
  %0 = onnx.LayerNormalization %x, %s : (tensor<2x4xf32>, tensor<4xf16>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @layernorm_statistics(%x: tensor<2x4xf32>, %s: tensor<4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'onnx.LayerNormalization' op expected at most 2 statistics results (Mean, InvStdDev), got 3}}
  %0:4 = onnx.LayerNormalization %x, %s : (tensor<2x4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, tensor<2x1xf32>, tensor<2x1xf32>, tensor<2x1xf32>)
  return %0#0 : tensor<2x4xf32>
}

// -----

func.func @flatten_axis(%x: tensor<2x4xf32>) -> tensor<8x1xf32> {
  // expected-error @+1 {{'onnx.Flatten' op axis 3 is out of range for rank 2}}
  %0 = onnx.Flatten %x {axis = 3 : si64} : (tensor<2x4xf32>) -> tensor<8x1xf32>
  return %0 : tensor<8x1xf32>
}

// -----

func.func @split_no_outputs(%x: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Split' op expected at least one output}}
  onnx.Split %x : (tensor<4xf32>) -> ()
  return
}

// -----

func.func @split_count(%x: tensor<4xf32>) -> tensor<2xf32> {
  %s = onnx.Constant {value = dense<[1, 1, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  // expected-error @+1 {{'onnx.Split' op expected 2 split sizes (got 3)}}
  %0:2 = onnx.Split %x, %s : (tensor<4xf32>, tensor<3xi64>) -> (tensor<2xf32>, tensor<2xf32>)
  return %0#0 : tensor<2xf32>
}

// -----

func.func @split_sum(%x: tensor<4xf32>) -> tensor<2xf32> {
  %s = onnx.Constant {value = dense<[2, 3]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{'onnx.Split' op split sizes add up to 5, not the dimension size 4}}
  %0:2 = onnx.Split %x, %s : (tensor<4xf32>, tensor<2xi64>) -> (tensor<2xf32>, tensor<3xf32>)
  return %0#0 : tensor<2xf32>
}

// -----

func.func @gather_axis(%x: tensor<2x4xf32>, %i: tensor<3xi64>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'onnx.Gather' op axis 2 is out of range for rank 2}}
  %0 = onnx.Gather %x, %i {axis = 2 : si64} : (tensor<2x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

func.func @gather_elements_rank(%x: tensor<2x4xf32>, %i: tensor<3xi64>) -> tensor<3xf32> {
  // expected-error @+1 {{'onnx.GatherElements' op expected data and indices of the same rank (got 2 and 1)}}
  %0 = onnx.GatherElements %x, %i : (tensor<2x4xf32>, tensor<3xi64>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @topk_axis(%x: tensor<2x4xf32>, %k: tensor<1xi64>) -> tensor<2x2xf32> {
  // expected-error @+1 {{'onnx.TopK' op axis 5 is out of range for rank 2}}
  %0:2 = onnx.TopK %x, %k {axis = 5 : si64} : (tensor<2x4xf32>, tensor<1xi64>) -> (tensor<2x2xf32>, tensor<2x2xi64>)
  return %0#0 : tensor<2x2xf32>
}

// -----

func.func @gathernd_batch_dims(%x: tensor<2x4xf32>, %i: tensor<2x1xi64>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.GatherND' op batch_dims 2 must be less than the ranks of data (2) and indices (2)}}
  %0 = onnx.GatherND %x, %i {batch_dims = 2 : si64} : (tensor<2x4xf32>, tensor<2x1xi64>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @gathernd_tuple(%x: tensor<2x4xf32>, %i: tensor<2x3xi64>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.GatherND' op index tuples of length 3 do not fit data of rank 2 after 0 batch dims}}
  %0 = onnx.GatherND %x, %i : (tensor<2x4xf32>, tensor<2x3xi64>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @scatter_reduction(%x: tensor<4xf32>, %i: tensor<2xi64>, %u: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.ScatterElements' op unknown reduction 'sum'}}
  %0 = onnx.ScatterElements %x, %i, %u {reduction = "sum"} : (tensor<4xf32>, tensor<2xi64>, tensor<2xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @scatter_shapes(%x: tensor<4xf32>, %i: tensor<2xi64>, %u: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.ScatterElements' op expected data, indices and updates of one rank, and indices and updates of one shape}}
  %0 = onnx.ScatterElements %x, %i, %u : (tensor<4xf32>, tensor<2xi64>, tensor<3xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @scatternd_updates_rank(%x: tensor<4x3xf32>, %i: tensor<2x1xi64>, %u: tensor<2xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'onnx.ScatterND' op expected updates of rank 2 (got 1)}}
  %0 = onnx.ScatterND %x, %i, %u : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @einsum_terms(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Einsum' op equation 'ij,jk->ik': the equation has 2 input terms for 1 inputs}}
  %0 = onnx.Einsum %a {equation = "ij,jk->ik"} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @einsum_rank(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Einsum' op equation 'ijk->i': term 'ijk' does not match input 0 of rank 2}}
  %0 = onnx.Einsum %a {equation = "ijk->i"} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @einsum_output_letter(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Einsum' op equation 'ij->z': output term 'z' uses a letter no input has}}
  %0 = onnx.Einsum %a {equation = "ij->z"} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @quantize_zero_point_type(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<4xui8> {
  // expected-error @+1 {{'onnx.QuantizeLinear' op expected the result element type to match the zero point}}
  %0 = onnx.QuantizeLinear %x, %s, %z : (tensor<4xf32>, tensor<f32>, tensor<i8>) -> tensor<4xui8>
  return %0 : tensor<4xui8>
}

// -----

func.func @dequantize_axis_scales(%x: tensor<4x8xi8>, %s: tensor<8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'onnx.DequantizeLinear' op expected 4 scales along axis 0 (got 8)}}
  %0 = onnx.DequantizeLinear %x, %s {axis = 0 : si64} : (tensor<4x8xi8>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @dequantize_blocked_scales(%x: tensor<4x8xi8>, %s: tensor<4x3xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'onnx.DequantizeLinear' op blocked scale dimension 1 must be 2 (got 3)}}
  %0 = onnx.DequantizeLinear %x, %s {block_size = 4 : si64} : (tensor<4x8xi8>, tensor<4x3xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @dequantize_result_type(%x: tensor<4xi8>, %s: tensor<f32>) -> tensor<4xf16> {
  // expected-error @+1 {{'onnx.DequantizeLinear' op expected the result element type to match the scale}}
  %0 = onnx.DequantizeLinear %x, %s : (tensor<4xi8>, tensor<f32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

func.func @matmulinteger_zero_point(%a: tensor<2x4xui8>, %b: tensor<4x3xi8>, %z: tensor<i8>) -> tensor<2x3xi32> {
  // expected-error @+1 {{'onnx.MatMulInteger' op expected a_zero_point of A's element type}}
  %0 = onnx.MatMulInteger %a, %b a_zero_point = %z : (tensor<2x4xui8>, tensor<4x3xi8>, tensor<i8>) -> tensor<2x3xi32>
  return %0 : tensor<2x3xi32>
}

// -----

func.func @matmulinteger_k(%a: tensor<2x4xui8>, %b: tensor<5x3xui8>) -> tensor<2x3xi32> {
  // expected-error @+1 {{'onnx.MatMulInteger' op expected contracting dimensions to match (4 vs 5)}}
  %0 = onnx.MatMulInteger %a, %b : (tensor<2x4xui8>, tensor<5x3xui8>) -> tensor<2x3xi32>
  return %0 : tensor<2x3xi32>
}

// -----

func.func @nbits_bits(%a: tensor<2x64xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op bits must be 2, 4 or 8 (got 3)}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 32 : si64, bits = 3 : si64, block_size = 32 : si64} : (tensor<2x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @nbits_b_shape(%a: tensor<2x64xf32>, %b: tensor<32x4x16xui8>, %s: tensor<32x2xf32>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op expected B of shape 32x2x16 (got 32x4x16)}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 32 : si64, block_size = 32 : si64} : (tensor<2x64xf32>, tensor<32x4x16xui8>, tensor<32x2xf32>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @moe_activation(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<4x16x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op unsupported activation_type 'tanh'}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {activation_type = "tanh"} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x64xf32>, tensor<4x64x16xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @moe_k(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<4x16x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op k = 5 must be in [1, number of experts]}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {k = 5 : si64} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x64xf32>, tensor<4x64x16xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @moe_expert_shapes(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<4x16x32xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op expert weight shapes 4x16x32 and 4x64x16 do not match hidden size 64 and the activation}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x32xf32>, tensor<4x64x16xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @qmoe_bits(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %q1: tensor<4x16x32xui8>, %s1: tensor<4x16xf32>, %q2: tensor<4x64x8xui8>, %s2: tensor<4x64xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.QMoE' op expert_weight_bits must be 2, 4 or 8 (got 3)}}
  %0 = onnx.ms.QMoE %x, %r, %q1, %s1, %q2, %s2 {expert_weight_bits = 3 : si64} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x32xui8>, tensor<4x16xf32>, tensor<4x64x8xui8>, tensor<4x64xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @gathernd_scalar_indices(%x: tensor<2x4xf32>, %i: tensor<i64>) -> tensor<f32> {
  // expected-error @+1 {{'onnx.GatherND' op expected indices of rank >= 1}}
  %0 = onnx.GatherND %x, %i : (tensor<2x4xf32>, tensor<i64>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @gathernd_dynamic_tuple(%x: tensor<2x4xf32>, %i: tensor<3x?xi64>) -> tensor<?xf32> {
  // expected-error @+1 {{'onnx.GatherND' op the last dimension of indices must be static}}
  %0 = onnx.GatherND %x, %i : (tensor<2x4xf32>, tensor<3x?xi64>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @scatter_result_type(%x: tensor<4xf32>, %i: tensor<2xi64>, %u: tensor<2xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{'onnx.ScatterElements' op expected result type to match data}}
  %0 = onnx.ScatterElements %x, %i, %u : (tensor<4xf32>, tensor<2xi64>, tensor<2xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @scatternd_updates_type(%x: tensor<4xf32>, %i: tensor<2x1xi64>, %u: tensor<2xf16>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.ScatterND' op expected updates of the data's element type}}
  %0 = onnx.ScatterND %x, %i, %u : (tensor<4xf32>, tensor<2x1xi64>, tensor<2xf16>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @scatternd_dynamic_tuple(%x: tensor<4xf32>, %i: tensor<2x?xi64>, %u: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.ScatterND' op expected indices of rank >= 1 with a static last dimension}}
  %0 = onnx.ScatterND %x, %i, %u : (tensor<4xf32>, tensor<2x?xi64>, tensor<2xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @scatternd_long_tuple(%x: tensor<4x3xf32>, %i: tensor<2x3xi64>, %u: tensor<2xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'onnx.ScatterND' op index tuples of length 3 exceed the data rank 2}}
  %0 = onnx.ScatterND %x, %i, %u : (tensor<4x3xf32>, tensor<2x3xi64>, tensor<2xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @einsum_invalid_term(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Einsum' op equation 'i1->i': invalid term 'i1'}}
  %0 = onnx.Einsum %a {equation = "i1->i"} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @einsum_invalid_output(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Einsum' op equation 'ij->i.': invalid output term 'i.'}}
  %0 = onnx.Einsum %a {equation = "ij->i."} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @einsum_repeated_output(%a: tensor<2x3xf32>) -> tensor<2x2xf32> {
  // expected-error @+1 {{'onnx.Einsum' op equation 'ij->ii': output term 'ii' repeats a letter}}
  %0 = onnx.Einsum %a {equation = "ij->ii"} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}

// -----

func.func @einsum_no_inputs() -> tensor<f32> {
  // expected-error @+1 {{'onnx.Einsum' op expected at least one input}}
  %0 = onnx.Einsum {equation = "->"} : () -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @einsum_result_rank(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'onnx.Einsum' op expected a result of rank 1}}
  %0 = onnx.Einsum %a {equation = "ij->i"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @einsum_types(%a: tensor<2x3xf32>, %b: tensor<3xf16>) -> tensor<2xf32> {
  // expected-error @+1 {{'onnx.Einsum' op expected input and result element types to match ('f32' vs 'f16')}}
  %0 = onnx.Einsum %a, %b {equation = "ij,j->i"} : (tensor<2x3xf32>, tensor<3xf16>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @quantize_block_size(%x: tensor<4x8xf32>, %s: tensor<4x2xf32>) -> tensor<4x8xui8> {
  // expected-error @+1 {{'onnx.QuantizeLinear' op block_size must be >= 0 (got -4)}}
  %0 = onnx.QuantizeLinear %x, %s {block_size = -4 : si64} : (tensor<4x8xf32>, tensor<4x2xf32>) -> tensor<4x8xui8>
  return %0 : tensor<4x8xui8>
}

// -----

func.func @quantize_scale_rank(%x: tensor<4x8xf32>, %s: tensor<4x8xf32>) -> tensor<4x8xui8> {
  // expected-error @+1 {{'onnx.QuantizeLinear' op expected a scalar or 1-D scale without block_size (got rank 2)}}
  %0 = onnx.QuantizeLinear %x, %s : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xui8>
  return %0 : tensor<4x8xui8>
}

// -----

func.func @quantize_blocked_rank(%x: tensor<4x8xf32>, %s: tensor<2xf32>) -> tensor<4x8xui8> {
  // expected-error @+1 {{'onnx.QuantizeLinear' op blocked scales must have the input's rank 2 (got 1)}}
  %0 = onnx.QuantizeLinear %x, %s {block_size = 4 : si64} : (tensor<4x8xf32>, tensor<2xf32>) -> tensor<4x8xui8>
  return %0 : tensor<4x8xui8>
}

// -----

func.func @quantize_zero_point_shape(%x: tensor<4x8xf32>, %s: tensor<8xf32>, %z: tensor<ui8>) -> tensor<4x8xui8> {
  // expected-error @+1 {{'onnx.QuantizeLinear' op expected the scale and zero point of one shape}}
  %0 = onnx.QuantizeLinear %x, %s, %z : (tensor<4x8xf32>, tensor<8xf32>, tensor<ui8>) -> tensor<4x8xui8>
  return %0 : tensor<4x8xui8>
}

// -----

func.func @dequantize_zero_point_type(%x: tensor<4xi8>, %s: tensor<f32>, %z: tensor<ui8>) -> tensor<4xf32> {
  // expected-error @+1 {{'onnx.DequantizeLinear' op expected the zero point element type to match the input}}
  %0 = onnx.DequantizeLinear %x, %s, %z : (tensor<4xi8>, tensor<f32>, tensor<ui8>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @qlinearmatmul_zero_point(%a: tensor<2x4xui8>, %s: tensor<f32>, %z: tensor<ui8>, %zi: tensor<i8>) -> tensor<2x3xui8> {
  %b = onnx.Constant {value = dense<1> : tensor<4x3xui8>} : () -> tensor<4x3xui8>
  // expected-error @+1 {{'onnx.QLinearMatMul' op expected each zero point of its tensor's element type}}
  %0 = onnx.QLinearMatMul %a, %s, %zi, %b, %s, %z, %s, %z : (tensor<2x4xui8>, tensor<f32>, tensor<i8>, tensor<4x3xui8>, tensor<f32>, tensor<ui8>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
  return %0 : tensor<2x3xui8>
}

// -----

func.func @nbits_block(%a: tensor<2x64xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op block_size must be a power of two >= 16 (got 24)}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 32 : si64, block_size = 24 : si64} : (tensor<2x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @nbits_k(%a: tensor<2x64xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op K and N must be positive}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s {K = 0 : si64, N = 32 : si64, block_size = 32 : si64} : (tensor<2x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @nbits_scales(%a: tensor<2x64xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x3xf32>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op expected 64 scales (got 96)}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 32 : si64, block_size = 32 : si64} : (tensor<2x64xf32>, tensor<32x2x16xui8>, tensor<32x3xf32>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @nbits_scales_type(%a: tensor<2x64xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x2xf16>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op expected scales of A's element type}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 32 : si64, block_size = 32 : si64} : (tensor<2x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf16>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @nbits_zero_points(%a: tensor<2x64xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x2xf32>, %z: tensor<32x2xui8>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op expected 32 zero point elements (got 64)}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s zero_points = %z {K = 64 : si64, N = 32 : si64, block_size = 32 : si64} : (tensor<2x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>, tensor<32x2xui8>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @nbits_a_k(%a: tensor<2x60xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'onnx.ms.MatMulNBits' op expected A's last dimension to be K = 64}}
  %0 = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 32 : si64, block_size = 32 : si64} : (tensor<2x60xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

func.func @moe_swiglu_fusion(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<4x32x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op swiglu_fusion must be 0, 1 or 2}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {activation_type = "swiglu", swiglu_fusion = 3 : si64} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x32x64xf32>, tensor<4x64x16xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @moe_fc3_unused(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<4x16x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op fc3 weights are only used by swiglu with swiglu_fusion = 0}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 fc3 = %w1 {activation_type = "silu"} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x64xf32>, tensor<4x64x16xf32>, tensor<4x16x64xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @moe_fc3_missing(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<4x16x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op swiglu with swiglu_fusion = 0 needs fc3 weights}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 {activation_type = "swiglu"} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x64xf32>, tensor<4x64x16xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @moe_ranks(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<16x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op expected input [T, H] or [B, S, H], router_probs [T, E] and expert weights [E, out, in]}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<16x64xf32>, tensor<4x64x16xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @moe_result(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %w1: tensor<4x16x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op expected the result type to match the input}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x64xf32>, tensor<4x64x16xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @moe_experts(%x: tensor<2x64xf32>, %r: tensor<2x8xf32>, %w1: tensor<4x16x64xf32>, %w2: tensor<4x64x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.MoE' op expert counts of the weights and router_probs differ}}
  %0 = onnx.ms.MoE %x, %r, %w1, %w2 : (tensor<2x64xf32>, tensor<2x8xf32>, tensor<4x16x64xf32>, tensor<4x64x16xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @qmoe_block(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %q1: tensor<4x16x32xui8>, %s1: tensor<4x16x2xf32>, %q2: tensor<4x64x8xui8>, %s2: tensor<4x64x1xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.QMoE' op block_size must be 0 or a power of two >= 16 (got 20)}}
  %0 = onnx.ms.QMoE %x, %r, %q1, %s1, %q2, %s2 {block_size = 20 : si64} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x32xui8>, tensor<4x16x2xf32>, tensor<4x64x8xui8>, tensor<4x64x1xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @qmoe_fc3_scales(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %q1: tensor<4x16x32xui8>, %s1: tensor<4x16xf32>, %q2: tensor<4x64x8xui8>, %s2: tensor<4x64xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.QMoE' op fc3 weights and fc3 scales come together}}
  %0 = onnx.ms.QMoE %x, %r, %q1, %s1, %q2, %s2 fc3 = %q1 {activation_type = "swiglu"} : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x32xui8>, tensor<4x16xf32>, tensor<4x64x8xui8>, tensor<4x64xf32>, tensor<4x16x32xui8>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @qmoe_result(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %q1: tensor<4x16x32xui8>, %s1: tensor<4x16xf32>, %q2: tensor<4x64x8xui8>, %s2: tensor<4x64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{'onnx.ms.QMoE' op expected the result type to match the input}}
  %0 = onnx.ms.QMoE %x, %r, %q1, %s1, %q2, %s2 : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x32xui8>, tensor<4x16xf32>, tensor<4x64x8xui8>, tensor<4x64xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

func.func @qmoe_scale_rank(%x: tensor<2x64xf32>, %r: tensor<2x4xf32>, %q1: tensor<4x16x32xui8>, %s1: tensor<4x16x2xf32>, %q2: tensor<4x64x8xui8>, %s2: tensor<4x64xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'onnx.ms.QMoE' op expected weights [E, out, in * bits / 8] and scales [E, out]}}
  %0 = onnx.ms.QMoE %x, %r, %q1, %s1, %q2, %s2 : (tensor<2x64xf32>, tensor<2x4xf32>, tensor<4x16x32xui8>, tensor<4x16x2xf32>, tensor<4x64x8xui8>, tensor<4x64xf32>) -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

func.func @trilu_rank(%x: tensor<5xf32>) -> tensor<5xf32> {
  // expected-error @+1 {{'onnx.Trilu' op expected an input of rank >= 2}}
  %0 = onnx.Trilu %x : (tensor<5xf32>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

func.func @trilu_k(%x: tensor<4x4xf32>, %k: tensor<2xi64>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'onnx.Trilu' op k must be a scalar or a 1-element tensor}}
  %0 = onnx.Trilu %x, %k : (tensor<4x4xf32>, tensor<2xi64>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @linear_attention_rank(%q: tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<1x4x16x16xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op expected query, key and value packed as [B, T, H * d]}}
  %y, %s = onnx.LinearAttention %q, %q, %q {q_num_heads = 4 : si64, kv_num_heads = 4 : si64} : (tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<1x4x16x16xf32>)
  return %y, %s : tensor<16x64xf32>, tensor<1x4x16x16xf32>
}

// -----

func.func @linear_attention_heads(%q: tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x3x16x16xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op q_num_heads must be a positive multiple of kv_num_heads}}
  %y, %s = onnx.LinearAttention %q, %q, %q {q_num_heads = 4 : si64, kv_num_heads = 3 : si64} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x3x16x16xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x3x16x16xf32>
}

// -----

func.func @linear_attention_dims(%q: tensor<1x8x64xf32>, %k: tensor<1x8x32xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x16x16xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op expected query [B, T, Hq * dk], key [B, T, Hkv * dk] and value [B, T, Hkv * dv]}}
  %y, %s = onnx.LinearAttention %q, %k, %k {q_num_heads = 2 : si64, kv_num_heads = 2 : si64} : (tensor<1x8x64xf32>, tensor<1x8x32xf32>, tensor<1x8x32xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x16x16xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x16x16xf32>
}

// -----

func.func @linear_attention_dynamic(%q: tensor<1x8x?xf32>) -> (tensor<1x8x?xf32>, tensor<1x2x?x?xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op the packed head dims must be static}}
  %y, %s = onnx.LinearAttention %q, %q, %q {q_num_heads = 2 : si64, kv_num_heads = 2 : si64} : (tensor<1x8x?xf32>, tensor<1x8x?xf32>, tensor<1x8x?xf32>) -> (tensor<1x8x?xf32>, tensor<1x2x?x?xf32>)
  return %y, %s : tensor<1x8x?xf32>, tensor<1x2x?x?xf32>
}

// -----

func.func @linear_attention_past(%q: tensor<1x8x64xf32>, %p: tensor<1x2x8x32xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op expected past_state [B, Hkv, dk, dv]}}
  %y, %s = onnx.LinearAttention %q, %q, %q past = %p {q_num_heads = 2 : si64, kv_num_heads = 2 : si64} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x2x8x32xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @linear_attention_rule(%q: tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op update_rule 'retention' is not one of linear, gated, delta, gated_delta}}
  %y, %s = onnx.LinearAttention %q, %q, %q {q_num_heads = 2 : si64, kv_num_heads = 2 : si64, update_rule = "retention"} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @linear_attention_gated_no_decay(%q: tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op update_rule 'gated' needs decay input}}
  %y, %s = onnx.LinearAttention %q, %q, %q {q_num_heads = 2 : si64, kv_num_heads = 2 : si64, update_rule = "gated"} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @linear_attention_linear_beta(%q: tensor<1x8x64xf32>, %b: tensor<1x8x2xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op update_rule 'linear' takes no beta input}}
  %y, %s = onnx.LinearAttention %q, %q, %q beta = %b {q_num_heads = 2 : si64, kv_num_heads = 2 : si64} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x2xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @linear_attention_decay_width(%q: tensor<1x8x64xf32>, %g: tensor<1x8x3xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op expected decay [B, T, Hkv] or [B, T, Hkv * dk] (last dim 2 or 64)}}
  %y, %s = onnx.LinearAttention %q, %q, %q decay = %g {q_num_heads = 2 : si64, kv_num_heads = 2 : si64, update_rule = "gated"} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x3xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @linear_attention_beta_width(%q: tensor<1x8x64xf32>, %b: tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op expected beta [B, T, Hkv] or [B, T, 1] (last dim 2 or 1)}}
  %y, %s = onnx.LinearAttention %q, %q, %q beta = %b {q_num_heads = 2 : si64, kv_num_heads = 2 : si64, update_rule = "delta"} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @linear_attention_decay_steps(%q: tensor<1x8x64xf32>, %g: tensor<1x4x2xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op expected the key, value, decay and beta to have the query's batch and sequence dims [1, 8, ...]}}
  %y, %s = onnx.LinearAttention %q, %q, %q decay = %g {q_num_heads = 2 : si64, kv_num_heads = 2 : si64, update_rule = "gated"} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x4x2xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @linear_attention_empty_heads(%q: tensor<1x8x0xf32>, %v: tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x0x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op the head dims dk and dv must be positive}}
  %y, %s = onnx.LinearAttention %q, %q, %v {q_num_heads = 2 : si64, kv_num_heads = 2 : si64} : (tensor<1x8x0xf32>, tensor<1x8x0xf32>, tensor<1x8x64xf32>) -> (tensor<1x8x64xf32>, tensor<1x2x0x32xf32>)
  return %y, %s : tensor<1x8x64xf32>, tensor<1x2x0x32xf32>
}

// -----

func.func @linear_attention_result_ranks(%q: tensor<1x8x64xf32>) -> (tensor<8x64xf32>, tensor<1x2x32x32xf32>) {
  // expected-error @+1 {{'onnx.LinearAttention' op expected output [B, T, Hq * dv] and present_state [B, Hkv, dk, dv]}}
  %y, %s = onnx.LinearAttention %q, %q, %q {q_num_heads = 2 : si64, kv_num_heads = 2 : si64} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>) -> (tensor<8x64xf32>, tensor<1x2x32x32xf32>)
  return %y, %s : tensor<8x64xf32>, tensor<1x2x32x32xf32>
}

// -----

func.func @pad_mode(%x: tensor<2x4xf32>, %p: tensor<4xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Pad' op mode must be constant, reflect, edge or wrap (got 'symmetric')}}
  %y = onnx.Pad %x, %p {mode = "symmetric"} : (tensor<2x4xf32>, tensor<4xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_count(%x: tensor<2x4xf32>, %p: tensor<3xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Pad' op pads has 3 values for 2 axes (expected 4)}}
  %y = onnx.Pad %x, %p : (tensor<2x4xf32>, tensor<3xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_result_size(%x: tensor<2x4xf32>) -> tensor<3x4xf32> {
  %p = onnx.Constant {value = dense<[1, 0, 1, 0]> : tensor<4xi64>} : () -> tensor<4xi64>
  // expected-error @+1 {{'onnx.Pad' op expected dimension 0 of size 4 (got 3)}}
  %y = onnx.Pad %x, %p : (tensor<2x4xf32>, tensor<4xi64>) -> tensor<3x4xf32>
  return %y : tensor<3x4xf32>
}

// -----

func.func @pad_fill_type(%x: tensor<2x4xf32>, %p: tensor<4xi64>, %c: tensor<i64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Pad' op constant_value must be one element of the data's type}}
  %y = onnx.Pad %x, %p value = %c : (tensor<2x4xf32>, tensor<4xi64>, tensor<i64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_unknown_count(%x: tensor<2x4xf32>, %p: tensor<?xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Pad' op pads must have a static length}}
  %y = onnx.Pad %x, %p : (tensor<2x4xf32>, tensor<?xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @conv_groups(%x: tensor<1x6x8xf32>, %w: tensor<4x4x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op X has 6 channels, W expects 4 x 2 groups}}
  %y = onnx.Conv %x, %w {group = 2 : si64} : (tensor<1x6x8xf32>, tensor<4x4x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_output_size(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x8xf32> {
  // expected-error @+1 {{'onnx.Conv' op expected output size 6 along axis 2 (got 8)}}
  %y = onnx.Conv %x, %w : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x8xf32>
  return %y : tensor<1x4x8xf32>
}

// -----

func.func @conv_same_dynamic(%x: tensor<1x2x?xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x?xf32> {
  // expected-error @+1 {{'onnx.Conv' op auto_pad SAME_UPPER needs static spatial input sizes}}
  %y = onnx.Conv %x, %w {auto_pad = "SAME_UPPER"} : (tensor<1x2x?xf32>, tensor<4x2x3xf32>) -> tensor<1x4x?xf32>
  return %y : tensor<1x4x?xf32>
}

// -----

func.func @conv_rank(%x: tensor<1x2xf32>, %w: tensor<4x2xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{'onnx.Conv' op expected X, W and Y of one rank 3, 4 or 5}}
  %y = onnx.Conv %x, %w : (tensor<1x2xf32>, tensor<4x2xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @conv_types(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf16>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op X, W and Y must have one element type}}
  %y = onnx.Conv %x, %w : (tensor<1x2x8xf32>, tensor<4x2x3xf16>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_group_zero(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op group must be positive}}
  %y = onnx.Conv %x, %w {group = 0 : si64} : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_dynamic_weight(%x: tensor<1x2x8xf32>, %w: tensor<?x2x3xf32>) -> tensor<1x?x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op the weight shape must be static}}
  %y = onnx.Conv %x, %w : (tensor<1x2x8xf32>, tensor<?x2x3xf32>) -> tensor<1x?x6xf32>
  return %y : tensor<1x?x6xf32>
}

// -----

func.func @conv_out_groups(%x: tensor<1x4x8xf32>, %w: tensor<3x2x3xf32>) -> tensor<1x3x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op the 3 output channels do not split into 2 groups}}
  %y = onnx.Conv %x, %w {group = 2 : si64} : (tensor<1x4x8xf32>, tensor<3x2x3xf32>) -> tensor<1x3x6xf32>
  return %y : tensor<1x3x6xf32>
}

// -----

func.func @conv_bias(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>, %b: tensor<3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op the bias must be [4]}}
  %y = onnx.Conv %x, %w bias = %b : (tensor<1x2x8xf32>, tensor<4x2x3xf32>, tensor<3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_strides_len(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op strides has 2 values (expected 1)}}
  %y = onnx.Conv %x, %w {strides = array<i64: 1, 1>} : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_stride_zero(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op strides must be positive (and below 2^28)}}
  %y = onnx.Conv %x, %w {strides = array<i64: 0>} : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_dilation_huge(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op dilations must be positive (and below 2^28)}}
  %y = onnx.Conv %x, %w {dilations = array<i64: 4611686018427387904>} : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_negative_pads(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op pads must not be negative (or above 2^28)}}
  %y = onnx.Conv %x, %w {pads = array<i64: -1, 1>} : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_kernel_shape(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op kernel_shape does not match the weight's spatial dims}}
  %y = onnx.Conv %x, %w {kernel_shape = array<i64: 5>} : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_auto_pad(%x: tensor<1x2x8xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x6xf32> {
  // expected-error @+1 {{'onnx.Conv' op auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID}}
  %y = onnx.Conv %x, %w {auto_pad = "SAME"} : (tensor<1x2x8xf32>, tensor<4x2x3xf32>) -> tensor<1x4x6xf32>
  return %y : tensor<1x4x6xf32>
}

// -----

func.func @conv_kernel_too_long(%x: tensor<1x2x2xf32>, %w: tensor<4x2x3xf32>) -> tensor<1x4x?xf32> {
  // expected-error @+1 {{'onnx.Conv' op the kernel is larger than the padded input along axis 2}}
  %y = onnx.Conv %x, %w : (tensor<1x2x2xf32>, tensor<4x2x3xf32>) -> tensor<1x4x?xf32>
  return %y : tensor<1x4x?xf32>
}

// -----

func.func @pad_rank(%x: tensor<2x4xf32>, %p: tensor<4xi64>) -> tensor<?xf32> {
  // expected-error @+1 {{'onnx.Pad' op the result must have the data's rank and element type}}
  %y = onnx.Pad %x, %p : (tensor<2x4xf32>, tensor<4xi64>) -> tensor<?xf32>
  return %y : tensor<?xf32>
}

// -----

func.func @pad_axes_repeated(%x: tensor<2x4xf32>, %p: tensor<4xi64>) -> tensor<?x?xf32> {
  %a = onnx.Constant {value = dense<[1, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
  // expected-error @+1 {{'onnx.Pad' op axes must be in range and distinct}}
  %y = onnx.Pad %x, %p axes = %a : (tensor<2x4xf32>, tensor<4xi64>, tensor<2xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_run_time_axes_count(%x: tensor<2x4xf32>, %p: tensor<4xi64>, %a: tensor<?xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Pad' op axes known only at run time need a static count}}
  %y = onnx.Pad %x, %p axes = %a : (tensor<2x4xf32>, tensor<4xi64>, tensor<?xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_run_time_axes_pads(%x: tensor<2x4xf32>, %p: tensor<4xi64>, %a: tensor<1xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Pad' op pads has 4 values for 1 axes}}
  %y = onnx.Pad %x, %p axes = %a : (tensor<2x4xf32>, tensor<4xi64>, tensor<1xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_pads_rank(%x: tensor<2x4xf32>, %p: tensor<2x2xi64>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'onnx.Pad' op pads must be a 1-D tensor}}
  %y = onnx.Pad %x, %p : (tensor<2x4xf32>, tensor<2x2xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_crop_too_much(%x: tensor<2x4xf32>) -> tensor<?x?xf32> {
  %p = onnx.Constant {value = dense<[0, -3, 0, -2]> : tensor<4xi64>} : () -> tensor<4xi64>
  // expected-error @+1 {{'onnx.Pad' op pads remove more than the 4 elements of axis 1}}
  %y = onnx.Pad %x, %p : (tensor<2x4xf32>, tensor<4xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

func.func @pad_overflow(%x: tensor<2x4xf32>) -> tensor<?x?xf32> {
  %p = onnx.Constant {value = dense<[0, 9223372036854775807, 0, 9223372036854775807]> : tensor<4xi64>} : () -> tensor<4xi64>
  // expected-error @+1 {{'onnx.Pad' op pads overflow the size of axis 1}}
  %y = onnx.Pad %x, %p : (tensor<2x4xf32>, tensor<4xi64>) -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}
