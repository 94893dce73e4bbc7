/* cmd_signer: `acmed signer`, an account-key signer speaking lacme-accountd's protocol
 * (signer/signer_proto.h, DESIGN.md §10) on a UNIX socket or on stdio.
 *
 * It holds one account key, greets each connection as lacme-accountd does, and signs each
 * request line that the policy (signer/signer_policy.h) allows; a refusal, like bad input,
 * closes the connection, as the protocol has no error line. Connections are served one at a
 * time, each one request at a time, with plain blocking I/O: this process runs no event
 * loop, and one client at a time is what the reference signer offers too. Every signature
 * and every refusal is one log line. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/jwk.h"
#include "crypto/jws.h"
#include "crypto/key.h"
#include "signer/signer_policy.h"
#include "signer/signer_proto.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/sanitize.h"

#define MAX_ALLOW 64
#define KEY_FILE_MAX (64 * 1024)
#define CONN_IDLE_S 300 /* a client silent this long loses its connection */

struct server {
    struct ckey *key;
    struct signer signer;
    struct signer_policy pol;
    char *greeting, *jwk_line; /* CRLF included */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = sig;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR && !stop)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* What the local key's signer hands back (it answers inside signer_sign). */
struct sig_out {
    int rc;
    char *line;
};

static void on_sig(void *arg, int rc, const uint8_t *sig, size_t len, const struct err *e)
{
    struct sig_out *o = arg;

    o->rc = rc < 0 ? rc : signer_proto_answer_format(sig, len, &o->line, NULL);
}

/* One request line: parse, apply the policy, sign and answer. Returns 0 to go on with the
 * connection, -1 to close it (the log line is written here). */
static int serve_line(struct server *s, int out, const char *id, const char *line, size_t len)
{
    struct signer_request r;
    struct sig_out so = {-EIO, NULL};
    char ids[512], *url = NULL, *names = NULL;
    struct err e;
    int rc = -1;

    err_clear(&e);
    if (signer_proto_request_parse(line, len, &r, &e) < 0) {
        log_warn("signer[%s]: bad input, closing: %s", id, err_msg(&e));
        return -1;
    }
    url = sanitize_dup(r.url);
    names = sanitize_dup(signer_policy_identifiers(&r, ids, sizeof ids));
    if (signer_policy_check(&s->pol, &r, &e) < 0) {
        char *why = sanitize_dup(err_msg(&e));

        log_notice("signer[%s]: refused url=%s identifiers=%s: %s", id, url ? url : "?",
                   names ? names : "?", why ? why : "?");
        free(why);
        goto out;
    }
    if (signer_sign(&s->signer, (const uint8_t *)line, len, on_sig, &so, &e) < 0 || so.rc < 0 ||
        !so.line) {
        log_err("signer[%s]: cannot sign url=%s: %s", id, url ? url : "?", err_msg(&e));
        goto out;
    }
    if (write_all(out, so.line, strlen(so.line)) < 0) {
        log_warn("signer[%s]: signed url=%s identifiers=%s, but the client is gone", id,
                 url ? url : "?", names ? names : "?");
        goto out;
    }
    log_info("signer[%s]: signed url=%s identifiers=%s", id, url ? url : "?", names ? names : "?");
    rc = 0;
out:
    free(so.line);
    free(url);
    free(names);
    signer_request_clear(&r);
    return rc;
}

/* One connection: the greeting, then request lines until EOF, bad input or a refusal. */
static void serve(struct server *s, int in, int out, const char *id)
{
    static char buf[2 * SIGNER_LINE_MAX];
    size_t len = 0, ll, used;
    struct err e;
    ssize_t n;
    int rc;

    if (write_all(out, s->greeting, strlen(s->greeting)) < 0 ||
        write_all(out, s->jwk_line, strlen(s->jwk_line)) < 0)
        return;
    while (!stop) {
        n = read(in, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* EOF, or the idle timeout */
        len += (size_t)n;
        while ((rc = signer_proto_line(buf, len, &ll, &used, &e)) == 1) {
            if (serve_line(s, out, id, buf, ll) < 0)
                return;
            memmove(buf, buf + used, len - used);
            len -= used;
        }
        if (rc < 0) {
            log_warn("signer[%s]: bad input, closing: %s", id, err_msg(&e));
            return;
        }
    }
}

/* The socket's directory must be writable by its owner only (as lacme-accountd requires),
 * else another user could replace the socket with one of their own. */
static int check_dir(const char *path, struct err *e)
{
    char *copy = strdup(path), *dir;
    struct stat st;
    int rc = 0;

    if (!copy)
        return err_set(e, -ENOMEM, "out of memory");
    dir = dirname(copy);
    if (stat(dir, &st) < 0)
        rc = err_sys(e, -errno, "%s", dir);
    else if (!S_ISDIR(st.st_mode))
        rc = err_set(e, -ENOTDIR, "%s is not a directory", dir);
    else if (st.st_mode & 022)
        rc = err_set(e, -EPERM, "insecure permissions on %s: writable by group or others", dir);
    free(copy);
    return rc;
}

/* A socket bound mode 0600 at path (whose directory check_dir accepted), listening. Returns
 * the descriptor or negative. */
static int listen_on(const char *path, struct err *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    mode_t old;
    int fd, rc;

    if (strlen(path) >= sizeof sa.sun_path)
        return err_set(e, -ENAMETOOLONG, "socket path too long: %s", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return err_sys(e, -errno, "socket");
    /* Mode 0600 from the start: no moment when another user could connect. */
    old = umask(0177);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || listen(fd, 4) < 0) {
        rc = err_sys(e, -errno, "%s", path);
        close(fd);
        return rc;
    }
    return fd;
}

static void serve_socket(struct server *s, int lfd)
{
    struct timeval idle = {.tv_sec = CONN_IDLE_S};
    unsigned long count = 0;
    char id[32];

    while (!stop) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            log_err("signer: accept: %s", strerror(errno));
            return;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
        snprintf(id, sizeof id, "%lu", count++);
        log_debug("signer[%s]: connection accepted", id);
        serve(s, fd, fd, id);
        close(fd);
        log_debug("signer[%s]: connection closed", id);
    }
}

static void signer_usage(FILE *f)
{
    fprintf(
        f, "usage: acmed [-v] signer --key FILE (--socket PATH | --stdio) [--allow-url PREFIX]...\n"
           "                [--allow-name GLOB]... [--allow-account-change] [--kid URL]\n"
           "\n"
           "Holds the account key in FILE and signs ACME requests for a client speaking\n"
           "lacme-accountd's protocol (acmed's request.account.signer, or lacme), on a UNIX\n"
           "socket created mode 0600 (its directory must not be writable by group or others)\n"
           "or on stdin/stdout (e.g. through ssh). Each signature and refusal is logged.\n"
           "\n"
           "  --allow-url PREFIX      sign only for URLs starting with PREFIX (repeatable;\n"
           "                          default any)\n"
           "  --allow-name GLOB       new orders and authorizations only for host names\n"
           "                          matching GLOB: * any characters within one label, ? one\n"
           "                          character, never a dot (repeatable; default any)\n"
           "  --allow-account-change  also sign key changes, account deactivation and contact\n"
           "                          updates (refused by default)\n"
           "  --kid URL               announce this account URL and send {} as the JWK\n");
}

/* Loads the key and builds what every connection is greeted with. */
static int server_init(struct server *s, const char *keyfile, const char *kid, struct err *e)
{
    struct signer_greeting g = {0};
    json_t *jwk = NULL;
    char *pem = NULL, *tp = NULL;
    size_t len = 0;
    int rc;

    if ((rc = fsio_read_file(keyfile, KEY_FILE_MAX, &pem, &len, e)) < 0)
        goto out;
    rc = key_from_pem(pem, len, &s->key, e);
    explicit_bzero(pem, len);
    if (rc < 0 || !(jwk = jwk_public(s->key, e)) || (rc = jwk_thumbprint(jwk, &tp, e)) < 0) {
        rc = rc < 0 ? rc : -EINVAL;
        err_wrap(e, "%s", keyfile);
        goto out;
    }
    jws_signer_from_key(s->key, &s->signer);
    s->pol.alg = s->signer.alg;
    g.alg = (char *)s->signer.alg;
    g.thumbprint = tp;
    g.kid = (char *)kid;
    if ((rc = signer_proto_greeting_format(&g, &s->greeting, e)) < 0 ||
        (rc = signer_proto_jwk_format(kid ? NULL : jwk, &s->jwk_line, e)) < 0)
        goto out;
    log_info("signer: key %s (%s), thumbprint %s%s%s", keyfile, s->signer.alg, tp,
             kid ? ", kid " : "", kid ? kid : "");
out:
    free(pem);
    free(tp);
    json_decref(jwk);
    return rc;
}

static int add_allow(const char **list, size_t *n, const char *v, const char *opt)
{
    if (*n == MAX_ALLOW) {
        log_err("signer: at most %d %s options", MAX_ALLOW, opt);
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}

int cmd_signer(int argc, char **argv, int verbose)
{
    enum { O_KEY = 256, O_SOCKET, O_STDIO, O_URL, O_NAME, O_CHANGE, O_KID };
    static const struct option opts[] = {
        {"key", required_argument, NULL, O_KEY},
        {"socket", required_argument, NULL, O_SOCKET},
        {"stdio", no_argument, NULL, O_STDIO},
        {"allow-url", required_argument, NULL, O_URL},
        {"allow-name", required_argument, NULL, O_NAME},
        {"allow-account-change", no_argument, NULL, O_CHANGE},
        {"kid", required_argument, NULL, O_KID},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *urls[MAX_ALLOW], *names[MAX_ALLOW], *keyfile = NULL, *sock = NULL, *kid = NULL;
    struct sigaction sa = {.sa_handler = on_signal};
    struct server s = {0};
    bool stdio = false;
    struct err e;
    int o, lfd = -1, rc = EXIT_USAGE;

    err_clear(&e);
    optind = 1;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
        switch (o) {
        case O_KEY:
            keyfile = optarg;
            break;
        case O_SOCKET:
            sock = optarg;
            break;
        case O_STDIO:
            stdio = true;
            break;
        case O_URL:
            if (add_allow(urls, &s.pol.n_url, optarg, "--allow-url") < 0)
                return EXIT_USAGE;
            break;
        case O_NAME:
            if (add_allow(names, &s.pol.n_name, optarg, "--allow-name") < 0)
                return EXIT_USAGE;
            break;
        case O_CHANGE:
            s.pol.account_change = true;
            break;
        case O_KID:
            kid = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            signer_usage(stdout);
            return EXIT_OK;
        default:
            log_err("signer: unknown option %s or missing argument (see acmed signer --help)",
                    argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (verbose)
        log_set_level(LL_DEBUG);
    if (optind < argc || !keyfile || !sock == !stdio) {
        log_err("signer: needs --key FILE and one of --socket PATH or --stdio (see acmed signer "
                "--help)");
        return EXIT_USAGE;
    }
    s.pol.url_prefix = urls;
    s.pol.name_glob = names;
    if (server_init(&s, keyfile, kid, &e) < 0) {
        log_err("signer: %s", err_msg(&e));
        goto out;
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (stdio) {
        serve(&s, STDIN_FILENO, STDOUT_FILENO, "stdio");
        rc = EXIT_OK;
        goto out;
    }
    if (check_dir(sock, &e) < 0) {
        log_err("signer: %s", err_msg(&e));
        goto out;
    }
    if ((lfd = listen_on(sock, &e)) < 0) {
        log_err("signer: %s", err_msg(&e));
        rc = EXIT_FAILED;
        goto out;
    }
    log_info("signer: listening on %s", sock);
    serve_socket(&s, lfd);
    rc = stop ? EXIT_OK : EXIT_FAILED;
    unlink(sock);
    close(lfd);
out:
    free(s.greeting);
    free(s.jwk_line);
    key_free(s.key);
    return rc;
}
