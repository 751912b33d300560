/* daemon.c — see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int open_lock(const char *lock_path, err_t *err)
{
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(err, "cannot open lock file %s: %s (is the cache directory writable?)",
                       lock_path, strerror(errno));
    return fd;
}

int daemon_lock_try(const char *lock_path, int *fd, err_t *err)
{
    *fd = -1;
    int f = open_lock(lock_path, err);
    if (f < 0) return -1;
    if (flock(f, LOCK_EX | LOCK_NB) == 0) {
        *fd = f;
        return 1;
    }
    int e = errno;
    close(f);
    if (e == EWOULDBLOCK) return 0;
    return err_set(err, "cannot lock %s: %s", lock_path, strerror(e));
}

int daemon_lock_wait(const char *lock_path, int *fd, err_t *err)
{
    *fd = -1;
    int f = open_lock(lock_path, err);
    if (f < 0) return -1;
    while (flock(f, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close(f);
        return err_set(err, "cannot lock %s: %s", lock_path, strerror(e));
    }
    *fd = f;
    return 0;
}

void daemon_lock_release(int fd)
{
    if (fd >= 0) close(fd); /* closing the last descriptor drops the flock */
}
