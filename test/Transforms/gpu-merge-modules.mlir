// RUN: sparsa-opt %s --sparsa-gpu-merge-modules | FileCheck %s

/// Two outlined modules, each with a kernel and a device global of the
/// same names: one module remains, the second kernel is named after its
/// old module, the clashing global is renamed along with its use, and the
/// launches point at the merged kernels.
// CHECK: gpu.module @m0 {
// CHECK: memref.global "private" constant @g : memref<1xf32> = dense<1.0
// CHECK: gpu.func @k(
// CHECK:   memref.get_global @g :
// CHECK: memref.global "private" constant @g_0 : memref<1xf32> = dense<2.0
// CHECK: gpu.func @m1(
// CHECK:   memref.get_global @g_0 :
// CHECK: }
// CHECK-NOT: gpu.module @m1
// CHECK: gpu.launch_func  @m0::@k
// CHECK: gpu.launch_func  @m0::@m1
module attributes {gpu.container_module} {
  gpu.module @m0 {
    memref.global "private" constant @g : memref<1xf32> = dense<1.0>
    gpu.func @k(%out: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %g = memref.get_global @g : memref<1xf32>
      %v = memref.load %g[%c0] : memref<1xf32>
      memref.store %v, %out[%c0] : memref<1xf32>
      gpu.return
    }
  }
  gpu.module @m1 {
    memref.global "private" constant @g : memref<1xf32> = dense<2.0>
    gpu.func @k(%out: memref<1xf32>) kernel {
      %c0 = arith.constant 0 : index
      %g = memref.get_global @g : memref<1xf32>
      %v = memref.load %g[%c0] : memref<1xf32>
      memref.store %v, %out[%c0] : memref<1xf32>
      gpu.return
    }
  }
  func.func @main(%out: memref<1xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @m0::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<1xf32>)
    gpu.launch_func @m1::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<1xf32>)
    return
  }
}
