// SPDX-License-Identifier: GPL-2.0-only
/*
 * An empty cgroup_skb program: tests/bench/bench.sh attaches it to a cgroup of its own
 * to measure the floor of bpf_stats' ns/event on this machine (the stats' own clock
 * reads plus the program call), against which fogprobe's figures can be read.
 * No headers on purpose: built with plain `clang -target bpf`.
 */
struct __sk_buff;

__attribute__((section("cgroup_skb/egress"), used)) int null_egress(struct __sk_buff *skb)
{
	(void)skb;
	return 1; /* allow */
}

__attribute__((section("license"), used)) char LICENSE[] = "GPL";
