/* wmsg: the schema tables of the keeper/worker channel. */
#include "privsep/wmsg.h"

#include <sys/socket.h>

#include "reconcile/engine_types.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct ipc_field_spec sign_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_DIRECTORY, IPC_TEXT, WMSG_URL_MAX, 1, 1},
    {WMSG_T_INPUT, IPC_TEXT, WMSG_INPUT_MAX, 1, 1},
};

static const struct ipc_field_spec signed_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_SIG, IPC_BYTES, WMSG_SIG_MAX, 0, 1},
    {WMSG_T_ERROR, IPC_TEXT, WMSG_ERROR_MAX, 0, 1},
};

static const struct ipc_field_spec listening_fields[] = {
    {WMSG_T_RESPONDER, IPC_U64, 0, 1, 1},
    {WMSG_T_ERROR, IPC_TEXT, WMSG_ERROR_MAX, 0, 1},
};

static const struct ipc_field_spec config_fields[] = {
    {WMSG_T_CA, IPC_BYTES, WMSG_CA_MAX, 0, 1},
    {WMSG_T_INSECURE, IPC_U64, 0, 1, 1},
    {WMSG_T_VERBOSE, IPC_U64, 0, 1, 1},
    {WMSG_T_MAXREQ, IPC_U64, 0, 0, 1},
};

static const struct ipc_field_spec listen_fields[] = {
    {WMSG_T_RESPONDER, IPC_U64, 0, 1, 1},
    {WMSG_T_KIND, IPC_U64, 0, 1, 1},
    {WMSG_T_INDEX, IPC_U64, 0, 1, 1},
    {WMSG_T_TOTAL, IPC_U64, 0, 1, 1},
};

static const struct ipc_field_spec responder_fields[] = {
    {WMSG_T_RESPONDER, IPC_U64, 0, 1, 1},
};

static const struct ipc_field_spec publish_fields[] = {
    {WMSG_T_RESPONDER, IPC_U64, 0, 1, 1},
    {WMSG_T_KEY, IPC_TEXT, WMSG_KEY_MAX, 1, 1},
    {WMSG_T_KEYAUTH, IPC_TEXT, WMSG_KEYAUTH_MAX, 1, 1},
};

static const struct ipc_field_spec withdraw_fields[] = {
    {WMSG_T_RESPONDER, IPC_U64, 0, 1, 1},
    {WMSG_T_KEY, IPC_TEXT, WMSG_KEY_MAX, 1, 1},
};

static const struct ipc_field_spec result_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_RC, IPC_U64, 0, 1, 1},
    {WMSG_T_ERROR, IPC_TEXT, WMSG_ERROR_MAX, 0, 1},
    {WMSG_T_STATUS, IPC_U64, 0, 0, 1},
    {WMSG_T_RETRY, IPC_U64, 0, 0, 1},
    {WMSG_T_PROBLEM, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
    {WMSG_T_LOCATION, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {WMSG_T_ACCOUNT, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
    {WMSG_T_ORDER, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
    {WMSG_T_AUTHZ, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
    {WMSG_T_RINFO, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
    {WMSG_T_DIRDOC, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
    {WMSG_T_CERT, IPC_BYTES, WMSG_CHAIN_MAX, 0, 1},
    {WMSG_T_BODY, IPC_BYTES, ENGINE_FETCH_MAX, 0, 1},
    {WMSG_T_REQUESTS, IPC_U64, 0, 1, 1},
    {WMSG_T_NONCES, IPC_U64, 0, 1, 1},
    {WMSG_T_RETRIES, IPC_U64, 0, 1, 1},
};

static const struct ipc_field_spec op_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_ENGINE, IPC_U64, 0, 1, 1},
    {WMSG_T_DIRECTORY, IPC_TEXT, WMSG_URL_MAX, 1, 1},
    {WMSG_T_OP, IPC_U64, 0, 1, 1},
    {WMSG_T_URL, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {WMSG_T_DEADLINE, IPC_U64, 0, 0, 1},
    {WMSG_T_UNTIL_READY, IPC_U64, 0, 0, 1},
    {WMSG_T_CSR, IPC_BYTES, WMSG_CSR_MAX, 0, 1},
    {WMSG_T_DER, IPC_BYTES, WMSG_DER_MAX, 0, 1},
    {WMSG_T_REASON, IPC_U64, 0, 0, 1},
    {WMSG_T_IDENT, IPC_TEXT, 300, 0, WMSG_NAMES_MAX},
    {WMSG_T_PROFILE, IPC_TEXT, 128, 0, 1},
    {WMSG_T_REPLACES, IPC_TEXT, 512, 0, 1},
    {WMSG_T_CONTACT, IPC_TEXT, 512, 0, WMSG_LIST_MAX},
    {WMSG_T_AGREE, IPC_U64, 0, 0, 1},
    {WMSG_T_ONLY_EXISTING, IPC_U64, 0, 0, 1},
    {WMSG_T_EAB, IPC_TEXT, WMSG_TEXT_MAX, 0, 1},
    {WMSG_T_ALG, IPC_TEXT, 16, 0, 1},
    {WMSG_T_JWK, IPC_TEXT, WMSG_TEXT_MAX, 0, 1},
    {WMSG_T_PREFERRED, IPC_TEXT, 256, 0, 1},
    {WMSG_T_ANCHORS, IPC_BYTES, WMSG_CA_MAX, 0, 1},
    {WMSG_T_CERTID, IPC_TEXT, 512, 0, 1},
    {WMSG_T_INNER, IPC_TEXT, 3 * WMSG_TEXT_MAX, 0, 1},
    {WMSG_T_CONNECT, IPC_TEXT, 300, 0, 1},
    {WMSG_T_AUTHN, IPC_TEXT, WMSG_AUTH_MAX, 0, 1},
};

static const struct ipc_field_spec account_fields[] = {
    {WMSG_T_ENGINE, IPC_U64, 0, 1, 1},          {WMSG_T_DIRECTORY, IPC_TEXT, WMSG_URL_MAX, 1, 1},
    {WMSG_T_ALG, IPC_TEXT, 16, 0, 1},           {WMSG_T_JWK, IPC_TEXT, WMSG_TEXT_MAX, 0, 1},
    {WMSG_T_KID, IPC_TEXT, WMSG_URL_MAX, 0, 1},
};

static const struct ipc_field_spec ask_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_PEER, IPC_BYTES, sizeof(struct sockaddr_storage), 1, 1},
    {WMSG_T_BODY, IPC_BYTES, WMSG_ASK_BODY_MAX, 1, 1},
    {WMSG_T_HMAC1, IPC_TEXT, WMSG_HEADER_MAX, 0, 1},
    {WMSG_T_HMAC2, IPC_TEXT, WMSG_HEADER_MAX, 0, 1},
    {WMSG_T_AUTHN, IPC_TEXT, WMSG_HEADER_MAX, 0, 1},
};

static const struct ipc_field_spec gone_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
};

static const struct ipc_field_spec serve_fields[] = {
    {WMSG_T_INDEX, IPC_U64, 0, 1, 1},
    {WMSG_T_TOTAL, IPC_U64, 0, 1, 1},
    {WMSG_T_MAXBODY, IPC_U64, 0, 1, 1},
    {WMSG_T_TLSCERT, IPC_BYTES, WMSG_PEM_MAX, 0, 1},
    {WMSG_T_TLSKEY, IPC_BYTES, WMSG_PEM_MAX, 0, 1},
};

static const struct ipc_field_spec answer_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_STATUS, IPC_U64, 0, 1, 1},
    {WMSG_T_RETRY, IPC_U64, 0, 1, 1},
    {WMSG_T_BODY, IPC_BYTES, WMSG_CHAIN_MAX, 1, 1},
};

static const struct ipc_field_spec lookup_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_RESPONDER, IPC_U64, 0, 1, 1},
    {WMSG_T_KEY, IPC_TEXT, WMSG_KEY_MAX, 1, 1},
};

static const struct ipc_field_spec looked_fields[] = {
    {WMSG_T_ID, IPC_U64, 0, 1, 1},
    {WMSG_T_KEYAUTH, IPC_TEXT, WMSG_KEYAUTH_MAX, 0, 1},
};

static const struct ipc_field_spec set_lookup_fields[] = {
    {WMSG_T_RESPONDER, IPC_U64, 0, 1, 1},
    {WMSG_T_LOOKUP, IPC_U64, 0, 1, 1},
};

static const struct ipc_field_spec drop_fields[] = {
    {WMSG_T_ENGINE, IPC_U64, 0, 1, 1},
};

static const struct ipc_field_spec problem_f[] = {
    {O_TYPE, IPC_TEXT, WMSG_O_TYPE_MAX, 1, 1},
    {O_DETAIL, IPC_TEXT, WMSG_O_DETAIL_MAX, 0, 1},
    {O_TEXT, IPC_TEXT, WMSG_O_PTEXT_MAX, 1, 1},
    {O_STATUS, IPC_U64, 0, 1, 1},
    {O_SUBID, IPC_TEXT, WMSG_O_IDENT_MAX, 0, WMSG_NAMES_MAX},
};
static const struct ipc_field_spec account_f[] = {
    {O_STATUS, IPC_U64, 0, 1, 1},
    {O_URL, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_CONTACT, IPC_TEXT, WMSG_O_CONTACT_MAX, 0, WMSG_LIST_MAX},
    {O_ORDERS, IPC_TEXT, WMSG_URL_MAX, 0, 1},
};
static const struct ipc_field_spec order_f[] = {
    {O_STATUS, IPC_U64, 0, 1, 1},
    {O_URL, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_FINALIZE, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_CERT, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_EXPIRES, IPC_U64, 0, 1, 1},
    {O_IDENT, IPC_TEXT, WMSG_O_IDENT_MAX, 0, WMSG_NAMES_MAX},
    {O_AUTHZ, IPC_TEXT, WMSG_URL_MAX, 0, WMSG_NAMES_MAX},
    {O_ERROR, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
};
static const struct ipc_field_spec chall_f[] = {
    {O_TYPE, IPC_TEXT, WMSG_O_TYPE_MAX, 1, 1},   {O_URL, IPC_TEXT, WMSG_URL_MAX, 1, 1},
    {O_TOKEN, IPC_TEXT, WMSG_O_TOKEN_MAX, 0, 1}, {O_STATUS, IPC_U64, 0, 1, 1},
    {O_ERROR, IPC_BYTES, WMSG_OBJECT_MAX, 0, 1},
};
static const struct ipc_field_spec authz_f[] = {
    {O_STATUS, IPC_U64, 0, 1, 1},
    {O_IDENT, IPC_TEXT, WMSG_O_IDENT_MAX, 1, 1},
    {O_WILDCARD, IPC_U64, 0, 1, 1},
    {O_EXPIRES, IPC_U64, 0, 1, 1},
    {O_CHALL, IPC_BYTES, WMSG_OBJECT_MAX, 0, WMSG_LIST_MAX},
};
static const struct ipc_field_spec dir_f[] = {
    {O_NEW_ACCOUNT, IPC_TEXT, WMSG_URL_MAX, 1, 1},
    {O_NEW_ORDER, IPC_TEXT, WMSG_URL_MAX, 1, 1},
    {O_REVOKE, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_KEY_CHANGE, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_NEW_AUTHZ, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_RENEWAL, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_TOS, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_WEBSITE, IPC_TEXT, WMSG_URL_MAX, 0, 1},
    {O_CAA, IPC_TEXT, WMSG_O_TOKEN_MAX, 0, WMSG_LIST_MAX},
    {O_EAB, IPC_U64, 0, 1, 1},
    {O_PROFILE, IPC_TEXT, WMSG_O_NAME_MAX, 0, WMSG_LIST_MAX},
};
static const struct ipc_field_spec rinfo_f[] = {
    {O_START, IPC_U64, 0, 1, 1},
    {O_END, IPC_U64, 0, 1, 1},
    {O_EXPLANATION, IPC_TEXT, WMSG_URL_MAX, 0, 1},
};
static const struct ipc_msg_spec object_specs[] = {
    {OBJ_PROBLEM, "problem", problem_f, N(problem_f)},
    {OBJ_ACCOUNT, "account", account_f, N(account_f)},
    {OBJ_ORDER, "order", order_f, N(order_f)},
    {OBJ_CHALLENGE, "challenge", chall_f, N(chall_f)},
    {OBJ_AUTHZ, "authorization", authz_f, N(authz_f)},
    {OBJ_DIRECTORY, "directory", dir_f, N(dir_f)},
    {OBJ_RINFO, "renewal information", rinfo_f, N(rinfo_f)},
};
const struct ipc_schema wmsg_objects = {object_specs, N(object_specs)};

static const struct ipc_msg_spec to_keeper[] = {
    {WMSG_SIGN, "sign", sign_fields, N(sign_fields)},
    {WMSG_LISTENING, "listening", listening_fields, N(listening_fields)},
    {WMSG_RESULT, "result", result_fields, N(result_fields)},
    {WMSG_ASK, "ask", ask_fields, N(ask_fields)},
    {WMSG_GONE, "gone", gone_fields, N(gone_fields)},
    {WMSG_LOOKUP, "lookup", lookup_fields, N(lookup_fields)},
};

static const struct ipc_msg_spec to_worker[] = {
    {WMSG_SIGNED, "signed", signed_fields, N(signed_fields)},
    {WMSG_CONFIG, "config", config_fields, N(config_fields)},
    {WMSG_LISTEN, "listen", listen_fields, N(listen_fields)},
    {WMSG_UNLISTEN, "unlisten", responder_fields, N(responder_fields)},
    {WMSG_PUBLISH, "publish", publish_fields, N(publish_fields)},
    {WMSG_WITHDRAW, "withdraw", withdraw_fields, N(withdraw_fields)},
    {WMSG_OP, "operation", op_fields, N(op_fields)},
    {WMSG_ACCOUNT, "account", account_fields, N(account_fields)},
    {WMSG_DROP, "drop", drop_fields, N(drop_fields)},
    {WMSG_SERVE, "serve", serve_fields, N(serve_fields)},
    {WMSG_ANSWER, "answer", answer_fields, N(answer_fields)},
    {WMSG_LOOKED, "looked up", looked_fields, N(looked_fields)},
    {WMSG_SET_LOOKUP, "set lookup", set_lookup_fields, N(set_lookup_fields)},
};

const struct ipc_schema wmsg_to_keeper = {to_keeper, N(to_keeper)};
const struct ipc_schema wmsg_to_worker = {to_worker, N(to_worker)};
