/* neuron-mpi: `neuron train` over MPI processes.
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
 * any --threads (default: the node's cores shared between its ranks).
 * Rank 0 writes the outputs and shows progress; the other
 * ranks' stdout and stderr go to /dev/null, except for a failure of their
 * own while loading, which every rank learns of before anyone trains. */
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static nr_partition part;

static const nr_data *load(const char *pattern, const nr_load_opts *lo, nr_train_opts *o,
                           bool stream) {
    nr_error err = {0};
    const nr_data *d = NULL;
    nr_status s = cli_shares_open(pattern, lo, rank, nranks, stream, &part, &d, &err);
    agree_or_exit(s, err.msg);
    part.gather = gather;
    o->partition = &part;
    return d;
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
               "bits of `neuron train` on the same rows, for any K and --threads: batch,\n"
               "minibatch (--shuffle batches|none), ols, newton and batch --exact, every\n"
               "activation and loss, --standardize; not sgd (sequential by definition).\n"
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
    /* ranks on one node share its cores: without OMP_NUM_THREADS (or
     * --threads), each takes its part of them instead of all, which would
     * put several spinning OpenMP teams on every core */
    if (!getenv("OMP_NUM_THREADS")) {
        MPI_Comm node;
        int local = 1;
        if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
            MPI_SUCCESS) {
            MPI_Comm_size(node, &local);
            MPI_Comm_free(&node);
        }
        const int share = omp_get_num_procs() / local;
        omp_set_num_threads(share > 1 ? share : 1);
    }
    const cli_train_hooks hooks = {.load = load, .root = rank == 0, .agree_stop = agree_stop};
    cli_train_hook = &hooks;
    int rc = cmd_train(argc - 2, argv + 2);
    cli_shares_close();
    MPI_Finalize();
    return rc;
}
