#!/usr/bin/env python3
"""A web server of the fleet, as the nginx snippet in examples/ configures one: requests for
/.well-known/acme-challenge/ are proxied, Host kept, to each upstream in turn (the next one
only when the previous answered 404 or failed: nginx's proxy_next_upstream error http_404);
everything else is 404 here.

usage: fleet_web.py LISTEN-ADDR PORT UPSTREAM-HOST:PORT [UPSTREAM...]
"""
import http.client
import http.server
import sys


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


UPSTREAMS = []


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        if not self.path.startswith("/.well-known/acme-challenge/"):
            self.send_error(404)
            return
        status, body = 502, b"no upstream\n"
        for up in UPSTREAMS:
            host, port = up.rsplit(":", 1)
            try:
                c = http.client.HTTPConnection(host, int(port), timeout=5)
                c.request("GET", self.path, headers={"Host": self.headers.get("Host", "")})
                r = c.getresponse()
                status, body = r.status, r.read()
                c.close()
            except OSError:
                continue
            if status != 404:
                break
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    UPSTREAMS.extend(sys.argv[3:])
    with Server((addr, port), Handler) as httpd:
        httpd.serve_forever()


if __name__ == "__main__":
    main()
