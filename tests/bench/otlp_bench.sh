#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Cost of spans (issue "Traces"; DESIGN.md "Performance targets": daemon CPU <= 5 % of a
# core at 10k HTTP requests/s). nginx (one worker, access log off) in one network
# namespace, hey at a fixed rate (-q per connection) in another; the daemon watches nginx
# with spans off, with spans at 100 % and at 10 % (tests/workloads/otlp_receiver.js on
# loopback receives them), rounds in a rotating order. Per run: the daemon's CPU (utime +
# stime over the run's wall time, % of one core), its largest RSS, the requests hey
# completed and the spans exported (the receiver answers without decoding: its CPU is
# not the daemon's). CPU is also given per 10k requests/s, for runs that fell short of the
# rate on a busy machine. Timing never fails: exit 0 unless something
# could not run. Report on stdout and in build/bench/otlp_report.txt.
#
# Knobs: OTLP_BENCH_ROUNDS (3), OTLP_BENCH_SECONDS (10), OTLP_BENCH_RATE (10000 req/s),
# OTLP_BENCH_CONNS (20).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FOGPROBE=${FOGPROBE:-$ROOT/build/fogprobe}
OUT=$ROOT/build/bench
REPORT=$OUT/otlp_report.txt
ROUNDS=${OTLP_BENCH_ROUNDS:-3}
SECS=${OTLP_BENCH_SECONDS:-10}
RATE=${OTLP_BENCH_RATE:-10000}
CONNS=${OTLP_BENCH_CONNS:-20}
ID=$$
NS_SRV=fpob-srv-$ID
NS_CLI=fpob-cli-$ID
SRV_IP=10.217.$((ID % 200)).1
CLI_IP=10.217.$((ID % 200)).2
PORT=8080
METRICS_PORT=${METRICS_PORT:-19440}
OTLP_PORT=19441
CTL_PORT=19442
HZ=$(getconf CLK_TCK)

WORK=
DAEMON_PID=
RECEIVER_PID=
CLEANUPS=()
ERRORS=0
on_exit() { CLEANUPS+=("$*"); }
cleanup() {
	local i
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
say() { printf '%s\n' "$*" >&2; }
fail() {
	say "otlp_bench: ERROR: $*"
	ERRORS=$((ERRORS + 1))
}

[[ $EUID -eq 0 ]] || { say "otlp_bench: needs root"; exit 1; }
for tool in ip nginx hey curl node; do
	command -v "$tool" >/dev/null || { say "otlp_bench: missing $tool (make deps)"; exit 1; }
done
[[ -x "$FOGPROBE" ]] || { say "otlp_bench: $FOGPROBE not built (make)"; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/fogprobe-otlpbench.XXXXXX)
. "$ROOT/tests/integration/l7lib.sh"

ip netns add "$NS_SRV" && ip netns add "$NS_CLI" &&
	ip link add "fpobs$ID" type veth peer name "fpobc$ID" &&
	ip link set "fpobs$ID" netns "$NS_SRV" && ip link set "fpobc$ID" netns "$NS_CLI" &&
	ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "fpobs$ID" &&
	ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "fpobc$ID" &&
	ip -n "$NS_SRV" link set "fpobs$ID" up && ip -n "$NS_CLI" link set "fpobc$ID" up &&
	ip -n "$NS_SRV" link set lo up && ip -n "$NS_CLI" link set lo up ||
	{ fail "network namespace setup failed"; exit 1; }
NGINX_ACCESS_LOG=off NGINX_WORKERS=1 start_nginx "$NS_SRV" "$SRV_IP" $PORT || {
	fail "nginx did not start"
	exit 1
}
node "$ROOT/tests/workloads/otlp_receiver.js" $OTLP_PORT $CTL_PORT --discard >"$WORK/receiver.out" 2>&1 &
RECEIVER_PID=$!
on_exit "stop_pid $RECEIVER_PID"
for _ in $(seq 1 100); do grep -q '^ready' "$WORK/receiver.out" && break; sleep 0.1; done
grep -q '^ready' "$WORK/receiver.out" || {
	fail "the OTLP receiver did not start: $(tail -n 3 "$WORK/receiver.out")"
	exit 1
}

config() { # off | RATIO
	if [[ $1 == off ]]; then
		echo '{"services": [{"name": "web", "protocol": "http", "ports": ['$PORT']}]}'
	else
		echo '{"services": [{"name": "web", "protocol": "http", "ports": ['$PORT']}],
		  "otlp": {"endpoint": "http://127.0.0.1:'$OTLP_PORT'", "sample_ratio": '$1',
			   "queue_spans": 8192, "batch_spans": 2048, "batch_delay_ms": 200}}'
	fi
}
# spans the collector accepted, by the daemon's own count (the receiver discards them)
exported() { curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" |
	awk '$1 == "fogprobe_otlp_spans_exported_total" { n = $2 } END { printf "%.0f\n", n }'; }
. "$ROOT/tests/bench/proc.sh"

run() { # MODE
	local mode=$1 i c0 c1 t0 t1 n0 n1 done rss=0 r hp
	config "$mode" >"$WORK/config.json"
	"$FOGPROBE" --config "$WORK/config.json" --listen "127.0.0.1:$METRICS_PORT" --events none \
		>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 1 100); do
		curl -sf -m 1 "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	# a daemon that could not start (its port taken) leaves another's answers here
	kill -0 "$DAEMON_PID" 2>/dev/null || {
		fail "the daemon ($mode) exited: $(tail -n 3 "$WORK/daemon.log")"
		DAEMON_PID=
		return
	}
	n0=$(exported)
	c0=$(proc_cpu "$DAEMON_PID")
	t0=$(date +%s.%N)
	ip netns exec "$NS_CLI" hey -z "${SECS}s" -c "$CONNS" -q $((RATE / CONNS)) \
		"http://$SRV_IP:$PORT/api/bench/1" >"$WORK/hey.out" 2>&1 &
	hp=$!
	while kill -0 $hp 2>/dev/null; do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
		((r > rss)) && rss=$r
		sleep 0.5
	done
	wait $hp
	t1=$(date +%s.%N)
	c1=$(proc_cpu "$DAEMON_PID")
	sleep 2.5 # the last batch leaves
	n1=$(exported)
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	DAEMON_PID=
	done=$(awk '/\[200\]/ { print $2 }' "$WORK/hey.out")
	awk -v c="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" -v m="$mode" -v rss="$rss" \
		-v n="${done:-0}" -v s="$((n1 - n0))" \
		'BEGIN { printf "%s %.2f %d %.0f %d %d\n", m, c / hz / (t1 - t0) * 100, rss, n / (t1 - t0), n, s }' \
		>>"$WORK/runs"
	[[ $mode == off ]] || ((n1 > n0)) || fail "no span exported at sample_ratio $mode"
	say "  $(tail -n 1 "$WORK/runs" | awk '{ printf "%-4s CPU %s %%, RSS %s KiB, %s req/s, %s requests, %s spans", $1, $2, $3, $4, $5, $6 }')"
}

say "otlp_bench: hey -c$CONNS at $RATE req/s for ${SECS}s against nginx; spans off, 1, 0.1; $ROUNDS rounds"
ip netns exec "$NS_CLI" hey -z 2s -c "$CONNS" "http://$SRV_IP:$PORT/" >/dev/null 2>&1 # warm-up
modes=(off 1 0.1)
for ((i = 0; i < ROUNDS; i++)); do
	for ((k = 0; k < 3; k++)); do
		run "${modes[(i + k) % 3]}"
	done
done

median() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
col() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$WORK/runs" | median; }
{
	echo "fogprobe otlp bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  kernel $(uname -r)  $(nproc) CPUs  $(
		cd "$ROOT" && git describe --tags --always --dirty 2>/dev/null)"
	echo "hey -c$CONNS at $RATE req/s for ${SECS}s to nginx over veth; the daemon watching it; medians of $ROUNDS rounds"
	printf '%-20s %11s %15s %10s %8s %14s\n' "spans" "CPU % core" "CPU %/10k req/s" "RSS KiB" \
		"req/s" "spans/request"
	for m in off 1 0.1; do
		printf '%-20s %11s %15s %10s %8s %14s\n' "$([[ $m == off ]] && echo off || echo "sample_ratio $m")" \
			"$(col $m 2)" \
			"$(awk -v m="$m" '$1 == m && $4 > 0 { printf "%.2f\n", $2 * 10000 / $4 }' "$WORK/runs" | median)" \
			"$(col $m 3)" "$(col $m 4)" \
			"$(awk -v m="$m" '$1 == m && $5 > 0 { printf "%.3f\n", $6 / $5 }' "$WORK/runs" | median)"
	done
	printf '%-46s %s %% of a core   (target <= 5)\n' "spans at 100 %: CPU over spans off" \
		"$(awk -v a="$(col 1 2)" -v b="$(col off 2)" 'BEGIN { printf "%.2f", a - b }')"
	printf '%-46s %s %% of a core\n' "spans at 10 %: CPU over spans off" \
		"$(awk -v a="$(col 0.1 2)" -v b="$(col off 2)" 'BEGIN { printf "%.2f", a - b }')"
	echo "[runs] mode cpu% rssKiB req/s requests spans"
	cat "$WORK/runs"
	((ERRORS > 0)) && echo "ERRORS: $ERRORS"
} | tee "$REPORT"
. "$ROOT/tests/bench/summary.sh"
summary_row spans_100 "spans at 100 %, hey at 10k req/s: daemon CPU over spans off" \
	"$(awk -v a="$(col 1 2)" -v b="$(col off 2)" 'BEGIN { printf "%.2f", a - b }')" "% of a core" "<=" 5
summary_row spans_10 "  spans at 10 %" \
	"$(awk -v a="$(col 0.1 2)" -v b="$(col off 2)" 'BEGIN { printf "%.2f", a - b }')" "% of a core" "<=" 5
((ERRORS == 0))
