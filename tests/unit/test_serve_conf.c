/* Unit tests for serve/serve_conf and serve/serve_addr's listen addresses: conf/serve.yaml
 * (DESIGN.md §11). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "serve/serve_conf.h"

/* DESIGN.md §11's example, with its placeholder FILE for the endpoint's certificate and key
 * written as absolute paths (relative ones are refused, see test_malformed). */
static const char design_example[] =
    "listen: [\"192.0.2.13:1313\"]            # the endpoint (HTTP; HTTPS when tls is set)\n"
    "tls: {cert: /etc/acme/serve.crt, key: /etc/acme/serve.key}\n"
    "http-01-listen: [\"192.0.2.80:1380\", \"[fe80::80%eth0]:1380\"]   # kept open while "
    "serving\n"
    "max-size: 4096                         # bytes of CSR\n"
    "request-timeout: 300                   # s a POST may wait for its order\n"
    "renew-within: 14                       # days: the cache re-delivers a chain until then\n"
    "clients:\n"
    "  mail:      {ip: [192.0.2.21, 198.51.100.21], domains: [mail.example.org, "
    "mail.example.com]}\n"
    "  ext:       {ip: [198.51.100.128/28], domains: [\"*.test.example.org\"], rate: 10/h}\n"
    "  secure:    {ip: [198.51.100.21], hmac-key-file: /etc/acme/secure.key,\n"
    "              domains: [\"mail?.example.org\"], challenge: {type: [dns-01]}}\n";

static void parse_ok(const char *yaml, struct serve_conf *c)
{
    struct err e;

    err_clear(&e);
    if (serve_conf_parse("conf/serve.yaml", yaml, strlen(yaml), c, &e) != 0)
        fail_msg("parse failed: %s", e.msg);
}

static void test_design_example(void **state)
{
    struct serve_conf c;
    const struct serve_client *cl;
    const struct sockaddr_in6 *s6;

    parse_ok(design_example, &c);
    assert_int_equal(c.nlisten, 1);
    assert_string_equal(c.listen[0].text, "192.0.2.13:1313");
    assert_int_equal(c.listen[0].sa.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&c.listen[0].sa)->sin_port), 1313);
    assert_string_equal(c.tls_cert, "/etc/acme/serve.crt");
    assert_string_equal(c.tls_key, "/etc/acme/serve.key");
    assert_int_equal(c.nhttp01, 2);
    assert_string_equal(c.http01[0].text, "192.0.2.80:1380");
    assert_string_equal(c.http01[1].text, "[fe80::80%eth0]:1380");
    assert_string_equal(c.http01[1].zone, "eth0");
    s6 = (const struct sockaddr_in6 *)&c.http01[1].sa;
    assert_int_equal(s6->sin6_family, AF_INET6);
    assert_int_equal(c.http01[1].len, sizeof *s6);
    assert_int_equal(ntohs(s6->sin6_port), 1380);
    assert_int_equal(s6->sin6_scope_id, 0); /* left to the listener */
    assert_int_equal(s6->sin6_addr.s6_addr[0], 0xfe);
    assert_int_equal(s6->sin6_addr.s6_addr[15], 0x80);
    assert_int_equal(c.max_size, 4096);
    assert_int_equal(c.request_timeout_s, 300);
    assert_int_equal(c.renew_within_days, 14);
    assert_int_equal(c.nclients, 3);

    cl = &c.clients[0];
    assert_string_equal(cl->name, "mail");
    assert_int_equal(cl->line, 8);
    assert_int_equal(cl->nip, 2);
    assert_int_equal(cl->ip[0].family, AF_INET);
    assert_int_equal(cl->ip[0].prefix, 32);
    assert_memory_equal(cl->ip[1].addr, ((uint8_t[]){198, 51, 100, 21}), 4);
    assert_int_equal(cl->ndomains, 2);
    assert_string_equal(cl->domains[1], "mail.example.com");
    assert_null(cl->hmac_key_file);
    assert_int_equal(cl->rate.count, 0);
    assert_int_equal(cl->challenge_types, 0);

    cl = &c.clients[1];
    assert_string_equal(cl->name, "ext");
    assert_int_equal(cl->ip[0].prefix, 28);
    assert_string_equal(cl->domains[0], "*.test.example.org");
    assert_int_equal(cl->rate.count, 10);
    assert_int_equal(cl->rate.period_s, 3600);

    cl = &c.clients[2];
    assert_string_equal(cl->name, "secure");
    assert_int_equal(cl->line, 10);
    assert_string_equal(cl->hmac_key_file, "/etc/acme/secure.key");
    assert_string_equal(cl->domains[0], "mail?.example.org");
    assert_int_equal(cl->challenge_types, SERVE_CHAL_DNS01);

    assert_ptr_equal(serve_conf_client(&c, "ext"), &c.clients[1]);
    assert_null(serve_conf_client(&c, "nobody"));
    serve_conf_clear(&c);
    assert_int_equal(c.nclients, 0);
    assert_null(c.listen);
    serve_conf_clear(&c); /* twice is harmless */
    serve_conf_clear(NULL);
}

static void test_defaults_and_forms(void **state)
{
    struct serve_conf c;

    parse_ok("listen: 127.0.0.1:1313\n", &c);
    assert_int_equal(c.nlisten, 1);
    assert_int_equal(c.max_size, SERVE_DEFAULT_MAX_SIZE);
    assert_int_equal(c.max_size, 4096);
    assert_int_equal(c.request_timeout_s, 300);
    assert_int_equal(c.renew_within_days, 14);
    assert_int_equal(c.nclients, 0);
    assert_null(c.tls_cert);
    assert_int_equal(c.nhttp01, 0);
    serve_conf_clear(&c);

    parse_ok("listen: [\"[::1]:1313\", \"[2001:DB8:0::1]:80\", \"[fe80::1%2]:8080\"]\n"
             "max-size: 65536\nrequest-timeout: 30\nrenew-within: 0\n"
             "tls: ~\n"
             "clients:\n"
             "  a:\n"
             "    ip: \"2001:db8::/32\"\n"
             "    domains: example.org\n"
             "    rate: 2/s\n"
             "    challenge: {type: [http-01, tls-alpn-01]}\n"
             "  b: {ip: [\"::ffff:192.0.2.0/120\", 0.0.0.0/0], domains: [x.org], rate: 5/m}\n",
             &c);
    assert_int_equal(c.nlisten, 3);
    assert_string_equal(c.listen[0].text, "[::1]:1313");
    assert_string_equal(c.listen[1].text, "[2001:db8::1]:80");
    assert_string_equal(c.listen[2].text, "[fe80::1%2]:8080");
    assert_string_equal(c.listen[2].zone, "2");
    assert_string_equal(c.listen[0].zone, "");
    assert_int_equal(c.max_size, 65536);
    assert_int_equal(c.request_timeout_s, 30);
    assert_int_equal(c.renew_within_days, 0);
    assert_null(c.tls_cert);
    assert_int_equal(c.nclients, 2);
    assert_int_equal(c.clients[0].ip[0].family, AF_INET6);
    assert_int_equal(c.clients[0].ip[0].prefix, 32);
    assert_int_equal(c.clients[0].ndomains, 1);
    assert_int_equal(c.clients[0].rate.count, 2);
    assert_int_equal(c.clients[0].rate.period_s, 1);
    assert_int_equal(c.clients[0].challenge_types, SERVE_CHAL_HTTP01 | SERVE_CHAL_TLSALPN01);
    /* An IPv4-mapped range is the IPv4 range it maps. */
    assert_int_equal(c.clients[1].ip[0].family, AF_INET);
    assert_int_equal(c.clients[1].ip[0].prefix, 24);
    assert_memory_equal(c.clients[1].ip[0].addr, ((uint8_t[]){192, 0, 2, 0}), 4);
    assert_int_equal(c.clients[1].ip[1].prefix, 0);
    assert_int_equal(c.clients[1].rate.period_s, 60);
    serve_conf_clear(&c);
}

struct bad {
    const char *yaml;
    const char *where; /* "line L" that must be named */
    const char *what;  /* and a piece of the message */
};

#define HEAD "listen: 127.0.0.1:1313\n"
#define CL "clients:\n  c:\n"

static const struct bad bads[] = {
    {"listn: 127.0.0.1:1313\n", "line 1,", "listn: unknown key"},
    {"", "", "needs at least listen"},
    {"max-size: 10\n", "line 1,", "listen: needs at least one address"},
    {"- a\n", "line 1,", "expected a mapping"},
    {"listen: localhost:80\n", "line 1,", "not an IPv4 address (host names are not resolved)"},
    {"listen: 192.0.2.1\n", "line 1,", "expected \"address:port\""},
    {"listen: 192.0.2.1:0\n", "line 1,", "port from 1 to 65535"},
    {"listen: 192.0.2.1:65536\n", "line 1,", "port from 1 to 65535"},
    {"listen: 192.0.2.1:08\n", "line 1,", "port from 1 to 65535"},
    {"listen: \"::1:80\"\n", "line 1,", "written \"[address]:port\""},
    {"listen: \"[::1]80\"\n", "line 1,", "[IPv6 address]:port"},
    {"listen: \"[192.0.2.1]:80\"\n", "line 1,", "not an IPv6 address"},
    {"listen: \"[fe80::1%]:80\"\n", "line 1,", "zone index"},
    {"listen: \"[fe80::1%a-very-long-interface-name]:80\"\n", "line 1,", "zone index"},
    {"listen: \"[fe80::1%eth0;rm]:80\"\n", "line 1,", "zone index"},
    {"listen: [127.0.0.1:1, 127.0.0.1:1]\n", "line 1,", "listen[1]: 127.0.0.1:1 is listed twice"},
    {"listen: {a: b}\n", "line 1,", "listen: expected a list"},
    {HEAD "http-01-listen: [\"[fe80::80%eth0]:1380\", nope]\n", "line 2,", "http-01-listen[1]"},
    {HEAD "http-01-listen: [\"127.0.0.1:80\", 127.0.0.1:1313]\n", "line 2,",
     "http-01-listen: 127.0.0.1:1313 is the endpoint's listen address too"},
    {HEAD "max-size: big\n", "line 2,", "max-size: expected an integer from 1 to 1048576"},
    {HEAD "max-size: 0\n", "line 2,", "max-size: expected an integer"},
    {HEAD "request-timeout: -1\n", "line 2,", "request-timeout: expected an integer"},
    {HEAD "renew-within: 366\n", "line 2,", "renew-within: expected an integer from 0 to 365"},
    {HEAD "tls: {cert: /a}\n", "line 2,", "tls: needs both cert and key"},
    {HEAD "tls: {cert: /a, key: b.key}\n", "line 2,", "tls.key: \"b.key\" is a relative path"},
    {HEAD "tls: {cert: /a, key: /b, ca: /c}\n", "line 2,", "tls.ca: unknown key"},
    {HEAD "tls: /a\n", "line 2,", "tls: expected a mapping"},
    {HEAD "clients: [a]\n", "line 2,", "clients: expected a mapping"},
    {HEAD CL "    ip: [192.0.2.1]\n    domains: [a.org]\n    hmac-keyfile: /k\n", "line 6,",
     "clients.c.hmac-keyfile: unknown key"},
    {HEAD CL "    ip: [192.0.2.1]\n    domains: [a.org]\n    hmac-key-file: keys/c.key\n",
     "line 6,", "clients.c.hmac-key-file: \"keys/c.key\" is a relative path"},
    {HEAD CL "    ip: [192.0.2.1]\n    domains: [a.org]\n    hmac-key-file: \"/k\\n\"\n", "line 6,",
     "without control characters"},
    {HEAD CL "    ip: [192.0.2.1, 198.51.100.130/28]\n    domains: [a.org]\n", "line 4,",
     "clients.c.ip[1]: \"198.51.100.130/28\" has bits set beyond its /28"},
    {HEAD CL "    ip: [10.0.0.0/33]\n    domains: [a.org]\n", "line 4,", "from 0 to 32"},
    {HEAD CL "    ip: [\"::/129\"]\n    domains: [a.org]\n", "line 4,", "from 0 to 128"},
    {HEAD CL "    ip: [10.0.0.0/]\n    domains: [a.org]\n", "line 4,", "prefix length"},
    {HEAD CL "    ip: [\"fe80::1%eth0\"]\n    domains: [a.org]\n", "line 4,", "zone index"},
    {HEAD CL "    ip: [mail.example.org]\n    domains: [a.org]\n", "line 4,",
     "\"mail.example.org\" is not an IPv4 or IPv6 address"},
    {HEAD CL "    domains: [a.org]\n", "line 4,", "clients.c: needs ip"},
    {HEAD CL "    ip: 192.0.2.1\n", "line 4,", "clients.c: needs domains"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [\"exa mple.org\"]\n", "line 5,",
     "clients.c.domains[0]: \"exa mple.org\" is not a domain name"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [\".example.org\"]\n", "line 5,",
     "is not a domain name"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [a.org]\n    rate: 10/d\n", "line 6,",
     "clients.c.rate: \"10/d\": expected a rate"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [a.org]\n    rate: 0/h\n", "line 6,",
     "expected a rate"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [a.org]\n    rate: 10001/h\n", "line 6,",
     "N from 1 to 10000"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [a.org]\n    rate: /h\n", "line 6,",
     "expected a rate"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [a.org]\n    rate: 10/hour\n", "line 6,",
     "expected a rate"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [a.org]\n    challenge: {type: [dns-1]}\n", "line 6,",
     "clients.c.challenge.type[0]: \"dns-1\": expected http-01, dns-01 or tls-alpn-01"},
    {HEAD CL "    ip: 192.0.2.1\n    domains: [a.org]\n    challenge: {types: [dns-01]}\n",
     "line 6,", "clients.c.challenge.types: unknown key"},
    {HEAD "clients:\n  c: [192.0.2.1]\n", "line 3,", "clients.c: expected a mapping"},
    {HEAD "clients:\n  \"-c\": {ip: 192.0.2.1, domains: a.org}\n", "line 3,",
     "a client's name is 1 to 64"},
    {HEAD "clients:\n  \"c d\": {ip: 192.0.2.1, domains: a.org}\n", "line 3,",
     "a client's name is 1 to 64"},
    {HEAD "clients:\n  c: {ip: 192.0.2.1, domains: a.org}\n  c: {ip: 192.0.2.2, domains: b.org}\n",
     "line 4,", "duplicate"},
};

static void test_malformed(void **state)
{
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        struct serve_conf c;
        struct err e;
        int rc;

        err_clear(&e);
        memset(&c, 0x5a, sizeof c);
        rc = serve_conf_parse("conf/serve.yaml", bads[i].yaml, strlen(bads[i].yaml), &c, &e);
        if (rc != -EINVAL)
            fail_msg("case %zu: rc %d for:\n%s", i, rc, bads[i].yaml);
        assert_null(c.listen);
        assert_null(c.clients);
        assert_int_equal(c.nclients, 0);
        if (strncmp(e.msg, "conf/serve.yaml:", 16) != 0 || !strstr(e.msg, bads[i].where) ||
            !strstr(e.msg, bads[i].what))
            fail_msg("case %zu: message \"%s\" lacks \"conf/serve.yaml: %s\" or \"%s\"", i, e.msg,
                     bads[i].where, bads[i].what);
    }
}

static void test_load(void **state)
{
    char *dir = tu_mkdtemp("serve_conf"), path[512];
    struct serve_conf c;
    struct err e;

    err_clear(&e);
    assert_int_equal(serve_conf_load(dir, &c, &e), -ENOENT);
    assert_non_null(strstr(e.msg, "conf/serve.yaml: not found"));
    snprintf(path, sizeof path, "%s/conf", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/conf/serve.yaml", dir);
    tu_write_file(path, design_example);
    assert_int_equal(serve_conf_load(dir, &c, &e), 0);
    assert_int_equal(c.nclients, 3);
    serve_conf_clear(&c);
    tu_write_file(path, HEAD "bogus: 1\n");
    assert_int_equal(serve_conf_load(dir, &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "conf/serve.yaml: line 2, column 1: bogus: unknown key"));
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_defaults_and_forms),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
