/* The `neuron` command's contract beyond parsing values: options the run
 * would ignore are refused, the progress line is always ended, .tsv files
 * are tab-separated, predictions are a 1-D array, the history's columns say
 * what they hold. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "neuron.h"
#include "util.h"

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Run neuron with `args`, which must succeed; the caller frees r. */
static void run_ok(run_result *r, const char *const *args) {
    run_neuron(r, args);
    cr_assert_eq(r->status, 0, "neuron %s: exit %d: %s", args[0], r->status, r->err);
}

/* gen into dir/name; returns the path. */
static char *gen(const char *dir, const char *name, const char *rows, const char *features) {
    char *p = path_in(dir, name);
    const char *g[] = {"gen", "--rows", rows, "--features", features, "--out", p, NULL};
    run_result r;
    run_ok(&r, g);
    run_free(&r);
    return p;
}

/* ------------------------------------------------------ ignored options -- */

Test(cli_conflicts, options_the_run_would_ignore_are_usage_errors) {
    char *dir = scratch_dir();
    char *data = gen(dir, "d.npy", "500", "2");
    char *hist = path_in(dir, "h.csv");
    struct {
        const char *args[8];
        const char *names[2]; /* both sides of the conflict appear in the message */
    } cases[] = {
        {{"--patience", "3"}, {"--patience", "--tol"}},
        {{"--algo", "batch", "--batch", "64"}, {"--batch", "minibatch"}},
        {{"--batch", "64"}, {"--batch", "batch"}}, /* batch is the default algo */
        {{"--algo", "batch", "--shuffle", "samples"}, {"--shuffle", "minibatch"}},
        {{"--algo", "sgd", "--shuffle", "none"}, {"--shuffle", "sgd"}},
        {{"--algo", "ols", "--batch", "8"}, {"--batch", "ols"}},
        {{"--algo", "sgd", "--seed", "7"}, {"--seed", "minibatch"}},
        {{"--algo", "minibatch", "--shuffle", "none", "--seed", "7"}, {"--seed", "--shuffle none"}},
        {{"--algo", "ols", "--exact"}, {"--exact", "--algo ols"}},
        {{"--algo", "ols", "--epochs", "10"}, {"--epochs", "--algo ols"}},
        {{"--algo", "ols", "--lr", "0.1"}, {"--lr", "--algo ols"}},
        {{"--algo", "ols", "--tol", "0.1", "--patience", "2"}, {"--tol", "--algo ols"}},
        {{"--algo", "ols", "--history", hist}, {"--history", "--algo ols"}},
        {{"--algo", "minibatch", "--exact"}, {"--exact", "minibatch"}},
        {{"--quiet", "--progress"}, {"--quiet", "--progress"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *argv[16] = {"train", "--data", data};
        size_t n = 3;
        for (size_t k = 0; cases[c].args[k]; k++) argv[n++] = cases[c].args[k];
        argv[n] = NULL;
        run_result r;
        run_neuron(&r, argv);
        cr_expect_eq(r.status, 2, "case %zu (%s %s): exit %d, %s", c, cases[c].args[0],
                     cases[c].args[1], r.status, r.err);
        cr_expect_eq(count_lines(r.err), 1, "case %zu: %s", c, r.err);
        cr_expect(!strncmp(r.err, "neuron: error: train: ", 22), "case %zu: %s", c, r.err);
        for (int k = 0; k < 2; k++)
            cr_expect(strstr(r.err, cases[c].names[k]), "case %zu: '%s' not named in: %s", c,
                      cases[c].names[k], r.err);
        cr_expect_eq(r.out_len, 0, "case %zu printed a report", c);
        cr_expect(access(hist, F_OK) != 0, "case %zu wrote a history", c);
        run_free(&r);
    }
    /* the same options where they apply are accepted */
    const char *fine[][12] = {
        {"--algo", "minibatch", "--batch", "64", "--shuffle", "samples", "--seed", "7", NULL},
        {"--tol", "1e-9", "--patience", "2", NULL},
        {"--algo", "sgd", "--exact", "--epochs", "3", NULL},
        {"--algo", "ols", "--val-split", "0.2", NULL},
    };
    for (size_t c = 0; c < sizeof fine / sizeof fine[0]; c++) {
        const char *argv[16] = {"train", "--data", data, "--quiet"};
        size_t n = 4;
        for (size_t k = 0; fine[c][k]; k++) argv[n++] = fine[c][k];
        argv[n] = NULL;
        run_result r;
        run_neuron(&r, argv);
        cr_expect_eq(r.status, 0, "accepted case %zu: %s", c, r.err);
        run_free(&r);
    }
    free(hist);
    free(data);
    free(dir);
}

/* -------------------------------------------------------- progress line -- */

/* Every progress line ('\r'-started) is ended by a newline before anything
 * else is printed, and stderr ends with a newline. */
static void expect_progress_ended(const char *err, const char *what) {
    cr_assert(strstr(err, "\repoch "), "%s: no progress shown: %s", what, err);
    const size_t n = strlen(err);
    cr_expect(n > 0 && err[n - 1] == '\n', "%s: stderr does not end with a newline: '%s'", what,
              err);
    const char *e = strstr(err, "neuron: error:");
    if (e) cr_expect(e[-1] == '\n', "%s: the error is glued to the progress line: %s", what, err);
}

Test(cli_progress, the_line_is_ended_on_early_stop_and_on_error) {
    char *dir = scratch_dir();
    char *data = gen(dir, "d.npy", "2000", "2");
    /* early stop: a tolerance nothing can beat stops after --patience */
    const char *stop[] = {"train", "--data", data,         "--progress", "--epochs", "1000",
                          "--tol", "1e9",    "--patience", "2",          NULL};
    run_result r;
    run_neuron(&r, stop);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"tolerance\""), "did not stop early: %s", r.out);
    expect_progress_ended(r.err, "early stop");
    run_free(&r);
    /* an error after some epochs: divergence */
    const char *dv[] = {"train", "--data",   data, "--progress", "--lr",
                        "1e6",   "--epochs", "50", NULL};
    run_neuron(&r, dv);
    cr_assert_eq(r.status, 4, "%s", r.err);
    expect_progress_ended(r.err, "divergence");
    run_free(&r);
    /* --quiet shows nothing, whatever stderr is */
    const char *q[] = {"train", "--data", data, "--quiet", "--epochs", "3", NULL};
    run_neuron(&r, q);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect_eq(r.err_len, 0, "--quiet printed: %s", r.err);
    run_free(&r);
    free(data);
    free(dir);
}

Test(cli_progress, the_line_is_ended_when_ctrl_c_stops_the_run, .timeout = 120) {
    char *dir = scratch_dir();
    char *data = gen(dir, "d.npy", "200000", "4");
    char *out = path_in(dir, "stdout"), *err = path_in(dir, "stderr");
    const char *t[] = {"train",     "--data",    data, "--progress", "--epochs",
                       "100000000", "--threads", "1",  NULL};
    int pid = start_neuron(t, out, err);
    /* wait for a progress line, then interrupt */
    char *text = NULL;
    for (int i = 0; i < 600; i++) {
        free(text);
        text = read_file(err, NULL);
        if (text && strstr(text, "\repoch ")) break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    cr_assert(text && strstr(text, "\repoch "), "no progress after 30 s: %s", text ? text : "");
    kill(pid, SIGINT);
    cr_assert_eq(wait_neuron(pid, 60), 130);
    free(text);
    text = read_file(err, NULL);
    expect_progress_ended(text, "Ctrl-C");
    char *report = read_file(out, NULL);
    cr_expect(report && strstr(report, "\"interrupted\""), "stdout: %s", report ? report : "");
    free(report);
    free(text);
    free(out);
    free(err);
    free(data);
    free(dir);
}

/* ---------------------------------------------------------------- files -- */

Test(cli_files, tsv_files_are_tab_separated_unless_told_otherwise) {
    char *dir = scratch_dir();
    char *tsv = path_in(dir, "d.tsv");
    FILE *f = fopen(tsv, "w");
    cr_assert(f);
    /* y = 2 a - b + 1, exactly: ols recovers it to rounding */
    fputs("a\tb\ty\n", f);
    for (int i = 0; i < 50; i++) {
        const double a = i * 0.5, b = (i * 7) % 11;
        fprintf(f, "%.17g\t%.17g\t%.17g\n", a, b, 2 * a - b + 1);
    }
    fclose(f);
    const char *t[] = {"train", "--data", tsv, "--algo", "ols", NULL};
    run_result r;
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    double w1, w2, b;
    const char *w = strstr(r.out, "\"weights\"");
    cr_assert(w && sscanf(strchr(w, '[') + 1, "%lf , %lf", &w1, &w2) == 2, "%s", r.out);
    cr_assert(sscanf(strstr(r.out, "\"bias\"") + 7, "%lf", &b) == 1, "%s", r.out);
    cr_expect(fabs(w1 - 2) < 1e-9 && fabs(w2 + 1) < 1e-9 && fabs(b - 1) < 1e-9, "%s", r.out);
    run_free(&r);
    /* an explicit delimiter wins: the tab-separated lines are one field */
    const char *c[] = {"train", "--data", tsv, "--algo", "ols", "--delimiter", ",", NULL};
    run_neuron(&r, c);
    cr_expect_eq(r.status, 3, "%s", r.err);
    cr_expect(strstr(r.err, "d.tsv:1: 1 column"), "%s", r.err);
    run_free(&r);
    /* the library's defaults do the same */
    nr_load_opts lo;
    nr_load_defaults(&lo);
    nr_dataset *ds = NULL;
    nr_error e;
    cr_assert_eq(nr_dataset_load(tsv, &lo, &ds, &e), NR_OK, "%s", e.msg);
    cr_expect_eq(nr_dataset_view(ds)->features, 2);
    cr_expect_eq(nr_dataset_view(ds)->rows, 50);
    nr_dataset_free(ds);
    free(tsv);
    free(dir);
}

Test(cli_files, predictions_to_npy_are_a_vector) {
    char *dir = scratch_dir();
    char *data = gen(dir, "d.npy", "1000", "3");
    char *model = path_in(dir, "m.json"), *pred = path_in(dir, "p.npy");
    const char *t[] = {"train", "--data", data, "--algo", "ols", "--model", model, NULL};
    const char *p[] = {"predict", "--model", model, "--data", data, "--out", pred, NULL};
    run_result r;
    run_ok(&r, t);
    run_free(&r);
    run_ok(&r, p);
    run_free(&r);
    const char *s[] = {"predict", "--model", model, "--data", data, NULL};
    run_ok(&r, s);
    size_t len;
    char *npy = read_file(pred, &len);
    cr_assert(npy && len > 10 && !memcmp(npy, "\x93NUMPY\x01\x00", 8));
    const size_t hl = (size_t)(unsigned char)npy[8] | (size_t)(unsigned char)npy[9] << 8;
    cr_assert(strstr(npy + 10, "'shape': (1000,)"), "header: %.*s", (int)hl, npy + 10);
    cr_assert(strstr(npy + 10, "'descr': '<f8'"));
    cr_assert_eq(len, 10 + hl + 1000 * sizeof(double), "file holds exactly 1000 doubles");
    /* the same numbers, bit for bit, as predict prints on stdout */
    const char *line = r.out;
    for (size_t i = 0; i < 1000; i++) {
        double v, printed;
        memcpy(&v, npy + 10 + hl + i * sizeof v, sizeof v);
        cr_assert(sscanf(line, "%lf", &printed) == 1);
        cr_assert(v == printed, "row %zu: %.17g in the file, %.17g printed", i, v, printed);
        line = strchr(line, '\n') + 1;
    }
    run_free(&r);
    free(npy);
    free(pred);
    free(model);
    free(data);
    free(dir);
}

/* The history says what each column holds; its first line is the loss of
 * the starting model (zero weights: the mean of y^2), not after epoch 1. */
Test(cli_files, history_columns_are_named_for_what_they_hold) {
    char *dir = scratch_dir();
    char *data = gen(dir, "d.npy", "3000", "2");
    char *hist = path_in(dir, "h.csv");
    nr_dataset *ds = NULL;
    nr_error e;
    cr_assert_eq(nr_dataset_load(data, NULL, &ds, &e), NR_OK, "%s", e.msg);
    const nr_data *d = nr_dataset_view(ds);
    long double ysq = 0;
    for (size_t i = 0; i < d->rows; i++) {
        const double y = ((const float *)d->values)[i * 3 + 2];
        ysq += (long double)y * y;
    }
    const double start_mse = (double)(ysq / d->rows);
    nr_dataset_free(ds);
    struct {
        const char *args[8];
        const char *header;
    } cases[] = {
        {{"--algo", "batch", NULL}, "epoch,loss_before,epoch_seconds\n"},
        {{"--algo", "sgd", NULL}, "epoch,loss_before,epoch_seconds\n"},
        {{"--algo", "batch", "--val-split", "0.25", NULL},
         "epoch,loss_before,val_loss_before,epoch_seconds\n"},
        {{"--algo", "minibatch", "--batch", "500", NULL}, "epoch,batch_loss_mean,epoch_seconds\n"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *argv[16] = {"train",    "--data", data,        "--quiet",
                                "--epochs", "4",      "--history", hist};
        size_t n = 8;
        for (size_t k = 0; cases[c].args[k]; k++) argv[n++] = cases[c].args[k];
        argv[n] = NULL;
        run_result r;
        run_neuron(&r, argv);
        cr_assert_eq(r.status, 0, "case %zu: %s", c, r.err);
        run_free(&r);
        char *h = read_file(hist, NULL);
        cr_assert(h);
        const size_t hl = strlen(cases[c].header);
        cr_expect(!strncmp(h, cases[c].header, hl), "case %zu: header %.60s", c, h);
        cr_expect_eq(count_lines(h), 5, "case %zu: one line per epoch", c);
        double first;
        if (strncmp(cases[c].args[1], "minibatch", 9) && sscanf(h + hl, "1,%lf", &first) == 1 &&
            !strstr(cases[c].header, "val_"))
            /* f32 values summed in double: agree to ~1e-12, far from epoch 2's loss */
            cr_expect(fabs(first - start_mse) <= 1e-9 * start_mse,
                      "case %zu: line 1 holds %.17g, the start model's MSE is %.17g", c, first,
                      start_mse);
        free(h);
    }
    free(hist);
    free(data);
    free(dir);
}
