/* Small helpers shared by the Criterion suites: run the `neuron` binary and
 * capture what it prints, read files, make scratch folders. */
#ifndef NR_TEST_UTIL_H
#define NR_TEST_UTIL_H

#include <stddef.h>

typedef struct {
    int status; /* exit code, or 128 + signal number */
    char *out;  /* captured stdout, NUL-terminated */
    size_t out_len;
    char *err; /* captured stderr, NUL-terminated */
    size_t err_len;
} run_result;

/* Run $NEURON_BIN with the NULL-terminated argv (argv[0] excluded). */
void run_neuron(run_result *r, const char *const *args);
void run_free(run_result *r);

/* Start $NEURON_BIN with `args` (argv[0] excluded) in the background,
 * stdin from /dev/null, stdout and stderr into the named files; returns the
 * pid (the test fails if it cannot start). */
int start_neuron(const char *const *args, const char *out_path, const char *err_path);

/* Wait up to `timeout` seconds for `pid`: its exit code, or 128 + signal
 * number; on timeout it is killed (SIGKILL) and -1 is returned. */
int wait_neuron(int pid, double timeout);

/* Number of entries of a folder other than . and .., and their names
 * (comma-separated, truncated) into `names` for messages. */
size_t dir_entries(const char *dir, char *names, size_t size);

/* Run any program (argv[0] is looked up in PATH); returns like run_neuron. */
void run_program(run_result *r, const char *const *argv);

/* Whole file, NUL-terminated; NULL if it cannot be read. */
char *read_file(const char *path, size_t *len);

/* Absolute path of a file under the source tree (static buffer per call site
 * is not needed: the result is malloc'd). */
char *source_path(const char *rel);

/* A fresh empty folder under $TMPDIR (malloc'd path). */
char *scratch_dir(void);

/* Number of lines in `s` that are not empty. */
size_t count_lines(const char *s);

/* Path of the project's Python transcription of the tutorial
 * (bench/peers/tutorial.py), if it exists and python3 runs; else NULL. */
const char *transcription_path(void);

#endif
