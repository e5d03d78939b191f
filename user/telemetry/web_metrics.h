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
#include "telemetry/spans.h"

struct web_metrics;

/* NULL on error (errno set). */
struct web_metrics *web_metrics__new(struct metrics *reg, const struct config *cfg);
void web_metrics__free(struct web_metrics *wm); /* accepts NULL */
/* A service added by a reload (its config is in place): its path labels. 0 or -errno. */
int web_metrics__add_service(struct web_metrics *wm, int svc);
/* A reload put new routes in place: the labels of the paths seen are taken again. */
void web_metrics__routes_changed(struct web_metrics *wm);

/* The sink to hand to streams__new(). */
struct web_sink web_metrics__sink(struct web_metrics *wm);
/* Exemplars on the latency histograms: the spans kept for the exchanges (see spans.h). */
void web_metrics__set_spans(struct web_metrics *wm, struct spans *sp);

/* Gauges from the sessions' current state (w may be NULL: capture off). */
void web_metrics__update(struct web_metrics *wm, const struct web *w);

#endif
