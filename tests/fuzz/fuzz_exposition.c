// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the exposition renderer with arbitrary label values and help text
 * (label values come from the watched traffic in later protocols). Every rendered line
 * must be a comment or start with the metric name, i.e. escaping never lets a value
 * break a line, and nothing leaks across iterations.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/metrics.h"

static void check_lines(const struct strbuf *sb)
{
	const char *p = sb->buf, *end = sb->buf + sb->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);

		if (!nl)
			abort(); /* every line ends with \n */
		if (*p != '#' && strncmp(p, "fz_", 3))
			abort();
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double buckets[] = { 0.1, 1, 10 };
	const char *names[] = { "a", "b" };
	struct metric_family *c, *h;
	struct metrics *m = metrics__new(16);
	char *v1, *v2;
	struct strbuf sb;
	size_t cut = size / 2;

	if (!m)
		return 0;
	v1 = strndup((const char *)data, cut);
	v2 = strndup((const char *)data + cut, size - cut);
	c = metrics__family(m, "fz_total", v1 ? v1 : "", METRIC_COUNTER, names, 2, NULL, 0);
	h = metrics__family(m, "fz_seconds", "h", METRIC_HISTOGRAM, names, 2, buckets, 3);
	if (c && h && v1 && v2) {
		metrics__add(c, (const char *[]){ v1, v2 }, (double)size);
		metrics__observe(h, (const char *[]){ v2, v1 }, size / 7.0);
		strbuf__init(&sb);
		metrics__render(m, &sb, METRICS_TEXT_004);
		check_lines(&sb);
		strbuf__reset(&sb);
		metrics__render(m, &sb, METRICS_OPENMETRICS);
		check_lines(&sb);
		strbuf__free(&sb);
	}
	free(v1);
	free(v2);
	metrics__free(m);
	return 0;
}
