/* Helpers shared by the library's source files; not installed. */
#ifndef NR_INTERNAL_H
#define NR_INTERNAL_H

#include "neuron_tutorial.h"

#if defined(__GNUC__)
#define NR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NR_PRINTF(a, b)
#endif

/* Write a formatted message into `err` (if not NULL) and return `s`, so that
 * a failing path reads `return nr_fail(err, NR_ERR_INPUT, "...", ...);`. */
/* Copy the `len` bytes of `src` into `dst` (NUL-terminated, at most cap - 1
 * bytes); text too long loses its middle, marked "...", so that both the
 * start (a path) and the end (the reason) of a message survive. */
void nr_elide(char *dst, size_t cap, const char *src, size_t len);

nr_status nr_fail(nr_error *err, nr_status s, const char *fmt, ...) NR_PRINTF(3, 4);

/* The tutorial's data and start state exactly as nr_tutorial_run makes them
 * (src/reference.c): options checked (NR_ERR_ARG), then x = 0..n-1 and y
 * from the seeded Mersenne Twister, then w0 = random(), b0 = random().
 * *buf receives 3n doubles (at least 3) to free: x, y, then scratch. */
nr_status nr_tutorial_data(const nr_tutorial_opts *o, double **buf, double *w0, double *b0,
                           nr_error *err);

/* phi(z) of the activation (src/metrics_class.c): the one place that
 * prediction computes it. */
double nr_activate(nr_activation a, double z);

/* For an OpenMP loop over blocks that a caller may stop: true when this
 * block is to be skipped, because a stop was asked for. Only thread 0 of the
 * team, the calling thread, polls `stop` (so the callback never runs on a
 * worker); the answer reaches the others through the shared *halt. */
static inline bool nr_block_halted(nr_stop_fn stop, void *stop_ctx, int *halt, int thread) {
    if (__atomic_load_n(halt, __ATOMIC_RELAXED)) return true;
    if (stop && thread == 0 && stop(stop_ctx)) {
        __atomic_store_n(halt, 1, __ATOMIC_RELAXED);
        return true;
    }
    return false;
}

#endif
