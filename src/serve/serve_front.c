/* serve_front: `POST /sign` over httpd.h, handed to a backend (see serve_front.h). */
#include "serve/serve_front.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "serve/httpd.h"
#include "util/log.h"

struct serve_front {
    struct httpd *h;
    struct serve_backend be;
    unsigned long answered;
    void (*done)(void *arg);
    void *done_arg;
};

/* What a request the backend holds keeps: its ticket. */
struct held {
    struct serve_front *f;
    struct httpd_req *r;
    void *ticket;
    bool answered; /* inside ask: the answer came before the ticket */
};

static void on_answer(void *arg, unsigned status, const char *body, size_t len,
                      unsigned retry_after)
{
    struct held *hd = arg;

    hd->answered = true;
    hd->f->answered++;
    if (retry_after)
        httpd_req_set_retry_after(hd->r, retry_after);
    httpd_req_reply(hd->r, status,
                    status == 200 ? "application/pem-certificate-chain" : "text/plain", body, len);
    httpd_req_set_data(hd->r, NULL);
    if (hd->ticket || !hd->f) /* answered later, from the loop: nothing else refers to it */
        free(hd);
}

static void on_request(void *arg, struct httpd_req *r)
{
    static const char *const names[] = {"HMAC-SHA256", "HMAC-SHA2-256", "Authentication"};
    struct serve_front *f = arg;
    struct rules_header hs[3];
    struct serve_ask a = {0};
    struct held *hd;
    size_t nh = 0;
    int rc;

    if (strcmp(httpd_req_path(r), "/sign") != 0) {
        static const char msg[] = "not found: POST the CSR to /sign\n";

        f->answered++;
        httpd_req_reply(r, 404, "text/plain", msg, sizeof msg - 1);
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        const char *v = httpd_req_header(r, names[i]);

        if (v)
            hs[nh++] = (struct rules_header){.name = names[i], .value = v};
    }
    a.peer = httpd_req_peer(r, &a.peer_len);
    a.headers = hs;
    a.nheaders = nh;
    a.body = (const uint8_t *)httpd_req_body(r, &a.len);
    if (!(hd = calloc(1, sizeof *hd))) {
        static const char msg[] = "out of memory\n";

        httpd_req_reply(r, 500, "text/plain", msg, sizeof msg - 1);
        return;
    }
    hd->f = f;
    hd->r = r;
    httpd_req_set_data(r, hd);
    rc = f->be.ask(f->be.ctx, &a, on_answer, hd, &hd->ticket);
    if (hd->answered) {
        free(hd);
        return;
    }
    if (rc < 0) {
        static const char msg[] = "out of memory\n";

        httpd_req_set_data(r, NULL);
        free(hd);
        f->answered++;
        httpd_req_reply(r, 500, "text/plain", msg, sizeof msg - 1);
    }
}

/* The client went away (or the server closes): the backend forgets the request. */
static void on_cancel(void *arg, struct httpd_req *r)
{
    struct serve_front *f = arg;
    struct held *hd = httpd_req_data(r);

    if (!hd)
        return;
    httpd_req_set_data(r, NULL);
    if (hd->ticket)
        f->be.forget(f->be.ctx, hd->ticket);
    free(hd);
}

int serve_front_new(uv_loop_t *loop, const int *fds, size_t n, size_t max_body,
                    const char *tls_cert_pem, const char *tls_key_pem,
                    const struct serve_backend *be, struct serve_front **out, struct err *e)
{
    struct serve_front *f = calloc(1, sizeof *f);
    struct httpd_limits lim = {.max_body = max_body};
    struct httpd_tls tls = {.cert_pem = tls_cert_pem, .key_pem = tls_key_pem};
    struct httpd_handler h = {.request = on_request, .cancel = on_cancel, .arg = f};
    int rc;

    *out = NULL;
    if (!f)
        return err_set(e, -ENOMEM, "out of memory");
    f->be = *be;
    rc = httpd_new(loop, fds, n, &lim, tls_cert_pem ? &tls : NULL, &h, &f->h, e);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

unsigned long serve_front_answered(const struct serve_front *f)
{
    return f->answered;
}

static void on_closed(void *arg)
{
    struct serve_front *f = arg;

    if (f->done)
        f->done(f->done_arg);
    free(f);
}

void serve_front_close(struct serve_front *f, void (*done)(void *arg), void *arg)
{
    if (!f)
        return;
    f->done = done;
    f->done_arg = arg;
    httpd_close(f->h, on_closed, f);
}
