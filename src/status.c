/* Status names and the error-message helper. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

const char *nr_status_str(nr_status s) {
    switch (s) {
    case NR_OK:
        return "ok";
    case NR_ERR_ARG:
        return "invalid argument";
    case NR_ERR_INPUT:
        return "bad input";
    case NR_ERR_DIVERGED:
        return "training diverged";
    case NR_ERR_IO:
        return "i/o error";
    case NR_ERR_NOMEM:
        return "out of memory";
    case NR_ERR_UNSUPPORTED:
        return "unsupported";
    case NR_ERR_INTERRUPTED:
        return "interrupted";
    case NR_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

nr_status nr_fail(nr_error *err, nr_status s, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* One line, whatever a file or a path holds: control characters
         * (a newline in a header field, a CR in a CSV field) become '?'. */
        for (char *p = err->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return s;
}
