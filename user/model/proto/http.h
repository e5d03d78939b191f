/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP/1.x wire parser (RFC 9112 framing). Pure: no I/O, no globals, no heap.
 *
 * One struct http_conn per TCP connection, fed the bytes of each direction in order as
 * chunks seen at read/write syscalls (or SSL_read / SSL_write). A chunk has `total` bytes
 * of which only the first `captured` are known; the rest is a gap of known length. When
 * captured < total the caller may also pass the chunk's last `tail_len` (<= 16) bytes,
 * data[total - tail_len, total).
 *
 * Events: each request observed ends in exactly one event: EXCHANGE (request and final
 * response complete), UPGRADE (101, or a 2xx answer to CONNECT), or ERROR with x filled in
 * (desync, bad_header, too_many_pipelined, no_response, no_memory). An ERROR that concerns no
 * request (not_http; desync or bad_header with no request read; no_request, a response
 * whose request was not seen) has an empty x.
 *
 * Gaps: body bytes in a gap are counted off (lengths are known). A chunked body whose
 * size line falls in a gap ends with the chunk whose known last bytes (all of a captured
 * chunk, else the tail) are the last-chunk "\r\n0\r\n\r\n" (no trailers). A head cut by
 * a gap after its start line keeps what the start line says (method, path, status): it
 * ends with its chunk when it cannot have a body (1xx, 204, 304, HEAD; a 101 switches
 * there), and otherwise, like a chunked body with no tail to tell, ends with the last
 * chunk of its direction before (a) the next chunk of that direction that starts with a
 * start line, (b) for a request, the status line of its final response, (c) for a
 * response, a new request with no other request outstanding, or (d) the close.
 *
 * ERROR reasons (static strings, compare with strcmp or by pointer to HTTP_ERR_*):
 *   "not_http"           a direction's first bytes are not an HTTP/1.x start line (e.g. a
 *                        TLS ClientHello); reported once per connection. The direction
 *                        then waits for a chunk that begins with a request line (client:
 *                        a known method and a space) or "HTTP/1." (server)
 *   "desync"             framing was lost: a start line (or the gap after a message's
 *                        end) fell in a gap, chunk data ran past its size, or a start line
 *                        was expected and something else came. Reported once per loss;
 *                        the direction then waits as after "not_http". When the server
 *                        direction loses sync, the request whose response was being read
 *                        (or was due next) is reported "desync" (x filled) and dropped
 *                        instead; when the client direction loses it inside a request,
 *                        that request is reported (x filled) and its response skipped
 *   "bad_header"         a malformed header line (no colon, bad name), Content-Length
 *                        (not digits, conflicting values), chunk size, or a request
 *                        Transfer-Encoding that does not end in chunked: the direction
 *                        then waits for a new start line as after "desync"
 *   "too_many_pipelined" a request line came while HTTP_PIPELINE_MAX requests were
 *                        outstanding: the request is dropped (x has its method and
 *                        path), its bytes are still parsed for framing and its
 *                        response, when it comes, is skipped
 *   "no_response"        the connection closed before the request's response completed
 *   "no_memory"          a line split between chunks found no memory for the direction's
 *                        line buffer (allocated at the first such line): the direction
 *                        then waits for a new start line as after "desync"
 *   "no_request"         a response completed with no request to pair with (its request
 *                        came before the capture began, or in bytes not captured, e.g. an
 *                        SSL_read before its binary was hooked); x is empty. Parsing
 *                        goes on
 */
#ifndef FOGPROBE_MODEL_PROTO_HTTP_H
#define FOGPROBE_MODEL_PROTO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/proto/traceparent.h"

#define HTTP_METHOD_MAX 16 /* incl. NUL */
#define HTTP_PATH_MAX 256 /* raw target path kept, incl. NUL; longer is truncated */
#define HTTP_PIPELINE_MAX 16 /* outstanding requests remembered per connection */
#define HTTP_UPGRADE_MAX 16 /* incl. NUL */
#define HTTP_LINE_MAX 512 /* start and header lines kept; the rest of a longer line is skipped */
#define HTTP_TAIL_MAX 16 /* known last bytes of a chunk with a gap */
#define HTTP_WS_EXT_MAX 192 /* a 101's Sec-WebSocket-Extensions value kept, incl. NUL */
#define HTTP_HOST_MAX 64 /* a request's Host value kept, incl. NUL; longer: none */
#define HTTP_TRACESTATE_MAX 256 /* W3C tracestate kept, incl. NUL; list-members that do not
				   fit are dropped from the end (the spec's truncation) */

extern const char HTTP_ERR_NOT_HTTP[]; /* "not_http" */
extern const char HTTP_ERR_DESYNC[]; /* "desync" */
extern const char HTTP_ERR_BAD_HEADER[]; /* "bad_header" */
extern const char HTTP_ERR_TOO_MANY_PIPELINED[]; /* "too_many_pipelined" */
extern const char HTTP_ERR_NO_RESPONSE[]; /* "no_response" */
extern const char HTTP_ERR_NO_MEMORY[]; /* "no_memory" */
extern const char HTTP_ERR_NO_REQUEST[]; /* "no_request" */

enum http_event_type {
	HTTP_EV_EXCHANGE, /* a request and its response both complete */
	HTTP_EV_UPGRADE, /* 101 Switching Protocols accepted an Upgrade (e.g. websocket), or
			    a 2xx answered CONNECT: the bytes after the response's head are not
			    HTTP; http__feed returns how many bytes of the current chunk of each
			    direction were HTTP, and the parser stops */
	HTTP_EV_ERROR, /* the stream is not HTTP/1.x or framing was lost (see reasons) */
};

struct http_exchange {
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX]; /* request-target up to '?' or '#' (query dropped);
				     absolute-form "http://h/p" reduced to "/p" */
	bool path_truncated;
	uint16_t status; /* final status (1xx interim responses such as 100 Continue are
			    skipped, except 101); 0 when no response was seen */
	uint64_t req_bytes; /* request bytes on the wire: head + body */
	uint64_t resp_bytes; /* response bytes on the wire: all heads incl. 100 + body */
	uint64_t start_ns; /* ts of the chunk holding the request's first byte */
	uint64_t end_ns; /* ts of the chunk holding the response's last byte */
	bool upgrade; /* 101 + Upgrade, or CONNECT + 2xx */
	char upgrade_proto[HTTP_UPGRADE_MAX]; /* value of Upgrade: lowercased, e.g.
						 "websocket"; "connect" for CONNECT */
	struct trace_ctx trace; /* the request's traceparent header; .valid false: none */
	uint8_t minor; /* the request line's HTTP/1.x: x ('0', '1'), 0 when unknown */
	/* EXCHANGE events only, valid during the callback: the request's Host value and
	 * tracestate (several lines joined with ","), NULL when it had none or it did not
	 * fit (the connection keeps one of each: a pipelined request behind it may have
	 * replaced them, and then they are NULL too) */
	const char *host;
	const char *tracestate;
};

struct http_event {
	enum http_event_type type;
	struct http_exchange x; /* EXCHANGE, UPGRADE; ERROR: the request concerned, if any */
	const char *reason; /* ERROR: one of HTTP_ERR_*, static */
	/*
	 * UPGRADE: the response's Sec-WebSocket-Extensions (RFC 6455 9.1; several header
	 * lines joined with ", "): "" when it has none, NULL when it cannot be known (a
	 * line longer than HTTP_LINE_MAX or the value longer than HTTP_WS_EXT_MAX - 1, or a
	 * gap cut the head). Valid during the callback only.
	 */
	const char *ws_extensions;
};

typedef void (*http_event_fn)(void *ctx, const struct http_event *ev);

/* A request seen, waiting for its response (internal; sized so the conn embeds). Its
 * exchange is kept in the event that reports it: handed to the callback where it lies. */
struct http_pending {
	struct http_event ev; /* ev.x: the exchange */
	uint32_t seq; /* identifies the entry for the direction parsing its message */
	uint16_t skip_before; /* responses of dropped requests due before this one's */
	bool req_done;
	bool resp_done;
	bool head; /* HEAD request: its response has no body */
	bool connect; /* CONNECT request: a 2xx response starts a tunnel */
};

/* Per-direction decoder state (internal). */
struct http_dir {
	uint8_t state;
	bool line_long; /* the line overflowed line[]: the rest up to LF is skipped */
	bool synced_once; /* a valid start line was seen: later garbage is "desync" */
	bool chunked;
	bool te_seen; /* Transfer-Encoding present (its last coding decides chunked) */
	bool has_length;
	bool want_upgrade; /* request: Upgrade header seen */
	bool interim; /* response: continuing after a 1xx interim head */
	bool lost_trailer; /* chunked framing lost inside the trailer section */
	uint16_t line_len;
	uint16_t status;
	uint32_t seq; /* the pending entry this message belongs to; 0: none */
	uint64_t length; /* Content-Length */
	uint64_t left; /* body or chunk-data bytes still to pass */
	uint64_t msg_bytes; /* bytes of the current message (or 1xx head) so far */
	uint64_t start_ns;
	uint64_t last_ts; /* ts of the last chunk fed */
	bool trace_seen; /* request: a traceparent line was read */
	struct trace_ctx trace;
	char upgrade[HTTP_UPGRADE_MAX];
	char *line; /* HTTP_LINE_MAX bytes, allocated for the first line split between chunks */
};

/* Outstanding requests held in the connection itself; more (up to HTTP_PIPELINE_MAX, a
 * pipelining client) move to the heap until all are answered. */
#define HTTP_PIPELINE_INLINE 2

struct http_conn {
	struct http_dir dir[2]; /* [0] client->server (requests), [1] server->client */
	/* outstanding requests, oldest first: q_heap when not NULL (HTTP_PIPELINE_MAX
	 * places), else q_inline */
	struct http_pending q_inline[HTTP_PIPELINE_INLINE];
	struct http_pending *q_heap;
	uint8_t nq;
	bool upgraded;
	bool not_http_seen; /* "not_http" is reported once per connection */
	uint16_t tail_skip; /* responses of dropped requests due after the last entry */
	uint8_t ws_ext_state; /* the current response's Sec-WebSocket-Extensions (internal) */
	uint8_t ws_ext_len;
	char ws_ext[HTTP_WS_EXT_MAX];
	uint32_t next_seq;
	uint32_t host_seq, tracestate_seq; /* the request they belong to; 0: none */
	char host[HTTP_HOST_MAX];
	char tracestate[HTTP_TRACESTATE_MAX];
	/* counters for the caller's diagnostics */
	uint64_t orphan_responses; /* responses with no request known to pair with */
};

void http__init(struct http_conn *c);
/* What the connection holds besides itself (http__close frees it too). */
void http__free(struct http_conn *c);

/*
 * Feed one chunk of one direction (see the top of this file). Calls fn for each event the
 * chunk completes, in order. Returns the number of bytes of this chunk that were HTTP:
 * == total normally; less when an upgrade took effect inside the chunk (the rest belongs
 * to the upgraded protocol), or, on the client side, for bytes sent after an Upgrade or
 * CONNECT request and before its response (they are not parsed as HTTP). 0 once
 * upgraded. Never reads beyond data[captured - 1] or tail[tail_len - 1].
 */
size_t http__feed(struct http_conn *c, bool from_client, const uint8_t *data, size_t captured,
		  size_t total, const uint8_t *tail, size_t tail_len, uint64_t ts_ns,
		  http_event_fn fn, void *ctx);

/*
 * The connection closed at ts_ns: a response delimited by close (no Content-Length, not
 * chunked, not a HEAD/204/304 response), or one whose end a gap hid, completes now (its
 * end_ns stays the ts of the chunk holding its last byte); requests still without a
 * response are reported as ERROR "no_response" (one per request, with x filled in), and a
 * request whose response came but whose own end was not seen as EXCHANGE. The conn is
 * then reset (http__init), ready for reuse.
 */
void http__close(struct http_conn *c, uint64_t ts_ns, http_event_fn fn, void *ctx);

bool http__upgraded(const struct http_conn *c);

/*
 * Route template of a raw path (query already dropped), NUL-terminated into out
 * (truncated to outlen). Patterns (may be NULL/0) are tried first, in order: Next.js
 * style "/api/betanet/nodes/[id]" matches exactly one segment per [x], "[...x]" one or
 * more remaining segments, "[[...x]]" zero or more; a match yields the pattern with "[x]"
 * written as ":x" and "[...x]"/"[[...x]]" as ":x*", and returns true. Otherwise each
 * segment that looks like an identifier becomes ":id":
 *   - all decimal digits ("42");
 *   - a UUID, 8-4-4-4-12 hex digits, alone or after a word prefix ending in '-' or '_'
 *     ("node-6f1c2a7e-94d3-4b8a-a1f0-3c5d9e2b7a10");
 *   - 16 or more hex digits (hashes, object ids);
 *   - 8 to 15 hex digits with at least one digit and at least one letter a-f (short
 *     hashes such as "3f2a9c1b"; "deadbeef" and "12345678"-like words stay or are
 *     numbers).
 * Empty segments ("//") are kept as they are. Returns false when no pattern matched.
 */
bool http__route(const char *path, const char *const *patterns, size_t npatterns, char *out,
		 size_t outlen);

#endif
