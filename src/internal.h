/* Helpers shared by the library's source files; not installed. */
#ifndef NR_INTERNAL_H
#define NR_INTERNAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* Room nr_put_4f needs: %.4f of -DBL_MAX has 315 characters. */
#define NR_4F_ROOM 316

/* What nr_format_4f prints, written at `out` (NR_4F_ROOM bytes of room, no
 * NUL appended); returns the end of the text. For callers that assemble
 * lines themselves (the tutorial's 3000 numbers), without the copy and the
 * truncation nr_format_4f does. */
char *nr_put_4f(char *out, double v);

/* n in decimal at `out` (room for 20 characters, no NUL); returns the end. */
char *nr_put_u64(char *out, uint64_t n);

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

/* ------------------------------------------------------- f16 (binary16) -- */

/* The exact float of a half's bits (every half is a float): sign, 5-bit
 * exponent (bias 15) and 10-bit fraction moved to their float places;
 * subnormals (exponent 0) are m * 2^-24, exact in float; infinities stay
 * infinite and NaNs NaN. The scalar reference of the F16C widening. */
static inline float nr_half_to_float(uint16_t h) {
    const uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    uint32_t u;
    if (e == 0x1f)
        u = s | 0x7f800000u | m << 13;
    else if (e)
        u = s | (e + 112u) << 23 | m << 13; /* rebias: 127 - 15 */
    else {
        const float f = (float)m * 0x1p-24f;
        memcpy(&u, &f, 4);
        u |= s;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The half nearest to v (ties to even), rounded once from the double: *h
 * and true, or false when v is not finite or rounds beyond the largest
 * finite half, 65504 (every |v| >= 65520, the midpoint to 2^16). */
bool nr_half_from_double(double v, uint16_t *h);

/* Value k of a data set (row-major index), widened exactly to double: for
 * code that reads rows one value at a time, whatever their dtype. */
static inline double nr_value_at(const nr_data *d, size_t k) {
    switch (d->dtype) {
    case NR_F32:
        return (double)((const float *)d->values)[k];
    case NR_F16:
        return (double)nr_half_to_float(((const uint16_t *)d->values)[k]);
    default:
        return ((const double *)d->values)[k];
    }
}

/* A non-finite value in the divergence messages' words: "NaN" or
 * "infinite" (printf's %g would give "-nan" or "inf"). */
static inline const char *nr_nonfinite_word(double v) {
    return isnan(v) ? "NaN" : "infinite";
}

/* "f16", "f32", "f64": the names of the command line and the reports. */
static inline const char *nr_dtype_name(nr_dtype t) {
    return t == NR_F16 ? "f16" : t == NR_F32 ? "f32" : "f64";
}

#endif
