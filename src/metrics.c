/* Prediction and evaluation of a saved model on a data set. Sums are taken
 * over fixed blocks and added in block order, like the trainer's, so the
 * numbers do not depend on the thread count. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

enum { BLOCK = 4096 };

static double value(const nr_data *d, size_t at) {
    return nr_value_at(d, at);
}

/* A prediction or a metric that overflowed: a numerical failure, never a
 * number to write (a file of "inf" is one neuron itself would refuse). */
static nr_status non_finite(nr_error *err, const char *what, size_t row, double v) {
    const char *is = isnan(v) ? "NaN" : (v < 0 ? "-Inf" : "Inf");
    if (row == SIZE_MAX)
        return nr_fail(err, NR_ERR_DIVERGED,
                       "%s is %s: the model's numbers overflow double precision on these data",
                       what, is);
    return nr_fail(err, NR_ERR_DIVERGED,
                   "row %zu: %s is %s: the model's numbers overflow double precision on this row",
                   row + 1, what, is);
}

static nr_status check_shape(const nr_model *m, const nr_data *d, bool need_target, size_t *stride,
                             nr_error *err) {
    *stride = d->features + 1;
    if (d->features == m->features) return NR_OK;
    if (!need_target && d->features + 1 == m->features) return NR_OK;
    return nr_fail(err, NR_ERR_INPUT,
                   "the data have %zu columns, the model has %zu features (expected %zu columns%s)",
                   d->features + 1, m->features, m->features + 1,
                   need_target ? ": features and a target" : ", or just the features");
}

static double predict_row(const nr_model *m, const nr_data *d, size_t i, size_t stride) {
    double p = m->bias;
    for (size_t j = 0; j < m->features; j++) p += m->weights[j] * value(d, i * stride + j);
    return p;
}

nr_status nr_predict(const nr_model *m, const nr_data *d, double *out, nr_error *err) {
    size_t stride;
    nr_status s = check_shape(m, d, false, &stride, err);
    if (s != NR_OK) return s;
    size_t first = SIZE_MAX;
#pragma omp parallel for schedule(static) reduction(min : first)
    for (size_t i = 0; i < d->rows; i++) {
        out[i] = nr_activate(m->activation, predict_row(m, d, i, stride));
        if (!isfinite(out[i]) && i < first) first = i;
    }
    return first == SIZE_MAX ? NR_OK : non_finite(err, "prediction", first, out[first]);
}

nr_status nr_eval(const nr_model *m, const nr_data *d, nr_metrics *out, nr_error *err) {
    if (m->activation != NR_ACT_IDENTITY)
        return nr_fail(err, NR_ERR_ARG, "a classifier's metrics come from nr_eval_classify");
    size_t stride;
    nr_status s = check_shape(m, d, true, &stride, err);
    if (s != NR_OK) return s;
    if (d->rows == 0) return nr_fail(err, NR_ERR_INPUT, "no rows to evaluate");
    const size_t n = d->rows, nb = (n + BLOCK - 1) / BLOCK, k = m->features;
    double *part = calloc(nb * 4, sizeof *part);
    if (!part) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    size_t first = SIZE_MAX; /* the first row whose prediction is not finite */
    /* pass 1: sum of y; pass 2: squared and absolute errors, sum (y - mean)^2 */
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nb; b++) {
        double sy = 0;
        for (size_t i = b * BLOCK; i < n && i < (b + 1) * BLOCK; i++)
            sy += value(d, i * stride + k);
        part[4 * b] = sy;
    }
    double sy = 0;
    for (size_t b = 0; b < nb; b++) sy += part[4 * b];
    const double ybar = sy / (double)n;
#pragma omp parallel for schedule(static) reduction(min : first)
    for (size_t b = 0; b < nb; b++) {
        double se = 0, ae = 0, st = 0;
        for (size_t i = b * BLOCK; i < n && i < (b + 1) * BLOCK; i++) {
            double y = value(d, i * stride + k), p = predict_row(m, d, i, stride), e = p - y;
            if (!isfinite(p) && i < first) first = i;
            se += e * e, ae += fabs(e), st += (y - ybar) * (y - ybar);
        }
        part[4 * b + 1] = se, part[4 * b + 2] = ae, part[4 * b + 3] = st;
    }
    double se = 0, ae = 0, st = 0;
    for (size_t b = 0; b < nb; b++)
        se += part[4 * b + 1], ae += part[4 * b + 2], st += part[4 * b + 3];
    free(part);
    if (first != SIZE_MAX) {
        double p = predict_row(m, d, first, stride);
        return non_finite(err, "prediction", first, p);
    }
    nr_metrics r = {.n = n, .mse = se / (double)n, .mae = ae / (double)n};
    r.rmse = sqrt(r.mse);
    r.r2 = st > 0 ? 1.0 - se / st : NAN;
    /* finite predictions whose squared errors overflow: no metric to give */
    if (!isfinite(r.mse)) return non_finite(err, "the mean squared error", SIZE_MAX, r.mse);
    if (!isfinite(r.mae)) return non_finite(err, "the mean absolute error", SIZE_MAX, r.mae);
    if (st > 0 && !isfinite(st)) return non_finite(err, "the target's variance", SIZE_MAX, st);
    *out = r;
    return NR_OK;
}
