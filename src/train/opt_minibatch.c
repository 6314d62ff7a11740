/* Mini-batch gradient descent: batches of B rows, one step each, in an
 * order that --shuffle permutes every epoch, deterministically from the
 * seed: the order of the batches, or of the rows (gathered into a buffer).
 * The epoch's loss is the sum of the batches' losses, each taken at the
 * weights its batch started from, over the n training rows (no extra
 * pass). */
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

typedef struct {
    size_t B, nb;
    size_t *order;  /* batches (shuffle batches) or rows (shuffle samples) */
    void *gathered; /* B rows of a shuffled batch (shuffle samples) */
} minibatch;

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

static void minibatch_finish(void *state) {
    minibatch *mb = state;
    if (!mb) return;
    free(mb->order);
    free(mb->gathered);
    free(mb);
}

static nr_status minibatch_init(nr_trainer *t, void **state, nr_error *err) {
    const nr_train_opts *o = t->o;
    minibatch *mb = calloc(1, sizeof *mb);
    if (!mb) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    *state = mb;
    mb->B = o->batch < t->n_train ? o->batch : t->n_train;
    mb->nb = (t->n_train + mb->B - 1) / mb->B;
    if (o->shuffle == NR_SHUFFLE_NONE) return NR_OK;
    size_t len = o->shuffle == NR_SHUFFLE_SAMPLES ? t->n_train : mb->nb;
    mb->order = malloc(len * sizeof *mb->order);
    if (o->shuffle == NR_SHUFFLE_SAMPLES)
        mb->gathered = malloc(mb->B * (t->f + 1) * nr_dtype_size(t->d->dtype));
    if (!mb->order || (o->shuffle == NR_SHUFFLE_SAMPLES && !mb->gathered))
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the shuffle");
    return NR_OK;
}

/* The objective's sums of the rows [lo, hi) of this epoch's order. */
static void batch_sums(nr_trainer *t, minibatch *mb, size_t lo, size_t hi) {
    if (t->o->shuffle != NR_SHUFFLE_SAMPLES) {
        nr_trainer_sums(t, lo, hi);
        return;
    }
    nr_trainer_raw(t);
    const size_t rowbytes = (t->f + 1) * nr_dtype_size(t->d->dtype);
    for (size_t i = lo; i < hi; i++)
        memcpy((char *)mb->gathered + (i - lo) * rowbytes, nr_row_at(t->d, mb->order[i]), rowbytes);
    nr_data g = {.rows = hi - lo, .features = t->f, .dtype = t->d->dtype, .values = mb->gathered};
    nr_pass(&t->p, &g, 0, hi - lo, t->w, t->b, t->sums);
}

static nr_status minibatch_epoch(nr_trainer *t, void *state, int64_t epoch, double *loss,
                                 const char **stop, nr_error *err) {
    (void)stop, (void)err;
    minibatch *mb = state;
    const nr_train_opts *o = t->o;
    const size_t n = t->n_train, B = mb->B, nb = mb->nb;
    uint64_t seed = o->seed ^ (uint64_t)epoch * 0xd1b54a32d192ed03ULL;
    if (o->shuffle == NR_SHUFFLE_BATCHES) {
        for (size_t k = 0; k < nb; k++) mb->order[k] = k;
        shuffle_idx(mb->order, nb, &seed);
    } else if (o->shuffle == NR_SHUFFLE_SAMPLES) {
        for (size_t i = 0; i < n; i++) mb->order[i] = i;
        shuffle_idx(mb->order, n, &seed);
    }
    double sum = 0.0;
    const size_t rowbytes = (t->f + 1) * nr_dtype_size(t->d->dtype);
    for (size_t k = 0; k < nb; k++) {
        size_t kb = o->shuffle == NR_SHUFFLE_BATCHES ? mb->order[k] : k;
        size_t lo = kb * B, hi = lo + B < n ? lo + B : n;
        if (o->shuffle == NR_SHUFFLE_BATCHES && k + 1 < nb) {
            /* the next batch starts somewhere else: fetch its first lines
             * while this one runs, before the hardware prefetcher could */
            const char *next = nr_row_at(t->d, mb->order[k + 1] * B);
            const size_t span = rowbytes * (B < 256 ? B : 256);
            for (size_t off = 0; off < span; off += 64) __builtin_prefetch(next + off);
        }
        batch_sums(t, mb, lo, hi);
        sum += t->sums[t->f + 1];
        nr_trainer_step(t, hi - lo);
    }
    *loss = sum / (double)n;
    return NR_OK;
}

const nr_optimizer nr_opt_minibatch = {
    .name = "minibatch",
    .init = minibatch_init,
    .epoch = minibatch_epoch,
    .finish = minibatch_finish,
};
