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
