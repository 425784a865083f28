//===- FuzzCommon.h - Shared pieces of the fuzz targets ---------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//
//
// The context set-up and the oracle every compiler-side fuzz target shares:
// an input may be rejected, but only with an error diagnostic; a failure
// without one is a finding (abort), as is a module that does not verify.
//
//===----------------------------------------------------------------------===//

#ifndef SPARSA_FUZZ_FUZZCOMMON_H
#define SPARSA_FUZZ_FUZZCOMMON_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdio>
#include <cstdlib>

namespace sparsa::fuzz {

/// Every dialect sparsa-compile registers.
const mlir::DialectRegistry &registry();

/// A context for one input: single-threaded, diagnostics counted and
/// dropped (set SPARSA_FUZZ_VERBOSE=1 to print them).
class FuzzContext {
public:
  FuzzContext();
  mlir::MLIRContext ctx;
  int errors = 0;

private:
  mlir::ScopedDiagnosticHandler handler;
};

/// Aborts with |what| (libFuzzer records the input as a crash).
[[noreturn]] inline void finding(const char *what) {
  std::fprintf(stderr, "sparsa-fuzz finding: %s\n", what);
  std::abort();
}

} // namespace sparsa::fuzz

#endif // SPARSA_FUZZ_FUZZCOMMON_H
