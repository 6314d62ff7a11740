/* libFuzzer target: the model JSON loader, on an exact-size buffer. An
 * accepted model must be saved, read back (through the public, path-taking
 * nr_model_load) to the same bits, and predict finite numbers on a row. */
#include <math.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "io.h"
#include "neuron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_copy(data, size);
    if (!text) return 0;
    nr_model m;
    nr_error err = {{0}};
    nr_status s = nr_model_parse(&m, "fuzz.json", text, size, &err);
    free(text);
    if (s != NR_OK) {
        fuzz_check_message(err.msg);
        return 0;
    }
    if (m.features == 0 || !isfinite(m.bias)) abort();
    const char *path = fuzz_scratch_file("json", "", 0);
    if (path) {
        if (nr_model_save(&m, NULL, path, &err) != NR_OK) {
            fprintf(stderr, "save failed: %s\n", err.msg);
            abort();
        }
        nr_model back;
        if (nr_model_load(path, &back, &err) != NR_OK) {
            fprintf(stderr, "reload failed: %s\n", err.msg);
            abort();
        }
        if (back.features != m.features || back.activation != m.activation ||
            memcmp(&back.bias, &m.bias, sizeof m.bias) ||
            memcmp(back.weights, m.weights, m.features * sizeof *m.weights))
            abort();
        nr_model_free(&back);
        unlink(path);
    }
    /* one row of ones with its target: predictions of finite weights */
    double *row = calloc(m.features + 1, sizeof *row);
    if (row) {
        for (size_t j = 0; j < m.features; j++) row[j] = 1;
        nr_data d = {.rows = 1, .features = m.features, .dtype = NR_F64, .values = row};
        double p;
        if (nr_predict(&m, &d, &p, &err) != NR_OK) fuzz_check_message(err.msg);
        free(row);
    }
    nr_model_free(&m);
    return 0;
}
