/* fit_line: libneuron as a dependency, in one page.
 *
 *     cc fit_line.c $(pkg-config --cflags --libs neuron) -o fit_line
 *     ./fit_line              # makes 100000 noisy points of y = 2 x1 - 3 x2 + 0.5
 *     ./fit_line data.npy     # or trains on a file (.npy, .csv, .tsv)
 *
 * It trains a linear neuron by full-batch gradient descent, prints the
 * weights, the bias and the loss, then checks the closed-form least-squares
 * fit gives the same line. Exit status: 0 when both agree (and, for the
 * generated points, recover the true line), 1 otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <neuron.h>

static int fail(const char *what, nr_status s, const nr_error *err) {
    fprintf(stderr, "fit_line: %s: %s (%s)\n", what, err->msg, nr_status_str(s));
    return 1;
}

int main(int argc, char **argv) {
    static const double truth[2] = {2.0, -3.0};
    nr_error err = {{0}};
    nr_status s;
    nr_dataset *ds = NULL;
    if (argc > 1) {
        nr_load_opts lo;
        nr_load_defaults(&lo);
        if ((s = nr_dataset_load(argv[1], &lo, &ds, &err)) != NR_OK) return fail("load", s, &err);
    } else {
        nr_gen_opts g;
        nr_gen_defaults(&g);
        g.rows = 100000;
        g.features = 2;
        g.weights = truth;
        g.noise = 0.05;
        g.dtype = NR_F64;
        if ((s = nr_dataset_alloc(g.rows, g.features, g.dtype, &ds, &err)) != NR_OK ||
            (s = nr_gen_fill(&g, nr_dataset_mutable(ds), &err)) != NR_OK) {
            nr_dataset_free(ds);
            return fail("generate", s, &err);
        }
    }
    const nr_data *d = nr_dataset_view(ds);

    nr_train_opts o;
    nr_train_defaults(&o); /* full-batch gradient descent, lr 0.1 */
    o.epochs = 200;
    o.standardize = true; /* any scale of features trains at the default rate */
    nr_model gd, ls;
    nr_train_result r, rl;
    int rc = 1;
    if ((s = nr_model_init(&gd, d->features, &err)) != NR_OK ||
        (s = nr_model_init(&ls, d->features, &err)) != NR_OK) {
        rc = fail("model", s, &err);
        goto out_models;
    }
    if ((s = nr_train(d, &o, &gd, &r, &err)) != NR_OK) {
        rc = fail("train", s, &err);
        goto out_models;
    }
    o.algo = NR_ALGO_OLS;
    if ((s = nr_train(d, &o, &ls, &rl, &err)) != NR_OK) {
        rc = fail("least squares", s, &err);
        goto out_result;
    }
    printf("rows %zu, features %zu, %lld epochs (%s), kernel %s\n", d->rows, d->features,
           (long long)r.epochs_run, r.stop_reason, r.kernel);
    rc = 0;
    for (size_t j = 0; j < d->features; j++) {
        printf("w%zu = %.6f   (least squares %.6f)\n", j + 1, gd.weights[j], ls.weights[j]);
        /* standardized, each step at lr 0.1 shrinks the error ~0.8x: 200 are plenty */
        if (!(fabs(gd.weights[j] - ls.weights[j]) <= 1e-6 * (1 + fabs(ls.weights[j])))) rc = 1;
        if (argc == 1 && !(fabs(gd.weights[j] - truth[j]) < 0.01)) rc = 1;
    }
    printf("b  = %.6f   (least squares %.6f)\n", gd.bias, ls.bias);
    printf("mse %.6g   (least squares %.6g)\n", r.train_loss, rl.train_loss);
    if (!(fabs(gd.bias - ls.bias) <= 1e-6 * (1 + fabs(ls.bias)))) rc = 1;
    if (argc == 1 && !(fabs(gd.bias - 0.5) < 0.01)) rc = 1;
    if (rc) fprintf(stderr, "fit_line: gradient descent and least squares disagree\n");
    nr_train_result_free(&rl);
out_result:
    nr_train_result_free(&r);
out_models:
    nr_model_free(&gd);
    nr_model_free(&ls);
    nr_dataset_free(ds);
    return rc;
}
