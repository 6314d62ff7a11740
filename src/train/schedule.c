/* The peers' training options that change the step rather than the pass:
 * learning-rate schedules, momentum, Polyak averaging, the batch step with
 * its penalty, and the snapshots of on-divergence backoff. The optimizers
 * reach them through one hook each (nr_trainer_step, the sgd epoch), taken
 * only when t->ext exists, so the plain trainer keeps its bits and its
 * speed. Every quantity here is O(d) per step: nothing runs per row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

/* What the options ask of the step and of the per-sample rule. */
static bool changes_rule(const nr_train_opts *o) {
    return o->l2 > 0 || o->l1 > 0 || o->loss == NR_LOSS_HUBER || o->lr_schedule != NR_LR_CONSTANT ||
           o->momentum > 0 || o->average;
}

nr_status nr_ext_check(const nr_train_opts *o, nr_error *err) {
    if (!(o->l2 >= 0) || !isfinite(o->l2))
        return nr_fail(err, NR_ERR_ARG, "l2 must be a finite number >= 0");
    if (!(o->l1 >= 0) || !isfinite(o->l1))
        return nr_fail(err, NR_ERR_ARG, "l1 must be a finite number >= 0");
    if ((unsigned)o->loss > NR_LOSS_HUBER)
        return nr_fail(err, NR_ERR_ARG, "unknown loss %d", (int)o->loss);
    if (o->loss == NR_LOSS_HUBER && (!(o->delta > 0) || !isfinite(o->delta)))
        return nr_fail(err, NR_ERR_ARG, "huber delta must be a finite number > 0");
    if (o->loss == NR_LOSS_HUBER && o->activation != NR_ACT_IDENTITY)
        return nr_fail(err, NR_ERR_ARG, "the huber loss is for the identity activation");
    if ((unsigned)o->lr_schedule > NR_LR_COSINE)
        return nr_fail(err, NR_ERR_ARG, "unknown learning-rate schedule %d", (int)o->lr_schedule);
    /* a schedule's parameters are read (and checked) only when it is chosen,
     * so options filled without nr_train_defaults keep working */
    if (o->lr_schedule == NR_LR_INVSCALING && (!isfinite(o->power_t) || o->power_t < 0))
        return nr_fail(err, NR_ERR_ARG, "power_t must be a finite number >= 0");
    if (o->lr_schedule == NR_LR_STEP && o->lr_step < 1)
        return nr_fail(err, NR_ERR_ARG, "lr_step must be at least 1");
    if (o->lr_schedule == NR_LR_STEP && !(o->lr_gamma > 0 && o->lr_gamma <= 1))
        return nr_fail(err, NR_ERR_ARG, "lr_gamma must be in (0, 1]");
    if (!(o->momentum >= 0 && o->momentum < 1))
        return nr_fail(err, NR_ERR_ARG, "momentum must be in [0, 1)");
    if (o->nesterov && !(o->momentum > 0))
        return nr_fail(err, NR_ERR_ARG, "nesterov needs a momentum > 0");
    if ((unsigned)o->on_divergence > NR_DIVERGE_BACKOFF)
        return nr_fail(err, NR_ERR_ARG, "unknown on-divergence action %d", (int)o->on_divergence);
    if (o->average && o->restore_best)
        return nr_fail(err, NR_ERR_ARG,
                       "average and restore_best each choose the final weights: ask for one");
    const bool epochs_only = o->lr_schedule != NR_LR_CONSTANT || o->momentum > 0 || o->average ||
                             o->on_divergence == NR_DIVERGE_BACKOFF;
    const char *algo = o->algo == NR_ALGO_OLS ? "ols" : o->algo == NR_ALGO_NEWTON ? "newton" : NULL;
    if (algo && (epochs_only || o->l1 > 0 || o->loss == NR_LOSS_HUBER))
        return nr_fail(err, NR_ERR_ARG,
                       "%s takes only the l2 penalty of these options (l1, huber, schedules, "
                       "momentum, averaging and backoff apply to batch, minibatch and sgd)",
                       algo);
    if (o->exact && o->algo == NR_ALGO_SGD && (changes_rule(o) || epochs_only))
        return nr_fail(err, NR_ERR_ARG,
                       "sgd --exact builds one epoch's map once: it takes none of the penalty, "
                       "huber, schedule, momentum, averaging or backoff options");
    if (o->exact && o->algo == NR_ALGO_BATCH &&
        (o->l1 > 0 || o->loss == NR_LOSS_HUBER || o->lr_schedule != NR_LR_CONSTANT ||
         o->momentum > 0 || o->average))
        return nr_fail(err, NR_ERR_ARG,
                       "batch --exact takes l2 and backoff of these options (its epochs come "
                       "from the squared error's statistics)");
    return NR_OK;
}

/* v, c, buffer, average, q (f + 1 + 2 (f + 1) + f) and steps, buf_set, u. */
static size_t snap_len(size_t f) {
    return 4 * f + 6;
}

nr_status nr_ext_init(nr_trainer *t, nr_error *err) {
    const nr_train_opts *o = t->o;
    t->ext = NULL;
    if (!changes_rule(o) && o->on_divergence != NR_DIVERGE_BACKOFF) return NR_OK;
    nr_ext *x = calloc(1, sizeof *x);
    if (!x) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    t->ext = x;
    const size_t f = t->f, m = f + 1;
    x->f = f;
    x->rich_sgd = changes_rule(o);
    x->epoch = 1;
    x->scratch = malloc(m * sizeof *x->scratch);
    if (o->momentum > 0) x->buf = calloc(m, sizeof *x->buf);
    if (o->average) x->avg = calloc(m, sizeof *x->avg);
    if (o->l1 > 0) x->q = calloc(f ? f : 1, sizeof *x->q);
    if (o->on_divergence == NR_DIVERGE_BACKOFF) {
        x->snap[0] = calloc(2 * snap_len(f), sizeof(double));
        if (x->snap[0]) x->snap[1] = x->snap[0] + snap_len(f);
    }
    x->snap_epoch[0] = x->snap_epoch[1] = -1;
    if (!x->scratch || (o->momentum > 0 && !x->buf) || (o->average && !x->avg) ||
        (o->l1 > 0 && !x->q) || (o->on_divergence == NR_DIVERGE_BACKOFF && !x->snap[0]))
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    return NR_OK;
}

void nr_ext_free(nr_trainer *t) {
    nr_ext *x = t->ext;
    if (!x) return;
    free(x->scratch);
    free(x->buf);
    free(x->avg);
    free(x->q);
    free(x->snap[0]);
    free(x);
    t->ext = NULL;
}

double nr_ext_lr(const nr_trainer *t) {
    const nr_ext *x = t->ext;
    const nr_train_opts *o = t->o;
    switch (o->lr_schedule) {
    case NR_LR_INVSCALING:
        return t->lr / pow((double)(x->steps + 1), o->power_t);
    case NR_LR_STEP:
        return t->lr * pow(o->lr_gamma, (double)((x->epoch - 1) / o->lr_step));
    case NR_LR_COSINE:
        return t->lr * (1.0 + cos(M_PI * (double)(x->epoch - 1) / (double)o->epochs)) / 2.0;
    case NR_LR_CONSTANT:
        break;
    }
    return t->lr;
}

/* After a step: one more iterate in the running mean. */
void nr_ext_average(nr_ext *x, const double *v, double c) {
    if (!x->avg) return;
    const double k = (double)x->steps;
    for (size_t j = 0; j < x->f; j++) x->avg[j] += (v[j] - x->avg[j]) / k;
    x->avg[x->f] += (c - x->avg[x->f]) / k;
}

void nr_ext_step(nr_trainer *t, size_t rows) {
    nr_ext *x = t->ext;
    const nr_train_opts *o = t->o;
    const size_t f = t->f;
    const double lr = nr_ext_lr(t), scale = t->obj->gscale / (double)rows, gb = t->sums[f];
    double *g = x->scratch;
    /* the plain step's gradient, operation for operation, then the penalty */
    for (size_t j = 0; j < f; j++) {
        const double gj = t->mean ? (t->sums[j] - t->mean[j] * gb) / t->std[j] : t->sums[j];
        g[j] = scale * gj;
        if (o->l2 > 0) g[j] += o->l2 * t->v[j];
    }
    g[f] = scale * gb;
    if (x->buf) {
        for (size_t k = 0; k <= f; k++) {
            x->buf[k] = x->buf_set ? o->momentum * x->buf[k] + g[k] : g[k];
            g[k] = o->nesterov ? g[k] + o->momentum * x->buf[k] : x->buf[k];
        }
        x->buf_set = true;
    }
    for (size_t j = 0; j < f; j++) t->v[j] -= lr * g[j];
    t->c -= lr * g[f];
    if (o->l1 > 0) {
        /* proximal step of lr l1 |v|_1: soft-threshold, exact zeros */
        const double th = lr * o->l1;
        for (size_t j = 0; j < f; j++)
            t->v[j] = t->v[j] > th ? t->v[j] - th : t->v[j] < -th ? t->v[j] + th : 0.0;
    }
    x->steps++;
    nr_ext_average(x, t->v, t->c);
}

/* The serialised state: see snap_len. */
static void snap_io(nr_trainer *t, double *s, bool save) {
    nr_ext *x = t->ext;
    const size_t f = t->f, m = f + 1;
    double *parts[] = {t->v, x->buf, x->avg, x->q};
    const size_t lens[] = {f, m, m, f};
    size_t at = 0;
    for (int k = 0; k < 4; k++) {
        if (parts[k]) {
            if (save)
                memcpy(s + at, parts[k], lens[k] * sizeof *s);
            else
                memcpy(parts[k], s + at, lens[k] * sizeof *s);
        } else if (save) { /* a checkpoint holds no uninitialised bytes */
            memset(s + at, 0, lens[k] * sizeof *s);
        }
        at += lens[k];
    }
    if (save) {
        s[at] = t->c, s[at + 1] = (double)x->steps, s[at + 2] = x->buf_set, s[at + 3] = x->u;
    } else {
        t->c = s[at], x->steps = (int64_t)s[at + 1], x->buf_set = s[at + 2] != 0, x->u = s[at + 3];
    }
}

void nr_ext_save(nr_trainer *t, int64_t e) {
    nr_ext *x = t->ext;
    if (!x || !x->snap[0]) return;
    snap_io(t, x->snap[e & 1], true);
    x->snap_epoch[e & 1] = e;
}

bool nr_ext_restore(nr_trainer *t, int64_t e) {
    nr_ext *x = t->ext;
    if (!x || !x->snap[0] || x->snap_epoch[e & 1] != e) return false;
    snap_io(t, x->snap[e & 1], false);
    return true;
}

/* The current state as a snapshot holds it, then backoff's two snapshots
 * and their epochs: a run resumed between two epochs backs off as the
 * one never stopped would. */
size_t nr_ext_state_len(const nr_trainer *t) {
    const nr_ext *x = t->ext;
    if (!x) return 0;
    return snap_len(t->f) + (x->snap[0] ? 2 * snap_len(t->f) + 2 : 0);
}

void nr_ext_state_io(nr_trainer *t, double *s, bool save) {
    nr_ext *x = t->ext;
    if (!x) return;
    const size_t n = snap_len(t->f);
    snap_io(t, s, save);
    if (!x->snap[0]) return;
    double *kept = s + n, *epochs = kept + 2 * n;
    if (save) {
        memcpy(kept, x->snap[0], 2 * n * sizeof *s);
        epochs[0] = (double)x->snap_epoch[0], epochs[1] = (double)x->snap_epoch[1];
    } else {
        memcpy(x->snap[0], kept, 2 * n * sizeof *s);
        x->snap_epoch[0] = (int64_t)epochs[0], x->snap_epoch[1] = (int64_t)epochs[1];
    }
}

void nr_ext_finish(nr_trainer *t) {
    nr_ext *x = t->ext;
    if (!x || !x->avg || x->steps == 0) return;
    memcpy(t->v, x->avg, t->f * sizeof *t->v);
    t->c = x->avg[t->f];
}
