#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The kernel matrix: boot each kernel below under qemu (tests/kernels/boot.sh), run the
# unit, BPF and integration suites inside it, and report per kernel: pass/fail counts,
# the hook each feature chose (`fogprobe check`), and the libbpf/verifier log of a load
# that failed. Results: build/kernels/<name>/{console.log,guest/}, build/kernels/report.txt.
# The last line is the total, "N passed, N failed".
#
#   matrix.sh                 every kernel (KERNELS="debian-6.1 ..." for a subset;
#                             KERNELS_SUITES=unit,bpf and KERNELS_TESTS=test_tcp.sh,...
#                             narrow what runs inside)
#   matrix.sh --kvm-check     exit 0 if KVM can run these kernels, else print why
set -u
cd "$(dirname "$0")/../.."
here=tests/kernels
out=build/kernels

# name, Debian package, hook the retransmit and drop features must choose there ("any"
# when the kernel may refuse BPF trampolines; Debian's kernels have them), and what runs
# there when KERNELS_NARROW=1 (emulated, to keep a whole run within an hour): "all" (the
# suites, KERNELS_TESTS and their reruns on the tracepoint fallbacks), "no-fallbacks",
# or "unit,bpf" (the host row is then a stand-in for the running kernel, whose own
# suites are make test itself, and shares its source with debian-6.1).
MATRIX=(
	"host linux-image-cloud-amd64 any unit,bpf"
	"debian-6.1 linux-image-amd64 tp_btf all"
	"debian-6.1-rt linux-image-rt-amd64 tp_btf no-fallbacks"
)

# /dev/kvm may exist and open, yet be unable to run an ordinary kernel: under PVM
# (kvm_pvm, nested virtualization without VMX/SVM) only kernels built as PVM guests boot.
kvm_check() {
	if [[ ! -e /dev/kvm ]]; then
		echo "no /dev/kvm"
		return 1
	fi
	if ! (exec 3<>/dev/kvm) 2>/dev/null; then
		echo "/dev/kvm cannot be opened read-write"
		return 1
	fi
	if ! grep -qw -E 'vmx|svm' /proc/cpuinfo; then
		if [[ -d /sys/module/kvm_pvm ]]; then
			echo "/dev/kvm is kvm_pvm (no VMX/SVM): it boots only PVM guest kernels, not Debian's"
		else
			echo "the CPU shows no VMX/SVM: /dev/kvm cannot run these kernels"
		fi
		return 1
	fi
	return 0
}
if [[ "${1:-}" == "--kvm-check" ]]; then
	kvm_check
	exit
fi

if [[ $EUID -ne 0 ]]; then
	echo "kernels: needs root (virtiofsd shares the root filesystem)"
	echo "0 passed, 1 failed"
	exit 1
fi
for f in build/fogprobe "$here/guest.sh"; do
	[[ -e $f ]] || { echo "kernels: $f missing (make first)"; echo "0 passed, 1 failed"; exit 1; }
done

# feature -> chosen hook, from a `fogprobe check` table (continuation rows have no
# feature name).
chosen() { # CHECK_FILE FEATURE
	awk -v f="$2" '
		/^FEATURE/ { t = 1; next }
		t && NF == 0 { exit }
		t {
			if ($0 !~ /^ /) feat = $1
			if (feat == f && /<- chosen/) { print ($0 ~ /^ / ? $1 : $2); exit }
		}' "$1"
}

# kconfig_missing CONFIG_TEXT_FILE: the options of kernel.config this kernel lacks.
kconfig_missing() {
	local opt want have
	while IFS='=' read -r opt want; do
		[[ $opt == CONFIG_* ]] || continue
		have=$(sed -n "s/^$opt=//p" "$1")
		if [[ $have == y || ($want == m && $have == m) ]]; then
			continue
		fi
		printf '%s ' "$opt=$want"
	done <"$here/kernel.config"
}

mkdir -p "$out"
# One matrix at a time per tree: two would share the result directories (and the cores).
exec 9>"$out/.lock"
if ! flock -n 9; then
	echo "kernels: another matrix run holds $out/.lock"
	echo "0 passed, 1 failed"
	exit 1
fi
[[ "${KERNELS_NARROW:-}" == 1 ]] &&
	echo "kernels: ${KERNELS_WHY:-KVM unusable}; emulated, narrowed, integration tests: ${KERNELS_TESTS//,/ }"
[[ -n "${KERNELS_WHY:-}" && "${KERNELS_NARROW:-}" != 1 ]] &&
	echo "kernels: $KERNELS_WHY; emulated: ${KERNELS_SUITES:-every suite} of ${KERNELS:-every kernel}"
report=$out/report.txt
: >"$report"
total_p=0 total_f=0

# The running kernel itself: its hook choice is recorded here; its suites are the ones
# `make test` runs on the host.
build/fogprobe check >"$out/host-native-check.txt" 2>&1
if [[ -r /proc/config.gz ]]; then
	zcat /proc/config.gz >"$out/host-native-config.txt"
	missing=$(kconfig_missing "$out/host-native-config.txt")
	echo "kernels: running kernel $(uname -r): ${missing:+lacks $missing}${missing:-every option of kernel.config}"
fi
printf '%-14s %-22s %-34s %-28s %s\n' kernel release retransmits drops result >>"$report"
printf '%-14s %-22s %-34s %-28s %s\n' host-native "$(uname -r)" \
	"$(chosen "$out/host-native-check.txt" retransmits)" \
	"$(chosen "$out/host-native-check.txt" drops)" "make test on the host" >>"$report"

# One row: boot its kernel, read the guest's result and check the hooks it chose.
# Prints its lines; its counts go to $dir/counts ("passed failed").
run_row() { # ROW TREE REL NOTE
	local name pkg expect narrow tree=$2 rel=$3 note=$4 dir start p=0 f=0 missing suites
	local fallback rc first retr drops feat h dur line
	read -r name pkg expect narrow <<<"$1"
	dir=$out/$name
	start=$(date +%s)
	echo "=== kernel $name"
	if [[ -z "$tree" ]]; then
		echo "kernels: $name: cannot fetch $pkg"
		f=1
	else
		missing=$(kconfig_missing "$tree/boot/config-$rel")
		if [[ -n "$missing" ]]; then
			echo "kernels: $name lacks $missing"
			f=$((f + 1))
		fi
		suites=${KERNELS_SUITES:-} fallback=1
		if [[ "${KERNELS_NARROW:-}" == 1 ]]; then
			case $narrow in
			unit,bpf) suites=unit,bpf ;;
			no-fallbacks) fallback=0 ;;
			esac
			echo "kernels: $name: narrowed (${suites:-every suite}$( ((fallback)) ||
				echo ", no fallback reruns"))"
		fi
		KERNELS_SUITES=$suites KERNELS_FALLBACK=$fallback "$here/boot.sh" "$tree" "$rel" "$dir"
		rc=$?
		if [[ -s $dir/guest/result ]]; then
			read -r p gf _ <"$dir/guest/result"
			f=$((f + gf))
		else
			echo "kernels: $name: no result (qemu exit $rc); console tail:"
			# a wedged or panicked guest: from its first report (with every CPU's
			# backtrace), else the last lines
			first=$(grep -n -m1 -E 'BUG: |Kernel panic|rcu: INFO' "$dir/console.log" 2>/dev/null |
				cut -d: -f1)
			if [[ -n "$first" ]]; then
				tail -n +"$first" "$dir/console.log" | head -n 150
			else
				tail -n 30 "$dir/console.log" 2>/dev/null
			fi | sed 's/^/  | /'
			f=1
		fi
	fi
	retr=$(chosen "$dir/guest/check.txt" retransmits 2>/dev/null)
	drops=$(chosen "$dir/guest/check.txt" drops 2>/dev/null)
	# The fast paths must be the ones exercised where the kernel offers them.
	if [[ $expect != any && -n "$tree" ]]; then
		for feat in lifecycle retransmits drops runqueue_latency; do
			# features this build does not have are not listed
			[[ $feat != runqueue_latency ]] ||
				grep -q "^$feat " "$dir/guest/check.txt" 2>/dev/null || continue
			h=$(chosen "$dir/guest/check.txt" $feat)
			if [[ $h != "$expect"/* ]]; then
				echo "kernels: $name: $feat: expected a $expect hook, got '${h:-none}'"
				f=$((f + 1))
			fi
		done
	fi
	dur=$(($(date +%s) - start))
	line="$name ($rel$note): $p passed, $f failed, ${dur}s; retransmits: ${retr:-?}, drops: ${drops:-?}"
	echo "$line" | tee "$dir/summary.txt"
	printf '%-14s %-22s %-34s %-28s %s\n' "$name" "${rel:-?}" "${retr:-?}" "${drops:-?}" \
		"$p passed, $f failed, ${dur}s" >"$dir/report-row.txt"
	echo "$p $f" >"$dir/counts"
}

# Fetch every kernel first, one after the other (apt), then boot them. Emulated, each
# guest runs on one host thread (boot.sh), so the guests boot side by side, one per host
# CPU, each with its output in build/kernels/<name>/matrix.log, printed in order when all
# are done. With KVM they boot one after the other (each guest uses 2 CPUs).
rows=() trees=() rels=() notes=()
for row in "${MATRIX[@]}"; do
	read -r name pkg _ <<<"$row"
	[[ -z "${KERNELS:-}" || " $KERNELS " == *" $name "* ]] || continue
	mkdir -p "$out/$name"
	rm -f "$out/$name/counts" "$out/$name/report-row.txt"
	note=
	if [[ $name == host && -f /boot/vmlinuz-$(uname -r) && -d /lib/modules/$(uname -r) ]]; then
		tree=/ rel=$(uname -r)
	else
		[[ $name == host ]] && note=" (substitute: the running kernel's image is not on this machine)"
		tree= rel=
		if rel=$("$here/fetch.sh" "$pkg" "$out/cache"); then
			tree=$out/cache/$rel
		fi
	fi
	rows+=("$row") trees+=("$tree") rels+=("$rel") notes+=("$note")
done
parallel=0
if ! kvm_check >/dev/null && ((${#rows[@]} > 1)) && [[ "${KERNELS_SERIAL:-}" != 1 ]]; then
	parallel=1
	echo "kernels: emulated: ${#rows[@]} guests side by side, one host thread each"
fi
bg=()
for i in "${!rows[@]}"; do
	read -r name _ <<<"${rows[$i]}"
	if ((parallel)); then
		run_row "${rows[$i]}" "${trees[$i]}" "${rels[$i]}" "${notes[$i]}" \
			>"$out/$name/matrix.log" 2>&1 &
		bg+=($!)
	else
		run_row "${rows[$i]}" "${trees[$i]}" "${rels[$i]}" "${notes[$i]}"
	fi
done
for pid in "${bg[@]}"; do
	wait "$pid"
done
for i in "${!rows[@]}"; do
	read -r name _ <<<"${rows[$i]}"
	((parallel)) && cat "$out/$name/matrix.log"
	if [[ -s $out/$name/counts ]]; then
		read -r p f <"$out/$name/counts"
		cat "$out/$name/report-row.txt" >>"$report"
	else
		echo "kernels: $name: no result from its run"
		p=0 f=1
	fi
	total_p=$((total_p + p))
	total_f=$((total_f + f))
done

echo "=== kernels report ($report)"
cat "$report"
echo "$total_p passed, $total_f failed"
[[ $total_f -eq 0 ]]
