// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-quantized-gemv | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-quantized-gemv="target-threads=256" | FileCheck %s --check-prefix=FEW

/// An int4 GEMV with int8 activations (MatMulNBits at accuracy level 4):
/// 512 outputs, rows of 128 code bytes (8 vectors of 16), packed zero
/// points, a run-time row count. A thread per (row, output, chunk): 8
/// chunks, each one 16-byte vector; the nibbles masked as 32-bit words,
/// 16 four-byte dot products (8 with the codes, 8 byte sums) per vector,
/// then the partial sums added per output. With few target threads, one
/// chunk: the thread adds into the output itself.
// CHECK-LABEL: func.func @q4_int8
// CHECK-SAME: (%{{.*}}: index, %[[W:[^:]*]]: memref<512x128xi8
// CHECK: %[[AE:.*]] = memref.alloc
// CHECK: %[[AO:.*]] = memref.alloc
// CHECK: %[[M:.*]] = memref.dim %[[OUT:.*]], %c0
// CHECK: %[[P:.*]] = memref.alloc(%[[M]]) {alignment = 16 : i64} : memref<?x512x8xf32>
// CHECK: scf.parallel (%[[I:.*]], %[[N:.*]], %[[C:.*]]) = (%c0, %c0, %c0) to (%[[M]], %c512, %c8)
// CHECK: scf.for %[[V:.*]] = %[[C]] to %c8 step %c8 iter_args
// CHECK: %[[K0:.*]] = arith.muli %[[V]], %c16
// CHECK: %[[BLK:.*]] = arith.divui %[[K0]], %c16
// CHECK: memref.load %{{.*}}[%[[N]], %[[BLK]]] : memref<512x8xf32
// CHECK: vector.load %[[W]][%[[N]], %[[K0]]] {alignment = 16 : i64} : memref<512x128xi8>, vector<16xi8>
// CHECK: vector.bitcast %{{.*}} : vector<16xi8> to vector<4xi32>
// CHECK: arith.constant dense<252645135> : vector<4xi32>
// CHECK: vector.load %[[AE]][%[[I]], %[[K0]]] {alignment = 16 : i64} : memref<?x128xi8>, vector<16xi8>
// CHECK-COUNT-8: vector.reduction <add>
// CHECK: vector.load %[[AO]][%[[I]], %[[K0]]]
// CHECK-COUNT-8: vector.reduction <add>
// CHECK: arith.sitofp
// CHECK: scf.yield
// CHECK: memref.store %{{.*}}, %[[P]][%[[I]], %[[N]], %[[C]]]
// CHECK: linalg.generic {{.*}} ins(%[[P]] : memref<?x512x8xf32>) outs(%[[OUT]] : memref<?x512xf32>)
// CHECK: memref.dealloc %[[P]]
// CHECK-NOT: sparsa.kernel
// FEW-LABEL: func.func @q4_int8
// FEW-NOT: {alignment = 16 : i64} : memref<?x512x
// FEW: scf.parallel {{.*}} to (%{{.*}}, %c512, %c1)
// FEW: scf.for %{{.*}} = %{{.*}} to %c8 step %c1
// FEW: %[[PREV:.*]] = memref.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x512xf32>
// FEW: arith.addf %[[PREV]]
// FEW-NOT: linalg.generic
func.func @q4_int8(%rows: index, %w: memref<512x128xi8> {sparsa.weight_offset = 64 : i64},
                   %s: memref<512x8xf32>, %z: memref<512x4xi8>, %as: memref<?x32xf32>,
                   %out: memref<?x512xf32>) {
  // (The lowering computes the activations' codes into fresh buffers.)
  %ae = memref.alloc(%rows) : memref<?x128xi8>
  %ao = memref.alloc(%rows) : memref<?x128xi8>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 16)>, affine_map<(d0, d1, d2) -> (d1, (d2 floordiv 16) floordiv 2)>, affine_map<(d0, d1, d2) -> (d0, d2 floordiv 4)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ae, %ao, %w, %s, %z, %as : memref<?x128xi8>, memref<?x128xi8>, memref<512x128xi8>, memref<512x8xf32>, memref<512x4xi8>, memref<?x32xf32>)
      outs(%out : memref<?x512xf32>) attrs = {sparsa.block_bytes = 16 : i64, sparsa.kernel = "q4_vnni", sparsa.zero_point_bits = 4 : i64} {
  ^bb0(%e: i8, %o: i8, %q: i8, %sc: f32, %zb: i8, %asc: f32, %acc: f32):
    // (The body is the CPU kernels' reference; this pass reads the tag.)
    %0 = arith.sitofp %e : i8 to f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

/// 8-bit codes, f32 activations, one constant zero point (none given),
/// an expert's slice of stacked weights (offset by whole rows): 16 codes
/// per vector, dequantized in registers and multiplied as 16 lanes, one
/// horizontal sum per vector. 32 vectors per row: 32 chunks.
// CHECK-LABEL: func.func @q8_float_expert
// CHECK: %[[W:.*]] = memref.subview
// CHECK: scf.parallel {{.*}} to (%c1, %c64, %c32)
// CHECK: scf.for {{.*}} to %c32 step %c32
// CHECK: arith.constant 1.280000e+02 : f32
// CHECK: vector.load %[[W]]{{.*}} {alignment = 16 : i64} : memref<64x512xi8, strided<[512, 1], offset: ?>>, vector<16xi8>
// CHECK: vector.load {{.*}} : memref<1x512xf32>, vector<16xf32>
// CHECK: arith.uitofp %{{.*}} : vector<16xi8> to vector<16xf32>
// CHECK: vector.reduction <add>, %{{.*}}, %{{.*}} : vector<16xf32> into f32
// FEW-LABEL: func.func @q8_float_expert
// FEW: scf.parallel {{.*}} to (%c1, %c64, %c4)
func.func @q8_float_expert(%stack: memref<4x64x512xi8> {sparsa.weight_offset = 64 : i64},
                           %s: memref<64x16xf32>, %e: index, %out: memref<1x64xf32>) {
  %a = memref.alloc() : memref<1x512xf32>
  %w = memref.subview %stack[%e, 0, 0] [1, 64, 512] [1, 1, 1] : memref<4x64x512xi8> to memref<64x512xi8, strided<[512, 1], offset: ?>>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 32)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w, %s : memref<1x512xf32>, memref<64x512xi8, strided<[512, 1], offset: ?>>, memref<64x16xf32>)
      outs(%out : memref<1x64xf32>) attrs = {sparsa.block_bytes = 32 : i64, sparsa.kernel = "q8_gemv", sparsa.zero_point = 1.280000e+02 : f32} {
  ^bb0(%x: f32, %q: i8, %sc: f32, %acc: f32):
    %0 = arith.mulf %x, %sc : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

/// Near misses keep their generic: blocks of 8 code bytes (a vector would
/// span two blocks); codes at an offset of 4 bytes into a row (loads not
/// 16-byte aligned); f32 zero points indexed per output only.
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: scf.parallel
// CHECK-COUNT-3: sparsa.kernel = "q8_gemv"
func.func @near_misses(%w: memref<64x512xi8> {sparsa.weight_offset = 64 : i64},
                       %wide: memref<64x516xi8> {sparsa.weight_offset = 64 : i64},
                       %s: memref<64x64xf32>, %s16: memref<64x16xf32>, %z: memref<64x16xf32>,
                       %zn: memref<64x1xf32>, %out: memref<1x64xf32>) {
  %a = memref.alloc() : memref<1x512xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 8)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w, %s : memref<1x512xf32>, memref<64x512xi8>, memref<64x64xf32>)
      outs(%out : memref<1x64xf32>) attrs = {sparsa.block_bytes = 8 : i64, sparsa.kernel = "q8_gemv", sparsa.zero_point = 1.280000e+02 : f32} {
  ^bb0(%x: f32, %q: i8, %sc: f32, %acc: f32):
    %0 = arith.addf %acc, %x : f32
    linalg.yield %0 : f32
  }
  %shifted = memref.subview %wide[0, 4] [64, 512] [1, 1] : memref<64x516xi8> to memref<64x512xi8, strided<[516, 1], offset: 4>>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 32)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %shifted, %s16 : memref<1x512xf32>, memref<64x512xi8, strided<[516, 1], offset: 4>>, memref<64x16xf32>)
      outs(%out : memref<1x64xf32>) attrs = {sparsa.block_bytes = 32 : i64, sparsa.kernel = "q8_gemv", sparsa.zero_point = 1.280000e+02 : f32} {
  ^bb0(%x: f32, %q: i8, %sc: f32, %acc: f32):
    %0 = arith.addf %acc, %x : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 32)>, affine_map<(d0, d1, d2) -> (d1, 0)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w, %s16, %zn : memref<1x512xf32>, memref<64x512xi8>, memref<64x16xf32>, memref<64x1xf32>)
      outs(%out : memref<1x64xf32>) attrs = {sparsa.block_bytes = 32 : i64, sparsa.kernel = "q8_gemv"} {
  ^bb0(%x: f32, %q: i8, %sc: f32, %zz: f32, %acc: f32):
    %0 = arith.addf %acc, %x : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

/// The dynamic int8 GEMV (DynamicQuantizeLinear -> MatMulInteger): uint8
/// activations and codes, per-row zero points, summed exactly in i32. Per
/// 16-byte vector: 12 four-byte dot products (x . w, x . 1, w . 1, all
/// unsigned), then dot - zw sum(x) - zx sum(w) + 16 zx zw; the partial sums
/// [M, N, chunks] are i32, added per output with addi.
// CHECK-LABEL: func.func @q8_dynamic
// CHECK: %[[P:.*]] = memref.alloc() {alignment = 16 : i64} : memref<2x96x32xi32>
// CHECK: scf.parallel (%[[I:.*]], %[[N:.*]], %[[C:.*]]) =
// CHECK:   %[[ZB:.*]] = memref.load %{{.*}}[%[[N]]] : memref<96xi8>
// CHECK:   %[[ZW:.*]] = arith.extui %[[ZB]] : i8 to i32
// CHECK:   %[[ZX:.*]] = memref.load %{{.*}}[%c0] : memref<1xi32>
// CHECK:   scf.for {{.*}} -> (i32)
// CHECK:     vector.load {{.*}} : memref<96x512xi8>, vector<16xi8>
// CHECK:     vector.load {{.*}} : memref<2x512xi8>, vector<16xi8>
// CHECK-COUNT-12: vector.reduction <add>
// CHECK:     arith.muli %[[ZW]]
// CHECK:     arith.muli %[[ZX]]
// CHECK:   memref.store %{{.*}}, %[[P]][%[[I]], %[[N]], %[[C]]] : memref<2x96x32xi32>
// CHECK: linalg.generic {{.*}} ins(%[[P]] : memref<2x96x32xi32>)
// CHECK:   arith.addi
func.func @q8_dynamic(%w: memref<96x512xi8> {sparsa.weight_offset = 64 : i64},
                      %z: memref<96xi8>, %xz: memref<1xi32>, %out: memref<2x96xi32>) {
  %x = memref.alloc() : memref<2x512xi8>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1)>, affine_map<(d0, d1, d2) -> (0)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %z, %xz : memref<2x512xi8>, memref<96x512xi8>, memref<96xi8>, memref<1xi32>)
      outs(%out : memref<2x96xi32>) attrs = {sparsa.kernel = "q8_dyn"} {
  ^bb0(%a: i8, %q: i8, %zz: i8, %az: i32, %acc: i32):
    %0 = arith.extui %a : i8 to i32
    %1 = arith.addi %acc, %0 : i32
    linalg.yield %1 : i32
  }
  return
}

// -----

/// Near miss of the dynamic GEMV: rows of 100 code bytes (not whole 16-byte
/// vectors) keep the generic.
// CHECK-LABEL: func.func @negative_q8_dynamic_ragged_rows
// CHECK-NOT: scf.parallel
// CHECK: sparsa.kernel = "q8_dyn"
func.func @negative_q8_dynamic_ragged_rows(%w: memref<96x100xi8> {sparsa.weight_offset = 64 : i64},
                                           %xz: memref<1xi32>, %out: memref<2x96xi32>) {
  %x = memref.alloc() : memref<2x100xi8>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (0)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %xz : memref<2x100xi8>, memref<96x100xi8>, memref<1xi32>)
      outs(%out : memref<2x96xi32>) attrs = {sparsa.kernel = "q8_dyn", sparsa.zero_point = 1.280000e+02 : f32} {
  ^bb0(%a: i8, %q: i8, %az: i32, %acc: i32):
    %0 = arith.extui %a : i8 to i32
    %1 = arith.addi %acc, %0 : i32
    linalg.yield %1 : i32
  }
  return
}
