// RUN: sparsa-opt %S/Inputs/moe-form-A.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=FORMA
// RUN: sparsa-opt %S/Inputs/moe-form-B.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=FORMB
// RUN: sparsa-opt %S/Inputs/moe-form-B-TE.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=FORMBTE

/// Form A (exported by sparsa.models.moe(form="A", experts=4, k=2,
/// missing=(2,))): Softmax -> TopK -> renormalize -> OneHot -> Transpose;
/// per expert Gather(mask row) -> NonZero -> Gather(token rows) -> ReLU
/// MLP -> Mul(weights of each (token, slot)) -> ScatterElements(add),
/// expert 2 absent from the export. One sparsa.moe; the per-expert weights
/// stacked into [4, 4, 4] constants (expert 2 zeros); no NonZero left.
// FORMA-LABEL: func.func @main_graph
// FORMA: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {k = 2 : i64, normalize = true} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32>) -> tensor<?x4xf32>
// FORMA-NOT: onnx.NonZero
// FORMA-NOT: onnx.ScatterElements
// FORMA: return %[[Y]]

/// Form B (sparsa.models.moe(form="B", act="swiglu", gating="sigmoid",
/// scaling=2)): every expert on every token with stacked [E, H, F] weights,
/// the routing weights ScatterElements'd into zeros [T, E], Mul + ReduceSum
/// over the experts. The gate and linear stacks become one [4, 4, 8]
/// constant (halves side by side, gate_layout = 2).
// FORMB-LABEL: func.func @main_graph
// FORMB: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {activation = "silu", gate_layout = 2 : i64, gating = "sigmoid", k = 2 : i64, normalize = true, routed_scaling = 2.000000e+00 : f64} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x4x8xf32>, tensor<4x4x4xf32>) -> tensor<?x4xf32>
// FORMB-NOT: onnx.ReduceSum
// FORMB: return %[[Y]]

/// Form B in torch.matmul's other layout (sparsa.models.moe(form="B",
/// layout="TE", dense="onehot", act="relu")): x[:, None, None] @ W gives
/// [T, E, 1, F] per expert, squeezed to [T, E, H], times the dense routing
/// matrix built as ReduceSum(OneHot(idx) * w[..., None], -2) unsqueezed
/// last, summed over axis 1.
// FORMBTE-LABEL: func.func @main_graph
// FORMBTE: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {k = 2 : i64, normalize = true} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32>) -> tensor<?x4xf32>
// FORMBTE-NOT: onnx.OneHot
// FORMBTE-NOT: onnx.ReduceSum
// FORMBTE: return %[[Y]]
