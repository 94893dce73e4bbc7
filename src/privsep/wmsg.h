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
    WMSG_SIGN = 1,      /* ID, DIRECTORY, INPUT: sign this JWS signing input with that account */
    WMSG_LISTENING = 2, /* RESPONDER [ERROR]: the responder serves (or could not) */
    /* keeper -> worker */
    WMSG_SIGNED = 101, /* ID, then SIG or ERROR */
    WMSG_CONFIG = 102, /* [CA] INSECURE VERBOSE: first, after each start */
    /* RESPONDER KIND INDEX TOTAL, with one listening socket: the INDEX-th of TOTAL sockets of
     * a responder; once all have come the worker serves on them and says WMSG_LISTENING. */
    WMSG_LISTEN = 103,
    WMSG_UNLISTEN = 104, /* RESPONDER: close it */
    WMSG_PUBLISH = 105,  /* RESPONDER KEY KEYAUTH: answer KEY (an http-01 token or a
                          * tls-alpn-01 name) with KEYAUTH */
    WMSG_WITHDRAW = 106, /* RESPONDER KEY */
};

enum wmsg_kind { WMSG_KIND_HTTP01 = 1, WMSG_KIND_TLS_ALPN = 2 };

enum wmsg_tag {
    WMSG_T_ID = 1,
    WMSG_T_DIRECTORY = 2,
    WMSG_T_INPUT = 3,
    WMSG_T_SIG = 4,
    WMSG_T_ERROR = 5,
    WMSG_T_CA = 6,
    WMSG_T_INSECURE = 7,
    WMSG_T_VERBOSE = 8,
    WMSG_T_RESPONDER = 9,
    WMSG_T_KIND = 10,
    WMSG_T_INDEX = 11,
    WMSG_T_TOTAL = 12,
    WMSG_T_KEY = 13,
    WMSG_T_KEYAUTH = 14,
};

#define WMSG_URL_MAX 2048
#define WMSG_INPUT_MAX 65536 /* as a signer protocol line (signer/signer_proto.h) */
#define WMSG_SIG_MAX 1024    /* RSA 4096 is 512 bytes, ES512 132 */
#define WMSG_ERROR_MAX 2048
#define WMSG_CA_MAX (1000u * 1024u) /* a CA bundle: Debian's is about 210 KB */
#define WMSG_KEY_MAX 256            /* a token (http01.h) or a DNS name */
#define WMSG_KEYAUTH_MAX 512
#define WMSG_LISTEN_MAX 16 /* sockets per responder */

extern const struct ipc_schema wmsg_to_keeper;
extern const struct ipc_schema wmsg_to_worker;

#endif
