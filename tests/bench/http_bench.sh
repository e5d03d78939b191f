#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# HTTP overhead benchmark (DESIGN.md "Performance targets": wrk against nginx with L7
# tracing on >= 97 % of baseline RPS, same run; BPF time per HTTP request <= 300 ns).
# nginx (Debian, generated config, access log off, one worker) in one network namespace,
# wrk (one thread) in another, joined by veth. Rounds alternate without / with the daemon
# (an http service on nginx's port), the order flipping each round so that drift on a
# shared machine does not favour one side. With the daemon, its bpf_stats metrics give
# the BPF time of all its programs; divided by the requests wrk completed that is the BPF
# time per request (every program: packet path, lifecycle and L7 capture).
# Timing never fails: exit 0 unless something could not run. Report on stdout and in
# build/bench/http_report.txt. Root required; only netns traffic.
#
# Knobs (environment): HTTP_BENCH_ROUNDS (3), HTTP_BENCH_SECONDS (5), HTTP_BENCH_CONNS (8).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FOGPROBE=${FOGPROBE:-$ROOT/build/fogprobe}
OUT=$ROOT/build/bench
REPORT=$OUT/http_report.txt
ROUNDS=${HTTP_BENCH_ROUNDS:-3}
SECS=${HTTP_BENCH_SECONDS:-5}
CONNS=${HTTP_BENCH_CONNS:-8}
ID=$$
NS_SRV=fph-srv-$ID
NS_CLI=fph-cli-$ID
SRV_IP=10.216.$((ID % 200)).1
CLI_IP=10.216.$((ID % 200)).2
PORT=8080
METRICS_PORT=${METRICS_PORT:-$((19900 + ID % 90))}
HZ=$(getconf CLK_TCK)
L7_PROG_RE='^((enter|exit)_[a-z0-9]+|task_exit|sock_(send|recv)_(enter|exit))$' # the programs of bpf/l7.bpf.c

WORK=
DAEMON_PID=
CLEANUPS=()
ERRORS=0
on_exit() { CLEANUPS+=("$*"); }
cleanup() {
	local i
	if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
	fi
	stop_peer
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1
	done
	ip netns del "$NS_SRV" 2>/dev/null
	ip netns del "$NS_CLI" 2>/dev/null
	[[ -n "$WORK" ]] && rm -rf "$WORK"
}
. "$ROOT/tests/bench/peers.sh" # before the trap: cleanup stops a running peer
trap cleanup EXIT
trap 'echo "http_bench: interrupted" >&2; exit 130' INT TERM
say() { printf '%s\n' "$*" >&2; }
fail() {
	say "http_bench: ERROR: $*"
	ERRORS=$((ERRORS + 1))
}

if [[ $EUID -ne 0 ]]; then
	say "http_bench: needs root (network namespaces, BPF)"
	exit 1
fi
for tool in ip nginx wrk curl openssl; do
	command -v "$tool" >/dev/null || { say "http_bench: missing $tool (make deps)"; exit 1; }
done
[[ -x "$FOGPROBE" ]] || { say "http_bench: $FOGPROBE not built (make)"; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/fogprobe-httpbench.XXXXXX)
for _ in $(seq 1 50); do
	ss -ltnH "sport = :$METRICS_PORT" | grep -q . || break
	METRICS_PORT=$((METRICS_PORT + 1))
done
. "$ROOT/tests/integration/l7lib.sh"
. "$ROOT/tests/bench/summary.sh"

ip netns add "$NS_SRV" && ip netns add "$NS_CLI" &&
	ip link add "fphs$ID" type veth peer name "fphc$ID" &&
	ip link set "fphs$ID" netns "$NS_SRV" && ip link set "fphc$ID" netns "$NS_CLI" &&
	ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "fphs$ID" &&
	ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "fphc$ID" &&
	ip -n "$NS_SRV" link set "fphs$ID" up && ip -n "$NS_CLI" link set "fphc$ID" up &&
	ip -n "$NS_SRV" link set lo up && ip -n "$NS_CLI" link set lo up ||
	{ fail "network namespace setup failed"; exit 1; }

NGINX_ACCESS_LOG=off NGINX_WORKERS=1 start_nginx "$NS_SRV" "$SRV_IP" $PORT || {
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
		END { printf "%.9f\n", sum }' "$1"
}
median() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
. "$ROOT/tests/bench/proc.sh"

# One wrk run; prints "rps requests" (wrk's own summary) or nothing.
run_wrk() {
	ip netns exec "$NS_CLI" timeout $((SECS + 30)) wrk -t1 -c"$CONNS" -d"${SECS}s" \
		"http://$SRV_IP:$PORT/api/bench/1" >"$WORK/wrk.out" 2>&1 || return 1
	awk '/requests in/ { n = $1 } /^Requests\/sec:/ { r = $2 }
		END { if (n > 0) print r, n }' "$WORK/wrk.out"
}

baseline() { # ROUND
	local r
	r=$(run_wrk) && [[ -n "$r" ]] || { fail "baseline round $1: wrk failed"; return 1; }
	pgrep -x fogprobe | wc -l >>"$WORK/foreign"
	echo "${r% *}" >>"$WORK/base"
	say "  round $1 baseline: ${r% *} req/s"
}

# SIDE probe: the daemon as operators run it, for the RPS ratio; stats: with --bpf-stats,
# for the BPF time per request (and the RPS with the stats' own cost).
probe() { # ROUND SIDE
	local r i c0 c1 t0 t1 n stats=
	[[ $2 == stats ]] && stats=--bpf-stats
	"$FOGPROBE" $stats --config "$WORK/config.json" --listen "127.0.0.1:$METRICS_PORT" >"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 1 100); do
		curl -sf -m 1 "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1 && break
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! curl -sf -m 1 "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1; then
		fail "daemon did not become ready: $(tail -n 3 "$WORK/daemon.log")"
		return 1
	fi
	scrape >"$WORK/b"
	c0=$(proc_cpu "$DAEMON_PID")
	t0=$(date +%s.%N)
	r=$(run_wrk)
	t1=$(date +%s.%N)
	c1=$(proc_cpu "$DAEMON_PID")
	sleep 0.5 # the ring drained, the parser caught up
	scrape >"$WORK/a"
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || fail "daemon exit status $? after SIGTERM"
	DAEMON_PID=
	[[ -n "$r" ]] || { fail "$2 round $1: wrk failed"; return 1; }
	n=${r#* }
	echo "${r% *}" >>"$WORK/$2"
	awk -v a="$(metric "$WORK/a" http_requests_total 'service="web"')" \
		-v b="$(metric "$WORK/b" http_requests_total 'service="web"')" -v n="$n" \
		'BEGIN { printf "%.0f %d\n", a - b, n }' >>"$WORK/counted"
	awk -v a="$(metric "$WORK/a" fogprobe_events_lost_total)" \
		-v b="$(metric "$WORK/b" fogprobe_events_lost_total)" 'BEGIN { printf "%.0f\n", a - b }' >>"$WORK/lost"
	if [[ $2 == probe ]]; then
		awk -v c="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" \
			'BEGIN { printf "%.2f\n", c / hz / (t1 - t0) * 100 }' >>"$WORK/cpu"
		# the daemon's CPU time per request wrk completed (its user + system)
		awk -v c="$((c1 - c0))" -v hz="$HZ" -v n="$n" \
			'BEGIN { printf "%.0f\n", c / hz / n * 1e9 }' >>"$WORK/cpu_ns"
		say "  round $1 probe:    ${r% *} req/s, probe counted $(tail -n 1 "$WORK/counted" | awk '{ print $1 " of " $2 }')"
		return 0
	fi
	# every program's BPF time, and the L7 capture's alone, per request wrk completed
	awk -v n="$n" -v re="$L7_PROG_RE" '
		function prog(s) { match(s, /program="[^"]*"/); return substr(s, RSTART + 9, RLENGTH - 10) }
		/^fogprobe_bpf_program_run_seconds_total\{/ {
			p = prog($1); if (FILENAME == ARGV[1]) s0[p] = $2; else s1[p] = $2 }
		END { for (p in s1) { d = s1[p] - s0[p]; all += d; if (p ~ re) l7 += d }
		      printf "%.1f %.1f\n", all * 1e9 / n, l7 * 1e9 / n }' "$WORK/b" "$WORK/a" >>"$WORK/ns"
	# per program: ns per request, runs per request
	awk -v n="$n" '
		function prog(s) { match(s, /program="[^"]*"/); return substr(s, RSTART + 9, RLENGTH - 10) }
		/^fogprobe_bpf_program_run_seconds_total\{/ {
			p = prog($1); if (FILENAME == ARGV[1]) s0[p] = $2; else s1[p] = $2 }
		/^fogprobe_bpf_program_runs_total\{/ {
			p = prog($1); if (FILENAME == ARGV[1]) r0[p] = $2; else r1[p] = $2 }
		END { for (p in s1) if (r1[p] > r0[p])
			printf "%s %.1f %.2f\n", p, (s1[p] - s0[p]) * 1e9 / n, (r1[p] - r0[p]) / n }' \
		"$WORK/b" "$WORK/a" >>"$WORK/progs"
	say "  round $1 --bpf-stats: ${r% *} req/s, BPF $(tail -n 1 "$WORK/ns" | awk '{ print $1 }') ns/request," \
		"probe counted $(tail -n 1 "$WORK/counted" | awk '{ print $1 " of " $2 }')"
}

# A peer doing the L7 capture's work on the syscall tracepoints for nginx
# (peer_syscalls.bt: bytes per socket, payload prefixes).
peer() { # ROUND
	local r
	command -v bpftrace >/dev/null || return 0
	start_peer "$WORK/peer" bpftrace "$ROOT/tests/bench/peer_syscalls.bt" nginx ||
		{ fail "bpftrace peer did not start: $(cat "$WORK/peer.skip")"; return 1; }
	r=$(run_wrk)
	stop_peer
	[[ -n "$r" ]] || { fail "peer round $1: wrk failed"; return 1; }
	echo "${r% *}" >>"$WORK/peer"
	# the peer saw nginx's sockets: its byte sums are not empty
	grep -q '^@bytes\[' "$WORK/peer.out" || fail "peer round $1: bpftrace counted no bytes"
	say "  round $1 bpftrace: ${r% *} req/s"
}

say "http_bench: nginx $SRV_IP:$PORT ($NS_SRV) <- wrk -t1 -c$CONNS ($NS_CLI), $ROUNDS rounds x ${SECS}s"
run_wrk >/dev/null || fail "warm-up wrk failed" # warm-up, discarded
for ((i = 1; i <= ROUNDS; i++)); do
	if ((i % 2)); then
		baseline "$i"
		probe "$i" probe
		probe "$i" stats
		peer "$i"
	else
		peer "$i"
		probe "$i" stats
		probe "$i" probe
		baseline "$i"
	fi
done

b=$(median <"$WORK/base" 2>/dev/null)
p=$(median <"$WORK/probe" 2>/dev/null)
st=$(median <"$WORK/stats" 2>/dev/null)
pe=$(median <"$WORK/peer" 2>/dev/null)
ratio() { awk -v b="$1" -v p="$2" 'BEGIN { if (b > 0 && p > 0) printf "%.4f", p / b; else print "nan" }'; }
{
	echo "fogprobe http bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  kernel $(uname -r)  $(nproc) CPUs  $(
		cd "$ROOT" && git describe --tags --always --dirty 2>/dev/null)"
	echo "wrk -t1 -c$CONNS -d${SECS}s over veth to nginx (1 worker, access log off), $ROUNDS alternating rounds"
	printf '%-46s %s\n' "RPS baseline (median)" "$b"
	printf '%-46s %s\n' "RPS with the probe (median)" "$p"
	printf '%-46s %s   (target >= 0.97)\n' "RPS ratio probe/baseline" "$(ratio "$b" "$p")"
	printf '%-46s %s\n' "  per-round ratios" "$(paste -d' ' "$WORK/base" "$WORK/probe" 2>/dev/null |
		awk '$1 > 0 { printf "%.4f ", $2 / $1 }')"
	printf '%-46s %s\n' "RPS ratio probe --bpf-stats/baseline" "$(ratio "$b" "$st")"
	printf '%-46s %s\n' "RPS ratio bpftrace peer/baseline" "$(ratio "$b" "$pe")"
	printf '%-46s %s ns   (target <= 300)\n' "BPF time per request, all programs (median)" \
		"$(awk '{ print $1 }' "$WORK/ns" 2>/dev/null | median)"
	printf '%-46s %s ns\n' "  of which the L7 capture programs" "$(awk '{ print $2 }' "$WORK/ns" 2>/dev/null | median)"
	echo "  per program (median over rounds): ns per request, runs per request"
	for prog in $(awk '{ print $1 }' "$WORK/progs" 2>/dev/null | sort -u); do
		printf '    %-42s %8.1f ns %6.2f runs\n' "$prog" \
			"$(awk -v p="$prog" '$1 == p { print $2 }' "$WORK/progs" | median)" \
			"$(awk -v p="$prog" '$1 == p { print $3 }' "$WORK/progs" | median)"
	done | sort -k2 -g -r | head -n 12
	printf '%-46s %s\n' "requests counted by the probe / by wrk" \
		"$(awk '{ a += $1; b += $2 } END { print a " / " b }' "$WORK/counted" 2>/dev/null)"
	echo "  (wrk stops with up to -c requests in flight: nginx answers them and the probe counts them)"
	printf '%-46s %s\n' "events lost (sum)" "$(awk '{ s += $1 } END { print s + 0 }' "$WORK/lost" 2>/dev/null)"
	printf '%-46s %s %% of a core   (target <= 5 at 10k req/s)\n' "daemon CPU (median)" \
		"$(median <"$WORK/cpu" 2>/dev/null)"
	printf '%-46s %s ns\n' "  per request wrk completed (median)" "$(median <"$WORK/cpu_ns" 2>/dev/null)"
	printf '%-46s %s\n' "other fogprobe processes during baselines" \
		"$(sort -g "$WORK/foreign" 2>/dev/null | tail -n 1) (they attach to every task's syscalls too)"
	printf '%-46s %s\n' "[runs] baseline" "$(tr '\n' ' ' <"$WORK/base" 2>/dev/null)"
	printf '%-46s %s\n' "[runs] probe" "$(tr '\n' ' ' <"$WORK/probe" 2>/dev/null)"
	printf '%-46s %s\n' "[runs] probe --bpf-stats" "$(tr '\n' ' ' <"$WORK/stats" 2>/dev/null)"
	printf '%-46s %s\n' "[runs] bpftrace peer" "$(tr '\n' ' ' <"$WORK/peer" 2>/dev/null)"
	((ERRORS > 0)) && echo "ERRORS: $ERRORS"
} | tee "$REPORT"
summary_row wrk_rps "wrk against nginx, L7 on: probe/baseline" "$(ratio "$b" "$p")" "" ">=" 0.97
summary_row wrk_bpf_ns "  BPF time per request, every program (--bpf-stats)" \
	"$(awk '{ print $1 }' "$WORK/ns" 2>/dev/null | median)" ns "<=" 500 "aim 300"
summary_row wrk_daemon_ns "  the daemon's CPU time per request (user + system)" \
	"$(median <"$WORK/cpu_ns" 2>/dev/null)" ns "" ""
summary_row wrk_rps_stats "  the same with --bpf-stats" "$(ratio "$b" "$st")" "" "" ""
summary_row wrk_rps_bpftrace "  peer: bpftrace, bytes and payload prefixes of nginx on the syscall tracepoints" \
	"$(ratio "$b" "$pe")" "" "" "" "$(command -v bpftrace >/dev/null || echo "bpftrace not installed")"
((ERRORS == 0))
