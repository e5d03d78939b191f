#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The secured endpoint: TLS (a certificate made here by openssl) and basic, then bearer
# auth. curl says what a client gets (401 without or with wrong credentials, /healthz and
# /readyz open, no plaintext on the TLS port); Debian's Prometheus scrapes with the
# credentials over TLS (up == 1) and without the right ones (up == 0, 401). Then the
# capabilities: /proc/<pid>/status decoded by capsh --decode shows the kept sets, and
# what they are kept for still works: nginx started after the drop, on a copy of libssl
# the daemon has never seen, is hooked (perf_event_open of uprobes, /proc/<pid>/maps of
# a root process with every capability) and its HTTPS requests and connections are
# counted (nginx's access log and the client's count as ground truth); a TCP-only config
# does without CAP_SYS_ADMIN.
FP_PREFIX=fpsc
METRICS_PORT=19620
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/l7lib.sh"

for tool in openssl curl capsh prometheus nginx; do
	command -v $tool >/dev/null || { echo "  $tool missing (tests/deps.sh installs it)"; exit 1; }
done
PROM_PORT=19621
TLS_PORT=19643
WANT_CAPS=cap_dac_read_search,cap_sys_ptrace,cap_sys_admin,cap_bpf
LIBSSL=$(ldconfig -p | awk '$1 == "libssl.so.3" && /x86-64/ { print $NF; exit }')
LIBSSL=$(readlink -f "${LIBSSL:-/usr/lib/x86_64-linux-gnu/libssl.so.3}")
[[ -f $LIBSSL ]] || { echo "  no libssl.so.3 (tests/deps.sh installs libssl-dev)"; exit 1; }
setup_netns
chmod a+x "$WORK"

# the endpoint's certificate, for 127.0.0.1; clients trust it as their CA
openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-keyout "$WORK/ep-key.pem" -out "$WORK/ep-cert.pem" -days 2 -subj "/CN=fogprobe" \
	-addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || exit 1
PASSWORD='s3cret:with colon'
printf '%s\n' "$PASSWORD" >"$WORK/password"
printf 'user = "prom:%s"\n' "$PASSWORD" >"$WORK/curl-good.cfg"
printf 'user = "prom:%s"\n' "${PASSWORD}x" >"$WORK/curl-badpw.cfg"
printf 'user = "other:%s"\n' "$PASSWORD" >"$WORK/curl-baduser.cfg"
chmod 600 "$WORK/password" "$WORK"/curl-*.cfg
URL=https://127.0.0.1:$METRICS_PORT
code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ep-cert.pem" "$@"; }

echo "basic auth over TLS"
FP_SCHEME=https
FP_CURL="--cacert $WORK/ep-cert.pem -K $WORK/curl-good.cfg"
CONFIG='{"tls": {"cert_file": "'$WORK/ep-cert.pem'", "key_file": "'$WORK/ep-key.pem'"},
 "auth": {"type": "basic", "username": "prom", "password_file": "'$WORK/password'"},
 "services": [{"name": "web-tls", "protocol": "http", "ports": ['$TLS_PORT']}]}'
start_daemon "$CONFIG" || exit 1
check "/metrics without credentials: 401" eq "$(code "$URL/metrics")" 401
check "/metrics with a wrong password: 401" eq "$(code -K "$WORK/curl-badpw.cfg" "$URL/metrics")" 401
check "/metrics with a wrong user: 401" eq "$(code -K "$WORK/curl-baduser.cfg" "$URL/metrics")" 401
check "/metrics with a bearer token instead: 401" \
	eq "$(code -H "Authorization: Bearer $PASSWORD" "$URL/metrics")" 401
check "401 names the scheme (WWW-Authenticate: Basic)" bash -c \
	"curl -s -D - -o /dev/null --cacert '$WORK/ep-cert.pem' '$URL/metrics' | grep -qi '^WWW-Authenticate: Basic realm='"
check "/api/events without credentials: 401" eq "$(code "$URL/api/events")" 401
check "/metrics with the credentials: 200" eq "$(code -K "$WORK/curl-good.cfg" "$URL/metrics")" 200
check "/api/events with the credentials: 200" \
	eq "$(code -K "$WORK/curl-good.cfg" "$URL/api/events")" 200
check "/healthz without credentials: 200" eq "$(code "$URL/healthz")" 200
check "/readyz without credentials: 200" eq "$(code "$URL/readyz")" 200
check "no plaintext HTTP on the TLS port" bash -c \
	"! curl -sf -m 3 'http://127.0.0.1:$METRICS_PORT/healthz' >/dev/null"
check "the certificate served is the configured one" bash -c \
	"openssl s_client -connect 127.0.0.1:$METRICS_PORT </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cmp -s - <(openssl x509 -in '$WORK/ep-cert.pem' -noout -fingerprint -sha256)"
check "the password is not in the log" bash -c "! grep -qF 's3cret' '$WORK/daemon.log'"

echo "capabilities after attaching"
# status_caps SET [TASK]: a set of the main thread or of one thread, as capsh names it
status_caps() {
	capsh --decode="$(awk -v k="$1:" '$1 == k { print $2 }' \
		"/proc/$DAEMON_PID${2:+/task/$2}/status")" | cut -d= -f2
}
for set in CapEff CapPrm CapBnd; do
	check "$set (capsh --decode): $WANT_CAPS" eq "$(status_caps $set)" "$WANT_CAPS"
done
# credentials are per thread: the HTTP server's thread started before the drop
threads_caps() {
	local t set
	for t in $(ls "/proc/$DAEMON_PID/task"); do
		for set in CapEff CapPrm CapBnd; do status_caps $set "$t"; done
	done | sort | uniq -c | awk '{ print $2 }'
}
check "every thread ($(ls "/proc/$DAEMON_PID/task" | wc -l)) has the same sets" \
	eq "$(threads_caps)" "$WANT_CAPS"
check "CapInh and CapAmb empty" eq "$(awk '$1 == "CapInh:" || $1 == "CapAmb:" { print $2 }' \
	"/proc/$DAEMON_PID/status" | sort -u)" 0000000000000000
check "NoNewPrivs set" eq "$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$DAEMON_PID/status")" 1
check "the log names the kept ones" grep -q "capabilities: kept $WANT_CAPS;" "$WORK/daemon.log"

echo "what they are kept for: HTTPS of a server started after the drop"
dir=$WORK/nginx
mkdir -p "$dir/lib"
cp "$LIBSSL" "$dir/lib/" # a copy the daemon has never seen
NGINX_WORKERS=2 _nginx_conf "$dir" "$SRV_IP" tls $TLS_PORT || exit 1
openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj "/CN=fogprobe-test" \
	>/dev/null 2>&1 || exit 1
m0=$(metric http_requests_total 'service="web-tls"')
c0=$(metric fogprobe_tcp_connections_opened_total 'service="web-tls",role="server"')
ip netns exec "$NS_SRV" env LD_LIBRARY_PATH="$dir/lib" nginx -p "$dir" -c "$dir/nginx.conf" \
	-e "$dir/error.log" >"$dir/stdout" 2>&1 &
NGINX=$!
on_exit "stop_pid $NGINX"
wait_port "$NS_SRV" $TLS_PORT || { echo "  nginx did not listen"; exit 1; }
settle 1 bash -c "grep -c 'tls: hooked $dir/lib/' '$WORK/daemon.log'"
check "the new libssl is hooked after the drop" grep -q "tls: hooked $dir/lib/" "$WORK/daemon.log"
check "no hook failed" bash -c "! grep -q 'tls.*\\(failed\\|Permission denied\\|Operation not permitted\\)' '$WORK/daemon.log'"
ok=0
for i in 1 2 3 4 5; do # five connections, three requests each
	n=$(ns_cli curl -sk -w '%{http_code}\n' -o /dev/null -o /dev/null -o /dev/null \
		"https://$SRV_IP:$TLS_PORT/a$i" "https://$SRV_IP:$TLS_PORT/b$i" \
		"https://$SRV_IP:$TLS_PORT/c$i" | grep -c '^200$')
	ok=$((ok + n))
done
sleep 0.3 # nginx logs a request once it is done
want=$(awk -v p="$TLS_PORT" '$1 == p && $5 == "OK"' "$dir/access.log" | wc -l)
reqs() { echo $(($(metric http_requests_total 'service="web-tls"') - m0)); }
conns() { echo $(($(metric fogprobe_tcp_connections_opened_total 'service="web-tls",role="server"') - c0)); }
settle "$want" reqs
settle 5 conns
echo "    curl: $ok responses; nginx: $want; probe: $(reqs) requests, $(conns) connections"
check "curl's 15 responses = nginx's completed requests" eq "$ok $want" "15 15"
check "every HTTPS request counted after the drop" eq "$(reqs)" "$want"
check "every new connection counted after the drop" eq "$(conns)" 5
check "the endpoint's capabilities are still the kept ones" eq "$(status_caps CapEff)" "$WANT_CAPS"

echo "Prometheus scrapes over TLS with basic auth"
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: fogprobe
    scheme: https
    tls_config: { ca_file: $WORK/ep-cert.pem }
    basic_auth: { username: prom, password_file: $WORK/password }
    static_configs: [{ targets: ["127.0.0.1:$METRICS_PORT"] }]
  - job_name: wrong
    scheme: https
    tls_config: { ca_file: $WORK/ep-cert.pem }
    basic_auth: { username: prom, password: nope }
    static_configs: [{ targets: ["127.0.0.1:$METRICS_PORT"] }]
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM=$!
on_exit "kill $PROM; wait $PROM"
query() {
	curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		/usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
last_error() {
	curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/targets" | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    if t["labels"]["job"] == sys.argv[1]: print(t["lastError"])' "$1"
}
await_up() { # JOB WANT
	local i up=none
	for i in $(seq 1 60); do
		up=$(query "up{job=\"$1\"}" 2>/dev/null)
		[[ "$up" == "$2" ]] && break
		sleep 0.5
	done
	echo "$up"
}
check "Prometheus with the credentials: up == 1" eq "$(await_up fogprobe 1)" 1
check "Prometheus: the scrape has samples" [ "$(query 'scrape_samples_scraped{job="fogprobe"}')" -gt 50 ]
check "Prometheus: the HTTPS requests ingested" \
	[ "$(query 'sum(http_requests_total{job="fogprobe",service="web-tls"})')" -ge 15 ]
check "Prometheus with a wrong password: up == 0" eq "$(await_up wrong 0)" 0
check "Prometheus's error for it: 401" bash -c "[[ '$(last_error wrong)' == *401* ]]"
check "the daemon stops cleanly" stop_daemon
cp "$WORK/daemon.log" "$WORK/daemon-basic.log"

echo "bearer token"
printf 'tok-%s\n' "$ID" >"$WORK/token"
chmod 600 "$WORK/token"
FP_CURL="--cacert $WORK/ep-cert.pem -H @$WORK/curl-bearer.hdr"
printf 'Authorization: Bearer tok-%s\n' "$ID" >"$WORK/curl-bearer.hdr"
# a TCP service only and no host metrics: no uprobes to keep CAP_SYS_ADMIN for
CONFIG='{"tls": {"cert_file": "'$WORK/ep-cert.pem'", "key_file": "'$WORK/ep-key.pem'"},
 "auth": {"type": "bearer", "token_file": "'$WORK/token'"}, "host": {"enabled": false},
 "services": [{"name": "plain", "protocol": "tcp", "ports": ['$TLS_PORT']}]}'
start_daemon "$CONFIG" || exit 1
# ... but for entering network namespaces, where the socket counters come through
# sock_diag (kernels that refuse BPF iterators)
if [[ $(metric fogprobe_probe_attached 'feature="socket_counters",program="account_diag"') == 1 ]]; then
	check "TCP only, socket counters on sock_diag: every thread keeps cap_dac_read_search,cap_sys_ptrace,cap_sys_admin,cap_bpf" \
		eq "$(threads_caps)" cap_dac_read_search,cap_sys_ptrace,cap_sys_admin,cap_bpf
else
	check "TCP only: every thread keeps cap_dac_read_search,cap_sys_ptrace,cap_bpf" \
		eq "$(threads_caps)" cap_dac_read_search,cap_sys_ptrace,cap_bpf
fi
check "no token: 401" eq "$(code "$URL/metrics")" 401
check "a wrong token: 401" eq "$(code -H "Authorization: Bearer tok-$ID-x" "$URL/metrics")" 401
check "a prefix of the token: 401" eq "$(code -H "Authorization: Bearer tok-" "$URL/metrics")" 401
check "the token as a basic password: 401" eq "$(code -u "x:tok-$ID" "$URL/metrics")" 401
check "the token: 200" eq "$(code -H "@$WORK/curl-bearer.hdr" "$URL/metrics")" 200
check "/healthz without it: 200" eq "$(code "$URL/healthz")" 200
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: bearer
    scheme: https
    tls_config: { ca_file: $WORK/ep-cert.pem }
    authorization: { type: Bearer, credentials_file: $WORK/token }
    static_configs: [{ targets: ["127.0.0.1:$METRICS_PORT"] }]
YML
kill -HUP $PROM
check "Prometheus with the bearer token: up == 1" eq "$(await_up bearer 1)" 1
check "Prometheus: build_info over the bearer job" \
	eq "$(query 'fogprobe_build_info{job="bearer"}')" 1
echo "new credentials at a reload (SIGHUP), without a restart"
printf 'tok2-%s\n' "$ID" >"$WORK/token"
kill -HUP "$DAEMON_PID"
settle 1 grep -c 'config reloaded' "$WORK/daemon.log"
check "the reload is logged" grep -q 'reload: new endpoint credentials' "$WORK/daemon.log"
check "the old token: 401" eq "$(code -H "@$WORK/curl-bearer.hdr" "$URL/metrics")" 401
printf 'Authorization: Bearer tok2-%s\n' "$ID" >"$WORK/curl-bearer.hdr"
check "the new token: 200" eq "$(code -H "@$WORK/curl-bearer.hdr" "$URL/metrics")" 200
check "the token is not in the log" bash -c "! grep -qF 'tok-$ID' '$WORK/daemon.log' && ! grep -qF 'tok2-$ID' '$WORK/daemon.log'"
check "the daemon stops cleanly" stop_daemon
finish
