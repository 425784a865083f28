#loc = loc("zoo/models/linear_attention_fast_transformers.onnx":0:0)
module attributes {onnx.graph_name = "main_graph", onnx.opset = 17 : i64} {
  func.func @main_graph(%arg0: tensor<?x?x4x8xf32> {onnx.dim_params = ["batch", "seq", "", ""], onnx.name = "q"} loc("zoo/models/linear_attention_fast_transformers.onnx":0:0), %arg1: tensor<?x?x4x8xf32> {onnx.dim_params = ["batch", "seq", "", ""], onnx.name = "k"} loc("zoo/models/linear_attention_fast_transformers.onnx":0:0), %arg2: tensor<?x?x4x8xf32> {onnx.dim_params = ["batch", "seq", "", ""], onnx.name = "v"} loc("zoo/models/linear_attention_fast_transformers.onnx":0:0)) -> (tensor<?x?x4x8xf32> {onnx.name = "y"}) attributes {llvm.emit_c_interface} {
    %0 = onnx.Elu %arg0 : (tensor<?x?x4x8xf32>) -> tensor<?x?x4x8xf32> loc(#loc1)
    %1 = onnx.Constant {value = dense_resource<constant> : tensor<f32>} : () -> tensor<f32> loc(#loc2)
    %2 = onnx.Add %0, %1 : (tensor<?x?x4x8xf32>, tensor<f32>) -> tensor<?x?x4x8xf32> loc(#loc3)
    %3 = onnx.Elu %arg1 : (tensor<?x?x4x8xf32>) -> tensor<?x?x4x8xf32> loc(#loc4)
    %4 = onnx.Constant {value = dense_resource<constant_1> : tensor<f32>} : () -> tensor<f32> loc(#loc5)
    %5 = onnx.Add %3, %4 : (tensor<?x?x4x8xf32>, tensor<f32>) -> tensor<?x?x4x8xf32> loc(#loc6)
    %6 = onnx.Einsum %5, %arg2 {equation = "nshd,nshm->nhmd"} : (tensor<?x?x4x8xf32>, tensor<?x?x4x8xf32>) -> tensor<?x?x?x?xf32> loc(#loc7)
    %7 = onnx.Constant {value = dense_resource<constant_2> : tensor<1xi64>} : () -> tensor<1xi64> loc(#loc8)
    %8 = onnx.ReduceSum %5, %7 {keepdims = 0 : si64} : (tensor<?x?x4x8xf32>, tensor<1xi64>) -> tensor<?x4x8xf32> loc(#loc9)
    %9 = onnx.Einsum %2, %8 {equation = "nlhd,nhd->nlh"} : (tensor<?x?x4x8xf32>, tensor<?x4x8xf32>) -> tensor<?x?x?xf32> loc(#loc10)
    %10 = onnx.Constant {value = dense_resource<constant_3> : tensor<f32>} : () -> tensor<f32> loc(#loc11)
    %11 = onnx.Add %9, %10 : (tensor<?x?x?xf32>, tensor<f32>) -> tensor<?x?x?xf32> loc(#loc12)
    %12 = onnx.Reciprocal %11 : (tensor<?x?x?xf32>) -> tensor<?x?x?xf32> loc(#loc13)
    %13 = onnx.Einsum %2, %6, %12 {equation = "nlhd,nhmd,nlh->nlhm"} : (tensor<?x?x4x8xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?xf32>) -> tensor<?x?x4x8xf32> loc(#loc14)
    return %13 : tensor<?x?x4x8xf32> loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("/Elu")
#loc2 = loc("/Constant")
#loc3 = loc("/Add")
#loc4 = loc("/Elu_1")
#loc5 = loc("/Constant_1")
#loc6 = loc("/Add_1")
#loc7 = loc("/Einsum")
#loc8 = loc("Constant_11")
#loc9 = loc("/ReduceSum")
#loc10 = loc("/Einsum_1")
#loc11 = loc("/Constant_2")
#loc12 = loc("/Add_2")
#loc13 = loc("/Reciprocal")
#loc14 = loc("/Einsum_2")

{-#
  dialect_resources: {
    builtin: {
      constant: "0x400000000000803F",
      constant_1: "0x400000000000803F",
      constant_2: "0x400000000100000000000000",
      constant_3: "0x40000000BD378635"
    }
  }
#-}
