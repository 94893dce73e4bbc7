/* http_global: curl's global init and cleanup for the HTTP client (see http_global.h). */
#include "net/http_global.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

/* libssh2's LIBSSH2_INIT_NO_CRYPTO (libssh2.h, which is not installed with libcurl's headers). */
#define SSH2_INIT_NO_CRYPTO 0x0001

/* curl_global_init also initialises libssh2, which Debian's libcurl-gnutls links to OpenSSL's
 * libcrypto; libssh2_init(0) then loads and registers all of OpenSSL's built-in engines, which
 * touches 1.5 MiB of libcrypto pages (and 34 KB of heap for error strings) for SCP and SFTP,
 * protocols acmed never speaks (http_xfer allows only http and https). libssh2 counts its init
 * calls and initialises the crypto library only on the first, and not at all if that one asks
 * for LIBSSH2_INIT_NO_CRYPTO; so calling it first makes curl's call a mere count. The symbol is
 * looked up at run time because acmed does not link libssh2 itself: a libcurl built without it
 * just has no such symbol, and then this does nothing. Each global_init pairs with one
 * global_cleanup, like curl_global_init and curl_global_cleanup. */
struct ssh2_fns {
    int (*init)(int flags);
    void (*exit)(void);
};

static struct ssh2_fns ssh2_lookup(void)
{
    struct ssh2_fns f = {
        (int (*)(int))dlsym(RTLD_DEFAULT, "libssh2_init"),
        (void (*)(void))dlsym(RTLD_DEFAULT, "libssh2_exit"),
    };

    if (!f.init || !f.exit)
        f = (struct ssh2_fns){NULL, NULL};
    return f;
}

int http_global_init(void)
{
    struct ssh2_fns ssh2 = ssh2_lookup();

    if (ssh2.init)
        ssh2.init(SSH2_INIT_NO_CRYPTO);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
        return 0;
    if (ssh2.exit)
        ssh2.exit();
    return -EIO;
}

void http_global_cleanup(void)
{
    struct ssh2_fns ssh2 = ssh2_lookup();

    curl_global_cleanup();
    if (ssh2.exit)
        ssh2.exit();
}
