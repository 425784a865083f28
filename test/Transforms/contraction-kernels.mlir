// RUN: sparsa-opt %s --split-input-file --sparsa-contraction-kernels | FileCheck %s

#mA = affine_map<(m, n, k) -> (m, k)>
#mB = affine_map<(m, n, k) -> (k, n)>
#mC = affine_map<(m, n, k) -> (m, n)>

/// [Pattern: GEMM] an MR x (4 x 16) tile of C lives in vector registers
/// across a block of up to 256 k steps: 4 loads of B's row k, one broadcast
/// of A per row, 24 FMAs; columns are masked, leftover rows (64 % 6 = 4)
/// get one 4-row tile. A B too large to stay in L2 (here 1030 x 100) has
/// each (column block, k block) panel first packed into a contiguous stack
/// buffer (64 KiB, streamed from L2 by the row tiles).
// CHECK-LABEL: func.func @gemm
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<256x64xf32>
// CHECK: scf.for %[[N0:.+]] = %{{.+}} to %{{.+}} step %c64
// CHECK: scf.for %[[K0:.+]] = %{{.+}} to %c1030 step %c256
// CHECK: %[[K1:.+]] = arith.minui
// CHECK: scf.for
// CHECK: vector.store %{{.+}}, %[[PANEL:.+]][
// CHECK: scf.for %[[M0:.+]] = %{{.+}} to %{{.+}} step %c6
// CHECK-COUNT-4: vector.create_mask
// CHECK: scf.for %{{.+}} = %[[K0]] to %[[K1]] step %{{.+}} iter_args({{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4: vector.load %[[PANEL]]
// CHECK: memref.load %{{.+}} : memref<64x1030xf32>
// CHECK: vector.broadcast
// CHECK-COUNT-4: vector.fma
// CHECK: vector.maskedstore
// CHECK-NOT: linalg.generic
func.func @gemm(%a: memref<64x1030xf32>, %b: memref<1030x100xf32>, %c: memref<64x100xf32>) {
  linalg.generic {indexing_maps = [#mA, #mB, #mC], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<64x1030xf32>, memref<1030x100xf32>) outs(%c : memref<64x100xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

/// A B that stays in L2 (128 x 100, 50 KiB: attention's query block and
/// V) is read in place, no packing; a C zero-filled just before needs no
/// fill: the tiles start from zero registers in the first k block.
// CHECK-LABEL: func.func @gemm_small_b_zero_c
// CHECK-NOT: memref.alloca
// CHECK-NOT: linalg.fill
// CHECK: scf.for %[[K0:.+]] = %{{.+}} to %c128 step %c128
// CHECK: %[[FRESH:.+]] = arith.cmpi eq, %[[K0]], %c0
// CHECK: %[[OLD:.+]] = vector.maskedload %arg2
// CHECK: arith.select %[[FRESH]], %{{.+}}, %[[OLD]] : vector<16xf32>
// CHECK: scf.for
// CHECK-COUNT-4: vector.maskedload %arg1
// CHECK: vector.fma
func.func @gemm_small_b_zero_c(%a: memref<64x128xf32>, %b: memref<128x100xf32>, %c: memref<64x100xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<64x100xf32>)
  linalg.generic {indexing_maps = [#mA, #mB, #mC], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<64x128xf32>, memref<128x100xf32>) outs(%c : memref<64x100xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

/// Near miss of the dropped fill: a fill of another value stays.
// CHECK-LABEL: func.func @gemm_nonzero_fill_stays
// CHECK: linalg.fill
// CHECK-NOT: arith.select
func.func @gemm_nonzero_fill_stays(%a: memref<64x128xf32>, %b: memref<128x100xf32>, %c: memref<64x100xf32>) {
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%c : memref<64x100xf32>)
  linalg.generic {indexing_maps = [#mA, #mB, #mC], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<64x128xf32>, memref<128x100xf32>) outs(%c : memref<64x100xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#gA = affine_map<(m, k, n) -> (m, k)>
#gB = affine_map<(m, k, n) -> (k, n)>
#gC = affine_map<(m, k, n) -> (m, n)>

/// [Pattern: GEMV] one row: eight rows of B stream through each pair of C
/// vectors (C read and written once per eight rows), then the leftover rows
/// one by one.
// CHECK-LABEL: func.func @gemv
// CHECK: scf.for %[[K0:.+]] = %{{.+}} to %{{.+}} step %c8
// CHECK-COUNT-8: vector.broadcast
// CHECK: scf.for %{{.+}} = %{{.+}} to %c300 step %c32
// CHECK-COUNT-16: vector.fma
// CHECK: scf.for %{{.+}} = %{{.+}} to %c1030 step %c1
func.func @gemv(%a: memref<1x1030xf32>, %b: memref<1030x300xf32>, %c: memref<1x300xf32>) {
  linalg.generic {indexing_maps = [#gA, #gB, #gC], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<1x1030xf32>, memref<1030x300xf32>) outs(%c : memref<1x300xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

/// [Pattern: rows known at run time] (the tokens one expert got): up to
/// sixteen rows stream B once: per block of eight B rows and chunk of two
/// vectors of columns (which stays in L1), every row of C takes its eight
/// broadcasts and sixteen FMAs; more rows take the packed GEMM, whose
/// last 1-5 rows (their number known at run time) take one tile of that
/// height.
#dA = affine_map<(m, k, n) -> (m, k)>
#dB = affine_map<(m, k, n) -> (k, n)>
#dC = affine_map<(m, k, n) -> (m, n)>
// CHECK-LABEL: func.func @dynamic_rows
// CHECK: %[[M:.+]] = memref.dim %arg0, %c0
// CHECK: %[[FEW:.+]] = arith.cmpi ule, %[[M]], %c16
// CHECK: scf.if %[[FEW]]
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c8
// CHECK: scf.for %{{.+}} = %{{.+}} to %c300 step %c32
// CHECK: scf.for %{{.+}} = %{{.+}} to %[[M]] step
// CHECK-COUNT-8: vector.broadcast
// CHECK: } else {
// CHECK: step %c6
// CHECK: scf.index_switch
// CHECK: case 1 {
// CHECK-COUNT-4: vector.fma
// CHECK: case 5 {
// CHECK-COUNT-20: vector.fma
// CHECK: default {
func.func @dynamic_rows(%a: memref<?x64xf32>, %b: memref<64x300xf32>, %c: memref<?x300xf32>) {
  linalg.generic {indexing_maps = [#dA, #dB, #dC], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<?x64xf32>, memref<64x300xf32>) outs(%c : memref<?x300xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

/// Near misses stay generic: an epilogue in the body (not a plain
/// multiply-add), integer elements.
#tA = affine_map<(m, n, k) -> (m, k)>
#kB = affine_map<(m, n, k) -> (k, n)>
#tB = affine_map<(m, n, k) -> (n, k)>
#tC = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @negative_epilogue_in_body
// CHECK: linalg.generic
// CHECK: arith.maximumf
// CHECK-NOT: vector.fma
func.func @negative_epilogue_in_body(%a: memref<8x16xf32>, %b: memref<16x32xf32>, %c: memref<8x32xf32>) {
  linalg.generic {indexing_maps = [#tA, #kB, #tC], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<8x16xf32>, memref<16x32xf32>) outs(%c : memref<8x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %r = arith.maximumf %p, %acc : f32
    %s = arith.addf %acc, %r : f32
    linalg.yield %s : f32
  }
  return
}

// CHECK-LABEL: func.func @negative_integer
// CHECK: linalg.generic
// CHECK: arith.muli
// CHECK-NOT: vector.
func.func @negative_integer(%ai: memref<8x16xi32>, %bi: memref<16x32xi32>, %ci: memref<8x32xi32>) {
  linalg.generic {indexing_maps = [#tA, #kB, #tC], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ai, %bi : memref<8x16xi32>, memref<16x32xi32>) outs(%ci : memref<8x32xi32>) {
  ^bb0(%x: i32, %y: i32, %acc: i32):
    %p = arith.muli %x, %y : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  return
}

/// A transposed B (n not contiguous, k contiguous in both inputs) is not a
/// GEMM tile but a row reduction: dot products along k.
// CHECK-LABEL: func.func @dot_products_transposed_b
// CHECK: scf.for
// CHECK: vector.maskedload {{.+}} memref<8x16xf32>
// CHECK: vector.maskedload {{.+}} memref<32x16xf32>
// CHECK: vector.reduction <add>
// CHECK-NOT: linalg.generic
func.func @dot_products_transposed_b(%a: memref<8x16xf32>, %bt: memref<32x16xf32>, %c: memref<8x32xf32>) {
  linalg.generic {indexing_maps = [#tA, #tB, #tC], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %bt : memref<8x16xf32>, memref<32x16xf32>) outs(%c : memref<8x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#x = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>

/// [Pattern: row reduction] softmax's sum of exp(x - max): four vector
/// accumulators run along the row (so consecutive adds do not wait on each
/// other; masked tail lanes keep their value), the element-wise body is
/// cloned on vectors, the accumulators are combined and reduced across
/// lanes once per row.
// CHECK-LABEL: func.func @exp_sum
// CHECK: scf.for %[[I:.+]] = %{{.+}} to %c7
// CHECK: %[[M:.+]] = memref.load %{{.+}}[%[[I]]] : memref<7xf32>
// CHECK: %[[MV:.+]] = vector.broadcast %[[M]] : f32 to vector<16xf32>
// CHECK: scf.for %{{.+}} = %{{.+}} to %c100 step %c64 iter_args(%[[ACC:.+]] = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: %[[MASK:.+]] = vector.create_mask
// CHECK: %[[X:.+]] = vector.maskedload %{{.+}}, %[[MASK]]
// CHECK: arith.subf %[[X]], %[[MV]] : vector<16xf32>
// CHECK: math.exp {{.+}} : vector<16xf32>
// CHECK: %[[SUM:.+]] = arith.addf %[[ACC]], {{.+}} fastmath<reassoc,contract> : vector<16xf32>
// CHECK: arith.select %[[MASK]], %[[SUM]], %[[ACC]]
// CHECK-COUNT-3: math.exp
// CHECK: scf.yield
// CHECK-COUNT-3: arith.addf {{.+}} fastmath<reassoc,contract> : vector<16xf32>
// CHECK: vector.reduction <add>, %{{.+}}, %{{.+}} fastmath<reassoc,contract> : vector<16xf32> into f32
// CHECK: memref.store
func.func @exp_sum(%x: memref<7x100xf32>, %m: memref<7xf32>, %s: memref<7xf32>) {
  linalg.generic {indexing_maps = [#x, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %m : memref<7x100xf32>, memref<7xf32>) outs(%s : memref<7xf32>) {
  ^bb0(%a: f32, %mx: f32, %acc: f32):
    %d = arith.subf %a, %mx : f32
    %e = math.exp %d : f32
    %r = arith.addf %acc, %e : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#x2 = affine_map<(i, j) -> (i, j)>
#col = affine_map<(i, j) -> (j)>

/// Near misses of a row reduction: the reduction is not the innermost loop
/// (a column sum), and a body reading the loop index.
// CHECK-LABEL: func.func @negative_reduction_not_innermost
// CHECK: linalg.generic
// CHECK-NOT: vector.reduction
func.func @negative_reduction_not_innermost(%x: memref<7x100xf32>, %s: memref<100xf32>) {
  linalg.generic {indexing_maps = [#x2, #col], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<7x100xf32>) outs(%s : memref<100xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  }
  return
}

#rowmap = affine_map<(i, j) -> (i)>
// CHECK-LABEL: func.func @negative_index_in_body
// CHECK: linalg.generic
// CHECK: linalg.index
// CHECK-NOT: vector.reduction
func.func @negative_index_in_body(%x: memref<7x100xf32>, %s: memref<7xf32>) {
  linalg.generic {indexing_maps = [#x2, #rowmap], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<7x100xf32>) outs(%s : memref<7xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i64
    %jf = arith.sitofp %ji : i64 to f32
    %p = arith.mulf %a, %jf : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

/// [Pattern: gathered rows] dot products of x with the listed rows of w
/// (activation sparsity's active or core neurons): eight rows at a time,
/// eight accumulators over masked vectors of the row, so eight streams
/// from memory are in flight; the leftover rows one by one.
#gx = affine_map<(j, h) -> (h)>
#gj = affine_map<(j, h) -> (j)>
// CHECK-LABEL: func.func @gather_dot
// CHECK: %[[N:.+]] = memref.dim %arg1, %c0
// CHECK: scf.for %[[J0:.+]] = %{{.+}} to %{{.+}} step %c8
// CHECK-COUNT-8: memref.load %arg1
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16 iter_args({{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.maskedload %arg0
// CHECK-COUNT-8: vector.maskedload %arg3
// CHECK: vector.reduction <add>
// CHECK: scf.for %{{.+}} = %{{.+}} to %[[N]] step %c1
// CHECK-NOT: linalg.generic
func.func @gather_dot(%x: memref<100xf32>, %idx: memref<?xindex>, %out: memref<?xf32>, %w: memref<64x100xf32>) {
  linalg.generic {indexing_maps = [#gx, #gj, #gj], iterator_types = ["parallel", "reduction"]}
      ins(%x, %idx : memref<100xf32>, memref<?xindex>) outs(%out : memref<?xf32>) attrs = {sparsa.kernel = "gather_dot"} {
  ^bb0(%xv: f32, %i: index, %acc: f32):
    %h = linalg.index 1 : index
    %wv = memref.load %w[%i, %h] : memref<64x100xf32>
    %p = arith.mulf %xv, %wv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

/// axpys of the listed rows of w (from column `off`) into a block of the
/// output: eight rows per pass over the block, the output read and written
/// once per eight rows.
#aj = affine_map<(j, c) -> (j)>
#ac = affine_map<(j, c) -> (c)>
// CHECK-LABEL: func.func @gather_axpy
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c8
// CHECK-COUNT-8: vector.broadcast
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c32
// CHECK: vector.maskedload %arg2
// CHECK: arith.addi %{{.+}}, %arg4
// CHECK: vector.maskedload %arg3
// CHECK-COUNT-15: vector.fma
// CHECK: vector.maskedstore %arg2
// CHECK-NOT: linalg.generic
func.func @gather_axpy(%a: memref<?xf32>, %idx: memref<?xindex>, %out: memref<?xf32>, %w: memref<64x100xf32>, %off: index) {
  linalg.generic {indexing_maps = [#aj, #aj, #ac], iterator_types = ["reduction", "parallel"]}
      ins(%a, %idx : memref<?xf32>, memref<?xindex>) outs(%out : memref<?xf32>) attrs = {sparsa.kernel = "gather_axpy"} {
  ^bb0(%av: f32, %i: index, %acc: f32):
    %c = linalg.index 1 : index
    %col = arith.addi %c, %off : index
    %wv = memref.load %w[%i, %col] : memref<64x100xf32>
    %p = arith.mulf %av, %wv : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

/// [Pattern: packed gathered axpy] A quantized sparse FFN's down projection
/// with 4-bit codes, by segments: each run of listed rows in one block of
/// neurons (at most 16; its end found by a scan whose index reads are
/// clamped to the list) shares the block's scales and zero points (s (sum
/// a q - z sum a), sum a once per segment). 32 columns per step, each row's
/// 16 code bytes widened once, low nibbles (even columns) and high nibbles
/// (odd columns) turned into floats by one vpermps lookup each, times a[j],
/// rows in pairs (two chains) then the odd one; the codes of the row 16
/// places down the list (to L2), and the next segment's scales and zero
/// points, prefetched at the same columns; the output, scales
/// and zero points split into even and odd columns once per segment and
/// step, the output interleaved back.
#qj = affine_map<(j, c) -> (j)>
#qc = affine_map<(j, c) -> (c)>
// CHECK-LABEL: func.func @q_gather_axpy
// CHECK: scf.while
// CHECK: memref.load %arg1
// CHECK: arith.divui %{{.+}}, %c32
// CHECK: arith.minui
// CHECK: scf.while
// CHECK: arith.minui
// CHECK: memref.load %arg1
// CHECK: scf.condition
// CHECK: scf.for {{.+}} iter_args({{.+}}) -> (f32)
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c32
// CHECK-COUNT-2: memref.prefetch %arg4
// CHECK: memref.prefetch %arg5
// CHECK: scf.for {{.+}} step %c2{{.*}} iter_args({{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: memref.prefetch %arg3
// CHECK: vector.maskedload %arg3{{.+}} : memref<256x64xi8>, vector<16xi1>, vector<16xi8> into vector<16xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: arith.shrui
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: vector.fma
// CHECK: scf.if
// CHECK: memref.prefetch %arg3
// CHECK-COUNT-2: vector.maskedload %arg2
// CHECK: vector.shuffle
// CHECK-COUNT-2: vector.maskedload %arg4{{.+}} : memref<8x128xf32>
// CHECK-COUNT-2: vector.maskedload %arg5{{.+}} : memref<8x128xi8>
// CHECK: vector.fma
// CHECK: vector.shuffle {{.+}} [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23]
// CHECK-COUNT-2: vector.maskedstore %arg2
// CHECK-NOT: linalg.generic
func.func @q_gather_axpy(%a: memref<?xf32>, %idx: memref<?xindex>, %out: memref<?xf32>,
                         %w: memref<256x64xi8>, %s: memref<8x128xf32>, %z: memref<8x128xi8>,
                         %off: index) {
  linalg.generic {indexing_maps = [#qj, #qj, #qc], iterator_types = ["reduction", "parallel"]}
      ins(%a, %idx : memref<?xf32>, memref<?xindex>) outs(%out : memref<?xf32>) attrs = {sparsa.kernel = "q_gather_axpy", sparsa.bits = 4 : i64, sparsa.block_rows = 32 : i64} {
  ^bb0(%av: f32, %i: index, %acc: f32):
    %c = linalg.index 1 : index
    %col = arith.addi %c, %off : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c32 = arith.constant 32 : index
    %bit = arith.muli %col, %c4 : index
    %byteIdx = arith.divui %bit, %c8 : index
    %byte = memref.load %w[%i, %byteIdx] : memref<256x64xi8>
    %sh = arith.remui %bit, %c8 : index
    %sh32 = arith.index_cast %sh : index to i32
    %b32 = arith.extui %byte : i8 to i32
    %q0 = arith.shrui %b32, %sh32 : i32
    %m = arith.constant 15 : i32
    %q = arith.andi %q0, %m : i32
    %blk = arith.divui %i, %c32 : index
    %zb = memref.load %z[%blk, %col] : memref<8x128xi8>
    %zf = arith.uitofp %zb : i8 to f32
    %sv = memref.load %s[%blk, %col] : memref<8x128xf32>
    %qf = arith.uitofp %q : i32 to f32
    %d = arith.subf %qf, %zf : f32
    %wv = arith.mulf %d, %sv : f32
    %p = arith.mulf %av, %wv : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}


// -----

/// [Pattern: packed gathered axpy, 2-bit] Groups of eight listed rows: when
/// they share a block of neurons, 16 columns per step with one multiply-add
/// per row and the block's scales and zero points once; otherwise each
/// row's 4 code bytes widened (bytes duplicated, shifted by 0 / 2 / 4 / 6,
/// a vpermps lookup) and dequantized with its own block's.
#qj2 = affine_map<(j, c) -> (j)>
#qc2 = affine_map<(j, c) -> (c)>
// CHECK-LABEL: func.func @q_gather_axpy_2bit
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c8
// CHECK: arith.divui %{{.+}}, %c32
// CHECK: scf.if
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16
// CHECK: vector.maskedload %arg3{{.+}} : memref<256x32xi8>, vector<4xi1>, vector<4xi8> into vector<4xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: vector.fma
// CHECK: vector.maskedload %arg4{{.+}} : memref<8x128xf32>
// CHECK: vector.maskedstore %arg2
// CHECK: } else {
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16
// CHECK: vector.maskedload %arg3{{.+}} : memref<256x32xi8>, vector<4xi1>, vector<4xi8> into vector<4xi8>
// CHECK: vector.shuffle
// CHECK: arith.shrui
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: vector.maskedload %arg5{{.+}} : memref<8x128xi8>
// CHECK: vector.maskedload %arg4{{.+}} : memref<8x128xf32>
// CHECK: arith.subf
// CHECK: vector.fma
// CHECK: vector.maskedstore %arg2
// CHECK-NOT: linalg.generic
func.func @q_gather_axpy_2bit(%a: memref<?xf32>, %idx: memref<?xindex>, %out: memref<?xf32>,
                              %w: memref<256x32xi8>, %s: memref<8x128xf32>, %z: memref<8x128xi8>,
                              %off: index) {
  linalg.generic {indexing_maps = [#qj2, #qj2, #qc2], iterator_types = ["reduction", "parallel"]}
      ins(%a, %idx : memref<?xf32>, memref<?xindex>) outs(%out : memref<?xf32>) attrs = {sparsa.kernel = "q_gather_axpy", sparsa.bits = 2 : i64, sparsa.block_rows = 32 : i64} {
  ^bb0(%av: f32, %i: index, %acc: f32):
    %c = linalg.index 1 : index
    %col = arith.addi %c, %off : index
    %c2 = arith.constant 2 : index
    %c8 = arith.constant 8 : index
    %c32 = arith.constant 32 : index
    %bit = arith.muli %col, %c2 : index
    %byteIdx = arith.divui %bit, %c8 : index
    %byte = memref.load %w[%i, %byteIdx] : memref<256x32xi8>
    %sh = arith.remui %bit, %c8 : index
    %sh32 = arith.index_cast %sh : index to i32
    %b32 = arith.extui %byte : i8 to i32
    %q0 = arith.shrui %b32, %sh32 : i32
    %m = arith.constant 3 : i32
    %q = arith.andi %q0, %m : i32
    %blk = arith.divui %i, %c32 : index
    %zb = memref.load %z[%blk, %col] : memref<8x128xi8>
    %zf = arith.uitofp %zb : i8 to f32
    %sv = memref.load %s[%blk, %col] : memref<8x128xf32>
    %qf = arith.uitofp %q : i32 to f32
    %d = arith.subf %qf, %zf : f32
    %wv = arith.mulf %d, %sv : f32
    %p = arith.mulf %av, %wv : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

/// [Pattern: packed gathered dot products] A quantized GLU's linear part:
/// x split once into its even and odd entries (masked loads past its end,
/// two shuffles) and summed per block; a non-finite block sum takes the
/// reference loops (the generic, kept in the else-branch). Rows two at a
/// time: per block, 16 code bytes of each row widened once, low / high
/// nibbles turned into floats by vpermps lookups times x's even / odd
/// entries, the block's sum scaled once; the packed zero points apply once
/// per row through x's block sums.
#dx = affine_map<(j, k) -> (k)>
#dj = affine_map<(j, k) -> (j)>
// CHECK-LABEL: func.func @q_gather_dot
// CHECK-COUNT-2: memref.alloca() : memref<1x64xf32>
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16
// CHECK-COUNT-2: vector.maskedload %arg0
// CHECK: vector.shuffle {{.+}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]
// CHECK: vector.shuffle {{.+}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]
// CHECK: scf.if
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c2
// CHECK: scf.for {{.+}} iter_args({{.+}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %arg3{{.+}} : memref<512x64xi8>, vector<16xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: arith.shrui
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: vector.fma
// CHECK: memref.load %arg5
// CHECK: vector.fma
// CHECK: vector.maskedload %arg5
// CHECK: vector.maskedload %arg4
// CHECK: vector.reduction <add>
// CHECK: } else {
// CHECK: linalg.generic
// CHECK-SAME: sparsa.kernel = "q_gather_dot"
func.func @q_gather_dot(%x: memref<128xf32>, %idx: memref<?xindex>, %out: memref<?xf32>,
                        %w: memref<512x64xi8>, %z: memref<512x2xi8>, %s: memref<512x4xf32>) {
  linalg.generic {indexing_maps = [#dx, #dj, #dj], iterator_types = ["parallel", "reduction"]}
      ins(%x, %idx : memref<128xf32>, memref<?xindex>) outs(%out : memref<?xf32>) attrs = {sparsa.kernel = "q_gather_dot", sparsa.bits = 4 : i64, sparsa.block_size = 32 : i64, sparsa.zero_point_bits = 4 : i64} {
  ^bb0(%xv: f32, %r: index, %acc: f32):
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c32 = arith.constant 32 : index
    %c15 = arith.constant 15 : i32
    %k = linalg.index 1 : index
    %bit = arith.muli %k, %c4 : index
    %byteIdx = arith.divui %bit, %c8 : index
    %byte = memref.load %w[%r, %byteIdx] : memref<512x64xi8>
    %sh = arith.remui %bit, %c8 : index
    %sh32 = arith.index_cast %sh : index to i32
    %b32 = arith.extui %byte : i8 to i32
    %q0 = arith.shrui %b32, %sh32 : i32
    %q = arith.andi %q0, %c15 : i32
    %blk = arith.divui %k, %c32 : index
    %zbit = arith.muli %blk, %c4 : index
    %zbyte = arith.divui %zbit, %c8 : index
    %zb = memref.load %z[%r, %zbyte] : memref<512x2xi8>
    %zsh = arith.remui %zbit, %c8 : index
    %zsh32 = arith.index_cast %zsh : index to i32
    %zb32 = arith.extui %zb : i8 to i32
    %z0 = arith.shrui %zb32, %zsh32 : i32
    %zq = arith.andi %z0, %c15 : i32
    %zf = arith.uitofp %zq : i32 to f32
    %sv = memref.load %s[%r, %blk] : memref<512x4xf32>
    %qf = arith.uitofp %q : i32 to f32
    %d = arith.subf %qf, %zf : f32
    %wv = arith.mulf %d, %sv : f32
    %p = arith.mulf %xv, %wv : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return
}

// -----

/// [Pattern: packed gathered dot products, 8-bit] One code per byte: x
/// copied once, zero-padded (no even / odd split); per 16 bytes of a row
/// the codes converted to floats and multiplied with x.
#dx8 = affine_map<(j, k) -> (k)>
#dj8 = affine_map<(j, k) -> (j)>
// CHECK-LABEL: func.func @q_gather_dot_8bit
// CHECK: memref.alloca() : memref<1x128xf32>
// CHECK-NOT: memref.alloca() : memref<1x128xf32>
// CHECK: vector.maskedload %arg0
// CHECK-NOT: vector.shuffle
// CHECK: scf.if
// CHECK: vector.load %arg3{{.+}} : memref<512x128xi8>, vector<16xi8>
// CHECK: arith.uitofp {{.+}} : vector<16xi32> to vector<16xf32>
// CHECK: vector.fma
// CHECK: } else {
// CHECK: linalg.generic
func.func @q_gather_dot_8bit(%x: memref<120xf32>, %idx: memref<?xindex>, %out: memref<?xf32>,
                             %w: memref<512x128xi8>, %s: memref<512x8xf32>) {
  linalg.generic {indexing_maps = [#dx8, #dj8, #dj8], iterator_types = ["parallel", "reduction"]}
      ins(%x, %idx : memref<120xf32>, memref<?xindex>) outs(%out : memref<?xf32>) attrs = {sparsa.kernel = "q_gather_dot", sparsa.bits = 8 : i64, sparsa.block_size = 16 : i64, sparsa.zero_point = 128.0 : f32} {
  ^bb0(%xv: f32, %r: index, %acc: f32):
    %c16 = arith.constant 16 : index
    %k = linalg.index 1 : index
    %byte = memref.load %w[%r, %k] : memref<512x128xi8>
    %b32 = arith.extui %byte : i8 to i32
    %blk = arith.divui %k, %c16 : index
    %sv = memref.load %s[%r, %blk] : memref<512x8xf32>
    %qf = arith.uitofp %b32 : i32 to f32
    %z = arith.constant 128.0 : f32
    %d = arith.subf %qf, %z : f32
    %wv = arith.mulf %d, %sv : f32
    %p = arith.mulf %xv, %wv : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  }
  return
}
// -----

/// [Pattern: packed 4-bit GEMV] MatMulNBits decoding: per output column and
/// row of A, blocks of 16 packed bytes widened to 32 nibbles (low = even k,
/// high = odd k) against A's even and odd columns, four blocks per step
/// into four accumulators, each block's sum scaled once; the zero points
/// enter once per output through each block's sum of A (computed first,
/// sixteen blocks per vector). Those sums also say whether every
/// activation is finite (|sum| <= FLT_MAX): an Inf keeps IEEE semantics
/// through the reference loops (the generic, kept in the else-branch),
/// which the zero-point algebra would turn into NaN.
#q_e = affine_map<(m, n, k) -> (m, k)>
#q_b = affine_map<(m, n, k) -> (n, k)>
#q_s = affine_map<(m, n, k) -> (n, k floordiv 16)>
#q_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q4_gemv
// CHECK: %[[SUMA:.+]] = memref.alloca(%{{.+}}, %{{.+}}) : memref<?x?xf32>
// CHECK: vector.reduction <add>
// CHECK: memref.store %{{.+}}, %[[SUMA]]
// CHECK: vector.load %[[SUMA]]
// CHECK-NEXT: math.absf
// CHECK: arith.cmpf ole
// CHECK: vector.reduction <and>
// CHECK: %[[FINITE:.+]] = memref.load
// CHECK: scf.if %[[FINITE]] {
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c4{{.*}} iter_args({{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %arg2{{.+}} : memref<8x64xi8>, vector<16xi8>
// CHECK: arith.extui {{.+}} : vector<16xi8> to vector<16xi32>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: arith.shrui
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: vector.fma
// CHECK: vector.maskedload %arg3
// CHECK: vector.maskedload %arg4
// CHECK: vector.load %[[SUMA]]
// CHECK: } else {
// CHECK-NEXT: linalg.generic {{.+}}sparsa.kernel = "q4_gemv"
// CHECK-NOT: linalg.generic
func.func @q4_gemv(%ae: memref<1x64xf32>, %ao: memref<1x64xf32>, %b: memref<8x64xi8>,
                   %s: memref<8x4xf32>, %z: memref<8x4xf32>, %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#q_e, #q_e, #q_b, #q_s, #q_s, #q_y],
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

// -----

/// [Pattern: packed 8-bit GEMV] the 8-bit twin (DequantizeLinear int8
/// weights, MatMulNBits bits = 8): one A operand, a byte per column of A,
/// the zero point one constant for all blocks (sparsa.zero_point).
#q8_a = affine_map<(m, n, k) -> (m, k)>
#q8_b = affine_map<(m, n, k) -> (n, k)>
#q8_s = affine_map<(m, n, k) -> (n, k floordiv 32)>
#q8_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q8_gemv
// CHECK: %[[SUMA:.+]] = memref.alloca(%{{.+}}, %{{.+}}) : memref<?x?xf32>
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c4{{.*}} iter_args({{.+}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %arg1{{.+}} : memref<8x128xi8>, vector<16xi8>
// CHECK-NEXT: arith.extui {{.+}} : vector<16xi8> to vector<16xi32>
// CHECK-NEXT: arith.uitofp
// CHECK-NOT: arith.shrui
// CHECK: vector.fma
// CHECK: arith.constant 1.280000e+02 : f32
// CHECK: } else {
// CHECK-NEXT: linalg.generic {{.+}}sparsa.kernel = "q8_gemv"
// CHECK-NOT: linalg.generic
func.func @q8_gemv(%a: memref<1x128xf32>, %b: memref<8x128xi8>, %s: memref<8x4xf32>,
                   %y: memref<1x8xf32>) {
  linalg.generic {indexing_maps = [#q8_a, #q8_b, #q8_s, #q8_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %s : memref<1x128xf32>, memref<8x128xi8>, memref<8x4xf32>)
      outs(%y : memref<1x8xf32>) attrs = {sparsa.kernel = "q8_gemv", sparsa.block_bytes = 32 : i64,
                                          sparsa.zero_point = 128.0 : f32} {
  ^bb0(%x: f32, %byte: i8, %sc: f32, %acc: f32):
    %zp = arith.constant 128.0 : f32
    %q = arith.extui %byte : i8 to i32
    %qf = arith.uitofp %q : i32 to f32
    %w = arith.subf %qf, %zp : f32
    %ws = arith.mulf %w, %sc : f32
    %p = arith.mulf %x, %ws : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

/// [Pattern: packed 4-bit GEMM] many rows of A (prefill), computed
/// transposed: C^T [N, Mp] += W A^T with A^T's even and odd halves
/// [Kh, Mp]. Per 128 code bytes and tile of 6 rows of W, the tile's weights
/// are dequantized once ((q - z) s, the nibbles by vpermps lookups, the
/// packed zero points' nibble per block) into two L1 buffers; then per 64
/// columns of C^T a 6 x 4 tile of accumulators takes, per k and half, four
/// vectors of A^T against one broadcast weight per row (24 FMAs); the last
/// 1-3 vectors of columns (80 = 64 + 16 here) take one tile of that width,
/// masked; rows past the last whole tile (8 = 6 + 2) go one at a time.
#g_a = affine_map<(n, m, k) -> (k, m)>
#g_b = affine_map<(n, m, k) -> (n, k)>
#g_s = affine_map<(n, m, k) -> (n, k floordiv 16)>
#g_z = affine_map<(n, m, k) -> (n, k floordiv 32)>
#g_y = affine_map<(n, m, k) -> (n, m)>
// CHECK-LABEL: func.func @q4_gemm
// CHECK-DAG: %[[WE:.+]] = memref.alloca() {alignment = 64 : i64} : memref<6x128xf32>
// CHECK-DAG: %[[WO:.+]] = memref.alloca() {alignment = 64 : i64} : memref<6x128xf32>
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c128
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c6
// CHECK: memref.load %arg4
// CHECK: arith.shrui
// CHECK: arith.andi
// CHECK: vector.load %arg2{{.+}} : memref<8x16xi8>, vector<16xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: vector.store %{{.+}}, %[[WE]]
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: vector.store %{{.+}}, %[[WO]]
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c64
// CHECK-COUNT-24: vector.load %arg5
// CHECK: scf.for {{.+}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4: vector.load %arg0
// CHECK: memref.load %[[WE]]
// CHECK-COUNT-4: vector.fma
// CHECK: scf.index_switch
// CHECK: case 1 {
// CHECK: vector.maskedload %arg5
// CHECK: case 2 {
// CHECK: case 3 {
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c1{{(_[0-9]+)?}} {
// CHECK-NOT: linalg.generic
func.func @q4_gemm(%ae: memref<16x80xf32>, %ao: memref<16x80xf32>, %b: memref<8x16xi8>,
                   %s: memref<8x1xf32>, %z: memref<8x1xi8>, %y: memref<8x80xf32>) {
  linalg.generic {indexing_maps = [#g_a, #g_a, #g_b, #g_s, #g_z, #g_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ae, %ao, %b, %s, %z : memref<16x80xf32>, memref<16x80xf32>, memref<8x16xi8>, memref<8x1xf32>, memref<8x1xi8>)
      outs(%y : memref<8x80xf32>) attrs = {sparsa.kernel = "q4_gemm", sparsa.block_bytes = 16 : i64,
                                            sparsa.zero_point_bits = 4 : i64} {
  ^bb0(%e: f32, %o: f32, %byte: i8, %sc: f32, %zb: i8, %acc: f32):
    %c15 = arith.constant 15 : i32
    %c4 = arith.constant 4 : i32
    %q = arith.extui %byte : i8 to i32
    %lo = arith.andi %q, %c15 : i32
    %hi = arith.shrui %q, %c4 : i32
    %lof = arith.uitofp %lo : i32 to f32
    %hif = arith.uitofp %hi : i32 to f32
    %z32 = arith.extui %zb : i8 to i32
    %zl = arith.andi %z32, %c15 : i32
    %zp = arith.uitofp %zl : i32 to f32
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

// -----

/// [Pattern: packed 8-bit GEMM] the 8-bit twin: one A^T operand, each code
/// byte one weight (converted, no nibbles), one buffer; the constant zero
/// point (sparsa.zero_point).
#h_a = affine_map<(n, m, k) -> (k, m)>
#h_b = affine_map<(n, m, k) -> (n, k)>
#h_s = affine_map<(n, m, k) -> (n, k floordiv 32)>
#h_y = affine_map<(n, m, k) -> (n, m)>
// CHECK-LABEL: func.func @q8_gemm
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<6x128xf32>
// CHECK-NOT: memref.alloca()
// CHECK: arith.constant 1.280000e+02 : f32
// CHECK: vector.load %arg1{{.+}} : memref<12x64xi8>, vector<16xi8>
// CHECK-NEXT: arith.extui
// CHECK-NEXT: arith.uitofp
// CHECK-NOT: permvar
// CHECK: scf.for {{.+}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4: vector.load %arg0
// CHECK-NOT: linalg.generic
func.func @q8_gemm(%a: memref<64x64xf32>, %b: memref<12x64xi8>, %s: memref<12x2xf32>,
                   %y: memref<12x64xf32>) {
  linalg.generic {indexing_maps = [#h_a, #h_b, #h_s, #h_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %s : memref<64x64xf32>, memref<12x64xi8>, memref<12x2xf32>)
      outs(%y : memref<12x64xf32>) attrs = {sparsa.kernel = "q8_gemm", sparsa.block_bytes = 32 : i64,
                                            sparsa.zero_point = 1.280000e+02 : f32} {
  ^bb0(%e: f32, %byte: i8, %sc: f32, %acc: f32):
    %zp = arith.constant 1.280000e+02 : f32
    %q = arith.extui %byte : i8 to i32
    %qf = arith.uitofp %q : i32 to f32
    %w = arith.subf %qf, %zp : f32
    %ws = arith.mulf %w, %sc : f32
    %p = arith.mulf %e, %ws : f32
    %a1 = arith.addf %acc, %p : f32
    linalg.yield %a1 : f32
  }
  return
}

// -----

/// [Pattern: dequantizing GEMM panel] a quantized sparse FFN's down
/// projection with many tokens, y += a w with w's 4-bit codes in place,
/// one row per k along n (k, n / 2), its scales and zero points (one code
/// per byte) per block of 32 rows of k: the float GEMM's loops (64 columns
/// by 256 k per panel, 6-row register tiles) with each panel dequantized,
/// (q - z) s, as it is packed (8 bytes of a row widened to 16 nibbles in n
/// order); the last 1-5 rows take one tile of that height.
#kn_a = affine_map<(m, n, k) -> (m, k)>
#kn_w = affine_map<(m, n, k) -> (k, n floordiv 2)>
#kn_s = affine_map<(m, n, k) -> (k floordiv 32, n)>
#kn_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q4_gemm_kn
// CHECK: %[[PANEL:.+]] = memref.alloca() {alignment = 64 : i64} : memref<256x64xf32>
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c64
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c256
// CHECK: scf.for
// CHECK: vector.maskedload %arg1{{.+}} : memref<300x48xi8>, vector<8xi1>, vector<8xi8>
// CHECK: vector.shuffle
// CHECK: arith.shrui
// CHECK: arith.andi
// CHECK: vector.maskedload %arg2
// CHECK: vector.maskedload %arg3
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: vector.store %{{.+}}, %[[PANEL]]
// CHECK: scf.for {{.+}} step %c6
// CHECK: vector.load %[[PANEL]]
// CHECK: vector.fma
// CHECK: scf.index_switch
// CHECK: case 5 {
// CHECK-NOT: linalg.generic
func.func @q4_gemm_kn(%a: memref<?x300xf32>, %w: memref<300x48xi8>, %s: memref<10x96xf32>,
                      %z: memref<10x96xi8>, %y: memref<?x96xf32>) {
  linalg.generic {indexing_maps = [#kn_a, #kn_w, #kn_s, #kn_s, #kn_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w, %s, %z : memref<?x300xf32>, memref<300x48xi8>, memref<10x96xf32>, memref<10x96xi8>)
      outs(%y : memref<?x96xf32>) attrs = {sparsa.kernel = "q4_gemm_kn", sparsa.block_size = 32 : i64} {
  ^bb0(%x: f32, %byte: i8, %sc: f32, %zb: i8, %acc: f32):
    %c15 = arith.constant 15 : i32
    %c4 = arith.constant 4 : i32
    %c2 = arith.constant 2 : index
    %n = linalg.index 1 : index
    %odd = arith.remui %n, %c2 : index
    %odd32 = arith.index_cast %odd : index to i32
    %sh = arith.muli %odd32, %c4 : i32
    %q = arith.extui %byte : i8 to i32
    %qs = arith.shrui %q, %sh : i32
    %qn = arith.andi %qs, %c15 : i32
    %qf = arith.uitofp %qn : i32 to f32
    %z32 = arith.extui %zb : i8 to i32
    %zf = arith.uitofp %z32 : i32 to f32
    %w0 = arith.subf %qf, %zf : f32
    %w1 = arith.mulf %w0, %sc : f32
    %p = arith.mulf %x, %w1 : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

/// Near misses of the packed GEMMs stay generic (the reference loops):
/// blocks of 8 code bytes (the GEMM dequantizes 16 bytes of one block at a
/// time), and a q4_gemm_kn whose output is not indexed (m, n) like its A's
/// (m, k) rows.
#nm_a = affine_map<(n, m, k) -> (k, m)>
#nm_b = affine_map<(n, m, k) -> (n, k)>
#nm_s = affine_map<(n, m, k) -> (n, k floordiv 8)>
#nm_y = affine_map<(n, m, k) -> (n, m)>
// CHECK-LABEL: func.func @negative_q4_gemm_block_bytes
// CHECK-NOT: memref.alloca
// CHECK: linalg.generic {{.+}}sparsa.kernel = "q4_gemm"
func.func @negative_q4_gemm_block_bytes(%ae: memref<16x32xf32>, %ao: memref<16x32xf32>,
                                        %b: memref<8x16xi8>, %s: memref<8x2xf32>,
                                        %y: memref<8x32xf32>) {
  linalg.generic {indexing_maps = [#nm_a, #nm_a, #nm_b, #nm_s, #nm_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ae, %ao, %b, %s : memref<16x32xf32>, memref<16x32xf32>, memref<8x16xi8>, memref<8x2xf32>)
      outs(%y : memref<8x32xf32>) attrs = {sparsa.kernel = "q4_gemm", sparsa.block_bytes = 8 : i64,
                                            sparsa.zero_point = 8.000000e+00 : f32} {
  ^bb0(%e: f32, %o: f32, %byte: i8, %sc: f32, %acc: f32):
    %q = arith.extui %byte : i8 to i32
    %qf = arith.uitofp %q : i32 to f32
    %w = arith.mulf %qf, %sc : f32
    %p1 = arith.mulf %e, %w : f32
    %p2 = arith.mulf %o, %w : f32
    %a1 = arith.addf %acc, %p1 : f32
    %a2 = arith.addf %a1, %p2 : f32
    linalg.yield %a2 : f32
  }
  return
}

#nk_a = affine_map<(m, n, k) -> (m, k)>
#nk_w = affine_map<(m, n, k) -> (k, n)>
#nk_s = affine_map<(m, n, k) -> (k floordiv 32, n)>
#nk_y = affine_map<(m, n, k) -> (n, m)>
// CHECK-LABEL: func.func @negative_q8_gemm_kn_transposed_output
// CHECK-NOT: memref.alloca
// CHECK: linalg.generic {{.+}}sparsa.kernel = "q8_gemm_kn"
func.func @negative_q8_gemm_kn_transposed_output(%a: memref<4x64xf32>, %w: memref<64x16xi8>,
                                                  %s: memref<2x16xf32>, %y: memref<16x4xf32>) {
  linalg.generic {indexing_maps = [#nk_a, #nk_w, #nk_s, #nk_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w, %s : memref<4x64xf32>, memref<64x16xi8>, memref<2x16xf32>)
      outs(%y : memref<16x4xf32>) attrs = {sparsa.kernel = "q8_gemm_kn", sparsa.block_size = 32 : i64} {
  ^bb0(%x: f32, %byte: i8, %sc: f32, %acc: f32):
    %q = arith.extui %byte : i8 to i32
    %qf = arith.uitofp %q : i32 to f32
    %w0 = arith.mulf %qf, %sc : f32
    %p = arith.mulf %x, %w0 : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

/// [Pattern: dequantizing GEMM panel, 8-bit] each code byte one weight
/// (widened, no nibbles), the constant zero point 128 (no zero-point
/// operand).
#k8_a = affine_map<(m, n, k) -> (m, k)>
#k8_w = affine_map<(m, n, k) -> (k, n)>
#k8_s = affine_map<(m, n, k) -> (k floordiv 32, n)>
#k8_y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @q8_gemm_kn
// CHECK: %[[PANEL:.+]] = memref.alloca() {alignment = 64 : i64} : memref<256x64xf32>
// CHECK: arith.constant dense<1.280000e+02> : vector<16xf32>
// CHECK: vector.maskedload %arg1{{.+}} : memref<64x100xi8>, vector<16xi1>, vector<16xi8>
// CHECK-NEXT: arith.extui
// CHECK-NOT: vector.shuffle
// CHECK: arith.uitofp
// CHECK: vector.store %{{.+}}, %[[PANEL]]
// CHECK-NOT: linalg.generic
func.func @q8_gemm_kn(%a: memref<?x64xf32>, %w: memref<64x100xi8>, %s: memref<2x100xf32>,
                      %y: memref<?x100xf32>) {
  linalg.generic {indexing_maps = [#k8_a, #k8_w, #k8_s, #k8_y],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w, %s : memref<?x64xf32>, memref<64x100xi8>, memref<2x100xf32>)
      outs(%y : memref<?x100xf32>) attrs = {sparsa.kernel = "q8_gemm_kn", sparsa.block_size = 32 : i64} {
  ^bb0(%x: f32, %byte: i8, %sc: f32, %acc: f32):
    %z = arith.constant 1.280000e+02 : f32
    %q = arith.extui %byte : i8 to i32
    %qf = arith.uitofp %q : i32 to f32
    %w0 = arith.subf %qf, %z : f32
    %w1 = arith.mulf %w0, %sc : f32
    %p = arith.mulf %x, %w1 : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}
