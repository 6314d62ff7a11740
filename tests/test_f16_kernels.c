/* The AVX2 kernels that read f16 rows in place (kernels_avx2.c) against the
 * AVX2 f32 kernels on the same rows widened to floats: the contract
 * (kernels.h, nr_grad_f16_fn) is the same bits, since half -> float ->
 * double is exact and the operation order is the f32 kernel's, so every
 * comparison is of bits, with no tolerance (the data are finite but for
 * the last test's labels, where a NaN's payload is not compared). Every objective, every width
 * path (1, the small widths 2..16 with each tail length, the generic loop
 * beyond, and a row wider than the kernels' stack scratch), row counts that
 * leave every remainder of the 8- and 4-row loops, and the halves placed
 * against an unmapped page so that a read past the last row faults. The
 * trainer's choice of these kernels is checked too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels.h"
#include "objective.h"
#include "train/train.h"

/* xorshift64*: reproducible data without the library's own generator */
static uint64_t next(uint64_t *s) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* A random half of magnitude below 8: every sign, subnormals and zeros
 * (exponent field 0), and now and then the largest finite half, so that
 * the widening of every kind of half reaches the arithmetic. */
static uint16_t random_half(uint64_t *s) {
    const uint64_t r = next(s);
    if (r % 97 == 0) return (uint16_t)(0x7bffu | (r >> 20 & 1) << 15); /* +-65504 */
    const unsigned sign = r >> 8 & 1, e = (unsigned)(r >> 9) % 18, m = (unsigned)(r >> 16) & 1023;
    return (uint16_t)(sign << 15 | e << 10 | m);
}

/* n halves ending exactly where an inaccessible page begins. */
typedef struct {
    char *map;
    size_t len;
    uint16_t *h;
} guarded;

static guarded guarded_halves(size_t n) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t data = (n * sizeof(uint16_t) + page - 1) / page * page;
    guarded g = {.len = data + page};
    g.map = mmap(NULL, g.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(g.map != MAP_FAILED, "mmap");
    cr_assert_eq(mprotect(g.map + data, page, PROT_NONE), 0, "mprotect");
    g.h = (uint16_t *)(g.map + data) - n;
    return g;
}

static void bits_equal(const double *a, const double *b, size_t n, const char *what) {
    for (size_t j = 0; j < n; j++)
        cr_assert(!memcmp(&a[j], &b[j], sizeof a[j]), "%s: out[%zu] f16 %a vs f32 %a", what, j,
                  a[j], b[j]);
}

enum { SQUARED, LOGISTIC, PERCEPTRON, HUBER, OBJECTIVES };
static const char *const objective_name[] = {"squared", "logistic", "perceptron", "huber"};

/* Runs objective o's f16 and f32 kernels of table k on the same rows;
 * returns what the f16 kernel returned (out16 untouched if false). */
static bool run_both(const nr_kernels *k, int o, const uint16_t *h, const float *f, size_t n,
                     size_t d, const double *w, double b, double *out16, double *out32) {
    const double delta = 0.75;
    switch (o) {
    case SQUARED:
        k->grad_f32(f, n, d, w, b, out32);
        return k->grad_f16(h, n, d, w, b, out16);
    case LOGISTIC:
        k->logistic_f32(f, n, d, w, b, out32);
        return k->logistic_f16(h, n, d, w, b, out16);
    case PERCEPTRON:
        k->perceptron_f32(f, n, d, w, b, out32);
        return k->perceptron_f16(h, n, d, w, b, out16);
    default:
        k->huber_f32(f, n, d, w, b, delta, out32);
        return k->huber_f16(h, n, d, w, b, delta, out16);
    }
}

/* Rows of width d (n of them) in both types, compared for every objective. */
static void compare_rows(const nr_kernels *k, size_t n, size_t d, uint64_t *s) {
    const size_t count = n * (d + 1);
    guarded g = guarded_halves(count);
    float *f = malloc((count ? count : 1) * sizeof *f);
    double *w = malloc((d ? d : 1) * sizeof *w), *o16 = malloc((d + 2) * sizeof *o16);
    double *o32 = malloc((d + 2) * sizeof *o32);
    cr_assert(f && w && o16 && o32);
    for (size_t i = 0; i < count; i++) g.h[i] = random_half(s);
    k->widen_f16(g.h, count, f);
    /* weights of a size that keeps z near the step's and sigmoid's turn */
    for (size_t j = 0; j < d; j++) w[j] = ((double)(next(s) >> 11) * 0x1p-53 - 0.5) / (double)(d);
    const double b = (double)(next(s) >> 11) * 0x1p-53 - 0.5;
    for (int o = 0; o < OBJECTIVES; o++) {
        char what[96];
        snprintf(what, sizeof what, "%s, d %zu, %zu rows", objective_name[o], d, n);
        cr_assert(run_both(k, o, g.h, f, n, d, w, b, o16, o32), "%s: the f16 kernel declined",
                  what);
        bits_equal(o16, o32, d + 2, what);
    }
    free(f), free(w), free(o16), free(o32);
    munmap(g.map, g.len);
}

static const nr_kernels *avx2_or_skip(void) {
    const nr_kernels *k = nr_kernels_select(NR_KERNEL_AVX2, NULL);
    if (!k) cr_skip_test("this CPU has no AVX2+FMA+F16C");
    cr_assert(k->grad_f16 && k->logistic_f16 && k->perceptron_f16 && k->huber_f16,
              "the AVX2 table must have its f16 kernels");
    return k;
}

Test(f16_kernels, the_f16_kernels_give_the_f32_kernels_bits_on_the_widened_rows) {
    const nr_kernels *k = avx2_or_skip();
    uint64_t s = 0x9e3779b97f4a7c15ull;
    /* 4099 and 2053: many blocks of the 8- and 4-row loops, then a tail;
     * 4100: many, and none; 15-17: the 8-row loops' one group and a tail,
     * two groups (the second computed ahead of the first's end), two and
     * a row */
    const size_t rows[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 2053, 4099, 4100};
    for (size_t d = 1; d <= 33; d++) {
        if (d > 20 && d != 33) continue;
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) compare_rows(k, rows[r], d, &s);
    }
}

Test(f16_kernels, rows_wider_than_the_stack_scratch_give_the_same_bits) {
    const nr_kernels *k = avx2_or_skip();
    uint64_t s = 77;
    /* 1024 features fit the kernels' 16 KiB stack scratch and huber's 256
     * vectors; 1031 takes the heap's (huber declines it: tested below) */
    compare_rows(k, 5, 1024, &s);
    for (size_t n = 0; n <= 5; n += 5) {
        const size_t d = 1031, count = n * (d + 1);
        guarded g = guarded_halves(count);
        float *f = malloc((count ? count : 1) * sizeof *f);
        double w[1031], o16[1033], o32[1033];
        for (size_t i = 0; i < count; i++) g.h[i] = random_half(&s);
        k->widen_f16(g.h, count, f);
        for (size_t j = 0; j < d; j++) w[j] = 1e-3 * (double)(j % 7) - 2e-3;
        for (int o = 0; o < HUBER; o++) {
            cr_assert(run_both(k, o, g.h, f, n, d, w, 0.25, o16, o32), "%s declined d %zu",
                      objective_name[o], d);
            bits_equal(o16, o32, d + 2, objective_name[o]);
        }
        free(f);
        munmap(g.map, g.len);
    }
}

Test(f16_kernels, declined_shapes_return_false_and_leave_out_untouched) {
    const nr_kernels *k = avx2_or_skip();
    /* no feature (the bias alone) for every objective; huber past 1024
     * features: the caller widens for the f32 kernel instead */
    const uint16_t y[3] = {0x3c00, 0xbc00, 0x4000}; /* 1, -1, 2 */
    const float yf[3] = {1.0f, -1.0f, 2.0f};
    double out[2] = {12345.0, 12345.0}, o32[2];
    for (int o = 0; o < OBJECTIVES; o++) {
        cr_assert(!run_both(k, o, y, yf, 3, 0, NULL, 0.5, out, o32), "%s took d = 0",
                  objective_name[o]);
        cr_assert(out[0] == 12345.0 && out[1] == 12345.0, "%s wrote out", objective_name[o]);
    }
    static uint16_t rows[2 * 1026];
    static double w[1025], o16[1027];
    o16[0] = 12345.0;
    cr_assert(!k->huber_f16(rows, 2, 1025, w, 0.0, 1.0, o16), "huber took 1025 features");
    cr_assert(o16[0] == 12345.0);
}

/* The trainer's passer picks the table's f16 kernel of the objective, and
 * none for the scalar table (which widens: the ground truth). */
Test(f16_kernels, the_passer_takes_the_objectives_f16_kernel) {
    const nr_kernels *k = avx2_or_skip();
    static const uint16_t values[3 * 4] = {0};
    const nr_data d = {.rows = 4, .features = 2, .dtype = NR_F16, .values = values};
    const struct {
        const nr_objective *obj;
        nr_grad_f16_fn h16;
        nr_gradp_f16_fn ph16;
    } cases[] = {
        {nr_objective_for(NR_ACT_IDENTITY), k->grad_f16, NULL},
        {nr_objective_for(NR_ACT_SIGMOID), k->logistic_f16, NULL},
        {nr_objective_for(NR_ACT_STEP), k->perceptron_f16, NULL},
        {nr_objective_huber(), NULL, k->huber_f16},
    };
    for (size_t c = 0; c < 4; c++) {
        nr_passer p;
        nr_error err;
        cr_assert_eq(nr_passer_init(&p, &d, cases[c].obj, NR_KERNEL_AVX2, 1, &err), NR_OK);
        cr_assert(p.h16 == cases[c].h16 && p.ph16 == cases[c].ph16, "case %zu", c);
        nr_passer_free(&p);
        cr_assert_eq(nr_passer_init(&p, &d, cases[c].obj, NR_KERNEL_SCALAR, 1, &err), NR_OK);
        cr_assert(!p.h16 && !p.ph16, "scalar table, case %zu", c);
        nr_passer_free(&p);
    }
}

/* The kernels of 2..16 features load a row's last halves 4 or 8 at a time
 * and mask off those past its features (its label, the next row's first
 * values), as the f32 kernels' masked loads do; the block's last row, whose
 * load would read past the block, takes its halves one by one instead. The
 * logistic kernel masks the same values in the doubles it widened each
 * group of 8 rows to.
 * With finite halves there a missing mask would go unseen (times a zero
 * weight they add +-0 to an accumulator that is never -0), so every third
 * label here is infinite: where the f32 kernel's sum of residuals is -inf,
 * a label let into the dot product would make it 0 * inf = NaN. 37 rows
 * leave the last one to the scalar tail, 40 put an infinite label on the
 * last row of the 4-row loop (the one-by-one load). Same bits, or NaN in
 * both (NaN payloads are not part of the contract, kernels.h). */
Test(f16_kernels, halves_past_a_rows_features_are_masked_off) {
    const nr_kernels *k = avx2_or_skip();
    uint64_t s = 4242;
    for (size_t n = 37; n <= 40; n += 3)
        for (size_t d = 2; d <= 16; d++) {
            if (d % 4 == 0) continue; /* whole vectors: nothing to mask */
            const size_t count = n * (d + 1);
            guarded g = guarded_halves(count);
            float *f = malloc(count * sizeof *f);
            double w[16], o16[18], o32[18];
            cr_assert(f);
            for (size_t i = 0; i < count; i++) g.h[i] = random_half(&s);
            for (size_t i = 0; i < n; i += 3) g.h[i * (d + 1) + d] = 0x7c00; /* +inf label */
            k->widen_f16(g.h, count, f);
            for (size_t j = 0; j < d; j++) w[j] = 0.125 * (double)(j + 1);
            for (int o = SQUARED; o <= PERCEPTRON; o++) {
                cr_assert(run_both(k, o, g.h, f, n, d, w, 0.5, o16, o32));
                if (o == SQUARED) /* what a NaN dot product would hide */
                    cr_assert(isinf(o32[d]) && o32[d] < 0, "d %zu: f32 sum of r %a", d, o32[d]);
                for (size_t j = 0; j < d + 2; j++)
                    cr_assert(!memcmp(&o16[j], &o32[j], sizeof o16[j]) ||
                                  (isnan(o16[j]) && isnan(o32[j])),
                              "%s, d %zu, %zu rows: out[%zu] f16 %a vs f32 %a", objective_name[o],
                              d, n, j, o16[j], o32[j]);
            }
            free(f);
            munmap(g.map, g.len);
        }
}
