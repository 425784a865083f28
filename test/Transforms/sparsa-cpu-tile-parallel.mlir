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

// -----

/// [Pattern: split reduction for GEMV-shaped contractions]
/// IN:  [1, 1024] x [1024, 256]: one output row, a long reduction
/// OUT: k = (p, kk) with p parallel: the weight is viewed as [4, 256, 256]
///      row blocks, one scf.forall iteration per block writes its own
///      partial [1, 1, 256] (contiguous, no sharing), and a linalg.reduce
///      adds the 4 partials into the original accumulator.

// CHECK-LABEL: func.func @gemv_split_reduction
// CHECK-SAME: %[[X:.+]]: tensor<1x1024xf32>, %[[W:.+]]: tensor<1024x256xf32>
// CHECK-DAG: %[[XE:.+]] = tensor.expand_shape %[[X]] {{\[\[}}0], [1, 2]] output_shape [1, 4, 256]
// CHECK-DAG: %[[WE:.+]] = tensor.expand_shape %[[W]] {{\[\[}}0, 1], [2]] output_shape [4, 256, 256]
// CHECK: %[[P:.+]] = scf.forall (%[[I:.+]]) in (4) shared_outs(%{{.+}} = %{{.+}}) -> (tensor<4x1x256xf32>)
// CHECK: tensor.extract_slice %[[WE]][%[[I]], 0, 0] [1, 256, 256] [1, 1, 1]
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction", "parallel"]
// CHECK: tensor.parallel_insert_slice %{{.+}} into %{{.+}}[%[[I]], 0, 0] [1, 1, 256] [1, 1, 1]
// CHECK: linalg.reduce ins(%[[P]] : tensor<4x1x256xf32>) outs(%{{.+}} : tensor<1x256xf32>) dimensions = [0]
func.func @gemv_split_reduction(%x: tensor<1x1024xf32>, %w: tensor<1024x256xf32>) -> tensor<1x256xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<1x1024xf32>, tensor<1024x256xf32>) -> tensor<1x256xf32>
  return %0 : tensor<1x256xf32>
}

// -----

/// 64 output rows: not GEMV-shaped, so the columns are tiled instead.

// CHECK-LABEL: func.func @negative_gemm_not_split
// CHECK-NOT: linalg.reduce
// CHECK: scf.forall (%{{.+}}) = (0) to (256) step (64)
func.func @negative_gemm_not_split(%x: tensor<64x1024xf32>, %w: tensor<1024x256xf32>) -> tensor<64x256xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<64x1024xf32>, tensor<1024x256xf32>) -> tensor<64x256xf32>
  return %0 : tensor<64x256xf32>
}

// -----

/// A short reduction over long rows (a low-rank factor, [256, 8192]): 4
/// tasks of 2048 columns each read 8 KB runs of every row, so the columns
/// are tiled and no partials are made. (At 1024 rows and more, or with
/// under 4 KB of a row per task, the reduction is split as above.)

// CHECK-LABEL: func.func @gemv_short_reduction_tiles_columns
// CHECK-NOT: linalg.reduce
// CHECK: scf.forall (%{{.+}}) = (0) to (8192) step (2048)
// CHECK-NOT: linalg.reduce
// CHECK: return
func.func @gemv_short_reduction_tiles_columns(%x: tensor<1x256xf32>, %w: tensor<256x8192xf32>) -> tensor<1x8192xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<1x256xf32>, tensor<256x8192xf32>) -> tensor<1x8192xf32>
  return %0 : tensor<1x8192xf32>
}

// -----

/// The same short reduction over rows too short for 4 KB per task
/// ([256, 2048]: 2 KB) is split.

// CHECK-LABEL: func.func @gemv_short_reduction_short_rows_split
// CHECK: scf.forall (%{{.+}}) in (4)
// CHECK: linalg.reduce
func.func @gemv_short_reduction_short_rows_split(%x: tensor<1x256xf32>, %w: tensor<256x2048xf32>) -> tensor<1x2048xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<1x256xf32>, tensor<256x2048xf32>) -> tensor<1x2048xf32>
  return %0 : tensor<1x2048xf32>
}

// -----

/// A Gemm whose accumulator starts at the bias: the partials start at zero
/// and the merge adds them to the bias-initialised accumulator.

// CHECK-LABEL: func.func @gemv_split_reduction_keeps_bias
// CHECK: %[[INIT:.+]] = linalg.generic {{.+}} ins(%{{.+}} : tensor<256xf32>)
// CHECK: scf.forall
// CHECK: linalg.reduce ins(%{{.+}} : tensor<4x1x256xf32>) outs(%[[INIT]] : tensor<1x256xf32>)
func.func @gemv_split_reduction_keeps_bias(%x: tensor<1x1024xf32>, %w: tensor<1024x256xf32>, %b: tensor<256xf32>) -> tensor<1x256xf32> {
  %0 = onnx.Gemm %x, %w, %b : (tensor<1x1024xf32>, tensor<1024x256xf32>, tensor<256xf32>) -> tensor<1x256xf32>
  return %0 : tensor<1x256xf32>
}

// -----

/// Softmax's reductions read a row-broadcast operand (the row max) indexed
/// by the output's innermost dimension; that is no reason to move the
/// reduction out of the innermost loop (only an input streaming (k, n) rows,
/// like a matmul's B, is).
// CHECK-LABEL: func.func @negative_softmax_reduction_stays_innermost
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: iterator_types = ["parallel", "reduction", "parallel"]
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.+}}, %{{.+}} : tensor<{{.+}}x128xf32>, tensor<{{.+}}xf32>)
func.func @negative_softmax_reduction_stays_innermost(%x: tensor<8x64x128xf32>) -> tensor<8x64x128xf32> {
  %0 = onnx.Softmax %x {axis = -1 : si64} : (tensor<8x64x128xf32>) -> tensor<8x64x128xf32>
  return %0 : tensor<8x64x128xf32>
}

// -----

/// [Pattern: row cluster] a residual Add, LayerNormalization (mean, variance,
/// normalize) and a scale Mul read only the rows they write: one
/// scf.forall over blocks of rows runs the whole chain (threads meet once,
/// each block stays in its thread's cache), instead of one loop per op.
// CHECK-LABEL: func.func @row_cluster_layernorm
// CHECK: scf.forall (%[[T:.+]]) in (4)
// CHECK: %[[R0:.+]] = arith.muli %[[T]], %c16
// CHECK: tensor.extract_slice %arg0[%[[R0]], 0] [16, 128] [1, 1]
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<16x128xf32>, tensor<16x128xf32>)
// CHECK: iterator_types = ["parallel", "reduction"]
// CHECK: iterator_types = ["parallel", "reduction"]
// CHECK: tensor.parallel_insert_slice %{{.+}} into %{{.+}}[%[[R0]], 0] [16, 128] [1, 1]
// CHECK-NOT: scf.forall
func.func @row_cluster_layernorm(%x: tensor<64x128xf32>, %r: tensor<64x128xf32>) -> tensor<64x128xf32> {
  %g = onnx.Constant {value = dense<1.5> : tensor<128xf32>} : () -> tensor<128xf32>
  %b = onnx.Constant {value = dense<0.5> : tensor<128xf32>} : () -> tensor<128xf32>
  %a = onnx.Add %x, %r : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x128xf32>
  %n = onnx.LayerNormalization %a, %g, %b {axis = -1 : si64, epsilon = 1.0e-05 : f32} : (tensor<64x128xf32>, tensor<128xf32>, tensor<128xf32>) -> tensor<64x128xf32>
  %y = onnx.Mul %n, %g : (tensor<64x128xf32>, tensor<128xf32>) -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// -----

/// Rows that do not split evenly (66 rows, 4 tasks of 17: the last has 15):
/// the partial tile's sizes are computed in the loop body, before the
/// terminator, which holds only the parallel inserts.
// CHECK-LABEL: func.func @row_cluster_uneven
// CHECK: scf.forall (%{{.+}}) in (4)
// CHECK: arith.minui
// CHECK: scf.forall.in_parallel {
// CHECK-NEXT: tensor.parallel_insert_slice
// CHECK-NEXT: }
func.func @row_cluster_uneven(%x: tensor<66x128xf32>, %r: tensor<66x128xf32>) -> tensor<66x128xf32> {
  %g = onnx.Constant {value = dense<1.5> : tensor<128xf32>} : () -> tensor<128xf32>
  %a = onnx.Add %x, %r : (tensor<66x128xf32>, tensor<66x128xf32>) -> tensor<66x128xf32>
  %y = onnx.Mul %a, %g : (tensor<66x128xf32>, tensor<128xf32>) -> tensor<66x128xf32>
  %z = onnx.Softmax %y {axis = -1 : si64} : (tensor<66x128xf32>) -> tensor<66x128xf32>
  return %z : tensor<66x128xf32>
}

// -----

/// A member of a row cluster that reads its row index (a broadcast mask
/// built from linalg.index, a Trilu): inside the loop its row loop starts
/// at the block's first row, so the index read is shifted by the block's
/// offset (read unshifted, every block would see rows 0..15).
// CHECK-LABEL: func.func @row_cluster_shifts_row_index
// CHECK: scf.forall (%[[T:.+]]) in (4)
// CHECK: %[[R0:.+]] = arith.muli %[[T]], %c16
// CHECK: linalg.generic
// CHECK: %[[I:.+]] = linalg.index 0 : index
// CHECK: %[[ROW:.+]] = arith.addi %[[I]], %[[R0]] : index
// CHECK: arith.index_cast %[[ROW]] : index to i32
// CHECK: linalg.generic
// CHECK: tensor.parallel_insert_slice
func.func @row_cluster_shifts_row_index(%x: tensor<64x128xf32>) -> tensor<64x128xf32> {
  %e = tensor.empty() : tensor<64x128xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x128xf32>) outs(%e : tensor<64x128xf32>) {
  ^bb0(%v: f32, %o: f32):
    %i = linalg.index 0 : index
    %c = arith.index_cast %i : index to i32
    %f = arith.sitofp %c : i32 to f32
    %s = arith.addf %v, %f : f32
    linalg.yield %s : f32
  } -> tensor<64x128xf32>
  %y = onnx.Mul %a, %x : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// -----

/// A row cluster closes where something else (a matmul, which reads all of
/// B for any row) reads one of its values: the Add and Mul before it form
/// one loop, the matmul and the Add after it are tiled on their own.
// CHECK-LABEL: func.func @row_cluster_closes_at_matmul
// CHECK: scf.forall (%{{.+}}) in (4)
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<16x128xf32>, tensor<16x128xf32>)
// CHECK: linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<16x128xf32>, tensor<16x128xf32>)
// CHECK: tensor.parallel_insert_slice
// CHECK: scf.forall
// CHECK: iterator_types = ["parallel", "reduction", "parallel"]
// CHECK: scf.forall
// CHECK: iterator_types = ["parallel", "parallel"]
func.func @row_cluster_closes_at_matmul(%x: tensor<64x128xf32>, %y: tensor<64x128xf32>) -> tensor<64x128xf32> {
  %w = onnx.Constant {value = dense<0.5> : tensor<128x128xf32>} : () -> tensor<128x128xf32>
  %a = onnx.Add %x, %y : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x128xf32>
  %b = onnx.Mul %a, %x : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x128xf32>
  %m = onnx.MatMul %b, %w : (tensor<64x128xf32>, tensor<128x128xf32>) -> tensor<64x128xf32>
  %c = onnx.Add %m, %b : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x128xf32>
  return %c : tensor<64x128xf32>
}

// -----

/// [Pattern: split-K of a body that reads its loop indices]
/// IN:  a gathered axpy over 300 listed rows (static: an index set) into 256
///      columns, its body reading the column with linalg.index; and a dense
///      one reading its row too
/// OUT: split into 4 blocks of 75 rows as any GEMV, the new loops being
///      (p, j, c): the column is now loop 2 and the row p * 75 + loop 1
///      (read unchanged, each would name the wrong loop)
// CHECK-LABEL: func.func @split_reads_indices
// CHECK: scf.forall (%[[P:.+]]) in (4)
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.+}}, %{{.+}} : tensor<1x75xf32>, tensor<1x75xindex>)
// CHECK: %[[COL:.+]] = linalg.index 2 : index
// CHECK: tensor.extract %{{.+}}[%{{.+}}, %[[COL]]] : tensor<1024x256xf32>
// CHECK: scf.forall (%[[Q:.+]]) in (4)
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.+}} : tensor<1x75xf32>)
// CHECK: %[[STEP:.+]] = linalg.index 1 : index
// CHECK: %[[BLK:.+]] = linalg.index 0 : index
// CHECK: %[[P2:.+]] = affine.apply #{{.+}}(%[[Q]])[%[[BLK]]]
// CHECK: %[[BASE:.+]] = arith.muli %[[P2]], %c75
// CHECK: %[[ROW:.+]] = arith.addi %[[BASE]], %[[STEP]]
// CHECK: %[[COL2:.+]] = linalg.index 2 : index
// CHECK: tensor.extract %{{.+}}[%[[ROW]], %[[COL2]]] : tensor<300x256xf32>
func.func @split_reads_indices(%a: tensor<300xf32>, %rows: tensor<300xindex>,
                               %w: tensor<1024x256xf32>, %d: tensor<300x256xf32>,
                               %acc: tensor<256xf32>) -> (tensor<256xf32>, tensor<256xf32>) {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>,
                                        affine_map<(d0, d1) -> (d1)>],
                       iterator_types = ["reduction", "parallel"]}
      ins(%a, %rows : tensor<300xf32>, tensor<300xindex>) outs(%acc : tensor<256xf32>) {
  ^bb0(%av: f32, %row: index, %o: f32):
    %c = linalg.index 1 : index
    %v = tensor.extract %w[%row, %c] : tensor<1024x256xf32>
    %p = arith.mulf %av, %v : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<256xf32>
  %u = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d1)>],
                       iterator_types = ["reduction", "parallel"]}
      ins(%a : tensor<300xf32>) outs(%acc : tensor<256xf32>) {
  ^bb0(%av: f32, %o: f32):
    %j = linalg.index 0 : index
    %c = linalg.index 1 : index
    %v = tensor.extract %d[%j, %c] : tensor<300x256xf32>
    %p = arith.mulf %av, %v : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<256xf32>
  return %r, %u : tensor<256xf32>, tensor<256xf32>
}
