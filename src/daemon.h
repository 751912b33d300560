/* daemon.h — owner election between processes serving the same project (DESIGN §3).
 *
 * The owner holds an exclusive flock(2) on the project's daemon.lock. The kernel releases it
 * the instant the holder exits or is killed (even by SIGKILL), so there are no PID files and
 * no stale locks. Every other process is a reader and may wait for the lock in a thread to
 * take over at once. */
#ifndef EMBECODE_DAEMON_H
#define EMBECODE_DAEMON_H

#include "util.h"

/* Tries to take the lock without blocking. Returns 1 and sets *fd (keep it open to stay
 * owner; close it to resign) when taken, 0 when another process holds it, -1 with err when
 * the lock file cannot be opened. */
int daemon_lock_try(const char *lock_path, int *fd, err_t *err);
/* Blocks until the lock is taken. Returns 0 with *fd set, or -1 with err. Thread-safe. */
int daemon_lock_wait(const char *lock_path, int *fd, err_t *err);
/* Releases the lock (closes fd). NULL-safe for fd < 0. */
void daemon_lock_release(int fd);

#endif
