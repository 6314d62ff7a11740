/* The trainer's parts, each in one home (doc/cli.md, doc/formats.md):
 *   the objective     activation + loss, per row and per block (objective.c,
 *                     kernels_*.c);
 *   the blocked pass  the objective's sums over rows in fixed blocks, the
 *                     same bits for any thread count (trainer.c);
 *   the optimizers    batch, minibatch, sgd, exact, ols, newton (train/opt_*.c),
 *                     each behind nr_optimizer;
 *   the loop          epochs, history, validation, early stopping,
 *                     divergence, interruption (train/loop.c), shared by all.
 * Not installed. */
#ifndef NR_TRAIN_H
#define NR_TRAIN_H

#include "internal.h"
#include "kernels.h"
#include "objective.h"

#define NR_TRAIN_BLOCK 4096 /* rows per block: the unit of determinism */

static inline const void *nr_row_at(const nr_data *d, size_t i) {
    return (const char *)d->values + i * (d->features + 1) * nr_dtype_size(d->dtype);
}

/* The objective's sums over rows [r0, r1) of a data set, with r the
 * objective's residual: out[j] = sum r x_j (j < f), out[f] = sum r,
 * out[f + 1] = sum of the rows' losses (f + 2 values). */
typedef struct {
    const nr_kernels *k;
    nr_grad_f32_fn f32;
    nr_grad_f64_fn f64;
    int threads;
    size_t dd;        /* f + 2 */
    double *partials; /* a group of blocks' sums */
} nr_passer;

nr_status nr_passer_init(nr_passer *p, const nr_data *d, const nr_objective *obj,
                         nr_kernel_choice kc, int threads, nr_error *err);
void nr_passer_free(nr_passer *p);
void nr_pass(nr_passer *p, const nr_data *d, size_t r0, size_t r1, const double *w, double b,
             double *out);

/* What every optimizer shares: the data and its split, the parameters being
 * trained and the blocked pass. --standardize trains in the parameters
 * (v, c) of standardized features x' = (x - m) / s without copying the data:
 * the model on raw features is w = v / s, b = c - sum(v m / s), and the
 * gradient in (v, c) follows from the raw sums: dL/dv_j = (sum r x_j - m_j
 * sum r) / s_j, dL/dc = sum r. */
typedef struct {
    const nr_data *d;
    const nr_train_opts *o;
    const nr_objective *obj;
    nr_passer p;
    size_t f, n_train, n_val; /* training rows first, held-out rows last */
    double *mean, *std;       /* standardization, or NULL */
    double *v, c;             /* parameters being trained */
    double *w, b;             /* the same on raw features (nr_trainer_raw) */
    double *sums;             /* f + 2: the last pass */
    double setup_seconds;     /* work an optimizer's init did that counts as training */
    /* ols: a standardization recorded in the model, not trained in (its
     * solve is scale-free); sgd --exact: whether the per-sample epochs ran */
    double *rec_mean, *rec_std;
    bool exact_fallback;
} nr_trainer;

/* t->w, t->b from t->v, t->c. */
void nr_trainer_raw(nr_trainer *t);
/* The objective's sums over rows [r0, r1) at the current parameters. */
void nr_trainer_sums(nr_trainer *t, size_t r0, size_t r1);
/* Mean loss over rows [r0, r1) at the current parameters (NaN if empty). */
double nr_trainer_loss(nr_trainer *t, size_t r0, size_t r1);
/* One gradient step from t->sums over `rows` rows: (v, c) -= lr * gradient. */
void nr_trainer_step(nr_trainer *t, size_t rows);
/* The training rows as a per-sample rule walks them: the data themselves,
 * or (standardized) a double copy in *owned, to free. */
nr_status nr_trainer_rows(nr_trainer *t, nr_data *view, double **owned, nr_error *err);
/* One epoch of the objective's per-sample rule over `rows` (the training
 * rows as nr_trainer_rows gives them); *loss is the training loss at the
 * parameters it starts from (sgd, and sgd --exact's fallback). */
nr_status nr_trainer_sgd_epoch(nr_trainer *t, const nr_data *rows, int64_t e, double *loss,
                               nr_error *err);

/* An optimizer: either epochs (init, epoch, finish) or a closed form
 * (solve). The loop knows nothing else of it. */
typedef struct {
    const char *name;
    /* Options this optimizer cannot honour: NR_ERR_ARG (NULL: none). */
    nr_status (*check)(const nr_train_opts *o, const nr_objective *obj, nr_error *err);
    /* Closed form: set t->v, t->c to the solution (NULL for epoch optimizers). */
    nr_status (*solve)(nr_trainer *t, nr_error *err);
    /* Allocate the optimizer's state (*state may stay NULL). */
    nr_status (*init)(nr_trainer *t, void **state, nr_error *err);
    /* One epoch (1-based `e`): update t->v, t->c; *loss is the epoch's
     * training loss as documented in neuron.h; *stop may be set to a
     * stop reason ("converged") to end the run after this epoch. */
    nr_status (*epoch)(nr_trainer *t, void *state, int64_t e, double *loss, const char **stop,
                       nr_error *err);
    /* Validation loss at the current parameters (NULL: a pass over the
     * held-out rows). */
    double (*val_loss)(nr_trainer *t, void *state);
    void (*finish)(void *state);
} nr_optimizer;

extern const nr_optimizer nr_opt_batch, nr_opt_minibatch, nr_opt_sgd, nr_opt_ols,
    nr_opt_batch_exact, nr_opt_sgd_exact, nr_opt_newton;

/* Monotonic wall-clock seconds. */
double nr_now_seconds(void);

/* Feature means and population standard deviations over rows [0, n) (a
 * constant feature gets std 1). */
nr_status nr_fit_standardization(const nr_data *d, size_t n, int threads, double *mean, double *std,
                                 nr_error *err);

#endif
