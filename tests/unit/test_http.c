// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/export/http.c: content negotiation, gzip (checked with zlib's own inflate), and the
 * server end to end over a plain socket on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "export/http.h"
#include "lib/digest.h"
#include "lib/strbuf.h"
#include "telemetry/metrics.h"

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"
/* What Prometheus 2.x sends by default. */
#define PROM_ACCEPT                                                                            \
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;"             \
	"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

static void test_wants_openmetrics(void **state)
{
	static const struct {
		const char *accept;
		bool want;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "*/*", false },
		{ "text/plain", false },
		{ "text/plain;version=0.0.4", false },
		{ PROM_ACCEPT, true },
		{ "application/openmetrics-text", true },
		{ "APPLICATION/OpenMetrics-Text; version=1.0.0", true },
		{ "text/plain;q=0.5, application/openmetrics-text;version=1.0.0;q=0.6", true },
		{ "application/openmetrics-text;q=0", false },
		{ "application/openmetrics-text; version=1.0.0; q=0.0, text/plain", false },
		{ "application/openmetrics-text;Q=0.000", false },
		{ "application/openmetrics-text;q=0.001", true },
		{ "application/openmetrics-textual", false },
		{ "text/plain, application/openmetrics-text ;q=1", true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (http__wants_openmetrics(cases[i].accept) != cases[i].want)
			fail_msg("Accept: %s: want openmetrics=%d", cases[i].accept ?: "(none)",
				 cases[i].want);
}

static void test_accepts_gzip(void **state)
{
	static const struct {
		const char *enc;
		bool want;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "gzip", true },
		{ "GZip", true },
		{ "x-gzip", true },
		{ "gzip;q=0", false },
		{ "gzip; q=0.000", false },
		{ "gzip;q=0.5", true },
		{ "*", true },
		{ "*;q=0", false },
		{ "gzip;q=0, *", false }, /* explicit beats the wildcard */
		{ "deflate, gzip", true },
		{ "deflate,gzip;q=1.0, br", true },
		{ "deflate", false },
		{ "identity", false },
		{ "gzipx", false },
		{ "br, deflate ;q=0.2", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (http__accepts_gzip(cases[i].enc) != cases[i].want)
			fail_msg("Accept-Encoding: %s: want gzip=%d", cases[i].enc ?: "(none)",
				 cases[i].want);
}

/* Inflates gzip data with zlib; returns a malloc'd NUL-terminated string. */
static char *gunzip(const void *in, size_t n, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	z_stream zs;
	int ret;

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK); /* gzip header required */
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	do {
		if (cap - len < 1024) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		zs.next_out = (Bytef *)out + len;
		zs.avail_out = (uInt)(cap - len - 1);
		ret = inflate(&zs, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END)
			fail_msg("inflate: %d (%s)", ret, zs.msg ? zs.msg : "");
		len = cap - 1 - zs.avail_out;
	} while (ret != Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0); /* nothing after the gzip member */
	inflateEnd(&zs);
	out[len] = '\0';
	*out_len = len;
	return out;
}

static void gzip_roundtrip(const char *in, size_t n)
{
	struct strbuf gz;
	size_t len;
	char *back;

	strbuf__init(&gz);
	assert_int_equal(strbuf__append(&gz, "prefix", 6), 0); /* http__gzip appends */
	assert_int_equal(http__gzip(in, n, &gz), 0);
	assert_memory_equal(gz.buf, "prefix\x1f\x8b", 8); /* gzip magic */
	back = gunzip(gz.buf + 6, gz.len - 6, &len);
	assert_int_equal(len, n);
	assert_memory_equal(back, in, n);
	free(back);
	strbuf__free(&gz);
}

static void test_gzip(void **state)
{
	uint64_t x = 1;
	size_t i, n = 3 << 20;
	char *big;

	(void)state;
	gzip_roundtrip("", 0);
	gzip_roundtrip("ok\n", 3);
	/* Larger than the deflate chunk, half compressible, half noise. */
	big = malloc(n);
	assert_non_null(big);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		big[i] = i < n / 2 ? "metric_total{a=\"b\"} 1\n"[i % 22] : (char)x;
	}
	gzip_roundtrip(big, n);
	free(big);
}

/* ---- end to end -------------------------------------------------------------------- */

/* Atomic: written on the server thread, read by the test (the socket orders them, but
 * helgrind cannot see that). */
struct app {
	atomic_int scrapes;
	atomic_bool ready;
	struct metric_family *counter;
};

static void app_before_scrape(void *ctx)
{
	struct app *a = ctx;

	/* Refreshes from "sources" before each render, as the daemon does. */
	a->scrapes++;
	metrics__set(a->counter, (const char *[]){ "betanet" }, a->scrapes);
}

static bool app_ready(void *ctx)
{
	return ((struct app *)ctx)->ready;
}

struct response {
	int status;
	char *raw; /* headers and body, NUL-terminated */
	char *body;
	size_t body_len;
};

static void response_free(struct response *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* Value of header name in r, copied into buf; NULL if absent. */
static const char *header(const struct response *r, const char *name, char *buf, size_t len)
{
	const char *p = strstr(r->raw, "\r\n"), *end;
	size_t n = strlen(name);

	while (p && p + 2 < r->body - 2) {
		p += 2;
		end = strstr(p, "\r\n");
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			snprintf(buf, len, "%.*s", (int)(end - p), p);
			return buf;
		}
		p = end;
	}
	return NULL;
}

/* One request on a fresh connection (Connection: close), read until the server closes. */
static void request(uint16_t port, const char *method, const char *path, const char *extra,
		    struct response *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	size_t cap = 65536, len = 0;
	char req[1024], *hdr_end;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		fail_msg("connect 127.0.0.1:%u: %s", port, strerror(errno));
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
		 path, extra ? extra : "");
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	r->raw = malloc(cap);
	assert_non_null(r->raw);
	for (;;) {
		if (cap - len < 4096) {
			cap *= 2;
			r->raw = realloc(r->raw, cap);
			assert_non_null(r->raw);
		}
		n = read(fd, r->raw + len, cap - len - 1);
		if (n < 0)
			fail_msg("reading %s %s: %s", method, path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	r->raw[len] = '\0';
	if (sscanf(r->raw, "HTTP/1.1 %d ", &r->status) != 1)
		fail_msg("%s %s: no status line in \"%.80s\"", method, path, r->raw);
	hdr_end = strstr(r->raw, "\r\n\r\n");
	assert_non_null(hdr_end);
	r->body = hdr_end + 4;
	r->body_len = len - (size_t)(r->body - r->raw);
}

static void expect_response(uint16_t port, const char *method, const char *path, int status,
			    const char *body)
{
	struct response r;

	request(port, method, path, NULL, &r);
	if (r.status != status)
		fail_msg("%s %s: status %d, want %d", method, path, r.status, status);
	assert_string_equal(r.body, body);
	response_free(&r);
}

/* Starts on a free port in 20000-40000; the port is returned through *port. */
static struct http_server *start_somewhere(const char *host_fmt, const struct http_handlers *h,
					   uint16_t *port)
{
	struct http_server *s;
	char listen[64], err[256];
	int i;

	srand((unsigned int)(time(NULL) ^ getpid()));
	for (i = 0; i < 20; i++) {
		*port = (uint16_t)(20000 + rand() % 20000);
		snprintf(listen, sizeof(listen), host_fmt, *port);
		s = http__start(listen, NULL, NULL, h, err, sizeof(err));
		if (s)
			return s;
		if (!strstr(err, "in use"))
			fail_msg("http__start(%s): %s", listen, err);
	}
	fail_msg("no free port found: %s", err);
	return NULL;
}

static void test_server(void **state)
{
	struct app app = { 0 };
	struct http_handlers h = { .before_scrape = app_before_scrape, .ready = app_ready,
				   .ctx = &app };
	struct http_server *s, *again;
	struct response r;
	char buf[256], err[256], listen[64], *text;
	size_t len;
	uint16_t port;

	(void)state;
	h.registry = metrics__new(0);
	app.counter = metrics__family(h.registry, "fogcompute_betanet_messages_total", "Messages",
				      METRIC_COUNTER, (const char *[]){ "service" }, 1, NULL, 0);
	assert_non_null(app.counter);
	s = start_somewhere("127.0.0.1:%u", &h, &port);

	/* Plain text 0.0.4 by default, before_scrape ran first. */
	request(port, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", buf, sizeof(buf)), CT_TEXT);
	assert_null(header(&r, "Content-Encoding", buf, sizeof(buf)));
	assert_string_equal(r.body, "# HELP fogcompute_betanet_messages_total Messages\n"
				    "# TYPE fogcompute_betanet_messages_total counter\n"
				    "fogcompute_betanet_messages_total{service=\"betanet\"} 1\n");
	assert_int_equal(app.scrapes, 1);
	response_free(&r);

	/* What Prometheus sends: OpenMetrics, gzip. */
	request(port, "GET", "/metrics", "Accept: " PROM_ACCEPT "\r\nAccept-Encoding: gzip\r\n",
		&r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", buf, sizeof(buf)), CT_OPENMETRICS);
	assert_string_equal(header(&r, "Content-Encoding", buf, sizeof(buf)), "gzip");
	snprintf(err, sizeof(err), "%zu", r.body_len);
	assert_string_equal(header(&r, "Content-Length", buf, sizeof(buf)), err);
	text = gunzip(r.body, r.body_len, &len);
	assert_string_equal(text, "# TYPE fogcompute_betanet_messages counter\n"
				  "# HELP fogcompute_betanet_messages Messages\n"
				  "fogcompute_betanet_messages_total{service=\"betanet\"} 2\n"
				  "# EOF\n");
	free(text);
	response_free(&r);

	/* gzip refused by q=0: identity. */
	request(port, "GET", "/metrics", "Accept-Encoding: gzip;q=0, deflate\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_null(header(&r, "Content-Encoding", buf, sizeof(buf)));
	assert_non_null(strstr(r.body, "{service=\"betanet\"} 3\n"));
	response_free(&r);

	/* HEAD: GET's headers, no body. */
	request(port, "HEAD", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", buf, sizeof(buf)), CT_TEXT);
	assert_int_equal(r.body_len, 0);
	response_free(&r);

	expect_response(port, "GET", "/healthz", 200, "ok\n");
	expect_response(port, "GET", "/readyz", 503, "not ready\n");
	app.ready = true;
	expect_response(port, "GET", "/readyz", 200, "ready\n");
	expect_response(port, "GET", "/nope", 404, "not found\n");
	expect_response(port, "GET", "/metrics/", 404, "not found\n");

	request(port, "POST", "/metrics", "Content-Length: 3\r\n", &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow", buf, sizeof(buf)), "GET, HEAD");
	response_free(&r);
	expect_response(port, "DELETE", "/healthz", 405, "method not allowed\n");

	/* The port is taken now: the error says where and why. */
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	again = http__start(listen, NULL, NULL, &h, err, sizeof(err));
	assert_null(again);
	snprintf(buf, sizeof(buf), "cannot listen on 127.0.0.1:%u: Address already in use", port);
	assert_string_equal(err, buf);

	http__stop(s);
	metrics__free(h.registry);
}

/* ":PORT" means every IPv4 address; ready == NULL means always ready. */
static void test_server_any_host(void **state)
{
	struct http_handlers h = { 0 };
	struct http_server *s;
	uint16_t port;

	(void)state;
	h.registry = metrics__new(0);
	s = start_somewhere(":%u", &h, &port);
	expect_response(port, "GET", "/readyz", 200, "ready\n");
	expect_response(port, "GET", "/metrics", 200, ""); /* empty registry */
	http__stop(s);
	metrics__free(h.registry);
}

static void test_server_ipv6(void **state)
{
	struct http_handlers h = { 0 };
	struct http_server *s;
	char err[256];
	uint16_t port;
	int fd;

	(void)state;
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		skip(); /* kernel without IPv6 */
	close(fd);
	h.registry = metrics__new(0);
	s = http__start("[::1]:0", NULL, NULL, &h, err, sizeof(err));
	assert_null(s); /* port 0 would listen somewhere nobody knows */
	assert_string_equal(err, "listen address [::1]:0: invalid port");
	s = start_somewhere("[::]:%u", &h, &port);
	/* Dual stack: the v4 loopback reaches the v6 wildcard. */
	expect_response(port, "GET", "/healthz", 200, "ok\n");
	http__stop(s);
	metrics__free(h.registry);
}

static void test_bad_listen(void **state)
{
	static const struct {
		const char *listen;
		const char *err;
	} cases[] = {
		{ "9477", "listen address 9477: expected HOST:PORT" },
		{ "127.0.0.1:", "listen address 127.0.0.1:: invalid port" },
		{ "127.0.0.1:http", "listen address 127.0.0.1:http: invalid port" },
		{ "127.0.0.1:70000", "listen address 127.0.0.1:70000: invalid port" },
		{ "::1:9477", "listen address ::1:9477: put IPv6 addresses in brackets" },
		{ "[::1:9477", "listen address [::1:9477: expected [IPV6]:PORT" },
		{ "[127.0.0.1]:9477", NULL }, /* getaddrinfo's own words */
	};
	struct http_handlers h = { 0 };
	struct http_server *s;
	char err[256];
	size_t i;

	(void)state;
	h.registry = metrics__new(0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		s = http__start(cases[i].listen, NULL, NULL, &h, err, sizeof(err));
		if (s)
			fail_msg("%s: accepted", cases[i].listen);
		if (cases[i].err)
			assert_string_equal(err, cases[i].err);
		else if (!err[0])
			fail_msg("%s: no error message", cases[i].listen);
	}
	http__stop(NULL);
	metrics__free(h.registry);
}

/* Authorization values made by coreutils' base64 (printf 'prom:pa:ss w0rd' | base64). */
static void test_authorized(void **state)
{
	struct auth_config basic = { .type = AUTH_BASIC, .username = "prom" };
	struct auth_config bearer = { .type = AUTH_BEARER };
	struct auth_config none = { .type = AUTH_NONE };

	(void)state;
	sha256("pa:ss w0rd", 10, basic.secret_sha256);
	sha256("tok-123", 7, bearer.secret_sha256);
	assert_true(http__authorized(&none, NULL));
	assert_true(http__authorized(&basic, "Basic cHJvbTpwYTpzcyB3MHJk"));
	assert_true(http__authorized(&basic, "basic  cHJvbTpwYTpzcyB3MHJk"));
	assert_false(http__authorized(&basic, NULL));
	assert_false(http__authorized(&basic, ""));
	assert_false(http__authorized(&basic, "Basic cHJvbTpwYTpzcyB3MHJY")); /* password */
	assert_false(http__authorized(&basic, "Basic cHJvOnBhOnNzIHcwcmQ=")); /* user */
	assert_false(http__authorized(&basic, "Basic cHJvbTpwYTpzcyB3MHJ")); /* not base64 */
	assert_false(http__authorized(&basic, "Basic cHJvbQ==")); /* "prom", no colon */
	assert_false(http__authorized(&basic, "Bearer pa:ss w0rd"));
	assert_true(http__authorized(&bearer, "Bearer tok-123"));
	assert_true(http__authorized(&bearer, "bearer tok-123"));
	assert_false(http__authorized(&bearer, "Bearer tok-1234"));
	assert_false(http__authorized(&bearer, "Bearer tok-12"));
	assert_false(http__authorized(&bearer, "Basic dG9rLTEyMw=="));
	assert_false(http__authorized(&bearer, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_openmetrics), cmocka_unit_test(test_accepts_gzip),
		cmocka_unit_test(test_gzip),		  cmocka_unit_test(test_server),
		cmocka_unit_test(test_server_any_host),	  cmocka_unit_test(test_server_ipv6),
		cmocka_unit_test(test_bad_listen),	  cmocka_unit_test(test_authorized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
