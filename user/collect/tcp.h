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
#include "collect/host.h"
#include "model/flows.h"
#include "collect/services.h"

#define TCP_MAX_CANDIDATES 3

/* One feature, the hooks that can serve it (best first) and the one in use. */
struct tcp_hook {
	const char *feature;
	bool required; /* the probe cannot run without it */
	int n;
	const char *hook[TCP_MAX_CANDIDATES]; /* e.g. "tp_btf/tcp_probe" */
	const char *program[TCP_MAX_CANDIDATES];
	bool available[TCP_MAX_CANDIDATES];
	bool disabled[TCP_MAX_CANDIDATES]; /* by the operator (--disable-hooks) */
	int chosen; /* index into hook[], -1 if none is available */
	bool attached;
	char error[160]; /* why the chosen hook failed to attach, if it did */
};

struct tcp_collector;

typedef void (*tcp_event_fn)(void *ctx, const struct fp_conn_event *e);

struct tcp_collector_opts {
	__u32 max_flows; /* 0: FP_MAX_FLOWS */
	__u32 ringbuf_bytes; /* 0: FP_RINGBUF_BYTES; a power of 2, at least a page */
	const char *disable; /* comma-separated hook prefixes not to use, e.g. "tp_btf" */
	bool cgroup_net; /* count every packet's bytes per cgroup (container metrics) */
	__u32 sndq_services; /* bit i: keep service i's send queues (sndq_now) */
	tcp_event_fn on_event;
	void *ctx;
};

/* Probe the kernel and fill hooks[] (no loading), skipping hooks that start with one of
 * the comma-separated prefixes in disable (may be NULL). Returns the number of hooks. */
size_t tcp__plan(struct tcp_hook *hooks, size_t max, const char *disable);

/* Probe, load, write the service tables, attach. 0 or -errno (message logged). */
int tcp__open(const struct tcp_collector_opts *opts, const struct service_tables *t,
	      struct tcp_collector **out);
void tcp__close(struct tcp_collector *c); /* detaches everything; accepts NULL */

int tcp__set_services(struct tcp_collector *c, const struct service_tables *t);
/* Drain the ring buffer, waiting up to timeout_ms for a wakeup. Events handled or -errno. */
int tcp__poll(struct tcp_collector *c, int timeout_ms);
/* Counters and gauges into s (overwrites everything). */
int tcp__read(struct tcp_collector *c, struct tcp_snapshot *s);

/* Per-cgroup network counters (cgroup_net), summed over CPUs. The array belongs to the
 * collector and lives until the next call. 0 or -errno. */
int tcp__read_cgroups(struct tcp_collector *c, const struct cgroup_net **out, size_t *n);
/* Delete the entries of the last read whose cgroup is gone; returns how many. */
size_t tcp__prune_cgroups(struct tcp_collector *c, bool (*alive)(void *ctx, __u64 cgid),
			  void *ctx);

size_t tcp__hooks(const struct tcp_collector *c, const struct tcp_hook **hooks);
int tcp__flows_fd(const struct tcp_collector *c); /* shared with the L7 capture */
int tcp__gone_flows_fd(const struct tcp_collector *c); /* flows gone to CLOSE, likewise */
int tcp__sndq_fd(const struct tcp_collector *c); /* send queues (struct fp_sndq), likewise */
int tcp__epoll_fd(const struct tcp_collector *c);

struct tcp_prog_stats {
	const char *program;
	__u64 run_time_ns;
	__u64 run_cnt;
	__u64 recursion_misses; /* runs the kernel skipped: another program was running */
};
/* bpf_stats for every loaded program; returns the count (<= max). */
size_t tcp__prog_stats(const struct tcp_collector *c, struct tcp_prog_stats *out, size_t max);
/* The same for any object (the L7 collector uses it too). */
struct bpf_object;
size_t tcp__object_prog_stats(const struct bpf_object *obj, struct tcp_prog_stats *out,
			      size_t max);

/* Kernel name of a drop reason (SKB_DROP_REASON_ prefix removed), from vmlinux BTF. */
const char *tcp__drop_reason_name(const struct tcp_collector *c, unsigned reason);

#endif
