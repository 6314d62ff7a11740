/* Scalar kernels: the plain double loop every other kernel is tested
 * against. Always built, on every architecture. */
#include "kernels.h"
#include "objective.h"

#define SCALAR_GRAD(T, NAME)                                                                       \
    void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {            \
        for (size_t j = 0; j < d + 2; j++) out[j] = 0.0;                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T *row = x + i * (d + 1);                                                        \
            double r = b;                                                                          \
            for (size_t j = 0; j < d; j++) r += w[j] * (double)row[j];                             \
            r -= (double)row[d];                                                                   \
            for (size_t j = 0; j < d; j++) out[j] += r * (double)row[j];                           \
            out[d] += r;                                                                           \
            out[d + 1] += r * r;                                                                   \
        }                                                                                          \
    }

SCALAR_GRAD(float, nr_grad_f32_scalar)
SCALAR_GRAD(double, nr_grad_f64_scalar)

/* The other objectives: z = b + sum w x, then the objective's own row. */
#define SCALAR_OBJECTIVE(T, NAME, ROW)                                                             \
    void NAME(const T *x, size_t n, size_t d, const double *w, double b, double *out) {            \
        for (size_t j = 0; j < d + 2; j++) out[j] = 0.0;                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T *row = x + i * (d + 1);                                                        \
            double z = b, r, l;                                                                    \
            for (size_t j = 0; j < d; j++) z += w[j] * (double)row[j];                             \
            ROW(z, (double)row[d], &l, &r);                                                        \
            for (size_t j = 0; j < d; j++) out[j] += r * (double)row[j];                           \
            out[d] += r;                                                                           \
            out[d + 1] += l;                                                                       \
        }                                                                                          \
    }

SCALAR_OBJECTIVE(float, nr_logistic_f32_scalar, nr_row_logistic)
SCALAR_OBJECTIVE(double, nr_logistic_f64_scalar, nr_row_logistic)
SCALAR_OBJECTIVE(float, nr_perceptron_f32_scalar, nr_row_perceptron)
SCALAR_OBJECTIVE(double, nr_perceptron_f64_scalar, nr_row_perceptron)

/* Per-sample rule for a classifier, in data order: z = dot(w, x) + b with
 * the dot product in the reference's order (nr_sgd_dot_f32/f64, kernels.h), r = phi(z) - y,
 * w_j -= lr r x_j, b -= lr r. For the perceptron that is w += lr (y - step(z)) x
 * (doc/reference.md); for the logistic loss, plain SGD on the binary
 * cross-entropy. Both keep every quantity bounded by |x| and lr, so only
 * non-finite weights (seen by the loop) end a run. One loop per row type
 * (the rows are f32 or f64 here: f16 rows reach sgd widened), so that no
 * value is fetched through a switch on the type, and the bias in a local:
 * the same operations in the same order as the definition. */
#define SGD_RULE(NAME, T, SUF, RESIDUAL)                                                           \
    void NAME(const T *x, size_t rows, size_t f, double lr, double *w, double *b) {                \
        double bias = *b;                                                                          \
        for (size_t i = 0; i < rows; i++) {                                                        \
            const T *row = x + i * (f + 1);                                                        \
            const double r = RESIDUAL(nr_sgd_dot_##SUF(w, row, f) + bias, (double)row[f]);         \
            if (r == 0.0) continue; /* the perceptron's usual case: nothing moves */               \
            for (size_t j = 0; j < f; j++) w[j] -= lr * (r * (double)row[j]);                      \
            bias -= lr * r;                                                                        \
        }                                                                                          \
        *b = bias;                                                                                 \
    }
SGD_RULE(nr_sgd_logistic_f32_scalar, float, f32, nr_residual_logistic)
SGD_RULE(nr_sgd_logistic_f64_scalar, double, f64, nr_residual_logistic)
SGD_RULE(nr_sgd_perceptron_f32_scalar, float, f32, nr_residual_perceptron)
SGD_RULE(nr_sgd_perceptron_f64_scalar, double, f64, nr_residual_perceptron)

/* Four rows per sweep of the triangle: independent products, a quarter of
 * the loads and stores of G. */
void nr_gram_f64_scalar(const double *x, size_t n, size_t w, double *G) {
    const size_t wp = (w + 3) / 4 * 4;
    for (size_t j = 0; j < w * wp; j++) G[j] = 0.0;
    size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const double *x0 = x + r * w, *x1 = x0 + w, *x2 = x1 + w, *x3 = x2 + w;
        for (size_t a = 0; a < w; a++) {
            const double a0 = x0[a], a1 = x1[a], a2 = x2[a], a3 = x3[a];
            double *row = G + a * wp;
            for (size_t b = a; b < w; b++)
                row[b] += (a0 * x0[b] + a1 * x1[b]) + (a2 * x2[b] + a3 * x3[b]);
        }
    }
    for (; r < n; r++) {
        const double *xr = x + r * w;
        for (size_t a = 0; a < w; a++)
            for (size_t b = a; b < w; b++) G[a * wp + b] += xr[a] * xr[b];
    }
}

/* Huber: z = b + sum w x, then nr_row_huber of z - y. */
#define SCALAR_HUBER(T, NAME)                                                                      \
    void NAME(const T *x, size_t n, size_t d, const double *w, double b, double delta,             \
              double *out) {                                                                       \
        for (size_t j = 0; j < d + 2; j++) out[j] = 0.0;                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            const T *row = x + i * (d + 1);                                                        \
            double z = b, r, l;                                                                    \
            for (size_t j = 0; j < d; j++) z += w[j] * (double)row[j];                             \
            nr_row_huber(z - (double)row[d], delta, &l, &r);                                       \
            for (size_t j = 0; j < d; j++) out[j] += r * (double)row[j];                           \
            out[d] += r;                                                                           \
            out[d + 1] += l;                                                                       \
        }                                                                                          \
    }

SCALAR_HUBER(float, nr_huber_f32_scalar)
SCALAR_HUBER(double, nr_huber_f64_scalar)
