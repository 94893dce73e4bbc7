/* url: checks of the URLs a CA hands out (see url.h). */
#include "acme/url.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "util/sanitize.h"

bool acme_url_ok(const char *s)
{
    size_t n = 0;

    if (!s || !*s)
        return false;
    for (; *s; s++, n++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || n >= ACME_URL_MAX)
            return false;
    }
    return true;
}

bool acme_url_is_https(const char *s)
{
    return s && strncasecmp(s, "https://", 8) == 0 && s[8] != '\0';
}

int acme_url_check(const char *url, bool https_only, const char *what, struct err *e)
{
    char tmp[256];

    if (!url)
        return 0;
    if (!acme_url_ok(url)) {
        sanitize_into(tmp, sizeof tmp, url, strlen(url));
        return err_set(e, -EPROTO, "%s \"%s\" from the CA is not a URL", what, tmp);
    }
    if (https_only && !acme_url_is_https(url)) {
        sanitize_into(tmp, sizeof tmp, url, strlen(url));
        return err_set(e, -EPROTO,
                       "%s \"%s\" from the CA is not https, but the directory is: refused", what,
                       tmp);
    }
    return 0;
}
