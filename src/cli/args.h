/* Command-line plumbing shared by every `neuron` subcommand: option parsing
 * with range checks, error reporting, and the mapping from status to exit
 * code. Plain C, no global state beyond the program name. */
#ifndef NR_CLI_ARGS_H
#define NR_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "neuron.h"

/* Exit codes (doc/cli.md): 130 is the interrupted run of a Ctrl-C. */
enum { EXIT_OK = 0, EXIT_OTHER = 1, EXIT_USAGE = 2, EXIT_INPUT = 3, EXIT_NUMERIC = 4 };

/* Print "neuron: error: <msg>" on stderr, one line. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)));

/* Exit code for a library status (doc/cli.md). */
int cli_exit_code(nr_status s);

/* Report a failed library call (its message) and return its exit code. */
int cli_fail(nr_status s, const nr_error *err);

/* A cursor over argv for long options: `--name value` or `--name=value`. */
typedef struct {
    int argc;
    char **argv;
    int i;             /* index of the next unread argument */
    const char *cmd;   /* subcommand name, for messages */
    const char *opt;   /* current option (without value) */
    const char *value; /* value attached with '=', or NULL */
    char optbuf[64];
} cli_args;

void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv);

/* Advance to the next option. Returns false at the end. A positional
 * argument or anything not starting with "--" is reported as a usage error
 * by returning true with opt set to it; callers treat unknown names alike. */
bool cli_next(cli_args *a);

/* True if the current option is `name` (e.g. "--epochs"). */
bool cli_is(const cli_args *a, const char *name);

/* The current option's value; on a missing value prints the error and
 * returns NULL. */
const char *cli_value(cli_args *a);

/* Parse the current option's value, checking it lies in [lo, hi]. On error
 * print a message naming the option and the valid range and return false. */
bool cli_int(cli_args *a, int64_t lo, int64_t hi, int64_t *out);
bool cli_u64(cli_args *a, uint64_t *out);
bool cli_double(cli_args *a, double lo, double hi, bool lo_open, double *out);
/* One of a list of words ("a|b|c"); *out is the index. */
bool cli_choice(cli_args *a, const char *choices, int *out);

/* Print the "unknown option" usage error for the current option. */
int cli_unknown(const cli_args *a);

/* Whole-string conversions used by the above, exposed for lists such as
 * --weights 1,2,3. They reject empty text, trailing garbage, and (for
 * doubles) NaN and overflow to infinity. */
bool cli_parse_int(const char *s, int64_t *out);
bool cli_parse_double(const char *s, double *out);

#endif

/* Installed once by main, for every command: SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT and SIGPIPE (unless the parent ignores it) remove the library's
 * temporary files and end the process by the same signal; SIGXFSZ is
 * ignored, so that a write past `ulimit -f` fails and is reported; SIGBUS in
 * a mapped input (it shrank) is reported as bad input, exit 3. */
void cli_cleanup_on_signals(void);

/* fflush stdout and check it: EXIT_OK, or EXIT_OTHER with the error line. */
int cli_check_stdout(void);

/* Every output of a command, prepared (temporary file created, refusals
 * made) before any work, and committed together at the end: all or none.
 * Refused (exit 2, the message names both): an output that is the same file
 * as an input or as another output; through nr_atomic_create, a directory,
 * device, FIFO, socket or dangling symbolic link (a link to a file is
 * followed). */
#include "io.h"
#include <sys/types.h>
enum { CLI_MAX_FILES = 8 };
typedef struct {
    const char *option;
    nr_atomic a;
    bool exists;
    dev_t dev;
    ino_t ino;
    char resolved[PATH_MAX];
} cli_output;
typedef struct {
    const char *cmd;
    cli_output out[CLI_MAX_FILES];
    int n;
    struct {
        const char *option, *path;
        dev_t dev;
        ino_t ino;
    } in[CLI_MAX_FILES];
    int nin;
} cli_outputs;

void cli_outputs_init(cli_outputs *o, const char *cmd);
/* Record an input (its device and inode), before any output is added. */
void cli_outputs_input(cli_outputs *o, const char *option, const char *path);
/* Check and prepare an output; NULL after printing the error, *rc its exit
 * code (the caller then aborts the others). */
nr_atomic *cli_outputs_add(cli_outputs *o, const char *option, const char *path, int *rc);
/* fsync and close every output, then rename them all; on failure remove
 * what is left, print the error and return its exit code. */
int cli_outputs_commit(cli_outputs *o);
void cli_outputs_abort(cli_outputs *o);

/* Monotonic wall-clock seconds, for timings and progress. */
double cli_seconds(void);

/* Median of n values (v is not modified); NaN when n is 0 or memory is short. */
double cli_median(const double *v, size_t n);

/* Parse "a,b,c" into at most `max` doubles; returns the count, or -1 with
 * a message naming the option on a bad element. */
long cli_double_list(cli_args *a, double *out, size_t max);

#endif
