# SPDX-License-Identifier: GPL-2.0-only
# Sourced by the bench scripts: what a process has cost.
# proc_cpu PID: its user + system time in clock ticks, every thread's (the fields after
# "pid (comm) ", so that a comm with spaces does not shift them)
proc_cpu() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
# proc_rss_once PID: VmRSS in kB with each page counted once. A BPF ring buffer's data
# pages are mapped twice in a row (a record that wraps reads as one), and VmRSS counts
# both mappings: their Rss less their Pss (half of each such page) is the second count.
proc_rss_once() {
	awk 'FNR == NR { if ($1 == "VmRSS:") t = $2; next }
		/^[0-9a-f]+-[0-9a-f]+ / { map = ($6 == "anon_inode:bpf-map") }
		map && /^Rss:/ { dup += $2 }
		map && /^Pss:/ { dup -= $2 }
		END { if (t) print t - dup }' "/proc/$1/status" "/proc/$1/smaps" 2>/dev/null
}
