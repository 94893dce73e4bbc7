/* ipc: typed, size-bounded messages between the keeper and its worker (DESIGN.md §10).
 *
 * The worker talks to the Internet, so everything it sends the keeper is hostile until
 * decoded against a schema: each message type lists the fields it may carry, their kind,
 * their size bound and how often each may appear. A frame that breaks any rule is refused as
 * a whole (the keeper then kills the worker); nothing of it is acted on.
 *
 * Frame: u32 length of what follows (big-endian), u16 type, then fields, each u16 tag, u32
 * length, bytes. Integers are u64 big-endian (8 bytes). Text is UTF-8 without NUL or control
 * characters other than tab, CR and LF; bytes are anything. */
#ifndef ACMED_PRIVSEP_IPC_H
#define ACMED_PRIVSEP_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* Largest frame either side accepts (a certificate chain is the largest message). */
#define IPC_FRAME_MAX (1024u * 1024u)
/* Most fields one message may carry. */
#define IPC_FIELDS_MAX 512

enum ipc_kind { IPC_U64, IPC_TEXT, IPC_BYTES };

struct ipc_field_spec {
    uint16_t tag;
    enum ipc_kind kind;
    uint32_t max_len; /* bytes; ignored for IPC_U64 */
    uint16_t min_count, max_count;
};

struct ipc_msg_spec {
    uint16_t type;
    const char *name; /* for errors */
    const struct ipc_field_spec *fields;
    size_t nfields;
};

struct ipc_schema {
    const struct ipc_msg_spec *msgs;
    size_t nmsgs;
};

/* ---- encoding ------------------------------------------------------------------------------ */

/* A frame under construction; its buf is the caller's (released with buf_clear). */
struct ipc_out {
    struct buf b;
    int rc; /* first error (-ENOMEM, -E2BIG), sticky: checked once by ipc_out_end */
};

void ipc_out_begin(struct ipc_out *o, uint16_t type);
void ipc_put_u64(struct ipc_out *o, uint16_t tag, uint64_t v);
void ipc_put_text(struct ipc_out *o, uint16_t tag, const char *s);
void ipc_put_bytes(struct ipc_out *o, uint16_t tag, const void *p, size_t n);
/* Writes the length prefix. Returns 0 with the whole frame in o->b, or negative (o->b freed). */
int ipc_out_end(struct ipc_out *o, struct err *e);

/* ---- decoding ------------------------------------------------------------------------------ */

struct ipc_field {
    uint16_t tag;
    const uint8_t *p; /* into the frame given to ipc_decode: valid while it is */
    uint32_t len;
};

struct ipc_msg {
    uint16_t type;
    const struct ipc_msg_spec *spec;
    struct ipc_field f[IPC_FIELDS_MAX];
    size_t n;
};

/* Given the bytes received so far, says how long the first frame is: returns its total
 * length (prefix included) when all of it is there, 0 when more is needed, -EMSGSIZE when its
 * announced length is 0 or over IPC_FRAME_MAX. */
long ipc_frame_len(const uint8_t *p, size_t n);

/* Decodes one whole frame (prefix included) against schema: the type must be known, every
 * field tag must be one of the type's, each within its size bound and count, text valid.
 * Returns 0 with *out pointing into `frame`, or negative with e naming the broken rule. */
int ipc_decode(const struct ipc_schema *schema, const uint8_t *frame, size_t len,
               struct ipc_msg *out, struct err *e);

/* The idx-th occurrence of tag (0 first). Each returns false when absent. */
bool ipc_get_u64(const struct ipc_msg *m, uint16_t tag, size_t idx, uint64_t *v);
/* A NUL-terminated copy of a text field (caller frees), or NULL when absent or out of memory. */
char *ipc_get_text(const struct ipc_msg *m, uint16_t tag, size_t idx);
bool ipc_get_bytes(const struct ipc_msg *m, uint16_t tag, size_t idx, const uint8_t **p, size_t *n);
/* How many times tag occurs. */
size_t ipc_count(const struct ipc_msg *m, uint16_t tag);

#endif
