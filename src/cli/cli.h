/* cli: the command line of DESIGN.md §7: global options, then one command. Each command is a
 * module (cmd_*.c) returning the process exit code. */
#ifndef ACMED_CLI_CLI_H
#define ACMED_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_CRITICAL = 3, EXIT_LOCKED = 4 };

/* How many --contact options one command takes. */
#define CLI_MAX_CONTACTS 16

struct cli {
    const char *state_dir; /* --state, ACME_STATE_DIR, /var/lib/acme */
    const char *hooks_dir; /* --hooks, ACME_HOOKS_DIR; NULL: the default directories */
    const char *ca_bundle; /* --ca-bundle, ACMED_CA_BUNDLE; NULL: the system's */
    const char *provider;  /* --provider, ACMED_PROVIDER; NULL: Let's Encrypt */
    bool agree_tos;
    int verbose;
    /* command options */
    bool force;                            /* reconcile --force */
    bool no_reconcile;                     /* want --no-reconcile */
    bool apex;                             /* want --apex */
    bool json;                             /* status --json */
    const char *reason;                    /* revoke --reason */
    bool dry_run;                          /* cull -n */
    const char *out;                       /* sign-csr --out */
    const char *contact[CLI_MAX_CONTACTS]; /* account new --contact, in order */
    size_t ncontact;
    char **args; /* positional arguments after the command */
    size_t nargs;
};

int cmd_reconcile(const struct cli *c);
int cmd_daemon(const struct cli *c);
int cmd_want(const struct cli *c);
int cmd_unwant(const struct cli *c);
int cmd_status(const struct cli *c);
int cmd_revoke(const struct cli *c);
int cmd_cull(const struct cli *c);
int cmd_account(const struct cli *c);
int cmd_sign_csr(const struct cli *c);
int cmd_serve(const struct cli *c);
int cmd_cluster(const struct cli *c);

/* `acmed [-v] signer ...` parses its own options (argv[0] is "signer"); verbose counts the
 * -v given before it. Returns the exit code. */
int cmd_signer(int argc, char **argv, int verbose);

/* Runs a reconcile pass with the global options (used by want, unwant, revoke). */
int cli_reconcile(const struct cli *c, bool force);

struct rec_opts;
/* The reconciler's options from the global options; hooks (one slot, the caller's) holds
 * --hooks. */
struct rec_opts cli_rec_opts(const struct cli *c, const char **hooks);
/* Runs one pass with o (privilege separation as configured, SIGTERM/SIGINT handled as
 * --once does) and returns its exit code; a usage error or a held lock is logged. */
int cli_run_pass(struct rec_opts *o);

#endif
