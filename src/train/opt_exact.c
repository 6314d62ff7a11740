/* Exact epochs for the squared error (doc/exact.md): one pass collects the
 * least-squares statistics of the training and held-out rows (exact.c), and
 * every later epoch costs O(d^2) instead of a pass. batch takes its
 * gradient from the statistics; sgd applies the affine map of one epoch of
 * the per-sample rule in data order (affine.c), built once. Losses, the
 * training one and the validation one, come from the statistics too. */
#include <stdlib.h>
#include <string.h>

#include "affine.h"
#include "exact.h"
#include "train/train.h"

typedef struct {
    nr_stats st, vst; /* training and held-out rows */
    nr_affine E;      /* sgd: one epoch of the per-sample rule */
    double *s, *s1;   /* sgd: the state (v, c) and its image; batch: dL/dv */
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
    free(x);
}

static nr_status stats_init(nr_trainer *t, exact **out, nr_error *err) {
    exact *x = calloc(1, sizeof *x);
    if (!x) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    *out = x;
    const nr_data *d = t->d;
    nr_status s =
        nr_stats_collect_on(t->p.k, d, 0, t->n_train, t->p.threads, t->p.part, &x->st, err);
    if (s == NR_OK && t->n_val)
        s = nr_stats_collect_on(t->p.k, d, t->n_train, d->rows, t->p.threads, t->p.part, &x->vst,
                                err);
    if (s != NR_OK) return s;
    if (t->mean) {
        standardize_stats(&x->st, t->mean, t->std);
        if (t->n_val) standardize_stats(&x->vst, t->mean, t->std);
    }
    x->s = malloc(2 * (t->f + 1) * sizeof *x->s);
    if (!x->s) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    x->s1 = x->s + t->f + 1;
    return NR_OK;
}

static nr_status batch_exact_init(nr_trainer *t, void **state, nr_error *err) {
    const double ts = nr_now_seconds();
    nr_status s = stats_init(t, (exact **)state, err);
    t->setup_seconds = nr_now_seconds() - ts;
    return s;
}

static nr_status sgd_exact_init(nr_trainer *t, void **state, nr_error *err) {
    const double ts = nr_now_seconds();
    nr_status s = stats_init(t, (exact **)state, err);
    exact *x = *state;
    if (s == NR_OK) {
        /* the rows the reference rule would walk, in the same order */
        nr_data view;
        double *owned;
        if ((s = nr_trainer_rows(t, &view, &owned, err)) != NR_OK) return s;
        if ((s = nr_affine_init(&x->E, t->f, err)) == NR_OK)
            s = nr_affine_epoch(&view, 0, t->n_train, t->o->lr, t->p.threads, &x->E, err);
        free(owned);
    }
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
    (void)e, (void)stop, (void)err;
    exact *x = state;
    const size_t f = t->f;
    *loss = nr_stats_mse(&x->st, t->v, t->c);
    memcpy(x->s, t->v, f * sizeof *x->s);
    x->s[f] = t->c;
    nr_affine_apply(&x->E, x->s, x->s1);
    memcpy(t->v, x->s1, f * sizeof *t->v);
    t->c = x->s1[f];
    return NR_OK;
}

static double exact_val_loss(nr_trainer *t, void *state) {
    exact *x = state;
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
