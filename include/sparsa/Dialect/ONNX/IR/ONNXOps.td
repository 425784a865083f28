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
def ONNX_NumericOrBoolTensor
    : TensorOf<[F16, BF16, F32, F64, I1, I8, I16, I32, I64, UI8, UI16, UI32, UI64]>;
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
def ONNX_PReluOp : ONNX_BinaryOp<"PRelu", "A < 0 ? B * A : A (B the slope)">;

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

def ONNX_ExpOp : ONNX_UnaryFloatOp<"Exp", "exp(X)">;
def ONNX_LogOp : ONNX_UnaryFloatOp<"Log", "log(X)">;
def ONNX_SqrtOp : ONNX_UnaryFloatOp<"Sqrt", "sqrt(X)">;
def ONNX_CosOp : ONNX_UnaryFloatOp<"Cos", "cos(X)">;
def ONNX_SinOp : ONNX_UnaryFloatOp<"Sin", "sin(X)">;
def ONNX_ReciprocalOp : ONNX_UnaryFloatOp<"Reciprocal", "1 / X">;
def ONNX_ErfOp : ONNX_UnaryFloatOp<"Erf", "erf(X)">;
def ONNX_FloorOp : ONNX_UnaryFloatOp<"Floor", "floor(X)">;
def ONNX_CeilOp : ONNX_UnaryFloatOp<"Ceil", "ceil(X)">;
def ONNX_RoundOp : ONNX_UnaryFloatOp<"Round", "X rounded to the nearest integer, halves to even">;
def ONNX_SoftplusOp : ONNX_UnaryFloatOp<"Softplus", "log(1 + exp(X))">;
def ONNX_SoftsignOp : ONNX_UnaryFloatOp<"Softsign", "X / (1 + |X|)">;
def ONNX_HardSwishOp : ONNX_UnaryFloatOp<"HardSwish", "X * max(0, min(1, X / 6 + 1 / 2))">;
def ONNX_MishOp : ONNX_UnaryFloatOp<"Mish", "X * tanh(log(1 + exp(X)))">;

def ONNX_HardSigmoidOp : ONNX_Op<"HardSigmoid", [Pure, AllTypesMatch<["X", "Y"]>]> {
  let summary = "ONNX HardSigmoid (opset 6): Y = max(0, min(1, alpha * X + beta))";
  let description = [{
    ```mlir
    %y = onnx.HardSigmoid %x {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32} : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X, DefaultValuedAttr<F32Attr, "0.2">:$alpha,
                   DefaultValuedAttr<F32Attr, "0.5">:$beta);
  let results = (outs ONNX_FloatTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

/// Element-wise op on any numeric type; the result has the input's type.
class ONNX_UnaryNumericOp<string mnemonic, string formula>
    : ONNX_Op<mnemonic, [Pure, AllTypesMatch<["X", "Y"]>]> {
  let summary = "ONNX " # mnemonic # " (opset 13): Y = " # formula;
  let description = [{
    Element-wise on float or integer tensors; the result has the type of
    the input.

    ```mlir
    %y = onnx.}] # mnemonic # [{ %x : (tensor<4xi64>) -> tensor<4xi64>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$X);
  let results = (outs ONNX_NumericTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_AbsOp : ONNX_UnaryNumericOp<"Abs", "|X|">;
def ONNX_NegOp : ONNX_UnaryNumericOp<"Neg", "-X">;
def ONNX_SignOp : ONNX_UnaryNumericOp<"Sign", "1, 0 or -1 by the sign of X (NaN stays NaN)">;

def ONNX_LeakyReluOp : ONNX_Op<"LeakyRelu", [Pure, AllTypesMatch<["X", "Y"]>]> {
  let summary = "ONNX LeakyRelu (opset 16): Y = X >= 0 ? X : alpha * X";
  let description = [{
    ```mlir
    %y = onnx.LeakyRelu %x {alpha = 1.000000e-01 : f32} : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X, DefaultValuedAttr<F32Attr, "0.01">:$alpha);
  let results = (outs ONNX_FloatTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_EluOp : ONNX_Op<"Elu", [Pure, AllTypesMatch<["X", "Y"]>]> {
  let summary = "ONNX Elu (opset 6): Y = X > 0 ? X : alpha * (exp(X) - 1)";
  let description = [{
    ```mlir
    %y = onnx.Elu %x : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X, DefaultValuedAttr<F32Attr, "1.0">:$alpha);
  let results = (outs ONNX_FloatTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_GeluOp : ONNX_Op<"Gelu", [Pure, AllTypesMatch<["X", "Y"]>]> {
  let summary = "ONNX Gelu (opset 20): exact (erf) or tanh approximation";
  let description = [{
    `approximate = "none"`: `0.5 * X * (1 + erf(X / sqrt(2)))`;
    `approximate = "tanh"`: `0.5 * X * (1 + tanh(sqrt(2 / pi) * (X + 0.044715 * X^3)))`.

    ```mlir
    %y = onnx.Gelu %x {approximate = "tanh"} : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X,
                   DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let results = (outs ONNX_FloatTensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_NotOp : ONNX_Op<"Not", [Pure, AllTypesMatch<["X", "Y"]>]> {
  let summary = "ONNX Not (opset 1): logical negation of a bool tensor";
  let description = [{
    ```mlir
    %y = onnx.Not %x : (tensor<4xi1>) -> tensor<4xi1>
    ```
  }];
  let arguments = (ins TensorOf<[I1]>:$X);
  let results = (outs TensorOf<[I1]>:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_IsNaNOp : ONNX_Op<"IsNaN", [Pure, SameOperandsAndResultShape]> {
  let summary = "ONNX IsNaN (opset 9-20): true where X is NaN";
  let description = [{
    The dynamo exporter writes it after every attention Softmax
    (`Where(IsNaN(p), 0, p)`: a fully masked row gives zeros).

    ```mlir
    %y = onnx.IsNaN %x : (tensor<4xf32>) -> tensor<4xi1>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X);
  let results = (outs TensorOf<[I1]>:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_IsInfOp : ONNX_Op<"IsInf", [Pure, SameOperandsAndResultShape]> {
  let summary = "ONNX IsInf (opset 10-20): true where X is an infinity";
  let description = [{
    `detect_positive` / `detect_negative` (both 1 by default) choose which
    infinities count.

    ```mlir
    %y = onnx.IsInf %x {detect_negative = 0 : si64} : (tensor<4xf32>) -> tensor<4xi1>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X,
                   DefaultValuedAttr<SI64Attr, "1">:$detect_negative,
                   DefaultValuedAttr<SI64Attr, "1">:$detect_positive);
  let results = (outs TensorOf<[I1]>:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_ClipOp : ONNX_Op<"Clip", [Pure, AttrSizedOperandSegments]> {
  let summary = "ONNX Clip (opset 13): min(max(input, min), max)";
  let description = [{
    `min` and `max` are optional scalar tensors; an absent bound does not
    clip. (Before opset 11 they were attributes; the importer turns them into
    constant operands.)

    ```mlir
    %y = onnx.Clip %x min = %lo max = %hi : (tensor<4xf32>, tensor<f32>, tensor<f32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$input, Optional<ONNX_NumericTensor>:$min,
                   Optional<ONNX_NumericTensor>:$max);
  let results = (outs ONNX_NumericTensor:$output);
  let assemblyFormat = "$input (`min` `=` $min^)? (`max` `=` $max^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// More binary ops: power, min/max, comparisons, logic, select
//===----------------------------------------------------------------------===//

def ONNX_PowOp : ONNX_Op<"Pow", [Pure]> {
  let summary = "ONNX Pow (opset 15): Z = X ^ Y, numpy broadcasting";
  let description = [{
    The exponent may have a different numeric type than the base; the
    result has the base's type.

    ```mlir
    %z = onnx.Pow %x, %y : (tensor<4xf32>, tensor<i64>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$X, ONNX_NumericTensor:$Y);
  let results = (outs ONNX_NumericTensor:$Z);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

class ONNX_VariadicOp<string mnemonic, string what>
    : ONNX_Op<mnemonic, [Pure]> {
  let summary = "ONNX " # mnemonic # " (opset 13): element-wise " # what #
                " of one or more inputs, numpy broadcasting";
  let description = [{
    ```mlir
    %y = onnx.}] # mnemonic # [{ %a, %b, %c : (tensor<3xf32>, tensor<1xf32>, tensor<3xf32>) -> tensor<3xf32>
    ```
  }];
  let arguments = (ins Variadic<ONNX_NumericTensor>:$data_0);
  let results = (outs ONNX_NumericTensor:$result);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_MaxOp : ONNX_VariadicOp<"Max", "maximum">;
def ONNX_MinOp : ONNX_VariadicOp<"Min", "minimum">;

class ONNX_CompareOp<string mnemonic, string formula>
    : ONNX_Op<mnemonic, [Pure]> {
  let summary = "ONNX " # mnemonic # " (opset 13): C = " # formula #
                ", a bool tensor, numpy broadcasting";
  let description = [{
    ```mlir
    %c = onnx.}] # mnemonic # [{ %a, %b : (tensor<3xf32>, tensor<f32>) -> tensor<3xi1>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$A, ONNX_AnyTensor:$B);
  let results = (outs TensorOf<[I1]>:$C);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_EqualOp : ONNX_CompareOp<"Equal", "A == B">;
def ONNX_GreaterOp : ONNX_CompareOp<"Greater", "A > B">;
def ONNX_GreaterOrEqualOp : ONNX_CompareOp<"GreaterOrEqual", "A >= B">;
def ONNX_LessOp : ONNX_CompareOp<"Less", "A < B">;
def ONNX_LessOrEqualOp : ONNX_CompareOp<"LessOrEqual", "A <= B">;
def ONNX_AndOp : ONNX_CompareOp<"And", "A && B">;
def ONNX_OrOp : ONNX_CompareOp<"Or", "A || B">;

def ONNX_WhereOp : ONNX_Op<"Where", [Pure]> {
  let summary = "ONNX Where (opset 16): output = condition ? X : Y, numpy broadcasting";
  let description = [{
    ```mlir
    %o = onnx.Where %c, %x, %y : (tensor<3xi1>, tensor<3xf32>, tensor<f32>) -> tensor<3xf32>
    ```
  }];
  let arguments = (ins TensorOf<[I1]>:$condition, ONNX_AnyTensor:$X, ONNX_AnyTensor:$Y);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

class ONNX_ReduceOp<string mnemonic, string what,
                    TypeConstraint elt = ONNX_NumericTensor>
    : ONNX_Op<mnemonic, [Pure]> {
  let summary = "ONNX " # mnemonic # " (opset 18): " # what # " over `axes`";
  let description = [{
    Reduces over the axes in the optional constant 1-D `axes` tensor (before
    opset 18 / 13 for ReduceSum an attribute: the importer turns it into an
    operand). Without axes, all dimensions are reduced unless
    `noop_with_empty_axes` = 1. `keepdims` keeps reduced dimensions as 1.
    The axes may also be a run-time value (any set of a rank <= 6 input).
    ReduceMax and ReduceMin accept bool (any / all), as opset 20 does.

    ```mlir
    %r = onnx.}] # mnemonic # [{ %x, %axes {keepdims = 0 : si64} : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<2xf32>
    ```
  }];
  let arguments = (ins elt:$data, Optional<ONNX_I64Tensor>:$axes,
                   DefaultValuedAttr<SI64Attr, "1">:$keepdims,
                   DefaultValuedAttr<SI64Attr, "0">:$noop_with_empty_axes);
  let results = (outs elt:$reduced);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_ReduceSumOp : ONNX_ReduceOp<"ReduceSum", "sum">;
def ONNX_ReduceMeanOp : ONNX_ReduceOp<"ReduceMean", "arithmetic mean">;
def ONNX_ReduceMaxOp : ONNX_ReduceOp<"ReduceMax", "maximum", ONNX_NumericOrBoolTensor>;
def ONNX_ReduceMinOp : ONNX_ReduceOp<"ReduceMin", "minimum", ONNX_NumericOrBoolTensor>;
def ONNX_ReduceProdOp : ONNX_ReduceOp<"ReduceProd", "product">;
def ONNX_ReduceL1Op : ONNX_ReduceOp<"ReduceL1", "sum of absolute values">;
def ONNX_ReduceL2Op : ONNX_ReduceOp<"ReduceL2", "square root of the sum of squares (torch.norm)">;
def ONNX_ReduceSumSquareOp : ONNX_ReduceOp<"ReduceSumSquare", "sum of squares">;
def ONNX_ReduceLogSumOp : ONNX_ReduceOp<"ReduceLogSum", "log of the sum">;
def ONNX_ReduceLogSumExpOp : ONNX_ReduceOp<"ReduceLogSumExp", "log of the sum of exponentials (max-shifted)">;

def ONNX_ArgMaxOp : ONNX_Op<"ArgMax", [Pure]> {
  let summary = "ONNX ArgMax (opset 13): index of the maximum along `axis`";
  let description = [{
    The first maximum's index, or the last with `select_last_index` = 1; an
    int64 tensor, the axis kept as 1 when `keepdims` = 1.

    ```mlir
    %i = onnx.ArgMax %x {axis = 1 : si64, keepdims = 0 : si64} : (tensor<2x8xf32>) -> tensor<2xi64>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$data, DefaultValuedAttr<SI64Attr, "0">:$axis,
                   DefaultValuedAttr<SI64Attr, "1">:$keepdims,
                   DefaultValuedAttr<SI64Attr, "0">:$select_last_index);
  let results = (outs ONNX_I64Tensor:$reduced);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_LogSoftmaxOp : ONNX_Op<"LogSoftmax", [Pure, AllTypesMatch<["input", "output"]>]> {
  let summary = "ONNX LogSoftmax (opset 13): log of Softmax along one axis";
  let description = [{
    `x - max - log(sum(exp(x - max)))` along `axis`.

    ```mlir
    %y = onnx.LogSoftmax %x : (tensor<2x8xf32>) -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$input, DefaultValuedAttr<SI64Attr, "-1">:$axis);
  let results = (outs ONNX_FloatTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_LayerNormalizationOp
    : ONNX_Op<"LayerNormalization", [Pure]> {
  let summary = "ONNX LayerNormalization (opset 17)";
  let description = [{
    Normalizes over the dimensions from `axis` on:
    `Y = (X - mean) / sqrt(var + epsilon) * Scale + B`. The optional results
    (`statistics`, zero to two of them) are the mean and the inverse standard
    deviation, in that order, with the normalized dimensions kept as 1.

    ```mlir
    %y = onnx.LayerNormalization %x, %scale, %bias {epsilon = 9.99999974E-6 : f32} : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X, ONNX_FloatTensor:$Scale,
                   Optional<ONNX_FloatTensor>:$B,
                   DefaultValuedAttr<SI64Attr, "-1">:$axis,
                   DefaultValuedAttr<F32Attr, "1e-05">:$epsilon,
                   DefaultValuedAttr<SI64Attr, "1">:$stash_type);
  let results = (outs ONNX_FloatTensor:$Y, Variadic<ONNX_FloatTensor>:$statistics);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The optional Mean and InvStdDev results (null when absent).
    ::mlir::Value getMean() {
      return getStatistics().size() > 0 ? getStatistics()[0] : ::mlir::Value();
    }
    ::mlir::Value getInvStdDev() {
      return getStatistics().size() > 1 ? getStatistics()[1] : ::mlir::Value();
    }
  }];
}

def ONNX_CumSumOp : ONNX_Op<"CumSum", [Pure]> {
  let summary = "ONNX CumSum (opset 14): cumulative sum along `axis`";
  let description = [{
    `axis` is a 0-D or 1-element integer tensor (constant). `exclusive`
    leaves out the current element, `reverse` sums from the end.

    ```mlir
    %y = onnx.CumSum %x, %axis : (tensor<2x8xf32>, tensor<i64>) -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$x, TensorOf<[I32, I64]>:$axis,
                   DefaultValuedAttr<SI64Attr, "0">:$exclusive,
                   DefaultValuedAttr<SI64Attr, "0">:$reverse);
  let results = (outs ONNX_NumericTensor:$y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_TriluOp : ONNX_Op<"Trilu", [Pure, AllTypesMatch<["input", "output"]>]> {
  let summary = "ONNX Trilu (opset 14): keep the upper or lower triangle of the last two dims";
  let description = [{
    Elements `[.., i, j]` with `j - i >= k` (`upper` = 1) or `j - i <= k`
    (`upper` = 0) are kept, the others are zero; `k` is an optional 0-D /
    1-element int64 tensor (0 when absent), read at run time.

    ```mlir
    %y = onnx.Trilu %x {upper = 0 : si64} : (tensor<2x8x8xf32>) -> tensor<2x8x8xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$input, Optional<ONNX_I64Tensor>:$k,
                   DefaultValuedAttr<SI64Attr, "1">:$upper);
  let results = (outs ONNX_AnyTensor:$output);
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
  // A cast to the type the input already has (`x.to(x.dtype)` in
  // PyTorch exports) folds away, so fusion sees through it.
  let hasFolder = 1;
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

def ONNX_FlattenOp : ONNX_Op<"Flatten", [Pure]> {
  let summary = "ONNX Flatten (opset 13): reshape to 2-D at `axis`";
  let description = [{
    ```mlir
    %y = onnx.Flatten %x {axis = 1 : si64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$input, DefaultValuedAttr<SI64Attr, "1">:$axis);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_ShapeOp : ONNX_Op<"Shape", [Pure]> {
  let summary = "ONNX Shape (opset 15): the input's dimensions [start, end) as int64";
  let description = [{
    ```mlir
    %s = onnx.Shape %x : (tensor<?x4xf32>) -> tensor<2xi64>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, DefaultValuedAttr<SI64Attr, "0">:$start,
                   OptionalAttr<SI64Attr>:$end);
  let results = (outs ONNX_I64Tensor:$shape);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_SizeOp : ONNX_Op<"Size", [Pure]> {
  let summary = "ONNX Size (opset 13): number of elements, an int64 scalar";
  let description = [{
    ```mlir
    %n = onnx.Size %x : (tensor<?x4xf32>) -> tensor<i64>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data);
  let results = (outs ONNX_I64Tensor:$size);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_ExpandOp : ONNX_Op<"Expand", [Pure]> {
  let summary = "ONNX Expand (opset 13): broadcast to a shape";
  let description = [{
    ```mlir
    %y = onnx.Expand %x, %shape : (tensor<3x1xf32>, tensor<2xi64>) -> tensor<3x4xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$input, ONNX_I64Tensor:$shape);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_TileOp : ONNX_Op<"Tile", [Pure]> {
  let summary = "ONNX Tile (opset 13): repeat along each dimension";
  let description = [{
    ```mlir
    %y = onnx.Tile %x, %repeats : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<4x3xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$input, ONNX_I64Tensor:$repeats);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_ConvOp : ONNX_Op<"Conv", [Pure]> {
  let summary = "ONNX Conv (opset 11): N-D grouped convolution (1-D, 2-D, 3-D)";
  let description = [{
    `X` `[N, C, D1, ...]`, weights `W` `[M, C / group, k1, ...]`, optional
    bias `B` `[M]`; `strides`, `dilations` (1 each by default),
    `kernel_shape` (W's when absent), `pads` `[b1, ..., e1, ...]` (0), or
    `auto_pad` `SAME_UPPER` / `SAME_LOWER` (the output size `ceil(D / s)`,
    the odd pad at the end / start) / `VALID` (no pads). Depthwise
    convolution is `group = C`.

    ```mlir
    %y = onnx.Conv %x, %w bias = %b {group = 4 : si64, pads = array<i64: 3, 0>} : (tensor<1x4x16xf32>, tensor<4x1x4xf32>, tensor<4xf32>) -> tensor<1x4x16xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$X, ONNX_FloatTensor:$W, Optional<ONNX_FloatTensor>:$B,
                   DefaultValuedAttr<StrAttr, "\"NOTSET\"">:$auto_pad,
                   OptionalAttr<DenseI64ArrayAttr>:$dilations,
                   DefaultValuedAttr<SI64Attr, "1">:$group,
                   OptionalAttr<DenseI64ArrayAttr>:$kernel_shape,
                   OptionalAttr<DenseI64ArrayAttr>:$pads,
                   OptionalAttr<DenseI64ArrayAttr>:$strides);
  let results = (outs ONNX_FloatTensor:$Y);
  let assemblyFormat = [{
    $X `,` $W (`bias` `=` $B^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The pads [b1, ..., e1, ...] for spatial input sizes |in| (auto_pad
    /// resolved; failure when SAME needs a size that is not static).
    ::mlir::FailureOr<::llvm::SmallVector<int64_t>> getResolvedPads(::llvm::ArrayRef<int64_t> in);
    ::llvm::SmallVector<int64_t> getStridesOr1();
    ::llvm::SmallVector<int64_t> getDilationsOr1();
  }];
}

def ONNX_PadOp : ONNX_Op<"Pad", [Pure, AttrSizedOperandSegments]> {
  let summary = "ONNX Pad (opset 19): pad (or, with negative pads, crop) each axis";
  let description = [{
    `pads` holds `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]` for the
    axes in the optional constant `axes` (all axes without it), known at run
    time; a negative pad removes elements. `mode` is `constant` (filled with
    `constant_value`, 0 without it), `reflect` (mirrored without repeating
    the edge), `edge` (the edge repeated) or `wrap` (the other end's
    elements).

    ```mlir
    %y = onnx.Pad %x, %pads value = %c {mode = "reflect"} : (tensor<2x4xf32>, tensor<4xi64>, tensor<f32>) -> tensor<2x7xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, ONNX_I64Tensor:$pads,
                   Optional<ONNX_AnyTensor>:$constant_value,
                   Optional<ONNX_I64Tensor>:$axes,
                   DefaultValuedAttr<StrAttr, "\"constant\"">:$mode);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = [{
    $data `,` $pads (`value` `=` $constant_value^)? (`axes` `=` $axes^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The padded axes, normalized: the constant axes, or all.
    ::mlir::FailureOr<::llvm::SmallVector<int64_t>> getPaddedAxes();
  }];
}

def ONNX_SliceOp : ONNX_Op<"Slice", [Pure, AttrSizedOperandSegments]> {
  let summary = "ONNX Slice (opset 13)";
  let description = [{
    `starts`, `ends`, optional `axes` and `steps` are 1-D integer tensors;
    negative values count from the end, out-of-range values are clamped,
    negative steps walk backwards.

    ```mlir
    %y = onnx.Slice %x, %starts, %ends : (tensor<8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, TensorOf<[I32, I64]>:$starts,
                   TensorOf<[I32, I64]>:$ends, Optional<TensorOf<[I32, I64]>>:$axes,
                   Optional<TensorOf<[I32, I64]>>:$steps);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = [{
    $data `,` $starts `,` $ends (`axes` `=` $axes^)? (`steps` `=` $steps^)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def ONNX_SplitOp : ONNX_Op<"Split", [Pure]> {
  let summary = "ONNX Split (opset 18): split along `axis`";
  let description = [{
    Sizes come from the optional constant `split` input (an attribute before
    opset 13), else the outputs are equal (the last one smaller when
    `num_outputs` does not divide the dimension).

    ```mlir
    %a, %b = onnx.Split %x {axis = 0 : si64} : (tensor<4xf32>) -> (tensor<2xf32>, tensor<2xf32>)
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$input, Optional<ONNX_I64Tensor>:$split,
                   DefaultValuedAttr<SI64Attr, "0">:$axis,
                   OptionalAttr<SI64Attr>:$num_outputs);
  let results = (outs Variadic<ONNX_AnyTensor>:$outputs);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_ConstantOfShapeOp : ONNX_Op<"ConstantOfShape", [Pure]> {
  let summary = "ONNX ConstantOfShape (opset 20): a tensor of the given shape filled with `value`";
  let description = [{
    ```mlir
    %y = onnx.ConstantOfShape %shape {value = dense<0.0> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<2x3xf32>
    ```
  }];
  let arguments = (ins ONNX_I64Tensor:$input, OptionalAttr<ElementsAttr>:$value);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_RangeOp : ONNX_Op<"Range", [Pure]> {
  let summary = "ONNX Range (opset 11): start, start + delta, ... up to limit";
  let description = [{
    ```mlir
    %y = onnx.Range %start, %limit, %delta : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<?xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$start, ONNX_NumericTensor:$limit,
                   ONNX_NumericTensor:$delta);
  let results = (outs ONNX_NumericTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_DropoutOp : ONNX_Op<"Dropout", [Pure]> {
  let summary = "ONNX Dropout (opset 13), inference mode: the identity";
  let description = [{
    Only inference is supported: the output is the input, and the optional
    mask is all true. The importer rejects `training_mode` = true.

    ```mlir
    %y = onnx.Dropout %x : (tensor<4xf32>) -> tensor<4xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data);
  let results = (outs ONNX_AnyTensor:$output, Optional<TensorOf<[I1]>>:$mask);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Indexing
//===----------------------------------------------------------------------===//

def ONNX_GatherOp : ONNX_Op<"Gather", [Pure]> {
  let summary = "ONNX Gather (opset 13): take slices of `data` along `axis` by `indices`";
  let description = [{
    Output shape: `data.shape[:axis] + indices.shape + data.shape[axis+1:]`.
    Negative indices count from the end.

    ```mlir
    %y = onnx.Gather %table, %ids {axis = 0 : si64} : (tensor<100x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, TensorOf<[I32, I64]>:$indices,
                   DefaultValuedAttr<SI64Attr, "0">:$axis);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_GatherElementsOp : ONNX_Op<"GatherElements", [Pure]> {
  let summary = "ONNX GatherElements (opset 13): element-wise gather along `axis`";
  let description = [{
    `output[i][j] = data[indices[i][j]][j]` for axis 0 (and likewise for
    other axes); output has the shape of `indices`.

    ```mlir
    %y = onnx.GatherElements %x, %i {axis = 1 : si64} : (tensor<2x8xf32>, tensor<2x3xi64>) -> tensor<2x3xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, TensorOf<[I32, I64]>:$indices,
                   DefaultValuedAttr<SI64Attr, "0">:$axis);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_OneHotOp : ONNX_Op<"OneHot", [Pure]> {
  let summary = "ONNX OneHot (opset 11)";
  let description = [{
    Inserts a dimension of size `depth` at `axis`: `values[1]` where the
    position equals the (non-negative-normalized) index, `values[0]`
    elsewhere.

    ```mlir
    %y = onnx.OneHot %i, %depth, %values {axis = -1 : si64} : (tensor<3xi64>, tensor<i64>, tensor<2xf32>) -> tensor<3x8xf32>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$indices, ONNX_NumericTensor:$depth,
                   ONNX_AnyTensor:$values, DefaultValuedAttr<SI64Attr, "-1">:$axis);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_TopKOp : ONNX_Op<"TopK", [Pure]> {
  let summary = "ONNX TopK (opset 11): the k largest (or smallest) along `axis`";
  let description = [{
    Returns values and int64 indices, sorted; ties keep the lower index
    first.

    ```mlir
    %v, %i = onnx.TopK %x, %k {axis = -1 : si64} : (tensor<2x8xf32>, tensor<1xi64>) -> (tensor<2x2xf32>, tensor<2x2xi64>)
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$X, ONNX_I64Tensor:$K,
                   DefaultValuedAttr<SI64Attr, "-1">:$axis,
                   DefaultValuedAttr<SI64Attr, "1">:$largest,
                   DefaultValuedAttr<SI64Attr, "1">:$sorted);
  let results = (outs ONNX_NumericTensor:$Values, ONNX_I64Tensor:$Indices);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_GatherNDOp : ONNX_Op<"GatherND", [Pure]> {
  let summary = "ONNX GatherND (opset 13): gather slices by index tuples";
  let description = [{
    The last dimension of `indices` (size k) holds index tuples into the
    dimensions `batch_dims ..< batch_dims + k` of `data`. Output shape:
    `indices.shape[:-1] + data.shape[batch_dims + k:]`.

    ```mlir
    %y = onnx.GatherND %x, %i : (tensor<2x2xf32>, tensor<2x2xi64>) -> tensor<2xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, ONNX_I64Tensor:$indices,
                   DefaultValuedAttr<SI64Attr, "0">:$batch_dims);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_ScatterElementsOp : ONNX_Op<"ScatterElements", [Pure]> {
  let summary = "ONNX ScatterElements (opset 18): element-wise scatter along `axis`";
  let description = [{
    A copy of `data` where, for every element of `updates`, the position
    with `axis` replaced by the matching element of `indices` receives the
    update, combined by `reduction` (`none`, `add`, `mul`, `max`, `min`).
    Updates apply in row-major order, so duplicates with `none` keep the
    last one. MoE exporters use `add` to combine expert outputs (form A).

    ```mlir
    %y = onnx.ScatterElements %x, %i, %u {axis = 0 : si64, reduction = "add"} : (tensor<8x4xf32>, tensor<2x4xi64>, tensor<2x4xf32>) -> tensor<8x4xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, TensorOf<[I32, I64]>:$indices,
                   ONNX_AnyTensor:$updates, DefaultValuedAttr<SI64Attr, "0">:$axis,
                   DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_ScatterNDOp : ONNX_Op<"ScatterND", [Pure]> {
  let summary = "ONNX ScatterND (opset 18): scatter slices by index tuples";
  let description = [{
    `indices` has shape `[..., k]`; each tuple addresses a slice
    `data[tuple]` of shape `data.shape[k:]` that receives the matching slice
    of `updates` (shape `indices.shape[:-1] + data.shape[k:]`), combined by
    `reduction` (`none`, `add`, `mul`, `max`, `min`).

    ```mlir
    %y = onnx.ScatterND %x, %i, %u : (tensor<8xf32>, tensor<2x1xi64>, tensor<2xf32>) -> tensor<8xf32>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$data, ONNX_I64Tensor:$indices,
                   ONNX_AnyTensor:$updates,
                   DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs ONNX_AnyTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_NonZeroOp : ONNX_Op<"NonZero", [Pure]> {
  let summary = "ONNX NonZero (opset 13): coordinates of the non-zero elements";
  let description = [{
    Output `[rank, count]` (int64), in row-major order; `count` is known
    only at run time.

    ```mlir
    %y = onnx.NonZero %x : (tensor<2x3xf32>) -> tensor<2x?xi64>
    ```
  }];
  let arguments = (ins ONNX_AnyTensor:$X);
  let results = (outs ONNX_I64Tensor:$Y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_EinsumOp : ONNX_Op<"Einsum", [Pure]> {
  let summary = "ONNX Einsum (opset 12): Einstein summation";
  let description = [{
    `equation` names each input's dimensions with letters (`...` for
    broadcast dimensions); the output keeps the letters after `->` (or,
    without `->`, the letters that appear once, in alphabetical order); all
    other letters are summed over. A letter repeated within one input takes
    the diagonal.

    ```mlir
    %y = onnx.Einsum %a, %b {equation = "bij,bjk->bik"} : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x5xf32>
    ```
  }];
  let arguments = (ins Variadic<ONNX_NumericTensor>:$Inputs, StrAttr:$equation);
  let results = (outs ONNX_NumericTensor:$Output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def ONNX_QuantizedTensor : TensorOf<[I<4>, UI<4>, I8, UI8, I16, UI16, I32]>;

def ONNX_QuantizeLinearOp : ONNX_Op<"QuantizeLinear", [Pure]> {
  let summary = "ONNX QuantizeLinear (opset 21)";
  let description = [{
    `y = saturate(round_half_even(x / y_scale) + y_zero_point)`. The scale
    (and zero point) is a scalar (per tensor), a 1-D tensor along `axis`
    (per axis), or, with `block_size` > 0, a tensor of `x`'s rank whose
    `axis` dimension is `ceil(x.shape[axis] / block_size)` (blocked). The
    result type is the zero point's (uint8 without one).

    ```mlir
    %q = onnx.QuantizeLinear %x, %s, %zp : (tensor<4x8xf32>, tensor<f32>, tensor<ui8>) -> tensor<4x8xui8>
    ```
  }];
  let arguments = (ins ONNX_NumericTensor:$x, ONNX_FloatTensor:$y_scale,
                   Optional<ONNX_QuantizedTensor>:$y_zero_point,
                   DefaultValuedAttr<SI64Attr, "1">:$axis,
                   DefaultValuedAttr<SI64Attr, "0">:$block_size,
                   DefaultValuedAttr<SI64Attr, "1">:$saturate);
  let results = (outs ONNX_QuantizedTensor:$y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_DequantizeLinearOp : ONNX_Op<"DequantizeLinear", [Pure]> {
  let summary = "ONNX DequantizeLinear (opset 21)";
  let description = [{
    `y = (x - x_zero_point) * x_scale`, with per-tensor, per-axis or blocked
    scales and zero points as for QuantizeLinear; the result has the scale's
    element type.

    ```mlir
    %w = onnx.DequantizeLinear %q, %s {axis = 0 : si64} : (tensor<64x32xi8>, tensor<64xf32>) -> tensor<64x32xf32>
    ```
  }];
  let arguments = (ins ONNX_QuantizedTensor:$x, ONNX_FloatTensor:$x_scale,
                   Optional<ONNX_QuantizedTensor>:$x_zero_point,
                   DefaultValuedAttr<SI64Attr, "1">:$axis,
                   DefaultValuedAttr<SI64Attr, "0">:$block_size);
  let results = (outs ONNX_FloatTensor:$y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def ONNX_DynamicQuantizeLinearOp : ONNX_Op<"DynamicQuantizeLinear", [Pure]> {
  let summary = "ONNX DynamicQuantizeLinear (opset 11): float to uint8 with computed scale";
  let description = [{
    `scale = (max(0, max(x)) - min(0, min(x))) / 255`,
    `zero_point = saturate(round(-min(0, min(x)) / scale))`,
    `y = saturate(round(x / scale) + zero_point)`.

    ```mlir
    %y, %s, %zp = onnx.DynamicQuantizeLinear %x : (tensor<4x8xf32>) -> (tensor<4x8xui8>, tensor<f32>, tensor<ui8>)
    ```
  }];
  let arguments = (ins TensorOf<[F32]>:$x);
  let results = (outs TensorOf<[UI8]>:$y, TensorOf<[F32]>:$y_scale,
                 TensorOf<[UI8]>:$y_zero_point);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def ONNX_MatMulIntegerOp
    : ONNX_Op<"MatMulInteger", [Pure, AttrSizedOperandSegments]> {
  let summary = "ONNX MatMulInteger (opset 10): 8-bit matmul with int32 result";
  let description = [{
    `(A - a_zero_point) @ (B - b_zero_point)` with numpy matmul semantics,
    accumulated in int32. `a_zero_point` is a scalar or per row of A,
    `b_zero_point` a scalar or per column of B.

    ```mlir
    %y = onnx.MatMulInteger %a, %b : (tensor<4x8xui8>, tensor<8x3xi8>) -> tensor<4x3xi32>
    ```
  }];
  let arguments = (ins TensorOf<[I8, UI8]>:$A, TensorOf<[I8, UI8]>:$B,
                   Optional<TensorOf<[I8, UI8]>>:$a_zero_point,
                   Optional<TensorOf<[I8, UI8]>>:$b_zero_point);
  let results = (outs TensorOf<[I32]>:$Y);
  let assemblyFormat = [{
    $A `,` $B (`a_zero_point` `=` $a_zero_point^)? (`b_zero_point` `=` $b_zero_point^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ONNX_QLinearMatMulOp : ONNX_Op<"QLinearMatMul", [Pure]> {
  let summary = "ONNX QLinearMatMul (opset 21): quantized matmul, quantized result";
  let description = [{
    `y = quantize((a - a_zp) * a_scale @ (b - b_zp) * b_scale, y_scale, y_zp)`:
    the products accumulate exactly in int32 and are rescaled once. Scales
    and zero points are scalars, or per row of `a` / per column of `b`.

    ```mlir
    %y = onnx.QLinearMatMul %a, %as, %azp, %b, %bs, %bzp, %ys, %yzp : (tensor<2x4xui8>, tensor<f32>, tensor<ui8>, tensor<4x3xui8>, tensor<f32>, tensor<ui8>, tensor<f32>, tensor<ui8>) -> tensor<2x3xui8>
    ```
  }];
  let arguments = (ins TensorOf<[I8, UI8]>:$a, ONNX_FloatTensor:$a_scale,
                   TensorOf<[I8, UI8]>:$a_zero_point, TensorOf<[I8, UI8]>:$b,
                   ONNX_FloatTensor:$b_scale, TensorOf<[I8, UI8]>:$b_zero_point,
                   ONNX_FloatTensor:$y_scale, TensorOf<[I8, UI8]>:$y_zero_point);
  let results = (outs TensorOf<[I8, UI8]>:$y);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// com.microsoft contrib ops (ONNX Runtime)
//===----------------------------------------------------------------------===//

def ONNX_MatMulNBitsOp
    : ONNX_Op<"ms.MatMulNBits", [Pure, AttrSizedOperandSegments]> {
  let summary = "com.microsoft MatMulNBits: matmul with block-quantized weights";
  let description = [{
    `Y = A @ W (+ bias)` with `W[k, n] = (q[n, k] - zp[n, k / block_size]) *
    scales[n, k / block_size]`. `B` is uint8 `[N, ceil(K / block_size),
    block_size * bits / 8]`, elements packed from the low bits up. `scales`
    is `[N, k_blocks]` (or flat). `zero_points` is packed uint8
    `[N, ceil(k_blocks * bits / 8)]` or of the scales' type `[N, k_blocks]`;
    without it the zero point is `2^(bits - 1)`.

    ```mlir
    %y = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 32 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<?x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$A, TensorOf<[UI8]>:$B, ONNX_FloatTensor:$scales,
                   Optional<TensorOf<[UI8, F16, BF16, F32]>>:$zero_points,
                   Optional<ONNX_FloatTensor>:$bias,
                   SI64Attr:$K, SI64Attr:$N,
                   DefaultValuedAttr<SI64Attr, "4">:$bits, SI64Attr:$block_size,
                   DefaultValuedAttr<SI64Attr, "0">:$accuracy_level);
  let results = (outs ONNX_FloatTensor:$Y);
  let assemblyFormat = [{
    $A `,` $B `,` $scales (`zero_points` `=` $zero_points^)? (`bias` `=` $bias^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ONNX_LinearAttentionOp
    : ONNX_Op<"LinearAttention", [Pure, AttrSizedOperandSegments]> {
  let summary = "ONNX LinearAttention (opset 27): linear, gated and delta update rules";
  let description = [{
    Causal linear attention as a recurrence over the packed `[B, T, H * d]`
    layout, per key / value head, with `S_0` = `past_state`
    `[B, Hkv, dk, dv]` (zeros when absent) and `present_state` = `S_T`:

    - `linear`: `S_t = S_{t-1} + k_t v_t^T`;
    - `gated`: `S_t = exp(g_t) S_{t-1} + k_t v_t^T`;
    - `delta`: `S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T`;
    - `gated_delta`: `S' = exp(g_t) S_{t-1}`,
      `S_t = S' + beta_t k_t (v_t - S'^T k_t)^T`;

    and `o_t = scale * q_t^T S_t`, query head `h` reading key / value head
    `h / (q_num_heads / kv_num_heads)`. `decay` (`g`, log space) is
    `[B, T, Hkv]` (one per head) or `[B, T, Hkv * dk]` (one per key dim);
    `beta` is `[B, T, Hkv]` or `[B, T, 1]`. The gated rules take `decay`,
    the delta rules `beta`, and the others neither. `scale` 0 means
    `1 / sqrt(dk)`. `update_rule` defaults to `linear` here; ONNX's default
    is `gated_delta`, and the importer always writes the node's rule.

    ```mlir
    %y, %s = onnx.LinearAttention %q, %k, %v {q_num_heads = 4 : si64, kv_num_heads = 2 : si64} : (tensor<1x16x64xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>) -> (tensor<1x16x64xf32>, tensor<1x2x16x16xf32>)
    %y2, %s2 = onnx.LinearAttention %q, %k, %v decay = %g beta = %b {q_num_heads = 4 : si64, kv_num_heads = 2 : si64, update_rule = "gated_delta"} : (tensor<1x16x64xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>, tensor<1x16x2xf32>, tensor<1x16x2xf32>) -> (tensor<1x16x64xf32>, tensor<1x2x16x16xf32>)
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$query, ONNX_FloatTensor:$key,
                   ONNX_FloatTensor:$value, Optional<ONNX_FloatTensor>:$past_state,
                   Optional<ONNX_FloatTensor>:$decay, Optional<ONNX_FloatTensor>:$beta,
                   SI64Attr:$q_num_heads, SI64Attr:$kv_num_heads,
                   DefaultValuedAttr<F32Attr, "0.0">:$scale,
                   OptionalAttr<SI64Attr>:$chunk_size,
                   DefaultValuedAttr<StrAttr, "\"linear\"">:$update_rule);
  let results = (outs ONNX_FloatTensor:$output, ONNX_FloatTensor:$present_state);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`past` `=` $past_state^)? (`decay` `=` $decay^)?
    (`beta` `=` $beta^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ONNX_MoEOp : ONNX_Op<"ms.MoE", [Pure, AttrSizedOperandSegments]> {
  let summary = "com.microsoft MoE: mixture of experts (ONNX Runtime's CPU semantics)";
  let description = [{
    Per token: softmax over `router_probs` (logits, `[T, E]`), the `k` best
    experts (ties to the lower index), their weights renormalized when
    `normalize_routing_weights`; each chosen expert computes
    `fc2(act(fc1(x)))` with weights `[E, out, in]` (torch Linear rows) and
    optional biases `[E, out]`; the outputs are summed with the routing
    weights. `activation_type` is `relu`, `gelu` (tanh approximation),
    `silu`, `identity` or `swiglu` (`swiglu_fusion` 1: gate and linear rows
    interleaved in fc1; 2: concatenated; 0: the linear part is fc3).
    `input` is `[T, H]` or `[B, S, H]`.

    ```mlir
    %y = onnx.ms.MoE %x, %r, %w1, %w2 {activation_type = "silu", k = 2 : si64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x64xf32>, tensor<8x64x128xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$input, ONNX_FloatTensor:$router_probs,
                   ONNX_FloatTensor:$fc1_experts_weights,
                   ONNX_FloatTensor:$fc2_experts_weights,
                   Optional<ONNX_FloatTensor>:$fc1_experts_bias,
                   Optional<ONNX_FloatTensor>:$fc2_experts_bias,
                   Optional<ONNX_FloatTensor>:$fc3_experts_weights,
                   Optional<ONNX_FloatTensor>:$fc3_experts_bias,
                   DefaultValuedAttr<SI64Attr, "1">:$k,
                   DefaultValuedStrAttr<StrAttr, "relu">:$activation_type,
                   DefaultValuedAttr<SI64Attr, "0">:$normalize_routing_weights,
                   DefaultValuedAttr<SI64Attr, "0">:$swiglu_fusion,
                   DefaultValuedAttr<F32Attr, "1.0">:$activation_alpha,
                   DefaultValuedAttr<F32Attr, "0.0">:$activation_beta,
                   OptionalAttr<F32Attr>:$swiglu_limit);
  let results = (outs ONNX_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $router_probs `,` $fc1_experts_weights `,` $fc2_experts_weights
    (`fc1_bias` `=` $fc1_experts_bias^)? (`fc2_bias` `=` $fc2_experts_bias^)?
    (`fc3` `=` $fc3_experts_weights^)? (`fc3_bias` `=` $fc3_experts_bias^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def ONNX_QMoEOp : ONNX_Op<"ms.QMoE", [Pure, AttrSizedOperandSegments]> {
  let summary = "com.microsoft QMoE: mixture of experts with integer-quantized weights";
  let description = [{
    `ms.MoE` whose expert weights are uint8 `[E, out, in * bits / 8]`
    (`expert_weight_bits` 2, 4 or 8, low bits first, raw layout:
    `weights_prepacked` = 0), dequantized as `(q - zero_point) * scale` with
    per-row scales `[E, out]` or, with `block_size`, block scales
    `[E, out, in / block_size]`; zero points are packed like the weights
    (default `2^(bits - 1)`).

    ```mlir
    %y = onnx.ms.QMoE %x, %r, %w1, %s1, %w2, %s2 {activation_type = "silu", expert_weight_bits = 4 : si64, k = 2 : si64} : (tensor<?x64xf32>, tensor<?x8xf32>, tensor<8x128x32xui8>, tensor<8x128xf32>, tensor<8x64x64xui8>, tensor<8x64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins ONNX_FloatTensor:$input, ONNX_FloatTensor:$router_probs,
                   TensorOf<[UI8]>:$fc1_experts_weights, ONNX_FloatTensor:$fc1_scales,
                   TensorOf<[UI8]>:$fc2_experts_weights, ONNX_FloatTensor:$fc2_scales,
                   Optional<ONNX_FloatTensor>:$fc1_experts_bias,
                   Optional<ONNX_FloatTensor>:$fc2_experts_bias,
                   Optional<TensorOf<[UI8]>>:$fc3_experts_weights,
                   Optional<ONNX_FloatTensor>:$fc3_scales,
                   Optional<ONNX_FloatTensor>:$fc3_experts_bias,
                   Optional<TensorOf<[UI8]>>:$fc1_zero_points,
                   Optional<TensorOf<[UI8]>>:$fc2_zero_points,
                   Optional<TensorOf<[UI8]>>:$fc3_zero_points,
                   DefaultValuedAttr<SI64Attr, "1">:$k,
                   DefaultValuedStrAttr<StrAttr, "relu">:$activation_type,
                   DefaultValuedAttr<SI64Attr, "0">:$normalize_routing_weights,
                   DefaultValuedAttr<SI64Attr, "0">:$swiglu_fusion,
                   DefaultValuedAttr<F32Attr, "1.0">:$activation_alpha,
                   DefaultValuedAttr<F32Attr, "0.0">:$activation_beta,
                   OptionalAttr<F32Attr>:$swiglu_limit,
                   DefaultValuedAttr<SI64Attr, "4">:$expert_weight_bits,
                   DefaultValuedAttr<SI64Attr, "0">:$block_size);
  let results = (outs ONNX_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $router_probs `,` $fc1_experts_weights `,` $fc1_scales `,`
    $fc2_experts_weights `,` $fc2_scales
    (`fc1_bias` `=` $fc1_experts_bias^)? (`fc2_bias` `=` $fc2_experts_bias^)?
    (`fc3` `=` $fc3_experts_weights^)? (`fc3_scales` `=` $fc3_scales^)?
    (`fc3_bias` `=` $fc3_experts_bias^)? (`fc1_zero_points` `=` $fc1_zero_points^)?
    (`fc2_zero_points` `=` $fc2_zero_points^)? (`fc3_zero_points` `=` $fc3_zero_points^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // SPARSA_DIALECT_ONNX_IR_ONNXOPS_TD
