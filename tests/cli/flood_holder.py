#!/usr/bin/env python3
"""flood_holder.py HOST PORT COUNT SECONDS STATUS: a client starving a listener.

Holds COUNT idle TCP connections to HOST:PORT (it never sends a byte) for at most SECONDS,
and reopens every connection the server closes, in rounds at most every 0.1 s, as a client
trying to keep a listener full would. Until something listens on the port it tries one
connection every 20 ms. After every round it rewrites STATUS (key=value lines):

    opened   connections that were established
    closed   established connections the server closed
    fast     of those, the ones closed within 1 s of being established (well before a 3 s
             deadline for a request: closed to make room)
    refused  connection attempts that failed
    ready    1 once COUNT connections have been established (the flood is on)

Used by tests/cli/test_listener_flood.sh, which starts it in the background and kills it by
PID when done; SECONDS bounds it should that fail.
"""
import os
import selectors
import socket
import sys
import time


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    end = time.monotonic() + float(sys.argv[4])
    status = sys.argv[5]
    sel = selectors.DefaultSelector()
    socks = {}  # socket -> "connecting" or the time it was established
    stats = {"opened": 0, "closed": 0, "fast": 0, "refused": 0, "ready": 0}
    listening = False
    next_round = 0.0

    def open_one():
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            stats["refused"] += 1
            return
        socks[s] = "connecting"
        sel.register(s, selectors.EVENT_WRITE)

    def drop(s):
        sel.unregister(s)
        del socks[s]
        s.close()

    def write_status():
        tmp = status + ".tmp"
        with open(tmp, "w") as f:
            f.writelines("%s=%d\n" % kv for kv in stats.items())
        os.replace(tmp, status)

    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_round:
            want = count - len(socks) if listening else (0 if socks else 1)
            for _ in range(want):
                open_one()
            next_round = now + (0.1 if listening else 0.02)
            write_status()
        for key, _ in sel.select(timeout=max(0.0, next_round - time.monotonic())):
            s = key.fileobj
            if socks[s] == "connecting":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    stats["refused"] += 1
                    drop(s)
                    continue
                socks[s] = time.monotonic()
                stats["opened"] += 1
                listening = True
                if stats["opened"] >= count:
                    stats["ready"] = 1
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                stats["closed"] += 1
                stats["fast"] += time.monotonic() - socks[s] < 1.0
                drop(s)
    write_status()


if __name__ == "__main__":
    main()
