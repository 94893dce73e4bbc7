/* objects: the ACME resources of RFC 8555 §7.1, parsed from the JSON text a server sent into
 * plain C structs (problem documents, §6.7, are in acme/problem.h).
 *
 * Parsing is strict: a required member that is missing, a member of the wrong JSON type, an
 * unknown status or an invalid timestamp is an error whose message names the object and the
 * member ("order: missing \"finalize\""). Unknown members are ignored, and an optional member
 * whose value is JSON null is treated as absent. Every parse function returns 0 and sets *out
 * (caller-owned, released with the matching _free function, which accepts NULL), or a negative
 * code (-EINVAL for bad input, -ENOMEM) with e set and *out untouched. */
#ifndef ACMED_ACME_OBJECTS_H
#define ACMED_ACME_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "acme/problem.h"
#include "util/err.h"

enum acme_account_status { ACCOUNT_VALID, ACCOUNT_DEACTIVATED, ACCOUNT_REVOKED };

enum acme_order_status { ORDER_PENDING, ORDER_READY, ORDER_PROCESSING, ORDER_VALID, ORDER_INVALID };

enum acme_authz_status {
    AUTHZ_PENDING,
    AUTHZ_VALID,
    AUTHZ_INVALID,
    AUTHZ_DEACTIVATED,
    AUTHZ_EXPIRED,
    AUTHZ_REVOKED,
};

enum acme_chall_status { CHALL_PENDING, CHALL_PROCESSING, CHALL_VALID, CHALL_INVALID };

/* Identifier types acmed orders certificates for: "dns" (RFC 8555) and "ip" (RFC 8738). */
enum acme_id_type { ACME_ID_DNS, ACME_ID_IP };

/* Status and identifier-type names, both ways. The _str functions return a static string
 * ("unknown" for an out-of-range value); the _parse functions return 0 or -EINVAL. */
const char *acme_account_status_str(enum acme_account_status s);
int acme_account_status_parse(const char *s, enum acme_account_status *out);
const char *acme_order_status_str(enum acme_order_status s);
int acme_order_status_parse(const char *s, enum acme_order_status *out);
const char *acme_authz_status_str(enum acme_authz_status s);
int acme_authz_status_parse(const char *s, enum acme_authz_status *out);
const char *acme_chall_status_str(enum acme_chall_status s);
int acme_chall_status_parse(const char *s, enum acme_chall_status *out);
const char *acme_id_type_str(enum acme_id_type t);
int acme_id_type_parse(const char *s, enum acme_id_type *out);

struct acme_identifier {
    enum acme_id_type type;
    char *value;
};

struct acme_profile {
    char *name;
    char *description;
};

struct acme_directory {
    char *new_nonce;
    char *new_account;
    char *new_order;
    char *revoke_cert;
    char *key_change;
    char *new_authz;    /* NULL when the server does not support pre-authorization */
    char *renewal_info; /* NULL when the server does not support ARI (RFC 9773) */
    struct {
        char *terms_of_service; /* NULL when absent */
        char *website;          /* NULL when absent */
        char **caa_identities;
        size_t ncaa_identities;
        bool external_account_required;
        struct acme_profile *profiles; /* draft-aaron-acme-profiles, in server order */
        size_t nprofiles;
    } meta;
};

struct acme_account {
    enum acme_account_status status;
    char **contact;
    size_t ncontact;
    char *orders; /* NULL when absent (RFC 8555 requires it, some servers omit it) */
};

struct acme_order {
    enum acme_order_status status;
    time_t expires; /* 0 when absent */
    struct acme_identifier *identifiers;
    size_t nidentifiers;
    char **authorizations;
    size_t nauthorizations;
    char *finalize;
    char *certificate;          /* NULL until the order is valid */
    struct acme_problem *error; /* NULL when absent */
    char *profile;              /* NULL when absent */
    char *replaces;             /* ARI certID of the replaced certificate, NULL when absent */
};

struct acme_challenge {
    char *type; /* "http-01", "dns-01", "tls-alpn-01" or any other, kept as given */
    char *url;
    enum acme_chall_status status;
    char *token;                /* NULL when absent; base64url-checked when present */
    time_t validated;           /* 0 when absent */
    struct acme_problem *error; /* NULL when absent */
};

struct acme_authz {
    struct acme_identifier identifier;
    enum acme_authz_status status;
    time_t expires; /* 0 when absent */
    bool wildcard;
    struct acme_challenge *challenges;
    size_t nchallenges;
};

/* Parsers of the response bodies, as described at the top of this file. */
int acme_directory_parse(const char *text, size_t len, struct acme_directory **out, struct err *e);
int acme_account_parse(const char *text, size_t len, struct acme_account **out, struct err *e);
int acme_order_parse(const char *text, size_t len, struct acme_order **out, struct err *e);
int acme_authz_parse(const char *text, size_t len, struct acme_authz **out, struct err *e);
int acme_challenge_parse(const char *text, size_t len, struct acme_challenge **out, struct err *e);

void acme_directory_free(struct acme_directory *d);
void acme_account_free(struct acme_account *a);
void acme_order_free(struct acme_order *o);
void acme_authz_free(struct acme_authz *a);
void acme_challenge_free(struct acme_challenge *c);

/* Checks every endpoint URL of a directory with acme_url_check (acme/url.h) and the same
 * https_only rule. Returns 0 or -EPROTO with e naming the endpoint. */
int acme_directory_urls_check(const struct acme_directory *d, bool https_only, struct err *e);

#endif
