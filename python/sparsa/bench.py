"""Sparsa against ONNX Runtime, side by side, on generated models.

    python -m sparsa.bench [--suite smoke|full] [--cases decode,prefill,...]
        [--threads 1,2] [--iters 20] [--out out/bench] [--markdown docs/performance.md]

Each case is compiled once; then, for every thread count, Sparsa and ONNX
Runtime run the same inputs in the same process, alternating run by run
after a warm-up, and the median of at least --iters runs of each (more for
short cases, until the runs span about a second) is reported with the
ratio ONNX Runtime / Sparsa (> 1: Sparsa is faster), the weight bytes
touched per second and GFLOP/s. The machine's limits are measured in the
same run: a STREAM-style read kernel and triad (C + OpenMP, built with the
compiler Sparsa links with) give the DRAM bandwidth each result is set
against, probed again just before each memory-bound case. Outputs: a JSON file, a Markdown table and a PNG chart under
--out (the table also to --markdown when given).

Neither library spin-waits between runs (ONNX Runtime's allow_spinning = 0,
libomp's KMP_BLOCKTIME = 0): on a machine with few cores a spinning pool
steals the cores the other library needs next. The smoke suite runs in CI
(correctness only, no timing assertions); the full suite runs by hand.

    python -m sparsa.bench --gpu [--out DIR] [--markdown FILE]

runs the GPU cases instead (--target=cuda, on an NVIDIA GPU; see
tools/gpu-check.sh): fp32 decode GEMVs and GEMMs against the device's
DRAM peak, next to the CPU build of the same model (--threads: its last
value is the CPU build's thread count; --cases: a subset, by name). Cases named BASE/VARIANT are BASE compiled with tuning
flags (e.g. BASE/scalar: no vector threads). With SPARSA_CUDA_TRACE=1
the runtime also prints each kernel's device time at exit.
"""

import argparse
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

# numpy's BLAS thread pool would spin on the cores being measured. The
# variable only counts before numpy is first imported; `python -m
# sparsa.bench` imports the sparsa package (and numpy) first, so main()
# restarts the interpreter once with it set (see _pinned_blas).
_BLAS_PINNED = "OPENBLAS_NUM_THREADS" in os.environ or "numpy" not in sys.modules
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


@dataclass
class Case:
    name: str
    description: str
    build: Callable[[str], str]          # writes the ONNX model to a path
    inputs: Callable[[np.random.Generator], Dict[str, np.ndarray]]
    weight_bytes: int                    # bytes of weights read per run
    flops: float                         # floating-point operations per run
    atol: float = 1e-3
    disable_fusion: tuple = ()           # fusion families off for this case
    dense_bytes: int = 0                 # bytes a dense execution reads (0: weight_bytes)
    int8_activations: bool = False       # compile with --int8-activations


def _cases(full: bool) -> Dict[str, Case]:
    from sparsa import models

    def ffn(name, rows, h, f, what):
        # The dense kernels: activation sparsity is off (its cases follow).
        return Case(
            name, f"{what}: {rows}x{h} -> {f} -> {h} FFN, fp32, ReLU (dense kernels)",
            lambda p: models.mlp(p, [h, f, h], batch=rows),
            lambda rng: {"x": rng.standard_normal((rows, h)).astype(np.float32)},
            weight_bytes=4 * (2 * h * f + f + h), flops=2.0 * rows * 2 * h * f,
            disable_fusion=("activation_sparsity",))

    h, f = (4096, 14336) if full else (256, 512)
    seq, heads, d = (512, 8, 64) if full else (64, 2, 32)
    rows, hid = (512, 1024) if full else (64, 128)
    cases = [
        ffn("decode_ffn", 1, h, f, "decode GEMV"),
        ffn("prefill_ffn", 128 if full else 16, h, f, "prefill GEMM"),
        Case("attention", f"softmax attention, seq {seq}, {heads} heads x {d}",
             lambda p: models.attention(p, seq, heads, d),
             lambda rng: {n: rng.standard_normal((1, heads, seq, d)).astype(np.float32)
                          for n in "qkv"},
             weight_bytes=0, flops=4.0 * heads * seq * seq * d),
        # A causal mask (transformers' float32-lowest constant): each block
        # of query rows computes only the keys up to its last row; the
        # FLOP/s count the dense work, as ONNX Runtime does it.
        Case("attention_causal", f"causal softmax attention, seq {seq}, {heads} heads x {d}",
             lambda p: models.attention(p, seq, heads, d, mask="causal", mask_value="min"),
             lambda rng: {n: rng.standard_normal((1, heads, seq, d)).astype(np.float32)
                          for n in "qkv"},
             weight_bytes=0, flops=4.0 * heads * seq * seq * d),
        Case("layernorm_chain", f"4 x (residual Add, LayerNorm, Mul) on {rows}x{hid}",
             lambda p: models.layernorm_chain(p, rows, hid, 4),
             lambda rng: {"x": rng.standard_normal((rows, hid)).astype(np.float32),
                          "r": rng.standard_normal((rows, hid)).astype(np.float32)},
             weight_bytes=4 * 3 * 4 * hid, flops=4 * 10.0 * rows * hid),
    ]
    # Mixture of experts (E experts, top-k, SwiGLU): ONNX Runtime runs the
    # exported graph as written; weight_bytes counts what a routed kernel
    # must read (the router and the selected experts).
    mh, mf, me, mk = (2048, 5632, 8, 2) if full else (64, 128, 4, 2)

    def moe(name, form, tokens, what, k=None, **kw):
        k = k or mk
        selected = min(me, tokens * k)
        # Graphs that gather the chosen experts' weights per (token, slot)
        # pair read only those in ONNX Runtime too (plus a copy per pair).
        pairs = kw.get("layout", "").startswith("batched_mm")
        return Case(
            name, f"{what}: {tokens} token(s), {me} experts top-{k}, {mh} -> {mf} SwiGLU, "
                  f"form {form}" + (" (ONNX Runtime's MoE op also reads only the chosen "
                                    "experts: the bytes bound against it is 1)"
                                    if form == "E" else "") +
                  (" (ONNX Runtime gathers each pair's expert weights: it also reads only "
                   "the chosen experts, copying them once per pair)" if pairs else ""),
            lambda p: models.moe(p, form, hidden=mh, inner=mf, experts=me, k=k,
                                 act="swiglu", tokens=tokens, **kw),
            lambda rng: {"x": rng.standard_normal((tokens, mh)).astype(np.float32)},
            weight_bytes=4 * (selected * 3 * mh * mf + mh * me),
            flops=2.0 * tokens * k * 3 * mh * mf,
            dense_bytes=4 * ((tokens * k if pairs else me) * 3 * mh * mf + mh * me))

    # Activation sparsity: ~90 % of the neurons inactive (OPT-like ReLU
    # FFN; ProSparse's ReLU-gated GLU); weight_bytes counts the gate (dense)
    # and the active neurons' rows.
    sh, sf, active = (4096, 14336, 0.1) if full else (64, 256, 0.1)

    def sparse(name, mode, what, **kw):
        glu = mode in ("glu", "drelu", "cats")
        rows_read = (2 if glu else 1) * active * sf * sh
        return Case(
            name, f"{what}: 1x{sh} -> {sf} -> {sh}, ~{int(100 * (1 - active))} % inactive",
            lambda p: models.sparse_ffn(p, hidden=sh, inner=sf, tokens=1, mode=mode,
                                        **{"sparsity": 1 - active, **kw}),
            lambda rng: {"x": rng.standard_normal((1, sh)).astype(np.float32)},
            weight_bytes=int(4 * (sh * sf + rows_read)),
            flops=2.0 * (sh * sf + rows_read),
            dense_bytes=4 * (3 if glu else 2) * sh * sf)

    core = int(active * sf)
    cases.append(Case(
        "core_ffn_decode", f"index-set FFN decode (CoreInfer): 1x{sh} -> {core} of {sf} "
                           f"neurons -> {sh}, SiLU",
        lambda p: models.sparse_ffn(p, hidden=sh, inner=sf, tokens=1, mode="silu", core=core),
        lambda rng: {"x": rng.standard_normal((1, sh)).astype(np.float32),
                     "idx": np.sort(rng.choice(sf, core, replace=False)).astype(np.int64)},
        weight_bytes=4 * 2 * core * sh, flops=2.0 * 2 * core * sh,
        dense_bytes=4 * 2 * sf * sh))
    rank = 256 if full else 16
    cases.append(Case(
        "predictor_ffn_decode", f"predictor FFN decode (Deja Vu): rank-{rank} predictor "
                                f"x A B picks {core} of {sf} neurons, 1x{sh} -> {sh}, ReLU",
        lambda p: models.sparse_ffn(p, hidden=sh, inner=sf, tokens=1, mode="relu", core=core,
                                    predictor_rank=rank),
        lambda rng: {"x": rng.standard_normal((1, sh)).astype(np.float32)},
        weight_bytes=4 * (2 * core * sh + rank * (sh + sf)),
        flops=2.0 * (2 * core * sh + rank * (sh + sf)), dense_bytes=4 * 2 * sf * sh))
    # FATReLU: Where(h > 0.25, h, 0), b1 shifted so that ~10 % of h pass
    # (P(N(0, 1) > 1.036 + 0.25) = 0.099).
    cases.append(Case(
        "sparse_threshold_decode",
        f"threshold FFN decode (FATReLU, h > 0.25): 1x{sh} -> {sf} -> {sh}, ~90 % inactive",
        lambda p: models.sparse_ffn(p, hidden=sh, inner=sf, tokens=1, mode="threshold",
                                    threshold=0.25, sparsity=0.85),
        lambda rng: {"x": rng.standard_normal((1, sh)).astype(np.float32)},
        weight_bytes=int(4 * (sh * sf + active * sf * sh)),
        flops=2.0 * (sh * sf + active * sf * sh), dense_bytes=4 * 2 * sh * sf))
    cases.append(Case(
        "topk_ffn_decode", f"explicit top-k FFN decode (TopK + ScatterElements): 1x{sh} -> "
                           f"top {core} of {sf} SiLU activations -> {sh}",
        lambda p: models.sparse_ffn(p, hidden=sh, inner=sf, tokens=1, mode="topk", topk=core),
        lambda rng: {"x": rng.standard_normal((1, sh)).astype(np.float32)},
        weight_bytes=4 * (sh * sf + core * sh), flops=2.0 * (sh * sf + core * sh),
        dense_bytes=4 * 2 * sh * sf))
    # TEAL on a down projection's input: |x| > 1.645 keeps ~10 % of x.
    cases.append(Case(
        "input_sparse_decode", f"input-threshold projection decode (TEAL, |x| > 1.645): "
                               f"1x{sf} -> {sh}, ~90 % of x dropped",
        lambda p: models.teal(p, hidden=sf, out=sh, tokens=1, threshold=1.645),
        lambda rng: {"x": rng.standard_normal((1, sf)).astype(np.float32)},
        weight_bytes=int(4 * active * sf * sh), flops=2.0 * active * sf * sh,
        dense_bytes=4 * sf * sh))
    cases += [
        sparse("sparse_relu_decode", "relu", "ReLU FFN decode (OPT)"),
        sparse("sparse_glu_decode", "glu", "ReLU-gated GLU decode (ProSparse)"),
        sparse("sparse_drelu_decode", "drelu", "dReLU GLU decode (TurboSparse)"),
        # CATS: |silu(h)| > 0.3 with b1 shifted by -0.84 keeps ~9 % (h > 0.48).
        sparse("sparse_cats_decode", "cats", "CATS SwiGLU decode (|silu(gate)| > 0.3)",
               sparsity=0.8, threshold=0.3),
        moe("moe_decode_B", "B", 1, "MoE decode, dense masked export"),
        moe("moe_decode_D", "D", 1, "MoE decode, gather-by-index export"),
        moe("moe_decode_B_stack", "B", 1, "MoE decode, one module per expert, outputs "
            "torch.stack-ed under Shazeer's -inf top-k gate", layout="stack", dense="neginf",
            gating="topk_softmax"),
        moe("moe_decode_C_top1", "C", 1, "MoE decode, Switch Transformer's top-1 by "
            "torch.max, the weight applied after the masked sum", k=1, top1="max_flat",
            c_weights="after", normalize=False),
        moe("moe_decode_D_batched_mm", "D", 1, "MoE decode, transformers 5's batched_mm "
            "experts (W[expert_ids] per pair, gate_up_proj Split)", layout="batched_mm"),
        moe("moe_decode_D_sparsemixer", "D", 1, "MoE decode, batched_mm experts under "
            "PhiMoE's sparsemixer gate (kept as ONNX ops: a given routing)",
            layout="batched_mm", gating="sparsemixer"),
        moe("moe_decode_E", "E", 1, "MoE decode, com.microsoft.MoE"),
        moe("moe_prefill_E", "E", 32 if full else 8, "MoE prefill, com.microsoft.MoE"),
    ]
    # 4-bit MatMulNBits decoding (ONNX Runtime at accuracy_level 0, its
    # fp32-activation path): packed weights + f32 scales per block of 32.
    qk = 4096 if full else 256
    cases.append(Case(
        "nbits_decode", f"MatMulNBits decode: 1x{qk} x int4 [{qk}, {qk}], block 32, packed "
                        "zero points, accuracy_level 0",
        lambda p: models.matmul_nbits(p, qk, qk, bits=4, block=32, zp_mode="packed"),
        lambda rng: {"A": rng.standard_normal((1, qk)).astype(np.float32)},
        weight_bytes=qk * qk // 2 + 4 * qk * (qk // 32) + qk * (qk // 64),
        flops=2.0 * qk * qk))
    # The same layer on a prompt (rows known at run time, as exporters write
    # them): Sparsa's packed GEMM, ONNX Runtime dequantizing for its SGEMM.
    qrows = 128 if full else 24
    cases.append(Case(
        "nbits_prefill", f"MatMulNBits prefill: {qrows}x{qk} x int4 [{qk}, {qk}], block 32, "
                         "packed zero points, accuracy_level 0, rows a dynamic dim",
        lambda p: models.matmul_nbits(p, qk, qk, bits=4, block=32, zp_mode="packed",
                                      batch="M"),
        lambda rng: {"A": rng.standard_normal((qrows, qk)).astype(np.float32)},
        weight_bytes=qk * qk // 2 + 4 * qk * (qk // 32) + qk * (qk // 64),
        flops=2.0 * qrows * qk * qk, atol=2e-3))
    # The same layer at accuracy_level 4: ONNX Runtime quantizes A to int8
    # per block; Sparsa with --int8-activations (VNNI dot products).
    cases.append(Case(
        "nbits_decode_int8", f"MatMulNBits decode: 1x{qk} x int4 [{qk}, {qk}], block 32, "
                             "packed zero points, accuracy_level 4 (Sparsa: "
                             "--int8-activations)",
        lambda p: models.matmul_nbits(p, qk, qk, bits=4, block=32, zp_mode="packed",
                                      accuracy_level=4),
        lambda rng: {"A": rng.standard_normal((1, qk)).astype(np.float32)},
        weight_bytes=qk * qk // 2 + 4 * qk * (qk // 32) + qk * (qk // 64),
        flops=2.0 * qk * qk, atol=2e-2, int8_activations=True))
    # Its prefill at accuracy_level 4 (rows a dynamic dim): Sparsa's VNNI
    # kernel with 4 rows of A per weight load, ONNX Runtime's int8 GEMM.
    cases.append(Case(
        "nbits_prefill_int8", f"MatMulNBits prefill: {qrows}x{qk} x int4 [{qk}, {qk}], block "
                              "32, packed zero points, accuracy_level 4 (Sparsa: "
                              "--int8-activations), rows a dynamic dim",
        lambda p: models.matmul_nbits(p, qk, qk, bits=4, block=32, zp_mode="packed",
                                      batch="M", accuracy_level=4),
        lambda rng: {"A": rng.standard_normal((qrows, qk)).astype(np.float32)},
        weight_bytes=qk * qk // 2 + 4 * qk * (qk // 32) + qk * (qk // 64),
        flops=2.0 * qrows * qk * qk, atol=2e-2, int8_activations=True))
    # A stack of 4-bit FFNs (~0.6 GB packed at full size): decoding reads
    # every weight once, so it is DRAM-bound.
    sh4, sf4, sl4 = (4096, 14336, 8) if full else (128, 256, 2)
    stack_bytes = sl4 * 2 * (sh4 * sf4 // 2 + 4 * sh4 * sf4 // 32 + sh4 * sf4 // 64)
    for suffix, level in (("", 0), ("_int8", 4)):
        cases.append(Case(
            "nbits_ffn_stack" + suffix,
            f"{sl4}-layer int4 FFN stack, 1x{sh4} -> {sf4} -> {sh4}, block 32, packed zero "
            f"points, accuracy_level {level}" + (" (Sparsa: --int8-activations)" if level else ""),
            lambda p, level=level: models.nbits_ffn_stack(p, sh4, sf4, sl4, accuracy_level=level),
            lambda rng: {"x": rng.standard_normal((1, sh4)).astype(np.float32)},
            weight_bytes=stack_bytes, flops=2.0 * sl4 * 2 * sh4 * sf4,
            # int8 activations through 16 projections: Sparsa and ONNX
            # Runtime's level 4 each differ from the fp32 result by ~1 % of
            # the output's magnitude (~34 at full size; measured 0.41 and
            # 0.39) and from each other by ~2 % (0.64): different int8
            # roundings compound layer by layer.
            atol=1.5 if level else 1e-3, int8_activations=bool(level)))
    # Quantized experts (com.microsoft.QMoE, int4 SwiGLU, per-row scales,
    # packed zero points): decoding reads k of E experts' packed codes.
    qh, qf, qe, qkk = (2048, 5632, 8, 2) if full else (128, 256, 8, 2)
    expert_bytes = 3 * qh * qf // 2 + 4 * (2 * qf + qh) + (2 * qf + qh) // 2
    for qname, qtokens in (("qmoe_decode", 1), ("qmoe_prefill", 32 if full else 8)):
        touched = min(qe, qtokens * qkk)
        cases.append(Case(
            qname, f"QMoE {'decode' if qtokens == 1 else 'prefill'}: {qtokens} token(s), {qe} "
                   f"int4 experts top-{qkk}, {qh} -> {qf} SwiGLU, per-row scales, packed zero "
                   "points (com.microsoft.QMoE; bytes bound against reading all experts)",
            lambda p, t=qtokens: models.qmoe(p, qh, qf, qe, qkk, zero_points=True, tokens=t),
            lambda rng, t=qtokens: {"x": rng.standard_normal((t, qh)).astype(np.float32)},
            weight_bytes=touched * expert_bytes + 4 * qh * qe,
            flops=2.0 * qtokens * qkk * 3 * qh * qf,
            dense_bytes=qe * expert_bytes + 4 * qh * qe))
    # The same decode layer with int8 expert activations (Sparsa
    # --int8-activations: VNNI dot products; ONNX Runtime runs its float
    # QMoE kernel): activations quantized per row differ from the float
    # result: by 0.052 at full size, where |y| reaches 1.8 (the GPU
    # emulation's independent int8 kernels agree with the CPU's to 2e-6).
    cases.append(Case(
        "qmoe_decode_int8", f"QMoE decode as qmoe_decode, Sparsa with --int8-activations",
        lambda p: models.qmoe(p, qh, qf, qe, qkk, zero_points=True, tokens=1),
        lambda rng: {"x": rng.standard_normal((1, qh)).astype(np.float32)},
        weight_bytes=qkk * expert_bytes + 4 * qh * qe, flops=2.0 * qkk * 3 * qh * qf,
        dense_bytes=qe * expert_bytes + 4 * qh * qe, atol=8e-2, int8_activations=True))
    # An int4 ReLU FFN (MatMulNBits, block 32, packed zero points) with ~90 %
    # of its neurons inactive: Sparsa reads the gate, then only the active
    # neurons' rows of down codes plus the scales / zero points of the
    # neuron blocks they touch (about all of them at 10 % density).
    nh, nf, nact = (4096, 14336, 0.1) if full else (128, 512, 0.1)
    nblocks = nf // 32
    up_bytes = nh * nf // 2 + 4 * nf * (nh // 32) + nf * (nh // 64)
    touched = 1 - (1 - nact) ** 32
    cases.append(Case(
        "nbits_sparse_ffn", f"int4 ReLU FFN decode, 1x{nh} -> {nf} -> {nh}, MatMulNBits block "
                            f"32, packed zero points, ~{int(100 * (1 - nact))} % inactive",
        lambda p: models.nbits_sparse_ffn(p, nh, nf, sparsity=1 - nact),
        lambda rng: {"x": rng.standard_normal((1, nh)).astype(np.float32)},
        weight_bytes=int(up_bytes + nact * nf * nh // 2 + touched * nblocks * 5 * nh),
        flops=2.0 * (nh * nf + nact * nf * nh), dense_bytes=2 * up_bytes))
    # Its ReLU-gated GLU (ProSparse) twin: the gate, then the active
    # neurons' rows of the linear part (codes, scales, zero points) and of
    # the down projection.
    cases.append(Case(
        "nbits_sparse_glu", f"int4 ReLU-gated GLU decode (ProSparse), 1x{nh} -> {nf} -> {nh}, "
                            f"MatMulNBits block 32, packed zero points, "
                            f"~{int(100 * (1 - nact))} % inactive",
        lambda p: models.nbits_sparse_ffn(p, nh, nf, sparsity=1 - nact, glu="au"),
        lambda rng: {"x": rng.standard_normal((1, nh)).astype(np.float32)},
        weight_bytes=int((1 + nact) * up_bytes + nact * nf * nh // 2
                         + touched * nblocks * 5 * nh),
        flops=2.0 * (nh * nf + 2 * nact * nf * nh), dense_bytes=3 * up_bytes))
    # Flow attention (Flowformer, linear attention): q, k, v [1, H, L, D];
    # ONNX Runtime runs the exported graph (its causal forms are the L x L
    # products). flops count the linear-time work (two D x D products per
    # position).
    fl, fh, fd = (4096, 8, 64) if full else (128, 2, 32)

    def flow(name, what, build):
        return Case(name, f"{what}, L {fl}, {fh} heads x {fd}", build,
                    lambda rng: {n: rng.standard_normal((1, fh, fl, fd)).astype(np.float32)
                                 for n in "qkv"},
                    weight_bytes=0, flops=4.0 * fh * fl * fd * fd)

    cases += [
        flow("flow_attention", "Flowformer non-causal, MatMul / ReduceSum export",
             lambda p: models.flowformer(p, fl, fh, fd, causal=False, form="matmul")),
        flow("flow_attention_einsum", "Flowformer non-causal, the reference module's Einsums",
             lambda p: models.flowformer(p, fl, fh, fd, causal=False, form="einsum")),
        flow("flow_causal", "causal Flowformer, L x L lower-triangular mask export",
             lambda p: models.flowformer(p, fl, fh, fd, causal=True, form="matmul")),
        flow("linear_causal", "causal linear attention (elu + 1), masked L x L export",
             lambda p: models.linear_attention(p, fl, fh, fd, causal=True, form="masked")),
    ]
    # ONNX LinearAttention (opset 27), gated delta rule (Gated DeltaNet:
    # one decay and one beta per head), from a past state: a decode step
    # and a prefill. Both run the recurrence; ONNX Runtime runs its own
    # LinearAttention kernel. weight_bytes: what must come from memory, the
    # past state read and the present state written once, q, k, v read and
    # the output written (the state stays in cache across the steps);
    # flops: decay, retrieval, update and read (7 dk dv per head and step).
    gh, gd = (16, 128) if full else (2, 32)

    def gated_delta(name, seq):
        def feeds(rng):
            k = rng.standard_normal((1, seq, gh, gd)).astype(np.float32)
            k /= np.linalg.norm(k, axis=-1, keepdims=True)
            return {"q": rng.standard_normal((1, seq, gh * gd)).astype(np.float32),
                    "k": k.reshape(1, seq, gh * gd),
                    "v": rng.standard_normal((1, seq, gh * gd)).astype(np.float32),
                    "past": 0.1 * rng.standard_normal((1, gh, gd, gd)).astype(np.float32),
                    "decay": np.log(rng.uniform(0.9, 1.0, (1, seq, gh))).astype(np.float32),
                    "beta": rng.uniform(0.1, 0.9, (1, seq, gh)).astype(np.float32)}
        return Case(name, f"ONNX LinearAttention gated_delta, T {seq}, {gh} heads, "
                          f"dk = dv = {gd}, from a past state",
                    lambda p: models.onnx_linear_attention(
                        p, seq=seq, q_heads=gh, kv_heads=gh, head_dim=gd, past=True,
                        update_rule="gated_delta", decay="head", beta="head"),
                    feeds, weight_bytes=2 * 4 * gh * gd * gd + 4 * 4 * seq * gh * gd,
                    flops=7.0 * gh * gd * gd * seq)

    cases += [gated_delta("gated_delta_decode", 1),
              gated_delta("gated_delta_prefill", 512 if full else 16)]
    return {c.name: c for c in cases}


#===------------------------------------------------------------------------===#
# Machine limits
#===------------------------------------------------------------------------===#

def _stream_library(out_dir: str):
    src = os.path.join(os.path.dirname(__file__), "kernels", "stream.c")
    lib = os.path.join(out_dir, "libsparsa_stream.so")
    clang = os.environ.get("SPARSA_CLANG", "/usr/lib/llvm-22/bin/clang")
    if not os.path.exists(lib) or os.path.getmtime(lib) < os.path.getmtime(src):
        subprocess.run([clang, "-O3", "-march=native",
                        "-fopenmp", "-shared", "-fPIC", src, "-o", lib], check=True)
    so = ctypes.CDLL(lib)
    so.sparsa_stream_read.restype = ctypes.c_double
    so.sparsa_stream_read.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    so.sparsa_stream_triad.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_float, ctypes.c_size_t, ctypes.c_int]
    return so


def measure_bandwidth(threads: int, mbytes: int, out_dir: str, reps: int = 10) -> Dict[str, float]:
    """Best-of-|reps| read and triad bandwidth in GB/s over arrays of
    |mbytes| MB each (far beyond the caches)."""
    so = _stream_library(out_dir)
    n = mbytes * (1 << 20) // 4
    a = np.ones(n, np.float32)
    b = np.ones(n, np.float32)
    c = np.ones(n, np.float32)
    ptr = lambda x: x.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    best_read = best_triad = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        so.sparsa_stream_read(ptr(a), n, threads)
        best_read = min(best_read, time.perf_counter() - t0)
        t0 = time.perf_counter()
        so.sparsa_stream_triad(ptr(a), ptr(b), ptr(c), 3.0, n, threads)
        best_triad = min(best_triad, time.perf_counter() - t0)
    return {"read_gbs": 4 * n / best_read / 1e9, "triad_gbs": 3 * 4 * n / best_triad / 1e9}


def _rss_probe(so_path: str, feeds_path: str, threads: int) -> Dict[str, int]:
    """Runs a compiled model once in a fresh process; returns its resident
    memory before loading and its peak (bytes)."""
    code = (
        "import sys, numpy as np, sparsa\n"
        "def kb(key):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(key): return int(line.split()[1]) * 1024\n"
        "base = kb('VmRSS:')\n"
        "m = sparsa.load(sys.argv[1], num_threads=int(sys.argv[3]))\n"
        "feeds = dict(np.load(sys.argv[2]))\n"
        "m.run(feeds); m.run(feeds)\n"
        "print(base, kb('VmHWM:'))\n")
    out = subprocess.run([sys.executable, "-c", code, so_path, feeds_path, str(threads)],
                         capture_output=True, text=True, check=True)
    base, peak = map(int, out.stdout.split())
    return {"rss_before_load": base, "rss_peak": peak}


#===------------------------------------------------------------------------===#
# Timing
#===------------------------------------------------------------------------===#

def _alternating_medians(fns, iters: int, warmup: int = 3,
                         min_seconds: float = 1.0, max_iters: int = 400) -> List[float]:
    """Medians (ms) of alternating runs of |fns|: at least |iters| rounds,
    more for short cases until the rounds span about |min_seconds| (at most
    |max_iters|), so that a few-millisecond case is not decided by this
    host's second-to-second noise."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        for fn in fns:
            fn()
    per_round = (time.perf_counter() - t0) / warmup
    iters = max(iters, min(max_iters, int(min_seconds / max(per_round, 1e-6))))
    times: List[List[float]] = [[] for _ in fns]
    for _ in range(iters):
        for fn, acc in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            acc.append((time.perf_counter() - t0) * 1e3)
    return [statistics.median(t) for t in times]


@dataclass
class Result:
    case: str
    description: str
    threads: int
    sparsa_ms: float
    ort_ms: float
    ratio: float
    sparsa_gbs: float
    ort_gbs: float
    sparsa_gflops: float
    ort_gflops: float
    pct_read_bw: float
    max_abs_err: float
    compile_seconds: float
    extra: Dict[str, float] = field(default_factory=dict)


def run_case(case: Case, threads_list: List[int], iters: int, out_dir: str,
             bandwidth: Dict[int, Dict[str, float]], rss: bool,
             keep_models: bool = False, probe_mb: int = 0) -> List[Result]:
    import onnxruntime as ort

    import sparsa

    onnx_path = os.path.join(out_dir, case.name + ".onnx")
    so_path = os.path.join(out_dir, case.name + ".so")
    report_path = os.path.join(out_dir, case.name + ".report.json")
    case.build(onnx_path)
    sparsa.compile(onnx_path, so_path, report=report_path,
                   disable_fusion=list(case.disable_fusion),
                   int8_activations=case.int8_activations)
    with open(report_path) as f:
        compile_seconds = float(json.load(f).get("compile_seconds", 0.0))
    feeds = case.inputs(np.random.default_rng(0))
    results = []
    for threads in threads_list:
        model = sparsa.load(so_path, num_threads=threads)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        ours = model.run(feeds)
        ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        err = max(float(np.max(np.abs(ours[k] - ref[k]))) for k in ref)
        # This host's bandwidth drifts by a third within a run: a
        # memory-bound case is set against a probe taken just before it.
        read_bw = bandwidth[threads]["read_gbs"]
        if case.weight_bytes and probe_mb:
            read_bw = measure_bandwidth(threads, probe_mb, out_dir, reps=4)["read_gbs"]
        t_s, t_o = _alternating_medians(
            [lambda: model.run(feeds), lambda: sess.run(None, feeds)], iters)
        gbs = case.weight_bytes / (t_s * 1e-3) / 1e9
        r = Result(case.name, case.description, threads, t_s, t_o, t_o / t_s,
                   gbs, case.weight_bytes / (t_o * 1e-3) / 1e9,
                   case.flops / (t_s * 1e-3) / 1e9, case.flops / (t_o * 1e-3) / 1e9,
                   100.0 * gbs / read_bw if case.weight_bytes else 0.0, err,
                   compile_seconds)
        if case.weight_bytes and probe_mb:
            r.extra["read_gbs_at_case"] = read_bw
        if rss and threads == threads_list[-1]:
            feeds_path = os.path.join(out_dir, case.name + ".feeds.npz")
            np.savez(feeds_path, **feeds)
            mem = _rss_probe(so_path, feeds_path, threads)
            r.extra["rss_peak_over_weights"] = (
                (mem["rss_peak"] - mem["rss_before_load"]) / max(1, case.weight_bytes))
            r.extra.update({k: float(v) for k, v in mem.items()})
            r.extra["weight_bytes"] = float(case.weight_bytes)
        r.extra["bytes_bound"] = (case.dense_bytes or case.weight_bytes) / max(1, case.weight_bytes)
        results.append(r)
        del sess, model
    if not keep_models:
        # The full suite's models and libraries weigh gigabytes each.
        for path in (onnx_path, onnx_path + ".data", so_path, so_path + ".weights",
                     os.path.join(out_dir, case.name + ".feeds.npz")):
            if os.path.exists(path):
                os.remove(path)
    return results


#===------------------------------------------------------------------------===#
# Reports
#===------------------------------------------------------------------------===#

def markdown(results: List[Result], machine: Dict) -> str:
    lines = [
        "# Performance",
        "",
        "Generated by `python -m sparsa.bench` "
        f"(suite `{machine['suite']}`, at least {machine['iters']} alternating runs per "
        "point, more for short cases until they span about a second, "
        "median; neither library spin-waits). Ratio = ONNX Runtime time / Sparsa time "
        "(> 1: Sparsa faster). GB/s counts the weight bytes each run reads; % BW sets "
        "Sparsa's against the read bandwidth measured just before the case, same threads "
        "(this host's bandwidth drifts by a third within a run; the machine line gives "
        "the best of the probes before and after all cases). "
        "Bytes bound = the bytes a dense execution reads over the bytes this case must read: "
        "the speedup reading fewer bytes can give at most when both run at the same "
        "bandwidth (routed experts, active neurons, index sets).",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores. Measured bandwidth: "
        + ", ".join(f"{t} thread(s) read {bw['read_gbs']:.1f} GB/s, triad "
                    f"{bw['triad_gbs']:.1f} GB/s" for t, bw in machine["bandwidth"].items())
        + ".",
        "",
        "| case | threads | Sparsa ms | ORT ms | ratio | bytes bound | Sparsa GB/s | % BW "
        "| Sparsa GFLOP/s | ORT GFLOP/s | max abs err | compile s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.case} | {r.threads} | {r.sparsa_ms:.3f} | {r.ort_ms:.3f} | "
            f"{r.ratio:.2f} | {r.extra.get('bytes_bound', 1.0):.2f} | "
            f"{r.sparsa_gbs:.1f} | {r.pct_read_bw:.0f} | "
            f"{r.sparsa_gflops:.1f} | {r.ort_gflops:.1f} | {r.max_abs_err:.1e} | "
            f"{r.compile_seconds:.2f} |")
    mem = [r for r in results if "rss_peak_over_weights" in r.extra]
    if mem:
        lines += ["", "Peak resident memory of a fresh process running the model, minus its "
                  "memory before loading, over the weight bytes:"]
        for r in mem:
            used = (r.extra["rss_peak"] - r.extra["rss_before_load"]) / 1e6
            lines.append(f"- {r.case}: {r.extra['rss_peak_over_weights']:.2f}x "
                         f"({used:.0f} MB for {r.extra['weight_bytes'] / 1e6:.0f} MB of weights)")
    lines += ["", "Descriptions:", ""]
    for name in dict.fromkeys(r.case for r in results):
        desc = next(r.description for r in results if r.case == name)
        lines.append(f"- `{name}`: {desc}")
    return "\n".join(lines) + "\n"


def chart(results: List[Result], path: str) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [f"{r.case}\n{r.threads}T" for r in results]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(results)), 4))
    ax.bar(range(len(results)), [r.ratio for r in results], color="#3a7bd5")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("ONNX Runtime time / Sparsa time")
    ax.set_title("Sparsa vs ONNX Runtime (higher is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _render(json_path: str, out_dir: str, md_path) -> int:
    """Re-renders the Markdown table and chart of a finished run (new
    columns, e.g. the bytes bound, from the suite's case definitions)."""
    with open(json_path) as f:
        data = json.load(f)
    machine = data["machine"]
    cases = _cases(machine.get("suite") == "full")
    results = []
    for d in data["results"]:
        r = Result(**d)
        c = cases.get(r.case)
        if c is not None:
            r.description = c.description
            if "bytes_bound" not in r.extra:
                r.extra["bytes_bound"] = (c.dense_bytes or c.weight_bytes) / max(1, c.weight_bytes)
        results.append(r)
    os.makedirs(out_dir, exist_ok=True)
    md = markdown(results, machine)
    with open(os.path.join(out_dir, "bench.md"), "w") as f:
        f.write(md)
    png = os.path.join(out_dir, "bench.png")
    if md_path:
        with open(md_path, "w") as f:
            f.write(md + "\n![ratios](performance.png)\n")
        if chart(results, png):
            import shutil
            shutil.copy(png, os.path.join(os.path.dirname(md_path) or ".", "performance.png"))
    print(f"rendered {json_path}")
    return 0


def _peak_probe(kind: str, model_path: str, feeds_path: str, threads: int) -> Dict[str, float]:
    """Runs |model_path| (a compiled library, kind "sparsa", or an ONNX file,
    kind "ort") in a fresh process: best-of-3 latency (ms) and the resident
    memory the runs added over the loaded process (bytes)."""
    code = (
        "import sys, time, numpy as np\n"
        "def kb(key):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(key): return int(line.split()[1]) * 1024\n"
        "feeds = dict(np.load(sys.argv[2])); t = int(sys.argv[3])\n"
        "if sys.argv[4] == 'sparsa':\n"
        "    import sparsa; m = sparsa.load(sys.argv[1], num_threads=t); run = lambda: m.run(feeds)\n"
        "else:\n"
        "    import onnxruntime as ort; so = ort.SessionOptions(); so.intra_op_num_threads = t\n"
        "    so.inter_op_num_threads = 1\n"
        "    so.add_session_config_entry('session.intra_op.allow_spinning', '0')\n"
        "    s = ort.InferenceSession(sys.argv[1], so, providers=['CPUExecutionProvider'])\n"
        "    run = lambda: s.run(None, feeds)\n"
        "base = kb('VmRSS:'); ts = []\n"
        "for _ in range(3):\n"
        "    t0 = time.perf_counter(); run(); ts.append(time.perf_counter() - t0)\n"
        "print(min(ts) * 1e3, kb('VmHWM:') - base)\n")
    env = dict(os.environ, KMP_BLOCKTIME="0")
    out = subprocess.run([sys.executable, "-c", code, model_path, feeds_path, str(threads), kind],
                         capture_output=True, text=True, check=True, env=env)
    ms, mem = out.stdout.split()
    return {"ms": float(ms), "peak_bytes": float(mem)}


def flow_scaling(out_dir: str, lengths: List[int], threads: int, ort_max: int,
                 md_path=None) -> int:
    """Causal Flowformer (the reference module's CumSum export) at growing
    L: latency and the memory a run adds, Sparsa against ONNX Runtime on
    the same file (ONNX Runtime up to |ort_max|: it builds [L, D, D] per
    head). Writes flow_scaling.{json,md,png} under |out_dir|."""
    import sparsa
    from sparsa import models

    os.makedirs(out_dir, exist_ok=True)
    heads, d = 8, 64
    rows = []
    for L in lengths:
        onnx_path = os.path.join(out_dir, f"flow_causal_{L}.onnx")
        so_path = os.path.join(out_dir, f"flow_causal_{L}.so")
        feeds_path = os.path.join(out_dir, f"flow_causal_{L}.npz")
        models.flowformer(onnx_path, L, heads, d, causal=True, form="einsum")
        sparsa.compile(onnx_path, so_path)
        rng = np.random.default_rng(0)
        np.savez(feeds_path, **{n: rng.standard_normal((1, heads, L, d)).astype(np.float32)
                                for n in "qkv"})
        row = {"L": L, "input_bytes": 4.0 * 3 * heads * L * d}
        row["sparsa"] = _peak_probe("sparsa", so_path, feeds_path, threads)
        if L <= ort_max:
            row["ort"] = _peak_probe("ort", onnx_path, feeds_path, threads)
        rows.append(row)
        print(f"L {L:6d}  sparsa {row['sparsa']['ms']:9.2f} ms "
              f"{row['sparsa']['peak_bytes'] / 2**20:8.1f} MiB" +
              (f"   ort {row['ort']['ms']:9.2f} ms {row['ort']['peak_bytes'] / 2**20:8.1f} MiB"
               if "ort" in row else ""), flush=True)
        for path in (onnx_path, so_path, feeds_path):
            os.remove(path)
    with open(os.path.join(out_dir, "flow_scaling.json"), "w") as f:
        json.dump({"threads": threads, "heads": heads, "head_dim": d, "rows": rows}, f, indent=1)
    lines = ["# Causal Flowformer: time and memory against the sequence length", "",
             f"`python -m sparsa.bench --flow-scaling`: the reference module's causal export "
             f"(CumSum of the [L, D, D] outer products), {heads} heads x {d}, batch 1, "
             f"{threads} thread(s), best of 3 runs in a fresh process; memory is what the "
             "runs added to the loaded process's resident set (inputs excluded). ONNX "
             "Runtime runs the file as written.", "",
             "| L | Sparsa ms | Sparsa MiB | ms / L (us) | ONNX Runtime ms | ONNX Runtime MiB | ratio |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        s, o = r["sparsa"], r.get("ort")
        lines.append(f"| {r['L']} | {s['ms']:.2f} | {s['peak_bytes'] / 2**20:.1f} | "
                     f"{1e3 * s['ms'] / r['L']:.2f} | " +
                     (f"{o['ms']:.1f} | {o['peak_bytes'] / 2**20:.0f} | {o['ms'] / s['ms']:.1f}x |"
                      if o else "- | - | - |"))
    md = "\n".join(lines) + "\n\n![scaling](flow_scaling.png)\n"
    with open(os.path.join(out_dir, "flow_scaling.md"), "w") as f:
        f.write(md)
    png = os.path.join(out_dir, "flow_scaling.png")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        Ls = [r["L"] for r in rows]
        a1.loglog(Ls, [r["sparsa"]["ms"] for r in rows], "o-", label="Sparsa")
        a2.loglog(Ls, [max(r["sparsa"]["peak_bytes"], 1) / 2**20 for r in rows], "o-",
                  label="Sparsa")
        oL = [r["L"] for r in rows if "ort" in r]
        if oL:
            a1.loglog(oL, [r["ort"]["ms"] for r in rows if "ort" in r], "s--",
                      label="ONNX Runtime")
            a2.loglog(oL, [max(r["ort"]["peak_bytes"], 1) / 2**20 for r in rows if "ort" in r],
                      "s--", label="ONNX Runtime")
        for ax, what in ((a1, "latency (ms)"), (a2, "memory added by a run (MiB)")):
            ax.set_xlabel("sequence length L")
            ax.set_ylabel(what)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        fig.suptitle(f"causal Flowformer, {heads} heads x {d}, {threads} threads")
        fig.tight_layout()
        fig.savefig(png, dpi=100)
    except ImportError:
        png = None
    if md_path:
        with open(md_path, "w") as f:
            f.write(md)
        if png:
            import shutil
            shutil.copy(png, os.path.join(os.path.dirname(md_path) or ".", "flow_scaling.png"))
    print(f"wrote {out_dir}/flow_scaling.json, flow_scaling.md" + (", flow_scaling.png" if png else ""))
    return 0


def _gpu_peak_gbs() -> Tuple[float, str]:
    """Device 0's DRAM bandwidth from the driver (2 x memory clock x bus
    width), or H200's nominal 4.8 TB/s when the driver does not say."""
    import ctypes
    try:
        cu = ctypes.CDLL("libcuda.so.1")
        cu.cuInit(0)
        dev, clock, width, name = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), \
            ctypes.create_string_buffer(256)
        cu.cuDeviceGet(ctypes.byref(dev), 0)
        cu.cuDeviceGetName(name, 256, dev)
        cu.cuDeviceGetAttribute(ctypes.byref(clock), 36, dev)  # memory clock, kHz
        cu.cuDeviceGetAttribute(ctypes.byref(width), 37, dev)  # bus width, bits
        if clock.value > 0 and width.value > 0:
            return 2.0 * clock.value * 1e3 * width.value / 8 / 1e9, name.value.decode()
        return 4800.0, name.value.decode()
    except (OSError, AttributeError):
        return 4800.0, "unknown (nominal H200 peak)"


# Neurons of the GPU bench's sparse FFN (hidden: the case's k).
SPARSE_INNER = 14336


def _bench_input(rows: int, k: int) -> np.ndarray:
    """The GPU bench's input of a case: |rows| x |k|, seed 0."""
    return np.random.default_rng(0).standard_normal((rows, k)).astype(np.float32)


def _active_neurons(onnx_path: str, x: np.ndarray) -> int:
    """Active ReLU neurons of the bench's sparse FFN for input |x| (numpy on
    the model's weights; the first token)."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(onnx_path)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    w1 = next(v for n, v in inits.items() if "fc1" in n and v.ndim == 2)
    b1 = next(v for n, v in inits.items() if "fc1" in n and v.ndim == 1)
    return int(((x[0] @ w1 + b1) > 0).sum())


def gpu_bench(out_dir: str, iters: int, markdown_path: Optional[str],
              compile_only: bool = False, threads: int = 0, only: str = "") -> int:
    """GPU cases: fp32 decode GEMVs (one token, and 8), GEMMs and an int4
    MatMulNBits GEMV (f32 and int8 activations) compiled
    with --target=cuda, timed through the runtime (input and output copies
    and the launches' fixed cost included), with achieved bandwidth /
    TFLOP/s against the device's peak and the CPU build of the same model
    beside it. A 64x64 model measures the fixed cost of a run; the "net"
    bandwidth leaves it out. Weights are the deterministic "pattern" kind
    (few distinct values), so the libraries compress for carrying
    (tools/gpu-prepare.sh); DRAM traffic does not depend on the values.
    With |compile_only| the models are only generated and compiled."""
    import sparsa
    from sparsa import models

    # The CPU build's OpenMP threads must not spin after their run while the
    # GPU run's host thread launches kernels (set before libomp starts).
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    os.makedirs(out_dir, exist_ok=True)
    # (name, rows, k = n, tuning flags); the weights are k x n fp32 (f16 in
    # the _f16_ cases: input and output cast around them). The
    # "scalar" variants are the code generator without vector threads (one
    # scalar thread per output; for f16, no tensor cores), the "regs" ones
    # GEMMs without shared-memory tiles (register-tiled threads only), the
    # "t..." ones other split-K thread
    # targets: the same run compares them with the default. A variant
    # reuses its base case's model and CPU build. The nbits_ cases are a
    # MatMulNBits int4 GEMV (block 32, packed zero points): "int8" with
    # --int8-activations (dp4a; its CPU build too), "bytes" without the
    # quantized GEMV threads (the split-K byte loop they replaced);
    # nbits_int4_p512 is its prefill, 512 rows with int8 activations on
    # int8 tensor cores (mma.sync m16n8k32), "dp4a" without them (the
    # GEMV threads at every row), "f32" with float activations. The
    # sparse_ cases are a ReLU FFN 4096 -> 14336 -> 4096 (3022 neurons, 21 %,
    # active for the bench's input with the periodic weights; GB/s counts W1
    # and the active rows of W2) with the warp compaction ("chunked": the
    # per-thread chunks).
    cases = [("tiny_f32", 1, 64, []), ("gemv_f32_4k", 1, 4096, []),
             ("gemv_f32_8k", 1, 8192, []), ("gemv_f32_16k", 1, 16384, []),
             ("gemv_f32_b8_8k", 8, 8192, []),
             ("gemm_f32_4k", 512, 4096, []), ("gemm_f32_8k", 1024, 8192, []),
             ("gemv_f32_16k/scalar", 1, 16384, ["--x-gpu-vector-width=1"]),
             ("gemv_f32_16k/t64k", 1, 16384, ["--x-gpu-target-threads=65536"]),
             ("gemv_f32_16k/t256k", 1, 16384, ["--x-gpu-target-threads=262144"]),
             ("gemv_f32_b8_8k/scalar", 8, 8192, ["--x-gpu-vector-width=1"]),
             ("gemv_f32_b8_8k/u16", 8, 8192, ["--x-gpu-unroll=16"]),
             ("gemv_f32_b8_8k/u32", 8, 8192, ["--x-gpu-unroll=32"]),
             ("gemm_f32_4k/scalar", 512, 4096, ["--x-gpu-vector-width=1"]),
             ("gemm_f32_4k/regs", 512, 4096, ["--x-gpu-shared-tiles=false"]),
             ("gemm_f32_8k/regs", 1024, 8192, ["--x-gpu-shared-tiles=false"]),
             ("gemm_f16_4k", 512, 4096, []), ("gemm_f16_8k", 1024, 8192, []),
             ("gemm_f16_4k/scalar", 512, 4096, ["--x-gpu-tensor-cores=false"]),
             ("nbits_int4_16k", 1, 16384, []),
             ("nbits_int4_16k/int8", 1, 16384, ["--int8-activations"]),
             ("nbits_int4_16k/bytes", 1, 16384, ["--x-gpu-quantized-gemv=false"]),
             ("nbits_int4_16k/int8-bytes", 1, 16384,
              ["--int8-activations", "--x-gpu-quantized-gemv=false"]),
             ("nbits_int4_p512", 512, 4096, ["--int8-activations"]),
             ("nbits_int4_p512/dp4a", 512, 4096,
              ["--int8-activations", "--x-gpu-tensor-cores=false"]),
             ("nbits_int4_p512/f32", 512, 4096, []),
             ("sparse_relu_14k", 1, 4096, []),
             ("sparse_relu_14k/chunked", 1, 4096, ["--x-gpu-warp-compaction=false"])]
    if only:
        keep = set(only.split(","))
        cases = [c for c in cases if c[0] in keep]
    built = []
    active_of = {}
    for base in dict.fromkeys(c[0].split("/")[0] for c in cases):
        variants = [c for c in cases if c[0].split("/")[0] == base]
        rows, k = variants[0][1], variants[0][2]
        onnx_path = os.path.join(out_dir, base + ".onnx")
        half = "_f16_" in base
        if base.startswith("nbits_"):
            models.matmul_nbits(onnx_path, K=k, N=k, bits=4, block=32, batch=rows,
                                weights="pattern")
        elif base.startswith("sparse_"):
            models.sparse_ffn(onnx_path, hidden=k, inner=SPARSE_INNER, tokens=rows,
                              mode="relu", sparsity=0.9, weights="pattern")
            active_of[base] = _active_neurons(onnx_path, _bench_input(rows, k))
        else:
            models.mlp(onnx_path, [k, k], batch=rows, weights="pattern",
                       dtype="float16" if half else "float32")
        cpu_builds = {}
        for name, _, _, flags in variants:
            # The CPU build takes the variant's semantic flags (int8).
            cpu_flags = [f for f in flags if f == "--int8-activations"]
            key = " ".join(cpu_flags)
            if key not in cpu_builds:
                cpu_so = os.path.join(out_dir, base + (".int8" if cpu_flags else "") + ".cpu.so")
                try:
                    sparsa.compile(onnx_path, cpu_so, extra_args=cpu_flags)
                    cpu_builds[key] = cpu_so
                except sparsa.SparsaError as e:
                    print(f"skipped {base} {key}: {e}", flush=True)
                    cpu_builds[key] = None
            cpu_so = cpu_builds[key]
            if cpu_so is None:
                continue
            gpu_so = os.path.join(out_dir, name.replace("/", "-") + ".cuda.so")
            try:
                sparsa.compile(onnx_path, gpu_so, target="cuda", extra_args=flags)
            except sparsa.SparsaError as e:
                # (Replaying a recording that was too large to carry.)
                print(f"skipped {name}: {e}", flush=True)
                continue
            built.append((name, rows, k, gpu_so, cpu_so))
            print(f"compiled {name}", flush=True)
        os.remove(onnx_path)
    if compile_only:
        return 0

    peak, device = _gpu_peak_gbs()
    lines = [f"GPU: {device}, DRAM peak {peak:.0f} GB/s (driver's memory clock x bus width); "
             f"median of at least {iters} back-to-back runs through the runtime (input and "
             f"output copies included), then the same for the CPU build "
             f"({threads or 'all'} threads)", "",
             "| case | shape | GPU ms | GB/s | % peak BW | net GB/s | net % peak | TFLOP/s "
             "| CPU (Sparsa) ms | GPU speed-up | max err |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    ok = True
    fixed_ms = 0.0
    for name, rows, k, gpu_so, cpu_so in built:
        n = k
        nbits = name.startswith("nbits_")
        x = _bench_input(rows, k)
        feeds = {"A" if nbits else "x": x}
        gpu, cpu = sparsa.load(gpu_so), sparsa.load(cpu_so, num_threads=threads)
        got, ref = gpu.run(feeds), cpu.run(feeds)
        scale = max(1.0, max(float(np.max(np.abs(v))) for v in ref.values()))
        err = max(float(np.max(np.abs(got[o] - ref[o]))) for o in ref) / scale
        # (f16 outputs: the CPU build and the tensor cores may round a sum
        # to neighbouring f16 values.)
        half = "_f16_" in name
        ok &= err <= (2e-3 if half else 1e-4)
        # Back to back, not alternating: a GPU left idle while the CPU build
        # runs lowers its clocks, and the next run pays for it.
        (t_g,) = _alternating_medians([lambda: gpu.run(feeds)], iters)
        (t_c,) = _alternating_medians([lambda: cpu.run(feeds)], iters)
        if name == "tiny_f32":
            fixed_ms = t_g
        if nbits:  # int4 codes, an f32 scale and a 4-bit zero point per 32
            bytes_moved = k * n // 2 + 4 * (k // 32) * n + (k // 64) * n + 4 * 2 * rows * k
        elif name.startswith("sparse_"):  # W1, then the active rows of W2
            active = active_of[name.split("/")[0]]
            bytes_moved = 4 * (k * SPARSE_INNER + active * k) + 4 * 2 * rows * k
            n = SPARSE_INNER + active  # (the FLOP count: 2 x k x n; "shape" shows it too)
        else:
            bytes_moved = (2 if half else 4) * (k * n + n) + 4 * 2 * rows * k
        gbs = bytes_moved / (t_g * 1e-3) / 1e9
        net_ms = max(t_g - fixed_ms, 1e-6)
        net = bytes_moved / (net_ms * 1e-3) / 1e9 if name != "tiny_f32" else gbs
        tflops = 2.0 * rows * k * n / (t_g * 1e-3) / 1e12
        line = (f"| {name} | {rows}x{k} @ {k}x{n} | {t_g:.3f} | {gbs:.0f} | "
                f"{100 * gbs / peak:.0f} % | {net:.0f} | {100 * net / peak:.0f} % | "
                f"{tflops:.2f} | {t_c:.3f} | {t_c / t_g:.1f}x | {err:.1e} |")
        print(line, flush=True)
        lines.append(line)
        del gpu, cpu
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "gpu_bench.md"), "w") as f:
        f.write(md)
    if markdown_path:
        with open(markdown_path, "w") as f:
            f.write(md)
    return 0 if ok else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", choices=["smoke", "full"], default="full")
    p.add_argument("--cases", default="", help="comma-separated subset of the suite")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--out", default="out/bench")
    p.add_argument("--markdown", default=None, help="also write the table here")
    p.add_argument("--keep-models", action="store_true",
                   help="keep each case's .onnx / .so / weights under --out (deleted by "
                        "default: the full suite's weigh gigabytes)")
    p.add_argument("--bandwidth-mb", type=int, default=None)
    p.add_argument("--render", default=None, metavar="BENCH_JSON",
                   help="only re-render the table and chart of an earlier run's bench.json")
    p.add_argument("--flow-scaling", action="store_true",
                   help="only the causal Flowformer sweep over --lengths (latency and memory "
                        "against L, Sparsa and ONNX Runtime); --markdown gets its table")
    p.add_argument("--lengths", default="512,1024,2048,4096,8192,16384,32768")
    p.add_argument("--ort-max-length", type=int, default=4096,
                   help="longest L ONNX Runtime runs in the sweep ([L, D, D] per head)")
    p.add_argument("--gpu", action="store_true",
                   help="only the GPU cases (--target=cuda; needs an NVIDIA GPU): GEMV / "
                        "GEMM against the device's peak bandwidth")
    p.add_argument("--compile-only", action="store_true",
                   help="with --gpu: generate and compile the models, run nothing "
                        "(recording prebuilt libraries, tools/gpu-prepare.sh)")
    args = p.parse_args(argv)
    if args.gpu:
        return gpu_bench(args.out, args.iters, args.markdown, args.compile_only,
                         int(args.threads.split(",")[-1]), args.cases)
    if args.flow_scaling:
        os.environ.setdefault("KMP_BLOCKTIME", "0")
        threads = int(args.threads.split(",")[-1])
        return flow_scaling(args.out, [int(x) for x in args.lengths.split(",")], threads,
                            args.ort_max_length, args.markdown)
    if args.render:
        return _render(args.render, args.out, args.markdown)

    os.environ.setdefault("KMP_BLOCKTIME", "0")  # before any libomp starts
    os.makedirs(args.out, exist_ok=True)
    full = args.suite == "full"
    cases = _cases(full)
    names = [c for c in args.cases.split(",") if c] or list(cases)
    unknown = [n for n in names if n not in cases]
    if unknown:
        p.error(f"unknown case(s) {unknown}; known: {list(cases)}")
    threads_list = [int(t) for t in args.threads.split(",")]
    mb = args.bandwidth_mb or (512 if full else 64)
    bandwidth = {t: measure_bandwidth(t, mb, args.out) for t in threads_list}
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
               "suite": args.suite, "iters": args.iters, "bandwidth": bandwidth}
    try:
        with open("/proc/cpuinfo") as f:
            machine["cpu"] = next(l.split(":", 1)[1].strip() for l in f
                                  if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    for t, bw in bandwidth.items():
        print(f"bandwidth, {t} thread(s): read {bw['read_gbs']:.1f} GB/s, "
              f"triad {bw['triad_gbs']:.1f} GB/s")
    results: List[Result] = []
    ok = True
    for name in names:
        case = cases[name]
        rs = run_case(case, threads_list, args.iters, args.out, bandwidth,
                      rss=name == "decode_ffn", keep_models=args.keep_models, probe_mb=mb)
        for r in rs:
            print(f"{r.case:16s} {r.threads}T  sparsa {r.sparsa_ms:9.3f} ms  "
                  f"ort {r.ort_ms:9.3f} ms  ratio {r.ratio:5.2f}  "
                  f"{r.sparsa_gbs:6.1f} GB/s ({r.pct_read_bw:3.0f} % BW)  "
                  f"{r.sparsa_gflops:7.1f} GFLOP/s  err {r.max_abs_err:.1e}", flush=True)
            if not r.max_abs_err <= case.atol:
                print(f"error: {r.case}: outputs differ from ONNX Runtime by "
                      f"{r.max_abs_err:.3g} (> {case.atol})", file=sys.stderr)
                ok = False
        results.extend(rs)
    # The machine's speed drifts (shared hosts): measure the limits again
    # after the cases and keep the better reading of each, so "% BW" is set
    # against the best this machine showed during the run.
    for t in threads_list:
        again = measure_bandwidth(t, mb, args.out)
        for key in bandwidth[t]:
            bandwidth[t][key] = max(bandwidth[t][key], again[key])
        print(f"bandwidth again, {t} thread(s): read {again['read_gbs']:.1f} GB/s, "
              f"triad {again['triad_gbs']:.1f} GB/s")
    for r in results:
        if r.sparsa_gbs and "read_gbs_at_case" not in r.extra:
            r.pct_read_bw = 100.0 * r.sparsa_gbs / bandwidth[r.threads]["read_gbs"]
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump({"machine": machine, "results": [asdict(r) for r in results]}, f, indent=1)
    md = markdown(results, machine)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md + "\n![ratios](performance.png)\n")
    png = os.path.join(args.out, "bench.png")
    if chart(results, png) and args.markdown:
        import shutil
        shutil.copy(png, os.path.join(os.path.dirname(args.markdown) or ".", "performance.png"))
    print(f"wrote {args.out}/bench.json, bench.md, bench.png")
    return 0 if ok else 1


def _pinned_blas() -> None:
    """Restarts `python -m sparsa.bench` with OPENBLAS_NUM_THREADS=1 (already in
    the environment) when numpy was imported before it was set: otherwise
    OpenBLAS's worker thread spins beside the timed runs, on a 2-core host
    ~11 % of the samples of a profile, and slowed a small model's run from
    18 to 29 us (1 thread)."""
    if not _BLAS_PINNED:
        os.execv(sys.executable, [sys.executable, "-m", "sparsa.bench", *sys.argv[1:]])


if __name__ == "__main__":
    _pinned_blas()
    raise SystemExit(main())
