// RUN: sparsa-opt %s --sparsa-set-target | FileCheck %s --check-prefix=CPU
// RUN: sparsa-opt %s --sparsa-set-target="row-tasks=1" | FileCheck %s --check-prefix=ONE
// RUN: sparsa-opt %s --sparsa-set-target="int8-matrices=true" | FileCheck %s --check-prefix=VNNI
// RUN: sparsa-opt %s --sparsa-set-target="target=cuda chip=sm_90" | FileCheck %s --check-prefix=CUDA
// RUN: not sparsa-opt %s --sparsa-set-target="target=tpu" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not sparsa-opt %s --sparsa-set-target="row-tasks=0" 2>&1 | FileCheck %s --check-prefix=ZERO

/// The pipelines record their target on the module (an earlier one is
/// replaced); convert-onnx-to-linalg reads it.

// CPU: module attributes {sparsa.target = #sparsa.cpu<>}
// ONE: module attributes {sparsa.target = #sparsa.cpu<row_tasks = 1>}
// VNNI: module attributes {sparsa.target = #sparsa.cpu<int8_matrices = true>}
// CUDA: module attributes {sparsa.target = #sparsa.cuda<chip = "sm_90">}
// BAD: error: sparsa-set-target: unknown target 'tpu' (expected cpu or cuda)
// ZERO: error: row_tasks must be at least 1, got 0
module attributes {sparsa.target = #sparsa.cuda<chip = "sm_80">} {
  func.func @f() {
    return
  }
}
