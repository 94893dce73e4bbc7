/* tu_store: the fixture of the store's unit tests: a fresh, empty state directory opened with
 * store_open, removed afterwards. */
#ifndef ACMED_TESTS_TU_STORE_H
#define ACMED_TESTS_TU_STORE_H

#include "store/store.h"

struct tu_store {
    char *root; /* the temporary state directory */
    struct store st;
};

/* cmocka setup: *state becomes a struct tu_store over a new temporary directory. */
int tu_store_setup(void **state);

/* cmocka teardown: closes the store and removes its directory. */
int tu_store_teardown(void **state);

#endif
