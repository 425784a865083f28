// RUN: sparsa-opt %s --split-input-file --sparsa-fuse-activation-sparsity | FileCheck %s

/// An int4 ReLU FFN exported as MatMulNBits (up, bias input) -> Relu ->
/// MatMulNBits (down) -> Add: one quantized sparsa.sparse_ffn. The up codes
/// keep MatMulNBits' layout (flat scales become [F, blocks]); the down
/// projection is repacked one row of codes per neuron: here output 0 holds
/// codes 0..15 for neurons 0..15 and output 1 code 15 throughout, so neuron
/// f's row is the byte 0xF0 + f; its scales and zero points become
/// [blocks of neurons, H] (0.25 / 0.75, 7 / 9).
// CHECK-LABEL: func.func @nbits_relu
// CHECK-DAG: %[[W1:.+]] = onnx.Constant {value = dense<136> : tensor<16x1x8xui8>}
// CHECK-DAG: %[[S1:.+]] = onnx.Constant {value = dense_resource<[[S1R:.+]]> : tensor<16x1xf32>}
// CHECK-DAG: %[[W2:.+]] = onnx.Constant {value = dense_resource<[[W2R:.+]]> : tensor<16x1xui8>}
// CHECK-DAG: %[[S2:.+]] = onnx.Constant {value = dense_resource<[[S2R:.+]]> : tensor<1x2xf32>}
// CHECK-DAG: %[[Z2:.+]] = onnx.Constant {value = dense_resource<[[Z2R:.+]]> : tensor<1x2xui8>}
// CHECK: %[[Y:.+]] = sparsa.sparse_ffn %arg0, %[[W1]], %[[W2]] b1 = %{{.+}} b2 = %{{.+}} w1_scales = %[[S1]] w2_scales = %[[S2]] w2_zero_points = %[[Z2]] {block_size = 16 : i64, weight_bits = 4 : i64}
// CHECK-NOT: onnx.ms.MatMulNBits
// CHECK: return %[[Y]]
// CHECK: [[W2R]]: "0x{{[0-9A-F]*}}F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF"
// CHECK: [[S2R]]: "0x{{[0-9A-F]*}}0000803E0000403F"
// CHECK: [[Z2R]]: "0x{{[0-9A-F]*}}0709"
func.func @nbits_relu(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %b1 = onnx.Constant {value = dense<136> : tensor<16x1x8xui8>} : () -> tensor<16x1x8xui8>
  %s1 = onnx.Constant {value = dense<0.5> : tensor<16xf32>} : () -> tensor<16xf32>
  %c1 = onnx.Constant {value = dense<0.1> : tensor<16xf32>} : () -> tensor<16xf32>
  %b2 = onnx.Constant {value = dense<[[[16, 50, 84, 118, 152, 186, 220, 254]], [[255, 255, 255, 255, 255, 255, 255, 255]]]> : tensor<2x1x8xui8>} : () -> tensor<2x1x8xui8>
  %s2 = onnx.Constant {value = dense<[[0.25], [0.75]]> : tensor<2x1xf32>} : () -> tensor<2x1xf32>
  %z2 = onnx.Constant {value = dense<[[7], [9]]> : tensor<2x1xui8>} : () -> tensor<2x1xui8>
  %c2 = onnx.Constant {value = dense<0.2> : tensor<2xf32>} : () -> tensor<2xf32>
  %h = onnx.ms.MatMulNBits %x, %b1, %s1 bias = %c1 {K = 2 : si64, N = 16 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x2xf32>, tensor<16x1x8xui8>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x16xf32>
  %a = onnx.Relu %h : (tensor<1x16xf32>) -> tensor<1x16xf32>
  %y0 = onnx.ms.MatMulNBits %a, %b2, %s2 zero_points = %z2 {K = 16 : si64, N = 2 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x16xf32>, tensor<2x1x8xui8>, tensor<2x1xf32>, tensor<2x1xui8>) -> tensor<1x2xf32>
  %y = onnx.Add %y0, %c2 : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

/// Near misses stay MatMulNBits and say why: the two projections with
/// different block sizes; float zero points; a dense activation (GELU: no
/// exact zeros) is not a candidate at all.
// CHECK-LABEL: func.func @nbits_blocks_differ
// CHECK: onnx.Relu {{.+}} {sparsa.unfused = {activation_sparsity = "the two MatMulNBits use different bit widths or block sizes"}}
// CHECK: onnx.ms.MatMulNBits
func.func @nbits_blocks_differ(%x: tensor<1x32xf32>, %b1: tensor<16x1x16xui8>, %s1: tensor<16xf32>, %b2: tensor<32x1x8xui8>, %s2: tensor<32xf32>) -> tensor<1x32xf32> {
  %h = onnx.ms.MatMulNBits %x, %b1, %s1 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x32xf32>, tensor<16x1x16xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %a = onnx.Relu %h : (tensor<1x16xf32>) -> tensor<1x16xf32>
  %y = onnx.ms.MatMulNBits %a, %b2, %s2 {K = 16 : si64, N = 32 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x16xf32>, tensor<32x1x8xui8>, tensor<32xf32>) -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// CHECK-LABEL: func.func @nbits_not_constant
// CHECK: onnx.Relu {{.+}} {sparsa.unfused = {activation_sparsity = "quantized weights, scales, zero points or biases are not constant"}}
func.func @nbits_not_constant(%x: tensor<1x32xf32>, %b1: tensor<16x1x16xui8>, %s1: tensor<16xf32>, %b2: tensor<32x1x16xui8>, %s2: tensor<32xf32>) -> tensor<1x32xf32> {
  %h = onnx.ms.MatMulNBits %x, %b1, %s1 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x32xf32>, tensor<16x1x16xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %a = onnx.Relu %h : (tensor<1x16xf32>) -> tensor<1x16xf32>
  %y = onnx.ms.MatMulNBits %a, %b2, %s2 {K = 16 : si64, N = 32 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x16xf32>, tensor<32x1x16xui8>, tensor<32xf32>) -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

/// A ReLU-gated GLU (ProSparse) in MatMulNBits: Mul(Relu(gate x), up x)
/// (here with the product's operands swapped) -> MatMulNBits: one
/// quantized sparsa.sparse_ffn whose `up` keeps MatMulNBits' layout with
/// its scales as [F, blocks] and its packed zero points.
// CHECK-LABEL: func.func @nbits_glu
// CHECK: %[[Y:.+]] = sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} up = %{{.+}} b2 = %{{.+}} w1_scales = %{{.+}} w2_scales = %{{.+}} up_scales = %{{.+}} up_zero_points = %{{.+}} {block_size = 16 : i64, weight_bits = 4 : i64} : (tensor<1x2xf32>, tensor<16x1x8xui8>, tensor<16x1xui8>, tensor<16x1x8xui8>, tensor<2xf32>, tensor<16x1xf32>, tensor<1x2xf32>, tensor<16x1xf32>, tensor<16x1xui8>) -> tensor<1x2xf32>
// CHECK-NOT: onnx.ms.MatMulNBits
// CHECK: return %[[Y]]
func.func @nbits_glu(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %b1 = onnx.Constant {value = dense<136> : tensor<16x1x8xui8>} : () -> tensor<16x1x8xui8>
  %s1 = onnx.Constant {value = dense<0.5> : tensor<16xf32>} : () -> tensor<16xf32>
  %b3 = onnx.Constant {value = dense<120> : tensor<16x1x8xui8>} : () -> tensor<16x1x8xui8>
  %s3 = onnx.Constant {value = dense<0.25> : tensor<16xf32>} : () -> tensor<16xf32>
  %z3 = onnx.Constant {value = dense<7> : tensor<16x1xui8>} : () -> tensor<16x1xui8>
  %b2 = onnx.Constant {value = dense<17> : tensor<2x1x8xui8>} : () -> tensor<2x1x8xui8>
  %s2 = onnx.Constant {value = dense<0.75> : tensor<2x1xf32>} : () -> tensor<2x1xf32>
  %c2 = onnx.Constant {value = dense<0.2> : tensor<2xf32>} : () -> tensor<2xf32>
  %h = onnx.ms.MatMulNBits %x, %b1, %s1 {K = 2 : si64, N = 16 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x2xf32>, tensor<16x1x8xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %a = onnx.Relu %h : (tensor<1x16xf32>) -> tensor<1x16xf32>
  %u = onnx.ms.MatMulNBits %x, %b3, %s3 zero_points = %z3 {K = 2 : si64, N = 16 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x2xf32>, tensor<16x1x8xui8>, tensor<16xf32>, tensor<16x1xui8>) -> tensor<1x16xf32>
  %m = onnx.Mul %u, %a : (tensor<1x16xf32>, tensor<1x16xf32>) -> tensor<1x16xf32>
  %y0 = onnx.ms.MatMulNBits %m, %b2, %s2 {K = 16 : si64, N = 2 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x16xf32>, tensor<2x1x8xui8>, tensor<2x1xf32>) -> tensor<1x2xf32>
  %y = onnx.Add %y0, %c2 : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

/// GLU near misses stay MatMulNBits and say why: the linear part also
/// returned; the linear part in blocks of 16 (the gate's are 32); the
/// linear part reading another input than the gate.
// CHECK-LABEL: func.func @negative_glu_linear_used_elsewhere
// CHECK: onnx.Relu {{.+}} {sparsa.unfused = {activation_sparsity = "the GLU's product or its linear part is also used elsewhere"}}
// CHECK-NOT: sparsa.sparse_ffn
func.func @negative_glu_linear_used_elsewhere(%x: tensor<1x32xf32>, %b1: tensor<16x1x16xui8>, %s1: tensor<16xf32>, %b3: tensor<16x1x16xui8>, %s3: tensor<16xf32>, %b2: tensor<32x1x8xui8>, %s2: tensor<32xf32>) -> (tensor<1x32xf32>, tensor<1x16xf32>) {
  %h = onnx.ms.MatMulNBits %x, %b1, %s1 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x32xf32>, tensor<16x1x16xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %a = onnx.Relu %h : (tensor<1x16xf32>) -> tensor<1x16xf32>
  %u = onnx.ms.MatMulNBits %x, %b3, %s3 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x32xf32>, tensor<16x1x16xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %m = onnx.Mul %a, %u : (tensor<1x16xf32>, tensor<1x16xf32>) -> tensor<1x16xf32>
  %y = onnx.ms.MatMulNBits %m, %b2, %s2 {K = 16 : si64, N = 32 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x16xf32>, tensor<32x1x8xui8>, tensor<32xf32>) -> tensor<1x32xf32>
  return %y, %u : tensor<1x32xf32>, tensor<1x16xf32>
}

// CHECK-LABEL: func.func @negative_glu_blocks_differ
// CHECK: onnx.Relu {{.+}} {sparsa.unfused = {activation_sparsity = "the GLU's MatMulNBits use different bit widths or block sizes"}}
// CHECK-NOT: sparsa.sparse_ffn
func.func @negative_glu_blocks_differ(%x: tensor<1x32xf32>, %b1: tensor<16x1x16xui8>, %s1: tensor<16xf32>, %b3: tensor<16x2x8xui8>, %s3: tensor<32xf32>, %b2: tensor<32x1x16xui8>, %s2: tensor<32xf32>) -> tensor<1x32xf32> {
  %h = onnx.ms.MatMulNBits %x, %b1, %s1 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x32xf32>, tensor<16x1x16xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %a = onnx.Relu %h : (tensor<1x16xf32>) -> tensor<1x16xf32>
  %u = onnx.ms.MatMulNBits %x, %b3, %s3 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 16 : si64} : (tensor<1x32xf32>, tensor<16x2x8xui8>, tensor<32xf32>) -> tensor<1x16xf32>
  %m = onnx.Mul %u, %a : (tensor<1x16xf32>, tensor<1x16xf32>) -> tensor<1x16xf32>
  %y = onnx.ms.MatMulNBits %m, %b2, %s2 {K = 16 : si64, N = 32 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x16xf32>, tensor<32x1x16xui8>, tensor<32xf32>) -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// CHECK-LABEL: func.func @negative_glu_other_input
// CHECK: onnx.Relu {{.+}} {sparsa.unfused = {activation_sparsity = "the GLU's linear MatMulNBits does not match its gate (K, N and input)"}}
// CHECK-NOT: sparsa.sparse_ffn
func.func @negative_glu_other_input(%x: tensor<1x32xf32>, %x2: tensor<1x32xf32>, %b1: tensor<16x1x16xui8>, %s1: tensor<16xf32>, %b3: tensor<16x1x16xui8>, %s3: tensor<16xf32>, %b2: tensor<32x1x16xui8>, %s2: tensor<32xf32>) -> tensor<1x32xf32> {
  %h = onnx.ms.MatMulNBits %x, %b1, %s1 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x32xf32>, tensor<16x1x16xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %a = onnx.Relu %h : (tensor<1x16xf32>) -> tensor<1x16xf32>
  %u = onnx.ms.MatMulNBits %x2, %b3, %s3 {K = 32 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x32xf32>, tensor<16x1x16xui8>, tensor<16xf32>) -> tensor<1x16xf32>
  %m = onnx.Mul %a, %u : (tensor<1x16xf32>, tensor<1x16xf32>) -> tensor<1x16xf32>
  %y = onnx.ms.MatMulNBits %m, %b2, %s2 {K = 16 : si64, N = 32 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<1x16xf32>, tensor<32x1x16xui8>, tensor<32xf32>) -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
