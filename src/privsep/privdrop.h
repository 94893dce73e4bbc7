/* privdrop: what the keeper does to start its unprivileged worker (DESIGN.md §10).
 *
 * The worker is acmed itself, exec'd afresh (it inherits no memory of the keeper's) through a
 * descriptor of the binary opened at start, so a build in a directory the worker's user cannot
 * read still starts. Before the exec the child leaves every privilege behind: supplementary
 * groups, the real/effective/saved ids, every capability (bounding set included) and, with
 * no_new_privs, the means to gain any back through a set-id binary. */
#ifndef ACMED_PRIVSEP_PRIVDROP_H
#define ACMED_PRIVSEP_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

/* The user the worker runs as. */
struct privdrop_id {
    char name[64];
    uid_t uid;
    gid_t gid;
    bool fallback; /* `user:` unset and no "acmed" user: running as nobody (warn each start) */
};

/* Resolves conf/acmed.yaml's `user:` (NULL when unset). A named user must exist and must not
 * be root (uid 0): either is an error naming the user. Unset: "acmed" when it exists, else
 * "nobody" with out->fallback set; neither existing is an error. Returns 0 or negative. */
int privdrop_resolve(const char *user, struct privdrop_id *out, struct err *e);

/* Opens this process's own binary (/proc/self/exe) with O_PATH|O_CLOEXEC, for
 * privdrop_exec_self later. Returns the descriptor, or negative with e set. */
int privdrop_self_open(struct err *e);

/* In a freshly forked child only: drops supplementary groups, sets the real, effective and
 * saved gid and uid to id's, empties the capability bounding, ambient and inheritable sets,
 * sets no_new_privs, and checks the result (no way back to uid 0, every capability set empty,
 * NoNewPrivs 1 in /proc/self/status). Returns 0, or negative with e saying which step failed;
 * the caller must then _exit, never exec. */
int privdrop_apply(const struct privdrop_id *id, struct err *e);

/* Executes the binary behind self_fd (privdrop_self_open) with argv and envp. Returns only on
 * failure: negative with e set. */
int privdrop_exec_self(int self_fd, char *const argv[], char *const envp[], struct err *e);

/* The process's capability and privilege facts from /proc/self/status, for checks and tests:
 * each capability set as read (hex), NoNewPrivs, and the number of supplementary groups. */
struct privdrop_facts {
    unsigned long long cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
    int no_new_privs;
    int ngroups;
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
};

/* Reads `path` (a /proc/<pid>/status file) into f. Returns 0, or negative when a field is
 * missing. */
int privdrop_facts_read(const char *path, struct privdrop_facts *f, struct err *e);

#endif
