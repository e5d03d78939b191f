#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""An HTTPS/1.1 client for fogprobe's TLS tests (Python's ssl: OpenSSL on the client side),
built to put requests where a server's TLS library has to find them in its own buffer.
Standard library only.

  tls_client.py HOST PORT [options]   prints one JSON line of its own counts on stdout:
                                      {"connections", "resumed", "together", "requests",
                                       "responses", "by_status": {"200": n, ...},
                                       "versions": {"TLSv1.3": n, ...}, "sent_ms": the
                                       last request's write after the first connect}
    --conns N        connections, one after the other (default 10)
    --requests R     requests per connection, keep-alive (default 1; the last one says
                     "Connection: close" when --close)
    --close          the last request of each connection asks the server to close
    --tls V          1.2 or 1.3 (default: the highest both sides speak)
    --resume         offer the previous connection's session (abbreviated handshake:
                     in TLS 1.2 the client then sends the handshake's last flight)
    --together       the first request leaves in the same TCP segment as the client's
                     last handshake flight (TCP_CORK around the end of the handshake): the
                     server reads both in one read() and its TLS library serves the request
                     from its own buffer, with no read() of its own. Where the client's
                     flight is not the last (a full TLS 1.2 handshake) it has no effect;
                     "together" counts the connections where it took effect
    --pipeline       send all requests of a connection in one write, then read the answers
    --path P         request path prefix (default /py); request i of connection c asks
                     P/c/i
    --connect-retry S  a refused connect is tried again every millisecond for up to S
                     seconds: started before its server, the client's first request
                     arrives as the server starts to listen

Requests are counted when written, responses when read whole (Content-Length or
chunked bodies).
"""
import argparse
import fcntl
import json
import select
import socket
import ssl
import struct
import sys
import time


def read_response(s, buf):
    """Read one response from SSLSocket s; buf holds bytes already read. Returns
    (status, rest of buf) or (None, b"") at EOF."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None, b""
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.strip().lower()] = v.strip()
    if b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        while len(rest) < n:
            d = s.recv(65536)
            if not d:
                return None, b""
            rest += d
        return status, rest[n:]
    if hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            while b"\r\n" not in rest:
                d = s.recv(65536)
                if not d:
                    return None, b""
                rest += d
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                d = s.recv(65536)
                if not d:
                    return None, b""
                rest += d
            rest = rest[size + 2:]
            if size == 0:
                return status, rest
    return status, rest


SIOCOUTQNSD = 0x894B  # linux/sockios.h: bytes queued and not sent yet


def unsent(s):
    return struct.unpack("i", fcntl.ioctl(s.fileno(), SIOCOUTQNSD, b"\0" * 4))[0]


def handshake(s, cork):
    """Non-blocking handshake. With cork, what the client writes after its ClientHello
    (its last flight) is held until the first request joins it. Returns whether it is
    still held: not when the client's flight is not the last one (a full TLS 1.2
    handshake waits for the server's Finished, and no request may go before it)."""
    s.setblocking(False)
    if cork:
        # corked from the start: the server's answer cannot arrive (and be read in the
        # same call as the ClientHello's write, when the client is preempted between
        # them) before the ClientHello is let go below
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    corked = cork
    first = True
    while True:
        try:
            s.do_handshake()
            break
        except ssl.SSLWantReadError:
            if corked and first:
                # the ClientHello out, the rest held
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            # Bytes held and nothing from the server for a while: the client wrote
            # its flight and waits for the server's (TLS 1.2), let it go. (TLS 1.3's
            # compatibility ChangeCipherSpec is held too, but the rest of the
            # server's flight is on its way.)
            elif corked and unsent(s) and not select.select([s], [], [], 0.02)[0]:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
                corked = False
            first = False
            select.select([s], [], [], 5)
        except ssl.SSLWantWriteError:
            select.select([], [s], [], 5)
    s.settimeout(10)
    return corked


def connect(host, port, retry_s):
    deadline = time.monotonic() + retry_s
    while True:
        try:
            return socket.create_connection((host, port))
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=10)
    ap.add_argument("--requests", type=int, default=1)
    ap.add_argument("--close", action="store_true")
    ap.add_argument("--tls", choices=["1.2", "1.3"])
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--together", action="store_true")
    ap.add_argument("--pipeline", action="store_true")
    ap.add_argument("--path", default="/py")
    ap.add_argument("--connect-retry", type=float, default=0)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if a.tls:
        v = ssl.TLSVersion.TLSv1_2 if a.tls == "1.2" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version = v
    out = {"connections": 0, "resumed": 0, "together": 0, "requests": 0, "responses": 0,
           "by_status": {}, "versions": {}}
    first = last = None
    session = None
    for c in range(a.conns):
        # no timeout before the handshake: _ssl then blocks whatever setblocking says
        raw = connect(a.host, a.port, a.connect_retry)
        if first is None:
            first = time.monotonic()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = ctx.wrap_socket(raw, server_hostname=a.host, do_handshake_on_connect=False,
                            session=session if a.resume else None)
        corked = handshake(s, a.together)
        out["connections"] += 1
        out["together"] += corked
        out["resumed"] += s.session_reused
        out["versions"][s.version()] = out["versions"].get(s.version(), 0) + 1
        reqs = []
        for i in range(a.requests):
            last = i == a.requests - 1
            conn = b"close" if a.close and last else b"keep-alive"
            reqs.append(b"GET %s/%d/%d HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\n\r\n"
                        % (a.path.encode(), c, i, a.host.encode(), conn))
        buf = b""
        if a.pipeline:
            s.sendall(b"".join(reqs))
            last = time.monotonic()
            out["requests"] += len(reqs)
            if corked:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        for i, r in enumerate(reqs):
            if not a.pipeline:
                s.sendall(r)
                last = time.monotonic()
                out["requests"] += 1
                if corked and i == 0:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            st, buf = read_response(s, buf)
            if st is None:
                break
            out["responses"] += 1
            out["by_status"][str(st)] = out["by_status"].get(str(st), 0) + 1
        if a.resume:
            session = s.session
        try:
            s.unwrap() if not a.close else None
        except (ssl.SSLError, OSError):
            pass
        s.close()
    if first is not None and last is not None:
        out["sent_ms"] = round((last - first) * 1000, 1)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
