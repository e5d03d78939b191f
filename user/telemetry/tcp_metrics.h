/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The generic TCP families (fogprobe_tcp_*, packet drops, fogprobe_flows_tracked),
 * updated from a tcp_snapshot. They count every socket, with a role label; the Betanet
 * families that TCP serves live in betanet_metrics.
 */
#ifndef FOGPROBE_TELEMETRY_TCP_METRICS_H
#define FOGPROBE_TELEMETRY_TCP_METRICS_H

#include "lib/config.h"
#include "model/tcp_stats.h"
#include "telemetry/events.h"
#include "telemetry/metrics.h"
#include "telemetry/spans.h"

struct tcp_metrics;

/* NULL on error (errno set). */
struct tcp_metrics *tcp_metrics__new(struct metrics *reg, const struct config *cfg);
void tcp_metrics__free(struct tcp_metrics *tm); /* accepts NULL */

void tcp_metrics__update(struct tcp_metrics *tm, const struct tcp_snapshot *s);

#define TCP_DROP_BURST 100 /* a service's drops within one period that make an event */
/* drop_burst events ({"drops", "top_reason"}) go to log: see tcp_metrics__drop_bursts. */
void tcp_metrics__set_events(struct tcp_metrics *tm, struct event_log *log);
/* Called on a fixed period (each second, whether or not anything scrapes): one
 * drop_burst event for each service whose kernel drops grew by TCP_DROP_BURST or more
 * since the last call. The first call only takes the counts as they are. */
void tcp_metrics__drop_bursts(struct tcp_metrics *tm, const struct tcp_snapshot *s);

/* The connections' exemplars from the spans (spans__conn_close): the span kept on a
 * connection on fogprobe_tcp_rtt_seconds (its smoothed RTT at the close) and, for an
 * active open, on fogprobe_tcp_connect_duration_seconds (its connect time). */
struct spans_tcp_sink tcp_metrics__exemplar_sink(struct tcp_metrics *tm);

#endif
