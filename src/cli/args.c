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

void cli_error(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
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
    if (!s || !*s) return false;
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
    if (!*s || *s == '-' || errno || *end) {
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

#include <signal.h>
#include <unistd.h>

static void on_fatal_signal(int sig) {
    nr_abandon_temp_files();
    _exit(128 + sig);
}

void cli_cleanup_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
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
