/* libFuzzer target: the CSV reader, on an exact-size buffer (ASan catches
 * any read past the end), with several option sets: defaults (header
 * detected, last column as target), no header with the first column as
 * target converted to f32, and ';' as delimiter with a header and a named
 * target. Each input is parsed twice: in one piece, and split into the
 * chunks that big files are parsed in, in parallel; both must give the same
 * status, message and bits. Accepted data must have finite values. */
#include <math.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "io.h"
#include "neuron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_copy(data, size);
    if (!text) return 0;
    nr_load_opts opts[3];
    for (int k = 0; k < 3; k++) nr_load_defaults(&opts[k]);
    opts[1].header = NR_HEADER_NO, opts[1].target = "0", opts[1].convert = true;
    opts[1].dtype = NR_F32;
    opts[2].header = NR_HEADER_YES, opts[2].delimiter = ';', opts[2].target = "y";
    const size_t whole = nr_csv_parallel_min;
    for (int k = 0; k < 3; k++) {
        nr_dataset *ds[2] = {NULL, NULL};
        nr_error err[2] = {{{0}}, {{0}}};
        nr_status s[2];
        for (int pass = 0; pass < 2; pass++) {
            nr_csv_parallel_min = pass ? 1 : whole;
            s[pass] = nr_csv_parse("fuzz.csv", text, size, &opts[k], &ds[pass], &err[pass]);
        }
        nr_csv_parallel_min = whole;
        if (s[0] != s[1] || strcmp(err[0].msg, err[1].msg)) {
            fprintf(stderr, "chunked parse differs: %d '%s' vs %d '%s'\n", s[0], err[0].msg, s[1],
                    err[1].msg);
            abort();
        }
        if (s[0] == NR_OK) {
            const nr_data *d = nr_dataset_view(ds[0]), *c = nr_dataset_view(ds[1]);
            if (!d->rows || !d->features) abort();
            size_t n = d->rows * (d->features + 1);
            if (c->rows != d->rows || c->features != d->features || c->dtype != d->dtype ||
                memcmp(c->values, d->values, n * nr_dtype_size(d->dtype)))
                abort();
            for (size_t i = 0; i < n; i++) {
                double v = d->dtype == NR_F32 ? ((const float *)d->values)[i]
                                              : ((const double *)d->values)[i];
                if (!isfinite(v)) abort();
            }
        } else {
            fuzz_check_message(err[0].msg);
            if (ds[0] || ds[1]) abort();
        }
        nr_dataset_free(ds[0]);
        nr_dataset_free(ds[1]);
    }
    free(text);
    return 0;
}
