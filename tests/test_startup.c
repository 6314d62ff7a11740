/* What the `neuron` command loads before main. A release build links it
 * static-pie (NR_CLI_STATIC_PIE, from meson.build): no program interpreter,
 * no shared object at all. Otherwise only the shared objects it needs at
 * every start (libjansson, libm, libc), not libgomp and libgcc_s (linked
 * in; a shared library's symbol relocations cost the start-up of
 * `tutorial --fast`), and no libsleef (the logistic kernel's exp is its own,
 * and agrees with the scalar kernel's). Seen through the dynamic loader's
 * own trace (LD_DEBUG=files) and the program headers. The sanitizer build
 * links the usual way and is not checked. */
#include <criterion/criterion.h>
#include <elf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifndef NR_CLI_STATIC_PIE
#define NR_CLI_STATIC_PIE 0
#endif

static bool sanitized(void) {
    const char *s = getenv("NEURON_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
}

/* The train report's "train_loss" (printed on stdout). */
static double train_loss(const run_result *r) {
    const char *p = strstr(r->out, "\"train_loss\":");
    cr_assert(p, "no train_loss in: %s", r->out);
    return strtod(p + strlen("\"train_loss\":"), NULL);
}

/* Whether the ELF file at `path` names a program interpreter (PT_INTERP):
 * a dynamically linked program does, a static(-pie) one does not. */
static bool has_interpreter(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    Elf64_Ehdr eh;
    cr_assert_eq(fread(&eh, sizeof eh, 1, f), 1, "%s: no ELF header", path);
    cr_assert(!memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64,
              "%s is not a 64-bit ELF file", path);
    bool interp = false;
    for (unsigned k = 0; k < eh.e_phnum; k++) {
        Elf64_Phdr ph;
        cr_assert(!fseek(f, (long)(eh.e_phoff + (Elf64_Off)k * eh.e_phentsize), SEEK_SET) &&
                  fread(&ph, sizeof ph, 1, f) == 1);
        interp = interp || ph.p_type == PT_INTERP;
    }
    fclose(f);
    return interp;
}

Test(startup, tutorial_fast_maps_no_sleef_gomp_or_gcc_s) {
    if (sanitized()) cr_skip_test("sanitizer build: linked as usual");
    const char *bin = getenv("NEURON_BIN");
    cr_assert(bin && *bin, "NEURON_BIN must name the neuron binary");
    cr_assert_eq(has_interpreter(bin), !NR_CLI_STATIC_PIE,
                 "%s: meson.build linked it %s, the file says otherwise", bin,
                 NR_CLI_STATIC_PIE ? "static-pie" : "dynamically");
    setenv("LD_DEBUG", "files", 1);
    run_result r;
    const char *args[] = {"tutorial", "--fast", NULL};
    run_neuron(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    if (NR_CLI_STATIC_PIE) {
        /* (a static program has no loader to trace: nothing is loaded) */
        cr_assert(!strstr(r.err, "file="), "a shared object loaded:\n%s", r.err);
        run_free(&r);
        return;
    }
    cr_assert(strstr(r.err, "file=libc.so"), "no loader trace: %s", r.err);
    cr_assert(!strstr(r.err, "file=libsleef"), "libsleef loaded at start:\n%s", r.err);
    cr_assert(!strstr(r.err, "file=libgomp"), "libgomp loaded at start:\n%s", r.err);
    cr_assert(!strstr(r.err, "file=libgcc_s"), "libgcc_s loaded at start:\n%s", r.err);
    run_free(&r);
}

Test(startup, logistic_avx2_loads_nothing_more_and_matches_scalar, .timeout = 120) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        cr_skip_test("no AVX2 on this CPU");
    char *dir = scratch_dir(), data[512];
    snprintf(data, sizeof data, "%s/cls.npy", dir);
    run_result r;
    const char *gen[] = {"gen",    "--rows",   "5000",  "--features", "3",
                         "--task", "classify", "--out", data,         NULL};
    run_neuron(&r, gen);
    cr_assert_eq(r.status, 0, "gen: %s", r.err);
    run_free(&r);
    double loss[2];
    const char *kernels[] = {"scalar", "avx2"};
    for (int k = 0; k < 2; k++) {
        setenv("LD_DEBUG", k ? "files" : "", 1);
        const char *train[] = {"train",    "--data", data,       "--activation", "sigmoid",
                               "--epochs", "30",     "--kernel", kernels[k],     NULL};
        run_neuron(&r, train);
        cr_assert_eq(r.status, 0, "train --kernel %s: exit %d: %s", kernels[k], r.status, r.err);
        loss[k] = train_loss(&r);
        if (k && !sanitized())
            cr_assert(!strstr(r.err, "file=libsleef") && !strstr(r.err, "dynamically loaded"),
                      "a library loaded on use:\n%s", r.err);
        run_free(&r);
    }
    /* the AVX2 kernel of f32 rows computes each row's loss and residual in
     * f32, within 2^-21 relative (kernels_avx2.c): the final loss within
     * 2^-21, the weights' drift over 30 epochs only second order in it; a
     * wrong exp would be off in the 1st digit */
    cr_assert(fabs(loss[1] - loss[0]) <= 0x1p-21 * loss[0], "log loss avx2 %.17g, scalar %.17g",
              loss[1], loss[0]);
    free(dir);
}

/* The value of "kernel" in train's report (printed on stdout). */
static bool kernel_is(const run_result *r, const char *name) {
    const char *p = strstr(r->out, "\"kernel\":");
    if (!p) return false;
    p += strlen("\"kernel\":");
    while (*p == ' ' || *p == '\t') p++;
    return *p == '"' && !strncmp(p + 1, name, strlen(name)) && p[1 + strlen(name)] == '"';
}

/* The kernel table asks glibc which CPU features are usable (what the
 * dynamic loader found before main: no CPUID of the program's own at
 * start-up, where libgcc's constructor ran ten): a feature that glibc's
 * tunable masks is then not used, `--kernel avx2` is refused and the
 * automatic choice falls back to the scalar kernel. */
Test(startup, kernel_choice_follows_glibc_cpu_features, .timeout = 60) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !__builtin_cpu_supports("f16c"))
        cr_skip_test("no AVX2+FMA+F16C on this CPU");
    char *dir = scratch_dir(), data[512];
    snprintf(data, sizeof data, "%s/d.npy", dir);
    run_result r;
    const char *gen[] = {"gen", "--rows", "500", "--features", "3", "--out", data, NULL};
    run_neuron(&r, gen);
    cr_assert_eq(r.status, 0, "gen: %s", r.err);
    run_free(&r);
    const char *train_auto[] = {"train", "--data", data, "--epochs", "3", NULL};
    const char *train_avx2[] = {"train", "--data", data, "--epochs", "3", "--kernel", "avx2", NULL};
    run_neuron(&r, train_auto);
    cr_assert(r.status == 0 && kernel_is(&r, "avx2"), "auto, AVX2 visible: exit %d: %s%s", r.status,
              r.out, r.err);
    run_free(&r);
    setenv("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX2", 1);
    run_neuron(&r, train_avx2);
    cr_expect(r.status != 0 && strstr(r.err, "'avx2' is unavailable"),
              "--kernel avx2 with AVX2 masked: exit %d: %s", r.status, r.err);
    run_free(&r);
    run_neuron(&r, train_auto);
    cr_expect(r.status == 0 && kernel_is(&r, "scalar"), "auto with AVX2 masked: exit %d: %s%s",
              r.status, r.out, r.err);
    run_free(&r);
    unsetenv("GLIBC_TUNABLES");
    free(dir);
}
