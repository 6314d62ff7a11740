/* Classification with one neuron (doc/reference.md, doc/cli.md): the logistic and
 * perceptron objectives against long-double references, their kernels
 * against the scalar ones, determinism, newton against hand-solved optima,
 * label validation, and --restore-best. Tolerances are stated where bits
 * are not expected to match. */
#include <jansson.h>
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "neuron.h"
#include "objective.h"
#include "util.h"

/* SplitMix64: uniform doubles in [0, 1) from a counter, for labels. */
static double unit(uint64_t k) {
    uint64_t z = k * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

/* n rows of d N(0, 1) features and a 0/1 label: Bernoulli(sigmoid(z)) with
 * z = sum_j w_j x_j + 0.25, w_j = (j odd ? -1 : 1) * (1 + j / 2); with
 * `margin` > 0 instead y = [z > 0], rows closer than `margin` to the
 * boundary moved off it (separable). */
static double *class_data(size_t n, size_t d, uint64_t seed, double margin) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = n, o.features = d, o.dist = NR_DIST_NORMAL, o.seed = seed, o.dtype = NR_F64;
    double *v = malloc(n * (d + 1) * sizeof *v);
    cr_assert_eq(nr_gen_fill(&o, v, NULL), NR_OK);
    for (size_t i = 0; i < n; i++) {
        double *row = v + i * (d + 1), z = 0.25;
        for (size_t j = 0; j < d; j++) z += (j % 2 ? -1.0 : 1.0) * (1 + 0.5 * (double)j) * row[j];
        if (margin > 0) {
            if (fabs(z) < margin) { /* push the row along x_0 (weight 1) */
                const double shift = (z >= 0 ? 1 : -1) * (margin - fabs(z));
                row[0] += shift, z += shift;
            }
            row[d] = z > 0;
        } else {
            row[d] = unit(seed * 1000003 + i) < 1 / (1 + exp(-z));
        }
    }
    return v;
}

/* ------------------------------------------------- the logistic row -- */

/* The definitions in long double: loss = log(1 + exp(z)) - t z,
 * r = 1 / (1 + exp(-z)) - t, evaluated on the side where nothing
 * overflows and nothing cancels. */
static void logistic_ref(long double z, int t, long double *loss, long double *r) {
    const long double m = t ? -z : z; /* softplus(m), sigmoid(m) */
    const long double e = expl(-fabsl(m));
    *loss = (m > 0 ? m : 0) + log1pl(e);
    const long double sig = m >= 0 ? 1 / (1 + e) : e / (1 + e);
    *r = t ? -sig : sig;
}

static const double zs[] = {0.0,  1e-300, -1e-300, 1e-8,  -1e-8,  0.5,     -0.5,    1,
                            -1,   2.5,    -2.5,    17,    -17,    36.7,    -36.7,   40,
                            -40,  100,    -100,    709,   -709,   745.5,   -745.5,  800,
                            -800, 1e5,    -1e5,    1e300, -1e300, 1.7e308, -1.7e308};
enum { NZ = sizeof zs / sizeof zs[0] };

Test(logistic, row_matches_long_double_for_every_magnitude_up_to_1e300) {
    for (size_t k = 0; k < NZ; k++)
        for (int t = 0; t < 2; t++)
            for (int enc = 0; enc < 2; enc++) { /* labels 0/1 and -1/+1 */
                const double y = t ? 1.0 : (enc ? -1.0 : 0.0);
                double loss, r;
                nr_row_logistic(zs[k], y, &loss, &r);
                long double lref, rref;
                logistic_ref(zs[k], t, &lref, &rref);
                cr_assert(isfinite(loss) && isfinite(r), "z=%g y=%g: %g %g", zs[k], y, loss, r);
                /* libm's exp and log1p are within 1 ulp, then one division
                 * and one addition: 4 ulps of the double result, plus the
                 * smallest subnormal where the reference underflows */
                const double lw = (double)lref, rw = (double)rref;
                cr_assert(fabs(loss - lw) <= 4 * DBL_EPSILON * fabs(lw) + 0x1p-1074,
                          "loss z=%g y=%g: %.17g vs %.17g", zs[k], y, loss, lw);
                cr_assert(fabs(r - rw) <= 4 * DBL_EPSILON * fabs(rw) + 0x1p-1074,
                          "r z=%g y=%g: %.17g vs %.17g", zs[k], y, r, rw);
            }
    /* where the naive forms break: log(1 + exp(800)) overflows, and
     * sigmoid(40) - 1 rounds to 0 although it is -4.2e-18 */
    double loss, r;
    nr_row_logistic(800, 0, &loss, &r);
    cr_assert_eq(loss, 800.0);
    nr_row_logistic(40, 1, &loss, &r);
    cr_assert(r < 0 && fabs(r + 4.248354255291589e-18) <= 1e-15 * 4.25e-18, "%.17g", r);
}

/* The block sums of every kernel over rows whose z = x (w = 1, b = 0) takes
 * the values above, against long-double sums. */
Test(logistic, block_sums_of_every_kernel_match_long_double) {
    /* up to 1e300 (the last two z, 1.7e308, would make the true sum of
     * r x overflow) */
    const size_t nz = NZ - 2, n = 2 * nz;
    double *v = malloc(2 * n * sizeof *v);
    long double g = 0, s = 0, l = 0, ag = 0, as = 0, al = 0;
    for (size_t i = 0; i < n; i++) {
        v[2 * i] = zs[i % nz], v[2 * i + 1] = (double)(i / nz); /* both labels */
        long double li, ri;
        logistic_ref(v[2 * i], (int)v[2 * i + 1], &li, &ri);
        g += ri * v[2 * i], s += ri, l += li;
        ag += fabsl(ri * v[2 * i]), as += fabsl(ri), al += fabsl(li);
    }
    const double w = 1.0;
    for (int k = 0; k < 2; k++) {
        const nr_kernels *kt = nr_kernels_select(k ? NR_KERNEL_AVX2 : NR_KERNEL_SCALAR, NULL);
        if (!kt) continue;
        double out[3];
        kt->logistic_f64(v, n, 1, &w, 0.0, out);
        /* terms up to 1.7e308: a sum of 62 terms rounds by at most
         * 62 eps sum|terms|; each term is within 4 ulps */
        const long double want[3] = {g, s, l}, scale[3] = {ag, as, al};
        for (int j = 0; j < 3; j++) {
            cr_assert(isfinite(out[j]), "kernel %s out[%d] = %g", kt->name, j, out[j]);
            cr_assert(fabsl(out[j] - want[j]) <= 70 * DBL_EPSILON * scale[j],
                      "kernel %s out[%d]: %.17g vs %.17Lg", kt->name, j, out[j], want[j]);
        }
    }
    free(v);
}

/* |a - want| in units of the gap above want (the smallest subnormal at 0) */
static double ulps_off(double a, double want) {
    const double gap = want == 0 ? 0x1p-1074 : nextafter(want, INFINITY) - want;
    return fabs(a - want) / gap;
}

Test(logistic, avx2_log1p_is_within_8_ulp_of_libm_over_all_of_0_to_1) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    /* every binade from the smallest subnormal up (64 points each, spread
     * over the mantissa), a uniform sweep of 2^20 points, the ends and both
     * sides of the switch of form at sqrt2 - 1 */
    const size_t n = 1100 * 64 + (1u << 20) + 5;
    double *e = malloc(n * sizeof *e), *out = malloc(n * sizeof *out);
    size_t k = 0;
    for (int b = -1074; b < 0; b++)
        for (int j = 0; j < 64; j++) e[k++] = ldexp(1.0 + j / 64.0, b);
    for (size_t j = 0; j < (1u << 20); j++) e[k++] = (double)j / (1u << 20);
    e[k++] = 0.0, e[k++] = 1.0, e[k++] = nextafter(1.0, 0.0);
    e[k++] = 0x1.a827999fcef34p-2, e[k++] = nextafter(0x1.a827999fcef34p-2, 1.0);
    nr_log1p_unit_avx2(e, k, out);
    double worst = 0;
    for (size_t i = 0; i < k; i++) {
        /* 8 ulp: the sum of the roundings of s (5) and of the sum (3,
         * kernels_avx2.c); the worst seen over 2^24 points is 5 */
        const double u = ulps_off(out[i], log1p(e[i]));
        cr_assert(u <= 8, "log1p(%a) = %a, libm %a", e[i], out[i], log1p(e[i]));
        worst = fmax(worst, u);
    }
    cr_assert(worst >= 1, "no rounding at all: the sweep cannot have run (%g)", worst);
    free(e);
    free(out);
}

/* The exp tests' arguments: a uniform sweep of [-708, 0], every binade of
 * -x from 2^-1074 to 2^9, and both sides of each point where
 * k = round(x / ln2) changes (from k = -m to -m - 1); returns the count. */
enum { EXP_SWEEP_MAX = (1u << 21) + 1084 * 16 + 2048 + 1 };
static size_t exp_sweep(double *x) {
    size_t k = 0;
    for (size_t j = 0; j <= (1u << 21); j++) x[k++] = -708.0 * (double)j / (1u << 21);
    for (int b = -1074; b < 10; b++)
        for (int j = 0; j < 16; j++)
            if (ldexp(1.0 + j / 16.0, b) <= 708) x[k++] = -ldexp(1.0 + j / 16.0, b);
    for (int m = 0; m < 1022 && k + 2 <= EXP_SWEEP_MAX; m++) {
        const double h = -(m + 0.5) * M_LN2;
        x[k++] = nextafter(h, 0), x[k++] = nextafter(h, -INFINITY);
    }
    return k;
}

Test(logistic, avx2_exp_is_within_1_ulp_of_libm_over_all_of_minus_708_to_0) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    /* a uniform sweep of [-708, 0], every binade of -x from 2^-1074 to
     * 2^9, and the points where k = round(x / ln2) changes */
    const size_t n = EXP_SWEEP_MAX;
    double *x = malloc(n * sizeof *x), *out = malloc(n * sizeof *out);
    const size_t k = exp_sweep(x);
    nr_exp_neg_avx2(x, k, out);
    for (size_t i = 0; i < k; i++) {
        if (x[i] < -708) continue; /* the switch points past -708: below */
        cr_assert(ulps_off(out[i], exp(x[i])) <= 1, "exp(%a) = %a, libm %a", x[i], out[i],
                  exp(x[i]));
    }
    /* below -708 the result is 0 (no subnormals: an absolute error under
     * 2^-1021), and nothing overflows into a NaN */
    const double far[] = {-708.0001, -745.0, -746.0, -1e5, -1e300, -DBL_MAX, -INFINITY};
    double o[7];
    nr_exp_neg_avx2(far, 7, o);
    for (int i = 0; i < 7; i++) cr_assert(o[i] == 0.0, "exp(%g) = %a", far[i], o[i]);
    free(x);
    free(out);
}

/* --------------------------- the f32 rows' logistic pieces (AVX2, f32) -- */

/* |a - want| / |want| in units of 2^-24 (a float's half ulp at 1) */
static double rel24(double a, double want) {
    return want == 0 ? (a == 0 ? 0 : INFINITY) : fabs(a - want) / fabs(want) * 0x1p24;
}

/* the float after f, by its bits (f >= 0) */
static float float_step(float f, uint32_t k) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += k;
    memcpy(&f, &u, 4);
    return f;
}

Test(logistic32, reduced_exp_is_within_1_5_float_ulp_of_libm_over_its_range) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    /* |r| <= 0.347 (ln2 / 2 and the margin the fit covers): every 32nd float
     * from 2^-16 up, and 256 points in each binade below, both signs */
    size_t cap = 12u << 20, k = 0;
    float *r = malloc(cap * sizeof *r), *out = malloc(cap * sizeof *out);
    for (float f = 0x1p-16f; f <= 0.347f; f = float_step(f, 32)) r[k++] = f, r[k++] = -f;
    for (int b = -149; b < -16; b++)
        for (int j = 0; j < 256; j++) {
            const float f = ldexpf(1.0f + j / 256.0f, b);
            r[k++] = f, r[k++] = -f;
        }
    r[k++] = 0.0f, r[k++] = 0.347f, r[k++] = -0.347f;
    cr_assert(k <= cap);
    nr_exp_reduced_f32_avx2(r, k, out);
    double worst = 0;
    for (size_t i = 0; i < k; i++) {
        /* 3 (1.5 float ulps): the fit's 2^-26.5 and the roundings of the
         * last FMA and of the sum with 1; at 0.347, exp(r) is below 1.5,
         * so a float ulp there is 2^-23 relative at most */
        const double u = rel24(out[i], exp((double)r[i]));
        cr_assert(u <= 3, "exp(%a) = %a, libm %a (%.3g x 2^-24)", r[i], out[i], exp((double)r[i]),
                  u);
        worst = fmax(worst, u);
    }
    cr_log_info("reduced exp: worst %.3g x 2^-24", worst);
    cr_assert(worst >= 0.5, "no rounding seen: the sweep cannot have run (%g)", worst);
    free(r);
    free(out);
}

Test(logistic32, exp_is_within_2_float_ulp_of_libm_over_all_of_minus_708_to_0) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    /* as for the double exp: a uniform sweep, every binade of -x, both sides
     * of each switch of k; the relative error must not grow with |x| */
    const size_t n = EXP_SWEEP_MAX;
    double *x = malloc(n * sizeof *x), *out = malloc(n * sizeof *out);
    const size_t k = exp_sweep(x);
    nr_exp_neg_f32_avx2(x, k, out);
    for (size_t i = 0; i < k; i++) {
        if (x[i] < -708) continue;
        /* 4 (2 float ulps): the reduced exp's 3 and r's rounding to float
         * (|r| 2^-24 <= 0.35 x 2^-24) */
        cr_assert(rel24(out[i], exp(x[i])) <= 4, "exp(%a) = %a, libm %a", x[i], out[i], exp(x[i]));
    }
    const double far[] = {-708.0001, -745.0, -746.0, -1e5, -1e300, -DBL_MAX, -INFINITY};
    double o[7];
    nr_exp_neg_f32_avx2(far, 7, o);
    for (int i = 0; i < 7; i++) cr_assert(o[i] == 0.0, "exp(%g) = %a", far[i], o[i]);
    free(x);
    free(out);
}

Test(logistic32, recip_and_log1p_are_within_a_few_float_ulps_over_0_to_1) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    /* every float in [0.25, 1] (both forms, and the switch at sqrt2 - 1),
     * every 64th below down to 2^-100 (the callers' floor), and 0 */
    size_t cap = 30u << 20, k = 0;
    float *e = malloc(cap * sizeof *e), *inv = malloc(cap * sizeof *inv),
          *lp = malloc(cap * sizeof *lp);
    for (float f = 0x1p-100f; f < 0.25f; f = float_step(f, 64)) e[k++] = f;
    for (float f = 0.25f; f <= 1.0f; f = float_step(f, 1)) e[k++] = f;
    e[k++] = 0.0f;
    cr_assert(k <= cap);
    nr_recip_log1p_f32_avx2(e, k, inv, lp);
    double wi = 0, wl = 0;
    for (size_t i = 0; i < k; i++) {
        /* 1 / (1 + e): two roundings (1 + e, the division), 2 x 2^-24;
         * log1p: e - c, e + 2 + c, the division, P and the final FMA round
         * (one each, P's fit 2^-29), so 6 x 2^-24 */
        const double ui = rel24(inv[i], 1.0 / (1.0 + e[i])), ul = rel24(lp[i], log1p(e[i]));
        cr_assert(ui <= 2, "1/(1+%a) = %a (%.3g x 2^-24)", e[i], inv[i], ui);
        cr_assert(e[i] == 0 ? lp[i] == 0 : ul <= 6, "log1p(%a) = %a, libm %a (%.3g x 2^-24)", e[i],
                  lp[i], log1p(e[i]), ul);
        wi = fmax(wi, ui), wl = fmax(wl, ul);
    }
    cr_log_info("1/(1+e): worst %.3g x 2^-24, log1p %.3g x 2^-24", wi, wl);
    cr_assert(wi >= 0.5 && wl >= 0.5, "no rounding seen (%g %g)", wi, wl);
    free(e);
    free(inv);
    free(lp);
}

/* The per-row bound of the f32 rows' kernel: r and the loss within 2^-21
 * relative of the long-double values for every z, in both tails; 0 where
 * the exact value is below exp(-708) (an absolute error under 2^-1021, as
 * for the double kernel). */
Test(logistic32, rows_are_within_2_to_minus_21_for_every_magnitude_and_label) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    const double special[] = {0,    1e-8, -1e-8, 40,    -40,    87,   -87,   104, -104, 700,
                              -700, 800,  -800,  1e300, -1e300, 69.3, -69.3, 708, -708, 745};
    const size_t ns = sizeof special / sizeof special[0], nd = 1u << 18, n = 2 * (ns + nd);
    double *z = malloc(n * sizeof *z), *y = malloc(n * sizeof *y), *r = malloc(n * sizeof *r),
           *l = malloc(n * sizeof *l);
    for (size_t i = 0; i < n / 2; i++) {
        /* the special points, then a dense sweep of [-760, 760] */
        z[i] = i < ns ? special[i] : -760.0 + 1520.0 * (double)(i - ns) / nd;
        z[i + n / 2] = z[i];
        y[i] = i % 3 == 0 ? -1.0 : 0.0, y[i + n / 2] = 1.0; /* both encodings */
    }
    nr_logistic_rows_f32_avx2(z, y, n, r, l);
    double wr = 0, wl = 0;
    for (size_t i = 0; i < n; i++) {
        long double lr, rr;
        logistic_ref(z[i], y[i] > 0, &lr, &rr);
        cr_assert(isfinite(r[i]) && isfinite(l[i]), "z=%g y=%g: %g %g", z[i], y[i], r[i], l[i]);
        const double er = fabs(r[i] - (double)rr), el = fabs(l[i] - (double)lr);
        cr_assert(er <= 0x1p-21 * fabsl(rr) + 0x1p-1021, "r z=%.17g y=%g: %.17g vs %.17Lg", z[i],
                  y[i], r[i], rr);
        cr_assert(el <= 0x1p-21 * fabsl(lr) + 0x1p-1021, "loss z=%.17g y=%g: %.17g vs %.17Lg", z[i],
                  y[i], l[i], lr);
        if (fabsl(rr) > 0x1p-1000) wr = fmax(wr, er / (double)fabsl(rr));
        if (fabsl(lr) > 0x1p-1000) wl = fmax(wl, el / (double)fabsl(lr));
    }
    cr_log_info("rows: worst r %.3g x 2^-24, loss %.3g x 2^-24", wr * 0x1p24, wl * 0x1p24);
    cr_assert(wr >= 0x1p-26 && wl >= 0x1p-26, "float rounding not seen: %g %g", wr, wl);
    free(z), free(y), free(r), free(l);
}

/* The f32 kernels against the scalar double kernel on f32 rows whose z
 * takes the magnitudes above, for one feature and the 8-row widths (and
 * the generic width, in double throughout): each term is within 2^-21 of
 * its own magnitude, so each sum within 2^-21 sum|terms|, plus the sums'
 * reordering (1e-12 sum|terms|, as in the test above). */
Test(logistic32, f32_kernels_match_the_scalar_kernel_within_the_bound) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    const nr_kernels *sc = nr_kernels_select(NR_KERNEL_SCALAR, NULL);
    const nr_kernels *av = nr_kernels_select(NR_KERNEL_AVX2, NULL);
    const float xs[] = {0,   1e-8f, -1e-8f, 40,   -40,  87, -87,    104, -104,
                        700, -700,  800,    -800, 0.5f, -3, 17.25f, 1,   -1};
    const size_t nx = sizeof xs / sizeof xs[0], ds[] = {1, 2, 3, 4, 5, 8, 9, 12, 13, 16, 17};
    const size_t n = 4 * nx + 5; /* both labels, twice, and a tail */
    for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++) {
        const size_t d = ds[a];
        float *f = malloc(n * (d + 1) * sizeof *f);
        for (size_t i = 0; i < n; i++) {
            float *row = f + i * (d + 1);
            row[0] = xs[i % nx];
            /* half the rows with small other features, half with none */
            for (size_t j = 1; j < d; j++)
                row[j] = (i / nx) % 2 ? 0.0f : 0.125f * (float)(j % 5) - 0.25f;
            row[d] = (i / (2 * nx)) % 2 ? 1.0f : (i % 2 ? -1.0f : 0.0f);
        }
        for (int big = 0; big < 2; big++) {
            /* w0 = 1: z = x0 (+ small); w0 = 1e298: z up to +-8e300 */
            double w[17], b = 0.0;
            for (size_t j = 0; j < d; j++)
                w[j] = j ? 0.75 - 0.125 * (double)j : (big ? 1e298 : 1.0);
            double o1[19], o2[19], scale[19] = {0};
            sc->logistic_f32(f, n, d, w, b, o1);
            av->logistic_f32(f, n, d, w, b, o2);
            for (size_t i = 0; i < n; i++) {
                const float *row = f + i * (d + 1);
                double z = b, l, r;
                for (size_t j = 0; j < d; j++) z += w[j] * (double)row[j];
                nr_row_logistic(z, row[d], &l, &r);
                for (size_t j = 0; j < d; j++) scale[j] += fabs(r * row[j]);
                scale[d] += fabs(r), scale[d + 1] += fabs(l);
            }
            for (size_t j = 0; j < d + 2; j++) {
                cr_assert(isfinite(o2[j]), "d=%zu big=%d out[%zu] = %g", d, big, j, o2[j]);
                const double tol = (0x1p-21 + 1e-12) * scale[j] + 1e-300;
                cr_assert(fabs(o1[j] - o2[j]) <= tol, "d=%zu big=%d out[%zu]: %.17g vs %.17g", d,
                          big, j, o1[j], o2[j]);
            }
        }
        free(f);
    }
}

/* ------------------------------------------------ kernels per activation -- */

Test(kernels_classify, avx2_matches_scalar_for_each_activation_width_and_tail) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    const nr_kernels *sc = nr_kernels_select(NR_KERNEL_SCALAR, NULL);
    const nr_kernels *av = nr_kernels_select(NR_KERNEL_AVX2, NULL);
    const size_t ds[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 33};
    const size_t ns[] = {0, 1, 7, 8, 9, 15, 17, 1000, 4097};
    for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++) {
        const size_t d = ds[a];
        double *v = class_data(4097, d, 40 + d, 0);
        /* -1/+1 labels on odd rows: the kernels read y > 0 as 1 */
        for (size_t i = 1; i < 4097; i += 2)
            if (v[i * (d + 1) + d] == 0) v[i * (d + 1) + d] = -1;
        float *f = to_f32(v, 4097 * (d + 1));
        double w[64], b = -0.3;
        for (size_t j = 0; j < d; j++) w[j] = 2.5 - 0.4 * (double)j; /* |z| up to ~30 */
        for (int act = 0; act < 2; act++) {
            const nr_grad_f64_fn s64 = act ? sc->perceptron_f64 : sc->logistic_f64;
            const nr_grad_f64_fn a64 = act ? av->perceptron_f64 : av->logistic_f64;
            const nr_grad_f32_fn s32 = act ? sc->perceptron_f32 : sc->logistic_f32;
            const nr_grad_f32_fn a32 = act ? av->perceptron_f32 : av->logistic_f32;
            for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
                const size_t n = ns[c];
                double o1[40], o2[40], o3[40], o4[40], scale[40] = {0};
                s64(v, n, d, w, b, o1);
                a64(v, n, d, w, b, o2);
                s32(f, n, d, w, b, o3);
                a32(f, n, d, w, b, o4);
                for (size_t i = 0; i < n; i++) {
                    const double *row = v + i * (d + 1);
                    double z = b, l, r;
                    for (size_t j = 0; j < d; j++) z += w[j] * row[j];
                    (act ? nr_row_perceptron : nr_row_logistic)(z, row[d], &l, &r);
                    for (size_t j = 0; j < d; j++) scale[j] += fabs(r * row[j]);
                    scale[d] += fabs(r), scale[d + 1] += fabs(l);
                }
                /* the kernels' exp and log1p (1 and 8 ulp) against libm's,
                 * FMA and reassociation: each term within a few ulps, so the sums
                 * within ~(n + 8) eps sum|terms| (< 1e-12 here); a wrong
                 * term or a misread label is off by ~sum|terms|/n. The
                 * logistic kernel of f32 rows (widths up to 16) does its
                 * transcendental part in f32: each term within 2^-21 of its
                 * magnitude (logistic32 tests), so 2^-21 sum|terms| more */
                for (size_t j = 0; j < d + 2; j++) {
                    const double tol = 1e-12 * scale[j] + 1e-300;
                    const double tol32 = tol + (act ? 0 : 0x1p-21 * scale[j]);
                    cr_assert(fabs(o1[j] - o2[j]) <= tol,
                              "act %d f64 d=%zu n=%zu out[%zu]: %.17g vs %.17g", act, d, n, j,
                              o1[j], o2[j]);
                    cr_assert(fabs(o3[j] - o4[j]) <= tol32,
                              "act %d f32 d=%zu n=%zu out[%zu]: %.17g vs %.17g", act, d, n, j,
                              o3[j], o4[j]);
                }
            }
        }
        free(v);
        free(f);
    }
}

Test(kernels_classify, perceptron_at_zero_weights_counts_every_positive_as_a_mistake) {
    /* step(0) = 0 (1 if z > 0 else 0): at w = 0, b = 0 every
     * row with label 1 has r = -1, every row with label 0 (or -1) r = 0, and
     * the criterion is 0 */
    double v[2 * 11];
    long double gx = 0;
    int pos = 0;
    for (int i = 0; i < 11; i++) {
        v[2 * i] = 0.5 + i, v[2 * i + 1] = i % 3 == 0 ? 1 : (i % 3 == 1 ? 0 : -1);
        if (i % 3 == 0) pos++, gx -= v[2 * i];
    }
    float f[2 * 11];
    for (int i = 0; i < 22; i++) f[i] = (float)v[i];
    const double w = 0;
    for (int k = 0; k < 2; k++) {
        const nr_kernels *kt = nr_kernels_select(k ? NR_KERNEL_AVX2 : NR_KERNEL_SCALAR, NULL);
        if (!kt) continue;
        double o64[3], o32[3];
        kt->perceptron_f64(v, 11, 1, &w, 0.0, o64);
        kt->perceptron_f32(f, 11, 1, &w, 0.0, o32);
        for (int t = 0; t < 2; t++) {
            const double *o = t ? o32 : o64;
            cr_assert(o[0] == (double)gx && o[1] == -pos && o[2] == 0, "%s %s: %g %g %g", kt->name,
                      t ? "f32" : "f64", o[0], o[1], o[2]);
        }
    }
}

/* ---------------------------------------------------------- determinism -- */

Test(classify, bits_are_the_same_for_1_2_3_and_7_threads_for_each_activation_and_algo,
     .timeout = 120) {
    const size_t n = 30001, d = 3;
    double *v = class_data(n, d, 5, 0);
    float *f = to_f32(v, n * (d + 1));
    const struct {
        nr_activation act;
        nr_algo algo;
    } cases[] = {
        {NR_ACT_SIGMOID, NR_ALGO_BATCH}, {NR_ACT_SIGMOID, NR_ALGO_MINIBATCH},
        {NR_ACT_SIGMOID, NR_ALGO_SGD},   {NR_ACT_SIGMOID, NR_ALGO_NEWTON},
        {NR_ACT_STEP, NR_ALGO_BATCH},    {NR_ACT_STEP, NR_ALGO_MINIBATCH},
        {NR_ACT_STEP, NR_ALGO_SGD},      {NR_ACT_IDENTITY, NR_ALGO_NEWTON},
    };
    const int threads[] = {1, 2, 3, 7};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int dt = 0; dt < 2; dt++) {
            nr_data dd = {n, d, dt ? NR_F32 : NR_F64, dt ? (void *)f : (void *)v};
            nr_train_opts o;
            nr_train_defaults(&o);
            o.activation = cases[c].act, o.algo = cases[c].algo;
            o.batch = 9000, o.epochs = 4;
            o.lr = cases[c].algo == NR_ALGO_SGD ? 0.01 : 0.5;
            o.standardize = c % 2, o.val_split = 0.1;
            char what[64];
            snprintf(what, sizeof what, "case %zu dtype %d", c, dt);
            nr_model ref;
            same_bits_for_threads(&dd, o, threads, 4, &ref, what);
            cr_assert_eq(ref.activation, cases[c].act);
            nr_model_free(&ref);
        }
    free(v);
    free(f);
}

/* ----------------------------------------------------------- perceptron -- */

static size_t errors(const nr_model *m, const double *v, size_t n, size_t d) {
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        const double *row = v + i * (d + 1);
        double z = m->bias;
        for (size_t j = 0; j < d; j++) z += m->weights[j] * row[j];
        e += (z > 0) != (row[d] > 0);
    }
    return e;
}

Test(classify, perceptron_reaches_zero_errors_on_separable_data) {
    const size_t n = 5000, d = 4;
    double *v = class_data(n, d, 9, 0.05);
    nr_data dd = {n, d, NR_F64, v};
    for (int a = 0; a < 3; a++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.activation = NR_ACT_STEP;
        o.algo = a == 0 ? NR_ALGO_SGD : a == 1 ? NR_ALGO_BATCH : NR_ALGO_MINIBATCH;
        o.batch = 500;
        o.lr = a == 0 ? 1.0 : 0.5;
        o.epochs = 300; /* no early stopping: the criterion is 0 at w = 0 too */
        nr_model m;
        nr_train_result r;
        nr_model zero;
        nr_model_init(&zero, d, NULL);
        cr_assert_gt(errors(&zero, v, n, d), n / 4, "the start is wrong on many rows");
        nr_model_free(&zero);
        train_ok(&dd, &o, &m, &r);
        cr_assert_eq(errors(&m, v, n, d), 0, "algo %d: %zu errors after %lld epochs", a,
                     errors(&m, v, n, d), (long long)r.epochs_run);
        cr_assert_eq(r.train_loss, 0.0, "algo %d: criterion %g", a, r.train_loss);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    free(v);
}

Test(classify, sgd_follows_the_per_sample_rules) {
    /* written out here: z = (w0 x0 + w1 x1) + b in data order; perceptron
     * w += lr (y - step(z)) x (exact: no rounding but the reference's);
     * logistic w -= lr (sigmoid(z) - y) x with the textbook sigmoid, which
     * rounds differently from the stable form: 1e-12 relative after 3
     * epochs of 700 steps */
    const size_t n = 700, d = 2;
    double *v = class_data(n, d, 41, 0);
    nr_data dd = {n, d, NR_F64, v};
    for (int act = 0; act < 2; act++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.activation = act ? NR_ACT_STEP : NR_ACT_SIGMOID;
        o.algo = NR_ALGO_SGD, o.lr = 0.05, o.epochs = 3;
        nr_model m;
        nr_train_result r;
        train_ok(&dd, &o, &m, &r);
        double w[2] = {0, 0}, b = 0;
        for (int e = 0; e < 3; e++)
            for (size_t i = 0; i < n; i++) {
                const double *row = v + i * 3, z = (w[0] * row[0] + w[1] * row[1]) + b;
                const double g = act ? (z > 0) - row[2] : 1 / (1 + exp(-z)) - row[2];
                w[0] -= 0.05 * (g * row[0]), w[1] -= 0.05 * (g * row[1]), b -= 0.05 * g;
            }
        const double tol = act ? 0 : 1e-12;
        for (size_t j = 0; j < d; j++)
            cr_assert(fabs(m.weights[j] - w[j]) <= tol * fabs(w[j]), "act %d w[%zu] %.17g vs %.17g",
                      act, j, m.weights[j], w[j]);
        cr_assert(fabs(m.bias - b) <= tol * fabs(b), "act %d b %.17g vs %.17g", act, m.bias, b);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    free(v);
}

Test(classify, sgd_sums_the_dot_product_in_the_reference_order) {
    /* Logistic sgd compared bit for bit with the rule written out here, the
     * residual taken from the objective itself (src/objective.h): with 6
     * features, p0 = w0 x0 + w4 x4, p1 = w1 x1 + w5 x5, p2 = w2 x2,
     * p3 = w3 x3, z = ((p0 + p1) + (p2 + p3)) + b, the order of
     * nr_sgd_epoch (doc/sgd-order.md). A left-to-right sum differs in the
     * last bits of z, and the logistic residual carries them into w. */
    const size_t n = 500, d = 6;
    double *v = class_data(n, d, 43, 0);
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.activation = NR_ACT_SIGMOID, o.algo = NR_ALGO_SGD, o.lr = 0.37, o.epochs = 4;
    nr_model m;
    nr_train_result r;
    train_ok(&dd, &o, &m, &r);
    double w[6] = {0}, b = 0;
    for (int e = 0; e < 4; e++)
        for (size_t i = 0; i < n; i++) {
            const double *x = v + i * (d + 1);
            const double p0 = w[0] * x[0] + w[4] * x[4], p1 = w[1] * x[1] + w[5] * x[5];
            const double z = ((p0 + p1) + (w[2] * x[2] + w[3] * x[3])) + b;
            const double g = nr_residual_logistic(z, x[d]);
            for (size_t j = 0; j < d; j++) w[j] -= 0.37 * (g * x[j]);
            b -= 0.37 * g;
        }
    for (size_t j = 0; j < d; j++)
        cr_assert(m.weights[j] == w[j], "w[%zu] %.17g vs %.17g", j, m.weights[j], w[j]);
    cr_assert(m.bias == b, "b %.17g vs %.17g", m.bias, b);
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

/* --------------------------------------------------------------- newton -- */

Test(newton, hand_solved_saturated_two_feature_case) {
    /* Three distinct points, three parameters: the optimum reproduces each
     * point's fraction of positives. (0,0): 1 of 2 -> sigmoid(b) = 1/2,
     * b = 0; (1,0): 3 of 4 -> w1 = logit(3/4) = ln 3; (0,1): 1 of 5 ->
     * w2 = logit(1/5) = -ln 4. Rows repeated 50 times, interleaved. */
    const double pts[11][3] = {{0, 0, 1}, {0, 0, 0}, {1, 0, 1}, {1, 0, 1}, {1, 0, 1}, {1, 0, 0},
                               {0, 1, 1}, {0, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 0}};
    const size_t n = 550;
    double *v = malloc(n * 3 * sizeof *v);
    for (size_t i = 0; i < n; i++) memcpy(v + 3 * i, pts[(i * 7) % 11], sizeof pts[0]);
    nr_data dd = {n, 2, NR_F64, v};
    for (int st = 0; st < 2; st++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.activation = NR_ACT_SIGMOID, o.algo = NR_ALGO_NEWTON, o.standardize = st;
        nr_model m;
        nr_train_result r;
        train_ok(&dd, &o, &m, &r);
        cr_assert_str_eq(r.stop_reason, "converged");
        cr_assert_leq(r.epochs_run, 10, "quadratic convergence: %lld passes",
                      (long long)r.epochs_run);
        /* 1e-12: Newton ends within rounding of the optimum; the data are
         * well conditioned (fractions 1/5 to 3/4) */
        cr_assert(fabs(m.weights[0] - log(3.0)) <= 1e-12, "std %d w1 %.17g", st, m.weights[0]);
        cr_assert(fabs(m.weights[1] + log(4.0)) <= 1e-12, "std %d w2 %.17g", st, m.weights[1]);
        cr_assert(fabs(m.bias) <= 1e-12, "std %d b %.17g", st, m.bias);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    free(v);
}

/* Newton's method in long double on the same rows, by Gaussian elimination
 * with partial pivoting: independent of the library's code. */
static void newton_ld(const double *v, size_t n, size_t d, long double *p) {
    const size_t k = d + 1;
    for (size_t j = 0; j < k; j++) p[j] = 0;
    for (int it = 0; it < 40; it++) {
        long double A[8][9] = {{0}};
        for (size_t i = 0; i < n; i++) {
            const double *row = v + i * (d + 1);
            long double zz[8], z = p[d];
            for (size_t j = 0; j < d; j++) zz[j] = row[j], z += p[j] * row[j];
            zz[d] = 1;
            const long double s = 1 / (1 + expl(-z)), h = s * (1 - s), r = s - row[d];
            for (size_t a = 0; a < k; a++) {
                for (size_t c = 0; c < k; c++) A[a][c] += h * zz[a] * zz[c];
                A[a][k] -= r * zz[a];
            }
        }
        for (size_t c = 0; c < k; c++) {
            size_t piv = c;
            for (size_t q = c + 1; q < k; q++)
                if (fabsl(A[q][c]) > fabsl(A[piv][c])) piv = q;
            for (size_t q = 0; q <= k; q++) {
                long double t = A[c][q];
                A[c][q] = A[piv][q], A[piv][q] = t;
            }
            for (size_t q = 0; q < k; q++) {
                if (q == c) continue;
                const long double fct = A[q][c] / A[c][c];
                for (size_t e = c; e <= k; e++) A[q][e] -= fct * A[c][e];
            }
        }
        for (size_t j = 0; j < k; j++) p[j] += A[j][k] / A[j][j];
    }
}

Test(newton, matches_long_double_newton_and_the_point_batch_gd_approaches, .timeout = 120) {
    const size_t n = 4000, d = 2;
    double *v = class_data(n, d, 17, 0);
    long double p[3];
    newton_ld(v, n, d, p);
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.activation = NR_ACT_SIGMOID, o.algo = NR_ALGO_NEWTON;
    nr_model mn;
    nr_train_result rn;
    train_ok(&dd, &o, &mn, &rn);
    cr_assert_str_eq(rn.stop_reason, "converged");
    /* 1e-10 relative: both are Newton to convergence; the library sums in
     * double (n eps ~ 1e-12 relative in the gradient, condition number ~10) */
    for (size_t j = 0; j < d; j++)
        cr_assert(fabsl(mn.weights[j] - p[j]) <= 1e-10L * fabsl(p[j]), "w[%zu] %.17g vs %.17Lg", j,
                  mn.weights[j], p[j]);
    cr_assert(fabsl(mn.bias - p[d]) <= 1e-10L * fmaxl(fabsl(p[d]), 1), "b %.17g vs %.17Lg", mn.bias,
              p[d]);
    /* batch gradient descent on the same loss approaches the same point,
     * and never goes below its loss */
    o.algo = NR_ALGO_BATCH, o.lr = 4, o.epochs = 3000, o.standardize = true;
    nr_model mb;
    nr_train_result rb;
    train_ok(&dd, &o, &mb, &rb);
    for (size_t j = 0; j < d; j++)
        cr_assert(fabs(mb.weights[j] - mn.weights[j]) <= 1e-6 * fabs(mn.weights[j]),
                  "batch w[%zu] %.17g vs newton %.17g", j, mb.weights[j], mn.weights[j]);
    cr_assert_geq(rb.train_loss, rn.train_loss - 1e-15);
    /* the identity's newton is least squares: the same point as ols */
    o.activation = NR_ACT_IDENTITY, o.algo = NR_ALGO_NEWTON, o.standardize = false;
    nr_model mi, mo;
    nr_train_result ri, ro;
    train_ok(&dd, &o, &mi, &ri);
    o.algo = NR_ALGO_OLS;
    train_ok(&dd, &o, &mo, &ro);
    for (size_t j = 0; j < d; j++)
        cr_assert(fabs(mi.weights[j] - mo.weights[j]) <= 1e-12 * fabs(mo.weights[j]),
                  "newton %.17g vs ols %.17g", mi.weights[j], mo.weights[j]);
    cr_assert_leq(ri.epochs_run, 3, "a quadratic is solved by one step");
    nr_model_free(&mn), nr_model_free(&mb), nr_model_free(&mi), nr_model_free(&mo);
    nr_train_result_free(&rn), nr_train_result_free(&rb), nr_train_result_free(&ri);
    nr_train_result_free(&ro);
    free(v);
}

Test(newton, line_search_brings_a_far_start_back_with_a_loss_that_never_rises) {
    /* From w = (40, -40, 40): every row is saturated, the Hessian is tiny
     * and the full Newton step lands far off; halving it until the loss
     * drops enough (Armijo) keeps every accepted loss below the last. */
    const size_t n = 4000, d = 3;
    double *v = class_data(n, d, 29, 0);
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.activation = NR_ACT_SIGMOID, o.algo = NR_ALGO_NEWTON, o.epochs = 200;
    nr_model m0, m;
    nr_train_result r0, r;
    train_ok(&dd, &o, &m0, &r0); /* from zero */
    nr_model_init(&m, d, NULL);
    m.weights[0] = 40, m.weights[1] = -40, m.weights[2] = 40;
    nr_error err = {{0}};
    cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_OK, "%s", err.msg);
    cr_assert_str_eq(r.stop_reason, "converged");
    for (int64_t e = 1; e < r.epochs_run; e++)
        cr_assert_leq(r.loss[e], r.loss[e - 1], "epoch %lld: %.17g after %.17g", (long long)e + 1,
                      r.loss[e], r.loss[e - 1]);
    for (size_t j = 0; j < d; j++)
        cr_assert(fabs(m.weights[j] - m0.weights[j]) <= 1e-9 * fabs(m0.weights[j]),
                  "w[%zu] %.17g vs %.17g from zero", j, m.weights[j], m0.weights[j]);
    nr_model_free(&m), nr_model_free(&m0);
    nr_train_result_free(&r), nr_train_result_free(&r0);
    free(v);
}

Test(newton, separable_classes_stop_with_a_message_not_an_endless_run) {
    const size_t n = 2000, d = 3;
    double *v = class_data(n, d, 3, 0.1);
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.activation = NR_ACT_SIGMOID, o.algo = NR_ALGO_NEWTON, o.epochs = 1000000;
    nr_model m;
    nr_model_init(&m, d, NULL);
    nr_train_result r;
    nr_error err = {{0}};
    cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_INPUT);
    cr_assert(strstr(err.msg, "separable") && strstr(err.msg, "no finite minimum"), "%s", err.msg);
    nr_model_free(&m);
    /* newton needs a Hessian: the perceptron has none */
    o.activation = NR_ACT_STEP;
    nr_model_init(&m, d, NULL);
    cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_ARG);
    cr_assert(strstr(err.msg, "Hessian"), "%s", err.msg);
    nr_model_free(&m);
    free(v);
}

/* --------------------------------------------------------------- labels -- */

Test(labels, bad_labels_are_refused_naming_the_row) {
    const size_t n = 10, d = 1;
    const struct {
        double y[10];
        const char *frag;
    } cases[] = {
        {{0, 1, 1, 0, 2, 1, 0, 0, 1, 1}, "row 5: target 2 is not a class label"},
        {{0, 1, 1, 0, 1, 1, 0.5, 0, 1, 1}, "row 7: target 0.5 is not"},
        {{-1, 1, 1, -1, 1, 1, 1, 0, 1, 1}, "row 8: target 0 mixes label encodings (row 1 has -1"},
        {{0, 1, 1, 0, 1, 1, 1, 1, 1, -1}, "row 10: target -1 mixes"},
        {{1, 1, 1, 1, 1, 1, 1, 1, 1, 3}, "row 10: target 3"}, /* in the held-out rows */
    };
    double v[20];
    for (int act = 0; act < 2; act++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            for (size_t i = 0; i < n; i++) v[2 * i] = (double)i, v[2 * i + 1] = cases[c].y[i];
            nr_data dd = {n, d, NR_F64, v};
            nr_train_opts o;
            nr_train_defaults(&o);
            o.activation = act ? NR_ACT_STEP : NR_ACT_SIGMOID;
            o.val_split = 0.2;
            nr_model m;
            nr_model_init(&m, d, NULL);
            nr_train_result r;
            nr_error err = {{0}};
            cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_INPUT, "case %zu", c);
            cr_assert(strstr(err.msg, cases[c].frag), "case %zu: %s", c, err.msg);
            nr_model_free(&m);
        }
}

Test(labels, minus_one_plus_one_trains_as_zero_one_to_the_bit) {
    const size_t n = 9001, d = 2;
    double *v = class_data(n, d, 23, 0);
    double *u = malloc(n * (d + 1) * sizeof *u);
    memcpy(u, v, n * (d + 1) * sizeof *u);
    for (size_t i = 0; i < n; i++) u[i * (d + 1) + d] = 2 * u[i * (d + 1) + d] - 1;
    for (int act = 0; act < 2; act++)
        for (int algo = 0; algo < 2; algo++) {
            nr_train_opts o;
            nr_train_defaults(&o);
            o.activation = act ? NR_ACT_STEP : NR_ACT_SIGMOID;
            o.algo = algo ? NR_ALGO_SGD : NR_ALGO_BATCH;
            o.epochs = 5, o.lr = algo ? 0.01 : 0.5;
            nr_data a = {n, d, NR_F64, v}, b = {n, d, NR_F64, u};
            nr_model ma, mb;
            nr_train_result ra, rb;
            train_ok(&a, &o, &ma, &ra);
            train_ok(&b, &o, &mb, &rb);
            cr_assert(!memcmp(ma.weights, mb.weights, d * sizeof(double)) && ma.bias == mb.bias,
                      "act %d algo %d", act, algo);
            cr_assert(ma.bias != 0, "it trained");
            nr_model_free(&ma), nr_model_free(&mb);
            nr_train_result_free(&ra), nr_train_result_free(&rb);
        }
    free(u);
    free(v);
}

/* --------------------------------------------------------- restore best -- */

Test(loop, restore_best_keeps_the_start_weights_of_the_best_validation_epoch) {
    /* minibatch logistic with a large step on few rows: the validation loss
     * wanders after its first descent, so its best epoch is not the last */
    const size_t n = 3000, d = 3;
    double *v = class_data(n, d, 31, 0);
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.activation = NR_ACT_SIGMOID, o.algo = NR_ALGO_MINIBATCH, o.batch = 64, o.lr = 3;
    o.epochs = 40, o.val_split = 0.2, o.restore_best = true;
    nr_model m;
    nr_train_result r;
    train_ok(&dd, &o, &m, &r);
    int64_t best = 1;
    for (int64_t e = 2; e <= r.epochs_run; e++)
        if (r.val_history[e - 1] < r.val_history[best - 1]) best = e;
    cr_assert_eq(r.best_epoch, best);
    cr_assert_lt(best, r.epochs_run, "the case needs a best epoch before the last");
    /* the weights epoch `best` started from are those of a run of best - 1
     * epochs (bit-identical: the run is deterministic) */
    cr_assert_gt(best, 1);
    o.restore_best = false, o.epochs = best - 1;
    nr_model m2;
    nr_train_result r2;
    train_ok(&dd, &o, &m2, &r2);
    cr_assert(!memcmp(m.weights, m2.weights, d * sizeof(double)) && m.bias == m2.bias);
    /* and the reported validation loss is that epoch's */
    cr_assert_eq(r.val_loss, r.val_history[best - 1]);
    nr_model_free(&m), nr_model_free(&m2);
    nr_train_result_free(&r), nr_train_result_free(&r2);
    free(v);
}

/* ------------------------------------------------------------------ CLI -- */

static void write_csv(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

Test(classify_cli, activation_newton_and_bad_labels_through_the_cli) {
    char *dir = scratch_dir();
    char good[4096], bad[4096], sep[4096], model[4096];
    snprintf(good, sizeof good, "%s/good.csv", dir);
    snprintf(bad, sizeof bad, "%s/bad.csv", dir);
    snprintf(sep, sizeof sep, "%s/sep.csv", dir);
    snprintf(model, sizeof model, "%s/m.json", dir);
    write_csv(good, "x1,x2,y\n0,0,1\n0,0,0\n1,0,1\n1,0,1\n1,0,1\n1,0,0\n0,1,1\n0,1,0\n0,1,0\n"
                    "0,1,0\n0,1,0\n");
    write_csv(bad, "x1,x2,y\n0,0,1\n0,0,0\n1,0,1\n1,0,2\n");
    write_csv(sep, "x,y\n-2,0\n-1,0\n1,1\n2,1\n");
    run_result r;
    const char *t1[] = {"train",  "--data", good,      "--activation", "sigmoid",
                        "--algo", "newton", "--model", model,          NULL};
    run_neuron(&r, t1);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "activation")), "sigmoid");
    cr_assert_str_eq(json_string_value(json_object_get(j, "algo")), "newton");
    cr_assert_str_eq(json_string_value(json_object_get(j, "stop_reason")), "converged");
    const double w1 = json_number_value(json_array_get(json_object_get(j, "weights"), 0));
    cr_assert(fabs(w1 - log(3.0)) < 1e-12, "%.17g", w1);
    json_decref(j);
    run_free(&r);
    struct {
        const char *args[10];
        int code;
        const char *frag;
    } cases[] = {
        {{"train", "--data", bad, "--activation", "sigmoid", NULL}, 3, "bad.csv: row 4: target 2"},
        {{"train", "--data", bad, "--activation", "step", NULL}, 3, "bad.csv: row 4"},
        {{"train", "--data", sep, "--activation", "sigmoid", "--algo", "newton", NULL},
         3,
         "linearly separable"},
        {{"train", "--data", good, "--activation", "relu", NULL}, 2, "identity|sigmoid|step"},
        {{"train", "--data", good, "--activation", "step", "--algo", "newton", NULL}, 2, "Hessian"},
        {{"train", "--data", good, "--activation", "sigmoid", "--algo", "ols", NULL},
         2,
         "identity"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_neuron(&r, cases[i].args);
        cr_assert_eq(r.status, cases[i].code, "case %zu: exit %d: %s", i, r.status, r.err);
        cr_assert_eq(count_lines(r.err), 1, "case %zu: %s", i, r.err);
        cr_assert(strstr(r.err, "neuron: error: ") && strstr(r.err, cases[i].frag), "case %zu: %s",
                  i, r.err);
        run_free(&r);
    }
    free(dir);
}
