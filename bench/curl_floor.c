/* curl_floor: the memory floor set by loading libcurl-gnutls and the libraries it pulls in. It
 * initialises libcurl and makes one easy handle (as acmed must), then prints its memory the
 * way acmed does with ACMED_BENCH_MEMSTAT=1 (floor.h). bench/once.sh reports it beside acmed's,
 * so that the share acmed itself adds is visible.
 *
 *   curl_floor [--no-ssh-crypto]
 *
 * --no-ssh-crypto skips libssh2's OpenSSL initialisation first, as acmed does (net/http.c). */
#include <curl/curl.h>
#include <string.h>

#include "floor.h"

int main(int argc, char **argv)
{
    CURL *h;

    if (argc > 1 && strcmp(argv[1], "--no-ssh-crypto") == 0)
        floor_skip_ssh_crypto();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    h = curl_easy_init();
    if (!h)
        return 1;
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return floor_memstat() < 0;
}
