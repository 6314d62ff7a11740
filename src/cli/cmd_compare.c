/* neuron compare: the regression-test command. Two reports, models,
 * histories or prediction files are read into named fields of numbers
 * (JSON leaves by path, CSV columns by header, .npy columns), matched by
 * name and shape, and compared value by value with the library's tolerance
 * rule (nr_agree) and ulp arithmetic. Timings and machine facts (seconds,
 * threads, kernel, the data file's path) differ between honest runs and are
 * skipped by name. */
#include <jansson.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io.h"

static void usage(FILE *f) {
    fputs("usage: neuron compare A B [--rtol R] [--atol A] [--ulps U] [--ignore NAMES] [--quiet]\n"
          "\n"
          "Compare two results by content: reports or models (.json: every number, by\n"
          "its path, e.g. weights, bias, train_loss), histories or other tables (.csv:\n"
          "every column, by header name), or predictions (.npy or .csv: every column).\n"
          "Prints, per field, the largest absolute, relative and ulp difference and\n"
          "where it occurs. A pair of values agrees when both are NaN, or they are\n"
          "equal (-0 == +0), or |a - b| <= atol + rtol * |b|, or they are at most U\n"
          "ulps apart. Timing and machine fields (seconds, samples_per_second,\n"
          "epoch_seconds_median, threads, kernel, data) are skipped and listed.\n"
          "\n"
          "options:\n"
          "  --rtol R        relative tolerance, >= 0 (0)\n"
          "  --atol A        absolute tolerance, >= 0 (0)\n"
          "  --ulps U        distance in ulps that always agrees, >= 0 (0)\n"
          "  --ignore NAMES  comma-separated field names to skip as well\n"
          "  --quiet         print nothing; the exit code says it\n"
          "\n"
          "exit codes: 0 every field within tolerance, 1 some value beyond it,\n"
          "2 usage, 3 unreadable input or files that do not match (a field missing\n"
          "from one, different shapes or file kinds)\n",
          f);
}

/* ----------------------------------------------------------- fields -- */

/* A named field: n numbers, or (for JSON strings and booleans) a text. */
typedef struct {
    char *name;
    double *v;
    size_t n, cap;
    char *text;
    size_t rows; /* CSV/.npy: values are rows of one column (index = row) */
} field;

typedef struct {
    field *f;
    size_t n, cap;
} fieldset;

static void fieldset_free(fieldset *s) {
    for (size_t i = 0; i < s->n; i++) free(s->f[i].name), free(s->f[i].v), free(s->f[i].text);
    free(s->f);
    memset(s, 0, sizeof *s);
}

static field *field_new(fieldset *s, const char *name, nr_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        field *f = realloc(s->f, cap * sizeof *f);
        if (!f) return nr_fail(err, NR_ERR_NOMEM, "out of memory"), NULL;
        s->f = f, s->cap = cap;
    }
    field *f = &s->f[s->n];
    memset(f, 0, sizeof *f);
    if (!(f->name = strdup(name))) return nr_fail(err, NR_ERR_NOMEM, "out of memory"), NULL;
    s->n++;
    return f;
}

static bool field_push(field *f, double x) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        double *v = realloc(f->v, cap * sizeof *v);
        if (!v) return false;
        f->v = v, f->cap = cap;
    }
    f->v[f->n++] = x;
    return true;
}

static const field *field_find(const fieldset *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->f[i].name, name)) return &s->f[i];
    return NULL;
}

/* ------------------------------------------------------------- JSON -- */

static nr_status json_walk(fieldset *s, const json_t *j, const char *path, const char *file,
                           nr_error *err);

/* An array of numbers (and nulls, read as NaN) is one field; any other
 * array is walked element by element as path[i]. */
static nr_status walk_array(fieldset *s, const json_t *j, const char *path, const char *file,
                            nr_error *err) {
    bool numeric = true;
    size_t i;
    const json_t *e;
    json_array_foreach(j, i, e) {
        numeric = numeric && (json_is_number(e) || json_is_null(e));
    }
    if (numeric) {
        field *f = field_new(s, path, err);
        if (!f) return NR_ERR_NOMEM;
        json_array_foreach(j, i, e) {
            if (!field_push(f, json_is_number(e) ? json_number_value(e) : NAN))
                return nr_fail(err, NR_ERR_NOMEM, "out of memory");
        }
        return NR_OK;
    }
    json_array_foreach(j, i, e) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        nr_status st = json_walk(s, e, sub, file, err);
        if (st != NR_OK) return st;
    }
    return NR_OK;
}

static nr_status json_walk(fieldset *s, const json_t *j, const char *path, const char *file,
                           nr_error *err) {
    if (json_is_object(j)) {
        const char *key;
        const json_t *e;
        json_object_foreach((json_t *)j, key, e) {
            char sub[256];
            if (snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key) >= (int)sizeof sub)
                return nr_fail(err, NR_ERR_INPUT, "%s: a field name is too long", file);
            nr_status st = json_walk(s, e, sub, file, err);
            if (st != NR_OK) return st;
        }
        return NR_OK;
    }
    if (json_is_array(j)) return walk_array(s, j, path, file, err);
    field *f = field_new(s, *path ? path : "(value)", err);
    if (!f) return NR_ERR_NOMEM;
    if (json_is_number(j) || json_is_null(j)) {
        if (!field_push(f, json_is_number(j) ? json_number_value(j) : NAN))
            return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    } else {
        const char *t = json_is_string(j) ? json_string_value(j)
                        : json_is_true(j) ? "true"
                                          : "false";
        if (!(f->text = strdup(t))) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    return NR_OK;
}

static nr_status read_all(const char *path, const char *what, char **buf, size_t *len,
                          nr_error *err) {
    int fd;
    nr_status s = nr_open_input(path, what, &fd, len, err);
    if (s != NR_OK) return s;
    *buf = malloc(*len + 1);
    if (!*buf) {
        close(fd);
        return nr_fail(err, NR_ERR_NOMEM, "%s: out of memory for %zu bytes", path, *len);
    }
    size_t got = 0;
    while (got < *len) {
        ssize_t r = read(fd, *buf + got, *len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            close(fd);
            free(*buf);
            return nr_fail(err, NR_ERR_INPUT, "%s: cannot read: %s", path,
                           r < 0 ? strerror(errno) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    (*buf)[*len] = '\0';
    return NR_OK;
}

static nr_status load_json(const char *path, fieldset *s, nr_error *err) {
    char *text;
    size_t len;
    nr_status st = read_all(path, "JSON", &text, &len, err);
    if (st != NR_OK) return st;
    /* every number as a double (a seed beyond 2^63 - 1 included); a key
     * given twice would make one field of two values: refused */
    json_error_t jerr;
    json_t *j = json_loadb(
        text, len, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    free(text);
    if (!j)
        return nr_fail(err, NR_ERR_INPUT, "%s:%d:%d: not valid JSON: %s", path, jerr.line,
                       jerr.column, jerr.text);
    st = json_walk(s, j, "", path, err);
    json_decref(j);
    return st;
}

/* -------------------------------------------------------------- CSV -- */

/* Split one line (no newline) at commas into at most `max` fields. */
static size_t split_csv(char *line, char **out, size_t max) {
    size_t n = 0;
    for (char *p = line;;) {
        char *c = strchr(p, ',');
        if (n < max) out[n] = p;
        n++;
        if (!c) return n;
        *c = '\0';
        p = c + 1;
    }
}

static bool parse_number(const char *t, double *x) {
    char *end;
    while (*t == ' ') t++;
    if (!*t) return false;
    errno = 0;
    *x = strtod(t, &end);
    while (*end == ' ' || *end == '\r') end++;
    return *end == '\0';
}

enum { MAX_COLS = 4096 };

static nr_status load_csv(const char *path, fieldset *s, nr_error *err) {
    char *text;
    size_t len;
    nr_status st = read_all(path, "CSV", &text, &len, err);
    if (st != NR_OK) return st;
    char **cols = malloc(MAX_COLS * sizeof *cols);
    if (!cols) {
        free(text);
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    }
    size_t ncols = 0, lineno = 0;
    for (char *line = text; st == NR_OK && line && line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        const size_t raw = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (nl) *nl = '\0';
        lineno++;
        size_t l = strlen(line);
        if (l != raw) {
            st = nr_fail(err, NR_ERR_INPUT, "%s:%zu: a NUL byte in the text", path, lineno);
            break;
        }
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        char *next = nl ? nl + 1 : NULL;
        if (l == 0) { /* blank lines (a trailing one) carry no row */
            line = next;
            continue;
        }
        size_t n = split_csv(line, cols, MAX_COLS);
        if (n > MAX_COLS) {
            st = nr_fail(err, NR_ERR_INPUT, "%s:%zu: more than %d columns", path, lineno, MAX_COLS);
            break;
        }
        if (s->n == 0) { /* first row: a header when any field is not a number */
            bool header = false;
            double x;
            for (size_t c = 0; c < n; c++) header = header || !parse_number(cols[c], &x);
            char name[64];
            for (size_t c = 0; c < n && st == NR_OK; c++) {
                snprintf(name, sizeof name, "column %zu", c + 1);
                const char *nm = header ? cols[c] : name;
                if (header && field_find(s, nm))
                    st = nr_fail(err, NR_ERR_INPUT, "%s:%zu: column '%s' appears twice", path,
                                 lineno, nm);
                else if (!field_new(s, nm, err))
                    st = NR_ERR_NOMEM;
            }
            ncols = n;
            if (header) {
                line = next;
                continue;
            }
        }
        if (st != NR_OK) break;
        if (n != ncols) {
            st = nr_fail(err, NR_ERR_INPUT, "%s:%zu: expected %zu fields, found %zu", path, lineno,
                         ncols, n);
            break;
        }
        for (size_t c = 0; c < n; c++) {
            double x;
            if (!parse_number(cols[c], &x)) {
                st = nr_fail(err, NR_ERR_INPUT, "%s:%zu: column %zu ('%s') is not a number", path,
                             lineno, c + 1, s->f[c].name);
                break;
            }
            if (!field_push(&s->f[c], x)) {
                st = nr_fail(err, NR_ERR_NOMEM, "out of memory");
                break;
            }
        }
        line = next;
    }
    if (st == NR_OK && s->n == 0) st = nr_fail(err, NR_ERR_INPUT, "%s: no rows", path);
    for (size_t c = 0; st == NR_OK && c < s->n; c++) s->f[c].rows = 1;
    free(cols);
    free(text);
    return st;
}

/* -------------------------------------------------------------- .npy -- */

static nr_status load_npy(const char *path, fieldset *s, nr_error *err) {
    char *buf;
    size_t len, off;
    nr_status st = read_all(path, "a .npy array", &buf, &len, err);
    if (st != NR_OK) return st;
    npy_info info;
    st = nr_npy_parse_array(path, (const unsigned char *)buf, len, &info, &off, err);
    if (st == NR_OK && (info.big_endian || info.fortran))
        st = nr_fail(err, NR_ERR_INPUT,
                     "%s: %s arrays are not compared (write it little-endian, "
                     "C order)",
                     path, info.big_endian ? "big-endian" : "Fortran-order");
    for (size_t c = 0; st == NR_OK && c < info.cols; c++) {
        char name[64];
        snprintf(name, sizeof name, "column %zu", c + 1);
        field *f = field_new(s, name, err);
        if (!f) {
            st = NR_ERR_NOMEM;
            break;
        }
        f->rows = 1;
        for (size_t r = 0; r < info.rows; r++) {
            double x;
            const char *p = buf + off + (r * info.cols + c) * nr_dtype_size(info.dtype);
            if (info.dtype == NR_F16) {
                uint16_t v;
                memcpy(&v, p, sizeof v);
                x = nr_half_to_float(v);
            } else if (info.dtype == NR_F32) {
                float v;
                memcpy(&v, p, sizeof v);
                x = v;
            } else {
                memcpy(&x, p, sizeof x);
            }
            if (!field_push(f, x)) {
                st = nr_fail(err, NR_ERR_NOMEM, "out of memory");
                break;
            }
        }
    }
    free(buf);
    return st;
}

/* ---------------------------------------------------------- compare -- */

static const char *kind_of(const char *path) {
    char ext[16];
    nr_path_ext(path, ext, sizeof ext);
    return !strcmp(ext, "json")  ? "json"
           : !strcmp(ext, "csv") ? "csv"
           : !strcmp(ext, "npy") ? "npy"
                                 : NULL;
}

static nr_status load(const char *path, fieldset *s, nr_error *err) {
    const char *k = kind_of(path);
    if (!k)
        return nr_fail(err, NR_ERR_INPUT, "%s: unknown kind of file (expected .json, .csv or .npy)",
                       path);
    return !strcmp(k, "json")  ? load_json(path, s, err)
           : !strcmp(k, "csv") ? load_csv(path, s, err)
                               : load_npy(path, s, err);
}

/* Timing and machine fields: they differ between two honest runs. */
static bool skipped(const char *name, const char *ignore) {
    static const char *machine[] = {
        "seconds", "epoch_seconds", "samples_per_second", "epoch_seconds_median", "threads",
        "kernel",  "data"};
    const char *last = strrchr(name, '.');
    last = last ? last + 1 : name;
    for (size_t i = 0; i < sizeof machine / sizeof machine[0]; i++)
        if (!strcmp(last, machine[i])) return true;
    for (const char *p = ignore; p && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if ((strlen(name) == n && !strncmp(name, p, n)) ||
            (strlen(last) == n && !strncmp(last, p, n)))
            return true;
        p = c ? c + 1 : NULL;
    }
    return false;
}

/* Where value i of a field is: "[i]" of an array, "row r" of a column. */
static const char *where(const field *f, size_t i, char *buf, size_t size) {
    if (f->rows)
        snprintf(buf, size, "row %zu", i + 1);
    else if (f->n > 1)
        snprintf(buf, size, "[%zu]", i);
    else
        buf[0] = '\0';
    return buf;
}

int cmd_compare(int argc, char **argv) {
    const char *files[2] = {NULL, NULL}, *ignore = NULL;
    nr_tolerance tol = {0, 0, 0};
    bool quiet = false;
    int nfiles = 0;
    cli_args a;
    cli_args_init(&a, "compare", argc, argv);
    while (cli_next(&a)) {
        bool ok = true;
        int64_t u;
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        } else if (cli_is(&a, "--rtol")) {
            ok = cli_double(&a, 0, 1e300, false, &tol.rtol);
        } else if (cli_is(&a, "--atol")) {
            ok = cli_double(&a, 0, 1e300, false, &tol.atol);
        } else if (cli_is(&a, "--ulps")) {
            ok = cli_int(&a, 0, INT64_MAX, &u);
            tol.ulps = ok ? (uint64_t)u : 0;
        } else if (cli_is(&a, "--ignore")) {
            ok = (ignore = cli_value(&a)) != NULL;
        } else if (cli_is(&a, "--quiet")) {
            quiet = true;
        } else if (a.opt[0] != '-' || !a.opt[1]) {
            if (nfiles == 2) {
                cli_error("compare: one file too many: '%s' (expected A B)", a.opt);
                return EXIT_USAGE;
            }
            files[nfiles++] = a.opt;
        } else {
            return cli_unknown(&a);
        }
        if (!ok) return EXIT_USAGE;
    }
    if (nfiles != 2) {
        cli_error("compare: two files are required: neuron compare A B (see 'neuron compare "
                  "--help')");
        return EXIT_USAGE;
    }
    const char *ka = kind_of(files[0]), *kb = kind_of(files[1]);
    nr_error err;
    fieldset fs[2] = {{0}, {0}};
    nr_status s = NR_OK;
    for (int i = 0; i < 2 && s == NR_OK; i++) s = load(files[i], &fs[i], &err);
    if (s == NR_OK && strcmp(ka, kb) != 0) {
        if (!strcmp(ka, "json") || !strcmp(kb, "json"))
            s = nr_fail(&err, NR_ERR_INPUT, "%s and %s are different kinds of file (%s, %s)",
                        files[0], files[1], ka, kb);
        /* predictions as .csv and as .npy: columns match by position */
        for (int i = 0; i < 2 && s == NR_OK; i++)
            for (size_t k = 0; k < fs[i].n && s == NR_OK; k++) {
                char name[64];
                snprintf(name, sizeof name, "column %zu", k + 1);
                free(fs[i].f[k].name);
                if (!(fs[i].f[k].name = strdup(name)))
                    s = nr_fail(&err, NR_ERR_NOMEM, "out of memory");
            }
    }
    /* every field of either file must be in the other, with the same shape */
    for (int i = 0; i < 2 && s == NR_OK; i++)
        for (size_t k = 0; k < fs[i].n && s == NR_OK; k++) {
            const field *f = &fs[i].f[k], *g = field_find(&fs[1 - i], f->name);
            if (skipped(f->name, ignore)) continue;
            if (!g)
                s = nr_fail(&err, NR_ERR_INPUT, "%s has a field '%s' that %s lacks", files[i],
                            f->name, files[1 - i]);
            else if ((f->text == NULL) != (g->text == NULL) || f->n != g->n)
                s = nr_fail(&err, NR_ERR_INPUT,
                            "field '%s' has different shapes: %zu %s in %s, %zu %s in %s", f->name,
                            f->n, f->text ? "text" : "values", files[i], g->n,
                            g->text ? "text" : "values", files[1 - i]);
        }
    if (s != NR_OK) {
        fieldset_free(&fs[0]);
        fieldset_free(&fs[1]);
        return cli_fail(s, &err);
    }
    if (!quiet)
        printf("%-24s %8s  %-22s  %-22s  %-24s %s\n", "field", "values", "max abs diff (at)",
               "max rel diff (at)", "max ulps (at)", "result");
    size_t beyond = 0;
    char skipped_names[512] = "";
    for (size_t k = 0; k < fs[0].n; k++) {
        const field *f = &fs[0].f[k], *g = field_find(&fs[1], f->name);
        if (skipped(f->name, ignore)) {
            size_t l = strlen(skipped_names);
            snprintf(skipped_names + l, sizeof skipped_names - l, "%s%s", l ? ", " : "", f->name);
            continue;
        }
        if (f->text) {
            bool same = !strcmp(f->text, g->text);
            beyond += !same;
            if (!quiet)
                printf("%-24s %8s  %-22s  %-22s  %-24s %s\n", f->name, "text", "-", "-", "-",
                       same ? "same" : "DIFFERS");
            if (!quiet && !same) printf("    '%s' vs '%s'\n", f->text, g->text);
            continue;
        }
        nr_diff d;
        nr_diff_init(&d);
        for (size_t i = 0; i < f->n; i++) nr_diff_add(&d, f->v[i], g->v[i], i, &tol);
        beyond += d.beyond > 0;
        if (quiet) continue;
        char wa[32], wr[32], wu[32], ca[48], cr[48], cu[48];
        snprintf(ca, sizeof ca, "%.3g %s", d.max_abs, where(f, d.at_abs, wa, sizeof wa));
        snprintf(cr, sizeof cr, "%.3g %s", d.max_rel, where(f, d.at_rel, wr, sizeof wr));
        if (d.max_ulps == UINT64_MAX)
            snprintf(cu, sizeof cu, "NaN/number %s", where(f, d.at_ulps, wu, sizeof wu));
        else
            snprintf(cu, sizeof cu, "%" PRIu64 " %s", d.max_ulps,
                     where(f, d.at_ulps, wu, sizeof wu));
        printf("%-24s %8zu  %-22s  %-22s  %-24s %s", f->name, f->n, f->n ? ca : "-",
               f->n ? cr : "-", f->n ? cu : "-", d.beyond ? "BEYOND" : "ok");
        if (d.beyond) {
            char wb[32];
            const size_t i = d.first_beyond;
            where(f, i, wb, sizeof wb);
            printf(" (%zu of %zu; first%s%s: %.17g vs %.17g)", d.beyond, d.n, *wb ? " at " : "", wb,
                   f->v[i], g->v[i]);
        }
        putchar('\n');
    }
    if (!quiet) {
        if (skipped_names[0]) printf("skipped (timing, machine or --ignore): %s\n", skipped_names);
        printf("tolerance: rtol %g, atol %g, ulps %" PRIu64 ": %s\n", tol.rtol, tol.atol, tol.ulps,
               beyond ? "some fields differ beyond it" : "every field within it");
    }
    fieldset_free(&fs[0]);
    fieldset_free(&fs[1]);
    return beyond ? EXIT_OTHER : EXIT_OK;
}
