#loc = loc("/tmp/b0.onnx":0:0)
module attributes {onnx.graph_name = "moe_B", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x4xf32> {onnx.dim_params = ["T", ""], onnx.name = "x"} loc("/tmp/b0.onnx":0:0)) -> (tensor<?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc1)
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc2)
    %2 = onnx.Constant {value = dense_resource<router.axes> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc3)
    %3 = onnx.Constant {value = dense_resource<experts.0.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc4)
    %4 = onnx.Constant {value = dense_resource<experts.0.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc5)
    %5 = onnx.Constant {value = dense_resource<e0.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc6)
    %6 = onnx.Constant {value = dense_resource<experts.1.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc7)
    %7 = onnx.Constant {value = dense_resource<experts.1.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc8)
    %8 = onnx.Constant {value = dense_resource<e1.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc9)
    %9 = onnx.Constant {value = dense_resource<experts.2.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc10)
    %10 = onnx.Constant {value = dense_resource<experts.2.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc11)
    %11 = onnx.Constant {value = dense_resource<e2.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc12)
    %12 = onnx.Constant {value = dense_resource<experts.3.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc13)
    %13 = onnx.Constant {value = dense_resource<experts.3.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc14)
    %14 = onnx.Constant {value = dense_resource<e3.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc15)
    %15 = onnx.Constant {value = dense_resource<ax.last> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc16)
    %16 = onnx.Constant {value = dense_resource<ax.experts> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc17)
    %17 = onnx.MatMul %arg0, %0 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc18)
    %18 = onnx.Softmax %17 : (tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc19)
    %Values, %Indices = onnx.TopK %18, %1 : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>) loc(#loc20)
    %19 = onnx.ReduceSum %Values, %2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32> loc(#loc21)
    %20 = onnx.Div %Values, %19 : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32> loc(#loc22)
    %21 = onnx.MatMul %arg0, %0 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc23)
    %22 = onnx.Shape %21 : (tensor<?x4xf32>) -> tensor<2xi64> loc(#loc24)
    %23 = onnx.ConstantOfShape %22 {value = dense_resource<zero> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32> loc(#loc25)
    %24 = onnx.ScatterElements %23, %Indices, %20 {axis = 1 : si64} : (tensor<?x4xf32>, tensor<?x2xi64>, tensor<?x2xf32>) -> tensor<?x4xf32> loc(#loc26)
    %25 = onnx.Gemm %arg0, %3 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc27)
    %26 = onnx.Sigmoid %25 : (tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc28)
    %27 = onnx.Mul %25, %26 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc29)
    %28 = onnx.Gemm %27, %4 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc30)
    %29 = onnx.Unsqueeze %28, %5 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32> loc(#loc31)
    %30 = onnx.Gemm %arg0, %6 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc32)
    %31 = onnx.Sigmoid %30 : (tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc33)
    %32 = onnx.Mul %30, %31 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc34)
    %33 = onnx.Gemm %32, %7 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc35)
    %34 = onnx.Unsqueeze %33, %8 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32> loc(#loc36)
    %35 = onnx.Gemm %arg0, %9 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc37)
    %36 = onnx.Sigmoid %35 : (tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc38)
    %37 = onnx.Mul %35, %36 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc39)
    %38 = onnx.Gemm %37, %10 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc40)
    %39 = onnx.Unsqueeze %38, %11 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32> loc(#loc41)
    %40 = onnx.Gemm %arg0, %12 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc42)
    %41 = onnx.Sigmoid %40 : (tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc43)
    %42 = onnx.Mul %40, %41 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc44)
    %43 = onnx.Gemm %42, %13 {transB = 1 : si64} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc45)
    %44 = onnx.Unsqueeze %43, %14 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32> loc(#loc46)
    %45 = onnx.Concat %29, %34, %39, %44 {axis = 0 : si64} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<4x?x4xf32> loc(#loc47)
    %46 = onnx.Transpose %24 {perm = array<i64: 1, 0>} : (tensor<?x4xf32>) -> tensor<4x?xf32> loc(#loc48)
    %47 = onnx.Unsqueeze %46, %15 : (tensor<4x?xf32>, tensor<1xi64>) -> tensor<4x?x1xf32> loc(#loc49)
    %48 = onnx.Mul %45, %47 : (tensor<4x?x4xf32>, tensor<4x?x1xf32>) -> tensor<4x?x4xf32> loc(#loc50)
    %49 = onnx.ReduceSum %48, %16 {keepdims = 0 : si64} : (tensor<4x?x4xf32>, tensor<1xi64>) -> tensor<?x4xf32> loc(#loc51)
    return %49 : tensor<?x4xf32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("router.weight")
#loc2 = loc("router.k")
#loc3 = loc("router.axes")
#loc4 = loc("experts.0.w1")
#loc5 = loc("experts.0.w2")
#loc6 = loc("e0.stack")
#loc7 = loc("experts.1.w1")
#loc8 = loc("experts.1.w2")
#loc9 = loc("e1.stack")
#loc10 = loc("experts.2.w1")
#loc11 = loc("experts.2.w2")
#loc12 = loc("e2.stack")
#loc13 = loc("experts.3.w1")
#loc14 = loc("experts.3.w2")
#loc15 = loc("e3.stack")
#loc16 = loc("ax.last")
#loc17 = loc("ax.experts")
#loc18 = loc("/router/MatMul")
#loc19 = loc("/moe/Softmax_2")
#loc20 = loc("/moe/TopK_3")
#loc21 = loc("/moe/ReduceSum_4")
#loc22 = loc("/moe/Div_5")
#loc23 = loc("/moe/MatMul_6")
#loc24 = loc("/moe/Shape_7")
#loc25 = loc("/moe/ConstantOfShape_8")
#loc26 = loc("/moe/ScatterElements_9")
#loc27 = loc("/moe/Gemm_10")
#loc28 = loc("/moe/Sigmoid_11")
#loc29 = loc("/moe/Mul_12")
#loc30 = loc("/moe/Gemm_13")
#loc31 = loc("/moe/Unsqueeze_14")
#loc32 = loc("/moe/Gemm_15")
#loc33 = loc("/moe/Sigmoid_16")
#loc34 = loc("/moe/Mul_17")
#loc35 = loc("/moe/Gemm_18")
#loc36 = loc("/moe/Unsqueeze_19")
#loc37 = loc("/moe/Gemm_20")
#loc38 = loc("/moe/Sigmoid_21")
#loc39 = loc("/moe/Mul_22")
#loc40 = loc("/moe/Gemm_23")
#loc41 = loc("/moe/Unsqueeze_24")
#loc42 = loc("/moe/Gemm_25")
#loc43 = loc("/moe/Sigmoid_26")
#loc44 = loc("/moe/Mul_27")
#loc45 = loc("/moe/Gemm_28")
#loc46 = loc("/moe/Unsqueeze_29")
#loc47 = loc("/moe/Concat_30")
#loc48 = loc("/moe/Transpose_31")
#loc49 = loc("/moe/Unsqueeze_32")
#loc50 = loc("/moe/Mul_33")
#loc51 = loc("/moe/ReduceSum_34")

{-#
  dialect_resources: {
    builtin: {
      router.weight: "0x400000008D0080BE1A232E3F964E003FA9FE9BBD4AC671BE529D00BF0231B3BEF48F3CBFA8291A3F159C4B3F22C920BF634117BF995E62BF27BFF6BE39CEC6BF323612BF",
      router.k: "0x400000000200000000000000",
      router.axes: "0x40000000FFFFFFFFFFFFFFFF",
      experts.0.w1: "0x400000006CBF803DA12189BEFE27B4BE4ECD94BF7F4687BDFD22393E55F921BFEC0AE0BDBDF2A33E79E9263FEA8E9FBE037A1FBFDFD5563DE673F23E6E45A93CE075BBBE",
      experts.0.w2: "0x40000000758C91BEDAA3373E6A7D333FACE22D3EA2D003BF4946293FA138133F8FF8583E0F8105BF5AFAE3BB246197BF85113E3EF76D093E015B053F82451D3FBFF8433E",
      e0.stack: "0x400000000000000000000000",
      experts.1.w1: "0x400000008F548BBE979E83BDD249E73E0A5B6ABE18F221BE46E82E3F8589403DD57AE13D3DC1523E334AAABEF855BEBE2B3B01BF1471053F21F9333E32F6EBBE1F32D6BD",
      experts.1.w2: "0x40000000438A233E5FC1CDBEC77FD9BE66F3193E7CC337BECB420A3F27B882BE693C59BDC96873BF34D913BE2BF5BCBBABC517BFAF0E5FBD21F52A3DC6203EBFA67C99BF",
      e1.stack: "0x400000000000000000000000",
      experts.2.w1: "0x40000000E20BA3BD5061A7BE0F2921BFBA66073EDB748A3E70B984BD41C8413F7EBA20BE9ACFDB3D9EB2C83EA5452C3F6CA03A3F69F3353EC0283F3F0604C83EBFE97A3F",
      experts.2.w2: "0x400000006257833E4982683F02DC523FE3A9EA3EEF5C18BE1AFCCBBC7EE0EA3EBEEC3D3EA2AE87BE7165313D5291083FF6F99C3E85D2F1BD67583EBF7B44C33C79D89BBD",
      e2.stack: "0x400000000000000000000000",
      experts.3.w1: "0x40000000F99B663FFAF311BB18175C3E71745FBE5255283FBE0EA83EDB2FB23E12BC15BF91FA363E07E924BF2D9117BF9BA35E3F2FAA1ABF704D4A3E5765A9BE03E87DBE",
      experts.3.w2: "0x400000005CA83CBF586ED1BD35AD5FBEEBF1333E80B1033F717C05BF5914853EC6DB72BEC2AC77BFA3F59C3E2B0274BEADDD78BFF5B1F5BD3B23CDBD19CA313F756427BF",
      e3.stack: "0x400000000000000000000000",
      ax.last: "0x40000000FFFFFFFFFFFFFFFF",
      ax.experts: "0x400000000000000000000000",
      zero: "0x4000000000000000"
    }
  }
#-}
