/* Penalties on the weights and the general per-sample
 * rule that carries them, with the Huber loss, the schedules, momentum and
 * averaging. The batch step's proximal L1 is in schedule.c (nr_ext_step).
 *
 * The per-sample rule, for each row in data order (t counts the run's
 * samples from 1, eta is the scheduled rate of sample t, nr_ext_lr):
 *   z = ((w0 x0 + w1 x1) + ...) + b,  g = the loss's derivative in z
 *       (squared error: (z - y)*2, as the tutorial's rule; Huber:
 *       z - y clipped to [-delta, delta]; logistic: sigmoid(z) - y;
 *       perceptron: step(z) - y);
 *   without momentum:  w_j -= eta*(g*x_j)  (+ l2*w_j inside the bracket
 *                      when l2 > 0),  b -= eta*g;
 *   with momentum:     G = (g*x_j + l2*w_j, g), buf = momentum*buf + G
 *                      (buf = G at the first sample), w -= eta*step with
 *                      step = buf, or G + momentum*buf (nesterov);
 *   l1 > 0: Tsuruoka et al.'s cumulative penalty (ACL 2009), as
 *       scikit-learn's _sgd_fast applies it: u += eta*l1, then for each j
 *       w_j is pulled toward 0 by u + q_j (or u - q_j below 0) without
 *       crossing it, and q_j accumulates what w_j actually received;
 *   average: avg += (w - avg)/t after the sample.
 * With none of these options sgd runs the reference rule itself
 * (reference.c) instead. */
#include <math.h>

#include "train/train.h"

double nr_penalty_value(const nr_trainer *t) {
    double s = 0;
    for (size_t j = 0; j < t->f; j++) s += t->v[j] * t->v[j];
    return 0.5 * t->o->l2 * s;
}

static inline double at(const nr_data *d, size_t k) {
    return d->dtype == NR_F32 ? (double)((const float *)d->values)[k]
                              : ((const double *)d->values)[k];
}

typedef enum { G_SQUARED, G_HUBER, G_LOGISTIC, G_PERCEPTRON } gkind;

static inline double dloss(gkind k, double z, double y, double delta) {
    switch (k) {
    case G_SQUARED:
        return (z - y) * 2;
    case G_HUBER: {
        const double r = z - y;
        return r > delta ? delta : r < -delta ? -delta : r;
    }
    case G_LOGISTIC:
        return nr_residual_logistic(z, y);
    case G_PERCEPTRON:
        return nr_residual_perceptron(z, y);
    }
    return NAN;
}

/* Tsuruoka's step for every weight: w_j moves toward 0 by what the total
 * penalty u allows beyond what it already received (q_j), never past 0. */
static void cumulative_l1(double *w, double *q, size_t f, double u) {
    for (size_t j = 0; j < f; j++) {
        const double z = w[j];
        if (w[j] > 0)
            w[j] = fmax(0.0, w[j] - (u + q[j]));
        else if (w[j] < 0)
            w[j] = fmin(0.0, w[j] + (u - q[j]));
        q[j] += w[j] - z;
    }
}

nr_status nr_ext_sgd_epoch(nr_trainer *t, const nr_data *d, int64_t e, nr_error *err) {
    (void)e, (void)err;
    nr_ext *x = t->ext;
    const nr_train_opts *o = t->o;
    const size_t f = d->features, st = f + 1;
    const gkind kind = o->loss == NR_LOSS_HUBER               ? G_HUBER
                       : t->obj->activation == NR_ACT_SIGMOID ? G_LOGISTIC
                       : t->obj->activation == NR_ACT_STEP    ? G_PERCEPTRON
                                                              : G_SQUARED;
    const double l2 = o->l2, mu = o->momentum;
    double *w = t->v, b = t->c, *G = x->scratch;
    for (size_t i = 0; i < d->rows; i++) {
        const size_t r = i * st;
        const double eta = nr_ext_lr(t);
        double z = w[0] * at(d, r);
        for (size_t j = 1; j < f; j++) z += w[j] * at(d, r + j);
        z += b;
        const double g = dloss(kind, z, at(d, r + f), o->delta);
        if (!x->buf) {
            if (l2 > 0)
                for (size_t j = 0; j < f; j++) w[j] -= eta * (g * at(d, r + j) + l2 * w[j]);
            else
                for (size_t j = 0; j < f; j++) w[j] -= eta * (g * at(d, r + j));
            b -= eta * g;
        } else {
            for (size_t j = 0; j < f; j++)
                G[j] = l2 > 0 ? g * at(d, r + j) + l2 * w[j] : g * at(d, r + j);
            G[f] = g;
            for (size_t k = 0; k <= f; k++) {
                x->buf[k] = x->buf_set ? mu * x->buf[k] + G[k] : G[k];
                G[k] = o->nesterov ? G[k] + mu * x->buf[k] : x->buf[k];
            }
            x->buf_set = true;
            for (size_t j = 0; j < f; j++) w[j] -= eta * G[j];
            b -= eta * G[f];
        }
        if (x->q) {
            x->u += eta * o->l1;
            cumulative_l1(w, x->q, f, x->u);
        }
        x->steps++;
        nr_ext_average(x, w, b);
    }
    t->c = b;
    return NR_OK;
}
