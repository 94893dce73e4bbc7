#!/usr/bin/env python3
"""torture_check.py: the invariants test_kill_torture.sh checks after every kill and every
clean run, over an acmed state directory.

  torture_check.py --state DIR --root ROOT.pem --targets TARGETS.json --serve
  torture_check.py --state DIR --root ROOT.pem --targets TARGETS.json [--db DB]
                   --phase kill|clean [--require-live]

TARGETS.json: {"<desired file>": {"names": [...], "rsa": bool}, ...}. With --serve it answers
commands on stdin (see serve()) and remembers between them, in memory, what it saw: the
sha256 of every key file when first seen, of every complete certificate's cert and the key
it points at, the verdict on every distinct content already parsed (each goes through GnuTLS
once) and the inode/size/mtime of every file read (each version of a file is read once).
One-shot checks keep that in DB (a pickle) when given, for checking a kept state directory
by hand.

Checks, in both phases:
  - no link under live/ dangles, each is relative and points at certs/<id>;
  - every live certificate (every name of every target with --require-live) has cert, chain,
    fullchain and privkey; its names cover the target, its key type is the target's, its
    fullchain verifies against ROOT and its privkey is the key of its cert (the sha256
    "Public Key ID" of both, as certtool prints it);
  - every file under certs/ and keys/ (and accounts/, state/) parses whole: cert, chain and
    fullchain are nothing but whole CERTIFICATE blocks and every block parses; privkeys are
    one whole PEM block that parses, with consistent parameters; meta and state JSON parse
    with json; url is a single https URL; links in a certificate directory resolve;
  - a key file never changes once seen; a complete certificate's cert and key never change.
In the clean phase, additionally: the names of a target all point at one certificate (a
kill between two links may leave them apart), no .tmp-* file anywhere and no certificate
directory without its cert (a clean run finishes what a killed one began).

Parsing, key ids and chain verification go through GnuTLS (libgnutls, what certtool uses)
in this process, since the checks run some 150 times per test and certtool costs a process
per file; TORTURE_CHECK_BACKEND=certtool runs certtool -i / -k / --verify instead (slow;
both agree).

A check prints KEY=VALUE lines (live_<target>=<cert-id>, max_nb, max_due: the latest
notBefore and renewal due time (acmed's lifetime rule) of the live certificates, certs: the
complete certificate directories, partial, keys) and "FAIL: ..." lines, one per broken
invariant (stderr and exit status 1 in one-shot mode).
"""
import argparse
import ctypes
import ctypes.util
import datetime
import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
import urllib.request

FAILS = []
DAY = 86400


def fail(msg):
    FAILS.append(msg)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def certtool(args, data=None):
    """Runs certtool; returns (rc, stdout+stderr text)."""
    p = subprocess.run(["certtool"] + args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def parse_time(s):
    # "Wed Nov 25 12:58:58 UTC 2026"
    d = datetime.datetime.strptime(s.strip(), "%a %b %d %H:%M:%S UTC %Y")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp())


def pubkey_id(text):
    m = re.search(r"Public Key ID:\s*(?:sha1:[0-9a-f]+\s*)?sha256:([0-9a-f]+)", text)
    return m.group(1) if m else None


def pem_blocks_whole(data, label):
    """True when the text is only whole PEM blocks of LABEL; returns their number or -1."""
    text = data.decode("ascii", "replace")
    blocks = re.findall(r"-----BEGIN %s-----\n([A-Za-z0-9+/=\n]+?)-----END %s-----\n?" %
                        (label, label), text)
    rest = re.sub(r"-----BEGIN %s-----\n([A-Za-z0-9+/=\n]+?)-----END %s-----\n?" %
                  (label, label), "", text)
    return len(blocks) if blocks and not rest.strip() else -1


class Certtool:
    """The checks through the certtool program (one process per question)."""
    name = "certtool"

    def certs(self, data):
        """[{"nb", "na", "names", "rsa", "pkid"}, ...] for every certificate, or an error."""
        rc, out = certtool(["-i"], data)
        if rc != 0:
            return "certtool -i exited %d" % rc
        res = []
        for sec in out.split("X.509 Certificate Information:")[1:]:
            nb = re.search(r"Not Before: (.*)", sec)
            na = re.search(r"Not After: (.*)", sec)
            if not nb or not na:
                return "no validity in certtool's output"
            res.append({"names": re.findall(r"DNSname: (\S+)", sec),
                        "rsa": bool(re.search(r"Subject Public Key Algorithm: RSA", sec)),
                        "nb": parse_time(nb.group(1)), "na": parse_time(na.group(1)),
                        "pkid": pubkey_id(sec)})
        return res

    def key(self, data):
        """The key's sha256 public key id, or an error (a str starting with "error: ")."""
        rc, out = certtool(["-k"], data)
        pk = pubkey_id(out)
        if rc != 0 or not pk:
            return "error: certtool -k exited %d" % rc
        return pk

    def verify(self, chain_path, root_path):
        rc, out = certtool(["--verify", "--load-ca-certificate", root_path,
                            "--infile", chain_path])
        return rc == 0 and "Chain verification output: Verified." in out, out[-800:]


class Gnutls:
    """The same checks through GnuTLS in this process (what certtool calls, without a
    process per file: the checks run a few hundred times per test)."""
    name = "gnutls"
    FMT_PEM = 1
    PK_RSA = 1
    SAN_DNSNAME = 1
    KEYID_SHA256 = 1
    E_NO_DATA = -56

    class Datum(ctypes.Structure):
        _fields_ = [("data", ctypes.c_char_p), ("size", ctypes.c_uint)]

    def __init__(self):
        lib = ctypes.util.find_library("gnutls")
        self.g = g = ctypes.CDLL(lib or "libgnutls.so.30")
        vp, cp, ip = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        u, sz = ctypes.c_uint, ctypes.c_size_t
        P = ctypes.POINTER
        sigs = {
            "gnutls_global_init": ([], ip),
            "gnutls_strerror": ([ip], cp),
            "gnutls_x509_crt_list_import": ([P(vp), P(u), P(self.Datum), ip, u], ip),
            "gnutls_x509_crt_get_activation_time": ([vp], ctypes.c_long),
            "gnutls_x509_crt_get_expiration_time": ([vp], ctypes.c_long),
            "gnutls_x509_crt_get_pk_algorithm": ([vp, P(u)], ip),
            "gnutls_x509_crt_get_subject_alt_name": ([vp, u, cp, P(sz), P(u)], ip),
            "gnutls_x509_crt_get_key_id": ([vp, u, cp, P(sz)], ip),
            "gnutls_x509_crt_list_verify": ([P(vp), u, P(vp), u, vp, u, u, P(u)], ip),
            "gnutls_x509_privkey_init": ([P(vp)], ip),
            "gnutls_x509_privkey_import2": ([vp, P(self.Datum), ip, cp, u], ip),
            "gnutls_x509_privkey_verify_params": ([vp], ip),
            "gnutls_x509_privkey_get_key_id": ([vp, u, cp, P(sz)], ip),
        }
        for fn, (args, res) in sigs.items():
            f = getattr(g, fn)
            f.argtypes, f.restype = args, res
        if g.gnutls_global_init() < 0:
            raise OSError("gnutls_global_init failed")

    def err(self, rc):
        return self.g.gnutls_strerror(rc).decode()

    def datum(self, data):
        return self.Datum(ctypes.c_char_p(data), len(data))

    def import_certs(self, data):
        arr = (ctypes.c_void_p * 64)()
        n = ctypes.c_uint(64)
        rc = self.g.gnutls_x509_crt_list_import(arr, ctypes.byref(n), ctypes.byref(
            self.datum(data)), self.FMT_PEM, 1)
        if rc < 0:
            return "gnutls: %s" % self.err(rc)
        return arr, rc

    def certs(self, data):
        got = self.import_certs(data)
        if isinstance(got, str):
            return got
        arr, n = got
        res = []
        g = self.g
        for i in range(n):
            crt = arr[i]
            names, seq = [], 0
            while True:
                buf = ctypes.create_string_buffer(1024)
                size = ctypes.c_size_t(len(buf))
                crit = ctypes.c_uint(0)
                t = g.gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, ctypes.byref(size),
                                                           ctypes.byref(crit))
                if t == self.E_NO_DATA:
                    break
                if t < 0:
                    return "gnutls: subject alt name %d: %s" % (seq, self.err(t))
                if t == self.SAN_DNSNAME:
                    names.append(buf.raw[:size.value].decode("ascii", "replace"))
                seq += 1
            kid = ctypes.create_string_buffer(64)
            size = ctypes.c_size_t(len(kid))
            rc = g.gnutls_x509_crt_get_key_id(crt, self.KEYID_SHA256, kid, ctypes.byref(size))
            if rc < 0:
                return "gnutls: key id: %s" % self.err(rc)
            res.append({"names": names,
                        "rsa": g.gnutls_x509_crt_get_pk_algorithm(crt, None) == self.PK_RSA,
                        "nb": g.gnutls_x509_crt_get_activation_time(crt),
                        "na": g.gnutls_x509_crt_get_expiration_time(crt),
                        "pkid": kid.raw[:size.value].hex()})
        return res

    def key(self, data):
        g = self.g
        key = ctypes.c_void_p()
        rc = g.gnutls_x509_privkey_init(ctypes.byref(key))
        if rc == 0:
            rc = g.gnutls_x509_privkey_import2(key, ctypes.byref(self.datum(data)),
                                               self.FMT_PEM, None, 0)
        if rc == 0:
            rc = g.gnutls_x509_privkey_verify_params(key)
        kid = ctypes.create_string_buffer(64)
        size = ctypes.c_size_t(len(kid))
        if rc == 0:
            rc = g.gnutls_x509_privkey_get_key_id(key, self.KEYID_SHA256, kid,
                                                  ctypes.byref(size))
        if rc < 0:
            return "error: gnutls: %s" % self.err(rc)
        return kid.raw[:size.value].hex()

    def verify(self, chain_path, root_path):
        chain = self.import_certs(read(chain_path))
        root = self.import_certs(read(root_path))
        for what, got in (("chain", chain), ("root", root)):
            if isinstance(got, str):
                return False, "%s: %s" % (what, got)
        status = ctypes.c_uint(0)
        rc = self.g.gnutls_x509_crt_list_verify(chain[0], chain[1], root[0], root[1], None, 0,
                                                0, ctypes.byref(status))
        if rc < 0:
            return False, "gnutls: %s" % self.err(rc)
        return status.value == 0, "verification status 0x%x" % status.value


def backend():
    if os.environ.get("TORTURE_CHECK_BACKEND") != "certtool":
        try:
            return Gnutls()
        except (OSError, AttributeError) as e:
            print("torture_check: GnuTLS through ctypes unavailable (%s): certtool" % e,
                  file=sys.stderr)
    return Certtool()


class Checker:
    def __init__(self, a):
        self.a = a
        self.state = a.state
        self.db = {}
        if a.db and os.path.exists(a.db):
            with open(a.db, "rb") as f:
                self.db = pickle.load(f)
        for k in ("keys", "certs", "parsed", "verified", "stat"):
            self.db.setdefault(k, {})
        with open(a.targets) as f:
            self.targets = json.load(f)
        self.lib = backend()

    def save(self):
        if not self.a.db:
            return
        tmp = self.a.db + ".new"
        with open(tmp, "wb") as f:
            pickle.dump(self.db, f)
        os.replace(tmp, self.a.db)

    def fresh(self, path):
        """The file's contents when it is new or changed since the last call (by inode, size
        and mtime), else None: each version of a file is read and checked once."""
        st = os.lstat(path)
        sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self.db["stat"].get(path) == sig:
            return None
        self.db["stat"][path] = sig
        return read(path)

    # ---- parsing, cached by content ----

    def parse_certs(self, path, data, want_n=None):
        """Parses every PEM block of a certificate file; returns info of the first or None."""
        h = sha256(data)
        got = self.db["parsed"].get(h)
        if got is None:
            blocks = pem_blocks_whole(data, "CERTIFICATE")
            res = self.lib.certs(data)
            if blocks < 1:
                got = {"ok": False, "why": "not only whole CERTIFICATE blocks"}
            elif isinstance(res, str):
                got = {"ok": False, "why": res}
            elif len(res) != blocks:
                got = {"ok": False, "why": "%d blocks, %d parsed" % (blocks, len(res))}
            else:
                got = dict(res[0], ok=True, n=blocks)
            self.db["parsed"][h] = got
        if not got["ok"]:
            fail("%s does not parse whole (%s)" % (path, got["why"]))
            return None
        if want_n is not None and got["n"] != want_n:
            fail("%s holds %d certificates, wanted %d" % (path, got["n"], want_n))
        return got

    def parse_key(self, path, data):
        h = sha256(data)
        got = self.db["parsed"].get(h)
        if got is None:
            text = data.decode("ascii", "replace")
            pk = self.lib.key(data)
            if pk.startswith("error: "):
                got = {"ok": False, "why": pk[7:]}
            elif not re.fullmatch(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+"
                                  r"-----END \1PRIVATE KEY-----\n?", text):
                got = {"ok": False, "why": "not one whole PEM block"}
            else:
                got = {"ok": True, "pkid": pk}
            self.db["parsed"][h] = got
        if not got["ok"]:
            fail("%s does not parse whole as a private key (%s)" % (path, got["why"]))
            return None
        return got["pkid"]

    def parse_json(self, path, data):
        try:
            json.loads(data.decode("utf-8"))
        except ValueError as e:
            fail("%s is not whole JSON (%s): %r" % (path, e, data[:200]))

    # ---- the walk ----

    def walk(self, clean):
        tmps = []
        for root, dirs, files in os.walk(self.state):
            for n in dirs + files:
                if n.startswith(".tmp-"):
                    tmps.append(os.path.join(root, n))
        if clean and tmps:
            fail("%d temp files left after a clean run: %s" % (len(tmps), " ".join(tmps[:5])))
        self.walk_keys()
        self.walk_certs(clean)
        for sub in ("accounts", "state"):
            for root, _, files in os.walk(os.path.join(self.state, sub)):
                for n in files:
                    if n.startswith(".tmp-"):
                        continue
                    p = os.path.join(root, n)
                    data = self.fresh(p)
                    if data is None or os.path.islink(p):
                        continue
                    if n == "privkey":
                        self.parse_key(p, data)
                    elif n == "meta" or n.endswith(".json"):
                        self.parse_json(p, data)

    def walk_keys(self):
        kdir = os.path.join(self.state, "keys")
        self.nkeys = 0
        seen = set()
        for kid in sorted(os.listdir(kdir)) if os.path.isdir(kdir) else []:
            if kid.startswith(".tmp-"):
                continue
            p = os.path.join(kdir, kid, "privkey")
            rel = "keys/%s/privkey" % kid
            if not os.path.exists(p):
                continue  # a key directory whose file a kill never let appear
            seen.add(rel)
            self.nkeys += 1
            data = self.fresh(p)
            if data is None:
                continue
            h = sha256(data)
            old = self.db["keys"].get(rel)
            if old is not None and old != h:
                fail("%s changed (sha256 %s, was %s)" % (rel, h, old))
            self.db["keys"][rel] = h
            self.parse_key(p, data)
        for rel in self.db["keys"]:
            if rel not in seen:
                fail("%s disappeared" % rel)

    def walk_certs(self, clean):
        cdir = os.path.join(self.state, "certs")
        self.ncerts = self.npartial = 0
        for cid in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
            if cid.startswith(".tmp-"):
                continue
            d = os.path.join(cdir, cid)
            files = {n for n in os.listdir(d) if not n.startswith(".tmp-")}
            for n in sorted(files):
                p = os.path.join(d, n)
                if os.path.islink(p):
                    if not os.path.exists(p):
                        fail("certs/%s/%s -> %s dangles" % (cid, n, os.readlink(p)))
                    continue
                data = self.fresh(p)
                if data is None:
                    continue
                if n == "cert":
                    self.parse_certs(p, data, 1)
                elif n in ("chain", "fullchain"):
                    self.parse_certs(p, data)
                elif n == "meta":
                    self.parse_json(p, data)
                elif n == "url":
                    if not re.fullmatch(rb"https://[!-~]+", data):
                        fail("certs/%s/url is not one URL: %r" % (cid, data[:200]))
            if "cert" not in files:
                self.npartial += 1
                if clean:
                    fail("certs/%s has no cert after a clean run (files: %s)" %
                         (cid, " ".join(sorted(files))))
                continue
            self.ncerts += 1
            # A complete certificate never changes, nor does the key it points at.
            old = self.db["certs"].get(cid)
            cp = os.path.join(d, "cert")
            if old is not None and self.db["stat"].get(cp + "#complete") == \
                    self.db["stat"].get(cp):
                cert_h = old["cert"]  # not rewritten since it was recorded
            else:
                cert_h = sha256(read(cp))
                self.db["stat"][cp + "#complete"] = self.db["stat"].get(cp)
            kp = os.path.join(d, "privkey")
            cur = {"cert": cert_h, "key": os.readlink(kp) if os.path.islink(kp) else None}
            if old is not None and old != cur:
                fail("certs/%s changed after it was complete: %s, was %s" % (cid, cur, old))
            self.db["certs"][cid] = cur

    # ---- live ----

    def check_live_cert(self, target, spec, name, cid):
        d = os.path.join(self.state, "certs", cid)
        paths = {n: os.path.join(d, n) for n in ("cert", "chain", "fullchain", "privkey")}
        for n, p in paths.items():
            if not os.path.exists(p):
                fail("live/%s -> certs/%s has no %s" % (name, cid, n))
                return None
        cert = self.parse_certs(paths["cert"], read(paths["cert"]), 1)
        full = read(paths["fullchain"])
        self.parse_certs(paths["fullchain"], full)
        kdata = read(paths["privkey"])
        kid = self.parse_key(paths["privkey"], kdata)
        if cert is None or kid is None:
            return None
        for n in spec["names"]:
            if n not in cert["names"]:
                fail("live/%s -> certs/%s lacks the name %s (has %s)" %
                     (name, cid, n, cert["names"]))
        if cert["rsa"] != spec["rsa"]:
            fail("live/%s -> certs/%s: key type %s, target %s wants %s" %
                 (name, cid, "RSA" if cert["rsa"] else "EC", target,
                  "RSA" if spec["rsa"] else "EC"))
        if cert["pkid"] != kid:
            fail("live/%s -> certs/%s: privkey (%s) is not the certificate's key (%s)" %
                 (name, cid, kid, cert["pkid"]))
        vk = sha256(full) + ":" + sha256(read(self.a.root))
        if vk not in self.db["verified"]:
            ok, out = self.lib.verify(paths["fullchain"], self.a.root)
            self.db["verified"][vk] = ok
            if not ok:
                fail("live/%s -> certs/%s: the chain does not verify against pebble's root:\n%s"
                     % (name, cid, out[-800:]))
        elif not self.db["verified"][vk]:
            fail("live/%s -> certs/%s: the chain does not verify (as before)" % (name, cid))
        return cert

    def check_live(self, require, clean):
        ldir = os.path.join(self.state, "live")
        for n in sorted(os.listdir(ldir)) if os.path.isdir(ldir) else []:
            p = os.path.join(ldir, n)
            if n.startswith(".tmp-"):
                continue
            if not os.path.islink(p):
                fail("live/%s is not a symlink" % n)
                continue
            t = os.readlink(p)
            if not re.fullmatch(r"\.\./certs/[a-z2-7]{52}", t):
                fail("live/%s -> %s is not ../certs/<cert-id>" % (n, t))
            if not os.path.exists(p):
                fail("live/%s -> %s dangles" % (n, t))
        out = {}
        max_nb = max_due = 0
        for target, spec in sorted(self.targets.items()):
            ids = set()
            for name in spec["names"]:
                p = os.path.join(ldir, name)
                if not os.path.islink(p):
                    if require:
                        fail("%s: no live certificate for %s" % (target, name))
                    continue
                cid = os.path.basename(os.readlink(p))
                ids.add(cid)
                cert = self.check_live_cert(target, spec, name, cid) \
                    if os.path.exists(p) else None
                if cert:
                    life = cert["na"] - cert["nb"]
                    due = cert["na"] - (life // 2 if life < 10 * DAY else life // 3)
                    max_nb = max(max_nb, cert["nb"])
                    max_due = max(max_due, due)
            # A kill between two links of a target leaves its names on different (good)
            # certificates; the next run brings them together.
            if len(ids) > 1 and clean:
                fail("%s: its names point at different certificates: %s" % (target, sorted(ids)))
            out[target] = ids.pop() if len(ids) == 1 else "(several)" if ids else ""
        return out, max_nb, max_due


def orders(targets, url):
    """Orders opened per target: POST /order-plz entries of the fault proxy's log (by the
    identifiers of their payload), unless the CA refused them."""
    with urllib.request.urlopen(url, timeout=10) as r:
        log = json.load(r)
    by = {frozenset(v["names"]): k for k, v in targets.items()}
    n = dict.fromkeys(targets, 0)
    for e in log:
        if e.get("status") is not None and e["status"] >= 300:
            continue
        ids = frozenset(i.get("value") for i in (e.get("payload") or {}).get("identifiers", []))
        if ids not in by:
            fail("an order for unknown identifiers %s" % sorted(ids))
            continue
        n[by[ids]] += 1
    return ["%s=%d" % (t, c) for t, c in sorted(n.items())]


def run_check(c, phase, require):
    live, max_nb, max_due = c.check_live(require, phase == "clean")
    c.walk(phase == "clean")
    out = ["live_%s=%s" % (t, cid) for t, cid in sorted(live.items())]
    out += ["max_nb=%d" % max_nb, "max_due=%d" % max_due, "certs=%d" % c.ncerts,
            "partial=%d" % c.npartial, "keys=%d" % c.nkeys]
    return out


def serve(c):
    """Answers commands on stdin, one a line, until EOF: `check kill|clean 0|1` (the last
    field: --require-live) and `orders URL`. Each reply is KEY=VALUE lines, then FAIL: lines,
    then `END <status>`."""
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        cmd = line.split()
        FAILS.clear()
        try:
            if cmd[:1] == ["check"] and len(cmd) == 3 and cmd[1] in ("kill", "clean"):
                out = run_check(c, cmd[1], cmd[2] == "1")
            elif cmd[:1] == ["orders"] and len(cmd) == 2:
                out = orders(c.targets, cmd[1])
            else:
                out = []
                fail("unknown command %r" % line.strip())
        except Exception as e:  # a broken checker must not look like a passing check
            out = []
            fail("checker error: %s: %s" % (type(e).__name__, e))
        for l in out + ["FAIL: " + f.replace("\n", "\n  ") for f in FAILS]:
            print(l)
        print("END %d" % (1 if FAILS else 0), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--db", help="keep what was seen in this file (one-shot checks)")
    ap.add_argument("--serve", action="store_true", help="answer commands on stdin")
    ap.add_argument("--phase", choices=("kill", "clean"))
    ap.add_argument("--require-live", action="store_true")
    a = ap.parse_args()
    c = Checker(a)
    if a.serve:
        return serve(c)
    if not a.phase:
        ap.error("--phase or --serve is required")
    for l in run_check(c, a.phase, a.require_live):
        print(l)
    for f in FAILS:
        print("FAIL: " + f, file=sys.stderr)
    c.save()
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
