// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg | FileCheck %s

/// [Pattern: MatMul with numpy broadcasting]
/// IN:  onnx.MatMul on [?, 8] x [8, 4]
/// OUT: zero fill + one contraction generic (m, n, k), the batch size taken
///      from the input with tensor.dim.

// CHECK-DAG: #[[A:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[B:.+]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[C:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @matmul_dynamic_batch
// CHECK-SAME: %[[X:.+]]: tensor<?x8xf32>, %[[W:.+]]: tensor<8x4xf32>
// CHECK: %[[N:.+]] = tensor.dim %[[X]], %{{.+}} : tensor<?x8xf32>
// CHECK: %[[E:.+]] = tensor.empty(%[[N]]) : tensor<?x4xf32>
// CHECK: %[[F:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[E]] : tensor<?x4xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]], %[[W]] : tensor<?x8xf32>, tensor<8x4xf32>) outs(%[[F]] : tensor<?x4xf32>)
// CHECK: arith.mulf %{{.+}}, %{{.+}} fastmath<contract> : f32
// CHECK: arith.addf %{{.+}}, %{{.+}} fastmath<contract> : f32
func.func @matmul_dynamic_batch(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>) -> tensor<?x4xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<?x8xf32>, tensor<8x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// -----

/// Batched 3-D input times a 2-D weight (how torch exports Linear on
/// [batch, seq, hidden]): the weight map drops the batch loop.

// CHECK-DAG: #[[B3:.+]] = affine_map<(d0, d1, d2, d3) -> (d3, d2)>
// CHECK-LABEL: func.func @matmul_batched_rhs_broadcast
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[B3]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
func.func @matmul_batched_rhs_broadcast(%x: tensor<2x3x8xf32>, %w: tensor<8x4xf32>) -> tensor<2x3x4xf32> {
  %0 = onnx.MatMul %x, %w : (tensor<2x3x8xf32>, tensor<8x4xf32>) -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

/// [Pattern: Gemm]
/// IN:  Gemm(A, B, C) with transA = 1, transB = 1, alpha, beta
/// OUT: accumulator initialised with beta * broadcast(C), then one
///      contraction whose maps transpose A and B (no data movement).

// CHECK-DAG: #[[CB:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[AT:.+]] = affine_map<(d0, d1, d2) -> (d2, d0)>
// CHECK-DAG: #[[BT:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func.func @gemm_trans_alpha_beta
// CHECK-SAME: %[[A:.+]]: tensor<8x2xf32>, %[[B:.+]]: tensor<4x8xf32>, %[[CV:.+]]: tensor<4xf32>
// CHECK: %[[INIT:.+]] = linalg.generic {indexing_maps = [#[[CB]], #[[ID]]]
// CHECK-SAME: ins(%[[CV]] : tensor<4xf32>)
// CHECK: arith.mulf %{{.+}}, %{{.+}} : f32
// CHECK: linalg.generic {indexing_maps = [#[[AT]], #[[BT]], #{{.+}}]
// CHECK-SAME: ins(%[[A]], %[[B]] : tensor<8x2xf32>, tensor<4x8xf32>) outs(%[[INIT]] : tensor<2x4xf32>)
func.func @gemm_trans_alpha_beta(%a: tensor<8x2xf32>, %b: tensor<4x8xf32>, %c: tensor<4xf32>) -> tensor<2x4xf32> {
  %0 = onnx.Gemm %a, %b, %c {alpha = 2.0 : f32, beta = 0.5 : f32, transA = 1 : si64, transB = 1 : si64} : (tensor<8x2xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

/// [Pattern: element-wise with broadcasting]
/// A static size-1 dimension reads index 0; a missing leading dimension is
/// dropped from the map.

// CHECK-DAG: #[[LHS:.+]] = affine_map<(d0, d1) -> (d0, 0)>
// CHECK-DAG: #[[RHS:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func.func @add_broadcast
// CHECK: linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #{{.+}}], iterator_types = ["parallel", "parallel"]}
// CHECK: arith.addf
func.func @add_broadcast(%a: tensor<3x1xf32>, %b: tensor<4xf32>) -> tensor<3x4xf32> {
  %0 = onnx.Add %a, %b : (tensor<3x1xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// CHECK-LABEL: func.func @binary_int
// CHECK: arith.subi
// CHECK: arith.divsi
// CHECK: arith.muli
func.func @binary_int(%a: tensor<4xi64>, %b: tensor<4xi64>) -> tensor<4xi64> {
  %0 = onnx.Sub %a, %b : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %1 = onnx.Div %0, %b : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  %2 = onnx.Mul %1, %b : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  return %2 : tensor<4xi64>
}

// -----

// CHECK-LABEL: func.func @activations
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: math.tanh
func.func @activations(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = onnx.Relu %x : (tensor<4xf32>) -> tensor<4xf32>
  %1 = onnx.Sigmoid %0 : (tensor<4xf32>) -> tensor<4xf32>
  %2 = onnx.Tanh %1 : (tensor<4xf32>) -> tensor<4xf32>
  return %2 : tensor<4xf32>
}

// -----

/// [Pattern: Softmax]
/// Three passes: max-reduce; sum of exp(x - max) reading x and the max
/// directly; exp(x - max) * (1 / sum), the reciprocal taken once per row.
/// The reductions run over the softmax axis only and may be reordered
/// (reassoc), so they vectorize.

// CHECK-LABEL: func.func @softmax_axis0
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<4xf32>)
// CHECK: linalg.generic {{.+}} iterator_types = ["reduction", "parallel"]
// CHECK: arith.maximumf {{.+}} fastmath<reassoc,contract>
// CHECK: linalg.generic {{.+}} iterator_types = ["reduction", "parallel"]} ins(%{{.+}}, %{{.+}} : tensor<2x4xf32>, tensor<4xf32>)
// CHECK: arith.subf
// CHECK-NEXT: math.exp
// CHECK-NEXT: arith.addf {{.+}} fastmath<reassoc,contract>
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel"]
// CHECK: arith.divf
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]
// CHECK: arith.subf
// CHECK-NEXT: math.exp
// CHECK-NEXT: arith.mulf
func.func @softmax_axis0(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = onnx.Softmax %x {axis = 0 : si64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func.func @cast_f32_to_i64_and_back
// CHECK: arith.fptosi %{{.+}} : f32 to i64
// CHECK: arith.sitofp %{{.+}} : i64 to f16
func.func @cast_f32_to_i64_and_back(%x: tensor<4xf32>) -> tensor<4xf16> {
  %0 = onnx.Cast %x {to = 7 : si64} : (tensor<4xf32>) -> tensor<4xi64>
  %1 = onnx.Cast %0 {to = 10 : si64} : (tensor<4xi64>) -> tensor<4xf16>
  return %1 : tensor<4xf16>
}

// -----

/// Reshape with 0 (copy a dimension) and -1 (infer): the shape vector is
/// computed from the input's sizes at run time.

// CHECK-LABEL: func.func @reshape_zero_and_infer
// CHECK-SAME: %[[X:.+]]: tensor<?x4x6xf32>
// CHECK: %[[D0:.+]] = tensor.dim %[[X]], %{{.+}}
// CHECK: %[[S:.+]] = tensor.from_elements %{{.+}}, %{{.+}} : tensor<2xi64>
// CHECK: tensor.reshape %[[X]](%[[S]]) : (tensor<?x4x6xf32>, tensor<2xi64>) -> tensor<?x24xf32>
func.func @reshape_zero_and_infer(%x: tensor<?x4x6xf32>) -> tensor<?x24xf32> {
  %s = onnx.Constant {value = dense<[0, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %0 = onnx.Reshape %x, %s : (tensor<?x4x6xf32>, tensor<2xi64>) -> tensor<?x24xf32>
  return %0 : tensor<?x24xf32>
}

// -----

// CHECK-LABEL: func.func @transpose
// CHECK: linalg.transpose ins(%{{.+}} : tensor<2x3x4xf32>) outs(%{{.+}} : tensor<4x2x3xf32>) permutation = [2, 0, 1]
func.func @transpose(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %0 = onnx.Transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  return %0 : tensor<4x2x3xf32>
}

// -----

// CHECK-LABEL: func.func @unsqueeze_squeeze
// CHECK: tensor.expand_shape %{{.+}} {{\[\[}}0, 1], [2, 3]] output_shape [1, %{{.+}}, 8, 1] : tensor<?x8xf32> into tensor<1x?x8x1xf32>
// CHECK: tensor.collapse_shape %{{.+}} {{\[\[}}0, 1], [2, 3]] : tensor<1x?x8x1xf32> into tensor<?x8xf32>
func.func @unsqueeze_squeeze(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %a = onnx.Constant {value = dense<[0, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %0 = onnx.Unsqueeze %x, %a : (tensor<?x8xf32>, tensor<2xi64>) -> tensor<1x?x8x1xf32>
  %1 = onnx.Squeeze %0, %a : (tensor<1x?x8x1xf32>, tensor<2xi64>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// -----

/// [Pattern: Concat]
/// tensor.empty of the summed size, one insert_slice per input.

// CHECK-LABEL: func.func @concat
// CHECK-SAME: %[[A:.+]]: tensor<2x3xf32>, %[[B:.+]]: tensor<2x5xf32>
// CHECK: %[[E:.+]] = tensor.empty() : tensor<2x8xf32>
// CHECK: %[[I0:.+]] = tensor.insert_slice %[[A]] into %[[E]][0, 0] [2, 3] [1, 1]
// CHECK: tensor.insert_slice %[[B]] into %[[I0]][0, 3] [2, 5] [1, 1]
func.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>) -> tensor<2x8xf32> {
  %0 = onnx.Concat %a, %b {axis = -1 : si64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

/// An empty piece adds nothing (inserted at the end, an insert_slice at
/// offset 2 of a 2-long dim would not verify).
// CHECK-LABEL: func.func @concat_empty_piece
// CHECK: %[[I:.+]] = tensor.insert_slice %arg0 into %{{.+}}[0] [2] [1]
// CHECK-NOT: tensor.insert_slice
// CHECK: return %[[I]]
func.func @concat_empty_piece(%a: tensor<2xi64>, %e: tensor<0xi64>) -> tensor<2xi64> {
  %0 = onnx.Concat %a, %e {axis = 0 : si64} : (tensor<2xi64>, tensor<0xi64>) -> tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

// CHECK-LABEL: func.func @constant_and_identity
// CHECK: %[[C:.+]] = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
// CHECK: return %[[C]]
func.func @constant_and_identity() -> tensor<2xf32> {
  %0 = onnx.Constant {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %1 = onnx.Identity %0 : (tensor<2xf32>) -> tensor<2xf32>
  return %1 : tensor<2xf32>
}

// -----

/// [Pattern: run-time axes] ReduceSum whose axes are an input: the axes
/// become a bitmask (negative axes wrapped, out-of-range ones a bit no case
/// has) and an scf.index_switch picks the reduction for each possible set;
/// with keepdims and one axis value, the sets {0} and {1}.

// CHECK-LABEL: func.func @reduce_runtime_axes
// CHECK: tensor.extract %{{.+}} : tensor<1xi64>
// CHECK: arith.shli
// CHECK: %[[MASK:.+]] = arith.ori
// CHECK: scf.index_switch %[[MASK]] -> tensor<?x?xf32>
// CHECK: case 1 {
// CHECK: linalg.generic {{.+}} iterator_types = ["reduction", "parallel"]
// CHECK: case 2 {
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "reduction"]
// CHECK: default {
func.func @reduce_runtime_axes(%x: tensor<2x3xf32>, %a: tensor<1xi64>) -> tensor<?x?xf32> {
  %0 = onnx.ReduceSum %x, %a : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

/// [Pattern: broadcasting of dims typed ? that are 1 only at run time]
/// Each operand whose dynamic dim may be 1 where the output's is not is
/// stretched first (an scf.if: the operand itself when its dims already
/// match, else an index-clamping copy); the op stays one generic.
// CHECK-LABEL: func.func @runtime_broadcast
// CHECK: arith.maxui
// CHECK: %[[A:.+]] = scf.if %{{.+}} -> (tensor<?x4x?x16xf32>) {
// CHECK-NEXT: scf.yield %arg0
// CHECK: } else {
// CHECK: tensor.extract %arg0
// CHECK: %[[B:.+]] = scf.if %{{.+}} -> (tensor<?x1x?x16xf32>) {
// CHECK: linalg.generic {{.*}} ins(%[[A]], %[[B]] : tensor<?x4x?x16xf32>, tensor<?x1x?x16xf32>)
func.func @runtime_broadcast(%x: tensor<?x4x?x16xf32>, %t: tensor<?x1x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %0 = onnx.Mul %x, %t : (tensor<?x4x?x16xf32>, tensor<?x1x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %0 : tensor<?x4x?x16xf32>
}

// -----

/// [Pattern: Trilu] keep [.., i, j] with j - i <= k (lower), else zero.
// CHECK-LABEL: func.func @trilu_lower
// CHECK: linalg.generic
// CHECK: arith.subi
// CHECK: arith.cmpi sle
// CHECK: arith.select
func.func @trilu_lower(%x: tensor<2x5x5xf32>) -> tensor<2x5x5xf32> {
  %0 = onnx.Trilu %x {upper = 0 : si64} : (tensor<2x5x5xf32>) -> tensor<2x5x5xf32>
  return %0 : tensor<2x5x5xf32>
}
