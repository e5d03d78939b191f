/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Metric registry with bounded cardinality, rendered as Prometheus text 0.0.4 or
 * OpenMetrics 1.0. Families are created once at start-up; series appear on first use.
 * All calls are thread-safe (one registry mutex).
 */
#ifndef FOGPROBE_TELEMETRY_METRICS_H
#define FOGPROBE_TELEMETRY_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "lib/strbuf.h"

#define METRICS_MAX_LABELS 8
#define METRICS_MAX_BUCKETS 32
#define METRICS_DEFAULT_MAX_SERIES 10000 /* per family */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };
enum metrics_format { METRICS_TEXT_004, METRICS_OPENMETRICS };

struct metrics;
struct metric_family;

struct metrics *metrics__new(size_t max_series_per_family);
void metrics__free(struct metrics *m); /* accepts NULL */

/*
 * name: counters include the _total suffix (the OpenMetrics renderer strips it on the
 * family lines). buckets: upper bounds, strictly increasing, histograms only (+Inf
 * implicit). Returns NULL on invalid name/labels/buckets or ENOMEM.
 */
struct metric_family *metrics__family(struct metrics *m, const char *name, const char *help,
				      enum metric_type type, const char *const *label_names,
				      size_t n_labels, const double *buckets, size_t n_buckets);

/* label_values has n_labels entries (any bytes; escaped at render). Return 0 or -errno;
 * -ENOSPC when the family is at its series cap (counted, see metrics__series_dropped). */
int metrics__set(struct metric_family *f, const char *const *label_values, double v);
int metrics__add(struct metric_family *f, const char *const *label_values, double delta);
int metrics__observe(struct metric_family *f, const char *const *label_values, double v);
/* Replace a histogram series: counts[n_buckets + 1] non-cumulative (last = +Inf). */
int metrics__hist_set(struct metric_family *f, const char *const *label_values,
		      const uint64_t *counts, double sum);
/* Drop every series of a family (gauges recomputed from a fresh snapshot). */
void metrics__clear(struct metric_family *f);

int metrics__render(struct metrics *m, struct strbuf *out, enum metrics_format fmt);
uint64_t metrics__series_dropped(struct metrics *m);

#endif
