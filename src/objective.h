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

#include "internal.h"
#include "kernels.h"

typedef struct nr_objective {
    nr_activation activation;
    const char *loss_name; /* for messages: "squared error", ... */
    double gscale;         /* d(row loss)/dz = gscale * r */
    /* The row's loss, its residual r = phi(z) - y and the second derivative
     * of its loss in z (0 where there is none), y already checked. */
    void (*row)(double z, double y, double *loss, double *r, double *h);
    /* The block kernels of this objective in a kernel table. */
    nr_grad_f32_fn (*kernel_f32)(const nr_kernels *k);
    nr_grad_f64_fn (*kernel_f64)(const nr_kernels *k);
    /* One epoch of the per-sample rule in data order (w, *b in place):
     * NR_ERR_DIVERGED where it cannot go on (a message in err). */
    nr_status (*sgd_epoch)(const nr_data *d, double lr, int64_t epoch, double *w, double *b,
                           nr_error *err);
} nr_objective;

/* The objective of an activation, or NULL for a value outside the enum. */
const nr_objective *nr_objective_for(nr_activation a);

#endif
