/* fsio: safe file I/O for the state directory (DESIGN.md §2).
 *
 * Writes are atomic and durable: a temp file ".tmp-<name>-<random>" in the destination's own
 * directory, created O_EXCL|O_NOFOLLOW with the exact mode (umask ignored), written, fsynced,
 * renamed over the destination, then the directory is fsynced. Reads refuse symlinks.
 *
 * Directories other users can write to (web server document roots) are reached with
 * fsio_open_dir_safe(), which walks a path one component at a time and follows a symlink only
 * when the link and the directory holding it belong to us (or root); files are then written
 * and removed relative to the descriptor it returns (fsio_write_atomic_at, unlinkat), never by
 * path. */
#ifndef ACMED_UTIL_FSIO_H
#define ACMED_UTIL_FSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* Failpoint name hit after the temp file is written and fsynced, before the rename. */
#define FSIO_FAILPOINT_BEFORE_RENAME "fsio-before-rename"

/* Atomically replaces `path` with `len` bytes of `data`, mode `mode` exactly. On failure the
 * old content (if any) is untouched and the temp file is removed. Returns 0 or negative. */
int fsio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct err *e);

/* Like fsio_write_atomic, relative to the open directory `dirfd`: the temp file is created
 * in dirfd, renamed onto `name` there (a plain name: no '/', not "." or "..", else -EINVAL)
 * and dirfd is fsynced; nothing is looked up by path. `dir` (borrowed) only names the
 * directory in messages. dirfd stays open (the caller's). Returns 0 or negative. */
int fsio_write_atomic_at(int dirfd, const char *dir, const char *name, const void *data, size_t len,
                         mode_t mode, struct err *e);

/* Reads a whole regular file, refusing symlinks (O_NOFOLLOW) and files larger than `max`.
 * *out (NUL-terminated, caller frees) and *len are set on success. -ENOENT when missing. */
int fsio_read_file(const char *path, size_t max, char **out, size_t *len, struct err *e);

/* Most symlinks one fsio_open_dir_safe walk follows before it gives up with -ELOOP. */
#define FSIO_MAX_LINKS 40

/* Opens the directory `path` (absolute: walked from "/"; relative: from the working
 * directory) one component at a time with openat(O_NOFOLLOW), so that nobody can swap a
 * symlink in under us. A symlink met on the way is followed (its target walked by the same
 * rules, at most FSIO_MAX_LINKS of them) only when the link itself and the directory holding
 * it are both owned by the effective uid or by root; any other is refused with -ELOOP and a message
 * naming it and its owner. "." and ".." are taken as they come ("/.." is "/").
 * With `create`, each missing component is made with mkdirat, set to `mode` exactly with
 * fchmod on the new directory (umask ignored) and its parent fsynced; directories that
 * already exist are left as they are. Without it, a missing component gives -ENOENT.
 * Returns a descriptor of the directory (O_RDONLY|O_DIRECTORY|O_CLOEXEC; the caller closes
 * it), or negative. */
int fsio_open_dir_safe(const char *path, bool create, mode_t mode, struct err *e);

/* Creates `path` and missing parents with mode `mode` (exactly, umask ignored) for the
 * directories it creates, fsyncing the parent of each so the new entries are durable. An
 * existing directory is left as it is. Walks the path as fsio_open_dir_safe does (a symlink
 * that is not ours is refused). Returns 0 or negative. */
int fsio_mkdirs(const char *path, mode_t mode, struct err *e);

/* fsyncs the directory `dir`. Returns 0 or negative. */
int fsio_fsync_dir(const char *dir, struct err *e);

/* fsyncs the open directory `fd` (not closed); `dir` (borrowed) names it in messages.
 * Returns 0 or negative. */
int fsio_fsync_dirfd(int fd, const char *dir, struct err *e);

/* fsyncs the directory holding `path` (after creating `path` in it, so the new entry is
 * durable). Returns 0 or negative. */
int fsio_fsync_parent(const char *path, struct err *e);

/* Atomically points symlink `linkpath` at `target` (a relative target is taken as is):
 * creates a temp link in the same directory and renames it over linkpath, then fsyncs the
 * directory. Returns 0 or negative. */
int fsio_symlink_atomic(const char *target, const char *linkpath, struct err *e);

/* Checks that `path`, with every symlink along it resolved, stays inside `root` (also
 * resolved). A missing final component is allowed (its parent is checked). Returns 0 when it
 * stays inside, -EXDEV when it leaves the root, other negative codes on errors. */
int fsio_check_within(const char *root, const char *path, struct err *e);

/* Removes files named ".tmp-*" directly inside `dir` (left by a crash). Returns the number
 * removed, or negative on error. A missing dir counts as 0. */
int fsio_remove_stale_tmp(const char *dir, struct err *e);

/* Joins dir and name with one '/'. Caller frees; NULL on allocation failure. */
char *fsio_join(const char *dir, const char *name);

/* Fills buf with n random bytes from getrandom(). Returns 0 or negative. */
int fsio_random(void *buf, size_t n);

#endif
