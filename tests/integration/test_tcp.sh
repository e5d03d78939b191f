#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Throughput, lifecycle and RTT against ground truth: iperf3's own byte count, the
# number of connections the workload made, ECONNREFUSED seen by the client, ss -ti.
. "$(dirname "$0")/lib.sh"
W=$ROOT/tests/workloads/tcpwork.py

setup_netns
start_daemon '{"services": [
  {"name": "iperf", "protocol": "tcp", "ports": [5201]},
  {"name": "rtt", "protocol": "tcp", "ports": [5202]},
  {"name": "short", "protocol": "tcp", "ports": [7000]},
  {"name": "refused", "protocol": "tcp", "ports": [7001], "cgroup": "/"},
  {"name": "betanet", "protocol": "betanet", "ports": [9001]}]}' || exit 1

echo "(a) bytes: 64 MiB over one connection, client -> server, read to EOF"
# The workload's own count is the truth: the client writes exactly N bytes, shuts down
# its side and waits for the server to read all of them and close. (iperf3's "sent"
# counts writes, not what reached the peer: it aborts at the end with data in flight.)
N=$((64 << 20))
ns_srv python3 "$W" server 5201 --count 1 &
SRV=$!
wait_port "$NS_SRV" 5201
out=$(TCPWORK_SS=1 ns_cli python3 "$W" connect "$SRV_IP" 5201 1 $N)
wait $SRV
res=$(head -n 1 <<<"$out")
sent=$(sed -n 's/^bytes_sent=//p' <<<"$out")
sleep 0.3
tx=$(metric fogprobe_tcp_bytes_total 'service="iperf",role="client",direction="tx"')
rx=$(metric fogprobe_tcp_bytes_total 'service="iperf",role="server",direction="rx"')
echo "    workload: $res, wrote $N bytes; kernel bytes_sent (with retransmissions) $sent"
echo "    probe: client tx $tx, server rx $rx"
check "transfer completed" eq "$res" "ok=1 refused=0 failed=0"
# Payload on the wire includes retransmissions: the kernel's bytes_sent is the truth
# for tx. rx counts each byte once (the socket's bytes_received): the bytes written,
# whatever spurious retransmissions delivered twice.
check "client tx bytes within 1% of ss bytes_sent" within "$tx" "$sent" 1
check "server rx bytes == the bytes written" eq "$rx" "$N"
check "client tx bytes within 1% of the bytes written + retransmitted" within "$tx" "$N" $(awk -v s="$sent" -v n="$N" 'BEGIN { printf "%.3f", 1 + (s - n) * 100 / n }')
segs=$(metric fogprobe_tcp_segments_total 'service="iperf",role="client",direction="tx"')
mss=$(ns_cli ip route get "$SRV_IP" >/dev/null && echo 1448)
echo "    client tx segments $segs (>= $((N / mss)) full-size segments expected)"
check "client tx segments >= bytes / MSS (GSO expanded)" [ "$segs" -ge $((N / mss)) ]

echo "(e) RTT: histogram median against ss -ti, during a 3 s transfer"
ns_srv iperf3 -s -1 -p 5202 >/dev/null 2>&1 &
wait_port "$NS_SRV" 5202
ns_cli iperf3 -c "$SRV_IP" -p 5202 -t 3 -b 200M >/dev/null &
IPERF=$!
: >"$WORK/ss_rtt"
sleep 0.3
while kill -0 $IPERF 2>/dev/null; do
	ns_cli ss -tinH "dport = :5202" | grep -o ' rtt:[0-9.]*' | cut -d: -f2 >>"$WORK/ss_rtt"
	sleep 0.1
done
wait $IPERF
read -r ss_min ss_max ss_n < <(awk 'NR == 1 { mn = $1; mx = $1 } { if ($1 < mn) mn = $1; if ($1 > mx) mx = $1 } END { print mn, mx, NR }' "$WORK/ss_rtt")
echo "    ss -ti rtt (ms): min $ss_min max $ss_max over $ss_n samples"
scrape >"$WORK/m1"
med=$(awk '
	/^fogprobe_tcp_rtt_seconds_bucket\{.*service="rtt".*role="client"/ {
		match($0, /[{,]le="[^"]*"/); le = substr($0, RSTART + 5, RLENGTH - 6)
		n++; les[n] = le; cum[n] = $2 }
	END {
		total = cum[n]; if (total == 0) { print "none"; exit }
		half = total / 2; prev = 0; lo = 0
		for (i = 1; i <= n; i++) {
			if (cum[i] >= half) { print lo * 1000, (les[i] == "+Inf" ? 1e9 : les[i] * 1000); exit }
			lo = les[i]; prev = cum[i] } }' "$WORK/m1")
echo "    probe median RTT bucket (ms): $med"
rtt_ok() {
	[[ "$med" != none && -n "$ss_min" ]] || return 1
	# The bucket that holds the median must overlap the range ss reported.
	awk -v b="$med" -v mn="$ss_min" -v mx="$ss_max" 'BEGIN { split(b, r, " "); exit !(r[1] <= mx && r[2] >= mn) }'
}
check "RTT median bucket overlaps ss -ti's rtt range" rtt_ok

echo "(c) N short connections are counted exactly"
N=150
o0=$(metric fogprobe_tcp_connections_opened_total 'service="short",role="client"')
s0=$(metric fogprobe_tcp_connections_opened_total 'service="short",role="server"')
c0=$(metric fogprobe_tcp_connections_closed_total 'service="short",role="server"')
ns_srv python3 "$W" server 7000 --count $N &
SRV=$!
wait_port "$NS_SRV" 7000
res=$(ns_cli python3 "$W" connect "$SRV_IP" 7000 $N 100)
wait $SRV
sleep 0.5
echo "    workload: $res"
check "workload made $N connections" eq "$res" "ok=$N refused=0 failed=0"
check "client opens == $N" eq $(($(metric fogprobe_tcp_connections_opened_total 'service="short",role="client"') - o0)) $N
check "server opens == $N" eq $(($(metric fogprobe_tcp_connections_opened_total 'service="short",role="server"') - s0)) $N
check "server closes == $N" eq $(($(metric fogprobe_tcp_connections_closed_total 'service="short",role="server"') - c0)) $N
check "no connection left open" eq "$(metric fogprobe_tcp_open_connections 'service="short"')" 0

# "refused" matches any cgroup: the kernel answers a SYN to a closed port without a
# socket, so its RST can only be attributed by port (a cgroup matcher cannot hold).
echo "(d) refused connects are counted"
R=25
r0=$(metric fogprobe_tcp_connect_failures_total 'service="refused",reason="refused"')
res=$(ns_cli python3 "$W" connect "$SRV_IP" 7001 $R 0)
sleep 0.5
echo "    workload: $res"
check "workload saw $R refusals" eq "$res" "ok=0 refused=$R failed=0"
check "connect_failures{reason=refused} == $R" eq $(($(metric fogprobe_tcp_connect_failures_total 'service="refused",reason="refused"') - r0)) $R
check "resets sent by the server side counted" [ "$(metric fogprobe_tcp_resets_total 'service="refused",direction="tx"')" -ge $R ]

echo "open connections and listeners (both ends on this host: each end counted in its role)"
ns_srv python3 "$W" server 9001 --count 4 &
SRV=$!
wait_port "$NS_SRV" 9001
# held until the checks are done (a slow or emulated machine takes seconds to scrape)
# (not through ns_cli: $! must be python itself, which ip netns exec becomes)
ip netns exec "$NS_CLI" python3 "$W" hold "$SRV_IP" 9001 4 120 >"$WORK/hold" &
HOLD=$!
on_exit "kill $HOLD"
for i in $(seq 1 30); do grep -q held "$WORK/hold" && break; sleep 0.1; done
await_metric fogprobe_tcp_open_connections 'service="betanet",role="client"' 4
await_metric fogcompute_betanet_mixnode_active '' 1
check "open_connections{betanet,server} == 4" eq "$(metric fogprobe_tcp_open_connections 'service="betanet",role="server"')" 4
check "open_connections{betanet,client} == 4" eq "$(metric fogprobe_tcp_open_connections 'service="betanet",role="client"')" 4
# peers are connections past the Betanet handshake: these raw TCP ones are not
check "betanet connected_peers == 0 (no handshake on these)" eq "$(metric fogcompute_betanet_connected_peers)" 0
check "betanet mixnode_active == 1" eq "$(metric fogcompute_betanet_mixnode_active)" 1
kill $HOLD
wait $HOLD $SRV
await_metric fogcompute_betanet_mixnode_active '' 0
check "betanet mixnode_active back to 0" eq "$(metric fogcompute_betanet_mixnode_active)" 0

finish
