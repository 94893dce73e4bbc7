/* fake_worker: the worker's end of the keeper/worker channel, by hand and blocking, for unit
 * tests whose binary is its own hostile worker (test_keeper.c, test_serve_keeper.c). */
#ifndef ACMED_TESTS_FAKE_WORKER_H
#define ACMED_TESTS_FAKE_WORKER_H

#include <stdint.h>

#include "privsep/ipc.h"

/* Reads one frame from the keeper into *buf (caller frees) and decodes it into *m against
 * the worker's schema. Returns 0, or negative (the keeper is gone, a bad frame). */
int fw_next_msg(uint8_t **buf, struct ipc_msg *m);
/* The length of the frame last read by fw_next_msg (prefix included). */
size_t fw_last_len(void);
/* Ends o and writes it to the keeper (exits the process when the write fails). */
void fw_send(struct ipc_out *o);

#endif
