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

/* Streamed, every thread of the team reads its own groups of whole blocks
 * with pread into its own buffer and sums them at once. The buffer is small
 * enough to stay in the core's L2, so the copy out of the page cache is the
 * epoch's one pass over memory, as the mapped epoch's reads are, and it runs
 * on every thread: no reader thread whose copy the others wait for, no
 * barrier per chunk. The blocks stay the unit of work, so the bits are the
 * mapped run's. Groups are handed out in file order (dynamic), which keeps
 * the reads of the whole team sequential for the kernel's readahead. */
enum {
    GROUP_BYTES = 256 << 10, /* a thread's read: half of a 512 KiB L2 */
    STREAM_BYTES = 16 << 20, /* every thread's buffer, when blocks are wide */
};

static nr_status each_block_streamed(const nr_partition *pt, const nr_data *d, size_t r0, size_t r1,
                                     size_t k0, size_t count, int threads, nr_block_fn fn,
                                     void *ctx, nr_error *err) {
    const size_t rowb = (d->features + 1) * nr_dtype_size(d->dtype), blockb = BLOCK * rowb;
    size_t per = GROUP_BYTES / blockb; /* blocks per read */
    if (per < 1) per = 1;              /* a block wider than a group: one block at a time */
    if (per > count) per = count;
    const size_t groups = (count + per - 1) / per;
    /* wide blocks: fewer threads rather than more memory (the bits do not
     * depend on the number of threads) */
    size_t nt = STREAM_BYTES / (per * blockb);
    if (nt < 1) nt = 1;
    if (threads >= 1 && nt > (size_t)threads) nt = (size_t)threads;
    if (nt > groups) nt = groups;
    const size_t stride = (per * blockb + 63) & ~(size_t)63; /* no line shared between threads */
    char *bufs = malloc(nt * stride);
    if (!bufs)
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu buffers of %zu rows", nt,
                       per * BLOCK);
    /* the first failing read is named whatever the threads: every group
     * before the lowest failing one is still read, only later ones are
     * skipped (the pass is lost: no need to wait on more failing reads) */
    size_t bad = SIZE_MAX, bad_a = 0, bad_e = 0;
#pragma omp parallel num_threads((int)nt) if (nt > 1)
    {
        char *buf = bufs + (size_t)omp_get_thread_num() * stride;
#pragma omp for schedule(dynamic, 1)
        for (size_t g = 0; g < groups; g++) {
            size_t first_bad;
#pragma omp atomic read
            first_bad = bad;
            if (g > first_bad) continue;
            const size_t ka = k0 + g * per, kb = ka + per < k0 + count ? ka + per : k0 + count;
            const size_t a = r0 + ka * BLOCK, e = r0 + kb * BLOCK < r1 ? r0 + kb * BLOCK : r1;
            if (pt->read(pt->read_ctx, a, e - a, buf) != 0) {
#pragma omp critical /* unnamed: a named one exports a lock symbol */
                if (g < bad) {
                    bad_a = a, bad_e = e;
#pragma omp atomic write
                    bad = g;
                }
                continue;
            }
            for (size_t k = ka; k < kb; k++) {
                const size_t s = r0 + k * BLOCK, t = s + BLOCK < r1 ? s + BLOCK : r1;
                fn(ctx, k, buf + (s - a) * rowb, t - s);
            }
        }
    }
    free(bufs);
    if (bad != SIZE_MAX)
        return nr_fail(err, NR_ERR_IO, "reading rows %zu to %zu failed", bad_a + 1, bad_e);
    return NR_OK;
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
    return each_block_streamed(pt, d, r0, r1, k0, count, threads, fn, ctx, err);
}

/* ----------------------------------------------------------------- pass -- */

typedef struct {
    const nr_passer *p;
    const nr_data *d;
    const double *w;
    double b;
} pass_ctx;

static void pass_block(void *ctx, size_t k, const void *rows, size_t n) {
    const pass_ctx *c = ctx;
    double *o = c->p->gathered + k * c->p->dd;
    if (c->d->dtype == NR_F32)
        c->p->f32(rows, n, c->d->features, c->w, c->b, o);
    else
        c->p->f64(rows, n, c->d->features, c->w, c->b, o);
}

void nr_pass_partitioned(nr_passer *p, const nr_data *d, size_t r0, size_t r1, const double *w,
                         double b, double *out) {
    const nr_partition *pt = p->part;
    const size_t dd = p->dd, nb = (r1 - r0 + BLOCK - 1) / BLOCK;
    int *counts = p->counts, *displs = p->counts + pt->parts;
    const size_t k0 = nr_partition_blocks(pt, r0, r1, dd, counts, displs);
    const size_t mine = (size_t)counts[pt->part] / dd;
    pass_ctx c = {p, d, w, b};
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
