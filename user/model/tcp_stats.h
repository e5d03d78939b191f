/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP state per service as one typed snapshot: the kernel's cumulative counters summed
 * over CPUs, and gauges folded from its live flow and listener tables. collect/tcp.c
 * fills one per refresh; telemetry reads it. Nothing here knows the kernel's layout.
 */
#ifndef FOGPROBE_MODEL_TCP_STATS_H
#define FOGPROBE_MODEL_TCP_STATS_H

#include <stdint.h>
#include "lib/config.h"

#define TCP_MAX_SERVICES CONFIG_MAX_SERVICES

/* Which end of the connection a socket is. A client whose server socket lives on this
 * host too is TCP_END_CLIENT_LOCALPEER: per-service families count each connection once
 * (server view), fogprobe_tcp_* counts every socket. */
enum tcp_end {
	TCP_END_SERVER = 0,
	TCP_END_CLIENT,
	TCP_END_CLIENT_LOCALPEER,
	TCP_ENDS,
};
#define TCP_END_MASK_ONCE ((1u << TCP_END_SERVER) | (1u << TCP_END_CLIENT))

enum tcp_dir { TCP_TX = 0, TCP_RX, TCP_DIRS };

enum tcp_connfail {
	TCP_CONNFAIL_REFUSED = 0, /* RST in SYN_SENT (ECONNREFUSED) */
	TCP_CONNFAIL_TIMEOUT, /* SYN retries exhausted (ETIMEDOUT) */
	TCP_CONNFAIL_UNREACHABLE, /* ICMP: EHOSTUNREACH, ENETUNREACH */
	TCP_CONNFAIL_ABORTED, /* closed by its owner before the handshake ended */
	TCP_CONNFAIL_OTHER,
	TCP_CONNFAILS,
};

/* Latency histogram bounds (us) of RTT and connect duration; bucket i counts
 * bound[i-1] < v <= bound[i], bucket TCP_LAT_BOUNDS counts v > the last (+Inf). */
#define TCP_LAT_BOUNDS 17
extern const uint64_t tcp_lat_bounds_us[TCP_LAT_BOUNDS];

#define TCP_DROP_REASONS 256 /* kernel drop reason codes (skb_drop_reason) */

struct tcp_service_stats {
	uint64_t bytes[TCP_DIRS]; /* TCP payload bytes */
	uint64_t segs[TCP_DIRS]; /* segments, GSO/GRO expanded */
	uint64_t retrans_segs;
	uint64_t retrans_bytes; /* their payload bytes (tcp_info bytes_retrans) */
	uint64_t opens; /* sockets that reached ESTABLISHED */
	uint64_t closes; /* established sockets that closed */
	uint64_t conn_fail[TCP_CONNFAILS];
	uint64_t resets[TCP_DIRS];
	uint64_t timeouts; /* established sockets closed with ETIMEDOUT */
	uint64_t rtt_bucket[TCP_LAT_BOUNDS + 1];
	uint64_t rtt_sum_us;
	uint64_t conn_bucket[TCP_LAT_BOUNDS + 1];
	uint64_t conn_sum_us;
};

struct tcp_snapshot {
	/* cumulative */
	struct tcp_service_stats stats[TCP_MAX_SERVICES][TCP_ENDS];
	uint64_t drops[TCP_MAX_SERVICES + 1][TCP_DROP_REASONS]; /* [TCP_MAX_SERVICES]: none */
	/* kernel name of each drop reason code ("NOT_SPECIFIED"); NULL for a code without
	 * one. Owned by the collector that filled the snapshot. */
	const char *const *drop_reason_names;
	/* gauges */
	uint32_t open[TCP_MAX_SERVICES][TCP_ENDS]; /* established sockets */
	uint32_t listeners[TCP_MAX_SERVICES]; /* listening sockets (SO_REUSEPORT counted) */
	uint64_t flows_live; /* entries in the kernel flow table */
};

#endif
