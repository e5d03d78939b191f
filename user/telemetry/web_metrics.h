/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP, Next.js and BitChat metric families of DESIGN.md, fed by the web sessions
 * (model/web.c). Cardinality: `path` is a route template, capped per service (max_paths;
 * the rest is "other", counted); room ids and message types are capped the same way.
 */
#ifndef FOGPROBE_TELEMETRY_WEB_METRICS_H
#define FOGPROBE_TELEMETRY_WEB_METRICS_H

#include <stdint.h>
#include "lib/config.h"
#include "model/web.h"
#include "telemetry/metrics.h"

#define WEB_METRICS_MAX_TYPES 32 /* distinct message_type values; more are "other" */

struct web_metrics;

struct web_metrics *web_metrics__new(struct metrics *reg, const struct config *cfg);
void web_metrics__free(struct web_metrics *wm); /* accepts NULL */

/* The sink to hand to streams__new(). */
struct web_sink web_metrics__sink(struct web_metrics *wm);

/* Gauges from the sessions' current state (w may be NULL: capture off). */
void web_metrics__update(struct web_metrics *wm, const struct web *w);

/* The label a request path gets: its route template, or "other" past the service's cap. */
const char *web_metrics__path_label(struct web_metrics *wm, int svc, const char *path,
				    char *buf, size_t len);

#endif
