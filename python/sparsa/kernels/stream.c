// Memory bandwidth probes for the benchmark harness (STREAM-style), built by
// sparsa.bench with the same clang and OpenMP as compiled models: a read
// kernel (a sum over a large array, the access pattern of a GEMV over its
// weights) and the classic triad a = b + s * c.
#include <omp.h>
#include <stddef.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));

// Each thread sums its share as four concurrent sequential streams (one
// accumulator each), so several hardware prefetch streams and cache-line
// misses are in flight at once: the access pattern of a GEMV reading a few
// weight rows together.
double sparsa_stream_read(const float *a, size_t n, int threads) {
  double total = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    size_t per = (n / nt) & ~(size_t)63;
    size_t lo = per * t, hi = t == nt - 1 ? n : lo + per;
    size_t quarter = ((hi - lo) / 4) & ~(size_t)15;
    const float *p0 = a + lo, *p1 = p0 + quarter, *p2 = p1 + quarter, *p3 = p2 + quarter;
    v16 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i < quarter; i += 16) {
      v16 x0, x1, x2, x3;
      memcpy(&x0, p0 + i, 64);
      memcpy(&x1, p1 + i, 64);
      memcpy(&x2, p2 + i, 64);
      memcpy(&x3, p3 + i, 64);
      s0 += x0;
      s1 += x1;
      s2 += x2;
      s3 += x3;
    }
    v16 s = s0 + s1 + s2 + s3;
    float part = 0.0f;
    for (int j = 0; j < 16; ++j)
      part += s[j];
    for (size_t i = lo + 4 * quarter; i < hi; ++i)
      part += a[i];
    total += part;
  }
  return total;
}

void sparsa_stream_triad(float *a, const float *b, const float *c, float s, size_t n,
                         int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i)
    a[i] = b[i] + s * c[i];
}
