/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Spans of the exchanges the model completes (OpenTelemetry semantic conventions for
 * HTTP), sampled, and a bounded queue between the event loop that builds them and the
 * exporter thread that sends them (export/otlp.c). Pushing never blocks: a full queue
 * drops the span and counts it. Thread-safe.
 *
 * Trace context: a request that carried a valid W3C traceparent gets a server span in
 * that trace whose parent is the caller's span; a client span takes the traceparent's
 * parent-id as its own id, so that the server span of the same request, seen on another
 * host, is its child. Without one, ids are new and random (the W3C random flag set).
 *
 * Sampling: the caller's sampled flag when it sent one, else a ratio of trace ids (the
 * same decision for every span of a trace); server errors (5xx), requests without a
 * response and exchanges slower than keep_slower_ms are always kept.
 *
 * Privacy: no peer address unless the operator opts in (then cut to a prefix if asked),
 * no payload, no query string (the parser already drops it).
 * server.address is the Host the client asked for (the server's own name).
 */
#ifndef FOGPROBE_TELEMETRY_SPANS_H
#define FOGPROBE_TELEMETRY_SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/config.h"
#include "model/conn.h"
#include "model/host.h"
#include "model/proto/http.h"
#include "model/streams.h"
#include "model/web.h"
#include "telemetry/metrics.h"

enum span_kind { SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3 }; /* OTLP Span.SpanKind */
enum span_status { SPAN_STATUS_UNSET = 0, SPAN_STATUS_ERROR = 2 }; /* OTLP Status.code */

/* Why spans were lost (fogprobe_otlp_spans_dropped_total{reason}). */
enum span_drop {
	SPAN_DROP_QUEUE_FULL, /* the queue was full when the span was built */
	SPAN_DROP_REJECTED, /* the collector refused the request (a 4xx other than 429) */
	SPAN_DROP_PARTIAL, /* the collector accepted the request but rejected these spans */
	SPAN_DROP_RETRIES, /* still failing after retry_max_s of retries */
	SPAN_DROP_SHUTDOWN, /* queued at exit */
	SPAN_DROP_N,
};

extern const char *const span_drop_names[SPAN_DROP_N];

#define SPAN_NAME_MAX (HTTP_METHOD_MAX + CONFIG_ROUTE_LEN)
#define SPAN_ATTRS 4 /* string attributes of a span that is not HTTP */
#define SPAN_PEER_MAX 46 /* INET6_ADDRSTRLEN */
#define SPAN_INTS 6 /* integer attributes of a span that is not HTTP */

enum span_type { SPAN_HTTP = 0, SPAN_OTHER };

struct span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	bool has_parent;
	bool remote_parent; /* the parent came in a traceparent header */
	uint8_t flags; /* W3C trace-flags */
	uint8_t kind; /* enum span_kind */
	uint8_t status; /* enum span_status */
	int16_t svc;
	uint64_t start_ns, end_ns; /* Unix epoch */
	char name[SPAN_NAME_MAX];
	/* HTTP attributes */
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	char route[CONFIG_ROUTE_LEN]; /* server spans */
	uint16_t status_code; /* 0: no response */
	char version[4]; /* network.protocol.version: "1.0", "1.1"; "" unknown */
	bool tls;
	char error_type[24]; /* "" none */
	/* server.address and server.port: the request's Host (the name the client asked
	 * for, not a peer address), its port or the scheme's; "" and 0 without a Host */
	char server_address[HTTP_HOST_MAX];
	uint16_t server_port;
	char trace_state[HTTP_TRACESTATE_MAX]; /* W3C tracestate with the traceparent; "" */
	/* network.peer.address: only with otlp.peer_address, cut to its prefixes; "" */
	char peer_address[SPAN_PEER_MAX];
	/* resource: the container and pod of the local socket's owner ("": none, unknown) */
	struct cgroup_ref origin;
	/* SPAN_OTHER: up to SPAN_ATTRS string and SPAN_INTS integer attributes; keys static */
	uint8_t type;
	uint8_t n_attrs, n_ints;
	struct {
		const char *key;
		char value[48];
	} attrs[SPAN_ATTRS];
	const char *int_keys[SPAN_INTS];
	int64_t int_values[SPAN_INTS];
	const char *event; /* a span event's name (static), NULL: none */
	uint64_t event_ns; /* Unix epoch */
};

/* A span that is not an HTTP exchange (BitChat sessions and messages, Betanet circuits
 * and messages). Times on CLOCK_MONOTONIC. */
struct span_desc {
	int svc;
	bool is_server;
	bool sampled_always; /* kept whatever the ratio (sessions, circuits) */
	bool error;
	const char *name;
	uint64_t start_ns, end_ns;
	const struct trace_ctx *parent; /* NULL or invalid: a new trace */
	const char *keys[SPAN_ATTRS]; /* the first NULL ends them */
	const char *values[SPAN_ATTRS];
	const char *int_keys[SPAN_INTS]; /* the first NULL ends them */
	int64_t int_values[SPAN_INTS];
	const char *event; /* at end_ns */
	const struct conn_meta *meta; /* the connection's; NULL: unknown */
};

/* Where a connection's exemplar goes (telemetry/tcp_metrics.c). exported: its span reached
 * the collector already. */
struct spans_tcp_sink {
	void (*exemplar)(void *ctx, int svc, bool is_server, uint32_t srtt_us, uint64_t connect_ns,
			 const struct metrics_exemplar *ex, bool exported);
	void *ctx;
};

struct spans_opts {
	const struct config *cfg; /* services (names, route patterns) and otlp */
	struct metrics *reg; /* fogprobe_otlp_queue_spans, _spans_dropped_total */
	uint64_t seed; /* 0: from getrandom() */
	/* The container and pod of a cgroup v2 id (collect's cache); NULL: none resolved. */
	bool (*cgroup_ref)(void *ctx, uint64_t cgroup_id, struct cgroup_ref *out);
	void *cgroup_ctx;
	struct spans_tcp_sink tcp; /* the connections' exemplars; NULL function: none */
};

struct spans;

struct spans *spans__new(const struct spans_opts *opts);
void spans__free(struct spans *sp); /* accepts NULL */

/* Head sampling: keep a trace id at this ratio (pure; the same id, the same answer). */
bool spans__ratio_keeps(const uint8_t trace_id[16], double ratio);

/*
 * Build the span of one HTTP exchange (x->start_ns/end_ns on CLOCK_MONOTONIC) and queue
 * it if sampled. Returns true and fills *out (may be NULL) with the span when it was
 * kept and queued.
 */
bool spans__http(struct spans *sp, int svc, bool is_server, bool tls,
		 const struct http_exchange *x, struct span *out);
/* The same, with what is known of the connection (NULL: nothing): the container and pod
 * of its socket's owner (resource attributes) and its remote end, which the span carries
 * as network.peer.address only when the operator opted in (otlp.peer_address), with the
 * bits past peer_prefix_ipv4/_ipv6 zeroed. */
bool spans__http_conn(struct spans *sp, int svc, bool is_server, bool tls,
		      const struct http_exchange *x, const struct conn_meta *meta,
		      struct span *out);
/* A peer address as the spans export it under cfg ("" when not exported): pure. */
void spans__peer_format(const struct otlp_config *cfg, const struct conn_peer *peer, char *out,
			size_t size);

/* The span kept for exchange x by the last spans__http call on this thread (the same x,
 * just before the exchange is counted): ex filled, true; false when none was kept. */
bool spans__exemplar_for(struct spans *sp, const struct http_exchange *x,
			 struct metrics_exemplar *ex);

bool spans__other(struct spans *sp, const struct span_desc *d, struct span *out);
/* The exemplar of an observation of `seconds` that measures the span the last
 * spans__other call kept (same duration); false otherwise. */
bool spans__exemplar_other(struct spans *sp, double seconds, struct metrics_exemplar *ex);
/* The ids of the span the last spans__other call (on this thread) kept; false if none. */
bool spans__last_other(struct spans *sp, uint8_t trace_id[16], uint8_t span_id[8]);

/* A closed connection of a service (otlp.tcp_spans): a "TCP connection" span from its
 * open (or first sight) to its close with the kernel's own counters of it; sampled by
 * the ratio, kept when it ended in an error. No address: server.port only. */
void spans__tcp(struct spans *sp, const struct conn_event *e);

/*
 * A connection of a service closed (e: CONN_CLOSE). The last span kept on it, whether
 * before or after this call (the close and the bytes come through different rings),
 * goes to the tcp sink with the connection's smoothed RTT at the close and its connect
 * time: the exemplar of its TCP histograms. A table of SPANS_CONN_SLOTS direct-mapped
 * places: a connection whose place another one holds gives none (exemplars are
 * examples: none is owed).
 */
#define SPANS_CONN_SLOTS 4096
void spans__conn_close(struct spans *sp, const struct conn_event *e);
/* The exporter's word that these spans reached the collector: their ids as ids__of()
 * gives them, sorted (ids__sort). */
void spans__confirm(struct spans *sp, const uint64_t *sorted_ids, size_t n);

/* The model's trace sinks, feeding spans__http and spans__other. */
struct web_trace_sink spans__web_sink(struct spans *sp);
struct betanet_trace_sink spans__betanet_sink(struct spans *sp);

/* Up to max spans, oldest first, waiting until max are queued, until deadline_ns
 * (CLOCK_MONOTONIC), or until spans__close. Returns how many. */
size_t spans__take(struct spans *sp, struct span *out, size_t max, uint64_t deadline_ns);
/* Wake spans__take for good (it then returns what is queued without waiting). */
void spans__close(struct spans *sp);
size_t spans__queued(struct spans *sp);
void spans__dropped(struct spans *sp, enum span_drop why, uint64_t n);
uint64_t spans__dropped_count(struct spans *sp, enum span_drop why);
/* Spans sent and accepted, counted by the exporter. */
void spans__exported(struct spans *sp, uint64_t n);
uint64_t spans__exported_count(struct spans *sp);

/* fogprobe_otlp_queue_spans (at each scrape). */
void spans__update(struct spans *sp);

#endif
