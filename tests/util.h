/* Small helpers shared by the Criterion suites: run the `neuron` binary and
 * capture what it prints, read files, make scratch folders. */
#ifndef NR_TEST_UTIL_H
#define NR_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "neuron.h"

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

/* ------------------------------------------- in-process training set-up -- */

/* rows x (d + 1) doubles of nr_gen_fill: y = w.x + b + noise, x drawn
 * from `dist` (malloc'd). */
double *gen_f64(size_t rows, size_t d, nr_dist dist, uint64_t seed, double noise);

/* The n values rounded to float (malloc'd). */
float *to_f32(const double *v, size_t n);

/* nr_model_init and nr_train, asserting both succeed. */
void train_ok(const nr_data *d, const nr_train_opts *o, nr_model *m, nr_train_result *r);

/* Train `d` with `o` once per thread count in threads[0..n) and assert
 * every run ends with the bits of the first: weights, bias, epochs run and
 * every epoch's training loss, and its validation loss when there is one.
 * The first run's model goes to *ref (the caller frees it), or is freed
 * when ref is NULL; `what` names the case in messages. */
void same_bits_for_threads(const nr_data *d, nr_train_opts o, const int *threads, size_t n,
                           nr_model *ref, const char *what);

#endif
