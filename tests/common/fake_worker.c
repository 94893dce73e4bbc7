/* fake_worker: the worker's end of the channel for unit tests (see fake_worker.h). */
#include "common/fake_worker.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privsep/child.h"
#include "privsep/wmsg.h"

static size_t last_len;

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);

        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int fw_next_msg(uint8_t **buf, struct ipc_msg *m)
{
    uint8_t hdr[4];
    size_t len;
    struct err e;

    last_len = 0;
    if (read_full(CHILD_CHAN_FD, hdr, 4) < 0)
        return -1;
    len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    if (len > IPC_FRAME_MAX || !(*buf = malloc(len + 4)))
        return -1;
    memcpy(*buf, hdr, 4);
    if (read_full(CHILD_CHAN_FD, *buf + 4, len) < 0)
        return -1;
    last_len = len + 4;
    return ipc_decode(&wmsg_to_worker, *buf, len + 4, m, &e);
}

size_t fw_last_len(void)
{
    return last_len;
}

void fw_send(struct ipc_out *o)
{
    struct err e;

    if (ipc_out_end(o, &e) == 0 && write(CHILD_CHAN_FD, o->b.data, o->b.len) < 0)
        _exit(5);
    buf_clear(&o->b);
}
