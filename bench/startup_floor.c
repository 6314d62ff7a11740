/* The floor under `neuron tutorial --fast` as a whole process
 * (bench/targets.py, target "tutorial"): start, write 1000 lines of the
 * tutorial's shape (64 KB) to stdout through one 4 KiB buffer, exit. No
 * arithmetic, no formatting of doubles, no OpenMP runtime. Linked
 * statically it is what any process costs on the machine; linked
 * dynamically, that plus the dynamic loader and libc's relocation. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

static char buf[4096];
static size_t len;

static int flush(void) {
    for (size_t at = 0; at < len;) {
        const ssize_t n = write(STDOUT_FILENO, buf + at, len - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 1;
        at += (size_t)n;
    }
    len = 0;
    return 0;
}

int main(void) {
    static const char head[] = "Epoch: ";
    static const char tail[] = ", Loss: 364815.3374, Weight: 5.2985, Bias: -0.2458\n";
    for (unsigned epoch = 100; epoch <= 100000; epoch += 100) {
        if (sizeof buf - len < 128 && flush()) return 1;
        char digits[12], *d = digits + sizeof digits;
        unsigned e = epoch;
        do *--d = (char)('0' + e % 10);
        while (e /= 10);
        memcpy(buf + len, head, sizeof head - 1);
        len += sizeof head - 1;
        memcpy(buf + len, d, (size_t)(digits + sizeof digits - d));
        len += (size_t)(digits + sizeof digits - d);
        memcpy(buf + len, tail, sizeof tail - 1);
        len += sizeof tail - 1;
    }
    return flush();
}
