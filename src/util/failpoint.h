/* failpoint: test-only checkpoints where acmed stops itself so a test can kill it exactly.
 *
 * When ACMED_FAILPOINT holds a comma-separated list containing `name`, failpoint(name)
 * raises SIGSTOP; the test then sends SIGKILL (or SIGCONT to let it go on). Costs one getenv
 * otherwise. */
#ifndef ACMED_UTIL_FAILPOINT_H
#define ACMED_UTIL_FAILPOINT_H

void failpoint(const char *name);

#endif
