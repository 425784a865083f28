// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --canonicalize --cse | FileCheck %s

/// Decode (one token): after the gate (softmax, ranks, slots), the k slots
/// run as parallel tasks, each slicing its selected expert's weights out of
/// the stacks and running static GEMVs on them (one thread streams a whole
/// expert); the slots' scaled outputs are then summed. No loop visits all
/// experts' weights.
// CHECK-LABEL: func.func @decode
// CHECK: math.exp
// CHECK: scf.for %{{.+}} = %c0 to %c4
// CHECK: tensor.insert
// CHECK: %[[SLOTS:.+]] = scf.forall (%[[J:.+]]) in (2) shared_outs
// CHECK: %[[E:.+]] = tensor.extract %{{.+}}[%c0, %[[J]]] : tensor<1x2xindex>
// CHECK: tensor.extract_slice %arg2[%[[E]], 0, 0] [1, 4, 8] [1, 1, 1] : tensor<4x4x8xf32> to tensor<4x8xf32>
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0, %{{.+}} : tensor<1x4xf32>, tensor<4x8xf32>) outs(%{{.+}} : tensor<1x8xf32>)
// CHECK: arith.maximumf
// CHECK: tensor.extract_slice %arg3[%[[E]], 0, 0] [1, 8, 4] [1, 1, 1] : tensor<4x8x4xf32> to tensor<8x4xf32>
// CHECK: tensor.parallel_insert_slice %{{.+}} into %{{.+}}[%[[J]], 0] [1, 4] [1, 1]
// CHECK: %[[OUT:.+]] = linalg.generic {{.+}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[SLOTS]] : tensor<2x4xf32>)
// CHECK: return %[[OUT]]
func.func @decode(%x: tensor<1x4xf32>, %r: tensor<1x4xf32>, %w1: tensor<4x4x8xf32>, %w2: tensor<4x8x4xf32>) -> tensor<1x4xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 2 : i64, normalize = true} : (tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Any number of tokens: sigmoid gate, counting sort of the (token, slot)
/// pairs by expert (counts, start offsets, placement recording each pair's
/// position), the list of experts with tokens, then one parallel task per
/// such expert (gather its rows, FFN on [count, H], scale by the routing
/// weights, insert at the expert's positions), and a combine that sums each
/// token's slots.
// CHECK-LABEL: func.func @tokens
// CHECK: math.exp
// CHECK: scf.for {{.+}} -> (tensor<?x2xindex>, tensor<?x2xf32>)
// CHECK: %[[COUNTS:.+]] = scf.for {{.+}} -> (tensor<4xindex>)
// CHECK: %[[STARTS:.+]]:2 = scf.for {{.+}} -> (tensor<4xindex>, index)
// CHECK: %[[PERM:.+]]:4 = scf.for {{.+}} -> (tensor<4xindex>, tensor<?xindex>, tensor<?xf32>, tensor<?x2xindex>)
// CHECK: %[[SCAN:.+]]:2 = scf.for {{.+}} -> (tensor<4xindex>, index)
// CHECK: %[[ACTIVE:.+]] = tensor.extract_slice %[[SCAN]]#0[0] [%[[SCAN]]#1] [1]
// CHECK: %[[ROWS:.+]] = scf.forall (%[[I:.+]]) in (%[[SCAN]]#1) shared_outs
// CHECK: %[[E:.+]] = tensor.extract %[[ACTIVE]][%[[I]]]
// CHECK: %[[CNT:.+]] = tensor.extract %[[COUNTS]][%[[E]]]
// CHECK: tensor.extract %[[PERM]]#1
// CHECK: tensor.extract_slice %arg2[%[[E]], 0, 0] [1, 4, 8]
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.+}}, %{{.+}} : tensor<?x4xf32>, tensor<4x8xf32>) outs(%{{.+}} : tensor<?x8xf32>)
// CHECK: tensor.extract %[[PERM]]#2
// CHECK: tensor.parallel_insert_slice %{{.+}} into %{{.+}}[%{{.+}}, 0] [%[[CNT]], 4] [1, 1]
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PERM]]#3 : tensor<?x2xindex>)
// CHECK: tensor.extract %[[ROWS]]
func.func @tokens(%x: tensor<?x4xf32>, %r: tensor<?x4xf32>, %w1: tensor<4x4x8xf32>, %w2: tensor<4x8x4xf32>) -> tensor<?x4xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 {k = 2 : i64, gating = "sigmoid"} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// DeepSeek-V3 selection and a shared expert: biased selection scores, each
/// group's two best summed (a max/min chain), group ranks, experts outside
/// the best group zeroed, then ranks on those; the shared expert's matmuls
/// start the output before the slot loop.
// CHECK-LABEL: func.func @grouped_shared
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.+}}, %{{.+}} : tensor<1x2xf32>, tensor<1x2xf32>)
// CHECK: arith.select
// CHECK: ins(%arg0, %arg5 : tensor<1x4xf32>, tensor<4x6xf32>)
// CHECK: ins(%{{.+}}, %arg6 : tensor<1x6xf32>, tensor<6x4xf32>)
// CHECK: scf.forall (%{{.+}}) in (2) shared_outs
func.func @grouped_shared(%x: tensor<1x4xf32>, %r: tensor<1x4xf32>, %w1: tensor<4x4x8xf32>, %w2: tensor<4x8x4xf32>,
                          %bias: tensor<4xf32>, %s1: tensor<4x6xf32>, %s2: tensor<6x4xf32>) -> tensor<1x4xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 selection_bias = %bias shared_w1 = %s1 shared_w2 = %s2 {k = 2 : i64, gating = "sigmoid", n_group = 2 : i64, topk_group = 1 : i64, normalize = true} : (tensor<1x4xf32>, tensor<1x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>, tensor<4xf32>, tensor<4x6xf32>, tensor<6x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Quantized experts, decode: each slot slices its expert's packed codes,
/// scales and packed zero points out of the stacks (no unpacked weight
/// anywhere) and runs the packed 4-bit GEMV on them (rows of 32 / 64
/// bytes: per-row scales are one block per row); per-row zero points,
/// packed along the rows, become one float per row.
// CHECK-LABEL: func.func @quantized_decode
// CHECK: scf.forall (%[[J:.+]]) in (2) shared_outs
// CHECK: %[[E:.+]] = tensor.extract %{{.+}}[%c0, %[[J]]] : tensor<1x2xindex>
// CHECK: %[[C1:.+]] = tensor.extract_slice %arg2[%[[E]], 0, 0] [1, 256, 32] [1, 1, 1] : tensor<8x256x32xi8> to tensor<256x32xi8>
// CHECK: %[[S1:.+]] = tensor.extract_slice %arg4[%[[E]], 0] [1, 256] [1, 1] : tensor<8x256xf32> to tensor<256xf32>
// CHECK: tensor.extract_slice %arg6[%[[E]], 0] [1, 128] [1, 1] : tensor<8x128xi8> to tensor<128xi8>
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %{{.+}}, %[[C1]], %{{.+}}, %{{.+}} : tensor<1x32xf32>, tensor<1x32xf32>, tensor<256x32xi8>, tensor<256x1xf32>, tensor<256x1xf32>) {{.+}} attrs = {sparsa.block_bytes = 32 : i64, sparsa.kernel = "q4_gemv"}
// CHECK: arith.negf
// CHECK: %[[C2:.+]] = tensor.extract_slice %arg3[%[[E]], 0, 0] [1, 64, 64] [1, 1, 1] : tensor<8x64x64xi8> to tensor<64x64xi8>
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %{{.+}}, %[[C2]], %{{.+}}, %{{.+}} : tensor<1x64xf32>, tensor<1x64xf32>, tensor<64x64xi8>, tensor<64x1xf32>, tensor<64x1xf32>) {{.+}} attrs = {sparsa.block_bytes = 64 : i64, sparsa.kernel = "q4_gemv"}
// CHECK-NOT: tensor<8x256x64xf32>
func.func @quantized_decode(%x: tensor<1x64xf32>, %r: tensor<1x8xf32>, %w1: tensor<8x256x32xui8>,
                            %w2: tensor<8x64x64xui8>, %s1: tensor<8x256xf32>, %s2: tensor<8x64xf32>,
                            %z1: tensor<8x128xui8>, %z2: tensor<8x32xui8>) -> tensor<1x64xf32> {
  %y = sparsa.moe %x, %r, %w1, %w2 w1_scales = %s1 w2_scales = %s2 w1_zero_points = %z1 w2_zero_points = %z2 {activation = "silu", gate_layout = 1 : i64, k = 2 : i64, weight_bits = 4 : i64} : (tensor<1x64xf32>, tensor<1x8xf32>, tensor<8x256x32xui8>, tensor<8x64x64xui8>, tensor<8x256xf32>, tensor<8x64xf32>, tensor<8x128xui8>, tensor<8x32xui8>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

/// A given routing: no gate scores and no ranks; each pair's expert is its
/// index, and a pair whose index is outside [0, E) goes to expert 0 with
/// weight 0, so the counting sort never leaves the expert count. Then the
/// same parallel decode over the k slots.
// CHECK-LABEL: func.func @given_decode
// CHECK-NOT: math.exp
// CHECK: %[[EXP:.+]] = linalg.generic {{.+}} ins(%arg4 : tensor<1x2xi64>) outs(%{{.+}} : tensor<1x2xindex>)
// CHECK: arith.index_cast
// CHECK: arith.cmpi sge
// CHECK: arith.cmpi slt
// CHECK: arith.select
// CHECK: %[[W:.+]] = linalg.generic {{.+}} ins(%arg1, %arg4 : tensor<1x2xf32>, tensor<1x2xi64>)
// CHECK: arith.select
// CHECK: scf.forall (%[[J:.+]]) in (2)
// CHECK: tensor.extract %[[EXP]][%c0, %[[J]]] : tensor<1x2xindex>
// CHECK: tensor.extract %[[W]][%c0, %[[J]]] : tensor<1x2xf32>
func.func @given_decode(%x: tensor<1x4xf32>, %w: tensor<1x2xf32>, %w1: tensor<4x4x8xf32>, %w2: tensor<4x8x4xf32>, %idx: tensor<1x2xi64>) -> tensor<1x4xf32> {
  %y = sparsa.moe %x, %w, %w1, %w2 expert_indices = %idx {k = 2 : i64, gating = "given"} : (tensor<1x4xf32>, tensor<1x2xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>, tensor<1x2xi64>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
