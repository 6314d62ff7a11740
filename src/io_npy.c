/* NumPy .npy files (format 1.0, 2.0 and 3.0): a magic string, a version, a
 * header that is a Python dict literal ({'descr': '<f8', 'fortran_order':
 * False, 'shape': (N, C), }) padded with spaces to a multiple of 64 bytes
 * (16 in old files), then the raw values. Format 3.0 differs from 2.0 only
 * in allowing UTF-8 in the header. Reference: numpy/lib/format.py docs. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* Find `'key'` followed by ':' in the header dict; returns the text after
 * the colon (blanks skipped), or NULL. */
static const char *dict_value(const char *h, const char *end, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = h; p + kl + 2 <= end; p++) {
        if ((*p == '\'' || *p == '"') && !strncmp(p + 1, key, kl) && p[kl + 1] == *p) {
            const char *q = p + kl + 2;
            while (q < end && isspace((unsigned char)*q)) q++;
            if (q >= end || *q != ':') continue;
            q++;
            while (q < end && isspace((unsigned char)*q)) q++;
            return q < end ? q : NULL; /* a key without a value counts as absent */
        }
    }
    return NULL;
}

/* Whether [p, end) starts with the literal `lit`. */
static bool starts_with(const char *p, const char *end, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && !memcmp(p, lit, n);
}

static nr_status parse_header(const char *path, const char *h, size_t hlen, bool any_columns,
                              npy_info *info, nr_error *err) {
    const char *end = h + hlen;
    const char *d = dict_value(h, end, "descr");
    const char *f = dict_value(h, end, "fortran_order");
    const char *s = dict_value(h, end, "shape");
    if (!d || !f || !s)
        return nr_fail(err, NR_ERR_INPUT,
                       "%s: .npy header lacks %s (expected 'descr', 'fortran_order', 'shape')",
                       path,
                       !d   ? "'descr'"
                       : !f ? "'fortran_order'"
                            : "'shape'");
    /* descr: a quoted type string */
    char q = *d;
    char descr[16] = "";
    if (q == '\'' || q == '"') {
        const char *e = memchr(d + 1, q, (size_t)(end - d - 1));
        if (e && (size_t)(e - d - 1) < sizeof descr) {
            memcpy(descr, d + 1, (size_t)(e - d - 1));
            descr[e - d - 1] = '\0';
        }
    }
    if (!strcmp(descr, "<f2") || !strcmp(descr, "=f2")) {
        info->dtype = NR_F16, info->big_endian = false;
    } else if (!strcmp(descr, ">f2")) {
        info->dtype = NR_F16, info->big_endian = true;
    } else if (!strcmp(descr, "<f4") || !strcmp(descr, "=f4")) {
        info->dtype = NR_F32, info->big_endian = false;
    } else if (!strcmp(descr, "<f8") || !strcmp(descr, "=f8")) {
        info->dtype = NR_F64, info->big_endian = false;
    } else if (!strcmp(descr, ">f4")) {
        info->dtype = NR_F32, info->big_endian = true;
    } else if (!strcmp(descr, ">f8")) {
        info->dtype = NR_F64, info->big_endian = true;
    } else {
        return nr_fail(err, NR_ERR_INPUT,
                       "%s: dtype '%s' is not supported (expected float16 '<f2', float32 '<f4' or "
                       "float64 '<f8')",
                       path, descr[0] ? descr : "?");
    }
    if (starts_with(f, end, "False")) {
        info->fortran = false;
    } else if (starts_with(f, end, "True")) {
        info->fortran = true;
    } else {
        return nr_fail(err, NR_ERR_INPUT,
                       "%s: .npy header: fortran_order is neither True nor False", path);
    }
    if (*s != '(') return nr_fail(err, NR_ERR_INPUT, "%s: .npy header: shape is not a tuple", path);
    size_t dims[3];
    int nd = 0;
    const char *p = s + 1;
    for (;;) {
        while (p < end && isspace((unsigned char)*p)) p++;
        if (p < end && *p == ')') break;
        if (p >= end || !isdigit((unsigned char)*p))
            return nr_fail(err, NR_ERR_INPUT, "%s: .npy header: malformed shape", path);
        /* digits by hand: strtoull would read past the end of the header */
        const char *e = p;
        size_t v = 0;
        bool overflow = false;
        for (; e < end && isdigit((unsigned char)*e); e++)
            if (__builtin_mul_overflow(v, (size_t)10, &v) ||
                __builtin_add_overflow(v, (size_t)(*e - '0'), &v))
                overflow = true;
        if (overflow)
            return nr_fail(err, NR_ERR_INPUT, "%s: .npy header: dimension %.*s overflows", path,
                           (int)(e - p > 40 ? 40 : e - p), p);
        if (nd < 3) dims[nd] = v;
        if (nd < 1000) nd++;
        p = e;
        while (p < end && isspace((unsigned char)*p)) p++;
        if (p < end && *p == ',') p++;
    }
    if (any_columns && nd == 1) dims[1] = 1, nd = 2; /* a vector is one column */
    if (nd != 2)
        return nr_fail(err, NR_ERR_INPUT,
                       "%s: array has %d dimension%s (expected 2: rows x (features + target))",
                       path, nd, nd == 1 ? "" : "s");
    info->rows = dims[0], info->cols = dims[1];
    if (info->cols < (any_columns ? 1u : 2u))
        return nr_fail(
            err, NR_ERR_INPUT,
            "%s: shape (%zu, %zu) has %zu column (expected at least 2: features and a target)",
            path, info->rows, info->cols, info->cols);
    if (info->rows == 0)
        return nr_fail(err, NR_ERR_INPUT, "%s: shape (0, %zu) has no rows", path, info->cols);
    return NR_OK;
}

/* Parse a target option against `cols` columns: NULL -> last. */
static nr_status npy_target(const char *path, const char *target, size_t cols, size_t *out,
                            nr_error *err) {
    if (!target) {
        *out = cols - 1;
        return NR_OK;
    }
    char *e;
    errno = 0;
    long long v = strtoll(target, &e, 10);
    if (!*target || *e || errno || v < -(long long)cols || v >= (long long)cols)
        return nr_fail(
            err, NR_ERR_INPUT,
            "%s: target '%s': expected a column index in [0, %zu] (.npy columns have no names)",
            path, target, cols - 1);
    *out = v < 0 ? (size_t)((long long)cols + v) : (size_t)v;
    return NR_OK;
}

static double read_value(const unsigned char *p, nr_dtype t, bool big) {
    if (t == NR_F16) {
        uint16_t u;
        memcpy(&u, p, 2);
        return nr_half_to_float(big ? __builtin_bswap16(u) : u);
    }
    if (t == NR_F32) {
        uint32_t u;
        memcpy(&u, p, 4);
        if (big) u = __builtin_bswap32(u);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    uint64_t u;
    memcpy(&u, p, 8);
    if (big) u = __builtin_bswap64(u);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static nr_status npy_parse(const char *path, const unsigned char *b, size_t size, bool any_columns,
                           npy_info *info, size_t *data_off, nr_error *err) {
    nr_status s = NR_OK;
    size_t off = 0, hlen = 0;
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        s = nr_fail(err, NR_ERR_INPUT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    } else if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (size < 12)
            return nr_fail(err, NR_ERR_INPUT, "%s: truncated .npy header (%zu bytes)", path, size);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: .npy format version %u.%u is not supported (expected 1, 2 or 3)", path,
                    b[6], b[7]);
    }
    if (s == NR_OK && hlen > size - off)
        s = nr_fail(err, NR_ERR_INPUT,
                    "%s: truncated .npy header (%zu bytes announced, %zu present)", path, hlen,
                    size - off);
    if (s == NR_OK) s = parse_header(path, (const char *)b + off, hlen, any_columns, info, err);
    size_t total = 0, payload = 0;
    if (s == NR_OK) {
        const size_t item = nr_dtype_size(info->dtype);
        off += hlen;
        if (!nr_mul_ok(info->rows, info->cols, &total) || !nr_mul_ok(total, item, &payload))
            s = nr_fail(err, NR_ERR_INPUT, "%s: shape (%zu, %zu) is too large: its size overflows",
                        path, info->rows, info->cols);
        else if (size - off < payload)
            s = nr_fail(err, NR_ERR_INPUT,
                        "%s: truncated: shape (%zu, %zu) needs %zu bytes of data, the file has %zu",
                        path, info->rows, info->cols, payload, size - off);
        else if (size - off > payload)
            s = nr_fail(err, NR_ERR_INPUT,
                        "%s: %zu bytes after the data: shape (%zu, %zu) does not match the file",
                        path, size - off - payload, info->rows, info->cols);
    }
    *data_off = off;
    return s;
}

nr_status nr_npy_parse(const char *path, const unsigned char *b, size_t size, npy_info *info,
                       size_t *data_off, nr_error *err) {
    return npy_parse(path, b, size, false, info, data_off, err);
}

nr_status nr_npy_parse_array(const char *path, const unsigned char *b, size_t size, npy_info *info,
                             size_t *data_off, nr_error *err) {
    return npy_parse(path, b, size, true, info, data_off, err);
}

nr_status nr_npy_load(const char *path, const nr_load_opts *o, nr_dataset **out, nr_error *err) {
    int fd;
    size_t size;
    nr_status os = nr_open_input(path, "a .npy array", &fd, &size, err);
    if (os != NR_OK) return os;
    /* MAP_POPULATE: fault the pages in now, so that the first epoch is not
     * also the one that pays for the page table */
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return nr_fail(err, NR_ERR_INPUT, "%s: cannot map: %s", path, strerror(errno));
    const int slot = nr_map_register(map, size, path); /* a shrinking file: see dataset.c */
    const unsigned char *b = map;
    npy_info info;
    size_t off = 0, target = 0;
    nr_status s = nr_npy_parse(path, b, size, &info, &off, err);
    const size_t item = s == NR_OK ? nr_dtype_size(info.dtype) : 0;
    if (s == NR_OK) s = npy_target(path, o->target, info.cols, &target, err);
    if (s != NR_OK) {
        nr_map_unregister(slot);
        munmap(map, size);
        return s;
    }
    const nr_dtype want = o->convert ? o->dtype : info.dtype;
    /* a copy to f16 is made in f64 and rounded once (nr_dataset_to_f16),
     * which checks the range */
    const nr_dtype copy = want == NR_F16 ? NR_F64 : want;
    const size_t features = info.cols - 1;
    nr_dataset *ds = NULL;
    if (!info.fortran && !info.big_endian && target == info.cols - 1 && want == info.dtype &&
        off % item == 0) {
        madvise(map, size, MADV_SEQUENTIAL);
        ds = nr_dataset_from_map(map, size, info.rows, features, info.dtype, b + off, slot);
        if (!ds) {
            nr_map_unregister(slot);
            munmap(map, size);
            return nr_fail(err, NR_ERR_NOMEM, "out of memory");
        }
    } else {
        s = nr_dataset_new(info.rows, features, copy, &ds, err);
        if (s != NR_OK) {
            nr_map_unregister(slot);
            munmap(map, size);
            return s;
        }
        void *dst = nr_dataset_mutable(ds);
        const unsigned char *src = b + off;
        const size_t rows = info.rows, cols = info.cols;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < rows; i++) {
            for (size_t j = 0; j < cols; j++) {
                size_t at = info.fortran ? j * rows + i : i * cols + j;
                double v = read_value(src + at * item, info.dtype, info.big_endian);
                /* the target goes last, the other columns keep their order */
                size_t k = j == target ? cols - 1 : (j > target ? j - 1 : j);
                if (copy == NR_F32)
                    ((float *)dst)[i * cols + k] = (float)v;
                else
                    ((double *)dst)[i * cols + k] = v;
            }
        }
        nr_map_unregister(slot);
        munmap(map, size);
    }
    s = nr_data_check_finite(nr_dataset_view(ds), path, err);
    if (s == NR_OK && want == NR_F16) s = nr_dataset_to_f16(&ds, path, err);
    if (s != NR_OK) {
        nr_dataset_free(ds);
        return s;
    }
    *out = ds;
    return NR_OK;
}

size_t nr_npy_header(char *buf, size_t cap, nr_dtype t, size_t rows, size_t cols) {
    char dict[160];
    const char *descr = t == NR_F16 ? "<f2" : t == NR_F32 ? "<f4" : "<f8";
    int n =
        cols ? snprintf(dict, sizeof dict,
                        "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr,
                        rows, cols)
             : snprintf(dict, sizeof dict,
                        "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, rows);
    /* magic (6) + version (2) + length (2) + dict + padding + '\n' = k * 64 */
    size_t total = ((size_t)10 + (size_t)n + 1 + 63) / 64 * 64;
    if (total > cap || total - 10 > 65535) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t hl = total - 10;
    buf[8] = (char)(hl & 0xff);
    buf[9] = (char)(hl >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

nr_status nr_npy_write(const nr_data *d, nr_atomic *a, nr_error *err) {
    char head[256];
    const size_t cols = d->features + 1;
    /* no features: one value a row and no target, as predictions are; NumPy
     * users expect those as a vector, shape (n,), not a column (n, 1) */
    size_t h = nr_npy_header(head, sizeof head, d->dtype, d->rows, d->features ? cols : 0), bytes;
    if (!h || !nr_mul_ok(d->rows * cols, nr_dtype_size(d->dtype), &bytes))
        return nr_fail(err, NR_ERR_ARG, "%s: array too large for a .npy header", a->path);
    nr_status s = nr_atomic_write(a, head, h, err);
    if (s == NR_OK) s = nr_atomic_write(a, d->values, bytes, err);
    return s;
}

nr_status nr_npy_save(const nr_data *d, const char *path, nr_error *err) {
    nr_atomic a;
    nr_status s = nr_atomic_create(&a, path, err);
    if (s != NR_OK) return s;
    if ((s = nr_npy_write(d, &a, err)) != NR_OK) {
        nr_atomic_abort(&a);
        return s;
    }
    return nr_atomic_commit(&a, err);
}
