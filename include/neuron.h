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
    NR_ERR_IO,          /* reading or writing failed after the file was opened and
                           checked: an output (disk full, permissions), streamed or
                           shared rows that can no longer be read (nr_partition), or
                           the exchange between processes */
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

/* NR_F16 is IEEE 754 binary16 (NumPy's float16, '<f2'), held as uint16_t
 * bit patterns: half the bytes of f32 for data that fit its 11 significant
 * bits and its range (largest finite 65504). Every f16 value is exactly a
 * float and a double, so the library widens it where it computes: training
 * on f16 data gives the same bits as training on an f32 file of the widened
 * values. */
typedef enum { NR_F32 = 0, NR_F64 = 1, NR_F16 = 2 } nr_dtype;

/* A read-only view of a data set: `rows` rows of `features` + 1 values, row
 * major, the target in the last column, each value a float (NR_F32), a
 * double (NR_F64) or a half's bits (NR_F16, uint16_t). Row i, feature j is
 * values[i * (features + 1) + j]. The view does not own `values`. */
typedef struct {
    size_t rows;
    size_t features;
    nr_dtype dtype;
    const void *values;
} nr_data;

/* Size in bytes of one value of the given dtype (2, 4 or 8). */
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
 * file in C order, little-endian <f2, <f4 or <f8, whose target is the last
 * column and whose dtype is kept, is
 * memory-mapped read-only and used in place: no copy, so loading costs no
 * memory beyond the page cache. Other layouts (Fortran order, big-endian,
 * another target column, a dtype conversion) and CSV files are converted
 * into an owned buffer. Every value is checked: NaN or Inf is refused, and
 * so is a value that a conversion to NR_F16 would round beyond 65504 (the
 * message names its row and column); conversions to NR_F16 round each
 * value once, from the double read, to the nearest half (ties to even).
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
 * back to the same bits (f16: each half as the shortest text of its float,
 * which rounds back to the same half); a view of 0 features and no target (rows values,
 * as predictions are) is written as a 1-D .npy of shape (rows,) or a CSV of
 * one column. Not thread-safe (see the top of this header). */
NR_API nr_status nr_data_save(const nr_data *d, const char *path, nr_error *err);

/* Remove the temporary files of writes still in progress. Safe to call from
 * a signal handler (it only calls unlink), so that an interrupted program
 * leaves no partial file behind: the one process-wide state of the library.
 * The writes whose files it removed then fail; it is meant for a program
 * about to exit. */
NR_API void nr_abandon_temp_files(void);

/* Reliability (issue 13): which mapped input file holds `addr`, for a
 * SIGBUS handler. nr_dataset_load maps .npy files (for the life of the data
 * set) and CSV files (while parsing); when another program truncates such a
 * file, the next read of a vanished page raises SIGBUS in the reading
 * thread. The library installs no handler; a program that wants a clean
 * error instead of a crash installs one (SA_SIGINFO) and calls this with
 * si_addr: the file's path, or NULL for an address in no mapped input.
 * Async-signal-safe (it reads a fixed table, no locks); the string stays
 * valid while the mapping lives. The `neuron` CLI reports "FILE: the file
 * shrank while it was being read" and exits 3. */
NR_API const char *nr_mapped_file_at(const void *addr);

/* Reliability rules of the calls above and below (issue 13), in one place:
 *  - Writers (nr_data_save, nr_gen_write, nr_model_save) replace only a
 *    regular file or create one: a directory, device, FIFO or socket is
 *    NR_ERR_ARG; a symbolic link is followed (its target is replaced, the
 *    link stays), a link to nothing is NR_ERR_ARG. The temporary file is
 *    fsynced and closed before the rename, each checked (NR_ERR_IO).
 *  - Readers (nr_dataset_load, nr_model_load) open without blocking and
 *    refuse what is not a regular file (NR_ERR_INPUT, naming its kind);
 *    a UTF-8 byte order mark is skipped; a model with anything but blanks
 *    after its JSON object is NR_ERR_INPUT.
 *  - nr_predict and nr_eval return NR_ERR_DIVERGED, naming the 1-based row,
 *    when a prediction is not finite, and nr_eval when a metric overflows;
 *    nothing non-finite is returned as a result.
 *  - nr_gen_fill and nr_gen_write return NR_ERR_ARG when the parameters can
 *    give targets beyond the dtype's largest finite value; for NR_F16,
 *    whose range is small, the values themselves are checked instead and
 *    the first (row, column) that rounds beyond 65504 is named (`out` is
 *    then partly written; nr_gen_write leaves no file). */

/* ------------------------------------------------------------------------ */
/* Synthetic data (src/gen.c)                                               */
/* ------------------------------------------------------------------------ */

typedef enum { NR_DIST_UNIFORM = 0, NR_DIST_NORMAL } nr_dist;

/* What the target column holds: y = w.x + b + noise, or class labels 0/1. */
typedef enum { NR_TASK_REGRESS = 0, NR_TASK_CLASSIFY } nr_task;

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
    nr_task task;          /* default NR_TASK_REGRESS */
    bool separable;        /* classify: y = [w.x + b > 0] instead of Bernoulli */
    double margin;         /* separable: no point closer than this to w.x + b = 0 */
    double flip;           /* classify: probability in [0, 1] of flipping a label */
} nr_gen_opts;

/* Fill `o` with the defaults noted on each field (rows 0: set it). */
NR_API void nr_gen_defaults(nr_gen_opts *o);

/* Fill `out` (rows x (features+1), dtype as o->dtype) with synthetic data:
 * x_j ~ U(-1, 1) or N(0, 1), y = sum_j w_j x_j + bias + U(-noise, noise),
 * where y is computed in double from the stored (rounded) x values. Each
 * value is a function of (seed, row, column) only (SplitMix64 of a counter),
 * so rows are generated in parallel and the result is the same, bit for bit,
 * for any thread count. `out` holds rows * (features + 1) values and is the
 * caller's. NR_ERR_ARG for invalid options (`out` untouched).
 *
 * NR_TASK_CLASSIFY: the same x, z = w.x + b (noise unused), and the label
 * y = 1 with probability sigmoid(z): y = [u < sigmoid(z)] with u a uniform
 * of the target's cell. `separable` gives y = [z > 0] instead, and a row
 * whose point lies closer than `margin` to the boundary (|z| / |w| < margin,
 * checked on the stored values) is drawn again from counters of its own,
 * at most 1000 times: the points are x's distribution conditioned on the
 * margin (NR_ERR_ARG naming the first such row if the margin is too wide to
 * be reached). Then each label is flipped with probability `flip`, decided
 * by a second uniform of the target's cell. Same bits for any thread count.
 *
 * NR_F16: each value is rounded once from its double to the nearest half
 * (ties to even; never through a float, which would round twice), and y
 * is computed from the stored x as for the other types. */
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

/* The neuron's activation phi: identity (regression,
 * y = z), sigmoid (logistic regression, y = 1 / (1 + exp(-z)), a probability)
 * or step (the perceptron, y = 1 if z > 0 else 0), with z = w.x + b.
 * Training with sigmoid on f32 or f16 data under the AVX2 kernel computes
 * each row's loss and residual sigmoid(z) - y within 2^-21 relative (exp,
 * log1p and the sigmoid in f32; z and every sum in double); f64 data and
 * the scalar kernel stay in double throughout. */
typedef enum { NR_ACT_IDENTITY = 0, NR_ACT_SIGMOID, NR_ACT_STEP } nr_activation;

/* A neuron y = phi(w.x + b) on raw features. When `standardized`, training
 * happened on (x - mean) / std and the weights here have already been mapped
 * back to raw features; mean and std are kept for the record. nr_model_init
 * gives the identity activation. The arrays are owned by the model:
 * nr_model_init and nr_model_load allocate them, nr_train may replace mean
 * and std, and nr_model_free releases them all; a caller may change the
 * values in place but must not free or replace the pointers. */
typedef struct {
    size_t features;
    double *weights; /* features */
    double bias;
    bool standardized;
    double *mean; /* features, or NULL */
    double *std;  /* features, or NULL */
    nr_activation activation;
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
 *   pred = dot(w, x) + b;  loss += (pred - y)**2;
 *   g = (pred - y)*2;  w_j -= lr*(g*x_j);  b -= lr*g.
 * dot(w, x) is summed in this fixed order (doc/sgd-order.md),
 * for a dependency chain of about d/4 + 2 additions instead of d: partial
 * sums p_c = w_c*x_c + w_{c+4}*x_{c+4} + ... over the features j = c (mod 4),
 * each left to right, then dot = (p0 + p1) + (p2 + p3), a missing partial
 * (d < 4) being -0.0, which adds nothing. So d = 1 is w0*x0 + b, the
 * tutorial's bits; d = 2 and 3 are left to right; from d = 5 on the order
 * differs from a left-to-right sum. Every kernel that runs this rule uses
 * this order; there is no FMA anywhere in it. This function is the scalar
 * reference; nr_train's sgd runs the same rule on the kernels it chose
 * (nr_train_opts.kernel), with the same bits.
 * `w` (d values) and `*b` are updated in place; `*loss` receives the loss
 * summed over the epoch. Rows of f32 data are widened to double first; f16
 * data are NR_ERR_ARG (nr_train widens them to an f32 copy for sgd). The
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
/* Training (src/trainer.c, src/train/, src/objective.c, src/kernels_*.c)   */
/* ------------------------------------------------------------------------ */

typedef enum {
    NR_ALGO_SGD = 0,   /* per-sample SGD, the reference rule (nr_sgd_epoch) */
    NR_ALGO_BATCH,     /* full-batch gradient descent on the mean squared error */
    NR_ALGO_MINIBATCH, /* the same on batches of `batch` rows */
    NR_ALGO_OLS,       /* closed-form least squares (no epochs) */
    NR_ALGO_NEWTON     /* Newton / IRLS with a line search: one pass and one
                          (d+1)-square solve per epoch, to the optimum of the
                          logistic loss (or of the squared error) */
} nr_algo;

typedef enum { NR_SHUFFLE_NONE = 0, NR_SHUFFLE_BATCHES, NR_SHUFFLE_SAMPLES } nr_shuffle;

typedef enum { NR_KERNEL_AUTO = 0, NR_KERNEL_SCALAR, NR_KERNEL_AVX2 } nr_kernel_choice;

/* The loss: the activation's own (squared error, logistic, perceptron), or
 * Huber's for the identity: (1/2) r^2 for |r| <= delta, else
 * delta (|r| - delta/2), the loss of PyTorch's HuberLoss and (as "epsilon")
 * of scikit-learn's SGDRegressor(loss='huber'). */
typedef enum { NR_LOSS_DEFAULT = 0, NR_LOSS_HUBER } nr_loss;

/* Learning-rate schedules, with lr0 the learning rate:
 *   constant    lr0;
 *   invscaling  lr0 / t^power_t, t the 1-based count of steps (of samples
 *               for sgd, of batches otherwise) over the whole run:
 *               scikit-learn's learning_rate='invscaling';
 *   step        lr0 gamma^floor((e - 1) / lr_step) in epoch e (1-based):
 *               PyTorch's StepLR(step_size, gamma);
 *   cosine      lr0 (1 + cos(pi (e - 1) / epochs)) / 2: PyTorch's
 *               CosineAnnealingLR(T_max=epochs, eta_min=0). */
typedef enum { NR_LR_CONSTANT = 0, NR_LR_INVSCALING, NR_LR_STEP, NR_LR_COSINE } nr_lr_schedule;

/* What a diverging epoch does: stop with NR_ERR_DIVERGED, or back off:
 * restore the parameters (and optimizer state) of the last epoch whose loss
 * and weights were finite, halve the learning rate and go on, at most
 * NR_MAX_BACKOFFS times. */
typedef enum { NR_DIVERGE_STOP = 0, NR_DIVERGE_BACKOFF } nr_on_divergence;

#define NR_MAX_BACKOFFS 10

/* Called on each backoff with the epoch that diverged, the epoch training
 * restarts from, the new learning rate and the reason (the divergence
 * message). */
typedef void (*nr_backoff_fn)(void *ctx, int64_t epoch, int64_t restart, double lr,
                              const char *why);

/* Name of the kernels a choice resolves to on this CPU ("scalar", "avx2"),
 * or NULL (with a message) when the CPU lacks them. */
NR_API const char *nr_kernel_name(nr_kernel_choice k, nr_error *err);

/* Called after every epoch, on the thread that called nr_train, with its
 * number (1-based), its loss and the throughput so far; a non-zero return
 * stops training after this epoch: nr_train then returns NR_OK with the
 * model of that epoch and stop_reason "interrupted" (how a SIGINT handler
 * finishes an epoch). */
typedef int (*nr_epoch_fn)(void *ctx, int64_t epoch, double loss, double samples_per_second);

/* Data-parallel training over several processes (neuron-mpi; doc/mpi.md). The n rows are cut into
 * `parts` contiguous shares, process k holding global rows [bounds[k], bounds[k + 1]) (bounds[0] =
 * 0, bounds[parts] = n, nondecreasing). This process is `part`; the nr_data given to nr_train has
 * rows = n, but its values hold only rows [bounds[part], hi + 4095) clipped
 * to n, starting at row bounds[part]: the trainer's 4096-row blocks are then
 * computed by the process whose share holds their first row, and their
 * partial sums are gathered and added in global block order, which gives
 * the same bits as one process holding every row. `gather` must leave in
 * `all` each process's `counts[k]` doubles at `all + displs[k]`, process by
 * process (this process's own are already in place, as MPI_Allgatherv with
 * MPI_IN_PLACE expects); it returns 0, or non-zero on failure. Every process
 * must call nr_train with the same options, and stop after the same epoch. */
typedef struct {
    int parts, part;
    const size_t *bounds; /* parts + 1 row indices */
    int (*gather)(void *ctx, double *all, const int *counts, const int *displs);
    void *ctx;
    /* Streaming (NULL: the rows are in memory as above). Otherwise the
     * values of the nr_data are not read: every thread of a pass fetches
     * its own runs of whole blocks (about 256 KiB, or one block when a
     * block is larger) into its own buffer and sums them at once, so
     * `read` is called from several threads at the same time and must be
     * safe for that (pread is). read(read_ctx, row, rows, buf) must fill
     * buf with global rows [row, row + rows) (row-major, the data's dtype)
     * and return 0, or non-zero on failure: nr_train then fails with
     * NR_ERR_IO, "reading rows A to B failed" naming (1-based) the first
     * rows that could not be read, whatever the algorithm, at the same
     * pass on every process (the failing process's blocks are NaN in the
     * gather, and the NaN sums make every process gather the statuses and
     * the failing one's message: the others' message is "process K: "
     * followed by it). NaN sums without a failed read remain a divergence
     * (NR_ERR_DIVERGED). */
    int (*read)(void *read_ctx, size_t row, size_t rows, void *buf);
    void *read_ctx;
} nr_partition;

/* Polled during long computations that are not epochs: the pass of
 * statistics of --algo ols and of --exact. Called on the calling thread
 * between blocks of rows; a non-zero return abandons the run at once with
 * NR_ERR_INTERRUPTED and nothing trained (there is no epoch to finish: the
 * first Ctrl-C of a long ols stops it). */
typedef int (*nr_stop_fn)(void *ctx);

typedef struct {
    nr_algo algo;
    nr_activation activation; /* phi, and with it the loss (default identity) */
    int64_t epochs;           /* >= 1 (default 100) */
    double lr;                /* > 0 (default 0.1; the CLI uses 0.001 for sgd) */
    size_t batch;             /* minibatch rows (default 4096; see nr_train for threads) */
    int threads;              /* 0: OpenMP's default */
    uint64_t seed;            /* shuffles (default 42) */
    bool standardize;         /* train on (x - mean) / std of the training rows */
    double val_split;         /* hold out the last fraction [0, 1) of the rows */
    nr_shuffle shuffle;       /* minibatch order (default batches) */
    double tol;               /* early stopping: an epoch improves when the monitored
                                 loss drops by more than tol; < 0 disables (default).
                                 The monitored loss is the validation loss when
                                 val_split > 0, else the epoch's training loss */
    int64_t patience;         /* epochs without improvement before stopping (5) */
    bool restore_best;        /* end with the parameters of the best monitored loss
                                 (the weights that epoch started from) instead of
                                 the last epoch's; result->best_epoch says which */
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
    /* Training options of the peers. Penalties are added
     * to the mean loss, on the weights only (never the bias), on the
     * standardized weights with `standardize`: l2 >= 0 adds (l2/2)|w|^2
     * (a gradient term for every optimizer, ridge for ols, a Hessian term
     * for newton); l1 >= 0 adds l1 |w|_1 (batch and minibatch: a proximal
     * soft-threshold after each step; sgd: the cumulative penalty of
     * Tsuruoka, Tsujii and Ananiadou (2009) as scikit-learn applies it; not
     * ols, newton or exact). Both together: the elastic net. The epoch
     * losses in the result stay the data loss, without the penalty. */
    double l2, l1;
    nr_loss loss; /* NR_LOSS_HUBER: identity only; not ols/newton/exact */
    double delta; /* Huber's threshold > 0 (default 1, PyTorch's) */
    nr_lr_schedule lr_schedule;
    double power_t;  /* invscaling exponent (default 0.25, scikit-learn's) */
    int64_t lr_step; /* step: epochs between decays, >= 1 (default 30) */
    double lr_gamma; /* step: factor per decay, in (0, 1] (default 0.1) */
    double momentum; /* in [0, 1): PyTorch's SGD momentum (dampening 0):
                        buf = momentum buf + g (buf = g at the first step),
                        then the step is buf, or g + momentum buf with
                        nesterov. The gradient g includes the L2 term. */
    bool nesterov;   /* needs momentum > 0 */
    bool average;    /* Polyak averaging: the model is the mean of the
                        iterates after every step of the run (scikit-learn's
                        average=True); epoch losses are the iterates' */
    nr_on_divergence on_divergence;
    nr_backoff_fn on_backoff; /* may be NULL */
    void *on_backoff_ctx;
    /* NULL: this process holds every row (the default). Otherwise the rows
     * are shared between processes (every algorithm but sgd, and minibatch
     * not with NR_SHUFFLE_SAMPLES: those give NR_ERR_ARG) */
    const nr_partition *partition;
    /* Checkpoints (epoch optimizers but newton): every checkpoint_every
     * epochs the whole training state is written atomically to
     * `checkpoint` (NULL: never; with a partition, by part 0 only);
     * `resume` (NULL: start afresh) continues from such a file, which must
     * come from the same options and data (else NR_ERR_INPUT), and the run
     * then ends with the bits of one never stopped. Costs one pass at the
     * start for the data's fingerprint. A checkpoint holding `epochs`
     * epochs already trains none (epochs_run = epochs, no on_epoch call);
     * one holding more is NR_ERR_ARG naming both numbers. */
    const char *checkpoint;
    int64_t checkpoint_every;
    const char *resume;
    nr_stop_fn should_stop; /* NULL: never polled */
    void *should_stop_ctx;
} nr_train_opts;

/* Fill `o` with the defaults noted on each field (algo batch). */
NR_API void nr_train_defaults(nr_train_opts *o);

/* What a training run did. History arrays have epochs_run entries and are
 * owned by the result (nr_train_result_free); the strings are constants. */
typedef struct {
    int64_t epochs_run;
    double train_loss; /* mean loss of the final model on the training rows
                          (MSE for the identity, Huber's loss with
                          NR_LOSS_HUBER, the activation's loss otherwise:
                          doc/formats.md; never the penalty) */
    double val_loss;   /* the same on the held-out rows (NaN without them) */
    double seconds;    /* wall time of the epochs */
    double samples_per_second;
    const char *stop_reason; /* "epochs", "tolerance", "interrupted", "closed form",
                                "converged" (newton) */
    int64_t best_epoch;      /* restore_best: the epoch whose start weights were kept
                                (0 otherwise) */
    const char *kernel;      /* kernels used */
    int threads;             /* threads used */
    size_t train_rows, val_rows;
    double *loss;        /* per epoch, the objective's mean loss (MSE for the
                            identity): batch, sgd and --exact, at the weights the
                            epoch started from; minibatch, the sum of the batches'
                            row losses, each batch's at the weights it started
                            from, over the training rows (not the mean of the
                            batch means: they differ when the last batch is
                            short); newton, at the iterate the epoch accepted */
    double *val_history; /* per epoch, or NULL */
    bool exact_fallback; /* --exact asked, the ordinary epochs ran (sgd near its
                            stability limit: see nr_train_opts.exact) */
    double *epoch_seconds;
    int backoffs; /* on_divergence backoff: how many times, and each one's */
    int64_t backoff_epoch[NR_MAX_BACKOFFS];   /* epoch that diverged */
    int64_t backoff_restart[NR_MAX_BACKOFFS]; /* epoch training went on from */
    double backoff_lr[NR_MAX_BACKOFFS];       /* learning rate after it */
} nr_train_result;

/* Release the history arrays and zero `r` (freeing twice is fine). */
NR_API void nr_train_result_free(nr_train_result *r);

/* Train `m` (features must match the data; its weights and bias are the
 * starting point: nr_model_init gives zeros) on `d` with the options. The
 * activation picks the loss: identity, the mean squared
 * error; sigmoid, the logistic loss; step, the perceptron criterion (and
 * the per-sample rule w += lr (y - step(z)) x for sgd). For sigmoid and step
 * every target, held-out rows included, must be 0/1 or every one -1/+1
 * (read as 0/1). ols and --exact need the identity, newton a loss with a
 * Hessian (identity or sigmoid; it ignores lr). On success the model holds
 * weights for raw features (standardization folded in, and recorded) and
 * the activation. Returns NR_ERR_ARG for invalid options or pairs of them;
 * NR_ERR_INPUT for a target that is not a label (the message names the
 * 1-based row, not the file), for ols without a unique solution, and for
 * newton on separable classes (no finite optimum: the message says so) or
 * a singular Hessian; NR_ERR_DIVERGED when the loss or the parameters
 * become NaN/Inf or the loss grows beyond 1e6 times its first value (the
 * message names the epoch and what went non-finite, and no option: the
 * caller knows its own), unless on_divergence backs off (then only when
 * NR_MAX_BACKOFFS halvings did not help; each one is in the result and
 * goes to on_backoff); NR_ERR_INTERRUPTED when `should_stop` asked to
 * stop a pass of statistics (ols, --exact); NR_ERR_UNSUPPORTED for a
 * kernel the CPU lacks. The
 * peers' options (l2 ... on_divergence) apply as documented at
 * each field; a pair that cannot be honoured (l1 or huber with ols or
 * newton, any of them with sgd --exact, average with restore_best, huber
 * with a classifier) is NR_ERR_ARG naming them. With none of them set the
 * trainer runs exactly as without them, bit for bit. NR_ALGO_OLS solves the least-squares problem
 * in closed form with a rank decision that does not depend on the units of the features
 * (doc/exact.md): NR_ERR_INPUT naming a constant feature (spread within 1e-11 of its mean) or one
 * that earlier features explain to within 1e-10 of its variance; NR_ERR_DIVERGED naming the feature
 * or the target whose sums of squares overflow a double (batch --exact likewise); its result does
 * not depend on `standardize`, which is recorded in the model all the same (without l2: with it,
 * the penalty is on the standardized weights). Bit-identical results for any thread count: rows are
 * reduced in fixed blocks, in a fixed order: a pass over m rows (a full batch, a mini-batch, the
 * held-out rows) is cut into blocks of 4096 rows when m > 4096, of 512 rows otherwise, each
 * block's sums computed by one thread and the blocks' sums added in block order from zero, so a
 * mini-batch of all n rows is exactly a full batch. minibatch spreads each batch's blocks over the
 * threads (one parallel region per epoch, one barrier per batch): a batch of B <= 4096 rows uses
 * up to ceil(B / 512) threads. `res` is always written: on success it owns the
 * history (free it with nr_train_result_free); on failure it holds no arrays
 * and `m` keeps the weights it came with. A stop asked by on_epoch is a
 * success. NR_F16 data give the bits of an f32 data set of the same
 * (widened) values with every algorithm: batch and minibatch widen each
 * block as they pass over it; the others train on a widened f32 copy made
 * for the call (twice the f16 bytes, NR_ERR_NOMEM if it does not fit);
 * rows shared between processes (`partition`) cannot be f16 (NR_ERR_ARG). */
NR_API nr_status nr_train(const nr_data *d, const nr_train_opts *o, nr_model *m,
                          nr_train_result *res, nr_error *err);

/* One pass of the chosen kernels over all rows of `d`: *loss_sum = sum r^2
 * and grad[j] = sum r x_j (j < d), grad[d] = sum r, with r = w.x + b - y.
 * The building block of the trainer, public for tests and benchmarks.
 * `grad` has features + 1 entries. NR_ERR_UNSUPPORTED for kernels the CPU
 * lacks, NR_ERR_NOMEM; the outputs are written on success only. */
NR_API nr_status nr_loss_grad(const nr_data *d, const double *w, double b, nr_kernel_choice k,
                              int threads, double *loss_sum, double *grad, nr_error *err);

/* The streaming-read roof of the benchmarks (src/roof.c): the fastest plain
 * read of every value of `d` the compiler and the machine allow, and its sum
 * in *sum so that the reads cannot be optimised away. Each of `threads`
 * threads (0: all) sums one contiguous share of the values in one OpenMP
 * region, in the data's own type with no widening (float lanes for f32,
 * several vector accumulators); `k` picks the plain C build or the AVX2 one.
 * The checksum is exact only for values whose partial sums are exactly
 * representable (small integers); otherwise it carries the float rounding
 * of the order above, which depends on the thread count. f16 values are
 * summed as their 16-bit patterns (integers, wrapping): the same bytes read
 * at the same width, and *sum then a checksum rather than a sum of values.
 * An epoch, which must read the same bytes, cannot be faster than this. */
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

/* Predictions phi(w.x + b) for every row of `d` into `out` (d->rows
 * values): w.x + b for identity models, probabilities in [0, 1] for sigmoid
 * models (computed without overflow for any z), 0 or 1 for step models.
 * `d` may hold a target column (features == m->features) or not (features
 * + 1 == m->features: every column is a feature); otherwise NR_ERR_INPUT with `out` untouched. */
NR_API nr_status nr_predict(const nr_model *m, const nr_data *d, double *out, nr_error *err);

typedef struct {
    size_t n;
    double mse, rmse, mae, r2;
} nr_metrics;

/* Metrics of an identity model `m` on `d` (features must match; the last
 * column is the target). R^2 = 1 - SSE/SST (NaN when the target is
 * constant). Classifiers get NR_ERR_ARG: see nr_eval_classify. NR_ERR_INPUT
 * when the features differ or there are no rows, `out` untouched. */
NR_API nr_status nr_eval(const nr_model *m, const nr_data *d, nr_metrics *out, nr_error *err);

/* ------------------------------------------------------------------------ */
/* Classification: labels and metrics (src/metrics_class.c)                 */
/* ------------------------------------------------------------------------ */

/* Predicted labels, 0 or 1, for every row of `d` into `out`: for sigmoid
 * models 1 where the probability nr_predict gives is above `threshold`
 * (strictly: at 0.5 these are the labels of z > 0, as scikit-learn's predict
 * and the step function give them, except for 0 < z < ~1e-16, whose
 * probability rounds to 0.5); for step models the step itself. Shapes
 * as for nr_predict. NR_ERR_ARG for an identity model, which has no labels,
 * or a threshold outside [0, 1]. */
NR_API nr_status nr_predict_labels(const nr_model *m, const nr_data *d, double threshold,
                                   double *out, nr_error *err);

/* Why a metric was undefined and set to 0 (or left out), as bits of
 * nr_class_metrics.warnings; nr_class_warning_str names them. */
enum {
    NR_WARN_PRECISION = 1, /* no predicted positives: precision := 0 */
    NR_WARN_RECALL = 2,    /* no positive labels: recall := 0 */
    NR_WARN_F1 = 4,        /* neither positive labels nor predictions: f1 := 0 */
    NR_WARN_ROC_AUC = 8    /* the labels hold one class only: roc_auc is NaN */
};

/* Binary classification metrics with scikit-learn's definitions (1.2), the
 * positive class being 1. Confusion counts at the threshold; accuracy =
 * (tp + tn) / n; precision = tp / (tp + fp), recall = tp / (tp + fn), each 0
 * when its denominator is (with a warning bit, as sklearn's zero_division=
 * "warn"); f1 = 2 p r / (p + r), 0 when p + r = 0. With probabilities:
 * log_loss = mean of -log q, q the probability given to the true class after
 * clipping p to [eps, 1 - eps] (eps = 2^-52, sklearn's "auto" for float64)
 * and renormalising [1 - p, p] as sklearn does; defined also when the labels
 * hold one class (sklearn with labels=[0, 1]). roc_auc = the Mann-Whitney
 * statistic, P(score of a positive > score of a negative) with ties counted
 * 1/2: sklearn's trapezoid over distinct thresholds, counted here exactly in
 * integers; NaN with NR_WARN_ROC_AUC when one class is absent (where sklearn
 * raises). Without probabilities, log_loss and roc_auc are NaN. */
typedef struct {
    size_t n;
    uint64_t tp, fp, tn, fn;
    double accuracy, precision, recall, f1;
    double log_loss, roc_auc;
    unsigned warnings; /* NR_WARN_* bits */
} nr_class_metrics;

/* Name and meaning of one NR_WARN_* bit ("precision is undefined (no
 * predicted positives) and set to 0"), or NULL for another value. */
NR_API const char *nr_class_warning_str(unsigned bit);

/* Metrics of `n` predictions against `labels` (0/1, or -1/+1 mapped to 0/1;
 * any other value, or a mix of 0 and -1, is NR_ERR_INPUT naming the 1-based
 * row). `scores` are probabilities in [0, 1] when `probabilities` (labelled
 * 1 above `threshold`, as nr_predict_labels does), else predicted labels
 * 0/1; anything else is NR_ERR_ARG naming the row. n >= 1. Deterministic:
 * sums are taken in fixed blocks and a fixed order for any thread count. */
NR_API nr_status nr_class_metrics_compute(const double *labels, const double *scores, size_t n,
                                          bool probabilities, double threshold,
                                          nr_class_metrics *out, nr_error *err);

/* The metrics of a sigmoid or step model `m` on `d` (features must match; the
 * last column holds the labels), as nr_class_metrics_compute computes them on
 * nr_predict's output: probabilities for sigmoid models, labels for step
 * models. NR_ERR_ARG for an identity model (use nr_eval), NR_ERR_INPUT for a
 * label that is not a class label. Needs about 40 bytes of memory per row. */
NR_API nr_status nr_eval_classify(const nr_model *m, const nr_data *d, double threshold,
                                  nr_class_metrics *out, nr_error *err);

/* ------------------------------------------------------------------------ */
/* Benchmark statistics (src/stats.c)                                       */
/* ------------------------------------------------------------------------ */

/* A set of timings (or ratios) summarised as a benchmark reports it. The
 * quartiles interpolate linearly between order statistics (Hyndman and
 * Fan's type 7: numpy's default percentile, Python's
 * statistics.quantiles(method="inclusive")). spread = (q3 - q1) / median,
 * the relative interquartile range: one outlier (an interrupt, a page fault)
 * does not move it, a machine that keeps changing speed does. */
typedef struct {
    size_t n;
    double min, q1, median, q3, max;
    double spread;
    bool noisy; /* spread > the threshold it was summarised with */
} nr_summary;

/* The relative interquartile range above which a figure is noisy (10%). */
#define NR_NOISY_SPREAD 0.10

/* Summarise `n` >= 1 finite values (not modified) into `s`; `noisy_above`
 * is the spread threshold (NR_NOISY_SPREAD by default). NR_ERR_ARG for n = 0
 * or a non-finite value, NR_ERR_NOMEM when a copy cannot be made. A median
 * of 0 gives a spread of 0 when all values are 0, else infinity. */
NR_API nr_status nr_summarize(const double *v, size_t n, double noisy_above, nr_summary *s,
                              nr_error *err);

/* One timed run of something: store its seconds in *seconds. */
typedef nr_status (*nr_measure_fn)(void *ctx, double *seconds, nr_error *err);

/* How nr_measure_pair repeats: `warmup` pairs run first and are discarded;
 * then rounds of `reps` pairs (a, b, a, b, ...); after each round, while
 * the ratio b/a of the pairs so far is noisy and fewer than `max_rounds`
 * rounds ran, another round is added to the same sample. With
 * `min_seconds` > 0, one measurement of a (or b) calls it back to back
 * until the calls' seconds add up to at least min_seconds (at most 10^4
 * calls) and counts their mean: a sub-millisecond epoch is then timed over
 * several, so that the scheduler's and the timer's jitter, which do not
 * shrink with the epoch, weigh less. */
typedef struct {
    int warmup;         /* >= 0 (1) */
    int reps;           /* >= 1 (10) */
    int max_rounds;     /* >= 1 (3) */
    double noisy_above; /* NR_NOISY_SPREAD */
    double min_seconds; /* >= 0 (0: one call per measurement) */
} nr_measure_plan;

NR_API void nr_measure_defaults(nr_measure_plan *p);

/* The outcome of nr_measure_pair: the kept timings of a and b (n each, in
 * the order they ran; owned, freed by nr_pair_free), their summaries, and
 * the summary of the per-pair ratios b[i] / a[i], which cancels the machine's
 * slow drifts: the figure to compare. `rounds` is the number run. */
typedef struct {
    size_t n;
    double *a, *b;
    nr_summary sa, sb, ratio;
    int rounds;
} nr_pair;

/* Measure a and b interleaved by `plan`: a, b, a, b, ... so that both see
 * the same machine. A failing measurement stops it with its status. The
 * result is flagged noisy (ratio.noisy) when the ratio is still noisy after
 * max_rounds rounds. NR_ERR_ARG for a plan out of range. */
NR_API nr_status nr_measure_pair(const nr_measure_plan *plan, nr_measure_fn a, void *actx,
                                 nr_measure_fn b, void *bctx, nr_pair *out, nr_error *err);
NR_API void nr_pair_free(nr_pair *p);

/* ------------------------------------------------------------------------ */
/* The machine's caches (src/roof.c)                                        */
/* ------------------------------------------------------------------------ */

/* The last-level cache: its size in bytes and where it was found
 * ("sysconf", "sysfs"), or NR_LLC_DEFAULT bytes with source "unknown:
 * default" when the machine does not say. A benchmark on data smaller than
 * 4 times this size measures the cache, not the memory bus. */
#define NR_LLC_DEFAULT ((size_t)256 << 20)
typedef struct {
    size_t bytes;
    int level;          /* 2, 3, ...; 0 when unknown */
    const char *source; /* static text */
} nr_cache_info;

NR_API void nr_llc(nr_cache_info *c);

/* ------------------------------------------------------------------------ */
/* Comparing results (src/compare.c)                                        */
/* ------------------------------------------------------------------------ */

/* Distance in units in the last place between two doubles: the number of
 * representable doubles from a to b, counted on the ordered line of doubles
 * where -0 and +0 are the same point (0 ulps apart), the largest finite
 * double is 1 ulp from infinity, and -inf and +inf are the two ends. Two
 * NaNs (any payloads) are 0 apart, NaN and a number UINT64_MAX: a missing
 * value matches only a missing value. */
NR_API uint64_t nr_ulp_distance(double a, double b);

/* Tolerances: a pair (a, b) agrees when both are NaN, or equal (-0 == +0,
 * inf == inf), or |a - b| <= atol + rtol * |b|, or nr_ulp_distance(a, b) <=
 * ulps. All zero: bit equality up to the sign of zero. */
typedef struct {
    double rtol, atol;
    uint64_t ulps;
} nr_tolerance;

NR_API bool nr_agree(double a, double b, const nr_tolerance *t);

/* The largest differences seen over the values of one field (a column, a
 * weight vector), each with the index where it occurs (the first one when
 * tied), and how many pairs disagree. Start from nr_diff_init. */
typedef struct {
    size_t n, beyond;
    size_t first_beyond;
    double max_abs, max_rel;
    size_t at_abs, at_rel, at_ulps;
    uint64_t max_ulps;
} nr_diff;

NR_API void nr_diff_init(nr_diff *d);

/* Add the pair (a, b) at `index`. abs = |a - b| (0 for equal values and two
 * NaNs, inf when exactly one is NaN or the infinities differ); rel = abs /
 * |b| (abs / |a| when b is 0 and a is not; 0 when both are 0). */
NR_API void nr_diff_add(nr_diff *d, double a, double b, size_t index, const nr_tolerance *t);

#ifdef __cplusplus
}
#endif
#endif
