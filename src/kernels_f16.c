/* f16 (IEEE binary16) conversions, scalar: the exact widening the trainer
 * applies to a block of halves before the objective's f32 kernel, and the
 * one rounding from double that every writer and converter uses. Always
 * built; kernels_f16c.c is the F16C widening, tested against this one. */
#include <math.h>

#include "kernels.h"

void nr_widen_f16_scalar(const uint16_t *h, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = nr_half_to_float(h[i]);
}

/* Rounded once from the double's bits, never through a float: a double
 * just above a half-way point between two halves can round to that very
 * half-way float, which would then round to even, the wrong way. */
bool nr_half_from_double(double v, uint16_t *h) {
    const double a = fabs(v);
    if (!(a < 65520.0)) return false; /* NaN, Inf, or past 65504 + half its ulp (16) */
    uint64_t u;
    memcpy(&u, &v, 8);
    const uint16_t sign = (uint16_t)(u >> 48 & 0x8000u);
    if (a < 0x1p-14) {
        /* subnormal halves are the multiples of 2^-24: round a / 2^-24 to an
         * integer (the scaling is exact; so is the fraction, q <= x < q + 1)
         * and 1024 is the smallest normal's encoding, so the carry is right */
        const double x = a * 0x1p24;
        uint16_t q = (uint16_t)x;
        const double frac = x - (double)q;
        if (frac > 0.5 || (frac == 0.5 && (q & 1))) q++;
        *h = sign | q;
        return true;
    }
    /* normal: keep the top 10 of the 52 fraction bits, round on the other
     * 42 (ties to even); a carry out of the fraction increments the
     * exponent, which is the right result, and 65520 is excluded above */
    const uint64_t frac = u & 0xfffffffffffffull, rest = frac & 0x3ffffffffffull, half = 1ull << 41;
    const uint32_t e = (uint32_t)(u >> 52 & 0x7ff) - 1023u + 15u;
    uint32_t r = e << 10 | (uint32_t)(frac >> 42);
    if (rest > half || (rest == half && (r & 1))) r++;
    *h = sign | (uint16_t)r;
    return true;
}
