#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# fetch.sh PACKAGE CACHE_DIR: download a Debian kernel image package with apt and unpack
# it into CACHE_DIR/<kernel release>/ (boot/vmlinuz-*, lib/modules/<release>/ with a
# fresh modules.dep). PACKAGE may be a meta package (linux-image-rt-amd64): it is
# resolved to the image it depends on today. Prints the kernel release on stdout.
# A release already unpacked is reused, so a second run touches the network only for
# the apt metadata lookup, and not even that when apt cannot resolve the name.
set -euo pipefail

pkg=$1
cache=$2
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# A meta package has exactly one linux-image-<release> dependency.
resolve() {
	local dep
	dep=$(apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	echo "${dep:-$1}"
}

img=$(resolve "$pkg")
rel=${img#linux-image-}
rel=${rel%-unsigned}
if [[ ! "$rel" =~ ^[0-9] ]]; then
	# apt knows nothing (offline, no lists): take the newest release unpacked before
	# for this flavour, if any.
	flavour=${pkg#linux-image-}
	rel=$(ls -1 "$cache" 2>/dev/null | grep -E "^[0-9.]+-[0-9]+-${flavour}\$" | sort -V |
		tail -n 1 || true)
	if [[ -z "$rel" ]]; then
		echo "fetch: cannot resolve $pkg with apt and nothing is cached" >&2
		exit 1
	fi
fi

dir=$cache/$rel
if [[ ! -f "$dir/.complete" ]]; then
	rm -rf "$dir" "$cache/dl-$rel"
	mkdir -p "$cache/dl-$rel"
	# apt drops privileges to _apt for downloads; the cache may not be writable by it.
	(cd "$cache/dl-$rel" && apt-get download -q "$img" 2>&1 |
		grep -v '^W: Download is performed unsandboxed' >&2) || true
	deb=$(ls "$cache/dl-$rel"/*.deb 2>/dev/null | head -n 1)
	if [[ -z "$deb" ]]; then
		echo "fetch: apt-get download $img failed" >&2
		exit 1
	fi
	mkdir -p "$dir"
	dpkg-deb -x "$deb" "$dir"
	# The package's postinst would run depmod; modprobe and the initramfs need its maps.
	depmod -b "$dir" "$rel"
	rm -rf "$cache/dl-$rel"
	touch "$dir/.complete"
fi
[[ -f "$dir/boot/vmlinuz-$rel" ]] || { echo "fetch: no vmlinuz in $img" >&2; exit 1; }
echo "$rel"
