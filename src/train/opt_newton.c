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
 * Sums run over blocks of NR_TRAIN_BLOCK rows, each block's from zero, the
 * blocks computed in parallel and added in block order, as nr_pass does:
 * the same bits for any thread count, and for rows shared between
 * processes (the blocks' sums gathered in block order, partition.c).
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
#define GROUP_BUDGET ((size_t)1 << 23) /* doubles of blocks' sums held at once */

typedef struct {
    size_t m, wp, per, group;
    double *part;    /* group x per: each block's gradient m, loss, wrong,
                        Hessian's upper triangle (m (m + 1) / 2) */
    double *sum;     /* per: the pass's sums, the blocks' added in order */
    double *scratch; /* per thread: a sub-block scaled for the Gram kernel */
    size_t scratch_per;
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
    free(nw->scratch);
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
    nw->per = m + 2 + m * (m + 1) / 2;
    /* blocks whose sums are held at once (one gather each when shared): a
     * function of the data's shape only, so every process agrees */
    size_t gr = GROUP_BUDGET / nw->per;
    gr = gr < 1 ? 1 : gr;
    nw->group = gr < nb ? gr : nb;
    /* the Gram kernel reads up to 3 values past a row: 4 doubles of pad */
    nw->scratch_per = SUB * m + 4 + m * nw->wp;
    nw->part = malloc((nw->group * nw->per + nw->per) * sizeof *nw->part);
    nw->scratch = malloc((size_t)t->p.threads * nw->scratch_per * sizeof *nw->scratch);
    nw->g = malloc((3 * m + m * m) * sizeof *nw->g);
    if (!nw->part || !nw->scratch || !nw->g)
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for newton");
    nw->sum = nw->part + nw->group * nw->per;
    nw->dir = nw->g + m;
    nw->pv = nw->dir + m;
    nw->H = nw->pv + m;
    return NR_OK;
}

typedef struct {
    const nr_trainer *t;
    newton *nw;
} block_ctx;

/* Block k's sums over its n rows at the raw (w, b): out[0..m) = sum r (x, 1),
 * out[m] = sum of losses, out[m + 1] = rows on the wrong side of (or on)
 * the boundary, out[m + 2 ..] = the upper triangle of sum h (x, 1)(x, 1)^T,
 * row by row. */
static void newton_block(void *ctx, size_t k, const void *rows, size_t n) {
    const block_ctx *c = ctx;
    const nr_trainer *t = c->t;
    const newton *nw = c->nw;
    const nr_data *d = t->d;
    const size_t f = t->f, m = nw->m, wp = nw->wp;
    double *out = nw->part + k * nw->per, *H = out + m + 2;
    double *buf = nw->scratch + (size_t)omp_get_thread_num() * nw->scratch_per;
    double *G = buf + SUB * m + 4;
    memset(out, 0, nw->per * sizeof *out);
    for (size_t lo = 0; lo < n; lo += SUB) {
        const size_t hi = lo + SUB < n ? lo + SUB : n;
        for (size_t i = lo; i < hi; i++) {
            double x[MAX_FEATURES + 1];
            if (d->dtype == NR_F32)
                for (size_t j = 0; j <= f; j++) x[j] = (double)((const float *)rows)[i * m + j];
            else
                for (size_t j = 0; j <= f; j++) x[j] = ((const double *)rows)[i * m + j];
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
        size_t at = 0;
        for (size_t a = 0; a < m; a++)
            for (size_t b = a; b < m; b++) H[at++] += G[a * wp + b];
    }
}

/* One pass over the training rows: every block's sums, a group of blocks at
 * a time, added in block order into nw->sum. */
static nr_status newton_pass(nr_trainer *t, newton *nw, nr_error *err) {
    const size_t n = t->n_train, nb = (n + NR_TRAIN_BLOCK - 1) / NR_TRAIN_BLOCK, per = nw->per;
    nr_trainer_raw(t);
    memset(nw->sum, 0, per * sizeof *nw->sum);
    block_ctx c = {t, nw};
    for (size_t g0 = 0; g0 < nb; g0 += nw->group) {
        const size_t gn = nb - g0 < nw->group ? nb - g0 : nw->group, r0 = g0 * NR_TRAIN_BLOCK;
        const size_t r1 = r0 + gn * NR_TRAIN_BLOCK < n ? r0 + gn * NR_TRAIN_BLOCK : n;
        nr_status s = nr_blocks_all(t->p.part, t->d, r0, r1, per, t->p.threads, newton_block, &c,
                                    nw->part, err);
        if (s != NR_OK) return s;
        for (size_t k = 0; k < gn; k++)
            for (size_t j = 0; j < per; j++) nw->sum[j] += nw->part[k * per + j];
    }
    return NR_OK;
}

/* Gradient and Hessian of the mean loss in the trained parameters, from the
 * raw sums: with (w, b) = J (v, c), g' = J^T g and H' = J^T H J, where J is
 * the identity without standardization and otherwise dw_j/dv_j = 1/s_j,
 * db/dv_j = -m_j/s_j, db/dc = 1. */
static void to_trained(const nr_trainer *t, newton *nw) {
    const size_t f = t->f, m = nw->m;
    const double n = (double)t->n_train, *S = nw->sum, *Hr = nw->sum + m + 2;
    double *g = nw->g, *H = nw->H;
    size_t at = 0;
    for (size_t a = 0; a < m; a++)
        for (size_t c = a; c < m; c++) H[a * m + c] = H[c * m + a] = Hr[at++] / n;
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
    const double Ld = nw->sum[m] / (double)t->n_train, wrong = nw->sum[m + 1];
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
