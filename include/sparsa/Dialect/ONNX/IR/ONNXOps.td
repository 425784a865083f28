//===- ONNXOps.td - ONNX operator definitions --------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Operators of the ONNX default domain that Sparsa imports. Semantics follow
// the ONNX operator specification of the opset noted in each description.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_DIALECT_ONNX_IR_ONNXOPS_TD
#define SPARSA_DIALECT_ONNX_IR_ONNXOPS_TD

include "sparsa/Dialect/ONNX/IR/ONNXDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def ONNX_FloatTensor : TensorOf<[F16, BF16, F32, F64]>;
def ONNX_NumericTensor
    : TensorOf<[F16, BF16, F32, F64, I8, I16, I32, I64, UI8, UI16, UI32, UI64]>;
def ONNX_AnyTensor : TensorOf<[AnyType]>;
def ONNX_I64Tensor : TensorOf<[I64]>;

//===----------------------------------------------------------------------===//
// Constant / Identity
//===----------------------------------------------------------------------===//

def ONNX_ConstantOp : ONNX_Op<"Constant", [Pure, ConstantLike]> {
  let summary = "ONNX Constant (also every graph initializer)";
  let description = [{
    A constant tensor. The importer turns every initializer and every
    `Constant` node into this op; weights are `dense_resource` blobs so the IR
    never holds them as text.

    ```mlir
    %w = onnx.Constant {value = dense_resource<fc1.weight> : tensor<4x8xf32>} : () -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def ONNX_IdentityOp : ONNX_Op<"Identity", [Pure]> {
  let summary = "ONNX Identity (opset 13)";
  let description = [{
    Returns its input unchanged.

    ```mlir
    %y = onnx.Identity %x : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$input);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

def ONNX_MatMulOp : ONNX_Op<"MatMul", [Pure]> {
  let summary = "ONNX MatMul (opset 13), numpy matmul semantics";
  let description = [{
    Matrix product with numpy semantics: rank-1 operands are promoted, leading
    dimensions broadcast.

    ```mlir
    %y = onnx.MatMul %x, %w : (tensor<?x4096xf32>, tensor<4096x1024xf32>) -> tensor<?x1024xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$A, ONNX_NumericTensor:$B);
  let results = (outs ONNX_NumericTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_GemmOp : ONNX_Op<"Gemm", [Pure]> {
  let summary = "ONNX Gemm (opset 13): Y = alpha * op(A) * op(B) + beta * C";
  let description = [{
    General matrix multiply on rank-2 operands, `op` transposing when
    `transA` / `transB` is 1. `C` is optional and unidirectionally broadcast.

    ```mlir
    %y = onnx.Gemm %x, %w, %b {transB = 1 : si64} : (tensor<1x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<1x32xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$A, ONNX_NumericTensor:$B,
                   Optional<ONNX_NumericTensor>:$C,
                   DefaultValuedAttr<F32Attr, "1.0">:$alpha,
                   DefaultValuedAttr<F32Attr, "1.0">:$beta,
                   DefaultValuedAttr<SI64Attr, "0">:$transA,
                   DefaultValuedAttr<SI64Attr, "0">:$transB);
  let results = (outs ONNX_NumericTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Element-wise binary ops (multidirectional broadcasting)
//===----------------------------------------------------------------------===//

class ONNX_BinaryOp<string mnemonic, string formula>
    : ONNX_Op<mnemonic, [Pure]> {
  let summary = "ONNX " # mnemonic # " (opset 14): C = " # formula #
                ", numpy broadcasting";
  let description = [{
    Element-wise binary op with multidirectional (numpy) broadcasting. Both
    operands have the same element type.

    ```mlir
    %c = onnx.}] # mnemonic # [{ %a, %b : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$A, ONNX_NumericTensor:$B);
  let results = (outs ONNX_NumericTensor:$C);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_AddOp : ONNX_BinaryOp<"Add", "A + B">;
def ONNX_SubOp : ONNX_BinaryOp<"Sub", "A - B">;
def ONNX_MulOp : ONNX_BinaryOp<"Mul", "A * B">;
def ONNX_DivOp : ONNX_BinaryOp<"Div", "A / B">;

//===----------------------------------------------------------------------===//
// Element-wise unary activations
//===----------------------------------------------------------------------===//

class ONNX_UnaryFloatOp<string mnemonic, string formula>
    : ONNX_Op<mnemonic, [Pure, AllTypesMatch<["X", "Y"]>]> {
  let summary = "ONNX " # mnemonic # " (opset 13): Y = " # formula;
  let description = [{
    Element-wise activation; the result has the type of the input.

    ```mlir
    %y = onnx.}] # mnemonic # [{ %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X);
  let results = (outs ONNX_FloatTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_ReluOp : ONNX_UnaryFloatOp<"Relu", "max(X, 0)">;
def ONNX_SigmoidOp : ONNX_UnaryFloatOp<"Sigmoid", "1 / (1 + exp(-X))">;
def ONNX_TanhOp : ONNX_UnaryFloatOp<"Tanh", "tanh(X)">;

def ONNX_SoftmaxOp : ONNX_Op<"Softmax", [Pure, AllTypesMatch<["input", "output"]>]> {
  let summary = "ONNX Softmax (opset 13): normalized exponential along one axis";
  let description = [{
    `exp(x - max) / sum(exp(x - max))` along `axis` (opset 13 semantics: one
    axis, not the flattened trailing block of opsets 1-12; the importer
    rejects older semantics it cannot express).

    ```mlir
    %y = onnx.Softmax %x {axis = -1 : si64} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$input,
                   DefaultValuedAttr<SI64Attr, "-1">:$axis);
  let results = (outs ONNX_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

def ONNX_ReshapeOp : ONNX_Op<"Reshape", [Pure]> {
  let summary = "ONNX Reshape (opset 14)";
  let description = [{
    Reshapes `data` to the shape held in the 1-D `shape` tensor: 0 copies the
    input dimension (unless `allowzero` = 1), -1 is inferred.

    ```mlir
    %y = onnx.Reshape %x, %shape : (tensor<2x8xf32>, tensor<2xi64>) -> tensor<4x4xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, ONNX_I64Tensor:$shape,
                   DefaultValuedAttr<SI64Attr, "0">:$allowzero);
  let results = (outs ONNX_AnyTensor:$reshaped);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_TransposeOp : ONNX_Op<"Transpose", [Pure]> {
  let summary = "ONNX Transpose (opset 13)";
  let description = [{
    Permutes dimensions: output dimension `i` is input dimension `perm[i]`.
    Without `perm` the dimensions are reversed.

    ```mlir
    %y = onnx.Transpose %x {perm = array<i64: 1, 0>} : (tensor<2x8xf32>) -> tensor<8x2xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data,
                   OptionalAttr<DenseI64ArrayAttr>:$perm);
  let results = (outs ONNX_AnyTensor:$transposed);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The permutation, with ONNX's default (reverse) filled in.
    ::llvm::SmallVector<int64_t> getPermutation();
  }];
}

def ONNX_CastOp : ONNX_Op<"Cast", [Pure]> {
  let summary = "ONNX Cast (opset 13)";
  let description = [{
    Converts element type to the ONNX data type `to` (a TensorProto.DataType
    number: 1 float, 6 int32, 7 int64, 9 bool, 10 float16, ...).

    ```mlir
    %y = onnx.Cast %x {to = 7 : si64} : (tensor<4xf32>) -> tensor<4xi64>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$input, SI64Attr:$to,
                   DefaultValuedAttr<SI64Attr, "1">:$saturate);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_UnsqueezeOp : ONNX_Op<"Unsqueeze", [Pure]> {
  let summary = "ONNX Unsqueeze (opset 13): insert size-1 dimensions";
  let description = [{
    Inserts size-1 dimensions at the output positions in the constant 1-D
    `axes` tensor (negative values count from the end of the output).

    ```mlir
    %y = onnx.Unsqueeze %x, %axes : (tensor<8xf32>, tensor<1xi64>) -> tensor<1x8xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, ONNX_I64Tensor:$axes);
  let results = (outs ONNX_AnyTensor:$expanded);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_SqueezeOp : ONNX_Op<"Squeeze", [Pure]> {
  let summary = "ONNX Squeeze (opset 13): remove size-1 dimensions";
  let description = [{
    Removes the size-1 dimensions listed in the optional constant 1-D `axes`
    tensor, or every static size-1 dimension when `axes` is absent.

    ```mlir
    %y = onnx.Squeeze %x, %axes : (tensor<1x8xf32>, tensor<1xi64>) -> tensor<8xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, Optional<ONNX_I64Tensor>:$axes);
  let results = (outs ONNX_AnyTensor:$squeezed);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_ConcatOp : ONNX_Op<"Concat", [Pure]> {
  let summary = "ONNX Concat (opset 13)";
  let description = [{
    Concatenates tensors of equal rank along `axis`; all other dimensions
    must agree.

    ```mlir
    %y = onnx.Concat %a, %b {axis = 1 : si64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins Variadic<ONNX_AnyTensor>:$inputs, SI64Attr:$axis);
  let results = (outs ONNX_AnyTensor:$concat_result);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

#endif // SPARSA_DIALECT_ONNX_IR_ONNXOPS_TD
