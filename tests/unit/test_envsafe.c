/* Unit tests for util/envsafe: the variables a configuration file may not hand to hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/envsafe.h"

static bool allowed(const char *name)
{
    return envsafe_name_allowed(name, strlen(name));
}

static void test_refused(void **state)
{
    /* The ones the security finding names, and a few of each family. */
    /* clang-format off */
    static const char *const refused[] = {
        "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_", "GCONV_PATH", "GETCONF_DIR",
        "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_CHECK_", "MALLOC_TRACE", "NIS_PATH",
        "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR", "BASH_ENV", "ENV",
        "PATH", "IFS", "SHELLOPTS", "BASHOPTS", "PS4", "PYTHONPATH", "PYTHONSTARTUP",
        "PYTHONHOME", "PERL5LIB", "PERL5OPT", "PERLLIB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS",
        "BASH_FUNC_x", "GLIBC_TUNABLES", "OPENSSL_CONF", "HOME", "XDG_CONFIG_HOME",
        "GIT_SSH_COMMAND", "CDPATH", "NOTIFY_SOCKET", "JAVA_TOOL_OPTIONS", "SHELL",
    };
    /* clang-format on */

    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (allowed(refused[i]))
            fail_msg("%s is allowed", refused[i]);
}

static void test_allowed_and_syntax(void **state)
{
    static const char *const ok[] = {
        "ZONE",          "TTL",        "A",    "_",           "_X1",  "PATHS",   "MY_PATH",
        "MY_LD_PRELOAD", "ld_preload", "Path", "ENVIRONMENT", "IFS2", "HOMEDIR", "ACME_DNS_SERVER"};
    static const char *const bad[] = {"",    "1X",       "A-B", "A=B", "A B", "BASH_FUNC_f%%",
                                      "A\n", "\xc3\xa9T"};

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!allowed(ok[i]))
            fail_msg("%s is refused", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(envsafe_name_valid(bad[i], strlen(bad[i])));
        assert_false(allowed(bad[i]));
    }
    /* Lengths are honoured: "PATH=..." is judged by its name alone, and a NUL inside is no
     * name character. */
    assert_false(envsafe_name_allowed("PATH=/tmp", 4));
    assert_true(envsafe_name_allowed("PATHX=/tmp", 5));
    assert_true(envsafe_name_allowed("LD_PRELOAD", 2)); /* "LD" */
    assert_false(envsafe_name_valid("A\0B", 3));
    assert_false(envsafe_name_valid(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_allowed_and_syntax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
