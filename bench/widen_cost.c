/* What a value costs the core before the memory does, f16 rows against f32
 * rows (issue 17's f16 target): the inner work of the batch kernels of 16
 * features, on rows that sit in L1 so that no memory time hides it. Each
 * value is widened to double and used twice, by a dot product and by a
 * gradient update (two FMAs), as the kernels do:
 *
 *   f32  a widening load (vcvtps2pd from memory) at each use, as ROWS4;
 *   f16  8 halves widened once (vcvtph2ps, an extract, two vcvtps2pd from
 *        registers) and kept in registers for both uses, as PAIR_F16;
 *   f16x 4 halves at a time (vcvtph2ps of 4, one vcvtps2pd): no extract.
 *        Cheaper here, but not in the kernel: PAIR_F16 with these loads
 *        took 29.2-29.8 ms an epoch on 10M x 16 against 27.0-28.0 (4
 *        alternated pairs, 2026-11-30), so the kernel keeps f16's form.
 *
 * Reported: nanoseconds a value (median of 9 runs, each the best of 3
 * passes over 10^8 values), and f16 / f32. If f16 / f32 is well above 1 on
 * a machine, the f16 kernel's core time there is too: an epoch of f16 rows
 * cannot drop to half the f32 epoch, as half the bytes would let it, unless
 * the f32 epoch waits on memory for more than that difference. Meson builds
 * it as build/widen-cost; or, by hand:
 *
 *   cc -O2 -mavx2 -mfma -mf16c -o widen_cost bench/widen_cost.c && ./widen_cost */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { VALUES = 4096, PASSES = 100000000 / VALUES, RUNS = 9 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float f32[VALUES] __attribute__((aligned(64)));
static uint16_t f16[VALUES] __attribute__((aligned(64)));

/* Two uses a value: a = W x + a (the dot product), g = R x + g (the
 * gradient update), 16 values a step into 4 + 4 accumulators (8 chains of
 * FMAs in flight: at two FMAs a cycle and a latency of 4, the FMAs alone
 * take 4 cycles a step, 0.25 a value). X(v) is vector v of the step's 4. */
#define TWO_USES(NAME, ...)                                                                        \
    static double NAME(void) {                                                                     \
        const __m256d W = _mm256_set1_pd(0.5), R = _mm256_set1_pd(0.25);                           \
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, g0 = a0, g1 = a0, g2 = a0,    \
                g3 = a0;                                                                           \
        for (size_t i = 0; i < VALUES; i += 16) {                                                  \
            __VA_ARGS__                                                                            \
            a0 = _mm256_fmadd_pd(W, X(0), a0), g0 = _mm256_fmadd_pd(R, X(0), g0);                  \
            a1 = _mm256_fmadd_pd(W, X(1), a1), g1 = _mm256_fmadd_pd(R, X(1), g1);                  \
            a2 = _mm256_fmadd_pd(W, X(2), a2), g2 = _mm256_fmadd_pd(R, X(2), g2);                  \
            a3 = _mm256_fmadd_pd(W, X(3), a3), g3 = _mm256_fmadd_pd(R, X(3), g3);                  \
        }                                                                                          \
        double s[4];                                                                               \
        _mm256_storeu_pd(                                                                          \
            s, _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)),          \
                             _mm256_add_pd(_mm256_add_pd(g0, g1), _mm256_add_pd(g2, g3))));        \
        return s[0] + s[1] + s[2] + s[3];                                                          \
    }
/* f32: a widening load at each use */
#define X(v) _mm256_cvtps_pd(_mm_load_ps(f32 + i + 4 * (v)))
TWO_USES(pass_f32, )
#undef X
/* f16: 8 halves widened once (vcvtph2ps, an extract, two vcvtps2pd) */
#define X(v) x[v]
TWO_USES(
    pass_f16, __m256d x[4]; for (int k = 0; k < 4; k += 2) {
        const __m256 f = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(f16 + i + 4 * k)));
        x[k] = _mm256_cvtps_pd(_mm256_castps256_ps128(f));
        x[k + 1] = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));
    })
/* f16x: 4 halves at a time (vcvtph2ps of 4, one vcvtps2pd), no extract */
#define HALVES4(k)                                                                                 \
    _mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(f16 + i + 4 * (k)))))
TWO_USES(pass_f16x, const __m256d x[4] = {HALVES4(0), HALVES4(1), HALVES4(2), HALVES4(3)};)
#undef X

static int cmp(const void *p, const void *q) {
    const double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* ns a value: the median over RUNS of the best of 3 timings of PASSES
 * passes; the sums are printed so that no pass is optimised away. */
static double measure(double (*pass)(void), double *sink) {
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double best = 1e30;
        for (int k = 0; k < 3; k++) {
            const double t0 = now();
            for (int p = 0; p < PASSES; p++) *sink += pass();
            const double dt = now() - t0;
            if (dt < best) best = dt;
        }
        t[r] = best / ((double)PASSES * VALUES) * 1e9;
    }
    qsort(t, RUNS, sizeof t[0], cmp);
    return t[RUNS / 2];
}

int main(void) {
    for (size_t i = 0; i < VALUES; i++) {
        f32[i] = (float)((double)(i % 97) / 97.0 - 0.5);
        f16[i] = (uint16_t)_cvtss_sh(f32[i], 0);
    }
    double sink = 0.0;
    const double t32 = measure(pass_f32, &sink), t16 = measure(pass_f16, &sink);
    const double t16x = measure(pass_f16x, &sink);
    printf("ns a value, widened to double and used twice, rows in L1 (median of %d runs)\n", RUNS);
    printf("  f32  (a widening load at each use)        %.4f\n", t32);
    printf("  f16  (8 halves widened once, as PAIR_F16) %.4f  f16/f32 %.2f\n", t16, t16 / t32);
    printf("  f16x (4 halves at a time, no extract)     %.4f  f16/f32 %.2f\n", t16x, t16x / t32);
    printf("(sums, so that nothing is optimised away: %g)\n", sink);
    return 0;
}
