/* bench_state: builds a state directory holding N targets, each with a valid certificate, for
 * the scale benchmark (bench/scale.sh), without any ACME server.
 *
 *   bench_state STATE-DIR N DIRECTORY-URL
 *
 * A throwaway CA (ECDSA P-256, in memory) signs one leaf per target; each leaf has its own
 * P-256 key. Everything is written through the store API, as a pass would leave it: the key
 * in keys/<key-id>/ (store_key_save), the certificate in certs/<cert-id>/ with its meta
 * (store_cert_install: the directory URL, and a renewal-information check 11 hours ahead so
 * that a pass has nothing to ask), the live link (store_live_set) and the desired file
 * (desired_want). Target i is desired/t<i>.bench.test for the one name t<i>.bench.test; its
 * order URL is DIRECTORY-URL's host with /order/<i>. Certificates are valid from an hour ago
 * for 90 days: none is due. GnuTLS is used directly here (signing certificates is nothing
 * acmed itself does). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "crypto/key.h"
#include "store/desired.h"
#include "store/store.h"

#define DAY 86400

static void die(const char *what, int grc, const struct err *e)
{
    if (e)
        fprintf(stderr, "bench_state: %s: %s\n", what, err_msg(e));
    else
        fprintf(stderr, "bench_state: %s: %s\n", what, gnutls_strerror(grc));
    exit(1);
}

#define G(call)                                                                                    \
    do {                                                                                           \
        int grc_ = (call);                                                                         \
        if (grc_ < 0)                                                                              \
            die(#call, grc_, NULL);                                                                \
    } while (0)

struct ca {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    char *pem;
    unsigned char kid[64]; /* its subject key identifier */
    size_t kid_len;
};

static char *crt_pem(gnutls_x509_crt_t crt)
{
    gnutls_datum_t d = {0};
    char *s;

    G(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d));
    if (!(s = malloc(d.size + 1)))
        die("malloc", GNUTLS_E_MEMORY_ERROR, NULL);
    memcpy(s, d.data, d.size);
    s[d.size] = '\0';
    gnutls_free(d.data);
    return s;
}

static void ca_make(struct ca *ca, time_t now)
{
    static const char cn[] = "acmed bench CA";
    unsigned char serial[1] = {1};

    G(gnutls_x509_privkey_init(&ca->key));
    G(gnutls_x509_privkey_generate(ca->key, GNUTLS_PK_ECDSA,
                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
    G(gnutls_x509_crt_init(&ca->crt));
    G(gnutls_x509_crt_set_version(ca->crt, 3));
    G(gnutls_x509_crt_set_serial(ca->crt, serial, sizeof serial));
    G(gnutls_x509_crt_set_activation_time(ca->crt, now - DAY));
    G(gnutls_x509_crt_set_expiration_time(ca->crt, now + 3650 * DAY));
    G(gnutls_x509_crt_set_dn_by_oid(ca->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                    sizeof cn - 1));
    G(gnutls_x509_crt_set_key(ca->crt, ca->key));
    G(gnutls_x509_crt_get_key_id(ca->crt, 0, ca->kid, &ca->kid_len));
    G(gnutls_x509_crt_set_subject_key_id(ca->crt, ca->kid, ca->kid_len));
    G(gnutls_x509_crt_set_basic_constraints(ca->crt, 1, -1));
    G(gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
                                                 GNUTLS_KEY_DIGITAL_SIGNATURE));
    G(gnutls_x509_crt_sign2(ca->crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0));
    ca->pem = crt_pem(ca->crt);
}

/* The chain (leaf, then the CA) for `name` and the public half of `key`. Caller frees. */
static char *leaf_chain(const struct ca *ca, const struct ckey *key, const char *name,
                        unsigned i, time_t now)
{
    gnutls_x509_privkey_t k;
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;
    unsigned char serial[8];
    char *pem = NULL, *leaf, *chain;
    size_t len;
    struct err e;

    if (key_to_pem(key, &pem, &len, &e) < 0)
        die("key_to_pem", 0, &e);
    d.data = (unsigned char *)pem;
    d.size = (unsigned)len;
    G(gnutls_x509_privkey_init(&k));
    G(gnutls_x509_privkey_import2(k, &d, GNUTLS_X509_FMT_PEM, NULL, 0));
    key_pem_free(pem, len);
    for (size_t b = 0; b < sizeof serial; b++)
        serial[b] = (unsigned char)(b < 4 ? (i >> (8 * (3 - b))) : 0x5a);
    serial[0] |= 0x10; /* positive, no leading zero byte */
    serial[0] &= 0x7f;
    G(gnutls_x509_crt_init(&crt));
    G(gnutls_x509_crt_set_version(crt, 3));
    G(gnutls_x509_crt_set_serial(crt, serial, sizeof serial));
    G(gnutls_x509_crt_set_activation_time(crt, now - 3600));
    G(gnutls_x509_crt_set_expiration_time(crt, now + 90 * DAY));
    G(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, name, strlen(name)));
    G(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name, strlen(name),
                                           GNUTLS_FSAN_SET));
    G(gnutls_x509_crt_set_key(crt, k));
    G(gnutls_x509_crt_set_basic_constraints(crt, 0, -1));
    G(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
    G(gnutls_x509_crt_set_authority_key_id(crt, ca->kid, ca->kid_len));
    G(gnutls_x509_crt_sign2(crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0));
    leaf = crt_pem(crt);
    if (asprintf(&chain, "%s%s", leaf, ca->pem) < 0)
        die("asprintf", GNUTLS_E_MEMORY_ERROR, NULL);
    free(leaf);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(k);
    return chain;
}

static void one_target(const struct store *st, const struct ca *ca, const char *dir_url,
                       const char *order_base, unsigned i, time_t now)
{
    struct key_spec spec = {.type = KEY_ECDSA, .size = 256};
    struct store_cert meta = {0}, out = {0};
    struct ckey *key = NULL;
    char name[64], url[512], key_id[STORE_ID_LEN + 1], *chain;
    const char *names[1] = {name};
    bool changed;
    struct err e;

    snprintf(name, sizeof name, "t%u.bench.test", i);
    snprintf(url, sizeof url, "%s/order/%u", order_base, i);
    if (key_generate(&spec, &key, &e) < 0)
        die("key_generate", 0, &e);
    if (store_key_save(st, key, key_id, &e) < 0)
        die("store_key_save", 0, &e);
    chain = leaf_chain(ca, key, name, i, now);
    meta.directory = (char *)dir_url;
    meta.ari_next_check = now + 11 * 3600;
    if (store_cert_install(st, url, chain, strlen(chain), key_id, NULL, NULL, &meta, &out,
                           &e) < 0)
        die("store_cert_install", 0, &e);
    if (store_live_set(st, name, out.id, &changed, &e) < 0)
        die("store_live_set", 0, &e);
    if (desired_want(st->root, NULL, names, 1, false, &e) < 0)
        die("desired_want", 0, &e);
    store_cert_clear(&out);
    key_free(key);
    free(chain);
}

int main(int argc, char **argv)
{
    struct store st = {.lock_fd = -1};
    struct ca ca = {.kid_len = sizeof ca.kid};
    char order_base[256];
    const char *slash;
    time_t now = time(NULL);
    unsigned n;
    struct err e;

    if (argc != 4 || (n = (unsigned)strtoul(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: bench_state STATE-DIR N DIRECTORY-URL\n");
        return 2;
    }
    /* https://host:port of the directory URL. */
    slash = strncmp(argv[3], "https://", 8) == 0 ? strchr(argv[3] + 8, '/') : NULL;
    snprintf(order_base, sizeof order_base, "%.*s",
             (int)(slash ? slash - argv[3] : (long)strlen(argv[3])), argv[3]);
    if (store_open(argv[1], &st, &e) < 0)
        die("store_open", 0, &e);
    G(gnutls_global_init());
    ca_make(&ca, now);
    for (unsigned i = 1; i <= n; i++)
        one_target(&st, &ca, argv[3], order_base, i, now);
    gnutls_x509_crt_deinit(ca.crt);
    gnutls_x509_privkey_deinit(ca.key);
    free(ca.pem);
    store_close(&st);
    printf("bench_state: %u targets with valid certificates in %s\n", n, argv[1]);
    return 0;
}
