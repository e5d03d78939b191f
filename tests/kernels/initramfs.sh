#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# initramfs.sh KERNEL_TREE RELEASE OUT: build the guest's initramfs from busybox-static,
# the kernel modules needed to reach the root filesystem (virtio PCI, virtiofs, overlay;
# Debian builds them as modules) and tests/kernels/init.sh as /init.
set -euo pipefail

tree=$1
rel=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
# Debian's busybox package is dynamically linked; only busybox-static runs alone.
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked' &&
	! ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable'; then
	echo "initramfs: $busybox is not static (apt-get install busybox-static)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,lower,upper,newroot,modules}
cp "$busybox" "$work/bin/busybox"
ln -s busybox "$work/bin/sh"
install -m 0755 "$here/init.sh" "$work/init"

# modprobe resolves the dependency order against the unpacked tree; modules built into
# this kernel print as "builtin" and need nothing.
: >"$work/modules/order"
for m in virtio_pci virtiofs overlay; do
	modprobe -d "$tree" -S "$rel" --show-depends "$m" | while read -r kind path _; do
		[[ "$kind" == insmod ]] || continue
		name=$(basename "$path")
		grep -qx "$name" "$work/modules/order" && continue
		cp "$path" "$work/modules/$name"
		echo "$name" >>"$work/modules/order"
	done
done

(cd "$work" && find . | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
