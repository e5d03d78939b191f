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

#endif
