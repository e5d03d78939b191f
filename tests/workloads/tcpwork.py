#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""TCP workload for fogprobe's integration tests.

  tcpwork.py server PORT [--count N]    accept N connections (0: forever); read each to
                                        EOF, then close
  tcpwork.py connect HOST PORT N BYTES  N sequential connections, BYTES each; prints
                                        "ok=<n> refused=<n> failed=<n>" (and, with
                                        TCPWORK_SS=1, ss -ti's bytes_sent summed; with
                                        TCPWORK_TIMES=1, "connect_ms=<mean>": the
                                        connect() calls' own duration)
  tcpwork.py hold HOST PORT N SECONDS   N connections held open for SECONDS
Bounded by design: every mode stops by itself.
"""
import fcntl
import os
import re
import struct
import termios
import socket
import subprocess
import sys
import time


def server(port, count):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(512)
    ls.settimeout(120)
    served = 0
    while count == 0 or served < count:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            break
        c.settimeout(30)
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()
        served += 1
    ls.close()


def ss_bytes_sent(s):
    """The kernel's own count of payload bytes sent, retransmissions included (ss -ti)."""
    lport = s.getsockname()[1]
    out = subprocess.run(["ss", "-tinH", f"sport = :{lport}"], capture_output=True,
                         text=True).stdout
    m = re.search(r"bytes_sent:(\d+)", out)
    return int(m.group(1)) if m else -1


def unacked(s):
    """Bytes in the send queue not yet acknowledged (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ, b"\0" * 4))[0]


def connect(host, port, n, nbytes):
    ok = refused = failed = 0
    sent = 0
    report = os.environ.get("TCPWORK_SS") == "1"
    times = os.environ.get("TCPWORK_TIMES") == "1"
    connect_s = []
    payload = b"x" * nbytes
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            t0 = time.monotonic()
            s.connect((host, port))
            connect_s.append(time.monotonic() - t0)
            if payload:
                s.sendall(payload)
            if report:
                # read the counters once everything is acked, while still ESTABLISHED
                # (a TIME_WAIT socket has no tcp_info)
                deadline = time.time() + 10
                while time.time() < deadline and unacked(s):
                    time.sleep(0.01)
                sent += ss_bytes_sent(s)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
            ok += 1
        except ConnectionRefusedError:
            refused += 1
        except OSError:
            failed += 1
        finally:
            s.close()
    print(f"ok={ok} refused={refused} failed={failed}")
    if report:
        print(f"bytes_sent={sent}")
    if times:
        mean = sum(connect_s) / len(connect_s) * 1000.0 if connect_s else 0.0
        print(f"connect_ms={mean:.3f}")


def hold(host, port, n, seconds):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        socks.append(s)
    print(f"held={len(socks)}", flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def main(argv):
    if len(argv) >= 2 and argv[0] == "server":
        count = int(argv[3]) if len(argv) >= 4 and argv[2] == "--count" else 0
        server(int(argv[1]), count)
    elif len(argv) == 5 and argv[0] == "connect":
        connect(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
    elif len(argv) == 5 and argv[0] == "hold":
        hold(argv[1], int(argv[2]), int(argv[3]), float(argv[4]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
