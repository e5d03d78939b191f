/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Betanet metric families of DESIGN.md: from the L7 sessions (model/streams.c) when the
 * capture runs, and from the TCP counters for what TCP alone can tell.
 */
#ifndef FOGPROBE_TELEMETRY_BETANET_METRICS_H
#define FOGPROBE_TELEMETRY_BETANET_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/config.h"
#include "model/streams.h"
#include "model/tcp_stats.h"
#include "telemetry/metrics.h"
#include "telemetry/spans.h"

struct betanet_metrics;

/* NULL on error (errno set). */
struct betanet_metrics *betanet_metrics__new(struct metrics *reg, const struct config *cfg);
void betanet_metrics__free(struct betanet_metrics *bm); /* accepts NULL */

/* The sink to hand to streams__new(). */
struct betanet_sink betanet_metrics__sink(struct betanet_metrics *bm);
/* Exemplars on the latency histograms: the spans of the same measures (spans.h). */
void betanet_metrics__set_spans(struct betanet_metrics *bm, struct spans *sp);

/*
 * Refresh the gauges, the failure totals and the byte and drop counters that TCP serves.
 * l7 is false when the capture is not running: connected peers then come from TCP
 * (established, counted once) instead of from completed handshakes.
 */
void betanet_metrics__update(struct betanet_metrics *bm, const struct tcp_snapshot *s, bool l7,
			     size_t handshaken);

/* Streams that lost their framing (the sessions report them with no reason). */
uint64_t betanet_metrics__desyncs(const struct betanet_metrics *bm);

#endif
