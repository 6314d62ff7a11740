/* Shared by the libFuzzer targets: a scratch file per process, for the
 * passes that go through the public, path-taking API. */
#ifndef NR_FUZZ_COMMON_H
#define NR_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write `data` to a file named fuzz-<pid>.<ext> under $TMPDIR (or /tmp);
 * returns its path (static buffer) or NULL. */
static inline const char *fuzz_scratch_file(const char *ext, const void *data, size_t size) {
    static char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/neuron-fuzz-%ld.%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(),
             ext);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    return path;
}

/* An exact-size heap copy, so that AddressSanitizer sees any read past the
 * end (libFuzzer's own buffer is exact too, but a copy keeps it const). */
static inline void *fuzz_copy(const void *data, size_t size) {
    void *p = malloc(size ? size : 1);
    if (p && size) memcpy(p, data, size);
    return p;
}

/* Messages must be one non-empty line. */
static inline void fuzz_check_message(const char *msg) {
    if (!msg[0] || strchr(msg, '\n')) {
        fprintf(stderr, "bad error message: '%s'\n", msg);
        abort();
    }
}

#endif
