/* Atomic output: write to a temporary file beside the target, rename over it
 * when complete. A registry of the temporary paths lets a signal handler
 * remove them (nr_abandon_temp_files), so neither an error, a full disk nor
 * Ctrl-C leaves a partial file under the name the user asked for. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

enum { MAX_TEMPS = 16 };
/* Written only outside signal handlers; the handler reads a slot's path only
 * once its flag says it is complete. */
static char temp_paths[MAX_TEMPS][PATH_MAX];
static volatile sig_atomic_t temp_used[MAX_TEMPS];

static int register_temp(const char *tmp) {
    for (int i = 0; i < MAX_TEMPS; i++) {
        if (!temp_used[i]) {
            snprintf(temp_paths[i], PATH_MAX, "%s", tmp);
            temp_used[i] = 1;
            return i;
        }
    }
    return -1; /* still correct, only not cleaned up from a signal handler */
}

static void unregister_temp(int slot) {
    if (slot >= 0) temp_used[slot] = 0;
}

void nr_abandon_temp_files(void) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temp_used[i]) unlink(temp_paths[i]);
}

nr_status nr_atomic_create(nr_atomic *a, const char *path, nr_error *err) {
    a->fd = -1;
    a->slot = -1;
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path ||
        snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof a->tmp)
        return nr_fail(err, NR_ERR_ARG, "%s: path too long", path);
    /* No signal between creating the file and registering it: a handler
     * that runs nr_abandon_temp_files() must know every temporary file. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    a->fd = mkstemp(a->tmp);
    int saved = errno;
    if (a->fd >= 0) a->slot = register_temp(a->tmp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (a->fd < 0) return nr_fail(err, NR_ERR_IO, "%s: cannot create: %s", path, strerror(saved));
    /* mkstemp makes 0600 files; outputs should get the usual umask mode. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(a->fd, 0666 & ~mask);
    return NR_OK;
}

nr_status nr_atomic_write(nr_atomic *a, const void *buf, size_t n, nr_error *err) {
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(a->fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return nr_fail(err, NR_ERR_IO, "%s: write failed: %s", a->path,
                           k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (size_t)k;
    }
    return NR_OK;
}

nr_status nr_atomic_reserve(nr_atomic *a, size_t size, nr_error *err) {
    if (ftruncate(a->fd, (off_t)size) != 0)
        return nr_fail(err, NR_ERR_IO, "%s: cannot size to %zu bytes: %s", a->path, size,
                       strerror(errno));
    int rc = posix_fallocate(a->fd, 0, (off_t)size);
    /* Some file systems cannot reserve; only a real shortage is an error. */
    if (rc == ENOSPC || rc == EFBIG || rc == EDQUOT)
        return nr_fail(err, NR_ERR_IO, "%s: cannot reserve %zu bytes: %s", a->path, size,
                       strerror(rc));
    return NR_OK;
}

nr_status nr_atomic_commit(nr_atomic *a, nr_error *err) {
    int fd = a->fd;
    a->fd = -1;
    if (close(fd) != 0) {
        nr_status s = nr_fail(err, NR_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
        unlink(a->tmp);
        unregister_temp(a->slot);
        return s;
    }
    if (rename(a->tmp, a->path) != 0) {
        nr_status s =
            nr_fail(err, NR_ERR_IO, "%s: cannot rename into place: %s", a->path, strerror(errno));
        unlink(a->tmp);
        unregister_temp(a->slot);
        return s;
    }
    unregister_temp(a->slot);
    return NR_OK;
}

void nr_atomic_abort(nr_atomic *a) {
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    unlink(a->tmp);
    unregister_temp(a->slot);
}

nr_status nr_write_file_atomic(const char *path, const void *buf, size_t n, nr_error *err) {
    nr_atomic a;
    nr_status s = nr_atomic_create(&a, path, err);
    if (s != NR_OK) return s;
    if ((s = nr_atomic_write(&a, buf, n, err)) != NR_OK) {
        nr_atomic_abort(&a);
        return s;
    }
    return nr_atomic_commit(&a, err);
}

const char *nr_path_ext(const char *path, char *buf, size_t size) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    buf[0] = '\0';
    if (!dot || (slash && dot < slash) || size == 0) return buf;
    size_t i = 0;
    for (const char *p = dot + 1; *p && i + 1 < size; p++)
        buf[i++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    buf[i] = '\0';
    return buf;
}
