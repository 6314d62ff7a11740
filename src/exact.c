/* Least squares through its sufficient statistics.
 *
 * Full-batch gradient descent on the MSE depends on the data only through
 * the means, the centered Gram matrix, the centered X^T y and y^T y, so one
 * pass that collects them lets every later epoch cost O(d^2), whatever n.
 * Centering first keeps the statistics accurate (no cancellation between
 * sum x^2 and n m^2), and the loss comes from the same statistics, expanded
 * about the optimum. The closed form solves the centered normal equations
 * scaled to correlations, by Cholesky, so that its rank decision has no
 * units. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "exact.h"
#include "kernels.h"
#include "train/train.h"

enum { BLOCK = 4096 };

/* Per block: the block's own means and its sums centered on them. Blocks are
 * then merged in a fixed order with the pairwise rule of Chan, Golub and
 * LeVeque (1979): for blocks a, b with counts na, nb and mean difference
 * delta = mb - ma, the merged centered sums are Sa + Sb + delta delta^T
 * na nb / (na + nb). One pass over the data, no cancellation, and the same
 * bits for any thread count. Layout of a partial (per doubles):
 * mean[d + 1] (target last), C upper triangle as full d x d, cxy[d], syy. */
typedef struct {
    size_t d, per;
} layout;

/* One feature, straight from the data (the common case, and the one where a
 * generic loop spends more cycles on indexing than on arithmetic): two
 * sweeps over the block, sums split over four rows for instruction-level
 * parallelism. */
#define BLOCK_STATS_1(T, NAME)                                                                     \
    static void NAME(const T *v, size_t n, double *p) {                                            \
        double sx[4] = {0}, sy[4] = {0};                                                           \
        size_t i = 0;                                                                              \
        for (; i + 4 <= n; i += 4)                                                                 \
            for (int k = 0; k < 4; k++)                                                            \
                sx[k] += (double)v[2 * (i + k)], sy[k] += (double)v[2 * (i + k) + 1];              \
        for (; i < n; i++) sx[0] += (double)v[2 * i], sy[0] += (double)v[2 * i + 1];               \
        const double mx = ((sx[0] + sx[1]) + (sx[2] + sx[3])) / (double)n;                         \
        const double my = ((sy[0] + sy[1]) + (sy[2] + sy[3])) / (double)n;                         \
        double cxx[4] = {0}, cxy[4] = {0}, cyy[4] = {0};                                           \
        for (i = 0; i + 4 <= n; i += 4)                                                            \
            for (int k = 0; k < 4; k++) {                                                          \
                const double a = (double)v[2 * (i + k)] - mx, b = (double)v[2 * (i + k) + 1] - my; \
                cxx[k] += a * a, cxy[k] += a * b, cyy[k] += b * b;                                 \
            }                                                                                      \
        for (; i < n; i++) {                                                                       \
            const double a = (double)v[2 * i] - mx, b = (double)v[2 * i + 1] - my;                 \
            cxx[0] += a * a, cxy[0] += a * b, cyy[0] += b * b;                                     \
        }                                                                                          \
        p[0] = mx, p[1] = my;                                                                      \
        p[2] = (cxx[0] + cxx[1]) + (cxx[2] + cxx[3]);                                              \
        p[3] = (cxy[0] + cxy[1]) + (cxy[2] + cxy[3]);                                              \
        p[4] = (cyy[0] + cyy[1]) + (cyy[2] + cyy[3]);                                              \
    }
BLOCK_STATS_1(float, block_stats1_f32)
BLOCK_STATS_1(double, block_stats1_f64)

/* buf = the rows widened to double, sum[j] += column j. */
#define WIDEN_SUM(T, NAME)                                                                         \
    static void NAME(const T *restrict src, size_t n, size_t w, double *restrict buf,              \
                     double *restrict sum) {                                                       \
        for (size_t i = 0; i < n; i++)                                                             \
            for (size_t j = 0; j < w; j++) {                                                       \
                const double v = (double)src[i * w + j];                                           \
                buf[i * w + j] = v;                                                                \
                sum[j] += v;                                                                       \
            }                                                                                      \
    }
WIDEN_SUM(float, widen_sum_f32)
WIDEN_SUM(double, widen_sum_f64)

static void center(double *restrict buf, size_t n, size_t w, const double *restrict m) {
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < w; j++) buf[r * w + j] -= m[j];
}

static void block_stats(const nr_kernels *kern, const nr_data *data, size_t lo, size_t hi,
                        const layout *L, double *p, double *buf) {
    const size_t d = L->d, w = d + 1, n = hi - lo;
    if (d == 1) {
        if (data->dtype == NR_F32)
            block_stats1_f32((const float *)data->values + lo * 2, n, p);
        else
            block_stats1_f64((const double *)data->values + lo * 2, n, p);
        return;
    }
    /* widen the block to double once (f32 data are exact in double) while
     * summing its columns; the inner loop runs across columns, so each
     * column's sum is its own chain, and restrict lets it vectorise */
    double *m = p, *C = p + w, *cxy = C + d * d, *syy = cxy + d;
    memset(p, 0, L->per * sizeof *p);
    if (data->dtype == NR_F32)
        widen_sum_f32((const float *)data->values + lo * w, n, w, buf, m);
    else
        widen_sum_f64((const double *)data->values + lo * w, n, w, buf, m);
    for (size_t j = 0; j < w; j++) m[j] /= (double)n;
    center(buf, n, w, m);
    /* the Gram matrix of the centered (x, y) rows holds C, cxy and syy */
    const size_t wp = (w + 3) / 4 * 4;
    double *G = buf + n * w + 4;
    memset(buf + n * w, 0, 4 * sizeof *buf); /* the kernel may read past the last row */
    kern->gram_f64(buf, n, w, G);
    for (size_t a = 0; a < d; a++) {
        for (size_t c = a; c < d; c++) C[a * d + c] = G[a * wp + c];
        cxy[a] = G[a * wp + d];
    }
    *syy = G[d * wp + d];
}

/* Merge partial b (nb rows) into the running total t (nt rows). */
static void merge(const layout *L, double *t, size_t nt, const double *b, size_t nb) {
    const size_t d = L->d, w = d + 1;
    if (nt == 0) {
        memcpy(t, b, L->per * sizeof *t);
        return;
    }
    const double n = (double)(nt + nb), f = (double)nt * (double)nb / n;
    double delta[4097];
    for (size_t j = 0; j < w; j++) delta[j] = b[j] - t[j];
    double *C = t + w, *cxy = C + d * d, *syy = cxy + d;
    const double *bC = b + w, *bxy = bC + d * d, *byy = bxy + d;
    for (size_t a = 0; a < d; a++) {
        for (size_t c = a; c < d; c++) C[a * d + c] += bC[a * d + c] + f * delta[a] * delta[c];
        cxy[a] += bxy[a] + f * delta[a] * delta[d];
    }
    *syy += *byy + f * delta[d] * delta[d];
    for (size_t j = 0; j < w; j++) t[j] += delta[j] * ((double)nb / n);
}

void nr_stats_free(nr_stats *s) {
    free(s->mean);
    free(s->C);
    free(s->cxy);
    free(s->ref);
    memset(s, 0, sizeof *s);
}

typedef struct {
    const nr_kernels *kern;
    const nr_data *data;
    const layout *L;
    double *all, *bufs;
    size_t per_thread;
} stats_ctx;

/* One block's statistics from its rows, wherever they are held. */
static void stats_block(void *ctx, size_t k, const void *rows, size_t n) {
    const stats_ctx *c = ctx;
    const nr_data one = {
        .rows = n, .features = c->data->features, .dtype = c->data->dtype, .values = rows};
    block_stats(c->kern, &one, 0, n, c->L, c->all + k * c->L->per,
                c->bufs ? c->bufs + (size_t)omp_get_thread_num() * c->per_thread : NULL);
}

/* Rows shared between processes (nr_partition): this process's blocks of
 * [r0, r1) (data->values start at its share), every block's partial
 * gathered in block order, then merged in that order as one process does. */
static nr_status stats_partitioned(const nr_kernels *kern, const nr_data *data, size_t r0,
                                   size_t r1, const nr_partition *pt, int threads, const layout *L,
                                   double *bufs, size_t per_thread, double *tot, nr_error *err) {
    const size_t nb = (r1 - r0 + BLOCK - 1) / BLOCK;
    int *counts = malloc(2 * (size_t)pt->parts * sizeof *counts);
    double *all =
        nb <= SIZE_MAX / L->per / sizeof(double) ? malloc(nb * L->per * sizeof *all) : NULL;
    size_t k0 = counts ? nr_partition_blocks(pt, r0, r1, L->per, counts, counts + pt->parts) : 0;
    if (!counts || !all || k0 == SIZE_MAX) {
        free(counts);
        free(all);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the statistics of %zu blocks", nb);
    }
    const size_t mine = (size_t)counts[pt->part] / L->per;
    stats_ctx c = {kern, data, L, all, bufs, per_thread};
    nr_status s =
        nr_partition_each_block(pt, data, r0, r1, k0, mine, threads, stats_block, &c, err);
    /* a process whose read failed still takes part in the gather, so that
     * no other waits for it, and all learn of the failure together */
    int rc = pt->gather(pt->ctx, all, counts, counts + pt->parts);
    if (rc != 0 && s == NR_OK) s = nr_fail(err, NR_ERR_IO, "gathering the statistics failed");
    s = nr_partition_agree(pt, s, err);
    size_t done = 0;
    for (size_t k = 0; s == NR_OK && k < nb; k++) {
        const size_t a = r0 + k * BLOCK, e = a + BLOCK < r1 ? a + BLOCK : r1;
        merge(L, tot, done, all + k * L->per, e - a);
        done += e - a;
    }
    free(counts);
    free(all);
    return s;
}

nr_status nr_stats_collect(const nr_kernels *kern, const nr_data *data, size_t r0, size_t r1,
                           int threads, nr_stop_fn stop, void *stop_ctx, nr_stats *s,
                           nr_error *err) {
    return nr_stats_collect_on(kern, data, r0, r1, threads, NULL, stop, stop_ctx, s, err);
}

nr_status nr_stats_collect_on(const nr_kernels *kern, const nr_data *data, size_t r0, size_t r1,
                              int threads, const nr_partition *pt, nr_stop_fn stop, void *stop_ctx,
                              nr_stats *s, nr_error *err) {
    memset(s, 0, sizeof *s);
    const size_t d = data->features, n = r1 - r0, nb = (n + BLOCK - 1) / BLOCK;
    if (n == 0) return nr_fail(err, NR_ERR_ARG, "no rows for the statistics");
    if (d > 4096)
        return nr_fail(err, NR_ERR_ARG, "%zu features: the Gram matrix is limited to 4096", d);
    const layout L = {d, (d + 1) + d * d + d + 1};
    if (threads <= 0) threads = omp_get_max_threads();
    /* partials of one group of blocks at a time, bounded to ~64 MiB */
    size_t group = ((size_t)64 << 20) / (L.per * sizeof(double));
    if (group < 1) group = 1;
    if (group > 256) group = 256;
    s->d = d, s->n = n;
    s->mean = calloc(d, sizeof *s->mean);
    s->C = calloc(d * d, sizeof *s->C);
    s->cxy = calloc(d, sizeof *s->cxy);
    double *part = malloc(group * L.per * sizeof *part), *tot = malloc(L.per * sizeof *tot);
    /* per thread: the block widened to double, 4 doubles of padding, and the
     * Gram scratch of (d + 1) x (d + 1 rounded up to 4) */
    const size_t per_thread = BLOCK * (d + 1) + 4 + (d + 1) * ((d + 4) / 4 * 4);
    /* no more threads than blocks in a group: with thousands of features a
     * group is one block, and buffers for idle threads would only cost memory
     * (one feature needs none: its blocks are read in place) */
    const size_t most = group < nb ? group : nb;
    if ((size_t)threads > most) threads = (int)most;
    const size_t nbuf = d == 1 ? 0 : (size_t)threads * per_thread;
    double *bufs = nbuf ? malloc(nbuf * sizeof *bufs) : NULL;
    if (!s->mean || !s->C || !s->cxy || !part || !tot || (nbuf && !bufs)) {
        free(part);
        free(tot);
        free(bufs);
        nr_stats_free(s);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the statistics of %zu features", d);
    }
    size_t done = 0;
    nr_status st =
        pt ? stats_partitioned(kern, data, r0, r1, pt, threads, &L, bufs, per_thread, tot, err)
           : NR_OK;
    int halt = 0;
    for (size_t g0 = 0; !pt && g0 < nb && !halt; g0 += group) {
        const size_t gn = nb - g0 < group ? nb - g0 : group;
        /* polled once per block: a block of thousands of features is the
         * longest wait */
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t k = 0; k < gn; k++) {
            if (nr_block_halted(stop, stop_ctx, &halt, omp_get_thread_num())) continue;
            const size_t lo = r0 + (g0 + k) * BLOCK, hi = lo + BLOCK < r1 ? lo + BLOCK : r1;
            block_stats(kern, data, lo, hi, &L, part + k * L.per,
                        bufs ? bufs + (size_t)omp_get_thread_num() * per_thread : NULL);
        }
        if (halt) break;
        for (size_t k = 0; k < gn; k++) {
            const size_t lo = r0 + (g0 + k) * BLOCK, hi = lo + BLOCK < r1 ? lo + BLOCK : r1;
            merge(&L, tot, done, part + k * L.per, hi - lo);
            done += hi - lo;
        }
    }
    if (st != NR_OK || halt) {
        free(part);
        free(tot);
        free(bufs);
        nr_stats_free(s);
        if (st != NR_OK) return st;
        return nr_fail(err, NR_ERR_INTERRUPTED,
                       "interrupted during the pass of statistics (%zu of %zu rows): nothing "
                       "trained",
                       done, n);
    }
    memcpy(s->mean, tot, d * sizeof *tot);
    s->ybar = tot[d];
    const double *C = tot + d + 1;
    for (size_t a = 0; a < d; a++) /* mirror the upper triangle */
        for (size_t b = 0; b < d; b++) s->C[a * d + b] = a <= b ? C[a * d + b] : C[b * d + a];
    memcpy(s->cxy, C + d * d, d * sizeof *tot);
    s->syy = C[d * d + d];
    free(part);
    free(tot);
    free(bufs);
    return NR_OK;
}

static double offset(const nr_stats *s, const double *w, double b) {
    double c = b - s->ybar;
    for (size_t j = 0; j < s->d; j++) c += w[j] * s->mean[j];
    return c;
}

nr_status nr_stats_set_reference(nr_stats *s, const double *s0, double sse0, const double *g0,
                                 nr_error *err) {
    const size_t m = s->d + 1;
    free(s->ref);
    if (!(s->ref = malloc(2 * m * sizeof *s->ref)))
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    s->g0 = s->ref + m;
    memcpy(s->ref, s0, m * sizeof *s0);
    memcpy(s->g0, g0, m * sizeof *g0);
    s->sse0 = sse0;
    return NR_OK;
}

/* h = e_w.m + e_b (the mean residual's change), and Ce = C e_w when `ce`. */
static double about_reference(const nr_stats *s, const double *w, double b, double *ce) {
    const size_t d = s->d;
    double h = b - s->ref[d];
    for (size_t j = 0; j < d; j++) h += (w[j] - s->ref[j]) * s->mean[j];
    if (ce)
        for (size_t a = 0; a < d; a++) {
            double t = 0;
            for (size_t k = 0; k < d; k++) t += s->C[a * d + k] * (w[k] - s->ref[k]);
            ce[a] = t;
        }
    return h;
}

double nr_stats_mse(const nr_stats *s, const double *w, double b) {
    const size_t d = s->d;
    if (s->ref) {
        const double h = about_reference(s, w, b, NULL);
        double lin = s->g0[d] * (b - s->ref[d]), quad = 0;
        for (size_t a = 0; a < d; a++) {
            const double ea = w[a] - s->ref[a];
            double ce = 0;
            for (size_t k = 0; k < d; k++) ce += s->C[a * d + k] * (w[k] - s->ref[k]);
            quad += ea * ce;
            lin += s->g0[a] * ea;
        }
        return (s->sse0 + (2 * lin + quad)) / (double)s->n + h * h;
    }
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
    const double scale = 2.0 / (double)s->n;
    if (s->ref) {
        const double h = about_reference(s, w, b, gw); /* gw = C e_w first */
        for (size_t a = 0; a < d; a++) gw[a] = scale * (s->g0[a] + gw[a]) + 2 * h * s->mean[a];
        *gb = scale * s->g0[d] + 2 * h;
        return;
    }
    const double c = offset(s, w, b);
    for (size_t a = 0; a < d; a++) {
        double cw = 0;
        for (size_t k = 0; k < d; k++) cw += s->C[a * d + k] * w[k];
        gw[a] = scale * (cw - s->cxy[a]) + 2 * c * s->mean[a];
    }
    *gb = 2 * c;
}

nr_status nr_stats_check_finite(const nr_stats *s, nr_error *err) {
    const size_t d = s->d;
    if (!isfinite(s->ybar) || !isfinite(s->syy))
        return nr_fail(err, NR_ERR_DIVERGED,
                       "least squares: the sum of squares of the target overflowed a double "
                       "(|y| beyond ~1e154 or n var(y) beyond 1.8e308); scale the target down");
    for (size_t j = 0; j < d; j++)
        if (!isfinite(s->mean[j]) || !isfinite(s->C[j * d + j]))
            return nr_fail(err, NR_ERR_DIVERGED,
                           "least squares: the sum of squares of feature %zu overflowed a double "
                           "(|x| beyond ~1e154 or n var(x) beyond 1.8e308); scale it down",
                           j + 1);
    for (size_t j = 0; j < d; j++) {
        bool ok = isfinite(s->cxy[j]);
        for (size_t k = 0; k < d && ok; k++) ok = isfinite(s->C[j * d + k]);
        if (!ok)
            return nr_fail(err, NR_ERR_DIVERGED,
                           "least squares: the sums of products of feature %zu overflowed a "
                           "double; scale the data down",
                           j + 1);
    }
    return NR_OK;
}

nr_status nr_stats_solve(const nr_stats *s, double *w, double *b, nr_error *err) {
    const size_t d = s->d;
    nr_status st = nr_stats_check_finite(s, err);
    if (st != NR_OK) return st;
    /* constant: the spread is 0, or so small next to the mean that it is the
     * rounding of the values (and of the block means) rather than data */
    for (size_t j = 0; j < d; j++) {
        const double sd = sqrt(s->C[j * d + j] / (double)s->n);
        if (!(sd > NR_OLS_CONSTANT * fabs(s->mean[j])))
            return nr_fail(err, NR_ERR_INPUT,
                           "least squares has no unique solution: feature %zu is constant "
                           "(standard deviation %.3g, mean %.17g)",
                           j + 1, sd, s->mean[j]);
    }
    double *L = malloc(d * d * sizeof *L), *z = malloc(d * sizeof *z), *D = malloc(d * sizeof *D);
    if (!L || !z || !D) {
        free(L);
        free(z);
        free(D);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    /* R = D C D has a unit diagonal whatever the units of the features, so
     * its pivots are fractions of variance and one threshold fits every
     * scale (a Cholesky of C itself compares variances of 1e-8 and 1e6). */
    for (size_t j = 0; j < d; j++) D[j] = 1.0 / sqrt(s->C[j * d + j]);
    for (size_t j = 0; j < d && st == NR_OK; j++) {
        double v = 1.0;
        for (size_t k = 0; k < j; k++) v -= L[j * d + k] * L[j * d + k];
        if (!(v > NR_OLS_COLLINEAR)) {
            st = nr_fail(err, NR_ERR_INPUT,
                         "least squares has no unique solution: feature %zu is a linear "
                         "combination of features 1-%zu (they explain all but %.2g of its "
                         "variance)",
                         j + 1, j, v > 0 ? v : 0.0);
            break;
        }
        L[j * d + j] = sqrt(v);
        for (size_t i = j + 1; i < d; i++) {
            double t = s->C[i * d + j] * D[i] * D[j];
            for (size_t k = 0; k < j; k++) t -= L[i * d + k] * L[j * d + k];
            L[i * d + j] = t / L[j * d + j];
        }
    }
    if (st == NR_OK) {
        /* R u = D cxy, then w = D u */
        for (size_t i = 0; i < d; i++) { /* L z = D cxy */
            double t = s->cxy[i] * D[i];
            for (size_t k = 0; k < i; k++) t -= L[i * d + k] * z[k];
            z[i] = t / L[i * d + i];
        }
        for (size_t i = d; i-- > 0;) { /* L^T u = z, u kept in w */
            double t = z[i];
            for (size_t k = i + 1; k < d; k++) t -= L[k * d + i] * w[k];
            w[i] = t / L[i * d + i];
        }
        for (size_t j = 0; j < d; j++) w[j] *= D[j];
        double c = s->ybar;
        for (size_t j = 0; j < d; j++) c -= w[j] * s->mean[j];
        *b = c;
        for (size_t j = 0; j < d && st == NR_OK; j++)
            if (!isfinite(w[j]) || !isfinite(*b))
                st = nr_fail(err, NR_ERR_DIVERGED,
                             "least squares: the solution overflowed a double (weight %zu)", j + 1);
    }
    free(L);
    free(z);
    free(D);
    return st;
}
