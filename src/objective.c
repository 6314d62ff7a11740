/* The objectives: activation + loss, per row and per block (see
 * objective.h). Where "the logistic gradient" lives: here for one row, in
 * the kernels for a block. */
#include <math.h>

#include "objective.h"

/* -------------------------------------------- identity: squared error -- */

static void row_squared(double z, double y, double *loss, double *r, double *h) {
    *r = z - y;
    *loss = *r * *r;
    *h = 2.0;
}

static nr_grad_f32_fn squared_f32(const nr_kernels *k) {
    return k->grad_f32;
}
static nr_grad_f64_fn squared_f64(const nr_kernels *k) {
    return k->grad_f64;
}

/* The tutorial's rule itself (reference.c), bit for bit. */
static nr_status sgd_squared(const nr_data *d, double lr, int64_t epoch, double *w, double *b,
                             nr_error *err) {
    if (nr_sgd_epoch(d, lr, w, b, NULL) != NR_OK)
        return nr_fail(err, NR_ERR_DIVERGED,
                       "epoch %lld: a squared residual overflowed a double; training "
                       "diverged: try a smaller --lr (now %g)",
                       (long long)epoch, lr);
    return NR_OK;
}

static const nr_objective squared = {
    .activation = NR_ACT_IDENTITY,
    .loss_name = "squared error",
    .gscale = 2.0,
    .row = row_squared,
    .kernel_f32 = squared_f32,
    .kernel_f64 = squared_f64,
    .sgd_epoch = sgd_squared,
};

const nr_objective *nr_objective_for(nr_activation a) {
    switch (a) {
    case NR_ACT_IDENTITY:
        return &squared;
    case NR_ACT_SIGMOID:
    case NR_ACT_STEP:
        break;
    }
    return NULL;
}
