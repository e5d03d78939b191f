// SPDX-License-Identifier: GPL-2.0-only
/*
 * Synthetic /metrics render benchmark: 10k series (5000 gauges with 17-digit values and
 * 5000 counters, two labels each), rendered N times as Prometheus text 0.0.4 and as
 * OpenMetrics; then the gzip the HTTP endpoint applies (http__gzip, level 1).
 * DESIGN.md target: 10k series render in <= 5 ms.
 *
 * Output: one "key value" line per figure, for tests/bench/bench.sh to parse.
 * Built by bench.sh: gcc -O2 -std=gnu11 -Iinclude -Iuser ... -lmicrohttpd -lz -lm.
 */
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h" /* DAEMON_MMAP_THRESHOLD: the daemon's allocator, not glibc's default */
#include "export/http.h"
#include "lib/strbuf.h"
#include "telemetry/metrics.h"

#define N_SERIES_PER_FAMILY 5000
#define DEFAULT_ROUNDS 20

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Renders rounds times; prints best/median ms and the size. Returns 0 or -1. */
static int bench_format(struct metrics *m, enum metrics_format fmt, const char *tag, int rounds,
			struct strbuf *last)
{
	double *t = calloc(rounds, sizeof(*t)), t0;
	struct strbuf sb;
	int i, err;

	if (!t)
		return -1;
	strbuf__init(&sb);
	for (i = 0; i < rounds; i++) {
		/* Fresh buffer each round: a scrape allocates its own (as http.c does). */
		strbuf__free(&sb);
		strbuf__init(&sb);
		t0 = now();
		err = metrics__render(m, &sb, fmt);
		t[i] = now() - t0;
		if (err || sb.oom) {
			fprintf(stderr, "render %s failed: %d\n", tag, err);
			free(t);
			strbuf__free(&sb);
			return -1;
		}
	}
	printf("%s_bytes %zu\n", tag, sb.len);
	printf("%s_median_ms %.3f\n", tag, median(t, rounds) * 1e3); /* sorts t */
	printf("%s_best_ms %.3f\n", tag, t[0] * 1e3);
	free(t);
	if (last) {
		strbuf__free(last);
		*last = sb;
	} else {
		strbuf__free(&sb);
	}
	return 0;
}

struct families {
	struct metric_family *g, *c;
};

static const struct metric_def defs[] = {
	{ "fogprobe_tcp_rtt_avg_seconds", "RTT", METRIC_GAUGE, { "service", "role" },
	  .offset = offsetof(struct families, g) },
	{ "fogprobe_tcp_bytes_total", "Bytes", METRIC_COUNTER, { "service", "role" },
	  .offset = offsetof(struct families, c) },
};

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : DEFAULT_ROUNDS;
	struct families f;
	struct strbuf text, gz;
	struct metrics *m;
	uint64_t seed = 42;
	double t0, *tg;
	char svc[32];
	int i, n = 0;

	if (rounds < 1)
		rounds = DEFAULT_ROUNDS;
	mallopt(M_MMAP_THRESHOLD, DAEMON_MMAP_THRESHOLD);
	m = metrics__new(0);
	if (!m)
		return 1;
	if (metrics__register(m, &f, defs, ARRAY_LEN(defs))) {
		fprintf(stderr, "creating families failed\n");
		return 1;
	}
	for (i = 0; i < N_SERIES_PER_FAMILY; i++) {
		snprintf(svc, sizeof(svc), "service-%d", i);
		/* Measured values have all 17 digits: the slow case for a printf renderer. */
		n += metrics__set(f.g, (const char *[]){ svc, "server" },
				  (double)(xorshift(&seed) >> 11) / 0x1p53) == 0;
		n += metrics__add(f.c, (const char *[]){ svc, "client" },
				  (double)(xorshift(&seed) >> 20)) == 0;
	}
	printf("series %d\n", n);
	printf("rounds %d\n", rounds);
	if (n != 2 * N_SERIES_PER_FAMILY)
		fprintf(stderr, "only %d of %d series registered\n", n, 2 * N_SERIES_PER_FAMILY);

	strbuf__init(&text);
	if (bench_format(m, METRICS_TEXT_004, "text", rounds, &text) ||
	    bench_format(m, METRICS_OPENMETRICS, "openmetrics", rounds, NULL))
		return 1;

	tg = calloc(rounds, sizeof(*tg));
	if (!tg)
		return 1;
	strbuf__init(&gz);
	for (i = 0; i < rounds; i++) {
		strbuf__free(&gz);
		strbuf__init(&gz);
		t0 = now();
		if (http__gzip(text.buf, text.len, &gz)) {
			fprintf(stderr, "gzip failed\n");
			return 1;
		}
		tg[i] = now() - t0;
	}
	printf("gzip_bytes %zu\n", gz.len);
	printf("gzip_ratio %.3f\n", text.len ? (double)gz.len / text.len : 0);
	printf("gzip_median_ms %.3f\n", median(tg, rounds) * 1e3); /* sorts tg */
	printf("gzip_best_ms %.3f\n", tg[0] * 1e3);
	free(tg);
	strbuf__free(&gz);
	strbuf__free(&text);
	metrics__free(m);
	return 0;
}
