// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/export/otlp.c and user/telemetry/spans.c: the protobuf and JSON encodings of a
 * known span set, read back field by field (field numbers of opentelemetry-proto's
 * trace.proto and common.proto); the retry policy (classification, backoff, Retry-After);
 * partial_success answers; sampling and the bounded queue.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <jansson.h>

#include "export/otlp.h"
#include "lib/ids.h"
#include "telemetry/spans.h"

/* ---- a minimal protobuf reader for the checks ---- */

struct pb {
	const uint8_t *p, *end;
};

static uint64_t rd_varint(struct pb *b)
{
	uint64_t v = 0;
	unsigned s = 0;

	while (b->p < b->end) {
		uint8_t c = *b->p++;

		v |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80))
			return v;
		s += 7;
	}
	fail_msg("varint runs past the end");
	return 0;
}

/* The n-th (0-based) occurrence of field f in b: its wire type and value/slice. */
static int find(struct pb b, unsigned f, int n, uint64_t *v, struct pb *sub)
{
	while (b.p < b.end) {
		uint64_t key = rd_varint(&b), len = 0;
		unsigned wt = key & 7, i;
		const uint8_t *start;

		switch (wt) {
		case 0:
			*v = rd_varint(&b);
			break;
		case 1:
		case 5:
			assert_true(b.end - b.p >= (wt == 1 ? 8 : 4));
			*v = 0;
			for (i = 0; i < (wt == 1 ? 8u : 4u); i++)
				*v |= (uint64_t)b.p[i] << (8 * i);
			b.p += wt == 1 ? 8 : 4;
			break;
		case 2:
			len = rd_varint(&b);
			assert_true(len <= (uint64_t)(b.end - b.p));
			start = b.p;
			b.p += len;
			if (sub) {
				sub->p = start;
				sub->end = b.p;
			}
			*v = len;
			break;
		default:
			fail_msg("wire type %u", wt);
		}
		if (key >> 3 == f && n-- == 0)
			return (int)wt;
	}
	return -1;
}

static struct pb msg(struct pb b, unsigned f, int n)
{
	struct pb s = { 0 };
	uint64_t v;

	assert_int_equal(find(b, f, n, &v, &s), 2);
	return s;
}

static int count(struct pb b, unsigned f)
{
	struct pb s;
	uint64_t v;
	int n = 0;

	while (find(b, f, n, &v, &s) >= 0)
		n++;
	return n;
}

static void str_eq(struct pb b, const char *want)
{
	assert_int_equal((size_t)(b.end - b.p), strlen(want));
	assert_memory_equal(b.p, want, strlen(want));
}

/* The AnyValue of attribute key among the KeyValues (field f) of b. */
static struct pb attr(struct pb b, unsigned f, const char *key)
{
	int i, n = count(b, f);

	for (i = 0; i < n; i++) {
		struct pb kv = msg(b, f, i), k = msg(kv, 1, 0);

		if ((size_t)(k.end - k.p) == strlen(key) && !memcmp(k.p, key, strlen(key)))
			return msg(kv, 2, 0);
	}
	fail_msg("no attribute %s", key);
	return b;
}

static uint64_t val(struct pb b, unsigned f)
{
	uint64_t v = 0;

	assert_true(find(b, f, 0, &v, NULL) >= 0);
	return v;
}

/* ---- the span set ---- */

static struct config cfg;

static void known_spans(struct span *s)
{
	memset(s, 0, 3 * sizeof(*s));
	for (int i = 0; i < 3; i++) {
		memset(s[i].trace_id, 0x11 * (i + 1), 16);
		memset(s[i].span_id, 0x21 + i, 8);
		s[i].kind = SPAN_KIND_SERVER;
		s[i].flags = TRACE_FLAG_SAMPLED;
		s[i].start_ns = 1700000000123456789ULL + (uint64_t)i;
		s[i].end_ns = s[i].start_ns + 5000000;
		strcpy(s[i].method, "GET");
		strcpy(s[i].path, "/api/betanet/nodes/42");
		strcpy(s[i].route, "/api/betanet/nodes/:id");
		strcpy(s[i].name, "GET /api/betanet/nodes/:id");
		s[i].status_code = 200;
	}
	s[0].svc = 1;
	s[1].svc = 0;
	s[1].has_parent = s[1].remote_parent = true;
	memset(s[1].parent_id, 0x77, 8);
	s[1].status_code = 503;
	s[1].status = SPAN_STATUS_ERROR;
	strcpy(s[1].error_type, "503");
	s[1].tls = true;
	strcpy(s[1].server_address, "api.fog.example");
	s[1].server_port = 8443;
	strcpy(s[1].trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
	s[2].svc = 1;
	s[2].kind = SPAN_KIND_CLIENT;
}

static const struct otlp_resource res = { &cfg, "node-1", "1.2.3" };

static void protobuf(void **state)
{
	struct span s[3];
	struct strbuf b;
	struct pb req, rs, r, ss, sp, st;
	uint8_t id[16];

	(void)state;
	known_spans(s);
	strbuf__init(&b);
	assert_int_equal(otlp__encode(&res, s, 3, OTLP_HTTP_PROTOBUF, &b), 0);
	req = (struct pb){ (uint8_t *)b.buf, (uint8_t *)b.buf + b.len };
	/* ExportTraceServiceRequest.resource_spans = 1: one per service, first seen first */
	assert_int_equal(count(req, 1), 2);
	rs = msg(req, 1, 0);
	r = msg(rs, 1, 0); /* ResourceSpans.resource = 1, Resource.attributes = 1 */
	str_eq(msg(attr(r, 1, "service.name"), 1, 0), "svc-b"); /* AnyValue.string_value = 1 */
	str_eq(msg(attr(r, 1, "host.name"), 1, 0), "node-1");
	str_eq(msg(attr(r, 1, "telemetry.sdk.name"), 1, 0), "fogprobe");
	str_eq(msg(attr(r, 1, "telemetry.sdk.version"), 1, 0), "1.2.3");
	str_eq(msg(attr(r, 1, "deployment.environment"), 1, 0), "test");
	ss = msg(rs, 2, 0); /* ResourceSpans.scope_spans = 2 */
	str_eq(msg(msg(ss, 1, 0), 1, 0), "fogprobe"); /* ScopeSpans.scope, scope.name */
	assert_int_equal(count(ss, 2), 2); /* ScopeSpans.spans = 2: s[0], s[2] */
	sp = msg(ss, 2, 0);
	memset(id, 0x11, 16);
	assert_int_equal(val(sp, 1), 16);
	assert_memory_equal(msg(sp, 1, 0).p, id, 16); /* trace_id = 1 */
	memset(id, 0x21, 8);
	assert_memory_equal(msg(sp, 2, 0).p, id, 8); /* span_id = 2 */
	assert_int_equal(count(sp, 4), 0); /* no parent_span_id */
	assert_int_equal(count(sp, 3), 0); /* no trace_state */
	str_eq(msg(sp, 5, 0), "GET /api/betanet/nodes/:id"); /* name = 5 */
	assert_int_equal(val(sp, 6), 2); /* kind = 6: SPAN_KIND_SERVER */
	assert_int_equal(val(sp, 7), 1700000000123456789ULL); /* fixed64 start = 7 */
	assert_int_equal(val(sp, 8), 1700000000128456789ULL);
	str_eq(msg(attr(sp, 9, "http.route"), 1, 0), "/api/betanet/nodes/:id");
	str_eq(msg(attr(sp, 9, "url.scheme"), 1, 0), "http");
	assert_int_equal(val(attr(sp, 9, "http.response.status_code"), 3), 200); /* int_value */
	st = msg(sp, 15, 0); /* status = 15: UNSET, no code */
	assert_int_equal(count(st, 3), 0);
	assert_int_equal(val(sp, 16), 0x01); /* flags = 16 */
	sp = msg(ss, 2, 1);
	assert_int_equal(val(sp, 6), 3); /* CLIENT */
	/* the second resource: svc-a and its error span with a remote parent */
	rs = msg(req, 1, 1);
	str_eq(msg(attr(msg(rs, 1, 0), 1, "service.name"), 1, 0), "svc-a");
	sp = msg(msg(rs, 2, 0), 2, 0);
	memset(id, 0x77, 8);
	assert_memory_equal(msg(sp, 4, 0).p, id, 8);
	assert_int_equal(val(msg(sp, 15, 0), 3), 2); /* Status.code = 3: ERROR */
	str_eq(msg(attr(sp, 9, "error.type"), 1, 0), "503");
	str_eq(msg(attr(sp, 9, "url.scheme"), 1, 0), "https");
	str_eq(msg(attr(sp, 9, "server.address"), 1, 0), "api.fog.example");
	assert_int_equal(val(attr(sp, 9, "server.port"), 3), 8443);
	str_eq(msg(sp, 3, 0), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"); /* trace_state = 3 */
	assert_int_equal(val(sp, 16), 0x301); /* sampled, has_is_remote, is_remote */
	strbuf__free(&b);
}

/* A batch whose lengths need 3-byte varints still reads back whole. */
static void protobuf_large(void **state)
{
	struct span *s = calloc(500 + 2, sizeof(*s)); /* known_spans writes 3 from the last */
	struct strbuf b;
	struct pb req, ss;
	int i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 500; i++) {
		known_spans(&s[i]); /* known_spans fills 3: only the first is kept */
		s[i].svc = 0;
	}
	strbuf__init(&b);
	assert_int_equal(otlp__encode(&res, s, 500, OTLP_HTTP_PROTOBUF, &b), 0);
	assert_true(b.len > 1 << 16);
	req = (struct pb){ (uint8_t *)b.buf, (uint8_t *)b.buf + b.len };
	assert_int_equal(count(req, 1), 1);
	ss = msg(msg(req, 1, 0), 2, 0);
	assert_int_equal(count(ss, 2), 500);
	str_eq(msg(msg(ss, 2, 499), 5, 0), "GET /api/betanet/nodes/:id");
	strbuf__free(&b);
	free(s);
}

static void json(void **state)
{
	struct span s[3];
	struct strbuf b;
	json_t *root, *rs, *sp, *a;
	size_t i;

	(void)state;
	known_spans(s);
	strbuf__init(&b);
	assert_int_equal(otlp__encode(&res, s, 3, OTLP_HTTP_JSON, &b), 0);
	root = json_loads(b.buf, 0, NULL);
	assert_non_null(root);
	rs = json_object_get(root, "resourceSpans");
	assert_int_equal(json_array_size(rs), 2);
	sp = json_array_get(json_object_get(json_array_get(json_object_get(json_array_get(rs, 1),
		"scopeSpans"), 0), "spans"), 0);
	/* OTLP/JSON: ids in hex, 64-bit integers as strings, enums as numbers */
	assert_string_equal(json_string_value(json_object_get(sp, "traceId")),
			    "22222222222222222222222222222222");
	assert_string_equal(json_string_value(json_object_get(sp, "spanId")), "2222222222222222");
	assert_string_equal(json_string_value(json_object_get(sp, "parentSpanId")),
			    "7777777777777777");
	assert_string_equal(json_string_value(json_object_get(sp, "startTimeUnixNano")),
			    "1700000000123456790");
	assert_int_equal(json_integer_value(json_object_get(sp, "kind")), 2);
	assert_string_equal(json_string_value(json_object_get(sp, "traceState")),
			    "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(sp, "status"), "code")), 2);
	a = json_object_get(sp, "attributes");
	for (i = 0; i < json_array_size(a); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(a, i), "key")),
			    "http.response.status_code"))
			break;
	assert_true(i < json_array_size(a));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(a, i), "value"), "intValue")),
			    "503");
	json_decref(root);
	strbuf__free(&b);
}

static void policy(void **state)
{
	unsigned a;

	(void)state;
	assert_int_equal(otlp__classify(false, 0), OTLP_RETRY);
	assert_int_equal(otlp__classify(true, 200), OTLP_OK);
	assert_int_equal(otlp__classify(true, 202), OTLP_OK);
	assert_int_equal(otlp__classify(true, 429), OTLP_RETRY);
	assert_int_equal(otlp__classify(true, 502), OTLP_RETRY);
	assert_int_equal(otlp__classify(true, 503), OTLP_RETRY);
	assert_int_equal(otlp__classify(true, 504), OTLP_RETRY);
	assert_int_equal(otlp__classify(true, 400), OTLP_FAIL);
	assert_int_equal(otlp__classify(true, 404), OTLP_FAIL);
	assert_int_equal(otlp__classify(true, 500), OTLP_FAIL);
	assert_int_equal(otlp__classify(true, 301), OTLP_FAIL);
	/* backoff doubles from 1 s to 8 s, jitter takes up to half of it */
	assert_int_equal(otlp__backoff_ms(0, 0), 500);
	assert_int_equal(otlp__backoff_ms(0, 0.999), 999);
	assert_int_equal(otlp__backoff_ms(1, 0), 1000);
	assert_int_equal(otlp__backoff_ms(2, 0), 2000);
	assert_int_equal(otlp__backoff_ms(3, 0), 4000);
	for (a = 4; a < 100; a++) {
		assert_int_equal(otlp__backoff_ms(a, 0), 4000);
		assert_true(otlp__backoff_ms(a, 1) < 8000);
	}
	/* Retry-After: delay-seconds or an HTTP-date */
	assert_int_equal(otlp__retry_after_ms(" 3\r\n", 0), 3000);
	assert_int_equal(otlp__retry_after_ms("0", 0), 0);
	assert_int_equal(otlp__retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
	assert_int_equal(otlp__retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
	assert_int_equal(otlp__retry_after_ms("-1", 0), -1);
	assert_int_equal(otlp__retry_after_ms("3x", 0), -1);
	assert_int_equal(otlp__retry_after_ms("soon", 0), -1);
	assert_int_equal(otlp__retry_after_ms(NULL, 0), -1);
}

static void partial_success(void **state)
{
	/* ExportTraceServiceResponse{partial_success{rejected_spans: 5, error_message: "x"}} */
	static const uint8_t five[] = { 0x0a, 0x05, 0x08, 0x05, 0x12, 0x01, 'x' };
	static const uint8_t big[] = { 0x0a, 0x03, 0x08, 0xac, 0x02 }; /* 300 */
	static const uint8_t cut[] = { 0x0a, 0x05, 0x08 };
	static const uint8_t unknown[] = { 0x10, 0x01, 0x0a, 0x02, 0x08, 0x02 };
	const char *js = "{\"partialSuccess\":{\"rejectedSpans\":\"7\",\"errorMessage\":\"no\"}}";

	(void)state;
	assert_int_equal(otlp__rejected(five, sizeof(five), OTLP_HTTP_PROTOBUF), 5);
	assert_int_equal(otlp__rejected(big, sizeof(big), OTLP_HTTP_PROTOBUF), 300);
	assert_int_equal(otlp__rejected("", 0, OTLP_HTTP_PROTOBUF), 0);
	assert_int_equal(otlp__rejected(cut, sizeof(cut), OTLP_HTTP_PROTOBUF), -1);
	assert_int_equal(otlp__rejected(unknown, sizeof(unknown), OTLP_HTTP_PROTOBUF), 2);
	assert_int_equal(otlp__rejected(js, strlen(js), OTLP_HTTP_JSON), 7);
	assert_int_equal(otlp__rejected("{}", 2, OTLP_HTTP_JSON), 0);
	assert_int_equal(otlp__rejected("{\"partialSuccess\":{\"rejectedSpans\":4}}", 38,
					OTLP_HTTP_JSON), 4);
	assert_int_equal(otlp__rejected("<html>", 6, OTLP_HTTP_JSON), -1);
}

static struct http_exchange exchange(uint16_t status, uint64_t dur_ns)
{
	struct http_exchange x = { 0 };

	strcpy(x.method, "GET");
	strcpy(x.path, "/api/betanet/nodes/42");
	x.status = status;
	x.start_ns = 1000;
	x.end_ns = 1000 + dur_ns;
	return x;
}

static void sampling(void **state)
{
	struct spans_opts o = { .cfg = &cfg, .seed = 42 };
	struct span *out = calloc(20000, sizeof(*out)), s;
	struct http_exchange x = exchange(200, 1000000), e = exchange(503, 1000), slow;
	struct spans *sp;
	size_t kept = 0, i;
	uint8_t id[16] = { 0 };

	(void)state;
	assert_non_null(out);
	/* the ratio on the trace id's random right part */
	assert_true(spans__ratio_keeps(id, 0.5));
	memset(id + 9, 0xff, 7);
	assert_false(spans__ratio_keeps(id, 0.5));
	assert_true(spans__ratio_keeps(id, 1));
	assert_false(spans__ratio_keeps(id, 0));

	cfg.otlp.sample_ratio = 0.1;
	cfg.otlp.keep_slower_ms = 500;
	cfg.otlp.queue_spans = 20000;
	sp = spans__new(&o);
	assert_non_null(sp);
	for (i = 0; i < 10000; i++)
		kept += spans__http(sp, 0, true, false, &x, NULL);
	/* binomial(10000, 0.1): sd 30; 5 sd either side */
	assert_in_range(kept, 850, 1150);
	assert_int_equal(spans__queued(sp), kept);
	/* errors and slow exchanges are always kept */
	for (i = 0; i < 100; i++)
		assert_true(spans__http(sp, 0, true, false, &e, NULL));
	slow = exchange(200, 500000000);
	assert_true(spans__http(sp, 0, true, false, &slow, &s));
	assert_int_equal(s.end_ns - s.start_ns, 500000000);
	assert_string_equal(s.name, "GET /api/betanet/nodes/:id");
	assert_true(s.flags & TRACE_FLAG_RANDOM);
	/* a caller's decision wins: sampled flag 0 drops, 1 keeps */
	assert_true(traceparent__parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
				       55, &x.trace));
	assert_false(spans__http(sp, 0, true, false, &x, NULL));
	x.trace.flags = 1;
	for (i = 0; i < 10; i++)
		assert_true(spans__http(sp, 0, true, false, &x, &s));
	assert_true(s.has_parent && s.remote_parent);
	assert_memory_equal(s.trace_id, x.trace.trace_id, 16);
	assert_memory_equal(s.parent_id, x.trace.span_id, 8);
	/* a client span takes the traceparent's parent-id as its own */
	assert_true(spans__http(sp, 0, false, false, &x, &s));
	assert_false(s.has_parent);
	assert_memory_equal(s.span_id, x.trace.span_id, 8);
	/* server.address and server.port from the request's Host: never a peer address */
	{
		static const struct {
			const char *host;
			bool tls;
			const char *addr;
			unsigned port;
		} h[] = {
			{ "api.fog.example", false, "api.fog.example", 80 },
			{ "api.fog.example", true, "api.fog.example", 443 },
			{ "10.0.0.1:8443", true, "10.0.0.1", 8443 },
			{ "[2001:db8::1]:9000", false, "2001:db8::1", 9000 },
			{ "[2001:db8::1]", true, "2001:db8::1", 443 },
			{ "a:b:c", false, "", 0 },
			{ "host:", false, "", 0 },
			{ "host:70000", false, "", 0 },
			{ "[::1", false, "", 0 },
			{ ":80", false, "", 0 },
		};
		for (i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
			x.host = h[i].host;
			x.tracestate = "k=v";
			assert_true(spans__http(sp, 0, true, h[i].tls, &x, &s));
			assert_string_equal(s.server_address, h[i].addr);
			assert_int_equal(s.server_port, h[i].port);
			assert_string_equal(s.trace_state, "k=v");
		}
		/* a client's Host names its peer: only with peer_address */
		x.host = "10.0.0.9:8080";
		assert_true(spans__http(sp, 0, false, false, &x, &s));
		assert_int_equal(s.server_port, 0);
		cfg.otlp.peer_address = 1;
		assert_true(spans__http(sp, 0, false, false, &x, &s));
		assert_string_equal(s.server_address, "10.0.0.9");
		assert_int_equal(s.server_port, 8080);
		cfg.otlp.peer_address = 0;
		x.trace.valid = false; /* no traceparent: a tracestate alone is not kept */
		x.trace.flags = 0;
		assert_true(spans__http(sp, 0, true, false, &e, &s));
		assert_string_equal(s.trace_state, "");
		assert_int_equal(s.server_port, 0);
	}
	assert_int_equal(spans__dropped_count(sp, SPAN_DROP_QUEUE_FULL), 0);
	spans__free(sp);
	free(out);
}

/* A closed connection's span: the kernel's counters, server.port only, ERROR on a
 * socket error; nothing unless otlp.tcp_spans. */
static void tcp_spans(void **state)
{
	struct spans_opts o = { .cfg = &cfg, .seed = 3 };
	struct conn_event e = { .type = CONN_CLOSE, .svc = 0, .end = TCP_END_SERVER,
				.ts_ns = 5000000000ULL, .duration_ns = 1500000000ULL,
				.lport = 8443, .rport = 40000, .family = AF_INET6,
				.bytes_sent = 123456, .bytes_received = 789, .retrans_segs = 3,
				.srtt_us = 250 };
	struct span out[4];
	struct spans *sp;
	size_t i;

	(void)state;
	cfg.otlp.sample_ratio = 1;
	cfg.otlp.tcp_spans = 0;
	sp = spans__new(&o);
	assert_non_null(sp);
	spans__tcp(sp, &e);
	assert_int_equal(spans__queued(sp), 0); /* off by default */
	cfg.otlp.tcp_spans = 1;
	spans__tcp(sp, &e);
	e.end = TCP_END_CLIENT;
	e.sk_err = ECONNRESET;
	e.srtt_us = 0;
	spans__tcp(sp, &e);
	e.type = CONN_OPEN; /* only closes */
	spans__tcp(sp, &e);
	assert_int_equal(spans__take(sp, out, 4, 0), 2);
	assert_string_equal(out[0].name, "TCP connection");
	assert_int_equal(out[0].kind, SPAN_KIND_SERVER);
	assert_int_equal(out[0].end_ns - out[0].start_ns, 1500000000ULL);
	assert_int_equal(out[0].status, SPAN_STATUS_UNSET);
	assert_int_equal(out[0].n_ints, 5);
	for (i = 0; i < out[0].n_ints; i++) {
		static const struct { const char *k; int64_t v; } want[] = {
			{ "server.port", 8443 }, { "fogprobe.tcp.bytes_sent", 123456 },
			{ "fogprobe.tcp.bytes_received", 789 }, { "fogprobe.tcp.retransmits", 3 },
			{ "fogprobe.tcp.rtt_us", 250 } };
		assert_string_equal(out[0].int_keys[i], want[i].k);
		assert_int_equal(out[0].int_values[i], want[i].v);
	}
	assert_int_equal(out[0].n_attrs, 2);
	assert_string_equal(out[0].attrs[1].value, "ipv6");
	/* the client end: the peer's port is the server's; an error, and no RTT measured */
	assert_int_equal(out[1].kind, SPAN_KIND_CLIENT);
	assert_int_equal(out[1].int_values[0], 40000);
	assert_int_equal(out[1].n_ints, 4);
	assert_int_equal(out[1].status, SPAN_STATUS_ERROR);
	assert_int_equal(out[1].n_attrs, 3);
	assert_string_equal(out[1].attrs[2].key, "error.type");
	assert_string_equal(out[1].attrs[2].value, "ECONNRESET");
	/* no address by default; opted in, cut to the configured prefixes */
	for (i = 0; i < 2; i++)
		assert_true(out[i].n_attrs < 3 || strcmp(out[i].attrs[2].key, "network.peer.address"));
	{
		struct conn_peer v4 = { .family = AF_INET, .addr = { 10, 213, 4, 2 } };
		struct conn_peer v6 = { .family = AF_INET6,
					.addr = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0xab, 0xcd, 0, 0, 0, 0,
						  0, 0, 0, 7 } };
		char a[SPAN_PEER_MAX];
		struct http_exchange x = exchange(200, 1000);
		struct span hs;

		spans__peer_format(&cfg.otlp, &v4, a, sizeof(a));
		assert_string_equal(a, "");
		struct conn_meta m4 = { .peer = v4 };

		assert_true(spans__http_conn(sp, 0, true, false, &x, &m4, &hs));
		assert_string_equal(hs.peer_address, "");
		cfg.otlp.peer_address = 1;
		cfg.otlp.peer_prefix_ipv4 = 32; /* the defaults: whole addresses */
		cfg.otlp.peer_prefix_ipv6 = 128;
		spans__peer_format(&cfg.otlp, &v4, a, sizeof(a));
		assert_string_equal(a, "10.213.4.2");
		spans__peer_format(&cfg.otlp, &v6, a, sizeof(a));
		assert_string_equal(a, "2001:db8:1:abcd::7");
		cfg.otlp.peer_prefix_ipv4 = 20;
		cfg.otlp.peer_prefix_ipv6 = 48;
		spans__peer_format(&cfg.otlp, &v4, a, sizeof(a));
		assert_string_equal(a, "10.213.0.0");
		spans__peer_format(&cfg.otlp, &v6, a, sizeof(a));
		assert_string_equal(a, "2001:db8:1::");
		assert_true(spans__http_conn(sp, 0, true, false, &x, &m4, &hs));
		assert_string_equal(hs.peer_address, "10.213.0.0");
		e.type = CONN_CLOSE;
		e.peer = v6;
		spans__take(sp, out, 4, 0);
		spans__tcp(sp, &e);
		assert_int_equal(spans__take(sp, out, 4, 0), 1);
		assert_string_equal(out[0].attrs[2].key, "network.peer.address");
		assert_string_equal(out[0].attrs[2].value, "2001:db8:1::");
		assert_string_equal(out[0].attrs[3].key, "error.type");
		cfg.otlp.peer_address = 0;
		cfg.otlp.peer_prefix_ipv4 = 32;
		cfg.otlp.peer_prefix_ipv6 = 128;
	}
	spans__free(sp);
	cfg.otlp.tcp_spans = 0;
}

static void queue(void **state)
{
	struct spans_opts o = { .cfg = &cfg, .seed = 7 };
	struct http_exchange x = exchange(200, 1000);
	struct span out[8];
	struct spans *sp;
	struct timespec t0, t1;
	uint64_t now;
	int i;

	(void)state;
	cfg.otlp.sample_ratio = 1;
	cfg.otlp.queue_spans = 4;
	sp = spans__new(&o);
	for (i = 0; i < 10; i++)
		spans__http(sp, 0, true, false, &x, NULL);
	assert_int_equal(spans__queued(sp), 4);
	assert_int_equal(spans__dropped_count(sp, SPAN_DROP_QUEUE_FULL), 6);
	/* a deadline already past: what is queued, at once */
	assert_int_equal(spans__take(sp, out, 3, 0), 3);
	assert_int_equal(spans__take(sp, out, 3, 0), 1);
	/* an empty queue waits until the deadline */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	now = (uint64_t)t0.tv_sec * 1000000000ULL + (uint64_t)t0.tv_nsec;
	assert_int_equal(spans__take(sp, out, 3, now + 50000000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 50000000L);
	/* closed: no more waiting */
	spans__close(sp);
	assert_int_equal(spans__take(sp, out, 3, now + 60000000000ULL), 0);
	spans__free(sp);
}

static void exemplars(void **state)
{
	static const double b[] = { 0.1, 1 };
	struct metrics *m = metrics__new(0);
	struct metric_family *f;
	struct metrics_exemplar ex = { .ts = 1700000000.5 };
	uint64_t other = 9, id;
	struct strbuf out;

	(void)state;
	f = metrics__family(m, "lat_seconds", "h", METRIC_HISTOGRAM, (const char *const[]){ "svc" },
			    1, b, 2);
	assert_non_null(f);
	memset(ex.trace_id, 0xab, 16);
	memset(ex.span_id, 0xcd, 8);
	assert_int_equal(metrics__observe_exemplar(f, METRICS_LABELS("a"), 0.25, &ex), 0);
	strbuf__init(&out);
	/* a candidate is not shown before its span was exported */
	metrics__render(m, &out, METRICS_OPENMETRICS);
	assert_null(strstr(out.buf, " # {"));
	metrics__exemplars_confirm(m, &other, 1);
	strbuf__reset(&out);
	metrics__render(m, &out, METRICS_OPENMETRICS);
	assert_null(strstr(out.buf, " # {"));
	id = ids__of(ex.span_id);
	metrics__exemplars_confirm(m, &id, 1);
	strbuf__reset(&out);
	metrics__render(m, &out, METRICS_OPENMETRICS);
	assert_non_null(strstr(out.buf,
		"lat_seconds_bucket{svc=\"a\",le=\"1.0\"} 1 # {trace_id=\"abababababababababababababababab\","
		"span_id=\"cdcdcdcdcdcdcdcd\"} 0.25 1700000000.500\n"));
	assert_non_null(strstr(out.buf, "lat_seconds_bucket{svc=\"a\",le=\"0.1\"} 0\n"));
	strbuf__reset(&out);
	metrics__render(m, &out, METRICS_TEXT_004);
	assert_null(strstr(out.buf, " # {"));
	strbuf__free(&out);
	metrics__free(m);
}

/* a stand-in for collect's cgroup cache: id 7 is a container of a pod, 8 a bare pod */
static bool fake_ref(void *ctx, uint64_t id, struct cgroup_ref *out)
{
	(void)ctx;
	memset(out, 0, sizeof(*out));
	if (id == 7)
		memset(out->container_id, 'c', 64);
	if (id == 7 || id == 8)
		strcpy(out->pod_uid, "0d1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d");
	return id == 7 || id == 8;
}

static const char *res_attr(json_t *rs, const char *key)
{
	json_t *a = json_object_get(json_object_get(rs, "resource"), "attributes");
	size_t i;

	for (i = 0; i < json_array_size(a); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(a, i), "key")), key))
			return json_string_value(
				json_object_get(json_object_get(json_array_get(a, i), "value"),
						"stringValue"));
	return NULL;
}

static struct {
	int n, svc;
	bool is_server, exported;
	uint32_t srtt_us;
	uint64_t connect_ns;
	struct metrics_exemplar ex;
} given;

static void on_tcp_exemplar(void *ctx, int svc, bool is_server, uint32_t srtt_us,
			    uint64_t connect_ns, const struct metrics_exemplar *ex, bool exported)
{
	(void)ctx;
	given.n++;
	given.svc = svc;
	given.is_server = is_server;
	given.srtt_us = srtt_us;
	given.connect_ns = connect_ns;
	given.ex = *ex;
	given.exported = exported;
}

/* Container and pod ids as resource attributes; each connection's last kept span as the
 * exemplar of its TCP histograms, whichever of its close and its span comes first. */
static void connections(void **state)
{
	struct config cfg = { .n_services = 1 };
	struct spans_opts o = { .cfg = &cfg, .seed = 3, .cgroup_ref = fake_ref,
				.tcp = { .exemplar = on_tcp_exemplar } };
	struct conn_meta a = { .key = 101, .cgroup_id = 7, .connect_ns = 2500000 },
			 b = { .key = 202, .cgroup_id = 8 }, c = { .key = 303 };
	struct conn_event close_a = { .type = CONN_CLOSE, .key = 101, .end = TCP_END_CLIENT,
				      .srtt_us = 120 },
			  close_b = { .type = CONN_CLOSE, .key = 202, .end = TCP_END_SERVER,
				      .srtt_us = 80 },
			  close_c = { .type = CONN_CLOSE, .key = 303, .end = TCP_END_SERVER,
				      .srtt_us = 90 },
			  close_d = { .type = CONN_CLOSE, .key = 404, .srtt_us = 1 };
	struct http_exchange x = exchange(200, 1000);
	struct span out[5];
	struct strbuf buf;
	json_t *root, *rs;
	uint64_t ids[3];
	struct spans *sp;

	(void)state;
	strcpy(cfg.services[0].name, "web");
	cfg.otlp.sample_ratio = 1;
	cfg.otlp.queue_spans = 8;
	sp = spans__new(&o);
	assert_non_null(sp);
	assert_true(spans__http_conn(sp, 0, false, false, &x, &a, NULL));
	assert_true(spans__http_conn(sp, 0, true, false, &x, &b, NULL));
	assert_true(spans__http_conn(sp, 0, true, false, &x, &c, NULL));
	assert_true(spans__http_conn(sp, 0, false, false, &x, &a, NULL)); /* a's last */
	assert_int_equal(spans__take(sp, out, 4, 0), 4);
	assert_int_equal(strlen(out[0].origin.container_id), 64);
	assert_string_equal(out[1].origin.container_id, "");
	assert_string_equal(out[1].origin.pod_uid, "0d1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d");
	assert_string_equal(out[2].origin.pod_uid, "");
	/* one resource per (service, container, pod), in order of first appearance */
	strbuf__init(&buf);
	assert_int_equal(otlp__encode(&res, out, 4, OTLP_HTTP_JSON, &buf), 0);
	root = json_loads(buf.buf, 0, NULL);
	rs = json_object_get(root, "resourceSpans");
	assert_int_equal(json_array_size(rs), 3);
	assert_string_equal(res_attr(json_array_get(rs, 0), "container.id"), out[0].origin.container_id);
	assert_string_equal(res_attr(json_array_get(rs, 0), "k8s.pod.uid"), out[0].origin.pod_uid);
	assert_null(res_attr(json_array_get(rs, 1), "container.id"));
	assert_non_null(res_attr(json_array_get(rs, 1), "k8s.pod.uid"));
	assert_null(res_attr(json_array_get(rs, 2), "k8s.pod.uid"));
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(
				 json_array_get(rs, 0), "scopeSpans"), 0), "spans")), 2);
	json_decref(root);
	strbuf__free(&buf);
	/* a closes after its spans: its last span, not yet exported, with its RTT and
	 * connect time */
	spans__conn_close(sp, &close_a);
	assert_int_equal(given.n, 1);
	assert_memory_equal(given.ex.span_id, out[3].span_id, 8);
	assert_false(given.is_server);
	assert_int_equal(given.srtt_us, 120);
	assert_int_equal(given.connect_ns, 2500000);
	assert_false(given.exported);
	spans__conn_close(sp, &close_a); /* given once */
	spans__conn_close(sp, &close_d); /* no span on it */
	assert_int_equal(given.n, 1);
	/* b's span exported before b closes */
	/* in a batch with others, sorted as the exporter sorts it */
	ids[0] = ids__of(out[1].span_id);
	ids[1] = ids[0] + 1;
	ids[2] = ids[0] - 1;
	ids__sort(ids, 3);
	spans__confirm(sp, ids, 3);
	spans__conn_close(sp, &close_b);
	assert_int_equal(given.n, 2);
	assert_true(given.exported);
	assert_true(given.is_server);
	assert_int_equal(given.connect_ns, 0);
	assert_int_equal(given.srtt_us, 80);
	/* a close that comes before its connection's last span: given with that span */
	spans__conn_close(sp, &close_c);
	assert_int_equal(given.n, 3);
	c.key = 505;
	close_c.key = 505;
	spans__conn_close(sp, &close_c);
	assert_int_equal(given.n, 3);
	assert_true(spans__http_conn(sp, 0, true, false, &x, &c, &out[4]));
	assert_int_equal(given.n, 4);
	assert_memory_equal(given.ex.span_id, out[4].span_id, 8);
	assert_int_equal(given.srtt_us, 90);
	spans__free(sp);
}

/* Both ends on this host: the server end's exchange makes the client's span too, its
 * parent: with the caller's traceparent (the client span's id its parent-id) and without
 * one (a new client span id in the server span's trace). */
static void local_pairs(void **state)
{
	struct config cfg = { .n_services = 1 };
	struct spans_opts o = { .cfg = &cfg, .seed = 5, .cgroup_ref = fake_ref };
	struct conn_meta m = { .key = 9, .cgroup_id = 8, .local_client = true,
			       .client_cgroup_id = 7 };
	struct http_exchange x = exchange(404, 1000);
	struct span out[4];
	struct spans *sp;

	(void)state;
	strcpy(cfg.services[0].name, "web");
	cfg.otlp.sample_ratio = 0; /* kept only as errors: a 404 is the client's */
	cfg.otlp.queue_spans = 8;
	sp = spans__new(&o);
	assert_true(spans__http_conn(sp, 0, true, false, &x, &m, NULL));
	assert_int_equal(spans__take(sp, out, 4, 0), 2);
	assert_int_equal(out[0].kind, SPAN_KIND_CLIENT);
	assert_int_equal(out[1].kind, SPAN_KIND_SERVER);
	assert_memory_equal(out[0].trace_id, out[1].trace_id, 16);
	assert_true(out[1].has_parent);
	assert_memory_equal(out[1].parent_id, out[0].span_id, 8);
	assert_false(out[0].has_parent);
	assert_int_equal(out[0].status, SPAN_STATUS_ERROR);
	assert_string_equal(out[0].error_type, "404");
	assert_string_equal(out[0].name, "GET");
	assert_int_equal(out[1].status, SPAN_STATUS_UNSET);
	assert_string_equal(out[1].error_type, "");
	assert_int_equal(strlen(out[0].origin.container_id), 64); /* the client's cgroup */
	assert_string_equal(out[1].origin.container_id, ""); /* the server's */
	assert_true(out[0].start_ns == out[1].start_ns && out[0].end_ns == out[1].end_ns);
	/* the caller's traceparent: the client span is its parent-id */
	x = exchange(200, 1000);
	x.trace.valid = true;
	memset(x.trace.trace_id, 0x42, 16);
	memset(x.trace.span_id, 0x17, 8);
	x.trace.flags = TRACE_FLAG_SAMPLED;
	assert_true(spans__http_conn(sp, 0, true, false, &x, &m, NULL));
	assert_int_equal(spans__take(sp, out, 4, 0), 2);
	assert_memory_equal(out[0].trace_id, x.trace.trace_id, 16);
	assert_memory_equal(out[0].span_id, x.trace.span_id, 8);
	assert_memory_equal(out[1].parent_id, x.trace.span_id, 8);
	assert_false(!memcmp(out[1].span_id, x.trace.span_id, 8));
	/* not a local pair: one span */
	m.local_client = false;
	assert_true(spans__http_conn(sp, 0, true, false, &x, &m, NULL));
	assert_int_equal(spans__take(sp, out, 4, 0), 1);
	spans__free(sp);
}

static void hist_exemplar(void **state)
{
	static const double b[] = { 0.001, 0.01 };
	struct metrics *m = metrics__new(0);
	struct metric_family *f;
	struct metrics_exemplar ex = { .ts = 1700000000.5 };
	const uint64_t counts[3] = { 0, 4, 0 };
	uint64_t id;
	struct strbuf out;

	(void)state;
	f = metrics__family(m, "rtt_seconds", "h", METRIC_HISTOGRAM, (const char *const[]){ "svc" },
			    1, b, 2);
	memset(ex.trace_id, 0x11, 16);
	memset(ex.span_id, 0x22, 8);
	assert_int_equal(metrics__hist_set(f, METRICS_LABELS("a"), counts, 0.02), 0);
	/* published: shown at once, on the bucket of its value, nothing counted */
	assert_int_equal(metrics__hist_exemplar(f, METRICS_LABELS("a"), 0.004, &ex, true), 0);
	strbuf__init(&out);
	metrics__render(m, &out, METRICS_OPENMETRICS);
	assert_non_null(strstr(out.buf,
		"rtt_seconds_bucket{svc=\"a\",le=\"0.01\"} 4 # {trace_id=\"11111111111111111111111111111111\","
		"span_id=\"2222222222222222\"} 0.004 1700000000.500\n"));
	assert_non_null(strstr(out.buf, "rtt_seconds_count{svc=\"a\"} 4\n"));
	/* a candidate waits for its span's export */
	memset(ex.span_id, 0x33, 8);
	assert_int_equal(metrics__hist_exemplar(f, METRICS_LABELS("a"), 0.0005, &ex, false), 0);
	strbuf__reset(&out);
	metrics__render(m, &out, METRICS_OPENMETRICS);
	assert_null(strstr(out.buf, "3333333333333333"));
	id = ids__of(ex.span_id);
	metrics__exemplars_confirm(m, &id, 1);
	strbuf__reset(&out);
	metrics__render(m, &out, METRICS_OPENMETRICS);
	assert_non_null(strstr(out.buf, "le=\"0.001\"} 0 # {trace_id=\"11111111111111111111111111111111\","
				     "span_id=\"3333333333333333\"} 0.0005"));
	strbuf__free(&out);
	metrics__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(protobuf),	   cmocka_unit_test(protobuf_large),
		cmocka_unit_test(json),		   cmocka_unit_test(policy),
		cmocka_unit_test(partial_success), cmocka_unit_test(sampling),
		cmocka_unit_test(tcp_spans),
		cmocka_unit_test(queue),	   cmocka_unit_test(exemplars),
		cmocka_unit_test(connections),	   cmocka_unit_test(hist_exemplar),
		cmocka_unit_test(local_pairs),
	};

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_services = 2;
	strcpy(cfg.services[0].name, "svc-a");
	strcpy(cfg.services[1].name, "svc-b");
	strcpy(cfg.services[0].routes[0], "/api/betanet/nodes/[id]");
	cfg.services[0].n_routes = 1;
	cfg.otlp.n_resource = 2;
	strcpy(cfg.otlp.resource[0].key, "deployment.environment");
	strcpy(cfg.otlp.resource[0].value, "test");
	strcpy(cfg.otlp.resource[1].key, "service.name"); /* never overrides the service's */
	strcpy(cfg.otlp.resource[1].value, "wrong");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
