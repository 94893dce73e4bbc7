/* log: leveled logging to stderr.
 *
 * Levels follow syslog priorities. When JOURNAL_STREAM is set (we run under systemd) each
 * line starts with "<N>" so journald records the priority; otherwise lines look like
 * "acmed: error: message". Messages must never contain private key material. */
#ifndef ACMED_UTIL_LOG_H
#define ACMED_UTIL_LOG_H

enum log_level {
    LL_EMERG = 0,
    LL_ALERT = 1,
    LL_CRIT = 2,
    LL_ERR = 3,
    LL_WARN = 4,
    LL_NOTICE = 5,
    LL_INFO = 6,
    LL_DEBUG = 7,
};

/* Reads JOURNAL_STREAM from the environment; call once at start-up (and again in tests after
 * changing the environment). Safe to call many times. */
void log_init(void);

/* Messages above `level` are dropped. Default LL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "debug", "info", "notice", "warning", "error", "critical" into *out. Returns 0, or
 * -EINVAL for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);

/* Writes one line (a trailing newline is added; embedded newlines become separate lines with
 * the same prefix). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats the prefix for `level` into buf (e.g. "<3>" or "acmed: error: "). Pure; exposed
 * for tests. Returns buf. */
const char *log_prefix(enum log_level level, int journal, char *buf, unsigned len);

#define log_crit(...) log_msg(LL_CRIT, __VA_ARGS__)
#define log_err(...) log_msg(LL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LL_DEBUG, __VA_ARGS__)

#endif
