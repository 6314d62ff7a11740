/* The rows of one .npy file, or of shards matching a pattern in name
 * order, as one of `parts` processes holds them: the n rows
 * are cut into contiguous shares on multiples of 4096 of the global row
 * index; a process maps its share (one file) or reads it (a share spanning
 * shards), plus the rows of a block that straddles into the next share;
 * with `stream` it holds none and reads rows on demand (nr_partition.read).
 * Used by neuron-mpi and by `neuron train --stream`. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "io.h"

enum { BLOCK = 4096 }; /* the library's block: shares start on its multiples */

typedef struct {
    char *path;
    size_t rows, off; /* data rows, and the byte offset of the first */
} shard;

static struct {
    shard *shards;
    size_t nshards, features, rows;
    nr_dtype dtype;
    size_t *bounds;
    int *fds;  /* stream: every shard, open */
    void *map; /* the mapped share (one file), or NULL */
    size_t map_len;
    void *owned; /* the share read from several shards, or NULL */
    nr_data view;
} g;

/* The shape of every shard, from its header. */
static nr_status read_headers(const char *pattern, nr_error *err) {
    glob_t gl;
    /* GLOB_NOCHECK: a name that matches nothing is kept, and fails to open
     * with the usual message */
    if (glob(pattern, GLOB_NOCHECK, NULL, &gl) != 0)
        return nr_fail(err, NR_ERR_INPUT, "%s: cannot list the files", pattern);
    g.nshards = gl.gl_pathc;
    g.shards = calloc(g.nshards, sizeof *g.shards);
    nr_status s = g.shards ? NR_OK : nr_fail(err, NR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; s == NR_OK && i < g.nshards; i++) {
        shard *sh = &g.shards[i];
        const char *path = gl.gl_pathv[i];
        char ext[16];
        if (strcmp(nr_path_ext(path, ext, sizeof ext), "npy") != 0) {
            s = nr_fail(err, NR_ERR_INPUT,
                        "%s: shared or streamed rows come from .npy files (a CSV file cannot be "
                        "cut into shares without reading all of it)",
                        path);
            break;
        }
        if (!(sh->path = strdup(path))) {
            s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
            break;
        }
        int fd;
        size_t size;
        if ((s = nr_open_input(path, ".npy data", &fd, &size, err)) != NR_OK) break;
        /* mapped only to parse the header: the data pages are not touched */
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (m == MAP_FAILED) {
            s = nr_fail(err, NR_ERR_INPUT, "%s: cannot map the file", path);
            break;
        }
        npy_info info;
        s = nr_npy_parse(path, m, size, &info, &sh->off, err);
        munmap(m, size);
        if (s != NR_OK) break;
        if (info.big_endian || info.fortran)
            s = nr_fail(err, NR_ERR_INPUT,
                        "%s: shared or streamed rows come from little-endian C-order arrays "
                        "(this one is %s)",
                        path, info.big_endian ? "big-endian" : "in Fortran order");
        else if (info.dtype == NR_F16)
            s = nr_fail(err, NR_ERR_INPUT,
                        "%s: f16 rows are not shared between processes or streamed (convert the "
                        "file with --dtype f32, or train it without --stream)",
                        path);
        else if (info.cols < 2)
            s = nr_fail(err, NR_ERR_INPUT, "%s: %zu column: no feature besides the target", path,
                        info.cols);
        else if (i > 0 && (info.cols != g.features + 1 || info.dtype != g.dtype))
            s = nr_fail(err, NR_ERR_INPUT,
                        "%s: %zu columns of %s, but %s has %zu of %s: shards must agree", path,
                        info.cols, nr_dtype_name(info.dtype), g.shards[0].path, g.features + 1,
                        nr_dtype_name(g.dtype));
        g.features = info.cols - 1, g.dtype = info.dtype;
        sh->rows = info.rows;
        g.rows += info.rows;
    }
    globfree(&gl);
    if (s == NR_OK && g.rows == 0) s = nr_fail(err, NR_ERR_INPUT, "%s: no data rows", pattern);
    return s;
}

/* The first bad value of rows [a, e) of shard sh (held at v), named by
 * its row in the file. */
static nr_status check_finite(const shard *sh, const void *v, size_t a, size_t e, nr_error *err) {
    const size_t cols = g.features + 1;
    nr_data piece = {.rows = e - a, .features = g.features, .dtype = g.dtype, .values = v};
    if (nr_data_check_finite(&piece, sh->path, err) == NR_OK) return NR_OK;
    for (size_t i = 0; i < (e - a) * cols; i++) {
        double x = g.dtype == NR_F32 ? (double)((const float *)v)[i] : ((const double *)v)[i];
        if (!isfinite(x))
            return nr_fail(err, NR_ERR_INPUT,
                           "%s: row %zu, column %zu: value is %s (expected a finite number)",
                           sh->path, a + i / cols + 1, i % cols + 1,
                           isnan(x) ? "NaN" : (x < 0 ? "-Inf" : "Inf"));
    }
    return NR_ERR_INPUT;
}

/* Rows [a, e) into memory: mapped in place from one shard, or read from
 * the shards they span. Only this rank's own rows [a, own) are checked for
 * finiteness (the others belong to the next rank, which checks them). */
static nr_status hold_rows(size_t a, size_t e, size_t own, nr_error *err) {
    static const double none[1];
    const size_t rowb = (g.features + 1) * nr_dtype_size(g.dtype);
    g.view = (nr_data){.rows = g.rows, .features = g.features, .dtype = g.dtype, .values = none};
    if (e == a) return NR_OK;
    size_t first = 0, start = 0; /* the shard holding row a, and its first global row */
    while (start + g.shards[first].rows <= a) start += g.shards[first++].rows;
    const bool one = e <= start + g.shards[first].rows;
    if (!one && !(g.owned = malloc((e - a) * rowb)))
        return nr_fail(err, NR_ERR_NOMEM, "out of memory for %zu rows", e - a);
    size_t at = a;
    for (size_t i = first; at < e; start += g.shards[i].rows, i++) {
        const shard *sh = &g.shards[i];
        const size_t lo = at - start, hi = e - start < sh->rows ? e - start : sh->rows;
        int fd = open(sh->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return nr_fail(err, NR_ERR_INPUT, "%s: cannot open: %m", sh->path);
        const size_t off = sh->off + lo * rowb, len = (hi - lo) * rowb;
        const void *v;
        if (one) {
            const size_t page = (size_t)sysconf(_SC_PAGESIZE), skip = off % page;
            g.map_len = len + skip;
            g.map = mmap(NULL, g.map_len, PROT_READ, MAP_SHARED, fd, (off_t)(off - skip));
            close(fd);
            if (g.map == MAP_FAILED) {
                g.map = NULL;
                return nr_fail(err, NR_ERR_INPUT, "%s: cannot map rows %zu to %zu", sh->path,
                               lo + 1, hi);
            }
            v = (const char *)g.map + skip;
        } else {
            char *dst = (char *)g.owned + (at - a) * rowb;
            size_t got = 0;
            while (got < len) {
                ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
                if (r <= 0) break;
                got += (size_t)r;
            }
            close(fd);
            if (got < len)
                return nr_fail(err, NR_ERR_INPUT, "%s: cannot read rows %zu to %zu", sh->path,
                               lo + 1, hi);
            v = dst;
        }
        if (at < own) {
            const size_t ce = own - start < hi ? own - start : hi;
            nr_status s = check_finite(sh, v, lo, ce, err);
            if (s != NR_OK) return s;
        }
        at = start + hi;
    }
    g.view.values = g.map ? (const char *)g.map + (g.map_len - (e - a) * rowb) : g.owned;
    return NR_OK;
}

/* stream: rows [row, row + rows) from the shards they span. Called from
 * every thread of a pass at once: pread keeps no file position to share. */
static int read_rows(void *ctx, size_t row, size_t rows, void *buf) {
    (void)ctx;
    const size_t rowb = (g.features + 1) * nr_dtype_size(g.dtype);
    size_t i = 0, start = 0;
    while (i < g.nshards && start + g.shards[i].rows <= row) start += g.shards[i++].rows;
    char *dst = buf;
    while (rows > 0 && i < g.nshards) {
        const size_t lo = row - start,
                     n = g.shards[i].rows - lo < rows ? g.shards[i].rows - lo : rows;
        const size_t len = n * rowb, off = g.shards[i].off + lo * rowb;
        for (size_t got = 0; got < len;) {
            ssize_t r = pread(g.fds[i], dst + got, len - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR) continue; /* a signal (SIGINT ends the epoch) */
            if (r <= 0) return -1;
            got += (size_t)r;
        }
        dst += len, row += n, rows -= n;
        start += g.shards[i++].rows;
    }
    return rows == 0 ? 0 : -1;
}

/* stream: open every shard, and check this process's rows [a, own) for
 * non-finite values chunk by chunk (one read of the share). */
static nr_status stream_rows(size_t a, size_t own, nr_error *err) {
    static const double none[1];
    g.view = (nr_data){.rows = g.rows, .features = g.features, .dtype = g.dtype, .values = none};
    if (!(g.fds = malloc(g.nshards * sizeof *g.fds)))
        return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < g.nshards; i++) g.fds[i] = -1;
    for (size_t i = 0; i < g.nshards; i++) {
        if ((g.fds[i] = open(g.shards[i].path, O_RDONLY | O_CLOEXEC)) < 0)
            return nr_fail(err, NR_ERR_INPUT, "%s: cannot open: %m", g.shards[i].path);
        /* every pass reads it front to back: a wider readahead when not cached */
        posix_fadvise(g.fds[i], 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    const size_t rowb = (g.features + 1) * nr_dtype_size(g.dtype);
    size_t chunk = ((size_t)8 << 20) / rowb;
    if (chunk < 1) chunk = 1;
    void *buf = malloc((own - a < chunk ? own - a : chunk) * rowb + 1);
    if (!buf) return nr_fail(err, NR_ERR_NOMEM, "out of memory");
    nr_status s = NR_OK;
    size_t i = 0, start = 0;
    for (size_t r = a; s == NR_OK && r < own;) {
        while (start + g.shards[i].rows <= r) start += g.shards[i++].rows;
        /* a chunk within one shard, so that a bad value is named by its file */
        size_t n = own - r < chunk ? own - r : chunk;
        if (n > start + g.shards[i].rows - r) n = start + g.shards[i].rows - r;
        if (read_rows(NULL, r, n, buf) != 0)
            s = nr_fail(err, NR_ERR_INPUT, "%s: cannot read rows %zu to %zu", g.shards[i].path,
                        r - start + 1, r - start + n);
        else
            s = check_finite(&g.shards[i], buf, r - start, r - start + n, err);
        r += n;
    }
    free(buf);
    return s;
}

nr_status cli_shares_open(const char *pattern, const nr_load_opts *lo, int part, int parts,
                          bool stream, nr_partition *pt, const nr_data **d, nr_error *err) {
    nr_status s = read_headers(pattern, err);
    if (s == NR_OK && lo->convert && lo->dtype != g.dtype)
        s = nr_fail(err, NR_ERR_ARG,
                    "train --dtype: shared or streamed rows are trained in the files' own dtype "
                    "(%s)",
                    nr_dtype_name(g.dtype));
    if (s == NR_OK && !(g.bounds = malloc(((size_t)parts + 1) * sizeof *g.bounds)))
        s = nr_fail(err, NR_ERR_NOMEM, "out of memory");
    if (s != NR_OK) return s;
    /* equal shares of whole blocks (the last block may be short) */
    const size_t nb = (g.rows + BLOCK - 1) / BLOCK;
    for (int k = 0; k <= parts; k++) {
        size_t r = (size_t)((unsigned __int128)nb * (unsigned)k / (unsigned)parts) * BLOCK;
        g.bounds[k] = r < g.rows ? r : g.rows;
    }
    const size_t a = g.bounds[part], own = g.bounds[part + 1];
    if (stream) {
        s = stream_rows(a, own, err);
    } else {
        /* a pass whose blocks do not start on a multiple of BLOCK (the
         * held-out rows, a mini-batch) has a block that straddles into the
         * next share: hold its rows too */
        size_t e = own == a ? a : own + BLOCK - 1;
        if (e > g.rows) e = g.rows;
        s = hold_rows(a, e, own, err);
    }
    *pt = (nr_partition){.parts = parts, .part = part, .bounds = g.bounds};
    if (stream) pt->read = read_rows;
    *d = &g.view;
    return s;
}

const char *cli_shares_name_row(const char *msg, char *buf, size_t len) {
    unsigned long long row;
    int at = 0;
    if (g.nshards < 2 || sscanf(msg, "row %llu:%n", &row, &at) != 1 || at == 0 || row == 0 ||
        row > g.rows)
        return msg;
    size_t i = 0, start = 0;
    while (start + g.shards[i].rows < row) start += g.shards[i++].rows;
    snprintf(buf, len, "row %llu (%s, its row %llu):%s", row, g.shards[i].path,
             row - (unsigned long long)start, msg + at);
    return buf;
}

const char *cli_shares_name_read(const char *msg, char *buf, size_t len) {
    unsigned long long a, e;
    int proc, at = 0;
    /* the library's words, from this process or relayed from another */
    if (sscanf(msg, "process %d: %n", &proc, &at) == 1) msg += at;
    if (sscanf(msg, "reading rows %llu to %llu failed", &a, &e) != 2 || a == 0 || e < a ||
        e > g.rows || !g.nshards)
        return NULL;
    size_t i = 0, start = 0;
    while (start + g.shards[i].rows < a) start += g.shards[i++].rows;
    const shard *sh = &g.shards[i];
    if (e > start + sh->rows) e = start + sh->rows; /* the first shard it spans */
    /* the likely cause, seen now: a file cut shorter than its header says */
    const size_t want = sh->off + sh->rows * (g.features + 1) * nr_dtype_size(g.dtype);
    char why[128] = "";
    struct stat st;
    if (stat(sh->path, &st) != 0)
        snprintf(why, sizeof why, ": the file is gone (%s)", strerror(errno));
    else if ((size_t)st.st_size < want)
        snprintf(why, sizeof why, ": the file is now %lld bytes, its header says %zu",
                 (long long)st.st_size, want);
    if (g.nshards == 1)
        snprintf(buf, len, "%s: cannot read rows %llu to %llu while training%s", sh->path, a, e,
                 why);
    else
        snprintf(buf, len,
                 "%s: cannot read its rows %llu to %llu (rows %llu to %llu of the data) while "
                 "training%s",
                 sh->path, a - start, e - start, a, e, why);
    return buf;
}

void cli_shares_close(void) {
    if (g.map) munmap(g.map, g.map_len);
    free(g.owned);
    free(g.bounds);
    for (size_t i = 0; g.fds && i < g.nshards; i++)
        if (g.fds[i] >= 0) close(g.fds[i]);
    free(g.fds);
    for (size_t i = 0; i < g.nshards; i++) free(g.shards[i].path);
    free(g.shards);
    memset(&g, 0, sizeof g);
}
