/* Fixed-order per-sample SGD as affine maps of the state; not installed.
 *
 * On a linear neuron with squared error, one per-sample step from the state
 * s = (w_0, ..., w_{d-1}, b) on the row (x, y), with z = (x, 1), is
 *   s' = (I - 2 lr z z^T) s + 2 lr y z,
 * and the squared residual it adds to the loss, (z.s - y)^2, is a quadratic
 * form in s. A run of samples in a fixed order is then one element
 * (M, c, Q, q, r) of a monoid: the state after the run is M s + c, and the
 * loss summed over the run is s^T Q s + 2 q.s + r, both as functions of the
 * state s the run started from. Elements compose associatively, so one
 * epoch is one element and E epochs are its E-th power (repeated squaring).
 *
 * The state map is stored as N = I - M, not M: a slowly contracting
 * direction has an eigenvalue of M close to 1 that M's entries would hold
 * only to an absolute 2^-53 (the bias of the tutorial contracts by 4.4e-4
 * per epoch, so its fixed point would lose 12 digits to 1 - M), whereas N's
 * entries keep their relative precision through every update below.
 * See doc/exact.md for the mathematics and the rounding. */
#ifndef NR_AFFINE_H
#define NR_AFFINE_H

#include "internal.h"

/* Rows per block of the parallel epoch composition (nr_affine_epoch): the
 * result depends on it, never on the thread count. */
#define NR_AFFINE_BLOCK 4096

/* Most features the maps accept: an element holds 2 (d+1)^2 doubles. */
#define NR_AFFINE_MAX_FEATURES 1024

typedef struct {
    size_t m;  /* state size, d + 1 (the bias last) */
    double *N; /* m x m, row-major: I - M, M the state map */
    double *c; /* m: state offset */
    double *Q; /* m x m, row-major, symmetric: loss quadratic term */
    double *q; /* m: loss linear term (halved) */
    double r;  /* loss constant term */
    double *t; /* m x m + m: scratch of nr_affine_compose */
} nr_affine;

/* Allocate `a` for d features as the identity element (N = 0, the rest 0:
 * no samples). NR_ERR_ARG beyond NR_AFFINE_MAX_FEATURES, NR_ERR_NOMEM. */
nr_status nr_affine_init(nr_affine *a, size_t d, nr_error *err);

/* Release `a` (a zeroed or freed element is fine). */
void nr_affine_free(nr_affine *a);

/* Make `a` the identity element again. */
void nr_affine_identity(nr_affine *a);

/* Copy `src` into `dst`, both allocated for the same d. */
void nr_affine_copy(nr_affine *dst, const nr_affine *src);

/* Append one sample (d features `x`, target `y`) at learning rate `lr`: `a`
 * becomes "a, then this sample". With u = M^T z and e = z.c - y (the
 * sample's residual is u.s + e as a function of the run's start state):
 *   N += 2lr z u^T, c -= 2lr e z, Q += u u^T, q += e u, r += e^2.
 * Started from an element with N = 0 and c = s0 (nr_affine_identity, then
 * c set to s0), the run is centred on s0: c follows the trajectory from s0,
 * e is each sample's residual along it, q the half-gradient and r the loss
 * at s0, all without cancellation (see nr_tutorial_fast): such an element
 * is the run as a function of the offset s - s0 from s0.
 * O(m^2): the product of rank-1 updates never forms a per-sample matrix. */
void nr_affine_push(nr_affine *a, const double *x, double y, double lr);

/* out = "a, then b": M = Mb Ma, c = Mb ca + cb, Q = Qa + Ma^T Qb Ma,
 * q = qa + Ma^T (Qb ca + qb), r = ra + rb + ca^T Qb ca + 2 qb.ca,
 * with N = Na + Nb - Nb Na for M = Mb Ma.
 * `out` must not alias `a` or `b`; its scratch is used. O(m^3). */
void nr_affine_compose(const nr_affine *a, const nr_affine *b, nr_affine *out);

/* out = a^k (k applications of `a` in a row; a^0 is the identity) by
 * repeated squaring: O(m^3 log k). `out` must not alias `a`. */
nr_status nr_affine_pow(const nr_affine *a, uint64_t k, nr_affine *out, nr_error *err);

/* out = M s + c = s - N s + c (the state after the run); `out` must not
 * alias `s`. */
void nr_affine_apply(const nr_affine *a, const double *s, double *out);

/* One epoch of sgd --exact: out = M s + c, NR_ERR_DIVERGED when a weight or
 * the bias of `out` is not finite, with a message that says so (the loss of
 * the epoch, taken at its start, is still finite then) naming `epoch` (and
 * no option: the caller knows its own). */
nr_status nr_affine_step(const nr_affine *a, const double *s, double *out, int64_t epoch,
                         nr_error *err);

/* The loss summed over the run that starts from `s`: s^T Q s + 2 q.s + r. */
double nr_affine_loss(const nr_affine *a, const double *s);

/* The element of one epoch of per-sample SGD over rows [r0, r1) of `data`,
 * in row order, at learning rate `lr`. Rows are cut into blocks of
 * NR_AFFINE_BLOCK, each block's element is built by nr_affine_push (in
 * parallel, `threads` <= 0: OpenMP's default) and the blocks are composed
 * left to right: the same bits for any thread count. `out` must have been
 * initialised for data->features. `stop` (may be NULL) is polled with
 * `stop_ctx` before each block of more than one, on the calling thread: a
 * non-zero answer returns NR_ERR_INTERRUPTED (`out` is then not the map). */
nr_status nr_affine_epoch(const nr_data *data, size_t r0, size_t r1, double lr, int threads,
                          nr_stop_fn stop, void *stop_ctx, nr_affine *out, nr_error *err);

/* How much one epoch of per-sample SGD over rows [r0, r1) can magnify a
 * rounding error made inside it: the largest infinity norm of the products
 * M_{r1-1} ... M_i of the per-sample maps M_i = I - 2 lr z_i z_i^T that
 * follow a row (suffix products), at least 1. An error of one ulp made at
 * row i reaches the end of the epoch multiplied by that product, in the
 * sequential run as in the maps, so neither run holds more than about
 * 1 / (amplification * 2^-53) of the recurrence's digits. Near the
 * stability limit rows with 2 lr |z|^2 > 2 expand (the tutorial's x = 99 at
 * lr 2.5e-4 by 3.9 each) and the products reach 1e12: the two runs then
 * disagree far beyond 1e-9. 1 at once (O(n d)) when every row has
 * 2 lr |z|^2 <= 2, each map being non-expanding; else O(n d^2), sequential.
 * INFINITY when the products overflow. */
double nr_affine_amplification(const nr_data *data, size_t r0, size_t r1, double lr);

/* Above this amplification the maps are not used (see doc/exact.md): the
 * observed disagreement with the sequential run is ~3 amplification 2^-53,
 * so 1e4 keeps it below ~1e-11, two orders within the promised 1e-9. */
#define NR_AFFINE_MAX_AMPLIFICATION 1e4

/* How nr_tutorial_fast ran: the affine maps, or the sequential reference
 * (when the epoch map is not a contraction, or when its amplification is
 * above NR_AFFINE_MAX_AMPLIFICATION; see neuron.h). */
typedef enum { NR_FAST_PATH_MAPS = 0, NR_FAST_PATH_SEQUENTIAL } nr_fast_path;

/* nr_tutorial_fast, also telling which path it took (`path` may be NULL). */
nr_status nr_tutorial_fast_path(const nr_tutorial_opts *o, nr_tutorial_fn fn, void *ctx,
                                nr_fast_path *path, nr_error *err);

#endif
