// RUN: sparsa-opt %s --split-input-file --sparsa-gpu-warp-compaction --cse | FileCheck %s

/// The bufferized active-neuron list (2500 gates): chunks of 1024
/// positions, one warp each, under a check that there is a chunk. In the
/// count kernel each lane evaluates the predicate at lo + 32 s + lane
/// (clamped to the last position, false past it), the warp votes, and the
/// chunk's count is the sum of the ballots' popc, stored by lane 0. A scan
/// turns the counts into offsets from the loop's starting count (its total
/// is the loop's result); in the write kernel a lane whose predicate holds
/// writes its position at the offset so far plus the popc of the ballot's
/// bits below its lane.
// CHECK-LABEL: func.func @relu_list
// CHECK-SAME: (%[[H:.*]]: memref<1x2500xf32>, %[[LIST:.*]]: memref<2500xindex>)
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %{{.*}}, %c1024
// CHECK: %[[COUNTS:.*]] = memref.alloc(%[[CHUNKS]]) : memref<?xindex>
// CHECK: %[[OFFSETS:.*]] = memref.alloc(%[[CHUNKS]]) : memref<?xindex>
// CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[CHUNKS]], %c0
// CHECK: scf.if %[[ANY]]
// CHECK: gpu.launch blocks(%[[B:[^,]+]], {{.*}} in (%{{[a-z0-9]+}} = %[[CHUNKS]], {{.*}} threads(%[[T:[^,]+]], {{.*}} in (%{{[a-z0-9]+}} = %c32,
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %{{.*}} iter_args(%[[N:.*]] = %c0) -> (index)
// CHECK:   %[[IL:.*]] = arith.addi %{{.*}}, %[[T]]
// CHECK:   %[[I:.*]] = arith.addi %{{.*}}, %[[IL]]
// CHECK:   %[[IN:.*]] = arith.cmpi slt, %[[I]], %c2500
// CHECK:   %[[AT:.*]] = arith.minsi %[[I]]
// CHECK:   %[[V:.*]] = memref.load %[[H]][%c0, %[[AT]]]
// CHECK:   %[[GT:.*]] = arith.cmpf ugt, %[[V]]
// CHECK:   %[[P:.*]] = arith.andi %[[IN]], %[[GT]] : i1
// CHECK:   %[[MASK:.*]] = nvvm.vote.sync ballot %{{.*}}, %[[P]] -> i32
// CHECK:   math.ctpop %[[MASK]] : i32
// CHECK: %[[LANE0:.*]] = arith.cmpi eq, %[[T]], %c0
// CHECK: scf.if %[[LANE0]]
// CHECK:   memref.store %{{.*}}, %[[COUNTS]][%[[B]]]
// CHECK: %[[TOTAL:.*]] = scf.for %[[C:.*]] = %c0 to %[[CHUNKS]] step %{{.*}} iter_args(%[[ACC:.*]] = %c0) -> (index)
// CHECK:   memref.store %[[ACC]], %[[OFFSETS]][%[[C]]]
// CHECK:   memref.load %[[COUNTS]][%[[C]]]
// CHECK: scf.if %[[ANY]]
// CHECK: gpu.launch
// CHECK:   %[[OFF:.*]] = memref.load %[[OFFSETS]]
// CHECK:   scf.for {{.*}} iter_args(%[[CUR:.*]] = %[[OFF]]) -> (index)
// CHECK:     %[[Q:.*]] = arith.andi
// CHECK:     %[[M2:.*]] = nvvm.vote.sync ballot %{{.*}}, %[[Q]]
// CHECK:     %[[BELOW:.*]] = arith.subi %{{.*}}, %c1_i32 : i32
// CHECK:     %[[MINE:.*]] = arith.andi %[[M2]], %[[BELOW]] : i32
// CHECK:     %[[CNT:.*]] = math.ctpop %[[MINE]]
// CHECK:     %[[CNTI:.*]] = arith.index_castui %[[CNT]]
// CHECK:     %[[POS:.*]] = arith.addi %[[CUR]], %[[CNTI]]
// CHECK:     scf.if %[[Q]]
// CHECK:       memref.store %{{.*}}, %[[LIST]][%[[POS]]] : memref<2500xindex>
// CHECK:     math.ctpop %[[M2]]
// CHECK: memref.dealloc %[[COUNTS]]
// CHECK: memref.dealloc %[[OFFSETS]]
// CHECK: return %[[TOTAL]]
func.func @relu_list(%h: memref<1x2500xf32>, %list: memref<2500xindex>) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2500 = arith.constant 2500 : index
  %cst = arith.constant 0.0 : f32
  %n = scf.for %i = %c0 to %c2500 step %c1 iter_args(%k = %c0) -> (index) {
    %v = memref.load %h[%c0, %i] : memref<1x2500xf32>
    %p = arith.cmpf ugt, %v, %cst : f32
    %r = scf.if %p -> (index) {
      memref.store %i, %list[%k] : memref<2500xindex>
      %k2 = arith.addi %k, %c1 : index
      scf.yield %k2 : index
    } else {
      scf.yield %k : index
    }
    scf.yield %r : index
  }
  return %n : index
}

// -----

/// Near misses stay serial loops: too few positions; a predicate that
/// reads the list; a loop that stores something other than the position;
/// a predicate that writes memory.
// CHECK-LABEL: func.func @near_misses
// CHECK-NOT: gpu.launch
// CHECK-COUNT-4: scf.for
func.func @near_misses(%h: memref<4096xf32>, %list: memref<4096xindex>, %other: memref<4096xf32>)
    -> (index, index, index, index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c100 = arith.constant 100 : index
  %c4096 = arith.constant 4096 : index
  %cst = arith.constant 0.0 : f32
  %a = scf.for %i = %c0 to %c100 step %c1 iter_args(%k = %c0) -> (index) {
    %v = memref.load %h[%i] : memref<4096xf32>
    %p = arith.cmpf ugt, %v, %cst : f32
    %r = scf.if %p -> (index) {
      memref.store %i, %list[%k] : memref<4096xindex>
      %k2 = arith.addi %k, %c1 : index
      scf.yield %k2 : index
    } else {
      scf.yield %k : index
    }
    scf.yield %r : index
  }
  %b = scf.for %i = %c0 to %c4096 step %c1 iter_args(%k = %c0) -> (index) {
    %prev = memref.load %list[%i] : memref<4096xindex>
    %p = arith.cmpi ugt, %prev, %c0 : index
    %r = scf.if %p -> (index) {
      memref.store %i, %list[%k] : memref<4096xindex>
      %k2 = arith.addi %k, %c1 : index
      scf.yield %k2 : index
    } else {
      scf.yield %k : index
    }
    scf.yield %r : index
  }
  %c = scf.for %i = %c0 to %c4096 step %c1 iter_args(%k = %c0) -> (index) {
    %v = memref.load %h[%i] : memref<4096xf32>
    %p = arith.cmpf ugt, %v, %cst : f32
    %r = scf.if %p -> (index) {
      memref.store %c1, %list[%k] : memref<4096xindex>
      %k2 = arith.addi %k, %c1 : index
      scf.yield %k2 : index
    } else {
      scf.yield %k : index
    }
    scf.yield %r : index
  }
  %d = scf.for %i = %c0 to %c4096 step %c1 iter_args(%k = %c0) -> (index) {
    %v = memref.load %h[%i] : memref<4096xf32>
    memref.store %v, %other[%i] : memref<4096xf32>
    %p = arith.cmpf ugt, %v, %cst : f32
    %r = scf.if %p -> (index) {
      memref.store %i, %list[%k] : memref<4096xindex>
      %k2 = arith.addi %k, %c1 : index
      scf.yield %k2 : index
    } else {
      scf.yield %k : index
    }
    scf.yield %r : index
  }
  return %a, %b, %c, %d : index, index, index, index
}
