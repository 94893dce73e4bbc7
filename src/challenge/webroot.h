/* webroot: http-01 answers as files under web server document roots (DESIGN.md §6).
 *
 * As in acmetool, each webroot path is the directory a web server serves as
 * /.well-known/acme-challenge/, so the key authorization for `token` goes to <path>/<token>. */
#ifndef ACMED_CHALLENGE_WEBROOT_H
#define ACMED_CHALLENGE_WEBROOT_H

#include <stddef.h>

#include "util/err.h"

/* Writes keyauth to <path>/<token> in each of the n paths (borrowed), atomically and with mode
 * 0644 exactly whatever the umask; a missing path directory is created (0755, with parents).
 * Each path is walked with fsio_open_dir_safe: a symlink on the way that is not owned by us
 * (or sits in a directory not owned by us) is refused, and the file is written relative to
 * the directory's descriptor. The token must be base64url, else -EINVAL before anything is
 * touched. If a path fails, the files already written by this call are removed again and e
 * names the failing path. Returns 0 or negative. */
int webroot_publish(const char *const *paths, size_t n, const char *token, const char *keyauth,
                    size_t keyauth_len, struct err *e);

/* Removes <path>/<token> from each path (reached as webroot_publish reaches it, the file
 * removed with unlinkat relative to it); a missing file or directory is fine. Tries every path and
 * returns 0 or the first error (e names its path; later errors are logged). A token that is
 * not base64url gives -EINVAL and nothing is removed. */
int webroot_unpublish(const char *const *paths, size_t n, const char *token, struct err *e);

#endif
