/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loads and attaches bpf/l7.bpf.c (payload prefixes of read/write syscalls on sockets of
 * services whose protocol needs L7 parsing) and decodes its ring buffer. It shares the
 * TCP collector's flow table, which tells it the socket's service and end.
 */
#ifndef FOGPROBE_COLLECT_L7_H
#define FOGPROBE_COLLECT_L7_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <l7.h> /* include/l7.h, not collect/l7.h */
#include <tcp.h> /* include/tcp.h, not collect/tcp.h */
#include "collect/collector.h"

struct l7_collector;

struct l7_collector_opts {
	int flows_fd;	   /* the TCP collector's flow table */
	int gone_flows_fd; /* and its flows of sockets gone to CLOSE */
	int sndq_fd;	   /* and its send queues as of each socket's last segment */
	bool sndq_iterator; /* l7__sndq_iterator(): probed once, by the caller */
	/* per service: enum fp_l7_mode, the prefix in bytes (1..FP_L7_CAP_MAX), and
	 * server_in_order: its server ends' records are handed over as they come, not held
	 * for reordering (HTTP: a request is read before its response can be written) */
	struct fp_l7_svc svc[FP_MAX_SERVICES];
	const char *disable; /* hook prefixes not to use (see tcp__plan) */
	struct collector_sinks sinks; /* chunk: each record, in its connection's order */
};

/* Will the send queues be read by the map iterator (else kept by the kernel at each
 * segment, read and write: tcp_collector_opts.sndq_services, FP_L7_SNDQ_KEEP)? */
bool l7__sndq_iterator(const char *disable);
/* The hooks of the capture feature, for `fogprobe check`. Returns the count. */
size_t l7__plan(struct hook *hooks, size_t max, const char *disable);

/* 0 or -errno. Optional feature: the caller reports a failure and runs without it. */
int l7__open(const struct l7_collector_opts *opts, struct l7_collector **out);
void l7__close(struct l7_collector *c); /* accepts NULL */
/* What to capture of service svc, from its config now (a service added by a reload).
 * 0 or -errno. */
int l7__set_service(struct l7_collector *c, int svc, const struct service_config *sc,
		    uint32_t capture_bytes);

/* A process found holding a socket of service svc before the probe started (the /proc
 * scan of listeners): its syscalls are followed from now on, as after an accept() seen,
 * where the capture is on the syscall tracepoints (the socket hooks need no list). 0 also
 * without a collector or when svc has no capture; -errno when the task table refused it. */
int l7__watch_process(struct l7_collector *c, __u32 tgid, int svc);
typedef void (*l7_sndq_fn)(void *ctx, uint64_t key, uint32_t sndq); /* streams__key() */

/* The send queue of each established socket of the services that ask for it
 * (fp_l7_svc.sndq): read now by a map iterator, or where the kernel refuses iterators,
 * as of the socket's last inbound segment, read or write (sndq_now). 0 or -errno. */
int l7__read_sndq(struct l7_collector *c, l7_sndq_fn fn, void *ctx);

int l7__epoll_fd(const struct l7_collector *c);
/* Read the ring, then hand over (sinks.chunk) the records whose turn has come: a
 * connection's records in the order of its bytes, some 50 ms after they happened
 * (model/reorder.h). Returns the records read or -errno. */
int l7__consume(struct l7_collector *c);
/* CLOCK_MONOTONIC ns: every record older than this has been handed over (a close's
 * grace is measured against it, not against the clock) */
__u64 l7__released_until(const struct l7_collector *c);

/* Records lost to a full ring, cumulative. */
int l7__ring_full(const struct l7_collector *c, __u64 *lost);
/* L7_RINGBUF_FULL and L7_MALFORMED */
void l7__losses(const struct l7_collector *c, struct losses *l);
size_t l7__hooks(const struct l7_collector *c, const struct hook **hooks);
/* fd of one of the capture's maps by name (flows, l7_svc, l7_events, l7_stats, l7_ssl,
 * l7_tasks), for the TLS uprobes that feed the same ring; -ENOENT if there is none. */
int l7__map_fd(const struct l7_collector *c, const char *name);
size_t l7__prog_stats(const struct l7_collector *c, struct prog_stats *out, size_t max);

#endif
