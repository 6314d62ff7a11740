/* The objectives: activation + loss, per row and per block (see
 * objective.h). Where "the logistic gradient" lives: nr_row_logistic
 * (objective.h) for one row, logistic4 (kernels_avx2.c) for four,
 * logistic8_f32 for eight f32 rows, and the per-sample rule below. */
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

/* The tutorial's rule itself (reference.c), bit for bit, on the table's
 * kernels (the same bits in each). */
static nr_status sgd_squared(const nr_kernels *k, const nr_data *d, double lr, int64_t epoch,
                             double *w, double *b, nr_error *err) {
    if (nr_sgd_epoch_with(k, d, lr, w, b, NULL, NULL) != NR_OK)
        return nr_fail(err, NR_ERR_DIVERGED,
                       "epoch %lld: a squared residual overflowed a double (lr %g): "
                       "training diverged",
                       (long long)epoch, lr);
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
static nr_grad_f32_fn perceptron_f32(const nr_kernels *k) {
    return k->perceptron_f32;
}
static nr_grad_f64_fn perceptron_f64(const nr_kernels *k) {
    return k->perceptron_f64;
}

/* Per-sample rule for a classifier, in data order: z = dot(w, x) + b with
 * the dot product in the reference's order (DOT below), r = phi(z) - y,
 * w_j -= lr r x_j, b -= lr r. For the perceptron that is w += lr (y - step(z)) x
 * (doc/reference.md); for the logistic loss, plain SGD on the binary
 * cross-entropy. Both keep every quantity bounded by |x| and lr, so only
 * non-finite weights (seen by the loop) end a run. One loop per row type
 * (the rows are f32 or f64 here: f16 rows reach sgd widened), so that no
 * value is fetched through a switch on the type, and the bias in a local:
 * the same operations in the same order as the definition. */

/* dot(w, x) in the per-sample order of every sgd rule (nr_sgd_epoch's
 * contract, doc/sgd-order.md): partial sums over the features j = c (mod 4),
 * each left to right, then (p0 + p1) + (p2 + p3); a missing partial is -0.0,
 * so d = 1..3 are plain left-to-right sums. */
#define DOT(T)                                                                                     \
    static inline double dot_##T(const T *x, const double *w, size_t f) {                          \
        double p[4] = {-0.0, -0.0, -0.0, -0.0};                                                    \
        const size_t head = f < 4 ? f : 4;                                                         \
        for (size_t j = 0; j < head; j++) p[j] = w[j] * (double)x[j];                              \
        for (size_t j = 4; j < f; j++) p[j & 3] = p[j & 3] + w[j] * (double)x[j];                  \
        return (p[0] + p[1]) + (p[2] + p[3]);                                                      \
    }
DOT(float)
DOT(double)

#define SGD_RULE(NAME, T, RESIDUAL)                                                                \
    static void NAME(const T *x, size_t rows, size_t f, double lr, double *w, double *b) {         \
        double bias = *b;                                                                          \
        for (size_t i = 0; i < rows; i++) {                                                        \
            const T *row = x + i * (f + 1);                                                        \
            const double r = RESIDUAL(dot_##T(row, w, f) + bias, (double)row[f]);                  \
            if (r == 0.0) continue; /* the perceptron's usual case: nothing moves */               \
            for (size_t j = 0; j < f; j++) w[j] -= lr * (r * (double)row[j]);                      \
            bias -= lr * r;                                                                        \
        }                                                                                          \
        *b = bias;                                                                                 \
    }
SGD_RULE(logistic_rule_f32, float, nr_residual_logistic)
SGD_RULE(logistic_rule_f64, double, nr_residual_logistic)
SGD_RULE(perceptron_rule_f32, float, nr_residual_perceptron)
SGD_RULE(perceptron_rule_f64, double, nr_residual_perceptron)

#define SGD_CLASSIFIER(NAME, F32, F64)                                                             \
    static nr_status NAME(const nr_kernels *k, const nr_data *d, double lr, int64_t epoch,         \
                          double *w, double *b, nr_error *err) {                                   \
        (void)k, (void)epoch, (void)err;                                                           \
        if (d->dtype == NR_F32)                                                                    \
            F32((const float *)d->values, d->rows, d->features, lr, w, b);                         \
        else                                                                                       \
            F64((const double *)d->values, d->rows, d->features, lr, w, b);                        \
        return NR_OK;                                                                              \
    }

SGD_CLASSIFIER(sgd_logistic, logistic_rule_f32, logistic_rule_f64)
SGD_CLASSIFIER(sgd_perceptron, perceptron_rule_f32, perceptron_rule_f64)

/* ---------------------------------------------------------------- table -- */

static const nr_objective squared = {
    .activation = NR_ACT_IDENTITY,
    .loss_name = "squared error",
    .gscale = 2.0,
    .has_hessian = true,
    .row = row_squared,
    .kernel_f32 = squared_f32,
    .kernel_f64 = squared_f64,
    .sgd_epoch = sgd_squared,
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
