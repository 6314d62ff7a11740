/* The vectorised trainer: full-batch and mini-batch gradient descent on the
 * mean squared error, and the per-sample reference rule, behind one entry
 * point.
 *
 * Every pass over rows is cut into blocks of BLOCK rows, the same blocks for
 * any thread count; threads compute the blocks' partial sums with the
 * kernels, and the partials are added in block order. The weights are
 * therefore the same bits for 1 or 64 threads, and a mini-batch of all n
 * rows is exactly a full batch.
 *
 * --standardize trains in the parameters (v, c) of standardized features
 * x' = (x - m) / s without copying the data: the model on raw features is
 * w = v / s, b = c - sum(v m / s), and the gradient in (v, c) follows from
 * the raw sums: dL/dv_j = (sum r x_j - m_j sum r) / s_j, dL/dc = sum r. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "affine.h"
#include "exact.h"
#include "internal.h"
#include "kernels.h"

enum { BLOCK = 4096 }; /* rows per block: the unit of determinism */
enum { GROUP = 256 };  /* blocks whose partials are held at once */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const void *row_ptr(const nr_data *d, size_t i) {
    return (const char *)d->values + i * (d->features + 1) * nr_dtype_size(d->dtype);
}

/* Sums (gradient d values, sum r, sum r^2) over rows [r0, r1) of d. */
typedef struct {
    const nr_kernels *k;
    int threads;
    size_t dd;        /* d + 2 */
    double *partials; /* GROUP x dd */
} passer;

/* The kernel over the block of rows starting at lo (at most BLOCK, not past r1). */
static void block_sums(const passer *p, const nr_data *d, size_t lo, size_t r1, const double *w,
                       double b, double *o) {
    const size_t hi = lo + BLOCK < r1 ? lo + BLOCK : r1;
    if (d->dtype == NR_F32)
        p->k->grad_f32(row_ptr(d, lo), hi - lo, d->features, w, b, o);
    else
        p->k->grad_f64(row_ptr(d, lo), hi - lo, d->features, w, b, o);
}

static void pass(passer *p, const nr_data *d, size_t r0, size_t r1, const double *w, double b,
                 double *out) {
    const size_t dd = p->dd;
    for (size_t j = 0; j < dd; j++) out[j] = 0.0;
    const size_t nblocks = (r1 - r0 + BLOCK - 1) / BLOCK;
    for (size_t g0 = 0; g0 < nblocks; g0 += GROUP) {
        const size_t gn = nblocks - g0 < GROUP ? nblocks - g0 : GROUP;
        /* one block (a mini-batch of <= 4096 rows): no OpenMP region at all,
         * whose set-up costs as much as a fifth of such a block's pass */
        if (gn == 1) {
            block_sums(p, d, r0 + g0 * BLOCK, r1, w, b, p->partials);
        } else {
#pragma omp parallel for schedule(static) num_threads(p->threads)
            for (size_t k = 0; k < gn; k++)
                block_sums(p, d, r0 + (g0 + k) * BLOCK, r1, w, b, p->partials + k * dd);
        }
        for (size_t k = 0; k < gn; k++)
            for (size_t j = 0; j < dd; j++) out[j] += p->partials[k * dd + j];
    }
}

static nr_status passer_init(passer *p, const nr_data *d, nr_kernel_choice kc, int threads,
                             nr_error *err) {
    p->k = nr_kernels_select(kc, err);
    if (!p->k) return kc == NR_KERNEL_AVX2 ? NR_ERR_UNSUPPORTED : NR_ERR_ARG;
    p->threads = threads > 0 ? threads : omp_get_max_threads();
    p->dd = d->features + 2;
    p->partials = malloc(GROUP * p->dd * sizeof(double));
    if (!p->partials) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    return NR_OK;
}

nr_status nr_loss_grad(const nr_data *d, const double *w, double b, nr_kernel_choice k, int threads,
                       double *loss_sum, double *grad, nr_error *err) {
    passer p;
    nr_status s = passer_init(&p, d, k, threads, err);
    if (s != NR_OK) return s;
    double *out = malloc(p.dd * sizeof *out);
    if (!out) {
        free(p.partials);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    pass(&p, d, 0, d->rows, w, b, out);
    for (size_t j = 0; j <= d->features; j++) grad[j] = out[j];
    *loss_sum = out[d->features + 1];
    free(out);
    free(p.partials);
    return NR_OK;
}

nr_status nr_data_sum(const nr_data *d, nr_kernel_choice kc, int threads, double *sum,
                      nr_error *err) {
    const nr_kernels *k = nr_kernels_select(kc, err);
    if (!k) return kc == NR_KERNEL_AVX2 ? NR_ERR_UNSUPPORTED : NR_ERR_ARG;
    if (threads <= 0) threads = omp_get_max_threads();
    const size_t stride = d->features + 1, nblocks = (d->rows + BLOCK - 1) / BLOCK;
    double total = 0.0;
    /* the blocks of pass() in one region (pass() adds a region per group of
     * 256 blocks and a serial sum of partials: those costs belong to the
     * trainer, not to the baseline) */
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : total)
    for (size_t b = 0; b < nblocks; b++) {
        const size_t lo = b * BLOCK, hi = lo + BLOCK < d->rows ? lo + BLOCK : d->rows;
        const size_t n = (hi - lo) * stride;
        total += d->dtype == NR_F32 ? k->sum_f32(row_ptr(d, lo), n) : k->sum_f64(row_ptr(d, lo), n);
    }
    *sum = total;
    return NR_OK;
}

void nr_train_defaults(nr_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->algo = NR_ALGO_BATCH;
    o->epochs = 100;
    o->lr = 0.1;
    o->batch = 4096;
    o->threads = 0;
    o->seed = 42;
    o->val_split = 0.0;
    o->shuffle = NR_SHUFFLE_BATCHES;
    o->tol = -1.0;
    o->patience = 5;
    o->kernel = NR_KERNEL_AUTO;
}

void nr_train_result_free(nr_train_result *r) {
    free(r->loss);
    free(r->val_history);
    free(r->epoch_seconds);
    r->loss = r->val_history = r->epoch_seconds = NULL;
}

/* SplitMix64 stream for the shuffles: deterministic from the seed. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Fisher-Yates with an unbiased bounded draw (Lemire's multiply-shift with
 * rejection). */
static void shuffle_idx(size_t *a, size_t n, uint64_t *state) {
    for (size_t i = n; i > 1; i--) {
        uint64_t bound = i, x = next_u64(state);
        __uint128_t m = (__uint128_t)x * bound;
        uint64_t low = (uint64_t)m;
        if (low < bound) {
            uint64_t t = -bound % bound;
            while (low < t) {
                x = next_u64(state);
                m = (__uint128_t)x * bound;
                low = (uint64_t)m;
            }
        }
        size_t j = (size_t)(m >> 64), tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}

static nr_status check_opts(const nr_data *d, const nr_train_opts *o, const nr_model *m,
                            nr_error *err) {
    if (!d || !d->values || d->rows == 0) return nr_fail(err, NR_ERR_ARG, "no data rows");
    if (d->features == 0) return nr_fail(err, NR_ERR_ARG, "the data have no feature column");
    if (m->features != d->features)
        return nr_fail(err, NR_ERR_ARG, "model has %zu features, data have %zu", m->features,
                       d->features);
    if (o->algo == NR_ALGO_OLS) return NR_OK;
    if (o->epochs < 1) return nr_fail(err, NR_ERR_ARG, "epochs must be at least 1");
    if (!(o->lr > 0) || !isfinite(o->lr))
        return nr_fail(err, NR_ERR_ARG, "learning rate must be a finite number > 0");
    if (o->algo == NR_ALGO_MINIBATCH && o->batch < 1)
        return nr_fail(err, NR_ERR_ARG, "batch must be at least 1");
    if (!(o->val_split >= 0 && o->val_split < 1))
        return nr_fail(err, NR_ERR_ARG, "val-split must be in [0, 1)");
    if (o->tol >= 0 && o->patience < 1) return nr_fail(err, NR_ERR_ARG, "patience must be >= 1");
    if (o->threads < 0) return nr_fail(err, NR_ERR_ARG, "threads must be >= 0");
    if (o->exact && o->algo != NR_ALGO_BATCH && o->algo != NR_ALGO_SGD)
        return nr_fail(err, NR_ERR_ARG, "exact epochs apply to --algo batch and sgd only");

    return NR_OK;
}

/* Feature means and standard deviations (population) over rows [0, n):
 * two blocked passes, reduced in block order. A constant feature gets std 1
 * so that it simply stays unscaled. */
static nr_status fit_standardization(const nr_data *d, size_t n, int threads, double *mean,
                                     double *std, nr_error *err) {
    const size_t f = d->features, cols = f + 1, nb = (n + BLOCK - 1) / BLOCK;
    double *part = calloc(nb * f, sizeof *part);
    if (!part) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    for (int stage = 0; stage < 2; stage++) {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t k = 0; k < nb; k++) {
            double *o = part + k * f;
            for (size_t j = 0; j < f; j++) o[j] = 0;
            const size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
            for (size_t i = lo; i < hi; i++)
                for (size_t j = 0; j < f; j++) {
                    size_t at = i * cols + j;
                    double x = d->dtype == NR_F32 ? (double)((const float *)d->values)[at]
                                                  : ((const double *)d->values)[at];
                    o[j] += stage == 0 ? x : (x - mean[j]) * (x - mean[j]);
                }
        }
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
    return NR_OK;
}

/* Map the internal parameters (v, c) to the raw model (w, b). */
static void to_raw(size_t f, const double *v, double c, const double *mean, const double *std,
                   double *w, double *b) {
    if (!mean) {
        memcpy(w, v, f * sizeof *w);
        *b = c;
        return;
    }
    double shift = 0;
    for (size_t j = 0; j < f; j++) {
        w[j] = v[j] / std[j];
        shift += w[j] * mean[j];
    }
    *b = c - shift;
}

/* Statistics of raw features -> those of standardized ones, x' = (x - m) / s. */
static void standardize_stats(nr_stats *st, const double *m, const double *sd) {
    const size_t d = st->d;
    for (size_t a = 0; a < d; a++) {
        st->mean[a] = (st->mean[a] - m[a]) / sd[a];
        st->cxy[a] /= sd[a];
        for (size_t b = 0; b < d; b++) st->C[a * d + b] /= sd[a] * sd[b];
    }
}

typedef struct {
    const nr_data *d;
    const nr_train_opts *o;
    nr_train_opts plain; /* --exact that fell back: the options without it */
    nr_stats st, vst;    /* --exact: statistics of the training and held-out rows */
    nr_affine E;         /* --exact sgd: one epoch of the per-sample rule as a map */
    double *s, *s1;      /* --exact sgd: the state (v, c) and its image */
    passer p;
    size_t f, n_train, n_val;
    double *mean, *std; /* standardization, or NULL */
    double *v, c;       /* parameters being trained */
    double *w, b;       /* the same on raw features */
    double *sums;       /* d + 2 */
    void *scratch;      /* gathered rows for --shuffle samples */
    double epoch_loss;  /* minibatch: sum of the batches' squared residuals */
    size_t *order;      /* batch or row permutation */
} trainer;

/* MSE over rows [r0, r1) at the current parameters. */
static double mse(trainer *t, size_t r0, size_t r1) {
    if (r1 <= r0) return NAN;
    to_raw(t->f, t->v, t->c, t->mean, t->std, t->w, &t->b);
    pass(&t->p, t->d, r0, r1, t->w, t->b, t->sums);
    return t->sums[t->f + 1] / (double)(r1 - r0);
}

/* --exact: expand the statistics' loss about the least-squares optimum (or
 * the start point if there is none), from one pass of residuals there, so
 * that losses near the optimum are not differences of large sums (exact.h). */
static nr_status exact_reference(trainer *t, nr_stats *st, size_t r0, size_t r1, nr_error *err) {
    const size_t f = t->f;
    double *s0 = malloc(2 * (f + 1) * sizeof *s0), *g0 = s0 ? s0 + f + 1 : NULL;
    if (!s0) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    for (int tries = 0; tries < 2; tries++) {
        if (tries || nr_stats_solve(&t->st, s0, &s0[f], NULL) != NR_OK) {
            memcpy(s0, t->v, f * sizeof *s0);
            s0[f] = t->c;
        }
        to_raw(f, s0, s0[f], t->mean, t->std, t->w, &t->b);
        pass(&t->p, t->d, r0, r1, t->w, t->b, t->sums);
        if (isfinite(t->sums[f + 1])) break;
    }
    for (size_t j = 0; j < f; j++) /* sums of r x' for standardized x' = (x - m) / s */
        g0[j] = t->mean ? (t->sums[j] - t->mean[j] * t->sums[f]) / t->std[j] : t->sums[j];
    g0[f] = t->sums[f];
    nr_status s = nr_stats_set_reference(st, s0, t->sums[f + 1], g0, err);
    free(s0);
    return s;
}

/* One gradient step from the sums over `rows` rows (MSE with PyTorch's mean
 * reduction: gradient (2/rows) sum r x). */
static void step(trainer *t, size_t rows) {
    const double scale = 2.0 / (double)rows, gb = t->sums[t->f];
    for (size_t j = 0; j < t->f; j++) {
        double g = t->mean ? (t->sums[j] - t->mean[j] * gb) / t->std[j] : t->sums[j];
        t->v[j] -= t->o->lr * (scale * g);
    }
    t->c -= t->o->lr * (scale * gb);
}

/* Gradient sums of a mini-batch: a contiguous range, or gathered rows. */
static void batch_sums(trainer *t, size_t lo, size_t hi) {
    to_raw(t->f, t->v, t->c, t->mean, t->std, t->w, &t->b);
    /* rows are gathered only for minibatch --shuffle samples (t->order set);
     * batch ignores --shuffle */
    if (t->o->shuffle != NR_SHUFFLE_SAMPLES || !t->order) {
        pass(&t->p, t->d, lo, hi, t->w, t->b, t->sums);
        return;
    }
    const size_t rowbytes = (t->f + 1) * nr_dtype_size(t->d->dtype);
    for (size_t i = lo; i < hi; i++)
        memcpy((char *)t->scratch + (i - lo) * rowbytes, row_ptr(t->d, t->order[i]), rowbytes);
    nr_data g = {.rows = hi - lo, .features = t->f, .dtype = t->d->dtype, .values = t->scratch};
    pass(&t->p, &g, 0, hi - lo, t->w, t->b, t->sums);
}

/* One epoch of minibatch or sgd (batch is done inline: its loss and its
 * gradient come from the same pass). */
static nr_status run_epoch(trainer *t, int64_t epoch, nr_error *err) {
    const nr_train_opts *o = t->o;
    const size_t n = t->n_train;
    if (o->algo == NR_ALGO_MINIBATCH) {
        const size_t B = o->batch < n ? o->batch : n, nb = (n + B - 1) / B;
        uint64_t state = o->seed ^ (uint64_t)epoch * 0xd1b54a32d192ed03ULL;
        if (o->shuffle == NR_SHUFFLE_BATCHES) {
            for (size_t k = 0; k < nb; k++) t->order[k] = k;
            shuffle_idx(t->order, nb, &state);
        } else if (o->shuffle == NR_SHUFFLE_SAMPLES) {
            for (size_t i = 0; i < n; i++) t->order[i] = i;
            shuffle_idx(t->order, n, &state);
        }
        t->epoch_loss = 0.0;
        const size_t rowbytes = (t->f + 1) * nr_dtype_size(t->d->dtype);
        for (size_t k = 0; k < nb; k++) {
            size_t kb = o->shuffle == NR_SHUFFLE_BATCHES ? t->order[k] : k;
            size_t lo = kb * B, hi = lo + B < n ? lo + B : n;
            if (o->shuffle == NR_SHUFFLE_BATCHES && k + 1 < nb) {
                /* the next batch starts somewhere else: fetch its first lines
                 * while this one runs, before the hardware prefetcher could */
                const char *next = row_ptr(t->d, t->order[k + 1] * B);
                const size_t span = rowbytes * (B < 256 ? B : 256);
                for (size_t off = 0; off < span; off += 64) __builtin_prefetch(next + off);
            }
            batch_sums(t, lo, hi);
            t->epoch_loss += t->sums[t->f + 1];
            step(t, hi - lo);
        }
    } else { /* sgd: the reference rule, on raw or standardized rows */
        nr_data view = *t->d;
        view.rows = n;
        if (t->scratch) view.values = t->scratch, view.dtype = NR_F64;
        double *wv = t->v, *bc = &t->c;
        if (nr_sgd_epoch(&view, o->lr, wv, bc, NULL) != NR_OK)
            return nr_fail(err, NR_ERR_DIVERGED,
                           "epoch %lld: a squared residual overflowed a double; training "
                           "diverged: try a smaller --lr (now %g)",
                           (long long)epoch, o->lr);
    }
    return NR_OK;
}

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

nr_status nr_train(const nr_data *d, const nr_train_opts *o, nr_model *m, nr_train_result *res,
                   nr_error *err) {
    memset(res, 0, sizeof *res);
    res->val_loss = NAN;
    nr_status s = check_opts(d, o, m, err);
    if (s != NR_OK) return s;
    trainer t = {.d = d, .o = o, .f = d->features};
    if ((s = passer_init(&t.p, d, o->kernel, o->threads, err)) != NR_OK) return s;
    const size_t n_val = (size_t)floor(o->val_split * (double)d->rows);
    t.n_train = d->rows - n_val;
    t.n_val = n_val;
    if (t.n_train == 0) {
        free(t.p.partials);
        return nr_fail(err, NR_ERR_ARG, "val-split %g leaves no training rows", o->val_split);
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
        if ((s = fit_standardization(d, t.n_train, t.p.threads, t.mean, t.std, err)) != NR_OK)
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
    if (o->algo == NR_ALGO_MINIBATCH && o->shuffle != NR_SHUFFLE_NONE) {
        const size_t B = o->batch < t.n_train ? o->batch : t.n_train;
        size_t len = o->shuffle == NR_SHUFFLE_SAMPLES ? t.n_train : (t.n_train + B - 1) / B;
        t.order = malloc(len * sizeof *t.order);
        if (o->shuffle == NR_SHUFFLE_SAMPLES)
            t.scratch = malloc(B * (f + 1) * nr_dtype_size(d->dtype));
        if (!t.order || (o->shuffle == NR_SHUFFLE_SAMPLES && !t.scratch)) {
            s = nr_fail(err, NR_ERR_NOMEM, "out of memory for the shuffle");
            goto out;
        }
    }
    if (o->algo == NR_ALGO_SGD && t.mean) { /* the reference rule needs the rows themselves */
        double *z = malloc(t.n_train * (f + 1) * sizeof *z);
        if (!z) {
            s = nr_fail(err, NR_ERR_NOMEM, "out of memory for standardized rows");
            goto out;
        }
        for (size_t i = 0; i < t.n_train; i++) {
            for (size_t j = 0; j <= f; j++) {
                size_t at = i * (f + 1) + j;
                double x = d->dtype == NR_F32 ? (double)((const float *)d->values)[at]
                                              : ((const double *)d->values)[at];
                z[at] = j < f ? (x - t.mean[j]) / t.std[j] : x;
            }
        }
        t.scratch = z;
    }
    if (o->algo == NR_ALGO_OLS) {
        const double t0 = now_seconds();
        if ((s = nr_stats_collect(t.p.k, d, 0, t.n_train, t.p.threads, o->should_stop,
                                  o->should_stop_ctx, &t.st, err)) != NR_OK)
            goto out;
        /* the solve is scale-free (it standardizes internally), so
         * --standardize changes no number: it is recorded in the model */
        if ((s = nr_stats_solve(&t.st, t.w, &t.b, err)) != NR_OK) goto out;
        res->seconds = now_seconds() - t0;
        res->samples_per_second = res->seconds > 0 ? (double)t.n_train / res->seconds : 0;
        res->stop_reason = "closed form";
        memcpy(m->weights, t.w, f * sizeof *t.w);
        m->bias = t.b;
        pass(&t.p, d, 0, t.n_train, t.w, t.b, t.sums);
        res->train_loss = t.sums[f + 1] / (double)t.n_train;
        if (n_val) {
            pass(&t.p, d, t.n_train, d->rows, t.w, t.b, t.sums);
            res->val_loss = t.sums[f + 1] / (double)n_val;
        }
        free(m->mean);
        free(m->std);
        m->mean = m->std = NULL;
        m->standardized = t.mean != NULL;
        if (t.mean) {
            m->mean = t.mean, m->std = t.std;
            t.mean = t.std = NULL;
        }
        goto out;
    }
    /* the rows the reference rule walks, in the same order */
    nr_data walked = *d;
    walked.rows = t.n_train;
    if (t.scratch) walked.values = t.scratch, walked.dtype = NR_F64;
    /* sgd near its stability limit: rounding inside an epoch grows beyond
     * what the maps and the per-sample run can agree on (affine.h); the
     * per-sample run is the reference, so it runs instead */
    if (o->exact && o->algo == NR_ALGO_SGD &&
        nr_affine_amplification(&walked, 0, t.n_train, o->lr) > NR_AFFINE_MAX_AMPLIFICATION) {
        t.plain = *o;
        t.plain.exact = false;
        o = t.o = &t.plain;
        res->exact_fallback = true;
    }
    double stats_seconds = 0; /* --exact: the one pass, counted in the run's time */
    if (o->exact) {
        const double ts = now_seconds();
        if ((s = nr_stats_collect(t.p.k, d, 0, t.n_train, t.p.threads, o->should_stop,
                                  o->should_stop_ctx, &t.st, err)) != NR_OK ||
            (s = nr_stats_check_finite(&t.st, err)) != NR_OK)
            goto out;
        if (n_val &&
            (s = nr_stats_collect(t.p.k, d, t.n_train, d->rows, t.p.threads, o->should_stop,
                                  o->should_stop_ctx, &t.vst, err)) != NR_OK)
            goto out;
        if (t.mean) {
            standardize_stats(&t.st, t.mean, t.std);
            if (n_val) standardize_stats(&t.vst, t.mean, t.std);
        }
        if ((s = exact_reference(&t, &t.st, 0, t.n_train, err)) != NR_OK ||
            (n_val && (s = exact_reference(&t, &t.vst, t.n_train, d->rows, err)) != NR_OK))
            goto out;
        if (o->algo == NR_ALGO_SGD) {
            if ((s = nr_affine_init(&t.E, f, err)) != NR_OK) goto out;
            t.s = malloc(2 * (f + 1) * sizeof *t.s);
            if (!t.s) {
                s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
                goto out;
            }
            t.s1 = t.s + f + 1;
            if ((s = nr_affine_epoch(&walked, 0, t.n_train, o->lr, t.p.threads, o->should_stop,
                                     o->should_stop_ctx, &t.E, err)) != NR_OK)
                goto out;
        }
        stats_seconds = now_seconds() - ts;
    }
    /* the history grows with the epochs run: --epochs 10^9 with --tol must
     * not reserve 24 GB up front */
    size_t cap = 0;
    if ((s = grow_history(res, n_val > 0, &cap, 1, err)) != NR_OK) goto out;

    res->stop_reason = "epochs";
    double best = INFINITY, first = NAN;
    int64_t since = 0;
    const double t0 = now_seconds();
    for (int64_t e = 1; e <= o->epochs; e++) {
        const double te = now_seconds();
        /* The epoch's loss: batch, the MSE at the weights it starts from
         * (from the gradient's own pass); minibatch, the mean of the batch
         * losses as it goes (no extra pass); sgd, the MSE at the start
         * weights (one vectorised pass, cheap next to the per-sample rule).
         * Validation: the MSE at the start weights. --exact: both from the
         * statistics, O(d^2); the step from them (batch) or from the epoch
         * map (sgd), O(d^2) too. */
        if ((s = grow_history(res, n_val > 0, &cap, (size_t)e, err)) != NR_OK) break;
        if (n_val)
            res->val_history[e - 1] =
                o->exact ? nr_stats_mse(&t.vst, t.v, t.c) : mse(&t, t.n_train, d->rows);
        double loss = NAN;
        if (o->exact && o->algo == NR_ALGO_SGD) {
            loss = nr_stats_mse(&t.st, t.v, t.c);
            memcpy(t.s, t.v, f * sizeof *t.s);
            t.s[f] = t.c;
            if ((s = nr_affine_step(&t.E, t.s, t.s1, e, o->lr, err)) != NR_OK) break;
            memcpy(t.v, t.s1, f * sizeof *t.v);
            t.c = t.s1[f];
        } else if (o->exact) {
            loss = nr_stats_mse(&t.st, t.v, t.c);
            double gc;
            nr_stats_grad(&t.st, t.v, t.c, t.w, &gc); /* t.w as scratch for dL/dv */
            for (size_t j = 0; j < f; j++) t.v[j] -= o->lr * t.w[j];
            t.c -= o->lr * gc;
        } else if (o->algo == NR_ALGO_BATCH) {
            batch_sums(&t, 0, t.n_train);
            loss = t.sums[f + 1] / (double)t.n_train;
            step(&t, t.n_train);
        } else if (o->algo == NR_ALGO_MINIBATCH) {
            if ((s = run_epoch(&t, e, err)) != NR_OK) break;
            loss = t.epoch_loss / (double)t.n_train;
        } else {
            loss = mse(&t, 0, t.n_train);
            if ((s = run_epoch(&t, e, err)) != NR_OK) break;
        }
        res->loss[e - 1] = loss;
        res->epoch_seconds[e - 1] = now_seconds() - te;
        res->epochs_run = e;
        if (e == 1) first = loss;
        bool bad_w = !isfinite(t.c);
        for (size_t j = 0; j < f && !bad_w; j++) bad_w = !isfinite(t.v[j]);
        if (!isfinite(loss) || bad_w || (first > 0 && loss > 1e6 * first)) {
            s = nr_fail(err, NR_ERR_DIVERGED,
                        "epoch %lld: loss is %g (%g at epoch 1): training diverged; try a "
                        "smaller --lr (now %g)",
                        (long long)e, loss, first, o->lr);
            break;
        }
        const double el = now_seconds() - t0;
        if (o->on_epoch && o->on_epoch(o->on_epoch_ctx, e, loss,
                                       el > 0 ? (double)t.n_train * (double)e / el : 0)) {
            res->stop_reason = "interrupted";
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
    }
    res->seconds = now_seconds() - t0 + stats_seconds;
    if (s != NR_OK) goto out;
    res->samples_per_second =
        res->seconds > 0 ? (double)t.n_train * (double)res->epochs_run / res->seconds : 0;
    /* final model and its losses */
    res->train_loss = mse(&t, 0, t.n_train);
    if (n_val) res->val_loss = mse(&t, t.n_train, d->rows);
    memcpy(m->weights, t.w, f * sizeof *t.w);
    m->bias = t.b;
    free(m->mean);
    free(m->std);
    m->mean = m->std = NULL;
    m->standardized = t.mean != NULL;
    if (t.mean) {
        m->mean = t.mean, m->std = t.std;
        t.mean = t.std = NULL;
    }
out:
    if (s != NR_OK) nr_train_result_free(res);
    free(t.p.partials);
    free(t.v);
    free(t.w);
    free(t.sums);
    free(t.mean);
    free(t.std);
    free(t.scratch);
    free(t.order);
    nr_stats_free(&t.st);
    nr_stats_free(&t.vst);
    nr_affine_free(&t.E);
    free(t.s);
    return s;
}
