/* Unit tests for net/tls_alpn: the tls-alpn-01 responder on loopback. gnutls-cli (spawned with
 * uv_spawn while the loop runs, bounded by `timeout 10` and a loop watchdog) is the client;
 * certtool -i reads the certificate it saved. Also: argument checks, bind failures, the TLS
 * versions and ciphers accepted, the idle deadline and the connection caps with raw TCP
 * clients (100 idle ones from one address must not keep three concurrent validation
 * handshakes out), and that closing leaves nothing on the loop. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <uv.h>

#include "common/testutil.h"
#include "crypto/b64.h"
#include "net/tls_alpn.h"
#include "util/log.h"

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

/* Runs the loop until *n >= want or ms pass. Returns whether *n got there. */
static bool run_until_count(uv_loop_t *loop, const int *n, int want, uint64_t ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;

    while (*n < want && uv_hrtime() / 1000000 < end)
        run_for(loop, 10);
    return *n >= want;
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
    uv_process_t proc;
    int exited;
    int64_t status;
    int handshake_ok;
    int cert_saved;
    uint64_t t0, ms;
    char *out;
    char log[600], cert[600]; /* gnutls-cli's output and the certificate it saved */
};

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct client *c = p->data;

    c->exited = 1;
    c->status = sig ? 128 + sig : status;
    uv_close((uv_handle_t *)p, NULL);
}

/* Starts gnutls-cli against host:port with the given SNI (NULL: none sent), ALPN (NULL: none)
 * and one extra option (or NULL); the peer certificate is saved to c->cert and the output to
 * c->log (f->cert and f->dir/client.log when empty). client_collect waits for it. */
static void client_spawn(struct fix *f, const char *host, int port, const char *sni,
                         const char *alpn, const char *extra, struct client *c)
{
    char portarg[32], sniarg[300], alpnarg[64], certarg[700];
    const char *args[16];
    int n = 0, nullfd, logfd;
    uv_process_options_t opt;
    uv_stdio_container_t stdio[3];

    if (!c->cert[0])
        snprintf(c->cert, sizeof c->cert, "%s", f->cert);
    if (!c->log[0])
        snprintf(c->log, sizeof c->log, "%s/client.log", f->dir);
    unlink(c->cert);
    snprintf(portarg, sizeof portarg, "--port=%d", port);
    snprintf(certarg, sizeof certarg, "--save-cert=%s", c->cert);
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
    logfd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
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
    c->proc.data = c;
    c->t0 = uv_hrtime();
    assert_int_equal(uv_spawn(&f->loop, &c->proc, &opt), 0);
    close(nullfd);
    close(logfd);
}

/* Runs the loop until the client has exited, then reads what it printed and saved. */
static void client_collect(struct fix *f, struct client *c)
{
    if (!tu_run_until(&f->loop, &c->exited, 15000))
        fail_msg("gnutls-cli did not exit");
    c->ms = (uv_hrtime() - c->t0) / 1000000;
    c->out = tu_read_file(c->log, NULL);
    assert_non_null(c->out);
    c->handshake_ok = strstr(c->out, "Handshake was completed") != NULL;
    c->cert_saved = access(c->cert, F_OK) == 0;
}

/* Runs gnutls-cli (see client_spawn) to its end while the loop serves it. */
static void client_run(struct fix *f, const char *host, int port, const char *sni, const char *alpn,
                       const char *extra, struct client *c)
{
    memset(c, 0, sizeof *c);
    client_spawn(f, host, port, sni, alpn, extra, c);
    client_collect(f, c);
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
static void check_cert_at(struct fix *f, const char *cert, const char *name, const char *keyauth)
{
    char cmd[1400], info[600], want[300], hex[2 * 34 + 1];
    const char *p, *subj, *iss;
    uint8_t d[32];
    char *text;
    int count = 0;

    snprintf(info, sizeof info, "%s/info.txt", f->dir);
    snprintf(cmd, sizeof cmd, "timeout 10 certtool -i --infile '%s' >'%s' 2>&1", cert, info);
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
    check_self_signed(cert);
}

static void check_cert(struct fix *f, const char *name, const char *keyauth)
{
    check_cert_at(f, f->cert, name, keyauth);
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

/* Opens n TCP connections to 127.0.0.1:port that never send anything, from the source
 * address src ("127.0.0.2"; NULL: 127.0.0.1). *nended counts those that have ended. */
static struct raw *raw_open_from(struct fix *f, int n, const char *src, int *nended)
{
    struct raw *rs = calloc((size_t)n, sizeof *rs);
    struct sockaddr_in a, from;

    assert_non_null(rs);
    assert_int_equal(uv_ip4_addr("127.0.0.1", f->port4, &a), 0);
    assert_int_equal(uv_ip4_addr(src ? src : "127.0.0.1", 0, &from), 0);
    for (int i = 0; i < n; i++) {
        rs[i].nended = nended;
        rs[i].tcp.data = &rs[i];
        rs[i].req.data = &rs[i];
        assert_int_equal(uv_tcp_init(&f->loop, &rs[i].tcp), 0);
        assert_int_equal(uv_tcp_bind(&rs[i].tcp, (struct sockaddr *)&from, 0), 0);
        assert_int_equal(
            uv_tcp_connect(&rs[i].req, &rs[i].tcp, (struct sockaddr *)&a, raw_connected), 0);
    }
    return rs;
}

static struct raw *raw_open(struct fix *f, int n, int *nended)
{
    return raw_open_from(f, n, NULL, nended);
}

static void raw_close(struct fix *f, struct raw *rs, int n)
{
    for (int i = 0; i < n; i++)
        uv_close((uv_handle_t *)&rs[i].tcp, NULL);
    run_for(&f->loop, 50);
    free(rs);
}

/* A client that sends no ClientHello is closed at the idle deadline: 3 s by default. */
static void test_handshake_deadline(void **state)
{
    struct fix *f = *state;
    struct conn_guard_limits lim = {.idle_ms = 300};
    int nended = 0;
    uint64_t t0 = uv_hrtime(), ms;
    struct raw *rs = raw_open(f, 1, &nended);

    /* Not the macro: what the listener must do is close it after 2 to 3 s. */
    assert_true(tu_run_until(&f->loop, &nended, 3000 + 2000));
    ms = (uv_hrtime() - t0) / 1000000;
    if (ms < 1900 || ms > 3000 + 1000)
        fail_msg("closed after %llu ms, not 2 to 3 s", (unsigned long long)ms);
    raw_close(f, rs, 1);

    nended = 0;
    tls_alpn_set_limits(f->t, &lim);
    t0 = uv_hrtime();
    rs = raw_open(f, 1, &nended);
    assert_true(tu_run_until(&f->loop, &nended, 5000));
    assert_true((uv_hrtime() - t0) / 1000000 >= 250);
    raw_close(f, rs, 1);
}

/* A TLS client driven step by step from this thread, between turns of the loop: a
 * non-blocking socket and a GnuTLS client session offering acme-tls/1 for a.example. */
struct stepper {
    int fd;
    gnutls_session_t s;
    gnutls_certificate_credentials_t cred;
};

static void stepper_open(struct fix *f, struct stepper *st)
{
    gnutls_datum_t proto = {(unsigned char *)TLS_ALPN_PROTOCOL, sizeof TLS_ALPN_PROTOCOL - 1};
    struct sockaddr_in a;

    assert_int_equal(uv_ip4_addr("127.0.0.1", f->port4, &a), 0);
    st->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(st->fd >= 0);
    assert_true(connect(st->fd, (struct sockaddr *)&a, sizeof a) == 0 || errno == EINPROGRESS);
    run_for(&f->loop, 50);
    assert_int_equal(gnutls_certificate_allocate_credentials(&st->cred), 0);
    assert_int_equal(gnutls_init(&st->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
    assert_int_equal(gnutls_set_default_priority(st->s), 0);
    assert_int_equal(gnutls_credentials_set(st->s, GNUTLS_CRD_CERTIFICATE, st->cred), 0);
    assert_int_equal(gnutls_server_name_set(st->s, GNUTLS_NAME_DNS, "a.example", 9), 0);
    assert_int_equal(gnutls_alpn_set_protocols(st->s, &proto, 1, 0), 0);
    gnutls_transport_set_int(st->s, st->fd);
}

static void stepper_close(struct stepper *st)
{
    gnutls_deinit(st->s);
    gnutls_certificate_free_credentials(st->cred);
    close(st->fd);
}

/* Drives the handshake to its end (at most 3 s) while the loop serves it; checks that it
 * completed with acme-tls/1. */
static void stepper_finish(struct fix *f, struct stepper *st)
{
    gnutls_datum_t proto = {NULL, 0};
    int r = GNUTLS_E_AGAIN;

    for (int i = 0; i < 300 && r != 0; i++) {
        r = gnutls_handshake(st->s);
        if (r != 0 && gnutls_error_is_fatal(r))
            fail_msg("the handshake failed: %s", gnutls_strerror(r));
        run_for(&f->loop, 10);
    }
    assert_int_equal(r, 0);
    assert_int_equal(gnutls_alpn_get_selected_protocol(st->s, &proto), 0);
    assert_int_equal(proto.size, sizeof TLS_ALPN_PROTOCOL - 1);
    assert_memory_equal(proto.data, TLS_ALPN_PROTOCOL, proto.size);
}

#define NFLOOD 100
#define NGOOD 3
#define NBURST 20

/* 100 idle connections from one address cost the validator nothing: the address keeps only
 * its newest four idle ones, three concurrent handshakes (a CA validates like that) are all
 * answered, so is one with a burst of connections from its address between its connect and
 * its ClientHello, and the idle deadline closes the last idle ones. */
static void test_flood(void **state)
{
    const int keep = CONN_GUARD_MAX_IDLE_PER_SOURCE;
    /* A long idle deadline, so that only the sweep closes connections before the end. */
    struct conn_guard_limits lim = {.idle_ms = 5000};
    struct fix *f = *state;
    struct client c[NGOOD];
    struct stepper st;
    int nended = 0;
    struct raw *rs, *burst;
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    tls_alpn_set_limits(f->t, &lim);
    rs = raw_open(f, NFLOOD, &nended);
    if (!run_until_count(&f->loop, &nended, NFLOOD - keep, 5000))
        fail_msg("%d of %d idle connections closed", nended, NFLOOD);
    run_for(&f->loop, 300); /* time to close more than it should */
    assert_int_equal(nended, NFLOOD - keep);

    memset(c, 0, sizeof c);
    for (int i = 0; i < NGOOD; i++) {
        snprintf(c[i].cert, sizeof c[i].cert, "%s/cert%d.pem", f->dir, i);
        snprintf(c[i].log, sizeof c[i].log, "%s/client%d.log", f->dir, i);
        client_spawn(f, "127.0.0.1", f->port4, "a.example", TLS_ALPN_PROTOCOL, NULL, &c[i]);
    }
    for (int i = 0; i < NGOOD; i++) {
        client_collect(f, &c[i]);
        if (!c[i].handshake_ok || !c[i].cert_saved || c[i].status != 0)
            fail_msg("handshake %d under the flood failed:\n%s", i, c[i].out);
        check_cert_at(f, c[i].cert, "a.example", KA1);
        free(c[i].out);
    }
    /* They were answered well within the grace: no idle connection had to go for them. */
    run_for(&f->loop, CONN_GUARD_GRACE_MS + 100);
    assert_int_equal(nended, NFLOOD - keep);

    /* Connected, then a burst the listener accepts before the ClientHello arrives. */
    stepper_open(f, &st);
    burst = raw_open(f, NBURST, &nended);
    run_for(&f->loop, 50);
    assert_int_equal(gnutls_handshake(st.s), GNUTLS_E_AGAIN);
    stepper_finish(f, &st);
    stepper_close(&st);
    /* Of the idle ones only the newest four (of the burst) stay, until their deadline. */
    assert_true(run_until_count(&f->loop, &nended, NFLOOD + NBURST - keep, 2000));
    run_for(&f->loop, 300);
    assert_int_equal(nended, NFLOOD + NBURST - keep);
    assert_true(run_until_count(&f->loop, &nended, NFLOOD + NBURST, lim.idle_ms + 1000));
    raw_close(f, rs, NFLOOD);
    raw_close(f, burst, NBURST);
}

/* At the listener's cap a new connection closes the oldest idle one of any address: four idle
 * connections from 127.0.0.2 and four from 127.0.0.3 fill it; one more from 127.0.0.4, then
 * a handshake from 127.0.0.1 each close the oldest from 127.0.0.2, and nothing else. */
static void test_global_cap(void **state)
{
    struct fix *f = *state;
    struct conn_guard_limits lim = {.max_conns = 8};
    int nended = 0;
    struct raw *r2, *r3, *r4;
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    tls_alpn_set_limits(f->t, &lim);
    r2 = raw_open_from(f, 4, "127.0.0.2", &nended);
    run_for(&f->loop, 100);
    r3 = raw_open_from(f, 4, "127.0.0.3", &nended);
    run_for(&f->loop, 200);
    assert_int_equal(nended, 0);
    r4 = raw_open_from(f, 1, "127.0.0.4", &nended);
    assert_true(run_until_count(&f->loop, &nended, 1, 2000));
    assert_true(r2[0].ended);
    expect_served(f, "127.0.0.1", f->port4, "a.example", KA1);
    assert_true(run_until_count(&f->loop, &nended, 2, 2000));
    assert_true(r2[1].ended);
    run_for(&f->loop, 200);
    assert_int_equal(nended, 2);
    raw_close(f, r2, 4);
    raw_close(f, r3, 4);
    raw_close(f, r4, 1);
}

/* A connection past its ClientHello is neither closed for newer ones from its address nor by
 * the idle deadline: only the deadline of the whole exchange bounds it. */
static void test_busy_kept(void **state)
{
    struct fix *f = *state;
    struct conn_guard_limits lim = {.idle_ms = 600};
    struct stepper st;
    int nended = 0;
    struct raw *rs;
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    tls_alpn_set_limits(f->t, &lim);
    stepper_open(f, &st);
    /* The ClientHello goes out; then the client stalls while the server waits for it. */
    assert_int_equal(gnutls_handshake(st.s), GNUTLS_E_AGAIN);
    run_for(&f->loop, 100);
    rs = raw_open(f, 2 * CONN_GUARD_MAX_IDLE_PER_SOURCE + 2, &nended);
    assert_true(run_until_count(&f->loop, &nended, CONN_GUARD_MAX_IDLE_PER_SOURCE + 2, 2000));
    run_for(&f->loop, 2 * lim.idle_ms);
    stepper_finish(f, &st);
    stepper_close(&st);
    raw_close(f, rs, 2 * CONN_GUARD_MAX_IDLE_PER_SOURCE + 2);
}

/* gnutls-cli with priority string prio, a served name and acme-tls/1: whether the handshake
 * succeeded, and with which version ("TLS1.3", from "- Description: (TLS1.3-X.509)-...") in
 * version. */
static bool handshake_with(struct fix *f, const char *prio, char *version, size_t n)
{
    char opt[300];
    struct client c;
    const char *v;
    bool ok;

    snprintf(opt, sizeof opt, "--priority=%s", prio);
    client_run(f, "127.0.0.1", f->port4, "a.example", TLS_ALPN_PROTOCOL, opt, &c);
    ok = c.handshake_ok && c.cert_saved && c.status == 0;
    v = strstr(c.out, "- Description: (");
    snprintf(version, n, "%.*s", v ? (int)strcspn(v + 16, "-)\n") : 0, v ? v + 16 : "");
    free(c.out);
    return ok;
}

/* TLS 1.2 and 1.3 with AEAD ciphers only: no TLS 1.0 or 1.1, no CBC. */
static void test_protocols(void **state)
{
    static const char *const refused[] = {
        "NORMAL:-VERS-ALL:+VERS-TLS1.0",
        "NORMAL:-VERS-ALL:+VERS-TLS1.1",
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC:-MAC-ALL:+SHA1:"
        "+SHA256:+SHA384",
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA1",
    };
    struct fix *f = *state;
    char version[32];
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (handshake_with(f, refused[i], version, sizeof version))
            fail_msg("a client limited to %s got through (%s)", refused[i], version);
    }
    assert_true(handshake_with(f, "NORMAL:-VERS-ALL:+VERS-TLS1.3", version, sizeof version));
    assert_string_equal(version, "TLS1.3");
    assert_true(handshake_with(f, "NORMAL:-VERS-ALL:+VERS-TLS1.2", version, sizeof version));
    assert_string_equal(version, "TLS1.2");
    assert_true(handshake_with(f, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305",
                               version, sizeof version));
    assert_true(handshake_with(f, "NORMAL", version, sizeof version));
    assert_string_equal(version, "TLS1.3");
}

/* Answered handshakes are logged at debug level, not at info: anyone can make us answer. */
static void test_answer_log_level(void **state)
{
    struct fix *f = *state;
    enum log_level saved = log_get_level();
    char path[600];
    char *text;
    int fd, saved_fd;
    struct err e;

    assert_int_equal(tls_alpn_add(f->t, "a.example", KA1, strlen(KA1), &e), 0);
    snprintf(path, sizeof path, "%s/stderr.txt", f->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    saved_fd = dup(2);
    assert_true(saved_fd >= 0);
    dup2(fd, 2);
    for (int level = LL_INFO; level <= LL_DEBUG; level++) {
        log_set_level((enum log_level)level);
        expect_served(f, "127.0.0.1", f->port4, "a.example", KA1);
    }
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    close(fd);
    log_set_level(saved);
    text = tu_read_file(path, NULL);
    assert_non_null(text);
    /* Once, from the handshake served at debug level. */
    if (!strstr(text, "answered") || strstr(strstr(text, "answered") + 1, "answered"))
        fail_msg("expected one \"answered\" line:\n%s", text);
    free(text);
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
    /* A client socket the listener closed must fail the write, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test_setup_teardown(test_add_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serves_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_names_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocols, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_log_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_open_connections, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
