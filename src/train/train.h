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

/* The units of determinism (trainer.c): a pass over m rows is cut into
 * blocks of NR_TRAIN_BLOCK rows when m > NR_TRAIN_BLOCK, else of
 * NR_TRAIN_SUBBLOCK rows, from its first row. Processes share rows on the
 * NR_TRAIN_BLOCK grid (partition.c). */
#define NR_TRAIN_BLOCK 4096
#define NR_TRAIN_SUBBLOCK 512
#define NR_PASS_GROUP 256 /* blocks whose sums a passer holds at once (p->partials) */

/* Rows per block, and blocks, of a pass over m rows. */
static inline size_t nr_pass_block_rows(size_t m) {
    return m > NR_TRAIN_BLOCK ? NR_TRAIN_BLOCK : NR_TRAIN_SUBBLOCK;
}
static inline size_t nr_pass_blocks_of(size_t m) {
    return (m + nr_pass_block_rows(m) - 1) / nr_pass_block_rows(m);
}

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
    nr_gradp_f32_fn pf32; /* objectives with a parameter (Huber's delta), or NULL */
    nr_gradp_f64_fn pf64;
    double param;
    int threads;
    size_t dd;        /* f + 2 */
    double *partials; /* a group of blocks' sums */
    /* rows shared between processes (partition.c), or NULL */
    const nr_partition *part;
    double *gathered; /* part: every block's sums, in block order */
    int *counts;      /* part: per process, its doubles in `gathered`, then their offsets */
    /* part: the first pass that failed (a read, the transport), the same
     * on every process, and its message; later passes still run, NaN */
    nr_status status;
    nr_error error;
    /* f16 data: each block is summed by the table's f16 kernel (h16 or
     * ph16) on the halves in place; where there is none, or it declines the
     * shape, widened into a thread's slot of `wide` (threads slots of up to
     * NR_TRAIN_BLOCK rows' floats) and summed by the f32 kernel. Either way
     * the same bits as an f32 file of the same values. */
    nr_grad_f16_fn h16;
    nr_gradp_f16_fn ph16;
    float *wide;
    size_t wide_slot; /* floats per slot */
} nr_passer;

nr_status nr_passer_init(nr_passer *p, const nr_data *d, const nr_objective *obj,
                         nr_kernel_choice kc, int threads, nr_error *err);
void nr_passer_free(nr_passer *p);
void nr_pass(nr_passer *p, const nr_data *d, size_t r0, size_t r1, const double *w, double b,
             double *out);
/* One block's sums (f + 2 values into o) over its n rows at `rows` (laid
 * out as `d` says): the kernel call of every block of every pass, the one
 * place that knows the dtypes and the parameterised kernels, so that the
 * blocks of shared rows (partition.c) are computed as one process does. */
void nr_block_kernel(const nr_passer *p, const nr_data *d, const void *rows, size_t n,
                     const double *w, double b, double *o);
/* The parts of nr_pass, for callers that share a pass's blocks between
 * threads themselves (minibatch) or processes (partition.c). Blocks
 * [k0, k1) of the pass over rows [r0, r1) of `d`, block k's sums at
 * part + (k - k0) * dd; safe to call from several threads at once on
 * disjoint blocks. */
void nr_pass_blocks(const nr_passer *p, const nr_data *d, size_t r0, size_t r1, size_t k0,
                    size_t k1, const double *w, double b, double *part);
/* out = the sums of `nblocks` blocks added in block order, starting from
 * zero: what nr_pass returns. */
void nr_pass_add(const double *part, size_t nblocks, size_t dd, double *out);
/* The sums of one NR_TRAIN_BLOCK-grid block of n rows at `rows` (the
 * data's layout) of a pass over pass_rows rows; a pass of at most
 * NR_TRAIN_BLOCK rows is that one block, summed in its sub-blocks (in
 * p->partials: the caller must not compute another block at the same time). */
void nr_pass_block(const nr_passer *p, const nr_data *d, const void *rows, size_t n,
                   size_t pass_rows, const double *w, double b, double *out);

/* Data-parallel passes (partition.c): nr_passer_partition prepares `p` for
 * rows shared as `part` says; nr_pass then hands over to
 * nr_pass_partitioned, which computes this process's blocks, gathers every
 * block's sums and adds them in block order, as nr_pass does. */
nr_status nr_passer_partition(nr_passer *p, const nr_data *d, const nr_train_opts *o,
                              nr_error *err);
/* NR_OK, or the first failed pass's status with its message in err. */
nr_status nr_passer_status(const nr_passer *p, nr_error *err);
void nr_pass_partitioned(nr_passer *p, const nr_data *d, size_t r0, size_t r1, const double *w,
                         double b, double *out);
/* For a pass over rows [r0, r1) in blocks of NR_TRAIN_BLOCK rows, each
 * `per` doubles: counts[k] and displs[k] (k < parts) of process k's blocks,
 * those whose first row lies in its share. Returns this process's first
 * block, or SIZE_MAX when the counts overflow an int. */
/* Call fn(ctx, k, rows, n) for blocks [k0, k0 + count) of a pass over rows
 * [r0, r1) of `d` as `pt` holds them: from memory (values starting at this
 * process's share) or streamed. Calls for one chunk run on `threads`
 * OpenMP threads. NR_ERR_IO when a streamed read fails. */
typedef void (*nr_block_fn)(void *ctx, size_t k, const void *rows, size_t n);
nr_status nr_partition_each_block(const nr_partition *pt, const nr_data *d, size_t r0, size_t r1,
                                  size_t k0, size_t count, int threads, nr_block_fn fn, void *ctx,
                                  nr_error *err);
/* Every block's `per` values of a pass over rows [r0, r1) of `d`, in block
 * order at all + k per (k from 0): fn(ctx, k, rows, n) computes block k
 * into the `all` it knows of (ctx). Without a partition (pt NULL) every
 * block is computed here on `threads` threads; with one, this process's
 * blocks (held or streamed), then gathered from the others. Every process
 * must call it at the same point; all fail together. */
nr_status nr_blocks_all(const nr_partition *pt, const nr_data *d, size_t r0, size_t r1, size_t per,
                        int threads, nr_block_fn fn, void *ctx, double *all, nr_error *err);
/* Check the targets of every row of `d` are class labels (objective.h),
 * of rows shared as `pt` says (each process scans its own) or all held
 * here (pt NULL): the message names the first offence's global row. */
nr_status nr_check_labels(const nr_partition *pt, const nr_data *d, int threads, nr_error *err);
/* Every process's status `s`: the first failure among them (a process
 * that did not fail gets "process K: " and that process's message), or
 * NR_OK. */
nr_status nr_partition_agree(const nr_partition *pt, nr_status s, nr_error *err);
size_t nr_partition_blocks(const nr_partition *pt, size_t r0, size_t r1, size_t per, int *counts,
                           int *displs);

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
    double lr;                /* the learning rate: o->lr, halved by each backoff */
    struct nr_ext *ext;       /* the peers' options (schedule.c), or NULL */
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

/* Checkpoints (checkpoint.c): the epoch loop's state between two epochs. */
typedef struct {
    int64_t epoch;      /* epochs done */
    double first, best; /* the loss of epoch 1; the best monitored loss (tol) */
    int64_t since;      /* epochs without improvement (tol) */
    double keep_loss;   /* restore_best: the best loss, its epoch, its parameters */
    int64_t keep_epoch;
    double *keep_best; /* f + 1, or NULL without restore_best */
} nr_ckpt_loop;
/* The history of a checkpoint: n epochs, in one allocation at `loss`. */
typedef struct {
    size_t n;
    double *loss, *seconds, *val;
} nr_ckpt_history;
/* NR_ERR_ARG for options that checkpoints cannot serve. */
nr_status nr_checkpoint_check(const nr_train_opts *o, nr_error *err);
/* The data's fingerprint: the objective's sums at the zero model over every
 * row (f + 2 doubles). */
void nr_checkpoint_fingerprint(nr_trainer *t, double *out);
nr_status nr_checkpoint_save(nr_trainer *t, const char *path, const nr_train_result *res,
                             const nr_ckpt_loop *l, const double *fp, nr_error *err);
/* Read `path`, refusing it (NR_ERR_INPUT, naming what differs) unless it
 * was made with the same options on the same data; set t->v, t->c, t->lr,
 * the options' state (t->ext), *l, res's backoffs and *h (h->loss to
 * free). */
nr_status nr_checkpoint_load(nr_trainer *t, const char *path, const double *fp, nr_ckpt_loop *l,
                             nr_train_result *res, nr_ckpt_history *h, nr_error *err);

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

/* --------------- the peers' options (schedule.c, penalty.c) */

/* The state of the options that change the step, not the pass: penalty,
 * schedule, momentum, averaging, and the snapshots of on-divergence
 * backoff. Absent (t->ext NULL) when none is asked for, so the plain
 * optimizers run exactly as before: it costs them one test per step. */
typedef struct nr_ext {
    size_t f;
    bool rich_sgd;   /* sgd needs the general per-sample rule (penalty.c) */
    int64_t epoch;   /* the epoch being run, 1-based */
    int64_t steps;   /* steps taken in the run (samples for sgd) */
    double *buf;     /* momentum buffer, f + 1 (bias last), or NULL */
    bool buf_set;    /* a first step has filled it */
    double *avg;     /* Polyak average of (v, c), f + 1, or NULL */
    double *q;       /* cumulative L1: penalty each weight received, f, or NULL */
    double u;        /* cumulative L1: penalty a weight could have received */
    double *snap[2]; /* backoff: the state at the start of two epochs */
    int64_t snap_epoch[2];
    double *scratch; /* f + 1 */
} nr_ext;

/* t->ext for the options (NULL when none needs it). */
nr_status nr_ext_init(nr_trainer *t, nr_error *err);
void nr_ext_free(nr_trainer *t);
/* One more iterate (v, c) in the Polyak average (after x->steps++). */
void nr_ext_average(nr_ext *x, const double *v, double c);
/* The learning rate of the next step of epoch t->ext->epoch. */
double nr_ext_lr(const nr_trainer *t);
/* One step of batch or minibatch from t->sums over `rows` rows: gradient
 * plus L2 term, momentum, the scheduled rate, the L1 soft-threshold, the
 * average. */
void nr_ext_step(nr_trainer *t, size_t rows);
/* One epoch of the general per-sample rule on `rows` (penalty.c). */
nr_status nr_ext_sgd_epoch(nr_trainer *t, const nr_data *rows, int64_t e, nr_error *err);
/* Backoff: keep the state at the start of epoch e; restore the one kept for
 * epoch e (false when it was not kept). */
void nr_ext_save(nr_trainer *t, int64_t e);
bool nr_ext_restore(nr_trainer *t, int64_t e);
/* Checkpoints: the options' state between two epochs as doubles (the
 * momentum buffer, the average, the cumulative L1 penalty, the step count,
 * backoff's snapshots), nr_ext_state_len of them (0 without t->ext); save
 * writes them to `s`, else they are read from it. */
size_t nr_ext_state_len(const nr_trainer *t);
void nr_ext_state_io(nr_trainer *t, double *s, bool save);
/* At the end of the run: the averaged parameters become the model. */
void nr_ext_finish(nr_trainer *t);
/* Options of section 8 an optimizer or objective cannot honour. */
nr_status nr_ext_check(const nr_train_opts *o, nr_error *err);
/* The L2 penalty's contributions to the objective (1/2) l2 |v|^2. */
double nr_penalty_value(const nr_trainer *t);

extern const nr_optimizer nr_opt_batch, nr_opt_minibatch, nr_opt_sgd, nr_opt_ols,
    nr_opt_batch_exact, nr_opt_sgd_exact, nr_opt_newton;

/* Monotonic wall-clock seconds. */
double nr_now_seconds(void);

/* Feature means and population standard deviations over rows [0, n) (a
 * constant feature gets std 1), of rows shared as `pt` says (or NULL). */
nr_status nr_fit_standardization(const nr_data *d, const nr_partition *pt, size_t n, int threads,
                                 double *mean, double *std, nr_error *err);

#endif
