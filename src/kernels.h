/* The kernel interface: one pass over a block of rows computing the loss and
 * the gradient sums of a linear neuron. Each ISA has its own file
 * (kernels_scalar.c, kernels_avx2.c) behind this table; dispatch.c fills it
 * with the scalar entries, then overrides them with what the CPU supports.
 * The trainer knows nothing of SIMD. */
#ifndef NR_KERNELS_H
#define NR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Over rows [0, n) of a row-major block (stride d + 1, target last), with
 * r_i = w.x_i + b - y_i computed in double:
 *   out[j] = sum_i r_i x_ij (j < d),  out[d] = sum_i r_i,  out[d + 1] = sum_i r_i^2.
 * `out` (d + 2 values) is overwritten. f32 values are widened to double
 * before any arithmetic, so the f32 and f64 kernels differ only by the
 * rounding of the data. */
typedef void (*nr_grad_f32_fn)(const float *x, size_t n, size_t d, const double *w, double b,
                               double *out);
typedef void (*nr_grad_f64_fn)(const double *x, size_t n, size_t d, const double *w, double b,
                               double *out);

/* The same sums for an objective with one parameter p (Huber's delta:
 * r_i = z - y_i clipped to [-p, p], loss (1/2)(z - y)^2 within p, else
 * p (|z - y| - p/2)). */
typedef void (*nr_gradp_f32_fn)(const float *x, size_t n, size_t d, const double *w, double b,
                                double p, double *out);
typedef void (*nr_gradp_f64_fn)(const double *x, size_t n, size_t d, const double *w, double b,
                                double p, double *out);

/* Upper triangle of the Gram matrix of n rows of w doubles (row-major):
 * G[a * wp + b] = sum_i x_ia x_ib for a <= b < w, wp = w rounded up to a
 * multiple of 4; other entries of G (w * wp doubles) are scratch. Rows may be
 * read up to 3 values past their end: the caller pads the block with 4
 * doubles. The least-squares statistics of exact.c, on centered rows. */
typedef void (*nr_gram_fn)(const double *x, size_t n, size_t w, double *G);

/* The per-sample rule of nr_sgd_epoch (include/neuron.h, doc/sgd-order.md)
 * without the loss, over rows [0, n) of stride d + 1: w (d values) and *b
 * updated in place, the same bits in every kernel. Returns n, or the first
 * row whose squared residual overflows a double, with w and b as before that
 * row. Rows a kernel's fast path cannot take exactly (a residual of 2^511
 * or more, NaN, or outside the range of its shortcuts) go through
 * nr_sgd_row_f64/f32, the reference's one-row step. */
typedef size_t (*nr_sgd_f32_fn)(const float *v, size_t n, size_t d, double lr, double *w,
                                double *b);
typedef size_t (*nr_sgd_f64_fn)(const double *v, size_t n, size_t d, double lr, double *w,
                                double *b);
/* The per-sample rule above over rows [0, n) and, in the same walk, the
 * squared error's loss-only sums over those rows at other parameters w0,
 * b0 (sgd's loss at the weights the epoch starts from, opt_sgd.c): *stop
 * (the rule's return value), w and *b exactly the rule's (nr_sgd_f32_fn),
 * and when *stop is n, out (d + 2 values) exactly what the table's
 * loss_f32/f64 gives on the same rows at w0, b0 (out[d], out[d + 1];
 * out[0..d-1] unspecified). A kernel may decline a shape it does not walk:
 * it returns false, nothing touched, and nr_sgd_epoch_loss_with runs the
 * table's rule, then its loss kernel (NULL in the scalar table, which
 * always does that). w0 must not alias w. */
typedef bool (*nr_sgd_loss_f32_fn)(const float *v, size_t n, size_t d, double lr, double *w,
                                   double *b, const double *w0, double b0, double *out,
                                   size_t *stop);
typedef bool (*nr_sgd_loss_f64_fn)(const double *v, size_t n, size_t d, double lr, double *w,
                                   double *b, const double *w0, double b0, double *out,
                                   size_t *stop);
/* The classifiers' per-sample rule (objective.c, doc/sgd-order.md) over
 * rows [0, n) of stride d + 1, in data order: z = dot(w, x) + b in the order
 * of nr_sgd_epoch's contract, r = phi(z) - y by the objective's one-row
 * residual (nr_residual_logistic or nr_residual_perceptron, objective.h,
 * libm's exp included), and unless r == 0, w_j -= lr (r x_j) then
 * b -= lr r. The same bits in every kernel (a NaN is a NaN in each, its
 * sign and payload unspecified: x86 keeps one operand's, and compilers
 * order commutative operands as they like). |r| <= 1; weights that
 * overflow are the training loop's divergence to report, not the kernel's. */
typedef void (*nr_sgd_class_f32_fn)(const float *v, size_t n, size_t d, double lr, double *w,
                                    double *b);
typedef void (*nr_sgd_class_f64_fn)(const double *v, size_t n, size_t d, double lr, double *w,
                                    double *b);
/* n halves (IEEE binary16 bits) widened to floats, exactly. */
typedef void (*nr_widen_f16_fn)(const uint16_t *h, size_t n, float *out);
/* The block sums of nr_grad_f32_fn / nr_gradp_f32_fn over rows of halves,
 * read in place: exactly the bits of the table's f32 kernel on the rows
 * widened to floats (where an output is NaN, a NaN, its payload
 * unspecified: which operand's payload an addition keeps is the
 * compiler's choice of operand order, and the trainer refuses
 * non-finite data at load). A kernel may decline a shape (no feature, rows too
 * wide for it, no memory for its scratch): it returns false, out untouched,
 * and the caller widens the block for the f32 kernel instead. */
typedef bool (*nr_grad_f16_fn)(const uint16_t *x, size_t n, size_t d, const double *w, double b,
                               double *out);
typedef bool (*nr_gradp_f16_fn)(const uint16_t *x, size_t n, size_t d, const double *w, double b,
                                double p, double *out);

/* The other objectives' block sums have the same shape (objective.h): with
 * z = w.x_i + b and the labels y as 0/1 (y > 0 is 1, so -1/+1 labels work
 * too), r_i = phi(z) - y_i in out[j] = sum_i r_i x_ij and out[d] = sum_i r_i,
 * and out[d + 1] = the sum of the rows' losses: logistic (sigmoid,
 * binary cross-entropy as softplus) and perceptron (step, the perceptron
 * criterion max(0, -(2y - 1) z)). */
typedef struct {
    const char *name;
    nr_grad_f32_fn grad_f32; /* squared error (identity) */
    nr_grad_f64_fn grad_f64;
    /* The squared error's out[d] and out[d + 1] alone, the same bits as
     * grad_f32/f64's on the same rows; out[0..d-1] unspecified (the
     * gradient is not summed where that saves work): for a pass that wants
     * the loss only (sgd's, opt_sgd.c). */
    nr_grad_f32_fn loss_f32;
    nr_grad_f64_fn loss_f64;
    nr_grad_f32_fn logistic_f32;
    nr_grad_f64_fn logistic_f64;
    /* The logistic loss's out[d] and out[d + 1], the same bits as
     * logistic_f32/f64's; out[0..d-1] unspecified (written, but not the
     * gradient), as loss_f32/f64 are the squared error's: for sgd's
     * one-thread pass with the sigmoid. */
    nr_grad_f32_fn logistic_loss_f32;
    nr_grad_f64_fn logistic_loss_f64;
    nr_grad_f32_fn perceptron_f32;
    nr_grad_f64_fn perceptron_f64;
    nr_gradp_f32_fn huber_f32;
    nr_gradp_f64_fn huber_f64;
    nr_gram_fn gram_f64;
    nr_sgd_f32_fn sgd_f32; /* the per-sample rule (squared error), no loss */
    nr_sgd_f64_fn sgd_f64;
    nr_sgd_loss_f32_fn sgd_loss_f32; /* the rule with the loss pass beside it, or NULL */
    nr_sgd_loss_f64_fn sgd_loss_f64;
    nr_sgd_class_f32_fn sgd_logistic_f32; /* the classifiers' per-sample rules */
    nr_sgd_class_f64_fn sgd_logistic_f64;
    nr_sgd_class_f32_fn sgd_perceptron_f32;
    nr_sgd_class_f64_fn sgd_perceptron_f64;
    /* f16 data: n halves widened exactly to floats; where the table has no
     * f16 kernel below, the trainer widens a block, then runs the
     * objective's f32 kernel on it (trainer.c) */
    nr_widen_f16_fn widen_f16;
    /* or, where the table has them (NULL in the scalar one, which stays the
     * widening ground truth), the objectives' kernels on halves in place */
    nr_grad_f16_fn grad_f16;
    nr_grad_f16_fn logistic_f16;
    nr_grad_f16_fn perceptron_f16;
    nr_gradp_f16_fn huber_f16;
} nr_kernels;

/* The dot product w.x of d >= 2 features is summed in the order that
 * include/neuron.h states for nr_sgd_epoch: four partial sums p_c over the
 * features j = c (mod 4) in ascending j, then (p0 + p1) + (p2 + p3), then
 * + b. A partial sum with no feature (d < 4) is -0.0, which adds nothing
 * (x + -0.0 == x for every x), so d = 1 is the tutorial's w*x + b. Four
 * independent chains of d/4 additions replace one chain of d: the weights'
 * dependency chain row to row is this sum, the residual and the update.
 * The reference (reference.c) and the classifiers' scalar rules
 * (kernels_scalar.c) both sum with it; the AVX2 kernels hold the same
 * partial sums in lanes (kernels_sgd_avx2.c). */
#define DOT4(T, NAME)                                                                              \
    static inline __attribute__((always_inline)) double NAME(const double *w, const T *x,          \
                                                             size_t k) {                           \
        double p0 = k > 0 ? w[0] * (double)x[0] : -0.0, p1 = k > 1 ? w[1] * (double)x[1] : -0.0;   \
        double p2 = k > 2 ? w[2] * (double)x[2] : -0.0, p3 = k > 3 ? w[3] * (double)x[3] : -0.0;   \
        size_t j = 4;                                                                              \
        for (; j + 4 <= k; j += 4) {                                                               \
            p0 = p0 + w[j] * (double)x[j];                                                         \
            p1 = p1 + w[j + 1] * (double)x[j + 1];                                                 \
            p2 = p2 + w[j + 2] * (double)x[j + 2];                                                 \
            p3 = p3 + w[j + 3] * (double)x[j + 3];                                                 \
        }                                                                                          \
        if (j < k) p0 = p0 + w[j] * (double)x[j];                                                  \
        if (j + 1 < k) p1 = p1 + w[j + 1] * (double)x[j + 1];                                      \
        if (j + 2 < k) p2 = p2 + w[j + 2] * (double)x[j + 2];                                      \
        return (p0 + p1) + (p2 + p3);                                                              \
    }
DOT4(float, nr_sgd_dot_f32)
DOT4(double, nr_sgd_dot_f64)

/* The reference (src/reference.c): the scalar kernels of the per-sample
 * rule, and its step for one row in full (non-zero, w and b untouched, where
 * the square overflows). */
size_t nr_sgd_f32_scalar(const float *v, size_t n, size_t d, double lr, double *w, double *b);
size_t nr_sgd_f64_scalar(const double *v, size_t n, size_t d, double lr, double *w, double *b);
int nr_sgd_row_f32(const float *row, size_t d, double lr, double *w, double *b);
int nr_sgd_row_f64(const double *row, size_t d, double lr, double *w, double *b);
/* nr_sgd_epoch with kernel table k for the rows (the loss, when wanted, is
 * always the reference's own loop). */
nr_status nr_sgd_epoch_with(const nr_kernels *k, const nr_data *d, double lr, double *w, double *b,
                            double *loss, nr_error *err);
/* The same epoch through the table's sgd_loss_f32/f64 (or, where the
 * table has none or it declines, its rule, then its loss_f32/f64): the
 * rule, and the loss-only sums over the same rows at w0, b0 into out
 * (d->features + 2 values) when it returns NR_OK. */
nr_status nr_sgd_epoch_loss_with(const nr_kernels *k, const nr_data *d, double lr, double *w,
                                 double *b, const double *w0, double b0, double *out,
                                 nr_error *err);

void nr_sgd_logistic_f32_scalar(const float *v, size_t n, size_t d, double lr, double *w,
                                double *b);
void nr_sgd_logistic_f64_scalar(const double *v, size_t n, size_t d, double lr, double *w,
                                double *b);
void nr_sgd_perceptron_f32_scalar(const float *v, size_t n, size_t d, double lr, double *w,
                                  double *b);
void nr_sgd_perceptron_f64_scalar(const double *v, size_t n, size_t d, double lr, double *w,
                                  double *b);
void nr_grad_f32_scalar(const float *x, size_t n, size_t d, const double *w, double b, double *out);
void nr_grad_f64_scalar(const double *x, size_t n, size_t d, const double *w, double b,
                        double *out);
void nr_gram_f64_scalar(const double *x, size_t n, size_t w, double *G);
void nr_logistic_f32_scalar(const float *x, size_t n, size_t d, const double *w, double b,
                            double *out);
void nr_logistic_f64_scalar(const double *x, size_t n, size_t d, const double *w, double b,
                            double *out);
void nr_perceptron_f32_scalar(const float *x, size_t n, size_t d, const double *w, double b,
                              double *out);
void nr_perceptron_f64_scalar(const double *x, size_t n, size_t d, const double *w, double b,
                              double *out);
void nr_huber_f32_scalar(const float *x, size_t n, size_t d, const double *w, double b,
                         double delta, double *out);
void nr_huber_f64_scalar(const double *x, size_t n, size_t d, const double *w, double b,
                         double delta, double *out);
#if defined(__x86_64__) || defined(_M_X64)
void nr_gram_f64_avx2(const double *x, size_t n, size_t w, double *G);
void nr_grad_f32_avx2(const float *x, size_t n, size_t d, const double *w, double b, double *out);
void nr_grad_f64_avx2(const double *x, size_t n, size_t d, const double *w, double b, double *out);
/* The logistic kernels' own exp of n values <= 0 (within 2 ulp of libm's;
 * 0 below -708) and log1p of n values in [0, 1] (within 8 ulp), public for
 * their tests. */
void nr_exp_neg_avx2(const double *x, size_t n, double *out);
void nr_log1p_unit_avx2(const double *e, size_t n, double *out);
/* The f32 rows' logistic pieces (kernels_avx2.c, logistic8_f32), public
 * for their tests: exp(r) in f32 for |r| <= 0.347; exp(x) for x <= 0 with
 * the reduction and scaling in double (0 below -708); 1 / (1 + e) and
 * log1p(e) in f32 for e in [0, 1]; and the residual and loss of each row
 * (z, y) as the f32 kernels compute them. */
void nr_exp_reduced_f32_avx2(const float *r, size_t n, float *out);
void nr_exp_neg_f32_avx2(const double *x, size_t n, double *out);
void nr_recip_log1p_f32_avx2(const float *e, size_t n, float *inv, float *lp);
void nr_logistic_rows_f32_avx2(const double *z, const double *y, size_t n, double *r, double *l);
void nr_loss_f32_avx2(const float *x, size_t n, size_t d, const double *w, double b, double *out);
void nr_loss_f64_avx2(const double *x, size_t n, size_t d, const double *w, double b, double *out);
void nr_logistic_loss_f32_avx2(const float *x, size_t n, size_t d, const double *w, double b,
                               double *out);
void nr_logistic_loss_f64_avx2(const double *x, size_t n, size_t d, const double *w, double b,
                               double *out);
void nr_logistic_f32_avx2(const float *x, size_t n, size_t d, const double *w, double b,
                          double *out);
void nr_logistic_f64_avx2(const double *x, size_t n, size_t d, const double *w, double b,
                          double *out);
void nr_perceptron_f32_avx2(const float *x, size_t n, size_t d, const double *w, double b,
                            double *out);
void nr_perceptron_f64_avx2(const double *x, size_t n, size_t d, const double *w, double b,
                            double *out);
void nr_huber_f32_avx2(const float *x, size_t n, size_t d, const double *w, double b, double delta,
                       double *out);
void nr_huber_f64_avx2(const double *x, size_t n, size_t d, const double *w, double b, double delta,
                       double *out);
size_t nr_sgd_f32_avx2(const float *v, size_t n, size_t d, double lr, double *w, double *b);
size_t nr_sgd_f64_avx2(const double *v, size_t n, size_t d, double lr, double *w, double *b);
bool nr_sgd_loss_f32_avx2(const float *v, size_t n, size_t d, double lr, double *w, double *b,
                          const double *w0, double b0, double *out, size_t *stop);
bool nr_sgd_loss_f64_avx2(const double *v, size_t n, size_t d, double lr, double *w, double *b,
                          const double *w0, double b0, double *out, size_t *stop);
void nr_sgd_logistic_f32_avx2(const float *v, size_t n, size_t d, double lr, double *w, double *b);
void nr_sgd_logistic_f64_avx2(const double *v, size_t n, size_t d, double lr, double *w, double *b);
void nr_sgd_perceptron_f32_avx2(const float *v, size_t n, size_t d, double lr, double *w,
                                double *b);
void nr_sgd_perceptron_f64_avx2(const double *v, size_t n, size_t d, double lr, double *w,
                                double *b);
#endif

void nr_widen_f16_scalar(const uint16_t *h, size_t n, float *out);
#if defined(__x86_64__) || defined(_M_X64)
void nr_widen_f16_f16c(const uint16_t *h, size_t n, float *out);
/* kernels_avx2.c, with F16C */
bool nr_grad_f16_avx2(const uint16_t *x, size_t n, size_t d, const double *w, double b,
                      double *out);
bool nr_logistic_f16_avx2(const uint16_t *x, size_t n, size_t d, const double *w, double b,
                          double *out);
bool nr_perceptron_f16_avx2(const uint16_t *x, size_t n, size_t d, const double *w, double b,
                            double *out);
bool nr_huber_f16_avx2(const uint16_t *x, size_t n, size_t d, const double *w, double b,
                       double delta, double *out);
#endif

/* The kernels for a choice (AUTO: the best the CPU has), or NULL with
 * NR_ERR_UNSUPPORTED when the CPU lacks the one asked for. */
const nr_kernels *nr_kernels_select(nr_kernel_choice k, nr_error *err);

#endif
