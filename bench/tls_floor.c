/* tls_floor: the memory floor of one HTTPS request through the libraries acmed uses: libcurl
 * initialised, one easy handle, one GET (TLS handshake with GnuTLS, HTTP/2 if the server offers
 * it, as for acmed) of URL trusting only CA-FILE, or libcurl's default trust store if CA-FILE
 * is "". Prints its memory the way acmed does with ACMED_BENCH_MEMSTAT=1 (floor.h), whether or
 * not the request succeeded. bench/once.sh points it at the local Pebble's directory.
 *
 *   tls_floor URL CA-FILE [--no-ssh-crypto]
 *
 * --no-ssh-crypto skips libssh2's OpenSSL initialisation first, as acmed does (net/http.c).
 * Exits 1 if the request fails. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "floor.h"

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

int main(int argc, char **argv)
{
    CURL *h;
    CURLcode rc;

    if (argc < 3) {
        fprintf(stderr, "usage: tls_floor URL CA-FILE [--no-ssh-crypto]\n");
        return 2;
    }
    if (argc > 3 && strcmp(argv[3], "--no-ssh-crypto") == 0)
        floor_skip_ssh_crypto();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    h = curl_easy_init();
    if (!h)
        return 1;
    if (curl_easy_setopt(h, CURLOPT_URL, argv[1]) ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard))
        return 1;
    if (*argv[2] &&
        (curl_easy_setopt(h, CURLOPT_CAINFO, argv[2]) || curl_easy_setopt(h, CURLOPT_CAPATH, NULL)))
        return 1;
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fprintf(stderr, "tls_floor: %s: %s\n", argv[1], curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    curl_global_cleanup();
    if (floor_memstat() < 0)
        return 1;
    return rc != CURLE_OK;
}
