#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# fogprobe overhead benchmark (DESIGN.md "Performance targets"), all measured in one run:
#   1. iperf3 over veth between two netns, baseline and with the probe, alternating
#      (default hooks, then --disable-hooks tp_btf with fewer pairs)
#   2. per-program BPF ns/event and events/s from the daemon's own bpf_stats metrics
#   3. short-connection rate with and without the probe; handle_set_state ns/event
#   4. L7 capture: a pipelined Betanet workload (tests/workloads/betanet.py) with and
#      without the probe, alternating; ns/event of the capture's programs
#      (bpf/l7.bpf.c: socket hooks by default); and the cost of the daemon on unrelated
#      read/write traffic, next to empty programs on the default chain's BTF
#      tracepoints and on the syscall tracepoints of the capture's fallback
#      (tests/bench/null_hooks.bpf.c, null_tp.bpf.c, tp_floor.c)
#   5. daemon VmRSS/VmHWM after load (VmRSS also with each page counted once: a ring
#      buffer's pages are mapped twice); daemon CPU% during the runs
#   6. /metrics scrape time (default config), a synthetic 10k-series render benchmark and
#      HTTP exchanges replayed through the daemon's parser and metrics (bench_parse.c)
#   7. a report table (also written to build/bench/report.txt)
# Also recorded: the bpf_stats floor (an empty cgroup_skb program, tests/bench/null.bpf.c,
# in a cgroup of the bench's own) and whether other BPF programs or fogprobe daemons were
# attached during the baselines (a shared machine makes the baseline run them too).
# Timing never fails the build: exit 0 unless something crashed or could not run.
# Only netns/loopback traffic; everything created is removed on exit. Root required.
#
# Knobs (environment): BENCH_PAIRS (5), BENCH_SECONDS (4), BENCH_FALLBACK_PAIRS (3),
# BENCH_CONN_PAIRS (3), BENCH_CONN_SECONDS (4), BENCH_SCRAPES (20), BENCH_RENDER_ROUNDS (20),
# BENCH_L7_PAIRS (3), BENCH_L7_CONNECTIONS (4), BENCH_L7_DATA (8000 data frames per
# connection), BENCH_L7_CAPTURE (daemon default), BENCH_L7_CAPTURE_ALT (16384: one more
# probe run with this --capture-bytes; 0 skips it), BENCH_UNREL_PAIRS (3),
# BENCH_UNREL_DD (1000000 64-byte dd records), BENCH_UNREL_PINGPONG (200000 round trips).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FOGPROBE=${FOGPROBE:-$ROOT/build/fogprobe}
OUT=$ROOT/build/bench
REPORT=$OUT/report.txt

PAIRS=${BENCH_PAIRS:-5}
SECS=${BENCH_SECONDS:-4}
FB_PAIRS=${BENCH_FALLBACK_PAIRS:-3}
CONN_PAIRS=${BENCH_CONN_PAIRS:-3}
CONN_SECS=${BENCH_CONN_SECONDS:-4}
SCRAPES=${BENCH_SCRAPES:-20}
RENDER_ROUNDS=${BENCH_RENDER_ROUNDS:-20}
L7_PAIRS=${BENCH_L7_PAIRS:-3}
L7_CONNS=${BENCH_L7_CONNECTIONS:-4}
L7_DATA=${BENCH_L7_DATA:-8000}
L7_CAPTURE=${BENCH_L7_CAPTURE:-}
L7_CAPTURE_ALT=${BENCH_L7_CAPTURE_ALT:-16384}
UNREL_PAIRS=${BENCH_UNREL_PAIRS:-3}
UNREL_DD=${BENCH_UNREL_DD:-1000000}
UNREL_PP=${BENCH_UNREL_PINGPONG:-200000}
CAL_SECS=2

ID=$$
NS_SRV=fpb-srv-$ID
NS_CLI=fpb-cli-$ID
VETH_SRV=fpbs$ID
VETH_CLI=fpbc$ID
SRV_IP=10.214.$((ID % 200)).1
CLI_IP=10.214.$((ID % 200)).2
IPERF_PORT=5201
CONN_PORT=5202
L7_PORT=5203
L7_OTHER_PORT=5204 # the betanet service of the unrelated-traffic runs: nobody uses it
BETANET=$ROOT/tests/workloads/betanet.py
METRICS_PORT=${METRICS_PORT:-$((19500 + ID % 400))}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
HZ=$(getconf CLK_TCK)
PACKET_PATH_RE='^(count_egress|count_ingress|handle_tcp_probe.*|handle_kfree_skb.*)$'
# the programs of bpf/l7.bpf.c, whichever way in it took
L7_PROG_RE='^((enter|exit)_[a-z0-9]+|task_exit|sock_(send|recv)_(enter|exit))$'

WORK=
DAEMON_PID=
BG_PIDS=()
CLEANUPS=() # shell commands, run last-first on exit
ERRORS=0
ROWS=()
START=$(date +%s)

cleanup() {
	local p i
	if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for i in $(seq 1 50); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	for p in "${BG_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	stop_peer
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1
	done
	ip netns del "$NS_SRV" 2>/dev/null
	ip netns del "$NS_CLI" 2>/dev/null
	ip link del "$VETH_SRV" 2>/dev/null
	[[ -n "$WORK" ]] && rm -rf "$WORK"
}
. "$ROOT/tests/bench/peers.sh" # before the trap: cleanup stops a running peer
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
fail() {
	say "bench: ERROR: $*"
	ERRORS=$((ERRORS + 1))
}

# ---- preconditions ----------------------------------------------------------------------

if [[ $EUID -ne 0 ]]; then
	say "bench: needs root (network namespaces, BPF)"
	exit 1
fi
for tool in ip iperf3 curl gcc "$PY"; do
	command -v "$tool" >/dev/null || { say "bench: missing $tool (make deps)"; exit 1; }
done
[[ -x "$FOGPROBE" ]] || { say "bench: $FOGPROBE not built (make)"; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/fogprobe-bench.XXXXXX)
. "$ROOT/tests/bench/summary.sh"
: >"$OUT/summary.tsv"

# A metrics port nobody listens on.
for _ in $(seq 1 50); do
	ss -ltnH "sport = :$METRICS_PORT" | grep -q . || break
	METRICS_PORT=$((METRICS_PORT + 1))
done

# ---- helpers ----------------------------------------------------------------------------

ns_srv() { ip netns exec "$NS_SRV" "$@"; }
ns_cli() { ip netns exec "$NS_CLI" "$@"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\\n\", $2 }"; }

setup_netns() {
	ip netns add "$NS_SRV" && ip netns add "$NS_CLI" &&
		ip link add "$VETH_SRV" type veth peer name "$VETH_CLI" &&
		ip link set "$VETH_SRV" netns "$NS_SRV" &&
		ip link set "$VETH_CLI" netns "$NS_CLI" &&
		ns_srv ip addr add "$SRV_IP/24" dev "$VETH_SRV" &&
		ns_cli ip addr add "$CLI_IP/24" dev "$VETH_CLI" &&
		ns_srv ip link set "$VETH_SRV" up &&
		ns_cli ip link set "$VETH_CLI" up &&
		ns_srv ip link set lo up &&
		ns_cli ip link set lo up || return 1
	# Tens of thousands of short connections to one destination: room for them in
	# TIME_WAIT (both sysctls are per netns).
	ns_cli sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	ns_cli sysctl -qw net.ipv4.tcp_tw_reuse=1
	return 0
}

wait_port() { # NS PORT
	local i
	for i in $(seq 1 50); do
		ip netns exec "$1" ss -ltnH "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# The daemon as operators run it, or with PROBE_STATS=1 with --bpf-stats, for the
# programs' ns/event: the ratios come from the first, the ns from one more run of the
# second per section, whose throughput goes to <label>.stats instead of <label>.probe.
stats_side() { [[ ${PROBE_STATS:-0} == 1 ]] && echo stats || echo probe; }
start_probe() { # fogprobe args (without --listen)
	local i stats=
	[[ ${PROBE_STATS:-0} == 1 ]] && stats=--bpf-stats
	"$FOGPROBE" $stats "$@" --listen "127.0.0.1:$METRICS_PORT" >"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 1 100); do
		if curl -sf -m 1 "http://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "daemon ($*) did not become ready"
	tail -n 20 "$WORK/daemon.log" | sed 's/^/  | /' >&2
	stop_probe
	return 1
}

# Stops the daemon; a daemon that died on its own, ignored SIGTERM or exited non-zero is
# an error (its log is kept in build/bench/daemon-failed.log).
stop_probe() {
	local i rc bad=0
	[[ -n "$DAEMON_PID" ]] || return 0
	if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		wait "$DAEMON_PID"
		fail "daemon exited on its own (status $?)"
		bad=1
	else
		kill -TERM "$DAEMON_PID"
		for i in $(seq 1 50); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$DAEMON_PID" 2>/dev/null; then
			fail "daemon still running 5 s after SIGTERM"
			kill -KILL "$DAEMON_PID"
			bad=1
		fi
		wait "$DAEMON_PID"
		rc=$?
		if [[ $bad -eq 0 && $rc -ne 0 ]]; then
			fail "daemon exit status $rc after SIGTERM"
			bad=1
		fi
	fi
	DAEMON_PID=
	grep -iE ' (warn|error) ' "$WORK/daemon.log" >>"$WORK/daemon-warnings" 2>/dev/null
	if [[ $bad -ne 0 ]]; then
		cp "$WORK/daemon.log" "$OUT/daemon-failed.log"
		tail -n 20 "$WORK/daemon.log" | sed 's/^/  | /' >&2
	fi
	return $bad
}

scrape() { curl -sf -m 5 "http://127.0.0.1:$METRICS_PORT/metrics"; }

. "$ROOT/tests/bench/proc.sh"
proc_status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # kB

# metric FILE NAME 'k="v",k="v"' -> sum of matching samples (0 when none)
metric() {
	awk -v name="$2" -v want="${3:-}" '
		BEGIN { n = split(want, w, ",") }
		/^#/ { next }
		{
			s = $1; base = s; labels = ""
			i = index(s, "{")
			if (i) { base = substr(s, 1, i - 1); labels = substr(s, i) }
			if (base != name) next
			ok = 1
			for (j = 1; j <= n; j++) if (index(labels, w[j]) == 0) ok = 0
			if (ok) sum += $2
		}
		END { printf "%.0f\n", sum }' "$1"
}

# prog_deltas BEFORE AFTER WALL_SECONDS -> "program ns_per_event events_per_s seconds runs"
# for every program that ran between the two scrapes.
prog_deltas() {
	awk -v wall="$3" '
		function prog(s) { match(s, /program="[^"]*"/); return substr(s, RSTART + 9, RLENGTH - 10) }
		/^fogprobe_bpf_program_run_seconds_total\{/ {
			p = prog($1); if (FILENAME == ARGV[1]) s0[p] = $2; else s1[p] = $2; next }
		/^fogprobe_bpf_program_runs_total\{/ {
			p = prog($1); if (FILENAME == ARGV[1]) r0[p] = $2; else { r1[p] = $2; seen[p] = 1 } }
		END {
			for (p in seen) {
				dr = r1[p] - r0[p]; ds = s1[p] - s0[p]
				if (dr > 0) printf "%s %.1f %.1f %.9f %d\n", p, ds * 1e9 / dr, dr / wall, ds, dr
			}
		}' "$1" "$2"
}

# median of the numbers on stdin ("nan" when none)
median() {
	sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
maxof() { sort -g | tail -n 1; }
col() { awk -v c="$1" '{ print $c }' "$2" 2>/dev/null; }

# row MEASURE VALUE_TEXT [NUM OP TARGET TARGET_TEXT]: one line of the report table.
row() {
	local verdict=info tgt=-
	if [[ $# -ge 6 ]]; then
		tgt=$6
		if [[ -z "$4" ]]; then
			verdict=info # target shown for reference only
		elif [[ -z "$3" || "$3" == nan ]]; then
			verdict=n/a
		elif awk -v v="$3" -v t="$5" -v op="$4" 'BEGIN {
				exit !((op == "<=" && v <= t) || (op == ">=" && v >= t) || (op == "==" && v == t)) }'; then
			verdict=PASS
		else
			verdict=MISS
		fi
	fi
	ROWS+=("$(printf '%-50s %-24s %-12s %s' "$1" "$2" "$tgt" "$verdict")")
}
section() { ROWS+=("" "[$1]"); }

# iperf3 client run; prints "bits_per_second bytes_received" or nothing on failure.
run_iperf() { # SECONDS JSON_OUT
	ns_cli timeout $(($1 + 20)) iperf3 -c "$SRV_IP" -p "$IPERF_PORT" -t "$1" -J >"$2" 2>/dev/null
	"$PY" -c 'import json, sys
e = json.load(open(sys.argv[1]))["end"]["sum_received"]
print("%.0f %d" % (e["bits_per_second"], e["bytes"]))' "$2" 2>/dev/null
}

# ---- measurement runs -------------------------------------------------------------------

CONFIG=$WORK/config.json
cat >"$CONFIG" <<EOF
{"services": [
  {"name": "bench", "protocol": "tcp", "ports": [$IPERF_PORT]},
  {"name": "connrate", "protocol": "tcp", "ports": [$CONN_PORT]}]}
EOF

# Appends to $WORK/<label>.* files: base (bps), probe (bps), progs, cpu, bpfcpu, rss, hwm,
# counted (probe bytes / iperf3 bytes).
# BPF programs attached to the cgroup v2 root that are not ours (another fogprobe, another
# tool): they make the baseline run something too. Recorded before every baseline run.
foreign_progs() {
	local cg2
	cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[[ -n "$cg2" ]] && command -v bpftool >/dev/null || return 0
	bpftool cgroup show "$cg2" 2>/dev/null | awk 'NR > 1 && NF { n++ } END { print n + 0 }' \
		>>"$WORK/foreign"
	pgrep -x fogprobe 2>/dev/null | grep -vx "${DAEMON_PID:-0}" | wc -l >>"$WORK/foreign.daemons"
}

iperf_baseline() { # LABEL RUN
	local r
	foreign_progs
	r=$(run_iperf "$SECS" "$WORK/$1.base.$2.json")
	if [[ -z "$r" ]]; then
		fail "iperf3 baseline run $1/$2 failed"
		return 1
	fi
	echo "${r%% *}" >>"$WORK/$1.base"
}

iperf_probe() { # LABEL RUN [fogprobe args...]
	local label=$1 run=$2 r t0 t1 c0 c1 wall rx0 rx1
	shift 2
	start_probe --config "$CONFIG" "$@" || return 1
	scrape >"$WORK/b" || fail "scrape before $label/$run failed"
	rx0=$(metric "$WORK/b" fogprobe_tcp_bytes_total 'service="bench",role="server",direction="rx"')
	c0=$(proc_cpu "$DAEMON_PID")
	t0=$(now)
	r=$(run_iperf "$SECS" "$WORK/$label.probe.$run.json")
	t1=$(now)
	c1=$(proc_cpu "$DAEMON_PID" 2>/dev/null || echo "$c0")
	sleep 0.2 # let the byte counters settle (read at scrape time)
	scrape >"$WORK/a" || fail "scrape after $label/$run failed"
	proc_status "$DAEMON_PID" VmRSS >>"$WORK/$label.rss"
	proc_rss_once "$DAEMON_PID" >>"$WORK/$label.rss1"
	proc_status "$DAEMON_PID" VmHWM >>"$WORK/$label.hwm"
	stop_probe
	if [[ -z "$r" ]]; then
		fail "iperf3 probe run $label/$run failed"
		return 1
	fi
	wall=$(calc %.6f "$t1 - $t0")
	echo "${r%% *}" >>"$WORK/$label.$(stats_side)"
	[[ $(stats_side) == stats ]] && prog_deltas "$WORK/b" "$WORK/a" "$wall" | tee -a "$WORK/$label.progs" |
		awk -v w="$wall" '{ s += $4 } END { printf "%.3f\n", s / w * 100 }' >>"$WORK/$label.bpfcpu"
	calc %.3f "($c1 - $c0) / $HZ / $wall * 100" >>"$WORK/$label.cpu"
	rx1=$(metric "$WORK/a" fogprobe_tcp_bytes_total 'service="bench",role="server",direction="rx"')
	calc %.4f "($rx1 - $rx0) / ${r##* }" >>"$WORK/$label.counted"
}

iperf_pairs() { # LABEL PAIRS [fogprobe args...]
	local label=$1 n=$2 i
	shift 2
	for ((i = 1; i <= n; i++)); do
		# Alternate the order (AB BA AB ...) so drift cancels.
		if ((i % 2)); then
			iperf_baseline "$label" "$i"
			iperf_probe "$label" "$i" "$@"
		else
			iperf_probe "$label" "$i" "$@"
			iperf_baseline "$label" "$i"
		fi
		say "  pair $i: baseline $(tail -n 1 "$WORK/$label.base" 2>/dev/null) probe $(tail -n 1 "$WORK/$label.probe" 2>/dev/null) bit/s"
	done
	PROBE_STATS=1 iperf_probe "$label" stats "$@"
	say "  with --bpf-stats: $(tail -n 1 "$WORK/$label.stats" 2>/dev/null) bit/s"
}

conn_client() { # OUT_FILE -> "conns=N errors=N seconds=S rate=R"
	ns_cli timeout $((CONN_SECS + 20)) "$PY" "$ROOT/tests/bench/connrate.py" client \
		"$SRV_IP" "$CONN_PORT" "$CONN_SECS" >"$1" 2>/dev/null
	grep -q '^conns=' "$1"
}
kv() { tr ' ' '\n' <"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }

conn_baseline() { # RUN
	foreign_progs
	if ! conn_client "$WORK/conn.base.$1"; then
		fail "connection-rate baseline run $1 failed"
		return 1
	fi
	kv rate "$WORK/conn.base.$1" >>"$WORK/conn.base"
	kv errors "$WORK/conn.base.$1" >>"$WORK/conn.errors"
}

conn_probe() { # RUN
	local t0 t1 c0 c1 wall o0 o1 l0 l1 ok=0
	start_probe --config "$CONFIG" || return 1
	scrape >"$WORK/b" || fail "scrape before conn/$1 failed"
	o0=$(metric "$WORK/b" fogprobe_tcp_connections_opened_total 'service="connrate",role="server"')
	l0=$(metric "$WORK/b" fogprobe_events_lost_total)
	c0=$(proc_cpu "$DAEMON_PID")
	t0=$(now)
	conn_client "$WORK/conn.probe.$1" && ok=1
	t1=$(now)
	c1=$(proc_cpu "$DAEMON_PID" 2>/dev/null || echo "$c0")
	sleep 0.3 # ring buffer drained, counters settled
	scrape >"$WORK/a" || fail "scrape after conn/$1 failed"
	proc_status "$DAEMON_PID" VmRSS >>"$WORK/conn.rss"
	proc_rss_once "$DAEMON_PID" >>"$WORK/conn.rss1"
	proc_status "$DAEMON_PID" VmHWM >>"$WORK/conn.hwm"
	stop_probe
	if [[ $ok -ne 1 ]]; then
		fail "connection-rate probe run $1 failed"
		return 1
	fi
	wall=$(calc %.6f "$t1 - $t0")
	kv rate "$WORK/conn.probe.$1" >>"$WORK/conn.$(stats_side)"
	kv errors "$WORK/conn.probe.$1" >>"$WORK/conn.errors"
	[[ $(stats_side) == stats ]] && prog_deltas "$WORK/b" "$WORK/a" "$wall" | tee -a "$WORK/conn.progs" |
		awk -v w="$wall" '{ s += $4 } END { printf "%.3f\n", s / w * 100 }' >>"$WORK/conn.bpfcpu"
	calc %.3f "($c1 - $c0) / $HZ / $wall * 100" >>"$WORK/conn.cpu"
	o1=$(metric "$WORK/a" fogprobe_tcp_connections_opened_total 'service="connrate",role="server"')
	l1=$(metric "$WORK/a" fogprobe_events_lost_total)
	calc %.4f "($o1 - $o0) / $(kv conns "$WORK/conn.probe.$1")" >>"$WORK/conn.counted"
	echo $((l1 - l0)) >>"$WORK/conn.lost"
}

# The connection rate with a peer tracing every TCP connection's life (bcc's tcplife,
# tcptop, or the same on bpftrace). Appends to $WORK/conn.peer.NAME.
conn_peer() { # NAME RUN CMD...
	local name=$1 run=$2
	shift 2
	command -v "$1" >/dev/null || { echo "$1 not installed" >"$WORK/conn.peer.$name.skip"; return 0; }
	start_peer "$WORK/conn.peer.$name" "$@" || return 0
	if conn_client "$WORK/conn.peer.$name.$run"; then
		kv rate "$WORK/conn.peer.$name.$run" >>"$WORK/conn.peer.$name"
	else
		fail "connection-rate run with $name failed"
	fi
	stop_peer
}

# ---- L7 capture -------------------------------------------------------------------------

L7_CONFIG=$WORK/l7.json
cat >"$L7_CONFIG" <<EOJ
{"services": [{"name": "betanet", "protocol": "betanet", "ports": [$L7_PORT]}]}
EOJ
UNREL_CONFIG=$WORK/unrel.json
cat >"$UNREL_CONFIG" <<EOJ
{"services": [{"name": "betanet", "protocol": "betanet", "ports": [$L7_OTHER_PORT]}]}
EOJ

# One Betanet client run: L7_CONNS parallel connections, pipelined, L7_DATA data frames
# each. Prints "messages_per_s data responses messages wall" (messages as the daemon
# counts them: data + control + responses) or nothing when the run did not go through.
l7_client() { # OUT_JSON
	local t0 t1
	t0=$(now)
	ns_cli timeout 90 "$PY" "$BETANET" client "$SRV_IP" "$L7_PORT" --connections "$L7_CONNS" \
		--parallel --data "$L7_DATA" --control 0 --cover 0 --mode pipelined \
		--write-mode normal --response-timeout 5 >"$1" 2>"$1.err"
	t1=$(now)
	"$PY" -c 'import json, sys
c = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
if c["connected"] != c["connections"] or c["handshakes"] != c["connections"] or c["errors"]:
    sys.exit(1)
m = c["data"] + c["control"] + c["responses_received"]
w = float(sys.argv[2])
print("%.1f %d %d %d %.4f" % (m / w, c["data"], c["responses_received"], m, w))' \
		"$1" "$(calc %.6f "$t1 - $t0")" 2>/dev/null
}

l7_baseline() { # RUN
	local r
	foreign_progs
	r=$(l7_client "$WORK/l7.base.$1.json")
	if [[ -z "$r" ]]; then
		fail "Betanet baseline run $1 failed ($(head -c 300 "$WORK/l7.base.$1.json"))"
		return 1
	fi
	echo "${r%% *}" >>"$WORK/l7.base"
	echo "$r" >>"$WORK/l7.base.runs"
}

# LABEL RUN [fogprobe args...]: appends to $WORK/<label>.* : probe (messages/s), progs,
# bpfcpu (l7 programs), bpfall (all programs), cpu, rss, hwm, check ("client_data
# probe_data client_responses probe_responses client_messages probe_messages desync
# ringbuf_full").
l7_probe() {
	local label=$1 run=$2 r t0 t1 c0 c1 wall k name want cdata cresp cmsg
	local -A m0 m1
	shift 2
	start_probe --config "$L7_CONFIG" "$@" || return 1
	scrape >"$WORK/b" || fail "scrape before $label/$run failed"
	c0=$(proc_cpu "$DAEMON_PID")
	t0=$(now)
	r=$(l7_client "$WORK/$label.probe.$run.json")
	t1=$(now)
	c1=$(proc_cpu "$DAEMON_PID" 2>/dev/null || echo "$c0")
	sleep 0.5 # ring buffer drained, parser caught up
	scrape >"$WORK/a" || fail "scrape after $label/$run failed"
	proc_status "$DAEMON_PID" VmRSS >>"$WORK/$label.rss"
	proc_rss_once "$DAEMON_PID" >>"$WORK/$label.rss1"
	proc_status "$DAEMON_PID" VmHWM >>"$WORK/$label.hwm"
	stop_probe
	if [[ -z "$r" ]]; then
		fail "Betanet probe run $label/$run failed ($(head -c 300 "$WORK/$label.probe.$run.json"))"
		return 1
	fi
	wall=$(calc %.6f "$t1 - $t0")
	echo "${r%% *}" >>"$WORK/$label.$(stats_side)"
	echo "$r" >>"$WORK/$label.$(stats_side).runs"
	if [[ $(stats_side) == stats ]]; then
		prog_deltas "$WORK/b" "$WORK/a" "$wall" >"$WORK/deltas"
		cat "$WORK/deltas" >>"$WORK/$label.progs"
		awk -v w="$wall" -v re="$L7_PROG_RE" '$1 ~ re { s += $4 } END { printf "%.3f\n", s / w * 100 }' \
			"$WORK/deltas" >>"$WORK/$label.bpfcpu"
		awk -v w="$wall" '{ s += $4 } END { printf "%.3f\n", s / w * 100 }' "$WORK/deltas" \
			>>"$WORK/$label.bpfall"
	fi
	calc %.3f "($c1 - $c0) / $HZ / $wall * 100" >>"$WORK/$label.cpu"
	for k in data response messages desync ringfull; do
		case $k in
		data | response) name=fogprobe_betanet_frames_total want="type=\"$k\"" ;;
		messages) name=fogcompute_betanet_messages_total want= ;;
		desync) name=fogprobe_events_lost_total want='reason="l7_desync"' ;;
		ringfull) name=fogprobe_events_lost_total want='reason="l7_ringbuf_full"' ;;
		esac
		m0[$k]=$(metric "$WORK/b" "$name" "$want")
		m1[$k]=$(metric "$WORK/a" "$name" "$want")
	done
	read -r _ cdata cresp cmsg _ <<<"$r"
	echo "$cdata $((m1[data] - m0[data])) $cresp $((m1[response] - m0[response])) $cmsg" \
		"$((m1[messages] - m0[messages])) $((m1[desync] - m0[desync]))" \
		"$((m1[ringfull] - m0[ringfull]))" >>"$WORK/$label.check"
}

# Unrelated read/write traffic (no service, no socket of one): a dd pipe of 64-byte
# records and a python socketpair ping-pong, both in the host namespace. Appends the dd
# records/s to $WORK/unrel.dd.SIDE and the round trips/s to $WORK/unrel.{pp,pp2}.SIDE.
PINGPONG='import socket, sys, time
n = int(sys.argv[1])
a, b = socket.socketpair()
m = b"x" * 64
t0 = time.monotonic()
for _ in range(n):
    a.send(m); b.recv(64); b.send(m); a.recv(64)
print("%.1f" % (n / (time.monotonic() - t0)))'
# The same between two processes on one CPU: every round trip is two context switches
# and two wakeups, what the scheduler hooks see on a busy host.
PINGPONG2='import os, socket, sys, time
n = int(sys.argv[1])
a, b = socket.socketpair()
m = b"x" * 64
if os.fork() == 0:
    for _ in range(n):
        b.recv(64); b.send(m)
    os._exit(0)
t0 = time.monotonic()
for _ in range(n):
    a.send(m); a.recv(64)
os.wait()
print("%.1f" % (n / (time.monotonic() - t0)))'
unrel_load() { # SIDE (base|probe|stats|peer|floor|hooks)
	local t0 t1 r
	t0=$(now)
	timeout 60 sh -c 'dd if=/dev/zero bs=64 count="$1" 2>/dev/null | cat >/dev/null' sh "$UNREL_DD" ||
		{ fail "unrelated dd run ($1) failed"; return 1; }
	t1=$(now)
	calc %.1f "$UNREL_DD / ($t1 - $t0)" >>"$WORK/unrel.dd.$1"
	r=$(timeout 60 "$PY" -c "$PINGPONG" "$UNREL_PP") || { fail "unrelated ping-pong ($1) failed"; return 1; }
	echo "$r" >>"$WORK/unrel.pp.$1"
	r=$(timeout 60 taskset -c 0 "$PY" -c "$PINGPONG2" $((UNREL_PP / 2))) ||
		{ fail "unrelated two-process ping-pong ($1) failed"; return 1; }
	echo "$r" >>"$WORK/unrel.pp2.$1"
}

# The same load with empty programs and no daemon (tests/bench/tp_floor.c): what the
# attach mechanism costs by itself. SIDE floor: on the syscall tracepoints of the
# capture's fallback, bpf_stats on (tests/bench/null_tp.bpf.c; the programs' ns/event
# to $WORK/unrel.floorprogs); SIDE hooks: on the BTF tracepoints of the default chain,
# without bpf_stats as the daemon runs by default (tests/bench/null_hooks.bpf.c).
# Appends to $WORK/unrel.{dd,pp,pp2}.SIDE.
unrel_floor() { # SIDE
	local pid i obj=$OUT/null_tp.bpf.o opt=
	[[ $1 == hooks ]] && obj=$OUT/null_hooks.bpf.o opt=--no-stats
	[[ -x "$OUT/tp_floor" && -s "$obj" ]] || return 0
	"$OUT/tp_floor" $opt "$obj" >"$WORK/tp_floor.out" 2>"$WORK/tp_floor.err" &
	pid=$!
	BG_PIDS+=($pid)
	for i in $(seq 1 50); do
		grep -q '^ready' "$WORK/tp_floor.out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^ready' "$WORK/tp_floor.out"; then
		unrel_load "$1"
	else
		fail "tp_floor did not attach $obj: $(head -c 300 "$WORK/tp_floor.err")"
	fi
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for i in "${!BG_PIDS[@]}"; do [[ ${BG_PIDS[i]} == "$pid" ]] && unset 'BG_PIDS[i]'; done
	[[ $1 == floor ]] && grep -v '^ready' "$WORK/tp_floor.out" >>"$WORK/unrel.floorprogs"
}

# SIDE probe: the daemon as operators run it (no bpf_stats); stats: with --bpf-stats,
# which also gives the programs' ns/event.
unrel_probe() { # SIDE RUN
	local t0 t1 wall stats=0
	[[ $1 == stats ]] && stats=1
	PROBE_STATS=$stats start_probe --config "$UNREL_CONFIG" || return 1
	scrape >"$WORK/b" || fail "scrape before unrelated/$1/$2 failed"
	t0=$(now)
	unrel_load "$1"
	t1=$(now)
	scrape >"$WORK/a" || fail "scrape after unrelated/$1/$2 failed"
	stop_probe
	[[ $1 == stats ]] || return 0
	wall=$(calc %.6f "$t1 - $t0")
	prog_deltas "$WORK/b" "$WORK/a" "$wall" >"$WORK/deltas"
	cat "$WORK/deltas" >>"$WORK/unrel.progs"
	awk -v w="$wall" -v re="$L7_PROG_RE" '$1 ~ re { s += $4 } END { printf "%.3f\n", s / w * 100 }' \
		"$WORK/deltas" >>"$WORK/unrel.bpfcpu"
}

# A peer doing the L7 capture's work on the syscall tracepoints
# (tests/bench/peer_syscalls.bt: bytes per socket and payload prefixes, for a comm that
# none of the load has), during the same load. Appends to $WORK/unrel.{dd,pp,pp2}.peer.
unrel_peer() {
	command -v bpftrace >/dev/null || { echo "bpftrace not installed" >"$WORK/peer.skip"; return 0; }
	start_peer "$WORK/peer" bpftrace "$ROOT/tests/bench/peer_syscalls.bt" fogprobe-none || return 1
	unrel_load peer
	stop_peer
}

# The floor of bpf_stats' ns/event here: an empty cgroup_skb program attached to a cgroup
# of the bench's own, with only the iperf3 client in it, for CAL_SECS. Prints
# "ns_per_event runs" or nothing (skipped: no clang/bpftool/bpffs/cgroup2).
calibrate_floor() {
	local cg2 cg pin old obj=$OUT/null.bpf.o st
	command -v clang >/dev/null && command -v bpftool >/dev/null || return 0
	cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[[ -n "$cg2" ]] && grep -q ' /sys/fs/bpf bpf ' /proc/mounts || return 0
	clang -O2 -g -target bpf -c "$ROOT/tests/bench/null.bpf.c" -o "$obj" || return 0
	cg=$cg2/fogprobe-bench-$ID
	pin=/sys/fs/bpf/fogprobe-bench-null-$ID
	mkdir "$cg" || return 0
	CLEANUPS+=("rmdir '$cg'")
	bpftool prog load "$obj" "$pin" type cgroup/skb || return 0
	CLEANUPS+=("rm -f '$pin'")
	bpftool cgroup attach "$cg" egress pinned "$pin" || return 0
	CLEANUPS+=("bpftool cgroup detach '$cg' egress pinned '$pin'")
	old=$(cat /proc/sys/kernel/bpf_stats_enabled)
	CLEANUPS+=("sysctl -qw kernel.bpf_stats_enabled=$old")
	sysctl -qw kernel.bpf_stats_enabled=1
	# The client's sockets take the cgroup of the task that creates them.
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
		ip netns exec "$NS_CLI" timeout 30 iperf3 -c "$SRV_IP" -p "$IPERF_PORT" -t "$CAL_SECS" \
		>/dev/null 2>&1
	sysctl -qw kernel.bpf_stats_enabled="$old"
	st=$(bpftool prog show pinned "$pin" 2>/dev/null)
	awk '{ for (i = 1; i < NF; i++) { if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") n = $(i + 1) } }
		END { if (n > 0) printf "%.1f %d\n", t / n, n }' <<<"$st"
}

# ---- report helpers ---------------------------------------------------------------------

gbit() { awk '{ printf "%.2f\n", $1 / 1e9 }'; }

report_iperf() { # LABEL TITLE
	local label=$1 b p ratio pr
	b=$(median <"$WORK/$label.base" 2>/dev/null)
	p=$(median <"$WORK/$label.probe" 2>/dev/null)
	ratio=nan
	[[ "$b" != nan && "$p" != nan ]] && ratio=$(calc %.4f "$p / $b")
	section "$2"
	row "iperf3 baseline, median of $(wc -l <"$WORK/$label.base" 2>/dev/null || echo 0) x ${SECS}s" \
		"$(echo "$b" | gbit) Gbit/s"
	row "iperf3 with probe, median of $(wc -l <"$WORK/$label.probe" 2>/dev/null || echo 0) x ${SECS}s" \
		"$(echo "$p" | gbit) Gbit/s"
	row "iperf3 throughput ratio probe/baseline" "$ratio" "$ratio" ">=" 0.98 ">= 0.98"
	summary_row "iperf3_$label" "iperf3 over veth, $([[ $label == fb ]] && echo "tracepoint fallbacks" || echo "default hooks"): probe/baseline" \
		"$ratio" "" ">=" 0.99
	row "  ratio with --bpf-stats (1 run)/baseline" "$(ratio_of "$b" "$(median <"$WORK/$label.stats" 2>/dev/null)")"
	pr=$(paste -d' ' "$WORK/$label.base" "$WORK/$label.probe" 2>/dev/null |
		awk 'NF == 2 && $1 > 0 { print $2 / $1 }' | median)
	row "  (median of per-pair ratios)" "$(calc %.4f "$pr" 2>/dev/null)"
	report_progs "$WORK/$label.progs" "during iperf3"
	row "BPF time during iperf3, all programs" "$(median <"$WORK/$label.bpfcpu") % of a core"
	row "probe bytes / iperf3 bytes (server rx)" "$(median <"$WORK/$label.counted")" \
		"$(median <"$WORK/$label.counted")" ">=" 0.99 "~1 (>= 0.99)"
	row "daemon CPU during iperf3 (median)" "$(median <"$WORK/$label.cpu") % of a core" \
		"$(median <"$WORK/$label.cpu")" "<=" 5 "<= 5 %"
}

report_progs() { # FILE WHEN
	local p ns ev n
	[[ -s "$1" ]] || return 0
	for p in $(awk '{ print $1 }' "$1" | sort -u); do
		ns=$(awk -v p="$p" '$1 == p { print $2 }' "$1" | median)
		ev=$(awk -v p="$p" '$1 == p { print $3 }' "$1" | median)
		n=$(awk -v p="$p" '$1 == p { print $5 }' "$1" | median)
		if [[ "$p" =~ $PACKET_PATH_RE ]] && awk -v n="$n" 'BEGIN { exit !(n >= 1000) }'; then
			row "BPF $p ns/event" "$(printf '%.1f ns, %s ev/s' "$ns" "$(human "$ev")")" \
				"$ns" "<=" 50 "<= 50 ns"
		elif [[ "$p" =~ $PACKET_PATH_RE ]]; then
			# A few hundred cold-cache runs say little about the per-packet cost.
			row "BPF $p ns/event" "$(printf '%.1f ns, %s ev/s' "$ns" "$(human "$ev")")" \
				"" "" "" "(<1000 runs)"
		else
			row "BPF $p ns/event" "$(printf '%.1f ns, %s ev/s' "$ns" "$(human "$ev")")"
		fi
	done
}

# The l7 programs (bpf/l7.bpf.c) in a progs file: one row each for those with more than
# 1000 runs (median over the runs), the others named in one row.
report_l7_progs() { # FILE
	local p ns ev n few=
	[[ -s "$1" ]] || return 0
	for p in $(awk -v re="$L7_PROG_RE" '$1 ~ re { print $1 }' "$1" | sort -u); do
		ns=$(awk -v p="$p" '$1 == p { print $2 }' "$1" | median)
		ev=$(awk -v p="$p" '$1 == p { print $3 }' "$1" | median)
		n=$(awk -v p="$p" '$1 == p { print $5 }' "$1" | median)
		if awk -v n="$n" 'BEGIN { exit !(n > 1000) }'; then
			row "BPF $p ns/event" "$(printf '%.1f ns, %s ev/s' "$ns" "$(human "$ev")")"
		else
			few+=" $p"
		fi
	done
	[[ -n "$few" ]] && row "  l7 programs with <= 1000 runs" "${few# }"
	return 0
}

# The scheduler hooks run on every context switch and wakeup of the host, service or
# not: their ns per run, and what they add per context switch (the switch program's run
# and the wakeups' runs shared over the switches), medians of the runs in FILE.
report_sched_progs() { # FILE
	local p ns ev sw_ns= sw_ev= wk=0
	[[ -s "$1" ]] || return 0
	for p in $(awk '$1 ~ /^runq_/ { print $1 }' "$1" | sort -u); do
		ns=$(awk -v p="$p" '$1 == p { print $2 }' "$1" | median)
		ev=$(awk -v p="$p" '$1 == p { print $3 }' "$1" | median)
		row "BPF $p ns/run" "$(printf '%.1f ns, %s runs/s' "$ns" "$(human "$ev")")"
		case $p in
		runq_switch*) sw_ns=$ns sw_ev=$ev ;;
		runq_wakeup*) wk=$(calc %.3f "$wk + $ns * $ev") ;;
		esac
	done
	[[ -n "$sw_ns" ]] && awk -v e="$sw_ev" 'BEGIN { exit !(e > 0) }' &&
		row "  sched hooks per context switch (switch + wakeups)" \
			"$(calc %.1f "$sw_ns + $wk / $sw_ev") ns" &&
		summary_row sched_per_switch "scheduler hooks per context switch (bpf_stats)" \
			"$(calc %.1f "$sw_ns + $wk / $sw_ev")" ns "" ""
	return 0
}

# "a b" pairs on stdin (baseline probe) -> median of probe/baseline
pair_ratio() { awk 'NF == 2 && $1 > 0 { print $2 / $1 }' | median; }
ratio_of() { # BASE PROBE -> probe/base or nan
	if [[ "$1" != nan && "$2" != nan && -n "$1" && -n "$2" ]]; then calc %.4f "$2 / $1"; else echo nan; fi
}
sumcol() { awk -v c="$1" '{ s += $c } END { printf "%.0f\n", s }' "$2" 2>/dev/null; }

human() {
	awk -v v="$1" 'BEGIN {
		if (v >= 1e6) printf "%.2fM", v / 1e6; else if (v >= 1e3) printf "%.1fk", v / 1e3
		else if (v >= 10) printf "%.0f", v; else printf "%.1f", v }'
}

# ---- main -------------------------------------------------------------------------------

say "bench: building build/bench/bench_render and bench_parse (the daemon's objects)"
mkdir -p "$OUT"
for prog in bench_render bench_parse; do
	make --no-print-directory -C "$ROOT" "build/bench/$prog" >/dev/null ||
		fail "building $prog failed"
done
# The empty-program floors of the unrelated-traffic runs; skipped (not an error) without clang.
if command -v clang >/dev/null; then
	say "bench: building build/bench/tp_floor"
	if ! clang -O2 -g -target bpf -c "$ROOT/tests/bench/null_tp.bpf.c" -o "$OUT/null_tp.bpf.o" ||
		! clang -O2 -g -target bpf -c "$ROOT/tests/bench/null_hooks.bpf.c" -o "$OUT/null_hooks.bpf.o" ||
		! gcc -O2 -std=gnu11 -Wall -o "$OUT/tp_floor" "$ROOT/tests/bench/tp_floor.c" -lbpf; then
		fail "building tp_floor failed"
		rm -f "$OUT/tp_floor"
	fi
fi

say "bench: netns $NS_SRV ($SRV_IP) <-> $NS_CLI ($CLI_IP), metrics on 127.0.0.1:$METRICS_PORT"
if ! setup_netns; then
	fail "network namespace setup failed"
	exit 1
fi
# Not through ns_srv: a function run with & is a subshell, and $! would be the subshell
# rather than the server (ip netns exec execs its command, so $! is the server itself).
ip netns exec "$NS_SRV" iperf3 -s -p "$IPERF_PORT" >"$WORK/iperf-server.log" 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS_SRV" timeout 600 "$PY" "$ROOT/tests/bench/connrate.py" server "$CONN_PORT" 590 \
	>"$WORK/conn-server.log" 2>&1 &
BG_PIDS+=($!)
if ! wait_port "$NS_SRV" "$IPERF_PORT" || ! wait_port "$NS_SRV" "$CONN_PORT"; then
	fail "test servers did not start"
	exit 1
fi

say "bench: warm-up (1 s iperf3, discarded)"
run_iperf 1 "$WORK/warmup.json" >/dev/null || true

say "bench: bpf_stats floor (empty cgroup_skb program, ${CAL_SECS}s iperf3)"
calibrate_floor >"$WORK/floor" # not in $(...): its CLEANUPS must reach this shell
FLOOR=$(cat "$WORK/floor")

say "bench: iperf3 $PAIRS pairs x ${SECS}s, default hooks"
iperf_pairs def "$PAIRS"
if ((FB_PAIRS > 0)); then
	say "bench: iperf3 $FB_PAIRS pairs x ${SECS}s, --disable-hooks tp_btf"
	iperf_pairs fb "$FB_PAIRS" --disable-hooks tp_btf
fi

say "bench: short connections, $CONN_PAIRS pairs x ${CONN_SECS}s"
for ((i = 1; i <= CONN_PAIRS; i++)); do
	if ((i % 2)); then
		conn_baseline "$i"
		conn_probe "$i"
	else
		conn_probe "$i"
		conn_baseline "$i"
	fi
	say "  pair $i: baseline $(tail -n 1 "$WORK/conn.base" 2>/dev/null) probe $(tail -n 1 "$WORK/conn.probe" 2>/dev/null) conn/s"
done
PROBE_STATS=1 conn_probe stats
say "  with --bpf-stats: $(tail -n 1 "$WORK/conn.stats" 2>/dev/null) conn/s"
say "bench: short connections with peers (bcc tcplife, tcptop; tcplife's work on bpftrace)"
for ((i = 1; i <= CONN_PAIRS; i++)); do
	conn_peer tcplife "$i" tcplife-bpfcc
	conn_peer tcptop "$i" tcptop-bpfcc -C 1
	conn_peer bpftrace-tcplife "$i" bpftrace "$ROOT/tests/bench/peer_tcplife.bt"
done

say "bench: L7 capture, Betanet: $L7_PAIRS pairs x $L7_CONNS pipelined connections x $L7_DATA data frames"
ip netns exec "$NS_SRV" timeout 600 "$PY" "$BETANET" server "$L7_PORT" --duration 590 \
	>"$WORK/betanet-server.json" 2>"$WORK/betanet-server.err" &
L7_SRV=$!
BG_PIDS+=($L7_SRV)
for _ in $(seq 1 50); do
	grep -q 'listening on' "$WORK/betanet-server.err" 2>/dev/null && break
	sleep 0.1
done
if ! grep -q 'listening on' "$WORK/betanet-server.err" 2>/dev/null; then
	fail "Betanet server did not start"
else
	l7_client "$WORK/l7.warmup.json" >/dev/null # warm-up, discarded
	for ((i = 1; i <= L7_PAIRS; i++)); do
		if ((i % 2)); then
			l7_baseline "$i"
			l7_probe l7 "$i" ${L7_CAPTURE:+--capture-bytes "$L7_CAPTURE"}
		else
			l7_probe l7 "$i" ${L7_CAPTURE:+--capture-bytes "$L7_CAPTURE"}
			l7_baseline "$i"
		fi
		say "  pair $i: baseline $(tail -n 1 "$WORK/l7.base" 2>/dev/null) probe $(tail -n 1 "$WORK/l7.probe" 2>/dev/null) messages/s"
	done
	PROBE_STATS=1 l7_probe l7 stats ${L7_CAPTURE:+--capture-bytes "$L7_CAPTURE"}
	say "  with --bpf-stats: $(tail -n 1 "$WORK/l7.stats" 2>/dev/null) messages/s"
	if ((L7_CAPTURE_ALT > 0)); then
		PROBE_STATS=1 l7_probe l7alt 1 --capture-bytes "$L7_CAPTURE_ALT"
		say "  --capture-bytes $L7_CAPTURE_ALT (--bpf-stats): $(tail -n 1 "$WORK/l7alt.stats" 2>/dev/null) messages/s"
	fi
fi
kill -TERM "$L7_SRV" 2>/dev/null
wait "$L7_SRV" 2>/dev/null
for i in "${!BG_PIDS[@]}"; do [[ ${BG_PIDS[i]} == "$L7_SRV" ]] && unset 'BG_PIDS[i]'; done

say "bench: L7 hooks on unrelated traffic: $UNREL_PAIRS pairs of dd ($UNREL_DD x 64 B) + socketpair ping-pong ($UNREL_PP)"
for ((i = 1; i <= UNREL_PAIRS; i++)); do
	if ((i % 2)); then
		foreign_progs
		unrel_load base
		unrel_probe probe "$i"
		unrel_probe stats "$i"
		unrel_peer
		unrel_floor floor
		unrel_floor hooks
	else
		unrel_floor hooks
		unrel_floor floor
		unrel_peer
		unrel_probe stats "$i"
		unrel_probe probe "$i"
		foreign_progs
		unrel_load base
	fi
	last() { tail -n 1 "$WORK/unrel.$1.$2" 2>/dev/null; }
	sides() { local s o=; for s in base probe stats peer floor hooks; do o+="${o:+ / }$(last "$1" "$s")"; done; echo "$o"; }
	say "  run $i: dd $(sides dd) records/s, ping-pong $(sides pp), one CPU $(sides pp2) round trips/s" \
		"(baseline / probe / probe --bpf-stats / bpftrace peer / empty programs: syscall tracepoints, default hooks)"
done

say "bench: /metrics scrape time, default config, $SCRAPES scrapes"
if start_probe; then
	scrape >"$WORK/default.metrics"
	for ((i = 0; i < SCRAPES; i++)); do
		curl -sf -m 5 -o /dev/null -w '%{time_total} %{size_download}\n' \
			"http://127.0.0.1:$METRICS_PORT/metrics" >>"$WORK/scrape.plain"
		curl -sf -m 5 -o /dev/null -w '%{time_total} %{size_download}\n' \
			"http://127.0.0.1:$METRICS_PORT/healthz" >>"$WORK/scrape.healthz"
		curl -sf -m 5 -o /dev/null -H 'Accept-Encoding: gzip' \
			-w '%{time_total} %{size_download}\n' \
			"http://127.0.0.1:$METRICS_PORT/metrics" >>"$WORK/scrape.gzip"
	done
	stop_probe
fi

say "bench: synthetic render, 10k series x $RENDER_ROUNDS"
if [[ -x "$OUT/bench_render" ]]; then
	"$OUT/bench_render" "$RENDER_ROUNDS" >"$WORK/render" || fail "bench_render failed"
fi
say "bench: HTTP exchanges replayed through the daemon's parser and metrics"
if [[ -x "$OUT/bench_parse" ]]; then
	"$OUT/bench_parse" >"$WORK/parse" || fail "bench_parse failed"
fi

# ---- report -----------------------------------------------------------------------------

section "environment"
row "cgroup-root BPF programs during baselines (max)" "$(maxof <"$WORK/foreign" 2>/dev/null)" \
	"$(maxof <"$WORK/foreign" 2>/dev/null)" "==" 0 "0 (clean)"
row "other fogprobe processes during baselines (max)" "$(maxof <"$WORK/foreign.daemons" 2>/dev/null)" \
	"$(maxof <"$WORK/foreign.daemons" 2>/dev/null)" "==" 0 "0 (clean)"
if [[ -n "$FLOOR" ]]; then
	row "bpf_stats floor: empty cgroup_skb program" "$(printf '%.1f ns (%s runs)' ${FLOOR% *} "${FLOOR#* }")"
else
	row "bpf_stats floor: empty cgroup_skb program" "skipped"
fi
row "clocksource" "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
report_iperf def "iperf3 over veth, default hooks (tp_btf where the kernel allows)"
((FB_PAIRS > 0)) && report_iperf fb "iperf3 over veth, --disable-hooks tp_btf (tracepoint fallbacks)"

section "short connections (sequential connect/64 B/close, python client and server)"
b=$(median <"$WORK/conn.base" 2>/dev/null)
p=$(median <"$WORK/conn.probe" 2>/dev/null)
ratio=nan
[[ "$b" != nan && "$p" != nan ]] && ratio=$(calc %.4f "$p / $b")
row "connections/s baseline, median of $CONN_PAIRS x ${CONN_SECS}s" "$(calc %.0f "$b" 2>/dev/null)"
row "connections/s with probe" "$(calc %.0f "$p" 2>/dev/null)"
row "connection-rate ratio probe/baseline" "$ratio" "$ratio" ">=" 0.98 ">= 0.98"
summary_row conn_rate "short connections per second: probe/baseline" "$ratio" "" ">=" 0.97
row "connection-rate ratio with --bpf-stats (1 run)/baseline" "$(ratio_of "$b" "$(median <"$WORK/conn.stats" 2>/dev/null)")"
summary_row conn_bpf "  BPF time during short connections (--bpf-stats)" "$(median <"$WORK/conn.bpfcpu")" "% of a core" "" ""
for peer in tcplife tcptop bpftrace-tcplife; do
	pr=$(ratio_of "$b" "$(median 2>/dev/null <"$WORK/conn.peer.$peer")")
	row "connection-rate ratio, peer $peer/baseline" "$pr"
	case $peer in
	tcplife) what="bcc tcplife (a line per connection)" ;;
	tcptop) what="bcc tcptop (bytes per connection)" ;;
	*) what="bpftrace, tcplife's work on sock:inet_sock_set_state" ;;
	esac
	summary_row "conn_rate_$peer" "  peer: $what" "$pr" "" "" "" "$(cat "$WORK/conn.peer.$peer.skip" 2>/dev/null)"
done
report_progs "$WORK/conn.progs" "during short connections"
row "BPF time during short connections, all programs" "$(median <"$WORK/conn.bpfcpu") % of a core"
row "probe server opens / connections made" "$(median <"$WORK/conn.counted")" \
	"$(median <"$WORK/conn.counted")" "==" 1 "1"
row "events lost (sum over runs)" "$(awk '{ s += $1 } END { print s + 0 }' "$WORK/conn.lost" 2>/dev/null)" \
	"$(awk '{ s += $1 } END { print s + 0 }' "$WORK/conn.lost" 2>/dev/null)" "==" 0 "0"
row "client errors (sum over runs)" "$(awk '{ s += $1 } END { print s + 0 }' "$WORK/conn.errors" 2>/dev/null)"
row "daemon CPU during short connections" "$(median <"$WORK/conn.cpu") % of a core" \
	"$(median <"$WORK/conn.cpu")" "<=" 5 "<= 5 %"

section "L7 capture: Betanet workload"
row "  workload: $L7_CONNS conns x $L7_DATA data, pipelined" "betanet.py client/server"
b=$(median <"$WORK/l7.base" 2>/dev/null)
p=$(median <"$WORK/l7.probe" 2>/dev/null)
row "messages/s baseline, median of $(wc -l <"$WORK/l7.base" 2>/dev/null || echo 0)" \
	"$(calc %.0f "$b" 2>/dev/null) msg/s, $(calc %.2f "$(col 5 "$WORK/l7.base.runs" | median)") s"
row "messages/s with probe, median of $(wc -l <"$WORK/l7.probe" 2>/dev/null || echo 0)" \
	"$(calc %.0f "$p" 2>/dev/null) msg/s, $(calc %.2f "$(col 5 "$WORK/l7.probe.runs" | median)") s"
row "  --capture-bytes" "${L7_CAPTURE:-daemon default}"
row "message-rate ratio probe/baseline" "$(ratio_of "$b" "$p")" "$(ratio_of "$b" "$p")" ">=" 0.97 ">= 0.97"
summary_row betanet_rate "Betanet message rate: probe/baseline" "$(ratio_of "$b" "$p")" "" ">=" 0.97
row "message-rate ratio with --bpf-stats (1 run)/baseline" "$(ratio_of "$b" "$(median <"$WORK/l7.stats" 2>/dev/null)")"
row "  (median of per-pair ratios)" \
	"$(calc %.4f "$(paste -d' ' "$WORK/l7.base" "$WORK/l7.probe" 2>/dev/null | pair_ratio)" 2>/dev/null)"
report_l7_progs "$WORK/l7.progs"
row "BPF time during Betanet, l7 programs" "$(median <"$WORK/l7.bpfcpu" 2>/dev/null) % of a core"
row "BPF time during Betanet, all programs" "$(median <"$WORK/l7.bpfall" 2>/dev/null) % of a core"
row "daemon CPU during Betanet (median)" "$(median <"$WORK/l7.cpu" 2>/dev/null) % of a core" \
	"$(median <"$WORK/l7.cpu" 2>/dev/null)" "<=" 5 "<= 5 %"
row "daemon VmRSS after Betanet (max)" "$(calc %.1f "$(maxof <"$WORK/l7.rss" 2>/dev/null || echo 0) / 1024") MiB"
if [[ -s "$WORK/l7.check" ]]; then
	cd_=$(sumcol 1 "$WORK/l7.check") pd_=$(sumcol 2 "$WORK/l7.check")
	row "probe data frames / client data frames (sum)" "$pd_ / $cd_" "$pd_" "==" "$cd_" "= client"
	row "probe response frames / client responses" "$(sumcol 4 "$WORK/l7.check") / $(sumcol 3 "$WORK/l7.check")"
	row "probe messages / client messages" "$(sumcol 6 "$WORK/l7.check") / $(sumcol 5 "$WORK/l7.check")"
	row "events lost: l7_desync / l7_ringbuf_full (sum)" \
		"$(sumcol 7 "$WORK/l7.check") / $(sumcol 8 "$WORK/l7.check")"
fi
if [[ -s "$WORK/l7alt.stats" ]]; then
	a=$(median <"$WORK/l7alt.stats")
	row "messages/s with probe, --capture-bytes $L7_CAPTURE_ALT (1 run, --bpf-stats)" \
		"$(calc %.0f "$a") msg/s, $(calc %.2f "$(col 5 "$WORK/l7alt.stats.runs" | median)") s"
	row "  ratio to the baseline median" "$(ratio_of "$b" "$a")"
	report_l7_progs "$WORK/l7alt.progs"
	row "  BPF time, l7 programs" "$(median <"$WORK/l7alt.bpfcpu") % of a core"
	row "  daemon CPU" "$(median <"$WORK/l7alt.cpu") % of a core"
	row "  daemon VmRSS after the run" "$(calc %.1f "$(maxof <"$WORK/l7alt.rss" 2>/dev/null || echo 0) / 1024") MiB"
	row "  probe data frames / client data frames" \
		"$(sumcol 2 "$WORK/l7alt.check") / $(sumcol 1 "$WORK/l7alt.check")" \
		"$(sumcol 2 "$WORK/l7alt.check")" "==" "$(sumcol 1 "$WORK/l7alt.check")" "= client"
	row "  events lost: l7_desync / l7_ringbuf_full" \
		"$(sumcol 7 "$WORK/l7alt.check") / $(sumcol 8 "$WORK/l7alt.check")"
fi

section "L7 hooks on unrelated traffic (betanet service on an unused port)"
for w in dd pp pp2; do
	case $w in
	dd) what="dd | cat, 64 B records/s" ;;
	pp) what="socketpair ping-pong, round trips/s" ;;
	pp2) what="socketpair ping-pong, two processes on one CPU, round trips/s" ;;
	esac
	b=$(median <"$WORK/unrel.$w.base" 2>/dev/null)
	p=$(median <"$WORK/unrel.$w.probe" 2>/dev/null)
	st=$(median <"$WORK/unrel.$w.stats" 2>/dev/null)
	pe=$(median <"$WORK/unrel.$w.peer" 2>/dev/null)
	f=$(median <"$WORK/unrel.$w.floor" 2>/dev/null)
	h=$(median <"$WORK/unrel.$w.hooks" 2>/dev/null)
	row "$what, baseline / probe" "$(human "$b") / $(human "$p")"
	row "  ratio probe/baseline (median of $UNREL_PAIRS)" "$(ratio_of "$b" "$p")" \
		"$(ratio_of "$b" "$p")" ">=" 0.99 ">= 0.99"
	row "  (median of per-pair ratios)" \
		"$(calc %.4f "$(paste -d' ' "$WORK/unrel.$w.base" "$WORK/unrel.$w.probe" 2>/dev/null | pair_ratio)" 2>/dev/null)"
	row "  ratio probe --bpf-stats/baseline" "$(ratio_of "$b" "$st")"
	row "  ratio bpftrace peer/baseline" "$(ratio_of "$b" "$pe")"
	[[ -s "$WORK/unrel.$w.floor" ]] &&
		row "  ratio empty programs on the syscall tracepoints/baseline (bpf_stats on, no daemon)" \
			"$(ratio_of "$b" "$f")"
	[[ -s "$WORK/unrel.$w.hooks" ]] &&
		row "  ratio empty programs on the default hooks/baseline (no daemon)" "$(ratio_of "$b" "$h")"
	summary_row "unrelated_$w" "unrelated $what: probe/baseline" "$(ratio_of "$b" "$p")" "" ">=" 0.99
	summary_row "unrelated_${w}_stats" "  the same with --bpf-stats" "$(ratio_of "$b" "$st")" "" "" ""
	summary_row "unrelated_${w}_bpftrace" "  peer: bpftrace, bytes and payload prefixes on the syscall tracepoints" \
		"$(ratio_of "$b" "$pe")" "" "" "" "$(cat "$WORK/peer.skip" 2>/dev/null)"
	summary_row "unrelated_${w}_hooks" "  empty programs on the same hooks, no daemon: the attach's own price" \
		"$(ratio_of "$b" "$h")" "" "" "" "$([[ -s "$WORK/unrel.$w.hooks" ]] || echo "not measured (no clang, or a hook missing)")"
done
report_l7_progs "$WORK/unrel.progs"
row "BPF time during that load, l7 programs" "$(median <"$WORK/unrel.bpfcpu" 2>/dev/null) % of a core"
report_sched_progs "$WORK/unrel.progs"
if [[ -s "$WORK/unrel.floorprogs" ]]; then
	row "empty tracepoint program ns/event (min-max of 8)" "$(awk '$3 > 1000 { print $2 }' \
		"$WORK/unrel.floorprogs" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
		END { if (NR) printf "%.1f-%.1f ns\n", lo, hi; else print "n/a" }')"
else
	row "empty tracepoint programs (floor)" "skipped"
fi

section "daemon memory (after load, max over the probe runs)"
rss=$(cat "$WORK"/*.rss 2>/dev/null | maxof)
hwm=$(cat "$WORK"/*.hwm 2>/dev/null | maxof)
row "VmRSS" "$(calc %.1f "${rss:-0} / 1024") MiB" "$(calc %.3f "${rss:-0} / 1024")" "<=" 24 "<= 24 MiB"
rss1=$(cat "$WORK"/*.rss1 2>/dev/null | maxof)
row "  the same with each page once (ring buffers' pages are mapped twice)" \
	"$(calc %.1f "${rss1:-0} / 1024") MiB"
row "VmHWM (peak incl. start-up)" "$(calc %.1f "${hwm:-0} / 1024") MiB"

section "/metrics"
if [[ -s "$WORK/scrape.plain" ]]; then
	row "series in default-config exposition" "$(grep -vc '^#' "$WORK/default.metrics")"
	row "scrape time, default config, mean of $SCRAPES" \
		"$(awk '{ s += $1; b = $2 } END { printf "%.2f ms, %d B", s / NR * 1e3, b }' "$WORK/scrape.plain")" \
		"$(awk '{ s += $1 } END { print s / NR * 1e3 }' "$WORK/scrape.plain")" "<=" 5 "<= 5 ms"
	row "  /healthz round trip (HTTP floor), mean" \
		"$(awk '{ s += $1 } END { printf "%.2f ms", s / NR * 1e3 }' "$WORK/scrape.healthz")"
	row "scrape time, gzip, mean of $SCRAPES" \
		"$(awk '{ s += $1; b = $2 } END { printf "%.2f ms, %d B", s / NR * 1e3, b }' "$WORK/scrape.gzip")"
fi
if [[ -s "$WORK/render" ]]; then
	r() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/render"; }
	row "render $(r series) series text 0.0.4 (best/median)" "$(r text_best_ms) / $(r text_median_ms) ms" \
		"$(r text_median_ms)" "<=" 5 "<= 5 ms"
	row "render $(r series) series OpenMetrics (best/median)" \
		"$(r openmetrics_best_ms) / $(r openmetrics_median_ms) ms" "$(r openmetrics_median_ms)" "<=" 5 "<= 5 ms"
	row "  exposition size text / gzip" "$(r text_bytes) / $(r gzip_bytes) B"
	row "gzip of that text, level 1 (best/median)" "$(r gzip_best_ms) / $(r gzip_median_ms) ms"
	row "render + gzip (median)" "$(calc %.3f "$(r text_median_ms) + $(r gzip_median_ms)") ms" \
		"$(calc %.3f "$(r text_median_ms) + $(r gzip_median_ms)")" "<=" 5 "<= 5 ms"
fi
if [[ -s "$WORK/parse" ]]; then
	section "the daemon's share of an HTTP exchange, replayed: streams, parser, metrics ($(
		awk '$1 == "exchanges" { print $2 }' "$WORK/parse") exchanges a client)"
	for c in wrk_nginx browser_uvicorn; do
		p() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/parse"; }
		row "  ${c/_/ request, } response (best/median)" \
			"$(p "${c}_best_ns") / $(p "${c}_median_ns") ns"
		summary_row "parse_$c" "the daemon's share of an HTTP exchange, replayed: ${c/_/ request, } response" \
			"$(p "${c}_median_ns")" "ns" "" ""
	done
fi

{
	echo "fogprobe bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  kernel $(uname -r)  $(nproc) CPUs  $(
		cd "$ROOT" && git describe --tags --always --dirty 2>/dev/null)  took $(($(date +%s) - START)) s"
	echo "ns/event = delta(run_seconds)/delta(runs) from fogprobe_bpf_program_* (bpf_stats; includes"
	echo "the stats' own clock reads). Timing is informational: the bench never fails on it."
	echo
	printf '%-50s %-24s %-12s %s\n' "measure" "value" "target" "verdict"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "[runs]"
	for f in def.base def.probe fb.base fb.probe conn.base conn.probe def.cpu fb.cpu conn.cpu \
		def.stats fb.stats conn.stats l7.stats l7.base l7.probe l7.cpu l7alt.stats \
		unrel.{dd,pp,pp2}.{base,probe,stats,peer,floor,hooks} foreign foreign.daemons; do
		[[ -s "$WORK/$f" ]] && printf '%-12s %s\n' "$f" "$(tr '\n' ' ' <"$WORK/$f")"
	done
	if [[ -s "$WORK/daemon-warnings" ]]; then
		echo
		echo "[daemon warnings (distinct)]"
		sed -E 's/^[0-9TZ:.-]+ //' "$WORK/daemon-warnings" | sort | uniq -c | head -n 20
	fi
	if ((ERRORS > 0)); then
		echo
		echo "ERRORS: $ERRORS (see above; last failed daemon log in build/bench/daemon-failed.log)"
	fi
} >"$REPORT"
cat "$REPORT"
bash "$ROOT/tests/bench/http_bench.sh" || fail "tests/bench/http_bench.sh failed"
bash "$ROOT/tests/bench/otlp_bench.sh" || fail "tests/bench/otlp_bench.sh failed"
bash "$ROOT/tests/bench/churn_bench.sh" || fail "tests/bench/churn_bench.sh failed"
"$PY" "$ROOT/tests/bench/summary.py" "$OUT" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -r)" "$(nproc)" \
	"$(cd "$ROOT" && git describe --tags --always --dirty 2>/dev/null)" ||
	fail "summary.py failed"

((ERRORS == 0))
