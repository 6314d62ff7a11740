/* Scalar kernels: the plain double loop every other kernel is tested
 * against. Always built, on every architecture. */
#include "kernels.h"

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

#define SCALAR_SUM(T, NAME)                                                                        \
    double NAME(const T *x, size_t n) {                                                            \
        double s = 0.0;                                                                            \
        for (size_t i = 0; i < n; i++) s += (double)x[i];                                          \
        return s;                                                                                  \
    }

SCALAR_SUM(float, nr_sum_f32_scalar)
SCALAR_SUM(double, nr_sum_f64_scalar)
