#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# HTTPS read as plaintext through the OpenSSL uprobes: nginx (Debian, libssl.so.3) serves
# the same locations over TLS and in clear, curl and wrk request them. Ground truth is
# nginx's own access log ($request_length, $bytes_sent: plaintext bytes of each request
# and response) and, for a statically linked OpenSSL server (tests/workloads/
# tls_server.c, SSL_read_ex/SSL_write_ex), its own byte counts. Checks: the TLS records
# carry the TLS flag and exactly those byte counts (the daemon's -v log); no ciphertext
# of an SSL call reaches the parser; http_requests_total counts HTTPS exactly like HTTP;
# the hook report names nginx's libssl; a libssl first mapped after the daemon started
# is hooked as its process starts and its traffic captured (test_tls_start.sh: from the
# first request); a stripped static OpenSSL is reported as not hooked.
. "$(dirname "$0")/lib.sh"

command -v nginx >/dev/null || { echo "  nginx missing (tests/deps.sh installs it)"; exit 1; }
command -v openssl >/dev/null || { echo "  openssl missing"; exit 1; }
N=${N:-20}
setup_netns

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fogprobe-test \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || exit 1

# nginx_conf NAME TLS_PORT PLAIN_PORT: a config with identical locations on both ports
# (l7lib.sh's start_nginx_tls serves TLS alone, without the byte counts logged here)
nginx_conf() {
	local d=$WORK/$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	log_format sizes '\$server_port \$status \$request_method \$uri \$request_length \$bytes_sent';
	access_log $d/access.log sizes;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		listen $2 ssl;
		listen $3;
		ssl_certificate $WORK/cert.pem;
		ssl_certificate_key $WORK/key.pem;
		location = / { return 200 "ok\n"; }
		location /api/ { return 201 "created\n"; }
		location = /missing { return 404; }
		location = /big { alias $WORK/big.txt; }
	}
}
EOF
}

# start_nginx NAME [ENV...]: run it in the server namespace
start_nginx() {
	local name=$1
	shift
	ns_srv env "$@" nginx -c "$WORK/$name/nginx.conf" -e "$WORK/$name/error.log" || return 1
	on_exit "kill \$(cat $WORK/$name/nginx.pid)"
}

# a body of many SSL_write calls, each past the prefix; the workers (not root) read it
head -c 50000 /dev/urandom | base64 >"$WORK/big.txt"
chmod a+x "$WORK"
chmod a+r "$WORK/big.txt"
nginx_conf a 8443 8080
start_nginx a || exit 1
wait_port "$NS_SRV" 8443 || exit 1

FOGPROBE_ARGS="${FOGPROBE_ARGS:-} -v" start_daemon '{"services": [
  {"name": "web-tls", "protocol": "http", "ports": [8443, 9443, 9444, 9445]},
  {"name": "web", "protocol": "http", "ports": [8080, 9080]}]}' || exit 1

LIBSSL=$(awk '/libssl\.so/ { print $6; exit }' "/proc/$(cat "$WORK/a/nginx.pid")/maps")
check "nginx maps libssl ($LIBSSL)" test -n "$LIBSSL"
check "the log names nginx's libssl as hooked" grep -q "tls: hooked $LIBSSL " "$WORK/daemon.log"
check "fogprobe_tls_hooks reports it" \
	eq "$(metric fogprobe_tls_hooks "binary=\"$LIBSSL\",state=\"hooked\"")" 1
check "fogprobe check lists it" \
	bash -c "'$FOGPROBE' check | grep -q 'tls binary.*$LIBSSL SSL_read/SSL_write found'"

# requests PORT SCHEME: N connections of four requests each (keep-alive: later requests'
# ciphertext falls between plaintext records of the same connection)
requests() {
	local i u="$2://$SRV_IP:$1"
	for i in $(seq 1 "$N"); do
		ns_cli curl -sk -o /dev/null -o /dev/null -o /dev/null -o /dev/null "$u/" \
			"$u/api/nodes/$i" "$u/missing" "$u/big"
	done
}
requests 8443 https
requests 8080 http
sleep 0.5 # the daemon drains its rings every 100 ms

# The capture records of the server end, per service index, in order:
# "connection dir len flags cap" (connection: socket-conn_start).
records() {
	awk -v svc="svc=$1" '/ l7 sk=/ && $0 ~ svc " " && / kind=0 / {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["sk"] "-" v["conn_start"], v["dir"], v["len"], v["flags"], v["cap"] }' \
		"$WORK/daemon.log"
}
# sum of nginx's logged sizes: FILE PORT FIELD (5 request_length, 6 bytes_sent)
logged() { awk -v p="$2" -v f="$3" '$1 == p { s += $f } END { print s + 0 }' "$1"; }
sum_tls() { awk -v d="$2" '$2 == d && $4 == "tls" { s += $3 } END { print s + 0 }' "$1"; }
sum_all() { awk -v d="$2" '$2 == d { s += $3 } END { print s + 0 }' "$1"; }

# wait for the plaintext records to be drained (settle, lib.sh)
tls_rx_now() { records 0 | sum_tls /dev/stdin rx; }
settle "$(logged "$WORK/a/access.log" 8443 5)" tls_rx_now
records 0 >"$WORK/tls.rec"
records 1 >"$WORK/plain.rec"
check "nginx logged $((4 * N)) TLS requests" \
	eq "$(awk '$1 == 8443' "$WORK/a/access.log" | wc -l)" $((4 * N))
check "nginx served /big (200)" \
	eq "$(awk '$1 == 8443 && $4 == "/big" && $2 == 200 && $6 > 50000' "$WORK/a/access.log" | wc -l)" "$N"
# an HTTP service captures 1024 bytes of each buffer (FP_L7_CAP_HTTP_DEFAULT)
check "each TLS record carries min(len, 1024) bytes" \
	eq "$(awk '$4 == "tls" && $5 != ($3 < 1024 ? $3 : 1024)' "$WORK/tls.rec" | wc -l)" 0
check "some TLS records are longer than the prefix" \
	awk -v n="$(awk '$4 == "tls" && $3 > 1024' "$WORK/tls.rec" | wc -l)" 'BEGIN { exit !(n > 0) }'
check "TLS plaintext rx bytes = nginx \$request_length" \
	eq "$(sum_tls "$WORK/tls.rec" rx)" "$(logged "$WORK/a/access.log" 8443 5)"
check "TLS plaintext tx bytes = nginx \$bytes_sent" \
	eq "$(sum_tls "$WORK/tls.rec" tx)" "$(logged "$WORK/a/access.log" 8443 6)"
check "the clear-text port: rx bytes = nginx \$request_length" \
	eq "$(sum_all "$WORK/plain.rec" rx)" "$(logged "$WORK/a/access.log" 8080 5)"
check "the clear-text port has no TLS-flagged record" \
	eq "$(awk '$4 == "tls"' "$WORK/plain.rec" | wc -l)" 0
check "$N TLS connections seen" \
	eq "$(awk '$4 == "tls" { print $1 }' "$WORK/tls.rec" | sort -u | wc -l)" "$N"
# Inside SSL_read/SSL_write no syscall is captured: per connection, no unflagged record
# between its first and its last TLS-flagged record. Nor inside the handshake and the
# shutdown (hooked too), and nginx's peek at the first byte (recv MSG_PEEK) is not
# captured: nothing is left unflagged on a TLS connection.
inside() {
	awk '{ n[$1]++; r[$1, n[$1]] = $4 }
	END { bad = 0
	      for (s in n) { first = 0; last = 0
		for (i = 1; i <= n[s]; i++) if (r[s, i] == "tls") { if (!first) first = i; last = i }
		for (i = first; i <= last; i++) if (r[s, i] != "tls") bad++ }
	      print bad }' "$1"
}
check "no ciphertext inside SSL calls reaches the parser" eq "$(inside "$WORK/tls.rec")" 0
check "no unflagged record on TLS connections" eq "$(awk '$4 != "tls"' "$WORK/tls.rec" | wc -l)" 0
# Once the HTTP parser is there (http_requests_total): HTTPS counted exactly like HTTP,
# series by series, and as many as nginx logged.
by_labels() { # SERVICE -> "status method path value" per series, sorted
	scrape | awk -v svc="service=\"$1\"" '/^http_requests_total\{/ && index($0, svc) {
		l = $1; sub(/^[^{]*\{/, "", l); sub(/\}$/, "", l)
		n = split(l, kv, ","); out = ""
		for (i = 1; i <= n; i++) if (kv[i] !~ /^service=/) out = out kv[i] " "
		print out $2 }' | sort
}
HAVE_HTTP=$(scrape | grep -c '^http_requests_total{')
if ((HAVE_HTTP)); then
	by_labels web-tls >"$WORK/https.series"
	by_labels web >"$WORK/http.series"
	check "http_requests_total: HTTPS series = HTTP series" \
		diff "$WORK/https.series" "$WORK/http.series"
	check "http_requests_total{service=web-tls} = nginx's $((4 * N)) requests" \
		eq "$(metric http_requests_total 'service="web-tls"')" $((4 * N))
else
	echo "  (http_requests_total not exported yet: HTTPS vs HTTP counts not compared)"
fi

# Under load: wrk over HTTPS (keep-alive, 4 connections), every request counted.
if ((HAVE_HTTP)) && command -v wrk >/dev/null; then
	n0=$(awk '$1 == 8443' "$WORK/a/access.log" | wc -l)
	m0=$(metric http_requests_total 'service="web-tls"')
	ns_cli wrk -t1 -c4 -d2s "https://$SRV_IP:8443/" >"$WORK/wrk.out"
	sleep 0.5 # nginx logs a request once it is done
	n1=$(awk '$1 == 8443' "$WORK/a/access.log" | wc -l)
	https_delta() { echo $(($(metric http_requests_total 'service="web-tls"') - m0)); }
	settle "$((n1 - n0))" https_delta
	echo "    wrk over HTTPS: $((n1 - n0)) requests in 2 s"
	check "wrk over HTTPS: http_requests_total grew by nginx's count ($((n1 - n0)))" \
		eq "$(($(metric http_requests_total 'service="web-tls"') - m0))" "$((n1 - n0))"
	check "no L7 record lost" \
		eq "$(metric fogprobe_events_lost_total 'reason="l7_ringbuf_full"')" 0
	records 0 >"$WORK/tls.rec"
	check "still no ciphertext inside SSL calls" eq "$(inside "$WORK/tls.rec")" 0
	check "still no unflagged record" eq "$(awk '$4 != "tls"' "$WORK/tls.rec" | wc -l)" 0
fi

# A second nginx, started now, with its own copy of libssl: a binary the daemon has not
# seen, hooked at nginx's exec (or as its loader maps it), before nginx listens.
mkdir -p "$WORK/lib"
cp "$LIBSSL" "$WORK/lib/"
nginx_conf b 9443 9080
start_nginx b "LD_LIBRARY_PATH=$WORK/lib" || exit 1
wait_port "$NS_SRV" 9443 || exit 1
COPY=$WORK/lib/$(basename "$LIBSSL")
check "the new nginx maps the copy" grep -q "$COPY" "/proc/$(cat "$WORK/b/nginx.pid")/maps"
for i in $(seq 1 80); do grep -q "tls: hooked $COPY " "$WORK/daemon.log" && break; sleep 0.1; done
check "the copy was hooked at nginx's start" \
	grep -qE "tls: hooked $COPY .*found by the (exec|loader) of pid" "$WORK/daemon.log"
check "fogprobe_tls_hooks reports the copy" eq "$(metric fogprobe_tls_hooks "binary=\"$COPY\"")" 1
for i in $(seq 1 "$N"); do ns_cli curl -sk -o /dev/null "https://$SRV_IP:9443/api/x"; done
settle "$(($(logged "$WORK/a/access.log" 8443 5) + $(logged "$WORK/b/access.log" 9443 5)))" \
	tls_rx_now
records 0 >"$WORK/tls.rec"
check "the new nginx's TLS plaintext is captured (bytes = \$request_length)" \
	eq "$(sum_tls "$WORK/tls.rec" rx)" \
	"$(($(logged "$WORK/a/access.log" 8443 5) + $(logged "$WORK/b/access.log" 9443 5)))"
check "no ciphertext inside SSL calls (both nginx)" eq "$(inside "$WORK/tls.rec")" 0
if ((HAVE_HTTP)); then
	check "the new nginx's $N requests parsed (201 /api/x)" \
		eq "$(metric http_requests_total 'service="web-tls",status="201",path="/api/x"')" "$N"
fi
# OpenSSL linked into the executable: hooked through the executable's own symbols (and
# the _ex calls it uses); its stripped copy is reported, not hooked, once it serves.
cc -O1 -o "$WORK/tls_server" "$ROOT/tests/workloads/tls_server.c" \
	-Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic || exit 1
strip -o "$WORK/tls_server_stripped" "$WORK/tls_server"
check "the test server has no libssl mapped" bash -c "! ldd '$WORK/tls_server' | grep -q libssl"
ip netns exec "$NS_SRV" "$WORK/tls_server" 9444 "$WORK/cert.pem" "$WORK/key.pem" "$N" \
	>"$WORK/static.out" 2>"$WORK/static.err" &
STATIC=$!
on_exit "kill $STATIC"
wait_port "$NS_SRV" 9444 || exit 1
for i in $(seq 1 80); do grep -q "tls: hooked $WORK/tls_server " "$WORK/daemon.log" && break; sleep 0.1; done
check "the static OpenSSL executable is hooked" \
	grep -q "tls: hooked $WORK/tls_server " "$WORK/daemon.log"
before=$(sum_tls <(records 0) rx)
before_tx=$(sum_tls <(records 0) tx)
for i in $(seq 1 "$N"); do
	ns_cli curl -sk -o /dev/null -o /dev/null "https://$SRV_IP:9444/a" "https://$SRV_IP:9444/b"
done
wait $STATIC
read -r _ srv_read _ srv_written <"$WORK/static.out"
settle "$((before + srv_read))" tls_rx_now
check "static OpenSSL, SSL_read_ex: rx bytes = the server's count ($srv_read)" \
	eq "$(($(sum_tls <(records 0) rx) - before))" "$srv_read"
check "static OpenSSL, SSL_write_ex: tx bytes = the server's count ($srv_written)" \
	eq "$(($(sum_tls <(records 0) tx) - before_tx))" "$srv_written"

if ((HAVE_HTTP)); then
	check "the static server's requests parsed ($N each of /a, /b)" \
		eq "$(metric http_requests_total 'service="web-tls",path="/a"') $(metric \
			http_requests_total 'service="web-tls",path="/b"')" "$N $N"
fi

# it stays up (a second connection never comes) until a rescan sees it serve
ip netns exec "$NS_SRV" "$WORK/tls_server_stripped" 9445 "$WORK/cert.pem" "$WORK/key.pem" 2 \
	>/dev/null 2>&1 &
STRIPPED=$!
on_exit "kill $STRIPPED"
wait_port "$NS_SRV" 9445 || exit 1
ns_cli curl -sk -o /dev/null "https://$SRV_IP:9445/"
for i in $(seq 1 80); do
	grep -q "tls_server_stripped has OpenSSL but no" "$WORK/daemon.log" && break
	sleep 0.1
done
check "the stripped copy is reported as not hooked" \
	grep -q "tls: $WORK/tls_server_stripped has OpenSSL but no SSL_read/SSL_write symbols" "$WORK/daemon.log"
check "fogprobe_tls_hooks{state=\"no_symbols\"} names it" \
	eq "$(metric fogprobe_tls_hooks "binary=\"$WORK/tls_server_stripped\",state=\"no_symbols\"")" 1

if ((HAVE_HTTP)); then
	scrape | grep '^fogprobe_l7_parse_errors_total{service="web-tls"' | grep -v ' 0$' |
		sed 's/^/    /'
	check "no HTTP parse error on the TLS service" \
		eq "$(metric fogprobe_l7_parse_errors_total 'service="web-tls"')" 0
fi
check "lost: no TLS call without a socket" \
	eq "$(metric fogprobe_events_lost_total 'reason="tls_unknown_socket"')" 0
check "the daemon stops cleanly" stop_daemon
finish
