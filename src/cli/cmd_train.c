/* neuron train | predict | eval: parse, load, call the library, write the
 * results (model, report, history, predictions) atomically. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io.h"

static void train_usage(FILE *f) {
    fputs(
        "usage: neuron train --data FILE [options]\n"
        "\n"
        "Train a linear neuron y = w.x + b on FILE (.npy or .csv; target = last column).\n"
        "Prints the report as JSON on stdout.\n"
        "\n"
        "options:\n"
        "  --algo sgd|batch|minibatch|ols  algorithm (batch)\n"
        "  --epochs E         passes over the data, in [1, 10^9] (100)\n"
        "  --lr LR            learning rate, a finite number > 0 (batch/minibatch 0.1, sgd 0.001)\n"
        "  --batch B          minibatch rows, >= 1 (4096)\n"
        "  --shuffle none|batches|samples  minibatch order per epoch (batches)\n"
        "  --threads T        OpenMP threads, in [1, 1024] (all cores)\n"
        "  --dtype f32|f64    train on values of this type (the file's)\n"
        "  --seed S           seed of the shuffles, in [0, 2^64) (42)\n"
        "  --standardize      train on standardized features (model is on raw ones)\n"
        "  --val-split F      hold out the last fraction F in [0, 1) for validation (0)\n"
        "  --tol T            stop when the loss improves by <= T for --patience epochs\n"
        "  --patience P       epochs without improvement before stopping, >= 1 (5)\n"
        "  --exact            batch: epochs from one pass of statistics, O(d^2) each;\n"
        "                     sgd: one epoch of the per-sample rule (data order) built\n"
        "                     once as an affine map (O(n d^2)), then O(d^2) per epoch\n"
        "  --kernel auto|scalar|avx2  force a kernel (auto)\n"
        "  --model OUT.json   write the trained model\n"
        "  --report OUT.json  write the report\n"
        "  --history OUT.csv  write epoch,loss[,val_loss],seconds\n"
        "  --target NAME|I    target column (CSV name or 0-based index; last)\n"
        "  --delimiter C      CSV delimiter (,)\n"
        "  --header | --no-header  CSV first line is / is not a header (detected)\n"
        "  --quiet            no progress on stderr\n"
        "\n"
        "A first Ctrl-C finishes the current epoch, writes the outputs and exits 130;\n"
        "a second one stops at once, leaving no partial file. ols (and the one pass of\n"
        "--exact) has no epoch to finish: a first Ctrl-C stops it, nothing written.\n",
        f);
}

/* Load options shared by train, predict, eval and bench. */
bool cli_load_option(cli_args *a, nr_load_opts *lo, bool *ok) {
    int c;
    if (cli_is(a, "--target")) {
        *ok = (lo->target = cli_value(a)) != NULL;
    } else if (cli_is(a, "--delimiter")) {
        const char *v = cli_value(a);
        *ok = v != NULL;
        if (v && (strlen(v) != 1 && strcmp(v, "\\t") != 0)) {
            cli_error("%s --delimiter: invalid value '%s': expected one character", a->cmd, v);
            *ok = false;
        }
        if (*ok) lo->delimiter = strcmp(v, "\\t") == 0 ? '\t' : v[0];
    } else if (cli_is(a, "--header")) {
        lo->header = NR_HEADER_YES;
        *ok = true;
    } else if (cli_is(a, "--no-header")) {
        lo->header = NR_HEADER_NO;
        *ok = true;
    } else if (cli_is(a, "--dtype")) {
        *ok = cli_choice(a, "f32|f64", &c);
        lo->convert = true;
        lo->dtype = c ? NR_F64 : NR_F32;
    } else {
        return false;
    }
    return true;
}

/* --------------------------------------------------------- interruption -- */

static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig) {
    (void)sig;
    if (++interrupts >= 2) {
        nr_abandon_temp_files();
        _exit(130);
    }
}

typedef struct {
    bool progress;
    int64_t epochs;
    double last;
} progress_ctx;

static int on_epoch(void *ctx, int64_t epoch, double loss, double sps) {
    progress_ctx *p = ctx;
    if (p->progress) {
        const double now = cli_seconds();
        if (now - p->last >= 0.1 || epoch == p->epochs) {
            fprintf(stderr, "\repoch %lld/%lld  loss %.6g  %.3g samples/s   ", (long long)epoch,
                    (long long)p->epochs, loss, sps);
            if (epoch == p->epochs) fputc('\n', stderr);
            p->last = now;
        }
    }
    return interrupts > 0;
}

/* ols and the statistics of --exact have no epoch to finish: the first
 * signal stops them (exit 130, nothing written) */
static int stop_requested(void *ctx) {
    (void)ctx;
    return interrupts > 0;
}

/* ------------------------------------------------------------- outputs -- */

static const char *algo_names = "sgd|batch|minibatch|ols";

static void add_number_or_null(cJSON *j, const char *k, double v) {
    if (isfinite(v))
        cJSON_AddItemToObject(j, k, nr_json_number(v));
    else
        cJSON_AddNullToObject(j, k);
}

static char *report_json(const char *data, const nr_train_opts *o, const nr_data *d,
                         const nr_model *m, const nr_train_result *r) {
    cJSON *j = cJSON_CreateObject();
    static const char *names[] = {"sgd", "batch", "minibatch", "ols"};
    cJSON_AddStringToObject(j, "data", data);
    cJSON_AddStringToObject(j, "algo", names[o->algo]);
    if (o->algo == NR_ALGO_MINIBATCH) cJSON_AddNumberToObject(j, "batch", (double)o->batch);
    cJSON_AddBoolToObject(j, "exact", o->exact);
    /* sgd --exact near its stability limit runs the per-sample epochs */
    if (o->exact) cJSON_AddBoolToObject(j, "exact_fallback", r->exact_fallback);
    cJSON_AddStringToObject(j, "dtype", d->dtype == NR_F32 ? "f32" : "f64");
    cJSON_AddStringToObject(j, "kernel", r->kernel ? r->kernel : "none");
    cJSON_AddNumberToObject(j, "threads", r->threads);
    cJSON_AddNumberToObject(j, "rows", (double)d->rows);
    cJSON_AddNumberToObject(j, "train_rows", (double)r->train_rows);
    cJSON_AddNumberToObject(j, "val_rows", (double)r->val_rows);
    cJSON_AddNumberToObject(j, "features", (double)d->features);
    cJSON_AddNumberToObject(j, "lr", o->lr);
    cJSON_AddNumberToObject(j, "epochs", (double)o->epochs);
    cJSON_AddNumberToObject(j, "epochs_run", (double)r->epochs_run);
    cJSON *w = cJSON_AddArrayToObject(j, "weights");
    for (size_t k = 0; k < m->features; k++) cJSON_AddItemToArray(w, nr_json_number(m->weights[k]));
    cJSON_AddItemToObject(j, "bias", nr_json_number(m->bias));
    add_number_or_null(j, "train_loss", r->train_loss);
    add_number_or_null(j, "val_loss", r->val_loss);
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    cJSON_AddNumberToObject(j, "samples_per_second", r->samples_per_second);
    add_number_or_null(j, "epoch_seconds_median",
                       cli_median(r->epoch_seconds, (size_t)r->epochs_run));
    cJSON_AddStringToObject(j, "stop_reason", r->stop_reason ? r->stop_reason : "epochs");
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

nr_status cli_write_text(const char *path, const char *text, nr_error *err) {
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    memcpy(buf, text, n);
    buf[n] = '\n';
    nr_status s = nr_write_file_atomic(path, buf, n + 1, err);
    free(buf);
    return s;
}

static nr_status write_history(const char *path, const nr_train_result *r, nr_error *err) {
    size_t cap = (size_t)r->epochs_run * 80 + 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    len += (size_t)snprintf(
        buf, cap, r->val_history ? "epoch,loss,val_loss,seconds\n" : "epoch,loss,seconds\n");
    for (int64_t e = 0; e < r->epochs_run; e++) {
        if (r->val_history)
            len +=
                (size_t)snprintf(buf + len, cap - len, "%lld,%.17g,%.17g,%.9g\n", (long long)e + 1,
                                 r->loss[e], r->val_history[e], r->epoch_seconds[e]);
        else
            len += (size_t)snprintf(buf + len, cap - len, "%lld,%.17g,%.9g\n", (long long)e + 1,
                                    r->loss[e], r->epoch_seconds[e]);
    }
    nr_status s = nr_write_file_atomic(path, buf, len, err);
    free(buf);
    return s;
}

/* ---------------------------------------------------------------- train -- */

int cmd_train(int argc, char **argv) {
    nr_train_opts o;
    nr_train_defaults(&o);
    nr_load_opts lo;
    nr_load_defaults(&lo);
    const char *data = NULL, *model_out = NULL, *report_out = NULL, *history_out = NULL;
    bool quiet = false, lr_given = false;
    cli_args a;
    cli_args_init(&a, "train", argc, argv);
    while (cli_next(&a)) {
        bool ok = true;
        int64_t v;
        int c;
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            train_usage(stdout);
            return EXIT_OK;
        } else if (cli_load_option(&a, &lo, &ok)) {
        } else if (cli_is(&a, "--data")) {
            ok = (data = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--algo")) {
            ok = cli_choice(&a, algo_names, &c);
            o.algo = (nr_algo)c;
        } else if (cli_is(&a, "--epochs")) {
            ok = cli_int(&a, 1, 1000000000, &o.epochs);
        } else if (cli_is(&a, "--lr")) {
            ok = cli_double(&a, 0, 1e300, true, &o.lr);
            lr_given = true;
        } else if (cli_is(&a, "--batch")) {
            ok = cli_int(&a, 1, INT64_MAX / 2, &v);
            o.batch = (size_t)v;
        } else if (cli_is(&a, "--shuffle")) {
            ok = cli_choice(&a, "none|batches|samples", &c);
            o.shuffle = (nr_shuffle)c;
        } else if (cli_is(&a, "--threads")) {
            ok = cli_int(&a, 1, 1024, &v);
            o.threads = (int)v;
        } else if (cli_is(&a, "--seed")) {
            ok = cli_u64(&a, &o.seed);
        } else if (cli_is(&a, "--standardize")) {
            o.standardize = true;
        } else if (cli_is(&a, "--val-split")) {
            ok = cli_double(&a, 0, 0.999999, false, &o.val_split);
        } else if (cli_is(&a, "--tol")) {
            ok = cli_double(&a, 0, 1e300, false, &o.tol);
        } else if (cli_is(&a, "--patience")) {
            ok = cli_int(&a, 1, 1000000000, &o.patience);
        } else if (cli_is(&a, "--exact")) {
            o.exact = true;
        } else if (cli_is(&a, "--kernel")) {
            ok = cli_choice(&a, "auto|scalar|avx2", &c);
            o.kernel = (nr_kernel_choice)c;
        } else if (cli_is(&a, "--model")) {
            ok = (model_out = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--report")) {
            ok = (report_out = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--history")) {
            ok = (history_out = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--quiet")) {
            quiet = true;
        } else {
            return cli_unknown(&a);
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!data) {
        cli_error("train: --data is required (see 'neuron train --help')");
        return EXIT_USAGE;
    }
    if (!lr_given && o.algo == NR_ALGO_SGD) o.lr = 0.001;
    nr_error err;
    /* a kernel the CPU lacks is a usage error, found before any loading */
    if (!nr_kernel_name(o.kernel, &err)) {
        cli_error("train --kernel: %s", err.msg);
        return EXIT_USAGE;
    }
    nr_dataset *ds = NULL;
    nr_status s = nr_dataset_load(data, &lo, &ds, &err);
    if (s != NR_OK) return cli_fail(s, &err);
    const nr_data *d = nr_dataset_view(ds);
    nr_model m;
    if ((s = nr_model_init(&m, d->features, &err)) != NR_OK) {
        nr_dataset_free(ds);
        return cli_fail(s, &err);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    progress_ctx pc = {.progress = !quiet && isatty(2), .epochs = o.epochs};
    o.on_epoch = on_epoch;
    o.on_epoch_ctx = &pc;
    o.should_stop = stop_requested;
    nr_train_result r;
    s = nr_train(d, &o, &m, &r, &err);
    int rc = EXIT_OK;
    if (s != NR_OK) {
        rc = cli_fail(s, &err);
    } else {
        char *rep = report_json(data, &o, d, &m, &r);
        if (model_out && (s = nr_model_save(&m, &o, model_out, &err)) != NR_OK)
            rc = cli_fail(s, &err);
        if (rc == EXIT_OK && report_out && (s = cli_write_text(report_out, rep, &err)) != NR_OK)
            rc = cli_fail(s, &err);
        if (rc == EXIT_OK && history_out && (s = write_history(history_out, &r, &err)) != NR_OK)
            rc = cli_fail(s, &err);
        if (rc == EXIT_OK) printf("%s\n", rep);
        cJSON_free(rep);
        if (rc == EXIT_OK && !strcmp(r.stop_reason, "interrupted")) rc = 130;
        nr_train_result_free(&r);
    }
    nr_model_free(&m);
    nr_dataset_free(ds);
    return rc;
}

/* ------------------------------------------------------- predict, eval -- */

static int model_and_data(const char *cmd, int argc, char **argv, bool is_eval, nr_model *m,
                          nr_dataset **ds, const char **out_path, const char *names[2]) {
    nr_load_opts lo;
    nr_load_defaults(&lo);
    const char *model = NULL, *data = NULL;
    cli_args a;
    cli_args_init(&a, cmd, argc, argv);
    while (cli_next(&a)) {
        bool ok = true;
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            printf("usage: neuron %s --model M.json --data FILE%s\n\n%s\n"
                   "  --target NAME|I, --delimiter C, --header, --no-header: as for train\n",
                   cmd, is_eval ? "" : " [--out FILE]",
                   is_eval ? "Print MSE, RMSE, MAE, R^2 and n of the model on FILE as JSON."
                           : "Write one prediction per row of FILE to --out (.csv or .npy),\n"
                             "or to stdout. FILE may hold the target column or not.");
            return -1;
        } else if (cli_load_option(&a, &lo, &ok)) {
        } else if (cli_is(&a, "--model")) {
            ok = (model = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--data")) {
            ok = (data = cli_value(&a)) != NULL;
        } else if (!is_eval && cli_is(&a, "--out")) {
            ok = (*out_path = cli_value(&a)) != NULL;
        } else {
            return cli_unknown(&a);
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!model || !data) {
        cli_error("%s: %s is required (see 'neuron %s --help')", cmd, !model ? "--model" : "--data",
                  cmd);
        return EXIT_USAGE;
    }
    names[0] = model, names[1] = data;
    nr_error err;
    nr_status s = nr_model_load(m, model, &err);
    if (s != NR_OK) return cli_fail(s, &err);
    if ((s = nr_dataset_load(data, &lo, ds, &err)) != NR_OK) {
        nr_model_free(m);
        return cli_fail(s, &err);
    }
    return EXIT_OK;
}

int cmd_predict(int argc, char **argv) {
    nr_model m;
    nr_dataset *ds = NULL;
    const char *out = NULL;
    const char *names[2];
    int rc = model_and_data("predict", argc, argv, false, &m, &ds, &out, names);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    const nr_data *d = nr_dataset_view(ds);
    nr_error err;
    nr_status s = NR_OK;
    double *p = malloc((d->rows ? d->rows : 1) * sizeof *p);
    if (!p) s = nr_fail(&err, NR_ERR_NOMEM, "out of memory for %zu predictions", d->rows);
    if (s == NR_OK && (s = nr_predict(&m, d, p, &err)) != NR_OK) {
        /* the library does not know the files: name them here */
        cli_error("%s on %s: %s", names[0], names[1], err.msg);
        free(p);
        nr_model_free(&m);
        nr_dataset_free(ds);
        return cli_exit_code(s);
    }
    if (s == NR_OK && out) {
        cli_cleanup_on_signals();
        nr_data pd = {.rows = d->rows, .features = 0, .dtype = NR_F64, .values = p};
        s = nr_data_save(&pd, out, &err);
    } else if (s == NR_OK) {
        for (size_t i = 0; i < d->rows; i++) printf("%.17g\n", p[i]);
    }
    rc = s == NR_OK ? EXIT_OK : cli_fail(s, &err);
    free(p);
    nr_model_free(&m);
    nr_dataset_free(ds);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    nr_model m;
    nr_dataset *ds = NULL;
    const char *unused = NULL;
    const char *names[2];
    int rc = model_and_data("eval", argc, argv, true, &m, &ds, &unused, names);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    nr_metrics mt;
    nr_error err;
    nr_status s = nr_eval(&m, nr_dataset_view(ds), &mt, &err);
    if (s == NR_OK) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "n", (double)mt.n);
        cJSON_AddNumberToObject(j, "mse", mt.mse);
        cJSON_AddNumberToObject(j, "rmse", mt.rmse);
        cJSON_AddNumberToObject(j, "mae", mt.mae);
        add_number_or_null(j, "r2", mt.r2);
        char *t = cJSON_Print(j);
        printf("%s\n", t);
        cJSON_free(t);
        cJSON_Delete(j);
    }
    if (s != NR_OK) cli_error("%s on %s: %s", names[0], names[1], err.msg);
    rc = cli_exit_code(s);
    nr_model_free(&m);
    nr_dataset_free(ds);
    return rc;
}
