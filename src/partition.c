/* Data-parallel passes: the rows are shared between
 * processes, and a pass must still give the bits of one process holding
 * them all. nr_pass adds its blocks' partial sums one after the other in
 * block order, starting from zero (its groups of blocks only bound memory,
 * they are not summed apart), so the same blocks computed anywhere and
 * added in the same order give the same sums. Each process computes the
 * blocks whose first row lies in its share (it holds up to BLOCK - 1 rows
 * past its share for a block that straddles the next one: a pass over rows
 * that do not start on a multiple of BLOCK), the partials of every block
 * are gathered in process order, which is block order since shares are
 * contiguous and in row order, and every process adds them as nr_pass does.
 * The cost over a plain allreduce of f + 2 sums is the gather: (f + 2)
 * doubles per block of 4096 rows, 1/2048 (f32, one feature) of the bytes
 * the pass reads. */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "train/train.h"

enum { BLOCK = NR_TRAIN_BLOCK };

size_t nr_partition_blocks(const nr_partition *pt, size_t r0, size_t r1, size_t per, int *counts,
                           int *displs) {
    const size_t nb = (r1 - r0 + BLOCK - 1) / BLOCK;
    if (per && nb > (size_t)INT_MAX / per) return SIZE_MAX;
    size_t prev = 0;
    for (int k = 0; k < pt->parts; k++) {
        /* the blocks of process k end where the next share's first block starts */
        const size_t x = pt->bounds[k + 1];
        size_t next = k + 1 == pt->parts ? nb : x <= r0 ? 0 : (x - r0 + BLOCK - 1) / BLOCK;
        if (next > nb) next = nb;
        if (next < prev) next = prev;
        counts[k] = (int)((next - prev) * per);
        displs[k] = (int)(prev * per);
        prev = next;
    }
    return (size_t)displs[pt->part] / (per ? per : 1);
}

/* What reads rows outside the pass (the per-sample rule, newton's own
 * passes, the labels check, standardization, gathered shuffled rows) would
 * need this process to hold every row: refused rather than half-done. */
static nr_status check_opts(const nr_train_opts *o, nr_error *err) {
    if (o->algo == NR_ALGO_SGD)
        return nr_fail(err, NR_ERR_ARG,
                       "sgd is sequential by definition (each sample's step needs the previous "
                       "one's weights): it cannot be shared between processes; use batch, "
                       "minibatch, ols or batch --exact");
    if (o->algo == NR_ALGO_NEWTON)
        return nr_fail(err, NR_ERR_ARG, "newton is not shared between processes yet");
    if (o->activation != NR_ACT_IDENTITY)
        return nr_fail(err, NR_ERR_ARG,
                       "only the identity activation is shared between processes yet");
    if (o->standardize)
        return nr_fail(err, NR_ERR_ARG, "--standardize is not shared between processes yet");
    if (o->algo == NR_ALGO_MINIBATCH && o->shuffle == NR_SHUFFLE_SAMPLES)
        return nr_fail(err, NR_ERR_ARG,
                       "--shuffle samples gathers rows from every share: use --shuffle batches "
                       "or none with several processes");
    return NR_OK;
}

nr_status nr_passer_partition(nr_passer *p, const nr_data *d, const nr_train_opts *o,
                              nr_error *err) {
    const nr_partition *pt = o->partition;
    nr_status s = check_opts(o, err);
    if (s != NR_OK) return s;
    if (pt->parts < 1 || pt->part < 0 || pt->part >= pt->parts || !pt->bounds || !pt->gather)
        return nr_fail(err, NR_ERR_ARG, "invalid partition of the rows");
    if (pt->bounds[0] != 0 || pt->bounds[pt->parts] != d->rows)
        return nr_fail(err, NR_ERR_ARG, "the partition does not cover the %zu rows", d->rows);
    for (int k = 0; k < pt->parts; k++)
        if (pt->bounds[k + 1] < pt->bounds[k])
            return nr_fail(err, NR_ERR_ARG, "the partition's shares are not in row order");
    const size_t nb = (d->rows + BLOCK - 1) / BLOCK;
    if (nb > (size_t)INT_MAX / p->dd)
        return nr_fail(err, NR_ERR_ARG, "too many blocks for one gather (%zu)", nb);
    p->gathered = malloc(nb * p->dd * sizeof *p->gathered);
    p->counts = malloc(2 * (size_t)pt->parts * sizeof *p->counts);
    if (!p->gathered || !p->counts)
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the partial sums of %zu blocks", nb);
    p->part = pt;
    return NR_OK;
}

nr_status nr_partition_agree(const nr_partition *pt, nr_status s, nr_error *err) {
    const size_t k = (size_t)pt->parts;
    int *counts = calloc(2 * k, sizeof *counts);
    double *all = calloc(k, sizeof *all);
    int rc = -1;
    if (counts && all) {
        for (size_t q = 0; q < k; q++) counts[q] = 1, counts[k + q] = (int)q;
        all[pt->part] = (double)s;
        rc = pt->gather(pt->ctx, all, counts, counts + k);
    }
    nr_status first = NR_OK;
    int who = -1;
    for (size_t q = 0; rc == 0 && q < k && who < 0; q++)
        if (all[q] != 0) first = (nr_status)all[q], who = (int)q;
    free(counts);
    free(all);
    if (rc != 0) return s != NR_OK ? s : nr_fail(err, NR_ERR_IO, "processes could not agree");
    if (s != NR_OK || who < 0) return s;
    return nr_fail(err, first, "process %d failed (its message says why)", who);
}

/* ----------------------------------------------------------- streaming -- */

enum { CHUNK_BYTES = 8 << 20 }; /* per buffer; two are held */

typedef struct {
    const nr_partition *pt;
    size_t row, rows;
    void *buf;
    int rc;
} chunk_read;

static void read_chunk(chunk_read *c) {
    c->rc = c->pt->read(c->pt->read_ctx, c->row, c->rows, c->buf);
}

nr_status nr_partition_each_block(const nr_partition *pt, const nr_data *d, size_t r0, size_t r1,
                                  size_t k0, size_t count, int threads, nr_block_fn fn, void *ctx,
                                  nr_error *err) {
    if (count == 0) return NR_OK;
    if (!pt->read) {
        const size_t lo = pt->bounds[pt->part];
#pragma omp parallel for schedule(static) num_threads(threads) if (count > 1)
        for (size_t k = k0; k < k0 + count; k++) {
            const size_t s = r0 + k * BLOCK, e = s + BLOCK < r1 ? s + BLOCK : r1;
            fn(ctx, k, nr_row_at(d, s - lo), e - s);
        }
        return NR_OK;
    }
    /* chunks of whole blocks, two buffers: chunk c + 1 is read while chunk
     * c is summed */
    const size_t rowb = (d->features + 1) * nr_dtype_size(d->dtype);
    size_t cb = CHUNK_BYTES / (BLOCK * rowb);
    if (cb < 1) cb = 1; /* a block wider than a chunk: one block at a time */
    if (cb > count) cb = count;
    const size_t nchunks = (count + cb - 1) / cb, first = r0 + k0 * BLOCK;
    const size_t end = r0 + (k0 + count) * BLOCK < r1 ? r0 + (k0 + count) * BLOCK : r1;
    const size_t span = cb * BLOCK < end - first ? cb * BLOCK : end - first;
    char *buf[2] = {malloc(span * rowb), nchunks > 1 ? malloc(span * rowb) : NULL};
    if (!buf[0] || (nchunks > 1 && !buf[1])) {
        free(buf[0]), free(buf[1]);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for two chunks of %zu rows", span);
    }
    chunk_read next = {
        .pt = pt, .row = first, .rows = span < end - first ? span : end - first, .buf = buf[0]};
    read_chunk(&next);
    nr_status s = next.rc ? nr_fail(err, NR_ERR_IO, "reading rows %zu to %zu failed", first + 1,
                                    first + next.rows)
                          : NR_OK;
    for (size_t c = 0; s == NR_OK && c < nchunks; c++) {
        const size_t ka = k0 + c * cb, kb = ka + cb < k0 + count ? ka + cb : k0 + count;
        const size_t ca = r0 + ka * BLOCK;
        char *cur = buf[c % 2];
        const bool more = c + 1 < nchunks;
        if (more) {
            const size_t na = r0 + kb * BLOCK, ne = na + span < end ? na + span : end;
            next = (chunk_read){.pt = pt, .row = na, .rows = ne - na, .buf = buf[(c + 1) % 2]};
        }
        /* one thread of the team reads the next chunk, then joins the
         * others on this one's blocks: no thread more than the cores, and
         * none spinning while a separate reader works */
#pragma omp parallel num_threads(threads)
        {
            if (more && omp_get_thread_num() == 0) read_chunk(&next);
#pragma omp for schedule(dynamic, 1)
            for (size_t k = ka; k < kb; k++) {
                const size_t a = r0 + k * BLOCK, e = a + BLOCK < r1 ? a + BLOCK : r1;
                fn(ctx, k, cur + (a - ca) * rowb, e - a);
            }
        }
        if (more && next.rc)
            s = nr_fail(err, NR_ERR_IO, "reading rows %zu to %zu failed", next.row + 1,
                        next.row + next.rows);
    }
    free(buf[0]), free(buf[1]);
    return s;
}

/* ----------------------------------------------------------------- pass -- */

typedef struct {
    const nr_passer *p;
    const nr_data *d;
    const double *w;
    double b;
    size_t rows; /* of the pass: a short one is summed in sub-blocks */
} pass_ctx;

static void pass_block(void *ctx, size_t k, const void *rows, size_t n) {
    const pass_ctx *c = ctx;
    nr_pass_block(c->p, c->d, rows, n, c->rows, c->w, c->b, c->p->gathered + k * c->p->dd);
}

void nr_pass_partitioned(nr_passer *p, const nr_data *d, size_t r0, size_t r1, const double *w,
                         double b, double *out) {
    const nr_partition *pt = p->part;
    const size_t dd = p->dd, nb = (r1 - r0 + BLOCK - 1) / BLOCK;
    int *counts = p->counts, *displs = p->counts + pt->parts;
    const size_t k0 = nr_partition_blocks(pt, r0, r1, dd, counts, displs);
    const size_t mine = (size_t)counts[pt->part] / dd;
    pass_ctx c = {p, d, w, b, r1 - r0};
    nr_error ignored;
    if (nr_partition_each_block(pt, d, r0, r1, k0, mine, p->threads, pass_block, &c, &ignored) !=
            NR_OK ||
        pt->gather(pt->ctx, p->gathered, counts, displs) != 0) {
        /* a failed read, or a transport that reports failure instead of
         * aborting: the loop's divergence check stops training on the NaN */
        for (size_t j = 0; j < dd; j++) out[j] = NAN;
        return;
    }
    for (size_t j = 0; j < dd; j++) out[j] = 0.0;
    for (size_t k = 0; k < nb; k++)
        for (size_t j = 0; j < dd; j++) out[j] += p->gathered[k * dd + j];
}
