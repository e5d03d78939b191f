#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Betanet mixnode workload for fogprobe's integration tests (framing: DESIGN.md,
"The watched system").

  betanet.py server PORT [options]       serve mixnode connections; at exit prints one
                                         JSON line of counts on stdout
    --bind ADDR             listen address (default 0.0.0.0)
    --duration S            serve S seconds, then exit (default 60; always a cap)
    --count N               exit once N connections have finished (0: no limit)
    --response-delay-ms D   answer D ms after a request has been read whole (default 0)
    --drop-prob P           never send a response with probability P (default 0)
    --seed N                RNG seed (default 1; per connection: seed and accept order)
    --handshake-delay-ms D  wait D ms before sending the advertisement (default 0)
    --idle-timeout S        close a connection silent for S s (default 30)
    --misbehave X           bad-handshake | oversized-advert | version-mismatch |
                            rst-mid-stream | idle
    --misbehave-every K     misbehave on connections 0, K, 2K... only (default 1: all)
    --rst-after K           rst-mid-stream: RST after K requests (default 3)
    --idle-seconds S        idle: stay silent S s, then close (default 35)

  betanet.py client HOST PORT [options]  prints one JSON line of counts on stdout
    --connections C         connections to make (default 1), one after another, or
    --parallel              all C at once
    --data N --control N --cover N   frames per connection (default 10 / 2 / 2), sent
                            in a seeded shuffled order
    --mode sync|pipelined   sync (default): each request waits for its response (if
                            one is expected); pipelined: send all, then read responses
    --write-mode normal|split|coalesce   split: every write is 1..7 bytes with sleeps of
                            0..1 ms (the advertisement too); coalesce: --batch frames
                            per sendall (default 8; 0: all)
    --response-timeout S    wait at most S s per expected response (default 2)
    --seed N, --misbehave X, --misbehave-every K, --rst-after K, --idle-seconds S
                            as for the server (idle: after the handshake, wait S s
                            or until the server closes)

Wire: u32 BE length + JSON advertisement each way (server first), then one version
byte 0x12 each way (server first). Requests: u32 BE length + 8-byte header (0x01, type
1 data / 2 control / 3 cover, flags 0, layer 0..2, u16 BE payload length, u16 0) +
payload (data and cover 1200 bytes, control 64). Responses: u32 BE 1200 + 1200 bytes.
The server answers every data and control request once (unless dropped), never cover.

Counts: client {"connections","connected","refused","failed","handshakes",
"handshake_failures","misbehaved","data","control","cover","responses_received",
"responses_missing","resets","rst_sent","closed_by_peer","errors","bytes_sent",
"bytes_received"} where responses_missing = data + control - responses_received, summed per connection;
server {"connections","finished","handshakes_ok","handshake_failures","misbehaved",
"requests","requests_data","requests_control","requests_cover","requests_invalid",
"responses_sent","responses_dropped","responses_unsent","idle_timeouts","resets",
"rst_sent","bytes_received","bytes_sent"} where requests_data + requests_control =
responses_sent + responses_dropped + responses_unsent. The server says "listening on
ADDR:PORT" on stderr once it accepts connections; it stops early on SIGTERM/SIGINT
(still printing its counts). Bounded by design: every mode stops by itself.
"""
import argparse
import collections
import json
import random
import select
import signal
import socket
import struct
import sys
import threading
import time
import uuid

VERSION_BYTE = 0x12
BAD_VERSION_BYTE = 0x13
ADVERT_MAX = 4096
OVERSIZED = 8192
PACKET = 1200               # Sphinx packet: 176-byte header + 1024 payload
SPHINX_HEADER = 176
CONTROL_PAYLOAD = 64
MAX_FRAME = 2048 + 8        # max packet + request header
DATA, CONTROL, COVER = 1, 2, 3
KINDS = {DATA: "data", CONTROL: "control", COVER: "cover"}
MISBEHAVIOURS = ("bad-handshake", "oversized-advert", "version-mismatch",
                 "rst-mid-stream", "idle")
DRAIN_CAP = 1 << 20
SEND_TIMEOUT = 30


class TooLong(Exception):
    def __init__(self, length):
        super().__init__(length)
        self.length = length


class Stats:
    def __init__(self, keys):
        self.lock = threading.Lock()
        self.c = dict.fromkeys(keys, 0)

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def get(self, key):
        with self.lock:
            return self.c[key]

    def dump(self):
        with self.lock:
            return json.dumps(self.c)


class Reader:
    """Buffered reads with deadlines (poll, so that another thread may send on the
    socket meanwhile). What arrived before a deadline stays buffered."""

    def __init__(self, sock, stats):
        self.s = sock
        self.stats = stats
        self.buf = bytearray()
        self.poll = select.poll()
        self.poll.register(sock, select.POLLIN)

    def fill(self, n, deadline):
        """True once n bytes are buffered, False at the deadline; EOFError at EOF."""
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self.poll.poll(int(left * 1000) + 1):
                continue
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.stats.add("bytes_received", len(chunk))
            self.buf += chunk
        return True

    def take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_exact(self, n, deadline):
        return self.take(n) if self.fill(n, deadline) else None

    def read_frame(self, deadline, maxlen):
        """A frame body, or None at the deadline; TooLong (header consumed) if longer
        than maxlen."""
        if not self.fill(4, deadline):
            return None
        length = struct.unpack(">I", self.buf[:4])[0]
        if length > maxlen:
            del self.buf[:4]
            raise TooLong(length)
        if not self.fill(4 + length, deadline):
            return None
        del self.buf[:4]
        return self.take(length)

    def drain(self, n, deadline):
        """Read and discard n bytes (capped); False if the peer went away or time ran out."""
        n = min(n, DRAIN_CAP)
        try:
            while n > 0:
                if not self.fill(1, deadline):
                    return False
                k = min(n, len(self.buf))
                del self.buf[:k]
                n -= k
        except EOFError:
            return False
        return True

    def wait_eof(self, deadline):
        """Discard whatever comes until EOF (True) or the deadline (False)."""
        try:
            while True:
                if not self.fill(1, deadline):
                    return False
                self.buf.clear()
        except EOFError:
            return True


def advertisement(rng, role):
    node = uuid.UUID(int=rng.getrandbits(128), version=4)
    ad = {
        "version": {"major": 1, "minor": 2, "patch": 0},
        "features": {"sphinx": True, "cover_traffic": True, "vrf_routing": True,
                     "mix_layers": 3, "max_packet_size": 2048, "batching": True,
                     "idle_timeout_s": 30, "role": role},
        "capabilities": ["entry", "middle", "exit", "sphinx-v1", "cover", "htx"],
        "node_id": f"node-{node}",
    }
    return json.dumps(ad, separators=(",", ":")).encode()


def oversized_advertisement(rng, role):
    """Valid JSON, exactly OVERSIZED bytes: the length is what is wrong."""
    ad = json.loads(advertisement(rng, role))
    ad["padding"] = ""
    base = len(json.dumps(ad, separators=(",", ":")).encode())
    ad["padding"] = "x" * (OVERSIZED - base)
    body = json.dumps(ad, separators=(",", ":")).encode()
    assert len(body) == OVERSIZED
    return body


def advert_for(misbehave, rng, role):
    if misbehave == "bad-handshake":
        return b"hello"
    if misbehave == "oversized-advert":
        return oversized_advertisement(rng, role)
    return advertisement(rng, role)


def valid_advert(body):
    try:
        ad = json.loads(body)
        return (isinstance(ad, dict) and ad["version"]["major"] == 1
                and isinstance(ad["features"], dict)
                and isinstance(ad["capabilities"], list)
                and str(ad["node_id"]).startswith("node-"))
    except (ValueError, KeyError, TypeError):
        return False


def frame(body):
    return struct.pack(">I", len(body)) + body


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


# ---------------------------------------------------------------------------- server

SERVER_KEYS = ("connections", "finished", "handshakes_ok", "handshake_failures",
               "misbehaved", "requests", "requests_data", "requests_control",
               "requests_cover", "requests_invalid", "responses_sent",
               "responses_dropped", "responses_unsent", "idle_timeouts", "resets",
               "rst_sent", "bytes_received", "bytes_sent")


class Writer(threading.Thread):
    """Sends queued responses when due, in order."""

    def __init__(self, sock, stats):
        super().__init__(daemon=True)
        self.s = sock
        self.stats = stats
        self.q = collections.deque()
        self.cv = threading.Condition()
        self.closing = False
        self.aborted = False
        self.busy = False

    def put(self, due, data):
        with self.cv:
            self.q.append((due, data))
            self.cv.notify_all()

    def close(self, abort=False):
        with self.cv:
            self.closing = True
            self.aborted = self.aborted or abort
            self.cv.notify_all()

    def flush(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            while (self.q or self.busy) and not self.aborted:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cv.wait(left)

    def run(self):
        while True:
            with self.cv:
                if self.aborted or (self.closing and not self.q):
                    break
                if not self.q:
                    self.cv.wait()
                    continue
                due, data = self.q[0]
                left = due - time.monotonic()
                if left > 0:
                    self.cv.wait(left)
                    continue
                self.q.popleft()
                self.busy = True
            try:
                self.s.sendall(data)
                self.stats.add("responses_sent")
                self.stats.add("bytes_sent", len(data))
            except OSError:
                self.stats.add("responses_unsent")
                with self.cv:
                    self.aborted = True
            with self.cv:
                self.busy = False
                self.cv.notify_all()
        with self.cv:
            self.stats.add("responses_unsent", len(self.q))
            self.q.clear()
            self.cv.notify_all()


class Server:
    def __init__(self, opts):
        self.o = opts
        self.stats = Stats(SERVER_KEYS)
        self.stop = threading.Event()
        self.live = set()
        self.live_lock = threading.Lock()

    def send(self, sock, data):
        sock.sendall(data)
        self.stats.add("bytes_sent", len(data))

    def handshake(self, conn, rd, rng, misbehave):
        try:
            return self._handshake(conn, rd, rng, misbehave)
        except EOFError:
            return False
        except ConnectionResetError:
            self.stats.add("resets")
            return False
        except OSError:
            return False

    def _handshake(self, conn, rd, rng, misbehave):
        o, st = self.o, self.stats
        if o.handshake_delay_ms > 0 and self.stop.wait(o.handshake_delay_ms / 1000):
            return False
        self.send(conn, frame(advert_for(misbehave, rng, "mixnode")))
        deadline = time.monotonic() + o.handshake_timeout
        try:
            body = rd.read_frame(deadline, ADVERT_MAX)
        except TooLong as e:
            rd.drain(e.length, deadline)
            return False
        if body is None or not valid_advert(body):
            return False
        vb = BAD_VERSION_BYTE if misbehave == "version-mismatch" else VERSION_BYTE
        self.send(conn, bytes([vb]))
        peer = rd.read_exact(1, deadline)
        if peer != bytes([VERSION_BYTE]) or vb != VERSION_BYTE:
            return False
        st.add("handshakes_ok")
        return True

    def read_request(self, rd, deadline):
        """(type, body) | None at the deadline | ("invalid", None)."""
        try:
            body = rd.read_frame(deadline, MAX_FRAME)
        except TooLong:
            return ("invalid", None)
        if body is None:
            return None
        if len(body) < 8:
            return ("invalid", None)
        ver, kind, _flags, _layer, plen, _res = struct.unpack(">BBBBHH", body[:8])
        if ver != 0x01 or kind not in KINDS or plen != len(body) - 8:
            return ("invalid", None)
        return (kind, body)

    def count_request(self, kind):
        self.stats.add("requests")
        self.stats.add("requests_" + KINDS[kind])

    def serve_idle(self, rd):
        """Handshake done: read and count requests, answer nothing, close after
        --idle-seconds (or when the client closes)."""
        deadline = time.monotonic() + self.o.idle_seconds
        while not self.stop.is_set():
            req = self.read_request(rd, min(deadline, time.monotonic() + 0.5))
            if req is None:
                if time.monotonic() >= deadline:
                    return
                continue
            kind, _ = req
            if kind == "invalid":
                self.stats.add("requests_invalid")
                return
            self.count_request(kind)
            if kind != COVER:
                self.stats.add("responses_unsent")

    def serve(self, conn, idx):
        o, st = self.o, self.stats
        rng = random.Random(o.seed * 1000003 + idx)
        misbehave = o.misbehave if o.misbehave and idx % o.misbehave_every == 0 else None
        if misbehave:
            st.add("misbehaved")
        rd = Reader(conn, st)
        writer = None
        try:
            if not self.handshake(conn, rd, rng, misbehave):
                st.add("handshake_failures")
                return
            if misbehave == "idle":
                self.serve_idle(rd)
                return
            writer = Writer(conn, st)
            writer.start()
            nreq = 0
            while True:
                req = self.read_request(rd, time.monotonic() + o.idle_timeout)
                if req is None:
                    st.add("idle_timeouts")
                    break
                kind, _ = req
                if kind == "invalid":
                    st.add("requests_invalid")
                    break
                now = time.monotonic()
                self.count_request(kind)
                if kind != COVER:
                    if o.drop_prob > 0 and rng.random() < o.drop_prob:
                        st.add("responses_dropped")
                    else:
                        writer.put(now + o.response_delay_ms / 1000,
                                   frame(rng.randbytes(PACKET)))
                nreq += 1
                if misbehave == "rst-mid-stream" and nreq >= o.rst_after:
                    writer.flush(o.response_delay_ms / 1000 + 5)
                    writer.close(abort=True)
                    writer.join(5)
                    writer = None
                    st.add("rst_sent")
                    rst_close(conn)
                    return
        except EOFError:
            pass
        except ConnectionResetError:
            st.add("resets")
        except OSError:
            pass
        finally:
            if writer is not None:
                writer.close(abort=self.stop.is_set())
                writer.join(o.response_delay_ms / 1000 + SEND_TIMEOUT + 1)
            conn.close()
            with self.live_lock:
                self.live.discard(conn)
            st.add("finished")

    def run(self):
        o = self.o
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((o.bind, o.port))
        ls.listen(1024)
        ls.settimeout(0.2)
        addr = ls.getsockname()
        sys.stderr.write(f"listening on {addr[0]}:{addr[1]}\n")
        sys.stderr.flush()
        end = time.monotonic() + o.duration
        threads = []
        idx = 0
        while not self.stop.is_set() and time.monotonic() < end:
            if o.count and self.stats.get("finished") >= o.count:
                break
            if o.count and idx >= o.count:
                time.sleep(0.05)      # all expected connections in: wait for them
                continue
            try:
                conn, _ = ls.accept()
            except (socket.timeout, InterruptedError):
                continue
            except OSError:
                continue
            conn.settimeout(SEND_TIMEOUT)
            self.stats.add("connections")
            with self.live_lock:
                self.live.add(conn)
            t = threading.Thread(target=self.serve, args=(conn, idx), daemon=True)
            idx += 1
            t.start()
            threads.append(t)
            threads = [t for t in threads if t.is_alive()]
        ls.close()
        self.stop.set()
        with self.live_lock:
            for c in list(self.live):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in threads:
            t.join(5)
        print(self.stats.dump(), flush=True)


# ---------------------------------------------------------------------------- client

CLIENT_KEYS = ("connections", "connected", "refused", "failed", "handshakes",
               "handshake_failures", "misbehaved", "data", "control", "cover",
               "responses_received", "responses_missing", "resets", "rst_sent",
               "closed_by_peer", "errors", "bytes_sent", "bytes_received")


class Conn:
    def __init__(self, sock, opts, rng, stats):
        self.s = sock
        self.o = opts
        self.rng = rng
        self.stats = stats
        self.rd = Reader(sock, stats)
        self.expected = 0
        self.received = 0

    def send(self, data, split_ok=True):
        if self.o.write_mode == "split" and split_ok:
            i = 0
            while i < len(data):
                k = self.rng.randint(1, 7)
                self.s.sendall(data[i:i + k])
                self.stats.add("bytes_sent", len(data[i:i + k]))
                i += k
                time.sleep(self.rng.uniform(0, 0.001))
        else:
            self.s.sendall(data)
            self.stats.add("bytes_sent", len(data))

    def handshake(self, misbehave):
        o, rd = self.o, self.rd
        deadline = time.monotonic() + o.handshake_timeout
        try:
            try:
                body = rd.read_frame(deadline, ADVERT_MAX)
            except TooLong as e:
                rd.drain(e.length, deadline)
                return False
            if body is None or not valid_advert(body):
                return False
            self.send(frame(advert_for(misbehave, self.rng, "client")))
            if misbehave in ("bad-handshake", "oversized-advert"):
                rd.wait_eof(deadline)       # the server should close
                return False
            peer = rd.read_exact(1, deadline)
            if peer != bytes([VERSION_BYTE]):
                return False
            if misbehave == "version-mismatch":
                self.send(bytes([BAD_VERSION_BYTE]))
                rd.wait_eof(deadline)
                return False
            self.send(bytes([VERSION_BYTE]))
            return True
        except EOFError:
            self.stats.add("closed_by_peer")
            return False

    def request(self, kind):
        if kind == CONTROL:
            payload = self.rng.randbytes(CONTROL_PAYLOAD)
        else:
            payload = self.rng.randbytes(SPHINX_HEADER) + self.rng.randbytes(PACKET - SPHINX_HEADER)
        layer = self.rng.randint(0, 2)
        return frame(struct.pack(">BBBBHH", 0x01, kind, 0, layer, len(payload), 0) + payload)

    def wait_responses(self, n):
        """Read up to n responses, each waited for at most --response-timeout."""
        for _ in range(n):
            if self.rd.read_frame(time.monotonic() + self.o.response_timeout,
                                  MAX_FRAME) is None:
                continue
            self.received += 1
            self.stats.add("responses_received")

    def finish(self):
        """Half-close, then count what still comes until the server closes."""
        self.s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + self.o.response_timeout + 2
        while True:
            try:
                if self.rd.read_frame(deadline, MAX_FRAME) is None:
                    return
            except EOFError:
                return
            self.received += 1
            self.stats.add("responses_received")

    def run_frames(self, misbehave):
        o = self.o
        kinds = [DATA] * o.data + [CONTROL] * o.control + [COVER] * o.cover
        self.rng.shuffle(kinds)
        if o.write_mode == "coalesce":
            b = o.batch or len(kinds) or 1
            units = [kinds[i:i + b] for i in range(0, len(kinds), b)]
        else:
            units = [[k] for k in kinds]
        sent = 0
        for unit in units:
            data = [self.request(k) for k in unit]
            if o.write_mode == "coalesce":
                self.send(b"".join(data))
            else:
                self.send(data[0])
            want = 0
            for k in unit:
                self.stats.add(KINDS[k])
                if k != COVER:
                    want += 1
            self.expected += want
            sent += len(unit)
            if o.mode == "sync":
                self.wait_responses(want)
            if misbehave == "rst-mid-stream" and sent >= o.rst_after:
                break
        if o.mode == "pipelined":
            while self.received < self.expected:
                before = self.received
                self.wait_responses(1)
                if self.received == before:
                    break
        if misbehave == "rst-mid-stream":
            self.stats.add("rst_sent")
            rst_close(self.s)
            return
        self.finish()


def client_conn(idx, opts, stats):
    rng = random.Random(opts.seed * 1000003 + idx)
    misbehave = (opts.misbehave if opts.misbehave and idx % opts.misbehave_every == 0
                 else None)
    stats.add("connections")
    try:
        s = socket.create_connection((opts.host, opts.port), timeout=opts.connect_timeout)
    except ConnectionRefusedError:
        stats.add("refused")
        return
    except OSError:
        stats.add("failed")
        return
    stats.add("connected")
    if misbehave:
        stats.add("misbehaved")
    s.settimeout(SEND_TIMEOUT)
    if opts.write_mode == "split":
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = Conn(s, opts, rng, stats)
    shook = False
    try:
        if not c.handshake(misbehave):
            stats.add("handshake_failures")
            shook = True
            return
        shook = True
        stats.add("handshakes")
        if misbehave == "idle":
            if c.rd.wait_eof(time.monotonic() + opts.idle_seconds):
                stats.add("closed_by_peer")
            return
        c.run_frames(misbehave)
    except EOFError:
        stats.add("closed_by_peer")
    except (ConnectionResetError, BrokenPipeError):
        stats.add("resets")
    except OSError:
        stats.add("errors")
    finally:
        if not shook:
            stats.add("handshake_failures")
        stats.add("responses_missing", max(0, c.expected - c.received))
        s.close()


def client(opts):
    stats = Stats(CLIENT_KEYS)
    if opts.parallel:
        threads = [threading.Thread(target=client_conn, args=(i, opts, stats), daemon=True)
                   for i in range(opts.connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for i in range(opts.connections):
            client_conn(i, opts, stats)
    print(stats.dump(), flush=True)


# ------------------------------------------------------------------------------ main

def parse(argv):
    p = argparse.ArgumentParser(prog="betanet.py", usage=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(q):
        q.add_argument("--seed", type=int, default=1)
        q.add_argument("--misbehave", choices=MISBEHAVIOURS)
        q.add_argument("--misbehave-every", type=int, default=1)
        q.add_argument("--rst-after", type=int, default=3)
        q.add_argument("--idle-seconds", type=float, default=35)
        q.add_argument("--handshake-timeout", type=float, default=10)

    s = sub.add_parser("server", usage=__doc__)
    s.add_argument("port", type=int)
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--duration", type=float, default=60)
    s.add_argument("--count", type=int, default=0)
    s.add_argument("--response-delay-ms", type=float, default=0)
    s.add_argument("--drop-prob", type=float, default=0)
    s.add_argument("--handshake-delay-ms", type=float, default=0)
    s.add_argument("--idle-timeout", type=float, default=30)
    common(s)

    c = sub.add_parser("client", usage=__doc__)
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--connections", type=int, default=1)
    c.add_argument("--parallel", action="store_true")
    c.add_argument("--data", type=int, default=10)
    c.add_argument("--control", type=int, default=2)
    c.add_argument("--cover", type=int, default=2)
    c.add_argument("--mode", choices=("sync", "pipelined"), default="sync")
    c.add_argument("--write-mode", choices=("normal", "split", "coalesce"),
                   default="normal")
    c.add_argument("--batch", type=int, default=8)
    c.add_argument("--response-timeout", type=float, default=2)
    c.add_argument("--connect-timeout", type=float, default=5)
    common(c)

    o = p.parse_args(argv)
    if o.misbehave_every < 1 or o.rst_after < 1:
        p.error("--misbehave-every and --rst-after must be >= 1")
    if o.cmd == "server" and not 0 <= o.drop_prob <= 1:
        p.error("--drop-prob must be within 0..1")
    return o


def main(argv):
    o = parse(argv)
    if o.cmd == "server":
        srv = Server(o)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: srv.stop.set())
        srv.run()
    else:
        client(o)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
