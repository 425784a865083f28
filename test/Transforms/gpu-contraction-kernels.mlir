// The register-tiled threads (GEMMs' shared-memory tiles: gpu-gemm-tiles.mlir).
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-contraction-kernels="shared-tiles=false" | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-contraction-kernels="width=2 max-rows=2 unroll=2" | FileCheck %s --check-prefix=SMALL

/// A split-K chunk of a decode GEMV (64 chunks of 32 rows, N = 1024) whose
/// partial sums are a fresh allocation filled with zeros: one thread per 4
/// outputs of a chunk (64 x 1 x 256 threads), 16-byte vector loads of the
/// weight rows, k in steps of 8, the fill folded into the accumulators.
// CHECK-LABEL: func.func @split_gemv
// CHECK-NOT: linalg.fill
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: scf.parallel (%[[S:.*]], %[[M:.*]], %[[N4:.*]]) = {{.*}} to (%[[C64]], %{{.*}}, %[[C256]])
// CHECK: %[[N:.*]] = arith.muli %[[N4]], %{{.*}} : index
// CHECK: %[[ZERO:.*]] = vector.broadcast %{{.*}} : f32 to vector<4xf32>
// CHECK: %[[SUM:.*]] = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %[[C8:.*]] iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (vector<4xf32>)
// CHECK: vector.load %[[W:.*]][%[[S]], %[[K]], %[[N]]] {alignment = 16 : i64} : memref<64x32x1024xf32>, vector<4xf32>
// CHECK: memref.load %{{.*}}[%{{.*}}, %[[S]], %[[K]]] : memref<1x64x32xf32>
// CHECK-COUNT-7: vector.load %[[W]]
// CHECK: arith.mulf %{{.*}} fastmath<contract> : vector<4xf32>
// CHECK-NEXT: arith.addf %[[ACC]], %{{.*}} fastmath<contract> : vector<4xf32>
// CHECK: vector.store %[[SUM]], %{{.*}}[%[[S]], %{{.*}}, %[[N]]] {alignment = 16 : i64}
// CHECK-NOT: linalg.generic
// SMALL-LABEL: func.func @split_gemv
// SMALL: scf.for {{.*}} step %{{.*}} iter_args(%{{.*}}) -> (vector<2xf32>)
// SMALL-COUNT-2: vector.load {{.*}} {alignment = 8 : i64} : memref<64x32x1024xf32>, vector<2xf32>
func.func @split_gemv(%x: memref<1x2048xf32>,
                      %w: memref<2048x1024xf32> {sparsa.weight_offset = 64 : i64})
    -> memref<64x1x1024xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %xe = memref.expand_shape %x [[0], [1, 2]] output_shape [1, 64, 32]
      : memref<1x2048xf32> into memref<1x64x32xf32>
  %we = memref.expand_shape %w [[0, 1], [2]] output_shape [64, 32, 1024]
      : memref<2048x1024xf32> into memref<64x32x1024xf32>
  %p = memref.alloc() {alignment = 64 : i64} : memref<64x1x1024xf32>
  linalg.fill ins(%cst : f32) outs(%p : memref<64x1x1024xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d1, d0, d3)>,
                                   affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>,
                                   affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%xe, %we : memref<1x64x32xf32>, memref<64x32x1024xf32>)
      outs(%p : memref<64x1x1024xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 fastmath<contract> : f32
    %1 = arith.addf %out, %0 fastmath<contract> : f32
    linalg.yield %1 : f32
  }
  return %p : memref<64x1x1024xf32>
}

// -----

/// Split-K's combining sum over the chunks (`out += in`, out filled with
/// zeros before the chunks' kernel, which does not touch it): vector
/// threads too, both fills folded, 8 chunks per step, and the bias add
/// that follows in place added before the store.
// CHECK-LABEL: func.func @split_combine
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel
// CHECK: scf.parallel (%[[M:.*]], %[[N4:.*]]) = {{.*}} to (%{{.*}}, %[[C256:.*]])
// CHECK: %[[N:.*]] = arith.muli %[[N4]]
// CHECK: %[[INIT:.*]] = vector.broadcast %{{.*}} : f32 to vector<4xf32>
// CHECK: scf.for %[[S:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (vector<4xf32>)
// CHECK: vector.load %[[P:.*]][%[[S]], %[[M]], %[[N]]] {alignment = 16 : i64} : memref<64x1x1024xf32>, vector<4xf32>
// CHECK-COUNT-7: vector.load %[[P]]
// CHECK: arith.addf %[[ACC]], %{{.*}} : vector<4xf32>
// CHECK: scf.yield
// CHECK: %[[BIAS:.*]] = vector.load %{{.*}}[%[[N]]] {alignment = 16 : i64} : memref<1024xf32>, vector<4xf32>
// CHECK: %[[Y:.*]] = arith.addf %{{.*}}, %[[BIAS]] : vector<4xf32>
// CHECK: vector.store %[[Y]], %{{.*}}[%[[M]], %[[N]]] {alignment = 16 : i64} : memref<1x1024xf32>, vector<4xf32>
// CHECK-NOT: linalg.
func.func @split_combine(%x: memref<1x2048xf32>,
                         %w: memref<2048x1024xf32> {sparsa.weight_offset = 64 : i64},
                         %b: memref<1024xf32> {sparsa.weight_offset = 8388672 : i64})
    -> memref<1x1024xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %o = memref.alloc() {alignment = 64 : i64} : memref<1x1024xf32>
  linalg.fill ins(%cst : f32) outs(%o : memref<1x1024xf32>)
  %xe = memref.expand_shape %x [[0], [1, 2]] output_shape [1, 64, 32]
      : memref<1x2048xf32> into memref<1x64x32xf32>
  %we = memref.expand_shape %w [[0, 1], [2]] output_shape [64, 32, 1024]
      : memref<2048x1024xf32> into memref<64x32x1024xf32>
  %p = memref.alloc() {alignment = 64 : i64} : memref<64x1x1024xf32>
  linalg.fill ins(%cst : f32) outs(%p : memref<64x1x1024xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d1, d0, d3)>,
                                   affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>,
                                   affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%xe, %we : memref<1x64x32xf32>, memref<64x32x1024xf32>)
      outs(%p : memref<64x1x1024xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d0, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%p : memref<64x1x1024xf32>) outs(%o : memref<1x1024xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d1)>,
                                   affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%o, %b : memref<1x1024xf32>, memref<1024xf32>) outs(%o : memref<1x1024xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.addf %in, %in_0 : f32
    linalg.yield %0 : f32
  }
  memref.dealloc %p : memref<64x1x1024xf32>
  return %o : memref<1x1024xf32>
}

// -----

/// A GEMM (64 x 256 x 128, weight operand first in the body): 8 rows of 4
/// outputs per thread (8 x 32 threads); each k loads one weight vector for
/// all 8 rows, one k per step (the rows' products fill the registers). The
/// output was read before (not only initialized): the
/// fill stays and the accumulators start from the output. The bias add
/// writes another buffer: it stays a separate op.
// CHECK-LABEL: func.func @gemm_rows
// CHECK: linalg.fill
// CHECK: memref.load %{{.*}} : memref<64x256xf32>
// CHECK: scf.parallel (%[[M8:.*]], %[[N4:.*]]) = {{.*}} to (%[[C8:.*]], %[[C32:.*]])
// CHECK: %[[M:.*]] = arith.muli %[[M8]], %{{.*}} : index
// CHECK-COUNT-8: vector.load %[[OUT:.*]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<64x128xf32>, vector<4xf32>
// CHECK: scf.for {{.*}} step %[[C1:.*]] iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: vector.load %{{.*}} : memref<256x128xf32>, vector<4xf32>
// CHECK-COUNT-8: memref.load %{{.*}} : memref<64x256xf32>
// CHECK-NOT: vector.load
// CHECK: scf.yield
// CHECK-COUNT-8: vector.store {{.*}} : memref<64x128xf32>, vector<4xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : memref<64x128xf32>)
// SMALL-LABEL: func.func @gemm_rows
// SMALL: scf.for {{.*}} -> (vector<2xf32>, vector<2xf32>)
func.func @gemm_rows(%a: memref<64x256xf32>,
                     %w: memref<256x128xf32> {sparsa.weight = dense<1.0> : tensor<256x128xf32>},
                     %bias: memref<128xf32> {sparsa.weight_offset = 0 : i64})
    -> (memref<64x128xf32>, f32) {
  %cst = arith.constant 0.000000e+00 : f32
  %c0 = arith.constant 0 : index
  %o = memref.alloc() {alignment = 64 : i64} : memref<64x128xf32>
  linalg.fill ins(%cst : f32) outs(%o : memref<64x128xf32>)
  %peek = memref.load %a[%c0, %c0] : memref<64x256xf32>
  memref.store %peek, %o[%c0, %c0] : memref<64x128xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%w, %a : memref<256x128xf32>, memref<64x256xf32>)
      outs(%o : memref<64x128xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %0, %out : f32
    linalg.yield %1 : f32
  }
  %y = memref.alloc() {alignment = 64 : i64} : memref<64x128xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d1)>,
                                   affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%o, %bias : memref<64x128xf32>, memref<128xf32>) outs(%y : memref<64x128xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.addf %in, %in_0 : f32
    linalg.yield %0 : f32
  }
  return %y, %peek : memref<64x128xf32>, f32
}

// -----

/// Left to the scalar loops: the weight is a model input (its alignment is
/// the caller's), N is not a multiple of 4, the element type is f16, the
/// body is not a multiply-add, and the output is a strided view.
// CHECK-LABEL: func.func @untouched
// CHECK-NOT: vector.
// CHECK-COUNT-5: linalg.generic
// CHECK-NOT: vector.
func.func @untouched(%x: memref<1x64xf32>, %in_w: memref<64x128xf32>,
                     %w6: memref<64x6xf32> {sparsa.weight_offset = 0 : i64},
                     %xh: memref<1x64xf16>,
                     %wh: memref<64x128xf16> {sparsa.weight_offset = 0 : i64},
                     %w: memref<64x128xf32> {sparsa.weight_offset = 0 : i64},
                     %big: memref<1x256xf32>) {
  %o1 = memref.alloc() {alignment = 64 : i64} : memref<1x128xf32>
  %o2 = memref.alloc() {alignment = 64 : i64} : memref<1x6xf32>
  %o3 = memref.alloc() {alignment = 64 : i64} : memref<1x128xf16>
  %o4 = memref.alloc() {alignment = 64 : i64} : memref<1x128xf32>
  %o5 = memref.subview %big[0, 1] [1, 128] [1, 1]
      : memref<1x256xf32> to memref<1x128xf32, strided<[256, 1], offset: 1>>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %in_w : memref<1x64xf32>, memref<64x128xf32>) outs(%o1 : memref<1x128xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %c, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w6 : memref<1x64xf32>, memref<64x6xf32>) outs(%o2 : memref<1x6xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %c, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xh, %wh : memref<1x64xf16>, memref<64x128xf16>) outs(%o3 : memref<1x128xf16>) {
  ^bb0(%a: f16, %b: f16, %c: f16):
    %0 = arith.mulf %a, %b : f16
    %1 = arith.addf %c, %0 : f16
    linalg.yield %1 : f16
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x64xf32>, memref<64x128xf32>) outs(%o4 : memref<1x128xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.maximumf %c, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x64xf32>, memref<64x128xf32>)
      outs(%o5 : memref<1x128xf32, strided<[256, 1], offset: 1>>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %0 = arith.mulf %a, %b : f32
    %1 = arith.addf %c, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

/// An 8-token GEMV (8 x 512 x 256): one thread holds all 8 rows, memory-
/// bound, so it takes 4 steps per iteration (4 x unroll / rows) where the
/// 64-row GEMM above takes 1.
// CHECK-LABEL: func.func @gemv_tokens
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = {{.*}} to (%[[C1:.*]], %[[C64:.*]])
// CHECK: scf.for {{.*}} step %[[C4:.*]] iter_args
// CHECK-COUNT-4: vector.load %{{.*}} : memref<512x256xf32>, vector<4xf32>
// CHECK-NOT: vector.load %{{.*}} : memref<512x256xf32>
// CHECK: scf.yield
func.func @gemv_tokens(%a: memref<8x512xf32>,
                       %w: memref<512x256xf32> {sparsa.weight_offset = 0 : i64})
    -> memref<8x256xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %o = memref.alloc() {alignment = 64 : i64} : memref<8x256xf32>
  linalg.fill ins(%cst : f32) outs(%o : memref<8x256xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<8x512xf32>, memref<512x256xf32>)
      outs(%o : memref<8x256xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %o : memref<8x256xf32>
}

// -----

/// Near misses of the combining sum, left to the scalar loops: a max, not a
/// sum; and a sum over the input's last (contiguous) dimension, so its n is
/// not contiguous in the input.
// CHECK-LABEL: func.func @negative_sums
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}} : memref<8x1x256xf32>) outs(%{{.*}} : memref<1x256xf32>)
// CHECK: arith.maximumf
// CHECK: linalg.generic
// CHECK-SAME: ins(%{{.*}} : memref<256x8xf32>) outs(%{{.*}} : memref<256xf32>)
// CHECK-NOT: vector.
func.func @negative_sums(%p: memref<8x1x256xf32>, %q: memref<256x8xf32>) {
  %o1 = memref.alloc() {alignment = 64 : i64} : memref<1x256xf32>
  %o2 = memref.alloc() {alignment = 64 : i64} : memref<256xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d2, d0, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%p : memref<8x1x256xf32>) outs(%o1 : memref<1x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.maximumf %in, %out : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%q : memref<256x8xf32>) outs(%o2 : memref<256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  }
  return
}
