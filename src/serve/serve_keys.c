/* serve_keys: the client rules' HMAC keys, read from their hmac-key-file by the process that
 * decides (DESIGN.md §11: under privilege separation the keeper; never the worker). */
#include "serve/serve_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/mac.h"

#define KEY_MAX 4096

/* An hmac-key-file: a regular file only root can read, not a link, 1..KEY_MAX bytes. */
static int read_key(const char *path, struct rules_key *k, struct err *e)
{
    uint8_t *buf = NULL;
    struct stat sb;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY), rc = 0;

    if (fd < 0)
        return err_set(e, -errno, "hmac-key-file %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
        rc = err_set(e, -EINVAL, "hmac-key-file %s: not a regular file", path);
    else if (sb.st_mode & 0077)
        rc = err_set(e, -EPERM, "hmac-key-file %s: readable by others (mode %03o): chmod 600", path,
                     (unsigned)(sb.st_mode & 0777));
    else if (!(buf = malloc(KEY_MAX + 1)))
        rc = err_set(e, -ENOMEM, "out of memory");
    else if ((n = read(fd, buf, KEY_MAX + 1)) < 0)
        rc = err_set(e, -errno, "hmac-key-file %s: %s", path, strerror(errno));
    else if (n == 0 || n > KEY_MAX || mac_key_len(buf, (size_t)n) == 0)
        rc = err_set(e, -EINVAL, "hmac-key-file %s: expected 1 to %d bytes of key", path, KEY_MAX);
    else
        *k = (struct rules_key){.key = buf, .len = mac_key_len(buf, (size_t)n)};
    close(fd);
    if (rc < 0 && buf) {
        explicit_bzero(buf, KEY_MAX + 1);
        free(buf);
    }
    return rc;
}

void serve_keys_free(struct rules_key *keys, size_t n)
{
    for (size_t i = 0; keys && i < n; i++) {
        if (keys[i].key) {
            explicit_bzero((void *)keys[i].key, keys[i].len);
            free((void *)keys[i].key);
        }
    }
    free(keys);
}

int serve_keys_load(const struct serve_conf *c, struct rules_key **out, struct err *e)
{
    struct rules_key *keys = calloc(c->nclients ? c->nclients : 1, sizeof *keys);
    int rc;

    *out = NULL;
    if (!keys)
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nclients; i++) {
        if (c->clients[i].hmac_key_file &&
            (rc = read_key(c->clients[i].hmac_key_file, &keys[i], e)) < 0) {
            err_wrap(e, "client %s", c->clients[i].name);
            serve_keys_free(keys, c->nclients);
            return rc;
        }
    }
    *out = keys;
    return 0;
}
