// RUN: sparsa-opt %s --split-input-file --convert-scf-to-openmp --sparsa-dynamic-schedule | FileCheck %s

/// Parallel loops become OpenMP work-sharing loops that hand out their
/// iterations one at a time as threads free up. The loop ends its parallel
/// region, so it drops its own barrier (nowait): the region's end joins the
/// threads. Each iteration counts itself done, and thread 0 spins (pause,
/// a bounded number of times) until all are, so that it reaches the
/// closing barrier last and never sleeps there.
// CHECK-LABEL: func.func @tasks
// CHECK:   %[[DONE:.*]] = memref.alloca() : memref<i64>
// CHECK:   memref.store %{{.*}}, %[[DONE]][] : memref<i64>
// CHECK:   omp.parallel
// CHECK:     omp.wsloop nowait schedule(dynamic)
// CHECK:       omp.loop_nest
// CHECK:         memref.store
// CHECK:         memref.atomic_rmw addi %{{.*}}, %[[DONE]][]
// CHECK:         omp.yield
// CHECK:     %[[TRIPS:.*]] = arith.ceildivsi
// CHECK:     %[[TID:.*]] = func.call @omp_get_thread_num() : () -> i32
// CHECK:     %[[MASTER:.*]] = arith.cmpi eq, %[[TID]]
// CHECK:     scf.if %[[MASTER]]
// CHECK:       scf.while
// CHECK:         %[[N:.*]] = memref.atomic_rmw addi %{{.*}}, %[[DONE]][]
// CHECK:         arith.cmpi slt, %[[N]], %{{.*}}
// CHECK:         llvm.call_intrinsic "llvm.x86.sse2.pause"()
// CHECK:     omp.terminator
// CHECK: func.func private @omp_get_thread_num() -> i32
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
