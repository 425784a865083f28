// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

func.func @bad_mode(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{mode must be 'relu', 'relu2', 'threshold' or 'abs_threshold' without indices (got 'gelu')}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "gelu"} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @threshold_with_relu(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{a threshold needs mode = 'threshold' or 'abs_threshold'}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {threshold = 0.5 : f64} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @negative_threshold(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{the threshold must not be negative}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "threshold", threshold = -0.5 : f64} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @down_shape(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<8x16xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{w2 has a mismatched shape}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @up_bias_without_up(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{b_up needs up}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 b_up = %b : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @dense_activation_needs_indices(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{mode must be 'relu', 'relu2', 'threshold' or 'abs_threshold' without indices (got 'silu')}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "silu"} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

/// With indices, w1 is one row per neuron [F, H]: [8, 16] says F = 8, H = 16.
func.func @indexed_w1_rows(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>, %i: tensor<4xi64>) -> tensor<1x8xf32> {
  // expected-error @+1 {{w1 has a mismatched shape}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 indices = %i {mode = "silu"} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<4xi64>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @teal_rows(%x: tensor<1x8xf32>, %w: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{w must have one row per input entry}}
  %y = sparsa.sparse_input_matmul %x, %w : (tensor<1x8xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @teal_negative(%x: tensor<1x8xf32>, %w: tensor<8x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{the threshold must not be negative}}
  %y = sparsa.sparse_input_matmul %x, %w {threshold = -1.0 : f64} : (tensor<1x8xf32>, tensor<8x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @topk_shapes(%i: tensor<1x4xi64>, %v: tensor<1x3xf32>, %w: tensor<8x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{indices and values must have the same shape}}
  %y = sparsa.topk_matmul %i, %v, %w : (tensor<1x4xi64>, tensor<1x3xf32>, tensor<8x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @quantized_no_scales(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %s1: tensor<256x2xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{quantized weights need w1_scales and w2_scales}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @quantized_glu_float_up(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %up: tensor<256x64xf32>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{quantized up needs up_scales (and up_zero_points only with up)}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x64xf32>, tensor<256x2xf32>, tensor<8x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @quantized_glu_codes_type(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %up: tensor<256x2x16xf32>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>, %s3: tensor<256x2xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{codes and zero points must be uint8, every other operand of the input's element type}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up w1_scales = %s1 w2_scales = %s2 up_scales = %s3 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2x16xf32>, tensor<256x2xf32>, tensor<8x64xf32>, tensor<256x2xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @quantized_glu_up_shape(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %up: tensor<128x2x16xui8>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>, %s3: tensor<128x2xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{up has a mismatched shape}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up w1_scales = %s1 w2_scales = %s2 up_scales = %s3 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<128x2x16xui8>, tensor<256x2xf32>, tensor<8x64xf32>, tensor<128x2xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @up_scales_without_bits(%x: tensor<1x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>, %s3: tensor<256x2xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{scales, zero points and block_size need weight_bits}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 up_scales = %s3 : (tensor<1x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<256x2xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @quantized_down_scales(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %s1: tensor<256x2xf32>, %s2: tensor<64x8xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{w2_scales has a mismatched shape}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>, tensor<64x8xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @quantized_block(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{quantized weights need a block_size filling whole bytes (got 0)}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>, tensor<8x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @scales_without_bits(%x: tensor<1x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>, %s1: tensor<256x2xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{scales, zero points and block_size need weight_bits}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 : (tensor<1x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>, tensor<256x2xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @int8_activations_without_bits(%x: tensor<1x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{int8_activations needs quantized weights (weight_bits)}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {int8_activations = true} : (tensor<1x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @quantized_b_up_without_up(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %bu: tensor<256xf32>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{b_up needs up}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 b_up = %bu w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256xf32>, tensor<256x2xf32>, tensor<8x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @quantized_up_zero_points_without_up(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>, %z3: tensor<256x1xui8>) -> tensor<1x64xf32> {
  // expected-error @+1 {{quantized up needs up_scales (and up_zero_points only with up)}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 w2_scales = %s2 up_zero_points = %z3 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>, tensor<8x64xf32>, tensor<256x1xui8>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @activation_needs_abs_threshold(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{an activation before the threshold needs mode = 'abs_threshold'}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "threshold", activation = "silu", threshold = 0.5 : f64} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @unknown_cut_activation(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{activation must be 'identity', 'silu', 'gelu' or 'gelu_tanh' (got 'relu')}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "abs_threshold", activation = "relu", threshold = 0.5 : f64} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @relu_up_needs_up(%x: tensor<1x8xf32>, %w1: tensor<8x16xf32>, %w2: tensor<16x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{relu_up needs up}}
  %y = sparsa.sparse_ffn %x, %w1, %w2 {relu_up = true} : (tensor<1x8xf32>, tensor<8x16xf32>, tensor<16x8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
