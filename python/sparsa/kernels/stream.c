// Memory bandwidth probes for the benchmark harness (STREAM-style), built by
// sparsa.bench with the same clang and OpenMP as compiled models: a read
// kernel (a sum over a large array, the access pattern of a GEMV over its
// weights) and the classic triad a = b + s * c.
#include <omp.h>
#include <stddef.h>

double sparsa_stream_read(const float *a, size_t n, int threads) {
  float total = 0.0f;
  // simd: the reduction may be reordered, so it vectorizes and keeps
  // several loads in flight (the point is to saturate the memory bus).
#pragma omp parallel for simd num_threads(threads) reduction(+ : total) schedule(static)
  for (size_t i = 0; i < n; ++i)
    total += a[i];
  return total;
}

void sparsa_stream_triad(float *a, const float *b, const float *c, float s, size_t n,
                         int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i)
    a[i] = b[i] + s * c[i];
}
