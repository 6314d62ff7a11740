/* Helpers shared by the library's source files; not installed. */
#ifndef NR_INTERNAL_H
#define NR_INTERNAL_H

#include "neuron.h"

#if defined(__GNUC__)
#define NR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NR_PRINTF(a, b)
#endif

/* Write a formatted message into `err` (if not NULL) and return `s`, so that
 * a failing path reads `return nr_fail(err, NR_ERR_INPUT, "...", ...);`. */
nr_status nr_fail(nr_error *err, nr_status s, const char *fmt, ...) NR_PRINTF(3, 4);

#endif
