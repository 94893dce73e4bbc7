/* bench_issue: times full issuances through the ACME engine against a running Pebble and
 * counts the HTTP requests they took.
 *
 *   bench_issue ENV-FILE [N]    ENV-FILE from tests/pebble/fixture.sh; N certificates (1)
 *
 * Creates one account, then N single-name orders in parallel on the loop. Prints the wall
 * time of the whole run, the requests for the first certificate (directory, nonce and
 * account included) and per further certificate, connections opened and peak RSS. Run it
 * through bench/run.sh, which starts and stops the Pebble. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "common/acme_flow.h"
#include "common/pebble_env.h"
#include "util/clock.h"

static unsigned done_count;

static void on_done(void *arg, struct flow_result *res)
{
    if (res->rc < 0) {
        fprintf(stderr, "bench_issue: issuance failed: %s\n", err_msg(&res->e));
        exit(1);
    }
    done_count++;
}

static void bench(void **state)
{
    static const char *http01[] = {"http-01"};
    unsigned n = *(unsigned *)*state;
    struct flow_req *reqs = calloc(n, sizeof *reqs);
    struct flow_result *res = calloc(n, sizeof *res);
    char (*names)[64] = calloc(n, 64);
    const char **np = calloc(n, sizeof *np);
    struct acme_client_stats st;
    struct http_stats hs;
    struct flow_env fe;
    struct rusage ru;
    uint64_t t0, t1;
    struct err e;

    t0 = clock_mono_ms();
    flow_env_init(&fe, pe_get("PEBBLE_DIRECTORY"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account: %s", err_msg(&e));
    for (unsigned i = 0; i < n; i++) {
        snprintf(names[i], 64, "b%u-%llu.bench.test", i, (unsigned long long)t0);
        np[i] = names[i];
        reqs[i] = (struct flow_req){.names = &np[i], .nnames = 1, .key = {KEY_ECDSA, 256},
                                    .prefs = http01, .nprefs = 1,
                                    .challtestsrv = pe_get("CHALLTESTSRV_MGMT")};
        if (flow_issue_start(&fe, &reqs[i], &res[i], on_done, NULL) < 0)
            fail_msg("start: %s", err_msg(&res[i].e));
    }
    while (done_count < n)
        uv_run(&fe.loop, UV_RUN_ONCE);
    t1 = clock_mono_ms();
    acme_client_stats(fe.acme, &st);
    http_client_stats(fe.http, &hs);
    getrusage(RUSAGE_SELF, &ru);
    printf("certificates: %u\n", n);
    printf("wall time: %.3f s\n", (t1 - t0) / 1000.0);
    printf("requests: %llu total (%llu newNonce, %llu retries), %.1f per certificate\n",
           (unsigned long long)st.requests, (unsigned long long)st.nonce_heads,
           (unsigned long long)st.retries, (double)st.requests / n);
    printf("connections: %llu\n", (unsigned long long)hs.connections);
    printf("peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
    for (unsigned i = 0; i < n; i++)
        flow_result_clear(&res[i]);
    flow_env_fini(&fe);
    free(reqs);
    free(res);
    free(names);
    free(np);
}

int main(int argc, char **argv)
{
    static unsigned n = 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test_prestate(bench, &n)};

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench_issue ENV-FILE [N]\n");
        return 2;
    }
    setenv("PEBBLE_ENV", argv[1], 1);
    if (argc == 3 && (n = (unsigned)strtoul(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "bench_issue: N must be a positive number\n");
        return 2;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
