#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# BitChat from real WebSocket clients, compressed as they compress by default
# (permessage-deflate, RFC 7692), against what the clients and the server say they sent
# and received (the workloads' JSON summaries), never the probe's own view:
#   1. Python websockets (Debian's python3-websockets, tests/workloads/bitchat.py) at both
#      ends: the server agrees to window bits 9..15 with context takeover, and 9, 12, 15
#      without (server_/client_no_context_takeover)
#   2. node ws (tests/workloads/bitchat.js, ws from tests/workloads/package-lock.json) at
#      both ends: the same windows and takeovers, every message compressed (threshold 0);
#      then ws's own default threshold (1024 bytes: short messages go uncompressed between
#      compressed ones, in one deflate stream) with 1500-byte pushes
#   3. across: Python clients to the node server, node clients to the Python server, each
#      with the server's defaults
#   4. Chromium (Debian's chromium driven by playwright-core, headless, a fresh profile)
#      running the client side in a page the node server serves on localhost, with the
#      server's defaults and with small windows with and without takeover
#   5. the limits, on a service with inflate_max_connections 2 and inflate_max_message
#      4096: three Python clients (the third connection takes the place of the one fed
#      least recently: ws_inflate_evicted 1, one desync), then 6000-byte pushes (each
#      inflating socket drops its first: ws_inflate_too_big 2, and with context takeover
#      its stream is lost: one desync each); the daemon's memory stays bounded
# Each run: messages_total by (type, room) exact, connected_clients and active_rooms while
# connected, one ack latency sample per ack and one ping -> pong sample per pong, their
# means within 10 % of the server's own (acks 50 ms after each push, pongs 60 ms after
# each ping), no WebSocket parse error and no inflate loss.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"

"$L7_PY" -c 'import websockets' 2>/dev/null || { echo "  python3-websockets missing (make deps)"; exit 1; }
[[ -d "$L7_ROOT/tests/workloads/node_modules/ws" && -d "$L7_ROOT/tests/workloads/node_modules/playwright-core" ]] ||
	{ echo "  tests/workloads/node_modules missing (make deps)"; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "  chromium missing (make deps)"; exit 1; }

PORT=8000
SMALL_PORT=8002
setup_netns
start_daemon '{"services": [
  {"name": "bitchat", "protocol": "websocket", "ports": ['$PORT'],
   "paths": ["/api/bitchat/ws/", "/api/ws/connect"], "max_rooms": 50},
  {"name": "bitchat-small", "protocol": "websocket", "ports": ['$SMALL_PORT'],
   "paths": ["/api/bitchat/ws/"], "inflate_max_connections": 2, "inflate_max_message": 4096}]}' || exit 1

mark() { M_S=$(metricf "${1}_sum"); M_C=$(metric "${1}_count"); }
# mean in ms since mark, and the sample count
mean_since() { # FAMILY SUM0 COUNT0
	awk -v s="$(metricf "${1}_sum")" -v c="$(metric "${1}_count")" -v s0="$2" -v c0="$3" \
		'BEGIN { if (c > c0) printf "%.2f %d", (s - s0) * 1000 / (c - c0), c - c0; else print "none 0" }'
}
parse_errors() { metric fogprobe_l7_parse_errors_total "protocol=\"websocket\"${1:+,service=\"$1\"}"; }
inflate_losses() {
	echo $(($(metric fogprobe_events_lost_total 'reason="ws_inflate_evicted"') +
		$(metric fogprobe_events_lost_total 'reason="ws_inflate_too_big"')))
}

CLIENTS=3
COMMON=(--clients $CLIENTS --direct 2 --room-messages 2)
# pushes 10 ms apart, as in test_websocket.sh: a burst makes the peers answer late
SERVER_COMMON=(--pong-delay-ms 60 --push-interval-ms 10)
CLIENT_COMMON=(--rooms 2 --pings 2 --ack-delay-ms 50 --hold-seconds 1)
RESULTS=$WORK/results.txt

# pair NAME SERVER(py|js) SERVER_ARGS... -- CLIENT(py|js|chromium) CLIENT_ARGS...
pair() {
	local name=$1 skind=$2 ckind sargs=() cargs=() cpid i ns=$NS_CLI host=$SRV_IP
	shift 2
	while [[ $# -gt 0 && $1 != -- ]]; do sargs+=("$1"); shift; done
	shift
	ckind=$1
	shift
	cargs=("$@")
	echo "  -- $name"
	probe_messages >"$WORK/$name.before"
	mark fogcompute_bitchat_message_latency_seconds
	local ls0=$M_S lc0=$M_C
	mark fogcompute_bitchat_p2p_latency_seconds
	local ps0=$M_S pc0=$M_C pe0 il0
	pe0=$(parse_errors) il0=$(inflate_losses)
	# Chromium loads the page from the server on localhost: both in the server's namespace
	[[ $ckind == chromium ]] && ns=$NS_SRV host=127.0.0.1
	if [[ $skind == py ]]; then
		start_bitchat "$NS_SRV" $PORT --bind "$host" "${COMMON[@]}" "${SERVER_COMMON[@]}" "${sargs[@]}" || return 1
	else
		start_bitchat_js "$NS_SRV" $PORT --bind "$host" "${COMMON[@]}" "${SERVER_COMMON[@]}" "${sargs[@]}" || return 1
	fi
	case $ckind in
	py) ip netns exec "$ns" "$L7_PY" "$BITCHAT" client "$host" $PORT "${COMMON[@]}" "${CLIENT_COMMON[@]}" \
		"${cargs[@]}" >"$WORK/$name.client.json" 2>"$WORK/$name.client.err" & ;;
	js) ip netns exec "$ns" node "$BITCHAT_JS" client "$host" $PORT "${COMMON[@]}" "${CLIENT_COMMON[@]}" \
		"${cargs[@]}" >"$WORK/$name.client.json" 2>"$WORK/$name.client.err" & ;;
	chromium) ip netns exec "$ns" node "$BITCHAT_JS" browser "http://$host:$PORT/" "${COMMON[@]}" \
		"${CLIENT_COMMON[@]}" "${cargs[@]}" >"$WORK/$name.client.json" 2>"$WORK/$name.client.err" & ;;
	esac
	cpid=$!
	for i in $(seq 1 300); do
		grep -q '^holding' "$WORK/$name.client.err" && break
		kill -0 $cpid 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.5 # the last acks reach the probe
	local g_clients g_rooms
	g_clients=$(metric fogcompute_bitchat_connected_clients)
	g_rooms=$(metric fogcompute_bitchat_active_rooms)
	wait $cpid
	for i in $(seq 1 50); do kill -0 "$BITCHAT_PID" 2>/dev/null || break; sleep 0.1; done
	stop_pid "$BITCHAT_PID"
	cp "$BITCHAT_OUT.json" "$WORK/$name.server.json"
	sleep 1 # a close takes effect after a grace period
	probe_messages >"$WORK/$name.after"
	[[ -s "$WORK/$name.client.err" ]] && grep -v '^holding' "$WORK/$name.client.err" | head -n 5

	local sj=$WORK/$name.server.json ext want got lat plat sacks spong
	ext=$(/usr/bin/python3 -c 'import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("; ".join("%s x%d" % (k, v) for k, v in s["extensions"].items()))' "$sj" 2>/dev/null)
	echo "    agreed: $ext"
	check "$name: permessage-deflate agreed on every connection" eq \
		"$(/usr/bin/python3 -c 'import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(sum(v for k, v in s["extensions"].items() if k.startswith("permessage-deflate")))' "$sj")" $CLIENTS
	summary_messages "$sj" >"$WORK/$name.want"
	delta "$WORK/$name.before" "$WORK/$name.after" >"$WORK/$name.got"
	check "$name: client and server summaries agree" same_table "$WORK/$name.want" \
		<(summary_messages "$WORK/$name.client.json")
	check "$name: no workload errors, every push acked" eq \
		"$(j "$sj" errors) $(j "$sj" acks_missing) $(j "$WORK/$name.client.json" errors)" "0 0 0"
	check "$name: messages_total by (type, room) = the workload's" same_table "$WORK/$name.want" \
		"$WORK/$name.got"
	check "$name: connected_clients = $CLIENTS, active_rooms = 2 while connected" eq \
		"$g_clients $g_rooms" "$CLIENTS 2"
	read -r lat lat_n <<<"$(mean_since fogcompute_bitchat_message_latency_seconds "$ls0" "$lc0")"
	read -r plat plat_n <<<"$(mean_since fogcompute_bitchat_p2p_latency_seconds "$ps0" "$pc0")"
	sacks=$(j "$sj" ack_latency_ms.mean)
	spong=$(j "$sj" pong_latency_ms.mean)
	echo "    acks: probe $lat ms over $lat_n, server $sacks ms over $(j "$sj" acks);" \
		"pongs: probe $plat ms over $plat_n, server $spong ms over $(j "$sj" pong_latency_ms.n)"
	check "$name: one ack latency sample per ack" eq "$lat_n" "$(j "$sj" acks)"
	check "$name: one ping -> pong sample per pong" eq "$plat_n" "$(j "$sj" pong_latency_ms.n)"
	check_timed "$name: ack latency mean within 10% of the server's" within "$lat" "$sacks" 10
	check_timed "$name: pong latency mean within 10% of the server's" within "$plat" "$spong" 10
	check "$name: no WebSocket parse error, no inflate loss" eq \
		"$(($(parse_errors) - pe0)) $(($(inflate_losses) - il0))" "0 0"
	printf '%-24s %-100s msgs %s probe %s; acks %s/%s mean %s/%s ms; pongs %s/%s mean %s/%s ms\n' \
		"$name" "$ext" "$(awk '{ s += $3 } END { print s + 0 }' "$WORK/$name.want")" \
		"$(awk '{ s += $3 } END { print s + 0 }' "$WORK/$name.got")" "$lat_n" "$(j "$sj" acks)" \
		"$lat" "$sacks" "$plat_n" "$(j "$sj" pong_latency_ms.n)" "$plat" "$spong" >>"$RESULTS"
	return 0
}

echo "1. Python websockets at both ends"
for bits in 9 10 11 12 13 14 15; do
	pair "py-w$bits" py --window-bits $bits -- py || exit 1
done
for bits in 9 12 15; do
	pair "py-w$bits-nct" py --window-bits $bits --no-context-takeover -- py || exit 1
done

echo "2. node ws at both ends"
for bits in 9 10 11 12 13 14 15; do
	pair "ws-w$bits" js --server-max-window-bits $bits --client-max-window-bits $bits -- js || exit 1
done
for bits in 9 12 15; do
	pair "ws-w$bits-nct" js --server-max-window-bits $bits --client-max-window-bits $bits \
		--server-no-context-takeover --client-no-context-takeover -- js || exit 1
done
pair "ws-threshold1024" js --threshold 1024 --content-bytes 1500 -- js --threshold 1024 || exit 1

echo "3. across"
pair "py-to-ws" js -- py || exit 1
pair "ws-to-py" py -- js || exit 1

echo "4. Chromium"
pair "chromium" js -- chromium || exit 1
pair "chromium-w9-nct" js --server-max-window-bits 9 --client-max-window-bits 9 \
	--server-no-context-takeover --client-no-context-takeover -- chromium || exit 1
pair "chromium-w12" js --server-max-window-bits 12 --client-max-window-bits 12 -- chromium || exit 1

echo "5. limits: inflate_max_connections 2, inflate_max_message 4096"
ev0=$(metric fogprobe_events_lost_total 'reason="ws_inflate_evicted"')
tb0=$(metric fogprobe_events_lost_total 'reason="ws_inflate_too_big"')
pe0=$(parse_errors bitchat-small)
start_bitchat "$NS_SRV" $SMALL_PORT --bind "$SRV_IP" "${COMMON[@]}" --push-interval-ms 10 \
	--content-bytes 6000 || exit 1
ip netns exec "$NS_CLI" "$L7_PY" "$BITCHAT" client "$SRV_IP" $SMALL_PORT "${COMMON[@]}" --rooms 2 \
	--pings 1 --content-bytes 6000 >"$WORK/limits.client.json" 2>"$WORK/limits.client.err"
for i in $(seq 1 50); do kill -0 "$BITCHAT_PID" 2>/dev/null || break; sleep 0.1; done
stop_pid "$BITCHAT_PID"
sleep 1
echo "    agreed: $(j "$BITCHAT_OUT.json" extensions)"
check "limits: no workload errors" eq "$(j "$BITCHAT_OUT.json" errors) $(j "$WORK/limits.client.json" errors)" "0 0"
check "limits: ws_inflate_evicted +1 (3 sockets, 2 places)" eq \
	$(($(metric fogprobe_events_lost_total 'reason="ws_inflate_evicted"') - ev0)) 1
check "limits: ws_inflate_too_big +2 (the first push past 4096 bytes of each inflating socket)" eq \
	$(($(metric fogprobe_events_lost_total 'reason="ws_inflate_too_big"') - tb0)) 2
check "limits: desync +3 (the evicted socket, the two streams past a dropped message)" eq \
	$(($(parse_errors bitchat-small) - pe0)) 3
check "limits: the main service had no parse error" eq "$(parse_errors bitchat)" 0
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
echo "    daemon RSS ${rss} KiB"

echo "  results (messages: the workload's, the probe's; samples and latency means: probe/server):"
sed 's/^/    /' "$RESULTS"
check "the daemon survived all of it" kill -0 "$DAEMON_PID"

finish
