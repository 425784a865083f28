// RUN: sparsa-opt %S/Inputs/deepseek-v3-router.mlir --sparsa-fuse-routing | FileCheck %s

/// DeepSeek-V3's router as transformers writes it (exported from
/// sparsa.models.moe(form="C", gating="deepseek", shared=4)): sigmoid
/// scores; a correction bias added for the choice only; the experts in 2
/// groups, each scored by the sum of its two best biased scores, the best
/// group kept (Where(Not(mask), 0, biased)); TopK; the weights gathered from
/// the unbiased scores, renormalized with a 1e-20 epsilon, times 2; a shared
/// expert added. All of it becomes one sparsa.moe.
// CHECK-LABEL: func.func @main_graph
// CHECK: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} selection_bias = %{{.+}} shared_w1 = %{{.+}} shared_w2 = %{{.+}} {gating = "sigmoid", k = 1 : i64, n_group = 2 : i64, normalize = true, routed_scaling = 2.000000e+00 : f64}
// CHECK-NOT: onnx.TopK
// CHECK-NOT: onnx.Where
// CHECK-NOT: onnx.GatherElements
// CHECK: return %[[Y]]
