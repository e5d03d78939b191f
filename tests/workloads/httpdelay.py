#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""HTTP/1.1 peers for fogprobe's integration tests: a keep-alive server that answers after
a known delay (the latency ground truth), and a pipelining client (curl does not pipeline).
Standard library only.

  httpdelay.py server PORT [options]   serve until --duration S (default 60) or SIGTERM;
                                       says "listening on ADDR:PORT" on stderr, and at exit
                                       prints one JSON line of counts on stdout
    --bind ADDR        listen address (default 0.0.0.0)
    --delay-ms D       sleep D ms after a request has been read, before answering
                       (default 0); a query parameter delay_ms=N overrides it per request
    Paths:  /chunked/N  N chunks of 64 bytes, Transfer-Encoding: chunked
            /status/N   a response with status N and a short body
            /reset/...  a 200, then the connection is reset (SO_LINGER 0): the peer's
                        socket is closed with the answer still in its receive queue
            anything else: 200 with a short body; POST/PUT bodies are read whole
                       (Content-Length or chunked), "Expect: 100-continue" answered with
                       an interim 100 before the body is read
    Counts: {"requests", "by_status": {"200": n, ...}, "continues", "chunked",
             "connections", "service_ms_sum", "service_ms_mean"} where the service time
             of a request runs from its head having been read to its last write

  httpdelay.py pipeline HOST PORT PATH...   open one connection, write one GET per PATH
                                       in a single send(), then read as many responses;
                                       prints {"sent", "statuses": [...], "complete"}
    --read-after-ms D  wait D ms between the send and the first read

The server is one thread per connection (ThreadingHTTPServer), so delays on one
connection do not hold up another; requests on one connection are answered in order,
which is what HTTP/1.1 pipelining needs.
"""
import argparse
import http.server
import json
import struct
import signal
import socket
import sys
import threading
import time
import urllib.parse

COUNTS = {"requests": 0, "by_status": {}, "continues": 0, "chunked": 0, "connections": 0,
          "service_ms_sum": 0.0}
LOCK = threading.Lock()


def count(key, status=None, t0=None):
    with LOCK:
        COUNTS[key] += 1
        if t0 is not None:
            COUNTS["service_ms_sum"] += (time.monotonic() - t0) * 1000.0
        if status is not None:
            s = str(status)
            COUNTS["by_status"][s] = COUNTS["by_status"].get(s, 0) + 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says close
    # The head and the body are two writes: with Nagle on, the body waits for the ACK of
    # the head, which the client delays (40 ms on Linux), and every answer would reach
    # the client 40 ms after the server wrote it. TCP_NODELAY sends each write at once.
    disable_nagle_algorithm = True
    server_version = "httpdelay/1"
    delay_ms = 0.0

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        count("connections")

    def handle_expect_100(self):
        # The interim response goes out before the body is read: the probe must see
        # one request and one final status, not two.
        count("continues")
        return super().handle_expect_100()

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                self.rfile.read(size + 2)
                if size == 0:
                    # trailers end with an empty line; the zero chunk's CRLF was read above
                    return
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def answer(self, head_only=False):
        # the head has just been read: from here to the last write is the service time
        t0 = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        delay = float(q["delay_ms"][0]) if "delay_ms" in q else self.delay_ms
        if self.command in ("POST", "PUT", "PATCH"):
            self.read_body()
        if delay > 0:
            time.sleep(delay / 1000.0)
        parts = url.path.strip("/").split("/")
        if parts[0] == "chunked" and len(parts) > 1 and parts[1].isdigit():
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            count("chunked")
            if not head_only:
                for i in range(int(parts[1])):
                    chunk = (b"%02d" % (i % 100)) * 32
                    # one write per chunk: the chunks cross the wire in several segments
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            count("requests", 200, t0)
            return
        status = 200
        if parts[0] == "status" and len(parts) > 1 and parts[1].isdigit():
            status = int(parts[1])
        body = b""
        if status not in (204, 304):
            body = b"ok %s %s\n" % (self.command.encode(), url.path.encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)
        count("requests", status, t0)
        if parts[0] == "reset":
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True

    def do_GET(self):
        self.answer()

    def do_HEAD(self):
        self.answer(head_only=True)

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET
    do_PATCH = do_GET


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(args):
    Handler.delay_ms = args.delay_ms
    srv = Server((args.bind, args.port), Handler)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    print("listening on %s:%d" % (args.bind, args.port), file=sys.stderr, flush=True)
    done.wait(args.duration)
    srv.shutdown()
    srv.server_close()
    with LOCK:
        n = COUNTS["requests"]
        COUNTS["service_ms_mean"] = round(COUNTS["service_ms_sum"] / n, 3) if n else None
        print(json.dumps(COUNTS, sort_keys=True), flush=True)
    return 0


def read_response(f, head):
    """Read one response from the buffered reader f; returns its status (None on EOF)."""
    line = f.readline()
    while line and line.split(b" ")[1:2] and line.split(b" ")[1].startswith(b"1"):
        # an interim 1xx: skip its headers and read the final response
        while f.readline() not in (b"\r\n", b"\n", b""):
            pass
        line = f.readline()
    if not line:
        return None
    status = int(line.split(b" ")[1])
    length, chunked = 0, False
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
        elif k.strip().lower() == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
    if head or status in (204, 304):
        return status
    if chunked:
        while True:
            size = int(f.readline().split(b";")[0].strip(), 16)
            f.read(size + 2)
            if size == 0:
                break
    elif length:
        f.read(length)
    return status


def pipeline(args):
    s = socket.create_connection((args.host, args.port), timeout=10)
    head = b"%s %%s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: httpdelay-pipeline\r\n\r\n" % (
        args.method.encode(), args.host.encode(), args.port)
    reqs = b"".join(head % p.encode() for p in args.paths)
    # One send: every request is in the server's receive queue before the first answer.
    s.sendall(reqs)
    if args.read_after_ms > 0:
        time.sleep(args.read_after_ms / 1000.0)
    f = s.makefile("rb")
    statuses = []
    for _ in args.paths:
        st = read_response(f, args.method == "HEAD")
        if st is None:
            break
        statuses.append(st)
    s.close()
    print(json.dumps({"sent": len(args.paths), "statuses": statuses,
              "complete": len(statuses) == len(args.paths)}), flush=True)
    return 0 if len(statuses) == len(args.paths) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("port", type=int)
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--delay-ms", type=float, default=0.0)
    s.add_argument("--duration", type=float, default=60.0)
    p = sub.add_parser("pipeline")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("paths", nargs="+")
    p.add_argument("--method", default="GET")
    p.add_argument("--read-after-ms", type=float, default=0.0)
    args = ap.parse_args()
    return serve(args) if args.cmd == "server" else pipeline(args)


if __name__ == "__main__":
    sys.exit(main())
