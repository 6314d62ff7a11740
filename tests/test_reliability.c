/* Reliability: every bad input of tests/bad/manifest.txt through the CLI,
 * interruption by signals while training, and the limits (one row, 4096
 * features, more threads than cores, sizes beyond 32 bits). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "neuron.h"
#include "util.h"

/* ------------------------------------------------------------ helpers -- */

static void join(char *buf, size_t size, const char *dir, const char *name) {
    const int n = snprintf(buf, size, "%s/%s", dir, name);
    cr_assert(n >= 0 && (size_t)n < size, "path too long: %s/%s", dir, name);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void remove_dir(const char *dir) {
    char names[8192];
    dir_entries(dir, names, sizeof names);
    for (char *p = names, *comma; *p; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char path[4096];
        join(path, sizeof path, dir, p);
        unlink(path);
        if (!comma) break;
    }
    rmdir(dir);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The report of a run as JSON (the test fails if it is not). */
static json_t *read_json(const char *path) {
    char *text = read_file(path, NULL);
    cr_assert(text, "%s is missing", path);
    json_t *j = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j, "%s is not JSON: %s", path, text);
    free(text);
    return j;
}

static void sleep_seconds(double s) {
    struct timespec t = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* ---------------------------------------------------------- bad input -- */

typedef struct {
    int line;
    char file[256], command[512], fragment[512];
    int exit_code;
} bad_case;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = '\0';
    return s;
}

/* Parse tests/bad/manifest.txt: FILE | COMMAND [ARGS] | EXIT | FRAGMENT. */
static size_t read_manifest(bad_case *cases, size_t max) {
    char *path = source_path("tests/bad/manifest.txt");
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    free(path);
    char line[2048];
    size_t n = 0;
    for (int no = 1; fgets(line, sizeof line, f); no++) {
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *field[4];
        int k = 0;
        for (char *p = s; k < 4; k++) {
            field[k] = p;
            char *bar = k < 3 ? strstr(p, " | ") : NULL;
            if (k < 3 && !bar) break;
            if (bar) *bar = '\0', p = bar + 3;
        }
        cr_assert_eq(k, 4, "manifest.txt:%d: expected FILE | COMMAND | EXIT | FRAGMENT", no);
        cr_assert_lt(n, max, "manifest.txt: too many cases");
        bad_case *c = &cases[n++];
        c->line = no;
        snprintf(c->file, sizeof c->file, "%s", trim(field[0]));
        snprintf(c->command, sizeof c->command, "%s", trim(field[1]));
        c->exit_code = atoi(trim(field[2]));
        snprintf(c->fragment, sizeof c->fragment, "%s", trim(field[3]));
        cr_assert(c->exit_code > 0 && *c->fragment, "manifest.txt:%d: bad exit code or fragment",
                  no);
    }
    fclose(f);
    return n;
}

/* Run one case in a fresh scratch folder; every check is an expectation, so
 * that one run reports every case that misbehaves. */
static void run_bad_case(const bad_case *c) {
    char *dir = scratch_dir();
    char cmd[512], file[4096], model[4096], report[4096], hist[4096], out[4096];
    snprintf(cmd, sizeof cmd, "%s", c->command);
    char *bad = source_path("tests/bad/");
    snprintf(file, sizeof file, "%s%s", bad, c->file);
    char *ok_data = source_path("tests/bad/ok_data.csv");
    char *ok_model = source_path("tests/bad/ok_model.json");
    join(model, sizeof model, dir, "m.json");
    join(report, sizeof report, dir, "r.json");
    join(hist, sizeof hist, dir, "h.csv");
    join(out, sizeof out, dir, "p.csv");

    const char *args[64];
    size_t n = 0;
    char *save = NULL, *verb = strtok_r(cmd, " ", &save);
    cr_assert(verb, "manifest.txt:%d: no command", c->line);
    args[n++] = verb;
    const bool is_model = ends_with(c->file, ".json");
    if (!strcmp(verb, "train")) {
        cr_assert(!is_model, "manifest.txt:%d: train takes data, not a model", c->line);
        const char *t[] = {"--data",    file, "--model", model,      "--report", report,
                           "--history", hist, "--quiet", "--epochs", "2"};
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) args[n++] = t[k];
    } else if (!strcmp(verb, "predict") || !strcmp(verb, "eval")) {
        args[n++] = "--model";
        args[n++] = is_model ? file : ok_model;
        args[n++] = "--data";
        args[n++] = is_model ? ok_data : file;
        if (!strcmp(verb, "predict")) {
            args[n++] = "--out";
            args[n++] = out;
        }
    } else {
        cr_assert_fail("manifest.txt:%d: unknown command '%s'", c->line, verb);
    }
    for (char *a; (a = strtok_r(NULL, " ", &save)) && n < 62;) args[n++] = a;
    args[n] = NULL;

    run_result r;
    run_neuron(&r, args);
    const char *where = c->file;
    cr_expect_eq(r.status, c->exit_code,
                 "manifest.txt:%d (%s %s): exit %d, expected %d; stderr: %s", c->line, where,
                 c->command, r.status, c->exit_code, r.err);
    const char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "manifest.txt:%d (%s): stderr is not exactly one line: '%s'",
              c->line, where, r.err);
    cr_expect(!strncmp(r.err, "neuron: error: ", 15),
              "manifest.txt:%d (%s): stderr does not start with 'neuron: error: ': '%s'", c->line,
              where, r.err);
    cr_expect(strstr(r.err, c->fragment), "manifest.txt:%d (%s): stderr '%s' lacks '%s'", c->line,
              where, r.err, c->fragment);
    cr_expect(strstr(r.err, c->file), "manifest.txt:%d: stderr '%s' does not name the file %s",
              c->line, r.err, c->file);
    cr_expect_eq(r.out_len, 0, "manifest.txt:%d (%s): stdout is not empty: %s", c->line, where,
                 r.out);
    char names[1024];
    size_t left = dir_entries(dir, names, sizeof names);
    cr_expect_eq(left, 0, "manifest.txt:%d (%s %s): files left behind: %s", c->line, where,
                 c->command, names);
    run_free(&r);
    remove_dir(dir);
    free(dir);
    free(bad);
    free(ok_data);
    free(ok_model);
}

Test(bad_input, every_manifest_case_fails_cleanly_with_one_line, .timeout = 300) {
    static bad_case cases[256];
    size_t n = read_manifest(cases, 256);
    cr_assert_geq(n, 40, "manifest.txt holds only %zu cases", n);
    for (size_t i = 0; i < n; i++) run_bad_case(&cases[i]);
}

/* Every file of tests/bad is used by the manifest, and every file the
 * manifest names exists (a typo would make a case test nothing). */
Test(bad_input, manifest_and_folder_agree) {
    static bad_case cases[256];
    size_t n = read_manifest(cases, 256);
    char *dir = source_path("tests/bad");
    char names[16384];
    size_t count = dir_entries(dir, names, sizeof names);
    cr_assert_lt(strlen(names), sizeof names - 1, "listing truncated");
    size_t seen = 0;
    for (char *p = names, *comma; *p; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (strcmp(p, "manifest.txt") && strcmp(p, "make_bad.py") && strcmp(p, "ok_model.json")) {
            bool used = false;
            for (size_t i = 0; i < n && !used; i++) used = !strcmp(cases[i].file, p);
            cr_expect(used, "tests/bad/%s is not used by manifest.txt", p);
        }
        seen++;
        if (!comma) break;
    }
    cr_assert_eq(seen, count);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        join(path, sizeof path, dir, cases[i].file);
        cr_expect(file_exists(path), "manifest.txt:%d: %s does not exist", cases[i].line, path);
    }
    free(dir);
}

/* The good partners of the bad files do work: the failures above are the
 * bad files' doing. */
Test(bad_input, good_partners_work) {
    char *data = source_path("tests/bad/ok_data.csv");
    char *model = source_path("tests/bad/ok_model.json");
    run_result r;
    const char *e[] = {"eval", "--model", model, "--data", data, NULL};
    run_neuron(&r, e);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_loads(r.out, JSON_DECODE_INT_AS_REAL, NULL);
    cr_assert(j && json_number_value(json_object_get(j, "n")) == 6, "%s", r.out);
    /* rows (0.5i, 1 - 0.25i, 2i + 1), model 0.5 x1 - 1.25 x2 + 0.75:
     * residual 0.25i - 1.25 + 0.3125i + 0.75 - 2i - 1 = -1.4375i - 1.5 */
    double mse = 0;
    for (int i = 0; i < 6; i++) mse += pow(-1.4375 * i - 1.5, 2) / 6;
    cr_assert(fabs(json_number_value(json_object_get(j, "mse")) - mse) < 1e-12 * mse, "%s", r.out);
    json_decref(j);
    run_free(&r);
    char *dir = scratch_dir();
    char m[4096];
    join(m, sizeof m, dir, "m.json");
    const char *t[] = {"train", "--data", data, "--epochs", "2", "--model", m, NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(file_exists(m));
    run_free(&r);
    remove_dir(dir);
    free(dir);
    free(data);
    free(model);
}

/* ------------------------------------------------------- interruption -- */

/* Wait until the process has the data file mapped (it has loaded the data
 * and is about to train), then a little more; false if it never does. */
static bool wait_until_training(int pid, const char *data_name, double timeout) {
    char maps[64];
    snprintf(maps, sizeof maps, "/proc/%d/maps", pid);
    for (double t = 0; t < timeout; t += 0.02) {
        char *m = read_file(maps, NULL);
        bool mapped = m && strstr(m, data_name);
        free(m);
        if (mapped) {
            sleep_seconds(0.3);
            return true;
        }
        sleep_seconds(0.02);
    }
    return false;
}

/* A data set of 2 million rows: an epoch takes milliseconds. */
static void make_big_data(const char *dir, char *data, size_t size) {
    join(data, size, dir, "big.npy");
    run_result r;
    const char *g[] = {"gen", "--rows", "2000000", "--out", data, NULL};
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
}

/* A long training run: its data and outputs in `dir`, its stdout and
 * stderr in `logdir`, both fresh folders. */
typedef struct {
    char *dir, *logdir;
    char data[4096], model[4096], report[4096], hist[4096], out[4096], err[4096];
} train_files;

static int start_long_training(train_files *f) {
    char *dir = f->dir = scratch_dir(), *logdir = f->logdir = scratch_dir();
    make_big_data(dir, f->data, sizeof f->data);
    join(f->model, sizeof f->model, dir, "m.json");
    join(f->report, sizeof f->report, dir, "r.json");
    join(f->hist, sizeof f->hist, dir, "h.csv");
    join(f->out, sizeof f->out, logdir, "stdout");
    join(f->err, sizeof f->err, logdir, "stderr");
    const char *t[] = {"train",     "--data",    f->data,  "--algo",   "batch",   "--epochs",
                       "100000000", "--model",   f->model, "--report", f->report, "--history",
                       f->hist,     "--threads", "2",      NULL};
    int pid = start_neuron(t, f->out, f->err);
    cr_assert(wait_until_training(pid, "big.npy", 60), "neuron train did not start");
    return pid;
}

/* No temporary file is left: the folder holds exactly the expected files. */
static void expect_only(const char *dir, const char *const *allowed, size_t n_allowed) {
    char names[4096];
    dir_entries(dir, names, sizeof names);
    for (char *p = names, *comma; *p; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma) *comma = '\0';
        bool ok = false;
        for (size_t i = 0; i < n_allowed && !ok; i++) ok = !strcmp(p, allowed[i]);
        cr_expect(ok, "unexpected file left in %s: %s", dir, p);
        if (!comma) break;
    }
}

/* After a long training run: its folder holds exactly `allowed` (no
 * temporary file), then both folders go. */
static void end_long_training(train_files *f, const char *const *allowed, size_t n_allowed) {
    expect_only(f->dir, allowed, n_allowed);
    remove_dir(f->dir);
    remove_dir(f->logdir);
    free(f->dir);
    free(f->logdir);
}

static void first_signal_finishes_the_epoch(int sig) {
    train_files f;
    int pid = start_long_training(&f);
    cr_assert_eq(kill(pid, sig), 0);
    int status = wait_neuron(pid, 60);
    char *err = read_file(f.err, NULL);
    cr_assert_eq(status, 130, "exit %d after signal %d; stderr: %s", status, sig, err);
    free(err);
    /* the outputs are there, complete, and say why training stopped */
    json_t *rep = read_json(f.report);
    const json_t *why = json_object_get(rep, "stop_reason");
    cr_assert(json_is_string(why) && !strcmp(json_string_value(why), "interrupted"),
              "stop_reason is not \"interrupted\"");
    double epochs = json_number_value(json_object_get(rep, "epochs_run"));
    cr_assert(epochs >= 1 && epochs < 1e8, "epochs_run %g", epochs);
    json_decref(rep);
    nr_model m;
    nr_error e;
    cr_assert_eq(nr_model_load(f.model, &m, &e), NR_OK, "%s", e.msg);
    cr_assert_eq(m.features, 1);
    nr_model_free(&m);
    char *h = read_file(f.hist, NULL);
    cr_assert(h, "history missing");
    cr_assert_eq(count_lines(h), (size_t)epochs + 1, "history has one line per epoch run");
    free(h);
    /* stdout got the report too */
    json_t *out = read_json(f.out);
    json_decref(out);
    const char *allowed[] = {"big.npy", "m.json", "r.json", "h.csv"};
    end_long_training(&f, allowed, 4);
}

Test(interrupt, sigint_finishes_the_epoch_and_writes_the_outputs, .timeout = 120) {
    first_signal_finishes_the_epoch(SIGINT);
}

Test(interrupt, sigterm_is_handled_like_sigint, .timeout = 120) {
    first_signal_finishes_the_epoch(SIGTERM);
}

/* Two signals: exit 130 at once or after the outputs, never a partial or a
 * temporary file. The delay between the two varies, so that some runs catch
 * the outputs being written. */
Test(interrupt, two_signals_leave_complete_files_or_none, .timeout = 180) {
    const double gaps[] = {0, 0.002, 0.02};
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        train_files f;
        int pid = start_long_training(&f);
        cr_assert_eq(kill(pid, SIGINT), 0);
        if (gaps[g] > 0) sleep_seconds(gaps[g]);
        kill(pid, g == 1 ? SIGTERM : SIGINT); /* may have exited already */
        int status = wait_neuron(pid, 60);
        cr_assert_eq(status, 130, "gap %g s: exit %d", gaps[g], status);
        if (file_exists(f.report)) {
            json_t *j = read_json(f.report);
            json_decref(j);
        }
        if (file_exists(f.model)) {
            nr_model m;
            nr_error e;
            cr_assert_eq(nr_model_load(f.model, &m, &e), NR_OK, "partial model: %s", e.msg);
            nr_model_free(&m);
        }
        if (file_exists(f.hist)) {
            size_t len;
            char *h = read_file(f.hist, &len);
            cr_assert(len > 0 && h[len - 1] == '\n', "partial history");
            free(h);
        }
        const char *allowed[] = {"big.npy", "m.json", "r.json", "h.csv"};
        end_long_training(&f, allowed, 4);
    }
}

/* ------------------------------------------------------------- limits -- */

/* Train on `data` with `args` (after --data FILE --report R), expect exit 0,
 * return the report. */
static json_t *train_report(const char *dir, const char *data, const char *const *extra) {
    char report[4096];
    join(report, sizeof report, dir, "limits-report.json");
    const char *args[64] = {"train", "--data", data, "--report", report, "--quiet"};
    size_t n = 6;
    for (size_t k = 0; extra[k]; k++) args[n++] = extra[k];
    args[n] = NULL;
    run_result r;
    run_neuron(&r, args);
    cr_assert_eq(r.status, 0, "train %s %s: exit %d: %s", data, extra[0], r.status, r.err);
    run_free(&r);
    json_t *j = read_json(report);
    unlink(report);
    return j;
}

static double weight(const json_t *rep, int k) {
    return json_number_value(json_array_get(json_object_get(rep, "weights"), k));
}

/* One row (x = 1.5, y = 2): one epoch from zeros, by hand. The residual is
 * -2; batch: w = -0.1 * 2 * (-2) * 1.5 = 0.6, b = 0.4; sgd with lr 0.001:
 * w = 0.006, b = 0.004; minibatch of 4096 rows holds the one row: batch. */
Test(limits, one_row_trains_with_each_algorithm_or_says_why_not) {
    char *dir = scratch_dir();
    char data[4096];
    join(data, sizeof data, dir, "one.csv");
    FILE *f = fopen(data, "w");
    fputs("1.5,2\n", f);
    fclose(f);
    struct {
        const char *algo;
        double w, b;
    } want[] = {{"batch", 0.6, 0.4}, {"minibatch", 0.6, 0.4}, {"sgd", 0.006, 0.004}};
    for (size_t k = 0; k < 3; k++) {
        const char *extra[] = {"--algo", want[k].algo, "--epochs", "1", NULL};
        json_t *rep = train_report(dir, data, extra);
        cr_expect(fabs(weight(rep, 0) - want[k].w) < 1e-12 &&
                      fabs(json_number_value(json_object_get(rep, "bias")) - want[k].b) < 1e-12,
                  "%s: w %.17g b %.17g", want[k].algo, weight(rep, 0),
                  json_number_value(json_object_get(rep, "bias")));
        cr_expect_eq(json_number_value(json_object_get(rep, "rows")), 1);
        json_decref(rep);
    }
    /* --standardize and --val-split on one row still train */
    const char *std[] = {"--algo",        "batch",       "--epochs", "3",
                         "--standardize", "--val-split", "0.5",      NULL};
    json_t *rep = train_report(dir, data, std);
    cr_expect(isfinite(weight(rep, 0)));
    json_decref(rep);
    /* least squares cannot fit a line through one point: a clear error */
    run_result r;
    const char *ols[] = {"train", "--data", data, "--algo", "ols", NULL};
    run_neuron(&r, ols);
    cr_expect_eq(r.status, 3, "ols on one row: exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "neuron: error: ") == r.err && strstr(r.err, "no unique solution") &&
                  count_lines(r.err) == 1,
              "%s", r.err);
    run_free(&r);
    remove_dir(dir);
    free(dir);
}

/* 4096 features: gen and train, in .npy (1000 rows, f32) and in CSV (a few
 * rows: a CSV line of 4097 fields). Batch GD must lower the loss. */
Test(limits, four_thousand_features_in_npy_and_csv, .timeout = 120) {
    char *dir = scratch_dir();
    char npy[4096], csv[4096];
    join(npy, sizeof npy, dir, "wide.npy");
    join(csv, sizeof csv, dir, "wide.csv");
    run_result r;
    const char *g1[] = {"gen",     "--rows", "1000",  "--features", "4096",
                        "--dtype", "f32",    "--out", npy,          NULL};
    run_neuron(&r, g1);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *g2[] = {"gen", "--rows", "20", "--features", "4096", "--out", csv, NULL};
    run_neuron(&r, g2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *paths[] = {npy, csv};
    for (int k = 0; k < 2; k++) {
        char hist[4096];
        join(hist, sizeof hist, dir, "h.csv");
        const char *extra[] = {"--algo", "batch",     "--epochs", "3", "--lr",
                               "0.001",  "--history", hist,       NULL};
        json_t *rep = train_report(dir, paths[k], extra);
        cr_assert_eq(json_number_value(json_object_get(rep, "features")), 4096, "%s", paths[k]);
        cr_assert_eq(json_array_size(json_object_get(rep, "weights")), 4096);
        double final = json_number_value(json_object_get(rep, "train_loss"));
        json_decref(rep);
        /* epoch 1's loss is at zero weights; the final loss must be lower */
        char *h = read_file(hist, NULL);
        double first = NAN;
        cr_assert(sscanf(h, "epoch,loss_before,epoch_seconds\n1,%lf", &first) == 1, "%s", h);
        cr_expect(final < first, "%s: loss %g after 3 epochs, %g at zero", paths[k], final, first);
        free(h);
        unlink(hist);
    }
    remove_dir(dir);
    free(dir);
}

/* More threads than cores: works, and gives the same bits as one thread. */
Test(limits, sixty_four_threads_on_any_machine_give_the_bits_of_one, .timeout = 120) {
    char *dir = scratch_dir();
    char data[4096];
    join(data, sizeof data, dir, "d.npy");
    run_result r;
    const char *g[] = {"gen", "--rows", "100003", "--features", "3", "--out", data, NULL};
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *algos[] = {"batch", "minibatch", "sgd"};
    for (int a = 0; a < 3; a++) {
        json_t *rep[2];
        const char *threads[] = {"1", "64"};
        for (int t = 0; t < 2; t++) {
            /* --batch and --shuffle only where they apply (others: exit 2) */
            const bool mb = !strcmp(algos[a], "minibatch");
            const char *extra[] = {"--algo",
                                   algos[a],
                                   "--epochs",
                                   "3",
                                   "--threads",
                                   threads[t],
                                   mb ? "--batch" : NULL,
                                   "1000",
                                   "--shuffle",
                                   "samples",
                                   NULL};
            rep[t] = train_report(dir, data, extra);
        }
        char *w1 = json_dumps(json_object_get(rep[0], "weights"), JSON_REAL_PRECISION(17));
        char *w64 = json_dumps(json_object_get(rep[1], "weights"), JSON_REAL_PRECISION(17));
        cr_expect_str_eq(w1, w64, "%s: weights differ with 64 threads", algos[a]);
        cr_expect_eq(json_number_value(json_object_get(rep[0], "bias")),
                     json_number_value(json_object_get(rep[1], "bias")), "%s: bias", algos[a]);
        /* and training moved the weights towards gen's true ones (1, 2, 3) */
        cr_expect(weight(rep[1], 2) > 0.3 && weight(rep[1], 2) < 3.5, "%s: w3 = %g", algos[a],
                  weight(rep[1], 2));
        free(w1);
        free(w64);
        json_decref(rep[0]);
        json_decref(rep[1]);
    }
    remove_dir(dir);
    free(dir);
}

/* Sizes past 32 bits: a header that announces more than 4 GiB of data on a
 * small file is refused with the exact byte counts (no wrap-around), through
 * the library; the CLI side is in manifest.txt (npy_shape_over_4gib.npy). */
Test(limits, npy_sizes_beyond_4_gib_are_computed_in_64_bits) {
    char *dir = scratch_dir();
    char path[4096];
    join(path, sizeof path, dir, "big.npy");
    /* 2^31 + 1 rows x 2 f8 columns: 34359738384 bytes announced */
    const char dict[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483649, 2), }";
    char header[128];
    memset(header, ' ', sizeof header);
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = (char)(sizeof header - 10);
    header[9] = 0;
    memcpy(header + 10, dict, sizeof dict - 1);
    header[sizeof header - 1] = '\n';
    FILE *f = fopen(path, "wb");
    fwrite(header, 1, sizeof header, f);
    double zeros[4] = {0};
    fwrite(zeros, 1, sizeof zeros, f);
    fclose(f);
    nr_dataset *ds = NULL;
    nr_error err = {{0}};
    cr_assert_eq(nr_dataset_load(path, NULL, &ds, &err), NR_ERR_INPUT, "%s", err.msg);
    cr_assert_null(ds);
    cr_assert(strstr(err.msg, "truncated: shape (2147483649, 2) needs 34359738384 bytes of data, "
                              "the file has 32"),
              "%s", err.msg);
    remove_dir(dir);
    free(dir);
}

/* Regression: batch with a samples shuffle dereferenced the minibatch
 * shuffle order, which batch never allocates (SIGSEGV). The CLI now refuses
 * --shuffle with --algo batch (a usage error); the library still takes the
 * option and ignores it: the same bits as without it. */
Test(limits, batch_ignores_shuffle_samples) {
    nr_gen_opts g;
    nr_gen_defaults(&g);
    g.rows = 5000;
    g.features = 2;
    nr_dataset *ds = NULL;
    nr_error err;
    cr_assert_eq(nr_dataset_alloc(g.rows, g.features, g.dtype, &ds, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(nr_gen_fill(&g, nr_dataset_mutable(ds), &err), NR_OK, "%s", err.msg);
    double w[2][3];
    for (int k = 0; k < 2; k++) {
        nr_train_opts o;
        nr_train_defaults(&o);
        o.algo = NR_ALGO_BATCH;
        o.epochs = 4;
        o.shuffle = k ? NR_SHUFFLE_SAMPLES : NR_SHUFFLE_NONE;
        nr_model m;
        nr_train_result r;
        cr_assert_eq(nr_model_init(&m, 2, &err), NR_OK);
        cr_assert_eq(nr_train(nr_dataset_view(ds), &o, &m, &r, &err), NR_OK, "%s", err.msg);
        w[k][0] = m.weights[0], w[k][1] = m.weights[1], w[k][2] = m.bias;
        nr_train_result_free(&r);
        nr_model_free(&m);
    }
    cr_expect(!memcmp(w[0], w[1], sizeof w[0]), "batch weights changed with the shuffle");
    nr_dataset_free(ds);
}

/* Regression: .npy headers that end in the middle of a value were read past
 * their end (strtoull on a shape's last digits, the value after a final
 * 'descr':, strncmp on "Fal"). Each header is the whole buffer here, in an
 * exact-size allocation, so AddressSanitizer (scripts/test) sees any read
 * past it; the verdict must be a one-line refusal. */
Test(npy_parse, headers_cut_short_are_refused_without_reading_past_them) {
    const char *cut[] = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (6, 3",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (6",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (",
        "{'descr': '<f8', 'fortran_order': False, 'shape':",
        "{'descr': '<f8', 'fortran_order': Fal",
        "{'shape': (6, 3), 'fortran_order': False, 'descr': '<f8",
        "{'shape': (6, 3), 'fortran_order': False, 'descr':",
        "{'shape': (6, 3), 'descr': '<f8', 'fortran_order': Tr",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551616",
    };
    for (size_t k = 0; k < sizeof cut / sizeof cut[0]; k++) {
        size_t hl = strlen(cut[k]), size = 10 + hl;
        unsigned char *b = malloc(size);
        memcpy(b, "\x93NUMPY\x01\x00", 8);
        b[8] = (unsigned char)(hl & 0xff);
        b[9] = (unsigned char)(hl >> 8);
        memcpy(b + 10, cut[k], hl);
        npy_info info;
        size_t off = 0;
        nr_error err = {{0}};
        nr_status s = nr_npy_parse("cut.npy", b, size, &info, &off, &err);
        cr_expect_eq(s, NR_ERR_INPUT, "%s: accepted", cut[k]);
        cr_expect(strstr(err.msg, "cut.npy: ") == err.msg && !strchr(err.msg, '\n'), "%s: '%s'",
                  cut[k], err.msg);
        free(b);
    }
    /* and a whole header in the same setting is accepted: the data follow */
    const char *whole = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
    size_t hl = strlen(whole), size = 10 + hl + 8;
    unsigned char *b = calloc(1, size);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)hl;
    memcpy(b + 10, whole, hl);
    npy_info info;
    size_t off = 0;
    nr_error err = {{0}};
    cr_expect_eq(nr_npy_parse("whole.npy", b, size, &info, &off, &err), NR_OK, "%s", err.msg);
    cr_expect(info.rows == 1 && info.cols == 2 && info.dtype == NR_F32 && off == 10 + hl);
    free(b);
}

/* ------------------------------------------------- issue 13: helpers -- */

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

extern char **environ;

/* The whole of a file, or "" if it cannot be read (malloc'd). */
static char *slurp(const char *path) {
    char *t = read_file(path, NULL);
    return t ? t : strdup("");
}

/* Run neuron with `args`; expect `code`, and one "neuron: error:" line
 * holding every fragment (NULL-terminated). */
static void expect_refusal(const char *const *args, int code, const char *const *frags) {
    run_result r;
    run_neuron(&r, args);
    cr_expect_eq(r.status, code, "%s %s: exit %d, expected %d: %s", args[0], args[1], r.status,
                 code, r.err);
    cr_expect(!strncmp(r.err, "neuron: error: ", 15) && count_lines(r.err) == 1,
              "%s: stderr is not one error line: '%s'", args[0], r.err);
    for (size_t k = 0; frags[k]; k++)
        cr_expect(strstr(r.err, frags[k]), "%s: stderr '%s' lacks '%s'", args[0], r.err, frags[k]);
    run_free(&r);
}

static void gen_file(const char *path, const char *rows) {
    run_result r;
    const char *g[] = {"gen", "--rows", rows, "--features", "2", "--out", path, NULL};
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "gen %s: %s", path, r.err);
    run_free(&r);
}

/* Names in `dir` holding ".tmp." (temporary files left behind). */
static size_t temp_files_in(const char *dir, char *names, size_t size) {
    char all[8192];
    dir_entries(dir, all, sizeof all);
    size_t n = 0, len = 0;
    names[0] = '\0';
    for (char *p = all, *comma; *p; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (strstr(p, ".tmp.")) {
            n++;
            len += (size_t)snprintf(names + len, len < size ? size - len : 0, "%s ", p);
        }
        if (!comma) break;
    }
    return n;
}

/* --------------------------------------- a mapped input that shrinks -- */

/* Wait until `pid` maps a file whose name holds `name`; false on timeout. */
static bool wait_mapped(int pid, const char *name, double timeout) {
    char maps[64];
    snprintf(maps, sizeof maps, "/proc/%d/maps", pid);
    for (double t = 0; t < timeout; t += 0.002) {
        char *m = read_file(maps, NULL);
        bool mapped = m && strstr(m, name);
        free(m);
        if (mapped) return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) return false;
        sleep_seconds(0.002);
    }
    return false;
}

/* Another program truncates the .npy file train has mapped: exit 3 and one
 * line naming the file, never death by SIGBUS; no output, no temp file. */
Test(shrink, npy_truncated_during_training_is_bad_input, .timeout = 120) {
    train_files f;
    int pid = start_long_training(&f);
    cr_assert_eq(truncate(f.data, 1000), 0, "%s", strerror(errno));
    int status = wait_neuron(pid, 60);
    char *err = slurp(f.err);
    cr_assert_eq(status, 3, "exit %d (135 is SIGBUS); stderr: %s", status, err);
    cr_expect(!strncmp(err, "neuron: error: ", 15) && strstr(err, "big.npy: the file shrank") &&
                  count_lines(err) == 1,
              "%s", err);
    free(err);
    const char *allowed[] = {"big.npy"};
    end_long_training(&f, allowed, 1);
}

/* The same while a CSV file is being parsed (one thread, so that the parse
 * of 60 MB lasts long enough to be caught mapped). */
Test(shrink, csv_truncated_while_parsed_is_bad_input, .timeout = 300) {
    char *dir = scratch_dir(), *logdir = scratch_dir();
    char csv[4096], keep[4096], model[4096], out[4096], errp[4096];
    join(csv, sizeof csv, dir, "big.csv");
    join(keep, sizeof keep, logdir, "keep.csv");
    join(model, sizeof model, dir, "m.json");
    join(out, sizeof out, logdir, "stdout");
    join(errp, sizeof errp, logdir, "stderr");
    run_result r;
    const char *g[] = {"gen", "--rows", "1500000", "--features", "3", "--out", keep, NULL};
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    setenv("OMP_NUM_THREADS", "1", 1);
    int caught = 0;
    for (int attempt = 0; attempt < 5 && !caught; attempt++) {
        const char *cp[] = {"cp", keep, csv, NULL};
        run_program(&r, cp);
        cr_assert_eq(r.status, 0);
        run_free(&r);
        const char *t[] = {"train", "--data", csv, "--epochs", "1", "--model", model, NULL};
        int pid = start_neuron(t, out, errp);
        bool mapped = wait_mapped(pid, "big.csv", 30);
        if (mapped) cr_assert_eq(truncate(csv, 100), 0);
        int status = wait_neuron(pid, 120);
        char *err = slurp(errp);
        cr_assert(status == 3 || (status == 0 && !mapped), "attempt %d: exit %d: %s", attempt,
                  status, err);
        if (status == 3) {
            cr_expect(strstr(err, "big.csv: the file shrank") && count_lines(err) == 1, "%s", err);
            cr_expect(!file_exists(model), "a model was written from a file that shrank");
            char names[1024];
            cr_expect_eq(temp_files_in(dir, names, sizeof names), 0, "left: %s", names);
            caught = 1;
        }
        free(err);
        unlink(model);
    }
    cr_expect(caught, "the parse was never caught with the file mapped");
    remove_dir(dir);
    remove_dir(logdir);
    free(dir);
    free(logdir);
}

/* ------------------------------------------------ outputs: all or none -- */

/* An output that is an input (same path, a hard link, a symbolic link) is
 * refused before any work, naming both, and the input keeps its bytes. */
Test(outputs, an_input_is_never_overwritten) {
    char *dir = scratch_dir();
    char npy[4096], csv[4096], hard[4096], soft[4096], model[4096];
    join(npy, sizeof npy, dir, "d.npy");
    join(csv, sizeof csv, dir, "d.csv");
    join(hard, sizeof hard, dir, "hard.npy");
    join(soft, sizeof soft, dir, "soft.csv");
    join(model, sizeof model, dir, "m.json");
    gen_file(npy, "500");
    gen_file(csv, "50");
    cr_assert_eq(link(npy, hard), 0);
    cr_assert_eq(symlink(csv, soft), 0);
    const char *t[] = {"train", "--data", npy, "--model", model, "--quiet", NULL};
    run_result r;
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *npy_before = slurp(npy), *csv_before = slurp(csv);
    size_t npy_len;
    free(read_file(npy, &npy_len));

    const char *t1[] = {"train", "--data", npy, "--model", npy, NULL};
    const char *f1[] = {"--model", "--data", "same file as the input", NULL};
    expect_refusal(t1, 2, f1);
    const char *t2[] = {"train", "--data", npy, "--report", hard, NULL};
    expect_refusal(t2, 2, f1 + 1);
    const char *p1[] = {"predict", "--model", model, "--data", csv, "--out", csv, NULL};
    const char *f2[] = {"--out", "--data", "d.csv", "same file as the input", NULL};
    expect_refusal(p1, 2, f2);
    const char *p2[] = {"predict", "--model", model, "--data", csv, "--out", soft, NULL};
    expect_refusal(p2, 2, f2);
    const char *p3[] = {"predict", "--model", model, "--data", csv, "--out", model, NULL};
    const char *f3[] = {"--out", "--model", "same file as the input", NULL};
    expect_refusal(p3, 2, f3);

    size_t len_after;
    char *npy_after = read_file(npy, &len_after), *csv_after = slurp(csv);
    cr_expect(len_after == npy_len && !memcmp(npy_before, npy_after, npy_len), "d.npy changed");
    cr_expect_str_eq(csv_before, csv_after, "d.csv changed");
    char names[1024];
    cr_expect_eq(temp_files_in(dir, names, sizeof names), 0, "left: %s", names);
    free(npy_before);
    free(npy_after);
    free(csv_before);
    free(csv_after);
    remove_dir(dir);
    free(dir);
}

/* Devices, FIFOs and folders are refused as outputs and stay what they
 * were (a copy of /dev/null made with mknod, when allowed). */
Test(outputs, devices_fifos_and_folders_are_refused, .timeout = 60) {
    char *dir = scratch_dir();
    char data[4096], fifo[4096], sub[4096], dev[4096];
    join(data, sizeof data, dir, "d.npy");
    join(fifo, sizeof fifo, dir, "fifo.json");
    join(sub, sizeof sub, dir, "sub.json");
    join(dev, sizeof dev, dir, "null.json");
    gen_file(data, "200");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(mkdir(sub, 0700), 0);
    const bool have_dev = mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0;
    struct {
        const char *path, *kind;
    } cases[] = {{fifo, "is a FIFO"}, {sub, "is a directory"}, {dev, "is a character device"}};
    for (size_t k = 0; k < 3; k++) {
        if (k == 2 && !have_dev) continue; /* mknod needs privileges */
        const char *t[] = {"train", "--data", data, "--model", cases[k].path, "--quiet", NULL};
        const char *frag[] = {"--model", cases[k].kind, NULL};
        expect_refusal(t, 2, frag);
        struct stat st;
        cr_assert_eq(stat(cases[k].path, &st), 0);
        cr_expect(k == 0   ? S_ISFIFO(st.st_mode)
                  : k == 1 ? S_ISDIR(st.st_mode)
                           : S_ISCHR(st.st_mode),
                  "%s was replaced", cases[k].path);
    }
    char names[1024];
    cr_expect_eq(temp_files_in(dir, names, sizeof names), 0, "left: %s", names);
    rmdir(sub);
    remove_dir(dir);
    free(dir);
}

/* A symbolic link as output is followed: its target gets the model and the
 * link stays a link. A link to nothing is refused. */
Test(outputs, symbolic_links_are_followed_and_dangling_ones_refused) {
    char *dir = scratch_dir();
    char data[4096], target[4096], link_path[4096], dangling[4096];
    join(data, sizeof data, dir, "d.npy");
    join(target, sizeof target, dir, "real.json");
    join(link_path, sizeof link_path, dir, "link.json");
    join(dangling, sizeof dangling, dir, "dangling.json");
    gen_file(data, "200");
    FILE *f = fopen(target, "w");
    fputs("old\n", f);
    fclose(f);
    cr_assert_eq(symlink("real.json", link_path), 0);
    cr_assert_eq(symlink("nowhere.json", dangling), 0);
    run_result r;
    const char *t[] = {"train", "--data", data, "--model", link_path, "--quiet", NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    struct stat st;
    cr_assert_eq(lstat(link_path, &st), 0);
    cr_expect(S_ISLNK(st.st_mode), "the link was replaced by a file");
    nr_model m;
    nr_error e;
    cr_expect_eq(nr_model_load(target, &m, &e), NR_OK, "the link's target: %s", e.msg);
    nr_model_free(&m);
    const char *t2[] = {"train", "--data", data, "--model", dangling, "--quiet", NULL};
    const char *frag[] = {"dangling.json", "symbolic link to a missing", NULL};
    expect_refusal(t2, 2, frag);
    cr_expect(!file_exists(dangling), "the dangling link now points to a file");
    remove_dir(dir);
    free(dir);
}

/* A bad output path fails before the data are read and before training
 * (issue 14: the whole run was lost), and the other outputs keep their old
 * bytes: all or none. */
Test(outputs, a_bad_path_fails_before_training_and_commits_nothing, .timeout = 120) {
    char *dir = scratch_dir();
    char data[4096], keep[4096], bad[4096], same1[4096], same2[4096];
    make_big_data(dir, data, sizeof data);
    join(keep, sizeof keep, dir, "keep.json");
    join(bad, sizeof bad, dir, "nodir/r.json");
    join(same1, sizeof same1, dir, "r.json");
    snprintf(same2, sizeof same2, "%s/./r.json", dir);
    FILE *f = fopen(keep, "w");
    fputs("keep me\n", f);
    fclose(f);
    /* 10^9 epochs: the refusal must come first, or this never ends */
    const char *t[] = {"train", "--data",   data, "--epochs", "1000000000", "--model",
                       keep,    "--report", bad,  "--quiet",  NULL};
    int pid = start_neuron(t, NULL, NULL);
    int status = wait_neuron(pid, 20);
    cr_expect_eq(status, 1, "exit %d (-1: it trained first)", status);
    char *k = slurp(keep);
    cr_expect_str_eq(k, "keep me\n", "keep.json was replaced");
    free(k);
    /* two names for one new file */
    const char *t2[] = {"train", "--data", data, "--model", same1, "--history", same2, NULL};
    const char *frag[] = {"--model", "--history", "are the same file", NULL};
    expect_refusal(t2, 2, frag);
    char names[1024];
    cr_expect_eq(temp_files_in(dir, names, sizeof names), 0, "left: %s", names);
    cr_expect(!file_exists(same1));
    remove_dir(dir);
    free(dir);
}

/* bench --out follows train's rule: refused before any input is read when
 * it is the input or not a regular file, prepared (its temporary file)
 * before the measuring starts, and a bench stopped by a signal leaves
 * nothing behind. */
Test(outputs, bench_out_is_prepared_first_and_left_clean, .timeout = 120) {
    char *dir = scratch_dir();
    char data[4096], fifo[4096], out[4096];
    make_big_data(dir, data, sizeof data);
    join(fifo, sizeof fifo, dir, "fifo.json");
    join(out, sizeof out, dir, "b.json");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *b1[] = {"bench", "--data", data, "--out", data, "--quiet", NULL};
    const char *f1[] = {"--out", "--data", "same file as the input", NULL};
    expect_refusal(b1, 2, f1);
    const char *b2[] = {"bench", "--data", data, "--out", fifo, "--quiet", NULL};
    const char *f2[] = {"--out", "is a FIFO", NULL};
    expect_refusal(b2, 2, f2);
    /* minutes of sgd epochs: the temporary file must exist long before */
    const char *b3[] = {"bench", "--data",     data, "--algos", "sgd", "--threads", "1", "--reps",
                        "1000",  "--min-time", "1",  "--out",   out,   "--quiet",   NULL};
    int pid = start_neuron(b3, NULL, NULL);
    char names[1024];
    bool prepared = false;
    for (double t = 0; t < 20 && !prepared; t += 0.02) {
        prepared = temp_files_in(dir, names, sizeof names) > 0;
        if (!prepared) sleep_seconds(0.02);
    }
    kill(pid, SIGTERM);
    int status = wait_neuron(pid, 30);
    cr_expect(prepared, "bench --out made no temporary file before measuring");
    cr_expect_eq(status, 128 + SIGTERM, "exit %d", status);
    cr_expect_eq(temp_files_in(dir, names, sizeof names), 0, "left: %s", names);
    cr_expect(!file_exists(out), "b.json was written by an interrupted bench");
    unlink(fifo);
    remove_dir(dir);
    free(dir);
}

/* A 250-byte file name is legal (NAME_MAX is 255): the temporary name must
 * fit too. */
Test(outputs, a_250_byte_file_name_can_be_written) {
    char *dir = scratch_dir();
    char data[4096], name[300], model[4096];
    join(data, sizeof data, dir, "d.npy");
    gen_file(data, "100");
    memset(name, 'm', 245);
    strcpy(name + 245, ".json");
    join(model, sizeof model, dir, name);
    run_result r;
    const char *t[] = {"train", "--data", data, "--model", model, "--quiet", NULL};
    run_neuron(&r, t);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(file_exists(model));
    run_free(&r);
    remove_dir(dir);
    free(dir);
}

/* --------------------------------------------------- every write checked -- */

/* stdout on a full device: exit 1 with a message, never 0; train and gen
 * then commit no file (stdout failed before the commit). */
Test(writes, stdout_on_dev_full_fails_for_every_command, .timeout = 60) {
    if (access("/dev/full", W_OK) != 0) cr_skip_test("no /dev/full");
    char *dir = scratch_dir();
    char data[4096], model[4096], model2[4096], gen_out[4096], out[4096], errp[4096];
    join(data, sizeof data, dir, "d.npy");
    join(model, sizeof model, dir, "m.json");
    join(model2, sizeof model2, dir, "m2.json");
    join(gen_out, sizeof gen_out, dir, "g.npy");
    join(errp, sizeof errp, dir, "stderr");
    gen_file(data, "300");
    run_result r;
    const char *t[] = {"train", "--data", data, "--model", model, "--quiet", NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *cmds[][10] = {
        {"train", "--data", data, "--model", model2, "--quiet", NULL},
        {"predict", "--model", model, "--data", data, NULL},
        {"eval", "--model", model, "--data", data, NULL},
        {"gen", "--rows", "10", "--out", gen_out, NULL},
        {"tutorial", "--epochs", "200", NULL},
    };
    snprintf(out, sizeof out, "/dev/full");
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        int pid = start_neuron(cmds[k], out, errp);
        int status = wait_neuron(pid, 30);
        char *err = slurp(errp);
        cr_expect_eq(status, 1, "%s > /dev/full: exit %d: %s", cmds[k][0], status, err);
        cr_expect(strstr(err, "neuron: error: ") && count_lines(err) == 1, "%s: %s", cmds[k][0],
                  err);
        free(err);
    }
    cr_expect(!file_exists(model2), "train committed its model with its report lost");
    cr_expect(!file_exists(gen_out), "gen committed its file with its report lost");
    remove_dir(dir);
    free(dir);
}

/* Start neuron with stdout into a pipe whose reader is gone, SIGPIPE
 * ignored (as under Python or Go parents) or at its default. */
static int run_into_closed_pipe(const char *const *args, bool ignore_pipe, char *err, size_t n) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]); /* no reader */
    char errp[] = "/tmp/neuron-err-XXXXXX";
    int fe = mkstemp(errp);
    const char *argv[32] = {getenv("NEURON_BIN")};
    size_t k = 1;
    for (; args[k - 1]; k++) argv[k] = args[k - 1];
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fe, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ignore_pipe ? SIG_IGN : SIG_DFL;
    sigaction(SIGPIPE, &sa, &old); /* ignored dispositions survive exec */
    if (!ignore_pipe) {
        posix_spawnattr_setsigdefault(&at, &pipe_set);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    sigaction(SIGPIPE, &old, NULL);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fds[1]);
    close(fe);
    cr_assert_eq(rc, 0);
    int status = wait_neuron(pid, 60);
    char *e = slurp(errp);
    snprintf(err, n, "%s", e);
    free(e);
    unlink(errp);
    return status;
}

Test(writes, a_closed_pipe_is_a_failure, .timeout = 60) {
    char *dir = scratch_dir();
    char data[4096], model[4096], err[2048];
    join(data, sizeof data, dir, "d.npy");
    join(model, sizeof model, dir, "m.json");
    gen_file(data, "200000");
    run_result r;
    const char *t[] = {"train", "--data", data, "--model", model, "--quiet", NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *p[] = {"predict", "--model", model, "--data", data, NULL};
    int status = run_into_closed_pipe(p, true, err, sizeof err);
    cr_expect_eq(status, 1, "SIGPIPE ignored: exit %d: %s", status, err);
    cr_expect(strstr(err, "stdout: write failed: Broken pipe") && count_lines(err) == 1, "%s", err);
    status = run_into_closed_pipe(p, false, err, sizeof err);
    cr_expect_eq(status, 128 + SIGPIPE, "SIGPIPE at its default: exit %d: %s", status, err);
    remove_dir(dir);
    free(dir);
}

/* Writes past `ulimit -f` fail with a message and leave no temp file (the
 * default SIGXFSZ would end the process silently, mid-write). */
Test(writes, file_size_limit_is_a_reported_write_error, .timeout = 60) {
    char *dir = scratch_dir();
    char cmd[8192];
    const char *bin = getenv("NEURON_BIN");
    const char *exts[] = {"npy", "csv"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "ulimit -f 64 && exec '%s' gen --rows 100000 --out '%s/g.%s'",
                 bin, dir, exts[k]);
        const char *sh[] = {"sh", "-c", cmd, NULL};
        run_result r;
        run_program(&r, sh);
        cr_expect_eq(r.status, 1, "%s: exit %d (153 is SIGXFSZ): %s", exts[k], r.status, r.err);
        cr_expect(strstr(r.err, "neuron: error: ") && strstr(r.err, "File too large"), "%s", r.err);
        run_free(&r);
        char names[1024];
        cr_expect_eq(dir_entries(dir, names, sizeof names), 0, "left: %s", names);
    }
    remove_dir(dir);
    free(dir);
}

/* -------------------------------------------------------------- signals -- */

/* SIGHUP (a closed terminal) during train: the process ends by it, and
 * neither the outputs nor their temporary files are left. */
Test(signals, sighup_during_training_leaves_no_temporary_file, .timeout = 120) {
    train_files f;
    int pid = start_long_training(&f);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    int status = wait_neuron(pid, 60);
    cr_expect_eq(status, 128 + SIGHUP, "exit %d", status);
    const char *allowed[] = {"big.npy"};
    end_long_training(&f, allowed, 1);
}

/* SIGTERM at moments spread over the start (temp files created, data
 * loaded by OpenMP threads, training): whichever thread takes it, no
 * temporary file survives. */
Test(signals, early_signals_in_any_thread_leave_no_temporary_file, .timeout = 300) {
    char *dir = scratch_dir(), *logdir = scratch_dir();
    char data[4096], model[4096], hist[4096];
    join(data, sizeof data, logdir, "d.npy");
    join(model, sizeof model, dir, "m.json");
    join(hist, sizeof hist, dir, "h.csv");
    gen_file(data, "400000");
    for (int k = 0; k < 16; k++) {
        const char *t[] = {"train", "--data",    data, "--epochs", "5", "--model",
                           model,   "--history", hist, "--quiet",  NULL};
        int pid = start_neuron(t, NULL, NULL);
        sleep_seconds(0.004 * k);
        kill(pid, k % 2 ? SIGTERM : SIGHUP);
        int status = wait_neuron(pid, 60);
        cr_expect(status >= 0, "run %d hung", k);
        char names[1024];
        cr_expect_eq(temp_files_in(dir, names, sizeof names), 0, "run %d (exit %d) left: %s", k,
                     status, names);
        unlink(model);
        unlink(hist);
    }
    remove_dir(dir);
    remove_dir(logdir);
    free(dir);
    free(logdir);
}

/* --------------------------------------------------------------- inputs -- */

/* A FIFO with no writer as --data is refused at once (open() blocked
 * forever), a folder as --model is named a folder, and every open error
 * carries the OS's reason. */
Test(inputs, non_regular_files_are_refused_without_blocking, .timeout = 60) {
    char *dir = scratch_dir();
    char fifo[4096], sub[4096], data[4096], missing[4096];
    join(fifo, sizeof fifo, dir, "pipe.npy");
    join(sub, sizeof sub, dir, "folder.json");
    join(data, sizeof data, dir, "d.npy");
    join(missing, sizeof missing, dir, "missing.json");
    gen_file(data, "100");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(mkdir(sub, 0700), 0);
    const char *t[] = {"train", "--data", fifo, NULL};
    int pid = start_neuron(t, NULL, NULL);
    cr_expect_eq(wait_neuron(pid, 10), 3, "a FIFO as --data");
    const char *t2[] = {"train", "--data", fifo, NULL};
    const char *f1[] = {"pipe.npy: is a FIFO", NULL};
    expect_refusal(t2, 3, f1);
    const char *e[] = {"eval", "--model", sub, "--data", data, NULL};
    const char *f2[] = {"folder.json: is a directory", NULL};
    expect_refusal(e, 3, f2);
    const char *e2[] = {"eval", "--model", missing, "--data", data, NULL};
    const char *f3[] = {"missing.json: cannot open model: No such file or directory", NULL};
    expect_refusal(e2, 3, f3);
    rmdir(sub);
    remove_dir(dir);
    free(dir);
}

/* A UTF-8 byte order mark is not part of the first field: no row is taken
 * for a header, and the first column's name matches --target. */
Test(inputs, a_utf8_bom_is_stripped) {
    char *dir = scratch_dir();
    char plain[4096], named[4096];
    join(plain, sizeof plain, dir, "plain.csv");
    join(named, sizeof named, dir, "named.csv");
    FILE *f = fopen(plain, "wb");
    fputs("\xef\xbb\xbf"
          "1,2\n2,4\n3,6\n",
          f);
    fclose(f);
    f = fopen(named, "wb");
    fputs("\xef\xbb\xbf"
          "y,x\n2,1\n4,2\n6,3\n",
          f);
    fclose(f);
    nr_dataset *ds = NULL;
    nr_error err = {{0}};
    cr_assert_eq(nr_dataset_load(plain, NULL, &ds, &err), NR_OK, "%s", err.msg);
    const nr_data *d = nr_dataset_view(ds);
    cr_expect_eq(d->rows, 3, "a row was taken for a header");
    cr_expect(((const double *)d->values)[0] == 1.0);
    nr_dataset_free(ds);
    nr_load_opts o;
    nr_load_defaults(&o);
    o.target = "y";
    cr_assert_eq(nr_dataset_load(named, &o, &ds, &err), NR_OK, "%s", err.msg);
    d = nr_dataset_view(ds);
    /* y moved last: rows (x, y) = (1, 2) ... */
    cr_expect(d->rows == 3 && ((const double *)d->values)[0] == 1.0 &&
              ((const double *)d->values)[1] == 2.0);
    nr_dataset_free(ds);
    /* and a model saved by an editor that adds one */
    char model[4096];
    join(model, sizeof model, dir, "bom.json");
    f = fopen(model, "wb");
    fputs("\xef\xbb\xbf{\"format\": \"neuron-model\", \"version\": 1, \"features\": 1, "
          "\"weights\": [2], \"bias\": 0.5}\n",
          f);
    fclose(f);
    nr_model m = {0};
    cr_expect_eq(nr_model_load(model, &m, &err), NR_OK, "%s", err.msg);
    cr_expect(m.features == 1 && m.weights && m.weights[0] == 2.0 && m.bias == 0.5);
    nr_model_free(&m);
    remove_dir(dir);
    free(dir);
}

/* Seeds: recorded exactly in the model (2^53 + 1 is not a double), and a
 * blank before a minus sign does not wrap to 2^64 - 1. */
Test(inputs, seeds_are_exact_and_negative_ones_refused) {
    char *dir = scratch_dir();
    char data[4096], model[4096];
    join(data, sizeof data, dir, "d.npy");
    join(model, sizeof model, dir, "m.json");
    gen_file(data, "100");
    run_result r;
    const char *t[] = {"train",  "--data",           data,      "--algo", "minibatch",
                       "--seed", "9007199254740993", "--model", model,    "--quiet",
                       NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *m = slurp(model);
    cr_expect(strstr(m, "\"seed\": 9007199254740993,"), "%s", m);
    free(m);
    /* 2^64 - 1: beyond the JSON library's signed integers, still exact, and
     * the model still loads */
    t[6] = "18446744073709551615";
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    m = slurp(model);
    cr_expect(strstr(m, "\"seed\": 18446744073709551615,"), "%s", m);
    free(m);
    nr_model back = {0};
    nr_error err;
    cr_expect_eq(nr_model_load(model, &back, &err), NR_OK, "%s", err.msg);
    nr_model_free(&back);
    const char *bad[] = {" -1", "-1", "+-1", " 5"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *t2[] = {"train", "--data", data, "--seed", bad[k], NULL};
        const char *frag[] = {"--seed", NULL};
        expect_refusal(t2, 2, frag);
        const char *g[] = {"gen", "--rows", "5", "--out", model, "--seed", bad[k], NULL};
        expect_refusal(g, 2, frag);
    }
    remove_dir(dir);
    free(dir);
}

/* The report is JSON a strict reader takes: counts are integers, other
 * numbers reals (17 digits: they read back to the same bits as the model
 * file's), what is not finite or not there null, and a file name that is
 * not UTF-8 has U+FFFD for its stray byte. */
Test(inputs, reports_are_strict_json_with_integer_counts) {
    char *dir = scratch_dir();
    char data[4096], model[4096];
    join(data, sizeof data, dir, "d\xff.npy");
    join(model, sizeof model, dir, "m.json");
    gen_file(data, "100");
    run_result r;
    const char *t[] = {"train", "--data", data, "--epochs", "3", "--model", model, NULL};
    run_neuron(&r, t);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    cr_assert(j, "report: %d:%d: %s\n%s", e.line, e.column, e.text, r.out);
    const char *path = json_string_value(json_object_get(j, "data")), *tail = "/d\xef\xbf\xbd.npy";
    cr_assert(path && strlen(path) > strlen(tail) &&
                  !strcmp(path + strlen(path) - strlen(tail), tail),
              "data: %s", path ? path : "(none)");
    const char *counts[] = {"threads",  "rows",   "train_rows", "val_rows",
                            "features", "epochs", "epochs_run"};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
        cr_expect(json_is_integer(json_object_get(j, counts[k])), "%s is not an integer",
                  counts[k]);
    cr_expect_eq(json_integer_value(json_object_get(j, "epochs_run")), 3);
    const char *reals[] = {"lr", "bias", "train_loss", "seconds", "l2", "momentum"};
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++)
        cr_expect(json_is_real(json_object_get(j, reals[k])), "%s is not a real", reals[k]);
    cr_expect(json_is_null(json_object_get(j, "val_loss")), "no held-out rows: val_loss null");
    /* the model file's bias, to the bit */
    nr_model m = {0};
    nr_error err;
    cr_assert_eq(nr_model_load(model, &m, &err), NR_OK, "%s", err.msg);
    cr_expect_eq(m.bias, json_real_value(json_object_get(j, "bias")));
    nr_model_free(&m);
    json_decref(j);
    run_free(&r);
    remove_dir(dir);
    free(dir);
}

/* A path far beyond a message's room: the message keeps the file's name
 * and the reason, and loses the path's middle. */
Test(inputs, long_paths_keep_the_reason_in_messages) {
    char path[6000];
    size_t n = 0;
    n += (size_t)snprintf(path, sizeof path, "/nonexistent");
    while (n < 5000) n += (size_t)snprintf(path + n, sizeof path - n, "/%s", "abcdefghij");
    snprintf(path + n, sizeof path - n, "/last-name.csv");
    const char *t[] = {"train", "--data", path, NULL};
    const char *frag[] = {"/nonexistent/abc", "...", "last-name.csv: cannot open: ", NULL};
    expect_refusal(t, 3, frag);
    const char *e[] = {"eval", "--model", path, "--data", path, NULL};
    const char *frag2[] = {"last-name.csv: cannot open model: ", NULL};
    expect_refusal(e, 3, frag2);
}

/* `neuron` alone: the usage, then an error line, exit 2. */
Test(inputs, no_command_is_a_usage_error_with_an_error_line) {
    run_result r;
    const char *none[] = {NULL};
    run_neuron(&r, none);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "usage: neuron"), "%s", r.err);
    const char *last = r.err + r.err_len;
    while (last > r.err && last[-1] == '\n') last--;
    while (last > r.err && last[-1] != '\n') last--;
    cr_expect(!strncmp(last, "neuron: error: no command", 25), "last line: %s", last);
    cr_expect_eq(r.out_len, 0);
    run_free(&r);
}

/* -------------------------------------------------------------- numbers -- */

/* gen refuses parameters whose targets overflow the dtype (a file of Inf
 * that every reader refuses), and accepts them where they fit. */
Test(numbers, gen_refuses_parameters_that_overflow_the_dtype) {
    char *dir = scratch_dir();
    char out[4096];
    join(out, sizeof out, dir, "g.npy");
    const char *g1[] = {"gen", "--rows", "10", "--bias", "1e300", "--out", out, NULL};
    const char *frag[] = {"float32", NULL};
    expect_refusal(g1, 2, frag);
    const char *g2[] = {"gen",    "--rows", "10",    "--weights", "3e38",
                        "--bias", "1e38",   "--out", out,         NULL};
    expect_refusal(g2, 2, frag);
    const char *g3[] = {"gen",         "--rows",  "10",  "--features", "2", "--weights",
                        "1e308,1e308", "--dtype", "f64", "--out",      out, NULL};
    const char *frag64[] = {"float64", NULL};
    expect_refusal(g3, 2, frag64);
    cr_expect(!file_exists(out));
    run_result r;
    const char *g4[] = {"gen",     "--rows", "10",    "--bias", "1e300",
                        "--dtype", "f64",    "--out", out,      NULL};
    run_neuron(&r, g4);
    cr_expect_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    nr_dataset *ds = NULL;
    nr_error e;
    cr_expect_eq(nr_dataset_load(out, NULL, &ds, &e), NR_OK, "%s", e.msg);
    nr_dataset_free(ds);
    remove_dir(dir);
    free(dir);
}

/* Finite predictions whose squared errors overflow: eval has no metric to
 * give, exit 4, never a null or an inf in its JSON. */
Test(numbers, eval_metrics_that_overflow_are_an_error) {
    double rows[] = {1e200, 0, -1e200, 0}; /* x, y: prediction w x = 1e200, error^2 = 1e400 */
    nr_data d = {.rows = 2, .features = 1, .dtype = NR_F64, .values = rows};
    double w = 1;
    nr_model m = {.features = 1, .weights = &w, .bias = 0};
    nr_metrics mt;
    nr_error e = {{0}};
    cr_expect_eq(nr_eval(&m, &d, &mt, &e), NR_ERR_DIVERGED, "%s", e.msg);
    cr_expect(strstr(e.msg, "mean squared error is Inf"), "%s", e.msg);
    double p[2];
    w = 1e300;
    rows[0] = 1e10;
    cr_expect_eq(nr_predict(&m, &d, p, &e), NR_ERR_DIVERGED);
    cr_expect(strstr(e.msg, "row 1: prediction is Inf"), "%s", e.msg);
}

/* Training that ends with a validation loss beyond double (held-out rows of
 * x = 1e200): exit 4 and no report, never "val_loss": null with exit 0. */
Test(numbers, a_final_loss_that_overflows_is_an_error) {
    char *dir = scratch_dir();
    char data[4096], report[4096];
    join(data, sizeof data, dir, "v.csv");
    join(report, sizeof report, dir, "r.json");
    FILE *f = fopen(data, "w");
    fputs("x,y\n", f);
    for (int i = 0; i < 98; i++) fprintf(f, "%g,%g\n", i / 100.0, 2 * i / 100.0 + 1);
    fputs("1e200,1\n1e200,1\n", f);
    fclose(f);
    const char *t[] = {"train", "--data",   data,   "--val-split", "0.02", "--epochs",
                       "5",     "--report", report, "--quiet",     NULL};
    const char *frag[] = {"validation loss is Inf", NULL};
    expect_refusal(t, 4, frag);
    cr_expect(!file_exists(report));
    remove_dir(dir);
    free(dir);
}
