/* f16 widening with F16C (vcvtph2ps), eight halves an instruction: exact,
 * as the conversion of any half to a float is; a signalling NaN comes out
 * quiet, which the data never hold (NaN is refused on load). For what
 * needs f32 rows: the widened copy of the algorithms that read rows one
 * value at a time (train/loop.c) and the blocks an AVX2 f16 kernel declines
 * (trainer.c); the batch kernels read halves in place (kernels_avx2.c).
 * Compiled with -mf16c -mavx (meson.build) and called only when
 * dispatch.c has seen F16C. */
#include <immintrin.h>

#include "kernels.h"

void nr_widen_f16_f16c(const uint16_t *h, size_t n, float *out) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(h + i));
        const __m128i b = _mm_loadu_si128((const __m128i *)(h + i + 8));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(a));
        _mm256_storeu_ps(out + i + 8, _mm256_cvtph_ps(b));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    if (i < n) { /* the tail through a zero-padded vector: no read past h[n - 1] */
        uint16_t t[8] = {0};
        float f[8];
        memcpy(t, h + i, (n - i) * sizeof *t);
        _mm256_storeu_ps(f, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t)));
        memcpy(out + i, f, (n - i) * sizeof *f);
    }
}
