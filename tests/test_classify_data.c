/* Classification around the trainer: the model's activation on disk,
 * `neuron gen --task classify`, predicted probabilities and labels, and the
 * classification metrics against hand-computed confusion matrices and
 * against scikit-learn's own functions. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neuron.h"
#include "util.h"

/* |a - b| within k units in the last place of b */
static bool within_ulps(double a, double b, double k) {
    return fabs(a - b) <= k * (nextafter(fabs(b), INFINITY) - fabs(b));
}

static char *write_text(const char *dir, const char *name, const char *text) {
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
    return p;
}

/* ------------------------------------------------------------- metrics -- */

Test(class_metrics, match_a_hand_computed_confusion_matrix) {
    const double y[] = {1, 1, 1, 0, 0, 0, 0, 1};
    const double p[] = {0.9, 0.4, 0.6, 0.2, 0.7, 0.1, 0.5, 0.5};
    /* at 0.5 (strictly above is positive): predictions 1 0 1 0 1 0 0 0
     * tp = rows 1, 3; fn = rows 2, 8; fp = row 5; tn = rows 4, 6, 7 */
    nr_class_metrics m;
    nr_error err;
    cr_assert_eq(nr_class_metrics_compute(y, p, 8, true, 0.5, &m, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(m.n, 8);
    cr_assert(m.tp == 2 && m.fn == 2 && m.fp == 1 && m.tn == 3, "tp %llu fn %llu fp %llu tn %llu",
              (unsigned long long)m.tp, (unsigned long long)m.fn, (unsigned long long)m.fp,
              (unsigned long long)m.tn);
    /* quotients of small integers are correctly rounded: compare bits */
    cr_assert(m.accuracy == 5.0 / 8 && m.precision == 2.0 / 3 && m.recall == 0.5);
    /* f1 = 2 (2/3)(1/2) / (2/3 + 1/2) = 4/7, through three roundings: 4 ulps */
    cr_assert(within_ulps(m.f1, 4.0 / 7, 4), "f1 %.17g", m.f1);
    /* AUC: positives 0.9, 0.4, 0.6, 0.5 against negatives 0.2, 0.7, 0.1, 0.5
     * beat 4 + 2 + 3 + 2 pairs and tie 1 (0.5 with 0.5): 11.5 / 16 */
    cr_assert(m.roc_auc == 11.5 / 16, "auc %.17g", m.roc_auc);
    /* log loss: the true class's probabilities; sklearn's renormalisation of
     * [1 - p, p] moves each by at most an ulp, so 1e-15 relative */
    const double ll =
        -(log(0.9) + log(0.4) + log(0.6) + log(0.8) + log(0.3) + log(0.9) + log(0.5) + log(0.5)) /
        8;
    cr_assert(fabs(m.log_loss - ll) <= 1e-15 * ll, "log_loss %.17g, expected %.17g", m.log_loss,
              ll);
    cr_assert_eq(m.warnings, 0u);
    /* at 0.3, rows 2 and 8 (0.4, 0.5) become true positives, row 7 (0.5) a
     * false one: tp 4, fn 0, fp 2, tn 2 */
    cr_assert_eq(nr_class_metrics_compute(y, p, 8, true, 0.3, &m, NULL), NR_OK);
    cr_assert(m.tp == 4 && m.fn == 0 && m.fp == 2 && m.tn == 2);
    cr_assert(m.roc_auc == 11.5 / 16, "AUC does not depend on the threshold");
}

Test(class_metrics, empty_positive_class_gives_zeros_and_warnings) {
    /* -1/+1 labels, all -1: no positives at all */
    const double y[] = {-1, -1, -1, -1};
    const double pred[] = {0, 1, 0, 0};
    nr_class_metrics m;
    cr_assert_eq(nr_class_metrics_compute(y, pred, 4, false, 0.5, &m, NULL), NR_OK);
    cr_assert(m.tp == 0 && m.fn == 0 && m.fp == 1 && m.tn == 3);
    cr_assert(m.accuracy == 0.75 && m.precision == 0 && m.recall == 0 && m.f1 == 0);
    /* precision is 0/1, defined; recall is 0/0 */
    cr_assert_eq(m.warnings, (unsigned)NR_WARN_RECALL);
    cr_assert(isnan(m.log_loss) && isnan(m.roc_auc), "labels give no probabilities");
    /* nothing predicted positive either: all three undefined */
    const double none[] = {0, 0, 0, 0};
    cr_assert_eq(nr_class_metrics_compute(y, none, 4, false, 0.5, &m, NULL), NR_OK);
    cr_assert(m.accuracy == 1 && m.precision == 0 && m.recall == 0 && m.f1 == 0);
    cr_assert_eq(m.warnings, (unsigned)(NR_WARN_PRECISION | NR_WARN_RECALL | NR_WARN_F1));
    /* probabilities: log loss is defined, AUC is not */
    const double p[] = {0.25, 0.5, 0, 1};
    cr_assert_eq(nr_class_metrics_compute(y, p, 4, true, 0.5, &m, NULL), NR_OK);
    cr_assert(m.fp == 1 && m.tn == 3);
    cr_assert(isnan(m.roc_auc) && (m.warnings & NR_WARN_ROC_AUC));
    /* -log(0.75), -log(0.5), -log(1 - eps) ~ eps, -log(eps) (clipped) */
    const double ll = (-log(0.75) - log(0.5) + DBL_EPSILON - log(DBL_EPSILON)) / 4;
    cr_assert(fabs(m.log_loss - ll) <= 1e-15 * ll, "log_loss %.17g, expected %.17g", m.log_loss,
              ll);
    for (unsigned b = 1; b <= NR_WARN_ROC_AUC; b <<= 1) cr_assert(nr_class_warning_str(b));
    cr_assert_null(nr_class_warning_str(3));
}

Test(class_metrics, refuse_labels_that_are_not_classes) {
    nr_class_metrics m;
    nr_error err = {{0}};
    const double p[] = {0, 1, 0, 1};
    const double half[] = {0, 1, 0.5, 1};
    cr_assert_eq(nr_class_metrics_compute(half, p, 4, false, 0.5, &m, &err), NR_ERR_INPUT);
    cr_assert(strstr(err.msg, "row 3: label 0.5 is not a class label"), "%s", err.msg);
    const double mixed[] = {1, 0, 1, -1};
    cr_assert_eq(nr_class_metrics_compute(mixed, p, 4, false, 0.5, &m, &err), NR_ERR_INPUT);
    cr_assert(strstr(err.msg, "row 4: label -1 mixes 0/1 and -1/+1 labels (row 2 holds 0)"), "%s",
              err.msg);
    const double two[] = {1, 2, 1, 1};
    cr_assert_eq(nr_class_metrics_compute(two, p, 4, false, 0.5, &m, &err), NR_ERR_INPUT);
    cr_assert(strstr(err.msg, "row 2"), "%s", err.msg);
    /* predictions: probabilities in [0, 1], labels 0/1 */
    const double y[] = {0, 1, 0, 1}, bad[] = {0, 1.5, 0, 1};
    cr_assert_eq(nr_class_metrics_compute(y, bad, 4, true, 0.5, &m, &err), NR_ERR_ARG);
    cr_assert(strstr(err.msg, "row 2"), "%s", err.msg);
    cr_assert_eq(nr_class_metrics_compute(y, half, 4, false, 0.5, &m, &err), NR_ERR_ARG);
    cr_assert_eq(nr_class_metrics_compute(y, p, 4, true, 1.5, &m, &err), NR_ERR_ARG);
    cr_assert_eq(nr_class_metrics_compute(y, p, 0, true, 0.5, &m, &err), NR_ERR_INPUT);
}

/* A deterministic stream for the random cases (SplitMix64). */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The interpreter with scikit-learn, or NULL (the test is then skipped). */
static const char *sklearn_python(void) {
    static const char *const pys[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < 2; i++) {
        const char *argv[] = {pys[i], "-c", "import sklearn", NULL};
        run_result r;
        run_program(&r, argv);
        const int st = r.status;
        run_free(&r);
        if (st == 0) return pys[i];
    }
    return NULL;
}

Test(class_metrics, equal_sklearn_on_random_predictions_with_ties) {
    const char *py = sklearn_python();
    if (!py) cr_skip_test("scikit-learn is not installed (Debian package python3-sklearn)");
    char *dir = scratch_dir();
    enum { N = 3001, CASES = 4 };
    static double y[N], p[N];
    const double thresholds[CASES] = {0.5, 0.3, 0.5, 0.5};
    nr_class_metrics m[CASES];
    uint64_t s = 2026;
    for (int c = 0; c < CASES; c++) {
        /* scores on a grid of 41 values (many ties, 0 and 1 included, which
         * log_loss clips), or continuous; labels balanced or rare, 0/1 or
         * -1/+1 */
        for (size_t i = 0; i < N; i++) {
            const double u = (double)(next_u64(&s) >> 11) * 0x1p-53;
            p[i] = c % 2 == 0 ? (double)(next_u64(&s) % 41) / 40 : u;
            const double odds = c < 2 ? p[i] : 0.05 * p[i];
            y[i] = (double)(next_u64(&s) >> 11) * 0x1p-53 < odds ? 1 : (c == 3 ? -1 : 0);
        }
        nr_error err;
        cr_assert_eq(nr_class_metrics_compute(y, p, N, true, thresholds[c], &m[c], &err), NR_OK,
                     "%s", err.msg);
        char path[4096];
        snprintf(path, sizeof path, "%s/case%d.csv", dir, c);
        FILE *f = fopen(path, "w");
        for (size_t i = 0; i < N; i++) fprintf(f, "%.17g,%.17g\n", y[i], p[i]);
        fclose(f);
    }
    char code[8192];
    snprintf(code, sizeof code,
             "import json, numpy as np\n"
             "from sklearn import metrics as M\n"
             "out = []\n"
             "for c, t in enumerate([%.17g, %.17g, %.17g, %.17g]):\n"
             "    a = np.loadtxt('%s/case%%d.csv' %% c, delimiter=',')\n"
             "    y, p = a[:, 0], a[:, 1]\n"
             "    yp = np.where(p > t, 1, np.min(y))\n"
             "    out.append([M.accuracy_score(y, yp), M.precision_score(y, yp),\n"
             "        M.recall_score(y, yp), M.f1_score(y, yp), M.log_loss(y, p),\n"
             "        M.roc_auc_score(y, p)])\n"
             "print(json.dumps(out))\n",
             thresholds[0], thresholds[1], thresholds[2], thresholds[3], dir);
    const char *argv[] = {py, "-c", code, NULL};
    run_result r;
    run_program(&r, argv);
    cr_assert_eq(r.status, 0, "sklearn failed: %s", r.err);
    json_t *j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(json_is_array(j) && json_array_size(j) == CASES, "%s", r.out);
    const char *names[] = {"accuracy", "precision", "recall", "f1", "log_loss", "roc_auc"};
    for (int c = 0; c < CASES; c++) {
        const double ours[] = {m[c].accuracy, m[c].precision, m[c].recall,
                               m[c].f1,       m[c].log_loss,  m[c].roc_auc};
        const json_t *row = json_array_get(j, c);
        for (int k = 0; k < 6; k++) {
            const double want = json_number_value(json_array_get(row, k));
            /* the same formulas on the same doubles, sums in another order:
             * within the 1e-12 relative */
            cr_assert(fabs(ours[k] - want) <= 1e-12 * fabs(want),
                      "case %d %s: %.17g, sklearn %.17g", c, names[k], ours[k], want);
        }
    }
    json_decref(j);
    run_free(&r);
    free(dir);
}

/* -------------------------------------------------------------- models -- */

Test(model_activation, saves_loads_and_defaults_to_identity) {
    char *dir = scratch_dir();
    const nr_activation acts[] = {NR_ACT_IDENTITY, NR_ACT_SIGMOID, NR_ACT_STEP};
    const char *names[] = {"\"identity\"", "\"sigmoid\"", "\"step\""};
    for (int k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/m%d.json", dir, k);
        nr_model m, back;
        nr_model_init(&m, 2, NULL);
        m.weights[0] = 0.25, m.weights[1] = -3, m.bias = 0.125, m.activation = acts[k];
        cr_assert_eq(nr_model_save(&m, NULL, path, NULL), NR_OK);
        char *text = read_file(path, NULL);
        cr_assert(strstr(text, names[k]), "%s", text);
        free(text);
        nr_error err;
        cr_assert_eq(nr_model_load(path, &back, &err), NR_OK, "%s", err.msg);
        cr_assert_eq(back.activation, acts[k]);
        cr_assert(back.weights[1] == -3 && back.bias == 0.125);
        nr_model_free(&back);
        nr_model_free(&m);
    }
    /* files from before the activation existed are linear models */
    char *p = write_text(dir, "old.json",
                         "{\"format\":\"neuron-model\",\"version\":1,\"features\":1,"
                         "\"weights\":[2],\"bias\":1}");
    nr_model m;
    cr_assert_eq(nr_model_load(p, &m, NULL), NR_OK);
    cr_assert_eq(m.activation, NR_ACT_IDENTITY);
    nr_model_free(&m);
    free(p);
    const char *bad[] = {"\"Sigmoid\"", "1", "null", "\"\""};
    for (int k = 0; k < 4; k++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"format\":\"neuron-model\",\"version\":1,\"features\":1,"
                 "\"activation\":%s,\"weights\":[2],\"bias\":1}",
                 bad[k]);
        p = write_text(dir, "bad.json", json);
        nr_error err = {{0}};
        cr_assert_eq(nr_model_load(p, &m, &err), NR_ERR_INPUT, "%s", bad[k]);
        cr_assert(strstr(err.msg, "bad.json: activation") &&
                      strstr(err.msg, "expected \"identity\", \"sigmoid\" or \"step\""),
                  "%s", err.msg);
        free(p);
    }
    free(dir);
}

Test(model_activation, predictions_are_phi_of_w_x_plus_b) {
    /* z = 2 x - 1 on x = 0.5 (z = 0), 401 (z = 801), -400 (z = -801), 1 (z = 1) */
    double x[] = {0.5, 401, -400, 1};
    nr_data d = {4, 0, NR_F64, x};
    nr_model m;
    nr_model_init(&m, 1, NULL);
    m.weights[0] = 2, m.bias = -1;
    double p[4];
    m.activation = NR_ACT_SIGMOID;
    cr_assert_eq(nr_predict(&m, &d, p, NULL), NR_OK);
    /* exp(-801) underflows to 0 and exp(801) would overflow: the stable form
     * gives exactly 1 and 0 */
    cr_assert(p[0] == 0.5 && p[1] == 1 && p[2] == 0, "%g %g %g", p[0], p[1], p[2]);
    cr_assert(within_ulps(p[3], 1 / (1 + exp(-1.0)), 2), "%.17g", p[3]);
    double lab[4];
    cr_assert_eq(nr_predict_labels(&m, &d, 0.5, lab, NULL), NR_OK);
    cr_assert(lab[0] == 0 && lab[1] == 1 && lab[2] == 0 && lab[3] == 1, "0.5 is not above 0.5");
    cr_assert_eq(nr_predict_labels(&m, &d, 0.75, lab, NULL), NR_OK);
    cr_assert(lab[3] == 0, "sigmoid(1) = 0.731 is below 0.75");
    cr_assert_eq(nr_predict_labels(&m, &d, 1.5, lab, NULL), NR_ERR_ARG);
    m.activation = NR_ACT_STEP;
    cr_assert_eq(nr_predict(&m, &d, p, NULL), NR_OK);
    cr_assert(p[0] == 0 && p[1] == 1 && p[2] == 0 && p[3] == 1, "step(0) is 0");
    m.activation = NR_ACT_IDENTITY;
    cr_assert_eq(nr_predict_labels(&m, &d, 0.5, lab, NULL), NR_ERR_ARG);
    nr_model_free(&m);
}

Test(model_activation, eval_classify_on_a_data_set_with_labels) {
    /* rows (x, y): z = x; sigmoid labels at 0.5 are x > 0 */
    double v[] = {-2, 0, -1, 1, 0.5, 1, 3, 0, 2, 1};
    nr_data d = {5, 1, NR_F64, v};
    nr_model m;
    nr_model_init(&m, 1, NULL);
    m.weights[0] = 1, m.activation = NR_ACT_SIGMOID;
    nr_class_metrics c;
    nr_error err;
    cr_assert_eq(nr_eval_classify(&m, &d, 0.5, &c, &err), NR_OK, "%s", err.msg);
    /* predictions 0 0 1 1 1 against 0 1 1 0 1: tp 2, fn 1, fp 1, tn 1 */
    cr_assert(c.tp == 2 && c.fn == 1 && c.fp == 1 && c.tn == 1);
    /* positives' z: -1, 0.5, 2 against negatives' -2, 3: 1 + 1 + 1 of 6 pairs */
    cr_assert(c.roc_auc == 3.0 / 6, "%.17g", c.roc_auc);
    m.activation = NR_ACT_STEP;
    cr_assert_eq(nr_eval_classify(&m, &d, 0.5, &c, NULL), NR_OK);
    cr_assert(c.tp == 2 && isnan(c.roc_auc) && isnan(c.log_loss));
    nr_metrics r;
    cr_assert_eq(nr_eval(&m, &d, &r, &err), NR_ERR_ARG, "a classifier has no MSE here");
    v[3] = 2; /* row 2's label */
    cr_assert_eq(nr_eval_classify(&m, &d, 0.5, &c, &err), NR_ERR_INPUT);
    cr_assert(strstr(err.msg, "row 2: label 2 is not a class label"), "%s", err.msg);
    m.activation = NR_ACT_IDENTITY;
    cr_assert_eq(nr_eval_classify(&m, &d, 0.5, &c, &err), NR_ERR_ARG);
    nr_model_free(&m);
}

/* ----------------------------------------------------------------- gen -- */

static double value_at(const nr_data *d, size_t i, size_t j) {
    const size_t k = i * (d->features + 1) + j;
    return d->dtype == NR_F32 ? ((const float *)d->values)[k] : ((const double *)d->values)[k];
}

/* z = w.x + b on the stored values, in the generator's order */
static double z_of(const nr_data *d, size_t i, const double *w, double b) {
    double acc = 0;
    for (size_t j = 0; j < d->features; j++) acc += w[j] * value_at(d, i, j);
    return acc + b;
}

static nr_dataset *gen_classify(size_t rows, double *w, size_t features, double bias,
                                bool separable, double margin, double flip, int threads,
                                nr_dtype dtype) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = rows, o.features = features, o.weights = w, o.bias = bias, o.dtype = dtype;
    o.task = NR_TASK_CLASSIFY, o.separable = separable, o.margin = margin, o.flip = flip;
    o.threads = threads;
    nr_dataset *ds;
    cr_assert_eq(nr_dataset_alloc(rows, features, dtype, &ds, NULL), NR_OK);
    nr_error err;
    cr_assert_eq(nr_gen_fill(&o, nr_dataset_mutable(ds), &err), NR_OK, "%s", err.msg);
    return ds;
}

Test(gen_classify, same_bytes_for_any_thread_count) {
    double w[3] = {2, -1, 0.5};
    for (int k = 0; k < 3; k++) {
        /* Bernoulli; separable with a margin that makes many rows draw again;
         * separable with flips */
        const bool sep = k > 0;
        const double margin = sep ? 0.4 : 0, flip = k == 2 ? 0.1 : 0;
        nr_dataset *a = gen_classify(30011, w, 3, 0.25, sep, margin, flip, 1, NR_F64);
        nr_dataset *b = gen_classify(30011, w, 3, 0.25, sep, margin, flip, 3, NR_F64);
        cr_assert(!memcmp(nr_dataset_view(a)->values, nr_dataset_view(b)->values, 30011 * 4 * 8),
                  "case %d differs between 1 and 3 threads", k);
        nr_dataset_free(a);
        nr_dataset_free(b);
    }
}

Test(gen_classify, separable_labels_keep_the_margin) {
    double w[2] = {3, -4}; /* |w| = 5 */
    const double margin = 0.3;
    for (int t = 0; t < 2; t++) {
        nr_dataset *ds = gen_classify(40000, w, 2, 0.5, true, margin, 0, 0, t ? NR_F64 : NR_F32);
        const nr_data *d = nr_dataset_view(ds);
        size_t ones = 0;
        double closest = INFINITY;
        for (size_t i = 0; i < d->rows; i++) {
            const double z = z_of(d, i, w, 0.5), y = value_at(d, i, 2);
            cr_assert(y == (z > 0), "row %zu: z %g, label %g", i + 1, z, y);
            if (fabs(z) / 5 < closest) closest = fabs(z) / 5;
            for (size_t j = 0; j < 2; j++) {
                const double x = value_at(d, i, j);
                cr_assert(x >= -1 && x < 1, "re-drawn points stay in U(-1, 1)'s box");
            }
            ones += y == 1;
        }
        /* every point at least the margin away (z in double from the stored
         * values, exactly as the generator checks it) */
        cr_assert_geq(closest, margin, "closest point %.17g", closest);
        /* without the margin about 8% of U(-1,1)^2 lies within 0.3 of the
         * line: the closest point is close to the margin itself */
        cr_assert_lt(closest, margin + 1e-3, "closest %.17g", closest);
        cr_assert(ones > 10000 && ones < 30000, "both classes: %zu ones", ones);
        nr_dataset_free(ds);
    }
}

Test(gen_classify, bernoulli_labels_follow_the_logistic_model) {
    double w[2] = {1.5, -2};
    nr_dataset *ds = gen_classify(200000, w, 2, 0.25, false, 0, 0, 0, NR_F64);
    const nr_data *d = nr_dataset_view(ds);
    /* sum of labels against the sum of probabilities, in 5 standard
     * deviations of a sum of independent Bernoulli variables; and the same
     * on the rows with z > 1, where the labels are mostly 1 */
    double sy = 0, sp = 0, var = 0, sy1 = 0, sp1 = 0, var1 = 0;
    for (size_t i = 0; i < d->rows; i++) {
        const double z = z_of(d, i, w, 0.25), p = 1 / (1 + exp(-z)), y = value_at(d, i, 2);
        cr_assert(y == 0 || y == 1);
        sy += y, sp += p, var += p * (1 - p);
        if (z > 1) sy1 += y, sp1 += p, var1 += p * (1 - p);
    }
    cr_assert_lt(fabs(sy - sp), 5 * sqrt(var), "labels %g, expected %g +- %g", sy, sp, sqrt(var));
    cr_assert_lt(fabs(sy1 - sp1), 5 * sqrt(var1), "z > 1: %g, expected %g", sy1, sp1);
    nr_dataset_free(ds);
}

Test(gen_classify, flip_changes_labels_only_at_the_stated_rate) {
    double w[2] = {1, 1};
    const double P = 0.2;
    nr_dataset *a = gen_classify(100000, w, 2, 0, true, 0.05, 0, 0, NR_F32);
    nr_dataset *b = gen_classify(100000, w, 2, 0, true, 0.05, P, 0, NR_F32);
    const nr_data *da = nr_dataset_view(a), *db = nr_dataset_view(b);
    size_t flipped = 0;
    for (size_t i = 0; i < da->rows; i++) {
        for (size_t j = 0; j < 2; j++)
            cr_assert(value_at(da, i, j) == value_at(db, i, j), "features do not move");
        flipped += value_at(da, i, 2) != value_at(db, i, 2);
    }
    /* binomial(n, P): 5 standard deviations */
    const double n = (double)da->rows, sd = sqrt(n * P * (1 - P));
    cr_assert_lt(fabs((double)flipped - n * P), 5 * sd, "%zu flipped of %g", flipped, n);
    nr_dataset_free(a);
    nr_dataset_free(b);
}

Test(gen_classify, cli_prints_the_task_and_refuses_mismatched_options) {
    char *dir = scratch_dir();
    char out[4096];
    snprintf(out, sizeof out, "%s/c.csv", dir);
    const char *ok[] = {"gen", "--rows", "100",  "--task", "classify", "--separable",
                        "0.1", "--flip", "0.05", "--out",  out,        NULL};
    run_result r;
    run_neuron(&r, ok);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j, "%s", r.out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "task")), "classify");
    cr_assert_eq(json_number_value(json_object_get(j, "margin")), 0.1);
    cr_assert_eq(json_number_value(json_object_get(j, "flip")), 0.05);
    cr_assert_null(json_object_get(j, "noise"));
    json_decref(j);
    run_free(&r);
    unlink(out);
    struct {
        const char *args[12];
        const char *frag;
    } cases[] = {
        {{"gen", "--rows", "10", "--task", "classify", "--noise", "1", "--out", out, NULL},
         "--noise"},
        {{"gen", "--rows", "10", "--flip", "0.1", "--out", out, NULL}, "--task classify"},
        {{"gen", "--rows", "10", "--separable", "0.1", "--out", out, NULL}, "--task classify"},
        {{"gen", "--rows", "10", "--task", "classify", "--flip", "1.5", "--out", out, NULL},
         "--flip"},
        {{"gen", "--rows", "10", "--task", "sort", "--out", out, NULL}, "regress|classify"},
        {{"gen", "--rows", "10", "--task", "classify", "--separable", "2", "--out", out, NULL},
         "margin 2 is too wide: row 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_neuron(&r, cases[i].args);
        cr_assert_eq(r.status, 2, "case %zu: exit %d: %s", i, r.status, r.err);
        cr_assert_eq(count_lines(r.err), 1, "case %zu: %s", i, r.err);
        cr_assert(strstr(r.err, "neuron: error:") && strstr(r.err, cases[i].frag), "case %zu: %s",
                  i, r.err);
        cr_assert(access(out, F_OK) != 0, "case %zu left %s", i, out);
        run_free(&r);
    }
    free(dir);
}

/* ------------------------------------------------------ predict and eval -- */

static double number(const json_t *j, const char *k) {
    const json_t *v = json_object_get(j, k);
    cr_assert(json_is_number(v), "field %s missing", k);
    return json_number_value(v);
}

/* A model z = x with the activation (NULL: none, a linear model). */
static char *model_file(const char *dir, const char *activation) {
    char json[256], name[64];
    snprintf(json, sizeof json,
             "{\"format\":\"neuron-model\",\"version\":1,\"features\":1,%s%s%s"
             "\"weights\":[1],\"bias\":0}",
             activation ? "\"activation\":\"" : "", activation ? activation : "",
             activation ? "\"," : "");
    snprintf(name, sizeof name, "%s.json", activation ? activation : "linear");
    return write_text(dir, name, json);
}

Test(classify_cli, predict_probabilities_labels_and_eval_metrics) {
    char *dir = scratch_dir();
    /* z = x; rows (x, y) as in eval_classify_on_a_data_set_with_labels */
    char *data = write_text(dir, "d.csv", "x,y\n-2,0\n-1,1\n0.5,1\n3,0\n2,1\n");
    char *sig = model_file(dir, "sigmoid"), *step = model_file(dir, "step");
    char *lin = model_file(dir, NULL);
    run_result r;
    const char *pp[] = {"predict", "--model", sig, "--data", data, NULL};
    run_neuron(&r, pp);
    cr_assert_eq(r.status, 0, "%s", r.err);
    double p[5];
    cr_assert_eq(sscanf(r.out, "%lf %lf %lf %lf %lf", &p[0], &p[1], &p[2], &p[3], &p[4]), 5);
    const double x[5] = {-2, -1, 0.5, 3, 2};
    for (int i = 0; i < 5; i++)
        cr_assert(within_ulps(p[i], 1 / (1 + exp(-x[i])), 2), "row %d: %.17g", i, p[i]);
    run_free(&r);
    const char *pl[] = {"predict",  "--model",     sig,   "--data", data,
                        "--labels", "--threshold", "0.7", NULL};
    run_neuron(&r, pl);
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* sigmoid(0.5) = 0.62 is below 0.7 */
    cr_assert_str_eq(r.out, "0\n0\n0\n1\n1\n");
    run_free(&r);
    const char *ps[] = {"predict", "--model", step, "--data", data, NULL};
    run_neuron(&r, ps);
    cr_assert_str_eq(r.out, "0\n0\n1\n1\n1\n");
    run_free(&r);
    const char *ev[] = {"eval", "--model", sig, "--data", data, NULL};
    run_neuron(&r, ev);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j, "%s", r.out);
    /* tp 2, fn 1, fp 1, tn 1 (see the library test) */
    const json_t *cm = json_object_get(j, "confusion");
    cr_assert(number(cm, "tp") == 2 && number(cm, "fn") == 1 && number(cm, "fp") == 1 &&
              number(cm, "tn") == 1);
    cr_assert(number(j, "n") == 5 && number(j, "accuracy") == 0.6 &&
              number(j, "precision") == 2.0 / 3 && number(j, "recall") == 2.0 / 3);
    cr_assert(number(j, "roc_auc") == 0.5);
    const double ll =
        (log1p(exp(-2)) + log1p(exp(1)) + log1p(exp(-0.5)) + log1p(exp(3)) + log1p(exp(-2))) / 5;
    cr_assert(fabs(number(j, "log_loss") - ll) < 1e-15 * ll, "%.17g vs %.17g",
              number(j, "log_loss"), ll);
    cr_assert_eq(json_array_size(json_object_get(j, "warnings")), 0);
    json_decref(j);
    run_free(&r);
    /* a step model: no probabilities, so no log_loss or roc_auc */
    const char *es[] = {"eval", "--model", step, "--data", data, NULL};
    run_neuron(&r, es);
    cr_assert_eq(r.status, 0, "%s", r.err);
    j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j && !json_object_get(j, "log_loss") && !json_object_get(j, "roc_auc"));
    json_decref(j);
    run_free(&r);
    /* all-negative labels: recall undefined, named in the warnings */
    char *neg = write_text(dir, "neg.csv", "x,y\n-2,-1\n1,-1\n");
    const char *en[] = {"eval", "--model", sig, "--data", neg, NULL};
    run_neuron(&r, en);
    cr_assert_eq(r.status, 0, "%s", r.err);
    j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(json_is_null(json_object_get(j, "roc_auc")));
    const json_t *w = json_object_get(j, "warnings");
    cr_assert_eq(json_array_size(w), 2, "%s", r.out);
    cr_assert(strstr(json_string_value(json_array_get(w, 0)), "recall"));
    cr_assert(strstr(json_string_value(json_array_get(w, 1)), "roc_auc"));
    json_decref(j);
    run_free(&r);
    free(neg);
    free(data);
    free(sig);
    free(step);
    free(lin);
    free(dir);
}

Test(classify_cli, refuses_bad_labels_and_options_the_model_gives_no_meaning) {
    char *dir = scratch_dir();
    char *data = write_text(dir, "d.csv", "x,y\n-2,0\n-1,1\n0.5,0.5\n");
    char *sig = model_file(dir, "sigmoid"), *step = model_file(dir, "step");
    char *lin = model_file(dir, NULL);
    char out[4096];
    snprintf(out, sizeof out, "%s/p.csv", dir);
    struct {
        const char *args[12];
        int code;
        const char *frag;
    } cases[] = {
        {{"eval", "--model", sig, "--data", data, NULL}, 3, "row 3: label 0.5"},
        {{"eval", "--model", step, "--data", data, NULL}, 3, "d.csv: row 3"},
        {{"predict", "--model", lin, "--data", data, "--labels", "--out", out, NULL},
         2,
         "regression model"},
        {{"predict", "--model", step, "--data", data, "--labels", "--threshold", "0.2", "--out",
          out, NULL},
         2,
         "sigmoid models only"},
        {{"eval", "--model", lin, "--data", data, "--threshold", "0.2", NULL}, 2, "sigmoid"},
        {{"eval", "--model", sig, "--data", data, "--threshold", "2", NULL}, 2, "--threshold"},
        {{"predict", "--model", sig, "--data", data, "--threshold", "0.2", "--out", out, NULL},
         2,
         "give --labels too"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r;
        run_neuron(&r, cases[i].args);
        cr_assert_eq(r.status, cases[i].code, "case %zu: exit %d: %s", i, r.status, r.err);
        cr_assert_eq(count_lines(r.err), 1, "case %zu: %s", i, r.err);
        cr_assert(strstr(r.err, "neuron: error:") && strstr(r.err, cases[i].frag), "case %zu: %s",
                  i, r.err);
        cr_assert_eq(r.out_len, 0, "case %zu printed %s", i, r.out);
        cr_assert(access(out, F_OK) != 0, "case %zu wrote %s", i, out);
        run_free(&r);
    }
    free(data);
    free(sig);
    free(step);
    free(lin);
    free(dir);
}
