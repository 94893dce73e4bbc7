/* hooks: the acmetool hook protocol (DESIGN.md §5).
 *
 * A hook is an executable in one of the hook directories. For an event, every hook runs once,
 * one after another in bytewise lexical order of file names (across all directories), as
 * `hook EVENT ARGS...`, with stdin fed from a buffer, working directory "/", and the daemon's
 * environment plus ACME_STATE_DIR and the target's challenge.env. Exit status 42 means "not
 * mine". Each hook gets a timeout; on expiry its whole process group (hooks run detached, as
 * session and group leaders) gets SIGTERM, then SIGKILL after a short grace.
 *
 * Discovery: the directories form a union, searched in order; dotfiles are skipped; a name
 * found in an earlier directory masks the same name in later ones; an empty file or a symlink
 * to /dev/null disables that name (it masks later ones and is not run). A hook must be a
 * regular executable file after resolving symlinks, and it, every directory from it up to /,
 * and, for a symlink, the link and everything on the path of its target must belong to root
 * (or our effective uid) and not be writable by group or others (util/trust: a sticky
 * directory such as /tmp may be, for entries owned by root or us). A directory that fails
 * this is refused as a whole: nothing in it runs, masks or disables. Refused entries are
 * logged with log_warn and not run; they are not counted as failures of the event (so an
 * insecure hook the operator must fix does not also stop every challenge), and a refused
 * entry still masks its name in later directories, except an entry owned by someone else in
 * a sticky directory open to others, which anyone could have made and which is ignored.
 *
 * The environment a hook gets never holds a variable from challenge.env that util/envsafe
 * refuses (LD_PRELOAD, PATH, BASH_ENV...): the schema refuses them already, and hooks_run()
 * drops any that reach it with a warning, so the daemon's own value (root's) stays.
 *
 * A hook need not read its stdin, so writing it may meet a closed pipe: hooks_run() sets
 * SIGPIPE to SIG_IGN for the process when it is still at its default (which would kill the
 * daemon), and the write just fails with EPIPE. */
#ifndef ACMED_HOOKS_HOOKS_H
#define ACMED_HOOKS_HOOKS_H

#include <stddef.h>

#include <uv.h>

#include "util/err.h"

/* Default hook directories, in order: /etc/acme/hooks, /usr/libexec/acme/hooks,
 * /usr/lib/acme/hooks. */
extern const char *const hooks_default_dirs[];
extern const size_t hooks_ndefault_dirs;

/* Exit status by which a hook says an event is not its business. */
#define HOOKS_EXIT_NOT_MINE 42

/* Milliseconds between SIGTERM and SIGKILL to a timed-out hook's process group. */
#define HOOKS_KILL_GRACE_MS 1000

struct hooks_opts {
    const char *const *dirs; /* searched in order; NULL = the defaults */
    size_t ndirs;
    unsigned timeout_s;     /* per hook; 0 = 300 */
    const char *state_dir;  /* exported as ACME_STATE_DIR (NULL: left as inherited) */
    const char *const *env; /* extra "K=V" (target's challenge.env; names util/envsafe
                             * refuses are dropped); all borrowed */
    size_t nenv;
};

/* Called once when every hook for the event has finished. rc is 0 when all ran and exited 0
 * or 42, or the first failure (negative: -ETIMEDOUT for a timeout, -EIO for a non-zero exit
 * status or a signal, the spawn error otherwise); e (borrowed, valid during the call only)
 * names the hook and says what happened. Later failures are logged with log_warn. nran counts
 * the hooks that exited 0. */
typedef void (*hooks_cb)(void *arg, int rc, unsigned nran, const struct err *e);

/* Runs every hook found by hooks_discover() for `event` (letters, digits and '-') with argv
 * [hook, event, args...], stdin = stdin_data (may be NULL/0: empty stdin), cwd "/", and the
 * environment described above. A failing hook does not stop the others. Everything passed
 * in is copied: the caller may free it on return. Returns 0 when started: cb is then called
 * exactly once, from the loop, never synchronously (also when there is no hook at all), after
 * every handle has been closed. Returns negative (e set, cb never called) on bad arguments,
 * an unreadable hook directory or lack of memory. */
int hooks_run(uv_loop_t *loop, const struct hooks_opts *o, const char *event,
              const char *const *args, size_t nargs, const char *stdin_data, size_t stdin_len,
              hooks_cb cb, void *arg, struct err *e);

/* For a stop that cannot wait: every hooks_run on `loop` still under way ends with rc
 * -ECANCELED (its callback runs once, from the loop, as usual): no further hook of its event
 * starts, and a running hook's process group gets SIGTERM, then SIGKILL after
 * HOOKS_KILL_GRACE_MS, and is reaped. Hooks run later are not affected. */
void hooks_cancel(uv_loop_t *loop);

/* Lists the hooks that would run, in order, as absolute paths in *paths (caller frees each
 * and the array, e.g. with hooks_paths_free()). Missing directories are fine; refused
 * entries are logged and left out. Returns 0, or negative (e set) when a directory exists
 * but cannot be read, or on lack of memory. */
int hooks_discover(const struct hooks_opts *o, char ***paths, size_t *n, struct err *e);

/* Frees what hooks_discover() returned. Accepts NULL. */
void hooks_paths_free(char **paths, size_t n);

#endif
