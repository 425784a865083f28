#loc = loc("moe.onnx":0:0)
module attributes {onnx.graph_name = "moe_B", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x?x4xf32> {onnx.dim_params = ["B", "T", ""], onnx.name = "x"} loc("moe.onnx":0:0)) -> (tensor<?x?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc1)
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc2)
    %2 = onnx.Constant {value = dense_resource<router.axes> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc3)
    %3 = onnx.Constant {value = dense_resource<experts.w1> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32> loc(#loc4)
    %4 = onnx.Constant {value = dense_resource<experts.w2> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32> loc(#loc5)
    %5 = onnx.Constant {value = dense_resource<depth> : tensor<i64>} : () -> tensor<i64> loc(#loc6)
    %6 = onnx.Constant {value = dense_resource<ohv> : tensor<2xi64>} : () -> tensor<2xi64> loc(#loc7)
    %7 = onnx.Constant {value = dense_resource<axw> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc8)
    %8 = onnx.Constant {value = dense_resource<axk> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc9)
    %9 = onnx.Constant {value = dense_resource<c11> : tensor<f32>} : () -> tensor<f32> loc(#loc10)
    %10 = onnx.Constant {value = dense_resource<c13> : tensor<f32>} : () -> tensor<f32> loc(#loc11)
    %11 = onnx.Constant {value = dense_resource<c15> : tensor<f32>} : () -> tensor<f32> loc(#loc12)
    %12 = onnx.Constant {value = dense_resource<ax2> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc13)
    %13 = onnx.Constant {value = dense_resource<ax1r> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc14)
    %14 = onnx.MatMul %arg0, %0 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc15)
    %15 = onnx.Softmax %14 : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> loc(#loc16)
    %Values, %Indices = onnx.TopK %15, %1 : (tensor<?x?x4xf32>, tensor<1xi64>) -> (tensor<?x?x2xf32>, tensor<?x?x2xi64>) loc(#loc17)
    %16 = onnx.ReduceSum %Values, %2 : (tensor<?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x1xf32> loc(#loc18)
    %17 = onnx.Div %Values, %16 : (tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x2xf32> loc(#loc19)
    %18 = onnx.OneHot %Indices, %5, %6 : (tensor<?x?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x?x2x?xi64> loc(#loc20)
    %19 = onnx.Cast %18 {to = 1 : si64} : (tensor<?x?x2x?xi64>) -> tensor<?x?x2x?xf32> loc(#loc21)
    %20 = onnx.Unsqueeze %17, %7 : (tensor<?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2x1xf32> loc(#loc22)
    %21 = onnx.Mul %19, %20 : (tensor<?x?x2x?xf32>, tensor<?x?x2x1xf32>) -> tensor<?x?x2x?xf32> loc(#loc23)
    %22 = onnx.ReduceSum %21, %8 {keepdims = 0 : si64} : (tensor<?x?x2x?xf32>, tensor<1xi64>) -> tensor<?x?x?xf32> loc(#loc24)
    %23 = onnx.Einsum %arg0, %3 {equation = "bth,ehf->btef"} : (tensor<?x?x4xf32>, tensor<4x4x4xf32>) -> tensor<?x?x?x?xf32> loc(#loc25)
    %24 = onnx.Div %23, %9 : (tensor<?x?x?x?xf32>, tensor<f32>) -> tensor<?x?x?x?xf32> loc(#loc26)
    %25 = onnx.Erf %24 : (tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> loc(#loc27)
    %26 = onnx.Add %25, %10 : (tensor<?x?x?x?xf32>, tensor<f32>) -> tensor<?x?x?x?xf32> loc(#loc28)
    %27 = onnx.Mul %23, %26 : (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> loc(#loc29)
    %28 = onnx.Mul %27, %11 : (tensor<?x?x?x?xf32>, tensor<f32>) -> tensor<?x?x?x?xf32> loc(#loc30)
    %29 = onnx.Einsum %28, %4 {equation = "btef,efh->bteh"} : (tensor<?x?x?x?xf32>, tensor<4x4x4xf32>) -> tensor<?x?x?x?xf32> loc(#loc31)
    %30 = onnx.Unsqueeze %22, %12 : (tensor<?x?x?xf32>, tensor<1xi64>) -> tensor<?x?x?x1xf32> loc(#loc32)
    %31 = onnx.Mul %29, %30 : (tensor<?x?x?x?xf32>, tensor<?x?x?x1xf32>) -> tensor<?x?x?x?xf32> loc(#loc33)
    %32 = onnx.ReduceSum %31, %13 {keepdims = 0 : si64} : (tensor<?x?x?x?xf32>, tensor<1xi64>) -> tensor<?x?x4xf32> loc(#loc34)
    return %32 : tensor<?x?x4xf32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("router.weight")
#loc2 = loc("router.k")
#loc3 = loc("router.axes")
#loc4 = loc("experts.w1")
#loc5 = loc("experts.w2")
#loc6 = loc("depth")
#loc7 = loc("ohv")
#loc8 = loc("axw")
#loc9 = loc("axk")
#loc10 = loc("c11")
#loc11 = loc("c13")
#loc12 = loc("c15")
#loc13 = loc("ax2")
#loc14 = loc("ax1r")
#loc15 = loc("/router/MatMul")
#loc16 = loc("/moe/Softmax_2")
#loc17 = loc("/moe/TopK_3")
#loc18 = loc("/moe/ReduceSum_4")
#loc19 = loc("/moe/Div_5")
#loc20 = loc("/moe/OneHot_6")
#loc21 = loc("/moe/Cast_7")
#loc22 = loc("/moe/Unsqueeze_8")
#loc23 = loc("/moe/Mul_9")
#loc24 = loc("/moe/ReduceSum_10")
#loc25 = loc("/moe/Einsum_11")
#loc26 = loc("/moe/Div_12")
#loc27 = loc("/moe/Erf_13")
#loc28 = loc("/moe/Add_14")
#loc29 = loc("/moe/Mul_15")
#loc30 = loc("/moe/Mul_16")
#loc31 = loc("/moe/Einsum_17")
#loc32 = loc("/moe/Unsqueeze_18")
#loc33 = loc("/moe/Mul_19")
#loc34 = loc("/moe/ReduceSum_20")

{-#
  dialect_resources: {
    builtin: {
      router.weight: "0x400000008D0080BE1A232E3F964E003FA9FE9BBD4AC671BE529D00BF0231B3BEF48F3CBFA8291A3F159C4B3F22C920BF634117BF995E62BF27BFF6BE39CEC6BF323612BF",
      router.k: "0x400000000200000000000000",
      router.axes: "0x40000000FFFFFFFFFFFFFFFF",
      experts.w1: "0x400000006CBF803D7F4687BDBDF2A33EDFD5563DA12189BEFD22393E79E9263FE673F23EFE27B4BE55F921BFEA8E9FBE6E45A93C4ECD94BFEC0AE0BD037A1FBFE075BBBE8F548BBE18F221BE3DC1523E1471053F979E83BD46E82E3F334AAABE21F9333ED249E73E8589403DF855BEBE32F6EBBE0A5B6ABED57AE13D2B3B01BF1F32D6BDE20BA3BDDB748A3E9ACFDB3D69F3353E5061A7BE70B984BD9EB2C83EC0283F3F0F2921BF41C8413FA5452C3F0604C83EBA66073E7EBA20BE6CA03A3FBFE97A3FF99B663F5255283F91FA363E2FAA1ABFFAF311BBBE0EA83E07E924BF704D4A3E18175C3EDB2FB23E2D9117BF5765A9BE71745FBE12BC15BF9BA35E3F03E87DBE",
      experts.w2: "0x40000000758C91BEA2D003BF0F8105BFF76D093EDAA3373E4946293F5AFAE3BB015B053F6A7D333FA138133F246197BF82451D3FACE22D3E8FF8583E85113E3EBFF8433E438A233E7CC337BEC96873BFAF0E5FBD5FC1CDBECB420A3F34D913BE21F52A3DC77FD9BE27B882BE2BF5BCBBC6203EBF66F3193E693C59BDABC517BFA67C99BF6257833EEF5C18BEA2AE87BE85D2F1BD4982683F1AFCCBBC7165313D67583EBF02DC523F7EE0EA3E5291083F7B44C33CE3A9EA3EBEEC3D3EF6F99C3E79D89BBD5CA83CBF80B1033FC2AC77BFF5B1F5BD586ED1BD717C05BFA3F59C3E3B23CDBD35AD5FBE5914853E2B0274BE19CA313FEBF1333EC6DB72BEADDD78BF756427BF",
      depth: "0x400000000400000000000000",
      ohv: "0x4000000000000000000000000100000000000000",
      axw: "0x40000000FFFFFFFFFFFFFFFF",
      axk: "0x40000000FEFFFFFFFFFFFFFF",
      c11: "0x40000000F304B53F",
      c13: "0x400000000000803F",
      c15: "0x400000000000003F",
      ax2: "0x40000000FFFFFFFFFFFFFFFF",
      ax1r: "0x40000000FEFFFFFFFFFFFFFF"
    }
  }
#-}
