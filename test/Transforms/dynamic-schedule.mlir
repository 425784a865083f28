// RUN: sparsa-opt %s --split-input-file --convert-scf-to-openmp --sparsa-dynamic-schedule | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --convert-scf-to-openmp --sparsa-dynamic-schedule=self-schedule=false | FileCheck %s --check-prefix=WS

/// A parallel loop that ends its parallel region hands out its iterations
/// itself: each thread takes the next iteration number from a stack
/// counter (an atomic add returning the number before it) until none is
/// left, and the loop body, in an scf.execute_region, runs with the index
/// computed from it. Each iteration counts itself done, and thread 0 spins
/// (pause, a bounded number of times) until all are, so that it reaches
/// the closing barrier last and never sleeps there.
// CHECK-LABEL: func.func @tasks
// CHECK:   %[[DONE:.*]] = memref.alloca() : memref<i64>
// CHECK:   %[[TAKEN:.*]] = memref.alloca() : memref<i64>
// CHECK:   memref.store %[[ZERO:.*]], %[[DONE]][] : memref<i64>
// CHECK:   memref.store %[[ZERO]], %[[TAKEN]][] : memref<i64>
// CHECK:   omp.parallel
// CHECK-NOT: omp.wsloop
// CHECK:     arith.ceildivsi
// CHECK:     %[[TRIPS:.*]] = arith.maxsi
// CHECK:     %[[TOTAL:.*]] = arith.muli %{{.*}}, %[[TRIPS]]
// CHECK:     scf.while
// CHECK:       %[[K:.*]] = memref.atomic_rmw addi %{{.*}}, %[[TAKEN]][]
// CHECK:       %[[MORE:.*]] = arith.cmpi slt, %[[K]], %[[TOTAL]]
// CHECK:       scf.condition(%[[MORE]]) %[[K]]
// CHECK:     ^bb0(%[[I:.*]]: i64):
// CHECK:       %[[IDX:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK:       scf.execute_region
// CHECK:         memref.store %{{.*}}, %{{.*}}[%[[IDX]]]
// CHECK:         memref.atomic_rmw addi %{{.*}}, %[[DONE]][]
// CHECK:         scf.yield
// CHECK:     %[[TID:.*]] = func.call @omp_get_thread_num() : () -> i32
// CHECK:     %[[MASTER:.*]] = arith.cmpi eq, %[[TID]]
// CHECK:     scf.if %[[MASTER]]
// CHECK:       scf.while
// CHECK:         %[[N:.*]] = memref.atomic_rmw addi %{{.*}}, %[[DONE]][]
// CHECK:         arith.cmpi slt, %[[N]], %[[TOTAL]]
// CHECK:         llvm.call_intrinsic "llvm.x86.sse2.pause"()
// CHECK:     omp.terminator
// CHECK: func.func private @omp_get_thread_num() -> i32

/// Without self-scheduling it stays an OpenMP work-sharing loop handing
/// out iterations one at a time (schedule(dynamic)), without a barrier of
/// its own (nowait): the region's end joins the threads.
// WS-LABEL: func.func @tasks
// WS:   %[[DONE:.*]] = memref.alloca() : memref<i64>
// WS:   memref.store %{{.*}}, %[[DONE]][] : memref<i64>
// WS:   omp.parallel
// WS:     %[[TRIPS:.*]] = arith.ceildivsi
// WS:     omp.wsloop nowait schedule(dynamic)
// WS:       omp.loop_nest
// WS:         memref.store
// WS:         memref.atomic_rmw addi %{{.*}}, %[[DONE]][]
// WS:         omp.yield
// WS:     %[[TID:.*]] = func.call @omp_get_thread_num() : () -> i32
// WS:     scf.if
// WS:       scf.while
// WS:         memref.atomic_rmw addi %{{.*}}, %[[DONE]][]
// WS:     omp.terminator
func.func @tasks(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %one, %out[%i] : memref<?xf32>
    scf.reduce
  }
  return
}

// -----

/// A loop followed by more work in its region keeps its barrier (the work
/// after it may read what other threads wrote) and nothing waits on a
/// counter.
// CHECK-LABEL: func.func @not_last
// WS-LABEL: func.func @not_last
// CHECK-NOT: memref.alloca
// CHECK:   omp.parallel
// CHECK:     omp.wsloop schedule(dynamic)
// CHECK-NOT: nowait
// CHECK-NOT: atomic_rmw
// CHECK:     memref.store
// CHECK:     omp.terminator
// CHECK-NOT: omp_get_thread_num
func.func @not_last(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %one, %out[%i] : memref<?xf32>
        omp.yield
      }
    }
    memref.store %one, %out[%c0] : memref<?xf32>
    omp.terminator
  }
  return
}

// -----

/// A parallel region inside another one keeps the nowait (its loop still
/// ends its region) but gets no counter or spin: thread 0 of an inner team
/// is not the thread that goes on after the outer region.
// CHECK-LABEL: func.func @negative_nested
// CHECK-NOT: memref.alloca
// CHECK: omp.parallel
// CHECK: omp.parallel
// CHECK: omp.wsloop nowait schedule(dynamic)
// CHECK-NOT: atomic_rmw
// CHECK-NOT: omp_get_thread_num
func.func @negative_nested(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  omp.parallel {
    omp.parallel {
      omp.wsloop {
        omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
          memref.store %one, %out[%i] : memref<?xf32>
          omp.yield
        }
      }
      omp.terminator
    }
    omp.terminator
  }
  return
}

// -----

/// A two-dimensional nest: the iteration number splits row-major into the
/// indices (rem and div by the inner trip count), each at its lower bound
/// plus its step times its position.
// CHECK-LABEL: func.func @nest_2d
// CHECK:   omp.parallel
// CHECK:     %[[T0:.*]] = arith.maxsi
// CHECK:     %[[T1:.*]] = arith.maxsi
// CHECK:     scf.while
// CHECK:     ^bb0(%[[K:.*]]: i64):
// CHECK:       %[[POS1:.*]] = arith.remsi %[[K]], %[[T1]]
// CHECK:       %[[REST:.*]] = arith.divsi %[[K]], %[[T1]]
// CHECK:       arith.muli %[[POS1]]
// CHECK:       %[[J:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK:       arith.muli %[[REST]]
// CHECK:       %[[I:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK:       scf.execute_region
// CHECK:         memref.store %{{.*}}, %{{.*}}[%[[I]], %[[J]]]
func.func @nest_2d(%n: index, %m: index, %out: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c1, %c0) to (%n, %m) step (%c2, %c3) {
    memref.store %one, %out[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// -----

/// A loop with a reduction keeps the OpenMP work-sharing loop (its
/// reduction clause combines the threads' values).
// CHECK-LABEL: func.func @negative_reduction
// CHECK:   omp.wsloop
// CHECK-SAME: reduction
func.func @negative_reduction(%n: index, %in: memref<?xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %r = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %v = memref.load %in[%i] : memref<?xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  return %r : f32
}
