/* http_msg: helpers on the messages of one HTTP exchange (see http_msg.h). */
#include "net/http_msg.h"

#include <strings.h>

const char *http_header_get(const struct http_response *resp, const char *name)
{
    size_t i;

    if (!resp || !name)
        return NULL;
    for (i = 0; i < resp->nheaders; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

const char *http_user_agent(void)
{
    return "acmed/" ACMED_VERSION;
}
