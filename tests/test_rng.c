/* The Mersenne Twister against CPython's own output (tests/golden/rng.txt,
 * made by tests/golden/make_rng.py). Every comparison is exact: bits, not
 * tolerances, because the tutorial's data depend on every bit. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "neuron_tutorial.h"
#include "util.h"

Test(rng, matches_cpython_for_every_golden_seed) {
    char *path = source_path("tests/golden/rng.txt");
    char *text = read_file(path, NULL);
    cr_assert(text, "cannot read %s", path);
    char *save = NULL, *prev_seed = NULL, *prev_kind = NULL;
    nr_mt mt;
    size_t checked = 0, seeds = 0;
    int idx = 0; /* index of the draw within the current (seed, kind) run */
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        cr_assert(sp1 && sp2, "bad golden line");
        *sp1 = *sp2 = '\0';
        const char *seed = line, *kind = sp1 + 1, *val = sp2 + 1;
        if (!prev_seed || strcmp(prev_seed, seed) || strcmp(prev_kind, kind)) {
            cr_assert_eq(nr_mt_seed_decimal(&mt, seed, NULL), NR_OK, "seed %s", seed);
            if (!prev_seed || strcmp(prev_seed, seed)) seeds++;
            prev_seed = (char *)seed;
            prev_kind = (char *)kind;
            idx = 0;
        }
        if (!strcmp(kind, "u32")) {
            cr_assert_eq(nr_mt_next_u32(&mt), strtoul(val, NULL, 10), "seed %s u32 #%d", seed, idx);
            idx++;
        } else if (!strcmp(kind, "random")) {
            /* The golden file keeps a sample of the first 700 draws; draw the
             * skipped ones too so that the stream stays aligned. */
            double want = strtod(val, NULL), got;
            for (;;) {
                got = nr_mt_random(&mt);
                int keep = idx < 8 || idx % 97 == 0 || idx >= 690;
                idx++;
                if (keep) break;
            }
            cr_assert(got == want, "seed %s random #%d: got %a, CPython %a", seed, idx - 1, got,
                      want);
        } else if (!strcmp(kind, "uniform")) {
            double want = strtod(val, NULL), got = nr_mt_uniform(&mt, -100.0, 100.0);
            cr_assert(got == want, "seed %s uniform: got %a, CPython %a", seed, got, want);
        } else {
            cr_assert_fail("unknown kind %s", kind);
        }
        checked++;
    }
    cr_assert_geq(seeds, 10, "golden file covers %zu seeds", seeds);
    cr_assert_geq(checked, 300);
    free(text);
    free(path);
}

Test(rng, negative_seed_is_its_absolute_value) {
    nr_mt a, b;
    nr_mt_seed_decimal(&a, "-12345678901234567890123", NULL);
    nr_mt_seed_decimal(&b, "12345678901234567890123", NULL);
    for (int i = 0; i < 1000; i++) cr_assert_eq(nr_mt_next_u32(&a), nr_mt_next_u32(&b));
}

Test(rng, u64_seed_matches_decimal_text) {
    nr_mt a, b;
    nr_mt_seed_u64(&a, 18446744073709551615ull);
    nr_mt_seed_decimal(&b, "18446744073709551615", NULL);
    for (int i = 0; i < 1000; i++) cr_assert_eq(nr_mt_next_u32(&a), nr_mt_next_u32(&b));
    nr_mt_seed_u64(&a, 7);
    nr_mt_seed_decimal(&b, " +0_0_7 ", NULL); /* Python's int() accepts this spelling */
    for (int i = 0; i < 1000; i++) cr_assert_eq(nr_mt_next_u32(&a), nr_mt_next_u32(&b));
}

Test(rng, rejects_text_that_is_not_an_integer) {
    const char *bad[] = {"", " ", "-", "12a", "1.5", "0x10", "1__0", "_1", "1_", "--1", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nr_mt mt;
        nr_error err = {{0}};
        cr_assert_eq(nr_mt_seed_decimal(&mt, bad[i], &err), NR_ERR_ARG, "'%s' accepted", bad[i]);
        cr_assert(strstr(err.msg, "seed"), "message: %s", err.msg);
    }
}
