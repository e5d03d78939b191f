// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the exposition renderer with arbitrary label values and help text
 * (label values come from the watched traffic in later protocols). Every rendered line
 * must be a comment or start with the metric name, i.e. escaping never lets a value
 * break a line, and nothing leaks across iterations. The families come from a table
 * with an arbitrary label name: it registers whole or not at all, and the refusals at
 * the series cap are counted in the family that refused them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/metrics.h"

#define CAP 16

struct fams {
	struct metric_family *c, *h, *g;
};

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

static void sum_dropped(void *ctx, const struct metric_info *fi)
{
	*(uint64_t *)ctx += fi->series_dropped;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double buckets[] = { 0.1, 1, 10 };
	struct metrics *m = metrics__new(CAP);
	struct fams f = { 0 };
	uint64_t refused = 0, counted = 0;
	char *v1, *v2;
	struct strbuf sb;
	size_t cut = size / 2, i;
	int err;

	if (!m)
		return 0;
	v1 = strndup((const char *)data, cut);
	v2 = strndup((const char *)data + cut, size - cut);
	if (v1 && v2) {
		const struct metric_def defs[] = {
			{ "fz_total", v1, METRIC_COUNTER, { "a", "b" },
			  .offset = offsetof(struct fams, c) },
			{ "fz_seconds", "h", METRIC_HISTOGRAM, { "a", "b" }, .buckets = buckets,
			  .n_buckets = ARRAY_LEN(buckets), .offset = offsetof(struct fams, h) },
			{ "fz_gauge", "", METRIC_GAUGE, { v2 }, .offset = offsetof(struct fams, g) },
		};

		err = metrics__register(m, &f, defs, ARRAY_LEN(defs));
		if (err && (f.c || f.h || f.g))
			abort(); /* a refused table wrote its owner */
		if (err)
			err = metrics__register(m, &f, defs, 2);
		if (err)
			abort(); /* the first two are valid whatever the input */
	}
	if (f.c && f.h) {
		metrics__add(f.c, (const char *[]){ v1, v2 }, (double)size);
		metrics__observe(f.h, (const char *[]){ v2, v1 }, size / 7.0);
		/* Past the cap: as many series as the input has bytes, up to twice the cap. */
		for (i = 0; i < size && i < 2 * CAP; i++) {
			char v[2] = { (char)('a' + i % 26), '\0' };
			struct metric_family *fam = f.g ? f.g : f.c;
			const char *lv[] = { v, v2 };

			refused += metrics__set(fam, lv, (double)i) == -ENOSPC;
		}
		metrics__each_family(m, sum_dropped, &counted);
		if (counted != refused)
			abort();
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
