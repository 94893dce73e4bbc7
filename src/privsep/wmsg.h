/* wmsg: the messages between the keeper and its worker, and what each side accepts.
 *
 * Two schemas (privsep/ipc.h): what the keeper accepts from the worker (hostile: the worker
 * parses the Internet) and what the worker accepts from the keeper. Every size bound is here,
 * in one table per direction. */
#ifndef ACMED_PRIVSEP_WMSG_H
#define ACMED_PRIVSEP_WMSG_H

#include "privsep/ipc.h"

enum wmsg_type {
    /* worker -> keeper */
    WMSG_SIGN = 1, /* ID, DIRECTORY, INPUT: sign this JWS signing input with that account */
    /* keeper -> worker */
    WMSG_SIGNED = 101, /* ID, then SIG or ERROR */
};

enum wmsg_tag {
    WMSG_T_ID = 1,
    WMSG_T_DIRECTORY = 2,
    WMSG_T_INPUT = 3,
    WMSG_T_SIG = 4,
    WMSG_T_ERROR = 5,
};

#define WMSG_URL_MAX 2048
#define WMSG_INPUT_MAX 65536 /* as a signer protocol line (crypto/signer_proto.h) */
#define WMSG_SIG_MAX 1024    /* RSA 4096 is 512 bytes, ES512 132 */
#define WMSG_ERROR_MAX 2048

extern const struct ipc_schema wmsg_to_keeper;
extern const struct ipc_schema wmsg_to_worker;

#endif
