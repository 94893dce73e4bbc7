/* Unit tests for net/conn_guard: which connection makes room for a new one. Pure bookkeeping
 * with made-up addresses; socketpairs stand in for connections whose input waits unread. The
 * listeners' use of it is tested in test_http01.c and test_tls_alpn.c. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/conn_guard.h"

#define NCONN 16

struct peer {
    struct sockaddr_storage ss;
};

/* An IPv4 (dotted) or IPv6 (with ':') address with the given port. */
static struct sockaddr *addr(struct peer *p, const char *ip, int port)
{
    memset(p, 0, sizeof *p);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&p->ss;

        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    }
    return (struct sockaddr *)&p->ss;
}

/* Adds e[i] from ip at time now (no socket to peek at); returns what conn_guard_add did. */
static bool add_at(struct conn_guard *g, struct conn_guard_entry *e, int i, const char *ip,
                   uint64_t now)
{
    struct peer p;

    return conn_guard_add(g, &e[i], &e[i], -1, addr(&p, ip, 40000 + i), now);
}

static bool add(struct conn_guard *g, struct conn_guard_entry *e, int i, const char *ip)
{
    return add_at(g, e, i, ip, 0);
}

/* The close callback of the sweeps: records the entry and unlinks it, as a listener does. */
static struct conn_guard *closing_g;
static struct conn_guard_entry *closed[NCONN];
static int nclosed;

static void close_owner(void *owner)
{
    closed[nclosed++] = owner;
    conn_guard_remove(closing_g, owner);
}

static uint64_t sweep(struct conn_guard *g, uint64_t now)
{
    closing_g = g;
    return conn_guard_sweep(g, now, "test", close_owner);
}

static void test_defaults(void **state)
{
    struct conn_guard g;
    struct conn_guard_limits lim = {.max_conns = 3, .idle_ms = 7};

    conn_guard_init(&g, NULL);
    assert_int_equal(g.lim.max_conns, CONN_GUARD_MAX_CONNS);
    assert_int_equal(g.lim.max_idle_per_source, CONN_GUARD_MAX_IDLE_PER_SOURCE);
    assert_int_equal(g.lim.grace_ms, CONN_GUARD_GRACE_MS);
    assert_int_equal(g.lim.idle_ms, CONN_GUARD_IDLE_MS);
    assert_int_equal(g.lim.timeout_ms, CONN_GUARD_TIMEOUT_MS);
    /* What the finding asked for: about 4 per address, 2-3 s to send a request, a cap well
     * above the old 64, and a grace far below the idle deadline. */
    assert_true(CONN_GUARD_MAX_IDLE_PER_SOURCE >= 3 && CONN_GUARD_MAX_IDLE_PER_SOURCE <= 8);
    assert_true(CONN_GUARD_IDLE_MS >= 2000 && CONN_GUARD_IDLE_MS <= 3000);
    assert_true(CONN_GUARD_MAX_CONNS >= 256);
    assert_true(CONN_GUARD_GRACE_MS * 4 <= CONN_GUARD_IDLE_MS);
    conn_guard_set_limits(&g, &lim);
    assert_int_equal(g.lim.max_conns, 3);
    assert_int_equal(g.lim.max_idle_per_source, CONN_GUARD_MAX_IDLE_PER_SOURCE);
    assert_int_equal(g.lim.idle_ms, 7);
    assert_int_equal(g.lim.timeout_ms, CONN_GUARD_TIMEOUT_MS);
    assert_int_equal(conn_guard_count(&g), 0);
    assert_null(conn_guard_first(&g));
}

/* conn_guard_add reports a source over its cap: ports do not matter, other sources and busy
 * connections do not count, and IPv4-mapped IPv6 is the same source as IPv4. */
static void test_source_count(void **state)
{
    struct conn_guard g;
    struct conn_guard_entry e[NCONN] = {0};

    conn_guard_init(&g, NULL);
    assert_false(add(&g, e, 0, "192.0.2.1"));
    assert_false(add(&g, e, 1, "198.51.100.7"));
    assert_false(add(&g, e, 2, "192.0.2.1"));
    assert_false(add(&g, e, 3, "::ffff:192.0.2.1"));
    assert_false(add(&g, e, 4, "192.0.2.1"));
    assert_true(add(&g, e, 5, "::ffff:192.0.2.1"));
    assert_false(add(&g, e, 6, "2001:db8::1"));
    assert_int_equal(conn_guard_count(&g), 7);
    conn_guard_set_stage(&g, &e[0], CONN_GUARD_BUSY);
    conn_guard_set_stage(&g, &e[2], CONN_GUARD_DONE);
    assert_false(add(&g, e, 7, "192.0.2.1"));
    conn_guard_remove(&g, &e[7]);
    conn_guard_remove(&g, &e[7]);
    assert_int_equal(conn_guard_count(&g), 7);
    for (int i = 8; i < 11; i++)
        assert_false(add(&g, e, i, "2001:db8::1"));
    assert_true(add(&g, e, 11, "2001:db8::1"));
    assert_false(add(&g, e, 12, "2001:db8::2"));
}

/* The sweep closes a source's idle connections beyond its newest four, once each has had its
 * grace period, and says when to come back for those still in it. */
static void test_sweep(void **state)
{
    struct conn_guard g;
    struct conn_guard_entry e[NCONN] = {0};

    conn_guard_init(&g, NULL);
    nclosed = 0;
    for (int i = 0; i < 6; i++)
        add_at(&g, e, i, "192.0.2.1", 1000 + (uint64_t)i);
    add_at(&g, e, 6, "192.0.2.2", 1000);
    conn_guard_set_stage(&g, &e[3], CONN_GUARD_BUSY);
    add_at(&g, e, 7, "192.0.2.1", 1010); /* idle from .1: 0 1 2 4 5 7 */
    assert_int_equal(sweep(&g, 1100), CONN_GUARD_GRACE_MS - 100);
    assert_int_equal(nclosed, 0);
    assert_int_equal(sweep(&g, 1000 + CONN_GUARD_GRACE_MS), 1);
    assert_int_equal(nclosed, 1);
    assert_ptr_equal(closed[0], &e[0]);
    assert_int_equal(sweep(&g, 1001 + CONN_GUARD_GRACE_MS), 0);
    assert_int_equal(nclosed, 2);
    assert_ptr_equal(closed[1], &e[1]);
    /* Within the cap nothing more goes, however old. */
    assert_int_equal(sweep(&g, 100000), 0);
    assert_int_equal(nclosed, 2);
    assert_int_equal(conn_guard_count(&g), 6);
    assert_false(add_at(&g, e, 8, "192.0.2.2", 100000));
}

/* An idle connection whose input waits unread is passed over, by the sweep and at the cap,
 * while another candidate has none; if all have input, the cap takes the oldest. End of input
 * is no input. */
static void test_unread_input(void **state)
{
    struct conn_guard_limits lim = {.max_conns = 6, .max_idle_per_source = 2};
    struct conn_guard g;
    struct conn_guard_entry e[NCONN] = {0}, *victim;
    int sp[4][2];
    struct peer p;

    conn_guard_init(&g, &lim);
    nclosed = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]), 0);
        conn_guard_add(&g, &e[i], &e[i], sp[i][0], addr(&p, "192.0.2.1", 1000 + i), 0);
    }
    assert_int_equal(write(sp[0][1], "GET", 3), 3);
    close(sp[1][1]);
    /* 0 and 1 are over the cap; 0 has input, 1 only its end. */
    assert_int_equal(sweep(&g, 1000), CONN_GUARD_GRACE_MS);
    assert_int_equal(nclosed, 1);
    assert_ptr_equal(closed[0], &e[1]);

    /* At the global cap. */
    add(&g, e, 4, "192.0.2.2");
    add(&g, e, 5, "192.0.2.3");
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_ROOM);
    add(&g, e, 6, "192.0.2.4");
    assert_int_equal(conn_guard_count(&g), 6);
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[2]);
    assert_int_equal(write(sp[2][1], "GET", 3), 3);
    assert_int_equal(write(sp[3][1], "GET", 3), 3);
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[4]);
    conn_guard_remove(&g, &e[4]);
    conn_guard_remove(&g, &e[5]);
    conn_guard_remove(&g, &e[6]);
    add(&g, e, 7, "192.0.2.5");
    add(&g, e, 8, "192.0.2.5");
    add(&g, e, 9, "192.0.2.5");
    /* 0, 2 and 3 have input, then 7 8 9 have none: 7 it is. */
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[7]);
    conn_guard_remove(&g, &e[7]);
    conn_guard_remove(&g, &e[8]);
    conn_guard_remove(&g, &e[9]);
    add(&g, e, 10, "192.0.2.6");
    add(&g, e, 11, "192.0.2.6");
    conn_guard_set_stage(&g, &e[10], CONN_GUARD_BUSY);
    conn_guard_set_stage(&g, &e[11], CONN_GUARD_BUSY);
    add(&g, e, 12, "192.0.2.6");
    assert_int_equal(conn_guard_count(&g), 6);
    conn_guard_set_stage(&g, &e[12], CONN_GUARD_BUSY);
    /* Only idle ones with input left: the oldest goes all the same. */
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[0]);
    for (int i = 0; i < 4; i++) {
        close(sp[i][0]);
        if (i != 1)
            close(sp[i][1]);
    }
}

/* At the global cap: the oldest idle connection of any source, else the oldest done one,
 * else refusal. */
static void test_global(void **state)
{
    struct conn_guard_limits lim = {.max_conns = 4};
    struct conn_guard g;
    struct conn_guard_entry e[NCONN] = {0}, *victim = (struct conn_guard_entry *)1;

    conn_guard_init(&g, &lim);
    add(&g, e, 0, "192.0.2.1");
    add(&g, e, 1, "192.0.2.2");
    add(&g, e, 2, "192.0.2.3");
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_ROOM);
    assert_null(victim);
    add(&g, e, 3, "192.0.2.4");
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[0]);

    /* Stage changes make a connection the newest of its stage. */
    conn_guard_set_stage(&g, &e[0], CONN_GUARD_DONE);
    conn_guard_set_stage(&g, &e[1], CONN_GUARD_BUSY);
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[2]);
    conn_guard_set_stage(&g, &e[2], CONN_GUARD_BUSY);
    conn_guard_set_stage(&g, &e[3], CONN_GUARD_DONE);
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[0]);
    conn_guard_set_stage(&g, &e[0], CONN_GUARD_BUSY);
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_EVICT);
    assert_ptr_equal(victim, &e[3]);
    conn_guard_set_stage(&g, &e[3], CONN_GUARD_BUSY);
    assert_int_equal(conn_guard_count(&g), 4);
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_REFUSE);
    assert_null(victim);
    conn_guard_remove(&g, &e[1]);
    assert_int_equal(conn_guard_admit(&g, &victim), CONN_GUARD_ROOM);
    for (int i = 0; i < 4; i++)
        conn_guard_remove(&g, &e[i]);
    assert_null(conn_guard_first(&g));
}

static void test_source_text(void **state)
{
    struct conn_guard g;
    struct conn_guard_entry e[3] = {0};
    char text[64];

    conn_guard_init(&g, NULL);
    add(&g, e, 0, "192.0.2.1");
    add(&g, e, 1, "::ffff:198.51.100.7");
    add(&g, e, 2, "2001:db8::1");
    conn_guard_source_text(&e[0], text, sizeof text);
    assert_string_equal(text, "192.0.2.1");
    conn_guard_source_text(&e[1], text, sizeof text);
    assert_string_equal(text, "198.51.100.7");
    conn_guard_source_text(&e[2], text, sizeof text);
    assert_string_equal(text, "2001:db8::1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_source_count),
        cmocka_unit_test(test_sweep),    cmocka_unit_test(test_unread_input),
        cmocka_unit_test(test_global),   cmocka_unit_test(test_source_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
