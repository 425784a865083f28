// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --canonicalize --cse | FileCheck %s

/// Many query rows: one task per (head, block of 64 rows). Once per call:
/// per mask row, the first and last key it keeps and the first and last it
/// does not add 0 to (min / max over key positions), and the mask times
/// log2 e (clamped to -FLT_MAX unless -inf). Per block: its keys [lo, hi)
/// (all of them where a row keeps none); the scaled query block transposed
/// in 16 x 16 register tiles (shuffles); the scores kept transposed,
/// S^T [hi - lo, rows] = K[lo:hi] Q^T (K read in place); the mask added in
/// place on its non-zero keys; max runs down the columns; one pass takes
/// 2^x (a polynomial, exactly 0 below 2^-126) in place and sums it down the
/// columns; O = P V[lo:hi] reads P through the transposed map, then is
/// divided by the sums and written to its slice of the output.
// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[MASK:.+]] = affine_map<(d0, d1) -> (0, d0)>
// CHECK-DAG: #[[COL:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[PT:.+]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-LABEL: func.func @prefill
// CHECK: %[[POS:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<96xf32>)
// CHECK: linalg.index 0
// CHECK: %[[LO:.+]] = linalg.generic {{.+}} ins(%arg3, %[[POS]] : tensor<1x1x1x96xf32>, tensor<96xf32>) outs(%{{.+}} : tensor<1x1x1xf32>)
// CHECK: arith.cmpf ugt
// CHECK: arith.minimumf
// CHECK: %[[HI:.+]] = linalg.generic {{.+}} ins(%arg3, %[[POS]]
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.+}} ins(%arg3, %[[POS]]
// CHECK: arith.cmpf une
// CHECK: linalg.generic {{.+}} ins(%arg3, %[[POS]]
// CHECK: %[[M2:.+]] = linalg.generic {{.+}} ins(%arg3 : tensor<1x1x1x96xf32>)
// CHECK: arith.maximumf
// CHECK: scf.forall (%[[H:.+]], %[[BLK:.+]]) in (2, 2) shared_outs(%[[OUT:.+]] = %{{.+}}) -> (tensor<2x128x32xf32>)
// CHECK: %[[R0:.+]] = arith.muli %[[BLK]], %c64
// CHECK: tensor.extract %[[LO]][%c0, %c0, %c0]
// CHECK: %[[KLO:.+]] = arith.select %{{.+}}, %c0, %{{.+}} : index
// CHECK: %[[KHI0:.+]] = arith.select %{{.+}}, %c96, %{{.+}} : index
// CHECK: %[[KHI:.+]] = arith.maxui %[[KHI0]], %[[KLO]] : index
// CHECK: %[[KLEN:.+]] = arith.subi %[[KHI]], %[[KLO]] : index
// CHECK: %[[Q:.+]] = tensor.extract_slice %{{.+}}[%[[H]], %[[R0]], 0] [1, 64, 64] [1, 1, 1] : tensor<2x128x64xf32> to tensor<64x64xf32>
// CHECK: %[[K:.+]] = tensor.extract_slice %{{.+}}[%[[H]], %[[KLO]], 0] [1, %[[KLEN]], 64] [1, 1, 1] : tensor<2x96x64xf32> to tensor<?x64xf32>
// CHECK: %[[V:.+]] = tensor.extract_slice %{{.+}}[%[[H]], %[[KLO]], 0] [1, %[[KLEN]], 32] [1, 1, 1] : tensor<2x96x32xf32> to tensor<?x32xf32>
// CHECK: %[[QT:.+]] = scf.for
// CHECK: vector.transfer_read %[[Q]]
// CHECK-COUNT-64: vector.shuffle
// CHECK: %[[ST:.+]] = linalg.generic {{.+}} ins(%[[K]], %[[QT]] : tensor<?x64xf32>, tensor<64x64xf32>) outs(%{{.+}} : tensor<?x64xf32>)
// CHECK: %[[MS:.+]] = tensor.extract_slice %[[M2]]
// CHECK: %[[SW:.+]] = tensor.extract_slice %[[ST]]
// CHECK: linalg.generic {indexing_maps = [#[[MASK]], #[[ID]]], {{.+}} ins(%[[MS]] : tensor<1x?xf32>) outs(%[[SW]] : tensor<?x64xf32>)
// CHECK: %[[S:.+]] = tensor.insert_slice
// CHECK: %[[MX:.+]] = linalg.generic {indexing_maps = [#[[ID]], #[[COL]]], iterator_types = ["reduction", "parallel"]} ins(%[[S]]
// CHECK: arith.maximumf
// CHECK: %[[P:.+]]:2 = linalg.generic {indexing_maps = [#[[COL]], #[[ID]], #[[COL]]], iterator_types = ["reduction", "parallel"]} ins(%[[MX]] : tensor<64xf32>) outs(%[[S]], %{{.+}} : tensor<?x64xf32>, tensor<64xf32>)
// CHECK: arith.addf %{{.+}}, %cst
// CHECK-COUNT-6: math.fma
// CHECK: arith.shli
// CHECK: arith.select
// CHECK: linalg.yield
// CHECK: %[[O:.+]] = linalg.generic {indexing_maps = [#[[PT]], {{.+}}], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P]]#0, %[[V]] : tensor<?x64xf32>, tensor<?x32xf32>)
// CHECK: %[[N:.+]] = linalg.generic {{.+}} ins(%[[P]]#1 : tensor<64xf32>) outs(%[[O]] : tensor<64x32xf32>)
// CHECK: arith.divf
// CHECK: tensor.parallel_insert_slice %[[N]] into %[[OUT]][%[[H]], %[[R0]], 0] [1, 64, 32]
// CHECK: tensor.expand_shape {{.+}} output_shape [1, 2, 128, 32]
func.func @prefill(%q: tensor<1x2x128x64xf32>, %k: tensor<1x2x96x64xf32>, %v: tensor<1x2x96x32xf32>, %m: tensor<1x1x1x96xf32>) -> tensor<1x2x128x32xf32> {
  %o = sparsa.attention %q, %k, %v mask = %m {scale = 0.125 : f64} : (tensor<1x2x128x64xf32>, tensor<1x2x96x64xf32>, tensor<1x2x96x32xf32>, tensor<1x1x1x96xf32>) -> tensor<1x2x128x32xf32>
  return %o : tensor<1x2x128x32xf32>
}

// -----

/// Decoding (one query row): scores [1, Lk] as dot products of the query
/// with K's rows (reduction over d innermost), softmax along the row.
// CHECK-LABEL: func.func @decode
// CHECK: scf.forall (%{{.+}}) in (8)
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.+}}, %{{.+}} : tensor<1x64xf32>, tensor<300x64xf32>) outs(%{{.+}} : tensor<1x300xf32>)
// CHECK: iterator_types = ["parallel", "reduction"]} ins(%{{.+}} : tensor<1x300xf32>) outs(%{{.+}} : tensor<1xf32>)
// CHECK: arith.maximumf
func.func @decode(%q: tensor<8x1x64xf32>, %k: tensor<8x300x64xf32>, %v: tensor<8x300x64xf32>) -> tensor<8x1x64xf32> {
  %o = sparsa.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<8x1x64xf32>, tensor<8x300x64xf32>, tensor<8x300x64xf32>) -> tensor<8x1x64xf32>
  return %o : tensor<8x1x64xf32>
}

// -----

/// Dynamic lengths: blocks of at most 64 rows (the last one partial), the
/// transposed layout.
// CHECK-LABEL: func.func @dynamic
// CHECK: %[[BLOCKS:.+]] = arith.ceildivui %{{.+}}, %c64
// CHECK: scf.forall (%{{.+}}, %{{.+}}) in (%{{.+}}, %[[BLOCKS]])
// CHECK: arith.minui %{{.+}}, %c64
// CHECK: tensor.extract_slice {{.+}} to tensor<?x16xf32>
func.func @dynamic(%q: tensor<?x?x16xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %o = sparsa.attention %q, %k, %v : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x?x16xf32>
  return %o : tensor<?x?x16xf32>
}

// -----

/// Sinks: each (batch, head) tile reads its sink (the broadcast batch dim
/// at index 0), in base 2 as the scores are; the row max starts from it
/// and the row sum from 2^(sink - max).
// CHECK-LABEL: func.func @sinks_decode
// CHECK: scf.forall (%[[BH:.+]]) in (4)
// CHECK: %[[HEAD:.+]] = arith.remui %[[BH]], %c4
// CHECK: %[[SINK:.+]] = tensor.extract %arg3[%c0, %[[HEAD]]] : tensor<1x4xf32>
// CHECK: %[[SINK2:.+]] = arith.mulf %[[SINK]], %{{.+}} : f32
// CHECK: %[[MX0:.+]] = linalg.fill ins(%[[SINK2]] : f32)
// CHECK: %[[MX:.+]] = linalg.generic {{.+}} outs(%[[MX0]] : tensor<1xf32>)
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.+}} ins(%[[MX]] : tensor<1xf32>)
// CHECK: arith.subf %[[SINK2]], %{{.+}} : f32
func.func @sinks_decode(%q: tensor<1x4x1x16xf32>, %k: tensor<1x4x9x16xf32>, %v: tensor<1x4x9x8xf32>, %s: tensor<1x4xf32>) -> tensor<1x4x1x8xf32> {
  %o = sparsa.attention %q, %k, %v sinks = %s {scale = 0.25 : f64} : (tensor<1x4x1x16xf32>, tensor<1x4x9x16xf32>, tensor<1x4x9x8xf32>, tensor<1x4xf32>) -> tensor<1x4x1x8xf32>
  return %o : tensor<1x4x1x8xf32>
}

// -----

/// A causal mask [1, 1, Lq, Lk] (rows not broadcast): per block, the key
/// range is the union over its rows (a loop over the block's rows of the
/// per-row ranges), and the mask, read [rows, keys], is added to the
/// transposed scores on its non-zero keys only, 16 x 16 tiles transposed
/// in registers rather than read with a gather per element.
// CHECK-LABEL: func.func @causal_blocks
// CHECK: scf.forall
// CHECK: %[[RANGE:.+]]:5 = scf.for %{{.+}} = %[[R0:.+]] to %{{.+}} step %c1 iter_args
// CHECK: arith.minimumf
// CHECK: arith.maximumf
// CHECK: arith.ori
// CHECK: tensor.extract_slice {{.+}} to tensor<?x64xf32>
// CHECK: %[[MS:.+]] = tensor.extract_slice %{{.+}}[0, 0, %[[R0]], %{{.+}}] [1, 1, 64, %{{.+}}] [1, 1, 1, 1] : tensor<1x1x128x128xf32> to tensor<64x?xf32>
// CHECK: scf.for
// CHECK: vector.transfer_read %[[MS]]
// CHECK-COUNT-64: vector.shuffle
// CHECK: vector.fma
// CHECK: linalg.generic {{.+}} ins(%{{.+}} : tensor<64x?xf32>) outs(%{{.+}} : tensor<?x64xf32>)
// CHECK: math.fma
func.func @causal_blocks(%q: tensor<1x2x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<1x1x128x128xf32>) -> tensor<1x2x128x64xf32> {
  %o = sparsa.attention %q, %k, %v mask = %m {scale = 0.125 : f64} : (tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x1x128x128xf32>) -> tensor<1x2x128x64xf32>
  return %o : tensor<1x2x128x64xf32>
}

// -----

/// Grouped-query attention: 4 query heads over 2 kv heads. Each task's
/// key / value row is its batch times the kv heads plus its query head
/// halved (clamped into the kv heads), read from K and V as they are.
// CHECK-LABEL: func.func @grouped_query
// CHECK: scf.forall (%[[T:.+]]) in (8)
// CHECK: %[[HEAD:.+]] = arith.remui %[[T]], %c4
// CHECK: %[[KVH:.+]] = arith.divui %[[HEAD]], %c2
// CHECK: %[[KVH1:.+]] = arith.minui %[[KVH]], %c1
// CHECK: %[[ROW:.+]] = arith.addi %{{.+}}, %[[KVH1]]
// CHECK: tensor.extract_slice %{{.+}}[%[[T]], 0, 0] [1, 1, 16] [1, 1, 1] : tensor<8x1x16xf32> to tensor<1x16xf32>
// CHECK: tensor.extract_slice %{{.+}}[%[[ROW]], 0, 0] [1, 40, 16] [1, 1, 1] : tensor<4x40x16xf32> to tensor<40x16xf32>
// CHECK: tensor.extract_slice %{{.+}}[%[[ROW]], 0, 0] [1, 40, 8] [1, 1, 1] : tensor<4x40x8xf32> to tensor<40x8xf32>
func.func @grouped_query(%q: tensor<2x4x1x16xf32>, %k: tensor<2x2x40x16xf32>, %v: tensor<2x2x40x8xf32>) -> tensor<2x4x1x8xf32> {
  %o = sparsa.attention %q, %k, %v {scale = 0.25 : f64} : (tensor<2x4x1x16xf32>, tensor<2x2x40x16xf32>, tensor<2x2x40x8xf32>) -> tensor<2x4x1x8xf32>
  return %o : tensor<2x4x1x8xf32>
}
