/* clock: the one source of wall-clock time in acmed, injectable for tests.
 *
 * ACMED_FAKE_NOW=<unix seconds> makes time start at that instant and run on at the normal
 * rate, so renewal logic can be exercised without waiting. */
#ifndef ACMED_UTIL_CLOCK_H
#define ACMED_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Reads ACMED_FAKE_NOW. Returns 0, or -EINVAL when it is set but not a non-negative integer
 * (the clock then stays real). Called implicitly by the first clock_now(). */
int clock_init(void);

/* Current wall-clock time in seconds since the epoch (fake-aware). */
time_t clock_now(void);

/* Current wall-clock time in milliseconds since the epoch (fake-aware). */
int64_t clock_now_ms(void);

/* Monotonic milliseconds, for measuring durations and deadlines; never faked. */
uint64_t clock_mono_ms(void);

/* Formats t as RFC 3339 UTC ("2026-11-24T10:00:00Z") into buf (at least 21 bytes). */
const char *clock_rfc3339(time_t t, char *buf, size_t len);

/* Parses RFC 3339 (fractional seconds and numeric offsets accepted). Returns 0 or -EINVAL. */
int clock_parse_rfc3339(const char *s, time_t *out);

#endif
