/* The CSV reader's number parser (fast_float behind src/parse_float.cc, with
 * strtod for the spellings fast_float does not take) against glibc's strtod,
 * which is correctly rounded: the same bits and the same extent of text on a
 * million random strings and on hard cases, and the same accept/reject rules
 * through the CSV reader. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "neuron.h"
#include "parse_float.h"

static uint64_t bits(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* Both parsers on `s`: fast_float must take it, stop where strtod stops and
 * give strtod's bits (+-inf and +-0 beyond the range included; any NaN for
 * a NaN). */
static void same_as_strtod(const char *s) {
    const size_t n = strlen(s);
    char *end;
    const double want = strtod(s, &end);
    const char *stop = NULL;
    double got = -1.0;
    cr_assert_eq(nr_parse_double(s, s + n, &got, &stop), 0, "'%s' refused", s);
    cr_assert_eq(stop, end, "'%s': stopped after %td characters, strtod after %td", s, stop - s,
                 end - s);
    if (isnan(want)) /* glibc keeps nan(123)'s payload; the CSV refuses any NaN */
        cr_assert(isnan(got), "'%s': %a, strtod NaN", s, got);
    else
        cr_assert_eq(bits(got), bits(want), "'%s': %a, strtod %a", s, got, want);
}

static uint64_t next64(nr_mt *mt) {
    return ((uint64_t)nr_mt_next_u32(mt) << 32) | nr_mt_next_u32(mt);
}

Test(parse_float, million_random_strings_match_strtod, .timeout = 120) {
    nr_mt mt;
    nr_mt_seed_u64(&mt, 2026);
    char s[128];
    for (long i = 0; i < 1000000; i++) {
        const int kind = (int)(i % 6);
        if (kind <= 2) { /* a random finite double, %.17g, %.6g, %.{1..20}e */
            double v;
            do {
                const uint64_t u = next64(&mt);
                memcpy(&v, &u, sizeof v);
            } while (!isfinite(v));
            if (kind == 0) snprintf(s, sizeof s, "%.17g", v);
            if (kind == 1) snprintf(s, sizeof s, "%.6g", v);
            if (kind == 2) snprintf(s, sizeof s, "%.*e", (int)(nr_mt_next_u32(&mt) % 20) + 1, v);
        } else if (kind == 3) { /* data-like values: uniform in +-1000, %.9g */
            snprintf(s, sizeof s, "%.9g", nr_mt_uniform(&mt, -1000, 1000));
        } else { /* digit strings: up to 40 digits, a point anywhere, an exponent */
            size_t len = 0;
            if (nr_mt_next_u32(&mt) & 1) s[len++] = '-';
            const int digits = 1 + (int)(nr_mt_next_u32(&mt) % 40);
            const int point = (int)(nr_mt_next_u32(&mt) % (unsigned)(digits + 2)) - 1;
            for (int d = 0; d < digits; d++) {
                if (d == point) s[len++] = '.';
                s[len++] = (char)('0' + nr_mt_next_u32(&mt) % 10);
            }
            if (kind == 5) {
                const int e = (int)(nr_mt_next_u32(&mt) % 700) - 350;
                len += (size_t)snprintf(s + len, sizeof s - len, "%s%d",
                                        nr_mt_next_u32(&mt) & 1 ? "e" : "E", e);
            }
            s[len] = '\0';
        }
        same_as_strtod(s);
    }
}

/* The exact decimal expansion of the midpoint between v and the next double
 * up: long double (64-bit significand, wider exponent) holds it exactly. */
static void midpoint(char *s, size_t size, double v) {
    const long double m = ((long double)v + (long double)nextafter(v, INFINITY)) / 2;
    snprintf(s, size, "%.800Le", m);
}

Test(parse_float, hard_cases_match_strtod) {
    static const char *fixed[] = {"1e308",
                                  "1.7976931348623157e308",
                                  "1.7976931348623158e308",
                                  "1.7976931348623159e308",
                                  "1e309",
                                  "-1e400",
                                  "4.9e-324",
                                  "5e-324",
                                  "2.4703282292062328e-324",
                                  "2.4703282292062327e-324",
                                  "2.470328229206232720882e-324",
                                  "1e-400",
                                  "-1e-400",
                                  "2.2250738585072011e-308",
                                  "2.2250738585072012e-308",
                                  "2.2250738585072014e-308",
                                  "9007199254740993",
                                  "9007199254740995",
                                  "18014398509481986",
                                  "1e23",
                                  "8.5e-323",
                                  "0.1",
                                  "0.30000000000000004",
                                  "123456789012345678901234567890",
                                  "0",
                                  "-0",
                                  "0.0e999",
                                  "00000000000000000000000000000001.5",
                                  ".5",
                                  "5.",
                                  "1e",
                                  "1e+",
                                  "1.5e-",
                                  "1x",
                                  "-.5e3",
                                  "inf",
                                  "-Infinity",
                                  "nan",
                                  "NaN(123)",
                                  "1.00000000000000011102230246251565404236316680908203125",
                                  "1.00000000000000011102230246251565404236316680908203124",
                                  "1.00000000000000011102230246251565404236316680908203126",
                                  "7.2057594037927933e16",
                                  "3.4028235677973366e38",
                                  "6.631236846766476e-316",
                                  "3.0517578125e-05"};
    size_t count = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, count++) same_as_strtod(fixed[i]);

    /* For doubles across the whole range, subnormals included: %.17g, and
     * the exact midpoint to the next double (a tie, rounded to even), cut
     * to 17-40 digits (just below it) and with a 1 appended (just above). */
    nr_mt mt;
    nr_mt_seed_u64(&mt, 17);
    static char s[1024];
    for (int i = 0; i < 240; i++) {
        double v;
        if (i < 40) {
            v = ldexp((double)(next64(&mt) >> 12), -1074); /* subnormals */
        } else if (i < 60) {
            v = nextafter(DBL_MAX, 0) * (1 - ldexp((double)(i - 40), -50)); /* near the top */
        } else {
            const uint64_t u = next64(&mt) & 0x7fefffffffffffffu; /* finite, below DBL_MAX */
            memcpy(&v, &u, sizeof v);
        }
        snprintf(s, sizeof s, "%.17g", v);
        same_as_strtod(s);
        midpoint(s, sizeof s, v);
        same_as_strtod(s);
        char *e = strchr(s, 'e'), exp[16];
        snprintf(exp, sizeof exp, "%s", e);
        const size_t len = 17 + (size_t)(i % 24);
        snprintf(s + len + 1, sizeof s - len - 1, "%s", exp); /* 1 + '.' + len - 1 digits */
        same_as_strtod(s);
        midpoint(s, sizeof s, v);
        e = strchr(s, 'e');
        memmove(e + 1, e, strlen(e) + 1);
        *e = '1';
        same_as_strtod(s);
        count += 4;
    }
    cr_assert_geq(count, 1000);
}

/* Loads `text` as CSV with a header line "x,y": NR_OK and the value of the
 * one row's first field, or the error. */
static nr_status load_x(const char *field, double *x, nr_error *err) {
    char text[512];
    snprintf(text, sizeof text, "x,y\n%s,1\n", field);
    nr_load_opts o;
    nr_load_defaults(&o);
    o.header = NR_HEADER_YES;
    nr_dataset *ds = NULL;
    nr_status s = nr_csv_parse("t.csv", text, strlen(text), &o, &ds, err);
    if (s == NR_OK) {
        *x = ((const double *)nr_dataset_view(ds)->values)[0];
        nr_dataset_free(ds);
    }
    return s;
}

Test(parse_float, csv_keeps_strtods_accept_and_reject_rules) {
    /* Spellings fast_float does not take but strtod did are still accepted
     * (through strtod): a '+' sign, hexadecimal, a leading form feed or
     * vertical tab; values beyond the range are refused as before, values
     * below it read as 0 as before. */
    const struct {
        const char *field;
        double want;
    } ok[] = {{"+1.5", 1.5},
              {"0x1p3", 8.0},
              {"-0X1.8P1", -3.0},
              {"\f2.5", 2.5},
              {"\v-4", -4.0},
              {".5", 0.5},
              {"5.", 5.0},
              {"1e-400", 0.0},
              {"4.9e-324", 5e-324},
              {"\"7.25\"", 7.25},
              {"  -3e2 ", -300.0},
              {"1E+2", 100.0},
              {"1.7976931348623157e308", DBL_MAX}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double x = NAN;
        nr_error err;
        cr_assert_eq(load_x(ok[i].field, &x, &err), NR_OK, "'%s': %s", ok[i].field, err.msg);
        cr_assert(bits(x) == bits(ok[i].want), "'%s': %a", ok[i].field, x);
    }
    const struct {
        const char *field, *why;
    } bad[] = {{"1e309", "is not finite"},
               {"-1.7976931348623159e308", "is not finite"},
               {"inf", "is not finite"},
               {"-Infinity", "is not finite"},
               {"nan", "is not finite"},
               {"NaN(1)", "is not finite"},
               {"0x1p2000", "is not finite"},
               {"+-1", "is not a number"},
               {"++1", "is not a number"},
               {"1e", "is not a number"},
               {"1.5e+", "is not a number"},
               {"1 2", "is not a number"},
               {".", "is not a number"},
               {"-", "is not a number"},
               {"1,5", "expected 2 fields, found 3"},
               {"1x", "is not a number"},
               {"\"\"", "is empty"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double x;
        nr_error err;
        cr_assert_eq(load_x(bad[i].field, &x, &err), NR_ERR_INPUT, "'%s' accepted", bad[i].field);
        cr_assert(strstr(err.msg, bad[i].why) && strstr(err.msg, "t.csv:2:"), "'%s': %s",
                  bad[i].field, err.msg);
    }
}

/* nr_parse_row (the CSV reader's one-pass row parser, which reads the usual
 * spelling 8 bytes at a time) on `s` as both fields of the row "s,s\n",
 * followed by digits it must not read into, or with the row at the very end
 * of the buffer (where it may not read 8 bytes): when strtod takes all of s
 * as a finite number, both fields must have strtod's bits and the row end
 * where it does; otherwise the row must be handed back (fewer than 2 fields
 * or a stop short of the '\n'), for the general rules to name the problem. */
static void row_same_as_strtod(const char *s) {
    const size_t n = strlen(s);
    char *end;
    const double want = strtod(s, &end);
    const bool takes = n > 0 && end == s + n && isfinite(want);
    static char buf[2 * 256 + 16];
    for (int at_end = 0; at_end < 2; at_end++) {
        size_t len = 0;
        memcpy(buf, s, n), len += n;
        buf[len++] = ',';
        memcpy(buf + len, s, n), len += n;
        const size_t row_end = len;
        if (!at_end) {
            memcpy(buf + len, "\n12345678", 9);
            len += 9;
        }
        double got[2] = {-1, -1};
        const char *stop = NULL;
        const size_t k = nr_parse_row(buf, buf + len, ',', 256, got, 2, &stop);
        if (takes) {
            cr_assert_eq(k, 2, "'%s' (at_end %d): %zu fields", s, at_end, k);
            cr_assert_eq(stop, buf + row_end, "'%s' (at_end %d): stopped at %td of %zu", s, at_end,
                         stop - buf, row_end);
            for (int j = 0; j < 2; j++)
                cr_assert_eq(bits(got[j]), bits(want), "'%s' (at_end %d) field %d: %a, strtod %a",
                             s, at_end, j + 1, got[j], want);
        } else {
            cr_assert(k < 2 || stop != buf + row_end, "'%s' (at_end %d) taken as %a", s, at_end,
                      got[0]);
        }
    }
}

Test(parse_float, row_parser_matches_strtod) {
    /* around the fast path's limits: 7 and 8 integer digits, 8 and 16
     * fraction digits, 19 and 20 digits, 2^53 +- 1 as the digits' integer,
     * exponents and points where they stop it */
    static const char *fixed[] = {"0",
                                  "-0",
                                  "-0.0",
                                  "7",
                                  "1234567",
                                  "12345678",
                                  "123456789",
                                  "1234567.5",
                                  "12345678.5",
                                  "0.12345678",
                                  "0.123456789",
                                  "-0.1234567890123456",
                                  "0.12345678901234567",
                                  "1234567.123456789012",
                                  "1234567.1234567890123",
                                  "9007199.254740992",
                                  "9007199.254740993",
                                  "0.9007199254740991",
                                  "0.9007199254740993",
                                  "1.5e3",
                                  "1.5E3",
                                  "12e5",
                                  "1.",
                                  "-1.",
                                  ".5",
                                  "-.5",
                                  "5.e2",
                                  "0000001.5",
                                  "00000000.5",
                                  "1.5.",
                                  "1x",
                                  "-",
                                  "--1",
                                  "1e",
                                  "0.1",
                                  "0.30000000000000004",
                                  "3.0517578125e-05",
                                  "inf",
                                  "nan",
                                  "4.9e-324",
                                  "1e308",
                                  "1e309"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) row_same_as_strtod(fixed[i]);

    /* data-like values as writers print them, and digit strings of 1-22
     * digits with a point anywhere and an optional sign */
    nr_mt mt;
    nr_mt_seed_u64(&mt, 53);
    char s[64];
    for (long i = 0; i < 1000000; i++) {
        const int kind = (int)(i % 4);
        if (kind == 0) {
            snprintf(s, sizeof s, "%.9g", (double)(float)nr_mt_uniform(&mt, -1, 1));
        } else if (kind == 1) {
            snprintf(s, sizeof s, "%.17g", nr_mt_uniform(&mt, -1000, 1000));
        } else {
            size_t len = 0;
            if (nr_mt_next_u32(&mt) & 1) s[len++] = '-';
            const int digits = 1 + (int)(nr_mt_next_u32(&mt) % 22);
            const int point = (int)(nr_mt_next_u32(&mt) % (unsigned)(digits + 2)) - 1;
            for (int d = 0; d < digits; d++) {
                if (d == point) s[len++] = '.';
                s[len++] = (char)('0' + nr_mt_next_u32(&mt) % 10);
            }
            s[len] = '\0';
        }
        row_same_as_strtod(s);
    }
}
