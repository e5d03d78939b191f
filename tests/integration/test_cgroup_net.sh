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

CID=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
SCOPE=docker-$CID.scope
CG=$TEST_CG_DIR/$SCOPE
mkdir "$CG"
on_exit "rmdir '$CG'"
# On hybrid hosts (v1 controllers, v2 without them) CPU and memory live in v1: give the
# container the same path there, as the runtimes do.
V1=()
for ctl in memory cpuacct; do
	d=$(awk -v c="$ctl" '$3 == "cgroup" && $4 ~ "(^|,)" c "(,|$)" { print $2; exit }' /proc/mounts)
	[[ -n "$d" ]] || continue
	mkdir -p "$d$TEST_CG/$SCOPE"
	on_exit "rmdir '$d$TEST_CG/$SCOPE' '$d$TEST_CG'"
	V1+=("$d$TEST_CG/$SCOPE")
done

has_series() { scrape | grep -qE -- "$1"; }

start_daemon '{"services": [{"name": "sink", "protocol": "tcp", "ports": [5301]}]}' || exit 1

N=$((32 << 20))
ns_srv /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5301)); s.listen(1)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    n += len(b)
c.close(); print(n)' >"$WORK/server.out" &
SRV=$!
wait_port "$NS_SRV" 5301 || { echo "  server did not start"; exit 1; }

link() { ns_cli ip -s -j link show "fpc$ID" | /usr/bin/python3 -c '
import json, sys; s = json.load(sys.stdin)[0]["stats64"]
print(s["tx"]["bytes"], s["tx"]["packets"], s["rx"]["bytes"], s["rx"]["packets"])'; }
read -r tx0 txp0 rx0 rxp0 <<<"$(link)"

# The client joins the container's cgroups, then becomes the python process (exec keeps
# the pid, hence the cgroup): it writes N bytes, waits for the server's close, and
# reports its own CPU time.
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
print(r.ru_utime + r.ru_stime)" '"$N $SRV_IP"' ' _ "$CG" "${V1[@]}" >"$WORK/client.out"
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
# The cgroup also ran the short bash and the ip netns exec before the exec: a little more.
check "container CPU time >= the client's own and within 0.2 s of it" \
	awk -v c="$cpu" -v o="$own" 'BEGIN { exit !(c >= o * 0.98 && c <= o + 0.2) }'
mem=$(metric container_memory_usage_bytes "$sel")
echo "    memory usage $mem bytes (the client exited: what stays charged)"
check "container memory series present" has_series "^container_memory_working_set_bytes\\{.*$CID"
check "no container cgroup dropped" eq "$(metric fogprobe_container_cgroups_dropped)" 0
finish
