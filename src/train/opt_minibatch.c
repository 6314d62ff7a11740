/* Mini-batch gradient descent: batches of B rows, one step each, in an
 * order that --shuffle permutes every epoch, deterministically from the
 * seed: the order of the batches, or of the rows (gathered into a buffer).
 * The epoch's loss is the sum of the batches' losses, each taken at the
 * weights its batch started from, over the n training rows (no extra
 * pass).
 *
 * A batch is small (4096 rows by default, a few microseconds of work), so
 * an OpenMP fork/join per batch (~2 us) would cost as much as the batch.
 * Instead one parallel region runs the whole epoch: each thread sums its
 * contiguous share of the batch's blocks (the blocks of nr_pass, so the
 * same bits as one thread), then meets the others at a barrier, and the
 * last thread to arrive adds the blocks' sums in block order and takes
 * the step (nr_trainer_step, the one implementation of the update) before
 * it releases the others onto the next batch: one barrier per batch, the
 * step on one thread while the others wait for its weights, as they would
 * have to in any order. Processes sharing rows (partition.c) run one pass
 * per batch instead, as does a batch of more than GROUP blocks, whose
 * fork/join is negligible. */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train/train.h"

enum { GROUP = NR_PASS_GROUP }; /* blocks of a batch the passer's partials hold */

/* ------------------------------------------------------------ barrier -- */

/* A barrier for `count` threads whose last arrival runs a function before
 * it releases the others. Waiters spin (a batch takes microseconds, a
 * sleep and wake-up tens of them), then sleep on a condition variable
 * after SPIN_NS: with more threads than free cores a spinning waiter would
 * take the core of the thread it waits for. */
enum { SPIN_NS = 50000 };

typedef struct {
    int count;
    atomic_int arrived;
    atomic_int sleepers; /* waiters past their spin */
    /* generation, advanced by each release: on a line of its own, which
     * the spinners read without the arrivals' writes invalidating it */
    _Alignas(64) atomic_uint gen;
    _Alignas(64) pthread_mutex_t mu;
    pthread_cond_t cv;
} barrier;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static double barrier_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e9 * (double)t.tv_sec + (double)t.tv_nsec;
}

static void barrier_wait(barrier *br, void (*last)(void *), void *ctx) {
    const unsigned g = atomic_load_explicit(&br->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&br->arrived, 1, memory_order_acq_rel) + 1 == br->count) {
        atomic_store_explicit(&br->arrived, 0, memory_order_relaxed);
        last(ctx);
        /* seq_cst store then load, against the sleeper's increment then
         * load: either it sees the new generation or this sees it */
        atomic_store(&br->gen, g + 1);
        if (atomic_load(&br->sleepers) > 0) {
            pthread_mutex_lock(&br->mu);
            pthread_cond_broadcast(&br->cv);
            pthread_mutex_unlock(&br->mu);
        }
        return;
    }
    double t0 = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&br->gen, memory_order_acquire) != g) return;
        cpu_relax();
        if (i % 64 == 0) {
            const double now = barrier_now_ns();
            if (t0 == 0)
                t0 = now;
            else if (now - t0 > SPIN_NS)
                break;
        }
    }
    atomic_fetch_add(&br->sleepers, 1);
    pthread_mutex_lock(&br->mu);
    while (atomic_load(&br->gen) == g) pthread_cond_wait(&br->cv, &br->mu);
    pthread_mutex_unlock(&br->mu);
    atomic_fetch_sub(&br->sleepers, 1);
}

/* ------------------------------------------------------------ shuffles -- */

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

/* Rows [*lo, *hi) of this epoch's order that its k-th batch covers. */
static void batch_rows(const minibatch *mb, const nr_train_opts *o, size_t n, size_t k, size_t *lo,
                       size_t *hi) {
    const size_t kb = o->shuffle == NR_SHUFFLE_BATCHES ? mb->order[k] : k;
    *lo = kb * mb->B;
    *hi = *lo + mb->B < n ? *lo + mb->B : n;
}

/* Fetch the first lines of `rows` rows at p (up to 256) while other work
 * runs, before the hardware prefetcher could: the next batch, or this
 * thread's share of it, starts somewhere else. */
static void prefetch_rows(const void *p, size_t rows, size_t rowbytes) {
    const size_t span = rowbytes * (rows < 256 ? rows : 256);
    for (size_t off = 0; off < span; off += 64) __builtin_prefetch((const char *)p + off);
}

/* One epoch on one thread, one pass per batch: processes sharing rows
 * (each pass is a collective call), and batches too large for the team. */
static double epoch_serial(nr_trainer *t, minibatch *mb) {
    const nr_train_opts *o = t->o;
    const size_t n = t->n_train, nb = mb->nb;
    const size_t rowbytes = (t->f + 1) * nr_dtype_size(t->d->dtype);
    double sum = 0.0;
    for (size_t k = 0; k < nb; k++) {
        size_t lo, hi, nlo, nhi;
        batch_rows(mb, o, n, k, &lo, &hi);
        if (o->shuffle == NR_SHUFFLE_BATCHES && k + 1 < nb && !t->p.part) {
            batch_rows(mb, o, n, k + 1, &nlo, &nhi);
            prefetch_rows(nr_row_at(t->d, nlo), nhi - nlo, rowbytes);
        }
        batch_sums(t, mb, lo, hi);
        if (t->p.status != NR_OK) break; /* the same batch on every process */
        sum += t->sums[t->f + 1];
        nr_trainer_step(t, hi - lo);
    }
    return sum;
}

/* The team of one epoch: the threads share each batch's blocks. */
typedef struct {
    nr_trainer *t;
    minibatch *mb;
    barrier br;
    double sum;
} team;

/* The batch a thread has summed its share of, as the last one to arrive
 * finishes it (every thread holds the same values). */
typedef struct {
    team *tm;
    size_t rows, blocks;
} batch_end;

static void batch_done(void *ctx) {
    const batch_end *e = ctx;
    nr_trainer *t = e->tm->t;
    nr_pass_add(t->p.partials, e->blocks, t->p.dd, t->sums);
    e->tm->sum += t->sums[t->f + 1];
    nr_trainer_step(t, e->rows);
    nr_trainer_raw(t); /* the weights the next batch's rows are summed at */
}

/* Thread `id` of `T`'s blocks [*k0, *k1) of a batch of `blocks` blocks:
 * contiguous rows, shares within one block of each other. */
static void share(int id, int T, size_t blocks, size_t *k0, size_t *k1) {
    *k0 = (size_t)id * blocks / (size_t)T;
    *k1 = (size_t)(id + 1) * blocks / (size_t)T;
}

/* Thread `id` of `T`: its share of each batch's blocks; with --shuffle
 * samples it first gathers the rows of those blocks into their places in
 * the shared buffer. */
static void team_run(team *tm, int id, int T) {
    nr_trainer *t = tm->t;
    minibatch *mb = tm->mb;
    const nr_train_opts *o = t->o;
    const size_t n = t->n_train, nb = mb->nb, dd = t->p.dd;
    const size_t rowbytes = (t->f + 1) * nr_dtype_size(t->d->dtype);
    const bool samples = o->shuffle == NR_SHUFFLE_SAMPLES;
    for (size_t k = 0; k < nb; k++) {
        size_t lo, hi;
        batch_rows(mb, o, n, k, &lo, &hi);
        const size_t m = hi - lo, blocks = nr_pass_blocks_of(m), S = nr_pass_block_rows(m);
        size_t k0, k1;
        share(id, T, blocks, &k0, &k1);
        double *part = t->p.partials + k0 * dd;
        if (samples && k1 > k0) {
            const size_t a = k0 * S, e = k1 * S < m ? k1 * S : m;
            char *g = mb->gathered;
            for (size_t i = a; i < e; i++)
                memcpy(g + i * rowbytes, nr_row_at(t->d, mb->order[lo + i]), rowbytes);
            const nr_data view = {
                .rows = m, .features = t->f, .dtype = t->d->dtype, .values = mb->gathered};
            nr_pass_blocks(&t->p, &view, 0, m, k0, k1, t->w, t->b, part);
        } else if (k1 > k0) {
            nr_pass_blocks(&t->p, t->d, lo, hi, k0, k1, t->w, t->b, part);
        }
        if (!samples && k + 1 < nb) {
            size_t nlo, nhi, a, e;
            batch_rows(mb, o, n, k + 1, &nlo, &nhi);
            const size_t nm = nhi - nlo, nS = nr_pass_block_rows(nm);
            share(id, T, nr_pass_blocks_of(nm), &a, &e);
            a *= nS, e *= nS;
            if (a < nm) prefetch_rows(nr_row_at(t->d, nlo + a), (e < nm ? e : nm) - a, rowbytes);
        }
        batch_end end = {tm, m, blocks};
        barrier_wait(&tm->br, batch_done, &end);
    }
}

static nr_status minibatch_epoch(nr_trainer *t, void *state, int64_t epoch, double *loss,
                                 const char **stop, nr_error *err) {
    (void)stop;
    minibatch *mb = state;
    const nr_train_opts *o = t->o;
    const size_t n = t->n_train, nb = mb->nb;
    uint64_t seed = o->seed ^ (uint64_t)epoch * 0xd1b54a32d192ed03ULL;
    if (o->shuffle == NR_SHUFFLE_BATCHES) {
        for (size_t k = 0; k < nb; k++) mb->order[k] = k;
        shuffle_idx(mb->order, nb, &seed);
    } else if (o->shuffle == NR_SHUFFLE_SAMPLES) {
        for (size_t i = 0; i < n; i++) mb->order[i] = i;
        shuffle_idx(mb->order, n, &seed);
    }
    /* no more threads than a full batch has blocks: the others would only wait */
    const size_t blocks = nr_pass_blocks_of(mb->B);
    const int T = (size_t)t->p.threads < blocks ? t->p.threads : (int)blocks;
    if (t->p.part || blocks > GROUP) {
        *loss = epoch_serial(t, mb) / (double)n;
        return NR_OK;
    }
    team tm = {.t = t, .mb = mb, .sum = 0.0};
    atomic_init(&tm.br.arrived, 0);
    atomic_init(&tm.br.sleepers, 0);
    atomic_init(&tm.br.gen, 0);
    if (pthread_mutex_init(&tm.br.mu, NULL) != 0)
        return nr_fail(err, NR_ERR_NOMEM, "cannot make a mutex");
    if (pthread_cond_init(&tm.br.cv, NULL) != 0) {
        pthread_mutex_destroy(&tm.br.mu);
        return nr_fail(err, NR_ERR_NOMEM, "cannot make a condition variable");
    }
    nr_trainer_raw(t);
#pragma omp parallel num_threads(T)
    {
        /* OpenMP may give fewer threads than asked: count those it gave */
#pragma omp single
        tm.br.count = omp_get_num_threads();
        team_run(&tm, omp_get_thread_num(), omp_get_num_threads());
    }
    pthread_cond_destroy(&tm.br.cv);
    pthread_mutex_destroy(&tm.br.mu);
    *loss = tm.sum / (double)n;
    return NR_OK;
}

const nr_optimizer nr_opt_minibatch = {
    .name = "minibatch",
    .init = minibatch_init,
    .epoch = minibatch_epoch,
    .finish = minibatch_finish,
};
