/* tu_store: the store tests' fixture (see tu_store.h). */
#include "common/tu_store.h"

#include <stdlib.h>

#include "common/testutil.h"

int tu_store_setup(void **state)
{
    struct tu_store *f = calloc(1, sizeof *f);
    struct err e;

    if (!f || !(f->root = tu_mkdtemp("store")) || store_open(f->root, &f->st, &e) < 0) {
        if (f)
            free(f->root);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int tu_store_teardown(void **state)
{
    struct tu_store *f = *state;

    store_close(&f->st);
    tu_rmtree(f->root);
    free(f->root);
    free(f);
    return 0;
}
