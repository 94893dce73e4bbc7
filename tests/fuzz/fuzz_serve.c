/* fuzz_serve: the certificate server's parsers and client rules (src/serve/).
 *
 * The input is split at a line "#--request--": the part before is conf/serve.yaml for
 * serve_conf_parse (an exact-size copy); the part after (or the whole input when there is no
 * such line) is a request: each line "Name: value" a header (the HMAC forms of rules.h among
 * them), the part itself the body, and each line also a CSR name, a listen address
 * (serve_addr_parse_listen) and an address range (serve_addr_parse_cidr). The request goes
 * through rules_check under a fixed configuration with HMAC clients. Checked: an accepted
 * listen address's text parses back to itself, a range's prefix fits its family, a verdict
 * is 200 with its client or 403/500 without one, and its reason is one line. */
#include "fuzz_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "serve/rules.h"
#include "serve/serve_conf.h"

FUZZ_QUIET_LOGS()

#define MAX_LINES 16
#define SEP "#--request--\n"

static const char fixed_conf[] =
    "listen: 127.0.0.1:1313\n"
    "clients:\n"
    "  mail:   {ip: [127.0.0.1, \"::1\"], domains: [mail.example.org, \"*.example.com\"]}\n"
    "  secure: {ip: [127.0.0.0/8, \"::ffff:10.0.0.0/104\"], hmac-key-file: /k,\n"
    "           domains: [\"mail?.example.org\", \"2001:db8::1\"]}\n";

static void check_listen(const char *line)
{
    struct serve_listen a, b;
    struct err e;

    if (serve_addr_parse_listen(line, &a, &e) != 0)
        return;
    if (serve_addr_parse_listen(a.text, &b, &e) != 0 || strcmp(a.text, b.text) != 0 ||
        a.len != b.len || memcmp(&a.sa, &b.sa, a.len) != 0)
        abort();
}

static void check_cidr(const char *line)
{
    struct serve_cidr c;
    struct err e;

    if (serve_addr_parse_cidr(line, &c, &e) != 0)
        return;
    if (!(c.family == AF_INET && c.prefix <= 32) && !(c.family == AF_INET6 && c.prefix <= 128))
        abort();
}

static void check_conf(const uint8_t *data, size_t n)
{
    char *text = fuzz_memdup(data, n);
    struct serve_conf c;
    struct err e;

    if (!text)
        return;
    if (serve_conf_parse("conf/serve.yaml", text, n, &c, &e) == 0) {
        if (c.nlisten == 0)
            abort();
        for (size_t i = 0; i < c.nlisten; i++)
            check_listen(c.listen[i].text);
        for (size_t i = 0; i < c.nclients; i++)
            if (c.clients[i].nip == 0 || c.clients[i].ndomains == 0)
                abort();
        serve_conf_clear(&c);
    }
    free(text);
}

static void check_request(const uint8_t *data, size_t n, const struct serve_conf *conf)
{
    static const struct rules_key keys[] = {{NULL, 0}, {(const uint8_t *)"s3cret", 6}};
    struct rules_header h[MAX_LINES];
    const char *names[MAX_LINES + 1];
    size_t nh = 0, nn = 0;
    char *text = fuzz_strndup(data, n), *save = NULL, *line, *copy = NULL;
    struct sockaddr_in6 peer = {0};
    struct rules_request req = {0};
    struct rules_verdict v;
    int rc;

    if (!text || !(copy = fuzz_strndup(data, n)))
        goto out;
    names[nn++] = "mail.example.org";
    for (line = strtok_r(text, "\n", &save); line && nh < MAX_LINES;
         line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');

        check_listen(line);
        check_cidr(line);
        if (nn < MAX_LINES)
            names[nn++] = line;
        if (colon && colon != line) {
            *colon = '\0';
            h[nh++] = (struct rules_header){line, colon + 1};
        }
    }
    peer.sin6_family = AF_INET6;
    peer.sin6_addr.s6_addr[10] = peer.sin6_addr.s6_addr[11] = 0xff;
    peer.sin6_addr.s6_addr[12] = 127;
    peer.sin6_addr.s6_addr[15] = (uint8_t)(n & 1); /* 127.0.0.0 or 127.0.0.1 */
    req.peer = (struct sockaddr *)&peer;
    req.peer_len = sizeof peer;
    req.headers = h;
    req.nheaders = nh;
    req.body = (const uint8_t *)copy;
    req.body_len = n;
    req.names = names;
    req.nnames = nn;
    rc = rules_check(conf, keys, &req, &v);
    if (memchr(v.reason, '\0', sizeof v.reason) == NULL || strchr(v.reason, '\n'))
        abort();
    if (rc == 0 ? (v.status != 200 || !v.client)
                : (rc != -EACCES || v.client || (v.status != 403 && v.status != 500)))
        abort();
out:
    free(copy);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct serve_conf conf;
    static bool loaded;
    const uint8_t *a, *b;
    size_t alen, blen;
    struct err e;

    if (!loaded) {
        if (serve_conf_parse("fixed", fixed_conf, strlen(fixed_conf), &conf, &e) != 0)
            abort();
        loaded = true;
    }
    fuzz_split(data, size, SEP, strlen(SEP), &a, &alen, &b, &blen);
    if (b) {
        check_conf(a, alen);
        check_request(b, blen, &conf);
    } else {
        check_request(a, alen, &conf);
    }
    return 0;
}
