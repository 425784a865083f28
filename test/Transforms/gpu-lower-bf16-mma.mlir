// RUN: sparsa-opt %s --pass-pipeline='builtin.module(gpu.module(sparsa-gpu-lower-bf16-mma))' | FileCheck %s

/// A bf16 mma.sync becomes nvvm.mma.sync with bf16 multiplicands: each
/// fragment row (two bf16) a 32-bit register, the four f32 accumulators
/// passed and returned one by one. An f16 one is left to
/// convert-nvgpu-to-nvvm.
// CHECK-LABEL: gpu.func @mma
// CHECK-COUNT-6: llvm.bitcast %{{.*}} : vector<2xbf16> to i32
// CHECK: %[[R:.*]] = nvvm.mma.sync A[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] B[%{{.*}}, %{{.*}}] C[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}]
// CHECK-SAME: multiplicandAPtxType = #nvvm.mma_type<bf16>
// CHECK-SAME: shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK-SAME: -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: llvm.extractvalue %[[R]][3]
// CHECK: nvgpu.mma.sync({{.*}}) {{.*}} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>)
gpu.module @kernels {
  gpu.func @mma(%a: vector<4x2xbf16>, %b: vector<2x2xbf16>, %c: vector<2x2xf32>,
                %ah: vector<4x2xf16>, %bh: vector<2x2xf16>, %out: memref<2xvector<2x2xf32>>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %d = nvgpu.mma.sync(%a, %b, %c) {mmaShape = [16, 8, 16]} : (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
    memref.store %d, %out[%c0] : memref<2xvector<2x2xf32>>
    %e = nvgpu.mma.sync(%ah, %bh, %c) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
    memref.store %e, %out[%c1] : memref<2xvector<2x2xf32>>
    gpu.return
  }
}
