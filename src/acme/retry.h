/* retry: what the request machinery (acme/client.h) reads off a failed exchange to decide
 * whether and when to try again: the backoff without Retry-After, the Retry-After of a
 * response, and whether an error response holds a problem document. Pure, no I/O. */
#ifndef ACMED_ACME_RETRY_H
#define ACMED_ACME_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "net/http.h"
#include "util/err.h"

/* Exponential backoff with "equal jitter" before attempt number `attempt` (1 = the first
 * retry): base_ms doubling per attempt, capped at max_ms, half of it fixed and half random,
 * so many clients that failed together do not retry together. */
uint64_t acme_backoff_ms(uint64_t base_ms, uint64_t max_ms, unsigned attempt);

/* Seconds the response's Retry-After asks to wait (clamped), or -1 if none or malformed. */
time_t acme_response_retry_after(const struct http_response *resp);

/* True when the error response `resp` may hold a problem document (RFC 7807): its type says
 * so, or its body looks like JSON (some servers forget the type). */
bool acme_response_may_be_problem(const struct http_response *resp);

#endif
