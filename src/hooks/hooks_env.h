/* hooks_env: the environment a hook runs with (DESIGN.md §5). Internal to src/hooks. */
#ifndef ACMED_HOOKS_HOOKS_ENV_H
#define ACMED_HOOKS_HOOKS_ENV_H

#include "hooks/hooks.h"
#include "util/err.h"

/* Builds the hook environment: ours (less systemd's hand-over to the daemon), then o->env
 * (the target's challenge.env) less the names util/envsafe refuses, each dropped with a
 * warning, then ACME_STATE_DIR; a later entry replaces an earlier one of the same name. o may
 * be NULL. On success *envp is a NULL-terminated array the caller frees (each entry and the
 * array). Returns 0, -EINVAL (e set) for an entry of o->env without '=' or with an empty
 * name, or -ENOMEM; *envp is then NULL. */
int hooks_env_build(const struct hooks_opts *o, char ***envp, struct err *e);

#endif
