// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{row_tasks must be at least 1, got 0}}
module attributes {sparsa.target = #sparsa.cpu<row_tasks = 0>} {}

// -----

// expected-error @+1 {{duplicate or unknown struct parameter name: threads}}
module attributes {sparsa.target = #sparsa.cpu<threads = 2>} {}

// -----

// expected-error @+2 {{expected string}}
// expected-error @+1 {{failed to parse Sparsa_CUDATargetAttr parameter 'chip'}}
module attributes {sparsa.target = #sparsa.cuda<chip = 90>} {}
