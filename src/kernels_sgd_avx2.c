/* The per-sample rule of nr_sgd_epoch on AVX2 (compiled with -mavx2 -mfma,
 * called only when dispatch.c has seen the CPU has both), with the scalar
 * reference's bits for every width (doc/sgd-order.md). The rule has no
 * FMA: every operation is the reference's IEEE double operation, only the
 * lanes differ; its products and sums are separate intrinsics, which
 * -ffp-contract=off (meson.build) keeps the compiler from fusing. FMA is
 * for the squared error's loss pass walked with the rule (below), which
 * has the loss kernels' bits.
 *
 * The cost of the rule is one dependency chain, row to row, through the
 * weights: products, the partial sums' additions, their combination,
 * + b, - y, then the update. Two things shorten it here:
 *
 * - The combination (p0 + p1) + (p2 + p3) without cross-lane moves. The
 *   weights are held twice, as A = (w0, w2, w2, w0) and B = (w1, w3, w3, w1)
 *   per group of four features (x split the same way off the chain), so
 *   A.x + B.x is (p0 + p1, p2 + p3, p2 + p3, p0 + p1) and one in-lane swap
 *   and addition give (p0 + p1) + (p2 + p3) in every lane (addition is
 *   commutative, so the lanes that add in the other order hold the same
 *   bits). The residual is then already broadcast for the update. Features
 *   missing from the last group are loaded as -0.0 against weights of +0.0:
 *   their products are -0.0, which adds nothing (x + -0.0 == x for every x),
 *   as in the reference where they are never added.
 *
 * - The update lr * ((r * 2) * x) as (2 lr) * (r * x): doubling is exact, so
 *   both are the one rounding of 2 lr r x, as long as r x is not subnormal
 *   and 2 r x does not overflow, which holds when r and x are each 0 or in
 *   [2^-511, 2^511) (x < 2^512 for f64; every finite float qualifies) and
 *   2 lr is finite. That takes the doubling off the chain. Rows outside the
 *   range (checked off the chain, with integer operations on r and a
 *   vector test of x) go to the reference's own step, nr_sgd_row_f64/f32, as
 *   do residuals whose square might overflow (|r| >= 2^511, or NaN). The
 *   bias, lr * (r * 2) == (2 lr) * r, needs no condition. f64 rows of 13
 *   to 16 features keep the doubling (see SHORTCUT_f64).
 *
 * Widths 3 to 16 have a loop each with the weights in registers; wider rows
 * keep them in memory (one group of four at a time, in the reference's lane
 * order, combined with a cross-lane add); 1 and 2 features are the scalar
 * kernel's, whose chain has no combination step at all. */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels.h"
#include "kernels_avx2_sums.h"
#include "objective.h"

/* Lines of the row PF_AHEAD bytes on, every one of them (a row of 136
 * bytes gets three prefetches, so that consecutive rows touch every line):
 * the rule's loads sit on its dependency chain, and on the development VM
 * the hardware prefetcher leaves them waiting for memory once the rows do
 * not fit in the caches. Measured side by side (1M rows of f64, 15
 * interleaved repetitions, median ns a row): d = 16 21.8 without, 18.7 at
 * 1 KiB, 16.8 at 4 KiB; d = 8 14.5, 12.5, 11.8; one prefetch a row (half
 * the lines) did not help. In L2 the rule takes 14.4 ns at d = 16. */
enum { PF_AHEAD = 4096 };
static inline __attribute__((always_inline)) void prefetch_row(const void *row, size_t bytes) {
    const char *p = (const char *)row + PF_AHEAD;
    _mm_prefetch(p, _MM_HINT_T0);
    if (bytes >= 64) _mm_prefetch(p + 64, _MM_HINT_T0);
    if (bytes >= 128) _mm_prefetch(p + 128, _MM_HINT_T0);
    for (size_t o = 192; o <= bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

/* The last group of a row has m of 4 features: lane masks and the -0.0 pads
 * of the missing lanes are read at offset 4 - m. */
static const int64_t mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
static const int32_t mask32[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
static const double negpad[8] = {0.0, 0.0, 0.0, 0.0, -0.0, -0.0, -0.0, -0.0};

static inline __m256i lanes(size_t m) {
    return _mm256_loadu_si256((const __m256i *)(mask64 + 4 - m));
}

/* Features j .. j + m - 1 of a row as doubles, missing lanes +0.0 (as the
 * loss kernels load them, for the loss pass beside the rule) ... */
static inline __m256d load_xz_f64(const double *x, size_t m) {
    if (m == 4) return _mm256_loadu_pd(x);
    return _mm256_maskload_pd(x, lanes(m));
}
static inline __m256d load_xz_f32(const float *x, size_t m) {
    if (m == 4) return _mm256_cvtps_pd(_mm_loadu_ps(x));
    const __m128i k = _mm_loadu_si128((const __m128i *)(mask32 + 4 - m));
    return _mm256_cvtps_pd(_mm_maskload_ps(x, k));
}
/* ... and for the rule, missing lanes -0.0. */
static inline __m256d pad_x(__m256d xz, size_t m) {
    if (m == 4) return xz;
    return _mm256_or_pd(xz, _mm256_loadu_pd(negpad + 4 - m));
}
static inline __m256d load_x_f64(const double *x, size_t m) {
    return pad_x(load_xz_f64(x, m), m);
}
static inline __m256d load_x_f32(const float *x, size_t m) {
    return pad_x(load_xz_f32(x, m), m);
}

/* Lanes whose x is neither 0 nor in [2^-511, 2^512) (Inf included; NaN
 * needs no test, its residual is NaN): the shortcut's condition on f64
 * data, a float always meets it. The constants are read from memory, as
 * operands of the instructions, through a pointer the caller hides from
 * the compiler: held in registers they would push weights out of them. */
static const uint64_t xrange[12] __attribute__((aligned(32))) = {
    /* |x| mask, 2^-511, 2^512, 4 lanes each */
    0x7fffffffffffffff,   0x7fffffffffffffff,   0x7fffffffffffffff,   0x7fffffffffffffff,
    UINT64_C(512) << 52,  UINT64_C(512) << 52,  UINT64_C(512) << 52,  UINT64_C(512) << 52,
    UINT64_C(1535) << 52, UINT64_C(1535) << 52, UINT64_C(1535) << 52, UINT64_C(1535) << 52};
static inline __m256i x_outside_f64(__m256d x, const uint64_t *k) {
    const __m256d a = _mm256_and_pd(x, _mm256_load_pd((const double *)k));
    const __m256d tiny =
        _mm256_and_pd(_mm256_cmp_pd(a, _mm256_load_pd((const double *)(k + 4)), _CMP_LT_OQ),
                      _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_NEQ_OQ));
    const __m256d big = _mm256_cmp_pd(a, _mm256_load_pd((const double *)(k + 8)), _CMP_GE_OQ);
    return _mm256_castpd_si256(_mm256_or_pd(tiny, big));
}
static inline __m256i x_outside_f32(__m256d x, const uint64_t *k) {
    (void)x, (void)k;
    return _mm256_setzero_si256();
}

/* Whether the residual (lane 0) is neither 0 nor in [2^-511, 2^511): a row
 * for the reference's step. */
static inline int r_outside(__m256d r) {
    const uint64_t u = (uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(_mm256_castpd256_pd128(r)));
    const uint64_t a = u << 1, lo = UINT64_C(512) << 53, hi = UINT64_C(1534) << 53;
    return a != 0 && a - lo >= hi - lo;
}
/* Whether the residual's square might overflow: |r| >= 2^511, or NaN. */
static inline int r_huge(__m256d r) {
    const uint64_t u = (uint64_t)_mm_cvtsi128_si64(_mm_castpd_si128(_mm256_castpd256_pd128(r)));
    return u << 1 >= UINT64_C(1534) << 53;
}

/* Whether rows of 4G features take the (2 lr) (r x) shortcut: its test of
 * f64 features, held in registers in the loop, would push weights out of
 * them at 13 to 16 features (G = 4): there the doubling stays on the
 * chain, 3 cycles, cheaper than a weight stored and loaded every row or a
 * pass of the test ahead of the rule. Floats need no test. */
#define SHORTCUT_f64(G) ((G) < 4)
#define SHORTCUT_f32(G) true

/* (x0, x1, x2, x3) -> A = (x0, x2, x2, x0), B = (x1, x3, x3, x1). */
static inline void split(__m256d x, __m256d *a, __m256d *b) {
    const __m256d s = _mm256_permute2f128_pd(x, x, 1);
    *a = _mm256_unpacklo_pd(x, s);
    *b = _mm256_unpackhi_pd(x, s);
}

/* Group g of the weights, m of its 4 present (the others +0.0), split. */
static inline void load_w(const double *w, size_t m, __m256d *a, __m256d *b) {
    split(m == 4 ? _mm256_loadu_pd(w) : _mm256_maskload_pd(w, lanes(m)), a, b);
}
static inline void store_w(double *w, size_t m, __m256d a, __m256d b) {
    const __m256d v = _mm256_unpacklo_pd(a, b); /* (w0, w1, w2, w3) */
    if (m == 4)
        _mm256_storeu_pd(w, v);
    else
        _mm256_maskstore_pd(w, lanes(m), v);
}

/* The squared error's loss pass at other parameters, walked with the rule
 * (nr_sgd_loss_f64_avx2), in the loss kernel's order (kernels_avx2.c,
 * ROWS4 with RESN_SQUARED): w0 (16 weights, +0.0 past d, read as operands
 * from memory rather than held in registers the rule's weights need) and
 * b0 in every lane; each row's dot product at w0 as 4 lane accumulators
 * (c, the last four rows'); every fourth row the group is reduced as the
 * loss kernel reduces its groups of four rows, with the four rows' labels,
 * into the sums of the residuals (S) and of their squares (L), row i of
 * the call in lane i mod 4. All in memory between rows. Even so, at 9-11
 * and 13-15 f64 features GCC 12 keeps a rule weight or three on the stack
 * in the walked loop (not in the rule's own); timed there (d = 10, 14),
 * the walk is still no slower than the pass behind the rule. */
typedef struct {
    const double *w0;
    __m256d b0, S, L;
    double c[16] __attribute__((aligned(32)));
} beside;

static inline __attribute__((always_inline)) void beside_group(beside *p, __m256d Y) {
    const __m256d dot = dots4(_mm256_load_pd(p->c), _mm256_load_pd(p->c + 4),
                              _mm256_load_pd(p->c + 8), _mm256_load_pd(p->c + 12));
    const __m256d R = _mm256_add_pd(dot, _mm256_sub_pd(p->b0, Y));
    p->S = _mm256_add_pd(p->S, R);
    p->L = _mm256_fmadd_pd(R, R, p->L);
}

/* small_##SUF's loop for D features: p tested here, so that with and
 * without the pass beside the rule each width is a loop of its own. */
#define WIDTH_LOOP(SUF, D)                                                                         \
    (p ? rows_##SUF(v, n, D, lr, w, b, p) : rows_##SUF(v, n, D, lr, w, b, NULL))
#define SGD_AVX2(T, SUF)                                                                           \
    /* d features, 3 <= d <= 16, a constant once inlined: 2 ceil(d/4)                              \
     * registers of weights. With p (a constant NULL or not once inlined),                         \
     * each row's loss at p's parameters too: its lane accumulators                                \
     * fma(w0_g, x_g, c) from +0.0 over the groups, on the features the                            \
     * rule has just loaded (zero-padded, as the loss kernel loads them),                          \
     * then beside_group every fourth row. Off the rule's chain: that work                         \
     * fills cycles in which the rule waits on its chain. */                                       \
    static inline __attribute__((always_inline)) size_t rows_##SUF(                                \
        const T *v, size_t n, const size_t d, double lr, double *w, double *b, beside *p) {        \
        const size_t G = (d + 3) / 4, M = d - 4 * (G - 1);                                         \
        __m256d wa[4], wb[4];                                                                      \
        _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++)                                     \
            load_w(w + 4 * g, g + 1 < G ? 4 : M, &wa[g], &wb[g]);                                  \
        const bool shortcut = SHORTCUT_##SUF(G);                                                   \
        const double step = shortcut ? lr * 2 : lr;                                                \
        __m256d bv = _mm256_set1_pd(*b);                                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T *row = v + i * (d + 1);                                                        \
            prefetch_row(row, (d + 1) * sizeof(T));                                                \
            const uint64_t *k = xrange;                                                            \
            __asm__("" : "+r"(k));                                                                 \
            __m256i bad = _mm256_setzero_si256();                                                  \
            __m256d pa, pb, c = _mm256_setzero_pd();                                               \
            const double *w0 = p ? p->w0 : NULL;                                                   \
            __asm__("" : "+r"(w0));                                                                \
            _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++) {                               \
                __m256d xa, xb;                                                                    \
                const size_t m = g + 1 < G ? 4 : M;                                                \
                const __m256d xz = load_xz_##SUF(row + 4 * g, m), x = pad_x(xz, m);                \
                if (p) c = _mm256_fmadd_pd(_mm256_load_pd(w0 + 4 * g), xz, c);                     \
                if (shortcut) bad = _mm256_or_si256(bad, x_outside_##SUF(x, k));                   \
                split(x, &xa, &xb);                                                                \
                pa = g ? _mm256_add_pd(pa, _mm256_mul_pd(wa[g], xa)) : _mm256_mul_pd(wa[g], xa);   \
                pb = g ? _mm256_add_pd(pb, _mm256_mul_pd(wb[g], xb)) : _mm256_mul_pd(wb[g], xb);   \
            }                                                                                      \
            if (p) {                                                                               \
                _mm256_store_pd(p->c + 4 * (i & 3), c);                                            \
                if ((i & 3) == 3) {                                                                \
                    const T *r0 = row - 3 * (d + 1), *r1 = r0 + d + 1, *r2 = r1 + d + 1;           \
                    beside_group(p, _mm256_setr_pd((double)r0[d], (double)r1[d], (double)r2[d],    \
                                                   (double)row[d]));                               \
                }                                                                                  \
            }                                                                                      \
            const __m256d s = _mm256_add_pd(pa, pb); /* p0+p1, p2+p3, p2+p3, p0+p1 */              \
            const __m256d dot = _mm256_add_pd(s, _mm256_permute_pd(s, 5));                         \
            const __m256d r =                                                                      \
                _mm256_sub_pd(_mm256_add_pd(dot, bv), _mm256_set1_pd((double)row[d]));             \
            if (__builtin_expect(                                                                  \
                    (shortcut ? r_outside(r) : r_huge(r)) | !_mm256_testz_si256(bad, bad), 0)) {   \
                /* the reference's row: the square might overflow, or r                            \
                 * or a feature is out of the shortcut's range */                                  \
                _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++)                             \
                    store_w(w + 4 * g, g + 1 < G ? 4 : M, wa[g], wb[g]);                           \
                *b = _mm256_cvtsd_f64(bv);                                                         \
                if (nr_sgd_row_##SUF(row, d, lr, w, b)) return i;                                  \
                _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++)                             \
                    load_w(w + 4 * g, g + 1 < G ? 4 : M, &wa[g], &wb[g]);                          \
                bv = _mm256_set1_pd(*b);                                                           \
                continue;                                                                          \
            }                                                                                      \
            /* g = r * 2 (exact; r + r is the same double) where the                               \
             * shortcut is off, else r against 2 lr */                                             \
            const __m256d gr = shortcut ? r : _mm256_add_pd(r, r);                                 \
            /* the features again, from memory (split anew, off the chain):                        \
             * kept in registers since the products, they would push the                           \
             * weights out of them from 12 features on; the step likewise */                       \
            const T *again = row;                                                                  \
            const double *sp = &step;                                                              \
            __asm__("" : "+r"(again), "+r"(sp));                                                   \
            const __m256d st = _mm256_broadcast_sd(sp);                                            \
            _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++) {                               \
                __m256d xa, xb;                                                                    \
                split(load_x_##SUF(again + 4 * g, g + 1 < G ? 4 : M), &xa, &xb);                   \
                wa[g] = _mm256_sub_pd(wa[g], _mm256_mul_pd(st, _mm256_mul_pd(gr, xa)));            \
                wb[g] = _mm256_sub_pd(wb[g], _mm256_mul_pd(st, _mm256_mul_pd(gr, xb)));            \
            }                                                                                      \
            bv = _mm256_sub_pd(bv, _mm256_mul_pd(st, gr));                                         \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++)                                     \
            store_w(w + 4 * g, g + 1 < G ? 4 : M, wa[g], wb[g]);                                   \
        *b = _mm256_cvtsd_f64(bv);                                                                 \
        return n;                                                                                  \
    }                                                                                              \
                                                                                                   \
    /* Any width, the weights in w: lane c of a group holds w_c x_c, the                           \
     * partial sums p_c accumulate down the groups, then                                           \
     * (p0 + p1, ., p2 + p3, .) and one cross-lane add. */                                         \
    static size_t wide_##SUF(const T *v, size_t n, size_t d, double lr, double *w, double *b) {    \
        const size_t G = (d + 3) / 4, M = d - 4 * (G - 1);                                         \
        const __m256d lr2 = _mm256_set1_pd(lr * 2);                                                \
        __m256d bv = _mm256_set1_pd(*b);                                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T *row = v + i * (d + 1);                                                        \
            prefetch_row(row, (d + 1) * sizeof(T));                                                \
            __m256i bad = _mm256_setzero_si256();                                                  \
            __m256d p = _mm256_setzero_pd();                                                       \
            _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++) {                               \
                const size_t m = g + 1 < G ? 4 : M;                                                \
                const __m256d x = load_x_##SUF(row + 4 * g, m);                                    \
                bad = _mm256_or_si256(bad, x_outside_##SUF(x, xrange));                            \
                const __m256d wx = _mm256_mul_pd(m == 4 ? _mm256_loadu_pd(w + 4 * g)               \
                                                        : _mm256_maskload_pd(w + 4 * g, lanes(m)), \
                                                 x);                                               \
                p = g ? _mm256_add_pd(p, wx) : wx;                                                 \
            }                                                                                      \
            const __m256d s = _mm256_add_pd(p, _mm256_permute_pd(p, 5));                           \
            const __m256d dot = _mm256_add_pd(s, _mm256_permute2f128_pd(s, s, 1));                 \
            const __m256d r =                                                                      \
                _mm256_sub_pd(_mm256_add_pd(dot, bv), _mm256_set1_pd((double)row[d]));             \
            if (__builtin_expect(r_outside(r) | !_mm256_testz_si256(bad, bad), 0)) {               \
                *b = _mm256_cvtsd_f64(bv);                                                         \
                if (nr_sgd_row_##SUF(row, d, lr, w, b)) return i;                                  \
                bv = _mm256_set1_pd(*b);                                                           \
                continue;                                                                          \
            }                                                                                      \
            _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++) {                               \
                const size_t m = g + 1 < G ? 4 : M;                                                \
                const __m256d x = load_x_##SUF(row + 4 * g, m);                                    \
                const __m256d u = _mm256_mul_pd(lr2, _mm256_mul_pd(r, x));                         \
                if (m == 4)                                                                        \
                    _mm256_storeu_pd(w + 4 * g, _mm256_sub_pd(_mm256_loadu_pd(w + 4 * g), u));     \
                else                                                                               \
                    _mm256_maskstore_pd(                                                           \
                        w + 4 * g, lanes(m),                                                       \
                        _mm256_sub_pd(_mm256_maskload_pd(w + 4 * g, lanes(m)), u));                \
            }                                                                                      \
            bv = _mm256_sub_pd(bv, _mm256_mul_pd(lr2, r));                                         \
        }                                                                                          \
        *b = _mm256_cvtsd_f64(bv);                                                                 \
        return n;                                                                                  \
    }                                                                                              \
                                                                                                   \
    /* Widths 3..16, each a loop of its own (d a constant), with or                                \
     * without the loss pass beside it (p). */                                                     \
    static size_t small_##SUF(const T *v, size_t n, size_t d, double lr, double *w, double *b,     \
                              beside *p) {                                                         \
        switch (d) {                                                                               \
        case 3:                                                                                    \
            return WIDTH_LOOP(SUF, 3);                                                             \
        case 4:                                                                                    \
            return WIDTH_LOOP(SUF, 4);                                                             \
        case 5:                                                                                    \
            return WIDTH_LOOP(SUF, 5);                                                             \
        case 6:                                                                                    \
            return WIDTH_LOOP(SUF, 6);                                                             \
        case 7:                                                                                    \
            return WIDTH_LOOP(SUF, 7);                                                             \
        case 8:                                                                                    \
            return WIDTH_LOOP(SUF, 8);                                                             \
        case 9:                                                                                    \
            return WIDTH_LOOP(SUF, 9);                                                             \
        case 10:                                                                                   \
            return WIDTH_LOOP(SUF, 10);                                                            \
        case 11:                                                                                   \
            return WIDTH_LOOP(SUF, 11);                                                            \
        case 12:                                                                                   \
            return WIDTH_LOOP(SUF, 12);                                                            \
        case 13:                                                                                   \
            return WIDTH_LOOP(SUF, 13);                                                            \
        case 14:                                                                                   \
            return WIDTH_LOOP(SUF, 14);                                                            \
        case 15:                                                                                   \
            return WIDTH_LOOP(SUF, 15);                                                            \
        default:                                                                                   \
            return WIDTH_LOOP(SUF, 16);                                                            \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    size_t nr_sgd_##SUF##_avx2(const T *v, size_t n, size_t d, double lr, double *w, double *b) {  \
        if (d < 3 || !isfinite(lr * 2)) return nr_sgd_##SUF##_scalar(v, n, d, lr, w, b);           \
        if (d > 16) return wide_##SUF(v, n, d, lr, w, b);                                          \
        return small_##SUF(v, n, d, lr, w, b, NULL);                                               \
    }                                                                                              \
                                                                                                   \
    /* kernels.h. Widths 3..16 walk the rows once, rows of the last                                \
     * n mod 4 by the loss kernel's scalar end (FINISH_ROWS in                                     \
     * kernels_avx2.c): z = b0 + w0_j x_j in ascending j, r = z - y,                               \
     * s += r, l += r * r after the lanes' (s0 + s2) + (s1 + s3). Other                            \
     * widths, and a learning rate whose double overflows, are declined. */                        \
    bool nr_sgd_loss_##SUF##_avx2(const T *v, size_t n, size_t d, double lr, double *w, double *b, \
                                  const double *w0, double b0, double *out, size_t *stop) {        \
        if (d < 3 || d > 16 || !isfinite(lr * 2)) return false;                                    \
        double w0p[16] __attribute__((aligned(32))) = {0};                                         \
        for (size_t j = 0; j < d; j++) w0p[j] = w0[j];                                             \
        beside p = {.w0 = w0p, .b0 = _mm256_set1_pd(b0)};                                          \
        const size_t n4 = n & ~(size_t)3;                                                          \
        *stop = small_##SUF(v, n4, d, lr, w, b, &p);                                               \
        if (*stop < n4) return true;                                                               \
        *stop = n4 + small_##SUF(v + n4 * (d + 1), n - n4, d, lr, w, b, NULL);                     \
        if (*stop < n) return true;                                                                \
        double s = hsum(p.S), l = hsum(p.L);                                                       \
        for (size_t i = n4; i < n; i++) {                                                          \
            const T *row = v + i * (d + 1);                                                        \
            double z = b0;                                                                         \
            for (size_t j = 0; j < d; j++) z += w0p[j] * (double)row[j];                           \
            const double r = z - (double)row[d];                                                   \
            s += r, l += r * r;                                                                    \
        }                                                                                          \
        for (size_t j = 0; j < d; j++) out[j] = 0.0;                                               \
        out[d] = s, out[d + 1] = l;                                                                \
        return true;                                                                               \
    }

SGD_AVX2(double, f64)
SGD_AVX2(float, f32)

/* The classifiers' per-sample rule (kernels.h; kernels_scalar.c is its
 * definition) with the weights in registers, split as above so that the
 * combination of the partial sums needs no cross-lane move. Its operations
 * are the definition's, IEEE double one by one (no shortcut, so no range
 * to check): r = phi(dot + b) - y by the objective's own one-row function
 * on lane 0 (for the logistic loss, libm's exp: the same bits as the scalar
 * rule, at the price of the weights saved around the call, off the chain),
 * then w -= lr (r x) on the split weights and b -= lr r. Rows with r == 0
 * change nothing, as in the definition (where w - lr (0 x) would turn a
 * -0.0 weight into +0.0). Widths 3 to 16 (1 to 4 groups of four, the last
 * of m features, padded with -0.0 against +0.0 weights: products of -0.0,
 * which add nothing); other widths are the scalar rule's. */
#define SGD_CLASS_AVX2(T, SUF, NAME, RESIDUAL)                                                     \
    static inline __attribute__((always_inline)) void NAME##_rows_##SUF(                           \
        const T *v, size_t n, size_t d, const size_t G, double lr, double *w, double *b) {         \
        const size_t M = d - 4 * (G - 1);                                                          \
        __m256d wa[4], wb[4];                                                                      \
        _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++)                                     \
            load_w(w + 4 * g, g + 1 < G ? 4 : M, &wa[g], &wb[g]);                                  \
        double bias = *b;                                                                          \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T *row = v + i * (d + 1);                                                        \
            prefetch_row(row, (d + 1) * sizeof(T));                                                \
            __m256d pa, pb;                                                                        \
            _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++) {                               \
                __m256d xa, xb;                                                                    \
                split(load_x_##SUF(row + 4 * g, g + 1 < G ? 4 : M), &xa, &xb);                     \
                pa = g ? _mm256_add_pd(pa, _mm256_mul_pd(wa[g], xa)) : _mm256_mul_pd(wa[g], xa);   \
                pb = g ? _mm256_add_pd(pb, _mm256_mul_pd(wb[g], xb)) : _mm256_mul_pd(wb[g], xb);   \
            }                                                                                      \
            const __m256d s = _mm256_add_pd(pa, pb); /* p0+p1, p2+p3, p2+p3, p0+p1 */              \
            const double dot = _mm256_cvtsd_f64(_mm256_add_pd(s, _mm256_permute_pd(s, 5)));        \
            const double r = RESIDUAL(dot + bias, (double)row[d]);                                 \
            if (r == 0.0) continue;                                                                \
            const __m256d R = _mm256_set1_pd(r), L = _mm256_set1_pd(lr);                           \
            _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++) {                               \
                __m256d xa, xb;                                                                    \
                split(load_x_##SUF(row + 4 * g, g + 1 < G ? 4 : M), &xa, &xb);                     \
                wa[g] = _mm256_sub_pd(wa[g], _mm256_mul_pd(L, _mm256_mul_pd(R, xa)));              \
                wb[g] = _mm256_sub_pd(wb[g], _mm256_mul_pd(L, _mm256_mul_pd(R, xb)));              \
            }                                                                                      \
            bias -= lr * r;                                                                        \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (size_t g = 0; g < G; g++)                                     \
            store_w(w + 4 * g, g + 1 < G ? 4 : M, wa[g], wb[g]);                                   \
        *b = bias;                                                                                 \
    }                                                                                              \
                                                                                                   \
    void nr_sgd_##NAME##_##SUF##_avx2(const T *v, size_t n, size_t d, double lr, double *w,        \
                                      double *b) {                                                 \
        const size_t G = (d + 3) / 4;                                                              \
        if (d >= 3 && G <= 4) {                                                                    \
            switch (G) { /* a constant G for each loop */                                          \
            case 1:                                                                                \
                NAME##_rows_##SUF(v, n, d, 1, lr, w, b);                                           \
                return;                                                                            \
            case 2:                                                                                \
                NAME##_rows_##SUF(v, n, d, 2, lr, w, b);                                           \
                return;                                                                            \
            case 3:                                                                                \
                NAME##_rows_##SUF(v, n, d, 3, lr, w, b);                                           \
                return;                                                                            \
            default:                                                                               \
                NAME##_rows_##SUF(v, n, d, 4, lr, w, b);                                           \
                return;                                                                            \
            }                                                                                      \
        }                                                                                          \
        nr_sgd_##NAME##_##SUF##_scalar(v, n, d, lr, w, b);                                         \
    }

SGD_CLASS_AVX2(double, f64, logistic, nr_residual_logistic)
SGD_CLASS_AVX2(float, f32, logistic, nr_residual_logistic)
SGD_CLASS_AVX2(double, f64, perceptron, nr_residual_perceptron)
SGD_CLASS_AVX2(float, f32, perceptron, nr_residual_perceptron)
