/* Benchmark statistics (src/stats.c): quartiles and spread on synthetic
 * timings, the noisy flag, the interleaved measurement order and its
 * bounded re-measurement, and agreement with the harness's bench/stats.py. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neuron.h"
#include "util.h"

Test(stats, quartiles_interpolate_between_order_statistics) {
    /* unsorted 1..9 and 1..4: type 7 puts q1 at position 0.25 (n - 1) */
    const double nine[] = {9, 1, 8, 2, 7, 3, 6, 4, 5}, four[] = {4, 1, 3, 2};
    nr_summary s;
    cr_assert_eq(nr_summarize(nine, 9, NR_NOISY_SPREAD, &s, NULL), NR_OK);
    cr_assert(s.n == 9 && s.min == 1 && s.q1 == 3 && s.median == 5 && s.q3 == 7 && s.max == 9);
    cr_assert_eq(s.spread, 4.0 / 5.0);
    cr_assert(s.noisy);
    cr_assert_eq(nr_summarize(four, 4, NR_NOISY_SPREAD, &s, NULL), NR_OK);
    /* positions 0.75, 1.5, 2.25 of 1 2 3 4 */
    cr_assert(s.q1 == 1.75 && s.median == 2.5 && s.q3 == 3.25, "%g %g %g", s.q1, s.median, s.q3);
    cr_assert_eq(four[0], 4, "the input is not reordered");
}

Test(stats, one_value_and_zero_median) {
    nr_summary s;
    const double one = 0.25, zeros[] = {0, 0, 0}, around[] = {-1, 0, 1};
    cr_assert_eq(nr_summarize(&one, 1, NR_NOISY_SPREAD, &s, NULL), NR_OK);
    cr_assert(s.min == one && s.q1 == one && s.median == one && s.q3 == one && s.max == one);
    cr_assert(s.spread == 0 && !s.noisy);
    cr_assert_eq(nr_summarize(zeros, 3, NR_NOISY_SPREAD, &s, NULL), NR_OK);
    cr_assert(s.spread == 0 && !s.noisy);
    cr_assert_eq(nr_summarize(around, 3, NR_NOISY_SPREAD, &s, NULL), NR_OK);
    cr_assert(isinf(s.spread) && s.noisy);
}

Test(stats, refuses_no_values_and_non_finite_ones) {
    nr_summary s;
    nr_error err = {{0}};
    const double bad[] = {1, NAN, 2}, inf[] = {INFINITY};
    cr_assert_eq(nr_summarize(bad, 0, NR_NOISY_SPREAD, &s, &err), NR_ERR_ARG);
    cr_assert_eq(nr_summarize(bad, 3, NR_NOISY_SPREAD, &s, &err), NR_ERR_ARG);
    cr_assert(strstr(err.msg, "value 2 of 3"), "%s", err.msg);
    cr_assert_eq(nr_summarize(inf, 1, NR_NOISY_SPREAD, &s, &err), NR_ERR_ARG);
}

Test(stats, an_outlier_moves_the_range_but_not_the_spread) {
    /* 20 steady timings and one 600x (the 243.9 ms for 0.39 ms) */
    double t[21];
    for (int i = 0; i < 20; i++) t[i] = 0.39e-3 * (1 + 0.002 * (i % 5));
    t[20] = 243.9e-3;
    nr_summary s;
    cr_assert_eq(nr_summarize(t, 21, NR_NOISY_SPREAD, &s, NULL), NR_OK);
    cr_assert_eq(s.max, 243.9e-3);
    cr_assert_lt(s.spread, 0.01);
    cr_assert(!s.noisy);
    cr_assert_lt(fabs(s.median - 0.39e-3 * 1.004), 1e-9);
}

Test(stats, noisy_threshold_is_a_strict_bound) {
    const double v[] = {0.9, 1.0, 1.1}; /* q1 0.95, q3 1.05: spread 0.1 (rounded) */
    nr_summary s;
    cr_assert_eq(nr_summarize(v, 3, 0.2, &s, NULL), NR_OK);
    cr_assert(!s.noisy);
    cr_assert_eq(nr_summarize(v, 3, 0.05, &s, NULL), NR_OK);
    cr_assert(s.noisy);
}

/* A fake measurement: returns scripted timings and logs which ran, so that
 * the order of calls can be checked. */
typedef struct {
    char *log; /* shared by a and b */
    size_t *len;
    char name;
    const double *script; /* timings to return in turn, cycling */
    size_t script_n, calls;
    int fail_at; /* 1-based call that fails, 0: never */
} fake;

static nr_status fake_measure(void *ctx, double *seconds, nr_error *err) {
    fake *f = ctx;
    f->log[(*f->len)++] = f->name;
    f->calls++;
    if (f->fail_at && (int)f->calls == f->fail_at) {
        snprintf(err->msg, sizeof err->msg, "scripted failure");
        return NR_ERR_INPUT;
    }
    *seconds = f->script[(f->calls - 1) % f->script_n];
    return NR_OK;
}

Test(stats, pairs_are_interleaved_and_warmup_is_discarded) {
    char log[256] = {0};
    size_t len = 0;
    const double sa[] = {0.5 /* warm-up */, 1.0, 1.0, 1.0, 1.0}, sb[] = {9.0, 2.0, 2.0, 2.0, 2.0};
    fake a = {log, &len, 'a', sa, 5, 0, 0}, b = {log, &len, 'b', sb, 5, 0, 0};
    nr_measure_plan p;
    nr_measure_defaults(&p);
    p.warmup = 1, p.reps = 4, p.max_rounds = 3;
    nr_pair r;
    cr_assert_eq(nr_measure_pair(&p, fake_measure, &a, fake_measure, &b, &r, NULL), NR_OK);
    cr_assert_str_eq(log, "ababababab");
    cr_assert_eq(r.n, 4);
    cr_assert_eq(r.rounds, 1, "a steady ratio needs one round");
    for (size_t i = 0; i < r.n; i++) cr_assert(r.a[i] == 1.0 && r.b[i] == 2.0);
    cr_assert(r.ratio.median == 2.0 && r.ratio.min == 2.0 && r.ratio.max == 2.0);
    cr_assert(!r.ratio.noisy && r.sa.median == 1.0 && r.sb.median == 2.0);
    nr_pair_free(&r);
}

Test(stats, min_seconds_times_several_calls_and_counts_their_mean) {
    char log[256] = {0};
    size_t len = 0;
    /* a: 0.4 s a call, 3 calls reach 1 s; b: 0.25 then 0.75, 2 calls */
    const double sa[] = {0.4}, sb[] = {0.25, 0.75};
    fake a = {log, &len, 'a', sa, 1, 0, 0}, b = {log, &len, 'b', sb, 2, 0, 0};
    nr_measure_plan p;
    nr_measure_defaults(&p);
    cr_assert_eq(p.min_seconds, 0.0, "one call per measurement unless asked");
    p.warmup = 0, p.reps = 2, p.max_rounds = 1, p.min_seconds = 1.0;
    nr_pair r;
    cr_assert_eq(nr_measure_pair(&p, fake_measure, &a, fake_measure, &b, &r, NULL), NR_OK);
    cr_assert_str_eq(log, "aaabbaaabb");
    cr_assert_eq(r.n, 2);
    for (size_t i = 0; i < r.n; i++) {
        /* the mean of the calls, not their sum or the last one: exact in
         * binary for these values ((0.4 * 3) / 3 may round, so compare
         * within one ulp) */
        cr_assert(fabs(r.a[i] - 0.4) <= 0x1p-52 * 0.4, "a[%zu] = %.17g", i, r.a[i]);
        cr_assert(r.b[i] == 0.5, "b[%zu] = %.17g", i, r.b[i]);
    }
    nr_pair_free(&r);
    p.min_seconds = -1.0;
    nr_error err;
    cr_assert_eq(nr_measure_pair(&p, fake_measure, &a, fake_measure, &b, &r, &err), NR_ERR_ARG);
    cr_assert(strstr(err.msg, "min seconds"), "%s", err.msg);
}

Test(stats, a_noisy_ratio_is_remeasured_up_to_the_bound_then_flagged) {
    char log[256] = {0};
    size_t len = 0;
    const double sa[] = {1.0}, sb[] = {1.0, 3.0, 0.5, 2.0}; /* ratio spread > 1 */
    fake a = {log, &len, 'a', sa, 1, 0, 0}, b = {log, &len, 'b', sb, 4, 0, 0};
    nr_measure_plan p;
    nr_measure_defaults(&p);
    p.warmup = 0, p.reps = 4, p.max_rounds = 3;
    nr_pair r;
    cr_assert_eq(nr_measure_pair(&p, fake_measure, &a, fake_measure, &b, &r, NULL), NR_OK);
    cr_assert_eq(r.rounds, 3);
    cr_assert_eq(r.n, 12);
    cr_assert_eq(a.calls + b.calls, 24, "no measurement beyond the bound");
    cr_assert(r.ratio.noisy);
    cr_assert(r.ratio.min == 0.5 && r.ratio.max == 3.0);
    nr_pair_free(&r);
}

Test(stats, remeasurement_stops_once_the_ratio_settles) {
    /* first round wide, later ones steady: the pooled sample of 12 settles */
    char log[256] = {0};
    size_t len = 0;
    const double sa[] = {1.0}, sb[] = {1.0, 3.0, 0.5, 2.0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
                                       2,   2,   2,   2,   2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    fake a = {log, &len, 'a', sa, 1, 0, 0}, b = {log, &len, 'b', sb, 32, 0, 0};
    nr_measure_plan p;
    nr_measure_defaults(&p);
    p.warmup = 0, p.reps = 4, p.max_rounds = 5;
    nr_pair r;
    cr_assert_eq(nr_measure_pair(&p, fake_measure, &a, fake_measure, &b, &r, NULL), NR_OK);
    /* after 8 pairs the spread is 0.25 / 2; after 12 it is 0 */
    cr_assert_eq(r.rounds, 3, "rounds %d", r.rounds);
    cr_assert(!r.ratio.noisy && r.ratio.median == 2.0);
    nr_pair_free(&r);
}

Test(stats, a_failing_measurement_stops_with_its_status) {
    char log[256] = {0};
    size_t len = 0;
    const double one[] = {1.0};
    fake a = {log, &len, 'a', one, 1, 0, 0}, b = {log, &len, 'b', one, 1, 0, 3};
    nr_measure_plan p;
    nr_measure_defaults(&p);
    nr_pair r;
    nr_error err = {{0}};
    cr_assert_eq(nr_measure_pair(&p, fake_measure, &a, fake_measure, &b, &r, &err), NR_ERR_INPUT);
    cr_assert_str_eq(log, "ababab");
    cr_assert_str_eq(err.msg, "scripted failure");
    cr_assert(r.a == NULL && r.n == 0);
    p.reps = 0;
    cr_assert_eq(nr_measure_pair(&p, fake_measure, &a, fake_measure, &b, &r, &err), NR_ERR_ARG);
}

/* value of "key": in a flat JSON object */
static double json_number(const char *text, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(text, pat);
    cr_assert(p, "no %s in %s", key, text);
    return strtod(p + strlen(pat), NULL);
}

Test(stats, the_harness_computes_the_same_summary) {
    /* bench/stats.py is the harness's copy of these definitions; the two
     * interpolate in different orders of operations, so they agree to a few
     * ulps, checked at 1e-12 relative */
    run_result probe;
    const char *const which[] = {"python3", "-c", "import statistics", NULL};
    run_program(&probe, which);
    int have = probe.status == 0;
    run_free(&probe);
    if (!have) cr_skip_test("python3 is not installed");
    char *script = source_path("bench/stats.py");
    const char *values[] = {"0.00391", "0.00388", "0.0043", "0.00402", "0.0121",
                            "0.00389", "0.00395", "0.0041", "0.00387", "0.00399"};
    double v[10];
    const char *argv[13] = {"python3", script};
    for (int i = 0; i < 10; i++) v[i] = strtod(values[i], NULL), argv[2 + i] = values[i];
    for (size_t n = 1; n <= 10; n += 3) {
        argv[2 + n] = NULL;
        run_result r;
        run_program(&r, argv);
        cr_assert_eq(r.status, 0, "%s", r.err);
        nr_summary s;
        cr_assert_eq(nr_summarize(v, n, NR_NOISY_SPREAD, &s, NULL), NR_OK);
        const char *keys[] = {"min", "q1", "median", "q3", "max", "spread"};
        const double mine[] = {s.min, s.q1, s.median, s.q3, s.max, s.spread};
        for (int k = 0; k < 6; k++) {
            double py = json_number(r.out, keys[k]);
            cr_assert_leq(fabs(py - mine[k]), 1e-12 * fabs(mine[k]),
                          "n %zu %s: python %.17g, C %.17g", n, keys[k], py, mine[k]);
        }
        cr_assert_eq(strstr(r.out, "\"noisy\": true") != NULL, s.noisy, "n %zu: %s", n, r.out);
        run_free(&r);
        if (n < 10) argv[2 + n] = values[n];
    }
    free(script);
}

Test(stats, the_harness_interleaves_and_remeasures_as_the_library_does) {
    /* the scripted run of a_noisy_ratio_is_remeasured_up_to_the_bound_then_flagged
     * and pairs_are_interleaved_and_warmup_is_discarded, through bench/stats.py */
    run_result probe;
    const char *const which[] = {"python3", "-c", "import statistics", NULL};
    run_program(&probe, which);
    int have = probe.status == 0;
    run_free(&probe);
    if (!have) cr_skip_test("python3 is not installed");
    char *bench = source_path("bench");
    char code[2048];
    snprintf(code, sizeof code,
             "import sys; sys.path.insert(0, '%s'); import stats\n"
             "log = []\n"
             "def fake(name, script):\n"
             "    it = iter(script * 100)\n"
             "    def f():\n"
             "        log.append(name)\n"
             "        return next(it)\n"
             "    return f\n"
             "m = stats.measure_pair(fake('a', [0.5, 1, 1, 1, 1]), fake('b', [9, 2, 2, 2, 2]),\n"
             "                       warmup=1, reps=4, max_rounds=3)\n"
             "print(''.join(log), m['rounds'], len(m['a']), m['ratio']['median'],\n"
             "      m['ratio']['noisy'])\n"
             "log.clear()\n"
             "m = stats.measure_pair(fake('a', [1]), fake('b', [1, 3, 0.5, 2]), warmup=0,\n"
             "                       reps=4, max_rounds=3)\n"
             "print(len(log), m['rounds'], len(m['a']), m['ratio']['noisy'], m['ratio']['min'],\n"
             "      m['ratio']['max'])\n",
             bench);
    const char *argv[] = {"python3", "-c", code, NULL};
    run_result r;
    run_program(&r, argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "ababababab 1 4 2.0 False\n24 3 12 True 0.5 3.0\n");
    run_free(&r);
    free(bench);
}
