module attributes {onnx.graph_name = "moe_A", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x4xf32> {onnx.dim_params = ["T", ""], onnx.name = "x"}) -> (tensor<?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64>
    %2 = onnx.Constant {value = dense_resource<router.axes> : tensor<1xi64>} : () -> tensor<1xi64>
    %3 = onnx.Constant {value = dense_resource<depth> : tensor<i64>} : () -> tensor<i64>
    %4 = onnx.Constant {value = dense_resource<onehot.values> : tensor<2xi64>} : () -> tensor<2xi64>
    %5 = onnx.Constant {value = dense_resource<flat> : tensor<1xi64>} : () -> tensor<1xi64>
    %6 = onnx.Constant {value = dense_resource<kconst> : tensor<i64>} : () -> tensor<i64>
    %7 = onnx.Constant {value = dense_resource<e0> : tensor<i64>} : () -> tensor<i64>
    %8 = onnx.Constant {value = dense_resource<e0.r0> : tensor<i64>} : () -> tensor<i64>
    %9 = onnx.Constant {value = dense_resource<e0.r1> : tensor<i64>} : () -> tensor<i64>
    %10 = onnx.Constant {value = dense_resource<experts.0.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %11 = onnx.Constant {value = dense_resource<experts.0.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %12 = onnx.Constant {value = dense_resource<e0.ax> : tensor<1xi64>} : () -> tensor<1xi64>
    %13 = onnx.Constant {value = dense_resource<e0.ax1> : tensor<1xi64>} : () -> tensor<1xi64>
    %14 = onnx.Constant {value = dense_resource<e1> : tensor<i64>} : () -> tensor<i64>
    %15 = onnx.Constant {value = dense_resource<e1.r0> : tensor<i64>} : () -> tensor<i64>
    %16 = onnx.Constant {value = dense_resource<e1.r1> : tensor<i64>} : () -> tensor<i64>
    %17 = onnx.Constant {value = dense_resource<experts.1.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %18 = onnx.Constant {value = dense_resource<experts.1.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %19 = onnx.Constant {value = dense_resource<e1.ax> : tensor<1xi64>} : () -> tensor<1xi64>
    %20 = onnx.Constant {value = dense_resource<e1.ax1> : tensor<1xi64>} : () -> tensor<1xi64>
    %21 = onnx.Constant {value = dense_resource<e3> : tensor<i64>} : () -> tensor<i64>
    %22 = onnx.Constant {value = dense_resource<e3.r0> : tensor<i64>} : () -> tensor<i64>
    %23 = onnx.Constant {value = dense_resource<e3.r1> : tensor<i64>} : () -> tensor<i64>
    %24 = onnx.Constant {value = dense_resource<experts.3.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %25 = onnx.Constant {value = dense_resource<experts.3.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32>
    %26 = onnx.Constant {value = dense_resource<e3.ax> : tensor<1xi64>} : () -> tensor<1xi64>
    %27 = onnx.Constant {value = dense_resource<e3.ax1> : tensor<1xi64>} : () -> tensor<1xi64>
    %28 = onnx.MatMul %arg0, %0 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %29 = onnx.Softmax %28 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %Values, %Indices = onnx.TopK %29, %1 : (tensor<?x4xf32>, tensor<1xi64>) -> (tensor<?x2xf32>, tensor<?x2xi64>)
    %30 = onnx.ReduceSum %Values, %2 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %31 = onnx.Div %Values, %30 : (tensor<?x2xf32>, tensor<?x1xf32>) -> tensor<?x2xf32>
    %32 = onnx.OneHot %Indices, %3, %4 : (tensor<?x2xi64>, tensor<i64>, tensor<2xi64>) -> tensor<?x2x?xi64>
    %33 = onnx.Transpose %32 {perm = array<i64: 2, 1, 0>} : (tensor<?x2x?xi64>) -> tensor<?x2x?xi64>
    %34 = onnx.Shape %arg0 : (tensor<?x4xf32>) -> tensor<2xi64>
    %35 = onnx.ConstantOfShape %34 {value = dense_resource<zero> : tensor<1xf32>} : (tensor<2xi64>) -> tensor<?x4xf32>
    %36 = onnx.Reshape %31, %5 : (tensor<?x2xf32>, tensor<1xi64>) -> tensor<?xf32>
    %37 = onnx.Gather %33, %7 : (tensor<?x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
    %38 = onnx.NonZero %37 : (tensor<2x?xi64>) -> tensor<2x?xi64>
    %39 = onnx.Gather %38, %8 : (tensor<2x?xi64>, tensor<i64>) -> tensor<?xi64>
    %40 = onnx.Gather %38, %9 : (tensor<2x?xi64>, tensor<i64>) -> tensor<?xi64>
    %41 = onnx.Gather %arg0, %40 : (tensor<?x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
    %42 = onnx.MatMul %41, %10 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %43 = onnx.Relu %42 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %44 = onnx.MatMul %43, %11 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %45 = onnx.Mul %40, %6 : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    %46 = onnx.Add %45, %39 : (tensor<?xi64>, tensor<?xi64>) -> tensor<?xi64>
    %47 = onnx.Gather %36, %46 : (tensor<?xf32>, tensor<?xi64>) -> tensor<?xf32>
    %48 = onnx.Unsqueeze %47, %12 : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %49 = onnx.Mul %44, %48 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
    %50 = onnx.Unsqueeze %40, %13 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
    %51 = onnx.Shape %49 : (tensor<?x4xf32>) -> tensor<2xi64>
    %52 = onnx.Expand %50, %51 : (tensor<?x1xi64>, tensor<2xi64>) -> tensor<?x4xi64>
    %53 = onnx.ScatterElements %35, %52, %49 {reduction = "add"} : (tensor<?x4xf32>, tensor<?x4xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %54 = onnx.Gather %33, %14 : (tensor<?x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
    %55 = onnx.NonZero %54 : (tensor<2x?xi64>) -> tensor<2x?xi64>
    %56 = onnx.Gather %55, %15 : (tensor<2x?xi64>, tensor<i64>) -> tensor<?xi64>
    %57 = onnx.Gather %55, %16 : (tensor<2x?xi64>, tensor<i64>) -> tensor<?xi64>
    %58 = onnx.Gather %arg0, %57 : (tensor<?x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
    %59 = onnx.MatMul %58, %17 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %60 = onnx.Relu %59 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %61 = onnx.MatMul %60, %18 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %62 = onnx.Mul %57, %6 : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    %63 = onnx.Add %62, %56 : (tensor<?xi64>, tensor<?xi64>) -> tensor<?xi64>
    %64 = onnx.Gather %36, %63 : (tensor<?xf32>, tensor<?xi64>) -> tensor<?xf32>
    %65 = onnx.Unsqueeze %64, %19 : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %66 = onnx.Mul %61, %65 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
    %67 = onnx.Unsqueeze %57, %20 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
    %68 = onnx.Shape %66 : (tensor<?x4xf32>) -> tensor<2xi64>
    %69 = onnx.Expand %67, %68 : (tensor<?x1xi64>, tensor<2xi64>) -> tensor<?x4xi64>
    %70 = onnx.ScatterElements %53, %69, %66 {reduction = "add"} : (tensor<?x4xf32>, tensor<?x4xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
    %71 = onnx.Gather %33, %21 : (tensor<?x2x?xi64>, tensor<i64>) -> tensor<2x?xi64>
    %72 = onnx.NonZero %71 : (tensor<2x?xi64>) -> tensor<2x?xi64>
    %73 = onnx.Gather %72, %22 : (tensor<2x?xi64>, tensor<i64>) -> tensor<?xi64>
    %74 = onnx.Gather %72, %23 : (tensor<2x?xi64>, tensor<i64>) -> tensor<?xi64>
    %75 = onnx.Gather %arg0, %74 : (tensor<?x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
    %76 = onnx.MatMul %75, %24 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %77 = onnx.Relu %76 : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %78 = onnx.MatMul %77, %25 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
    %79 = onnx.Mul %74, %6 : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
    %80 = onnx.Add %79, %73 : (tensor<?xi64>, tensor<?xi64>) -> tensor<?xi64>
    %81 = onnx.Gather %36, %80 : (tensor<?xf32>, tensor<?xi64>) -> tensor<?xf32>
    %82 = onnx.Unsqueeze %81, %26 : (tensor<?xf32>, tensor<1xi64>) -> tensor<?x1xf32>
    %83 = onnx.Mul %78, %82 : (tensor<?x4xf32>, tensor<?x1xf32>) -> tensor<?x4xf32>
    %84 = onnx.Unsqueeze %74, %27 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
    %85 = onnx.Shape %83 : (tensor<?x4xf32>) -> tensor<2xi64>
    %86 = onnx.Expand %84, %85 : (tensor<?x1xi64>, tensor<2xi64>) -> tensor<?x4xi64>
    %87 = onnx.ScatterElements %70, %86, %83 {reduction = "add"} : (tensor<?x4xf32>, tensor<?x4xi64>, tensor<?x4xf32>) -> tensor<?x4xf32>
    return %87 : tensor<?x4xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      router.weight: "0x400000008D0080BE1A232E3F964E003FA9FE9BBD4AC671BE529D00BF0231B3BEF48F3CBFA8291A3F159C4B3F22C920BF634117BF995E62BF27BFF6BE39CEC6BF323612BF",
      router.k: "0x400000000200000000000000",
      router.axes: "0x40000000FFFFFFFFFFFFFFFF",
      depth: "0x400000000400000000000000",
      onehot.values: "0x4000000000000000000000000100000000000000",
      flat: "0x40000000FFFFFFFFFFFFFFFF",
      kconst: "0x400000000200000000000000",
      e0: "0x400000000000000000000000",
      e0.r0: "0x400000000000000000000000",
      e0.r1: "0x400000000100000000000000",
      experts.0.w1: "0x400000006CBF803D7F4687BDBDF2A33EDFD5563DA12189BEFD22393E79E9263FE673F23EFE27B4BE55F921BFEA8E9FBE6E45A93C4ECD94BFEC0AE0BD037A1FBFE075BBBE",
      experts.0.w2: "0x40000000758C91BEA2D003BF0F8105BFF76D093EDAA3373E4946293F5AFAE3BB015B053F6A7D333FA138133F246197BF82451D3FACE22D3E8FF8583E85113E3EBFF8433E",
      e0.ax: "0x400000000100000000000000",
      e0.ax1: "0x400000000100000000000000",
      e1: "0x400000000100000000000000",
      e1.r0: "0x400000000000000000000000",
      e1.r1: "0x400000000100000000000000",
      experts.1.w1: "0x400000008F548BBE18F221BE3DC1523E1471053F979E83BD46E82E3F334AAABE21F9333ED249E73E8589403DF855BEBE32F6EBBE0A5B6ABED57AE13D2B3B01BF1F32D6BD",
      experts.1.w2: "0x40000000438A233E7CC337BEC96873BFAF0E5FBD5FC1CDBECB420A3F34D913BE21F52A3DC77FD9BE27B882BE2BF5BCBBC6203EBF66F3193E693C59BDABC517BFA67C99BF",
      e1.ax: "0x400000000100000000000000",
      e1.ax1: "0x400000000100000000000000",
      e3: "0x400000000300000000000000",
      e3.r0: "0x400000000000000000000000",
      e3.r1: "0x400000000100000000000000",
      experts.3.w1: "0x40000000F99B663F5255283F91FA363E2FAA1ABFFAF311BBBE0EA83E07E924BF704D4A3E18175C3EDB2FB23E2D9117BF5765A9BE71745FBE12BC15BF9BA35E3F03E87DBE",
      experts.3.w2: "0x400000005CA83CBF80B1033FC2AC77BFF5B1F5BD586ED1BD717C05BFA3F59C3E3B23CDBD35AD5FBE5914853E2B0274BE19CA313FEBF1333EC6DB72BEADDD78BF756427BF",
      e3.ax: "0x400000000100000000000000",
      e3.ax1: "0x400000000100000000000000",
      zero: "0x4000000000000000"
    }
  }
#-}

