/* Ordinary least squares in closed form: the statistics of one pass,
 * solved by Cholesky (exact.c). It works on raw features; its solve
 * standardizes internally (a unit-free rank decision), so --standardize
 * changes no number: a standardization fitted for it is only recorded in
 * the model. */
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
    nr_status s = nr_stats_collect(t->p.k, t->d, 0, t->n_train, t->p.threads, t->o->should_stop,
                                   t->o->should_stop_ctx, &st, err);
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
