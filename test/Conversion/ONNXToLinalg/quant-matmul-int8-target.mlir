// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --canonicalize --cse | FileCheck %s

/// int8 activations at 80 rows (prefill). A target with int8 matrix units
/// (CUDA from sm_80: tensor cores) keeps the activations' int8 codes
/// against the packed weights: the same generic as the decode GEMV, tagged
/// q4_vnni, whose kernels pick the rows' path.
// CHECK-LABEL: func.func @prefill_cuda
// CHECK: sparsa.kernel = "q4_vnni"
// CHECK-NOT: q4_gemm
module attributes {sparsa.target = #sparsa.cuda<chip = "sm_80">} {
  func.func @prefill_cuda(%x: tensor<80x64xf32>, %q: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<80x32xf32> {
    %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "int8", form = "MatMulNBits"} : (tensor<80x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<80x32xf32>
    return %y : tensor<80x32xf32>
  }
}

// -----

/// A run-time row count on such a target: one int8 generic, no branch
/// between a GEMV and a GEMM.
// CHECK-LABEL: func.func @rows_cuda
// CHECK-NOT: scf.if
// CHECK: sparsa.kernel = "q4_vnni"
// CHECK-NOT: q4_gemm
module attributes {sparsa.target = #sparsa.cuda<chip = "sm_90">} {
  func.func @rows_cuda(%x: tensor<?x64xf32>, %q: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<?x32xf32> {
    %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "int8", form = "MatMulNBits"} : (tensor<?x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<?x32xf32>
    return %y : tensor<?x32xf32>
  }
}

// -----

/// A CPU without VNNI and a GPU before sm_80: past 64 rows the codes round-trip to
/// float for the packed float GEMM.
// CHECK-LABEL: func.func @prefill_old_gpu
// CHECK-NOT: q4_vnni
// CHECK: sparsa.kernel = "q4_gemm"
module attributes {sparsa.target = #sparsa.cuda<chip = "sm_75">} {
  func.func @prefill_old_gpu(%x: tensor<80x64xf32>, %q: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<80x32xf32> {
    %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "int8", form = "MatMulNBits"} : (tensor<80x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<80x32xf32>
    return %y : tensor<80x32xf32>
  }
}

// -----

// CHECK-LABEL: func.func @prefill_cpu
// CHECK-NOT: q4_vnni
// CHECK: sparsa.kernel = "q4_gemm"
module attributes {sparsa.target = #sparsa.cpu<row_tasks = 2>} {
  func.func @prefill_cpu(%x: tensor<80x64xf32>, %q: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<80x32xf32> {
    %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "int8", form = "MatMulNBits"} : (tensor<80x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<80x32xf32>
    return %y : tensor<80x32xf32>
  }
}

// -----

/// A CPU with int8 dot products (AVX-512 VNNI) keeps the codes too: its
/// VNNI kernel blocks 4 rows of A per load of the weights.
// CHECK-LABEL: func.func @prefill_vnni
// CHECK: sparsa.kernel = "q4_vnni"
// CHECK-NOT: q4_gemm
module attributes {sparsa.target = #sparsa.cpu<row_tasks = 2, int8_matrices = true>} {
  func.func @prefill_vnni(%x: tensor<80x64xf32>, %q: tensor<32x2x16xui8>, %s: tensor<32x2xf32>) -> tensor<80x32xf32> {
    %y = sparsa.quant_matmul %x, %q, %s {K = 64 : i64, N = 32 : i64, bits = 4 : i64, block_size = 32 : i64, activation = "int8", form = "MatMulNBits"} : (tensor<80x64xf32>, tensor<32x2x16xui8>, tensor<32x2xf32>) -> tensor<80x32xf32>
    return %y : tensor<80x32xf32>
  }
}
