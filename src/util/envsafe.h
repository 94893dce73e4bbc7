/* envsafe: which environment variables a configuration file may hand to the commands acmed
 * runs as root (hooks, through a target's request.challenge.env).
 *
 * Writing a desired file must not amount to running code as root, so a variable that makes
 * the dynamic loader, the C library, a shell or a script interpreter load code or read files
 * chosen by whoever sets it is refused: names starting with LD_, DYLD_, MALLOC_, GCONV_,
 * PYTHON, PERL5, LUA_, GIT_, XDG_ or BASH_FUNC_, and GLIBC_TUNABLES, GETCONF_DIR,
 * HOSTALIASES, LOCALDOMAIN, LOCPATH, NIS_PATH, NLSPATH, RESOLV_HOST_CONF, RES_OPTIONS, TMPDIR,
 * TZDIR, BASH_ENV, ENV, PATH, IFS, CDPATH, GLOBIGNORE, SHELLOPTS, BASHOPTS, PS4,
 * PROMPT_COMMAND, SHELL, HOME, PERLLIB, RUBYLIB, RUBYOPT, NODE_OPTIONS, NODE_PATH,
 * OPENSSL_CONF, OPENSSL_ENGINES, JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, JDK_JAVA_OPTIONS, CLASSPATH,
 * PHPRC, PHP_INI_SCAN_DIR, TCLLIBPATH, CURL_HOME, WGETRC, EDITOR, VISUAL, PAGER,
 * SYSTEMD_PAGER, SYSTEMD_EDITOR, LESSOPEN, LESSCLOSE, SSH_ASKPASS, SUDO_ASKPASS, KRB5_CONFIG,
 * and systemd's hand-over to the daemon (NOTIFY_SOCKET, WATCHDOG_PID, WATCHDOG_USEC). So is
 * any name that is not [A-Za-z_][A-Za-z0-9_]*. Names are compared exactly (the loader and the
 * shells are case-sensitive). The list is in envsafe.c, one place for the schema and the
 * hook runner. */
#ifndef ACMED_UTIL_ENVSAFE_H
#define ACMED_UTIL_ENVSAFE_H

#include <stdbool.h>
#include <stddef.h>

/* True when the len bytes at name are a portable variable name: [A-Za-z_][A-Za-z0-9_]*. */
bool envsafe_name_valid(const char *name, size_t len);

/* True when the len bytes at name are a valid name that is not on the list above, so a
 * configuration file may set it for a hook. */
bool envsafe_name_allowed(const char *name, size_t len);

#endif
