/* Sufficient statistics of least squares, for the closed form (ols) and for
 * exact full-batch epochs that cost O(d^2) instead of a pass; not installed. */
#ifndef NR_EXACT_H
#define NR_EXACT_H

#include "internal.h"
#include "kernels.h"

/* Over n rows: feature means m, target mean ybar, centered Gram matrix
 * C = sum (x - m)(x - m)^T (d x d, row-major, full), cxy = sum (x - m)(y - ybar),
 * syy = sum (y - ybar)^2. */
typedef struct {
    size_t d, n;
    double *mean, ybar;
    double *C, *cxy, syy;
} nr_stats;

/* One blocked pass over rows [r0, r1) of `data`: each block's centered sums
 * about its own means, merged in a fixed block order (Chan et al.'s pairwise
 * rule): the same bits for any thread count. */
nr_status nr_stats_collect(const nr_kernels *kern, const nr_data *data, size_t r0, size_t r1,
                           int threads, nr_stats *s, nr_error *err);
/* The same over rows shared between processes (`part`, NULL: none; see
 * nr_partition): the same bits as one process holding every row. */
nr_status nr_stats_collect_on(const nr_kernels *kern, const nr_data *data, size_t r0, size_t r1,
                              int threads, const nr_partition *part, nr_stats *s, nr_error *err);
void nr_stats_free(nr_stats *s);

/* MSE of (w, b) from the statistics:
 * L = (w'Cw - 2 w'cxy + syy) / n + c^2, with c = b + w.m - ybar
 * (the cross terms vanish because centered sums are zero). */
double nr_stats_mse(const nr_stats *s, const double *w, double b);

/* Gradient of that MSE: dL/dw = (2/n)(C w - cxy) + 2 c m, dL/db = 2 c. */
void nr_stats_grad(const nr_stats *s, const double *w, double b, double *gw, double *gb);

/* Least squares from the statistics: Cholesky of C (NR_ERR_INPUT when C is
 * not positive definite: a constant feature or collinear features). */
nr_status nr_stats_solve(const nr_stats *s, double *w, double *b, nr_error *err);

#endif
