/* trust: whether a file is in the hands of root (or our own effective user) alone, so that
 * running it, or running what it names, as root gives nobody else a way in.
 *
 * A path is trusted when the object it names and every directory on the way to it from /
 * are owned by root or by our effective uid, and none of them is writable by group or
 * others; symbolic links met on the way (the last component included) are followed, and the
 * link itself must be owned by root or our effective uid, as must everything on the path of
 * its target. One exception: a directory with the sticky bit (/tmp) may be writable by
 * group or others, since only an entry's owner (checked: root or us) can then rename or
 * remove it. In such a directory a file with more than one hard link is refused: anyone may
 * have linked it there. */
#ifndef ACMED_UTIL_TRUST_H
#define ACMED_UTIL_TRUST_H

#include <stdbool.h>
#include <sys/stat.h>

#include "util/err.h"

/* Checks `path` (relative paths start from the working directory) as described above.
 * Returns 0 when trusted; -EPERM with e naming the offending path, its owner and its mode
 * when not; another negative errno (e set) when a component cannot be examined (-ENOENT,
 * -ELOOP, -ENAMETOOLONG...). */
int trust_path(const char *path, struct err *e);

/* True when st's owner is root or our effective uid. */
bool trust_owner_ok(const struct stat *st);

/* True when st is writable by group or others (no exception for the sticky bit). */
bool trust_shared_write(const struct stat *st);

#endif
