// RUN: sparsa-opt %s --split-input-file --sparsa-fuse-routing | FileCheck %s

/// Form E: com.microsoft.MoE becomes sparsa.moe; its torch-layout weights
/// [E, out, in] are transposed to matmul layout (weight preparation folds
/// the transposes of constants), interleaved SwiGLU keeps its layout.
// CHECK-LABEL: func.func @form_e_swiglu
// CHECK-DAG: %[[T1:.+]] = onnx.Transpose %arg2 {perm = array<i64: 0, 2, 1>} : (tensor<4x16x4xf32>) -> tensor<4x4x16xf32>
// CHECK-DAG: %[[T2:.+]] = onnx.Transpose %arg3 {perm = array<i64: 0, 2, 1>} : (tensor<4x4x8xf32>) -> tensor<4x8x4xf32>
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %arg1, %[[T1]], %[[T2]] {activation = "silu", alpha = 1.702{{.*}}, beta = 1.000000e+00 : f64, gate_layout = 1 : i64, k = 2 : i64, limit = 7.000000e+00 : f64, normalize = true}
// CHECK-NOT: onnx.ms.MoE
// CHECK: return %[[Y]]
func.func @form_e_swiglu(%x: tensor<?x4xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x16x4xf32>,
                         %w2: tensor<4x4x8xf32>) -> tensor<?x4xf32> {
  %y = onnx.ms.MoE %x, %r, %w1, %w2 {activation_type = "swiglu", swiglu_fusion = 1 : si64, k = 2 : si64, normalize_routing_weights = 1 : si64, activation_alpha = 1.702 : f32, activation_beta = 1.0 : f32, swiglu_limit = 7.0 : f32} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x16x4xf32>, tensor<4x4x8xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Form E with ONNX Runtime's "gelu" (the tanh approximation).
// CHECK-LABEL: func.func @form_e_gelu
// CHECK: sparsa.moe {{.+}} b1 = %arg4 b2 = %arg5 {activation = "gelu_tanh", k = 1 : i64}
func.func @form_e_gelu(%x: tensor<?x4xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x8x4xf32>,
                       %w2: tensor<4x4x8xf32>, %b1: tensor<4x8xf32>, %b2: tensor<4x4xf32>) -> tensor<?x4xf32> {
  %y = onnx.ms.MoE %x, %r, %w1, %w2 fc1_bias = %b1 fc2_bias = %b2 {activation_type = "gelu", k = 1 : si64} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Gate and linear weights given separately (SwiGLU with fc3) are packed at
/// compile time into one [E, H, 2F] constant, halves side by side
/// (gate_layout = 2), so one GEMV per expert streams both.
// CHECK-LABEL: func.func @form_e_fc3_packed
// CHECK: %[[P:.+]] = onnx.Constant {value = dense_resource<experts> : tensor<2x4x4xf32>}
// CHECK: %[[W1:.+]] = onnx.Transpose %[[P]] {perm = array<i64: 0, 2, 1>} : (tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
// CHECK: sparsa.moe %arg0, %arg1, %[[W1]], %{{.+}} {activation = "silu", gate_layout = 2 : i64, k = 1 : i64}
// CHECK-NOT: w3 =
func.func @form_e_fc3_packed(%x: tensor<?x4xf32>, %r: tensor<?x2xf32>) -> tensor<?x4xf32> {
  %w1 = onnx.Constant {value = dense<1.0> : tensor<2x2x4xf32>} : () -> tensor<2x2x4xf32>
  %w2 = onnx.Constant {value = dense<2.0> : tensor<2x4x2xf32>} : () -> tensor<2x4x2xf32>
  %w3 = onnx.Constant {value = dense<3.0> : tensor<2x2x4xf32>} : () -> tensor<2x2x4xf32>
  %y = onnx.ms.MoE %x, %r, %w1, %w2 fc3 = %w3 {activation_type = "swiglu", swiglu_fusion = 0 : si64, k = 1 : si64} : (tensor<?x4xf32>, tensor<?x2xf32>, tensor<2x2x4xf32>, tensor<2x4x2xf32>, tensor<2x2x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// com.microsoft.QMoE: the packed codes, scales and zero points go into
/// sparsa.moe as they are (nothing unpacked); interleaved SwiGLU keeps its
/// layout, block-wise scales their block size.
// CHECK-LABEL: func.func @qmoe_int4_blocked
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %arg1, %arg2, %arg4 w1_scales = %arg3 w2_scales = %arg5 w1_zero_points = %arg6 w2_zero_points = %arg7 {activation = "silu", alpha = 1.702{{.*}}, block_size = 32 : i64, gate_layout = 1 : i64, k = 2 : i64, normalize = true, weight_bits = 4 : i64}
// CHECK-NOT: onnx.ms.QMoE
// CHECK: return %[[Y]]
func.func @qmoe_int4_blocked(%x: tensor<?x64xf32>, %r: tensor<?x8xf32>, %w1: tensor<8x256x32xui8>,
                             %s1: tensor<8x256x2xf32>, %w2: tensor<8x64x64xui8>, %s2: tensor<8x64x4xf32>,
                             %z1: tensor<8x256x1xui8>, %z2: tensor<8x64x2xui8>) -> tensor<?x64xf32> {
  %y = onnx.ms.QMoE %x, %r, %w1, %s1, %w2, %s2 fc1_zero_points = %z1 fc2_zero_points = %z2 {activation_type = "swiglu", swiglu_fusion = 1 : si64, activation_alpha = 1.702 : f32, k = 2 : si64, normalize_routing_weights = 1 : si64, expert_weight_bits = 4 : si64, block_size = 32 : si64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x256x32xui8>, tensor<8x256x2xf32>, tensor<8x64x64xui8>, tensor<8x64x4xf32>, tensor<8x256x1xui8>, tensor<8x64x2xui8>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

/// QMoE with separate gate weights (fc3) and biases, 8-bit per-row: the
/// gate and linear parts stay two packed weights (w3).
// CHECK-LABEL: func.func @qmoe_int8_fc3
// CHECK: sparsa.moe %arg0, %arg1, %arg2, %arg4 w3 = %arg6 b1 = %arg8 b2 = %arg9 w1_scales = %arg3 w2_scales = %arg5 w3_scales = %arg7 {activation = "silu", k = 1 : i64, weight_bits = 8 : i64}
func.func @qmoe_int8_fc3(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x8x16xui8>,
                         %s1: tensor<4x8xf32>, %w2: tensor<4x16x8xui8>, %s2: tensor<4x16xf32>,
                         %w3: tensor<4x8x16xui8>, %s3: tensor<4x8xf32>, %b1: tensor<4x8xf32>,
                         %b2: tensor<4x16xf32>) -> tensor<?x16xf32> {
  %y = onnx.ms.QMoE %x, %r, %w1, %s1, %w2, %s2 fc1_bias = %b1 fc2_bias = %b2 fc3 = %w3 fc3_scales = %s3 {activation_type = "swiglu", swiglu_fusion = 0 : si64, k = 1 : si64, expert_weight_bits = 8 : si64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x8x16xui8>, tensor<4x8xf32>, tensor<4x16x8xui8>, tensor<4x16xf32>, tensor<4x8xf32>, tensor<4x16xf32>, tensor<4x8x16xui8>, tensor<4x8xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

/// Near misses: weights of unknown size, and scales that do not match the
/// codes (the op would not verify), stay QMoE (its reference lowering) and
/// say why.
// CHECK-LABEL: func.func @qmoe_dynamic_weights
// CHECK: onnx.ms.QMoE {{.+}}sparsa.unfused = {routing = "quantized expert weights need static shapes [E, out, in * bits / 8]"}
func.func @qmoe_dynamic_weights(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x?x8xui8>,
                                %s1: tensor<4x?xf32>, %w2: tensor<4x16x4xui8>, %s2: tensor<4x16xf32>) -> tensor<?x16xf32> {
  %y = onnx.ms.QMoE %x, %r, %w1, %s1, %w2, %s2 {activation_type = "relu", k = 1 : si64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x?x8xui8>, tensor<4x?xf32>, tensor<4x16x4xui8>, tensor<4x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @qmoe_scales_mismatch
// CHECK: onnx.ms.QMoE {{.+}}sparsa.unfused = {routing = "the operands do not form a valid quantized sparsa.moe"}
func.func @qmoe_scales_mismatch(%x: tensor<?x16xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x8x8xui8>,
                                %s1: tensor<4x6xf32>, %w2: tensor<4x16x4xui8>, %s2: tensor<4x16xf32>) -> tensor<?x16xf32> {
  %y = onnx.ms.QMoE %x, %r, %w1, %s1, %w2, %s2 {activation_type = "relu", k = 1 : si64} : (tensor<?x16xf32>, tensor<?x4xf32>, tensor<4x8x8xui8>, tensor<4x6xf32>, tensor<4x16x4xui8>, tensor<4x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

/// Form D: the stacked expert weights gathered by the top-k indices; the
/// gate is softmax -> TopK -> renormalize. The stacked constants become the
/// op's weights directly, and the gathered copies disappear.
// CHECK-LABEL: func.func @form_d
// CHECK-DAG: %[[W1:.+]] = onnx.Constant {value = dense<5.000000e-01> : tensor<4x4x8xf32>}
// CHECK-DAG: %[[W2:.+]] = onnx.Constant {value = dense<2.500000e-01> : tensor<4x8x4xf32>}
// CHECK: %[[L:.+]] = onnx.MatMul %arg0
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %[[L]], %[[W1]], %[[W2]] {k = 2 : i64, normalize = true}
// CHECK-NOT: onnx.Gather
// CHECK-NOT: onnx.TopK
// CHECK: return %[[Y]]
func.func @form_d(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<1.0> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %axm1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax12 = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x4x8xf32>} : () -> tensor<4x4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<4x8x4xf32>} : () -> tensor<4x8x4xf32>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %p = onnx.Softmax %l : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %v, %i = onnx.TopK %p, %k : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %s = onnx.ReduceSum %v, %axm1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %s : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %ax12 : (tensor<?x4xf32>, tensor<2xi64>) -> tensor<?x1x1x4xf32>
  %g1 = onnx.Gather %w1, %i : (tensor<4x4x8xf32>, tensor<?x2xi64>) -> tensor<?x2x4x8xf32>
  %g2 = onnx.Gather %w2, %i : (tensor<4x8x4xf32>, tensor<?x2xi64>) -> tensor<?x2x8x4xf32>
  %h = onnx.MatMul %xu, %g1 : (tensor<?x1x1x4xf32>, tensor<?x2x4x8xf32>) -> tensor<?x2x1x8xf32>
  %a = onnx.Relu %h : (tensor<?x2x1x8xf32>) -> tensor<?x2x1x8xf32>
  %o = onnx.MatMul %a, %g2 : (tensor<?x2x1x8xf32>, tensor<?x2x8x4xf32>) -> tensor<?x2x1x4xf32>
  %sq = onnx.Squeeze %o, %ax2 : (tensor<?x2x1x4xf32>, tensor<1xi64>) -> tensor<?x2x4xf32>
  %wu = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %m = onnx.Mul %sq, %wu : (tensor<?x2x4xf32>, tensor<?x2x1xf32>) -> tensor<?x2x4xf32>
  %y = onnx.ReduceSum %m, %ax1 {keepdims = 0 : si64} : (tensor<?x2x4xf32>, tensor<1xi64>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// DBRX's renormalization: the top-k softmax values over their 1-norm
/// (torch.norm(v, p=1) as ReduceL1), the sum for these non-negative
/// values: the op's own gate with normalize, no given routing.
// CHECK-LABEL: func.func @form_d_dbrx_l1_norm
// CHECK-DAG: %[[W1:.+]] = onnx.Constant {value = dense<5.000000e-01> : tensor<4x4x8xf32>}
// CHECK-DAG: %[[W2:.+]] = onnx.Constant {value = dense<2.500000e-01> : tensor<4x8x4xf32>}
// CHECK: %[[L:.+]] = onnx.MatMul %arg0
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %[[L]], %[[W1]], %[[W2]] {k = 2 : i64, normalize = true}
// CHECK-NOT: onnx.Gather
// CHECK-NOT: onnx.TopK
// CHECK-NOT: onnx.ReduceL1
// CHECK: return %[[Y]]
func.func @form_d_dbrx_l1_norm(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<1.0> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %axm1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax12 = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x4x8xf32>} : () -> tensor<4x4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<4x8x4xf32>} : () -> tensor<4x8x4xf32>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %p = onnx.Softmax %l : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %v, %i = onnx.TopK %p, %k : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %s = onnx.ReduceL1 %v, %axm1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %v, %s : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %ax12 : (tensor<?x4xf32>, tensor<2xi64>) -> tensor<?x1x1x4xf32>
  %g1 = onnx.Gather %w1, %i : (tensor<4x4x8xf32>, tensor<?x2xi64>) -> tensor<?x2x4x8xf32>
  %g2 = onnx.Gather %w2, %i : (tensor<4x8x4xf32>, tensor<?x2xi64>) -> tensor<?x2x8x4xf32>
  %h = onnx.MatMul %xu, %g1 : (tensor<?x1x1x4xf32>, tensor<?x2x4x8xf32>) -> tensor<?x2x1x8xf32>
  %a = onnx.Relu %h : (tensor<?x2x1x8xf32>) -> tensor<?x2x1x8xf32>
  %o = onnx.MatMul %a, %g2 : (tensor<?x2x1x8xf32>, tensor<?x2x8x4xf32>) -> tensor<?x2x1x4xf32>
  %sq = onnx.Squeeze %o, %ax2 : (tensor<?x2x1x4xf32>, tensor<1xi64>) -> tensor<?x2x4xf32>
  %wu = onnx.Unsqueeze %w, %ax2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %m = onnx.Mul %sq, %wu : (tensor<?x2x4xf32>, tensor<?x2x1xf32>) -> tensor<?x2x4xf32>
  %y = onnx.ReduceSum %m, %ax1 {keepdims = 0 : si64} : (tensor<?x2x4xf32>, tensor<1xi64>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Form C with two experts written as torch exports nn.Linear (Gemm,
/// transB = 1) and a Mixtral gate (TopK over the logits, softmax over the
/// k). The per-expert weights are stacked into [E, out, in] constants at
/// compile time and transposed to the canonical [E, in, out].
// CHECK-LABEL: func.func @form_c_gemm_silu
// CHECK-DAG: %[[S1:.+]] = onnx.Constant {value = dense_resource<experts> : tensor<2x8x4xf32>}
// CHECK-DAG: %[[S2:.+]] = onnx.Constant {value = dense_resource<experts{{.*}}> : tensor<2x4x8xf32>}
// CHECK-DAG: %[[B2:.+]] = onnx.Constant {value = dense_resource<experts{{.*}}> : tensor<2x4xf32>}
// CHECK-DAG: %[[T1:.+]] = onnx.Transpose %[[S1]] {perm = array<i64: 0, 2, 1>}
// CHECK-DAG: %[[T2:.+]] = onnx.Transpose %[[S2]] {perm = array<i64: 0, 2, 1>}
// CHECK: sparsa.moe %arg0, %{{.+}}, %[[T1]], %[[T2]] b2 = %[[B2]] {activation = "silu", k = 1 : i64, normalize = true}
// CHECK-NOT: onnx.Equal
func.func @form_c_gemm_silu(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<1.0> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %b2a = onnx.Constant {value = dense<0.1> : tensor<4xf32>} : () -> tensor<4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %b2b = onnx.Constant {value = dense<0.2> : tensor<4xf32>} : () -> tensor<4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %v, %i = onnx.TopK %l, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %w = onnx.Softmax %v : (tensor<?x1xf32>) -> tensor<?x1xf32>
  // expert 0
  %q0 = onnx.Equal %i, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %c0 = onnx.Cast %q0 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %m0 = onnx.Mul %c0, %w : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %m0, %ax1 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %h0 = onnx.Gemm %x, %w1a {transB = 1 : si64} : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %s0 = onnx.Sigmoid %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Mul %h0, %s0 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.Gemm %a0, %w2a, %b2a {transB = 1 : si64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %t0 = onnx.Mul %y0, %r0 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  // expert 1
  %q1 = onnx.Equal %i, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %c1 = onnx.Cast %q1 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %m1 = onnx.Mul %c1, %w : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %m1, %ax1 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %h1 = onnx.Gemm %x, %w1b {transB = 1 : si64} : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %s1 = onnx.Sigmoid %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Mul %h1, %s1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.Gemm %a1, %w2b, %b2b {transB = 1 : si64} : (tensor<?x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %t1 = onnx.Mul %y1, %r1 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %t0, %t1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Form C on unflattened [B, S, H] tokens (a module that never reshapes
/// them): softmax, TopK and the weights' ReduceSum on the last axis of
/// [B, S, E]. The op takes x as it is and the logits as [B * S, E].
// CHECK-LABEL: func.func @form_c_batched
// CHECK: %[[L:.+]] = onnx.MatMul %arg0
// CHECK: %[[SH:.+]] = onnx.Constant {value = dense<[-1, 2]> : tensor<2xi64>}
// CHECK: %[[L2:.+]] = onnx.Reshape %[[L]], %[[SH]] : (tensor<?x3x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %[[L2]], %{{.+}}, %{{.+}} {k = 1 : i64}
// CHECK-SAME: (tensor<?x3x4xf32>, tensor<?x2xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<?x3x4xf32>
// CHECK: return %[[Y]]
func.func @form_c_batched(%x: tensor<?x3x4xf32>) -> tensor<?x3x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %axl = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x3x4xf32>, tensor<4x2xf32>) -> tensor<?x3x2xf32>
  %p = onnx.Softmax %l {axis = -1 : si64} : (tensor<?x3x2xf32>) -> tensor<?x3x2xf32>
  %v, %i = onnx.TopK %p, %k : (tensor<?x3x2xf32>, tensor<1xi64>) -> (tensor<?x3x1xf32>, tensor<?x3x1xi64>)
  // expert 0
  %q0 = onnx.Equal %i, %e0 : (tensor<?x3x1xi64>, tensor<i64>) -> tensor<?x3x1xi1>
  %c0 = onnx.Cast %q0 {to = 1 : si64} : (tensor<?x3x1xi1>) -> tensor<?x3x1xf32>
  %m0 = onnx.Mul %c0, %v : (tensor<?x3x1xf32>, tensor<?x3x1xf32>) -> tensor<?x3x1xf32>
  %r0 = onnx.ReduceSum %m0, %axl : (tensor<?x3x1xf32>, tensor<1xi64>) -> tensor<?x3x1xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x3x4xf32>, tensor<4x8xf32>) -> tensor<?x3x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x3x8xf32>, tensor<8x4xf32>) -> tensor<?x3x4xf32>
  %t0 = onnx.Mul %y0, %r0 : (tensor<?x3x4xf32>, tensor<?x3x1xf32>) -> tensor<?x3x4xf32>
  // expert 1
  %q1 = onnx.Equal %i, %e1 : (tensor<?x3x1xi64>, tensor<i64>) -> tensor<?x3x1xi1>
  %c1 = onnx.Cast %q1 {to = 1 : si64} : (tensor<?x3x1xi1>) -> tensor<?x3x1xf32>
  %m1 = onnx.Mul %c1, %v : (tensor<?x3x1xf32>, tensor<?x3x1xf32>) -> tensor<?x3x1xf32>
  %r1 = onnx.ReduceSum %m1, %axl : (tensor<?x3x1xf32>, tensor<1xi64>) -> tensor<?x3x1xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x3x4xf32>, tensor<4x8xf32>) -> tensor<?x3x8xf32>
  %a1 = onnx.Relu %h1 : (tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x3x8xf32>, tensor<8x4xf32>) -> tensor<?x3x4xf32>
  %t1 = onnx.Mul %y1, %r1 : (tensor<?x3x4xf32>, tensor<?x3x1xf32>) -> tensor<?x3x4xf32>
  %y = onnx.Add %t0, %t1 : (tensor<?x3x4xf32>, tensor<?x3x4xf32>) -> tensor<?x3x4xf32>
  return %y : tensor<?x3x4xf32>
}

// -----

/// Shazeer's top-k gating written by hand, densely: the top-k logits
/// scattered into -inf (torch.full_like(logits, -inf).scatter), softmax
/// over all experts, one column per expert (form C's Slice). Equals the
/// softmax over the k (Mixtral's gate): gating softmax, normalize.
// CHECK-LABEL: func.func @form_c_softmax_of_neginf_scatter
// CHECK: sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {k = 1 : i64, normalize = true}
// CHECK-NOT: onnx.ScatterElements
// CHECK-NOT: onnx.Softmax
func.func @form_c_softmax_of_neginf_scatter(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %s1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %v, %i = onnx.TopK %l, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %shape = onnx.Shape %l : (tensor<?x2xf32>) -> tensor<2xi64>
  %ninf = onnx.ConstantOfShape %shape {value = dense<0xFF800000> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x2xf32>
  %sc = onnx.ScatterElements %ninf, %i, %v {axis = -1 : si64} : (tensor<?x2xf32>, tensor<?x1xi64>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %d = onnx.Softmax %sc : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %c0 = onnx.Slice %d, %s0, %s1 axes = %s1 : (tensor<?x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1xf32>
  %c1 = onnx.Slice %d, %s1, %s2 axes = %s1 : (tensor<?x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t0 = onnx.Mul %y0, %c0 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Relu %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t1 = onnx.Mul %y1, %c1 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %t0, %t1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Near miss: the top-k logits scattered into zeros (not -inf) before the
/// softmax weigh every expert. Nothing fuses; the combine says why.
// CHECK-LABEL: func.func @negative_softmax_of_zero_scatter
// CHECK: onnx.Add {{.+}}sparsa.unfused = {routing = "routing logits are scattered into a matrix other than -inf before the softmax"}
// CHECK-NOT: sparsa.moe
func.func @negative_softmax_of_zero_scatter(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %s1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %v, %i = onnx.TopK %l, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %shape = onnx.Shape %l : (tensor<?x2xf32>) -> tensor<2xi64>
  %z = onnx.ConstantOfShape %shape : (tensor<2xi64>) -> tensor<?x2xf32>
  %sc = onnx.ScatterElements %z, %i, %v {axis = -1 : si64} : (tensor<?x2xf32>, tensor<?x1xi64>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %d = onnx.Softmax %sc : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %c0 = onnx.Slice %d, %s0, %s1 axes = %s1 : (tensor<?x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1xf32>
  %c1 = onnx.Slice %d, %s1, %s2 axes = %s1 : (tensor<?x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t0 = onnx.Mul %y0, %c0 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Relu %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t1 = onnx.Mul %y1, %c1 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %t0, %t1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Form C summed into zeros (`out = torch.zeros_like(x); out = out + ...`):
/// the zeros are no term of the sum.
// CHECK-LABEL: func.func @form_c_from_zeros
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {k = 1 : i64}
// CHECK-NOT: onnx.Add
// CHECK: return %[[Y]]
func.func @form_c_from_zeros(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %axl = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %p = onnx.Softmax %l : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %i = onnx.TopK %p, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %xs = onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
  %zeros = onnx.ConstantOfShape %xs : (tensor<2xi64>) -> tensor<?x4xf32>
  %q0 = onnx.Equal %i, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %f0 = onnx.Cast %q0 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %m0 = onnx.Mul %v, %f0 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r0 = onnx.ReduceSum %m0, %axl : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t0 = onnx.Mul %y0, %r0 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %q1 = onnx.Equal %i, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %f1 = onnx.Cast %q1 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %m1 = onnx.Mul %v, %f1 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %r1 = onnx.ReduceSum %m1, %axl : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Relu %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t1 = onnx.Mul %y1, %r1 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %s = onnx.Add %zeros, %t0 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %s, %t1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Near miss: stacked per-expert outputs (form B, one module per expert)
/// whose experts use different activations. Nothing fuses; the combine
/// says why.
// CHECK-LABEL: func.func @negative_stacked_mixed_activations
// CHECK: onnx.ReduceSum {{.+}} {keepdims = 0 : si64, sparsa.unfused = {routing = "experts use different activations
// CHECK-NOT: sparsa.moe
func.func @negative_stacked_mixed_activations(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %axl = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %p = onnx.Softmax %l : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v, %i = onnx.TopK %p, %k : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %zero = onnx.Constant {value = dense<0.0> : tensor<1x2xf32>} : () -> tensor<1x2xf32>
  %shape = onnx.Shape %l : (tensor<?x2xf32>) -> tensor<2xi64>
  %zeros = onnx.Expand %zero, %shape : (tensor<1x2xf32>, tensor<2xi64>) -> tensor<?x2xf32>
  %d = onnx.ScatterElements %zeros, %i, %v {axis = 1 : si64} : (tensor<?x2xf32>, tensor<?x1xi64>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %s1 = onnx.Sigmoid %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Mul %h1, %s1 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %u0 = onnx.Unsqueeze %y0, %ax1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x1x4xf32>
  %u1 = onnx.Unsqueeze %y1, %ax1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x1x4xf32>
  %st = onnx.Concat %u0, %u1 {axis = 1 : si64} : (tensor<?x1x4xf32>, tensor<?x1x4xf32>) -> tensor<?x2x4xf32>
  %du = onnx.Unsqueeze %d, %axl : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
  %m = onnx.Mul %st, %du : (tensor<?x2x4xf32>, tensor<?x2x1xf32>) -> tensor<?x2x4xf32>
  %y = onnx.ReduceSum %m, %ax1 {keepdims = 0 : si64} : (tensor<?x2x4xf32>, tensor<1xi64>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// TopK over the token axis is no gate the pass recognizes, but the
/// gathered experts still sum one term per (row, slot) of its [2, 4]
/// values and indices, one row per token (T = 2 here): a given routing,
/// with the gate kept as ONNX ops and a note saying why. The indices are
/// read from the end when negative, as Gather does.
// CHECK-LABEL: func.func @topk_over_tokens
// CHECK: %[[V:.+]], %[[I:.+]] = onnx.TopK {{.+}} {axis = 0 : si64}
// CHECK: %[[LT:.+]] = onnx.Less %[[I]]
// CHECK: %[[SH:.+]] = onnx.Add %[[I]]
// CHECK: %[[WR:.+]] = onnx.Where %[[LT]], %[[SH]], %[[I]]
// CHECK: sparsa.moe %arg0, %[[V]], {{.+}} expert_indices = %[[WR]] {gating = "given", k = 4 : i64, sparsa.fusion_note = {routing = "gate kept as ONNX ops (TopK selects along axis 0, not the expert axis); the experts take its routing weights and indices"}}
func.func @topk_over_tokens(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %wg = onnx.Constant {value = dense<1.0> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax12 = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x4x8xf32>} : () -> tensor<4x4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<4x8x4xf32>} : () -> tensor<4x8x4xf32>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %l = onnx.MatMul %x, %wg : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %p = onnx.Softmax %l : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %v, %i = onnx.TopK %p, %k {axis = 0 : si64} : (tensor<2x4xf32>, tensor<1xi64>) -> (tensor<2x4xf32>, tensor<2x4xi64>)
  %xu = onnx.Unsqueeze %x, %ax12 : (tensor<2x4xf32>, tensor<2xi64>) -> tensor<2x1x1x4xf32>
  %g1 = onnx.Gather %w1, %i : (tensor<4x4x8xf32>, tensor<2x4xi64>) -> tensor<2x4x4x8xf32>
  %g2 = onnx.Gather %w2, %i : (tensor<4x8x4xf32>, tensor<2x4xi64>) -> tensor<2x4x8x4xf32>
  %h = onnx.MatMul %xu, %g1 : (tensor<2x1x1x4xf32>, tensor<2x4x4x8xf32>) -> tensor<2x4x1x8xf32>
  %a = onnx.Relu %h : (tensor<2x4x1x8xf32>) -> tensor<2x4x1x8xf32>
  %o = onnx.MatMul %a, %g2 : (tensor<2x4x1x8xf32>, tensor<2x4x8x4xf32>) -> tensor<2x4x1x4xf32>
  %sq = onnx.Squeeze %o, %ax2 : (tensor<2x4x1x4xf32>, tensor<1xi64>) -> tensor<2x4x4xf32>
  %wu = onnx.Unsqueeze %v, %ax2 : (tensor<2x4xf32>, tensor<1xi64>) -> tensor<2x4x1xf32>
  %m = onnx.Mul %sq, %wu : (tensor<2x4x4xf32>, tensor<2x4x1xf32>) -> tensor<2x4x4xf32>
  %y = onnx.ReduceSum %m, %ax1 {keepdims = 0 : si64} : (tensor<2x4x4xf32>, tensor<1xi64>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

/// Near miss: the same TopK over the token axis of a dynamic token count.
/// Its [2, 4] rows only broadcast against the tokens, so they are no given
/// routing: nothing fuses, and the gate's own reason is reported.
// CHECK-LABEL: func.func @negative_topk_over_dynamic_tokens
// CHECK-NOT: sparsa.moe
// CHECK: onnx.ReduceSum {{.+}}sparsa.unfused = {routing = "TopK selects along axis 0, not the expert axis"}
func.func @negative_topk_over_dynamic_tokens(%x: tensor<?x4xf32>) -> tensor<2x4xf32> {
  %wg = onnx.Constant {value = dense<1.0> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax12 = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x4x8xf32>} : () -> tensor<4x4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<4x8x4xf32>} : () -> tensor<4x8x4xf32>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %p = onnx.Softmax %l : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %v, %i = onnx.TopK %p, %k {axis = 0 : si64} : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<2x4xf32>, tensor<2x4xi64>)
  %xu = onnx.Unsqueeze %x, %ax12 : (tensor<?x4xf32>, tensor<2xi64>) -> tensor<?x1x1x4xf32>
  %g1 = onnx.Gather %w1, %i : (tensor<4x4x8xf32>, tensor<2x4xi64>) -> tensor<2x4x4x8xf32>
  %g2 = onnx.Gather %w2, %i : (tensor<4x8x4xf32>, tensor<2x4xi64>) -> tensor<2x4x8x4xf32>
  %h = onnx.MatMul %xu, %g1 : (tensor<?x1x1x4xf32>, tensor<2x4x4x8xf32>) -> tensor<2x4x1x8xf32>
  %a = onnx.Relu %h : (tensor<2x4x1x8xf32>) -> tensor<2x4x1x8xf32>
  %o = onnx.MatMul %a, %g2 : (tensor<2x4x1x8xf32>, tensor<2x4x8x4xf32>) -> tensor<2x4x1x4xf32>
  %sq = onnx.Squeeze %o, %ax2 : (tensor<2x4x1x4xf32>, tensor<1xi64>) -> tensor<2x4x4xf32>
  %wu = onnx.Unsqueeze %v, %ax2 : (tensor<2x4xf32>, tensor<1xi64>) -> tensor<2x4x1xf32>
  %m = onnx.Mul %sq, %wu : (tensor<2x4x4xf32>, tensor<2x4x1xf32>) -> tensor<2x4x4xf32>
  %y = onnx.ReduceSum %m, %ax1 {keepdims = 0 : si64} : (tensor<2x4x4xf32>, tensor<1xi64>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

/// Mixture of Hidden Dimensions: FFN activation [T, 8] viewed as 4 groups
/// of 2, group 0 always on, a 0/1 mask of the top-1 of the 3 routed groups
/// scaled by 3. Becomes the shared group as a dense FFN (first 2 columns)
/// plus a sparsa.moe over the routed groups with gating "none" and the
/// scale as routed_scaling; the down bias stays.
// CHECK-LABEL: func.func @mohd
// CHECK-DAG: %[[W1R:.+]] = onnx.Constant {value = dense_resource<experts{{.*}}> : tensor<3x4x2xf32>}
// CHECK-DAG: %[[W2R:.+]] = onnx.Constant {value = dense_resource<experts{{.*}}> : tensor<3x2x4xf32>}
// CHECK-DAG: %[[B1R:.+]] = onnx.Constant {value = dense_resource<experts{{.*}}> : tensor<3x2xf32>}
// CHECK-DAG: %[[L:.+]] = onnx.MatMul %arg0, %{{.+}} : (tensor<?x4xf32>, tensor<4x3xf32>) -> tensor<?x3xf32>
// CHECK: %[[MOE:.+]] = sparsa.moe %arg0, %[[L]], %[[W1R]], %[[W2R]] b1 = %[[B1R]] {gating = "none", k = 1 : i64, routed_scaling = 3.000000e+00 : f64}
// CHECK-DAG: %[[W1S:.+]] = onnx.Constant {value = dense_resource<experts{{.*}}> : tensor<4x2xf32>}
// CHECK-DAG: %[[W2S:.+]] = onnx.Constant {value = dense_resource<experts{{.*}}> : tensor<2x4xf32>}
// CHECK: %[[HS:.+]] = onnx.MatMul %arg0, %[[W1S]]
// CHECK: onnx.Add %[[HS]]
// CHECK: %[[AS:.+]] = onnx.Relu
// CHECK: %[[YS:.+]] = onnx.MatMul %[[AS]], %[[W2S]]
// CHECK: %[[SUM:.+]] = onnx.Add %[[YS]], %[[MOE]]
// CHECK: %[[Y:.+]] = onnx.Add %[[SUM]], %{{.+}} : (tensor<?x4xf32>, tensor<4xf32>)
// CHECK-NOT: onnx.ScatterElements
// CHECK: return %[[Y]]
func.func @mohd(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %w1 = onnx.Constant {value = dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %b1 = onnx.Constant {value = dense<[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2 = onnx.Constant {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %b2 = onnx.Constant {value = dense<0.25> : tensor<4xf32>} : () -> tensor<4xf32>
  %wr = onnx.Constant {value = dense<1.0> : tensor<4x3xf32>} : () -> tensor<4x3xf32>
  %grp = onnx.Constant {value = dense<[-1, 4, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %k = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %scale = onnx.Constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
  %s0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %s1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %flat = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %h0 = onnx.MatMul %x, %w1 : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %h1 = onnx.Add %h0, %b1 : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %h = onnx.Relu %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %hg = onnx.Reshape %h, %grp : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x4x2xf32>
  %l = onnx.MatMul %x, %wr : (tensor<?x4xf32>, tensor<4x3xf32>) -> tensor<?x3xf32>
  %p = onnx.Softmax %l : (tensor<?x3xf32>) -> tensor<?x3xf32>
  %v, %i = onnx.TopK %p, %k : (tensor<?x3xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
  %ps = onnx.Shape %p : (tensor<?x3xf32>) -> tensor<2xi64>
  %zeros = onnx.ConstantOfShape %ps {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x3xf32>
  %is = onnx.Shape %i : (tensor<?x1xi64>) -> tensor<2xi64>
  %ones = onnx.ConstantOfShape %is {value = dense<1.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x1xf32>
  %r0 = onnx.ScatterElements %zeros, %i, %ones {axis = 1 : si64} : (tensor<?x3xf32>, tensor<?x1xi64>, tensor<?x1xf32>) -> tensor<?x3xf32>
  %r = onnx.Mul %r0, %scale : (tensor<?x3xf32>, tensor<f32>) -> tensor<?x3xf32>
  %xs = onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
  %t = onnx.Slice %xs, %s0, %s1 : (tensor<2xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %sh = onnx.Concat %t, %s1 {axis = 0 : si64} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %on = onnx.ConstantOfShape %sh {value = dense<1.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x1xf32>
  %m = onnx.Concat %on, %r {axis = 1 : si64} : (tensor<?x1xf32>, tensor<?x3xf32>) -> tensor<?x4xf32>
  %m3 = onnx.Unsqueeze %m, %ax2 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x4x1xf32>
  %hm = onnx.Mul %hg, %m3 : (tensor<?x4x2xf32>, tensor<?x4x1xf32>) -> tensor<?x4x2xf32>
  %h2 = onnx.Reshape %hm, %flat : (tensor<?x4x2xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %h2, %w2 : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %y0, %b2 : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Switch Transformer's top-1 by torch.max(probs, -1, keepdim=True)
/// (ReduceMax + ArgMax): the experts' outputs masked by `idx == e` alone,
/// summed from zeros, the sum scaled once by the top-1 weight. One
/// sparsa.moe with k = 1 replaces the final Mul.
// CHECK-LABEL: func.func @switch_top1_weight_after_sum
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {k = 1 : i64}
// CHECK-NOT: onnx.ArgMax
// CHECK-NOT: onnx.Mul
// CHECK: return %[[Y]]
func.func @switch_top1_weight_after_sum(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %axl = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %p = onnx.Softmax %l : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v = onnx.ReduceMax %p, %axl : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %i = onnx.ArgMax %p {axis = -1 : si64} : (tensor<?x2xf32>) -> tensor<?x1xi64>
  %xs = onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
  %zeros = onnx.ConstantOfShape %xs : (tensor<2xi64>) -> tensor<?x4xf32>
  %q0 = onnx.Equal %i, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %f0 = onnx.Cast %q0 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t0 = onnx.Mul %y0, %f0 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %q1 = onnx.Equal %i, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %f1 = onnx.Cast %q1 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Relu %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t1 = onnx.Mul %y1, %f1 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %s = onnx.Add %zeros, %t0 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %u = onnx.Add %s, %t1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %y = onnx.Mul %u, %v : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// Top-1 by torch.max(probs, -1) without keepdim: [T] weights and indices,
/// each expert's factor `(w * (idx == e))[..., None]`, no ReduceSum.
// CHECK-LABEL: func.func @form_c_top1_flat
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {k = 1 : i64}
// CHECK-NOT: onnx.ArgMax
// CHECK: return %[[Y]]
func.func @form_c_top1_flat(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %axl = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %p = onnx.Softmax %l : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v = onnx.ReduceMax %p, %axl {keepdims = 0 : si64} : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %i = onnx.ArgMax %p {axis = 1 : si64, keepdims = 0 : si64} : (tensor<?x2xf32>) -> tensor<?xi64>
  %q0 = onnx.Equal %i, %e0 : (tensor<?xi64>, tensor<i64>) -> tensor<?xi1>
  %f0 = onnx.Cast %q0 {to = 1 : si64} : (tensor<?xi1>) -> tensor<?xf32>
  %m0 = onnx.Mul %v, %f0 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  %c0 = onnx.Unsqueeze %m0, %axl : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t0 = onnx.Mul %y0, %c0 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %q1 = onnx.Equal %i, %e1 : (tensor<?xi64>, tensor<i64>) -> tensor<?xi1>
  %f1 = onnx.Cast %q1 {to = 1 : si64} : (tensor<?xi1>) -> tensor<?xf32>
  %m1 = onnx.Mul %v, %f1 : (tensor<?xf32>, tensor<?xf32>) -> tensor<?xf32>
  %c1 = onnx.Unsqueeze %m1, %axl : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Relu %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t1 = onnx.Mul %y1, %c1 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %t0, %t1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// ArgMax with select_last_index = 1 picks the last of tied experts, a
/// top-k the first, so the gate is not the op's own; the Equal chain
/// (experts 0 and 1) takes its weight and index as a given routing. Equal
/// masks never match a negative index, so none is wrapped.
// CHECK-LABEL: func.func @argmax_last_index_given
// CHECK: %[[I:.+]] = onnx.ArgMax {{.+}}select_last_index = 1
// CHECK-NOT: onnx.Where
// CHECK: sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} expert_indices = %[[I]] {gating = "given", k = 1 : i64, sparsa.fusion_note = {routing = "gate kept as ONNX ops (ArgMax picks the last of tied experts (select_last_index = 1)); the experts take its routing weights and indices"}}
func.func @argmax_last_index_given(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<[[1.0, -1.0], [0.5, 0.25], [-0.5, 1.0], [0.0, 2.0]]> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %axl = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %e0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %e1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %w1a = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2a = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1b = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2b = onnx.Constant {value = dense<0.75> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %l = onnx.MatMul %x, %wg : (tensor<?x4xf32>, tensor<4x2xf32>) -> tensor<?x2xf32>
  %p = onnx.Softmax %l : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %v = onnx.ReduceMax %p, %axl : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %i = onnx.ArgMax %p {axis = -1 : si64, select_last_index = 1 : si64} : (tensor<?x2xf32>) -> tensor<?x1xi64>
  %q0 = onnx.Equal %i, %e0 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %f0 = onnx.Cast %q0 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %m0 = onnx.Mul %v, %f0 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %h0 = onnx.MatMul %x, %w1a : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a0 = onnx.Relu %h0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y0 = onnx.MatMul %a0, %w2a : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t0 = onnx.Mul %y0, %m0 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %q1 = onnx.Equal %i, %e1 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
  %f1 = onnx.Cast %q1 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
  %m1 = onnx.Mul %v, %f1 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
  %h1 = onnx.MatMul %x, %w1b : (tensor<?x4xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  %a1 = onnx.Relu %h1 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %y1 = onnx.MatMul %a1, %w2b : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %t1 = onnx.Mul %y1, %m1 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %t0, %t1 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// transformers 5's batched_mm experts (Mixtral, Qwen-MoE, OLMoE through
/// the dynamo exporter): one row per (token, slot) pair, the tokens
/// repeat_interleave-d (Reshape(Expand(Unsqueeze(x, 1), [1, k, 1]))), the
/// pair's gate_up_proj rows gathered by the flattened indices (GatherND)
/// under bmm(W, x[..., None]).squeeze(-1), cut by Split; the pairs scaled
/// by the flattened weights, viewed [T, k, H] and summed over k. The
/// Split becomes two projections on the weight's halves, the torch rows
/// [E, out, in] are transposed to matmul layout: one sparsa.moe.
// CHECK-LABEL: func.func @batched_mm_experts
// CHECK-NOT: onnx.Split
// CHECK-NOT: onnx.GatherND
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {activation = "silu", gate_layout = 2 : i64, k = 2 : i64, normalize = true} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<4x8x8xf32>, tensor<4x4x8xf32>)
// CHECK-NOT: onnx.MatMul
// CHECK: return %[[Y]]
func.func @batched_mm_experts(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %wr = onnx.Constant {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %am1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %a1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rep = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %flat2 = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %view = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %gu = onnx.Constant {value = dense<0.25> : tensor<4x8x8xf32>} : () -> tensor<4x8x8xf32>
  %dn = onnx.Constant {value = dense<0.125> : tensor<4x8x4xf32>} : () -> tensor<4x8x4xf32>
  %logits = onnx.MatMul %x, %wr : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %p = onnx.Softmax %logits : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %vals, %idx = onnx.TopK %p, %k : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %s = onnx.ReduceSum %vals, %am1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %vals, %s : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %a1 : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %xe = onnx.Expand %xu, %rep : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %xr = onnx.Reshape %xe, %flat2 : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  %ids = onnx.Reshape %idx, %am1 : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<?xi64>
  %ndi = onnx.Unsqueeze %ids, %am1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %g1 = onnx.GatherND %gu, %ndi : (tensor<4x8x8xf32>, tensor<?x1xi64>) -> tensor<?x8x8xf32>
  %xv = onnx.Unsqueeze %xr, %am1 : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x8x1xf32>
  %m1 = onnx.MatMul %g1, %xv : (tensor<?x8x8xf32>, tensor<?x8x1xf32>) -> tensor<?x8x1xf32>
  %h = onnx.Squeeze %m1, %am1 : (tensor<?x8x1xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %gate, %up = onnx.Split %h {axis = 1 : si64, num_outputs = 2 : si64} : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  %sg = onnx.Sigmoid %gate : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %silu = onnx.Mul %gate, %sg : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %a = onnx.Mul %silu, %up : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %g2 = onnx.GatherND %dn, %ndi : (tensor<4x8x4xf32>, tensor<?x1xi64>) -> tensor<?x8x4xf32>
  %av = onnx.Unsqueeze %a, %am1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x4x1xf32>
  %m2 = onnx.MatMul %g2, %av : (tensor<?x8x4xf32>, tensor<?x4x1xf32>) -> tensor<?x8x1xf32>
  %y = onnx.Squeeze %m2, %am1 : (tensor<?x8x1xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %wf = onnx.Reshape %w, %am1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %wu = onnx.Unsqueeze %wf, %am1 : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %yw = onnx.Mul %y, %wu : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %yv = onnx.Reshape %yw, %view : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %out = onnx.ReduceSum %yv, %a1 {keepdims = 0 : si64} : (tensor<?x2x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

/// A Split of a projection whose halves are not a GLU's gate and up (each
/// half through its own ReLU, summed): the Split still becomes two
/// projections on the constant's halves, and nothing else changes.
// CHECK-LABEL: func.func @split_projection_not_moe
// CHECK: %[[A:.+]] = onnx.Constant {value = dense_resource<{{.+}}> : tensor<8x4xf32>}
// CHECK: %[[HA:.+]] = onnx.MatMul %arg0, %[[A]] : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
// CHECK: %[[B:.+]] = onnx.Constant {value = dense_resource<{{.+}}> : tensor<8x4xf32>}
// CHECK: %[[HB:.+]] = onnx.MatMul %arg0, %[[B]] : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
// CHECK: onnx.Relu %[[HA]]
// CHECK: onnx.Relu %[[HB]]
// CHECK-NOT: onnx.Split
// CHECK-NOT: sparsa.moe
func.func @split_projection_not_moe(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %w = onnx.Constant {value = dense<[[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]]> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
  %h = onnx.MatMul %x, %w : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
  %a, %b = onnx.Split %h {axis = -1 : si64, num_outputs = 2 : si64} : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  %ra = onnx.Relu %a : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %rb = onnx.Relu %b : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %y = onnx.Add %ra, %rb : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// GPT-OSS through transformers 5 (batched_mm, is_transposed): weights [E,
/// in, out] under bmm(x[:, None], W[ids]).squeeze(1), the pair's bias
/// b[ids], a Squeeze(Unsqueeze) round trip, gate and up interleaved and cut
/// by Slices of step 2, the clamped SwiGLU (Clip(up, -7, 7) + 1) * g *
/// sigmoid(1.702 g), g = Clip(gate, max = 7): one sparsa.moe with limit,
/// beta and alpha; the even / odd halves and their biases packed again
/// side by side (gate_layout 2).
// CHECK-LABEL: func.func @gpt_oss_experts
// CHECK-NOT: onnx.Slice
// CHECK-NOT: onnx.Clip
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} b1 = %{{.+}} {activation = "silu", alpha = 1.70{{[0-9]+}} : f64, beta = 1.000000e+00 : f64, gate_layout = 2 : i64, k = 2 : i64, limit = 7.000000e+00 : f64, normalize = true}
// CHECK: return %[[Y]]
func.func @gpt_oss_experts(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wr = onnx.Constant {value = dense<0.5> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %am1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %a0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %a1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %a2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %rep = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %flat2 = onnx.Constant {value = dense<[-1, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  %view = onnx.Constant {value = dense<[-1, 2, 4]> : tensor<3xi64>} : () -> tensor<3xi64>
  %gu = onnx.Constant {value = dense<0.25> : tensor<4x4x8xf32>} : () -> tensor<4x4x8xf32>
  %gub = onnx.Constant {value = dense<0.125> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %dn = onnx.Constant {value = dense<0.5> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32>
  %lim = onnx.Constant {value = dense<7.0> : tensor<f32>} : () -> tensor<f32>
  %nlim = onnx.Constant {value = dense<-7.0> : tensor<f32>} : () -> tensor<f32>
  %alpha = onnx.Constant {value = dense<1.702> : tensor<f32>} : () -> tensor<f32>
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %logits = onnx.MatMul %x, %wr : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %vals, %idx = onnx.TopK %logits, %k : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %w = onnx.Softmax %vals {axis = 1 : si64} : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %a1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x1x4xf32>
  %xe = onnx.Expand %xu, %rep : (tensor<?x1x4xf32>, tensor<3xi64>) -> tensor<?x2x4xf32>
  %xr = onnx.Reshape %xe, %flat2 : (tensor<?x2x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
  %ids = onnx.Reshape %idx, %am1 : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<?xi64>
  %nd = onnx.Unsqueeze %ids, %am1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %g1 = onnx.GatherND %gu, %nd : (tensor<4x4x8xf32>, tensor<?x1xi64>) -> tensor<?x4x8xf32>
  %gb = onnx.GatherND %gub, %nd : (tensor<4x8xf32>, tensor<?x1xi64>) -> tensor<?x8xf32>
  %xv = onnx.Unsqueeze %xr, %a1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x1x4xf32>
  %m1 = onnx.MatMul %xv, %g1 : (tensor<?x1x4xf32>, tensor<?x4x8xf32>) -> tensor<?x1x8xf32>
  %h0 = onnx.Squeeze %m1, %a1 : (tensor<?x1x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %hb = onnx.Add %h0, %gb : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %hu = onnx.Unsqueeze %hb, %a1 : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %h = onnx.Squeeze %hu, %a1 : (tensor<?x1x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %gate = onnx.Slice %h, %a0, %big axes = %a1 steps = %a2 : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4xf32>
  %up = onnx.Slice %h, %a1, %big axes = %a1 steps = %a2 : (tensor<?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4xf32>
  %gc = onnx.Clip %gate max = %lim : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %uc = onnx.Clip %up min = %nlim max = %lim : (tensor<?x4xf32>, tensor<f32>, tensor<f32>) -> tensor<?x4xf32>
  %ga = onnx.Mul %gc, %alpha : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %gs = onnx.Sigmoid %ga : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %glu = onnx.Mul %gc, %gs : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %u1 = onnx.Add %uc, %one : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %act = onnx.Mul %u1, %glu : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %g2 = onnx.GatherND %dn, %nd : (tensor<4x4x4xf32>, tensor<?x1xi64>) -> tensor<?x4x4xf32>
  %av = onnx.Unsqueeze %act, %a1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x1x4xf32>
  %m2 = onnx.MatMul %av, %g2 : (tensor<?x1x4xf32>, tensor<?x4x4xf32>) -> tensor<?x1x4xf32>
  %y = onnx.Squeeze %m2, %a1 : (tensor<?x1x4xf32>, tensor<1xi64>) -> tensor<?x4xf32>
  %wf = onnx.Reshape %w, %am1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %wu = onnx.Unsqueeze %wf, %am1 : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %yw = onnx.Mul %y, %wu : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
  %yv = onnx.Reshape %yw, %view : (tensor<?x4xf32>, tensor<3xi64>) -> tensor<?x2x4xf32>
  %out = onnx.ReduceSum %yv, %a1 {keepdims = 0 : si64} : (tensor<?x2x4xf32>, tensor<1xi64>) -> tensor<?x4xf32>
  return %out : tensor<?x4xf32>
}

// -----

/// Near miss: the tokens repeated three times for top-2 routing (the pair
/// rows no longer line up with the flattened indices).
// CHECK-LABEL: func.func @negative_batched_mm_repeat_count
// CHECK-NOT: sparsa.moe
// CHECK: onnx.TopK {{.+}}sparsa.unfused = {routing = "the tokens are repeated 3 times for top-2 routing"}
func.func @negative_batched_mm_repeat_count(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %wr = onnx.Constant {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %am1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %a1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rep = onnx.Constant {value = dense<[1, 3, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %flat2 = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %view = onnx.Constant {value = dense<[-1, 3, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %gu = onnx.Constant {value = dense<0.25> : tensor<4x8x8xf32>} : () -> tensor<4x8x8xf32>
  %dn = onnx.Constant {value = dense<0.125> : tensor<4x8x4xf32>} : () -> tensor<4x8x4xf32>
  %logits = onnx.MatMul %x, %wr : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %p = onnx.Softmax %logits : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %vals, %idx = onnx.TopK %p, %k : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %s = onnx.ReduceSum %vals, %am1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %vals, %s : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %a1 : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %xe = onnx.Expand %xu, %rep : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x3x8xf32>
  %xr = onnx.Reshape %xe, %flat2 : (tensor<?x3x8xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  %ids = onnx.Reshape %idx, %am1 : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<?xi64>
  %ndi = onnx.Unsqueeze %ids, %am1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %g1 = onnx.GatherND %gu, %ndi : (tensor<4x8x8xf32>, tensor<?x1xi64>) -> tensor<?x8x8xf32>
  %xv = onnx.Unsqueeze %xr, %am1 : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x8x1xf32>
  %m1 = onnx.MatMul %g1, %xv : (tensor<?x8x8xf32>, tensor<?x8x1xf32>) -> tensor<?x8x1xf32>
  %h = onnx.Squeeze %m1, %am1 : (tensor<?x8x1xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %gate, %up = onnx.Split %h {axis = 1 : si64, num_outputs = 2 : si64} : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  %sg = onnx.Sigmoid %gate : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %silu = onnx.Mul %gate, %sg : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %a = onnx.Mul %silu, %up : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %g2 = onnx.GatherND %dn, %ndi : (tensor<4x8x4xf32>, tensor<?x1xi64>) -> tensor<?x8x4xf32>
  %av = onnx.Unsqueeze %a, %am1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x4x1xf32>
  %m2 = onnx.MatMul %g2, %av : (tensor<?x8x4xf32>, tensor<?x4x1xf32>) -> tensor<?x8x1xf32>
  %y = onnx.Squeeze %m2, %am1 : (tensor<?x8x1xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %wf = onnx.Reshape %w, %am1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %wu = onnx.Unsqueeze %wf, %am1 : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %yw = onnx.Mul %y, %wu : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %yv = onnx.Reshape %yw, %view : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x3x8xf32>
  %out = onnx.ReduceSum %yv, %a1 {keepdims = 0 : si64} : (tensor<?x3x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}

// -----

/// The pair rows scaled by weights that are not the gate's top-k values
/// (here an argument): the pair layout fuses with a given routing, the
/// argument as its weights and the TopK's indices as its experts.
// CHECK-LABEL: func.func @batched_mm_weights_elsewhere_given
// CHECK: %{{.+}}, %[[I:.+]] = onnx.TopK
// CHECK: %[[WR:.+]] = onnx.Where %{{.+}}, %{{.+}}, %[[I]]
// CHECK: sparsa.moe %arg0, %arg1, %{{.+}}, %{{.+}} expert_indices = %[[WR]] {activation = "silu", gate_layout = 2 : i64, gating = "given", k = 2 : i64, sparsa.fusion_note = {routing = "gate kept as ONNX ops (routing weights are not the top-k scores); the experts take its routing weights and indices"}}
func.func @batched_mm_weights_elsewhere_given(%x: tensor<?x8xf32>, %wx: tensor<?x2xf32>) -> tensor<?x8xf32> {
  %wr = onnx.Constant {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %am1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %a1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %rep = onnx.Constant {value = dense<[1, 2, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %flat2 = onnx.Constant {value = dense<[-1, 8]> : tensor<2xi64>} : () -> tensor<2xi64>
  %view = onnx.Constant {value = dense<[-1, 2, 8]> : tensor<3xi64>} : () -> tensor<3xi64>
  %gu = onnx.Constant {value = dense<0.25> : tensor<4x8x8xf32>} : () -> tensor<4x8x8xf32>
  %dn = onnx.Constant {value = dense<0.125> : tensor<4x8x4xf32>} : () -> tensor<4x8x4xf32>
  %logits = onnx.MatMul %x, %wr : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  %p = onnx.Softmax %logits : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %vals, %idx = onnx.TopK %p, %k : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
  %s = onnx.ReduceSum %vals, %am1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %w = onnx.Div %vals, %s : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
  %xu = onnx.Unsqueeze %x, %a1 : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  %xe = onnx.Expand %xu, %rep : (tensor<?x1x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %xr = onnx.Reshape %xe, %flat2 : (tensor<?x2x8xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  %ids = onnx.Reshape %idx, %am1 : (tensor<?x2xi64>, tensor<1xi64>) -> tensor<?xi64>
  %ndi = onnx.Unsqueeze %ids, %am1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %g1 = onnx.GatherND %gu, %ndi : (tensor<4x8x8xf32>, tensor<?x1xi64>) -> tensor<?x8x8xf32>
  %xv = onnx.Unsqueeze %xr, %am1 : (tensor<?x8xf32>, tensor<1xi64>) -> tensor<?x8x1xf32>
  %m1 = onnx.MatMul %g1, %xv : (tensor<?x8x8xf32>, tensor<?x8x1xf32>) -> tensor<?x8x1xf32>
  %h = onnx.Squeeze %m1, %am1 : (tensor<?x8x1xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %gate, %up = onnx.Split %h {axis = 1 : si64, num_outputs = 2 : si64} : (tensor<?x8xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  %sg = onnx.Sigmoid %gate : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %silu = onnx.Mul %gate, %sg : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %a = onnx.Mul %silu, %up : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %g2 = onnx.GatherND %dn, %ndi : (tensor<4x8x4xf32>, tensor<?x1xi64>) -> tensor<?x8x4xf32>
  %av = onnx.Unsqueeze %a, %am1 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<?x4x1xf32>
  %m2 = onnx.MatMul %g2, %av : (tensor<?x8x4xf32>, tensor<?x4x1xf32>) -> tensor<?x8x1xf32>
  %y = onnx.Squeeze %m2, %am1 : (tensor<?x8x1xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  %wf = onnx.Reshape %wx, %am1 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
  %wu = onnx.Unsqueeze %wf, %am1 : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
  %yw = onnx.Mul %y, %wu : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xf32>
  %yv = onnx.Reshape %yw, %view : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x2x8xf32>
  %out = onnx.ReduceSum %yv, %a1 {keepdims = 0 : si64} : (tensor<?x2x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  return %out : tensor<?x8xf32>
}
