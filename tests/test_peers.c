/* The peers' training options: penalties, Huber, schedules, momentum, averaging and
 * backoff, against references written out here (long double, the
 * documented rules) and against scikit-learn on the same rows when
 * /usr/bin/python3 has it (those tests skip otherwise). Conventions: our
 * loss is the mean of r^2 plus l1|w|_1 + (l2/2)|w|^2; scikit-learn's
 * linear models use half of the mean squared error, so their alpha and
 * learning rate map as stated in each test. */
#include <jansson.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neuron.h"
#include "util.h"

#define PY "/usr/bin/python3"

static double *gen_w(size_t rows, size_t d, const double *w, nr_dist dist, uint64_t seed,
                     double noise) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = rows, o.features = d, o.weights = w, o.dist = dist, o.seed = seed, o.noise = noise;
    o.dtype = NR_F64;
    double *v = malloc(rows * (d + 1) * sizeof *v);
    cr_assert_eq(nr_gen_fill(&o, v, NULL), NR_OK);
    return v;
}

static bool have_sklearn(void) {
    if (access(PY, X_OK) != 0) return false;
    run_result r;
    const char *argv[] = {PY, "-c", "import sklearn, numpy", NULL};
    run_program(&r, argv);
    bool ok = r.status == 0;
    run_free(&r);
    return ok;
}

/* Save `d` as .npy in a scratch folder, run the Python `code` with the
 * path as argv[1], and parse the JSON it prints. */
static json_t *python_json(const nr_data *d, const char *code) {
    char *dir = scratch_dir(), path[4096];
    snprintf(path, sizeof path, "%s/data.npy", dir);
    cr_assert_eq(nr_data_save(d, path, NULL), NR_OK);
    run_result r;
    const char *argv[] = {PY, "-c", code, path, NULL};
    run_program(&r, argv);
    cr_assert_eq(r.status, 0, "python failed: %s", r.err);
    json_t *j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j, "python printed no JSON: %s", r.out);
    run_free(&r);
    unlink(path);
    rmdir(dir);
    free(dir);
    return j;
}

static double json_at(const json_t *j, const char *key, int k) {
    const json_t *a = json_object_get(j, key);
    if (k < 0) return json_number_value(a);
    return json_number_value(json_array_get(a, k));
}

/* ------------------------------------------------------------- ridge -- */

/* Ridge by the normal equations in long double: with the means m and the
 * centered sums C, cxy, (C + (l2 n / 2) S^2) w = cxy and b = ybar - w.m,
 * S the population std (standardized) or 1. */
static void ridge_ld(const double *v, size_t n, size_t d, double l2, bool standardize, double *w,
                     double *b) {
    long double m[8] = {0}, A[8][9] = {{0}}, ybar = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) m[j] += v[i * (d + 1) + j];
        ybar += v[i * (d + 1) + d];
    }
    for (size_t j = 0; j < d; j++) m[j] /= n;
    ybar /= n;
    for (size_t i = 0; i < n; i++) {
        const double *r = v + i * (d + 1);
        for (size_t a = 0; a < d; a++) {
            for (size_t c = 0; c < d; c++) A[a][c] += (r[a] - m[a]) * (r[c] - m[c]);
            A[a][d] += (r[a] - m[a]) * (r[d] - ybar);
        }
    }
    for (size_t j = 0; j < d; j++) A[j][j] += 0.5L * l2 * n * (standardize ? A[j][j] / n : 1.0L);
    for (size_t p = 0; p < d; p++) /* Gauss-Jordan: A is positive definite */
        for (size_t i = 0; i < d; i++) {
            if (i == p) continue;
            long double f = A[i][p] / A[p][p];
            for (size_t c = p; c <= d; c++) A[i][c] -= f * A[p][c];
        }
    long double bb = ybar;
    for (size_t j = 0; j < d; j++) {
        w[j] = (double)(A[j][d] / A[j][j]);
        bb -= (A[j][d] / A[j][j]) * m[j];
    }
    *b = (double)bb;
}

/* 1e-8 relative to max(1, |value|): the closed form's Cholesky in double
 * on a well-conditioned 4x4 system loses far less. */
#define CLOSE(a, b, tol) (fabs((a) - (b)) <= (tol)*fmax(1.0, fabs(b)))

Test(peers, ridge_in_closed_form_matches_long_double_normal_equations) {
    const size_t n = 3001, d = 4;
    double *v = gen_w(n, d, NULL, NR_DIST_NORMAL, 7, 0.5);
    nr_data data = {n, d, NR_F64, v};
    for (int st = 0; st < 2; st++) {
        double w[4], b;
        ridge_ld(v, n, d, 0.3, st, w, &b);
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_OLS, o.l2 = 0.3, o.standardize = st;
        nr_model m;
        nr_train_result r;
        train_ok(&data, &o, &m, &r);
        for (size_t j = 0; j < d; j++)
            cr_assert(CLOSE(m.weights[j], w[j], 1e-8), "standardize %d w%zu %.17g vs %.17g", st, j,
                      m.weights[j], w[j]);
        cr_assert(CLOSE(m.bias, b, 1e-8));
        /* the penalty shrinks: ridge is not least squares */
        cr_assert(fabs(w[3]) < 4.0 - 0.01, "w4 %g", w[3]);
        nr_model_free(&m);
        nr_train_result_free(&r);
        /* the quadratic's other two solvers reach the same optimum */
        for (int k = 0; k < 2; k++) {
            nr_train_defaults(&o);
            o.algo = k ? NR_ALGO_NEWTON : NR_ALGO_BATCH;
            o.exact = !k, o.epochs = k ? 20 : 2000, o.lr = 0.5;
            o.l2 = 0.3, o.standardize = st;
            train_ok(&data, &o, &m, &r);
            for (size_t j = 0; j < d; j++)
                cr_assert(CLOSE(m.weights[j], w[j], 1e-8), "%s st %d w%zu %.17g vs %.17g",
                          k ? "newton" : "exact", st, j, m.weights[j], w[j]);
            nr_model_free(&m);
            nr_train_result_free(&r);
        }
    }
    free(v);
}

Test(peers, ridge_matches_scikit_learn_ridge) {
    if (!have_sklearn()) cr_skip_test("python3-sklearn not installed");
    const size_t n = 2000, d = 3;
    double *v = gen_w(n, d, NULL, NR_DIST_UNIFORM, 21, 0.4);
    nr_data data = {n, d, NR_F64, v};
    /* sklearn's Ridge minimises |y - Xw|^2 + alpha |w|^2 (sums): alpha = n l2 / 2 */
    json_t *j = python_json(
        &data, "import sys, json, numpy as np\n"
               "from sklearn.linear_model import Ridge\n"
               "a = np.load(sys.argv[1])\n"
               "m = Ridge(alpha=2000 * 0.2 / 2, solver='cholesky').fit(a[:, :-1], "
               "a[:, -1])\n"
               "print(json.dumps({'w': m.coef_.tolist(), 'b': float(m.intercept_)}))\n");
    nr_train_opts o;
    nr_train_defaults(&o);
    o.algo = NR_ALGO_OLS, o.l2 = 0.2;
    nr_model m;
    nr_train_result r;
    train_ok(&data, &o, &m, &r);
    for (size_t k = 0; k < d; k++)
        cr_assert(CLOSE(m.weights[k], json_at(j, "w", (int)k), 1e-8), "w%zu %.17g vs %.17g", k,
                  m.weights[k], json_at(j, "w", (int)k));
    cr_assert(CLOSE(m.bias, json_at(j, "b", -1), 1e-8));
    json_decref(j);
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

/* ------------------------------------------------- lasso, elastic net -- */

/* Optimality of the penalised mean squared error at (w, b), from a pass of
 * the scalar kernel: the gradient of the data term g_j = (2/n) sum r x_j
 * satisfies g_j + l2 w_j + l1 sign(w_j) = 0 where w_j != 0 and
 * |g_j| <= l1 where w_j = 0; and sum r = 0 for the unpenalised bias. */
static void assert_kkt(const nr_data *d, const double *w, double b, double l1, double l2,
                       double tol) {
    double loss, g[8];
    cr_assert_eq(nr_loss_grad(d, w, b, NR_KERNEL_SCALAR, 1, &loss, g, NULL), NR_OK);
    const double n = (double)d->rows;
    for (size_t j = 0; j < d->features; j++) {
        const double gj = 2 * g[j] / n;
        if (w[j] != 0)
            cr_assert(fabs(gj + l2 * w[j] + l1 * (w[j] > 0 ? 1 : -1)) <= tol,
                      "KKT w%zu (l1 %g l2 %g, w %g, g %g): %g", j, l1, l2, w[j], gj,
                      gj + l2 * w[j] + l1 * (w[j] > 0 ? 1 : -1));
        else
            cr_assert(fabs(gj) <= l1 + tol, "KKT zero w%zu: |g| %g > l1 %g", j, fabs(gj), l1);
    }
    cr_assert(fabs(2 * g[d->features] / n) <= tol, "bias gradient %g", 2 * g[d->features] / n);
}

Test(peers, lasso_and_elastic_net_by_batch_are_optimal_with_exact_zeros) {
    const size_t n = 5000, d = 5;
    const double tw[] = {1.5, 0.0, -2.0, 0.02, 0.0};
    double *v = gen_w(n, d, tw, NR_DIST_UNIFORM, 5, 0.3);
    nr_data data = {n, d, NR_F64, v};
    const double l1s[] = {0.1, 0.1}, l2s[] = {0.0, 0.2};
    for (int k = 0; k < 2; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_BATCH, o.lr = 0.4, o.epochs = 3000, o.l1 = l1s[k], o.l2 = l2s[k];
        nr_model m;
        nr_train_result r;
        train_ok(&data, &o, &m, &r);
        /* weights the penalty outweighs are exactly zero, not small */
        cr_assert(m.weights[1] == 0.0 && m.weights[3] == 0.0 && m.weights[4] == 0.0,
                  "zeros: %g %g %g", m.weights[1], m.weights[3], m.weights[4]);
        cr_assert(m.weights[0] > 1.0 && m.weights[2] < -1.0);
        assert_kkt(&data, m.weights, m.bias, l1s[k], l2s[k], 1e-9);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    free(v);
}

Test(peers, lasso_and_elastic_net_match_scikit_learn) {
    if (!have_sklearn()) cr_skip_test("python3-sklearn not installed");
    const size_t n = 4000, d = 5;
    const double tw[] = {1.5, 0.0, -2.0, 0.02, 0.3};
    double *v = gen_w(n, d, tw, NR_DIST_NORMAL, 9, 0.5);
    nr_data data = {n, d, NR_F64, v};
    /* sklearn: (1/2n)|y - Xw|^2 + alpha rho |w|_1 + alpha (1 - rho)/2 |w|^2, half of
     * ours: alpha rho = l1 / 2, alpha (1 - rho) = l2 / 2 */
    json_t *j =
        python_json(&data, "import sys, json, numpy as np\n"
                           "from sklearn.linear_model import Lasso, ElasticNet\n"
                           "a = np.load(sys.argv[1]); X, y = a[:, :-1], a[:, -1]\n"
                           "l = Lasso(alpha=0.05, tol=1e-12, max_iter=1000000).fit(X, y)\n"
                           "e = ElasticNet(alpha=0.15, l1_ratio=1/3, tol=1e-12, "
                           "max_iter=1000000).fit(X, y)\n"
                           "print(json.dumps({'lw': l.coef_.tolist(), 'lb': float(l.intercept_),"
                           " 'ew': e.coef_.tolist(), 'eb': float(e.intercept_)}))\n");
    const double l1s[] = {0.1, 0.1}, l2s[] = {0.0, 0.2};
    const char *wk[] = {"lw", "ew"}, *bk[] = {"lb", "eb"};
    int zeros = 0;
    for (int k = 0; k < 2; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_BATCH, o.lr = 0.4, o.epochs = 3000, o.l1 = l1s[k], o.l2 = l2s[k];
        nr_model m;
        nr_train_result r;
        train_ok(&data, &o, &m, &r);
        for (size_t c = 0; c < d; c++) {
            const double s = json_at(j, wk[k], (int)c);
            cr_assert(fabs(m.weights[c] - s) <= 1e-5, "%s w%zu %.10g vs sklearn %.10g", wk[k], c,
                      m.weights[c], s);
            if (s == 0.0) {
                cr_assert(m.weights[c] == 0.0, "%s w%zu: sklearn has an exact zero, we %g", wk[k],
                          c, m.weights[c]);
                zeros++;
            }
        }
        cr_assert(fabs(m.bias - json_at(j, bk[k], -1)) <= 1e-5);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    cr_assert(zeros >= 2, "the data should give exact zeros (got %d)", zeros);
    json_decref(j);
    free(v);
}

/* ------------------------------------------------------------- huber -- */

/* Full-batch gradient descent on the mean Huber loss, in long double. */
static void huber_ld(const double *v, size_t n, size_t d, double delta, double lr, int epochs,
                     double *w, double *b, double *loss) {
    long double W[32] = {0}, B = 0;
    for (int e = 0; e < epochs; e++) {
        long double g[32] = {0}, gb = 0, l = 0;
        for (size_t i = 0; i < n; i++) {
            const double *x = v + i * (d + 1);
            long double z = B;
            for (size_t j = 0; j < d; j++) z += W[j] * x[j];
            const long double r = z - x[d], a = fabsl(r);
            const long double c = r > delta ? delta : r < -delta ? -delta : r;
            l += a <= delta ? 0.5L * r * r : delta * (a - 0.5L * delta);
            for (size_t j = 0; j < d; j++) g[j] += c * x[j];
            gb += c;
        }
        loss[e] = (double)(l / n);
        for (size_t j = 0; j < d; j++) W[j] -= lr * (g[j] / n);
        B -= lr * (gb / n);
    }
    for (size_t j = 0; j < d; j++) w[j] = (double)W[j];
    *b = (double)B;
}

Test(peers, huber_batch_matches_long_double_for_every_kernel_width_and_dtype) {
    const size_t widths[] = {1, 3, 6, 17}, n = 1003; /* n % 4 = 3: kernel tails */
    for (size_t k = 0; k < 4; k++) {
        const size_t d = widths[k];
        double *v = gen_w(n, d, NULL, NR_DIST_NORMAL, 30 + k, 3.0);
        float *vf = malloc(n * (d + 1) * sizeof *vf);
        for (size_t i = 0; i < n * (d + 1); i++) vf[i] = (float)v[i];
        double *vr = malloc(n * (d + 1) * sizeof *vr); /* the f32 values, widened */
        for (size_t i = 0; i < n * (d + 1); i++) vr[i] = (double)vf[i];
        for (int dt = 0; dt < 2; dt++) {
            double w[32], b, loss[20];
            huber_ld(dt ? vr : v, n, d, 0.5, 0.05, 20, w, &b, loss);
            nr_data data = {n, d, dt ? NR_F32 : NR_F64, dt ? (const void *)vf : v};
            for (int kern = 0; kern < 2; kern++) {
                nr_train_opts o;
                nr_train_defaults(&o);
                o.loss = NR_LOSS_HUBER, o.delta = 0.5, o.lr = 0.05, o.epochs = 20;
                o.kernel = kern ? NR_KERNEL_AVX2 : NR_KERNEL_SCALAR;
                if (kern && !nr_kernel_name(NR_KERNEL_AVX2, NULL)) continue;
                nr_model m;
                nr_train_result r;
                train_ok(&data, &o, &m, &r);
                /* 1e-11 relative: double sums of 1003 terms in another order
                 * (FMA, lanes) over 20 epochs, against long double */
                for (size_t j = 0; j < d; j++)
                    cr_assert(CLOSE(m.weights[j], w[j], 1e-11), "d %zu %s %s w%zu %.17g vs %.17g",
                              d, dt ? "f32" : "f64", kern ? "avx2" : "scalar", j, m.weights[j],
                              w[j]);
                cr_assert(CLOSE(m.bias, b, 1e-11));
                for (int e = 0; e < 20; e++)
                    cr_assert(CLOSE(r.loss[e], loss[e], 1e-11), "loss %d %.17g vs %.17g", e,
                              r.loss[e], loss[e]);
                nr_model_free(&m);
                nr_train_result_free(&r);
            }
        }
        free(v);
        free(vf);
        free(vr);
    }
}

Test(peers, huber_resists_outliers_that_pull_least_squares) {
    const size_t n = 2000;
    double *v = gen_w(n, 1, (const double[]){2.0}, NR_DIST_UNIFORM, 3, 0.05);
    for (size_t i = 0; i < n; i += 20) v[2 * i + 1] += 50; /* 5% gross outliers */
    nr_data data = {n, 1, NR_F64, v};
    double got[2];
    for (int k = 0; k < 2; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_SGD, o.lr = 0.01, o.epochs = 30;
        o.loss = k ? NR_LOSS_HUBER : NR_LOSS_DEFAULT, o.delta = 0.1;
        nr_model m;
        nr_train_result r;
        train_ok(&data, &o, &m, &r);
        got[k] = m.bias;
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    /* the true bias is 0.5; least squares moves it by ~2.5 (5% of 50) */
    cr_assert(fabs(got[1] - 0.5) < 0.2 && fabs(got[0] - 0.5) > 1.0, "huber %g, squared %g", got[1],
              got[0]);
    free(v);
}

/* ------------------------------------------------- schedules, momentum -- */

/* The documented per-sample rule with invscaling, written out. */
static void sgd_invscaling(const double *v, size_t n, size_t d, double lr, double pt, int epochs,
                           double *w, double *b) {
    double t = 1;
    for (size_t j = 0; j < d; j++) w[j] = 0;
    *b = 0;
    for (int e = 0; e < epochs; e++)
        for (size_t i = 0; i < n; i++, t++) {
            const double *x = v + i * (d + 1);
            const double eta = lr / pow(t, pt);
            double z = w[0] * x[0];
            for (size_t j = 1; j < d; j++) z += w[j] * x[j];
            z += *b;
            const double g = (z - x[d]) * 2;
            for (size_t j = 0; j < d; j++) w[j] -= eta * (g * x[j]);
            *b -= eta * g;
        }
}

Test(peers, invscaling_sgd_is_bit_identical_to_the_rule_written_out) {
    const size_t n = 777, d = 3;
    double *v = gen_w(n, d, NULL, NR_DIST_NORMAL, 4, 0.3);
    nr_data data = {n, d, NR_F64, v};
    const double pts[] = {0.25, 0.5};
    for (int k = 0; k < 2; k++) {
        double w[3], b;
        sgd_invscaling(v, n, d, 0.02, pts[k], 4, w, &b);
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_SGD, o.lr = 0.02, o.epochs = 4;
        o.lr_schedule = NR_LR_INVSCALING, o.power_t = pts[k];
        nr_model m;
        nr_train_result r;
        train_ok(&data, &o, &m, &r);
        cr_assert(!memcmp(m.weights, w, sizeof w) && !memcmp(&m.bias, &b, sizeof b),
                  "power_t %g: %.17g vs %.17g", pts[k], m.weights[0], w[0]);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    if (access(PY, X_OK) == 0) { /* and a plain Python loop of it, bits through repr */
        json_t *j =
            python_json(&data, "import sys, json, struct\n"
                               "raw = open(sys.argv[1], 'rb').read()\n"
                               "hl = struct.unpack('<H', raw[8:10])[0]\n"
                               "vals = struct.unpack('<%dd' % (777 * 4), raw[10 + hl:])\n"
                               "w = [0.0] * 3; b = 0.0; t = 1\n"
                               "for e in range(4):\n"
                               "    for i in range(777):\n"
                               "        x = vals[4 * i:4 * i + 4]\n"
                               "        eta = 0.02 / t ** 0.5\n"
                               "        z = w[0] * x[0]\n"
                               "        for k in range(1, 3): z += w[k] * x[k]\n"
                               "        z += b\n"
                               "        g = (z - x[3]) * 2\n"
                               "        for k in range(3): w[k] -= eta * (g * x[k])\n"
                               "        b -= eta * g\n"
                               "        t += 1\n"
                               "print(json.dumps({'w': [repr(c) for c in w], 'b': repr(b)}))\n");
        double w[3], b;
        sgd_invscaling(v, n, d, 0.02, 0.5, 4, w, &b);
        for (int k = 0; k < 3; k++) {
            const double p =
                strtod(json_string_value(json_array_get(json_object_get(j, "w"), k)), NULL);
            cr_assert(!memcmp(&p, &w[k], sizeof p), "python w%d %.17g vs %.17g", k, p, w[k]);
        }
        json_decref(j);
    }
    free(v);
}

Test(peers, averaged_and_elastic_net_sgd_match_scikit_learn_sgdregressor) {
    if (!have_sklearn()) cr_skip_test("python3-sklearn not installed");
    const size_t n = 600, d = 3;
    double *v = gen_w(n, d, NULL, NR_DIST_UNIFORM, 8, 0.3);
    nr_data data = {n, d, NR_F64, v};
    /* sklearn's squared_error is r^2 / 2: eta0 = 2 lr, alpha = l2 / 2. Its
     * L2 step scales w by (1 - eta alpha) before the gradient term, ours
     * subtracts eta (g x + l2 w): the same number, rounded differently. */
    json_t *j = python_json(
        &data,
        "import sys, json, warnings, numpy as np\n"
        "from sklearn.linear_model import SGDRegressor\n"
        "warnings.simplefilter('ignore')\n"
        "a = np.load(sys.argv[1]); X, y = a[:, :-1], a[:, -1]\n"
        "out = {}\n"
        "for k, (pen, al, lr, av) in enumerate([(None, 0.0, 'constant', True), ('l2', 0.01, "
        "'invscaling', True), ('elasticnet', 0.01, 'constant', False)]):\n"
        "    m = SGDRegressor(penalty=pen, alpha=al, l1_ratio=0.5, learning_rate=lr, eta0=0.01, "
        "power_t=0.25, max_iter=5, tol=None, shuffle=False, average=av).fit(X, y)\n"
        "    out['w%d' % k] = m.coef_.tolist(); out['b%d' % k] = float(m.intercept_[0])\n"
        "print(json.dumps(out))\n");
    /* the third run is the elastic net by the cumulative L1 penalty, without
     * averaging: sklearn averages before its L1 step, we after (the average
     * is of the iterates the rule leaves) */
    for (int k = 0; k < 3; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_SGD, o.lr = 0.005, o.epochs = 5, o.average = k < 2;
        if (k == 1) o.l2 = 0.02, o.lr_schedule = NR_LR_INVSCALING;
        if (k == 2) o.l1 = 0.01, o.l2 = 0.01;
        nr_model m;
        nr_train_result r;
        train_ok(&data, &o, &m, &r);
        char wk[4], bk[4];
        snprintf(wk, sizeof wk, "w%d", k);
        snprintf(bk, sizeof bk, "b%d", k);
        for (size_t c = 0; c < d; c++)
            cr_assert(fabs(m.weights[c] - json_at(j, wk, (int)c)) <= 1e-6, "%s: %.17g vs %.17g", wk,
                      m.weights[c], json_at(j, wk, (int)c));
        cr_assert(fabs(m.bias - json_at(j, bk, -1)) <= 1e-6);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    json_decref(j);
    free(v);
}

Test(peers, step_and_cosine_schedules_follow_pytorch_formulas) {
    /* one row, one feature, x = 0: only the bias moves, by lr(e) * 2 (b - y)
     * each epoch, so b after each epoch exposes lr(e) */
    double v[2] = {0.0, 0.0};
    nr_data data = {1, 1, NR_F64, v};
    for (int k = 0; k < 2; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.lr = 0.1, o.epochs = 7;
        o.lr_schedule = k ? NR_LR_COSINE : NR_LR_STEP, o.lr_step = 3, o.lr_gamma = 0.5;
        nr_model m;
        nr_error err;
        nr_model_init(&m, 1, &err);
        m.bias = 1.0;
        nr_train_result r;
        cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_OK);
        double b = 1.0;
        for (int e = 1; e <= 7; e++) {
            const double lr = k ? 0.1 * (1 + cos(M_PI * (e - 1) / 7.0)) / 2
                                : 0.1 * pow(0.5, (double)((e - 1) / 3));
            cr_assert(fabs(r.loss[e - 1] - b * b) <= 1e-15 * b * b, "epoch %d", e);
            b -= lr * (2 * b);
        }
        cr_assert(fabs(m.bias - b) <= 1e-15, "%s: %.17g vs %.17g", k ? "cosine" : "step", m.bias,
                  b);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
}

Test(peers, momentum_follows_pytorch_sgd) {
    /* the same one-parameter problem: the bias alone, gradient 2b */
    double v[2] = {0.0, 0.0};
    nr_data data = {1, 1, NR_F64, v};
    for (int nes = 0; nes < 2; nes++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.lr = 0.05, o.epochs = 6, o.momentum = 0.9, o.nesterov = nes;
        nr_model m;
        nr_error err;
        nr_model_init(&m, 1, &err);
        m.bias = 1.0;
        nr_train_result r;
        cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_OK);
        double b = 1.0, buf = 0;
        for (int e = 0; e < 6; e++) {
            const double g = 2 * b;
            buf = e ? 0.9 * buf + g : g;
            b -= 0.05 * (nes ? g + 0.9 * buf : buf);
        }
        cr_assert(fabs(m.bias - b) <= 1e-15, "nesterov %d: %.17g vs %.17g", nes, m.bias, b);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
}

/* ----------------------------------------------------- divergence backoff -- */

typedef struct {
    int calls;
    double lr[NR_MAX_BACKOFFS];
} backoff_log;

static void log_backoff(void *ctx, int64_t epoch, int64_t restart, double lr, const char *why) {
    backoff_log *l = ctx;
    cr_assert(restart == (epoch > 1 ? epoch - 1 : 1) && why && strstr(why, "diverged"));
    l->lr[l->calls++] = lr;
}

Test(peers, backoff_halves_the_rate_until_training_is_stable) {
    double *v = gen_w(4000, 2, NULL, NR_DIST_UNIFORM, 12, 0.1);
    nr_data data = {4000, 2, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.lr = 12, o.epochs = 60; /* batch is stable below lr ~ 3 on this data */
    nr_model m;
    nr_train_result r;
    nr_error err;
    nr_model_init(&m, 2, &err);
    cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_ERR_DIVERGED, "stop is the default");
    nr_model_free(&m);
    backoff_log log = {0};
    o.on_divergence = NR_DIVERGE_BACKOFF, o.on_backoff = log_backoff, o.on_backoff_ctx = &log;
    train_ok(&data, &o, &m, &r);
    cr_assert(r.backoffs >= 2 && r.backoffs == log.calls, "%d backoffs, %d calls", r.backoffs,
              log.calls);
    for (int k = 0; k < r.backoffs; k++)
        cr_assert(r.backoff_lr[k] == 12 * pow(0.5, k + 1) && log.lr[k] == r.backoff_lr[k]);
    cr_assert(isfinite(m.weights[0]) && fabs(m.weights[1] - 2.0) < 0.05, "w %g %g", m.weights[0],
              m.weights[1]);
    cr_assert_eq(r.epochs_run, 60);
    nr_model_free(&m);
    nr_train_result_free(&r);
    /* ten halvings are not enough for 1e6: the run ends as stop would */
    log.calls = 0;
    o.lr = 1e6;
    nr_model_init(&m, 2, &err);
    cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_ERR_DIVERGED);
    cr_assert_eq(log.calls, NR_MAX_BACKOFFS);
    nr_model_free(&m);
    free(v);
}

Test(peers, backoff_that_never_fires_changes_no_bit) {
    double *v = gen_w(9000, 3, NULL, NR_DIST_NORMAL, 2, 0.1);
    nr_data data = {9000, 3, NR_F64, v};
    for (int algo = 0; algo < 3; algo++) {
        nr_model m[2];
        nr_train_result r[2];
        for (int k = 0; k < 2; k++) {
            nr_train_opts o;
            nr_train_defaults(&o);
            o.algo = algo == 0 ? NR_ALGO_BATCH : algo == 1 ? NR_ALGO_MINIBATCH : NR_ALGO_SGD;
            o.lr = algo == 2 ? 0.001 : 0.1, o.batch = 1000, o.epochs = 4;
            o.on_divergence = k ? NR_DIVERGE_BACKOFF : NR_DIVERGE_STOP;
            train_ok(&data, &o, &m[k], &r[k]);
        }
        cr_assert(!memcmp(m[0].weights, m[1].weights, 3 * sizeof(double)) &&
                      !memcmp(&m[0].bias, &m[1].bias, sizeof(double)),
                  "algo %d", algo);
        for (int k = 0; k < 2; k++) nr_model_free(&m[k]), nr_train_result_free(&r[k]);
    }
    free(v);
}

/* ---------------------------------------------------------- determinism -- */

Test(peers, every_option_is_bit_identical_for_1_2_and_3_threads) {
    const size_t n = 20000, d = 4;
    double *v = gen_w(n, d, NULL, NR_DIST_NORMAL, 17, 0.5);
    nr_data data = {n, d, NR_F64, v};
    for (int c = 0; c < 8; c++) {
        nr_model ref;
        nr_train_result rr;
        for (int t = 1; t <= 3; t++) {
            nr_train_opts o;
            nr_train_defaults(&o);
            o.algo = c % 2 ? NR_ALGO_MINIBATCH : NR_ALGO_BATCH, o.batch = 9000, o.epochs = 6;
            o.threads = t, o.standardize = c >= 4;
            switch (c % 4) {
            case 0:
                o.l1 = 0.05, o.l2 = 0.1, o.average = true;
                break;
            case 1:
                o.loss = NR_LOSS_HUBER, o.delta = 0.3, o.momentum = 0.8, o.nesterov = true;
                break;
            case 2:
                o.lr_schedule = NR_LR_INVSCALING, o.lr = 0.3, o.on_divergence = NR_DIVERGE_BACKOFF;
                break;
            case 3:
                o.lr_schedule = NR_LR_COSINE, o.l2 = 0.5, o.momentum = 0.5;
                break;
            }
            nr_model m;
            nr_train_result r;
            train_ok(&data, &o, &m, &r);
            if (t == 1) {
                ref = m, rr = r;
                continue;
            }
            cr_assert(!memcmp(m.weights, ref.weights, d * sizeof(double)) && m.bias == ref.bias,
                      "case %d, %d threads", c, t);
            cr_assert(!memcmp(r.loss, rr.loss, 6 * sizeof(double)));
            nr_model_free(&m);
            nr_train_result_free(&r);
        }
        nr_model_free(&ref);
        nr_train_result_free(&rr);
    }
    free(v);
}

/* ------------------------------------------------------------------ CLI -- */

Test(peers_cli, options_reach_the_report_and_the_model_and_bad_ones_are_usage_errors) {
    char *dir = scratch_dir(), data[4096], model[4096], report[4096];
    snprintf(data, sizeof data, "%s/d.npy", dir);
    snprintf(model, sizeof model, "%s/m.json", dir);
    snprintf(report, sizeof report, "%s/r.json", dir);
    run_result r;
    run_neuron(&r,
               (const char *[]){"gen", "--rows", "3000", "--features", "2", "--out", data, NULL});
    cr_assert_eq(r.status, 0);
    run_free(&r);
    run_neuron(&r, (const char *[]){"train", "--data", data, "--lr", "40", "--epochs", "30", "--l2",
                                    "0.01", "--on-divergence", "backoff", "--model", model,
                                    "--report", report, "--quiet", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *rep = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    const int nb = json_array_size(json_object_get(rep, "backoffs"));
    cr_assert(nb >= 1 && (int)count_lines(r.err) == nb, "%d backoffs, stderr: %s", nb, r.err);
    cr_assert(strstr(r.err, "neuron: warning: epoch") && strstr(r.err, "backing off (1 of 10)"));
    cr_assert_eq(json_at(rep, "l2", -1), 0.01);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "on_divergence")), "backoff");
    json_decref(rep);
    run_free(&r);
    char *mt = read_file(model, NULL);
    json_t *mj = json_loads(mt, JSON_DECODE_INT_AS_REAL, NULL);
    json_t *tr = json_object_get(mj, "training");
    cr_assert_eq(json_at(tr, "l2", -1), 0.01);
    cr_assert_str_eq(json_string_value(json_object_get(tr, "on_divergence")), "backoff");
    json_decref(mj);
    free(mt);
    unlink(model);
    unlink(report);
    const char *bad[][8] = {
        {"--delta", "0.5", NULL},
        {"--loss", "huber", "--activation", "sigmoid", NULL},
        {"--algo", "ols", "--l1", "0.1", NULL},
        {"--momentum", "1", NULL},
        {"--nesterov", NULL},
        {"--l2", "-1", NULL},
        {"--lr-gamma", "0.5", NULL},
        {"--algo", "sgd", "--exact", "--l2", "0.1", NULL},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *args[16] = {"train", "--data", data, "--report", report};
        size_t a = 5;
        for (size_t i = 0; bad[k][i]; i++) args[a++] = bad[k][i];
        args[a] = NULL;
        run_neuron(&r, args);
        cr_assert_eq(r.status, 2, "case %zu (%s): exit %d, %s", k, bad[k][0], r.status, r.err);
        cr_assert(count_lines(r.err) == 1 && !strncmp(r.err, "neuron: error: ", 15), "case %zu: %s",
                  k, r.err);
        cr_assert(access(report, F_OK) != 0, "case %zu left a report", k);
        run_free(&r);
    }
    unlink(data);
    rmdir(dir);
    free(dir);
}

/* ------------------------------------------------- newton, logistic, l2 -- */

Test(peers, newton_with_l2_finds_the_penalised_logistic_optimum_of_separable_classes) {
    /* separable: y = [x0 + 0.5 x1 > 0]; without a penalty there is no
     * finite optimum (newton says so), with one there is, where the mean
     * gradient (1/n) sum (sigmoid(z) - y) x plus l2 w vanishes and the
     * bias's part alone vanishes */
    const size_t n = 400;
    double *v = malloc(n * 3 * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        const double a = (double)(i % 20) / 10 - 0.95, b = (double)(i / 20) / 10 - 0.95;
        v[3 * i] = a, v[3 * i + 1] = b, v[3 * i + 2] = a + 0.5 * b > 0;
    }
    nr_data data = {n, 2, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.algo = NR_ALGO_NEWTON, o.activation = NR_ACT_SIGMOID, o.epochs = 100;
    nr_model m;
    nr_train_result r;
    nr_error err;
    nr_model_init(&m, 2, &err);
    cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_ERR_INPUT, "no penalty: separable");
    nr_model_free(&m);
    o.l2 = 0.01;
    train_ok(&data, &o, &m, &r);
    cr_assert_str_eq(r.stop_reason, "converged");
    long double g[3] = {0};
    for (size_t i = 0; i < n; i++) {
        const long double z = m.weights[0] * v[3 * i] + m.weights[1] * v[3 * i + 1] + m.bias;
        const long double res = 1 / (1 + expl(-z)) - v[3 * i + 2];
        g[0] += res * v[3 * i], g[1] += res * v[3 * i + 1], g[2] += res;
    }
    /* 1e-10: newton stops within rounding of the optimum (quadratic convergence) */
    for (int j = 0; j < 2; j++)
        cr_assert(fabsl(g[j] / n + 0.01L * m.weights[j]) <= 1e-10, "w%d: %Lg", j,
                  g[j] / n + 0.01L * m.weights[j]);
    cr_assert(fabsl(g[2] / n) <= 1e-10, "bias: %Lg", g[2] / n);
    nr_model_free(&m);
    nr_train_result_free(&r);
    free(v);
}

Test(peers, options_out_of_range_are_refused_by_the_library) {
    double v[4] = {1, 2, 3, 4};
    nr_data data = {2, 1, NR_F64, v};
    for (int k = 0; k < 8; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        switch (k) {
        case 0:
            o.l2 = -1;
            break;
        case 1:
            o.l1 = NAN;
            break;
        case 2:
            o.loss = NR_LOSS_HUBER, o.delta = 0;
            break;
        case 3:
            o.lr_schedule = NR_LR_STEP, o.lr_step = 0;
            break;
        case 4:
            o.lr_schedule = NR_LR_STEP, o.lr_gamma = 1.5;
            break;
        case 5:
            o.momentum = 1;
            break;
        case 6:
            o.nesterov = true;
            break;
        case 7:
            o.average = true, o.restore_best = true;
            break;
        }
        nr_model m;
        nr_train_result r;
        nr_error err = {{0}};
        nr_model_init(&m, 1, &err);
        cr_assert_eq(nr_train(&data, &o, &m, &r, &err), NR_ERR_ARG, "case %d", k);
        cr_assert(strlen(err.msg) > 10, "case %d: %s", k, err.msg);
        nr_model_free(&m);
    }
    /* a schedule's own parameters are not read unless it is chosen */
    nr_train_opts o;
    nr_train_defaults(&o);
    o.lr_step = 0, o.lr_gamma = 0, o.power_t = -1, o.delta = 0, o.epochs = 2;
    nr_model m;
    nr_train_result r;
    train_ok(&data, &o, &m, &r);
    nr_model_free(&m);
    nr_train_result_free(&r);
}
