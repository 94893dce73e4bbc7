/* acmed: entry point. Parses the command line (DESIGN.md §7) and dispatches to a command.
 *
 * Options may come before or after the command. Anything unknown is a usage error (exit 2)
 * naming it, so --help never promises what the program cannot do. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/worker.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/proc.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: acmed [options] [COMMAND [ARGS]]\n"
            "\n"
            "acmed obtains and renews certificates over ACME (RFC 8555) for the targets\n"
            "described in the state directory's desired/ files (acmetool-compatible).\n"
            "\n"
            "With no command acmed runs as a daemon in the foreground (systemd Type=notify):\n"
            "it reconciles at start, whenever a certificate or a retry is due, at least every\n"
            "interval (conf/acmed.yaml, default an hour), and within a second of a change in\n"
            "desired/ or conf/. SIGHUP reloads, SIGUSR1 reconciles now, SIGTERM stops\n"
            "(steps in flight reach a checkpoint, 10 s at most; a second SIGTERM: at once).\n"
            "In fleet mode (conf/acmed.yaml cluster:) the targets are the fleet's, in etcd,\n"
            "and only the daemon runs passes (--once and reconcile exit 2).\n"
            "\n"
            "Started as root, acmed talks to the CA through an unprivileged worker process\n"
            "that holds no key (conf/acmed.yaml user:, default acmed, else nobody; privsep:\n"
            "false keeps one process; see acmed(8), PROCESSES).\n"
            "\n"
            "commands:\n"
            "  --once, reconcile [--force]   one pass: issue and renew what is due, then exit\n"
            "                                (--force ignores failure backoff, never the CA's\n"
            "                                Retry-After)\n"
            "  want [--no-reconcile] [--apex] NAME...  write desired/<first NAME> for the\n"
            "                                names, then reconcile unless another reconciler\n"
            "                                runs (--apex: www.NAME also wants NAME)\n"
            "  unwant NAME...                drop the names from every target\n"
            "  status [--json]               targets, certificates, next renewal, errors\n"
            "  revoke CERT-ID|NAME [--reason R]  revoke (R: unspecified, keyCompromise,\n"
            "                                superseded, cessationOfOperation or a number)\n"
            "  cull [-n]                     remove expired certificates no live link uses\n"
            "                                and keys no certificate uses (-n: only list)\n"
            "  account list|thumbprint|new|rollover|deactivate  manage ACME accounts\n"
            "  account new [--contact URI]...  register one (default contact: conf/target's\n"
            "                                request.account.contact)\n"
            "  sign-csr FILE [--out FILE]    order a certificate for the names of a CSR (PEM\n"
            "                                or DER; its key stays with its owner) and write\n"
            "                                the chain, leaf first, to FILE or stdout\n"
            "  cluster import|targets        fleet mode on etcd (conf/acmed.yaml cluster:; the\n"
            "                                daemon shares targets, locks and certificates with\n"
            "                                the other nodes; see acmed(8), FLEET MODE): copy\n"
            "                                desired/ into etcd; list the fleet's targets\n"
            "  serve\n"
            "                                the daemon plus a certificate server for a fleet\n"
            "                                (conf/serve.yaml): POST /sign with a CSR, get\n"
            "                                the chain (acme-mgmtserver's protocol)\n"
            "  signer --key FILE (--socket PATH | --stdio) [--allow-url PREFIX]...\n"
            "         [--allow-name GLOB]... [--allow-account-change] [--kid URL]\n"
            "                                hold an account key and sign for clients of\n"
            "                                lacme-accountd's protocol (see acmed(8))\n"
            "\n"

            "options:\n"
            "  --state DIR        state directory (ACME_STATE_DIR; default /var/lib/acme)\n"
            "  --hooks DIR        hook directory (ACME_HOOKS_DIR; default /etc/acme/hooks,\n"
            "                     /usr/libexec/acme/hooks, /usr/lib/acme/hooks)\n"
            "  --ca-bundle FILE   CAs trusted for the ACME server (ACMED_CA_BUNDLE; default\n"
            "                     the system's)\n"
            "  --provider URL     default ACME directory URL or alias letsencrypt,\n"
            "                     letsencrypt-staging (ACMED_PROVIDER; default letsencrypt)\n"
            "  --agree-tos        agree to the CA's terms of service\n"
            "  -v, --verbose      debug logging\n"
            "  --version          print \"acmed <version>\" and exit\n"
            "  -h, --help         print this help and exit\n"
            "\n"
            "exit codes: 0 all satisfied, 1 some target failed, 2 usage or configuration\n"
            "error, 3 a certificate in its critical window could not be renewed, 4 the state\n"
            "directory is locked by another reconciler.\n");
}

enum {
    O_STATE = 256,
    O_HOOKS,
    O_CA,
    O_PROVIDER,
    O_AGREE,
    O_VERSION,
    O_ONCE,
    O_FORCE,
    O_NOREC,
    O_JSON,
    O_REASON,
    O_CONTACT,
    O_APEX,
    O_OUT
};

static const struct {
    const char *name;
    int (*run)(const struct cli *c);
} commands[] = {
    {"reconcile", cmd_reconcile}, {"want", cmd_want},         {"unwant", cmd_unwant},
    {"status", cmd_status},       {"revoke", cmd_revoke},     {"cull", cmd_cull},
    {"account", cmd_account},     {"sign-csr", cmd_sign_csr}, {"serve", cmd_serve},
    {"cluster", cmd_cluster},
};

/* Which command-specific options a command accepts. */
static bool option_allowed(const char *cmd, int opt)
{
    switch (opt) {
    case O_FORCE:
        return !strcmp(cmd, "reconcile");
    case O_NOREC:
    case O_APEX:
        return !strcmp(cmd, "want");
    case O_JSON:
        return !strcmp(cmd, "status");
    case O_REASON:
        return !strcmp(cmd, "revoke");
    case O_CONTACT:
        return !strcmp(cmd, "account");
    case 'n':
        return !strcmp(cmd, "cull");
    case O_OUT:
        return !strcmp(cmd, "sign-csr");
    }
    return true;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && *v ? v : dflt;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, O_STATE},
        {"hooks", required_argument, NULL, O_HOOKS},
        {"ca-bundle", required_argument, NULL, O_CA},
        {"provider", required_argument, NULL, O_PROVIDER},
        {"agree-tos", no_argument, NULL, O_AGREE},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, 'h'},
        {"once", no_argument, NULL, O_ONCE},
        {"force", no_argument, NULL, O_FORCE},
        {"no-reconcile", no_argument, NULL, O_NOREC},
        {"apex", no_argument, NULL, O_APEX},
        {"json", no_argument, NULL, O_JSON},
        {"reason", required_argument, NULL, O_REASON},
        {"contact", required_argument, NULL, O_CONTACT},
        {"out", required_argument, NULL, O_OUT},
        {NULL, 0, NULL, 0},
    };
    struct cli c = {0};
    int used[64] = {0}, nused = 0, o;
    bool once = false;
    const char *cmd;

    struct err he;

    log_init();
    /* Before any key is read: no core file, not dumpable, SIGPIPE ignored (util/proc.h). */
    if (proc_harden(&he) < 0)
        log_warn("%s", err_msg(&he));
    /* The keeper's worker (privilege separation): it reads no option, file or environment. */
    if (worker_requested(argc, argv))
        return worker_main();
    proc_memstat_at_exit();
    if (clock_init() < 0) {
        log_err("ACMED_FAKE_NOW must be a number of seconds since the epoch");
        return EXIT_USAGE;
    }
    /* `signer` has options of its own: only -v may come before it. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "signer"))
            return cmd_signer(argc - i, argv + i, i - 1);
        if (strcmp(argv[i], "-v") != 0 && strcmp(argv[i], "--verbose") != 0)
            break;
    }
    c.state_dir = env_or("ACME_STATE_DIR", "/var/lib/acme");
    c.hooks_dir = env_or("ACME_HOOKS_DIR", NULL);
    c.ca_bundle = env_or("ACMED_CA_BUNDLE", NULL);
    c.provider = env_or("ACMED_PROVIDER", NULL);
    opterr = 0;
    while ((o = getopt_long(argc, argv, "hvn", opts, NULL)) != -1) {
        switch (o) {
        case O_STATE:
            c.state_dir = optarg;
            break;
        case O_HOOKS:
            c.hooks_dir = optarg;
            break;
        case O_CA:
            c.ca_bundle = optarg;
            break;
        case O_PROVIDER:
            c.provider = optarg;
            break;
        case O_AGREE:
            c.agree_tos = true;
            break;
        case 'v':
            c.verbose++;
            break;
        case O_VERSION:
            printf("acmed %s\n", ACMED_VERSION);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case O_ONCE:
            once = true;
            break;
        case O_FORCE:
            c.force = true;
            break;
        case O_NOREC:
            c.no_reconcile = true;
            break;
        case O_APEX:
            c.apex = true;
            break;
        case O_JSON:
            c.json = true;
            break;
        case O_REASON:
            c.reason = optarg;
            break;
        case 'n':
            c.dry_run = true;
            break;
        case O_OUT:
            c.out = optarg;
            break;
        case O_CONTACT:
            if (c.ncontact == CLI_MAX_CONTACTS) {
                log_err("at most %d --contact options", CLI_MAX_CONTACTS);
                return EXIT_USAGE;
            }
            c.contact[c.ncontact++] = optarg;
            break;
        default:
            if (optopt)
                log_err("unknown option -%c or missing argument (see acmed --help)", optopt);
            else
                log_err("unknown option %s or missing argument (see acmed --help)",
                        argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (nused < 64)
            used[nused++] = o;
    }
    if (c.verbose)
        log_set_level(LL_DEBUG);
    if (once) {
        cmd = "reconcile";
    } else if (optind < argc) {
        cmd = argv[optind++];
    } else {
        for (int k = 0; k < nused; k++) {
            if (used[k] == O_FORCE || used[k] == O_NOREC || used[k] == O_APEX ||
                used[k] == O_JSON || used[k] == O_REASON || used[k] == O_CONTACT ||
                used[k] == O_OUT || used[k] == 'n') {
                log_err("this option needs a command (see acmed --help)");
                return EXIT_USAGE;
            }
        }
        return cmd_daemon(&c);
    }
    c.args = argv + optind;
    c.nargs = (size_t)(argc - optind);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name))
            continue;
        for (int k = 0; k < nused; k++) {
            if (!option_allowed(cmd, used[k])) {
                log_err("this option does not apply to \"%s\" (see acmed --help)", cmd);
                return EXIT_USAGE;
            }
        }
        if (once && c.nargs > 0) {
            log_err("unexpected argument \"%s\" (see acmed --help)", c.args[0]);
            return EXIT_USAGE;
        }
        return commands[i].run(&c);
    }
    log_err("unknown command \"%s\" (see acmed --help)", cmd);
    return EXIT_USAGE;
}
