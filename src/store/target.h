/* target: one desired certificate, as read from desired/<file> merged over conf/target
 * (DESIGN.md §3). Every name in it is already normalised and validated (store/names.h). */
#ifndef ACMED_STORE_TARGET_H
#define ACMED_STORE_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/csr_read.h"
#include "crypto/key.h"

struct target_name {
    char *name; /* normalised: lowercase A-label DNS name ("*.x.y" allowed) or IP address text */
    bool ip;
};

struct target {
    char *file;  /* file name under desired/ (no directory part) */
    char *label; /* "" when none */
    int priority;

    struct target_name *names; /* satisfy.names (default: the file name) */
    size_t nnames;
    int margin_days;   /* satisfy.margin, 0 when unset */
    int critical_days; /* satisfy.critical-days, 0 when unset (then 1/10 of the lifetime) */
    bool www_apex;     /* satisfy.www-apex: the apex of each www.* name was added to names and
                          req_names (already done: nothing left to do with it) */

    struct target_name *req_names; /* request.names (default: satisfy.names) */
    size_t nreq_names;
    char *provider; /* request.provider after alias expansion; NULL: use the global default */
    char *profile;  /* NULL when unset */

    struct key_spec key; /* request.key type/curve/size (default ECDSA P-256) */
    char *key_id;        /* request.key.id, NULL when unset (validated as an id) */
    bool key_reuse;      /* request.key.reuse */
    bool must_staple;    /* request.ocsp-must-staple */

    char **challenge_types; /* request.challenge.type, ordered (default http-01, tls-alpn-01,
                               dns-01) */
    size_t nchallenge_types;
    char **webroot_paths; /* absolute paths */
    size_t nwebroot_paths;
    char **http_ports; /* as written: "host:port", "[v6]:port" or "N" */
    size_t nhttp_ports;
    char **tls_ports;
    size_t ntls_ports;
    bool http_self_test;
    char **env; /* "K=V" strings from request.challenge.env */
    size_t nenv;

    char *preferred_chain;    /* NULL when unset */
    char *trust_anchors;      /* request.trust-anchors: an absolute path to PEM roots the
                                 chain must end at, NULL when unset */
    char *mgmt_hmac_key_file; /* request.mgmt.hmac-key-file: an absolute path, NULL when unset
                                 (for a central server: request.provider mgmt+https://...) */
    char **contact;           /* request.account.contact, each passing
                                 target_contact_check; NULL when unset */
    size_t ncontact;
    unsigned contact_line;   /* line of request.account.contact in the file itself;
                                0 when inherited from conf/target or unset */
    int agree_tos;           /* request.account.agree-tos: -1 unset, 0 false, 1 true */
    char *eab_kid;           /* request.account.eab.kid, NULL */
    char *eab_hmac_key_file; /* request.account.eab.hmac-key-file, NULL */
    char *signer_unix;       /* request.account.signer "unix:PATH": PATH, else NULL */
    char *csr_path;          /* request.csr: the CSR's path, else NULL */
    struct csr_info *csr;    /* that CSR, read and checked (names in req_names), else NULL;
                                set by acmed sign-csr and serve for their own targets too */
    char **signer_exec;      /* request.account.signer.exec (conf/target only), else NULL */
    size_t nsigner_exec;
};

void target_clear(struct target *t);

/* True when t's account key lives in a signer (request.account.signer). */
bool target_has_signer(const struct target *t);
/* The signer's name as operators read it: "unix:/run/acme/S.signer", or "exec: ssh -T keyhost
 * acmed signer --stdio" (words joined by spaces); NULL when t names none or out of memory.
 * Caller frees. */
char *target_signer_name(const struct target *t);

/* The target that owns `name` (normalised; compared exactly) among ts[0..n-1] (acmetool's rule:
 * highest priority, then most satisfy.names, then the lexically smallest file name), or NULL when
 * none lists it. */
const struct target *target_owner(const struct target *ts, size_t n, const char *name);
/* True when a owns a name both list rather than b (the order target_owner follows). */
bool target_precedes(const struct target *a, const struct target *b);

/* Longest contact URI accepted, in bytes. */
#define TARGET_CONTACT_MAX 512

/* Why `uri` is not a contact acmed would send a CA (RFC 8555 §7.3), or NULL when it is one: a
 * URI "scheme:rest" of printable ASCII without spaces, at most TARGET_CONTACT_MAX bytes; a
 * mailto: URI holds exactly one address (local@domain) and no header fields ("?..."), which
 * CAs refuse. The reason is static text. */
const char *target_contact_check(const char *uri);

/* True when the two contact lists hold the same URIs, in any order, repeats ignored. */
bool target_contacts_equal(char *const *a, size_t na, char *const *b, size_t nb);

/* A copy of src[0..n-1] into *out (an array of n + 1, NULL-terminated, non-NULL even when n is
 * 0) and *nout; 0, or -ENOMEM leaving *out untouched. Free with target_contacts_free. */
int target_contacts_dup(char *const *src, size_t n, char ***out, size_t *nout);
void target_contacts_free(char **v, size_t n);

/* The list for a message: "mailto:a@x, mailto:b@y", or "none" when empty. Caller frees; NULL
 * on allocation failure. */
char *target_contacts_text(char *const *v, size_t n);

#endif
