/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP state per service: the kernel's cumulative counters plus gauges folded from the
 * live flow and listener tables. One snapshot is rebuilt per refresh.
 */
#ifndef FOGPROBE_MODEL_FLOWS_H
#define FOGPROBE_MODEL_FLOWS_H

#include <stdint.h>
#include <linux/types.h>
#include "tcp.h"

struct tcp_snapshot {
	/* cumulative, summed over CPUs (collect) */
	struct fp_svc_stats stats[FP_MAX_SERVICES][FP_KINDS];
	__u64 drops[FP_MAX_SERVICES + 1][FP_DROP_REASONS];
	__u64 lost[FP_LOST_SLOTS];
	/* gauges (model) */
	__u32 open[FP_MAX_SERVICES][FP_KINDS]; /* established sockets */
	__u32 listeners[FP_MAX_SERVICES]; /* listening sockets (SO_REUSEPORT counted) */
	__u64 flows_live; /* entries in the kernel flow table */
};

void flows__reset_gauges(struct tcp_snapshot *s);
void flows__add_flow(struct tcp_snapshot *s, const struct fp_flow *f);
void flows__add_listener(struct tcp_snapshot *s, const struct fp_listener *l);

/*
 * Flows the LRU evicted without a close: inserted - deleted - live. Evictions only
 * happen when the table is full, so this is the map-full loss count.
 */
__u64 flows__evicted(const struct tcp_snapshot *s);

/* Sum of a stats field over the kinds in kind_mask (bit = 1 << enum fp_kind). */
#define FP_KIND_MASK_ALL 0x7u
#define FP_KIND_MASK_ONCE ((1u << FP_KIND_SERVER) | (1u << FP_KIND_CLIENT))

#endif
