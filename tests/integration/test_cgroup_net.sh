#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Per-cgroup network bytes (container_network_{transmit,receive}_bytes_total) against
# the veth's own counters (ip -s link), and the container's CPU time against the
# client's getrusage(). The client runs in a cgroup named like a Docker container
# (docker-<64 hex>.scope) inside the test's cgroup, alone on its veth.
. "$(dirname "$0")/lib.sh"

[[ -n "$TEST_CG_DIR" ]] || skip "no cgroup v2 hierarchy: per-cgroup bytes need cgroup v2"
setup_netns
# Only the test's own packets on the link: no IPv6 (router solicitations, neighbour
# discovery) and no ARP (permanent neighbour entries).
ns_cli sysctl -qw "net.ipv6.conf.fpc$ID.disable_ipv6=1"
ns_srv sysctl -qw "net.ipv6.conf.fps$ID.disable_ipv6=1"
ns_cli ip neigh replace "$SRV_IP" lladdr "$(ns_srv cat /sys/class/net/fps$ID/address)" \
	dev "fpc$ID" nud permanent
ns_srv ip neigh replace "$CLI_IP" lladdr "$(ns_cli cat /sys/class/net/fpc$ID/address)" \
	dev "fps$ID" nud permanent

hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# On hybrid hosts (v1 controllers, v2 without them) CPU and memory live in v1: a
# container gets the same path there, as the runtimes do.
V1_ROOTS=()
for ctl in memory cpuacct; do
	d=$(awk -v c="$ctl" '$3 == "cgroup" && $4 ~ "(^|,)" c "(,|$)" { print $2; exit }' /proc/mounts)
	[[ -n "$d" ]] && V1_ROOTS+=("$d")
done
# mkcg REL: the cgroup $TEST_CG/REL in every hierarchy, its directories in MKCG (no
# subshell: the removals must reach this shell's exit trap, children first).
mkcg() {
	local d
	MKCG=()
	mkdir "$TEST_CG_DIR/$1" && on_exit "cg_rmdir '$TEST_CG_DIR/$1'"
	MKCG+=("$TEST_CG_DIR/$1")
	for d in "${V1_ROOTS[@]}"; do
		[[ -d "$d$TEST_CG" ]] || { mkdir "$d$TEST_CG" && on_exit "cg_rmdir '$d$TEST_CG'"; }
		mkdir "$d$TEST_CG/$1" && on_exit "cg_rmdir '$d$TEST_CG/$1'"
		MKCG+=("$d$TEST_CG/$1")
	done
}

CID=$(hex 32)
SCOPE=docker-$CID.scope
mkcg "$SCOPE"
CGS=("${MKCG[@]}")

has_series() { scrape | grep -qE -- "$1"; }
no_series() { ! has_series "$1"; }

# (a) to (c): bytes per cgroup, counted per packet, whichever way "auto" goes on this kernel
start_daemon '{"services": [{"name": "sink", "protocol": "tcp", "ports": [5301]}],
	"containers": {"network": "cgroup"}}' || exit 1

# server CONNECTIONS: reads each connection to EOF, prints the bytes of each
server() {
	ns_srv /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5301)); s.listen(4)
for _ in range(int(sys.argv[1])):
    c, _ = s.accept(); n = 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        n += len(b)
    c.close(); print(n, flush=True)' "$1" >"$WORK/server.out" &
	SRV=$!
	wait_port "$NS_SRV" 5301 || { echo "  server did not start"; exit 1; }
}

# client N CGDIR...: joins the cgroups, then becomes the python process (exec keeps the
# pid, hence the cgroups): writes N bytes, waits for the server's close, and prints its
# own CPU time (getrusage).
client() {
	local n=$1
	shift
	bash -c '
for f in "$@"; do echo $$ >"$f/cgroup.procs"; done
exec ip netns exec '"$NS_CLI"' /usr/bin/python3 -c "
import resource, socket, sys
n = int(sys.argv[1]); s = socket.create_connection((sys.argv[2], 5301))
buf = b\"x\" * (1 << 16); left = n
while left:
    left -= s.send(buf[:min(left, len(buf))])
s.shutdown(socket.SHUT_WR)
while s.recv(4096): pass
s.close()
r = resource.getrusage(resource.RUSAGE_SELF)
print(r.ru_utime + r.ru_stime)" '"$n $SRV_IP"' ' _ "$@"
}

N=$((32 << 20))
server 1

link() { ns_cli ip -s -j link show "fpc$ID" | /usr/bin/python3 -c '
import json, sys; s = json.load(sys.stdin)[0]["stats64"]
print(s["tx"]["bytes"], s["tx"]["packets"], s["rx"]["bytes"], s["rx"]["packets"])'; }
read -r tx0 txp0 rx0 rxp0 <<<"$(link)"

echo "(a) one container (docker-<id>.scope): $N bytes to a server outside it"
client "$N" "${CGS[@]}" >"$WORK/client.out"
wait $SRV
sleep 0.3
read -r tx1 txp1 rx1 rxp1 <<<"$(link)"

# veth counts each skb it forwards with its Ethernet header (14 bytes); the cgroup_skb
# hooks see the same skbs from the IP header on. GSO skbs cross veth unsegmented, so
# both count one skb per GSO packet and the difference is exactly 14 bytes a packet.
want_tx=$(((tx1 - tx0) - 14 * (txp1 - txp0)))
want_rx=$(((rx1 - rx0) - 14 * (rxp1 - rxp0)))
sel="container_id=\"$CID\""
got_tx=$(metric container_network_transmit_bytes_total "$sel")
got_rx=$(metric container_network_receive_bytes_total "$sel")
echo "    server read $(cat "$WORK/server.out") bytes; client wrote $N"
echo "    veth fpc$ID: tx $((tx1 - tx0)) bytes / $((txp1 - txp0)) skbs, rx $((rx1 - rx0)) bytes / $((rxp1 - rxp0)) skbs"
echo "    IP bytes expected: tx $want_tx rx $want_rx; probe: tx $got_tx rx $got_rx"
check "server received every byte" eq "$(cat "$WORK/server.out")" "$N"
check "cgroup tx bytes within 1% of the veth's (IP level)" within "$got_tx" "$want_tx" 1
check "cgroup rx bytes within 1% of the veth's (IP level)" within "$got_rx" "$want_rx" 1
# headers are a few per cent of a full-size segment at most
check "cgroup tx bytes (payload + headers) within 2.5% of 1.025 x the payload" within "$got_tx" "$((N * 1025 / 1000))" 2.5
check "series carry the cgroup path as id" \
	has_series "^container_network_transmit_bytes_total\\{id=\"$TEST_CG/$SCOPE\",pod_uid=\"\",container_id=\"$CID\"\\}"

echo "(b) CPU and memory of the container cgroup"
cpu=$(metricf container_cpu_usage_seconds_total "$sel")
own=$(cat "$WORK/client.out")
echo "    cgroup CPU ${cpu}s, client getrusage ${own}s"
# The cgroup also ran the ip netns exec before the exec: a little more. And a little less:
# getrusage() counts the pid's whole life, the bash's start-up before it joined the
# cgroup included (seen: 2.7 ms of a 79 ms client), so 10 ms of slack below.
check "container CPU time within -10 ms .. +0.2 s of the client's own" \
	awk -v c="$cpu" -v o="$own" 'BEGIN { exit !(c >= o * 0.98 - 0.01 && c <= o + 0.2) }'
# A process of the container holds 64 MiB of anonymous memory it wrote: the working set
# holds at least its RssAnon (the kernel's own count, /proc/PID/status) and not much
# more (the interpreter's other pages, page tables; v1 usage is batched per CPU).
: >"$WORK/hog.out"
bash -c 'for f in "$@"; do echo $$ >"$f/cgroup.procs"; done
exec /usr/bin/python3 -c "
import sys, time
b = b\"\\1\" * (64 << 20)
print(\"ready\", flush=True)
time.sleep(30)"' _ "${CGS[@]}" >"$WORK/hog.out" &
HOG=$!
on_exit "kill $HOG; wait $HOG"
for i in $(seq 1 50); do grep -q ready "$WORK/hog.out" && break; sleep 0.1; done
anon=$(awk '/^RssAnon:/ { print $2 * 1024 }' /proc/$HOG/status)
ws=$(metric container_memory_working_set_bytes "$sel")
usage=$(metric container_memory_usage_bytes "$sel")
echo "    holder RssAnon $anon bytes; container usage $usage, working set $ws"
check "working set >= the holder's RssAnon, at most 24 MiB more" \
	awk -v w="$ws" -v a="$anon" 'BEGIN { exit !(a > 64 * 2^20 && w >= a && w <= a + 24 * 2^20) }'
check "usage >= working set" awk -v u="$usage" -v w="$ws" 'BEGIN { exit !(u >= w) }'
kill $HOG; wait $HOG 2>/dev/null

echo "(c) a pod (kubepods-burstable-pod<uid>.slice) with two containers (cri-containerd)"
# The pod's counters are the sum of its containers'; when a container goes (its cgroup
# removed), the pod's counter keeps its bytes and does not fall.
UID_=$(hex 16 | sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
POD=kubepods-burstable-pod${UID_//-/_}.slice
C1=$(hex 32)
C2=$(hex 32)
mkcg "$POD"
mkcg "$POD/cri-containerd-$C1.scope"
CG1=("${MKCG[@]}")
mkcg "$POD/cri-containerd-$C2.scope"
CG2=("${MKCG[@]}")
server 2
read -r tx0 txp0 rx0 rxp0 <<<"$(link)"
client $((8 << 20)) "${CG1[@]}" >/dev/null
client $((4 << 20)) "${CG2[@]}" >/dev/null
wait $SRV
sleep 0.3
read -r tx1 txp1 rx1 rxp1 <<<"$(link)"
want_tx=$(((tx1 - tx0) - 14 * (txp1 - txp0)))
t1=$(metric container_network_transmit_bytes_total "container_id=\"$C1\"")
t2=$(metric container_network_transmit_bytes_total "container_id=\"$C2\"")
podsel="id=\"$TEST_CG/$POD\",pod_uid=\"$UID_\",container_id=\"\""
tp=$(metric container_network_transmit_bytes_total "$podsel")
rp=$(metric container_network_receive_bytes_total "$podsel")
echo "    veth IP bytes tx $want_tx; containers $t1 + $t2; pod $tp (rx $rp)"
check "pod tx bytes within 1% of the veth's (IP level)" within "$tp" "$want_tx" 1
check "pod = sum of its containers" eq "$tp" "$((t1 + t2))"
check "container series carry the pod uid" \
	has_series "^container_network_transmit_bytes_total\\{id=\"$TEST_CG/$POD/cri-containerd-$C1.scope\",pod_uid=\"$UID_\",container_id=\"$C1\"\\}"
for d in "${CG1[@]}"; do rmdir "$d"; done
scrape >/dev/null # the scrape that sees the container gone moves its bytes to the pod
tp2=$(metric container_network_transmit_bytes_total "$podsel")
rp2=$(metric container_network_receive_bytes_total "$podsel")
echo "    after removing container 1: pod tx $tp2 rx $rp2"
check "removed container's series gone" eq "$(metric container_network_transmit_bytes_total "container_id=\"$C1\"")" 0
check "pod counters unchanged after a container went" eq "$tp2 $rp2" "$tp $rp"
check "no container cgroup dropped" eq "$(metric fogprobe_container_cgroups_dropped)" 0

echo "(d) from network namespaces: each container's bytes are its namespace's interfaces'"
stop_daemon
start_daemon '{"services": [{"name": "sink", "protocol": "tcp", "ports": [5301]}],
	"containers": {"network": "netns"}}' || exit 1
check "the daemon says where container bytes come from" \
	grep -q "container network bytes: from each container's network namespace" "$WORK/daemon.log"
# a process in container 2 (the client's namespace); one in the first container, in the
# host's namespace
bash -c 'for f in "$@"; do echo $$ >"$f/cgroup.procs"; done
exec ip netns exec '"$NS_CLI"' sleep 60' _ "${CG2[@]}" &
HOLD2=$!
bash -c 'for f in "$@"; do echo $$ >"$f/cgroup.procs"; done; exec sleep 60' _ "${CGS[@]}" &
HOLD1=$!
on_exit "kill $HOLD2 $HOLD1; wait $HOLD2 $HOLD1"
# every interface of the client's namespace but lo, as /proc/<pid>/net/dev counts them
# (and its transmitted packets), and the TCP segments it retransmitted (/proc/net/snmp)
netns_bytes() { ns_cli cat /proc/net/dev | awk 'NR > 2 { sub(/:/, " "); if ($1 != "lo") { rx += $2; tx += $10; txp += $11 } } END { print tx, rx, txp }'; }
retrans_segs() { ns_cli cat /proc/net/snmp | awk '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") n = i } else print $n }'; }
sleep 0.3 # the holders' exec
read -r ntx0 nrx0 ntxp0 <<<"$(netns_bytes)"
rseg0=$(retrans_segs)
got_tx=$(metric container_network_transmit_bytes_total "container_id=\"$C2\"")
got_rx=$(metric container_network_receive_bytes_total "container_id=\"$C2\"")
echo "    namespace tx $ntx0 rx $nrx0; container 2 tx $got_tx rx $got_rx"
check "container tx = its namespace's, link level" eq "$got_tx" "$ntx0"
check "container rx = its namespace's, link level" eq "$got_rx" "$nrx0"
server 1
client $((4 << 20)) "${CG2[@]}" >/dev/null
wait $SRV
sleep 0.3
read -r ntx1 nrx1 ntxp1 <<<"$(netns_bytes)"
rseg=$(($(retrans_segs) - rseg0))
pkts=$((ntxp1 - ntxp0))
got_tx=$(metric container_network_transmit_bytes_total "container_id=\"$C2\"")
tp=$(metric container_network_transmit_bytes_total "$podsel")
echo "    after 4 MiB: namespace tx $ntx1 (+$((ntx1 - ntx0)) in $pkts packets," \
	"$rseg segments retransmitted); container 2 tx $got_tx, pod tx $tp"
check "4 MiB later: container tx = its namespace's" eq "$got_tx" "$ntx1"
# Only this connection's TCP/IPv4 frames leave the namespace (no IPv6, no ARP): each one
# carries 14 + 20 + 20 to 60 bytes of headers (GSO frames one set for many segments), and
# a retransmitted segment at most one MSS of payload again.
mss=$(($(ns_cli cat "/sys/class/net/fpc$ID/mtu") - 40))
check "the 4 MiB in it: tx grew by 4 MiB, the frames' headers and the retransmitted segments" \
	between "$((got_tx - ntx0))" $(((4 << 20) + pkts * 54)) $(((4 << 20) + pkts * 94 + rseg * mss))
check "the pod's = its namespace's too (cAdvisor's view: one namespace)" eq "$tp" "$ntx1"
check "a container in the host's namespace has no network series (node_network_* has them)" \
	no_series "^container_network_transmit_bytes_total\\{[^}]*container_id=\"$CID\""
check "its CPU series is there" has_series "^container_cpu_usage_seconds_total\\{[^}]*container_id=\"$CID\""

echo "(e) in a pid namespace of its own (a pod without hostPID), auto counts per cgroup"
# cgroup.procs names no process outside the reader's pid namespace: no namespace to read
stop_daemon
printf '#!/bin/sh\nexec unshare --pid --fork --kill-child=TERM %s "$@"\n' "$FOGPROBE" >"$WORK/pidns"
chmod +x "$WORK/pidns"
FOGPROBE=$WORK/pidns start_daemon '{"services": [{"name": "sink", "protocol": "tcp", "ports": [5301]}]}' || exit 1
# unshare ignores SIGTERM while it waits for its child: the daemon is the one to stop
UNSHARE=$DAEMON_PID
DAEMON_PID=$(pgrep -P "$UNSHARE" -x fogprobe)
on_exit "kill -KILL $UNSHARE; wait $UNSHARE" # --kill-child: the daemon gets SIGTERM
check "the daemon says so" grep -q "not in the host's pid namespace (hostPID): network bytes per cgroup" "$WORK/daemon.log"
check "and counts per cgroup" grep -q "container network bytes: per cgroup" "$WORK/daemon.log"
check "so the container in the host's namespace has its series again" has_series \
	"^container_network_transmit_bytes_total\\{[^}]*container_id=\"$CID\""
# its exit status through unshare's
stop_in_pidns() { kill -TERM "$DAEMON_PID" && wait "$UNSHARE"; }
check "the daemon in its own pid namespace stops cleanly on SIGTERM" stop_in_pidns
DAEMON_PID=
finish
