// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --canonicalize --cse | FileCheck %s

/// Causal Flow-Attention: one task per (batch, head); the feature maps as
/// element-wise generics; every prefix sum in ONE sequential sweep over the
/// positions with the four D-wide running sums as vectors (reassociated
/// dot products), giving the per-position query scale and competition;
/// then the chunked scan: per block of 64 positions the masked scores
/// q_c k_c^T [64, 64], q_c S + scores v_c, and S += k_c^T v_c. Nothing
/// [L, L] or [L, D, Dv] exists. The loop carries the state, the head's
/// output (a slice of the result, written in place) and the chunk's scores.
// CHECK-LABEL: func.func @flow_causal
// CHECK-NOT: tensor<128x128xf32>
// CHECK: scf.forall (%{{.+}}) in (2)
// CHECK: scf.for %{{.+}} = %c0 to %c128 step %c1 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, f32, tensor<128xf32>, tensor<128xf32>)
// CHECK-COUNT-2: vector.transfer_read
// CHECK-COUNT-4: vector.reduction <add>, %{{.+}} fastmath<reassoc>
// CHECK: math.exp
// CHECK: scf.for %{{.+}} = %c0 to %c128 step %c64 iter_args({{.*}}) -> (tensor<16x8xf32>, tensor<128x8xf32>, tensor<64x64xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.+}}, %{{.+}} : tensor<64x16xf32>, tensor<16x64xf32>) outs(%{{.+}} : tensor<64x64xf32>)
// CHECK: arith.cmpi ule
// CHECK: ins(%{{.+}}, %{{.+}} : tensor<64x16xf32>, tensor<16x8xf32>) outs(%{{.+}} : tensor<64x8xf32>)
// CHECK: ins(%{{.+}}, %{{.+}} : tensor<64x64xf32>, tensor<64x8xf32>) outs(%{{.+}} : tensor<64x8xf32>)
// CHECK: ins(%{{.+}}, %{{.+}} : tensor<16x64xf32>, tensor<64x8xf32>) outs(%{{.+}} : tensor<16x8xf32>)
// CHECK-NOT: tensor<128x128xf32>
func.func @flow_causal(%q: tensor<1x2x128x16xf32>, %k: tensor<1x2x128x16xf32>, %v: tensor<1x2x128x8xf32>) -> tensor<1x2x128x8xf32> {
  %o = sparsa.flow_attention %q, %k, %v {causal} : (tensor<1x2x128x16xf32>, tensor<1x2x128x16xf32>, tensor<1x2x128x8xf32>) -> tensor<1x2x128x8xf32>
  return %o : tensor<1x2x128x8xf32>
}

// -----

/// Non-causal: the state K'^T (V C) [D, Dv] is one GEMM over the keys, the
/// output one GEMM of the scaled queries with it; the flows are row
/// reductions and column sums; no scan, nothing [L, S].
// CHECK-LABEL: func.func @flow_noncausal
// CHECK-NOT: tensor<100x90xf32>
// CHECK: scf.forall
// CHECK-NOT: scf.for
// CHECK: ins(%{{.+}}, %{{.+}} : tensor<90x16xf32>, tensor<90x8xf32>) outs(%{{.+}} : tensor<16x8xf32>)
// CHECK: ins(%{{.+}}, %{{.+}} : tensor<100x16xf32>, tensor<16x8xf32>) outs(%{{.+}} : tensor<100x8xf32>)
// CHECK-NOT: tensor<100x90xf32>
func.func @flow_noncausal(%q: tensor<3x100x16xf32>, %k: tensor<3x90x16xf32>, %v: tensor<3x90x8xf32>) -> tensor<3x100x8xf32> {
  %o = sparsa.flow_attention %q, %k, %v : (tensor<3x100x16xf32>, tensor<3x90x16xf32>, tensor<3x90x8xf32>) -> tensor<3x100x8xf32>
  return %o : tensor<3x100x8xf32>
}

// -----

/// Causal linear attention with a normalizer, dynamic length: the chunk
/// loop takes min(64, L - c0) positions; the denominator is one sweep with
/// the running key sum.
// CHECK-LABEL: func.func @linear_causal_dynamic
// CHECK: scf.forall
// CHECK: scf.for {{.*}} step %c64
// CHECK: arith.minui
// CHECK: scf.for {{.*}} step %c1 {{.*}} -> (vector<32xf32>, tensor<?xf32>)
// CHECK: vector.reduction <add>
func.func @linear_causal_dynamic(%q: tensor<?x4x?x32xf32>, %k: tensor<?x4x?x32xf32>, %v: tensor<?x4x?x32xf32>) -> tensor<?x4x?x32xf32> {
  %o = sparsa.linear_attention %q, %k, %v {causal, normalize, feature_map = "elu1", eps = 1.0e-6 : f64} : (tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>, tensor<?x4x?x32xf32>) -> tensor<?x4x?x32xf32>
  return %o : tensor<?x4x?x32xf32>
}

// -----

/// ONNX LinearAttention, linear rule, on packed [B, T, H * d]: the
/// recurrence, one task per (kv head, block of 32 state columns): two heads
/// of one batch are too few tasks, so the 64 value columns split in two.
/// The task's state tile [16, 32] starts as a copy of its past_state
/// columns, in place in present_state; the output is built as [B, T, Hq,
/// dv], the task's tile [T, 2 query heads, 32 columns]. Per step one pass
/// over the 16 state rows adds k_d v, writes the row and accumulates both
/// query heads' q_d S[d]; then both are scaled (1 / sqrt(16)) and written.
// CHECK-LABEL: func.func @onnx_linear_attention
// CHECK-DAG: %[[SCALE:.+]] = arith.constant dense<2.500000e-01> : vector<32xf32>
// CHECK: scf.forall (%[[H:.+]], %[[C:.+]]) in (2, 2) shared_outs(%[[Y:.+]] = %{{.+}}, %[[S:.+]] = %{{.+}}) -> (tensor<1x16x4x64xf32>, tensor<1x2x16x64xf32>)
// CHECK: %[[C0:.+]] = arith.muli %[[C]], %c32
// CHECK: %[[S0:.+]] = tensor.extract_slice %[[S]][0, %[[H]], 0, %[[C0]]] [1, 1, 16, 32]
// CHECK: %[[P:.+]] = tensor.extract_slice %arg3[0, %[[H]], 0, %[[C0]]] [1, 1, 16, 32]
// CHECK: linalg.copy ins(%[[P]] : tensor<16x32xf32>) outs(%[[S0]] : tensor<16x32xf32>)
// CHECK: tensor.extract_slice %[[Y]][0, 0, %{{.+}}, %[[C0]]] [1, 16, 2, 32] [1, 1, 1, 1] : tensor<1x16x4x64xf32> to tensor<16x2x32xf32>
// CHECK: scf.for %[[T:.+]] = %{{.+}} to %c16 step %{{.+}} iter_args({{.*}}) -> (tensor<16x32xf32>, tensor<16x2x32xf32>)
// CHECK: vector.transfer_read %arg2[%c0, %[[T]], %{{.+}}]{{.*}} : tensor<1x16x128xf32>, vector<32xf32>
// CHECK: scf.for {{.*}} -> (tensor<16x32xf32>, vector<32xf32>, vector<32xf32>)
// CHECK-NOT: math.exp
// CHECK: vector.fma
// CHECK: vector.transfer_write
// CHECK: vector.fma
// CHECK: vector.fma
// CHECK: arith.mulf %{{.+}}, %[[SCALE]]
// CHECK: vector.transfer_write {{.*}} : vector<32xf32>, tensor<16x2x32xf32>
// CHECK: tensor.parallel_insert_slice %{{.+}} into %[[Y]][0, 0, %{{.+}}, %[[C0]]] [1, 16, 2, 32]
// CHECK: tensor.parallel_insert_slice %{{.+}} into %[[S]][0, %[[H]], 0, %[[C0]]] [1, 1, 16, 32]
// CHECK: tensor.collapse_shape %{{.+}} {{\[}}[0], [1], [2, 3]] : tensor<1x16x4x64xf32> into tensor<1x16x256xf32>
func.func @onnx_linear_attention(%q: tensor<1x16x64xf32>, %k: tensor<1x16x32xf32>, %v: tensor<1x16x128xf32>, %s: tensor<1x2x16x64xf32>) -> (tensor<1x16x256xf32>, tensor<1x2x16x64xf32>) {
  %y, %st = onnx.LinearAttention %q, %k, %v past = %s {q_num_heads = 4 : si64, kv_num_heads = 2 : si64} : (tensor<1x16x64xf32>, tensor<1x16x32xf32>, tensor<1x16x128xf32>, tensor<1x2x16x64xf32>) -> (tensor<1x16x256xf32>, tensor<1x2x16x64xf32>)
  return %y, %st : tensor<1x16x256xf32>, tensor<1x2x16x64xf32>
}

// -----

/// ONNX LinearAttention, gated_delta rule (one decay per head, one beta for
/// all heads): the recurrence itself, one task per (batch, kv head) whose
/// [8, 8] state lives in its present_state tile (zero-filled: no past) and
/// whose output tile is [T, 2 query heads, 8] of the [B, T, Hq, dv]
/// result. Per step: the head's decay exp(g); a read-only pass over the state rows accumulates
/// the retrieval r = (exp(g) S)^T k; u = beta (v - r); one pass decays each
/// row again, adds k_d u, writes it, and accumulates both query heads'
/// q_d S[d]; both outputs are scaled (1 / sqrt(8)) and written at the step.
// CHECK-LABEL: func.func @onnx_gated_delta
// CHECK-DAG: %[[SCALE:.+]] = arith.constant dense<0.353553385> : vector<8xf32>
// CHECK: scf.forall (%[[B:.+]], %[[H:.+]]) in (2, 2) shared_outs(%[[Y:.+]] = %{{.+}}, %[[S:.+]] = %{{.+}}) -> (tensor<2x?x4x8xf32>, tensor<2x2x8x8xf32>)
// CHECK: %[[S0:.+]] = tensor.extract_slice %[[S]][%[[B]], %[[H]], 0, 0] [1, 1, 8, 8]
// CHECK: linalg.fill {{.*}} outs(%[[S0]] : tensor<8x8xf32>)
// CHECK: tensor.extract_slice %[[Y]][%[[B]], 0, %{{.+}}, 0] [1, %{{.+}}, 2, 8] [1, 1, 1, 1] : tensor<2x?x4x8xf32> to tensor<?x2x8xf32>
// CHECK: scf.for %[[T:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) -> (tensor<8x8xf32>, tensor<?x2x8xf32>)
// CHECK: %[[G:.+]] = tensor.extract %arg3[%[[B]], %[[T]], %[[H]]]
// CHECK: math.exp %[[G]]
// CHECK: scf.for {{.*}} -> (vector<8xf32>)
// CHECK-NOT: vector.transfer_write
// CHECK: vector.fma
// CHECK: tensor.extract %arg4[%[[B]], %[[T]], %c0]
// CHECK: arith.subf
// CHECK: scf.for {{.*}} -> (tensor<8x8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: arith.mulf
// CHECK: vector.fma
// CHECK: vector.transfer_write
// CHECK: vector.fma
// CHECK: vector.fma
// CHECK: arith.mulf %{{.+}}, %[[SCALE]]
// CHECK: vector.transfer_write
// CHECK: arith.mulf %{{.+}}, %[[SCALE]]
// CHECK: vector.transfer_write
// CHECK: tensor.parallel_insert_slice %{{.+}} into %[[Y]]
// CHECK: tensor.parallel_insert_slice %{{.+}} into %[[S]]
// CHECK: tensor.collapse_shape
func.func @onnx_gated_delta(%q: tensor<2x?x32xf32>, %k: tensor<2x?x16xf32>, %v: tensor<2x?x16xf32>, %g: tensor<2x?x2xf32>, %b: tensor<2x?x1xf32>) -> (tensor<2x?x32xf32>, tensor<2x2x8x8xf32>) {
  %y, %st = onnx.LinearAttention %q, %k, %v decay = %g beta = %b {q_num_heads = 4 : si64, kv_num_heads = 2 : si64, update_rule = "gated_delta"} : (tensor<2x?x32xf32>, tensor<2x?x16xf32>, tensor<2x?x16xf32>, tensor<2x?x2xf32>, tensor<2x?x1xf32>) -> (tensor<2x?x32xf32>, tensor<2x2x8x8xf32>)
  return %y, %st : tensor<2x?x32xf32>, tensor<2x2x8x8xf32>
}
