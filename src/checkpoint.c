/* Checkpoints: the whole state of an epoch loop between two
 * epochs, written atomically, so that a run killed at any moment and resumed
 * from its last checkpoint ends with the bits of a run never stopped.
 *
 * What the state is: the trained parameters (v, c), the epochs done, the
 * history so far, the loop's early-stopping and restore-best bookkeeping,
 * the learning rate as backoff left it with its log of backoffs, and the
 * state of the peers' options (schedule.c: momentum buffer, Polyak average,
 * cumulative L1 penalty, step count, backoff's snapshots of the last two
 * epoch starts). The optimizers that support checkpoints keep nothing else
 * from one epoch to the next: minibatch draws each epoch's shuffle from the
 * seed and the epoch number, --exact recomputes its statistics (the same
 * bits) on resume; newton, whose line search carries state of its own (the
 * accepted point, its loss and slope, the direction and step), refuses.
 *
 * Layout, native byte order (a checkpoint resumes on the machine kind that
 * wrote it): the magic "NRCKPT\0" and a version byte, then 64-bit words:
 * the options that decide the bits (compared on resume, each by name), the
 * data's shape and fingerprint, the state, the history, and an FNV-1a
 * checksum of everything before it. The fingerprint is the objective's sums
 * at the zero model over every row (f + 2 doubles: sum y x_j, sum y, the
 * loss sum, up to signs), one pass of the trainer's own kernels, so it is
 * the same bits in neuron and neuron-mpi and tells other data apart short
 * of a crafted collision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "train/train.h"

static const char MAGIC[8] = {'N', 'R', 'C', 'K', 'P', 'T', 0, 2};

/* The options whose change changes the bits, as words, named as the fields
 * of nr_train_opts. An option that does not apply to the run (a schedule's
 * parameters under another schedule, the epochs but for cosine, whose rate
 * depends on them) is recorded as 0, so that it can differ on resume. */
enum { NOPT = 26 };
static const char *const opt_names[NOPT] = {
    "algo",      "activation", "lr",       "batch",        "seed",         "shuffle", "standardize",
    "val_split", "tol",        "patience", "restore_best", "exact",        "kernel",  "l2",
    "l1",        "loss",       "delta",    "lr_schedule",  "power_t",      "lr_step", "lr_gamma",
    "epochs",    "momentum",   "nesterov", "average",      "on_divergence"};

static uint64_t dbits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static void options_words(const nr_trainer *t, uint64_t *w) {
    const nr_train_opts *o = t->o;
    const bool mb = o->algo == NR_ALGO_MINIBATCH, huber = o->loss == NR_LOSS_HUBER,
               step = o->lr_schedule == NR_LR_STEP;
    const uint64_t v[NOPT] = {
        (uint64_t)o->algo, (uint64_t)o->activation, dbits(o->lr), mb ? o->batch : 0, o->seed,
        mb ? (uint64_t)o->shuffle : 0, o->standardize, dbits(o->val_split),
        dbits(o->tol >= 0 ? o->tol : -1.0), o->tol >= 0 ? (uint64_t)o->patience : 0,
        o->restore_best, o->exact,
        /* scalar and AVX2 kernels round differently */
        (uint64_t)strcmp(t->p.k->name, "scalar") != 0, dbits(o->l2), dbits(o->l1),
        (uint64_t)o->loss, huber ? dbits(o->delta) : 0, (uint64_t)o->lr_schedule,
        o->lr_schedule == NR_LR_INVSCALING ? dbits(o->power_t) : 0, step ? (uint64_t)o->lr_step : 0,
        step ? dbits(o->lr_gamma) : 0, o->lr_schedule == NR_LR_COSINE ? (uint64_t)o->epochs : 0,
        dbits(o->momentum), o->momentum > 0 && o->nesterov, o->average, (uint64_t)o->on_divergence};
    memcpy(w, v, sizeof v);
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

void nr_checkpoint_fingerprint(nr_trainer *t, double *out) {
    double *zero = calloc(t->f, sizeof *zero);
    if (!zero) {
        for (size_t j = 0; j < t->f + 2; j++) out[j] = NAN;
        return;
    }
    nr_pass(&t->p, t->d, 0, t->d->rows, zero, 0.0, out);
    free(zero);
}

nr_status nr_checkpoint_check(const nr_train_opts *o, nr_error *err) {
    if ((o->checkpoint || o->resume) && o->algo == NR_ALGO_NEWTON)
        return nr_fail(err, NR_ERR_ARG,
                       "newton's line search is not saved in checkpoints: run it without "
                       "checkpoints (it converges in a few epochs)");
    if ((o->checkpoint || o->resume) && o->algo == NR_ALGO_OLS)
        return nr_fail(err, NR_ERR_ARG, "ols has no epochs to checkpoint");
    if (o->checkpoint && o->checkpoint_every < 1)
        return nr_fail(err, NR_ERR_ARG, "checkpoint-every must be at least 1");
    return NR_OK;
}

/* A run of 64-bit words, written (save) or read (load) in one order by
 * one function, so that the two cannot disagree. Reading past the end sets
 * `bad`. */
typedef struct {
    uint64_t *p, *end;
    bool save, bad;
} cursor;

/* The next n words, or NULL (and `bad`) past the end. */
static void *span(cursor *c, size_t n) {
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = true;
        return NULL;
    }
    void *at = c->p;
    c->p += n;
    return at;
}

/* n 8-byte values (doubles, int64_t, uint64_t) to or from the file. */
static void io(cursor *c, void *x, size_t n) {
    void *at = span(c, n);
    if (!at || !n) return;
    if (c->save)
        memcpy(at, x, n * 8);
    else
        memcpy(x, at, n * 8);
}

/* The state between two epochs but the history: the parameters, the loop's
 * bookkeeping, the learning rate backoff left and its log, and the state of
 * the peers' options (schedule.c). Which parts are present follows from
 * the options, compared before. */
static void state_io(cursor *c, nr_trainer *t, nr_ckpt_loop *l, nr_train_result *res) {
    const size_t f = t->f;
    io(c, t->v, f);
    io(c, &t->c, 1);
    io(c, &l->epoch, 1);
    io(c, &l->first, 1);
    io(c, &l->best, 1);
    io(c, &l->since, 1);
    io(c, &l->keep_loss, 1);
    io(c, &l->keep_epoch, 1);
    if (l->keep_best) io(c, l->keep_best, f + 1);
    io(c, &t->lr, 1);
    int64_t n = res->backoffs;
    io(c, &n, 1);
    if (n < 0 || n > NR_MAX_BACKOFFS) c->bad = true;
    if (c->bad) return;
    if (!c->save) res->backoffs = (int)n;
    io(c, res->backoff_epoch, (size_t)n);
    io(c, res->backoff_restart, (size_t)n);
    io(c, res->backoff_lr, (size_t)n);
    double *ext = span(c, nr_ext_state_len(t));
    if (ext) nr_ext_state_io(t, ext, c->save);
}

/* Layout after the magic: NOPT option words, the data's shape (rows,
 * dtype, features) and the history's columns (validation), the data's
 * fingerprint (f + 2), the state (state_io), the history (epochs x loss,
 * seconds, validation loss), the checksum. */
static size_t head_words(size_t f) {
    return NOPT + 4 + f + 2;
}

nr_status nr_checkpoint_save(nr_trainer *t, const char *path, const nr_train_result *res,
                             const nr_ckpt_loop *l, const double *fp, nr_error *err) {
    const size_t f = t->f, e = (size_t)l->epoch, val = res->val_history != NULL;
    const size_t state = f + 1 + 6 + (l->keep_best ? f + 1 : 0) + 2 + 3 * (size_t)res->backoffs +
                         nr_ext_state_len(t);
    const size_t words = head_words(f) + state + e * (2 + val) + 1;
    unsigned char *buf = malloc(sizeof MAGIC + words * 8);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory for the checkpoint");
    memcpy(buf, MAGIC, sizeof MAGIC);
    uint64_t *w = (uint64_t *)(buf + sizeof MAGIC);
    cursor c = {w, w + words - 1, true, false};
    uint64_t head[NOPT + 4];
    options_words(t, head);
    head[NOPT] = t->d->rows, head[NOPT + 1] = t->d->dtype, head[NOPT + 2] = f;
    head[NOPT + 3] = val;
    io(&c, head, NOPT + 4);
    io(&c, (void *)fp, f + 2);
    nr_ckpt_loop lc = *l;
    state_io(&c, t, &lc, (nr_train_result *)res);
    io(&c, res->loss, e);
    io(&c, res->epoch_seconds, e);
    if (val) io(&c, res->val_history, e);
    nr_status s;
    if (c.bad || c.p != c.end) /* the sizes above and state_io disagree */
        s = nr_fail(err, NR_ERR_INTERNAL, "checkpoint layout mismatch");
    else {
        *c.p = fnv1a(buf, (size_t)((unsigned char *)c.p - buf));
        s = nr_write_file_atomic(path, buf, sizeof MAGIC + words * 8, err);
    }
    free(buf);
    return s;
}

nr_status nr_checkpoint_load(nr_trainer *t, const char *path, const double *fp, nr_ckpt_loop *l,
                             nr_train_result *res, nr_ckpt_history *h, nr_error *err) {
    memset(h, 0, sizeof *h);
    int fd;
    size_t size;
    nr_status s = nr_open_input(path, "a checkpoint", &fd, &size, err);
    if (s != NR_OK) return s;
    unsigned char *buf = malloc(size);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory for the checkpoint %s", path);
    const size_t f = t->f;
    uint64_t *w = (uint64_t *)(buf + sizeof MAGIC);
    const size_t nwords = got >= sizeof MAGIC ? (got - sizeof MAGIC) / 8 : 0;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        nr_status bad_ = nr_fail(err, NR_ERR_INPUT, __VA_ARGS__);                                  \
        free(buf);                                                                                 \
        return bad_;                                                                               \
    } while (0)
    if (got != size || got < sizeof MAGIC || memcmp(buf, MAGIC, 7) != 0)
        BAD("%s: not a neuron checkpoint", path);
    if (buf[7] != MAGIC[7])
        BAD("%s: checkpoint version %d, this neuron reads version %d", path, buf[7], MAGIC[7]);
    if ((got - sizeof MAGIC) % 8 != 0 || nwords < NOPT + 4 + 1 ||
        fnv1a(buf, got - 8) != w[nwords - 1])
        BAD("%s: the checkpoint is damaged (its checksum does not match)", path);
    uint64_t mine[NOPT];
    options_words(t, mine);
    for (int k = 0; k < NOPT; k++)
        if (w[k] != mine[k])
            BAD("%s: the checkpoint was made with another value of the training option '%s': "
                "resume with the options it was made with",
                path, opt_names[k]);
    const uint64_t *p = w + NOPT;
    if (p[0] != t->d->rows || p[1] != (uint64_t)t->d->dtype)
        BAD("%s: the checkpoint was made on %llu rows of %s, these data have %zu of %s", path,
            (unsigned long long)p[0], nr_dtype_name((nr_dtype)p[1]), t->d->rows,
            nr_dtype_name(t->d->dtype));
    if (p[2] != f)
        BAD("%s: the checkpoint was made on %llu features, these data have %zu", path,
            (unsigned long long)p[2], f);
    const size_t val = p[3];
    if (nwords < head_words(f) + 1 || val != (t->n_val > 0))
        BAD("%s: the checkpoint is damaged (its layout does not match its options)", path);
    for (size_t j = 0; j < f + 2; j++)
        if (w[NOPT + 4 + j] != dbits(fp[j]))
            BAD("%s: the checkpoint was made on other data (same shape, other values)", path);
    cursor c = {w + head_words(f), w + nwords - 1, false, false};
    state_io(&c, t, l, res);
    const size_t e = (size_t)l->epoch;
    if (c.bad || l->epoch < 0 || (size_t)(c.end - c.p) != e * (2 + val))
        BAD("%s: the checkpoint is damaged (its layout does not match its options)", path);
    h->n = e;
    h->loss = malloc((e ? e : 1) * 3 * sizeof(double));
    if (!h->loss) {
        free(buf);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the checkpoint's history");
    }
    h->seconds = h->loss + e;
    h->val = val ? h->seconds + e : NULL;
    memcpy(h->loss, c.p, e * (2 + val) * sizeof(double));
#undef BAD
    free(buf);
    return NR_OK;
}
