/* Benchmark statistics: the one place that says what a figure's median,
 * quartiles and spread are, when it is noisy, and in which order compared
 * things are measured. bench/stats.py is the same definition for the Python
 * harness; tests/test_stats.c checks that the two agree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Type 7 quantile of sorted values: position p (n - 1), interpolated. */
static double quantile(const double *s, size_t n, double p) {
    const double h = p * (double)(n - 1);
    const size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return s[n - 1];
    return s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
}

nr_status nr_summarize(const double *v, size_t n, double noisy_above, nr_summary *out,
                       nr_error *err) {
    if (n == 0) return nr_fail(err, NR_ERR_ARG, "no values to summarise");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return nr_fail(err, NR_ERR_ARG, "value %zu of %zu is not finite (%g)", i + 1, n, v[i]);
    double *s = malloc(n * sizeof *s);
    if (!s) return nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu values", n);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->q1 = quantile(s, n, 0.25);
    out->median = quantile(s, n, 0.5);
    out->q3 = quantile(s, n, 0.75);
    free(s);
    const double iqr = out->q3 - out->q1;
    out->spread = out->median != 0 ? iqr / fabs(out->median) : iqr == 0 ? 0.0 : INFINITY;
    out->noisy = out->spread > noisy_above;
    return NR_OK;
}

void nr_measure_defaults(nr_measure_plan *p) {
    p->warmup = 1;
    p->reps = 10;
    p->max_rounds = 3;
    p->noisy_above = NR_NOISY_SPREAD;
    p->min_seconds = 0.0;
}

void nr_pair_free(nr_pair *p) {
    free(p->a);
    free(p->b);
    p->a = p->b = NULL;
    p->n = 0;
}

/* Summaries of the n pairs so far: a, b and the ratios b / a. */
static nr_status summarize_pairs(nr_pair *p, double noisy_above, double *ratio, nr_error *err) {
    for (size_t i = 0; i < p->n; i++) {
        if (!(p->a[i] > 0))
            return nr_fail(err, NR_ERR_INTERNAL, "measurement %zu took %g s: no ratio", i + 1,
                           p->a[i]);
        ratio[i] = p->b[i] / p->a[i];
    }
    nr_status s;
    if ((s = nr_summarize(p->a, p->n, noisy_above, &p->sa, err)) != NR_OK ||
        (s = nr_summarize(p->b, p->n, noisy_above, &p->sb, err)) != NR_OK)
        return s;
    return nr_summarize(ratio, p->n, noisy_above, &p->ratio, err);
}

enum { MAX_CALLS = 10000 }; /* per measurement, whatever min_seconds asks */

/* One measurement: fn once, or back to back until min_seconds, as the mean. */
static nr_status measure(nr_measure_fn fn, void *ctx, double min_seconds, double *seconds,
                         nr_error *err) {
    double sum = 0.0, t;
    int calls = 0;
    do {
        nr_status s = fn(ctx, &t, err);
        if (s != NR_OK) return s;
        sum += t, calls++;
    } while (sum < min_seconds && calls < MAX_CALLS);
    *seconds = sum / calls;
    return NR_OK;
}

nr_status nr_measure_pair(const nr_measure_plan *plan, nr_measure_fn a, void *actx, nr_measure_fn b,
                          void *bctx, nr_pair *out, nr_error *err) {
    memset(out, 0, sizeof *out);
    if (plan->warmup < 0 || plan->reps < 1 || plan->max_rounds < 1 ||
        plan->reps > 1000000 / plan->max_rounds || !(plan->noisy_above >= 0) ||
        !(plan->min_seconds >= 0 && plan->min_seconds <= 3600))
        return nr_fail(err, NR_ERR_ARG,
                       "measurement plan out of range: warmup %d (>= 0), reps %d (>= 1), rounds "
                       "%d (>= 1, reps x rounds <= 10^6), noisy above %g (>= 0), min seconds %g "
                       "(in [0, 3600])",
                       plan->warmup, plan->reps, plan->max_rounds, plan->noisy_above,
                       plan->min_seconds);
    const size_t cap = (size_t)plan->reps * (size_t)plan->max_rounds;
    out->a = malloc(cap * sizeof *out->a);
    out->b = malloc(cap * sizeof *out->b);
    double *ratio = malloc(cap * sizeof *ratio);
    nr_status s = NR_OK;
    if (!out->a || !out->b || !ratio) {
        s = nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu timings", cap);
        goto done;
    }
    double ta, tb;
    for (int w = 0; w < plan->warmup; w++)
        if ((s = measure(a, actx, plan->min_seconds, &ta, err)) != NR_OK ||
            (s = measure(b, bctx, plan->min_seconds, &tb, err)) != NR_OK)
            goto done;
    for (int r = 0; r < plan->max_rounds; r++) {
        for (int i = 0; i < plan->reps; i++) {
            if ((s = measure(a, actx, plan->min_seconds, &out->a[out->n], err)) != NR_OK ||
                (s = measure(b, bctx, plan->min_seconds, &out->b[out->n], err)) != NR_OK)
                goto done;
            out->n++;
        }
        out->rounds = r + 1;
        if ((s = summarize_pairs(out, plan->noisy_above, ratio, err)) != NR_OK) goto done;
        if (!out->ratio.noisy) break;
    }
done:
    free(ratio);
    if (s != NR_OK) nr_pair_free(out);
    return s;
}
