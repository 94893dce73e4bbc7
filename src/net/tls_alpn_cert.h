/* tls_alpn_cert: the validation certificates of the tls-alpn-01 responder (internal to
 * src/net/tls_alpn*.c). Each served name is one refcounted entry holding GnuTLS credentials
 * with its certificate and the listener's key, so a connection that picked an entry keeps it
 * alive while the name is removed or replaced. */
#ifndef ACMED_NET_TLS_ALPN_CERT_H
#define ACMED_NET_TLS_ALPN_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "util/err.h"

/* The longest DNS name we accept (RFC 1035 without the trailing dot). */
#define TLS_ALPN_NAME_MAX 253

struct alpn_entry {
    struct alpn_entry *next;               /* the listener's list of served names */
    char *name;                            /* lowercase DNS name */
    gnutls_certificate_credentials_t cred; /* the certificate and a copy of the key */
    unsigned refs;                         /* the list holds one, each connection one */
};

/* True when name is a non-empty lowercase ASCII DNS name of at most TLS_ALPN_NAME_MAX bytes
 * made of labels of [a-z0-9_-] (1 to 63 bytes each) separated by single dots. */
bool tls_alpn_name_valid(const char *name);

/* Generates a fresh ECDSA P-256 key into *out (the caller deinits it). Returns 0 or a
 * negative code with e set. */
int tls_alpn_key_new(gnutls_x509_privkey_t *out, struct err *e);

/* Makes the entry for `name` (already validated): a self-signed certificate by `key` with
 * SAN dNSName=name and the critical acmeIdentifier extension holding digest (SHA-256 of the
 * key authorization). *out has one reference. Returns 0 or a negative code with e set. */
int tls_alpn_entry_new(gnutls_x509_privkey_t key, const char *name, const uint8_t digest[32],
                       struct alpn_entry **out, struct err *e);

/* Takes one more reference. Returns en. */
struct alpn_entry *tls_alpn_entry_ref(struct alpn_entry *en);

/* Drops a reference and frees the entry with the last one. NULL is ignored. */
void tls_alpn_entry_unref(struct alpn_entry *en);

#endif
