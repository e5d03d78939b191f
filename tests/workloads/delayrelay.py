#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Userspace delay line between two TUN devices (the kernel here has no netem).

  delayrelay.py NAME_A NAME_B DELAY_MS SECONDS

Creates TUN devices NAME_A and NAME_B in the caller's network namespace and prints
"ready"; the caller then moves them into its namespaces (the open file descriptors follow
the devices) and addresses them. Every IP packet read from one device is written to the
other DELAY_MS later, so a TCP round trip across it takes 2 * DELAY_MS plus a little.
Stops by itself after SECONDS.
"""
import fcntl
import heapq
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    a, b = open_tun(argv[0]), open_tun(argv[1])
    delay = float(argv[2]) / 1000.0
    end = time.monotonic() + float(argv[3])
    peer = {a: b, b: a}
    queue = []  # (release time, sequence, fd to write, packet)
    seq = 0
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        if now >= end:
            return 0
        while queue and queue[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(queue)
            try:
                os.write(fd, pkt)
            except OSError:
                pass  # device down or not yet up: the packet is lost, as on a wire
        timeout = min(end - now, queue[0][0] - now if queue else 0.1)
        ready, _, _ = select.select([a, b], [], [], max(timeout, 0))
        for fd in ready:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, peer[fd], pkt))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
