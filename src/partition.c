/* Data-parallel passes (SPEC section 9): the rows are shared between
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

void nr_pass_partitioned(nr_passer *p, const nr_data *d, size_t r0, size_t r1, const double *w,
                         double b, double *out) {
    const nr_partition *pt = p->part;
    const size_t dd = p->dd, nb = (r1 - r0 + BLOCK - 1) / BLOCK;
    int *counts = p->counts, *displs = p->counts + pt->parts;
    const size_t k0 = nr_partition_blocks(pt, r0, r1, dd, counts, displs);
    const size_t mine = (size_t)counts[pt->part] / dd, lo = pt->bounds[pt->part];
    /* d->values start at row lo: this process's share */
#pragma omp parallel for schedule(static) num_threads(p->threads) if (mine > 1)
    for (size_t k = k0; k < k0 + mine; k++) {
        const size_t s = r0 + k * BLOCK, e = s + BLOCK < r1 ? s + BLOCK : r1;
        double *o = p->gathered + k * dd;
        if (d->dtype == NR_F32)
            p->f32(nr_row_at(d, s - lo), e - s, d->features, w, b, o);
        else
            p->f64(nr_row_at(d, s - lo), e - s, d->features, w, b, o);
    }
    if (pt->gather(pt->ctx, p->gathered, counts, displs) != 0) {
        /* a transport that reports failure instead of aborting: the loop's
         * divergence check stops training on the NaN */
        for (size_t j = 0; j < dd; j++) out[j] = NAN;
        return;
    }
    for (size_t j = 0; j < dd; j++) out[j] = 0.0;
    for (size_t k = 0; k < nb; k++)
        for (size_t j = 0; j < dd; j++) out[j] += p->gathered[k * dd + j];
}
