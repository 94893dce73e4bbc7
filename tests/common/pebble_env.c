#include "pebble_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PE_MAX 64
#define PE_KEY_MAX 64
#define PE_VAL_MAX 1024

struct pe_entry {
    char key[PE_KEY_MAX];
    char val[PE_VAL_MAX];
};

static struct pe_entry entries[PE_MAX];
static int nentries;
static int load_state; /* 0 = not tried, 1 = loaded, -1 = failed */

/* Parses one "KEY=VALUE" line (trailing newline already removed) into the next entry. */
static int parse_line(const char *path, int lineno, const char *line)
{
    const char *eq = strchr(line, '=');
    size_t klen;

    if (line[0] == '\0' || line[0] == '#')
        return 0;
    if (!eq || eq == line) {
        fprintf(stderr, "pebble_env: %s:%d: not a KEY=VALUE line\n", path, lineno);
        return -1;
    }
    klen = (size_t)(eq - line);
    if (klen >= PE_KEY_MAX || strlen(eq + 1) >= PE_VAL_MAX || nentries == PE_MAX) {
        fprintf(stderr, "pebble_env: %s:%d: line too long or too many lines\n", path, lineno);
        return -1;
    }
    memcpy(entries[nentries].key, line, klen);
    entries[nentries].key[klen] = '\0';
    strcpy(entries[nentries].val, eq + 1);
    nentries++;
    return 0;
}

int pe_load(void)
{
    const char *path = getenv("PEBBLE_ENV");
    char line[PE_KEY_MAX + PE_VAL_MAX + 2];
    FILE *f = NULL;
    int lineno = 0;
    int rc = -1;

    if (load_state != 0)
        return load_state > 0 ? 0 : -1;
    if (!path || !*path) {
        fprintf(stderr, "pebble_env: PEBBLE_ENV is not set (run this test through ctest, "
                        "which starts the Pebble fixture)\n");
        goto out;
    }
    f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "pebble_env: cannot open %s (did pebble.*.start succeed?)\n", path);
        goto out;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (parse_line(path, lineno, line) < 0)
            goto out;
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    load_state = rc == 0 ? 1 : -1;
    return rc;
}

const char *pe_find(const char *key)
{
    int i;

    if (pe_load() < 0)
        return NULL;
    for (i = 0; i < nentries; i++) {
        if (strcmp(entries[i].key, key) == 0)
            return entries[i].val;
    }
    return NULL;
}

const char *pe_get(const char *key)
{
    const char *v = pe_find(key);

    if (!v) {
        fail_msg("pebble_env: %s missing from the fixture environment file %s", key,
                 getenv("PEBBLE_ENV") ? getenv("PEBBLE_ENV") : "(PEBBLE_ENV unset)");
    }
    return v;
}
