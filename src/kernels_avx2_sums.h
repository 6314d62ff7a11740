/* Reductions shared by the AVX2 kernel files (kernels_avx2.c and
 * kernels_sgd_avx2.c, each compiled with -mavx2): one home for the order
 * in which a loss kernel's lanes are added, so that sgd's loss pass walked
 * with its rule has the loss kernel's bits by construction. */
#ifndef NEURON_KERNELS_AVX2_SUMS_H
#define NEURON_KERNELS_AVX2_SUMS_H

#include <immintrin.h>

/* (v0 + v2) + (v1 + v3). */
static inline double hsum(__m256d v) {
    __m128d lo = _mm256_castpd256_pd128(v), hi = _mm256_extractf128_pd(v, 1);
    lo = _mm_add_pd(lo, hi);
    return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

/* The dot products of four rows, row k's in lane k, from their lane
 * accumulators a0..a3: lane k is (ak[2] + ak[3]) + (ak[0] + ak[1]), two
 * hadds and a cross-lane add (no horizontal sum per row). */
static inline __m256d dots4(__m256d a0, __m256d a1, __m256d a2, __m256d a3) {
    const __m256d h0 = _mm256_hadd_pd(a0, a1), h1 = _mm256_hadd_pd(a2, a3);
    return _mm256_add_pd(_mm256_permute2f128_pd(h0, h1, 0x21), _mm256_blend_pd(h0, h1, 0xc));
}

#endif
