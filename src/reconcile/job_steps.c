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
