/* neuron-mpi: `neuron train` over MPI processes (SPEC section 9).
 *
 *     mpirun -np K neuron-mpi train --data 'part-*.npy' [train's options]
 *
 * The rows of one .npy file, or of shards taken in name order, are cut into
 * K contiguous shares on 4096-row block boundaries of the global row index;
 * each process maps (one file) or reads (a share across shards) only its
 * share, plus the rows of a block that straddles into the next share. The
 * library computes each block where its rows are, gathers every block's
 * partial sums and adds them in block order (src/partition.c), so the
 * weights are the bits of `neuron train` on the same rows for any K and
 * any --threads. Rank 0 writes the outputs and shows progress; the other
 * ranks' stdout and stderr go to /dev/null, except for a failure of their
 * own while loading, which every rank learns of before anyone trains. */
#include <fcntl.h>
#include <limits.h>
#include <glob.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io.h"

enum { BLOCK = 4096 }; /* the library's block: shares start on its multiples */

static int rank, nranks;
static int err_fd = STDERR_FILENO; /* this rank's real stderr */

/* --------------------------------------------------------- transport -- */

static int gather(void *ctx, double *all, const int *counts, const int *displs) {
    (void)ctx;
    return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts, displs, MPI_DOUBLE,
                          MPI_COMM_WORLD) != MPI_SUCCESS;
}

static int agree_stop(int mine) {
    int any = mine;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

/* Every rank's loading outcome: if any failed, the lowest failing rank
 * prints its one line and every rank exits with its code. */
static void agree_or_exit(nr_status s, const char *msg) {
    int mine = s != NR_OK ? rank : nranks, first = nranks;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == nranks) return;
    int code = cli_exit_code(s);
    MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
    if (rank == first) dprintf(err_fd, "neuron: error: %s\n", msg);
    MPI_Finalize();
    exit(code);
}

/* ------------------------------------------------------------ shares -- */

typedef struct {
    char *path;
    size_t rows, off; /* data rows, and the byte offset of the first */
} shard;

static struct {
    shard *shards;
    size_t nshards, features, rows;
    nr_dtype dtype;
    size_t bounds_n;
    size_t *bounds;
    void *map; /* the mapped share (one file), or NULL */
    size_t map_len;
    void *owned; /* the share read from several shards, or NULL */
    nr_data view;
    nr_partition part;
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
                        "%s: neuron-mpi reads .npy files (a CSV file cannot be cut into shares "
                        "without reading all of it)",
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
                        "%s: neuron-mpi reads little-endian C-order arrays in place (this one "
                        "is %s)",
                        path, info.big_endian ? "big-endian" : "in Fortran order");
        else if (info.cols < 2)
            s = nr_fail(err, NR_ERR_INPUT, "%s: %zu column: no feature besides the target", path,
                        info.cols);
        else if (i > 0 && (info.cols != g.features + 1 || info.dtype != g.dtype))
            s = nr_fail(err, NR_ERR_INPUT,
                        "%s: %zu columns of %s, but %s has %zu of %s: shards must agree", path,
                        info.cols, info.dtype == NR_F32 ? "f32" : "f64", g.shards[0].path,
                        g.features + 1, g.dtype == NR_F32 ? "f32" : "f64");
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

static const nr_data *load(const char *pattern, const nr_load_opts *lo, nr_train_opts *o) {
    nr_error err = {0};
    nr_status s = read_headers(pattern, &err);
    if (s == NR_OK && lo->convert && lo->dtype != g.dtype)
        s = nr_fail(&err, NR_ERR_ARG,
                    "train --dtype: neuron-mpi trains on the files' own dtype (%s), in place",
                    g.dtype == NR_F32 ? "f32" : "f64");
    if (s == NR_OK && !(g.bounds = malloc(((size_t)nranks + 1) * sizeof *g.bounds)))
        s = nr_fail(&err, NR_ERR_NOMEM, "out of memory");
    if (s == NR_OK) {
        /* equal shares of whole blocks (the last block may be short) */
        const size_t nb = (g.rows + BLOCK - 1) / BLOCK;
        for (int k = 0; k <= nranks; k++) {
            size_t r = (size_t)((unsigned __int128)nb * (unsigned)k / (unsigned)nranks) * BLOCK;
            g.bounds[k] = r < g.rows ? r : g.rows;
        }
        const size_t a = g.bounds[rank], own = g.bounds[rank + 1];
        /* a pass whose blocks do not start on a multiple of BLOCK (the
         * held-out rows, a mini-batch) has a block that straddles into the
         * next share: hold its rows too */
        size_t e = own == a ? a : own + BLOCK - 1;
        if (e > g.rows) e = g.rows;
        s = hold_rows(a, e, own, &err);
    }
    agree_or_exit(s, err.msg);
    g.part = (nr_partition){.parts = nranks, .part = rank, .bounds = g.bounds, .gather = gather};
    o->partition = &g.part;
    return &g.view;
}

static void release(void) {
    if (g.map) munmap(g.map, g.map_len);
    free(g.owned);
    free(g.bounds);
    for (size_t i = 0; i < g.nshards; i++) free(g.shards[i].path);
    free(g.shards);
}

/* -------------------------------------------------------- bench-comm -- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What combining one pass costs on this communicator: the gather of every
 * block's f + 2 partial sums that gives the same bits for any rank count,
 * against the plain allreduce of f + 2 sums that does not. Medians over
 * `repeat` rounds, each timed on rank 0 between barriers. */
static int bench_comm(int argc, char **argv) {
    int64_t rows = 10000000, features = 1, repeat = 200;
    cli_args a;
    cli_args_init(&a, "bench-comm", argc, argv);
    while (cli_next(&a)) {
        bool ok = true;
        if (cli_is(&a, "--rows"))
            ok = cli_int(&a, 1, INT64_MAX / 2, &rows);
        else if (cli_is(&a, "--features"))
            ok = cli_int(&a, 1, 4096, &features);
        else if (cli_is(&a, "--repeat"))
            ok = cli_int(&a, 1, 1000000, &repeat);
        else
            return cli_unknown(&a);
        if (!ok) return EXIT_USAGE;
    }
    const size_t dd = (size_t)features + 2, nb = ((size_t)rows + BLOCK - 1) / BLOCK;
    if (nb > (size_t)INT_MAX / dd) {
        cli_error("bench-comm: %zu blocks of %zu sums do not fit one gather", nb, dd);
        return EXIT_USAGE;
    }
    int *counts = malloc(2 * (size_t)nranks * sizeof *counts);
    double *all = calloc(nb * dd, sizeof *all), *sums = calloc(dd, sizeof *sums);
    double *tg = malloc((size_t)repeat * sizeof *tg), *ta = malloc((size_t)repeat * sizeof *ta);
    if (!counts || !all || !sums || !tg || !ta) {
        cli_error("bench-comm: out of memory");
        return EXIT_OTHER;
    }
    for (int k = 0; k < nranks; k++) {
        /* the shares neuron-mpi train cuts: whole blocks, as equal as may be */
        size_t b0 = nb * (size_t)k / (size_t)nranks, b1 = nb * (size_t)(k + 1) / (size_t)nranks;
        counts[k] = (int)((b1 - b0) * dd), counts[nranks + k] = (int)(b0 * dd);
    }
    for (int64_t r = 0; r < repeat; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts, counts + nranks, MPI_DOUBLE,
                       MPI_COMM_WORLD);
        tg[r] = MPI_Wtime() - t;
        MPI_Barrier(MPI_COMM_WORLD);
        t = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, sums, (int)dd, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        ta[r] = MPI_Wtime() - t;
    }
    qsort(tg, (size_t)repeat, sizeof *tg, cmp_double);
    qsort(ta, (size_t)repeat, sizeof *ta, cmp_double);
    if (rank == 0)
        printf("{\"ranks\": %d, \"rows\": %lld, \"features\": %lld, \"blocks\": %zu, "
               "\"repeat\": %lld,\n \"gather_bytes\": %zu, \"gather_seconds_median\": %.3e, "
               "\"gather_seconds_p10\": %.3e, \"gather_seconds_p90\": %.3e,\n "
               "\"allreduce_bytes\": %zu, \"allreduce_seconds_median\": %.3e, "
               "\"allreduce_seconds_p10\": %.3e, \"allreduce_seconds_p90\": %.3e}\n",
               nranks, (long long)rows, (long long)features, nb, (long long)repeat,
               nb * dd * sizeof(double), tg[repeat / 2], tg[repeat / 10], tg[repeat * 9 / 10],
               dd * sizeof(double), ta[repeat / 2], ta[repeat / 10], ta[repeat * 9 / 10]);
    free(counts), free(all), free(sums), free(tg), free(ta);
    return EXIT_OK;
}

/* -------------------------------------------------------------- main -- */

static void usage(FILE *f) {
    fprintf(f, "usage: mpirun -np K neuron-mpi train --data FILE.npy|'PATTERN' [train's options]\n"
               "       mpirun -np K neuron-mpi bench-comm [--rows N] [--features F] [--repeat R]\n"
               "       neuron-mpi train --help | neuron-mpi --version\n\n"
               "Data-parallel `neuron train`: the rows of one .npy file, or of the files matching\n"
               "PATTERN in name order, are shared between the K processes; the weights are the\n"
               "bits of `neuron train` on the same rows, for any K and --threads. batch,\n"
               "minibatch (--shuffle batches|none), ols and batch --exact, identity activation.\n"
               "Rank 0 writes --model, --report and --history. bench-comm times what combining\n"
               "one pass costs: the gather of every block's sums against a plain allreduce.\n");
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("neuron-mpi %s\n", NR_VERSION_STRING);
        return EXIT_OK;
    }
    const bool bench = argc >= 2 && !strcmp(argv[1], "bench-comm");
    if (argc < 2 || (strcmp(argv[1], "train") != 0 && !bench)) {
        bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        usage(help ? stdout : stderr);
        if (!help) cli_error("neuron-mpi runs 'train' or 'bench-comm'");
        return help ? EXIT_OK : EXIT_USAGE;
    }
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (rank != 0) {
        /* one voice: the other ranks compute the same messages and results */
        err_fd = dup(STDERR_FILENO);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            close(null);
        }
    }
    if (bench) {
        int rc = bench_comm(argc - 2, argv + 2);
        MPI_Finalize();
        return rc;
    }
    const cli_train_hooks hooks = {.load = load, .root = rank == 0, .agree_stop = agree_stop};
    cli_train_hook = &hooks;
    int rc = cmd_train(argc - 2, argv + 2);
    release();
    MPI_Finalize();
    return rc;
}
