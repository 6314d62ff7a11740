/* Per-sample SGD: the objective's per-sample rule in data order (for the
 * squared error the tutorial's reference rule itself, reference.c), on raw
 * rows or on a standardized copy of them. The epoch's loss is the mean loss
 * at the weights the epoch starts from: one vectorised pass, cheap next to
 * the per-sample rule. */
#include <stdlib.h>

#include "train/train.h"

typedef struct {
    nr_data view;  /* the rows the rule walks */
    double *owned; /* standardized copy, or NULL */
} sgd;

static void sgd_finish(void *state) {
    sgd *s = state;
    if (!s) return;
    free(s->owned);
    free(s);
}

static nr_status sgd_init(nr_trainer *t, void **state, nr_error *err) {
    sgd *s = calloc(1, sizeof *s);
    if (!s) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    *state = s;
    return nr_trainer_rows(t, &s->view, &s->owned, err);
}

nr_status nr_trainer_sgd_epoch(nr_trainer *t, const nr_data *rows, int64_t e, double *loss,
                               nr_error *err) {
    *loss = nr_trainer_loss(t, 0, t->n_train);
    if (t->ext && t->ext->rich_sgd) return nr_ext_sgd_epoch(t, rows, e, err);
    return t->obj->sgd_epoch(t->p.k, rows, t->lr, e, t->v, &t->c, err);
}

static nr_status sgd_epoch(nr_trainer *t, void *state, int64_t e, double *loss, const char **stop,
                           nr_error *err) {
    (void)stop;
    sgd *s = state;
    return nr_trainer_sgd_epoch(t, &s->view, e, loss, err);
}

const nr_optimizer nr_opt_sgd = {
    .name = "sgd",
    .init = sgd_init,
    .epoch = sgd_epoch,
    .finish = sgd_finish,
};
