// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-parallel-compaction | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-parallel-compaction="chunk=256 min-positions=2048" | FileCheck %s --check-prefix=BIG
// RUN: not sparsa-opt %s --split-input-file --sparsa-gpu-parallel-compaction="chunk=0" 2>&1 | FileCheck %s --check-prefix=BADCHUNK

// BADCHUNK: error: sparsa-gpu-parallel-compaction: chunk must be positive

/// The active-neuron list as the sparse FFN lowering writes it (after
/// canonicalization: casts between the static and the dynamic list): one
/// forall counting per chunk of 128, a prefix sum from the starting count,
/// one forall writing each chunk's positions into its slice of the list.
// CHECK-LABEL: func.func @relu_list
// CHECK-SAME: (%[[H:.*]]: tensor<1x1000xf32>)
// CHECK-DAG: %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG: %[[C1000:.*]] = arith.constant 1000 : index
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %{{.*}}, %[[C128]]
// CHECK: %[[COUNTS:.*]] = scf.forall (%[[C:.*]]) in (%[[CHUNKS]]) shared_outs(%[[CO:.*]] = %{{.*}}) -> (tensor<?xindex>)
// CHECK:   %[[LO:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK:   %[[HI:.*]] = arith.minsi %{{.*}}, %[[C1000]]
// CHECK:   %[[N:.*]] = scf.for %[[I:.*]] = %[[LO]] to %[[HI]] {{.*}} -> (index)
// CHECK:     tensor.extract %[[H]][%{{.*}}, %[[I]]]
// CHECK:     arith.cmpf ugt
// CHECK:     arith.select
// CHECK:   tensor.from_elements %[[N]] : tensor<1xindex>
// CHECK:   tensor.parallel_insert_slice %{{.*}} into %[[CO]][%[[C]]] [1] [1]
// CHECK: %[[SCAN:.*]]:2 = scf.for %[[K:.*]] = %{{.*}} to %[[CHUNKS]] {{.*}} iter_args(%[[OFFS:.*]] = %{{.*}}, %[[ACC:.*]] = %{{.*}})
// CHECK:   tensor.insert %[[ACC]] into %[[OFFS]][%[[K]]]
// CHECK:   tensor.extract %[[COUNTS]][%[[K]]]
// CHECK: %[[LIST:.*]] = scf.forall (%[[W:.*]]) in (%[[CHUNKS]]) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1000xindex>)
// CHECK:   %[[OFF:.*]] = tensor.extract %[[SCAN]]#0[%[[W]]]
// CHECK:   %[[CNT:.*]] = tensor.extract %[[COUNTS]][%[[W]]]
// CHECK:   %[[SLICE:.*]] = tensor.extract_slice %[[OUT]][%[[OFF]]] [%[[CNT]]] [1]
// CHECK:   %[[FILL:.*]]:2 = scf.for %[[J:.*]] = {{.*}} iter_args(%[[S:.*]] = %[[SLICE]], %[[P:.*]] = %{{.*}})
// CHECK:     scf.if
// CHECK:       tensor.insert %[[J]] into %[[S]][%[[P]]]
// CHECK:   tensor.parallel_insert_slice %[[FILL]]#0 into %[[OUT]][%[[OFF]]] [%[[CNT]]] [1]
// CHECK-NOT: scf.for {{.*}} to %[[C1000]]
// CHECK: return %[[LIST]], %[[SCAN]]#1
/// Below min-positions: the serial loop stays.
// BIG-LABEL: func.func @relu_list
// BIG-NOT: scf.forall
// BIG: scf.for %{{.*}} = %{{.*}} to %{{.*}} step
func.func @relu_list(%h: tensor<1x1000xf32>) -> (tensor<1000xindex>, index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1000 = arith.constant 1000 : index
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1000xindex>
  %r:2 = scf.for %i = %c0 to %c1000 step %c1 iter_args(%l = %e, %k = %c0) -> (tensor<1000xindex>, index) {
    %cast = tensor.cast %l : tensor<1000xindex> to tensor<?xindex>
    %v = tensor.extract %h[%c0, %i] : tensor<1x1000xf32>
    %p = arith.cmpf ugt, %v, %zero : f32
    %s:2 = scf.if %p -> (tensor<?xindex>, index) {
      %ins = tensor.insert %i into %l[%k] : tensor<1000xindex>
      %ins_cast = tensor.cast %ins : tensor<1000xindex> to tensor<?xindex>
      %k1 = arith.addi %k, %c1 : index
      scf.yield %ins_cast, %k1 : tensor<?xindex>, index
    } else {
      scf.yield %cast, %k : tensor<?xindex>, index
    }
    %back = tensor.cast %s#0 : tensor<?xindex> to tensor<1000xindex>
    scf.yield %back, %s#1 : tensor<1000xindex>, index
  }
  return %r#0, %r#1 : tensor<1000xindex>, index
}

// -----

/// A dynamic range [lb, ub), the count first, a starting count of 5 and the
/// increment written 1 + k: chunks start at lb, the scan starts at 5, and
/// an empty range (ub <= lb) has no chunks.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: (%[[X:.*]]: tensor<?xf32>, %[[LB:.*]]: index, %[[UB:.*]]: index, %[[INIT:.*]]: tensor<?xindex>)
// CHECK-DAG: %[[C5:.*]] = arith.constant 5 : index
// CHECK: %[[LEN:.*]] = arith.subi %[[UB]], %[[LB]]
// CHECK: %[[POS:.*]] = arith.maxsi %[[LEN]], %{{.*}}
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %[[POS]]
// CHECK: scf.forall
// CHECK:   arith.addi %[[LB]], %{{.*}}
// CHECK:   math.absf
// CHECK: %[[SCAN:.*]]:2 = scf.for {{.*}} to %[[CHUNKS]] {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %[[C5]])
// CHECK: %[[LIST:.*]] = scf.forall {{.*}} shared_outs(%{{.*}} = %[[INIT]])
// CHECK: return %[[SCAN]]#1, %[[LIST]]
func.func @dynamic(%x: tensor<?xf32>, %lb: index, %ub: index, %init: tensor<?xindex>)
    -> (index, tensor<?xindex>) {
  %c1 = arith.constant 1 : index
  %c5 = arith.constant 5 : index
  %t = arith.constant 0.5 : f32
  %r:2 = scf.for %i = %lb to %ub step %c1 iter_args(%k = %c5, %l = %init) -> (index, tensor<?xindex>) {
    %v = tensor.extract %x[%i] : tensor<?xf32>
    %a = math.absf %v : f32
    %p = arith.cmpf ogt, %a, %t : f32
    %s:2 = scf.if %p -> (index, tensor<?xindex>) {
      %ins = tensor.insert %i into %l[%k] : tensor<?xindex>
      %k1 = arith.addi %c1, %k : index
      scf.yield %k1, %ins : index, tensor<?xindex>
    } else {
      scf.yield %k, %l : index, tensor<?xindex>
    }
    scf.yield %s#0, %s#1 : index, tensor<?xindex>
  }
  return %r#0, %r#1 : index, tensor<?xindex>
}

// -----

/// Near misses stay serial: a predicate that reads the count (the list is
/// not a filter of positions), a value other than the position inserted, a
/// step of 2, an else branch that counts too, a short loop (100 < 512),
/// and a body with a memory effect (a store to a buffer).
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: scf.forall
// CHECK-COUNT-6: scf.if
// CHECK-NOT: scf.forall
func.func @near_misses(%x: tensor<4096xf32>, %e: tensor<4096xindex>, %buf: memref<4096xf32>)
    -> (index, index, index, index, index, index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c100 = arith.constant 100 : index
  %c4096 = arith.constant 4096 : index
  %zero = arith.constant 0.0 : f32
  %a:2 = scf.for %i = %c0 to %c4096 step %c1 iter_args(%l = %e, %k = %c0) -> (tensor<4096xindex>, index) {
    %p = arith.cmpi ult, %k, %c100 : index
    %s:2 = scf.if %p -> (tensor<4096xindex>, index) {
      %ins = tensor.insert %i into %l[%k] : tensor<4096xindex>
      %k1 = arith.addi %k, %c1 : index
      scf.yield %ins, %k1 : tensor<4096xindex>, index
    } else {
      scf.yield %l, %k : tensor<4096xindex>, index
    }
    scf.yield %s#0, %s#1 : tensor<4096xindex>, index
  }
  %b:2 = scf.for %i = %c0 to %c4096 step %c1 iter_args(%l = %e, %k = %c0) -> (tensor<4096xindex>, index) {
    %v = tensor.extract %x[%i] : tensor<4096xf32>
    %p = arith.cmpf ugt, %v, %zero : f32
    %s:2 = scf.if %p -> (tensor<4096xindex>, index) {
      %ins = tensor.insert %k into %l[%k] : tensor<4096xindex>
      %k1 = arith.addi %k, %c1 : index
      scf.yield %ins, %k1 : tensor<4096xindex>, index
    } else {
      scf.yield %l, %k : tensor<4096xindex>, index
    }
    scf.yield %s#0, %s#1 : tensor<4096xindex>, index
  }
  %c:2 = scf.for %i = %c0 to %c4096 step %c2 iter_args(%l = %e, %k = %c0) -> (tensor<4096xindex>, index) {
    %v = tensor.extract %x[%i] : tensor<4096xf32>
    %p = arith.cmpf ugt, %v, %zero : f32
    %s:2 = scf.if %p -> (tensor<4096xindex>, index) {
      %ins = tensor.insert %i into %l[%k] : tensor<4096xindex>
      %k1 = arith.addi %k, %c1 : index
      scf.yield %ins, %k1 : tensor<4096xindex>, index
    } else {
      scf.yield %l, %k : tensor<4096xindex>, index
    }
    scf.yield %s#0, %s#1 : tensor<4096xindex>, index
  }
  %d:2 = scf.for %i = %c0 to %c4096 step %c1 iter_args(%l = %e, %k = %c0) -> (tensor<4096xindex>, index) {
    %v = tensor.extract %x[%i] : tensor<4096xf32>
    %p = arith.cmpf ugt, %v, %zero : f32
    %s:2 = scf.if %p -> (tensor<4096xindex>, index) {
      %ins = tensor.insert %i into %l[%k] : tensor<4096xindex>
      %k1 = arith.addi %k, %c1 : index
      scf.yield %ins, %k1 : tensor<4096xindex>, index
    } else {
      %k2 = arith.addi %k, %c2 : index
      scf.yield %l, %k2 : tensor<4096xindex>, index
    }
    scf.yield %s#0, %s#1 : tensor<4096xindex>, index
  }
  %f:2 = scf.for %i = %c0 to %c100 step %c1 iter_args(%l = %e, %k = %c0) -> (tensor<4096xindex>, index) {
    %v = tensor.extract %x[%i] : tensor<4096xf32>
    %p = arith.cmpf ugt, %v, %zero : f32
    %s:2 = scf.if %p -> (tensor<4096xindex>, index) {
      %ins = tensor.insert %i into %l[%k] : tensor<4096xindex>
      %k1 = arith.addi %k, %c1 : index
      scf.yield %ins, %k1 : tensor<4096xindex>, index
    } else {
      scf.yield %l, %k : tensor<4096xindex>, index
    }
    scf.yield %s#0, %s#1 : tensor<4096xindex>, index
  }
  %g:2 = scf.for %i = %c0 to %c4096 step %c1 iter_args(%l = %e, %k = %c0) -> (tensor<4096xindex>, index) {
    %v = tensor.extract %x[%i] : tensor<4096xf32>
    memref.store %v, %buf[%i] : memref<4096xf32>
    %p = arith.cmpf ugt, %v, %zero : f32
    %s:2 = scf.if %p -> (tensor<4096xindex>, index) {
      %ins = tensor.insert %i into %l[%k] : tensor<4096xindex>
      %k1 = arith.addi %k, %c1 : index
      scf.yield %ins, %k1 : tensor<4096xindex>, index
    } else {
      scf.yield %l, %k : tensor<4096xindex>, index
    }
    scf.yield %s#0, %s#1 : tensor<4096xindex>, index
  }
  return %a#1, %b#1, %c#1, %d#1, %f#1, %g#1 : index, index, index, index, index, index
}
