/* Exact epochs for the squared error (doc/exact.md): one pass collects the
 * least-squares statistics of the training and held-out rows (exact.c), and
 * every later epoch costs O(d^2) instead of a pass. batch takes its
 * gradient from the statistics; sgd applies the affine map of one epoch of
 * the per-sample rule in data order (affine.c), built once. Losses, the
 * training one and the validation one, come from the statistics too,
 * expanded about the least-squares optimum (one more pass) so that they keep
 * their digits near it. sgd near its stability limit runs the per-sample
 * epochs instead (exact_fallback): there the maps cannot agree with them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "affine.h"
#include "exact.h"
#include "train/train.h"

typedef struct {
    nr_stats st, vst; /* training and held-out rows */
    nr_affine E;      /* sgd: one epoch of the per-sample rule */
    double *s, *s1;   /* sgd: the state (v, c) and its image; batch: dL/dv */
    nr_data view;     /* sgd fallback: the rows the per-sample rule walks */
    double *owned;    /* their standardized copy, or NULL */
    bool fallback;    /* sgd near its stability limit: the per-sample epochs */
} exact;

static nr_status exact_check(const nr_train_opts *o, const nr_objective *obj, nr_error *err) {
    (void)o;
    if (obj->activation != NR_ACT_IDENTITY)
        return nr_fail(err, NR_ERR_ARG,
                       "exact epochs need the squared error (identity activation)");
    return NR_OK;
}

/* Statistics of raw features -> those of standardized ones, x' = (x - m) / s. */
static void standardize_stats(nr_stats *st, const double *m, const double *sd) {
    const size_t d = st->d;
    for (size_t a = 0; a < d; a++) {
        st->mean[a] = (st->mean[a] - m[a]) / sd[a];
        st->cxy[a] /= sd[a];
        for (size_t b = 0; b < d; b++) st->C[a * d + b] /= sd[a] * sd[b];
    }
}

static void exact_finish(void *state) {
    exact *x = state;
    if (!x) return;
    nr_stats_free(&x->st);
    nr_stats_free(&x->vst);
    nr_affine_free(&x->E);
    free(x->s);
    free(x->owned);
    free(x);
}

/* Expand the loss of `st` about the least-squares optimum of the training
 * statistics `train` (or about the start point if there is none), from one
 * pass of residuals there over rows [r0, r1), so that losses near the
 * optimum are not differences of large sums (exact.h). */
static nr_status exact_reference(nr_trainer *t, const nr_stats *train, nr_stats *st, size_t r0,
                                 size_t r1, nr_error *err) {
    const size_t f = t->f;
    double *s0 = malloc(2 * (f + 1) * sizeof *s0), *g0 = s0 ? s0 + f + 1 : NULL;
    if (!s0) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    double *v = t->v, c = t->c;
    for (int tries = 0; tries < 2; tries++) {
        if (tries || nr_stats_solve(train, s0, &s0[f], NULL) != NR_OK) {
            memcpy(s0, v, f * sizeof *s0);
            s0[f] = c;
        }
        /* the pass at s0: the trainer's parameters lent to it */
        t->v = s0, t->c = s0[f];
        nr_trainer_sums(t, r0, r1);
        t->v = v, t->c = c;
        if (isfinite(t->sums[f + 1])) break;
    }
    for (size_t j = 0; j < f; j++) /* sums of r x' for standardized x' = (x - m) / s */
        g0[j] = t->mean ? (t->sums[j] - t->mean[j] * t->sums[f]) / t->std[j] : t->sums[j];
    g0[f] = t->sums[f];
    nr_status s = nr_stats_set_reference(st, s0, t->sums[f + 1], g0, err);
    free(s0);
    return s;
}

static nr_status stats_init(nr_trainer *t, exact *x, nr_error *err) {
    const nr_data *d = t->d;
    nr_stop_fn stop = t->o->should_stop;
    void *ctx = t->o->should_stop_ctx;
    nr_status s = nr_stats_collect_on(t->p.k, d, 0, t->n_train, t->p.threads, t->p.part, stop, ctx,
                                      &x->st, err);
    if (s == NR_OK) s = nr_stats_check_finite(&x->st, err);
    if (s == NR_OK && t->n_val)
        s = nr_stats_collect_on(t->p.k, d, t->n_train, d->rows, t->p.threads, t->p.part, stop, ctx,
                                &x->vst, err);
    if (s != NR_OK) return s;
    if (t->mean) {
        standardize_stats(&x->st, t->mean, t->std);
        if (t->n_val) standardize_stats(&x->vst, t->mean, t->std);
    }
    if ((s = exact_reference(t, &x->st, &x->st, 0, t->n_train, err)) != NR_OK ||
        (t->n_val && (s = exact_reference(t, &x->st, &x->vst, t->n_train, d->rows, err)) != NR_OK))
        return s;
    x->s = malloc(2 * (t->f + 1) * sizeof *x->s);
    if (!x->s) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    x->s1 = x->s + t->f + 1;
    return NR_OK;
}

static nr_status exact_alloc(void **state, nr_error *err) {
    exact *x = calloc(1, sizeof *x);
    if (!x) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    *state = x;
    return NR_OK;
}

static nr_status batch_exact_init(nr_trainer *t, void **state, nr_error *err) {
    const double ts = nr_now_seconds();
    nr_status s = exact_alloc(state, err);
    if (s == NR_OK) s = stats_init(t, *state, err);
    t->setup_seconds = nr_now_seconds() - ts;
    return s;
}

static nr_status sgd_exact_init(nr_trainer *t, void **state, nr_error *err) {
    const double ts = nr_now_seconds();
    nr_status s = exact_alloc(state, err);
    if (s != NR_OK) return s;
    exact *x = *state;
    /* the rows the reference rule walks, in the same order */
    if ((s = nr_trainer_rows(t, &x->view, &x->owned, err)) != NR_OK) return s;
    /* near its stability limit rounding inside an epoch grows beyond what
     * the maps and the per-sample run can agree on (affine.h); the
     * per-sample run is the reference, so it runs instead, without the
     * statistics it would not use */
    if (nr_affine_amplification(&x->view, 0, t->n_train, t->o->lr) > NR_AFFINE_MAX_AMPLIFICATION) {
        x->fallback = t->exact_fallback = true;
        return NR_OK;
    }
    if ((s = stats_init(t, x, err)) == NR_OK && (s = nr_affine_init(&x->E, t->f, err)) == NR_OK)
        s = nr_affine_epoch(&x->view, 0, t->n_train, t->o->lr, t->p.threads, t->o->should_stop,
                            t->o->should_stop_ctx, &x->E, err);
    free(x->owned); /* the map holds what the epochs need of the rows */
    x->owned = NULL;
    t->setup_seconds = nr_now_seconds() - ts;
    return s;
}

static nr_status batch_exact_epoch(nr_trainer *t, void *state, int64_t e, double *loss,
                                   const char **stop, nr_error *err) {
    (void)e, (void)stop, (void)err;
    exact *x = state;
    *loss = nr_stats_mse(&x->st, t->v, t->c);
    double gc;
    nr_stats_grad(&x->st, t->v, t->c, x->s, &gc);
    /* the L2 term of the penalty on (v, c) (statistics already standardized) */
    if (t->o->l2 > 0)
        for (size_t j = 0; j < t->f; j++) x->s[j] += t->o->l2 * t->v[j];
    for (size_t j = 0; j < t->f; j++) t->v[j] -= t->lr * x->s[j];
    t->c -= t->lr * gc;
    return NR_OK;
}

static nr_status sgd_exact_epoch(nr_trainer *t, void *state, int64_t e, double *loss,
                                 const char **stop, nr_error *err) {
    (void)stop;
    exact *x = state;
    if (x->fallback) return nr_trainer_sgd_epoch(t, &x->view, e, loss, err);
    const size_t f = t->f;
    *loss = nr_stats_mse(&x->st, t->v, t->c);
    memcpy(x->s, t->v, f * sizeof *x->s);
    x->s[f] = t->c;
    nr_status s = nr_affine_step(&x->E, x->s, x->s1, e, err);
    if (s != NR_OK) return s;
    memcpy(t->v, x->s1, f * sizeof *t->v);
    t->c = x->s1[f];
    return NR_OK;
}

static double exact_val_loss(nr_trainer *t, void *state) {
    exact *x = state;
    if (x->fallback) return nr_trainer_loss(t, t->n_train, t->d->rows);
    return nr_stats_mse(&x->vst, t->v, t->c);
}

const nr_optimizer nr_opt_batch_exact = {
    .name = "batch --exact",
    .check = exact_check,
    .init = batch_exact_init,
    .epoch = batch_exact_epoch,
    .val_loss = exact_val_loss,
    .finish = exact_finish,
};

const nr_optimizer nr_opt_sgd_exact = {
    .name = "sgd --exact",
    .check = exact_check,
    .init = sgd_exact_init,
    .epoch = sgd_exact_epoch,
    .val_loss = exact_val_loss,
    .finish = exact_finish,
};
