#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Install the Debian packages fogprobe needs to build, run and test. Idempotent: when
# everything is present it only checks (dpkg-query), it does not touch the network.
set -euo pipefail

# Building and running the probe; `tests/deps.sh --build` installs only these (a host
# that runs it, deploy/README.md: the test peers below include daemons that start
# themselves where systemd runs).
PKGS=(
	# build
	make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
	libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libcmocka-dev
	# run
	iproute2 procps
)
TEST_PKGS=(
	# tests: ground truth and peers
	nftables iperf3 prometheus prometheus-node-exporter prometheus-alertmanager curl python3
	python3-prometheus-client
	python3-yaml libclang-rt-14-dev
	# tests: HTTP and WebSocket peers (Debian's nginx starts itself on port 80 where
	# systemd runs; the tests start their own, with a generated config, on other ports)
	nginx wrk hey openssl python3-websockets
	# tests: node ws and a browser as WebSocket peers (tests/workloads/package.json)
	nodejs chromium
	# tests: a statically linked OpenSSL server (test_tls)
	libssl-dev
	# tests: the installed unit (systemd-analyze; nothing is started) and its syscalls
	systemd strace
	# tests: capsh --decode names capability sets (test_secure, test_kubernetes); amtool
	# checks the compose stack's Alertmanager config and the routing tree
	libcap2-bin prometheus-alertmanager
	# kernel matrix (tests/kernels): qemu with virtiofsd, the guest's initramfs
	qemu-system-x86 busybox-static kmod
	# test_loss: an independent program on the kernel's drop tracepoint; make bench:
	# a peer doing the probe's work in the same run
	bpftrace
)
# make bench (`tests/deps.sh --bench`): peers doing the probe's work in the same run
BENCH_PKGS=(bpfcc-tools)
[[ "${1:-}" == --build ]] || PKGS+=("${TEST_PKGS[@]}")
[[ "${1:-}" == --bench ]] && PKGS+=("${BENCH_PKGS[@]}")

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$st" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
	if [[ $EUID -ne 0 ]]; then
		echo "deps: missing packages: ${missing[*]} (run as root: sudo make deps)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm comes with Debian's nodejs as a package of its own, with NodeSource's inside it.
if ! command -v npm >/dev/null; then
	[[ $EUID -eq 0 ]] || { echo "deps: npm missing (run as root: sudo make deps)" >&2; exit 1; }
	apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# The test workloads' npm packages, exactly as locked, into tests/workloads/node_modules:
# again only when the lock changed since the last install.
wl=$(cd "$(dirname "$0")/workloads" && pwd)
stamp=$wl/node_modules/.fogprobe-lock
if ! cmp -s "$wl/package-lock.json" "$stamp" 2>/dev/null; then
	echo "deps: npm ci in tests/workloads"
	if ! (cd "$wl" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
		echo "deps: npm ci failed in tests/workloads" >&2
		exit 1
	fi
	cp "$wl/package-lock.json" "$stamp"
fi

# Prometheus from Debian starts itself where systemd runs; the tests start their own.
exit 0
