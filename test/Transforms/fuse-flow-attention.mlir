// RUN: sparsa-opt %S/Inputs/flowformer-noncausal-einsum.mlir --sparsa-fuse-flow-attention | FileCheck %s --check-prefix=NONCAUSAL
// RUN: sparsa-opt %S/Inputs/flowformer-causal-mask.mlir --sparsa-fuse-flow-attention | FileCheck %s --check-prefix=CAUSAL
// RUN: sparsa-opt %S/Inputs/flowformer-clip-near-miss.mlir --sparsa-fuse-flow-attention | FileCheck %s --check-prefix=NEAR
// RUN: sparsa-opt %S/Inputs/linear-attention-fast-transformers.mlir --sparsa-fuse-flow-attention | FileCheck %s --check-prefix=FAST
// RUN: sparsa-opt %s --split-input-file --sparsa-fuse-flow-attention | FileCheck %s

/// Flowformer's module as torch.onnx exports it (Inputs/, made by
/// sparsa.models.flowformer): Einsum row dots, ReduceSum sums, Div(1, x),
/// Clip, Softmax over the keys times S, Sigmoid(sink * L / S), the Einsum
/// state: ~40 nodes become one op on the raw q, k, v.
// NONCAUSAL: %[[O:.+]] = sparsa.flow_attention %arg0, %arg1, %arg2 {allocation_scale = 1.000000e+00 : f64, competition_scale = 6.000000e+00 : f64, eps = 9.9999999747524271E-7 : f64}
// NONCAUSAL-NOT: onnx.Einsum
// NONCAUSAL-NOT: onnx.Softmax
// NONCAUSAL: return %[[O]]

/// Causal with keepdims sums, CumSum prefix sums, the normalizers 1..L as a
/// constant and the product as a lower-triangular mask on the L x L scores.
// CAUSAL: %[[O:.+]] = sparsa.flow_attention %arg0, %arg1, %arg2 {causal, eps = 9.9999999747524271E-7 : f64}
// CAUSAL-NOT: onnx.MatMul
// CAUSAL-NOT: onnx.CumSum
// CAUSAL: return %[[O]]

/// The source clipped to [-2, 2]: not Flow-Attention; the last op says why.
// NEAR-NOT: sparsa.flow_attention
// NEAR: onnx.Mul {{.*}}sparsa.unfused = {flow_attention = "the conserved source is not clipped to [-1, 1]"}

/// fast-transformers' LinearAttention as torch.onnx exports it (Inputs/,
/// from zoo/models): [N, L, H, D] tensors, KV = einsum("nshd,nshm->nhmd"),
/// Z = 1 / (einsum("nlhd,nhd->nlh", Q, K.sum(1)) + eps), and the
/// three-input einsum("nlhd,nhmd,nlh->nlhm"): one op on [N, H, L, D] views.
// FAST-COUNT-3: onnx.Transpose {{.*}}perm = array<i64: 0, 2, 1, 3>
// FAST: sparsa.linear_attention {{.*}}feature_map = "elu1", normalize
// FAST: onnx.Transpose {{.*}}perm = array<i64: 0, 2, 1, 3>
// FAST-NOT: onnx.Einsum

/// Linear attention, elu + 1: phi(q) (phi(k)^T v) / (phi(q) . sum phi(k) + eps).
// CHECK-LABEL: func.func @linear_noncausal
// CHECK: %[[O:.+]] = sparsa.linear_attention %arg0, %arg1, %arg2 {eps = 9.9999999747524271E-7 : f64, feature_map = "elu1", normalize}
// CHECK-NOT: onnx.
// CHECK: return %[[O]]
func.func @linear_noncausal(%q: tensor<1x2x8x4xf32>, %k: tensor<1x2x8x4xf32>, %v: tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32> {
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %ax2 = onnx.Constant {value = dense<[2]> : tensor<1xi64>} : () -> tensor<1xi64>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %eq = onnx.Elu %q {alpha = 1.0 : f32} : (tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  %fq = onnx.Add %eq, %one : (tensor<1x2x8x4xf32>, tensor<f32>) -> tensor<1x2x8x4xf32>
  %ek = onnx.Elu %k {alpha = 1.0 : f32} : (tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  %fk = onnx.Add %ek, %one : (tensor<1x2x8x4xf32>, tensor<f32>) -> tensor<1x2x8x4xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x8x4xf32>) -> tensor<1x2x4x8xf32>
  %kv = onnx.MatMul %kt, %v : (tensor<1x2x4x8xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x4x4xf32>
  %num = onnx.MatMul %fq, %kv : (tensor<1x2x8x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x8x4xf32>
  %ks = onnx.ReduceSum %fk, %ax2 {keepdims = 1 : si64} : (tensor<1x2x8x4xf32>, tensor<1xi64>) -> tensor<1x2x1x4xf32>
  %p = onnx.Mul %fq, %ks : (tensor<1x2x8x4xf32>, tensor<1x2x1x4xf32>) -> tensor<1x2x8x4xf32>
  %d = onnx.ReduceSum %p, %axm1 {keepdims = 1 : si64} : (tensor<1x2x8x4xf32>, tensor<1xi64>) -> tensor<1x2x8x1xf32>
  %de = onnx.Add %d, %eps : (tensor<1x2x8x1xf32>, tensor<f32>) -> tensor<1x2x8x1xf32>
  %o = onnx.Div %num, %de : (tensor<1x2x8x4xf32>, tensor<1x2x8x1xf32>) -> tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}

// -----

/// Causal linear attention as the masked L x L form: S = phi(q) phi(k)^T
/// times tril, (S v) / (row sums of S + eps).
// CHECK-LABEL: func.func @linear_masked_causal
// CHECK: sparsa.linear_attention %arg0, %arg1, %arg2 {causal, eps = 9.9999999747524271E-7 : f64, feature_map = "relu", normalize}
// CHECK-NOT: onnx.MatMul
func.func @linear_masked_causal(%q: tensor<1x1x4x2xf32>, %k: tensor<1x1x4x2xf32>, %v: tensor<1x1x4x2xf32>) -> tensor<1x1x4x2xf32> {
  %tril = onnx.Constant {value = dense<[[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]]> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %fq = onnx.Relu %q : (tensor<1x1x4x2xf32>) -> tensor<1x1x4x2xf32>
  %fk = onnx.Relu %k : (tensor<1x1x4x2xf32>) -> tensor<1x1x4x2xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x1x4x2xf32>) -> tensor<1x1x2x4xf32>
  %s = onnx.MatMul %fq, %kt : (tensor<1x1x4x2xf32>, tensor<1x1x2x4xf32>) -> tensor<1x1x4x4xf32>
  %sm = onnx.Mul %s, %tril : (tensor<1x1x4x4xf32>, tensor<4x4xf32>) -> tensor<1x1x4x4xf32>
  %num = onnx.MatMul %sm, %v : (tensor<1x1x4x4xf32>, tensor<1x1x4x2xf32>) -> tensor<1x1x4x2xf32>
  %d = onnx.ReduceSum %sm, %axm1 {keepdims = 1 : si64} : (tensor<1x1x4x4xf32>, tensor<1xi64>) -> tensor<1x1x4x1xf32>
  %de = onnx.Add %d, %eps : (tensor<1x1x4x1xf32>, tensor<f32>) -> tensor<1x1x4x1xf32>
  %o = onnx.Div %num, %de : (tensor<1x1x4x2xf32>, tensor<1x1x4x1xf32>) -> tensor<1x1x4x2xf32>
  return %o : tensor<1x1x4x2xf32>
}

// -----

/// Causal linear attention as the naive reference writes the state: the
/// outer products phi(k)[..., None] * v[..., None, :] CumSum'd over the
/// positions ([.., L, 2, 3]: d 2, dv 3), each query row times its state as
/// (phi(q)[..., None] * kv).sum(-2), over phi(q) . CumSum(phi(k)) + eps.
// CHECK-LABEL: func.func @linear_cumsum_outer_products
// CHECK: sparsa.linear_attention %arg0, %arg1, %arg2 {causal, eps = 9.9999999747524271E-7 : f64, feature_map = "relu", normalize}
// CHECK-NOT: onnx.CumSum
func.func @linear_cumsum_outer_products(%q: tensor<1x1x?x2xf32>, %k: tensor<1x1x?x2xf32>, %v: tensor<1x1x?x3xf32>) -> tensor<1x1x?x3xf32> {
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %axm2 = onnx.Constant {value = dense<[-2]> : tensor<1xi64>} : () -> tensor<1xi64>
  %pos = onnx.Constant {value = dense<2> : tensor<i32>} : () -> tensor<i32>
  %fq = onnx.Relu %q : (tensor<1x1x?x2xf32>) -> tensor<1x1x?x2xf32>
  %fk = onnx.Relu %k : (tensor<1x1x?x2xf32>) -> tensor<1x1x?x2xf32>
  %ku = onnx.Unsqueeze %fk, %axm1 : (tensor<1x1x?x2xf32>, tensor<1xi64>) -> tensor<1x1x?x2x1xf32>
  %vu = onnx.Unsqueeze %v, %axm2 : (tensor<1x1x?x3xf32>, tensor<1xi64>) -> tensor<1x1x?x1x3xf32>
  %outer = onnx.Mul %ku, %vu : (tensor<1x1x?x2x1xf32>, tensor<1x1x?x1x3xf32>) -> tensor<1x1x?x2x3xf32>
  %kv = onnx.CumSum %outer, %pos : (tensor<1x1x?x2x3xf32>, tensor<i32>) -> tensor<1x1x?x2x3xf32>
  %qu = onnx.Unsqueeze %fq, %axm1 : (tensor<1x1x?x2xf32>, tensor<1xi64>) -> tensor<1x1x?x2x1xf32>
  %p = onnx.Mul %qu, %kv : (tensor<1x1x?x2x1xf32>, tensor<1x1x?x2x3xf32>) -> tensor<1x1x?x2x3xf32>
  %num = onnx.ReduceSum %p, %axm2 {keepdims = 0 : si64} : (tensor<1x1x?x2x3xf32>, tensor<1xi64>) -> tensor<1x1x?x3xf32>
  %ks = onnx.CumSum %fk, %pos : (tensor<1x1x?x2xf32>, tensor<i32>) -> tensor<1x1x?x2xf32>
  %qk = onnx.Mul %fq, %ks : (tensor<1x1x?x2xf32>, tensor<1x1x?x2xf32>) -> tensor<1x1x?x2xf32>
  %d = onnx.ReduceSum %qk, %axm1 {keepdims = 1 : si64} : (tensor<1x1x?x2xf32>, tensor<1xi64>) -> tensor<1x1x?x1xf32>
  %de = onnx.Add %d, %eps : (tensor<1x1x?x1xf32>, tensor<f32>) -> tensor<1x1x?x1xf32>
  %o = onnx.Div %num, %de : (tensor<1x1x?x3xf32>, tensor<1x1x?x1xf32>) -> tensor<1x1x?x3xf32>
  return %o : tensor<1x1x?x3xf32>
}

// -----

/// Near miss: the same with an exclusive CumSum of the outer products (each
/// row sees only the earlier positions): not the causal product.
// CHECK-LABEL: func.func @negative_cumsum_exclusive
// CHECK-NOT: sparsa.linear_attention
// CHECK: onnx.Div {{.+}}sparsa.unfused = {flow_attention = "the causal state's CumSum is not over the positions"}
func.func @negative_cumsum_exclusive(%q: tensor<1x1x?x2xf32>, %k: tensor<1x1x?x2xf32>, %v: tensor<1x1x?x3xf32>) -> tensor<1x1x?x3xf32> {
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %axm2 = onnx.Constant {value = dense<[-2]> : tensor<1xi64>} : () -> tensor<1xi64>
  %pos = onnx.Constant {value = dense<2> : tensor<i32>} : () -> tensor<i32>
  %fq = onnx.Relu %q : (tensor<1x1x?x2xf32>) -> tensor<1x1x?x2xf32>
  %fk = onnx.Relu %k : (tensor<1x1x?x2xf32>) -> tensor<1x1x?x2xf32>
  %ku = onnx.Unsqueeze %fk, %axm1 : (tensor<1x1x?x2xf32>, tensor<1xi64>) -> tensor<1x1x?x2x1xf32>
  %vu = onnx.Unsqueeze %v, %axm2 : (tensor<1x1x?x3xf32>, tensor<1xi64>) -> tensor<1x1x?x1x3xf32>
  %outer = onnx.Mul %ku, %vu : (tensor<1x1x?x2x1xf32>, tensor<1x1x?x1x3xf32>) -> tensor<1x1x?x2x3xf32>
  %kv = onnx.CumSum %outer, %pos {exclusive = 1 : si64} : (tensor<1x1x?x2x3xf32>, tensor<i32>) -> tensor<1x1x?x2x3xf32>
  %qu = onnx.Unsqueeze %fq, %axm2 : (tensor<1x1x?x2xf32>, tensor<1xi64>) -> tensor<1x1x?x1x2xf32>
  %p = onnx.MatMul %qu, %kv : (tensor<1x1x?x1x2xf32>, tensor<1x1x?x2x3xf32>) -> tensor<1x1x?x1x3xf32>
  %num = onnx.Squeeze %p, %axm2 : (tensor<1x1x?x1x3xf32>, tensor<1xi64>) -> tensor<1x1x?x3xf32>
  %ks = onnx.CumSum %fk, %pos : (tensor<1x1x?x2xf32>, tensor<i32>) -> tensor<1x1x?x2xf32>
  %qk = onnx.Mul %fq, %ks : (tensor<1x1x?x2xf32>, tensor<1x1x?x2xf32>) -> tensor<1x1x?x2xf32>
  %d = onnx.ReduceSum %qk, %axm1 {keepdims = 1 : si64} : (tensor<1x1x?x2xf32>, tensor<1xi64>) -> tensor<1x1x?x1xf32>
  %de = onnx.Add %d, %eps : (tensor<1x1x?x1xf32>, tensor<f32>) -> tensor<1x1x?x1xf32>
  %o = onnx.Div %num, %de : (tensor<1x1x?x3xf32>, tensor<1x1x?x1xf32>) -> tensor<1x1x?x3xf32>
  return %o : tensor<1x1x?x3xf32>
}

// -----

/// torch.tril of the scores (Trilu, upper = 0) with a symbolic length: the
/// causal form needs no constant mask.
// CHECK-LABEL: func.func @linear_trilu_dynamic
// CHECK: sparsa.linear_attention %arg0, %arg1, %arg2 {causal, feature_map = "elu1", normalize}
// CHECK-NOT: onnx.Trilu
func.func @linear_trilu_dynamic(%q: tensor<?x2x?x4xf32>, %k: tensor<?x2x?x4xf32>, %v: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %eq = onnx.Elu %q {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fq = onnx.Add %eq, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %ek = onnx.Elu %k {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fk = onnx.Add %ek, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x2x?x4xf32>) -> tensor<?x2x4x?xf32>
  %s = onnx.MatMul %fq, %kt : (tensor<?x2x?x4xf32>, tensor<?x2x4x?xf32>) -> tensor<?x2x?x?xf32>
  %sm = onnx.Trilu %s {upper = 0 : si64} : (tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32>
  %num = onnx.MatMul %sm, %v : (tensor<?x2x?x?xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %d = onnx.ReduceSum %sm, %axm1 {keepdims = 1 : si64} : (tensor<?x2x?x?xf32>, tensor<1xi64>) -> tensor<?x2x?x1xf32>
  %o = onnx.Div %num, %d : (tensor<?x2x?x4xf32>, tensor<?x2x?x1xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// -----

/// A causal mask compared from positions at run time, as torch exports
/// `i = torch.arange(L); i[:, None] >= i[None, :]`: Where(i >= j, s, 0).
// CHECK-LABEL: func.func @linear_range_mask
// CHECK: sparsa.linear_attention %arg0, %arg1, %arg2 {causal, feature_map = "elu1", normalize}
// CHECK-NOT: onnx.GreaterOrEqual
func.func @linear_range_mask(%q: tensor<?x2x?x4xf32>, %k: tensor<?x2x?x4xf32>, %v: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<[0]> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<[1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %eq = onnx.Elu %q {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fq = onnx.Add %eq, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %ek = onnx.Elu %k {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fk = onnx.Add %ek, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x2x?x4xf32>) -> tensor<?x2x4x?xf32>
  %s = onnx.MatMul %fq, %kt : (tensor<?x2x?x4xf32>, tensor<?x2x4x?xf32>) -> tensor<?x2x?x?xf32>
  %shape = onnx.Shape %s : (tensor<?x2x?x?xf32>) -> tensor<4xi64>
  %n = onnx.Gather %shape, %last {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %r = onnx.Range %c0, %n, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %i = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %j = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %m = onnx.GreaterOrEqual %i, %j : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
  %sm = onnx.Where %m, %s, %zero : (tensor<?x?xi1>, tensor<?x2x?x?xf32>, tensor<f32>) -> tensor<?x2x?x?xf32>
  %num = onnx.MatMul %sm, %v : (tensor<?x2x?x?xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %d = onnx.ReduceSum %sm, %axm1 {keepdims = 1 : si64} : (tensor<?x2x?x?xf32>, tensor<1xi64>) -> tensor<?x2x?x1xf32>
  %o = onnx.Div %num, %d : (tensor<?x2x?x4xf32>, tensor<?x2x?x1xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// -----

/// masked_fill(j > i, 0) of positions: Where(Less(i, j), 0, s).
// CHECK-LABEL: func.func @linear_range_masked_fill
// CHECK: sparsa.linear_attention %arg0, %arg1, %arg2 {causal, feature_map = "elu1", normalize}
func.func @linear_range_masked_fill(%q: tensor<?x2x?x4xf32>, %k: tensor<?x2x?x4xf32>, %v: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<[0]> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<[1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %eq = onnx.Elu %q {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fq = onnx.Add %eq, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %ek = onnx.Elu %k {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fk = onnx.Add %ek, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x2x?x4xf32>) -> tensor<?x2x4x?xf32>
  %s = onnx.MatMul %fq, %kt : (tensor<?x2x?x4xf32>, tensor<?x2x4x?xf32>) -> tensor<?x2x?x?xf32>
  %shape = onnx.Shape %s : (tensor<?x2x?x?xf32>) -> tensor<4xi64>
  %n = onnx.Gather %shape, %last {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %r = onnx.Range %c0, %n, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %i = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %j = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %m = onnx.Less %i, %j : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
  %sm = onnx.Where %m, %zero, %s : (tensor<?x?xi1>, tensor<f32>, tensor<?x2x?x?xf32>) -> tensor<?x2x?x?xf32>
  %num = onnx.MatMul %sm, %v : (tensor<?x2x?x?xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %d = onnx.ReduceSum %sm, %axm1 {keepdims = 1 : si64} : (tensor<?x2x?x?xf32>, tensor<1xi64>) -> tensor<?x2x?x1xf32>
  %o = onnx.Div %num, %d : (tensor<?x2x?x4xf32>, tensor<?x2x?x1xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// -----

/// Positions compared the other way (j >= i: the upper triangle): the
/// candidate says why it is not causal attention.
// CHECK-LABEL: func.func @negative_range_upper
// CHECK-NOT: sparsa.linear_attention
// CHECK: sparsa.unfused = {flow_attention = "the mask on the scores is not lower-triangular"}
func.func @negative_range_upper(%q: tensor<?x2x?x4xf32>, %k: tensor<?x2x?x4xf32>, %v: tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32> {
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<[0]> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<[1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %eq = onnx.Elu %q {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fq = onnx.Add %eq, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %ek = onnx.Elu %k {alpha = 1.0 : f32} : (tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %fk = onnx.Add %ek, %one : (tensor<?x2x?x4xf32>, tensor<f32>) -> tensor<?x2x?x4xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x2x?x4xf32>) -> tensor<?x2x4x?xf32>
  %s = onnx.MatMul %fq, %kt : (tensor<?x2x?x4xf32>, tensor<?x2x4x?xf32>) -> tensor<?x2x?x?xf32>
  %shape = onnx.Shape %s : (tensor<?x2x?x?xf32>) -> tensor<4xi64>
  %n = onnx.Gather %shape, %last {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %r = onnx.Range %c0, %n, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %i = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %j = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %m = onnx.GreaterOrEqual %j, %i : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %sm = onnx.Where %m, %s, %zero : (tensor<?x?xi1>, tensor<?x2x?x?xf32>, tensor<f32>) -> tensor<?x2x?x?xf32>
  %num = onnx.MatMul %sm, %v : (tensor<?x2x?x?xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %d = onnx.ReduceSum %sm, %axm1 {keepdims = 1 : si64} : (tensor<?x2x?x?xf32>, tensor<1xi64>) -> tensor<?x2x?x1xf32>
  %o = onnx.Div %num, %d : (tensor<?x2x?x4xf32>, tensor<?x2x?x1xf32>) -> tensor<?x2x?x4xf32>
  return %o : tensor<?x2x?x4xf32>
}

// -----

/// A mask that is not lower-triangular (here upper): not causal attention.
/// Nothing fuses and the candidate says why.
// CHECK-LABEL: func.func @negative_upper_mask
// CHECK-NOT: sparsa.linear_attention
// CHECK: onnx.Div {{.*}}sparsa.unfused = {flow_attention = "the mask on the scores is not lower-triangular"}
func.func @negative_upper_mask(%q: tensor<1x1x3x2xf32>, %k: tensor<1x1x3x2xf32>, %v: tensor<1x1x3x2xf32>) -> tensor<1x1x3x2xf32> {
  %triu = onnx.Constant {value = dense<[[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]> : tensor<3x3xf32>} : () -> tensor<3x3xf32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %fq = onnx.Sigmoid %q : (tensor<1x1x3x2xf32>) -> tensor<1x1x3x2xf32>
  %fk = onnx.Sigmoid %k : (tensor<1x1x3x2xf32>) -> tensor<1x1x3x2xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x1x3x2xf32>) -> tensor<1x1x2x3xf32>
  %s = onnx.MatMul %fq, %kt : (tensor<1x1x3x2xf32>, tensor<1x1x2x3xf32>) -> tensor<1x1x3x3xf32>
  %sm = onnx.Mul %s, %triu : (tensor<1x1x3x3xf32>, tensor<3x3xf32>) -> tensor<1x1x3x3xf32>
  %num = onnx.MatMul %sm, %v : (tensor<1x1x3x3xf32>, tensor<1x1x3x2xf32>) -> tensor<1x1x3x2xf32>
  %d = onnx.ReduceSum %sm, %axm1 {keepdims = 1 : si64} : (tensor<1x1x3x3xf32>, tensor<1xi64>) -> tensor<1x1x3x1xf32>
  %o = onnx.Div %num, %d : (tensor<1x1x3x2xf32>, tensor<1x1x3x1xf32>) -> tensor<1x1x3x2xf32>
  return %o : tensor<1x1x3x2xf32>
}

// -----

/// Softmax attention is another fusion's: no flow op, no reason.
// CHECK-LABEL: func.func @negative_softmax_attention
// CHECK-NOT: sparsa.
// CHECK-NOT: sparsa.unfused
// CHECK: onnx.Softmax
func.func @negative_softmax_attention(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32> {
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x16x8xf32>) -> tensor<1x2x8x16xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x16x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x16x16xf32>
  %p = onnx.Softmax %s {axis = -1 : si64} : (tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x16x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x16x8xf32>
  return %o : tensor<1x2x16x8xf32>
}

// -----

/// The feature map applied on [B, L, H, D] before the heads move forward,
/// `phi(k).transpose(1, 2).transpose(-2, -1)` merged into one Transpose
/// [0, 2, 3, 1] (TorchScript), causal by torch.tril of the scores. The
/// transposes move before the feature maps (the keys' one as the swap of
/// [0, 2, 1, 3]) and the product fuses on the transposed inputs; the
/// untransposed feature maps, no longer read, are removed.
// CHECK-LABEL: func.func @linear_phi_before_heads_transpose
// CHECK-DAG: %[[Q:.+]] = onnx.Transpose %arg0 {perm = array<i64: 0, 2, 1, 3>}
// CHECK-DAG: %[[K:.+]] = onnx.Transpose %arg1 {perm = array<i64: 0, 2, 1, 3>}
// CHECK-DAG: %[[V:.+]] = onnx.Transpose %arg2 {perm = array<i64: 0, 2, 1, 3>}
// CHECK: sparsa.linear_attention %[[Q]], %[[K]], %[[V]] {causal, eps = 9.9999999747524271E-7 : f64, feature_map = "elu1", normalize}
// CHECK-NOT: onnx.Trilu
// CHECK-NOT: onnx.Elu
// CHECK: return
func.func @linear_phi_before_heads_transpose(%q: tensor<1x?x2x4xf32>, %k: tensor<1x?x2x4xf32>, %v: tensor<1x?x2x3xf32>) -> tensor<1x2x?x3xf32> {
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %eps = onnx.Constant {value = dense<1.0e-6> : tensor<f32>} : () -> tensor<f32>
  %axm1 = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %eq = onnx.Elu %q : (tensor<1x?x2x4xf32>) -> tensor<1x?x2x4xf32>
  %fq = onnx.Add %eq, %one : (tensor<1x?x2x4xf32>, tensor<f32>) -> tensor<1x?x2x4xf32>
  %ek = onnx.Elu %k : (tensor<1x?x2x4xf32>) -> tensor<1x?x2x4xf32>
  %fk = onnx.Add %ek, %one : (tensor<1x?x2x4xf32>, tensor<f32>) -> tensor<1x?x2x4xf32>
  %qt = onnx.Transpose %fq {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x4xf32>) -> tensor<1x2x?x4xf32>
  %kt = onnx.Transpose %fk {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x?x2x4xf32>) -> tensor<1x2x4x?xf32>
  %vt = onnx.Transpose %v {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x3xf32>) -> tensor<1x2x?x3xf32>
  %s = onnx.MatMul %qt, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %c = onnx.Trilu %s {upper = 0 : si64} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %num = onnx.MatMul %c, %vt : (tensor<1x2x?x?xf32>, tensor<1x2x?x3xf32>) -> tensor<1x2x?x3xf32>
  %rs = onnx.ReduceSum %c, %axm1 : (tensor<1x2x?x?xf32>, tensor<1xi64>) -> tensor<1x2x?x1xf32>
  %den = onnx.Add %rs, %eps : (tensor<1x2x?x1xf32>, tensor<f32>) -> tensor<1x2x?x1xf32>
  %y = onnx.Div %num, %den : (tensor<1x2x?x3xf32>, tensor<1x2x?x1xf32>) -> tensor<1x2x?x3xf32>
  return %y : tensor<1x2x?x3xf32>
}
