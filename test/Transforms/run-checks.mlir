// RUN: sparsa-opt %s --split-input-file --sparsa-run-checks | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --sparsa-run-checks --convert-onnx-to-linalg | FileCheck %s --check-prefix=LOWER

/// Index values read from inputs get a numbered check and a message naming
/// their node; one status word lists the messages. A FFN without an index
/// set needs no check.
// CHECK: memref.global "public" @sparsa_run_status : memref<1xi64> = dense<0> {sparsa.check_messages = ["/ffn/core: a neuron index of the index set is out of range [-32, 32)"]}
// CHECK-LABEL: func.func @core
// CHECK: sparsa.sparse_ffn {{.+}} indices = %arg3 {sparsa.check = 1 : i64}
// CHECK: sparsa.sparse_ffn
// CHECK-NOT: sparsa.check

/// The lowering: one pass over the indices (any outside [-F, F)), the
/// check's id into the status word if so; the kernels clamp regardless.
// LOWER-LABEL: func.func @core
// LOWER: %[[ANY:.+]] = linalg.generic {{.+}} iterator_types = ["reduction"]} ins(%arg3 : tensor<32xi64>) outs(%{{.+}} : tensor<i1>)
// LOWER: arith.cmpi slt
// LOWER: arith.cmpi sge
// LOWER: %[[BAD:.+]] = tensor.extract %[[ANY]][] : tensor<i1>
// LOWER: scf.if %[[BAD]] {
// LOWER: %[[W:.+]] = memref.get_global @sparsa_run_status : memref<1xi64>
// LOWER: memref.store %c1_i64, %[[W]][%{{.+}}] : memref<1xi64>
// LOWER: arith.maxsi
// LOWER: arith.minsi
func.func @core(%x: tensor<1x64xf32>, %wi: tensor<32x64xf32>, %wo: tensor<32x64xf32>, %idx: tensor<32xi64>,
                %w1: tensor<64x128xf32>, %w2: tensor<128x64xf32>) -> (tensor<1x64xf32>, tensor<1x64xf32>) {
  %z = sparsa.sparse_ffn %x, %wi, %wo indices = %idx {mode = "relu"} : (tensor<1x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>, tensor<32xi64>) -> tensor<1x64xf32> loc("/ffn/core")
  %y = sparsa.sparse_ffn %x, %w1, %w2 {mode = "relu"} : (tensor<1x64xf32>, tensor<64x128xf32>, tensor<128x64xf32>) -> tensor<1x64xf32>
  return %z, %y : tensor<1x64xf32>, tensor<1x64xf32>
}

// -----

/// A Gather of run-time indices (token ids) is checked against the data's
/// extent along its axis; one of constant indices is not.
// CHECK: memref.global "public" @sparsa_run_status : memref<1xi64> = dense<0> {sparsa.check_messages = ["/embed/Gather: an index is out of range [-50, 50) along axis 0"]}
// CHECK-LABEL: func.func @embedding
// CHECK: onnx.Gather %{{.+}}, %arg0 {sparsa.check = 1 : i64}
// CHECK: onnx.Gather
// CHECK-NOT: sparsa.check
// LOWER-LABEL: func.func @embedding
// LOWER: ins(%arg0 : tensor<2x3xi64>) outs(%{{.+}} : tensor<i1>)
// LOWER: scf.if
// LOWER: memref.store %c1_i64
func.func @embedding(%ids: tensor<2x3xi64>, %emb: tensor<50x8xf32>) -> (tensor<2x3x8xf32>, tensor<2x8xf32>) {
  %h = onnx.Gather %emb, %ids : (tensor<50x8xf32>, tensor<2x3xi64>) -> tensor<2x3x8xf32> loc("/embed/Gather")
  %c = onnx.Constant {value = dense<[1, 7]> : tensor<2xi64>} : () -> tensor<2xi64>
  %r = onnx.Gather %emb, %c : (tensor<50x8xf32>, tensor<2xi64>) -> tensor<2x8xf32>
  return %h, %r : tensor<2x3x8xf32>, tensor<2x8xf32>
}

// -----

/// LinearAttention: inputs whose batch or sequence sizes are only known at
/// run time are checked against the query's; the lowering compares them,
/// stores the check's id when one differs, and runs its loops to the
/// smallest sizes. Static sizes that agree need no check.
// CHECK: memref.global "public" @sparsa_run_status : memref<1xi64> = dense<0> {sparsa.check_messages = ["/attn/LinearAttention: the key, value, decay, beta and past_state must have the query's batch size (and the first four its sequence length)"]}
// CHECK-LABEL: func.func @linear_attention
// CHECK: onnx.LinearAttention {{.+}} sparsa.check = 1 : i64
// CHECK: onnx.LinearAttention
// CHECK-NOT: sparsa.check
// LOWER-LABEL: func.func @linear_attention
// LOWER: arith.cmpi ne
// LOWER: arith.minui
// LOWER: scf.if
// LOWER: memref.store %c1_i64
func.func @linear_attention(%q: tensor<1x?x32xf32>, %k: tensor<1x?x16xf32>, %q2: tensor<1x4x32xf32>) -> (tensor<1x?x32xf32>, tensor<1x1x16x16xf32>, tensor<1x4x32xf32>, tensor<1x2x16x16xf32>) {
  %y, %s = onnx.LinearAttention %q, %k, %k {q_num_heads = 2 : si64, kv_num_heads = 1 : si64} : (tensor<1x?x32xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> (tensor<1x?x32xf32>, tensor<1x1x16x16xf32>) loc("/attn/LinearAttention")
  %y2, %s2 = onnx.LinearAttention %q2, %q2, %q2 {q_num_heads = 2 : si64, kv_num_heads = 2 : si64} : (tensor<1x4x32xf32>, tensor<1x4x32xf32>, tensor<1x4x32xf32>) -> (tensor<1x4x32xf32>, tensor<1x2x16x16xf32>)
  return %y, %s, %y2, %s2 : tensor<1x?x32xf32>, tensor<1x1x16x16xf32>, tensor<1x4x32xf32>, tensor<1x2x16x16xf32>
}

// -----

/// sparsa.attention: K's and V's leading sizes, when only known at run
/// time, must be the query's or 1, and V's positions K's; the lowering
/// compares them, stores the check's id when one differs, and runs over
/// the positions both have. A key batch of 1 and static sizes that agree
/// need no check.
// CHECK: memref.global "public" @sparsa_run_status : memref<1xi64> = dense<0> {sparsa.check_messages = ["/attn/MatMul_1: the key and value must have the query's leading (batch, head) sizes, or 1, and the same number of positions"]}
// CHECK-LABEL: func.func @attention
// CHECK: sparsa.attention {{.+}}{sparsa.check = 1 : i64}
// CHECK: sparsa.attention
// CHECK-NOT: sparsa.check
// LOWER-LABEL: func.func @attention
// LOWER: arith.cmpi ne
// LOWER: scf.if
// LOWER: memref.store %c1_i64
// LOWER: arith.minui
// LOWER: scf.forall
func.func @attention(%q: tensor<?x2x8x16xf32>, %k: tensor<?x2x8x16xf32>, %v: tensor<?x2x?x16xf32>, %q1: tensor<3x2x8x16xf32>, %k1: tensor<1x2x8x16xf32>) -> (tensor<?x2x8x16xf32>, tensor<3x2x8x16xf32>) {
  %o = sparsa.attention %q, %k, %v : (tensor<?x2x8x16xf32>, tensor<?x2x8x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x8x16xf32> loc("/attn/MatMul_1")
  %o1 = sparsa.attention %q1, %k1, %k1 : (tensor<3x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<3x2x8x16xf32>
  return %o, %o1 : tensor<?x2x8x16xf32>, tensor<3x2x8x16xf32>
}
