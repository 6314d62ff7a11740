/* The loop every optimizer shares: options, the split into training and
 * held-out rows, standardization, epochs, history, validation, early
 * stopping, divergence, interruption, and the final model. Which optimizer
 * and which objective run is decided once, in nr_train's first lines; the
 * loop calls them through their tables (train.h, objective.h). */
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train/train.h"

double nr_now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------ the shared parameters -- */

void nr_trainer_raw(nr_trainer *t) {
    if (!t->mean) {
        memcpy(t->w, t->v, t->f * sizeof *t->w);
        t->b = t->c;
        return;
    }
    double shift = 0;
    for (size_t j = 0; j < t->f; j++) {
        t->w[j] = t->v[j] / t->std[j];
        shift += t->w[j] * t->mean[j];
    }
    t->b = t->c - shift;
}

void nr_trainer_sums(nr_trainer *t, size_t r0, size_t r1) {
    nr_trainer_raw(t);
    nr_pass(&t->p, t->d, r0, r1, t->w, t->b, t->sums);
}

double nr_trainer_loss(nr_trainer *t, size_t r0, size_t r1) {
    if (r1 <= r0) return NAN;
    nr_trainer_sums(t, r0, r1);
    return t->sums[t->f + 1] / (double)(r1 - r0);
}

void nr_trainer_step(nr_trainer *t, size_t rows) {
    if (t->ext) {
        nr_ext_step(t, rows);
        return;
    }
    const double scale = t->obj->gscale / (double)rows, gb = t->sums[t->f];
    for (size_t j = 0; j < t->f; j++) {
        double g = t->mean ? (t->sums[j] - t->mean[j] * gb) / t->std[j] : t->sums[j];
        t->v[j] -= t->lr * (scale * g);
    }
    t->c -= t->lr * (scale * gb);
}

nr_status nr_trainer_rows(nr_trainer *t, nr_data *view, double **owned, nr_error *err) {
    *view = *t->d;
    view->rows = t->n_train;
    *owned = NULL;
    if (!t->mean) return NR_OK;
    const size_t f = t->f;
    double *z = malloc(t->n_train * (f + 1) * sizeof *z);
    if (!z) return nr_fail(err, NR_ERR_NOMEM, "out of memory for standardized rows");
    for (size_t i = 0; i < t->n_train; i++) {
        for (size_t j = 0; j <= f; j++) {
            size_t at = i * (f + 1) + j;
            double x = nr_value_at(t->d, at);
            z[at] = j < f ? (x - t->mean[j]) / t->std[j] : x;
        }
    }
    view->values = z, view->dtype = NR_F64;
    *owned = z;
    return NR_OK;
}

/* Per block, the sums over its rows of x (stage 0), or of (x - mean)^2. */
typedef struct {
    const nr_data *d;
    const double *mean;
    double *part;
    int stage;
} std_ctx;

static void std_block(void *ctx, size_t k, const void *rows, size_t n) {
    const std_ctx *c = ctx;
    const size_t f = c->d->features, cols = f + 1;
    double *o = c->part + k * f;
    const nr_data view = {.rows = n, .features = f, .dtype = c->d->dtype, .values = rows};
    for (size_t j = 0; j < f; j++) o[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < f; j++) {
            double x = nr_value_at(&view, i * cols + j);
            o[j] += c->stage == 0 ? x : (x - c->mean[j]) * (x - c->mean[j]);
        }
}

/* Two blocked passes, reduced in block order (shared rows: the blocks'
 * sums gathered, the same bits). A constant feature gets std 1 so that it
 * simply stays unscaled. */
nr_status nr_fit_standardization(const nr_data *d, const nr_partition *pt, size_t n, int threads,
                                 double *mean, double *std, nr_error *err) {
    const size_t f = d->features, nb = (n + NR_TRAIN_BLOCK - 1) / NR_TRAIN_BLOCK;
    double *part = calloc(nb * f, sizeof *part);
    if (!part) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    std_ctx c = {d, mean, part, 0};
    nr_status s = NR_OK;
    for (int stage = 0; stage < 2 && s == NR_OK; stage++) {
        c.stage = stage;
        if ((s = nr_blocks_all(pt, d, 0, n, f, threads, std_block, &c, part, err)) != NR_OK) break;
        for (size_t j = 0; j < f; j++) {
            double t = 0;
            for (size_t k = 0; k < nb; k++) t += part[k * f + j];
            if (stage == 0)
                mean[j] = t / (double)n;
            else
                std[j] = t > 0 ? sqrt(t / (double)n) : 1.0;
        }
    }
    free(part);
    return s;
}

/* ------------------------------------------------------------- options -- */

static nr_status check_data(const nr_data *d, const nr_model *m, nr_error *err) {
    if (!d || !d->values || d->rows == 0) return nr_fail(err, NR_ERR_ARG, "no data rows");
    if (d->features == 0) return nr_fail(err, NR_ERR_ARG, "the data have no feature column");
    if (m->features != d->features)
        return nr_fail(err, NR_ERR_ARG, "model has %zu features, data have %zu", m->features,
                       d->features);
    return NR_OK;
}

static nr_status check_epoch_opts(const nr_train_opts *o, nr_error *err) {
    if (o->epochs < 1) return nr_fail(err, NR_ERR_ARG, "epochs must be at least 1");
    if (!(o->lr > 0) || !isfinite(o->lr))
        return nr_fail(err, NR_ERR_ARG, "learning rate must be a finite number > 0");
    if (o->algo == NR_ALGO_MINIBATCH && o->batch < 1)
        return nr_fail(err, NR_ERR_ARG, "batch must be at least 1");
    if (!(o->val_split >= 0 && o->val_split < 1))
        return nr_fail(err, NR_ERR_ARG, "val-split must be in [0, 1)");
    if (o->tol >= 0 && o->patience < 1) return nr_fail(err, NR_ERR_ARG, "patience must be >= 1");
    if (o->threads < 0) return nr_fail(err, NR_ERR_ARG, "threads must be >= 0");
    return NR_OK;
}

/* The optimizer of the options: the one place that maps them to a table. */
static const nr_optimizer *optimizer_for(const nr_train_opts *o, nr_error *err) {
    /* ols is exact already */
    if (o->exact && (o->algo == NR_ALGO_MINIBATCH || o->algo == NR_ALGO_NEWTON)) {
        nr_fail(err, NR_ERR_ARG, "exact epochs apply to --algo batch and sgd only");
        return NULL;
    }
    switch (o->algo) {
    case NR_ALGO_SGD:
        return o->exact ? &nr_opt_sgd_exact : &nr_opt_sgd;
    case NR_ALGO_BATCH:
        return o->exact ? &nr_opt_batch_exact : &nr_opt_batch;
    case NR_ALGO_MINIBATCH:
        return &nr_opt_minibatch;
    case NR_ALGO_OLS:
        return &nr_opt_ols;
    case NR_ALGO_NEWTON:
        return &nr_opt_newton;
    }
    nr_fail(err, NR_ERR_ARG, "unknown algorithm %d", (int)o->algo);
    return NULL;
}

/* ------------------------------------------------------------- history -- */

/* Room for `need` epochs of history, doubling the arrays as needed. */
static nr_status grow_history(nr_train_result *res, bool val, size_t *cap, size_t need,
                              nr_error *err) {
    if (need <= *cap) return NR_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    double **arrays[] = {&res->loss, &res->epoch_seconds, &res->val_history};
    for (int k = 0; k < (val ? 3 : 2); k++) {
        double *p = realloc(*arrays[k], c * sizeof(double));
        if (!p)
            return nr_fail(err, NR_ERR_NOMEM, "out of memory for the history of %zu epochs", need);
        *arrays[k] = p;
    }
    *cap = c;
    return NR_OK;
}

/* ---------------------------------------------------------------- loop -- */

/* NR_ERR_DIVERGED, saying what went wrong, when the epoch's loss or the
 * parameters it left are not finite, or the loss grew beyond 1e6 times its
 * first value. The library names no option: the caller knows its own
 * (the CLI adds "try a smaller --lr"). */
static nr_status check_divergence(const nr_trainer *t, int64_t e, double loss, double first,
                                  nr_error *err) {
    size_t bad = SIZE_MAX;
    for (size_t j = 0; j < t->f && bad == SIZE_MAX; j++)
        if (!isfinite(t->v[j])) bad = j;
    if (!isfinite(loss))
        return nr_fail(err, NR_ERR_DIVERGED,
                       "epoch %lld: the training loss became %s (%g at epoch 1): training "
                       "diverged",
                       (long long)e, nr_nonfinite_word(loss), first);
    if (bad != SIZE_MAX || !isfinite(t->c))
        return nr_fail(err, NR_ERR_DIVERGED,
                       "epoch %lld: the %s became %s during the epoch (the loss at its start "
                       "was %g): training diverged",
                       (long long)e, bad != SIZE_MAX ? "weights" : "bias",
                       nr_nonfinite_word(bad != SIZE_MAX ? t->v[bad] : t->c), loss);
    if (first > 0 && loss > 1e6 * first)
        return nr_fail(err, NR_ERR_DIVERGED,
                       "epoch %lld: the training loss grew to %g, over 1e6 times its %g at "
                       "epoch 1: training diverged",
                       (long long)e, loss, first);
    return NR_OK;
}

/* restore_best: the parameters each epoch starts from are its candidate;
 * they become the best when the epoch's monitored loss is the lowest yet
 * (the loss of an epoch is measured at its start weights for every
 * optimizer but minibatch, whose training loss is measured along the way). */
typedef struct {
    double *cand, *best; /* f + 1 each: v then c */
    double loss;
    int64_t epoch;
} best_params;

static nr_status best_init(best_params *k, size_t f, nr_error *err) {
    k->cand = malloc(2 * (f + 1) * sizeof *k->cand);
    if (!k->cand) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    k->best = k->cand + f + 1;
    k->loss = INFINITY;
    k->epoch = 0;
    return NR_OK;
}

static void best_candidate(best_params *k, const nr_trainer *t) {
    memcpy(k->cand, t->v, t->f * sizeof *t->v);
    k->cand[t->f] = t->c;
}

static void best_offer(best_params *k, double monitored, int64_t e) {
    if (!(monitored < k->loss)) return;
    k->loss = monitored;
    k->epoch = e;
    memcpy(k->best, k->cand, (size_t)(k->best - k->cand) * sizeof *k->cand);
}

static void best_restore(const best_params *k, nr_trainer *t, nr_train_result *res) {
    memcpy(t->v, k->best, t->f * sizeof *t->v);
    t->c = k->best[t->f];
    res->best_epoch = k->epoch;
}

/* on_divergence backoff, after epoch *e diverged: the parameters and the
 * optimizer state go back to the start of epoch k = *e - 1 (the last start
 * whose loss was finite and whose epoch left finite weights; epoch 1's own
 * start when *e is 1), the learning rate halves, and *e becomes k - 1 so
 * that the loop runs epoch k again. False when backoff is off or spent. */
static bool back_off(nr_trainer *t, nr_train_result *res, int64_t *e, const nr_error *err) {
    const nr_train_opts *o = t->o;
    if (o->on_divergence != NR_DIVERGE_BACKOFF || res->backoffs >= NR_MAX_BACKOFFS) return false;
    const int64_t k = *e > 1 ? *e - 1 : 1;
    if (!nr_ext_restore(t, k)) return false;
    t->lr *= 0.5;
    res->backoff_epoch[res->backoffs] = *e;
    res->backoff_restart[res->backoffs] = k;
    res->backoff_lr[res->backoffs] = t->lr;
    res->backoffs++;
    if (o->on_backoff) o->on_backoff(o->on_backoff_ctx, *e, k, t->lr, err->msg);
    *e = k - 1;
    return true;
}

/* --resume: the checkpoint's parameters, options' state, backoffs,
 * history and bookkeeping. */
static nr_status resume_from(nr_trainer *t, nr_train_result *res, size_t *cap, const double *fp,
                             nr_ckpt_loop *ck, nr_error *err) {
    nr_ckpt_history h;
    nr_status s = nr_checkpoint_load(t, t->o->resume, fp, ck, res, &h, err);
    /* its model is past the epoch asked for, which no run can give back:
     * refused, where as many epochs as it holds simply finish at once */
    if (s == NR_OK && ck->epoch > t->o->epochs)
        s = nr_fail(err, NR_ERR_ARG,
                    "%s: the checkpoint has %lld epochs done, more than the %lld asked for: "
                    "resume it with at least %lld epochs (as many finishes at once)",
                    t->o->resume, (long long)ck->epoch, (long long)t->o->epochs,
                    (long long)ck->epoch);
    if (s == NR_OK && h.n) s = grow_history(res, h.val != NULL, cap, h.n, err);
    if (s == NR_OK) {
        memcpy(res->loss, h.loss, h.n * sizeof *h.loss);
        memcpy(res->epoch_seconds, h.seconds, h.n * sizeof *h.seconds);
        if (h.val) memcpy(res->val_history, h.val, h.n * sizeof *h.val);
        res->epochs_run = ck->epoch;
    }
    free(h.loss);
    return s;
}

/* The epochs of an epoch optimizer, with everything they share. */
static nr_status run_epochs(nr_trainer *t, const nr_optimizer *opt, nr_train_result *res,
                            nr_error *err) {
    const nr_train_opts *o = t->o;
    const size_t n_val = t->n_val;
    void *st = NULL;
    nr_status s = opt->init(t, &st, err);
    /* the history grows with the epochs run: --epochs 10^9 with --tol must
     * not reserve 24 GB up front */
    size_t cap = 0;
    if (s == NR_OK) s = grow_history(res, n_val > 0, &cap, 1, err);
    if (s != NR_OK) {
        if (opt->finish) opt->finish(st);
        return s;
    }
    res->stop_reason = "epochs";
    double best = INFINITY, first = NAN;
    int64_t since = 0;
    best_params keep = {0};
    if (o->restore_best && (s = best_init(&keep, t->f, err)) != NR_OK) {
        if (opt->finish) opt->finish(st);
        return s;
    }
    /* checkpoints: the data's fingerprint, and where a resumed run starts */
    double *fp = NULL;
    nr_ckpt_loop ck = {.keep_best = keep.best};
    if ((o->checkpoint || o->resume) && s == NR_OK) {
        if (!(fp = malloc((t->f + 2) * sizeof *fp)))
            s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
        else
            nr_checkpoint_fingerprint(t, fp);
        if (s == NR_OK) s = nr_passer_status(&t->p, err);
    }
    if (o->resume && s == NR_OK && (s = resume_from(t, res, &cap, fp, &ck, err)) == NR_OK) {
        first = ck.first, best = ck.best, since = ck.since;
        keep.loss = ck.keep_loss, keep.epoch = ck.keep_epoch;
    }
    const bool writes = o->checkpoint && (!o->partition || o->partition->part == 0);
    const int64_t e0 = ck.epoch; /* a resumed run's speed counts its own epochs */
    const double t0 = nr_now_seconds();
    for (int64_t e = ck.epoch + 1; s == NR_OK && e <= o->epochs; e++) {
        const double te = nr_now_seconds();
        if (t->ext) {
            t->ext->epoch = e;
            nr_ext_save(t, e);
        }
        /* Validation: the loss at the weights the epoch starts from. */
        if ((s = grow_history(res, n_val > 0, &cap, (size_t)e, err)) != NR_OK) break;
        if (n_val)
            res->val_history[e - 1] =
                opt->val_loss ? opt->val_loss(t, st) : nr_trainer_loss(t, t->n_train, t->d->rows);
        double loss = NAN;
        const char *stop = NULL;
        if (keep.cand) best_candidate(&keep, t);
        s = opt->epoch(t, st, e, &loss, &stop, err);
        /* a pass that could not read its rows left NaN sums: that, not
         * the divergence or line search failure they look like, is the
         * outcome (the epoch's validation pass included) */
        if (nr_passer_status(&t->p, err) != NR_OK) {
            s = t->p.status;
            break;
        }
        if (s != NR_OK) {
            if (s == NR_ERR_DIVERGED && back_off(t, res, &e, err)) {
                s = NR_OK;
                continue;
            }
            break;
        }
        res->loss[e - 1] = loss;
        res->epoch_seconds[e - 1] = nr_now_seconds() - te;
        res->epochs_run = e;
        if (e == 1) first = loss;
        if ((s = check_divergence(t, e, loss, first, err)) != NR_OK) {
            if (back_off(t, res, &e, err)) {
                s = NR_OK;
                continue;
            }
            break;
        }
        if (keep.cand) best_offer(&keep, n_val ? res->val_history[e - 1] : loss, e);
        const double el = nr_now_seconds() - t0;
        if (o->on_epoch && o->on_epoch(o->on_epoch_ctx, e, loss,
                                       el > 0 ? (double)t->n_train * (double)(e - e0) / el : 0)) {
            res->stop_reason = "interrupted";
            break;
        }
        if (stop) {
            res->stop_reason = stop;
            break;
        }
        if (o->tol >= 0) {
            double mon = n_val ? res->val_history[e - 1] : loss;
            if (mon < best - o->tol) {
                best = mon;
                since = 0;
            } else if (++since >= o->patience) {
                res->stop_reason = "tolerance";
                break;
            }
        }
        if (o->checkpoint && e % o->checkpoint_every == 0) {
            ck = (nr_ckpt_loop){e, first, best, since, keep.loss, keep.epoch, keep.best};
            if (writes) s = nr_checkpoint_save(t, o->checkpoint, res, &ck, fp, err);
            /* one process writes: all stop together if it failed */
            if (o->partition) s = nr_partition_agree(o->partition, s, err);
            if (s != NR_OK) break;
        }
    }
    free(fp);
    res->seconds = nr_now_seconds() - t0 + t->setup_seconds;
    if (opt->finish) opt->finish(st);
    if (s == NR_OK && keep.epoch) best_restore(&keep, t, res);
    free(keep.cand);
    if (s == NR_OK)
        res->samples_per_second =
            res->seconds > 0 ? (double)t->n_train * (double)(res->epochs_run - e0) / res->seconds
                             : 0;
    return s;
}

static nr_status run_closed_form(nr_trainer *t, const nr_optimizer *opt, nr_train_result *res,
                                 nr_error *err) {
    const double t0 = nr_now_seconds();
    nr_status s = opt->solve(t, err);
    if (s != NR_OK) return s;
    res->seconds = nr_now_seconds() - t0;
    res->samples_per_second = res->seconds > 0 ? (double)t->n_train / res->seconds : 0;
    res->stop_reason = "closed form";
    return NR_OK;
}

/* f16 data for the optimizers that read rows one value at a time, or
 * through statistics of their own (sgd, its --exact map, ols, newton,
 * batch --exact): train on a widened f32 copy. Every half is exactly a
 * float, so the result is that of the f32 file of the same values, bit for
 * bit, at the cost of the copy (twice the f16 bytes); batch and minibatch
 * widen block by block in the pass instead (trainer.c). */
static nr_status train_widened(const nr_data *d, const nr_train_opts *o, nr_model *m,
                               nr_train_result *res, nr_error *err) {
    size_t n;
    float *x = NULL;
    if (__builtin_mul_overflow(d->rows, d->features + 1, &n) || n > SIZE_MAX / sizeof *x ||
        !(x = malloc(n * sizeof *x)))
        return nr_fail(err, NR_ERR_NOMEM, "out of memory to widen %zu x %zu f16 values to f32",
                       d->rows, d->features + 1);
    const nr_kernels *k = nr_kernels_select(o->kernel, NULL);
    (k ? k->widen_f16 : nr_widen_f16_scalar)(d->values, n, x);
    const nr_data wide = {.rows = d->rows, .features = d->features, .dtype = NR_F32, .values = x};
    nr_status s = nr_train(&wide, o, m, res, err);
    free(x);
    return s;
}

nr_status nr_train(const nr_data *d, const nr_train_opts *o, nr_model *m, nr_train_result *res,
                   nr_error *err) {
    memset(res, 0, sizeof *res);
    res->val_loss = NAN;
    nr_status s = check_data(d, m, err);
    if (s != NR_OK) return s;
    const nr_objective *obj = nr_objective_for(o->activation);
    if (!obj) return nr_fail(err, NR_ERR_ARG, "unknown activation %d", (int)o->activation);
    if ((s = nr_ext_check(o, err)) != NR_OK) return s;
    if (o->loss == NR_LOSS_HUBER) obj = nr_objective_huber();
    if (o->algo != NR_ALGO_OLS && (s = check_epoch_opts(o, err)) != NR_OK) return s;
    const nr_optimizer *opt = optimizer_for(o, err);
    if (!opt) return NR_ERR_ARG;
    if (opt->check && (s = opt->check(o, obj, err)) != NR_OK) return s;
    if ((s = nr_checkpoint_check(o, err)) != NR_OK) return s;
    if (d->dtype == NR_F16 && o->partition)
        return nr_fail(err, NR_ERR_ARG,
                       "f16 rows are not shared between processes or streamed: widen them to f32");
    if (d->dtype == NR_F16 && opt != &nr_opt_batch && opt != &nr_opt_minibatch)
        return train_widened(d, o, m, res, err);

    nr_trainer t = {.d = d, .o = o, .obj = obj, .f = d->features};
    if ((s = nr_passer_init(&t.p, d, obj, o->kernel, o->threads, err)) != NR_OK ||
        (o->partition && (s = nr_passer_partition(&t.p, d, o, err)) != NR_OK)) {
        nr_passer_free(&t.p);
        return s;
    }
    t.p.param = o->delta;
    t.lr = o->lr;
    const size_t n_val = (size_t)floor(o->val_split * (double)d->rows);
    t.n_train = d->rows - n_val;
    t.n_val = n_val;
    if (t.n_train == 0) {
        nr_passer_free(&t.p);
        return nr_fail(err, NR_ERR_ARG, "val-split %g leaves no training rows", o->val_split);
    }
    /* class labels, on the held-out rows too: their loss needs them */
    if (obj->labels01 && (s = nr_check_labels(o->partition, d, t.p.threads, err)) != NR_OK) {
        nr_passer_free(&t.p);
        return s;
    }
    res->kernel = t.p.k->name;
    res->threads = t.p.threads;
    res->train_rows = t.n_train;
    res->val_rows = n_val;
    const size_t f = t.f;
    t.v = calloc(f, sizeof *t.v);
    t.w = calloc(f, sizeof *t.w);
    t.sums = calloc(f + 2, sizeof *t.sums);
    if (!t.v || !t.w || !t.sums) {
        s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (o->standardize) {
        t.mean = malloc(f * sizeof *t.mean);
        t.std = malloc(f * sizeof *t.std);
        if (!t.mean || !t.std) {
            s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((s = nr_fit_standardization(d, o->partition, t.n_train, t.p.threads, t.mean, t.std,
                                        err)) != NR_OK)
            goto out;
    }
    /* starting point: the model's raw weights, in the training parameters */
    {
        double shift = 0;
        for (size_t j = 0; j < f; j++) {
            t.v[j] = t.mean ? m->weights[j] * t.std[j] : m->weights[j];
            if (t.mean) shift += m->weights[j] * t.mean[j];
        }
        t.c = m->bias + shift;
    }
    if ((s = nr_ext_init(&t, err)) != NR_OK) goto out;
    s = opt->solve ? run_closed_form(&t, opt, res, err) : run_epochs(&t, opt, res, err);
    if (s != NR_OK) goto out;
    nr_ext_finish(&t);
    /* final model and its losses */
    res->train_loss = nr_trainer_loss(&t, 0, t.n_train);
    if (n_val) res->val_loss = nr_trainer_loss(&t, t.n_train, d->rows);
    if ((s = nr_passer_status(&t.p, err)) != NR_OK) goto out;
    memcpy(m->weights, t.w, f * sizeof *t.w);
    m->bias = t.b;
    m->activation = o->activation;
    free(m->mean);
    free(m->std);
    m->mean = m->std = NULL;
    if (!t.mean) t.mean = t.rec_mean, t.std = t.rec_std, t.rec_mean = t.rec_std = NULL;
    m->standardized = t.mean != NULL;
    if (t.mean) {
        m->mean = t.mean, m->std = t.std;
        t.mean = t.std = NULL;
    }
out:
    res->exact_fallback = t.exact_fallback; /* on failure too: which run failed */
    if (s != NR_OK) nr_train_result_free(res);
    nr_ext_free(&t);
    nr_passer_free(&t.p);
    free(t.v);
    free(t.w);
    free(t.sums);
    free(t.mean);
    free(t.std);
    free(t.rec_mean);
    free(t.rec_std);
    return s;
}
