/* Every kernel of the per-sample rule gives the scalar reference's bits
 * (src/reference.c, the ground truth): the same weights, bias and stopping
 * row, compared bit for bit, for every width the kernels specialise (3-16),
 * the generic loop and each tail of the groups of four, on f32 and f64 rows,
 * including the rows a vector kernel must hand to the reference's step. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels.h"
#include "neuron.h"

static uint64_t next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { /* [-1, 1) */
    return (double)(next(s) >> 11) * 0x1p-52 - 1.0;
}

enum family {
    PLAIN, /* values in [-1, 1) and signed zeros: the fast path throughout */
    EDGE,  /* subnormal and tiny features, huge targets whose squares still fit */
    WILD,  /* huge features too: weights overflow to Inf and NaN */
    FAMILIES
};

/* A value of a feature (or the target, `target`) of family f. f32 data get
 * their float's value, so both types see the same kind of edge. */
static double value(uint64_t *s, enum family f, bool target, bool f32) {
    const unsigned pick = (unsigned)(next(s) % 100);
    const double u = uniform(s);
    if (pick < 4) return pick & 1 ? -0.0 : 0.0;
    if (f == PLAIN) return u;
    if (target) return pick < 7 ? 1.5 * 0x1p511 * (u < 0 ? -1 : 1) : u;
    if (pick < 10) return f32 ? u * 0x1p-140 : u * 0x1p-1040; /* subnormal */
    if (pick < 14) return u * 0x1p-515;                       /* below the shortcut's range */
    if (f == WILD && pick < 16) return f32 ? u * 0x1p120 : u * 0x1p515;
    return u;
}

static void fill(double *v, float *g, size_t n, size_t d, enum family f, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= d; j++) {
            const size_t k = i * (d + 1) + j;
            g[k] = (float)value(&s, f, j == d, true);
            v[k] = value(&s, f, j == d, false);
        }
    /* the sample's first row with a residual whose square overflows: both
     * stop on it */
    if (f == WILD && n > 7) v[(n - 7) * (d + 1) + d] = 0x1p600;
}

static bool same(double a, double b) {
    return !memcmp(&a, &b, sizeof a);
}

/* Three epochs of kernel table `k` against the reference from the same start
 * state: same status each epoch, same bits of w and b after each. */
static void check_against_reference(const nr_kernels *k, const nr_data *d, double lr,
                                    const char *what) {
    double w[40], wr[40], b = 0.25, br = 0.25;
    for (size_t j = 0; j < d->features; j++) w[j] = wr[j] = j % 3 ? 0.0 : -0.0;
    for (int e = 0; e < 3; e++) {
        const nr_status s = nr_sgd_epoch_with(k, d, lr, w, &b, NULL, NULL);
        const nr_status sr = nr_sgd_epoch(d, lr, wr, &br, NULL, NULL);
        cr_assert_eq(s, sr, "%s d=%zu epoch %d: status %d, reference %d", what, d->features, e, s,
                     sr);
        for (size_t j = 0; j < d->features; j++)
            cr_assert(same(w[j], wr[j]), "%s d=%zu epoch %d: w[%zu] %a, reference %a", what,
                      d->features, e, j, w[j], wr[j]);
        cr_assert(same(b, br), "%s d=%zu epoch %d: b %a, reference %a", what, d->features, e, b,
                  br);
        if (sr != NR_OK) break;
    }
}

static const nr_kernels *avx2_or_skip(void) {
    const nr_kernels *k = nr_kernels_select(NR_KERNEL_AVX2, NULL);
    if (!k) cr_skip_test("this CPU has no AVX2");
    return k;
}

Test(sgd_kernels, avx2_has_the_reference_bits_for_widths_1_to_40) {
    const nr_kernels *k = avx2_or_skip();
    const size_t n = 400;
    for (size_t d = 1; d <= 40; d++) {
        double *v = malloc(n * (d + 1) * sizeof *v);
        float *g = malloc(n * (d + 1) * sizeof *g);
        for (int f = 0; f < FAMILIES; f++) {
            fill(v, g, n, d, (enum family)f, 1000 * d + (uint64_t)f);
            const char *name[] = {"plain", "edge", "wild"};
            char what[32];
            for (int t = 0; t < 2; t++) {
                snprintf(what, sizeof what, "%s %s", name[f], t ? "f32" : "f64");
                nr_data data = {n, d, t ? NR_F32 : NR_F64, t ? (void *)g : (void *)v};
                check_against_reference(k, &data, 0.01, what);
            }
        }
        free(v);
        free(g);
    }
}

Test(sgd_kernels, the_wild_data_reach_the_careful_paths) {
    /* The families above are only worth their name if the reference takes
     * its careful step on them and, for WILD, stops on an overflow. */
    const size_t n = 400, d = 8;
    double *v = malloc(n * (d + 1) * sizeof *v);
    float *g = malloc(n * (d + 1) * sizeof *g);
    fill(v, g, n, d, WILD, 1000 * d + WILD);
    nr_data data = {n, d, NR_F64, v};
    double w[8] = {0}, b = 0.25;
    cr_assert_eq(nr_sgd_epoch(&data, 0.01, w, &b, NULL, NULL), NR_ERR_DIVERGED);
    fill(v, g, n, d, EDGE, 1000 * d + EDGE);
    size_t huge = 0, subnormal = 0;
    for (size_t i = 0; i < n * (d + 1); i++) {
        huge += fabs(v[i]) >= 0x1p511;
        subnormal += v[i] != 0 && fabs(v[i]) < 0x1p-1022;
    }
    cr_assert(huge > 5 && subnormal > 50, "%zu huge targets, %zu subnormal features", huge,
              subnormal);
    free(v);
    free(g);
}

/* dot(w, x) in the documented order (doc/sgd-order.md), for the test's
 * construction below only: partial sums over j = c (mod 4), -0.0 when
 * empty, then (p0 + p1) + (p2 + p3). */
static double dot4(const double *w, const double *x, size_t d) {
    double p[4] = {-0.0, -0.0, -0.0, -0.0};
    for (size_t j = 0; j < d; j++) p[j % 4] = j < 4 ? w[j] * x[j] : p[j % 4] + w[j] * x[j];
    return (p[0] + p[1]) + (p[2] + p[3]);
}

Test(sgd_kernels, tiny_residuals_take_the_reference_step) {
    /* One row with b = -dot(w, x), so that the residual is exactly -y: with
     * y ~ 2^-530 and x ~ 2^-495, r x is subnormal, where lr ((r 2) x) and
     * (2 lr) (r x) round differently; a kernel must not take its shortcut
     * there. Checked to be such rows: the shortcut's value differs in some
     * of them. */
    const nr_kernels *k = avx2_or_skip();
    uint64_t s = 77;
    int differ = 0;
    for (size_t d = 1; d <= 24; d++)
        for (int c = 0; c < 40; c++) {
            double row[25], w[24], wr[24], w0[24];
            for (size_t j = 0; j < d; j++) { /* zero weights show the update's every bit */
                row[j] = (1.5 + uniform(&s) / 4) * 0x1p-495;
                w[j] = wr[j] = w0[j] = j % 2 ? uniform(&s) : 0.0;
            }
            const double lr = 0.01 + uniform(&s) / 200;
            row[d] = (1.5 + uniform(&s) / 4) * 0x1p-530;
            double b = -dot4(w, row, d), br = b;
            nr_data data = {1, d, NR_F64, row};
            cr_assert_eq(nr_sgd_epoch_with(k, &data, lr, w, &b, NULL, NULL), NR_OK);
            cr_assert_eq(nr_sgd_epoch(&data, lr, wr, &br, NULL, NULL), NR_OK);
            for (size_t j = 0; j < d; j++) {
                cr_assert(same(w[j], wr[j]), "d=%zu case %d w[%zu]: %a vs %a", d, c, j, w[j],
                          wr[j]);
                const double r = -row[d];
                differ += !same(w0[j] - (2 * lr) * (r * row[j]), wr[j]);
            }
            cr_assert(same(b, br), "d=%zu case %d: b %a vs %a", d, c, b, br);
        }
    cr_assert(differ > 0, "no row where the shortcut would have been wrong");
}

Test(sgd_kernels, training_with_either_kernel_gives_the_same_model) {
    /* nr_train's sgd goes through the kernel table: --kernel scalar and
     * avx2 train the same bits (d = 8, f32 and f64, 4 epochs). */
    avx2_or_skip();
    const size_t n = 3000, d = 8;
    double *v = malloc(n * (d + 1) * sizeof *v);
    float *g = malloc(n * (d + 1) * sizeof *g);
    fill(v, g, n, d, PLAIN, 5);
    for (int t = 0; t < 2; t++) {
        nr_data data = {n, d, t ? NR_F32 : NR_F64, t ? (void *)g : (void *)v};
        nr_model m[2];
        for (int kk = 0; kk < 2; kk++) {
            nr_train_opts o;
            nr_train_defaults(&o);
            o.algo = NR_ALGO_SGD;
            o.lr = 0.001;
            o.epochs = 4;
            o.kernel = kk ? NR_KERNEL_AVX2 : NR_KERNEL_SCALAR;
            nr_train_result r;
            nr_error err = {{0}};
            cr_assert_eq(nr_model_init(&m[kk], d, NULL), NR_OK);
            cr_assert_eq(nr_train(&data, &o, &m[kk], &r, &err), NR_OK, "%s", err.msg);
            cr_assert_str_eq(r.kernel, kk ? "avx2" : "scalar");
            nr_train_result_free(&r);
        }
        cr_assert(!memcmp(m[0].weights, m[1].weights, d * sizeof(double)) &&
                      same(m[0].bias, m[1].bias),
                  "dtype %d: the kernels trained different models", t);
        /* and the reference rule itself, epoch by epoch */
        double w[8] = {0}, b = 0;
        for (int e = 0; e < 4; e++) nr_sgd_epoch(&data, 0.001, w, &b, NULL, NULL);
        cr_assert(!memcmp(w, m[1].weights, sizeof w) && same(b, m[1].bias));
        nr_model_free(&m[0]);
        nr_model_free(&m[1]);
    }
    free(v);
    free(g);
}

Test(sgd_kernels, signed_zeros_and_subnormal_features_keep_their_bits) {
    /* Zero weights show every bit of a step. (a) Products that are all -0.0
     * with b = -0.0 and y = 0: the dot product is -0.0 only if the lanes of
     * missing features add -0.0, and the sign reaches b. (b) Subnormal
     * features with a residual near 1: r x is subnormal, so a kernel must
     * not take its (2 lr) (r x) shortcut on such a row. */
    const nr_kernels *k = avx2_or_skip();
    uint64_t s = 99;
    for (size_t d = 1; d <= 40; d++)
        for (int c = 0; c < 2; c++) {
            double row[41], w[40] = {0}, wr[40] = {0};
            for (size_t j = 0; j < d; j++)
                row[j] = c == 0  ? -(double)(j + 1)
                         : j % 2 ? (1.5 + uniform(&s) / 4) * 0x1p-1040
                                 : uniform(&s);
            row[d] = c == 0 ? 0.0 : 0.5 + uniform(&s) / 4;
            double b = c == 0 ? -0.0 : 0.25, br = b;
            nr_data data = {1, d, NR_F64, row};
            cr_assert_eq(nr_sgd_epoch_with(k, &data, 0.01, w, &b, NULL, NULL), NR_OK);
            cr_assert_eq(nr_sgd_epoch(&data, 0.01, wr, &br, NULL, NULL), NR_OK);
            for (size_t j = 0; j < d; j++)
                cr_assert(same(w[j], wr[j]), "case %d d=%zu w[%zu]: %a vs %a", c, d, j, w[j],
                          wr[j]);
            cr_assert(same(b, br), "case %d d=%zu: b %a vs %a", c, d, b, br);
        }
}

/* One case of the test below: n rows of d features, f32 or f64, raw or
 * standardized, trained on 1, 2 and 3 threads. */
static void same_loss_for_any_thread_count(size_t n, size_t d, bool f32, bool standardize) {
    double *v = malloc(n * (d + 1) * sizeof *v);
    float *g = malloc(n * (d + 1) * sizeof *g);
    fill(v, g, n, d, PLAIN, 21 + d);
    nr_data data = {n, d, f32 ? NR_F32 : NR_F64, f32 ? (void *)g : (void *)v};
    nr_model ref;
    nr_train_result rr;
    const int threads[] = {1, 2, 3};
    for (int k = 0; k < 3; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_SGD;
        o.lr = 0.001;
        o.epochs = 3;
        o.val_split = 0.1;
        o.standardize = standardize;
        o.threads = threads[k];
        nr_model m;
        nr_train_result r;
        nr_error err = {{0}};
        cr_assert_eq(nr_model_init(&m, d, NULL), NR_OK);
        cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_OK, "%s", err.msg);
        if (k == 0) {
            ref = m, rr = r;
            continue;
        }
        cr_assert(!memcmp(m.weights, ref.weights, d * sizeof(double)) && same(m.bias, ref.bias),
                  "n=%zu d=%zu %s%s, %d threads: another model", n, d, f32 ? "f32" : "f64",
                  standardize ? " standardized" : "", threads[k]);
        for (int e = 0; e < 3; e++)
            cr_assert(same(r.loss[e], rr.loss[e]), "n=%zu d=%zu %s%s, %d threads: loss %d %a vs %a",
                      n, d, f32 ? "f32" : "f64", standardize ? " standardized" : "", threads[k], e,
                      r.loss[e], rr.loss[e]);
        cr_assert(!memcmp(r.val_history, rr.val_history, 3 * sizeof(double)));
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    /* the loss is the mean squared residual at the start of each epoch:
     * epoch 1 starts from zero weights, so it is the mean of y^2 (m
     * positive terms summed in two orders: each within m * 2^-53 of the
     * exact sum, relatively; m < 90000) */
    const size_t m = rr.train_rows;
    double l0 = 0;
    for (size_t i = 0; i < m; i++) {
        const double y = f32 ? g[i * (d + 1) + d] : v[i * (d + 1) + d];
        l0 += y * y;
    }
    cr_assert(m > 65536 && fabs(rr.loss[0] - l0 / m) <= 2e-11 * (l0 / m), "m=%zu: %a vs %a", m,
              rr.loss[0], l0 / m);
    nr_model_free(&ref);
    nr_train_result_free(&rr);
    free(v);
    free(g);
}

Test(sgd_kernels, the_loss_beside_the_rule_is_the_same_for_any_thread_count) {
    /* From 65536 training rows and 2 threads, the epoch's loss pass runs on
     * a second thread beside the rule; on one thread block by block behind
     * the rule, in the same walk over the rows where the kernels have one
     * (opt_sgd.c): the loss history and the model must be the same bits
     * either way (with a validation split, whose rows the rule does not
     * walk). Widths that walk both (5, 16) and one that does not (2); f32
     * and f64; raw and standardized rows (where the rule walks a copy); a
     * last block whose rows are not a multiple of 4. */
    same_loss_for_any_thread_count(80000, 5, false, false);
    same_loss_for_any_thread_count(80007, 16, false, false);
    same_loss_for_any_thread_count(80007, 16, true, false);
    same_loss_for_any_thread_count(80003, 2, true, false);
    same_loss_for_any_thread_count(80007, 7, false, true);
}

/* The loss-only kernels of the one-thread loss pass (kernels.h,
 * loss_f32/f64 and logistic_loss_f32/f64) against the gradient kernels of
 * the same table: out[d]
 * and out[d + 1] the same bits, for every width (the loop without the
 * gradient at 2..16, the gradient kernel itself elsewhere), each remainder
 * of the 4-row groups, f32 and f64 rows, every family of values (WILD's
 * sums may be NaN: a NaN matches a NaN, its payload not compared, as the
 * compiler orders commutative operands as it likes). */
static bool same_or_both_nan(double a, double b) {
    return isnan(a) ? isnan(b) : !memcmp(&a, &b, sizeof a);
}

/* One case of the kernel-table tests below: table k, d features, n rows of
 * family f as f64 (v) and f32 (g), and a seed s for the case's own draws. */
typedef void (*table_case)(const nr_kernels *k, size_t d, size_t n, int f, const double *v,
                           const float *g, uint64_t s);

/* Every case: both tables (the scalar one alone without AVX2), widths 1..20,
 * the row counts given, every family; `salt` varies the data per test. */
static void for_each_case(const size_t *rows, size_t nrows, uint64_t salt, table_case fn) {
    const nr_kernel_choice choices[] = {NR_KERNEL_SCALAR, NR_KERNEL_AVX2};
    for (int c = 0; c < 2; c++) {
        const nr_kernels *k = nr_kernels_select(choices[c], NULL);
        if (!k) continue; /* no AVX2 on this CPU: the scalar table alone */
        for (size_t d = 1; d <= 20; d++)
            for (size_t r = 0; r < nrows; r++)
                for (int f = PLAIN; f < FAMILIES; f++) {
                    const size_t n = rows[r];
                    double *v = malloc((n ? n : 1) * (d + 1) * sizeof *v);
                    float *g = malloc((n ? n : 1) * (d + 1) * sizeof *g);
                    cr_assert(v && g);
                    fill(v, g, n, d, (enum family)f, salt * 100 * d + r);
                    fn(k, d, n, f, v, g, (salt + 6) * d + r);
                    free(v), free(g);
                }
    }
}

static void loss_only_case(const nr_kernels *k, size_t d, size_t n, int f, const double *v,
                           const float *g, uint64_t s) {
    double w[20], a[22], b[22];
    for (size_t j = 0; j < d; j++) w[j] = uniform(&s);
    /* the squared error's pair, then the logistic loss's (whose kernels
     * read y > 0 as the label 1, so any values will do) */
    const nr_grad_f32_fn full32[] = {k->grad_f32, k->logistic_f32};
    const nr_grad_f32_fn only32[] = {k->loss_f32, k->logistic_loss_f32};
    const nr_grad_f64_fn full64[] = {k->grad_f64, k->logistic_f64};
    const nr_grad_f64_fn only64[] = {k->loss_f64, k->logistic_loss_f64};
    for (int o = 0; o < 2; o++)
        for (int t = 0; t < 2; t++) {
            if (t)
                full32[o](g, n, d, w, 0.25, a), only32[o](g, n, d, w, 0.25, b);
            else
                full64[o](v, n, d, w, 0.25, a), only64[o](v, n, d, w, 0.25, b);
            for (size_t j = d; j < d + 2; j++)
                cr_assert(same_or_both_nan(a[j], b[j]),
                          "%s %s %s d=%zu n=%zu family %d: out[%zu] %a vs %a", k->name,
                          o ? "logistic" : "squared", t ? "f32" : "f64", d, n, f, j, a[j], b[j]);
        }
}

Test(sgd_kernels, the_loss_only_kernels_give_the_gradient_kernels_loss_bits) {
    const size_t rows[] = {0, 1, 3, 4, 5, 7, 9, 15, 23, 4096};
    for_each_case(rows, sizeof rows / sizeof rows[0], 1, loss_only_case);
}

/* The rule with the loss pass walked beside it (kernels.h, sgd_loss_f32/
 * f64) against the two calls it stands for, in the same table: the rule
 * (the same stopping row, w and b bits) and, when the rule ran to the end,
 * the loss kernel at the other parameters (out[d] and out[d + 1] bits).
 * The AVX2 kernel must walk 3..16 features at a finite 2 lr and decline
 * every other shape with nothing touched; what it declines, and the
 * scalar table (which has no such kernel), go through
 * nr_sgd_epoch_loss_with's rule-then-loss path, checked the same way.
 * Every width, every remainder of the 4-row groups (the walk's last
 * n mod 4 rows take the loss kernel's scalar end), every family (WILD's
 * rows reach the reference's step and the overflow stop), weights with
 * signed zeros, and a learning rate whose double overflows. */
static void walked_case(const nr_kernels *k, size_t d, size_t n, int f, const double *v,
                        const float *g, uint64_t s) {
    const double rates[] = {0.01, 0x1p1023};
    double w0[20];
    for (size_t j = 0; j < d; j++) w0[j] = j % 5 == 1 ? -0.0 : j % 5 == 3 ? 0.0 : uniform(&s);
    for (int t = 0; t < 2; t++)
        for (int q = 0; q < 2; q++) {
            const double lr = rates[q], b0 = t ? -0.375 : 0.125;
            double w[20], wr[20], b = 0.25, br = 0.25, a[22], o[22];
            for (size_t j = 0; j < d; j++) w[j] = wr[j] = w0[j] / 2;
            size_t stop = 0, want;
            bool walked;
            if (t) {
                walked = k->sgd_loss_f32 && k->sgd_loss_f32(g, n, d, lr, w, &b, w0, b0, o, &stop);
                want = k->sgd_f32(g, n, d, lr, wr, &br);
                k->loss_f32(g, n, d, w0, b0, a);
            } else {
                walked = k->sgd_loss_f64 && k->sgd_loss_f64(v, n, d, lr, w, &b, w0, b0, o, &stop);
                want = k->sgd_f64(v, n, d, lr, wr, &br);
                k->loss_f64(v, n, d, w0, b0, a);
            }
            const char *ty = t ? "f32" : "f64";
            const bool walks = k->sgd_loss_f64 && d >= 3 && d <= 16 && isfinite(2 * lr);
            cr_assert_eq(walked, walks, "%s %s d=%zu n=%zu lr %a: walked %d", k->name, ty, d, n, lr,
                         walked);
            if (walked) {
                cr_assert_eq(stop, want, "%s %s d=%zu n=%zu family %d lr %a: stop", k->name, ty, d,
                             n, f, lr);
            } else {
                for (size_t j = 0; j < d; j++)
                    cr_assert(same(w[j], w0[j] / 2), "%s %s d=%zu: declined, yet w[%zu] moved",
                              k->name, ty, d, j);
                cr_assert(same(b, 0.25), "%s %s d=%zu: declined, yet b moved", k->name, ty, d);
                nr_data data = {n, d, t ? NR_F32 : NR_F64, t ? (void *)g : (void *)v};
                const nr_status st = nr_sgd_epoch_loss_with(k, &data, lr, w, &b, w0, b0, o, NULL);
                cr_assert_eq(st == NR_OK, want == n, "%s %s d=%zu n=%zu family %d lr %a: status %d",
                             k->name, ty, d, n, f, lr, st);
            }
            for (size_t j = 0; j < d; j++)
                cr_assert(same_or_both_nan(w[j], wr[j]),
                          "%s %s d=%zu n=%zu family %d lr %a: w[%zu] %a vs %a", k->name, ty, d, n,
                          f, lr, j, w[j], wr[j]);
            cr_assert(same_or_both_nan(b, br), "%s %s d=%zu n=%zu: b %a vs %a", k->name, ty, d, n,
                      b, br);
            if (want < n) continue;
            for (size_t j = d; j < d + 2; j++)
                cr_assert(same_or_both_nan(o[j], a[j]),
                          "%s %s d=%zu n=%zu family %d lr %a: out[%zu] %a vs %a", k->name, ty, d, n,
                          f, lr, j, o[j], a[j]);
        }
}

Test(sgd_kernels, the_rule_walked_with_the_loss_pass_gives_both_their_bits) {
    const size_t rows[] = {0, 1, 3, 4, 5, 6, 7, 9, 400, 4099};
    for_each_case(rows, sizeof rows / sizeof rows[0], 3, walked_case);
}

/* ------------------------------------------- the classifiers' rules -- */

/* Labels of family f: 0/1 or -1/+1. Features: values in [-1, 1) with
 * signed zeros, and from `big` on some of size 2^10 and more, whose z
 * saturates the sigmoid (e = exp(-|m|) underflows past |m| ~ 745, so the
 * logistic residual is exactly 0 or +-1 there) and the step. */
static void fill_class(double *v, float *g, size_t n, size_t d, bool pm, bool big, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= d; j++) {
            const size_t k = i * (d + 1) + j;
            const unsigned pick = (unsigned)(next(&s) % 100);
            double x = uniform(&s);
            if (j == d)
                x = x < 0 ? (pm ? -1.0 : 0.0) : 1.0;
            else if (pick < 6)
                x = pick & 1 ? -0.0 : 0.0;
            else if (big && pick < 20)
                x *= 0x1p10 * (double)(1 + pick % 4);
            v[k] = x, g[k] = (float)x;
        }
}

Test(sgd_kernels, the_classifier_rules_have_the_scalar_bits_for_widths_1_to_40) {
    /* The logistic and perceptron rules of the AVX2 table against the
     * scalar ones (their definition), 3 epochs from weights of both signs
     * of zero (a -0.0 weight keeps its sign only where rows with r == 0 are
     * skipped, as the definition does), bit for bit after each epoch. */
    const nr_kernels *k = avx2_or_skip();
    const size_t n = 300;
    int saturated = 0;
    for (size_t d = 1; d <= 40; d++) {
        double *v = malloc(n * (d + 1) * sizeof *v);
        float *g = malloc(n * (d + 1) * sizeof *g);
        for (int c = 0; c < 4; c++) {
            const bool pm = c & 1, big = c & 2;
            fill_class(v, g, n, d, pm, big, 7000 * d + (uint64_t)c);
            for (int rule = 0; rule < 2; rule++)
                for (int t = 0; t < 2; t++) {
                    double w[40], wr[40], b = -0.0, br = -0.0;
                    for (size_t j = 0; j < d; j++) w[j] = wr[j] = j % 2 ? 0.0 : -0.0;
                    const double lr = rule ? 0.5 : 0.05;
                    for (int e = 0; e < 3; e++) {
                        if (t) {
                            (rule ? k->sgd_perceptron_f32 : k->sgd_logistic_f32)(g, n, d, lr, w,
                                                                                 &b);
                            (rule ? nr_sgd_perceptron_f32_scalar
                                  : nr_sgd_logistic_f32_scalar)(g, n, d, lr, wr, &br);
                        } else {
                            (rule ? k->sgd_perceptron_f64 : k->sgd_logistic_f64)(v, n, d, lr, w,
                                                                                 &b);
                            (rule ? nr_sgd_perceptron_f64_scalar
                                  : nr_sgd_logistic_f64_scalar)(v, n, d, lr, wr, &br);
                        }
                        for (size_t j = 0; j < d; j++)
                            cr_assert(same(w[j], wr[j]),
                                      "%s %s d=%zu case %d epoch %d: w[%zu] %a, scalar %a",
                                      rule ? "perceptron" : "logistic", t ? "f32" : "f64", d, c, e,
                                      j, w[j], wr[j]);
                        cr_assert(same(b, br), "%s %s d=%zu case %d epoch %d: b %a, scalar %a",
                                  rule ? "perceptron" : "logistic", t ? "f32" : "f64", d, c, e, b,
                                  br);
                    }
                }
            /* the big rows are worth their name: some saturate the sigmoid
             * at the weights the scalar rule ends with */
            if (big) {
                double w[40], b = 0;
                for (size_t j = 0; j < d; j++) w[j] = 0.05;
                nr_sgd_logistic_f64_scalar(v, n, d, 0.05, w, &b);
                for (size_t i = 0; i < n; i++) {
                    double z = b;
                    for (size_t j = 0; j < d; j++) z += w[j] * v[i * (d + 1) + j];
                    saturated += fabs(z) > 745;
                }
            }
        }
        free(v);
        free(g);
    }
    cr_assert(saturated > 100, "only %d rows saturate the sigmoid", saturated);
}

Test(sgd_kernels, rows_the_classifiers_get_right_move_nothing) {
    /* r == 0 (the step right, the sigmoid saturated: exp(-1000) is 0) is
     * no step at all in the definition: -0.0 weights and bias keep their
     * sign, where w - lr (0 x) would give +0.0 for x < 0. Every kernel. */
    const nr_kernels *ks[2] = {nr_kernels_select(NR_KERNEL_SCALAR, NULL),
                               nr_kernels_select(NR_KERNEL_AVX2, NULL)};
    uint64_t s = 5;
    for (int kk = 0; kk < 2 && ks[kk]; kk++)
        for (size_t d = 1; d <= 40; d++) {
            double v[20 * 41];
            float g[20 * 41];
            for (size_t i = 0; i < 20; i++)
                for (size_t j = 0; j <= d; j++) {
                    const double x = j < d ? uniform(&s) / (double)d : 0.0; /* label 0 */
                    v[i * (d + 1) + j] = x, g[i * (d + 1) + j] = (float)x;
                }
            for (int rule = 0; rule < 2; rule++)
                for (int t = 0; t < 2; t++) {
                    double w[40], b = rule ? -1.0 : -1000.0;
                    for (size_t j = 0; j < d; j++) w[j] = -0.0;
                    const nr_kernels *k = ks[kk];
                    if (t)
                        (rule ? k->sgd_perceptron_f32 : k->sgd_logistic_f32)(g, 20, d, 0.1, w, &b);
                    else
                        (rule ? k->sgd_perceptron_f64 : k->sgd_logistic_f64)(v, 20, d, 0.1, w, &b);
                    for (size_t j = 0; j < d; j++)
                        cr_assert(same(w[j], -0.0), "%s %s %s d=%zu: w[%zu] %a", k->name,
                                  rule ? "perceptron" : "logistic", t ? "f32" : "f64", d, j, w[j]);
                    cr_assert(same(b, rule ? -1.0 : -1000.0), "%s d=%zu: b %a", k->name, d, b);
                }
        }
}

/* n rows of d features and a label 1, f64 (t = 0) or f32, placed to end at
 * `end`: their start. */
static char *rows_ending_at(char *end, size_t n, size_t d, int t, uint64_t *s) {
    const size_t sz = t ? sizeof(float) : sizeof(double);
    char *at = end - n * (d + 1) * sz;
    for (size_t i = 0; i < n * (d + 1); i++) {
        const double x = (i + 1) % (d + 1) ? uniform(s) : 1.0;
        if (t)
            ((float *)at)[i] = (float)x;
        else
            ((double *)at)[i] = x;
    }
    return at;
}

Test(sgd_kernels, rows_that_end_at_an_unmapped_page_are_read_within_them) {
    /* The last group of a row is a masked load: rows placed so that the
     * block's last value is the last one before a page the process cannot
     * read, for every width the vector loops take and both types, through
     * the squared rule and both classifiers' rules, then the batch logistic
     * kernels. A load of the whole last group, or of a row past the block,
     * would fault (or show in the sanitizer's build). Three readable pages
     * hold the longest block below, 25 rows of 21 doubles. */
    const nr_kernels *k = avx2_or_skip();
    const long page = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, 4 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(map != MAP_FAILED);
    cr_assert_eq(mprotect(map + 3 * page, (size_t)page, PROT_NONE), 0);
    char *const end = map + 3 * page;
    uint64_t s = 11;
    for (size_t d = 1; d <= 20; d++)
        for (int t = 0; t < 2; t++) {
            const size_t n = 3;
            const char *at = rows_ending_at(end, n, d, t, &s);
            double w[20] = {0}, b = 0;
            if (t) {
                k->sgd_f32((const float *)at, n, d, 0.01, w, &b);
                k->sgd_logistic_f32((const float *)at, n, d, 0.01, w, &b);
                k->sgd_perceptron_f32((const float *)at, n, d, 0.01, w, &b);
            } else {
                k->sgd_f64((const double *)at, n, d, 0.01, w, &b);
                k->sgd_logistic_f64((const double *)at, n, d, 0.01, w, &b);
                k->sgd_perceptron_f64((const double *)at, n, d, 0.01, w, &b);
            }
            cr_assert(isfinite(b), "d=%zu t=%d", d, t);
        }
    /* The batch logistic kernels, full and loss-only: their loops load the
     * next 8 rows ahead of the current ones (kernels_avx2.c), so every row
     * count up to two groups and a tail */
    for (size_t d = 1; d <= 20; d++)
        for (size_t n = 0; n <= 25; n++)
            for (int t = 0; t < 2; t++) {
                const char *at = rows_ending_at(end, n, d, t, &s);
                double w[20], o[2][22];
                for (size_t j = 0; j < d; j++) w[j] = uniform(&s);
                if (t) {
                    k->logistic_f32((const float *)at, n, d, w, 0.5, o[0]);
                    k->logistic_loss_f32((const float *)at, n, d, w, 0.5, o[1]);
                } else {
                    k->logistic_f64((const double *)at, n, d, w, 0.5, o[0]);
                    k->logistic_loss_f64((const double *)at, n, d, w, 0.5, o[1]);
                }
                cr_assert(isfinite(o[0][d + 1]) && same(o[0][d + 1], o[1][d + 1]),
                          "d=%zu n=%zu t=%d: %a %a", d, n, t, o[0][d + 1], o[1][d + 1]);
            }
    munmap(map, 4 * (size_t)page);
}

/* The same for the classifiers, f32 and f64 rows: one thread's pass behind
 * the rule takes each objective's own kernel (the logistic loss's
 * loss-only one, kernels.h logistic_loss_f32/f64; the perceptron's full
 * one), the second thread's pass the objective's full kernel: the same
 * loss bits. Widths 1 (the one-feature loops), 6 and 16 (the 8-row f32 and
 * 4-row f64 loops, 16 without a masked load) and 20 (the generic loop). */
Test(sgd_kernels, the_classifiers_loss_beside_the_rule_is_the_same_for_any_thread_count,
     .timeout = 120) {
    const size_t n = 80000, ds[] = {1, 6, 16, 20};
    for (size_t c = 0; c < sizeof ds / sizeof ds[0]; c++) {
        const size_t d = ds[c];
        double *v = malloc(n * (d + 1) * sizeof *v);
        float *g = malloc(n * (d + 1) * sizeof *g);
        cr_assert(v && g);
        fill_class(v, g, n, d, false, false, 33 + d);
        const nr_activation acts[] = {NR_ACT_SIGMOID, NR_ACT_STEP};
        for (int a = 0; a < 2; a++)
            for (int dt = 0; dt < 2; dt++) {
                nr_data data = {n, d, dt ? NR_F32 : NR_F64, dt ? (void *)g : (void *)v};
                double loss[2][3];
                for (int t = 0; t < 2; t++) {
                    nr_train_opts o;
                    nr_train_defaults(&o);
                    o.algo = NR_ALGO_SGD, o.activation = acts[a];
                    o.lr = 0.01, o.epochs = 3, o.val_split = 0.1, o.threads = t + 1;
                    nr_model m;
                    nr_train_result r;
                    nr_error err = {{0}};
                    cr_assert_eq(nr_model_init(&m, d, NULL), NR_OK);
                    cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_OK, "%s", err.msg);
                    memcpy(loss[t], r.loss, sizeof loss[t]);
                    nr_model_free(&m);
                    nr_train_result_free(&r);
                }
                cr_assert(!memcmp(loss[0], loss[1], sizeof loss[0]),
                          "d=%zu activation %d, %s: 1 thread %a %a %a, 2 threads %a %a %a", d, a,
                          dt ? "f32" : "f64", loss[0][0], loss[0][1], loss[0][2], loss[1][0],
                          loss[1][1], loss[1][2]);
            }
        free(v);
        free(g);
    }
}
