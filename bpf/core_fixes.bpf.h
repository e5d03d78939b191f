/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Field and layout differences between kernels, each with the version that needed it.
 * Everything else relies on plain CO-RE relocations against vmlinux.h.
 */
#ifndef FOGPROBE_CORE_FIXES_BPF_H
#define FOGPROBE_CORE_FIXES_BPF_H

#include <bpf/bpf_core_read.h>

/*
 * Linux 6.10 (commit "tcp: add tracepoint for active reset" series) turned
 * tcp_send_reset's sport/dport/family/saddr fields into 28-byte sockaddr blobs.
 */
struct trace_event_raw_tcp_send_reset___old {
	const void *skaddr;
	__u16 sport;
	__u16 dport;
} __attribute__((preserve_access_index));

/* Linux 6.12 gave tcp_retransmit_skb its own event class (with err); before, it used
 * tcp_event_sk_skb. So did tcp_send_reset before 6.10 (6.1 has no
 * trace_event_raw_tcp_send_reset at all: a read through that type fails to load). */
struct trace_event_raw_tcp_event_sk_skb___old {
	const void *skbaddr;
	const void *skaddr;
	__u16 sport;
	__u16 dport;
} __attribute__((preserve_access_index));

/* Linux 6.12 added rx_sk to skb:kfree_skb (the receiving socket, when known). */
struct trace_event_raw_kfree_skb___new {
	void *rx_sk;
} __attribute__((preserve_access_index));

/*
 * Linux 6.6 replaced cgroup->ancestor_ids[] (ids) with cgroup->ancestors[] (pointers).
 */
struct cgroup___old {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

static __always_inline __u64 cgroup_ancestor_id(struct cgroup *cg, int level)
{
	struct cgroup *anc;

	if (!cg || BPF_CORE_READ(cg, level) < level)
		return 0;
	if (bpf_core_field_exists(cg->ancestors)) {
		if (bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[level]))
			return 0;
		return BPF_CORE_READ(anc, kn, id);
	}
	return BPF_CORE_READ((struct cgroup___old *)cg, ancestor_ids[level]);
}

/* The v2 cgroup a socket was charged to at creation (sk_cgrp_data since 4.5). */
static __always_inline struct cgroup *sock_cgroup(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
}

/* Linux 5.14 (commit 2f064a59a11f "sched: Change task_struct::state") renamed state to
 * __state and made it unsigned int. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int task_state(const struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((const struct task_struct___pre514 *)t, state);
}

/* oom:mark_victim carried only the pid until the victim's comm and memory fields were
 * added (Linux 6.8); read them only where they exist. */
struct trace_event_raw_mark_victim___new {
	unsigned long anon_rss;
} __attribute__((preserve_access_index));

#endif
