/* fuzz_ipc: the keeper/worker frame decoder (src/privsep/ipc.h), and the keeper's reading of
 * its worker's results (src/privsep/wmsg_engine.h).
 *
 * Whatever ipc_decode accepts must be exactly what encoding its fields again gives (the
 * format has one encoding), every field it hands back must lie inside the frame, and text
 * fields must hold no NUL. The schema below has every kind, bound and count rule. */
#include "fuzz_common.h"

#include "privsep/ipc.h"
#include "privsep/wmsg.h"
#include "privsep/wmsg_engine.h"

FUZZ_QUIET_LOGS()

static const struct ipc_field_spec a_fields[] = {
    {1, IPC_U64, 0, 1, 1},
    {2, IPC_TEXT, 32, 0, 4},
    {3, IPC_BYTES, 128, 0, 1},
};
static const struct ipc_field_spec b_fields[] = {
    {1, IPC_U64, 0, 0, 2},
    {4, IPC_TEXT, 4096, 1, 1},
};
static const struct ipc_msg_spec msgs[] = {
    {1, "a", a_fields, 3},
    {2, "b", b_fields, 2},
};
static const struct ipc_schema schema = {msgs, 2};

/* The keeper's reading of a worker's RESULT: whatever it accepts or refuses, nothing leaks
 * and nothing is read outside the frame (the sanitizers watch). */
static void result(const struct ipc_msg *m)
{
    struct engine_result r;
    struct engine_directory *d = NULL;
    struct err e, why;
    int rc;

    if (m->type != WMSG_RESULT)
        return;
    if (wmsg_get_result(m, &rc, &why, &r, &e) == 0) {
        if (rc > 0 || (r.order && r.order->status > EORDER_INVALID) ||
            (r.authz && r.authz->status > EAUTHZ_REVOKED))
            abort();
        engine_result_clear(&r);
    }
    if (wmsg_get_directory(m, &d, &e) == 0 && (!d->new_account || !d->new_order))
        abort();
    engine_directory_free(d);
}

/* Decodes frame against s; what is accepted must re-encode to exactly the input. */
static void one(const struct ipc_schema *s, const uint8_t *frame, size_t size)
{
    struct ipc_msg m;
    struct ipc_out o;
    struct err e;

    if (ipc_decode(s, frame, size, &m, &e) == 0) {
        ipc_out_begin(&o, m.type);
        for (size_t i = 0; i < m.n; i++) {
            if (m.f[i].p < frame || m.f[i].p + m.f[i].len > frame + size)
                abort();
            for (size_t k = 0; k < m.spec->nfields; k++)
                if (m.spec->fields[k].tag == m.f[i].tag && m.spec->fields[k].kind == IPC_TEXT &&
                    memchr(m.f[i].p, 0, m.f[i].len))
                    abort();
            ipc_put_bytes(&o, m.f[i].tag, m.f[i].p, m.f[i].len);
        }
        if (ipc_out_end(&o, &e) != 0 || o.b.len != size || memcmp(o.b.data, frame, size) != 0)
            abort();
        buf_clear(&o.b);
        if (s == &wmsg_to_keeper)
            result(&m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *frame = (uint8_t *)fuzz_memdup(data, size);

    if (!frame)
        return 0;
    one(&schema, frame, size);
    /* The real channel: what the keeper accepts from its worker, and the other way. */
    one(&wmsg_to_keeper, frame, size);
    one(&wmsg_to_worker, frame, size);
    free(frame);
    return 0;
}
