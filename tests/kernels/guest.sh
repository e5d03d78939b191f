#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# PID 1 inside a matrix guest (started by init.sh on the host's root, read-only, under a
# tmpfs overlay). Mounts what the probe and the tests need, makes the guest kernel's
# modules loadable, records `fogprobe check` and a verbose load of every program, runs
# the unit, BPF and integration suites with CI=true, and powers off. Results go to the
# writable virtiofs share "out"; the console (ttyS0) carries the same output.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
exec </dev/null 2>&1

repo=$(cd "$(dirname "$0")/../.." && pwd)
rel=$(uname -r)
modules= suites=unit,bpf,integration tests= out=/run/fogprobe-out
mount -t proc proc /proc
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	fp.modules=*) modules=${arg#fp.modules=} ;;
	fp.suites=*) suites=${arg#fp.suites=} ;;
	fp.tests=*) tests=${arg#fp.tests=} ;;
	# the tests relax only their comparisons of wall-clock time with an injected delay
	fp.emulated=1) export FOGPROBE_EMULATED=1 ;;
	fp.fallback=0) export FALLBACK_TESTS=" " ;; # no reruns on the tracepoint fallbacks
	esac
done

poweroff_now() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 10
	exit 1 # a dying PID 1 panics, and panic=-1 resets: qemu ends either way
}

mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
# What udev would add: bash's process substitution opens /dev/fd/N.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts -o mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/netns /run/lock
# A clean /tmp, unless the tree under test lives there (a CI clone): the overlay then
# keeps the host's /tmp visible and takes the tests' writes.
case "$repo/" in
/tmp/*) ;;
*) mount -t tmpfs tmpfs /tmp ;;
esac
# The host's /sys/fs/cgroup layout is not the guest's: one cgroup v2 hierarchy, as on a
# systemd host, with the controllers the tests' cgroups may use.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
echo 1 >/proc/sys/kernel/sysrq
hostname "fp-$rel"
ip link set lo up

mkdir -p "$out"
if ! mount -t virtiofs out "$out"; then
	echo "guest: cannot mount the results share"
	poweroff_now
fi

# The kernel asks /sbin/modprobe (the host's kmod) for veth, nf_tables, sch_* ... on
# demand; it finds them in the unpacked package, mounted where modprobe looks.
mkdir -p "/lib/modules/$rel"
if [[ -n "$modules" && -d "$modules" ]]; then
	mount --bind "$modules" "/lib/modules/$rel"
else
	echo "guest: no modules tree (fp.modules=$modules)"
fi
for m in veth tun nf_tables nft_numgen nft_ct sch_netem sch_fq sch_ingress cls_bpf; do
	modprobe "$m" 2>/dev/null || echo "guest: modprobe $m failed (built in or missing)"
done

cd "$repo" || poweroff_now
{
	echo "kernel: $(uname -r) ($(uname -v))"
	echo
	build/fogprobe check
	echo "exit: $?"
} >"$out/check.txt" 2>&1
cat "$out/check.txt"

# Load and attach every program once, verbose, with the default configuration: a
# program that fails to load or verify fails this kernel's run, and libbpf's output
# (the verifier log) is kept. Every test below starts the daemon too; this run keeps
# the log in one place.
# load_once NAME [ARGS]: one verbose load of every program; 1 on success.
load_once() {
	local name=$1 ok=0 pid
	shift
	build/fogprobe -v --listen 127.0.0.1:19477 "$@" >"$out/$name.log" 2>&1 &
	pid=$!
	# Under software emulation loading takes seconds: allow a minute.
	for _ in $(seq 1 600); do
		if curl -sf http://127.0.0.1:19477/readyz >/dev/null 2>&1; then
			ok=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# Ready is not enough: an optional collector (L7, TLS, process signals) that cannot
	# load or attach leaves the daemon running without it, saying so at warn level.
	if [[ $ok -eq 1 ]] && grep -qE 'Z (warn|error) ' "$out/$name.log"; then
		ok=0
		echo "load: a collector is missing${*:+ ($*)}:"
		grep -E 'Z (warn|error) ' "$out/$name.log" | sed 's/^/  | /'
	fi
	if [[ $ok -eq 1 ]]; then
		echo "load: ok, every program loaded and attached${*:+ ($*)}"
	else
		echo "load: FAILED${*:+ ($*)}, libbpf and verifier output follows"
		sed 's/^/  | /' "$out/$name.log"
	fi
	return $((1 - ok))
}
load_ok=0
load_once load && load_ok=1
# Where the send queues are read by the map iterator, the kernel-kept path (code the
# verifier prunes while its switch is off) is loaded too.
if grep -q '^send_queue *iter/.*<- chosen' "$out/check.txt"; then
	load_once load-no-iter --disable-hooks iter || load_ok=0
fi
# Where the L7 capture hooks the socket tracepoints, the syscall fallback loads too.
if grep -q '^l7_capture *tp_btf/.*<- chosen' "$out/check.txt"; then
	load_once load-no-sock --disable-hooks tp_btf/sock || load_ok=0
fi

# A subset of the integration tests (and of their reruns on the fallbacks), when asked.
if [[ -n "$tests" ]]; then
	export TESTS="${tests//,/ }"
fi
start=$(date +%s)
# A failed integration test leaves its work directory (daemon log, ground truth) in the
# results: build/kernels/<name>/guest/work/.
export KEEP_WORK=$out/work
CI=true SUITES="${suites//,/ }" tests/run_all.sh 2>&1 | tee "$out/tests.log"
last=$(tail -n 1 "$out/tests.log")
passed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' <<<"$last")
failed=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' <<<"$last")
[[ -n "$passed" ]] || passed=0 failed=1
# The load check counts as one test of its own.
if [[ $load_ok -eq 1 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "$passed $failed $(($(date +%s) - start))" >"$out/result"
poweroff_now
