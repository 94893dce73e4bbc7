/* mgmt: the client's side of a central certificate server's protocol (acme-mgmtserver's;
 * DESIGN.md §11), as pure functions step_mgmt.c uses: the HMAC header, the key file, and what
 * an answer means. Private to src/reconcile. */
#ifndef ACMED_RECONCILE_MGMT_H
#define ACMED_RECONCILE_MGMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/err.h"

/* Room for the Authentication header's value, with its NUL. */
#define MGMT_AUTH_MAX 96
/* The largest HMAC key file read (a key is a line of text). */
#define MGMT_KEY_MAX 4096

/* The Authentication header's value for body[0..len) under key[0..klen), as acme-mgmtserver's
 * later clients send it: "hmac name=sha256, hash=<lowercase hex HMAC-SHA256>". */
void mgmt_auth_value(const uint8_t *key, size_t klen, const char *body, size_t len,
                     char out[MGMT_AUTH_MAX]);

/* Reads request.mgmt.hmac-key-file: the file's bytes less one trailing newline are the key.
 * A file that is missing, unreadable, a symbolic link, larger than MGMT_KEY_MAX or empty (once
 * the newline is gone) is an error naming it. *key (caller frees with buf_secret_free) and
 * *klen on success. Returns 0 or negative with e set; e never holds a byte of the key. */
int mgmt_key_read(const char *path, uint8_t **key, size_t *klen, struct err *e);

/* What the server's answer means: 0 for a 200 with a body (the chain, still to be checked);
 * else negative with e: "<url> answered <status> (<meaning>): <reason>" with the first line
 * of the reason body, sanitised and cut, and, for 429, when the server allows another try.
 * -EPERM 403 (not allowed), -EFBIG 413 (too large), -EBADMSG 415 (not a CSR), -EREMOTEIO 421
 * (the CA's validation failed), -EAGAIN 429 (rate limited), -EIO 500 and any other. */
int mgmt_answer(const char *url, long status, const char *body, size_t len, time_t retry_after,
                struct err *e);

#endif
