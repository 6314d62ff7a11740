/* neuron bench: every figure is a set of interleaved repetitions with its
 * summary, spread and flags, the read is the roof, small data is labelled
 * cache-resident, and bad options are usage errors. Timings themselves are
 * never asserted (the machine is shared): only their structure. */
#include <jansson.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neuron.h"
#include "util.h"

static double num(const json_t *j, const char *key) {
    const json_t *v = json_object_get(j, key);
    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

/* A summary object: ordered, counted, its spread and flag as defined. */
static void check_summary(const json_t *s, double noisy_above, size_t n, const char *what) {
    cr_assert(json_is_object(s), "%s: no summary", what);
    const double mn = num(s, "min"), q1 = num(s, "q1"), md = num(s, "median"), q3 = num(s, "q3"),
                 mx = num(s, "max"), sp = num(s, "spread");
    cr_assert(mn <= q1 && q1 <= md && md <= q3 && q3 <= mx, "%s: %g %g %g %g %g", what, mn, q1, md,
              q3, mx);
    cr_assert_eq((size_t)num(s, "n"), n, "%s", what);
    cr_assert_leq(fabs(sp - (q3 - q1) / md), 1e-12 * sp, "%s", what);
    cr_assert_eq(json_is_true(json_object_get(s, "noisy")), sp > noisy_above, "%s", what);
}

static bool has_flag(const json_t *e, const char *flag) {
    const json_t *f;
    size_t i;
    json_array_foreach(json_object_get(e, "flags"), i, f) {
        if (!strcmp(json_string_value(f), flag)) return true;
    }
    return false;
}

static json_t *bench(const char *dir, const char *const *extra, run_result *r) {
    char data[4096], out[4096];
    snprintf(data, sizeof data, "%s/d.npy", dir);
    snprintf(out, sizeof out, "%s/b.json", dir);
    const char *g[] = {"gen", "--rows", "50000", "--features", "3", "--out", data, NULL};
    run_neuron(r, g);
    cr_assert_eq(r->status, 0, "%s", r->err);
    run_free(r);
    const char *args[32] = {"bench", "--data", data, "--out", out};
    int n = 5;
    for (int i = 0; extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    run_neuron(r, args);
    cr_assert_eq(r->status, 0, "%s", r->err);
    char *text = read_file(out, NULL);
    json_t *j = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
    free(text);
    cr_assert(j, "bench output is JSON");
    return j;
}

Test(bench, every_figure_is_interleaved_repetitions_with_spread_and_flags) {
    char *dir = scratch_dir();
    const char *extra[] = {"--algos",
                           "batch,minibatch:1000,sgd,exact",
                           "--threads",
                           "1,2",
                           "--reps",
                           "8",
                           "--max-rounds",
                           "2",
                           "--exact-epochs",
                           "50",
                           NULL};
    run_result r;
    json_t *j = bench(dir, extra, &r);
    /* four lines saying what was measured, a header, eight rows */
    cr_assert_eq(count_lines(r.out), 13, "%s", r.out);
    cr_assert(strstr(r.out, "# activation identity, loss squared error"), "%s", r.out);
    cr_assert(strstr(r.out, "1 warm-up pair(s) discarded"), "%s", r.out);
    run_free(&r);
    /* 50000 x 4 f32 = 800 kB: under 4x any last-level cache (or the default) */
    cr_assert_str_eq(json_string_value(json_object_get(j, "regime")), "cache-resident");
    cr_assert_gt(num(j, "llc_bytes"), 0);
    cr_assert_eq(num(j, "warmup_pairs"), 1);
    cr_assert_eq(num(j, "min_seconds"), 0.005, "the default time of one measurement");
    json_t *res = json_object_get(j, "results"), *e;
    cr_assert_eq(json_array_size(res), 8);
    size_t idx;
    json_array_foreach(res, idx, e) {
        const char *algo = json_string_value(json_object_get(e, "algo"));
        const bool exact = !strcmp(algo, "exact");
        const bool few = exact || !strcmp(algo, "sgd"); /* max(5, 8 / 2) pairs a round */
        const size_t rounds = (size_t)num(e, "rounds"), n = (size_t)num(e, "reps");
        cr_assert(rounds >= 1 && rounds <= 2 && n == rounds * (few ? 5 : 8), "%s: %zu in %zu", algo,
                  n, rounds);
        const json_t *ratio = json_object_get(e, "read_over_epoch");
        check_summary(json_object_get(e, exact ? "run_seconds" : "epoch_seconds"), 0.1, n, algo);
        check_summary(json_object_get(e, "read_seconds"), 0.1, n, algo);
        check_summary(ratio, 0.1, n, algo);
        /* a ratio still noisy after a first round was measured again */
        if (rounds == 1) cr_assert(!json_is_true(json_object_get(ratio, "noisy")), "%s", algo);
        cr_assert_eq(has_flag(e, "noisy"), json_is_true(json_object_get(ratio, "noisy")));
        /* the raw timings are kept, in order, and each ratio is read / epoch */
        const json_t *et = json_object_get(e, "epoch_times"),
                     *rt = json_object_get(e, "read_times");
        cr_assert_eq(json_array_size(et), n);
        cr_assert_eq(json_array_size(rt), n);
        double lo = INFINITY, hi = 0;
        for (size_t i = 0; i < n; i++) {
            const double q =
                json_number_value(json_array_get(rt, i)) / json_number_value(json_array_get(et, i));
            lo = fmin(lo, q), hi = fmax(hi, q);
        }
        cr_assert(lo == num(ratio, "min") && hi == num(ratio, "max"),
                  "%s: %.17g %.17g vs %.17g %.17g", algo, lo, hi, num(ratio, "min"),
                  num(ratio, "max"));
        const json_t *roof = json_object_get(e, "roofline");
        if (exact) {
            cr_assert(json_is_null(roof));
            cr_assert_leq(fabs(num(e, "passes") - 1 / num(ratio, "median")),
                          1e-12 * num(e, "passes"));
        } else if (num(ratio, "median") > 1) {
            /* never a fraction above 100%: a flag instead */
            cr_assert(json_is_null(roof) && has_flag(e, "epoch faster than read"), "%s", algo);
        } else {
            cr_assert_eq(num(e, "roofline"), num(ratio, "median"));
            cr_assert(!has_flag(e, "epoch faster than read"));
        }
        cr_assert_str_eq(json_string_value(json_object_get(e, "regime")), "cache-resident");
        /* the epochs continue training: gen's data (weights 1, 2, 3, noise
         * U(-0.1, 0.1)) has its floor at 0.01/3; the loss at w = 0 is ~4.7 */
        const double loss = num(e, "final_loss");
        cr_assert(isfinite(loss) && loss > 0.003 && loss < 4, "%s: %g", algo, loss);
    }
    json_decref(j);
    free(dir);
}

Test(bench, a_zero_threshold_flags_every_spread_after_the_last_round) {
    char *dir = scratch_dir();
    const char *extra[] = {"--algos",      "batch", "--threads", "1", "--reps", "4",
                           "--max-rounds", "3",     "--noisy",   "0", NULL};
    run_result r;
    json_t *j = bench(dir, extra, &r);
    json_t *e = json_array_get(json_object_get(j, "results"), 0);
    const json_t *ratio = json_object_get(e, "read_over_epoch");
    if (num(ratio, "spread") > 0) {
        cr_assert_eq(num(e, "rounds"), 3);
        cr_assert(has_flag(e, "noisy"));
        cr_assert(strstr(r.out, "NOISY"), "printed, not only stored: %s", r.out);
    }
    run_free(&r);
    json_decref(j);
    free(dir);
}

Test(bench, bad_options_are_usage_errors) {
    char *dir = scratch_dir();
    char data[4096];
    snprintf(data, sizeof data, "%s/d.npy", dir);
    run_result r;
    const char *g[] = {"gen", "--rows", "1000", "--out", data, NULL};
    run_neuron(&r, g);
    run_free(&r);
    struct {
        const char *args[10];
        int code;
        const char *msg;
    } cases[] = {
        {{"bench", NULL}, 2, "--data is required"},
        {{"bench", "--data", data, "--algos", "adam", NULL}, 2, "minibatch:B"},
        {{"bench", "--data", data, "--algos", "minibatch:0", NULL}, 2, "minibatch:B"},
        {{"bench", "--data", data, "--threads", "0", NULL}, 2, "'all'"},
        {{"bench", "--data", data, "--reps", "0", NULL}, 2, "--reps"},
        {{"bench", "--data", data, "--noisy", "-0.1", NULL}, 2, "--noisy"},
        {{"bench", "--data", data, "--max-rounds", "0", NULL}, 2, "--max-rounds"},
        {{"bench", "--data", data, "--min-time", "-1", NULL}, 2, "--min-time"},
        {{"bench", "--data", data, "--min-time", "61", NULL}, 2, "--min-time"},
        {{"bench", "--data", data, "--warmup", "x", NULL}, 2, "--warmup"},
        {{"bench", "--data", "/nonexistent.npy", NULL}, 3, "cannot open"},
        {{"bench", "--data", data, "--activation", "relu", NULL}, 2, "identity|sigmoid|step"},
        {{"bench", "--data", data, "--activation", "sigmoid", "--loss", "huber", NULL},
         2,
         "identity activation"},
        {{"bench", "--data", data, "--delta", "2", NULL}, 2, "--loss huber"},
        {{"bench", "--data", data, "--activation", "step", "--algos", "exact", NULL}, 2, "--exact"},
        /* regression targets are no class labels: bad input, file and row */
        {{"bench", "--data", data, "--activation", "sigmoid", "--algos", "batch", NULL},
         3,
         "d.npy: row 1: target"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_neuron(&r, cases[i].args);
        cr_assert_eq(r.status, cases[i].code, "case %zu: %s", i, r.err);
        cr_assert(strstr(r.err, "neuron: error: ") && strstr(r.err, cases[i].msg), "case %zu: %s",
                  i, r.err);
        cr_assert_eq(count_lines(r.err), 1, "case %zu: %s", i, r.err);
        run_free(&r);
    }
    free(dir);
}

/* The classifiers are measured with their own loss: at a learning rate too
 * small to move the weights from zero, the final loss is the loss at z = 0:
 * ln 2 for the logistic, 0 for the perceptron criterion, and for the
 * identity the mean of y^2 (the fraction of 1 labels, nowhere near ln 2). */
Test(bench, activation_and_loss_reach_the_trainer_and_the_report) {
    char *dir = scratch_dir();
    char data[4096], out[4096];
    snprintf(data, sizeof data, "%s/c.npy", dir);
    snprintf(out, sizeof out, "%s/b.json", dir);
    run_result r;
    const char *g[] = {"gen",        "--task", "classify", "--rows", "20000",
                       "--features", "2",      "--out",    data,     NULL};
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const struct {
        const char *act, *loss_line;
        double lo, hi;
    } cases[] = {
        /* w = 0: every row's loss is ln 2; the f32 rows' logistic kernel
         * computes it in f32, within 2^-21 relative (kernels_avx2.c) */
        {"sigmoid", "loss logistic", M_LN2 * (1 - 0x1p-21), M_LN2 * (1 + 0x1p-21)},
        {"step", "loss perceptron criterion", 0, 1e-100},
        {"identity", "loss squared error", 0.2, 0.8},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *args[] = {"bench",      "--data",  data,     "--out",     out, "--activation",
                              cases[c].act, "--algos", "batch",  "--threads", "1", "--reps",
                              "2",          "--lr",    "1e-300", NULL};
        run_neuron(&r, args);
        cr_assert_eq(r.status, 0, "%s: %s", cases[c].act, r.err);
        cr_assert(strstr(r.out, cases[c].loss_line), "%s: %s", cases[c].act, r.out);
        char *text = read_file(out, NULL);
        json_t *j = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
        free(text);
        cr_assert_str_eq(json_string_value(json_object_get(j, "activation")), cases[c].act);
        json_t *e = json_array_get(json_object_get(j, "results"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(e, "activation")), cases[c].act);
        const double fl = num(e, "final_loss");
        cr_assert(fl >= cases[c].lo && fl <= cases[c].hi, "%s: final loss %.17g", cases[c].act, fl);
        json_decref(j);
        run_free(&r);
    }
    free(dir);
}
