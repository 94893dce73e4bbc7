/* ipc_chan: one end of the keeper/worker channel on a libuv loop.
 *
 * Carries whole frames of util/ipc.h over a connected stream socket (a socketpair end): frames
 * are written in order, and received bytes are cut into frames, each handed to the owner
 * before the next is read. A frame whose announced length is out of bounds, or an end of
 * stream, ends the channel with one call of the closed callback; after it no callback runs. */
#ifndef ACMED_PRIVSEP_IPC_CHAN_H
#define ACMED_PRIVSEP_IPC_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"
#include "util/err.h"

struct ipc_chan;

/* A whole frame (prefix included), valid only during the call. */
typedef void (*ipc_frame_cb)(void *arg, const uint8_t *frame, size_t len);
/* The channel ended: rc 0 at the peer's end of stream, negative (e says why) on a bad frame
 * or an I/O error. The owner then calls ipc_chan_free (not from within other callbacks'
 * frames: this is called from the loop). */
typedef void (*ipc_closed_cb)(void *arg, int rc, const struct err *e);

/* Takes over fd (a connected SOCK_STREAM socket, made non-blocking here) and starts reading.
 * With accept_fds, descriptors the peer passes (ipc_chan_send_fd) are queued for
 * ipc_chan_take_fd, at most IPC_CHAN_FDS_MAX at once; without, a passed descriptor is closed
 * and ends the channel as a protocol error (the keeper takes none from its worker). Returns
 * the channel, or NULL with e set (fd is then closed). */
struct ipc_chan *ipc_chan_open(uv_loop_t *loop, int fd, bool accept_fds, ipc_frame_cb on_frame,
                               ipc_closed_cb on_closed, void *arg, struct err *e);

#define IPC_CHAN_FDS_MAX 16

/* Queues a frame that carries a descriptor along (a copy of fd is passed; fd stays the
 * caller's). The frame itself must say it carries one, so that the receiver, decoding it,
 * takes the descriptor with ipc_chan_take_fd: descriptors and the frames announcing them come
 * in the same order. Returns 0 or negative as ipc_chan_send. */
int ipc_chan_send_fd(struct ipc_chan *c, struct buf *frame, int fd, struct err *e);

/* The oldest descriptor received and not yet taken (the caller owns it), or -1 when none has
 * come. Called while handling the frame that announced it. */
int ipc_chan_take_fd(struct ipc_chan *c);

/* Queues a frame built with ipc_out (takes its buffer; b is reset). Returns 0, or negative
 * when the channel has ended. */
int ipc_chan_send(struct ipc_chan *c, struct buf *frame, struct err *e);

/* Closes the socket (queued frames are dropped) and frees the channel once libuv is done
 * with it. No callback runs after this. c may be NULL. */
void ipc_chan_free(struct ipc_chan *c);

#endif
