// RUN: sparsa-opt %s --sparsa-fuse-elementwise | FileCheck %s

/// A generic tagged for a dedicated kernel keeps its operands: the splat
/// constant scales of a per-tensor quantized weight are not folded into
/// its body (that would rebuild it without `sparsa.kernel`).
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#s = affine_map<(m, n, k) -> (n, k floordiv 16)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @tagged
// CHECK: %[[S:.+]] = arith.constant dense<5.000000e-01> : tensor<4x2xf32>
// CHECK: linalg.generic {{.+}} ins(%arg0, %arg1, %[[S]] : {{.+}}) {{.+}} attrs = {sparsa.block_bytes = 16 : i64, sparsa.kernel = "q8_gemv", sparsa.zero_point = 1.280000e+02 : f32}
func.func @tagged(%x: tensor<1x32xf32>, %w: tensor<4x32xi8>) -> tensor<1x4xf32> {
  %s = arith.constant dense<0.5> : tensor<4x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4xf32>) -> tensor<1x4xf32>
  %y = linalg.generic {indexing_maps = [#a, #b, #s, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %s : tensor<1x32xf32>, tensor<4x32xi8>, tensor<4x2xf32>) outs(%init : tensor<1x4xf32>)
      attrs = {sparsa.kernel = "q8_gemv", sparsa.block_bytes = 16 : i64, sparsa.zero_point = 128.0 : f32} {
  ^bb0(%a: f32, %byte: i8, %sc: f32, %acc: f32):
    %z = arith.constant 128.0 : f32
    %q = arith.extui %byte : i8 to i32
    %qf = arith.uitofp %q : i32 to f32
    %d = arith.subf %qf, %z : f32
    %w2 = arith.mulf %d, %sc : f32
    %p = arith.mulf %a, %w2 : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  } -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
