/* The objectives: activation + loss, per row and per block (see
 * objective.h). Where "the logistic gradient" lives: nr_row_logistic
 * (objective.h) for one row, logistic4 (kernels_avx2.c) for four,
 * logistic8_f32 for eight f32 rows, and the per-sample rule in
 * kernels_scalar.c (its definition) and kernels_sgd_avx2.c. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

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
static nr_grad_f32_fn squared_loss_f32(const nr_kernels *k) {
    return k->loss_f32;
}
static nr_grad_f64_fn squared_loss_f64(const nr_kernels *k) {
    return k->loss_f64;
}

static nr_status squared_diverged(nr_error *err, int64_t epoch, double lr) {
    return nr_fail(err, NR_ERR_DIVERGED,
                   "epoch %lld: a squared residual overflowed a double (lr %g): "
                   "training diverged",
                   (long long)epoch, lr);
}
/* The tutorial's rule itself (reference.c), bit for bit, on the table's
 * kernels (the same bits in each); and with the loss pass walked beside
 * it, the loss kernels' bits. */
static nr_status sgd_squared(const nr_kernels *k, const nr_data *d, double lr, int64_t epoch,
                             double *w, double *b, nr_error *err) {
    if (nr_sgd_epoch_with(k, d, lr, w, b, NULL, NULL) != NR_OK)
        return squared_diverged(err, epoch, lr);
    return NR_OK;
}
static nr_status sgd_squared_loss(const nr_kernels *k, const nr_data *d, double lr, int64_t epoch,
                                  double *w, double *b, const double *w0, double b0, double *out,
                                  nr_error *err) {
    if (nr_sgd_epoch_loss_with(k, d, lr, w, b, w0, b0, out, NULL) != NR_OK)
        return squared_diverged(err, epoch, lr);
    return NR_OK;
}

/* --------------------------------- sigmoid: logistic, step: perceptron -- */

static void row_logistic(double z, double y, double *loss, double *r, double *h) {
    nr_row_logistic(z, y, loss, r);
    /* sigmoid(z) (1 - sigmoid(z)) = e / (1 + e)^2, e = exp(-|z|): no
     * cancellation in either tail */
    const double e = exp(-fabs(z));
    *h = e / ((1.0 + e) * (1.0 + e));
}

static void row_perceptron(double z, double y, double *loss, double *r, double *h) {
    nr_row_perceptron(z, y, loss, r);
    *h = 0.0;
}

static nr_grad_f32_fn logistic_f32(const nr_kernels *k) {
    return k->logistic_f32;
}
static nr_grad_f64_fn logistic_f64(const nr_kernels *k) {
    return k->logistic_f64;
}
static nr_grad_f32_fn logistic_loss_f32(const nr_kernels *k) {
    return k->logistic_loss_f32;
}
static nr_grad_f64_fn logistic_loss_f64(const nr_kernels *k) {
    return k->logistic_loss_f64;
}
static nr_grad_f32_fn perceptron_f32(const nr_kernels *k) {
    return k->perceptron_f32;
}
static nr_grad_f64_fn perceptron_f64(const nr_kernels *k) {
    return k->perceptron_f64;
}

/* Per-sample rule for a classifier: the table's kernel for it (the
 * definition is the scalar one, kernels_scalar.c; f16 rows reach sgd
 * widened, so the rows are f32 or f64 here). */
#define SGD_CLASSIFIER(NAME, F32, F64)                                                             \
    static nr_status NAME(const nr_kernels *k, const nr_data *d, double lr, int64_t epoch,         \
                          double *w, double *b, nr_error *err) {                                   \
        (void)epoch, (void)err;                                                                    \
        if (d->dtype == NR_F32)                                                                    \
            k->F32((const float *)d->values, d->rows, d->features, lr, w, b);                      \
        else                                                                                       \
            k->F64((const double *)d->values, d->rows, d->features, lr, w, b);                     \
        return NR_OK;                                                                              \
    }

SGD_CLASSIFIER(sgd_logistic, sgd_logistic_f32, sgd_logistic_f64)
SGD_CLASSIFIER(sgd_perceptron, sgd_perceptron_f32, sgd_perceptron_f64)

/* ---------------------------------------------------------------- table -- */

static const nr_objective squared = {
    .activation = NR_ACT_IDENTITY,
    .loss_name = "squared error",
    .gscale = 2.0,
    .has_hessian = true,
    .row = row_squared,
    .kernel_f32 = squared_f32,
    .kernel_f64 = squared_f64,
    .loss_kernel_f32 = squared_loss_f32,
    .loss_kernel_f64 = squared_loss_f64,
    .sgd_epoch = sgd_squared,
    .sgd_epoch_loss = sgd_squared_loss,
};

static const nr_objective logistic = {
    .activation = NR_ACT_SIGMOID,
    .loss_name = "logistic loss",
    .gscale = 1.0,
    .labels01 = true,
    .has_hessian = true,
    .unbounded_if_separable = true,
    .row = row_logistic,
    .kernel_f32 = logistic_f32,
    .kernel_f64 = logistic_f64,
    .loss_kernel_f32 = logistic_loss_f32,
    .loss_kernel_f64 = logistic_loss_f64,
    .sgd_epoch = sgd_logistic,
};

static const nr_objective perceptron = {
    .activation = NR_ACT_STEP,
    .loss_name = "perceptron criterion",
    .gscale = 1.0,
    .labels01 = true,
    .row = row_perceptron,
    .kernel_f32 = perceptron_f32,
    .kernel_f64 = perceptron_f64,
    .sgd_epoch = sgd_perceptron,
};

static nr_gradp_f32_fn huber_f32(const nr_kernels *k) {
    return k->huber_f32;
}
static nr_gradp_f64_fn huber_f64(const nr_kernels *k) {
    return k->huber_f64;
}

/* Not twice differentiable at |r| = delta: newton refuses it. */
static const nr_objective huber = {
    .activation = NR_ACT_IDENTITY,
    .loss_name = "huber loss",
    .gscale = 1.0,
    .kernelp_f32 = huber_f32,
    .kernelp_f64 = huber_f64,
};

const nr_objective *nr_objective_huber(void) {
    return &huber;
}

const nr_objective *nr_objective_for(nr_activation a) {
    switch (a) {
    case NR_ACT_IDENTITY:
        return &squared;
    case NR_ACT_SIGMOID:
        return &logistic;
    case NR_ACT_STEP:
        return &perceptron;
    }
    return NULL;
}

/* --------------------------------------------------------------- labels -- */

void nr_labels_scan(const nr_data *d, size_t first[3], double *bad) {
    const size_t st = d->features + 1;
    first[0] = first[1] = first[2] = SIZE_MAX;
    *bad = 0;
    for (size_t i = 0; i < d->rows; i++) {
        const double y = nr_value_at(d, i * st + d->features);
        if (y == 1.0) continue;
        const int kind = y == -1.0 ? 1 : y == 0.0 ? 2 : 0;
        if (first[kind] == SIZE_MAX) first[kind] = i;
        if (kind == 0) {
            *bad = y;
            break;
        }
    }
}

nr_status nr_labels_verdict(const size_t first[3], double bad_value, nr_error *err) {
    const size_t bad = first[0], neg = first[1], zero = first[2];
    /* the first offence in row order: a value that is no label, or the
     * first row of the second encoding */
    const size_t mixed = neg != SIZE_MAX && zero != SIZE_MAX ? (neg > zero ? neg : zero) : SIZE_MAX;
    if (bad == SIZE_MAX && mixed == SIZE_MAX) return NR_OK;
    if (bad <= mixed)
        return nr_fail(err, NR_ERR_INPUT,
                       "row %zu: target %.17g is not a class label (expected 0/1 or -1/+1)",
                       bad + 1, bad_value);
    return nr_fail(err, NR_ERR_INPUT,
                   "row %zu: target %g mixes label encodings (row %zu has %g; expected all 0/1 "
                   "or all -1/+1)",
                   mixed + 1, mixed == neg ? -1.0 : 0.0, (mixed == neg ? zero : neg) + 1,
                   mixed == neg ? 0.0 : -1.0);
}
