/* Correctly rounded decimal-to-double conversion through fast_float (a C++
 * header library) for the C readers; not installed. */
#ifndef NR_PARSE_FLOAT_H
#define NR_PARSE_FLOAT_H

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

#ifdef __cplusplus
}
#endif

#endif
