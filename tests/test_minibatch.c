/* Mini-batches on every core (issue 17): the team of threads that shares
 * each batch's blocks gives the bits of one thread, for any thread count,
 * and those bits are the documented block rule (a pass of at most 4096
 * rows in blocks of 512, a longer one in blocks of 4096, partials added in
 * block order from zero), checked against a transcription of the rule
 * with the scalar kernel's own row loop. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neuron.h"

static double *gen_f64(size_t rows, size_t d, uint64_t seed) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = rows, o.features = d, o.seed = seed, o.noise = 0.3;
    o.dtype = NR_F64;
    double *v = malloc(rows * (d + 1) * sizeof *v);
    cr_assert_eq(nr_gen_fill(&o, v, NULL), NR_OK);
    return v;
}

typedef struct {
    double w[8], b;
    double loss[8];
} run_bits;

static void train_bits(const nr_data *d, const nr_train_opts *o, run_bits *out) {
    nr_error err = {{0}};
    nr_model m;
    nr_train_result r;
    cr_assert_eq(nr_model_init(&m, d->features, NULL), NR_OK);
    nr_status s = nr_train(d, o, &m, &r, &err);
    cr_assert_eq(s, NR_OK, "%s", err.msg);
    cr_assert_eq(r.epochs_run, o->epochs);
    memset(out, 0, sizeof *out);
    memcpy(out->w, m.weights, d->features * sizeof(double));
    out->b = m.bias;
    memcpy(out->loss, r.loss, (size_t)o->epochs * sizeof(double));
    nr_model_free(&m);
    nr_train_result_free(&r);
}

static bool same_bits(const run_bits *a, const run_bits *b) {
    return !memcmp(a, b, sizeof *a);
}

/* 1, 2, 3 and 7 threads (7: more threads than the 2 cores of the machine
 * the tests were written on, and than a 1000-row batch has blocks), for
 * B = 4096 and B = 1000, every shuffle, f32 and f64, one feature (its own
 * kernel) and five, with the step's options (momentum, L1, averaging) that
 * keep state between batches. 20011 rows: a short last batch. */
Test(minibatch, bit_identical_for_1_2_3_and_7_threads) {
    const size_t n = 20011;
    const size_t feats[] = {1, 5};
    for (int fi = 0; fi < 2; fi++) {
        const size_t f = feats[fi];
        double *v = gen_f64(n, f, 3 + (uint64_t)f);
        float *v32 = malloc(n * (f + 1) * sizeof *v32);
        for (size_t i = 0; i < n * (f + 1); i++) v32[i] = (float)v[i];
        for (int dt = 0; dt < 2; dt++) {
            nr_data d = {n, f, dt ? NR_F32 : NR_F64, dt ? (void *)v32 : (void *)v};
            for (int c = 0; c < 2 * 3 * 2; c++) {
                nr_train_opts o;
                nr_train_defaults(&o);
                o.algo = NR_ALGO_MINIBATCH;
                o.batch = c % 2 ? 1000 : 4096;
                o.shuffle = (nr_shuffle)(c / 2 % 3);
                o.lr = 0.05;
                o.epochs = 3;
                if (c >= 6) o.momentum = 0.5, o.l1 = 1e-3, o.average = true;
                run_bits ref, got;
                for (int k = 0; k < 4; k++) {
                    const int threads[] = {1, 2, 3, 7};
                    o.threads = threads[k];
                    train_bits(&d, &o, k ? &got : &ref);
                    cr_assert(k == 0 || same_bits(&ref, &got),
                              "f=%zu %s B=%zu shuffle %d%s: %d threads differ from 1", f,
                              dt ? "f32" : "f64", o.batch, (int)o.shuffle,
                              c >= 6 ? " momentum+l1+average" : "", threads[k]);
                }
                cr_assert(isfinite(ref.loss[2]) && ref.loss[2] < ref.loss[0], "it trains");
            }
        }
        free(v);
        free(v32);
    }
}

/* The rule, transcribed: one epoch of minibatch in data order, each
 * batch's sums from blocks of `S(m)` rows, each block summed row by row as
 * the scalar kernel does, the blocks added in order from zero. */
static void rule_epoch(const double *x, size_t n, size_t f, size_t B, size_t sub, double lr,
                       double *w, double *b, double *loss) {
    double total = 0;
    for (size_t lo = 0; lo < n; lo += B) {
        const size_t hi = lo + B < n ? lo + B : n, m = hi - lo, S = m > 4096 ? 4096 : sub;
        double sums[10] = {0};
        for (size_t a = lo; a < hi; a += S) {
            double blk[10] = {0};
            for (size_t i = a; i < hi && i < a + S; i++) {
                const double *row = x + i * (f + 1);
                double r = *b;
                for (size_t j = 0; j < f; j++) r += w[j] * row[j];
                r -= row[f];
                for (size_t j = 0; j < f; j++) blk[j] += r * row[j];
                blk[f] += r;
                blk[f + 1] += r * r;
            }
            for (size_t j = 0; j < f + 2; j++) sums[j] += blk[j];
        }
        total += sums[f + 1];
        const double scale = 2.0 / (double)m; /* squared error: d(r^2)/dz = 2 r */
        for (size_t j = 0; j < f; j++) w[j] -= lr * (scale * sums[j]);
        *b -= lr * (scale * sums[f]);
    }
    *loss = total / (double)n;
}

/* B = 1000 (two sub-blocks, the second short), 4096 (eight) and 5000 (a
 * block of 4096 and one of 904: a longer pass keeps the coarse grid), with
 * 3 threads and the scalar kernel: the library's bits are the rule's. The
 * same transcription with one block per batch of at most 4096 rows (the
 * rule before issue 17) must differ somewhere, or this data could not tell
 * the two rules apart. */
Test(minibatch, bits_are_the_block_rule) {
    const size_t n = 12345, f = 3, Bs[] = {1000, 4096, 5000};
    double *v = gen_f64(n, f, 17);
    nr_data d = {n, f, NR_F64, v};
    bool told_apart = false;
    for (int i = 0; i < 3; i++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_MINIBATCH, o.batch = Bs[i], o.shuffle = NR_SHUFFLE_NONE;
        o.lr = 0.05, o.epochs = 2, o.threads = 3, o.kernel = NR_KERNEL_SCALAR;
        run_bits got;
        train_bits(&d, &o, &got);
        double w[3] = {0}, b = 0, loss[2], w1[3] = {0}, b1 = 0, loss1[2];
        for (int e = 0; e < 2; e++) {
            rule_epoch(v, n, f, Bs[i], 512, o.lr, w, &b, &loss[e]);
            rule_epoch(v, n, f, Bs[i], 4096, o.lr, w1, &b1, &loss1[e]);
        }
        for (size_t j = 0; j < f; j++)
            cr_assert(got.w[j] == w[j], "B=%zu w%zu: %.17g, the rule gives %.17g", Bs[i], j,
                      got.w[j], w[j]);
        cr_assert(got.b == b, "B=%zu bias: %.17g, the rule gives %.17g", Bs[i], got.b, b);
        for (int e = 0; e < 2; e++)
            cr_assert(got.loss[e] == loss[e], "B=%zu epoch %d loss: %.17g, the rule gives %.17g",
                      Bs[i], e + 1, got.loss[e], loss[e]);
        if (Bs[i] <= 4096)
            told_apart |= memcmp(w, w1, sizeof w) || b != b1 || memcmp(loss, loss1, sizeof loss);
    }
    cr_assert(told_apart, "the data do not distinguish sub-blocks from whole blocks");
    free(v);
}

/* A mini-batch of all n rows is a full batch, also when n is at most 4096
 * (both passes are then cut into 512-row blocks), and B > n too. */
Test(minibatch, all_rows_of_a_small_set_is_exactly_batch) {
    const size_t n = 3000, f = 2;
    double *v = gen_f64(n, f, 29);
    nr_data d = {n, f, NR_F64, v};
    nr_train_opts o;
    nr_train_defaults(&o);
    o.epochs = 6, o.threads = 2;
    run_bits batch, mb;
    train_bits(&d, &o, &batch);
    const size_t Bs[] = {n, 4096, 100000};
    for (int i = 0; i < 3; i++) {
        o.algo = NR_ALGO_MINIBATCH, o.batch = Bs[i];
        for (int sh = 0; sh < 2; sh++) {
            o.shuffle = sh ? NR_SHUFFLE_BATCHES : NR_SHUFFLE_NONE;
            train_bits(&d, &o, &mb);
            cr_assert(same_bits(&batch, &mb), "B=%zu shuffle %d differs from batch", Bs[i], sh);
        }
    }
    free(v);
}
