// RUN: sparsa-opt %s | sparsa-opt | FileCheck %s
// RUN: sparsa-opt %s --mlir-print-op-generic | sparsa-opt | FileCheck %s

/// Round trip of the element-wise, reduction, shape and indexing ops added
/// for ONNX coverage, in their declarative assembly formats.

// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  // CHECK: onnx.Exp
  %0 = onnx.Exp %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Log
  %1 = onnx.Log %0 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Sqrt
  %2 = onnx.Sqrt %1 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Reciprocal
  %3 = onnx.Reciprocal %2 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Erf
  %4 = onnx.Erf %3 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Abs
  %5 = onnx.Abs %4 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Neg
  %6 = onnx.Neg %5 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.LeakyRelu %{{.*}} {alpha = 2.000000e-01 : f32}
  %7 = onnx.LeakyRelu %6 {alpha = 0.2 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Elu
  %8 = onnx.Elu %7 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Gelu %{{.*}} {approximate = "tanh"}
  %9 = onnx.Gelu %8 {approximate = "tanh"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.LogSoftmax %{{.*}} {axis = 0 : si64}
  %10 = onnx.LogSoftmax %9 {axis = 0 : si64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %10 : tensor<2x4xf32>
}

/// Rounding (fake quantization written by hand) and the smooth / hard
/// activations.
// CHECK-LABEL: func.func @rounding_and_activations
func.func @rounding_and_activations(%x: tensor<2x4xf32>, %s: tensor<4xf32>, %i: tensor<3xi64>) -> (tensor<2x4xf32>, tensor<3xi64>) {
  // CHECK: onnx.Round
  %0 = onnx.Round %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Floor
  %1 = onnx.Floor %0 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Ceil
  %2 = onnx.Ceil %1 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Softplus
  %3 = onnx.Softplus %2 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Softsign
  %4 = onnx.Softsign %3 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.HardSigmoid %{{.*}} {alpha = 3.000000e-01 : f32} :
  %5 = onnx.HardSigmoid %4 {alpha = 0.3 : f32} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.HardSwish
  %6 = onnx.HardSwish %5 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Mish
  %7 = onnx.Mish %6 : (tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.PRelu
  %8 = onnx.PRelu %7, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Sign %{{.*}} : (tensor<3xi64>) -> tensor<3xi64>
  %9 = onnx.Sign %i : (tensor<3xi64>) -> tensor<3xi64>
  return %8, %9 : tensor<2x4xf32>, tensor<3xi64>
}

// CHECK-LABEL: func.func @norm_reductions
func.func @norm_reductions(%x: tensor<2x4xf32>, %a: tensor<1xi64>) -> (tensor<2x1xf32>, tensor<2xf32>, tensor<2x1xf32>) {
  // CHECK: onnx.ReduceL2
  %0 = onnx.ReduceL2 %x, %a : (tensor<2x4xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  // CHECK: onnx.ReduceLogSumExp %{{.*}} {keepdims = 0 : si64}
  %1 = onnx.ReduceLogSumExp %x, %a {keepdims = 0 : si64} : (tensor<2x4xf32>, tensor<1xi64>) -> tensor<2xf32>
  // CHECK: onnx.ReduceSumSquare
  %2 = onnx.ReduceSumSquare %x, %a : (tensor<2x4xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  return %0, %1, %2 : tensor<2x1xf32>, tensor<2xf32>, tensor<2x1xf32>
}

// CHECK-LABEL: func.func @conv
func.func @conv(%x: tensor<?x4x?xf32>, %w: tensor<4x1x4xf32>, %b: tensor<4xf32>) -> tensor<?x4x?xf32> {
  // CHECK: onnx.Conv %{{.*}}, %{{.*}} bias = %{{.*}} {group = 4 : si64, pads = array<i64: 3, 0>} :
  %0 = onnx.Conv %x, %w bias = %b {group = 4 : si64, pads = array<i64: 3, 0>} : (tensor<?x4x?xf32>, tensor<4x1x4xf32>, tensor<4xf32>) -> tensor<?x4x?xf32>
  return %0 : tensor<?x4x?xf32>
}

// CHECK-LABEL: func.func @pad
func.func @pad(%x: tensor<2x4xf32>, %p: tensor<2xi64>, %c: tensor<f32>, %a: tensor<1xi64>) -> (tensor<?x?xf32>, tensor<?x?xf32>) {
  // CHECK: onnx.Pad %{{.*}}, %{{.*}} value = %{{.*}} axes = %{{.*}} :
  %0 = onnx.Pad %x, %p value = %c axes = %a : (tensor<2x4xf32>, tensor<2xi64>, tensor<f32>, tensor<1xi64>) -> tensor<?x?xf32>
  // CHECK: onnx.Pad %{{.*}}, %{{.*}} axes = %{{.*}} {mode = "reflect"} :
  %1 = onnx.Pad %x, %p axes = %a {mode = "reflect"} : (tensor<2x4xf32>, tensor<2xi64>, tensor<1xi64>) -> tensor<?x?xf32>
  return %0, %1 : tensor<?x?xf32>, tensor<?x?xf32>
}

// CHECK-LABEL: func.func @binary_and_logic
func.func @binary_and_logic(%x: tensor<2x4xf32>, %y: tensor<4xf32>, %lo: tensor<f32>) -> (tensor<2x4xf32>, tensor<2x4xi1>) {
  // CHECK: onnx.Clip %{{.*}} min = %{{.*}} :
  %0 = onnx.Clip %x min = %lo : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  // CHECK: onnx.Clip %{{.*}} min = %{{.*}} max = %{{.*}} :
  %1 = onnx.Clip %0 min = %lo max = %lo : (tensor<2x4xf32>, tensor<f32>, tensor<f32>) -> tensor<2x4xf32>
  // CHECK: onnx.Clip %{{.*}} max = %{{.*}} :
  %2 = onnx.Clip %1 max = %lo : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
  // CHECK: onnx.Pow
  %3 = onnx.Pow %2, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Max %{{.*}}, %{{.*}}, %{{.*}} :
  %4 = onnx.Max %3, %y, %x : (tensor<2x4xf32>, tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Min
  %5 = onnx.Min %4, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  // CHECK: onnx.Equal
  %c0 = onnx.Equal %5, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  // CHECK: onnx.Greater
  %c1 = onnx.Greater %5, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  // CHECK: onnx.GreaterOrEqual
  %c2 = onnx.GreaterOrEqual %5, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  // CHECK: onnx.Less
  %c3 = onnx.Less %5, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  // CHECK: onnx.LessOrEqual
  %c4 = onnx.LessOrEqual %5, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  // CHECK: onnx.And
  %c5 = onnx.And %c0, %c1 : (tensor<2x4xi1>, tensor<2x4xi1>) -> tensor<2x4xi1>
  // CHECK: onnx.Or
  %c6 = onnx.Or %c5, %c2 : (tensor<2x4xi1>, tensor<2x4xi1>) -> tensor<2x4xi1>
  // CHECK: onnx.Not
  %c7 = onnx.Not %c6 : (tensor<2x4xi1>) -> tensor<2x4xi1>
  // CHECK: onnx.Where
  %6 = onnx.Where %c7, %5, %y : (tensor<2x4xi1>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %6, %c4 : tensor<2x4xf32>, tensor<2x4xi1>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<?x4x8xf32>, %axes: tensor<1xi64>, %s: tensor<1x4x8xf32>, %g: tensor<8xf32>) -> (tensor<?x1x8xf32>, tensor<?x8xf32>, tensor<f32>) {
  // CHECK: onnx.ReduceSum %{{.*}}, %{{.*}} {noop_with_empty_axes = 1 : si64}
  %0 = onnx.ReduceSum %x, %axes {noop_with_empty_axes = 1 : si64} : (tensor<?x4x8xf32>, tensor<1xi64>) -> tensor<?x1x8xf32>
  // CHECK: onnx.ReduceMean
  %1 = onnx.ReduceMean %0, %axes {keepdims = 0 : si64} : (tensor<?x1x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
  // CHECK: onnx.ReduceMax
  %2 = onnx.ReduceMax %1 {keepdims = 0 : si64} : (tensor<?x8xf32>) -> tensor<f32>
  // CHECK: onnx.ReduceMin
  %3 = onnx.ReduceMin %s {keepdims = 0 : si64} : (tensor<1x4x8xf32>) -> tensor<f32>
  // CHECK: onnx.ReduceProd
  %4 = onnx.ReduceProd %s, %axes : (tensor<1x4x8xf32>, tensor<1xi64>) -> tensor<1x1x8xf32>
  // CHECK: onnx.ArgMax %{{.*}} {axis = 2 : si64, keepdims = 0 : si64}
  %5 = onnx.ArgMax %s {axis = 2 : si64, keepdims = 0 : si64} : (tensor<1x4x8xf32>) -> tensor<1x4xi64>
  // CHECK: onnx.CumSum
  %6 = onnx.CumSum %x, %axes {exclusive = 1 : si64} : (tensor<?x4x8xf32>, tensor<1xi64>) -> tensor<?x4x8xf32>
  // CHECK: onnx.LayerNormalization %{{.*}}, %{{.*}}, %{{.*}} {epsilon = {{.*}} : f32}
  %7 = onnx.LayerNormalization %6, %g, %g {epsilon = 1.0e-6 : f32} : (tensor<?x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x4x8xf32>
  // CHECK: onnx.LayerNormalization %{{.*}}, %{{.*}} : {{.*}} -> (tensor<?x4x8xf32>, tensor<?x4x1xf32>, tensor<?x4x1xf32>)
  %8:3 = onnx.LayerNormalization %6, %g : (tensor<?x4x8xf32>, tensor<8xf32>) -> (tensor<?x4x8xf32>, tensor<?x4x1xf32>, tensor<?x4x1xf32>)
  return %0, %1, %2 : tensor<?x1x8xf32>, tensor<?x8xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<2x3x4xf32>, %sh: tensor<2xi64>, %st: tensor<1xi64>) -> tensor<2x12xf32> {
  // CHECK: onnx.Flatten %{{.*}} {axis = 2 : si64}
  %f = onnx.Flatten %x {axis = 2 : si64} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  // CHECK: onnx.Flatten %{{.*}} :
  %0 = onnx.Flatten %x : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
  // CHECK: onnx.Shape %{{.*}} {start = 1 : si64}
  %1 = onnx.Shape %x {start = 1 : si64} : (tensor<2x3x4xf32>) -> tensor<2xi64>
  // CHECK: onnx.Size
  %2 = onnx.Size %x : (tensor<2x3x4xf32>) -> tensor<i64>
  // CHECK: onnx.Expand
  %3 = onnx.Expand %0, %sh : (tensor<2x12xf32>, tensor<2xi64>) -> tensor<2x12xf32>
  // CHECK: onnx.Tile
  %4 = onnx.Tile %3, %sh : (tensor<2x12xf32>, tensor<2xi64>) -> tensor<?x?xf32>
  // CHECK: onnx.Slice %{{.*}}, %{{.*}}, %{{.*}} axes = %{{.*}} steps = %{{.*}} :
  %5 = onnx.Slice %x, %st, %st axes = %st steps = %st : (tensor<2x3x4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x3x4xf32>
  // CHECK: onnx.Slice %{{.*}}, %{{.*}}, %{{.*}} :
  %6 = onnx.Slice %x, %st, %st : (tensor<2x3x4xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x3x4xf32>
  // CHECK: onnx.Split %{{.*}} {axis = 1 : si64, num_outputs = 2 : si64}
  %7:2 = onnx.Split %0 {axis = 1 : si64, num_outputs = 2 : si64} : (tensor<2x12xf32>) -> (tensor<2x6xf32>, tensor<2x6xf32>)
  // CHECK: onnx.ConstantOfShape %{{.*}} {value = dense<1.000000e+00> : tensor<1xf32>}
  %8 = onnx.ConstantOfShape %sh {value = dense<1.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x?xf32>
  // CHECK: onnx.Range
  %c = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %9 = onnx.Range %c, %c, %c : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  // CHECK: onnx.Dropout
  %10:2 = onnx.Dropout %0 : (tensor<2x12xf32>) -> (tensor<2x12xf32>, tensor<2x12xi1>)
  return %10#0 : tensor<2x12xf32>
}

// CHECK-LABEL: func.func @indexing
func.func @indexing(%x: tensor<5x4xf32>, %i: tensor<3xi64>, %e: tensor<2x4xi64>, %d: tensor<i64>, %v: tensor<2xf32>) -> (tensor<3x4xf32>, tensor<2x4xf32>, tensor<3x5xf32>, tensor<5x2xf32>, tensor<5x2xi64>) {
  // CHECK: onnx.Gather %{{.*}}, %{{.*}} {axis = 1 : si64}
  %g = onnx.Gather %x, %i {axis = 1 : si64} : (tensor<5x4xf32>, tensor<3xi64>) -> tensor<5x3xf32>
  // CHECK: onnx.Gather %{{.*}}, %{{.*}} :
  %0 = onnx.Gather %x, %i : (tensor<5x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  // CHECK: onnx.GatherElements
  %1 = onnx.GatherElements %x, %e : (tensor<5x4xf32>, tensor<2x4xi64>) -> tensor<2x4xf32>
  // CHECK: onnx.OneHot
  %2 = onnx.OneHot %i, %d, %v : (tensor<3xi64>, tensor<i64>, tensor<2xf32>) -> tensor<3x5xf32>
  // CHECK: onnx.TopK %{{.*}}, %{{.*}} {largest = 0 : si64}
  %k = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %3:2 = onnx.TopK %x, %k {largest = 0 : si64} : (tensor<5x4xf32>, tensor<1xi64>) -> (tensor<5x2xf32>, tensor<5x2xi64>)
  return %0, %1, %2, %3#0, %3#1 : tensor<3x4xf32>, tensor<2x4xf32>, tensor<3x5xf32>, tensor<5x2xf32>, tensor<5x2xi64>
}

// CHECK-LABEL: func.func @scatter_gather_nd
func.func @scatter_gather_nd(%x: tensor<8x4xf32>, %i: tensor<2x4xi64>, %u: tensor<2x4xf32>, %n: tensor<3x1xi64>, %v: tensor<3x4xf32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<3x4xf32>, tensor<2x?xi64>) {
  // CHECK: onnx.ScatterElements %{{.*}}, %{{.*}}, %{{.*}} {reduction = "add"}
  %0 = onnx.ScatterElements %x, %i, %u {reduction = "add"} : (tensor<8x4xf32>, tensor<2x4xi64>, tensor<2x4xf32>) -> tensor<8x4xf32>
  // CHECK: onnx.ScatterND %{{.*}}, %{{.*}}, %{{.*}} {reduction = "max"}
  %1 = onnx.ScatterND %x, %n, %v {reduction = "max"} : (tensor<8x4xf32>, tensor<3x1xi64>, tensor<3x4xf32>) -> tensor<8x4xf32>
  // CHECK: onnx.GatherND %{{.*}}, %{{.*}} :
  %2 = onnx.GatherND %x, %n : (tensor<8x4xf32>, tensor<3x1xi64>) -> tensor<3x4xf32>
  // CHECK: onnx.NonZero
  %3 = onnx.NonZero %x : (tensor<8x4xf32>) -> tensor<2x?xi64>
  return %0, %1, %2, %3 : tensor<8x4xf32>, tensor<8x4xf32>, tensor<3x4xf32>, tensor<2x?xi64>
}

// CHECK-LABEL: func.func @einsum_and_quantization
func.func @einsum_and_quantization(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>, %s: tensor<f32>, %zp: tensor<ui8>, %q: tensor<4x8xi8>, %cs: tensor<4xf32>, %bs: tensor<4x2xf32>) -> tensor<2x3x5xf32> {
  // CHECK: onnx.Einsum %{{.*}}, %{{.*}} {equation = "bij,bjk->bik"}
  %0 = onnx.Einsum %a, %b {equation = "bij,bjk->bik"} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
  // CHECK: onnx.QuantizeLinear
  %1 = onnx.QuantizeLinear %a, %s, %zp : (tensor<2x3x4xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x3x4xui8>
  // CHECK: onnx.DequantizeLinear %{{.*}}, %{{.*}} {axis = 0 : si64}
  %2 = onnx.DequantizeLinear %q, %cs {axis = 0 : si64} : (tensor<4x8xi8>, tensor<4xf32>) -> tensor<4x8xf32>
  // CHECK: onnx.DequantizeLinear %{{.*}}, %{{.*}} {block_size = 4 : si64}
  %3 = onnx.DequantizeLinear %q, %bs {block_size = 4 : si64} : (tensor<4x8xi8>, tensor<4x2xf32>) -> tensor<4x8xf32>
  // CHECK: onnx.DynamicQuantizeLinear
  %4:3 = onnx.DynamicQuantizeLinear %2 : (tensor<4x8xf32>) -> (tensor<4x8xui8>, tensor<f32>, tensor<ui8>)
  // CHECK: onnx.MatMulInteger %{{.*}}, %{{.*}} a_zero_point = %{{.*}} :
  %5 = onnx.MatMulInteger %1, %4#0 a_zero_point = %4#2 : (tensor<2x3x4xui8>, tensor<4x8xui8>, tensor<ui8>) -> tensor<2x3x8xi32>
  // CHECK: onnx.QLinearMatMul
  %6 = onnx.QLinearMatMul %1, %s, %zp, %4#0, %s, %zp, %s, %zp : (tensor<2x3x4xui8>, tensor<f32>, tensor<ui8>, tensor<4x8xui8>, tensor<f32>, tensor<ui8>, tensor<f32>, tensor<ui8>) -> tensor<2x3x8xui8>
  return %0 : tensor<2x3x5xf32>
}

// CHECK-LABEL: func.func @contrib
func.func @contrib(%a: tensor<?x64xf32>, %b: tensor<32x2x16xui8>, %s: tensor<32x2xf32>, %z: tensor<32x1xui8>, %r: tensor<?x4xf32>, %w1: tensor<4x16x64xf32>, %w2: tensor<4x64x16xf32>, %q1: tensor<4x16x32xui8>, %s1: tensor<4x16xf32>, %q2: tensor<4x64x8xui8>, %s2: tensor<4x64xf32>) -> (tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: onnx.ms.MatMulNBits %{{.*}}, %{{.*}}, %{{.*}} zero_points = %{{.*}} {K = 64 : si64, N = 32 : si64, block_size = 32 : si64}
  %0 = onnx.ms.MatMulNBits %a, %b, %s zero_points = %z {K = 64 : si64, N = 32 : si64, block_size = 32 : si64} : (tensor<?x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>, tensor<32x1xui8>) -> tensor<?x32xf32>
  // CHECK: onnx.ms.MoE %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {activation_type = "silu", k = 2 : si64}
  %1 = onnx.ms.MoE %a, %r, %w1, %w2 {activation_type = "silu", k = 2 : si64} : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<4x16x64xf32>, tensor<4x64x16xf32>) -> tensor<?x64xf32>
  // CHECK: onnx.ms.QMoE
  %2 = onnx.ms.QMoE %a, %r, %q1, %s1, %q2, %s2 {activation_type = "relu", k = 1 : si64} : (tensor<?x64xf32>, tensor<?x4xf32>, tensor<4x16x32xui8>, tensor<4x16xf32>, tensor<4x64x8xui8>, tensor<4x64xf32>) -> tensor<?x64xf32>
  return %0, %1, %2 : tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// CHECK-LABEL: func.func @trilu_cos_sin
func.func @trilu_cos_sin(%x: tensor<2x5x5xf32>, %k: tensor<i64>) -> (tensor<2x5x5xf32>, tensor<2x5x5xf32>, tensor<2x5x5xf32>, tensor<2x5x5xf32>) {
  // CHECK: onnx.Trilu %{{.*}} {upper = 0 : si64} : (tensor<2x5x5xf32>) -> tensor<2x5x5xf32>
  %0 = onnx.Trilu %x {upper = 0 : si64} : (tensor<2x5x5xf32>) -> tensor<2x5x5xf32>
  // CHECK: onnx.Trilu %{{.*}}, %{{.*}} : (tensor<2x5x5xf32>, tensor<i64>) -> tensor<2x5x5xf32>
  %1 = onnx.Trilu %x, %k : (tensor<2x5x5xf32>, tensor<i64>) -> tensor<2x5x5xf32>
  // CHECK: onnx.Cos
  %2 = onnx.Cos %x : (tensor<2x5x5xf32>) -> tensor<2x5x5xf32>
  // CHECK: onnx.Sin
  %3 = onnx.Sin %x : (tensor<2x5x5xf32>) -> tensor<2x5x5xf32>
  return %0, %1, %2, %3 : tensor<2x5x5xf32>, tensor<2x5x5xf32>, tensor<2x5x5xf32>, tensor<2x5x5xf32>
}

// CHECK-LABEL: func.func @linear_attention
func.func @linear_attention(%q: tensor<1x16x64xf32>, %k: tensor<1x16x32xf32>, %v: tensor<1x16x32xf32>, %s: tensor<1x2x16x16xf32>) -> (tensor<1x16x64xf32>, tensor<1x2x16x16xf32>) {
  // CHECK: onnx.LinearAttention %{{.*}}, %{{.*}}, %{{.*}} past = %{{.*}} {kv_num_heads = 2 : si64, q_num_heads = 4 : si64}
  %y, %st = onnx.LinearAttention %q, %k, %v past = %s {q_num_heads = 4 : si64, kv_num_heads = 2 : si64} : (tensor<1x16x64xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>, tensor<1x2x16x16xf32>) -> (tensor<1x16x64xf32>, tensor<1x2x16x16xf32>)
  return %y, %st : tensor<1x16x64xf32>, tensor<1x2x16x16xf32>
}

// CHECK-LABEL: func.func @linear_attention_gated_delta
func.func @linear_attention_gated_delta(%q: tensor<1x16x64xf32>, %k: tensor<1x16x32xf32>, %v: tensor<1x16x32xf32>, %g: tensor<1x16x32xf32>, %b: tensor<1x16x1xf32>) -> (tensor<1x16x64xf32>, tensor<1x2x16x16xf32>) {
  // CHECK: onnx.LinearAttention %{{.*}}, %{{.*}}, %{{.*}} decay = %{{.*}} beta = %{{.*}} {kv_num_heads = 2 : si64, q_num_heads = 4 : si64, update_rule = "gated_delta"}
  %y, %st = onnx.LinearAttention %q, %k, %v decay = %g beta = %b {q_num_heads = 4 : si64, kv_num_heads = 2 : si64, update_rule = "gated_delta"} : (tensor<1x16x64xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>, tensor<1x16x1xf32>) -> (tensor<1x16x64xf32>, tensor<1x2x16x16xf32>)
  return %y, %st : tensor<1x16x64xf32>, tensor<1x2x16x16xf32>
}

/// The NaN / infinity tests (the dynamo exporter's attention guard).
// CHECK-LABEL: func.func @nan_inf_tests
func.func @nan_inf_tests(%x: tensor<2x4xf32>) -> (tensor<2x4xi1>, tensor<2x4xi1>) {
  // CHECK: onnx.IsNaN %{{.*}} : (tensor<2x4xf32>) -> tensor<2x4xi1>
  %0 = onnx.IsNaN %x : (tensor<2x4xf32>) -> tensor<2x4xi1>
  // CHECK: onnx.IsInf %{{.*}} {detect_negative = 0 : si64} :
  %1 = onnx.IsInf %x {detect_negative = 0 : si64} : (tensor<2x4xf32>) -> tensor<2x4xi1>
  return %0, %1 : tensor<2x4xi1>, tensor<2x4xi1>
}
