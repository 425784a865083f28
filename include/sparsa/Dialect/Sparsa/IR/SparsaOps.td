//===- SparsaOps.td - Sparsa fused-op dialect --------------*- tablegen -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The `sparsa` dialect holds the canonical fused ops that the four fusion
// families (routing, activation sparsity, quantization, flow attention)
// produce. The ops themselves arrive with the issues that add each family;
// this file declares the dialect so passes and tools can depend on it now.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_DIALECT_SPARSA_IR_SPARSAOPS_TD
#define SPARSA_DIALECT_SPARSA_IR_SPARSAOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Sparsa_Dialect : Dialect {
  let name = "sparsa";
  let summary = "Canonical fused ops for sparse-activation models";
  let description = [{
    Each op in this dialect is the single canonical form of one sparse
    pattern, whatever way an exporter wrote it. Its lowering skips the
    inactive work (unselected experts, inactive neurons, packed weights that
    stay packed, linear-time attention state).
  }];
  let cppNamespace = "::sparsa::sparsa";
}

/// Base class of every `sparsa` op.
class Sparsa_Op<string mnemonic, list<Trait> traits = []>
    : Op<Sparsa_Dialect, mnemonic, traits>;

#endif // SPARSA_DIALECT_SPARSA_IR_SPARSAOPS_TD
