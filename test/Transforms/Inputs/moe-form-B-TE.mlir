module attributes {onnx.graph_name = "moe_B", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x4xf32> {onnx.dim_params = ["T", ""], onnx.name = "x"}) -> (tensor<?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64>
    %2 = onnx.Constant {value = dense_resource<router.axes> : tensor<1xi64>} : () -> tensor<1xi64>
    %3 = onnx.Constant {value = dense_resource<experts.w1> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32>
    %4 = onnx.Constant {value = dense_resource<experts.w2> : tensor<4x4x4xf32>} : () -> tensor<4x4x4xf32>
    %5 = onnx.Constant {value = dense_resource<depth> : tensor<i64>} : () -> tensor<i64>
    %6 = onnx.Constant {value = dense_resource<ohv> : tensor<2xi64>} : () -> tensor<2xi64>
    %7 = onnx.Constant {value = dense_resource<axw> : tensor<1xi64>} : () -> tensor<1xi64>
    %8 = onnx.Constant {value = dense_resource<axk> : tensor<1xi64>} : () -> tensor<1xi64>
    %9 = onnx.Constant {value = dense_resource<ax12> : tensor<2xi64>} : () -> tensor<2xi64>
    %10 = onnx.Constant {value = dense_resource<ax2s> : tensor<1xi64>} : () -> tensor<1xi64>
    %11 = onnx.Constant {value = dense_resource<ax2> : tensor<1xi64>} : () -> tensor<1xi64>
    %12 = onnx.Constant {value = dense_resource<ax1r> : tensor<1xi64>} : () -> tensor<1xi64>
    %13 = onnx.MatMul %arg0, %0 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %14 = onnx.Softmax %13 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %Values, %Indices = onnx.TopK %14, %1 : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
    %15 = onnx.ReduceSum %Values, %2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %16 = onnx.Div %Values, %15 : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
    %17 = onnx.OneHot %Indices, %5, %6 : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x?xi64>
    %18 = onnx.Cast %17 {to = 1 : si64} : (tensor<?x2x?xi64>) -> tensor<?x2x?xf32>
    %19 = onnx.Unsqueeze %16, %7 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
    %20 = onnx.Mul %18, %19 : (tensor<?x2x?xf32>, tensor<?x2x1xf32>) -> tensor<?x2x?xf32>
    %21 = onnx.ReduceSum %20, %8 {keepdims = 0 : si64} : (tensor<?x2x?xf32>, tensor<1xi64>) -> tensor<?x?xf32>
    %22 = onnx.Unsqueeze %arg0, %9 : (tensor<?x4xf32>, tensor<2xi64>) -> tensor<?x1x1x4xf32>
    %23 = onnx.MatMul %22, %3 : (tensor<?x1x1x4xf32>, tensor<4x4x4xf32>) -> tensor<?x4x1x4xf32>
    %24 = onnx.Relu %23 : (tensor<?x4x1x4xf32>) -> tensor<?x4x1x4xf32>
    %25 = onnx.MatMul %24, %4 : (tensor<?x4x1x4xf32>, tensor<4x4x4xf32>) -> tensor<?x4x1x4xf32>
    %26 = onnx.Squeeze %25, %10 : (tensor<?x4x1x4xf32>, tensor<1xi64>) -> tensor<?x4x4xf32>
    %27 = onnx.Unsqueeze %21, %11 : (tensor<?x?xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
    %28 = onnx.Mul %26, %27 : (tensor<?x4x4xf32>, tensor<?x?x1xf32>) -> tensor<?x4x4xf32>
    %29 = onnx.ReduceSum %28, %12 {keepdims = 0 : si64} : (tensor<?x4x4xf32>, tensor<1xi64>) -> tensor<?x4xf32>
    return %29 : tensor<?x4xf32>
  }
}

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
      ax12: "0x4000000001000000000000000200000000000000",
      ax2s: "0x400000000200000000000000",
      ax2: "0x40000000FFFFFFFFFFFFFFFF",
      ax1r: "0x400000000100000000000000"
    }
  }
#-}

