// RUN: sparsa-opt %s --split-input-file --sparsa-fuse-attention | FileCheck %s

/// HF eager attention: Transpose of k, MatMul, Div by sqrt(d), Softmax,
/// MatMul: one sparsa.attention on k itself, scale 1/8.
// CHECK-LABEL: func.func @eager_div
// CHECK: %[[O:.+]] = sparsa.attention %arg0, %arg1, %arg2 {scale = 1.250000e-01 : f64} : (tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>) -> tensor<1x2x16x64xf32>
// CHECK-NOT: onnx.
// CHECK: return %[[O]]
func.func @eager_div(%q: tensor<1x2x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) -> tensor<1x2x16x64xf32> {
  %c = onnx.Constant {value = dense<8.0> : tensor<f32>} : () -> tensor<f32>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x16x64xf32>) -> tensor<1x2x64x16xf32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x16x64xf32>, tensor<1x2x64x16xf32>) -> tensor<1x2x16x16xf32>
  %d = onnx.Div %s, %c : (tensor<1x2x16x16xf32>, tensor<f32>) -> tensor<1x2x16x16xf32>
  %p = onnx.Softmax %d {axis = -1 : si64} : (tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32>
  %o = onnx.MatMul %p, %v : (tensor<1x2x16x16xf32>, tensor<1x2x16x64xf32>) -> tensor<1x2x16x64xf32>
  return %o : tensor<1x2x16x64xf32>
}

// -----

/// TorchScript with dynamic axes: the scale is q.shape[-1] ** 0.5 read
/// from the shape (the head dim is static: 1 / 4), and masked_fill(mask,
/// -inf) is a Where, which becomes the additive mask Where(mask, -inf, 0).
// CHECK-LABEL: func.func @shape_scale_masked_fill
// CHECK: %[[M:.+]] = onnx.Where %arg3, %{{.+}}, %{{.+}} : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %[[M]] {scale = 2.500000e-01 : f64}
// CHECK-NOT: onnx.Softmax
func.func @shape_scale_masked_fill(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>, %upper: tensor<?x?xi1>) -> tensor<?x4x?x16xf32> {
  %last = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
  %half = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %shape = onnx.Shape %q : (tensor<?x4x?x16xf32>) -> tensor<4xi64>
  %d = onnx.Gather %shape, %last : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %df = onnx.Cast %d {to = 1 : si64} : (tensor<i64>) -> tensor<f32>
  %sq = onnx.Pow %df, %half : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %sd = onnx.Div %s, %sq : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Where %upper, %ninf, %sd : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : si64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

/// torch scaled_dot_product_attention export: d**-0.25 on q and on k^T,
/// an additive mask after the product (the scales multiply: 0.5 * 0.5).
// CHECK-LABEL: func.func @sdpa_masked
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %arg3 {scale = 2.500000e-01 : f64}
// CHECK-NOT: onnx.Softmax
func.func @sdpa_masked(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>, %m: tensor<?x1x1x?xf32>) -> tensor<?x4x?x16xf32> {
  %c = onnx.Constant {value = dense<0.5> : tensor<1xf32>} : () -> tensor<1xf32>
  %qs = onnx.Mul %q, %c : (tensor<?x4x?x16xf32>, tensor<1xf32>) -> tensor<?x4x?x16xf32>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %kts = onnx.Mul %c, %kt : (tensor<1xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %qs, %kts : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %a = onnx.Add %s, %m : (tensor<?x4x?x?xf32>, tensor<?x1x1x?xf32>) -> tensor<?x4x?x?xf32>
  %p = onnx.Softmax %a {axis = 3 : si64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

/// k already laid out [.., d, L] (a model input), rank 3, the mask as the
/// Add's first operand, no scale.
// CHECK-LABEL: func.func @key_transposed_rank3
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %{{.+}} {key_transposed} : (tensor<8x5x16xf32>, tensor<8x16x7xf32>, tensor<8x7x32xf32>, tensor<1x5x7xf32>) -> tensor<8x5x32xf32>
func.func @key_transposed_rank3(%q: tensor<8x5x16xf32>, %kt: tensor<8x16x7xf32>, %v: tensor<8x7x32xf32>) -> tensor<8x5x32xf32> {
  %m = onnx.Constant {value = dense<0.0> : tensor<1x5x7xf32>} : () -> tensor<1x5x7xf32>
  %s = onnx.MatMul %q, %kt : (tensor<8x5x16xf32>, tensor<8x16x7xf32>) -> tensor<8x5x7xf32>
  %a = onnx.Add %m, %s : (tensor<1x5x7xf32>, tensor<8x5x7xf32>) -> tensor<8x5x7xf32>
  %p = onnx.Softmax %a : (tensor<8x5x7xf32>) -> tensor<8x5x7xf32>
  %o = onnx.MatMul %p, %v : (tensor<8x5x7xf32>, tensor<8x7x32xf32>) -> tensor<8x5x32xf32>
  return %o : tensor<8x5x32xf32>
}

// -----

/// Near misses keep their ops: the probabilities also returned; softmax
/// over another axis; a scale that is not a constant; a scale that divides
/// a constant by the scores.
// CHECK-LABEL: func.func @negative_probs_used
// CHECK-NOT: sparsa.attention
// CHECK: onnx.Softmax
func.func @negative_probs_used(%q: tensor<16x8xf32>, %k: tensor<16x8xf32>, %v: tensor<16x8xf32>) -> (tensor<16x8xf32>, tensor<16x16xf32>) {
  %kt = onnx.Transpose %k {perm = array<i64: 1, 0>} : (tensor<16x8xf32>) -> tensor<8x16xf32>
  %s = onnx.MatMul %q, %kt : (tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<16x16xf32>
  %p = onnx.Softmax %s : (tensor<16x16xf32>) -> tensor<16x16xf32>
  %o = onnx.MatMul %p, %v : (tensor<16x16xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
  return %o, %p : tensor<16x8xf32>, tensor<16x16xf32>
}

// CHECK-LABEL: func.func @negative_softmax_axis
// CHECK-NOT: sparsa.attention
func.func @negative_softmax_axis(%q: tensor<16x8xf32>, %k: tensor<16x8xf32>, %v: tensor<16x8xf32>) -> tensor<16x8xf32> {
  %kt = onnx.Transpose %k {perm = array<i64: 1, 0>} : (tensor<16x8xf32>) -> tensor<8x16xf32>
  %s = onnx.MatMul %q, %kt : (tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<16x16xf32>
  %p = onnx.Softmax %s {axis = 0 : si64} : (tensor<16x16xf32>) -> tensor<16x16xf32>
  %o = onnx.MatMul %p, %v : (tensor<16x16xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
  return %o : tensor<16x8xf32>
}

// CHECK-LABEL: func.func @negative_scale_input
// CHECK-NOT: sparsa.attention
func.func @negative_scale_input(%q: tensor<16x8xf32>, %k: tensor<16x8xf32>, %v: tensor<16x8xf32>, %c: tensor<f32>) -> tensor<16x8xf32> {
  %kt = onnx.Transpose %k {perm = array<i64: 1, 0>} : (tensor<16x8xf32>) -> tensor<8x16xf32>
  %s = onnx.MatMul %q, %kt : (tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<16x16xf32>
  %d = onnx.Div %s, %c : (tensor<16x16xf32>, tensor<f32>) -> tensor<16x16xf32>
  %p = onnx.Softmax %d : (tensor<16x16xf32>) -> tensor<16x16xf32>
  %o = onnx.MatMul %p, %v : (tensor<16x16xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
  return %o : tensor<16x8xf32>
}

// CHECK-LABEL: func.func @negative_constant_over_scores
// CHECK-NOT: sparsa.attention
func.func @negative_constant_over_scores(%q: tensor<16x8xf32>, %k: tensor<16x8xf32>, %v: tensor<16x8xf32>) -> tensor<16x8xf32> {
  %c = onnx.Constant {value = dense<8.0> : tensor<f32>} : () -> tensor<f32>
  %kt = onnx.Transpose %k {perm = array<i64: 1, 0>} : (tensor<16x8xf32>) -> tensor<8x16xf32>
  %s = onnx.MatMul %q, %kt : (tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<16x16xf32>
  %d = onnx.Div %c, %s : (tensor<f32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  %p = onnx.Softmax %d : (tensor<16x16xf32>) -> tensor<16x16xf32>
  %o = onnx.MatMul %p, %v : (tensor<16x16xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
  return %o : tensor<16x8xf32>
}

// -----

/// The dynamo exporter's scaled_dot_product_attention: q and k^T scaled
/// by d**-0.25 each, an additive mask, and the guard Where(IsNaN(p), 0, p)
/// on the probabilities: nan_rows_zero keeps its meaning (a fully masked
/// row gives zeros).
// CHECK-LABEL: func.func @dynamo_nan_guard
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %arg3 {key_transposed, nan_rows_zero, scale = 2.500000e-01 : f64}
// CHECK-NOT: onnx.IsNaN
// CHECK-NOT: onnx.Softmax
func.func @dynamo_nan_guard(%q: tensor<1x2x8x16xf32>, %kt: tensor<1x2x16x8xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x1x8x8xf32>) -> tensor<1x2x8x16xf32> {
  %c = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %z = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %qs = onnx.Mul %q, %c : (tensor<1x2x8x16xf32>, tensor<f32>) -> tensor<1x2x8x16xf32>
  %ks = onnx.Mul %kt, %c : (tensor<1x2x16x8xf32>, tensor<f32>) -> tensor<1x2x16x8xf32>
  %s = onnx.MatMul %qs, %ks : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %sm = onnx.Add %s, %m : (tensor<1x2x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x2x8x8xf32>
  %p = onnx.Softmax %sm {axis = -1 : si64} : (tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %n = onnx.IsNaN %p : (tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xi1>
  %g = onnx.Where %n, %z, %p : (tensor<1x2x8x8xi1>, tensor<f32>, tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %o = onnx.MatMul %g, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

/// A guard that fills NaN probabilities with 1 is not the zero-row
/// meaning: nothing fuses.
// CHECK-LABEL: func.func @nan_guard_other_fill
// CHECK-NOT: sparsa.attention
// CHECK: onnx.Softmax
func.func @nan_guard_other_fill(%q: tensor<1x2x8x16xf32>, %kt: tensor<1x2x16x8xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %one = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %p = onnx.Softmax %s {axis = -1 : si64} : (tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %n = onnx.IsNaN %p : (tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xi1>
  %g = onnx.Where %n, %one, %p : (tensor<1x2x8x8xi1>, tensor<f32>, tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %o = onnx.MatMul %g, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

/// GPT-OSS's attention sinks: the per-head sink logits [1, 2, 1, 1]
/// Expanded and Concat-ed after the masked scores, less the row max, the
/// softmax over both, the sink's column sliced off. The op takes the sinks
/// as the query's leading dims [1, 2].
// CHECK-LABEL: func.func @gpt_oss_sinks
// CHECK: %[[S:.+]] = onnx.Reshape %arg4, %{{.+}} : (tensor<1x2x1x1xf32>, tensor<2xi64>) -> tensor<1x2xf32>
// CHECK: sparsa.attention %arg0, %arg1, %arg2 mask = %arg3 sinks = %[[S]] {key_transposed, scale = 2.500000e-01 : f64}
// CHECK-NOT: onnx.Softmax
// CHECK-NOT: onnx.Concat
func.func @gpt_oss_sinks(%q: tensor<1x2x8x16xf32>, %kt: tensor<1x2x16x8xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x1x8x8xf32>, %sk: tensor<1x2x1x1xf32>) -> tensor<1x2x8x16xf32> {
  %c = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %shape = onnx.Constant {value = dense<[1, 2, 8, 1]> : tensor<4xi64>} : () -> tensor<4xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %ss = onnx.Mul %s, %c : (tensor<1x2x8x8xf32>, tensor<f32>) -> tensor<1x2x8x8xf32>
  %sm = onnx.Add %ss, %m : (tensor<1x2x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x2x8x8xf32>
  %col = onnx.Expand %sk, %shape : (tensor<1x2x1x1xf32>, tensor<4xi64>) -> tensor<1x2x8x1xf32>
  %cat = onnx.Concat %sm, %col {axis = -1 : si64} : (tensor<1x2x8x8xf32>, tensor<1x2x8x1xf32>) -> tensor<1x2x8x9xf32>
  %mx = onnx.ReduceMax %cat, %last {keepdims = 1 : si64} : (tensor<1x2x8x9xf32>, tensor<1xi64>) -> tensor<1x2x8x1xf32>
  %sh = onnx.Sub %cat, %mx : (tensor<1x2x8x9xf32>, tensor<1x2x8x1xf32>) -> tensor<1x2x8x9xf32>
  %p = onnx.Softmax %sh {axis = -1 : si64} : (tensor<1x2x8x9xf32>) -> tensor<1x2x8x9xf32>
  %pk = onnx.Slice %p, %zero, %last axes = %last : (tensor<1x2x8x9xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x8x8xf32>
  %o = onnx.MatMul %pk, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

/// Near miss: the sliced-off column is the first (the sink Concat-ed
/// before the scores); nothing fuses.
// CHECK-LABEL: func.func @negative_sink_first
// CHECK-NOT: sparsa.attention
// CHECK: onnx.Softmax
func.func @negative_sink_first(%q: tensor<1x2x8x16xf32>, %kt: tensor<1x2x16x8xf32>, %v: tensor<1x2x8x16xf32>, %sk: tensor<1x2x1x1xf32>) -> tensor<1x2x8x16xf32> {
  %shape = onnx.Constant {value = dense<[1, 2, 8, 1]> : tensor<4xi64>} : () -> tensor<4xi64>
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %s = onnx.MatMul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %col = onnx.Expand %sk, %shape : (tensor<1x2x1x1xf32>, tensor<4xi64>) -> tensor<1x2x8x1xf32>
  %cat = onnx.Concat %col, %s {axis = -1 : si64} : (tensor<1x2x8x1xf32>, tensor<1x2x8x8xf32>) -> tensor<1x2x8x9xf32>
  %p = onnx.Softmax %cat {axis = -1 : si64} : (tensor<1x2x8x9xf32>) -> tensor<1x2x8x9xf32>
  %pk = onnx.Slice %p, %zero, %last axes = %last : (tensor<1x2x8x9xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x8x8xf32>
  %o = onnx.MatMul %pk, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

/// Grouped-query attention as transformers' repeat_kv exports through
/// TorchScript: k [B, 2, L, d] Unsqueezed at 2, Expanded to [B, 2, 2, L, d]
/// (the shape built from k's own Shape entries, Where(Equal(s, -1), 1, s)
/// around it), Reshaped to [B, 4, L, d] (again k's own batch and
/// positions): the op reads the two kv heads themselves, query head h
/// reading kv head h / 2. The scale is SDPA's, q and k^T each times
/// d**-0.25 with d read as a Slice of q's shape.
// CHECK-LABEL: func.func @repeat_kv_torchscript
// CHECK: sparsa.attention %arg0, %arg1, %arg1 {scale = {{(0\.5000|5\.000)[0-9]*(e-01)?}} : f64} : (tensor<?x4x8x4xf32>, tensor<?x2x8x4xf32>, tensor<?x2x8x4xf32>) -> tensor<?x4x8x4xf32>
// CHECK-NOT: onnx.Expand
func.func @repeat_kv_torchscript(%q: tensor<?x4x8x4xf32>, %k: tensor<?x2x8x4xf32>) -> tensor<?x4x8x4xf32> {
  %i0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %i2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %mid = onnx.Constant {value = dense<2> : tensor<2xi64>} : () -> tensor<2xi64>
  %h = onnx.Constant {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  %d = onnx.Constant {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  %m1 = onnx.Constant {value = dense<-1> : tensor<5xi64>} : () -> tensor<5xi64>
  %ones = onnx.Constant {value = dense<1> : tensor<5xi64>} : () -> tensor<5xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %quarter = onnx.Constant {value = dense<-2.5e-01> : tensor<f32>} : () -> tensor<f32>
  %sh = onnx.Shape %k : (tensor<?x2x8x4xf32>) -> tensor<4xi64>
  %b = onnx.Gather %sh, %i0 {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %l = onnx.Gather %sh, %i2 {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %b1 = onnx.Unsqueeze %b, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %l1 = onnx.Unsqueeze %l, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %es = onnx.Concat %b1, %mid, %l1, %d {axis = 0 : si64} : (tensor<1xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<5xi64>
  %neg = onnx.Equal %es, %m1 : (tensor<5xi64>, tensor<5xi64>) -> tensor<5xi1>
  %es2 = onnx.Where %neg, %ones, %es : (tensor<5xi1>, tensor<5xi64>, tensor<5xi64>) -> tensor<5xi64>
  %u = onnx.Unsqueeze %k, %ax2 : (tensor<?x2x8x4xf32>, tensor<1xi64>) -> tensor<?x2x1x8x4xf32>
  %e = onnx.Expand %u, %es2 : (tensor<?x2x1x8x4xf32>, tensor<5xi64>) -> tensor<?x2x?x8x4xf32>
  %rs = onnx.Concat %b1, %h, %l1, %d {axis = 0 : si64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %kr = onnx.Reshape %e, %rs : (tensor<?x2x?x8x4xf32>, tensor<4xi64>) -> tensor<?x4x8x4xf32>
  %qsh = onnx.Shape %q : (tensor<?x4x8x4xf32>) -> tensor<4xi64>
  %dq = onnx.Slice %qsh, %last, %big : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %df = onnx.Cast %dq {to = 1 : si64} : (tensor<1xi64>) -> tensor<1xf32>
  %sc = onnx.Pow %df, %quarter : (tensor<1xf32>, tensor<f32>) -> tensor<1xf32>
  %qs = onnx.Mul %q, %sc : (tensor<?x4x8x4xf32>, tensor<1xf32>) -> tensor<?x4x8x4xf32>
  %kt = onnx.Transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x8x4xf32>) -> tensor<?x4x4x8xf32>
  %kts = onnx.Mul %kt, %sc : (tensor<?x4x4x8xf32>, tensor<1xf32>) -> tensor<?x4x4x8xf32>
  %s = onnx.MatMul %qs, %kts : (tensor<?x4x8x4xf32>, tensor<?x4x4x8xf32>) -> tensor<?x4x8x8xf32>
  %p = onnx.Softmax %s {axis = -1 : si64} : (tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  %o = onnx.MatMul %p, %kr : (tensor<?x4x8x8xf32>, tensor<?x4x8x4xf32>) -> tensor<?x4x8x4xf32>
  return %o : tensor<?x4x8x4xf32>
}

// -----

/// The same repeat with the Reshape's batch read from q's shape (the
/// dynamo exporter reads it from the input ids): q's batch is k's only by
/// the model's construction, and [?, 4, 8, 4] could hold k's batches
/// merged otherwise, so the op reads the repeated copies (still fused).
// CHECK-LABEL: func.func @negative_repeat_kv_sizes_elsewhere
// CHECK: onnx.Expand
// CHECK: %[[KR:.+]] = onnx.Reshape
// CHECK: sparsa.attention %arg0, %[[KR]], %[[KR]] : (tensor<?x4x8x4xf32>, tensor<?x4x8x4xf32>, tensor<?x4x8x4xf32>) -> tensor<?x4x8x4xf32>
func.func @negative_repeat_kv_sizes_elsewhere(%q: tensor<?x4x8x4xf32>, %k: tensor<?x2x8x4xf32>) -> tensor<?x4x8x4xf32> {
  %i0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %mid = onnx.Constant {value = dense<[2, 2, 8, 4]> : tensor<4xi64>} : () -> tensor<4xi64>
  %tail = onnx.Constant {value = dense<[4, 8, 4]> : tensor<3xi64>} : () -> tensor<3xi64>
  %sh = onnx.Shape %q : (tensor<?x4x8x4xf32>) -> tensor<4xi64>
  %b = onnx.Gather %sh, %i0 {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %b1 = onnx.Unsqueeze %b, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %es = onnx.Concat %b1, %mid {axis = 0 : si64} : (tensor<1xi64>, tensor<4xi64>) -> tensor<5xi64>
  %u = onnx.Unsqueeze %k, %ax2 : (tensor<?x2x8x4xf32>, tensor<1xi64>) -> tensor<?x2x1x8x4xf32>
  %e = onnx.Expand %u, %es : (tensor<?x2x1x8x4xf32>, tensor<5xi64>) -> tensor<?x2x2x8x4xf32>
  %rs = onnx.Concat %b1, %tail {axis = 0 : si64} : (tensor<1xi64>, tensor<3xi64>) -> tensor<4xi64>
  %kr = onnx.Reshape %e, %rs : (tensor<?x2x2x8x4xf32>, tensor<4xi64>) -> tensor<?x4x8x4xf32>
  %kt = onnx.Transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x8x4xf32>) -> tensor<?x4x4x8xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x8x4xf32>, tensor<?x4x4x8xf32>) -> tensor<?x4x8x8xf32>
  %p = onnx.Softmax %s {axis = -1 : si64} : (tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  %o = onnx.MatMul %p, %kr : (tensor<?x4x8x8xf32>, tensor<?x4x8x4xf32>) -> tensor<?x4x8x4xf32>
  return %o : tensor<?x4x8x4xf32>
}

// -----

/// The Expand's shape under Where(Equal(s, -1), c, s) with c not 1s: not
/// TorchScript's -1 replacement, so s's entries prove nothing about the
/// Expand; the repeated copies stay (still fused).
// CHECK-LABEL: func.func @negative_repeat_kv_where_not_ones
// CHECK: onnx.Expand
// CHECK: %[[KR:.+]] = onnx.Reshape
// CHECK: sparsa.attention %arg0, %[[KR]], %[[KR]] {{.+}} : (tensor<?x4x8x4xf32>, tensor<?x4x8x4xf32>, tensor<?x4x8x4xf32>) -> tensor<?x4x8x4xf32>
func.func @negative_repeat_kv_where_not_ones(%q: tensor<?x4x8x4xf32>, %k: tensor<?x2x8x4xf32>) -> tensor<?x4x8x4xf32> {
  %i0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %i2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %mid = onnx.Constant {value = dense<2> : tensor<2xi64>} : () -> tensor<2xi64>
  %h = onnx.Constant {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  %d = onnx.Constant {value = dense<4> : tensor<1xi64>} : () -> tensor<1xi64>
  %m1 = onnx.Constant {value = dense<-1> : tensor<5xi64>} : () -> tensor<5xi64>
  %ones = onnx.Constant {value = dense<3> : tensor<5xi64>} : () -> tensor<5xi64>
  %last = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %quarter = onnx.Constant {value = dense<-2.5e-01> : tensor<f32>} : () -> tensor<f32>
  %sh = onnx.Shape %k : (tensor<?x2x8x4xf32>) -> tensor<4xi64>
  %b = onnx.Gather %sh, %i0 {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %l = onnx.Gather %sh, %i2 {axis = 0 : si64} : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %b1 = onnx.Unsqueeze %b, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %l1 = onnx.Unsqueeze %l, %ax0 : (tensor<i64>, tensor<1xi64>) -> tensor<1xi64>
  %es = onnx.Concat %b1, %mid, %l1, %d {axis = 0 : si64} : (tensor<1xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<5xi64>
  %neg = onnx.Equal %es, %m1 : (tensor<5xi64>, tensor<5xi64>) -> tensor<5xi1>
  %es2 = onnx.Where %neg, %ones, %es : (tensor<5xi1>, tensor<5xi64>, tensor<5xi64>) -> tensor<5xi64>
  %u = onnx.Unsqueeze %k, %ax2 : (tensor<?x2x8x4xf32>, tensor<1xi64>) -> tensor<?x2x1x8x4xf32>
  %e = onnx.Expand %u, %es2 : (tensor<?x2x1x8x4xf32>, tensor<5xi64>) -> tensor<?x2x?x8x4xf32>
  %rs = onnx.Concat %b1, %h, %l1, %d {axis = 0 : si64} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %kr = onnx.Reshape %e, %rs : (tensor<?x2x?x8x4xf32>, tensor<4xi64>) -> tensor<?x4x8x4xf32>
  %qsh = onnx.Shape %q : (tensor<?x4x8x4xf32>) -> tensor<4xi64>
  %dq = onnx.Slice %qsh, %last, %big : (tensor<4xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %df = onnx.Cast %dq {to = 1 : si64} : (tensor<1xi64>) -> tensor<1xf32>
  %sc = onnx.Pow %df, %quarter : (tensor<1xf32>, tensor<f32>) -> tensor<1xf32>
  %qs = onnx.Mul %q, %sc : (tensor<?x4x8x4xf32>, tensor<1xf32>) -> tensor<?x4x8x4xf32>
  %kt = onnx.Transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x8x4xf32>) -> tensor<?x4x4x8xf32>
  %kts = onnx.Mul %kt, %sc : (tensor<?x4x4x8xf32>, tensor<1xf32>) -> tensor<?x4x4x8xf32>
  %s = onnx.MatMul %qs, %kts : (tensor<?x4x8x4xf32>, tensor<?x4x4x8xf32>) -> tensor<?x4x8x8xf32>
  %p = onnx.Softmax %s {axis = -1 : si64} : (tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  %o = onnx.MatMul %p, %kr : (tensor<?x4x8x8xf32>, tensor<?x4x8x4xf32>) -> tensor<?x4x8x4xf32>
  return %o : tensor<?x4x8x4xf32>
}
