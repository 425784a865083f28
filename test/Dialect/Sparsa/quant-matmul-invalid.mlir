// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

func.func @bad_bits(%x: tensor<1x64xf32>, %q: tensor<8x2x24xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{bits must be 2, 4 or 8}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 3 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x24xui8>, tensor<8x2xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @weight_shape(%x: tensor<1x64xf32>, %q: tensor<8x2x32xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{expected the weight [N, ceil(K / block_size), block_size * bits / 8] = [8, 2, 16]}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x32xui8>, tensor<8x2xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @input_k(%x: tensor<1x60xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{expected the input [..., K] with K = 64}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x60xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @scales(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x3xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{expected the scales [N, blocks] or [N * blocks]}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x3xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @packed_zp(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>, %z: tensor<8x2xui8>) -> tensor<1x8xf32> {
  // expected-error @+1 {{expected packed zero points [N, 1]}}
  %y = sparsa.quant_matmul %x, %q, %s zero_points = %z {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>, tensor<8x2xui8>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @qdq_needs_scale(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{activation 'qdq' needs a one-element act_scale (and zero point)}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "qdq"} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @dynamic_blocks(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{activation 'dynamic' needs one block along K}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "dynamic"} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @bad_activation(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{activation must be 'float', 'qdq', 'dynamic' or 'int8'}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "int4"} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @input_scales(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>, %is: tensor<8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{input_scales must be [K] of the input's type}}
  %y = sparsa.quant_matmul %x, %q, %s input_scales = %is {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>, tensor<8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @int8_needs_f32(%x: tensor<1x64xf16>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf16> {
  // expected-error @+1 {{activation 'int8' needs an f32 input}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "int8"} : (tensor<1x64xf16>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x8xf16>
  return %y : tensor<1x8xf16>
}

// -----

func.func @k_positive(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{K and N must be positive}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 0 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @block_bytes(%x: tensor<1x64xf32>, %q: tensor<8x22x1xui8>, %s: tensor<8x22xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{block_size must be positive and fill whole bytes}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 3 : i64} : (tensor<1x64xf32>, tensor<8x22x1xui8>, tensor<8x22xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @result_n(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x9xf32> {
  // expected-error @+1 {{expected the result [..., N] with N = 8}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x9xf32>
  return %y : tensor<1x9xf32>
}

// -----

func.func @leading_dims(%x: tensor<2x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<3x8xf32> {
  // expected-error @+1 {{the result's leading dims must match the input's}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<2x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

func.func @result_type(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>) -> tensor<1x8xf16> {
  // expected-error @+1 {{the result must have the input's element type}}
  %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>) -> tensor<1x8xf16>
  return %y : tensor<1x8xf16>
}

// -----

func.func @float_zp(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>, %z: tensor<8x3xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{expected float zero points [N, blocks] or [N * blocks]}}
  %y = sparsa.quant_matmul %x, %q, %s zero_points = %z {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>, tensor<8x3xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @bias_shape(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>, %b: tensor<4xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{bias must be [N] of the input's type}}
  %y = sparsa.quant_matmul %x, %q, %s bias = %b {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>, tensor<4xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @noise_shape(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>, %n: tensor<8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{input_noise must be [K] of the input's type}}
  %y = sparsa.quant_matmul %x, %q, %s input_noise = %n {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>, tensor<8xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @act_scale_without_qdq(%x: tensor<1x64xf32>, %q: tensor<8x2x16xui8>, %s: tensor<8x2xf32>, %as: tensor<f32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{act_scale and act_zero_point belong to activation 'qdq'}}
  %y = sparsa.quant_matmul %x, %q, %s act_scale = %as {K = 64 : i64, N = 8 : i64, bits = 4 : i64, block_size = 32 : i64} : (tensor<1x64xf32>, tensor<8x2x16xui8>, tensor<8x2xf32>, tensor<f32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @dynamic_float_zp(%x: tensor<1x64xf32>, %q: tensor<8x1x64xui8>, %s: tensor<8x1xf32>, %z: tensor<8x1xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{activation 'dynamic' needs integer zero points}}
  %y = sparsa.quant_matmul %x, %q, %s zero_points = %z {K = 64 : i64, N = 8 : i64, bits = 8 : i64, block_size = 64 : i64, activation = "dynamic"} : (tensor<1x64xf32>, tensor<8x1x64xui8>, tensor<8x1xf32>, tensor<8x1xf32>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
