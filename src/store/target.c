/* target: what a target is and the rules about it that do not need the schema (the owner of
 * a shared name, contacts). */
#include "store/target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void free_names(struct target_name *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

void target_clear(struct target *t)
{
    if (!t)
        return;
    free(t->file);
    free(t->label);
    free_names(t->names, t->nnames);
    free_names(t->req_names, t->nreq_names);
    free(t->provider);
    free(t->profile);
    free(t->key_id);
    free_strv(t->challenge_types, t->nchallenge_types);
    free_strv(t->webroot_paths, t->nwebroot_paths);
    free_strv(t->http_ports, t->nhttp_ports);
    free_strv(t->tls_ports, t->ntls_ports);
    free_strv(t->env, t->nenv);
    free(t->preferred_chain);
    free(t->trust_anchors);
    free(t->mgmt_hmac_key_file);
    free(t->csr_path);
    csr_info_free(t->csr);
    free_strv(t->contact, t->ncontact);
    free(t->eab_kid);
    free(t->eab_hmac_key_file);
    free(t->signer_unix);
    free_strv(t->signer_exec, t->nsigner_exec);
    memset(t, 0, sizeof *t);
}

static bool lists(const struct target *t, const char *name)
{
    for (size_t i = 0; i < t->nnames; i++)
        if (strcmp(t->names[i].name, name) == 0)
            return true;
    return false;
}

/* True when a should own a shared name rather than b: acmetool's order (storage/ "target
 * precedence"), with the file name as the final tie-break so the answer never depends on
 * the order the directory was read in. */
bool target_precedes(const struct target *a, const struct target *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority;
    if (a->nnames != b->nnames)
        return a->nnames > b->nnames;
    return strcmp(a->file ? a->file : "", b->file ? b->file : "") < 0;
}

const struct target *target_owner(const struct target *ts, size_t n, const char *name)
{
    const struct target *best = NULL;

    if (!ts || !name)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (lists(&ts[i], name) && (!best || target_precedes(&ts[i], best)))
            best = &ts[i];
    return best;
}

/* ---- contacts ---- */

static bool scheme_char(char c, bool first)
{
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

    return alpha || (!first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
}

/* mailto: (RFC 6068) as CAs take it: one addr-spec, no hfields, no list of addresses. */
static const char *mailto_check(const char *addr)
{
    const char *at = strchr(addr, '@');

    if (strchr(addr, '?'))
        return "a mailto: contact cannot carry header fields (\"?...\")";
    if (strchr(addr, ','))
        return "one address per contact: give several contacts as a list";
    if (!at || at == addr || !at[1] || strchr(at + 1, '@'))
        return "a mailto: contact needs one address, local@domain";
    return NULL;
}

const char *target_contact_check(const char *uri)
{
    size_t len = uri ? strlen(uri) : 0, i = 0;

    if (len == 0)
        return "empty";
    if (len > TARGET_CONTACT_MAX)
        return "longer than 512 characters";
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++) {
        if (*p == ' ')
            return "a URI has no spaces";
        if (*p < 0x20 || *p == 0x7f)
            return "control characters";
        if (*p > 0x7f)
            return "non-ASCII characters (percent-encode them)";
    }
    while (scheme_char(uri[i], i == 0))
        i++;
    if (i == 0 || uri[i] != ':')
        return "no URI scheme (mailto:...)";
    if (!uri[i + 1])
        return "nothing after the scheme";
    if (i == 6 && strncasecmp(uri, "mailto", 6) == 0)
        return mailto_check(uri + 7);
    return NULL;
}

static bool contains(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

bool target_contacts_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        if (!contains(b, nb, a[i]))
            return false;
    for (size_t i = 0; i < nb; i++)
        if (!contains(a, na, b[i]))
            return false;
    return true;
}

void target_contacts_free(char **v, size_t n)
{
    free_strv(v, n);
}

int target_contacts_dup(char *const *src, size_t n, char ***out, size_t *nout)
{
    char **v = calloc(n + 1, sizeof *v);

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] = strdup(src[i]))) {
            free_strv(v, i);
            return -ENOMEM;
        }
    }
    *out = v;
    *nout = n;
    return 0;
}

char *target_contacts_text(char *const *v, size_t n)
{
    size_t len = 1;
    char *s;

    if (n == 0)
        return strdup("none");
    for (size_t i = 0; i < n; i++)
        len += strlen(v[i]) + 2;
    if (!(s = malloc(len)))
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(s, ", ");
        strcat(s, v[i]);
    }
    return s;
}

bool target_has_signer(const struct target *t)
{
    return t && (t->signer_unix || t->nsigner_exec > 0);
}

char *target_signer_name(const struct target *t)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f;

    if (!target_has_signer(t) || !(f = open_memstream(&s, &len)))
        return NULL;
    if (t->signer_unix) {
        fprintf(f, "unix:%s", t->signer_unix);
    } else {
        fputs("exec:", f);
        for (size_t i = 0; i < t->nsigner_exec; i++)
            fprintf(f, " %s", t->signer_exec[i]);
    }
    if (fclose(f) != 0) {
        free(s);
        return NULL;
    }
    return s;
}
