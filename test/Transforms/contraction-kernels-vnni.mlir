// RUN: sparsa-opt %s --sparsa-contraction-kernels="vnni=true" | FileCheck %s
// RUN: sparsa-opt %s --sparsa-contraction-kernels | FileCheck %s --check-prefix=NOVNNI

/// [Pattern: int8-activation GEMV] activation `int8` of a 4-bit quant_matmul:
/// A's i8 codes (even / odd columns), packed weight bytes, f32 scales,
/// packed 4-bit zero points (sparsa.zero_point_bits), the activation scale
/// per 4 bytes. Per 64-byte step and weight row: nibbles split, two
/// vpdpbusd into 16 i32 lanes, converted and scaled per lane (each lane's
/// block: a shuffle of the step's 4 scales), the next rows prefetched;
/// zero points once per output from the per-block sums of codes. One row
/// of A (decoding): one weight row at a time (one accumulator), so each
/// thread reads its weights as one sequential stream.
#v_a = affine_map<(m, n, k) -> (m, k)>
#v_b = affine_map<(m, n, k) -> (n, k)>
#v_s = affine_map<(m, n, k) -> (n, k floordiv 16)>
#v_z = affine_map<(m, n, k) -> (n, (k floordiv 16) floordiv 2)>
#v_l = affine_map<(m, n, k) -> (m, k floordiv 4)>
#v_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q4_vnni
// CHECK: memref.alloca
// CHECK: arith.extsi {{.+}} : vector<16xi8> to vector<16xi32>
// CHECK-NOT: step %c2
// CHECK: memref.prefetch %arg2
// CHECK: arith.andi {{.+}} : vector<64xi8>
// CHECK: arith.shrui {{.+}} : vector<64xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: arith.sitofp {{.+}} : vector<16xi32> to vector<16xf32>
// CHECK: vector.shuffle {{.+}} [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3] : vector<4xf32>, vector<4xf32>
// CHECK: vector.fma
// CHECK: vector.maskedload %arg4{{.+}} : memref<8x2xi8>, vector<8xi1>, vector<8xi8> into vector<8xi8>
// CHECK-NOT: linalg.generic
// NOVNNI-LABEL: func.func @q4_vnni
// NOVNNI: linalg.generic
// NOVNNI-NOT: vpdpbusd
func.func @q4_vnni(%e: memref<1x64xi8>, %o: memref<1x64xi8>, %b: memref<8x64xi8>,
                   %s: memref<8x4xf32>, %z: memref<8x2xi8>, %l: memref<1x16xf32>,
                   %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#v_a, #v_a, #v_b, #v_s, #v_z, #v_l, #v_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%e, %o, %b, %s, %z, %l : memref<1x64xi8>, memref<1x64xi8>, memref<8x64xi8>, memref<8x4xf32>, memref<8x2xi8>, memref<1x16xf32>)
      outs(%y : memref<1x8xf32>) attrs = {sparsa.kernel = "q4_vnni", sparsa.block_bytes = 16 : i64,
                                          sparsa.zero_point_bits = 4 : i64} {
  ^bb0(%ce: i8, %co: i8, %byte: i8, %sc: f32, %zb: i8, %as: f32, %acc: f32):
    %k = linalg.index 2 : index
    %c16 = arith.constant 16 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %blk = arith.divui %k, %c16 : index
    %r = arith.remui %blk, %c2 : index
    %sh = arith.muli %r, %c4 : index
    %sh32 = arith.index_cast %sh : index to i32
    %z32 = arith.extui %zb : i8 to i32
    %zs = arith.shrui %z32, %sh32 : i32
    %m15 = arith.constant 15 : i32
    %c4i = arith.constant 4 : i32
    %zq = arith.andi %zs, %m15 : i32
    %zf = arith.uitofp %zq : i32 to f32
    %q = arith.extui %byte : i8 to i32
    %lo = arith.andi %q, %m15 : i32
    %hi = arith.shrui %q, %c4i : i32
    %lof = arith.uitofp %lo : i32 to f32
    %hif = arith.uitofp %hi : i32 to f32
    %ef = arith.sitofp %ce : i8 to f32
    %of = arith.sitofp %co : i8 to f32
    %wl = arith.subf %lof, %zf : f32
    %wh = arith.subf %hif, %zf : f32
    %pl = arith.mulf %ef, %wl : f32
    %ph = arith.mulf %of, %wh : f32
    %d = arith.addf %pl, %ph : f32
    %ss = arith.mulf %sc, %as : f32
    %t = arith.mulf %d, %ss : f32
    %sum = arith.addf %acc, %t : f32
    linalg.yield %sum : f32
  }
  return
}

/// The same kernel over 6 rows of A (prefill): pairs of weight rows,
/// each 64-byte step's weight load, nibble split and scales shared by 4
/// rows of A (8 accumulators: 4 rows x 2 weight rows, 16 vpdpbusd), and
/// each column's zero-point correction shared by the 4 rows; then the 2
/// rows left one at a time (2 accumulators).
// CHECK-LABEL: func.func @q4_vnni_rows
// CHECK: scf.for {{.*}} step %c2
// CHECK: scf.for {{.*}} step %c4
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4: vector.load %arg0
// CHECK: %[[W:.*]] = vector.load %arg2
// CHECK: %[[LO:.*]] = arith.andi %[[W]]
// CHECK: %[[HI:.*]] = arith.shrui %[[W]]
// CHECK-NOT: vector.load %arg2
// CHECK-COUNT-4: "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[HI]],
// CHECK: %[[W2:.*]] = vector.load %arg2
// CHECK: %[[HI2:.*]] = arith.shrui %[[W2]]
// CHECK-NOT: vector.load %arg2
// CHECK-COUNT-4: "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[HI2]],
// The zero points' share: each column's scales times zero points once per
// 16 blocks, against the 4 rows' block sums (4 accumulators).
// CHECK: scf.for {{.*}} step %c16{{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[SZ:.*]] = arith.mulf
// CHECK-COUNT-4: vector.fma %[[SZ]]
// CHECK: scf.for {{.*}} step %c1
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>) {
// NOVNNI-LABEL: func.func @q4_vnni_rows
// NOVNNI: linalg.generic
func.func @q4_vnni_rows(%e: memref<6x64xi8>, %o: memref<6x64xi8>, %b: memref<8x64xi8>,
                   %s: memref<8x4xf32>, %z: memref<8x2xi8>, %l: memref<6x16xf32>,
                   %y: memref<6x8xf32>) {
  linalg.generic {indexing_maps = [#v_a, #v_a, #v_b, #v_s, #v_z, #v_l, #v_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%e, %o, %b, %s, %z, %l : memref<6x64xi8>, memref<6x64xi8>, memref<8x64xi8>, memref<8x4xf32>, memref<8x2xi8>, memref<6x16xf32>)
      outs(%y : memref<6x8xf32>) attrs = {sparsa.kernel = "q4_vnni", sparsa.block_bytes = 16 : i64,
                                          sparsa.zero_point_bits = 4 : i64} {
  ^bb0(%ce: i8, %co: i8, %byte: i8, %sc: f32, %zb: i8, %as: f32, %acc: f32):
    %k = linalg.index 2 : index
    %c16 = arith.constant 16 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %blk = arith.divui %k, %c16 : index
    %r = arith.remui %blk, %c2 : index
    %sh = arith.muli %r, %c4 : index
    %sh32 = arith.index_cast %sh : index to i32
    %z32 = arith.extui %zb : i8 to i32
    %zs = arith.shrui %z32, %sh32 : i32
    %m15 = arith.constant 15 : i32
    %c4i = arith.constant 4 : i32
    %zq = arith.andi %zs, %m15 : i32
    %zf = arith.uitofp %zq : i32 to f32
    %q = arith.extui %byte : i8 to i32
    %lo = arith.andi %q, %m15 : i32
    %hi = arith.shrui %q, %c4i : i32
    %lof = arith.uitofp %lo : i32 to f32
    %hif = arith.uitofp %hi : i32 to f32
    %ef = arith.sitofp %ce : i8 to f32
    %of = arith.sitofp %co : i8 to f32
    %wl = arith.subf %lof, %zf : f32
    %wh = arith.subf %hif, %zf : f32
    %pl = arith.mulf %ef, %wl : f32
    %ph = arith.mulf %of, %wh : f32
    %d = arith.addf %pl, %ph : f32
    %ss = arith.mulf %sc, %as : f32
    %t = arith.mulf %d, %ss : f32
    %sum = arith.addf %acc, %t : f32
    linalg.yield %sum : f32
  }
  return
}

/// Rows of A known at run time: kRowBlock (4) or more rows take pairs of
/// weight rows (compute-bound: two weight rows share each load of A),
/// fewer take one weight row at a time (DRAM-bound: one sequential stream).
// CHECK-LABEL: func.func @q4_vnni_dyn_rows
// CHECK: %[[MANY:.+]] = arith.cmpi uge, %{{.+}}, %c4
// CHECK: scf.if %[[MANY]]
// CHECK: scf.for {{.*}} step %c2
// CHECK: scf.for {{.*}} step %c4
// CHECK: } else {
// CHECK-NOT: step %c2
// CHECK: scf.for {{.*}} -> (vector<16xf32>) {
// NOVNNI-LABEL: func.func @q4_vnni_dyn_rows
func.func @q4_vnni_dyn_rows(%e: memref<?x64xi8>, %o: memref<?x64xi8>, %b: memref<8x64xi8>,
                   %s: memref<8x4xf32>, %z: memref<8x2xi8>, %l: memref<?x16xf32>,
                   %y: memref<?x8xf32>) {
  linalg.generic {indexing_maps = [#v_a, #v_a, #v_b, #v_s, #v_z, #v_l, #v_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%e, %o, %b, %s, %z, %l : memref<?x64xi8>, memref<?x64xi8>, memref<8x64xi8>, memref<8x4xf32>, memref<8x2xi8>, memref<?x16xf32>)
      outs(%y : memref<?x8xf32>) attrs = {sparsa.kernel = "q4_vnni", sparsa.block_bytes = 16 : i64,
                                          sparsa.zero_point_bits = 4 : i64} {
  ^bb0(%ce: i8, %co: i8, %byte: i8, %sc: f32, %zb: i8, %as: f32, %acc: f32):
    %k = linalg.index 2 : index
    %c16 = arith.constant 16 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %blk = arith.divui %k, %c16 : index
    %r = arith.remui %blk, %c2 : index
    %sh = arith.muli %r, %c4 : index
    %sh32 = arith.index_cast %sh : index to i32
    %z32 = arith.extui %zb : i8 to i32
    %zs = arith.shrui %z32, %sh32 : i32
    %m15 = arith.constant 15 : i32
    %c4i = arith.constant 4 : i32
    %zq = arith.andi %zs, %m15 : i32
    %zf = arith.uitofp %zq : i32 to f32
    %q = arith.extui %byte : i8 to i32
    %lo = arith.andi %q, %m15 : i32
    %hi = arith.shrui %q, %c4i : i32
    %lof = arith.uitofp %lo : i32 to f32
    %hif = arith.uitofp %hi : i32 to f32
    %ef = arith.sitofp %ce : i8 to f32
    %of = arith.sitofp %co : i8 to f32
    %wl = arith.subf %lof, %zf : f32
    %wh = arith.subf %hif, %zf : f32
    %pl = arith.mulf %ef, %wl : f32
    %ph = arith.mulf %of, %wh : f32
    %d = arith.addf %pl, %ph : f32
    %ss = arith.mulf %sc, %as : f32
    %t = arith.mulf %d, %ss : f32
    %sum = arith.addf %acc, %t : f32
    linalg.yield %sum : f32
  }
  return
}

/// [Pattern: dynamic-quantization GEMV] activation `dynamic`, 8-bit
/// weights: A's uint8 codes are vpdpbusd's unsigned operand, the weight
/// codes minus 128 (a sign flip) its signed one; one pass per (m, n) sums
/// the products and the row's codes; the zero points enter once per output.
#d_a = affine_map<(m, n, k) -> (m, k)>
#d_b = affine_map<(m, n, k) -> (n, k)>
#d_z = affine_map<(m, n, k) -> (n, 0)>
#d_x = affine_map<(m, n, k) -> (0)>
#d_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q8_dyn
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: arith.xori {{.+}} : vector<64xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: vector.maskedload
// CHECK: arith.trunci {{.+}} : i64 to i32
// CHECK-NOT: linalg.generic
// NOVNNI-LABEL: func.func @q8_dyn
// NOVNNI: linalg.generic
func.func @q8_dyn(%x: memref<2x100xi8>, %w: memref<8x100xi8>, %z: memref<8x1xi8>,
                  %xz: memref<1xi32>, %y: memref<2x8xi32>) {
  linalg.generic {indexing_maps = [#d_a, #d_b, #d_z, #d_x, #d_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w, %z, %xz : memref<2x100xi8>, memref<8x100xi8>, memref<8x1xi8>, memref<1xi32>)
      outs(%y : memref<2x8xi32>) attrs = {sparsa.kernel = "q8_dyn"} {
  ^bb0(%xv: i8, %wv: i8, %zv: i8, %xzv: i32, %acc: i32):
    %x32 = arith.extui %xv : i8 to i32
    %xc = arith.subi %x32, %xzv : i32
    %z32 = arith.extui %zv : i8 to i32
    %w32 = arith.extui %wv : i8 to i32
    %wc = arith.subi %w32, %z32 : i32
    %p = arith.muli %xc, %wc : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  return
}

/// [Pattern: float-activation packed GEMV on VNNI] A `q4_gemv` (float A,
/// accuracy_level 0) with VNNI: A's block sums first (the zero points'
/// share), then each block of A as three int8 pieces (round to nearest
/// even, clamped to +-127, the residual to the next piece at 1/254 of the
/// scale) into six code buffers and the per-lane activation scale; then
/// per 64-byte step two vpdpbusd per piece, the pieces' lanes weighed
/// p0 + (p1 + p2 / 254) / 254, scaled per lane, when every activation is
/// finite (else the reference loops); the buffers freed after. Without
/// VNNI the float kernel (vpermps nibble lookups) stays.
#f_e = affine_map<(m, n, k) -> (m, k)>
#f_b = affine_map<(m, n, k) -> (n, k)>
#f_s = affine_map<(m, n, k) -> (n, k floordiv 16)>
#f_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q4_gemv_split
// CHECK: %[[SUMA:.+]] = memref.alloca(%{{.+}}, %{{.+}}) : memref<?x?xf32>
// CHECK-COUNT-6: memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?xi8>
// CHECK: %[[AL:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x?xf32>
// CHECK: vector.reduction <maximumf>
// CHECK: math.roundeven
// CHECK: arith.trunci {{.+}} : vector<16xi32> to vector<16xi8>
// CHECK: vector.fma
// CHECK: math.roundeven
// CHECK: vector.fma
// CHECK: math.roundeven
// CHECK: memref.store %{{.+}}, %[[AL]]
// CHECK: %[[W:.+]] = arith.constant dense<0.00393700786> : vector<16xf32>
// CHECK-COUNT-2: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: arith.sitofp
// CHECK-COUNT-2: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: arith.sitofp
// CHECK: vector.fma %{{.+}}, %[[W]], %{{.+}}
// CHECK-COUNT-2: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: arith.sitofp
// CHECK: vector.fma %{{.+}}, %[[W]], %{{.+}}
// CHECK: linalg.generic {{.+}}sparsa.kernel = "q4_gemv"
// CHECK-COUNT-7: memref.dealloc
// CHECK-NOT: linalg.generic
// NOVNNI-LABEL: func.func @q4_gemv_split
// NOVNNI: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// NOVNNI-NOT: vpdpbusd
func.func @q4_gemv_split(%ae: memref<1x64xf32>, %ao: memref<1x64xf32>, %b: memref<8x64xi8>,
                         %s: memref<8x4xf32>, %z: memref<8x4xf32>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#f_e, #f_e, #f_b, #f_s, #f_s, #f_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ae, %ao, %b, %s, %z : memref<1x64xf32>, memref<1x64xf32>, memref<8x64xi8>, memref<8x4xf32>, memref<8x4xf32>)
      outs(%y : memref<1x8xf32>) attrs = {sparsa.kernel = "q4_gemv", sparsa.block_bytes = 16 : i64} {
  ^bb0(%e: f32, %o: f32, %byte: i8, %sc: f32, %zp: f32, %acc: f32):
    %c15 = arith.constant 15 : i32
    %c4 = arith.constant 4 : i32
    %q = arith.extui %byte : i8 to i32
    %lo = arith.andi %q, %c15 : i32
    %hi = arith.shrui %q, %c4 : i32
    %lof = arith.uitofp %lo : i32 to f32
    %hif = arith.uitofp %hi : i32 to f32
    %wl = arith.subf %lof, %zp : f32
    %wls = arith.mulf %wl, %sc : f32
    %wh = arith.subf %hif, %zp : f32
    %whs = arith.mulf %wh, %sc : f32
    %p1 = arith.mulf %e, %wls : f32
    %a1 = arith.addf %acc, %p1 : f32
    %p2 = arith.mulf %o, %whs : f32
    %a2 = arith.addf %a1, %p2 : f32
    linalg.yield %a2 : f32
  }
  return
}

/// A's preparation runs once per call: with the GEMV tiled over outputs in
/// an scf.forall (the threads' tasks) and A defined outside it, the block
/// sums and pieces are built before the loop and freed after it; when
/// something else in the loop writes memory (here a copy into A), they
/// stay in the task.
#h_e = affine_map<(m, n, k) -> (m, k)>
#h_b = affine_map<(m, n, k) -> (n, k)>
#h_s = affine_map<(m, n, k) -> (n, k floordiv 16)>
#h_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q4_gemv_hoisted
// CHECK: memref.alloca
// CHECK: math.roundeven
// CHECK: scf.forall
// CHECK-NOT: math.roundeven
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: }
// CHECK: memref.dealloc
// CHECK-LABEL: func.func @q4_gemv_not_hoisted
// CHECK: scf.forall
// CHECK: memref.copy
// CHECK: math.roundeven
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// CHECK: memref.dealloc
// CHECK: }
func.func @q4_gemv_hoisted(%ae: memref<1x64xf32>, %ao: memref<1x64xf32>, %b: memref<64x64xi8>,
                           %s: memref<64x4xf32>, %y: memref<1x64xf32>) {
  scf.forall (%t) = (0) to (64) step (16) {
    %bt = memref.subview %b[%t, 0] [16, 64] [1, 1] : memref<64x64xi8> to memref<16x64xi8, strided<[64, 1], offset: ?>>
    %st = memref.subview %s[%t, 0] [16, 4] [1, 1] : memref<64x4xf32> to memref<16x4xf32, strided<[4, 1], offset: ?>>
    %yt = memref.subview %y[0, %t] [1, 16] [1, 1] : memref<1x64xf32> to memref<1x16xf32, strided<[64, 1], offset: ?>>
    linalg.generic {indexing_maps = [#h_e, #h_e, #h_b, #h_s, #h_y],
                    iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%ae, %ao, %bt, %st : memref<1x64xf32>, memref<1x64xf32>, memref<16x64xi8, strided<[64, 1], offset: ?>>, memref<16x4xf32, strided<[4, 1], offset: ?>>)
        outs(%yt : memref<1x16xf32, strided<[64, 1], offset: ?>>)
        attrs = {sparsa.kernel = "q4_gemv", sparsa.block_bytes = 16 : i64, sparsa.zero_point = 8.0 : f32} {
    ^bb0(%e: f32, %o: f32, %byte: i8, %sc: f32, %acc: f32):
      %c15 = arith.constant 15 : i32
      %c4 = arith.constant 4 : i32
      %z = arith.constant 8.0 : f32
      %q = arith.extui %byte : i8 to i32
      %lo = arith.andi %q, %c15 : i32
      %hi = arith.shrui %q, %c4 : i32
      %lof = arith.uitofp %lo : i32 to f32
      %hif = arith.uitofp %hi : i32 to f32
      %wl = arith.subf %lof, %z : f32
      %wls = arith.mulf %wl, %sc : f32
      %wh = arith.subf %hif, %z : f32
      %whs = arith.mulf %wh, %sc : f32
      %p1 = arith.mulf %e, %wls : f32
      %a1 = arith.addf %acc, %p1 : f32
      %p2 = arith.mulf %o, %whs : f32
      %a2 = arith.addf %a1, %p2 : f32
      linalg.yield %a2 : f32
    }
  }
  return
}
func.func @q4_gemv_not_hoisted(%ae: memref<1x64xf32>, %ao: memref<1x64xf32>, %b: memref<64x64xi8>,
                               %s: memref<64x4xf32>, %y: memref<1x64xf32>, %src: memref<1x64xf32>) {
  scf.forall (%t) = (0) to (64) step (16) {
    memref.copy %src, %ae : memref<1x64xf32> to memref<1x64xf32>
    %bt = memref.subview %b[%t, 0] [16, 64] [1, 1] : memref<64x64xi8> to memref<16x64xi8, strided<[64, 1], offset: ?>>
    %st = memref.subview %s[%t, 0] [16, 4] [1, 1] : memref<64x4xf32> to memref<16x4xf32, strided<[4, 1], offset: ?>>
    %yt = memref.subview %y[0, %t] [1, 16] [1, 1] : memref<1x64xf32> to memref<1x16xf32, strided<[64, 1], offset: ?>>
    linalg.generic {indexing_maps = [#h_e, #h_e, #h_b, #h_s, #h_y],
                    iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%ae, %ao, %bt, %st : memref<1x64xf32>, memref<1x64xf32>, memref<16x64xi8, strided<[64, 1], offset: ?>>, memref<16x4xf32, strided<[4, 1], offset: ?>>)
        outs(%yt : memref<1x16xf32, strided<[64, 1], offset: ?>>)
        attrs = {sparsa.kernel = "q4_gemv", sparsa.block_bytes = 16 : i64, sparsa.zero_point = 8.0 : f32} {
    ^bb0(%e: f32, %o: f32, %byte: i8, %sc: f32, %acc: f32):
      %c15 = arith.constant 15 : i32
      %c4 = arith.constant 4 : i32
      %z = arith.constant 8.0 : f32
      %q = arith.extui %byte : i8 to i32
      %lo = arith.andi %q, %c15 : i32
      %hi = arith.shrui %q, %c4 : i32
      %lof = arith.uitofp %lo : i32 to f32
      %hif = arith.uitofp %hi : i32 to f32
      %wl = arith.subf %lof, %z : f32
      %wls = arith.mulf %wl, %sc : f32
      %wh = arith.subf %hif, %z : f32
      %whs = arith.mulf %wh, %sc : f32
      %p1 = arith.mulf %e, %wls : f32
      %a1 = arith.addf %acc, %p1 : f32
      %p2 = arith.mulf %o, %whs : f32
      %a2 = arith.addf %a1, %p2 : f32
      linalg.yield %a2 : f32
    }
  }
  return
}
