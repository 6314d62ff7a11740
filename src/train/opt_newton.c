/* Newton's method (IRLS) with a backtracking line search: the optimum of a
 * twice-differentiable objective (the logistic loss; the squared error too,
 * reached in one step), the counterpart of ols for the logistic loss.
 *
 * One pass per epoch: at the trial point the pass gives the mean loss, its
 * gradient and its Hessian (1/n) sum h_i z_i z_i^T with z_i = (x_i, 1) and
 * h_i the row loss's second derivative. If the loss satisfies Armijo's
 * condition against the last accepted point, the trial point is accepted
 * and the Newton step from it, -H^-1 g, is the next trial point; otherwise
 * the step from the accepted point is halved and tried. So a full step costs
 * one pass, and the pass that checks a step is also the one that computes
 * the next. The system is solved in the trained parameters (standardized
 * when asked), scaled to a unit diagonal (Jacobi) before its Cholesky
 * factorisation, so the units of the features do not decide what is
 * singular.
 *
 * Sums run over blocks of NR_TRAIN_BLOCK rows, the blocks of a fixed number
 * of chunks (a function of the data's shape only) in order, the chunks in
 * parallel and added in order: the same bits for any thread count.
 *
 * Linearly separable classes have no finite optimum of the logistic loss:
 * the weights would grow without bound. The first accepted iterate that
 * classifies every training row correctly proves it, and the run stops with
 * a message saying so; a Hessian that becomes singular (quasi-separation,
 * or collinear features) stops it too. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

enum { SUB = 256 };                    /* rows per Gram kernel call */
enum { MAX_FEATURES = 1024 };          /* the (d+1)-square system's size */
#define CHUNK_BUDGET ((size_t)1 << 23) /* doubles of Hessian partials at once */

typedef struct {
    size_t m, wp, per, chunks;
    double *part;        /* chunks x per: gradient m, loss, wrong, Hessian m x m */
    double *g, *H, *dir; /* the accepted point's gradient and Hessian (trained
                            parameters), the Newton step from it */
    double *pv, pc;      /* the accepted point */
    double ploss, slope; /* its loss (with the L2 penalty), and g.dir (< 0) */
    double pdata;        /* its loss without the penalty (what the epoch reports) */
    double step;         /* of the current trial along dir */
    bool have;           /* a point has been accepted */
} newton;

static nr_status newton_check(const nr_train_opts *o, const nr_objective *obj, nr_error *err) {
    (void)o;
    if (!obj->has_hessian)
        return nr_fail(err, NR_ERR_ARG,
                       "newton needs a twice-differentiable loss: the %s has no Hessian "
                       "(use the sigmoid or identity activation)",
                       obj->loss_name);
    return NR_OK;
}

static void newton_finish(void *state) {
    newton *nw = state;
    if (!nw) return;
    free(nw->part);
    free(nw->g);
    free(nw);
}

static nr_status newton_init(nr_trainer *t, void **state, nr_error *err) {
    if (t->f > MAX_FEATURES)
        return nr_fail(err, NR_ERR_ARG, "newton solves a (d+1)-square system: at most %d features",
                       MAX_FEATURES);
    newton *nw = calloc(1, sizeof *nw);
    if (!nw) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    *state = nw;
    const size_t m = t->f + 1, nb = (t->n_train + NR_TRAIN_BLOCK - 1) / NR_TRAIN_BLOCK;
    nw->m = m;
    nw->wp = (m + 3) / 4 * 4;
    nw->per = m + 2 + m * m;
    size_t c = CHUNK_BUDGET / (m * m);
    c = c < 1 ? 1 : c > 16 ? 16 : c;
    nw->chunks = c < nb ? c : nb;
    nw->part = malloc(nw->chunks * nw->per * sizeof *nw->part);
    nw->g = malloc((3 * m + m * m) * sizeof *nw->g);
    if (!nw->part || !nw->g) return nr_fail(err, NR_ERR_NOMEM, "out of memory for newton");
    nw->dir = nw->g + m;
    nw->pv = nw->dir + m;
    nw->H = nw->pv + m;
    return NR_OK;
}

/* Sums over the blocks [b0, b1) of the training rows at the raw (w, b):
 * out[0..m) = sum r (x, 1), out[m] = sum of losses, out[m + 1] = rows on
 * the wrong side of (or on) the boundary, out[m + 2 ..] = the upper
 * triangle of sum h (x, 1)(x, 1)^T. */
static void chunk_sums(const nr_trainer *t, const newton *nw, size_t b0, size_t b1, double *out,
                       double *buf, double *G) {
    const nr_data *d = t->d;
    const size_t f = t->f, m = nw->m, wp = nw->wp;
    double *H = out + m + 2;
    memset(out, 0, nw->per * sizeof *out);
    for (size_t lo = b0 * NR_TRAIN_BLOCK; lo < b1 * NR_TRAIN_BLOCK && lo < t->n_train; lo += SUB) {
        const size_t hi = lo + SUB < t->n_train ? lo + SUB : t->n_train;
        for (size_t i = lo; i < hi; i++) {
            const void *row = nr_row_at(d, i);
            double x[MAX_FEATURES + 1];
            for (size_t j = 0; j <= f; j++)
                x[j] =
                    d->dtype == NR_F32 ? (double)((const float *)row)[j] : ((const double *)row)[j];
            double z = t->b, l, r, h;
            for (size_t j = 0; j < f; j++) z += t->w[j] * x[j];
            t->obj->row(z, x[f], &l, &r, &h);
            for (size_t j = 0; j < f; j++) out[j] += r * x[j];
            out[f] += r;
            out[m] += l;
            out[m + 1] += (x[f] > 0 ? z : -z) <= 0;
            const double u = sqrt(h);
            double *bu = buf + (i - lo) * m;
            for (size_t j = 0; j < f; j++) bu[j] = u * x[j];
            bu[f] = u;
        }
        t->p.k->gram_f64(buf, hi - lo, m, G);
        for (size_t a = 0; a < m; a++)
            for (size_t c = a; c < m; c++) H[a * m + c] += G[a * wp + c];
    }
}

/* One pass: the sums of every chunk, added in chunk order into part[0]. */
static nr_status newton_pass(nr_trainer *t, newton *nw, nr_error *err) {
    const size_t nb = (t->n_train + NR_TRAIN_BLOCK - 1) / NR_TRAIN_BLOCK, C = nw->chunks;
    int failed = 0;
    nr_trainer_raw(t);
#pragma omp parallel for schedule(dynamic, 1) num_threads(t->p.threads)
    for (size_t c = 0; c < C; c++) {
        /* the Gram kernel reads up to 3 values past a row: 4 doubles of pad */
        double *buf = calloc(SUB * nw->m + 4 + nw->m * nw->wp, sizeof *buf);
        if (!buf) {
#pragma omp atomic write
            failed = 1;
            continue;
        }
        chunk_sums(t, nw, nb * c / C, nb * (c + 1) / C, nw->part + c * nw->per, buf,
                   buf + SUB * nw->m + 4);
        free(buf);
    }
    if (failed) return nr_fail(err, NR_ERR_NOMEM, "out of memory for newton's pass");
    for (size_t c = 1; c < C; c++)
        for (size_t k = 0; k < nw->per; k++) nw->part[k] += nw->part[c * nw->per + k];
    return NR_OK;
}

/* Gradient and Hessian of the mean loss in the trained parameters, from the
 * raw sums: with (w, b) = J (v, c), g' = J^T g and H' = J^T H J, where J is
 * the identity without standardization and otherwise dw_j/dv_j = 1/s_j,
 * db/dv_j = -m_j/s_j, db/dc = 1. */
static void to_trained(const nr_trainer *t, newton *nw) {
    const size_t f = t->f, m = nw->m;
    const double n = (double)t->n_train, *S = nw->part, *Hr = nw->part + m + 2;
    double *g = nw->g, *H = nw->H;
    for (size_t a = 0; a < m; a++)
        for (size_t c = a; c < m; c++) H[a * m + c] = H[c * m + a] = Hr[a * m + c] / n;
    for (size_t j = 0; j < m; j++) g[j] = t->obj->gscale * S[j] / n;
    if (!t->mean) return;
    for (size_t j = 0; j < f; j++) g[j] = (g[j] - t->mean[j] * g[f]) / t->std[j];
    /* H J: column j becomes (H_j - m_j H_b) / s_j, then J^T on the rows */
    for (size_t a = 0; a < m; a++)
        for (size_t j = 0; j < f; j++)
            H[a * m + j] = (H[a * m + j] - t->mean[j] * H[a * m + f]) / t->std[j];
    for (size_t j = 0; j < f; j++)
        for (size_t c = 0; c < m; c++)
            H[j * m + c] = (H[j * m + c] - t->mean[j] * H[f * m + c]) / t->std[j];
}

/* dir = -H^-1 g by Cholesky of D H D (D = diag(H)^-1/2, a unit diagonal).
 * False when H is not numerically positive definite. */
static bool newton_direction(newton *nw) {
    const size_t m = nw->m;
    double *H = nw->H, *g = nw->g, *x = nw->dir;
    double dscale[MAX_FEATURES + 1];
    for (size_t j = 0; j < m; j++) {
        if (!(H[j * m + j] > 0) || !isfinite(H[j * m + j])) return false;
        dscale[j] = 1.0 / sqrt(H[j * m + j]);
    }
    for (size_t a = 0; a < m; a++)
        for (size_t c = 0; c < m; c++) H[a * m + c] *= dscale[a] * dscale[c];
    /* lower Cholesky in place */
    for (size_t j = 0; j < m; j++) {
        double s = H[j * m + j];
        for (size_t k = 0; k < j; k++) s -= H[j * m + k] * H[j * m + k];
        if (!(s > 1e-13)) return false;
        const double ljj = sqrt(s);
        H[j * m + j] = ljj;
        for (size_t i = j + 1; i < m; i++) {
            double v = H[i * m + j];
            for (size_t k = 0; k < j; k++) v -= H[i * m + k] * H[j * m + k];
            H[i * m + j] = v / ljj;
        }
    }
    for (size_t i = 0; i < m; i++) { /* L y = -D g */
        double v = -dscale[i] * g[i];
        for (size_t k = 0; k < i; k++) v -= H[i * m + k] * x[k];
        x[i] = v / H[i * m + i];
    }
    for (size_t i = m; i-- > 0;) { /* L^T u = y, dir = D u */
        double v = x[i];
        for (size_t k = i + 1; k < m; k++) v -= H[k * m + i] * x[k];
        x[i] = v / H[i * m + i];
    }
    for (size_t i = 0; i < m; i++) x[i] *= dscale[i];
    return true;
}

static void set_trial(nr_trainer *t, const newton *nw, double step) {
    for (size_t j = 0; j < t->f; j++) t->v[j] = nw->pv[j] + step * nw->dir[j];
    t->c = nw->pc + step * nw->dir[t->f];
}

static nr_status newton_epoch(nr_trainer *t, void *state, int64_t e, double *loss,
                              const char **stop, nr_error *err) {
    newton *nw = state;
    const size_t f = t->f, m = nw->m;
    nr_status s = newton_pass(t, nw, err);
    if (s != NR_OK) return s;
    const double Ld = nw->part[m] / (double)t->n_train, wrong = nw->part[m + 1];
    /* the line search minimises the penalised objective */
    const double L = t->o->l2 > 0 ? Ld + nr_penalty_value(t) : Ld;
    /* Armijo: a sufficient decrease along the step, or the first point */
    if (nw->have && !(L <= nw->ploss + 1e-4 * nw->step * nw->slope)) {
        *loss = nw->pdata;
        nw->step *= 0.5;
        if (nw->step < 1e-10) { /* no decrease the loss's rounding can see */
            set_trial(t, nw, 0.0);
            *stop = "converged";
            return NR_OK;
        }
        set_trial(t, nw, nw->step);
        return NR_OK;
    }
    *loss = Ld;
    nw->have = true;
    nw->ploss = L;
    nw->pdata = Ld;
    memcpy(nw->pv, t->v, f * sizeof *t->v);
    nw->pc = t->c;
    if (t->obj->unbounded_if_separable && wrong == 0 && !(t->o->l2 > 0))
        return nr_fail(err, NR_ERR_INPUT,
                       "the classes are linearly separable (the weights of epoch %lld put "
                       "every training row on its side of the boundary): the %s has no "
                       "finite minimum and the weights would grow without bound; add an L2 "
                       "penalty, or stop a gradient method early",
                       (long long)e, t->obj->loss_name);
    to_trained(t, nw);
    if (t->o->l2 > 0) /* (l2/2)|v|^2: gradient l2 v, Hessian l2 on the weights */
        for (size_t j = 0; j < f; j++) {
            nw->g[j] += t->o->l2 * t->v[j];
            nw->H[j * m + j] += t->o->l2;
        }
    if (!newton_direction(nw))
        return nr_fail(err, NR_ERR_INPUT,
                       "epoch %lld: the Hessian of the %s is singular: a feature is constant "
                       "or collinear with others%s",
                       (long long)e, t->obj->loss_name,
                       t->obj->unbounded_if_separable
                           ? ", or the classes are (almost) separable and the weights grow "
                             "without bound"
                           : "");
    double slope = 0;
    for (size_t j = 0; j < m; j++) slope += nw->g[j] * nw->dir[j];
    nw->slope = slope;
    nw->step = 1.0;
    set_trial(t, nw, 1.0);
    /* -slope is the Newton decrement squared, twice the loss's quadratic
     * model's drop: this close, the step just taken lands within rounding of
     * the optimum (quadratic convergence) */
    if (-slope <= 1e-14 * L) *stop = "converged";
    return NR_OK;
}

const nr_optimizer nr_opt_newton = {
    .name = "newton",
    .check = newton_check,
    .init = newton_init,
    .epoch = newton_epoch,
    .finish = newton_finish,
};
