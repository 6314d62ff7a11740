/* What a value costs the core before the memory does, f16 rows against f32
 * rows (issue 17's f16 target): the inner work of the batch kernels, on
 * rows that sit in L1 so that no memory time hides it. Each value is
 * widened to double and used twice, by a dot product and by a gradient
 * update (an FMA each), as the kernels do:
 *
 *   f32  a widening load (vcvtps2pd from memory) at each use, as ROWS4 and
 *        the logistic loops;
 *   f16  8 halves widened once (vcvtph2ps, an extract, two vcvtps2pd from
 *        registers) and kept in registers for both uses, as PAIR_F16;
 *   f16x 4 halves at a time (vcvtph2ps of 4, one vcvtps2pd): no extract.
 *        Cheaper here, but not in the kernel: PAIR_F16 with these loads
 *        took 29.2-29.8 ms an epoch on 10M x 16 against 27.0-28.0 (4
 *        alternated pairs, 2026-11-30), so the kernel keeps f16's form;
 *   f16d 16 halves widened to doubles into L1 and both uses loading them,
 *        as the logistic loops of f16 rows (GROUP8_F16_PD).
 *
 * The floor is the FMAs': two a value per 4 lanes at two a cycle, 0.25
 * cycles a value (the 8 accumulators cover their latency exactly). The f32
 * form sits on it: its widening loads run beside the FMAs. Whatever an f16
 * form takes above it is what widening halves costs beyond the FMAs.
 * Reported: nanoseconds a value (median of 15 rounds that alternate the
 * forms, each timing the best of 3 passes over 10^8 values), and f16 / f32
 * (the median of the rounds' ratios). The kernels' own figures (rows
 * in L2, doc/bench/widen-cost.txt) carry the rest of a row's work too.
 * Meson builds it as build/widen-cost; or, by hand:
 *
 *   cc -O2 -mavx2 -mfma -mf16c -o widen_cost bench/widen_cost.c && ./widen_cost */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { VALUES = 4096, PASSES = 100000000 / VALUES, RUNS = 15 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float f32[VALUES] __attribute__((aligned(64)));
static uint16_t f16[VALUES] __attribute__((aligned(64)));

/* Two uses a value: a = W x + a (the dot product), then g = R x + g (the
 * gradient update), 16 values a step into 4 + 4 accumulators; X(v) is
 * vector v of the step's 4. Between the two uses a compiler barrier: a use
 * that reads memory reads it again (the f32 rows' second widening load, as
 * in the kernels), registers stay registers. */
#define TWO_USES(NAME, WIDEN, X)                                                                   \
    static double NAME(void) {                                                                     \
        const __m256d W = _mm256_set1_pd(0.5), R = _mm256_set1_pd(0.25);                           \
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, g0 = a0, g1 = a0, g2 = a0,    \
                g3 = a0;                                                                           \
        for (size_t i = 0; i < VALUES; i += 16) {                                                  \
            WIDEN                                                                                  \
            a0 = _mm256_fmadd_pd(W, X(0), a0), a1 = _mm256_fmadd_pd(W, X(1), a1);                  \
            a2 = _mm256_fmadd_pd(W, X(2), a2), a3 = _mm256_fmadd_pd(W, X(3), a3);                  \
            __asm__ volatile("" ::: "memory");                                                     \
            g0 = _mm256_fmadd_pd(R, X(0), g0), g1 = _mm256_fmadd_pd(R, X(1), g1);                  \
            g2 = _mm256_fmadd_pd(R, X(2), g2), g3 = _mm256_fmadd_pd(R, X(3), g3);                  \
        }                                                                                          \
        double s[4];                                                                               \
        _mm256_storeu_pd(                                                                          \
            s, _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)),          \
                             _mm256_add_pd(_mm256_add_pd(g0, g1), _mm256_add_pd(g2, g3))));        \
        return s[0] + s[1] + s[2] + s[3];                                                          \
    }
#define F32_AT(v) _mm256_cvtps_pd(_mm_load_ps(f32 + i + 4 * (v)))
#define REG_AT(v) x[v]
#define BUF_AT(v) _mm256_load_pd(buf + 4 * (v))
#define WIDEN_F16                                                                                  \
    __m256d x[4];                                                                                  \
    for (int k = 0; k < 4; k += 2) {                                                               \
        const __m256 f = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(f16 + i + 4 * k)));      \
        x[k] = _mm256_cvtps_pd(_mm256_castps256_ps128(f));                                         \
        x[k + 1] = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));                                   \
    }
#define HALVES4(k)                                                                                 \
    _mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(f16 + i + 4 * (k)))))
#define WIDEN_F16X const __m256d x[4] = {HALVES4(0), HALVES4(1), HALVES4(2), HALVES4(3)};
static double buf[16] __attribute__((aligned(32)));
#define WIDEN_F16D                                                                                 \
    for (int k = 0; k < 4; k += 2) {                                                               \
        const __m256 f = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(f16 + i + 4 * k)));      \
        _mm256_store_pd(buf + 4 * k, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));                  \
        _mm256_store_pd(buf + 4 * k + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));            \
    }
TWO_USES(pass_f32, , F32_AT)
TWO_USES(pass_f16, WIDEN_F16, REG_AT)
TWO_USES(pass_f16x, WIDEN_F16X, REG_AT)
TWO_USES(pass_f16d, WIDEN_F16D, BUF_AT)

static int cmp(const void *p, const void *q) {
    const double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* ns a value of one timing: the best of 3 of PASSES passes; the sums go
 * to sink, printed, so that no pass is optimised away. */
static double timing(double (*pass)(void), double *sink) {
    double best = 1e30;
    for (int k = 0; k < 3; k++) {
        const double t0 = now();
        for (int p = 0; p < PASSES; p++) *sink += pass();
        const double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best / ((double)PASSES * VALUES) * 1e9;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp);
    return v[n / 2];
}

int main(void) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !__builtin_cpu_supports("f16c")) {
        fprintf(stderr, "widen-cost: this CPU lacks AVX2, FMA or F16C\n");
        return 1;
    }
    for (size_t i = 0; i < VALUES; i++) {
        f32[i] = (float)((double)(i % 97) / 97.0 - 0.5);
        f16[i] = (uint16_t)_cvtss_sh(f32[i], 0);
    }
    enum { FORMS = 4 };
    static const struct {
        const char *name;
        double (*pass)(void);
    } form[FORMS] = {
        {"f32  (a widening load at each use)       ", pass_f32},
        {"f16  (8 halves widened once, as PAIR_F16)", pass_f16},
        {"f16x (4 halves at a time, no extract)    ", pass_f16x},
        {"f16d (to doubles in L1, as GROUP8_F16_PD)", pass_f16d},
    };
    /* the forms alternated in each round, so that a drift of the clock or
     * of the machine's load falls on all of them; each f16 form's ratio is
     * taken within a round, then its median */
    double t[FORMS][RUNS], ratio[FORMS][RUNS], sink = 0.0;
    for (int r = 0; r < RUNS; r++) {
        for (int f = 0; f < FORMS; f++) t[f][r] = timing(form[f].pass, &sink);
        for (int f = 0; f < FORMS; f++) ratio[f][r] = t[f][r] / t[0][r];
    }
    printf("ns a value, widened to double and used twice, rows in L1; medians of %d rounds\n"
           "(the FMAs' floor is 0.25 cycles a value)\n",
           RUNS);
    for (int f = 0; f < FORMS; f++) {
        printf("  %s %.4f", form[f].name, median(t[f], RUNS));
        if (f) printf("  f16/f32 %.2f", median(ratio[f], RUNS));
        printf("\n");
    }
    printf("(sums, so that nothing is optimised away: %g)\n", sink);
    return 0;
}
