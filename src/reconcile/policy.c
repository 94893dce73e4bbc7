/* policy: renewal timing and backoff (DESIGN.md §4). */
#include "reconcile/policy.h"

#include <string.h>

#define DAY 86400

time_t policy_due(const struct policy_cert *c, int margin_days, enum policy_why *why)
{
    time_t life = c->not_after - c->not_before;

    if (c->ari_chosen > 0) {
        *why = WHY_ARI;
        return c->ari_chosen;
    }
    if (margin_days > 0) {
        *why = WHY_MARGIN;
        return c->not_after - (time_t)margin_days * DAY;
    }
    *why = WHY_LIFETIME;
    if (life <= 0)
        return c->not_before; /* a nonsensical certificate: renew now */
    /* Short-lived certificates get half their life as margin: with a third, a six-day
     * certificate would leave only two days to notice and fix a failure. */
    return c->not_after - (life < 10 * DAY ? life / 2 : life / 3);
}

/* Scales the random value onto the window with a 64x64->128 multiplication: every second of
 * the window gets the same share of the 2^64 inputs, up to one part in 2^64 / span. */
time_t policy_ari_pick(time_t start, time_t end, uint64_t random_u64)
{
    uint64_t span;

    if (end <= start)
        return start;
    span = (uint64_t)end - (uint64_t)start;
    return (time_t)((uint64_t)start + (uint64_t)(((unsigned __int128)random_u64 * span) >> 64));
}

const char *policy_why_str(enum policy_why why)
{
    switch (why) {
    case WHY_ARI:
        return "ari";
    case WHY_MARGIN:
        return "margin";
    case WHY_LIFETIME:
        return "lifetime";
    }
    return "unknown";
}

bool policy_critical(const struct policy_cert *c, int critical_days, time_t now)
{
    time_t life = c->not_after - c->not_before;

    if (critical_days > 0)
        return c->not_after - now < (time_t)critical_days * DAY;
    return c->not_after - now < life / 10;
}

time_t policy_backoff(unsigned failures)
{
    static const time_t steps[] = {60, 600, 6000};

    if (failures == 0)
        return 0;
    if (failures <= sizeof steps / sizeof steps[0])
        return steps[failures - 1];
    return DAY;
}

time_t policy_next_attempt(time_t now, unsigned failures, time_t retry_after_s)
{
    time_t b = now + policy_backoff(failures);
    time_t r = retry_after_s >= 0 ? now + retry_after_s : 0;

    return r > b ? r : b;
}

bool policy_drop_replaces(long status, const char *type)
{
    static const char ns[] = "urn:ietf:params:acme:error:";
    static const char *const keep[] = {"rateLimited", "badNonce", "accountDoesNotExist"};

    if (status < 400 || status > 499 || status == 429)
        return false;
    if (type && !strncmp(type, ns, sizeof ns - 1))
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
            if (!strcmp(type + sizeof ns - 1, keep[i]))
                return false;
    return true;
}
