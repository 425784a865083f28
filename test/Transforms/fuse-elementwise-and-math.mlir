// RUN: sparsa-opt %s --split-input-file --sparsa-fuse-elementwise | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-math-approximation | FileCheck %s --check-prefix=MATH

#id = affine_map<(i, j) -> (i, j)>
#mA = affine_map<(m, n, k) -> (m, k)>
#mB = affine_map<(m, n, k) -> (k, n)>
#mC = affine_map<(m, n, k) -> (m, n)>

/// A ReLU feeding a matmul stays a separate loop (fused, it would run once
/// per output column); the ReLU -> exp chain after the matmul becomes one.
// CHECK-LABEL: func.func @relu_matmul_exp
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-NOT: arith.maximumf
// CHECK: linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]
// CHECK: arith.maximumf
// CHECK-NEXT: math.exp
// CHECK-NOT: linalg.generic
// MATH-LABEL: func.func @relu_matmul_exp
// MATH-NOT: math.exp
func.func @relu_matmul_exp(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e0 : tensor<4x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %e1 = tensor.empty() : tensor<4x16xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.generic {indexing_maps = [#mA, #mB, #mC], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%r, %w : tensor<4x8xf32>, tensor<8x16xf32>) outs(%f : tensor<4x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %e2 = tensor.empty() : tensor<4x16xf32>
  %r2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm : tensor<4x16xf32>) outs(%e2 : tensor<4x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x16xf32>
  %e3 = tensor.empty() : tensor<4x16xf32>
  %ex = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%r2 : tensor<4x16xf32>) outs(%e3 : tensor<4x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = math.exp %a : f32
    linalg.yield %m : f32
  } -> tensor<4x16xf32>
  return %ex : tensor<4x16xf32>
}

// -----

/// A producer with two consumers stays separate (fused, it would be computed
/// twice); f64 transcendental ops keep their libm lowering.
// CHECK-LABEL: func.func @negative_multi_use_producer
// CHECK: linalg.generic
// CHECK: math.exp
// CHECK: linalg.generic
// CHECK-NOT: math.exp
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK-NOT: math.exp
// CHECK: arith.mulf
// MATH-LABEL: func.func @negative_multi_use_producer
// MATH: math.exp {{.+}} : f64
func.func @negative_multi_use_producer(%x: tensor<4xf64>) -> (tensor<4xf64>, tensor<4xf64>) {
  %e0 = tensor.empty() : tensor<4xf64>
  %e = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf64>) outs(%e0 : tensor<4xf64>) {
  ^bb0(%a: f64, %o: f64):
    %m = math.exp %a : f64
    linalg.yield %m : f64
  } -> tensor<4xf64>
  %e1 = tensor.empty() : tensor<4xf64>
  %s = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%e : tensor<4xf64>) outs(%e1 : tensor<4xf64>) {
  ^bb0(%a: f64, %o: f64):
    %m = arith.addf %a, %a : f64
    linalg.yield %m : f64
  } -> tensor<4xf64>
  %e2 = tensor.empty() : tensor<4xf64>
  %p = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%e : tensor<4xf64>) outs(%e2 : tensor<4xf64>) {
  ^bb0(%a: f64, %o: f64):
    %m = arith.mulf %a, %a : f64
    linalg.yield %m : f64
  } -> tensor<4xf64>
  return %s, %p : tensor<4xf64>, tensor<4xf64>
}
