// RUN: sparsa-opt %S/Inputs/moe-form-A.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=FORMA
// RUN: sparsa-opt %S/Inputs/moe-form-B.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=FORMB
// RUN: sparsa-opt %S/Inputs/moe-form-B-TE.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=FORMBTE
// RUN: sparsa-opt %S/Inputs/moe-form-B-stack-batched.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=STACKB
// RUN: sparsa-opt %S/Inputs/moe-form-B-stack0.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=STACK0
// RUN: sparsa-opt %S/Inputs/moe-form-A-where.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=FORMAW
// RUN: sparsa-opt %S/Inputs/moe-form-B-einsum-batched.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=EINB
// RUN: sparsa-opt %S/Inputs/moe-form-D-einsum-batched.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=EIND
// RUN: sparsa-opt %S/Inputs/moe-form-B-einsum-batched-token-sum.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=EINBNEG
// RUN: sparsa-opt %S/Inputs/moe-form-B-quick-gelu.mlir --sparsa-fuse-routing | FileCheck %s --check-prefix=QGELU

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

/// Form B with one module per expert on unflattened tokens
/// (sparsa.models.moe(form="B", layout="stack_einsum", batch="B",
/// bias=True, act="relu")): each expert's MatMul + Add FFN on x [B, T, H],
/// the outputs torch.stack-ed on axis 2 (Unsqueeze + Concat), combined
/// with the dense routing matrix [B, T, E] (ScatterElements on the last
/// axis) by Einsum `bte,bteh->bth`. The experts are stacked at compile
/// time; the logits go in as [B * T, E].
// STACKB-LABEL: func.func @main_graph
// STACKB: %[[L:.+]] = onnx.Reshape %{{.+}}, %{{.+}} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
// STACKB: %[[Y:.+]] = sparsa.moe %arg0, %[[L]], %{{.+}}, %{{.+}} b1 = %{{.+}} b2 = %{{.+}} {k = 2 : i64, normalize = true} : (tensor<?x?x4xf32>, tensor<?x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<?x?x4xf32>
// STACKB-NOT: onnx.Einsum
// STACKB-NOT: onnx.Concat
// STACKB: return %[[Y]]

/// The same stacked on axis 0 (layout="stack0", torch's nn.Linear as
/// Gemm(transB)): [E, T, H] outputs times the transposed routing matrix
/// Unsqueeze(Transpose(D), -1), summed over axis 0.
// STACK0-LABEL: func.func @main_graph
// STACK0: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {activation = "silu", k = 2 : i64, normalize = true} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32>) -> tensor<?x4xf32>
// STACK0-NOT: onnx.Concat
// STACK0: return %[[Y]]

/// Form A as a hand-written loop writes it (sparsa.models.moe(form="A",
/// a_mask="equal", act="gelu_tanh")): per expert `tok, slot =
/// torch.where(idx == e)` (NonZero of Equal on the top-k indices, no
/// OneHot), experts whose GELU is the tanh formula torch writes below
/// opset 20. One sparsa.moe, activation gelu_tanh; no NonZero or Tanh left.
// FORMAW-LABEL: func.func @main_graph
// FORMAW: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {activation = "gelu_tanh", k = 2 : i64, normalize = true} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32>) -> tensor<?x4xf32>
// FORMAW-NOT: onnx.NonZero
// FORMAW-NOT: onnx.Tanh
// FORMAW: return %[[Y]]

/// Form B on unflattened tokens with stacked weights through torch.einsum
/// (sparsa.models.moe(form="B", layout="einsum", act="gelu",
/// dense="onehot", batch="B")): `bth,ehf->btef` and `btef,efh->bteh` give
/// [B, T, E, H], times the dense routing matrix ReduceSum(OneHot(idx) *
/// w[..., None], -2) [B, T, E] unsqueezed last, summed over axis -2. The
/// op takes x [B, T, H] and the logits as [B * T, E].
// EINB-LABEL: func.func @main_graph
// EINB: %[[L:.+]] = onnx.Reshape %{{.+}}, %{{.+}} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
// EINB: %[[Y:.+]] = sparsa.moe %arg0, %[[L]], %{{.+}}, %{{.+}} {activation = "gelu", k = 2 : i64, normalize = true} : (tensor<?x?x4xf32>, tensor<?x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32>) -> tensor<?x?x4xf32>
// EINB-NOT: onnx.Einsum
// EINB-NOT: onnx.OneHot
// EINB: return %[[Y]]

/// Form D on unflattened tokens (sparsa.models.moe(form="D",
/// layout="einsum", act="swiglu", gating="topk_softmax", batch="B")): the
/// top-k experts' weights gathered per token, W[idx] [B, T, k, H, F],
/// through `bth,btkhf->btkf` and `btkf,btkfh->btkh`, weighted and summed
/// over the k. Gate and linear stacks are packed side by side.
// EIND-LABEL: func.func @main_graph
// EIND: %[[L:.+]] = onnx.Reshape %{{.+}}, %{{.+}} : (tensor<?x?x4xf32>, tensor<2xi64>) -> tensor<?x4xf32>
// EIND: %[[Y:.+]] = sparsa.moe %arg0, %[[L]], %{{.+}}, %{{.+}} {activation = "silu", gate_layout = 2 : i64, k = 2 : i64, normalize = true} : (tensor<?x?x4xf32>, tensor<?x4xf32>, tensor<4x4x8xf32>, tensor<4x4x4xf32>) -> tensor<?x?x4xf32>
// EIND-NOT: onnx.Einsum
// EIND-NOT: onnx.Gather
// EIND: return %[[Y]]

/// The same form B summed over the tokens (axis 1) instead of the experts
/// (the ReduceSum's axes constant changed): not a routed combine; nothing
/// fuses.
// EINBNEG-LABEL: func.func @main_graph
// EINBNEG-NOT: sparsa.moe
// EINBNEG: onnx.Einsum {{.+}} {equation = "btef,efh->bteh"}
// EINBNEG: onnx.ReduceSum

/// Form B with CLIP's quick GELU experts, x * sigmoid(1.702 x)
/// (sparsa.models.moe(form="B", act="quick_gelu")): the op's SiLU with
/// alpha = 1.702.
// QGELU-LABEL: func.func @main_graph
// QGELU: %[[Y:.+]] = sparsa.moe %arg0, %{{.+}}, %{{.+}}, %{{.+}} {activation = "silu", alpha = 1.7020000219345093 : f64, k = 2 : i64, normalize = true}
// QGELU-NOT: onnx.Sigmoid
// QGELU: return %[[Y]]
