/* Option parsing for the `neuron` command: every value is range-checked and
 * every failure names the option and what it accepts. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "internal.h"

void cli_error(const char *fmt, ...) {
    char whole[16384], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(whole, sizeof whole, fmt, ap);
    va_end(ap);
    nr_elide(msg, sizeof msg, whole, n < 0 ? 0 : (size_t)n); /* long paths lose their middle */
    /* exactly one line: control characters from values or paths become '?' */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    fprintf(stderr, "neuron: error: %s\n", msg);
}

int cli_exit_code(nr_status s) {
    switch (s) {
    case NR_OK:
        return EXIT_OK;
    case NR_ERR_ARG:
    case NR_ERR_UNSUPPORTED:
        return EXIT_USAGE;
    case NR_ERR_INPUT:
        return EXIT_INPUT;
    case NR_ERR_DIVERGED:
        return EXIT_NUMERIC;
    case NR_ERR_INTERRUPTED:
        return 130;
    default:
        return EXIT_OTHER;
    }
}

int cli_fail(nr_status s, const nr_error *err) {
    cli_error("%s", err && err->msg[0] ? err->msg : nr_status_str(s));
    return cli_exit_code(s);
}

void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->i = 0;
    a->cmd = cmd;
}

bool cli_next(cli_args *a) {
    if (a->i >= a->argc) return false;
    const char *s = a->argv[a->i++];
    a->value = NULL;
    a->opt = s;
    const char *eq = strncmp(s, "--", 2) == 0 ? strchr(s, '=') : NULL;
    if (eq) {
        size_t n = (size_t)(eq - s);
        if (n >= sizeof a->optbuf) n = sizeof a->optbuf - 1;
        memcpy(a->optbuf, s, n);
        a->optbuf[n] = '\0';
        a->opt = a->optbuf;
        a->value = eq + 1;
    }
    return true;
}

bool cli_is(const cli_args *a, const char *name) {
    return strcmp(a->opt, name) == 0;
}

const char *cli_value(cli_args *a) {
    if (a->value) return a->value;
    if (a->i >= a->argc) {
        cli_error("%s %s: missing value", a->cmd, a->opt);
        return NULL;
    }
    a->value = a->argv[a->i++];
    return a->value;
}

bool cli_parse_int(const char *s, int64_t *out) {
    if (!s || !*s || *s == ' ' || (*s >= '\t' && *s <= '\r')) return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return false;
    *out = v;
    return true;
}

bool cli_parse_double(const char *s, double *out) {
    if (!s || !*s) return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || isnan(v) || (errno == ERANGE && isinf(v)) || isinf(v)) return false;
    *out = v;
    return true;
}

bool cli_int(cli_args *a, int64_t lo, int64_t hi, int64_t *out) {
    const char *s = cli_value(a);
    if (!s) return false;
    int64_t v;
    if (!cli_parse_int(s, &v) || v < lo || v > hi) {
        cli_error("%s %s: invalid value '%s': expected an integer in [%" PRId64 ", %" PRId64 "]",
                  a->cmd, a->opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_u64(cli_args *a, uint64_t *out) {
    const char *s = cli_value(a);
    if (!s) return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    /* strtoull skips blanks and negates a '-' after them: ' -1' would be
     * 2^64 - 1. Only digits are an unsigned integer. */
    if (*s < '0' || *s > '9' || errno || *end) {
        cli_error("%s %s: invalid value '%s': expected an integer in [0, %" PRIu64 "]", a->cmd,
                  a->opt, s, UINT64_MAX);
        return false;
    }
    *out = v;
    return true;
}

bool cli_double(cli_args *a, double lo, double hi, bool lo_open, double *out) {
    const char *s = cli_value(a);
    if (!s) return false;
    double v;
    if (!cli_parse_double(s, &v) || v < lo || v > hi || (lo_open && v == lo)) {
        cli_error("%s %s: invalid value '%s': expected a number in %c%g, %g]", a->cmd, a->opt, s,
                  lo_open ? '(' : '[', lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_choice(cli_args *a, const char *choices, int *out) {
    const char *s = cli_value(a);
    if (!s) return false;
    int idx = 0;
    const char *p = choices;
    size_t n = strlen(s);
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) {
            *out = idx;
            return true;
        }
        idx++;
        p += len + (bar ? 1 : 0);
    }
    cli_error("%s %s: invalid value '%s': expected one of %s", a->cmd, a->opt, s, choices);
    return false;
}

int cli_unknown(const cli_args *a) {
    cli_error("%s: unknown option '%s' (see 'neuron %s --help')", a->cmd, a->opt, a->cmd);
    return EXIT_USAGE;
}

/* ------------------------------------------------------------ signals -- */

#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

/* Signals are handled process-wide (the handler runs in whichever thread,
 * OpenMP worker or not, the kernel picks), and every handler only unlinks
 * registered temporary files, writes with write(2) and leaves: all
 * async-signal-safe. */

/* Die of `sig` as if unhandled, so that a parent (a shell loop) sees the
 * signal; the handler's mask blocks it until the handler returns. */
static void die_of(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    raise(sig);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, sig);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    _exit(128 + sig); /* not reached */
}

static void cli_die_of_signal(int sig) {
    nr_abandon_temp_files();
    die_of(sig);
}

static void on_fatal_signal(int sig) {
    cli_die_of_signal(sig);
}

static size_t put(char *buf, size_t at, size_t cap, const char *s, size_t n) {
    for (size_t i = 0; i < n && at + 1 < cap; i++) buf[at++] = s[i];
    return at;
}

/* A mapped input shrank under us (another program truncated it): the read
 * of a vanished page faults. Bad input, exit 3, with the usual one line. */
static void on_sigbus(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    const char *path = info ? nr_mapped_file_at(info->si_addr) : NULL;
    /* Every thread reading the vanished pages faults: one of them reports
     * it (one line), the others wait for its _exit, which ends them all. */
    static atomic_flag reported = ATOMIC_FLAG_INIT;
    if (path && atomic_flag_test_and_set(&reported))
        for (;;) pause();
    nr_abandon_temp_files();
    if (!path) die_of(sig);
    static const char pre[] = "neuron: error: ",
                      why[] = ": the file shrank while it was being read (truncated or "
                              "rewritten by another program?)\n";
    char msg[1024];
    size_t n = put(msg, 0, sizeof msg, pre, sizeof pre - 1), len = strlen(path);
    if (len > 600) { /* keep the reason: shorten the path in its middle */
        n = put(msg, n, sizeof msg, path, 150);
        n = put(msg, n, sizeof msg, "...", 3);
        n = put(msg, n, sizeof msg, path + len - 400, 400);
    } else {
        n = put(msg, n, sizeof msg, path, len);
    }
    n = put(msg, n, sizeof msg, why, sizeof why - 1);
    for (size_t done = 0; done < n;) {
        ssize_t k = write(2, msg + done, n - done);
        if (k <= 0) break;
        done += (size_t)k;
    }
    _exit(EXIT_INPUT);
}

void cli_cleanup_on_signals(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    const int fatal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &sa, NULL);
    /* SIGPIPE: a reader that went away. Where the parent ignores it (Python,
     * Go), writes fail with EPIPE and are reported; else it ends the process
     * as usual, after the cleanup. */
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGPIPE, &sa, NULL);
    /* SIGXFSZ (ulimit -f) would end the process silently in the middle of a
     * write; ignored, the write fails with EFBIG and is reported like a full
     * disk, temporary file removed. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGXFSZ, &sa, NULL);
    sa.sa_handler = NULL;
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
}

int cli_check_stdout(void) {
    /* Output lost to a full disk, a closed pipe (EPIPE when SIGPIPE is
     * ignored) or a device error is a failure, not a success. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("stdout: write failed: %s", errno ? strerror(errno) : "i/o error");
        return EXIT_OTHER;
    }
    return EXIT_OK;
}

/* ------------------------------------------------------------ outputs -- */

#include <sys/stat.h>

void cli_outputs_init(cli_outputs *o, const char *cmd) {
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
}

void cli_outputs_input(cli_outputs *o, const char *option, const char *path) {
    struct stat st;
    if (o->nin >= CLI_MAX_FILES || stat(path, &st) != 0) return; /* the reader will say why */
    o->in[o->nin].option = option;
    o->in[o->nin].path = path;
    o->in[o->nin].dev = st.st_dev;
    o->in[o->nin].ino = st.st_ino;
    o->nin++;
}

/* Where a file that may not exist yet would be: its folder's real path and
 * its name, so that "out.csv" and "./out.csv" are seen as one. */
static bool resolved_name(const char *path, char *buf, size_t size) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir) return false;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    char real[PATH_MAX];
    if (!realpath(dir, real)) return false;
    return snprintf(buf, size, "%s/%s", real, base) < (int)size;
}

nr_atomic *cli_outputs_add(cli_outputs *o, const char *option, const char *path, int *rc) {
    if (o->n >= CLI_MAX_FILES) {
        cli_error("%s: too many outputs", o->cmd);
        *rc = EXIT_USAGE;
        return NULL;
    }
    struct stat st;
    const bool exists = stat(path, &st) == 0;
    for (int i = 0; exists && i < o->nin; i++)
        if (st.st_dev == o->in[i].dev && st.st_ino == o->in[i].ino) {
            cli_error("%s %s %s: is the same file as the input %s %s; refusing to overwrite "
                      "an input",
                      o->cmd, option, path, o->in[i].option, o->in[i].path);
            *rc = EXIT_USAGE;
            return NULL;
        }
    cli_output *out = &o->out[o->n];
    if (!resolved_name(path, out->resolved, sizeof out->resolved)) out->resolved[0] = '\0';
    for (int i = 0; i < o->n; i++) {
        const bool same =
            exists ? (o->out[i].exists && st.st_dev == o->out[i].dev && st.st_ino == o->out[i].ino)
                   : (out->resolved[0] && !strcmp(out->resolved, o->out[i].resolved));
        if (same) {
            cli_error("%s %s %s and %s %s: are the same file; give each output its own", o->cmd,
                      o->out[i].option, o->out[i].a.path, option, path);
            *rc = EXIT_USAGE;
            return NULL;
        }
    }
    nr_error err;
    nr_status s = nr_atomic_create(&out->a, path, &err);
    if (s != NR_OK) {
        cli_error("%s %s %s", o->cmd, option, err.msg);
        *rc = cli_exit_code(s);
        return NULL;
    }
    out->option = option;
    out->exists = exists;
    if (exists) out->dev = st.st_dev, out->ino = st.st_ino;
    o->n++;
    return &out->a;
}

void cli_outputs_abort(cli_outputs *o) {
    for (int i = 0; i < o->n; i++) nr_atomic_abort(&o->out[i].a);
    o->n = 0;
}

int cli_outputs_commit(cli_outputs *o) {
    nr_error err;
    nr_status s = NR_OK;
    /* Every file complete and on disk first: then only renames remain,
     * which do not fail for want of space. */
    for (int i = 0; i < o->n && s == NR_OK; i++) s = nr_atomic_finish(&o->out[i].a, &err);
    for (int i = 0; i < o->n && s == NR_OK; i++) s = nr_atomic_rename(&o->out[i].a, &err);
    if (s != NR_OK) {
        cli_outputs_abort(o);
        return cli_fail(s, &err);
    }
    o->n = 0;
    return EXIT_OK;
}

long cli_double_list(cli_args *a, double *out, size_t max) {
    const char *s = cli_value(a);
    if (!s) return -1;
    size_t n = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[64];
        double v;
        if (len == 0 || len >= sizeof buf || n >= max) {
            cli_error(
                "%s %s: invalid value '%s': expected up to %zu comma-separated finite numbers",
                a->cmd, a->opt, s, max);
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (!cli_parse_double(buf, &v)) {
            cli_error("%s %s: invalid element '%s': expected a finite number", a->cmd, a->opt, buf);
            return -1;
        }
        out[n++] = v;
        if (!comma) break;
        p = comma + 1;
    }
    return (long)n;
}

double cli_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cli_median(const double *v, size_t n) {
    double *c = n ? malloc(n * sizeof *c) : NULL;
    if (!c) return NAN;
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmp_double); /* histories can hold millions of epochs */
    const double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    free(c);
    return m;
}
