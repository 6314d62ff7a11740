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
    /* Set by nr_stats_set_reference: a point s0 = (w0, b0) (d + 1 values) and
     * a pass's sums there, sse0 = sum r^2 and g0 = (sum r x, sum r) with
     * r = w0.x + b0 - y; NULL before. */
    double *ref, sse0, *g0;
} nr_stats;

/* One blocked pass over rows [r0, r1) of `data`: each block's centered sums
 * about its own means, merged in a fixed block order (Chan et al.'s pairwise
 * rule): the same bits for any thread count. `stop` (may be NULL) is polled
 * with `stop_ctx` before each block, on the calling thread only; a non-zero
 * answer abandons the pass with NR_ERR_INTERRUPTED (`s` left empty). */
nr_status nr_stats_collect(const nr_kernels *kern, const nr_data *data, size_t r0, size_t r1,
                           int threads, nr_stop_fn stop, void *stop_ctx, nr_stats *s,
                           nr_error *err);

/* NR_ERR_DIVERGED (a numerical failure, exit 4) naming the feature, or the
 * target, whose centred sums of squares or products overflowed a double
 * (values beyond ~1e154 in magnitude, or a spread whose square times n is
 * beyond DBL_MAX); NR_OK when every statistic is finite. */
nr_status nr_stats_check_finite(const nr_stats *s, nr_error *err);
/* The same over rows shared between processes (`part`, NULL: none; see
 * nr_partition): the same bits as one process holding every row. */
nr_status nr_stats_collect_on(const nr_kernels *kern, const nr_data *data, size_t r0, size_t r1,
                              int threads, const nr_partition *part, nr_stop_fn stop,
                              void *stop_ctx, nr_stats *s, nr_error *err);
void nr_stats_free(nr_stats *s);

/* MSE of (w, b) from the statistics:
 * L = (w'Cw - 2 w'cxy + syy) / n + c^2, with c = b + w.m - ybar
 * (the cross terms vanish because centered sums are zero).
 * Near the optimum that is a difference of large terms: with a target of
 * 1e6 and a loss of 0.1, syy/n ~ 1e12 cancels down to 0.1 and the result
 * keeps only ~1e-4 of it. With a reference set (nr_stats_set_reference),
 * the loss is instead expanded about s0, with e = (w, b) - s0 and
 * h = e_w.m + e_b:
 *   L = (sse0 + 2 g0.e + e_w' C e_w) / n + h^2,
 * exact for any s0 (the residuals are affine in the state); with s0 at the
 * optimum, g0 ~ 0 and every term is at most L, so L keeps its digits. */
double nr_stats_mse(const nr_stats *s, const double *w, double b);

/* Gradient of that MSE: dL/dw = (2/n)(C w - cxy) + 2 c m, dL/db = 2 c; with
 * a reference, dL/dw = (2/n)(g0_w + C e_w) + 2 h m, dL/db = (2/n) g0_b + 2 h. */
void nr_stats_grad(const nr_stats *s, const double *w, double b, double *gw, double *gb);

/* Expand the loss about s0 (d + 1 values, the bias last) from a pass there:
 * sse0 = sum r^2, g0 = (sum r x_j ..., sum r) over the statistics' rows, in
 * the statistics' coordinates (standardized ones if they were). */
nr_status nr_stats_set_reference(nr_stats *s, const double *s0, double sse0, const double *g0,
                                 nr_error *err);

/* Least squares from the statistics. Overflowed statistics are refused as
 * nr_stats_check_finite refuses them. The rank is decided on scale-free
 * quantities, so that the units of a feature never matter:
 *  - a feature is constant when its standard deviation is 0 or within
 *    NR_OLS_CONSTANT (relative) of its mean: below that, the deviations are
 *    rounding of the values themselves (NR_ERR_INPUT);
 *  - the rest is solved on the correlation matrix R = D C D, D = diag(C)^-1/2
 *    (unit diagonal whatever the scales), by Cholesky; the pivot of feature j
 *    is 1 - R_j^2, the fraction of its variance that the features before it
 *    leave unexplained. A pivot below NR_OLS_COLLINEAR is a linear
 *    combination of them (NR_ERR_INPUT, naming the feature).
 * Accuracy: the normal equations lose cond(R) digits of the statistics'
 * ~1e-16; the threshold keeps cond(R) below about d / NR_OLS_COLLINEAR. */
#define NR_OLS_CONSTANT 1e-11
#define NR_OLS_COLLINEAR 1e-10
nr_status nr_stats_solve(const nr_stats *s, double *w, double *b, nr_error *err);

#endif
