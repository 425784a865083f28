// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-emulate-on-host --verify-diagnostics | FileCheck %s

/// A launch becomes six nested host loops (grid then block, x y z) with the
/// ids and sizes replaced by their induction variables and bounds; device
/// memory operations become host ones.
// CHECK-LABEL: func.func @emulate
// CHECK: %[[BUF:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.for %[[BX:.*]] = %{{.*}} to %[[G:.*]] step
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for %[[TX:.*]] = %{{.*}} to %[[B:.*]] step
// CHECK: scf.for
// CHECK: scf.for
// CHECK:   %[[M:.*]] = arith.muli %[[BX]], %[[B]]
// CHECK:   %[[I:.*]] = arith.addi %[[M]], %[[TX]]
// CHECK:   memref.store %{{.*}}, %[[BUF]][%[[I]]]
// CHECK: memref.copy %[[BUF]], %{{.*}}
// CHECK-NOT: gpu.
// CHECK: memref.dealloc %[[BUF]]
func.func @emulate(%n: index, %grid: index, %host: memref<?xf32>) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %one = arith.constant 1.0 : f32
  %buf = gpu.alloc (%n) : memref<?xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %grid, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %m = arith.muli %bx, %sx : index
    %i = arith.addi %m, %tx : index
    memref.store %one, %buf[%i] : memref<?xf32>
    gpu.terminator
  }
  gpu.memcpy %host, %buf : memref<?xf32>, memref<?xf32>
  gpu.wait
  gpu.dealloc %buf : memref<?xf32>
  return
}

// -----

func.func @async_launch(%grid: index) {
  %c1 = arith.constant 1 : index
  %t0 = gpu.wait async
  // expected-error @+1 {{cannot emulate this launch}}
  %t1 = gpu.launch async [%t0] blocks(%bx, %by, %bz) in (%gx = %grid, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    gpu.terminator
  }
  return
}

// -----

/// Adversarial emulation: ids run from the last to the first, and device
/// allocations are filled with NaN before use.
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-emulate-on-host="reverse=true poison=true" --verify-diagnostics | FileCheck %s --check-prefix=ADV
// ADV-LABEL: func.func @emulate
// ADV: %[[BUF:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// ADV: %[[NAN:.*]] = arith.constant 0x7FC00000 : f32
// ADV: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step
// ADV:   memref.store %[[NAN]], %[[BUF]][%[[I]]]
// ADV: scf.for %[[BX:.*]] = %{{.*}} to %[[G:.*]] step
// ADV:   %[[LAST:.*]] = arith.subi %[[G]], %{{.*}} : index
// ADV:   %{{.*}} = arith.subi %[[LAST]], %[[BX]] : index

// -----

/// A block reduction: the launch runs as segments between synchronizations.
/// Each thread's partial goes to a per-thread buffer, the block combines
/// them in order once (a loop from thread 1, starting at thread 0's), and
/// the second segment's threads read the result; a thread value the second
/// segment reads (%v) is kept per thread across the barrier.
// CHECK-LABEL: func.func @all_reduce
// CHECK-DAG: %[[SLOT:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK-DAG: %[[RED:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.for %[[BX:.*]] =
// CHECK: scf.for
// CHECK: scf.for
//          first segment: each thread stores its value twice
// CHECK:   scf.for
// CHECK:   scf.for
// CHECK:   scf.for
// CHECK:     %[[V:.*]] = memref.load %{{.*}}[%[[BX]], %{{.*}}]
// CHECK-DAG: memref.store %[[V]], %[[SLOT]][%[[T:.*]]]
// CHECK-DAG: memref.store %[[V]], %[[RED]][%[[T]]]
//          combined once per block
// CHECK:   %[[FIRST:.*]] = memref.load %[[RED]][%c0
// CHECK:   %[[SUM:.*]] = scf.for %{{.*}} = %c1{{.*}} iter_args(%[[ACC:.*]] = %[[FIRST]])
// CHECK:     arith.addf {{.*}}%[[ACC]]
//          second segment
// CHECK:   scf.for
// CHECK:   scf.for
// CHECK:   scf.for
// CHECK:     %[[MINE:.*]] = memref.load %[[SLOT]]
// CHECK:     %[[Q:.*]] = arith.divf %[[MINE]], %[[SUM]]
// CHECK:     memref.store %[[Q]], %{{.*}}[%[[BX]], %{{.*}}]
// CHECK-NOT: gpu.
// CHECK: memref.dealloc
func.func @all_reduce(%x: memref<4x32xf32>, %y: memref<4x32xf32>) {
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%bx, %tx] : memref<4x32xf32>
    %s = gpu.all_reduce add %v uniform {} : (f32) -> (f32)
    gpu.barrier
    %q = arith.divf %v, %s : f32
    memref.store %q, %y[%bx, %tx] : memref<4x32xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @nested_barrier(%c: i1) {
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{cannot emulate a block synchronization in a nested region}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    scf.if %c {
      gpu.barrier
    }
    gpu.terminator
  }
  return
}

// -----

func.func @region_reduce(%x: memref<32xf32>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<32xf32>
    // expected-error @+1 {{cannot emulate an all_reduce with a region}}
    %s = gpu.all_reduce %v uniform {
    ^bb0(%a: f32, %b: f32):
      %r = arith.addf %a, %b : f32
      gpu.yield %r : f32
    } : (f32) -> (f32)
    memref.store %s, %x[%tx] : memref<32xf32>
    gpu.terminator
  }
  return
}

// -----

/// A thread's value kept across a barrier must be a scalar (it goes to a
/// per-thread buffer).
func.func @vector_crossing(%x: memref<32xvector<4xf32>>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  // expected-error @+1 {{cannot emulate: a 'vector<4xf32>' value of a thread crosses a block synchronization}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %v = memref.load %x[%tx] : memref<32xvector<4xf32>>
    gpu.barrier
    memref.store %v, %x[%tx] : memref<32xvector<4xf32>>
    gpu.terminator
  }
  return
}
