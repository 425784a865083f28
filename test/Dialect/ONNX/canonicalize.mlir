// RUN: sparsa-opt %s --split-input-file --canonicalize | FileCheck %s

/// onnx.Identity folds to its input when the types agree.

// CHECK-LABEL: func.func @fold_identity
// CHECK-SAME: %[[X:.+]]: tensor<4xf32>
// CHECK-NOT: onnx.Identity
// CHECK: return %[[X]]
func.func @fold_identity(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = onnx.Identity %x : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

/// An Identity that refines the type (? -> 4) must stay: folding would
/// change the result type.

// CHECK-LABEL: func.func @no_fold_identity_refining_type
// CHECK: onnx.Identity
func.func @no_fold_identity_refining_type(%x: tensor<?xf32>) -> tensor<4xf32> {
  %0 = onnx.Identity %x : (tensor<?xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

/// Constants are pure: unused ones disappear, used ones stay.

// CHECK-LABEL: func.func @dead_constant
// CHECK-NOT: dense<2.0
// CHECK: onnx.Constant {value = dense<1.000000e+00> : tensor<2xf32>}
func.func @dead_constant() -> tensor<2xf32> {
  %0 = onnx.Constant {value = dense<1.0> : tensor<2xf32>} : () -> tensor<2xf32>
  %1 = onnx.Constant {value = dense<2.0> : tensor<2xf32>} : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

/// Canonicalization does not move weight data: transposing a constant is
/// sparsa-prepack-weights' decision, not a fold.

// CHECK-LABEL: func.func @no_fold_transpose_of_constant
// CHECK: onnx.Transpose
func.func @no_fold_transpose_of_constant() -> tensor<2x1xf32> {
  %0 = onnx.Constant {value = dense<[[1.0, 2.0]]> : tensor<1x2xf32>} : () -> tensor<1x2xf32>
  %1 = onnx.Transpose %0 {perm = array<i64: 1, 0>} : (tensor<1x2xf32>) -> tensor<2x1xf32>
  return %1 : tensor<2x1xf32>
}

// -----

/// A Cast to the type the value already has (torch's `x.to(x.dtype)`)
/// folds; a real conversion stays.
// CHECK-LABEL: func.func @same_type_cast
// CHECK-NEXT: %[[C:.+]] = onnx.Cast %arg0 {to = 7 : si64}
// CHECK-NEXT: return %arg0, %[[C]]
func.func @same_type_cast(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xi64>) {
  %0 = onnx.Cast %x {to = 1 : si64} : (tensor<4xf32>) -> tensor<4xf32>
  %1 = onnx.Cast %x {to = 7 : si64} : (tensor<4xf32>) -> tensor<4xi64>
  return %0, %1 : tensor<4xf32>, tensor<4xi64>
}
