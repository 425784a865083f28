// RUN: sparsa-opt %s --pass-pipeline='builtin.module(gpu.module(sparsa-gpu-align-workgroup-memory))' | FileCheck %s
// RUN: sparsa-opt %s --pass-pipeline='builtin.module(gpu.module(sparsa-gpu-align-workgroup-memory,convert-gpu-to-nvvm))' | FileCheck %s --check-prefix=NVVM

/// Every workgroup buffer asks for 16-byte alignment (the widest vector
/// access of the tiled kernels); one asking for more keeps it. NVVM's
/// globals carry it (without it, an f16 buffer is aligned to 2 bytes).
// CHECK-LABEL: gpu.func @tiles
// CHECK-SAME: workgroup(%{{.*}} : memref<64x40xf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<8xf32, #gpu.address_space<workgroup>> {llvm.align = 64 : i64})
// NVVM: llvm.mlir.global internal @__wg_tiles_0() {addr_space = 3 : i32, alignment = 16 : i64}
// NVVM: llvm.mlir.global internal @__wg_tiles_1() {addr_space = 3 : i32, alignment = 64 : i64}
gpu.module @kernels {
  gpu.func @tiles(%out: memref<2xf16>)
      workgroup(%a : memref<64x40xf16, #gpu.address_space<workgroup>>,
                %b : memref<8xf32, #gpu.address_space<workgroup>> {llvm.align = 64 : i64}) kernel {
    %c0 = arith.constant 0 : index
    %v = memref.load %a[%c0, %c0] : memref<64x40xf16, #gpu.address_space<workgroup>>
    memref.store %v, %out[%c0] : memref<2xf16>
    gpu.return
  }
}
