#include "util/failpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void failpoint(const char *name)
{
    const char *list = getenv("ACMED_FAILPOINT");
    size_t n = strlen(name);

    if (!list || !*list)
        return;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (len == n && strncmp(p, name, n) == 0) {
            raise(SIGSTOP);
            return;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}
