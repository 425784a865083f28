// RUN: sparsa-opt %s --split-input-file --sparsa-fuse-activation-sparsity | FileCheck %s

/// OPT-style ReLU FFN (MatMul + Add): one sparsa.sparse_ffn.
// CHECK-LABEL: func.func @opt_relu
// CHECK: %[[Y:.+]] = sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} b1 = %{{.+}} b2 = %{{.+}} : (tensor<1x4xf32>, tensor<4x8xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<4xf32>) -> tensor<1x4xf32>
// CHECK-NOT: onnx.Relu
// CHECK: return %[[Y]]
func.func @opt_relu(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %b1 = onnx.Constant {value = dense<0.1> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %b2 = onnx.Constant {value = dense<0.2> : tensor<4xf32>} : () -> tensor<4xf32>
  %h0 = onnx.MatMul %x, %w1 : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %h = onnx.Add %h0, %b1 : (tensor<1x8xf32>, tensor<8xf32>) -> tensor<1x8xf32>
  %a = onnx.Relu %h : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %y0 = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  %y = onnx.Add %y0, %b2 : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// ProSparse GLU with nn.Linear exports (Gemm transB) and ReLU as Max(h, 0):
/// w1 / w2 transposed to [in, out] at compile time (weight preparation folds
/// the transposes); `up` keeps its one-row-per-neuron [out, in] layout.
// CHECK-LABEL: func.func @prosparse_gemm
// CHECK-DAG: %[[UP:.+]] = onnx.Constant {value = dense<3.000000e+00> : tensor<8x4xf32>}
// CHECK-DAG: %[[T1:.+]] = onnx.Transpose %{{.+}} {perm = array<i64: 1, 0>} : (tensor<8x4xf32>) -> tensor<4x8xf32>
// CHECK-DAG: %[[T2:.+]] = onnx.Transpose %{{.+}} {perm = array<i64: 1, 0>} : (tensor<4x8xf32>) -> tensor<8x4xf32>
// CHECK: sparsa.sparse_ffn %arg0, %[[T1]], %[[T2]] up = %[[UP]] : (tensor<?x4xf32>
func.func @prosparse_gemm(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = onnx.Constant {value = dense<1.0> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %wu = onnx.Constant {value = dense<3.0> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %wd = onnx.Constant {value = dense<2.0> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %g = onnx.Gemm %x, %wg {transB = 1 : si64} : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %r = onnx.Max %g, %zero : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %u = onnx.Gemm %x, %wu {transB = 1 : si64} : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %a = onnx.Mul %r, %u : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %y = onnx.Gemm %a, %wd {transB = 1 : si64} : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

/// FATReLU: Where(h > 0.5, h, 0).
// CHECK-LABEL: func.func @fatrelu
// CHECK: sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} {mode = "threshold", threshold = 5.000000e-01 : f64}
func.func @fatrelu(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %t = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %h = onnx.MatMul %x, %w1 : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %c = onnx.Greater %h, %t : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xi1>
  %a = onnx.Where %c, %h, %zero : (tensor<1x8xi1>, tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Squared ReLU, Pow(relu(h), 2): the same zeros as ReLU, mode "relu2".
// CHECK-LABEL: func.func @relu_squared
// CHECK: sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} {mode = "relu2"}
// CHECK-NOT: onnx.Pow
func.func @relu_squared(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %two = onnx.Constant {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %h = onnx.MatMul %x, %w1 : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %r = onnx.Relu %h : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %a = onnx.Pow %r, %two : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near misses: the ReLU also returned; a threshold that is an input;
/// inactive neurons set to 0.5. Each keeps its ops and says why.
// CHECK-LABEL: func.func @near_misses
// CHECK: onnx.Relu {{.+}} {sparsa.unfused = {activation_sparsity = "the activation is also used elsewhere"}}
// CHECK: onnx.Where {{.+}} {sparsa.unfused = {activation_sparsity = "the activation threshold is not a constant (a model input?)"}}
// CHECK: onnx.Where {{.+}} {sparsa.unfused = {activation_sparsity = "inactive neurons take a non-zero value"}}
// CHECK: onnx.Mul {{.+}} {sparsa.unfused = {activation_sparsity = "the activation threshold is not a constant (computed at run time)"}}
// CHECK-NOT: sparsa.sparse_ffn
func.func @near_misses(%x: tensor<1x4xf32>, %t: tensor<f32>) -> (tensor<1x4xf32>, tensor<1x8xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>) {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %half = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %h = onnx.MatMul %x, %w1 : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %a = onnx.Relu %h : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  %c1 = onnx.Greater %h, %t : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xi1>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %a1 = onnx.Where %c1, %h, %zero : (tensor<1x8xi1>, tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %y1 = onnx.MatMul %a1, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  %c2 = onnx.Greater %h, %half : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xi1>
  %a2 = onnx.Where %c2, %h, %half : (tensor<1x8xi1>, tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %y2 = onnx.MatMul %a2, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  // Top-k by its k-th value: h * (h >= kth), the threshold from the
  // activation itself.
  %k = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %tv, %ti = onnx.TopK %h, %k : (tensor<1x8xf32>, tensor<1xi64>) -> (tensor<1x3xf32>, tensor<1x3xi64>)
  %ax = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %kth = onnx.ReduceMin %tv, %ax : (tensor<1x3xf32>, tensor<1xi64>) -> tensor<1x1xf32>
  %c3 = onnx.GreaterOrEqual %h, %kth : (tensor<1x8xf32>, tensor<1x1xf32>) -> tensor<1x8xi1>
  %m3 = onnx.Cast %c3 {to = 1 : si64} : (tensor<1x8xi1>) -> tensor<1x8xf32>
  %a3 = onnx.Mul %h, %m3 : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %y3 = onnx.MatMul %a3, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y, %a, %y1, %y2, %y3 : tensor<1x4xf32>, tensor<1x8xf32>, tensor<1x4xf32>, tensor<1x4xf32>, tensor<1x4xf32>
}

// -----

/// CoreInfer: the FFN over an index set given as an input; W1 [H, F] is
/// gathered along its columns (transposed to one row per neuron at compile
/// time), b1 and W2 along their rows. Any activation (here SiLU).
// CHECK-LABEL: func.func @core_neurons
// CHECK-DAG: %[[W1:.+]] = onnx.Constant {value = dense<5.000000e-01> : tensor<4x8xf32>}
// CHECK-DAG: %[[B1:.+]] = onnx.Constant {value = dense<1.000000e-01> : tensor<8xf32>}
// CHECK-DAG: %[[W2:.+]] = onnx.Constant {value = dense<2.500000e-01> : tensor<8x4xf32>}
// CHECK: %[[T1:.+]] = onnx.Transpose %[[W1]] {perm = array<i64: 1, 0>} : (tensor<4x8xf32>) -> tensor<8x4xf32>
// CHECK: sparsa.sparse_ffn %arg0, %[[T1]], %[[W2]] b1 = %[[B1]] indices = %arg1 {mode = "silu"}
// CHECK-NOT: onnx.Gather
func.func @core_neurons(%x: tensor<1x4xf32>, %idx: tensor<3xi64>) -> tensor<1x4xf32> {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %b1 = onnx.Constant {value = dense<0.1> : tensor<8xf32>} : () -> tensor<8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w1g = onnx.Gather %w1, %idx {axis = 1 : si64} : (tensor<4x8xf32>, tensor<3xi64>) -> tensor<4x3xf32>
  %b1g = onnx.Gather %b1, %idx : (tensor<8xf32>, tensor<3xi64>) -> tensor<3xf32>
  %w2g = onnx.Gather %w2, %idx : (tensor<8x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %h0 = onnx.MatMul %x, %w1g : (tensor<1x4xf32>, tensor<4x3xf32>) -> tensor<1x3xf32>
  %h = onnx.Add %h0, %b1g : (tensor<1x3xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  %s = onnx.Sigmoid %h : (tensor<1x3xf32>) -> tensor<1x3xf32>
  %a = onnx.Mul %h, %s : (tensor<1x3xf32>, tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = onnx.MatMul %a, %w2g : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Deja Vu: the index set is the TopK of a predictor score; once the FFN is
/// fused the TopK's indices only choose its neurons (values unused), so the
/// TopK need not sort them: sorted = 0.
// CHECK-LABEL: func.func @predictor_topk_unsorted
// CHECK: onnx.TopK %arg1, %{{.+}} {sorted = 0 : si64}
// CHECK: sparsa.sparse_ffn
func.func @predictor_topk_unsorted(%x: tensor<1x4xf32>, %score: tensor<1x8xf32>) -> tensor<1x4xf32> {
  %k = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %v, %i = onnx.TopK %score, %k : (tensor<1x8xf32>, tensor<1xi64>) -> (tensor<1x3xf32>, tensor<1x3xi64>)
  %idx = onnx.Squeeze %i, %ax : (tensor<1x3xi64>, tensor<1xi64>) -> tensor<3xi64>
  %w1g = onnx.Gather %w1, %idx {axis = 1 : si64} : (tensor<4x8xf32>, tensor<3xi64>) -> tensor<4x3xf32>
  %w2g = onnx.Gather %w2, %idx : (tensor<8x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %h = onnx.MatMul %x, %w1g : (tensor<1x4xf32>, tensor<4x3xf32>) -> tensor<1x3xf32>
  %a = onnx.Relu %h : (tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = onnx.MatMul %a, %w2g : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

/// ... but not when the indices are also used elsewhere.
// CHECK-LABEL: func.func @negative_topk_indices_returned
// CHECK: onnx.TopK
// CHECK-NOT: sorted = 0
// CHECK: sparsa.sparse_ffn
func.func @negative_topk_indices_returned(%x: tensor<1x4xf32>, %score: tensor<1x8xf32>) -> (tensor<1x4xf32>, tensor<1x3xi64>) {
  %k = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %v, %i = onnx.TopK %score, %k : (tensor<1x8xf32>, tensor<1xi64>) -> (tensor<1x3xf32>, tensor<1x3xi64>)
  %idx = onnx.Squeeze %i, %ax : (tensor<1x3xi64>, tensor<1xi64>) -> tensor<3xi64>
  %w1g = onnx.Gather %w1, %idx {axis = 1 : si64} : (tensor<4x8xf32>, tensor<3xi64>) -> tensor<4x3xf32>
  %w2g = onnx.Gather %w2, %idx : (tensor<8x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %h = onnx.MatMul %x, %w1g : (tensor<1x4xf32>, tensor<4x3xf32>) -> tensor<1x3xf32>
  %a = onnx.Relu %h : (tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = onnx.MatMul %a, %w2g : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
  return %y, %i : tensor<1x4xf32>, tensor<1x3xi64>
}

// -----

/// The same written on torch's nn.Linear weights [out, in]: x @
/// W1[idx].t() (GatherND rows, as the dynamo exporter writes W1[idx]) and
/// h @ W2[:, idx].t(); W1 needs no transpose, W2 one.
// CHECK-LABEL: func.func @core_neurons_torch_linear
// CHECK-DAG: %[[W1:.+]] = onnx.Constant {value = dense<5.000000e-01> : tensor<8x4xf32>}
// CHECK-DAG: %[[W2:.+]] = onnx.Constant {value = dense<2.500000e-01> : tensor<4x8xf32>}
// CHECK: %[[T2:.+]] = onnx.Transpose %[[W2]] {perm = array<i64: 1, 0>} : (tensor<4x8xf32>) -> tensor<8x4xf32>
// CHECK: sparsa.sparse_ffn %arg0, %[[W1]], %[[T2]] indices = %arg1 :
// CHECK-NOT: onnx.Gather
func.func @core_neurons_torch_linear(%x: tensor<1x4xf32>, %idx: tensor<3xi64>) -> tensor<1x4xf32> {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %ax = onnx.Constant {value = dense<[-1]> : tensor<1xi64>} : () -> tensor<1xi64>
  %i2 = onnx.Unsqueeze %idx, %ax : (tensor<3xi64>, tensor<1xi64>) -> tensor<3x1xi64>
  %w1g = onnx.GatherND %w1, %i2 : (tensor<8x4xf32>, tensor<3x1xi64>) -> tensor<3x4xf32>
  %w1t = onnx.Transpose %w1g {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
  %w2g = onnx.Gather %w2, %idx {axis = 1 : si64} : (tensor<4x8xf32>, tensor<3xi64>) -> tensor<4x3xf32>
  %w2t = onnx.Transpose %w2g {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %h = onnx.MatMul %x, %w1t : (tensor<1x4xf32>, tensor<4x3xf32>) -> tensor<1x3xf32>
  %a = onnx.Relu %h : (tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = onnx.MatMul %a, %w2t : (tensor<1x3xf32>, tensor<3x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: a ReLU MLP that widens (a sparsity predictor's x A B): a
/// sparse FFN keeps the width, and the report says so.
// CHECK-LABEL: func.func @negative_widening_relu_mlp
// CHECK: onnx.Relu {{.+}}sparsa.unfused = {activation_sparsity = "the FFN's output width 16 differs from its input's 4 (a sparse FFN keeps the width)"}
// CHECK-NOT: sparsa.sparse_ffn
func.func @negative_widening_relu_mlp(%x: tensor<1x4xf32>) -> tensor<1x16xf32> {
  %a = onnx.Constant {value = dense<0.5> : tensor<4x2xf32>} : () -> tensor<4x2xf32>
  %b = onnx.Constant {value = dense<0.25> : tensor<2x16xf32>} : () -> tensor<2x16xf32>
  %h = onnx.MatMul %x, %a : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  %r = onnx.Relu %h : (tensor<1x2xf32>) -> tensor<1x2xf32>
  %y = onnx.MatMul %r, %b : (tensor<1x2xf32>, tensor<2x16xf32>) -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

/// dReLU (TurboSparse): both halves of the GLU through a ReLU; the op's
/// relu_up says the linear part's.
// CHECK-LABEL: func.func @drelu
// CHECK: sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} up = %{{.+}} {relu_up = true}
// CHECK-NOT: onnx.Relu
func.func @drelu(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %wg = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %wu = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %h = onnx.MatMul %x, %wg : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %g = onnx.Relu %h : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %u = onnx.MatMul %x, %wu : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %ur = onnx.Relu %u : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %m = onnx.Mul %g, %ur : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %m, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// CATS: the SiLU gate cut by magnitude, Where(|g| > 0.5, g, zeros_like(g))
/// (torch.where with a zeros_like fill), times the linear part.
// CHECK-LABEL: func.func @cats_glu
// CHECK: sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} up = %{{.+}} {activation = "silu", mode = "abs_threshold", threshold = 5.000000e-01 : f64}
// CHECK-NOT: onnx.Where
func.func @cats_glu(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %wg = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %wu = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %t = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %h = onnx.MatMul %x, %wg : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %s = onnx.Sigmoid %h : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %g = onnx.Mul %h, %s : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %ab = onnx.Abs %g : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %c = onnx.Greater %ab, %t : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xi1>
  %sh = onnx.Shape %g : (tensor<1x8xf32>) -> tensor<2xi64>
  %z = onnx.ConstantOfShape %sh : (tensor<2xi64>) -> tensor<1x8xf32>
  %a = onnx.Where %c, %g, %z : (tensor<1x8xi1>, tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %u = onnx.MatMul %x, %wu : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %m = onnx.Mul %a, %u : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %m, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// Near miss: a CATS cut that is a model input. The gate side says why.
// CHECK-LABEL: func.func @negative_cats_threshold_input
// CHECK: onnx.Mul {{.+}} {sparsa.unfused = {activation_sparsity = "the activation threshold is not a constant (a model input?)"}}
// CHECK-NOT: sparsa.sparse_ffn
func.func @negative_cats_threshold_input(%x: tensor<1x4xf32>, %t: tensor<f32>) -> tensor<1x4xf32> {
  %wg = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %wu = onnx.Constant {value = dense<-0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %h = onnx.MatMul %x, %wg : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %s = onnx.Sigmoid %h : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %g = onnx.Mul %h, %s : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %ab = onnx.Abs %g : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %c = onnx.Greater %ab, %t : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xi1>
  %cf = onnx.Cast %c {to = 1 : si64} : (tensor<1x8xi1>) -> tensor<1x8xf32>
  %a = onnx.Mul %g, %cf : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %u = onnx.MatMul %x, %wu : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %m = onnx.Mul %a, %u : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %m, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// FATReLU as masked_fill(h <= 0.5, 0): keeps h > 0.5 and a NaN h.
// CHECK-LABEL: func.func @fatrelu_masked_fill
// CHECK: sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} {mode = "threshold", nan_active = true, threshold = 5.000000e-01 : f64}
func.func @fatrelu_masked_fill(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %t = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %h = onnx.MatMul %x, %w1 : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %c = onnx.LessOrEqual %h, %t : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xi1>
  %a = onnx.Where %c, %zero, %h : (tensor<1x8xi1>, tensor<f32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// FATReLU as Where(0.5 <= h, h, 0): h >= 0.5 is h > the float below 0.5.
// CHECK-LABEL: func.func @fatrelu_inclusive
// CHECK: sparsa.sparse_ffn %arg0, %{{.+}}, %{{.+}} {mode = "threshold", threshold = 0.49999997019767761 : f64}
func.func @fatrelu_inclusive(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %w1 = onnx.Constant {value = dense<0.5> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %t = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %h = onnx.MatMul %x, %w1 : (tensor<1x4xf32>, tensor<4x8xf32>) -> tensor<1x8xf32>
  %c = onnx.LessOrEqual %t, %h : (tensor<f32>, tensor<1x8xf32>) -> tensor<1x8xi1>
  %a = onnx.Where %c, %h, %zero : (tensor<1x8xi1>, tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// TEAL's own spelling: x * float(|x| > 0.5) @ W.
// CHECK-LABEL: func.func @teal_mul_mask
// CHECK: sparsa.sparse_input_matmul %arg0, %{{.+}} {nan_active = true, threshold = 5.000000e-01 : f64}
// CHECK-NOT: onnx.Mul
func.func @teal_mul_mask(%x: tensor<1x4xf32>) -> tensor<1x6xf32> {
  %w = onnx.Constant {value = dense<0.5> : tensor<4x6xf32>} : () -> tensor<4x6xf32>
  %t = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %ax = onnx.Abs %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %c = onnx.Greater %ax, %t : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xi1>
  %m = onnx.Cast %c {to = 1 : si64} : (tensor<1x4xi1>) -> tensor<1x4xf32>
  %xs = onnx.Mul %x, %m : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %y = onnx.MatMul %xs, %w : (tensor<1x4xf32>, tensor<4x6xf32>) -> tensor<1x6xf32>
  return %y : tensor<1x6xf32>
}

// -----

/// TEAL input sparsity: Where(|x| > 0.5, x, 0) @ W + b.
// CHECK-LABEL: func.func @teal
// CHECK: %[[Y:.+]] = sparsa.sparse_input_matmul %arg0, %{{.+}} bias = %{{.+}} {threshold = 5.000000e-01 : f64} : (tensor<1x4xf32>, tensor<4x6xf32>, tensor<6xf32>) -> tensor<1x6xf32>
// CHECK-NOT: onnx.Where
// CHECK: return %[[Y]]
func.func @teal(%x: tensor<1x4xf32>) -> tensor<1x6xf32> {
  %w = onnx.Constant {value = dense<0.5> : tensor<4x6xf32>} : () -> tensor<4x6xf32>
  %b = onnx.Constant {value = dense<0.1> : tensor<6xf32>} : () -> tensor<6xf32>
  %t = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %ax = onnx.Abs %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %c = onnx.Greater %ax, %t : (tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xi1>
  %xs = onnx.Where %c, %x, %zero : (tensor<1x4xi1>, tensor<1x4xf32>, tensor<f32>) -> tensor<1x4xf32>
  %y0 = onnx.MatMul %xs, %w : (tensor<1x4xf32>, tensor<4x6xf32>) -> tensor<1x6xf32>
  %y = onnx.Add %y0, %b : (tensor<1x6xf32>, tensor<6xf32>) -> tensor<1x6xf32>
  return %y : tensor<1x6xf32>
}

// -----

/// Explicit top-k: TopK of the activation scattered into zeros, times the
/// down projection: the TopK's indices and values feed sparsa.topk_matmul,
/// which sums over them in any order, so the TopK need not sort them.
// CHECK-LABEL: func.func @explicit_topk
// CHECK: %[[V:.+]], %[[I:.+]] = onnx.TopK %{{.+}} {sorted = 0 : si64}
// CHECK: %[[Y:.+]] = sparsa.topk_matmul %[[I]], %[[V]], %{{.+}} : (tensor<1x2xi64>, tensor<1x2xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
// CHECK-NOT: onnx.ScatterElements
// CHECK: return %[[Y]]
func.func @explicit_topk(%h: tensor<1x8xf32>) -> tensor<1x4xf32> {
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %h, %k : (tensor<1x8xf32>, tensor<1xi64>) -> (tensor<1x2xf32>, tensor<1x2xi64>)
  %zeros = onnx.Constant {value = dense<0.0> : tensor<1x8xf32>} : () -> tensor<1x8xf32>
  %a = onnx.ScatterElements %zeros, %i, %v {axis = -1 : si64} : (tensor<1x8xf32>, tensor<1x2xi64>, tensor<1x2xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

/// ... but a TopK whose values are also returned stays sorted.
// CHECK-LABEL: func.func @negative_topk_values_returned
// CHECK: onnx.TopK
// CHECK-NOT: sorted = 0
// CHECK: sparsa.topk_matmul
func.func @negative_topk_values_returned(%h: tensor<1x8xf32>) -> (tensor<1x4xf32>, tensor<1x2xf32>) {
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %h, %k : (tensor<1x8xf32>, tensor<1xi64>) -> (tensor<1x2xf32>, tensor<1x2xi64>)
  %zeros = onnx.Constant {value = dense<0.0> : tensor<1x8xf32>} : () -> tensor<1x8xf32>
  %a = onnx.ScatterElements %zeros, %i, %v {axis = -1 : si64} : (tensor<1x8xf32>, tensor<1x2xi64>, tensor<1x2xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y, %v : tensor<1x4xf32>, tensor<1x2xf32>
}

// -----

/// Explicit top-k as a 0/1 mask of the TopK's indices times the
/// activation (Q-Sparse's `act * zeros.scatter(-1, i, 1)`): the TopK ranks
/// the activation itself, so its own values are the kept entries.
// CHECK-LABEL: func.func @topk_mask
// CHECK: %[[V:.+]], %[[I:.+]] = onnx.TopK %arg0, %{{.+}} {sorted = 0 : si64}
// CHECK: %[[Y:.+]] = sparsa.topk_matmul %[[I]], %[[V]], %{{.+}} : (tensor<1x2xi64>, tensor<1x2xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
// CHECK-NOT: onnx.ScatterElements
// CHECK-NOT: onnx.Mul
// CHECK: return %[[Y]]
func.func @topk_mask(%h: tensor<1x8xf32>) -> tensor<1x4xf32> {
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %h, %k : (tensor<1x8xf32>, tensor<1xi64>) -> (tensor<1x2xf32>, tensor<1x2xi64>)
  %zeros = onnx.Constant {value = dense<0.0> : tensor<1x8xf32>} : () -> tensor<1x8xf32>
  %ones = onnx.Constant {value = dense<1.0> : tensor<1x2xf32>} : () -> tensor<1x2xf32>
  %m = onnx.ScatterElements %zeros, %i, %ones {axis = -1 : si64} : (tensor<1x8xf32>, tensor<1x2xi64>, tensor<1x2xf32>) -> tensor<1x8xf32>
  %a = onnx.Mul %m, %h : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

/// A bool mask of the TopK of |act| (the largest magnitudes) selecting the
/// activation with Where(mask, act, 0): the kept values are the
/// activation's entries at the indices, gathered.
// CHECK-LABEL: func.func @topk_abs_bool_where
// CHECK: %[[V:.+]], %[[I:.+]] = onnx.TopK
// CHECK: %[[G:.+]] = onnx.GatherElements %arg0, %[[I]] {axis = -1 : si64} : (tensor<2x8xf32>, tensor<2x2xi64>) -> tensor<2x2xf32>
// CHECK: %[[Y:.+]] = sparsa.topk_matmul %[[I]], %[[G]], %{{.+}}
// CHECK-NOT: onnx.Where
// CHECK: return %[[Y]]
func.func @topk_abs_bool_where(%h: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %abs = onnx.Abs %h : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %v, %i = onnx.TopK %abs, %k : (tensor<2x8xf32>, tensor<1xi64>) -> (tensor<2x2xf32>, tensor<2x2xi64>)
  %false = onnx.Constant {value = dense<false> : tensor<2x8xi1>} : () -> tensor<2x8xi1>
  %true = onnx.Constant {value = dense<true> : tensor<2x2xi1>} : () -> tensor<2x2xi1>
  %m = onnx.ScatterElements %false, %i, %true {axis = -1 : si64} : (tensor<2x8xi1>, tensor<2x2xi64>, tensor<2x2xi1>) -> tensor<2x8xi1>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %a = onnx.Where %m, %h, %zero : (tensor<2x8xi1>, tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

/// Near miss: one token's top-k mask [1, 8] broadcast over two tokens is
/// not a selection of each token's neurons: kept, with the reason.
// CHECK-LABEL: func.func @negative_topk_mask_broadcast
// CHECK: onnx.ScatterElements {{.+}} {axis = -1 : si64, sparsa.unfused = {activation_sparsity = "the top-k mask and the activation differ in shape"}}
// CHECK: onnx.Mul
// CHECK-NOT: sparsa.topk_matmul
func.func @negative_topk_mask_broadcast(%h: tensor<2x8xf32>, %h0: tensor<1x8xf32>) -> tensor<2x4xf32> {
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %v, %i = onnx.TopK %h0, %k : (tensor<1x8xf32>, tensor<1xi64>) -> (tensor<1x2xf32>, tensor<1x2xi64>)
  %zeros = onnx.Constant {value = dense<0.0> : tensor<1x8xf32>} : () -> tensor<1x8xf32>
  %ones = onnx.Constant {value = dense<1.0> : tensor<1x2xf32>} : () -> tensor<1x2xf32>
  %m = onnx.ScatterElements %zeros, %i, %ones {axis = -1 : si64} : (tensor<1x8xf32>, tensor<1x2xi64>, tensor<1x2xf32>) -> tensor<1x8xf32>
  %a = onnx.Mul %h, %m : (tensor<2x8xf32>, tensor<1x8xf32>) -> tensor<2x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

/// Near miss: scattered indices that are not a TopK's (they could repeat).
// CHECK-LABEL: func.func @scatter_not_topk
// CHECK: onnx.ScatterElements {{.+}}sparsa.unfused = {activation_sparsity = "the scattered indices are not those of a TopK over neurons (they could repeat)"}
func.func @scatter_not_topk(%i: tensor<1x2xi64>, %v: tensor<1x2xf32>) -> tensor<1x4xf32> {
  %w2 = onnx.Constant {value = dense<0.25> : tensor<8x4xf32>} : () -> tensor<8x4xf32>
  %zeros = onnx.Constant {value = dense<0.0> : tensor<1x8xf32>} : () -> tensor<1x8xf32>
  %a = onnx.ScatterElements %zeros, %i, %v {axis = -1 : si64} : (tensor<1x8xf32>, tensor<1x2xi64>, tensor<1x2xf32>) -> tensor<1x8xf32>
  %y = onnx.MatMul %a, %w2 : (tensor<1x8xf32>, tensor<8x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
