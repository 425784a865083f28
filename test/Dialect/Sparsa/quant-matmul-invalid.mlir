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
