#include "crypto/crl_reason.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

int crl_reason_parse(const char *s, int *out)
{
    static const struct {
        const char *name;
        int code;
    } reasons[] = {
        {"unspecified", CRL_REASON_UNSPECIFIED},
        {"keyCompromise", CRL_REASON_KEY_COMPROMISE},
        {"superseded", CRL_REASON_SUPERSEDED},
        {"cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION},
    };
    char *end;
    long v;

    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (!strcasecmp(s, reasons[i].name)) {
            *out = reasons[i].code;
            return 0;
        }
    }
    /* Plain decimal digits only: strtol alone would also take " 1" and "+1". */
    if (*s < '0' || *s > '9')
        return -EINVAL;
    v = strtol(s, &end, 10);
    /* RFC 5280 reason codes run 0..10; 7 is unused. */
    if (*end || v < 0 || v > 10 || v == 7)
        return -EINVAL;
    *out = (int)v;
    return 0;
}
