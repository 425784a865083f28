// RUN: sparsa-opt %s --split-input-file --convert-onnx-to-linalg --canonicalize --cse | FileCheck %s

/// com.microsoft.MatMulNBits, 4-bit in blocks of 32, rows known at compile
/// time. Up to 8 rows: the packed GEMV over (m, n, kk), A's even and odd
/// columns apart ([M, Kh] each).
// CHECK-LABEL: func.func @gemv_rows
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<8x32xf32>, tensor<8x32xf32>, tensor<16x32xi8>, tensor<16x2xf32>, tensor<16x1xi8>)
// CHECK-SAME: outs(%{{.+}} : tensor<8x16xf32>)
// CHECK-SAME: sparsa.kernel = "q4_gemv"
// CHECK-SAME: sparsa.zero_point_bits = 4
// CHECK-NOT: q4_gemm
func.func @gemv_rows(%a: tensor<8x64xf32>, %b: tensor<16x2x16xui8>, %s: tensor<16x2xf32>,
                     %z: tensor<16x1xui8>) -> tensor<8x16xf32> {
  %y = onnx.ms.MatMulNBits %a, %b, %s zero_points = %z {K = 64 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<8x64xf32>, tensor<16x2x16xui8>, tensor<16x2xf32>, tensor<16x1xui8>) -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

/// More rows: the packed GEMM, computed transposed. A's halves are laid out
/// [Kh, Mp] (kk, m) with M = 20 padded to 32 (rows past M read as zero),
/// the generic runs (n, m, kk) into C^T [N, Mp], tagged q4_gemm, and C^T is
/// transposed back to [M, N]. No unpacked [K, N] weight.
// CHECK-LABEL: func.func @gemm_rows
// CHECK: %[[AE:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<32x32xf32>)
// CHECK: arith.cmpi ult, %{{.+}}, %c20
// CHECK: %[[AO:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<32x32xf32>)
// CHECK: %[[CT:.+]] = linalg.generic {indexing_maps = [#[[A:.+]], #[[A]], #{{.+}}, #{{.+}}, #[[Y:.+]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[AE]], %[[AO]], %{{.+}}, %{{.+}} : tensor<32x32xf32>, tensor<32x32xf32>, tensor<16x32xi8>, tensor<16x2xf32>)
// CHECK-SAME: outs(%{{.+}} : tensor<16x32xf32>)
// CHECK-SAME: sparsa.kernel = "q4_gemm"
// CHECK-SAME: sparsa.zero_point = 8.0
// CHECK: linalg.generic {{.+}} outs(%{{.+}} : tensor<20x16xf32>)
// CHECK: tensor.extract %[[CT]]
// CHECK-NOT: tensor<64x16xf32>
func.func @gemm_rows(%a: tensor<20x64xf32>, %b: tensor<16x2x16xui8>, %s: tensor<16x2xf32>)
    -> tensor<20x16xf32> {
  %y = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<20x64xf32>, tensor<16x2x16xui8>, tensor<16x2xf32>) -> tensor<20x16xf32>
  return %y : tensor<20x16xf32>
}

// -----

/// Rows known at run time: a branch on M <= 8 between the GEMV and the
/// GEMM (Mp = M rounded up to 16).
// CHECK-LABEL: func.func @dynamic_rows
// CHECK: %[[FEW:.+]] = arith.cmpi ule, %{{.+}}, %c8
// CHECK: scf.if %[[FEW]]
// CHECK: sparsa.kernel = "q4_gemv"
// CHECK: } else {
// CHECK: arith.ceildivui %{{.+}}, %c16
// CHECK: sparsa.kernel = "q4_gemm"
func.func @dynamic_rows(%a: tensor<?x64xf32>, %b: tensor<16x2x16xui8>, %s: tensor<16x2xf32>)
    -> tensor<?x16xf32> {
  %y = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 16 : si64, bits = 4 : si64, block_size = 32 : si64} : (tensor<?x64xf32>, tensor<16x2x16xui8>, tensor<16x2xf32>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

/// 8-bit weights take the same GEMM (q8_gemm): one A^T operand, a byte per
/// column of A.
// CHECK-LABEL: func.func @gemm_8bit
// CHECK: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%{{.+}}, %{{.+}}, %{{.+}} : tensor<64x16xf32>, tensor<16x64xi8>, tensor<16x2xf32>)
// CHECK-SAME: outs(%{{.+}} : tensor<16x16xf32>)
// CHECK-SAME: sparsa.kernel = "q8_gemm"
func.func @gemm_8bit(%a: tensor<12x64xf32>, %b: tensor<16x2x32xui8>, %s: tensor<16x2xf32>)
    -> tensor<12x16xf32> {
  %y = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 16 : si64, bits = 8 : si64, block_size = 32 : si64} : (tensor<12x64xf32>, tensor<16x2x32xui8>, tensor<16x2xf32>) -> tensor<12x16xf32>
  return %y : tensor<12x16xf32>
}

// -----

/// 2-bit weights have no packed kernels: the weight is unpacked to [K, N]
/// floats for the float matmul.
// CHECK-LABEL: func.func @unpacked_2bit
// CHECK-NOT: q4_gemm
// CHECK: tensor<64x16xf32>
// CHECK-NOT: q4_gemm
func.func @unpacked_2bit(%a: tensor<12x64xf32>, %b: tensor<16x4x4xui8>, %s: tensor<16x4xf32>)
    -> tensor<12x16xf32> {
  %y = onnx.ms.MatMulNBits %a, %b, %s {K = 64 : si64, N = 16 : si64, bits = 2 : si64, block_size = 16 : si64} : (tensor<12x64xf32>, tensor<16x4x4xui8>, tensor<16x4xf32>) -> tensor<12x16xf32>
  return %y : tensor<12x16xf32>
}
