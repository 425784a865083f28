// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --canonicalize --cse | FileCheck %s

/// One token, ReLU-gated GLU: the dense gate, one pass listing the active
/// neurons (h > 0, NaN included), the linear part as gathered dot products
/// with the active rows of `up` (row chunks in parallel), then the same
/// row chunks in parallel, each a gathered axpy over its active rows of w2
/// into its own partial sum of all 600 columns, the partial sums added at
/// the end (the contraction kernels run both eight rows at a time). A GLU
/// takes this path at any density (its `up` rows are dot products either
/// way).
// CHECK-LABEL: func.func @decode_glu
// CHECK: linalg.generic {{.+}} ins(%arg0, %arg1 : tensor<1x600xf32>, tensor<600x32xf32>)
// CHECK: %[[SCAN:.+]]:2 = scf.for %{{.+}} = %c0 to %c32 step %c1 iter_args({{.+}}) -> (tensor<32xindex>, index)
// CHECK: arith.cmpf ugt
// CHECK: %[[ACTIVE:.+]] = tensor.extract_slice %[[SCAN]]#0[0] [%[[SCAN]]#1] [1] : tensor<32xindex> to tensor<?xindex>
// CHECK: scf.forall (%{{.+}}) in (2) shared_outs
// CHECK: %[[ROWS:.+]] = tensor.extract_slice %[[ACTIVE]]
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]} ins(%{{.+}}, %[[ROWS]] : tensor<600xf32>, tensor<?xindex>) {{.+}} attrs = {sparsa.kernel = "gather_dot"}
// CHECK: tensor.extract %arg3
// CHECK: %[[PARTS:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<2x600xf32>)
// CHECK: %[[SUMS:.+]] = scf.forall (%[[T:.+]]) in (2) shared_outs(%[[P:.+]] = %[[PARTS]])
// CHECK: %[[MINE:.+]] = tensor.extract_slice %[[P]][%[[T]], 0] [1, 600] [1, 1] : tensor<2x600xf32> to tensor<600xf32>
// CHECK: %[[AXPY:.+]] = linalg.generic {{.+}} iterator_types = ["reduction", "parallel"]} ins(%{{.+}}, %{{.+}} : tensor<?xf32>, tensor<?xindex>) outs(%[[MINE]] : tensor<600xf32>) attrs = {sparsa.kernel = "gather_axpy"}
// CHECK: tensor.extract %arg2
// CHECK: tensor.parallel_insert_slice %[[AXPY]] into %[[P]][%[[T]], 0] [1, 600] [1, 1]
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]} ins(%[[SUMS]] : tensor<2x600xf32>) outs(%{{.+}} : tensor<1x600xf32>)
func.func @decode_glu(%x: tensor<1x600xf32>, %w1: tensor<600x32xf32>, %w2: tensor<32x600xf32>, %up: tensor<32x600xf32>) -> tensor<1x600xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up : (tensor<1x600xf32>, tensor<600x32xf32>, tensor<32x600xf32>, tensor<32x600xf32>) -> tensor<1x600xf32>
  return %y : tensor<1x600xf32>
}

// -----

/// The same for the GPU target (the pipeline's sparsa.target): one block of
/// listed rows, no partial sums; the GPU passes spread the rows over device
/// threads themselves.
// CHECK-LABEL: func.func @decode_glu_cuda
// CHECK-NOT: scf.forall
// CHECK: linalg.generic {{.+}} attrs = {sparsa.kernel = "gather_dot"}
// CHECK-NOT: tensor<2x600xf32>
// CHECK: %[[AXPY:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<600xf32>) attrs = {sparsa.kernel = "gather_axpy"}
// CHECK-NOT: tensor<2x600xf32>
// CHECK: return
module attributes {sparsa.target = #sparsa.cuda<chip = "sm_90">} {
  func.func @decode_glu_cuda(%x: tensor<1x600xf32>, %w1: tensor<600x32xf32>, %w2: tensor<32x600xf32>, %up: tensor<32x600xf32>) -> tensor<1x600xf32> {
    %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up : (tensor<1x600xf32>, tensor<600x32xf32>, tensor<32x600xf32>, tensor<32x600xf32>) -> tensor<1x600xf32>
    return %y : tensor<1x600xf32>
  }
}

// -----

/// Tokens known at run time only (exporters' dynamic dims): one token at
/// run time takes the one-token lowering on x viewed as [1, H] (listing the
/// active neurons); more the dense computation, with the threshold as a
/// select.
// CHECK-LABEL: func.func @tokens_threshold
// CHECK: %[[T:.+]] = tensor.dim %arg0, %c0
// CHECK: %[[ONE:.+]] = arith.cmpi eq, %[[T]], %c1
// CHECK: scf.if %[[ONE]] -> (tensor<?x16xf32>)
// CHECK: tensor.cast %arg0 : tensor<?x16xf32> to tensor<1x16xf32>
// CHECK: scf.for {{.+}} -> (tensor<32xindex>, index)
// CHECK: ins(%{{.+}} : tensor<?xindex>)
// CHECK: } else {
// CHECK: } else {
// CHECK-NOT: scf.forall
// CHECK: arith.cmpf ogt, %{{.+}}, %cst
// CHECK: arith.select
// CHECK: ins(%{{.+}}, %arg2 : tensor<?x32xf32>, tensor<32x16xf32>)
func.func @tokens_threshold(%x: tensor<?x16xf32>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>) -> tensor<?x16xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "threshold", threshold = 0.5 : f64} : (tensor<?x16xf32>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

/// CATS, one token: the gate's SiLU is cut by magnitude (|g| > t, a NaN
/// gate active in a GLU: the unordered compare) while the active neurons
/// are listed; only their rows of up and w2 are read after.
// CHECK-LABEL: func.func @cats_one_token
// CHECK: scf.for {{.+}} -> (tensor<32xindex>, index)
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: math.absf
// CHECK: arith.cmpf ugt
// CHECK: scf.if
// CHECK: sparsa.kernel = "gather_dot"
// CHECK: sparsa.kernel = "gather_axpy"
func.func @cats_one_token(%x: tensor<1x16xf32>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>, %up: tensor<32x16xf32>) -> tensor<1x16xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up {mode = "abs_threshold", activation = "silu", threshold = 0.5 : f64} : (tensor<1x16xf32>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>) -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

/// dReLU, one token: the active neurons' linear parts go through a ReLU
/// before they multiply the gate.
// CHECK-LABEL: func.func @drelu_one_token
// CHECK: sparsa.kernel = "gather_dot"
// CHECK: arith.maximumf
// CHECK: arith.maximumf
// CHECK: arith.mulf
// CHECK: sparsa.kernel = "gather_axpy"
func.func @drelu_one_token(%x: tensor<1x16xf32>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>, %up: tensor<32x16xf32>) -> tensor<1x16xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up {relu_up = true} : (tensor<1x16xf32>, tensor<16x32xf32>, tensor<32x16xf32>, tensor<32x16xf32>) -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

/// Packed weights, one token: the gate is the packed 4-bit GEMV (tagged
/// for its kernel; its bias added after), the active neurons are listed,
/// and the down projection reads only their rows of codes, each code
/// dequantized in the loop body with its neuron block's scale and zero
/// point; w2 is never unpacked as a whole.
// CHECK-LABEL: func.func @quantized_one_token
// CHECK: linalg.generic {{.+}} ins({{.+}} : tensor<1x32xf32>, tensor<1x32xf32>, tensor<256x32xi8>, tensor<256x2xf32>) {{.+}} attrs = {sparsa.block_bytes = 16 : i64, sparsa.kernel = "q4_gemv"{{.*}}}
// CHECK: scf.for %{{.+}} = %c0 to %c256 step %c1 iter_args({{.+}}) -> (tensor<256xindex>, index)
// CHECK: linalg.generic {{.+}} iterator_types = ["reduction", "parallel"]} ins(%{{.+}}, %{{.+}} : tensor<?xf32>, tensor<?xindex>)
// CHECK: tensor.extract %arg2[%{{.+}}, %{{.+}}] : tensor<256x32xi8>
// CHECK: tensor.extract %arg6[%{{.+}}, %{{.+}}] : tensor<8x64xi8>
// CHECK: tensor.extract %arg5[%{{.+}}, %{{.+}}] : tensor<8x64xf32>
// CHECK-NOT: tensor<256x64xf32>
func.func @quantized_one_token(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>,
                               %b1: tensor<256xf32>, %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>,
                               %z2: tensor<8x64xui8>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 b1 = %b1 w1_scales = %s1 w2_scales = %s2 w2_zero_points = %z2 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256xf32>, tensor<256x2xf32>, tensor<8x64xf32>, tensor<8x64xui8>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

/// int8 activations: the gate runs as the VNNI packed GEMV (its input's
/// int8 codes per block), the down projection as before.
// CHECK-LABEL: func.func @quantized_int8_gate
// CHECK: sparsa.kernel = "q4_vnni"
// CHECK: tensor.extract %arg2[%{{.+}}, %{{.+}}] : tensor<256x32xi8>
// CHECK-NOT: tensor<256x64xf32>
func.func @quantized_int8_gate(%x: tensor<1x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>,
                               %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>) -> tensor<1x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, int8_activations = true, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>, tensor<8x64xf32>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

/// Packed weights, tokens known at run time: one token takes the
/// one-token lowering. Otherwise the gate is MatMulNBits' packed GEMV (up
/// to 8 tokens) or GEMM; then up to 64 tokens whose active neurons add up
/// to at most 8 times the neurons (2048 here: the gate's active entries
/// counted) run the down projection once per token (a loop over the rows
/// of the gate, each reading only its active neurons' rows of codes); else
/// the dense down projection reads w2's codes in place (k, n / 2), its
/// scales per block of 32 neurons, tagged q4_gemm_kn for the GEMM that
/// dequantizes each panel as it packs it: no unpacked [F, H] weight.
// CHECK-LABEL: func.func @quantized_tokens
// CHECK: arith.cmpi eq, %{{.+}}, %c1
// CHECK: scf.if
// CHECK: sparsa.kernel = "q_gather_axpy"
// CHECK: } else {
// CHECK: arith.cmpi ule, %{{.+}}, %c8
// CHECK: sparsa.kernel = "q4_gemv"
// CHECK: } else {
// CHECK: sparsa.kernel = "q4_gemm"
// CHECK: iterator_types = ["reduction", "reduction"]} ins(%{{.+}} : tensor<?x256xf32>) outs(%{{.+}} : tensor<i64>)
// CHECK: %[[FEW:.+]] = arith.cmpi ule, %{{.+}}, %c64
// CHECK: %[[ROWS:.+]] = arith.cmpi ule, %{{.+}}, %c2048_i64
// CHECK: %[[BOTH:.+]] = arith.andi %[[FEW]], %[[ROWS]]
// CHECK: scf.if %[[BOTH]]
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %c1 iter_args(%{{.+}} = %{{.+}}) -> (tensor<?x64xf32>)
// CHECK: tensor.extract_slice %{{.+}}[%{{.+}}, 0] [1, 256] [1, 1] : tensor<?x256xf32> to tensor<1x256xf32>
// CHECK: sparsa.kernel = "q_gather_axpy"
// CHECK: tensor.insert_slice
// CHECK: } else {
// CHECK-NOT: tensor<256x64xf32>
// CHECK: linalg.generic {indexing_maps = [#[[A:.+]], #[[W:.+]], #[[S:.+]], #[[Y:.+]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%{{.+}}, %arg2, %arg4 : tensor<?x256xf32>, tensor<256x32xi8>, tensor<8x64xf32>)
// CHECK-SAME: sparsa.block_size = 32 : i64, sparsa.kernel = "q4_gemm_kn"
// CHECK-NOT: tensor<256x64xf32>
func.func @quantized_tokens(%x: tensor<?x64xf32>, %w1: tensor<256x2x16xui8>, %w2: tensor<256x32xui8>,
                            %s1: tensor<256x2xf32>, %s2: tensor<8x64xf32>) -> tensor<?x64xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 w1_scales = %s1 w2_scales = %s2 {block_size = 32 : i64, weight_bits = 4 : i64} : (tensor<?x64xf32>, tensor<256x2x16xui8>, tensor<256x32xui8>, tensor<256x2xf32>, tensor<8x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
