#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the guest initramfs (busybox sh): load the virtio and filesystem modules, mount
# the host's root read-only over virtiofs with a tmpfs overlay on top (the guest may
# write anywhere; nothing reaches the host), then hand over to tests/kernels/guest.sh.
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sys /sys
busybox mount -t devtmpfs dev /dev

fail() {
	echo "fogprobe-init: $*"
	# panic=-1 on the command line turns this into a reset, which ends qemu (-no-reboot)
	echo c >/proc/sysrq-trigger
}

for m in $(busybox cat /modules/order); do
	busybox insmod "/modules/$m" || fail "insmod $m"
done

guest=
for arg in $(busybox cat /proc/cmdline); do
	case "$arg" in
	fp.guest=*) guest=${arg#fp.guest=} ;;
	esac
done
[ -n "$guest" ] || fail "no fp.guest= on the command line"

busybox mount -t virtiofs -o ro root /lower || fail "mount virtiofs root"
busybox mount -t tmpfs -o mode=0755 tmpfs /upper || fail "mount tmpfs"
busybox mkdir -p /upper/data /upper/work
busybox mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work \
	/newroot || fail "mount overlay"
busybox umount /proc /sys
busybox umount /dev
exec busybox switch_root /newroot /bin/bash "$guest"
