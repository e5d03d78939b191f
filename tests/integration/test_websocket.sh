#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# BitChat over WebSocket read off the wire, against tests/workloads/bitchat.py's own
# summaries (Python websockets, Debian's python3-websockets, at both ends, with its defaults:
# permessage-deflate agreed, 12-bit windows, context takeover; other clients, windows and
# takeover settings: test_websocket_clients.sh):
#   1. /api/bitchat/ws/{peer}: messages_total exact by (message_type, room_id); the
#      connected_clients and active_rooms gauges while the clients are connected and after;
#      connections_dropped_total by reason exact (close code 1011, RST, FIN without a
#      close frame; normal closes are not drops)
#   2. /api/ws/connect with subscribe: the same counts, rooms from the subscriptions
#   3. push -> ack latency at 50 ms and 200 ms ack delays, ping -> pong latency at a 60 ms
#      pong delay: the mean within 10 % of the server's own measurement, and not below
#      the delay (a floor: load only adds to it)
#   4. idle_timeout: silence past the service's idle_timeout_s, then a FIN without a close
#      frame
#   5. uncompressed pushes of 600 bytes (16-bit frame lengths)
#   6. message_queue_size against ss's Send-Q of the server's sockets (uncompressed: 2000
#      bytes of one letter would deflate to a few bytes): two clients stop
#      reading, then 210 KiB are pushed to each, so that the windows close with data
#      queued at the server: the gauge (read at the scrape through the flow-table
#      iterator, or where the kernel refuses iterators or --disable-hooks iter says so,
#      kept by the kernel at each inbound segment, read and write) equals ss; then a push written into the stalled sockets (exact); then the
#      clients read everything (0), then close (0)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"

"$L7_PY" -c 'import websockets' 2>/dev/null || { echo "  python3-websockets missing (make deps)"; exit 1; }

PORT=8000
setup_netns
IDLE_PORT=8001
start_daemon '{"services": [
  {"name": "bitchat", "protocol": "websocket", "ports": ['$PORT'],
   "paths": ["/api/bitchat/ws/", "/api/ws/connect"], "max_rooms": 50},
  {"name": "bitchat-idle", "protocol": "websocket", "ports": ['$IDLE_PORT'],
   "paths": ["/api/bitchat/ws/"], "idle_timeout_s": 2}]}' || exit 1

dropped() { metric fogcompute_bitchat_connections_dropped_total "reason=\"$1\""; }

# run_case NAME SERVER_ARGS -- CLIENT_ARGS: one server + one client run; the client holds
# its connections for 2 s once everything is acked, while the gauges are read. Leaves
# $WORK/NAME.{server,client}.json, $WORK/NAME.{before,after} (probe messages) and the
# gauges in G_CLIENTS, G_ROOMS.
run_case() {
	local name=$1 sargs=() cargs=() i
	shift
	while [[ $# -gt 0 && $1 != -- ]]; do sargs+=("$1"); shift; done
	shift
	cargs=("$@")
	probe_messages >"$WORK/$name.before"
	start_bitchat "$NS_SRV" $PORT --bind "$SRV_IP" "${sargs[@]}" || return 1
	ip netns exec "$NS_CLI" "$L7_PY" "$BITCHAT" client "$SRV_IP" $PORT --hold-seconds 2 "${cargs[@]}" \
		>"$WORK/$name.client.json" 2>"$WORK/$name.client.err" &
	local cpid=$!
	for i in $(seq 1 200); do
		grep -q '^holding' "$WORK/$name.client.err" && break
		kill -0 $cpid 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.5 # the last acks reach the probe
	G_CLIENTS=$(metric fogcompute_bitchat_connected_clients)
	G_ROOMS=$(metric fogcompute_bitchat_active_rooms)
	wait $cpid
	# the server exits once all its clients have gone; a client that failed leaves it
	# waiting, so give up after 5 s (it still prints its summary on SIGTERM)
	for i in $(seq 1 50); do kill -0 "$BITCHAT_PID" 2>/dev/null || break; sleep 0.1; done
	stop_pid "$BITCHAT_PID"
	cp "$BITCHAT_OUT.json" "$WORK/$name.server.json"
	sleep 1 # a close takes effect after a grace period (late bytes from the other ring)
	probe_messages >"$WORK/$name.after"
	echo "    server: $(head -c 600 "$WORK/$name.server.json")"
	[[ -s "$WORK/$name.client.err" ]] && grep -v '^holding' "$WORK/$name.client.err" | head -n 5
	return 0
}

echo "1. /api/bitchat/ws/{peer}: 6 clients, 3 rooms, abnormal endings"
d0=$(dropped abnormal_close) r0=$(dropped reset) n0=$(dropped no_close_frame) i0=$(dropped idle_timeout)
run_case peers --clients 6 --direct 2 --room-messages 3 -- --clients 6 --direct 2 --room-messages 3 \
	--rooms 3 --pings 2 --abnormal-close 1 --reset 1 --no-close-frame 1 || exit 1
summary_messages "$WORK/peers.server.json" >"$WORK/peers.want"
delta "$WORK/peers.before" "$WORK/peers.after" >"$WORK/peers.got"
check "client and server summaries agree (what crossed the wire)" same_table "$WORK/peers.want" \
	<(summary_messages "$WORK/peers.client.json")
check "no workload errors, every push acked" eq \
	"$(j "$WORK/peers.server.json" errors) $(j "$WORK/peers.server.json" acks_missing)" "0 0"
check "messages_total by (type, room) = the workload's" same_table "$WORK/peers.want" "$WORK/peers.got"
check "connected_clients = 6 while connected" eq "$G_CLIENTS" 6
check "active_rooms = 3 while connected" eq "$G_ROOMS" 3
check "connected_clients back to 0" eq "$(metric fogcompute_bitchat_connected_clients)" 0
check "active_rooms back to 0" eq "$(metric fogcompute_bitchat_active_rooms)" 0
echo "    server saw endings: $(j "$WORK/peers.server.json" endings)"
check "permessage-deflate agreed on all 6 (the server's 101)" eq \
	"$(j "$WORK/peers.server.json" 'extensions.permessage-deflate; server_max_window_bits=12; client_max_window_bits=12')" 6
check "server saw 1 abnormal_close, 1 reset, 1 no_close_frame, 3 normal" eq \
	"$(j "$WORK/peers.server.json" endings.abnormal_close) $(j "$WORK/peers.server.json" endings.reset) $(j "$WORK/peers.server.json" endings.no_close_frame) $(j "$WORK/peers.server.json" endings.normal)" \
	"1 1 1 3"
check "dropped{reason=abnormal_close} +1" eq $(($(dropped abnormal_close) - d0)) 1
check "dropped{reason=reset} +1" eq $(($(dropped reset) - r0)) 1
check "dropped{reason=no_close_frame} +1" eq $(($(dropped no_close_frame) - n0)) 1
check "dropped{reason=idle_timeout} +0" eq $(($(dropped idle_timeout) - i0)) 0
# room sizes: room-r has the clients with i mod 3 >= r: 6, 4, 2 members
check "room_size observed for each room" eq \
	"$(scrape | grep -c '^fogcompute_bitchat_room_size_count{room_id="room-[0-2]"}')" 3

echo "2. /api/ws/connect: 4 clients subscribe to up to 2 rooms"
run_case connect --clients 4 --direct 1 --room-messages 2 -- --clients 4 --direct 1 --room-messages 2 \
	--rooms 2 --pings 1 --endpoint connect || exit 1
summary_messages "$WORK/connect.server.json" >"$WORK/connect.want"
delta "$WORK/connect.before" "$WORK/connect.after" >"$WORK/connect.got"
check "subscribe crossed the wire 4 times" eq "$(awk '$1 == "subscribe" { s += $3 } END { print s + 0 }' \
	"$WORK/connect.want")" 4
check "messages_total by (type, room) = the workload's" same_table "$WORK/connect.want" "$WORK/connect.got"
check "connected_clients = 4 while connected" eq "$G_CLIENTS" 4
check "active_rooms = 2 while connected" eq "$G_ROOMS" 2

echo "3. latency: push -> ack at two ack delays, ping -> pong at a 60 ms pong delay"
mark() { M_S=$(metricf "${1}_sum"); M_C=$(metric "${1}_count"); }
mean_ms() {
	awk -v s="$(metricf "${1}_sum")" -v c="$(metric "${1}_count")" -v s0="$M_S" -v c0="$M_C" \
		'BEGIN { if (c > c0) printf "%.2f", (s - s0) * 1000 / (c - c0); else print "none" }'
}
for delay in 50 200; do
	mark fogcompute_bitchat_message_latency_seconds
	c0=$M_C
	# pushes 10 ms apart: a burst of them makes the Python client ack late (its own
	# receive -> ack time grows by milliseconds), which is the workload, not the probe
	run_case "lat$delay" --clients 3 --direct 3 --room-messages 2 --push-interval-ms 10 -- \
		--clients 3 --direct 3 \
		--room-messages 2 --rooms 2 --pings 1 --ack-delay-ms $delay || exit 1
	mean=$(mean_ms fogcompute_bitchat_message_latency_seconds)
	n=$(($(metric fogcompute_bitchat_message_latency_seconds_count) - c0))
	smean=$(j "$WORK/lat$delay.server.json" ack_latency_ms.mean)
	acks=$(j "$WORK/lat$delay.server.json" acks)
	echo "    ack delay $delay ms: probe mean $mean ms over $n acks; server's own mean $smean ms over $acks"
	check "ack delay $delay: one latency sample per ack ($acks)" eq "$n" "$acks"
	check "ack delay $delay: mean within 10% of the server's measurement" within "$mean" "$smean" 10
	# The delay is a floor, not a target: no ack leaves the client before it, and a
	# loaded machine only adds to it (the client acks late, the server reads late), in
	# the server's measurement and the probe's alike. An ack paired with the wrong push
	# comes in under it.
	check "ack delay $delay: mean not below the $delay ms delay" between "$mean" "$delay" 1e9
done
mark fogcompute_bitchat_p2p_latency_seconds
run_case pong --clients 2 --direct 0 --room-messages 0 --pong-delay-ms 60 -- --clients 2 --direct 0 \
	--room-messages 0 --rooms 0 --pings 5 || exit 1
mean=$(mean_ms fogcompute_bitchat_p2p_latency_seconds)
smean=$(j "$WORK/pong.server.json" pong_latency_ms.mean)
echo "    pong delay 60 ms: probe mean ping -> pong $mean ms; the server's own $smean ms"
check "p2p latency: 10 samples" eq $(($(metric fogcompute_bitchat_p2p_latency_seconds_count) - M_C)) 10
check "p2p latency mean within 10% of the server's measurement" within "$mean" "$smean" 10
# the probe sees the ping arrive before the server reads it: its mean is at least the
# server's, which sleeps 60 ms between its read and its write
check "p2p latency mean not below the 60 ms delay" between "$mean" 60 1e9

echo "4. idle_timeout_s 2: a connection silent for 3.5 s, then closed without a close frame"
d0=$(dropped abnormal_close) r0=$(dropped reset) n0=$(dropped no_close_frame) i0=$(dropped idle_timeout)
PORT=$IDLE_PORT run_case idle --clients 2 --direct 1 --room-messages 0 -- --clients 2 --direct 1 \
	--room-messages 0 --rooms 0 --pings 1 --no-close-frame 1 --hold-seconds 3.5 || exit 1
check "dropped{reason=idle_timeout} +1" eq $(($(dropped idle_timeout) - i0)) 1
check "dropped: no other reason" eq "$(($(dropped no_close_frame) - n0)) $(($(dropped reset) - r0)) $(($(dropped abnormal_close) - d0))" "0 0 0"

echo "5. uncompressed messages of 600-byte texts (16-bit frame lengths)"
run_case big --clients 3 --direct 2 --room-messages 2 --content-bytes 600 --compression off -- \
	--clients 3 --direct 2 --room-messages 2 --rooms 2 --pings 1 --compression off || exit 1
summary_messages "$WORK/big.server.json" >"$WORK/big.want"
delta "$WORK/big.before" "$WORK/big.after" >"$WORK/big.got"
check "messages_total by (type, room) = the workload's" same_table "$WORK/big.want" "$WORK/big.got"

scrape | grep -E '^fogprobe_l7_parse_errors_total\{.*protocol="websocket"' | sed 's/^/    /'
# (case 6 is left out: the writes asyncio coalesces into stalled sockets hold many frames,
# whose headers fall between the captured prefix and tail: desync, by design)
check "1-5: no WebSocket parse error, no inflate loss" eq \
	"$(metric fogprobe_l7_parse_errors_total 'protocol="websocket"') $(metric fogprobe_events_lost_total 'reason="ws_inflate_evicted"') $(metric fogprobe_events_lost_total 'reason="ws_inflate_too_big"')" \
	"0 0 0"

echo "6. message_queue_size: 2 clients stop reading, then 100 pushes of 2000 bytes go to each"
# ss's Send-Q of an established socket is tcp_sock write_seq - snd_una (tcp_diag_get_info,
# idiag_wqueue), the very quantity the probe samples at each read or write on the socket.
sendq_ss() {
	ns_srv ss -tnH state established "( sport = :$PORT )" | awk '{ s += $2 } END { print s + 0 }'
}
recvq_ss() {
	ns_cli ss -tnH state established "( dport = :$PORT )" | awk '{ s += $1 } END { print s + 0 }'
}
queue() { metric fogcompute_bitchat_message_queue_size; }
# up to 10 s for a "WORD" line on stderr FILE of pid PID
wait_line() { # FILE WORD PID
	local i
	for i in $(seq 1 200); do
		grep -q "^$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
check "queue_size 0 before" eq "$(queue)" 0
start_bitchat "$NS_SRV" $PORT --bind "$SRV_IP" --clients 2 --direct 100 --room-messages 0 \
	--content-bytes 2000 --push-on-signal --compression off || exit 1
# the client expects the late push too (101); --pings 0: a pong written after the reading
# resumes would leave a sample taken while the backlog was still unacknowledged. Not
# through ns_cli: a function run with & is a subshell, and $! must be the client (signals).
ip netns exec "$NS_CLI" "$L7_PY" "$BITCHAT" client "$SRV_IP" $PORT --clients 2 --direct 101 --room-messages 0 \
	--rooms 0 --pings 0 --content-bytes 2000 --stall-reading --hold-seconds 2 --compression off \
	>"$WORK/sendq.client.json" 2>"$WORK/sendq.client.err" &
cpid=$!
wait_line "$WORK/sendq.client.err" stalled $cpid || echo "    the client did not stall"
kill -USR2 "$BITCHAT_PID" # the pushes start once the clients read nothing more
# The windows have closed when the Send-Q stops moving (and is not 0: what the clients'
# receive buffers could not take stays queued at the server).
prev=-1 same=0
for i in $(seq 1 50); do
	q=$(sendq_ss)
	if [[ $q == "$prev" && $q -gt 0 ]]; then same=$((same + 1)); else same=0; fi
	prev=$q
	[[ $same -ge 3 ]] && break
	sleep 0.2
done
sleep 0.5 # the last events reach the probe
g=$(queue) q=$(sendq_ss) rq=$(recvq_ss)
echo "    stalled: queue_size $g, ss Send-Q $q (server), Recv-Q $rq (clients); the gauge is" \
	"$((g - q)) bytes above ss"
check "Send-Q non-zero: the windows closed with data queued" test "$q" -gt 0
# The scrape reads every BitChat socket's write_seq - snd_una (the iterator over the flow
# table), as ss does: with the windows closed nothing moves between the two reads.
# Without the iterator, the value kept at the last inbound segment (its ACK applied)
# is the same: the last ACKs came after the last write.
check "stalled: queue_size = ss Send-Q (exact)" eq "$g" "$q"
# A push written now samples the Send-Q with the windows closed: nothing is acknowledged
# after it (zero window; window probes carry no new data), so the gauge is exact.
kill -USR1 "$BITCHAT_PID"
wait_line "$BITCHAT_OUT.err" "late push" "$BITCHAT_PID" || echo "    no late push"
sleep 0.5
g=$(queue) q=$(sendq_ss)
echo "    after a push into the stalled sockets ($(grep '^late push' "$BITCHAT_OUT.err")):" \
	"queue_size $g, ss Send-Q $q"
if grep -q '^late push written' "$BITCHAT_OUT.err"; then
	check "push while stalled: queue_size = ss Send-Q (exact)" eq "$g" "$q"
else
	echo "    (the socket refused part of the push)"
fi
kill -USR1 $cpid # read again: everything is delivered and acknowledged
wait_line "$WORK/sendq.client.err" holding $cpid || echo "    the client did not get its pushes"
sleep 0.5
# the server's last syscalls on each socket are the reads of the final acks, which come
# after the TCP acknowledgement of all it wrote
check "read again: queue_size 0 (ss Send-Q $(sendq_ss))" eq "$(queue)" 0
wait $cpid
for i in $(seq 1 50); do kill -0 "$BITCHAT_PID" 2>/dev/null || break; sleep 0.1; done
stop_pid "$BITCHAT_PID"
sleep 1
check "closed: queue_size 0, connected_clients 0" eq \
	"$(queue) $(metric fogcompute_bitchat_connected_clients)" "0 0"
check "no workload errors, every push acked, 202 pushes" eq \
	"$(j "$BITCHAT_OUT.json" errors) $(j "$BITCHAT_OUT.json" acks_missing) $(j "$BITCHAT_OUT.json" pushes)" \
	"0 0 202"

check "the daemon survived all of it" kill -0 "$DAEMON_PID"

finish
