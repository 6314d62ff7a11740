// The C entry to fast_float: Lemire's algorithm, correctly rounded, several
// times faster than glibc's strtod on the short numbers of a CSV file (which
// spent most of its time in strtod). Compiled without exceptions or RTTI so
// that the C programs that link libneuron need no C++ runtime.
#include "parse_float.h"

#include <fast_float/fast_float.h>

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
