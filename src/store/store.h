/* store: the state directory of DESIGN.md §2 (acmetool's layout): paths, ids, modes, and the
 * safe reads and writes of accounts, keys, certificates, live links and reconciler state.
 *
 * Every write is atomic (util/fsio). Directories accounts/, keys/, state/ are 0700 and files
 * in them 0600; everything else 0755/0644, whatever the umask. Symlinks are relative and never
 * leave the state directory: a link found pointing outside (or anything else unexpected, like
 * a world-writable directory) is refused with an error naming the path, never followed.
 * No network and no policy here. */
#ifndef ACMED_STORE_STORE_H
#define ACMED_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto/key.h"
#include "util/err.h"

#define STORE_ID_LEN 52 /* key-id and cert-id: lowercase unpadded base32 of SHA-256 */

struct store {
    char *root;   /* absolute path of the state directory */
    int lock_fd;  /* -1 unless store_lock succeeded */
    time_t swept; /* the lock holder's last full sweep of temp files (store_lock) */
};

/* ---- ids (acmetool's, exactly) ---- */

/* The dir-id of a directory URL: the URL without "https://", query-escaped with lowercase hex
 * escapes ("127.0.0.1%3a14000%2fdir", "acme-v02.api.letsencrypt.org%2fdirectory"), with
 * acmetool's rules for a bare "/" path and "http:" URLs. Caller frees; NULL with e set for a
 * URL that is not http(s). */
char *store_dir_id(const char *directory_url, struct err *e);

/* cert-id: base32 of SHA-256 of the order URL. out holds STORE_ID_LEN + 1 bytes. */
void store_cert_id(const char *order_url, char *out);

/* True when s is exactly a 52-character lowercase base32 id (safe as a path component). */
bool store_id_valid(const char *s);

/* True when s is exactly 64 lowercase hex digits (a SHA-256: a CSR's, served/<sha256>). */
bool store_sha256_valid(const char *s);

/* ---- opening ---- */

/* Opens (creating when missing) the state directory `root` and its subdirectories desired/,
 * conf/, accounts/, keys/, certs/, live/, state/, tmp/ with the modes above; existing ones
 * keep their modes but a world-writable one is refused. Does not lock. Returns 0 or negative;
 * st is filled (store_close releases it). */
int store_open(const char *root, struct store *st, struct err *e);

/* Takes the reconciler lock (util/lock) and removes stale ".tmp-*" files left by a crash: in
 * the top-level directories of the layout always; also in every accounts/<dir>/<key>,
 * keys/<id> and certs/<id> unless the previous lock holder closed cleanly (store_close) and
 * the last such full sweep is less than a day old. -EWOULDBLOCK naming the holder's pid when
 * someone holds it. */
int store_lock(struct store *st, struct err *e);

/* Releases the lock (leaving the mark of a clean end for the next holder's store_lock, when
 * held) and what st holds. st may be NULL. */
void store_close(struct store *st);

/* ---- ownership: who may write where acmed takes its orders from ---- */

/* When running as root (effective uid 0), logs a loud warning (log_warn, "SECURITY: ...")
 * naming the path, owner and mode for each of the state directory (and, through
 * util/trust, what leads to it), desired/, conf/, conf/target, conf/acmed.yaml and every
 * regular file in desired/ that is not owned by root or is writable by group or others:
 * write access there is root-equivalent. Missing paths are skipped. Never refuses
 * (acmetool's directories keep working). Returns the number of warnings; 0 when not root. */
unsigned store_check_ownership(const char *root);

/* The rule for configuration that names a command acmed runs on the operator's behalf
 * (hooks come from hook directories, not from here; the exec signers of DESIGN.md §10): such a
 * setting is accepted only from root/rel, never from a desired file, and only when root/rel is
 * trusted as util/trust says (it and every directory up to / owned by root or our effective uid,
 * none writable by group or others). Returns 0 when it is; -EPERM with e naming the file and why
 * otherwise, or the error met examining it (-ENOENT...). */
int store_conf_trusted(const char *root, const char *rel, struct err *e);

/* Joins root and a relative path. Caller frees (NULL on allocation failure). */
char *store_path(const struct store *st, const char *rel);

/* ---- accounts: accounts/<dir-id>/<key-id>/{privkey,meta} ---- */

struct store_account {
    char *dir_id;
    char key_id[STORE_ID_LEN + 1];
    struct ckey *key;
    char *url;      /* account URL from meta, NULL when unknown (acmetool has no meta) */
    char **contact; /* from meta */
    size_t ncontact;
    char *eab_kid;  /* from meta; NULL when none */
    time_t created; /* from meta; 0 when unknown */
    /* An account whose key lives in a signer (DESIGN.md §10) has no privkey: key stays NULL,
     * and meta names the signer, the RFC 7638 thumbprint of its key (the key-id is the
     * base32 of it: store_signer_key_id) and its public JWK. All NULL for a key file. */
    char *signer;     /* "unix:/run/acme/S.signer" or "exec: ssh -T host ..." */
    char *thumbprint; /* base64url */
    char *jwk;        /* JSON text; NULL when the signer gave only a kid */
};

/* Loads every account key under accounts/<dir-id>/ for `directory_url` (*out an array of
 * *n, caller frees with store_accounts_free), oldest first (by meta's created; acmetool's
 * accounts, without meta, count as oldest), then by key id. A key that does not parse (or
 * whose id is not its directory's name) is skipped with a warning naming the file. Returns 0
 * or negative. */
int store_accounts_load(const struct store *st, const char *directory_url,
                        struct store_account **out, size_t *n, struct err *e);
void store_accounts_free(struct store_account *a, size_t n);
/* Frees what one account holds (key, strings) and zeroes it, leaving *a itself to the caller
 * (for a struct filled by hand and passed to store_account_save_key). a may be NULL. */
void store_account_clear(struct store_account *a);

/* Loads accounts/<dir_id>/<key_id>/ into *a (store_account_clear): its privkey, whose id must
 * be key_id (-EINVAL with e otherwise, as for an unparseable key), then its meta (missing:
 * fields left empty; malformed: warned about and ignored). -EINVAL for an invalid dir_id or
 * key_id; -ENOENT when there is no privkey. */
int store_account_load(const struct store *st, const char *dir_id, const char *key_id,
                       struct store_account *a, struct err *e);
/* The same without the key (a->key stays NULL): what `account list` shows of an account
 * whose key may not even parse. Returns 0 even when meta is missing or malformed. */
int store_account_read_meta(const struct store *st, const char *dir_id, const char *key_id,
                            struct store_account *a, struct err *e);

/* The account rule, one for the reconciler and the CLI (DESIGN.md §3: one account per
 * provider and EAB kid). Among v[0..n), in store_accounts_load's order (oldest first), the
 * first whose eab_kid equals `eab_kid`: NULL matches only accounts registered without an
 * external account binding, a kid only accounts bound with that same kid. An account bound
 * to another kid, or to none, is never taken instead (an EAB binding ties the account to an
 * agreement with the CA): the reconciler registers a new account, the CLI reports none.
 * Returns the index, or -1 when no account matches. */
long store_account_pick(const struct store_account *v, size_t n, const char *eab_kid);
/* Accounts held by a signer are never picked by this rule: they belong to targets naming
 * that signer, matched by key (store_account_find_signer). */

/* The key-id of an account held by a signer: base32 of its key's RFC 7638 thumbprint
 * (base64url, 32 bytes decoded) into out (STORE_ID_LEN + 1). Returns 0, or -EINVAL. */
int store_signer_key_id(const char *thumbprint, char *out, struct err *e);

/* Records an account held by a signer: a->signer and a->thumbprint set (a->jwk, url, contact,
 * eab_kid, created as known). Sets a->dir_id and a->key_id, creates
 * accounts/<dir-id>/<key-id>/ (0700) and writes its meta; no privkey is ever written.
 * Returns 0 or negative with e set. */
int store_account_save_signer(const struct store *st, const char *directory_url,
                              struct store_account *a, struct err *e);

/* The account held by a signer whose key has `thumbprint`, at directory_url: moved into *out
 * and *found set, or *found false. Returns 0 or negative with e set. */
int store_account_find_signer(const struct store *st, const char *directory_url,
                              const char *thumbprint, struct store_account *out, bool *found,
                              struct err *e);

/* store_accounts_load for `directory_url`, then store_account_pick for `eab_kid`: the chosen
 * account is moved into *out (release with store_account_clear) and *found set; *found false
 * and *out untouched when none matches. Returns 0 or negative with e set. */
int store_account_find(const struct store *st, const char *directory_url, const char *eab_kid,
                       struct store_account *out, bool *found, struct err *e);

/* One account directory, as store_accounts_list finds it. */
struct store_account_ref {
    char *dir_id;
    char key_id[STORE_ID_LEN + 1];
    bool deactivated; /* moved aside as accounts/<dir-id>/.deactivated-<key-id> */
};

#define STORE_ACCOUNT_DEACTIVATED_PREFIX ".deactivated-"

/* Every account directory accounts/<dir-id>/<key-id>/ (only those of `dir_id` when it is not
 * NULL), sorted by dir-id then key-id, without reading them. Only real directories count
 * (symlinks are never descended into) whose key-id is a valid id; dir-ids starting with '.'
 * are skipped. With `with_deactivated`, moved-aside accounts are listed too, their key_id
 * without the prefix. A missing accounts/ gives none. *out is released with
 * store_account_refs_free. Returns 0 or negative. */
int store_accounts_list(const struct store *st, const char *dir_id, bool with_deactivated,
                        struct store_account_ref **out, size_t *n, struct err *e);
void store_account_refs_free(struct store_account_ref *v, size_t n);

/* Removes accounts/<dir_id>/<key_id>/ (its privkey and meta) without following a symlink;
 * anything else inside makes the removal fail (-ENOTEMPTY) rather than be removed blindly,
 * and a privkey or meta that is not a regular file is refused (-EINVAL). */
int store_account_remove(const struct store *st, const char *dir_id, const char *key_id,
                         struct err *e);

/* Moves accounts/<dir_id>/<key_id>/ aside to accounts/<dir_id>/.deactivated-<key_id>, where
 * nothing looks for accounts, keeping its key; the directory is fsynced. */
int store_account_set_aside(const struct store *st, const char *dir_id, const char *key_id,
                            struct err *e);

/* Saves a new account key (privkey, never overwriting an existing file) and its meta. The
 * directory accounts/<dir-id>/<key-id>/ is created 0700. a->key_id is set from the key. */
int store_account_save_key(const struct store *st, const char *directory_url,
                           struct store_account *a, struct err *e);
/* Writes (replaces) meta: {"url","contact","eab_kid","created"}. */
int store_account_save_meta(const struct store *st, const struct store_account *a, struct err *e);

/* ---- keys: keys/<key-id>/privkey ---- */

/* Saves a certificate key under its id (0600, atomic). An existing key file with that id is
 * left untouched (keys are never rewritten). id_out holds STORE_ID_LEN + 1. */
int store_key_save(const struct store *st, const struct ckey *key, char *id_out, struct err *e);
/* Loads keys/<id>/privkey. -ENOENT when missing. */
int store_key_load(const struct store *st, const char *id, struct ckey **out, struct err *e);

/* ---- certificates: certs/<cert-id>/ ---- */

struct store_cert {
    char id[STORE_ID_LEN + 1];
    char **names; /* DNS names and IP addresses of the leaf */
    size_t nnames;
    time_t not_before, not_after;
    char *serial_hex;
    char *ari_cert_id;             /* RFC 9773 certID of the leaf, NULL when it has no AKI */
    char key_id[STORE_ID_LEN + 1]; /* from the privkey link; "" when absent, leaving keys/,
                                    * or not the leaf's key (key_is_rsa/key_size then 0) */
    bool key_is_rsa;               /* key type of the leaf's public key */
    int key_size;
    char *order_url;      /* the `url` file */
    bool revoke_asked;    /* marker `revoke` */
    bool revoked;         /* marker `revoked` */
    char *account_dir_id; /* dir-id of the `account` link (accounts/<dir-id>/<key-id>), NULL
                           * when there is none or it leads elsewhere */
    /* meta (ours; absent for acmetool certificates) */
    char *directory;            /* directory URL of the CA that issued it, NULL when unknown
                                 * (acmetool's certificates, and ours from before it was kept) */
    time_t ari_start, ari_end;  /* suggested window, 0 when unknown */
    time_t ari_chosen;          /* chosen renewal time inside it, 0 when none */
    time_t ari_next_check;      /* when to fetch renewalInfo again, 0 when unknown */
    char *replaces;             /* certID this one replaced, NULL */
    char *replaces_dropped;     /* certID its order left out of `replaces` because the CA refused
                                 * the field, NULL */
    char *replaces_dropped_why; /* that refusal (the CA's problem, sanitised), NULL */
    char *csr; /* SHA-256 (hex) of the CSR it was issued for when the key is not ours
                * (request.csr, sign-csr, serve: DESIGN.md §11), NULL otherwise */
};

/* Loads every certificate under certs/ whose `cert` parses (others are skipped with a
 * warning naming the directory). Names, dates, serial and key come from the certificate
 * itself; the rest from the files listed above. Reads through state/certs.cache
 * (store_certs_cache.c) without writing it. Returns 0 or negative. */
int store_certs_load(const struct store *st, struct store_cert **out, size_t *n, struct err *e);
/* store_certs_load through state/certs.cache: what a certificate's cert, url and meta files, its
 * key file and its directory's entries (links, markers) gave is taken from the cache while
 * that file or directory is exactly as the entry describes it (device, inode, size, mtime and
 * ctime in nanoseconds), and read again otherwise. The result is the same as without the
 * cache. save: write the cache back when what was gathered differs from it; only for the
 * holder of the lock (reading needs none). */
int store_certs_load_cached(const struct store *st, bool save, struct store_cert **out, size_t *n,
                            struct err *e);
void store_certs_free(struct store_cert *c, size_t n);
/* Frees what one certificate holds and zeroes it, leaving *c itself to the caller (for a
 * struct filled by store_cert_install). c may be NULL. */
void store_cert_clear(struct store_cert *c);

/* Installs a downloaded chain (PEM, leaf first) as certs/<cert-id>/ for `order_url`: cert
 * (leaf), chain (the rest), fullchain (all), url, privkey -> ../../keys/<key-id>/privkey,
 * account -> ../../accounts/<dir-id>/<account-key-id>, then meta (from `meta`, whose id,
 * names, dates and serial are recomputed from the chain; directory, ARI fields, replaces and
 * replaces_dropped/_why are taken from it). Each file is written atomically;
 * the directory is complete once `cert` exists, which is written last. Fills *out (may be
 * NULL; release with store_cert_clear). keys/<key_id>/privkey must already be saved and be
 * the leaf's key (-EINVAL otherwise; nothing is written). key_id NULL: a certificate for
 * someone else's key (meta->csr must then be set, and the caller has checked the leaf against
 * that CSR): no privkey link. account_dir_id NULL: no account link. meta may be NULL. */
int store_cert_install(const struct store *st, const char *order_url, const char *chain_pem,
                       size_t chain_len, const char *key_id, const char *account_dir_id,
                       const char *account_key_id, const struct store_cert *meta,
                       struct store_cert *out, struct err *e);

/* Rewrites certs/<id>/meta from c (directory, ARI fields, replaces, replaces_dropped). */
int store_cert_save_meta(const struct store *st, const struct store_cert *c, struct err *e);

/* Sets (create) or clears the marker file certs/<id>/<marker> ("revoke", "revoked"). */
int store_cert_mark(const struct store *st, const char *id, const char *marker, bool on,
                    struct err *e);

/* Asks for the certificate's revocation: writes certs/<id>/revoke holding the RFC 5280
 * reason code `reason` and a newline (atomically, replacing an earlier request), which the
 * reconciler acts on. -ENOENT when certs/<id> is not a real directory; -EINVAL for an
 * invalid id or a negative reason. */
int store_cert_ask_revoke(const struct store *st, const char *id, int reason, struct err *e);

/* Removes certs/<id>/ entirely. */
int store_cert_remove(const struct store *st, const char *id, struct err *e);

/* ---- what certs/, keys/ and state/ hold, for `acmed cull` (store_cull.c) ---- */

/* The entries of certs/ (store_cert_ids) or keys/ (store_key_ids) named by a valid id,
 * whatever they are (a directory, or something unexpected that removal will refuse), sorted.
 * A missing directory has none. Free with store_ids_free. Returns 0 or negative. */
int store_cert_ids(const struct store *st, char ***ids, size_t *n, struct err *e);
int store_key_ids(const struct store *st, char ***ids, size_t *n, struct err *e);
void store_ids_free(char **ids, size_t n);

/* The key certs/<cert_id>/privkey links to, read from the link itself (a directory
 * store_certs_load skips still names its key): 0 with the id in key_id (STORE_ID_LEN + 1);
 * -ENOENT when there is no such link; -EXDEV, with e quoting the link, when it is not
 * "../../keys/<key-id>/privkey"; -EINVAL for an invalid cert_id. */
int store_cert_key_link(const struct store *st, const char *cert_id, char *key_id, struct err *e);

/* Removes keys/<id>/ and its privkey, then fsyncs keys/. Anything unexpected there (a
 * symlink, another file, keys/<id> not a directory) is refused (-EINVAL) before anything
 * is removed. -EINVAL for an invalid id. */
int store_key_remove(const struct store *st, const char *id, struct err *e);

/* The reconciler state files: the <file> of every regular file state/<file>.json (not a
 * symlink), sorted, as store_state_read takes them. Free with store_ids_free. */
int store_state_files(const struct store *st, char ***files, size_t *n, struct err *e);

/* ---- live links: live/<hostname>[:<label>] -> ../certs/<cert-id> ---- */

/* Points live/<name> (name already validated) at certs/<cert_id>, atomically (a new link
 * renamed over the old). *changed is set when the link did not already point there. */
int store_live_set(const struct store *st, const char *name, const char *cert_id, bool *changed,
                   struct err *e);
/* The cert-id live/<name> points at (out: STORE_ID_LEN + 1), -ENOENT when there is no link,
 * -EXDEV for a link that leaves certs/ (refused). */
int store_live_get(const struct store *st, const char *name, char *out, struct err *e);
/* The cert-id named by `target`, the text of a live/ link (borrowed, NUL-terminated): it must
 * lead lexically from live/ to certs/<cert-id>. Copies the id to out (STORE_ID_LEN + 1) and
 * returns 0; -EXDEV for any other target (absolute, climbing out, elsewhere); -ENOMEM. Looks
 * at no file: store_live_get also checks that certs/<cert-id> is not itself a link. */
int store_live_target_id(const char *target, char *out);
/* Removes live/<name>. Missing is not an error. */
int store_live_remove(const struct store *st, const char *name, struct err *e);
/* Every live/ entry name. Caller frees each and the array. */
int store_live_list(const struct store *st, char ***names, size_t *n, struct err *e);

/* ---- acmed serve's cache: served/<sha256 of the CSR's DER> -> ../certs/<cert-id> ---- */

/* Points served/<sha> at certs/<cert_id> (which must exist), atomically. */
int store_served_set(const struct store *st, const char *sha, const char *cert_id, struct err *e);
/* The cert-id served/<sha> names (out: STORE_ID_LEN + 1); -ENOENT when none, -EXDEV for a link
 * that leads anywhere but certs/<id>. */
int store_served_get(const struct store *st, const char *sha, char *out, struct err *e);
/* The full chain (PEM, leaf first; *pem caller-freed, *len) and the leaf's notAfter of the
 * certificate served/<sha> names. -ENOENT when there is none, or it was removed or marked
 * for or as revoked; other errors with e set. */
int store_served_chain(const struct store *st, const char *sha, char **pem, size_t *len,
                       time_t *not_after, struct err *e);

/* ---- reconciler state: state/<desired-file>.json (0600) ---- */

/* Reads state/<file>.json as JSON text (caller frees), -ENOENT when there is none. */
int store_state_read(const struct store *st, const char *file, char **json, struct err *e);
/* Atomically writes state/<file>.json. */
int store_state_write(const struct store *st, const char *file, const char *json, struct err *e);
int store_state_remove(const struct store *st, const char *file, struct err *e);

#endif
