// RUN: sparsa-opt %s --split-input-file --sparsa-instrument-sparsity | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-instrument-sparsity --convert-onnx-to-linalg | FileCheck %s --check-prefix=LOWER

/// Each activation-sparse FFN gets its counters: 102 header slots (tokens,
/// active total, a 100-bin density histogram) + one per neuron, named after
/// the ONNX node; an FFN over an index set is told its neurons and gets none.
// CHECK: memref.global "public" @sparsa_profile_0 : memref<358xi64> = dense<0> {alignment = 64 : i64, sparsa.profile_node = "/l0/fc2"}
// CHECK-LABEL: func.func @two_ffns
// CHECK: sparsa.sparse_ffn {{.+}} {sparsa.profile = @sparsa_profile_0}
// CHECK: sparsa.sparse_ffn
// CHECK-NOT: sparsa.profile
// CHECK: return

/// The lowering adds one call's counts: the gate's active mask, per-neuron
/// firings (a reduction over tokens) into slots 102.., per-token counts
/// into the histogram, then writes the counters back.
// LOWER-LABEL: func.func @two_ffns
// LOWER: %[[G:.+]] = memref.get_global @sparsa_profile_0 : memref<358xi64>
// LOWER: %[[C:.+]] = bufferization.to_tensor %[[G]] restrict writable
// LOWER: arith.cmpf ugt
// LOWER: arith.extui
// LOWER: tensor.extract_slice %[[C]][102] [256] [1]
// LOWER: iterator_types = ["reduction", "parallel"]
// LOWER: scf.for
// LOWER: arith.divsi
// LOWER: tensor.insert_slice {{.+}}[102] [256] [1]
// LOWER: bufferization.materialize_in_destination {{.+}} in restrict writable %[[G]]
func.func @two_ffns(%x: tensor<?x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>,
                    %wi: tensor<32x64xf32>, %wo: tensor<32x64xf32>, %idx: tensor<32xi64>) -> (tensor<?x64xf32>, tensor<1x64xf32>) {
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "relu"} : (tensor<?x64xf32>, tensor<64x256xf32>, tensor<256x64xf32>) -> tensor<?x64xf32> loc("/l0/fc2")
  %x1 = tensor.extract_slice %x[0, 0] [1, 64] [1, 1] : tensor<?x64xf32> to tensor<1x64xf32>
  %z = sparsa.sparse_ffn %x1, %wi, %wo indices = %idx {mode = "relu"} : (tensor<1x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<32xi64>) -> tensor<1x64xf32>
  return %y, %z : tensor<?x64xf32>, tensor<1x64xf32>
}
