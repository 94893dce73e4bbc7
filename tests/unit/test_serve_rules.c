/* Unit tests for serve/rules (with serve/serve_addr's ranges and crypto/mac): which client
 * rule allows a CSR, by peer address, HMAC and names (DESIGN.md §11, issue 15 item 2). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/mac.h"
#include "serve/rules.h"

/* The body the HMAC vectors below are over: a CSR for CN=mail.example.org with SANs
 * mail.example.org and mail2.example.org (openssl req, P-256), as domain.csr. */
static const char csr_pem[] = "-----BEGIN CERTIFICATE REQUEST-----\n"
                              "MIIBFzCBvgIBADAbMRkwFwYDVQQDDBBtYWlsLmV4YW1wbGUub3JnMFkwEwYHKoZI\n"
                              "zj0CAQYIKoZIzj0DAQcDQgAEPMkg5w1DQ6CagHHrdfgpM+XJ/aylRcoIUFDpHHs1\n"
                              "UcFwAN3qqNc392YO+jB0nIZsM1+CS6Dz9RjkJowVKghDvKBBMD8GCSqGSIb3DQEJ\n"
                              "DjEyMDAwLgYDVR0RBCcwJYIQbWFpbC5leGFtcGxlLm9yZ4IRbWFpbDIuZXhhbXBs\n"
                              "ZS5vcmcwCgYIKoZIzj0EAwIDSAAwRQIhAKPq6mX34ZmL+Ye/9KP9JIoKPRBfDYry\n"
                              "PYsrd0nv6QRjAiA44ciEkrZfomdU/sBW3ketwDCc3kCVq0agZcQsL5T6ew==\n"
                              "-----END CERTIFICATE REQUEST-----\n";

/* The key file holds "s3cret-fleet-key\n"; the key is its bytes less the newline. */
static const char fleet_key[] = "s3cret-fleet-key";

/* The seed's client line, run with OpenSSL 3.0 over csr_pem saved as domain.csr:
 *   $ openssl dgst -sha256 -hmac 's3cret-fleet-key' domain.csr | sed -e 's/(.*)=/:/'
 *   HMAC-SHA2-256: d8f7533516733a0d8cc25b74eb800f2759c1aa8a33ce527cdcfc7cad1813b421
 * OpenSSL 1.1 prints the same digest named "HMAC-SHA256". */
static const char seed_line[] =
    "HMAC-SHA2-256: d8f7533516733a0d8cc25b74eb800f2759c1aa8a33ce527cdcfc7cad1813b421";
#define FLEET_HEX "d8f7533516733a0d8cc25b74eb800f2759c1aa8a33ce527cdcfc7cad1813b421"

/* RFC 4231 §4.3, test case 2. */
static const char tc2_key[] = "Jefe";
static const char tc2_data[] = "what do ya want for nothing?";
#define TC2_HEX "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

static const char conf_yaml[] =
    "listen: 127.0.0.1:1313\n"
    "clients:\n"
    "  mail:   {ip: [192.0.2.21, 198.51.100.21], domains: [mail.example.org, mail.example.com]}\n"
    "  ext:    {ip: [198.51.100.128/28], domains: [\"*.test.example.org\"], rate: 10/h}\n"
    "  secure: {ip: [198.51.100.21, \"2001:db8::/32\"], hmac-key-file: /etc/acme/secure.key,\n"
    "           domains: [mail.example.org, \"mail?.example.org\"]}\n"
    "  rfc:    {ip: [203.0.113.7], hmac-key-file: /etc/acme/rfc.key, domains: [rfc.example]}\n"
    "  ips:    {ip: [\"2001:dbf::/32\", 10.0.0.0/8], domains: [192.0.2.50, \"2001:db8::50\"]}\n"
    "  world:  {ip: [0.0.0.0/0], domains: [open.example]}\n";

struct fx {
    struct serve_conf conf;
    struct rules_key keys[6];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct err e;

    assert_non_null(f);
    if (serve_conf_parse("conf/serve.yaml", conf_yaml, strlen(conf_yaml), &f->conf, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(f->conf.nclients, 6);
    f->keys[2] = (struct rules_key){(const uint8_t *)fleet_key, strlen(fleet_key)};
    f->keys[3] = (struct rules_key){(const uint8_t *)tc2_key, strlen(tc2_key)};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    serve_conf_clear(&f->conf);
    free(f);
    return 0;
}

/* A peer from its text ("192.0.2.1" or "2001:db8::1"). */
static socklen_t peer(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ss->ss_family = AF_INET;
        return sizeof(struct sockaddr_in);
    }
    if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)ss)->sin6_addr) != 1)
        fail_msg("bad peer %s", text);
    ss->ss_family = AF_INET6;
    return sizeof(struct sockaddr_in6);
}

/* What acmed serve does (serve_back.c): a peer_only check, then the names with the first
 * verdict's client as mac_checked. It must decide as the one check did (v). */
static void two_steps(struct fx *f, const struct rules_request *one, const struct rules_verdict *v)
{
    struct rules_request req = *one;
    struct rules_verdict who, full;

    req.peer_only = true;
    if (rules_check(&f->conf, f->keys, &req, &who) < 0) {
        /* Refused for who asks: the names would not have changed that. */
        assert_int_equal(who.status, v->status);
        assert_string_equal(who.reason, v->reason);
        return;
    }
    req.peer_only = false;
    req.mac_checked = who.client;
    assert_int_equal(rules_check(&f->conf, f->keys, &req, &full), v->status == 200 ? 0 : -EACCES);
    assert_int_equal(full.status, v->status);
    assert_string_equal(full.reason, v->reason);
    assert_ptr_equal(full.client, v->client);
}

/* Runs rules_check; expects `status` and, when given, a piece of the reason. Returns the
 * allowing client's name (or NULL). Also checks that the two checks acmed serve makes decide
 * the same. */
static const char *run(struct fx *f, const char *from, const struct rules_header *h, size_t nh,
                       const char *body, const char *const *names, int status, const char *why)
{
    struct sockaddr_storage ss;
    struct rules_request req = {0};
    struct rules_verdict v;
    size_t nn = 0;
    int rc;

    while (names[nn])
        nn++;
    req.peer = (struct sockaddr *)&ss;
    req.peer_len = peer(from, &ss);
    req.headers = h;
    req.nheaders = nh;
    req.body = (const uint8_t *)body;
    req.body_len = strlen(body);
    req.names = names;
    req.nnames = nn;
    rc = rules_check(&f->conf, f->keys, &req, &v);
    if (v.status != status)
        fail_msg("from %s: status %d (%s), expected %d", from, v.status, v.reason, status);
    assert_int_equal(rc, status == 200 ? 0 : -EACCES);
    if (why && !strstr(v.reason, why))
        fail_msg("from %s: reason \"%s\" lacks \"%s\"", from, v.reason, why);
    assert_null(strchr(v.reason, '\n'));
    if (status != 200) {
        assert_null(v.client);
    } else {
        assert_ptr_equal(v.client, &f->conf.clients[v.index]);
    }
    two_steps(f, &req, &v);
    return v.client ? v.client->name : NULL;
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_mac_rfc4231(void **state)
{
    uint8_t mac[MAC_SHA256_LEN], want[MAC_SHA256_LEN];

    for (size_t i = 0; i < MAC_SHA256_LEN; i++)
        sscanf(TC2_HEX + 2 * i, "%2hhx", &want[i]);
    mac_hmac_sha256((const uint8_t *)tc2_key, 4, (const uint8_t *)tc2_data, strlen(tc2_data), mac);
    assert_memory_equal(mac, want, MAC_SHA256_LEN);
    assert_true(mac_equal(mac, want, MAC_SHA256_LEN));
    mac[31] ^= 1;
    assert_false(mac_equal(mac, want, MAC_SHA256_LEN));
    mac[31] ^= 1;
    mac[0] ^= 0x80;
    assert_false(mac_equal(mac, want, MAC_SHA256_LEN));
    assert_true(mac_equal(mac, want, 0));
    /* Empty key and data are fine (RFC 4231 has none; compare with a second computation). */
    mac_hmac_sha256(NULL, 0, NULL, 0, mac);
    mac_hmac_sha256((const uint8_t *)"", 0, (const uint8_t *)"", 0, want);
    assert_memory_equal(mac, want, MAC_SHA256_LEN);
}

/* serve_addr's ranges at their edges, peers as rules_check sees them. */
static bool in(const char *range, const char *from)
{
    struct serve_cidr c;
    struct sockaddr_storage ss;
    socklen_t len = peer(from, &ss);
    uint8_t addr[16];
    struct err e;
    int family;

    if (serve_addr_parse_cidr(range, &c, &e) != 0)
        fail_msg("%s: %s", range, e.msg);
    assert_int_equal(serve_addr_peer((struct sockaddr *)&ss, len, &family, addr), 0);
    return serve_cidr_contains(&c, family, addr);
}

static void test_cidr_edges(void **state)
{
    struct serve_cidr c;
    struct sockaddr_in6 s6 = {0};
    uint8_t addr[16];
    int family;
    struct err e;

    /* /0 holds its whole family and nothing of the other */
    assert_true(in("0.0.0.0/0", "0.0.0.0"));
    assert_true(in("0.0.0.0/0", "255.255.255.255"));
    assert_false(in("0.0.0.0/0", "::1"));
    assert_true(in("::/0", "2001:db8::1"));
    assert_true(in("::/0", "::1"));
    assert_false(in("::/0", "192.0.2.1"));
    /* an IPv4-mapped peer is IPv4: in IPv4 ranges, not in ::/0 */
    assert_true(in("0.0.0.0/0", "::ffff:192.0.2.1"));
    assert_false(in("::/0", "::ffff:192.0.2.1"));
    /* /32 and a bare address are one address */
    assert_true(in("192.0.2.21/32", "192.0.2.21"));
    assert_false(in("192.0.2.21/32", "192.0.2.20"));
    assert_false(in("192.0.2.21/32", "192.0.2.22"));
    assert_true(in("192.0.2.21", "192.0.2.21"));
    assert_false(in("192.0.2.21", "192.0.2.149"));
    assert_true(in("192.0.2.21", "::ffff:192.0.2.21"));
    /* /128 */
    assert_true(in("2001:db8::1/128", "2001:db8::1"));
    assert_false(in("2001:db8::1/128", "2001:db8::2"));
    assert_false(in("2001:db8::1/128", "2001:db8::"));
    assert_true(in("2001:db8::1", "2001:DB8:0:0::1"));
    /* /28 boundaries, IPv4: 198.51.100.128 .. .143 */
    assert_false(in("198.51.100.128/28", "198.51.100.127"));
    assert_true(in("198.51.100.128/28", "198.51.100.128"));
    assert_true(in("198.51.100.128/28", "198.51.100.143"));
    assert_false(in("198.51.100.128/28", "198.51.100.144"));
    assert_true(in("198.51.100.128/28", "::ffff:198.51.100.130"));
    assert_false(in("198.51.100.128/28", "::ffff:198.51.100.144"));
    /* /28 boundaries, IPv6: 2001:db0:: .. 2001:dbf:ffff:... */
    assert_false(in("2001:db0::/28", "2001:daf:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert_true(in("2001:db0::/28", "2001:db0::"));
    assert_true(in("2001:db0::/28", "2001:dbf:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert_false(in("2001:db0::/28", "2001:dc0::"));
    /* an IPv4-mapped range is the IPv4 range: /124 of the mapped space is a /28 */
    assert_true(in("::ffff:198.51.100.128/124", "198.51.100.143"));
    assert_false(in("::ffff:198.51.100.128/124", "198.51.100.144"));
    assert_int_equal(serve_addr_parse_cidr("::ffff:198.51.100.128/124", &c, &e), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix, 28);
    /* odd prefixes split inside a byte */
    assert_true(in("10.0.0.0/9", "10.127.255.255"));
    assert_false(in("10.0.0.0/9", "10.128.0.0"));
    /* refused */
    assert_int_equal(serve_addr_parse_cidr("0.0.0.1/0", &c, &e), -EINVAL);
    assert_int_equal(serve_addr_parse_cidr("192.0.2.0/33", &c, &e), -EINVAL);
    assert_int_equal(serve_addr_parse_cidr("::/129", &c, &e), -EINVAL);
    assert_int_equal(serve_addr_parse_cidr("2001:db8::1/64", &c, &e), -EINVAL);
    assert_int_equal(serve_addr_parse_cidr("192.0.2.0/+8", &c, &e), -EINVAL);
    assert_int_equal(serve_addr_parse_cidr("192.0.2.0/08", &c, &e), -EINVAL);
    assert_int_equal(serve_addr_parse_cidr("", &c, &e), -EINVAL);
    /* peers other than IPv4/IPv6, or short, are not addresses */
    s6.sin6_family = AF_INET6;
    assert_int_equal(serve_addr_peer((struct sockaddr *)&s6, 8, &family, addr), -EAFNOSUPPORT);
    s6.sin6_family = AF_UNIX;
    assert_int_equal(serve_addr_peer((struct sockaddr *)&s6, sizeof s6, &family, addr),
                     -EAFNOSUPPORT);
    assert_int_equal(serve_addr_peer(NULL, 0, &family, addr), -EAFNOSUPPORT);
}

static void test_plain_rules(void **state)
{
    struct fx *f = *state;

    assert_string_equal(run(f, "192.0.2.21", NULL, 0, csr_pem,
                            NAMES("mail.example.org", "MAIL.Example.COM"), 200, "client mail"),
                        "mail");
    /* a peer outside every range */
    run(f, "203.0.113.9", NULL, 0, csr_pem, NAMES("open.example"), 200, NULL); /* world */
    run(f, "2001:db7::1", NULL, 0, csr_pem, NAMES("mail.example.org"), 403,
        "no client rule for 2001:db7::1");
    run(f, "::ffff:192.0.2.22", NULL, 0, csr_pem, NAMES("mail.example.org"), 403,
        "client world may not ask for \"mail.example.org\"");
    /* a name outside the rule's names */
    run(f, "192.0.2.21", NULL, 0, csr_pem, NAMES("mail.example.org", "www.example.org"), 403,
        "client mail may not ask for \"www.example.org\"");
    /* an IPv4-mapped peer is the IPv4 peer */
    assert_string_equal(
        run(f, "::ffff:192.0.2.21", NULL, 0, csr_pem, NAMES("mail.example.com"), 200, NULL),
        "mail");
    /* globs: one label, never across a dot */
    assert_string_equal(
        run(f, "198.51.100.143", NULL, 0, csr_pem, NAMES("a.test.example.org"), 200, NULL), "ext");
    run(f, "198.51.100.143", NULL, 0, csr_pem, NAMES("a.b.test.example.org"), 403,
        "client ext may not ask for \"a.b.test.example.org\"");
    run(f, "198.51.100.143", NULL, 0, csr_pem, NAMES("test.example.org"), 403, "client ext");
    run(f, "198.51.100.143", NULL, 0, csr_pem, NAMES(".test.example.org"), 403, "client ext");
    run(f, "198.51.100.144", NULL, 0, csr_pem, NAMES("a.test.example.org"), 403, "client world");
    /* no names at all */
    run(f, "192.0.2.21", NULL, 0, csr_pem, (const char *const[]){NULL}, 403,
        "the CSR names nothing");
    /* IP identifiers compare as addresses */
    assert_string_equal(run(f, "10.1.2.3", NULL, 0, csr_pem,
                            NAMES("192.0.2.50", "2001:DB8:0:0:0:0:0:50"), 200, NULL),
                        "ips");
    run(f, "10.1.2.3", NULL, 0, csr_pem, NAMES("192.0.2.5"), 403, "\"192.0.2.5\"");
    assert_string_equal(run(f, "2001:dbf::1", NULL, 0, csr_pem, NAMES("2001:db8::50"), 200, NULL),
                        "ips");
    /* what a reason quotes from the CSR stays printable and short */
    run(f, "192.0.2.21", NULL, 0, csr_pem, NAMES("evil\nInjected: yes"), 403,
        "\"evil?Injected: yes\"");
}

static void test_hmac_forms(void **state)
{
    struct fx *f = *state;
    /* The seed's line sent as a header: name before the colon, the rest (a space and the
     * hex) as its value, whether or not the HTTP layer strips the space. */
    char name[32], value[128];
    const char *colon = strchr(seed_line, ':');

    snprintf(name, sizeof name, "%.*s", (int)(colon - seed_line), seed_line);
    snprintf(value, sizeof value, "%s", colon + 1);
    assert_string_equal(name, "HMAC-SHA2-256");
    assert_int_equal(value[0], ' ');
    const struct rules_header ok[][2] = {
        {{"Content-Length", "456"}, {name, value}},
        {{name, value + 1}, {"X-Other", "1"}},
        {{"HMAC-SHA256", " " FLEET_HEX " "}, {NULL, NULL}},
        {{"hmac-sha2-256", "D8F7533516733A0D8CC25B74EB800F2759C1AA8A33CE527CDCFC7CAD1813B421"},
         {NULL, NULL}},
        {{"Authentication", "hmac name=sha256, hash=" FLEET_HEX}, {NULL, NULL}},
        {{"authentication", "HMAC name=SHA2-256 hash=" FLEET_HEX}, {NULL, NULL}},
        {{"Authentication", "hmac name=Sha256,hash=" FLEET_HEX}, {NULL, NULL}},
        {{"Authentication", "hmac hash=\"" FLEET_HEX "\", name=\"sha2-256\""}, {NULL, NULL}},
        /* a wrong MAC beside the right one does not spoil it */
        {{"HMAC-SHA256", TC2_HEX}, {"Authentication", "hmac name=sha256, hash=" FLEET_HEX}},
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_string_equal(run(f, "2001:db8::5", ok[i], 2, csr_pem,
                                NAMES("mail.example.org", "mail2.example.org"), 200, NULL),
                            "secure");
}

static void test_hmac_refused(void **state)
{
    struct fx *f = *state;
    const char *const names[] = {"mail.example.org", NULL};
    struct {
        struct rules_header h;
        const char *why;
    } bad[] = {
        /* one digit off */
        {{"HMAC-SHA2-256", " d8f7533516733a0d8cc25b74eb800f2759c1aa8a33ce527cdcfc7cad1813b420"},
         "does not match"},
        /* the right form under another key (RFC 4231's) */
        {{"HMAC-SHA256", TC2_HEX}, "does not match"},
        {{"Authentication", "hmac name=sha256, hash=" TC2_HEX}, "does not match"},
        /* malformed: short, not hex, the wrong algorithm, another scheme */
        {{"HMAC-SHA256", "d8f7533516733a0d8cc25b74eb800f2759c1aa8a33ce527cdcfc7cad1813b4"},
         "malformed"},
        {{"HMAC-SHA256", "x8f7533516733a0d8cc25b74eb800f2759c1aa8a33ce527cdcfc7cad1813b421"},
         "malformed"},
        {{"HMAC-SHA256", ""}, "malformed"},
        {{"Authentication", "hmac name=sha1, hash=" FLEET_HEX}, "malformed"},
        {{"Authentication", "hmac name=sha256"}, "malformed"},
        {{"Authentication", "hmac hash=" FLEET_HEX}, "malformed"},
        {{"Authentication", "Bearer name=sha256, hash=" FLEET_HEX}, "malformed"},
        {{"Authentication", "hmacname=sha256, hash=" FLEET_HEX}, "malformed"},
        {{"Authentication", "hmac name=sha256, hash=" FLEET_HEX " trailing"}, "malformed"},
        /* other headers do not count */
        {{"HMAC-SHA512", FLEET_HEX}, "carries no HMAC-SHA256"},
        {{"Authorization", "hmac name=sha256, hash=" FLEET_HEX}, "carries no HMAC-SHA256"},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        run(f, "2001:db8::5", &bad[i].h, 1, csr_pem, names, 403, bad[i].why);
    /* missing */
    run(f, "2001:db8::5", NULL, 0, csr_pem, names, 403,
        "client secure: the request carries no HMAC-SHA256 of its body");
    /* the right MAC for another body */
    run(f, "2001:db8::5", &(struct rules_header){"HMAC-SHA256", FLEET_HEX}, 1, "other body", names,
        403, "does not match");
    /* a right MAC does not widen the names */
    run(f, "2001:db8::5", &(struct rules_header){"HMAC-SHA256", FLEET_HEX}, 1, csr_pem,
        NAMES("www.example.org"), 403, "client secure may not ask for \"www.example.org\"");
    run(f, "2001:db8::5", &(struct rules_header){"HMAC-SHA256", FLEET_HEX}, 1, csr_pem,
        NAMES("mail2.example.org", "mail12.example.org"), 403, "\"mail12.example.org\"");
}

/* RFC 4231 test case 2 end to end: its key as a client's key, its data as the body. */
static void test_hmac_rfc4231_request(void **state)
{
    struct fx *f = *state;

    assert_string_equal(
        run(f, "203.0.113.7",
            &(struct rules_header){"Authentication", "hmac name=sha256, hash=" TC2_HEX}, 1,
            tc2_data, NAMES("rfc.example"), 200, NULL),
        "rfc");
    assert_string_equal(run(f, "203.0.113.7", &(struct rules_header){"HMAC-SHA256", TC2_HEX}, 1,
                            tc2_data, NAMES("rfc.example"), 200, NULL),
                        "rfc");
    run(f, "203.0.113.7", &(struct rules_header){"HMAC-SHA256", TC2_HEX}, 1,
        "what do ya want for nothing!", NAMES("rfc.example"), 403, "does not match");
}

/* One address under two clients (DESIGN.md's example): the plain rule's names without an
 * HMAC, the HMAC rule's names with one. */
static void test_later_candidate(void **state)
{
    struct fx *f = *state;
    const struct rules_header h = {"HMAC-SHA2-256", " " FLEET_HEX};

    assert_string_equal(
        run(f, "198.51.100.21", NULL, 0, csr_pem, NAMES("mail.example.org"), 200, NULL), "mail");
    /* mail2 is only secure's: refused without the MAC, with the first candidate's reason */
    run(f, "198.51.100.21", NULL, 0, csr_pem, NAMES("mail.example.org", "mail2.example.org"), 403,
        "client mail may not ask for \"mail2.example.org\"");
    assert_string_equal(run(f, "198.51.100.21", &h, 1, csr_pem,
                            NAMES("mail.example.org", "mail2.example.org"), 200, NULL),
                        "secure");
    /* the first candidate that allows wins, even with a MAC */
    assert_string_equal(
        run(f, "198.51.100.21", &h, 1, csr_pem, NAMES("mail.example.org"), 200, NULL), "mail");
}

/* The client that a peer_only check let in is not asked for its HMAC again (serve_back passes
 * it as mac_checked, so the HMAC over the body is computed once); every other client still is. */
static void test_mac_checked(void **state)
{
    struct fx *f = *state;
    const struct rules_header wrong = {"HMAC-SHA256", TC2_HEX};
    struct sockaddr_storage ss;
    struct rules_request req = {0};
    struct rules_verdict v;

    req.peer = (struct sockaddr *)&ss;
    req.peer_len = peer("2001:db8::5", &ss);
    req.headers = &wrong;
    req.nheaders = 1;
    req.body = (const uint8_t *)csr_pem;
    req.body_len = strlen(csr_pem);
    req.names = NAMES("mail2.example.org");
    req.nnames = 1;
    assert_int_equal(rules_check(&f->conf, f->keys, &req, &v), -EACCES);
    assert_non_null(strstr(v.reason, "does not match"));
    /* secure (clients[2]) already checked: its MAC is not looked at again, its names are */
    req.mac_checked = &f->conf.clients[2];
    assert_int_equal(rules_check(&f->conf, f->keys, &req, &v), 0);
    assert_ptr_equal(v.client, &f->conf.clients[2]);
    req.names = NAMES("www.example.org");
    assert_int_equal(rules_check(&f->conf, f->keys, &req, &v), -EACCES);
    assert_non_null(strstr(v.reason, "may not ask for \"www.example.org\""));
    /* another client's check does not let secure past its own */
    req.names = NAMES("mail2.example.org");
    req.mac_checked = &f->conf.clients[3];
    assert_int_equal(rules_check(&f->conf, f->keys, &req, &v), -EACCES);
    assert_non_null(strstr(v.reason, "does not match"));
    /* nor does it spare a key that is not loaded */
    req.mac_checked = &f->conf.clients[2];
    f->keys[2].key = NULL;
    assert_int_equal(rules_check(&f->conf, f->keys, &req, &v), -EACCES);
    assert_int_equal(v.status, 500);
    f->keys[2] = (struct rules_key){(const uint8_t *)fleet_key, strlen(fleet_key)};
}

/* A client whose key the caller did not load never allows. */
static void test_key_not_loaded(void **state)
{
    struct fx *f = *state;
    struct rules_key saved = f->keys[2];
    const struct rules_header h = {"HMAC-SHA256", FLEET_HEX};
    struct sockaddr_storage ss;
    struct rules_request req = {0};
    struct rules_verdict v;

    f->keys[2].key = NULL;
    run(f, "2001:db8::5", &h, 1, csr_pem, NAMES("mail.example.org"), 500,
        "client secure: its HMAC key is not loaded");
    f->keys[2] = saved;
    /* keys NULL altogether: the plain rules still work */
    req.peer = (struct sockaddr *)&ss;
    req.peer_len = peer("192.0.2.21", &ss);
    req.names = NAMES("mail.example.org");
    req.nnames = 1;
    assert_int_equal(rules_check(&f->conf, NULL, &req, &v), 0);
    assert_int_equal(v.status, 200);
    req.peer_len = peer("2001:db8::5", &ss);
    assert_int_equal(rules_check(&f->conf, NULL, &req, &v), -EACCES);
    assert_int_equal(v.status, 500);
    /* a peer that is no IP address */
    req.peer_len = 2;
    assert_int_equal(rules_check(&f->conf, NULL, &req, &v), -EACCES);
    assert_int_equal(v.status, 403);
}

/* The key is the file's bytes less one trailing newline. */
static void test_key_len(void **state)
{
    assert_int_equal(mac_key_len((const uint8_t *)"s3cret-fleet-key\n", 17), 16);
    assert_int_equal(mac_key_len((const uint8_t *)"s3cret-fleet-key", 16), 16);
    assert_int_equal(mac_key_len((const uint8_t *)"key\n\n", 5), 4);
    assert_int_equal(mac_key_len((const uint8_t *)"key\r\n", 5), 4);
    assert_int_equal(mac_key_len((const uint8_t *)"\n", 1), 0);
    assert_int_equal(mac_key_len((const uint8_t *)"", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mac_rfc4231),
        cmocka_unit_test(test_cidr_edges),
        cmocka_unit_test(test_key_len),
        cmocka_unit_test_setup_teardown(test_plain_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_rfc4231_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_candidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_not_loaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mac_checked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
