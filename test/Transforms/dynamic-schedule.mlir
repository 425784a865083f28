// RUN: sparsa-opt %s --convert-scf-to-openmp --sparsa-dynamic-schedule | FileCheck %s

/// Parallel loops become OpenMP work-sharing loops that hand out their
/// iterations one at a time as threads free up.
// CHECK-LABEL: func.func @tasks
// CHECK: omp.parallel
// CHECK: omp.wsloop schedule(dynamic)
// CHECK: omp.loop_nest
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
