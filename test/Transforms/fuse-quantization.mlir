// RUN: sparsa-opt %s --split-input-file --sparsa-fuse-quantization | FileCheck %s

/// DequantizeLinear of int8 weights per output channel, MatMul, bias Add:
/// one quant_matmul; the int8 codes are repacked as unsigned with the
/// default zero point 128 (symmetric: no zero points operand), K = 32 in
/// one block.
// CHECK-LABEL: func.func @dq_per_channel
// CHECK: %[[Y:.+]] = sparsa.quant_matmul %arg0, %{{.+}}, %{{.+}} bias = %{{.+}} {K = 32 : i64, N = 4 : i64, bits = 8 : i64, block_size = 32 : i64, form = "DequantizeLinear"} : (tensor<?x32xf32>, tensor<4x1x32xui8>, tensor<4x1xf32>, tensor<4xf32>) -> tensor<?x4xf32>
// CHECK-NOT: onnx.DequantizeLinear
// CHECK-NOT: onnx.MatMul
// CHECK: return %[[Y]]
func.func @dq_per_channel(%x: tensor<?x32xf32>) -> tensor<?x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %s = onnx.Constant {value = dense<[0.5, 0.25, 1.0, 2.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %z = onnx.Constant {value = dense<0> : tensor<4xi8>} : () -> tensor<4xi8>
  %b = onnx.Constant {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>
  %w = onnx.DequantizeLinear %q, %s, %z {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>, tensor<4xi8>) -> tensor<32x4xf32>
  %h = onnx.MatMul %x, %w : (tensor<?x32xf32>, tensor<32x4xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %h, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Asymmetric uint8 weights per tensor, Gemm(transB) with C: zero points
/// as f32 per block; K = 200 cut into blocks of 128 (the last padded).
// CHECK-LABEL: func.func @gemm_per_tensor_asym
// CHECK: sparsa.quant_matmul %arg0, %{{.+}}, %{{.+}} zero_points = %{{.+}} bias = %{{.+}} {K = 200 : i64, N = 4 : i64, bits = 8 : i64, block_size = 128 : i64, form = "DequantizeLinear"} : (tensor<2x200xf32>, tensor<4x2x128xui8>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NOT: onnx.Gemm
func.func @gemm_per_tensor_asym(%x: tensor<2x200xf32>) -> tensor<2x4xf32> {
  %q = onnx.Constant {value = dense<7> : tensor<4x200xui8>} : () -> tensor<4x200xui8>
  %s = onnx.Constant {value = dense<0.1> : tensor<f32>} : () -> tensor<f32>
  %z = onnx.Constant {value = dense<100> : tensor<ui8>} : () -> tensor<ui8>
  %c = onnx.Constant {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>
  %w = onnx.DequantizeLinear %q, %s, %z : (tensor<4x200xui8>, tensor<f32>, tensor<ui8>) -> tensor<4x200xf32>
  %y = onnx.Gemm %x, %w, %c {transB = 1 : si64} : (tensor<2x200xf32>, tensor<4x200xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

/// Static QDQ with NoisyQuant's noise before the QuantizeLinear.
// CHECK-LABEL: func.func @noisy_qdq
// CHECK: sparsa.quant_matmul %arg0, %{{.+}}, %{{.+}} input_noise = %{{.+}} act_scale = %{{.+}} act_zero_point = %{{.+}} {K = 32 : i64, N = 4 : i64, activation = "qdq", bits = 8 : i64, block_size = 32 : i64, form = "NoisyQuant"}
// CHECK-NOT: onnx.QuantizeLinear
func.func @noisy_qdq(%x: tensor<1x32xf32>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %s = onnx.Constant {value = dense<0.5> : tensor<4xf32>} : () -> tensor<4xf32>
  %n = onnx.Constant {value = dense<0.01> : tensor<32xf32>} : () -> tensor<32xf32>
  %as = onnx.Constant {value = dense<0.02> : tensor<f32>} : () -> tensor<f32>
  %az = onnx.Constant {value = dense<128> : tensor<ui8>} : () -> tensor<ui8>
  %xn = onnx.Add %x, %n : (tensor<1x32xf32>, tensor<32xf32>) -> tensor<1x32xf32>
  %xq = onnx.QuantizeLinear %xn, %as, %az : (tensor<1x32xf32>, tensor<f32>, tensor<ui8>) -> tensor<1x32xui8>
  %xd = onnx.DequantizeLinear %xq, %as, %az : (tensor<1x32xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x32xf32>
  %w = onnx.DequantizeLinear %q, %s {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y = onnx.MatMul %xd, %w : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// An activation Q / DQ pair whose scales differ is not a fake
/// quantization: it stays, the weight side still fuses (float activation).
// CHECK-LABEL: func.func @qdq_scales_differ
// CHECK: onnx.DequantizeLinear %{{.+}}, %{{.+}}, %{{.+}} : (tensor<1x32xui8>
// CHECK: sparsa.quant_matmul %{{.+}} {K = 32 : i64, N = 4 : i64, bits = 8 : i64, block_size = 32 : i64, form = "DequantizeLinear"}
func.func @qdq_scales_differ(%x: tensor<1x32xf32>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %s = onnx.Constant {value = dense<0.5> : tensor<4xf32>} : () -> tensor<4xf32>
  %as = onnx.Constant {value = dense<0.02> : tensor<f32>} : () -> tensor<f32>
  %as2 = onnx.Constant {value = dense<0.04> : tensor<f32>} : () -> tensor<f32>
  %az = onnx.Constant {value = dense<128> : tensor<ui8>} : () -> tensor<ui8>
  %xq = onnx.QuantizeLinear %x, %as, %az : (tensor<1x32xf32>, tensor<f32>, tensor<ui8>) -> tensor<1x32xui8>
  %xd = onnx.DequantizeLinear %xq, %as2, %az : (tensor<1x32xui8>, tensor<f32>, tensor<ui8>) -> tensor<1x32xf32>
  %w = onnx.DequantizeLinear %q, %s {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y = onnx.MatMul %xd, %w : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// MatMulNBits after AWQ's per-input-channel Mul; its constant packed
/// zero points (all 8, the default) disappear.
// CHECK-LABEL: func.func @nbits_awq
// CHECK: sparsa.quant_matmul %arg0, %{{.+}}, %{{.+}} input_scales = %{{.+}} {K = 64 : i64, N = 4 : i64, block_size = 32 : i64, form = "AWQ"} : (tensor<?x64xf32>, tensor<4x2x16xui8>, tensor<4x2xf32>, tensor<64xf32>) -> tensor<?x4xf32>
// CHECK-NOT: onnx.Mul
func.func @nbits_awq(%x: tensor<?x64xf32>) -> tensor<?x4xf32> {
  %a = onnx.Constant {value = dense<2.0> : tensor<64xf32>} : () -> tensor<64xf32>
  %b = onnx.Constant {value = dense<17> : tensor<4x2x16xui8>} : () -> tensor<4x2x16xui8>
  %s = onnx.Constant {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %z = onnx.Constant {value = dense<136> : tensor<4x1xui8>} : () -> tensor<4x1xui8>
  %xs = onnx.Mul %x, %a : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %y = onnx.ms.MatMulNBits %xs, %b, %s zero_points = %z {K = 64 : si64, N = 4 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<?x64xf32>, tensor<4x2x16xui8>, tensor<4x2xf32>, tensor<4x1xui8>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// ONNX Runtime's quantize_dynamic: DynamicQuantizeLinear, MatMulInteger,
/// Cast, Mul by x_scale * w_scale, bias Add.
// CHECK-LABEL: func.func @dynamic
// CHECK: sparsa.quant_matmul %arg0, %{{.+}}, %{{.+}} bias = %{{.+}} {K = 32 : i64, N = 4 : i64, activation = "dynamic", bits = 8 : i64, block_size = 32 : i64, form = "dynamic"}
// CHECK-NOT: onnx.MatMulInteger
// CHECK-NOT: onnx.DynamicQuantizeLinear
func.func @dynamic(%x: tensor<?x32xf32>) -> tensor<?x4xf32> {
  %wq = onnx.Constant {value = dense<-3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %ws = onnx.Constant {value = dense<0.01> : tensor<f32>} : () -> tensor<f32>
  %wz = onnx.Constant {value = dense<0> : tensor<i8>} : () -> tensor<i8>
  %b = onnx.Constant {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>
  %xq, %xs, %xz = onnx.DynamicQuantizeLinear %x : (tensor<?x32xf32>) -> (tensor<?x32xui8>, tensor<f32>, tensor<ui8>)
  %acc = onnx.MatMulInteger %xq, %wq a_zero_point = %xz b_zero_point = %wz : (tensor<?x32xui8>, tensor<32x4xi8>, tensor<ui8>, tensor<i8>) -> tensor<?x4xi32>
  %f = onnx.Cast %acc {to = 1 : si64} : (tensor<?x4xi32>) -> tensor<?x4xf32>
  %sc = onnx.Mul %xs, %ws : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %m = onnx.Mul %f, %sc : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %y = onnx.Add %m, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Near misses: scales per input channel (axis 0 of [K, N]), a weight
/// that is an input, Gemm with alpha 2, a rescale by a non-constant.
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.MatMul {{.+}}{sparsa.unfused = {quantization = "scales per input channel (axis along K) do not fold into weight blocks"}
// CHECK: onnx.MatMul {{.+}}{sparsa.unfused = {quantization = "the quantized weight is not a constant"}
// CHECK: onnx.Gemm {{.+}}sparsa.unfused = {quantization = "Gemm with transA or alpha / beta other than 1"}
// CHECK: onnx.MatMulInteger {{.+}}{sparsa.unfused = {quantization = "the rescale is not x_scale times a constant weight scale"}
func.func @near_misses(%x: tensor<1x32xf32>, %qin: tensor<32x4xi8>, %t: tensor<f32>) -> (tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>) {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %sk = onnx.Constant {value = dense<0.5> : tensor<32xf32>} : () -> tensor<32xf32>
  %sn = onnx.Constant {value = dense<0.5> : tensor<4xf32>} : () -> tensor<4xf32>
  %w0 = onnx.DequantizeLinear %q, %sk {axis = 0 : si64} : (tensor<32x4xi8>, tensor<32xf32>) -> tensor<32x4xf32>
  %y0 = onnx.MatMul %x, %w0 : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  %w1 = onnx.DequantizeLinear %qin, %sn {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y1 = onnx.MatMul %x, %w1 : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  %w2 = onnx.DequantizeLinear %q, %sn {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y2 = onnx.Gemm %x, %w2 {alpha = 2.0 : f32} : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  %xq, %xs, %xz = onnx.DynamicQuantizeLinear %x : (tensor<1x32xf32>) -> (tensor<1x32xui8>, tensor<f32>, tensor<ui8>)
  %acc = onnx.MatMulInteger %xq, %q a_zero_point = %xz : (tensor<1x32xui8>, tensor<32x4xi8>, tensor<ui8>) -> tensor<1x4xi32>
  %f = onnx.Cast %acc {to = 1 : si64} : (tensor<1x4xi32>) -> tensor<1x4xf32>
  %sc = onnx.Mul %xs, %t : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %y3 = onnx.Mul %f, %sc : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xf32>
  return %y0, %y1, %y2, %y3 : tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>
}
