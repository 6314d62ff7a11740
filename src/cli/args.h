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
    __attribute__((format(printf, 1, 2)))
#endif
    ;

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

/* On SIGINT/SIGTERM/SIGHUP: remove the library's temporary files (no
 * partial output is left behind) and exit with 128 + signal. */
void cli_cleanup_on_signals(void);

/* Monotonic wall-clock seconds, for timings and progress. */
double cli_seconds(void);

/* Median of n values (v is not modified); NaN when n is 0 or memory is short. */
double cli_median(const double *v, size_t n);

/* Parse "a,b,c" into at most `max` doubles; returns the count, or -1 with
 * a message naming the option on a bad element. */
long cli_double_list(cli_args *a, double *out, size_t max);
