/* fuzz_parsers: the small parsers of names, listen addresses, store ids, live links and times.
 *
 * The first byte picks the parser (its value modulo NSEL, so the seeds start with an ASCII
 * digit '0'..'5'); the rest of the input is fed to it:
 *   0  name_normalize (src/store/names.h), as an exact-size copy with no terminator, then
 *      name_is_normal of the result and of the input;
 *   1  listen_addrs_parse (src/challenge/listen_addr.h) of the input split at '\n';
 *   2  store_dir_id (src/store/store.h) of the input as a directory URL;
 *   3  store_id_valid of the input;
 *   4  store_live_target_id of the input as the text of a live/ link;
 *   5  clock_parse_rfc3339 (src/util/clock.h).
 * Only name_normalize takes a length; the others take C strings, so they get a copy with its
 * NUL right after the input, and an input holding a NUL is skipped (a C string cannot carry
 * one). Each result is checked against what the caller relies on; a violation aborts. */
#include "fuzz_common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "challenge/listen_addr.h"
#include "store/names.h"
#include "store/store.h"
#include "util/clock.h"

FUZZ_QUIET_LOGS()

#define NSEL 6
#define MAX_SPECS 8

static bool lower_ldh_or_ip(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
              *s == '*' || *s == ':'))
            return false;
    return true;
}

/* A name that normalises is safe in a path, printable, lowercase, at most 253 characters, and
 * its own normal form. */
static void names(const uint8_t *data, size_t size)
{
    char *in = fuzz_memdup(data, size), *cs = NULL, *out = NULL;
    bool ip = false;
    struct err e;

    if (!in)
        return;
    err_clear(&e);
    if (name_normalize(in, size, &out, &ip, &e) == 0) {
        if (!out || !out[0] || out[0] == '.' || strchr(out, '/') || strlen(out) > 253 ||
            !lower_ldh_or_ip(out) || (!ip && strchr(out, ':')) || !name_is_normal(out))
            abort();
    } else if (out || ip || e.code != -EINVAL || !e.msg[0]) {
        abort();
    }
    free(out);
    /* The C-string wrapper, when the input is one. */
    if (!memchr(data, '\0', size) && (cs = fuzz_strndup(data, size)) != NULL)
        (void)name_is_normal(cs);
    free(cs);
    free(in);
}

/* Every address parsed has a port 1..65535 and a text that parses back to itself alone. */
static void listen_specs(const char *text)
{
    char *copy = strdup(text), *p = copy, *nl;
    const char *specs[MAX_SPECS];
    struct listen_addr *v = NULL, *w = NULL;
    size_t n = 0, nspecs = 0, nw = 0;
    struct err e;

    if (!copy)
        return;
    while (nspecs < MAX_SPECS) {
        specs[nspecs++] = p;
        if (!(nl = strchr(p, '\n')))
            break;
        *nl = '\0';
        p = nl + 1;
    }
    err_clear(&e);
    if (listen_addrs_parse(specs, nspecs, &v, &n, &e) == 0) {
        if (n == 0 || n > 2 * nspecs)
            abort();
        for (size_t i = 0; i < n; i++) {
            const char *t = v[i].text;
            int port = listen_addr_port(&v[i]);

            if (port < 1 || port > 65535)
                abort();
            if (listen_addrs_parse(&t, 1, &w, &nw, &e) != 0 || nw != 1 ||
                strcmp(w[0].text, t) != 0 || w[0].len != v[i].len)
                abort();
            free(w);
            w = NULL;
        }
    } else if (v || n) {
        abort();
    }
    free(v);
    free(copy);
}

/* A dir-id is one safe path component. */
static void dir_id(const char *url)
{
    struct err e;
    char *id;

    err_clear(&e);
    id = store_dir_id(url, &e);
    if (id && (!id[0] || id[0] == '.' || strchr(id, '/')))
        abort();
    free(id);
}

static void id_valid(const char *s)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

    if (store_id_valid(s) && (strlen(s) != STORE_ID_LEN || strspn(s, b32) != STORE_ID_LEN))
        abort();
}

/* What a live link may name is a valid cert-id, and the canonical link to it names it too. */
static void live_target(const char *target)
{
    char id[STORE_ID_LEN + 1], again[STORE_ID_LEN + 1], canon[16 + STORE_ID_LEN];

    if (store_live_target_id(target, id) != 0)
        return;
    if (!store_id_valid(id))
        abort();
    snprintf(canon, sizeof canon, "../certs/%s", id);
    if (store_live_target_id(canon, again) != 0 || strcmp(again, id) != 0)
        abort();
}

/* A time that parses and formats back as RFC 3339 (years 1000-9999) parses to itself. */
static void rfc3339(const char *s)
{
    char buf[64];
    time_t t = 0, back = 0;

    if (clock_parse_rfc3339(s, &t) != 0)
        return;
    clock_rfc3339(t, buf, sizeof buf);
    if (strlen(buf) == 20 && (clock_parse_rfc3339(buf, &back) != 0 || back != t))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned sel;
    char *s;

    if (size == 0)
        return 0;
    sel = data[0] % NSEL;
    data++;
    size--;
    if (sel == 0) {
        names(data, size);
        return 0;
    }
    if (memchr(data, '\0', size) || !(s = fuzz_strndup(data, size)))
        return 0;
    switch (sel) {
    case 1:
        listen_specs(s);
        break;
    case 2:
        dir_id(s);
        break;
    case 3:
        id_valid(s);
        break;
    case 4:
        live_target(s);
        break;
    default:
        rfc3339(s);
        break;
    }
    free(s);
    return 0;
}
