/* job_steps: the transition table of the per-target state machine, the only place naming
 * the steps in order. The pass hands it to its jobs (job_ctx.steps), so the steps, which call
 * back into job.c, are never called from there by name. */
#include "reconcile/job.h"

const struct job_step_def job_steps[STEP_COUNT] = {
    [STEP_ACCOUNT] = {"account", step_account},    [STEP_KEY] = {"key", step_key},
    [STEP_ORDER] = {"order", step_order},          [STEP_AUTHORIZE] = {"authorize", step_authorize},
    [STEP_FINALIZE] = {"finalize", step_finalize}, [STEP_DOWNLOAD] = {"download", step_download},
    [STEP_INSTALL] = {"install", step_install},
};

/* A central certificate server orders, authorizes and finalizes on its own: the post of the CSR
 * and the check of the chain it answers with stand where the download was. */
const struct job_step_def job_steps_mgmt[STEP_COUNT] = {
    [STEP_ACCOUNT] = {"account", NULL},
    [STEP_KEY] = {"key", step_key},
    [STEP_ORDER] = {"order", NULL},
    [STEP_AUTHORIZE] = {"authorize", NULL},
    [STEP_FINALIZE] = {"finalize", NULL},
    [STEP_DOWNLOAD] = {"sign", step_mgmt},
    [STEP_INSTALL] = {"install", step_install},
};
