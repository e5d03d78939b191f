#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# HTTPS counted exactly whatever the client: nginx (Debian's libssl, TLS 1.2 and 1.3, two
# workers) serves hey (Go's TLS), curl (OpenSSL), wrk and Python's ssl
# (workloads/tls_client.py), keep-alive and not, resumed sessions, and requests that leave
# in the same TCP segment as the client's last handshake flight (TLS 1.3, and TLS 1.2
# resumed): nginx reads them with the handshake's last read and OpenSSL serves them from
# its own buffer, with no read() of SSL_read's own. RUNS rounds in a row (default 20), each
# compared per client: the client's own count, nginx's access log (requests whose
# response was sent whole: $request_completion) and http_requests_total.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"

for tool in nginx hey wrk curl openssl; do
	command -v $tool >/dev/null || { echo "  $tool missing (tests/deps.sh installs it)"; exit 1; }
done
RUNS=${RUNS:-20}
PY=$ROOT/tests/workloads/tls_client.py
setup_netns
NGINX_WORKERS=2 NGINX_SSL_PROTOCOLS="TLSv1.2 TLSv1.3" start_nginx_tls "$NS_SRV" "$SRV_IP" 8443 ||
	exit 1
start_daemon '{"services": [{"name": "web-tls", "protocol": "http", "ports": [8443]}]}' ||
	exit 1
U=https://$SRV_IP:8443

# The clients of one round: NAME PATH(label) CMD... Each prints its own count of
# complete 200 responses on stdout.
hey_count() { awk '/\[200\]/ { n = $2 } END { print n + 0 }'; }
c_hey_ka() { ns_cli hey -n "$1" -c 2 "$U/hey/ka" | hey_count; }
c_hey_nk() { ns_cli hey -n 20 -c 2 -disable-keepalive "$U/hey/nk" | hey_count; }
curl_urls() { local i; for i in 1 2 3 4 5; do echo "$U/curl/$1"; done; }
c_curl_ka() { ns_cli curl -sk -w '%{http_code}\n' -o /dev/null -o /dev/null -o /dev/null \
	-o /dev/null -o /dev/null $(curl_urls ka) | grep -c '^200$'; }
# a new connection per request: curl resumes its TLS session on each
c_curl_close() { ns_cli curl -sk -H 'Connection: close' -w '%{http_code}\n' -o /dev/null \
	-o /dev/null -o /dev/null -o /dev/null -o /dev/null $(curl_urls close) | grep -c '^200$'; }
c_wrk() { ns_cli wrk -t1 -c2 -d1s "$U/wrk" | awk '/requests in/ { print $1 }'; }
py() { # PATH ARGS...: the client's JSON goes to $WORK/py.json, its count to stdout
	local p=$1
	shift
	ns_cli "$L7_PY" "$PY" "$SRV_IP" 8443 --path "$p" "$@" >"$WORK/py.json" &&
		"$L7_PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d["by_status"].get("200", 0))
print(d["together"], d["resumed"], file=sys.stderr)' "$WORK/py.json" 2>>"$WORK/py.extra"
}
c_py13() { py /py13 --tls 1.3 --together --conns 4 --requests 2; }
c_py13r() { py /py13r --tls 1.3 --together --resume --conns 4; }
c_py12r() { py /py12r --tls 1.2 --together --resume --conns 4; }
c_py12() { py /py12 --tls 1.2 --conns 4 --requests 2 --close; }
c_pyp() { py /pyp --tls 1.3 --together --pipeline --conns 2 --requests 3; }
CLIENTS="hey_ka hey_nk curl_ka curl_close wrk py13 py13r py12r py12 pyp"
declare -A LABEL=([hey_ka]=/hey/ka [hey_nk]=/hey/nk [curl_ka]=/curl/ka
	[curl_close]=/curl/close [wrk]=/wrk [py13]=/py13/:id/:id [py13r]=/py13r/:id/:id
	[py12r]=/py12r/:id/:id [py12]=/py12/:id/:id [pyp]=/pyp/:id/:id)
declare -A PREFIX=([hey_ka]=/hey/ka [hey_nk]=/hey/nk [curl_ka]=/curl/ka
	[curl_close]=/curl/close [wrk]=/wrk [py13]=/py13/ [py13r]=/py13r/ [py12r]=/py12r/
	[py12]=/py12/ [pyp]=/pyp/)

# nginx's completed requests of a client so far (access log: port status method uri
# completion)
completed() { awk -v p="$1" '$1 == 8443 && $5 == "OK" && index($4, p) == 1' "$NGINX_LOG" | wc -l; }
incomplete() { awk '$1 == 8443 && $5 != "OK"' "$NGINX_LOG" | wc -l; }
probe() { metric http_requests_total "service=\"web-tls\",path=\"$1\""; }
probe_all() { metric http_requests_total 'service="web-tls"'; }
all_completed() { awk '$1 == 8443 && $5 == "OK"' "$NGINX_LOG" | wc -l; }

: >"$WORK/py.extra"
bad_runs=0 bad_clients=0 total_req=0
printf '    %-4s' run
for c in $CLIENTS; do printf ' %-16s' "$c"; done
printf '\n    %-4s' ''
for c in $CLIENTS; do printf ' %-16s' "cli/ngx/probe"; done
echo
for r in $(seq 1 "$RUNS"); do
	declare -A got=() want=() p0=() n0=()
	for c in $CLIENTS; do
		p0[$c]=$(probe "${LABEL[$c]}")
		n0[$c]=$(completed "${PREFIX[$c]}")
	done
	for c in $CLIENTS; do
		if [[ $c == hey_ka ]]; then
			got[$c]=$(c_hey_ka $((51 + RANDOM % 9)))
		else
			got[$c]=$(c_$c)
		fi
	done
	sleep 0.3 # nginx logs a request once it is done
	settle "$(all_completed)" probe_all
	line="" bad=0
	for c in $CLIENTS; do
		ngx=$(($(completed "${PREFIX[$c]}") - ${n0[$c]}))
		prb=$(($(probe "${LABEL[$c]}") - ${p0[$c]}))
		cli=${got[$c]:-0}
		total_req=$((total_req + ngx))
		# wrk stops with up to one request per connection in flight: nginx may have
		# answered 2 more than wrk counted
		if [[ $c == wrk ]]; then
			((prb == ngx && ngx >= cli && ngx <= cli + 2 && cli > 0)) || bad=$((bad + 1))
		else
			((prb == ngx && ngx == cli && cli > 0)) || bad=$((bad + 1))
		fi
		line+=$(printf ' %-16s' "$cli/$ngx/$prb")
	done
	((bad)) && bad_runs=$((bad_runs + 1)) bad_clients=$((bad_clients + bad))
	printf '    %-4s%s%s\n' "$r" "$line" "$( ((bad)) && echo "  <- $bad differ")"
done
echo "    $total_req requests in $RUNS rounds; nginx logged $(incomplete) it could not send whole"
# what the kernel skipped, by program (a skipped lifecycle run is a connection unseen)
scrape | awk '/^fogprobe_bpf_program_misses_total/ && $2 > 0 { print "    skipped: " $0 }'
check "$RUNS rounds: every client's count = nginx's = http_requests_total" eq "$bad_runs" 0
# the case this suite is for happened: requests in the handshake's last read
together=$(awk '{ t += $1 } END { print t + 0 }' "$WORK/py.extra")
resumed=$(awk '{ s += $2 } END { print s + 0 }' "$WORK/py.extra")
echo "    Python connections whose first request left with the last handshake flight: $together;" \
	"resumed sessions: $resumed"
check "requests left with the handshake's last flight" awk -v n="$together" 'BEGIN { exit !(n >= '"$RUNS"' * 10) }'
check "sessions were resumed" awk -v n="$resumed" 'BEGIN { exit !(n > 0) }'
check "lost: no TLS call without a socket" \
	eq "$(metric fogprobe_events_lost_total 'reason="tls_unknown_socket"')" 0
check "no L7 record lost" eq "$(metric fogprobe_events_lost_total 'reason="l7_ringbuf_full"')" 0
check "no HTTP parse error on the TLS service" \
	eq "$(metric fogprobe_l7_parse_errors_total 'service="web-tls"')" 0
check "the daemon stops cleanly" stop_daemon
finish
