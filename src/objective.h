/* The objective: an activation phi and the loss that goes with it, as one
 * small table per pair (LIBLINEAR's `function`, scikit-learn's
 * LossFunction). Every objective here has the same shape: with z = w.x + b,
 * the per-row "residual" r = phi(z) - y, the gradient of the row's loss with
 * respect to z is gscale * r, so the gradient of the mean loss over n rows is
 * (gscale / n) sum r (x, 1). The kernels (kernels.h) compute those sums for
 * a block of rows; the per-row functions here are the scalar definition
 * that the kernels and the per-sample rule follow. Not installed. */
#ifndef NR_OBJECTIVE_H
#define NR_OBJECTIVE_H

#include <math.h>

#include "internal.h"
#include "kernels.h"

/* Logistic regression, one row (the scalar definition of the logistic
 * kernels): with t = [y > 0] and the margin against the label
 * m = (1 - 2t) z, the binary cross-entropy softplus(z) - t z equals
 * softplus(m) = max(m, 0) + log1p(e) and r = sigmoid(z) - t equals
 * (1 - 2t) sigmoid(m), where e = exp(-|m|) lies in (0, 1]: nothing
 * overflows for any finite z (|z| = 1e300 gives loss |z| or 0, r = +-1 or
 * 0), and r keeps its relative accuracy in both tails (sigmoid(z) - 1 is
 * never formed). */
static inline void nr_row_logistic(double z, double y, double *loss, double *r) {
    const double s = y > 0 ? -1.0 : 1.0, m = s * z, e = exp(-fabs(m));
    *r = s * ((m >= 0 ? 1.0 : e) / (1.0 + e));
    *loss = fmax(m, 0.0) + log1p(e);
}

/* The residual alone (the per-sample rule needs no loss): the same bits as
 * nr_row_logistic's r, without the log1p. */
static inline double nr_residual_logistic(double z, double y) {
    const double s = y > 0 ? -1.0 : 1.0, m = s * z, e = exp(-fabs(m));
    return s * ((m >= 0 ? 1.0 : e) / (1.0 + e));
}

static inline double nr_residual_perceptron(double z, double y) {
    return (z > 0 ? 1.0 : 0.0) - (y > 0 ? 1.0 : 0.0);
}

/* The perceptron, one row: r = step(z) - t with step(z) = [z > 0], and the
 * perceptron criterion max(0, -(2t - 1) z) as its loss. */
static inline void nr_row_perceptron(double z, double y, double *loss, double *r) {
    const double t = y > 0 ? 1.0 : 0.0;
    *r = (z > 0 ? 1.0 : 0.0) - t;
    *loss = fmax((1.0 - 2.0 * t) * z, 0.0);
}

typedef struct nr_objective {
    nr_activation activation;
    const char *loss_name;       /* for messages: "squared error", ... */
    double gscale;               /* d(row loss)/dz = gscale * r */
    bool labels01;               /* targets are class labels: 0/1, or -1/+1 read as 0/1 */
    bool has_hessian;            /* twice differentiable: newton applies */
    bool unbounded_if_separable; /* no finite optimum on separable data */
    /* The row's loss, its residual r = phi(z) - y and the second derivative
     * of its loss in z (0 where there is none), y already checked. */
    void (*row)(double z, double y, double *loss, double *r, double *h);
    /* The block kernels of this objective in a kernel table. */
    nr_grad_f32_fn (*kernel_f32)(const nr_kernels *k);
    nr_grad_f64_fn (*kernel_f64)(const nr_kernels *k);
    /* Where the table has them, kernels of the loss alone: out[d] and
     * out[d + 1] the bits of kernel_f32/f64's, the gradient not summed (for
     * a pass that wants the loss only: sgd's, opt_sgd.c). NULL where the
     * full kernels serve. */
    nr_grad_f32_fn (*loss_kernel_f32)(const nr_kernels *k);
    nr_grad_f64_fn (*loss_kernel_f64)(const nr_kernels *k);
    /* Or the kernels of an objective with a parameter (Huber: NULL above). */
    nr_gradp_f32_fn (*kernelp_f32)(const nr_kernels *k);
    nr_gradp_f64_fn (*kernelp_f64)(const nr_kernels *k);
    /* One epoch of the per-sample rule in data order (w, *b in place), on
     * the kernels k where it has a kernel: NR_ERR_DIVERGED where it cannot
     * go on (a message in err). */
    nr_status (*sgd_epoch)(const nr_kernels *k, const nr_data *d, double lr, int64_t epoch,
                           double *w, double *b, nr_error *err);
    /* Where the table has a kernel for the objective's loss pass walked
     * with its rule (the squared error's, kernels.h sgd_loss_f32/f64): the
     * same epoch, and the loss-only sums (loss_f32/f64) over the same rows
     * at w0, b0 into out (f + 2 values), as the epoch then the pass would
     * give them. NULL for the others. */
    nr_status (*sgd_epoch_loss)(const nr_kernels *k, const nr_data *d, double lr, int64_t epoch,
                                double *w, double *b, const double *w0, double b0, double *out,
                                nr_error *err);
} nr_objective;

/* Huber's loss for the identity (its delta is the passer's parameter; its
 * per-sample rule is the general one of train/penalty.c). */
const nr_objective *nr_objective_huber(void);

/* Huber's loss of one residual e and its derivative clip(e, -delta, delta). */
static inline void nr_row_huber(double e, double delta, double *loss, double *r) {
    const double a = fabs(e);
    *r = e > delta ? delta : e < -delta ? -delta : e;
    *loss = a <= delta ? 0.5 * e * e : delta * (a - 0.5 * delta);
}

/* The objective of an activation, or NULL for a value outside the enum. */
const nr_objective *nr_objective_for(nr_activation a);

/* The check that targets are class labels, all 0/1 or all -1/+1
 * (nr_check_labels, train.h), in two halves so that rows can be scanned
 * piece by piece, by threads or processes: the scan of every row of `d`
 * (first[0]: the first row whose target is no label, *bad its target;
 * first[1], first[2]: the first -1 and the first 0; SIZE_MAX for none), and
 * the verdict on the first offences over all rows, as row indices:
 * NR_ERR_INPUT naming the first offending row (1-based), the value, and
 * for a mixture the row where the other encoding began. */
void nr_labels_scan(const nr_data *d, size_t first[3], double *bad);
nr_status nr_labels_verdict(const size_t first[3], double bad_value, nr_error *err);

#endif
