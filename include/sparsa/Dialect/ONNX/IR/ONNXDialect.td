//===- ONNXDialect.td - ONNX dialect declaration -----------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The `onnx` dialect mirrors ONNX operators one to one. The importer produces
// it; fusion passes rewrite parts of it into `sparsa` ops; the ONNXToLinalg
// conversion lowers what is left to upstream dialects.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_DIALECT_ONNX_IR_ONNXDIALECT_TD
#define SPARSA_DIALECT_ONNX_IR_ONNXDIALECT_TD

include "mlir/IR/OpBase.td"

def ONNX_Dialect : Dialect {
  let name = "onnx";
  let summary = "Typed mirror of the ONNX operator set";
  let description = [{
    Every op in this dialect corresponds to one ONNX operator of the default
    domain (opsets 13 and later), with the same operand order, attribute names
    and defaults. Results carry the types ONNX shape inference derived at
    import; dynamic dimensions are `?`. Each op's location is the ONNX node
    name, so diagnostics can name the node.
  }];
  let cppNamespace = "::sparsa::onnx";
  let hasConstantMaterializer = 0;
}

/// Base class of every `onnx` op.
class ONNX_Op<string mnemonic, list<Trait> traits = []>
    : Op<ONNX_Dialect, mnemonic, traits>;

#endif // SPARSA_DIALECT_ONNX_IR_ONNXDIALECT_TD
