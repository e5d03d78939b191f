#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Short-connection workload for tests/bench/bench.sh.

  connrate.py server PORT MAX_SECONDS   accept connections until MAX_SECONDS have passed;
                                        read each to EOF, then close
  connrate.py client HOST PORT SECONDS  sequential connections for SECONDS: connect, send
                                        64 bytes, shut down writing, read to EOF, close;
                                        prints "conns=<n> errors=<n> seconds=<s> rate=<n/s>"
Bounded by design: every mode stops by itself.
"""
import socket
import sys
import time

PAYLOAD = b"x" * 64


def server(port, max_seconds):
    deadline = time.monotonic() + max_seconds
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4096)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ls.settimeout(min(left, 5.0))
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        c.settimeout(5)
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()
    ls.close()


def client(host, port, seconds):
    conns = errors = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((host, port))
            s.sendall(PAYLOAD)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
            conns += 1
        except OSError:
            errors += 1
            if errors > 100:
                break
        finally:
            s.close()
    took = time.monotonic() - start
    print(f"conns={conns} errors={errors} seconds={took:.3f} rate={conns / took:.1f}")


def main(argv):
    if len(argv) == 3 and argv[0] == "server":
        server(int(argv[1]), float(argv[2]))
    elif len(argv) == 4 and argv[0] == "client":
        client(argv[1], int(argv[2]), float(argv[3]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
