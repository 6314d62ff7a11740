/* Checkpoints: the whole state of an epoch loop between two
 * epochs, written atomically, so that a run killed at any moment and resumed
 * from its last checkpoint ends with the bits of a run never stopped.
 *
 * What the state is: the trained parameters (v, c), the epochs done, the
 * history so far, and the loop's early-stopping and restore-best
 * bookkeeping. The optimizers that support checkpoints keep nothing else
 * from one epoch to the next: minibatch draws each epoch's shuffle from the
 * seed and the epoch number, --exact recomputes its statistics (the same
 * bits) on resume; newton, whose line search carries state, refuses.
 *
 * Layout, native byte order (a checkpoint resumes on the machine kind that
 * wrote it): the magic "NRCKPT\0" and a version byte, then 64-bit words:
 * the options that decide the bits (compared on resume, each by name), the
 * data's shape and fingerprint, the loop state, the history, and an FNV-1a
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

static const char MAGIC[8] = {'N', 'R', 'C', 'K', 'P', 'T', 0, 1};

/* The options whose change changes the bits, as words, with their names. */
enum { NOPT = 14 };
static const char *const opt_names[NOPT] = {
    "algo",      "activation", "lr",       "batch",        "seed",  "shuffle", "standardize",
    "val-split", "tol",        "patience", "restore-best", "exact", "kernel",  "features"};

static uint64_t dbits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double bitsd(uint64_t u) {
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void options_words(const nr_trainer *t, uint64_t *w) {
    const nr_train_opts *o = t->o;
    const uint64_t v[NOPT] = {(uint64_t)o->algo, (uint64_t)o->activation, dbits(o->lr),
                              o->algo == NR_ALGO_MINIBATCH ? o->batch : 0, o->seed,
                              o->algo == NR_ALGO_MINIBATCH ? (uint64_t)o->shuffle : 0,
                              o->standardize, dbits(o->val_split),
                              dbits(o->tol >= 0 ? o->tol : -1.0),
                              o->tol >= 0 ? (uint64_t)o->patience : 0, o->restore_best, o->exact,
                              /* scalar and AVX2 kernels round differently */
                              (uint64_t)strcmp(t->p.k->name, "scalar") != 0, t->f};
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
    /* The peers' options carry state of their own (momentum buffers, the
     * averaged iterate, the cumulative L1 penalty, the step count of a
     * schedule, the backed-off learning rate) or change the bits (l2,
     * huber) beyond the options recorded above: refused rather than resumed
     * into different bits. */
    if ((o->checkpoint || o->resume) &&
        (o->l2 != 0 || o->l1 != 0 || o->loss != NR_LOSS_DEFAULT ||
         o->lr_schedule != NR_LR_CONSTANT || o->momentum != 0 || o->average ||
         o->on_divergence != NR_DIVERGE_STOP))
        return nr_fail(err, NR_ERR_ARG,
                       "checkpoints do not yet hold the state of penalties, the Huber loss, "
                       "schedules, momentum, averaging or backoff: run those without "
                       "checkpoints");
    if ((o->checkpoint || o->resume) && o->algo == NR_ALGO_OLS)
        return nr_fail(err, NR_ERR_ARG, "ols has no epochs to checkpoint");
    if (o->checkpoint && o->checkpoint_every < 1)
        return nr_fail(err, NR_ERR_ARG, "checkpoint-every must be at least 1");
    return NR_OK;
}

nr_status nr_checkpoint_save(const nr_trainer *t, const char *path, const nr_train_result *res,
                             const nr_ckpt_loop *l, const double *fp, nr_error *err) {
    const size_t f = t->f, e = (size_t)l->epoch, val = res->val_history != NULL;
    const size_t words =
        NOPT + 4 + (f + 2) + (f + 1) + 6 + (l->keep_best ? f + 1 : 0) + e * (2 + val) + 1;
    unsigned char *buf = malloc(sizeof MAGIC + words * 8);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory for the checkpoint");
    memcpy(buf, MAGIC, sizeof MAGIC);
    uint64_t *w = (uint64_t *)(buf + sizeof MAGIC), *p = w;
    options_words(t, p);
    p += NOPT;
    *p++ = t->d->rows, *p++ = t->d->dtype, *p++ = val, *p++ = l->keep_best != NULL;
    for (size_t j = 0; j < f + 2; j++) *p++ = dbits(fp[j]);
    for (size_t j = 0; j < f; j++) *p++ = dbits(t->v[j]);
    *p++ = dbits(t->c);
    *p++ = (uint64_t)l->epoch, *p++ = dbits(l->first), *p++ = dbits(l->best);
    *p++ = (uint64_t)l->since, *p++ = dbits(l->keep_loss), *p++ = (uint64_t)l->keep_epoch;
    for (size_t j = 0; l->keep_best && j <= f; j++) *p++ = dbits(l->keep_best[j]);
    for (size_t k = 0; k < e; k++) *p++ = dbits(res->loss[k]);
    for (size_t k = 0; k < e; k++) *p++ = dbits(res->epoch_seconds[k]);
    for (size_t k = 0; val && k < e; k++) *p++ = dbits(res->val_history[k]);
    *p = fnv1a(buf, (size_t)((unsigned char *)p - buf));
    nr_status s = nr_write_file_atomic(path, buf, sizeof MAGIC + words * 8, err);
    free(buf);
    return s;
}

nr_status nr_checkpoint_load(const nr_trainer *t, const char *path, const double *fp,
                             nr_ckpt_loop *l, nr_ckpt_history *h, nr_error *err) {
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
    const uint64_t *w = (const uint64_t *)(buf + sizeof MAGIC), *p = w;
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
        if (p[k] != mine[k])
            BAD("%s: the checkpoint was made with another --%s: resume with the options "
                "it was made with",
                path, opt_names[k]);
    p += NOPT;
    if (p[0] != t->d->rows || p[1] != (uint64_t)t->d->dtype)
        BAD("%s: the checkpoint was made on %llu rows of %s, these data have %zu of %s", path,
            (unsigned long long)p[0], nr_dtype_name((nr_dtype)p[1]), t->d->rows,
            nr_dtype_name(t->d->dtype));
    const size_t val = p[2], keep = p[3];
    p += 4;
    if (nwords < NOPT + 4 + (f + 2) + (f + 1) + 6 + (keep ? f + 1 : 0) + 1)
        BAD("%s: the checkpoint is truncated", path);
    for (size_t j = 0; j < f + 2; j++)
        if (p[j] != dbits(fp[j]))
            BAD("%s: the checkpoint was made on other data (same shape, other values)", path);
    p += f + 2;
    for (size_t j = 0; j < f; j++) t->v[j] = bitsd(*p++);
    ((nr_trainer *)t)->c = bitsd(*p++);
    l->epoch = (int64_t)*p++, l->first = bitsd(*p++), l->best = bitsd(*p++);
    l->since = (int64_t)*p++, l->keep_loss = bitsd(*p++), l->keep_epoch = (int64_t)*p++;
    if (keep)
        for (size_t j = 0; j <= f; j++) l->keep_best[j] = bitsd(*p++);
    const size_t e = (size_t)l->epoch;
    if (l->epoch < 0 || (size_t)(w + nwords - 1 - p) != e * (2 + val))
        BAD("%s: the checkpoint's history does not match its epoch count", path);
    h->n = e;
    h->loss = malloc((e ? e : 1) * 3 * sizeof(double));
    if (!h->loss) {
        free(buf);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for the checkpoint's history");
    }
    h->seconds = h->loss + e;
    h->val = val ? h->seconds + e : NULL;
    for (size_t k = 0; k < e * (2 + val); k++) h->loss[k] = bitsd(p[k]);
#undef BAD
    free(buf);
    return NR_OK;
}
