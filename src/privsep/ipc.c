/* ipc: frames of typed fields, and their validation against a schema. */
#include "privsep/ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void out_append(struct ipc_out *o, const void *p, size_t n)
{
    if (o->rc == 0 && buf_append(&o->b, p, n) < 0)
        o->rc = -ENOMEM;
}

void ipc_out_begin(struct ipc_out *o, uint16_t type)
{
    uint8_t hdr[6] = {0};

    memset(o, 0, sizeof *o);
    put_be(hdr + 4, type, 2);
    out_append(o, hdr, sizeof hdr);
}

static void put_field(struct ipc_out *o, uint16_t tag, const void *p, size_t n)
{
    uint8_t hdr[6];

    if (n > IPC_FRAME_MAX) {
        if (o->rc == 0)
            o->rc = -E2BIG;
        return;
    }
    put_be(hdr, tag, 2);
    put_be(hdr + 2, n, 4);
    out_append(o, hdr, sizeof hdr);
    out_append(o, p, n);
}

void ipc_put_u64(struct ipc_out *o, uint16_t tag, uint64_t v)
{
    uint8_t b[8];

    put_be(b, v, 8);
    put_field(o, tag, b, sizeof b);
}

void ipc_put_text(struct ipc_out *o, uint16_t tag, const char *s)
{
    put_field(o, tag, s ? s : "", s ? strlen(s) : 0);
}

void ipc_put_bytes(struct ipc_out *o, uint16_t tag, const void *p, size_t n)
{
    put_field(o, tag, p, n);
}

int ipc_out_end(struct ipc_out *o, struct err *e)
{
    if (o->rc == 0 && o->b.len - 4 > IPC_FRAME_MAX)
        o->rc = -E2BIG;
    if (o->rc < 0) {
        buf_clear(&o->b);
        return err_set(e, o->rc,
                       o->rc == -E2BIG ? "message too large for the worker channel"
                                       : "out of memory");
    }
    put_be((uint8_t *)o->b.data, o->b.len - 4, 4);
    return 0;
}

long ipc_frame_len(const uint8_t *p, size_t n)
{
    uint64_t len;

    if (n < 4)
        return 0;
    len = get_be(p, 4);
    if (len < 2 || len > IPC_FRAME_MAX)
        return -EMSGSIZE;
    return n >= len + 4 ? (long)(len + 4) : 0;
}

/* UTF-8 without NUL, C0 controls other than tab/CR/LF, DEL or C1 controls. */
static bool text_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp;

        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
                return false;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            k = 3, cp = c & 0x07;
        else
            return false;
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return false;
        i += k + 1;
    }
    return true;
}

static const struct ipc_msg_spec *find_msg(const struct ipc_schema *s, uint16_t type)
{
    for (size_t i = 0; i < s->nmsgs; i++)
        if (s->msgs[i].type == type)
            return &s->msgs[i];
    return NULL;
}

static const struct ipc_field_spec *find_field(const struct ipc_msg_spec *m, uint16_t tag)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].tag == tag)
            return &m->fields[i];
    return NULL;
}

static int check_field(const struct ipc_msg_spec *ms, const struct ipc_field_spec *fs,
                       const uint8_t *p, uint32_t len, struct err *e)
{
    switch (fs->kind) {
    case IPC_U64:
        if (len != 8)
            return err_set(e, -EPROTO, "%s: field %u is %u bytes, not an integer", ms->name,
                           fs->tag, len);
        return 0;
    case IPC_TEXT:
        if (len > fs->max_len)
            return err_set(e, -EPROTO, "%s: field %u is %u bytes (at most %u)", ms->name, fs->tag,
                           len, fs->max_len);
        if (!text_ok(p, len))
            return err_set(e, -EPROTO, "%s: field %u is not valid text", ms->name, fs->tag);
        return 0;
    case IPC_BYTES:
        if (len > fs->max_len)
            return err_set(e, -EPROTO, "%s: field %u is %u bytes (at most %u)", ms->name, fs->tag,
                           len, fs->max_len);
        return 0;
    }
    return err_set(e, -EPROTO, "%s: field %u has an unknown kind", ms->name, fs->tag);
}

int ipc_decode(const struct ipc_schema *schema, const uint8_t *frame, size_t len,
               struct ipc_msg *out, struct err *e)
{
    long flen = ipc_frame_len(frame, len);
    size_t off = 6;

    memset(out, 0, sizeof *out);
    if (flen <= 0 || (size_t)flen != len)
        return err_set(e, -EPROTO, "channel message: bad frame length");
    out->type = (uint16_t)get_be(frame + 4, 2);
    if (!(out->spec = find_msg(schema, out->type)))
        return err_set(e, -EPROTO, "channel message: unknown type %u", out->type);
    while (off < len) {
        const struct ipc_field_spec *fs;
        uint16_t tag;
        uint32_t flen32;
        int rc;

        if (len - off < 6)
            return err_set(e, -EPROTO, "%s: truncated field header", out->spec->name);
        tag = (uint16_t)get_be(frame + off, 2);
        flen32 = (uint32_t)get_be(frame + off + 2, 4);
        off += 6;
        if (flen32 > len - off)
            return err_set(e, -EPROTO, "%s: field %u runs past the frame", out->spec->name, tag);
        if (!(fs = find_field(out->spec, tag)))
            return err_set(e, -EPROTO, "%s: unexpected field %u", out->spec->name, tag);
        if ((rc = check_field(out->spec, fs, frame + off, flen32, e)) < 0)
            return rc;
        if (ipc_count(out, tag) >= fs->max_count)
            return err_set(e, -EPROTO, "%s: field %u repeated", out->spec->name, tag);
        if (out->n == IPC_FIELDS_MAX)
            return err_set(e, -EPROTO, "%s: too many fields", out->spec->name);
        out->f[out->n++] = (struct ipc_field){.tag = tag, .p = frame + off, .len = flen32};
        off += flen32;
    }
    for (size_t i = 0; i < out->spec->nfields; i++) {
        const struct ipc_field_spec *fs = &out->spec->fields[i];

        if (ipc_count(out, fs->tag) < fs->min_count)
            return err_set(e, -EPROTO, "%s: field %u missing", out->spec->name, fs->tag);
    }
    return 0;
}

static const struct ipc_field *nth(const struct ipc_msg *m, uint16_t tag, size_t idx)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->f[i].tag == tag && idx-- == 0)
            return &m->f[i];
    return NULL;
}

size_t ipc_count(const struct ipc_msg *m, uint16_t tag)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++)
        n += m->f[i].tag == tag;
    return n;
}

bool ipc_get_u64(const struct ipc_msg *m, uint16_t tag, size_t idx, uint64_t *v)
{
    const struct ipc_field *f = nth(m, tag, idx);

    if (!f || f->len != 8)
        return false;
    *v = get_be(f->p, 8);
    return true;
}

char *ipc_get_text(const struct ipc_msg *m, uint16_t tag, size_t idx)
{
    const struct ipc_field *f = nth(m, tag, idx);
    char *s;

    if (!f || !(s = malloc((size_t)f->len + 1)))
        return NULL;
    memcpy(s, f->p, f->len);
    s[f->len] = '\0';
    return s;
}

bool ipc_get_bytes(const struct ipc_msg *m, uint16_t tag, size_t idx, const uint8_t **p, size_t *n)
{
    const struct ipc_field *f = nth(m, tag, idx);

    if (!f)
        return false;
    *p = f->p;
    *n = f->len;
    return true;
}
