/*
 * neuron.h: train a single artificial neuron, y = phi(w.x + b), on millions
 * of points, and prove the numbers against a faithful reference.
 *
 * This header is the whole public API and its documentation. Every symbol
 * carries the nr_ prefix. Functions that can fail return an nr_status and,
 * when `err` is not NULL, write one line of human-readable text into it
 * (no trailing newline). The library never prints and never exits.
 *
 * Data layout (see nr_data): rows are stored row-major with the target in
 * the last column, exactly the layout of the .npy files `neuron gen` writes,
 * so a memory-mapped file is trained on in place, without a copy.
 */
#ifndef NEURON_H
#define NEURON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NR_VERSION_MAJOR 0
#define NR_VERSION_MINOR 1
#define NR_VERSION_PATCH 0
#define NR_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Status and errors                                                        */
/* ------------------------------------------------------------------------ */

typedef enum {
    NR_OK = 0,
    NR_ERR_ARG,         /* an argument or option is out of its valid range */
    NR_ERR_INPUT,       /* a file is unreadable, malformed or holds bad values */
    NR_ERR_DIVERGED,    /* training produced NaN/Inf or a loss growing without bound */
    NR_ERR_IO,          /* writing an output failed (disk full, permissions) */
    NR_ERR_NOMEM,       /* an allocation failed */
    NR_ERR_UNSUPPORTED, /* the CPU lacks a requested kernel, or a feature is absent */
    NR_ERR_INTERRUPTED, /* the caller's callback asked to stop (signal) */
    NR_ERR_INTERNAL     /* a bug: an invariant did not hold */
} nr_status;

/* Room for one line of error text, filled by a failing call. */
typedef struct {
    char msg[512];
} nr_error;

/* A short constant name for a status ("ok", "invalid argument", ...). */
const char *nr_status_str(nr_status s);

/* ------------------------------------------------------------------------ */
/* CPython-compatible Mersenne Twister (src/rng.c)                          */
/* ------------------------------------------------------------------------ */

/* MT19937 state, bit-compatible with CPython's `random` module. */
typedef struct {
    uint32_t mt[624];
    int index;
} nr_mt;

/* Seed exactly as CPython's random.seed(n) does for an int n: the absolute
 * value of n is split into little-endian 32-bit words (one word, 0, for n = 0)
 * and fed to MT19937's init_by_array. `decimal` is an optionally signed
 * decimal integer of any length (leading/trailing blanks allowed, as Python's
 * int() accepts, and underscores between digits). Returns NR_ERR_ARG and
 * leaves `mt` untouched when the text is not such an integer. */
nr_status nr_mt_seed_decimal(nr_mt *mt, const char *decimal, nr_error *err);

/* Seed from an unsigned 64-bit integer: same as nr_mt_seed_decimal with its
 * decimal text. */
void nr_mt_seed_u64(nr_mt *mt, uint64_t seed);

/* Seed with MT19937's init_by_array over `n` 32-bit words (n >= 1). */
void nr_mt_seed_words(nr_mt *mt, const uint32_t *key, size_t n);

/* The next 32-bit output of MT19937 (CPython's getrandbits(32)). */
uint32_t nr_mt_next_u32(nr_mt *mt);

/* CPython's random.random(): 53 random bits as a double in [0, 1),
 * (a >> 5) * 67108864 + (b >> 6), divided by 2^53. */
double nr_mt_random(nr_mt *mt);

/* CPython's random.uniform(lo, hi): lo + (hi - lo) * random(). */
double nr_mt_uniform(nr_mt *mt, double lo, double hi);

/* ------------------------------------------------------------------------ */
/* The tutorial experiment (src/reference.c)                                */
/* ------------------------------------------------------------------------ */

/* Options of the tutorial; see SPEC section 2. `seed` is decimal text so that
 * seeds of any size behave as in Python. */
typedef struct {
    const char *seed;   /* default "42" */
    int64_t samples;    /* default 100, >= 0 */
    int64_t epochs;     /* default 100000, >= 0 */
    double lr;          /* default 1e-5 */
    int64_t every;      /* default 100, >= 1 */
    double slope;       /* default 5 */
    double noise;       /* default 100 */
    bool no_cycle_skip; /* run every epoch even after the state has repeated */
} nr_tutorial_opts;

/* Fill `o` with the tutorial's defaults. */
void nr_tutorial_defaults(nr_tutorial_opts *o);

/* Called every `every` epochs with the epoch number (1-based), the loss
 * summed over that epoch, and the weight and bias after it. A non-zero return
 * stops the run early (nr_tutorial_run then returns NR_ERR_INTERRUPTED). */
typedef int (*nr_tutorial_fn)(void *ctx, int64_t epoch, double loss, double w, double b);

/* Run the tutorial experiment operation for operation as the Python original
 * does: data x = 0..samples-1, y = slope*x + uniform(-noise, noise) from the
 * seeded Mersenne Twister, then w = random(), b = random(), then per-sample
 * SGD in data order (see nr_sgd_epoch_f64). Calls `fn` every `every` epochs.
 * Returns NR_ERR_ARG for invalid options (message names the option). */
nr_status nr_tutorial_run(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx, nr_error *err);

/* The same experiment in closed form (src/affine.c, doc/exact.md): the data
 * and start state are made exactly as nr_tutorial_run makes them; one epoch
 * of per-sample SGD in data order is an affine map of the state (w, b) and
 * its summed loss a quadratic form in the epoch's start state, so the map of
 * `every` epochs comes from repeated squaring and each printed line costs
 * O(1): microseconds for the defaults instead of 100000 epochs. Same
 * callback, same epochs. The numbers are the same real-number recurrence
 * rounded differently: they agree with nr_tutorial_run to about 1e-9
 * relative (tested), not bit for bit (the sequential run may stop on a
 * rounded fixed point that the maps approach only as the exact one).
 * Where the epoch map does not contract (a learning rate that diverges, or
 * samples <= 1 which leave a direction untouched) or overflows, it runs
 * nr_tutorial_run itself, so divergence is reported exactly as there (lines
 * with inf/nan, NR_ERR_DIVERGED on the overflow Python raises). It also runs
 * nr_tutorial_run near the stability limit, where rows that expand at each
 * step magnify the rounding inside an epoch by more than 1e4 (the defaults
 * from lr ~1.7e-4): there the two computations would not agree to 1e-9. */
nr_status nr_tutorial_fast(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx, nr_error *err);

/* Format a double as Python's f"{v:.4f}" does ("nan", "inf", "-inf" for the
 * non-finite values), into `buf` of `size` bytes. Returns the length. */
int nr_format_4f(char *buf, size_t size, double v);

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum { NR_F32 = 0, NR_F64 = 1 } nr_dtype;

/* A read-only view of a data set: `rows` rows of `features` + 1 values, row
 * major, the target in the last column, each value a float (NR_F32) or a
 * double (NR_F64). Row i, feature j is values[i * (features + 1) + j]. The
 * view does not own `values`. */
typedef struct {
    size_t rows;
    size_t features;
    nr_dtype dtype;
    const void *values;
} nr_data;

/* Size in bytes of one value of the given dtype (4 or 8). */
size_t nr_dtype_size(nr_dtype t);

/* An owned data set: memory-mapped from a file or held in memory. */
typedef struct nr_dataset nr_dataset;

typedef enum { NR_HEADER_AUTO = 0, NR_HEADER_YES, NR_HEADER_NO } nr_header_mode;

/* Options for reading a data file; see nr_load_defaults. */
typedef struct {
    nr_header_mode header; /* CSV: is the first line a header? AUTO: yes if any
                              of its fields is not a number */
    char delimiter;        /* CSV field separator (',') */
    const char *target;    /* target column: a header name or a 0-based index;
                              NULL: the last column */
    bool convert;          /* convert the values to `dtype` (else keep the
                              file's: .npy as stored, CSV as f64) */
    nr_dtype dtype;
} nr_load_opts;

/* Fill `o` with the defaults: header auto-detected, ',' as delimiter, the
 * last column as target, dtype kept. */
void nr_load_defaults(nr_load_opts *o);

/* Read `path` into a data set, choosing the reader by extension (.npy or
 * .csv; anything else is refused). A .npy file in C order, little-endian
 * <f4 or <f8, whose target is the last column and whose dtype is kept, is
 * memory-mapped read-only and used in place: no copy, so loading costs no
 * memory beyond the page cache. Other layouts (Fortran order, big-endian,
 * another target column, a dtype conversion) and CSV files are converted
 * into an owned buffer. Every value is checked: NaN or Inf is refused.
 * Failures return NR_ERR_INPUT, also for a target column the file does
 * not have (the file does not fit the request: SPEC section 3), with one
 * line naming the file and, where it can, the line or row and the column: "data.csv:17: expected 3
 * fields, found 2". */
nr_status nr_dataset_load(const char *path, const nr_load_opts *o, nr_dataset **out, nr_error *err);

/* Allocate an owned, zero-filled data set of the given shape. */
nr_status nr_dataset_alloc(size_t rows, size_t features, nr_dtype dtype, nr_dataset **out,
                           nr_error *err);

/* The view of a data set (valid until nr_dataset_free). */
const nr_data *nr_dataset_view(const nr_dataset *ds);

/* Whether the values are the file's own pages, memory-mapped (no copy). */
bool nr_dataset_is_mapped(const nr_dataset *ds);

/* Writable values of a data set made by nr_dataset_alloc (NULL for a mapped
 * file). */
void *nr_dataset_mutable(nr_dataset *ds);

/* Release a data set (NULL is fine). */
void nr_dataset_free(nr_dataset *ds);

/* Write a data view to `path` (.npy v1.0 or .csv by extension), atomically:
 * to a temporary file in the same folder, then renamed over `path`; nothing
 * is left behind on failure (NR_ERR_IO, e.g. a full disk). CSV gets the
 * header x1,...,xD,y and numbers that read back to the same bits. */
nr_status nr_data_save(const nr_data *d, const char *path, nr_error *err);

/* Remove the temporary files of writes still in progress. Safe to call from
 * a signal handler (it only calls unlink), so that an interrupted program
 * leaves no partial file behind: the one process-wide state of the library. */
void nr_abandon_temp_files(void);

/* ------------------------------------------------------------------------ */
/* Synthetic data (src/gen.c)                                               */
/* ------------------------------------------------------------------------ */

typedef enum { NR_DIST_UNIFORM = 0, NR_DIST_NORMAL } nr_dist;

typedef struct {
    size_t rows;
    size_t features;       /* default 1 */
    const double *weights; /* `features` values; NULL: 1, 2, ..., D */
    double bias;           /* default 0.5 */
    double noise;          /* half-width S of the uniform noise U(-S, S); default 0.1 */
    nr_dist dist;          /* features ~ U(-1, 1) or N(0, 1) */
    nr_dtype dtype;        /* default NR_F32 */
    uint64_t seed;         /* default 42 */
    int threads;           /* 0: OpenMP's default */
} nr_gen_opts;

void nr_gen_defaults(nr_gen_opts *o);

/* Fill `out` (rows x (features+1), dtype as o->dtype) with synthetic data:
 * x_j ~ U(-1, 1) or N(0, 1), y = sum_j w_j x_j + bias + U(-noise, noise),
 * where y is computed in double from the stored (rounded) x values. Each
 * value is a function of (seed, row, column) only (SplitMix64 of a counter),
 * so rows are generated in parallel and the result is the same, bit for bit,
 * for any thread count. NR_ERR_ARG for invalid options. */
nr_status nr_gen_fill(const nr_gen_opts *o, void *out, nr_error *err);

/* Generate straight into `path` (.npy or .csv), atomically as nr_data_save
 * does; a .npy file is filled in place through a memory map, without a
 * second copy in memory. */
nr_status nr_gen_write(const nr_gen_opts *o, const char *path, nr_error *err);

/* ------------------------------------------------------------------------ */
/* Models                                                                   */
/* ------------------------------------------------------------------------ */

/* A linear neuron (identity activation): y = w.x + b on raw features. When
 * `standardized`, training happened on (x - mean) / std and the weights here
 * have already been mapped back to raw features; mean and std are kept for
 * the record. */
typedef struct {
    size_t features;
    double *weights; /* features */
    double bias;
    bool standardized;
    double *mean; /* features, or NULL */
    double *std;  /* features, or NULL */
} nr_model;

/* Allocate a model of `features` zero weights. */
nr_status nr_model_init(nr_model *m, size_t features, nr_error *err);
void nr_model_free(nr_model *m);

/* ------------------------------------------------------------------------ */
/* Per-sample SGD reference (src/reference.c)                               */
/* ------------------------------------------------------------------------ */

/* One epoch of the tutorial's per-sample SGD, generalised to d features, in
 * double precision and data order, operation for operation:
 *   pred = ((w0*x0 + w1*x1) + ...) + b;  loss += (pred - y)**2;
 *   g = (pred - y)*2;  w_j -= lr*(g*x_j);  b -= lr*g.
 * `w` (d values) and `*b` are updated in place; `*loss` receives the loss
 * summed over the epoch. Rows of f32 data are widened to double first. The
 * square is libm's pow(|r|, 2), as CPython computes `r ** 2` (it differs from
 * r*r in the last bit for about one residual in a thousand). Returns
 * NR_ERR_DIVERGED, with the sample's w and b not yet updated, where squaring
 * a finite residual overflows (CPython raises OverflowError there); NR_OK
 * otherwise, including when w and b have become Inf or NaN. This is the
 * ground truth the fast paths are tested against. */
nr_status nr_sgd_epoch(const nr_data *d, double lr, double *w, double *b, double *loss);

/* ------------------------------------------------------------------------ */
/* Training (src/trainer.c, src/kernels_*.c, src/dispatch.c)                */
/* ------------------------------------------------------------------------ */

typedef enum {
    NR_ALGO_SGD = 0,   /* per-sample SGD, the reference rule (nr_sgd_epoch) */
    NR_ALGO_BATCH,     /* full-batch gradient descent on the mean squared error */
    NR_ALGO_MINIBATCH, /* the same on batches of `batch` rows */
    NR_ALGO_OLS        /* closed-form least squares (no epochs) */
} nr_algo;

typedef enum { NR_SHUFFLE_NONE = 0, NR_SHUFFLE_BATCHES, NR_SHUFFLE_SAMPLES } nr_shuffle;

typedef enum { NR_KERNEL_AUTO = 0, NR_KERNEL_SCALAR, NR_KERNEL_AVX2 } nr_kernel_choice;

/* Name of the kernels a choice resolves to on this CPU ("scalar", "avx2"),
 * or NULL (with a message) when the CPU lacks them. */
const char *nr_kernel_name(nr_kernel_choice k, nr_error *err);

/* Called after every epoch with its number (1-based), its loss and the
 * throughput so far; a non-zero return stops training after this epoch
 * with stop_reason "interrupted" (how a SIGINT handler finishes an epoch). */
typedef int (*nr_epoch_fn)(void *ctx, int64_t epoch, double loss, double samples_per_second);

/* Polled during long computations that are not epochs: the pass of
 * statistics of --algo ols and of --exact. Called on the calling thread
 * between blocks of rows; a non-zero return abandons the run at once with
 * NR_ERR_INTERRUPTED and nothing trained (there is no epoch to finish: the
 * first Ctrl-C of a long ols stops it). */
typedef int (*nr_stop_fn)(void *ctx);

typedef struct {
    nr_algo algo;
    int64_t epochs;     /* >= 1 (default 100) */
    double lr;          /* > 0 (default 0.1; the CLI uses 0.001 for sgd) */
    size_t batch;       /* minibatch rows (default 4096) */
    int threads;        /* 0: OpenMP's default */
    uint64_t seed;      /* shuffles (default 42) */
    bool standardize;   /* train on (x - mean) / std of the training rows */
    double val_split;   /* hold out the last fraction [0, 1) of the rows */
    nr_shuffle shuffle; /* minibatch order (default batches) */
    double tol;         /* early stopping: an epoch improves when the monitored
                           loss drops by more than tol; < 0 disables (default) */
    int64_t patience;   /* epochs without improvement before stopping (5) */
    nr_kernel_choice kernel;
    bool exact; /* batch: O(d^2) epochs from one pass of statistics;
                   sgd: one epoch of the per-sample rule in data order
                   is built once as an affine map of (w, b) (O(n d^2),
                   parallel, deterministic; d <= 1024), then each
                   epoch costs O(d^2). Same recurrence, different
                   rounding: agrees to ~1e-9, not bit for bit. Where
                   rows expand (2 lr |z|^2 > 2) enough that rounding
                   inside an epoch grows over 1e4-fold, the maps and
                   the per-sample run cannot agree to 1e-9: the
                   per-sample epochs run instead (result's
                   exact_fallback). Losses of both come from the
                   statistics expanded about the least-squares
                   optimum (no cancellation near it; doc/exact.md).
                   Others: NR_ERR_ARG */
    nr_epoch_fn on_epoch;
    void *on_epoch_ctx;
    nr_stop_fn should_stop; /* NULL: never polled */
    void *should_stop_ctx;
} nr_train_opts;

void nr_train_defaults(nr_train_opts *o);

/* What a training run did. History arrays have epochs_run entries and are
 * owned by the result (nr_train_result_free). */
typedef struct {
    int64_t epochs_run;
    double train_loss; /* MSE of the final model on the training rows */
    double val_loss;   /* MSE on the held-out rows (NaN without --val-split) */
    double seconds;    /* wall time of the epochs */
    double samples_per_second;
    const char *stop_reason; /* "epochs", "tolerance", "interrupted", "closed form" */
    const char *kernel;      /* kernels used */
    int threads;             /* threads used */
    size_t train_rows, val_rows;
    double *loss;        /* per epoch: batch and sgd, the MSE at the weights the
                            epoch started from; minibatch, the mean of the batch
                            losses during the epoch */
    double *val_history; /* per epoch, or NULL */
    bool exact_fallback; /* --exact asked, the ordinary epochs ran (sgd near its
                            stability limit: see nr_train_opts.exact) */
    double *epoch_seconds;
} nr_train_result;

void nr_train_result_free(nr_train_result *r);

/* Train `m` (features must match the data; its weights and bias are the
 * starting point: nr_model_init gives zeros) on `d` with the options. On
 * success the model holds weights for raw features (standardization folded
 * in, and recorded). NR_ALGO_OLS solves the least-squares problem in closed
 * form with a rank decision that does not depend on the units of the
 * features (doc/exact.md): NR_ERR_INPUT naming a constant feature (spread
 * within 1e-11 of its mean) or one that earlier features explain to within
 * 1e-10 of its variance; NR_ERR_DIVERGED (exit 4) naming the feature or the
 * target whose sums of squares overflow a double; its result does not
 * depend on `standardize`, which is recorded in the model all the same.
 * NR_ERR_INTERRUPTED when `should_stop` asked to stop a pass of statistics
 * (ols, --exact). Returns NR_ERR_ARG for invalid options, NR_ERR_DIVERGED
 * when the loss becomes NaN/Inf or grows beyond 1e6 times its first value
 * (the message names the epoch and suggests a smaller learning rate),
 * NR_ERR_UNSUPPORTED for a kernel the CPU lacks. Bit-identical results for
 * any thread count: rows are reduced in fixed blocks, in a fixed order. */
nr_status nr_train(const nr_data *d, const nr_train_opts *o, nr_model *m, nr_train_result *res,
                   nr_error *err);

/* One pass of the chosen kernels over all rows of `d`: *loss_sum = sum r^2
 * and grad[j] = sum r x_j (j < d), grad[d] = sum r, with r = w.x + b - y.
 * The building block of the trainer, public for tests and benchmarks. */
nr_status nr_loss_grad(const nr_data *d, const double *w, double b, nr_kernel_choice k, int threads,
                       double *loss_sum, double *grad, nr_error *err);

/* The streaming-read baseline of the benchmarks: read every value of `d`
 * once with the chosen kernels, in the trainer's 4096-row blocks spread over
 * `threads` threads (0: all) in one parallel region, and return a checksum
 * in *sum so the reads cannot be optimised away. The checksum is not an
 * accurate sum (f32 blocks are summed in float lanes) and its last bits
 * depend on the thread count. An epoch cannot read the data faster than
 * this; the bench reports each trainer as a fraction of it. */
nr_status nr_data_sum(const nr_data *d, nr_kernel_choice k, int threads, double *sum,
                      nr_error *err);

/* ------------------------------------------------------------------------ */
/* Models on disk, prediction and evaluation (src/model.c, src/metrics.c)   */
/* ------------------------------------------------------------------------ */

/* Write `m` as JSON ({"format": "neuron-model", "version": 1, ...}) with
 * doubles that read back to the same bits, atomically (temp + rename).
 * `opts` (may be NULL) is recorded under "training". */
nr_status nr_model_save(const nr_model *m, const nr_train_opts *opts, const char *path,
                        nr_error *err);

/* Read a model written by nr_model_save. A newer format version, missing
 * fields, wrong types or non-finite numbers give NR_ERR_INPUT naming the
 * file and the field. `m` is initialised on success only. */
nr_status nr_model_load(nr_model *m, const char *path, nr_error *err);

/* Predictions w.x + b for every row of `d` into `out` (d->rows values). `d`
 * may hold a target column (features == m->features) or not (features + 1
 * == m->features: every column is a feature). */
nr_status nr_predict(const nr_model *m, const nr_data *d, double *out, nr_error *err);

typedef struct {
    size_t n;
    double mse, rmse, mae, r2;
} nr_metrics;

/* Metrics of `m` on `d` (features must match; the last column is the
 * target). R^2 = 1 - SSE/SST (NaN when the target is constant). */
nr_status nr_eval(const nr_model *m, const nr_data *d, nr_metrics *out, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
