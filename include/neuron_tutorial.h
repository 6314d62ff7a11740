/*
 * neuron_tutorial.h: the tutorial experiment of neuron, reproduced as CPython
 * computes it. Not needed to train on data: a program that only trains,
 * predicts or evaluates includes <neuron.h> alone.
 *
 * The experiment (doc/reference.md): seed CPython's Mersenne Twister, make
 * x = 0..samples-1 and y = slope*x + uniform(-noise, noise), draw the start
 * weight and bias, then run per-sample SGD in data order and report every
 * `every` epochs. nr_tutorial_run gives the same bits as the Python
 * transcription of it (tests/golden/tutorial.py) for every seed; the
 * Mersenne Twister below is CPython's `random` bit for bit; nr_format_4f
 * prints a double as Python's f"{v:.4f}" does.
 *
 * The conventions of <neuron.h> hold here too: nr_status returns, an
 * optional nr_error * last, outputs after inputs, no printing. An nr_mt is
 * owned by the caller and must not be used by two threads at once; the
 * other calls keep no state between calls and may run in several threads.
 */
#ifndef NEURON_TUTORIAL_H
#define NEURON_TUTORIAL_H

#include "neuron.h"

#ifdef __cplusplus
extern "C" {
#endif

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
NR_API nr_status nr_mt_seed_decimal(nr_mt *mt, const char *decimal, nr_error *err);

/* Seed from an unsigned 64-bit integer: same as nr_mt_seed_decimal with its
 * decimal text. */
NR_API void nr_mt_seed_u64(nr_mt *mt, uint64_t seed);

/* Seed with MT19937's init_by_array over `n` 32-bit words (n >= 1). */
NR_API void nr_mt_seed_words(nr_mt *mt, const uint32_t *key, size_t n);

/* The next 32-bit output of MT19937 (CPython's getrandbits(32)). */
NR_API uint32_t nr_mt_next_u32(nr_mt *mt);

/* CPython's random.random(): 53 random bits as a double in [0, 1),
 * (a >> 5) * 67108864 + (b >> 6), divided by 2^53. */
NR_API double nr_mt_random(nr_mt *mt);

/* CPython's random.uniform(lo, hi): lo + (hi - lo) * random(). */
NR_API double nr_mt_uniform(nr_mt *mt, double lo, double hi);

/* ------------------------------------------------------------------------ */
/* The tutorial experiment (src/reference.c)                                */
/* ------------------------------------------------------------------------ */

/* Options of the tutorial experiment (doc/reference.md). `seed` is decimal
 * text so that seeds of any size behave as in Python. */
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
NR_API void nr_tutorial_defaults(nr_tutorial_opts *o);

/* Called every `every` epochs with the epoch number (1-based), the loss
 * summed over that epoch, and the weight and bias after it. A non-zero return
 * stops the run after that line; the call then returns NR_OK (a stop the
 * caller asked for is not a failure, as in nr_train). */
typedef int (*nr_tutorial_fn)(void *ctx, int64_t epoch, double loss, double w, double b);

/* Run the tutorial experiment operation for operation as CPython runs it
 * (doc/reference.md): data x = 0..samples-1, y = slope*x + uniform(-noise,
 * noise) from the seeded Mersenne Twister, then w = random(), b = random(),
 * then per-sample SGD in data order (see nr_sgd_epoch). Calls `fn` every
 * `every` epochs. Returns NR_ERR_ARG for invalid options (the message names
 * the field), NR_ERR_DIVERGED where Python raises OverflowError (after the
 * lines before it were reported), NR_ERR_NOMEM. */
NR_API nr_status nr_tutorial_run(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx,
                                 nr_error *err);

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
NR_API nr_status nr_tutorial_fast(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx,
                                  nr_error *err);

/* Format `v` as Python's f"{v:.4f}" does ("nan", "inf", "-inf" for the
 * non-finite values) into `buf` of `size` bytes, always NUL-terminated when
 * size > 0. Returns the length of the whole text, as snprintf does (at most
 * 315 characters, for -DBL_MAX), so a result >= size means it was cut. */
NR_API int nr_format_4f(double v, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
