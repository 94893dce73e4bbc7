/* fuzz_desired: desired_parse (src/store/desired.h) over one desired file, alone and merged
 * over a conf/target text.
 *
 * Input: the desired file's text, optionally followed by a line "#--defaults--\n" and the
 * conf/target text. Without the separator the text is parsed once without defaults and once
 * as its own defaults (both sides of the merge see hostile YAML). */
#include "fuzz_common.h"

#include "store/desired.h"
#include "store/target.h"

FUZZ_QUIET_LOGS()

static void parse(const uint8_t *text, size_t len, const uint8_t *def, size_t def_len,
                  int with_defaults)
{
    char *t = fuzz_memdup(text, len);
    char *d = with_defaults ? fuzz_memdup(def, def_len) : NULL;
    struct target tg;
    struct err e;

    memset(&tg, 0, sizeof tg);
    err_clear(&e);
    if (t && (!with_defaults || d) &&
        desired_parse("fuzz.example.com", t, len, d, with_defaults ? def_len : 0, &tg, &e) == 0)
        target_clear(&tg);
    free(t);
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "#--defaults--\n";
    const uint8_t *a, *b;
    size_t alen, blen;

    fuzz_split(data, size, sep, sizeof sep - 1, &a, &alen, &b, &blen);
    if (b) {
        parse(a, alen, b, blen, 1);
    } else {
        parse(a, alen, NULL, 0, 0);
        parse(a, alen, a, alen, 1);
    }
    return 0;
}
