// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/telemetry/metrics.c: exact expositions in both formats, escaping, number rendering,
 * the series cap and its per-family refusal counts, name validation, families registered
 * from tables, the family listing. Ground truth the project did not write: promtool
 * (Prometheus' own text parser and linter) and, where installed, the OpenMetrics parser
 * of the Python client; number rendering is compared with the printf/strtod reference.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/strbuf.h"
#include "telemetry/metrics.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define PROMTOOL "/usr/bin/promtool"
#define PYTHON "/usr/bin/python3"

/* Renders m in fmt into a NUL-terminated string the caller frees. */
static char *render(struct metrics *m, enum metrics_format fmt)
{
	struct strbuf sb;

	strbuf__init(&sb);
	assert_int_equal(metrics__render(m, &sb, fmt), 0);
	assert_non_null(sb.buf);
	return sb.buf;
}

static void expect_render(struct metrics *m, enum metrics_format fmt, const char *want)
{
	char *got = render(m, fmt);

	assert_string_equal(got, want);
	free(got);
}

/* Families as metrics__each_family() lists them. */
struct listing {
	struct metric_info fi[16];
	size_t n;
};

static void list_one(void *ctx, const struct metric_info *fi)
{
	struct listing *l = ctx;

	if (l->n < 16)
		l->fi[l->n] = *fi;
	l->n++;
}

static struct listing list_families(struct metrics *m)
{
	struct listing l = { .n = 0 };

	metrics__each_family(m, list_one, &l);
	return l;
}

/* Series the family refused at its cap; fails the test when there is no such family. */
static uint64_t dropped_of(struct metrics *m, const char *name)
{
	struct listing l = list_families(m);
	size_t i;

	for (i = 0; i < l.n && i < 16; i++)
		if (!strcmp(l.fi[i].name, name))
			return l.fi[i].series_dropped;
	fail_msg("no family \"%s\" in the listing", name);
	return 0;
}

static void test_strbuf(void **state)
{
	struct strbuf sb;
	size_t i;

	(void)state;
	strbuf__init(&sb);
	assert_int_equal(strbuf__append(&sb, "", 0), 0);
	assert_string_equal(sb.buf, "");
	assert_int_equal(strbuf__puts(&sb, "ab"), 0);
	assert_int_equal(strbuf__printf(&sb, "%d-%s", 42, "x"), 0);
	assert_string_equal(sb.buf, "ab42-x");
	assert_int_equal(sb.len, 6);
	/* A printf larger than the spare room takes the second pass. */
	for (i = 0; i < 10; i++)
		assert_int_equal(strbuf__printf(&sb, "%0300d", 7), 0);
	assert_int_equal(sb.len, 6 + 3000);
	assert_int_equal(strlen(sb.buf), sb.len);
	strbuf__reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	assert_int_equal(sb.oom, 0);
	strbuf__free(&sb);
	strbuf__free(&sb); /* twice is fine */
	assert_null(sb.buf);
}

/* Updates in a row reuse the series found last: it must be that very label set, and
 * none after a clear. */
static void test_series_in_a_row(void **state)
{
	const char *labels[] = { "a", "b" };
	struct metric_family *c;
	struct metrics *m;
	char *out;

	(void)state;
	m = metrics__new(0);
	assert_non_null(m);
	c = metrics__family(m, "x_total", "X", METRIC_COUNTER, labels, 2, NULL, 0);
	assert_non_null(c);
	assert_int_equal(metrics__add(c, (const char *[]){ "ab", "c" }, 1), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "ab", "c" }, 1), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "a", "bc" }, 10), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "ab", "" }, 100), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "ab", "cd" }, 1000), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# HELP x_total X\n# TYPE x_total counter\n"
		      "x_total{a=\"ab\",b=\"c\"} 2\nx_total{a=\"a\",b=\"bc\"} 10\n"
		      "x_total{a=\"ab\",b=\"\"} 100\nx_total{a=\"ab\",b=\"cd\"} 1000\n");
	metrics__clear(c);
	assert_int_equal(metrics__add(c, (const char *[]){ "ab", "cd" }, 5), 0);
	out = render(m, METRICS_TEXT_004);
	if (!strstr(out, "x_total{a=\"ab\",b=\"cd\"} 5\n") || strstr(out, "b=\"c\""))
		fail_msg("after the clear:\n%s", out);
	free(out);
	metrics__free(m);
}

static void test_counter_gauge_text(void **state)
{
	const char *labels[] = { "service", "role" };
	struct metric_family *c, *g;
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	assert_non_null(m);
	c = metrics__family(m, "fogprobe_tcp_bytes_total", "Bytes moved", METRIC_COUNTER, labels,
			    2, NULL, 0);
	g = metrics__family(m, "fogcompute_betanet_connected_peers", "Peers", METRIC_GAUGE, NULL,
			    0, NULL, 0);
	assert_non_null(c);
	assert_non_null(g);

	assert_int_equal(metrics__add(c, (const char *[]){ "betanet", "server" }, 40), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "betanet", "client" }, 1), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "betanet", "server" }, 2), 0);
	assert_int_equal(metrics__set(g, NULL, 7), 0);
	assert_int_equal(metrics__add(g, NULL, -9.5), 0);

	expect_render(m, METRICS_TEXT_004,
		      "# HELP fogprobe_tcp_bytes_total Bytes moved\n"
		      "# TYPE fogprobe_tcp_bytes_total counter\n"
		      "fogprobe_tcp_bytes_total{service=\"betanet\",role=\"server\"} 42\n"
		      "fogprobe_tcp_bytes_total{service=\"betanet\",role=\"client\"} 1\n"
		      "# HELP fogcompute_betanet_connected_peers Peers\n"
		      "# TYPE fogcompute_betanet_connected_peers gauge\n"
		      "fogcompute_betanet_connected_peers -2.5\n");

	/* Absolute set for sources that keep cumulative totals. */
	assert_int_equal(metrics__set(c, (const char *[]){ "betanet", "server" }, 1000), 0);
	expect_render(m, METRICS_OPENMETRICS,
		      "# TYPE fogprobe_tcp_bytes counter\n"
		      "# HELP fogprobe_tcp_bytes Bytes moved\n"
		      "fogprobe_tcp_bytes_total{service=\"betanet\",role=\"server\"} 1000\n"
		      "fogprobe_tcp_bytes_total{service=\"betanet\",role=\"client\"} 1\n"
		      "# TYPE fogcompute_betanet_connected_peers gauge\n"
		      "# HELP fogcompute_betanet_connected_peers Peers\n"
		      "fogcompute_betanet_connected_peers -2.5\n"
		      "# EOF\n");
	metrics__free(m);
}

static void test_escaping(void **state)
{
	const char *labels[] = { "room_id" };
	struct metric_family *c;
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	c = metrics__family(m, "fogcompute_bitchat_messages_total", "Say \"hi\" \\ then\nbye",
			    METRIC_COUNTER, labels, 1, NULL, 0);
	assert_non_null(c);
	assert_int_equal(metrics__add(c, (const char *[]){ "a\\b\"c\nd" }, 1), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "" }, 2), 0);

	/* 0.0.4 HELP escapes only backslash and newline; label values also the quote. */
	expect_render(m, METRICS_TEXT_004,
		      "# HELP fogcompute_bitchat_messages_total Say \"hi\" \\\\ then\\nbye\n"
		      "# TYPE fogcompute_bitchat_messages_total counter\n"
		      "fogcompute_bitchat_messages_total{room_id=\"a\\\\b\\\"c\\nd\"} 1\n"
		      "fogcompute_bitchat_messages_total{room_id=\"\"} 2\n");
	/* OpenMetrics HELP is an escaped-string: the quote is escaped there too. */
	expect_render(m, METRICS_OPENMETRICS,
		      "# TYPE fogcompute_bitchat_messages counter\n"
		      "# HELP fogcompute_bitchat_messages Say \\\"hi\\\" \\\\ then\\nbye\n"
		      "fogcompute_bitchat_messages_total{room_id=\"a\\\\b\\\"c\\nd\"} 1\n"
		      "fogcompute_bitchat_messages_total{room_id=\"\"} 2\n"
		      "# EOF\n");
	metrics__free(m);
}

static void test_invalid_utf8(void **state)
{
	const char *labels[] = { "comm" };
	struct metric_family *g;
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	g = metrics__family(m, "g", "", METRIC_GAUGE, labels, 1, NULL, 0);
	assert_non_null(g);
	/* One bad byte would make Prometheus drop the whole scrape: it becomes U+FFFD, and
	 * the raw and cleaned spellings are one series. */
	assert_int_equal(metrics__set(g, (const char *[]){ "a\xff" "b" }, 1), 0);
	assert_int_equal(metrics__add(g, (const char *[]){ "a\xff" "b" }, 1), 0);
	assert_int_equal(metrics__add(g, (const char *[]){ "a\xef\xbf\xbd" "b" }, 1), 0);
	assert_int_equal(metrics__set(g, (const char *[]){ "\xc3\xa9t\xc3\xa9" }, 1), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# TYPE g gauge\n"
		      "g{comm=\"a\xef\xbf\xbd" "b\"} 3\n"
		      "g{comm=\"\xc3\xa9t\xc3\xa9\"} 1\n");
	metrics__free(m);
}

static const double lat_buckets[] = { 0.005, 0.01, 1 };

static void test_histogram(void **state)
{
	const char *labels[] = { "room_id" };
	struct metric_family *h;
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	h = metrics__family(m, "bitchat_latency_seconds", "Latency",
			    METRIC_HISTOGRAM, labels, 1, lat_buckets, 3);
	assert_non_null(h);
	/* Upper bounds are inclusive: 0.005 lands in le="0.005". */
	assert_int_equal(metrics__observe(h, (const char *[]){ "r1" }, 0.005), 0);
	assert_int_equal(metrics__observe(h, (const char *[]){ "r1" }, 0.5), 0);
	assert_int_equal(metrics__observe(h, (const char *[]){ "r1" }, 0.5), 0);
	assert_int_equal(metrics__observe(h, (const char *[]){ "r1" }, 3), 0);

	expect_render(m, METRICS_TEXT_004,
		      "# HELP bitchat_latency_seconds Latency\n"
		      "# TYPE bitchat_latency_seconds histogram\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"0.005\"} 1\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"0.01\"} 1\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"1\"} 3\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"+Inf\"} 4\n"
		      "bitchat_latency_seconds_sum{room_id=\"r1\"} 4.005\n"
		      "bitchat_latency_seconds_count{room_id=\"r1\"} 4\n");
	/* OpenMetrics le values are canonical floats: "1.0", not "1". */
	expect_render(m, METRICS_OPENMETRICS,
		      "# TYPE bitchat_latency_seconds histogram\n"
		      "# HELP bitchat_latency_seconds Latency\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"0.005\"} 1\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"0.01\"} 1\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"1.0\"} 3\n"
		      "bitchat_latency_seconds_bucket{room_id=\"r1\",le=\"+Inf\"} 4\n"
		      "bitchat_latency_seconds_sum{room_id=\"r1\"} 4.005\n"
		      "bitchat_latency_seconds_count{room_id=\"r1\"} 4\n"
		      "# EOF\n");

	assert_int_equal(metrics__set(h, (const char *[]){ "r1" }, 1), -EINVAL);
	assert_int_equal(metrics__add(h, (const char *[]){ "r1" }, 1), -EINVAL);
	assert_int_equal(metrics__observe(h, (const char *[]){ "r1" }, NAN), -EINVAL);
	metrics__free(m);
}

static void test_hist_set(void **state)
{
	const uint64_t counts[] = { 2, 0, 5, 1 }, again[] = { 1, 1, 1, 1 };
	struct metric_family *h;
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	h = metrics__family(m, "rtt_seconds", "", METRIC_HISTOGRAM, NULL, 0, lat_buckets, 3);
	assert_non_null(h);
	assert_int_equal(metrics__hist_set(h, NULL, counts, 12.25), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# TYPE rtt_seconds histogram\n"
		      "rtt_seconds_bucket{le=\"0.005\"} 2\n"
		      "rtt_seconds_bucket{le=\"0.01\"} 2\n"
		      "rtt_seconds_bucket{le=\"1\"} 7\n"
		      "rtt_seconds_bucket{le=\"+Inf\"} 8\n"
		      "rtt_seconds_sum 12.25\n"
		      "rtt_seconds_count 8\n");
	/* Replaces, does not add. */
	assert_int_equal(metrics__hist_set(h, NULL, again, 0.5), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# TYPE rtt_seconds histogram\n"
		      "rtt_seconds_bucket{le=\"0.005\"} 1\n"
		      "rtt_seconds_bucket{le=\"0.01\"} 2\n"
		      "rtt_seconds_bucket{le=\"1\"} 3\n"
		      "rtt_seconds_bucket{le=\"+Inf\"} 4\n"
		      "rtt_seconds_sum 0.5\n"
		      "rtt_seconds_count 4\n");
	assert_int_equal(metrics__hist_set(h, NULL, NULL, 0), -EINVAL);
	assert_int_equal(metrics__hist_set(h, NULL, again, NAN), -EINVAL);
	metrics__free(m);

	/* Negative bounds: OpenMetrics forbids the sum (and its parsers then the count). */
	m = metrics__new(0);
	h = metrics__family(m, "temp_delta", "", METRIC_HISTOGRAM, NULL, 0, (double[]){ -1, 1 },
			    2);
	assert_non_null(h);
	assert_int_equal(metrics__observe(h, NULL, -3), 0);
	expect_render(m, METRICS_OPENMETRICS,
		      "# TYPE temp_delta histogram\n"
		      "temp_delta_bucket{le=\"-1.0\"} 1\n"
		      "temp_delta_bucket{le=\"1.0\"} 1\n"
		      "temp_delta_bucket{le=\"+Inf\"} 1\n"
		      "# EOF\n");
	expect_render(m, METRICS_TEXT_004,
		      "# TYPE temp_delta histogram\n"
		      "temp_delta_bucket{le=\"-1\"} 1\n"
		      "temp_delta_bucket{le=\"1\"} 1\n"
		      "temp_delta_bucket{le=\"+Inf\"} 1\n"
		      "temp_delta_sum -3\n"
		      "temp_delta_count 1\n");
	metrics__free(m);
}

/* Canonical le values, the examples of OpenMetrics 1.0 "Considerations: Canonical Numbers". */
static void test_le_canonical(void **state)
{
	static const struct {
		double le;
		const char *om;
		const char *text;
	} cases[] = {
		{ 1e-10, "1e-10", "1e-10" },
		{ 1e-05, "1e-05", "1e-05" },
		{ 0.0001, "0.0001", "0.0001" },
		{ 0.001, "0.001", "0.001" },
		{ 0.95, "0.95", "0.95" },
		{ 0.999, "0.999", "0.999" },
		{ 1, "1.0", "1" },
		{ 1.7, "1.7", "1.7" },
		{ 10, "10.0", "10" },
		{ 100000, "100000.0", "100000" },
		{ 1e+06, "1e+06", "1000000" },
		{ 1e+10, "1e+10", "10000000000" },
	};
	double b[sizeof(cases) / sizeof(cases[0])];
	struct metric_family *h;
	struct metrics *m;
	char want[64], *got_om, *got_text;
	size_t i, n = sizeof(cases) / sizeof(cases[0]);

	(void)state;
	for (i = 0; i < n; i++)
		b[i] = cases[i].le;
	m = metrics__new(0);
	h = metrics__family(m, "x", "", METRIC_HISTOGRAM, NULL, 0, b, n);
	assert_non_null(h);
	assert_int_equal(metrics__observe(h, NULL, 1), 0);
	got_om = render(m, METRICS_OPENMETRICS);
	got_text = render(m, METRICS_TEXT_004);
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "x_bucket{le=\"%s\"} ", cases[i].om);
		if (!strstr(got_om, want))
			fail_msg("OpenMetrics: no %s in\n%s", want, got_om);
		snprintf(want, sizeof(want), "x_bucket{le=\"%s\"} ", cases[i].text);
		if (!strstr(got_text, want))
			fail_msg("0.0.4: no %s in\n%s", want, got_text);
	}
	free(got_om);
	free(got_text);
	metrics__free(m);
}

/* Value of the only sample of gauge g, as rendered. */
static void expect_rendered_value(struct metrics *m, struct metric_family *g, double v,
				  const char *want)
{
	char *out, *line;

	metrics__clear(g);
	assert_int_equal(metrics__set(g, NULL, v), 0);
	out = render(m, METRICS_TEXT_004);
	line = strstr(out, "\nv ");
	assert_non_null(line);
	line[strlen(line) - 1] = '\0';
	if (strcmp(line + 3, want))
		fail_msg("value %a rendered as \"%s\", want \"%s\"", v, line + 3, want);
	free(out);
}

/* The rendering DESIGN specifies, spelled out with printf and strtod. */
static void reference_format(char *buf, size_t len, double v)
{
	int p;

	if (v == trunc(v) && fabs(v) < 0x1p63) {
		snprintf(buf, len, "%.0f", v);
		return;
	}
	for (p = 15; p < 17; p++) {
		snprintf(buf, len, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, len, "%.17g", v);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_float_format(void **state)
{
	struct metric_family *g;
	struct metrics *m;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char want[64], *out, *p;
	size_t i, n;

	(void)state;
	m = metrics__new(0);
	g = metrics__family(m, "v", "", METRIC_GAUGE, NULL, 0, NULL, 0);
	assert_non_null(g);
	expect_rendered_value(m, g, 42, "42");
	expect_rendered_value(m, g, -3, "-3");
	expect_rendered_value(m, g, 0, "0");
	expect_rendered_value(m, g, 1e18, "1000000000000000000");
	expect_rendered_value(m, g, 1e20, "1e+20");
	expect_rendered_value(m, g, 0.1, "0.1");
	expect_rendered_value(m, g, 0.005, "0.005");
	expect_rendered_value(m, g, 1.0 / 3, "0.3333333333333333");
	expect_rendered_value(m, g, 0.1 + 0.2, "0.30000000000000004");
	expect_rendered_value(m, g, 2.5e-5, "2.5e-05");
	expect_rendered_value(m, g, -1.5e-7, "-1.5e-07");
	expect_rendered_value(m, g, 123456.789, "123456.789");
	expect_rendered_value(m, g, 4503599627370495.5, "4503599627370495.5");
	expect_rendered_value(m, g, INFINITY, "+Inf");
	expect_rendered_value(m, g, -INFINITY, "-Inf");
	expect_rendered_value(m, g, NAN, "NaN");

	/* Random doubles of every magnitude against the reference: the renderer computes the
	 * same digits without printf, this proves it on a sample. */
	metrics__free(m);
	m = metrics__new(0);
	g = metrics__family(m, "v", "", METRIC_GAUGE, (const char *[]){ "i" }, 1, NULL, 0);
	assert_non_null(g);
	n = RUNNING_ON_VALGRIND ? 500 : 5000;
	double *vals = calloc(n, sizeof(*vals));

	assert_non_null(vals);
	for (i = 0; i < n; i++) {
		char idx[16];
		double v;

		do {
			uint64_t bits = xorshift(&seed);

			if (i % 3 == 0)
				memcpy(&v, &bits, sizeof(v));
			else if (i % 3 == 1)
				v = ldexp((double)(bits >> 11), -(int)(xorshift(&seed) % 90));
			else
				v = (double)(bits % 100000000) /
				    pow(10, (double)(xorshift(&seed) % 12));
		} while (!isfinite(v));
		vals[i] = v;
		snprintf(idx, sizeof(idx), "%zu", i);
		assert_int_equal(metrics__set(g, (const char *[]){ idx }, v), 0);
	}
	out = render(m, METRICS_TEXT_004);
	p = out;
	for (i = 0; i < n; i++) {
		char *line = strstr(p, "\"} "), *end;

		assert_non_null(line);
		line += 3;
		end = strchr(line, '\n');
		*end = '\0';
		reference_format(want, sizeof(want), vals[i]);
		if (strcmp(line, want))
			fail_msg("value %a rendered as \"%s\", reference \"%s\"", vals[i], line,
				 want);
		p = end + 1;
	}
	free(out);
	free(vals);
	metrics__free(m);
}

static void test_series_cap(void **state)
{
	const char *labels[] = { "peer" };
	struct metric_family *c, *other;
	struct metrics *m;

	(void)state;
	m = metrics__new(2);
	c = metrics__family(m, "conns_total", "", METRIC_COUNTER, labels, 1, NULL, 0);
	other = metrics__family(m, "other", "", METRIC_GAUGE, labels, 1, NULL, 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "a" }, 1), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "b" }, 1), 0);
	assert_int_equal(metrics__add(c, (const char *[]){ "c" }, 1), -ENOSPC);
	assert_int_equal(metrics__add(c, (const char *[]){ "d" }, 1), -ENOSPC);
	assert_int_equal(dropped_of(m, "conns_total"), 2);
	assert_int_equal(dropped_of(m, "other"), 0);
	/* Existing series keep updating; the cap and its count are per family. */
	assert_int_equal(metrics__add(c, (const char *[]){ "a" }, 1), 0);
	assert_int_equal(metrics__set(other, (const char *[]){ "c" }, 1), 0);
	assert_int_equal(dropped_of(m, "conns_total"), 2);
	assert_int_equal(dropped_of(m, "other"), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# TYPE conns_total counter\n"
		      "conns_total{peer=\"a\"} 2\n"
		      "conns_total{peer=\"b\"} 1\n"
		      "# TYPE other gauge\n"
		      "other{peer=\"c\"} 1\n");
	/* The other family at its cap counts its own refusals. */
	assert_int_equal(metrics__set(other, (const char *[]){ "d" }, 1), 0);
	assert_int_equal(metrics__set(other, (const char *[]){ "e" }, 1), -ENOSPC);
	assert_int_equal(dropped_of(m, "other"), 1);
	assert_int_equal(dropped_of(m, "conns_total"), 2);
	/* Clearing makes room again; what was refused stays counted. */
	metrics__clear(c);
	metrics__clear(other);
	assert_int_equal(metrics__add(c, (const char *[]){ "c" }, 5), 0);
	assert_int_equal(metrics__set(other, (const char *[]){ "c" }, 1), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# TYPE conns_total counter\n"
		      "conns_total{peer=\"c\"} 5\n"
		      "# TYPE other gauge\n"
		      "other{peer=\"c\"} 1\n");
	assert_int_equal(dropped_of(m, "conns_total"), 2);
	assert_int_equal(dropped_of(m, "other"), 1);
	metrics__free(m);

	/* 0 means the default cap. */
	m = metrics__new(0);
	c = metrics__family(m, "many_total", "", METRIC_COUNTER, labels, 1, NULL, 0);
	for (size_t i = 0; i < METRICS_DEFAULT_MAX_SERIES; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%zu", i);
		assert_int_equal(metrics__add(c, (const char *[]){ v }, 1), 0);
	}
	assert_int_equal(metrics__add(c, (const char *[]){ "one more" }, 1), -ENOSPC);
	assert_int_equal(metrics__add(c, (const char *[]){ "9999" }, 1), 0);
	assert_int_equal(dropped_of(m, "many_total"), 1);
	metrics__free(m);
}

static void expect_family_error(struct metrics *m, const char *what, const char *name,
				enum metric_type type, const char *const *labels, size_t n_labels,
				const double *buckets, size_t n_buckets, int want_errno)
{
	struct metric_family *f;

	errno = 0;
	f = metrics__family(m, name, "", type, labels, n_labels, buckets, n_buckets);
	if (f)
		fail_msg("%s: family \"%s\" was accepted", what, name);
	if (errno != want_errno)
		fail_msg("%s: errno %d, want %d", what, errno, want_errno);
}

static void test_invalid(void **state)
{
	const double dup[] = { 1, 1 }, down[] = { 2, 1 }, inf[] = { 1, INFINITY },
		     nan[] = { NAN };
	struct metric_family *g, *c;
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	expect_family_error(m, "digit first", "1abc", METRIC_GAUGE, NULL, 0, NULL, 0, EINVAL);
	expect_family_error(m, "dash", "a-b", METRIC_GAUGE, NULL, 0, NULL, 0, EINVAL);
	expect_family_error(m, "empty", "", METRIC_GAUGE, NULL, 0, NULL, 0, EINVAL);
	expect_family_error(m, "NULL", NULL, METRIC_GAUGE, NULL, 0, NULL, 0, EINVAL);
	expect_family_error(m, "counter w/o _total", "reqs", METRIC_COUNTER, NULL, 0, NULL, 0,
			    EINVAL);
	expect_family_error(m, "only _total", "_total", METRIC_COUNTER, NULL, 0, NULL, 0, EINVAL);
	expect_family_error(m, "label __", "g1", METRIC_GAUGE, (const char *[]){ "__x" }, 1,
			    NULL, 0, EINVAL);
	expect_family_error(m, "label colon", "g1", METRIC_GAUGE, (const char *[]){ "a:b" }, 1,
			    NULL, 0, EINVAL);
	expect_family_error(m, "label digit", "g1", METRIC_GAUGE, (const char *[]){ "0a" }, 1,
			    NULL, 0, EINVAL);
	expect_family_error(m, "label twice", "g1", METRIC_GAUGE, (const char *[]){ "a", "a" }, 2,
			    NULL, 0, EINVAL);
	expect_family_error(m, "le on histogram", "h1", METRIC_HISTOGRAM,
			    (const char *[]){ "le" }, 1, NULL, 0, EINVAL);
	expect_family_error(m, "too many labels", "g1", METRIC_GAUGE,
			    (const char *[]){ "a", "b", "c", "d", "e", "f", "g", "h", "i" }, 9,
			    NULL, 0, EINVAL);
	expect_family_error(m, "equal buckets", "h1", METRIC_HISTOGRAM, NULL, 0, dup, 2, EINVAL);
	expect_family_error(m, "falling buckets", "h1", METRIC_HISTOGRAM, NULL, 0, down, 2,
			    EINVAL);
	expect_family_error(m, "+Inf bucket", "h1", METRIC_HISTOGRAM, NULL, 0, inf, 2, EINVAL);
	expect_family_error(m, "NaN bucket", "h1", METRIC_HISTOGRAM, NULL, 0, nan, 1, EINVAL);
	expect_family_error(m, "buckets on gauge", "g1", METRIC_GAUGE, NULL, 0, dup, 1, EINVAL);

	g = metrics__family(m, "ns:a_b9", "", METRIC_GAUGE, (const char *[]){ "_ok", "A1" }, 2,
			    NULL, 0);
	assert_non_null(g);
	c = metrics__family(m, "req_total", "", METRIC_COUNTER, NULL, 0, NULL, 0);
	assert_non_null(c);
	assert_non_null(metrics__family(m, "h_ok", "", METRIC_HISTOGRAM, NULL, 0, NULL, 0));
	expect_family_error(m, "same name", "ns:a_b9", METRIC_GAUGE, NULL, 0, NULL, 0, EEXIST);
	/* OpenMetrics would print two "req" families. */
	expect_family_error(m, "counter base", "req", METRIC_GAUGE, NULL, 0, NULL, 0, EEXIST);
	expect_family_error(m, "histogram samples", "h_ok_bucket", METRIC_GAUGE, NULL, 0, NULL,
			    0, EEXIST);
	expect_family_error(m, "histogram clash", "req_total", METRIC_HISTOGRAM, NULL, 0, NULL,
			    0, EEXIST);

	/* Counters only go up; NaN is no count. */
	assert_int_equal(metrics__add(c, NULL, -1), -EINVAL);
	assert_int_equal(metrics__add(c, NULL, NAN), -EINVAL);
	assert_int_equal(metrics__set(c, NULL, -1), -EINVAL);
	assert_int_equal(metrics__set(c, NULL, NAN), -EINVAL);
	assert_int_equal(metrics__observe(c, NULL, 1), -EINVAL);
	assert_int_equal(metrics__hist_set(g, (const char *[]){ "x", "y" }, (uint64_t[]){ 1 }, 0),
			 -EINVAL);
	/* Label values must all be there. */
	assert_int_equal(metrics__set(g, NULL, 1), -EINVAL);
	assert_int_equal(metrics__set(g, (const char *[]){ "x", NULL }, 1), -EINVAL);
	/* None of the refused calls created a series; a gauge may go negative. */
	assert_int_equal(metrics__add(g, (const char *[]){ "x", "y" }, -1), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# TYPE ns:a_b9 gauge\n"
		      "ns:a_b9{_ok=\"x\",A1=\"y\"} -1\n"
		      "# TYPE req_total counter\n"
		      "# TYPE h_ok histogram\n");
	/* Refused calls are not cap refusals. */
	assert_int_equal(dropped_of(m, "ns:a_b9"), 0);
	assert_int_equal(dropped_of(m, "req_total"), 0);
	metrics__free(m);
	metrics__free(NULL);
	metrics__clear(NULL);
}

static void test_empty_and_order(void **state)
{
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	expect_render(m, METRICS_TEXT_004, "");
	expect_render(m, METRICS_OPENMETRICS, "# EOF\n");
	/* Creation order, whatever the names. */
	assert_non_null(metrics__family(m, "zz", "last name", METRIC_GAUGE, NULL, 0, NULL, 0));
	assert_non_null(metrics__family(m, "aa_total", NULL, METRIC_COUNTER, NULL, 0, NULL, 0));
	assert_non_null(
		metrics__family(m, "mm", "", METRIC_HISTOGRAM, NULL, 0, lat_buckets, 3));
	expect_render(m, METRICS_TEXT_004,
		      "# HELP zz last name\n"
		      "# TYPE zz gauge\n"
		      "# TYPE aa_total counter\n"
		      "# TYPE mm histogram\n");
	expect_render(m, METRICS_OPENMETRICS,
		      "# TYPE zz gauge\n"
		      "# HELP zz last name\n"
		      "# TYPE aa counter\n"
		      "# TYPE mm histogram\n"
		      "# EOF\n");
	metrics__free(m);
}

struct owner {
	int before;
	struct metric_family *c, *g, *h;
	int after;
};

static const double reg_buckets[] = { 0.1, 1 }, reg_down[] = { 1, 0.1 };

static const struct metric_def reg_good[] = {
	{ "reg_requests_total", "Requests", METRIC_COUNTER, { "service", "code" },
	  .offset = offsetof(struct owner, c) },
	{ "reg_up", "Up", METRIC_GAUGE, .offset = offsetof(struct owner, g) },
	{ "reg_seconds", "Seconds", METRIC_HISTOGRAM, { "service" }, .buckets = reg_buckets,
	  .n_buckets = 2, .offset = offsetof(struct owner, h) },
};

static void expect_register_error(struct metrics *m, const char *what,
				  const struct metric_def *defs, size_t n, int want)
{
	struct owner o = { .before = 1, .after = 2 };
	int err = metrics__register(m, &o, defs, n);

	if (err != want)
		fail_msg("%s: metrics__register returned %d, want %d", what, err, want);
	if (o.c || o.g || o.h || o.before != 1 || o.after != 2)
		fail_msg("%s: the owner was written although the table was refused", what);
}

static void test_register(void **state)
{
	/* A counter without _total among good entries: nothing of the table is created. */
	static const struct metric_def bad_name[] = {
		{ "a_total", "", METRIC_COUNTER, .offset = offsetof(struct owner, c) },
		{ "b", "", METRIC_COUNTER, .offset = offsetof(struct owner, g) },
		{ "c", "", METRIC_GAUGE, .offset = offsetof(struct owner, h) },
	};
	static const struct metric_def bad_buckets[] = {
		{ "g_ok", "", METRIC_GAUGE, .offset = offsetof(struct owner, g) },
		{ "hb", "", METRIC_HISTOGRAM, .buckets = reg_down, .n_buckets = 2,
		  .offset = offsetof(struct owner, h) },
	};
	/* Each valid alone; together OpenMetrics would print two "x" families. */
	static const struct metric_def clash_inside[] = {
		{ "x_total", "", METRIC_COUNTER, .offset = offsetof(struct owner, c) },
		{ "x", "", METRIC_GAUGE, .offset = offsetof(struct owner, g) },
	};
	/* A new name, then one the registry already has. */
	static const struct metric_def clash_registry[] = {
		{ "fresh", "", METRIC_GAUGE, .offset = offsetof(struct owner, c) },
		{ "reg_up", "", METRIC_GAUGE, .offset = offsetof(struct owner, g) },
	};
	struct owner o = { .before = 1, .after = 2 };
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	expect_register_error(m, "bad name", bad_name, ARRAY_LEN(bad_name), -EINVAL);
	expect_register_error(m, "bad buckets", bad_buckets, ARRAY_LEN(bad_buckets), -EINVAL);
	expect_register_error(m, "clash inside", clash_inside, ARRAY_LEN(clash_inside), -EEXIST);
	expect_render(m, METRICS_TEXT_004, "");
	assert_int_equal(list_families(m).n, 0);

	assert_int_equal(metrics__register(m, &o, reg_good, ARRAY_LEN(reg_good)), 0);
	assert_non_null(o.c);
	assert_non_null(o.g);
	assert_non_null(o.h);
	assert_int_equal(o.before, 1);
	assert_int_equal(o.after, 2);
	assert_int_equal(metrics__add(o.c, METRICS_LABELS("web", "200"), 3), 0);
	assert_int_equal(metrics__set(o.g, NULL, 1), 0);
	assert_int_equal(metrics__observe(o.h, METRICS_LABELS("web"), 0.5), 0);
	expect_render(m, METRICS_TEXT_004,
		      "# HELP reg_requests_total Requests\n"
		      "# TYPE reg_requests_total counter\n"
		      "reg_requests_total{service=\"web\",code=\"200\"} 3\n"
		      "# HELP reg_up Up\n"
		      "# TYPE reg_up gauge\n"
		      "reg_up 1\n"
		      "# HELP reg_seconds Seconds\n"
		      "# TYPE reg_seconds histogram\n"
		      "reg_seconds_bucket{service=\"web\",le=\"0.1\"} 0\n"
		      "reg_seconds_bucket{service=\"web\",le=\"1\"} 1\n"
		      "reg_seconds_bucket{service=\"web\",le=\"+Inf\"} 1\n"
		      "reg_seconds_sum{service=\"web\"} 0.5\n"
		      "reg_seconds_count{service=\"web\"} 1\n");

	/* A second registration of the same table, and a table with one taken name. */
	expect_register_error(m, "same table twice", reg_good, ARRAY_LEN(reg_good), -EEXIST);
	expect_register_error(m, "clash with the registry", clash_registry,
			      ARRAY_LEN(clash_registry), -EEXIST);
	assert_int_equal(list_families(m).n, 3);
	assert_non_null(metrics__family(m, "fresh", "", METRIC_GAUGE, NULL, 0, NULL, 0));

	assert_int_equal(metrics__register(NULL, &o, reg_good, 1), -EINVAL);
	assert_int_equal(metrics__register(m, NULL, reg_good, 1), -EINVAL);
	assert_int_equal(metrics__register(m, &o, NULL, 1), -EINVAL);
	assert_int_equal(metrics__register(m, &o, NULL, 0), 0);
	assert_int_equal(list_families(m).n, 4);
	metrics__free(m);
}

static void set_from_listing(void *ctx, const struct metric_info *fi)
{
	/* The registry lock is not held here: updating a family must not deadlock. */
	assert_int_equal(metrics__set(ctx, METRICS_LABELS(fi->name), (double)fi->n_labels), 0);
}

static void test_each_family(void **state)
{
	struct owner o = { 0 };
	struct metric_family *labels;
	struct listing l = { .n = 0 };
	struct metrics *m;

	(void)state;
	m = metrics__new(0);
	metrics__each_family(m, list_one, &l);
	assert_int_equal(l.n, 0);
	assert_non_null(metrics__family(m, "zz_first", "Help \"as given\"\nsecond line",
					METRIC_GAUGE, METRICS_LABELS("a", "b", "c"), 3, NULL, 0));
	assert_int_equal(metrics__register(m, &o, reg_good, ARRAY_LEN(reg_good)), 0);
	labels = metrics__family(m, "aa_last", NULL, METRIC_GAUGE, METRICS_LABELS("family"), 1,
				 NULL, 0);
	assert_non_null(labels);

	/* Registration order, whatever the names; help unescaped, as given. */
	l = list_families(m);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.fi[0].name, "zz_first");
	assert_string_equal(l.fi[0].help, "Help \"as given\"\nsecond line");
	assert_int_equal(l.fi[0].type, METRIC_GAUGE);
	assert_int_equal(l.fi[0].n_labels, 3);
	assert_string_equal(l.fi[0].label_names[0], "a");
	assert_string_equal(l.fi[0].label_names[2], "c");
	assert_string_equal(l.fi[1].name, "reg_requests_total");
	assert_int_equal(l.fi[1].type, METRIC_COUNTER);
	assert_int_equal(l.fi[1].n_labels, 2);
	assert_string_equal(l.fi[1].label_names[1], "code");
	assert_string_equal(l.fi[2].name, "reg_up");
	assert_int_equal(l.fi[2].n_labels, 0);
	assert_string_equal(l.fi[3].name, "reg_seconds");
	assert_int_equal(l.fi[3].type, METRIC_HISTOGRAM);
	assert_string_equal(l.fi[4].name, "aa_last");
	assert_string_equal(l.fi[4].help, "");
	for (size_t i = 0; i < l.n; i++)
		assert_int_equal(l.fi[i].series_dropped, 0);

	metrics__each_family(m, set_from_listing, labels);
	expect_render(m, METRICS_TEXT_004,
		      "# HELP zz_first Help \"as given\"\\nsecond line\n"
		      "# TYPE zz_first gauge\n"
		      "# HELP reg_requests_total Requests\n"
		      "# TYPE reg_requests_total counter\n"
		      "# HELP reg_up Up\n"
		      "# TYPE reg_up gauge\n"
		      "# HELP reg_seconds Seconds\n"
		      "# TYPE reg_seconds histogram\n"
		      "# TYPE aa_last gauge\n"
		      "aa_last{family=\"zz_first\"} 3\n"
		      "aa_last{family=\"reg_requests_total\"} 2\n"
		      "aa_last{family=\"reg_up\"} 0\n"
		      "aa_last{family=\"reg_seconds\"} 1\n"
		      "aa_last{family=\"aa_last\"} 1\n");
	metrics__each_family(NULL, list_one, &l);
	metrics__each_family(m, NULL, NULL);
	metrics__free(m);
}

struct adder {
	struct metric_family *f;
	int id;
};

static void *adder_run(void *arg)
{
	struct adder *a = arg;
	char v[8];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(v, sizeof(v), "%d", i % 7);
		if (metrics__add(a->f, (const char *[]){ v }, 1))
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct adder a[4];
	pthread_t t[4];
	struct metrics *m;
	struct strbuf sb;
	char *p;
	double total = 0;
	int i;

	(void)state;
	m = metrics__new(0);
	a[0].f = metrics__family(m, "n_total", "", METRIC_COUNTER, (const char *[]){ "k" }, 1,
				 NULL, 0);
	assert_non_null(a[0].f);
	for (i = 0; i < 4; i++) {
		a[i].f = a[0].f;
		a[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, adder_run, &a[i]), 0);
	}
	strbuf__init(&sb);
	for (i = 0; i < 20; i++) { /* renders race the writers */
		strbuf__reset(&sb);
		assert_int_equal(metrics__render(m, &sb, METRICS_OPENMETRICS), 0);
	}
	for (i = 0; i < 4; i++) {
		void *ret;

		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	strbuf__reset(&sb);
	assert_int_equal(metrics__render(m, &sb, METRICS_TEXT_004), 0);
	for (p = strstr(sb.buf, "\"} "); p; p = strstr(p + 1, "\"} "))
		total += strtod(p + 3, NULL);
	assert_int_equal((int)total, 4 * 20000);
	strbuf__free(&sb);
	metrics__free(m);
}

/* A registry with every kind of family, labels that need escaping, and a bad byte. */
static struct metrics *sample_registry(void)
{
	static const double b[] = { .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5 };
	const char *room[] = { "room_id" }, *two[] = { "room_id", "message_type" };
	struct metric_family *c, *g, *h, *e;
	struct metrics *m;

	m = metrics__new(0);
	c = metrics__family(m, "fogcompute_bitchat_messages_total", "Messages \"relayed\" \\ ok",
			    METRIC_COUNTER, two, 2, NULL, 0);
	g = metrics__family(m, "fogcompute_betanet_connected_peers", "Connected peers",
			    METRIC_GAUGE, NULL, 0, NULL, 0);
	h = metrics__family(m, "fogcompute_bitchat_message_latency_seconds", "Latency\nper room",
			    METRIC_HISTOGRAM, room, 1, b, 11);
	e = metrics__family(m, "fogcompute_bitchat_active_rooms", "Rooms", METRIC_GAUGE, NULL, 0,
			    NULL, 0);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	assert_non_null(e);
	metrics__add(c, (const char *[]){ "lobby", "text" }, 3);
	metrics__add(c, (const char *[]){ "q\"uo\\te\nd", "file" }, 1e17);
	metrics__set(g, NULL, 12);
	metrics__observe(h, (const char *[]){ "lobby" }, 0.0042);
	metrics__observe(h, (const char *[]){ "lobby" }, 0.3);
	metrics__observe(h, (const char *[]){ "x\xfe" }, 99);
	h = metrics__family(m, "fogprobe_clock_skew_seconds", "Skew", METRIC_HISTOGRAM, NULL, 0,
			    (double[]){ -0.1, 0, 0.1 }, 3);
	assert_non_null(h);
	metrics__observe(h, NULL, -0.5);
	return m;
}

static int pipe_to(const char *cmd, const char *text)
{
	FILE *p = popen(cmd, "w");
	int st;

	assert_non_null(p);
	fputs(text, p);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_promtool(void **state)
{
	struct metrics *m;
	char *text;

	(void)state;
	if (access(PROMTOOL, X_OK))
		skip();
	m = sample_registry();
	text = render(m, METRICS_TEXT_004);
	/* promtool parses with Prometheus' own text parser, then lints names and help. */
	if (pipe_to(PROMTOOL " check metrics", text))
		fail_msg("promtool check metrics rejected:\n%s", text);
	free(text);
	metrics__free(m);
}

static void test_openmetrics_parser(void **state)
{
	static const char *cmd =
		PYTHON " -c 'import sys; from prometheus_client.openmetrics.parser import "
		"text_string_to_metric_families as p; list(p(sys.stdin.read()))'";
	struct metrics *m;
	char *text;

	(void)state;
	if (access(PYTHON, X_OK) ||
	    system(PYTHON " -c 'import prometheus_client.openmetrics.parser' 2>/dev/null"))
		skip();
	m = sample_registry();
	text = render(m, METRICS_OPENMETRICS);
	if (pipe_to(cmd, text))
		fail_msg("the OpenMetrics parser of prometheus_client rejected:\n%s", text);
	free(text);
	metrics__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf),
		cmocka_unit_test(test_counter_gauge_text),
		cmocka_unit_test(test_series_in_a_row),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_hist_set),
		cmocka_unit_test(test_le_canonical),
		cmocka_unit_test(test_float_format),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_empty_and_order),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_each_family),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_promtool),
		cmocka_unit_test(test_openmetrics_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
