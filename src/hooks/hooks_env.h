/* hooks_env: the environment a hook runs with (DESIGN.md §5). Internal to src/hooks. */
#ifndef ACMED_HOOKS_HOOKS_ENV_H
#define ACMED_HOOKS_HOOKS_ENV_H

#include <stddef.h>

#include "util/err.h"

/* Builds the hook environment: ours (less systemd's hand-over to the daemon), then the nextra
 * "K=V" entries of extra (the target's challenge.env, hooks_opts.env; borrowed) less the names
 * util/envsafe refuses, each dropped with a warning, then ACME_STATE_DIR=state_dir unless
 * state_dir is NULL; a later entry replaces an earlier one of the same name. On success *envp
 * is a NULL-terminated array the caller frees (each entry and the array). Returns 0, -EINVAL
 * (e set) for an entry of extra without '=' or with an empty name, or -ENOMEM; *envp is then
 * NULL. */
int hooks_env_build(const char *const *extra, size_t nextra, const char *state_dir, char ***envp,
                    struct err *e);

#endif
