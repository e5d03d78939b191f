/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The alert rule engine: evaluates rules (lib/alert_rule.h) over the registry's own series
 * on a fixed interval, with Prometheus's semantics for rate, increase and
 * histogram_quantile, and moves each alert inactive -> pending -> firing -> resolved as
 * Prometheus's rule manager does. It keeps a bounded history of the series its rules
 * read. Alerts to send go to a sink (the Alertmanager client, export/) as Alertmanager v2
 * JSON objects. Thread-safe: one engine mutex.
 */
#ifndef FOGPROBE_TELEMETRY_ALERTS_H
#define FOGPROBE_TELEMETRY_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/alert_rule.h"
#include "lib/config.h"
#include "lib/strbuf.h"
#include "telemetry/events.h"
#include "telemetry/metrics.h"

#define ALERTS_MAX_SERIES 8192 /* history kept for this many series at most */
#define ALERTS_MAX_SAMPLES 1024 /* per series: the longest window at the interval, capped */
#define ALERTS_MAX_ACTIVE 1024 /* pending, firing and recently resolved alerts */
#define ALERTS_RESOLVED_KEEP_S 900.0 /* resolved alerts resent this long, as Prometheus */

extern const char alert_rules__default_json[];

/* One alert to send: an Alertmanager v2 object (labels, annotations, startsAt, endsAt,
 * generatorURL), as JSON text that the sink copies; key identifies the alert (its label
 * set), firing is false for a resolved one. */
struct alert_sink {
	void (*send)(void *ctx, const char *key, const char *alert_json, bool firing);
	void *ctx;
};

struct alert_engine_opts {
	const struct alerts_config *cfg; /* rules merged over the defaults */
	struct metrics *reg; /* read at each evaluation; the engine's families go here too */
	struct event_log *events; /* state changes; may be NULL */
	const char *instance; /* the instance label */
	const char *generator_url; /* may be NULL */
	struct alert_sink sink; /* send may be NULL */
};

struct alert_engine;

/* The defaults, minus disabled ones, with the config's overrides and additions; NULL with
 * err on a conflict (a default rule and an override that no longer fit, ENOMEM). */
struct alert_engine *alerts__new(const struct alert_engine_opts *o, char *err, size_t errlen);
void alerts__free(struct alert_engine *e); /* accepts NULL */

/* Evaluate every rule at now (Unix seconds: tests pass a fake clock). */
void alerts__eval(struct alert_engine *e, double now);

/* GET /api/v1/alerts: Prometheus's {"status":"success","data":{"alerts":[...]}}. */
int alerts__render(struct alert_engine *e, struct strbuf *out);

/* The rules in effect as a JSON array in the config's syntax (`fogprobe rules`). */
int alerts__rules_json(struct alert_engine *e, struct strbuf *out);

/* Expand a Prometheus annotation template: {{ $labels.x }}, {{ $value }}, with the pipes
 * printf "%.Nf|g|e", humanize and humanizePercentage. Exposed for tests. */
void alerts__expand(const char *tmpl, const char *const *names, const char *const *values,
		    size_t n, double value, char *out, size_t size);

#endif
