/* The closed form, --algo ols, at the edges: features of very different
 * scales, constant and collinear features, values whose squares overflow,
 * --standardize, and the first Ctrl-C during its pass over the data.
 *
 * The reference is computed here, in long double (64-bit mantissa on x86):
 * the centred normal equations from two-pass sums, solved by Gaussian
 * elimination with partial pivoting on the correlation-scaled matrix. With
 * uncorrelated features it is accurate to ~1e-18 relative, so the 1e-8 asked
 * of the library (numpy's lstsq agrees with it to 1e-15 on these data)
 * leaves the library's own rounding (~1e-15 on a well-conditioned system) a
 * wide margin, and a solver that decides or solves on the wrong scale fails
 * by orders of magnitude. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "neuron.h"
#include "util.h"

/* SplitMix64 and Box-Muller: a normal stream of our own, so the data do not
 * depend on the library under test. */
static uint64_t sm(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double normal(uint64_t *s) {
    const double u = ((double)(sm(s) >> 11) + 0.5) / 9007199254740992.0;
    const double v = (double)(sm(s) >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* n rows of d features x_j = mean_j + std_j N(0,1), y = w.x + b + noise N(0,1)*noise. */
static double *make_rows(size_t n, size_t d, const double *mean, const double *sd, const double *w,
                         double b, double noise, uint64_t seed) {
    double *v = malloc(n * (d + 1) * sizeof *v);
    cr_assert(v);
    for (size_t i = 0; i < n; i++) {
        double *r = v + i * (d + 1), y = b;
        for (size_t j = 0; j < d; j++) {
            r[j] = mean[j] + sd[j] * normal(&seed);
            y += w[j] * r[j];
        }
        r[d] = y + noise * normal(&seed);
    }
    return v;
}

/* Least squares in long double: centred sums (two passes), then the
 * correlation-scaled normal equations by Gaussian elimination with partial
 * pivoting. d <= 8. */
static void lstsq_ld(const double *v, size_t n, size_t d, long double *w, long double *b) {
    long double m[9] = {0}, A[8][9] = {{0}}, s[8];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j <= d; j++) m[j] += v[i * (d + 1) + j];
    for (size_t j = 0; j <= d; j++) m[j] /= (long double)n;
    for (size_t i = 0; i < n; i++) {
        long double c[9];
        for (size_t j = 0; j <= d; j++) c[j] = (long double)v[i * (d + 1) + j] - m[j];
        for (size_t a = 0; a < d; a++)
            for (size_t k = 0; k <= d; k++) A[a][k] += c[a] * c[k];
    }
    for (size_t a = 0; a < d; a++) s[a] = 1.0L / sqrtl(A[a][a]);
    for (size_t a = 0; a < d; a++)
        for (size_t k = 0; k <= d; k++) A[a][k] *= s[a] * (k < d ? s[k] : 1.0L);
    for (size_t c = 0; c < d; c++) {
        size_t p = c;
        for (size_t r = c + 1; r < d; r++)
            if (fabsl(A[r][c]) > fabsl(A[p][c])) p = r;
        for (size_t k = 0; k <= d; k++) {
            long double t = A[c][k];
            A[c][k] = A[p][k], A[p][k] = t;
        }
        for (size_t r = c + 1; r < d; r++) {
            const long double f = A[r][c] / A[c][c];
            for (size_t k = c; k <= d; k++) A[r][k] -= f * A[c][k];
        }
    }
    for (size_t a = d; a-- > 0;) {
        long double t = A[a][d];
        for (size_t k = a + 1; k < d; k++) t -= A[a][k] * w[k];
        w[a] = t / A[a][a];
    }
    *b = m[d];
    for (size_t a = 0; a < d; a++) {
        w[a] *= s[a];
        *b -= w[a] * m[a];
    }
}

static nr_status ols(const double *v, size_t n, size_t d, bool standardize, nr_model *m,
                     nr_train_result *r, nr_error *err) {
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.algo = NR_ALGO_OLS;
    o.standardize = standardize;
    cr_assert_eq(nr_model_init(m, d, NULL), NR_OK);
    return nr_train(&dd, &o, m, r, err);
}

Test(ols, two_scales_are_solved_to_1e8_of_a_long_double_lstsq) {
    /* the case: uncorrelated features with stds 1e-4 and 1e3, which a
     * pivot threshold relative to the largest variance calls collinear */
    const size_t n = 20000, d = 2;
    const double mean[] = {0, 0}, sd[] = {1e-4, 1e3}, w[] = {3e4, 2e-3};
    double *v = make_rows(n, d, mean, sd, w, 1.0, 0.5, 7);
    long double rw[2], rb;
    lstsq_ld(v, n, d, rw, &rb);
    for (int standardize = 0; standardize < 2; standardize++) {
        nr_model m;
        nr_train_result r;
        nr_error err = {{0}};
        cr_assert_eq(ols(v, n, d, standardize, &m, &r, &err), NR_OK, "standardize %d: %s",
                     standardize, err.msg);
        for (size_t j = 0; j < d; j++) {
            const double e =
                (double)fabsl((long double)m.weights[j] - rw[j]) / (double)fabsl(rw[j]);
            cr_assert_leq(e, 1e-8, "standardize %d: w[%zu] = %.17g, reference %.17Lg (%.2g)",
                          standardize, j, m.weights[j], rw[j], e);
        }
        cr_assert_leq((double)fabsl((long double)m.bias - rb), 1e-8 * (double)fabsl(rb) + 1e-12,
                      "bias %.17g, reference %.17Lg", m.bias, rb);
        cr_assert_eq(m.standardized, (bool)standardize, "the model records --standardize");
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    free(v);
}

Test(ols, features_far_from_zero_and_with_tiny_spread_are_solved) {
    /* [1e6, 1e6+1]-like offsets, a spread of 1e-7 around 0, and a unit one:
     * every decision must be relative to each feature's own scale */
    const size_t n = 30000, d = 3;
    const double mean[] = {1e6, 0, 5}, sd[] = {0.3, 1e-7, 1}, w[] = {2, 1e6, -1};
    double *v = make_rows(n, d, mean, sd, w, -3.0, 0.1, 11);
    long double rw[3], rb;
    lstsq_ld(v, n, d, rw, &rb);
    nr_model m;
    nr_train_result r;
    nr_error err = {{0}};
    cr_assert_eq(ols(v, n, d, false, &m, &r, &err), NR_OK, "%s", err.msg);
    for (size_t j = 0; j < d; j++) {
        const double e = (double)fabsl((long double)m.weights[j] - rw[j]) / (double)fabsl(rw[j]);
        /* 1e-8: the offset of 1e6 costs the centring nothing (block means) */
        cr_assert_leq(e, 1e-8, "w[%zu] = %.17g, reference %.17Lg", j, m.weights[j], rw[j]);
    }
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

/* The model's mean and std are those of the training rows (population std),
 * checked against long double sums: a scaled or shifted record fails. */
Test(ols, standardize_records_the_features_mean_and_std) {
    const size_t n = 10000, d = 2;
    const double mean[] = {3, -40}, sd[] = {2, 0.01}, w[] = {1, 1};
    double *v = make_rows(n, d, mean, sd, w, 0, 0.1, 5);
    nr_model m;
    nr_train_result r;
    nr_error err = {{0}};
    cr_assert_eq(ols(v, n, d, true, &m, &r, &err), NR_OK, "%s", err.msg);
    cr_assert(m.standardized && m.mean && m.std);
    for (size_t j = 0; j < d; j++) {
        long double s = 0, q = 0;
        for (size_t i = 0; i < n; i++) s += v[i * (d + 1) + j];
        s /= n;
        for (size_t i = 0; i < n; i++) q += (v[i * (d + 1) + j] - s) * (v[i * (d + 1) + j] - s);
        const double sdj = (double)sqrtl(q / n);
        /* 1e-12: two blocked double passes against long double ones */
        cr_assert_leq(fabs(m.mean[j] - (double)s), 1e-12 * fabs((double)s), "mean[%zu]", j);
        cr_assert_leq(fabs(m.std[j] - sdj), 1e-12 * sdj, "std[%zu] = %.17g, want %.17g", j,
                      m.std[j], sdj);
    }
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

Test(ols, constant_and_collinear_features_are_refused_at_any_scale) {
    const size_t n = 5000, d = 3;
    const double mean[] = {0, 0, 0}, sd[] = {1, 1, 1}, w[] = {1, 2, 3};
    struct {
        const char *what, *expect;
        double scale;
        int kind; /* 0 constant, 1 collinear */
    } cases[] = {
        {"constant 7", "feature 2 is constant", 7.0, 0},
        {"constant 1e6 + 0.1", "feature 2 is constant", 1e6 + 0.1, 0},
        {"constant 0", "feature 2 is constant", 0.0, 0},
        {"collinear, unit scale", "feature 3 is a linear combination of features 1-2", 1, 1},
        {"collinear, scale 1e-6", "feature 3 is a linear combination of features 1-2", 1e-6, 1},
        {"collinear, scale 1e9", "feature 3 is a linear combination of features 1-2", 1e9, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int standardize = 0; standardize < 2; standardize++) {
            double *v = make_rows(n, d, mean, sd, w, 0, 0.1, 3 + c);
            for (size_t i = 0; i < n; i++) {
                double *r = v + i * (d + 1);
                if (cases[c].kind == 0)
                    r[1] = cases[c].scale;
                else
                    r[0] *= cases[c].scale, r[2] = 2 * r[0] - 3 * r[1];
            }
            nr_model m;
            nr_train_result r;
            nr_error err = {{0}};
            cr_assert_eq(ols(v, n, d, standardize, &m, &r, &err), NR_ERR_INPUT,
                         "%s (standardize %d): %s", cases[c].what, standardize, err.msg);
            cr_assert(strstr(err.msg, "no unique solution") && strstr(err.msg, cases[c].expect),
                      "%s: %s", cases[c].what, err.msg);
            nr_model_free(&m);
            free(v);
        }
}

Test(ols, overflowing_squares_are_told_apart_from_collinearity) {
    const size_t n = 2000, d = 2;
    const double mean[] = {0, 0}, sd[] = {1, 1}, w[] = {1, 1};
    for (int col = 0; col <= 2; col++) { /* feature 1, feature 2, target */
        double *v = make_rows(n, d, mean, sd, w, 0, 0.1, 9);
        for (size_t i = 0; i < n; i++) v[i * (d + 1) + col] *= 1e200;
        nr_model m;
        nr_train_result r;
        nr_error err = {{0}};
        cr_assert_eq(ols(v, n, d, false, &m, &r, &err), NR_ERR_DIVERGED, "column %d: %s", col,
                     err.msg);
        cr_assert(strstr(err.msg, "overflow"), "column %d: %s", col, err.msg);
        if (col < 2) {
            char want[32];
            snprintf(want, sizeof want, "feature %d", col + 1);
            cr_assert(strstr(err.msg, want), "names the feature: %s", err.msg);
        } else {
            cr_assert(strstr(err.msg, "target"), "names the target: %s", err.msg);
        }
        cr_assert_null(strstr(err.msg, "collinear"));
        nr_model_free(&m);
        free(v);
    }
}

/* batch --exact reads the same statistics: an overflow there is the same
 * numerical failure with the same message, not a loss of inf at epoch 1 */
Test(ols, exact_epochs_refuse_overflowing_statistics_too) {
    const size_t n = 2000, d = 1;
    const double mean[] = {0}, sd[] = {1}, w[] = {1};
    double *v = make_rows(n, d, mean, sd, w, 0, 0.1, 4);
    for (size_t i = 0; i < n; i++) v[i * 2] *= 1e250;
    nr_data dd = {n, d, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.exact = true;
    nr_model m;
    nr_model_init(&m, d, NULL);
    nr_train_result r;
    nr_error err = {{0}};
    cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_DIVERGED, "%s", err.msg);
    cr_assert(strstr(err.msg, "feature 1 overflowed"), "%s", err.msg);
    nr_model_free(&m);
    free(v);
}

/* ------------------------------------------------------- interruption -- */

typedef struct {
    int polls, stop_at;
} poll_ctx;

static int poll_stop(void *ctx) {
    poll_ctx *p = ctx;
    return ++p->polls >= p->stop_at;
}

Test(ols, the_pass_polls_should_stop_and_abandons_the_run) {
    const size_t n = 50000, d = 2; /* 13 blocks of 4096 rows */
    const double mean[] = {0, 0}, sd[] = {1, 1}, w[] = {1, 1};
    double *v = make_rows(n, d, mean, sd, w, 0, 0.1, 1);
    nr_data dd = {n, d, NR_F64, v};
    for (int algo = 0; algo < 2; algo++) { /* ols, then the statistics of batch --exact */
        poll_ctx pc = {0, 3};
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = algo == 0 ? NR_ALGO_OLS : NR_ALGO_BATCH;
        o.exact = algo == 1;
        o.should_stop = poll_stop;
        o.should_stop_ctx = &pc;
        nr_model m;
        nr_model_init(&m, d, NULL);
        nr_train_result r;
        nr_error err = {{0}};
        cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_INTERRUPTED, "algo %d: %s", algo,
                     err.msg);
        cr_assert(strstr(err.msg, "interrupted"), "%s", err.msg);
        cr_assert_eq(pc.polls, 3, "stopped at the first yes (polled %d times)", pc.polls);
        cr_assert(m.weights[0] == 0 && m.weights[1] == 0 && m.bias == 0, "model untouched");
        nr_model_free(&m);
        /* never stopping: every block polled, the run completes */
        pc = (poll_ctx){0, 1 << 30};
        nr_model_init(&m, d, NULL);
        o.threads = 1;
        cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_OK, "%s", err.msg);
        cr_assert_geq(pc.polls, 13, "algo %d polled %d times for 13 blocks", algo, pc.polls);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    /* sgd --exact, one thread: the 13 blocks of statistics poll first, then
     * the blocks of the epoch map; a stop asked for at the 15th poll lands in
     * the map's construction */
    poll_ctx pc = {0, 15};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.algo = NR_ALGO_SGD;
    o.exact = true;
    o.lr = 1e-3;
    o.threads = 1;
    o.should_stop = poll_stop;
    o.should_stop_ctx = &pc;
    nr_model m;
    nr_model_init(&m, d, NULL);
    nr_train_result r;
    nr_error err = {{0}};
    cr_assert_eq(nr_train(&dd, &o, &m, &r, &err), NR_ERR_INTERRUPTED, "%s", err.msg);
    cr_assert(strstr(err.msg, "epoch map"), "%s", err.msg);
    cr_assert_eq(pc.polls, 15);
    nr_model_free(&m);
    free(v);
}

/* ---------------------------------------------------------------- CLI -- */

static void sleep_s(double s) {
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&t, NULL);
}

Test(ols_cli, overflow_exits_4_and_standardize_is_recorded) {
    char *dir = scratch_dir();
    char data[4096], model[4096];
    snprintf(data, sizeof data, "%s/d.npy", dir);
    snprintf(model, sizeof model, "%s/m.json", dir);
    const size_t n = 1000, d = 1;
    const double mean[] = {0}, sd[] = {1}, w[] = {2};
    double *v = make_rows(n, d, mean, sd, w, 1, 0.1, 2);
    for (size_t i = 0; i < n; i++) v[i * 2] *= 1e300;
    nr_data dd = {n, d, NR_F64, v};
    cr_assert_eq(nr_data_save(&dd, data, NULL), NR_OK);
    run_result r;
    const char *t[] = {"train", "--data", data, "--algo", "ols", "--model", model, NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 4, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "neuron: error: ") && strstr(r.err, "overflow"), "%s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "one line: %s", r.err);
    struct stat st;
    cr_assert_neq(stat(model, &st), 0, "no model written");
    run_free(&r);
    for (size_t i = 0; i < n; i++) v[i * 2] *= 1e-300;
    cr_assert_eq(nr_data_save(&dd, data, NULL), NR_OK);
    const char *t2[] = {"train",         "--data",  data,  "--algo", "ols",
                        "--standardize", "--model", model, NULL};
    run_neuron(&r, t2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    nr_model m;
    nr_error err;
    cr_assert_eq(nr_model_load(model, &m, &err), NR_OK, "%s", err.msg);
    cr_assert(m.standardized && m.std && m.std[0] > 0.9 && m.std[0] < 1.1,
              "the model records the standardization");
    nr_model_free(&m);
    free(v);
    unlink(model);
    unlink(data);
    rmdir(dir);
    free(dir);
}

/* A long ols (60000 rows x 1024 features, f32: 3e10 multiply-adds, over 5 s
 * on one thread) gets a SIGINT once it has mapped its data and checked it:
 * it stops within the block it is in, exits 130 with one error line, and
 * writes nothing. */
Test(ols_cli, first_ctrl_c_stops_a_long_ols, .timeout = 300) {
    char *dir = scratch_dir(), *logdir = scratch_dir();
    char data[4096], model[4096], out[4096], errp[4096];
    snprintf(data, sizeof data, "%s/wide.npy", dir);
    snprintf(model, sizeof model, "%s/m.json", dir);
    snprintf(out, sizeof out, "%s/out", logdir);
    snprintf(errp, sizeof errp, "%s/err", logdir);
    run_result r;
    const char *g[] = {"gen", "--rows", "60000", "--features", "1024", "--out", data, NULL};
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *t[] = {"train",   "--data", data,        "--algo", "ols",
                       "--model", model,    "--threads", "1",      NULL};
    /* the CLI catches SIGINT from its start (it dies of it silently, temporary
     * files removed), so a caught signal does not say that ols runs: wait
     * until the data are mapped, then for their check (a pass of its own) to
     * end; a signal that still came during the check is retried later */
    int status = 0;
    char *e = NULL;
    for (double wait = 0.5; wait < 10; wait *= 2) {
        int pid = start_neuron(t, out, errp);
        char maps[64];
        snprintf(maps, sizeof maps, "/proc/%d/maps", pid);
        bool mapped = false;
        for (double s = 0; s < 60 && !mapped; s += 0.02) {
            char *text = read_file(maps, NULL);
            mapped = text && strstr(text, "wide.npy");
            free(text);
            if (!mapped) sleep_s(0.02);
        }
        cr_assert(mapped, "neuron train never mapped its data");
        sleep_s(wait);
        cr_assert_eq(kill(pid, SIGINT), 0);
        status = wait_neuron(pid, 60);
        free(e);
        e = read_file(errp, NULL);
        if (!(status == 130 && e && !*e)) break;
    }
    cr_assert_eq(status, 130, "exit %d; stderr: %s", status, e);
    cr_assert(e && strstr(e, "neuron: error: ") && strstr(e, "interrupted"), "stderr: %s", e);
    struct stat st;
    cr_assert_neq(stat(model, &st), 0, "no model written");
    free(e);
    unlink(data);
    unlink(out);
    unlink(errp);
    rmdir(dir);
    rmdir(logdir);
    free(dir);
    free(logdir);
}
