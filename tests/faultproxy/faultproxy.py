#!/usr/bin/env python3
"""faultproxy: a scriptable TLS fault-injection proxy between an ACME client and pebble.

TLS on both sides; the client's Host header is forwarded unchanged, so every URL pebble
builds points back at the proxy.  Request bodies (signed JWS) are never modified; rules alter
responses only.  The proxy can also add ARI (`renewalInfo`) and `meta.profiles` to the
directory and answer `/renewal-info/<certID>` itself.  A plain-HTTP control API on loopback
sets rules and reads the request log.  Standard library only.

See README.md next to this file for the rule language and the control API.
"""

import argparse
import base64
import copy
import datetime
import http.client
import http.server
import json
import os
import re
import select
import signal
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.parse

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect",
}
ACTIONS = {"pass", "status", "delay", "stall", "drop", "truncate", "huge", "replace_body",
           "json_patch", "header", "slow"}
MAX_WAIT = 120.0           # cap on stall / delay / control-API waits, in seconds
HUGE_DEFAULT = 20 << 20    # default size of a "huge" body
STOP = threading.Event()   # set on shutdown; wakes stalled / delayed handlers


def log_err(msg):
    try:
        sys.stderr.write("faultproxy: %s\n" % msg)
        sys.stderr.flush()
    except Exception:
        pass


def b64url_decode(s):
    s = s + "=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s.encode("ascii"))


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def rfc3339(v):
    """A string is taken as-is; a number is seconds relative to now."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=v)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return v


def json_bytes(obj, indent=None):
    return json.dumps(obj, indent=indent).encode("utf-8")


# ----------------------------------------------------------------------------------------
# Validation helpers (rules are checked when they are set, not when a request hits them)

def _num(spec, key, default, lo=0.0, hi=None, integer=False):
    v = spec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError("%s must be a number" % key)
    if integer and not isinstance(v, int):
        raise ValueError("%s must be an integer" % key)
    if v < lo or (hi is not None and v > hi):
        raise ValueError("%s out of range" % key)
    return v


def _status(spec, default):
    return _num(spec, "status", default, 100, 999, integer=True)


def _str_map(spec, key):
    v = spec.get(key) or {}
    if not isinstance(v, dict):
        raise ValueError("%s must be an object" % key)
    out = []
    for k, val in v.items():
        if isinstance(val, (dict, list)) or val is None:
            raise ValueError("%s: value of %s must be a string or number" % (key, k))
        out.append((str(k), str(val)))
    return out


def _check_window(w, what):
    if not isinstance(w, dict) or "start" not in w or "end" not in w:
        raise ValueError('%s: want {"start": ..., "end": ...}' % what)
    for k in ("start", "end"):
        if isinstance(w[k], bool) or not isinstance(w[k], (str, int, float)):
            raise ValueError("%s.%s must be an RFC 3339 string or seconds from now" % (what, k))


# ----------------------------------------------------------------------------------------
# Rules and shared state

class Request:
    """What rules can match on: method, path, raw body and the decoded JWS."""

    def __init__(self, method, path, host, body):
        self.method = method
        self.path = path
        self.host = host
        self.text = body.decode("utf-8", "replace")
        self.protected = None     # parsed JWS protected header
        self.payload_text = None  # decoded JWS payload ("" for POST-as-GET)
        self.payload = None       # parsed payload when it is JSON
        try:
            j = json.loads(self.text) if self.text else None
        except ValueError:
            j = None
        if isinstance(j, dict):
            try:
                if isinstance(j.get("protected"), str):
                    self.protected = json.loads(b64url_decode(j["protected"]))
            except (ValueError, TypeError):
                pass
            try:
                if isinstance(j.get("payload"), str):
                    self.payload_text = b64url_decode(j["payload"]).decode("utf-8", "replace")
                    if self.payload_text:
                        self.payload = json.loads(self.payload_text)
            except (ValueError, TypeError):
                pass

    def views(self):
        """The texts body_contains searches: raw body, protected header, payload."""
        out = [self.text]
        if self.protected is not None:
            out.append(json.dumps(self.protected))
        if self.payload_text is not None:
            out.append(self.payload_text)
        return out


class Rule:
    def __init__(self, spec, index):
        if not isinstance(spec, dict):
            raise ValueError("a rule must be a JSON object")
        action = spec.get("action")
        if action not in ACTIONS:
            raise ValueError("unknown action %r (known: %s)" % (action, ", ".join(sorted(ACTIONS))))
        self.spec = spec
        self.index = index
        self.action = action
        method = spec.get("method")
        if method is not None and not isinstance(method, (str, list)):
            raise ValueError("method must be a string or a list of strings")
        self.methods = None
        if method is not None:
            self.methods = {m.upper() for m in ([method] if isinstance(method, str) else method)}
        path = spec.get("path", "")
        if not isinstance(path, str):
            raise ValueError("path must be a regular expression string")
        self.path_re = re.compile(path)
        self.body_contains = spec.get("body_contains")
        self.payload_contains = spec.get("payload_contains")
        for k in ("body_contains", "payload_contains"):
            if spec.get(k) is not None and not isinstance(spec[k], str):
                raise ValueError("%s must be a string" % k)
        self.payload_has = spec.get("payload_has")
        if isinstance(self.payload_has, str):
            self.payload_has = [self.payload_has]
        if self.payload_has is not None and not (
                isinstance(self.payload_has, list)
                and all(isinstance(k, str) for k in self.payload_has)):
            raise ValueError("payload_has must be a key or a list of keys")
        self.payload_empty = spec.get("payload_empty")
        if self.payload_empty is not None and not isinstance(self.payload_empty, bool):
            raise ValueError("payload_empty must be true or false")
        if "times" in spec and "count" in spec:
            raise ValueError("give times or count, not both")
        limit = spec.get("times", spec.get("count"))
        self.times = None if limit is None else _num({"times": limit}, "times", 0, integer=True)
        self.skip = _num(spec, "skip", 0, integer=True)
        self.seen = 0      # matches, including skipped ones
        self.applied = 0   # times the action was applied
        self._check_action(spec)

    def _check_action(self, spec):
        a = self.action
        if a in ("status", "huge", "replace_body", "json_patch") and "status" in spec:
            _status(spec, 200)
        if a == "status":
            _str_map(spec, "headers")
            if "retry_after" in spec and not isinstance(spec["retry_after"], (int, str)):
                raise ValueError("retry_after must be seconds or an HTTP date")
            if "problem" in spec and not isinstance(spec["problem"], dict):
                raise ValueError("problem must be an object")
        elif a in ("delay", "stall"):
            _num(spec, "seconds", 1, 0, MAX_WAIT)
        elif a == "huge":
            _num(spec, "size", HUGE_DEFAULT, 0, 1 << 34, integer=True)
        elif a == "slow":
            _num(spec, "bytes_per_second", 1024, 1)
        elif a == "truncate" and "bytes" in spec:
            _num(spec, "bytes", 0, integer=True)
        elif a == "replace_body":
            subs = spec.get("sub", [])
            if not isinstance(subs, list) or not all(
                    isinstance(s, list) and len(s) == 2 and all(isinstance(x, str) for x in s)
                    for s in subs):
                raise ValueError('sub must be a list of ["regex", "replacement"] pairs')
            rule_subs(spec)  # compiles (and caches) the patterns
        elif a == "json_patch":
            if "patch" not in spec:
                raise ValueError("json_patch needs a patch")
        elif a == "header":
            _str_map(spec, "set")
            rm = spec.get("remove") or []
            if not isinstance(rm, list) or not all(isinstance(h, str) for h in rm):
                raise ValueError("remove must be a list of header names")

    def matches(self, req):
        if self.methods is not None and req.method.upper() not in self.methods:
            return False
        if not self.path_re.search(req.path):
            return False
        if self.body_contains is not None:
            if not any(self.body_contains in v for v in req.views()):
                return False
        if self.payload_contains is not None:
            if req.payload_text is None or self.payload_contains not in req.payload_text:
                return False
        if self.payload_has is not None:
            if not isinstance(req.payload, dict) or any(k not in req.payload
                                                        for k in self.payload_has):
                return False
        if self.payload_empty is not None:
            if req.payload_text is None or self.payload_empty != (req.payload_text == ""):
                return False
        return True

    def expired(self):
        return self.times is not None and self.applied >= self.times

    def describe(self):
        d = dict(self.spec)
        d.update(_index=self.index, _seen=self.seen, _applied=self.applied,
                 _expired=self.expired())
        return d


class LogFilter:
    """Selects log entries by method, path regex, action and returned status."""

    def __init__(self, q):
        def one(k):
            v = q.get(k)
            return v[0] if v else None
        self.method = one("method")
        self.path_re = re.compile(one("path")) if one("path") is not None else None
        self.action = one("action")
        st = one("status")
        self.status = int(st) if st is not None else None

    def __call__(self, e):
        if self.method and e["method"].upper() != self.method.upper():
            return False
        if self.path_re is not None and not self.path_re.search(e["path"]):
            return False
        if self.action and e["action"] != self.action:
            return False
        if self.status is not None and e["status"] != self.status:
            return False
        return True


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # notified on every new log entry
        self.rules = []
        self.log = []
        self.seq = 0
        self.ari = None
        self.profiles = None
        self.nonce_path = None  # learned from the directory

    def set_rules(self, specs):
        rules = [Rule(s, i) for i, s in enumerate(specs)]
        with self.lock:
            self.rules = rules

    def add_rule(self, spec):
        with self.lock:
            r = Rule(spec, len(self.rules))
            self.rules.append(r)
        return r.index

    def reset(self, rules=True, log=True, ari=True, profiles=True):
        with self.lock:
            if rules:
                self.rules = []
            if log:
                self.log = []
            if ari:
                self.ari = None
            if profiles:
                self.profiles = None

    def pick(self, req):
        """The first live rule that matches and has used up its skips, or None.

        A match that is skipped counts towards the rule's skip but falls through to the
        rules after it."""
        with self.lock:
            for r in self.rules:
                if r.expired() or not r.matches(req):
                    continue
                r.seen += 1
                if r.seen <= r.skip:
                    continue
                r.applied += 1
                return r
        return None

    def new_entry(self, req):
        with self.lock:
            self.seq += 1
            e = {"seq": self.seq, "time": round(time.time(), 6), "method": req.method,
                 "path": req.path, "host": req.host, "action": "pass", "rule": None,
                 "status": None}
            if req.protected is not None:
                e["protected"] = req.protected
            if req.payload_text is not None:
                e["payload"] = req.payload if req.payload is not None else req.payload_text
            self.log.append(e)
            self.changed.notify_all()
            return e

    def update(self, entry, **kw):
        with self.lock:
            entry.update(kw)

    def entries(self, since=0, flt=None):
        with self.lock:
            return [copy.deepcopy(e) for e in self.log
                    if e["seq"] > since and (flt is None or flt(e))]

    def count(self, flt):
        with self.lock:
            return sum(1 for e in self.log if flt(e))

    def wait_count(self, flt, n, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                c = sum(1 for e in self.log if flt(e))
                left = deadline - time.monotonic()
                if c >= n or left <= 0 or STOP.is_set():
                    return c
                self.changed.wait(min(left, 0.5))


STATE = State()


# ----------------------------------------------------------------------------------------
# Servers

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    # Never join handler threads on close: a client idling on a keep-alive connection would
    # hold shutdown up for the whole idle timeout.
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can block on
        # DNS; loopback tests need none of it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # handshake failures, clients going away
            return
        log_err("unhandled error for %s: %r" % (client_address, exc))


class ProxyServer(Server):
    def __init__(self, addr, ssl_ctx, upstream, upstream_ctx, upstream_timeout):
        self.ssl_ctx = ssl_ctx
        self.upstream = upstream  # (host, port)
        self.upstream_ctx = upstream_ctx
        self.upstream_timeout = upstream_timeout
        super().__init__(addr, ProxyHandler)


class Drop(Exception):
    """Close the client connection without (further) response: abruptly by default (no TLS
    close_notify), cleanly (close_notify first) or with a TCP reset."""

    def __init__(self, how="abrupt"):
        super().__init__(how)
        self.how = how


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"
    timeout = 125  # idle keep-alive limit per client connection

    # -- connection plumbing --------------------------------------------------------------
    def setup(self):
        self.up = None
        self.request.settimeout(15)  # bounds the TLS handshake
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm and
        # delayed ACKs add 40 ms to every response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = self.server.ssl_ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.close_upstream()

    def log_message(self, fmt, *args):
        pass

    def close_upstream(self):
        if self.up is not None:
            try:
                self.up.close()
            except Exception:
                pass
            self.up = None

    def hard_close(self, how):
        """Closes the client connection now; see Drop for `how`."""
        sock = self.connection
        try:
            if how == "clean":
                sock.settimeout(1.0)
                sock = sock.unwrap()  # sends close_notify; waits briefly for the peer's
            elif how == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return
        except Exception:
            sock = self.connection
        for op in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
            try:
                op()
            except Exception:
                pass

    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.parse_request():
                return
            self.process()
            self.wfile.flush()
        except Drop as d:
            self.close_connection = True
            self.hard_close(d.how)
        except OSError:  # timeouts, resets, TLS errors: the connection is gone
            self.close_connection = True
        except Exception as e:  # e.g. a malformed request body
            log_err("bad request on %s: %r" % (self.path, e))
            self.close_connection = True
            self.hard_close("abrupt")

    # -- upstream -------------------------------------------------------------------------
    def upstream_request(self, method, path, headers, body):
        """Forwards one request on this handler's upstream connection (opened on demand,
        reopened once when a reused one turns out stale). Returns (status, reason,
        [(name, value)], body)."""
        for attempt in (0, 1):
            reused = self.up is not None
            if self.up is None:
                host, port = self.server.upstream
                conn = http.client.HTTPSConnection(host, port,
                                                   timeout=self.server.upstream_timeout,
                                                   context=self.server.upstream_ctx)
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.up = conn
            try:
                self.up.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    self.up.putheader(k, v)
                if body or method in ("POST", "PUT", "PATCH"):
                    self.up.putheader("Content-Length", str(len(body)))
                self.up.endheaders(body if body else None)
                resp = self.up.getresponse()
                data = resp.read()
                hdrs = resp.getheaders()
                if resp.will_close:
                    self.close_upstream()
                return resp.status, resp.reason, hdrs, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest):
                self.close_upstream()
                if attempt == 0 and reused:
                    continue  # stale keep-alive connection: retry once on a fresh one
                raise
            except Exception:
                self.close_upstream()
                raise
        raise RuntimeError("unreachable")

    def forward_headers(self):
        """The client's headers minus hop-by-hop ones; Host stays as the client sent it."""
        conn_tokens = {t.strip().lower() for t in self.headers.get("Connection", "").split(",")}
        out = []
        have_host = False
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk in conn_tokens or lk in ("content-length",
                                                                "accept-encoding"):
                continue
            have_host = have_host or lk == "host"
            out.append((k, v))
        if not have_host:
            out.insert(0, ("Host", "%s:%d" % self.server.upstream))
        return out

    def fresh_nonce(self):
        """A nonce from upstream, for locally generated error responses."""
        hdrs = [h for h in self.forward_headers() if h[0].lower() == "host"]
        path = STATE.nonce_path
        try:
            if path is None:
                st, _, _, data = self.upstream_request("GET", "/dir", hdrs, b"")
                if st == 200:
                    learn_directory(json.loads(data.decode("utf-8")))
                path = STATE.nonce_path or "/nonce-plz"
            _, _, rh, _ = self.upstream_request("HEAD", path, hdrs, b"")
            for k, v in rh:
                if k.lower() == "replay-nonce":
                    return v
        except Exception as e:
            log_err("could not fetch a nonce: %r" % e)
        return None

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n > 0 else b""

    # -- responses --------------------------------------------------------------------------
    def send_full(self, status, reason, headers, body, truncate=None, slow_bps=None):
        """Sends status line, headers (hop-by-hop dropped, Content-Length recomputed) and
        body. truncate=N sends only N bytes of the body, then drops the connection; slow_bps
        paces the body."""
        method = self.command
        bodiless = status in (204, 304) or 100 <= status < 200
        clen = None
        self.send_response_only(status, reason)
        for k, v in headers:
            lk = k.lower()
            if lk == "content-length":
                clen = v
            elif lk not in HOP_BY_HOP:
                self.send_header(k, v)
        if method == "HEAD":
            self.send_header("Content-Length", clen if clen is not None else str(len(body)))
        elif not bodiless:
            self.send_header("Content-Length", str(len(body)))
        if truncate is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if method == "HEAD" or bodiless:
            return
        if truncate is not None:
            self.wfile.write(body[:truncate])
            self.wfile.flush()
            raise Drop("clean")
        if slow_bps:
            step = max(1, int(slow_bps) // 10)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                if STOP.wait(0.1):
                    raise Drop()
            return
        self.wfile.write(body)

    def send_huge(self, spec):
        size = spec.get("size", HUGE_DEFAULT)
        chunked = bool(spec.get("chunked"))
        self.send_response_only(spec.get("status", 200))
        self.send_header("Content-Type", spec.get("content_type", "application/json"))
        if spec.get("with_nonce"):
            n = self.fresh_nonce()
            if n:
                self.send_header("Replay-Nonce", n)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        block = b"A" * (1 << 20)
        left = size
        while left > 0:
            n = min(left, len(block))
            if chunked:
                self.wfile.write(b"%x\r\n" % n + block[:n] + b"\r\n")
            else:
                self.wfile.write(block[:n])
            left -= n
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def send_status(self, spec, entry):
        st = spec.get("status", 503)
        hdrs = []
        if "problem" in spec:
            prob = dict(spec["problem"])
            prob.setdefault("type", "urn:ietf:params:acme:error:serverInternal")
            prob.setdefault("status", st)
            payload = json_bytes(prob)
            ctype = spec.get("content_type", "application/problem+json")
        elif "json" in spec:
            payload = json_bytes(spec["json"])
            ctype = spec.get("content_type", "application/json")
        else:
            payload = str(spec.get("body", "")).encode("utf-8")
            ctype = spec.get("content_type", "text/plain" if payload else None)
        if ctype:
            hdrs.append(("Content-Type", ctype))
        if spec.get("with_nonce"):
            n = self.fresh_nonce()
            if n:
                hdrs.append(("Replay-Nonce", n))
        if "retry_after" in spec:
            hdrs.append(("Retry-After", str(spec["retry_after"])))
        hdrs.append(("Cache-Control", "no-store"))
        hdrs.extend(_str_map(spec, "headers"))
        STATE.update(entry, status=st)
        self.send_full(st, None, hdrs, payload)

    def stall(self, seconds):
        """Holds the connection open without answering until the client goes away, the
        time is up or the proxy stops; then drops it."""
        deadline = time.monotonic() + min(float(seconds), MAX_WAIT)
        sock = self.connection
        while not STOP.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                r, _, _ = select.select([sock], [], [], min(left, 0.5))
                if r:
                    sock.settimeout(0.5)
                    if not sock.recv(65536):
                        break  # client closed
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (OSError, ValueError):
                break
        raise Drop()

    # -- one request ------------------------------------------------------------------------
    def process(self):
        body = self.read_body()
        req = Request(self.command, self.path, self.headers.get("Host"), body)
        entry = STATE.new_entry(req)
        rule = STATE.pick(req)
        spec = rule.spec if rule else {}
        act = rule.action if rule else "pass"
        if rule is not None:
            STATE.update(entry, action=act, rule=rule.index)
        sending = False
        try:
            if act == "drop":
                if spec.get("forward"):
                    self.produce(req, body, entry)
                raise Drop("reset" if spec.get("reset") else "abrupt")
            if act == "stall":
                if spec.get("forward"):
                    self.produce(req, body, entry)
                self.stall(spec.get("seconds", MAX_WAIT))
            if act == "status":
                sending = True
                self.send_status(spec, entry)
                return
            if act == "huge":
                STATE.update(entry, status=spec.get("status", 200))
                sending = True
                self.send_huge(spec)
                return
            if act == "delay" and not spec.get("after"):
                STOP.wait(spec.get("seconds", 1))

            st, reason, hdrs, data = self.produce(req, body, entry)
            if act == "delay" and spec.get("after"):
                STOP.wait(spec.get("seconds", 1))
            st, reason, hdrs, data = self.alter(act, spec, entry, st, reason, hdrs, data)
            truncate = None
            if act == "truncate":
                truncate = spec.get("bytes", len(data) // 2)
            STATE.update(entry, status=st)
            sending = True
            self.send_full(st, reason, hdrs, data, truncate=truncate,
                           slow_bps=spec.get("bytes_per_second", 1024) if act == "slow" else None)
        except Drop:
            raise
        except OSError as e:
            if sending:
                raise  # the client connection broke: nothing more to say
            self.local_error(entry, 502, "upstream error: %r" % e, "upstream_error")
        except Exception as e:
            log_err("error handling %s %s: %r" % (self.command, self.path, e))
            if sending:
                raise Drop()
            self.local_error(entry, 500, "faultproxy internal error: %r" % e, "proxy_error")

    def alter(self, act, spec, entry, st, reason, hdrs, data):
        """Applies the response-rewriting actions to a forwarded response."""
        if act == "replace_body":
            if "json" in spec:
                data = json_bytes(spec["json"])
            elif "body" in spec:
                data = str(spec["body"]).encode("utf-8")
            if spec.get("sub"):
                text = data.decode("utf-8", "replace")
                for pat, rep in rule_subs(spec):
                    text = pat.sub(rep, text)
                data = text.encode("utf-8")
            if "content_type" in spec:
                hdrs = [h for h in hdrs if h[0].lower() != "content-type"]
                hdrs.append(("Content-Type", spec["content_type"]))
        elif act == "json_patch":
            try:
                doc = json.loads(data.decode("utf-8"))
            except ValueError:
                STATE.update(entry, action="json_patch(not json: unchanged)")
            else:
                data = json_bytes(merge_patch(doc, spec["patch"]), indent=2)
        elif act == "header":
            setv = _str_map(spec, "set")
            remove = {h.lower() for h in (spec.get("remove") or [])}
            remove |= {k.lower() for k, _ in setv}
            hdrs = [h for h in hdrs if h[0].lower() not in remove] + setv
        if act in ("replace_body", "json_patch") and "status" in spec:
            st, reason = spec["status"], None
        return st, reason, hdrs, data

    def local_error(self, entry, st, detail, action):
        STATE.update(entry, status=st, action=action)
        prob = {"type": "urn:ietf:params:acme:error:serverInternal", "detail": detail,
                "status": st}
        self.send_full(st, None, [("Content-Type", "application/problem+json")],
                       json_bytes(prob))

    def produce(self, req, body, entry):
        """The response the client would get without faults: upstream's, or the proxy's own
        renewal information."""
        if req.path == "/renewal-info" or req.path.startswith("/renewal-info/"):
            return self.renewal_info(req, entry)
        st, reason, hdrs, data = self.upstream_request(req.method, req.path,
                                                       self.forward_headers(), body)
        if req.method == "GET" and st == 200:
            data = self.augment_directory(data)
        return st, reason, hdrs, data

    def renewal_info(self, req, entry):
        rest = req.path[len("/renewal-info/"):] if req.path.startswith("/renewal-info/") else ""
        cert_id = urllib.parse.unquote(rest.split("?")[0])
        STATE.update(entry, cert_id=cert_id)
        with STATE.lock:
            ari = copy.deepcopy(STATE.ari)
        info = None
        if ari is not None and cert_id and req.method in ("GET", "HEAD"):
            info = (ari.get("certs") or {}).get(cert_id)
            if info is None and "window" in ari:
                info = ari
        if info is None:
            prob = {"type": "urn:ietf:params:acme:error:malformed",
                    "detail": "no renewal information for %r" % cert_id, "status": 404}
            return 404, None, [("Content-Type", "application/problem+json")], json_bytes(prob)
        win = info["window"]
        doc = {"suggestedWindow": {"start": rfc3339(win["start"]), "end": rfc3339(win["end"])}}
        if info.get("explanationURL"):
            doc["explanationURL"] = info["explanationURL"]
        hdrs = [("Content-Type", "application/json")]
        ra = info.get("retry_after", ari.get("retry_after"))
        if ra is not None:
            hdrs.append(("Retry-After", str(ra)))
        return 200, None, hdrs, json_bytes(doc, indent=2)

    def augment_directory(self, data):
        """Adds renewalInfo and meta.profiles to a directory when they are configured."""
        if not data.lstrip().startswith(b"{"):
            return data
        try:
            doc = json.loads(data.decode("utf-8"))
        except ValueError:
            return data
        if not isinstance(doc, dict) or "newNonce" not in doc:
            return data
        learn_directory(doc)
        with STATE.lock:
            ari = STATE.ari
            profiles = copy.deepcopy(STATE.profiles)
        if ari is None and profiles is None:
            return data
        if ari is not None:
            host = self.headers.get("Host") or "%s:%d" % self.server.upstream
            doc["renewalInfo"] = "https://%s/renewal-info" % host
        if profiles is not None:
            meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
            meta["profiles"] = profiles
            doc["meta"] = meta
        return json_bytes(doc, indent=2)


def rule_subs(spec):
    return [(re.compile(p), r) for p, r in spec.get("sub", [])]


def learn_directory(doc):
    try:
        STATE.nonce_path = urllib.parse.urlsplit(doc["newNonce"]).path or "/"
    except (KeyError, TypeError, ValueError, AttributeError):
        pass


# ----------------------------------------------------------------------------------------
# Control API (plain HTTP, loopback)

class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "faultproxy-control"
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def reply(self, st, obj):
        data = (json.dumps(obj, indent=1) + "\n").encode("utf-8")
        self.send_response(st)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def json_body(self):
        n = int(self.headers.get("Content-Length", "0") or "0")
        raw = self.rfile.read(n) if n > 0 else b""
        if not raw.strip():
            return None
        return json.loads(raw.decode("utf-8"))

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        try:
            flt = LogFilter(q)
            if u.path == "/log":
                self.reply(200, STATE.entries(int(q.get("since", ["0"])[0]), flt))
            elif u.path == "/count":
                self.reply(200, {"count": STATE.count(flt)})
            elif u.path == "/wait":
                n = int(q.get("n", ["1"])[0])
                timeout = min(float(q.get("timeout", ["10"])[0]), MAX_WAIT)
                c = STATE.wait_count(flt, n, timeout)
                self.reply(200, {"count": c, "ok": c >= n})
            elif u.path == "/rules":
                with STATE.lock:
                    self.reply(200, [r.describe() for r in STATE.rules])
            elif u.path == "/state":
                with STATE.lock:
                    self.reply(200, {"ari": STATE.ari, "profiles": STATE.profiles,
                                     "count": len(STATE.log), "rules": len(STATE.rules)})
            else:
                self.reply(404, {"error": "unknown endpoint %s" % u.path})
        except (ValueError, re.error) as e:
            self.reply(400, {"error": str(e)})

    def do_POST(self):
        try:
            body = self.json_body()
        except ValueError as e:
            self.reply(400, {"error": "bad JSON: %s" % e})
            return
        try:
            if self.path == "/rules":
                if isinstance(body, dict) and "rules" in body:
                    body = body["rules"]
                if body is None:
                    body = []
                if not isinstance(body, list):
                    raise ValueError("expected a JSON list of rules")
                STATE.set_rules(body)
                self.reply(200, {"ok": True, "rules": len(body)})
            elif self.path == "/rules/add":
                self.reply(200, {"ok": True, "index": STATE.add_rule(body)})
            elif self.path == "/reset":
                what = body if isinstance(body, dict) else {}
                STATE.reset(**{k: bool(what.get(k, True))
                               for k in ("rules", "log", "ari", "profiles")})
                self.reply(200, {"ok": True})
            elif self.path == "/ari":
                if body is not None:
                    check_ari(body)
                with STATE.lock:
                    STATE.ari = body
                self.reply(200, {"ok": True})
            elif self.path == "/profiles":
                if body is not None and not isinstance(body, dict):
                    raise ValueError("expected a JSON object (name -> description) or null")
                with STATE.lock:
                    STATE.profiles = body
                self.reply(200, {"ok": True})
            elif self.path == "/quit":
                self.reply(200, {"ok": True})
                QUIT.set()
            else:
                self.reply(404, {"error": "unknown endpoint %s" % self.path})
        except (ValueError, TypeError, re.error) as e:
            self.reply(400, {"error": str(e)})


def check_ari(body):
    if not isinstance(body, dict):
        raise ValueError('expected {"window": {"start": ..., "end": ...}, ...} or null')
    certs = body.get("certs")
    if certs is not None and not isinstance(certs, dict):
        raise ValueError("certs must be an object (certID -> {window, ...})")
    if "window" not in body and not certs:
        raise ValueError("need a window or certs")
    if "window" in body:
        _check_window(body["window"], "window")
    for cid, info in (certs or {}).items():
        if not isinstance(info, dict):
            raise ValueError("certs.%s must be an object" % cid)
        _check_window(info.get("window"), "certs.%s.window" % cid)


QUIT = threading.Event()


# ----------------------------------------------------------------------------------------

def parse_hostport(s, what):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit("faultproxy: bad %s %r (want HOST:PORT)" % (what, s))
    return host, int(port)


def write_ready(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ready.", dir=d)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def make_server(cls, hostport, *args):
    host, port = hostport
    cls = type(cls.__name__, (cls,), {"address_family":
                                      socket.AF_INET6 if ":" in host else socket.AF_INET})
    return cls((host, port), *args)


def main():
    ap = argparse.ArgumentParser(description="Scriptable TLS fault-injection proxy for ACME tests")
    ap.add_argument("--listen", required=True, help="HOST:PORT (port 0 = pick a free one)")
    ap.add_argument("--cert", required=True, help="PEM certificate (chain) for the listener")
    ap.add_argument("--key", required=True, help="PEM private key for the listener")
    ap.add_argument("--upstream", required=True, help="https://HOST:PORT")
    ap.add_argument("--upstream-ca", required=True, help="CA bundle to verify upstream with")
    ap.add_argument("--upstream-timeout", type=float, default=60.0)
    ap.add_argument("--control", required=True, help="HOST:PORT (port 0 = pick)")
    ap.add_argument("--rules", help="JSON file with an initial rule list")
    ap.add_argument("--ready-file", help='written atomically with "PORT CONTROLPORT" once '
                                         "both listeners accept connections")
    ap.add_argument("--parent", type=int, help="exit when this process is gone")
    args = ap.parse_args()

    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != "https" or not up.hostname or up.path not in ("", "/"):
        raise SystemExit("faultproxy: --upstream must be https://HOST:PORT")
    upstream = (up.hostname, up.port or 443)

    if args.rules:
        try:
            with open(args.rules) as f:
                specs = json.load(f)
            if isinstance(specs, dict):
                specs = specs.get("rules", [])
            STATE.set_rules(specs)
        except (OSError, ValueError, TypeError, re.error) as e:
            raise SystemExit("faultproxy: --rules %s: %s" % (args.rules, e))

    try:
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(args.cert, args.key)
        sctx.set_alpn_protocols(["http/1.1"])
        uctx = ssl.create_default_context(cafile=args.upstream_ca)
        proxy = make_server(ProxyServer, parse_hostport(args.listen, "--listen"),
                            sctx, upstream, uctx, args.upstream_timeout)
        control = make_server(Server, parse_hostport(args.control, "--control"),
                              ControlHandler)
    except OSError as e:  # includes ssl.SSLError
        raise SystemExit("faultproxy: cannot start: %s" % e)

    # Signal handlers only set a flag; the main loop polls it (Event.set from a signal
    # handler could deadlock on the event's lock).
    got_signal = []
    signal.signal(signal.SIGTERM, lambda *_: got_signal.append(1))
    signal.signal(signal.SIGINT, lambda *_: got_signal.append(1))
    for s in (proxy, control):
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()

    line = "%d %d\n" % (proxy.server_address[1], control.server_address[1])
    if args.ready_file:
        write_ready(args.ready_file, line)
    sys.stdout.write(line)
    sys.stdout.flush()

    while not got_signal and not QUIT.wait(0.1):
        if args.parent and os.getppid() != args.parent:
            break
    STOP.set()
    proxy.shutdown()
    control.shutdown()
    proxy.server_close()
    control.server_close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Handler threads may still sit in blocking reads; they are daemons, but skipping the
    # interpreter's finalisation makes the exit immediate.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
