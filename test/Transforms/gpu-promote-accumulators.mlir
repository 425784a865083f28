// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-promote-accumulators | FileCheck %s

/// A reduction loop as convert-linalg-to-parallel-loops writes it: the
/// accumulator (a fresh allocation) is loaded once before the loop, carried,
/// and stored once after.
// CHECK-LABEL: func.func @dot_rows
//       CHECK: scf.parallel (%[[I:.*]]) =
//       CHECK:   %[[INIT:.*]] = memref.load %[[ACC:.*]][%[[I]]]
//       CHECK:   %[[SUM:.*]] = scf.for {{.*}} iter_args(%[[A:.*]] = %[[INIT]]) -> (f32)
//   CHECK-NOT:     memref.store
//       CHECK:     %[[F:.*]] = arith.addf %[[A]], %{{.*}} : f32
//       CHECK:     scf.yield %[[F]] : f32
//       CHECK:   memref.store %[[SUM]], %[[ACC]][%[[I]]]
func.func @dot_rows(%w: memref<64x128xf32>, %x: memref<128xf32>) -> memref<64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %acc = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    scf.for %k = %c0 to %c128 step %c1 {
      %a = memref.load %w[%i, %k] : memref<64x128xf32>
      %b = memref.load %x[%k] : memref<128xf32>
      %s = memref.load %acc[%i] : memref<64xf32>
      %p = arith.mulf %a, %b : f32
      %r = arith.addf %s, %p : f32
      memref.store %r, %acc[%i] : memref<64xf32>
    }
    scf.reduce
  }
  return %acc : memref<64xf32>
}

// -----

/// Through a view of the allocation; two accumulators in one loop (a GLU's
/// gate and up products) are both promoted; writes to other buffers (here
/// a function argument) do not stop it.
// CHECK-LABEL: func.func @two_accumulators_through_views
//       CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32)
//   CHECK-NOT:   memref.store {{.*}} : memref<8xf32
//       CHECK:   memref.store {{.*}} : memref<32xf32>
//  CHECK-NEXT:   scf.yield
//   CHECK-DAG: memref.store {{.*}} : memref<8xf32, strided<[1], offset: 8>>
//   CHECK-DAG: memref.store {{.*}} : memref<8xf32>
func.func @two_accumulators_through_views(%w: memref<8x32xf32>, %i: index,
                                          %trace: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %buf = memref.alloc() : memref<16xf32>
  %hi = memref.subview %buf[8] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: 8>>
  %lo = memref.alloca() : memref<8xf32>
  scf.for %k = %c0 to %c32 step %c1 {
    %a = memref.load %w[%i, %k] : memref<8x32xf32>
    %s = memref.load %hi[%i] : memref<8xf32, strided<[1], offset: 8>>
    %t = memref.load %lo[%i] : memref<8xf32>
    %r = arith.addf %s, %a : f32
    %q = arith.maximumf %t, %a : f32
    memref.store %r, %hi[%i] : memref<8xf32, strided<[1], offset: 8>>
    memref.store %q, %lo[%i] : memref<8xf32>
    memref.store %a, %trace[%k] : memref<32xf32>
  }
  memref.dealloc %buf : memref<16xf32>
  return
}

// -----

/// Not promoted: the accumulator is a function argument, which may alias
/// the weights the loop reads.
// CHECK-LABEL: func.func @argument_may_alias
//       CHECK: scf.for
//  CHECK-NEXT:   memref.load
//  CHECK-NEXT:   memref.load
//  CHECK-NEXT:   arith.addf
//  CHECK-NEXT:   memref.store
func.func @argument_may_alias(%w: memref<128xf32>, %acc: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  scf.for %k = %c0 to %c128 step %c1 {
    %a = memref.load %w[%k] : memref<128xf32>
    %s = memref.load %acc[%c0] : memref<1xf32>
    %r = arith.addf %s, %a : f32
    memref.store %r, %acc[%c0] : memref<1xf32>
  }
  return
}

// -----

/// Not promoted: the loop also reads another element of the accumulator's
/// allocation, stores somewhere else, or indexes by the induction variable.
// CHECK-LABEL: func.func @not_invariant_or_not_alone
//   CHECK-NOT: iter_args
func.func @not_invariant_or_not_alone(%w: memref<128xf32>, %out: memref<2xf32>, %c: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %buf = memref.alloc() : memref<2xf32>
  %view = memref.subview %buf[1] [1] [1] : memref<2xf32> to memref<1xf32, strided<[1], offset: 1>>
  // Reads the same root through another view.
  scf.for %k = %c0 to %c128 step %c1 {
    %s = memref.load %buf[%c0] : memref<2xf32>
    %v = memref.load %view[%c0] : memref<1xf32, strided<[1], offset: 1>>
    %r = arith.addf %s, %v : f32
    memref.store %r, %buf[%c0] : memref<2xf32>
  }
  // Writes a buffer that may be the accumulator's.
  %maybe = arith.select %c, %buf, %out : memref<2xf32>
  scf.for %k = %c0 to %c128 step %c1 {
    %s = memref.load %buf[%c0] : memref<2xf32>
    %a = memref.load %w[%k] : memref<128xf32>
    %r = arith.addf %s, %a : f32
    memref.store %r, %buf[%c0] : memref<2xf32>
    memref.store %r, %maybe[%c1] : memref<2xf32>
  }
  // Index varies with the loop.
  %acc = memref.alloc() : memref<128xf32>
  scf.for %k = %c0 to %c128 step %c1 {
    %s = memref.load %acc[%k] : memref<128xf32>
    %a = memref.load %w[%k] : memref<128xf32>
    %r = arith.addf %s, %a : f32
    memref.store %r, %acc[%k] : memref<128xf32>
  }
  // Stores before it loads.
  scf.for %k = %c0 to %c128 step %c1 {
    %a = memref.load %w[%k] : memref<128xf32>
    memref.store %a, %buf[%c0] : memref<2xf32>
    %s = memref.load %buf[%c0] : memref<2xf32>
  }
  // A call may write anything.
  scf.for %k = %c0 to %c128 step %c1 {
    %s = memref.load %buf[%c0] : memref<2xf32>
    func.call @opaque() : () -> ()
    memref.store %s, %buf[%c0] : memref<2xf32>
  }
  return
}
func.func private @opaque()
