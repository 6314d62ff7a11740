/* Atomic output: write to a temporary file beside the target, fsync it, and
 * rename it over the target only when complete. A registry of the temporary
 * paths lets a signal handler remove them (nr_abandon_temp_files), so
 * neither an error, a full disk nor a signal leaves a partial file under the
 * name the user asked for.
 *
 * The rules, in the manner of GNU sort -o and cp:
 *  - the target must be a regular file or not exist yet: a directory, a
 *    device, a FIFO or a socket is refused (renaming over /dev/null as root
 *    would replace the system's device);
 *  - a symbolic link is followed: the link's target is replaced and the link
 *    stays a link; a link to nothing is refused;
 *  - the temporary name is the target's name cut to fit NAME_MAX with its
 *    suffix, so any legal file name can be written. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/* ------------------------------------------------- temporary registry -- */

/* A slot is FREE, CLAIMED (its owner is writing the path: the handler must
 * not read it) or ARMED (the handler may unlink the path). The name is
 * registered and armed before the file is created, so there is no moment,
 * in any thread, when a file exists that a signal handler does not know. */
enum { MAX_TEMPS = 16, FREE = 0, CLAIMED = 1, ARMED = 2 };
static char temp_paths[MAX_TEMPS][PATH_MAX];
static int temp_state[MAX_TEMPS];

static int claim_slot(void) {
    for (int i = 0; i < MAX_TEMPS; i++) {
        int expect = FREE;
        if (__atomic_compare_exchange_n(&temp_state[i], &expect, CLAIMED, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return i;
    }
    return -1; /* still correct, only not cleaned up from a signal handler */
}

static void set_slot(int slot, int state) {
    if (slot >= 0) __atomic_store_n(&temp_state[slot], state, __ATOMIC_RELEASE);
}

void nr_abandon_temp_files(void) {
    for (int i = 0; i < MAX_TEMPS; i++)
        if (__atomic_load_n(&temp_state[i], __ATOMIC_ACQUIRE) == ARMED) unlink(temp_paths[i]);
}

/* ---------------------------------------------------------- targets -- */

const char *nr_file_kind(unsigned mode) {
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "a regular file";
    case S_IFDIR:
        return "a directory";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFIFO:
        return "a FIFO (named pipe)";
    case S_IFSOCK:
        return "a socket";
    case S_IFLNK:
        return "a symbolic link";
    }
    return "not a regular file";
}

/* Resolve the file an output will replace into `target`: the path itself,
 * or where its symbolic link points. Refuse what is not a regular file. */
static nr_status resolve_target(const char *path, char *target, size_t size, nr_error *err) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char buf[PATH_MAX];
        if (!realpath(path, buf))
            return nr_fail(err, NR_ERR_ARG,
                           "%s: symbolic link to a missing or unreachable file (%s); outputs "
                           "follow links to existing files only",
                           path, strerror(errno));
        if (snprintf(target, size, "%s", buf) >= (int)size)
            return nr_fail(err, NR_ERR_ARG, "%s: path too long", path);
    } else if (snprintf(target, size, "%s", path) >= (int)size) {
        return nr_fail(err, NR_ERR_ARG, "%s: path too long", path);
    }
    if (stat(target, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return nr_fail(err, NR_ERR_ARG,
                           "%s: is %s; refusing to replace it (outputs are regular files)", path,
                           nr_file_kind(st.st_mode));
    } else if (errno != ENOENT) {
        return nr_fail(err, NR_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    return NR_OK;
}

/* `dir/name.tmp.XXXXXX` with `name` cut so that the whole file name fits
 * NAME_MAX; the X's are filled by fill_random. */
static bool temp_template(char *tmp, size_t size, const char *target) {
    static const char suffix[] = ".tmp.XXXXXX";
    const char *slash = strrchr(target, '/');
    const size_t dirlen = slash ? (size_t)(slash - target) + 1 : 0;
    size_t baselen = strlen(target + dirlen);
    if (baselen > NAME_MAX - (sizeof suffix - 1)) baselen = NAME_MAX - (sizeof suffix - 1);
    if (dirlen + baselen + sizeof suffix > size) return false;
    memcpy(tmp, target, dirlen + baselen);
    memcpy(tmp + dirlen + baselen, suffix, sizeof suffix);
    return true;
}

static void fill_random(char *tmp) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        r = (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() << 32 ^
            (uint64_t)(uintptr_t)tmp;
    }
    char *x = tmp + strlen(tmp) - 6;
    for (int i = 0; i < 6; i++, r /= 62) x[i] = alphabet[r % 62];
}

/* ------------------------------------------------------------ writes -- */

nr_status nr_atomic_create(nr_atomic *a, const char *path, nr_error *err) {
    a->fd = -1;
    a->slot = -1;
    a->tmp[0] = '\0';
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path)
        return nr_fail(err, NR_ERR_ARG, "%s: path too long", path);
    nr_status s = resolve_target(path, a->target, sizeof a->target, err);
    if (s != NR_OK) return s;
    if (!temp_template(a->tmp, sizeof a->tmp, a->target))
        return nr_fail(err, NR_ERR_ARG, "%s: path too long", path);
    a->slot = claim_slot();
    for (int attempt = 0; attempt < 100; attempt++) {
        fill_random(a->tmp);
        if (a->slot >= 0) {
            memcpy(temp_paths[a->slot], a->tmp, strlen(a->tmp) + 1);
            set_slot(a->slot, ARMED);
        }
        /* 0666 and the umask: the mode any new file of the user's gets */
        a->fd = open(a->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666); /* RDWR: gen maps it */
        if (a->fd >= 0) return NR_OK;
        int saved = errno;
        set_slot(a->slot, CLAIMED); /* the name may be someone else's file */
        if (saved != EEXIST) {
            set_slot(a->slot, FREE);
            a->slot = -1;
            return nr_fail(err, NR_ERR_IO, "%s: cannot create: %s", path, strerror(saved));
        }
    }
    set_slot(a->slot, FREE);
    a->slot = -1;
    return nr_fail(err, NR_ERR_IO, "%s: cannot create a temporary file beside it", path);
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

nr_status nr_atomic_finish(nr_atomic *a, nr_error *err) {
    if (a->fd < 0) return NR_OK;
    /* A full disk or a failing device may only show at fsync or close
     * (NFS, quotas): either is a failed write. */
    int rc = fsync(a->fd), saved = errno;
    if (rc != 0 && (saved == EINVAL || saved == EROFS)) rc = 0; /* cannot sync: nothing lost */
    if (close(a->fd) != 0 && rc == 0) rc = -1, saved = errno;
    a->fd = -1;
    if (rc != 0) return nr_fail(err, NR_ERR_IO, "%s: write failed: %s", a->path, strerror(saved));
    return NR_OK;
}

nr_status nr_atomic_rename(nr_atomic *a, nr_error *err) {
    if (rename(a->tmp, a->target) != 0) {
        nr_status s =
            nr_fail(err, NR_ERR_IO, "%s: cannot rename into place: %s", a->path, strerror(errno));
        nr_atomic_abort(a);
        return s;
    }
    set_slot(a->slot, FREE);
    a->slot = -1;
    a->tmp[0] = '\0';
    /* Make the rename itself durable, as SQLite does after a commit; a
     * folder that cannot be synced loses nothing that was written. */
    char dir[PATH_MAX];
    const char *slash = strrchr(a->target, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = slash == a->target ? 1 : (size_t)(slash - a->target);
        memcpy(dir, a->target, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return NR_OK;
}

nr_status nr_atomic_commit(nr_atomic *a, nr_error *err) {
    nr_status s = nr_atomic_finish(a, err);
    if (s != NR_OK) {
        nr_atomic_abort(a);
        return s;
    }
    return nr_atomic_rename(a, err);
}

void nr_atomic_abort(nr_atomic *a) {
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    if (a->tmp[0]) unlink(a->tmp);
    a->tmp[0] = '\0';
    set_slot(a->slot, FREE);
    a->slot = -1;
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
