/* neuron bench: training throughput on one data file, each measurement side
 * by side with a plain streaming read of the same bytes at the same thread
 * count, so the roofline fraction is a ratio of two numbers taken moments
 * apart on the same machine. The harness (bench/harness.py) calls this for
 * each file it generates and adds peers, convergence and plots. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "internal.h"

static void usage(FILE *f) {
    fputs("usage: neuron bench --data FILE [options]\n"
          "\n"
          "Measure training throughput on FILE (.npy or .csv), each trainer next to a\n"
          "plain streaming read of the same bytes with the same threads. Prints a table;\n"
          "--out writes the measurements as JSON.\n"
          "\n"
          "options:\n"
          "  --algos LIST     comma-separated: batch, minibatch:B, sgd, exact\n"
          "                   (batch,minibatch:65536,minibatch:4096,sgd)\n"
          "  --threads LIST   comma-separated thread counts; 'all' = every core (1,all)\n"
          "  --epochs K       epochs per measurement, the median is reported, in\n"
          "                   [1, 10^6] (10); sgd runs max(1, K/5) epochs\n"
          "  --exact-epochs E epochs of --algo batch --exact, timed with its pass (1000)\n"
          "  --lr LR          learning rate (batch/minibatch 0.1, sgd 0.001)\n"
          "  --kernel auto|scalar|avx2  force a kernel (auto)\n"
          "  --dtype f32|f64  convert the data to this type first (the file's)\n"
          "  --out FILE.json  write every measurement and the machine's summary\n"
          "  --quiet          no table on stdout\n",
          f);
}

typedef struct {
    nr_algo algo;
    bool exact;
    size_t batch;
    char name[32];
} bench_algo;

enum { MAX_LIST = 16 };

/* Split a comma-separated list into at most MAX_LIST words of < 32 bytes;
 * returns the count, or -1 on an empty, too long or surplus element. */
static int split_list(const char *s, char words[MAX_LIST][32]) {
    int n = 0;
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= 32 || n >= MAX_LIST) return -1;
        memcpy(words[n], p, len);
        words[n++][len] = '\0';
        if (!comma) return n;
        p = comma + 1;
    }
}

static bool parse_algos(cli_args *a, bench_algo *out, int *n) {
    const char *s = cli_value(a);
    char words[MAX_LIST][32];
    if (!s) return false;
    if ((*n = split_list(s, words)) < 0) {
        cli_error("bench --algos: invalid value '%s': expected up to %d comma-separated algorithms",
                  s, MAX_LIST);
        return false;
    }
    for (int i = 0; i < *n; i++) {
        const char *w = words[i];
        bench_algo *b = &out[i];
        memset(b, 0, sizeof *b);
        memcpy(b->name, w, sizeof b->name); /* words are < 32 bytes */
        int64_t v;
        if (!strcmp(w, "batch")) {
            b->algo = NR_ALGO_BATCH;
        } else if (!strcmp(w, "exact")) {
            b->algo = NR_ALGO_BATCH, b->exact = true;
        } else if (!strcmp(w, "sgd")) {
            b->algo = NR_ALGO_SGD;
        } else if (!strncmp(w, "minibatch:", 10) && cli_parse_int(w + 10, &v) && v >= 1) {
            b->algo = NR_ALGO_MINIBATCH, b->batch = (size_t)v;
        } else {
            cli_error("bench --algos: invalid element '%s': expected batch, minibatch:B (B >= 1), "
                      "sgd or exact",
                      w);
            return false;
        }
    }
    return true;
}

static bool parse_threads(cli_args *a, int *out, int *n) {
    const char *s = cli_value(a);
    char words[MAX_LIST][32];
    if (!s) return false;
    bool ok = (*n = split_list(s, words)) > 0;
    for (int i = 0; ok && i < *n; i++) {
        int64_t v = 0;
        if (!strcmp(words[i], "all"))
            v = omp_get_max_threads();
        else if (!cli_parse_int(words[i], &v) || v < 1 || v > 1024)
            ok = false;
        out[i] = (int)v;
    }
    if (!ok)
        cli_error("bench --threads: invalid value '%s': expected comma-separated counts in "
                  "[1, 1024] or 'all'",
                  s);
    return ok;
}

/* Median seconds of `reps` streaming reads of the whole data set. */
static nr_status stream_median(const nr_data *d, nr_kernel_choice k, int threads, int reps,
                               double *out, nr_error *err) {
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    for (int r = 0; r < reps; r++) {
        double s, t0 = cli_seconds();
        nr_status st = nr_data_sum(d, k, threads, &s, err);
        t[r] = cli_seconds() - t0;
        if (st != NR_OK) {
            free(t);
            return st;
        }
        (void)s; /* a call into the library: the reads cannot be dropped */
    }
    *out = cli_median(t, (size_t)reps);
    free(t);
    return NR_OK;
}

int cmd_bench(int argc, char **argv) {
    nr_load_opts lo;
    nr_load_defaults(&lo);
    const char *data = NULL, *out = NULL;
    bench_algo algos[MAX_LIST];
    int nalgos = 0, threads[MAX_LIST], nthreads = 0, c;
    int64_t epochs = 10, exact_epochs = 1000;
    double lr = 0;
    bool quiet = false;
    nr_kernel_choice kernel = NR_KERNEL_AUTO;
    cli_args a;
    cli_args_init(&a, "bench", argc, argv);
    while (cli_next(&a)) {
        bool ok = true;
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        } else if (cli_load_option(&a, &lo, &ok)) {
        } else if (cli_is(&a, "--data")) {
            ok = (data = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--algos")) {
            ok = parse_algos(&a, algos, &nalgos);
        } else if (cli_is(&a, "--threads")) {
            ok = parse_threads(&a, threads, &nthreads);
        } else if (cli_is(&a, "--epochs")) {
            ok = cli_int(&a, 1, 1000000, &epochs);
        } else if (cli_is(&a, "--exact-epochs")) {
            ok = cli_int(&a, 1, 1000000000, &exact_epochs);
        } else if (cli_is(&a, "--lr")) {
            ok = cli_double(&a, 0, 1e300, true, &lr);
        } else if (cli_is(&a, "--kernel")) {
            ok = cli_choice(&a, "auto|scalar|avx2", &c);
            kernel = (nr_kernel_choice)c;
        } else if (cli_is(&a, "--out")) {
            ok = (out = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--quiet")) {
            quiet = true;
        } else {
            return cli_unknown(&a);
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!data) {
        cli_error("bench: --data is required (see 'neuron bench --help')");
        return EXIT_USAGE;
    }
    if (nalgos == 0) {
        static const char *def[] = {"batch", "minibatch:65536", "minibatch:4096", "sgd"};
        for (int i = 0; i < 4; i++) {
            bench_algo *b = &algos[nalgos++];
            memset(b, 0, sizeof *b);
            snprintf(b->name, sizeof b->name, "%s", def[i]);
            b->algo = i == 0 ? NR_ALGO_BATCH : i == 3 ? NR_ALGO_SGD : NR_ALGO_MINIBATCH;
            b->batch = i == 1 ? 65536 : 4096;
        }
    }
    if (nthreads == 0) threads[nthreads++] = 1, threads[nthreads++] = omp_get_max_threads();
    nr_error err;
    const char *kname = nr_kernel_name(kernel, &err);
    if (!kname) {
        cli_error("bench --kernel: %s", err.msg);
        return EXIT_USAGE;
    }
    nr_dataset *ds = NULL;
    nr_status s = nr_dataset_load(data, &lo, &ds, &err);
    if (s != NR_OK) return cli_fail(s, &err);
    const nr_data *d = nr_dataset_view(ds);
    const double bytes =
        (double)d->rows * (double)(d->features + 1) * (double)nr_dtype_size(d->dtype);
    const char *dtype = d->dtype == NR_F32 ? "f32" : "f64";

    cJSON *root = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "data", data);
    cJSON_AddNumberToObject(root, "rows", (double)d->rows);
    cJSON_AddNumberToObject(root, "features", (double)d->features);
    cJSON_AddStringToObject(root, "dtype", dtype);
    cJSON_AddStringToObject(root, "kernel", kname);
    cJSON_AddNumberToObject(root, "bytes_per_epoch", bytes);
    cJSON_AddNumberToObject(root, "max_threads", omp_get_max_threads());
    cJSON_AddItemToObject(root, "results", list);
    if (!quiet)
        printf("%-16s %3s %4s %7s %10s %12s %8s %9s %8s\n", "algo", "d", "type", "threads",
               "epoch ms", "samples/s", "GB/s", "stream GB/s", "roofline");
    int rc = EXIT_OK;
    for (int ti = 0; ti < nthreads && rc == EXIT_OK; ti++) {
        for (int ai = 0; ai < nalgos && rc == EXIT_OK; ai++) {
            const bench_algo *b = &algos[ai];
            nr_train_opts o;
            nr_train_defaults(&o);
            o.algo = b->algo;
            o.exact = b->exact;
            if (b->batch) o.batch = b->batch;
            o.threads = threads[ti];
            o.kernel = kernel;
            o.lr = lr > 0 ? lr : b->algo == NR_ALGO_SGD ? 0.001 : 0.1;
            o.epochs = b->exact                 ? exact_epochs
                       : b->algo == NR_ALGO_SGD ? (epochs / 5 > 1 ? epochs / 5 : 1)
                                                : epochs;
            /* the baseline first, then the trainer: moments apart, same threads */
            double stream = NAN;
            if ((s = stream_median(d, kernel, threads[ti], (int)epochs, &stream, &err)) != NR_OK) {
                rc = cli_fail(s, &err);
                break;
            }
            nr_model m;
            nr_train_result r;
            if ((s = nr_model_init(&m, d->features, &err)) != NR_OK ||
                (s = nr_train(d, &o, &m, &r, &err)) != NR_OK) {
                nr_model_free(&m);
                rc = cli_fail(s, &err);
                break;
            }
            double ep, ep_min = INFINITY;
            if (b->exact) { /* one pass of statistics, then O(d^2) epochs: all of it */
                ep = r.seconds / (double)r.epochs_run;
            } else {
                for (int64_t e = 0; e < r.epochs_run; e++)
                    ep_min = fmin(ep_min, r.epoch_seconds[e]);
                ep = cli_median(r.epoch_seconds, (size_t)r.epochs_run);
            }
            const double sps = (double)d->rows / ep, gbs = bytes / ep / 1e9;
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "algo",
                                    b->exact                   ? "exact"
                                    : b->algo == NR_ALGO_BATCH ? "batch"
                                    : b->algo == NR_ALGO_SGD   ? "sgd"
                                                               : "minibatch");
            if (b->algo == NR_ALGO_MINIBATCH) cJSON_AddNumberToObject(j, "batch", (double)b->batch);
            cJSON_AddNumberToObject(j, "threads", r.threads);
            cJSON_AddStringToObject(j, "kernel", r.kernel ? r.kernel : kname);
            cJSON_AddNumberToObject(j, "epochs", (double)r.epochs_run);
            /* exact rows: the whole run's time per epoch (a mean, with the
             * pass of statistics); no bandwidth, since epochs read nothing */
            cJSON_AddNumberToObject(j, b->exact ? "epoch_seconds_mean" : "epoch_seconds_median",
                                    ep);
            if (!b->exact) cJSON_AddNumberToObject(j, "epoch_seconds_min", ep_min);
            cJSON_AddNumberToObject(j, "seconds", r.seconds);
            cJSON_AddNumberToObject(j, "samples_per_second", sps);
            if (b->exact) {
                cJSON_AddNullToObject(j, "gb_per_second");
                cJSON_AddNullToObject(j, "roofline");
                cJSON_AddNumberToObject(j, "passes", r.seconds / stream);
            } else {
                cJSON_AddNumberToObject(j, "gb_per_second", gbs);
                cJSON_AddNumberToObject(j, "roofline", stream / ep);
            }
            cJSON_AddNumberToObject(j, "stream_seconds_median", stream);
            cJSON_AddNumberToObject(j, "stream_gb_per_second", bytes / stream / 1e9);
            cJSON_AddNumberToObject(j, "final_loss", r.train_loss);
            cJSON_AddItemToArray(list, j);
            if (!quiet) {
                if (b->exact)
                    printf(
                        "%-16s %3zu %4s %7d %10.3f %12.4g %8s %9.2f %8s  (%lld epochs in %.1f ms "
                        "= %.2f streaming passes)",
                        b->name, d->features, dtype, r.threads, ep * 1e3, sps, "-",
                        bytes / stream / 1e9, "-", (long long)r.epochs_run, r.seconds * 1e3,
                        r.seconds / stream);
                else
                    printf("%-16s %3zu %4s %7d %10.3f %12.4g %8.2f %9.2f %7.1f%%", b->name,
                           d->features, dtype, r.threads, ep * 1e3, sps, gbs, bytes / stream / 1e9,
                           100 * stream / ep);
                putchar('\n');
                fflush(stdout);
            }
            nr_train_result_free(&r);
            nr_model_free(&m);
        }
    }
    if (rc == EXIT_OK && out) {
        char *text = cJSON_Print(root);
        if (!text || (s = cli_write_text(out, text, &err)) != NR_OK)
            rc = text ? cli_fail(s, &err) : (cli_error("bench: out of memory"), EXIT_OTHER);
        cJSON_free(text);
    }
    cJSON_Delete(root);
    nr_dataset_free(ds);
    return rc;
}
