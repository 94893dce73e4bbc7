#include "store/names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63

/* Copies at most 64 bytes of an untrusted name into buf for messages, with anything that is
 * not printable ASCII shown as \xNN so a log line cannot be forged or garbled. */
static const char *shown(const char *in, size_t len, char *buf, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len && i < 64 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (len > 64 && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int bad(struct err *e, const char *in, size_t len, const char *why)
{
    char buf[400];

    return err_set(e, -EINVAL, "invalid name \"%s\": %s", shown(in, len, buf, sizeof buf), why);
}

/* Canonical text of an IPv4 or IPv6 address in s, or -1 when s is not one. inet_pton takes
 * only dotted-quad IPv4 (no "127.1", no leading zeros), so a lookalike stays a DNS name and
 * is then refused for its numeric last label. */
static int ip_canonical(const char *s, char *out, size_t cap)
{
    unsigned char addr[16];

    if (inet_pton(AF_INET, s, addr) == 1)
        return inet_ntop(AF_INET, addr, out, (socklen_t)cap) ? 0 : -1;
    if (inet_pton(AF_INET6, s, addr) == 1)
        return inet_ntop(AF_INET6, addr, out, (socklen_t)cap) ? 0 : -1;
    return -1;
}

static bool is_ldh(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Checks an ASCII, lowercase DNS name without trailing dot: LDH labels of 1..63 characters
 * not starting or ending with '-', 253 characters in all, two labels at least, a non-numeric
 * last label, and "*" only as the whole first label. Returns a reason or NULL when fine. */
static const char *check_ldh(const char *s)
{
    size_t len = strlen(s), labels = 0;
    const char *p = s, *last = s;

    if (len > NAME_MAX_LEN)
        return "longer than 253 characters";
    if (p[0] == '*' && p[1] == '.') {
        p += 2;
        labels++;
    }
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);

        if (l == 0)
            return "empty label";
        if (l > LABEL_MAX_LEN)
            return "a label is longer than 63 characters";
        for (size_t i = 0; i < l; i++) {
            if (p[i] == '*')
                return "a wildcard is allowed only as the whole first label (\"*.example.com\")";
            if (p[i] == '_')
                return "underscores are not allowed in hostnames";
            if (!is_ldh(p[i]))
                return "only letters, digits, hyphens and dots are allowed";
        }
        if (p[0] == '-' || p[l - 1] == '-')
            return "a label starts or ends with a hyphen";
        labels++;
        last = p;
        if (!dot)
            break;
        p = dot + 1;
    }
    if (labels < 2)
        return "a single-label name cannot get a publicly trusted certificate; use a fully "
               "qualified name";
    if (strspn(last, "0123456789") == strlen(last))
        return "the last label is numeric, and it is not an IP address either";
    return NULL;
}

/* Converts the Unicode part of a name (without any "*." prefix) to A-labels. libidn2's
 * UTS #46 non-transitional mapping also folds case ("BÜCHER" -> "bücher"). */
static int to_alabels(const char *u, char **out, const char **why)
{
    int rc = idn2_to_ascii_8z(u, out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);

    if (rc != IDN2_OK) {
        *out = NULL;
        *why = idn2_strerror(rc);
        return -EINVAL;
    }
    return 0;
}

/* An ASCII "xn--" label must be a valid A-label: decoding it and encoding the result again
 * has to give it back (RFC 5891 §5.4), or "xn--a" (U+0080) would pass as a name. */
static const char *check_alabels(const char *name)
{
    const char *body = name[0] == '*' && name[1] == '.' ? name + 2 : name;
    char *u = NULL, *back = NULL;
    const char *why = NULL;

    if (strncmp(body, "xn--", 4) != 0 && !strstr(body, ".xn--"))
        return NULL;
    if (idn2_to_unicode_8z8z(body, &u, 0) != IDN2_OK ||
        idn2_to_ascii_8z(u, &back, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK ||
        strcmp(back, body) != 0)
        why = "an xn-- label that is not a valid A-label (punycode)";
    idn2_free(u);
    idn2_free(back);
    return why;
}

/* Rejects what must never reach a path, an argv or a log line, with a precise reason. */
static const char *check_chars(const char *s, size_t len)
{
    if (len == 0)
        return "empty";
    if (memchr(s, '\0', len))
        return "contains a NUL byte";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '/' || c == '\\')
            return "contains a slash or backslash";
        if (c == ' ' || c == '\t')
            return "contains a space";
        if (c < 0x20 || c == 0x7f)
            return "contains a control character";
    }
    /* s holds len bytes and need not be NUL-terminated: no str* function may look at it. */
    if (memmem(s, len, "..", 2))
        return "empty label (\"..\")";
    return NULL;
}

int name_normalize(const char *in, size_t len, char **out, bool *is_ip, struct err *e)
{
    char *s = NULL, *ace = NULL, *res = NULL;
    const char *why = NULL, *body;
    char ipbuf[INET6_ADDRSTRLEN];
    bool ascii = true, wild;
    int rc = -EINVAL;

    *out = NULL;
    *is_ip = false;
    if (!in || (why = check_chars(in, len)) != NULL)
        goto out;
    if (!(s = strndup(in, len))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if (ip_canonical(s, ipbuf, sizeof ipbuf) == 0) {
        *is_ip = true;
        res = strdup(ipbuf);
        rc = res ? 0 : err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (char *p = s; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        if ((unsigned char)*p >= 0x80)
            ascii = false;
    }
    if (len > 1 && s[len - 1] == '.')
        s[--len] = '\0'; /* the root label: "example.com." is "example.com" */
    wild = s[0] == '*' && s[1] == '.';
    body = wild ? s + 2 : s;
    if (!ascii) {
        /* libidn2 knows nothing of wildcards, so the "*." prefix is put back afterwards. */
        if (to_alabels(body, &ace, &why) < 0)
            goto out;
        if (asprintf(&res, "%s%s", wild ? "*." : "", ace) < 0) {
            res = NULL;
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
    } else if (!(res = strdup(s))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    if ((why = check_ldh(res)) == NULL && (why = check_alabels(res)) == NULL)
        rc = 0;
out:
    if (why)
        rc = bad(e, in ? in : "", in ? len : 0, why);
    if (rc == 0) {
        *out = res;
        res = NULL;
    }
    free(res);
    free(s);
    idn2_free(ace);
    return rc;
}

bool name_is_normal(const char *s)
{
    char *norm = NULL;
    bool ip, same;

    if (!s || name_normalize(s, strlen(s), &norm, &ip, NULL) < 0)
        return false;
    same = strcmp(norm, s) == 0;
    free(norm);
    return same;
}

int name_www_apex(const char *name, char **out)
{
    char *rest = NULL;
    bool ip;
    int rc;

    *out = NULL;
    if (!name || strncmp(name, "www.", 4) != 0)
        return 0;
    /* The rest of a valid name is made of valid labels; this only rules out a single label
     * ("www.com" -> "com") and names that would read as an IP address. */
    rc = name_normalize(name + 4, strlen(name + 4), &rest, &ip, NULL);
    if (rc == -ENOMEM)
        return -ENOMEM;
    if (rc < 0 || ip || strcmp(rest, name + 4) != 0) {
        free(rest);
        return 0;
    }
    *out = rest;
    return 1;
}
