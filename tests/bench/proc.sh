# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the bench scripts: what a process has cost.
# proc_cpu PID: its user + system time in clock ticks, every thread's (the fields after
# "pid (comm) ", so that a comm with spaces does not shift them)
proc_cpu() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
