#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""BitChat-like WebSocket workload for fogprobe's integration tests (the exchange of
DESIGN.md, "The watched system"), on Debian's python3-websockets (asyncio API, 10.x; run it
with /usr/bin/python3).

  bitchat.py server PORT [options]   says "listening on ADDR:PORT" on stderr; exits once
                                     --clients connections have ended (or --duration S,
                                     default 60, or SIGTERM) and prints one JSON summary
    --bind ADDR          listen address (default 0.0.0.0)
    --clients C          connections to wait for before pushing (default 1)
    --direct D           direct messages pushed to each connection (default 2)
    --room-messages M    group messages per room, each pushed to every member (default 3)
    --pong-delay-ms P    answer a ping after P ms (default 0)
    --push-interval-ms I pause I ms between pushes (default 0)
    --push-on-signal     the pushes start on SIGUSR2 (and once --clients are in), not
                         as soon as the clients are in
    SIGUSR1 pushes one more direct message to every connection, then says "late push
    written N" on stderr (N: the connections whose transport passed the whole message to
    the kernel at once, by one successful send) or "late push buffered N" (the others:
    their socket took less, and asyncio writes the rest once the socket is writable)

  bitchat.py client HOST PORT [options]   prints one JSON summary on stdout
    --clients C, --direct D, --room-messages M    as given to the server
    --rooms R            rooms room-0..room-(R-1); client i is a member of room-0 ..
                         room-(i mod R), so room r has the clients with i mod R >= r
                         (room sizes differ; default 2, 0 = no rooms)
    --endpoint bitchat|connect   bitchat (default): /api/bitchat/ws/peer-<i>?groups=...
                         (membership in the query, as a session would carry it);
                         connect: /api/ws/connect, then {"type":"subscribe","rooms":[...]}
    --pings P            pings per connection, each waits for its pong (default 2)
    --ack-delay-ms A     answer each push with an ack A ms after receiving it (default 0)
    --hold-seconds H     once every connection has its pushes acked and pongs back, say
                         "holding N" on stderr and keep them open H s (default 0)
    --abnormal-close N   the first N connections end with a close frame, code 1011
    --reset N            the next N end with a TCP RST (SO_LINGER 0, then close)
    --no-close-frame N   the next N close TCP (FIN) without a close frame
                         (the rest close normally, code 1000)
    --content-bytes B    length of each message's text (default 40)
    --timeout S          give up waiting for pushes/pongs after S s (default 20)
    --stall-reading      each connection stops reading its socket right after the
                         handshake (the transport's reading paused: nothing is taken
                         from the kernel, so the receive window closes once the pushes
                         fill it); "stalled N" on stderr once all are; SIGUSR1 (or
                         --timeout) resumes reading, then pings, acks and the ending
                         go as without it

  permessage-deflate (RFC 7692), both commands; the server's answer is what is agreed:
    --compression default|off   default (the default): websockets' own, as every real peer
                         offers and accepts it (Python websockets 10.4: 12-bit windows
                         both ways, context takeover); off: no extension
    --window-bits N      the server agrees to server_max_window_bits=N and
                         client_max_window_bits=N (9..15)
    --no-context-takeover  ... and to server_no_context_takeover and
                         client_no_context_takeover
  The server's summary adds "extensions": {Sec-WebSocket-Extensions of its 101: count}.

Wire (JSON text frames, compressed as agreed): client -> server {"type":"ping"}, {"type":"ack",
"message_id":ID}, {"type":"subscribe","rooms":[...]}; server -> client {"type":"pong"},
{"type":"message","data":{"message_id":ID,...}}, {"type":"group_message","group_id":G,
"data":{"message_id":ID,...}}. A group message has one message_id for all its recipients.
No WebSocket-level pings (ping_interval off): only the JSON exchange crosses the wire.

Summary (both ends, each from its own socket's view):
  {"connections": n, "messages": {TYPE: {ROOM: count}}, "endings": {"normal": n,
   "abnormal_close": n, "reset": n, "no_close_frame": n}, "rooms": {ROOM: members},
   "pushes": n, "acks": n, "acks_missing": n, "ack_latency_ms": {"mean": x, "n": n},
   "acks_by_push_room": {ROOM: n}, "pong_latency_ms": {"mean": x, "n": n}, "errors": n}
counting every message that crossed the wire once, in whichever direction; ROOM is the
room the message names (group_id; the rooms of a subscribe are not one room) or "none".
The server's ack_latency_ms is push sent -> ack received (what a probe on the server's
socket can see); the client's is push received -> ack sent. pong_latency_ms (server only)
is ping read -> pong written (a ping is answered aside: the messages behind it are read
meanwhile). The server times a message it receives by the arrival of its last bytes
(the socket read a probe sees), not by when the handler takes it from the queue. The server tells endings
apart by what reached it: a close code (1000 normal, other abnormal_close), a reset
(ECONNRESET) or end of stream without a close frame.
"""
import argparse
import asyncio
import collections
import itertools
import json
import signal
import socket
import struct
import sys
import time
import urllib.parse
import uuid

import websockets
import websockets.legacy.server
from websockets.extensions.permessage_deflate import (ClientPerMessageDeflateFactory,
                                                       ServerPerMessageDeflateFactory)

ENDINGS = ("normal", "abnormal_close", "reset", "no_close_frame")


class Tally:
    def __init__(self):
        self.messages = collections.defaultdict(collections.Counter)
        self.endings = collections.Counter({e: 0 for e in ENDINGS})
        self.rooms = collections.Counter()
        self.connections = 0
        self.pushes = 0
        self.acks = 0
        self.acks_by_room = collections.Counter()
        self.lat = []
        self.pong_lat = []
        self.errors = 0
        self.extensions = collections.Counter()

    def msg(self, obj):
        """Count one message that crossed the wire (either direction)."""
        room = obj.get("group_id") if obj.get("type") == "group_message" else None
        self.messages[obj.get("type", "?")][str(room) if room is not None else "none"] += 1

    def summary(self, expected_acks):
        return {
            "connections": self.connections,
            "messages": {t: dict(c) for t, c in sorted(self.messages.items())},
            "endings": dict(self.endings),
            "rooms": dict(sorted(self.rooms.items())),
            "pushes": self.pushes,
            "acks": self.acks,
            "acks_missing": expected_acks - self.acks,
            "acks_by_push_room": dict(sorted(self.acks_by_room.items())),
            "ack_latency_ms": mean_of(self.lat),
            "pong_latency_ms": mean_of(self.pong_lat),
            "errors": self.errors,
            "extensions": dict(self.extensions),
        }


def mean_of(v):
    return {"mean": round(sum(v) / len(v), 3) if v else None, "n": len(v)}


def compression_kwargs(args, server):
    """websockets.serve / connect arguments for the permessage-deflate options."""
    if args.compression == "off":
        return {"compression": None}
    if args.window_bits is None and not args.no_context_takeover:
        return {"compression": "deflate"}  # websockets' defaults
    if server:
        f = ServerPerMessageDeflateFactory(
            server_no_context_takeover=args.no_context_takeover,
            client_no_context_takeover=args.no_context_takeover,
            server_max_window_bits=args.window_bits,
            client_max_window_bits=args.window_bits)
    else:
        f = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    return {"compression": "deflate", "extensions": [f]}


def content(n, seq):
    base = "msg %d " % seq
    return (base + "x" * n)[:n]


# ---- server --------------------------------------------------------------------------------

class Conn:
    def __init__(self, ws, rooms):
        self.ws = ws
        self.rooms = rooms
        self.sent_at = {}  # message_id -> (monotonic time of the push, room)


class ReadTimes(websockets.legacy.server.WebSocketServerProtocol):
    """Each message read, timed by the arrival of its last bytes: the socket read. The
    handler takes it from the queue later, after whatever held the event loop (other
    tasks, a descheduled vCPU): that wait is the application's, not the wire's."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.last_rx = time.monotonic()
        self.read_at = collections.deque()

    def data_received(self, data):
        self.last_rx = time.monotonic()
        super().data_received(data)

    async def read_message(self):
        m = await super().read_message()
        if m is not None:
            self.read_at.append(self.last_rx)
        return m


def read_time(ws):
    return ws.read_at.popleft() if ws.read_at else time.monotonic()


async def run_server(args):
    tally = Tally()
    conns = []
    all_in = asyncio.Event()
    go = asyncio.Event()
    if not args.push_on_signal:
        go.set()
    finished = asyncio.Event()
    done_count = 0
    seq = 0

    async def send(conn, obj):
        tally.msg(obj)
        await conn.ws.send(json.dumps(obj, separators=(",", ":")))

    async def pusher():
        nonlocal seq
        await all_in.wait()
        await go.wait()
        members = collections.defaultdict(list)
        for c in conns:
            for r in c.rooms:
                members[r].append(c)
        for r, cs in members.items():
            tally.rooms[r] = len(cs)
        # Direct messages and group messages interleaved, as a live room would be.
        direct = [("message", None, [c]) for k in range(args.direct) for c in conns]
        group = [("group_message", r, members[r]) for k in range(args.room_messages)
                 for r in sorted(members)]
        plan = [p for pair in itertools.zip_longest(direct, group) for p in pair if p]
        for kind, room, targets in plan:
            seq += 1
            mid = str(uuid.uuid4())
            data = {"message_id": mid, "sender": "peer-server", "content": content(args.content_bytes, seq),
                    "timestamp": round(time.time(), 3)}
            obj = {"type": kind, "data": data}
            if kind == "group_message":
                obj = {"type": kind, "group_id": room, "data": data}
            for c in targets:
                c.sent_at[mid] = (time.monotonic(), room or "none")
                tally.pushes += 1
                try:
                    await send(c, obj)
                except websockets.ConnectionClosed:
                    tally.errors += 1
            if args.push_interval_ms:
                await asyncio.sleep(args.push_interval_ms / 1000.0)

    async def late_push():
        nonlocal seq
        written = 0
        for c in list(conns):
            seq += 1
            mid = str(uuid.uuid4())
            obj = {"type": "message", "data": {"message_id": mid, "sender": "peer-server",
                   "content": content(args.content_bytes, seq), "timestamp": round(time.time(), 3)}}
            c.sent_at[mid] = (time.monotonic(), "none")
            tally.pushes += 1
            tally.msg(obj)
            # not through ws.send: its drain would wait on a peer that is not reading
            try:
                c.ws.write_frame_sync(True, 0x1, json.dumps(obj, separators=(",", ":")).encode())
            except Exception:
                tally.errors += 1
            if c.ws.transport.get_write_buffer_size() == 0:
                written += 1
        print("late push %s %d" % ("written" if written == len(conns) else "buffered",
                                   written if written == len(conns) else len(conns) - written),
              file=sys.stderr, flush=True)

    async def pong(conn, t0):
        if args.pong_delay_ms:
            await asyncio.sleep(args.pong_delay_ms / 1000.0)
        try:
            await send(conn, {"type": "pong"})
        except websockets.ConnectionClosed:
            tally.errors += 1
            return
        tally.pong_lat.append((time.monotonic() - t0) * 1000.0)

    async def handler(ws, path=None):
        nonlocal done_count
        pongs = set()
        path = ws.path
        url = urllib.parse.urlsplit(path)
        tally.connections += 1
        tally.extensions[ws.response_headers.get("Sec-WebSocket-Extensions", "")] += 1
        rooms = []
        conn = Conn(ws, rooms)
        ending = None
        try:
            if url.path.startswith("/api/bitchat/ws/"):
                q = urllib.parse.parse_qs(url.query)
                rooms.extend(r for r in q.get("groups", [""])[0].split(",") if r)
                conns.append(conn)
                if len(conns) == args.clients:
                    all_in.set()
            elif url.path != "/api/ws/connect":
                await ws.close(1008, "unknown path")
                tally.errors += 1
            registered = url.path.startswith("/api/bitchat/ws/")
            async for raw in ws:
                t_read = read_time(ws)
                obj = json.loads(raw)
                tally.msg(obj)
                t = obj.get("type")
                if t == "ping":
                    # answered aside: the acks behind it are read (and timed) meanwhile
                    pongs.add(asyncio.create_task(pong(conn, t_read)))
                elif t == "ack":
                    ent = conn.sent_at.pop(obj.get("message_id"), None)
                    if ent is None:
                        tally.errors += 1
                        continue
                    tally.acks += 1
                    tally.acks_by_room[ent[1]] += 1
                    tally.lat.append((t_read - ent[0]) * 1000.0)
                elif t == "subscribe" and not registered:
                    rooms.extend(obj.get("rooms", []))
                    registered = True
                    conns.append(conn)
                    if len(conns) == args.clients:
                        all_in.set()
            ending = "normal" if ws.close_code == 1000 else "abnormal_close"
        except websockets.ConnectionClosedError as e:
            # A close frame with an error code, or no close frame at all: the cause
            # says whether the stream ended (EOF) or was reset.
            if e.rcvd is not None:
                ending = "abnormal_close" if e.rcvd.code != 1000 else "normal"
            elif isinstance(e.__cause__, ConnectionResetError):
                ending = "reset"
            else:
                ending = "no_close_frame"
        except Exception:
            tally.errors += 1
        finally:
            await asyncio.gather(*pongs, return_exceptions=True)
            if ending:
                tally.endings[ending] += 1
            done_count += 1
            if done_count >= args.clients:
                finished.set()

    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, finished.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: asyncio.ensure_future(late_push()))
    loop.add_signal_handler(signal.SIGUSR2, go.set)
    async with websockets.serve(handler, args.bind, args.port, ping_interval=None,
                                close_timeout=2, max_queue=None, create_protocol=ReadTimes,
                                **compression_kwargs(args, True)):
        print("listening on %s:%d" % (args.bind, args.port), file=sys.stderr, flush=True)
        push = asyncio.create_task(pusher())
        try:
            await asyncio.wait_for(finished.wait(), args.duration)
        except asyncio.TimeoutError:
            pass
        push.cancel()
    print(json.dumps(tally.summary(tally.pushes)), flush=True)
    return 0


# ---- client --------------------------------------------------------------------------------

def rooms_of(i, nrooms):
    return ["room-%d" % r for r in range(i % nrooms + 1)] if nrooms > 0 else []


def ending_of(i, args):
    n = i
    for name, k in (("abnormal_close", args.abnormal_close), ("reset", args.reset),
                    ("no_close_frame", args.no_close_frame)):
        if n < k:
            return name
        n -= k
    return "normal"


async def client_one(i, args, tally, ready, release, stalled, unstall):
    rooms = rooms_of(i, args.rooms)
    if args.endpoint == "bitchat":
        path = "/api/bitchat/ws/peer-%d" % i
        if rooms:
            path += "?groups=" + ",".join(rooms)
    else:
        path = "/api/ws/connect"
    uri = "ws://%s:%d%s" % (args.host, args.port, path)
    expect = args.direct + args.room_messages * len(rooms)
    ws = await websockets.connect(uri, ping_interval=None, close_timeout=2, max_queue=None,
                                  open_timeout=args.timeout, **compression_kwargs(args, False))
    tally.connections += 1
    for r in rooms:
        tally.rooms[r] += 1
    if args.stall_reading:
        # Below websockets' own flow control: its StreamReader resumes the transport
        # only after pausing it itself, which needs 64 KiB buffered; a server started
        # with --push-on-signal has pushed nothing before this point.
        ws.transport.pause_reading()
        stalled.release()
        try:
            await asyncio.wait_for(unstall.wait(), args.timeout)
        except asyncio.TimeoutError:
            pass
        ws.transport.resume_reading()

    async def send(obj):
        tally.msg(obj)
        await ws.send(json.dumps(obj, separators=(",", ":")))

    pongs = asyncio.Queue()
    acked = asyncio.Event()
    got = 0
    if expect == 0:
        acked.set()
    acks = []

    async def ack(mid, room, t0):
        nonlocal got
        if args.ack_delay_ms:
            await asyncio.sleep(args.ack_delay_ms / 1000.0)
        await send({"type": "ack", "message_id": mid})
        tally.lat.append((time.monotonic() - t0) * 1000.0)
        tally.acks += 1
        tally.acks_by_room[room] += 1
        got += 1
        if got == expect:
            acked.set()

    async def reader():
        try:
            async for raw in ws:
                t0 = time.monotonic()
                obj = json.loads(raw)
                tally.msg(obj)
                t = obj.get("type")
                if t == "pong":
                    pongs.put_nowait(t0)
                elif t in ("message", "group_message"):
                    tally.pushes += 1
                    room = obj.get("group_id", "none") if t == "group_message" else "none"
                    acks.append(asyncio.create_task(ack(obj["data"]["message_id"], room, t0)))
        except websockets.ConnectionClosed:
            pass

    rd = asyncio.create_task(reader())
    if args.endpoint == "connect":
        await send({"type": "subscribe", "rooms": rooms})
    for _ in range(args.pings):
        await send({"type": "ping"})
        await asyncio.wait_for(pongs.get(), args.timeout)
    await asyncio.wait_for(acked.wait(), args.timeout)
    ready.release()
    await release.wait()

    how = ending_of(i, args)
    if how == "normal":
        await ws.close(1000)
    elif how == "abnormal_close":
        await ws.close(1011, "internal error")
    else:
        sock = ws.transport.get_extra_info("socket")
        if how == "reset":
            # linger on, timeout 0: close() discards the send queue and sends a RST
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            ws.transport.abort()
        else:
            # shutdown(SHUT_WR) sends the FIN now, with no close frame before it
            sock.shutdown(socket.SHUT_WR)
            await asyncio.sleep(0.2)
            ws.transport.abort()
    tally.endings[how] += 1
    rd.cancel()
    await asyncio.gather(rd, return_exceptions=True)
    return expect


async def run_client(args):
    tally = Tally()
    ready = asyncio.Semaphore(0)
    release = asyncio.Event()
    stalled = asyncio.Semaphore(0)
    unstall = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, unstall.set)
    tasks = [asyncio.create_task(client_one(i, args, tally, ready, release, stalled, unstall))
             for i in range(args.clients)]

    async def stall_gate():
        for _ in range(args.clients):
            await stalled.acquire()
        print("stalled %d" % args.clients, file=sys.stderr, flush=True)

    async def gate():
        for _ in range(args.clients):
            await ready.acquire()
        print("holding %d" % args.clients, file=sys.stderr, flush=True)
        await asyncio.sleep(args.hold_seconds)
        release.set()

    g = asyncio.create_task(gate())
    sg = asyncio.create_task(stall_gate())
    res = await asyncio.gather(*tasks, return_exceptions=True)
    g.cancel()
    sg.cancel()
    expected = 0
    for r in res:
        if isinstance(r, BaseException):
            tally.errors += 1
            print("client error: %r" % (r,), file=sys.stderr, flush=True)
        else:
            expected += r
    print(json.dumps(tally.summary(expected)), flush=True)
    return 0 if tally.errors == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("port", type=int)
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--duration", type=float, default=60.0)
    s.add_argument("--pong-delay-ms", type=float, default=0.0)
    s.add_argument("--push-interval-ms", type=float, default=0.0)
    s.add_argument("--push-on-signal", action="store_true")
    c = sub.add_parser("client")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--rooms", type=int, default=2)
    c.add_argument("--endpoint", choices=("bitchat", "connect"), default="bitchat")
    c.add_argument("--pings", type=int, default=2)
    c.add_argument("--ack-delay-ms", type=float, default=0.0)
    c.add_argument("--hold-seconds", type=float, default=0.0)
    c.add_argument("--abnormal-close", type=int, default=0)
    c.add_argument("--reset", type=int, default=0)
    c.add_argument("--no-close-frame", type=int, default=0)
    c.add_argument("--timeout", type=float, default=20.0)
    c.add_argument("--stall-reading", action="store_true")
    for p in (s, c):
        p.add_argument("--clients", type=int, default=1)
        p.add_argument("--direct", type=int, default=2)
        p.add_argument("--room-messages", type=int, default=3)
        p.add_argument("--content-bytes", type=int, default=40)
        p.add_argument("--compression", choices=("default", "off"), default="default")
        p.add_argument("--window-bits", type=int, choices=range(9, 16))
        p.add_argument("--no-context-takeover", action="store_true")
    args = ap.parse_args()
    return asyncio.run(run_server(args) if args.cmd == "server" else run_client(args))


if __name__ == "__main__":
    sys.exit(main())
