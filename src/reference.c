/* The faithful reference: the tutorial's experiment and its per-sample SGD,
 * IEEE double operation for operation as CPython evaluates the original. The
 * build passes -ffp-contract=off so that no a*b + c becomes an FMA, and the
 * code below keeps Python's evaluation order and parenthesisation. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

/* CPython evaluates `r ** 2` by calling libm's pow (Objects/floatobject.c,
 * float_pow), which is not always correctly rounded, whereas compilers fold
 * pow(r, 2.0) into r*r. Calling through a volatile pointer keeps the libm
 * call, and so the last bit of every printed loss. */
static double (*volatile const libm_pow)(double, double) = pow;

/* r ** 2 as float_pow computes it: negative bases use |r| (the exponent is an
 * even integer); a finite base whose square overflows is an OverflowError. */
static inline double py_square(double r, int *overflow) {
    if (isnan(r)) return r;
    double v = libm_pow(fabs(r), 2.0);
    if (isinf(v) && !isinf(r)) *overflow = 1;
    return v;
}

/* Whether Python would raise OverflowError on r ** 2, without computing the
 * square: r*r < 2^1024 exactly when |r| < 2^512, so only residuals near that
 * size need libm's answer. */
static inline int py_square_overflows(double r) {
    if (!(fabs(r) >= 0x1p511) || isinf(r)) return 0;
    int overflow = 0;
    (void)py_square(r, &overflow);
    return overflow;
}

/* Adds r ** 2 to *total when total is not NULL; returns non-zero where Python
 * would raise OverflowError. */
static inline int add_square(double *total, double r) {
    if (!total) return py_square_overflows(r);
    int overflow = 0;
    *total += py_square(r, &overflow);
    return overflow;
}

/* The dot product: nr_sgd_dot_f32/f64 (kernels.h), the order every sgd
 * rule shares. */

/* The per-sample rule over rows of type T with k features, widened to double
 * as they are read. Inlined with a constant k <= 16 and every loop over
 * the features unrolled, the weights are scalars in registers: the
 * dependency chain through them, row to row, is the whole cost of the loop.
 * Nothing on that chain may call a function (every xmm register is
 * caller-saved, so the weights would live in memory), hence two loops: the
 * fast one (no loss wanted) stops at a residual whose square might overflow
 * (|r| >= 2^511, or NaN) and the careful step below decides that row. */
#define SGD_ROWS(T, NAME, DOT)                                                                     \
    static inline __attribute__((always_inline)) size_t NAME##_fast(                               \
        const T *v, size_t i, size_t n, size_t k, double lr, double *wv, double *b) {              \
        double bb = *b;                                                                            \
        for (; i < n; i++) {                                                                       \
            const T *row = v + i * (k + 1);                                                        \
            const double r = (DOT(wv, row, k) + bb) - (double)row[k];                              \
            uint64_t u; /* |r| >= 2^511 or NaN, tested off the xmm registers */                    \
            memcpy(&u, &r, sizeof u);                                                              \
            if (__builtin_expect(u << 1 >= (uint64_t)(1023 + 511) << 53, 0)) break;                \
            const double g = r * 2;                                                                \
            _Pragma("GCC unroll 16") for (size_t j = 0; j < k; j++) wv[j] -=                       \
                lr * (g * (double)row[j]);                                                         \
            bb -= lr * g;                                                                          \
        }                                                                                          \
        *b = bb;                                                                                   \
        return i;                                                                                  \
    }                                                                                              \
    /* One row in full: returns non-zero, leaving w and b, where Python would                      \
     * raise OverflowError on the square. */                                                       \
    static inline __attribute__((always_inline)) int NAME##_careful(                               \
        const T *row, size_t k, double lr, double *wv, double *b, double *acc) {                   \
        const double r = (DOT(wv, row, k) + *b) - (double)row[k];                                  \
        if (add_square(acc, r)) return 1;                                                          \
        const double g = r * 2;                                                                    \
        _Pragma("GCC unroll 16") for (size_t j = 0; j < k; j++) wv[j] -=                           \
            lr * (g * (double)row[j]);                                                             \
        *b -= lr * g;                                                                              \
        return 0;                                                                                  \
    }                                                                                              \
    /* Returns n, or the row whose square overflows (w and b as before it). */                     \
    static inline __attribute__((always_inline)) size_t NAME(                                      \
        const T *v, size_t n, const size_t k, double lr, double *w, double *b, double *acc) {      \
        double local[16], *wv = k <= 16 ? local : w, bb = *b;                                      \
        _Pragma("GCC unroll 16") for (size_t j = 0; k <= 16 && j < k; j++) local[j] = w[j];        \
        size_t i = 0;                                                                              \
        for (; i < n; i++) {                                                                       \
            if (!acc && (i = NAME##_fast(v, i, n, k, lr, wv, &bb)) == n) break;                    \
            if (NAME##_careful(v + i * (k + 1), k, lr, wv, &bb, acc)) break;                       \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (size_t j = 0; k <= 16 && j < k; j++) w[j] = local[j];        \
        *b = bb;                                                                                   \
        return i;                                                                                  \
    }

/* Each width from 1 (the tutorial's shape) to 16 gets its loop with k fixed
 * at compile time; wider rows share one. */
#define SGD_EPOCH(T, NAME, ROWS, DOT)                                                              \
    SGD_ROWS(T, ROWS, DOT)                                                                         \
    static size_t NAME(const T *v, size_t n, size_t k, double lr, double *w, double *b,            \
                       double *acc) {                                                              \
        switch (k) {                                                                               \
        case 1:                                                                                    \
            return ROWS(v, n, 1, lr, w, b, acc);                                                   \
        case 2:                                                                                    \
            return ROWS(v, n, 2, lr, w, b, acc);                                                   \
        case 3:                                                                                    \
            return ROWS(v, n, 3, lr, w, b, acc);                                                   \
        case 4:                                                                                    \
            return ROWS(v, n, 4, lr, w, b, acc);                                                   \
        case 5:                                                                                    \
            return ROWS(v, n, 5, lr, w, b, acc);                                                   \
        case 6:                                                                                    \
            return ROWS(v, n, 6, lr, w, b, acc);                                                   \
        case 7:                                                                                    \
            return ROWS(v, n, 7, lr, w, b, acc);                                                   \
        case 8:                                                                                    \
            return ROWS(v, n, 8, lr, w, b, acc);                                                   \
        case 9:                                                                                    \
            return ROWS(v, n, 9, lr, w, b, acc);                                                   \
        case 10:                                                                                   \
            return ROWS(v, n, 10, lr, w, b, acc);                                                  \
        case 11:                                                                                   \
            return ROWS(v, n, 11, lr, w, b, acc);                                                  \
        case 12:                                                                                   \
            return ROWS(v, n, 12, lr, w, b, acc);                                                  \
        case 13:                                                                                   \
            return ROWS(v, n, 13, lr, w, b, acc);                                                  \
        case 14:                                                                                   \
            return ROWS(v, n, 14, lr, w, b, acc);                                                  \
        case 15:                                                                                   \
            return ROWS(v, n, 15, lr, w, b, acc);                                                  \
        case 16:                                                                                   \
            return ROWS(v, n, 16, lr, w, b, acc);                                                  \
        default:                                                                                   \
            return ROWS(v, n, k, lr, w, b, acc);                                                   \
        }                                                                                          \
    }
SGD_EPOCH(float, sgd_epoch_f32, sgd_rows_f32, nr_sgd_dot_f32)
SGD_EPOCH(double, sgd_epoch_f64, sgd_rows_f64, nr_sgd_dot_f64)

/* The scalar kernels of the table (kernels.h) and the one-row step that the
 * vector kernels hand their rare rows to: the rule above, so every kernel
 * takes the same careful path. */
size_t nr_sgd_f32_scalar(const float *v, size_t n, size_t d, double lr, double *w, double *b) {
    return sgd_epoch_f32(v, n, d, lr, w, b, NULL);
}
size_t nr_sgd_f64_scalar(const double *v, size_t n, size_t d, double lr, double *w, double *b) {
    return sgd_epoch_f64(v, n, d, lr, w, b, NULL);
}
int nr_sgd_row_f32(const float *row, size_t d, double lr, double *w, double *b) {
    return sgd_rows_f32_careful(row, d, lr, w, b, NULL);
}
int nr_sgd_row_f64(const double *row, size_t d, double lr, double *w, double *b) {
    return sgd_rows_f64_careful(row, d, lr, w, b, NULL);
}

static nr_status f16_refused(nr_error *err) { /* the tutorial's rule reads floats or doubles */
    return nr_fail(err, NR_ERR_ARG,
                   "per-sample sgd reads f32 or f64 rows: widen f16 data to "
                   "f32 first (nr_train does)");
}
static nr_status overflowed(nr_error *err, double lr) {
    return nr_fail(err, NR_ERR_DIVERGED,
                   "the squared error of a row overflowed a double (learning rate %g)", lr);
}

nr_status nr_sgd_epoch_with(const nr_kernels *k, const nr_data *d, double lr, double *w, double *b,
                            double *loss, nr_error *err) {
    if (d->dtype == NR_F16) return f16_refused(err);
    double total = 0.0, *acc = loss ? &total : NULL;
    const size_t n = d->rows, f = d->features;
    size_t stop;
    if (d->dtype == NR_F64) {
        const double *v = d->values;
        stop = acc ? sgd_epoch_f64(v, n, f, lr, w, b, acc) : k->sgd_f64(v, n, f, lr, w, b);
    } else {
        const float *v = d->values;
        stop = acc ? sgd_epoch_f32(v, n, f, lr, w, b, acc) : k->sgd_f32(v, n, f, lr, w, b);
    }
    if (loss) *loss = total;
    return stop < n ? overflowed(err, lr) : NR_OK;
}

nr_status nr_sgd_epoch_loss_with(const nr_kernels *k, const nr_data *d, double lr, double *w,
                                 double *b, const double *w0, double b0, double *out,
                                 nr_error *err) {
    if (d->dtype == NR_F16) return f16_refused(err);
    const size_t n = d->rows, f = d->features;
    size_t stop;
    if (d->dtype == NR_F64) {
        const double *v = d->values;
        if (!k->sgd_loss_f64 || !k->sgd_loss_f64(v, n, f, lr, w, b, w0, b0, out, &stop)) {
            stop = k->sgd_f64(v, n, f, lr, w, b);
            if (stop == n) k->loss_f64(v, n, f, w0, b0, out);
        }
    } else {
        const float *v = d->values;
        if (!k->sgd_loss_f32 || !k->sgd_loss_f32(v, n, f, lr, w, b, w0, b0, out, &stop)) {
            stop = k->sgd_f32(v, n, f, lr, w, b);
            if (stop == n) k->loss_f32(v, n, f, w0, b0, out);
        }
    }
    return stop < n ? overflowed(err, lr) : NR_OK;
}

nr_status nr_sgd_epoch(const nr_data *d, double lr, double *w, double *b, double *loss,
                       nr_error *err) {
    return nr_sgd_epoch_with(nr_kernels_select(NR_KERNEL_SCALAR, NULL), d, lr, w, b, loss, err);
}

/* One epoch of the tutorial itself, x = 0, 1, ..., n-1: the same results
 * as nr_sgd_epoch bit for bit (tested against the golden outputs), with the
 * dependency chain w -> pred -> residual -> w, which is the whole cost of the
 * tutorial, made as short as exactness allows:
 *  - lr*((r*2)*x) == (2*lr)*(r*x) and lr*(r*2) == (2*lr)*r: doubling is
 *    exact, so both sides are the one rounding of the real 2*lr*r*x, except
 *    where r*x is subnormal (doubling a rounded subnormal is not rounding
 *    the doubled value); |r| >= 2^-1021 and x >= 1 rule that out;
 *  - no floating-point test on the chain: each residual's exponent is checked
 *    with integer operations (ports the chain does not use). An epoch in
 *    which a residual fell outside [2^-1021, 2^511) (and was not 0) is run
 *    again from its start state by tutorial_epoch_careful, which follows
 *    Python's order and raises its OverflowError;
 *  - the loss is only wanted on printed epochs (loss != NULL).
 * r*2 and r*x cannot overflow: |r| < 2^512 and x < 2^40. */
static int tutorial_epoch_careful(const double *xs, const double *y, size_t n, double lr, double *w,
                                  double *b, double *loss) {
    double ww = *w, bb = *b, total = 0.0;
    int overflow = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = xs[i];
        const double pred = ww * x + bb;
        if ((overflow = add_square(loss ? &total : NULL, pred - y[i]))) break;
        const double g = (pred - y[i]) * 2;
        ww -= lr * (g * x);
        bb -= lr * g;
    }
    *w = ww; /* as before the overflowing sample, as in Python */
    *b = bb;
    if (loss) *loss = total;
    return overflow;
}

static int tutorial_epoch(const double *xs, const double *y, double *rs, size_t n, double lr,
                          double *w, double *b, double *loss) {
    const double lr2 = lr * 2;
    double ww = *w, bb = *b;
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = xs[i];
        const double r = (ww * x + bb) - y[i];
        /* Biased exponent in [2, 1534) means 2^-1021 <= |r| < 2^511. */
        uint64_t u;
        memcpy(&u, &r, sizeof u);
        const uint64_t e = (u >> 52) & 0x7ff;
        bad |= (uint64_t)((e - 2) >= 1532) & (uint64_t)((u << 1) != 0);
        rs[i] = r;
        ww -= lr2 * (r * x);
        bb -= lr2 * r;
    }
    if (bad) return tutorial_epoch_careful(xs, y, n, lr, w, b, loss);
    if (loss) {
        double total = 0.0;
        for (size_t i = 0; i < n; i++) {
            int overflow = 0;
            total += py_square(rs[i], &overflow);
        }
        *loss = total;
    }
    *w = ww;
    *b = bb;
    return 0;
}

void nr_tutorial_defaults(nr_tutorial_opts *o) {
    o->seed = "42";
    o->samples = 100;
    o->epochs = 100000;
    o->lr = 0.00001;
    o->every = 100;
    o->slope = 5.0;
    o->noise = 100.0;
    o->no_cycle_skip = false;
}

nr_status nr_tutorial_data(const nr_tutorial_opts *o, double **bufp, double *w0, double *b0,
                           nr_error *err) {
    if (o->samples < 0 || o->samples > ((int64_t)1 << 40))
        return nr_fail(err, NR_ERR_ARG, "samples %" PRId64 " out of range [0, 2^40]", o->samples);
    if (o->epochs < 0) return nr_fail(err, NR_ERR_ARG, "epochs must be >= 0");
    if (o->every < 1) return nr_fail(err, NR_ERR_ARG, "every must be >= 1");
    nr_mt mt;
    nr_status s = nr_mt_seed_decimal(&mt, o->seed ? o->seed : "42", err);
    if (s != NR_OK) return s;

    const size_t n = (size_t)o->samples;
    /* x (exact: n <= 2^40), y and the epoch's residuals, n doubles each */
    double *buf = malloc((n ? n : 1) * 3 * sizeof *buf);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu samples", n);
    double *xs = buf, *y = buf + n;
    for (size_t i = 0; i < n; i++) { /* Python: slope * x, x an int made float */
        xs[i] = (double)i;
        y[i] = o->slope * xs[i] + nr_mt_uniform(&mt, -o->noise, o->noise);
    }
    *w0 = nr_mt_random(&mt);
    *b0 = nr_mt_random(&mt);
    *bufp = buf;
    return NR_OK;
}

nr_status nr_tutorial_run(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx, nr_error *err) {
    double *buf, w, b;
    nr_status s = nr_tutorial_data(o, &buf, &w, &b, err);
    if (s != NR_OK) return s;
    const size_t n = (size_t)o->samples;
    double *xs = buf, *y = buf + n, *rs = buf + 2 * n;

    s = NR_OK;
    /* The state after each epoch is a function of the state before it, so
     * once the bits of (w, b) repeat, every later epoch repeats too: SGD with
     * a constant learning rate settles on a fixed point or a short cycle of
     * doubles (seed 42 reaches a fixed point at epoch 64219 of 100000). The
     * last RING states are kept; on a repeat with period k the next k epochs
     * are run with their losses recorded, and the remaining printed epochs
     * are read off that cycle: the output is the same, bit for bit, as
     * running them (tested with no_cycle_skip). */
    enum { RING = 16 };
    uint64_t ring[RING][2];
    int64_t period = 0, cycle_start = 0;
    double cyc[RING][3]; /* loss, w, b after each epoch of one period */
    for (int64_t epoch = 1; epoch <= o->epochs; epoch++) {
        double loss = 0.0;
        const bool print = epoch % o->every == 0;
        const bool record = period > 0; /* running the one period after a repeat */
        if (tutorial_epoch(xs, y, rs, n, o->lr, &w, &b, print || record ? &loss : NULL)) {
            s = nr_fail(err, NR_ERR_DIVERGED,
                        "epoch %" PRId64 ": the squared error overflowed a double (Python "
                        "raises OverflowError here); try a smaller learning rate",
                        epoch);
            break;
        }
        if (print && fn && fn(ctx, epoch, loss, w, b)) break; /* the caller's stop */
        if (o->no_cycle_skip) continue;
        if (record) {
            const int64_t j = epoch - cycle_start - 1;
            cyc[j][0] = loss, cyc[j][1] = w, cyc[j][2] = b;
            if (j + 1 < period) continue;
            /* Epochs cycle_start + 1 + j, j in [0, period), are now known; any
             * later epoch E repeats epoch cycle_start + 1 + (E - cycle_start - 1) % period. */
            for (int64_t e = (epoch / o->every + 1) * o->every; e <= o->epochs; e += o->every) {
                const double *c = cyc[(e - cycle_start - 1) % period];
                if (fn && fn(ctx, e, c[0], c[1], c[2])) break;
                if (e > INT64_MAX - o->every) break;
            }
            break;
        }
        uint64_t now[2];
        memcpy(&now[0], &w, sizeof w);
        memcpy(&now[1], &b, sizeof b);
        for (int64_t k = 1; k <= RING && k < epoch; k++) {
            const uint64_t *old = ring[(epoch - k) % RING];
            if (old[0] == now[0] && old[1] == now[1]) {
                period = k;
                cycle_start = epoch;
                break;
            }
        }
        memcpy(ring[epoch % RING], now, sizeof now);
    }
    free(buf);
    return s;
}

/* Copies the text s (without its NUL) to out; returns the end. */
static char *put_text(char *out, const char *s) {
    const size_t n = strlen(s);
    memcpy(out, s, n);
    return out + n;
}

/* "00" to "99": numbers are written two digits a step, which halves the
 * chain of divisions by a constant (each a multiply and shifts that waits
 * for the one before). */
static const char two_digits[200] = "00010203040506070809101112131415161718192021222324"
                                    "25262728293031323334353637383940414243444546474849"
                                    "50515253545556575859606162636465666768697071727374"
                                    "75767778798081828384858687888990919293949596979899";

/* nr_put_u64, inlined into nr_put_4f. */
static inline char *put_u64(char *out, uint64_t n) {
    static const uint64_t pow10[20] = {1,
                                       10,
                                       100,
                                       1000,
                                       10000,
                                       100000,
                                       1000000,
                                       10000000,
                                       100000000,
                                       1000000000,
                                       10000000000,
                                       100000000000,
                                       1000000000000,
                                       10000000000000,
                                       100000000000000,
                                       1000000000000000,
                                       10000000000000000,
                                       100000000000000000,
                                       1000000000000000000,
                                       10000000000000000000u};
    /* The length first, so the digits go straight to their place. With
     * 1233/4096 for log10(2), t is floor(log10(n)) or one more, and the
     * comparison with 10^t settles which (the integer log10 of the "Bit
     * Twiddling Hacks" page). n | 1 has the digits of n and at least one bit. */
    const int bits = 64 - __builtin_clzll(n | 1), t = (bits * 1233) >> 12;
    char *const end = out + t + ((n | 1) >= pow10[t]);
    char *p = end;
    while (n > UINT32_MAX) { /* 64-bit division by 100 costs twice the 32-bit one */
        const unsigned r = (unsigned)(n % 100);
        n /= 100;
        p -= 2;
        memcpy(p, two_digits + 2 * r, 2);
    }
    uint32_t k = (uint32_t)n;
    while (k >= 100) {
        const uint32_t r = k % 100;
        k /= 100;
        p -= 2;
        memcpy(p, two_digits + 2 * r, 2);
    }
    if (k >= 10)
        memcpy(p - 2, two_digits + 2 * k, 2);
    else
        p[-1] = (char)('0' + k);
    return end;
}

char *nr_put_u64(char *out, uint64_t n) {
    return put_u64(out, n);
}

char *nr_put_4f(char *out, double v) {
    /* glibc's printf, like CPython's float formatting, rounds the exact binary
     * value correctly, so only the non-finite spellings need care: Python has
     * no "-nan". */
    if (isnan(v)) return put_text(out, "nan");
    if (isinf(v)) return put_text(out, v < 0 ? "-inf" : "inf");
    /* printf spends ~2000 instructions a number in multi-precision code, most
     * of `tutorial --fast`. Below 2^49 the same correctly rounded digits come
     * from integers: |v| = m * 2^-s exactly, so |v| * 10^4 = (m * 10^4) / 2^s
     * with m * 10^4 < 2^67, rounded half to even as printf and Python do (a
     * tie is exact here, e.g. 1/32 = 0.03125 -> "0.0312"). */
    const double a = fabs(v);
    if (!(a < 0x1p49)) return out + snprintf(out, NR_4F_ROOM, "%.4f", v);
    uint64_t u;
    memcpy(&u, &a, sizeof u);
    const int biased = (int)(u >> 52);
    const uint64_t m = (u & ((UINT64_C(1) << 52) - 1)) | (biased ? UINT64_C(1) << 52 : 0);
    const int s = biased ? 1075 - biased : 1074; /* >= 4: a < 2^49 */
    uint64_t q = 0;
    if (s < 64) { /* |v| >= 2^-11: the product's two words shifted by hand */
        const unsigned __int128 n = (unsigned __int128)m * 10000;
        const uint64_t hi = (uint64_t)(n >> 64), lo = (uint64_t)n;
        const uint64_t half = UINT64_C(1) << (s - 1), rem = lo & ((half << 1) - 1);
        q = hi << (64 - s) | lo >> s; /* 4 <= s: hi < 2^(67-64) fits */
        q += rem > half || (rem == half && (q & 1));
    } else if (s < 128) { /* else |v| * 10^4 < 2^67 / 2^128: rounds to 0, no tie */
        const unsigned __int128 n = (unsigned __int128)m * 10000;
        const unsigned __int128 half = (unsigned __int128)1 << (s - 1);
        const unsigned __int128 rem = n & ((half << 1) - 1);
        q = (uint64_t)(n >> s);
        q += rem > half || (rem == half && (q & 1));
    }
    if (signbit(v)) *out++ = '-';
    out = put_u64(out, q / 10000);
    const unsigned f = (unsigned)(q % 10000);
    out[0] = '.';
    memcpy(out + 1, two_digits + 2 * (f / 100), 2);
    memcpy(out + 3, two_digits + 2 * (f % 100), 2);
    return out + 5;
}

int nr_format_4f(double v, char *buf, size_t size) {
    char text[NR_4F_ROOM];
    const size_t len = (size_t)(nr_put_4f(text, v) - text);
    if (size) {
        const size_t c = len < size ? len : size - 1;
        memcpy(buf, text, c);
        buf[c] = '\0';
    }
    return (int)len;
}
