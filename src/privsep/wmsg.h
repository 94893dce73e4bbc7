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
    /* ID RC [ERROR] [STATUS] [RETRY] [PROBLEM] [LOCATION] [one object] REQUESTS NONCES
     * RETRIES: the outcome of operation ID (privsep/wmsg_engine.h), with the engine's counters */
    WMSG_RESULT = 3,
    /* ID PEER BODY [HMAC1] [HMAC2] [AUTHN]: a POST /sign the worker's endpoint received (its
     * peer's sockaddr, the body, the headers the client rules read), for the keeper to decide
     * (acmed serve, serve/serve_keeper.h) */
    WMSG_ASK = 4,
    WMSG_GONE = 5, /* ID: that request's client went away */
    /* ID RESPONDER KEY: http-01 responder RESPONDER has no answer for token KEY; what does the
     * keeper know (challenge/lookup.h)? Answered by WMSG_LOOKED */
    WMSG_LOOKUP = 6,
    /* keeper -> worker */
    WMSG_SIGNED = 101, /* ID, then SIG or ERROR */
    WMSG_CONFIG = 102, /* [CA] INSECURE VERBOSE [MAXREQ]: first, after each start */
    /* RESPONDER KIND INDEX TOTAL, with one listening socket: the INDEX-th of TOTAL sockets of
     * a responder; once all have come the worker serves on them and says WMSG_LISTENING. */
    WMSG_LISTEN = 103,
    WMSG_UNLISTEN = 104, /* RESPONDER: close it */
    WMSG_PUBLISH = 105,  /* RESPONDER KEY KEYAUTH: answer KEY (an http-01 token or a
                          * tls-alpn-01 name) with KEYAUTH */
    WMSG_WITHDRAW = 106, /* RESPONDER KEY */
    /* ID ENGINE DIRECTORY OP, and the operation's parameters: run an engine operation */
    WMSG_OP = 107,
    /* ENGINE DIRECTORY [ALG JWK] [KID]: the account that engine's requests are signed for */
    WMSG_ACCOUNT = 108,
    WMSG_DROP = 109, /* ENGINE: the keeper is done with that engine */
    /* INDEX TOTAL MAXBODY [TLSCERT TLSKEY], with one listening socket: the INDEX-th of TOTAL
     * sockets of acmed serve's endpoint; once all have come the worker serves POST /sign */
    WMSG_SERVE = 110,
    WMSG_ANSWER = 111, /* ID STATUS RETRY BODY: the answer to request ID */
    WMSG_LOOKED = 112, /* ID [KEYAUTH]: the answer to lookup ID (none: unknown) */
    /* RESPONDER LOOKUP: whether http-01 responder RESPONDER asks (WMSG_LOOKUP) on a miss */
    WMSG_SET_LOOKUP = 113,
};

/* The engine operations of WMSG_OP (reconcile/engine.h, one each). */
enum wmsg_op {
    WOP_START = 1,
    WOP_ACCOUNT_NEW,
    WOP_ACCOUNT_UPDATE,
    WOP_ORDER_NEW,
    WOP_ORDER_GET,
    WOP_AUTHZ_GET,
    WOP_CHALLENGE_ANSWER,
    WOP_AUTHZ_POLL,
    WOP_ORDER_FINALIZE,
    WOP_ORDER_POLL,
    WOP_CERT_DOWNLOAD,
    WOP_CERT_REVOKE,
    WOP_RENEWAL_INFO,
    WOP_KEY_CHANGE,   /* only while `acmed account rollover` runs */
    WOP_DEACTIVATE,   /* only while `acmed account deactivate` runs */
    WOP_HTTP01_FETCH, /* the http-01 self-test's GET */
    WOP_CSR_POST,     /* a CSR posted to a central certificate server (engine_mgmt) */
    WOP_END           /* one past the last */
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
    /* engine operations (privsep/wmsg_engine.h) */
    WMSG_T_ENGINE = 15,
    WMSG_T_OP = 16,
    WMSG_T_RC = 17,
    WMSG_T_STATUS = 18,
    WMSG_T_RETRY = 19,
    WMSG_T_PROBLEM = 20,
    WMSG_T_LOCATION = 21,
    WMSG_T_ACCOUNT = 22,
    WMSG_T_ORDER = 23,
    WMSG_T_AUTHZ = 24,
    WMSG_T_RINFO = 25,
    WMSG_T_DIRDOC = 26,
    WMSG_T_CERT = 27,
    WMSG_T_REQUESTS = 28,
    WMSG_T_NONCES = 29,
    WMSG_T_RETRIES = 30,
    WMSG_T_URL = 31,
    WMSG_T_DEADLINE = 32,
    WMSG_T_UNTIL_READY = 33,
    WMSG_T_CSR = 34,
    WMSG_T_DER = 35,
    WMSG_T_REASON = 36,
    WMSG_T_IDENT = 37,
    WMSG_T_PROFILE = 38,
    WMSG_T_REPLACES = 39,
    WMSG_T_CONTACT = 40,
    WMSG_T_AGREE = 41,
    WMSG_T_ONLY_EXISTING = 42,
    WMSG_T_EAB = 43,
    WMSG_T_ALG = 44,
    WMSG_T_JWK = 45,
    WMSG_T_KID = 46,
    WMSG_T_PREFERRED = 47,
    /* 48 unused */
    WMSG_T_ANCHORS = 49,
    WMSG_T_CERTID = 50,
    WMSG_T_MAXREQ = 51,
    WMSG_T_INNER = 52,
    WMSG_T_CONNECT = 53,
    WMSG_T_BODY = 54,
    WMSG_T_PEER = 55,
    WMSG_T_HMAC1 = 56, /* the HMAC-SHA256 header */
    WMSG_T_HMAC2 = 57, /* the HMAC-SHA2-256 header */
    WMSG_T_AUTHN = 58, /* the Authentication header (also csr_post's, which the keeper made) */
    WMSG_T_MAXBODY = 59,
    WMSG_T_TLSCERT = 60,
    WMSG_T_TLSKEY = 61,
    WMSG_T_LOOKUP = 62,
};

#define WMSG_URL_MAX 2048
#define WMSG_INPUT_MAX 65536 /* as a signer protocol line (signer/signer_proto.h) */
#define WMSG_SIG_MAX 1024    /* RSA 4096 is 512 bytes, ES512 132 */
#define WMSG_ERROR_MAX 2048
#define WMSG_CA_MAX (1000u * 1024u) /* a CA bundle: Debian's is about 210 KB */
#define WMSG_KEY_MAX 256            /* a token (http01.h) or a DNS name */
#define WMSG_KEYAUTH_MAX 512
#define WMSG_LISTEN_MAX 16 /* sockets per responder */
#define WMSG_TEXT_MAX 4096 /* a problem's detail, a JWK, an algorithm name */
#define WMSG_NAMES_MAX 256 /* identifiers, authorizations, names per message */
#define WMSG_LIST_MAX 64   /* contacts, challenges, CAA identities, profiles */
#define WMSG_CSR_MAX 65536
#define WMSG_AUTH_MAX 128              /* "hmac name=sha256, hash=" and 64 hex digits */
#define WMSG_DER_MAX 65536             /* a certificate */
#define WMSG_OBJECT_MAX (512u * 1024u) /* a nested object (privsep/wmsg_engine.h) */
#define WMSG_CHAIN_MAX (900u * 1024u)  /* a certificate chain, PEM */
#define WMSG_ASK_BODY_MAX 65536        /* a CSR as posted (max-size is at most this) */
#define WMSG_HEADER_MAX 512            /* one header the client rules read */
#define WMSG_ASKS_MAX 4096             /* requests the worker may have waiting at once */
#define WMSG_PEM_MAX (256u * 1024u)    /* the endpoint's certificate chain or key */

/* The objects nested in a WMSG_RESULT (privsep/wmsg_engine.h), each a frame of its own decoded
 * against wmsg_objects, and their fields. */
enum {
    OBJ_PROBLEM = 1,
    OBJ_ACCOUNT,
    OBJ_ORDER,
    OBJ_CHALLENGE,
    OBJ_AUTHZ,
    OBJ_DIRECTORY,
    OBJ_RINFO,
};
enum {
    O_STATUS = 1,
    O_TYPE,
    O_DETAIL,
    O_TEXT,
    O_SUBID,
    O_URL,
    O_CONTACT,
    O_ORDERS,
    O_FINALIZE,
    O_CERT,
    O_EXPIRES,
    O_IDENT,
    O_AUTHZ,
    O_ERROR,
    O_TOKEN,
    O_WILDCARD,
    O_CHALL,
    O_NEW_ACCOUNT,
    O_NEW_ORDER,
    O_REVOKE,
    O_NEW_AUTHZ,
    O_RENEWAL,
    O_TOS,
    O_WEBSITE,
    O_CAA,
    O_EAB,
    O_PROFILE,
    O_START,
    O_END,
    O_EXPLANATION,
    O_KEY_CHANGE,
};

#define WMSG_O_TYPE_MAX 256
#define WMSG_O_DETAIL_MAX 4096
#define WMSG_O_PTEXT_MAX 8192
#define WMSG_O_IDENT_MAX 300 /* "dns:" and a name of at most 253 */
#define WMSG_O_CONTACT_MAX 512
#define WMSG_O_TOKEN_MAX 256
#define WMSG_O_NAME_MAX 128
#define WMSG_O_TIME_MAX 253402300799ull /* 9999-12-31T23:59:59Z */

extern const struct ipc_schema wmsg_objects;
extern const struct ipc_schema wmsg_to_keeper;
extern const struct ipc_schema wmsg_to_worker;

#endif
