/* Correctly rounded decimal-to-double conversion through fast_float (a C++
 * header library) for the C readers; not installed. */
#ifndef NR_PARSE_FLOAT_H
#define NR_PARSE_FLOAT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parse the longest number at the start of [first, last): an optional '-',
 * decimal digits with an optional '.' and exponent, or inf, infinity, nan,
 * nan(chars) in any case. No leading blanks, no '+', no hexadecimal: callers
 * that want strtod's wider syntax fall back to it when this fails or stops
 * early. On success stores the value (rounded to nearest, ties to even, as
 * strtod rounds; +-inf past the double range, +-0 below it), sets *end past
 * the number and returns 0; returns -1 (nothing stored) if no number starts
 * at `first`. */
int nr_parse_double(const char *first, const char *last, double *out, const char **end);

/* The CSV reader's fast path: parse the n fields of the row that starts at
 * `p` in one pass, each a number as nr_parse_double reads it, finite and
 * shorter than `max_len` characters, with blanks (' ', '\t'; also '\r'
 * after the number) around it, fields separated by `delim`, which must be a
 * character no number contains (not a digit, '.', 'e', 'E', '+', '-', '\r'
 * or '\n'). Stores the values in out[0..n) and returns n with *stop just
 * past the last field's trailing blanks: the row is whole when *stop is
 * `end` or a '\n'. Returns fewer than n (and *stop where it gave up) at the
 * first field that is not such a number or not followed by `delim`: the
 * caller then reads the row again by its general rules, which name the
 * problem. */
size_t nr_parse_row(const char *p, const char *end, char delim, size_t max_len, double *out,
                    size_t n, const char **stop);

#ifdef __cplusplus
}
#endif

#endif
