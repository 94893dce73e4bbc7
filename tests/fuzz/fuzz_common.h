/* fuzz_common: helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Each target is a pure parser driven over one input buffer. The parsers log warnings
 * (unknown YAML keys and the like) that would drown libFuzzer's own output, so the targets
 * silence logging once at start-up. */
#ifndef ACMED_FUZZ_COMMON_H
#define ACMED_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* A NUL-terminated copy of data[0..n) for the parsers that take C strings (an embedded NUL
 * simply ends the string early, as it would in a header value). Caller frees; NULL on
 * allocation failure. */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);

    if (s) {
        if (n)
            memcpy(s, data, n);
        s[n] = '\0';
    }
    return s;
}

/* An exact-size heap copy of data[0..n) with no terminator, so that ASan catches any read
 * past the length a parser was given. Caller frees; NULL on allocation failure. */
static inline char *fuzz_memdup(const uint8_t *data, size_t n)
{
    char *s = malloc(n ? n : 1);

    if (s && n)
        memcpy(s, data, n);
    return s;
}

/* Splits data at the first occurrence of the byte sequence sep (sep_len bytes): *a and *b
 * get the two halves; without sep, *a is everything and *b is NULL with *b_len 0. */
static inline void fuzz_split(const uint8_t *data, size_t n, const char *sep, size_t sep_len,
                              const uint8_t **a, size_t *a_len, const uint8_t **b, size_t *b_len)
{
    *a = data;
    *a_len = n;
    *b = NULL;
    *b_len = 0;
    for (size_t i = 0; sep_len <= n && i <= n - sep_len; i++) {
        if (memcmp(data + i, sep, sep_len) == 0) {
            *a_len = i;
            *b = data + i + sep_len;
            *b_len = n - i - sep_len;
            return;
        }
    }
}

#define FUZZ_QUIET_LOGS()                                                                          \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                             \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        log_set_level(LL_EMERG);                                                                   \
        return 0;                                                                                  \
    }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
