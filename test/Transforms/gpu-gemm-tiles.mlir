// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-contraction-kernels --cse | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-contraction-kernels="shared-tiles=false tensor-cores=false" | FileCheck %s --check-prefix=OFF

/// A GEMM of 1024 x 1536 outputs over k = 64 (96 blocks of 128 x 128): one
/// gpu.launch of 12 x 8 blocks of 256 threads, with a's tile transposed
/// (8 k x 128 rows, rows padded to 132) and b's (8 k x 128 columns) in
/// workgroup memory. Each thread loads 4 elements of a (along k, a's
/// contiguous index) and one vector of b per step, into registers, before
/// the loop and during each step for the next; it stores them to the tiles,
/// waits, reads its 8 rows (2 vectors) and 8 columns (2 vectors) for each
/// of the 8 k, and waits again before the next step overwrites the tiles.
/// The fill becomes the accumulators' start, the in-place bias add follows
/// the 16 accumulators into their stores.
// CHECK-LABEL: func.func @gemm_128
// CHECK-NOT: linalg.
// CHECK-DAG: %[[C12:.*]] = arith.constant 12 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in (%{{.*}} = %[[C12]], %{{.*}} = %[[C8]], %{{.*}} = %{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]], {{.*}} workgroup(%[[AT:.*]] : memref<8x132xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<8x128xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[ZERO:.*]] = vector.broadcast %{{.*}} : f32 to vector<4xf32>
// CHECK-COUNT-4: memref.load %{{.*}} : memref<1024x64xf32>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<64x1536xf32>, vector<4xf32>
// CHECK: %[[ACC:.*]]:21 = scf.for %{{.*}} = %{{.*}} to %[[C8]] step %{{.*}} iter_args(%{{.*}} = %[[ZERO]], {{.*}}) -> ({{(vector<4xf32>, )+}}f32, f32, f32, f32, vector<4xf32>)
// CHECK-COUNT-4: memref.store %{{.*}}, %[[AT]]
// CHECK: vector.store %{{.*}}, %[[BT]]
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-4: memref.load %{{.*}} : memref<1024x64xf32>
// CHECK: vector.load %{{.*}} : memref<64x1536xf32>, vector<4xf32>
// CHECK: vector.load %[[AT]][%{{.*}}, %{{.*}}] {alignment = 16 : i64}
// CHECK: vector.load %[[AT]]
// CHECK: vector.load %[[BT]]
// CHECK: vector.load %[[BT]]
// CHECK-NOT: gpu.barrier
// CHECK: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// CHECK-NOT: scf.if
// CHECK: vector.load %{{.*}} : memref<1536xf32>, vector<4xf32>
// CHECK-NEXT: arith.addf %[[ACC]]#0
// CHECK-NEXT: vector.store %{{.*}} : memref<1024x1536xf32>, vector<4xf32>
// CHECK-COUNT-15: vector.store %{{.*}} : memref<1024x1536xf32>, vector<4xf32>
// CHECK-NEXT: gpu.terminator
// OFF-LABEL: func.func @gemm_128
// OFF-NOT: gpu.launch
// OFF: scf.parallel
func.func @gemm_128(%a: memref<1024x64xf32>,
                    %w: memref<64x1536xf32> {sparsa.weight_offset = 0 : i64},
                    %bias: memref<1536xf32> {sparsa.weight_offset = 512 : i64})
    -> memref<1024x1536xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %o = memref.alloc() {alignment = 64 : i64} : memref<1024x1536xf32>
  linalg.fill ins(%cst : f32) outs(%o : memref<1024x1536xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<1024x64xf32>, memref<64x1536xf32>)
      outs(%o : memref<1024x1536xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d1)>,
                                   affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%o, %bias : memref<1024x1536xf32>, memref<1536xf32>) outs(%o : memref<1024x1536xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.addf %in, %in_0 : f32
    linalg.yield %0 : f32
  }
  return %o : memref<1024x1536xf32>
}

// -----

/// Edges: 100 x 76 outputs in 64-tiles (2 x 2 blocks), times a batch of 2
/// (the grid's z), k = 72 in steps of 16 (the last one half past the end).
/// a is stored k-major ([b, k, m]): consecutive threads load consecutive
/// rows. Rows past 99 and columns past 72 are read clamped, k past 71 is
/// read clamped and masked to zero, and only outputs inside 100 x 76 are
/// stored. No fill: the accumulators start from the output.
// CHECK-LABEL: func.func @gemm_edges
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %[[BZ:.*]]) in (%{{.*}} = %[[C2]], %{{.*}} = %[[C2]], %{{.*}} = %[[C2]]) {{.*}} workgroup(%[[AT:.*]] : memref<16x68xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<16x64xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[B:.*]] = arith.remui %[[BZ]], %[[C2]] : index
// CHECK: %[[ROW:.*]] = arith.minui %{{.*}}, %[[C99:.*]] : index
// CHECK: %[[COL:.*]] = arith.minui %{{.*}}, %[[C72:.*]] : index
// CHECK: vector.load %{{.*}}[%[[B]], %[[ROW]], %[[COL]]] {alignment = 16 : i64} : memref<2x100x76xf32>
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[K:.*]], %[[C72]] : index
// CHECK: %[[KC:.*]] = arith.minui %[[K]], %{{.*}} : index
// CHECK: %[[V:.*]] = memref.load %{{.*}}[%[[B]], %[[KC]], %{{.*}}] : memref<2x72x100xf32>
// CHECK: arith.select %[[IN]], %[[V]], %{{.*}} : f32
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step {{.*}} -> ({{(vector<4xf32>, )+}}f32, f32, f32, f32, vector<4xf32>)
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// CHECK: %[[MIN:.*]] = arith.cmpi ult, %{{.*}}, %{{.*}} : index
// CHECK: %[[NIN:.*]] = arith.cmpi ult, %{{.*}}, %[[C76:.*]] : index
// CHECK: %[[BOTH:.*]] = arith.andi %[[MIN]], %[[NIN]] : i1
// CHECK: scf.if %[[BOTH]] {
// CHECK-NEXT: vector.store %{{.*}}, %{{.*}}[%[[B]], %{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<2x100x76xf32>, vector<4xf32>
func.func @gemm_edges(%at: memref<2x72x100xf32>,
                      %w: memref<72x76xf32> {sparsa.weight_offset = 0 : i64})
    -> memref<2x100x76xf32> {
  %o = memref.alloc() {alignment = 64 : i64} : memref<2x100x76xf32>
  linalg.generic {indexing_maps = [affine_map<(b, m, n, k) -> (b, k, m)>,
                                   affine_map<(b, m, n, k) -> (k, n)>,
                                   affine_map<(b, m, n, k) -> (b, m, n)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%at, %w : memref<2x72x100xf32>, memref<72x76xf32>)
      outs(%o : memref<2x100x76xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %o : memref<2x100x76xf32>
}

// -----

/// 32 rows: register-tiled threads, no shared tiles.
// CHECK-LABEL: func.func @too_few_rows
// CHECK-NOT: gpu.launch
// CHECK: scf.parallel
func.func @too_few_rows(%a: memref<32x64xf32>,
                        %w: memref<64x256xf32> {sparsa.weight_offset = 0 : i64})
    -> memref<32x256xf32> {
  %o = memref.alloc() {alignment = 64 : i64} : memref<32x256xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<32x64xf32>, memref<64x256xf32>)
      outs(%o : memref<32x256xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %o : memref<32x256xf32>
}

// -----

/// f16 operands summed in f32 (how an f16 MatMul lowers), 100 x 76 over
/// k = 72: tensor cores. 2 x 2 blocks of 4 warps (128 threads), both
/// tiles 64 x 40 f16 (32 k padded by 8) in workgroup memory; 16 elements
/// of each operand per thread and step (k past 71 masked to zero), 3 steps
/// of 32 k, each 2 x 4 warp tiles times 2 k-halves of mma.sync m16n8k16;
/// a's fragment registers are pairs of k at rows g and g + 8, b's pairs of
/// k at column g (b's tile is n-major). The fill is the accumulators' start;
/// each accumulator element is stored where it lies inside 100 x 76.
// CHECK-LABEL: func.func @mma_f16
// CHECK-NOT: linalg.
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %[[C2:.*]], %{{.*}} = %[[C2]], %{{.*}} = %{{.*}}) threads({{.*}}) in (%{{.*}} = %[[C128:.*]], {{.*}} workgroup(%[[AT:.*]] : memref<64x40xf16, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<64x40xf16, #gpu.address_space<workgroup>>)
// CHECK: %[[ACC0:.*]] = vector.broadcast %{{.*}} : f32 to vector<2x2xf32>
// CHECK-COUNT-32: arith.select %{{.*}} : f16
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[ACC0]], {{.*}}) -> ({{(vector<2x2xf32>, )+}}{{(f16, )+}}f16)
// CHECK-COUNT-16: memref.store %{{.*}}, %[[AT]]
// CHECK-COUNT-16: memref.store %{{.*}}, %[[BT]]
// CHECK: gpu.barrier
// CHECK: vector.load %[[AT]][%{{.*}}, %{{.*}}] {alignment = 4 : i64} : memref<64x40xf16, #gpu.address_space<workgroup>>, vector<2xf16>
// CHECK: vector.insert %{{.*}}, %{{.*}} [0] : vector<2xf16> into vector<4x2xf16>
// CHECK: vector.load %[[BT]]
// CHECK: vector.insert %{{.*}}, %{{.*}} [1] : vector<2xf16> into vector<2x2xf16>
// CHECK-COUNT-16: nvgpu.mma.sync(%{{.*}}, %{{.*}}, %{{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// CHECK: scf.if
// CHECK: vector.extract %{{.*}}[0, 0] : f32 from vector<2x2xf32>
// CHECK-NEXT: memref.store %{{.*}} : memref<100x76xf32>
// OFF-LABEL: func.func @mma_f16
// OFF-NOT: gpu.launch
// OFF: linalg.generic
func.func @mma_f16(%a: memref<100x72xf16>,
                   %w: memref<72x76xf16> {sparsa.weight_offset = 0 : i64})
    -> memref<100x76xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %o = memref.alloc() {alignment = 64 : i64} : memref<100x76xf32>
  linalg.fill ins(%cst : f32) outs(%o : memref<100x76xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<100x72xf16>, memref<72x76xf16>)
      outs(%o : memref<100x76xf32>) {
  ^bb0(%in: f16, %in_0: f16, %out: f32):
    %0 = arith.extf %in : f16 to f32
    %1 = arith.extf %in_0 : f16 to f32
    %2 = arith.mulf %0, %1 fastmath<contract> : f32
    %3 = arith.addf %out, %2 fastmath<contract> : f32
    linalg.yield %3 : f32
  }
  return %o : memref<100x76xf32>
}

// -----

/// Near misses, left alone: the product rounded to f16 before the sum (no
/// f32 accumulator), and 8 rows (under a tile of 16).
// CHECK-LABEL: func.func @mma_near_misses
// CHECK-NOT: nvgpu.mma.sync
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @mma_near_misses(%a: memref<64x32xf16>, %w: memref<32x64xf16>, %o: memref<64x64xf16>,
                           %a8: memref<8x32xf16>, %o8: memref<8x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<64x32xf16>, memref<32x64xf16>) outs(%o : memref<64x64xf16>) {
  ^bb0(%in: f16, %in_0: f16, %out: f16):
    %0 = arith.mulf %in, %in_0 : f16
    %1 = arith.addf %out, %0 : f16
    linalg.yield %1 : f16
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a8, %w : memref<8x32xf16>, memref<32x64xf16>) outs(%o8 : memref<8x64xf32>) {
  ^bb0(%in: f16, %in_0: f16, %out: f32):
    %0 = arith.extf %in : f16 to f32
    %1 = arith.extf %in_0 : f16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

/// A run-time row count: the launch, under an scf.if on the count being
/// positive, has ceil(rows / 64) row tiles of 64 x 64; rows are read
/// clamped to the last and stored where below the count.
// CHECK-LABEL: func.func @gemm_dynamic_rows
// CHECK: %[[ROWS:.*]] = memref.dim %[[OUT:.*]], %[[C0:.*]] : memref<?x128xf32>
// CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[ROWS]], %[[C0]] : index
// CHECK: scf.if %[[ANY]] {
// CHECK:   %[[UP:.*]] = arith.addi %[[ROWS]], %[[C63:.*]] : index
// CHECK:   %[[TILES:.*]] = arith.divui %[[UP]], %[[C64:.*]] : index
// CHECK:   gpu.launch blocks({{.*}}) in (%{{.*}} = %{{.*}}, %{{.*}} = %[[TILES]], %{{.*}} = %{{.*}})
// CHECK:     %[[LAST:.*]] = arith.subi %[[ROWS]], %{{.*}} : index
// CHECK:     arith.minui %{{.*}}, %[[LAST]] : index
// CHECK:     scf.for
// CHECK:     %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[ROWS]] : index
// CHECK:     scf.if %[[IN]] {
// CHECK-NEXT:  vector.store %{{.*}}, %[[OUT]]
// OFF-LABEL: func.func @gemm_dynamic_rows
// OFF-NOT: gpu.launch
// OFF: linalg.generic
func.func @gemm_dynamic_rows(%a: memref<?x64xf32>,
                             %w: memref<64x128xf32> {sparsa.weight_offset = 0 : i64})
    -> memref<?x128xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %a, %c0 : memref<?x64xf32>
  %o = memref.alloc(%n) {alignment = 64 : i64} : memref<?x128xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<?x64xf32>, memref<64x128xf32>)
      outs(%o : memref<?x128xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return %o : memref<?x128xf32>
}
