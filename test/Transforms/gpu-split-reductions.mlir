// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-split-reductions="vector-width=1" | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-split-reductions | FileCheck %s --check-prefix=VEC
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-split-reductions="rows-per-chunk=0" | FileCheck %s --check-prefix=NOSPLIT

/// A decode GEMV (1 x 4096 outputs, K = 4096): split into 32 chunks of 128
/// (32 x 4096 = 131072 partial sums), then one combining reduction, its
/// reduction (over the chunks, d0 of the partial sums) interchanged to be
/// the innermost loop.
// CHECK-DAG: #[[COMBINE_IN:.*]] = affine_map<(d0, d1, d2) -> (d2, d0, d1)>
// CHECK-DAG: #[[COMBINE_OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @gemv
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [1, 32, 128]
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [32, 128, 4096]
// CHECK: %[[PART:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<32x1x4096xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[COMBINE_IN]], #[[COMBINE_OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}{{.*}} ins(%[[PART]] : tensor<32x1x4096xf32>)
/// With vector threads (the default), a thread computes 4 outputs: 1024
/// threads per chunk, so 128 chunks of 32.
// VEC-LABEL: func.func @gemv
// VEC: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [1, 128, 32]
// VEC: linalg.generic {{.*}}outs(%{{.*}} : tensor<128x1x4096xf32>)
func.func @gemv(%x: tensor<1x4096xf32>, %w: tensor<4096x4096xf32>) -> tensor<1x4096xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x4096xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4096xf32>) -> tensor<1x4096xf32>
  %r = linalg.matmul ins(%x, %w : tensor<1x4096xf32>, tensor<4096x4096xf32>)
                     outs(%c : tensor<1x4096xf32>) -> tensor<1x4096xf32>
  return %r : tensor<1x4096xf32>
}

// -----

/// Enough outputs already (a 512-row GEMM), a short reduction, or a
/// dynamic shape: untouched.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: tensor.expand_shape
// CHECK-COUNT-3: linalg.matmul
// CHECK-NOT: tensor.expand_shape
/// With vector threads, a thread of the GEMM computes 8 rows x 4 outputs:
/// 65536 threads, so its reduction is split in two; the others stay.
// VEC-LABEL: func.func @untouched
// VEC: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [512, 2, 2048]
// VEC: linalg.generic {{.*}}outs(%{{.*}} : tensor<2x512x4096xf32>)
// VEC-COUNT-2: linalg.matmul
// VEC-NOT: tensor.expand_shape
func.func @untouched(%a: tensor<512x4096xf32>, %w: tensor<4096x4096xf32>,
                     %b: tensor<1x64xf32>, %v: tensor<64x4096xf32>,
                     %d: tensor<1x?xf32>, %u: tensor<?x4096xf32>)
    -> (tensor<512x4096xf32>, tensor<1x4096xf32>, tensor<1x4096xf32>) {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<512x4096xf32>
  %c0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<512x4096xf32>) -> tensor<512x4096xf32>
  %r0 = linalg.matmul ins(%a, %w : tensor<512x4096xf32>, tensor<4096x4096xf32>)
                      outs(%c0 : tensor<512x4096xf32>) -> tensor<512x4096xf32>
  %e1 = tensor.empty() : tensor<1x4096xf32>
  %c1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x4096xf32>) -> tensor<1x4096xf32>
  %r1 = linalg.matmul ins(%b, %v : tensor<1x64xf32>, tensor<64x4096xf32>)
                      outs(%c1 : tensor<1x4096xf32>) -> tensor<1x4096xf32>
  %r2 = linalg.matmul ins(%d, %u : tensor<1x?xf32>, tensor<?x4096xf32>)
                      outs(%c1 : tensor<1x4096xf32>) -> tensor<1x4096xf32>
  return %r0, %r1, %r2 : tensor<512x4096xf32>, tensor<1x4096xf32>, tensor<1x4096xf32>
}

// -----

/// A packed 8-bit GEMV with few outputs (3 x 48, K = 512): its block scales
/// and zero points are indexed `(n, k floordiv 32)`, which upstream
/// splitReduction turns into invalid IR (it is not called); the packed
/// split makes 16 chunks of 32, the scales' and zero points' maps
/// rewritten to (n, c + kk floordiv 32).
#p_a = affine_map<(m, n, k) -> (m, k)>
#p_b = affine_map<(m, n, k) -> (n, k)>
#p_s = affine_map<(m, n, k) -> (n, k floordiv 32)>
#p_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-DAG: #[[PS:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2 + d3 floordiv 32)>
// CHECK-LABEL: func.func @packed_gemv_zero_points
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #[[PS]], #[[PS]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%{{.*}} : tensor<3x48x16xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<3x48xf32>)
// VEC-LABEL: func.func @packed_gemv_zero_points
// VEC: tensor.expand_shape
func.func @packed_gemv_zero_points(%a: tensor<3x512xf32>, %b: tensor<48x512xi8>, %s: tensor<48x16xf32>,
                                 %z: tensor<48x16xi8>) -> tensor<3x48xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x48xf32>
  %c = linalg.fill ins(%zero : f32) outs(%e : tensor<3x48xf32>) -> tensor<3x48xf32>
  %r = linalg.generic {indexing_maps = [#p_a, #p_b, #p_s, #p_s, #p_y],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %s, %z : tensor<3x512xf32>, tensor<48x512xi8>, tensor<48x16xf32>, tensor<48x16xi8>)
      outs(%c : tensor<3x48xf32>) {
  ^bb0(%x: f32, %q: i8, %sc: f32, %zp: i8, %acc: f32):
    %qi = arith.extui %q : i8 to i32
    %zi = arith.extui %zp : i8 to i32
    %qf = arith.uitofp %qi : i32 to f32
    %zf = arith.uitofp %zi : i32 to f32
    %d = arith.subf %qf, %zf : f32
    %w = arith.mulf %d, %sc : f32
    %p = arith.mulf %x, %w : f32
    %n = arith.addf %acc, %p : f32
    linalg.yield %n : f32
  } -> tensor<3x48xf32>
  return %r : tensor<3x48xf32>
}

// -----

/// A gathered axpy over a run-time list of rows (the sparse FFN's down
/// projection over its active neurons): the list is padded to chunks of
/// 32 rows, one partial sum per (chunk, column) skips the padded rows, and
/// a sum over the chunks adds them to the accumulator.
// CHECK-LABEL: func.func @row_list
// CHECK-SAME: (%[[A:.*]]: tensor<?xf32>, %[[ROWS:.*]]: tensor<?xindex>, %[[W:.*]]: tensor<4096x1024xf32>, %[[ACC:.*]]: tensor<1024xf32>)
// CHECK: %[[N:.*]] = tensor.dim %[[A]], %c0
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %[[N]], %c32
// CHECK: %[[PA:.*]] = tensor.pad %[[A]] low[0] high[%[[HIGH:.*]]]
// CHECK: %[[EA:.*]] = tensor.expand_shape %[[PA]] {{\[}}[0, 1]] output_shape [%[[CHUNKS]], 32] : tensor<?xf32> into tensor<?x32xf32>
// CHECK: %[[PR:.*]] = tensor.pad %[[ROWS]] low[0] high[%[[HIGH]]]
// CHECK: %[[ER:.*]] = tensor.expand_shape %[[PR]]
// CHECK: %[[PART:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[EA]], %[[ER]] : tensor<?x32xf32>, tensor<?x32xindex>) outs(%{{.*}} : tensor<?x1024xf32>)
// CHECK:   tensor.extract %[[W]]
// CHECK:   %[[ROW:.*]] = arith.addi
// CHECK:   %[[REAL:.*]] = arith.cmpi ult, %[[ROW]], %[[N]]
// CHECK:   arith.select %[[REAL]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[PART]] : tensor<?x1024xf32>) outs(%[[ACC]] : tensor<1024xf32>)
/// With rows-per-chunk=0 the list is left alone.
// VEC-LABEL: func.func @row_list
// VEC: tensor.pad
// NOSPLIT-LABEL: func.func @row_list
// NOSPLIT-NOT: tensor.pad
// NOSPLIT: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<?xf32>, tensor<?xindex>)
func.func @row_list(%a: tensor<?xf32>, %rows: tensor<?xindex>, %w: tensor<4096x1024xf32>,
                    %acc: tensor<1024xf32>) -> tensor<1024xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>,
                                        affine_map<(d0, d1) -> (d1)>],
                       iterator_types = ["reduction", "parallel"]}
      ins(%a, %rows : tensor<?xf32>, tensor<?xindex>) outs(%acc : tensor<1024xf32>) {
  ^bb0(%x: f32, %row: index, %o: f32):
    %c = linalg.index 1 : index
    %v = tensor.extract %w[%row, %c] : tensor<4096x1024xf32>
    %p = arith.mulf %x, %v : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }  -> tensor<1024xf32>
  return %r : tensor<1024xf32>
}

// -----

/// Near misses stay one thread per column: the body reads the row position
/// (linalg.index 0), the combiner is a maximum, an input is static.
// CHECK-LABEL: func.func @row_list_near_misses
// CHECK-NOT: tensor.pad
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT: tensor.pad
func.func @row_list_near_misses(%a: tensor<?xf32>, %s: tensor<64xf32>, %acc: tensor<1024xf32>)
    -> (tensor<1024xf32>, tensor<1024xf32>, tensor<1024xf32>) {
  %r0 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d1)>],
                        iterator_types = ["reduction", "parallel"]}
      ins(%a : tensor<?xf32>) outs(%acc : tensor<1024xf32>) {
  ^bb0(%x: f32, %o: f32):
    %j = linalg.index 0 : index
    %ji = arith.index_cast %j : index to i32
    %jf = arith.sitofp %ji : i32 to f32
    %p = arith.mulf %x, %jf : f32
    %t = arith.addf %o, %p : f32
    linalg.yield %t : f32
  }  -> tensor<1024xf32>
  %r1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d1)>],
                        iterator_types = ["reduction", "parallel"]}
      ins(%a : tensor<?xf32>) outs(%acc : tensor<1024xf32>) {
  ^bb0(%x: f32, %o: f32):
    %t = arith.maximumf %o, %x : f32
    linalg.yield %t : f32
  }  -> tensor<1024xf32>
  %r2 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d1)>],
                        iterator_types = ["reduction", "parallel"]}
      ins(%s : tensor<64xf32>) outs(%acc : tensor<1024xf32>) {
  ^bb0(%x: f32, %o: f32):
    %t = arith.addf %o, %x : f32
    linalg.yield %t : f32
  }  -> tensor<1024xf32>
  return %r0, %r1, %r2 : tensor<1024xf32>, tensor<1024xf32>, tensor<1024xf32>
}

// -----

/// A packed decode GEMV (8-bit codes [n, k], block scales indexed by
/// (n, k floordiv 32)), which upstream splitReduction declines: k becomes
/// c * 32 + kk in every map, x and the codes have k expanded to [16, 32],
/// the scales' map becomes (n, c + kk floordiv 32); the partial sums put the
/// chunk last (the codes are contiguous along k), then a sum per output.
// CHECK-LABEL: func.func @packed_gemv
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [1, 16, 32] : tensor<1x512xf32> into tensor<1x16x32xf32>
// CHECK: %[[Q:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [256, 16, 32] : tensor<256x512xi8> into tensor<256x16x32xi8>
// CHECK: %[[PART:.*]] = linalg.generic {indexing_maps = [#[[MX:.*]], #[[MQ:.*]], #[[MS:.*]], #[[MP:.*]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[X]], %[[Q]], %{{.*}} : tensor<1x16x32xf32>, tensor<256x16x32xi8>, tensor<256x16xf32>) outs(%{{.*}} : tensor<1x256x16xf32>)
// CHECK:   %[[C:.*]] = linalg.index 2 : index
// CHECK:   %[[CS:.*]] = arith.muli %[[C]], %c32
// CHECK:   %[[KK:.*]] = linalg.index 3 : index
// CHECK:   %[[K:.*]] = arith.addi %[[CS]], %[[KK]]
// CHECK:   arith.index_cast %[[K]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PART]] : tensor<1x256x16xf32>) outs(%{{.*}} : tensor<1x256xf32>)
// NOSPLIT-LABEL: func.func @packed_gemv
// NOSPLIT: tensor.expand_shape
func.func @packed_gemv(%x: tensor<1x512xf32>, %q: tensor<256x512xi8>, %s: tensor<256x16xf32>,
                       %acc: tensor<1x256xf32>) -> tensor<1x256xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                        affine_map<(d0, d1, d2) -> (d1, d2)>,
                                        affine_map<(d0, d1, d2) -> (d1, d2 floordiv 32)>,
                                        affine_map<(d0, d1, d2) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %q, %s : tensor<1x512xf32>, tensor<256x512xi8>, tensor<256x16xf32>)
      outs(%acc : tensor<1x256xf32>) {
  ^bb0(%xv: f32, %qv: i8, %sv: f32, %o: f32):
    %k = linalg.index 2 : index
    %ki = arith.index_cast %k : index to i32
    %bias = arith.sitofp %ki : i32 to f32
    %qi = arith.extsi %qv : i8 to i32
    %qf = arith.sitofp %qi : i32 to f32
    %w = arith.mulf %qf, %sv : f32
    %p = arith.mulf %xv, %w : f32
    %t = arith.addf %o, %p : f32
    %u = arith.addf %t, %bias : f32
    linalg.yield %u : f32
  }  -> tensor<1x256xf32>
  return %r : tensor<1x256xf32>
}

// -----

/// Near misses of the packed split: the output read twice (not a sum into
/// it), and a reduction of 256 (< min-reduction 512).
// CHECK-LABEL: func.func @packed_near_misses
// CHECK-NOT: tensor.expand_shape
// CHECK-COUNT-2: linalg.generic
// CHECK-NOT: tensor.expand_shape
func.func @packed_near_misses(%x: tensor<1x512xf32>, %q: tensor<256x512xi8>,
                              %s: tensor<256x16xf32>, %x2: tensor<1x256xf32>,
                              %q2: tensor<256x256xi8>, %acc: tensor<1x256xf32>)
    -> (tensor<1x256xf32>, tensor<1x256xf32>) {
  %r0 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                         affine_map<(d0, d1, d2) -> (d1, d2 floordiv 32)>,
                                         affine_map<(d0, d1, d2) -> (d0, d1)>],
                        iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %s : tensor<1x512xf32>, tensor<256x16xf32>) outs(%acc : tensor<1x256xf32>) {
  ^bb0(%xv: f32, %sv: f32, %o: f32):
    %p = arith.mulf %xv, %sv : f32
    %m = arith.mulf %o, %p : f32
    %t = arith.addf %o, %m : f32
    linalg.yield %t : f32
  }  -> tensor<1x256xf32>
  %r1 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                         affine_map<(d0, d1, d2) -> (d1, d2)>,
                                         affine_map<(d0, d1, d2) -> (d1, d2 floordiv 32)>,
                                         affine_map<(d0, d1, d2) -> (d0, d1)>],
                        iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x2, %q2, %s : tensor<1x256xf32>, tensor<256x256xi8>, tensor<256x16xf32>)
      outs(%acc : tensor<1x256xf32>) {
  ^bb0(%xv: f32, %qv: i8, %sv: f32, %o: f32):
    %qi = arith.extsi %qv : i8 to i32
    %qf = arith.sitofp %qi : i32 to f32
    %w = arith.mulf %qf, %sv : f32
    %p = arith.mulf %xv, %w : f32
    %t = arith.addf %o, %p : f32
    linalg.yield %t : f32
  }  -> tensor<1x256xf32>
  return %r0, %r1 : tensor<1x256xf32>, tensor<1x256xf32>
}

// -----

/// The lowering's gathered dot products (one per listed row, tagged
/// gather_dot): a run-time number of rows, each a static reduction over
/// 1024 columns of its weight row, split into 32 chunks of 32 (the chunk
/// the fastest thread index), then summed per row. The same op without
/// the tag (any dynamic-row contraction) is left alone.
// CHECK-LABEL: func.func @gathered_dot
// CHECK-SAME: (%[[X:.*]]: tensor<1024xf32>, %[[ROWS:.*]]: tensor<?xindex>, %[[W:.*]]: tensor<4096x1024xf32>, %[[START:.*]]: tensor<?xf32>)
// CHECK: %[[EX:.*]] = tensor.expand_shape %[[X]] {{\[}}[0, 1]] output_shape [32, 32]
// CHECK: %[[N:.*]] = tensor.dim %[[START]], %c0
// CHECK: %[[E:.*]] = tensor.empty(%[[N]]) : tensor<?x32xf32>
// CHECK: %[[PART:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[EX]], %[[ROWS]] : tensor<32x32xf32>, tensor<?xindex>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[PART]] : tensor<?x32xf32>) outs(%[[START]] : tensor<?xf32>)
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[X]], %[[ROWS]] : tensor<1024xf32>, tensor<?xindex>)
// CHECK-NOT: tensor.expand_shape
// NOSPLIT-LABEL: func.func @gathered_dot
// NOSPLIT: tensor.expand_shape
func.func @gathered_dot(%x: tensor<1024xf32>, %rows: tensor<?xindex>, %w: tensor<4096x1024xf32>,
                        %start: tensor<?xf32>) -> (tensor<?xf32>, tensor<?xf32>) {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0)>,
                                        affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x, %rows : tensor<1024xf32>, tensor<?xindex>) outs(%start : tensor<?xf32>)
      attrs = {sparsa.kernel = "gather_dot"} {
  ^bb0(%xv: f32, %row: index, %o: f32):
    %h = linalg.index 1 : index
    %v = tensor.extract %w[%row, %h] : tensor<4096x1024xf32>
    %p = arith.mulf %xv, %v : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %u = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0)>,
                                        affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x, %rows : tensor<1024xf32>, tensor<?xindex>) outs(%start : tensor<?xf32>) {
  ^bb0(%xv: f32, %row: index, %o: f32):
    %h = linalg.index 1 : index
    %v = tensor.extract %w[%row, %h] : tensor<4096x1024xf32>
    %p = arith.mulf %xv, %v : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %r, %u : tensor<?xf32>, tensor<?xf32>
}

// -----

/// The same gathered dot products with a static row count (an index set of
/// 300 given neurons, lowered for the GPU target in one block): plain maps
/// and static shapes, but the body reads the reduction's index (the weight
/// column), which upstream's split would leave pointing at the row loop.
/// Split here instead, the column rebuilt as chunk * 32 + step.
// CHECK-LABEL: func.func @gathered_dot_static
// CHECK: %[[EX:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1]] output_shape [32, 32]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[EX]], %{{.*}} : tensor<32x32xf32>, tensor<300xindex>) outs(%{{.*}} : tensor<300x32xf32>)
// CHECK: %[[C:.*]] = linalg.index 1 : index
// CHECK: %[[CS:.*]] = arith.muli %[[C]], %c32
// CHECK: %[[KK:.*]] = linalg.index 2 : index
// CHECK: %[[H:.*]] = arith.addi %[[CS]], %[[KK]]
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %[[H]]] : tensor<4096x1024xf32>
func.func @gathered_dot_static(%x: tensor<1024xf32>, %rows: tensor<300xindex>,
                               %w: tensor<4096x1024xf32>, %start: tensor<300xf32>) -> tensor<300xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0)>,
                                        affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x, %rows : tensor<1024xf32>, tensor<300xindex>) outs(%start : tensor<300xf32>)
      attrs = {sparsa.kernel = "gather_dot"} {
  ^bb0(%xv: f32, %row: index, %o: f32):
    %h = linalg.index 1 : index
    %v = tensor.extract %w[%row, %h] : tensor<4096x1024xf32>
    %p = arith.mulf %xv, %v : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<300xf32>
  return %r : tensor<300xf32>
}
