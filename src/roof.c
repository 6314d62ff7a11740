/* The roof of the benchmarks: the fastest plain read of a data set's bytes,
 * and the size of the last-level cache that says whether such a read
 * measures the memory bus or a cache.
 *
 * This file is compiled twice: once as part of the library (plain C, the
 * compiler's baseline vectors, always available) with the dispatcher, and
 * once with -mavx2 and NR_ROOF_AVX2 defined, which builds only the AVX2
 * sums (meson.build: neuron_roof_avx2). The sums are the same C either way:
 * a loop into an array of accumulators, each its own lane, so vectorising
 * it reorders no addition (no -ffast-math or simd reduction needed): the
 * compiler emits independent vector additions, no widening, and the loop is
 * bound by the loads, not by one chain of additions. */
#include <stddef.h>
#include <stdint.h>

/* Independent accumulators per sum: four 256-bit vectors of either type.
 * f16 bytes are summed as 16-bit integers (wrapping): the read of the same
 * bytes at the same width, with no conversion the roof would pay for. */
enum { ACC_F32 = 32, ACC_F64 = 16, ACC_F16 = 64 };

#define ROOF_SUM(T, NAME, ACC)                                                                     \
    T NAME(const T *x, size_t n) {                                                                 \
        T acc[ACC] = {0};                                                                          \
        size_t i = 0;                                                                              \
        for (; i + ACC <= n; i += ACC) {                                                           \
            for (size_t j = 0; j < ACC; j++) acc[j] += x[i + j];                                   \
        }                                                                                          \
        T s = 0;                                                                                   \
        for (size_t j = 0; j < ACC; j++) s += acc[j];                                              \
        for (; i < n; i++) s += x[i];                                                              \
        return s;                                                                                  \
    }

#ifdef NR_ROOF_AVX2

float nr_roof_sum_f32_avx2(const float *x, size_t n);
double nr_roof_sum_f64_avx2(const double *x, size_t n);
uint16_t nr_roof_sum_f16_avx2(const uint16_t *x, size_t n);
ROOF_SUM(float, nr_roof_sum_f32_avx2, ACC_F32)
ROOF_SUM(double, nr_roof_sum_f64_avx2, ACC_F64)
ROOF_SUM(uint16_t, nr_roof_sum_f16_avx2, ACC_F16)

#else

#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "kernels.h"

float nr_roof_sum_f32_plain(const float *x, size_t n);
double nr_roof_sum_f64_plain(const double *x, size_t n);
uint16_t nr_roof_sum_f16_plain(const uint16_t *x, size_t n);
ROOF_SUM(float, nr_roof_sum_f32_plain, ACC_F32)
ROOF_SUM(double, nr_roof_sum_f64_plain, ACC_F64)
ROOF_SUM(uint16_t, nr_roof_sum_f16_plain, ACC_F16)

#if defined(__x86_64__) || defined(_M_X64)
float nr_roof_sum_f32_avx2(const float *x, size_t n);
double nr_roof_sum_f64_avx2(const double *x, size_t n);
uint16_t nr_roof_sum_f16_avx2(const uint16_t *x, size_t n);
#define HAVE_ROOF_AVX2 1
#endif

nr_status nr_data_sum(const nr_data *d, nr_kernel_choice kc, int threads, double *sum,
                      nr_error *err) {
    /* the kernel table says whether the CPU has AVX2 (and refuses a choice
     * it lacks) */
    const nr_kernels *k = nr_kernels_select(kc, err);
    if (!k) return kc == NR_KERNEL_AVX2 ? NR_ERR_UNSUPPORTED : NR_ERR_ARG;
    float (*f32)(const float *, size_t) = nr_roof_sum_f32_plain;
    double (*f64)(const double *, size_t) = nr_roof_sum_f64_plain;
    uint16_t (*f16)(const uint16_t *, size_t) = nr_roof_sum_f16_plain;
#ifdef HAVE_ROOF_AVX2
    if (!strcmp(k->name, "avx2"))
        f32 = nr_roof_sum_f32_avx2, f64 = nr_roof_sum_f64_avx2, f16 = nr_roof_sum_f16_avx2;
#endif
    if (threads <= 0) threads = omp_get_max_threads();
    const size_t n = d->rows * (d->features + 1);
    double total = 0.0;
    /* one region, one contiguous share per thread: no blocks, no schedule
     * bookkeeping, nothing the trainer's epoch does not also pay */
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        const size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        const size_t lo = n / nt * t + (t < n % nt ? t : n % nt);
        const size_t len = n / nt + (t < n % nt);
        if (d->dtype == NR_F16)
            total += (double)f16((const uint16_t *)d->values + lo, len);
        else if (d->dtype == NR_F32)
            total += (double)f32((const float *)d->values + lo, len);
        else
            total += f64((const double *)d->values + lo, len);
    }
    *sum = total;
    return NR_OK;
}

/* Size in bytes of /sys/.../cache/indexI/size ("32768K", "1M"), and its
 * level; false when the entry is missing or not a data/unified cache. */
static bool sysfs_cache(int i, size_t *bytes, int *level) {
    char path[96], buf[64];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(buf, sizeof buf, f) && strncmp(buf, "Instruction", 11) != 0;
    fclose(f);
    if (!ok) return false;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    if (!(f = fopen(path, "r"))) return false;
    ok = fscanf(f, "%d", level) == 1;
    fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    unsigned long long v = 0;
    char unit = 0;
    if (!ok || !(f = fopen(path, "r"))) return false;
    ok = fscanf(f, "%llu%c", &v, &unit) >= 1;
    fclose(f);
    if (unit == 'K') v <<= 10;
    if (unit == 'M') v <<= 20;
    if (unit == 'G') v <<= 30;
    *bytes = (size_t)v;
    return ok && v > 0;
}

void nr_llc(nr_cache_info *c) {
    c->bytes = NR_LLC_DEFAULT;
    c->level = 0;
    c->source = "unknown: default";
    /* sysfs first: it lists every level the kernel knows, while glibc's
     * sysconf answers 0 on some virtual machines and for some vendors */
    size_t bytes;
    int level;
    for (int i = 0; i < 16; i++)
        if (sysfs_cache(i, &bytes, &level) && level >= c->level)
            c->bytes = bytes, c->level = level, c->source = "sysfs";
    if (c->level) return;
#ifdef _SC_LEVEL3_CACHE_SIZE
    const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l3 > 0)
        c->bytes = (size_t)l3, c->level = 3, c->source = "sysconf";
    else if (l2 > 0)
        c->bytes = (size_t)l2, c->level = 2, c->source = "sysconf";
#endif
}

#endif
