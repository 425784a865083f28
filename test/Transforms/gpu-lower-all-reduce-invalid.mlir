// RUN: sparsa-opt %s --split-input-file --pass-pipeline="builtin.module(gpu.module(sparsa-gpu-lower-all-reduce))" --verify-diagnostics

/// Upstream's rewrite splits the block holding the all_reduce, which a
/// nested scf region cannot take: a clear error, not invalid IR.
module attributes {gpu.container_module} {
  gpu.module @m {
    gpu.func @k(%x: memref<256xf32>, %y: memref<1xf32>, %c: i1) kernel {
      %t = gpu.thread_id x
      scf.if %c {
        %v = memref.load %x[%t] : memref<256xf32>
        // expected-error @+1 {{cannot lower a gpu.all_reduce outside a kernel function's own body}}
        %r = gpu.all_reduce add %v uniform {} : (f32) -> f32
        %c0 = arith.constant 0 : index
        memref.store %r, %y[%c0] : memref<1xf32>
      }
      gpu.return
    }
  }
}
