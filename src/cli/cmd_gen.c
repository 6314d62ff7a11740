/* neuron gen: synthetic linear data, millions of rows, to .npy or .csv. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io.h"

static void usage(FILE *f) {
    fputs("usage: neuron gen --rows N --out FILE [options]\n"
          "\n"
          "Write N rows of synthetic data y = w.x + b + noise to FILE (.npy or .csv),\n"
          "or with --task classify labels y in {0, 1} with P(y = 1) = sigmoid(w.x + b),\n"
          "the target in the last column, and print the true parameters as JSON.\n"
          "The file is the same, bit for bit, for any number of threads.\n"
          "\n"
          "options:\n"
          "  --rows N          rows, in [1, 2^40]\n"
          "  --features D      features, in [1, 4096] (1)\n"
          "  --weights W1,...  the D true weights (1, 2, ..., D)\n"
          "  --bias B          true bias (0.5)\n"
          "  --noise S         regress: noise ~ U(-S, S), S >= 0 (0.1)\n"
          "  --task regress|classify  what y is (regress)\n"
          "  --separable M     classify: y = [w.x + b > 0] instead, every point at least\n"
          "                    M >= 0 from the boundary (rows closer are drawn again)\n"
          "  --flip P          classify: flip each label with probability P in [0, 1] (0)\n"
          "  --dist uniform|normal   features ~ U(-1, 1) or N(0, 1) (uniform)\n"
          "  --dtype f32|f64|f16  value type (f32); f16 is IEEE half, NumPy '<f2'\n"
          "  --seed S          integer in [0, 2^64) (42)\n"
          "  --threads T       OpenMP threads, in [1, 1024] (all cores)\n"
          "  --out FILE        output file: .npy (NumPy 1.0) or .csv (header x1,...,xD,y)\n",
          f);
}

int cmd_gen(int argc, char **argv) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    const char *out = NULL;
    double *weights = NULL;
    long nweights = -1;
    bool noise_given = false;
    cli_args a;
    cli_args_init(&a, "gen", argc, argv);
    int rc = EXIT_USAGE;
    while (cli_next(&a)) {
        bool ok = true;
        int64_t v;
        int c;
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            usage(stdout);
            free(weights);
            return EXIT_OK;
        } else if (cli_is(&a, "--rows")) {
            ok = cli_int(&a, 1, (int64_t)1 << 40, &v);
            o.rows = (size_t)v;
        } else if (cli_is(&a, "--features")) {
            ok = cli_int(&a, 1, 4096, &v);
            o.features = (size_t)v;
        } else if (cli_is(&a, "--weights")) {
            free(weights);
            weights = malloc(4096 * sizeof *weights);
            ok = weights && (nweights = cli_double_list(&a, weights, 4096)) > 0;
        } else if (cli_is(&a, "--bias")) {
            ok = cli_double(&a, -1e300, 1e300, false, &o.bias);
        } else if (cli_is(&a, "--noise")) {
            ok = cli_double(&a, 0, 1e300, false, &o.noise);
            noise_given = true;
        } else if (cli_is(&a, "--task")) {
            ok = cli_choice(&a, "regress|classify", &c);
            o.task = c ? NR_TASK_CLASSIFY : NR_TASK_REGRESS;
        } else if (cli_is(&a, "--separable")) {
            ok = cli_double(&a, 0, 1e300, false, &o.margin);
            o.separable = true;
        } else if (cli_is(&a, "--flip")) {
            ok = cli_double(&a, 0, 1, false, &o.flip);
        } else if (cli_is(&a, "--dist")) {
            ok = cli_choice(&a, "uniform|normal", &c);
            o.dist = c ? NR_DIST_NORMAL : NR_DIST_UNIFORM;
        } else if (cli_is(&a, "--dtype")) {
            ok = cli_choice(&a, "f32|f64|f16", &c);
            o.dtype = c == 2 ? NR_F16 : c ? NR_F64 : NR_F32;
        } else if (cli_is(&a, "--seed")) {
            ok = cli_u64(&a, &o.seed);
        } else if (cli_is(&a, "--threads")) {
            ok = cli_int(&a, 1, 1024, &v);
            o.threads = (int)v;
        } else if (cli_is(&a, "--out")) {
            ok = (out = cli_value(&a)) != NULL;
        } else {
            free(weights);
            return cli_unknown(&a);
        }
        if (!ok) goto done;
    }
    if (!o.rows || !out) {
        cli_error("gen: %s is required (see 'neuron gen --help')", !o.rows ? "--rows" : "--out");
        goto done;
    }
    /* options of one task are refused for the other, not silently dropped */
    if (o.task == NR_TASK_CLASSIFY && noise_given) {
        cli_error("gen --noise: labels have no noise; use --flip P to flip a fraction of them");
        goto done;
    }
    if (o.task == NR_TASK_REGRESS && (o.separable || o.flip > 0)) {
        cli_error("gen %s: applies to --task classify", o.separable ? "--separable" : "--flip");
        goto done;
    }
    if (weights) {
        if ((size_t)nweights != o.features) {
            cli_error("gen --weights: %ld value%s given, --features is %zu", nweights,
                      nweights == 1 ? "" : "s", o.features);
            goto done;
        }
        o.weights = weights;
    }
    cli_outputs outs;
    cli_outputs_init(&outs, "gen");
    nr_atomic *file = cli_outputs_add(&outs, "--out", out, &rc);
    if (!file) goto done;
    nr_error err;
    nr_status s = nr_gen_write_to(&o, file, &err);
    if (s != NR_OK) {
        cli_outputs_abort(&outs);
        rc = cli_fail(s, &err);
        goto done;
    }
    json_t *j = json_object();
    json_object_set_new(j, "file", nr_json_text(out));
    json_object_set_new(j, "rows", nr_json_count(o.rows));
    json_object_set_new(j, "features", nr_json_count(o.features));
    json_t *w = json_array();
    for (size_t k = 0; k < o.features; k++)
        json_array_append_new(w, nr_json_real(o.weights ? o.weights[k] : (double)(k + 1)));
    json_object_set_new(j, "weights", w);
    json_object_set_new(j, "bias", nr_json_real(o.bias));
    json_object_set_new(j, "task",
                        json_string(o.task == NR_TASK_CLASSIFY ? "classify" : "regress"));
    if (o.task == NR_TASK_REGRESS) {
        json_object_set_new(j, "noise", nr_json_real(o.noise));
        json_object_set_new(j, "noise_dist", json_string("uniform(-noise, noise)"));
    } else {
        json_object_set_new(
            j, "labels",
            json_string(o.separable ? "[w.x + b > 0]" : "bernoulli(sigmoid(w.x + b))"));
        if (o.separable) json_object_set_new(j, "margin", nr_json_real(o.margin));
        json_object_set_new(j, "flip", nr_json_real(o.flip));
    }
    json_object_set_new(j, "dist", json_string(o.dist == NR_DIST_NORMAL ? "normal" : "uniform"));
    json_object_set_new(j, "dtype", json_string(nr_dtype_name(o.dtype)));
    json_object_set_new(j, "seed", nr_json_count(o.seed)); /* exact, beyond 2^53 */
    char *text = nr_json_dump(j);
    json_decref(j);
    if (text) printf("%s\n", text);
    free(text);
    /* the parameters reached stdout before the file is committed: a run
     * whose report is lost leaves no file either */
    rc = text ? cli_check_stdout() : EXIT_OTHER;
    if (!text) cli_error("gen: out of memory");
    if (rc == EXIT_OK)
        rc = cli_outputs_commit(&outs);
    else
        cli_outputs_abort(&outs);
done:
    free(weights);
    return rc;
}
