/* etcd_env: the environment file the etcd fixture writes (tests/etcd/fixture.sh).
 *
 * Tests that need the three-member cluster get ETCD_ENV, the path of a file of KEY=VALUE lines
 * (ETCD_ENDPOINTS, ETCD_URL_1..3, ETCD_PID_1..3, ETCD_DIR). Values live in static storage. */
#ifndef ACMED_TESTS_ETCD_ENV_H
#define ACMED_TESTS_ETCD_ENV_H

/* The value of `key`. Fails the running cmocka test with a message naming the key and the
 * file when the file cannot be read or lacks the key. The file is read once. Borrowed. */
const char *ee_get(const char *key);

#endif
