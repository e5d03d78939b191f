/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loads and attaches bpf/tcp.bpf.c, picks each hook from its fallback chain, reads its
 * maps and decodes its ring buffer. The only userspace code that knows include/tcp.h's
 * map layouts.
 */
#ifndef FOGPROBE_COLLECT_TCP_H
#define FOGPROBE_COLLECT_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <tcp.h> /* include/tcp.h, not collect/tcp.h */
#include "collect/collector.h"
#include "model/host.h"
#include "model/losses.h"
#include "model/tcp_stats.h"

struct service_tables;
struct tcp_collector;

struct tcp_collector_opts {
	__u32 max_flows; /* 0: FP_MAX_FLOWS */
	__u32 ringbuf_bytes; /* 0: FP_RINGBUF_BYTES; a power of 2, at least a page */
	__u32 max_listen_socks; /* 0: FP_MAX_LISTEN_SOCKS */
	__u32 max_proc_tasks; /* 0: FP_MAX_PROC_TASKS (shared with the process object) */
	const char *disable; /* comma-separated hook prefixes not to use, e.g. "tp_btf" */
	/* Count every packet's bytes per cgroup (container metrics): never, always, or only
	 * where the socket counters come per packet too (no flow iterator). */
	enum { TCP_CGROUP_NET_OFF, TCP_CGROUP_NET_ON, TCP_CGROUP_NET_PER_PACKET } cgroup_net;
	bool bpf_stats; /* BPF_ENABLE_STATS while open (every BPF program's run time) */
	__u32 sndq_services; /* bit i: keep service i's send queues (sndq_now) */
	struct collector_sinks sinks; /* conn: lifecycle events */
};

/* Probe the kernel and fill hooks[] (no loading), skipping hooks that start with one of
 * the comma-separated prefixes in disable (may be NULL). Returns the number of hooks. */
size_t tcp__plan(struct hook *hooks, size_t max, const char *disable);

/* Probe, load, write the service tables, attach. 0 or -errno (message logged). */
int tcp__open(const struct tcp_collector_opts *opts, const struct service_tables *t,
	      struct tcp_collector **out);
void tcp__close(struct tcp_collector *c); /* detaches everything; accepts NULL */

int tcp__set_services(struct tcp_collector *c, const struct service_tables *t);
/* Drain the ring buffer, waiting up to timeout_ms for a wakeup. Events handled or -errno. */
int tcp__poll(struct tcp_collector *c, int timeout_ms);
/* Counters and gauges into s (overwrites everything). */
int tcp__read(struct tcp_collector *c, struct tcp_snapshot *s);
/* Only s->drops (and their reason names), as tcp__read fills them: per-CPU sums of one
 * array, for the event loop's drop-burst check each second. 0 or -errno. */
int tcp__read_drops(struct tcp_collector *c, struct tcp_snapshot *s);

/* Are the per-cgroup network counters kept (opts.cgroup_net, as loaded)? */
bool tcp__counts_cgroups(const struct tcp_collector *c);
/* Per-cgroup network counters (cgroup_net), summed over CPUs. The array belongs to the
 * collector and lives until the next call. 0 or -errno. */
int tcp__read_cgroups(struct tcp_collector *c, const struct cgroup_net **out, size_t *n);
/* Delete the entries of the last read whose cgroup is gone; returns how many. */
size_t tcp__prune_cgroups(struct tcp_collector *c, bool (*alive)(void *ctx, __u64 cgid),
			  void *ctx);

size_t tcp__hooks(const struct tcp_collector *c, const struct hook **hooks);
/* sock_diag socket counters: sockets read and readings that moved a flow, so far */
void tcp__diag_counts(const struct tcp_collector *c, __u64 *read, __u64 *accounted);
/* Detach one feature's program, as if the kernel skipped every run of it from now on
 * (the tests' way to miss a transition). 0, or -ENOENT when it is not attached. */
int tcp__detach(struct tcp_collector *c, const char *feature);
/* The flow table (struct fp_flow by socket address): the tests' way to leave a stale
 * entry, as runs the kernel skipped would. */
int tcp__flows_fd(const struct tcp_collector *c);
/* Does it enter other network namespaces (setns: CAP_SYS_ADMIN) to read sockets? */
bool tcp__enters_netns(const struct tcp_collector *c);
int tcp__epoll_fd(const struct tcp_collector *c);
size_t tcp__prog_stats(const struct tcp_collector *c, struct prog_stats *out, size_t max);
/* Losses as of the last tcp__read (ring, maps, LRU evictions). */
void tcp__losses(const struct tcp_collector *c, struct losses *l);

/* Kernel name of a drop reason (SKB_DROP_REASON_ prefix removed), from vmlinux BTF. */
const char *tcp__drop_reason_name(const struct tcp_collector *c, unsigned reason);

#endif
