/* buf: a growable byte buffer, always NUL-terminated so text can be used directly. */
#ifndef ACMED_UTIL_BUF_H
#define ACMED_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* NULL until something is appended; owned by the buf */
    size_t len;
    size_t cap;
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Appends n bytes. Returns 0 or -ENOMEM (the buffer is left unchanged). */
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Gives the data to the caller (free() it) and resets b; returns "" copy when empty. NULL on
 * allocation failure. */
char *buf_steal(struct buf *b);

/* Releases the data (zeroing it first with _secret) and resets b to empty; b itself is the
 * caller's. b may be NULL. */
void buf_clear(struct buf *b);
void buf_clear_secret(struct buf *b);

/* Zeroes the n bytes at p (explicit_bzero: not optimised away), then frees p. For keys and
 * other secrets held outside a buf. p may be NULL. */
void buf_secret_free(void *p, size_t n);

#endif
