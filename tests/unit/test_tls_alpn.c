/* Unit tests for net/tls_alpn: the tls-alpn-01 responder on loopback. gnutls-cli (spawned with
 * uv_spawn while the loop runs, bounded by `timeout 10` and a loop watchdog) is the client;
 * certtool -i reads the certificate it saved. Also: argument checks, bind failures, the
 * handshake deadline and the connection cap with raw TCP clients, and that closing leaves
 * nothing on the loop. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/x509.h>
#include <uv.h>

#include "common/testutil.h"
#include "crypto/b64.h"
#include "net/tls_alpn.h"

#define KA1                                                                                        \
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define KA2                                                                                        \
    "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

struct fix {
    uv_loop_t loop;
    struct tls_alpn *t;
    int port4;
    int port6; /* -1 when ::1 is not available */
    char *dir;
    char cert[512];
};

/* ---- running the loop ----------------------------------------------------------------- */

static void run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;

    tu_run_until(loop, &never, ms);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* ---- fixture -------------------------------------------------------------------------- */

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    const struct sockaddr *addrs[2];
    socklen_t lens[2] = {sizeof a4, sizeof a6};
    bool req[2] = {true, false};
    struct err e;

    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a4), 0);
    assert_int_equal(uv_ip6_addr("::1", 0, &a6), 0);
    addrs[0] = (const struct sockaddr *)&a4;
    addrs[1] = (const struct sockaddr *)&a6;
    assert_int_equal(tls_alpn_start(&f->loop, addrs, lens, req, 2, &f->t, &e), 0);
    f->port4 = tls_alpn_bound_port(f->t, 0);
    f->port6 = tls_alpn_bound_port(f->t, 1);
    assert_true(f->port4 > 0);
    if (f->port6 <= 0)
        f->port6 = -1;
    f->dir = tu_mkdtemp("tls_alpn");
    snprintf(f->cert, sizeof f->cert, "%s/cert.pem", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    int closed = 0;

    if (f->t) {
        tls_alpn_close(f->t, on_closed, &closed);
        assert_int_equal(closed, 0); /* never called back synchronously */
        tu_run_until(&f->loop, &closed, 5000);
        assert_int_equal(closed, 1);
    }
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- gnutls-cli ----------------------------------------------------------------------- */

struct client {
    int exited;
    int64_t status;
    int handshake_ok;
    int cert_saved;
    uint64_t ms;
    char *out;
};

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct client *c = p->data;

    c->exited = 1;
    c->status = sig ? 128 + sig : status;
    uv_close((uv_handle_t *)p, NULL);
}

/* Runs gnutls-cli against host:port with the given SNI (NULL: none sent), ALPN (NULL: none)
 * and one extra option (or NULL) while the loop serves it; the peer certificate is saved to
 * f->cert. */
static void client_run(struct fix *f, const char *host, int port, const char *sni, const char *alpn,
                       const char *extra, struct client *c)
{
    char portarg[32], sniarg[300], alpnarg[64], certarg[600], log[600];
    const char *args[16];
    int n = 0, nullfd, logfd;
    uv_process_t proc;
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];
    uint64_t t0;

    memset(c, 0, sizeof *c);
    unlink(f->cert);
    snprintf(log, sizeof log, "%s/client.log", f->dir);
    snprintf(portarg, sizeof portarg, "--port=%d", port);
    snprintf(certarg, sizeof certarg, "--save-cert=%s", f->cert);
    args[n++] = "timeout";
    args[n++] = "10";
    args[n++] = "gnutls-cli";
    args[n++] = "--insecure";
    args[n++] = portarg;
    if (sni) {
        snprintf(sniarg, sizeof sniarg, "--sni-hostname=%s", sni);
        args[n++] = sniarg;
    } else {
        args[n++] = "--disable-sni";
    }
    if (alpn) {
        snprintf(alpnarg, sizeof alpnarg, "--alpn=%s", alpn);
        args[n++] = alpnarg;
    }
    if (extra)
        args[n++] = extra;
    args[n++] = certarg;
    args[n++] = host;
    args[n] = NULL;

    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(nullfd >= 0 && logfd >= 0);
    memset(&opt, 0, sizeof opt);
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = nullfd;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = logfd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = logfd;
    opt.file = "timeout";
    opt.args = (char **)args;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = on_exit_cb;
    proc.data = c;
    t0 = uv_hrtime();
    assert_int_equal(uv_spawn(&f->loop, &proc, &opt), 0);
    close(nullfd);
    close(logfd);
    if (!tu_run_until(&f->loop, &c->exited, 15000))
        fail_msg("gnutls-cli did not exit");
    c->ms = (uv_hrtime() - t0) / 1000000;
    c->out = tu_read_file(log, NULL);
    assert_non_null(c->out);
    c->handshake_ok = strstr(c->out, "Handshake was completed") != NULL;
    c->cert_saved = access(f->cert, F_OK) == 0;
}

/* The handshake fails with the TLS alert numbered `alert`. */
static void expect_refused(struct fix *f, const char *sni, const char *alpn, int alert)
{
    char want[64];
    struct client c;

    client_run(f, "127.0.0.1", f->port4, sni, alpn, NULL, &c);
    if (c.handshake_ok || c.cert_saved)
        fail_msg("sni %s alpn %s: handshake succeeded:\n%s", sni ? sni : "-", alpn ? alpn : "-",
                 c.out);
    assert_int_not_equal(c.status, 0);
    snprintf(want, sizeof want, "Received alert [%d]", alert);
    if (!strstr(c.out, want))
        fail_msg("sni %s alpn %s: no alert %d:\n%s", sni ? sni : "-", alpn ? alpn : "-", alert,
                 c.out);
    /* Refused by an alert, not by our deadline (10 s) or the client's. */
    assert_true(c.ms < 5000);
    free(c.out);
}

/* The certificate verifies against itself: it is self-signed by the key it carries. */
static void check_self_signed(const char *path)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t pem;
    unsigned status = ~0u;
    size_t len = 0;
    char *text = tu_read_file(path, &len);

    assert_non_null(text);
    pem.data = (unsigned char *)text;
    pem.size = (unsigned)len;
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM), 0);
    /* It is no CA, which is beside the point here; only the signature is checked. */
    assert_int_equal(gnutls_x509_crt_verify(crt, &crt, 1, GNUTLS_VERIFY_DISABLE_CA_SIGN, &status),
                     0);
    assert_int_equal(status, 0);
    gnutls_x509_crt_deinit(crt);
    free(text);
}

/* Checks with certtool what the client saved: the one dNSName, the critical acmeIdentifier
 * holding DER OCTET STRING(SHA-256(keyauth)), and issuer == subject. */
static void check_cert(struct fix *f, const char *name, const char *keyauth)
{
    char cmd[1400], info[600], want[300], hex[2 * 34 + 1];
    const char *p, *subj, *iss;
    uint8_t d[32];
    char *text;
    int count = 0;

    snprintf(info, sizeof info, "%s/info.txt", f->dir);
    snprintf(cmd, sizeof cmd, "timeout 10 certtool -i --infile '%s' >'%s' 2>&1", f->cert, info);
    assert_int_equal(system(cmd), 0);
    text = tu_read_file(info, NULL);
    assert_non_null(text);

    snprintf(want, sizeof want, "DNSname: %s\n", name);
    if (!strstr(text, want))
        fail_msg("no %s in:\n%s", want, text);
    for (p = text; (p = strstr(p, "DNSname:")); p++)
        count++;
    assert_int_equal(count, 1);
    for (p = text; (p = strstr(p, "IPAddress:")); p++)
        fail_msg("unexpected IP SAN:\n%s", text);

    if (!strstr(text, "1.3.6.1.5.5.7.1.31 (critical)"))
        fail_msg("no critical acmeIdentifier in:\n%s", text);
    crypto_sha256(keyauth, strlen(keyauth), d);
    snprintf(hex, sizeof hex, "0420");
    for (int i = 0; i < 32; i++)
        snprintf(hex + 4 + 2 * i, 3, "%02x", d[i]);
    if (!strstr(text, hex))
        fail_msg("no %s in:\n%s", hex, text);

    subj = strstr(text, "\tSubject: ");
    iss = strstr(text, "\tIssuer: ");
    assert_non_null(subj);
    assert_non_null(iss);
    assert_memory_equal(subj + strlen("\tSubject: "), iss + strlen("\tIssuer: "),
                        strcspn(iss + strlen("\tIssuer: "), "\n"));
    assert_non_null(strstr(text, "EC/ECDSA"));
    free(text);
    check_self_signed(f->cert);
}

/* A client asking for sni (with the extra gnutls-cli option, or NULL) gets the certificate of
 * name (the same name up to case), and the connection ends with our close_notify. */
static void expect_served_sni(struct fix *f, const char *host, int port, const char *sni,
                              const char *extra, const char *name, const char *keyauth)
{
    struct client c;

    client_run(f, host, port, sni, TLS_ALPN_PROTOCOL, extra, &c);
    if (!c.handshake_ok || !c.cert_saved || c.status != 0)
        fail_msg("%s on %s:%d: no handshake:\n%s", name, host, port, c.out);
    assert_non_null(strstr(c.out, "Peer has closed the GnuTLS connection"));
    assert_non_null(strstr(c.out, "- Application protocol: acme-tls/1"));
    check_cert(f, name, keyauth);
    free(c.out);
}

static void expect_served(struct fix *f, const char *host, int port, const char *name,
                          const char *keyauth)
{
    expect_served_sni(f, host, port, name, NULL, name, keyauth);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_serves_certificate(void **state)
{
    struct fix *f = *state;
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    assert_int_equal(tls_alpn_count(f->t), 1);
    expect_served(f, "127.0.0.1", f->port4, "a.example", KA1);
    /* SNI is matched without regard to case, as DNS names are. */
    expect_served_sni(f, "127.0.0.1", f->port4, "A.Example.", NULL, "a.example", KA1);
    /* Validators may still speak TLS 1.2. */
    expect_served_sni(f, "127.0.0.1", f->port4, "a.example",
                      "--priority=NORMAL:-VERS-ALL:+VERS-TLS1.2", "a.example", KA1);
    if (f->port6 > 0)
        expect_served(f, "::1", f->port6, "a.example", KA1);
    else
        fprintf(stderr, "(no ::1 here: IPv6 not tested)\n");
}

static void test_two_names_and_replace(void **state)
{
    struct fix *f = *state;
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    assert_int_equal(tls_alpn_add(f->t, "www.b.example", KA2, strlen(KA2), &e), 0);
    assert_int_equal(tls_alpn_count(f->t), 2);
    expect_served(f, "127.0.0.1", f->port4, "a.example", KA1);
    expect_served(f, "127.0.0.1", f->port4, "www.b.example", KA2);

    /* A second add for a name replaces its certificate. */
    assert_int_equal(tls_alpn_add(f->t, "a.example", KA2, strlen(KA2), &e), 0);
    assert_int_equal(tls_alpn_count(f->t), 2);
    expect_served(f, "127.0.0.1", f->port4, "a.example", KA2);
}

static void test_refusals(void **state)
{
    struct fix *f = *state;
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    /* 120 no_application_protocol, 112 unrecognized_name (RFC 8446 §6.2). */
    expect_refused(f, "a.example", NULL, 120);
    expect_refused(f, "a.example", "h2", 120);
    expect_refused(f, "other.example", TLS_ALPN_PROTOCOL, 112);
    expect_refused(f, NULL, TLS_ALPN_PROTOCOL, 112);

    tls_alpn_remove(f->t, "a.example");
    tls_alpn_remove(f->t, "never.example");
    assert_int_equal(tls_alpn_count(f->t), 0);
    expect_refused(f, "a.example", TLS_ALPN_PROTOCOL, 112);

    /* Still serving after all those failures. */
    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    expect_served(f, "127.0.0.1", f->port4, "a.example", KA1);
}

static void test_add_arguments(void **state)
{
    struct fix *f = *state;
    static const char *const bad[] = {"",    "A.example", "a..example",  ".a.example",
                                      "a b", "*.example", "a.example/x", "é.example"};
    char longlabel[80], longname[300];
    struct err e;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tls_alpn_add(f->t, bad[i], KA1, strlen(KA1), &e), -EINVAL);
    assert_int_equal(tls_alpn_add(f->t, NULL, KA1, strlen(KA1), &e), -EINVAL);
    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, 0, &e), -EINVAL);
    assert_int_equal(tls_alpn_add(f->t, "a.example", NULL, 3, &e), -EINVAL);
    memset(longlabel, 'a', 64);
    strcpy(longlabel + 64, ".example");
    assert_int_equal(tls_alpn_add(f->t, longlabel, KA1, strlen(KA1), &e), -EINVAL);
    for (int i = 0; i < 127; i++)
        memcpy(longname + 2 * i, "a.", 2);
    strcpy(longname + 254, "a"); /* 255 bytes */
    assert_int_equal(tls_alpn_add(f->t, longname, KA1, strlen(KA1), &e), -EINVAL);
    assert_int_equal(tls_alpn_count(f->t), 0);
    assert_int_equal(tls_alpn_add(f->t, "xn--bcher-kva.example", KA1, strlen(KA1), &e), 0);
    assert_int_equal(tls_alpn_count(f->t), 1);
    assert_true(tls_alpn_bound_port(f->t, 2) < 0);
}

struct raw {
    uv_tcp_t tcp;
    uv_connect_t req;
    int *nended;
    int ended;
    char buf[256];
};

static void raw_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    struct raw *r = h->data;

    *b = uv_buf_init(r->buf, sizeof r->buf);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct raw *r = s->data;

    if (n < 0 && !r->ended) {
        r->ended = 1;
        (*r->nended)++;
        uv_read_stop(s);
    }
}

static void raw_connected(uv_connect_t *req, int status)
{
    struct raw *r = req->data;

    if (status < 0) {
        r->ended = 1;
        (*r->nended)++;
        return;
    }
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

/* Opens n TCP connections to 127.0.0.1:port that never send anything. */
static struct raw *raw_open(struct fix *f, int n, int *nended)
{
    struct raw *rs = calloc((size_t)n, sizeof *rs);
    struct sockaddr_in a;

    assert_non_null(rs);
    assert_int_equal(uv_ip4_addr("127.0.0.1", f->port4, &a), 0);
    for (int i = 0; i < n; i++) {
        rs[i].nended = nended;
        rs[i].tcp.data = &rs[i];
        rs[i].req.data = &rs[i];
        assert_int_equal(uv_tcp_init(&f->loop, &rs[i].tcp), 0);
        assert_int_equal(
            uv_tcp_connect(&rs[i].req, &rs[i].tcp, (struct sockaddr *)&a, raw_connected), 0);
    }
    return rs;
}

static void raw_close(struct fix *f, struct raw *rs, int n)
{
    for (int i = 0; i < n; i++)
        uv_close((uv_handle_t *)&rs[i].tcp, NULL);
    run_for(&f->loop, 50);
    free(rs);
}

static void test_handshake_deadline(void **state)
{
    struct fix *f = *state;
    int nended = 0;
    uint64_t t0 = uv_hrtime();
    struct raw *rs;

    tls_alpn_set_timeout_ms(f->t, 300);
    rs = raw_open(f, 1, &nended);
    assert_true(tu_run_until(&f->loop, &nended, 5000));
    assert_true((uv_hrtime() - t0) / 1000000 >= 250);
    raw_close(f, rs, 1);
}

static void test_connection_cap(void **state)
{
    struct fix *f = *state;
    int nended = 0, six = 0;
    struct raw *rs;
    struct err e;

    tls_alpn_set_timeout_ms(f->t, 4000);
    rs = raw_open(f, 70, &nended);
    /* The six beyond the cap are dropped at once, the others wait for their deadline. */
    run_for(&f->loop, 1000);
    six = nended;
    assert_int_equal(six, 6);

    /* A handshake still gets through once slots are free again. */
    raw_close(f, rs, 70);
    run_for(&f->loop, 200);
    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    expect_served(f, "127.0.0.1", f->port4, "a.example", KA1);
}

static void test_close_with_open_connections(void **state)
{
    struct fix *f = *state;
    int nended = 0;
    struct raw *rs = raw_open(f, 3, &nended);

    run_for(&f->loop, 100);
    assert_int_equal(nended, 0);
    /* teardown closes the listener with these still connected; they see the end. */
    tls_alpn_close(f->t, NULL, NULL);
    f->t = NULL;
    run_for(&f->loop, 300);
    assert_int_equal(nended, 3);
    raw_close(f, rs, 3);
}

/* ---- start ---------------------------------------------------------------------------- */

static void test_start_errors(void **state)
{
    uv_loop_t loop;
    struct sockaddr_in a4, busy;
    struct sockaddr_in6 bad6;
    const struct sockaddr *addrs[2];
    socklen_t lens[2] = {sizeof a4, sizeof a4};
    bool req[2] = {true, true};
    struct tls_alpn *t1 = NULL, *t2 = (struct tls_alpn *)1;
    struct err e;
    int closed = 0;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(tls_alpn_start(&loop, addrs, lens, req, 0, &t2, &e), -EINVAL);
    assert_null(t2);

    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a4), 0);
    addrs[0] = (const struct sockaddr *)&a4;
    assert_int_equal(tls_alpn_start(&loop, addrs, lens, req, 1, &t1, &e), 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", tls_alpn_bound_port(t1, 0), &busy), 0);

    /* A required address in use fails the start ... */
    addrs[0] = (const struct sockaddr *)&a4;
    addrs[1] = (const struct sockaddr *)&busy;
    t2 = (struct tls_alpn *)1;
    assert_int_equal(tls_alpn_start(&loop, addrs, lens, req, 2, &t2, &e), -EADDRINUSE);
    assert_null(t2);
    assert_non_null(strstr(e.msg, "127.0.0.1:"));

    /* ... an optional one is skipped ... */
    req[1] = false;
    assert_int_equal(tls_alpn_start(&loop, addrs, lens, req, 2, &t2, &e), 0);
    assert_true(tls_alpn_bound_port(t2, 0) > 0);
    assert_int_equal(tls_alpn_bound_port(t2, 1), -ENOENT);
    tls_alpn_close(t2, on_closed, &closed);

    /* ... but binding nothing at all is an error, as is an address that is not IP. */
    addrs[0] = (const struct sockaddr *)&busy;
    req[0] = false;
    assert_true(tls_alpn_start(&loop, addrs, lens, req, 1, &t2, &e) < 0);
    memset(&bad6, 0, sizeof bad6);
    bad6.sin6_family = AF_UNIX;
    addrs[0] = (const struct sockaddr *)&bad6;
    req[0] = true;
    assert_int_equal(tls_alpn_start(&loop, addrs, lens, req, 1, &t2, &e), -EAFNOSUPPORT);

    tls_alpn_close(t1, on_closed, &closed);
    while (closed < 2 && uv_run(&loop, UV_RUN_ONCE))
        ;
    assert_int_equal(closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test_setup_teardown(test_add_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serves_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_names_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_open_connections, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
