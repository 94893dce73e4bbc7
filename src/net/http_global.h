/* http_global: libcurl's process-wide initialisation for the HTTP client (net/http.h).
 *
 * Each client holds one http_global_init until it is freed, so that the last close releases
 * the TLS library's globals; the pair also keeps libssh2 from loading OpenSSL's engines (see
 * http_global.c). */
#ifndef ACMED_NET_HTTP_GLOBAL_H
#define ACMED_NET_HTTP_GLOBAL_H

/* curl_global_init, counted. Returns 0 or -EIO (then nothing is held). */
int http_global_init(void);

/* Releases one http_global_init. */
void http_global_cleanup(void);

#endif
