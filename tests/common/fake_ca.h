/* fake_ca: a scripted engine (src/reconcile/engine.h) for unit tests: a small CA in memory
 * for one name that answers every operation from its own order and authorization state,
 * logs each call ("op,op,...") and fails the calls a test asks it to. Replies are delivered
 * from the loop, never from the call. Several fakes (one per directory URL) chain through
 * `next` for fake_factory. */
#ifndef ACMED_TESTS_FAKE_CA_H
#define ACMED_TESTS_FAKE_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "reconcile/engine.h"
#include "reconcile/job.h"

struct fake {
    struct engine base;
    struct fake *next; /* another CA, for fake_factory */
    uv_loop_t *loop;
    char url[128];  /* its directory URL */
    char name[64];  /* the one name it issues for */
    char token[64]; /* its http-01 challenge's token (FAKE_TOKEN) */
    char order_url[160];
    struct engine_directory dir;
    char *kid;
    char log[2048];                 /* "op,op,...": every call in order */
    enum engine_order_status order; /* the CA's one order; EORDER_INVALID when none */
    bool new_order_invalid;         /* newOrder creates an order already invalid */
    const char *fail_op;            /* this operation fails fail_times times with fail_problem
                                     * (NULL: lost, ENGINE_ELOST, as with a dead worker) */
    unsigned fail_times;
    const char *fail_problem;
    uint8_t *csr; /* what finalize got, for the certificate */
    size_t csr_len;
    struct job *j;      /* the job under test, for stop_at */
    bool *stopping;     /* the pass's stop request, for stop_at */
    int stop_at;        /* stop the pass while this step runs (-1: never) */
    uv_prepare_t check; /* runs after the timers, before the loop waits */
    /* Challenges: a new order's authorization starts as authz_initial (EAUTHZ_VALID: nothing
     * to answer) and, once its http-01 challenge is answered, polling finds authz_final. */
    enum engine_authz_status authz_initial, authz_final, authz;
    const char *webroot; /* when set, polling finds the authorization invalid unless
                            <webroot>/<token> held the key authorization when answered */
    unsigned answers;    /* challenges answered with the file in place */
    /* What the pass phases sent: the contact of the last account update, revocations. */
    char contact[256];
    unsigned revoked;
    int revoke_reason;
    /* A central certificate server's (csr_post): the Authentication value and the body the
     * last post carried, and how many of its checks were asked (key, the one name, anchors). */
    char auth[128];
    char *body;
    int post_checks;
    /* Renewal information: when set, the directory offers it and this is the window. */
    time_t ari_start, ari_end;
};

/* The start of the token of a fake's http-01 challenge; fake_init ends it with "-" and the
 * first letter of the fake's name, so that two CAs never hand out the same token (as real
 * ones do not: two targets sharing a webroot must not remove each other's answer). */
#define FAKE_TOKEN "dGVzdC10b2tlbi1mb3ItdGhlLWZha2UtY2EtMDEyMzQ1"

/* Sets up a fake CA at directory url for name on loop (a prepare handle that fake_clear
 * closes; the loop must run after). */
void fake_init(struct fake *f, uv_loop_t *loop, const char *url, const char *name);
void fake_clear(struct fake *f);
/* engine_factory over the chain of fakes starting at arg: the one whose url matches. */
int fake_factory(void *arg, const char *url, struct engine **out, struct err *e);

#endif
