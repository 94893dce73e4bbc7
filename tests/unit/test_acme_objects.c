/* Unit tests for acme/objects: RFC 8555 resources and problem documents parsed from JSON,
 * strictness (the error names the member), and one-line problem formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/objects.h"
#include "common/testutil.h"

#define NS "urn:ietf:params:acme:error:"

/* Parses a sample from tests/data/acme with the given parser. */
#define PARSE_FILE(fn, file, out, e)                                                               \
    do {                                                                                           \
        size_t len_;                                                                               \
        char *text_ = tu_read_data("acme/" file, &len_);                                           \
        int rc_ = fn(text_, len_, out, e);                                                         \
        free(text_);                                                                               \
        if (rc_ != 0)                                                                              \
            print_error("%s: %s\n", file, err_msg(e));                                             \
        assert_int_equal(rc_, 0);                                                                  \
    } while (0)

/* Expects fn(text) to fail with -EINVAL, *out untouched and every fragment in the message. */
#define PARSE_BAD(fn, type, text, ...)                                                             \
    do {                                                                                           \
        static const char *const frags_[] = {__VA_ARGS__};                                         \
        type *out_ = (type *)(uintptr_t)0x1;                                                       \
        struct err e_ = {0};                                                                       \
        print_message("%s\n", text);                                                               \
        assert_int_equal(fn(text, strlen(text), &out_, &e_), -EINVAL);                             \
        assert_int_equal(e_.code, -EINVAL);                                                        \
        assert_ptr_equal(out_, (type *)(uintptr_t)0x1);                                            \
        for (size_t i_ = 0; i_ < sizeof frags_ / sizeof frags_[0]; i_++) {                         \
            if (!strstr(e_.msg, frags_[i_]))                                                       \
                fail_msg("message \"%s\" lacks \"%s\"", e_.msg, frags_[i_]);                       \
        }                                                                                          \
    } while (0)

/* ---- directory ---- */

static void test_directory_rfc8555(void **state)
{
    struct acme_directory *d = NULL;
    struct err e = {0};

    PARSE_FILE(acme_directory_parse, "rfc8555_directory.json", &d, &e);
    assert_string_equal(d->new_nonce, "https://example.com/acme/new-nonce");
    assert_string_equal(d->new_account, "https://example.com/acme/new-account");
    assert_string_equal(d->new_order, "https://example.com/acme/new-order");
    assert_string_equal(d->new_authz, "https://example.com/acme/new-authz");
    assert_string_equal(d->revoke_cert, "https://example.com/acme/revoke-cert");
    assert_string_equal(d->key_change, "https://example.com/acme/key-change");
    assert_null(d->renewal_info);
    assert_string_equal(d->meta.terms_of_service, "https://example.com/acme/terms/2017-5-30");
    assert_string_equal(d->meta.website, "https://www.example.com/");
    assert_int_equal(d->meta.ncaa_identities, 1);
    assert_string_equal(d->meta.caa_identities[0], "example.com");
    assert_false(d->meta.external_account_required);
    assert_int_equal(d->meta.nprofiles, 0);
    acme_directory_free(d);
}

/* RFC 9773 renewalInfo, profiles as an object name -> description (draft-aaron-acme-profiles,
 * as Let's Encrypt serves it), externalAccountRequired, no newAuthz, an unknown member. */
static void test_directory_extensions(void **state)
{
    struct acme_directory *d = NULL;
    struct err e = {0};

    PARSE_FILE(acme_directory_parse, "le_directory.json", &d, &e);
    assert_string_equal(d->renewal_info, "https://acme.example/acme/renewal-info");
    assert_null(d->new_authz);
    assert_true(d->meta.external_account_required);
    assert_int_equal(d->meta.ncaa_identities, 2);
    assert_string_equal(d->meta.caa_identities[1], "ca.example");
    assert_int_equal(d->meta.nprofiles, 3);
    /* In server order. */
    assert_string_equal(d->meta.profiles[0].name, "classic");
    assert_string_equal(d->meta.profiles[0].description, "The same profile you're accustomed to");
    assert_string_equal(d->meta.profiles[1].name, "tlsserver");
    assert_string_equal(d->meta.profiles[1].description,
                        "https://acme.example/docs/profiles#tlsserver");
    assert_string_equal(d->meta.profiles[2].name, "shortlived");
    assert_string_equal(d->meta.profiles[2].description, "Six-day certificates");
    acme_directory_free(d);
    acme_directory_free(NULL);
}

#define DIR_HEAD                                                                                   \
    "{\"newNonce\":\"https://x/nonce\",\"newAccount\":\"https://x/acct\","                         \
    "\"newOrder\":\"https://x/order\",\"revokeCert\":\"https://x/revoke\","                        \
    "\"keyChange\":\"https://x/key\""

static void test_directory_nulls(void **state)
{
    const char *text = DIR_HEAD ",\"newAuthz\":null,\"renewalInfo\":null,\"meta\":{"
                                "\"termsOfService\":null,\"website\":null,\"caaIdentities\":null,"
                                "\"externalAccountRequired\":null,\"profiles\":null}}";
    struct acme_directory *d = NULL;
    struct err e = {0};

    assert_int_equal(acme_directory_parse(text, strlen(text), &d, &e), 0);
    assert_null(d->new_authz);
    assert_null(d->renewal_info);
    assert_null(d->meta.terms_of_service);
    assert_null(d->meta.website);
    assert_int_equal(d->meta.ncaa_identities, 0);
    assert_false(d->meta.external_account_required);
    assert_int_equal(d->meta.nprofiles, 0);
    acme_directory_free(d);

    text = DIR_HEAD ",\"meta\":null}";
    assert_int_equal(acme_directory_parse(text, strlen(text), &d, &e), 0);
    assert_null(d->meta.website);
    acme_directory_free(d);

    /* An empty profiles object is no profiles. */
    text = DIR_HEAD ",\"meta\":{\"profiles\":{}}}";
    assert_int_equal(acme_directory_parse(text, strlen(text), &d, &e), 0);
    assert_int_equal(d->meta.nprofiles, 0);
    acme_directory_free(d);
}

static void test_directory_bad(void **state)
{
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              "{\"newAccount\":\"https://x/acct\",\"newOrder\":\"https://x/order\","
              "\"revokeCert\":\"https://x/revoke\",\"keyChange\":\"https://x/key\"}",
              "directory", "missing \"newNonce\"");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              "{\"newNonce\":null,\"newAccount\":\"https://x/acct\",\"newOrder\":\"https://x/o\","
              "\"revokeCert\":\"https://x/revoke\",\"keyChange\":\"https://x/key\"}",
              "missing \"newNonce\"");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              "{\"newNonce\":\"https://x/nonce\",\"newAccount\":\"https://x/acct\","
              "\"newOrder\":42,\"revokeCert\":\"https://x/revoke\",\"keyChange\":\"https://x/k\"}",
              "\"newOrder\" is not a string");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              "{\"newNonce\":\"https://x/nonce\",\"newAccount\":\"https://x/a cct\","
              "\"newOrder\":\"https://x/o\",\"revokeCert\":\"https://x/r\",\"keyChange\":\"https://"
              "x/k\"}",
              "\"newAccount\" is not a URL");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              "{\"newNonce\":\"https://x/nonce\",\"newAccount\":\"https://x/acct\","
              "\"newOrder\":\"https://x/o\",\"revokeCert\":\"https://x/r\",\"keyChange\":\"\"}",
              "\"keyChange\"");
    PARSE_BAD(acme_directory_parse, struct acme_directory, DIR_HEAD ",\"renewalInfo\":true}",
              "\"renewalInfo\" is not a string");
    PARSE_BAD(acme_directory_parse, struct acme_directory, DIR_HEAD ",\"meta\":[]}",
              "\"meta\" is not an object");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              DIR_HEAD ",\"meta\":{\"externalAccountRequired\":\"yes\"}}",
              "\"externalAccountRequired\" is not a boolean");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              DIR_HEAD ",\"meta\":{\"caaIdentities\":[\"a\",7]}}", "\"caaIdentities\"[1]");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              DIR_HEAD ",\"meta\":{\"website\":\"not a url\"}}", "\"website\" is not a URL");
    /* The profiles of the draft are an object; an array (names only) is refused. */
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              DIR_HEAD ",\"meta\":{\"profiles\":[\"classic\"]}}", "\"profiles\" is not an object");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              DIR_HEAD ",\"meta\":{\"profiles\":{\"classic\":\"ok\",\"odd\":{}}}}",
              "profile \"odd\" is not a string");
    PARSE_BAD(acme_directory_parse, struct acme_directory, "[]", "not a JSON object");
    PARSE_BAD(acme_directory_parse, struct acme_directory, "{", "not JSON");
    PARSE_BAD(acme_directory_parse, struct acme_directory, "", "not JSON");
    PARSE_BAD(acme_directory_parse, struct acme_directory,
              DIR_HEAD ",\"newOrder\":\"https://x/again\"}", "not JSON"); /* duplicate */
    {
        struct acme_directory *d = NULL;
        struct err e = {0};

        assert_int_equal(acme_directory_parse(NULL, 0, &d, &e), -EINVAL);
        assert_null(d);
    }
}

/* ---- account ---- */

static void test_account(void **state)
{
    struct acme_account *a = NULL;
    struct err e = {0};
    const char *text;

    PARSE_FILE(acme_account_parse, "rfc8555_account.json", &a, &e);
    assert_int_equal(a->status, ACCOUNT_VALID);
    assert_int_equal(a->ncontact, 2);
    assert_string_equal(a->contact[0], "mailto:cert-admin@example.org");
    assert_string_equal(a->contact[1], "mailto:admin@example.org");
    assert_string_equal(a->orders, "https://example.com/acme/orders/rzGoeA");
    acme_account_free(a);

    /* Let's Encrypt omits orders and may send no contact. */
    text = "{\"status\":\"deactivated\"}";
    assert_int_equal(acme_account_parse(text, strlen(text), &a, &e), 0);
    assert_int_equal(a->status, ACCOUNT_DEACTIVATED);
    assert_int_equal(a->ncontact, 0);
    assert_null(a->orders);
    acme_account_free(a);
    acme_account_free(NULL);

    PARSE_BAD(acme_account_parse, struct acme_account, "{\"contact\":[]}", "account",
              "missing \"status\"");
    PARSE_BAD(acme_account_parse, struct acme_account, "{\"status\":\"active\"}",
              "account: unknown status \"active\"");
    PARSE_BAD(acme_account_parse, struct acme_account, "{\"status\":1}",
              "\"status\" is not a string");
    PARSE_BAD(acme_account_parse, struct acme_account,
              "{\"status\":\"valid\",\"contact\":\"mailto:a@b\"}", "\"contact\" is not an array");
    PARSE_BAD(acme_account_parse, struct acme_account,
              "{\"status\":\"valid\",\"contact\":[\"mailto:a@b\",null]}",
              "\"contact\"[1] is not a string");
    PARSE_BAD(acme_account_parse, struct acme_account,
              "{\"status\":\"valid\",\"orders\":[\"https://x/\"]}", "\"orders\" is not a string");
}

/* ---- order ---- */

static void test_order_rfc8555(void **state)
{
    struct acme_order *o = NULL;
    struct err e = {0};

    PARSE_FILE(acme_order_parse, "rfc8555_order.json", &o, &e);
    assert_int_equal(o->status, ORDER_VALID);
    assert_int_equal(o->expires, 1453298947); /* 2016-01-20T14:09:07.99Z, fraction dropped */
    assert_int_equal(o->nidentifiers, 2);
    assert_int_equal(o->identifiers[0].type, ACME_ID_DNS);
    assert_string_equal(o->identifiers[0].value, "www.example.org");
    assert_int_equal(o->identifiers[1].type, ACME_ID_DNS);
    assert_string_equal(o->identifiers[1].value, "example.org");
    assert_int_equal(o->nauthorizations, 2);
    assert_string_equal(o->authorizations[0], "https://example.com/acme/authz/PAniVnsZcis");
    assert_string_equal(o->authorizations[1], "https://example.com/acme/authz/r4HqLzrSrpI");
    assert_string_equal(o->finalize, "https://example.com/acme/order/TOlocE8rfgo/finalize");
    assert_string_equal(o->certificate, "https://example.com/acme/cert/mAt3xBGaobw");
    assert_null(o->error);
    assert_null(o->profile);
    assert_null(o->replaces);
    acme_order_free(o);
    acme_order_free(NULL);
}

#define ORDER_HEAD                                                                                 \
    "{\"identifiers\":[{\"type\":\"ip\",\"value\":\"192.0.2.1\"}],"                                \
    "\"authorizations\":[\"https://x/authz/1\"],\"finalize\":\"https://x/fin\""

static void test_order_extensions(void **state)
{
    const char *text = ORDER_HEAD ",\"status\":\"invalid\",\"certificate\":null,\"expires\":null,"
                                  "\"profile\":\"shortlived\",\"replaces\":"
                                  "\"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE\",\"error\":{"
                                  "\"type\":\"" NS "caa\",\"detail\":\"CAA forbids\","
                                  "\"status\":403}}";
    struct acme_order *o = NULL;
    struct err e = {0};

    assert_int_equal(acme_order_parse(text, strlen(text), &o, &e), 0);
    assert_int_equal(o->status, ORDER_INVALID);
    assert_int_equal(o->expires, 0);
    assert_int_equal(o->identifiers[0].type, ACME_ID_IP);
    assert_null(o->certificate);
    assert_string_equal(o->profile, "shortlived");
    assert_string_equal(o->replaces, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert_non_null(o->error);
    assert_true(acme_problem_is(o->error, "caa"));
    assert_string_equal(o->error->detail, "CAA forbids");
    assert_int_equal(o->error->status, 403);
    acme_order_free(o);

    /* Every status of RFC 8555 §7.1.6. */
    static const char *const st[] = {"pending", "ready", "processing", "valid", "invalid"};
    for (size_t i = 0; i < 5; i++) {
        char buf[512];

        snprintf(buf, sizeof buf, ORDER_HEAD ",\"status\":\"%s\",\"error\":null}", st[i]);
        assert_int_equal(acme_order_parse(buf, strlen(buf), &o, &e), 0);
        assert_int_equal(o->status, (enum acme_order_status)i);
        assert_null(o->error);
        acme_order_free(o);
    }
}

static void test_order_bad(void **state)
{
    PARSE_BAD(acme_order_parse, struct acme_order, ORDER_HEAD "}", "order", "missing \"status\"");
    PARSE_BAD(acme_order_parse, struct acme_order, ORDER_HEAD ",\"status\":\"done\"}",
              "order: unknown status \"done\"");
    PARSE_BAD(acme_order_parse, struct acme_order, ORDER_HEAD ",\"status\":\"Valid\"}",
              "unknown status"); /* status values are case-sensitive */
    PARSE_BAD(
        acme_order_parse, struct acme_order,
        "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}],"
        "\"authorizations\":[]}",
        "order", "missing \"finalize\"");
    PARSE_BAD(acme_order_parse, struct acme_order,
              "{\"status\":\"pending\",\"authorizations\":[],\"finalize\":\"https://x/f\"}",
              "missing \"identifiers\"");
    PARSE_BAD(
        acme_order_parse, struct acme_order,
        "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}],"
        "\"finalize\":\"https://x/f\"}",
        "missing \"authorizations\"");
    PARSE_BAD(acme_order_parse, struct acme_order,
              "{\"status\":\"pending\",\"identifiers\":[],\"authorizations\":[],"
              "\"finalize\":\"https://x/f\"}",
              "\"identifiers\" is empty");
    PARSE_BAD(acme_order_parse, struct acme_order,
              "{\"status\":\"pending\",\"identifiers\":{},\"authorizations\":[],"
              "\"finalize\":\"https://x/f\"}",
              "\"identifiers\" is not an array");
    PARSE_BAD(acme_order_parse, struct acme_order,
              "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"},"
              "{\"type\":\"email\",\"value\":\"a@b\"}],\"authorizations\":[],"
              "\"finalize\":\"https://x/f\"}",
              "identifiers[1]", "unsupported identifier type \"email\"");
    PARSE_BAD(acme_order_parse, struct acme_order,
              "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\"}],\"authorizations\":[],"
              "\"finalize\":\"https://x/f\"}",
              "identifiers[0]", "missing \"value\"");
    PARSE_BAD(acme_order_parse, struct acme_order,
              "{\"status\":\"pending\",\"identifiers\":[\"a.example\"],\"authorizations\":[],"
              "\"finalize\":\"https://x/f\"}",
              "identifiers[0]", "not an object");
    PARSE_BAD(acme_order_parse, struct acme_order,
              ORDER_HEAD ",\"status\":\"pending\",\"expires\":\"soon\"}",
              "\"expires\" is not an RFC 3339 time");
    PARSE_BAD(acme_order_parse, struct acme_order,
              ORDER_HEAD ",\"status\":\"pending\",\"expires\":1453298947}",
              "\"expires\" is not a string");
    PARSE_BAD(
        acme_order_parse, struct acme_order,
        "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}],"
        "\"authorizations\":[\"https://x/1\",3],\"finalize\":\"https://x/f\"}",
        "\"authorizations\"[1] is not a string");
    PARSE_BAD(acme_order_parse, struct acme_order,
              ORDER_HEAD ",\"status\":\"valid\",\"certificate\":\"https://x/c\\r\\nX: y\"}",
              "\"certificate\" is not a URL");
    PARSE_BAD(acme_order_parse, struct acme_order,
              ORDER_HEAD ",\"status\":\"invalid\",\"error\":\"boom\"}", "order: error",
              "not an object");
    PARSE_BAD(acme_order_parse, struct acme_order,
              ORDER_HEAD ",\"status\":\"invalid\",\"error\":{\"status\":\"403\"}}", "order: error",
              "\"status\" is not an HTTP status code");
}

/* ---- authorization, challenge ---- */

static void test_authz_rfc8555(void **state)
{
    struct acme_authz *a = NULL;
    struct err e = {0};

    PARSE_FILE(acme_authz_parse, "rfc8555_authz.json", &a, &e);
    assert_int_equal(a->status, AUTHZ_VALID);
    assert_int_equal(a->expires, 1425218947); /* 2015-03-01T14:09:07.99Z */
    assert_int_equal(a->identifier.type, ACME_ID_DNS);
    assert_string_equal(a->identifier.value, "www.example.org");
    assert_false(a->wildcard);
    assert_int_equal(a->nchallenges, 1);
    assert_string_equal(a->challenges[0].url, "https://example.com/acme/chall/prV_B7yEyA4");
    assert_string_equal(a->challenges[0].type, "http-01");
    assert_int_equal(a->challenges[0].status, CHALL_VALID);
    assert_string_equal(a->challenges[0].token, "DGyRejmCefe7v4NfDGDKfA");
    assert_int_equal(a->challenges[0].validated, 1417435558); /* 2014-12-01T12:05:58.16Z */
    assert_null(a->challenges[0].error);
    acme_authz_free(a);
    acme_authz_free(NULL);
}

#define AUTHZ_ID "\"identifier\":{\"type\":\"dns\",\"value\":\"example.org\"}"
#define CHALL(type, status, token)                                                                 \
    "{\"type\":\"" type "\",\"url\":\"https://x/ch\",\"status\":\"" status "\",\"token\":\"" token \
    "\"}"

static void test_authz_variants(void **state)
{
    /* clang-format off */
    const char *text =
        "{" AUTHZ_ID ",\"status\":\"pending\",\"wildcard\":true,\"expires\":null,"
        "\"challenges\":["
        CHALL("http-01", "pending", "tok-1_A") ","
        CHALL("dns-01", "processing", "tok2") ","
        "{\"type\":\"x-new-01\",\"url\":\"https://x/c3\",\"status\":\"invalid\","
        "\"token\":null,\"error\":{\"type\":\"" NS "connection\"}}]}";
    /* clang-format on */
    struct acme_authz *a = NULL;
    struct err e = {0};

    assert_int_equal(acme_authz_parse(text, strlen(text), &a, &e), 0);
    assert_int_equal(a->status, AUTHZ_PENDING);
    assert_true(a->wildcard);
    assert_int_equal(a->expires, 0);
    assert_int_equal(a->nchallenges, 3);
    assert_string_equal(a->challenges[0].token, "tok-1_A");
    assert_int_equal(a->challenges[1].status, CHALL_PROCESSING);
    assert_string_equal(a->challenges[2].type, "x-new-01"); /* unknown types kept as given */
    assert_null(a->challenges[2].token);
    assert_int_equal(a->challenges[2].validated, 0);
    assert_true(acme_problem_is(a->challenges[2].error, "connection"));
    acme_authz_free(a);

    /* Every authorization status. */
    static const char *const st[] = {"pending",     "valid",   "invalid",
                                     "deactivated", "expired", "revoked"};
    for (size_t i = 0; i < 6; i++) {
        char buf[256];

        snprintf(buf, sizeof buf, "{" AUTHZ_ID ",\"status\":\"%s\",\"challenges\":[]}", st[i]);
        assert_int_equal(acme_authz_parse(buf, strlen(buf), &a, &e), 0);
        assert_int_equal(a->status, (enum acme_authz_status)i);
        assert_int_equal(a->nchallenges, 0);
        acme_authz_free(a);
    }
}

static void test_authz_bad(void **state)
{
    PARSE_BAD(acme_authz_parse, struct acme_authz, "{\"status\":\"pending\",\"challenges\":[]}",
              "authorization", "missing \"identifier\"");
    PARSE_BAD(acme_authz_parse, struct acme_authz, "{" AUTHZ_ID ",\"challenges\":[]}",
              "authorization", "missing \"status\"");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID ",\"status\":\"gone\",\"challenges\":[]}", "unknown status \"gone\"");
    PARSE_BAD(acme_authz_parse, struct acme_authz, "{" AUTHZ_ID ",\"status\":\"pending\"}",
              "missing \"challenges\"");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID ",\"status\":\"pending\",\"challenges\":{}}",
              "\"challenges\" is not an array");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID ",\"status\":\"pending\",\"wildcard\":\"no\",\"challenges\":[]}",
              "\"wildcard\" is not a boolean");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{\"identifier\":{\"type\":\"dns\",\"value\":\"\"},\"status\":\"pending\","
              "\"challenges\":[]}",
              "authorization: identifier", "\"value\" is empty");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{\"identifier\":\"example.org\",\"status\":\"pending\",\"challenges\":[]}",
              "authorization: identifier", "not an object");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID ",\"status\":\"pending\",\"challenges\":[" CHALL(
                  "http-01", "pending", "ok") ",{\"type\":\"dns-01\",\"status\":\"pending\"}]}",
              "challenges[1]", "missing \"url\"");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID
              ",\"status\":\"pending\",\"challenges\":[" CHALL("http-01", "ready", "ok") "]}",
              "challenges[0]", "unknown status \"ready\"");
    /* Tokens reach paths and hook arguments: only base64url. */
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID
              ",\"status\":\"pending\",\"challenges\":[" CHALL("http-01", "pending", "../x") "]}",
              "challenges[0]", "\"token\" is not base64url");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID
              ",\"status\":\"pending\",\"challenges\":[" CHALL("http-01", "pending", "") "]}",
              "\"token\" is not base64url");
    PARSE_BAD(acme_authz_parse, struct acme_authz,
              "{" AUTHZ_ID ",\"status\":\"pending\",\"challenges\":[42]}", "challenges[0]",
              "not an object");
}

static void test_challenge(void **state)
{
    const char *text = "{\"type\":\"dns-01\",\"url\":\"https://x/ch/1\",\"status\":\"invalid\","
                       "\"token\":\"abc\",\"validated\":\"2024-02-29T23:59:60Z\",\"error\":{"
                       "\"type\":\"" NS "dns\",\"detail\":\"no TXT\"}}";
    struct acme_challenge *c = NULL;
    struct err e = {0};

    assert_int_equal(acme_challenge_parse(text, strlen(text), &c, &e), 0);
    assert_string_equal(c->type, "dns-01");
    assert_string_equal(c->url, "https://x/ch/1");
    assert_int_equal(c->status, CHALL_INVALID);
    assert_int_equal(c->validated, 1709251199); /* leap second read as :59 */
    assert_true(acme_problem_is(c->error, "dns"));
    acme_challenge_free(c);
    acme_challenge_free(NULL);

    PARSE_BAD(acme_challenge_parse, struct acme_challenge,
              "{\"url\":\"https://x/ch/1\",\"status\":\"pending\"}", "challenge",
              "missing \"type\"");
    PARSE_BAD(acme_challenge_parse, struct acme_challenge,
              "{\"type\":\"dns-01\",\"url\":\"https://x/ch/1\",\"status\":\"pending\","
              "\"token\":\"a=\"}",
              "challenge", "\"token\" is not base64url");
    PARSE_BAD(acme_challenge_parse, struct acme_challenge,
              "{\"type\":\"dns-01\",\"url\":\"https://x/ch/1\",\"status\":\"valid\","
              "\"validated\":\"2024-02-30T00:00:00Z\"}",
              "\"validated\" is not an RFC 3339 time");
}

/* ---- problems ---- */

static void test_problem_rfc8555(void **state)
{
    struct acme_problem *p = NULL;
    struct err e = {0};
    char *s;

    PARSE_FILE(acme_problem_parse, "rfc8555_problem.json", &p, &e);
    assert_string_equal(p->type, NS "malformed");
    assert_string_equal(p->detail, "Some of the identifiers requested were rejected");
    assert_null(p->instance);
    assert_int_equal(p->status, 0);
    assert_int_equal(p->nsubproblems, 2);
    assert_string_equal(p->subproblems[0].type, NS "malformed");
    assert_string_equal(p->subproblems[0].detail,
                        "Invalid underscore in DNS name \"_example.org\"");
    assert_string_equal(p->subproblems[0].id_type, "dns");
    assert_string_equal(p->subproblems[0].id_value, "_example.org");
    assert_string_equal(p->subproblems[1].type, NS "rejectedIdentifier");
    assert_string_equal(p->subproblems[1].id_value, "example.net");
    assert_true(acme_problem_is(p, "malformed"));

    s = acme_problem_format(p);
    assert_non_null(s);
    assert_string_equal(s, NS "malformed: Some of the identifiers requested were rejected; "
                              "[dns _example.org] " NS "malformed: Invalid underscore in DNS name "
                              "\"_example.org\"; [dns example.net] " NS "rejectedIdentifier: "
                              "This CA will not issue for \"example.net\"");
    free(s);

    /* With an HTTP status, as the header comment shows: "type (400): detail". */
    p->status = 403;
    s = acme_problem_format(p);
    assert_non_null(s);
    assert_non_null(strstr(s, NS "malformed (403): Some of the identifiers"));
    free(s);
    acme_problem_free(p);
    acme_problem_free(NULL);
}

static void test_problem_defaults(void **state)
{
    const char *text = "{\"detail\":null,\"instance\":\"https://x/p/1\",\"status\":400,"
                       "\"subproblems\":[{\"detail\":\"bad\"}],\"title\":\"ignored\"}";
    struct acme_problem *p = NULL;
    struct err e = {0};
    char *s;

    assert_int_equal(acme_problem_parse(text, strlen(text), &p, &e), 0);
    assert_string_equal(p->type, "about:blank"); /* RFC 7807 §3.1 */
    assert_null(p->detail);
    assert_string_equal(p->instance, "https://x/p/1");
    assert_int_equal(p->status, 400);
    assert_int_equal(p->nsubproblems, 1);
    assert_string_equal(p->subproblems[0].type, "about:blank");
    assert_null(p->subproblems[0].id_type);
    assert_null(p->subproblems[0].id_value);
    assert_false(acme_problem_is(p, "malformed"));
    s = acme_problem_format(p);
    assert_string_equal(s, "about:blank (400); about:blank: bad");
    free(s);
    acme_problem_free(p);

    s = acme_problem_format(NULL);
    assert_string_equal(s, "no problem document");
    free(s);
}

/* Server text must not be able to break a log line or drive a terminal. */
static void test_problem_format_controls(void **state)
{
    const char *text =
        "{\"type\":\"" NS "malformed\\u001b[31m\",\"detail\":\"line1\\nline2\\r\\u0007\\u007f"
        "\\u0085end \\u00e9\",\"subproblems\":[{\"type\":\"" NS "caa\",\"detail\":\"a\\tb\","
        "\"identifier\":{\"type\":\"dns\\n\",\"value\":\"x\\u009b2J.example\"}}]}";
    struct acme_problem *p = NULL;
    struct err e = {0};
    char *s;

    assert_int_equal(acme_problem_parse(text, strlen(text), &p, &e), 0);
    s = acme_problem_format(p);
    assert_non_null(s);
    assert_string_equal(s, NS "malformed?[31m: line1?line2???"
                              "?end \xc3\xa9; "
                              "[dns? x?2J.example] " NS "caa: a?b");
    for (const char *c = s; *c; c++)
        assert_true((unsigned char)*c >= 0x20 && *c != 0x7f);
    free(s);
    acme_problem_free(p);
}

/* Error messages quote server text the same way. */
static void test_error_message_controls(void **state)
{
    PARSE_BAD(acme_account_parse, struct acme_account, "{\"status\":\"bad\\nX-Forged: 1\"}",
              "unknown status \"bad?X-Forged: 1\"");
}

static void test_problem_bad(void **state)
{
    PARSE_BAD(acme_problem_parse, struct acme_problem, "{\"type\":7}", "problem",
              "\"type\" is not a string");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "{\"status\":\"400\"}",
              "\"status\" is not an HTTP status code");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "{\"status\":4000}",
              "\"status\" is not an HTTP status code");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "{\"status\":-1}", "\"status\"");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "{\"detail\":[\"x\"]}",
              "\"detail\" is not a string");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "{\"subproblems\":{}}",
              "\"subproblems\" is not an array");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "{\"subproblems\":[{},\"x\"]}",
              "subproblems[1]", "not an object");
    PARSE_BAD(acme_problem_parse, struct acme_problem,
              "{\"subproblems\":[{\"identifier\":{\"type\":\"dns\"}}]}", "subproblems[0]",
              "missing \"value\"");
    PARSE_BAD(acme_problem_parse, struct acme_problem,
              "{\"subproblems\":[{\"identifier\":\"dns:x\"}]}", "subproblems[0]",
              "\"identifier\" is not an object");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "[1]", "problem: not a JSON object");
    PARSE_BAD(acme_problem_parse, struct acme_problem, "\"oops\"", "problem: not JSON");
}

static void test_problem_is(void **state)
{
    struct acme_problem p = {0};

    p.type = (char *)NS "badNonce";
    assert_true(acme_problem_is(&p, "badNonce"));
    assert_false(acme_problem_is(&p, "badnonce"));
    assert_false(acme_problem_is(&p, "bad"));
    assert_false(acme_problem_is(&p, "badNonceX"));
    assert_false(acme_problem_is(&p, NULL));
    assert_false(acme_problem_is(NULL, "badNonce"));
    p.type = (char *)NS "badNonceX";
    assert_false(acme_problem_is(&p, "badNonce"));
    p.type = (char *)"badNonce";
    assert_false(acme_problem_is(&p, "badNonce"));
    p.type = (char *)"urn:ietf:params:acme:err:badNonce";
    assert_false(acme_problem_is(&p, "badNonce"));
    p.type = NULL;
    assert_false(acme_problem_is(&p, "badNonce"));
}

static void test_enum_names(void **state)
{
    enum acme_order_status os;
    enum acme_authz_status as;
    enum acme_chall_status cs;
    enum acme_account_status acs;
    enum acme_id_type it;

    assert_string_equal(acme_order_status_str(ORDER_PROCESSING), "processing");
    assert_int_equal(acme_order_status_parse("ready", &os), 0);
    assert_int_equal(os, ORDER_READY);
    assert_int_equal(acme_order_status_parse("READY", &os), -EINVAL);
    assert_int_equal(acme_order_status_parse(NULL, &os), -EINVAL);
    assert_string_equal(acme_order_status_str((enum acme_order_status)99), "unknown");
    assert_string_equal(acme_authz_status_str(AUTHZ_DEACTIVATED), "deactivated");
    assert_int_equal(acme_authz_status_parse("revoked", &as), 0);
    assert_int_equal(as, AUTHZ_REVOKED);
    assert_string_equal(acme_chall_status_str(CHALL_INVALID), "invalid");
    assert_int_equal(acme_chall_status_parse("processing", &cs), 0);
    assert_int_equal(cs, CHALL_PROCESSING);
    assert_int_equal(acme_chall_status_parse("ready", &cs), -EINVAL);
    assert_string_equal(acme_account_status_str(ACCOUNT_REVOKED), "revoked");
    assert_int_equal(acme_account_status_parse("deactivated", &acs), 0);
    assert_int_equal(acs, ACCOUNT_DEACTIVATED);
    assert_string_equal(acme_id_type_str(ACME_ID_IP), "ip");
    assert_int_equal(acme_id_type_parse("dns", &it), 0);
    assert_int_equal(it, ACME_ID_DNS);
    assert_int_equal(acme_id_type_parse("email", &it), -EINVAL);
    assert_string_equal(acme_id_type_str((enum acme_id_type) - 1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory_rfc8555),
        cmocka_unit_test(test_directory_extensions),
        cmocka_unit_test(test_directory_nulls),
        cmocka_unit_test(test_directory_bad),
        cmocka_unit_test(test_account),
        cmocka_unit_test(test_order_rfc8555),
        cmocka_unit_test(test_order_extensions),
        cmocka_unit_test(test_order_bad),
        cmocka_unit_test(test_authz_rfc8555),
        cmocka_unit_test(test_authz_variants),
        cmocka_unit_test(test_authz_bad),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_problem_rfc8555),
        cmocka_unit_test(test_problem_defaults),
        cmocka_unit_test(test_problem_format_controls),
        cmocka_unit_test(test_error_message_controls),
        cmocka_unit_test(test_problem_bad),
        cmocka_unit_test(test_problem_is),
        cmocka_unit_test(test_enum_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
