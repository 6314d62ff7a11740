/* libFuzzer target: the CSV reader, on an exact-size buffer (ASan catches
 * any read past the end), with several option sets: defaults (header
 * detected, last column as target), no header with the first column as
 * target converted to f32, and ';' as delimiter with a header and a named
 * target. Accepted data must have the shape and finite values promised. */
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
    for (int k = 0; k < 3; k++) {
        nr_dataset *ds = NULL;
        nr_error err = {{0}};
        nr_status s = nr_csv_parse("fuzz.csv", text, size, &opts[k], &ds, &err);
        if (s == NR_OK) {
            const nr_data *d = nr_dataset_view(ds);
            if (!d->rows || !d->features) abort();
            size_t n = d->rows * (d->features + 1);
            for (size_t i = 0; i < n; i++) {
                double v = d->dtype == NR_F32 ? ((const float *)d->values)[i]
                                              : ((const double *)d->values)[i];
                if (!isfinite(v)) abort();
            }
            nr_dataset_free(ds);
        } else {
            fuzz_check_message(err.msg);
            if (ds) abort();
        }
    }
    free(text);
    return 0;
}
