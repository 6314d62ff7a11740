/* Rows streamed through nr_partition.read, as `neuron train --stream`
 * reads them: the bits of the same rows held in memory for every algorithm
 * the partition serves and any number of threads (the reads run on every
 * thread at once), rows wide enough that one block fills a read, and a
 * failing read named by its rows whatever the threads. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "neuron.h"

typedef struct {
    const nr_data *src;    /* the rows the reads copy from */
    size_t fail_from;      /* reads reaching this row fail (SIZE_MAX: none) */
    atomic_size_t calls;   /* reads made */
    atomic_size_t outside; /* reads of rows past the data */
} source;

static int read_rows(void *ctx, size_t row, size_t rows, void *buf) {
    source *s = ctx;
    atomic_fetch_add(&s->calls, 1);
    if (row + rows > s->src->rows || rows == 0) {
        atomic_fetch_add(&s->outside, 1);
        return -1;
    }
    if (row + rows > s->fail_from) {
        /* slow failures, later ones slower: the other threads take the
         * next reads meanwhile, and their failures come last (a run that
         * named the last failure instead of the first would show it) */
        usleep(row > s->fail_from ? 3000 : 1000);
        return -1;
    }
    const size_t rowb = (s->src->features + 1) * nr_dtype_size(s->src->dtype);
    memcpy(buf, (const char *)s->src->values + row * rowb, rows * rowb);
    return 0;
}

static int gather_one(void *ctx, double *all, const int *counts, const int *displs) {
    (void)ctx, (void)all, (void)counts, (void)displs;
    return 0; /* one process: its partials are already in place */
}

static nr_dataset *make_data(size_t rows, size_t features, nr_dtype dtype) {
    nr_gen_opts g;
    nr_gen_defaults(&g);
    g.rows = rows, g.features = features, g.dtype = dtype;
    nr_dataset *ds = NULL;
    nr_error err;
    cr_assert_eq(nr_dataset_alloc(rows, features, dtype, &ds, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(nr_gen_fill(&g, nr_dataset_mutable(ds), &err), NR_OK, "%s", err.msg);
    return ds;
}

/* Train on `d` in memory, then streamed from it; the run's status. */
static nr_status train_both(const nr_data *d, const nr_train_opts *o, source *src, nr_model *mem,
                            nr_model *str, nr_error *err) {
    nr_train_result r;
    cr_assert_eq(nr_model_init(mem, d->features, err), NR_OK);
    cr_assert_eq(nr_model_init(str, d->features, err), NR_OK);
    cr_assert_eq(nr_train(d, o, mem, &r, err), NR_OK, "in memory: %s", err->msg);
    nr_train_result_free(&r);
    static const double none[1]; /* the values a streamed run must not read */
    const nr_data held = {
        .rows = d->rows, .features = d->features, .dtype = d->dtype, .values = none};
    const size_t bounds[2] = {0, d->rows};
    const nr_partition pt = {
        .parts = 1, .bounds = bounds, .gather = gather_one, .read = read_rows, .read_ctx = src};
    nr_train_opts so = *o;
    so.partition = &pt;
    nr_status s = nr_train(&held, &so, str, &r, err);
    if (s == NR_OK) nr_train_result_free(&r);
    return s;
}

static void same_bits(const nr_data *d, nr_train_opts o, const char *what) {
    for (int threads = 1; threads <= 3; threads++) {
        o.threads = threads;
        source src = {.src = d, .fail_from = SIZE_MAX};
        nr_model mem, str;
        nr_error err;
        cr_assert_eq(train_both(d, &o, &src, &mem, &str, &err), NR_OK, "%s, %d threads: %s", what,
                     threads, err.msg);
        cr_assert(atomic_load(&src.calls) > 0, "%s: nothing was read", what);
        cr_assert_eq(atomic_load(&src.outside), 0, "%s: reads past the rows", what);
        cr_assert(memcmp(&mem.bias, &str.bias, sizeof mem.bias) == 0 &&
                      memcmp(mem.weights, str.weights, d->features * sizeof *mem.weights) == 0,
                  "%s, %d threads: streamed w0 %.17g b %.17g, in memory %.17g %.17g", what, threads,
                  str.weights[0], str.bias, mem.weights[0], mem.bias);
        nr_model_free(&mem);
        nr_model_free(&str);
    }
}

/* 7 blocks and a short one, several blocks per read */
Test(stream, same_bits_as_in_memory) {
    for (int t = 0; t < 2; t++) {
        const nr_dtype dt = t ? NR_F64 : NR_F32;
        nr_dataset *ds = make_data(7 * 4096 + 123, 3, dt);
        const nr_data *d = nr_dataset_view(ds);
        nr_train_opts o;
        nr_train_defaults(&o);
        o.epochs = 3;
        same_bits(d, o, "batch");
        o.val_split = 0.0777; /* held-out rows off the block grid */
        same_bits(d, o, "batch, held-out rows");
        o.val_split = 0;
        o.algo = NR_ALGO_MINIBATCH, o.batch = 5000;
        same_bits(d, o, "minibatch");
        o.algo = NR_ALGO_BATCH, o.exact = true, o.epochs = 10;
        same_bits(d, o, "batch --exact");
        o.algo = NR_ALGO_OLS, o.exact = false;
        same_bits(d, o, "ols");
        nr_dataset_free(ds);
    }
}

/* a block of 4096 rows of 261 doubles is 8.4 MiB: one block per read, and
 * fewer buffers than threads */
Test(stream, wide_rows_one_block_per_read) {
    nr_dataset *ds = make_data(2 * 4096 + 50, 260, NR_F64);
    nr_train_opts o;
    nr_train_defaults(&o);
    o.epochs = 2, o.lr = 0.001;
    same_bits(nr_dataset_view(ds), o, "batch, wide rows");
    nr_dataset_free(ds);
}

/* The first failing read is named, the same with any threads; the rows it
 * names hold the first row that cannot be read. */
Test(stream, failed_read_is_named_by_its_rows) {
    nr_dataset *ds = make_data(9 * 4096, 3, NR_F64);
    const nr_data *d = nr_dataset_view(ds);
    const size_t bad = 5 * 4096 + 17;
    char first[sizeof(nr_error)] = "";
    for (int algo = 0; algo < 2; algo++)
        for (int threads = 1; threads <= 3; threads++) {
            nr_train_opts o;
            nr_train_defaults(&o);
            o.algo = algo ? NR_ALGO_OLS : NR_ALGO_BATCH, o.exact = !algo, o.threads = threads;
            source src = {.src = d, .fail_from = bad};
            nr_model mem, str;
            nr_error err;
            cr_assert_eq(train_both(d, &o, &src, &mem, &str, &err), NR_ERR_IO, "%d threads: %s",
                         threads, err.msg);
            size_t a = 0, b = 0;
            cr_assert_eq(sscanf(err.msg, "reading rows %zu to %zu failed", &a, &b), 2, "'%s'",
                         err.msg);
            cr_assert(a <= bad + 1 && bad + 1 <= b && b <= d->rows, "'%s' misses row %zu", err.msg,
                      bad + 1);
            if (!first[0]) snprintf(first, sizeof first, "%s", err.msg);
            cr_assert_str_eq(err.msg, first, "%d threads", threads);
            nr_model_free(&mem);
            nr_model_free(&str);
        }
    nr_dataset_free(ds);
}

/* The file truncated while training: reads of the rows past `bad` start
 * failing after epoch 2. Every epoch optimizer (and the validation pass)
 * reports it as what it is, NR_ERR_IO naming the rows, not as a
 * divergence of the NaN sums a lost block would leave. */
static int truncate_after_1(void *ctx, int64_t epoch, double loss, double sps) {
    (void)loss, (void)sps;
    source *s = ctx;
    if (epoch == 1) s->fail_from = 5 * 4096 + 17;
    return 0;
}

Test(stream, read_failing_mid_run_is_an_io_error) {
    nr_dataset *ds = make_data(9 * 4096, 3, NR_F64);
    const nr_data *d = nr_dataset_view(ds);
    const size_t bad = 5 * 4096 + 17;
    static const double none[1];
    const nr_data held = {
        .rows = d->rows, .features = d->features, .dtype = d->dtype, .values = none};
    const size_t bounds[2] = {0, d->rows};
    const nr_algo algos[] = {NR_ALGO_BATCH, NR_ALGO_MINIBATCH, NR_ALGO_NEWTON, NR_ALGO_BATCH};
    for (size_t a = 0; a < sizeof algos / sizeof *algos; a++)
        for (int threads = 1; threads <= 2; threads++) {
            source src = {.src = d, .fail_from = SIZE_MAX};
            const nr_partition pt = {.parts = 1,
                                     .bounds = bounds,
                                     .gather = gather_one,
                                     .read = read_rows,
                                     .read_ctx = &src};
            nr_train_opts o;
            nr_train_defaults(&o);
            o.algo = algos[a], o.threads = threads, o.epochs = 6, o.batch = 5000;
            o.val_split = a == 3 ? 0.5 : 0; /* the held-out rows' pass fails first */
            o.partition = &pt;
            o.on_epoch = truncate_after_1, o.on_epoch_ctx = &src;
            nr_model m;
            nr_train_result r;
            nr_error err = {{0}};
            cr_assert_eq(nr_model_init(&m, d->features, &err), NR_OK);
            nr_status s = nr_train(&held, &o, &m, &r, &err);
            cr_assert_eq(s, NR_ERR_IO, "algo %d, %d threads: status %d: %s", (int)o.algo, threads,
                         (int)s, err.msg);
            size_t lo = 0, hi = 0;
            cr_assert_eq(sscanf(err.msg, "reading rows %zu to %zu failed", &lo, &hi), 2,
                         "algo %d: '%s'", (int)o.algo, err.msg);
            cr_assert(lo <= bad + 1 && bad + 1 <= hi && hi <= d->rows, "'%s' misses row %zu",
                      err.msg, bad + 1);
            nr_model_free(&m);
        }
    nr_dataset_free(ds);
}
