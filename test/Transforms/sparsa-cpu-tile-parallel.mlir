// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --sparsa-cpu-tile-parallel="tasks=4 min-work=1024" | FileCheck %s

/// [Pattern: contraction loop order + thread tiling]
/// IN:  matmul generic (m, n, k) on [1, 64] x [64, 256]
/// OUT: loops interchanged to (m, k, n) so the inner loop streams a weight
///      row, and n tiled into an scf.forall of 4 tiles of 64.

// CHECK-DAG: #[[A:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[B:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[C:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @gemv_interchange_and_tile
// CHECK: scf.forall (%[[IV:.+]]) = (0) to (256) step (64)
// CHECK: linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK-SAME: tensor<64x64xf32>
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice
func.func @gemv_interchange_and_tile(%x: tensor<1x64xf32>, %w: tensor<64x256xf32>) -> tensor<1x256xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<1x64xf32>, tensor<64x256xf32>) -> tensor<1x256xf32>
  return %0 : tensor<1x256xf32>
}

// -----

/// Too little work to pay for a fork: left untiled (but still reordered).

// CHECK-LABEL: func.func @negative_small_matmul_not_tiled
// CHECK-NOT: scf.forall
// CHECK: iterator_types = ["parallel", "reduction", "parallel"]
func.func @negative_small_matmul_not_tiled(%x: tensor<1x8xf32>, %w: tensor<8x16xf32>) -> tensor<1x16xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<1x8xf32>, tensor<8x16xf32>) -> tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}

// -----

/// Element-wise ops have no reduction to move; the largest static parallel
/// dimension (2048, not 4) is the one split across threads.

// CHECK-LABEL: func.func @elementwise_tiled_on_largest_dim
// CHECK: scf.forall (%{{.+}}) = (0) to (2048) step (512)
// CHECK: arith.maximumf
func.func @elementwise_tiled_on_largest_dim(%x: tensor<4x2048xf32>) -> tensor<4x2048xf32> {
  %0 = onnx.Relu %x : (tensor<4x2048xf32>) -> tensor<4x2048xf32>
  return %0 : tensor<4x2048xf32>
}
