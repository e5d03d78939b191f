/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP and WebSocket sessions on top of the parsers (model/proto/http.c, websocket.c):
 * one web_conn per connection of an http or websocket service, fed by model/streams.c.
 *
 * - HTTP exchanges (keep-alive, pipelining) leave through sink.exchange.
 * - A 101 upgrade on a websocket service, to a path under one of its `paths` prefixes
 *   (any path if none are configured), makes the connection a BitChat socket: its frames
 *   are parsed and the BitChat view is kept here: connected clients, rooms and their
 *   members, push -> ack latency by message_id, ping -> pong latency, drop reasons.
 * - permessage-deflate (RFC 7692): the 101's Sec-WebSocket-Extensions set up inflating;
 *   at most the service's inflate_max_connections connections inflate at once (the least
 *   recently fed one is evicted for a new one: its compressed messages are no longer
 *   followed, one parse error "desync"), and a message inflating past inflate_max_message
 *   is dropped; both are counted (web__inflate_evicted, web__inflate_too_big).
 * - TLS: once a connection shows a TLS record or plaintext from the SSL uprobes, only
 *   that plaintext is parsed; the syscalls' ciphertext is ignored.
 * No I/O: results leave through the sink; time comes from the caller.
 */
#ifndef FOGPROBE_MODEL_WEB_H
#define FOGPROBE_MODEL_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/config.h"
#include "model/conn.h"
#include "model/proto/http.h"

#define WEB_ROOMS_MAX 4096 /* rooms tracked at once (members, activity) */
#define WEB_CONN_ROOMS 16 /* rooms one connection is counted in */
#define WEB_PENDING 32 /* pushes awaiting an ack, pings awaiting a pong, per connection */

/* Why a BitChat connection ended abnormally (fogcompute_bitchat_connections_dropped_total). */
enum web_drop {
	WEB_DROP_NONE = 0,
	WEB_DROP_ABNORMAL_CLOSE, /* a close frame with a code other than 1000/1001/none */
	WEB_DROP_RESET, /* the TCP connection was reset */
	WEB_DROP_NO_CLOSE_FRAME, /* TCP closed without a close frame */
	WEB_DROP_IDLE_TIMEOUT, /* ... after being silent for the service's idle timeout */
	WEB_DROP_N,
};

struct web_sink {
	/* one HTTP request and its response (x->upgrade for a 101) */
	void (*exchange)(void *ctx, int svc, const struct http_exchange *x);
	/* a data message on a BitChat socket; room "" when it names none */
	void (*message)(void *ctx, const char *room, const char *type);
	void (*dropped)(void *ctx, enum web_drop why);
	void (*message_latency)(void *ctx, const char *room, double seconds);
	void (*p2p_latency)(void *ctx, double seconds);
	void (*room_size)(void *ctx, const char *room, unsigned members);
	/* the parser gave up on a direction: proto "http" or "websocket" */
	void (*parse_error)(void *ctx, int svc, const char *proto, const char *reason);
	void *ctx;
};

/* The same HTTP exchanges, with the end of the connection they were parsed on, for
 * spans. Optional: exchange NULL when spans are off. */
struct web_trace_sink {
	void (*exchange)(void *ctx, int svc, bool is_server, bool tls,
			 const struct http_exchange *x, const struct conn_meta *meta);
	/* a BitChat socket ended: start_ns is its upgrade request's start, tc that request's
	 * traceparent; close_code 0 when no close frame had one; drop WEB_DROP_NONE for a
	 * normal end */
	void (*session)(void *ctx, int svc, bool is_server, bool tls, const struct trace_ctx *tc,
			uint64_t start_ns, uint64_t end_ns, uint16_t close_code,
			enum web_drop drop, const struct conn_meta *meta);
	/* a push acknowledged by the same message_id: push to ack */
	void (*message)(void *ctx, int svc, bool is_server, uint64_t start_ns, uint64_t end_ns,
			const struct conn_meta *meta);
	void *ctx;
};

struct web_opts {
	const struct config *cfg; /* services: protocol, paths, idle timeout */
	struct web_sink sink;
	struct web_trace_sink trace_sink;
};

struct web;
struct web_conn;

struct web *web__new(const struct web_opts *opts);
void web__free(struct web *w); /* accepts NULL */

/* A connection of service svc; is_server: this host's socket is the server end. NULL if
 * out of memory (the connection is then not parsed). */
struct web_conn *web__conn_new(struct web *w, int svc, bool is_server);

/*
 * One chunk of one direction: the first `captured` bytes of `total` (see http__feed), the
 * last tail_len bytes when known (past the first `captured`; more than HTTP_TAIL_MAX are
 * parsed as known bytes after the gap). tls: plaintext from the SSL uprobes. sndq: the
 * socket's send queue at that moment.
 */
void web__data(struct web *w, struct web_conn *c, bool from_client, const uint8_t *data,
	       size_t captured, size_t total, const uint8_t *tail, size_t tail_len, bool tls,
	       uint32_t sndq, uint64_t ts_ns);

/* The socket's send queue, sampled between syscalls (ACKs drain it unseen). */
void web__set_sndq(struct web *w, struct web_conn *c, uint32_t sndq);
/* What the connection's spans carry of it (the remote end only when the daemon was asked
 * to export it). */
void web__set_meta(struct web_conn *c, const struct conn_meta *meta);

void web__reset(struct web_conn *c); /* the connection was reset (before its close) */

/* The connection ended at ts_ns: completes close-delimited responses, reports a drop
 * reason for BitChat sockets, frees c. */
void web__close(struct web *w, struct web_conn *c, uint64_t ts_ns);

/* Forget a connection without reporting (its other end is the one parsed). Frees c. */
void web__forget(struct web *w, struct web_conn *c);

unsigned web__connected(const struct web *w); /* open BitChat sockets */
unsigned web__active_rooms(const struct web *w); /* rooms with at least one member */
uint64_t web__queue_bytes(const struct web *w); /* sum of BitChat sockets' send queues */
uint64_t web__inflate_evicted(const struct web *w); /* inflating connections given up */
uint64_t web__inflate_too_big(const struct web *w); /* messages over inflate_max_message */
unsigned web__inflating(const struct web *w); /* connections holding an inflate place */

#endif
