/* MT19937 exactly as CPython's `random` module uses it (Modules/_randommodule.c
 * follows Matsumoto and Nishimura's reference mt19937ar.c): same seeding from
 * integers of any size, same 53-bit doubles. Bit-compatibility is tested
 * against values printed by CPython (tests/golden/rng.txt). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { N = 624, M = 397 };
#define MATRIX_A 0x9908b0dfU
#define UPPER_MASK 0x80000000U
#define LOWER_MASK 0x7fffffffU

static void init_genrand(nr_mt *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < N; i++)
        r->mt[i] = 1812433253U * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->index = N;
}

void nr_mt_seed_words(nr_mt *r, const uint32_t *key, size_t n) {
    init_genrand(r, 19650218U);
    size_t i = 1, j = 0;
    size_t k = N > n ? N : n;
    for (; k; k--) {
        r->mt[i] =
            (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525U)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= N) {
            r->mt[0] = r->mt[N - 1];
            i = 1;
        }
        if (j >= n) j = 0;
    }
    for (k = N - 1; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
        i++;
        if (i >= N) {
            r->mt[0] = r->mt[N - 1];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000U; /* MSB is 1, assuring a non-zero initial array */
    r->index = N;
}

uint32_t nr_mt_next_u32(nr_mt *r) {
    static const uint32_t mag01[2] = {0x0U, MATRIX_A};
    uint32_t y;
    if (r->index >= N) {
        int kk;
        for (kk = 0; kk < N - M; kk++) {
            y = (r->mt[kk] & UPPER_MASK) | (r->mt[kk + 1] & LOWER_MASK);
            r->mt[kk] = r->mt[kk + M] ^ (y >> 1) ^ mag01[y & 1U];
        }
        for (; kk < N - 1; kk++) {
            y = (r->mt[kk] & UPPER_MASK) | (r->mt[kk + 1] & LOWER_MASK);
            r->mt[kk] = r->mt[kk + (M - N)] ^ (y >> 1) ^ mag01[y & 1U];
        }
        y = (r->mt[N - 1] & UPPER_MASK) | (r->mt[0] & LOWER_MASK);
        r->mt[N - 1] = r->mt[M - 1] ^ (y >> 1) ^ mag01[y & 1U];
        r->index = 0;
    }
    y = r->mt[r->index++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    return y;
}

double nr_mt_random(nr_mt *r) {
    uint32_t a = nr_mt_next_u32(r) >> 5, b = nr_mt_next_u32(r) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

double nr_mt_uniform(nr_mt *r, double lo, double hi) {
    return lo + (hi - lo) * nr_mt_random(r);
}

void nr_mt_seed_u64(nr_mt *r, uint64_t seed) {
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    nr_mt_seed_words(r, key, key[1] ? 2 : 1);
}

/* Python's int(): blanks around, one optional sign, digits with single
 * underscores between them. The magnitude is built in base 2^32, least
 * significant word first, which is the key CPython passes to init_by_array. */
nr_status nr_mt_seed_decimal(nr_mt *r, const char *s, nr_error *err) {
    const char *p = s, *end;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '+' || *p == '-') p++;
    end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1])) end--;
    size_t ndig = 0;
    for (const char *q = p; q < end; q++) {
        if (isdigit((unsigned char)*q)) {
            ndig++;
        } else if (*q == '_' && q > p && q + 1 < end && isdigit((unsigned char)q[-1]) &&
                   isdigit((unsigned char)q[1])) {
            continue;
        } else {
            ndig = 0;
            break;
        }
    }
    if (ndig == 0) return nr_fail(err, NR_ERR_ARG, "invalid seed '%s': expected an integer", s);
    /* ceil(ndig * log2(10) / 32) + 1 words is always enough. */
    size_t cap = ndig / 9 + 2;
    uint32_t *w = calloc(cap, sizeof *w);
    if (!w) return nr_fail(err, NR_ERR_NOMEM, "out of memory parsing seed");
    size_t used = 1;
    for (const char *q = p; q < end; q++) {
        if (*q == '_') continue;
        uint64_t carry = (uint64_t)(*q - '0');
        for (size_t i = 0; i < used; i++) {
            uint64_t t = (uint64_t)w[i] * 10U + carry;
            w[i] = (uint32_t)t;
            carry = t >> 32;
        }
        if (carry) w[used++] = (uint32_t)carry;
    }
    while (used > 1 && w[used - 1] == 0) used--;
    nr_mt_seed_words(r, w, used);
    free(w);
    return NR_OK;
}
