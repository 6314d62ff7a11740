/* The blocked pass: the objective's loss and gradient sums over rows, cut
 * into blocks, the same blocks for any thread count; threads compute the
 * blocks' partial sums with the kernels, and the partials are added in
 * block order, starting from zero. The weights are therefore the same bits
 * for 1 or 64 threads, and a mini-batch of all n rows is exactly a full
 * batch. The block rule depends on the pass's length m alone: a pass of
 * more than BLOCK (4096) rows is cut into blocks of BLOCK rows from its
 * first row; a pass of at most BLOCK rows (a mini-batch, a small data set)
 * into sub-blocks of NR_TRAIN_SUBBLOCK (512) rows, so that a default mini-batch can be
 * shared by up to 8 threads (opt_minibatch.c). Large passes keep the
 * coarser grid, which is also the grid that processes share rows on
 * (partition.c). The optimizers and the loop that use it are in train/
 * (see train/train.h). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"
#include "train/train.h"

enum { BLOCK = NR_TRAIN_BLOCK }; /* rows per block of a pass of more than BLOCK rows */
enum { GROUP = NR_PASS_GROUP };  /* blocks whose partials are held at once */

static const void *row_ptr(const nr_data *d, size_t i) {
    return (const char *)d->values + i * (d->features + 1) * nr_dtype_size(d->dtype);
}

void nr_block_kernel(const nr_passer *p, const nr_data *d, const void *rows, size_t n,
                     const double *w, double b, double *o) {
    if (d->dtype == NR_F16) {
        /* the halves in place, where the table has a kernel for them: the
         * f32 kernel's bits without the widened copy's writes and reads */
        if (p->ph16 ? p->ph16(rows, n, d->features, w, b, p->param, o)
                    : p->h16 && p->h16(rows, n, d->features, w, b, o))
            return;
        /* otherwise widened to floats first (exact), in the calling thread's
         * slot of p->wide, so f16 rows take the f32 kernels' paths and bits;
         * every team that computes blocks has at most p->threads threads
         * (where the f16 kernels take every block, the slots are allocated
         * but never written) */
        float *x = p->wide + (size_t)omp_get_thread_num() * p->wide_slot;
        p->k->widen_f16((const uint16_t *)rows, n * (d->features + 1), x);
        if (p->pf32)
            p->pf32(x, n, d->features, w, b, p->param, o);
        else
            p->f32(x, n, d->features, w, b, o);
    } else if (p->pf32 && d->dtype == NR_F32)
        p->pf32(rows, n, d->features, w, b, p->param, o);
    else if (p->pf64 && d->dtype == NR_F64)
        p->pf64(rows, n, d->features, w, b, p->param, o);
    else if (d->dtype == NR_F32)
        p->f32(rows, n, d->features, w, b, o);
    else
        p->f64(rows, n, d->features, w, b, o);
}

/* The kernel over the block of rows starting at lo (at most BLOCK, not past r1). */
static void block_sums(const nr_passer *p, const nr_data *d, size_t lo, size_t r1, const double *w,
                       double b, double *o) {
    const size_t hi = lo + BLOCK < r1 ? lo + BLOCK : r1;
    nr_block_kernel(p, d, row_ptr(d, lo), hi - lo, w, b, o);
}

void nr_pass_blocks(const nr_passer *p, const nr_data *d, size_t r0, size_t r1, size_t k0,
                    size_t k1, const double *w, double b, double *part) {
    const size_t S = nr_pass_block_rows(r1 - r0);
    for (size_t k = k0; k < k1; k++) {
        const size_t lo = r0 + k * S;
        block_sums(p, d, lo, lo + S < r1 ? lo + S : r1, w, b, part + (k - k0) * p->dd);
    }
}

void nr_pass_add(const double *part, size_t nblocks, size_t dd, double *out) {
    for (size_t j = 0; j < dd; j++) out[j] = 0.0;
    for (size_t k = 0; k < nblocks; k++)
        for (size_t j = 0; j < dd; j++) out[j] += part[k * dd + j];
}

void nr_pass_block(const nr_passer *p, const nr_data *d, const void *rows, size_t n,
                   size_t pass_rows, const double *w, double b, double *out) {
    const nr_data v = {.rows = n, .features = d->features, .dtype = d->dtype, .values = rows};
    if (pass_rows > BLOCK) {
        block_sums(p, &v, 0, n, w, b, out);
        return;
    }
    /* the pass is this one block, so no other thread uses the partials */
    const size_t nb = nr_pass_blocks_of(n);
    nr_pass_blocks(p, &v, 0, n, 0, nb, w, b, p->partials);
    nr_pass_add(p->partials, nb, p->dd, out);
}

void nr_pass(nr_passer *p, const nr_data *d, size_t r0, size_t r1, const double *w, double b,
             double *out) {
    if (p->part) {
        nr_pass_partitioned(p, d, r0, r1, w, b, out);
        return;
    }
    const size_t dd = p->dd, nblocks = nr_pass_blocks_of(r1 - r0);
    for (size_t j = 0; j < dd; j++) out[j] = 0.0;
    for (size_t g0 = 0; g0 < nblocks; g0 += GROUP) {
        const size_t gn = nblocks - g0 < GROUP ? nblocks - g0 : GROUP;
        /* a pass of at most BLOCK rows (or one block left): no OpenMP region
         * at all, whose set-up costs as much as a fifth of such a pass;
         * minibatch shares its batches between threads without one */
        if (gn == 1 || r1 - r0 <= BLOCK) {
            nr_pass_blocks(p, d, r0, r1, g0, g0 + gn, w, b, p->partials);
        } else {
#pragma omp parallel for schedule(static) num_threads(p->threads)
            for (size_t k = 0; k < gn; k++)
                nr_pass_blocks(p, d, r0, r1, g0 + k, g0 + k + 1, w, b, p->partials + k * dd);
        }
        /* the groups only bound memory: one running sum in block order */
        for (size_t k = 0; k < gn; k++)
            for (size_t j = 0; j < dd; j++) out[j] += p->partials[k * dd + j];
    }
}

/* The table's f16 kernel of the objective whose f32 kernel the passer has:
 * found by that kernel rather than named by the objective, so that an
 * objective without an f16 kernel simply widens. */
static void f16_kernels(nr_passer *p) {
    const nr_kernels *k = p->k;
    if (p->pf32 && p->pf32 == k->huber_f32) p->ph16 = k->huber_f16;
    if (!p->f32) return;
    if (p->f32 == k->grad_f32) p->h16 = k->grad_f16;
    if (p->f32 == k->logistic_f32) p->h16 = k->logistic_f16;
    if (p->f32 == k->perceptron_f32) p->h16 = k->perceptron_f16;
}

nr_status nr_passer_init(nr_passer *p, const nr_data *d, const nr_objective *obj,
                         nr_kernel_choice kc, int threads, nr_error *err) {
    p->partials = NULL;
    p->part = NULL, p->gathered = NULL, p->counts = NULL;
    p->status = NR_OK;
    p->wide = NULL;
    p->h16 = NULL, p->ph16 = NULL;
    p->k = nr_kernels_select(kc, err);
    if (!p->k) return kc == NR_KERNEL_AVX2 ? NR_ERR_UNSUPPORTED : NR_ERR_ARG;
    p->f32 = obj->kernel_f32 ? obj->kernel_f32(p->k) : NULL;
    p->f64 = obj->kernel_f64 ? obj->kernel_f64(p->k) : NULL;
    p->pf32 = obj->kernelp_f32 ? obj->kernelp_f32(p->k) : NULL;
    p->pf64 = obj->kernelp_f64 ? obj->kernelp_f64(p->k) : NULL;
    p->param = 0.0;
    if (d->dtype == NR_F16) f16_kernels(p);
    p->threads = threads > 0 ? threads : omp_get_max_threads();
    p->dd = d->features + 2;
    p->partials = malloc(GROUP * p->dd * sizeof(double));
    if (!p->partials) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    if (d->dtype == NR_F16) {
        const size_t rows = d->rows < BLOCK ? d->rows : BLOCK;
        size_t n;
        if (__builtin_mul_overflow(rows, d->features + 1, &p->wide_slot) ||
            __builtin_mul_overflow(p->wide_slot, (size_t)p->threads, &n) ||
            !(p->wide = malloc(n * sizeof *p->wide))) {
            free(p->partials), p->partials = NULL;
            return nr_fail(err, NR_ERR_NOMEM, "out of memory for %d blocks of widened f16 rows",
                           p->threads);
        }
    }
    return NR_OK;
}

void nr_passer_free(nr_passer *p) {
    free(p->partials);
    free(p->gathered);
    free(p->counts);
    free(p->wide);
    p->wide = NULL;
    p->partials = p->gathered = NULL;
    p->counts = NULL;
}

nr_status nr_loss_grad(const nr_data *d, const double *w, double b, nr_kernel_choice k, int threads,
                       double *loss_sum, double *grad, nr_error *err) {
    nr_passer p;
    nr_status s = nr_passer_init(&p, d, nr_objective_for(NR_ACT_IDENTITY), k, threads, err);
    if (s != NR_OK) return s;
    double *out = malloc(p.dd * sizeof *out);
    if (!out) {
        nr_passer_free(&p);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    nr_pass(&p, d, 0, d->rows, w, b, out);
    for (size_t j = 0; j <= d->features; j++) grad[j] = out[j];
    *loss_sum = out[d->features + 1];
    free(out);
    nr_passer_free(&p);
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
    o->delta = 1.0;
    o->power_t = 0.25;
    o->lr_step = 30;
    o->lr_gamma = 0.1;
    o->checkpoint_every = 10;
}

void nr_train_result_free(nr_train_result *r) {
    free(r->loss);
    free(r->val_history);
    free(r->epoch_seconds);
    r->loss = r->val_history = r->epoch_seconds = NULL;
}
