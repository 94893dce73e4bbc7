/* signer_sign: asks a signer for one ACME signature through acmed's own signer client
 * (signer/signer_client.h) and checks it against the key the signer announced.
 *
 *   signer_sign [--kid KID] URL PAYLOAD unix:PATH
 *   signer_sign [--kid KID] URL PAYLOAD -- COMMAND [ARGS...]
 *
 * The protected header is {alg, nonce, url, kid} (kid: --kid, else the signer's, else the
 * signer's JWK goes in "jwk"). Prints "signed" and exits 0 when the signature verifies;
 * prints the error and exits 1 otherwise (a refusal says "refused"). Used by
 * tests/cli/test_signer.sh. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/jws.h"
#include "signer/signer_client.h"
#include "util/log.h"

struct state {
    int done, rc;
    char *jws;
    char msg[ERR_MSG_MAX];
};

static void on_connected(void *arg, int rc, const struct err *e)
{
    struct state *s = arg;

    s->done = 1;
    s->rc = rc;
    if (rc < 0)
        snprintf(s->msg, sizeof s->msg, "%s", err_msg(e));
}

static void on_jws(void *arg, int rc, const char *jws, const struct err *e)
{
    struct state *s = arg;

    s->done = 1;
    s->rc = rc;
    if (rc == 0)
        s->jws = strdup(jws);
    else
        snprintf(s->msg, sizeof s->msg, "%s", err_msg(e));
}

static void run(uv_loop_t *loop, const int *done)
{
    while (!*done && uv_run(loop, UV_RUN_ONCE))
        ;
}

int main(int argc, char **argv)
{
    struct signer_client_opts o = {.timeout_ms = 10000};
    struct signer_client *sc = NULL;
    struct state st = {0};
    const char *kid = NULL;
    struct signer s;
    struct err e = {0};
    uv_loop_t loop;
    int i = 1, rc = 1;
    json_t *jwk;

    signal(SIGPIPE, SIG_IGN);
    log_init();
    if (argc > 2 && !strcmp(argv[1], "--kid")) {
        kid = argv[2];
        i = 3;
    }
    if (argc - i < 3) {
        fprintf(stderr, "usage: signer_sign [--kid KID] URL PAYLOAD (unix:PATH | -- CMD...)\n");
        return 2;
    }
    if (!strncmp(argv[i + 2], "unix:", 5))
        o.socket_path = argv[i + 2] + 5;
    else if (!strcmp(argv[i + 2], "--") && argc - i > 3)
        o.argv = argv + i + 3;
    else
        return 2;
    uv_loop_init(&loop);
    if (signer_client_new(&loop, &o, &sc, &e) < 0 ||
        signer_client_connect(sc, on_connected, &st, &e) < 0) {
        printf("%s\n", err_msg(&e));
        goto out;
    }
    run(&loop, &st.done);
    if (st.rc < 0 || signer_client_signer(sc, &s, &e) < 0) {
        printf("%s\n", st.rc < 0 ? st.msg : err_msg(&e));
        goto out;
    }
    if (!kid)
        kid = signer_client_kid(sc);
    memset(&st, 0, sizeof st);
    if (jws_sign_acme_start(&s, kid, "test-nonce", argv[i], argv[i + 1], on_jws, &st, &e) < 0) {
        printf("%s\n", err_msg(&e));
        goto out;
    }
    run(&loop, &st.done);
    if (st.rc < 0) {
        printf("%s\n", st.msg);
        goto out;
    }
    jwk = signer_client_jwk(sc);
    if (!jwk || jws_verify_flattened(st.jws, jwk, &e) < 0) {
        printf("signature does not verify: %s\n", jwk ? err_msg(&e) : "no JWK");
        goto out;
    }
    printf("signed\n");
    rc = 0;
out:
    free(st.jws);
    signer_client_close(sc);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}
