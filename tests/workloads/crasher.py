#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A TCP server that ends the way a test asks, for the process-signal tests.

crasher.py serve PORT [--host H] [--reuseport] [--after S] [--end MODE]
                     [--spin S [--procs N] [--go]] [--hold]

Listens on H:PORT (accepting and closing connections), prints "listening pid=N", waits
S seconds (so that the probe has seen the listener), optionally forks N children that
each spin on the CPU for --spin seconds and report their run-queue delay from
/proc/self/schedstat (the kernel's own account, field 2, in ns), then ends by MODE:

  none      keep serving until killed
  segv      a real invalid memory access (SIGSEGV, si_code SEGV_MAPERR)
  abort     abort() (SIGABRT, raised by the process itself)
  exit:N    exit status N
  oom       allocate and touch memory 1 MiB at a time until the OOM killer acts
  handoff   fork a worker that keeps serving the listening socket, print
            "worker pid=N" and exit 0 (the worker never calls listen() itself)

With --go the children are forked only once the process receives SIGUSR1, so that a test
reads the probe's counters before the first child exists, however late the test gets to
run on a loaded host. --spin without --procs: the server spins itself (after SIGUSR1 with
--go) and prints its own run-queue delay over the spin.

--reuseport sets SO_REUSEPORT before bind(), so that several servers listen on one port
with a socket each, as nginx `reuseport` workers, envoy, haproxy and many Go and Rust
servers do. --hold waits for SIGUSR2 before ending by MODE, so that a test ends each
of them when it chooses.
"""
import argparse
import ctypes
import os
import signal
import socket
import sys
import threading
import time


def run_delay_ns():
    with open("/proc/self/schedstat") as f:
        return int(f.read().split()[1])


def spin(seconds):
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1
    return x


def serve(sock):
    while True:
        try:
            c, _ = sock.accept()
            c.close()
        except OSError:
            return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["serve"])
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--after", type=float, default=1.0)
    ap.add_argument("--end", default="none")
    ap.add_argument("--spin", type=float, default=0)
    ap.add_argument("--procs", type=int, default=0)
    ap.add_argument("--go", action="store_true")
    ap.add_argument("--reuseport", action="store_true")
    ap.add_argument("--hold", action="store_true")
    a = ap.parse_args()
    # blocked before the serving thread starts, so that no thread takes them
    if a.go:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    if a.hold:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((a.host, a.port))
    s.listen(16)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
    print(f"listening pid={os.getpid()}", flush=True)
    time.sleep(a.after)

    if a.procs:
        if a.go:
            signal.sigwait({signal.SIGUSR1})
        start = run_delay_ns()
        pipes = []
        for _ in range(a.procs):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                spin(a.spin)
                os.write(w, str(run_delay_ns()).encode())
                os._exit(0)
            os.close(w)
            pipes.append((pid, r))
        total = 0
        for pid, r in pipes:
            total += int(os.read(r, 64) or b"0")
            os.close(r)
            os.waitpid(pid, 0)
        total += run_delay_ns() - start
        print(f"run_delay_ns={total}", flush=True)
    elif a.spin:
        if a.go:
            signal.sigwait({signal.SIGUSR1})
        start = run_delay_ns()
        spin(a.spin)
        print(f"run_delay_ns={run_delay_ns() - start}", flush=True)

    if a.hold:
        signal.sigwait({signal.SIGUSR2})
    end = a.end
    if end == "none":
        while True:
            time.sleep(3600)
    elif end == "segv":
        ctypes.string_at(0)
    elif end == "abort":
        os.abort()
    elif end.startswith("exit:"):
        sys.stdout.flush()
        os._exit(int(end[5:]))
    elif end == "handoff":
        pid = os.fork()
        if pid == 0:
            # threads do not survive fork: the worker serves on its own
            serve(s)
            os._exit(0)
        print(f"worker pid={pid}", flush=True)
        os._exit(0)
    elif end == "oom":
        hog = []
        while True:
            b = bytearray(1 << 20)
            for i in range(0, len(b), 4096):
                b[i] = 1
            hog.append(b)
    sys.exit(2)


if __name__ == "__main__":
    main()
