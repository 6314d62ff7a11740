/* Kernels and the trainer against the scalar double reference, closed
 * forms and hand-computed values. Tolerances are stated where bits are not
 * expected to match. */
#include <jansson.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "kernels.h"
#include "neuron.h"
#include "util.h"

Test(kernels, avx2_matches_scalar_for_tails_and_widths) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    const nr_kernels *sc = nr_kernels_select(NR_KERNEL_SCALAR, NULL);
    const nr_kernels *av = nr_kernels_select(NR_KERNEL_AVX2, NULL);
    const size_t ds[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 33};
    const size_t ns[] = {0, 1, 7, 8, 9, 15, 16, 17, 1000, 4097};
    for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++) {
        const size_t d = ds[a];
        double *v = gen_f64(4097, d, NR_DIST_NORMAL, 7 + d, 0.5);
        float *f = to_f32(v, 4097 * (d + 1));
        double w[64], b = 0.25;
        for (size_t j = 0; j < d; j++) w[j] = 0.5 - 0.1 * (double)j;
        for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
            const size_t n = ns[c];
            double o1[66], o2[66], o3[66], o4[66], scale[66] = {0};
            sc->grad_f64(v, n, d, w, b, o1);
            av->grad_f64(v, n, d, w, b, o2);
            sc->grad_f32(f, n, d, w, b, o3);
            av->grad_f32(f, n, d, w, b, o4);
            /* scale: sums of |terms|; reassociation and FMA change a sum of
             * n terms by at most about n*eps*sum|t| (1e-12 here), a wrong
             * term by ~sum|t|/n (>= 2e-4): 1e-10 separates the two. */
            for (size_t i = 0; i < n; i++) {
                const double *row = v + i * (d + 1);
                double r = b - row[d];
                for (size_t j = 0; j < d; j++) r += w[j] * row[j];
                for (size_t j = 0; j < d; j++) scale[j] += fabs(r * row[j]);
                scale[d] += fabs(r), scale[d + 1] += r * r;
            }
            for (size_t j = 0; j < d + 2; j++) {
                double tol = 1e-10 * scale[j] + 1e-300;
                cr_assert(fabs(o1[j] - o2[j]) <= tol, "f64 d=%zu n=%zu out[%zu]: %.17g vs %.17g", d,
                          n, j, o1[j], o2[j]);
                cr_assert(fabs(o3[j] - o4[j]) <= tol, "f32 d=%zu n=%zu out[%zu]: %.17g vs %.17g", d,
                          n, j, o3[j], o4[j]);
            }
        }
        free(v);
        free(f);
    }
}

Test(kernels, f32_gradient_over_ten_million_points_within_1e5_of_f64, .timeout = 120) {
    /* Widening f32 values to double before accumulating keeps the sums as
     * accurate as in f64; only the data's own rounding (2^-24 relative)
     * separates them. A float accumulator over 1e7 terms would be off by
     * ~1e-3. Gradient taken away from the optimum, where it is not ~0. */
    const size_t n = 10000000;
    double *v = gen_f64(n, 1, NR_DIST_UNIFORM, 3, 0.1);
    float *f = to_f32(v, 2 * n);
    nr_data d64 = {n, 1, NR_F64, v}, d32 = {n, 1, NR_F32, f};
    double w = 0.3, b = 0.1, l64, l32, g64[2], g32[2];
    cr_assert_eq(nr_loss_grad(&d64, &w, b, NR_KERNEL_AUTO, 0, &l64, g64, NULL), NR_OK);
    cr_assert_eq(nr_loss_grad(&d32, &w, b, NR_KERNEL_AUTO, 0, &l32, g32, NULL), NR_OK);
    for (int j = 0; j < 2; j++)
        cr_assert_leq(fabs(g32[j] - g64[j]), 1e-5 * fabs(g64[j]), "grad[%d] %.17g vs %.17g", j,
                      g32[j], g64[j]);
    cr_assert_leq(fabs(l32 - l64), 1e-5 * l64);
    free(v);
    free(f);
}

Test(kernels, no_features_is_the_bias_alone) {
    /* features = 0 (a .npy of one column): r = b - y, every kernel */
    double v[9], w[1] = {0}, out[2];
    float f[9];
    for (int i = 0; i < 9; i++) v[i] = f[i] = (float)(i * i) / 4;
    for (int k = 0; k < 2; k++) {
        const nr_kernels *kt = nr_kernels_select(k ? NR_KERNEL_AVX2 : NR_KERNEL_SCALAR, NULL);
        if (!kt) continue;
        for (int dt = 0; dt < 2; dt++) {
            if (dt)
                kt->grad_f32(f, 9, 0, w, 1.5, out);
            else
                kt->grad_f64(v, 9, 0, w, 1.5, out);
            double s = 0, l = 0;
            for (int i = 0; i < 9; i++) s += 1.5 - v[i], l += (1.5 - v[i]) * (1.5 - v[i]);
            cr_assert(out[0] == s && out[1] == l, "kernel %d dtype %d: %g %g vs %g %g", k, dt,
                      out[0], out[1], s, l);
        }
    }
}

Test(kernels, gram_triangle_of_avx2_matches_scalar) {
    if (!nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("no AVX2+FMA on this CPU");
    const nr_kernels *sc = nr_kernels_select(NR_KERNEL_SCALAR, NULL);
    const nr_kernels *av = nr_kernels_select(NR_KERNEL_AVX2, NULL);
    for (size_t w = 2; w <= 18; w++) {
        const size_t ns[] = {1, 3, 4, 5, 103};
        for (size_t c = 0; c < 5; c++) {
            const size_t n = ns[c], wp = (w + 3) / 4 * 4;
            double *x = calloc(n * w + 4, sizeof *x), *g1 = malloc(w * wp * sizeof *g1);
            double *g2 = malloc(w * wp * sizeof *g2);
            for (size_t i = 0; i < n * w; i++) x[i] = sin(0.37 * (double)i + (double)w);
            sc->gram_f64(x, n, w, g1);
            av->gram_f64(x, n, w, g2);
            for (size_t a = 0; a < w; a++)
                for (size_t b = a; b < w; b++) {
                    /* independent of the kernels: the sum itself, in long double */
                    long double want = 0, scale = 0;
                    for (size_t i = 0; i < n; i++) {
                        want += (long double)x[i * w + a] * x[i * w + b];
                        scale += fabsl((long double)x[i * w + a] * x[i * w + b]);
                    }
                    /* n products summed: n * 2^-53 of the sum of |terms| */
                    const double tol = (double)(n + 4) * 0x1p-52 * (double)scale;
                    cr_assert(fabsl(g1[a * wp + b] - want) <= tol, "scalar w=%zu n=%zu (%zu,%zu)",
                              w, n, a, b);
                    cr_assert(fabsl(g2[a * wp + b] - want) <= tol, "avx2 w=%zu n=%zu (%zu,%zu)", w,
                              n, a, b);
                }
            free(x);
            free(g1);
            free(g2);
        }
    }
}

Test(kernels, streaming_sum_of_every_kernel_and_thread_count) {
    /* 100003 rows x 3 values: tails of blocks and of vectors */
    const size_t n = 100003, d = 2;
    double *v = gen_f64(n, d, NR_DIST_UNIFORM, 6, 0.1);
    float *f = to_f32(v, n * (d + 1));
    long double want64 = 0, want32 = 0;
    for (size_t i = 0; i < n * (d + 1); i++) want64 += v[i], want32 += f[i];
    for (int k = 0; k < 2; k++) {
        nr_kernel_choice kc = k ? NR_KERNEL_AVX2 : NR_KERNEL_SCALAR;
        if (!nr_kernel_name(kc, NULL)) continue;
        for (int t = 1; t <= 3; t++) {
            nr_data d64 = {n, d, NR_F64, v}, d32 = {n, d, NR_F32, f};
            double s64, s32;
            nr_error err;
            cr_assert_eq(nr_data_sum(&d64, kc, t, &s64, &err), NR_OK);
            cr_assert_eq(nr_data_sum(&d32, kc, t, &s32, &err), NR_OK);
            /* the sum of 3e5 values of magnitude <= ~7: double rounding
             * leaves ~1e-12 relative; f32 vector lanes sum 4096-row blocks
             * in float (2^-24 per add, ~12k adds per lane chain), 1e-4 */
            cr_assert_leq(fabsl(s64 - want64), 1e-10L * fabsl(want64), "kernel %d threads %d", k,
                          t);
            cr_assert_leq(fabsl(s32 - want32), 1e-4L * fabsl(want32),
                          "kernel %d threads %d: %.9g vs %.9Lg", k, t, s32, want32);
        }
    }
    free(f);
    free(v);
}

Test(trainer, weights_are_bit_identical_for_1_2_3_and_7_threads) {
    double *v = gen_f64(50000, 3, NR_DIST_NORMAL, 11, 0.2);
    nr_data d = {50000, 3, NR_F64, v};
    const int threads[] = {1, 2, 3, 7};
    for (int algo = 0; algo < 2; algo++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = algo ? NR_ALGO_MINIBATCH : NR_ALGO_BATCH;
        o.batch = 9000; /* batches of several blocks, and a short last one */
        o.epochs = 5;
        same_bits_for_threads(&d, o, threads, 4, NULL, algo ? "minibatch" : "batch");
    }
    free(v);
}

Test(trainer, minibatch_of_all_rows_is_exactly_batch) {
    double *v = gen_f64(30001, 2, NR_DIST_UNIFORM, 5, 0.1);
    nr_data d = {30001, 2, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.epochs = 7;
    nr_model mb, mm;
    nr_train_result rb, rm;
    train_ok(&d, &o, &mb, &rb);
    for (int sh = 0; sh < 2; sh++) {
        o.algo = NR_ALGO_MINIBATCH;
        o.batch = 30001;
        o.shuffle = sh ? NR_SHUFFLE_BATCHES : NR_SHUFFLE_NONE;
        train_ok(&d, &o, &mm, &rm);
        cr_assert(!memcmp(mb.weights, mm.weights, 2 * sizeof(double)) && mb.bias == mm.bias);
        cr_assert(!memcmp(rb.loss, rm.loss, 7 * sizeof(double)), "same losses");
        nr_model_free(&mm);
        nr_train_result_free(&rm);
    }
    nr_model_free(&mb);
    nr_train_result_free(&rb);
    free(v);
}

/* Least squares by the normal equations, solved here by Gaussian
 * elimination with partial pivoting on the (d+1)x(d+1) system in long
 * double: independent of the library. */
static void normal_equations(const double *v, size_t n, size_t d, double *w, double *b) {
    const size_t k = d + 1;
    long double A[8][9] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const double *row = v + i * (d + 1);
        long double z[8];
        for (size_t j = 0; j < d; j++) z[j] = row[j];
        z[d] = 1;
        for (size_t p = 0; p < k; p++) {
            for (size_t q = 0; q < k; q++) A[p][q] += z[p] * z[q];
            A[p][k] += z[p] * row[d];
        }
    }
    for (size_t c = 0; c < k; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < k; r++)
            if (fabsl(A[r][c]) > fabsl(A[piv][c])) piv = r;
        for (size_t q = 0; q <= k; q++) {
            long double t = A[c][q];
            A[c][q] = A[piv][q];
            A[piv][q] = t;
        }
        for (size_t r = 0; r < k; r++) {
            if (r == c) continue;
            long double f = A[r][c] / A[c][c];
            for (size_t q = c; q <= k; q++) A[r][q] -= f * A[c][q];
        }
    }
    for (size_t j = 0; j < d; j++) w[j] = (double)(A[j][k] / A[j][j]);
    *b = (double)(A[d][k] / A[d][d]);
}

Test(trainer, batch_gd_reaches_the_least_squares_solution) {
    const size_t n = 20000, d = 4;
    double *v = gen_f64(n, d, NR_DIST_UNIFORM, 9, 0.3);
    double w[4], b;
    normal_equations(v, n, d, w, &b);
    for (int st = 0; st < 2; st++) {
        nr_data dd = {n, d, NR_F64, v};
        nr_train_opts o;
        nr_train_defaults(&o);
        o.lr = st ? 0.3 : 0.5;
        o.standardize = st;
        o.epochs = 400;
        nr_model m;
        nr_train_result r;
        train_ok(&dd, &o, &m, &r);
        /* 1e-6 relative: GD contracts the error by <= 0.67 per epoch here
         * (eigenvalues of the Hessian in [0.6, 2]), 400 epochs are ample */
        for (size_t j = 0; j < d; j++)
            cr_assert_leq(fabs(m.weights[j] - w[j]), 1e-6 * fabs(w[j]),
                          "std %d w[%zu] %.17g vs %.17g", st, j, m.weights[j], w[j]);
        cr_assert_leq(fabs(m.bias - b), 1e-6 * fabs(b), "bias %.17g vs %.17g", m.bias, b);
        cr_assert_eq(m.standardized, (bool)st);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    free(v);
}

Test(trainer, sgd_is_the_reference_rule) {
    double *v = gen_f64(500, 2, NR_DIST_UNIFORM, 2, 0.1);
    nr_data d = {500, 2, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.algo = NR_ALGO_SGD;
    o.lr = 0.01;
    o.epochs = 3;
    nr_model m;
    nr_train_result r;
    train_ok(&d, &o, &m, &r);
    double w[2] = {0, 0}, b = 0;
    for (int e = 0; e < 3; e++) nr_sgd_epoch(&d, 0.01, w, &b, NULL, NULL);
    cr_assert(w[0] == m.weights[0] && w[1] == m.weights[1] && b == m.bias);
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

Test(trainer, huge_learning_rate_diverges_with_a_clear_message) {
    double *v = gen_f64(1000, 1, NR_DIST_UNIFORM, 1, 0.1);
    nr_data d = {1000, 1, NR_F64, v};
    for (int a = 0; a < 3; a++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = a == 0 ? NR_ALGO_BATCH : a == 1 ? NR_ALGO_MINIBATCH : NR_ALGO_SGD;
        o.batch = 100;
        o.lr = 1e3;
        o.epochs = 1000;
        nr_model m;
        nr_model_init(&m, 1, NULL);
        nr_train_result r;
        nr_error err = {{0}};
        cr_assert_eq(nr_train(&d, &o, &m, &r, &err), NR_ERR_DIVERGED, "algo %d", a);
        /* it says when and what went non-finite; options are the caller's
         * to name (the CLI adds "try a smaller --lr") */
        cr_assert(strstr(err.msg, "epoch ") && strstr(err.msg, "diverged"), "%s", err.msg);
        cr_assert(strstr(err.msg, "loss") || strstr(err.msg, "weights") ||
                      strstr(err.msg, "bias") || strstr(err.msg, "residual"),
                  "%s", err.msg);
        cr_assert(!strstr(err.msg, "--"), "the library names no CLI flag: %s", err.msg);
        nr_model_free(&m);
    }
    free(v);
}

Test(trainer, divergence_message_says_what_became_non_finite) {
    double *v = gen_f64(1000, 2, NR_DIST_UNIFORM, 1, 0.1);
    nr_data d = {1000, 2, NR_F64, v};
    const struct {
        nr_algo algo;
        bool exact;
        double lr;
        const char *frag;
    } cases[] = {
        /* rows expand at lr 10: sgd --exact falls back to the per-sample
         * run, whose message names what overflowed within the epoch
         * (nr_affine_step's own message: tests/test_fast.c) */
        {NR_ALGO_SGD, true, 10, "a squared residual overflowed"},
        {NR_ALGO_BATCH, false, 100, "the training loss grew to"},
        {NR_ALGO_SGD, false, 10, "a squared residual overflowed"},
        /* the loss at the start of epoch 2 overflows: said in words, not
         * as printf's "inf" */
        {NR_ALGO_BATCH, false, 1e300, "epoch 2: the training loss became infinite ("},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = cases[c].algo, o.exact = cases[c].exact, o.lr = cases[c].lr, o.epochs = 100;
        nr_model m;
        nr_model_init(&m, 2, NULL);
        nr_train_result r;
        nr_error err = {{0}};
        cr_assert_eq(nr_train(&d, &o, &m, &r, &err), NR_ERR_DIVERGED, "case %zu", c);
        cr_assert(strstr(err.msg, cases[c].frag), "case %zu: %s", c, err.msg);
        nr_model_free(&m);
    }
    free(v);
}

Test(trainer, early_stopping_and_validation_split) {
    double *v = gen_f64(10000, 2, NR_DIST_UNIFORM, 4, 0.1);
    nr_data d = {10000, 2, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.epochs = 100000;
    o.lr = 0.5;
    o.tol = 1e-9;
    o.patience = 3;
    o.val_split = 0.25;
    nr_model m;
    nr_train_result r;
    train_ok(&d, &o, &m, &r);
    cr_assert_str_eq(r.stop_reason, "tolerance");
    cr_assert_lt(r.epochs_run, 100000);
    cr_assert_eq(r.train_rows, 7500);
    cr_assert_eq(r.val_rows, 2500);
    /* noise U(-0.1, 0.1) has variance 0.01/3: both losses end near it */
    cr_assert(fabs(r.val_loss - 0.01 / 3) < 0.001 && fabs(r.train_loss - 0.01 / 3) < 0.001,
              "val %g train %g", r.val_loss, r.train_loss);
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

/* --------------------------------------------------- closed form, exact -- */

static double rel(double a, double b) {
    return fabs(a - b) / fmax(fabs(b), 1e-300);
}

Test(exact, ols_matches_the_normal_equations_in_f64_and_f32) {
    for (size_t d = 1; d <= 4; d += 3) /* one feature has its own code path */
        for (int dt = 0; dt < 2; dt++) {
            const size_t n = 20003;
            double *v = gen_f64(n, d, NR_DIST_NORMAL, 21, 0.5);
            float *f = to_f32(v, n * (d + 1));
            /* the reference solves from the same values the library sees */
            double *ref = v;
            if (dt) {
                ref = malloc(n * (d + 1) * sizeof *ref);
                for (size_t i = 0; i < n * (d + 1); i++) ref[i] = f[i];
            }
            double w[4], b;
            normal_equations(ref, n, d, w, &b);
            nr_data dd = {n, d, dt ? NR_F32 : NR_F64, dt ? (void *)f : (void *)v};
            nr_train_opts o;
            nr_train_defaults(&o);
            o.algo = NR_ALGO_OLS;
            nr_model m;
            nr_train_result r;
            train_ok(&dd, &o, &m, &r);
            /* 1e-10: features are well conditioned (cond(C) ~ 1), so both solvers
             * lose only a few ulps; any wrong statistic would be off by far more */
            for (size_t j = 0; j < d; j++)
                cr_assert_leq(rel(m.weights[j], w[j]), 1e-10, "dtype %d w[%zu] %.17g vs %.17g", dt,
                              j, m.weights[j], w[j]);
            cr_assert_leq(fabs(m.bias - b), 1e-10 * fmax(fabs(b), 1), "bias %.17g vs %.17g", m.bias,
                          b);
            cr_assert_str_eq(r.stop_reason, "closed form");
            /* no parameters do better: the MSE at the optimum is the noise floor */
            cr_assert_lt(r.train_loss, 0.5 * 0.5 * 1.01);
            nr_model_free(&m);
            nr_train_result_free(&r);
            if (dt) free(ref);
            free(f);
            free(v);
        }
}

Test(exact, ols_refuses_constant_and_collinear_features) {
    const size_t n = 1000, d = 3;
    for (int kind = 0; kind < 2; kind++) {
        double *v = gen_f64(n, d, NR_DIST_UNIFORM, 3, 0.1);
        for (size_t i = 0; i < n; i++) {
            double *row = v + i * (d + 1);
            row[1] = kind ? 2 * row[0] - 3 * row[2] : 7.0; /* collinear, or constant */
        }
        nr_data dd = {n, d, NR_F64, v};
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_OLS;
        nr_model m;
        nr_model_init(&m, d, NULL);
        nr_train_result r;
        nr_error err = {{0}};
        cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_INPUT, "kind %d", kind);
        cr_assert(strstr(err.msg, "no unique solution"), "%s", err.msg);
        nr_model_free(&m);
        free(v);
    }
}

/* --exact against the ordinary trainer: the same recurrence, with the
 * gradient from statistics instead of a pass. 1e-9 relative: both compute
 * the same real numbers; rounding differs (centered sums vs residual sums)
 * by a few ulps per epoch and GD contracts those errors, so they do not
 * grow with the epochs. */
Test(exact, exact_epochs_match_the_ordinary_batch_trainer) {
    const size_t n = 60001;
    for (size_t d = 1; d <= 3; d += 2) { /* one feature has its own code path */
        double *v = gen_f64(n, d, NR_DIST_NORMAL, 31, 0.2);
        float *f = to_f32(v, n * (d + 1));
        for (size_t i = 0; i < n; i++) v[i * (d + 1)] = 5 + 2 * v[i * (d + 1)]; /* off-centre */
        for (int variant = 0; variant < 4; variant++) {
            /* variant 3: f32 data (both trainers widen the same floats) */
            nr_data dd = {n, d, variant == 3 ? NR_F32 : NR_F64,
                          variant == 3 ? (void *)f : (void *)v};
            nr_train_opts o;
            nr_train_defaults(&o);
            o.epochs = 300;
            o.lr = variant == 0 ? 0.02 : 0.3;
            o.standardize = variant >= 1;
            if (variant == 3) o.lr = 0.3;
            o.val_split = variant == 2 ? 0.2 : 0;
            nr_model ma, mb;
            nr_train_result ra, rb;
            train_ok(&dd, &o, &ma, &ra);
            o.exact = true;
            train_ok(&dd, &o, &mb, &rb);
            cr_assert_eq(ra.epochs_run, rb.epochs_run);
            for (int64_t e = 0; e < ra.epochs_run; e++) {
                cr_assert_leq(rel(rb.loss[e], ra.loss[e]), 1e-9,
                              "variant %d epoch %lld: %.17g vs %.17g", variant, (long long)e + 1,
                              rb.loss[e], ra.loss[e]);
                if (o.val_split > 0)
                    cr_assert_leq(rel(rb.val_history[e], ra.val_history[e]), 1e-9, "val epoch %lld",
                                  (long long)e + 1);
            }
            for (size_t j = 0; j < d; j++)
                cr_assert_leq(rel(mb.weights[j], ma.weights[j]), 1e-9,
                              "variant %d w[%zu] %.17g vs %.17g", variant, j, mb.weights[j],
                              ma.weights[j]);
            cr_assert_leq(rel(mb.bias, ma.bias), 1e-9, "variant %d bias", variant);
            /* and it moved: 300 epochs are far from the zero start */
            cr_assert_lt(rb.loss[rb.epochs_run - 1], 0.1 * rb.loss[0]);
            nr_model_free(&ma);
            nr_model_free(&mb);
            nr_train_result_free(&ra);
            nr_train_result_free(&rb);
        }
        free(f);
        free(v);
    }
}

Test(exact, exact_is_bit_identical_for_any_thread_count) {
    const size_t n = 40000, d = 5;
    double *v = gen_f64(n, d, NR_DIST_UNIFORM, 8, 0.1);
    float *f = to_f32(v, n * (d + 1));
    nr_data dd = {n, d, NR_F32, f};
    const int threads[] = {1, 2, 7};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.exact = true;
    o.epochs = 50;
    same_bits_for_threads(&dd, o, threads, 3, NULL, "batch --exact");
    free(f);
    free(v);
}

Test(exact, exact_needs_batch) {
    double *v = gen_f64(100, 1, NR_DIST_UNIFORM, 1, 0.1);
    nr_data dd = {100, 1, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.exact = true;
    o.algo = NR_ALGO_MINIBATCH;
    nr_model m;
    nr_model_init(&m, 1, NULL);
    nr_train_result r;
    nr_error err = {{0}};
    cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_ARG);
    cr_assert(strstr(err.msg, "batch"), "%s", err.msg);
    nr_model_free(&m);
    free(v);
}

/* ---------------------------------------------------------------- models -- */

Test(model, save_load_round_trips_bits) {
    char *dir = scratch_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/m.json", dir);
    nr_model m;
    nr_model_init(&m, 3, NULL);
    m.weights[0] = 0.1, m.weights[1] = -1.0 / 3.0, m.weights[2] = 6.02214076e23;
    m.bias = nextafter(1.0, 2.0);
    m.standardized = true;
    m.mean = malloc(24), m.std = malloc(24);
    for (int j = 0; j < 3; j++) m.mean[j] = sqrt(j + 2.0), m.std[j] = exp(-j - 0.5);
    cr_assert_eq(nr_model_save(&m, NULL, path, NULL), NR_OK);
    nr_model back;
    nr_error err;
    cr_assert_eq(nr_model_load(path, &back, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(back.features, 3);
    cr_assert(!memcmp(back.weights, m.weights, 24) && back.bias == m.bias);
    cr_assert(back.standardized && !memcmp(back.mean, m.mean, 24) && !memcmp(back.std, m.std, 24));
    nr_model_free(&back);
    nr_model_free(&m);
    free(dir);
}

Test(model, refuses_future_versions_missing_fields_and_wrong_types) {
    char *dir = scratch_dir();
    const struct {
        const char *json, *frag;
    } cases[] = {
        {"{\"format\":\"neuron-model\",\"version\":2,\"features\":1,\"weights\":[1],\"bias\":0}",
         "version 2 is not supported"},
        {"{\"format\":\"neuron-model\",\"version\":1,\"features\":1,\"bias\":0}",
         "'weights' is missing"},
        {"{\"format\":\"neuron-model\",\"version\":1,\"features\":2,\"weights\":[1],\"bias\":0}",
         "has 1 values (expected 2)"},
        {"{\"format\":\"neuron-model\",\"version\":1,\"features\":1,\"weights\":[\"a\"],\"bias\":"
         "0}",
         "weights[0] is not a finite number"},
        {"{\"format\":\"neuron-model\",\"version\":1,\"features\":1,\"weights\":[1],\"bias\":"
         "\"0\"}",
         "'bias'"},
        {"{\"format\":\"other\",\"version\":1}", "not a neuron model"},
        {"{\"format\":\"neuron-model\",\"version\":1,\"features\":1,\"weights\":[1],\"bias\":0,"
         "\"activation\":\"relu\"}",
         "activation 'relu'"},
        {"[1,2", "not valid JSON"},
        {"", "empty model file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/m%zu.json", dir, i);
        FILE *f = fopen(path, "w");
        fputs(cases[i].json, f);
        fclose(f);
        nr_model m;
        nr_error err = {{0}};
        cr_assert_eq(nr_model_load(path, &m, &err), NR_ERR_INPUT, "case %zu", i);
        cr_assert(strstr(err.msg, cases[i].frag), "case %zu: %s", i, err.msg);
    }
    free(dir);
}

Test(model, predict_and_eval_match_hand_computed_values) {
    /* y = 2 x1 - x2 + 0.5 on three rows, targets off by +1, -1, +2 */
    double v[] = {1, 2, 1.5, 0, 0, -0.5, -1, 3, -2.5};
    /* predictions: 0.5, 0.5, -4.5; errors p - y: -1, 1, -2 */
    nr_data d = {3, 2, NR_F64, v};
    nr_model m;
    nr_model_init(&m, 2, NULL);
    m.weights[0] = 2, m.weights[1] = -1, m.bias = 0.5;
    double p[3];
    cr_assert_eq(nr_predict(&m, &d, p, NULL), NR_OK);
    cr_assert(p[0] == 0.5 && p[1] == 0.5 && p[2] == -4.5);
    nr_metrics mt;
    cr_assert_eq(nr_eval(&m, &d, &mt, NULL), NR_OK);
    /* mse = (1 + 1 + 4)/3 = 2, mae = 4/3; ybar = -0.5, SST = 4 + 0 + 4 = 8,
     * r2 = 1 - 6/8 = 0.25 */
    cr_assert_eq(mt.n, 3);
    cr_assert(fabs(mt.mse - 2) < 1e-15 && fabs(mt.rmse - sqrt(2)) < 1e-15);
    cr_assert(fabs(mt.mae - 4.0 / 3) < 1e-15 && fabs(mt.r2 - 0.25) < 1e-15, "r2 %.17g", mt.r2);
    /* without the target column: every column is a feature */
    nr_data x = {3, 1, NR_F64, (double[]){1, 2, 0, 0, -1, 3}};
    cr_assert_eq(nr_predict(&m, &x, p, NULL), NR_OK);
    cr_assert(p[0] == 0.5 && p[1] == 0.5 && p[2] == -4.5);
    nr_model_free(&m);
}

/* ------------------------------------------------------------------ CLI -- */

Test(train_cli, train_predict_eval_end_to_end) {
    char *dir = scratch_dir();
    char data[4096], model[4096], report[4096], hist[4096], pred[4096];
    snprintf(data, sizeof data, "%s/d.npy", dir);
    snprintf(model, sizeof model, "%s/m.json", dir);
    snprintf(report, sizeof report, "%s/r.json", dir);
    snprintf(hist, sizeof hist, "%s/h.csv", dir);
    snprintf(pred, sizeof pred, "%s/p.csv", dir);
    run_result r;
    const char *g[] = {"gen", "--rows", "20000", "--features", "2", "--out", data, NULL};
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *t[] = {"train", "--data",      data,  "--epochs", "300", "--lr",
                       "0.5",   "--val-split", "0.1", "--model",  model, "--report",
                       report,  "--history",   hist,  NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *rep = read_file(report, NULL);
    json_t *j = json_loads(rep, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j, "report is JSON");
    const char *keys[] = {
        "algo", "dtype",      "threads",  "rows",    "features",           "epochs_run", "weights",
        "bias", "train_loss", "val_loss", "seconds", "samples_per_second", "stop_reason"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        cr_assert(json_object_get(j, keys[k]), "report lacks %s", keys[k]);
    /* gen's true weights are 1, 2 and bias 0.5: 300 epochs get close */
    json_t *w = json_object_get(j, "weights");
    cr_assert(fabs(json_number_value(json_array_get(w, 0)) - 1) < 0.01);
    cr_assert(fabs(json_number_value(json_array_get(w, 1)) - 2) < 0.01);
    json_decref(j);
    free(rep);
    char *h = read_file(hist, NULL);
    cr_assert(!strncmp(h, "epoch,loss_before,val_loss_before,epoch_seconds\n", 48), "%.60s", h);
    cr_assert_eq(count_lines(h), 301);
    free(h);
    const char *p[] = {"predict", "--model", model, "--data", data, "--out", pred, NULL};
    run_neuron(&r, p);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *ptext = read_file(pred, NULL);
    cr_assert_eq(count_lines(ptext), 20001);
    free(ptext);
    const char *e[] = {"eval", "--model", model, "--data", data, NULL};
    run_neuron(&r, e);
    cr_assert_eq(r.status, 0, "%s", r.err);
    j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j && json_number_value(json_object_get(j, "r2")) > 0.99, "%s", r.out);
    cr_assert_eq(json_number_value(json_object_get(j, "n")), 20000);
    json_decref(j);
    run_free(&r);
    free(dir);
}

Test(train_cli, errors_and_exit_codes) {
    char *dir = scratch_dir();
    char data[4096], model[4096];
    snprintf(data, sizeof data, "%s/d.npy", dir);
    snprintf(model, sizeof model, "%s/m.json", dir);
    run_result r;
    const char *g[] = {"gen", "--rows", "1000", "--out", data, NULL};
    run_neuron(&r, g);
    run_free(&r);
    struct {
        const char *args[12];
        int code;
        const char *frag;
    } cases[] = {
        {{"train", NULL}, 2, "--data is required"},
        {{"train", "--data", data, "--algo", "adam", NULL}, 2, "sgd|batch|minibatch|ols"},
        {{"train", "--data", data, "--epochs", "0", NULL}, 2, "--epochs"},
        {{"train", "--data", data, "--lr", "-1", NULL}, 2, "--lr"},
        {{"train", "--data", data, "--val-split", "1", NULL}, 2, "--val-split"},
        {{"train", "--data", data, "--kernel", "neon", NULL}, 2, "auto|scalar|avx2"},
        {{"train", "--data", "/nonexistent.npy", NULL}, 3, "cannot open"},
        {{"train", "--data", data, "--lr", "1e6", "--epochs", "50", "--model", model, NULL},
         4,
         "smaller --lr"},
        {{"eval", "--model", "/nonexistent.json", "--data", data, NULL}, 3, "cannot open model"},
        {{"predict", "--data", data, NULL}, 2, "--model is required"},
        {{"bench", NULL}, 2, "--data is required"},
        {{"bench", "--data", data, "--algos", "adam", NULL}, 2, "minibatch:B"},
        {{"bench", "--data", data, "--algos", "minibatch:0", NULL}, 2, "minibatch:B"},
        {{"bench", "--data", data, "--threads", "0", NULL}, 2, "'all'"},
        {{"bench", "--data", "/nonexistent.npy", NULL}, 3, "cannot open"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_neuron(&r, cases[i].args);
        cr_assert_eq(r.status, cases[i].code, "case %zu: exit %d: %s", i, r.status, r.err);
        cr_assert_eq(count_lines(r.err), 1, "case %zu: %s", i, r.err);
        cr_assert(strstr(r.err, cases[i].frag), "case %zu: %s", i, r.err);
        run_free(&r);
    }
    cr_assert(access(model, F_OK) != 0, "no model written on divergence");
    free(dir);
}

/* ------------------------------------------- shuffles, stopping, records -- */

/* Minibatch GD over the 4 batches of `B` rows of `v` (n = 4B, one feature)
 * taken in the order `perm`, one epoch from w = b = 0: the rule of SPEC
 * section 4 written out, to recognise the order the trainer used. */
static void minibatch_in_order(const double *v, size_t B, const int *perm, double lr, double *w,
                               double *b) {
    *w = 0, *b = 0;
    for (int k = 0; k < 4; k++) {
        double gw = 0, gb = 0;
        for (size_t i = 0; i < B; i++) {
            const double *row = v + 2 * ((size_t)perm[k] * B + i);
            const double r = *w * row[0] + *b - row[1];
            gw += r * row[0], gb += r;
        }
        *w -= lr * ((2.0 / (double)B) * gw);
        *b -= lr * ((2.0 / (double)B) * gb);
    }
}

/* Over 24 seeds, each run of one epoch must be minibatch GD in some order of
 * the 4 units (batches, or samples with B = 1), and the orders must vary: a
 * shuffle that does nothing, or that loses a unit, fails. 1e-12: the same
 * sums of at most 3 terms, in another association at worst; two different
 * orders differ by far more (1e-3 here). */
static void shuffle_permutes_units(nr_shuffle sh, size_t B) {
    const size_t n = 4 * B;
    double *v = gen_f64(n, 1, NR_DIST_NORMAL, 17, 0.5);
    for (size_t i = 0; i < n; i++) v[2 * i] *= 1 + (double)i; /* units clearly unlike */
    static const int perms[24][4] = {
        {0, 1, 2, 3}, {0, 1, 3, 2}, {0, 2, 1, 3}, {0, 2, 3, 1}, {0, 3, 1, 2}, {0, 3, 2, 1},
        {1, 0, 2, 3}, {1, 0, 3, 2}, {1, 2, 0, 3}, {1, 2, 3, 0}, {1, 3, 0, 2}, {1, 3, 2, 0},
        {2, 0, 1, 3}, {2, 0, 3, 1}, {2, 1, 0, 3}, {2, 1, 3, 0}, {2, 3, 0, 1}, {2, 3, 1, 0},
        {3, 0, 1, 2}, {3, 0, 2, 1}, {3, 1, 0, 2}, {3, 1, 2, 0}, {3, 2, 0, 1}, {3, 2, 1, 0}};
    const double lr = 0.01;
    /* with B = 1 the units are samples, with B > 1 whole batches */
    double ref[24][2];
    for (int p = 0; p < 24; p++) minibatch_in_order(v, B, perms[p], lr, &ref[p][0], &ref[p][1]);
    bool seen[24] = {false};
    int distinct = 0;
    for (uint64_t seed = 1; seed <= 24; seed++) {
        nr_data d = {n, 1, NR_F64, v};
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_MINIBATCH;
        o.batch = B;
        o.shuffle = sh;
        o.epochs = 1;
        o.lr = lr;
        o.seed = seed;
        nr_model m;
        nr_train_result r;
        train_ok(&d, &o, &m, &r);
        int match = -1;
        for (int p = 0; p < 24; p++)
            if (fabs(m.weights[0] - ref[p][0]) <= 1e-12 * fabs(ref[p][0]) &&
                fabs(m.bias - ref[p][1]) <= 1e-12 * fabs(ref[p][1]) + 1e-300)
                match = p;
        cr_assert_geq(match, 0, "seed %llu: w %.17g b %.17g is no order of the %s",
                      (unsigned long long)seed, m.weights[0], m.bias,
                      B == 1 ? "samples" : "batches");
        if (!seen[match]) seen[match] = true, distinct++;
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    /* 24 draws of 24 orders: fewer than 6 distinct has probability < 1e-6 */
    cr_assert_geq(distinct, 6, "only %d distinct orders over 24 seeds", distinct);
    free(v);
}

Test(trainer, shuffle_batches_permutes_the_batches) {
    shuffle_permutes_units(NR_SHUFFLE_BATCHES, 3);
}

Test(trainer, shuffle_samples_permutes_the_samples) {
    shuffle_permutes_units(NR_SHUFFLE_SAMPLES, 1);
}

/* lr 1.5 on x ~ U(-1, 1): the bias direction has the epoch factor
 * |1 - 2 lr| = 2, so the loss grows about 4x an epoch and passes 1e6 times
 * its first value near epoch 11, while staying finite for 200 epochs (4^200
 * ~ 1e120): only the growth rule can stop it, and early. */
Test(trainer, a_loss_growing_a_million_fold_is_divergence) {
    double *v = gen_f64(1000, 1, NR_DIST_UNIFORM, 2, 0.1);
    nr_data d = {1000, 1, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.lr = 1.5;
    o.epochs = 200;
    nr_model m;
    nr_model_init(&m, 1, NULL);
    m.bias = 1; /* a start away from the optimum along the unstable direction */
    nr_train_result r;
    nr_error err = {{0}};
    cr_assert_eq(nr_train(&d, &o, &m, &r, &err), NR_ERR_DIVERGED, "%s", err.msg);
    long long e = 0;
    const char *at = strstr(err.msg, "epoch ");
    cr_assert(at && sscanf(at, "epoch %lld", &e) == 1, "%s", err.msg);
    cr_assert(e >= 6 && e <= 16, "stopped at epoch %lld: %s", e, err.msg);
    nr_model_free(&m);
    free(v);
}

/* tol 1e30: only the first epoch counts as an improvement (on +inf), so the
 * run stops after exactly `patience` more epochs. */
Test(trainer, patience_counts_exactly_the_epochs_without_improvement) {
    double *v = gen_f64(500, 1, NR_DIST_UNIFORM, 3, 0.1);
    nr_data d = {500, 1, NR_F64, v};
    for (int64_t patience = 1; patience <= 4; patience++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.epochs = 100;
        o.tol = 1e30;
        o.patience = patience;
        nr_model m;
        nr_train_result r;
        train_ok(&d, &o, &m, &r);
        cr_assert_str_eq(r.stop_reason, "tolerance");
        cr_assert_eq(r.epochs_run, 1 + patience, "patience %lld: %lld epochs run",
                     (long long)patience, (long long)r.epochs_run);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    free(v);
}

/* The standardization recorded by batch is the training rows' mean and
 * population std, against long double sums (1e-12: two blocked passes in
 * double); validation rows are not part of it. */
Test(trainer, standardize_records_the_training_rows_mean_and_std) {
    const size_t n = 9000, d = 2, n_train = 6000;
    double *v = gen_f64(n, d, NR_DIST_NORMAL, 8, 0.1);
    for (size_t i = 0; i < n; i++) v[i * 3] = 4 + 3 * v[i * 3], v[i * 3 + 1] *= 0.01;
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.standardize = true;
    o.val_split = 1.0 / 3;
    o.epochs = 3;
    nr_model m;
    nr_train_result r;
    train_ok(&dd, &o, &m, &r);
    cr_assert(m.standardized && m.mean && m.std);
    for (size_t j = 0; j < d; j++) {
        long double s = 0, q = 0;
        for (size_t i = 0; i < n_train; i++) s += v[i * 3 + j];
        s /= n_train;
        for (size_t i = 0; i < n_train; i++) q += (v[i * 3 + j] - s) * (v[i * 3 + j] - s);
        const double sd = (double)sqrtl(q / n_train);
        cr_assert_leq(fabs(m.mean[j] - (double)s), 1e-12 * fmax(fabs((double)s), sd), "mean[%zu]",
                      j);
        cr_assert_leq(fabs(m.std[j] - sd), 1e-12 * sd, "std[%zu] = %.17g, want %.17g", j, m.std[j],
                      sd);
    }
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

/* An abandoned atomic write leaves nothing: not the target, not the
 * temporary file that held the bytes written so far. */
Test(writers, atomic_abort_removes_the_temporary_file) {
    char *dir = scratch_dir(), path[4096], names[1024];
    snprintf(path, sizeof path, "%s/out.json", dir);
    nr_atomic a;
    nr_error err;
    cr_assert_eq(nr_atomic_create(&a, path, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(nr_atomic_write(&a, "{\"partial\":", 12, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(dir_entries(dir, names, sizeof names), 1, "the temporary file exists: %s", names);
    nr_atomic_abort(&a);
    cr_assert_eq(dir_entries(dir, names, sizeof names), 0, "left behind: %s", names);
    rmdir(dir);
    free(dir);
}

/* Features in [1e6, 1e6 + 1] with --standardize: the model on raw features
 * has w x and b of ~1e6 |w| that cancel in every residual, so the ordinary
 * trainer's residuals carry an absolute error of ~1e6 |w| 2^-53 each, and
 * its losses a relative error of about 2 (1e6 |w| / sqrt(L)) 2^-53 (here
 * ~1e-8 at the noise floor): the data's conditioning, not the method's.
 * --exact works on the standardized statistics (centred per block, no such
 * cancellation) and expands the loss about the optimum (exact.h), so it
 * must be no worse: its worst loss over the epochs within 1e-12 of a long
 * double run of the same recurrence, or at least as close to it as the
 * ordinary trainer's worst (measured: 1.4e-9 and 4.3e-9). */
Test(exact, exact_standardize_far_from_zero_is_no_worse_than_the_ordinary_run) {
    const size_t n = 20000, d = 2;
    double *v = gen_f64(n, d, NR_DIST_UNIFORM, 31, 0.01);
    for (size_t i = 0; i < n; i++) {
        double *r = v + i * 3;
        r[0] = 1e6 + (r[0] + 1) / 2, r[1] = 1e6 + (r[1] + 1) / 2;
        r[2] = 3 * r[0] - 2 * r[1] + 7 + 0.01 * (double)(i % 13);
    }
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.standardize = true;
    o.epochs = 60;
    o.lr = 0.2;
    nr_model ma, mb;
    nr_train_result ra, rb;
    train_ok(&dd, &o, &ma, &ra);
    o.exact = true;
    train_ok(&dd, &o, &mb, &rb);
    /* the same recurrence in long double, on features standardized in long
     * double with the trainer's own mean and std (so that both runs walk the
     * same real problem) */
    long double *z = malloc(n * 3 * sizeof *z), vv[2] = {0, 0}, c = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 3; j++)
            z[i * 3 + j] =
                j < 2 ? ((long double)v[i * 3 + j] - ma.mean[j]) / ma.std[j] : v[i * 3 + j];
    double worst_a = 0, worst_b = 0;
    for (int64_t e = 0; e < o.epochs; e++) {
        long double loss = 0, g[3] = {0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            const long double r = vv[0] * z[i * 3] + vv[1] * z[i * 3 + 1] + c - z[i * 3 + 2];
            loss += r * r, g[0] += r * z[i * 3], g[1] += r * z[i * 3 + 1], g[2] += r;
        }
        loss /= n;
        for (size_t j = 0; j < 2; j++) vv[j] -= (long double)o.lr * (2.0L / n) * g[j];
        c -= (long double)o.lr * (2.0L / n) * g[2];
        const double ea = (double)(fabsl(ra.loss[e] - loss) / loss);
        const double eb = (double)(fabsl(rb.loss[e] - loss) / loss);
        worst_a = fmax(worst_a, ea), worst_b = fmax(worst_b, eb);
    }
    cr_assert(worst_b <= 1e-12 || worst_b <= worst_a,
              "worst relative loss error from long double: exact %.3g, ordinary %.3g", worst_b,
              worst_a);
    /* the noise 0.01 (i % 13) has variance 1.4e-3 */
    cr_assert_lt(ra.loss[o.epochs - 1], 2e-3, "it trained to the noise floor");
    free(z);
    nr_model_free(&ma);
    nr_model_free(&mb);
    nr_train_result_free(&ra);
    nr_train_result_free(&rb);
    free(v);
}

/* A model with a non-finite weight or bias is refused before anything is
 * written: JSON has no Inf or NaN, and a model file that neuron itself
 * could not read back is worse than none. */
Test(writers, models_with_non_finite_numbers_are_not_saved) {
    char *dir = scratch_dir(), path[4096], names[1024];
    snprintf(path, sizeof path, "%s/m.json", dir);
    for (int k = 0; k < 4; k++) {
        nr_model m;
        cr_assert_eq(nr_model_init(&m, 2, NULL), NR_OK);
        m.weights[0] = 1, m.weights[1] = 2, m.bias = 3;
        if (k == 0) m.bias = INFINITY;
        if (k == 1) m.bias = NAN;
        if (k == 2) m.weights[1] = -INFINITY;
        if (k == 3) m.weights[0] = NAN;
        nr_error err = {{0}};
        cr_assert_eq(nr_model_save(&m, NULL, path, &err), NR_ERR_ARG, "case %d", k);
        cr_assert(strstr(err.msg, "not finite") || strstr(err.msg, "non-finite"), "%s", err.msg);
        cr_assert_eq(dir_entries(dir, names, sizeof names), 0, "case %d left: %s", k, names);
        nr_model_free(&m);
    }
    rmdir(dir);
    free(dir);
}
