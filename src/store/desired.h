/* desired: reading desired/ and conf/target (YAML, acmetool's schema plus ours, DESIGN.md §3),
 * writing desired files for `want` and `unwant`, and the daemon settings conf/acmed.yaml and
 * acmetool's conf/responses.
 *
 * Errors name the file, line and column and say what was expected ("desired/www: line 3,
 * column 10: satisfy.names: expected a list of strings"). Unknown keys are warned about with
 * file:line and ignored. One bad desired file never stops the others. */
#ifndef ACMED_STORE_DESIRED_H
#define ACMED_STORE_DESIRED_H

#include <stdbool.h>
#include <stddef.h>

#include "store/target.h"
#include "util/err.h"

struct desired_error {
    char *file;    /* file name under desired/ */
    char *message; /* with path, line and column */
};

struct desired_set {
    struct target *targets; /* the good files, sorted by file name */
    size_t ntargets;
    struct desired_error *errors; /* the bad ones */
    size_t nerrors;
    /* conf/target's request.account.contact, the contact of every account (DESIGN.md §3);
     * NULL when conf/target sets none (an explicit [] is an empty, non-NULL list). */
    char **contact;
    size_t ncontact;
};

/* Reads conf/target (missing = no defaults) and every regular file in desired/ (dotfiles and
 * ".tmp-*" skipped) under the state directory `root`. A bad conf/target is -EINVAL with e
 * set and nothing else read (exit 2 territory); a bad desired file only adds an entry to
 * out->errors. Returns 0 or negative; out is released with desired_set_clear. */
int desired_load(const char *root, struct desired_set *out, struct err *e);

void desired_set_clear(struct desired_set *s);

/* Reads conf/target alone (a missing file: the built-in defaults) into *out, a target named
 * "conf/target" holding the defaults every desired file inherits (no names). Returns 0, or
 * -EINVAL with file:line when conf/target is malformed, or another negative code; on success
 * *out is released with target_clear. */
int desired_load_defaults(const char *root, struct target *out, struct err *e);

/* The target acmed sign-csr and acmed serve order for: conf/target's defaults under `root`
 * (provider, account, challenges), named `file` in messages, with csr (taken over, freed on
 * failure too) as its request.csr and the CSR's names, normalised, as its names. Returns 0,
 * or negative with e set (conf/target malformed, a name acmed cannot order); *out is released
 * with target_clear. */
int desired_target_csr(const char *root, const char *file, struct csr_info *csr, struct target *out,
                       struct err *e);

/* Parses one desired file's text merged over conf/target's text (either may be NULL or
 * empty; one YAML document each, no aliases). `file` is the desired file's name (the default
 * hostname) and appears in messages. For tests and for desired_load. Returns 0 and *out, or -EINVAL
 * with e set. */
int desired_parse(const char *file, const char *text, size_t len, const char *defaults,
                  size_t defaults_len, struct target *out, struct err *e);

/* `want`: writes desired/<file> (atomically, 0644) with satisfy.names = names (normalised
 * first; any invalid name is -EINVAL and nothing is written). www_apex (`want --apex`) adds
 * the apex of each www.* name after them, unless listed already. An existing file is
 * replaced. file NULL: the first name, normalised; otherwise one path component not
 * starting with '.'. */
int desired_want(const char *root, const char *file, const char *const *names, size_t n,
                 bool www_apex, struct err *e);

/* `unwant`: removes the names from satisfy.names (and request.names) of every desired file,
 * rewriting changed files atomically (other settings kept) and deleting files left without
 * names. *changed counts the files touched. A file without names stands for its file name.
 * Rewritten files lose their comments; files that do not parse are skipped with a warning. */
int desired_unwant(const char *root, const char *const *names, size_t n, size_t *changed,
                   struct err *e);

/* conf/acmed.yaml's `privsep:` (DESIGN.md §10). */
enum acmed_privsep {
    ACMED_PRIVSEP_AUTO = 0, /* unset: on when started as root */
    ACMED_PRIVSEP_ON,       /* true: the same (it needs root to drop to the worker's user) */
    ACMED_PRIVSEP_OFF,      /* false: one process, as before privilege separation */
};

struct acmed_cluster;

/* conf/acmed.yaml (all optional): DESIGN.md §2, and §12 for `cluster:`. */
struct acmed_conf {
    unsigned interval_s;          /* 3600 */
    unsigned max_orders;          /* 8 */
    unsigned max_requests_per_ca; /* 16 */
    unsigned hook_timeout_s;      /* 300 */
    char *metrics_file;           /* NULL */
    char *log_level;              /* "info" */
    bool allow_insecure_http;     /* false: plain http only to loopback (net/url_policy.h) */
    char *user;                   /* NULL: "acmed", else "nobody" (privsep/privsep_plan.h) */
    enum acmed_privsep privsep;   /* ACMED_PRIVSEP_AUTO */
    /* `cluster:` (store/conf_cluster.h); NULL: not in fleet mode. */
    struct acmed_cluster *cluster;
};
/* Loads conf/acmed.yaml into *out (defaults when missing). -EINVAL with file:line on errors. */
int acmed_conf_load(const char *root, struct acmed_conf *out, struct err *e);
void acmed_conf_clear(struct acmed_conf *c);

/* True when conf/responses (acmetool's answers file, YAML or JSON) has
 * "acme-agreement:<tos_url>": true. Missing file or key: false. */
bool desired_responses_agree(const char *root, const char *tos_url);

/* Provider aliases: "letsencrypt", "letsencrypt-staging" -> their directory URLs; any other
 * string is returned as is. Static or borrowed. */
const char *desired_provider_url(const char *alias_or_url);

#endif
