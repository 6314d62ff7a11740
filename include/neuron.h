/*
 * neuron.h: train a single artificial neuron, y = phi(w.x + b), on millions
 * of points, and prove the numbers against a faithful reference.
 *
 * This header is the whole public API of libneuron and its documentation
 * (the tutorial experiment, which training does not need, is in
 * <neuron_tutorial.h>). Build against it with
 *     cc prog.c $(pkg-config --cflags --libs neuron)
 * or, for the static library, pkg-config --static --libs.
 *
 * Conventions, for every call unless its comment says otherwise:
 * - Status: a call that can fail returns an nr_status and, when `err` is not
 *   NULL, writes one line of text into it (no newline, no option names of
 *   any program). The library never prints and never exits. A stop that the
 *   caller's own callback asks for is not a failure: the call returns NR_OK
 *   and says so in its result (nr_train's stop_reason "interrupted").
 * - Arguments: a call that sets up, advances or frees an object the caller
 *   owns takes that object first (nr_model_init, nr_model_free,
 *   nr_*_defaults); every other call takes its inputs, then its outputs,
 *   then `nr_error *err` last.
 * - Failure outputs: when a call fails, its outputs are left as they were,
 *   except where its comment says what it leaves (nr_train). Pointers out
 *   (nr_dataset **out) are set on success only.
 * - Ownership: the library never keeps a pointer it was given beyond the
 *   call (except nr_data views, which point into the data set or buffer
 *   they view). What a call allocates for the caller is freed by the
 *   matching nr_*_free: nr_dataset_free, nr_model_free, nr_train_result_free.
 * - Threads: calls keep no hidden state and may run in several threads at
 *   once on different objects; const inputs may be shared between threads.
 *   The exception is writing files (nr_data_save, nr_gen_write,
 *   nr_model_save): they share a process-wide table of temporary files
 *   (see nr_abandon_temp_files) and read the umask by setting it, so call
 *   them from one thread at a time. The trainers use OpenMP threads inside
 *   a call (`threads` options); a callback runs on the calling thread.
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

/* Marks the functions libneuron exports. The library is built with hidden
 * visibility, so anything not marked is internal and not in the shared
 * library's symbol table. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define NR_API __attribute__((visibility("default")))
#else
#define NR_API
#endif

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
    NR_ERR_INTERRUPTED, /* not returned by libneuron (a stop asked by a callback
                           is a success); for a caller's own code, e.g. the CLI
                           maps it to exit code 130 */
    NR_ERR_INTERNAL     /* a bug: an invariant did not hold */
} nr_status;

/* Room for one line of error text, filled by a failing call. */
typedef struct {
    char msg[512];
} nr_error;

/* A short constant name for a status ("ok", "invalid argument", ...). */
NR_API const char *nr_status_str(nr_status s);

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
NR_API size_t nr_dtype_size(nr_dtype t);

/* An owned data set: memory-mapped from a file or held in memory. */
typedef struct nr_dataset nr_dataset;

typedef enum { NR_HEADER_AUTO = 0, NR_HEADER_YES, NR_HEADER_NO } nr_header_mode;

/* Options for reading a data file; see nr_load_defaults. */
typedef struct {
    nr_header_mode header; /* CSV: is the first line a header? AUTO: yes if any
                              of its fields is not a number */
    char delimiter;        /* CSV field separator; 0: by extension, a tab for
                              .tsv and ',' otherwise */
    const char *target;    /* target column: a header name or a 0-based index;
                              NULL: the last column */
    bool convert;          /* convert the values to `dtype` (else keep the
                              file's: .npy as stored, CSV as f64) */
    nr_dtype dtype;
} nr_load_opts;

/* Fill `o` with the defaults: header auto-detected, the delimiter from the
 * extension (tab for .tsv, else ','), the last column as target, dtype kept. */
NR_API void nr_load_defaults(nr_load_opts *o);

/* Read `path` into a data set, choosing the reader by extension (.npy, or
 * text: .csv, .tsv, .txt; anything else is refused; doc/formats.md). A .npy
 * file in C order, little-endian <f4 or <f8, whose target is the last column
 * and whose dtype is kept, is
 * memory-mapped read-only and used in place: no copy, so loading costs no
 * memory beyond the page cache. Other layouts (Fortran order, big-endian,
 * another target column, a dtype conversion) and CSV files are converted
 * into an owned buffer. Every value is checked: NaN or Inf is refused.
 * Failures return NR_ERR_INPUT, also for a target column the file does
 * not have (the file does not fit the request), with one line naming the
 * file and, where it can, the line or row and the column: "data.csv:17:
 * expected 3 fields, found 2"; NR_ERR_NOMEM when memory is short. On
 * success *out is a data set the caller frees with nr_dataset_free; on
 * failure *out is untouched. */
NR_API nr_status nr_dataset_load(const char *path, const nr_load_opts *o, nr_dataset **out,
                                 nr_error *err);

/* Allocate an owned, zero-filled data set of the given shape into *out (the
 * caller frees it with nr_dataset_free). NR_ERR_ARG for an unknown dtype,
 * NR_ERR_INPUT when rows * (features + 1) values overflow the address space
 * (as for a file announcing them), NR_ERR_NOMEM when memory is short; *out
 * is set on success only. */
NR_API nr_status nr_dataset_alloc(size_t rows, size_t features, nr_dtype dtype, nr_dataset **out,
                                  nr_error *err);

/* The view of a data set, owned by it (valid until nr_dataset_free). */
NR_API const nr_data *nr_dataset_view(const nr_dataset *ds);

/* Whether the values are the file's own pages, memory-mapped (no copy). */
NR_API bool nr_dataset_is_mapped(const nr_dataset *ds);

/* Writable values of a data set made by nr_dataset_alloc (NULL for a mapped
 * file). */
NR_API void *nr_dataset_mutable(nr_dataset *ds);

/* Release a data set (NULL is fine). */
NR_API void nr_dataset_free(nr_dataset *ds);

/* Write a data view to `path` (.npy v1.0 or .csv by extension), atomically:
 * to a temporary file in the same folder, then renamed over `path`; nothing
 * is left behind on failure (NR_ERR_IO, e.g. a full disk; NR_ERR_ARG for
 * another extension). CSV gets the header x1,...,xD,y and numbers that read
 * back to the same bits; a view of 0 features and no target (rows values,
 * as predictions are) is written as a 1-D .npy of shape (rows,) or a CSV of
 * one column. Not thread-safe (see the top of this header). */
NR_API nr_status nr_data_save(const nr_data *d, const char *path, nr_error *err);

/* Remove the temporary files of writes still in progress. Safe to call from
 * a signal handler (it only calls unlink), so that an interrupted program
 * leaves no partial file behind: the one process-wide state of the library.
 * The writes whose files it removed then fail; it is meant for a program
 * about to exit. */
NR_API void nr_abandon_temp_files(void);

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

/* Fill `o` with the defaults noted on each field (rows 0: set it). */
NR_API void nr_gen_defaults(nr_gen_opts *o);

/* Fill `out` (rows x (features+1), dtype as o->dtype) with synthetic data:
 * x_j ~ U(-1, 1) or N(0, 1), y = sum_j w_j x_j + bias + U(-noise, noise),
 * where y is computed in double from the stored (rounded) x values. Each
 * value is a function of (seed, row, column) only (SplitMix64 of a counter),
 * so rows are generated in parallel and the result is the same, bit for bit,
 * for any thread count. `out` holds rows * (features + 1) values and is the
 * caller's. NR_ERR_ARG for invalid options (`out` untouched). */
NR_API nr_status nr_gen_fill(const nr_gen_opts *o, void *out, nr_error *err);

/* Generate straight into `path` (.npy or .csv), atomically as nr_data_save
 * does; a .npy file is filled in place through a memory map, without a
 * second copy in memory. NR_ERR_ARG for invalid options or another
 * extension, NR_ERR_IO when writing fails (nothing left behind). Not
 * thread-safe (see the top of this header). */
NR_API nr_status nr_gen_write(const nr_gen_opts *o, const char *path, nr_error *err);

/* ------------------------------------------------------------------------ */
/* Models                                                                   */
/* ------------------------------------------------------------------------ */

/* A linear neuron (identity activation): y = w.x + b on raw features. When
 * `standardized`, training happened on (x - mean) / std and the weights here
 * have already been mapped back to raw features; mean and std are kept for
 * the record. The arrays are owned by the model: nr_model_init and
 * nr_model_load allocate them, nr_train may replace mean and std, and
 * nr_model_free releases them all; a caller may change the values in place
 * but must not free or replace the pointers. */
typedef struct {
    size_t features;
    double *weights; /* features */
    double bias;
    bool standardized;
    double *mean; /* features, or NULL */
    double *std;  /* features, or NULL */
} nr_model;

/* Set `m` up as a model of `features` (1 to 2^24) zero weights and bias 0,
 * not standardized. `m` is always initialised, also on failure (NR_ERR_ARG,
 * NR_ERR_NOMEM: then with no weights), so nr_model_free(m) is always safe. */
NR_API nr_status nr_model_init(nr_model *m, size_t features, nr_error *err);

/* Release what `m` owns and zero it (NULL is fine; freeing twice is fine). */
NR_API void nr_model_free(nr_model *m);

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
 * otherwise, including when w and b have become Inf or NaN. `loss` may be
 * NULL; `err` (may be NULL) gets the message on NR_ERR_DIVERGED. This is the
 * ground truth the fast paths are tested against. */
NR_API nr_status nr_sgd_epoch(const nr_data *d, double lr, double *w, double *b, double *loss,
                              nr_error *err);

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
NR_API const char *nr_kernel_name(nr_kernel_choice k, nr_error *err);

/* Called after every epoch, on the thread that called nr_train, with its
 * number (1-based), its loss and the throughput so far; a non-zero return
 * stops training after this epoch: nr_train then returns NR_OK with the
 * model of that epoch and stop_reason "interrupted" (how a SIGINT handler
 * finishes an epoch). */
typedef int (*nr_epoch_fn)(void *ctx, int64_t epoch, double loss, double samples_per_second);

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
                   rounding: agrees to ~1e-9, not bit for bit; a
                   squared residual overflowing inside an epoch is
                   not seen (divergence shows in the loss instead).
                   Others: NR_ERR_ARG */
    nr_epoch_fn on_epoch;
    void *on_epoch_ctx;
} nr_train_opts;

/* Fill `o` with the defaults noted on each field (algo batch). */
NR_API void nr_train_defaults(nr_train_opts *o);

/* What a training run did. History arrays have epochs_run entries and are
 * owned by the result (nr_train_result_free); the strings are constants. */
typedef struct {
    int64_t epochs_run;
    double train_loss; /* MSE of the final model on the training rows */
    double val_loss;   /* MSE on the held-out rows (NaN when val_split is 0) */
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
    double *epoch_seconds;
} nr_train_result;

/* Release the history arrays and zero `r` (freeing twice is fine). */
NR_API void nr_train_result_free(nr_train_result *r);

/* Train `m` (features must match the data; its weights and bias are the
 * starting point: nr_model_init gives zeros) on `d` with the options. On
 * success the model holds weights for raw features (standardization folded
 * in, and recorded). Returns NR_ERR_ARG for invalid options, NR_ERR_DIVERGED
 * when the loss becomes NaN/Inf or grows beyond 1e6 times its first value
 * (the message names the epoch and suggests a smaller learning rate),
 * NR_ERR_UNSUPPORTED for a kernel the CPU lacks. Bit-identical results for
 * any thread count: rows are reduced in fixed blocks, in a fixed order.
 * `res` is always written: on success it owns the history (free it with
 * nr_train_result_free); on failure it holds no arrays and `m` keeps the
 * weights it came with. A stop asked by on_epoch is a success. */
NR_API nr_status nr_train(const nr_data *d, const nr_train_opts *o, nr_model *m,
                          nr_train_result *res, nr_error *err);

/* One pass of the chosen kernels over all rows of `d`: *loss_sum = sum r^2
 * and grad[j] = sum r x_j (j < d), grad[d] = sum r, with r = w.x + b - y.
 * The building block of the trainer, public for tests and benchmarks.
 * `grad` has features + 1 entries. NR_ERR_UNSUPPORTED for kernels the CPU
 * lacks, NR_ERR_NOMEM; the outputs are written on success only. */
NR_API nr_status nr_loss_grad(const nr_data *d, const double *w, double b, nr_kernel_choice k,
                              int threads, double *loss_sum, double *grad, nr_error *err);

/* The streaming-read baseline of the benchmarks: read every value of `d`
 * once with the chosen kernels, in the trainer's 4096-row blocks spread over
 * `threads` threads (0: all) in one parallel region, and return a checksum
 * in *sum so the reads cannot be optimised away. The checksum is not an
 * accurate sum (f32 blocks are summed in float lanes) and its last bits
 * depend on the thread count. An epoch cannot read the data faster than
 * this; the bench reports each trainer as a fraction of it. */
NR_API nr_status nr_data_sum(const nr_data *d, nr_kernel_choice k, int threads, double *sum,
                             nr_error *err);

/* ------------------------------------------------------------------------ */
/* Models on disk, prediction and evaluation (src/model.c, src/metrics.c)   */
/* ------------------------------------------------------------------------ */

/* Write `m` as JSON ({"format": "neuron-model", "version": 1, ...}) with
 * doubles that read back to the same bits, atomically (temp + rename).
 * `opts` (may be NULL) is recorded under "training". NR_ERR_IO when
 * writing fails (nothing is left behind). Not thread-safe (see the top of
 * this header). */
NR_API nr_status nr_model_save(const nr_model *m, const nr_train_opts *opts, const char *path,
                               nr_error *err);

/* Read a model written by nr_model_save into `m` (its previous contents are
 * not freed: pass an unset or freed model). An unreadable file, a newer
 * format version, missing fields, wrong types or non-finite numbers give
 * NR_ERR_INPUT naming the file and the field. `m` is set on success only;
 * the caller then frees it with nr_model_free. */
NR_API nr_status nr_model_load(const char *path, nr_model *m, nr_error *err);

/* Predictions w.x + b for every row of `d` into `out` (d->rows values). `d`
 * may hold a target column (features == m->features) or not (features + 1
 * == m->features: every column is a feature); otherwise NR_ERR_INPUT with
 * `out` untouched. */
NR_API nr_status nr_predict(const nr_model *m, const nr_data *d, double *out, nr_error *err);

typedef struct {
    size_t n;
    double mse, rmse, mae, r2;
} nr_metrics;

/* Metrics of `m` on `d` (features must match; the last column is the
 * target). R^2 = 1 - SSE/SST (NaN when the target is constant). NR_ERR_INPUT
 * when the features differ or there are no rows, `out` untouched. */
NR_API nr_status nr_eval(const nr_model *m, const nr_data *d, nr_metrics *out, nr_error *err);

#ifdef __cplusplus
}
#endif
#endif
