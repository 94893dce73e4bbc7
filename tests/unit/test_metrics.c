/* Unit tests for daemon/metrics: exact sample lines, label escaping, a strict checker of the
 * Prometheus text format 0.0.4 (in C here, and an independent one in Python when python3 is
 * available), and atomic 0644 writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/testutil.h"
#include "daemon/metrics.h"

/* The sample: a target with a certificate, and one without whose name needs escaping. */
#define WEIRD "we\"ird\\name\nnext"
#define WEIRD_ESC "we\\\"ird\\\\name\\nnext"

static const struct metrics_target sample_targets[] = {
    {"www.example.org", "3f2a9c1e", 1767225600, 1764547200, 1762000000, 0, true},
    {WEIRD, NULL, 0, 0, 0, 3, false},
};

static const struct metrics sample = {
    .targets = sample_targets,
    .ntargets = 2,
    .passes_total = 7,
    .orders_total = 3,
    .requests_total = 120,
    .failures_total = 2,
    .certificates_issued_total = 1,
    .last_pass = 1762000100,
    .orders_in_flight = 1,
};

static const char *const all_metrics[][2] = {
    {"acmed_certificate_not_after_seconds", "gauge"},
    {"acmed_certificate_next_renewal_seconds", "gauge"},
    {"acmed_target_last_success_seconds", "gauge"},
    {"acmed_target_failures", "gauge"},
    {"acmed_target_satisfied", "gauge"},
    {"acmed_passes_total", "counter"},
    {"acmed_orders_total", "counter"},
    {"acmed_requests_total", "counter"},
    {"acmed_failures_total", "counter"},
    {"acmed_certificates_issued_total", "counter"},
    {"acmed_last_pass_seconds", "gauge"},
    {"acmed_orders_in_flight", "gauge"},
};
#define NMETRICS (sizeof all_metrics / sizeof all_metrics[0])

/* ---- A strict checker of the text exposition format ------------------------------------ */

#define CK_MAX_NAMES 64
#define CK_MAX_SERIES 512

struct ck_metric {
    char name[128];
    bool help, type, is_counter;
    unsigned samples;
};

struct checker {
    struct ck_metric m[CK_MAX_NAMES];
    size_t n;
    char *series[CK_MAX_SERIES];
    size_t nseries;
    int current; /* index of the metric whose lines are being read, -1 before any */
    char why[256];
};

static bool is_name_start(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool is_name_char(char c, bool colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* Length of a metric name (colon allowed) or label name at s; 0 when none. */
static size_t name_len(const char *s, bool colon)
{
    size_t i = 0;

    if (!is_name_start(s[0], colon))
        return 0;
    while (is_name_char(s[i], colon))
        i++;
    return i;
}

static bool valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0, k, n;
    uint32_t cp;

    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* A Go ParseFloat-style number: [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?, or
 * [+-]Inf, or NaN. Returns its length, 0 when none. */
static size_t float_len(const char *s)
{
    size_t i = 0, d = 0;

    if (strncmp(s, "NaN", 3) == 0)
        return 3;
    if (s[i] == '+' || s[i] == '-')
        i++;
    if (strncmp(s + i, "Inf", 3) == 0)
        return i + 3;
    while (s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, d++;
    }
    if (d == 0)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1, e = 0;
        if (s[j] == '+' || s[j] == '-')
            j++;
        while (s[j] >= '0' && s[j] <= '9')
            j++, e++;
        if (e == 0)
            return 0;
        i = j;
    }
    return i;
}

static int ck_fail(struct checker *c, int line, const char *what)
{
    snprintf(c->why, sizeof c->why, "line %d: %s", line, what);
    return -1;
}

/* Finds or adds the metric `name` (len bytes) and enforces grouping: all lines of one metric
 * are contiguous. Returns its index, or -1 (c->why set). */
static int ck_enter(struct checker *c, int line, const char *name, size_t len)
{
    size_t i;

    if (len >= sizeof c->m[0].name)
        return ck_fail(c, line, "name too long");
    for (i = 0; i < c->n; i++)
        if (strlen(c->m[i].name) == len && memcmp(c->m[i].name, name, len) == 0)
            break;
    if (i == c->n) {
        if (c->n == CK_MAX_NAMES)
            return ck_fail(c, line, "too many metrics");
        memcpy(c->m[i].name, name, len);
        c->m[i].name[len] = '\0';
        c->n++;
    } else if ((int)i != c->current) {
        return ck_fail(c, line, "lines of one metric are not grouped together");
    }
    c->current = (int)i;
    return (int)i;
}

static int ck_comment(struct checker *c, int line, const char *s)
{
    bool help = strncmp(s, "# HELP ", 7) == 0;
    size_t n;
    int mi;

    if (!help && strncmp(s, "# TYPE ", 7) != 0)
        return ck_fail(c, line, "comment is neither HELP nor TYPE");
    s += 7;
    n = name_len(s, true);
    if (n == 0 || s[n] != ' ')
        return ck_fail(c, line, "bad metric name in comment");
    if ((mi = ck_enter(c, line, s, n)) < 0)
        return -1;
    if (c->m[mi].samples > 0)
        return ck_fail(c, line, "HELP or TYPE after samples");
    s += n + 1;
    if (help) {
        if (c->m[mi].help)
            return ck_fail(c, line, "second HELP");
        c->m[mi].help = true;
        if (!*s)
            return ck_fail(c, line, "empty HELP");
        for (; *s; s++)
            if (*s == '\\' && (s[1] != '\\' && s[1] != 'n'))
                return ck_fail(c, line, "bad escape in HELP");
            else if (*s == '\\')
                s++;
        return 0;
    }
    if (c->m[mi].type)
        return ck_fail(c, line, "second TYPE");
    c->m[mi].type = true;
    if (strcmp(s, "counter") == 0)
        c->m[mi].is_counter = true;
    else if (strcmp(s, "gauge") != 0)
        return ck_fail(c, line, "TYPE is neither gauge nor counter");
    return 0;
}

/* name{label="value",...} number [timestamp] */
static int ck_sample(struct checker *c, int line, const char *s)
{
    const char *start = s, *lnames[16];
    size_t n = name_len(s, true), nl = 0, ln[16], i;
    int mi;

    if (n == 0)
        return ck_fail(c, line, "bad metric name");
    if ((mi = ck_enter(c, line, s, n)) < 0)
        return -1;
    if (!c->m[mi].type)
        return ck_fail(c, line, "sample before its TYPE");
    s += n;
    if (*s == '{') {
        s++;
        for (;;) {
            size_t l = name_len(s, false);
            if (l == 0 || (l >= 2 && s[0] == '_' && s[1] == '_'))
                return ck_fail(c, line, "bad label name");
            if (nl == 16)
                return ck_fail(c, line, "too many labels");
            for (i = 0; i < nl; i++)
                if (ln[i] == l && memcmp(lnames[i], s, l) == 0)
                    return ck_fail(c, line, "repeated label");
            lnames[nl] = s;
            ln[nl++] = l;
            s += l;
            if (s[0] != '=' || s[1] != '"')
                return ck_fail(c, line, "label without =\"");
            for (s += 2; *s != '"'; s++) {
                if (!*s)
                    return ck_fail(c, line, "unterminated label value");
                if (*s == '\\') {
                    if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                        return ck_fail(c, line, "bad escape in label value");
                    s++;
                }
            }
            s++;
            if (*s == '}')
                break;
            if (*s != ',')
                return ck_fail(c, line, "expected , or } after a label");
            s++;
        }
        s++;
    }
    /* The series (name and labels) must be unique. */
    for (i = 0; i < c->nseries; i++)
        if (strlen(c->series[i]) == (size_t)(s - start) &&
            memcmp(c->series[i], start, (size_t)(s - start)) == 0)
            return ck_fail(c, line, "duplicate series");
    if (c->nseries == CK_MAX_SERIES)
        return ck_fail(c, line, "too many series");
    c->series[c->nseries] = strndup(start, (size_t)(s - start));
    assert_non_null(c->series[c->nseries++]);
    if (*s++ != ' ')
        return ck_fail(c, line, "no single space before the value");
    n = float_len(s);
    if (n == 0)
        return ck_fail(c, line, "bad value");
    if (c->m[mi].is_counter && (s[0] == '-' || s[0] == 'N'))
        return ck_fail(c, line, "negative or NaN counter");
    s += n;
    if (*s == ' ') {
        s++;
        if (*s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return ck_fail(c, line, "bad timestamp");
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s)
        return ck_fail(c, line, "trailing characters");
    c->m[mi].samples++;
    return 0;
}

/* Checks a whole document; returns 0, or -1 with the reason in `why`. */
static int check_exposition(const char *text, char *why, size_t whysize)
{
    struct checker *c = calloc(1, sizeof *c);
    size_t len = strlen(text), i;
    const char *p = text;
    int line = 0, rc = 0;

    assert_non_null(c);
    c->current = -1;
    if (len == 0 || text[len - 1] != '\n')
        rc = ck_fail(c, 0, "empty, or no newline at the end");
    else if (!valid_utf8((const unsigned char *)text, len))
        rc = ck_fail(c, 0, "not UTF-8");
    while (rc == 0 && *p) {
        const char *nl = strchr(p, '\n');
        char *l = strndup(p, (size_t)(nl - p));

        assert_non_null(l);
        line++;
        if (!*l)
            rc = ck_fail(c, line, "empty line");
        else if (strchr(l, '\r'))
            rc = ck_fail(c, line, "carriage return");
        else if (l[0] == '#')
            rc = ck_comment(c, line, l);
        else
            rc = ck_sample(c, line, l);
        free(l);
        p = nl + 1;
    }
    for (i = 0; rc == 0 && i < c->n; i++)
        if (!c->m[i].help || !c->m[i].type) {
            snprintf(c->why, sizeof c->why, "%s lacks HELP or TYPE", c->m[i].name);
            rc = -1;
        }
    snprintf(why, whysize, "%s", c->why);
    for (i = 0; i < c->nseries; i++)
        free(c->series[i]);
    free(c);
    return rc;
}

static void assert_valid(const char *text)
{
    char why[256] = "";

    if (check_exposition(text, why, sizeof why) != 0)
        fail_msg("invalid exposition: %s\n---\n%s---", why, text);
}

/* ---- An independent Python validator ----------------------------------------------------- */

static const char py_validator[] =
    "import re, sys\n"
    "NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'\n"
    "LNAME = r'[a-zA-Z_][a-zA-Z0-9_]*'\n"
    "LVAL = r'\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"'\n"
    "PAIR = '(' + LNAME + ')=(' + LVAL + ')'\n"
    "LABELS = r'\\{(?:' + LNAME + '=' + LVAL + '(?:,' + LNAME + '=' + LVAL + r')*)?\\}'\n"
    "FLOAT = r'(?:[+-]?(?:(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|Inf)|NaN)'\n"
    "SAMPLE = re.compile('(' + NAME + ')(' + LABELS + ')? (' + FLOAT + r')(?: -?\\d+)?')\n"
    "HELP = re.compile(r'# HELP (' + NAME + r') ((?:[^\\\\\\n]|\\\\[\\\\n])+)')\n"
    "TYPE = re.compile(r'# TYPE (' + NAME + r') (counter|gauge)')\n"
    "def die(n, msg):\n"
    "    print('line %d: %s' % (n, msg)); sys.exit(1)\n"
    "def unescape(v):\n"
    "    return re.sub(r'\\\\(.)', lambda m: '\\n' if m.group(1) == 'n' else m.group(1), v)\n"
    "with open(sys.argv[1], 'rb') as f: text = f.read().decode('utf-8')\n"
    "if not text.endswith('\\n'): die(0, 'no final newline')\n"
    "helps, types, done, series, targets = set(), {}, set(), set(), set()\n"
    "cur = None\n"
    "for n, line in enumerate(text.split('\\n')[:-1], 1):\n"
    "    m = HELP.fullmatch(line) or TYPE.fullmatch(line) or SAMPLE.fullmatch(line)\n"
    "    if not m: die(n, 'does not parse: %r' % line)\n"
    "    name = m.group(1)\n"
    "    if name != cur:\n"
    "        if name in done: die(n, 'not grouped')\n"
    "        if cur: done.add(cur)\n"
    "        cur = name\n"
    "    if line.startswith('# HELP '):\n"
    "        if name in helps or any(s[0] == name for s in series): die(n, 'late/second HELP')\n"
    "        helps.add(name)\n"
    "    elif line.startswith('# TYPE '):\n"
    "        if name in types or any(s[0] == name for s in series): die(n, 'late/second TYPE')\n"
    "        types[name] = m.group(2)\n"
    "    else:\n"
    "        if name not in types or name not in helps: die(n, 'no HELP/TYPE before sample')\n"
    "        pairs = re.findall(PAIR, m.group(2) or '')\n"
    "        keys = [k for k, _ in pairs]\n"
    "        if len(set(keys)) != len(keys): die(n, 'repeated label')\n"
    "        if any(k.startswith('__') for k in keys): die(n, 'reserved label')\n"
    "        key = (name, tuple(sorted((k, unescape(v[1:-1])) for k, v in pairs)))\n"
    "        if key in series: die(n, 'duplicate series')\n"
    "        series.add(key)\n"
    "        v = float(m.group(3))\n"
    "        if types[name] == 'counter' and not v >= 0: die(n, 'bad counter')\n"
    "        targets.update(unescape(v[1:-1]) for k, v in pairs if k == 'target')\n"
    "print('ok %d' % len(series))\n"
    "for t in sorted(targets): print('target ' + t.encode('utf-8').hex())\n";

static bool have_python(void)
{
    return system("command -v python3 >/dev/null 2>&1") == 0;
}

/* Runs the Python validator over `text`; returns its output (caller frees) after asserting
 * that it exited 0. */
static char *python_check(const char *text)
{
    char *dir = tu_mkdtemp("metrics-py");
    char script[4096], doc[4096], cmd[8400];
    char *out = calloc(1, 65536);
    size_t n = 0, r;
    FILE *f;
    int status;

    assert_non_null(out);
    snprintf(script, sizeof script, "%s/check.py", dir);
    snprintf(doc, sizeof doc, "%s/metrics.prom", dir);
    tu_write_file(script, py_validator);
    tu_write_file(doc, text);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' 2>&1", script, doc);
    f = popen(cmd, "r");
    assert_non_null(f);
    while ((r = fread(out + n, 1, 65535 - n, f)) > 0)
        n += r;
    status = pclose(f);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("python validator failed: %s\n---\n%s---", out, text);
    tu_rmtree(dir);
    free(dir);
    return out;
}

/* ---- Helpers ------------------------------------------------------------------------------ */

static bool has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l == len && memcmp(p, line, len) == 0)
            return true;
        if (!nl)
            break;
        p = nl + 1;
    }
    return false;
}

/* The number of lines that start with `prefix`. */
static int count_prefix(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);
    const char *p = text;
    int n = 0;

    while (*p) {
        const char *nl = strchr(p, '\n');
        if (strncmp(p, prefix, len) == 0)
            n++;
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static void assert_all_declared(const char *text)
{
    char line[256];

    for (size_t i = 0; i < NMETRICS; i++) {
        snprintf(line, sizeof line, "# TYPE %s %s", all_metrics[i][0], all_metrics[i][1]);
        assert_true(has_line(text, line));
        snprintf(line, sizeof line, "# HELP %s ", all_metrics[i][0]);
        assert_int_equal(count_prefix(text, line), 1);
        snprintf(line, sizeof line, "# TYPE %s ", all_metrics[i][0]);
        assert_int_equal(count_prefix(text, line), 1);
    }
}

/* ---- Tests --------------------------------------------------------------------------------- */

/* The checker itself must be able to fail, or it proves nothing. */
static void test_checker_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "# HELP a h\n# TYPE a gauge\na 1",
        "a 1\n",
        "# HELP a h\n# TYPE a gauge\n\na 1\n",
        "# HELP a h\n# TYPE a gauge\n# TYPE a gauge\na 1\n",
        "# HELP a h\n# HELP a h\n# TYPE a gauge\na 1\n",
        "# HELP a h\n# TYPE a gauge\na 1\n# HELP b h\n# TYPE b gauge\nb 1\na{x=\"y\"} 2\n",
        "# HELP a h\n# TYPE a gauge\na 1\n# TYPE a gauge\n",
        "# HELP a h\n# TYPE a summary\na 1\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"y\\q\"} 1\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"y\"z\"} 1\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"y} 1\n",
        "# HELP a h\n# TYPE a gauge\na{0x=\"y\"} 1\n",
        "# HELP a h\n# TYPE a gauge\na{__x=\"y\"} 1\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"y\"} 1\na{x=\"y\"} 2\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"y\"} one\n",
        "# HELP a h\n# TYPE a gauge\na  1\n",
        "# HELP a h\n# TYPE a gauge\na 1 \n",
        "# HELP a h\n# TYPE a gauge\na 1\r\n",
        "# HELP a h\n# TYPE a counter\na -1\n",
        "# HELP a h\n# TYPE a gauge\na{x=\"\xff\"} 1\n",
        "# HELP a bad\\escape\n# TYPE a gauge\na 1\n",
        "# TYPE a gauge\na 1\n",
        "# a comment\n# HELP a h\n# TYPE a gauge\na 1\n",
        "# HELP 1a h\n# TYPE 1a gauge\n1a 1\n",
    };
    char why[256];

    (void)state;
    assert_int_equal(check_exposition("# HELP a h\\n\\\\\n# TYPE a gauge\na{x=\"\\\"\\n\\\\\"} "
                                      "1.5e3\na{x=\"2\"} -Inf\n",
                                      why, sizeof why),
                     0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (check_exposition(bad[i], why, sizeof why) == 0)
            fail_msg("checker accepted bad document %zu:\n%s", i, bad[i]);
}

static void test_format_sample(void **state)
{
    char *text = metrics_format(&sample);

    (void)state;
    assert_non_null(text);
    assert_true(has_line(text, "acmed_certificate_not_after_seconds{target=\"www.example.org\","
                               "cert_id=\"3f2a9c1e\"} 1767225600"));
    assert_true(has_line(text, "acmed_certificate_next_renewal_seconds{target=\"www.example.org\"} "
                               "1764547200"));
    assert_true(
        has_line(text, "acmed_target_last_success_seconds{target=\"www.example.org\"} 1762000000"));
    assert_true(has_line(text, "acmed_target_failures{target=\"www.example.org\"} 0"));
    assert_true(has_line(text, "acmed_target_failures{target=\"" WEIRD_ESC "\"} 3"));
    assert_true(has_line(text, "acmed_target_satisfied{target=\"www.example.org\"} 1"));
    assert_true(has_line(text, "acmed_target_satisfied{target=\"" WEIRD_ESC "\"} 0"));
    assert_true(has_line(text, "# TYPE acmed_passes_total counter"));
    assert_true(has_line(text, "# TYPE acmed_target_failures gauge"));
    assert_true(has_line(text, "acmed_passes_total 7"));
    assert_true(has_line(text, "acmed_orders_total 3"));
    assert_true(has_line(text, "acmed_requests_total 120"));
    assert_true(has_line(text, "acmed_failures_total 2"));
    assert_true(has_line(text, "acmed_certificates_issued_total 1"));
    assert_true(has_line(text, "acmed_last_pass_seconds 1762000100"));
    assert_true(has_line(text, "acmed_orders_in_flight 1"));
    /* Unknown values of the second target are left out, not written as 0. */
    assert_int_equal(count_prefix(text, "acmed_certificate_not_after_seconds{"), 1);
    assert_int_equal(count_prefix(text, "acmed_certificate_next_renewal_seconds{"), 1);
    assert_int_equal(count_prefix(text, "acmed_target_last_success_seconds{"), 1);
    assert_int_equal(count_prefix(text, "acmed_target_failures{"), 2);
    assert_int_equal(count_prefix(text, "acmed_target_satisfied{"), 2);
    /* 24 comment lines and 14 samples, nothing else. */
    assert_int_equal(count_prefix(text, "#"), 24);
    assert_int_equal(count_prefix(text, ""), 38);
    assert_all_declared(text);
    assert_valid(text);

    if (have_python()) {
        char *out = python_check(text);
        /* The escaped name decodes back to the original bytes. */
        assert_true(strncmp(out, "ok 14\n", 6) == 0);
        assert_non_null(strstr(out, "target 7765226972645c6e616d650a6e657874\n"));
        assert_non_null(strstr(out, "target 7777772e6578616d706c652e6f7267\n"));
        free(out);
    } else {
        print_message("python3 not found: skipping the Python validator\n");
    }
    free(text);
}

/* No targets and nothing counted yet: every metric is still declared, and valid. */
static void test_format_empty(void **state)
{
    struct metrics m = {0};
    char *text = metrics_format(&m);

    (void)state;
    assert_non_null(text);
    assert_all_declared(text);
    assert_int_equal(count_prefix(text, "acmed_"), 7);
    assert_true(has_line(text, "acmed_passes_total 0"));
    assert_true(has_line(text, "acmed_last_pass_seconds 0"));
    assert_valid(text);
    if (have_python())
        free(python_check(text));
    free(text);
}

/* Extremes: the largest counters, a certificate without an id, and names that are not valid
 * UTF-8 (a scraper would reject the whole file) or need every escape at once. */
static void test_format_edges(void **state)
{
    const struct metrics_target t[] = {
        {"bad\xff\xc3(utf8", "id\"\\\n", 4102444800, 0, 0, UINT32_MAX, true},
        {"caf\xc3\xa9 \xf0\x9f\x94\x92", NULL, 1, 0, 0, 0, false},
        {"\\\\\"\"\n\n", NULL, 0, 0, 0, 0, false},
        {"", NULL, 0, 0, 0, 0, false},
    };
    struct metrics m = {.targets = t,
                        .ntargets = 4,
                        .passes_total = UINT64_MAX,
                        .requests_total = UINT64_MAX - 1,
                        .orders_in_flight = UINT32_MAX};
    char *text = metrics_format(&m);

    (void)state;
    assert_non_null(text);
    assert_true(has_line(text, "acmed_certificate_not_after_seconds{target=\"bad\xef\xbf\xbd"
                               "\xef\xbf\xbd(utf8\",cert_id=\"id\\\"\\\\\\n\"} 4102444800"));
    assert_true(has_line(text, "acmed_certificate_not_after_seconds{target=\"caf\xc3\xa9 "
                               "\xf0\x9f\x94\x92\",cert_id=\"\"} 1"));
    assert_true(has_line(text, "acmed_target_failures{target=\"bad\xef\xbf\xbd\xef\xbf\xbd"
                               "(utf8\"} 4294967295"));
    assert_true(has_line(text, "acmed_target_failures{target=\"\\\\\\\\\\\"\\\"\\n\\n\"} 0"));
    assert_true(has_line(text, "acmed_passes_total 18446744073709551615"));
    assert_true(has_line(text, "acmed_requests_total 18446744073709551614"));
    assert_true(has_line(text, "acmed_orders_in_flight 4294967295"));
    assert_valid(text);
    if (have_python()) {
        char *out = python_check(text);
        assert_true(strncmp(out, "ok ", 3) == 0);
        free(out);
    }
    free(text);
}

/* Fleet mode adds whether etcd answered; outside it the metric is not there at all. */
static void test_format_cluster(void **state)
{
    struct metrics m = {.cluster = true, .cluster_up = false};
    char *text = metrics_format(&m);

    (void)state;
    assert_non_null(text);
    assert_true(has_line(text, "# TYPE acmed_cluster_etcd_up gauge"));
    assert_true(has_line(text, "acmed_cluster_etcd_up 0"));
    assert_valid(text);
    free(text);
    m.cluster_up = true;
    text = metrics_format(&m);
    assert_true(has_line(text, "acmed_cluster_etcd_up 1"));
    free(text);
    m.cluster = false;
    text = metrics_format(&m);
    assert_null(strstr(text, "acmed_cluster_etcd_up"));
    free(text);
}

static ino_t inode_of(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp-", 5) == 0)
            n++;
    closedir(d);
    return n;
}

static void test_write(void **state)
{
    char *dir = tu_mkdtemp("metrics");
    char path[4096], bad[4096];
    struct metrics m = sample;
    struct err e;
    struct stat st;
    char *want = NULL, *got = NULL, old[64] = "";
    mode_t mask = umask(077);
    ino_t ino;
    ssize_t n;
    int fd;

    (void)state;
    snprintf(path, sizeof path, "%s/acmed.prom", dir);
    assert_int_equal(metrics_write(path, &m, &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0644);
    want = metrics_format(&m);
    got = tu_read_file(path, NULL);
    assert_string_equal(got, want);
    free(want);
    free(got);

    /* A reader holding the old file keeps seeing it whole: the new one replaces it by rename,
     * it is not rewritten in place. */
    ino = inode_of(path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    m.passes_total = 8;
    assert_int_equal(metrics_write(path, &m, &e), 0);
    assert_true(inode_of(path) != ino);
    n = pread(fd, old, sizeof old - 1, 0);
    assert_true(n > 0);
    assert_true(strncmp(old, "# HELP acmed_certificate_not_after_seconds", 42) == 0);
    close(fd);
    got = tu_read_file(path, NULL);
    assert_true(has_line(got, "acmed_passes_total 8"));
    assert_false(has_line(got, "acmed_passes_total 7"));
    free(got);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(count_entries(dir), 1); /* no temp file left behind */

    /* A missing directory fails with a message, and leaves nothing. */
    snprintf(bad, sizeof bad, "%s/missing/acmed.prom", dir);
    err_clear(&e);
    assert_true(metrics_write(bad, &m, &e) < 0);
    assert_true(e.code < 0);
    assert_non_null(strstr(e.msg, "metrics"));
    assert_int_equal(count_entries(dir), 1);

    umask(mask);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_rejects), cmocka_unit_test(test_format_sample),
        cmocka_unit_test(test_format_empty),    cmocka_unit_test(test_format_edges),
        cmocka_unit_test(test_write),           cmocka_unit_test(test_format_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
