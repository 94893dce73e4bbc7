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

static const struct ipc_msg_spec to_keeper[] = {
    {WMSG_SIGN, "sign", sign_fields, N(sign_fields)},
};

static const struct ipc_msg_spec to_worker[] = {
    {WMSG_SIGNED, "signed", signed_fields, N(signed_fields)},
};

const struct ipc_schema wmsg_to_keeper = {to_keeper, N(to_keeper)};
const struct ipc_schema wmsg_to_worker = {to_worker, N(to_worker)};
