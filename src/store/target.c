#include "store/target.h"

#include <stdlib.h>
#include <string.h>

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_names(struct target_name *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

void target_free(struct target *t)
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
    free_strv(t->contact, t->ncontact);
    free(t->eab_kid);
    free(t->eab_hmac_key_file);
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
static bool precedes(const struct target *a, const struct target *b)
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
        if (lists(&ts[i], name) && (!best || precedes(&ts[i], best)))
            best = &ts[i];
    return best;
}
