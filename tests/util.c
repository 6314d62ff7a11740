#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Criterion's summary line counts no skipped test, so a skip would pass
 * unnoticed: name each one on a line of its own just before that summary
 * (report hooks run before the summary is printed). */
static bool skipped_itself(const struct criterion_test_stats *t) {
    /* tests left out by --filter are marked disabled and count as skipped */
    return t->test_status == CR_STATUS_SKIPPED && !(t->test->data && t->test->data->disabled);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    size_t n = 0;
    for (struct criterion_suite_stats *s = stats->suites; s; s = s->next)
        for (struct criterion_test_stats *t = s->tests; t; t = t->next) n += skipped_itself(t);
    if (!n) return;
    fprintf(stderr, "[====] Skipped: %zu test%s (not counted in the synthesis below):\n", n,
            n == 1 ? "" : "s");
    for (struct criterion_suite_stats *s = stats->suites; s; s = s->next)
        for (struct criterion_test_stats *t = s->tests; t; t = t->next)
            if (skipped_itself(t))
                fprintf(stderr, "[====]   %s::%s: %s\n", t->test->category, t->test->name,
                        t->message ? t->message : "skipped");
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (!got) break;
        n += got;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

char *source_path(const char *rel) {
    size_t n = strlen(NR_SOURCE_ROOT) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", NR_SOURCE_ROOT, rel);
    return p;
}

char *scratch_dir(void) {
    const char *tmp = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/neuron-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(tmpl);
    cr_assert(d, "mkdtemp failed: %s", strerror(errno));
    return strdup(d);
}

size_t count_lines(const char *s) {
    size_t n = 0;
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len) n++;
        if (!nl) break;
        p = nl + 1;
    }
    return n;
}

static void spawn_capture(run_result *r, const char *path, const char *const *argv, int use_path) {
    char outp[] = "/tmp/neuron-out-XXXXXX", errp[] = "/tmp/neuron-err-XXXXXX";
    int fo = mkstemp(outp), fe = mkstemp(errp);
    cr_assert(fo >= 0 && fe >= 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fo, 1);
    posix_spawn_file_actions_adddup2(&fa, fe, 2);
    pid_t pid;
    int rc = use_path ? posix_spawnp(&pid, path, &fa, NULL, (char *const *)argv, environ)
                      : posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    memset(r, 0, sizeof *r);
    if (rc != 0) {
        r->status = 127;
    } else {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    close(fo);
    close(fe);
    r->out = read_file(outp, &r->out_len);
    r->err = read_file(errp, &r->err_len);
    unlink(outp);
    unlink(errp);
}

/* argv for $NEURON_BIN followed by the NULL-terminated args (at most 126). */
static const char *neuron_argv(const char *const *args, const char *argv[128]) {
    const char *bin = getenv("NEURON_BIN");
    cr_assert(bin && *bin, "NEURON_BIN must name the neuron binary");
    size_t n = 0;
    argv[n++] = bin;
    for (; args && args[n - 1] && n < 127; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    return bin;
}

void run_neuron(run_result *r, const char *const *args) {
    const char *argv[128];
    const char *bin = neuron_argv(args, argv);
    spawn_capture(r, bin, argv, 0);
}

int start_neuron(const char *const *args, const char *out_path, const char *err_path) {
    const char *argv[128];
    const char *bin = neuron_argv(args, argv);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "cannot start %s: %s", bin, strerror(rc));
    return (int)pid;
}

int wait_neuron(int pid, double timeout) {
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (w < 0 && errno != EINTR) return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec) >
            timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

size_t dir_entries(const char *dir, char *names, size_t size) {
    DIR *d = opendir(dir);
    cr_assert(d, "cannot list %s", dir);
    size_t n = 0, len = 0;
    if (size) names[0] = '\0';
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        if (len < size)
            len += (size_t)snprintf(names + len, size - len, "%s%s", n > 1 ? "," : "", e->d_name);
    }
    closedir(d);
    return n;
}

void run_program(run_result *r, const char *const *argv) {
    spawn_capture(r, argv[0], argv, 1);
}

void run_free(run_result *r) {
    free(r->out);
    free(r->err);
}

const char *transcription_path(void) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/bench/peers/tutorial.py", NR_SOURCE_ROOT);
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    run_result r;
    const char *argv[] = {"python3", "-c", "pass", NULL};
    run_program(&r, argv);
    int ok = r.status == 0;
    run_free(&r);
    return ok ? path : NULL;
}

double *gen_f64(size_t rows, size_t d, nr_dist dist, uint64_t seed, double noise) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = rows, o.features = d, o.dist = dist, o.seed = seed, o.noise = noise;
    o.dtype = NR_F64;
    double *v = malloc(rows * (d + 1) * sizeof *v);
    cr_assert(v);
    cr_assert_eq(nr_gen_fill(&o, v, NULL), NR_OK);
    return v;
}

float *to_f32(const double *v, size_t n) {
    float *f = malloc(n * sizeof *f);
    cr_assert(f);
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    return f;
}

void train_ok(const nr_data *d, const nr_train_opts *o, nr_model *m, nr_train_result *r) {
    nr_error err = {{0}};
    cr_assert_eq(nr_model_init(m, d->features, &err), NR_OK, "%s", err.msg);
    nr_status s = nr_train(d, o, m, r, &err);
    cr_assert_eq(s, NR_OK, "nr_train: %s", err.msg);
}

void same_bits_for_threads(const nr_data *d, nr_train_opts o, const int *threads, size_t n,
                           nr_model *ref, const char *what) {
    nr_model first;
    nr_train_result fr;
    for (size_t k = 0; k < n; k++) {
        o.threads = threads[k];
        nr_model m;
        nr_train_result r;
        train_ok(d, &o, &m, &r);
        if (k == 0) {
            first = m, fr = r;
            continue;
        }
        const size_t e = (size_t)r.epochs_run;
        cr_assert(!memcmp(m.weights, first.weights, d->features * sizeof(double)) &&
                      !memcmp(&m.bias, &first.bias, sizeof m.bias),
                  "%s: %d threads: weights or bias differ from %d threads'", what, threads[k],
                  threads[0]);
        cr_assert_eq(r.epochs_run, fr.epochs_run, "%s: %d threads", what, threads[k]);
        cr_assert(!memcmp(r.loss, fr.loss, e * sizeof(double)), "%s: %d threads: losses differ",
                  what, threads[k]);
        cr_assert_eq(r.val_history == NULL, fr.val_history == NULL);
        cr_assert(!r.val_history || !memcmp(r.val_history, fr.val_history, e * sizeof(double)),
                  "%s: %d threads: validation losses differ", what, threads[k]);
        nr_model_free(&m);
        nr_train_result_free(&r);
    }
    if (n && ref)
        *ref = first;
    else if (n)
        nr_model_free(&first);
    if (n) nr_train_result_free(&fr);
}
