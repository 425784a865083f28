// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-form-row-kernels | FileCheck %s --check-prefix=FORM
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-row-kernels-to-launches | FileCheck %s --check-prefix=LAUNCH
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-lower-all-reduce | FileCheck %s --check-prefix=LOWER

/// Softmax as the shared lowering writes it (max, sum of exp, the map):
/// the map is tiled by rows, the reductions and fills are fused into the
/// tile, the matmul feeding the softmax is not.
// FORM-LABEL: func.func @softmax
// FORM:       %[[MM:.*]] = linalg.matmul
// FORM:       scf.forall (%[[R:.*]]) in (4)
// FORM:         tensor.extract_slice %[[MM]][%[[R]], 0] [1, 1000]
// FORM:         linalg.fill
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// FORM:         arith.maximumf
// FORM:         linalg.fill
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// FORM:         math.exp
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// FORM:       } {mapping = [#gpu.block<linear_dim_0>]}
// FORM-NOT:   linalg.generic
// FORM:       return
func.func @softmax(%a: tensor<4x64xf32>, %w: tensor<64x1000xf32>) -> tensor<4x1000xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %e2 = tensor.empty() : tensor<4x1000xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x1000xf32>) -> tensor<4x1000xf32>
  %x = linalg.matmul ins(%a, %w : tensor<4x64xf32>, tensor<64x1000xf32>) outs(%z2 : tensor<4x1000xf32>) -> tensor<4x1000xf32>
  %e = tensor.empty() : tensor<4xf32>
  %m0 = linalg.fill ins(%ninf : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %m = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x1000xf32>) outs(%m0 : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %out, %in : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %s0 = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x, %m : tensor<4x1000xf32>, tensor<4xf32>) outs(%s0 : tensor<4xf32>) {
  ^bb0(%in: f32, %mx: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    %ex = math.exp %d : f32
    %r = arith.addf %out, %ex : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %m, %s : tensor<4x1000xf32>, tensor<4xf32>, tensor<4xf32>) outs(%e2 : tensor<4x1000xf32>) {
  ^bb0(%in: f32, %mx: f32, %sm: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    %ex = math.exp %d : f32
    %q = arith.divf %ex, %sm : f32
    linalg.yield %q : f32
  } -> tensor<4x1000xf32>
  return %y : tensor<4x1000xf32>
}

// -----

/// A per-row operand that no reduction makes (a bias per row) is a plain
/// broadcast: nothing to share, nothing tiled.
// FORM-LABEL: func.func @row_bias
// FORM-NOT:   scf.forall
// FORM:       linalg.generic
func.func @row_bias(%x: tensor<4x1000xf32>, %b: tensor<4xf32>) -> tensor<4x1000xf32> {
  %e = tensor.empty() : tensor<4x1000xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : tensor<4x1000xf32>, tensor<4xf32>) outs(%e : tensor<4x1000xf32>) {
  ^bb0(%in: f32, %bb: f32, %out: f32):
    %r = arith.addf %in, %bb : f32
    linalg.yield %r : f32
  } -> tensor<4x1000xf32>
  return %y : tensor<4x1000xf32>
}

// -----

/// Softmax written op by op: keepdims reductions (an expand_shape to
/// [4, 1], read through (d0, 0)) and exp(x - max) read by both the sum and
/// the division. The expand_shapes fold into their readers, exp(x - max)
/// is recomputed in each, and the whole chain is one tile; no full-size
/// intermediate is left.
// FORM-LABEL: func.func @softmax_by_ops
// FORM-NOT:   tensor.expand_shape
// FORM:       scf.forall
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// FORM:         arith.maximumf
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// FORM:         math.exp
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// FORM:         math.exp
// FORM:         arith.divf
// FORM:       } {mapping = [#gpu.block<linear_dim_0>]}
// FORM-NOT:   linalg.generic
// FORM:       return
func.func @softmax_by_ops(%x: tensor<4x1000xf32>) -> tensor<4x1000xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<4xf32>
  %m0 = linalg.fill ins(%ninf : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %m = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x1000xf32>) outs(%m0 : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %out, %in : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %mk = tensor.expand_shape %m [[0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
  %e2 = tensor.empty() : tensor<4x1000xf32>
  %ex = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%x, %mk : tensor<4x1000xf32>, tensor<4x1xf32>) outs(%e2 : tensor<4x1000xf32>) {
  ^bb0(%in: f32, %mx: f32, %out: f32):
    %d = arith.subf %in, %mx : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<4x1000xf32>
  %s0 = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%ex : tensor<4x1000xf32>) outs(%s0 : tensor<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %out, %in : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %sk = tensor.expand_shape %s [[0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, 0)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%ex, %sk : tensor<4x1000xf32>, tensor<4x1xf32>) outs(%e2 : tensor<4x1000xf32>) {
  ^bb0(%in: f32, %sm: f32, %out: f32):
    %q = arith.divf %in, %sm : f32
    linalg.yield %q : f32
  } -> tensor<4x1000xf32>
  return %y : tensor<4x1000xf32>
}

// -----

/// An expand_shape whose unit dimension the reader indexes by a loop of its
/// own (a reduction over [1, ?]) stays: dropping it would lose that loop's
/// extent.
// FORM-LABEL: func.func @unit_loop_kept
// FORM:       tensor.expand_shape
// FORM:       linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["reduction", "reduction"]}
func.func @unit_loop_kept(%x: tensor<?xi64>, %n: index) -> tensor<i64> {
  %zero = arith.constant 0 : i64
  %e = tensor.expand_shape %x [[0, 1]] output_shape [1, %n] : tensor<?xi64> into tensor<1x?xi64>
  %i = tensor.empty() : tensor<i64>
  %f = linalg.fill ins(%zero : i64) outs(%i : tensor<i64>) -> tensor<i64>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> ()>],
                       iterator_types = ["reduction", "reduction"]}
      ins(%e : tensor<1x?xi64>) outs(%f : tensor<i64>) {
  ^bb0(%in: i64, %out: i64):
    %s = arith.addi %out, %in : i64
    linalg.yield %s : i64
  } -> tensor<i64>
  return %r : tensor<i64>
}

// -----

/// A plain reduction of a run-time number of rows: a block per row (the
/// fill fused in), as is one of 64 static rows; a column sum (rows not
/// contiguous) and 8 static rows (split-K's) are left alone.
// FORM-LABEL: func.func @plain_reductions
// FORM:       scf.forall (%{{.*}}) in (%{{.*}})
// FORM:         linalg.fill
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// FORM:       } {mapping = [#gpu.block<linear_dim_0>]}
// FORM:       scf.forall (%{{.*}}) in (64)
// FORM:       } {mapping = [#gpu.block<linear_dim_0>]}
// FORM-NOT:   scf.forall
// FORM:       return
func.func @plain_reductions(%x: tensor<?x300xf32>, %y: tensor<64x300xf32>, %z: tensor<300x64xf32>,
                            %w: tensor<8x300xf32>)
    -> (tensor<?xf32>, tensor<64xf32>, tensor<64xf32>, tensor<8xf32>) {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x300xf32>
  %e = tensor.empty(%n) : tensor<?xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x300xf32>) outs(%f : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %e64 = tensor.empty() : tensor<64xf32>
  %f64 = linalg.fill ins(%zero : f32) outs(%e64 : tensor<64xf32>) -> tensor<64xf32>
  %r64 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<64x300xf32>) outs(%f64 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.maximumf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<64xf32>
  %col = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0)>],
                         iterator_types = ["parallel", "reduction"]}
      ins(%z : tensor<300x64xf32>) outs(%f64 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<64xf32>
  %e8 = tensor.empty() : tensor<8xf32>
  %f8 = linalg.fill ins(%zero : f32) outs(%e8 : tensor<8xf32>) -> tensor<8xf32>
  %r8 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                        iterator_types = ["parallel", "reduction"]}
      ins(%w : tensor<8x300xf32>) outs(%f8 : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  return %r, %r64, %col, %r8 : tensor<?xf32>, tensor<64xf32>, tensor<64xf32>, tensor<8xf32>
}

// -----

/// A mean: the division that alone reads a plain reduction's result is the
/// tile's consumer, with the reduction and its fill fused in.
// FORM-LABEL: func.func @mean
// FORM:       scf.forall (%{{.*}}) in (%{{.*}})
// FORM:         linalg.fill
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// FORM:         linalg.generic {{.*}}iterator_types = ["parallel"]
// FORM:         arith.divf
// FORM:       } {mapping = [#gpu.block<linear_dim_0>]}
// FORM-NOT:   linalg.generic
// FORM:       return
func.func @mean(%x: tensor<?x300xf32>) -> tensor<?xf32> {
  %zero = arith.constant 0.0 : f32
  %n300 = arith.constant 300.0 : f32
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x300xf32>
  %e = tensor.empty(%n) : tensor<?xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x300xf32>) outs(%f : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = arith.addf %out, %in : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %m = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]}
      ins(%r : tensor<?xf32>) outs(%e : tensor<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.divf %in, %n300 : f32
    linalg.yield %d : f32
  } -> tensor<?xf32>
  return %m : tensor<?xf32>
}

// -----

/// A 16-bit per-row value (a softmax in f16) keeps the usual path: block
/// reductions shuffle 32- and 64-bit values.
// FORM-LABEL: func.func @half
// FORM-NOT:   scf.forall
// FORM:       return
func.func @half(%x: tensor<4x1000xf16>) -> tensor<4x1000xf16> {
  %ninf = arith.constant 0xFC00 : f16
  %e = tensor.empty() : tensor<4xf16>
  %m0 = linalg.fill ins(%ninf : f16) outs(%e : tensor<4xf16>) -> tensor<4xf16>
  %m = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x1000xf16>) outs(%m0 : tensor<4xf16>) {
  ^bb0(%in: f16, %out: f16):
    %r = arith.maximumf %out, %in : f16
    linalg.yield %r : f16
  } -> tensor<4xf16>
  %e2 = tensor.empty() : tensor<4x1000xf16>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x, %m : tensor<4x1000xf16>, tensor<4xf16>) outs(%e2 : tensor<4x1000xf16>) {
  ^bb0(%in: f16, %mx: f16, %out: f16):
    %d = arith.subf %in, %mx : f16
    linalg.yield %d : f16
  } -> tensor<4x1000xf16>
  return %y : tensor<4x1000xf16>
}

// -----

/// The bufferized row kernel (layer norm's shape: mean, then the sum of
/// squared deviations from a copy of the same fill, the map): one launch of
/// a block per row and 256 threads. Each reduction is a strided loop
/// (thread id to 768 step the block size) and a gpu.all_reduce, combined
/// with the fill's value; the per-row buffers are gone; the map reads the
/// row values as scalars and stores its strided share.
// LAUNCH-LABEL: func.func @layernorm
// LAUNCH-NOT:   scf.forall
// LAUNCH:       gpu.launch blocks(%[[B:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c3{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[NT:c256]], %
// LAUNCH-NOT:     memref.alloc
// LAUNCH:         %[[P:.*]] = scf.for %{{.*}} = %[[T]] to %{{.*}} step %[[NT]] iter_args
// LAUNCH:           memref.load
// LAUNCH:           arith.addf
// LAUNCH:         %[[S:.*]] = gpu.all_reduce add %[[P]] uniform
// LAUNCH:         %[[SUM:.*]] = arith.addf %{{.*}}, %[[S]]
// LAUNCH:         %[[MEAN:.*]] = arith.divf %[[SUM]]
// LAUNCH:         %[[P2:.*]] = scf.for %{{.*}} = %[[T]] to %{{.*}} step %[[NT]] iter_args
// LAUNCH:           arith.subf %{{.*}}, %[[MEAN]]
// LAUNCH:         %[[V:.*]] = gpu.all_reduce add %[[P2]] uniform
// LAUNCH:         scf.for %{{.*}} = %[[T]] to %{{.*}} step %[[NT]] {
// LAUNCH:           arith.subf %{{.*}}, %[[MEAN]]
// LAUNCH:           memref.store
// LAUNCH-NOT:     gpu.barrier
// LAUNCH:         gpu.terminator
// LAUNCH-NOT:   linalg.
// LAUNCH:       return
func.func @layernorm(%x: memref<3x768xf32>, %y: memref<3x768xf32>) {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 768.0 : f32
  scf.forall (%r) in (3) {
    %xr = memref.subview %x[%r, 0] [1, 768] [1, 1] : memref<3x768xf32> to memref<1x768xf32, strided<[768, 1], offset: ?>>
    %acc = memref.alloc() : memref<1xf32>
    linalg.fill ins(%zero : f32) outs(%acc : memref<1xf32>)
    %sum = memref.alloc() : memref<1xf32>
    linalg.copy ins(%acc : memref<1xf32>) outs(%sum : memref<1xf32>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                    iterator_types = ["parallel", "reduction"]}
        ins(%xr : memref<1x768xf32, strided<[768, 1], offset: ?>>) outs(%sum : memref<1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %s = arith.addf %out, %in : f32
      linalg.yield %s : f32
    }
    %mean = memref.alloc() : memref<1xf32>
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
        ins(%sum : memref<1xf32>) outs(%mean : memref<1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %m = arith.divf %in, %n : f32
      linalg.yield %m : f32
    }
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>],
                    iterator_types = ["parallel", "reduction"]}
        ins(%xr, %mean : memref<1x768xf32, strided<[768, 1], offset: ?>>, memref<1xf32>) outs(%acc : memref<1xf32>) {
    ^bb0(%in: f32, %m: f32, %out: f32):
      %d = arith.subf %in, %m : f32
      %q = arith.mulf %d, %d : f32
      %s = arith.addf %out, %q : f32
      linalg.yield %s : f32
    }
    %yr = memref.subview %y[%r, 0] [1, 768] [1, 1] : memref<3x768xf32> to memref<1x768xf32, strided<[768, 1], offset: ?>>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%xr, %mean, %acc : memref<1x768xf32, strided<[768, 1], offset: ?>>, memref<1xf32>, memref<1xf32>)
        outs(%yr : memref<1x768xf32, strided<[768, 1], offset: ?>>) {
    ^bb0(%in: f32, %m: f32, %v: f32, %out: f32):
      %d = arith.subf %in, %m : f32
      %q = arith.divf %d, %v : f32
      linalg.yield %q : f32
    }
    memref.dealloc %acc : memref<1xf32>
    memref.dealloc %sum : memref<1xf32>
    memref.dealloc %mean : memref<1xf32>
  } {mapping = [#gpu.block<linear_dim_0>]}
  return
}

// -----

/// A plain row reduction into the row's element of the output: the value is
/// tracked as a scalar (the fill, then the block reduction combined with
/// it) and thread 0 stores it once at the end.
// LAUNCH-LABEL: func.func @row_sum
// LAUNCH:       gpu.launch
// LAUNCH:         %[[OUT:.*]] = memref.subview %{{.*}}[%{{.*}}] [1] [1]
// LAUNCH:         %[[P:.*]] = scf.for
// LAUNCH:         %[[S:.*]] = gpu.all_reduce add %[[P]] uniform
// LAUNCH:         %[[V:.*]] = arith.addf %{{.*}}, %[[S]]
// LAUNCH:         %[[FIRST:.*]] = arith.cmpi eq, %{{.*}}, %c0
// LAUNCH:         scf.if %[[FIRST]] {
// LAUNCH:           memref.store %[[V]], %[[OUT]][%c0
// LAUNCH:         }
// LAUNCH:         gpu.terminator
func.func @row_sum(%x: memref<64x300xf32>, %y: memref<64xf32>) {
  %zero = arith.constant 0.0 : f32
  scf.forall (%r) in (64) {
    %xr = memref.subview %x[%r, 0] [1, 300] [1, 1] : memref<64x300xf32> to memref<1x300xf32, strided<[300, 1], offset: ?>>
    %yr = memref.subview %y[%r] [1] [1] : memref<64xf32> to memref<1xf32, strided<[1], offset: ?>>
    linalg.fill ins(%zero : f32) outs(%yr : memref<1xf32, strided<[1], offset: ?>>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                    iterator_types = ["parallel", "reduction"]}
        ins(%xr : memref<1x300xf32, strided<[300, 1], offset: ?>>) outs(%yr : memref<1xf32, strided<[1], offset: ?>>) {
    ^bb0(%in: f32, %out: f32):
      %s = arith.addf %out, %in : f32
      linalg.yield %s : f32
    }
  } {mapping = [#gpu.block<linear_dim_0>]}
  return
}

// -----

/// A body the kernel builder does not know (a loop) keeps its forall,
/// without the block mapping: the usual device mapping takes it. Its
/// linalg ops become sequential loops (one thread per row, not host tasks
/// launching a kernel per row).
// LAUNCH-LABEL: func.func @unknown_body
// LAUNCH-NOT:   gpu.launch
// LAUNCH:       scf.forall
// LAUNCH:         scf.for
// LAUNCH:         scf.for
// LAUNCH:           arith.addf
// LAUNCH-NOT:   linalg.generic
// LAUNCH-NOT:   mapping
// LAUNCH:       return
func.func @unknown_body(%x: memref<3x8xf32>, %y: memref<3x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %one = arith.constant 1.0 : f32
  scf.forall (%r) in (3) {
    scf.for %i = %c0 to %c8 step %c1 {
      memref.store %one, %x[%r, %i] : memref<3x8xf32>
    }
    %xr = memref.subview %x[%r, 0] [1, 8] [1, 1] : memref<3x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    %yr = memref.subview %y[%r, 0] [1, 8] [1, 1] : memref<3x8xf32> to memref<1x8xf32, strided<[8, 1], offset: ?>>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%xr : memref<1x8xf32, strided<[8, 1], offset: ?>>) outs(%yr : memref<1x8xf32, strided<[8, 1], offset: ?>>) {
    ^bb0(%in: f32, %out: f32):
      %s = arith.addf %in, %in : f32
      linalg.yield %s : f32
    }
  } {mapping = [#gpu.block<linear_dim_0>]}
  return
}

// -----

/// In an outlined kernel, gpu.all_reduce becomes upstream's warp shuffles
/// and a workgroup buffer of one value per warp.
// LOWER-LABEL: gpu.func @k
// LOWER-SAME:  workgroup(%{{.*}} : memref<32xf32, #gpu.address_space<workgroup>>)
// LOWER:       gpu.shuffle xor
// LOWER:       gpu.barrier
// LOWER-NOT:   gpu.all_reduce
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%x: memref<4x256xf32>, %y: memref<4xf32>) kernel {
      %b = gpu.block_id x
      %t = gpu.thread_id x
      %v = memref.load %x[%b, %t] : memref<4x256xf32>
      %r = gpu.all_reduce maximumf %v uniform {} : (f32) -> f32
      memref.store %r, %y[%b] : memref<4xf32>
      gpu.return
    }
  }
}
