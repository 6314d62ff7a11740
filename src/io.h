/* File plumbing shared by the readers and writers; not installed. */
#ifndef NR_IO_H
#define NR_IO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* A file being written atomically: data go to `tmp` (same folder as
 * `target`, the file `path` names once symbolic links are followed), which
 * is renamed over `target` on commit and unlinked on abort or by
 * nr_abandon_temp_files() from a signal handler. */
typedef struct {
    int fd;
    int slot;              /* index in the registry of temporary files, or -1 */
    char path[PATH_MAX];   /* as given, for messages */
    char target[PATH_MAX]; /* the file replaced on commit */
    char tmp[PATH_MAX];    /* "" once renamed or removed */
} nr_atomic;

/* Create the temporary file of an output. NR_ERR_ARG when `path` names a
 * directory, a device, a FIFO, a socket, a symbolic link to nothing, or a
 * folder that does not exist or cannot be written; NR_ERR_IO otherwise. */
nr_status nr_atomic_create(nr_atomic *a, const char *path, nr_error *err);
/* Write everything or fail with NR_ERR_IO naming the file. */
nr_status nr_atomic_write(nr_atomic *a, const void *buf, size_t n, nr_error *err);
/* Reserve `size` bytes on disk now, so that a full disk fails here and not
 * later through a memory map (which would be a SIGBUS). */
nr_status nr_atomic_reserve(nr_atomic *a, size_t size, nr_error *err);
/* fsync and close the temporary file, both checked (NR_ERR_IO); the file
 * stays registered until nr_atomic_rename or nr_atomic_abort. */
nr_status nr_atomic_finish(nr_atomic *a, nr_error *err);
/* Rename a finished temporary file over the target (and sync its folder);
 * on failure the temporary file is removed. */
nr_status nr_atomic_rename(nr_atomic *a, nr_error *err);
/* finish, then rename; the temporary file is removed on any failure. */
nr_status nr_atomic_commit(nr_atomic *a, nr_error *err);
void nr_atomic_abort(nr_atomic *a);

/* "a directory", "a FIFO (named pipe)", ... for a st_mode. */
const char *nr_file_kind(unsigned mode);

/* Mapped files, for a SIGBUS handler (nr_mapped_file_at): register the
 * `len` bytes at `addr` as file `path`; returns a slot, or -1 when the
 * registry is full (the mapping then works, but a fault in it is a plain
 * SIGBUS). */
int nr_map_register(const void *addr, size_t len, const char *path);
void nr_map_unregister(int slot);

/* Atomically write a whole buffer to `path`. */
nr_status nr_write_file_atomic(const char *path, const void *buf, size_t n, nr_error *err);

/* The lower-cased extension of `path` ("npy", "csv", ...) or "". */
const char *nr_path_ext(const char *path, char *buf, size_t size);

/* .npy: header text for a C-order 2-D array (format 1.0, padded so the data
 * start at a multiple of 64 bytes), or a 1-D one of `rows` values when
 * `cols` is 0; returns its length, or 0 if `cap` is too small. */
size_t nr_npy_header(char *buf, size_t cap, nr_dtype t, size_t rows, size_t cols);

/* .npy: what a header says. */
typedef struct {
    nr_dtype dtype;
    bool big_endian;
    bool fortran;
    size_t rows, cols;
} npy_info;

/* .npy: check the magic, version, header and that the `size` bytes at `b`
 * hold exactly the data the header announces; *data_off receives the offset
 * of the data. Reads nothing outside [b, b + size). */
nr_status nr_npy_parse(const char *path, const unsigned char *b, size_t size, npy_info *info,
                       size_t *data_off, nr_error *err);
/* .npy: the same for any array of numbers that is not a data set, such as
 * predictions: a vector of n values is read as (n, 1), and one column is
 * enough. */
nr_status nr_npy_parse_array(const char *path, const unsigned char *b, size_t size, npy_info *info,
                             size_t *data_off, nr_error *err);

/* CSV: parse the `size` bytes at `text` (not NUL-terminated) as nr_csv_load
 * does for a file; `path` only names the input in messages. */
nr_status nr_csv_parse(const char *path, const char *text, size_t size, const nr_load_opts *o,
                       nr_dataset **out, nr_error *err);

/* CSV: inputs of at least this many bytes are split into chunks parsed in
 * parallel (1 MiB; fuzzing lowers it, so that small inputs take the chunked
 * path too: the result must not depend on it). */
extern size_t nr_csv_parallel_min;

/* Models: parse `len` bytes of JSON text as nr_model_load does. */
nr_status nr_model_parse(nr_model *m, const char *path, const char *text, size_t len,
                         nr_error *err);

/* Readers and writers behind nr_dataset_load / nr_data_save. */
/* Open `path` read-only as a non-empty regular file: *fd and *size, or
 * NR_ERR_INPUT naming the file ("empty file (expected <what>)"). */
nr_status nr_open_input(const char *path, const char *what, int *fd, size_t *size, nr_error *err);

nr_status nr_npy_load(const char *path, const nr_load_opts *o, nr_dataset **out, nr_error *err);
nr_status nr_csv_load(const char *path, const nr_load_opts *o, nr_dataset **out, nr_error *err);
nr_status nr_npy_save(const nr_data *d, const char *path, nr_error *err);
nr_status nr_csv_save(const nr_data *d, const char *path, nr_error *err);
/* The same into an open atomic file (not committed), the format chosen by
 * the extension of a->path; so that a caller can prepare every output first
 * and commit them together. */
nr_status nr_npy_write(const nr_data *d, nr_atomic *a, nr_error *err);
nr_status nr_csv_write(const nr_data *d, nr_atomic *a, nr_error *err);
nr_status nr_data_write(const nr_data *d, nr_atomic *a, nr_error *err);

/* nr_gen_write into an open atomic file (not committed). */
nr_status nr_gen_write_to(const nr_gen_opts *o, nr_atomic *a, nr_error *err);

/* A model's JSON text as nr_model_save writes it (malloc'd, ends with a
 * newline), or NULL with NR_ERR_ARG (a non-finite weight) / NR_ERR_NOMEM. */
char *nr_model_text(const nr_model *m, const nr_train_opts *o, nr_error *err, nr_status *st);

/* Data sets: an owned, zero-filled buffer of rows x (features+1) values, or
 * a read-only mapping of `map_len` bytes whose values start at `values`. */
nr_status nr_dataset_new(size_t rows, size_t features, nr_dtype t, nr_dataset **out, nr_error *err);
nr_dataset *nr_dataset_from_map(void *map, size_t map_len, size_t rows, size_t features, nr_dtype t,
                                const void *values, int map_slot);

/* Replace *ds by its values rounded to f16 (nothing to do when they are
 * f16 already); NR_ERR_INPUT naming `path`, the row and the column (1-based)
 * of the first value beyond f16's range, *ds then unchanged. */
nr_status nr_dataset_to_f16(nr_dataset **ds, const char *path, nr_error *err);

/* Check that every value is finite; on the first that is not, fail naming
 * the file, the row (1-based) and the column (1-based). */
nr_status nr_data_check_finite(const nr_data *d, const char *path, nr_error *err);

/* JSON through jansson (src/model.c). Its type is only declared here, so
 * that the readers and kernels do not parse jansson.h. */
struct json_t;
/* `v` as a JSON real, or null when it is not finite (JSON has no Inf or
 * NaN: a diverged loss is written as null). */
struct json_t *nr_json_real(double v);
/* A count or a seed as a JSON integer, exactly, up to 2^64 - 1 (see
 * nr_json_dump). */
struct json_t *nr_json_count(uint64_t n);
/* `s` as a JSON string; bytes that are not UTF-8 (a file name is any bytes)
 * become U+FFFD, since JSON text is UTF-8 and jansson refuses anything else. */
struct json_t *nr_json_text(const char *s);
/* The text of `j`, indented, without a final newline, malloc'd (free()); NULL
 * when out of memory or when `j` is NULL (an allocation failed building it).
 * Reals get 17 significant digits, so that each reads back to its bits. */
char *nr_json_dump(const struct json_t *j);

/* a * b without overflow: false if it does not fit in size_t. */
static inline int nr_mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

#endif
