/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Everything the probe could not keep, by reason: each collector and model stage adds
 * its cumulative counts, and fogprobe_events_lost_total exports every reason, zeros
 * included, so that a loss is never silent.
 */
#ifndef FOGPROBE_MODEL_LOSSES_H
#define FOGPROBE_MODEL_LOSSES_H

#include <stdint.h>

enum loss_reason {
	LOSS_RINGBUF_FULL = 0, /* TCP lifecycle record: ring buffer full */
	LOSS_LISTENER_MAP_FULL,
	LOSS_FLOW_MAP_UPDATE,
	LOSS_TUPLE_MAP_UPDATE,
	LOSS_FLOW_EVICTED, /* flows the LRU evicted without a close (the table was full) */
	LOSS_FLOW_UNCLOSED, /* a dead socket's flow, its close skipped, met at a new socket */
	LOSS_CGROUP_MAP_FULL, /* a cgroup's bytes not counted */
	LOSS_OLDER_SOCKET_MAP_FULL, /* a socket older than the probe kept no baseline */
	LOSS_L7_RINGBUF_FULL,
	LOSS_L7_STREAM_TABLE_FULL,
	LOSS_L7_MALFORMED,
	LOSS_L7_DESYNC, /* a Betanet stream lost its framing */
	LOSS_PROC_RINGBUF_FULL,
	LOSS_PROC_TASK_MAP_FULL,
	LOSS_RUNQUEUE_START_MAP_FULL,
	LOSS_RUNQUEUE_WAITS_MERGED, /* run-queue waits of a thread whose switch went unseen */
	LOSS_PROC_MALFORMED,
	LOSS_TLS_UNKNOWN_SOCKET, /* an SSL call whose socket stayed unknown */
	LOSS_TLS_RINGBUF_FULL, /* an exec record: that process waits for the rescan */
	LOSS_TLS_SESSION_JOINED, /* a TLS session first seen after its handshake */
	LOSS_BPF_RECURSION, /* program runs the kernel skipped (recursion_misses) */
	LOSS_WS_INFLATE_EVICTED, /* permessage-deflate connections no longer inflated */
	LOSS_WS_INFLATE_TOO_BIG, /* compressed messages dropped past inflate_max_message */
	LOSS_REASONS,
};

/* "ringbuf_full", ...: the values of the reason label */
extern const char *const loss_reason_names[LOSS_REASONS];

struct losses {
	uint64_t n[LOSS_REASONS]; /* cumulative */
	uint8_t known[LOSS_REASONS]; /* 1: some running stage counts this reason */
};

static inline void losses__set(struct losses *l, enum loss_reason r, uint64_t total)
{
	l->n[r] = total;
	l->known[r] = 1;
}

#endif
