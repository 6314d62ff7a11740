/* Ordinary least squares, or ridge with an L2 penalty, in closed form: the
 * statistics of one pass, solved by Cholesky (exact.c). It works on raw
 * features; its solve standardizes internally (a unit-free rank decision),
 * so without a penalty --standardize changes no number and a
 * standardization fitted for it is only recorded in the model. With --l2 the
 * penalty is on the standardized weights, so their scales enter the ridge
 * term. */
#include <stdlib.h>

#include "exact.h"
#include "train/train.h"

static nr_status ols_check(const nr_train_opts *o, const nr_objective *obj, nr_error *err) {
    (void)o;
    if (obj->activation != NR_ACT_IDENTITY)
        return nr_fail(err, NR_ERR_ARG,
                       "ols is the squared error's closed form (identity activation)");
    return NR_OK;
}

static nr_status ols_solve(nr_trainer *t, nr_error *err) {
    nr_stats st = {0};
    nr_status s = nr_stats_collect_on(t->p.k, t->d, 0, t->n_train, t->p.threads, t->p.part,
                                      t->o->should_stop, t->o->should_stop_ctx, &st, err);
    /* ridge: (l2/2)|v|^2 on the mean squared error makes the normal
     * equations (C + (l2 n / 2) S^2) w = cxy on raw weights, S the
     * standardization's scales (v = S w) or the identity */
    if (s == NR_OK && t->o->l2 > 0)
        for (size_t j = 0; j < st.d; j++)
            st.C[j * st.d + j] +=
                0.5 * t->o->l2 * (double)st.n * (t->std ? t->std[j] * t->std[j] : 1.0);
    if (s == NR_OK) s = nr_stats_solve(&st, t->v, &t->c, err);
    nr_stats_free(&st);
    t->rec_mean = t->mean, t->rec_std = t->std;
    t->mean = t->std = NULL;
    return s;
}

const nr_optimizer nr_opt_ols = {
    .name = "ols",
    .check = ols_check,
    .solve = ols_solve,
};
