#!/usr/bin/env python3
"""A static file server for the tests' webroot (http-01 answers), on 127.0.0.1 only.

python3 -m http.server would do, but its listen backlog is 5: when Pebble validates many
challenges at once (three requests each) the extra connection attempts are dropped and
retried a second later, which makes parallel issuance look slow. This one has a deep
backlog and a thread per connection.

usage: webroot_server.py PORT DIRECTORY
"""
import functools
import http.server
import sys


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    handler = functools.partial(Handler, directory=directory)
    with Server(("127.0.0.1", port), handler) as httpd:
        httpd.serve_forever()


if __name__ == "__main__":
    main()
