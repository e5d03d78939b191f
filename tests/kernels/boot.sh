#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# boot.sh KERNEL_TREE RELEASE OUTDIR: boot the unpacked kernel under qemu with 2 vCPUs,
# the host's root filesystem shared read-only over virtiofs and OUTDIR/guest shared
# writable; the guest runs tests/kernels/guest.sh and powers off. The console goes to
# OUTDIR/console.log and, prefixed, to stdout. KVM when /dev/kvm is usable, otherwise
# software emulation (TCG) with a longer time limit. Exit status: qemu's, 124 on timeout.
set -euo pipefail

tree=$(cd "$1" && pwd)
rel=$2
outdir=$(mkdir -p "$3" && cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mem=${KERNELS_MEM:-3G}
virtiofsd=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}

if why=$("$here/matrix.sh" --kvm-check); then
	accel=(-accel kvm -cpu host)
	limit=${KERNELS_TIMEOUT:-900}
	emulated=0
else
	# One host thread runs both vCPUs in turn. With a thread per vCPU (thread=multi) a
	# 6.1 guest wedged now and then as the daemon detached a raw tracepoint: the CPU
	# patching the call site (text_poke_bp) waited for ever on its IPI to the other,
	# which kept taking the site's breakpoint with interrupts off (seen once in some
	# twenty loads and unloads here; none in 59 with one thread).
	accel=(-accel tcg,thread=single -cpu max)
	limit=${KERNELS_TIMEOUT:-1500}
	emulated=1
	echo "boot: $why; software emulation (time limit ${limit}s)"
fi

rm -rf "$outdir/guest" "$outdir/console.log"
mkdir -p "$outdir/guest"
"$here/initramfs.sh" "$tree" "$rel" "$outdir/initrd.gz"

run=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$run"
}
trap cleanup EXIT

# One virtiofsd per share; each serves a single guest connection and exits with it.
share() { # TAG DIR
	"$virtiofsd" --socket-path="$run/$1.sock" -o source="$2" -o cache=auto -o sandbox=chroot \
		>"$outdir/virtiofsd-$1.log" 2>&1 &
	pids+=($!)
	local i
	for i in $(seq 1 50); do
		[[ -S "$run/$1.sock" ]] && return 0
		sleep 0.1
	done
	echo "boot: virtiofsd for $1 did not start"
	cat "$outdir/virtiofsd-$1.log"
	return 1
}
share root /
share out "$outdir/guest"

# A CPU stuck in the kernel for a minute panics the guest once every CPU's backtrace is
# printed: qemu then ends at once instead of at the time limit.
cmdline="console=ttyS0 loglevel=4 panic=-1 watchdog_thresh=30 softlockup_panic=1"
cmdline+=" softlockup_all_cpu_backtrace=1 rdinit=/init fp.guest=$here/guest.sh"
cmdline+=" fp.modules=$tree/lib/modules/$rel fp.suites=${KERNELS_SUITES:-unit,bpf,integration}"
cmdline+=" fp.emulated=$emulated fp.fallback=${KERNELS_FALLBACK:-1}"
[[ -n "${KERNELS_TESTS:-}" ]] && cmdline+=" fp.tests=$KERNELS_TESTS"
set +e
timeout -k 10 "$limit" qemu-system-x86_64 -machine q35 "${accel[@]}" -smp 2 -m "$mem" \
	-object "memory-backend-memfd,id=mem,size=$mem,share=on" -numa node,memdev=mem \
	-chardev "socket,id=root,path=$run/root.sock" \
	-device vhost-user-fs-pci,chardev=root,tag=root \
	-chardev "socket,id=out,path=$run/out.sock" \
	-device vhost-user-fs-pci,chardev=out,tag=out \
	-kernel "$tree/boot/vmlinuz-$rel" -initrd "$outdir/initrd.gz" -append "$cmdline" \
	-nic none -display none -monitor none -serial stdio -no-reboot </dev/null |
	tee "$outdir/console.log" | sed -u "s/^/[$rel] /"
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 124 ]] && echo "boot: $rel did not finish within ${limit}s"
grep -q 'Kernel panic' "$outdir/console.log" && echo "boot: $rel panicked (its console above)"
exit "$rc"
