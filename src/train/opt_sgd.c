/* Per-sample SGD: the objective's per-sample rule in data order (for the
 * squared error the tutorial's reference rule itself, reference.c), on raw
 * rows or on a standardized copy of them. The epoch's loss is the mean loss
 * at the weights the epoch starts from: one vectorised pass over the rows,
 * on a second thread beside the rule where there is one, else block by
 * block behind the rule, reading what the rule has just brought into
 * cache. Either way the pass's bits: the same loss for any thread count. */
#include <stdbool.h>
#include <stdlib.h>

#include "train/train.h"

typedef struct {
    nr_data view;  /* the rows the rule walks */
    double *owned; /* standardized copy, or NULL */
} sgd;

static void sgd_finish(void *state) {
    sgd *s = state;
    if (!s) return;
    free(s->owned);
    free(s);
}

static nr_status sgd_init(nr_trainer *t, void **state, nr_error *err) {
    sgd *s = calloc(1, sizeof *s);
    if (!s) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    *state = s;
    return nr_trainer_rows(t, &s->view, &s->owned, err);
}

/* Training rows from which the loss pass runs beside the per-sample rule:
 * below, a parallel region costs more than it hides. */
enum { SGD_OVERLAP_ROWS = 65536 };

/* On one thread: the rule and the loss pass take the rows a block of the
 * pass at a time, the rule first, so that the pass finds each block in
 * cache where it would read all the rows from memory a second time. The
 * pass's blocks are nr_pass's, at the start parameters (t->w, t->b, which
 * the rule does not write), added in block order as nr_pass adds them: the
 * same bits as the pass before the rule; cutting the rule, a chain row to
 * row, at block boundaries changes nothing either.
 *
 * Where the rule walks the raw rows (no standardized copy) and the table
 * has a kernel for it (the squared error, widths 3..16 on AVX2), rule and
 * pass are one walk over each block (kernels.h, sgd_loss_f32/f64): the
 * pass's work fills cycles in which the rule waits on its chain. Elsewhere
 * the pass runs after the rule on each block and sums only the loss where
 * a kernel can: its passer is the trainer's with the objective's kernels
 * swapped for its loss-only ones where it has them (objective.h
 * loss_kernel_f32/f64: the squared error's and the logistic loss's; the
 * same loss bits), so nr_pass_blocks picks each block's kernel as nr_pass
 * would. For the sigmoid on 1M x 16 f32 rows that took the epoch
 * from 44.8 to 43.6 ms (medians of 10 alternated runs; the pass alone, in
 * L2, 19.5 -> 15.5 cycles a row).
 *
 * Measured, 1M rows f64, one thread (neuron bench, binaries alternated):
 * d = 16, the pass before the rule 28.4 ms an epoch, behind it 21.7,
 * loss-only 18.4-20.6; then, in another run, loss-only 20.3-21.4 against
 * walked 18.5-19.6 (the rule alone 16.6-17.1); d = 8, loss-only 14.6-15.1
 * against walked 12.6-12.8 (the rule alone 11.9-13.4). 4096 rows of 16
 * features are 557 KB, more than Zen 3's L2, yet blocks of 2048 were no
 * faster. t->sums then holds the loss and the residuals' sum; its gradient
 * entries are not the gradient (nothing reads them after an sgd epoch). */
static nr_status sgd_blockwise(nr_trainer *t, const nr_data *rows, int64_t e, double *loss,
                               nr_error *err) {
    nr_trainer_raw(t);
    nr_passer q = t->p;
    if (q.f32 && t->obj->loss_kernel_f32) q.f32 = t->obj->loss_kernel_f32(q.k);
    if (q.f64 && t->obj->loss_kernel_f64) q.f64 = t->obj->loss_kernel_f64(q.k);
    /* one walk: the pass's kernel for these rows is the loss kernel of the
     * table whose walk computes its bits */
    const bool walk = t->obj->sgd_epoch_loss && rows->values == t->d->values &&
                      (rows->dtype == NR_F64   ? !q.pf64 && q.f64 == q.k->loss_f64
                       : rows->dtype == NR_F32 ? !q.pf32 && q.f32 == q.k->loss_f32
                                               : false);
    const size_t n = t->n_train, S = nr_pass_block_rows(n), nb = nr_pass_blocks_of(n);
    const size_t dd = t->p.dd;
    for (size_t j = 0; j < dd; j++) t->sums[j] = 0.0;
    for (size_t k = 0; k < nb; k++) {
        const size_t lo = k * S, hi = lo + S < n ? lo + S : n;
        nr_data block = *rows;
        block.rows = hi - lo, block.values = nr_row_at(rows, lo);
        nr_status s;
        if (walk) {
            s = t->obj->sgd_epoch_loss(t->p.k, &block, t->lr, e, t->v, &t->c, t->w, t->b,
                                       q.partials, err);
        } else {
            s = t->obj->sgd_epoch(t->p.k, &block, t->lr, e, t->v, &t->c, err);
            if (s == NR_OK) nr_pass_blocks(&q, t->d, 0, n, k, k + 1, t->w, t->b, q.partials);
        }
        if (s != NR_OK) return s;
        for (size_t j = 0; j < dd; j++) t->sums[j] += q.partials[j];
    }
    *loss = t->sums[t->f + 1] / (double)n;
    return NR_OK;
}

nr_status nr_trainer_sgd_epoch(nr_trainer *t, const nr_data *rows, int64_t e, double *loss,
                               nr_error *err) {
    if (t->ext && t->ext->rich_sgd) {
        *loss = nr_trainer_loss(t, 0, t->n_train);
        return nr_ext_sgd_epoch(t, rows, e, err);
    }
    if (t->p.part) {
        *loss = nr_trainer_loss(t, 0, t->n_train);
        return t->obj->sgd_epoch(t->p.k, rows, t->lr, e, t->v, &t->c, err);
    }
    if (t->p.threads < 2 || t->n_train < SGD_OVERLAP_ROWS)
        return sgd_blockwise(t, rows, e, loss, err);
    /* The rule is one dependency chain on one core, and the loss pass, at
     * the start parameters, reads every row again: with a second thread it
     * runs beside the rule instead of before it. They share only the rows:
     * the pass reads t->w, t->b (taken here), the rule writes t->v, t->c.
     * The pass's sums are the same bits on any number of threads (its
     * inner region runs on one thread here). */
    nr_trainer_raw(t);
    nr_status s = NR_OK;
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
        nr_pass(&t->p, t->d, 0, t->n_train, t->w, t->b, t->sums);
#pragma omp section
        s = t->obj->sgd_epoch(t->p.k, rows, t->lr, e, t->v, &t->c, err);
    }
    *loss = t->sums[t->f + 1] / (double)t->n_train;
    return s;
}

static nr_status sgd_epoch(nr_trainer *t, void *state, int64_t e, double *loss, const char **stop,
                           nr_error *err) {
    (void)stop;
    sgd *s = state;
    return nr_trainer_sgd_epoch(t, &s->view, e, loss, err);
}

const nr_optimizer nr_opt_sgd = {
    .name = "sgd",
    .init = sgd_init,
    .epoch = sgd_epoch,
    .finish = sgd_finish,
};
