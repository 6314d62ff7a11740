/* Fixed-order per-sample SGD as a monoid of affine maps with quadratic-form
 * losses (see affine.h and doc/exact.md), and the tutorial run through them:
 * one epoch map, its powers by repeated squaring, then one block of `every`
 * epochs per printed line. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "affine.h"

nr_status nr_affine_init(nr_affine *a, size_t d, nr_error *err) {
    memset(a, 0, sizeof *a);
    if (d > NR_AFFINE_MAX_FEATURES)
        return nr_fail(err, NR_ERR_ARG, "%zu features: the affine maps are limited to %d", d,
                       NR_AFFINE_MAX_FEATURES);
    const size_t m = d + 1;
    a->m = m;
    a->N = malloc(m * m * sizeof *a->N);
    a->Q = malloc(m * m * sizeof *a->Q);
    a->t = malloc((m * m + m) * sizeof *a->t);
    a->c = malloc(m * sizeof *a->c);
    a->q = malloc(m * sizeof *a->q);
    if (!a->N || !a->Q || !a->t || !a->c || !a->q) {
        nr_affine_free(a);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the affine map of %zu features", d);
    }
    nr_affine_identity(a);
    return NR_OK;
}

void nr_affine_free(nr_affine *a) {
    free(a->N);
    free(a->Q);
    free(a->t);
    free(a->c);
    free(a->q);
    memset(a, 0, sizeof *a);
}

void nr_affine_identity(nr_affine *a) {
    const size_t m = a->m;
    memset(a->N, 0, m * m * sizeof *a->N);
    memset(a->Q, 0, m * m * sizeof *a->Q);
    memset(a->c, 0, m * sizeof *a->c);
    memset(a->q, 0, m * sizeof *a->q);
    a->r = 0.0;
}

void nr_affine_copy(nr_affine *dst, const nr_affine *src) {
    const size_t m = src->m;
    memcpy(dst->N, src->N, m * m * sizeof *dst->N);
    memcpy(dst->Q, src->Q, m * m * sizeof *dst->Q);
    memcpy(dst->c, src->c, m * sizeof *dst->c);
    memcpy(dst->q, src->q, m * sizeof *dst->q);
    dst->r = src->r;
}

/* Swap the buffers of two elements of the same size. */
static void swap_elements(nr_affine *a, nr_affine *b) {
    nr_affine t = *a;
    *a = *b;
    *b = t;
}

void nr_affine_push(nr_affine *a, const double *x, double y, double lr) {
    const size_t m = a->m, d = m - 1;
    double *N = a->N, *Q = a->Q, *u = a->t;
    /* u = M^T z = z - N^T z and e = z.c - y, with z = (x, 1): the sample's
     * residual as an affine function u.s + e of the run's start state s. */
    for (size_t j = 0; j < m; j++) u[j] = N[d * m + j];
    double e = a->c[d];
    for (size_t i = 0; i < d; i++) {
        const double xi = x[i];
        const double *Ni = N + i * m;
        for (size_t j = 0; j < m; j++) u[j] += xi * Ni[j];
        e += xi * a->c[i];
    }
    for (size_t j = 0; j < m; j++) u[j] = (j < d ? x[j] : 1.0) - u[j];
    e -= y;
    /* The step s' = s - 2lr z (z.s - y) composed after the run so far:
     * M -= (2lr z) u^T, so N += (2lr z) u^T; c -= (2lr z) e. Doubling lr is
     * exact. */
    const double g = lr * 2;
    for (size_t i = 0; i < m; i++) {
        const double f = g * (i < d ? x[i] : 1.0);
        double *Ni = N + i * m;
        for (size_t j = 0; j < m; j++) Ni[j] += f * u[j];
        a->c[i] -= f * e;
    }
    /* Loss: (u.s + e)^2 = s^T (u u^T) s + 2 e u.s + e^2. The full update keeps
     * Q symmetric bit for bit (u_i u_j == u_j u_i, same order of sums). */
    for (size_t i = 0; i < m; i++) {
        double *Qi = Q + i * m;
        for (size_t j = 0; j < m; j++) Qi[j] += u[i] * u[j];
        a->q[i] += e * u[i];
    }
    a->r += e * e;
}

void nr_affine_compose(const nr_affine *a, const nr_affine *b, nr_affine *out) {
    const size_t m = a->m;
    const double *Na = a->N, *Nb = b->N, *Qb = b->Q;
    double *T = out->t, *v = out->t + m * m;
    /* T = Qb Ma = Qb - Qb Na */
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++) {
            double s = 0.0;
            for (size_t k = 0; k < m; k++) s += Qb[i * m + k] * Na[k * m + j];
            T[i * m + j] = Qb[i * m + j] - s;
        }
    /* Q = Qa + Ma^T T = Qa + (T - Na^T T), upper triangle then mirrored:
     * exactly symmetric */
    for (size_t i = 0; i < m; i++)
        for (size_t j = i; j < m; j++) {
            double s = 0.0;
            for (size_t k = 0; k < m; k++) s += Na[k * m + i] * T[k * m + j];
            out->Q[i * m + j] = out->Q[j * m + i] = a->Q[i * m + j] + (T[i * m + j] - s);
        }
    /* v = Qb ca; r = ra + (rb + ca.v + 2 qb.ca), b's loss at the state where a
     * ends when started from 0; then v += qb */
    double cqc = 0.0, qc = 0.0;
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        for (size_t k = 0; k < m; k++) s += Qb[i * m + k] * a->c[k];
        v[i] = s;
        cqc += a->c[i] * s;
        qc += b->q[i] * a->c[i];
    }
    out->r = a->r + (b->r + (cqc + 2 * qc));
    for (size_t i = 0; i < m; i++) v[i] += b->q[i];
    /* q = qa + Ma^T v = qa + (v - Na^T v) */
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        for (size_t k = 0; k < m; k++) s += Na[k * m + i] * v[k];
        out->q[i] = a->q[i] + (v[i] - s);
    }
    /* N = Na + Nb - Nb Na (M = Mb Ma), c = Mb ca + cb = (ca - Nb ca) + cb */
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < m; j++) {
            double s = 0.0;
            for (size_t k = 0; k < m; k++) s += Nb[i * m + k] * Na[k * m + j];
            out->N[i * m + j] = (Na[i * m + j] + Nb[i * m + j]) - s;
        }
        double s = 0.0;
        for (size_t k = 0; k < m; k++) s += Nb[i * m + k] * a->c[k];
        out->c[i] = (a->c[i] - s) + b->c[i];
    }
}

nr_status nr_affine_pow(const nr_affine *a, uint64_t k, nr_affine *out, nr_error *err) {
    nr_affine base, tmp;
    nr_status s = nr_affine_init(&base, a->m - 1, err);
    if (s != NR_OK) return s;
    if ((s = nr_affine_init(&tmp, a->m - 1, err)) != NR_OK) {
        nr_affine_free(&base);
        return s;
    }
    nr_affine_copy(&base, a);
    nr_affine_identity(out);
    bool first = true;
    while (k) {
        if (k & 1) {
            if (first) {
                nr_affine_copy(out, &base);
                first = false;
            } else {
                nr_affine_compose(out, &base, &tmp);
                swap_elements(out, &tmp);
            }
        }
        k >>= 1;
        if (k) {
            nr_affine_compose(&base, &base, &tmp);
            swap_elements(&base, &tmp);
        }
    }
    nr_affine_free(&base);
    nr_affine_free(&tmp);
    return NR_OK;
}

void nr_affine_apply(const nr_affine *a, const double *s, double *out) {
    const size_t m = a->m;
    for (size_t i = 0; i < m; i++) {
        double v = 0.0;
        for (size_t j = 0; j < m; j++) v += a->N[i * m + j] * s[j];
        out[i] = (s[i] - v) + a->c[i];
    }
}

nr_status nr_affine_step(const nr_affine *a, const double *s, double *out, int64_t epoch,
                         nr_error *err) {
    nr_affine_apply(a, s, out);
    const size_t d = a->m - 1;
    for (size_t j = 0; j <= d; j++)
        if (!isfinite(out[j]))
            return nr_fail(err, NR_ERR_DIVERGED,
                           "epoch %lld: the %s became %s after the epoch (its loss, taken at the "
                           "epoch's start, was still finite): training diverged",
                           (long long)epoch, j == d ? "bias" : "weights",
                           nr_nonfinite_word(out[j]));
    return NR_OK;
}

double nr_affine_loss(const nr_affine *a, const double *s) {
    const size_t m = a->m;
    double quad = 0.0, lin = 0.0;
    for (size_t i = 0; i < m; i++) {
        double v = 0.0;
        for (size_t j = 0; j < m; j++) v += a->Q[i * m + j] * s[j];
        quad += s[i] * v;
        lin += a->q[i] * s[i];
    }
    return (quad + 2 * lin) + a->r;
}

/* Rows [lo, hi) of `data` pushed onto `a` in order; `row` is scratch for d
 * widened f32 values. */
static void push_rows(nr_affine *a, const nr_data *data, size_t lo, size_t hi, double lr,
                      double *row) {
    const size_t d = data->features, cols = d + 1;
    for (size_t i = lo; i < hi; i++) {
        if (data->dtype == NR_F64) {
            const double *v = (const double *)data->values + i * cols;
            nr_affine_push(a, v, v[d], lr);
        } else {
            const float *v = (const float *)data->values + i * cols;
            for (size_t j = 0; j < d; j++) row[j] = (double)v[j];
            nr_affine_push(a, row, (double)v[d], lr);
        }
    }
}

nr_status nr_affine_epoch(const nr_data *data, size_t r0, size_t r1, double lr, int threads,
                          nr_stop_fn stop, void *stop_ctx, nr_affine *out, nr_error *err) {
    const size_t d = data->features;
    if (out->m != d + 1)
        return nr_fail(err, NR_ERR_INTERNAL, "affine map of %zu features for data of %zu",
                       out->m - 1, d);
    const size_t n = r1 > r0 ? r1 - r0 : 0, nb = (n + NR_AFFINE_BLOCK - 1) / NR_AFFINE_BLOCK;
    nr_affine_identity(out);
    double *row = NULL;
    if (data->dtype == NR_F32 && !(row = malloc((d ? d : 1) * sizeof *row)))
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    if (nb <= 1) { /* one block: no threads, no composition */
        push_rows(out, data, r0, r1, lr, row);
        free(row);
        return NR_OK;
    }
    free(row);
    if (threads <= 0) threads = omp_get_max_threads();
    /* Blocks in groups of at most `group` elements held at once (~64 MiB). */
    const size_t m = d + 1, bytes = (3 * m * m + 3 * m) * sizeof(double) + d * sizeof(double);
    size_t group = ((size_t)64 << 20) / bytes;
    if (group < 1) group = 1;
    if (group > 256) group = 256;
    if (group > nb) group = nb;
    nr_affine *part = calloc(group, sizeof *part), tmp = {0};
    double *rows = malloc(group * (d ? d : 1) * sizeof *rows);
    nr_status s =
        part && rows ? nr_affine_init(&tmp, d, err) : nr_fail(err, NR_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < group && s == NR_OK; k++) s = nr_affine_init(&part[k], d, err);
    int halt = 0;
    for (size_t g0 = 0; g0 < nb && s == NR_OK; g0 += group) {
        const size_t gn = nb - g0 < group ? nb - g0 : group;
#pragma omp parallel for schedule(static) num_threads(threads) if (gn > 1)
        for (size_t k = 0; k < gn; k++) {
            if (nr_block_halted(stop, stop_ctx, &halt, omp_get_thread_num())) continue;
            const size_t lo = r0 + (g0 + k) * NR_AFFINE_BLOCK;
            const size_t hi = lo + NR_AFFINE_BLOCK < r1 ? lo + NR_AFFINE_BLOCK : r1;
            nr_affine_identity(&part[k]);
            push_rows(&part[k], data, lo, hi, lr, rows + k * (d ? d : 1));
        }
        if (halt) {
            s = nr_fail(err, NR_ERR_INTERRUPTED,
                        "interrupted while building the epoch map (block %zu of %zu): nothing "
                        "trained",
                        g0 + 1, nb);
            break;
        }
        /* fixed order, left to right: the thread count never shows */
        for (size_t k = 0; k < gn; k++) {
            if (g0 + k == 0) {
                nr_affine_copy(out, &part[0]);
            } else {
                nr_affine_compose(out, &part[k], &tmp);
                swap_elements(out, &tmp);
            }
        }
    }
    if (part)
        for (size_t k = 0; k < group; k++) nr_affine_free(&part[k]);
    free(part);
    free(rows);
    nr_affine_free(&tmp);
    return s;
}

static double row_value(const nr_data *data, size_t at) {
    return data->dtype == NR_F64 ? ((const double *)data->values)[at]
                                 : (double)((const float *)data->values)[at];
}

double nr_affine_amplification(const nr_data *data, size_t r0, size_t r1, double lr) {
    const size_t d = data->features, m = d + 1, cols = d + 1;
    const double g = lr * 2;
    bool expands = false;
    for (size_t i = r0; i < r1 && !expands; i++) {
        double zz = 1.0;
        for (size_t j = 0; j < d; j++)
            zz += row_value(data, i * cols + j) * row_value(data, i * cols + j);
        expands = !(g * zz <= 2.0);
    }
    if (!expands) return 1.0;
    double *S = malloc((m * m + 2 * m) * sizeof *S);
    if (!S) return INFINITY; /* unknown: the caller takes the safe path */
    double *z = S + m * m, *Sz = z + m, worst = 1.0;
    for (size_t i = 0; i < m * m; i++) S[i] = i % (m + 1) == 0 ? 1.0 : 0.0;
    /* S <- S M_i = S - g (S z) z^T, from the last row back to the first */
    for (size_t i = r1; i-- > r0 && isfinite(worst);) {
        for (size_t j = 0; j < m; j++) z[j] = j < d ? row_value(data, i * cols + j) : 1.0;
        for (size_t a = 0; a < m; a++) {
            double t = 0.0;
            for (size_t k = 0; k < m; k++) t += S[a * m + k] * z[k];
            Sz[a] = g * t;
        }
        for (size_t a = 0; a < m; a++) {
            double row = 0.0;
            for (size_t k = 0; k < m; k++) {
                S[a * m + k] -= Sz[a] * z[k];
                row += fabs(S[a * m + k]);
            }
            if (!(row <= worst)) worst = isnan(row) ? INFINITY : row;
        }
    }
    free(S);
    return worst;
}

/* ------------------------------------------------------------------------ */
/* The tutorial through the maps                                            */
/* ------------------------------------------------------------------------ */

static bool all_finite(const nr_affine *a) {
    const size_t m = a->m;
    bool ok = isfinite(a->r);
    for (size_t i = 0; i < m * m; i++) ok = ok && isfinite(a->N[i]) && isfinite(a->Q[i]);
    for (size_t i = 0; i < m; i++) ok = ok && isfinite(a->c[i]) && isfinite(a->q[i]);
    return ok;
}

/* Whether M = I - N (2 x 2) is a contraction, |eigenvalue| < 1 for both: the
 * eigenvalues mu of N from its trace and determinant must lie in the open
 * disc of radius 1 around 1. */
static bool contracts_2x2(const double *N) {
    const double h = (N[0] + N[3]) / 2, det = N[0] * N[3] - N[1] * N[2];
    const double disc = h * h - det;
    if (disc < 0) return det < 2 * h; /* complex pair: |1 - mu|^2 = 1 - 2h + det */
    const double sq = sqrt(disc);
    /* real: 0 < h - sq (det > 0, h > 0) and h + sq < 2 */
    return det > 0 && h > 0 && h + sq < 2;
}

nr_status nr_tutorial_fast(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx, nr_error *err) {
    return nr_tutorial_fast_path(o, fn, ctx, NULL, err);
}

nr_status nr_tutorial_fast_path(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx,
                                nr_fast_path *path, nr_error *err) {
    double *buf, s0[2];
    nr_status st = nr_tutorial_data(o, &buf, &s0[0], &s0[1], err);
    if (st != NR_OK) return st;
    const size_t n = (size_t)o->samples;
    nr_affine E = {0}, C = {0}, P = {0};
    double *v = malloc((n ? n : 1) * 2 * sizeof *v);
    if (!v) st = nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu samples", n);
    for (size_t i = 0; i < n && v; i++) v[2 * i] = buf[i], v[2 * i + 1] = buf[n + i];
    free(buf);
    const nr_data data = {n, 1, NR_F64, v};
    if (st == NR_OK) st = nr_affine_init(&E, 1, err);
    if (st == NR_OK) st = nr_affine_init(&C, 1, err);
    if (st == NR_OK) st = nr_affine_init(&P, 1, err);
    if (st == NR_OK) st = nr_affine_epoch(&data, 0, n, o->lr, 0, NULL, NULL, &E, err);
    /* The maps stand in for the run only where the run is bounded: an epoch
     * map that does not contract (it diverges, or samples <= 1 leave a
     * direction untouched) or that overflowed goes to the sequential run,
     * which is exact there too and quick (it stops at the overflow, or has
     * at most one sample). */
    /* ... and only where rounding inside an epoch is not magnified beyond
     * what 1e-9 of agreement allows (near the stability limit both runs
     * lose digits, each its own, and agree on nothing past the fifth) */
    if (st == NR_OK &&
        (!all_finite(&E) || !contracts_2x2(E.N) ||
         nr_affine_amplification(&data, 0, n, o->lr) > NR_AFFINE_MAX_AMPLIFICATION)) {
        free(v);
        nr_affine_free(&E);
        nr_affine_free(&C);
        nr_affine_free(&P);
        if (path) *path = NR_FAST_PATH_SEQUENTIAL;
        return nr_tutorial_run(o, fn, ctx, err);
    }
    if (path) *path = NR_FAST_PATH_MAPS;
    /* The fixed point s* of the epoch map, N s* = c (Cramer's rule; N is
     * accurate entry by entry, so s* is close to the real fixed point). The
     * state is then followed as its offset from s*, which the map contracts
     * without an offset: s - s* -> M (s - s*). */
    double fix[2] = {0, 0};
    if (st == NR_OK) {
        const double *N = E.N, det = N[0] * N[3] - N[1] * N[2];
        fix[0] = (E.c[0] * N[3] - N[1] * E.c[1]) / det;
        fix[1] = (N[0] * E.c[1] - N[2] * E.c[0]) / det;
        /* The epoch's loss as a quadratic form in the offset from s*: one
         * epoch pushed from s* itself (N and Q come out as E's, bit for bit),
         * so its constant is the sum of the squared residuals met on the way
         * and no large terms cancel when the state is near s*. */
        nr_affine_identity(&C);
        C.c[0] = fix[0], C.c[1] = fix[1];
        for (size_t i = 0; i < n; i++) nr_affine_push(&C, &v[2 * i], v[2 * i + 1], o->lr);
    }
    free(v);
    const int64_t lines = o->epochs / o->every;
    /* P = E^(every-1): the state before each printed epoch; that epoch's loss
     * is C's quadratic form there, and E takes the state past it. Only N is
     * used: about s*, the maps have no offset. */
    if (st == NR_OK && lines > 0) st = nr_affine_pow(&E, (uint64_t)(o->every - 1), &P, err);
    double dlt[2] = {s0[0] - fix[0], s0[1] - fix[1]}, d1[2];
    for (int64_t k = 1; k <= lines && st == NR_OK; k++) {
        for (int i = 0; i < 2; i++)
            d1[i] = dlt[i] - (P.N[2 * i] * dlt[0] + P.N[2 * i + 1] * dlt[1]);
        const double loss = ((d1[0] * (C.Q[0] * d1[0] + C.Q[1] * d1[1]) +
                              d1[1] * (C.Q[2] * d1[0] + C.Q[3] * d1[1])) +
                             2 * (C.q[0] * d1[0] + C.q[1] * d1[1])) +
                            C.r;
        for (int i = 0; i < 2; i++) dlt[i] = d1[i] - (E.N[2 * i] * d1[0] + E.N[2 * i + 1] * d1[1]);
        const int64_t epoch = k * o->every;
        const double w = fix[0] + dlt[0], b = fix[1] + dlt[1];
        if (!isfinite(loss) || !isfinite(w) || !isfinite(b)) {
            st = nr_fail(err, NR_ERR_DIVERGED,
                         "epoch %lld: the epoch map left the range of doubles; the "
                         "sequential run (without the maps) gives its numbers",
                         (long long)epoch);
            break;
        }
        if (fn && fn(ctx, epoch, loss, w, b)) break; /* the caller's stop: a success */
    }
    nr_affine_free(&E);
    nr_affine_free(&C);
    nr_affine_free(&P);
    return st;
}
