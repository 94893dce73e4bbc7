/* sanitize: the one filter every string from a server (a CA, a listener's peer, a signer, etcd)
 * passes through before it is logged, stored or printed (DESIGN.md §8).
 *
 * Control characters (C0, DEL, and C1 spelled in UTF-8 as C2 80..C2 9F, which some terminals
 * act on) and bytes that are not well-formed UTF-8 become '?', so a hostile peer can neither
 * forge log lines nor send escape sequences to a terminal; text longer than SANITIZE_MAX bytes
 * is cut on a character boundary and ends in "...". */
#ifndef ACMED_UTIL_SANITIZE_H
#define ACMED_UTIL_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest sanitised text, in bytes (the "..." of a cut included): enough for a rateLimited
 * problem's detail with its unpause URL. */
#define SANITIZE_MAX 1024

/* Writes the sanitised form of the len bytes at src into dst (size bytes, size >= 4), always
 * NUL-terminated, cut with "..." where it does not fit. dst may be src (the output is never
 * longer than the input). An embedded NUL is a control character. Returns the length
 * written. */
size_t sanitize_into(char *dst, size_t size, const char *src, size_t len);

/* sanitize_into for one line of the log: the same filter, but a tab is kept (hook output
 * uses it). */
size_t sanitize_log_line(char *dst, size_t size, const char *src, size_t len);

/* A sanitised copy of the NUL-terminated s, at most SANITIZE_MAX bytes with its NUL.
 * Caller frees; NULL when s is NULL or memory runs out. */
char *sanitize_dup(const char *s);

/* sanitize_dup with another cap (max bytes with the NUL, at least 4): for a message of
 * acmed's own that quotes server text (an error stored in state/, shown by status). */
char *sanitize_dup_max(const char *s, size_t max);

/* True when the NUL-terminated s would come out of sanitize_dup unchanged. */
bool sanitize_is_clean(const char *s);

#endif
