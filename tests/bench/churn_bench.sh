#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Capacity under connection churn: close-per-request HTTP clients (wrk with
# "Connection: close", every request on a connection of its own) against nginx, the
# daemon watching nginx's port as an http service, for CHURN_SECONDS. Reports the
# connection rate reached, the requests the probe counted against wrk's, the events lost
# by reason, and the daemon's RSS sampled every 10 s (flat means its state follows the
# open connections, not the ones that went). The target is 17,000 connections a second
# for 5 minutes with every request counted and the RSS flat at <= 48 MiB; on a machine
# that cannot reach that rate, the rate it reached is reported.
# Timing never fails: exit 0 unless something could not run. Report on stdout and in
# build/bench/churn_report.txt. Root required; only netns traffic.
#
# Before the daemon starts, the same wrk runs for CHURN_BASE_SECONDS without the probe:
# the rate this machine reaches at all, so that the probe's rate is read as a share of it.
#
# Then CHURN_STATS_SECONDS more with --bpf-stats: each BPF program's ns per connection.
#
# Knobs (environment): CHURN_SECONDS (300), CHURN_BASE_SECONDS (30; 0 skips the
# baseline), CHURN_STATS_SECONDS (20; 0 skips it), CHURN_CONNS (64 concurrent),
# CHURN_WORKERS (nginx workers, 1).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FOGPROBE=${FOGPROBE:-$ROOT/build/fogprobe}
OUT=$ROOT/build/bench
REPORT=$OUT/churn_report.txt
SECS=${CHURN_SECONDS:-300}
BASE_SECS=${CHURN_BASE_SECONDS:-30}
STATS_SECS=${CHURN_STATS_SECONDS:-20}
CONNS=${CHURN_CONNS:-64}
WORKERS=${CHURN_WORKERS:-1}
ID=$$
NS_SRV=fpc-srv-$ID
NS_CLI=fpc-cli-$ID
SRV_IP=10.217.$((ID % 200)).1
CLI_IP=10.217.$((ID % 200)).2
PORT=8080
METRICS_PORT=${METRICS_PORT:-$((19800 + ID % 90))}

WORK=
DAEMON_PID=
WRK_PID=
CLEANUPS=()
ERRORS=0
on_exit() { CLEANUPS+=("$*"); }
cleanup() {
	local i
	[[ -n "$WRK_PID" ]] && kill -TERM "$WRK_PID" 2>/dev/null
	if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
	fi
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1
	done
	ip netns del "$NS_SRV" 2>/dev/null
	ip netns del "$NS_CLI" 2>/dev/null
	[[ -n "$WORK" ]] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "churn_bench: interrupted" >&2; exit 130' INT TERM
say() { printf '%s\n' "$*" >&2; }
fail() {
	say "churn_bench: ERROR: $*"
	ERRORS=$((ERRORS + 1))
}

if [[ $EUID -ne 0 ]]; then
	say "churn_bench: needs root (network namespaces, BPF)"
	exit 1
fi
for tool in ip nginx wrk curl; do
	command -v "$tool" >/dev/null || { say "churn_bench: missing $tool (make deps)"; exit 1; }
done
[[ -x "$FOGPROBE" ]] || { say "churn_bench: $FOGPROBE not built (make)"; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/fogprobe-churnbench.XXXXXX)
for _ in $(seq 1 50); do
	ss -ltnH "sport = :$METRICS_PORT" | grep -q . || break
	METRICS_PORT=$((METRICS_PORT + 1))
done
. "$ROOT/tests/integration/l7lib.sh"

ip netns add "$NS_SRV" && ip netns add "$NS_CLI" &&
	ip link add "fpcs$ID" type veth peer name "fpcc$ID" &&
	ip link set "fpcs$ID" netns "$NS_SRV" && ip link set "fpcc$ID" netns "$NS_CLI" &&
	ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "fpcs$ID" &&
	ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "fpcc$ID" &&
	ip -n "$NS_SRV" link set "fpcs$ID" up && ip -n "$NS_CLI" link set "fpcc$ID" up &&
	ip -n "$NS_SRV" link set lo up && ip -n "$NS_CLI" link set lo up ||
	{ fail "network namespace setup failed"; exit 1; }
# a connection per request: the client's ports are reused while nginx's ends wait
ip netns exec "$NS_CLI" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
	net.ipv4.tcp_tw_reuse=1 || true
ip netns exec "$NS_SRV" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 || true

NGINX_ACCESS_LOG=off NGINX_WORKERS=$WORKERS start_nginx "$NS_SRV" "$SRV_IP" $PORT || {
	fail "nginx did not start"
	exit 1
}
cat >"$WORK/config.json" <<EOF
{"services": [{"name": "web", "protocol": "http", "ports": [$PORT]}]}
EOF

scrape() { curl -sf -m 5 "http://127.0.0.1:$METRICS_PORT/metrics"; }
metric() { # FILE NAME [LABELS]
	awk -v name="$2" -v want="${3:-}" 'BEGIN { n = split(want, w, ",") }
		/^#/ { next }
		{ s = $1; base = s; labels = ""; i = index(s, "{")
		  if (i) { base = substr(s, 1, i - 1); labels = substr(s, i) }
		  if (base != name) next
		  for (j = 1; j <= n; j++) if (index(labels, w[j]) == 0) next
		  sum += $2 }
		END { printf "%.0f\n", sum }' "$1"
}
. "$ROOT/tests/bench/proc.sh"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# wrk_churn SECONDS OUT: the close-per-request load, in the client's namespace
wrk_churn() {
	ip netns exec "$NS_CLI" timeout $(($1 + 60)) wrk -t1 -c"$CONNS" -d"${1}s" \
		-H "Connection: close" "http://$SRV_IP:$PORT/api/churn/1" >"$2" 2>&1
}
base_rate=
if ((BASE_SECS > 0)); then
	say "churn_bench: baseline, no probe: wrk for ${BASE_SECS}s"
	if wrk_churn "$BASE_SECS" "$WORK/wrk.base"; then
		base_rate=$(awk -v s="$BASE_SECS" '/requests in/ { printf "%.0f", $1 / s }' "$WORK/wrk.base")
	else
		fail "baseline wrk failed: $(tail -n 3 "$WORK/wrk.base")"
	fi
	sleep 2 # the baseline's TIME_WAIT ends are the client's: tw_reuse takes them over
fi
# start_daemon [ARGS]: the daemon on the bench's config, ready
start_daemon() {
	"$FOGPROBE" "$@" --config "$WORK/config.json" --listen "127.0.0.1:$METRICS_PORT" \
		>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 1 100); do
		curl -sf -m 1 "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "daemon did not become ready: $(tail -n 3 "$WORK/daemon.log")"
	exit 1
}
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || fail "daemon exit status $? after SIGTERM"
	DAEMON_PID=
}
start_daemon
scrape >"$WORK/b"
say "churn_bench: wrk -t1 -c$CONNS -H 'Connection: close' for ${SECS}s against nginx ($WORKERS worker)"
t0=$(proc_cpu "$DAEMON_PID") w0=$(date +%s.%N)
wrk_churn "$SECS" "$WORK/wrk.out" &
WRK_PID=$!
t=0
while kill -0 "$WRK_PID" 2>/dev/null; do
	echo "$t $(rss_kib "$DAEMON_PID")" >>"$WORK/rss"
	sleep 10
	t=$((t + 10))
done
wait "$WRK_PID" || fail "wrk failed: $(tail -n 3 "$WORK/wrk.out")"
WRK_PID=
cpu=$(awk -v a="$t0" -v b="$(proc_cpu "$DAEMON_PID")" -v hz="$(getconf CLK_TCK)" -v w0="$w0" -v w1="$(date +%s.%N)" \
	'BEGIN { printf "%.1f", (b - a) / hz * 100 / (w1 - w0) }')
sleep 3 # the last closes' grace, the ring drained
scrape >"$WORK/a"
echo "end $(rss_kib "$DAEMON_PID")" >>"$WORK/rss"
stop_daemon
# Where the time goes: a second, shorter churn with --bpf-stats (the kernel's run-time
# statistics cost about 100 ns per run themselves: the split, not the total, is the
# figure), each program's ns per connection
stats_n=
if ((STATS_SECS > 0)); then
	sleep 2
	start_daemon --bpf-stats
	scrape >"$WORK/sb"
	say "churn_bench: the same for ${STATS_SECS}s with --bpf-stats"
	wrk_churn "$STATS_SECS" "$WORK/wrk.stats" || fail "wrk failed: $(tail -n 3 "$WORK/wrk.stats")"
	scrape >"$WORK/sa"
	stop_daemon
	stats_n=$(awk '/requests in/ { print $1 }' "$WORK/wrk.stats")
fi

n=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
rate=$(awk -v n="${n:-0}" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')
ratio=$(awk -v r="$rate" -v b="${base_rate:-0}" 'BEGIN { if (b > 0) printf "%.3f", r / b }')
# each program's time per connection of the --bpf-stats run, largest first; the last
# line, "every program", their sum (programs under 1 ns per connection are left out of
# the lines, not of the sum)
if [[ -n "$stats_n" ]]; then
	awk -v n="$stats_n" '
		match($0, /^fogprobe_bpf_program_(run_seconds_total|runs_total)\{program="[^"]*"\}/) {
			split($0, f, "\""); k = f[2] SUBSEP (index($0, "run_seconds") ? "s" : "r")
			if (FILENAME == ARGV[2]) b[k] = $NF; else a[k] = $NF; p[f[2]] = 1 }
		END { for (q in p) { s = a[q, "s"] - b[q, "s"]; r = a[q, "r"] - b[q, "r"]
			if (r > 0 && n > 0) t += s
			if (r > 0 && n > 0 && s * 1e9 / n >= 1) printf "%s %.0f %.1f %.0f\n", q, s * 1e9 / n, r / n, s * 1e9 / r }
			if (n > 0) printf "every-program %.0f\n", t * 1e9 / n }' \
		"$WORK/sa" "$WORK/sb" | sort -k2 -n -r >"$WORK/bpf.split"
fi
errs=$(awk '/Socket errors/ { print }' "$WORK/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.out")
counted=$(($(metric "$WORK/a" http_requests_total 'service="web"') - $(metric "$WORK/b" http_requests_total 'service="web"')))
opened=$(($(metric "$WORK/a" fogprobe_tcp_connections_opened_total 'service="web",role="server"') -
	$(metric "$WORK/b" fogprobe_tcp_connections_opened_total 'service="web",role="server"')))
{
	echo "fogprobe churn bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  kernel $(uname -r)  $(nproc) CPUs  $(
		cd "$ROOT" && git describe --tags --always --dirty 2>/dev/null)"
	echo "wrk -t1 -c$CONNS -H 'Connection: close' -d${SECS}s over veth to nginx ($WORKERS worker, access log off)"
	printf '%-46s %s\n' "requests completed by wrk" "${n:-?}"
	printf '%-46s %s/s   (target 17,000/s for 300 s)\n' "connections (= requests) per second" "$rate"
	if [[ -n "$base_rate" ]]; then
		printf '%-46s %s/s   (%ss, no probe: what the machine reaches alone)\n' \
			"baseline connections per second" "$base_rate" "$BASE_SECS"
		printf '%-46s %s\n' "with the probe / baseline" "$ratio"
	fi
	printf '%-46s %s %%   (user + system, its threads, during wrk)\n' "daemon CPU, share of one core" "$cpu"
	printf '%-46s %s\n' "server connections the probe saw opened" "$opened"
	printf '%-46s %s   (target: all)\n' "requests counted by the probe" "$counted"
	[[ -n "$errs" ]] && printf '%-46s %s\n' "wrk socket errors" "${errs#*: }"
	[[ -n "$non2xx" ]] && printf '%-46s %s\n' "wrk non-2xx responses" "$non2xx"
	echo "  (wrk stops with up to -c requests in flight: nginx answers them and the probe counts them)"
	printf '%-46s %s\n' "events lost, by reason" "$(awk '/^fogprobe_events_lost_total\{/ {
		match($1, /reason="[^"]*"/); r = substr($1, RSTART + 8, RLENGTH - 9)
		if (FILENAME == ARGV[1]) b[r] = $2; else a[r] = $2 }
		END { for (r in a) if (a[r] - b[r] > 0) printf "%s %d  ", r, a[r] - b[r] }' "$WORK/b" "$WORK/a")"
	if [[ -n "$stats_n" ]]; then
		printf '%-46s %s\n' "with --bpf-stats (${STATS_SECS} s): connections/s" \
			"$(awk -v n="$stats_n" -v s="$STATS_SECS" 'BEGIN { printf "%.0f", n / s }')"
		awk '$1 == "every-program" { printf "  %-44s %6d ns per connection\n", "every program", $2; next }
			{ printf "  %-44s %6d ns per connection (%s runs, %d ns each)\n", $1, $2, $3, $4 }' \
			"$WORK/bpf.split"
	fi
	printf '%-46s %s\n' "daemon RSS, KiB every 10 s" "$(awk '{ printf "%s ", $2 }' "$WORK/rss")"
	printf '%-46s %s   (target: flat, <= 49152)\n' "daemon RSS max, KiB" \
		"$(awk '$2 > m { m = $2 } END { print m }' "$WORK/rss")"
	printf '%-46s %s\n' "daemon RSS growth after the first minute, KiB" \
		"$(awk '$1 == 60 { f = $2 } $1 != "end" { l = $2 } END { if (f) print l - f; else print "n/a" }' "$WORK/rss")"
	((ERRORS > 0)) && echo "ERRORS: $ERRORS"
} | tee "$REPORT"
. "$ROOT/tests/bench/summary.sh"
summary_row churn_rate "connection churn, wrk Connection: close for ${SECS} s: connections/s" \
	"$rate" "/s" ">=" 17000
[[ -n "$base_rate" ]] && summary_row churn_ratio "  connections/s with the probe / without (${BASE_SECS} s, no probe: $base_rate/s)" \
	"$ratio" "" ">=" 0.97
summary_row churn_cpu "  daemon CPU during the churn (user + system)" "$cpu" "% of a core" "" "" \
	"the BPF programs' time is the kernel's, in the served processes: the next row"
[[ -n "$stats_n" ]] && summary_row churn_bpf "  BPF time per connection, both ends (--bpf-stats, ${STATS_SECS} s)" \
	"$(awk '$1 == "every-program" { print $2 }' "$WORK/bpf.split")" "ns" "" "" \
	"$(awk '$1 != "every-program" && c++ < 6 { printf "%s%s %s", sep, $1, $2; sep = ", " }' "$WORK/bpf.split")"
summary_row churn_counted "  requests counted / wrk's" \
	"$(awk -v c="$counted" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.6f", c / n }')" "" ">=" 1 \
	"$counted of ${n:-?}; wrk stops with requests in flight, which nginx answers"
summary_row churn_rss "  daemon RSS max" "$(awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$WORK/rss")" \
	MiB "<=" 48
((ERRORS == 0))
