//===- SparsaDialect.cpp - Sparsa dialect registration ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// Registers the `sparsa` dialect and its (family-specific) ops.
//
//===----------------------------------------------------------------------===//

#include "sparsa/Dialect/Sparsa/IR/SparsaDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace sparsa::sparsa;

#include "sparsa/Dialect/Sparsa/IR/SparsaOpsDialect.cpp.inc"

void SparsaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "sparsa/Dialect/Sparsa/IR/SparsaOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "sparsa/Dialect/Sparsa/IR/SparsaOps.cpp.inc"
