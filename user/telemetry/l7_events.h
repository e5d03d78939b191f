/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Events of the L7 sessions for the event log (events.h), with the ids of the span that
 * tells the same story: it sits between the model's trace sinks and the spans (both
 * optional), so that an abnormal WebSocket close or a failed Betanet circuit is one event
 * line and one span, linked by trace_id and span_id.
 *   websocket_abnormal_close  {"reason", "close_code"}  BitChat sockets that ended badly
 *   betanet_failure           {"reason"}                 circuits whose handshake failed
 */
#ifndef FOGPROBE_TELEMETRY_L7_EVENTS_H
#define FOGPROBE_TELEMETRY_L7_EVENTS_H

#include "lib/config.h"
#include "model/streams.h"
#include "model/web.h"
#include "telemetry/events.h"
#include "telemetry/spans.h"

struct l7_events;

/* log and sp may be NULL (no events, no spans). */
struct l7_events *l7_events__new(const struct config *cfg, struct event_log *log,
				 struct spans *sp);
void l7_events__free(struct l7_events *e); /* accepts NULL */

struct web_trace_sink l7_events__web_sink(struct l7_events *e);
struct betanet_trace_sink l7_events__betanet_sink(struct l7_events *e);

#endif
