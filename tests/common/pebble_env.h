/* pebble_env: the environment file the Pebble fixture writes (tests/pebble/fixture.sh).
 *
 * Integration tests get PEBBLE_ENV, the path of a file of KEY=VALUE lines (PEBBLE_DIRECTORY,
 * PEBBLE_MGMT, PEBBLE_CA, PEBBLE_HTTP_PORT, PEBBLE_TLS_PORT, CHALLTESTSRV_MGMT,
 * CHALLTESTSRV_DNS, ...). Values live in static storage: nothing to free. */
#ifndef ACMED_TESTS_PEBBLE_ENV_H
#define ACMED_TESTS_PEBBLE_ENV_H

/* Reads the file named by $PEBBLE_ENV (once; later calls return the cached result). Returns 0,
 * or -1 after printing to stderr why (variable unset, file unreadable, malformed line). */
int pe_load(void);

/* The value of `key`, or NULL when the file lacks it or cannot be loaded. Borrowed. */
const char *pe_find(const char *key);

/* The value of `key`. Fails the running cmocka test with a message naming the key and the
 * file when the file cannot be loaded or lacks the key. Borrowed. */
const char *pe_get(const char *key);

#endif
