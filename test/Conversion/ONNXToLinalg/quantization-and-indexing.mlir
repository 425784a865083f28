// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg | FileCheck %s

/// Reference lowerings of quantization and scatter/einsum ops.

/// [Pattern: blocked DequantizeLinear] the scale of element (i, j) is
/// scale[i, j floordiv block_size], read in the same generic.
// CHECK-LABEL: func.func @dequantize_blocked
// CHECK: linalg.generic
// CHECK: arith.sitofp %{{.+}} : i8 to f32
// CHECK: %[[J:.+]] = linalg.index 1
// CHECK: %[[B:.+]] = arith.divui %[[J]], %c4
// CHECK: tensor.extract %{{.+}}[%{{.+}}, %[[B]]] : tensor<4x2xf32>
// CHECK: arith.mulf
func.func @dequantize_blocked(%q: tensor<4x8xi8>, %s: tensor<4x2xf32>) -> tensor<4x8xf32> {
  %0 = onnx.DequantizeLinear %q, %s {block_size = 4 : si64} : (tensor<4x8xi8>, tensor<4x2xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

/// [Pattern: QuantizeLinear to uint8] round half to even, add the zero
/// point, saturate to [0, 255]; uint8 becomes signless i8 with unsigned
/// conversions.
// CHECK-LABEL: func.func @quantize_u8
// CHECK-SAME: -> tensor<4xi8>
// CHECK: arith.divf
// CHECK: arith.uitofp %{{.+}} : i8 to f32
// CHECK: math.roundeven
// CHECK: arith.addf
// CHECK: arith.maxnumf %{{.+}}, %cst
// CHECK: arith.minnumf
// CHECK: arith.fptoui %{{.+}} : f32 to i8
func.func @quantize_u8(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<ui8>) -> tensor<4xui8> {
  %0 = onnx.QuantizeLinear %x, %s, %z : (tensor<4xf32>, tensor<f32>, tensor<ui8>) -> tensor<4xui8>
  return %0 : tensor<4xui8>
}

// -----

/// [Pattern: ScatterElements add] updates apply in row-major order through
/// a loop nest threading the output tensor; indices are wrapped and clamped.
// CHECK-LABEL: func.func @scatter_add
// CHECK: scf.for {{.+}} iter_args(%{{.+}} = %arg0)
// CHECK: scf.for
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[OLD:.+]] = tensor.extract %{{.+}} : tensor<8x4xf32>
// CHECK: arith.addf %[[OLD]]
// CHECK: tensor.insert
func.func @scatter_add(%x: tensor<8x4xf32>, %i: tensor<2x4xi64>, %u: tensor<2x4xf32>) -> tensor<8x4xf32> {
  %0 = onnx.ScatterElements %x, %i, %u {reduction = "add"} : (tensor<8x4xf32>, tensor<2x4xi64>, tensor<2x4xf32>) -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

/// [Pattern: Einsum] one generic: output letters parallel, the rest reduced.
// CHECK-LABEL: func.func @einsum
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #{{.+}}, #{{.+}}], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @einsum(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  %0 = onnx.Einsum %a, %b {equation = "bij,bjk->bik"} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}
