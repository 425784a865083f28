#loc = loc("moe.onnx":0:0)
module attributes {onnx.graph_name = "moe_B", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x4xf32> {onnx.dim_params = ["T", ""], onnx.name = "x"} loc("moe.onnx":0:0)) -> (tensor<?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc1)
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc2)
    %2 = onnx.Constant {value = dense_resource<router.axes> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc3)
    %3 = onnx.Constant {value = dense_resource<experts.w1> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32> loc(#loc4)
    %4 = onnx.Constant {value = dense_resource<experts.w2> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32> loc(#loc5)
    %5 = onnx.Constant {value = dense_resource<ax0> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc6)
    %6 = onnx.Constant {value = dense_resource<qg11> : tensor<f32>} : () -> tensor<f32> loc(#loc7)
    %7 = onnx.Constant {value = dense_resource<ax2> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc8)
    %8 = onnx.Constant {value = dense_resource<ax0r> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc9)
    %9 = onnx.MatMul %arg0, %0 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc10)
    %10 = onnx.Softmax %9 : (tensor<?x4xf32>) -> tensor<?x4xf32> loc(#loc11)
    %Values, %Indices = onnx.TopK %10, %1 : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>) loc(#loc12)
    %11 = onnx.ReduceSum %Values, %2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32> loc(#loc13)
    %12 = onnx.Div %Values, %11 : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32> loc(#loc14)
    %13 = onnx.MatMul %arg0, %0 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32> loc(#loc15)
    %14 = onnx.Shape %13 : (tensor<?x4xf32>) -> tensor<2xi64> loc(#loc16)
    %15 = onnx.ConstantOfShape %14 {value = dense_resource<zero> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32> loc(#loc17)
    %16 = onnx.ScatterElements %15, %Indices, %12 {axis = 1 : si64} : (tensor<?x4xf32>, tensor<?x2xi64>, tensor<?x2xf32>) -> tensor<?x4xf32> loc(#loc18)
    %17 = onnx.Unsqueeze %arg0, %5 : (tensor<?x4xf32>, tensor<1xi64>) -> tensor<1x?x4xf32> loc(#loc19)
    %18 = onnx.MatMul %17, %3 : (tensor<1x?x4xf32>, tensor<4x4x4xf32>) -> tensor<4x?x4xf32> loc(#loc20)
    %19 = onnx.Mul %18, %6 : (tensor<4x?x4xf32>, tensor<f32>) -> tensor<4x?x4xf32> loc(#loc21)
    %20 = onnx.Sigmoid %19 : (tensor<4x?x4xf32>) -> tensor<4x?x4xf32> loc(#loc22)
    %21 = onnx.Mul %18, %20 : (tensor<4x?x4xf32>, tensor<4x?x4xf32>) -> tensor<4x?x4xf32> loc(#loc23)
    %22 = onnx.MatMul %21, %4 : (tensor<4x?x4xf32>, tensor<4x4x4xf32>) -> tensor<4x?x4xf32> loc(#loc24)
    %23 = onnx.Transpose %16 {perm = array<i64: 1, 0>} : (tensor<?x4xf32>) -> tensor<4x?xf32> loc(#loc25)
    %24 = onnx.Unsqueeze %23, %7 : (tensor<4x?xf32>, tensor<1xi64>) -> tensor<4x?x1xf32> loc(#loc26)
    %25 = onnx.Mul %22, %24 : (tensor<4x?x4xf32>, tensor<4x?x1xf32>) -> tensor<4x?x4xf32> loc(#loc27)
    %26 = onnx.ReduceSum %25, %8 {keepdims = 0 : si64} : (tensor<4x?x4xf32>, tensor<1xi64>) -> tensor<?x4xf32> loc(#loc28)
    return %26 : tensor<?x4xf32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("router.weight")
#loc2 = loc("router.k")
#loc3 = loc("router.axes")
#loc4 = loc("experts.w1")
#loc5 = loc("experts.w2")
#loc6 = loc("ax0")
#loc7 = loc("qg11")
#loc8 = loc("ax2")
#loc9 = loc("ax0r")
#loc10 = loc("/router/MatMul")
#loc11 = loc("/moe/Softmax_2")
#loc12 = loc("/moe/TopK_3")
#loc13 = loc("/moe/ReduceSum_4")
#loc14 = loc("/moe/Div_5")
#loc15 = loc("/moe/MatMul_6")
#loc16 = loc("/moe/Shape_7")
#loc17 = loc("/moe/ConstantOfShape_8")
#loc18 = loc("/moe/ScatterElements_9")
#loc19 = loc("/moe/Unsqueeze_10")
#loc20 = loc("/moe/MatMul_11")
#loc21 = loc("/moe/Mul_12")
#loc22 = loc("/moe/Sigmoid_13")
#loc23 = loc("/moe/Mul_14")
#loc24 = loc("/moe/MatMul_15")
#loc25 = loc("/moe/Transpose_16")
#loc26 = loc("/moe/Unsqueeze_17")
#loc27 = loc("/moe/Mul_18")
#loc28 = loc("/moe/ReduceSum_19")

{-#
  dialect_resources: {
    builtin: {
      router.weight: "0x400000008D0080BE1A232E3F964E003FA9FE9BBD4AC671BE529D00BF0231B3BEF48F3CBFA8291A3F159C4B3F22C920BF634117BF995E62BF27BFF6BE39CEC6BF323612BF",
      router.k: "0x400000000200000000000000",
      router.axes: "0x40000000FFFFFFFFFFFFFFFF",
      experts.w1: "0x400000006CBF803D7F4687BDBDF2A33EDFD5563DA12189BEFD22393E79E9263FE673F23EFE27B4BE55F921BFEA8E9FBE6E45A93C4ECD94BFEC0AE0BD037A1FBFE075BBBE8F548BBE18F221BE3DC1523E1471053F979E83BD46E82E3F334AAABE21F9333ED249E73E8589403DF855BEBE32F6EBBE0A5B6ABED57AE13D2B3B01BF1F32D6BDE20BA3BDDB748A3E9ACFDB3D69F3353E5061A7BE70B984BD9EB2C83EC0283F3F0F2921BF41C8413FA5452C3F0604C83EBA66073E7EBA20BE6CA03A3FBFE97A3FF99B663F5255283F91FA363E2FAA1ABFFAF311BBBE0EA83E07E924BF704D4A3E18175C3EDB2FB23E2D9117BF5765A9BE71745FBE12BC15BF9BA35E3F03E87DBE",
      experts.w2: "0x40000000758C91BEA2D003BF0F8105BFF76D093EDAA3373E4946293F5AFAE3BB015B053F6A7D333FA138133F246197BF82451D3FACE22D3E8FF8583E85113E3EBFF8433E438A233E7CC337BEC96873BFAF0E5FBD5FC1CDBECB420A3F34D913BE21F52A3DC77FD9BE27B882BE2BF5BCBBC6203EBF66F3193E693C59BDABC517BFA67C99BF6257833EEF5C18BEA2AE87BE85D2F1BD4982683F1AFCCBBC7165313D67583EBF02DC523F7EE0EA3E5291083F7B44C33CE3A9EA3EBEEC3D3EF6F99C3E79D89BBD5CA83CBF80B1033FC2AC77BFF5B1F5BD586ED1BD717C05BFA3F59C3E3B23CDBD35AD5FBE5914853E2B0274BE19CA313FEBF1333EC6DB72BEADDD78BF756427BF",
      ax0: "0x400000000000000000000000",
      qg11: "0x4000000023DBD93F",
      ax2: "0x400000000200000000000000",
      ax0r: "0x400000000000000000000000",
      zero: "0x4000000000000000"
    }
  }
#-}
