/* conf_cluster: conf/acmed.yaml's `cluster:`, the settings of fleet mode on etcd (DESIGN.md
 * §12, issue 16). Only the configuration so far: nothing else of fleet mode reads it yet.
 *
 *     cluster:
 *       etcd:
 *         endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379]   # at least one
 *         prefix: /acmed/          # default; starts and ends with '/'
 *         ca-bundle: /etc/acme/etcd-ca.pem      # absolute paths
 *         cert: /etc/acme/etcd-client.pem       # cert and key: both or neither
 *         key: /etc/acme/etcd-client.key
 *         user: acmed                           # user and password-file: both or neither
 *         password-file: /etc/acme/etcd-password
 *       node: web1                 # default: the hostname
 *       secret-file: /etc/acme/cluster.key      # required: 32 random bytes (crypto/seal_key.h)
 *
 * A key this file does not know, anywhere under `cluster:`, is an error (not a warning: a
 * misspelt secret-file or cert must not pass unnoticed), and so is `cluster:` with no value.
 * Errors name the file, line and column and the key's path ("cluster.etcd.endpoints"). */
#ifndef ACMED_STORE_CONF_CLUSTER_H
#define ACMED_STORE_CONF_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "store/ynode.h"
#include "util/err.h"

/* Longest node name (cluster.node), and of its default, the hostname. */
#define CONF_CLUSTER_NODE_MAX 64
/* The default of cluster.etcd.prefix. */
#define CONF_CLUSTER_PREFIX "/acmed/"

struct acmed_cluster {
    char **endpoints;    /* at least one "http[s]://host[:port]", each once, no trailing '/' */
    size_t nendpoints;   /* >= 1 */
    char *prefix;        /* CONF_CLUSTER_PREFIX unless set */
    char *ca_bundle;     /* NULL: the system's trust store */
    char *cert, *key;    /* client certificate and its key; both NULL or both set */
    char *user;          /* etcd user; NULL or set together with password_file */
    char *password_file; /* the user's password, read when connecting */
    char *node;          /* this node's name: the hostname unless set */
    char *secret_file;   /* always set: the 32 bytes values are sealed with */
};

/* Reads `cluster:`'s value v (a node of conf/acmed.yaml, present in the file) into *out
 * (caller frees with conf_cluster_free). allow_insecure is the file's allow-insecure-http:
 * without it, a plain http endpoint must be a loopback address literal (net/url_policy.h).
 * Returns 0, or -EINVAL (-ENOMEM) with e naming file, line, column and key path; *out is then
 * NULL. */
int conf_cluster_parse(const struct ynode *v, bool allow_insecure, struct acmed_cluster **out,
                       struct err *e);

/* Frees c and everything in it. c may be NULL. */
void conf_cluster_free(struct acmed_cluster *c);

/* True when s is a node name: 1 to CONF_CLUSTER_NODE_MAX letters, digits, '.', '-' and '_'
 * (it goes into etcd keys and log lines). */
bool conf_cluster_node_ok(const char *s);

#endif
