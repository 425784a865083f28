// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-map-to-kernels --verify-diagnostics

// expected-error @+1 {{the GPU mapping expects a single-block function body}}
func.func @two_blocks(%x: memref<4xf32>) {
  cf.br ^bb1
^bb1:
  return
}

// -----

func.func @strided_alloc() -> memref<4xf32, strided<[2]>> {
  // expected-error @+1 {{cannot place this buffer in device memory}}
  %a = memref.alloc() : memref<4xf32, strided<[2]>>
  return %a : memref<4xf32, strided<[2]>>
}

// -----

func.func @vector_to_host(%x: memref<8xf32>) -> vector<8xf32> {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{cannot return a value of this type from device code to the host}}
  %v = vector.load %x[%c0] : memref<8xf32>, vector<8xf32>
  return %v : vector<8xf32>
}

// -----

func.func @dynamic_shape(%x: memref<4xf32>, %s: memref<?xi64>) -> memref<*xf32> {
  // expected-error @+1 {{cannot read a dynamic shape buffer on the host}}
  %r = memref.reshape %x(%s) : (memref<4xf32>, memref<?xi64>) -> memref<*xf32>
  return %r : memref<*xf32>
}
