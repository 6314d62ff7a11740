/* The benchmarks' roof (src/roof.c): the streaming read sums every value,
 * checked against a separate plain loop, for each build of it and thread
 * count; and the last-level cache size is found or defaulted. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neuron.h"

/* Small integers in [-7, 7]: every partial sum of up to 2^20 of them is an
 * integer below 2^24, exact in float and double, so any order of addition
 * gives the same bits and the read can be compared exactly. */
static double small_int(size_t i) {
    return (double)((i * 2654435761u >> 7) % 15) - 7.0;
}

Test(roof, streaming_read_sums_every_value_exactly_for_every_build_and_thread_count) {
    /* sizes around the 32-float accumulator width, uneven shares per thread */
    const size_t rows[] = {1, 7, 33, 4097, 100003};
    for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++) {
        const size_t n = rows[ri], d = 2, m = n * (d + 1);
        double *v = malloc(m * sizeof *v);
        float *f = malloc(m * sizeof *f);
        double want = 0; /* the plain loop, in double */
        for (size_t i = 0; i < m; i++) v[i] = small_int(i), f[i] = (float)v[i], want += v[i];
        for (int k = 0; k < 2; k++) {
            nr_kernel_choice kc = k ? NR_KERNEL_AVX2 : NR_KERNEL_SCALAR;
            if (!nr_kernel_name(kc, NULL)) continue;
            for (int t = 1; t <= 5; t++) {
                nr_data d64 = {n, d, NR_F64, v}, d32 = {n, d, NR_F32, f};
                double s64 = NAN, s32 = NAN;
                cr_assert_eq(nr_data_sum(&d64, kc, t, &s64, NULL), NR_OK);
                cr_assert_eq(nr_data_sum(&d32, kc, t, &s32, NULL), NR_OK);
                cr_assert_eq(s64, want, "n %zu kernel %d threads %d: %g vs %g", n, k, t, s64, want);
                cr_assert_eq(s32, want, "n %zu kernel %d threads %d: %g vs %g", n, k, t, s32, want);
            }
        }
        free(f);
        free(v);
    }
}

Test(roof, f32_read_stays_in_float_and_is_close_on_fractions) {
    /* 3e5 values in (0, 1): float lanes of ~10^4 additions each carry a
     * relative error of at most ~10^4 * 2^-24 = 6e-4 in the worst case and
     * ~1e-5 typically; 1e-3 relative is a bound the read must meet */
    const size_t n = 100000, m = n * 3;
    float *f = malloc(m * sizeof *f);
    long double want = 0;
    for (size_t i = 0; i < m; i++)
        f[i] = (float)((i * 2654435761u % 1000003) / 1000003.0), want += f[i];
    nr_data d = {n, 2, NR_F32, f};
    for (int t = 1; t <= 2; t++) {
        double s;
        cr_assert_eq(nr_data_sum(&d, NR_KERNEL_AUTO, t, &s, NULL), NR_OK);
        cr_assert_leq(fabsl(s - want), 1e-3L * want, "threads %d: %.9g vs %.9Lg", t, s, want);
    }
    free(f);
}

Test(roof, a_kernel_the_cpu_lacks_is_refused) {
    float one = 1;
    nr_data d = {1, 0, NR_F32, &one};
    double s;
    nr_error err = {{0}};
    if (nr_kernel_name(NR_KERNEL_AVX2, NULL)) cr_skip_test("this CPU has AVX2");
    cr_assert_eq(nr_data_sum(&d, NR_KERNEL_AVX2, 1, &s, &err), NR_ERR_UNSUPPORTED);
    cr_assert(strstr(err.msg, "avx2"), "%s", err.msg);
}

Test(roof, last_level_cache_is_found_or_a_stated_default) {
    nr_cache_info c;
    nr_llc(&c);
    cr_assert_not_null(c.source);
    if (c.level == 0) {
        cr_assert_eq(c.bytes, NR_LLC_DEFAULT);
        cr_assert(strstr(c.source, "default"), "%s", c.source);
    } else {
        /* any real last level: more than 64 KiB, less than 16 GiB */
        cr_assert(c.level >= 2 && c.bytes > (64u << 10) && c.bytes < ((size_t)16 << 30),
                  "level %d, %zu bytes from %s", c.level, c.bytes, c.source);
    }
}
