#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A connection whose close no program run saw (the kernel skips a run that interrupts
# the same program on its CPU: recursion_misses) leaves its flow behind, keyed by its
# socket's address. The kernel hands that memory to the next TCP socket allocated on the
# CPU. The new socket must start clean: its own service, its own counters, and the
# leftover counted (fogprobe_events_lost_total{reason="flow_unclosed"}).
#
# A missed close is made here by putting a closed connection's flow back into the
# daemon's flow table (bpftool), as the skipped run left it. A client pinned to one CPU
# then opens connections to another service until one is born at that address (the
# slab's per-CPU free list hands the last freed socket out first).
. "$(dirname "$0")/lib.sh"

command -v bpftool >/dev/null || { echo "  bpftool missing (make deps)"; exit 1; }
setup_netns
start_daemon '{"services": [
  {"name": "a", "protocol": "tcp", "ports": [7101]},
  {"name": "b", "protocol": "tcp", "ports": [7102]}]}' || exit 1

FLOWS=
for f in /proc/$DAEMON_PID/fdinfo/*; do
	id=$(awk '/^map_id:/ { print $2 }' "$f")
	[[ -n "$id" ]] || continue
	[[ $(bpftool -j map show id "$id" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])' 2>/dev/null) == flows ]] &&
		FLOWS=$id && break
done
check "the daemon's flow table found" [ -n "$FLOWS" ]
[[ -n "$FLOWS" ]] || finish

# a server on both ports that holds every connection until its peer goes, on the last
# CPU: the sockets it closes go back to that CPU's free list, not to the client's
ns_srv taskset -c $(($(nproc) - 1)) python3 -c '
import selectors, socket
sel = selectors.DefaultSelector()
for port in (7101, 7102):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("'"$SRV_IP"'", port))
    l.listen(64)
    sel.register(l, selectors.EVENT_READ, "listen")
while True:
    for key, _ in sel.select():
        if key.data == "listen":
            c, _ = key.fileobj.accept()
            sel.register(c, selectors.EVENT_READ, "conn")
        else:
            try:
                b = key.fileobj.recv(65536)
            except OSError:
                b = b""
            if not b:
                sel.unregister(key.fileobj)
                key.fileobj.close()
' &
SRV=$!
on_exit "pkill -P $SRV; kill $SRV"
wait_port "$NS_SRV" 7101
wait_port "$NS_SRV" 7102

# The client, on CPU 0: "open PORT" connects a new socket; "reset" closes it with an RST
# (SO_LINGER 0: the socket is freed at once, no TIME_WAIT); each answers a line.
mkfifo "$WORK/cli.in" "$WORK/cli.out"
ns_cli taskset -c 0 python3 -u -c '
import socket, struct, sys
s = None
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "open":
        s = socket.socket()
        s.connect(("'"$SRV_IP"'", int(cmd[1])))
        s.sendall(b"x" * 1000)
        print("open %d" % s.getsockname()[1])
    elif cmd[0] == "reset":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        print("reset")
' <"$WORK/cli.in" >"$WORK/cli.out" &
CLI_PID=$!
exec 7>"$WORK/cli.in" 8<"$WORK/cli.out"
on_exit "exec 7>&-; pkill -P $CLI_PID; kill $CLI_PID"
cli() { echo "$*" >&7 && read -r -t 10 REPLY <&8 && echo "$REPLY"; }

# flow_at KEY -> "lport rport" of the flow at that key (bpftool's hex bytes), or nothing
flow_at() {
	bpftool -j map dump id "$FLOWS" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if " ".join(x[2:] for x in e["key"]) == sys.argv[1]:
        v = e["formatted"]["value"]
        print(v["lport"], v["rport"])' "$1"
}
unclosed() { metric fogprobe_events_lost_total 'reason="flow_unclosed"'; }
opens() { metric fogprobe_tcp_connections_opened_total "service=\"$1\",role=\"$2\""; }

echo "1. a connection to service a, its flow saved, then reset"
cport=$(cli open 7101 | awk '{ print $2 }')
# "key-bytes|value-bytes" (hex, bpftool's order) of the client's flow: its ports
saved=$(bpftool -j map dump id "$FLOWS" | python3 -c '
import json, sys
raw = lambda b: " ".join(x[2:] for x in b)
for e in json.load(sys.stdin):
    v = e["formatted"]["value"]
    if v["lport"] == int(sys.argv[1]) and v["rport"] == 7101:
        print(raw(e["key"]) + "|" + raw(e["value"]))' "$cport")
check "the client's flow is in the table" [ -n "$saved" ]
[[ -n "$saved" ]] || finish
skey=${saved%%|*}
cli reset >/dev/null
sleep 0.2
check "its close removed it" eq "$(flow_at "$skey")" ""

echo "2. the flow put back, as a skipped close run leaves it; new connections to b"
u0=$(unclosed)
a0=$(($(opens a client) + $(opens a server))) bc0=$(opens b client) bs0=$(opens b server)
# Either end of a connection to b may be born there: the client's socket, or the
# server's, which the kernel creates on this CPU as the SYN arrives. Another socket of
# the host may take the address first: it clears the flow too, which is then put back.
# Every flow put back is cleared by one birth, and counted once.
born= tries=0 puts=0
for tries in $(seq 1 200); do
	if [[ -z "$(flow_at "$skey")" ]]; then
		bpftool map update id "$FLOWS" key hex $skey value hex ${saved#*|} || break
		puts=$((puts + 1))
	fi
	cli open 7102 >/dev/null
	read -r lport rport < <(flow_at "$skey")
	cli reset >/dev/null
	if [[ "$rport" == 7102 ]]; then
		born="the client's end"
	elif [[ "$lport" == 7102 ]]; then
		born="the server's end"
	fi
	[[ -n "$born" ]] && break
done
sleep 0.3
echo "    ${born:-no socket of b} born at the left-over flow's address after $tries connections" \
	"(the flow put back $puts times)"
check "a socket of b was born at that address" [ -n "$born" ]
check "flow_unclosed counted each flow put back" eq $(($(unclosed) - u0)) "$puts"
check "every connection to b counted under b, both ends" eq \
	"$(($(opens b client) - bc0)) $(($(opens b server) - bs0))" "$tries $tries"
check "none under a (the left-over flow's service)" eq \
	$(($(opens a client) + $(opens a server) - a0)) 0
check "the left-over flow is gone" eq "$(flow_at "$skey")" ""
finish
