/* Comparing numbers for regression tests (`neuron compare`): the distance
 * in ulps between doubles, the tolerance rule, and the running maxima of a
 * field's differences. The files themselves are read by the command. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Doubles mapped onto one ordered integer line: the bit pattern of a
 * non-negative double already counts ulps up from +0; a negative one is
 * mirrored below 0, so -0 and +0 both land on 0 and adjacent doubles of any
 * sign are 1 apart. */
static int64_t ordered(double x) {
    int64_t i;
    memcpy(&i, &x, sizeof i);
    return i >= 0 ? i : -(i & INT64_MAX);
}

uint64_t nr_ulp_distance(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : UINT64_MAX;
    const int64_t x = ordered(a), y = ordered(b);
    /* |x - y| < 2^64: both lie within +-(2^63 - 2^52) */
    return x > y ? (uint64_t)x - (uint64_t)y : (uint64_t)y - (uint64_t)x;
}

bool nr_agree(double a, double b, const nr_tolerance *t) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (a == b) return true;
    if (isinf(a) || isinf(b)) return t->ulps > 0 && nr_ulp_distance(a, b) <= t->ulps;
    return fabs(a - b) <= t->atol + t->rtol * fabs(b) || nr_ulp_distance(a, b) <= t->ulps;
}

void nr_diff_init(nr_diff *d) {
    memset(d, 0, sizeof *d);
}

void nr_diff_add(nr_diff *d, double a, double b, size_t index, const nr_tolerance *t) {
    double abs_d, rel;
    if ((isnan(a) && isnan(b)) || a == b) {
        abs_d = rel = 0;
    } else if (isnan(a) || isnan(b) || isinf(a) || isinf(b)) {
        abs_d = rel = INFINITY;
    } else {
        abs_d = fabs(a - b);
        rel = abs_d / (b != 0 ? fabs(b) : fabs(a));
    }
    const uint64_t ulps = nr_ulp_distance(a, b);
    if (d->n == 0 || abs_d > d->max_abs) d->max_abs = abs_d, d->at_abs = index;
    if (d->n == 0 || rel > d->max_rel) d->max_rel = rel, d->at_rel = index;
    if (d->n == 0 || ulps > d->max_ulps) d->max_ulps = ulps, d->at_ulps = index;
    if (!nr_agree(a, b, t) && d->beyond++ == 0) d->first_beyond = index;
    d->n++;
}
