/* rules: the certificate server's client rules (see rules.h). */
#include "serve/rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crypto/mac.h"
#include "util/glob.h"

/* ---- reading the MAC a request carries ---- */

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* s[0..n) as exactly MAC_SHA256_LEN bytes of hex, either case. */
static bool parse_hex_mac(const char *s, size_t n, uint8_t out[MAC_SHA256_LEN])
{
    if (n != 2 * MAC_SHA256_LEN)
        return false;
    for (size_t i = 0; i < MAC_SHA256_LEN; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* The value of `HMAC-SHA256: <hex>` (the seed's `openssl dgst | sed` line: OpenSSL 3 prints
 * "HMAC-SHA2-256(file)= <hex>", which sed turns into "HMAC-SHA2-256: <hex>"). */
static bool mac_from_plain(const char *v, uint8_t out[MAC_SHA256_LEN])
{
    size_t n;

    while (blank(*v))
        v++;
    n = strlen(v);
    while (n > 0 && blank(v[n - 1]))
        n--;
    return parse_hex_mac(v, n, out);
}

/* Next "key=value" of an Authentication header's parameters, separated by blanks and/or a
 * comma; a value may be double-quoted. Advances *p; false at the end or on a malformed
 * parameter. */
static bool next_param(const char **p, const char **k, size_t *klen, const char **v, size_t *vlen)
{
    const char *s = *p;

    while (blank(*s) || *s == ',')
        s++;
    if (!*s)
        return false;
    *k = s;
    while (*s && *s != '=' && !blank(*s) && *s != ',')
        s++;
    if (*s != '=' || s == *k)
        return false;
    *klen = (size_t)(s - *k);
    s++;
    if (*s == '"') {
        *v = ++s;
        while (*s && *s != '"')
            s++;
        if (*s != '"')
            return false;
        *vlen = (size_t)(s - *v);
        s++;
    } else {
        *v = s;
        while (*s && !blank(*s) && *s != ',')
            s++;
        *vlen = (size_t)(s - *v);
    }
    *p = s;
    return true;
}

static bool token_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(s, want, n) == 0;
}

/* `Authentication: hmac name=sha256, hash=<hex>` (acme-mgmtserver's later clients). */
static bool mac_from_authentication(const char *v, uint8_t out[MAC_SHA256_LEN])
{
    const char *k, *val, *hash = NULL;
    size_t klen, vlen, hlen = 0;
    bool sha256 = false;

    while (blank(*v))
        v++;
    if (strncasecmp(v, "hmac", 4) != 0 || !blank(v[4]))
        return false;
    v += 4;
    while (next_param(&v, &k, &klen, &val, &vlen)) {
        if (token_is(k, klen, "name"))
            sha256 = token_is(val, vlen, "sha256") || token_is(val, vlen, "sha2-256");
        else if (token_is(k, klen, "hash")) {
            hash = val;
            hlen = vlen;
        }
    }
    while (blank(*v) || *v == ',')
        v++;
    return *v == '\0' && sha256 && hash && parse_hex_mac(hash, hlen, out);
}

enum mac_seen { MAC_NONE, MAC_MALFORMED, MAC_WRONG, MAC_OK };

/* Compares every MAC the request carries with `want`. Each comparison takes the same time
 * whatever the bytes; a match anywhere authenticates. */
static enum mac_seen check_mac(const struct rules_request *req, const uint8_t *want)
{
    enum mac_seen seen = MAC_NONE;

    for (size_t i = 0; i < req->nheaders; i++) {
        const struct rules_header *h = &req->headers[i];
        uint8_t got[MAC_SHA256_LEN];
        bool parsed;

        if (!h->name || !h->value)
            continue;
        if (strcasecmp(h->name, "HMAC-SHA256") == 0 || strcasecmp(h->name, "HMAC-SHA2-256") == 0)
            parsed = mac_from_plain(h->value, got);
        else if (strcasecmp(h->name, "Authentication") == 0)
            parsed = mac_from_authentication(h->value, got);
        else
            continue;
        if (!parsed) {
            if (seen == MAC_NONE)
                seen = MAC_MALFORMED;
            continue;
        }
        if (mac_equal(got, want, MAC_SHA256_LEN))
            return MAC_OK;
        seen = MAC_WRONG;
    }
    return seen;
}

/* ---- names ---- */

/* Pattern and name both IP literals of one family: compared as addresses ("2001:DB8::1" is
 * "2001:db8:0::1"). -1 when either is not an address. */
static int ip_equal(const char *pattern, const char *name)
{
    uint8_t a[16], b[16];

    if (inet_pton(AF_INET, pattern, a) == 1)
        return inet_pton(AF_INET, name, b) == 1 ? memcmp(a, b, 4) == 0 : -1;
    if (inet_pton(AF_INET6, pattern, a) == 1)
        return inet_pton(AF_INET6, name, b) == 1 ? memcmp(a, b, 16) == 0 : -1;
    return -1;
}

bool rules_name_allowed(const struct serve_client *client, const char *name)
{
    /* A name from a CSR has no empty label at its start; glob's `*` would match one. */
    if (!client || !name || !name[0] || name[0] == '.')
        return false;
    for (size_t i = 0; i < client->ndomains; i++) {
        const char *d = client->domains[i];
        int eq = ip_equal(d, name);

        if (eq == 1 || (eq < 0 && glob_match(d, name)))
            return true;
    }
    return false;
}

/* ---- the decision ---- */

/* A name from the CSR as it may appear in a reason: printable ASCII, at most 80 characters. */
static void quote_name(char *out, size_t size, const char *name)
{
    size_t j = 0;

    for (size_t i = 0; name[i] && j + 4 < size && i < 80; i++)
        out[j++] = (name[i] >= 0x20 && name[i] < 0x7f && name[i] != '"') ? name[i] : '?';
    if (name[0] && strlen(name) > 80 && j + 4 < size) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

static void say(struct rules_verdict *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct rules_verdict *out, int status, const char *fmt, ...)
{
    va_list ap;

    out->status = status;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

/* Whether candidate cl allows req; when not, fills v (status and reason). */
static bool client_allows(const struct serve_client *cl, const struct rules_key *key,
                          const struct rules_request *req, struct rules_verdict *v)
{
    char q[100];

    if (cl->hmac_key_file) {
        uint8_t want[MAC_SHA256_LEN];
        enum mac_seen seen = MAC_OK;

        if (!key || !key->key) {
            say(v, 500, "client %s: its HMAC key is not loaded", cl->name);
            return false;
        }
        /* The HMAC is over the whole body: computed once per request and client. */
        if (cl != req->mac_checked) {
            mac_hmac_sha256(key->key, key->len, req->body, req->body_len, want);
            seen = check_mac(req, want);
            explicit_bzero(want, sizeof want);
        }
        if (seen != MAC_OK) {
            say(v, 403, "client %s: %s", cl->name,
                seen == MAC_NONE ? "the request carries no HMAC-SHA256 of its body"
                : seen == MAC_MALFORMED
                    ? "the HMAC header is malformed (expected 64 hex digits of HMAC-SHA256)"
                    : "the HMAC-SHA256 of the body does not match");
            return false;
        }
    }
    if (req->peer_only)
        return true;
    if (req->nnames == 0) {
        say(v, 403, "client %s: the CSR names nothing", cl->name);
        return false;
    }
    for (size_t i = 0; i < req->nnames; i++)
        if (!rules_name_allowed(cl, req->names[i])) {
            quote_name(q, sizeof q, req->names[i] ? req->names[i] : "");
            say(v, 403, "client %s may not ask for \"%s\"", cl->name, q);
            return false;
        }
    return true;
}

static void peer_text(int family, const uint8_t *addr, char *out, size_t size)
{
    if (!inet_ntop(family, addr, out, (socklen_t)size))
        snprintf(out, size, "an unknown address");
}

int rules_check(const struct serve_conf *conf, const struct rules_key *keys,
                const struct rules_request *req, struct rules_verdict *out)
{
    struct rules_verdict first = {0}, v;
    uint8_t addr[16];
    char who[INET6_ADDRSTRLEN];
    int family;

    memset(out, 0, sizeof *out);
    if (serve_addr_peer(req->peer, req->peer_len, &family, addr) < 0) {
        say(out, 403, "the peer is not an IPv4 or IPv6 address");
        return -EACCES;
    }
    for (size_t i = 0; i < conf->nclients; i++) {
        const struct serve_client *cl = &conf->clients[i];
        bool inside = false;

        for (size_t j = 0; j < cl->nip && !inside; j++)
            inside = serve_cidr_contains(&cl->ip[j], family, addr);
        if (!inside)
            continue;
        memset(&v, 0, sizeof v);
        if (client_allows(cl, keys ? &keys[i] : NULL, req, &v)) {
            out->status = 200;
            out->client = cl;
            out->index = i;
            snprintf(out->reason, sizeof out->reason, "allowed by client %s", cl->name);
            return 0;
        }
        if (first.status == 0)
            first = v;
    }
    if (first.status != 0) {
        *out = first;
        return -EACCES;
    }
    peer_text(family, addr, who, sizeof who);
    say(out, 403, "no client rule for %s", who);
    return -EACCES;
}
