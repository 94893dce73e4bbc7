/* lock: the state-directory lock held by a reconciler (daemon for its life, --once for its run).
 *
 * flock(LOCK_EX|LOCK_NB) on "<statedir>/.lock"; the holder writes its pid into the file so a
 * second reconciler can name it. The lock dies with the process, so a crash never leaves it. */
#ifndef ACMED_UTIL_LOCK_H
#define ACMED_UTIL_LOCK_H

#include <sys/types.h>

#include "util/err.h"

/* Takes the lock. On success returns 0 and *fd_out is the open lock file (keep it open to
 * hold the lock). Returns -EWOULDBLOCK when someone else holds it, with a message naming
 * the holder's pid; other negative codes for I/O errors, and for a lock file that is not a
 * regular file with one link owned by the effective uid (a symlink, a FIFO, a hard link,
 * another user's file: refused, with a message naming the path and why). */
int lock_acquire(const char *statedir, int *fd_out, struct err *e);

/* Releases the lock taken by lock_acquire (closes fd). fd < 0 is ignored. */
void lock_release(int fd);

/* Returns the pid recorded by the current holder, 0 when the lock is free, or negative on
 * error (a lock file lock_acquire would refuse is an error). Does not take the lock. */
pid_t lock_holder(const char *statedir);

#endif
