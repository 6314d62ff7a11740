/* Classification with one neuron: the activations applied to w.x + b,
 * predicted labels, and the metrics of binary classifiers with the
 * definitions of scikit-learn 1.2 (sklearn/metrics/_classification.py and
 * _ranking.py), so that users can check one against the other.
 *
 * Sums are taken over fixed blocks of rows, added in block order, and counts
 * are integers: results do not depend on the thread count. ROC AUC is the
 * Mann-Whitney statistic counted exactly in integers from the two classes'
 * scores, each sorted by a radix sort (O(n), no comparisons). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { BLOCK = 4096 };

/* ------------------------------------------------------------ activations -- */

/* 1 / (1 + exp(-z)) in the form whose exp cannot overflow: exp of a
 * non-positive number only. */
static double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    const double e = exp(z);
    return e / (1.0 + e);
}

double nr_activate(nr_activation a, double z) {
    switch (a) {
    case NR_ACT_SIGMOID:
        return sigmoid(z);
    case NR_ACT_STEP:
        return z > 0 ? 1.0 : 0.0;
    case NR_ACT_IDENTITY:
        break;
    }
    return z;
}

nr_status nr_predict_labels(const nr_model *m, const nr_data *d, double threshold, double *out,
                            nr_error *err) {
    if (m->activation == NR_ACT_IDENTITY)
        return nr_fail(err, NR_ERR_ARG, "a regression model (activation identity) has no labels");
    if (!(threshold >= 0 && threshold <= 1))
        return nr_fail(err, NR_ERR_ARG, "threshold %g is outside [0, 1]", threshold);
    nr_status s = nr_predict(m, d, out, err);
    if (s != NR_OK || m->activation == NR_ACT_STEP) return s;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < d->rows; i++) out[i] = out[i] > threshold ? 1.0 : 0.0;
    return NR_OK;
}

/* ---------------------------------------------------------------- checks -- */

const char *nr_class_warning_str(unsigned bit) {
    switch (bit) {
    case NR_WARN_PRECISION:
        return "precision is undefined (no predicted positives) and set to 0";
    case NR_WARN_RECALL:
        return "recall is undefined (no positive labels) and set to 0";
    case NR_WARN_F1:
        return "f1 is undefined (neither positive labels nor positive predictions) and set to 0";
    case NR_WARN_ROC_AUC:
        return "roc_auc is undefined (the labels hold one class only)";
    }
    return NULL;
}

/* Labels are 0/1 or -1/+1 throughout; the first row that breaks this is
 * named (1-based, as the readers count rows). */
static nr_status check_labels(const double *y, size_t n, nr_error *err) {
    size_t first_zero = SIZE_MAX, first_minus = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const double v = y[i];
        if (v == 1) continue;
        if (v == 0 && first_minus == SIZE_MAX) {
            if (first_zero == SIZE_MAX) first_zero = i;
        } else if (v == -1 && first_zero == SIZE_MAX) {
            if (first_minus == SIZE_MAX) first_minus = i;
        } else if (v == 0 || v == -1) {
            const size_t other = v == 0 ? first_minus : first_zero;
            return nr_fail(err, NR_ERR_INPUT,
                           "row %zu: label %g mixes 0/1 and -1/+1 labels (row %zu holds %g)", i + 1,
                           v, other + 1, v == 0 ? -1.0 : 0.0);
        } else {
            return nr_fail(err, NR_ERR_INPUT,
                           "row %zu: label %.17g is not a class label (expected 0/1 or -1/+1)",
                           i + 1, v);
        }
    }
    return NR_OK;
}

static nr_status check_scores(const double *p, size_t n, bool probabilities, nr_error *err) {
    for (size_t i = 0; i < n; i++) {
        const double v = p[i];
        if (probabilities ? !(v >= 0 && v <= 1) : !(v == 0 || v == 1))
            return nr_fail(err, NR_ERR_ARG, "row %zu: prediction %.17g is not %s", i + 1, v,
                           probabilities ? "a probability in [0, 1]" : "a label 0 or 1");
    }
    return NR_OK;
}

/* --------------------------------------------------------------- roc auc -- */

/* Unsigned integers in the order of the doubles (finite, -0 made +0):
 * flip every bit of negatives, the sign bit of the others. */
static uint64_t order_key(double v) {
    uint64_t u;
    v += 0.0;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : u | 0x8000000000000000ULL;
}

/* LSD radix sort of `n` keys by 16-bit digits, `tmp` of n keys as scratch;
 * a digit that every key shares is skipped (probabilities share their top
 * bits). The result is in `a`. */
static void radix_sort(uint64_t *a, uint64_t *tmp, size_t n, size_t *count) {
    for (unsigned shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(a[i] >> shift) & 0xffff]++;
        if (n == 0 || count[(a[0] >> shift) & 0xffff] == n) continue;
        size_t sum = 0;
        for (size_t k = 0; k < 65536; k++) {
            const size_t c = count[k];
            count[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 0xffff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
}

/* P(score of a positive > score of a negative) + P(tie) / 2 over all pairs:
 * twice the Mann-Whitney U, sum over positives of (negatives below) +
 * (negatives below or equal), is an integer, exact in 128 bits. */
static nr_status roc_auc(const double *y, const double *p, size_t n, size_t npos, double *auc,
                         nr_error *err) {
    const size_t nneg = n - npos;
    uint64_t *pos = malloc(npos * sizeof *pos), *neg = malloc(nneg * sizeof *neg);
    uint64_t *tmp = malloc((npos > nneg ? npos : nneg) * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!pos || !neg || !tmp || !count) {
        free(pos), free(neg), free(tmp), free(count);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the ROC AUC of %zu rows", n);
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 1)
            pos[a++] = order_key(p[i]);
        else
            neg[b++] = order_key(p[i]);
    }
    radix_sort(pos, tmp, npos, count);
    radix_sort(neg, tmp, nneg, count);
    unsigned __int128 twice_u = 0;
    size_t below = 0, upto = 0;
    for (size_t i = 0; i < npos; i++) {
        while (below < nneg && neg[below] < pos[i]) below++;
        if (upto < below) upto = below;
        while (upto < nneg && neg[upto] <= pos[i]) upto++;
        twice_u += (unsigned __int128)below + upto;
    }
    *auc = (double)twice_u / (2.0 * (double)npos * (double)nneg);
    free(pos), free(neg), free(tmp), free(count);
    return NR_OK;
}

/* ---------------------------------------------------------------- metrics -- */

/* Per block: confusion counts and the summed log loss. */
typedef struct {
    uint64_t tp, fp, tn, fn;
    double loss;
} block_sums;

/* -log of the probability sklearn gives the true class: p clipped to
 * [eps, 1 - eps], then [1 - p, p] divided by its sum (which rounding can
 * move off 1). */
static double log_loss_term(double y, double p) {
    const double eps = DBL_EPSILON;
    p = p < eps ? eps : (p > 1 - eps ? 1 - eps : p);
    const double q0 = 1 - p, sum = q0 + p;
    return -log((y == 1 ? p : q0) / sum);
}

nr_status nr_class_metrics_compute(const double *labels, const double *scores, size_t n,
                                   bool probabilities, double threshold, nr_class_metrics *out,
                                   nr_error *err) {
    if (n == 0) return nr_fail(err, NR_ERR_INPUT, "no rows to evaluate");
    if (probabilities && !(threshold >= 0 && threshold <= 1))
        return nr_fail(err, NR_ERR_ARG, "threshold %g is outside [0, 1]", threshold);
    nr_status s = check_labels(labels, n, err);
    if (s == NR_OK) s = check_scores(scores, n, probabilities, err);
    if (s != NR_OK) return s;
    const size_t nb = (n + BLOCK - 1) / BLOCK;
    block_sums *part = calloc(nb, sizeof *part);
    if (!part) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nb; b++) {
        block_sums t = {0, 0, 0, 0, 0.0};
        const size_t end = (b + 1) * BLOCK < n ? (b + 1) * BLOCK : n;
        for (size_t i = b * BLOCK; i < end; i++) {
            const bool truth = labels[i] == 1;
            const bool pred = probabilities ? scores[i] > threshold : scores[i] == 1;
            t.tp += truth && pred, t.fn += truth && !pred;
            t.fp += !truth && pred, t.tn += !truth && !pred;
            if (probabilities) t.loss += log_loss_term(labels[i], scores[i]);
        }
        part[b] = t;
    }
    nr_class_metrics r;
    memset(&r, 0, sizeof r);
    double loss = 0;
    for (size_t b = 0; b < nb; b++) {
        r.tp += part[b].tp, r.fp += part[b].fp, r.tn += part[b].tn, r.fn += part[b].fn;
        loss += part[b].loss;
    }
    free(part);
    r.n = n;
    r.accuracy = (double)(r.tp + r.tn) / (double)n;
    if (r.tp + r.fp > 0)
        r.precision = (double)r.tp / (double)(r.tp + r.fp);
    else
        r.warnings |= NR_WARN_PRECISION;
    if (r.tp + r.fn > 0)
        r.recall = (double)r.tp / (double)(r.tp + r.fn);
    else
        r.warnings |= NR_WARN_RECALL;
    if ((r.warnings & NR_WARN_PRECISION) && (r.warnings & NR_WARN_RECALL)) r.warnings |= NR_WARN_F1;
    const double pr = r.precision + r.recall;
    r.f1 = pr > 0 ? 2 * r.precision * r.recall / pr : 0.0;
    r.log_loss = r.roc_auc = NAN;
    if (probabilities) {
        r.log_loss = loss / (double)n;
        const size_t npos = (size_t)(r.tp + r.fn);
        if (npos == 0 || npos == n)
            r.warnings |= NR_WARN_ROC_AUC;
        else if ((s = roc_auc(labels, scores, n, npos, &r.roc_auc, err)) != NR_OK)
            return s;
    }
    *out = r;
    return NR_OK;
}

nr_status nr_eval_classify(const nr_model *m, const nr_data *d, double threshold,
                           nr_class_metrics *out, nr_error *err) {
    if (m->activation == NR_ACT_IDENTITY)
        return nr_fail(err, NR_ERR_ARG,
                       "a regression model (activation identity) has no classification metrics");
    if (d->features != m->features)
        return nr_fail(err, NR_ERR_INPUT,
                       "the data have %zu columns, the model has %zu features (expected %zu "
                       "columns: features and a target)",
                       d->features + 1, m->features, m->features + 1);
    if (d->rows == 0) return nr_fail(err, NR_ERR_INPUT, "no rows to evaluate");
    const size_t n = d->rows, cols = d->features + 1;
    double *p = malloc(n * sizeof *p), *y = malloc(n * sizeof *y);
    if (!p || !y) {
        free(p), free(y);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu predictions", n);
    }
    nr_status s = nr_predict(m, d, p, err);
    if (s == NR_OK) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) y[i] = nr_value_at(d, i * cols + d->features);
        s = nr_class_metrics_compute(y, p, n, m->activation == NR_ACT_SIGMOID, threshold, out, err);
    }
    free(p), free(y);
    return s;
}
