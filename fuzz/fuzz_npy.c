/* libFuzzer target: the .npy reader. Each input is parsed in memory by the
 * header/size checker (exact-size buffer: ASan catches any over-read), and,
 * when that accepts it, loaded through the public nr_dataset_load from a
 * scratch file with several options (in place, converted, another target). */
#include <stdint.h>

#include "fuzz_common.h"
#include "io.h"
#include "neuron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *b = fuzz_copy(data, size);
    if (!b) return 0;
    npy_info info;
    size_t off = 0;
    nr_error err = {{0}};
    nr_status s = nr_npy_parse("fuzz.npy", b, size, &info, &off, &err);
    free(b);
    if (s != NR_OK) {
        fuzz_check_message(err.msg);
        return 0;
    }
    if (off > size) abort();
    const char *path = fuzz_scratch_file("npy", data, size);
    if (!path) return 0;
    nr_load_opts opts[4];
    for (int k = 0; k < 4; k++) nr_load_defaults(&opts[k]);
    opts[1].convert = true, opts[1].dtype = NR_F32;
    opts[2].target = "0", opts[2].convert = true, opts[2].dtype = NR_F64;
    opts[3].convert = true, opts[3].dtype = NR_F16;
    for (int k = 0; k < 4; k++) {
        nr_dataset *ds = NULL;
        s = nr_dataset_load(path, &opts[k], &ds, &err);
        if (s == NR_OK) {
            const nr_data *d = nr_dataset_view(ds);
            if (d->rows != info.rows || d->features + 1 != info.cols) abort();
            nr_dataset_free(ds);
        } else {
            fuzz_check_message(err.msg);
            if (ds) abort();
        }
    }
    unlink(path);
    return 0;
}
