/* Full-batch gradient descent: one pass gives the epoch's loss (at the
 * weights it starts from) and its gradient, then one step. */
#include "train/train.h"

static nr_status batch_init(nr_trainer *t, void **state, nr_error *err) {
    (void)t, (void)state, (void)err;
    return NR_OK;
}

static nr_status batch_epoch(nr_trainer *t, void *state, int64_t e, double *loss, const char **stop,
                             nr_error *err) {
    (void)state, (void)e, (void)stop, (void)err;
    nr_trainer_sums(t, 0, t->n_train);
    *loss = t->sums[t->f + 1] / (double)t->n_train;
    nr_trainer_step(t, t->n_train);
    return NR_OK;
}

const nr_optimizer nr_opt_batch = {
    .name = "batch",
    .init = batch_init,
    .epoch = batch_epoch,
};
