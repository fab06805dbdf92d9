/* iofault: an LD_PRELOAD library that makes the N-th write, fsync or fdatasync on a file under
 * one directory fail, so that the tests can fail each media operation of a ceremony in turn.
 *
 *   IOFAULT_DIR      only files whose path starts with this are counted (the output medium)
 *   IOFAULT_FAIL_AT  the 1-based operation to fail (0 or unset: none; count only)
 *   IOFAULT_ERRNO    the errno it fails with (default EIO = 5)
 *   IOFAULT_TRACE    append "n op path" for every counted operation to this file
 *
 * and the N-th renameat2 whose new name is under the directory (the media layer's no-clobber
 * rename; rustix is built with its libc backend so that the call goes through libc).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counted;

static int under_dir(int fd, char *path, size_t len) {
    const char *dir = getenv("IOFAULT_DIR");
    if (!dir || !*dir) return 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, len - 1);
    if (n <= 0) return 0;
    path[n] = 0;
    return strncmp(path, dir, strlen(dir)) == 0;
}

/* True when this operation on `path` is to fail (errno is set). */
static int inject_path(const char *path, const char *op);

/* True when this operation is to fail (errno is set). */
static int inject(int fd, const char *op) {
    char path[4096];
    if (!under_dir(fd, path, sizeof path)) return 0;
    return inject_path(path, op);
}

static int inject_path(const char *path, const char *op) {
    pthread_mutex_lock(&lock);
    unsigned long n = ++counted;
    const char *trace = getenv("IOFAULT_TRACE");
    if (trace) {
        FILE *t = fopen(trace, "a");
        if (t) {
            fprintf(t, "%lu %s %s\n", n, op, path);
            fclose(t);
        }
    }
    pthread_mutex_unlock(&lock);
    const char *at = getenv("IOFAULT_FAIL_AT");
    if (at && strtoul(at, NULL, 0) == n) {
        const char *e = getenv("IOFAULT_ERRNO");
        errno = e ? (int)strtol(e, NULL, 0) : EIO;
        return 1;
    }
    return 0;
}

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fd > 2 && inject(fd, "write")) return -1;
    return real(fd, buf, count);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (inject(fd, "fsync")) return -1;
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (inject(fd, "fdatasync")) return -1;
    return real(fd);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags) {
    static int (*real)(int, const char *, int, const char *, unsigned int);
    if (!real)
        real = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT,
                                                                               "renameat2");
    const char *dir = getenv("IOFAULT_DIR");
    char full[4096];
    if (newpath[0] == '/') {
        snprintf(full, sizeof full, "%s", newpath);
    } else {
        char cwd[2048];
        if (newdirfd != AT_FDCWD || !getcwd(cwd, sizeof cwd)) cwd[0] = 0;
        snprintf(full, sizeof full, "%s/%s", cwd, newpath);
    }
    if (dir && *dir && strncmp(full, dir, strlen(dir)) == 0 && inject_path(full, "rename"))
        return -1;
    return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
