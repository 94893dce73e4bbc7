/* lookup: how an http-01 listener asks someone else for a token it has no answer for (fleet
 * mode, DESIGN.md §12: the CA may validate through a node that did not order, so a listener
 * that misses asks the process holding the fleet's answers before it answers 404).
 *
 * Its own header, with no code, so that the listener (challenge/http01.h), the table of
 * methods (challenge/responder.h, which includes this) and the processes that relay asks
 * (privsep) share it without including one another. */
#ifndef ACMED_CHALLENGE_LOOKUP_H
#define ACMED_CHALLENGE_LOOKUP_H

/* How long a listener waits for an answer before it says 404. */
#define CHAL_LOOKUP_TIMEOUT_MS 2000
/* Asks one listener has in flight at most; beyond that a miss is 404 at once, so that a flood
 * of random tokens cannot become a flood of reads of the fleet's store. */
#define CHAL_LOOKUP_MAX_INFLIGHT 32

/* The answer to one ask: keyauth (borrowed for the call) is the key authorization published
 * for the token by some node, or NULL when it is unknown (or cannot be known now). */
typedef void (*chal_lookup_done)(void *done_arg, const char *keyauth);

/* A source of answers. Contract of ask(arg, token, done, done_arg):
 *   - token is borrowed for the call only (base64url, at most 256 bytes, checked before);
 *   - done(done_arg, keyauth) is called exactly once: from inside ask, or later from the
 *     loop; never both, never twice, never not at all (an implementation that may wait on
 *     something else bounds the wait itself, and answers NULL when it gives up);
 *   - done_arg stays valid until done: the asker owns it and frees it in done. An asker whose
 *     reason to ask goes away first (a connection closed, a listener freed) orphans it rather
 *     than freeing it, so a late done is never a use-after-free;
 *   - the asker does not trust keyauth: it checks its form and that it is for the token.
 * The struct itself is borrowed by whoever it is given to, for as long as it is set there. */
struct chal_lookup {
    void (*ask)(void *arg, const char *token, chal_lookup_done done, void *done_arg);
    void *arg;
};

#endif
