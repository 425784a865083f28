/*===- sparsa_runtime.h - Sparsa runtime C API --------------------*- C -*-===*
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 *===----------------------------------------------------------------------===*
 *
 * Loads a model compiled by sparsa-compile (MODEL.so plus its sidecar
 * MODEL.so.weights), describes its inputs and outputs, validates and runs.
 * The runtime has no MLIR or LLVM dependency.
 *
 * Ownership: *_load returns an owned model, released by
 * sparsa_model_release. Accessors borrow: the strings they return live as
 * long as the model. Output tensors filled by sparsa_model_run own their data
 * until sparsa_tensor_release.
 *
 * Thread safety: a loaded model may be run from many threads at once; every
 * call allocates its own scratch memory. sparsa_model_set_num_threads may
 * race with runs only in the thread count it picks.
 *
 * ABI: link statically or load the shared library of the same build; no
 * stability promise across versions.
 *
 *===----------------------------------------------------------------------===*/

#ifndef SPARSA_RUNTIME_SPARSA_RUNTIME_H
#define SPARSA_RUNTIME_SPARSA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define SPARSA_API __declspec(dllexport)
#else
#define SPARSA_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// Result of every fallible call; SPARSA_OK is 0. The message of the last
/// failure on this thread is sparsa_last_error().
typedef int32_t sparsa_status_t;
enum {
  SPARSA_OK = 0,
  SPARSA_INVALID_ARGUMENT = 1, /* wrong dtype, rank, shape, name, null */
  SPARSA_IO_ERROR = 2,         /* cannot open the library or weights */
  SPARSA_FORMAT_ERROR = 3,     /* not a Sparsa model, or mismatched files */
  SPARSA_RUNTIME_ERROR = 4,    /* failure while running */
};

/// Largest tensor rank the API carries.
#define SPARSA_MAX_RANK 8

/// Element types use ONNX TensorProto.DataType numbers.
enum {
  SPARSA_DTYPE_F32 = 1, SPARSA_DTYPE_U8 = 2, SPARSA_DTYPE_I8 = 3,
  SPARSA_DTYPE_U16 = 4, SPARSA_DTYPE_I16 = 5, SPARSA_DTYPE_I32 = 6,
  SPARSA_DTYPE_I64 = 7, SPARSA_DTYPE_BOOL = 9, SPARSA_DTYPE_F16 = 10,
  SPARSA_DTYPE_F64 = 11, SPARSA_DTYPE_U32 = 12, SPARSA_DTYPE_U64 = 13,
  SPARSA_DTYPE_BF16 = 16,
};

/// A dense row-major tensor. For inputs |data| is borrowed; for outputs the
/// runtime allocates it. In model descriptions, a dynamic dim is -1.
typedef struct sparsa_tensor_t {
  const char *name;
  int32_t dtype;
  int32_t rank;
  int64_t dims[SPARSA_MAX_RANK];
  void *data;
} sparsa_tensor_t;

/// Opaque loaded model.
typedef struct sparsa_model_t sparsa_model_t;

/// Message of the last failed call on the calling thread ("" if none).
SPARSA_API const char *sparsa_last_error(void);

/// Size in bytes of one element of |dtype|, 0 if unknown.
SPARSA_API size_t sparsa_dtype_size(int32_t dtype);

/// Loads the compiled model at |path| (its weights file next to it).
SPARSA_API sparsa_status_t sparsa_model_load(const char *path,
                                             sparsa_model_t **out_model);

/// Releases |model| (may be NULL).
SPARSA_API void sparsa_model_release(sparsa_model_t *model);

SPARSA_API int32_t sparsa_model_num_inputs(const sparsa_model_t *model);
SPARSA_API int32_t sparsa_model_num_outputs(const sparsa_model_t *model);

/// Describes input |index|: name, dtype, rank, dims (-1 = dynamic); |data|
/// is NULL.
SPARSA_API sparsa_status_t sparsa_model_input_info(const sparsa_model_t *model,
                                                   int32_t index,
                                                   sparsa_tensor_t *out_info);
/// Name of the symbolic dimension |dim| of input |index| ("" if none).
SPARSA_API const char *sparsa_model_input_dim_param(const sparsa_model_t *model,
                                                    int32_t index, int32_t dim);
SPARSA_API sparsa_status_t sparsa_model_output_info(const sparsa_model_t *model,
                                                    int32_t index,
                                                    sparsa_tensor_t *out_info);

/// Sets the number of threads later runs use (0 = the OpenMP default). Per
/// shape of the inputs, runs of a few microseconds keep one thread where a
/// few timed trials find that faster (waking a worker costs more than it
/// gains); outputs do not depend on the count. SPARSA_ADAPTIVE_THREADS=0
/// turns the trials off, =trace prints each decision to stderr.
SPARSA_API sparsa_status_t sparsa_model_set_num_threads(sparsa_model_t *model,
                                                        int32_t num_threads);

/// Runs |model| on |num_inputs| named |inputs| (matched by name; a NULL name
/// matches by position). Validates dtype, rank and shape of each input first.
/// Fills |out_outputs| (an array of sparsa_model_num_outputs entries) with
/// owned tensors.
SPARSA_API sparsa_status_t sparsa_model_run(sparsa_model_t *model,
                                            const sparsa_tensor_t *inputs,
                                            int32_t num_inputs,
                                            sparsa_tensor_t *out_outputs);

/// 1 when |model| was compiled with --target=cuda (runs use GPU 0), else 0.
SPARSA_API int32_t sparsa_model_is_cuda(const sparsa_model_t *model);

/// sparsa_model_run for a CUDA model whose inputs are already in device
/// memory: each input's |data| is a CUDA device pointer (cuMemAlloc or
/// cudaMalloc, device 0), read in place and never freed by the runtime.
/// Outputs are host tensors as with sparsa_model_run. Fails for CPU models.
SPARSA_API sparsa_status_t sparsa_model_run_device_inputs(sparsa_model_t *model,
                                                          const sparsa_tensor_t *inputs,
                                                          int32_t num_inputs,
                                                          sparsa_tensor_t *out_outputs);

/// Sparsity profile of a library compiled with --instrument=sparsity: the
/// number of sparse FFNs it counts (0 for other libraries); their counts
/// since load (or the last reset) written to |path| as JSON (per layer:
/// node, neurons, tokens, active, mean_density, density_histogram (tokens
/// per 1 % bin of their active fraction), neuron_counts (firings per
/// neuron)); the counts set back to zero. Runs update the counts without
/// atomics: profile from one thread of calls.
SPARSA_API int32_t sparsa_model_num_profiles(const sparsa_model_t *model);
SPARSA_API sparsa_status_t sparsa_model_write_profile(const sparsa_model_t *model,
                                                      const char *path);
SPARSA_API sparsa_status_t sparsa_model_reset_profile(sparsa_model_t *model);

/// Frees the data of an output tensor filled by sparsa_model_run.
SPARSA_API void sparsa_tensor_release(sparsa_tensor_t *tensor);

#ifdef __cplusplus
}
#endif

#endif /* SPARSA_RUNTIME_SPARSA_RUNTIME_H */
