/* url: checks of the URLs a CA hands out (see url.h). */
#include "acme/url.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "acme/client.h"
#include "acme/objects.h"
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

int acme_directory_urls_check(const struct acme_directory *d, bool https_only, struct err *e)
{
    int rc;

    if ((rc = acme_url_check(d->new_nonce, https_only, "directory newNonce", e)) < 0 ||
        (rc = acme_url_check(d->new_account, https_only, "directory newAccount", e)) < 0 ||
        (rc = acme_url_check(d->new_order, https_only, "directory newOrder", e)) < 0 ||
        (rc = acme_url_check(d->revoke_cert, https_only, "directory revokeCert", e)) < 0 ||
        (rc = acme_url_check(d->key_change, https_only, "directory keyChange", e)) < 0 ||
        (rc = acme_url_check(d->new_authz, https_only, "directory newAuthz", e)) < 0 ||
        (rc = acme_url_check(d->renewal_info, https_only, "directory renewalInfo", e)) < 0)
        return rc;
    return 0;
}

static int order_urls_check(const struct acme_order *o, bool https_only, struct err *e)
{
    int rc;

    for (size_t i = 0; i < o->nauthorizations; i++)
        if ((rc = acme_url_check(o->authorizations[i], https_only, "order authorization", e)) < 0)
            return rc;
    if ((rc = acme_url_check(o->finalize, https_only, "order finalize", e)) < 0 ||
        (rc = acme_url_check(o->certificate, https_only, "order certificate", e)) < 0)
        return rc;
    return 0;
}

int acme_result_urls_check(const struct acme_result *r, bool https_only, struct err *e)
{
    int rc;

    if ((rc = acme_url_check(r->location, https_only, "Location", e)) < 0)
        return rc;
    if (r->account &&
        (rc = acme_url_check(r->account->orders, https_only, "account orders", e)) < 0)
        return rc;
    if (r->order && (rc = order_urls_check(r->order, https_only, e)) < 0)
        return rc;
    for (size_t i = 0; r->authz && i < r->authz->nchallenges; i++)
        if ((rc = acme_url_check(r->authz->challenges[i].url, https_only, "challenge", e)) < 0)
            return rc;
    if (r->challenge && (rc = acme_url_check(r->challenge->url, https_only, "challenge", e)) < 0)
        return rc;
    return 0;
}
