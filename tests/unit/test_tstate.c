/* Unit tests for reconcile/tstate: the per-target checkpoint survives a save and a load, and
 * a dropped `replaces` belongs to the renewal, not to one order (so a crash between the
 * refused newOrder and the one without `replaces` cannot send it again). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "common/tu_store.h"
#include "reconcile/tstate.h"
#include "util/fsio.h"

/* The fixture: an empty state directory (tests/common/tu_store.h). */

static void test_round_trip(void **state)
{
    struct tu_store *f = *state;
    struct tstate ts = {0}, back;
    struct err e;

    assert_int_equal(tstate_load(&f->st, "t", &back, &e), 0); /* none yet: empty */
    assert_null(back.replaces_dropped);
    tstate_set(&ts.order_url, "https://ca.test/order/1");
    tstate_set(&ts.replaces_dropped, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    tstate_set_text(&ts.replaces_dropped_why,
                    "urn:ietf:params:acme:error:alreadyReplaced (409): gone\n\033[31m");
    ts.failures = 2;
    assert_int_equal(tstate_save(&f->st, "t", &ts, &e), 0);
    assert_int_equal(tstate_load(&f->st, "t", &back, &e), 0);
    assert_string_equal(back.order_url, "https://ca.test/order/1");
    assert_string_equal(back.replaces_dropped, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert_string_equal(back.replaces_dropped_why,
                        "urn:ietf:params:acme:error:alreadyReplaced (409): gone??[31m");
    assert_int_equal(back.failures, 2);
    tstate_free(&back);

    /* A new order for the same renewal keeps the drop; the order's own fields go. */
    tstate_set(&ts.replaces, "x.y");
    tstate_clear_order(&ts);
    assert_null(ts.order_url);
    assert_null(ts.replaces);
    assert_string_equal(ts.replaces_dropped, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    assert_non_null(ts.replaces_dropped_why);
    tstate_free(&ts);
    assert_null(ts.replaces_dropped);
}

/* The step reached is not saved (the order's status decides on resume), and a file from an
 * earlier version that has one loads with its order. */
static void test_no_step(void **state)
{
    struct tu_store *f = *state;
    struct tstate ts = {0}, back;
    char *text = NULL;
    struct err e;

    tstate_set(&ts.order_url, "https://ca.test/order/1");
    assert_int_equal(tstate_save(&f->st, "t", &ts, &e), 0);
    assert_int_equal(store_state_read(&f->st, "t", &text, &e), 0);
    assert_null(strstr(text, "\"step\""));
    assert_non_null(strstr(text, "\"order_url\""));
    free(text);
    tstate_free(&ts);
    assert_int_equal(store_state_write(&f->st, "t",
                                       "{\"step\": \"authorize\", \"order_url\": \"https://o/1\"}",
                                       &e),
                     0);
    assert_int_equal(tstate_load(&f->st, "t", &back, &e), 0);
    assert_string_equal(back.order_url, "https://o/1");
    tstate_free(&back);
}

/* A state file written (or edited) with control characters in the refusal: read back clean. */
static void test_load_sanitises(void **state)
{
    struct tu_store *f = *state;
    struct tstate back;
    struct err e;

    assert_int_equal(store_state_write(&f->st, "u",
                                       "{\"replaces_dropped\": \"a.b\", "
                                       "\"replaces_dropped_why\": \"x\\u001b]0;t\\u0007y\"}",
                                       &e),
                     0);
    assert_int_equal(tstate_load(&f->st, "u", &back, &e), 0);
    assert_string_equal(back.replaces_dropped, "a.b");
    assert_string_equal(back.replaces_dropped_why, "x?]0;t?y");
    tstate_free(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_no_step, tu_store_setup, tu_store_teardown),
        cmocka_unit_test_setup_teardown(test_load_sanitises, tu_store_setup, tu_store_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
