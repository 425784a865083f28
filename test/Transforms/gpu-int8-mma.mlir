// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-quantized-gemv=int8-tensor-cores=true | FileCheck %s --check-prefix=SPLIT
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-quantized-gemv=int8-tensor-cores=true --sparsa-gpu-contraction-kernels=int8-tensor-cores=true | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-quantized-gemv --sparsa-gpu-contraction-kernels | FileCheck %s --check-prefix=OFF

/// An int4 GEMV with int8 activations and packed 4-bit zero points, rows
/// known at run time. The quantized GEMV pass branches on the count: 16
/// rows or more keep the generic, fewer get its dp4a threads. The
/// contraction kernels then put the generic on int8 tensor cores: 64 x 64
/// output tiles of 128 threads; the even and odd activation codes and the
/// code bytes staged 64 bytes at a time into rows of 80 bytes; per step 4
/// chunks of 16 code bytes, each 8 `mma.sync` m16n8k32 (2 x 4 tiles of the
/// warp). The zero point is taken off each code in its register (q | 0x80
/// minus z per byte, the high bit flipped back), so no sum of activation
/// codes is needed. Each chunk ends a block: its i32 sums are scaled into
/// the f32 accumulators.
// SPLIT-LABEL: func.func @q4_rows
// SPLIT: %[[M:.*]] = memref.dim %{{.*}}, %c0
// SPLIT: %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c16
// SPLIT: scf.if %[[MANY]] {
// SPLIT: linalg.generic
// SPLIT-SAME: sparsa.kernel = "q4_vnni"
// SPLIT: } else {
// SPLIT: scf.parallel
// SPLIT-NOT: sparsa.kernel
// SPLIT: return
// CHECK-LABEL: func.func @q4_rows
// CHECK: scf.if
// CHECK: gpu.launch
// CHECK-SAME: workgroup(%[[AE:.*]] : memref<64x80xi8, #gpu.address_space<workgroup>>, %[[AO:.*]] : memref<64x80xi8, #gpu.address_space<workgroup>>, %[[B:.*]] : memref<64x80xi8, #gpu.address_space<workgroup>>)
// CHECK: scf.for
// CHECK: vector.store %{{.*}}, %[[AE]]{{.*}} : memref<64x80xi8, #gpu.address_space<workgroup>>, vector<16xi8>
// CHECK: gpu.barrier
// CHECK: vector.load %[[AE]]{{.*}} vector<4xi8>
// CHECK: vector.load %[[AO]]{{.*}} vector<4xi8>
// CHECK: vector.load %[[B]]{{.*}} vector<4xi8>
// CHECK: arith.andi %{{.*}}, %c252645135_i32
// CHECK: arith.ori %{{.*}}, %c-2139062144_i32
// CHECK: arith.subi
// CHECK: arith.xori %{{.*}}, %c-2139062144_i32
// CHECK-COUNT-8: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 32]} : (vector<4x4xi8>, vector<2x4xi8>, vector<2x2xi32>) -> vector<2x2xi32>
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK-COUNT-24: nvgpu.mma.sync
// CHECK-NOT: nvgpu.mma.sync
// CHECK: gpu.barrier
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: scf.parallel
// OFF-LABEL: func.func @q4_rows
// OFF-NOT: scf.if
// OFF-NOT: nvgpu.mma.sync
// OFF: scf.parallel
func.func @q4_rows(%rows: index, %w: memref<512x128xi8> {sparsa.weight_offset = 64 : i64},
                   %s: memref<512x8xf32>, %z: memref<512x4xi8>, %as: memref<?x32xf32>,
                   %out: memref<?x512xf32>) {
  %ae = memref.alloc(%rows) : memref<?x128xi8>
  %ao = memref.alloc(%rows) : memref<?x128xi8>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 16)>, affine_map<(d0, d1, d2) -> (d1, (d2 floordiv 16) floordiv 2)>, affine_map<(d0, d1, d2) -> (d0, d2 floordiv 4)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ae, %ao, %w, %s, %z, %as : memref<?x128xi8>, memref<?x128xi8>, memref<512x128xi8>, memref<512x8xf32>, memref<512x4xi8>, memref<?x32xf32>)
      outs(%out : memref<?x512xf32>) attrs = {sparsa.block_bytes = 16 : i64, sparsa.kernel = "q4_vnni", sparsa.zero_point_bits = 4 : i64} {
  ^bb0(%e: i8, %o: i8, %q: i8, %sc: f32, %zb: i8, %asc: f32, %acc: f32):
    %0 = arith.sitofp %e : i8 to f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

/// 8-bit codes in blocks of 64 bytes with f32 zero points, 48 static rows:
/// left whole by the GEMV pass. On tensor cores each code is taken as
/// q - 128 (xor 0x80 per byte); the zero point left, z - 128, is taken off
/// per block times the block's sum of activation codes, which a second
/// mma against ones computes (per m tile). Per step: 2 chunks of 32
/// bytes, 8 + 2 mmas each; the block ends with the step.
// SPLIT-LABEL: func.func @q8_float_zero_points
// SPLIT-NOT: scf.parallel
// SPLIT: sparsa.kernel = "q8_vnni"
// CHECK-LABEL: func.func @q8_float_zero_points
// CHECK: gpu.launch
// CHECK-SAME: workgroup(%{{.*}} : memref<64x80xi8, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x80xi8, #gpu.address_space<workgroup>>)
// CHECK: %[[ONES:.*]] = arith.constant dense<1> : vector<2x4xi8>
// CHECK: arith.xori %{{.*}}, %c-2139062144_i32
// CHECK-COUNT-4: nvgpu.mma.sync
// CHECK: nvgpu.mma.sync(%{{.*}}, %[[ONES]], %{{.*}})
// CHECK-COUNT-4: nvgpu.mma.sync
// CHECK: nvgpu.mma.sync(%{{.*}}, %[[ONES]], %{{.*}})
// CHECK-COUNT-10: nvgpu.mma.sync
// CHECK: arith.subf %{{.*}}, %cst
// CHECK: arith.mulf
// CHECK: arith.subf
// CHECK-NOT: nvgpu.mma.sync
// CHECK: gpu.terminator
// CHECK-NOT: sparsa.kernel
func.func @q8_float_zero_points(%w: memref<64x256xi8> {sparsa.weight_offset = 64 : i64},
                                %s: memref<64x4xf32>, %z: memref<64x4xf32>, %as: memref<48x64xf32>,
                                %out: memref<48x64xf32>) {
  %ae = memref.alloc() : memref<48x256xi8>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 64)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 64)>, affine_map<(d0, d1, d2) -> (d0, d2 floordiv 4)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ae, %w, %s, %z, %as : memref<48x256xi8>, memref<64x256xi8>, memref<64x4xf32>, memref<64x4xf32>, memref<48x64xf32>)
      outs(%out : memref<48x64xf32>) attrs = {sparsa.block_bytes = 64 : i64, sparsa.kernel = "q8_vnni"} {
  ^bb0(%e: i8, %q: i8, %sc: f32, %zf: f32, %asc: f32, %acc: f32):
    %0 = arith.sitofp %e : i8 to f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

/// Near miss: 8-bit codes in blocks of 16 bytes (an mma takes 32) keep
/// the dp4a GEMV threads at any row count.
// SPLIT-LABEL: func.func @q8_short_blocks
// SPLIT: scf.parallel
// CHECK-LABEL: func.func @q8_short_blocks
// CHECK-NOT: nvgpu.mma.sync
// CHECK: scf.parallel
// CHECK-NOT: nvgpu.mma.sync
func.func @q8_short_blocks(%w: memref<64x256xi8> {sparsa.weight_offset = 64 : i64},
                           %s: memref<64x16xf32>, %as: memref<48x64xf32>,
                           %out: memref<48x64xf32>) {
  %ae = memref.alloc() : memref<48x256xi8>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d1, d2 floordiv 16)>, affine_map<(d0, d1, d2) -> (d0, d2 floordiv 4)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ae, %w, %s, %as : memref<48x256xi8>, memref<64x256xi8>, memref<64x16xf32>, memref<48x64xf32>)
      outs(%out : memref<48x64xf32>) attrs = {sparsa.block_bytes = 16 : i64, sparsa.kernel = "q8_vnni", sparsa.zero_point = 1.280000e+02 : f32} {
  ^bb0(%e: i8, %q: i8, %sc: f32, %asc: f32, %acc: f32):
    %0 = arith.sitofp %e : i8 to f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}
