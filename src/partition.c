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
 * the pass reads. Every other pass over the rows (the labels check, the
 * standardization's statistics, newton's gradient and Hessian, exact.c's
 * least-squares statistics) is shared the same way: per-block values,
 * gathered, combined in block order (nr_blocks_all). */
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

/* What needs rows of other processes' shares at every step: refused
 * rather than half-done. */
static nr_status check_opts(const nr_train_opts *o, nr_error *err) {
    if (o->algo == NR_ALGO_SGD)
        return nr_fail(err, NR_ERR_ARG,
                       "sgd is sequential by definition (each sample's step needs the previous "
                       "one's weights): it cannot be shared between processes; use batch, "
                       "minibatch, ols, newton or batch --exact");
    /* a batch of rows drawn from anywhere would have to travel to one
     * process to be summed in the order one process sums it: every epoch
     * would move the whole data set between processes */
    if (o->algo == NR_ALGO_MINIBATCH && o->shuffle == NR_SHUFFLE_SAMPLES)
        return nr_fail(err, NR_ERR_ARG,
                       "--shuffle samples gathers rows from every share: use --shuffle batches "
                       "or none with shared or streamed rows");
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

/* Each process's status travels with its message, a byte per double
 * (exact), so that every process can report the first failure as the
 * process that had it does: neuron-mpi's rank 0 speaks for all. Only a
 * failure, or a checkpoint, costs this gather: never a plain pass. */
enum { AGREE_PER = 1 + sizeof(nr_error) };

nr_status nr_passer_status(const nr_passer *p, nr_error *err) {
    if (p->status != NR_OK && err) *err = p->error;
    return p->status;
}

nr_status nr_partition_agree(const nr_partition *pt, nr_status s, nr_error *err) {
    const size_t k = (size_t)pt->parts;
    int *counts = calloc(2 * k, sizeof *counts);
    double *all = calloc(k * AGREE_PER, sizeof *all);
    int rc = -1;
    if (counts && all) {
        for (size_t q = 0; q < k; q++) counts[q] = AGREE_PER, counts[k + q] = (int)(q * AGREE_PER);
        double *mine = all + (size_t)pt->part * AGREE_PER;
        mine[0] = (double)s;
        for (size_t i = 0; s != NR_OK && err && i + 1 < AGREE_PER && err->msg[i]; i++)
            mine[1 + i] = (unsigned char)err->msg[i];
        rc = pt->gather(pt->ctx, all, counts, counts + k);
    }
    nr_status first = NR_OK;
    int who = -1;
    for (size_t q = 0; rc == 0 && q < k && who < 0; q++)
        if (all[q * AGREE_PER] != 0) first = (nr_status)all[q * AGREE_PER], who = (int)q;
    char msg[sizeof(nr_error)] = "";
    for (size_t i = 0; who >= 0 && i + 1 < AGREE_PER; i++)
        msg[i] = (char)(unsigned char)all[(size_t)who * AGREE_PER + 1 + i];
    free(counts);
    free(all);
    if (rc != 0) return s != NR_OK ? s : nr_fail(err, NR_ERR_IO, "processes could not agree");
    if (s != NR_OK || who < 0) return s;
    if (!msg[0]) return nr_fail(err, first, "process %d failed", who);
    return nr_fail(err, first, "process %d: %s", who, msg);
}

/* Blocks [k0, k0 + count) of a pass over rows [r0, r1), held in memory from
 * global row `lo` on. */
static void local_blocks(const nr_data *d, size_t lo, size_t r0, size_t r1, size_t k0, size_t count,
                         int threads, nr_block_fn fn, void *ctx) {
#pragma omp parallel for schedule(static) num_threads(threads) if (count > 1)
    for (size_t k = k0; k < k0 + count; k++) {
        const size_t a = r0 + k * BLOCK, e = a + BLOCK < r1 ? a + BLOCK : r1;
        fn(ctx, k, nr_row_at(d, a - lo), e - a);
    }
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
        local_blocks(d, pt->bounds[pt->part], r0, r1, k0, count, threads, fn, ctx);
        return NR_OK;
    }
    return each_block_streamed(pt, d, r0, r1, k0, count, threads, fn, ctx, err);
}

/* ------------------------------------------------- every block's values -- */

/* This process's blocks, then every block's `per` values gathered at
 * all + k per (counts: 2 parts ints of scratch). A process whose blocks
 * failed (a streamed read) still takes part in the gather, its blocks
 * NaN, so that no other process waits for it; it returns the failure. */
static nr_status gather_blocks(const nr_partition *pt, const nr_data *d, size_t r0, size_t r1,
                               size_t per, int threads, nr_block_fn fn, void *ctx, double *all,
                               int *counts, nr_error *err) {
    int *displs = counts + pt->parts;
    const size_t k0 = nr_partition_blocks(pt, r0, r1, per, counts, displs);
    if (k0 == SIZE_MAX)
        return nr_fail(err, NR_ERR_ARG, "too many blocks of %zu values for one gather", per);
    const size_t mine = (size_t)counts[pt->part] / per;
    nr_status s = nr_partition_each_block(pt, d, r0, r1, k0, mine, threads, fn, ctx, err);
    if (s != NR_OK)
        for (size_t i = 0; i < mine * per; i++) all[k0 * per + i] = NAN;
    if (pt->gather(pt->ctx, all, counts, displs) != 0 && s == NR_OK)
        s = nr_fail(err, NR_ERR_IO, "gathering the blocks' sums from the processes failed");
    return s;
}

nr_status nr_blocks_all(const nr_partition *pt, const nr_data *d, size_t r0, size_t r1, size_t per,
                        int threads, nr_block_fn fn, void *ctx, double *all, nr_error *err) {
    if (r1 <= r0) return NR_OK;
    if (!pt) {
        local_blocks(d, 0, r0, r1, 0, (r1 - r0 + BLOCK - 1) / BLOCK, threads, fn, ctx);
        return NR_OK;
    }
    int *counts = malloc(2 * (size_t)pt->parts * sizeof *counts);
    if (!counts) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    nr_status s = gather_blocks(pt, d, r0, r1, per, threads, fn, ctx, all, counts, err);
    free(counts);
    /* the processes' outcomes, so that all of them fail together */
    return nr_partition_agree(pt, s, err);
}

/* ------------------------------------------------------------ labels -- */

/* Per block: the target of its first row whose target is no class label,
 * then the global indices of that row, of its first -1 and of its first 0
 * (-1: none; exact in a double up to 2^53 rows). */
enum { LABEL_PER = 4 };

typedef struct {
    const nr_data *d;
    double *all;
} labels_ctx;

static void labels_block(void *ctx, size_t k, const void *rows, size_t n) {
    const labels_ctx *c = ctx;
    const nr_data view = {
        .rows = n, .features = c->d->features, .dtype = c->d->dtype, .values = rows};
    size_t first[3];
    double bad;
    nr_labels_scan(&view, first, &bad);
    double *o = c->all + k * LABEL_PER;
    o[0] = bad;
    for (int j = 0; j < 3; j++)
        o[j + 1] = first[j] == SIZE_MAX ? -1.0 : (double)(k * BLOCK + first[j]);
}

nr_status nr_check_labels(const nr_partition *pt, const nr_data *d, int threads, nr_error *err) {
    const size_t nb = (d->rows + BLOCK - 1) / BLOCK;
    if (nb > SIZE_MAX / LABEL_PER / sizeof(double))
        return nr_fail(err, NR_ERR_NOMEM, "too many rows for the labels check");
    double *all = malloc(nb * LABEL_PER * sizeof *all);
    if (!all) return nr_fail(err, NR_ERR_NOMEM, "out of memory for the labels check");
    labels_ctx c = {d, all};
    nr_status s = nr_blocks_all(pt, d, 0, d->rows, LABEL_PER, threads, labels_block, &c, all, err);
    /* the first offence of each kind in row order: the blocks are in it */
    size_t first[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
    double bad = 0;
    for (size_t k = 0; s == NR_OK && k < nb; k++) {
        const double *o = all + k * LABEL_PER;
        if (first[0] == SIZE_MAX && o[1] >= 0) bad = o[0];
        for (int j = 0; j < 3; j++)
            if (first[j] == SIZE_MAX && o[j + 1] >= 0) first[j] = (size_t)o[j + 1];
    }
    free(all);
    return s == NR_OK ? nr_labels_verdict(first, bad, err) : s;
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
    const size_t dd = p->dd, nb = (r1 - r0 + BLOCK - 1) / BLOCK;
    pass_ctx c = {p, d, w, b, r1 - r0};
    nr_error e = {{0}};
    /* a failed read: this process's blocks are NaN on every process, so
     * the sums are NaN everywhere and every process takes the branch below
     * at the same pass; there it learns the first failure and its message */
    nr_status s = gather_blocks(p->part, d, r0, r1, dd, p->threads, pass_block, &c, p->gathered,
                                p->counts, &e);
    for (size_t j = 0; j < dd; j++) out[j] = 0.0;
    for (size_t k = 0; s == NR_OK && k < nb; k++)
        for (size_t j = 0; j < dd; j++) out[j] += p->gathered[k * dd + j];
    bool finite = s == NR_OK;
    for (size_t j = 0; j < dd && finite; j++) finite = isfinite(out[j]);
    if (finite) return;
    /* NaN from a value or a divergence stays the loop's to judge: every
     * process agrees NR_OK then */
    s = nr_partition_agree(p->part, s, &e);
    if (s != NR_OK) {
        for (size_t j = 0; j < dd; j++) out[j] = NAN;
        if (p->status == NR_OK) p->status = s, p->error = e;
    }
}
