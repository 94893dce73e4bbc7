/* san: one walk over a subjectAltName extension's entries. */
#include "crypto/san.h"

#include <errno.h>

int san_walk(const gnutls_datum_t *ext, const char *what, unsigned max, san_fn fn, void *arg,
             struct err *e)
{
    gnutls_subject_alt_names_t sans = NULL;
    gnutls_datum_t san, oid;
    unsigned type;
    int rc = gnutls_subject_alt_names_init(&sans);

    if (rc < 0)
        return err_set(e, -ENOMEM, "%s: subjectAltName: %s", what, gnutls_strerror(rc));
    rc = gnutls_x509_ext_import_subject_alt_names(ext, sans, 0);
    if (rc < 0) {
        rc = err_set(e, -EINVAL, "%s: subjectAltName: %s", what, gnutls_strerror(rc));
        goto out;
    }
    for (unsigned i = 0;; i++) {
        rc = gnutls_subject_alt_names_get(sans, i, &type, &san, &oid);
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            rc = 0;
            break;
        }
        if (rc < 0) {
            rc = err_set(e, -EINVAL, "%s: subjectAltName %u: %s", what, i, gnutls_strerror(rc));
            break;
        }
        if (max && i >= max) {
            rc = err_set(e, -EINVAL, "%s: more than %u subjectAltNames", what, max);
            break;
        }
        if ((rc = fn(arg, type, &san, e)) < 0)
            break;
    }
out:
    gnutls_subject_alt_names_deinit(sans);
    return rc;
}
