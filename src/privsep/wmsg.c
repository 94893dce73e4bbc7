/* wmsg: the schema tables of the keeper/worker channel. */
#include "privsep/wmsg.h"

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

static const struct ipc_msg_spec to_keeper[] = {
    {WMSG_SIGN, "sign", sign_fields, N(sign_fields)},
    {WMSG_LISTENING, "listening", listening_fields, N(listening_fields)},
};

static const struct ipc_msg_spec to_worker[] = {
    {WMSG_SIGNED, "signed", signed_fields, N(signed_fields)},
    {WMSG_CONFIG, "config", config_fields, N(config_fields)},
    {WMSG_LISTEN, "listen", listen_fields, N(listen_fields)},
    {WMSG_UNLISTEN, "unlisten", responder_fields, N(responder_fields)},
    {WMSG_PUBLISH, "publish", publish_fields, N(publish_fields)},
    {WMSG_WITHDRAW, "withdraw", withdraw_fields, N(withdraw_fields)},
};

const struct ipc_schema wmsg_to_keeper = {to_keeper, N(to_keeper)};
const struct ipc_schema wmsg_to_worker = {to_worker, N(to_worker)};
