// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/model/proto/http.c: HTTP/1.x byte streams fed whole, byte by byte, at every split
 * point and with uncaptured gaps; every event is checked field by field. Byte counts are
 * compared with the lengths of the bytes fed, which the tests build independently of the
 * parser. The curl request and the nginx response head were recorded on the wire from
 * curl 7.88.1 and nginx 1.22.1 (Debian 12) serving its 615-byte index.html.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/proto/http.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CLIENT true
#define SERVER false

/* ---- recorded traffic ---- */

#define CURL_REQ                                                                               \
	"GET /index.html?lang=en HTTP/1.1\r\n"                                                 \
	"Host: 127.0.0.1:18090\r\n"                                                            \
	"User-Agent: curl/7.88.1\r\n"                                                          \
	"Accept: */*\r\n"                                                                      \
	"\r\n"

#define NGINX_HEAD                                                                             \
	"HTTP/1.1 200 OK\r\n"                                                                  \
	"Server: nginx/1.22.1\r\n"                                                             \
	"Date: Wed, 25 Nov 2026 03:45:49 GMT\r\n"                                              \
	"Content-Type: text/html\r\n"                                                          \
	"Content-Length: 615\r\n"                                                              \
	"Last-Modified: Wed, 19 Oct 2022 08:02:20 GMT\r\n"                                     \
	"Connection: keep-alive\r\n"                                                           \
	"ETag: \"634faf0c-267\"\r\n"                                                           \
	"Accept-Ranges: bytes\r\n"                                                             \
	"\r\n"

#define NGINX_HEAD_LEN 238 /* measured on the wire */
#define NGINX_BODY_LEN 615
#define NGINX_RESP_LEN 853

/* ---- events ---- */

#define MAXEV 256

struct rec {
	struct http_event ev[MAXEV];
	size_t n;
};

static void on_event(void *ctx, const struct http_event *ev)
{
	struct rec *r = ctx;

	assert_true(r->n < MAXEV);
	r->ev[r->n++] = *ev;
}

static const char *type_name(enum http_event_type t)
{
	return t == HTTP_EV_EXCHANGE ? "EXCHANGE" : t == HTTP_EV_UPGRADE ? "UPGRADE" : "ERROR";
}

static void dump(const struct rec *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct http_event *e = &r->ev[i];

		print_message("  ev[%zu] %s %s %s %u req=%llu resp=%llu ts=%llu..%llu %s\n", i,
			      type_name(e->type), e->x.method, e->x.path, e->x.status,
			      (unsigned long long)e->x.req_bytes,
			      (unsigned long long)e->x.resp_bytes,
			      (unsigned long long)e->x.start_ns, (unsigned long long)e->x.end_ns,
			      e->reason ? e->reason : "");
	}
}

static void expect_n(const struct rec *r, size_t n)
{
	if (r->n != n) {
		print_message("expected %zu events, got %zu:\n", n, r->n);
		dump(r);
	}
	assert_int_equal(r->n, n);
}

static const struct http_event *ev_at(const struct rec *r, size_t i)
{
	if (i >= r->n) {
		print_message("no event %zu:\n", i);
		dump(r);
	}
	assert_true(i < r->n);
	return &r->ev[i];
}

static void check_exchange(const struct rec *r, size_t i, const char *method, const char *path,
			   unsigned int status, uint64_t req, uint64_t resp)
{
	const struct http_event *e = ev_at(r, i);

	if (e->type != HTTP_EV_EXCHANGE)
		dump(r);
	assert_int_equal(e->type, HTTP_EV_EXCHANGE);
	assert_string_equal(e->x.method, method);
	assert_string_equal(e->x.path, path);
	assert_int_equal(e->x.status, status);
	assert_int_equal(e->x.req_bytes, req);
	if (e->x.resp_bytes != resp)
		dump(r);
	assert_int_equal(e->x.resp_bytes, resp);
	assert_false(e->x.upgrade);
}

static void check_error(const struct rec *r, size_t i, const char *reason, const char *method,
			const char *path)
{
	const struct http_event *e = ev_at(r, i);

	if (e->type != HTTP_EV_ERROR)
		dump(r);
	assert_int_equal(e->type, HTTP_EV_ERROR);
	assert_non_null(e->reason);
	assert_string_equal(e->reason, reason);
	assert_string_equal(e->x.method, method);
	assert_string_equal(e->x.path, path);
}

/* ---- feeding ---- */

static struct http_conn conn;
static struct rec rec;

static size_t feed_cut(bool client, const void *p, size_t captured, size_t total,
		       size_t tail_len, uint64_t ts)
{
	const uint8_t *b = p;

	return http__feed(&conn, client, b, captured, total, tail_len ? b + total - tail_len : NULL,
			  tail_len, ts, on_event, &rec);
}

static size_t feed_n(bool client, const void *p, size_t n, uint64_t ts)
{
	return feed_cut(client, p, n, n, 0, ts);
}

static size_t feed_s(bool client, const char *s, uint64_t ts)
{
	return feed_n(client, s, strlen(s), ts);
}

static void reset(void)
{
	http__free(&conn);
	http__init(&conn);
	memset(&rec, 0, sizeof(rec));
}

static int setup(void **state)
{
	(void)state;
	reset();
	return 0;
}

/* ---- messages ---- */

struct buf {
	char b[128 * 1024];
	size_t n;
};

static struct buf req, resp;

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(&b->b[b->n], p, n);
	b->n += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	put(b, tmp, (size_t)n);
}

/* Body bytes that never look like a line end nor a start line. */
static void put_body(struct buf *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put(b, &"abcdefghijklmnopqrstuvwxyz"[i % 26], 1);
}

static void build_nginx(struct buf *b)
{
	b->n = 0;
	puts_(b, NGINX_HEAD);
	put_body(b, NGINX_BODY_LEN);
}

/* ---- whole messages, splits ---- */

static void test_recorded_lengths(void **state)
{
	(void)state;
	/* the fixtures are what was measured */
	assert_int_equal(strlen(NGINX_HEAD), NGINX_HEAD_LEN);
	build_nginx(&resp);
	assert_int_equal(resp.n, NGINX_RESP_LEN);
}

static void test_curl_nginx_whole(void **state)
{
	(void)state;
	build_nginx(&resp);
	assert_int_equal(feed_s(CLIENT, CURL_REQ, 100), strlen(CURL_REQ));
	expect_n(&rec, 0);
	assert_int_equal(feed_n(SERVER, resp.b, resp.n, 250), resp.n);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/index.html", 200, strlen(CURL_REQ), NGINX_RESP_LEN);
	assert_int_equal(rec.ev[0].x.start_ns, 100);
	assert_int_equal(rec.ev[0].x.end_ns, 250);
	assert_false(rec.ev[0].x.path_truncated);
}

static void test_curl_nginx_byte_by_byte(void **state)
{
	size_t i, rn = strlen(CURL_REQ);

	(void)state;
	build_nginx(&resp);
	for (i = 0; i < rn; i++)
		assert_int_equal(feed_n(CLIENT, CURL_REQ + i, 1, 1000 + i), 1);
	for (i = 0; i < resp.n; i++) {
		assert_int_equal(feed_n(SERVER, resp.b + i, 1, 5000 + i), 1);
		expect_n(&rec, i == resp.n - 1);
	}
	check_exchange(&rec, 0, "GET", "/index.html", 200, rn, NGINX_RESP_LEN);
	assert_int_equal(rec.ev[0].x.start_ns, 1000);
	assert_int_equal(rec.ev[0].x.end_ns, 5000 + resp.n - 1);
}

/* Every two-chunk split of the request and of the response, on a keep-alive connection. */
static void test_curl_nginx_every_split(void **state)
{
	size_t i, rn = strlen(CURL_REQ), max = resp.n;

	(void)state;
	build_nginx(&resp);
	max = resp.n > rn ? resp.n : rn;
	for (i = 1; i < max; i++) {
		size_t qi = i < rn ? i : rn / 2, si = i < resp.n ? i : resp.n / 2;

		rec.n = 0;
		feed_n(CLIENT, CURL_REQ, qi, 1);
		feed_n(CLIENT, CURL_REQ + qi, rn - qi, 2);
		feed_n(SERVER, resp.b, si, 3);
		expect_n(&rec, 0);
		feed_n(SERVER, resp.b + si, resp.n - si, 4);
		expect_n(&rec, 1);
		check_exchange(&rec, 0, "GET", "/index.html", 200, rn, NGINX_RESP_LEN);
		assert_int_equal(rec.ev[0].x.start_ns, qi ? 1 : 2);
		assert_int_equal(rec.ev[0].x.end_ns, 4);
	}
}

static void test_keep_alive(void **state)
{
	int i;

	(void)state;
	build_nginx(&resp);
	for (i = 0; i < 5; i++) {
		feed_s(CLIENT, CURL_REQ, 10 * i + 1);
		feed_n(SERVER, resp.b, resp.n, 10 * i + 2);
		expect_n(&rec, (size_t)i + 1);
		check_exchange(&rec, (size_t)i, "GET", "/index.html", 200, strlen(CURL_REQ),
			       NGINX_RESP_LEN);
		assert_int_equal(rec.ev[i].x.start_ns, 10 * i + 1);
		assert_int_equal(rec.ev[i].x.end_ns, 10 * i + 2);
	}
	http__close(&conn, 99, on_event, &rec);
	expect_n(&rec, 5); /* nothing outstanding */
}

static void test_pipelined_three_in_one_chunk(void **state)
{
	static const char reqs[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
				   "POST /b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
				   "DELETE /c/42 HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char r1[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	static const char r2[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	static const char r3[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";

	(void)state;
	feed_s(CLIENT, reqs, 1);
	resp.n = 0;
	puts_(&resp, r1);
	puts_(&resp, r2);
	puts_(&resp, r3);
	feed_n(SERVER, resp.b, resp.n, 2);
	expect_n(&rec, 3);
	check_exchange(&rec, 0, "GET", "/a", 200, 28, strlen(r1));
	check_exchange(&rec, 1, "POST", "/b", 201, 57, strlen(r2));
	check_exchange(&rec, 2, "DELETE", "/c/42", 404, 34, strlen(r3));
	assert_int_equal(28 + 57 + 34, strlen(reqs));
}

/* Beyond HTTP_PIPELINE_MAX outstanding: the extra requests are dropped and so are their
 * responses; the others keep their own status. */
static void test_pipeline_overflow(void **state)
{
	int i, n = HTTP_PIPELINE_MAX + 3;
	char path[32];

	(void)state;
	req.n = 0;
	for (i = 0; i < n; i++)
		putf(&req, "GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
	feed_n(CLIENT, req.b, req.n, 1);
	assert_non_null(conn.q_heap); /* past the connection's own places */
	expect_n(&rec, 3);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/r%d", HTTP_PIPELINE_MAX + i);
		check_error(&rec, (size_t)i, "too_many_pipelined", "GET", path);
	}
	/* statuses 400 + i tell the responses apart (all with a body, unlike 204) */
	resp.n = 0;
	for (i = 0; i < n; i++)
		putf(&resp, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok", 400 + i);
	feed_n(SERVER, resp.b, resp.n, 2);
	assert_null(conn.q_heap); /* all answered: back in the connection */
	expect_n(&rec, 3 + HTTP_PIPELINE_MAX);
	for (i = 0; i < HTTP_PIPELINE_MAX; i++) {
		snprintf(path, sizeof(path), "/r%d", i);
		check_exchange(&rec, 3 + (size_t)i, "GET", path, 400 + (unsigned int)i,
			       i < 10 ? 29 : 30, 39);
	}
	/* the connection goes on in step */
	feed_s(CLIENT, "GET /next HTTP/1.1\r\n\r\n", 3);
	feed_s(SERVER, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 4);
	expect_n(&rec, 4 + HTTP_PIPELINE_MAX);
	check_exchange(&rec, 3 + HTTP_PIPELINE_MAX, "GET", "/next", 202, 22, 44);
}

/* ---- bodies ---- */

static void test_chunked_extensions_trailers(void **state)
{
	static const char r[] = "HTTP/1.1 200 OK\r\n"
				"Transfer-Encoding: gzip, Chunked\r\n"
				"Trailer: Expires\r\n"
				"\r\n"
				"5;name=value;other=\"q\"\r\nhello\r\n"
				"1A \r\nabcdefghijklmnopqrstuvwxyz\r\n"
				"0;last\r\n"
				"Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
				"X-Checksum: 5\r\n"
				"\r\n";
	size_t i, n = strlen(r);

	(void)state;
	for (i = 0; i <= n; i++) { /* whole (i == n), then every split */
		reset();
		feed_s(CLIENT, "GET /gz HTTP/1.1\r\n\r\n", 1);
		if (i == n) {
			feed_n(SERVER, r, n, 2);
		} else {
			feed_n(SERVER, r, i, 2);
			expect_n(&rec, 0);
			feed_n(SERVER, r + i, n - i, 3);
		}
		expect_n(&rec, 1);
		check_exchange(&rec, 0, "GET", "/gz", 200, 20, n);
	}
	/* a response of the next request follows on the same connection */
	feed_s(CLIENT, "GET /2 HTTP/1.1\r\n\r\n", 4);
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 5);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/2", 200, 19, 39);
}

static void test_chunked_request(void **state)
{
	static const char q[] = "PUT /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
				"4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n";

	(void)state;
	feed_s(CLIENT, q, 1);
	feed_s(SERVER, "HTTP/1.1 204 No Content\r\n\r\n", 2);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "PUT", "/upload", 204, strlen(q), 27);
}

/* Chunk-size lines that are not hex lose the framing as a bad header. */
static void test_bad_chunk_size(void **state)
{
	(void)state;
	feed_s(CLIENT, "GET / HTTP/1.1\r\n\r\n", 1);
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 2);
	expect_n(&rec, 1);
	check_error(&rec, 0, "bad_header", "GET", "/");
}

static void test_head_with_content_length(void **state)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 615\r\n\r\n";

	(void)state;
	build_nginx(&resp);
	feed_s(CLIENT, "HEAD /index.html HTTP/1.1\r\n\r\n", 1);
	feed_s(SERVER, h, 2);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "HEAD", "/index.html", 200, 29, strlen(h));
	/* the next response's head is not taken for 615 body bytes */
	feed_s(CLIENT, CURL_REQ, 3);
	feed_n(SERVER, resp.b, resp.n, 4);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/index.html", 200, strlen(CURL_REQ), NGINX_RESP_LEN);
}

static void test_204_304_no_body(void **state)
{
	static const char r204[] = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
	static const char r304[] = "HTTP/1.1 304 Not Modified\r\nContent-Length: 615\r\n"
				   "ETag: \"634faf0c-267\"\r\n\r\n";

	(void)state;
	feed_s(CLIENT, "DELETE /x HTTP/1.1\r\n\r\n", 1);
	feed_s(CLIENT, "GET /y HTTP/1.1\r\nIf-None-Match: \"634faf0c-267\"\r\n\r\n", 1);
	feed_s(SERVER, r204, 2);
	feed_s(SERVER, r304, 3);
	expect_n(&rec, 2);
	check_exchange(&rec, 0, "DELETE", "/x", 204, 22, strlen(r204));
	check_exchange(&rec, 1, "GET", "/y", 304, 50, strlen(r304));
}

static void test_expect_100_continue(void **state)
{
	static const char head[] = "POST /api/bitchat/messages/send HTTP/1.1\r\nHost: h\r\n"
				   "Content-Length: 11\r\nExpect: 100-continue\r\n\r\n";
	static const char r100[] = "HTTP/1.1 100 Continue\r\n\r\n";
	static const char r200[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

	(void)state;
	feed_s(CLIENT, head, 10);
	feed_s(SERVER, r100, 20);
	expect_n(&rec, 0);
	feed_s(CLIENT, "hello world", 30);
	expect_n(&rec, 0);
	feed_s(SERVER, r200, 40);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "POST", "/api/bitchat/messages/send", 200, strlen(head) + 11,
		       strlen(r100) + strlen(r200));
	assert_int_equal(rec.ev[0].x.start_ns, 10);
	assert_int_equal(rec.ev[0].x.end_ns, 40);

	/* a final answer before the body (417): the exchange completes with the body */
	feed_s(CLIENT, head, 50);
	feed_s(SERVER, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n", 60);
	expect_n(&rec, 1);
	feed_s(CLIENT, "hello world", 70);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "POST", "/api/bitchat/messages/send", 417, strlen(head) + 11, 54);
	assert_int_equal(rec.ev[1].x.end_ns, 60);
}

static void test_close_delimited(void **state)
{
	static const char r[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";

	(void)state;
	feed_s(CLIENT, "GET /stream HTTP/1.0\r\n\r\n", 1);
	feed_s(SERVER, r, 2);
	feed_cut(SERVER, "0123456789", 10, 5000, 0, 3); /* mostly uncaptured */
	feed_s(SERVER, "tail", 4);
	expect_n(&rec, 0);
	http__close(&conn, 9, on_event, &rec);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/stream", 200, 24, strlen(r) + 5000 + 4);
	assert_int_equal(rec.ev[0].x.end_ns, 4);
}

static void test_no_response_at_close(void **state)
{
	(void)state;
	feed_s(CLIENT, "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nab", 1);
	/* a response in progress does not count as received */
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", 2);
	http__close(&conn, 3, on_event, &rec);
	expect_n(&rec, 2);
	check_error(&rec, 0, "no_response", "GET", "/a");
	check_error(&rec, 1, "no_response", "POST", "/b");
	assert_int_equal(rec.ev[1].x.req_bytes, 41); /* head + the 2 body bytes seen */
	assert_int_equal(rec.ev[0].x.status, 0);
}

/* A response whose request was never seen (an SSL_read before its binary was hooked, a
 * connection older than the capture): one "no_request", and the next exchange pairs. */
static void test_response_without_request(void **state)
{
	(void)state;
	build_nginx(&resp);
	feed_n(SERVER, resp.b, resp.n, 1);
	expect_n(&rec, 1);
	check_error(&rec, 0, "no_request", "", "");
	assert_int_equal(rec.ev[0].x.status, 0);
	feed_s(CLIENT, CURL_REQ, 2);
	feed_n(SERVER, resp.b, resp.n, 3);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/index.html", 200, strlen(CURL_REQ), NGINX_RESP_LEN);
	/* a 100 Continue is interim, not a response without a request */
	feed_s(CLIENT, "POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 4);
	feed_s(SERVER, "HTTP/1.1 100 Continue\r\n\r\n", 5);
	feed_s(CLIENT, "ab", 6);
	feed_s(SERVER, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 7);
	expect_n(&rec, 3);
	assert_int_equal(rec.ev[2].type, HTTP_EV_EXCHANGE);
	assert_int_equal(rec.ev[2].x.status, 201);
	http__close(&conn, 8, on_event, &rec);
	expect_n(&rec, 3);
}

/* ---- gaps ---- */

/* A 100000-byte response body mostly uncaptured, in chunks of 65536 with 256 captured. */
static void test_gap_in_body(void **state)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
	size_t hn = strlen(h), total = hn + 100000, off = 0, chunk;
	uint64_t ts = 10;

	(void)state;
	resp.n = 0;
	puts_(&resp, h);
	put_body(&resp, 100000);
	assert_int_equal(resp.n, total);
	feed_cut(CLIENT, "GET /big HTTP/1.1\r\n\r\n", 5, 21, 0, 1); /* request gap: no body */
	expect_n(&rec, 1);
	check_error(&rec, 0, "desync", "", ""); /* the head ran into the gap */
	rec.n = 0;
	reset();
	feed_s(CLIENT, "GET /big HTTP/1.1\r\n\r\n", 1);
	while (off < total) {
		chunk = total - off < 65536 ? total - off : 65536;
		assert_int_equal(feed_cut(SERVER, resp.b + off, chunk < 256 ? chunk : 256, chunk, 0,
					  ts),
				 chunk);
		off += chunk;
		ts++;
	}
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/big", 200, 21, total);
	assert_int_equal(rec.ev[0].x.end_ns, ts - 1);
	/* in sync afterwards */
	feed_s(CLIENT, "GET /small HTTP/1.1\r\n\r\n", 20);
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 21);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/small", 200, 23, 39);
}

/* Chunked body whose size lines fall in the gap: the tail's "0\r\n\r\n" ends it. */
static void test_chunked_gap_with_tail(void **state)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	size_t hn = strlen(h), body_start;

	(void)state;
	resp.n = 0;
	puts_(&resp, h);
	body_start = resp.n;
	putf(&resp, "%x\r\n", 3000);
	put_body(&resp, 3000);
	putf(&resp, "\r\n%x\r\n", 1500);
	put_body(&resp, 1500);
	puts_(&resp, "\r\n0\r\n\r\n");
	assert_true(body_start == hn);

	feed_s(CLIENT, "GET /feed HTTP/1.1\r\n\r\n", 1);
	/* one write of everything, 256 captured, 16 known at the end */
	assert_int_equal(feed_cut(SERVER, resp.b, 256, resp.n, 16, 2), resp.n);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/feed", 200, 22, resp.n);

	/* the same in two writes, the first ending mid-data: no end until the second */
	reset();
	feed_s(CLIENT, "GET /feed HTTP/1.1\r\n\r\n", 1);
	feed_cut(SERVER, resp.b, 256, 4000, 16, 2);
	expect_n(&rec, 0);
	feed_cut(SERVER, resp.b + 4000, 100, resp.n - 4000, 16, 3);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/feed", 200, 22, resp.n);
	assert_int_equal(rec.ev[0].x.end_ns, 3);

	/* without a tail the end is found when the next response starts a chunk */
	reset();
	feed_s(CLIENT, "GET /feed HTTP/1.1\r\n\r\n", 1);
	feed_cut(SERVER, resp.b, 256, resp.n, 0, 2);
	expect_n(&rec, 0);
	feed_s(CLIENT, "GET /n HTTP/1.1\r\n\r\n", 3);
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4);
	expect_n(&rec, 2);
	check_exchange(&rec, 0, "GET", "/feed", 200, 22, resp.n);
	assert_int_equal(rec.ev[0].x.end_ns, 2);
	check_exchange(&rec, 1, "GET", "/n", 200, 19, 38);
}

/* The response head runs into a gap: its request is reported, the next one pairs right. */
static void test_desync_resync(void **state)
{
	(void)state;
	build_nginx(&resp);
	feed_s(CLIENT, CURL_REQ, 1);
	feed_cut(SERVER, resp.b, 10, resp.n, 16, 2); /* the status line runs into the gap */
	expect_n(&rec, 1);
	check_error(&rec, 0, "desync", "GET", "/index.html");
	/* bytes that do not start a response are skipped, without a second report */
	feed_s(SERVER, "more body bytes", 3);
	expect_n(&rec, 1);
	feed_s(CLIENT, "GET /two HTTP/1.1\r\n\r\n", 4);
	feed_n(SERVER, resp.b, resp.n, 5);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/two", 200, 21, NGINX_RESP_LEN);

	/* the client side: a request head in the gap; its response is skipped */
	reset();
	feed_s(CLIENT, "GET /one HTTP/1.1\r\n\r\n", 1);
	feed_s(SERVER, "HTTP/1.1 201 A\r\nContent-Length: 0\r\n\r\n", 2);
	feed_cut(CLIENT, "GET /lost HTTP/1.1\r\nHost: h\r\n\r\n", 8, 31, 0, 3);
	expect_n(&rec, 2);
	check_exchange(&rec, 0, "GET", "/one", 201, 21, 37);
	check_error(&rec, 1, "desync", "", ""); /* its request line was not complete */
	feed_s(SERVER, "HTTP/1.1 500 Lost\r\nContent-Length: 0\r\n\r\n", 4);
	expect_n(&rec, 2);
	assert_int_equal(conn.orphan_responses, 0);
	feed_s(CLIENT, "junk that is not a request", 5);
	feed_s(CLIENT, "GET /three HTTP/1.1\r\n\r\n", 6);
	feed_s(SERVER, "HTTP/1.1 203 C\r\nContent-Length: 0\r\n\r\n", 7);
	expect_n(&rec, 3);
	check_exchange(&rec, 2, "GET", "/three", 203, 23, 37);

	/* pipelined: only the request whose response was lost is dropped */
	reset();
	feed_s(CLIENT, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n", 1);
	feed_cut(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5, 38, 0, 2);
	expect_n(&rec, 1);
	check_error(&rec, 0, "desync", "GET", "/1");
	feed_s(SERVER, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 3);
	feed_s(SERVER, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 4);
	expect_n(&rec, 3);
	check_exchange(&rec, 1, "GET", "/2", 202, 19, 44);
	check_exchange(&rec, 2, "GET", "/3", 201, 19, 43);
}

/*
 * Heads longer than the captured prefix (browser cookies, Next.js response headers): the
 * start line stands, and the message ends where the other side's next move shows.
 */
static void test_head_cut_by_gap(void **state)
{
	static const char nh[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				 "Vary: RSC, Next-Router-State-Tree, Next-Router-Prefetch\r\n";
	size_t n, head;

	(void)state;
	build_nginx(&resp);
	/* the response ends when the client asks again */
	feed_s(CLIENT, CURL_REQ, 1);
	feed_cut(SERVER, resp.b, 100, resp.n, 16, 2);
	expect_n(&rec, 0);
	feed_s(CLIENT, "GET /next HTTP/1.1\r\n\r\n", 3);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/index.html", 200, strlen(CURL_REQ), NGINX_RESP_LEN);
	assert_int_equal(rec.ev[0].x.end_ns, 2);
	feed_n(SERVER, resp.b, resp.n, 4);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/next", 200, 22, NGINX_RESP_LEN);

	/* ... or at close, or when the next response starts a chunk (pipelining) */
	reset();
	feed_s(CLIENT, CURL_REQ, 1);
	feed_cut(SERVER, resp.b, 100, 400, 0, 2);
	feed_cut(SERVER, resp.b + 400, 10, resp.n - 400, 0, 3);
	http__close(&conn, 4, on_event, &rec);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/index.html", 200, strlen(CURL_REQ), NGINX_RESP_LEN);
	assert_int_equal(rec.ev[0].x.end_ns, 3);
	reset();
	feed_s(CLIENT, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 1);
	feed_cut(SERVER, resp.b, 100, resp.n, 0, 2);
	feed_s(SERVER, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 3);
	expect_n(&rec, 2);
	check_exchange(&rec, 0, "GET", "/1", 200, 19, NGINX_RESP_LEN);
	assert_int_equal(rec.ev[0].x.end_ns, 2);
	check_exchange(&rec, 1, "GET", "/2", 404, 19, 45);

	/* a chunked response whose head is cut: its last-chunk in the tail ends it */
	reset();
	resp.n = 0;
	puts_(&resp, nh);
	while (resp.n < 300)
		puts_(&resp, "X-Pad: 0123456789\r\n");
	puts_(&resp, "\r\n");
	head = resp.n;
	putf(&resp, "%x\r\n", 2000);
	put_body(&resp, 2000);
	puts_(&resp, "\r\n0\r\n\r\n");
	feed_s(CLIENT, "GET /dashboard HTTP/1.1\r\n\r\n", 1);
	feed_cut(SERVER, resp.b, 256, resp.n, 16, 2);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/dashboard", 200, 27, resp.n);
	assert_true(head > 256);

	/* a request whose cookies run past the prefix: it ends when its response starts */
	reset();
	req.n = 0;
	puts_(&req, "POST /api/bitchat/groups/7/messages HTTP/1.1\r\nCookie: ");
	put_body(&req, 2000);
	puts_(&req, "\r\nContent-Length: 5\r\n\r\nhello");
	n = req.n;
	feed_cut(CLIENT, req.b, 256, n, 16, 1);
	expect_n(&rec, 0);
	feed_s(SERVER, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 2);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "POST", "/api/bitchat/groups/7/messages", 201, n, 45);

	/* bodiless answers end with the chunk that cut their head */
	reset();
	feed_s(CLIENT, "DELETE /x HTTP/1.1\r\n\r\n", 1);
	feed_cut(SERVER, "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n", 27, 35, 0, 2);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "DELETE", "/x", 204, 22, 35);
}

/* A pipelining client defeats the "next request ends the response" rule: the response is
 * ended too soon, its rest is skipped, and the next responses still pair right. */
static void test_head_cut_pipelined(void **state)
{
	(void)state;
	build_nginx(&resp);
	feed_s(CLIENT, "GET /1 HTTP/1.1\r\n\r\n", 1);
	feed_cut(SERVER, resp.b, 100, 500, 0, 2); /* head cut, response not over */
	feed_s(CLIENT, "GET /2 HTTP/1.1\r\n\r\n", 3);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/1", 200, 19, 500); /* ended too soon */
	feed_n(SERVER, resp.b + 500, resp.n - 500, 4);
	expect_n(&rec, 1);
	feed_s(CLIENT, "GET /3 HTTP/1.1\r\n\r\n", 5);
	feed_s(SERVER, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 6);
	feed_s(SERVER, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 7);
	expect_n(&rec, 3);
	check_exchange(&rec, 1, "GET", "/2", 202, 19, 44);
	check_exchange(&rec, 2, "GET", "/3", 201, 19, 43);
	assert_int_equal(conn.orphan_responses, 0);
}

/* A chunked upload whose size lines fall in gaps ends when its response starts. */
static void test_chunked_request_gap(void **state)
{
	size_t n;

	(void)state;
	req.n = 0;
	puts_(&req, "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	putf(&req, "%x\r\n", 5000);
	put_body(&req, 5000);
	puts_(&req, "\r\n");
	n = req.n;
	puts_(&req, "0\r\n\r\n");
	feed_cut(CLIENT, req.b, 100, n, 0, 1); /* no tail: the end is not seen */
	feed_n(CLIENT, req.b + n, req.n - n, 2); /* the last-chunk alone, captured */
	feed_s(SERVER, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 3);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "POST", "/upload", 201, req.n, 43);

	reset();
	feed_cut(CLIENT, req.b, 100, req.n - 3, 0, 1); /* "\r\n0\r\n" and no tail */
	feed_n(CLIENT, req.b + req.n - 3, 3, 2);	/* "\r\n\r\n" is not a last-chunk */
	expect_n(&rec, 0);
	feed_s(SERVER, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 3);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "POST", "/upload", 201, req.n, 43);
}

/* Something other than a start line where one is due. */
static void test_desync_garbage(void **state)
{
	(void)state;
	feed_s(CLIENT, "GET /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nabcd", 1); /* 2 extra */
	expect_n(&rec, 1);
	check_error(&rec, 0, "desync", "", "");
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/a", 200, 40, 38);
}

static void test_not_http(void **state)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
					 0xfc, 0x03, 0x03, 0xde, 0xad, 0xbe, 0xef };
	static const uint8_t server_hello[] = { 0x16, 0x03, 0x03, 0x00, 0x7a, 0x02 };

	(void)state;
	assert_int_equal(feed_n(CLIENT, hello, sizeof(hello), 1), sizeof(hello));
	expect_n(&rec, 1);
	check_error(&rec, 0, "not_http", "", "");
	feed_n(CLIENT, hello, sizeof(hello), 2);
	feed_n(SERVER, server_hello, sizeof(server_hello), 3);
	expect_n(&rec, 1); /* once for the connection */
	/* a chunk that starts with a request line is parsed again */
	feed_s(CLIENT, "OPTIONS * HTTP/1.1\r\n\r\n", 4);
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "OPTIONS", "*", 200, 22, 38);

	/* text that is not HTTP, split: found within the first bytes */
	reset();
	feed_s(CLIENT, "SSH-2.0-OpenSSH_9.2\r\n", 1);
	expect_n(&rec, 1);
	check_error(&rec, 0, "not_http", "", "");
	reset();
	feed_s(CLIENT, "G", 1);
	feed_s(CLIENT, "E", 1);
	expect_n(&rec, 0);
	feed_s(CLIENT, "X /", 1);
	expect_n(&rec, 1);
	check_error(&rec, 0, "not_http", "", "");
	/* HTTP/2 prior knowledge is not HTTP/1.x */
	reset();
	feed_s(CLIENT, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1);
	expect_n(&rec, 1);
	check_error(&rec, 0, "not_http", "", "");
}

static void test_bad_header(void **state)
{
	static const char *const bad[] = {
		"POST /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST /x HTTP/1.1\r\nNo colon here\r\n\r\n",
		"POST /x HTTP/1.1\r\nBad Name: 1\r\n\r\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		reset();
		feed_s(CLIENT, bad[i], 1);
		expect_n(&rec, 1);
		check_error(&rec, 0, "bad_header", "POST", "/x");
		/* the server answers the bad request: that answer pairs with nothing */
		feed_s(SERVER, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 2);
		expect_n(&rec, 1);
		assert_int_equal(conn.orphan_responses, 0);
		/* case-insensitive names; equal repeated values are one length (RFC 9110 8.6) */
		feed_s(CLIENT, "POST /ok HTTP/1.1\r\ncontent-LENGTH: 3, 3\r\n\r\nabc", 3);
		feed_s(SERVER, "HTTP/1.1 200 OK\r\nCONTENT-length: 0\r\n\r\n", 4);
		expect_n(&rec, 2);
		check_exchange(&rec, 1, "POST", "/ok", 200, 46, 38);
	}
}

/* Header lines longer than the line buffer: the name is kept, the rest skipped. */
static void test_long_header_lines(void **state)
{
	size_t i, n;

	(void)state;
	req.n = 0;
	puts_(&req, "POST /form HTTP/1.1\r\nCookie: ");
	put_body(&req, 3000);
	puts_(&req, "\r\nX-Long: ");
	put_body(&req, HTTP_LINE_MAX - 10); /* the line is one byte longer than the buffer */
	puts_(&req, "\r\nContent-Length: 4\r\n\r\nbody");
	n = req.n;
	for (i = 0; i < 2; i++) {
		reset();
		if (i == 0) {
			feed_n(CLIENT, req.b, n, 1);
		} else {
			size_t j;

			for (j = 0; j < n; j++)
				feed_n(CLIENT, req.b + j, 1, 1);
		}
		feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
		expect_n(&rec, 1);
		check_exchange(&rec, 0, "POST", "/form", 200, n, 38);
	}
}

static void test_paths(void **state)
{
	char longreq[1200];
	size_t n;

	(void)state;
	feed_s(CLIENT, "GET http://example.com:8080/api/x?y=1 HTTP/1.1\r\n\r\n", 1);
	feed_s(CLIENT, "GET https://example.com HTTP/1.1\r\n\r\n", 1);
	feed_s(CLIENT, "GET /p#frag HTTP/1.1\r\n\r\n", 1);
	feed_s(CLIENT, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 1);
	http__close(&conn, 2, on_event, &rec);
	expect_n(&rec, 4);
	check_error(&rec, 0, "no_response", "GET", "/api/x");
	check_error(&rec, 1, "no_response", "GET", "/");
	check_error(&rec, 2, "no_response", "GET", "/p");
	check_error(&rec, 3, "no_response", "CONNECT", "example.com:443");

	/* a 1000-byte path: kept truncated, the line longer than the buffer */
	reset();
	memcpy(longreq, "GET /", 5);
	memset(longreq + 5, 'a', 1000);
	strcpy(longreq + 1005, "?q=1 HTTP/1.1\r\n\r\n");
	n = strlen(longreq);
	feed_n(CLIENT, longreq, n, 1);
	feed_s(SERVER, "HTTP/1.1 414 URI Too Long\r\nContent-Length: 0\r\n\r\n", 2);
	expect_n(&rec, 1);
	assert_true(rec.ev[0].x.path_truncated);
	assert_int_equal(strlen(rec.ev[0].x.path), HTTP_PATH_MAX - 1);
	assert_int_equal(rec.ev[0].x.req_bytes, n);
	assert_int_equal(rec.ev[0].x.status, 414);
}

/* ---- upgrade ---- */

static void test_websocket_upgrade(void **state)
{
	static const char q[] = "GET /api/bitchat/ws/peer-42 HTTP/1.1\r\nHost: h\r\n"
				"Upgrade: websocket\r\nConnection: Upgrade\r\n"
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				"Sec-WebSocket-Version: 13\r\n\r\n";
	static const char r[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
				"Connection: Upgrade\r\n"
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	/* an unmasked text frame {"type":"pong"} right behind the head */
	static const char frame[] = "\x81\x0f{\"type\":\"pong\"}";
	size_t fn = sizeof(frame) - 1;

	(void)state;
	assert_int_equal(feed_s(CLIENT, q, 1), strlen(q));
	resp.n = 0;
	puts_(&resp, r);
	put(&resp, frame, fn);
	assert_int_equal(feed_n(SERVER, resp.b, resp.n, 2), strlen(r));
	expect_n(&rec, 1);
	assert_int_equal(rec.ev[0].type, HTTP_EV_UPGRADE);
	assert_string_equal(rec.ev[0].x.method, "GET");
	assert_string_equal(rec.ev[0].x.path, "/api/bitchat/ws/peer-42");
	assert_int_equal(rec.ev[0].x.status, 101);
	assert_true(rec.ev[0].x.upgrade);
	assert_string_equal(rec.ev[0].x.upgrade_proto, "websocket");
	assert_int_equal(rec.ev[0].x.req_bytes, strlen(q));
	assert_int_equal(rec.ev[0].x.resp_bytes, strlen(r));
	assert_int_equal(rec.ev[0].x.end_ns, 2);
	assert_true(http__upgraded(&conn));
	assert_int_equal(feed_s(CLIENT, "\x81\x8f", 3), 0);
	assert_int_equal(feed_n(SERVER, frame, fn, 4), 0);
	http__close(&conn, 5, on_event, &rec);
	expect_n(&rec, 1);

	/* byte by byte: only the chunk holding the head's last byte is cut short */
	reset();
	feed_s(CLIENT, q, 1);
	{
		size_t i, got = 0;

		for (i = 0; i < resp.n; i++)
			got += feed_n(SERVER, resp.b + i, 1, 2);
		assert_int_equal(got, strlen(r));
	}
	expect_n(&rec, 1);
	assert_int_equal(rec.ev[0].type, HTTP_EV_UPGRADE);
}

/* The 101's Sec-WebSocket-Extensions (RFC 6455 9.1) reach the upgrade: joined over several
 * lines, "" without, NULL when a line was too long or a gap hid the head. */
static void test_websocket_extensions(void **state)
{
	static const char q[] = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n";
	char r[1024], longv[600];
	size_t i;

	(void)state;
	snprintf(r, sizeof(r),
		 "%sSEC-WEBSOCKET-EXTENSIONS:  permessage-deflate; server_max_window_bits=12 \r\n"
		 "Sec-WebSocket-Extensions: x-other\r\n\r\n",
		 head);
	feed_s(CLIENT, q, 1);
	feed_s(SERVER, r, 2);
	expect_n(&rec, 1);
	assert_non_null(rec.ev[0].ws_extensions);
	assert_string_equal(rec.ev[0].ws_extensions,
			    "permessage-deflate; server_max_window_bits=12, x-other");

	/* byte by byte */
	reset();
	feed_s(CLIENT, q, 1);
	for (i = 0; r[i]; i++)
		feed_n(SERVER, r + i, 1, 2);
	expect_n(&rec, 1);
	assert_string_equal(rec.ev[0].ws_extensions,
			    "permessage-deflate; server_max_window_bits=12, x-other");

	/* none: the request's offer does not count */
	reset();
	feed_s(CLIENT, q, 1);
	snprintf(r, sizeof(r), "%s\r\n", head);
	feed_s(SERVER, r, 2);
	expect_n(&rec, 1);
	assert_string_equal(rec.ev[0].ws_extensions, "");

	/* a value longer than kept, a line longer than HTTP_LINE_MAX */
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	for (i = 0; i < 2; i++) {
		reset();
		feed_s(CLIENT, q, 1);
		snprintf(r, sizeof(r), "%sSec-WebSocket-Extensions: %.*s\r\n\r\n", head,
			 i ? 590 : HTTP_WS_EXT_MAX, longv);
		feed_s(SERVER, r, 2);
		expect_n(&rec, 1);
		assert_null(rec.ev[0].ws_extensions);
	}

	/* a gap after the status line: the head's lines are unknown */
	reset();
	feed_s(CLIENT, q, 1);
	snprintf(r, sizeof(r), "%sSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", head);
	feed_cut(SERVER, r, 40, strlen(r), 0, 2);
	expect_n(&rec, 1);
	assert_int_equal(rec.ev[0].type, HTTP_EV_UPGRADE);
	assert_null(rec.ev[0].ws_extensions);
}

/* Client bytes after an Upgrade request and before its answer are not HTTP; a refusal
 * puts the connection back to HTTP. */
static void test_upgrade_refused(void **state)
{
	static const char q[] = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

	(void)state;
	req.n = 0;
	puts_(&req, q);
	puts_(&req, "\x81\x85masked");
	assert_int_equal(feed_n(CLIENT, req.b, req.n, 1), strlen(q));
	assert_int_equal(feed_s(CLIENT, "\x81\x85more", 2), 0);
	expect_n(&rec, 0);
	feed_s(SERVER, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", 3);
	expect_n(&rec, 1);
	check_exchange(&rec, 0, "GET", "/ws", 426, strlen(q), 52);
	assert_string_equal(rec.ev[0].x.upgrade_proto, "websocket"); /* what was asked */
	assert_false(http__upgraded(&conn));
	feed_s(CLIENT, "GET /again HTTP/1.1\r\n\r\n", 4);
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
	expect_n(&rec, 2);
	check_exchange(&rec, 1, "GET", "/again", 200, 23, 38);
}

static void test_connect_tunnel(void **state)
{
	static const char r[] = "HTTP/1.1 200 Connection Established\r\n\r\n";

	(void)state;
	feed_s(CLIENT, "CONNECT backend:8000 HTTP/1.1\r\nHost: backend:8000\r\n\r\n", 1);
	resp.n = 0;
	puts_(&resp, r);
	puts_(&resp, "\x16\x03\x03");
	assert_int_equal(feed_n(SERVER, resp.b, resp.n, 2), strlen(r));
	expect_n(&rec, 1);
	assert_int_equal(rec.ev[0].type, HTTP_EV_UPGRADE);
	assert_string_equal(rec.ev[0].x.upgrade_proto, "connect");
	assert_int_equal(rec.ev[0].x.status, 200);
	assert_true(http__upgraded(&conn));
}

/* A 101 without an Upgrade header still switches; the request's value is kept. */
static void test_upgrade_h2c(void **state)
{
	(void)state;
	feed_s(CLIENT, "GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		       "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", 1);
	assert_int_equal(feed_s(SERVER, "HTTP/1.1 101 Switching Protocols\r\n\r\n\0\0\x12\x04", 2),
			 36);
	expect_n(&rec, 1);
	assert_int_equal(rec.ev[0].type, HTTP_EV_UPGRADE);
	assert_string_equal(rec.ev[0].x.upgrade_proto, "h2c");
}

/* ---- routes ---- */

static void route_is(const char *path, const char *const *pats, size_t np, const char *want,
		     bool matched)
{
	char out[HTTP_PATH_MAX];
	bool m = http__route(path, pats, np, out, sizeof(out));

	if (strcmp(out, want) || m != matched)
		print_message("route(%s) = %s (%d), want %s (%d)\n", path, out, m, want, matched);
	assert_string_equal(out, want);
	assert_int_equal(m, matched);
}

static void test_route_ids(void **state)
{
	(void)state;
	route_is("/api/betanet/nodes/42", NULL, 0, "/api/betanet/nodes/:id", false);
	route_is("/users/123/posts/456", NULL, 0, "/users/:id/posts/:id", false);
	route_is("/api/bitchat/ws/6f1c2a7e-94d3-4b8a-a1f0-3c5d9e2b7a10", NULL, 0,
		 "/api/bitchat/ws/:id", false);
	route_is("/api/betanet/nodes/node-6F1C2A7E-94D3-4B8A-A1F0-3C5D9E2B7A10/stats", NULL, 0,
		 "/api/betanet/nodes/:id/stats", false);
	route_is("/blobs/0123456789abcdef0123", NULL, 0, "/blobs/:id", false);
	route_is("/commit/3f2a9c1b", NULL, 0, "/commit/:id", false);
	/* words stay, even hex-looking ones */
	route_is("/deadbeef/cafe/v2/health", NULL, 0, "/deadbeef/cafe/v2/health", false);
	route_is("/api/v1/abc123", NULL, 0, "/api/v1/abc123", false); /* 6 chars: a name */
	route_is("/", NULL, 0, "/", false);
	route_is("/a//b/", NULL, 0, "/a//b/", false);
	route_is("*", NULL, 0, "*", false);
	/* 6f1c2a7e-94d3 is not a whole UUID */
	route_is("/x/6f1c2a7e-94d3", NULL, 0, "/x/6f1c2a7e-94d3", false);
}

static void test_route_query_dropped(void **state)
{
	char out[64];

	(void)state;
	/* the parser drops the query before a route is made */
	feed_s(CLIENT, "GET /api/betanet/nodes/17?verbose=1&x=2 HTTP/1.1\r\n\r\n", 1);
	feed_s(SERVER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2);
	expect_n(&rec, 1);
	http__route(rec.ev[0].x.path, NULL, 0, out, sizeof(out));
	assert_string_equal(out, "/api/betanet/nodes/:id");
}

static void test_route_patterns(void **state)
{
	static const char *const pats[] = {
		"/api/betanet/nodes/[id]",
		"/api/betanet/nodes/[id]/[...rest]",
		"/docs/[[...slug]]",
		"/blog/[...slug]",
		"/api/bitchat/groups/[gid]/messages",
	};

	(void)state;
	route_is("/api/betanet/nodes/alpha", pats, ARRAY_SIZE(pats), "/api/betanet/nodes/:id",
		 true);
	route_is("/api/betanet/nodes/alpha/a/b", pats, ARRAY_SIZE(pats),
		 "/api/betanet/nodes/:id/:rest*", true);
	route_is("/docs", pats, ARRAY_SIZE(pats), "/docs/:slug*", true);
	route_is("/docs/", pats, ARRAY_SIZE(pats), "/docs/:slug*", true);
	route_is("/docs/a/b/c", pats, ARRAY_SIZE(pats), "/docs/:slug*", true);
	route_is("/blog/2024/hello", pats, ARRAY_SIZE(pats), "/blog/:slug*", true);
	/* [...slug] needs one segment at least: falls back to ids */
	route_is("/blog", pats, ARRAY_SIZE(pats), "/blog", false);
	route_is("/blog/", pats, ARRAY_SIZE(pats), "/blog/", false);
	route_is("/api/bitchat/groups/g1/messages", pats, ARRAY_SIZE(pats),
		 "/api/bitchat/groups/:gid/messages", true);
	/* no empty segment for [id] */
	route_is("/api/betanet/nodes//x", pats, ARRAY_SIZE(pats), "/api/betanet/nodes//x", false);
	route_is("/api/betanet/other/7", pats, ARRAY_SIZE(pats), "/api/betanet/other/:id",
		 false);
	route_is("/api/betanet/node/7", pats, ARRAY_SIZE(pats), "/api/betanet/node/:id", false);
}

/* The first pattern that matches wins, before the id rules. */
static void test_route_precedence(void **state)
{
	static const char *const specific_first[] = { "/api/users/me", "/api/users/[id]" };
	static const char *const generic_first[] = { "/api/users/[id]", "/api/users/me" };
	static const char *const keep_number[] = { "/api/v/2024" };

	(void)state;
	route_is("/api/users/me", specific_first, 2, "/api/users/me", true);
	route_is("/api/users/me", generic_first, 2, "/api/users/:id", true);
	route_is("/api/v/2024", keep_number, 1, "/api/v/2024", true);
	route_is("/api/v/2025", keep_number, 1, "/api/v/:id", false);
}

static void test_route_truncation(void **state)
{
	static const char *const pats[] = { "/api/betanet/nodes/[id]" };
	char out[8];

	(void)state;
	assert_true(http__route("/api/betanet/nodes/1", pats, 1, out, sizeof(out)));
	assert_string_equal(out, "/api/be");
	assert_false(http__route("/users/123", NULL, 0, out, 5));
	assert_string_equal(out, "/use");
	assert_false(http__route("/users/123", NULL, 0, out, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_recorded_lengths, setup),
		cmocka_unit_test_setup(test_curl_nginx_whole, setup),
		cmocka_unit_test_setup(test_curl_nginx_byte_by_byte, setup),
		cmocka_unit_test_setup(test_curl_nginx_every_split, setup),
		cmocka_unit_test_setup(test_keep_alive, setup),
		cmocka_unit_test_setup(test_pipelined_three_in_one_chunk, setup),
		cmocka_unit_test_setup(test_pipeline_overflow, setup),
		cmocka_unit_test_setup(test_chunked_extensions_trailers, setup),
		cmocka_unit_test_setup(test_chunked_request, setup),
		cmocka_unit_test_setup(test_bad_chunk_size, setup),
		cmocka_unit_test_setup(test_head_with_content_length, setup),
		cmocka_unit_test_setup(test_204_304_no_body, setup),
		cmocka_unit_test_setup(test_expect_100_continue, setup),
		cmocka_unit_test_setup(test_close_delimited, setup),
		cmocka_unit_test_setup(test_no_response_at_close, setup),
		cmocka_unit_test_setup(test_response_without_request, setup),
		cmocka_unit_test_setup(test_gap_in_body, setup),
		cmocka_unit_test_setup(test_chunked_gap_with_tail, setup),
		cmocka_unit_test_setup(test_desync_resync, setup),
		cmocka_unit_test_setup(test_head_cut_by_gap, setup),
		cmocka_unit_test_setup(test_head_cut_pipelined, setup),
		cmocka_unit_test_setup(test_chunked_request_gap, setup),
		cmocka_unit_test_setup(test_desync_garbage, setup),
		cmocka_unit_test_setup(test_not_http, setup),
		cmocka_unit_test_setup(test_bad_header, setup),
		cmocka_unit_test_setup(test_long_header_lines, setup),
		cmocka_unit_test_setup(test_paths, setup),
		cmocka_unit_test_setup(test_websocket_upgrade, setup),
		cmocka_unit_test_setup(test_websocket_extensions, setup),
		cmocka_unit_test_setup(test_upgrade_refused, setup),
		cmocka_unit_test_setup(test_connect_tunnel, setup),
		cmocka_unit_test_setup(test_upgrade_h2c, setup),
		cmocka_unit_test_setup(test_route_ids, setup),
		cmocka_unit_test_setup(test_route_query_dropped, setup),
		cmocka_unit_test_setup(test_route_patterns, setup),
		cmocka_unit_test_setup(test_route_precedence, setup),
		cmocka_unit_test_setup(test_route_truncation, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
