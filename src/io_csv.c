/* CSV: an optional header line, one row per line, fields separated by a
 * delimiter (',' by default); blank lines and CRLF endings are accepted,
 * blanks around fields and double quotes around a field are stripped.
 *
 * The file is mapped and split into chunks at line boundaries; a first
 * parallel pass counts the lines and rows of each chunk, a second parses the
 * chunks in parallel straight into their rows of the output, a row of plain
 * numbers in one pass (nr_parse_row), any other line field by field.
 * Numbers go through fast_float (strtod for other spellings), so they are
 * rounded correctly. On bad input the error with
 * the smallest line number is reported, whatever the thread count. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "parse_float.h"

enum { MAX_FIELD = 256 };
/* As many features as a model can hold (2^24), and the target. */
#define MAX_COLS (((size_t)1 << 24) + 1)

typedef struct {
    const char *begin, *end; /* whole lines */
    size_t lines;            /* '\n'-terminated or last lines in the chunk */
    size_t rows;             /* non-blank lines */
    size_t first_line;       /* 1-based number of the chunk's first line */
    size_t first_row;        /* index of the chunk's first data row */
    size_t err_line;         /* 0: no error */
    bool nomem;              /* the chunk could not get its field arrays */
    char err[300];
} chunk;

size_t nr_csv_parallel_min = (size_t)1 << 20;

static bool is_blank_line(const char *p, const char *e) {
    for (; p < e; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r') return false;
    return true;
}

/* Split [p, e) at `delim` into trimmed fields; returns the count (may exceed
 * max, in which case only max are stored). */
static size_t split_fields(const char *p, const char *e, char delim, const char **fb,
                           const char **fe, size_t max) {
    size_t n = 0;
    for (;;) {
        const char *q = p;
        while (q < e && *q != delim) q++;
        const char *a = p, *b = q;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"') a++, b--;
        if (n < max) fb[n] = a, fe[n] = b;
        n++;
        if (q >= e) break;
        p = q + 1;
    }
    return n;
}

/* The spellings fast_float does not take, through strtod; out of line so
 * that the per-field call below needs no room for the copy. */
static __attribute__((noinline)) const char *parse_number_strtod(const char *a, const char *b,
                                                                 double *out) {
    /* strtod would stop at a NUL and blame the digits before it (fast_float
     * stops there too, which is how such a field gets here) */
    if (memchr(a, '\0', (size_t)(b - a))) return "holds a NUL byte (binary data?)";
    char buf[MAX_FIELD];
    memcpy(buf, a, (size_t)(b - a));
    buf[b - a] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + (b - a)) return "is not a number";
    if (isnan(v) || isinf(v)) return "is not finite (NaN and Inf are not accepted)";
    *out = v;
    return NULL;
}

/* Parse one field as a double; returns 0 on success, else a reason. The
 * common spelling goes through fast_float; whatever it does not take whole
 * (a '+' sign, hexadecimal, leading blanks strtod skips, garbage) goes
 * through strtod as before, so both the values and the accepted syntax are
 * strtod's. */
static inline const char *parse_number(const char *a, const char *b, double *out) {
    if (a == b) return "is empty";
    if (b - a >= MAX_FIELD) return "is too long for a number";
    const char *stop;
    double fast;
    if (nr_parse_double(a, b, &fast, &stop) != 0 || stop != b)
        return parse_number_strtod(a, b, out);
    if (isnan(fast) || isinf(fast)) return "is not finite (NaN and Inf are not accepted)";
    *out = fast;
    return NULL;
}

nr_status nr_csv_load(const char *path, const nr_load_opts *o, nr_dataset **out, nr_error *err) {
    int fd;
    size_t size;
    nr_status os = nr_open_input(path, "CSV rows", &fd, &size, err);
    if (os != NR_OK) return os;
    char *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return nr_fail(err, NR_ERR_INPUT, "%s: cannot map: %s", path, strerror(errno));
    madvise(map, size, MADV_SEQUENTIAL);
    const int slot = nr_map_register(map, size, path); /* a shrinking file: see dataset.c */
    nr_status s = nr_csv_parse(path, map, size, o, out, err);
    nr_map_unregister(slot);
    munmap(map, size);
    return s;
}

nr_status nr_csv_parse(const char *path, const char *text, size_t size, const nr_load_opts *o,
                       nr_dataset **out, nr_error *err) {
    const char delim = o->delimiter ? o->delimiter : ',';
    if (size == 0) return nr_fail(err, NR_ERR_INPUT, "%s: empty file (expected CSV rows)", path);
    /* A UTF-8 byte order mark (spreadsheets write one) is not part of the
     * first field: left in, it would make a numeric first row a "header"
     * and hide the first column's name from --target. */
    if (size >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
        text += 3;
        size -= 3;
        if (size == 0)
            return nr_fail(err, NR_ERR_INPUT, "%s: empty file (expected CSV rows)", path);
    }
    const char *end = text + size;
    if (memchr(text, '\0', size < 4096 ? size : 4096)) {
        return nr_fail(err, NR_ERR_INPUT, "%s: binary data (NUL bytes): not a CSV file", path);
    }

    /* The first non-blank line fixes the number of columns; it is the header
     * if asked, or (auto) if any of its fields is not a number. */
    const char *p = text;
    size_t line_no = 1;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (!is_blank_line(p, le)) break;
        if (!nl) {
            return nr_fail(err, NR_ERR_INPUT, "%s: no data: only blank lines", path);
        }
        p = nl + 1;
        line_no++;
    }
    const char *first_end = memchr(p, '\n', (size_t)(end - p));
    if (!first_end) first_end = end;
    size_t cols = split_fields(p, first_end, delim, NULL, NULL, 0);
    if (cols > MAX_COLS) {
        return nr_fail(err, NR_ERR_INPUT, "%s:%zu: %zu columns (at most %zu are supported)", path,
                       line_no, cols, MAX_COLS);
    }
    if (cols < 2) {
        return nr_fail(err, NR_ERR_INPUT,
                       "%s:%zu: 1 column (expected at least 2: features and a target; is the "
                       "delimiter '%c' right?)",
                       path, line_no, delim);
    }
    const char **fb = malloc(2 * cols * sizeof *fb), **fe = fb + cols;
    if (!fb) return nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu columns", cols);
    split_fields(p, first_end, delim, fb, fe, cols);
    bool header = o->header == NR_HEADER_YES;
    if (o->header == NR_HEADER_AUTO) {
        /* "nan" or "inf" count as numbers here, so that such a first row is
         * reported as bad data rather than taken for a header */
        for (size_t j = 0; j < cols && !header; j++) {
            double v;
            const char *why = parse_number(fb[j], fe[j], &v);
            if (why && strncmp(why, "is not finite", 13) != 0) header = true;
        }
    }
    /* target column */
    size_t target = cols - 1;
    if (o->target) {
        char *e;
        errno = 0;
        long long v = strtoll(o->target, &e, 10);
        bool numeric = *o->target && !*e && !errno;
        bool found = false;
        if (header) {
            size_t tl = strlen(o->target);
            for (size_t j = 0; j < cols; j++)
                if ((size_t)(fe[j] - fb[j]) == tl && !memcmp(fb[j], o->target, tl)) {
                    target = j;
                    found = true;
                    break;
                }
        }
        if (!found && numeric && v >= -(long long)cols && v < (long long)cols) {
            target = v < 0 ? (size_t)((long long)cols + v) : (size_t)v;
            found = true;
        }
        if (!found) {
            free(fb);
            return nr_fail(err, NR_ERR_INPUT,
                           "%s: target '%s' is not a column (expected %sa 0-based index below %zu)",
                           path, o->target, header ? "a header name or " : "", cols);
        }
    }
    free(fb);
    const char *data = header ? (first_end < end ? first_end + 1 : end) : p;
    const size_t data_line = header ? line_no + 1 : line_no;

    /* Chunks at line boundaries. */
    int nt = omp_get_max_threads();
    size_t nchunks = (size_t)nt * 4;
    if ((size_t)(end - data) < nr_csv_parallel_min) nchunks = 1;
    chunk *ch = calloc(nchunks, sizeof *ch);
    if (!ch) {
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    const char *cur = data;
    for (size_t k = 0; k < nchunks; k++) {
        ch[k].begin = cur;
        const char *target_end =
            k + 1 == nchunks ? end : data + (size_t)(end - data) * (k + 1) / nchunks;
        if (target_end < cur) target_end = cur;
        if (target_end < end) {
            const char *nl = memchr(target_end, '\n', (size_t)(end - target_end));
            target_end = nl ? nl + 1 : end;
        }
        ch[k].end = target_end;
        cur = target_end;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t k = 0; k < nchunks; k++) {
        size_t lines = 0, rows = 0;
        for (const char *q = ch[k].begin; q < ch[k].end;) {
            const char *nl = memchr(q, '\n', (size_t)(ch[k].end - q));
            const char *le = nl ? nl : ch[k].end;
            lines++;
            if (!is_blank_line(q, le)) rows++;
            q = nl ? nl + 1 : ch[k].end;
        }
        ch[k].lines = lines, ch[k].rows = rows;
    }
    size_t total_rows = 0, ln = data_line;
    for (size_t k = 0; k < nchunks; k++) {
        ch[k].first_line = ln, ch[k].first_row = total_rows;
        ln += ch[k].lines, total_rows += ch[k].rows;
    }
    if (total_rows == 0) {
        free(ch);
        return nr_fail(err, NR_ERR_INPUT, "%s: no data rows%s", path,
                       header ? " after the header" : "");
    }
    /* f16 is rounded from f64 by nr_dataset_load (nr_dataset_to_f16) */
    const nr_dtype want = o->convert && o->dtype == NR_F32 ? NR_F32 : NR_F64;
    nr_dataset *ds;
    nr_status s = nr_dataset_new(total_rows, cols - 1, want, &ds, err);
    if (s != NR_OK) {
        free(ch);
        return s;
    }
    void *dst = nr_dataset_mutable(ds);
    /* A row of plain numbers is read in one pass (nr_parse_row); anything
     * else in a line (blanks only, quotes, a '+', too few or many fields,
     * garbage) sends that line through the general rules (split_fields,
     * parse_number), which accept what they accept and name what they
     * refuse: the fast path changes no value and no message. It needs a
     * delimiter that no number contains. */
    const bool fast = !memchr("0123456789.eE+-\r\n", delim, 17);
    /* f64 with the target last: a row is parsed where it goes */
    const bool in_place = want == NR_F64 && target == cols - 1;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t k = 0; k < nchunks; k++) {
        /* room for one field more than expected, to tell "too many" */
        const char **b = malloc(2 * (cols + 1) * sizeof *b), **e = b ? b + cols + 1 : NULL;
        double *vals = malloc(cols * sizeof *vals);
        if (!b || !vals) {
            free(b);
            free(vals);
            ch[k].nomem = true;
            continue;
        }
        size_t line = ch[k].first_line, row = ch[k].first_row;
        for (const char *q = ch[k].begin; q < ch[k].end && !ch[k].err_line; line++) {
            if (*q == '\n') { /* an empty line */
                q++;
                continue;
            }
            double *v = in_place ? (double *)dst + row * cols : vals;
            size_t good = cols; /* fields read; field good + 1 is refused for `why` */
            const char *why = NULL, *stop;
            if (fast && nr_parse_row(q, ch[k].end, delim, MAX_FIELD, v, cols, &stop) == cols &&
                (stop == ch[k].end || *stop == '\n')) {
                q = stop == ch[k].end ? stop : stop + 1;
            } else {
                const char *nl = memchr(q, '\n', (size_t)(ch[k].end - q));
                const char *le = nl ? nl : ch[k].end, *ls = q;
                q = nl ? nl + 1 : ch[k].end;
                if (is_blank_line(ls, le)) continue;
                size_t nf = split_fields(ls, le, delim, b, e, cols + 1);
                if (nf != cols) {
                    ch[k].err_line = line;
                    snprintf(ch[k].err, sizeof ch[k].err, "expected %zu fields, found %zu", cols,
                             nf);
                    break;
                }
                for (size_t j = 0; j < cols && !why; j++)
                    if ((why = parse_number(b[j], e[j], &v[j]))) good = j;
            }
            /* stored in field order, so that an f32 overflow before a bad
             * field is the one reported, as a field-by-field reader would */
            for (size_t j = 0; j < good && !in_place; j++) {
                size_t c = j == target ? cols - 1 : (j > target ? j - 1 : j);
                if (want == NR_F32) {
                    float f = (float)v[j];
                    if (isinf(f)) {
                        ch[k].err_line = line;
                        snprintf(ch[k].err, sizeof ch[k].err, "field %zu (%g) overflows float32",
                                 j + 1, v[j]);
                        break;
                    }
                    ((float *)dst)[row * cols + c] = f;
                } else {
                    ((double *)dst)[row * cols + c] = v[j];
                }
            }
            if (why && !ch[k].err_line) {
                ch[k].err_line = line;
                snprintf(ch[k].err, sizeof ch[k].err, "field %zu ('%.*s') %s", good + 1,
                         (int)(e[good] - b[good] > 40 ? 40 : e[good] - b[good]), b[good], why);
            }
            row++;
        }
        free(b);
        free(vals);
    }
    for (size_t k = 0; k < nchunks; k++)
        if (ch[k].nomem) {
            s = nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu columns", cols);
            break;
        }
    for (size_t k = 0; k < nchunks && s == NR_OK; k++)
        if (ch[k].err_line) {
            s = nr_fail(err, NR_ERR_INPUT, "%s:%zu: %s", path, ch[k].err_line, ch[k].err);
            break;
        }
    free(ch);
    if (s != NR_OK) {
        nr_dataset_free(ds);
        return s;
    }
    *out = ds;
    return NR_OK;
}

/* Shortest text that reads back to the same value: %.9g for floats, %.17g
 * for doubles (both round-trip; shorter forms are tried first). */
static int format_value(char *buf, size_t cap, double v, nr_dtype t) {
    if (t == NR_F32) {
        for (int prec = 6; prec <= 9; prec++) {
            int n = snprintf(buf, cap, "%.*g", prec, v);
            if ((float)strtod(buf, NULL) == (float)v) return n;
        }
        return snprintf(buf, cap, "%.9g", v);
    }
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return n;
    }
    return snprintf(buf, cap, "%.17g", v);
}

nr_status nr_csv_write(const nr_data *d, nr_atomic *a, nr_error *err) {
    nr_status s;
    const size_t cols = d->features + 1;
    /* header */
    size_t hcap = cols * 12 + 8, hl = 0;
    char *head = malloc(hcap);
    if (!head) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < d->features; j++)
        hl += (size_t)snprintf(head + hl, hcap - hl, "x%zu,", j + 1);
    hl += (size_t)snprintf(head + hl, hcap - hl, "y\n");
    s = nr_atomic_write(a, head, hl, err);
    free(head);
    /* Rows are formatted in parallel blocks and written in order. */
    const size_t block = 16384;
    const long nb = (long)((d->rows + block - 1) / block);
    const size_t cap = block * cols * 26 + 64;
    volatile int failed = s != NR_OK;
    nr_status ws = s;
#pragma omp parallel
    {
        char *buf = malloc(cap);
#pragma omp for ordered schedule(static, 1)
        for (long k = 0; k < nb; k++) {
            size_t len = 0;
            size_t lo = (size_t)k * block, hi = lo + block < d->rows ? lo + block : d->rows;
            if (buf && !failed)
                for (size_t i = lo; i < hi; i++)
                    for (size_t j = 0; j < cols; j++) {
                        size_t at = i * cols + j;
                        /* a half is a float: its shortest float text reads back to it */
                        const double v = nr_value_at(d, at);
                        len += (size_t)format_value(buf + len, 32, v,
                                                    d->dtype == NR_F16 ? NR_F32 : d->dtype);
                        buf[len++] = j + 1 < cols ? ',' : '\n';
                    }
#pragma omp ordered
            {
                if (!buf && !failed) {
                    failed = 1;
                    ws = nr_fail(err, NR_ERR_NOMEM, "out of memory");
                } else if (!failed && (ws = nr_atomic_write(a, buf, len, err)) != NR_OK) {
                    failed = 1;
                }
            }
        }
        free(buf);
    }
    return failed ? ws : NR_OK;
}

nr_status nr_csv_save(const nr_data *d, const char *path, nr_error *err) {
    nr_atomic a;
    nr_status s = nr_atomic_create(&a, path, err);
    if (s != NR_OK) return s;
    if ((s = nr_csv_write(d, &a, err)) != NR_OK) {
        nr_atomic_abort(&a);
        return s;
    }
    return nr_atomic_commit(&a, err);
}
