// The C entry to fast_float: Lemire's algorithm, correctly rounded, several
// times faster than glibc's strtod on the short numbers of a CSV file (which
// spent most of its time in strtod). Compiled without exceptions or RTTI so
// that the C programs that link libneuron need no C++ runtime.
#include "parse_float.h"

#include <fast_float/fast_float.h>

#include <cmath>
#include <cstdint>
#include <cstring>

int nr_parse_double(const char *first, const char *last, double *out, const char **end) {
    if (first >= last) return -1;
    double v;
    const fast_float::from_chars_result r = fast_float::from_chars(first, last, v);
    // Versions after Debian 12's 3.9 report values beyond the double range as
    // result_out_of_range; the caller's strtod fallback then decides.
    if (r.ec != std::errc()) return -1;
    *out = v;
    *end = r.ptr;
    return 0;
}

namespace {

// The number of decimal digits at the start of the 8 bytes in v (the first
// byte lowest, x86-64 being little-endian): a byte is a digit when neither
// b - '0' nor b + ('9' ^ 0x7f) has its top bit set. Borrows and carries
// only travel to later bytes, so the first non-digit is flagged right.
inline unsigned leading_digits(uint64_t v) {
    const uint64_t not_digit =
        ((v - 0x3030303030303030u) | (v + 0x4646464646464646u)) & 0x8080808080808080u;
    return not_digit ? unsigned(__builtin_ctzll(not_digit)) >> 3 : 8;
}

// The value of the first n (1..8) digits of v: moved to the end of the word
// behind '0's, then fast_float's eight-digit conversion.
inline uint64_t digits_value(uint64_t v, unsigned n) {
    if (n < 8) v = (v << (8 * (8 - n))) | (0x3030303030303030u >> (8 * n));
    return fast_float::parse_eight_digits_unrolled(v);
}

inline uint64_t load8(const char *p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// The spelling gen and most programs write, [-]d{1,7}[.d{1,15}] with at most
// 19 digits whose integer fits in 53 bits, read 8 bytes at a time; its value
// is Clinger's fast path, the digits' integer divided by an exact power of
// ten (one correctly rounded operation), which is what fast_float computes
// for it too. Returns false, reading nothing, for any other spelling and
// within 8 bytes of `end`: from_chars takes those.
inline bool parse_plain(const char *p, const char *end, double *out, const char **stop) {
    const bool neg = *p == '-';
    p += neg;
    if (end - p < 8) return false;
    uint64_t v, m;
    unsigned ni;
    if (unsigned(*p - '0') < 10 && p[1] == '.') { /* most data are in (-10, 10) */
        m = unsigned(*p - '0'), ni = 1;
    } else {
        v = load8(p);
        ni = leading_digits(v);
        if (ni == 0 || ni == 8) return false;
        m = digits_value(v, ni);
    }
    p += ni;
    unsigned nf = 0;
    if (*p == '.') {
        p++;
        if (end - p < 8) return false;
        v = load8(p);
        unsigned d = leading_digits(v);
        if (d == 0) return false;
        m = m * pow10_u64[d] + digits_value(v, d);
        p += d, nf = d;
        if (d == 8) {
            if (end - p < 8) return false;
            v = load8(p);
            d = leading_digits(v);
            if (d == 8 || ni + nf + d > 19) return false;
            if (d) {
                m = m * pow10_u64[d] + digits_value(v, d);
                p += d, nf += d;
            }
        }
    }
    if ((*p | 0x20) == 'e' || m > fast_float::binary_format<double>::max_mantissa_fast_path())
        return false;
    double x = double(m);
    if (nf) x /= fast_float::binary_format<double>::exact_power_of_ten(nf);
    *out = neg ? -x : x;
    *stop = p;
    return true;
}

} // namespace

// One call per row rather than per field, and the separator check follows
// where the number stopped, so no byte is looked at twice.
size_t nr_parse_row(const char *p, const char *end, char delim, size_t max_len, double *out,
                    size_t n, const char **stop) {
    // Clinger's path is exact only when rounding to nearest (fast_float
    // checks the same before taking it); the 8-byte reads assume the first
    // byte lowest
    const bool plain =
        __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && fast_float::detail::rounds_to_nearest();
    size_t j = 0;
    for (;;) {
        while (p < end && *p != delim && (*p == ' ' || *p == '\t')) p++;
        if (p == end) break;
        const char *a = p;
        double v;
        if (!(plain && parse_plain(a, end, &v, &p))) {
            const fast_float::from_chars_result r = fast_float::from_chars(a, end, v);
            if (r.ec != std::errc() || size_t(r.ptr - a) >= max_len || !std::isfinite(v)) break;
            p = r.ptr;
        }
        out[j++] = v;
        while (p < end && *p != delim && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (j == n || p == end || *p != delim) break;
        p++;
    }
    *stop = p;
    return j;
}
