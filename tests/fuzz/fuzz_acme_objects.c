/* fuzz_acme_objects: the ACME response-body parsers (src/acme/objects.h, src/acme/ari.h).
 *
 * Every input is handed to each parser in turn (directory, account, order, authorization,
 * challenge, problem, renewalInfo), so a seed for one object also exercises the others'
 * error paths. Each parsed problem -- the top-level one and those embedded in orders and
 * challenges -- is also formatted with acme_problem_format. */
#include "fuzz_common.h"

#include "acme/ari.h"
#include "acme/objects.h"

FUZZ_QUIET_LOGS()

static void format_problem(const struct acme_problem *p)
{
    char *s;

    if (!p)
        return;
    s = acme_problem_format(p);
    free(s);
    (void)acme_problem_is(p, "badNonce");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_memdup(data, size);
    struct acme_directory *dir = NULL;
    struct acme_account *acct = NULL;
    struct acme_order *order = NULL;
    struct acme_authz *authz = NULL;
    struct acme_challenge *chall = NULL;
    struct acme_problem *prob = NULL;
    struct acme_renewal_info ri;
    struct err e;

    if (!text)
        return 0;
    err_clear(&e);
    if (acme_directory_parse(text, size, &dir, &e) == 0)
        acme_directory_free(dir);
    if (acme_account_parse(text, size, &acct, &e) == 0)
        acme_account_free(acct);
    if (acme_order_parse(text, size, &order, &e) == 0) {
        format_problem(order->error);
        acme_order_free(order);
    }
    if (acme_authz_parse(text, size, &authz, &e) == 0) {
        for (size_t i = 0; i < authz->nchallenges; i++)
            format_problem(authz->challenges[i].error);
        acme_authz_free(authz);
    }
    if (acme_challenge_parse(text, size, &chall, &e) == 0) {
        format_problem(chall->error);
        acme_challenge_free(chall);
    }
    if (acme_problem_parse(text, size, &prob, &e) == 0) {
        format_problem(prob);
        acme_problem_free(prob);
    }
    memset(&ri, 0, sizeof ri);
    if (acme_renewal_info_parse(text, size, &ri, &e) == 0)
        acme_renewal_info_clear(&ri);
    free(text);
    return 0;
}
