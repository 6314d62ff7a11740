/* f16 storage (IEEE binary16, NumPy '<f2'): the widening to float against an
 * independent decode of every bit pattern, the rounding from double against
 * two independent references on the hard cases, training on f16 data
 * against training on the f32 file of the same values (bit for bit), the
 * loss at the optimum against f32 data, and bad input through the CLI. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "kernels.h"
#include "neuron.h"
#include "util.h"

/* ------------------------------------------------------------ widening -- */

/* The value of a half from its definition (IEEE 754-2008, binary16):
 * (-1)^s 2^(e-15) (1 + m/1024) for e in 1..30, (-1)^s 2^-14 (m/1024) for
 * e = 0, Inf or NaN for e = 31; in double, where every one is exact. */
static double half_by_definition(unsigned h) {
    const unsigned s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)m, -24);
    else
        v = ldexp(1024.0 + (double)m, (int)e - 25);
    return s ? -v : v;
}

static void check_widening(nr_widen_f16_fn fn, const char *name) {
    enum { N = 65536 };
    static uint16_t h[N];
    static float out[N + 1];
    for (unsigned i = 0; i < N; i++) h[i] = (uint16_t)i;
    out[N] = 12345.0f; /* a canary past the end */
    fn(h, N, out);
    cr_assert(out[N] == 12345.0f, "%s wrote past the end", name);
    for (unsigned i = 0; i < N; i++) {
        const double want = half_by_definition(i);
        if (isnan(want)) {
            cr_assert(isnan(out[i]), "%s: 0x%04x gives %g, not NaN", name, i, (double)out[i]);
            continue;
        }
        /* compare bits: -0 must stay -0 */
        const float wf = (float)want; /* exact: a half has 11 significant bits */
        cr_assert((double)wf == want);
        cr_assert(!memcmp(&wf, &out[i], 4), "%s: 0x%04x gives %a, want %a", name, i, (double)out[i],
                  want);
    }
    /* short lengths: the tails of the vector loop, nothing written past n */
    for (size_t n = 0; n < 40; n++) {
        float o[48];
        for (size_t k = 0; k < 48; k++) o[k] = -7.0f;
        fn(h + 0x3c00 + n, n, o);
        for (size_t k = 0; k < n; k++)
            cr_assert(o[k] == (float)half_by_definition(0x3c00 + (unsigned)(n + k)), "%s n %zu",
                      name, n);
        for (size_t k = n; k < 48; k++) cr_assert(o[k] == -7.0f, "%s n %zu wrote past n", name, n);
    }
}

Test(f16, widening_is_exact_for_all_65536_bit_patterns_scalar) {
    check_widening(nr_widen_f16_scalar, "scalar");
    for (unsigned i = 0; i < 65536; i++) {
        const double want = half_by_definition(i), got = nr_half_to_float((uint16_t)i);
        cr_assert(isnan(want) ? isnan(got) : (got == want && signbit(got) == signbit(want)),
                  "nr_half_to_float(0x%04x)", i);
    }
}

Test(f16, widening_is_exact_for_all_65536_bit_patterns_f16c) {
    const nr_kernels *k = nr_kernels_select(NR_KERNEL_AVX2, NULL);
    if (!k) cr_skip_test("no AVX2+FMA+F16C on this CPU");
    cr_assert(k->widen_f16 != nr_widen_f16_scalar, "the AVX2 table must widen with F16C");
    check_widening(k->widen_f16, "f16c");
}

/* ------------------------------------------------------------ rounding -- */

/* The half nearest to v by search over the halves themselves (whose values
 * half_by_definition gives): the largest positive half not above |v|, the
 * next one, the nearer of the two, ties to the even pattern. 0 when |v|
 * rounds beyond 65504 (no reference for those: the caller checks they
 * fail). Independent of nr_half_from_double's bit manipulation. */
static bool nearest_half(double v, uint16_t *out) {
    const double a = fabs(v);
    unsigned lo = 0, hi = 0x7bff; /* the largest finite half */
    if (a >= 65520.0) return false;
    if (a >= 65504.0) {
        lo = 0x7bff;
    } else {
        while (lo < hi) { /* largest h with value(h) <= a */
            const unsigned mid = (lo + hi + 1) / 2;
            if (half_by_definition(mid) <= a)
                lo = mid;
            else
                hi = mid - 1;
        }
    }
    unsigned h = lo;
    if (lo < 0x7bff) {
        const double below = a - half_by_definition(lo), above = half_by_definition(lo + 1) - a;
        if (above < below || (above == below && (lo & 1))) h = lo + 1;
    }
    *out = (uint16_t)(h | (signbit(v) ? 0x8000u : 0));
    return true;
}

static void check_rounding(double v) {
    uint16_t got = 0xdead, want;
    const bool ok = nr_half_from_double(v, &got), in = nearest_half(v, &want);
    cr_assert_eq(ok, in, "%a: in range %d, reference %d", v, ok, in);
    if (in) cr_assert_eq(got, want, "%a (%.17g): 0x%04x, want 0x%04x", v, v, got, want);
#ifdef __FLT16_MAX__
    /* the compiler's conversion (libgcc's soft-fp on x86-64 without
     * AVX512-FP16): a second, unrelated reference */
    if (in) {
        const _Float16 c = (_Float16)v;
        uint16_t cb;
        memcpy(&cb, &c, 2);
        cr_assert_eq(got, cb, "%a: 0x%04x, _Float16 gives 0x%04x", v, got, cb);
    }
#endif
}

Test(f16, rounding_from_double_is_correct_on_hard_cases) {
    /* every pair of adjacent finite halves: the midpoint (a tie: to even),
     * the doubles either side of it, and just inside both ends. The double
     * just above a midpoint is the case that rounding through a float gets
     * wrong: it rounds to the midpoint as a float, then to even. */
    for (unsigned h = 0; h < 0x7bff; h++) {
        const double a = half_by_definition(h), b = half_by_definition(h + 1), m = (a + b) / 2;
        const double cases[] = {a,
                                b,
                                m,
                                nextafter(m, 0),
                                nextafter(m, INFINITY),
                                nextafter(a, INFINITY),
                                nextafter(b, 0),
                                (double)nextafterf((float)m, INFINITY),
                                (double)nextafterf((float)m, 0)};
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            check_rounding(cases[k]);
            check_rounding(-cases[k]);
        }
    }
    /* the ends: overflow from 65520 (the midpoint to 2^16, which ties to
     * the even 2^16), underflow to zero below 2^-25 (ties to even: 0) */
    const double ends[] = {65504.0,
                           nextafter(65520.0, 0),
                           65520.0,
                           65536.0,
                           1e300,
                           0x1p-25,
                           nextafter(0x1p-25, 1),
                           nextafter(0x1p-25, 0),
                           0x1.8p-24,
                           0x1p-14,
                           nextafter(0x1p-14, 0),
                           0x1.ffcp-15, /* the largest subnormal */
                           0x1.ffep-15, /* its midpoint to 2^-14: ties up to the even 2^-14 */
                           4.9e-324,
                           0.0,
                           -0.0};
    for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
        check_rounding(ends[k]);
        check_rounding(-ends[k]);
    }
    uint16_t h;
    cr_assert(nr_half_from_double(nextafter(65520.0, 0), &h) && h == 0x7bff);
    cr_assert(!nr_half_from_double(65520.0, &h), "65520 rounds to 2^16: an overflow");
    cr_assert(!nr_half_from_double(INFINITY, &h) && !nr_half_from_double(NAN, &h));
    cr_assert(nr_half_from_double(-0.0, &h) && h == 0x8000, "-0 keeps its sign");
    /* and a million doubles of every magnitude in range */
    uint64_t s = 99;
    for (int i = 0; i < 1000000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const double u = (double)(s >> 11) * 0x1p-53;
        check_rounding(ldexp(u, (int)(s % 44) - 28) * ((s >> 7) & 1 ? -1 : 1));
    }
}

/* ------------------------------------------------------------- training -- */

/* rows of gen's f16 data (task, seed), and the same values as floats */
typedef struct {
    uint16_t *h;
    float *f;
    nr_data d16, d32;
} pair;

static pair make_pair(size_t rows, size_t d, nr_task task, uint64_t seed) {
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = rows, o.features = d, o.task = task, o.seed = seed, o.dtype = NR_F16;
    o.dist = NR_DIST_NORMAL;
    pair p;
    const size_t n = rows * (d + 1);
    p.h = malloc(n * sizeof *p.h);
    p.f = malloc(n * sizeof *p.f);
    nr_error err;
    cr_assert_eq(nr_gen_fill(&o, p.h, &err), NR_OK, "%s", err.msg);
    for (size_t i = 0; i < n; i++) p.f[i] = (float)half_by_definition(p.h[i]);
    p.d16 = (nr_data){.rows = rows, .features = d, .dtype = NR_F16, .values = p.h};
    p.d32 = (nr_data){.rows = rows, .features = d, .dtype = NR_F32, .values = p.f};
    return p;
}

static void pair_free(pair *p) {
    free(p->h), free(p->f);
}

static void train_both_and_compare(const pair *p, const nr_train_opts *o, const char *what) {
    nr_model m16, m32;
    nr_train_result r16, r32;
    nr_error err;
    nr_model_init(&m16, p->d16.features, NULL);
    nr_model_init(&m32, p->d32.features, NULL);
    cr_assert_eq(nr_train(&p->d16, o, &m16, &r16, &err), NR_OK, "%s f16: %s", what, err.msg);
    cr_assert_eq(nr_train(&p->d32, o, &m32, &r32, &err), NR_OK, "%s f32: %s", what, err.msg);
    for (size_t j = 0; j < m16.features; j++)
        cr_assert(!memcmp(&m16.weights[j], &m32.weights[j], 8), "%s: w%zu %.17g vs %.17g", what, j,
                  m16.weights[j], m32.weights[j]);
    cr_assert(!memcmp(&m16.bias, &m32.bias, 8), "%s: bias %.17g vs %.17g", what, m16.bias,
              m32.bias);
    cr_assert(!memcmp(&r16.train_loss, &r32.train_loss, 8), "%s: loss", what);
    nr_train_result_free(&r16), nr_train_result_free(&r32);
    nr_model_free(&m16), nr_model_free(&m32);
}

Test(f16, training_on_f16_gives_the_bits_of_the_widened_f32_file) {
    /* 3 blocks and a tail; widths that take the kernels' d = 1 and
     * many-feature paths */
    const size_t widths[] = {1, 5};
    const nr_kernel_choice kernels[] = {NR_KERNEL_SCALAR, NR_KERNEL_AVX2};
    for (size_t wi = 0; wi < 2; wi++) {
        pair reg = make_pair(3 * 4096 + 77, widths[wi], NR_TASK_REGRESS, 5 + wi);
        pair cls = make_pair(3 * 4096 + 77, widths[wi], NR_TASK_CLASSIFY, 9 + wi);
        for (size_t ki = 0; ki < 2; ki++) {
            if (!nr_kernel_name(kernels[ki], NULL)) continue;
            for (int threads = 1; threads <= 3; threads++) {
                nr_train_opts o;
                nr_train_defaults(&o);
                o.kernel = kernels[ki], o.threads = threads, o.epochs = 7;
                char what[128];
                const struct {
                    nr_algo algo;
                    nr_activation act;
                    bool huber, standardize;
                    const char *name;
                } runs[] = {
                    {NR_ALGO_BATCH, NR_ACT_IDENTITY, false, false, "batch"},
                    {NR_ALGO_BATCH, NR_ACT_IDENTITY, false, true, "batch --standardize"},
                    {NR_ALGO_MINIBATCH, NR_ACT_IDENTITY, false, false, "minibatch"},
                    {NR_ALGO_BATCH, NR_ACT_IDENTITY, true, false, "huber"},
                    {NR_ALGO_SGD, NR_ACT_IDENTITY, false, false, "sgd"},
                    {NR_ALGO_OLS, NR_ACT_IDENTITY, false, false, "ols"},
                    {NR_ALGO_BATCH, NR_ACT_SIGMOID, false, false, "logistic batch"},
                    {NR_ALGO_MINIBATCH, NR_ACT_SIGMOID, false, false, "logistic minibatch"},
                    {NR_ALGO_SGD, NR_ACT_SIGMOID, false, false, "logistic sgd"},
                    {NR_ALGO_NEWTON, NR_ACT_SIGMOID, false, false, "newton"},
                    {NR_ALGO_BATCH, NR_ACT_STEP, false, false, "perceptron"},
                };
                for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
                    nr_train_opts t = o;
                    t.algo = runs[r].algo, t.activation = runs[r].act;
                    t.standardize = runs[r].standardize;
                    if (runs[r].huber) t.loss = NR_LOSS_HUBER, t.delta = 0.5;
                    if (t.algo == NR_ALGO_SGD) t.lr = 0.001, t.epochs = 2;
                    if (t.algo == NR_ALGO_MINIBATCH) t.batch = 1000;
                    snprintf(what, sizeof what, "%s, d %zu, %s, %d threads", runs[r].name,
                             widths[wi], kernels[ki] == NR_KERNEL_SCALAR ? "scalar" : "avx2",
                             threads);
                    train_both_and_compare(runs[r].act == NR_ACT_IDENTITY ? &reg : &cls, &t, what);
                }
            }
        }
        pair_free(&reg), pair_free(&cls);
    }
}

Test(f16, loss_at_the_optimum_is_within_1e_3_of_f32_data) {
    /* the same seed in both types: the x differ by f16's rounding (2^-11
     * relative), and y is computed from each file's own x, so the optimum
     * and the noise are the same; what changes the loss is the rounding of
     * y (at most 2^-7 for |y| < 16 here, variance ~1e-6 against the noise's
     * 1/3): well inside 1e-3, while a misread value or a wrong rounding
     * moves it by orders of magnitude more */
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = 200000, o.features = 4, o.noise = 1.0, o.seed = 31;
    nr_dataset *a, *b;
    cr_assert_eq(nr_dataset_alloc(o.rows, 4, NR_F16, &a, NULL), NR_OK);
    cr_assert_eq(nr_dataset_alloc(o.rows, 4, NR_F32, &b, NULL), NR_OK);
    o.dtype = NR_F16;
    cr_assert_eq(nr_gen_fill(&o, nr_dataset_mutable(a), NULL), NR_OK);
    o.dtype = NR_F32;
    cr_assert_eq(nr_gen_fill(&o, nr_dataset_mutable(b), NULL), NR_OK);
    const nr_algo algos[] = {NR_ALGO_OLS, NR_ALGO_BATCH};
    for (int k = 0; k < 2; k++) {
        double loss[2];
        for (int t = 0; t < 2; t++) {
            nr_train_opts to;
            nr_train_defaults(&to);
            to.algo = algos[k], to.epochs = 300, to.lr = 0.2;
            nr_model m;
            nr_train_result r;
            nr_model_init(&m, 4, NULL);
            cr_assert_eq(nr_train(nr_dataset_view(t ? b : a), &to, &m, &r, NULL), NR_OK);
            loss[t] = r.train_loss;
            nr_train_result_free(&r);
            nr_model_free(&m);
        }
        cr_assert(fabs(loss[0] - loss[1]) <= 1e-3 * loss[1], "%s: f16 %.9g, f32 %.9g",
                  k ? "batch" : "ols", loss[0], loss[1]);
    }
    nr_dataset_free(a), nr_dataset_free(b);
}

Test(f16, gen_rounds_each_feature_once_from_the_f64_value) {
    enum { R = 5000, D = 3 };
    nr_gen_opts o;
    nr_gen_defaults(&o);
    o.rows = R, o.features = D, o.seed = 3, o.dist = NR_DIST_NORMAL;
    static double v[R * (D + 1)];
    static uint16_t h[R * (D + 1)];
    o.dtype = NR_F64;
    cr_assert_eq(nr_gen_fill(&o, v, NULL), NR_OK);
    o.dtype = NR_F16;
    o.threads = 3;
    cr_assert_eq(nr_gen_fill(&o, h, NULL), NR_OK);
    for (size_t i = 0; i < R; i++) {
        double z = o.bias;
        for (size_t j = 0; j < D; j++) {
            uint16_t want;
            cr_assert(nearest_half(v[i * (D + 1) + j], &want));
            cr_assert_eq(h[i * (D + 1) + j], want, "row %zu col %zu", i, j);
            z += (double)(j + 1) * half_by_definition(want);
        }
        /* the target: w.x over the stored halves, plus noise in [-0.1, 0.1],
         * rounded once (half an ulp: at most 2^-8 below 32) */
        const double y = half_by_definition(h[i * (D + 1) + D]);
        cr_assert(fabs(y - z) <= 0.1 + ldexp(1, -6), "row %zu: y %g, w.x + b %g", i, y, z);
    }
}

/* ----------------------------------------------------------- CLI, files -- */

static char *path_in(const char *dir, const char *name) {
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite(b, 1, n, f) == n);
    fclose(f);
}

/* An f16 .npy of rows x 2 with the given values (header by the library). */
static void write_f16_npy(const char *path, const uint16_t *v, size_t rows, size_t trim) {
    char head[256];
    const size_t h = nr_npy_header(head, sizeof head, NR_F16, rows, 2);
    cr_assert(h > 0 && memmem(head, h, "'<f2'", 5));
    char *buf = malloc(h + rows * 4);
    memcpy(buf, head, h);
    memcpy(buf + h, v, rows * 4);
    write_bytes(path, buf, h + rows * 4 - trim);
    free(buf);
}

static void expect_bad(const char *const *args, int code, const char *frag, const char *out) {
    run_result r;
    run_neuron(&r, args);
    cr_assert_eq(r.status, code, "%s: exit %d: %s", args[0], r.status, r.err);
    cr_assert(strstr(r.err, frag), "stderr '%s' lacks '%s'", r.err, frag);
    cr_assert(!strncmp(r.err, "neuron: error: ", 15) && count_lines(r.err) == 1, "%s", r.err);
    if (out) cr_assert(access(out, F_OK) != 0, "%s was written", out);
    run_free(&r);
}

Test(f16, bad_input_is_refused_with_one_line_and_no_output) {
    char *dir = scratch_dir(), *model = path_in(dir, "m.json");
    /* a CSV value beyond 65504 converted with --dtype f16 */
    char *csv = path_in(dir, "big.csv");
    const char *text = "x,y\n1,2\n3,4\n5,-65520\n";
    write_bytes(csv, text, strlen(text));
    const char *a1[] = {"train", "--data", csv, "--dtype", "f16", "--model", model, NULL};
    expect_bad(a1, 3, "row 3, column 2: value -65520 is out of f16's range", model);
    /* the same from an f32 .npy */
    char *npy32 = path_in(dir, "big32.npy");
    {
        nr_dataset *ds;
        cr_assert_eq(nr_dataset_alloc(4, 1, NR_F32, &ds, NULL), NR_OK);
        float *f = nr_dataset_mutable(ds);
        for (int i = 0; i < 8; i++) f[i] = (float)i;
        f[5] = 1e5f;
        cr_assert_eq(nr_data_save(nr_dataset_view(ds), npy32, NULL), NR_OK);
        nr_dataset_free(ds);
    }
    const char *a2[] = {"train", "--data", npy32, "--dtype", "f16", "--model", model, NULL};
    expect_bad(a2, 3, "row 3, column 2: value 100000 is out of f16's range", model);
    /* Inf and NaN in an f16 file, named by row and column */
    const uint16_t inf[] = {0x3c00, 0x4000, 0x3c00, 0x7c00, 0x3c00, 0x4000};
    const uint16_t nan[] = {0x3c00, 0x4000, 0xfe01, 0x4000, 0x3c00, 0x4000};
    char *pinf = path_in(dir, "inf.npy"), *pnan = path_in(dir, "nan.npy");
    write_f16_npy(pinf, inf, 3, 0);
    write_f16_npy(pnan, nan, 3, 0);
    const char *a3[] = {"train", "--data", pinf, "--model", model, NULL};
    expect_bad(a3, 3, "inf.npy: row 2, column 2: value is Inf", model);
    const char *a4[] = {"train", "--data", pnan, "--model", model, NULL};
    expect_bad(a4, 3, "nan.npy: row 2, column 1: value is NaN", model);
    /* truncated by one byte */
    char *ptr = path_in(dir, "trunc.npy");
    write_f16_npy(ptr, inf, 3, 1);
    const char *a5[] = {"train", "--data", ptr, "--model", model, NULL};
    expect_bad(a5, 3, "truncated: shape (3, 2) needs 12 bytes of data, the file has 11", model);
    /* gen: a target beyond f16's range names the row and the column */
    char *gout = path_in(dir, "g.npy");
    const char *a6[] = {"gen",     "--rows", "100",   "--bias", "65600",
                        "--dtype", "f16",    "--out", gout,     NULL};
    expect_bad(a6, 2, "row 1, column 2 (the target): ", gout);
    expect_bad(a6, 2, "overflows f16 (largest finite 65504)", gout);
    /* neuron-mpi's shares and --stream do not read f16: refused, named */
    char *ok = path_in(dir, "ok.npy");
    const uint16_t fine[] = {0x3c00, 0x4000, 0x4000, 0x4400, 0x4200, 0x4500};
    write_f16_npy(ok, fine, 3, 0);
    const char *a7[] = {"train", "--data", ok, "--stream", "--model", model, NULL};
    expect_bad(a7, 3, "ok.npy: f16 rows are not shared between processes or streamed", model);
    free(csv), free(npy32), free(pinf), free(pnan), free(ptr), free(gout), free(ok), free(model);
    free(dir);
}

Test(f16, npy_round_trip_mapped_and_the_csv_holds_the_same_values) {
    char *dir = scratch_dir(), *npy = path_in(dir, "g.npy"), *csv = path_in(dir, "g.csv");
    const char *g1[] = {"gen", "--rows", "3000",   "--features", "3", "--dtype",
                        "f16", "--dist", "normal", "--out",      npy, NULL};
    const char *g2[] = {"gen", "--rows", "3000",   "--features", "3", "--dtype",
                        "f16", "--dist", "normal", "--out",      csv, NULL};
    run_result r;
    run_neuron(&r, g1);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"dtype\": \"f16\""), "%s", r.out);
    run_free(&r);
    run_neuron(&r, g2);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    nr_dataset *a = NULL, *b = NULL;
    nr_load_opts lo;
    nr_load_defaults(&lo);
    lo.convert = true, lo.dtype = NR_F16;
    cr_assert_eq(nr_dataset_load(npy, NULL, &a, NULL), NR_OK);
    cr_assert(nr_dataset_is_mapped(a), "a little-endian C-order <f2 file is used in place");
    cr_assert_eq(nr_dataset_view(a)->dtype, NR_F16);
    cr_assert_eq(nr_dataset_load(csv, &lo, &b, NULL), NR_OK);
    cr_assert_eq(nr_dataset_view(b)->dtype, NR_F16);
    /* the CSV holds each half's shortest float text, which rounds back to
     * the same half */
    cr_assert(!memcmp(nr_dataset_view(a)->values, nr_dataset_view(b)->values, 3000 * 4 * 2));
    nr_dataset_free(b);
    /* --dtype f16 on the f16 file itself keeps it mapped */
    cr_assert_eq(nr_dataset_load(npy, &lo, &b, NULL), NR_OK);
    cr_assert(nr_dataset_is_mapped(b));
    nr_dataset_free(b);
    /* numpy reads it as float16, and its own rounding of the CSV's texts
     * gives the same halves */
    if (access("/usr/bin/python3", X_OK) == 0) {
        char code[4096];
        snprintf(code, sizeof code,
                 "import sys\ntry:\n import numpy as np\nexcept ImportError:\n sys.exit(77)\n"
                 "a = np.load('%s')\nc = np.loadtxt('%s', delimiter=',', skiprows=1)\n"
                 "ok = a.dtype == np.float16 and a.shape == (3000, 4) and "
                 "(a.astype(np.float32) == c.astype(np.float32)).all() and "
                 "(c.astype(np.float16) == a).all()\n"
                 "sys.exit(0 if ok else 1)\n",
                 npy, csv);
        const char *argv[] = {"/usr/bin/python3", "-c", code, NULL};
        run_program(&r, argv);
        if (r.status != 77) cr_assert_eq(r.status, 0, "numpy disagrees: %s", r.err);
        run_free(&r);
    }
    nr_dataset_free(a);
    free(npy), free(csv), free(dir);
}

Test(f16, numpy_files_of_every_layout_are_read_exactly) {
    if (access("/usr/bin/python3", X_OK) != 0) cr_skip_test("no /usr/bin/python3");
    char *dir = scratch_dir();
    /* numpy's own double -> half on hard values (subnormals, ties, the
     * largest finite), in C order, Fortran order and big-endian; predict
     * with w = 1, b = 0 gives back x exactly (0 + 1 * x), as doubles */
    char code[4096];
    snprintf(code, sizeof code,
             "import sys\ntry:\n import numpy as np\nexcept ImportError:\n sys.exit(77)\n"
             "x = np.array([0.0, -0.0, 2**-24, 3 * 2**-25, 2**-14 - 2**-25, 1 + 2**-11, "
             "1 + 3 * 2**-11, 65504.0, -65519.0, 0.1, 1/3.0, -7.77])\n"
             "a = np.stack([x, np.zeros_like(x)], 1).astype(np.float16)\n"
             "np.save('%s/c.npy', a)\nnp.save('%s/f.npy', np.asfortranarray(a))\n"
             "np.save('%s/b.npy', a.astype('>f2'))\n"
             "np.savetxt('%s/want.csv', a[:, 0].astype(np.float64), fmt='%%.17g')\n",
             dir, dir, dir, dir);
    const char *argv[] = {"/usr/bin/python3", "-c", code, NULL};
    run_result r;
    run_program(&r, argv);
    if (r.status == 77) cr_skip_test("numpy is not installed");
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    char *model = path_in(dir, "m.json");
    const char *mtext = "{\"format\": \"neuron-model\", \"version\": 1, \"features\": 1, "
                        "\"weights\": [1], \"bias\": 0}";
    write_bytes(model, mtext, strlen(mtext));
    char *want_text = NULL;
    {
        char *p = path_in(dir, "want.csv");
        want_text = read_file(p, NULL);
        free(p);
    }
    cr_assert(want_text);
    const char *names[] = {"c.npy", "f.npy", "b.npy"};
    for (int k = 0; k < 3; k++) {
        char *in = path_in(dir, names[k]), *out = path_in(dir, "p.csv");
        const char *args[] = {"predict", "--model", model, "--data", in, "--out", out, NULL};
        run_neuron(&r, args);
        cr_assert_eq(r.status, 0, "%s: %s", names[k], r.err);
        run_free(&r);
        char *got = read_file(out, NULL);
        cr_assert(got && !strncmp(got, "y\n", 2), "%s", got);
        /* compare value by value as doubles */
        const char *g = got + 2, *w = want_text;
        for (int i = 0; i < 12; i++) {
            char *ge, *we;
            const double gv = strtod(g, &ge), wv = strtod(w, &we);
            cr_assert(ge != g && we != w && gv == wv, "%s row %d: %.17g, numpy %.17g", names[k],
                      i + 1, gv, wv);
            g = ge, w = we;
        }
        free(got), free(in), free(out);
    }
    free(want_text), free(model), free(dir);
}

Test(f16, bench_runs_on_f16_data) {
    char *dir = scratch_dir(), *npy = path_in(dir, "g.npy");
    const char *g[] = {"gen", "--rows", "20000", "--features", "2", "--out", npy, NULL};
    run_result r;
    run_neuron(&r, g);
    cr_assert_eq(r.status, 0, "%s", r.err);
    run_free(&r);
    const char *b[] = {"bench",   "--data",       npy,      "--dtype", "f16",
                       "--algos", "batch,sgd",    "--reps", "2",       "--threads",
                       "1",       "--max-rounds", "1",      NULL};
    run_neuron(&r, b);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "f16"), "%s", r.out);
    run_free(&r);
    free(npy), free(dir);
}

Test(f16, the_roof_reads_f16_as_16_bit_integers) {
    /* the read sums the bit patterns in 16-bit lanes, wrapping: with one
     * thread the checksum is their sum modulo 2^16, whatever the order,
     * plain or AVX2; an f16 file read as floats or doubles would not give it */
    enum { N = 10007 * 3 };
    static uint16_t h[N];
    uint32_t want = 0;
    for (size_t i = 0; i < N; i++) h[i] = (uint16_t)(0x3c00 + i % 977), want += h[i];
    const nr_data d = {.rows = N / 3, .features = 2, .dtype = NR_F16, .values = h};
    const nr_kernel_choice ks[] = {NR_KERNEL_SCALAR, NR_KERNEL_AVX2};
    for (int k = 0; k < 2; k++) {
        if (!nr_kernel_name(ks[k], NULL)) continue;
        double sum = -1;
        cr_assert_eq(nr_data_sum(&d, ks[k], 1, &sum, NULL), NR_OK);
        cr_assert(sum == (double)(want & 0xffff), "kernel %d: %g, want %u", k, sum, want & 0xffff);
    }
}
