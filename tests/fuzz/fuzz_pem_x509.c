/* fuzz_pem_x509: PEM chain splitting (src/crypto/pem.h) and X.509 parsing of every
 * certificate it yields (src/crypto/x509.h), plus x509_parse of the raw input as DER.
 *
 * The top issuer CN of a split chain is looked up as well, and each parsed certificate is
 * re-encoded with pem_encode_cert and split again (it must give back the same DER). */
#include "fuzz_common.h"

#include "crypto/pem.h"
#include "crypto/x509.h"

FUZZ_QUIET_LOGS()

static void parse_der(const uint8_t *der, size_t len)
{
    struct x509_info *info = NULL;
    struct err e;

    err_clear(&e);
    if (x509_parse(der, len, &info, &e) == 0)
        x509_info_free(info);
}

/* pem_encode_cert then pem_split_chain must give back exactly der[0..len). */
static void roundtrip(const uint8_t *der, size_t len)
{
    char *pem = pem_encode_cert(der, len);
    struct pem_chain chain = {0};
    struct err e;

    if (!pem)
        return;
    err_clear(&e);
    if (pem_split_chain(pem, strlen(pem), &chain, &e) == 0) {
        if (chain.n != 1 || chain.certs[0].len != len || memcmp(chain.certs[0].der, der, len))
            abort();
        pem_chain_clear(&chain);
    }
    free(pem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_memdup(data, size);
    struct pem_chain chain = {0};
    struct err e;

    if (!text)
        return 0;
    err_clear(&e);
    if (pem_split_chain(text, size, &chain, &e) == 0) {
        for (size_t i = 0; i < chain.n; i++) {
            parse_der(chain.certs[i].der, chain.certs[i].len);
            if (chain.certs[i].len)
                roundtrip(chain.certs[i].der, chain.certs[i].len);
        }
        free(x509_chain_top_issuer_cn(&chain));
        pem_chain_clear(&chain);
    }
    parse_der(data, size);
    free(text);
    return 0;
}
