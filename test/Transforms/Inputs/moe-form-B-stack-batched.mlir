#loc = loc("/tmp/bs.onnx":0:0)
module attributes {onnx.graph_name = "moe_B", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x?x4xf32> {onnx.dim_params = ["B", "T", ""], onnx.name = "x"} loc("/tmp/bs.onnx":0:0)) -> (tensor<?x?x4xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Constant {value = dense_resource<router.weight> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc1)
    %1 = onnx.Constant {value = dense_resource<router.k> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc2)
    %2 = onnx.Constant {value = dense_resource<router.axes> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc3)
    %3 = onnx.Constant {value = dense_resource<experts.0.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc4)
    %4 = onnx.Constant {value = dense_resource<experts.0.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc5)
    %5 = onnx.Constant {value = dense_resource<experts.0.b1> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc6)
    %6 = onnx.Constant {value = dense_resource<experts.0.b2> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc7)
    %7 = onnx.Constant {value = dense_resource<e0.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc8)
    %8 = onnx.Constant {value = dense_resource<experts.1.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc9)
    %9 = onnx.Constant {value = dense_resource<experts.1.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc10)
    %10 = onnx.Constant {value = dense_resource<experts.1.b1> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc11)
    %11 = onnx.Constant {value = dense_resource<experts.1.b2> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc12)
    %12 = onnx.Constant {value = dense_resource<e1.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc13)
    %13 = onnx.Constant {value = dense_resource<experts.2.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc14)
    %14 = onnx.Constant {value = dense_resource<experts.2.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc15)
    %15 = onnx.Constant {value = dense_resource<experts.2.b1> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc16)
    %16 = onnx.Constant {value = dense_resource<experts.2.b2> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc17)
    %17 = onnx.Constant {value = dense_resource<e2.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc18)
    %18 = onnx.Constant {value = dense_resource<experts.3.w1> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc19)
    %19 = onnx.Constant {value = dense_resource<experts.3.w2> : tensor<4x4xf32>} : () -> tensor<4x4xf32> loc(#loc20)
    %20 = onnx.Constant {value = dense_resource<experts.3.b1> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc21)
    %21 = onnx.Constant {value = dense_resource<experts.3.b2> : tensor<4xf32>} : () -> tensor<4xf32> loc(#loc22)
    %22 = onnx.Constant {value = dense_resource<e3.stack> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc23)
    %23 = onnx.MatMul %arg0, %0 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc24)
    %24 = onnx.Softmax %23 : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> loc(#loc25)
    %Values, %Indices = onnx.TopK %24, %1 : (tensor<?x?x4xf32>, tensor<1xi64>) -> (tensor<?x?x2xf32>, tensor<?x?x2xi64>) loc(#loc26)
    %25 = onnx.ReduceSum %Values, %2 : (tensor<?x?x2xf32>, tensor<1xi64>) -> tensor<?x?x1xf32> loc(#loc27)
    %26 = onnx.Div %Values, %25 : (tensor<?x?x2xf32>, tensor<?x?x1xf32>) -> tensor<?x?x2xf32> loc(#loc28)
    %27 = onnx.MatMul %arg0, %0 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc29)
    %28 = onnx.Shape %27 : (tensor<?x?x4xf32>) -> tensor<3xi64> loc(#loc30)
    %29 = onnx.ConstantOfShape %28 {value = dense_resource<zero> : tensor<1xf32>} : (tensor<3xi64>) -> tensor<?x?x4xf32> loc(#loc31)
    %30 = onnx.ScatterElements %29, %Indices, %26 {axis = -1 : si64} : (tensor<?x?x4xf32>, tensor<?x?x2xi64>, tensor<?x?x2xf32>) -> tensor<?x?x4xf32> loc(#loc32)
    %31 = onnx.MatMul %arg0, %3 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc33)
    %32 = onnx.Add %31, %5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc34)
    %33 = onnx.Relu %32 : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> loc(#loc35)
    %34 = onnx.MatMul %33, %4 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc36)
    %35 = onnx.Add %34, %6 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc37)
    %36 = onnx.Unsqueeze %35, %7 : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x1x4xf32> loc(#loc38)
    %37 = onnx.MatMul %arg0, %8 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc39)
    %38 = onnx.Add %37, %10 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc40)
    %39 = onnx.Relu %38 : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> loc(#loc41)
    %40 = onnx.MatMul %39, %9 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc42)
    %41 = onnx.Add %40, %11 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc43)
    %42 = onnx.Unsqueeze %41, %12 : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x1x4xf32> loc(#loc44)
    %43 = onnx.MatMul %arg0, %13 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc45)
    %44 = onnx.Add %43, %15 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc46)
    %45 = onnx.Relu %44 : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> loc(#loc47)
    %46 = onnx.MatMul %45, %14 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc48)
    %47 = onnx.Add %46, %16 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc49)
    %48 = onnx.Unsqueeze %47, %17 : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x1x4xf32> loc(#loc50)
    %49 = onnx.MatMul %arg0, %18 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc51)
    %50 = onnx.Add %49, %20 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc52)
    %51 = onnx.Relu %50 : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> loc(#loc53)
    %52 = onnx.MatMul %51, %19 : (tensor<?x?x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32> loc(#loc54)
    %53 = onnx.Add %52, %21 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32> loc(#loc55)
    %54 = onnx.Unsqueeze %53, %22 : (tensor<?x?x4xf32>, tensor<1xi64>) -> tensor<?x?x1x4xf32> loc(#loc56)
    %55 = onnx.Concat %36, %42, %48, %54 {axis = 2 : si64} : (tensor<?x?x1x4xf32>, tensor<?x?x1x4xf32>, tensor<?x?x1x4xf32>, tensor<?x?x1x4xf32>) -> tensor<?x?x4x4xf32> loc(#loc57)
    %56 = onnx.Einsum %30, %55 {equation = "bte,bteh->bth"} : (tensor<?x?x4xf32>, tensor<?x?x4x4xf32>) -> tensor<?x?x4xf32> loc(#loc58)
    return %56 : tensor<?x?x4xf32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("router.weight")
#loc2 = loc("router.k")
#loc3 = loc("router.axes")
#loc4 = loc("experts.0.w1")
#loc5 = loc("experts.0.w2")
#loc6 = loc("experts.0.b1")
#loc7 = loc("experts.0.b2")
#loc8 = loc("e0.stack")
#loc9 = loc("experts.1.w1")
#loc10 = loc("experts.1.w2")
#loc11 = loc("experts.1.b1")
#loc12 = loc("experts.1.b2")
#loc13 = loc("e1.stack")
#loc14 = loc("experts.2.w1")
#loc15 = loc("experts.2.w2")
#loc16 = loc("experts.2.b1")
#loc17 = loc("experts.2.b2")
#loc18 = loc("e2.stack")
#loc19 = loc("experts.3.w1")
#loc20 = loc("experts.3.w2")
#loc21 = loc("experts.3.b1")
#loc22 = loc("experts.3.b2")
#loc23 = loc("e3.stack")
#loc24 = loc("/router/MatMul")
#loc25 = loc("/moe/Softmax_2")
#loc26 = loc("/moe/TopK_3")
#loc27 = loc("/moe/ReduceSum_4")
#loc28 = loc("/moe/Div_5")
#loc29 = loc("/moe/MatMul_6")
#loc30 = loc("/moe/Shape_7")
#loc31 = loc("/moe/ConstantOfShape_8")
#loc32 = loc("/moe/ScatterElements_9")
#loc33 = loc("/moe/MatMul_10")
#loc34 = loc("/moe/Add_11")
#loc35 = loc("/moe/Relu_12")
#loc36 = loc("/moe/MatMul_13")
#loc37 = loc("/moe/Add_14")
#loc38 = loc("/moe/Unsqueeze_15")
#loc39 = loc("/moe/MatMul_16")
#loc40 = loc("/moe/Add_17")
#loc41 = loc("/moe/Relu_18")
#loc42 = loc("/moe/MatMul_19")
#loc43 = loc("/moe/Add_20")
#loc44 = loc("/moe/Unsqueeze_21")
#loc45 = loc("/moe/MatMul_22")
#loc46 = loc("/moe/Add_23")
#loc47 = loc("/moe/Relu_24")
#loc48 = loc("/moe/MatMul_25")
#loc49 = loc("/moe/Add_26")
#loc50 = loc("/moe/Unsqueeze_27")
#loc51 = loc("/moe/MatMul_28")
#loc52 = loc("/moe/Add_29")
#loc53 = loc("/moe/Relu_30")
#loc54 = loc("/moe/MatMul_31")
#loc55 = loc("/moe/Add_32")
#loc56 = loc("/moe/Unsqueeze_33")
#loc57 = loc("/moe/Concat_34")
#loc58 = loc("/moe/Einsum_35")

{-#
  dialect_resources: {
    builtin: {
      router.weight: "0x400000008D0080BE1A232E3F964E003FA9FE9BBD4AC671BE529D00BF0231B3BEF48F3CBFA8291A3F159C4B3F22C920BF634117BF995E62BF27BFF6BE39CEC6BF323612BF",
      router.k: "0x400000000200000000000000",
      router.axes: "0x40000000FFFFFFFFFFFFFFFF",
      experts.0.w1: "0x400000006CBF803D7F4687BDBDF2A33EDFD5563DA12189BEFD22393E79E9263FE673F23EFE27B4BE55F921BFEA8E9FBE6E45A93C4ECD94BFEC0AE0BD037A1FBFE075BBBE",
      experts.0.w2: "0x40000000758C91BEA2D003BF0F8105BFF76D093EDAA3373E4946293F5AFAE3BB015B053F6A7D333FA138133F246197BF82451D3FACE22D3E8FF8583E85113E3EBFF8433E",
      experts.0.b1: "0x400000003C95DE3DC4D1A5BBA1EFE7BCDB44283E",
      experts.0.b2: "0x40000000324141BD281A0D3E99615E3CCB946C3E",
      e0.stack: "0x400000000200000000000000",
      experts.1.w1: "0x400000008F548BBE18F221BE3DC1523E1471053F979E83BD46E82E3F334AAABE21F9333ED249E73E8589403DF855BEBE32F6EBBE0A5B6ABED57AE13D2B3B01BF1F32D6BD",
      experts.1.w2: "0x40000000438A233E7CC337BEC96873BFAF0E5FBD5FC1CDBECB420A3F34D913BE21F52A3DC77FD9BE27B882BE2BF5BCBBC6203EBF66F3193E693C59BDABC517BFA67C99BF",
      experts.1.b1: "0x40000000E15703BEACE26FBD699241BDEC29703D",
      experts.1.b2: "0x400000009237A1BD3BAF6D3D8B28A0BC4DC2673D",
      e1.stack: "0x400000000200000000000000",
      experts.2.w1: "0x40000000E20BA3BDDB748A3E9ACFDB3D69F3353E5061A7BE70B984BD9EB2C83EC0283F3F0F2921BF41C8413FA5452C3F0604C83EBA66073E7EBA20BE6CA03A3FBFE97A3F",
      experts.2.w2: "0x400000006257833EEF5C18BEA2AE87BE85D2F1BD4982683F1AFCCBBC7165313D67583EBF02DC523F7EE0EA3E5291083F7B44C33CE3A9EA3EBEEC3D3EF6F99C3E79D89BBD",
      experts.2.b1: "0x400000005BE487BD86417BBD075E24BEEA5E953D",
      experts.2.b2: "0x400000009E0A3DBAE3DD65BD1BB0B1BD28FB9C3E",
      e2.stack: "0x400000000200000000000000",
      experts.3.w1: "0x40000000F99B663F5255283F91FA363E2FAA1ABFFAF311BBBE0EA83E07E924BF704D4A3E18175C3EDB2FB23E2D9117BF5765A9BE71745FBE12BC15BF9BA35E3F03E87DBE",
      experts.3.w2: "0x400000005CA83CBF80B1033FC2AC77BFF5B1F5BD586ED1BD717C05BFA3F59C3E3B23CDBD35AD5FBE5914853E2B0274BE19CA313FEBF1333EC6DB72BEADDD78BF756427BF",
      experts.3.b1: "0x40000000EB18A53DB91F43BDDFCE853CF15D04BE",
      experts.3.b2: "0x40000000BD71FDBB8D814EBE5AD584BDCFDC8A3D",
      e3.stack: "0x400000000200000000000000",
      zero: "0x4000000000000000"
    }
  }
#-}
