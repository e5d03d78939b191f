#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Latency against a known delay: a userspace delay line between two TUN devices
# (tests/workloads/delayrelay.py; the kernel has no netem) makes every round trip take
# 2 x DELAY plus the relay's own scheduling. Connect duration must match what the client
# measured of its own connect() calls and the injected round trip; the RTT histogram must
# match what the kernel itself reports (ss -ti) and the injected round trip.
# Bounds hold on any machine and are always checked: a handshake takes at least the
# injected round trip and fits inside the client's connect() call; every RTT sample is
# at least the injected round trip. Under emulation (FOGPROBE_EMULATED=1: the kernel
# matrix without KVM) the relay, python and ss are slowed by tens of milliseconds each,
# so the comparisons in percent are reported there, not checked.
. "$(dirname "$0")/lib.sh"
W=$ROOT/tests/workloads/tcpwork.py

setup_netns
start_daemon '{"services": [{"name": "lat", "protocol": "tcp", "ports": [7100]}]}' || exit 1

# near MEAN_MS RTT_MS: within 10% + 3 ms (the relay adds a few ms of its own scheduling)
near() { awk -v m="$1" -v r="$2" 'BEGIN { d = m - r; if (d < 0) d = -d; exit !(d <= r * 0.10 + 3) }'; }


hist() { # FAMILY LABELS -> "sum count"
	echo "$(metricf "${1}_sum" "$2") $(metric "${1}_count" "$2")"
}

n=0
for D in ${LAT_DELAYS_MS:-15 60}; do
	n=$((n + 1))
	A=fpa$n$ID B=fpb$n$ID
	NET=10.215.$((ID % 200 + n))
	python3 "$ROOT/tests/workloads/delayrelay.py" "$A" "$B" "$D" 60 >"$WORK/relay$n" &
	RELAY=$!
	on_exit "kill $RELAY"
	for i in $(seq 1 50); do grep -q ready "$WORK/relay$n" && break; sleep 0.1; done
	ip link set "$A" netns "$NS_CLI"
	ip link set "$B" netns "$NS_SRV"
	ns_cli ip addr add "$NET.1" peer "$NET.2" dev "$A"
	ns_srv ip addr add "$NET.2" peer "$NET.1" dev "$B"
	ns_cli ip link set "$A" up
	ns_srv ip link set "$B" up
	rtt_ms=$((2 * D))
	echo "delay $D ms each way (round trip $rtt_ms ms)"

	read -r cs0 cc0 < <(hist fogprobe_tcp_connect_duration_seconds 'service="lat"')
	read -r rs0 rc0 < <(hist fogprobe_tcp_rtt_seconds 'service="lat",role="client"')
	ns_srv python3 "$W" server 7100 --count 12 &
	SRV=$!
	wait_port "$NS_SRV" 7100
	# 12 connections of 256 KiB: several round trips each, RTT sampled meanwhile
	TCPWORK_TIMES=1 ns_cli python3 "$W" connect "$NET.2" 7100 12 262144 >"$WORK/conn$n" &
	CLI=$!
	: >"$WORK/ss$n"
	while kill -0 $CLI 2>/dev/null; do
		ns_cli ss -tinH "dport = :7100" | grep -o ' rtt:[0-9.]*' | cut -d: -f2 >>"$WORK/ss$n"
		sleep 0.05
	done
	wait $CLI $SRV
	sleep 0.3
	echo "    workload: $(head -n 1 "$WORK/conn$n")"
	own_ms=$(sed -n 's/^connect_ms=//p' "$WORK/conn$n")
	read -r cs1 cc1 < <(hist fogprobe_tcp_connect_duration_seconds 'service="lat"')
	read -r rs1 rc1 < <(hist fogprobe_tcp_rtt_seconds 'service="lat",role="client"')
	conn_ms=$(awk -v s="$(awk -v a="$cs1" -v b="$cs0" 'BEGIN { print a - b }')" -v c=$((cc1 - cc0)) 'BEGIN { if (c) printf "%.2f", s * 1000 / c }')
	echo "    connect duration: mean $conn_ms ms over $((cc1 - cc0)) connects;" \
		"the client's own connect(): mean $own_ms ms"
	check "12 connects measured" eq $((cc1 - cc0)) 12
	check "mean connect duration between the injected $rtt_ms ms and the client's own" \
		between "${conn_ms:-0}" "$rtt_ms" "${own_ms:-0}"
	check_timed "mean connect duration within 10% of the client's own" \
		within "${conn_ms:-0}" "${own_ms:-0}" 10
	check_timed "mean connect duration within 10% + 3 ms of $rtt_ms ms" near "${conn_ms:-0}" "$rtt_ms"

	read -r ss_n ss_mean ss_min ss_max < <(awk '{ s += $1; if (NR == 1 || $1 < mn) mn = $1; if ($1 > mx) mx = $1 } END { printf "%d %.2f %.2f %.2f\n", NR, NR ? s / NR : 0, mn, mx }' "$WORK/ss$n")
	rtt_mean=$(awk -v s="$(awk -v a="$rs1" -v b="$rs0" 'BEGIN { print a - b }')" -v c="$((rc1 - rc0))" 'BEGIN { if (c) printf "%.2f", s * 1000 / c }')
	echo "    ss -ti rtt: mean $ss_mean ms (min $ss_min, max $ss_max, $ss_n samples); probe: mean $rtt_mean ms over $((rc1 - rc0)) samples"
	check "RTT samples taken" [ $((rc1 - rc0)) -gt 0 ]
	check "probe mean RTT at least the injected $rtt_ms ms" between "${rtt_mean:-0}" "$rtt_ms" 1e9
	check_timed "probe mean RTT within 5% of ss -ti's mean" within "${rtt_mean:-0}" "$ss_mean" 5
	check_timed "probe mean RTT within 10% + 3 ms of the injected $rtt_ms ms" near "${rtt_mean:-0}" "$rtt_ms"
done
finish
