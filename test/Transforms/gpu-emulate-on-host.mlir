// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-emulate-on-host --cse --verify-diagnostics | FileCheck %s

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

/// A thread's value kept across a barrier must be a scalar or a vector (it
/// goes to a per-thread buffer): not a view.
func.func @view_crossing(%x: memref<32x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %f = arith.constant 1.0 : f32
  // expected-error @+1 {{cannot emulate: a 'memref<4xf32, strided<[1], offset: ?>>' value of a thread crosses a block synchronization}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %row = memref.subview %x[%tx, 0] [1, 4] [1, 1] : memref<32x4xf32> to memref<4xf32, strided<[1], offset: ?>>
    gpu.barrier
    memref.store %f, %row[%c0] : memref<4xf32, strided<[1], offset: ?>>
    gpu.terminator
  }
  return
}

// -----

func.func @divergent_loop(%x: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{cannot emulate a loop around a block synchronization whose bounds differ between threads}}
    scf.for %i = %c0 to %tx step %c1 {
      gpu.barrier
    }
    gpu.terminator
  }
  return
}

// -----

/// A loop around barriers, with a thread's running sum carried from
/// iteration to iteration and a workgroup buffer. The buffer is one host
/// buffer (poisoned per block under `poison`); the carried sum lives in a
/// per-thread buffer; the loop runs once per block, each segment of its
/// body a loop over the threads. A GPU thread goes on from the body's last
/// segment into the next iteration's first without waiting: the first
/// segment runs once before the loop (iteration 0) and then inside the
/// last segment's thread loop for the next iteration, so a kernel that
/// overwrites the buffer before the others have read it fails here too.
// CHECK-LABEL: func.func @loop_barrier
// CHECK-DAG: %[[TILE:.*]] = memref.alloc() : memref<32xf32>
// CHECK-DAG: %[[ACC:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.for %[[BX:.*]] =
// CHECK: scf.for
// CHECK: scf.for
//          before the loop: the carried sum's start
// CHECK:   scf.for
// CHECK:     memref.store %{{.*}}, %[[ACC]]
//          iteration 0's first segment
// CHECK:   %[[ANY:.*]] = arith.cmpi slt, %[[LB:.*]], %[[UB:.*]] : index
// CHECK:   scf.if %[[ANY]] {
// CHECK:     scf.for %[[T0:.*]] =
// CHECK:       memref.load %{{.*}}[%[[BX]], %[[T0]]] : memref<4x32xf32>
// CHECK:       memref.store %{{.*}}, %[[TILE]][%[[T0]]] : memref<32xf32>
// CHECK:   scf.for %[[I:.*]] = %[[LB]] to %[[UB]] step %[[STEP:.*]] {
//            second segment: the neighbour's value
// CHECK:     scf.for %[[T1:.*]] =
// CHECK:       memref.load %[[TILE]]
// CHECK:       arith.addf
//            last segment, then the next iteration's first
// CHECK:     scf.for %[[T2:.*]] =
// CHECK:       memref.store %{{.*}}, %[[ACC]]
// CHECK:       %[[NEXT:.*]] = arith.addi %[[I]], %[[STEP]] : index
// CHECK:       %[[MORE:.*]] = arith.cmpi slt, %[[NEXT]], %[[UB]] : index
// CHECK:       scf.if %[[MORE]] {
// CHECK:         memref.load %{{.*}}[%[[BX]], %[[T2]]] : memref<4x32xf32>
// CHECK:         memref.store %{{.*}}, %[[TILE]][%[[T2]]] : memref<32xf32>
//          after the loop: the sum
// CHECK:   scf.for %[[T3:.*]] =
// CHECK:     %[[SUM:.*]] = memref.load %[[ACC]]
// CHECK:     memref.store %[[SUM]], %{{.*}}[%[[BX]], %[[T3]]] : memref<4x32xf32>
// CHECK-NOT: gpu.
// CHECK-DAG: memref.dealloc %[[TILE]] :
// CHECK-DAG: memref.dealloc %[[ACC]] :
// ADV-LABEL: func.func @loop_barrier
// ADV: %[[TILE:.*]] = memref.alloc() : memref<32xf32>
// ADV: scf.for %[[BX:.*]] =
// ADV: scf.for
// ADV: scf.for
// ADV:   scf.for %[[I:.*]] =
// ADV:     memref.store %{{.*}}, %[[TILE]][%[[I]]]
func.func @loop_barrier(%x: memref<4x32xf32>, %y: memref<4x32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1)
             workgroup(%tile : memref<32xf32, #gpu.address_space<workgroup>>) {
    %sum = scf.for %i = %c0 to %c3 step %c1 iter_args(%acc = %zero) -> (f32) {
      %v = memref.load %x[%bx, %tx] : memref<4x32xf32>
      memref.store %v, %tile[%tx] : memref<32xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %t1 = arith.addi %tx, %c1 : index
      %n = arith.remui %t1, %c32 : index
      %w = memref.load %tile[%n] : memref<32xf32, #gpu.address_space<workgroup>>
      %next = arith.addf %acc, %w : f32
      gpu.barrier
      scf.yield %next : f32
    }
    memref.store %sum, %y[%bx, %tx] : memref<4x32xf32>
    gpu.terminator
  }
  return
}

// -----

/// A warp's vote.sync ballot in a loop over steps (as the warp compaction
/// builds it): each thread leaves its vote; then, thread by thread, bit l
/// of its result is lane l's vote in its warp (lanes past the block's
/// threads vote false). The loop's carried count goes through per-thread
/// buffers.
// CHECK-LABEL: func.func @ballot
// CHECK: %[[VOTES:.*]] = memref.alloc(%{{.*}}) : memref<?xi1>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step
// CHECK:   memref.store %{{.*}}, %[[VOTES]][%{{.*}}] : memref<?xi1>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step
// CHECK:   %[[LANE:.*]] = arith.remui %[[SELF:.*]], %c32
// CHECK:   %[[WARP:.*]] = arith.subi %[[SELF]], %[[LANE]]
// CHECK:   scf.for %[[L:.*]] = %c0 to %c32 step %c1 iter_args(%[[M:.*]] = %c0_i32) -> (i32)
// CHECK:     %[[T:.*]] = arith.addi %[[WARP]], %[[L]]
// CHECK:     %[[IN:.*]] = arith.cmpi ult, %[[T]]
// CHECK:     %[[V:.*]] = memref.load %[[VOTES]]
// CHECK:     %[[BIT:.*]] = arith.andi %[[V]], %[[IN]] : i1
// CHECK:     %[[B32:.*]] = arith.extui %[[BIT]] : i1 to i32
// CHECK:     %[[SH:.*]] = arith.shli %[[B32]]
// CHECK:     arith.ori %[[M]], %[[SH]] : i32
// CHECK: math.ctpop
// CHECK-NOT: nvvm.vote
// ADV-LABEL: func.func @ballot
// ADV-NOT: nvvm.vote
func.func @ballot(%x: memref<64xf32>, %out: memref<2xindex>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %full = arith.constant -1 : i32
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %n = scf.for %s = %c0 to %c2 step %c1 iter_args(%acc = %c0) -> (index) {
      %base = arith.muli %s, %c32 : index
      %i = arith.addi %base, %tx : index
      %v = memref.load %x[%i] : memref<64xf32>
      %p = arith.cmpf ogt, %v, %zero : f32
      %mask = nvvm.vote.sync ballot %full, %p -> i32
      %cnt = math.ctpop %mask : i32
      %ci = arith.index_cast %cnt : i32 to index
      %next = arith.addi %acc, %ci : index
      scf.yield %next : index
    }
    %first = arith.cmpi eq, %tx, %c0 : index
    scf.if %first {
      memref.store %n, %out[%c0] : memref<2xindex>
    }
    gpu.terminator
  }
  return
}

// -----

/// Only the ballot kind of vote.sync is emulated.
func.func @vote_any(%x: memref<32xi1>, %out: memref<32xi1>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %full = arith.constant -1 : i32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %p = memref.load %x[%tx] : memref<32xi1>
    // expected-error @+1 {{cannot emulate a vote.sync other than ballot}}
    %r = nvvm.vote.sync any %full, %p -> i1
    memref.store %r, %out[%tx] : memref<32xi1>
    gpu.terminator
  }
  return
}

// -----

/// A warp's mma.sync: each thread leaves its fragments (flattened) in
/// per-thread buffers; then, thread by thread, its four results are
/// summed in f32 over k = 0..15 from the fragments of the lanes that hold
/// its row of a (lane g * 4 + k % 8 / 2 of its warp) and its column of b,
/// starting from its own accumulators; the result goes to a per-thread
/// buffer the next segment reads.
// CHECK-LABEL: func.func @mma
// CHECK-DAG: %[[D:.*]] = memref.alloc(%{{.*}}) : memref<?xvector<4xf32>>
// CHECK-DAG: %[[A:.*]] = memref.alloc(%{{.*}}) : memref<?xvector<8xf16>>
// CHECK-DAG: %[[B:.*]] = memref.alloc(%{{.*}}) : memref<?xvector<4xf16>>
// CHECK-DAG: %[[C:.*]] = memref.alloc(%{{.*}}) : memref<?xvector<4xf32>>
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %c32 step
// CHECK:   %[[FA:.*]] = memref.load %{{.*}}[%[[T0]]] : memref<32xvector<4x2xf16>>
// CHECK:   %[[FLAT:.*]] = vector.shape_cast %[[FA]] : vector<4x2xf16> to vector<8xf16>
// CHECK:   memref.store %[[FLAT]], %[[A]]
// CHECK:   memref.store %{{.*}}, %[[B]]
// CHECK:   memref.store %{{.*}}, %[[C]]
// CHECK: scf.for %[[T1:.*]] = %{{.*}} to %c32 step
// CHECK:   %[[LANE:.*]] = arith.remui %[[SELF:.*]], %{{.*}} : index
// CHECK:   %[[WARP:.*]] = arith.subi %[[SELF]], %[[LANE]] : index
// CHECK:   %[[OWN:.*]] = memref.load %[[C]][%[[SELF]]]
// CHECK:   %[[START:.*]] = vector.extract %[[OWN]][0] : f32 from vector<4xf32>
// CHECK:   scf.for %{{.*}} = %{{.*}} to %[[C16:.*]] step %{{.*}} iter_args(%[[S:.*]] = %[[START]]) -> (f32)
// CHECK:     memref.load %[[A]][%{{.*}}] : memref<?xvector<8xf16>>
// CHECK:     memref.load %[[B]][%{{.*}}] : memref<?xvector<4xf16>>
// CHECK:     arith.extf %{{.*}} : f16 to f32
// CHECK:     %[[P:.*]] = arith.mulf
// CHECK:     arith.addf %[[S]], %[[P]] : f32
// CHECK-COUNT-3: scf.for %{{.*}} = %{{.*}} to %[[C16]]
// CHECK:   memref.store %{{.*}}, %[[D]][%[[SELF]]] : memref<?xvector<4xf32>>
// CHECK: scf.for %[[T2:.*]] = %{{.*}} to %c32 step
// CHECK:   %[[R:.*]] = memref.load %[[D]]
// CHECK:   %[[R2:.*]] = vector.shape_cast %[[R]] : vector<4xf32> to vector<2x2xf32>
// CHECK:   memref.store %[[R2]], %{{.*}}[%[[T2]]] : memref<32xvector<2x2xf32>>
// CHECK-NOT: nvgpu.
func.func @mma(%a: memref<32xvector<4x2xf16>>, %b: memref<32xvector<2x2xf16>>,
               %c: memref<32xvector<2x2xf32>>, %d: memref<32xvector<2x2xf32>>) {
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1) {
    %fa = memref.load %a[%tx] : memref<32xvector<4x2xf16>>
    %fb = memref.load %b[%tx] : memref<32xvector<2x2xf16>>
    %fc = memref.load %c[%tx] : memref<32xvector<2x2xf32>>
    %r = nvgpu.mma.sync(%fa, %fb, %fc) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
    memref.store %r, %d[%tx] : memref<32xvector<2x2xf32>>
    gpu.terminator
  }
  return
}
