/* neuron bench: training throughput on one data file, each measurement side
 * by side with a plain streaming read of the same bytes at the same thread
 * count, so the roofline fraction is a ratio of two numbers taken moments
 * apart on the same machine. The harness (bench/harness.py) calls this for
 * each file it generates and adds peers, convergence and plots. */
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io.h"

static void usage(FILE *f) {
    fputs("usage: neuron bench --data FILE [options]\n"
          "\n"
          "Measure training throughput on FILE (.npy or .csv). Each figure is a set of\n"
          "interleaved repetitions: one epoch of the trainer, one streaming read of the\n"
          "same bytes with the same threads (the roof: the fastest plain read, a\n"
          "vectorised sum with no widening), epoch, read, ... after a warm-up pair that\n"
          "is discarded. Reported: median with quartiles, min, max and count, and the\n"
          "median of the per-pair ratios read / epoch. A figure whose ratio spread\n"
          "(interquartile range / median) stays above --noisy after --max-rounds rounds\n"
          "is flagged noisy; an epoch faster than the read is flagged as a measurement\n"
          "problem. Data smaller than 4x the last-level cache is labelled\n"
          "cache-resident: its ratio is to a cached read, not to the memory bandwidth.\n"
          "\n"
          "options:\n"
          "  --algos LIST     comma-separated: batch, minibatch:B, sgd, exact\n"
          "                   (batch,minibatch:65536,minibatch:4096,sgd)\n"
          "  --threads LIST   comma-separated thread counts; 'all' = every core (1,all)\n"
          "  --reps K         pairs per round, in [1, 10^5] (10); sgd and exact\n"
          "                   max(5, K/2). --epochs K is the same option\n"
          "  --min-time S     each epoch or read of a pair is timed over back-to-back\n"
          "                   calls adding up to S seconds, as their mean, in [0, 60]\n"
          "                   (0.005: a sub-millisecond epoch is timed over several)\n"
          "  --warmup W       pairs run first and discarded, in [0, 100] (1)\n"
          "  --max-rounds M   rounds at most while the ratio is noisy, in [1, 100] (3)\n"
          "  --noisy F        spread above which a figure is noisy, in [0, 10] (0.1)\n"
          "  --exact-epochs E epochs of one --algo batch --exact run, timed with its\n"
          "                   pass of statistics (1000)\n"
          "  --activation identity|sigmoid|step  the neuron's phi, and with it the\n"
          "                   loss (squared error, logistic, perceptron), as train's\n"
          "                   (identity); sigmoid and step need labels 0/1 or -1/+1\n"
          "  --loss default|huber  huber: Huber's loss for the identity (default)\n"
          "  --delta D        Huber's threshold, with --loss huber (1)\n"
          "  --lr LR          learning rate (batch/minibatch 0.1, sgd 0.001)\n"
          "  --kernel auto|scalar|avx2  force a kernel (auto)\n"
          "  --dtype f32|f64|f16  convert the data to this type first (the file's)\n"
          "  --out FILE.json  write every timing, summary and flag as JSON\n"
          "  --quiet          no table on stdout\n"
          "\n"
          "For steadier figures pin the threads: OMP_PROC_BIND=close OMP_PLACES=cores.\n",
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

/* ------------------------------------------------------- measurements -- */

/* One trainer epoch (or, for exact, one whole run), continuing from the
 * weights the previous one left: the time the trainer itself measured, so
 * the set-up of each call (allocations, the final loss) is off the clock. */
typedef struct {
    const nr_data *d;
    nr_train_opts o;
    nr_model m;
    bool exact;
    double final_loss;
    int threads;
    const char *kernel;
} epoch_ctx;

static nr_status measure_epoch(void *ctx, double *seconds, nr_error *err) {
    epoch_ctx *c = ctx;
    nr_train_result r;
    nr_status s = nr_train(c->d, &c->o, &c->m, &r, err);
    if (s != NR_OK) return s;
    *seconds = c->exact ? r.seconds : r.epoch_seconds[0];
    c->final_loss = r.train_loss;
    c->threads = r.threads;
    c->kernel = r.kernel;
    nr_train_result_free(&r);
    return NR_OK;
}

typedef struct {
    const nr_data *d;
    nr_kernel_choice k;
    int threads;
} read_ctx;

static nr_status measure_read(void *ctx, double *seconds, nr_error *err) {
    read_ctx *c = ctx;
    double sum, t0 = cli_seconds();
    nr_status s = nr_data_sum(c->d, c->k, c->threads, &sum, err);
    *seconds = cli_seconds() - t0;
    (void)sum; /* a call into the library: the reads cannot be dropped */
    return s;
}

/* Numbers that read back to the same bits (nr_json_dump), so that a reader
 * can recompute every figure. */
static json_t *summary_json(const nr_summary *s) {
    json_t *j = json_object();
    json_object_set_new(j, "n", nr_json_count(s->n));
    const char *keys[] = {"min", "q1", "median", "q3", "max", "spread"};
    const double v[] = {s->min, s->q1, s->median, s->q3, s->max, s->spread};
    for (int i = 0; i < 6; i++) json_object_set_new(j, keys[i], nr_json_real(v[i]));
    json_object_set_new(j, "noisy", json_boolean(s->noisy));
    return j;
}

static json_t *times_json(const double *t, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, nr_json_real(t[i]));
    return a;
}

static const char *activation_name(nr_activation a) {
    return a == NR_ACT_SIGMOID ? "sigmoid" : a == NR_ACT_STEP ? "step" : "identity";
}

static const char *algo_name(const bench_algo *b) {
    return b->exact                   ? "exact"
           : b->algo == NR_ALGO_BATCH ? "batch"
           : b->algo == NR_ALGO_SGD   ? "sgd"
                                      : "minibatch";
}

/* The row of the table and of the JSON for one measured pair. */
static void report(json_t *list, bool quiet, const bench_algo *b, const epoch_ctx *e,
                   const nr_pair *p, const nr_data *d, double bytes, bool cached) {
    const char *dtype = nr_dtype_name(d->dtype);
    const double ep = p->sa.median, rd = p->sb.median, ratio = p->ratio.median;
    /* read / epoch above 1: the epoch read the bytes faster than the plain
     * read did, so one of the two timings is wrong; never a fraction > 100% */
    const bool faster = !b->exact && ratio > 1.0;
    json_t *j = json_object();
    json_object_set_new(j, "algo", json_string(algo_name(b)));
    json_object_set_new(j, "activation", json_string(activation_name(e->o.activation)));
    json_object_set_new(j, "loss", json_string(e->o.loss == NR_LOSS_HUBER ? "huber" : "default"));
    if (b->algo == NR_ALGO_MINIBATCH) json_object_set_new(j, "batch", nr_json_count(b->batch));
    json_object_set_new(j, "threads", nr_json_count((uint64_t)e->threads));
    json_object_set_new(j, "kernel", json_string(e->kernel ? e->kernel : "?"));
    json_object_set_new(j, "epochs", nr_json_count((uint64_t)e->o.epochs));
    json_object_set_new(j, "reps", nr_json_count(p->n));
    json_object_set_new(j, "rounds", nr_json_count((uint64_t)p->rounds));
    json_object_set_new(j, b->exact ? "run_seconds" : "epoch_seconds", summary_json(&p->sa));
    json_object_set_new(j, "read_seconds", summary_json(&p->sb));
    json_object_set_new(j, "read_over_epoch", summary_json(&p->ratio));
    json_object_set_new(j, "epoch_times", times_json(p->a, p->n));
    json_object_set_new(j, "read_times", times_json(p->b, p->n));
    /* the flat figures of earlier versions, for plots and tables */
    json_object_set_new(j, b->exact ? "epoch_seconds_mean" : "epoch_seconds_median",
                        nr_json_real(b->exact ? ep / (double)e->o.epochs : ep));
    if (b->exact) json_object_set_new(j, "seconds", nr_json_real(ep));
    json_object_set_new(j, "samples_per_second",
                        nr_json_real((double)d->rows / (b->exact ? ep / (double)e->o.epochs : ep)));
    json_object_set_new(j, "stream_seconds_median", nr_json_real(rd));
    json_object_set_new(j, "stream_gb_per_second", nr_json_real(bytes / rd / 1e9));
    if (b->exact) {
        json_object_set_new(j, "gb_per_second", json_null());
        json_object_set_new(j, "roofline", json_null());
        json_object_set_new(j, "passes", nr_json_real(1.0 / ratio));
    } else {
        json_object_set_new(j, "gb_per_second", nr_json_real(bytes / ep / 1e9));
        json_object_set_new(j, "roofline", faster ? json_null() : nr_json_real(ratio));
    }
    json_t *flags = json_array();
    if (p->ratio.noisy) json_array_append_new(flags, json_string("noisy"));
    if (faster) json_array_append_new(flags, json_string("epoch faster than read"));
    json_object_set_new(j, "flags", flags);
    json_object_set_new(j, "regime", json_string(cached ? "cache-resident" : "memory"));
    json_object_set_new(j, "final_loss", nr_json_real(e->final_loss));
    json_array_append_new(list, j);
    if (quiet) return;
    char name[40], roof[48], flag[96] = "";
    snprintf(name, sizeof name, "%s", b->name);
    if (b->exact)
        snprintf(roof, sizeof roof, "%.2f reads", 1.0 / ratio);
    else if (faster)
        snprintf(roof, sizeof roof, "-");
    else
        snprintf(roof, sizeof roof, "%.1f%% (%.0f-%.0f)", 100 * ratio, 100 * p->ratio.q1,
                 100 * p->ratio.q3);
    if (p->ratio.noisy)
        snprintf(flag + strlen(flag), sizeof flag - strlen(flag), " NOISY (spread %.0f%%)",
                 100 * p->ratio.spread);
    if (faster)
        snprintf(flag + strlen(flag), sizeof flag - strlen(flag),
                 " EPOCH FASTER THAN READ (x%.2f): measurement problem", ratio);
    char sps[24] = "-"; /* exact epochs read nothing: no rate of samples */
    if (!b->exact) snprintf(sps, sizeof sps, "%.4g", (double)d->rows / ep);
    if (b->exact) snprintf(name, sizeof name, "exact (run)");
    printf("%-16s %3zu %4s %3d %9.3f %9.3f %9.3f %4zu %11s %8.3f %-20s%s\n", name, d->features,
           dtype, e->threads, 1e3 * ep, 1e3 * p->sa.min, 1e3 * p->sa.max, p->n, sps, 1e3 * rd, roof,
           flag);
    fflush(stdout);
}

int cmd_bench(int argc, char **argv) {
    nr_load_opts lo;
    nr_load_defaults(&lo);
    const char *data = NULL, *out = NULL;
    bench_algo algos[MAX_LIST];
    int nalgos = 0, threads[MAX_LIST], nthreads = 0, c;
    int64_t reps = 10, exact_epochs = 1000, warmup = 1, rounds = 3;
    double lr = 0, noisy = NR_NOISY_SPREAD, delta = 1.0, min_time = 0.005;
    bool quiet = false, delta_given = false;
    nr_activation act = NR_ACT_IDENTITY;
    nr_loss loss = NR_LOSS_DEFAULT;
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
        } else if (cli_is(&a, "--reps") || cli_is(&a, "--epochs")) {
            ok = cli_int(&a, 1, 100000, &reps);
        } else if (cli_is(&a, "--warmup")) {
            ok = cli_int(&a, 0, 100, &warmup);
        } else if (cli_is(&a, "--max-rounds")) {
            ok = cli_int(&a, 1, 100, &rounds);
        } else if (cli_is(&a, "--min-time")) {
            ok = cli_double(&a, 0, 60, false, &min_time);
        } else if (cli_is(&a, "--noisy")) {
            ok = cli_double(&a, 0, 10, false, &noisy);
        } else if (cli_is(&a, "--exact-epochs")) {
            ok = cli_int(&a, 1, 1000000000, &exact_epochs);
        } else if (cli_is(&a, "--lr")) {
            ok = cli_double(&a, 0, 1e300, true, &lr);
        } else if (cli_is(&a, "--activation")) {
            ok = cli_choice(&a, "identity|sigmoid|step", &c);
            act = (nr_activation)c;
        } else if (cli_is(&a, "--loss")) {
            ok = cli_choice(&a, "default|huber", &c);
            loss = (nr_loss)c;
        } else if (cli_is(&a, "--delta")) {
            ok = cli_double(&a, 0, 1e300, true, &delta);
            delta_given = true;
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
    if (loss == NR_LOSS_HUBER && act != NR_ACT_IDENTITY) {
        cli_error("bench --loss huber: Huber's loss is for the identity activation (not %s)",
                  activation_name(act));
        return EXIT_USAGE;
    }
    if (delta_given && loss != NR_LOSS_HUBER) {
        cli_error("bench --delta: it sets Huber's threshold; give --loss huber too");
        return EXIT_USAGE;
    }
    for (int i = 0; i < nalgos; i++)
        if (algos[i].exact && (act != NR_ACT_IDENTITY || loss != NR_LOSS_DEFAULT)) {
            cli_error("bench --algos exact: --exact solves the squared error only (not %s)",
                      loss == NR_LOSS_HUBER ? "huber" : activation_name(act));
            return EXIT_USAGE;
        }
    nr_error err;
    const char *kname = nr_kernel_name(kernel, &err);
    if (!kname) {
        cli_error("bench --kernel: %s", err.msg);
        return EXIT_USAGE;
    }
    /* --out is checked and its temporary file made before the data are
     * read, as train's outputs are: a wrong path fails now, not after
     * minutes of measuring, and the input is never replaced */
    cli_outputs outs;
    cli_outputs_init(&outs, "bench");
    cli_outputs_input(&outs, "--data", data);
    nr_atomic *out_file = NULL;
    int rc = EXIT_OK;
    if (out && !(out_file = cli_outputs_add(&outs, "--out", out, &rc))) {
        cli_outputs_abort(&outs);
        return rc != EXIT_OK ? rc : EXIT_OTHER;
    }
    nr_dataset *ds = NULL;
    nr_status s = nr_dataset_load(data, &lo, &ds, &err);
    if (s != NR_OK) {
        cli_outputs_abort(&outs);
        return cli_fail(s, &err);
    }
    const nr_data *d = nr_dataset_view(ds);
    const double bytes =
        (double)d->rows * (double)(d->features + 1) * (double)nr_dtype_size(d->dtype);
    nr_cache_info llc;
    nr_llc(&llc);
    const bool cached = bytes < 4.0 * (double)llc.bytes;

    json_t *root = json_object(), *list = json_array();
    json_object_set_new(root, "data", nr_json_text(data));
    json_object_set_new(root, "rows", nr_json_count(d->rows));
    json_object_set_new(root, "features", nr_json_count(d->features));
    json_object_set_new(root, "dtype", json_string(nr_dtype_name(d->dtype)));
    json_object_set_new(root, "kernel", json_string(kname));
    json_object_set_new(root, "activation", json_string(activation_name(act)));
    json_object_set_new(root, "loss", json_string(loss == NR_LOSS_HUBER ? "huber" : "default"));
    /* a whole number of bytes, below 2^53: exact as a count */
    json_object_set_new(root, "bytes_per_epoch", nr_json_count((uint64_t)bytes));
    json_object_set_new(root, "max_threads", nr_json_count((uint64_t)omp_get_max_threads()));
    json_object_set_new(root, "llc_bytes", nr_json_count(llc.bytes));
    json_object_set_new(root, "llc_level", nr_json_count((uint64_t)llc.level));
    json_object_set_new(root, "llc_source", nr_json_text(llc.source));
    json_object_set_new(root, "regime", json_string(cached ? "cache-resident" : "memory"));
    json_object_set_new(root, "warmup_pairs", nr_json_count((uint64_t)warmup));
    json_object_set_new(root, "max_rounds", nr_json_count((uint64_t)rounds));
    json_object_set_new(root, "noisy_above", nr_json_real(noisy));
    json_object_set_new(root, "min_seconds", nr_json_real(min_time));
    const char *bind = getenv("OMP_PROC_BIND"), *places = getenv("OMP_PLACES");
    json_object_set_new(root, "omp_proc_bind", nr_json_text(bind ? bind : ""));
    json_object_set_new(root, "omp_places", nr_json_text(places ? places : ""));
    json_object_set(root, "results", list); /* not stolen: the rows go in below */
    if (!quiet) {
        printf("# %s: %zu x %zu %s, %.1f MB; last-level cache %.1f MiB (%s%s)\n", data, d->rows,
               d->features, nr_dtype_name(d->dtype), bytes / 1e6, (double)llc.bytes / 1048576.0,
               llc.source, llc.level ? "" : ", the machine did not say");
        printf("# activation %s, loss %s\n", activation_name(act),
               loss == NR_LOSS_HUBER   ? "huber"
               : act == NR_ACT_SIGMOID ? "logistic"
               : act == NR_ACT_STEP    ? "perceptron criterion"
                                       : "squared error");
        if (cached)
            printf("# cache-resident: the data is under 4x the last-level cache, so 'of read' is a "
                   "fraction of a cached read, not of the memory bandwidth\n");
        else
            printf("# memory-bound: the data is %.1fx the last-level cache; 'of read' is the "
                   "fraction of the memory bandwidth a plain read reaches\n",
                   bytes / (double)llc.bytes);
        printf("# each figure: %lld warm-up pair(s) discarded, then %lld interleaved (epoch, read) "
               "pairs per round, up to %lld rounds while the spread of read/epoch > %.0f%%, each "
               "the mean of calls adding up to %g ms; exact: one run of %lld epochs with its pass "
               "of statistics per repetition\n",
               (long long)warmup, (long long)reps, (long long)rounds, 100 * noisy, 1e3 * min_time,
               (long long)exact_epochs);
        printf("%-16s %3s %4s %3s %9s %9s %9s %4s %11s %8s %-20s\n", "algo", "d", "type", "thr",
               "median ms", "min ms", "max ms", "n", "samples/s", "read ms", "of read (q1-q3 %)");
    }
    for (int ti = 0; ti < nthreads && rc == EXIT_OK; ti++) {
        for (int ai = 0; ai < nalgos && rc == EXIT_OK; ai++) {
            const bench_algo *b = &algos[ai];
            epoch_ctx e = {.d = d, .exact = b->exact};
            nr_train_defaults(&e.o);
            e.o.algo = b->algo;
            e.o.exact = b->exact;
            if (b->batch) e.o.batch = b->batch;
            e.o.threads = threads[ti];
            e.o.kernel = kernel;
            e.o.activation = act;
            e.o.loss = loss;
            e.o.delta = delta;
            e.o.lr = lr > 0 ? lr : b->algo == NR_ALGO_SGD ? 0.001 : 0.1;
            e.o.epochs = b->exact ? exact_epochs : 1;
            read_ctx rd = {d, kernel, threads[ti]};
            nr_measure_plan plan;
            nr_measure_defaults(&plan);
            plan.warmup = (int)warmup;
            plan.max_rounds = (int)rounds;
            plan.noisy_above = noisy;
            plan.min_seconds = min_time;
            /* sgd epochs and exact runs are long and their ratio is not a
             * bandwidth: fewer repetitions, but not so few that one slow
             * read moves the median */
            plan.reps =
                b->exact || b->algo == NR_ALGO_SGD ? (int)(reps / 2 > 5 ? reps / 2 : 5) : (int)reps;
            nr_pair p;
            if ((s = nr_model_init(&e.m, d->features, &err)) != NR_OK ||
                (s = nr_measure_pair(&plan, measure_epoch, &e, measure_read, &rd, &p, &err)) !=
                    NR_OK) {
                nr_model_free(&e.m);
                /* bad labels: the library knows the row, this the file */
                if (s == NR_ERR_INPUT)
                    cli_error("%s: %s", data, err.msg), rc = cli_exit_code(s);
                else
                    rc = cli_fail(s, &err);
                break;
            }
            report(list, quiet, b, &e, &p, d, bytes, cached);
            nr_pair_free(&p);
            nr_model_free(&e.m);
        }
    }
    if (rc == EXIT_OK && out_file) {
        char *text = nr_json_dump(root);
        if (!text)
            cli_error("bench: out of memory"), rc = EXIT_OTHER;
        else if ((s = cli_write_text(out_file, text, &err)) != NR_OK)
            rc = cli_fail(s, &err);
        free(text);
        if (rc == EXIT_OK) rc = cli_outputs_commit(&outs);
    }
    cli_outputs_abort(&outs); /* nothing left after a commit */
    json_decref(list);
    json_decref(root);
    nr_dataset_free(ds);
    return rc;
}
