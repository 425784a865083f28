// RUN: sparsa-opt %s --pass-pipeline='builtin.module(gpu.module(sparsa-gpu-lower-dp4a))' | FileCheck %s

/// Four-byte dot products in device code become dp4a: each operand signed
/// or unsigned as its extension says, the reduction's accumulator (or 0)
/// accumulated; a sum of four extended bytes is the dot product with
/// unsigned ones. Other reductions are left alone.
// CHECK-LABEL: gpu.func @dots
// CHECK-SAME: (%[[A:.*]]: vector<4xi8>, %[[B:.*]]: vector<4xi8>, %[[ACC:.*]]: i32
// CHECK: %[[D:.*]] = nvvm.dot.accumulate.4way %[[A]] <signed>, %[[B]] <unsigned>, %[[ACC]] : vector<4xi8>, vector<4xi8>
// CHECK: %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK: %[[E:.*]] = nvvm.dot.accumulate.4way %[[B]] <unsigned>, %[[A]] <signed>, %[[ZERO]]
// CHECK: %[[ONES:.*]] = arith.constant dense<1> : vector<4xi8>
// CHECK: %[[S:.*]] = nvvm.dot.accumulate.4way %[[A]] <signed>, %[[ONES]] <unsigned>, %[[D]]
// CHECK: %[[U:.*]] = nvvm.dot.accumulate.4way %[[A]] <unsigned>, %[[B]] <unsigned>, %[[S]]
// CHECK-NOT: nvvm.dot.accumulate
// CHECK: vector.reduction <add>, %{{.*}} : vector<8xi32> into i32
// CHECK: vector.reduction <mul>, %{{.*}} : vector<4xi32> into i32
// CHECK: vector.reduction <add>, %{{.*}} : vector<4xi32> into i32
gpu.module @kernels {
  gpu.func @dots(%a: vector<4xi8>, %b: vector<4xi8>, %acc: i32, %a8: vector<8xi8>,
                 %h: vector<4xi16>, %out: memref<8xi32>) kernel {
    %sa = arith.extsi %a : vector<4xi8> to vector<4xi32>
    %ub = arith.extui %b : vector<4xi8> to vector<4xi32>
    %p = arith.muli %sa, %ub : vector<4xi32>
    %d = vector.reduction <add>, %p, %acc : vector<4xi32> into i32
    // The unsigned operand first, no accumulator.
    %q = arith.muli %ub, %sa : vector<4xi32>
    %e = vector.reduction <add>, %q : vector<4xi32> into i32
    // A byte sum.
    %s = vector.reduction <add>, %sa, %d : vector<4xi32> into i32
    // Both unsigned.
    %ua = arith.extui %a : vector<4xi8> to vector<4xi32>
    %pu = arith.muli %ua, %ub : vector<4xi32>
    %u = vector.reduction <add>, %pu, %s : vector<4xi32> into i32
    // Not four bytes: eight of them, a product, 16-bit elements.
    %s8 = arith.extsi %a8 : vector<8xi8> to vector<8xi32>
    %f = vector.reduction <add>, %s8 : vector<8xi32> into i32
    %g = vector.reduction <mul>, %p : vector<4xi32> into i32
    %hs = arith.extsi %h : vector<4xi16> to vector<4xi32>
    %k = vector.reduction <add>, %hs : vector<4xi32> into i32
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %c4 = arith.constant 4 : index
    memref.store %e, %out[%c0] : memref<8xi32>
    memref.store %u, %out[%c1] : memref<8xi32>
    memref.store %f, %out[%c2] : memref<8xi32>
    memref.store %g, %out[%c3] : memref<8xi32>
    memref.store %k, %out[%c4] : memref<8xi32>
    gpu.return
  }
}
