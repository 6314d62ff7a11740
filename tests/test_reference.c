/* The faithful reference: `neuron tutorial` against the Python transcription's
 * golden outputs (tests/golden/tutorial, made by make_tutorial.sh), byte for
 * byte, and the library's per-sample SGD against the tutorial's numbers. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "neuron_tutorial.h"
#include "util.h"

/* Split `line` into words (in place), at most `max`; returns the count. */
static int split_words(char *line, char **w, int max) {
    int n = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && n < max;
         t = strtok_r(NULL, " \t", &save))
        w[n++] = t;
    return n;
}

Test(tutorial, matches_every_golden_output_byte_for_byte, .timeout = 600) {
    char *cases_path = source_path("tests/golden/tutorial/cases.txt");
    char *cases = read_file(cases_path, NULL);
    cr_assert(cases, "cannot read %s", cases_path);
    int ncases = 0, negative = 0, beyond64 = 0;
    char *save = NULL;
    for (char *line = strtok_r(cases, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0') continue;
        char *w[32];
        int nw = split_words(line, w, 32);
        char rel[256];
        snprintf(rel, sizeof rel, "tests/golden/tutorial/%s.txt", w[0]);
        char *gpath = source_path(rel);
        size_t glen;
        char *golden = read_file(gpath, &glen);
        cr_assert(golden, "missing golden file %s", gpath);
        const char *args[34] = {"tutorial"};
        for (int i = 1; i < nw; i++) {
            args[i] = w[i];
            if (!strcmp(w[i - 1], "--seed") && w[i][0] == '-') negative++;
            if (!strcmp(w[i - 1], "--seed") && strlen(w[i]) > 20) beyond64++;
        }
        args[nw] = NULL;
        run_result r;
        run_neuron(&r, args);
        cr_assert_eq(r.status, 0, "case %s: exit %d, stderr: %s", w[0], r.status, r.err);
        if (r.out_len != glen || memcmp(r.out, golden, glen) != 0) {
            size_t i = 0;
            while (i < glen && i < r.out_len && r.out[i] == golden[i]) i++;
            size_t ls = i;
            while (ls > 0 && golden[ls - 1] != '\n') ls--;
            cr_assert_fail(
                "case %s differs from the oracle at byte %zu:\n  oracle: %.80s\n  neuron: %.80s",
                w[0], i, golden + ls, r.out + ls);
        }
        run_free(&r);
        free(golden);
        free(gpath);
        ncases++;
    }
    cr_assert_geq(ncases, 10);
    cr_assert_geq(negative, 2, "golden cases must include negative seeds");
    cr_assert_geq(beyond64, 2, "golden cases must include seeds beyond 64 bits");
    free(cases);
    free(cases_path);
}

Test(tutorial, overflow_where_python_raises_keeps_the_lines_before_and_exits_4) {
    /* With --lr 0.01 the weights explode; CPython raises OverflowError when
     * squaring a residual overflows, after having printed every line before. */
    char *gpath = source_path("tests/golden/tutorial/diverge_inf.txt");
    size_t glen;
    char *golden = read_file(gpath, &glen);
    cr_assert(golden);
    const char *args[] = {"tutorial", "--seed", "4",       "--lr", "0.01",
                          "--epochs", "400",    "--every", "1",    NULL};
    run_result r;
    run_neuron(&r, args);
    cr_assert_eq(r.status, 4, "exit %d", r.status);
    cr_assert(r.out_len == glen && !memcmp(r.out, golden, glen), "stdout differs from the oracle");
    cr_assert(strstr(r.err, "neuron: error:") && strstr(r.err, "--lr"), "stderr: %s", r.err);
    cr_assert_eq(count_lines(r.err), 1, "one line on stderr: %s", r.err);
    run_free(&r);
    free(golden);
    free(gpath);
}

/* Parse "Epoch: E, Loss: L, Weight: W, Bias: B" lines of a golden file. */
typedef struct {
    long epoch;
    char loss[64], w[64], b[64];
} golden_line;

static size_t parse_golden(const char *rel, golden_line *out, size_t max) {
    char *path = source_path(rel);
    char *text = read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) {
        golden_line *g = &out[n];
        cr_assert_eq(sscanf(l, "Epoch: %ld, Loss: %63[^,], Weight: %63[^,], Bias: %63s", &g->epoch,
                            g->loss, g->w, g->b),
                     4, "bad line: %s", l);
        n++;
    }
    free(text);
    free(path);
    return n;
}

typedef struct {
    golden_line *g;
    size_t n, at;
} check_ctx;

static int check_line(void *ctx, int64_t epoch, double loss, double w, double b) {
    check_ctx *c = ctx;
    cr_assert_lt(c->at, c->n);
    golden_line *g = &c->g[c->at++];
    char l[64], ws[64], bs[64];
    nr_format_4f(loss, l, sizeof l);
    nr_format_4f(w, ws, sizeof ws);
    nr_format_4f(b, bs, sizeof bs);
    cr_assert_eq(epoch, g->epoch);
    cr_assert_str_eq(l, g->loss, "epoch %ld loss", g->epoch);
    cr_assert_str_eq(ws, g->w, "epoch %ld weight", g->epoch);
    cr_assert_str_eq(bs, g->b, "epoch %ld bias", g->epoch);
    return 0;
}

Test(tutorial, library_run_matches_golden_seed_zero) {
    static golden_line g[1000];
    size_t n = parse_golden("tests/golden/tutorial/seed0.txt", g, 1000);
    cr_assert_eq(n, 1000);
    nr_tutorial_opts o;
    nr_tutorial_defaults(&o);
    o.seed = "0";
    check_ctx c = {g, n, 0};
    cr_assert_eq(nr_tutorial_run(&o, check_line, &c, NULL), NR_OK);
    cr_assert_eq(c.at, n);
}

/* The tutorial's data, built the way the tutorial builds it. */
static double *tutorial_data(const char *seed, size_t n, double *w0, double *b0) {
    nr_mt mt;
    nr_mt_seed_decimal(&mt, seed, NULL);
    double *v = malloc(2 * n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[2 * i] = (double)i;
        v[2 * i + 1] = 5.0 * (double)i + nr_mt_uniform(&mt, -100.0, 100.0);
    }
    *w0 = nr_mt_random(&mt);
    *b0 = nr_mt_random(&mt);
    return v;
}

Test(sgd_reference, one_feature_on_tutorial_data_gives_tutorial_numbers) {
    static golden_line g[1000];
    size_t n = parse_golden("tests/golden/tutorial/seed42.txt", g, 1000);
    double w, b;
    double *v = tutorial_data("42", 100, &w, &b);
    nr_data d = {.rows = 100, .features = 1, .dtype = NR_F64, .values = v};
    size_t at = 0;
    for (long e = 1; e <= 100000 && at < n; e++) {
        double loss;
        cr_assert_eq(nr_sgd_epoch(&d, 0.00001, &w, &b, &loss, NULL), NR_OK);
        if (e % 100 == 0) {
            char l[64], ws[64], bs[64];
            nr_format_4f(loss, l, sizeof l);
            nr_format_4f(w, ws, sizeof ws);
            nr_format_4f(b, bs, sizeof bs);
            cr_assert_str_eq(l, g[at].loss, "epoch %ld", e);
            cr_assert_str_eq(ws, g[at].w, "epoch %ld", e);
            cr_assert_str_eq(bs, g[at].b, "epoch %ld", e);
            at++;
        }
    }
    cr_assert_eq(at, 1000);
    free(v);
}

Test(sgd_reference, general_path_with_a_zero_feature_equals_one_feature_bit_for_bit) {
    /* Appending a feature that is always 0 adds exact zeros to pred and leaves
     * its weight untouched, so the d-feature loop must reproduce the
     * one-feature loop's bits: a check of the generalised operation order. */
    double w1, b1;
    double *v = tutorial_data("7", 100, &w1, &b1);
    double *v3 = malloc(300 * sizeof *v3);
    for (int i = 0; i < 100; i++) {
        v3[3 * i] = v[2 * i];
        v3[3 * i + 1] = 0.0;
        v3[3 * i + 2] = v[2 * i + 1];
    }
    nr_data d1 = {100, 1, NR_F64, v}, d2 = {100, 2, NR_F64, v3};
    double w2[2] = {w1, 0.25}, b2 = b1;
    for (int e = 0; e < 2000; e++) {
        double l1, l2;
        nr_sgd_epoch(&d1, 1e-5, &w1, &b1, &l1, NULL);
        nr_sgd_epoch(&d2, 1e-5, w2, &b2, &l2, NULL);
        cr_assert(l1 == l2 && w1 == w2[0] && b1 == b2, "epoch %d: %a %a vs %a %a", e, w1, b1, w2[0],
                  b2);
    }
    cr_assert(w2[1] == 0.25);
    free(v);
    free(v3);
}

/* libm's pow, not the compiler's folding of pow(r, 2) into r * r */
static double (*volatile const libm_pow_t)(double, double) = pow;

/* The order of nr_sgd_epoch's dot product (include/neuron.h), spelled out
 * here independently of src/reference.c: partial sums over j = c (mod 4)
 * that exist only once a feature falls into them, combined as
 * (p0 + p1) + (p2 + p3), or (p0 + p1) + p2, p0 + p1, p0 when fewer exist. */
static double dot_in_documented_order(const double *w, const double *x, size_t k) {
    double part[4];
    bool used[4] = {false, false, false, false};
    for (size_t j = 0; j < k; j++) {
        const size_t c = j % 4;
        part[c] = used[c] ? part[c] + w[j] * x[j] : w[j] * x[j];
        used[c] = true;
    }
    const double s01 = used[1] ? part[0] + part[1] : part[0];
    if (used[3]) return s01 + (part[2] + part[3]);
    return used[2] ? s01 + part[2] : s01;
}

Test(sgd_reference, every_width_follows_the_written_rule_bit_for_bit) {
    /* The rule as doc/reference.md writes it, with the dot product in the
     * documented order: pred = w.x + b, loss += r^2, w_j -= lr*((r*2)*x_j),
     * b -= lr*(r*2). Widths 1-40 cover every compiled-in width (1-16), the
     * generic loop and each tail of the groups of 4; f32 and f64 rows. The
     * weights start at 0, so the first row's products are signed zeros. */
    for (size_t k = 1; k <= 40; k++) {
        const size_t n = 300;
        double *v = malloc(n * (k + 1) * sizeof *v);
        float *f = malloc(n * (k + 1) * sizeof *f);
        for (size_t i = 0; i < n * (k + 1); i++) {
            f[i] = (float)sin(0.7 * (double)i + (double)k);
            v[i] = f[i];
        }
        for (int dt = 0; dt < 2; dt++) {
            double w[40] = {0}, b = 0.125, wr[40] = {0}, br = 0.125, loss, lr = 0.01;
            nr_data d = {n, k, dt ? NR_F32 : NR_F64, dt ? (void *)f : (void *)v};
            for (int e = 0; e < 3; e++) {
                cr_assert_eq(nr_sgd_epoch(&d, lr, w, &b, &loss, NULL), NR_OK);
                double lref = 0.0;
                for (size_t i = 0; i < n; i++) {
                    const double *row = v + i * (k + 1);
                    const double pred = dot_in_documented_order(wr, row, k) + br;
                    const double r = pred - row[k];
                    lref += libm_pow_t(r, 2.0); /* CPython's r ** 2 */
                    const double g = r * 2;
                    for (size_t j = 0; j < k; j++) wr[j] -= lr * (g * row[j]);
                    br -= lr * g;
                }
                cr_assert(loss == lref, "k=%zu dtype %d epoch %d: loss %a vs %a", k, dt, e, loss,
                          lref);
            }
            for (size_t j = 0; j < k; j++)
                cr_assert(w[j] == wr[j], "k=%zu dtype %d w[%zu]: %a vs %a", k, dt, j, w[j], wr[j]);
            cr_assert(b == br, "k=%zu dtype %d bias", k, dt);
        }
        free(v);
        free(f);
    }
}

Test(sgd_reference, the_order_is_not_left_to_right_from_five_features) {
    /* w = 1 and x = (1, e, e, e, e), e = 2^-53: in the documented order
     * p0 = 1 + e rounds to 1 (a tie, to even), (p0 + p1) = 1 likewise, but
     * p2 + p3 = 2e survives: w.x = 1 + 2^-52. Left to right, every e is lost
     * against 1 and w.x = 1. */
    double x[6] = {1, 0x1p-53, 0x1p-53, 0x1p-53, 0x1p-53, 0};
    const double expect = dot_in_documented_order((const double[5]){1, 1, 1, 1, 1}, x, 5);
    double left = 1;
    for (int j = 1; j < 5; j++) left += x[j];
    cr_assert(expect != left, "the rows below would not tell the orders apart");
    /* One row, lr = 0 (weights unchanged), loss = (w.x + b - y)^2 with y = 1:
     * the loss reveals which order nr_sgd_epoch summed in. */
    x[5] = 1;
    double w[5] = {1, 1, 1, 1, 1}, b = 0, loss;
    nr_data d = {1, 5, NR_F64, x};
    cr_assert_eq(nr_sgd_epoch(&d, 0.0, w, &b, &loss, NULL), NR_OK);
    cr_assert(loss == libm_pow_t(expect - 1, 2.0), "loss %a, documented order gives %a", loss,
              libm_pow_t(expect - 1, 2.0));
}

Test(sgd_reference, without_the_loss_it_stops_where_the_loss_overflows) {
    /* nr_sgd_epoch without a loss runs a loop that hands residuals of 2^511
     * and more to a careful step; it must stop on the same row, with the
     * same w and b, as the loop that squares every residual. Targets of
     * 1.5 * 2^511 (square fine, careful step taken, the fast loop goes on),
     * then 2^600 (square overflows: NR_ERR_DIVERGED). */
    const size_t widths[] = {1, 3, 8, 20};
    for (size_t c = 0; c < sizeof widths / sizeof widths[0]; c++) {
        const size_t k = widths[c], n = 40;
        double *v = calloc(n * (k + 1), sizeof *v);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < k; j++) v[i * (k + 1) + j] = 1e-300 * (double)(i + j + 1);
            v[i * (k + 1) + k] = i == 10 ? 1.5 * 0x1p511 : i == 25 ? 0x1p600 : 0.5;
        }
        nr_data d = {n, k, NR_F64, v};
        double w1[20] = {0}, w2[20] = {0}, b1 = 0.25, b2 = 0.25, loss;
        const nr_status s1 = nr_sgd_epoch(&d, 1e-3, w1, &b1, NULL, NULL);
        const nr_status s2 = nr_sgd_epoch(&d, 1e-3, w2, &b2, &loss, NULL);
        cr_assert(s1 == NR_ERR_DIVERGED && s2 == NR_ERR_DIVERGED, "k=%zu: %d %d", k, s1, s2);
        cr_assert(b1 == b2 && b1 != 0.25, "k=%zu: b %a vs %a", k, b1, b2);
        for (size_t j = 0; j < k; j++) cr_assert(w1[j] == w2[j], "k=%zu w[%zu]", k, j);
        /* the rows before the overflowing one were applied: without row 25
         * the run would end elsewhere */
        d.rows = 25;
        double w3[20] = {0}, b3 = 0.25;
        cr_assert_eq(nr_sgd_epoch(&d, 1e-3, w3, &b3, NULL, NULL), NR_OK, "k=%zu", k);
        cr_assert(b3 == b1, "k=%zu: stopped before row 25: %a vs %a", k, b3, b1);
        free(v);
    }
}

Test(sgd_reference, f32_rows_are_widened_exactly) {
    /* Values representable in float give identical bits through the f32 path. */
    enum { N = 64, D = 3 };
    double vd[N * (D + 1)];
    float vf[N * (D + 1)];
    for (int i = 0; i < N * (D + 1); i++) {
        vf[i] = (float)((i * 37 % 101) - 50) / 8.0f;
        vd[i] = vf[i];
    }
    nr_data a = {N, D, NR_F64, vd}, b = {N, D, NR_F32, vf};
    double wa[D] = {0}, wb[D] = {0}, ba = 0, bb = 0, la, lb;
    for (int e = 0; e < 50; e++) {
        nr_sgd_epoch(&a, 1e-3, wa, &ba, &la, NULL);
        nr_sgd_epoch(&b, 1e-3, wb, &bb, &lb, NULL);
    }
    for (int j = 0; j < D; j++) cr_assert(wa[j] == wb[j]);
    cr_assert(ba == bb && la == lb);
}

Test(sgd_reference, converges_to_the_generating_weights) {
    /* y = 2*x1 - 3*x2 + 0.5 without noise: SGD must reach it, which catches
     * a sign or index error that bit-for-bit self-comparisons cannot. */
    enum { N = 200 };
    double v[N * 3];
    nr_mt mt;
    nr_mt_seed_u64(&mt, 1);
    for (int i = 0; i < N; i++) {
        double x1 = nr_mt_uniform(&mt, -1, 1), x2 = nr_mt_uniform(&mt, -1, 1);
        v[3 * i] = x1;
        v[3 * i + 1] = x2;
        v[3 * i + 2] = 2 * x1 - 3 * x2 + 0.5;
    }
    nr_data d = {N, 2, NR_F64, v};
    double w[2] = {0, 0}, b = 0, loss = 0;
    for (int e = 0; e < 500; e++) nr_sgd_epoch(&d, 0.05, w, &b, &loss, NULL);
    cr_assert(fabs(w[0] - 2) < 1e-9 && fabs(w[1] + 3) < 1e-9 && fabs(b - 0.5) < 1e-9,
              "w = %g %g, b = %g", w[0], w[1], b);
    cr_assert_lt(loss, 1e-15);
}

Test(format, matches_python_spelling) {
    char buf[64];
    struct {
        double v;
        const char *want;
    } cases[] = {{0.0, "0.0000"},
                 {-0.0, "-0.0000"},
                 {-0.00004, "-0.0000"},
                 {0.00005, "0.0001"},
                 {1.23445, "1.2345"},
                 {2.5e-5, "0.0000"},
                 {1e20, "100000000000000000000.0000"},
                 /* exact ties round half to even (CPython's output) */
                 {0.03125, "0.0312"},
                 {0.09375, "0.0938"},
                 {-0.03125, "-0.0312"},
                 {0.015625, "0.0156"},
                 {562949953421311.5, "562949953421311.5000"},
                 {5e-324, "0.0000"},
                 {NAN, "nan"},
                 {-NAN, "nan"},
                 {INFINITY, "inf"},
                 {-INFINITY, "-inf"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nr_format_4f(cases[i].v, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].want, "value %a", cases[i].v);
    }
}

Test(format, agrees_with_printf_on_random_ties_and_boundary_values) {
    /* nr_format_4f has its own integer path below 2^49; glibc's printf rounds
     * the exact binary value correctly (as CPython does), so every value must
     * give the same bytes as "%.4f", and the same return value and truncation
     * as snprintf into short buffers. */
    nr_mt mt;
    nr_mt_seed_u64(&mt, 17);
    char got[400], want[400];
    for (long i = 0; i < 2000000; i++) {
        double v;
        const int kind = (int)(i % 5);
        if (kind == 0) { /* any finite bit pattern */
            uint64_t u = ((uint64_t)nr_mt_next_u32(&mt) << 32) | nr_mt_next_u32(&mt);
            memcpy(&v, &u, sizeof v);
            if (!isfinite(v)) continue;
        } else if (kind == 1) { /* exponents where the integer path works */
            v = ldexp(nr_mt_random(&mt), (int)(nr_mt_next_u32(&mt) % 120) - 70);
        } else if (kind == 2) { /* k / 2^j: exact ties at the 5th decimal */
            v = ldexp((double)(nr_mt_next_u32(&mt) % 1000000), -(int)(nr_mt_next_u32(&mt) % 12));
        } else if (kind == 3) { /* at the switch to printf, 2^49 */
            v = nextafter(0x1p49, 0) - (double)(nr_mt_next_u32(&mt) % 4096) / 4;
            if (nr_mt_next_u32(&mt) & 1)
                v = nextafter(0x1p49, INFINITY) + (double)(nr_mt_next_u32(&mt) % 64);
        } else { /* near x.xxxx5 in decimal */
            v = ((double)(nr_mt_next_u32(&mt) % 100000000) + 0.5) / 10000;
            for (int k = (int)(nr_mt_next_u32(&mt) % 3); k > 0; k--)
                v = nextafter(v, k & 1 ? 0 : 1e9);
        }
        if (nr_mt_next_u32(&mt) & 1) v = -v;
        const int n = nr_format_4f(v, got, sizeof got), m = snprintf(want, sizeof want, "%.4f", v);
        cr_assert(n == m && !strcmp(got, want), "%a: '%s' (%d) vs printf '%s' (%d)", v, got, n,
                  want, m);
    }
    const double v = -1234.56789;
    for (size_t size = 0; size < 12; size++) {
        char a[12], b[12];
        memset(a, 'x', sizeof a), memset(b, 'x', sizeof b);
        cr_assert_eq(nr_format_4f(v, size ? a : NULL, size),
                     snprintf(size ? b : NULL, size, "%.4f", v));
        cr_assert(!memcmp(a, b, sizeof a), "buffer of %zu bytes", size);
    }
}

Test(format, put_u64_agrees_with_printf_at_every_length) {
    /* The tutorial's epochs and the integer part of every number go through
     * nr_put_u64, which sizes the text from the bit length first: around each
     * power of ten (where that estimate is settled by a comparison), at the
     * switch from 64-bit to 32-bit division, and at random. */
    uint64_t cases[200 + 4000];
    size_t k = 0;
    uint64_t p = 1;
    for (int e = 0; e < 20; e++, p *= 10) {
        const uint64_t near[] = {p - 1, p, p + 1, p - 2, p + 2, p / 2 + 1, p * 2 - 1, 2 * p};
        for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) cases[k++] = near[i];
    }
    const uint64_t edges[] = {0, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX, UINT64_MAX - 1};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) cases[k++] = edges[i];
    nr_mt mt;
    nr_mt_seed_u64(&mt, 99);
    while (k < sizeof cases / sizeof cases[0]) { /* every bit length equally often */
        const uint64_t u = ((uint64_t)nr_mt_next_u32(&mt) << 32) | nr_mt_next_u32(&mt);
        cases[k++] = u >> (nr_mt_next_u32(&mt) % 64);
    }
    for (size_t i = 0; i < k; i++) {
        char got[40], want[40];
        memset(got, 'x', sizeof got);
        const size_t n = (size_t)(nr_put_u64(got, cases[i]) - got);
        const int m = snprintf(want, sizeof want, "%" PRIu64, cases[i]);
        cr_assert(n == (size_t)m && !memcmp(got, want, n) && got[n] == 'x',
                  "%" PRIu64 ": '%.*s' (%zu) vs printf '%s'", cases[i], (int)n, got, n, want);
    }
}

typedef struct {
    size_t n;
    double v[8192][3];
    int64_t e[8192];
} recorder;

static int record_line(void *ctx, int64_t epoch, double loss, double w, double b) {
    recorder *r = ctx;
    cr_assert_lt(r->n, 8192);
    r->e[r->n] = epoch;
    r->v[r->n][0] = loss, r->v[r->n][1] = w, r->v[r->n][2] = b;
    r->n++;
    return 0;
}

Test(tutorial, cycle_skip_gives_the_same_bits_as_running_every_epoch, .timeout = 300) {
    /* Larger learning rates on fewer samples reach a fixed point or a short
     * cycle of doubles within a few thousand epochs, so the skip path runs;
     * the test checks that the full run really repeats (else it would prove
     * nothing) and that both runs print identical bits. */
    static recorder full, skip;
    const struct {
        const char *seed;
        int64_t samples, epochs, every;
        double lr;
    } cases[] = {/* periods of 11, 3, 2, 7 and 1 epochs (found by a search over seeds) */
                 {"1", 50, 6000, 3, 1e-3},
                 {"-5", 7, 3000, 2, 5e-2},
                 {"99", 20, 8000, 5, 4e-3},
                 {"17", 50, 4000, 1, 1e-3},
                 {"-123456789012345678901234567890", 10, 30000, 7, 1e-2}};
    int repeated = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nr_tutorial_opts o;
        nr_tutorial_defaults(&o);
        o.seed = cases[c].seed, o.samples = cases[c].samples, o.epochs = cases[c].epochs;
        o.every = cases[c].every, o.lr = cases[c].lr;
        full.n = skip.n = 0;
        o.no_cycle_skip = true;
        nr_status s1 = nr_tutorial_run(&o, record_line, &full, NULL);
        o.no_cycle_skip = false;
        nr_status s2 = nr_tutorial_run(&o, record_line, &skip, NULL);
        cr_assert_eq(s1, s2);
        cr_assert_eq(full.n, skip.n, "case %zu", c);
        for (size_t i = 0; i < full.n; i++) {
            cr_assert_eq(full.e[i], skip.e[i]);
            cr_assert(!memcmp(full.v[i], skip.v[i], sizeof full.v[i]),
                      "case %zu epoch %ld: loss/w/b %a %a %a vs %a %a %a", c, (long)full.e[i],
                      full.v[i][0], full.v[i][1], full.v[i][2], skip.v[i][0], skip.v[i][1],
                      skip.v[i][2]);
        }
        for (size_t k = 1; k <= 16 && k < full.n; k++)
            if (!memcmp(full.v[full.n - 1] + 1, full.v[full.n - 1 - k] + 1, 2 * sizeof(double))) {
                repeated++;
                break;
            }
    }
    cr_assert_eq(repeated, 5, "only %d cases reached a repeating state", repeated);
}

typedef struct {
    double *v; /* tutorial data (x, y) */
    size_t n;
    double w, b, lr;
    int64_t lines;
} replay_ctx;

/* Compare each printed epoch of nr_tutorial_run with nr_sgd_epoch, the
 * plain Python-order loop, on the same data: bits, not strings. */
static int replay_check(void *ctx, int64_t epoch, double loss, double w, double b) {
    replay_ctx *c = ctx;
    nr_data d = {c->n, 1, NR_F64, c->v};
    double l;
    nr_sgd_epoch(&d, c->lr, &c->w, &c->b, &l, NULL);
    cr_assert(l == loss || (l != l && loss != loss), "epoch %ld loss %a vs %a", (long)epoch, loss,
              l);
    cr_assert(!memcmp(&w, &c->w, sizeof w) && !memcmp(&b, &c->b, sizeof b),
              "epoch %ld: w %a b %a, Python order gives %a %a", (long)epoch, w, b, c->w, c->b);
    c->lines++;
    return 0;
}

Test(tutorial, fast_epoch_equals_python_order_through_subnormals_and_blowup) {
    /* slope 0, noise 0: y = 0, so w and b decay through the subnormals to 0
     * and the residuals with them; lr 1 on two samples (x <= 1) grows the
     * residuals past 2^511 until a square overflows (Python's OverflowError,
     * at epoch 647). Both leave the fast loop's range, so the careful path
     * and its hand-over are checked. */
    const struct {
        const char *seed;
        int64_t samples, epochs;
        double lr, slope, noise;
    } cases[] = {{"2", 3, 3000, 0.3, 0.0, 0.0},
                 {"8", 4, 4000, 0.1, 0.0, 0.0},
                 {"5", 2, 2000, 1.0, 1.0, 1.0},
                 {"42", 100, 300, 1e-5, 5.0, 100.0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nr_tutorial_opts o;
        nr_tutorial_defaults(&o);
        o.seed = cases[k].seed, o.samples = cases[k].samples, o.epochs = cases[k].epochs;
        o.lr = cases[k].lr, o.slope = cases[k].slope, o.noise = cases[k].noise;
        o.every = 1;
        o.no_cycle_skip = true;
        replay_ctx c = {.n = (size_t)o.samples, .lr = o.lr};
        nr_mt mt;
        nr_mt_seed_decimal(&mt, o.seed, NULL);
        c.v = malloc(2 * c.n * sizeof *c.v);
        for (size_t i = 0; i < c.n; i++) {
            c.v[2 * i] = (double)i;
            c.v[2 * i + 1] = o.slope * (double)i + nr_mt_uniform(&mt, -o.noise, o.noise);
        }
        c.w = nr_mt_random(&mt);
        c.b = nr_mt_random(&mt);
        nr_status s = nr_tutorial_run(&o, replay_check, &c, NULL);
        /* the third case must really blow up, the others must not */
        cr_assert_eq(s, k == 2 ? NR_ERR_DIVERGED : NR_OK, "case %zu", k);
        cr_assert_gt(c.lines, 0);
        free(c.v);
    }
}
