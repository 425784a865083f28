module attributes {onnx.graph_name = "moe_C", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x4xf32> {onnx.dim_params = ["T", ""], onnx.name = "x"}) -> (tensor<?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64>
    %2 = onnx.Constant {value = dense_resource<router.e_score_correction_bias> : tensor<4xf32>} : () -> tensor<4xf32>
    %3 = onnx.Constant {value = dense_resource<router.grouped> : tensor<3xi64>} : () -> tensor<3xi64>
    %4 = onnx.Constant {value = dense_resource<router.two> : tensor<1xi64>} : () -> tensor<1xi64>
    %5 = onnx.Constant {value = dense_resource<router.axm1> : tensor<1xi64>} : () -> tensor<1xi64>
    %6 = onnx.Constant {value = dense_resource<router.topk_group> : tensor<1xi64>} : () -> tensor<1xi64>
    %7 = onnx.Constant {value = dense_resource<router.ax2> : tensor<1xi64>} : () -> tensor<1xi64>
    %8 = onnx.Constant {value = dense_resource<router.expand> : tensor<3xi64>} : () -> tensor<3xi64>
    %9 = onnx.Constant {value = dense_resource<router.flat> : tensor<2xi64>} : () -> tensor<2xi64>
    %10 = onnx.Constant {value = dense_resource<router.zero> : tensor<f32>} : () -> tensor<f32>
    %11 = onnx.Constant {value = dense_resource<router.axes> : tensor<1xi64>} : () -> tensor<1xi64>
    %12 = onnx.Constant {value = dense_resource<router.eps> : tensor<f32>} : () -> tensor<f32>
    %13 = onnx.Constant {value = dense_resource<router.scale> : tensor<f32>} : () -> tensor<f32>
    %14 = onnx.Constant {value = dense_resource<e0> : tensor<i64>} : () -> tensor<i64>
    %15 = onnx.Constant {value = dense_resource<e0.axes> : tensor<1xi64>} : () -> tensor<1xi64>
    %16 = onnx.Constant {value = dense_resource<experts.0.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %17 = onnx.Constant {value = dense_resource<experts.0.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %18 = onnx.Constant {value = dense_resource<e1> : tensor<i64>} : () -> tensor<i64>
    %19 = onnx.Constant {value = dense_resource<e1.axes> : tensor<1xi64>} : () -> tensor<1xi64>
    %20 = onnx.Constant {value = dense_resource<experts.1.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %21 = onnx.Constant {value = dense_resource<experts.1.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %22 = onnx.Constant {value = dense_resource<e2> : tensor<i64>} : () -> tensor<i64>
    %23 = onnx.Constant {value = dense_resource<e2.axes> : tensor<1xi64>} : () -> tensor<1xi64>
    %24 = onnx.Constant {value = dense_resource<experts.2.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %25 = onnx.Constant {value = dense_resource<experts.2.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %26 = onnx.Constant {value = dense_resource<e3> : tensor<i64>} : () -> tensor<i64>
    %27 = onnx.Constant {value = dense_resource<e3.axes> : tensor<1xi64>} : () -> tensor<1xi64>
    %28 = onnx.Constant {value = dense_resource<experts.3.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %29 = onnx.Constant {value = dense_resource<experts.3.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %30 = onnx.Constant {value = dense_resource<shared.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %31 = onnx.Constant {value = dense_resource<shared.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %32 = onnx.MatMul %arg0, %0 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %33 = onnx.Sigmoid %32 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %34 = onnx.Add %33, %2 : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %35 = onnx.Reshape %34, %3 : (tensor<?x4xf32>, tensor<3xi64>) -> tensor<?x2x2xf32>
    %Values, %Indices = onnx.TopK %35, %4 : (tensor<?x2x2xf32>, tensor<1xi64>) -> (tensor<?x2x2xf32>, tensor<?x2x2xi64>)
    %36 = onnx.ReduceSum %Values, %5 {keepdims = 0 : si64} : (tensor<?x2x2xf32>, tensor<1xi64>) -> tensor<?x2xf32>
    %Values_0, %Indices_1 = onnx.TopK %36, %6 : (tensor<?x2xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
    %37 = onnx.Shape %36 : (tensor<?x2xf32>) -> tensor<2xi64>
    %38 = onnx.ConstantOfShape %37 {value = dense_resource<z> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x2xf32>
    %39 = onnx.Shape %Indices_1 : (tensor<?x1xi64>) -> tensor<2xi64>
    %40 = onnx.ConstantOfShape %39 {value = dense_resource<o> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x1xf32>
    %41 = onnx.ScatterElements %38, %Indices_1, %40 {axis = 1 : si64} : (tensor<?x2xf32>, tensor<?x1xi64>, tensor<?x1xf32>) -> tensor<?x2xf32>
    %42 = onnx.Unsqueeze %41, %7 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x2x1xf32>
    %43 = onnx.Expand %42, %8 : (tensor<?x2x1xf32>, tensor<3xi64>) -> tensor<?x2x2xf32>
    %44 = onnx.Reshape %43, %9 : (tensor<?x2x2xf32>, tensor<2xi64>) -> tensor<?x4xf32>
    %45 = onnx.Cast %44 {to = 9 : si64} : (tensor<?x4xf32>) -> tensor<?x4xi1>
    %46 = onnx.Not %45 : (tensor<?x4xi1>) -> tensor<?x4xi1>
    %47 = onnx.Where %46, %10, %34 : (tensor<?x4xi1>, tensor<f32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %Values_2, %Indices_3 = onnx.TopK %47, %1 : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x1xf32>, tensor<?x1xi64>)
    %48 = onnx.GatherElements %33, %Indices_3 {axis = 1 : si64} : (tensor<?x4xf32>, tensor<?x1xi64>) -> tensor<?x1xf32>
    %49 = onnx.ReduceSum %48, %11 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %50 = onnx.Add %49, %12 : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
    %51 = onnx.Div %48, %50 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
    %52 = onnx.Mul %51, %13 : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
    %53 = onnx.Equal %Indices_3, %14 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
    %54 = onnx.Cast %53 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
    %55 = onnx.Mul %54, %52 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
    %56 = onnx.ReduceSum %55, %15 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %57 = onnx.MatMul %arg0, %16 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %58 = onnx.Relu %57 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %59 = onnx.MatMul %58, %17 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %60 = onnx.Mul %59, %56 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
    %61 = onnx.Equal %Indices_3, %18 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
    %62 = onnx.Cast %61 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
    %63 = onnx.Mul %62, %52 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
    %64 = onnx.ReduceSum %63, %19 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %65 = onnx.MatMul %arg0, %20 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %66 = onnx.Relu %65 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %67 = onnx.MatMul %66, %21 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %68 = onnx.Mul %67, %64 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
    %69 = onnx.Equal %Indices_3, %22 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
    %70 = onnx.Cast %69 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
    %71 = onnx.Mul %70, %52 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
    %72 = onnx.ReduceSum %71, %23 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %73 = onnx.MatMul %arg0, %24 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %74 = onnx.Relu %73 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %75 = onnx.MatMul %74, %25 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %76 = onnx.Mul %75, %72 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
    %77 = onnx.Equal %Indices_3, %26 : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi1>
    %78 = onnx.Cast %77 {to = 1 : si64} : (tensor<?x1xi1>) -> tensor<?x1xf32>
    %79 = onnx.Mul %78, %52 : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
    %80 = onnx.ReduceSum %79, %27 : (tensor<?x1xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %81 = onnx.MatMul %arg0, %28 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %82 = onnx.Relu %81 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %83 = onnx.MatMul %82, %29 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %84 = onnx.Mul %83, %80 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
    %85 = onnx.Add %60, %68 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %86 = onnx.Add %85, %76 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %87 = onnx.Add %86, %84 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %88 = onnx.MatMul %arg0, %30 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %89 = onnx.Relu %88 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %90 = onnx.MatMul %89, %31 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %91 = onnx.Add %87, %90 : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
    return %91 : tensor<?x4xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      router.weight: "0x400000008D0080BE1A232E3F964E003FA9FE9BBD4AC671BE529D00BF0231B3BEF48F3CBFA8291A3F159C4B3F22C920BF634117BF995E62BF27BFF6BE39CEC6BF323612BF",
      router.k: "0x400000000100000000000000",
      router.e_score_correction_bias: "0x40000000AEFD00397BBBF43CE092E0BCA964B6BD",
      router.grouped: "0x40000000FFFFFFFFFFFFFFFF02000000000000000200000000000000",
      router.two: "0x400000000200000000000000",
      router.axm1: "0x40000000FFFFFFFFFFFFFFFF",
      router.topk_group: "0x400000000100000000000000",
      router.ax2: "0x400000000200000000000000",
      router.expand: "0x40000000010000000000000002000000000000000200000000000000",
      router.flat: "0x40000000FFFFFFFFFFFFFFFF0400000000000000",
      router.zero: "0x4000000000000000",
      router.axes: "0x40000000FFFFFFFFFFFFFFFF",
      router.eps: "0x4000000008E53C1E",
      router.scale: "0x4000000000000040",
      e0: "0x400000000000000000000000",
      e0.axes: "0x400000000100000000000000",
      experts.0.w1: "0x400000006CBF803D7F4687BDBDF2A33EDFD5563DA12189BEFD22393E79E9263FE673F23EFE27B4BE55F921BFEA8E9FBE6E45A93C4ECD94BFEC0AE0BD037A1FBFE075BBBE",
      experts.0.w2: "0x40000000758C91BEA2D003BF0F8105BFF76D093EDAA3373E4946293F5AFAE3BB015B053F6A7D333FA138133F246197BF82451D3FACE22D3E8FF8583E85113E3EBFF8433E",
      e1: "0x400000000100000000000000",
      e1.axes: "0x400000000100000000000000",
      experts.1.w1: "0x400000008F548BBE18F221BE3DC1523E1471053F979E83BD46E82E3F334AAABE21F9333ED249E73E8589403DF855BEBE32F6EBBE0A5B6ABED57AE13D2B3B01BF1F32D6BD",
      experts.1.w2: "0x40000000438A233E7CC337BEC96873BFAF0E5FBD5FC1CDBECB420A3F34D913BE21F52A3DC77FD9BE27B882BE2BF5BCBBC6203EBF66F3193E693C59BDABC517BFA67C99BF",
      e2: "0x400000000200000000000000",
      e2.axes: "0x400000000100000000000000",
      experts.2.w1: "0x40000000E20BA3BDDB748A3E9ACFDB3D69F3353E5061A7BE70B984BD9EB2C83EC0283F3F0F2921BF41C8413FA5452C3F0604C83EBA66073E7EBA20BE6CA03A3FBFE97A3F",
      experts.2.w2: "0x400000006257833EEF5C18BEA2AE87BE85D2F1BD4982683F1AFCCBBC7165313D67583EBF02DC523F7EE0EA3E5291083F7B44C33CE3A9EA3EBEEC3D3EF6F99C3E79D89BBD",
      e3: "0x400000000300000000000000",
      e3.axes: "0x400000000100000000000000",
      experts.3.w1: "0x40000000F99B663F5255283F91FA363E2FAA1ABFFAF311BBBE0EA83E07E924BF704D4A3E18175C3EDB2FB23E2D9117BF5765A9BE71745FBE12BC15BF9BA35E3F03E87DBE",
      experts.3.w2: "0x400000005CA83CBF80B1033FC2AC77BFF5B1F5BD586ED1BD717C05BFA3F59C3E3B23CDBD35AD5FBE5914853E2B0274BE19CA313FEBF1333EC6DB72BEADDD78BF756427BF",
      shared.w1: "0x400000005301263FFDFB30BE08C6DA3E275A7ABE8C5D613FCDFFCB3DCE9543BEEA5AA33F2D2126BE0C511CBF7FC1CE3D7D119FBC537D083F33F0EBBEEE01CE3EB94DDA3E",
      shared.w2: "0x400000008EEDAABE7029A73D29ACD4BEB821963F7E42B4BE60F967BE616D08BFCF3631BEAF8B40BBD48DC43EDA489CBE873BBEBD864F35BFA2D0D3BE275FB03F7547053F",
      z: "0x4000000000000000",
      o: "0x400000000000803F"
    }
  }
#-}

