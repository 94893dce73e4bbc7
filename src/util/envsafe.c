/* envsafe: the variables a configuration file may not set for hooks (see envsafe.h). */
#include "util/envsafe.h"

#include <string.h>

/* Families: the dynamic loader (LD_, and DYLD_ for completeness), glibc's malloc debugging
 * and iconv modules, interpreters' module paths and start-up options, git's helpers and
 * commands (hooks often call git), the XDG base directories (where many tools read
 * configuration that can name commands), and exported bash functions. */
static const char *const prefixes[] = {
    "LD_", "DYLD_", "MALLOC_", "GCONV_", "PYTHON", "PERL5", "LUA_", "GIT_", "XDG_", "BASH_FUNC_",
};

/* glibc's own list of variables it drops for set-user-id programs (unsecvars.h), the
 * shells' start-up files and tracing, and what makes common tools load code, run a helper
 * or read a configuration file from elsewhere. */
/* clang-format off */
static const char *const names[] = {
    "GLIBC_TUNABLES", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "NIS_PATH",
    "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
    "BASH_ENV", "ENV", "PATH", "IFS", "CDPATH", "GLOBIGNORE", "SHELLOPTS", "BASHOPTS", "PS4",
    "PROMPT_COMMAND", "SHELL", "HOME",
    "PERLLIB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "NODE_PATH", "OPENSSL_CONF",
    "OPENSSL_ENGINES", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
    "PHPRC", "PHP_INI_SCAN_DIR", "TCLLIBPATH", "CURL_HOME", "WGETRC",
    "EDITOR", "VISUAL", "PAGER", "SYSTEMD_PAGER", "SYSTEMD_EDITOR", "LESSOPEN", "LESSCLOSE",
    "SSH_ASKPASS", "SUDO_ASKPASS", "KRB5_CONFIG",
    "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
};
/* clang-format on */

bool envsafe_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

bool envsafe_name_allowed(const char *name, size_t len)
{
    if (!envsafe_name_valid(name, len))
        return false;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i]);

        if (len >= pl && memcmp(name, prefixes[i], pl) == 0)
            return false;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(name, names[i], len) == 0)
            return false;
    return true;
}
