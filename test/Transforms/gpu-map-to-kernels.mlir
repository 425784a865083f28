// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-map-to-kernels | FileCheck %s

/// An outermost scf.parallel becomes one launch: the 2-D space [0,4) x
/// [0,n) is linearized over 256-thread blocks, a bound check guards the
/// tail, and the indices are recovered by div / rem. Host buffers become
/// device buffers.
// CHECK-LABEL: func.func @parallel
// CHECK-SAME: (%[[A:.*]]: memref<4x?xf32>, %[[N:.*]]: index)
// CHECK: %[[OUT:.*]] = gpu.alloc (%[[N]]) : memref<4x?xf32>
// CHECK: %[[GRID0:.*]] = arith.ceildivsi %[[TOTAL:.*]], %c256
// CHECK: %[[GRID:.*]] = arith.maxsi %[[GRID0]], %c1
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[GRID]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256
// CHECK:   %[[MUL:.*]] = arith.muli %[[BX]], %c256
// CHECK:   %[[GID:.*]] = arith.addi %[[MUL]], %[[TX]]
// CHECK:   %[[IN:.*]] = arith.cmpi ult, %[[GID]], %[[TOTAL]]
// CHECK:   scf.if %[[IN]] {
// CHECK:     arith.remui %[[GID]]
// CHECK:     arith.divui %[[GID]]
// CHECK:     memref.load %[[A]]
// CHECK:     math.exp
// CHECK:     memref.store
// CHECK:   gpu.terminator
// CHECK: return %[[OUT]]
func.func @parallel(%a: memref<4x?xf32>, %n: index) -> memref<4x?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %out = memref.alloc(%n) : memref<4x?xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %n) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<4x?xf32>
    %e = math.exp %v : f32
    memref.store %e, %out[%i, %j] : memref<4x?xf32>
    scf.reduce
  }
  return %out : memref<4x?xf32>
}

// -----

/// Sequential work (a loop carrying a value) runs in a one-thread launch;
/// the scalar the host needs (an allocation size read from a buffer) comes
/// back through a one-element device buffer, copied and waited for.
// CHECK-LABEL: func.func @serial_scalar
// CHECK: %[[SLOT:.*]] = gpu.alloc () : memref<1xindex>
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ONE:.*]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]]) threads({{.*}}) in ({{.*}} = %[[ONE]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]])
// CHECK:   %[[SUM:.*]] = scf.for
// CHECK:   memref.store %[[SUM]], %[[SLOT]]
// CHECK:   gpu.terminator
// CHECK: %[[HOST:.*]] = memref.alloca() : memref<1xindex>
// CHECK: gpu.memcpy  %[[HOST]], %[[SLOT]]
// CHECK: gpu.wait
// CHECK: %[[N:.*]] = memref.load %[[HOST]]
// CHECK: gpu.dealloc  %[[SLOT]]
// CHECK: gpu.alloc (%[[N]]) : memref<?xf32>
func.func @serial_scalar(%counts: memref<8xindex>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %sum = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %c0) -> index {
    %v = memref.load %counts[%i] : memref<8xindex>
    %s = arith.addi %acc, %v : index
    scf.yield %s : index
  }
  %out = memref.alloc(%sum) : memref<?xf32>
  return %out : memref<?xf32>
}

// -----

/// Consecutive device ops share one serial launch; host ops in between
/// that use none of their values do not split them, and scalar arithmetic
/// on their values joins them. A dealloc waits for the work before it.
/// Static scratch allocations inside kernels become private allocas;
/// constant globals are re-materialized inside.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @grouping
// CHECK: gpu.alloc () : memref<4xf32>
// CHECK: gpu.alloc () : memref<4xf32>
// CHECK: gpu.launch
// CHECK-NEXT: memref.get_global @table
// CHECK: memref.load
// CHECK: memref.load
// CHECK: arith.addf
// CHECK: memref.alloca() : memref<16xf32>
// CHECK-NOT: memref.dealloc
// CHECK: memref.store
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: gpu.dealloc
func.func @grouping(%x: memref<4xf32>) -> memref<4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %t = memref.get_global @table : memref<4xf32>
  %tmp = memref.alloc() : memref<4xf32>
  %v = memref.load %x[%c0] : memref<4xf32>
  %w = memref.load %t[%c1] : memref<4xf32>
  %s = arith.addf %v, %w : f32
  %out = memref.alloc() : memref<4xf32>
  scf.for %i = %c0 to %c1 step %c1 {
    %scratch = memref.alloc() : memref<16xf32>
    memref.store %s, %scratch[%i] : memref<16xf32>
    memref.dealloc %scratch : memref<16xf32>
  }
  memref.store %s, %tmp[%c0] : memref<4xf32>
  memref.store %s, %out[%c0] : memref<4xf32>
  memref.dealloc %tmp : memref<4xf32>
  return %out : memref<4xf32>
}

// -----

/// Control flow that holds kernels stays on the host, its regions mapped
/// like the body: the condition is read back, the branch launches its own
/// parallel kernel. A store into a mutable global (the run status word of
/// the index checks) is host work, so its scf.if stays on the host too.
memref.global "private" @status : memref<1xi64> = dense<0>
// CHECK-LABEL: func.func @host_control
// CHECK: gpu.launch
// CHECK:   memref.load
// CHECK: gpu.memcpy
// CHECK: gpu.wait
// CHECK: %[[C:.*]] = memref.load
// CHECK: scf.if %[[C]] {
// CHECK:   gpu.launch
// CHECK:     scf.if
// CHECK:       memref.store
// CHECK: }
// CHECK: scf.if %[[C]] {
// CHECK-NEXT: %[[W:.*]] = memref.get_global @status
// CHECK-NEXT: memref.store %{{.*}}, %[[W]]
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @host_control(%flag: memref<i1>, %out: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %code = arith.constant 3 : i64
  %c = memref.load %flag[] : memref<i1>
  scf.if %c {
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      memref.store %zero, %out[%i] : memref<64xf32>
      scf.reduce
    }
  }
  scf.if %c {
    %w = memref.get_global @status : memref<1xi64>
    memref.store %code, %w[%c0] : memref<1xi64>
  }
  return
}

// -----

/// A reshape reads its shape on the host: a shape computed on the device
/// is copied to a host buffer first; a constant global shape is read as is.
memref.global "private" constant @shape : memref<2xi64> = dense<[2, 2]>
// CHECK-LABEL: func.func @reshape_shapes
// CHECK: %[[HOST:.*]] = memref.alloca() : memref<2xi64>
// CHECK: gpu.memcpy  %[[HOST]], %{{.*}} : memref<2xi64>, memref<2xi64>
// CHECK: gpu.wait
// CHECK: memref.reshape %{{.*}}(%[[HOST]])
// CHECK: %[[G:.*]] = memref.get_global @shape
// CHECK: memref.reshape %{{.*}}(%[[G]])
func.func @reshape_shapes(%x: memref<4xf32>, %s: memref<2xi64>) -> (memref<2x2xf32>, memref<2x2xf32>) {
  %a = memref.reshape %x(%s) : (memref<4xf32>, memref<2xi64>) -> memref<2x2xf32>
  %g = memref.get_global @shape : memref<2xi64>
  %b = memref.reshape %x(%g) : (memref<4xf32>, memref<2xi64>) -> memref<2x2xf32>
  return %a, %b : memref<2x2xf32>, memref<2x2xf32>
}

// -----

/// Buffers handed to a host function (the deallocation helper's pointer
/// lists) stay host memory, and the private helper is not mapped.
// CHECK-LABEL: func.func @host_buffers
// CHECK: %[[L:.*]] = memref.alloc() : memref<2xindex>
// CHECK-NEXT: memref.store %{{.*}}, %[[L]]
// CHECK-NEXT: call @helper(%[[L]])
// CHECK-NEXT: memref.dealloc %[[L]]
// CHECK-NOT: gpu.
// CHECK-LABEL: func.func private @helper
// CHECK-NOT: gpu.
func.func @host_buffers(%p: index) {
  %c0 = arith.constant 0 : index
  %l = memref.alloc() : memref<2xindex>
  memref.store %p, %l[%c0] : memref<2xindex>
  call @helper(%l) : (memref<2xindex>) -> ()
  memref.dealloc %l : memref<2xindex>
  return
}
func.func private @helper(%l: memref<2xindex>) {
  %c0 = arith.constant 0 : index
  %v = memref.load %l[%c0] : memref<2xindex>
  memref.store %v, %l[%c0] : memref<2xindex>
  return
}

// -----

/// A host loop around kernels whose carried scalar is computed on the
/// device: the value comes back each iteration and the host yields it.
// CHECK-LABEL: func.func @loop_carried
// CHECK: scf.for %{{.*}} iter_args(%[[A:.*]] = %{{.*}}) -> (index) {
// CHECK:   gpu.launch
// CHECK:   gpu.launch
// CHECK:     %[[V:.*]] = memref.load
// CHECK:     %[[S:.*]] = arith.addi %[[A]], %[[V]]
// CHECK:     memref.store %[[S]]
// CHECK:     gpu.terminator
// CHECK:   gpu.memcpy
// CHECK:   gpu.wait
// CHECK:   %[[H:.*]] = memref.load
// CHECK:   scf.yield %[[H]] : index
func.func @loop_carried(%x: memref<8xindex>, %out: memref<64xf32>) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %r = scf.for %i = %c0 to %c8 step %c1 iter_args(%a = %c0) -> index {
    scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
      memref.store %zero, %out[%j] : memref<64xf32>
      scf.reduce
    }
    %v = memref.load %x[%i] : memref<8xindex>
    %s = arith.addi %a, %v : index
    scf.yield %s : index
  }
  return %r : index
}

// -----

/// Scratch over 4 KiB per thread is not put on the thread's stack (the
/// driver reserves it for every resident thread): it is a slice of one
/// device buffer of a slice per launched thread, allocated around the
/// launch; small scratch stays private.
// CHECK-LABEL: func.func @large_scratch
// CHECK: %[[STRIDE:.*]] = arith.constant 8192 : index
// CHECK: %[[BYTES:.*]] = arith.muli %{{.*}}, %[[STRIDE]] : index
// CHECK: %[[BUF:.*]] = gpu.alloc (%[[BYTES]]) : memref<?xi8>
// CHECK: gpu.launch
// CHECK: %[[IN_STRIDE:.*]] = arith.constant 8192 : index
// CHECK: %[[OFF:.*]] = arith.muli %{{.*}}, %[[IN_STRIDE]] : index
// CHECK: %[[BIG:.*]] = memref.view %[[BUF]][%[[OFF]]][] : memref<?xi8> to memref<2048xf32>
// CHECK: memref.alloca() : memref<16xf32>
// CHECK: memref.store %{{.*}}, %[[BIG]]
// CHECK: gpu.terminator
// CHECK: gpu.dealloc %[[BUF]] : memref<?xi8>
func.func @large_scratch(%out: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %big = memref.alloc() : memref<2048xf32>
    %small = memref.alloc() : memref<16xf32>
    memref.store %f, %small[%c0] : memref<16xf32>
    memref.store %f, %big[%i] : memref<2048xf32>
    %v = memref.load %big[%i] : memref<2048xf32>
    memref.store %v, %out[%i] : memref<64xf32>
    memref.dealloc %big : memref<2048xf32>
    memref.dealloc %small : memref<16xf32>
    scf.reduce
  }
  return
}

// -----

/// Scratch of index elements (a chunk's count in the parallel compaction)
/// is sized at 8 bytes an element: one index on the thread's stack, 1024
/// (8 KiB) a slice of a device buffer allocated around the launch.
// CHECK-LABEL: func.func @index_scratch
// CHECK: gpu.alloc ({{.*}}) : memref<?xi8>
// CHECK: gpu.launch
// CHECK: memref.alloca() : memref<1xindex>
// CHECK: memref.view {{.*}} : memref<?xi8> to memref<1024xindex>
// CHECK: gpu.terminator
// CHECK: gpu.dealloc
func.func @index_scratch(%out: memref<?xindex>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %one = memref.alloc() : memref<1xindex>
    %big = memref.alloc() : memref<1024xindex>
    memref.store %i, %one[%c0] : memref<1xindex>
    memref.store %i, %big[%i] : memref<1024xindex>
    %v = memref.load %one[%c0] : memref<1xindex>
    %w = memref.load %big[%c0] : memref<1024xindex>
    %s = arith.addi %v, %w : index
    memref.store %s, %out[%i] : memref<?xindex>
    memref.dealloc %one : memref<1xindex>
    memref.dealloc %big : memref<1024xindex>
    scf.reduce
  }
  return
}

// -----

/// Host-thread tasks (the lowering's two column blocks of a gathered
/// axpy): an outermost parallel loop of 2 iterations whose body holds a
/// parallel loop becomes a host loop, each task's inner loop its own
/// launch of one thread per column. With 32 tasks, or with no parallel
/// loop inside, the tasks are threads of one launch as before.
// CHECK-LABEL: func.func @host_tasks
// CHECK: scf.for %[[T:.*]] = %c0 to %c2 step %c1 {
// CHECK:   %[[LO:.*]] = arith.muli %[[T]], %c512
// CHECK:   memref.subview %{{.*}}[%[[LO]]] [512] [1]
// CHECK:   gpu.launch
// CHECK:     memref.load
// CHECK:     math.exp
// CHECK:   gpu.terminator
// CHECK: }
// CHECK: gpu.launch blocks
// CHECK-NOT: scf.for %{{.*}} = %c0 to %c32
// CHECK: scf.parallel
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks
// CHECK-NOT: scf.parallel
// CHECK: gpu.terminator
func.func @host_tasks(%x: memref<1024xf32>, %y: memref<1024xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %c512 = arith.constant 512 : index
  scf.parallel (%t) = (%c0) to (%c2) step (%c1) {
    %lo = arith.muli %t, %c512 : index
    %in = memref.subview %x[%lo] [512] [1] : memref<1024xf32> to memref<512xf32, strided<[1], offset: ?>>
    %out = memref.subview %y[%lo] [512] [1] : memref<1024xf32> to memref<512xf32, strided<[1], offset: ?>>
    scf.parallel (%i) = (%c0) to (%c512) step (%c1) {
      %v = memref.load %in[%i] : memref<512xf32, strided<[1], offset: ?>>
      %e = math.exp %v : f32
      memref.store %e, %out[%i] : memref<512xf32, strided<[1], offset: ?>>
      scf.reduce
    }
    scf.reduce
  }
  scf.parallel (%t) = (%c0) to (%c32) step (%c1) {
    %lo = arith.muli %t, %c32 : index
    scf.parallel (%i) = (%c0) to (%c32) step (%c1) {
      %j = arith.addi %lo, %i : index
      %v = memref.load %x[%j] : memref<1024xf32>
      memref.store %v, %y[%j] : memref<1024xf32>
      scf.reduce
    }
    scf.reduce
  }
  scf.parallel (%t) = (%c0) to (%c2) step (%c1) {
    %v = memref.load %x[%t] : memref<1024xf32>
    memref.store %v, %y[%t] : memref<1024xf32>
    scf.reduce
  }
  return
}

// -----

/// A run-time number of tasks (a router's experts with tokens), each with
/// its own parallel loop and a scratch buffer of a run-time size: a host
/// loop, the buffer a device allocation per task, the loop one launch per
/// task.
// CHECK-LABEL: func.func @dynamic_tasks
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c1 {
// CHECK:   %[[BUF:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK:   gpu.launch
// CHECK:     memref.store %{{.*}}, %[[BUF]]
// CHECK:   gpu.terminator
// CHECK:   gpu.dealloc %[[BUF]]
// CHECK: }
func.func @dynamic_tasks(%x: memref<1024xf32>, %n: index, %len: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%t) = (%c0) to (%n) step (%c1) {
    %buf = memref.alloc(%len) : memref<?xf32>
    scf.parallel (%i) = (%c0) to (%len) step (%c1) {
      %v = memref.load %x[%i] : memref<1024xf32>
      memref.store %v, %buf[%i] : memref<?xf32>
      scf.reduce
    }
    memref.dealloc %buf : memref<?xf32>
    scf.reduce
  }
  return
}

// -----

/// Vector arithmetic on a serial group's values (a task's vectorized
/// reduction) joins the group: only the scalar the host needs (an
/// allocation size here) comes back; before, the vector was an escaping
/// value the mapping could not return.
// CHECK-LABEL: func.func @vector_joins_group
// CHECK: gpu.launch
// CHECK:   vector.transfer_read
// CHECK:   arith.addf %{{.*}} : vector<8xf32>
// CHECK:   vector.reduction <add>
// CHECK:   arith.fptosi
// CHECK:   memref.store %{{.*}} : memref<1xindex>
// CHECK: gpu.terminator
// CHECK: gpu.memcpy
// CHECK: gpu.alloc (%{{.*}}) : memref<?xf32>
func.func @vector_joins_group(%x: memref<8xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0.0 : f32
  %v = vector.transfer_read %x[%c0], %pad {in_bounds = [true]} : memref<8xf32>, vector<8xf32>
  %w = arith.addf %v, %v : vector<8xf32>
  %s = vector.reduction <add>, %w : vector<8xf32> into f32
  %i = arith.fptosi %s : f32 to i64
  %n = arith.index_cast %i : i64 to index
  %out = memref.alloc(%n) : memref<?xf32>
  return %out : memref<?xf32>
}
