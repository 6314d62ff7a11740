/* neuron train | predict | eval: parse, load, call the library, write the
 * results (model, report, history, predictions) atomically. */
#include <jansson.h>
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
        "Train a neuron y = phi(w.x + b) on FILE (.npy, .csv or .tsv; target = last\n"
        "column). Prints the report as JSON on stdout.\n"
        "\n"
        "options:\n"
        "  --algo sgd|batch|minibatch|ols|newton  algorithm (batch); newton: Newton/IRLS\n"
        "                     to the optimum, one pass per epoch, stops when converged\n"
        "  --activation identity|sigmoid|step  the neuron's phi, and its loss: squared\n"
        "                     error, logistic (labels 0/1 or -1/+1), perceptron (identity)\n"
        "  --epochs E         passes over the data, in [1, 10^9] (100)\n"
        "  --lr LR            learning rate, a finite number > 0 (batch/minibatch 0.1, sgd 0.001)\n"
        "  --batch B          minibatch rows, >= 1 (4096); minibatch only\n"
        "  --shuffle none|batches|samples  minibatch order per epoch (batches); minibatch only\n"
        "  --threads T        OpenMP threads, in [1, 1024] (all cores)\n"
        "  --dtype f32|f64|f16  train on values of this type (the file's)\n"
        "  --seed S           seed of the minibatch shuffles, in [0, 2^64) (42)\n"
        "  --standardize      train on standardized features (model is on raw ones)\n"
        "  --val-split F      hold out the last fraction F in [0, 1) for validation (0)\n"
        "  --tol T            stop when the loss improves by <= T for --patience epochs\n"
        "  --patience P       epochs without improvement before stopping, >= 1 (5); needs\n"
        "                     --tol, which watches the validation loss with --val-split,\n"
        "                     else the training loss\n"
        "  --restore-best     keep the weights of the best watched loss, not the last\n"
        "  --l2 A             add (A/2)|w|^2 to the mean loss, A >= 0 (never the bias; on\n"
        "                     standardized weights with --standardize); ols: ridge\n"
        "  --l1 A             add A|w|_1: batch/minibatch soft-threshold after each step,\n"
        "                     sgd the cumulative penalty (Tsuruoka et al. 2009, as\n"
        "                     scikit-learn); with --l2, the elastic net\n"
        "  --loss default|huber  huber (identity only): (1/2)r^2 for |r| <= D, else\n"
        "                     D(|r| - D/2), as PyTorch's HuberLoss\n"
        "  --delta D          huber threshold, > 0 (1)\n"
        "  --lr-schedule constant|invscaling|step|cosine  (constant)\n"
        "                     invscaling: lr / t^power_t, t the step (sample for sgd)\n"
        "                     count, scikit-learn's learning_rate='invscaling';\n"
        "                     step: lr * gamma^floor((epoch-1) / lr_step), PyTorch's StepLR;\n"
        "                     cosine: lr * (1 + cos(pi (epoch-1) / epochs)) / 2, PyTorch's\n"
        "                     CosineAnnealingLR(T_max=epochs, eta_min=0)\n"
        "  --power-t P        invscaling exponent, in [0, 1000] (0.25)\n"
        "  --lr-step N        step: epochs between decays, >= 1 (30)\n"
        "  --lr-gamma G       step: decay factor, in (0, 1] (0.1)\n"
        "  --momentum M       PyTorch's SGD momentum, in [0, 1) (0)\n"
        "  --nesterov         Nesterov's momentum (needs --momentum)\n"
        "  --average          the model is the mean of every step's weights (Polyak;\n"
        "                     scikit-learn's average=True)\n"
        "  --on-divergence stop|backoff  stop: exit 4 (default); backoff: go back to\n"
        "                     the last finite epoch, halve lr, go on (at most 10 times)\n"
        "  --exact            batch: epochs from one pass of statistics, O(d^2) each;\n"
        "                     sgd: one epoch of the per-sample rule (data order) built\n"
        "                     once as an affine map (O(n d^2)), then O(d^2) per epoch\n"
        "  --kernel auto|scalar|avx2  force a kernel (auto)\n"
        "  --stream           read the rows in small chunks (each thread its own, about\n"
        "                     256 KiB) instead of mapping the file: bounded memory, same\n"
        "                     bits; .npy files or 'part-*.npy' shards; every algorithm\n"
        "                     but sgd and --shuffle samples\n"
        "  --checkpoint FILE  write the whole training state to FILE, atomically, every\n"
        "                     --checkpoint-every K epochs, K >= 1 (10)\n"
        "  --resume FILE      continue from a checkpoint made with the same options and\n"
        "                     data: ends with the bits of a run never stopped\n"
        "  --model OUT.json   write the trained model\n"
        "  --report OUT.json  write the report\n"
        "  --history OUT.csv  write one line per epoch: the losses before it, its seconds\n"
        "  --target NAME|I    target column (CSV name or 0-based index; last)\n"
        "  --delimiter C      CSV delimiter, one character or \\t (tab for .tsv, else ,)\n"
        "  --header | --no-header  CSV first line is / is not a header (detected)\n"
        "  --quiet            no progress on stderr (shown when stderr is a terminal)\n"
        "  --progress         progress on stderr even when it is not a terminal\n"
        "\n"
        "ols solves least squares in closed form: it runs no epochs, so --epochs, --lr,\n"
        "--tol, --patience, --exact and --history do not apply to it.\n"
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
        *ok = cli_choice(a, "f32|f64|f16", &c);
        lo->convert = true;
        lo->dtype = c == 2 ? NR_F16 : c ? NR_F64 : NR_F32;
    } else {
        return false;
    }
    return true;
}

/* --------------------------------------------------------- interruption -- */

static volatile sig_atomic_t interrupts;
/* A progress line is on stderr without its newline: whatever ends the run
 * (the last epoch, an early stop, an error, a signal) ends the line first,
 * so that no message, JSON or shell prompt is glued to it. */
static volatile sig_atomic_t progress_open;

const cli_train_hooks *cli_train_hook;

static void end_progress_line(void) {
    if (progress_open) {
        fputc('\n', stderr);
        progress_open = 0;
    }
}

/* SIGINT, SIGTERM: the first finishes the epoch; a second ends the run at
 * once, temporary files removed. Other signals keep main's handlers. */
static void on_interrupt(int sig) {
    (void)sig;
    if (++interrupts >= 2) {
        if (progress_open) (void)!write(2, "\n", 1); /* async-signal-safe, unlike stdio */
        nr_abandon_temp_files();
        _exit(130);
    }
}

typedef struct {
    bool progress;
    int64_t epochs;
    double last;
    int64_t seen; /* epochs this run trained */
} progress_ctx;

static int on_epoch(void *ctx, int64_t epoch, double loss, double sps) {
    progress_ctx *p = ctx;
    p->seen++;
    if (p->progress) {
        const double now = cli_seconds();
        if (now - p->last >= 0.1 || epoch == p->epochs) {
            fprintf(stderr, "\repoch %lld/%lld  loss %.6g  %.3g samples/s   ", (long long)epoch,
                    (long long)p->epochs, loss, sps);
            fflush(stderr);
            progress_open = 1;
            p->last = now;
        }
    }
    return cli_train_hook ? cli_train_hook->agree_stop(interrupts > 0) : interrupts > 0;
}

/* ols and the statistics of --exact have no epoch to finish: the first
 * signal stops them (exit 130, nothing written) */
static int stop_requested(void *ctx) {
    (void)ctx;
    return interrupts > 0;
}

/* ------------------------------------------------------------- outputs -- */

static const char *algo_names = "sgd|batch|minibatch|ols|newton";

/* ------------------------------------------------- the peers' options -- */

/* Parse one of the penalty, loss, schedule, momentum, averaging and
 * divergence options into `o`; false when the option is none of them. */
static bool train_peer_option(cli_args *a, nr_train_opts *o, unsigned *given, bool *ok) {
    int c;
    int64_t v;
    if (cli_is(a, "--l2")) {
        *ok = cli_double(a, 0, 1e300, false, &o->l2);
    } else if (cli_is(a, "--l1")) {
        *ok = cli_double(a, 0, 1e300, false, &o->l1);
    } else if (cli_is(a, "--loss")) {
        *ok = cli_choice(a, "default|huber", &c);
        o->loss = (nr_loss)c;
    } else if (cli_is(a, "--delta")) {
        *ok = cli_double(a, 0, 1e300, true, &o->delta);
        *given |= 1;
    } else if (cli_is(a, "--lr-schedule")) {
        *ok = cli_choice(a, "constant|invscaling|step|cosine", &c);
        o->lr_schedule = (nr_lr_schedule)c;
    } else if (cli_is(a, "--power-t")) {
        *ok = cli_double(a, 0, 1000, false, &o->power_t);
        *given |= 2;
    } else if (cli_is(a, "--lr-step")) {
        *ok = cli_int(a, 1, 1000000000, &v);
        o->lr_step = v;
        *given |= 4;
    } else if (cli_is(a, "--lr-gamma")) {
        *ok = cli_double(a, 0, 1, true, &o->lr_gamma);
        *given |= 4;
    } else if (cli_is(a, "--momentum")) {
        *ok = cli_double(a, 0, 0.999999999999, false, &o->momentum);
    } else if (cli_is(a, "--nesterov")) {
        o->nesterov = true;
    } else if (cli_is(a, "--average")) {
        o->average = true;
    } else if (cli_is(a, "--on-divergence")) {
        *ok = cli_choice(a, "stop|backoff", &c);
        o->on_divergence = (nr_on_divergence)c;
    } else {
        return false;
    }
    return true;
}

/* An option that would be silently ignored is a usage error. */
static bool train_peer_consistent(const nr_train_opts *o, unsigned given) {
    const char *bad = NULL;
    if ((given & 1) && o->loss != NR_LOSS_HUBER)
        bad = "--delta needs --loss huber";
    else if ((given & 2) && o->lr_schedule != NR_LR_INVSCALING)
        bad = "--power-t needs --lr-schedule invscaling";
    else if ((given & 4) && o->lr_schedule != NR_LR_STEP)
        bad = "--lr-step and --lr-gamma need --lr-schedule step";
    else if (o->nesterov && !(o->momentum > 0))
        bad = "--nesterov needs --momentum M > 0";
    if (bad) cli_error("train: %s", bad);
    return bad == NULL;
}

typedef struct {
    int count;
} backoff_ctx;

static void on_backoff(void *ctx, int64_t epoch, int64_t restart, double lr, const char *why) {
    backoff_ctx *b = ctx;
    b->count++;
    end_progress_line();
    fprintf(stderr, "neuron: warning: %s; backing off (%d of %d): epoch %lld again with --lr %g\n",
            why, b->count, NR_MAX_BACKOFFS, (long long)restart, lr);
    (void)epoch;
}

/* The section 8 options and the backoffs, in the report. */
static void report_peer_options(json_t *j, const nr_train_opts *o, const nr_train_result *r) {
    static const char *schedules[] = {"constant", "invscaling", "step", "cosine"};
    json_object_set_new(j, "l2", nr_json_real(o->l2));
    json_object_set_new(j, "l1", nr_json_real(o->l1));
    json_object_set_new(j, "loss", json_string(o->loss == NR_LOSS_HUBER ? "huber" : "default"));
    if (o->loss == NR_LOSS_HUBER) json_object_set_new(j, "delta", nr_json_real(o->delta));
    json_object_set_new(j, "lr_schedule", json_string(schedules[o->lr_schedule]));
    if (o->lr_schedule == NR_LR_INVSCALING)
        json_object_set_new(j, "power_t", nr_json_real(o->power_t));
    if (o->lr_schedule == NR_LR_STEP) {
        json_object_set_new(j, "lr_step", nr_json_count((uint64_t)o->lr_step));
        json_object_set_new(j, "lr_gamma", nr_json_real(o->lr_gamma));
    }
    json_object_set_new(j, "momentum", nr_json_real(o->momentum));
    json_object_set_new(j, "nesterov", json_boolean(o->nesterov));
    json_object_set_new(j, "average", json_boolean(o->average));
    json_object_set_new(j, "on_divergence",
                        json_string(o->on_divergence == NR_DIVERGE_BACKOFF ? "backoff" : "stop"));
    json_t *b = json_array();
    for (int k = 0; k < r->backoffs; k++) {
        json_t *e = json_object();
        json_object_set_new(e, "epoch", nr_json_count((uint64_t)r->backoff_epoch[k]));
        json_object_set_new(e, "restart", nr_json_count((uint64_t)r->backoff_restart[k]));
        json_object_set_new(e, "lr", nr_json_real(r->backoff_lr[k]));
        json_array_append_new(b, e);
    }
    json_object_set_new(j, "backoffs", b);
}

static char *report_json(const char *data, const nr_train_opts *o, const nr_data *d,
                         const nr_model *m, const nr_train_result *r) {
    json_t *j = json_object();
    static const char *names[] = {"sgd", "batch", "minibatch", "ols", "newton"};
    static const char *activations[] = {"identity", "sigmoid", "step"};
    json_object_set_new(j, "data", nr_json_text(data));
    json_object_set_new(j, "algo", json_string(names[o->algo]));
    json_object_set_new(j, "activation", json_string(activations[o->activation]));
    if (o->algo == NR_ALGO_MINIBATCH) json_object_set_new(j, "batch", nr_json_count(o->batch));
    json_object_set_new(j, "exact", json_boolean(o->exact));
    /* sgd --exact near its stability limit runs the per-sample epochs */
    if (o->exact) json_object_set_new(j, "exact_fallback", json_boolean(r->exact_fallback));
    json_object_set_new(j, "dtype", json_string(nr_dtype_name(d->dtype)));
    json_object_set_new(j, "kernel", json_string(r->kernel ? r->kernel : "none"));
    json_object_set_new(j, "threads", nr_json_count((uint64_t)r->threads));
    json_object_set_new(j, "rows", nr_json_count(d->rows));
    json_object_set_new(j, "train_rows", nr_json_count(r->train_rows));
    json_object_set_new(j, "val_rows", nr_json_count(r->val_rows));
    json_object_set_new(j, "features", nr_json_count(d->features));
    json_object_set_new(j, "lr", nr_json_real(o->lr));
    json_object_set_new(j, "epochs", nr_json_count((uint64_t)o->epochs));
    json_object_set_new(j, "epochs_run", nr_json_count((uint64_t)r->epochs_run));
    json_t *w = json_array();
    for (size_t k = 0; k < m->features; k++) json_array_append_new(w, nr_json_real(m->weights[k]));
    json_object_set_new(j, "weights", w);
    json_object_set_new(j, "bias", nr_json_real(m->bias));
    /* a diverged run's losses are not finite: null */
    json_object_set_new(j, "train_loss", nr_json_real(r->train_loss));
    json_object_set_new(j, "val_loss", nr_json_real(r->val_loss));
    json_object_set_new(j, "seconds", nr_json_real(r->seconds));
    json_object_set_new(j, "samples_per_second", nr_json_real(r->samples_per_second));
    json_object_set_new(j, "epoch_seconds_median",
                        nr_json_real(cli_median(r->epoch_seconds, (size_t)r->epochs_run)));
    json_object_set_new(j, "stop_reason", json_string(r->stop_reason ? r->stop_reason : "epochs"));
    if (o->restore_best)
        json_object_set_new(j, "best_epoch", nr_json_count((uint64_t)r->best_epoch));
    report_peer_options(j, o, r);
    char *text = nr_json_dump(j);
    json_decref(j);
    return text;
}

nr_status cli_write_text(nr_atomic *a, const char *text, nr_error *err) {
    nr_status s = nr_atomic_write(a, text, strlen(text), err);
    return s == NR_OK ? nr_atomic_write(a, "\n", 1, err) : s;
}

/* One line per epoch run, columns named for what they hold (doc/formats.md):
 * batch and sgd record the training MSE at the weights the epoch starts from
 * (so line 1 is the loss of the starting model), minibatch the mean of its
 * batches' losses as it went; validation is always at the start weights;
 * the seconds are the epoch's own, not a running total. */
static nr_status write_history(nr_atomic *a, const nr_train_opts *o, const nr_train_result *r,
                               nr_error *err) {
    size_t cap = (size_t)r->epochs_run * 80 + 128, len = 0;
    char *buf = malloc(cap);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    len += (size_t)snprintf(buf, cap, "epoch,%s%s,epoch_seconds\n",
                            o->algo == NR_ALGO_MINIBATCH && !o->exact ? "batch_loss_mean"
                                                                      : "loss_before",
                            r->val_history ? ",val_loss_before" : "");
    for (int64_t e = 0; e < r->epochs_run; e++) {
        if (r->val_history)
            len +=
                (size_t)snprintf(buf + len, cap - len, "%lld,%.17g,%.17g,%.9g\n", (long long)e + 1,
                                 r->loss[e], r->val_history[e], r->epoch_seconds[e]);
        else
            len += (size_t)snprintf(buf + len, cap - len, "%lld,%.17g,%.9g\n", (long long)e + 1,
                                    r->loss[e], r->epoch_seconds[e]);
    }
    nr_status s = nr_atomic_write(a, buf, len, err);
    free(buf);
    return s;
}

/* ---------------------------------------------------------------- train -- */

/* One process: every block's sums are here already. */
static int gather_none(void *ctx, double *all, const int *counts, const int *displs) {
    (void)ctx, (void)all, (void)counts, (void)displs;
    return 0;
}

/* Widest ratio between the features' root-mean-square values (1 when they
 * are alike): what makes one learning rate too large for some features and
 * too small for others. */
static double feature_scale_ratio(const nr_data *d) {
    const size_t f = d->features, st = f + 1;
    double lo = INFINITY, hi = 0;
    for (size_t j = 0; j < f; j++) {
        double ss = 0;
        for (size_t i = 0; i < d->rows; i++) {
            const double x = nr_value_at(d, i * st + j);
            ss += x * x;
        }
        const double rms = sqrt(ss / (double)d->rows);
        if (rms > 0) lo = fmin(lo, rms), hi = fmax(hi, rms);
    }
    return hi > 0 && lo < INFINITY ? hi / lo : 1.0;
}

/* Report a failed training: bad input names the file (the library knows
 * only rows), divergence gets the options that would help. */
static int train_failed(nr_status s, const nr_error *err, const char *path, const nr_data *d,
                        const nr_train_opts *o) {
    /* a checkpoint's message names the checkpoint */
    if (s == NR_ERR_INPUT && o->resume && !strncmp(err->msg, o->resume, strlen(o->resume)))
        return cli_fail(s, err);
    if (s == NR_ERR_INPUT) {
        char named[sizeof err->msg + 4096]; /* shards: which one holds the row */
        cli_error("%s: %s", path,
                  o->partition ? cli_shares_name_row(err->msg, named, sizeof named) : err->msg);
        return cli_exit_code(s);
    }
    /* streamed or shared rows that could not be read (the file cut or
     * gone while training) are bad input, as a mapped file that shrinks */
    char named[sizeof err->msg + 4096];
    if (s == NR_ERR_IO && o->partition && cli_shares_name_read(err->msg, named, sizeof named)) {
        cli_error("%s", named);
        return EXIT_INPUT;
    }
    /* ols has no learning rate: its overflow message says what to scale */
    if (s != NR_ERR_DIVERGED || o->algo == NR_ALGO_OLS) return cli_fail(s, err);
    /* a shared data set (neuron-mpi) is not all here to measure */
    const double ratio = o->standardize || o->partition ? 1.0 : feature_scale_ratio(d);
    if (ratio > 100)
        cli_error("%s; try a smaller --lr (now %g), or --standardize (feature scales differ by "
                  "%.3gx)",
                  err->msg, o->lr, ratio);
    else
        cli_error("%s; try a smaller --lr (now %g)", err->msg, o->lr);
    return cli_exit_code(s);
}

int cmd_train(int argc, char **argv) {
    nr_train_opts o;
    nr_train_defaults(&o);
    nr_load_opts lo;
    nr_load_defaults(&lo);
    const char *data = NULL, *model_out = NULL, *report_out = NULL, *history_out = NULL;
    bool quiet = false, progress = false, lr_given = false, stream = false;
    /* options given, to refuse those the chosen algorithm would ignore */
    bool given_epochs = false, given_batch = false, given_shuffle = false, given_seed = false,
         given_tol = false, given_patience = false;
    unsigned peer_given = 0;
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
        } else if (train_peer_option(&a, &o, &peer_given, &ok)) {
        } else if (cli_is(&a, "--data")) {
            ok = (data = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--algo")) {
            ok = cli_choice(&a, algo_names, &c);
            o.algo = (nr_algo)c;
        } else if (cli_is(&a, "--activation")) {
            ok = cli_choice(&a, "identity|sigmoid|step", &c);
            o.activation = (nr_activation)c;
        } else if (cli_is(&a, "--epochs")) {
            ok = cli_int(&a, 1, 1000000000, &o.epochs);
            given_epochs = true;
        } else if (cli_is(&a, "--lr")) {
            ok = cli_double(&a, 0, 1e300, true, &o.lr);
            lr_given = true;
        } else if (cli_is(&a, "--batch")) {
            ok = cli_int(&a, 1, INT64_MAX / 2, &v);
            o.batch = (size_t)v;
            given_batch = true;
        } else if (cli_is(&a, "--shuffle")) {
            ok = cli_choice(&a, "none|batches|samples", &c);
            o.shuffle = (nr_shuffle)c;
            given_shuffle = true;
        } else if (cli_is(&a, "--threads")) {
            ok = cli_int(&a, 1, 1024, &v);
            o.threads = (int)v;
        } else if (cli_is(&a, "--seed")) {
            ok = cli_u64(&a, &o.seed);
            given_seed = true;
        } else if (cli_is(&a, "--standardize")) {
            o.standardize = true;
        } else if (cli_is(&a, "--val-split")) {
            ok = cli_double(&a, 0, 0.999999, false, &o.val_split);
        } else if (cli_is(&a, "--tol")) {
            ok = cli_double(&a, 0, 1e300, false, &o.tol);
            given_tol = true;
        } else if (cli_is(&a, "--patience")) {
            ok = cli_int(&a, 1, 1000000000, &o.patience);
            given_patience = true;
        } else if (cli_is(&a, "--restore-best")) {
            o.restore_best = true;
        } else if (cli_is(&a, "--exact")) {
            o.exact = true;
        } else if (cli_is(&a, "--kernel")) {
            ok = cli_choice(&a, "auto|scalar|avx2", &c);
            o.kernel = (nr_kernel_choice)c;
        } else if (cli_is(&a, "--stream")) {
            stream = true;
        } else if (cli_is(&a, "--checkpoint")) {
            ok = (o.checkpoint = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--checkpoint-every")) {
            ok = cli_int(&a, 1, 1000000000, &o.checkpoint_every);
        } else if (cli_is(&a, "--resume")) {
            ok = (o.resume = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--model")) {
            ok = (model_out = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--report")) {
            ok = (report_out = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--history")) {
            ok = (history_out = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--quiet")) {
            quiet = true;
        } else if (cli_is(&a, "--progress")) {
            progress = true;
        } else {
            return cli_unknown(&a);
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!data) {
        cli_error("train: --data is required (see 'neuron train --help')");
        return EXIT_USAGE;
    }
    /* An option the run would ignore is a mistake the user should hear of:
     * the first conflict, naming both sides. */
    const char *algo = (const char *[]){"sgd", "batch", "minibatch", "ols", "newton"}[o.algo];
    const char *conflict = NULL;
    char why[160];
    if (o.algo == NR_ALGO_OLS) {
        const char *closed = given_epochs     ? "--epochs"
                             : lr_given       ? "--lr"
                             : given_tol      ? "--tol"
                             : o.exact        ? "--exact"
                             : history_out    ? "--history"
                             : given_patience ? "--patience"
                                              : NULL;
        if (closed) {
            snprintf(why, sizeof why, "%s does not apply to --algo ols (closed form, no epochs)",
                     closed);
            conflict = why;
        }
    }
    if (!conflict && o.algo == NR_ALGO_NEWTON && lr_given)
        conflict = "--lr does not apply to --algo newton (its steps come from a line search)";
    if (!conflict && o.algo != NR_ALGO_MINIBATCH && (given_batch || given_shuffle || given_seed)) {
        snprintf(why, sizeof why, "%s applies to --algo minibatch only (this run is %s)",
                 given_batch     ? "--batch"
                 : given_shuffle ? "--shuffle"
                                 : "--seed",
                 algo);
        conflict = why;
    }
    if (!conflict && o.algo == NR_ALGO_MINIBATCH && given_seed && given_shuffle &&
        o.shuffle == NR_SHUFFLE_NONE)
        conflict = "--seed has nothing to seed with --shuffle none";
    if (!conflict && o.exact && o.algo == NR_ALGO_MINIBATCH)
        conflict = "--exact applies to --algo batch and sgd, not minibatch";
    if (!conflict && given_patience && !given_tol)
        conflict = "--patience needs --tol (early stopping is off without it)";
    if (!conflict && quiet && progress) conflict = "--quiet and --progress contradict each other";
    if (conflict) {
        cli_error("train: %s", conflict);
        return EXIT_USAGE;
    }
    if (!train_peer_consistent(&o, peer_given)) return EXIT_USAGE;
    if (!lr_given && o.algo == NR_ALGO_SGD) o.lr = 0.001;
    nr_error err;
    /* a kernel the CPU lacks is a usage error, found before any loading */
    if (!nr_kernel_name(o.kernel, &err)) {
        cli_error("train --kernel: %s", err.msg);
        return EXIT_USAGE;
    }
    /* Every output is checked and its temporary file created before the
     * data are read: a wrong path fails now, not after the training. */
    cli_outputs outs;
    cli_outputs_init(&outs, "train");
    cli_outputs_input(&outs, "--data", data);
    nr_atomic *model_file = NULL, *report_file = NULL, *history_file = NULL;
    int rc = EXIT_OK;
    /* neuron-mpi: the first process alone writes the outputs */
    if (cli_train_hook && !cli_train_hook->root) model_out = report_out = history_out = NULL;
    if (((model_out && !(model_file = cli_outputs_add(&outs, "--model", model_out, &rc))) ||
         (report_out && !(report_file = cli_outputs_add(&outs, "--report", report_out, &rc))) ||
         (history_out &&
          !(history_file = cli_outputs_add(&outs, "--history", history_out, &rc)))) &&
        rc == EXIT_OK)
        rc = EXIT_OTHER;
    /* every process learns that the first one cannot write (its message is
     * the one line), and all stop with its code instead of waiting for it */
    if (cli_train_hook) rc = cli_train_hook->agree_stop(rc);
    if (rc != EXIT_OK) {
        cli_outputs_abort(&outs);
        return rc;
    }
    nr_dataset *ds = NULL;
    nr_status s = NR_OK;
    const nr_data *d;
    nr_partition whole; /* --stream: one process holds every row, read on demand */
    if (cli_train_hook) {
        d = cli_train_hook->load(data, &lo, &o, stream);
        if (!cli_train_hook->root) model_out = report_out = history_out = NULL;
    } else if (stream) {
        if ((s = cli_shares_open(data, &lo, 0, 1, true, &whole, &d, &err)) != NR_OK) {
            cli_shares_close();
            cli_outputs_abort(&outs);
            return cli_fail(s, &err);
        }
        whole.gather = gather_none;
        o.partition = &whole;
    } else {
        if ((s = nr_dataset_load(data, &lo, &ds, &err)) != NR_OK) {
            cli_outputs_abort(&outs);
            return cli_fail(s, &err);
        }
        d = nr_dataset_view(ds);
    }
    nr_model m;
    if ((s = nr_model_init(&m, d->features, &err)) != NR_OK) {
        cli_outputs_abort(&outs);
        nr_dataset_free(ds);
        return cli_fail(s, &err);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    progress_ctx pc = {.progress = progress || (!quiet && isatty(2)), .epochs = o.epochs};
    o.on_epoch = on_epoch;
    o.on_epoch_ctx = &pc;
    backoff_ctx bc = {0};
    o.on_backoff = on_backoff;
    o.on_backoff_ctx = &bc;
    o.should_stop = stop_requested;
    nr_train_result r;
    s = nr_train(d, &o, &m, &r, &err);
    end_progress_line();
    if (s == NR_OK && (!isfinite(r.train_loss) || (r.val_rows > 0 && !isfinite(r.val_loss)))) {
        /* a loss that overflowed after the last epoch: no number to report */
        const bool tr = !isfinite(r.train_loss);
        s = nr_fail(&err, NR_ERR_DIVERGED,
                    "the final %s loss is %s: the model's numbers overflow double precision "
                    "on these rows",
                    tr ? "training" : "validation",
                    isnan(tr ? r.train_loss : r.val_loss) ? "NaN" : "Inf");
        nr_train_result_free(&r);
    }
    /* a resumed run that was finished already: as Keras and Lightning do,
     * its outputs again and a word that nothing was trained */
    if (s == NR_OK && o.resume && pc.seen == 0 && r.epochs_run == o.epochs)
        fprintf(stderr,
                "neuron: note: %s: the checkpoint has all %lld epochs done: nothing left to "
                "train\n",
                o.resume, (long long)o.epochs);
    if (s != NR_OK) {
        rc = train_failed(s, &err, data, d, &o);
    } else {
        char *rep = report_json(data, &o, d, &m, &r);
        char *model_text = NULL;
        if (!rep) s = nr_fail(&err, NR_ERR_NOMEM, "out of memory");
        if (s == NR_OK && model_file && (model_text = nr_model_text(&m, &o, &err, &s)))
            s = nr_atomic_write(model_file, model_text, strlen(model_text), &err);
        if (s == NR_OK && report_file) s = cli_write_text(report_file, rep, &err);
        if (s == NR_OK && history_file) s = write_history(history_file, &o, &r, &err);
        if (s != NR_OK) rc = cli_fail(s, &err);
        /* stdout before the files: if the report cannot be printed (a full
         * disk, a closed pipe), no file is committed either */
        if (rc == EXIT_OK) {
            printf("%s\n", rep);
            rc = cli_check_stdout();
        }
        if (rc == EXIT_OK) rc = cli_outputs_commit(&outs);
        free(model_text);
        free(rep);
        if (rc == EXIT_OK && !strcmp(r.stop_reason, "interrupted")) rc = 130;
        nr_train_result_free(&r);
    }
    cli_outputs_abort(&outs); /* nothing left after a commit */
    nr_model_free(&m);
    nr_dataset_free(ds);
    if (stream && !cli_train_hook) cli_shares_close();
    return rc;
}

/* ------------------------------------------------------- predict, eval -- */

/* What predict and eval do with a classifier: labels instead of
 * probabilities (predict), and the threshold of a sigmoid model. */
typedef struct {
    bool labels;
    bool threshold_given;
    double threshold;
} class_opts;

static const char *const activation_words[] = {"identity", "sigmoid", "step"};

/* Parse the options, prepare --out (when `outs`), then load the model and
 * the data; -1 after --help, else an exit code. */
static int model_and_data(const char *cmd, int argc, char **argv, bool is_eval, nr_model *m,
                          nr_dataset **ds, const char **out_path, const char *names[2],
                          cli_outputs *outs, nr_atomic **out_file, class_opts *co) {
    nr_load_opts lo;
    nr_load_defaults(&lo);
    const char *model = NULL, *data = NULL;
    co->labels = co->threshold_given = false;
    co->threshold = 0.5;
    cli_args a;
    cli_args_init(&a, cmd, argc, argv);
    while (cli_next(&a)) {
        bool ok = true;
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            printf("usage: neuron %s --model M.json --data FILE%s\n\n%s\n"
                   "  --threshold T   sigmoid models: label 1 where the probability is above T,\n"
                   "                  in [0, 1] (0.5)\n"
                   "  --target NAME|I, --delimiter C, --header, --no-header: as for train\n",
                   cmd, is_eval ? " [--threshold T]" : " [--out FILE] [--labels [--threshold T]]",
                   is_eval
                       ? "Print the model's metrics on FILE as JSON: n, MSE, RMSE, MAE and R^2\n"
                         "for a regression model; n, accuracy, precision, recall, f1 and the\n"
                         "confusion counts for a classifier, with log_loss and roc_auc for a\n"
                         "sigmoid one (scikit-learn's definitions; an undefined precision or\n"
                         "recall is 0 and named under \"warnings\"). Labels: 0/1 or -1/+1.\n"
                       : "Write one prediction per row of FILE to --out (.csv or .npy), or to\n"
                         "stdout: w.x + b for a regression model, the probability of class 1\n"
                         "for a sigmoid model, 0 or 1 for a step model. FILE may hold the\n"
                         "target column or not.\n"
                         "  --labels        sigmoid models: write labels 0/1 instead");
            return -1;
        } else if (cli_load_option(&a, &lo, &ok)) {
        } else if (cli_is(&a, "--model")) {
            ok = (model = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--data")) {
            ok = (data = cli_value(&a)) != NULL;
        } else if (!is_eval && cli_is(&a, "--out")) {
            ok = (*out_path = cli_value(&a)) != NULL;
        } else if (!is_eval && cli_is(&a, "--labels")) {
            co->labels = true;
        } else if (cli_is(&a, "--threshold")) {
            ok = cli_double(&a, 0, 1, false, &co->threshold);
            co->threshold_given = true;
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
    if (!is_eval && co->threshold_given && !co->labels) {
        cli_error("predict --threshold: it sets where --labels cuts; give --labels too");
        return EXIT_USAGE;
    }
    names[0] = model, names[1] = data;
    int rc = EXIT_OK;
    if (outs) {
        cli_outputs_input(outs, "--model", model);
        cli_outputs_input(outs, "--data", data);
        if (*out_path && !(*out_file = cli_outputs_add(outs, "--out", *out_path, &rc))) return rc;
    }
    nr_error err;
    nr_status s = nr_model_load(model, m, &err);
    if (s != NR_OK) return cli_fail(s, &err);
    /* options that the model's activation gives no meaning are refused, not
     * ignored: a user asking for labels from a regression model is told */
    const char *act = activation_words[m->activation];
    if ((co->labels && m->activation == NR_ACT_IDENTITY) ||
        (co->threshold_given && m->activation != NR_ACT_SIGMOID)) {
        cli_error("%s %s: %s is a %s model (activation %s); %s", cmd,
                  co->threshold_given ? "--threshold" : "--labels", model,
                  m->activation == NR_ACT_IDENTITY ? "regression" : "perceptron", act,
                  co->threshold_given ? "a threshold applies to sigmoid models only"
                                      : "labels need a sigmoid or step model");
        nr_model_free(m);
        return EXIT_USAGE;
    }
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
    cli_outputs outs;
    cli_outputs_init(&outs, "predict");
    nr_atomic *out_file = NULL;
    class_opts co;
    int rc =
        model_and_data("predict", argc, argv, false, &m, &ds, &out, names, &outs, &out_file, &co);
    if (rc) {
        cli_outputs_abort(&outs);
        return rc < 0 ? EXIT_OK : rc;
    }
    const nr_data *d = nr_dataset_view(ds);
    nr_error err;
    nr_status s = NR_OK;
    double *p = malloc((d->rows ? d->rows : 1) * sizeof *p);
    if (!p) s = nr_fail(&err, NR_ERR_NOMEM, "out of memory for %zu predictions", d->rows);
    if (s == NR_OK)
        s = co.labels ? nr_predict_labels(&m, d, co.threshold, p, &err)
                      : nr_predict(&m, d, p, &err);
    if (s != NR_OK && s != NR_ERR_NOMEM) {
        /* the library does not know the files: name them here */
        cli_error("%s on %s: %s", names[0], names[1], err.msg);
        rc = cli_exit_code(s);
    } else if (s != NR_OK) {
        rc = cli_fail(s, &err);
    } else if (out_file) {
        nr_data pd = {.rows = d->rows, .features = 0, .dtype = NR_F64, .values = p};
        s = nr_data_write(&pd, out_file, &err);
        rc = s == NR_OK ? cli_outputs_commit(&outs) : cli_fail(s, &err);
    } else {
        /* stop at the first failed write (a closed pipe): main reports it */
        for (size_t i = 0; i < d->rows && !(i % 4096 == 0 && ferror(stdout)); i++)
            printf("%.17g\n", p[i]);
    }
    cli_outputs_abort(&outs);
    free(p);
    nr_model_free(&m);
    nr_dataset_free(ds);
    return rc;
}

static char *class_metrics_json(const nr_model *m, const nr_class_metrics *c, double threshold) {
    json_t *j = json_object();
    json_object_set_new(j, "activation", json_string(activation_words[m->activation]));
    json_object_set_new(j, "n", nr_json_count(c->n));
    if (m->activation == NR_ACT_SIGMOID)
        json_object_set_new(j, "threshold", nr_json_real(threshold));
    json_object_set_new(j, "accuracy", nr_json_real(c->accuracy));
    json_object_set_new(j, "precision", nr_json_real(c->precision));
    json_object_set_new(j, "recall", nr_json_real(c->recall));
    json_object_set_new(j, "f1", nr_json_real(c->f1));
    json_t *cm = json_object();
    json_object_set_new(cm, "tp", nr_json_count(c->tp));
    json_object_set_new(cm, "fp", nr_json_count(c->fp));
    json_object_set_new(cm, "tn", nr_json_count(c->tn));
    json_object_set_new(cm, "fn", nr_json_count(c->fn));
    json_object_set_new(j, "confusion", cm);
    if (m->activation == NR_ACT_SIGMOID) {
        json_object_set_new(j, "log_loss", nr_json_real(c->log_loss));
        json_object_set_new(j, "roc_auc", nr_json_real(c->roc_auc));
    }
    json_t *w = json_array();
    for (unsigned bit = 1; bit <= NR_WARN_ROC_AUC; bit <<= 1)
        if (c->warnings & bit) json_array_append_new(w, json_string(nr_class_warning_str(bit)));
    json_object_set_new(j, "warnings", w);
    char *t = nr_json_dump(j);
    json_decref(j);
    return t;
}

int cmd_eval(int argc, char **argv) {
    nr_model m;
    nr_dataset *ds = NULL;
    const char *unused = NULL;
    const char *names[2];
    class_opts co;
    int rc = model_and_data("eval", argc, argv, true, &m, &ds, &unused, names, NULL, NULL, &co);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    nr_error err;
    nr_status s;
    if (m.activation != NR_ACT_IDENTITY) {
        nr_class_metrics c;
        s = nr_eval_classify(&m, nr_dataset_view(ds), co.threshold, &c, &err);
        if (s == NR_OK) {
            char *t = class_metrics_json(&m, &c, co.threshold);
            if (t) printf("%s\n", t);
            free(t);
            if (!t) s = nr_fail(&err, NR_ERR_NOMEM, "out of memory");
        }
    } else {
        nr_metrics mt;
        s = nr_eval(&m, nr_dataset_view(ds), &mt, &err);
        if (s == NR_OK) {
            json_t *j = json_object();
            json_object_set_new(j, "n", nr_json_count(mt.n));
            json_object_set_new(j, "mse", nr_json_real(mt.mse));
            json_object_set_new(j, "rmse", nr_json_real(mt.rmse));
            json_object_set_new(j, "mae", nr_json_real(mt.mae));
            json_object_set_new(j, "r2", nr_json_real(mt.r2));
            char *t = nr_json_dump(j);
            json_decref(j);
            if (t) printf("%s\n", t);
            free(t);
            if (!t) s = nr_fail(&err, NR_ERR_NOMEM, "out of memory");
        }
    }
    if (s != NR_OK) cli_error("%s on %s: %s", names[0], names[1], err.msg);
    rc = cli_exit_code(s);
    nr_model_free(&m);
    nr_dataset_free(ds);
    return rc;
}
