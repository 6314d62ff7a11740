/* neuron compare: the ulp arithmetic and tolerance rule of src/compare.c,
 * the command's exit codes on matching, differing and mismatched files,
 * and a run against the golden results in tests/golden/compare/. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neuron.h"
#include "util.h"

Test(compare, adjacent_doubles_are_one_ulp_apart) {
    const double xs[] = {1.0, -1.0, 0.1, 1e300, -3e-310, DBL_MIN, 123456.789};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        const double x = xs[i];
        cr_assert_eq(nr_ulp_distance(x, nextafter(x, INFINITY)), 1, "%g up", x);
        cr_assert_eq(nr_ulp_distance(nextafter(x, -INFINITY), x), 1, "%g down", x);
        cr_assert_eq(nr_ulp_distance(x, nextafter(nextafter(x, 0), 0)), 2, "%g two", x);
        cr_assert_eq(nr_ulp_distance(x, x), 0);
    }
    /* 1 and 1 + 2^-52 straddle nothing; 1 - 2^-53 is the double below 1 */
    cr_assert_eq(nr_ulp_distance(1.0, 1.0 + 0x1p-52), 1);
    cr_assert_eq(nr_ulp_distance(1.0 - 0x1p-53, 1.0 + 0x1p-52), 2);
}

Test(compare, signed_zeros_are_the_same_point) {
    cr_assert_eq(nr_ulp_distance(0.0, -0.0), 0);
    cr_assert_eq(nr_ulp_distance(-0.0, 0.0), 0);
    /* the smallest subnormals on either side of zero are 1 from it, 2 apart */
    const double tiny = 0x1p-1074;
    cr_assert_eq(nr_ulp_distance(-0.0, tiny), 1);
    cr_assert_eq(nr_ulp_distance(-tiny, tiny), 2);
    nr_tolerance exact = {0, 0, 0};
    cr_assert(nr_agree(0.0, -0.0, &exact));
    cr_assert(!nr_agree(tiny, -tiny, &exact));
}

Test(compare, nan_matches_only_nan) {
    const double qnan = NAN, other = -nan("0x7");
    cr_assert_eq(nr_ulp_distance(qnan, other), 0, "NaN vs NaN, any payload and sign");
    cr_assert_eq(nr_ulp_distance(qnan, 1.0), UINT64_MAX);
    cr_assert_eq(nr_ulp_distance(INFINITY, qnan), UINT64_MAX);
    nr_tolerance loose = {1e300, 1e300, UINT64_MAX - 1};
    cr_assert(nr_agree(qnan, other, &loose));
    cr_assert(!nr_agree(qnan, 0.0, &loose), "no tolerance makes NaN a number");
}

Test(compare, infinities_are_the_ends_of_the_line) {
    cr_assert_eq(nr_ulp_distance(INFINITY, INFINITY), 0);
    cr_assert_eq(nr_ulp_distance(DBL_MAX, INFINITY), 1);
    cr_assert_eq(nr_ulp_distance(-DBL_MAX, -INFINITY), 1);
    /* 0x7ff0000000000000 points on each side of zero */
    cr_assert_eq(nr_ulp_distance(-INFINITY, INFINITY), 2 * UINT64_C(0x7ff0000000000000));
    nr_tolerance rel = {1e300, 1e300, 0}, one = {0, 0, 1};
    cr_assert(!nr_agree(DBL_MAX, INFINITY, &rel), "no relative tolerance reaches infinity");
    cr_assert(nr_agree(DBL_MAX, INFINITY, &one));
    cr_assert(nr_agree(-INFINITY, -INFINITY, &rel));
}

Test(compare, tolerances_combine_as_numpy_isclose_or_ulps) {
    nr_tolerance t = {1e-6, 1e-9, 0};
    cr_assert(nr_agree(1.0 + 0.9e-6, 1.0, &t));
    cr_assert(!nr_agree(1.0 + 1.1e-6, 1.0, &t));
    cr_assert(nr_agree(5e-10, 0.0, &t), "atol covers a zero reference");
    nr_tolerance u = {0, 0, 4};
    cr_assert(nr_agree(1.0 + 4 * 0x1p-52, 1.0, &u));
    cr_assert(!nr_agree(1.0 + 5 * 0x1p-52, 1.0, &u));
}

Test(compare, diff_keeps_the_largest_differences_and_where) {
    nr_diff d;
    nr_diff_init(&d);
    nr_tolerance t = {0, 1e-3, 0};
    const double a[] = {1.0, 2.0, 0.0, 10.0}, b[] = {1.0, 2.0005, 1e-4, 10.002};
    for (size_t i = 0; i < 4; i++) nr_diff_add(&d, a[i], b[i], i, &t);
    cr_assert_eq(d.n, 4);
    cr_assert_eq(d.at_abs, 3);
    cr_assert_lt(fabs(d.max_abs - 0.002), 1e-12);
    cr_assert_eq(d.at_rel, 2, "0 vs 1e-4 is 100%% off");
    cr_assert_eq(d.max_rel, 1.0);
    cr_assert_eq(d.beyond, 1);
    cr_assert_eq(d.first_beyond, 3);
}

/* ---------------------------------------------------------------- CLI -- */

static int compare(const char *a, const char *b, const char *opt, const char *val,
                   run_result *keep) {
    const char *args[] = {"compare", a, b, opt, val, NULL};
    run_result r;
    run_neuron(&r, args);
    int st = r.status;
    if (keep)
        *keep = r;
    else
        run_free(&r);
    return st;
}

static char *write_tmp(const char *dir, const char *name, const char *text) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

Test(compare, exit_codes_for_same_close_beyond_and_mismatched) {
    char *dir = scratch_dir();
    char *a = write_tmp(dir, "a.json", "{\"weights\": [1.0, 2.0], \"bias\": 0.5, \"seconds\": 3}");
    char *same =
        write_tmp(dir, "same.json", "{\"bias\": 0.5, \"weights\": [1.0, 2.0], \"seconds\": 9.5}");
    char *close = write_tmp(dir, "close.json",
                            "{\"weights\": [1.0, 2.0000000000000004], \"bias\": 0.5, "
                            "\"seconds\": 3}");
    char *shape = write_tmp(dir, "shape.json", "{\"weights\": [1.0], \"bias\": 0.5}");
    char *extra =
        write_tmp(dir, "extra.json", "{\"weights\": [1.0, 2.0], \"bias\": 0.5, \"loss\": 1}");
    char *broken = write_tmp(dir, "broken.json", "{\"weights\": [1.0, ");
    char *csv = write_tmp(dir, "h.csv", "epoch,loss\n1,0.5\n2,0.25\n");
    run_result r;
    cr_assert_eq(compare(a, same, NULL, NULL, &r), 0, "%s%s", r.out, r.err);
    cr_assert(strstr(r.out, "skipped") && strstr(r.out, "seconds"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(compare(a, close, NULL, NULL, &r), 1);
    cr_assert(strstr(r.out, "weights") && strstr(r.out, "BEYOND") && strstr(r.out, "[1]"), "%s",
              r.out);
    run_free(&r);
    cr_assert_eq(compare(a, close, "--ulps", "1", NULL), 0);
    cr_assert_eq(compare(a, close, "--rtol", "1e-15", NULL), 0);
    cr_assert_eq(compare(a, close, "--atol", "1e-17", NULL), 1);
    cr_assert_eq(compare(a, shape, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "neuron: error: ") && strstr(r.err, "weights"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(a, extra, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "loss") && strstr(r.err, "extra.json"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(a, broken, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "broken.json:1"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(a, csv, NULL, NULL, NULL), 3, "a report against a history");
    cr_assert_eq(compare(a, "/nonexistent/x.json", NULL, NULL, NULL), 3);
    cr_assert_eq(compare(a, same, "--ulps", "-1", NULL), 2);
    cr_assert_eq(compare(a, NULL, NULL, NULL, NULL), 2);
    free(a), free(same), free(close), free(shape), free(extra), free(broken), free(csv);
    free(dir);
}

Test(compare, csv_columns_by_name_and_rows) {
    char *dir = scratch_dir();
    char *h1 = write_tmp(dir, "h1.csv", "epoch,loss,seconds\n1,0.5,0.1\n2,0.25,0.2\n");
    char *h2 = write_tmp(dir, "h2.csv", "epoch,loss,seconds\r\n1,0.5,7\r\n2,0.2500001,8\r\n");
    char *shorter = write_tmp(dir, "h3.csv", "epoch,loss,seconds\n1,0.5,0.1\n");
    char *ragged = write_tmp(dir, "h4.csv", "epoch,loss,seconds\n1,0.5,0.1\n2,0.25\n");
    char *nan1 = write_tmp(dir, "n1.csv", "epoch,val_loss\n1,nan\n");
    char *nan2 = write_tmp(dir, "n2.csv", "epoch,val_loss\n1,nan\n");
    run_result r;
    cr_assert_eq(compare(h1, h2, NULL, NULL, &r), 1);
    cr_assert(strstr(r.out, "loss") && strstr(r.out, "row 2"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(compare(h1, h2, "--rtol", "1e-6", NULL), 0);
    cr_assert_eq(compare(h1, shorter, NULL, NULL, NULL), 3);
    cr_assert_eq(compare(h1, ragged, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "h4.csv:3"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(nan1, nan2, NULL, NULL, NULL), 0, "NaN matches NaN");
    free(h1), free(h2), free(shorter), free(ragged), free(nan1), free(nan2);
    free(dir);
}

Test(compare, bad_files_are_named_with_their_line_and_exit_3) {
    char *dir = scratch_dir();
    char *a = write_tmp(dir, "a.csv", "epoch,loss\n1,0.5\n");
    char *word = write_tmp(dir, "w.csv", "epoch,loss\n1,half\n");
    char *twice = write_tmp(dir, "t.csv", "loss,loss\n1,0.5\n");
    char *other = write_tmp(dir, "o.txt", "1\n");
    char *cut = write_tmp(dir, "cut.npy", "\x93NUMPY\x01"); /* cut in the header */
    char *empty = write_tmp(dir, "e.json", "");
    run_result r;
    cr_assert_eq(compare(a, word, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "w.csv:2") && strstr(r.err, "loss"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(a, twice, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "twice"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(a, other, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "o.txt") && strstr(r.err, "kind"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(cut, cut, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "cut.npy"), "%s", r.err);
    run_free(&r);
    cr_assert_eq(compare(empty, empty, NULL, NULL, &r), 3);
    cr_assert(strstr(r.err, "e.json") && strstr(r.err, "empty"), "%s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "%s", r.err);
    run_free(&r);
    free(a), free(word), free(twice), free(other), free(cut), free(empty);
    free(dir);
}

Test(compare, a_different_text_field_is_beyond_any_tolerance) {
    char *dir = scratch_dir();
    char *a = write_tmp(dir, "a.json", "{\"stop_reason\": \"epochs\", \"bias\": 1}");
    char *b = write_tmp(dir, "b.json", "{\"stop_reason\": \"tolerance\", \"bias\": 1}");
    run_result r;
    cr_assert_eq(compare(a, b, "--rtol", "1e300", &r), 1);
    cr_assert(strstr(r.out, "DIFFERS") && strstr(r.out, "'epochs' vs 'tolerance'"), "%s", r.out);
    run_free(&r);
    cr_assert_eq(compare(a, b, "--ignore", "stop_reason", NULL), 0);
    free(a), free(b);
    free(dir);
}

/* The regression test the README recommends: train on the committed data,
 * compare with the committed golden results. The avx2 kernels fuse
 * multiply-adds and the scalar ones do not, so a machine with other kernels
 * rounds the last bits differently: 1e-9 relative is far above that (a few
 * ulps per epoch) and far below any change of the algorithm. The per-sample
 * sgd weights use no kernel: they must match to the bit. */
Test(compare, training_reproduces_the_golden_results) {
    char *gold = source_path("tests/golden/compare");
    char *dir = scratch_dir();
    char data[1024], rep[1024], hist[1024], model[1024], pred[1024], want[1024];
    snprintf(data, sizeof data, "%s/data.csv", gold);
    snprintf(rep, sizeof rep, "%s/batch.json", dir);
    snprintf(hist, sizeof hist, "%s/batch.csv", dir);
    snprintf(model, sizeof model, "%s/batch_model.json", dir);
    snprintf(pred, sizeof pred, "%s/batch_pred.npy", dir);
    for (int k = 0; k < 2; k++) {
        const char *kernel = k ? "scalar" : "auto";
        const char *train[] = {"train",    "--data",    data,       "--algo", "batch",
                               "--epochs", "50",        "--lr",     "0.1",    "--quiet",
                               "--kernel", kernel,      "--report", rep,      "--model",
                               model,      "--history", hist,       NULL};
        run_result r;
        run_neuron(&r, train);
        cr_assert_eq(r.status, 0, "%s", r.err);
        run_free(&r);
        const char *predict[] = {"predict", "--model", model, "--data", data, "--out", pred, NULL};
        run_neuron(&r, predict);
        cr_assert_eq(r.status, 0, "%s", r.err);
        run_free(&r);
        const char *pairs[][2] = {{rep, "batch.json"},
                                  {hist, "batch.csv"},
                                  {model, "batch_model.json"},
                                  {pred, "batch_pred.csv"}};
        for (int i = 0; i < 4; i++) {
            snprintf(want, sizeof want, "%s/%s", gold, pairs[i][1]);
            cr_assert_eq(compare(pairs[i][0], want, "--rtol", "1e-9", &r), 0,
                         "kernel %s, %s:\n%s%s", kernel, pairs[i][1], r.out, r.err);
            run_free(&r);
        }
    }
    const char *sgd[] = {"train", "--data", data,      "--algo",   "sgd", "--epochs", "5",
                         "--lr",  "0.01",   "--quiet", "--report", rep,   NULL};
    run_result r;
    run_neuron(&r, sgd);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    snprintf(want, sizeof want, "%s/sgd.json", gold);
    /* train_loss is measured by the kernels (see above): it alone gets 1e-12 */
    cr_assert_eq(compare(rep, want, "--ignore", "train_loss", &r), 0, "%s%s", r.out, r.err);
    run_free(&r);
    cr_assert_eq(compare(rep, want, "--rtol", "1e-12", NULL), 0);
    /* and a changed learning rate is caught */
    const char *other[] = {"train", "--data", data,      "--algo",   "sgd", "--epochs", "5",
                           "--lr",  "0.0101", "--quiet", "--report", rep,   NULL};
    run_neuron(&r, other);
    run_free(&r);
    cr_assert_eq(compare(rep, want, "--rtol", "1e-9", NULL), 1);
    free(gold);
    free(dir);
}
