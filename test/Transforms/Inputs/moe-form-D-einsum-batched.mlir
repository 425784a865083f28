#loc = loc("moe.onnx":0:0)
module attributes {onnx.graph_name = "moe_D", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x?x4xf32> {onnx.dim_params = ["B", "T", ""], onnx.name = "x"} loc("moe.onnx":0:0)) -> (tensor<?x?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc1)
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc2)
    %2 = onnx.Constant {value = dense_resource<experts.w1> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32> loc(#loc3)
    %3 = onnx.Constant {value = dense_resource<experts.w3> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32> loc(#loc4)
    %4 = onnx.Constant {value = dense_resource<experts.w2> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32> loc(#loc5)
    %5 = onnx.Constant {value = dense_resource<ax2u> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc6)
    %6 = onnx.Constant {value = dense_resource<ax1r> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc7)
    %7 = onnx.MatMul %arg0, %0 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc8)
    %Values, %Indices = onnx.TopK %7, %1 : (tensor<?x?x4xf32>, tensor<1xi64>) -> (tensor<?x?x2xf32>, tensor<?x?x2xi64>) loc(#loc9)
    %8 = onnx.Softmax %Values : (tensor<?x?x2xf32>) -> tensor<?x?x2xf32> loc(#loc10)
    %9 = onnx.Gather %2, %Indices : (tensor<4x4x4xf32>, tensor<?x?x2xi64>) -> tensor<?x?x2x4x4xf32> loc(#loc11)
    %10 = onnx.Einsum %arg0, %9 {equation = "bth,btkhf->btkf"} : (tensor<?x?x4xf32>, tensor<?x?x2x4x4xf32>) -> tensor<?x?x?x?xf32> loc(#loc12)
    %11 = onnx.Sigmoid %10 : (tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> loc(#loc13)
    %12 = onnx.Mul %10, %11 : (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> loc(#loc14)
    %13 = onnx.Gather %3, %Indices : (tensor<4x4x4xf32>, tensor<?x?x2xi64>) -> tensor<?x?x2x4x4xf32> loc(#loc15)
    %14 = onnx.Einsum %arg0, %13 {equation = "bth,btkhf->btkf"} : (tensor<?x?x4xf32>, tensor<?x?x2x4x4xf32>) -> tensor<?x?x?x?xf32> loc(#loc16)
    %15 = onnx.Mul %12, %14 : (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> loc(#loc17)
    %16 = onnx.Gather %4, %Indices : (tensor<4x4x4xf32>, tensor<?x?x2xi64>) -> tensor<?x?x2x4x4xf32> loc(#loc18)
    %17 = onnx.Einsum %15, %16 {equation = "btkf,btkfh->btkh"} : (tensor<?x?x?x?xf32>, tensor<?x?x2x4x4xf32>) -> tensor<?x?x?x?xf32> loc(#loc19)
    %18 = onnx.Unsqueeze %8, %5 : (tensor<?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x2x1xf32> loc(#loc20)
    %19 = onnx.Mul %17, %18 : (tensor<?x?x?x?xf32>, tensor<?x?x2x1xf32>) -> tensor<?x?x2x?xf32> loc(#loc21)
    %20 = onnx.ReduceSum %19, %6 {keepdims = 0 : si64} : (tensor<?x?x2x?xf32>, tensor<1xi64>) -> tensor<?x?x4xf32> loc(#loc22)
    return %20 : tensor<?x?x4xf32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("router.weight")
#loc2 = loc("router.k")
#loc3 = loc("experts.w1")
#loc4 = loc("experts.w3")
#loc5 = loc("experts.w2")
#loc6 = loc("ax2u")
#loc7 = loc("ax1r")
#loc8 = loc("/router/MatMul")
#loc9 = loc("/moe/TopK_2")
#loc10 = loc("/moe/Softmax_3")
#loc11 = loc("/moe/Gather_4")
#loc12 = loc("/moe/Einsum_5")
#loc13 = loc("/moe/Sigmoid_6")
#loc14 = loc("/moe/Mul_7")
#loc15 = loc("/moe/Gather_8")
#loc16 = loc("/moe/Einsum_9")
#loc17 = loc("/moe/Mul_10")
#loc18 = loc("/moe/Gather_11")
#loc19 = loc("/moe/Einsum_12")
#loc20 = loc("/moe/Unsqueeze_13")
#loc21 = loc("/moe/Mul_14")
#loc22 = loc("/moe/ReduceSum_15")

{-#
  dialect_resources: {
    builtin: {
      router.weight: "0x400000008D0080BE1A232E3F964E003FA9FE9BBD4AC671BE529D00BF0231B3BEF48F3CBFA8291A3F159C4B3F22C920BF634117BF995E62BF27BFF6BE39CEC6BF323612BF",
      router.k: "0x400000000200000000000000",
      experts.w1: "0x400000006CBF803D7F4687BDBDF2A33EDFD5563DA12189BEFD22393E79E9263FE673F23EFE27B4BE55F921BFEA8E9FBE6E45A93C4ECD94BFEC0AE0BD037A1FBFE075BBBE8F548BBE18F221BE3DC1523E1471053F979E83BD46E82E3F334AAABE21F9333ED249E73E8589403DF855BEBE32F6EBBE0A5B6ABED57AE13D2B3B01BF1F32D6BDE20BA3BDDB748A3E9ACFDB3D69F3353E5061A7BE70B984BD9EB2C83EC0283F3F0F2921BF41C8413FA5452C3F0604C83EBA66073E7EBA20BE6CA03A3FBFE97A3FF99B663F5255283F91FA363E2FAA1ABFFAF311BBBE0EA83E07E924BF704D4A3E18175C3EDB2FB23E2D9117BF5765A9BE71745FBE12BC15BF9BA35E3F03E87DBE",
      experts.w3: "0x40000000B56E283E9F6304BE3DAF4A3F9701293F6623A23E4E068DBF551CD53C0F06AF3ED081003F282F9EBEAB37693FE20329BFE759A9BE705FEF3E7EEDC83C3327803F2D0BC13D0219A2BE015041BEADAA0BBF068B23BFA662A13E48C7943E1AB4253FD82DC1BEAC34583F7B2413BE3686493F1B965DBEA248BCBEBDC7FF3DA806043FB2DFA43D38E595BE16AD2BBF046533BFD3AF803ED55DFD3ED73CA8BDCA8409BFB17FDF3EF3E323BFA18BB6BE07FB9E3E500290BF3CD2453E6AE694BE09CE5F3D67091BBD13F7CE3D41B5B13E8524C2BEBDE2353F48E1B93EDDFED73E431A153F629FC93E8A15D83ED3D01A3D87A036BF43498ABDE9FEC4BE671C36BFED53043E",
      experts.w2: "0x40000000758C91BEA2D003BF0F8105BFF76D093EDAA3373E4946293F5AFAE3BB015B053F6A7D333FA138133F246197BF82451D3FACE22D3E8FF8583E85113E3EBFF8433E438A233E7CC337BEC96873BFAF0E5FBD5FC1CDBECB420A3F34D913BE21F52A3DC77FD9BE27B882BE2BF5BCBBC6203EBF66F3193E693C59BDABC517BFA67C99BF6257833EEF5C18BEA2AE87BE85D2F1BD4982683F1AFCCBBC7165313D67583EBF02DC523F7EE0EA3E5291083F7B44C33CE3A9EA3EBEEC3D3EF6F99C3E79D89BBD5CA83CBF80B1033FC2AC77BFF5B1F5BD586ED1BD717C05BFA3F59C3E3B23CDBD35AD5FBE5914853E2B0274BE19CA313FEBF1333EC6DB72BEADDD78BF756427BF",
      ax2u: "0x40000000FFFFFFFFFFFFFFFF",
      ax1r: "0x40000000FEFFFFFFFFFFFFFF"
    }
  }
#-}
