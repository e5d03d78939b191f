// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's share of an HTTP request, without the kernel: keep-alive exchanges fed
 * as the L7 ring hands them over (a request read by the server, its response written)
 * through the streams and the HTTP parser into the metric families, as the daemon does.
 * Two clients: wrk's request (a Host header only) against nginx's response, and a
 * browser's request (Chromium's default headers) against uvicorn's JSON response.
 * Every exchange must be counted in http_requests_total, or the run fails.
 *
 * Output: one "key value" line per figure, for tests/bench/bench.sh to parse.
 * Built by bench.sh against the daemon's objects (build/user, after `make all`).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/config.h"
#include "lib/strbuf.h"
#include "model/streams.h"
#include "telemetry/metrics.h"
#include "telemetry/web_metrics.h"

#define CONNS 8 /* wrk -c8, as the http bench */
#define EXCHANGES 200000 /* per round */
#define DEFAULT_ROUNDS 7

static const char wrk_req[] = "GET /api/bench/1 HTTP/1.1\r\nHost: 10.216.1.1:8080\r\n\r\n";
static const char nginx_resp[] = "HTTP/1.1 200 OK\r\n"
				 "Server: nginx/1.22.1\r\n"
				 "Date: Mon, 07 Dec 2026 04:20:32 GMT\r\n"
				 "Content-Type: application/octet-stream\r\n"
				 "Content-Length: 3\r\n"
				 "Connection: keep-alive\r\n"
				 "\r\n"
				 "ok\n";
static const char browser_req[] =
	"GET /api/nodes/4f1c2a9e-7b3d-4e8f-9a01-23456789abcd/status HTTP/1.1\r\n"
	"Host: panel.fog.example:8443\r\n"
	"Connection: keep-alive\r\n"
	"sec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"8\"\r\n"
	"sec-ch-ua-mobile: ?0\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36\r\n"
	"sec-ch-ua-platform: \"Linux\"\r\n"
	"Accept: */*\r\n"
	"Sec-Fetch-Site: same-origin\r\n"
	"Sec-Fetch-Mode: cors\r\n"
	"Sec-Fetch-Dest: empty\r\n"
	"Referer: https://panel.fog.example:8443/nodes\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Accept-Language: en-US,en;q=0.9\r\n"
	"Cookie: session=2b7e151628aed2a6abf7158809cf4f3c\r\n"
	"\r\n";
static const char uvicorn_resp[] = "HTTP/1.1 200 OK\r\n"
				   "date: Mon, 07 Dec 2026 04:20:32 GMT\r\n"
				   "server: uvicorn\r\n"
				   "content-length: 41\r\n"
				   "content-type: application/json\r\n"
				   "\r\n"
				   "{\"node\":\"4f1c\",\"status\":\"up\",\"load\":0.42}";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The sum of http_requests_total over its series, from the exposition. */
static double requests_counted(struct metrics *reg)
{
	struct strbuf out;
	const char *p;
	double sum = 0;

	strbuf__init(&out);
	if (metrics__render(reg, &out, METRICS_TEXT_004) || out.oom) {
		strbuf__free(&out);
		return -1;
	}
	for (p = out.buf; (p = strstr(p, "\nhttp_requests_total{")); p++)
		sum += strtod(strchr(strchr(p, '}'), ' '), NULL);
	strbuf__free(&out);
	return sum;
}

/* rounds x EXCHANGES exchanges of one client; prints its median ns per exchange. */
static int run(const char *tag, const char *req, const char *resp, int rounds)
{
	static struct config cfg;
	const char *text = "{\"services\": [{\"name\": \"web\", \"protocol\": \"http\","
			   " \"ports\": [8080]}]}";
	struct metrics *reg = metrics__new(0);
	struct web_metrics *wm = NULL;
	size_t nreq = strlen(req), nresp = strlen(resp);
	double *t = calloc(rounds, sizeof(*t)), t0, counted;
	struct streams *s = NULL;
	uint64_t ts = 1000000000ULL;
	char err[128];
	int r, i, rc = -1;

	if (config__load_string(text, "bench", &cfg, err, sizeof(err))) {
		fprintf(stderr, "bench_parse: %s\n", err);
		goto out;
	}
	wm = reg ? web_metrics__new(reg, &cfg) : NULL;
	if (wm) {
		struct streams_opts o = { .cfg = &cfg, .web_sink = web_metrics__sink(wm) };

		s = streams__new(&o);
	}
	if (!s || !t) {
		fprintf(stderr, "bench_parse: out of memory\n");
		goto out;
	}
	for (r = 0; r < rounds; r++) {
		t0 = now();
		for (i = 0; i < EXCHANGES; i++) {
			struct stream_chunk in = { .is_server = true, .data = (const uint8_t *)req,
						   .captured = nreq, .total = nreq, .ts_ns = ts },
					    out = { .is_server = true, .tx = true,
						    .data = (const uint8_t *)resp,
						    .captured = nresp, .total = nresp,
						    .ts_ns = ts + 40000 };
			uint64_t sk = 0xffff888100000000ULL + (uint64_t)(i % CONNS) * 2048;

			streams__data(s, sk, 0, &in);
			streams__data(s, sk, 0, &out);
			ts += 10000;
		}
		t[r] = (now() - t0) * 1e9 / EXCHANGES;
	}
	counted = requests_counted(reg);
	if (counted != (double)rounds * EXCHANGES) {
		fprintf(stderr, "bench_parse: %s: %.0f requests counted of %d\n", tag, counted,
			rounds * EXCHANGES);
		goto out;
	}
	qsort(t, rounds, sizeof(*t), cmp_double);
	printf("%s_best_ns %.1f\n%s_median_ns %.1f\n", tag, t[0], tag, t[rounds / 2]);
	rc = 0;
out:
	streams__free(s);
	web_metrics__free(wm);
	metrics__free(reg);
	free(t);
	return rc;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : DEFAULT_ROUNDS;

	if (rounds < 1)
		rounds = DEFAULT_ROUNDS;
	printf("exchanges %d\n", rounds * EXCHANGES);
	if (run("wrk_nginx", wrk_req, nginx_resp, rounds) ||
	    run("browser_uvicorn", browser_req, uvicorn_resp, rounds))
		return 1;
	return 0;
}
