/* neuron tutorial: the tutorial's experiment, printed byte for byte as the
 * Python original prints it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "internal.h"

static void usage(FILE *f) {
    fputs("usage: neuron tutorial [options]\n"
          "\n"
          "Reproduce the tutorial's linear regression by per-sample SGD, byte for byte\n"
          "as the Python original prints it (CPython's Mersenne Twister, same order of\n"
          "operations, no FMA).\n"
          "\n"
          "options:\n"
          "  --seed S      random.seed(S): any integer, negative or beyond 64 bits (42)\n"
          "  --samples N   data points x = 0..N-1, in [0, 2^40] (100)\n"
          "  --epochs E    passes over the data, >= 0 (100000)\n"
          "  --lr LR       learning rate, a finite number > 0 (0.00001)\n"
          "  --every K     print a line every K epochs, >= 1 (100)\n"
          "  --slope A     y = A*x + noise (5)\n"
          "  --noise S     noise ~ U(-S, S), S >= 0 (100)\n"
          "  --no-cycle-skip  run every epoch even once (w, b) has repeated bit for bit\n"
          "                (same output; by default a repeat is detected and the rest of\n"
          "                the run is read off the cycle)\n"
          "  --fast        compute the run in closed form: one epoch of per-sample SGD is\n"
          "                an affine map of (w, b) and its loss a quadratic form, so\n"
          "                blocks of K epochs come from repeated squaring (microseconds).\n"
          "                Same lines, agreeing with the sequential run to ~1e-9 relative\n"
          "                rather than bit for bit (last digits may differ); a learning\n"
          "                rate whose epoch map does not contract, or so close to the\n"
          "                stability limit that rounding grows inside an epoch, runs\n"
          "                sequentially\n"
          "  -h, --help    this help\n",
          f);
}

/* With --fast, lines are gathered here and written with write(2) some 7 KB
 * at a time: one fwrite a line cost ~150 instructions of stdio each, a
 * tenth of the whole process. The buffer is small on purpose: each 4 KiB
 * page of it costs a page fault when first written (~3 us on a VM, where a
 * write(2) of the same bytes to /dev/null costs ~0.3 us), so one for all 64
 * KB of the default run, 14 faults, cost more than the 9 writes of 8 KiB.
 * A sequential run, which can be long, hands each line to stdio as it
 * comes (line by line on a terminal). */
typedef struct {
    FILE *out;
    bool gather;
    int error; /* errno of a failed write; the rest is dropped */
    size_t len;
    char buf[(1 << 13) - 32]; /* the whole printer in two pages */
} printer;

static void flush_lines(printer *p) {
    if (!p->gather) {
        fwrite(p->buf, 1, p->len, p->out);
    } else {
        const char *at = p->buf, *const end = p->buf + p->len;
        while (at < end && !p->error) {
            const ssize_t n = write(fileno(p->out), at, (size_t)(end - at));
            if (n > 0)
                at += n;
            else if (n == 0 || errno != EINTR)
                p->error = n == 0 ? EIO : errno;
        }
    }
    p->len = 0;
}

/* Appends the text [s, s + n) at *at. */
static char *put(char *at, const char *s, size_t n) {
    memcpy(at, s, n);
    return at + n;
}

/* The line is assembled by hand and written once: fprintf's format parsing
 * cost as much as the arithmetic of `tutorial --fast` for its 1000 lines. */
static int print_line(void *ctx, int64_t epoch, double loss, double w, double b) {
    printer *p = ctx;
    enum { LINE_ROOM = 3 * NR_4F_ROOM + 64 }; /* the epoch has at most 20 digits */
    if (sizeof p->buf - p->len < LINE_ROOM) flush_lines(p);
    if (p->error) return 1; /* nothing more can reach stdout: stop the run */
    char *const line = p->buf + p->len, *at = line;
    at = put(at, "Epoch: ", 7);
    if (epoch < 0) *at++ = '-';
    at = nr_put_u64(at, epoch < 0 ? 0 - (uint64_t)epoch : (uint64_t)epoch);
    at = put(at, ", Loss: ", 8);
    at = nr_put_4f(at, loss);
    at = put(at, ", Weight: ", 10);
    at = nr_put_4f(at, w);
    at = put(at, ", Bias: ", 8);
    at = nr_put_4f(at, b);
    *at++ = '\n';
    p->len += (size_t)(at - line);
    if (!p->gather) flush_lines(p);
    return 0;
}

int cmd_tutorial(int argc, char **argv) {
    nr_tutorial_opts o;
    nr_tutorial_defaults(&o);
    cli_args a;
    cli_args_init(&a, "tutorial", argc, argv);
    const int64_t big = INT64_MAX / 2;
    bool fast = false;
    while (cli_next(&a)) {
        bool ok;
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            usage(stdout);
            return EXIT_OK;
        } else if (cli_is(&a, "--seed")) {
            nr_mt probe;
            nr_error err;
            ok = (o.seed = cli_value(&a)) != NULL;
            if (ok && nr_mt_seed_decimal(&probe, o.seed, &err) != NR_OK) {
                cli_error("tutorial --seed: invalid value '%s': expected an integer of any size",
                          o.seed);
                ok = false;
            }
        } else if (cli_is(&a, "--samples")) {
            ok = cli_int(&a, 0, (int64_t)1 << 40, &o.samples);
        } else if (cli_is(&a, "--epochs")) {
            ok = cli_int(&a, 0, big, &o.epochs);
        } else if (cli_is(&a, "--every")) {
            ok = cli_int(&a, 1, big, &o.every);
        } else if (cli_is(&a, "--lr")) {
            ok = cli_double(&a, 0.0, 1e300, true, &o.lr);
        } else if (cli_is(&a, "--slope")) {
            ok = cli_double(&a, -1e300, 1e300, false, &o.slope);
        } else if (cli_is(&a, "--noise")) {
            ok = cli_double(&a, 0.0, 1e300, false, &o.noise);
        } else if (cli_is(&a, "--fast")) {
            fast = true;
            ok = true;
        } else if (cli_is(&a, "--no-cycle-skip")) {
            o.no_cycle_skip = true;
            ok = true;
        } else {
            return cli_unknown(&a);
        }
        if (!ok) return EXIT_USAGE;
    }
    static _Alignas(4096) printer p; /* two pages, not three */
    p.out = stdout;
    p.gather = fast;
    nr_error err;
    nr_status s = (fast ? nr_tutorial_fast : nr_tutorial_run)(&o, print_line, &p, &err);
    flush_lines(&p);
    errno = p.error;
    if (p.error || fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("tutorial: writing to stdout failed: %s", errno ? strerror(errno) : "i/o error");
        return EXIT_OTHER;
    }
    if (s == NR_ERR_DIVERGED) { /* the library names no flags: the CLI does */
        cli_error("%s (--lr %g)", err.msg, o.lr);
        return cli_exit_code(s);
    }
    return s == NR_OK ? EXIT_OK : cli_fail(s, &err);
}
