/* Kernel dispatch, chosen once per call from what the CPU reports: the table
 * starts with the scalar reference entries and faster ones override them
 * (BLIS's "reference first" rule), so an unknown CPU still runs. */
#include "internal.h"
#include "kernels.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#define NR_GLIBC_CPU_FEATURES 1
#endif
#endif

static const nr_kernels scalar = {
    .name = "scalar",
    .grad_f32 = nr_grad_f32_scalar,
    .grad_f64 = nr_grad_f64_scalar,
    .loss_f32 = nr_grad_f32_scalar, /* the loss with the gradient: the same bits */
    .loss_f64 = nr_grad_f64_scalar,
    .logistic_f32 = nr_logistic_f32_scalar,
    .logistic_f64 = nr_logistic_f64_scalar,
    .logistic_loss_f32 = nr_logistic_f32_scalar,
    .logistic_loss_f64 = nr_logistic_f64_scalar,
    .perceptron_f32 = nr_perceptron_f32_scalar,
    .perceptron_f64 = nr_perceptron_f64_scalar,
    .huber_f32 = nr_huber_f32_scalar,
    .huber_f64 = nr_huber_f64_scalar,
    .gram_f64 = nr_gram_f64_scalar,
    .sgd_f32 = nr_sgd_f32_scalar,
    .sgd_f64 = nr_sgd_f64_scalar,
    .sgd_logistic_f32 = nr_sgd_logistic_f32_scalar,
    .sgd_logistic_f64 = nr_sgd_logistic_f64_scalar,
    .sgd_perceptron_f32 = nr_sgd_perceptron_f32_scalar,
    .sgd_perceptron_f64 = nr_sgd_perceptron_f64_scalar,
    .widen_f16 = nr_widen_f16_scalar,
    /* no f16 kernels: f16 blocks are widened for the f32 ones, the ground
     * truth the AVX2 f16 kernels are tested against */
};
#if defined(__x86_64__) || defined(_M_X64)
static const nr_kernels avx2 = {
    .name = "avx2",
    .grad_f32 = nr_grad_f32_avx2,
    .grad_f64 = nr_grad_f64_avx2,
    .loss_f32 = nr_loss_f32_avx2,
    .loss_f64 = nr_loss_f64_avx2,
    .logistic_f32 = nr_logistic_f32_avx2,
    .logistic_f64 = nr_logistic_f64_avx2,
    .logistic_loss_f32 = nr_logistic_loss_f32_avx2,
    .logistic_loss_f64 = nr_logistic_loss_f64_avx2,
    .perceptron_f32 = nr_perceptron_f32_avx2,
    .perceptron_f64 = nr_perceptron_f64_avx2,
    .huber_f32 = nr_huber_f32_avx2,
    .huber_f64 = nr_huber_f64_avx2,
    .gram_f64 = nr_gram_f64_avx2,
    .sgd_f32 = nr_sgd_f32_avx2,
    .sgd_f64 = nr_sgd_f64_avx2,
    .sgd_loss_f32 = nr_sgd_loss_f32_avx2,
    .sgd_loss_f64 = nr_sgd_loss_f64_avx2,
    .sgd_logistic_f32 = nr_sgd_logistic_f32_avx2,
    .sgd_logistic_f64 = nr_sgd_logistic_f64_avx2,
    .sgd_perceptron_f32 = nr_sgd_perceptron_f32_avx2,
    .sgd_perceptron_f64 = nr_sgd_perceptron_f64_avx2,
    .widen_f16 = nr_widen_f16_f16c,
    .grad_f16 = nr_grad_f16_avx2,
    .logistic_f16 = nr_logistic_f16_avx2,
    .perceptron_f16 = nr_perceptron_f16_avx2,
    .huber_f16 = nr_huber_f16_avx2,
};

/* F16C with AVX2: every CPU that has AVX2 has it (Intel since Ivy Bridge,
 * AMD since Piledriver), but a hypervisor may hide one flag and not the
 * other; requiring all three keeps the table's f16 entry safe to call.
 * Asked of glibc where it can answer (2.33 and later): the dynamic loader
 * has read CPUID and the OS's XSAVE state before main, so the answer costs
 * no CPUID. __builtin_cpu_supports links libgcc's constructor, which runs
 * CPUID ten times at every start of the program, each a trap to the
 * hypervisor on a VM (~1.4 us measured), even for `neuron tutorial`, which
 * never chooses a kernel. */
static bool cpu_has_avx2_fma(void) {
#ifdef NR_GLIBC_CPU_FEATURES
    return CPU_FEATURE_ACTIVE(AVX2) && CPU_FEATURE_ACTIVE(FMA) && CPU_FEATURE_ACTIVE(F16C);
#else
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#endif
}
#endif

const nr_kernels *nr_kernels_select(nr_kernel_choice k, nr_error *err) {
    switch (k) {
    case NR_KERNEL_SCALAR:
        return &scalar;
    case NR_KERNEL_AVX2:
#if defined(__x86_64__) || defined(_M_X64)
        if (cpu_has_avx2_fma()) return &avx2;
#endif
        nr_fail(err, NR_ERR_UNSUPPORTED,
                "this CPU has no AVX2+FMA+F16C: kernel 'avx2' is unavailable");
        return NULL;
    case NR_KERNEL_AUTO:
#if defined(__x86_64__) || defined(_M_X64)
        if (cpu_has_avx2_fma()) return &avx2;
#endif
        return &scalar;
    }
    nr_fail(err, NR_ERR_ARG, "unknown kernel choice %d", (int)k);
    return NULL;
}

const char *nr_kernel_name(nr_kernel_choice k, nr_error *err) {
    const nr_kernels *t = nr_kernels_select(k, err);
    return t ? t->name : NULL;
}
