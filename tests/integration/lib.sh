#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for integration tests: two network namespaces joined by veth, the
# daemon, scraping, and ground-truth readers. Sourced by test_*.sh; everything a test
# creates is removed by the EXIT trap.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FOGPROBE=${FOGPROBE:-$ROOT/build/fogprobe}
ID=$$
# FP_PREFIX: a test's own prefix for its namespaces and cgroup
NS_SRV=${FP_PREFIX:-fp}-srv-$ID
NS_CLI=${FP_PREFIX:-fp}-cli-$ID
SRV_IP=10.213.$((ID % 200)).1
CLI_IP=10.213.$((ID % 200)).2
METRICS_PORT=${METRICS_PORT:-$((19000 + ID % 1000))}
WORK=$(mktemp -d /tmp/fogprobe-test.XXXXXX)
DAEMON_PID=
FAILS=0
CHECKS=0
CLEANUPS=()

cleanup() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1 || true
	done
	if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
	fi
	# after the daemon and the test's processes: a cgroup with members cannot go
	if [[ -n "${TEST_CG_DIR:-}" && -d "$TEST_CG_DIR" ]]; then
		echo $$ >"$CG_ROOT/cgroup.procs" 2>/dev/null
		# children of the test may still be exiting
		for i in $(seq 1 20); do rmdir "$TEST_CG_DIR" 2>/dev/null && break; sleep 0.1; done
	fi
	# the test's cgroups in every hierarchy (v1 ones where a test made them) are gone
	local left
	left=$(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts | sort -u |
		while read -r m; do [[ -d "$m$TEST_CG" ]] && find "$m$TEST_CG" -type d; done)
	[[ -z "$left" ]] || echo "  cgroups left behind: $(echo $left)" >&2
	ip netns del "$NS_SRV" 2>/dev/null
	ip netns del "$NS_CLI" 2>/dev/null
	if ((FAILS > 0)) && [[ "${KEEP_WORK:-}" == /* ]]; then
		# KEEP_WORK=DIR: a copy there, for a run whose /tmp goes away (a guest kernel)
		mkdir -p "$KEEP_WORK" && cp -a "$WORK" "$KEEP_WORK/$(basename "$0" .sh).$ID" &&
			echo "  kept $KEEP_WORK/$(basename "$0" .sh).$ID (KEEP_WORK)"
		rm -rf "$WORK"
	elif ((FAILS > 0)) && [[ -n "${KEEP_WORK:-}" ]]; then
		echo "  kept $WORK (KEEP_WORK)"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

on_exit() { CLEANUPS+=("$*"); }

# cg_rmdir DIR: remove a cgroup the test made, once its last member has left (a killed
# process leaves its cgroups only as it exits, a moment after kill returns); a cgroup
# that stays is named, not left behind silently.
cg_rmdir() {
	local i
	for i in $(seq 1 30); do
		if rmdir "$1" 2>/dev/null || [[ ! -d "$1" ]]; then
			return 0
		fi
		sleep 0.1
	done
	echo "  cgroup $1 left behind: members $(tr '\n' ' ' <"$1/cgroup.procs" 2>/dev/null)" >&2
	return 1
}

# A check that failed is reported with what differed; the test keeps going.
check() {
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	if "$@"; then
		echo "  ok   $what"
	else
		echo "  FAIL $what"
		FAILS=$((FAILS + 1))
	fi
}

finish() {
	if [[ $FAILS -gt 0 ]]; then
		echo "  $FAILS of $CHECKS checks failed"
		if [[ -f "$WORK/daemon.log" ]]; then
			echo "  --- daemon log (tail)"
			tail -n 20 "$WORK/daemon.log" | sed 's/^/  | /'
		fi
		exit 1
	fi
	exit 0
}

skip() {
	echo "  SKIP $*"
	exit 77
}

ns_srv() { ip netns exec "$NS_SRV" "$@"; }
ns_cli() { ip netns exec "$NS_CLI" "$@"; }

setup_netns() {
	ip netns add "$NS_SRV"
	ip netns add "$NS_CLI"
	ip link add "fps$ID" type veth peer name "fpc$ID"
	ip link set "fps$ID" netns "$NS_SRV"
	ip link set "fpc$ID" netns "$NS_CLI"
	ns_srv ip addr add "$SRV_IP/24" dev "fps$ID"
	ns_cli ip addr add "$CLI_IP/24" dev "fpc$ID"
	ns_srv ip link set "fps$ID" up
	ns_cli ip link set "fpc$ID" up
	ns_srv ip link set lo up
	ns_cli ip link set lo up
}

# The test and everything it starts run in a cgroup of their own; start_daemon gives
# every service without a "cgroup" matcher this one, so that traffic of other processes
# on the host (another test, a benchmark) never lands in the test's services.
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
TEST_CG=/${FP_PREFIX:-fogprobe}-test-$ID
TEST_CG_DIR=
enter_test_cgroup() {
	[[ -n "$CG_ROOT" ]] || return 0
	TEST_CG_DIR=$CG_ROOT$TEST_CG
	mkdir -p "$TEST_CG_DIR" && echo $$ >"$TEST_CG_DIR/cgroup.procs"
}
enter_test_cgroup

# start_daemon CONFIG_JSON_TEXT: run fogprobe with that config; wait for /readyz.
start_daemon() {
	printf '%s\n' "$1" | /usr/bin/python3 -c '
import json, sys
cfg = json.load(sys.stdin)
for s in cfg["services"]:
    if sys.argv[1] and "cgroup" not in s:
        s["cgroup"] = sys.argv[1]
json.dump(cfg, sys.stdout, indent=1)
' "${TEST_CG_DIR:+$TEST_CG}" >"$WORK/config.json" || return 1
	"$FOGPROBE" --config "$WORK/config.json" --listen "127.0.0.1:$METRICS_PORT" ${FOGPROBE_ARGS:-} \
		>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	local i
	for i in $(seq 1 100); do
		if curl -sf $FP_CURL "$FP_SCHEME://127.0.0.1:$METRICS_PORT/readyz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "  daemon did not become ready"
	cat "$WORK/daemon.log"
	return 1
}

stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	local rc=$?
	DAEMON_PID=
	return $rc
}

# FP_SCHEME=https and FP_CURL (curl's options: --cacert, credentials) for a secured endpoint
FP_SCHEME=${FP_SCHEME:-http}
FP_CURL=${FP_CURL:-}
scrape() { curl -sf $FP_CURL "$FP_SCHEME://127.0.0.1:$METRICS_PORT/metrics"; }

# metric NAME 'LABELS' -> sum of the samples whose label set contains every given
# label (given as a comma-separated list of k="v"); 0 when none. Integer-rounded:
# use metricf for values with a fraction (histogram sums in seconds).
metric() { FMT="%.0f\n" metricf "$@"; }
metricf() {
	local name=$1 want=${2:-}
	scrape | awk -v name="$name" -v want="$want" -v fmt="${FMT:-%.9f\n}" '
		BEGIN { n = split(want, w, ",") }
		$0 ~ /^#/ { next }
		{
			split($0, parts, " ")
			s = parts[1]; v = parts[2]
			base = s; labels = ""
			i = index(s, "{")
			if (i) { base = substr(s, 1, i - 1); labels = substr(s, i) }
			if (base != name) next
			ok = 1
			for (j = 1; j <= n; j++) if (index(labels, w[j]) == 0) ok = 0
			if (ok) sum += v
		}
		END { printf fmt, sum }'
}

# within ACTUAL EXPECTED PERCENT -> true if |a - e| <= e * p / 100
within() {
	awk -v a="$1" -v e="$2" -v p="$3" 'BEGIN {
		d = a - e; if (d < 0) d = -d
		exit !(d <= e * p / 100) }'
}

# settle WANT CMD...: wait (up to 10 s) until CMD prints WANT. The daemon publishes what
# it drained every 100 ms; a slow or emulated machine takes longer. The check that
# follows reads again and says what differed.
settle() {
	local want=$1 i
	shift
	for i in $(seq 1 100); do
		[[ "$("$@")" == "$want" ]] && return 0
		sleep 0.1
	done
	return 1
}
# await_metric NAME LABELS WANT: settle on a metric's value
await_metric() { settle "$3" metric "$1" "$2"; }
# check_timed WHAT CMD...: a check that compares durations in percent. Under emulation
# (FOGPROBE_EMULATED=1: the kernel matrix without KVM) every userspace clock in the test
# (the workloads', the servers') is slowed by milliseconds per call: reported, not checked.
# Bounds (between) are checked everywhere.
check_timed() {
	local what=$1
	shift
	if [[ "${FOGPROBE_EMULATED:-}" == 1 ]]; then
		"$@" >/dev/null && what="ok: $what" || what="off: $what"
		echo "    (emulated: not checked) $what"
		return
	fi
	check "$what" "$@"
}
# between V LO HI: LO <= V <= HI, to 0.1 ms (the clocks' and the printouts' rounding)
between() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo - 0.1 && v <= hi + 0.1) }'; }
eq() { [[ "$1" == "$2" ]] || { echo "    got $1, want $2"; return 1; }; }
# le A B: A <= B (A may be a number or "timeout", which never is)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "timeout" && a <= b) }' || { echo "    got $1, want <= $2"; return 1; }; }

# nstat counter of a namespace, absolute (no history file is touched)
nstat_of() { ip netns exec "$1" nstat -asz "$2" 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }

# wait_port NS PORT: wait until something listens on PORT inside NS
wait_port() {
	local i
	for i in $(seq 1 50); do
		ip netns exec "$1" ss -ltnH "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
