/* Status names and the error-message helper. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

void nr_elide(char *dst, size_t cap, const char *src, size_t len) {
    if (len >= cap) len = strnlen(src, len); /* src may have been cut at its own size */
    if (len < cap) {
        memcpy(dst, src, len);
        dst[len] = '\0';
        return;
    }
    /* Messages are "path: reason": a long path loses its middle, so the
     * reason at the end and the file's name survive. */
    const size_t keep = cap - 1 - 3, head = cap / 4, tail = keep - head;
    memcpy(dst, src, head);
    memcpy(dst + head, "...", 3);
    memcpy(dst + head + 3, src + len - tail, tail);
    dst[head + 3 + tail] = '\0';
}

nr_status nr_fail(nr_error *err, nr_status s, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        char whole[16384];
        int n = vsnprintf(whole, sizeof whole, fmt, ap);
        va_end(ap);
        nr_elide(err->msg, sizeof err->msg, whole, n < 0 ? 0 : (size_t)n);
        /* One line, whatever a file or a path holds: control characters
         * (a newline in a header field, a CR in a CSV field) become '?'. */
        for (char *p = err->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return s;
}
