/* Data sets: who owns the values, and in which layout.
 *
 * Layout: row-major, rows x (features + 1), the target in the last column:
 * exactly what `neuron gen` writes as .npy, so the common case, training on a
 * generated file, maps the file and trains on its pages with no copy and no
 * extra memory. Column-major would suit SIMD across rows, but it would force
 * a full copy (the size of the data) of every row-major file, and the
 * kernels do well on rows: with one feature they deinterleave (x, y) pairs
 * in registers, with many they vectorise across the features of a row.
 * Files in any other layout (CSV, another target column, Fortran order, a
 * dtype conversion) are converted once into an owned buffer of this layout. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "io.h"

struct nr_dataset {
    nr_data view;
    void *owned; /* malloc'd values, or NULL */
    void *map;   /* mmap'd file, or NULL */
    size_t map_len;
    int map_slot; /* in the registry of mapped files, or -1 */
};

/* ------------------------------------------------ mapped-file registry -- */

/* A mapped file that shrinks under us (another program truncates it) turns
 * the next read of a vanished page into SIGBUS, in whichever thread reads
 * it. Copying would cost the memory and the time that mapping saves, and
 * Linux has no mandatory locks; so the mappings are registered here, and a
 * SIGBUS handler (the CLI's) asks nr_mapped_file_at which file the faulting
 * address belongs to and reports it as bad input. A slot is claimed, filled,
 * then published; the handler reads published slots only. */
enum { MAX_MAPS = 16, MAP_FREE = 0, MAP_CLAIMED = 1, MAP_LIVE = 2 };
static struct {
    uintptr_t lo, hi;
    char path[PATH_MAX];
} maps[MAX_MAPS];
static int map_state[MAX_MAPS];

int nr_map_register(const void *addr, size_t len, const char *path) {
    for (int i = 0; i < MAX_MAPS; i++) {
        int expect = MAP_FREE;
        if (!__atomic_compare_exchange_n(&map_state[i], &expect, MAP_CLAIMED, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        maps[i].lo = (uintptr_t)addr;
        maps[i].hi = (uintptr_t)addr + len;
        snprintf(maps[i].path, sizeof maps[i].path, "%s", path);
        __atomic_store_n(&map_state[i], MAP_LIVE, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

void nr_map_unregister(int slot) {
    if (slot >= 0 && slot < MAX_MAPS)
        __atomic_store_n(&map_state[slot], MAP_FREE, __ATOMIC_RELEASE);
}

const char *nr_mapped_file_at(const void *addr) {
    const uintptr_t a = (uintptr_t)addr;
    for (int i = 0; i < MAX_MAPS; i++)
        if (__atomic_load_n(&map_state[i], __ATOMIC_ACQUIRE) == MAP_LIVE && a >= maps[i].lo &&
            a < maps[i].hi)
            return maps[i].path;
    return NULL;
}

size_t nr_dtype_size(nr_dtype t) {
    return t == NR_F16 ? 2 : t == NR_F32 ? 4 : 8;
}

void nr_load_defaults(nr_load_opts *o) {
    memset(o, 0, sizeof *o);
    o->header = NR_HEADER_AUTO;
    o->delimiter = 0; /* by extension: a tab for .tsv, else ',' */
    o->target = NULL;
    o->convert = false;
    o->dtype = NR_F64;
}

nr_status nr_dataset_new(size_t rows, size_t features, nr_dtype t, nr_dataset **out,
                         nr_error *err) {
    size_t cols = features + 1, n, bytes;
    if (features == SIZE_MAX || !nr_mul_ok(rows, cols, &n) ||
        !nr_mul_ok(n, nr_dtype_size(t), &bytes))
        return nr_fail(err, NR_ERR_INPUT, "%zu rows x %zu columns do not fit in memory", rows,
                       cols);
    nr_dataset *ds = calloc(1, sizeof *ds);
    /* 64-byte alignment: whole cache lines, and aligned SIMD loads of rows
     * whose size is a multiple of the vector width. */
    void *v = NULL;
    if (!ds || posix_memalign(&v, 64, bytes ? bytes : 64) != 0) {
        free(ds);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu x %zu values", rows, cols);
    }
    memset(v, 0, bytes);
    ds->owned = v;
    ds->map_slot = -1;
    ds->view = (nr_data){.rows = rows, .features = features, .dtype = t, .values = v};
    *out = ds;
    return NR_OK;
}

nr_status nr_dataset_alloc(size_t rows, size_t features, nr_dtype dtype, nr_dataset **out,
                           nr_error *err) {
    if (dtype != NR_F32 && dtype != NR_F64 && dtype != NR_F16)
        return nr_fail(err, NR_ERR_ARG, "unknown dtype");
    return nr_dataset_new(rows, features, dtype, out, err);
}

nr_dataset *nr_dataset_from_map(void *map, size_t map_len, size_t rows, size_t features, nr_dtype t,
                                const void *values, int map_slot) {
    nr_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return NULL;
    ds->map_slot = map_slot;
    ds->map = map;
    ds->map_len = map_len;
    ds->view = (nr_data){.rows = rows, .features = features, .dtype = t, .values = values};
    return ds;
}

const nr_data *nr_dataset_view(const nr_dataset *ds) {
    return &ds->view;
}
bool nr_dataset_is_mapped(const nr_dataset *ds) {
    return ds->map != NULL;
}
void *nr_dataset_mutable(nr_dataset *ds) {
    return ds->owned;
}

void nr_dataset_free(nr_dataset *ds) {
    if (!ds) return;
    if (ds->map) {
        nr_map_unregister(ds->map_slot);
        munmap(ds->map, ds->map_len);
    }
    free(ds->owned);
    free(ds);
}

/* Whether v[lo, hi) holds an Inf or a NaN (exponent field all ones) as
 * bits: the exponent field plus one unit of it carries into the sign bit
 * only from all ones. No branch per value, so the compiler vectorises the
 * scan (a loop with an early exit it does not: ~3.5 instructions a value
 * against 0.4 for f16, 0.9 for f32 and 1.8 for f64, callgrind). */
#define ANY_NONFINITE(NAME, T, U, EXP, ONE, TOP)                                                   \
    static bool NAME(const T *v, size_t lo, size_t hi) {                                           \
        U acc = 0;                                                                                 \
        for (size_t i = lo; i < hi; i++) {                                                         \
            U u;                                                                                   \
            memcpy(&u, v + i, sizeof u);                                                           \
            acc |= (U)((u & (EXP)) + (ONE));                                                       \
        }                                                                                          \
        return (acc & (TOP)) != 0;                                                                 \
    }
ANY_NONFINITE(any_nonfinite_f16, uint16_t, uint16_t, 0x7c00u, 0x0400u, 0x8000u)
ANY_NONFINITE(any_nonfinite_f32, float, uint32_t, 0x7f800000u, 0x00800000u, 0x80000000u)
ANY_NONFINITE(any_nonfinite_f64, double, uint64_t, UINT64_C(0x7ff0000000000000),
              UINT64_C(0x0010000000000000), UINT64_C(0x8000000000000000))

nr_status nr_data_check_finite(const nr_data *d, const char *path, nr_error *err) {
    const size_t cols = d->features + 1, n = d->rows * cols;
    /* Blocks in parallel, each scanned whole; only a block that holds a bad
     * value is walked again for the first one. The first bad value wins, so
     * the message does not depend on the thread count. */
    size_t first = SIZE_MAX;
    const size_t block = (size_t)1 << 16;
    const long nb = (long)((n + block - 1) / block);
#pragma omp parallel for schedule(static) reduction(min : first)
    for (long k = 0; k < nb; k++) {
        size_t lo = (size_t)k * block, hi = lo + block < n ? lo + block : n;
        const bool bad = d->dtype == NR_F16   ? any_nonfinite_f16(d->values, lo, hi)
                         : d->dtype == NR_F32 ? any_nonfinite_f32(d->values, lo, hi)
                                              : any_nonfinite_f64(d->values, lo, hi);
        if (!bad) continue;
        for (size_t i = lo; i < hi; i++)
            if (!isfinite(nr_value_at(d, i))) {
                if (i < first) first = i;
                break;
            }
    }
    if (first == SIZE_MAX) return NR_OK;
    const double bad = nr_value_at(d, first);
    return nr_fail(
        err, NR_ERR_INPUT, "%s: row %zu, column %zu: value is %s (expected a finite number)", path,
        first / cols + 1, first % cols + 1, isnan(bad) ? "NaN" : (bad < 0 ? "-Inf" : "Inf"));
}

nr_status nr_dataset_to_f16(nr_dataset **ds, const char *path, nr_error *err) {
    const nr_data *d = nr_dataset_view(*ds);
    if (d->dtype == NR_F16) return NR_OK;
    nr_dataset *h;
    nr_status s = nr_dataset_new(d->rows, d->features, NR_F16, &h, err);
    if (s != NR_OK) return s;
    uint16_t *dst = nr_dataset_mutable(h);
    const size_t cols = d->features + 1, n = d->rows * cols;
    size_t first = SIZE_MAX; /* the first value out of range, whatever the threads */
#pragma omp parallel for schedule(static) reduction(min : first)
    for (size_t i = 0; i < n; i++)
        if (!nr_half_from_double(nr_value_at(d, i), &dst[i]) && i < first) first = i;
    if (first != SIZE_MAX) {
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: row %zu, column %zu: value %.9g is out of f16's range (largest finite "
                    "65504)",
                    path, first / cols + 1, first % cols + 1, nr_value_at(d, first));
        nr_dataset_free(h);
        return s;
    }
    nr_dataset_free(*ds);
    *ds = h;
    return NR_OK;
}

nr_status nr_dataset_load(const char *path, const nr_load_opts *o, nr_dataset **out,
                          nr_error *err) {
    nr_load_opts defaults;
    if (!o) {
        nr_load_defaults(&defaults);
        o = &defaults;
    }
    char ext[16];
    nr_path_ext(path, ext, sizeof ext);
    if (!strcmp(ext, "npy")) return nr_npy_load(path, o, out, err);
    if (!strcmp(ext, "tsv") && !o->delimiter) {
        nr_load_opts tab = *o;
        tab.delimiter = '\t';
        return nr_dataset_load(path, &tab, out, err);
    }
    if (!strcmp(ext, "csv") || !strcmp(ext, "txt") || !strcmp(ext, "tsv")) {
        if (!o->convert || o->dtype != NR_F16) return nr_csv_load(path, o, out, err);
        /* text to f16: read as f64, then round each value once */
        nr_load_opts wide = *o;
        wide.dtype = NR_F64;
        nr_dataset *ds;
        nr_status s = nr_csv_load(path, &wide, &ds, err);
        if (s == NR_OK && (s = nr_dataset_to_f16(&ds, path, err)) != NR_OK) nr_dataset_free(ds);
        if (s == NR_OK) *out = ds;
        return s;
    }
    return nr_fail(err, NR_ERR_INPUT, "%s: unknown file type (expected .npy, .csv, .tsv or .txt)",
                   path);
}

nr_status nr_data_save(const nr_data *d, const char *path, nr_error *err) {
    char ext[16];
    nr_path_ext(path, ext, sizeof ext);
    if (!strcmp(ext, "npy")) return nr_npy_save(d, path, err);
    if (!strcmp(ext, "csv")) return nr_csv_save(d, path, err);
    return nr_fail(err, NR_ERR_ARG, "%s: unknown file type (expected .npy or .csv)", path);
}

nr_status nr_data_write(const nr_data *d, nr_atomic *a, nr_error *err) {
    char ext[16];
    nr_path_ext(a->path, ext, sizeof ext);
    if (!strcmp(ext, "npy")) return nr_npy_write(d, a, err);
    if (!strcmp(ext, "csv")) return nr_csv_write(d, a, err);
    return nr_fail(err, NR_ERR_ARG, "%s: unknown file type (expected .npy or .csv)", a->path);
}

nr_status nr_open_input(const char *path, const char *what, int *fd, size_t *size, nr_error *err) {
    /* O_NONBLOCK: a FIFO without a writer would block open() forever; it is
     * refused below like any file that is not regular. */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0) return nr_fail(err, NR_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0) {
        int saved = errno;
        close(*fd);
        return nr_fail(err, NR_ERR_INPUT, "%s: cannot read: %s", path, strerror(saved));
    }
    if (!S_ISREG(st.st_mode)) {
        close(*fd);
        return nr_fail(err, NR_ERR_INPUT, "%s: is %s (expected a regular file holding %s)", path,
                       nr_file_kind(st.st_mode), what);
    }
    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK);
    *size = (size_t)st.st_size;
    if (*size == 0) {
        close(*fd);
        return nr_fail(err, NR_ERR_INPUT, "%s: empty file (expected %s)", path, what);
    }
    return NR_OK;
}
