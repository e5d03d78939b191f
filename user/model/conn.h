/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A TCP lifecycle event of a socket, decoded by collect/tcp.c: what the daemon needs to
 * follow listeners (a service's processes) and to open and close L7 streams.
 */
#ifndef FOGPROBE_MODEL_CONN_H
#define FOGPROBE_MODEL_CONN_H

#include <stdint.h>
#include "model/tcp_stats.h"

enum conn_event_type {
	CONN_OPEN = 1, /* ESTABLISHED; duration = connect latency for active opens */
	CONN_CLOSE, /* established socket closed; duration = lifetime */
	CONN_CONNECT_FAIL, /* reason = enum tcp_connfail */
	CONN_LISTEN,
	CONN_UNLISTEN,
	CONN_RESET, /* reason = enum tcp_dir */
	CONN_EVENT_TYPES,
};

extern const char *const conn_event_names[CONN_EVENT_TYPES];

/* The remote end of a connection: exported only where the operator opts in
 * (otlp.peer_address). */
struct conn_peer {
	uint8_t family; /* AF_INET, AF_INET6; 0: unknown */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
};

/* What the spans of one connection carry of it (model/streams.c keeps it per stream). */
struct conn_meta {
	uint64_t key; /* streams__key(): the connection */
	uint64_t cgroup_id; /* cgroup v2 id of the local socket's owner (its container and
			     * pod); 0: unknown */
	uint64_t connect_ns; /* an active open's SYN_SENT to ESTABLISHED; 0: a server end */
	/* a server end whose client end is a socket of this host that the probe follows:
	 * that client's span is made from this end's exchanges */
	bool local_client;
	uint64_t client_cgroup_id; /* ... its owner's cgroup v2 id */
	struct conn_peer peer; /* family 0: not known or not asked for */
};

struct conn_event {
	enum conn_event_type type;
	int svc; /* -1: no configured service */
	enum tcp_end end;
	uint64_t key; /* streams__key(): one connection */
	uint64_t ts_ns; /* CLOCK_MONOTONIC */
	uint64_t duration_ns;
	uint32_t pid;
	uint64_t cgroup_id; /* cgroup v2 id of the socket's owner (a server end: its listener's) */
	/* CONN_OPEN of a server end: its client end is a socket of this host the probe
	 * follows (TCP_END_CLIENT_LOCALPEER), owned by a process of this cgroup */
	bool local_client;
	uint64_t client_cgroup_id;
	/* for debug logs only: never exported */
	uint64_t sk;
	uint64_t conn_start;
	uint32_t netns;
	uint16_t lport, rport;
	int sk_err;
	unsigned reason;
	char comm[17];
	int family; /* AF_INET, AF_INET6 */
	/* CONN_CLOSE: the kernel's counters of the connection (tcp_sock) */
	uint64_t bytes_sent, bytes_received;
	uint32_t retrans_segs, srtt_us;
	struct conn_peer peer;
};

#endif
