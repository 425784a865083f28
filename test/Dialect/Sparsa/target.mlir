// RUN: sparsa-opt %s --split-input-file | sparsa-opt --split-input-file | FileCheck %s
// RUN: sparsa-opt %s --split-input-file --verify-diagnostics --mlir-print-op-generic -o /dev/null

/// The targets the lowerings shared by the pipelines ask through
/// TargetInfoAttrInterface: parameters round-trip, defaults print empty.

// CHECK: module attributes {sparsa.target = #sparsa.cpu<row_tasks = 4>}
module attributes {sparsa.target = #sparsa.cpu<row_tasks = 4>} {}

// -----

// CHECK: module attributes {sparsa.target = #sparsa.cpu<>}
module attributes {sparsa.target = #sparsa.cpu<row_tasks = 2>} {}

// -----

// CHECK: module attributes {sparsa.target = #sparsa.cuda<chip = "sm_90">}
module attributes {sparsa.target = #sparsa.cuda<chip = "sm_90">} {}

// -----

// CHECK: module attributes {sparsa.target = #sparsa.cuda<>}
module attributes {sparsa.target = #sparsa.cuda<>} {}
