/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Metric registry with bounded cardinality, rendered as Prometheus text 0.0.4 or
 * OpenMetrics 1.0. Families are created once at start-up; series appear on first use.
 * All calls are thread-safe (one registry mutex).
 */
#ifndef FOGPROBE_TELEMETRY_METRICS_H
#define FOGPROBE_TELEMETRY_METRICS_H

#include <stdbool.h>
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

/* Label values for the update calls: metrics__set(f, METRICS_LABELS(svc, "tx"), v). */
#define METRICS_LABELS(...) ((const char *const[]){ __VA_ARGS__ })

#ifndef ARRAY_LEN
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#endif

/*
 * One family as data. labels: the names in order, the first NULL ends the list.
 * buckets: histograms only; may point at a static array the caller fills before
 * metrics__register() (bounds computed at start). offset: where the family pointer goes
 * in the owner, offsetof(struct owner, field).
 */
struct metric_def {
	const char *name;
	const char *help;
	enum metric_type type;
	const char *labels[METRICS_MAX_LABELS];
	const double *buckets;
	size_t n_buckets;
	size_t offset;
};

/* What metrics__each_family() reports of a family. */
struct metric_info {
	const char *name;
	const char *help;
	enum metric_type type;
	const char *const *label_names;
	size_t n_labels;
	uint64_t series_dropped; /* new series refused at the cap, since start */
};

struct metrics *metrics__new(size_t max_series_per_family);
void metrics__free(struct metrics *m); /* accepts NULL */

/*
 * name: counters include the _total suffix (the OpenMetrics renderer strips it on the
 * family lines). buckets: upper bounds, strictly increasing, histograms only (+Inf
 * implicit). Returns NULL with errno set: EINVAL (invalid name, labels or buckets),
 * EEXIST (sample names would collide with another family's), ENOMEM.
 */
struct metric_family *metrics__family(struct metrics *m, const char *name, const char *help,
				      enum metric_type type, const char *const *label_names,
				      size_t n_labels, const double *buckets, size_t n_buckets);

/*
 * Create the n families of defs, in order, and store each one's pointer at
 * (char *)owner + defs[i].offset. All or nothing: on error no family is created and the
 * owner is left untouched. 0, -EINVAL, -EEXIST or -ENOMEM.
 */
int metrics__register(struct metrics *m, void *owner, const struct metric_def *defs, size_t n);

/* label_values has n_labels entries (any bytes; escaped at render). Return 0 or -errno;
 * -ENOSPC when the family is at its series cap (counted per family, see metric_info). */
int metrics__set(struct metric_family *f, const char *const *label_values, double v);
int metrics__add(struct metric_family *f, const char *const *label_values, double delta);
int metrics__observe(struct metric_family *f, const char *const *label_values, double v);
/* An OpenMetrics exemplar: the span whose exchange a histogram observation measured. */
struct metrics_exemplar {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	double value; /* set by metrics__observe_exemplar */
	double ts; /* Unix seconds */
};

/*
 * metrics__observe, remembering ex as its bucket's candidate exemplar (ex NULL: none). A
 * candidate is rendered (OpenMetrics only) once metrics__exemplars_confirm names its span:
 * only spans that reached the collector are pointed at.
 */
int metrics__observe_exemplar(struct metric_family *f, const char *const *label_values, double v,
			      const struct metrics_exemplar *ex);
/*
 * An exemplar for a histogram whose counts come from elsewhere (metrics__hist_set): ex
 * with value v on the bucket v falls in, nothing counted. published: its span was
 * exported already (rendered at once), else a candidate as above.
 */
int metrics__hist_exemplar(struct metric_family *f, const char *const *label_values, double v,
			   const struct metrics_exemplar *ex, bool published);
/* These spans were exported (their ids as ids__of() gives them, sorted by ids__sort):
 * their candidate exemplars become the published ones. */
void metrics__exemplars_confirm(struct metrics *m, const uint64_t *sorted_ids, size_t n);
/* Replace a histogram series: counts[n_buckets + 1] non-cumulative (last = +Inf). */
int metrics__hist_set(struct metric_family *f, const char *const *label_values,
		      const uint64_t *counts, double sum);
/* Drop every series of a family (gauges recomputed from a fresh snapshot). */
void metrics__clear(struct metric_family *f);

int metrics__render(struct metrics *m, struct strbuf *out, enum metrics_format fmt);

/*
 * fn once per family, in registration order. The registry lock is not held while fn
 * runs, so fn may update families (the registry's own included); the strings in fi live
 * as long as the registry.
 */
void metrics__each_family(struct metrics *m, void (*fn)(void *ctx, const struct metric_info *fi),
			  void *ctx);

/* One series as metrics__read() reports it; valid only during the callback. */
struct metric_sample {
	const char *const *label_values; /* fi->n_labels entries */
	double value; /* counter, gauge */
	const uint64_t *counts; /* histogram: n_buckets + 1, non-cumulative, last = +Inf */
	double sum; /* histogram */
	const double *buckets; /* histogram upper bounds */
	size_t n_buckets;
};

/*
 * fn once per series of the family called name (a counter with its _total), under the
 * registry lock: fn must not call into the registry. 0, or -ENOENT without such family.
 */
int metrics__read(struct metrics *m, const char *name,
		  void (*fn)(void *ctx, const struct metric_info *fi, const struct metric_sample *s),
		  void *ctx);

#endif
