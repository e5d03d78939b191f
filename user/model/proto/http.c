// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP/1.x wire parser: one state machine per direction over chunks whose end may be a gap,
 * and a FIFO pairing requests with responses (HTTP/1.x answers in request order, RFC 9112
 * section 9.3.2).
 *
 * Decisions the RFCs leave to an observer (see http.h for the API):
 * - Start and header lines go through a HTTP_LINE_MAX buffer; a longer line keeps its
 *   first HTTP_LINE_MAX - 1 bytes (enough for the header name and the start of the value)
 *   and the rest up to LF is counted but not stored. Bare LF ends a line like CRLF
 *   (RFC 9112 section 2.2 allows it); empty lines before a start line are skipped.
 * - A request line needs a method from a fixed list (the RFC 9110 methods, PATCH and the
 *   WebDAV ones): the first bytes of a binary protocol are rejected after a few bytes
 *   instead of after HTTP_LINE_MAX, and resynchronising on a chunk that merely starts
 *   with capitals is unlikely. A status line needs "HTTP/1.x NNN" with NNN in 100..599.
 * - A request enters the FIFO at its request line (so a response that comes before the
 *   request's body ends, e.g. after "Expect: 100-continue" or an early 413, still pairs);
 *   a response picks its request at its first status line and keeps it across 1xx heads.
 * - Request bodies: chunked, else Content-Length, else none (RFC 9112 section 6.3). A
 *   Transfer-Encoding whose last coding is not chunked makes a request unreadable
 *   ("bad_header") and a response delimited by close.
 * - Any 101 switches protocols (the Upgrade header is optional to read: the server has
 *   switched whatever it names); so does a 2xx answer to CONNECT (a tunnel).
 * - After a request carrying Upgrade or CONNECT, the client's next bytes are HTTP only if
 *   a chunk starts with a request line; others are reported as not HTTP through the return
 *   value until the response says whether the switch happened.
 * - Loss of framing in a chunked body keeps the message: it ends with the chunk whose
 *   known last bytes are the last-chunk "0\r\n\r\n" (after a CRLF when that byte is known;
 *   or "\r\n\r\n" when the loss was inside the trailers), or as for a cut head below.
 * - A head cut by a gap after its start line keeps the message too (heads longer than the
 *   captured prefix are common: cookies, framework headers). Its end is taken from the
 *   other side (finish_lost): a server answers once the request is in, and a keep-alive
 *   client sends its next request once the response is in. A pipelining client breaks
 *   the second rule: the response is then ended too soon (resp_bytes and end_ns short).
 *   Either way, chunks that follow and start no message are taken for the rest of the
 *   ended message and skipped without a report.
 * - When the server direction loses sync, the request whose response was being read (or
 *   was due next) is dropped with "desync"; the requests behind it keep waiting, as their
 *   responses normally start chunks of their own (one write each). A response lost whole
 *   inside the same gap would shift the pairing of pipelined requests by one. When the
 *   client direction loses sync inside a request, that request is dropped and its
 *   response skipped.
 *   A request lost in a gap before its request line is counted when the gap came at a
 *   message boundary (one request assumed); more requests inside one gap would shift the
 *   pairing of pipelined responses (a keep-alive client waits for each response).
 * - The response to a request dropped for too_many_pipelined is framed as for a GET: had
 *   it been a HEAD, its Content-Length would be taken for a body.
 *
 * Cost: line bytes are found with memchr and copied once; start-line prefixes are checked
 * over at most 16 bytes per step; body and gap bytes are counted off in one step.
 */
#include <stdlib.h>
#include <string.h>

#include "model/proto/http.h"

/* The outstanding requests, oldest first. */
#define Q(c) ((c)->q_heap ? (c)->q_heap : (c)->q_inline)

const char HTTP_ERR_NOT_HTTP[] = "not_http";
const char HTTP_ERR_DESYNC[] = "desync";
const char HTTP_ERR_BAD_HEADER[] = "bad_header";
const char HTTP_ERR_TOO_MANY_PIPELINED[] = "too_many_pipelined";
const char HTTP_ERR_NO_RESPONSE[] = "no_response";
const char HTTP_ERR_NO_MEMORY[] = "no_memory";
const char HTTP_ERR_NO_REQUEST[] = "no_request";

enum {
	ST_START = 0, /* zero: a zeroed direction expects a start line */
	ST_HEADER,
	ST_BODY, /* Content-Length body: left bytes to go */
	ST_CHUNK_SIZE,
	ST_CHUNK_DATA,
	ST_CHUNK_CRLF, /* the CRLF after chunk data */
	ST_TRAILER,
	ST_CLOSE_BODY, /* response body delimited by the connection's close */
	ST_CHUNK_LOST, /* chunked framing lost: look for the last-chunk at chunk ends */
	ST_HEAD_LOST, /* the head ran into a gap after its start line: framing unknown */
	ST_SKIP, /* lost or not HTTP: wait for a chunk that starts with a start line */
	ST_UPGRADE_WAIT, /* client: after an Upgrade/CONNECT request, until its response */
};

enum { WS_EXT_NONE = 0, WS_EXT_SEEN, WS_EXT_UNKNOWN }; /* http_conn.ws_ext_state */

_Static_assert(HTTP_WS_EXT_MAX <= 255, "ws_ext_len is a u8");

#define SEQ_NONE 0U /* the message pairs with no request (orphan response) */
#define SEQ_SKIPPED 0xffffffffU /* the message belongs to a dropped request */

/* Methods accepted in a request line: RFC 9110, RFC 5789 (PATCH), WebDAV (RFC 4918,
 * 3253, 5323) and nginx's PURGE convention. All are capitals. */
static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
	"MKCALENDAR", "PURGE",
};
#define METHOD_HEAD (methods[1]) /* known_method() gives these very pointers */
#define METHOD_CONNECT (methods[5])

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define METHOD_MAXLEN 10 /* "MKCALENDAR" */

_Static_assert(METHOD_MAXLEN < HTTP_METHOD_MAX, "every method fits x.method");
_Static_assert(HTTP_LINE_MAX <= 65535, "line_len is a u16");
_Static_assert(HTTP_PIPELINE_MAX <= 255, "nq is a u8");

/* What every step of one feed call shares. */
struct feed {
	struct http_conn *c;
	struct http_dir *d;
	bool client;
	uint64_t ts;
	uint64_t prev_ts; /* ts of the direction's previous chunk */
	http_event_fn fn;
	void *ctx;
};

/* ---- small helpers ---- */

/* libc's memset and memcpy: GCC expands a fixed or bounded size of a few hundred bytes
 * inline as rep stos / rep movs, whose start costs more than the short paths and the
 * pending entries they move. The empty asm hides the bound. */
static void zero(void *p, size_t n)
{
	__asm__("" : "+r"(n));
	memset(p, 0, n);
}

static void copy(void *d, const void *s, size_t n)
{
	__asm__("" : "+r"(n));
	memcpy(d, s, n);
}

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* s[0..n) equals the lowercase word w, ignoring case. */
static bool word_is(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!w[i] || lower(s[i]) != w[i])
			return false;
	return w[n] == 0;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int hex_val(char ch)
{
	if (is_digit(ch))
		return ch - '0';
	ch = lower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* RFC 9110 section 5.6.2 tchar (ALPHA, DIGIT and "!#$%&'*+-.^_`|~"): one load per byte
 * of every header name. */
static const bool tchar[256] = {
	['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
	['!'] = true,	      ['#'] = true,	    ['$'] = true,
	['%'] = true,	      ['&'] = true,	    ['\''] = true,
	['*'] = true,	      ['+'] = true,	    ['-'] = true,
	['.'] = true,	      ['^'] = true,	    ['_'] = true,
	['`'] = true,	      ['|'] = true,	    ['~'] = true,
};

static inline bool is_tchar(char ch)
{
	return tchar[(unsigned char)ch];
}

/* A Host value's bytes: visible ASCII but '/' and '@' (a host[:port], no userinfo). */
static const bool host_char[256] = {
	['!' ... '.'] = true, ['0' ... '?'] = true, ['A' ... '~'] = true,
};

static void trim(const char **s, size_t *n)
{
	while (*n && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_ows((*s)[*n - 1]))
		(*n)--;
}

static const char *known_method(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(methods); i++)
		if (strlen(methods[i]) == n && !memcmp(methods[i], s, n))
			return methods[i];
	return NULL;
}

/* Could s[0..n) (no space seen) still become a known method? */
static bool method_prefix(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(methods); i++)
		if (strlen(methods[i]) >= n && !memcmp(methods[i], s, n))
			return true;
	return false;
}

static const char status_prefix[] = "HTTP/1.";
#define STATUS_PREFIX_LEN (sizeof(status_prefix) - 1)

/*
 * Do the first n bytes of a direction's message fit a start line so far? Looks at 16
 * bytes at most: a request's method and its space, or a response's "HTTP/1.".
 */
static bool start_prefix_ok(bool client, const char *s, size_t n)
{
	size_t i;

	if (!client) {
		if (n > STATUS_PREFIX_LEN)
			n = STATUS_PREFIX_LEN;
		return !memcmp(s, status_prefix, n);
	}
	for (i = 0; i < n && i <= METHOD_MAXLEN; i++)
		if (s[i] == ' ')
			return known_method(s, i) != NULL;
	return method_prefix(s, i);
}

/* Does a chunk start with a whole start-line opening (resynchronisation point)? */
static bool begins_message(bool client, const uint8_t *p, size_t n)
{
	size_t i;

	if (!client)
		return n >= STATUS_PREFIX_LEN && !memcmp(p, status_prefix, STATUS_PREFIX_LEN);
	for (i = 0; i < n && i <= METHOD_MAXLEN; i++)
		if (p[i] == ' ')
			return i && known_method((const char *)p, i) && i + 1 < n &&
			       p[i + 1] > ' ' && p[i + 1] < 0x7f;
	return false;
}

static void emit(const struct feed *f, enum http_event_type type, const struct http_exchange *x,
		 const char *reason)
{
	struct http_event ev = { .type = type, .reason = reason };

	if (x)
		ev.x = *x;
	ev.x.host = ev.x.tracestate = NULL;
	if (type == HTTP_EV_UPGRADE)
		ev.ws_extensions = f->c->ws_ext_state == WS_EXT_UNKNOWN ? NULL :
				   f->c->ws_ext_state == WS_EXT_SEEN  ? f->c->ws_ext :
									"";
	if (f->fn)
		f->fn(f->ctx, &ev);
}

/* The exchange of pending entry e, with the Host and tracestate its request carried. */
static void emit_exchange(const struct feed *f, struct http_pending *e)
{
	const struct http_conn *c = f->c;
	struct http_event *ev = &e->ev;

	ev->type = HTTP_EV_EXCHANGE;
	ev->x.host = c->host_seq == e->seq && c->host[0] ? c->host : NULL;
	ev->x.tracestate =
		c->tracestate_seq == e->seq && c->tracestate[0] ? c->tracestate : NULL;
	if (f->fn)
		f->fn(f->ctx, ev);
}

/* ---- the request FIFO ---- */

static struct http_pending *q_find(struct http_conn *c, uint32_t seq)
{
	uint8_t i;

	if (seq == SEQ_NONE || seq == SEQ_SKIPPED)
		return NULL;
	for (i = 0; i < c->nq; i++)
		if (Q(c)[i].seq == seq)
			return &Q(c)[i];
	return NULL;
}

static void q_remove(struct http_conn *c, struct http_pending *e)
{
	struct http_pending *q = Q(c);
	size_t i = (size_t)(e - q);

	memmove(&q[i], &q[i + 1], (c->nq - i - 1) * sizeof(q[0]));
	c->nq--;
	if (!c->nq && c->q_heap) { /* all answered: back to the connection's own places */
		free(c->q_heap);
		c->q_heap = NULL;
	}
}

/* Room for one more outstanding request; false when HTTP_PIPELINE_MAX are (or, out of
 * memory, the connection's own places are) taken. */
static bool q_room(struct http_conn *c)
{
	if (c->nq < HTTP_PIPELINE_INLINE || (c->q_heap && c->nq < HTTP_PIPELINE_MAX))
		return true;
	if (c->q_heap)
		return false;
	c->q_heap = malloc(HTTP_PIPELINE_MAX * sizeof(*c->q_heap));
	if (!c->q_heap)
		return false;
	memcpy(c->q_heap, c->q_inline, c->nq * sizeof(*c->q_heap));
	return true;
}

/* Bring the byte counts of e up to date with the messages in progress. */
static void q_sync(struct http_conn *c, struct http_pending *e)
{
	if (c->dir[0].seq == e->seq && !e->req_done)
		e->ev.x.req_bytes = c->dir[0].msg_bytes;
}

/* The request is complete on both sides: report it. */
static void q_exchange(const struct feed *f, struct http_pending *e)
{
	emit_exchange(f, e);
	q_remove(f->c, e);
}

/* ---- per-direction message life ---- */

static void msg_reset(struct http_dir *d, uint8_t state)
{
	d->state = state;
	d->line_len = 0;
	d->line_long = false;
	d->chunked = false;
	d->te_seen = false;
	d->has_length = false;
	d->want_upgrade = false;
	d->interim = false;
	d->lost_trailer = false;
	d->status = 0;
	d->seq = SEQ_NONE;
	d->length = 0;
	d->left = 0;
	d->msg_bytes = 0;
	d->start_ns = 0;
	d->upgrade[0] = 0;
	d->trace_seen = false;
	d->trace.valid = false;
}

/* Which request does the response starting now answer? */
static uint32_t pick_request(struct http_conn *c)
{
	uint8_t i;

	for (i = 0; i < c->nq; i++) {
		struct http_pending *e = &Q(c)[i];

		if (e->resp_done)
			continue;
		if (e->skip_before) {
			e->skip_before--;
			return SEQ_SKIPPED;
		}
		return e->seq;
	}
	if (c->tail_skip) {
		c->tail_skip--;
		return SEQ_SKIPPED;
	}
	return SEQ_NONE;
}

/*
 * The direction being fed lost its framing (reason: desync, bad_header or not_http).
 * Report it, drop what cannot be paired any more, and wait for a start line.
 */
static void lose(const struct feed *f, const char *reason)
{
	struct http_conn *c = f->c;
	struct http_dir *d = f->d;
	struct http_pending *e;
	bool say = true; /* report the loss even when no request is concerned */

	if (reason == HTTP_ERR_NOT_HTTP) {
		say = !c->not_http_seen; /* once for the connection */
		c->not_http_seen = true;
	}
	if (f->client) {
		e = q_find(c, d->seq);
		if (e) {
			const struct http_dir *s = &c->dir[1];
			bool answering = s->seq == e->seq && s->state != ST_SKIP;

			q_sync(c, e);
			emit(f, HTTP_EV_ERROR, &e->ev.x, reason);
			/* e is the newest entry: tail_skip was moved into it */
			c->tail_skip = e->skip_before + (!e->resp_done && !answering);
			q_remove(c, e);
		} else if (say) {
			emit(f, HTTP_EV_ERROR, NULL, reason);
		}
	} else {
		/*
		 * The response being read, or due next, is lost: drop its request. Those
		 * behind it stay: their responses normally start chunks of their own.
		 */
		e = q_find(c, d->seq == SEQ_NONE && d->state == ST_START ? pick_request(c)
									   : d->seq);
		if (e) {
			q_sync(c, e);
			emit(f, HTTP_EV_ERROR, &e->ev.x, reason);
			q_remove(c, e);
		} else if (say) {
			emit(f, HTTP_EV_ERROR, NULL, reason);
		}
	}
	msg_reset(d, ST_SKIP);
}

static void start_error(const struct feed *f)
{
	lose(f, f->d->synced_once ? HTTP_ERR_DESYNC : HTTP_ERR_NOT_HTTP);
}

static void request_done(const struct feed *f)
{
	struct http_conn *c = f->c;
	struct http_dir *d = f->d;
	struct http_pending *e = q_find(c, d->seq);
	bool wait = d->want_upgrade;

	if (e) {
		e->ev.x.req_bytes = d->msg_bytes;
		e->req_done = true;
		if (e->resp_done) {
			q_exchange(f, e);
			wait = false; /* its response already came and did not switch */
		}
	}
	msg_reset(d, wait ? ST_UPGRADE_WAIT : ST_START);
}

static void response_done(const struct feed *f, uint64_t end_ns)
{
	struct http_conn *c = f->c;
	struct http_dir *d = f->d;
	struct http_pending *e = q_find(c, d->seq);

	/* its request was not seen (sent before the capture began, or its bytes went
	 * uncaptured): a request lost, said once per response */
	if (d->seq == SEQ_NONE) {
		c->orphan_responses++;
		emit(f, HTTP_EV_ERROR, NULL, HTTP_ERR_NO_REQUEST);
	}
	/* the client waited for an upgrade that this final response refused */
	if (c->dir[0].state == ST_UPGRADE_WAIT && (!e || e == &Q(c)[c->nq - 1]))
		c->dir[0].state = ST_START;
	if (e) {
		e->ev.x.status = d->status;
		e->ev.x.resp_bytes = d->msg_bytes;
		e->ev.x.end_ns = end_ns;
		e->resp_done = true;
		if (e->req_done)
			q_exchange(f, e);
	}
	msg_reset(d, ST_START);
}

static void message_done(const struct feed *f, uint64_t end_ns)
{
	if (f->client)
		request_done(f);
	else
		response_done(f, end_ns);
}

/*
 * A message of unknown end (ST_HEAD_LOST, ST_CHUNK_LOST) in the direction `client` ended
 * with that direction's last chunk, as the other side's next move shows: a request ends
 * when its final response starts; a response ends when the client starts another request
 * while no other request is outstanding (a keep-alive client waits for each response).
 */
static void finish_lost(const struct feed *from, bool client)
{
	struct http_conn *c = from->c;
	struct http_dir *d = &c->dir[!client];
	const struct feed f = { c, d, client, d->last_ts, d->last_ts, from->fn, from->ctx };
	const struct http_pending *e;

	if (d->state != ST_HEAD_LOST && d->state != ST_CHUNK_LOST)
		return;
	if (client) {
		if (d->seq == SEQ_NONE || d->seq != c->dir[1].seq)
			return;
	} else {
		e = q_find(c, d->seq);
		if (e ? !e->req_done || e != &Q(c)[c->nq - 1] : c->nq != 0)
			return;
	}
	message_done(&f, d->last_ts);
	/* later chunks that start no message are taken for the rest of this one */
	if (d->state == ST_START)
		d->state = ST_SKIP;
}

/* The response's head ended at this point of the chunk and the protocol switches. */
static void upgrade(const struct feed *f, const char *proto)
{
	struct http_conn *c = f->c;
	struct http_dir *d = f->d;
	struct http_pending *e = q_find(c, d->seq);
	struct http_exchange x = { 0 };

	if (e) {
		q_sync(c, e);
		x = e->ev.x;
		q_remove(c, e);
	}
	x.status = d->status;
	x.resp_bytes = d->msg_bytes;
	x.end_ns = f->ts;
	x.upgrade = true;
	if (proto[0]) {
		strncpy(x.upgrade_proto, proto, sizeof(x.upgrade_proto) - 1);
		x.upgrade_proto[sizeof(x.upgrade_proto) - 1] = 0;
	}
	c->upgraded = true;
	emit(f, HTTP_EV_UPGRADE, &x, NULL);
}

/* ---- start lines ---- */

/*
 * Copy the path of a request-target into x: the query and fragment are dropped, an
 * absolute-form target keeps its path only (RFC 9112 section 3.2.2).
 */
static void set_path(struct http_exchange *x, const char *t, size_t n, bool cut)
{
	size_t i, k, len;
	const char *q;

	if (n && t[0] != '/') {
		for (i = 0; i < n && i < 16 && (t[i] != ':'); i++)
			;
		if (i + 2 < n && i < 16 && t[i + 1] == '/' && t[i + 2] == '/') {
			/* scheme "://" authority, then the path (or "/" when it is empty) */
			for (k = i + 3; k < n && t[k] != '/' && t[k] != '?' && t[k] != '#'; k++)
				;
			if (k == n && cut) {
				/* the authority itself runs past the kept line */
				t += n;
				n = 0;
			} else {
				t += k;
				n -= k;
			}
			if (!n || t[0] != '/') {
				x->path[0] = '/';
				x->path[1] = 0;
				x->path_truncated = cut && !n;
				return;
			}
		}
	}
	q = memchr(t, '?', n);
	len = q ? (size_t)(q - t) : n;
	q = memchr(t, '#', len);
	len = q ? (size_t)(q - t) : len;
	if (len == n && cut)
		x->path_truncated = true;
	if (len > HTTP_PATH_MAX - 1) {
		len = HTTP_PATH_MAX - 1;
		x->path_truncated = true;
	}
	copy(x->path, t, len);
	x->path[len] = 0;
}

/* "METHOD SP request-target SP HTTP/1.x"; the line may be cut when line_long. */
static void request_line(const struct feed *f, const char *l, size_t n)
{
	struct http_conn *c = f->c;
	struct http_dir *d = f->d;
	size_t m, t, te;
	const char *method, *sp;
	struct http_pending *e = NULL;
	struct http_exchange lone, *x;
	uint8_t minor = 0;

	for (m = 0; m < n && l[m] != ' '; m++)
		;
	method = m < n ? known_method(l, m) : NULL;
	if (!method) {
		start_error(f);
		return;
	}
	t = m + 1;
	sp = memchr(l + t, ' ', n - t);
	te = sp ? (size_t)(sp - l) : n;
	if (te == t) {
		start_error(f);
		return;
	}
	if (te == n) {
		if (!d->line_long) { /* no version: HTTP/0.9 or not HTTP */
			start_error(f);
			return;
		}
	} else if (!d->line_long || n - te - 1 >= 8) {
		const char *v = l + te + 1;

		if (n - te - 1 != 8 || memcmp(v, status_prefix, STATUS_PREFIX_LEN) ||
		    !is_digit(v[7])) {
			start_error(f);
			return;
		}
		minor = (uint8_t)v[7];
	}
	d->synced_once = true;
	/* the exchange is built where it is kept: the queue's next entry, if there is room */
	if (q_room(c)) {
		e = &Q(c)[c->nq++];
		/* all but the path, which set_path() writes (a short one in a long array) */
		zero(e, offsetof(struct http_pending, ev.x.path));
		zero(&e->ev.x.path[HTTP_PATH_MAX],
		     sizeof(*e) - offsetof(struct http_pending, ev.x.path[HTTP_PATH_MAX]));
		x = &e->ev.x;
	} else {
		memset(&lone, 0, sizeof(lone));
		x = &lone;
	}
	x->minor = minor;
	memcpy(x->method, method, strlen(method) + 1);
	set_path(x, l + t, te - t, te == n);
	x->start_ns = d->start_ns;
	if (method == METHOD_CONNECT)
		d->want_upgrade = true;
	if (!e) {
		x->req_bytes = d->msg_bytes; /* the request line, so far */
		emit(f, HTTP_EV_ERROR, x, HTTP_ERR_TOO_MANY_PIPELINED);
		if (c->tail_skip < UINT16_MAX)
			c->tail_skip++;
		d->seq = SEQ_SKIPPED;
	} else {
		if (++c->next_seq == SEQ_SKIPPED)
			c->next_seq = 1;
		e->seq = c->next_seq;
		e->skip_before = c->tail_skip;
		c->tail_skip = 0;
		e->head = method == METHOD_HEAD;
		e->connect = method == METHOD_CONNECT;
		d->seq = e->seq;
	}
	d->state = ST_HEADER;
}

/* "HTTP/1.x SP NNN [SP reason]" */
static void status_line(const struct feed *f, const char *l, size_t n)
{
	struct http_dir *d = f->d;
	unsigned int st;

	if (n < 12 || memcmp(l, status_prefix, STATUS_PREFIX_LEN) || !is_digit(l[7]) ||
	    l[8] != ' ' || !is_digit(l[9]) || !is_digit(l[10]) || !is_digit(l[11]) ||
	    (n > 12 && l[12] != ' ')) {
		start_error(f);
		return;
	}
	st = (unsigned int)((l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0'));
	if (st < 100 || st > 599) {
		start_error(f);
		return;
	}
	d->synced_once = true;
	d->status = (uint16_t)st;
	f->c->ws_ext_state = WS_EXT_NONE;
	if (!d->interim)
		d->seq = pick_request(f->c);
	d->state = ST_HEADER;
	if (st >= 200 || st == 101)
		finish_lost(f, true);
}

/* ---- headers ---- */

/* "5" or a list of equal values "5, 5" (RFC 9110 section 8.6); false if invalid. */
static bool parse_length(const char *v, size_t n, uint64_t *out)
{
	const char *el;
	size_t i = 0, j, en;
	uint64_t val;
	bool have = false;

	for (;;) {
		for (j = i; j < n && v[j] != ','; j++)
			;
		el = v + i;
		en = j - i;
		trim(&el, &en);
		if (!en)
			return false;
		val = 0;
		for (i = 0; i < en; i++) {
			if (!is_digit(el[i]) || val > (UINT64_MAX - 9) / 10)
				return false;
			val = val * 10 + (uint64_t)(el[i] - '0');
		}
		if (have && val != *out)
			return false;
		*out = val;
		have = true;
		if (j == n)
			return true;
		i = j + 1;
	}
}

/* One Sec-WebSocket-Extensions line of a response: appended to what the head had. */
static void ws_extensions(struct http_conn *c, const char *v, size_t vn, bool cut)
{
	size_t need = vn + (c->ws_ext_state == WS_EXT_SEEN ? 2 : 0);

	if (c->ws_ext_state == WS_EXT_UNKNOWN)
		return;
	if (cut || (c->ws_ext_state == WS_EXT_SEEN ? c->ws_ext_len : 0) + need >= HTTP_WS_EXT_MAX) {
		c->ws_ext_state = WS_EXT_UNKNOWN;
		return;
	}
	if (c->ws_ext_state != WS_EXT_SEEN) {
		c->ws_ext_len = 0;
	} else {
		memcpy(c->ws_ext + c->ws_ext_len, ", ", 2);
		c->ws_ext_len += 2;
	}
	memcpy(c->ws_ext + c->ws_ext_len, v, vn);
	c->ws_ext_len += (uint8_t)vn;
	c->ws_ext[c->ws_ext_len] = '\0';
	c->ws_ext_state = WS_EXT_SEEN;
}

/* The request's Host (the first line: a second one makes the request invalid anyway). */
static void keep_host(const struct feed *f, const char *v, size_t vn)
{
	struct http_conn *c = f->c;
	size_t i;
	bool ok;

	if (f->d->seq == SEQ_NONE || f->d->seq == SEQ_SKIPPED || c->host_seq == f->d->seq)
		return;
	c->host_seq = f->d->seq;
	c->host[0] = 0;
	if (f->d->line_long || !vn || vn >= sizeof(c->host))
		return;
	for (i = 0, ok = true; i < vn; i++)
		ok &= host_char[(unsigned char)v[i]];
	if (!ok)
		return; /* not a host[:port] */
	memcpy(c->host, v, vn);
	c->host[vn] = 0;
}

/* The request's tracestate: its lines joined with ",", list-members that do not fit
 * dropped from the end (W3C Trace Context 3.3.1.5: whole members, never cut). */
static void keep_tracestate(const struct feed *f, const char *v, size_t vn)
{
	struct http_conn *c = f->c;
	size_t have, i, start, end;

	if (f->d->seq == SEQ_NONE || f->d->seq == SEQ_SKIPPED)
		return;
	if (c->tracestate_seq != f->d->seq) {
		c->tracestate_seq = f->d->seq;
		c->tracestate[0] = 0;
	}
	if (f->d->line_long)
		return; /* the members past the line's end are unknown: this line is dropped */
	have = strlen(c->tracestate);
	for (start = 0; start < vn; start = end + 1) {
		for (end = start; end < vn && v[end] != ','; end++)
			;
		i = end;
		while (start < i && (v[start] == ' ' || v[start] == '\t'))
			start++;
		while (i > start && (v[i - 1] == ' ' || v[i - 1] == '\t'))
			i--;
		if (i == start) /* an empty member is allowed and ignored */
			continue;
		if (have + (have ? 1 : 0) + (i - start) >= sizeof(c->tracestate))
			return;
		if (have)
			c->tracestate[have++] = ',';
		memcpy(c->tracestate + have, v + start, i - start);
		have += i - start;
		c->tracestate[have] = 0;
	}
}

/* Is the header line l's name (name bytes, before the colon) w? Then *v, *vn: its value,
 * trimmed. w is lowercase letters and '-'. The name's bytes are tchars, and of those only
 * w's own letter in either case ORs with 0x20 into it ('-' only with CR). */
static bool header_is(const char *l, size_t n, size_t name, const char *w, const char **v,
		      size_t *vn)
{
	size_t i;

	for (i = 0; i < name; i++)
		if ((l[i] | 0x20) != w[i])
			return false;
	if (w[name])
		return false;
	*v = l + name + 1;
	*vn = n - name - 1;
	trim(v, vn);
	return true;
}

static void header_line(const struct feed *f, const char *l, size_t n)
{
	struct http_dir *d = f->d;
	const char *v;
	size_t name, vn, i;
	uint64_t len = 0;

	if (is_ows(l[0]))
		return; /* obs-fold continuation: no header of interest is folded */
	/* the name: tchars up to the colon (the line ends in a NUL, CR or LF, which stops it) */
	for (name = 0; is_tchar(l[name]); name++)
		;
	if (name == 0 || name >= n || l[name] != ':') {
		lose(f, HTTP_ERR_BAD_HEADER);
		return;
	}
	/* only seven names matter, each of its own length: one comparison at most */
	switch (name) {
	case 4:
		if (f->client && header_is(l, n, name, "host", &v, &vn))
			keep_host(f, v, vn);
		return;
	case 7:
		if (!header_is(l, n, name, "upgrade", &v, &vn))
			return;
		/* the first protocol name, without its version: "websocket", "h2c" */
		for (i = 0; i < vn && i < HTTP_UPGRADE_MAX - 1 && is_tchar(v[i]) && v[i] != '/';
		     i++)
			d->upgrade[i] = lower(v[i]);
		d->upgrade[i] = 0;
		if (f->client && i)
			d->want_upgrade = true;
		return;
	case 10:
		if (f->client && header_is(l, n, name, "tracestate", &v, &vn))
			keep_tracestate(f, v, vn);
		return;
	case 11:
		/* W3C Trace Context: a request with two traceparent lines has none valid */
		if (!f->client || !header_is(l, n, name, "traceparent", &v, &vn))
			return;
		if (d->trace_seen || d->line_long)
			d->trace.valid = false;
		else
			traceparent__parse(v, vn, &d->trace);
		d->trace_seen = true;
		return;
	case 14:
		if (!header_is(l, n, name, "content-length", &v, &vn))
			return;
		if (d->line_long || !parse_length(v, vn, &len) ||
		    (d->has_length && len != d->length)) {
			lose(f, HTTP_ERR_BAD_HEADER);
			return;
		}
		d->has_length = true;
		d->length = len;
		return;
	case 17:
		if (!header_is(l, n, name, "transfer-encoding", &v, &vn))
			return;
		/* the last coding decides (RFC 9112 section 6.3) */
		for (i = vn; i > 0 && v[i - 1] != ','; i--)
			;
		v += i;
		vn -= i;
		trim(&v, &vn);
		d->te_seen = true;
		d->chunked = word_is(v, vn, "chunked");
		return;
	case 24:
		if (!f->client && header_is(l, n, name, "sec-websocket-extensions", &v, &vn))
			ws_extensions(f->c, v, vn, d->line_long);
		return;
	}
}

static void request_head_done(const struct feed *f)
{
	struct http_dir *d = f->d;
	struct http_pending *e = q_find(f->c, d->seq);

	if (e)
		e->ev.x.trace = d->trace;
	/* what the client asked for: the 101 may not repeat it */
	if (e && d->want_upgrade)
		memcpy(e->ev.x.upgrade_proto, d->upgrade, sizeof(e->ev.x.upgrade_proto));

	if (d->te_seen && !d->chunked) {
		lose(f, HTTP_ERR_BAD_HEADER); /* RFC 9112 section 6.3, rule 4 */
		return;
	}
	if (d->chunked) {
		d->state = ST_CHUNK_SIZE;
	} else if (d->has_length && d->length) {
		d->left = d->length;
		d->state = ST_BODY;
	} else {
		request_done(f);
	}
}

static void response_head_done(const struct feed *f)
{
	struct http_conn *c = f->c;
	struct http_dir *d = f->d;
	const struct http_pending *e = q_find(c, d->seq);

	if (d->status == 101) {
		upgrade(f, d->upgrade);
		return;
	}
	if (e && e->connect && d->status >= 200 && d->status < 300) {
		upgrade(f, "connect");
		return;
	}
	if (d->status < 200) {
		/* interim: the final response follows, for the same request */
		d->state = ST_START;
		d->interim = true;
		d->line_len = 0;
		d->line_long = false;
		d->chunked = d->te_seen = d->has_length = false;
		d->length = 0;
		d->upgrade[0] = 0;
		return;
	}
	if (d->status == 204 || d->status == 304 || (e && e->head)) {
		response_done(f, f->ts);
	} else if (d->chunked) {
		d->state = ST_CHUNK_SIZE;
	} else if (d->te_seen) {
		d->state = ST_CLOSE_BODY;
	} else if (d->has_length) {
		d->left = d->length;
		if (d->left)
			d->state = ST_BODY;
		else
			response_done(f, f->ts);
	} else {
		d->state = ST_CLOSE_BODY;
	}
}

/* chunk-size [ chunk-ext ] */
static void chunk_size_line(const struct feed *f, const char *l, size_t n)
{
	struct http_dir *d = f->d;
	size_t i;
	uint64_t size = 0;

	for (i = 0; i < n && hex_val(l[i]) >= 0; i++) {
		if (size >> 60)
			break;
		size = size << 4 | (uint64_t)hex_val(l[i]);
	}
	if (i == 0 || (i < n && !is_ows(l[i]) && l[i] != ';')) {
		lose(f, HTTP_ERR_BAD_HEADER);
		return;
	}
	if (size == 0) {
		d->state = ST_TRAILER;
	} else {
		d->left = size;
		d->state = ST_CHUNK_DATA;
	}
}

/* A whole line, l (n bytes, without its CR LF, followed by a byte that is no tchar): in
 * d->line, or where it was captured when it lay whole in one chunk. */
static void line_done(const struct feed *f, const char *l, size_t n)
{
	struct http_dir *d = f->d;

	switch (d->state) {
	case ST_START:
		if (f->client)
			request_line(f, l, n);
		else
			status_line(f, l, n);
		break;
	case ST_HEADER:
		if (n == 0 && !d->line_long) {
			if (f->client)
				request_head_done(f);
			else
				response_head_done(f);
		} else {
			header_line(f, l, n);
		}
		break;
	case ST_CHUNK_SIZE:
		chunk_size_line(f, l, n);
		break;
	case ST_CHUNK_CRLF:
		if (n || d->line_long)
			lose(f, HTTP_ERR_DESYNC); /* chunk data longer than its size */
		else
			d->state = ST_CHUNK_SIZE;
		break;
	case ST_TRAILER:
		if (n == 0 && !d->line_long)
			message_done(f, f->ts);
		break;
	}
	d->line_len = 0;
	d->line_long = false;
}

/* ---- stepping through captured bytes ---- */

/* Line states: take bytes up to and including LF. Returns how many were taken. */
static size_t step_line(const struct feed *f, const uint8_t *b, size_t n)
{
	struct http_dir *d = f->d;
	const uint8_t *lf;
	const char *l;
	size_t k, take, room, len;
	bool start = d->state == ST_START;

	if (start && d->line_len == 0 && !d->line_long) {
		/* empty lines before a start line (RFC 9112 section 2.2) */
		if (b[0] == '\r' || b[0] == '\n')
			return 1;
		if (!d->interim)
			d->start_ns = f->ts;
		if (f->client)
			finish_lost(f, false);
	}
	lf = memchr(b, '\n', n);
	k = lf ? (size_t)(lf - b) + 1 : n;
	d->msg_bytes += k;
	take = lf ? k - 1 : k;
	/* A line whole in this chunk is parsed where it lies: no copy. It ends in CR or
	 * LF, neither of them a tchar, as a NUL ends d->line. Any other piece of a line is
	 * kept in d->line. */
	l = (const char *)b;
	len = take;
	if (!lf || d->line_len || d->line_long || take > HTTP_LINE_MAX - 1) {
		if (!d->line && !(d->line = malloc(HTTP_LINE_MAX))) {
			lose(f, HTTP_ERR_NO_MEMORY);
			return k;
		}
		room = HTTP_LINE_MAX - 1 - d->line_len;
		if (take > room) {
			take = room;
			d->line_long = true;
		}
		memcpy(&d->line[d->line_len], b, take);
		d->line_len = (uint16_t)(d->line_len + take);
		l = d->line;
		len = d->line_len;
	}
	if (start && !start_prefix_ok(f->client, l, len)) {
		start_error(f);
		return k;
	}
	if (lf) {
		if (!d->line_long && len && l[len - 1] == '\r')
			len--;
		if (l == d->line)
			d->line[len] = 0;
		line_done(f, l, len);
	}
	return k;
}

static size_t step(const struct feed *f, const uint8_t *b, size_t n)
{
	struct http_dir *d = f->d;
	size_t k;

	switch (d->state) {
	case ST_BODY:
	case ST_CHUNK_DATA:
		k = n < d->left ? n : (size_t)d->left;
		d->left -= k;
		d->msg_bytes += k;
		if (!d->left) {
			if (d->state == ST_BODY)
				message_done(f, f->ts);
			else
				d->state = ST_CHUNK_CRLF;
		}
		return k;
	case ST_CLOSE_BODY:
		d->msg_bytes += n;
		return n;
	default:
		return step_line(f, b, n);
	}
}

/*
 * The known last bytes of the chunk: its captured end when all of it was captured, else
 * the tail. Returns how many (<= HTTP_TAIL_MAX) are at `out`.
 */
static size_t chunk_end(const uint8_t *data, size_t captured, size_t total, const uint8_t *tail,
			size_t tail_len, const uint8_t **out)
{
	if (captured == total) {
		size_t n = captured < HTTP_TAIL_MAX ? captured : HTTP_TAIL_MAX;

		*out = data + captured - n;
		return n;
	}
	*out = tail;
	return tail ? tail_len : 0;
}

static bool ends_with(const uint8_t *b, size_t n, const char *s)
{
	size_t k = strlen(s);

	return n >= k && !memcmp(b + n - k, s, k);
}

/* Did the chunk end with the end of a chunked message whose framing was lost? */
static bool lost_message_ends(const struct http_dir *d, const uint8_t *b, size_t n)
{
	if (d->lost_trailer)
		return ends_with(b, n, "\r\n\r\n");
	if (!ends_with(b, n, "0\r\n\r\n"))
		return false;
	/* "10\r\n\r\n" would be a size line plus data: the last-chunk follows a CRLF */
	return n == 5 || b[n - 6] == '\n';
}

/*
 * A gap cuts a head after its start line: what the start line says still stands. A head
 * that cannot have a body (1xx, 204, 304, the answer to HEAD) is taken to end with the
 * chunk, as do the heads that switch protocols; a chunked message keeps looking for its
 * last-chunk; any other message ends as finish_lost() or a start line at a chunk's
 * start shows. The gap's bytes are already counted in d->msg_bytes.
 */
static void head_cut(const struct feed *f)
{
	struct http_dir *d = f->d;
	const struct http_pending *e = q_find(f->c, d->seq);

	if (!f->client && (d->status < 200 || d->status == 204 || d->status == 304 ||
			   (e && e->head) || (e && e->connect && d->status < 300))) {
		d->chunked = d->te_seen = d->has_length = false;
		f->c->ws_ext_state = WS_EXT_UNKNOWN; /* its header lines are in the gap */
		response_head_done(f);
		return;
	}
	d->lost_trailer = false;
	d->state = d->chunked ? ST_CHUNK_LOST : ST_HEAD_LOST;
}

/* gap > 0 bytes passed uncaptured. Returns false when they were not HTTP. */
static bool skip_gap(const struct feed *f, uint64_t gap)
{
	struct http_dir *d = f->d;
	uint64_t k;

	while (gap) {
		switch (d->state) {
		case ST_BODY:
		case ST_CHUNK_DATA:
			k = gap < d->left ? gap : d->left;
			d->left -= k;
			d->msg_bytes += k;
			gap -= k;
			if (!d->left) {
				if (d->state == ST_BODY)
					message_done(f, f->ts);
				else
					d->state = ST_CHUNK_CRLF;
			}
			break;
		case ST_CLOSE_BODY:
		case ST_CHUNK_LOST:
		case ST_HEAD_LOST:
			d->msg_bytes += gap;
			gap = 0;
			break;
		case ST_CHUNK_SIZE:
		case ST_CHUNK_CRLF:
		case ST_TRAILER:
			d->lost_trailer = d->state == ST_TRAILER;
			d->state = ST_CHUNK_LOST;
			break;
		case ST_HEADER:
			d->msg_bytes += gap; /* taken as the rest of the head and what follows */
			gap = 0;
			head_cut(f);
			break;
		case ST_UPGRADE_WAIT:
			return false;
		case ST_SKIP:
			gap = 0;
			break;
		default: /* a start line or header in the gap */
			/* a request is in there, its line unread: its response will come
			 * (a request whose line was read is dropped by lose()) */
			if (f->client && d->seq == SEQ_NONE && f->c->tail_skip < UINT16_MAX)
				f->c->tail_skip++;
			lose(f, HTTP_ERR_DESYNC);
			gap = 0;
			break;
		}
		if (f->c->upgraded)
			break;
	}
	return true;
}

/* ---- API ---- */

void http__init(struct http_conn *c)
{
	zero(c, sizeof(*c));
}

void http__free(struct http_conn *c)
{
	free(c->q_heap);
	c->q_heap = NULL;
	free(c->dir[0].line);
	free(c->dir[1].line);
	c->dir[0].line = c->dir[1].line = NULL;
}

size_t http__feed(struct http_conn *c, bool from_client, const uint8_t *data, size_t captured,
		  size_t total, const uint8_t *tail, size_t tail_len, uint64_t ts_ns,
		  http_event_fn fn, void *ctx)
{
	struct http_dir *d = &c->dir[!from_client];
	const struct feed f = { c, d, from_client, ts_ns, d->last_ts, fn, ctx };
	const uint8_t *end;
	size_t i = 0, n;

	if (c->upgraded)
		return 0;
	if (!data)
		captured = 0;
	if (total < captured)
		total = captured;
	if (tail_len > HTTP_TAIL_MAX)
		tail_len = HTTP_TAIL_MAX;
	if (tail_len > total - captured)
		tail_len = total - captured;
	if (!tail)
		tail_len = 0;
	d->last_ts = ts_ns;
	if (!total)
		return 0;

	/* Chunk starts are where a lost direction may find its footing again. */
	if (d->state == ST_SKIP || d->state == ST_UPGRADE_WAIT || d->state == ST_CHUNK_LOST ||
	    d->state == ST_HEAD_LOST) {
		if (begins_message(from_client, data, captured)) {
			if (d->state == ST_CHUNK_LOST || d->state == ST_HEAD_LOST)
				message_done(&f, f.prev_ts); /* it ended with the last chunk */
			msg_reset(d, ST_START);
		} else if (d->state == ST_UPGRADE_WAIT) {
			return 0;
		} else if (d->state == ST_SKIP) {
			return total;
		}
	}

	while (i < captured && !c->upgraded) {
		if (d->state == ST_SKIP)
			return total;
		if (d->state == ST_CHUNK_LOST || d->state == ST_HEAD_LOST)
			break;
		if (d->state == ST_UPGRADE_WAIT) {
			if (!begins_message(from_client, data + i, captured - i))
				return i;
			msg_reset(d, ST_START);
		}
		i += step(&f, data + i, captured - i);
	}
	if (c->upgraded)
		return i;
	if (d->state == ST_CHUNK_LOST || d->state == ST_HEAD_LOST) {
		d->msg_bytes += captured - i;
		i = captured;
	}
	if (total > captured && !skip_gap(&f, total - captured))
		return captured;
	if (c->upgraded)
		return total; /* a 101 cut by the gap: taken to end with the chunk */
	if (d->state == ST_CHUNK_LOST) {
		n = chunk_end(data, captured, total, tail, tail_len, &end);
		if (lost_message_ends(d, end, n))
			message_done(&f, ts_ns);
	}
	return total;
}

void http__close(struct http_conn *c, uint64_t ts_ns, http_event_fn fn, void *ctx)
{
	struct http_dir *s = &c->dir[1];
	const struct feed f = { c, s, false, ts_ns, s->last_ts, fn, ctx };
	uint8_t i;

	if (!c->upgraded) {
		/* the server closed, so a response whose end was lost ended by now too */
		if (s->state == ST_CLOSE_BODY || s->state == ST_CHUNK_LOST ||
		    s->state == ST_HEAD_LOST)
			response_done(&f, s->last_ts);
		for (i = 0; i < c->nq; i++) {
			struct http_pending *e = &Q(c)[i];

			q_sync(c, e);
			if (e->resp_done)
				emit_exchange(&f, e);
			else
				emit(&f, HTTP_EV_ERROR, &e->ev.x, HTTP_ERR_NO_RESPONSE);
		}
	}
	http__free(c);
	http__init(c);
}

bool http__upgraded(const struct http_conn *c)
{
	return c->upgraded;
}

/* ---- route templates ---- */

enum seg_kind { SEG_LITERAL, SEG_ONE, SEG_CATCHALL, SEG_OPTIONAL };

/* A pattern segment [s, e): "[x]", "[...x]", "[[...x]]" or a literal. *name, *nlen: x. */
static enum seg_kind seg_kind(const char *s, const char *e, const char **name, size_t *nlen)
{
	size_t n = (size_t)(e - s);

	if (n >= 9 && !memcmp(s, "[[...", 5) && !memcmp(e - 2, "]]", 2)) {
		*name = s + 5;
		*nlen = n - 7;
		return SEG_OPTIONAL;
	}
	if (n >= 6 && !memcmp(s, "[...", 4) && e[-1] == ']' && s[4] != '[') {
		*name = s + 4;
		*nlen = n - 5;
		return SEG_CATCHALL;
	}
	if (n >= 3 && s[0] == '[' && e[-1] == ']' && !memchr(s + 1, '[', n - 2) &&
	    !memchr(s + 1, ']', n - 2)) {
		*name = s + 1;
		*nlen = n - 2;
		return SEG_ONE;
	}
	return SEG_LITERAL;
}

static const char *seg_end(const char *s)
{
	const char *e = strchr(s, '/');

	return e ? e : s + strlen(s);
}

static bool route_match(const char *p, const char *q)
{
	const char *ps, *pe, *qs, *qe, *name;
	size_t nlen;
	enum seg_kind k;

	if (p[0] != '/' || q[0] != '/')
		return false;
	/* "/a/b/" is "/a/b" to a router */
	for (;;) {
		if (!*p)
			return !*q || (q[0] == '/' && !q[1]);
		ps = p + 1;
		pe = seg_end(ps);
		k = seg_kind(ps, pe, &name, &nlen);
		if ((k == SEG_OPTIONAL || k == SEG_CATCHALL) && *pe)
			return false; /* a catch-all is the last segment */
		if (k == SEG_OPTIONAL)
			return true;
		if (!*q)
			return false;
		qs = q + 1;
		qe = seg_end(qs);
		if (k == SEG_CATCHALL)
			return qe > qs || *qe; /* at least one segment */
		if (k == SEG_ONE) {
			if (qe == qs)
				return false;
		} else if (pe - ps != qe - qs || memcmp(ps, qs, (size_t)(pe - ps))) {
			return false;
		}
		p = pe;
		q = qe;
	}
}

struct out {
	char *b;
	size_t len, cap;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (!o->cap)
		return;
	if (n > o->cap - 1 - o->len)
		n = o->cap - 1 - o->len;
	memcpy(o->b + o->len, s, n);
	o->len += n;
	o->b[o->len] = 0;
}

static void route_write_pattern(struct out *o, const char *p)
{
	const char *s = p, *e, *name;
	size_t nlen;
	enum seg_kind k;

	while (*s) {
		if (*s == '/') {
			out_put(o, "/", 1);
			s++;
			continue;
		}
		e = seg_end(s);
		k = seg_kind(s, e, &name, &nlen);
		if (k == SEG_LITERAL) {
			out_put(o, s, (size_t)(e - s));
		} else {
			out_put(o, ":", 1);
			out_put(o, name, nlen);
			if (k != SEG_ONE)
				out_put(o, "*", 1);
		}
		s = e;
	}
}

static bool all_hex(const char *s, size_t n, bool *digit, bool *letter)
{
	size_t i;

	*digit = *letter = false;
	for (i = 0; i < n; i++) {
		if (hex_val(s[i]) < 0)
			return false;
		if (is_digit(s[i]))
			*digit = true;
		else
			*letter = true;
	}
	return true;
}

static bool is_uuid(const char *s)
{
	static const uint8_t dash[] = { 8, 13, 18, 23 };
	size_t i, j = 0;

	for (i = 0; i < 36; i++) {
		if (j < sizeof(dash) && i == dash[j]) {
			if (s[i] != '-')
				return false;
			j++;
		} else if (hex_val(s[i]) < 0) {
			return false;
		}
	}
	return true;
}

/* The identifier rule documented in http.h. */
static bool is_id_segment(const char *s, size_t n)
{
	bool digit, letter;
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n && is_digit(s[i]); i++)
		;
	if (i == n)
		return true;
	if (n >= 36 && is_uuid(s + n - 36)) {
		if (n == 36)
			return true;
		if (s[n - 37] != '-' && s[n - 37] != '_')
			return false;
		for (i = 0; i < n - 37; i++)
			if (!is_tchar(s[i]))
				return false;
		return true;
	}
	if (!all_hex(s, n, &digit, &letter))
		return false;
	return n >= 16 || (n >= 8 && digit && letter);
}

bool http__route(const char *path, const char *const *patterns, size_t npatterns, char *out,
		 size_t outlen)
{
	struct out o = { out, 0, outlen };
	const char *s = path, *e;
	size_t i;

	if (outlen)
		out[0] = 0;
	for (i = 0; patterns && i < npatterns; i++) {
		if (patterns[i] && route_match(patterns[i], path)) {
			route_write_pattern(&o, patterns[i]);
			return true;
		}
	}
	while (*s) {
		if (*s == '/') {
			out_put(&o, "/", 1);
			s++;
			continue;
		}
		e = seg_end(s);
		if (is_id_segment(s, (size_t)(e - s)))
			out_put(&o, ":id", 3);
		else
			out_put(&o, s, (size_t)(e - s));
		s = e;
	}
	return false;
}
