/* engine_types: the plain data of struct engine (engine.h), independent of src/acme so that
 * an implementation outside the process (a worker reached over a socket) can encode it: only
 * strings, integers, booleans, time_t and arrays of those. Every object is caller-owned and
 * released with its _free function (NULL is ignored); strings in it are owned by it. */
#ifndef ACMED_RECONCILE_ENGINE_TYPES_H
#define ACMED_RECONCILE_ENGINE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Statuses, in the order of RFC 8555 §7.1.6. */
enum engine_order_status {
    EORDER_PENDING,
    EORDER_READY,
    EORDER_PROCESSING,
    EORDER_VALID,
    EORDER_INVALID
};
enum engine_authz_status {
    EAUTHZ_PENDING,
    EAUTHZ_VALID,
    EAUTHZ_INVALID,
    EAUTHZ_DEACTIVATED,
    EAUTHZ_EXPIRED,
    EAUTHZ_REVOKED,
};
enum engine_chall_status { ECHALL_PENDING, ECHALL_PROCESSING, ECHALL_VALID, ECHALL_INVALID };
enum engine_account_status { EACCOUNT_VALID, EACCOUNT_DEACTIVATED, EACCOUNT_REVOKED };

/* An identifier: ip false for "dns" (RFC 8555), true for "ip" (RFC 8738). */
struct engine_identifier {
    bool ip;
    char *value;
};

/* A problem document (RFC 7807, RFC 8555 §6.7). */
struct engine_problem {
    char *type;                        /* "about:blank" when the server gave none */
    char *detail;                      /* NULL when absent */
    char *text;                        /* preformatted for messages: type, detail and subproblems */
    int status;                        /* HTTP status in the document, 0 when absent */
    struct engine_identifier *sub_ids; /* identifiers of the subproblems that name one */
    size_t nsub_ids;
};

struct engine_account {
    enum engine_account_status status;
    char **contact;
    size_t ncontact;
    char *orders; /* NULL when absent */
};

struct engine_order {
    enum engine_order_status status;
    char *url; /* the order's URL when the operation gives it (order_new: Location), else NULL */
    char *finalize;
    char *certificate; /* NULL until the order is valid */
    time_t expires;    /* 0 when absent */
    struct engine_identifier *identifiers;
    size_t nidentifiers;
    char **authorizations;
    size_t nauthorizations;
    struct engine_problem *error; /* NULL when absent */
};

struct engine_challenge {
    char *type; /* "http-01", "dns-01", "tls-alpn-01" or any other, as given */
    char *url;
    char *token; /* NULL when absent */
    enum engine_chall_status status;
    struct engine_problem *error; /* NULL when absent */
};

struct engine_authz {
    enum engine_authz_status status;
    struct engine_identifier identifier;
    bool wildcard;
    time_t expires; /* 0 when absent */
    struct engine_challenge *challenges;
    size_t nchallenges;
};

struct engine_directory {
    char *new_account;
    char *new_order;
    char *revoke_cert;
    char *new_authz;        /* NULL when the server has no pre-authorization */
    char *renewal_info;     /* NULL when the server has no ARI (RFC 9773) */
    char *terms_of_service; /* meta, NULL when absent */
    char *website;
    char **caa_identities;
    size_t ncaa_identities;
    bool external_account_required;
    char **profiles; /* profile names, in server order */
    size_t nprofiles;
};

/* A renewal information window (RFC 9773). */
struct engine_renewal_info {
    time_t start;
    time_t end;
    char *explanation_url; /* NULL when absent */
};

void engine_problem_free(struct engine_problem *p);
void engine_account_free(struct engine_account *a);
void engine_order_free(struct engine_order *o);
void engine_challenge_free(struct engine_challenge *c);
void engine_authz_free(struct engine_authz *a);
void engine_directory_free(struct engine_directory *d);
void engine_renewal_info_free(struct engine_renewal_info *r);

/* Status names as RFC 8555 spells them (a static string, "unknown" out of range). */
const char *engine_order_status_str(enum engine_order_status s);
const char *engine_authz_status_str(enum engine_authz_status s);
const char *engine_chall_status_str(enum engine_chall_status s);

#endif
