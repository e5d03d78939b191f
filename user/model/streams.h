/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * L7 stream state per TCP connection (keyed by the kernel socket), bounded in count and
 * evicted on close or when idle, plus the Betanet session logic on top of the parser:
 * request/response pairing, routing timeouts, circuit build time, failures by reason.
 * No I/O: results leave through the sink callbacks; time comes from the caller.
 */
#ifndef FOGPROBE_MODEL_STREAMS_H
#define FOGPROBE_MODEL_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/config.h"
#include "model/proto/betanet.h"
#include "model/web.h"

#define STREAMS_DEFAULT_MAX 16384
#define BETANET_IDLE_NS (30ULL * 1000000000ULL) /* the node's idle timeout */

/* What the Betanet sessions report; ctx is the sink's. */
struct betanet_sink {
	void (*frame)(void *ctx, enum betanet_frame_type t, bool from_server, uint32_t wire_len);
	void (*message_latency)(void *ctx, double seconds);
	void (*routing_latency)(void *ctx, double seconds);
	void (*routing_failure)(void *ctx);
	void (*circuit_build)(void *ctx, double seconds);
	/* reason: advert_too_big, bad_handshake, version_mismatch, bad_frame,
	 * aborted_handshake, idle_timeout; NULL when the probe itself lost the framing
	 * (a length prefix fell outside the captured prefix) - not a node failure. */
	void (*failure)(void *ctx, const char *reason);
	void *ctx;
};

/* Spans of the Betanet sessions (optional: NULL functions when spans are off). */
struct betanet_trace_sink {
	/* connect (client end) or accept (server end) to the handshake's end; failure:
	 * why it never completed (NULL: it did) */
	void (*circuit)(void *ctx, int svc, bool is_server, uint64_t start_ns, uint64_t end_ns,
			const char *failure, const struct conn_meta *meta);
	/* a request frame (data or control) and the response that answered it */
	void (*message)(void *ctx, int svc, bool is_server, bool data, uint64_t start_ns,
			uint64_t end_ns, const struct conn_meta *meta);
	void *ctx;
};

struct streams_opts {
	size_t max_streams; /* 0: STREAMS_DEFAULT_MAX */
	uint64_t routing_timeout_ns; /* 0: 5 s */
	const struct config *cfg; /* each service's protocol picks the session logic */
	struct betanet_sink sink;
	struct web_sink web_sink; /* http and websocket services */
	struct web_trace_sink web_trace_sink; /* optional: spans of their exchanges */
	struct betanet_trace_sink trace_sink; /* optional: spans of the Betanet sessions */
};

struct streams;

/* The key of a connection: the kernel reuses socket addresses, so the socket and the
 * time its flow started (fp_flow.start_ns) together. */
static inline uint64_t streams__key(uint64_t sk, uint64_t conn_start)
{
	return sk ^ (conn_start * 0x9E3779B97F4A7C15ULL);
}

struct streams *streams__new(const struct streams_opts *opts);
void streams__free(struct streams *s); /* accepts NULL */

/*
 * A connection opened (ESTABLISHED). start_ns is when its open began: the connect()
 * for the client end (circuit build is measured from there), the handshake completion
 * for the server end. is_server: this host's socket is the server end.
 */
void streams__open(struct streams *s, uint64_t sk, int svc, bool is_server, uint64_t start_ns);
/* The remote end of an open connection, for the spans of its exchanges. */
/* What the connection's spans carry of it (set at its open when spans are on). */
void streams__set_meta(struct streams *s, uint64_t sk, const struct conn_meta *meta);

/* The first bytes of a frame found past the captured prefix (the kernel's framing
 * assist): `len` bytes at offset `off` of the chunk. */
struct stream_snip {
	uint32_t off;
	uint8_t len;
	const uint8_t *bytes;
};

/* One chunk of one direction of a connection of service svc. */
struct stream_chunk {
	bool is_server; /* this host's socket is the server end */
	bool tx; /* written by this host's socket */
	bool tls; /* plaintext from the SSL uprobes */
	uint32_t sndq; /* the socket's send queue */
	const uint8_t *data; /* the first `captured` bytes of `total` */
	size_t captured, total;
	const struct stream_snip *snips; /* ascending offsets inside the rest */
	size_t nsnip;
	const uint8_t *tail; /* the last tail_len bytes of `total`, past `captured` */
	size_t tail_len;
	uint64_t ts_ns;
};

void streams__data(struct streams *s, uint64_t sk, int svc, const struct stream_chunk *ch);

/* The socket's send queue now (see web__set_sndq). */
void streams__set_sndq(struct streams *s, uint64_t sk, uint32_t sndq);

/* The connection was reset (the close follows). */
void streams__reset(struct streams *s, uint64_t sk);

/* The connection closed. Outstanding requests become routing failures; a close before
 * the handshake completed is an aborted handshake (resets are counted from the
 * kernel's counters, not here). It takes effect once the bytes moved before it have
 * been handed over (streams__tick's time past ts_ns) and a grace after: short when
 * clean (no socket error, no reset: the owner moved its last byte before the close),
 * STREAMS_CLOSE_GRACE_NS otherwise (after a reset the owner may still read what the
 * socket holds). */
#define STREAMS_CLEAN_GRACE_NS 50000000ULL
#define STREAMS_CLOSE_GRACE_NS 300000000ULL
void streams__close(struct streams *s, uint64_t sk, uint64_t ts_ns, bool clean);

/* Drop a connection's state without reporting anything: its other end is the one
 * parsed (a client whose server runs on this host). */
void streams__forget(struct streams *s, uint64_t sk);

/* Routing timeouts and idle connections as of now_ns. Call periodically. */
void streams__tick(struct streams *s, uint64_t now_ns);

size_t streams__count(const struct streams *s);
size_t streams__handshaken(const struct streams *s); /* connections past the handshake */
const struct web *streams__web(const struct streams *s); /* the HTTP/WebSocket view */
/* connections dropped because the table was full, and finished connections forgotten
 * early (closes faster than the closed-key ring takes: their late bytes would start a
 * stream of their own) */
uint64_t streams__evicted(const struct streams *s);

#endif
