/* The `neuron` command loads libsleef when a logistic kernel first needs its
 * exp, not at start. Linked against it, every run paid for it before main:
 * its ~930 symbol relocations made up three quarters of the dynamic loader's
 * work (640k of 835k instructions under callgrind) and about 1 ms of CPU,
 * for `tutorial --fast` (40 us of arithmetic) as for any command that never
 * computes a sigmoid. Defining the one function the kernels call here lets
 * the linker (--as-needed) drop libsleef from the command's dependencies;
 * the library (libneuron.so, libneuron.a) still links it as usual.
 *
 * Compiled with AVX2 like the kernel that calls it (only after the
 * dispatcher has checked the CPU), so that __m256d passes in a register. */
#include <dlfcn.h>
#include <pthread.h>
#include <sleef.h>
#include <unistd.h>

#include "cli/args.h"

typedef __m256d (*expd4_fn)(__m256d);

static expd4_fn expd4;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    /* RTLD_NOW: every symbol resolved here, not later inside a kernel */
    void *h = dlopen(NR_SLEEF_SONAME, RTLD_NOW | RTLD_LOCAL);
    void *f = h ? dlsym(h, "Sleef_expd4_u10avx2") : NULL;
    if (!f) {
        /* a broken install: as the dynamic loader would have failed at
         * start, but outputs in progress are removed first */
        cli_error("cannot load %s for the logistic kernels: %s", NR_SLEEF_SONAME, dlerror());
        nr_abandon_temp_files();
        _exit(EXIT_OTHER);
    }
    __atomic_store_n(&expd4, (expd4_fn)f, __ATOMIC_RELEASE);
}

__m256d Sleef_expd4_u10avx2(__m256d x) {
    expd4_fn f = __atomic_load_n(&expd4, __ATOMIC_ACQUIRE);
    if (!f) {
        pthread_once(&once, load);
        f = expd4;
    }
    return f(x);
}
