// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/model/proto/traceparent.c against the W3C Trace Context rules (section 3.2): the
 * header's examples, each field's bounds, versions, case, and the HTTP parser handing a
 * request's traceparent to its exchange.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/proto/http.h"
#include "model/proto/traceparent.h"

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static bool parse(const char *s, struct trace_ctx *t)
{
	return traceparent__parse(s, strlen(s), t);
}

static void spec_example(void **state)
{
	struct trace_ctx t;
	char out[TRACEPARENT_LEN + 1];
	static const uint8_t tid[16] = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
					 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c };
	static const uint8_t sid[8] = { 0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31 };

	(void)state;
	assert_true(parse(TP, &t));
	assert_true(t.valid);
	assert_memory_equal(t.trace_id, tid, 16);
	assert_memory_equal(t.span_id, sid, 8);
	assert_int_equal(t.flags, 1);
	traceparent__format(&t, out);
	assert_string_equal(out, TP);
	assert_true(parse("  " TP "\t", &t)); /* OWS around a header value */
	assert_true(parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", &t));
	assert_int_equal(t.flags, 0);
}

static void invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0", /* short */
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-", /* 00 is 55 long */
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-011",
		"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", /* version ff */
		"00-00000000000000000000000000000000-b7ad6b7169203331-01", /* zero trace id */
		"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", /* zero parent */
		"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", /* uppercase */
		"00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01",
		"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", /* separators */
		"00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01",
		"0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", /* not hex */
		"00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333x-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",
		"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x", /* no '-' after */
	};
	struct trace_ctx t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &t))
			print_error("accepted \"%s\"\n", bad[i]);
		assert_false(parse(bad[i], &t));
		assert_false(t.valid);
	}
}

static void future_versions(void **state)
{
	struct trace_ctx t;

	(void)state;
	/* a higher version is read as 00 when its first fields have 00's shape */
	assert_true(parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &t));
	assert_true(parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what", &t));
	assert_int_equal(t.flags, 1);
	assert_true(parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", &t));
	assert_int_equal(t.flags, TRACE_FLAG_SAMPLED | TRACE_FLAG_RANDOM);
}

struct got {
	int n;
	struct http_exchange x[4];
};

static void on_ev(void *ctx, const struct http_event *ev)
{
	struct got *g = ctx;

	if (ev->type == HTTP_EV_EXCHANGE && g->n < 4)
		g->x[g->n++] = ev->x;
}

static void feed(struct http_conn *c, bool client, const char *s, struct got *g)
{
	http__feed(c, client, (const uint8_t *)s, strlen(s), strlen(s), NULL, 0, 1, on_ev, g);
}

static void http_header(void **state)
{
	struct http_conn c;
	struct got g = { 0 };

	(void)state;
	http__init(&c);
	feed(&c, true,
	     "GET /a HTTP/1.1\r\nHost: x\r\nTraceParent: " TP "\r\n\r\n"
	     "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
	     "GET /c HTTP/1.1\r\ntraceparent: " TP "\r\ntraceparent: " TP "\r\n\r\n"
	     "GET /d HTTP/1.1\r\ntraceparent: 00-zz\r\n\r\n",
	     &g);
	feed(&c, false,
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	     &g);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.x[0].path, "/a");
	assert_true(g.x[0].trace.valid); /* names are case-insensitive */
	assert_int_equal(g.x[0].minor, '1'); /* network.protocol.version 1.1 */
	assert_int_equal(g.x[0].trace.span_id[0], 0xb7);
	assert_false(g.x[1].trace.valid); /* none: not inherited from the previous request */
	assert_false(g.x[2].trace.valid); /* two traceparent lines: none valid */
	assert_false(g.x[3].trace.valid);
	http__free(&c);
}

struct kept {
	int n;
	char host[4][HTTP_HOST_MAX];
	char state[4][HTTP_TRACESTATE_MAX];
	bool has_host[4], has_state[4];
};

static void on_kept(void *ctx, const struct http_event *ev)
{
	struct kept *k = ctx;

	if (ev->type != HTTP_EV_EXCHANGE || k->n == 4)
		return;
	k->has_host[k->n] = ev->x.host;
	k->has_state[k->n] = ev->x.tracestate;
	snprintf(k->host[k->n], HTTP_HOST_MAX, "%s", ev->x.host ? ev->x.host : "");
	snprintf(k->state[k->n], HTTP_TRACESTATE_MAX, "%s", ev->x.tracestate ? ev->x.tracestate : "");
	k->n++;
}

/* Host and tracestate reach the request's own exchange; several tracestate lines are
 * one list; members that do not fit are dropped whole, from the end. */
static void host_and_tracestate(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	char big[600], req[1024];
	struct http_conn c;
	struct kept k = { 0 };
	size_t i;

	(void)state;
	http__init(&c);
	/* sequential requests on one connection */
	snprintf(req, sizeof(req),
		 "GET /a HTTP/1.1\r\nHOST: api.fog.example:8443\r\ntraceparent: " TP "\r\n"
		 "tracestate: congo=t61rcWkgMzE\r\nTraceState:  , rojo=00f067aa0ba902b7 \r\n\r\n");
	http__feed(&c, true, (const uint8_t *)req, strlen(req), strlen(req), NULL, 0, 1, on_kept, &k);
	http__feed(&c, false, (const uint8_t *)ok, strlen(ok), strlen(ok), NULL, 0, 2, on_kept, &k);
	snprintf(req, sizeof(req), "GET /b HTTP/1.1\r\nHost: x/y\r\n\r\n");
	http__feed(&c, true, (const uint8_t *)req, strlen(req), strlen(req), NULL, 0, 3, on_kept, &k);
	http__feed(&c, false, (const uint8_t *)ok, strlen(ok), strlen(ok), NULL, 0, 4, on_kept, &k);
	/* 14 members of 21 characters: those past 255 characters are dropped */
	big[0] = 0;
	for (i = 0; i < 14; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "%svendor%02zu=0123456789ab",
			 i ? "," : "", i);
	snprintf(req, sizeof(req), "GET /c HTTP/1.1\r\nHost: h\r\ntracestate: %s\r\n\r\n", big);
	http__feed(&c, true, (const uint8_t *)req, strlen(req), strlen(req), NULL, 0, 5, on_kept, &k);
	http__feed(&c, false, (const uint8_t *)ok, strlen(ok), strlen(ok), NULL, 0, 6, on_kept, &k);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.host[0], "api.fog.example:8443");
	assert_string_equal(k.state[0], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
	assert_false(k.has_host[1]); /* not a host[:port] */
	assert_false(k.has_state[1]); /* not inherited from the previous request */
	assert_string_equal(k.host[2], "h");
	assert_int_equal(strlen(k.state[2]), 10 * 22 + 21); /* 11 whole members */
	assert_int_equal(strncmp(k.state[2], big, strlen(k.state[2])), 0);
	assert_int_equal(big[strlen(k.state[2])], ',');
	/* a line longer than the parser keeps: its members are unknown, none is kept */
	for (i = 14; i < 30; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), ",vendor%02zu=0123456789ab", i);
	snprintf(req, sizeof(req), "GET /d HTTP/1.1\r\ntracestate: %s\r\n\r\n", big);
	http__feed(&c, true, (const uint8_t *)req, strlen(req), strlen(req), NULL, 0, 7, on_kept, &k);
	http__feed(&c, false, (const uint8_t *)ok, strlen(ok), strlen(ok), NULL, 0, 8, on_kept, &k);
	assert_int_equal(k.n, 4);
	assert_false(k.has_state[3]);

	/* pipelined: the connection keeps the last request's, the first gets none */
	memset(&k, 0, sizeof(k));
	http__free(&c);
	http__init(&c);
	snprintf(req, sizeof(req), "GET /1 HTTP/1.1\r\nHost: one\r\n\r\n"
				   "GET /2 HTTP/1.1\r\nHost: two\r\n\r\n");
	http__feed(&c, true, (const uint8_t *)req, strlen(req), strlen(req), NULL, 0, 1, on_kept, &k);
	snprintf(req, sizeof(req), "%s%s", ok, ok);
	http__feed(&c, false, (const uint8_t *)req, strlen(req), strlen(req), NULL, 0, 2, on_kept, &k);
	assert_int_equal(k.n, 2);
	assert_false(k.has_host[0]);
	assert_string_equal(k.host[1], "two");
	http__free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spec_example),
		cmocka_unit_test(invalid),
		cmocka_unit_test(future_versions),
		cmocka_unit_test(http_header),
		cmocka_unit_test(host_and_tracestate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
