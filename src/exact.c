/* Least squares through its sufficient statistics.
 *
 * Full-batch gradient descent on the MSE depends on the data only through
 * the means, the centered Gram matrix, the centered X^T y and y^T y, so one
 * pass that collects them lets every later epoch cost O(d^2), whatever n.
 * Centering first keeps the statistics accurate (no cancellation between
 * sum x^2 and n m^2), and the loss comes from the same statistics. The
 * closed form solves the centered normal equations by Cholesky. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "exact.h"

enum { BLOCK = 4096 };

static double val(const nr_data *d, size_t i, size_t j) {
    size_t at = i * (d->features + 1) + j;
    return d->dtype == NR_F32 ? (double)((const float *)d->values)[at]
                              : ((const double *)d->values)[at];
}

void nr_stats_free(nr_stats *s) {
    free(s->mean);
    free(s->C);
    free(s->cxy);
    memset(s, 0, sizeof *s);
}

nr_status nr_stats_collect(const nr_data *data, size_t r0, size_t r1, int threads, nr_stats *s,
                           nr_error *err) {
    memset(s, 0, sizeof *s);
    const size_t d = data->features, n = r1 - r0, nb = (n + BLOCK - 1) / BLOCK;
    if (n == 0) return nr_fail(err, NR_ERR_ARG, "no rows for the statistics");
    if (d > 4096)
        return nr_fail(err, NR_ERR_ARG, "%zu features: the Gram matrix is limited to 4096", d);
    s->d = d, s->n = n;
    s->mean = calloc(d, sizeof *s->mean);
    s->C = calloc(d * d, sizeof *s->C);
    s->cxy = calloc(d, sizeof *s->cxy);
    /* per-block partials of one group of blocks at a time, bounded to ~64 MiB */
    const size_t per = d * d + 2 * d + 2;
    size_t group = ((size_t)64 << 20) / (per * sizeof(double));
    if (group < 1) group = 1;
    if (group > 256) group = 256;
    double *part = malloc(group * per * sizeof *part);
    if (!s->mean || !s->C || !s->cxy || !part) {
        free(part);
        nr_stats_free(s);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the statistics of %zu features", d);
    }
    if (threads <= 0) threads = omp_get_max_threads();
    for (int stage = 0; stage < 2; stage++) {
        double sy = 0;
        for (size_t g0 = 0; g0 < nb; g0 += group) {
            const size_t gn = nb - g0 < group ? nb - g0 : group;
#pragma omp parallel for schedule(static) num_threads(threads)
            for (size_t k = 0; k < gn; k++) {
                double *p = part + k * per, *pm = p, *pC = p + d, *pxy = pC + d * d, *py = pxy + d;
                memset(p, 0, per * sizeof *p);
                const size_t lo = r0 + (g0 + k) * BLOCK, hi = lo + BLOCK < r1 ? lo + BLOCK : r1;
                double xc[4096];
                for (size_t i = lo; i < hi; i++) {
                    const double y = val(data, i, d);
                    if (stage == 0) {
                        for (size_t j = 0; j < d; j++) pm[j] += val(data, i, j);
                        py[0] += y;
                        continue;
                    }
                    const double yc = y - s->ybar;
                    for (size_t j = 0; j < d; j++) xc[j] = val(data, i, j) - s->mean[j];
                    for (size_t a = 0; a < d; a++) {
                        const double xa = xc[a];
                        double *row = pC + a * d;
                        for (size_t b = a; b < d; b++) row[b] += xa * xc[b];
                        pxy[a] += xa * yc;
                    }
                    py[1] += yc * yc;
                }
            }
            for (size_t k = 0; k < gn; k++) {
                const double *p = part + k * per, *pC = p + d, *pxy = pC + d * d, *py = pxy + d;
                if (stage == 0) {
                    for (size_t j = 0; j < d; j++) s->mean[j] += p[j];
                    sy += py[0];
                } else {
                    for (size_t a = 0; a < d; a++) {
                        for (size_t b = a; b < d; b++) s->C[a * d + b] += pC[a * d + b];
                        s->cxy[a] += pxy[a];
                    }
                    s->syy += py[1];
                }
            }
        }
        if (stage == 0) {
            for (size_t j = 0; j < d; j++) s->mean[j] /= (double)n;
            s->ybar = sy / (double)n;
        }
    }
    for (size_t a = 0; a < d; a++) /* mirror the upper triangle */
        for (size_t b = 0; b < a; b++) s->C[a * d + b] = s->C[b * d + a];
    free(part);
    return NR_OK;
}

static double offset(const nr_stats *s, const double *w, double b) {
    double c = b - s->ybar;
    for (size_t j = 0; j < s->d; j++) c += w[j] * s->mean[j];
    return c;
}

double nr_stats_mse(const nr_stats *s, const double *w, double b) {
    const size_t d = s->d;
    double q = s->syy;
    for (size_t a = 0; a < d; a++) {
        double cw = 0;
        for (size_t k = 0; k < d; k++) cw += s->C[a * d + k] * w[k];
        q += w[a] * (cw - 2 * s->cxy[a]);
    }
    const double c = offset(s, w, b);
    return q / (double)s->n + c * c;
}

void nr_stats_grad(const nr_stats *s, const double *w, double b, double *gw, double *gb) {
    const size_t d = s->d;
    const double c = offset(s, w, b), scale = 2.0 / (double)s->n;
    for (size_t a = 0; a < d; a++) {
        double cw = 0;
        for (size_t k = 0; k < d; k++) cw += s->C[a * d + k] * w[k];
        gw[a] = scale * (cw - s->cxy[a]) + 2 * c * s->mean[a];
    }
    *gb = 2 * c;
}

nr_status nr_stats_solve(const nr_stats *s, double *w, double *b, nr_error *err) {
    const size_t d = s->d;
    double *L = malloc(d * d * sizeof *L), *z = malloc(d * sizeof *z);
    if (!L || !z) {
        free(L);
        free(z);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    /* Cholesky C = L L^T; a pivot below n * eps * max diagonal means the
     * centered features are (numerically) linearly dependent. */
    double dmax = 0;
    for (size_t a = 0; a < d; a++) dmax = fmax(dmax, s->C[a * d + a]);
    const double floor_ = dmax * 1e-13;
    nr_status st = NR_OK;
    for (size_t j = 0; j < d && st == NR_OK; j++) {
        double v = s->C[j * d + j];
        for (size_t k = 0; k < j; k++) v -= L[j * d + k] * L[j * d + k];
        if (!(v > floor_)) {
            st =
                nr_fail(err, NR_ERR_INPUT,
                        "least squares has no unique solution: feature %zu is constant or a linear "
                        "combination of the others",
                        j + 1);
            break;
        }
        L[j * d + j] = sqrt(v);
        for (size_t i = j + 1; i < d; i++) {
            double t = s->C[i * d + j];
            for (size_t k = 0; k < j; k++) t -= L[i * d + k] * L[j * d + k];
            L[i * d + j] = t / L[j * d + j];
        }
    }
    if (st == NR_OK) {
        for (size_t i = 0; i < d; i++) { /* L z = cxy */
            double t = s->cxy[i];
            for (size_t k = 0; k < i; k++) t -= L[i * d + k] * z[k];
            z[i] = t / L[i * d + i];
        }
        for (size_t i = d; i-- > 0;) { /* L^T w = z */
            double t = z[i];
            for (size_t k = i + 1; k < d; k++) t -= L[k * d + i] * w[k];
            w[i] = t / L[i * d + i];
        }
        double c = s->ybar;
        for (size_t j = 0; j < d; j++) c -= w[j] * s->mean[j];
        *b = c;
    }
    free(L);
    free(z);
    return st;
}
