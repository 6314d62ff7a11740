/* AVX2 + FMA kernels (compiled with -mavx2 -mfma, called only when the CPU
 * has both; see dispatch.c). Arithmetic is in double: f32 rows are widened
 * as they are loaded, so an f32 epoch costs the bandwidth of f32 data with
 * the accuracy of double accumulation (the one exception, the exp and log1p
 * of the logistic loss of f32 rows, is in f32 with a stated bound: below).
 *
 * One feature: (x, y) pairs are deinterleaved in registers, 8 rows per
 * iteration, with two independent sets of accumulators to cover the FMA
 * latency. Several features: each row's dot product is vectorised across
 * features (4 per vector, masked tail), then the row's residual updates the
 * gradient vector. Tails of rows go through the same scalar formula.
 *
 * f16 rows (uint16_t, IEEE halves) have kernels of their own, the same
 * macros with loads that widen halves with F16C (-mf16c; dispatch.c checks
 * the flag): half -> float -> double is exact and every operation is in the
 * f32 kernel's order, so an f16 kernel gives the bits of the f32 kernel on
 * the widened rows while reading half the bytes, with no widened copy of
 * the block (the small widths keep a pair of rows widened in registers,
 * Huber's 4-row loop widens 4 rows at a time on the stack, the logistic
 * loops each group of 8 rows into an L1 buffer: GROUP8_F16, GROUP8_F16_PD). */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "kernels.h"
#include "kernels_avx2_sums.h"
#include "objective.h"

/* Bytes ahead of the loads that the loops prefetch: a pass has several
 * times the uops of a plain read, so the out-of-order window alone keeps too
 * few lines in flight (measured: 1.40x a streaming read without, 1.15-1.2x
 * with, one feature f32). */
#ifndef PREFETCH
#define PREFETCH 1024
#endif
/* The logistic loop of 2..16 f32 features (LOGISTIC8_SMALL) spends more
 * instructions a line than the others, and its loads wait longer: 4 KiB
 * ahead there. Measured on 10M x 16 (neuron bench's fraction of the
 * read, 2 threads, binaries alternated, 5 pairs): median 0.66 [0.63-0.74]
 * at 1 KiB, 0.74 [0.58-0.75] at 4 KiB. For the one-feature loops 4 KiB
 * was no better than the runs' spread (their minibatch:4096 rather
 * worse), so they keep 1 KiB. */
#define PREFETCH_LOGISTIC8 4096
/* The 4-row loop of 2..16 features (ROWS4 for the squared error, its
 * loss-only twin, the perceptron and f64 logistic rows; not Huber's
 * wide rows) likewise, measured 2026-11-29 on
 * 10M x 16 f32, 2 threads, binaries alternated: the epoch as a fraction of
 * the read 0.76-0.80 at 1 KiB, 0.86-0.88 at 4 KiB (f64 at 16 features,
 * f16 rows and one feature unchanged). */
#ifndef PREFETCH_ROWS4
#define PREFETCH_ROWS4 4096
#endif

/* The residual and loss of 4 rows, from W, X, B (one feature) or from the
 * dot product plus B (several), and Y: per objective (objective.h). The
 * squared error keeps its own operation order (the bits it has always had:
 * r = w x + (b - y)); the others form z first. Each adds the rows' losses
 * into L. */
#define RES1_SQUARED(W, X, B, Y, R, L)                                                             \
    R = _mm256_fmadd_pd(W, X, _mm256_sub_pd(B, Y));                                                \
    L = _mm256_fmadd_pd(R, R, L);
#define RESN_SQUARED(DOT, B, Y, R, L)                                                              \
    R = _mm256_add_pd(DOT, _mm256_sub_pd(B, Y));                                                   \
    L = _mm256_fmadd_pd(R, R, L);
#define RES1_OBJ(FN, W_, X_, B_, Y_, R_, L_)                                                       \
    {                                                                                              \
        __m256d l_;                                                                                \
        FN(_mm256_fmadd_pd(W_, X_, B_), Y_, &R_, &l_);                                             \
        L_ = _mm256_add_pd(L_, l_);                                                                \
    }
#define RES1_LOGISTIC(W_, X_, B_, Y_, R_, L_) RES1_OBJ(logistic4, W_, X_, B_, Y_, R_, L_)
#define RES1_PERCEPTRON(W_, X_, B_, Y_, R_, L_) RES1_OBJ(perceptron4, W_, X_, B_, Y_, R_, L_)
#define RESN_OBJ(FN, D_, B_, Y_, R_, L_)                                                           \
    {                                                                                              \
        __m256d l_;                                                                                \
        FN(_mm256_add_pd(D_, B_), Y_, &R_, &l_);                                                   \
        L_ = _mm256_add_pd(L_, l_);                                                                \
    }
#define RESN_LOGISTIC(D_, B_, Y_, R_, L_) RESN_OBJ(logistic4, D_, B_, Y_, R_, L_)
#define RESN_PERCEPTRON(D_, B_, Y_, R_, L_) RESN_OBJ(perceptron4, D_, B_, Y_, R_, L_)

/* exp(x) for x <= 0, the logistic loss's one use of it, inline (a call into
 * a library spills every live vector around it). x = k ln2 + r with
 * k = round(x / ln2) and |r| <= ln2 / 2; r = x - k ln2_hi is exact under an
 * FMA (|r| < 1/2 needs 52 bits, and ln2_hi's last bit is 2^-53), the lo term
 * adds half an ulp of r. exp(r) = 1 + (r + r^2 Q(r)) with Q of degree 9:
 * the Taylor series to r^14 economised to degree 11 with Chebyshev
 * polynomials (tools: exact rationals), which adds at most 3.1e-18 and
 * leaves 1.6e-17 relative in all; Q by Estrin's scheme (depth 4 instead of
 * 9: the kernel's speed is bound by this chain's latency), the 1 added
 * last so that its rounding is the only one at that magnitude. Within 1 ulp
 * of libm's exp (tested over all of [-708, 0]). 2^k goes straight into the
 * exponent field, valid while the result is normal: below x = -708
 * (exp < 3.3e-308) the result is 0, not the subnormal, an absolute error
 * under 2^-1021. */
static inline __m256d exp_neg(__m256d x) {
#define C(v) _mm256_set1_pd(v)
    const __m256d shift = C(0x1.8p52); /* round-to-integer in the low bits */
    const __m256d t = _mm256_fmadd_pd(x, C(0x1.71547652b82fep0), shift);
    const __m256d k = _mm256_sub_pd(t, shift);
    __m256d r = _mm256_fmadd_pd(k, C(-0x1.62e42fefa39efp-1), x);
    r = _mm256_fmadd_pd(k, C(-0x1.abc9e3b39803fp-56), r);
    const __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2), r8 = _mm256_mul_pd(r4, r4);
    const __m256d q0 = _mm256_fmadd_pd(C(0x1.5555555555562p-3), r, C(0x1.0000000000011p-1));
    const __m256d q1 = _mm256_fmadd_pd(C(0x1.111111110db8cp-7), r, C(0x1.555555554f0c9p-5));
    const __m256d q2 = _mm256_fmadd_pd(C(0x1.a01a01b7f87b9p-13), r, C(0x1.6c16c187fd064p-10));
    const __m256d q3 = _mm256_fmadd_pd(C(0x1.71dde78948070p-19), r, C(0x1.a01991a992487p-16));
    const __m256d q4 = _mm256_fmadd_pd(C(0x1.af780f134c082p-26), r, C(0x1.28b408236db17p-22));
    const __m256d u0 = _mm256_fmadd_pd(q1, r2, q0), u1 = _mm256_fmadd_pd(q3, r2, q2);
    const __m256d Q = _mm256_fmadd_pd(q4, r8, _mm256_fmadd_pd(u1, r4, u0));
    const __m256d p = _mm256_add_pd(C(1.0), _mm256_fmadd_pd(r2, Q, r));
    const __m256i scaled =
        _mm256_add_epi64(_mm256_castpd_si256(p), _mm256_slli_epi64(_mm256_castpd_si256(t), 52));
    /* lanes below -708 (and -inf) computed garbage above: cleared */
    const __m256d under = _mm256_cmp_pd(x, C(-708.0), _CMP_LT_OQ);
    return _mm256_andnot_pd(under, _mm256_castsi256_pd(scaled));
}

/* 1 / (1 + e) and log1p(e) for e in [0, 1], from one division. log1p:
 * with c = [e > sqrt2 - 1], log1p(e) = c ln2 + 2 atanh(s), s = (e - c) /
 * (e + 2 + c) in [-0.1716, 0.1716] (the second form is log((1 + e) / 2)
 * with e - 1 exact), and 2 atanh(s) = s P(s^2), P the series
 * 2 (1 + T/3 + T^2/5 + ...) to T^13 economised to degree 7 on
 * [0, 0.02944] (2.3e-18 relative), by Estrin's scheme; so log1p keeps full
 * relative accuracy down to the smallest e. The one division is
 * q = 1 / ((1 + e)(e + 2 + c)), and 1 / (1 + e) = q (e + 2 + c),
 * s = (e - c) q (1 + e): the rounding of each factor cancels between the
 * two, so each result is within a few ulps (log1p: 8 by the sum of the
 * roundings; tested against libm over all of [0, 1]). */
static inline void recip_log1p(__m256d e, __m256d *inv, __m256d *lp) {
    const __m256d one = C(1.0);
    const __m256d hi = _mm256_cmp_pd(e, C(0x1.a827999fcef34p-2), _CMP_GT_OQ);
    const __m256d c = _mm256_and_pd(hi, one);
    const __m256d e1 = _mm256_add_pd(one, e);
    const __m256d den = _mm256_add_pd(e, _mm256_add_pd(c, C(2.0)));
    const __m256d q = _mm256_div_pd(one, _mm256_mul_pd(e1, den));
    *inv = _mm256_mul_pd(q, den);
    const __m256d s = _mm256_mul_pd(_mm256_sub_pd(e, c), _mm256_mul_pd(q, e1));
    const __m256d t = _mm256_mul_pd(s, s), t2 = _mm256_mul_pd(t, t), t4 = _mm256_mul_pd(t2, t2);
    const __m256d p0 = _mm256_fmadd_pd(C(0x1.55555555555aep-1), t, C(2.0));
    const __m256d p1 = _mm256_fmadd_pd(C(0x1.249249452ca4ep-2), t, C(0x1.999999997acbbp-2));
    const __m256d p2 = _mm256_fmadd_pd(C(0x1.74669cf4e164dp-3), t, C(0x1.c71c4fed958d8p-3));
    const __m256d p3 = _mm256_fmadd_pd(C(0x1.2f50f45620b19p-3), t, C(0x1.39996536d32e6p-3));
    const __m256d P = _mm256_fmadd_pd(_mm256_fmadd_pd(p3, t2, p2), t4, _mm256_fmadd_pd(p1, t2, p0));
    /* + c ln2 as hi + lo, masked rather than multiplied: off the FMA ports */
    const __m256d sp =
        _mm256_add_pd(_mm256_mul_pd(s, P), _mm256_and_pd(hi, C(0x1.abc9e3b39803fp-56)));
    *lp = _mm256_add_pd(sp, _mm256_and_pd(hi, C(0x1.62e42fefa39efp-1)));
#undef C
}

void nr_log1p_unit_avx2(const double *e, size_t n, double *out) {
    for (size_t i = 0; i < n; i += 4) {
        double t[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < 4 && i + k < n; k++) t[k] = e[i + k];
        __m256d inv, lp;
        recip_log1p(_mm256_loadu_pd(t), &inv, &lp);
        _mm256_storeu_pd(t, lp);
        for (size_t k = 0; k < 4 && i + k < n; k++) out[i + k] = t[k];
    }
}

void nr_exp_neg_avx2(const double *x, size_t n, double *out) {
    for (size_t i = 0; i < n; i += 4) {
        double t[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < 4 && i + k < n; k++) t[k] = x[i + k];
        _mm256_storeu_pd(t, exp_neg(_mm256_loadu_pd(t)));
        for (size_t k = 0; k < 4 && i + k < n; k++) out[i + k] = t[k];
    }
}

/* Logistic loss of 4 rows (objective.h, nr_row_logistic): with t = [y > 0]
 * and the margin against the label m = (1 - 2t) z, loss = softplus(m) =
 * max(m, 0) + log1p(e) and r = sigmoid(z) - t = (1 - 2t) sigmoid(m), with
 * e = exp(-|m|) in [0, 1]: no overflow for any z, full relative accuracy of
 * r in both tails. (1 - 2t) is a sign bit, flipped with an xor. */
static inline void logistic4(__m256d Z, __m256d Y, __m256d *R, __m256d *L) {
    const __m256d zero = _mm256_setzero_pd(), sign = _mm256_set1_pd(-0.0);
    const __m256d S = _mm256_and_pd(_mm256_cmp_pd(Y, zero, _CMP_GT_OQ), sign);
    const __m256d M = _mm256_xor_pd(Z, S);
    const __m256d E = exp_neg(_mm256_or_pd(M, sign));
    __m256d inv, lp;
    recip_log1p(E, &inv, &lp);
    /* sigmoid(m) = 1 / (1 + e) for m >= 0, e / (1 + e) below (sign bit of m) */
    const __m256d num = _mm256_blendv_pd(_mm256_set1_pd(1.0), E, M);
    *R = _mm256_xor_pd(_mm256_mul_pd(num, inv), S);
    *L = _mm256_add_pd(_mm256_max_pd(M, zero), lp);
}

/* Perceptron of 4 rows: r = step(z) - t, loss = max(-(2t - 1) z, 0), the
 * sign flip an xor (exact, as the product by +-1 is). */
static inline void perceptron4(__m256d Z, __m256d Y, __m256d *R, __m256d *L) {
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    const __m256d pos = _mm256_cmp_pd(Y, zero, _CMP_GT_OQ);
    const __m256d step = _mm256_and_pd(_mm256_cmp_pd(Z, zero, _CMP_GT_OQ), one);
    *R = _mm256_sub_pd(step, _mm256_and_pd(pos, one));
    *L = _mm256_max_pd(_mm256_xor_pd(Z, _mm256_and_pd(pos, _mm256_set1_pd(-0.0))), zero);
}

/* ---- The logistic loss of f32 rows: the transcendental part in f32 ----
 *
 * Rows stored in f32 (or f16) carry 2^-24 relative precision, so their
 * per-row loss and residual need no more than a few float ulps: the exp,
 * log1p and reciprocal run on 8 float lanes (twice the lanes of double, and
 * a shorter polynomial), while z = w.x + b, the argument reduction, the
 * scaling by 2^k and every sum stay in double, so that the range and both
 * tails are those of the double kernel. Bound: each row's residual
 * r = sigmoid(z) - t and loss softplus(m) are within 2^-21 relative of the
 * exact values for every finite z (below exp(-708) the same absolute 2^-1021
 * as the double kernel); tested in tests/test_classify.c. f64 rows keep
 * logistic4. */

/* exp(r) for |r| <= 0.3470 (ln2 / 2 and a margin), in f32:
 * 1 + r + r^2 Q(r), Q of degree 4 interpolating (exp(r) - 1 - r) / r^2 at
 * the Chebyshev nodes (tools: exact rationals), coefficients rounded to
 * float: 2^-26.5 relative before the float roundings, about 1 ulp after.
 * Horner's scheme, not Estrin's as exp_neg: each step takes its constant
 * from memory, so it needs no registers for constants and 3 instructions
 * fewer (callgrind); its longer chain is left to the out-of-order window,
 * which holds the independent 8 rows of more than one iteration (whether
 * that hides it is for the quiet machine's timings to show). */
static inline __m256 exp_reduced_ps(__m256 r) {
#define F(v) _mm256_set1_ps(v)
    __m256 p = _mm256_fmadd_ps(F(0x1.6d117cp-10f), r, F(0x1.120be2p-7f));
    p = _mm256_fmadd_ps(p, r, F(0x1.555518p-5f));
    p = _mm256_fmadd_ps(p, r, F(0x1.5554dcp-3f));
    p = _mm256_fmadd_ps(p, r, F(0.5f));
    p = _mm256_fmadd_ps(p, r, F(1.0f));
    return _mm256_fmadd_ps(p, r, F(1.0f));
}

/* exp(x) for x <= 0 in 2 x 4 lanes: k = round(x / ln2) and r = x - k ln2 in
 * double (one FMA: k ln2's error, under 1022 * 2^-54, is far below a float
 * ulp of exp(r)), exp(r) in f32, the scaling by 2^k in double through the
 * exponent field, so the relative error does not grow with |x| and nothing
 * underflows before double does; 0 below -708, as exp_neg. */
static inline void exp_neg_f32(__m256d x0, __m256d x1, __m256d *e0, __m256d *e1) {
    const __m256d shift = _mm256_set1_pd(0x1.8p52), l2e = _mm256_set1_pd(0x1.71547652b82fep0);
    const __m256d nl2 = _mm256_set1_pd(-0x1.62e42fefa39efp-1), lim = _mm256_set1_pd(-708.0);
    const __m256d t0 = _mm256_fmadd_pd(x0, l2e, shift), t1 = _mm256_fmadd_pd(x1, l2e, shift);
    const __m256d r0 = _mm256_fmadd_pd(_mm256_sub_pd(t0, shift), nl2, x0);
    const __m256d r1 = _mm256_fmadd_pd(_mm256_sub_pd(t1, shift), nl2, x1);
    const __m256 p = exp_reduced_ps(_mm256_set_m128(_mm256_cvtpd_ps(r1), _mm256_cvtpd_ps(r0)));
    const __m256i p0 = _mm256_castpd_si256(_mm256_cvtps_pd(_mm256_castps256_ps128(p)));
    const __m256i p1 = _mm256_castpd_si256(_mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
    const __m256d s0 =
        _mm256_castsi256_pd(_mm256_add_epi64(p0, _mm256_slli_epi64(_mm256_castpd_si256(t0), 52)));
    const __m256d s1 =
        _mm256_castsi256_pd(_mm256_add_epi64(p1, _mm256_slli_epi64(_mm256_castpd_si256(t1), 52)));
    *e0 = _mm256_andnot_pd(_mm256_cmp_pd(x0, lim, _CMP_LT_OQ), s0);
    *e1 = _mm256_andnot_pd(_mm256_cmp_pd(x1, lim, _CMP_LT_OQ), s1);
}

/* 1 / (1 + e) and log1p(e) for e in [0, 1], in f32: two divisions (fewer
 * instructions than one shared division and the products that split it, and
 * each result rounded about twice). log1p as recip_log1p: c = [e > sqrt2 - 1],
 * log1p(e) = c ln2 + s P(s^2), s = (e - c) / (e + 2 + c) in [-0.1716,
 * 0.1716], P the series of 2 atanh(s) / s interpolated by a cubic in s^2 on
 * [0, 0.02944] (2^-29 relative). Full relative accuracy down to e = 2^-100;
 * below that the caller takes e itself (log1p(e) = e (1 - e/2 ...)). */
static inline void recip_log1p_ps(__m256 e, __m256 *inv, __m256 *lp) {
    const __m256 one = F(1.0f);
    const __m256 hi = _mm256_cmp_ps(e, F(0x1.a8279ap-2f), _CMP_GT_OQ);
    const __m256 c = _mm256_and_ps(hi, one);
    *inv = _mm256_div_ps(one, _mm256_add_ps(one, e));
    const __m256 s =
        _mm256_div_ps(_mm256_sub_ps(e, c), _mm256_add_ps(e, _mm256_add_ps(c, F(2.0f))));
    const __m256 t = _mm256_mul_ps(s, s);
    __m256 P = _mm256_fmadd_ps(F(0x1.326dp-2f), t, F(0x1.9957acp-2f));
    P = _mm256_fmadd_ps(_mm256_fmadd_ps(P, t, F(0x1.555588p-1f)), t, F(2.0f));
    *lp = _mm256_fmadd_ps(s, P, _mm256_and_ps(hi, F(0x1.62e430p-1f)));
#undef F
}

/* The logistic loss of 8 rows as logistic4 (same forms, same signs), with
 * exp, log1p and 1 / (1 + e) in f32: rows 0-3 in Z0, Y0 and 4-7 in Z1, Y1;
 * the residuals into R0, R1 and the rows' losses into L0, L1. Where the
 * float e would lose precision (e < 2^-100, m < -69) log1p(e) is e itself,
 * in double. In two halves, so that a loop can run the first (the label's
 * sign, the margin and e) of the next 8 rows beside the second of these:
 * each half is a chain of dependent steps longer than the out-of-order
 * window covers when the two follow each other in program order. */
typedef struct {
    __m256d s0, s1, m0, m1, e0, e1;
} margins8;
static inline margins8 logistic8_margins(__m256d Z0, __m256d Z1, __m256d Y0, __m256d Y1) {
    const __m256d zero = _mm256_setzero_pd(), sign = _mm256_set1_pd(-0.0);
    margins8 g;
    g.s0 = _mm256_and_pd(_mm256_cmp_pd(Y0, zero, _CMP_GT_OQ), sign);
    g.s1 = _mm256_and_pd(_mm256_cmp_pd(Y1, zero, _CMP_GT_OQ), sign);
    g.m0 = _mm256_xor_pd(Z0, g.s0), g.m1 = _mm256_xor_pd(Z1, g.s1);
    exp_neg_f32(_mm256_or_pd(g.m0, sign), _mm256_or_pd(g.m1, sign), &g.e0, &g.e1);
    return g;
}
static inline void logistic8_finish(margins8 g, __m256d *R0, __m256d *R1, __m256d *L0,
                                    __m256d *L1) {
    const __m256d zero = _mm256_setzero_pd();
    const __m256d one = _mm256_set1_pd(1.0), tiny = _mm256_set1_pd(0x1p-100);
    __m256 inv, lp;
    recip_log1p_ps(_mm256_set_m128(_mm256_cvtpd_ps(g.e1), _mm256_cvtpd_ps(g.e0)), &inv, &lp);
    const __m256d i0 = _mm256_cvtps_pd(_mm256_castps256_ps128(inv));
    const __m256d i1 = _mm256_cvtps_pd(_mm256_extractf128_ps(inv, 1));
    *R0 = _mm256_xor_pd(_mm256_mul_pd(_mm256_blendv_pd(one, g.e0, g.m0), i0), g.s0);
    *R1 = _mm256_xor_pd(_mm256_mul_pd(_mm256_blendv_pd(one, g.e1, g.m1), i1), g.s1);
    __m256d l0 = _mm256_cvtps_pd(_mm256_castps256_ps128(lp));
    __m256d l1 = _mm256_cvtps_pd(_mm256_extractf128_ps(lp, 1));
    l0 = _mm256_blendv_pd(l0, g.e0, _mm256_cmp_pd(g.e0, tiny, _CMP_LT_OQ));
    l1 = _mm256_blendv_pd(l1, g.e1, _mm256_cmp_pd(g.e1, tiny, _CMP_LT_OQ));
    *L0 = _mm256_add_pd(_mm256_max_pd(g.m0, zero), l0);
    *L1 = _mm256_add_pd(_mm256_max_pd(g.m1, zero), l1);
}
static inline void logistic8_f32(__m256d Z0, __m256d Z1, __m256d Y0, __m256d Y1, __m256d *R0,
                                 __m256d *R1, __m256d *L0, __m256d *L1) {
    logistic8_finish(logistic8_margins(Z0, Z1, Y0, Y1), R0, R1, L0, L1);
}

void nr_exp_reduced_f32_avx2(const float *r, size_t n, float *out) {
    for (size_t i = 0; i < n; i += 8) {
        float t[8] = {0};
        for (size_t k = 0; k < 8 && i + k < n; k++) t[k] = r[i + k];
        _mm256_storeu_ps(t, exp_reduced_ps(_mm256_loadu_ps(t)));
        for (size_t k = 0; k < 8 && i + k < n; k++) out[i + k] = t[k];
    }
}

void nr_exp_neg_f32_avx2(const double *x, size_t n, double *out) {
    for (size_t i = 0; i < n; i += 8) {
        double t[8] = {0};
        for (size_t k = 0; k < 8 && i + k < n; k++) t[k] = x[i + k];
        __m256d e0, e1;
        exp_neg_f32(_mm256_loadu_pd(t), _mm256_loadu_pd(t + 4), &e0, &e1);
        _mm256_storeu_pd(t, e0), _mm256_storeu_pd(t + 4, e1);
        for (size_t k = 0; k < 8 && i + k < n; k++) out[i + k] = t[k];
    }
}

void nr_recip_log1p_f32_avx2(const float *e, size_t n, float *inv, float *lp) {
    for (size_t i = 0; i < n; i += 8) {
        float t[8] = {0}, u[8];
        for (size_t k = 0; k < 8 && i + k < n; k++) t[k] = e[i + k];
        __m256 a, b;
        recip_log1p_ps(_mm256_loadu_ps(t), &a, &b);
        _mm256_storeu_ps(t, a), _mm256_storeu_ps(u, b);
        for (size_t k = 0; k < 8 && i + k < n; k++) inv[i + k] = t[k], lp[i + k] = u[k];
    }
}

void nr_logistic_rows_f32_avx2(const double *z, const double *y, size_t n, double *r, double *l) {
    for (size_t i = 0; i < n; i += 8) {
        double a[8] = {0}, b[8] = {0}, c[8];
        for (size_t k = 0; k < 8 && i + k < n; k++) a[k] = z[i + k], b[k] = y[i + k];
        __m256d R0, R1, L0, L1;
        logistic8_f32(_mm256_loadu_pd(a), _mm256_loadu_pd(a + 4), _mm256_loadu_pd(b),
                      _mm256_loadu_pd(b + 4), &R0, &R1, &L0, &L1);
        _mm256_storeu_pd(a, R0), _mm256_storeu_pd(a + 4, R1);
        _mm256_storeu_pd(c, L0), _mm256_storeu_pd(c + 4, L1);
        for (size_t k = 0; k < 8 && i + k < n; k++) r[i + k] = a[k], l[i + k] = c[k];
    }
}

/* One stored value as a double, whatever the row type: exact for all three
 * (a half through its float, as the vector loads widen it). */
static inline double val_f64(double v) {
    return v;
}
static inline double val_f32(float v) {
    return v;
}
static inline double val_f16(uint16_t h) {
    return _cvtsh_ss(h);
}
#define VAL(v) _Generic((v), double : val_f64, float : val_f32, uint16_t : val_f16)(v)

/* Scalar rows (tails, and rows too wide for registers): the objective's own
 * per-row definition, from z = b + sum w x. */
#define ROW_SQUARED(z, y, l, r) (r = (z) - (y), l = r * r)
#define ROW_LOGISTIC(z, y, l, r) nr_row_logistic(z, y, &l, &r)
#define ROW_PERCEPTRON(z, y, l, r) nr_row_perceptron(z, y, &l, &r)

/* Rows [i0, n) of a one-feature block, scalar, into g, s, l. */
#define TAIL_1(T, ROW)                                                                             \
    for (size_t i = i0; i < n; i++) {                                                              \
        double xv = VAL(x[2 * i]), r, lr;                                                          \
        ROW_TAIL1_##ROW g += r * xv, s += r, l += lr;                                              \
    }
/* the squared error's own order: w x + b - y */
#define ROW_TAIL1_SQUARED r = w0 * xv + b - VAL(x[2 * i + 1]), lr = r * r;
#define ROW_TAIL1_LOGISTIC nr_row_logistic(w0 *xv + b, VAL(x[2 * i + 1]), &lr, &r);
#define ROW_TAIL1_PERCEPTRON nr_row_perceptron(w0 *xv + b, VAL(x[2 * i + 1]), &lr, &r);

/* 8 floats from p: f32 rows as they are, f16 rows widened. */
#define LOAD8_F32(p) _mm256_loadu_ps(p)
#define LOAD8_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
/* n halves (a multiple of 4) from h widened to floats in buf, a vcvtph2ps
 * and a store per 8 halves, nothing read past them: rows staged in L1 for
 * Huber's 4-row loop (STAGE_F16) and the logistic loops (GROUP8_F16). */
static inline const float *stage_f16(const uint16_t *h, size_t n, float *buf) {
    size_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(buf + j, LOAD8_F16(h + j));
    if (j < n) _mm_storeu_ps(buf + j, _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(h + j))));
    return buf;
}

/* f32 or f16 rows (T, LOAD8): eight floats a load, widened to double. */
#define GRAD1_F32(T, LOAD8, NAME, RES, ROW)                                                        \
    static void NAME(const T *x, size_t n, double w0, double b, double *out) {                     \
        const __m256d W = _mm256_set1_pd(w0), B = _mm256_set1_pd(b);                               \
        __m256d g0 = _mm256_setzero_pd(), g1 = g0, s0 = g0, s1 = g0, l0 = g0, l1 = g0, r0, r1;     \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8) {                                                               \
            _mm_prefetch((const char *)(x + 2 * i) + PREFETCH, _MM_HINT_T0);                       \
            __m256 a = LOAD8(x + 2 * i), c = LOAD8(x + 2 * i + 8);                                 \
            __m256d p = _mm256_cvtps_pd(_mm256_castps256_ps128(a)); /* x0 y0 x1 y1 */              \
            __m256d q = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));                              \
            __m256d u = _mm256_cvtps_pd(_mm256_castps256_ps128(c));                                \
            __m256d v = _mm256_cvtps_pd(_mm256_extractf128_ps(c, 1));                              \
            __m256d X0 = _mm256_unpacklo_pd(p, q), Y0 = _mm256_unpackhi_pd(p, q);                  \
            __m256d X1 = _mm256_unpacklo_pd(u, v), Y1 = _mm256_unpackhi_pd(u, v);                  \
            RES(W, X0, B, Y0, r0, l0)                                                              \
            RES(W, X1, B, Y1, r1, l1)                                                              \
            g0 = _mm256_fmadd_pd(r0, X0, g0), g1 = _mm256_fmadd_pd(r1, X1, g1);                    \
            s0 = _mm256_add_pd(s0, r0), s1 = _mm256_add_pd(s1, r1);                                \
        }                                                                                          \
        double g = hsum(_mm256_add_pd(g0, g1)), s = hsum(_mm256_add_pd(s0, s1)),                   \
               l = hsum(_mm256_add_pd(l0, l1));                                                    \
        size_t i0 = i;                                                                             \
        TAIL_1(T, ROW)                                                                             \
        out[0] = g, out[1] = s, out[2] = l;                                                        \
    }

#define GRAD1_F64(NAME, RES, ROW)                                                                  \
    static void NAME(const double *x, size_t n, double w0, double b, double *out) {                \
        const __m256d W = _mm256_set1_pd(w0), B = _mm256_set1_pd(b);                               \
        __m256d g0 = _mm256_setzero_pd(), g1 = g0, s0 = g0, s1 = g0, l0 = g0, l1 = g0, r0, r1;     \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8) {                                                               \
            _mm_prefetch((const char *)(x + 2 * i) + PREFETCH, _MM_HINT_T0); /* 128 bytes */       \
            _mm_prefetch((const char *)(x + 2 * i) + PREFETCH + 64, _MM_HINT_T0);                  \
            __m256d p = _mm256_loadu_pd(x + 2 * i), q = _mm256_loadu_pd(x + 2 * i + 4);            \
            __m256d u = _mm256_loadu_pd(x + 2 * i + 8), v = _mm256_loadu_pd(x + 2 * i + 12);       \
            __m256d X0 = _mm256_unpacklo_pd(p, q), Y0 = _mm256_unpackhi_pd(p, q);                  \
            __m256d X1 = _mm256_unpacklo_pd(u, v), Y1 = _mm256_unpackhi_pd(u, v);                  \
            RES(W, X0, B, Y0, r0, l0)                                                              \
            RES(W, X1, B, Y1, r1, l1)                                                              \
            g0 = _mm256_fmadd_pd(r0, X0, g0), g1 = _mm256_fmadd_pd(r1, X1, g1);                    \
            s0 = _mm256_add_pd(s0, r0), s1 = _mm256_add_pd(s1, r1);                                \
        }                                                                                          \
        double g = hsum(_mm256_add_pd(g0, g1)), s = hsum(_mm256_add_pd(s0, s1)),                   \
               l = hsum(_mm256_add_pd(l0, l1));                                                    \
        size_t i0 = i;                                                                             \
        TAIL_1(double, ROW)                                                                        \
        out[0] = g, out[1] = s, out[2] = l;                                                        \
    }

GRAD1_F32(float, LOAD8_F32, grad1_f32, RES1_SQUARED, SQUARED)
GRAD1_F64(grad1_f64, RES1_SQUARED, SQUARED)
GRAD1_F64(logistic1_f64, RES1_LOGISTIC, LOGISTIC)
GRAD1_F32(float, LOAD8_F32, perceptron1_f32, RES1_PERCEPTRON, PERCEPTRON)
GRAD1_F32(uint16_t, LOAD8_F16, grad1_f16, RES1_SQUARED, SQUARED)
GRAD1_F32(uint16_t, LOAD8_F16, perceptron1_f16, RES1_PERCEPTRON, PERCEPTRON)
GRAD1_F64(perceptron1_f64, RES1_PERCEPTRON, PERCEPTRON)

/* One feature, f32 rows, the logistic loss: GRAD1_F32's loop with the
 * 8 rows' transcendental part in one float vector (logistic8_f32), and the
 * next 8 rows' loads and first half of it ahead, beside the second half of
 * these (as LOGISTIC8_SMALL, below): 10.1 -> 7.9 cycles a row in L2 (5
 * alternated runs), 18.1-18.7 -> 14.0-14.4 ms an epoch on 10M rows with 2
 * threads (3 pairs). f32 rows in place, f16 rows 8 at a time widened to
 * floats (GROUP: GROUP8_F32, GROUP8_F16, below). */
#define LOGISTIC1(NAME, T, GROUP)                                                                  \
    static void NAME(const T *x, size_t n, double w0, double b, double *out) {                     \
        /* one accumulator each (not two, as GRAD1_F32): the loop's 8 rows are                     \
         * far longer than an FMA's latency, and the registers saved keep W,                       \
         * B and the constants out of the stack */                                                 \
        const __m256d W = _mm256_set1_pd(w0), B = _mm256_set1_pd(b);                               \
        __m256d G = _mm256_setzero_pd(), S = G, L = G, r0, r1, l0, l1;                             \
        /* rows i..i+7: their features and the first half of their logistic                        \
         * part, computed one step ahead (logistic8_margins) */                                    \
        __m256d X0 = G, X1 = G;                                                                    \
        margins8 next = {G, G, G, G, G, G};                                                        \
        GROUP_BUF(float, 1, 8 * 2)                                                                 \
        size_t i = 0;                                                                              \
        if (n >= 8) LOGISTIC1_AHEAD(GROUP(x, 0, 2))                                                \
        for (; i + 8 <= n; i += 8) {                                                               \
            _mm_prefetch((const char *)(x + 2 * i) + PREFETCH, _MM_HINT_T0);                       \
            const margins8 now = next;                                                             \
            const __m256d A0 = X0, A1 = X1;                                                        \
            if (i + 16 <= n) LOGISTIC1_AHEAD(GROUP(x + 2 * (i + 8), 0, 2))                         \
            logistic8_finish(now, &r0, &r1, &l0, &l1);                                             \
            L = _mm256_add_pd(L, _mm256_add_pd(l0, l1));                                           \
            G = _mm256_fmadd_pd(r1, A1, _mm256_fmadd_pd(r0, A0, G));                               \
            S = _mm256_add_pd(S, _mm256_add_pd(r0, r1));                                           \
        }                                                                                          \
        double g = hsum(G), s = hsum(S), l = hsum(L);                                              \
        size_t i0 = i;                                                                             \
        TAIL_1(T, LOGISTIC)                                                                        \
        out[0] = g, out[1] = s, out[2] = l;                                                        \
    }
/* The 8 rows of floats from q: their features and the first half of their
 * logistic part, into X0, X1 and next. Four widening loads (one
 * instruction each), not two loads and two extracts. */
#define LOGISTIC1_AHEAD(Q)                                                                         \
    {                                                                                              \
        const float *q_ = (Q);                                                                     \
        const __m256d p = _mm256_cvtps_pd(_mm_loadu_ps(q_)); /* x0 y0 x1 y1 */                     \
        const __m256d q = _mm256_cvtps_pd(_mm_loadu_ps(q_ + 4));                                   \
        const __m256d u = _mm256_cvtps_pd(_mm_loadu_ps(q_ + 8));                                   \
        const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(q_ + 12));                                  \
        X0 = _mm256_unpacklo_pd(p, q), X1 = _mm256_unpacklo_pd(u, v);                              \
        next = logistic8_margins(_mm256_fmadd_pd(W, X0, B), _mm256_fmadd_pd(W, X1, B),             \
                                 _mm256_unpackhi_pd(p, q), _mm256_unpackhi_pd(u, v));              \
    }
/* The group of 8 rows of st values that starts at p, as floats: f32 rows
 * in place; f16 rows (8 st halves) widened into xs[slot] by stage_f16,
 * nothing read past the group.
 * LOGISTIC8_SMALL keeps two slots, the group computed ahead and the one
 * whose gradient update reads its rows again; LOGISTIC1 carries its
 * features in registers and needs one. */
#define GROUP_BUF(TS, slots, count) TS xs[slots][count] __attribute__((aligned(32)));
#define GROUP8_F32(p, slot, st) ((void)xs, (p))
#define GROUP8_F16(p, slot, st) stage_f16(p, 8 * (st), xs[slot])
LOGISTIC1(logistic1_f32, float, GROUP8_F32)
LOGISTIC1(logistic1_f16, uint16_t, GROUP8_F16)
/* ... and f16 rows widened to doubles, for LOGISTIC8_SMALL, whose dot
 * products and gradient update both read each value: a float would be
 * widened to double at each (vcvtps2pd takes the FP pipes the loop is bound
 * by); a double is widened once. */
#define GROUP8_F16_PD(p, slot, st) widen_group_f16_pd(p, 8 * (st), xs[slot])
static inline const double *widen_group_f16_pd(const uint16_t *h, size_t count, double *buf) {
    for (size_t j = 0; j < count; j += 8) {
        const __m256 f = LOAD8_F16(h + j);
        _mm256_store_pd(buf + j, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
        _mm256_store_pd(buf + j + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
    }
    return buf;
}

/* Lanes 0..k-1 set, for masked loads of a tail of k < 4 features. */
static inline __m256i tail_mask64(size_t k) {
    return _mm256_setr_epi64x(k > 0 ? -1 : 0, k > 1 ? -1 : 0, k > 2 ? -1 : 0, 0);
}

static inline __m256d load4_f64(const double *p, size_t k, __m256i m) {
    return k == 4 ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, m);
}

static inline __m256d load4_f32(const float *p, size_t k, __m256i m) {
    if (k == 4) return _mm256_cvtps_pd(_mm_loadu_ps(p));
    __m128i m32 = _mm_setr_epi32(k > 0 ? -1 : 0, k > 1 ? -1 : 0, k > 2 ? -1 : 0, 0);
    (void)m;
    return _mm256_cvtps_pd(_mm_maskload_ps(p, m32));
}

/* 4 halves (k = 4), or the k < 4 of a row's tail zero-padded as the masked
 * loads are: no read past p[k - 1], which may be the last value mapped. */
static inline __m256d load4_f16(const uint16_t *p, size_t k, __m256i m) {
    (void)m;
    if (k == 4) return _mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)p)));
    uint64_t u = p[0];
    if (k > 1) u |= (uint64_t)p[1] << 16;
    if (k > 2) u |= (uint64_t)p[2] << 32;
    return _mm256_cvtps_pd(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)u)));
}

/* Several features: G (d rounded up to 4, zeroed) accumulates sum r*x. */
#define GRADN(T, NAME, LOAD, ROW)                                                                  \
    static void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out,       \
                     double *G, double *Wp) {                                                      \
        const size_t dv = (d + 3) / 4, tail = d - 4 * (dv - 1);                                    \
        const __m256i m = tail_mask64(tail);                                                       \
        double s = 0, l = 0;                                                                       \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T *row = x + i * (d + 1);                                                        \
            __m256d acc = _mm256_setzero_pd();                                                     \
            for (size_t v = 0; v < dv; v++) {                                                      \
                __m256d X = LOAD(row + 4 * v, v + 1 < dv ? 4 : tail, m);                           \
                acc = _mm256_fmadd_pd(_mm256_load_pd(Wp + 4 * v), X, acc);                         \
            }                                                                                      \
            double r, lr;                                                                          \
            ROW(hsum(acc) + b, VAL(row[d]), lr, r);                                                \
            const __m256d R = _mm256_set1_pd(r);                                                   \
            for (size_t v = 0; v < dv; v++) {                                                      \
                __m256d X = LOAD(row + 4 * v, v + 1 < dv ? 4 : tail, m);                           \
                _mm256_store_pd(G + 4 * v, _mm256_fmadd_pd(R, X, _mm256_load_pd(G + 4 * v)));      \
            }                                                                                      \
            s += r, l += lr;                                                                       \
        }                                                                                          \
        for (size_t j = 0; j < d; j++) out[j] = G[j];                                              \
        out[d] = s, out[d + 1] = l;                                                                \
        (void)w;                                                                                   \
    }

GRADN(float, gradn_f32, load4_f32, ROW_SQUARED)
GRADN(double, gradn_f64, load4_f64, ROW_SQUARED)
GRADN(float, logisticn_f32, load4_f32, ROW_LOGISTIC)
GRADN(double, logisticn_f64, load4_f64, ROW_LOGISTIC)
GRADN(float, perceptronn_f32, load4_f32, ROW_PERCEPTRON)
GRADN(double, perceptronn_f64, load4_f64, ROW_PERCEPTRON)
GRADN(uint16_t, gradn_f16, load4_f16, ROW_SQUARED)
GRADN(uint16_t, logisticn_f16, load4_f16, ROW_LOGISTIC)
GRADN(uint16_t, perceptronn_f16, load4_f16, ROW_PERCEPTRON)

/* The loops that keep a row's weights and the gradient in registers: W,
 * the weights as NV vectors of 4 (zero past d), and G, zeroed. */
#define WEIGHTS_IN_REGISTERS(NV, NVMAX)                                                            \
    __m256d W[NVMAX], G[NVMAX];                                                                    \
    for (int v = 0; v < (int)(NV); v++) {                                                          \
        double t[4];                                                                               \
        for (int k = 0; k < 4; k++) t[k] = (size_t)(4 * v + k) < d ? w[4 * v + k] : 0.0;           \
        W[v] = _mm256_loadu_pd(t), G[v] = _mm256_setzero_pd();                                     \
    }
/* ... and their end: rows i..n-1 (fewer than the loop's step) by the
 * objective's scalar formula ROW on rows of type T, after the vector sums
 * (G, and the sum and loss vectors SV, LV), then out. */
#define FINISH_ROWS(T, NV, NVMAX, ROW, SV, LV)                                                     \
    double g[4 * (NVMAX)];                                                                         \
    for (int v = 0; v < (int)(NV); v++) _mm256_storeu_pd(g + 4 * v, G[v]);                         \
    double s = hsum(SV), l = hsum(LV);                                                             \
    for (; i < n; i++) {                                                                           \
        const T *row = x + i * st;                                                                 \
        double z = b, r, lr;                                                                       \
        for (size_t j = 0; j < d; j++) z += w[j] * VAL(row[j]);                                    \
        ROW(z, VAL(row[d]), lr, r);                                                                \
        for (size_t j = 0; j < d; j++) g[j] += r * VAL(row[j]);                                    \
        s += r, l += lr;                                                                           \
    }                                                                                              \
    for (size_t j = 0; j < d; j++) out[j] = g[j];                                                  \
    out[d] = s, out[d + 1] = l;

/* Four rows at a time with the weights and the gradient in registers (NV
 * vectors of 4, at most NVMAX): the loop of the widths up to 16 (NV = NVMAX a
 * constant, so W and G stay in registers) and of Huber's kernel (NV the
 * row's vectors, up to 256). The four dot products are reduced together (two
 * hadds and a cross-lane add give the four residuals in one vector), so a
 * row costs no horizontal sum of its own and no store-to-load round trip
 * through a gradient array: the loop is bound by memory, not by latency.
 * RES forms the residuals R and adds the losses into L from the dot
 * products; ROW does one row of the tail by the scalar formula; PF bytes
 * from PD bytes past the first of the four rows are prefetched (every line
 * of the four for the small widths, one line for Huber's, as each was
 * tuned). Expects x, n, d, w, b and out of the kernel's signature. */
#define ROWS4(T, STAGE, TS, LOAD, NV, NVMAX, PD, PF, RES, ROW, GR)                                 \
    const size_t tail = d - 4 * (NV - 1), st = d + 1;                                              \
    const __m256i m = tail_mask64(tail);                                                           \
    WEIGHTS_IN_REGISTERS(NV, NVMAX)                                                                \
    const __m256d B = _mm256_set1_pd(b);                                                           \
    __m256d S = _mm256_setzero_pd(), L = S;                                                        \
    STAGE_BUF_##STAGE(NVMAX) size_t i = 0;                                                         \
    for (; i + 4 <= n; i += 4) {                                                                   \
        const TS *r0 = STAGE_##STAGE(x + i * st, 4 * st), *r1 = r0 + st, *r2 = r1 + st,            \
                 *r3 = r2 + st;                                                                    \
        for (size_t o = 0; o < (PF); o += 64)                                                      \
            _mm_prefetch((const char *)(x + i * st) + (PD) + o, _MM_HINT_T0);                      \
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;                               \
        for (int v = 0; v < (int)(NV); v++) {                                                      \
            const size_t k = v + 1 < (int)(NV) ? 4 : tail;                                         \
            a0 = _mm256_fmadd_pd(W[v], LOAD(r0 + 4 * v, k, m), a0);                                \
            a1 = _mm256_fmadd_pd(W[v], LOAD(r1 + 4 * v, k, m), a1);                                \
            a2 = _mm256_fmadd_pd(W[v], LOAD(r2 + 4 * v, k, m), a2);                                \
            a3 = _mm256_fmadd_pd(W[v], LOAD(r3 + 4 * v, k, m), a3);                                \
        }                                                                                          \
        const __m256d dot = dots4(a0, a1, a2, a3);                                                 \
        const __m256d Y = _mm256_setr_pd(VAL(r0[d]), VAL(r1[d]), VAL(r2[d]), VAL(r3[d]));          \
        __m256d R;                                                                                 \
        RES(dot, B, Y, R, L)                                                                       \
        S = _mm256_add_pd(S, R);                                                                   \
        const __m256d R0 = _mm256_permute4x64_pd(R, 0x00), R1 = _mm256_permute4x64_pd(R, 0x55);    \
        const __m256d R2 = _mm256_permute4x64_pd(R, 0xaa), R3 = _mm256_permute4x64_pd(R, 0xff);    \
        for (int v = 0; (GR) && v < (int)(NV); v++) {                                              \
            const size_t k = v + 1 < (int)(NV) ? 4 : tail;                                         \
            G[v] = _mm256_fmadd_pd(R0, LOAD(r0 + 4 * v, k, m), G[v]);                              \
            G[v] = _mm256_fmadd_pd(R1, LOAD(r1 + 4 * v, k, m), G[v]);                              \
            G[v] = _mm256_fmadd_pd(R2, LOAD(r2 + 4 * v, k, m), G[v]);                              \
            G[v] = _mm256_fmadd_pd(R3, LOAD(r3 + 4 * v, k, m), G[v]);                              \
        }                                                                                          \
    }                                                                                              \
    FINISH_ROWS(T, NV, NVMAX, ROW, S, L)

/* f16 rows in Huber's 4-row loop (rows of up to 1024 features, too wide
 * to keep in registers as GRAD_SMALL_F16 does): the 4 rows' halves (n, a
 * multiple of 4) widened to floats on the stack (L1) by stage_f16; the f32
 * loop then reads them with its loads that widen to double, where widening
 * 4 halves at each of a row's two uses takes three instructions a use. */
#define STAGE_BUF_NONE(NVMAX)
#define STAGE_NONE(p, count) (p)
#define STAGE_BUF_F16(NVMAX) float sbuf[4 * (4 * (NVMAX) + 1)];
#define STAGE_F16(p, count) stage_f16(p, count, sbuf)

#define GRAD_SMALL(T, NAME, LOAD, DV, RES, ROW)                                                    \
    static void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {     \
        ROWS4(T, NONE, T, LOAD, DV, DV, PREFETCH_ROWS4, 4 * st * sizeof(T), RES, ROW, 1)           \
    }
/* An objective's loss alone (kernels.h, loss_f32/f64 and
 * logistic_loss_f32/f64): ROWS4 with its gradient updates left out
 * (GR = 0), the rest of the loop as it is, so the sums and losses keep
 * their bits. */
#define LOSS_SMALL(T, NAME, LOAD, DV, RES, ROW)                                                    \
    static void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {     \
        ROWS4(T, NONE, T, LOAD, DV, DV, PREFETCH_ROWS4, 4 * st * sizeof(T), RES, ROW, 0)           \
    }
GRAD_SMALL(float, grads1_f32, load4_f32, 1, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(float, grads2_f32, load4_f32, 2, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(float, grads3_f32, load4_f32, 3, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(float, grads4_f32, load4_f32, 4, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(double, grads1_f64, load4_f64, 1, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(double, grads2_f64, load4_f64, 2, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(double, grads3_f64, load4_f64, 3, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(double, grads4_f64, load4_f64, 4, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL(double, logistics1_f64, load4_f64, 1, RESN_LOGISTIC, ROW_LOGISTIC)
GRAD_SMALL(double, logistics2_f64, load4_f64, 2, RESN_LOGISTIC, ROW_LOGISTIC)
GRAD_SMALL(double, logistics3_f64, load4_f64, 3, RESN_LOGISTIC, ROW_LOGISTIC)
GRAD_SMALL(double, logistics4_f64, load4_f64, 4, RESN_LOGISTIC, ROW_LOGISTIC)
GRAD_SMALL(float, perceptrons1_f32, load4_f32, 1, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL(float, perceptrons2_f32, load4_f32, 2, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL(float, perceptrons3_f32, load4_f32, 3, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL(float, perceptrons4_f32, load4_f32, 4, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL(double, perceptrons1_f64, load4_f64, 1, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL(double, perceptrons2_f64, load4_f64, 2, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL(double, perceptrons3_f64, load4_f64, 3, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL(double, perceptrons4_f64, load4_f64, 4, RESN_PERCEPTRON, ROW_PERCEPTRON)
/* f16 rows of 2..16 features (the squared and perceptron losses): ROWS4's
 * groups of 4 rows and its order of every operation, so the bits of the f32
 * kernel, taken as two pairs of rows so that a row's NV vectors are widened
 * from halves once and used from registers by its dot product and its
 * gradient update (a pair's 2 NV widened vectors and 2 dot accumulators;
 * the weights are memory operands, and the compiled NV = 4 loop keeps the
 * sums, the losses and two gradient vectors on the stack), where 4 rows'
 * vectors would not fit. Before, the 4 rows were widened to floats on the
 * stack (stage_f16) and the f32 loop widened each float to double at both
 * of its uses. 1M x 16, one thread, callgrind: 43.9M instructions an epoch
 * staged, 32.0M here (33.2M for the f32 kernel on f32 rows); on 10M x 16
 * with 2 threads the f16 epoch went from 1.00-1.04x the f32 epoch to
 * 0.74-0.82x (doc/bench/f16-cost.txt). It is bound by the core now, not
 * the memory (a cache-resident block takes as long a row); 4-half loads,
 * which widen with fewer shuffles, were no faster. The pair's dot products
 * are reduced together (one hadd and a cross-lane add: the same sums as
 * ROWS4's reduction), its residuals formed in the low half of a vector;
 * the pairs' sums and losses accumulate in two vectors that are ROWS4's
 * lanes 0-1 and 2-3. A row's last load is masked to its tail, which reads
 * up to 2 halves past a row of 2, 5, 6, 9, 10, 13 or 14 features: inside
 * the next row, except after the block's last row, whose group then loads
 * its tail's halves alone. */
/* count halves from p, the rest of 8 zero, reading nothing past them */
static inline __m128i halves_safe(const uint16_t *p, size_t count) {
    uint16_t t[8] = {0};
    memcpy(t, p, count * sizeof *p);
    return _mm_loadu_si128((const __m128i *)t);
}
/* 8 halves (4 if HALF) from p: as they are, or for a row's last load
 * (LAST) of a width not a multiple of 4, masked to the valid lanes (keep),
 * or read alone (SAFE). */
#define HALVES_RAW(p, LAST, FULL, SAFE, HALF)                                                      \
    (!(LAST) || (FULL) ? ((HALF) ? _mm_loadl_epi64((const __m128i *)(p))                           \
                                 : _mm_loadu_si128((const __m128i *)(p)))                          \
     : (SAFE)          ? halves_safe(p, valid)                                                     \
     : (HALF)          ? _mm_and_si128(_mm_loadl_epi64((const __m128i *)(p)), keep)                \
                       : _mm_and_si128(_mm_loadu_si128((const __m128i *)(p)), keep))
/* Row p's NV vectors into X: 8 halves a load (a vcvtph2ps from memory and
 * two widenings for two vectors), 4 for the last vector of an odd NV. */
#define ROW_HALVES(p, X, NV, FULL, SAFE)                                                           \
    {                                                                                              \
        int v = 0;                                                                                 \
        for (; v + 1 < (int)(NV); v += 2) {                                                        \
            const __m256 f =                                                                       \
                _mm256_cvtph_ps(HALVES_RAW((p) + 4 * v, v + 2 == (int)(NV), FULL, SAFE, 0));       \
            X[v] = _mm256_cvtps_pd(_mm256_castps256_ps128(f));                                     \
            X[v + 1] = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));                               \
        }                                                                                          \
        if (v < (int)(NV))                                                                         \
            X[v] = _mm256_cvtps_pd(_mm_cvtph_ps(HALVES_RAW((p) + 4 * v, 1, FULL, SAFE, 1)));       \
    }
/* Rows PA and PB: their dot products, residuals (into S2, L2) and
 * gradient updates. */
#define PAIR_F16(PA, PB, NV, FULL, SAFE_B, RES, S2, L2)                                            \
    {                                                                                              \
        __m256d XA[NV], XB[NV], a = _mm256_setzero_pd(), c = a;                                    \
        ROW_HALVES(PA, XA, NV, FULL, 0)                                                            \
        ROW_HALVES(PB, XB, NV, FULL, SAFE_B)                                                       \
        for (int v = 0; v < (int)(NV); v++)                                                        \
            a = _mm256_fmadd_pd(W[v], XA[v], a), c = _mm256_fmadd_pd(W[v], XB[v], c);              \
        const __m256d h = _mm256_hadd_pd(a, c);                                                    \
        const __m256d dot = _mm256_zextpd128_pd256(                                                \
            _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1)));                   \
        const __m128i yh = _mm_insert_epi16(_mm_cvtsi32_si128((PA)[d]), (PB)[d], 1);               \
        const __m256d Y = _mm256_zextpd128_pd256(_mm_cvtps_pd(_mm_cvtph_ps(yh)));                  \
        __m256d R;                                                                                 \
        RES(dot, B, Y, R, L2)                                                                      \
        S2 = _mm256_add_pd(S2, R);                                                                 \
        const __m256d RA = _mm256_permute4x64_pd(R, 0x00), RB = _mm256_permute4x64_pd(R, 0x55);    \
        for (int v = 0; v < (int)(NV); v++)                                                        \
            G[v] = _mm256_fmadd_pd(RB, XB[v], _mm256_fmadd_pd(RA, XA[v], G[v]));                   \
    }
/* every line of the 4 rows of the widest d of NV (as LOGISTIC8_SMALL) */
#define GROUP_F16(NV, FULL, SAFE, RES)                                                             \
    {                                                                                              \
        const uint16_t *r0 = x + i * st, *r1 = r0 + st, *r2 = r1 + st, *r3 = r2 + st;              \
        for (int o = 0; o < (8 * (4 * NV + 1) + 63) / 64; o++)                                     \
            _mm_prefetch((const char *)r0 + PREFETCH + 64 * o, _MM_HINT_T0);                       \
        PAIR_F16(r0, r1, NV, FULL, 0, RES, S01, L01)                                               \
        PAIR_F16(r2, r3, NV, FULL, SAFE, RES, S23, L23)                                            \
    }
#define GRAD_SMALL_F16_IMPL(NAME, NV, FULL, RES, ROW)                                              \
    static void NAME(const uint16_t *x, size_t n, size_t d, const double *w, double b,             \
                     double *out) {                                                                \
        const size_t tail = d - 4 * (NV - 1), st = d + 1;                                          \
        /* the halves of the row's last load: lanes 0..valid-1 */                                  \
        const size_t valid = (NV) % 2 ? tail : tail + 4;                                           \
        const __m128i keep =                                                                       \
            _mm_cmpgt_epi16(_mm_set1_epi16((short)valid), _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7)); \
        WEIGHTS_IN_REGISTERS(NV, NV)                                                               \
        const __m256d B = _mm256_set1_pd(b);                                                       \
        __m256d S01 = _mm256_setzero_pd(), S23 = S01, L01 = S01, L23 = S01;                        \
        /* the last row's masked load would read past it (tail 1 or 2) */                          \
        const bool past = !(FULL) && tail < 3;                                                     \
        const size_t safe = past && n ? n - 1 : n;                                                 \
        size_t i = 0;                                                                              \
        for (; i + 4 <= safe; i += 4) GROUP_F16(NV, FULL, 0, RES)                                  \
        if (i + 4 <= n) {                                                                          \
            GROUP_F16(NV, FULL, 1, RES)                                                            \
            i += 4;                                                                                \
        }                                                                                          \
        FINISH_ROWS(uint16_t, NV, NV, ROW, _mm256_permute2f128_pd(S01, S23, 0x20),                 \
                    _mm256_permute2f128_pd(L01, L23, 0x20))                                        \
        (void)keep, (void)valid;                                                                   \
    }
/* Widths that are a multiple of 4 need no masked load: a loop of their own
 * (U), the others M (the f16 loops here, the f32 logistic loop below); a
 * masked load and its conversion are 2 instructions, a plain one 1. */
#define WIDTH4_PICK(T, NAME, M, U)                                                                 \
    static void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {     \
        (d % 4 ? M : U)(x, n, d, w, b, out);                                                       \
    }
#define GRAD_SMALL_F16(NAME, NV, RES, ROW)                                                         \
    GRAD_SMALL_F16_IMPL(NAME##_m, NV, 0, RES, ROW)                                                 \
    GRAD_SMALL_F16_IMPL(NAME##_u, NV, 1, RES, ROW)                                                 \
    WIDTH4_PICK(uint16_t, NAME, NAME##_m, NAME##_u)

GRAD_SMALL_F16(grads1_f16, 1, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL_F16(grads2_f16, 2, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL_F16(grads3_f16, 3, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL_F16(grads4_f16, 4, RESN_SQUARED, ROW_SQUARED)
GRAD_SMALL_F16(perceptrons1_f16, 1, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL_F16(perceptrons2_f16, 2, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL_F16(perceptrons3_f16, 3, RESN_PERCEPTRON, ROW_PERCEPTRON)
GRAD_SMALL_F16(perceptrons4_f16, 4, RESN_PERCEPTRON, ROW_PERCEPTRON)

/* The widths 2..16 for f32 rows and the logistic loss: ROWS4's loop on 8
 * rows at a time, so that the 8 rows' transcendental part fills one float
 * vector (logistic8_f32) rather than two 4-lane xmm halves under ROWS4:
 * the double part is the same, the float part and its conversions serve
 * twice the rows. llvm-mca (-mcpu=znver3, the transcendental part alone,
 * per 8 rows): 82 instructions, 92 uops, 22 cycles of FP-pipe throughput
 * against 98, 108 and 33 for the xmm halves (and 143, 143, 58 for two
 * logistic4 in double); its dependency chains simulate at 63 cycles
 * against 78 (93). The dot
 * products of each group of 4 are reduced as in ROWS4 before the next
 * group starts, so W, G and 4 accumulators stay in registers. Unlike
 * ROWS4, the last vector of a row is always a masked load (no branch on the
 * tail in the loop) and the prefetches are a constant count, the lines of 8
 * rows of the widest d of NV (a few lines more than needed for narrower
 * rows, the next iteration's): both unrolled.
 *
 * Software-pipelined by one group: an iteration takes the dot products and
 * the first half of the logistic part (logistic8_margins) of the next 8
 * rows, then the second half and the gradient update of these 8. In plain
 * program order each group's chain (loads, dot products, their reduction,
 * exp, the division, log1p) fills the scheduler with uops waiting on it
 * before the next group's independent work is even dispatched; interleaved,
 * that work runs beside it. Same operations on the same values, so the same
 * bits. Measured 2026-11-30 (one thread, 8192 rows in L2, cycles a row,
 * medians of 4 alternated runs): d = 16 23 -> 18.5, d = 8 21 -> 16.5,
 * d = 3 19.7 -> 13; on 10M x 16 with 2 threads (neuron bench, 3 alternated
 * pairs) 44-46 -> 39-41 ms an epoch. */
/* Vector v of a row of floats (f32 rows) or doubles (f16 rows widened,
 * GROUP8_F16_PD): the last one masked to the row's tail features unless
 * the width is a multiple of 4 (FULL). */
static inline __m256d loadv_f32(const float *p, bool whole, __m128i m32, __m256i m64) {
    (void)m64;
    return _mm256_cvtps_pd(whole ? _mm_loadu_ps(p) : _mm_maskload_ps(p, m32));
}
static inline __m256d loadv_f64(const double *p, bool whole, __m128i m32, __m256i m64) {
    (void)m32;
    return whole ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, m64);
}
#define LOADV(p, v, NV, FULL)                                                                      \
    _Generic((p), const float *: loadv_f32, const double *: loadv_f64)(                            \
        p, (FULL) || (v) + 1 < (int)(NV), m32, m64)
#define DOT4_ROWS(R0, R1, R2, R3, NV, FULL, DOT)                                                   \
    {                                                                                              \
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;                               \
        for (int v = 0; v < (int)(NV); v++) {                                                      \
            a0 = _mm256_fmadd_pd(W[v], LOADV(R0 + 4 * v, v, NV, FULL), a0);                        \
            a1 = _mm256_fmadd_pd(W[v], LOADV(R1 + 4 * v, v, NV, FULL), a1);                        \
            a2 = _mm256_fmadd_pd(W[v], LOADV(R2 + 4 * v, v, NV, FULL), a2);                        \
            a3 = _mm256_fmadd_pd(W[v], LOADV(R3 + 4 * v, v, NV, FULL), a3);                        \
        }                                                                                          \
        DOT = dots4(a0, a1, a2, a3);                                                               \
    }
#define GRAD4_ROWS(R0, R1, R2, R3, NV, FULL, R)                                                    \
    {                                                                                              \
        const __m256d q0 = _mm256_permute4x64_pd(R, 0x00), q1 = _mm256_permute4x64_pd(R, 0x55);    \
        const __m256d q2 = _mm256_permute4x64_pd(R, 0xaa), q3 = _mm256_permute4x64_pd(R, 0xff);    \
        for (int v = 0; v < (int)(NV); v++) {                                                      \
            G[v] = _mm256_fmadd_pd(q0, LOADV(R0 + 4 * v, v, NV, FULL), G[v]);                      \
            G[v] = _mm256_fmadd_pd(q1, LOADV(R1 + 4 * v, v, NV, FULL), G[v]);                      \
            G[v] = _mm256_fmadd_pd(q2, LOADV(R2 + 4 * v, v, NV, FULL), G[v]);                      \
            G[v] = _mm256_fmadd_pd(q3, LOADV(R3 + 4 * v, v, NV, FULL), G[v]);                      \
        }                                                                                          \
    }
/* The dot products of the 8 rows from q0 and the first half of their
 * logistic part, into next. */
#define LOGISTIC8_AHEAD(Q, NV, FULL)                                                               \
    {                                                                                              \
        const __typeof__(*(Q)) *q0 = (Q), *q1 = q0 + st, *q2 = q1 + st, *q3 = q2 + st;             \
        const __typeof__(*(Q)) *q4 = q3 + st, *q5 = q4 + st, *q6 = q5 + st, *q7 = q6 + st;         \
        __m256d D0, D1;                                                                            \
        DOT4_ROWS(q0, q1, q2, q3, NV, FULL, D0)                                                    \
        DOT4_ROWS(q4, q5, q6, q7, NV, FULL, D1)                                                    \
        next = logistic8_margins(_mm256_add_pd(D0, B), _mm256_add_pd(D1, B),                       \
                                 _mm256_setr_pd(q0[d], q1[d], q2[d], q3[d]),                       \
                                 _mm256_setr_pd(q4[d], q5[d], q6[d], q7[d]));                      \
    }
/* Where LOGISTIC8_SMALL finds the rows of this group (_AT, widened
 * already) and the stored rows of the next (_NEXT): f32 rows in place, the
 * next group from r7 (with src + 8 st GCC 12 keeps the loop's row pointers
 * on the stack: 954 instructions against 849 at d = 16, 18% slower in L2);
 * f16 rows in their slot, the next group from src. */
#define GROUP8_F32_AT(src, slot) (src)
#define GROUP8_F32_NEXT(src, r7, st) ((r7) + (st))
#define GROUP8_F16_PD_AT(src, slot) ((const double *)xs[slot])
#define GROUP8_F16_PD_NEXT(src, r7, st) ((src) + 8 * (st))
#define LOGISTIC8_SMALL(NAME, T, TS, GROUP, NV, FULL, GR)                                          \
    static void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {     \
        const size_t tail = d - 4 * (NV - 1), st = d + 1;                                          \
        const __m128i m32 =                                                                        \
            _mm_setr_epi32(-1, tail > 1 ? -1 : 0, tail > 2 ? -1 : 0, tail > 3 ? -1 : 0);           \
        const __m256i m64 = _mm256_cvtepi32_epi64(m32);                                            \
        WEIGHTS_IN_REGISTERS(NV, NV)                                                               \
        const __m256d B = _mm256_set1_pd(b);                                                       \
        __m256d S = _mm256_setzero_pd(), L = S;                                                    \
        size_t i = 0;                                                                              \
        margins8 next = {B, B, B, B, B, B}; /* read only from the 8 rows of LOGISTIC8_AHEAD */     \
        GROUP_BUF(TS, 2, 8 * (4 * (NV) + 1))                                                       \
        if (n >= 8) LOGISTIC8_AHEAD(GROUP(x, 0, st), NV, FULL)                                     \
        for (; i + 8 <= n; i += 8) {                                                               \
            const T *src = x + i * st; /* the rows of this group, as stored */                     \
            const TS *r0 = GROUP##_AT(src, (i >> 3) & 1), *r1 = r0 + st, *r2 = r1 + st,            \
                     *r3 = r2 + st;                                                                \
            const TS *r4 = r3 + st, *r5 = r4 + st, *r6 = r5 + st, *r7 = r6 + st;                   \
            for (int o = 0; o < (8 * (int)sizeof(T) * (4 * NV + 1) + 63) / 64; o++)                \
                _mm_prefetch((const char *)src + PREFETCH_LOGISTIC8 + 64 * o, _MM_HINT_T0);        \
            const margins8 now = next;                                                             \
            const T *after = GROUP##_NEXT(src, r7, st); /* the next group, as stored */            \
            if (i + 16 <= n) LOGISTIC8_AHEAD(GROUP(after, ((i >> 3) + 1) & 1, st), NV, FULL)       \
            __m256d R0, R1, L0, L1;                                                                \
            logistic8_finish(now, &R0, &R1, &L0, &L1);                                             \
            S = _mm256_add_pd(S, _mm256_add_pd(R0, R1));                                           \
            L = _mm256_add_pd(L, _mm256_add_pd(L0, L1));                                           \
            if (GR) {                                                                              \
                /* reload the rows (L1 hits) rather than let the compiler keep                     \
                 * the 8 NV converted vectors of the dot products: they do not                     \
                 * fit in registers, and their spills cost a store each */                         \
                __asm__ volatile("" ::: "memory");                                                 \
                GRAD4_ROWS(r0, r1, r2, r3, NV, FULL, R0)                                           \
                GRAD4_ROWS(r4, r5, r6, r7, NV, FULL, R1)                                           \
            }                                                                                      \
        }                                                                                          \
        FINISH_ROWS(T, NV, NV, ROW_LOGISTIC, S, L)                                                 \
    }

/* Each width with the gradient (GR = 1) and without it (the loss-only
 * kernels, logistic_loss_f32: the same S and L, so the same out[d] and
 * out[d + 1] bits); a multiple of 4 features needs no masked load
 * (WIDTH4_PICK). */
#define LOGISTIC8_WIDTH(K, NV)                                                                     \
    LOGISTIC8_SMALL(logistic8m##K##_f32, float, float, GROUP8_F32, NV, 0, 1)                       \
    LOGISTIC8_SMALL(logistic8u##K##_f32, float, float, GROUP8_F32, NV, 1, 1)                       \
    LOGISTIC8_SMALL(logisticloss8m##K##_f32, float, float, GROUP8_F32, NV, 0, 0)                   \
    LOGISTIC8_SMALL(logisticloss8u##K##_f32, float, float, GROUP8_F32, NV, 1, 0)                   \
    LOGISTIC8_SMALL(logistic8m##K##_f16, uint16_t, double, GROUP8_F16_PD, NV, 0, 1)                \
    LOGISTIC8_SMALL(logistic8u##K##_f16, uint16_t, double, GROUP8_F16_PD, NV, 1, 1)                \
    WIDTH4_PICK(float, logistics##K##_f32, logistic8m##K##_f32, logistic8u##K##_f32)               \
    WIDTH4_PICK(float, logisticlosss##K##_f32, logisticloss8m##K##_f32, logisticloss8u##K##_f32)   \
    WIDTH4_PICK(uint16_t, logistics##K##_f16, logistic8m##K##_f16, logistic8u##K##_f16)
LOGISTIC8_WIDTH(1, 1)
LOGISTIC8_WIDTH(2, 2)
LOGISTIC8_WIDTH(3, 3)
LOGISTIC8_WIDTH(4, 4)

/* Scratch for the padded weights and gradient: features up to 1024 on the
 * stack (16 KiB), beyond that on the heap. In a kernel that returns false
 * where it declines (KERNEL_AVX2). */
#define DISPATCH_N(FN)                                                                             \
    do {                                                                                           \
        const size_t dp = (d + 3) / 4 * 4;                                                         \
        double stack[2 * 1024] __attribute__((aligned(32)));                                       \
        double *buf = stack;                                                                       \
        if (2 * dp > sizeof stack / sizeof stack[0]) {                                             \
            buf = _mm_malloc(2 * dp * sizeof(double), 32);                                         \
            if (!buf) return false; /* the caller's fallback rather than fail */                   \
        }                                                                                          \
        double *G = buf, *Wp = buf + dp;                                                           \
        for (size_t j = 0; j < dp; j++) G[j] = 0.0, Wp[j] = j < d ? w[j] : 0.0;                    \
        FN(x, n, d, w, b, out, G, Wp);                                                             \
        if (buf != stack) _mm_free(buf);                                                           \
    } while (0)

/* The vector kernel of an objective for one row type: the widths with a
 * loop of their own, the generic one beyond 16 features; false, with out
 * untouched, for what it leaves to the caller: no feature (only the bias,
 * nothing to vectorise) or no memory for the scratch of a wide row. LINK is
 * static, or empty for the f16 kernels the trainer calls itself. */
#define KERNEL_AVX2(LINK, T, NAME, ONE, S1, S2, S3, S4, WIDE)                                      \
    LINK bool NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {       \
        static void (*const small[])(const T *, size_t, size_t, const double *, double,            \
                                     double *) = {S1, S2, S3, S4};                                 \
        if (d == 0) return false;                                                                  \
        if (d == 1) {                                                                              \
            ONE(x, n, w[0], b, out);                                                               \
            return true;                                                                           \
        }                                                                                          \
        if (d >= 2 && d <= 16) {                                                                   \
            small[(d - 1) / 4](x, n, d, w, b, out);                                                \
            return true;                                                                           \
        }                                                                                          \
        DISPATCH_N(WIDE);                                                                          \
        return true;                                                                               \
    }
/* The public f32 and f64 kernels: the scalar kernel where the vector one
 * declines (the f16 kernels' caller widens instead, trainer.c). */
#define WITH_SCALAR(T, NAME, VEC, SCALAR)                                                          \
    void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {            \
        if (!VEC(x, n, d, w, b, out)) SCALAR(x, n, d, w, b, out);                                  \
    }

KERNEL_AVX2(static, float, vec_grad_f32, grad1_f32, grads1_f32, grads2_f32, grads3_f32, grads4_f32,
            gradn_f32)
KERNEL_AVX2(static, double, vec_grad_f64, grad1_f64, grads1_f64, grads2_f64, grads3_f64, grads4_f64,
            gradn_f64)
KERNEL_AVX2(static, float, vec_logistic_f32, logistic1_f32, logistics1_f32, logistics2_f32,
            logistics3_f32, logistics4_f32, logisticn_f32)
KERNEL_AVX2(static, double, vec_logistic_f64, logistic1_f64, logistics1_f64, logistics2_f64,
            logistics3_f64, logistics4_f64, logisticn_f64)
KERNEL_AVX2(static, float, vec_perceptron_f32, perceptron1_f32, perceptrons1_f32, perceptrons2_f32,
            perceptrons3_f32, perceptrons4_f32, perceptronn_f32)
KERNEL_AVX2(static, double, vec_perceptron_f64, perceptron1_f64, perceptrons1_f64, perceptrons2_f64,
            perceptrons3_f64, perceptrons4_f64, perceptronn_f64)
KERNEL_AVX2(, uint16_t, nr_grad_f16_avx2, grad1_f16, grads1_f16, grads2_f16, grads3_f16, grads4_f16,
            gradn_f16)
/* The logistic loss of f16 rows: up to 16 features the f32 rows' loops on
 * each group of 8 rows widened into an L1 buffer (floats for one feature,
 * GROUP8_F16; doubles for 2..16, GROUP8_F16_PD), wider rows the generic
 * loop; the f32 kernel's bits either way. Before, these widths were
 * declined and the trainer widened each block of 4096 rows to floats
 * first: 10M x 16, 2 threads, 4 alternated pairs, the epoch 60.3 -> 55.6
 * ms (median). */
KERNEL_AVX2(, uint16_t, nr_logistic_f16_avx2, logistic1_f16, logistics1_f16, logistics2_f16,
            logistics3_f16, logistics4_f16, logisticn_f16)
KERNEL_AVX2(, uint16_t, nr_perceptron_f16_avx2, perceptron1_f16, perceptrons1_f16, perceptrons2_f16,
            perceptrons3_f16, perceptrons4_f16, perceptronn_f16)
WITH_SCALAR(float, nr_grad_f32_avx2, vec_grad_f32, nr_grad_f32_scalar)
WITH_SCALAR(double, nr_grad_f64_avx2, vec_grad_f64, nr_grad_f64_scalar)
WITH_SCALAR(float, nr_logistic_f32_avx2, vec_logistic_f32, nr_logistic_f32_scalar)
WITH_SCALAR(double, nr_logistic_f64_avx2, vec_logistic_f64, nr_logistic_f64_scalar)
WITH_SCALAR(float, nr_perceptron_f32_avx2, vec_perceptron_f32, nr_perceptron_f32_scalar)
WITH_SCALAR(double, nr_perceptron_f64_avx2, vec_perceptron_f64, nr_perceptron_f64_scalar)

LOSS_SMALL(float, losss1_f32, load4_f32, 1, RESN_SQUARED, ROW_SQUARED)
LOSS_SMALL(float, losss2_f32, load4_f32, 2, RESN_SQUARED, ROW_SQUARED)
LOSS_SMALL(float, losss3_f32, load4_f32, 3, RESN_SQUARED, ROW_SQUARED)
LOSS_SMALL(float, losss4_f32, load4_f32, 4, RESN_SQUARED, ROW_SQUARED)
LOSS_SMALL(double, losss1_f64, load4_f64, 1, RESN_SQUARED, ROW_SQUARED)
LOSS_SMALL(double, losss2_f64, load4_f64, 2, RESN_SQUARED, ROW_SQUARED)
LOSS_SMALL(double, losss3_f64, load4_f64, 3, RESN_SQUARED, ROW_SQUARED)
LOSS_SMALL(double, losss4_f64, load4_f64, 4, RESN_SQUARED, ROW_SQUARED)
/* 2..16 features without the gradient; the other widths, where the
 * gradient's share of the work is small (one feature) or the loop is
 * another (GRADN), the gradient kernel's own loops. */
KERNEL_AVX2(static, float, vec_loss_f32, grad1_f32, losss1_f32, losss2_f32, losss3_f32, losss4_f32,
            gradn_f32)
KERNEL_AVX2(static, double, vec_loss_f64, grad1_f64, losss1_f64, losss2_f64, losss3_f64, losss4_f64,
            gradn_f64)
WITH_SCALAR(float, nr_loss_f32_avx2, vec_loss_f32, nr_grad_f32_scalar)
WITH_SCALAR(double, nr_loss_f64_avx2, vec_loss_f64, nr_grad_f64_scalar)
/* The logistic loss alone, likewise (sgd's one-thread pass with the
 * sigmoid, opt_sgd.c): 2..16 features without the gradient. */
LOSS_SMALL(double, logisticlosss1_f64, load4_f64, 1, RESN_LOGISTIC, ROW_LOGISTIC)
LOSS_SMALL(double, logisticlosss2_f64, load4_f64, 2, RESN_LOGISTIC, ROW_LOGISTIC)
LOSS_SMALL(double, logisticlosss3_f64, load4_f64, 3, RESN_LOGISTIC, ROW_LOGISTIC)
LOSS_SMALL(double, logisticlosss4_f64, load4_f64, 4, RESN_LOGISTIC, ROW_LOGISTIC)
KERNEL_AVX2(static, float, vec_logistic_loss_f32, logistic1_f32, logisticlosss1_f32,
            logisticlosss2_f32, logisticlosss3_f32, logisticlosss4_f32, logisticn_f32)
KERNEL_AVX2(static, double, vec_logistic_loss_f64, logistic1_f64, logisticlosss1_f64,
            logisticlosss2_f64, logisticlosss3_f64, logisticlosss4_f64, logisticn_f64)
WITH_SCALAR(float, nr_logistic_loss_f32_avx2, vec_logistic_loss_f32, nr_logistic_f32_scalar)
WITH_SCALAR(double, nr_logistic_loss_f64_avx2, vec_logistic_loss_f64, nr_logistic_f64_scalar)

/* Gram triangle: four rows at a time, each vector of G loaded and stored
 * once per four rows, four FMAs in between; vectors start at the 4-aligned
 * column at or below the diagonal, so a few entries below it (scratch) are
 * computed too. */
void nr_gram_f64_avx2(const double *x, size_t n, size_t w, double *G) {
    const size_t wp = (w + 3) / 4 * 4;
    for (size_t j = 0; j < w * wp; j++) G[j] = 0.0;
    size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const double *x0 = x + r * w, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
        for (size_t a = 0; a < w; a++) {
            const __m256d A0 = _mm256_set1_pd(x0[a]), A1 = _mm256_set1_pd(x1[a]);
            const __m256d A2 = _mm256_set1_pd(x2[a]), A3 = _mm256_set1_pd(x3[a]);
            double *row = G + a * wp;
            for (size_t b = a / 4 * 4; b < wp; b += 4) {
                __m256d g = _mm256_loadu_pd(row + b);
                g = _mm256_fmadd_pd(A0, _mm256_loadu_pd(x0 + b), g);
                g = _mm256_fmadd_pd(A1, _mm256_loadu_pd(x1 + b), g);
                g = _mm256_fmadd_pd(A2, _mm256_loadu_pd(x2 + b), g);
                g = _mm256_fmadd_pd(A3, _mm256_loadu_pd(x3 + b), g);
                _mm256_storeu_pd(row + b, g);
            }
        }
    }
    for (; r < n; r++) {
        const double *xr = x + r * w;
        for (size_t a = 0; a < w; a++)
            for (size_t b = a; b < w; b++) G[a * wp + b] += xr[a] * xr[b];
    }
}

/* Huber (kernels.h, nr_gradp_*): ROWS4 with the residuals clipped to
 * [-delta, delta] and their losses formed together in one vector; up to 1024
 * features (256 vectors), wider goes to the scalar kernel. */
#define RESN_HUBER(DOT, B, Y, R, L)                                                                \
    {                                                                                              \
        const __m256d D = _mm256_set1_pd(delta), half = _mm256_set1_pd(0.5);                       \
        const __m256d E = _mm256_sub_pd(_mm256_add_pd(DOT, B), Y);                                 \
        R = _mm256_min_pd(_mm256_max_pd(E, _mm256_set1_pd(-delta)), D);                            \
        const __m256d A = _mm256_andnot_pd(_mm256_set1_pd(-0.0), E);                               \
        const __m256d in = _mm256_cmp_pd(A, D, _CMP_LE_OQ);                                        \
        const __m256d quad = _mm256_mul_pd(half, _mm256_mul_pd(E, E));                             \
        const __m256d lin = _mm256_mul_pd(D, _mm256_sub_pd(A, _mm256_mul_pd(half, D)));            \
        L = _mm256_add_pd(L, _mm256_blendv_pd(lin, quad, in));                                     \
    }
#define ROW_HUBER(z, y, l, r) nr_row_huber((z) - (y), delta, &l, &r)

/* false where it declines, as KERNEL_AVX2 */
#define HUBER_AVX2(LINK, T, NAME, STAGE, TS, LOAD)                                                 \
    LINK bool NAME(const T *x, size_t n, size_t d, const double *w, double b, double delta,        \
                   double *out) {                                                                  \
        const size_t dv = (d + 3) / 4;                                                             \
        if (d == 0 || dv > 256) return false;                                                      \
        ROWS4(T, STAGE, TS, LOAD, dv, 256, PREFETCH, 1, RESN_HUBER, ROW_HUBER, 1)                  \
        return true;                                                                               \
    }
#define HUBER_WITH_SCALAR(T, NAME, VEC, SCALAR)                                                    \
    void NAME(const T *x, size_t n, size_t d, const double *w, double b, double delta,             \
              double *out) {                                                                       \
        if (!VEC(x, n, d, w, b, delta, out)) SCALAR(x, n, d, w, b, delta, out);                    \
    }

HUBER_AVX2(static, float, vec_huber_f32, NONE, float, load4_f32)
HUBER_AVX2(static, double, vec_huber_f64, NONE, double, load4_f64)
HUBER_AVX2(, uint16_t, nr_huber_f16_avx2, F16, float, load4_f32)
HUBER_WITH_SCALAR(float, nr_huber_f32_avx2, vec_huber_f32, nr_huber_f32_scalar)
HUBER_WITH_SCALAR(double, nr_huber_f64_avx2, vec_huber_f64, nr_huber_f64_scalar)
