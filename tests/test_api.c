/* The contract neuron.h states for every call: failure outputs, ownership,
 * a callback's stop as a success, and calls from several threads at once. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neuron.h"
#include "util.h"

static nr_dataset *make_data(size_t rows, size_t features) {
    nr_gen_opts g;
    nr_gen_defaults(&g);
    g.rows = rows;
    g.features = features;
    nr_dataset *ds = NULL;
    nr_error err;
    cr_assert_eq(nr_dataset_alloc(rows, features, g.dtype, &ds, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(nr_gen_fill(&g, nr_dataset_mutable(ds), &err), NR_OK, "%s", err.msg);
    return ds;
}

Test(api, failed_train_leaves_the_model_and_frees_the_result) {
    nr_dataset *ds = make_data(2000, 2);
    nr_model m;
    nr_error err;
    cr_assert_eq(nr_model_init(&m, 2, &err), NR_OK);
    m.weights[0] = 0.25, m.weights[1] = -0.5, m.bias = 3;
    nr_train_opts o;
    nr_train_defaults(&o);
    nr_train_result r;
    /* an invalid option, and a divergence after some epochs */
    o.lr = -1;
    cr_assert_eq(nr_train(nr_dataset_view(ds), &o, &m, &r, &err), NR_ERR_ARG);
    cr_assert(!r.loss && !r.val_history && !r.epoch_seconds);
    o.lr = 1e6;
    o.epochs = 50;
    err.msg[0] = '\0';
    cr_assert_eq(nr_train(nr_dataset_view(ds), &o, &m, &r, &err), NR_ERR_DIVERGED);
    cr_assert(err.msg[0] && !strchr(err.msg, '\n'), "one line of text: '%s'", err.msg);
    cr_assert(!r.loss && !r.val_history && !r.epoch_seconds, "history left after a failure");
    cr_assert(m.weights[0] == 0.25 && m.weights[1] == -0.5 && m.bias == 3,
              "the model changed on failure: %g %g %g", m.weights[0], m.weights[1], m.bias);
    nr_train_result_free(&r); /* harmless on a failed result */
    nr_model_free(&m);
    nr_model_free(&m); /* twice is fine */
    nr_dataset_free(ds);
}

Test(api, model_init_failure_still_leaves_a_freeable_model) {
    nr_model m;
    memset(&m, 0xab, sizeof m);
    nr_error err;
    cr_assert_eq(nr_model_init(&m, 0, &err), NR_ERR_ARG);
    cr_assert(!m.weights && !m.mean && !m.std);
    nr_model_free(&m);
}

Test(api, failed_loads_leave_their_outputs_untouched) {
    char *dir = scratch_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/missing.npy", dir);
    nr_dataset *sentinel = (nr_dataset *)&path, *ds = sentinel;
    nr_error err;
    cr_assert_eq(nr_dataset_load(path, NULL, &ds, &err), NR_ERR_INPUT);
    cr_assert_eq(ds, sentinel, "*out changed on failure");
    cr_assert(strstr(err.msg, path), "the message names the file: %s", err.msg);
    nr_model m;
    memset(&m, 0x5a, sizeof m);
    nr_model before = m;
    snprintf(path, sizeof path, "%s/missing.json", dir);
    cr_assert_eq(nr_model_load(path, &m, &err), NR_ERR_INPUT);
    cr_assert(!memcmp(&m, &before, sizeof m), "the model changed on failure");
    free(dir);
}

Test(api, predict_with_the_wrong_shape_leaves_out_untouched) {
    nr_dataset *ds = make_data(10, 3);
    nr_model m;
    nr_error err;
    cr_assert_eq(nr_model_init(&m, 5, &err), NR_OK);
    double out[10];
    for (int i = 0; i < 10; i++) out[i] = -7;
    cr_assert_eq(nr_predict(&m, nr_dataset_view(ds), out, &err), NR_ERR_INPUT);
    for (int i = 0; i < 10; i++) cr_assert_eq(out[i], -7);
    nr_metrics mt = {.n = 99};
    cr_assert_eq(nr_eval(&m, nr_dataset_view(ds), &mt, &err), NR_ERR_INPUT);
    cr_assert_eq(mt.n, 99);
    nr_model_free(&m);
    nr_dataset_free(ds);
}

static int stop_at_three(void *ctx, int64_t epoch, double loss, double sps) {
    (void)loss, (void)sps;
    *(int64_t *)ctx = epoch;
    return epoch == 3;
}

Test(api, a_stop_asked_by_the_callback_is_a_success) {
    nr_dataset *ds = make_data(3000, 2);
    nr_model m;
    nr_error err;
    cr_assert_eq(nr_model_init(&m, 2, &err), NR_OK);
    nr_train_opts o;
    nr_train_defaults(&o);
    int64_t last = 0;
    o.on_epoch = stop_at_three;
    o.on_epoch_ctx = &last;
    nr_train_result r;
    cr_assert_eq(nr_train(nr_dataset_view(ds), &o, &m, &r, &err), NR_OK, "%s", err.msg);
    cr_assert_eq(last, 3, "called after epoch 3");
    cr_assert_eq(r.epochs_run, 3);
    cr_assert_str_eq(r.stop_reason, "interrupted");
    cr_assert(m.weights[1] != 0, "the model holds the weights of the epochs run");
    nr_train_result_free(&r);
    nr_model_free(&m);
    nr_dataset_free(ds);
}

/* Several threads training on the same const data at once get the bits of
 * one run alone (neuron.h: calls keep no hidden state). */
typedef struct {
    const nr_data *d;
    double w[3];
    nr_status s;
} job;

static void *train_job(void *arg) {
    job *j = arg;
    nr_train_opts o;
    nr_train_defaults(&o);
    o.epochs = 20;
    o.threads = 2;
    nr_model m;
    nr_train_result r;
    nr_error err;
    j->s = nr_model_init(&m, 2, &err);
    if (j->s == NR_OK) j->s = nr_train(j->d, &o, &m, &r, &err);
    if (j->s == NR_OK) {
        j->w[0] = m.weights[0], j->w[1] = m.weights[1], j->w[2] = m.bias;
        nr_train_result_free(&r);
    }
    nr_model_free(&m);
    return NULL;
}

Test(api, concurrent_calls_on_shared_data_give_the_bits_of_one, .timeout = 120) {
    nr_dataset *ds = make_data(50000, 2);
    job alone = {.d = nr_dataset_view(ds)};
    train_job(&alone);
    cr_assert_eq(alone.s, NR_OK);
    enum { N = 4 };
    job jobs[N];
    pthread_t th[N];
    for (int k = 0; k < N; k++) {
        jobs[k] = (job){.d = nr_dataset_view(ds)};
        cr_assert_eq(pthread_create(&th[k], NULL, train_job, &jobs[k]), 0);
    }
    for (int k = 0; k < N; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < N; k++) {
        cr_assert_eq(jobs[k].s, NR_OK, "thread %d", k);
        cr_assert(!memcmp(jobs[k].w, alone.w, sizeof alone.w), "thread %d: other bits", k);
    }
    nr_dataset_free(ds);
}
