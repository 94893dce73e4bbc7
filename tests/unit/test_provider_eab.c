/* The External Account Binding key at its call site (reconcile/provider.c, register_account):
 * the account is registered through a scripted engine (tests/common/fake_ca.h) with the EAB
 * key of a target's request.account.eab, and neither the key file's text nor the decoded MAC
 * key is left in memory handed back to the allocator. This executable is linked with
 * -Wl,--wrap=free (tests/CMakeLists.txt): every free() of acmed's code passes through
 * __wrap_free below, which looks for the key in each block it frees. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/fake_ca.h"
#include "common/testutil.h"
#include "crypto/b64.h"
#include "reconcile/provider.h"
#include "store/desired.h"

#define CA "https://ca.test/dir"
/* The MAC key as the CA hands it out (base64url), and its bytes. */
#define EAB_KEY_B64 "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
#define EAB_KEY_LEN 48

void __real_free(void *p);
void __wrap_free(void *p);

static uint8_t mac_bytes[EAB_KEY_LEN];
/* volatile: the compiler knows free() touches no global, and would otherwise fold what is set
 * before a call into the checks after it. */
static volatile bool armed;          /* look for the key in freed blocks */
static volatile unsigned text_seen;  /* blocks freed holding the key file's text */
static volatile unsigned bytes_seen; /* blocks freed holding the MAC key bytes */
static const void *volatile mac_ptr; /* the key the engine was given, until freed */
static volatile int mac_zero = -1;   /* -1: not freed yet; 1: all zero when freed; 0: not */

static bool holds(const void *p, size_t n, const void *needle, size_t len)
{
    return n >= len && memmem(p, n, needle, len) != NULL;
}

void __wrap_free(void *p)
{
    if (p && armed) {
        size_t n = malloc_usable_size(p);

        if (p == mac_ptr) {
            mac_zero = 1;
            for (size_t i = 0; i < EAB_KEY_LEN; i++)
                if (((const uint8_t *)p)[i])
                    mac_zero = 0;
            mac_ptr = NULL;
        }
        /* The first 16 characters or bytes are enough to tell the key. */
        if (holds(p, n, EAB_KEY_B64, 16))
            text_seen++;
        if (holds(p, n, mac_bytes, 16))
            bytes_seen++;
    }
    __real_free(p);
}

/* ---- the engine: the fake CA, with account_new looking at the EAB it is given ---- */

static struct engine_ops ops;
static int (*fake_account_new)(struct engine *g, const struct engine_new_account *req, engine_cb cb,
                               void *arg, struct err *e);
static unsigned eab_seen;

static int eab_account_new(struct engine *g, const struct engine_new_account *req, engine_cb cb,
                           void *arg, struct err *e)
{
    assert_non_null(req->eab);
    assert_string_equal(req->eab->kid, "kid-1");
    assert_int_equal(req->eab->hmac_len, EAB_KEY_LEN);
    assert_memory_equal(req->eab->hmac, mac_bytes, EAB_KEY_LEN);
    mac_ptr = req->eab->hmac;
    mac_zero = -1;
    eab_seen++;
    return fake_account_new(g, req, cb, arg, e);
}

static int factory(void *arg, const char *url, struct engine **out, struct err *e)
{
    int rc = fake_factory(arg, url, out, e);

    if (rc == 0) {
        ops = *(*out)->ops;
        fake_account_new = ops.account_new;
        ops.account_new = eab_account_new;
        (*out)->ops = &ops;
    }
    return rc;
}

static void on_account(void *arg, int rc, const struct err *e)
{
    if (rc < 0)
        fail_msg("account: %s", err_msg(e));
    *(int *)arg = 1;
}

static void test_eab_key_zeroed(void **state)
{
    char *dir = tu_mkdtemp("provider_eab"), keyfile[600], text[1200];
    struct rec_opts o = {.agree_tos = true};
    struct desired_set ds = {0};
    struct providers set = {0};
    struct store st = {.lock_fd = -1};
    struct target t = {0};
    struct fake f;
    struct provider *p;
    uv_loop_t loop;
    uint8_t *dec = NULL;
    size_t declen = 0;
    struct err e;
    int done = 0;

    assert_non_null(dir);
    /* The bytes, decoded independently of acmed's base64url (Python's urlsafe_b64decode). */
    {
        FILE *py = popen("python3 -c 'import base64,sys; sys.stdout.buffer.write("
                         "base64.urlsafe_b64decode(\"" EAB_KEY_B64 "\"))'",
                         "r");

        assert_non_null(py);
        assert_int_equal(fread(mac_bytes, 1, sizeof mac_bytes + 1, py), EAB_KEY_LEN);
        assert_int_equal(pclose(py), 0);
    }
    snprintf(keyfile, sizeof keyfile, "%s/eab.key", dir);
    tu_write_file(keyfile, EAB_KEY_B64 "\n");
    snprintf(text, sizeof text,
             "satisfy:\n  names: [a.test]\nrequest:\n  provider: " CA "\n"
             "  account:\n    eab: {kid: kid-1, hmac-key-file: %s}\n",
             keyfile);
    assert_int_equal(desired_parse("a.test", text, strlen(text), NULL, 0, &t, &e), 0);
    assert_string_equal(t.eab_kid, "kid-1");
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(store_open(dir, &st, &e), 0);
    o.state_dir = dir;
    ds.targets = &t;
    ds.ntargets = 1;
    set.st = &st;
    set.ds = &ds;
    set.loop = &loop;
    set.o = &o;
    set.new_engine = factory;
    set.new_engine_arg = &f;
    fake_init(&f, &loop, CA, "a.test");

    armed = true;
    assert_non_null(p = provider_for_target(&set, CA, &t));
    provider_need_account(p, &t, on_account, &done);
    for (int i = 0; i < 100000 && !done; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(done, 1);
    armed = false;

    assert_int_equal(eab_seen, 1);
    assert_null(mac_ptr);          /* the key the engine was given was freed, */
    assert_int_equal(mac_zero, 1); /* zeroed first */
    assert_int_equal(bytes_seen, 0);
    assert_int_equal(text_seen, 0);
    /* The check sees keys: the same bytes freed plainly are found. */
    assert_int_equal(b64url_decode(EAB_KEY_B64, strlen(EAB_KEY_B64), &dec, &declen), 0);
    armed = true;
    free(dec);
    armed = false;
    assert_int_equal(bytes_seen, 1);

    providers_free(&set);
    fake_clear(&f);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    target_clear(&t);
    store_close(&st);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eab_key_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
