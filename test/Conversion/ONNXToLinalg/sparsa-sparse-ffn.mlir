// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --canonicalize --cse | FileCheck %s

/// One token, ReLU-gated GLU: the dense gate, one pass listing the active
/// neurons (h > 0, NaN included), the linear part as one contiguous dot
/// product per active row of `up` (row chunks in parallel), then the column
/// blocks in parallel, each a loop of axpys over the active rows of w2 only.
/// Past 60 % active neurons the dense computation runs instead.
// CHECK-LABEL: func.func @decode_glu
// CHECK: linalg.generic {{.+}} ins(%arg0, %arg1 : tensor<1x600xf32>, tensor<600x32xf32>)
// CHECK: %[[SCAN:.+]]:2 = scf.for %{{.+}} = %c0 to %c32 step %c1 iter_args({{.+}}) -> (tensor<32xindex>, index)
// CHECK: arith.cmpf ugt
// CHECK: scf.if
// CHECK: %[[ACTIVE:.+]] = tensor.extract_slice %[[SCAN]]#0[0] [%[[SCAN]]#1] [1] : tensor<32xindex> to tensor<?xindex>
// CHECK: %[[FEW:.+]] = arith.cmpi ule
// CHECK: scf.if %[[FEW]]
// CHECK: scf.forall (%{{.+}}) in (2) shared_outs
// CHECK: tensor.extract_slice %arg3[%{{.+}}, 0] [1, 600] [1, 1] : tensor<32x600xf32> to tensor<1x600xf32>
// CHECK: iterator_types = ["parallel", "reduction"]} ins(%arg0, %{{.+}} : tensor<1x600xf32>, tensor<1x600xf32>)
// CHECK: scf.forall (%{{.+}}) in (2) shared_outs
// CHECK: scf.for %{{.+}} = %c0 to %[[SCAN]]#1 step %c1
// CHECK: tensor.extract_slice %arg2[%{{.+}}, %{{.+}}] [1, %{{.+}}] [1, 1] : tensor<32x600xf32> to tensor<1x?xf32>
// CHECK: tensor.parallel_insert_slice
// CHECK: } else {
// CHECK: ins(%{{.+}}, %arg2 : tensor<1x32xf32>, tensor<32x600xf32>)
func.func @decode_glu(%x: tensor<1x600xf32>, %w1: tensor<600x32xf32>, %w2: tensor<32x600xf32>, %up: tensor<32x600xf32>) -> tensor<1x600xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 up = %up : (tensor<1x600xf32>, tensor<600x32xf32>, tensor<32x600xf32>, tensor<32x600xf32>) -> tensor<1x600xf32>
  return %y : tensor<1x600xf32>
}

// -----

/// Several tokens: the dense computation, with the threshold as a select.
// CHECK-LABEL: func.func @tokens_threshold
// CHECK-NOT: scf.forall
// CHECK: arith.cmpf ogt, %{{.+}}, %cst
// CHECK: arith.select
// CHECK: ins(%{{.+}}, %arg2 : tensor<?x32xf32>, tensor<32x16xf32>)
func.func @tokens_threshold(%x: tensor<?x16xf32>, %w1: tensor<16x32xf32>, %w2: tensor<32x16xf32>) -> tensor<?x16xf32> {
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "threshold", threshold = 0.5 : f64} : (tensor<?x16xf32>, tensor<16x32xf32>, tensor<32x16xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
