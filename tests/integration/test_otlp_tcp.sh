#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# TCP connection spans (otlp.tcp_spans): a client in one namespace sends each connection a
# different number of bytes and the server answers another; both ends are on this host,
# so each connection has a server span and a client span. Their byte counts, taken from
# the kernel's own counters at the close, must equal what the two programs wrote and
# read; server.port is the service's port, an RTT is there, no address is anywhere. A
# connection the client resets (SO_LINGER 0) is an ERROR on the server's end
# (error.type ECONNRESET). With tcp_spans off (the default), none. With peer_address
# opted in (IPv4 cut to /24), TCP and HTTP spans carry network.peer.address, cut.
METRICS_PORT=19430 OTLP=19431 CTL=19432 PORT=19433
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"
. "$(dirname "$0")/otlplib.sh"

command -v node >/dev/null || { echo "  node missing (make deps)"; exit 1; }
setup_netns
start_receiver $OTLP $CTL || exit 1

cat >"$WORK/xchg.py" <<'PY'
import json, random, socket, struct, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "server":
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port)); ls.listen(16); ls.settimeout(60)
    print("listening", flush=True)
    while True:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            break
        c.settimeout(20)
        got = 0
        try:
            hdr = b""
            while len(hdr) < 4:  # the answer's size comes first
                b = c.recv(4 - len(hdr))
                if not b:
                    raise EOFError
                hdr += b
            got = 4
            want = struct.unpack("!I", hdr)[0]
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += len(b)
            c.sendall(b"s" * want)
            print(json.dumps({"received": got, "sent": want}), flush=True)
        except (OSError, EOFError) as e:
            print(json.dumps({"received": got, "error": type(e).__name__}), flush=True)
        c.close()
else:
    n, reset = int(sys.argv[4]), sys.argv[5] == "reset"
    rnd = random.Random()
    for i in range(n):
        up, down = rnd.randint(1000, 400000), rnd.randint(1000, 400000)
        s = socket.create_connection((host, port), timeout=20)
        s.sendall(struct.pack("!I", down) + b"c" * up)
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            print(json.dumps({"sent": up + 4, "reset": True}), flush=True)
            continue
        s.shutdown(socket.SHUT_WR)
        got = 0
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
        s.close()
        print(json.dumps({"sent": up + 4, "received": got}), flush=True)
PY

# ip netns exec execs the server: $! is its pid (a backgrounded ns_srv would be a
# subshell, and killing it would leave the server running)
ip netns exec "$NS_SRV" /usr/bin/python3 "$WORK/xchg.py" server "$SRV_IP" $PORT >"$WORK/server.out" 2>&1 &
on_exit "kill $! 2>/dev/null"
for i in $(seq 1 50); do grep -q listening "$WORK/server.out" && break; sleep 0.1; done

svc='"services": [{"name": "xchg", "protocol": "tcp", "ports": ['$PORT']}]'

echo "tcp_spans off (the default): no span"
start_daemon '{'"$svc"', "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "batch_delay_ms": 100}}' ||
	exit 1
ns_cli /usr/bin/python3 "$WORK/xchg.py" client "$SRV_IP" $PORT 2 close >/dev/null
sleep 1.5
check "no span without tcp_spans" eq "$(count_received)" 0
stop_daemon

echo "tcp_spans on: 8 connections, then 2 reset by the client"
start_daemon '{'"$svc"', "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "batch_delay_ms": 100,
  "tcp_spans": true}}' || exit 1
n0=$(wc -l <"$WORK/server.out")
# each namespace's own retransmit counter: the ground truth of its ends' retransmits
retrans() { "$@" nstat -asz TcpRetransSegs | awk '$1 == "TcpRetransSegs" { print $2 }'; }
rs0=$(retrans ns_srv) rc0=$(retrans ns_cli)
ns_cli /usr/bin/python3 "$WORK/xchg.py" client "$SRV_IP" $PORT 8 close >"$WORK/client.out"
ns_cli /usr/bin/python3 "$WORK/xchg.py" client "$SRV_IP" $PORT 2 reset >>"$WORK/client.out"
check "20 spans arrive (a server and a client span per connection)" \
	await_spans 20 's["name"] == "TCP connection"' 15
sleep 0.5
echo "$(($(retrans ns_srv) - rs0)) $(($(retrans ns_cli) - rc0))" >"$WORK/nstat.retrans"
tail -n +$((n0 + 1)) "$WORK/server.out" >"$WORK/server.truth"
received 's["name"] == "TCP connection"' >"$WORK/spans"
/usr/bin/python3 - "$WORK/spans" "$WORK/client.out" "$WORK/server.truth" "$PORT" "$SRV_IP" "$CLI_IP" \
	"$WORK/nstat.retrans" <<'PY'
import json, sys
spans_f, client_f, server_f, port, srv_ip, cli_ip, nstat_f = sys.argv[1:]
nstat_srv, nstat_cli = map(int, open(nstat_f).read().split())
spans = [json.loads(l) for l in open(spans_f)]
client = [json.loads(l) for l in open(client_f)]
server = [json.loads(l) for l in open(server_f)]
fails = 0
def check(what, ok, detail=""):
    global fails
    print(("  ok   " if ok else "  FAIL ") + what + ("" if ok else "  (" + str(detail)[:600] + ")"))
    fails += 0 if ok else 1

srv = [s for s in spans if s["kind"] == 2]
cli = [s for s in spans if s["kind"] == 3]
check("10 server spans and 10 client spans", len(srv) == 10 and len(cli) == 10, (len(srv), len(cli)))
a = lambda s, k: s["attrs"].get(k)
# the server's ground truth: what it read and wrote per connection
# (a reset discards what the server had not read yet: those connections are not compared)
want_srv = sorted((t["received"], t["sent"]) for t in server if "error" not in t)
got_srv = sorted((a(s, "fogprobe.tcp.bytes_received"), a(s, "fogprobe.tcp.bytes_sent")) for s in srv
                 if s["status"] == 0)
check("server spans: bytes received and sent = what the server read and wrote (8 connections)",
      len(want_srv) == 8 and want_srv == got_srv, (want_srv, got_srv))
want_cli = sorted(t["sent"] for t in client if not t.get("reset"))
got_cli = sorted(a(s, "fogprobe.tcp.bytes_sent") for s in cli if s["status"] == 0 and a(s, "fogprobe.tcp.bytes_received"))
check("client spans: bytes sent = what the client wrote", want_cli == got_cli, (want_cli, got_cli))
want_cr = sorted(t["received"] for t in client if not t.get("reset"))
got_cr = sorted(a(s, "fogprobe.tcp.bytes_received") for s in cli if a(s, "fogprobe.tcp.bytes_received"))
check("client spans: bytes received = what the client read", want_cr == got_cr, (want_cr, got_cr))
check("server.port is the service's port on both ends", all(a(s, "server.port") == int(port) for s in spans),
      [a(s, "server.port") for s in spans])
# a loss-free link still retransmits now and then (a tail loss probe on a busy machine):
# each namespace's TcpRetransSegs says how many
for what, ends, want in (("server", srv, nstat_srv), ("client", cli, nstat_cli)):
    got = sum(a(s, "fogprobe.tcp.retransmits") for s in ends)
    check(f"{what} ends: retransmits summed = the namespace's TcpRetransSegs ({want})", got == want,
          (got, want, [a(s, "fogprobe.tcp.retransmits") for s in ends]))
both = [s for s in spans if a(s, "fogprobe.tcp.bytes_received") and a(s, "fogprobe.tcp.bytes_sent")]
check("an RTT on every span of a connection that moved bytes both ways (16)",
      len(both) == 16 and all((a(s, "fogprobe.tcp.rtt_us") or 0) > 0 for s in both),
      (len(both), [a(s, "fogprobe.tcp.rtt_us") for s in both]))
check("network.transport tcp, network.type ipv4",
      all(a(s, "network.transport") == "tcp" and a(s, "network.type") == "ipv4" for s in spans))
err = [s for s in srv if s["status"] == 2]
check("the 2 connections the client reset: ERROR on the server's end, error.type ECONNRESET",
      len(err) == 2 and all(a(s, "error.type") == "ECONNRESET" for s in err),
      [(s["status"], a(s, "error.type")) for s in srv])
check("durations are positive", all(int(s["end"]) > int(s["start"]) for s in spans))
blob = json.dumps(spans)
check("no address in any span", srv_ip not in blob and cli_ip not in blob)
sys.exit(1 if fails else 0)
PY
rc=$?
CHECKS=$((CHECKS + 1))
((rc == 0)) || FAILS=$((FAILS + 1))
stop_daemon

echo "peer_address opted in, IPv4 cut to /24: TCP and HTTP spans carry network.peer.address"
WEBP=$((PORT + 1))
ip netns exec "$NS_SRV" /usr/bin/python3 -m http.server $WEBP --bind "$SRV_IP" >"$WORK/http.out" 2>&1 &
on_exit "kill $! 2>/dev/null"
for i in $(seq 1 50); do ns_srv ss -ltnH "sport = :$WEBP" | grep -q . && break; sleep 0.1; done
start_daemon '{"services": [{"name": "xchg", "protocol": "tcp", "ports": ['$PORT']},
  {"name": "web", "protocol": "http", "ports": ['$WEBP']}],
  "otlp": {"endpoint": "http://127.0.0.1:'$OTLP'", "batch_delay_ms": 100, "tcp_spans": true,
  "peer_address": true, "peer_prefix_ipv4": 24}}' || exit 1
n0=$(count_received)
ns_cli /usr/bin/python3 "$WORK/xchg.py" client "$SRV_IP" $PORT 2 close >/dev/null
ns_cli curl -s -o /dev/null "http://$SRV_IP:$WEBP/"
ns_cli curl -s -o /dev/null "http://$SRV_IP:$WEBP/"
# 2 TCP connections x 2 ends, 2 HTTP connections x 2 ends, 2 HTTP server spans and
# curl's 2 client spans (made from the server end: curl runs on this host)
check "12 spans arrive" await_spans $((n0 + 12)) True 15
prefix24() { echo "${1%.*}.0"; }
received True | tail -n +$((n0 + 1)) >"$WORK/peer.spans"
peer_of() { # NAME KIND -> the distinct network.peer.address values
	/usr/bin/python3 -c '
import json, sys
v = {json.loads(l)["attrs"].get("network.peer.address") for l in open(sys.argv[1])
     if json.loads(l)["name"] == sys.argv[2] and json.loads(l)["kind"] == int(sys.argv[3])}
print(" ".join(sorted(str(x) for x in v)))' "$WORK/peer.spans" "$1" "$2"
}
check "TCP server ends: the client's address cut to /24 ($(prefix24 "$CLI_IP"))" \
	eq "$(peer_of "TCP connection" 2)" "$(prefix24 "$CLI_IP")"
check "TCP client ends: the server's address cut to /24 ($(prefix24 "$SRV_IP"))" \
	eq "$(peer_of "TCP connection" 3)" "$(prefix24 "$SRV_IP")"
check "HTTP server spans: the client's address cut to /24" eq "$(peer_of "GET /" 2)" "$(prefix24 "$CLI_IP")"
check "the client's whole address is in no span" bash -c "! grep -qF '\"$CLI_IP\"' '$WORK/peer.spans'"
stop_daemon
finish
