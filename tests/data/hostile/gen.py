#!/usr/bin/env python3
"""Regenerates the hostile-file corpus used by tests/cli/test_hostile_files.sh (see README).

Run by hand from anywhere; the outputs are committed. Files too big to commit (the 10 MB ones)
and file names that are themselves hostile are made by the test at run time instead.
"""
import os
import random
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def w(sub, name, data):
    path = os.path.join(HERE, sub, name)
    with open(path, "wb" if isinstance(data, bytes) else "w", encoding=None if isinstance(data, bytes) else "utf-8") as f:
        f.write(data)


def names(*ns):
    return "satisfy:\n  names:\n" + "".join("    - %s\n" % n for n in ns)


def deep_flow(n):
    return "[" * n + "]" * n


def deep_map(n, indent=2):
    return "".join(" " * (indent * (i + 1)) + "k%d:\n" % i for i in range(n)) + " " * (indent * (n + 1)) + "v\n"


ALIAS_BOMB = ('a: &a ["x","x","x","x","x","x","x","x","x"]\n'
              'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
              'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
              'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'
              'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n'
              'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n'
              'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n')


def desired():
    d = "desired"
    # Malformed YAML and structure.
    w(d, "truncated-yaml", 'satisfy:\n  names:\n    - ok.hostile.test\n    - "unterminated.hostile.te')
    w(d, "truncated-flow", "satisfy: {names: [ok.hostile.test, other.hostile.test\n")
    rnd = random.Random(8555)
    w(d, "binary-garbage", bytes(rnd.randrange(256) for _ in range(4096)))
    w(d, "nul-in-file", b"satisfy:\n  names:\n    - ok\x00.hostile.test\n")
    w(d, "deep-nesting", "satisfy:\n  names: " + deep_flow(5000) + "\n")
    w(d, "deep-mapping", "satisfy:\n" + deep_map(100))
    w(d, "duplicate-key", names("ok.hostile.test") + "satisfy:\n  names: [other.hostile.test]\n")
    w(d, "duplicate-nested-key", "satisfy:\n  names: [ok.hostile.test]\n  margin: 10\n  margin: 20\n")
    w(d, "two-documents", names("ok.hostile.test") + "---\n" + names("other.hostile.test"))
    w(d, "alias-bomb", ALIAS_BOMB + "satisfy:\n  names: *g\n")
    w(d, "tab-indent", "satisfy:\n\tnames:\n\t\t- ok.hostile.test\n")
    # Wrong types and values.
    w(d, "type-root-list", "- ok.hostile.test\n- other.hostile.test\n")
    # Not a mapping, and not the legacy plain form either (a plain scalar of hostname
    # characters and white space, read as satisfy.names): other characters, quotes, a number.
    w(d, "type-root-scalar", "just a string, with punctuation!\n")
    w(d, "type-root-quoted", '"ok.hostile.test other.hostile.test"\n')
    w(d, "type-root-number", "42\n")
    w(d, "type-root-float", "\n\n-1.5e3\n")
    w(d, "type-satisfy-list", "satisfy:\n  - ok.hostile.test\n")
    w(d, "type-names-map", "satisfy:\n  names:\n    ok.hostile.test: yes\n")
    w(d, "type-name-nested-list", "satisfy:\n  names:\n    - [ok.hostile.test]\n")
    w(d, "type-name-null", "satisfy:\n  names:\n    - ok.hostile.test\n    - ~\n")
    w(d, "type-margin", names("ok.hostile.test") + "  margin: many\n")
    w(d, "type-margin-negative", names("ok.hostile.test") + "  margin: -5\n")
    w(d, "type-margin-huge", names("ok.hostile.test") + "  margin: 99999999999999999999999\n")
    w(d, "type-critical-days-zero", names("ok.hostile.test") + "  critical-days: 0\n")
    w(d, "type-critical-days-huge", names("ok.hostile.test") + "  critical-days: 36500\n")
    w(d, "type-www-apex", names("www.ok.hostile.test") + "  www-apex: sometimes\n")
    w(d, "type-priority", names("ok.hostile.test") + "priority: [1]\n")
    w(d, "type-request-list", names("ok.hostile.test") + "request:\n  - key\n")
    w(d, "type-key-type", names("ok.hostile.test") + "request:\n  key:\n    type: dsa\n")
    w(d, "type-key-rsa-size", names("ok.hostile.test") + "request:\n  key:\n    type: rsa\n    rsa-size: 512\n")
    w(d, "type-key-id", names("ok.hostile.test") + "request:\n  key:\n    id: ../../../../etc/passwd\n")
    w(d, "type-agree-tos", names("ok.hostile.test") + "request:\n  account:\n    agree-tos: perhaps\n")
    w(d, "type-challenge-type", names("ok.hostile.test") + "request:\n  challenge:\n    type: [carrier-pigeon]\n")
    w(d, "type-webroot-relative", names("ok.hostile.test") + "request:\n  challenge:\n    webroot-paths: [www/acme]\n")
    w(d, "type-provider", names("ok.hostile.test") + "request:\n  provider: file:///etc/passwd\n")
    w(d, "type-env-name", names("ok.hostile.test") + 'request:\n  challenge:\n    env:\n      "BAD NAME;rm": x\n')
    # Variables that would make a hook (run as root) load or run code the file chooses.
    env = names("ok.hostile.test") + "request:\n  challenge:\n    env:\n      ZONE: hostile.test\n"
    w(d, "env-ld-preload", env + "      LD_PRELOAD: /tmp/hostile-x/evil.so\n")
    w(d, "env-ld-library-path", env + "      LD_LIBRARY_PATH: /tmp/hostile-x\n")
    w(d, "env-gconv-path", env + "      GCONV_PATH: /tmp/hostile-x\n")
    w(d, "env-path", env + "      PATH: /tmp/hostile-x\n")
    w(d, "env-bash-env", env + "      BASH_ENV: /tmp/hostile-x/rc\n")
    w(d, "env-ifs", env + "      IFS: /\n")
    w(d, "env-pythonpath", env + "      PYTHONPATH: /tmp/hostile-x\n")
    w(d, "env-bash-func", env + '      "BASH_FUNC_acme%%": "() { id; }"\n')
    w(d, "type-label", names("ok.hostile.test") + "label: ../../x\n")
    w(d, "type-http-ports", names("ok.hostile.test") + 'request:\n  challenge:\n    http-ports: ["99999"]\n')
    # Hostile names, each in satisfy.names (a double-quoted YAML scalar where escapes are needed).
    too_long = ".".join(["a" * 63] * 3 + ["b" * 57, "test"])
    assert len(too_long) == 254
    for fname, n in [
        ("name-dotdot", "../x"),
        ("name-dotdot-deep", "../../../../../../tmp/hostile-x"),
        ("name-slash", "a/b"),
        ("name-backslash", '"a\\\\b.hostile.test"'),
        ("name-double-wildcard", '"*.*.x.hostile.test"'),
        ("name-inner-wildcard", '"x.*.y.hostile.test"'),
        ("name-partial-wildcard", '"w*.hostile.test"'),
        ("name-long-label", "a" * 64 + ".hostile.test"),
        ("name-too-long", too_long),
        ("name-nul", '"ok\\0.hostile.test"'),
        ("name-space", '"a b.hostile.test"'),
        ("name-tab", '"a\\tb.hostile.test"'),
        ("name-newline", '"a\\nlive-updated.hostile.test"'),
        ("name-underscore", "_x.hostile.test"),
        ("name-idna-rejected", "\u2603\u2318.hostile.test"),
        ("name-idna-bad-punycode", "xn--a.hostile.test"),
        ("name-idna-bidi", "\u05d0a.hostile.test"),
        ("name-single-label", "localhost"),
        ("name-numeric-tld", "a.123"),
        ("name-leading-hyphen", "-a.hostile.test"),
        ("name-empty-label", "a..hostile.test"),
        ("name-empty", '""'),
        ("name-dot", '"."'),
        ("name-ip-wildcard", '"*.192.0.2.1"'),
        ("name-ip-lookalike", "192.0.2.256"),
        ("name-ip-with-port", '"192.0.2.1:443"'),
        ("name-ipv6-brackets", '"[2001:db8::1]"'),
    ]:
        w(d, fname, names(n))
    # An IP address where only DNS names fit: dns-01 cannot validate an IP identifier
    # (RFC 8738 section 7), so this target can never be satisfied.
    w(d, "name-ip-dns01-only", names("192.0.2.1") + "request:\n  challenge:\n    type: [dns-01]\n")
    # A hostile name in request.names only, and in acmetool's legacy top-level form.
    w(d, "name-request-names", names("ok.hostile.test") + 'request:\n  names: ["../x"]\n')
    w(d, "name-legacy-names", "names:\n  - a/b\n")
    # The legacy plain form (hostnames alone) is read, and its names checked like any: a bad
    # one is reported with its own line.
    w(d, "name-legacy-scalar", "ok.hostile.test\nxn--a.hostile.test\n")
    w(d, "name-legacy-scalar-wildcards", "ok.hostile.test *.*.hostile.test\n")


def target():
    d = "target"
    base = "request:\n  account:\n    agree-tos: true\n"
    w(d, "truncated-yaml", 'request:\n  challenge:\n    webroot-paths:\n      - "/var/run/acme')
    w(d, "truncated-flow", "request: [not, a, mapping\n")
    rnd = random.Random(7638)
    w(d, "binary-garbage", bytes(rnd.randrange(256) for _ in range(4096)))
    w(d, "nul-in-file", b"request:\n  account:\n    agree-tos: true\x00\n")
    w(d, "deep-nesting", "request: " + deep_flow(5000) + "\n")
    w(d, "deep-mapping", "request:\n" + deep_map(100))
    w(d, "duplicate-key", base + "request:\n  profile: x\n")
    w(d, "two-documents", base + "---\n" + base)
    w(d, "alias-bomb", ALIAS_BOMB + "request:\n  challenge:\n    webroot-paths: *g\n")
    w(d, "tab-indent", "request:\n\taccount:\n\t\tagree-tos: true\n")
    w(d, "type-root-list", "- request\n")
    w(d, "type-root-scalar", "agree-tos\n")
    w(d, "type-request-string", "request: yes please\n")
    w(d, "type-satisfy-list", base + "satisfy: [a, b]\n")
    w(d, "type-margin", base + "satisfy:\n  margin: soon\n")
    w(d, "type-critical-days", base + "satisfy:\n  critical-days: forever\n")
    w(d, "type-www-apex", base + "satisfy:\n  www-apex: [yes]\n")
    w(d, "type-root-legacy-names", "ok.hostile.test www.ok.hostile.test\n")
    w(d, "type-priority", base + "priority: high\n")
    w(d, "type-label", base + "label: ../../etc\n")
    w(d, "type-key-type", "request:\n  key:\n    type: dsa\n")
    w(d, "type-key-curve", "request:\n  key:\n    ecdsa-curve: brainpool\n")
    w(d, "type-key-rsa-size", "request:\n  key:\n    type: rsa\n    rsa-size: 1000000\n")
    w(d, "type-key-id", "request:\n  key:\n    id: ../../../../etc/shadow\n")
    w(d, "type-agree-tos", "request:\n  account:\n    agree-tos: [true]\n")
    w(d, "type-eab-half", "request:\n  account:\n    eab:\n      kid: kid-1\n")
    w(d, "type-contact-map", "request:\n  account:\n    contact: {mailto: x}\n")
    w(d, "type-challenge-type", "request:\n  challenge:\n    type: [http-02]\n")
    w(d, "type-challenge-type-empty", "request:\n  challenge:\n    type: []\n")
    w(d, "type-webroot-relative", "request:\n  challenge:\n    webroot-paths: [relative/path]\n")
    w(d, "type-webroot-map", "request:\n  challenge:\n    webroot-paths: {a: b}\n")
    w(d, "type-http-ports", 'request:\n  challenge:\n    http-ports: ["0"]\n')
    w(d, "type-tls-ports", 'request:\n  challenge:\n    tls-ports: ["host:port:443"]\n')
    w(d, "type-self-test", "request:\n  challenge:\n    http-self-test: sometimes\n")
    w(d, "type-env-name", 'request:\n  challenge:\n    env:\n      "1BAD": x\n')
    w(d, "type-env-value", "request:\n  challenge:\n    env:\n      GOOD: [x]\n")
    w(d, "env-ld-preload", "request:\n  challenge:\n    env:\n      LD_PRELOAD: /tmp/hostile-x/evil.so\n")
    w(d, "env-path", "request:\n  challenge:\n    env:\n      PATH: /tmp/hostile-x\n")
    w(d, "type-provider", "request:\n  provider: gopher://ca.example/dir\n")
    w(d, "type-provider-legacy", "provider: [https://ca.example/dir]\n")
    w(d, "type-must-staple", "request:\n  ocsp-must-staple: 2\n")
    w(d, "type-control-chars", 'request:\n  profile: "a\\u0007b"\n')


def acmed():
    d = "acmed"
    w(d, "truncated-yaml", 'interval: 3600\nlog-level: "inf')
    w(d, "type-root-list", "- interval\n")
    w(d, "type-interval", "interval: soon\n")
    w(d, "type-interval-negative", "interval: -5\n")
    w(d, "type-max-orders-zero", "max-orders: 0\n")
    w(d, "type-log-level", "log-level: loud\n")
    w(d, "duplicate-key", "interval: 60\ninterval: 120\n")
    w(d, "deep-nesting", "interval: " + deep_flow(5000) + "\n")
    # cluster: (fleet mode): a misspelt key is an error, not a warning; so is a cluster: whose
    # keys are not indented under it; plain http to a host that is not loopback; a path in an
    # endpoint, half a client certificate and a relative secret-file.
    w(d, "cluster-misspelt-secret-file",
      "cluster:\n  etcd:\n    endpoints: [https://127.0.0.1:2379]\n"
      "  secret_file: /etc/acme/cluster.key\n")
    w(d, "cluster-unindented",
      "interval: 60\ncluster:\netcd:\n  endpoints: [https://127.0.0.1:2379]\n"
      "secret-file: /etc/acme/cluster.key\n")
    w(d, "cluster-plain-http",
      "cluster:\n  etcd:\n    endpoints: [http://192.0.2.10:2379]\n"
      "  secret-file: /etc/acme/cluster.key\n")
    w(d, "cluster-path-endpoint",
      "cluster:\n  etcd:\n    endpoints: [https://127.0.0.1:2379/v3/kv]\n"
      "    cert: /etc/acme/etcd.pem\n  secret-file: cluster.key\n")


def main():
    for sub in ("desired", "target", "acmed"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
        os.makedirs(os.path.join(HERE, sub))
    desired()
    target()
    acmed()


if __name__ == "__main__":
    main()
