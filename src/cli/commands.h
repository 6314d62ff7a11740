/* Every `neuron` subcommand: argv holds the arguments after the command name.
 * Each returns the process exit code. */
#ifndef NR_CLI_COMMANDS_H
#define NR_CLI_COMMANDS_H

int cmd_tutorial(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#include "cli/args.h"
/* If the current option is a data-loading one (--target, --delimiter,
 * --header, --no-header, --dtype), apply it to `lo`, set *ok, return true. */
bool cli_load_option(cli_args *a, nr_load_opts *lo, bool *ok);

/* `text` and a newline into a prepared output (cli_outputs_add), committed
 * later with the command's other outputs. */
nr_status cli_write_text(nr_atomic *a, const char *text, nr_error *err);

/* How `train` gets its rows and who speaks, when neuron-mpi runs it
 * (src/mpi/neuron_mpi.c); NULL in neuron. */
typedef struct {
    /* This process's share of the rows, with o->partition set (the view
     * counts every row); on failure it reports and exits itself, once for
     * all processes. */
    const nr_data *(*load)(const char *path, const nr_load_opts *lo, nr_train_opts *o, bool stream);
    /* Whether this process writes the output files. */
    bool root;
    /* Every process's agreement to stop after this epoch: non-zero if any
     * asks to (an interrupt reaches the processes at different epochs). */
    int (*agree_stop)(int mine);
} cli_train_hooks;
extern const cli_train_hooks *cli_train_hook;

/* The rows of one .npy file or of shards matching `pattern` (name order),
 * as process `part` of `parts` holds them (src/cli/shares.c): its share
 * mapped or read, or with `stream` read on demand through pt->read. Sets
 * *d (every row counted, this share's values) and pt (the caller sets its
 * gather); cli_shares_close releases them. */
nr_status cli_shares_open(const char *pattern, const nr_load_opts *lo, int part, int parts,
                          bool stream, nr_partition *pt, const nr_data **d, nr_error *err);
void cli_shares_close(void);
/* A library message naming a row of the rows cli_shares_open holds
 * ("row N: ...", N counted over every shard): with several shards, the
 * same message naming the shard and its row too, in buf; else msg. */
const char *cli_shares_name_row(const char *msg, char *buf, size_t len);
/* A library message saying that rows could not be read ("reading rows A
 * to B failed", maybe relayed as "process K: ..."): the message naming
 * the file (shard), its rows and what is wrong with it now, in buf; NULL
 * for any other message. */
const char *cli_shares_name_read(const char *msg, char *buf, size_t len);

#endif
