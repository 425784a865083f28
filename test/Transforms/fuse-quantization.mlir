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

/// Near miss: scales per input channel (axis 0 of a [K, N] weight).
// CHECK-LABEL: func.func @negative_scales_per_input_channel
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.MatMul {{.+}}{sparsa.unfused = {quantization = "scales per input channel (axis along K) do not fold into weight blocks"}}
func.func @negative_scales_per_input_channel(%x: tensor<1x32xf32>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %sk = onnx.Constant {value = dense<0.5> : tensor<32xf32>} : () -> tensor<32xf32>
  %w = onnx.DequantizeLinear %q, %sk {axis = 0 : si64} : (tensor<32x4xi8>, tensor<32xf32>) -> tensor<32x4xf32>
  %y = onnx.MatMul %x, %w : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: the quantized weight is a model input.
// CHECK-LABEL: func.func @negative_weight_input
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.MatMul {{.+}}{sparsa.unfused = {quantization = "the quantized weight is not a constant"}}
func.func @negative_weight_input(%x: tensor<1x32xf32>, %qin: tensor<32x4xi8>) -> tensor<1x4xf32> {
  %sn = onnx.Constant {value = dense<0.5> : tensor<4xf32>} : () -> tensor<4xf32>
  %w = onnx.DequantizeLinear %qin, %sn {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y = onnx.MatMul %x, %w : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: the weight's scale is a model input.
// CHECK-LABEL: func.func @negative_scale_input
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.MatMul {{.+}}{sparsa.unfused = {quantization = "the weight's scale or zero point is not a constant"}}
func.func @negative_scale_input(%x: tensor<1x32xf32>, %s: tensor<4xf32>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %w = onnx.DequantizeLinear %q, %s {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y = onnx.MatMul %x, %w : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: Gemm with alpha 2.
// CHECK-LABEL: func.func @negative_gemm_alpha
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.Gemm {{.+}}sparsa.unfused = {quantization = "Gemm with transA or alpha / beta other than 1"}
func.func @negative_gemm_alpha(%x: tensor<1x32xf32>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %sn = onnx.Constant {value = dense<0.5> : tensor<4xf32>} : () -> tensor<4xf32>
  %w = onnx.DequantizeLinear %q, %sn {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y = onnx.Gemm %x, %w {alpha = 2.0 : f32} : (tensor<1x32xf32>, tensor<32x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: Gemm whose C is a model input, not a constant bias.
// CHECK-LABEL: func.func @negative_gemm_c_input
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.Gemm {{.+}}sparsa.unfused = {quantization = "Gemm's C is not a constant [N] bias"}
func.func @negative_gemm_c_input(%x: tensor<1x32xf32>, %c: tensor<4xf32>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %sn = onnx.Constant {value = dense<0.5> : tensor<4xf32>} : () -> tensor<4xf32>
  %w = onnx.DequantizeLinear %q, %sn {axis = 1 : si64} : (tensor<32x4xi8>, tensor<4xf32>) -> tensor<32x4xf32>
  %y = onnx.Gemm %x, %w, %c : (tensor<1x32xf32>, tensor<32x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: the MatMulInteger result is rescaled by x_scale times a
/// model input.
// CHECK-LABEL: func.func @negative_dynamic_scale_input
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.MatMulInteger {{.+}}{sparsa.unfused = {quantization = "the rescale is not x_scale times a constant weight scale"}}
func.func @negative_dynamic_scale_input(%x: tensor<1x32xf32>, %t: tensor<f32>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %xq, %xs, %xz = onnx.DynamicQuantizeLinear %x : (tensor<1x32xf32>) -> (tensor<1x32xui8>, tensor<f32>, tensor<ui8>)
  %acc = onnx.MatMulInteger %xq, %q a_zero_point = %xz : (tensor<1x32xui8>, tensor<32x4xi8>, tensor<ui8>) -> tensor<1x4xi32>
  %f = onnx.Cast %acc {to = 1 : si64} : (tensor<1x4xi32>) -> tensor<1x4xf32>
  %sc = onnx.Mul %xs, %t : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %y = onnx.Mul %f, %sc : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: MatMulInteger whose input zero point is not the one
/// DynamicQuantizeLinear computed.
// CHECK-LABEL: func.func @negative_dynamic_other_zero_point
// CHECK-NOT: sparsa.quant_matmul
// CHECK: onnx.MatMulInteger {{.+}}{sparsa.unfused = {quantization = "MatMulInteger's input zero point is not DynamicQuantizeLinear's"}}
func.func @negative_dynamic_other_zero_point(%x: tensor<1x32xf32>, %z: tensor<ui8>) -> tensor<1x4xf32> {
  %q = onnx.Constant {value = dense<3> : tensor<32x4xi8>} : () -> tensor<32x4xi8>
  %ws = onnx.Constant {value = dense<0.01> : tensor<f32>} : () -> tensor<f32>
  %xq, %xs, %xz = onnx.DynamicQuantizeLinear %x : (tensor<1x32xf32>) -> (tensor<1x32xui8>, tensor<f32>, tensor<ui8>)
  %acc = onnx.MatMulInteger %xq, %q a_zero_point = %z : (tensor<1x32xui8>, tensor<32x4xi8>, tensor<ui8>) -> tensor<1x4xi32>
  %f = onnx.Cast %acc {to = 1 : si64} : (tensor<1x4xi32>) -> tensor<1x4xf32>
  %sc = onnx.Mul %xs, %ws : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %y = onnx.Mul %f, %sc : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
