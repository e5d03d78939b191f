// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "telemetry/betanet_metrics.h"

struct betanet_metrics {
	const struct config *cfg;
	struct metric_family *messages, *frames, *msg_lat, *route_lat, *circuit, *route_fail,
		*failures, *total_failures, *peers, *tx, *rx, *dropped, *active;
	uint64_t l7_failures; /* failures reported by the sessions (all reasons) */
	uint64_t desyncs;
	struct spans *spans; /* exemplars: NULL when spans are off */
};

static const double msg_buckets[] = { .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5 };
static const double route_buckets[] = { .001, .005, .01, .025, .05, .1, .25, .5, 1 };
static const double circuit_buckets[] = { .01, .05, .1, .25, .5, 1, 2, 5 };

/* Reasons from TCP (kernel counters) and from the sessions (parser), all pre-created so
 * that dashboards see zeros. */
static const char *const tcp_reasons[] = { "refused", "timeout", "unreachable", "reset" };
static const char *const l7_reasons[] = { "idle_timeout",   "aborted_handshake",
					  "bad_handshake",  "advert_too_big",
					  "version_mismatch", "bad_frame" };

#define AT(f) offsetof(struct betanet_metrics, f)

static const struct metric_def betanet_defs[] = {
	{ "fogcompute_betanet_messages_total",
	  "Betanet messages (data and control requests, responses; cover traffic excluded), each connection counted once.",
	  METRIC_COUNTER, .offset = AT(messages) },
	{ "fogprobe_betanet_frames_total",
	  "Betanet frames by type (data, control, cover, response) and direction.",
	  METRIC_COUNTER, { "type", "direction" }, .offset = AT(frames) },
	{ "fogcompute_betanet_message_latency_seconds",
	  "Request frame (data or control) to the next response frame on the connection.",
	  METRIC_HISTOGRAM, .buckets = msg_buckets, .n_buckets = ARRAY_LEN(msg_buckets),
	  .offset = AT(msg_lat) },
	{ "fogcompute_betanet_routing_latency_seconds",
	  "Data request to its response, for requests answered within the routing timeout.",
	  METRIC_HISTOGRAM, .buckets = route_buckets, .n_buckets = ARRAY_LEN(route_buckets),
	  .offset = AT(route_lat) },
	{ "fogcompute_betanet_circuit_build_seconds",
	  "Connect start (client end) or accept (server end) to the end of the Betanet handshake.",
	  METRIC_HISTOGRAM, .buckets = circuit_buckets, .n_buckets = ARRAY_LEN(circuit_buckets),
	  .offset = AT(circuit) },
	{ "fogcompute_betanet_routing_failures_total",
	  "Requests (data or control) that got no response within the routing timeout.",
	  METRIC_COUNTER, .offset = AT(route_fail) },
	{ "fogprobe_betanet_failures_total", "Mixnode failures by reason.", METRIC_COUNTER,
	  { "reason" }, .offset = AT(failures) },
	{ "fogcompute_betanet_mixnode_failures_total",
	  "Mixnode failures, all reasons of fogprobe_betanet_failures_total.", METRIC_COUNTER,
	  .offset = AT(total_failures) },
	{ "fogcompute_betanet_connected_peers",
	  "Betanet connections past the handshake (established ones when the L7 capture is off), each counted once.",
	  METRIC_GAUGE, .offset = AT(peers) },
	{ "fogcompute_betanet_bytes_transmitted_total",
	  "TCP payload bytes sent on Betanet connections (server view when local).",
	  METRIC_COUNTER, .offset = AT(tx) },
	{ "fogcompute_betanet_bytes_received_total",
	  "TCP payload bytes received on Betanet connections (server view when local).",
	  METRIC_COUNTER, .offset = AT(rx) },
	{ "fogcompute_betanet_packets_dropped_total",
	  "Kernel drops of Betanet packets plus retransmitted Betanet segments.", METRIC_COUNTER,
	  .offset = AT(dropped) },
	{ "fogcompute_betanet_mixnode_active", "Listening Betanet mixnode sockets on this host.",
	  METRIC_GAUGE, .offset = AT(active) },
};

struct betanet_metrics *betanet_metrics__new(struct metrics *reg, const struct config *cfg)
{
	struct betanet_metrics *bm = calloc(1, sizeof(*bm));
	size_t i;
	int err;

	if (!bm)
		return NULL;
	bm->cfg = cfg;
	err = metrics__register(reg, bm, betanet_defs, ARRAY_LEN(betanet_defs));
	if (err) {
		free(bm);
		errno = -err;
		return NULL;
	}
	for (i = 0; i < ARRAY_LEN(l7_reasons); i++)
		metrics__add(bm->failures, METRICS_LABELS(l7_reasons[i]), 0);
	metrics__add(bm->messages, NULL, 0);
	metrics__add(bm->route_fail, NULL, 0);
	return bm;
}

void betanet_metrics__free(struct betanet_metrics *bm)
{
	free(bm);
}

static void on_frame(void *ctx, enum betanet_frame_type t, bool from_server, uint32_t wire_len)
{
	struct betanet_metrics *bm = ctx;
	const char *dir = from_server ? "server_to_client" : "client_to_server";

	(void)wire_len;
	metrics__add(bm->frames, METRICS_LABELS(betanet__frame_type_name(t), dir), 1);
	if (t != BETANET_COVER)
		metrics__add(bm->messages, NULL, 1);
}

/* the observation's exemplar: the span just built for the same measure, if kept */
static struct metrics_exemplar *exemplar(struct betanet_metrics *bm, double s,
					 struct metrics_exemplar *ex)
{
	return spans__exemplar_other(bm->spans, s, ex) ? ex : NULL;
}

static void on_message_latency(void *ctx, double s)
{
	struct betanet_metrics *bm = ctx;
	struct metrics_exemplar ex;

	metrics__observe_exemplar(bm->msg_lat, NULL, s, exemplar(bm, s, &ex));
}

static void on_routing_latency(void *ctx, double s)
{
	struct betanet_metrics *bm = ctx;
	struct metrics_exemplar ex;

	metrics__observe_exemplar(bm->route_lat, NULL, s, exemplar(bm, s, &ex));
}

static void on_routing_failure(void *ctx)
{
	metrics__add(((struct betanet_metrics *)ctx)->route_fail, NULL, 1);
}

static void on_circuit(void *ctx, double s)
{
	struct betanet_metrics *bm = ctx;
	struct metrics_exemplar ex;

	metrics__observe_exemplar(bm->circuit, NULL, s, exemplar(bm, s, &ex));
}

void betanet_metrics__set_spans(struct betanet_metrics *bm, struct spans *sp)
{
	if (bm)
		bm->spans = sp;
}

static void on_failure(void *ctx, const char *reason)
{
	struct betanet_metrics *bm = ctx;

	if (!reason) {
		bm->desyncs++;
		return;
	}
	bm->l7_failures++;
	metrics__add(bm->failures, METRICS_LABELS(reason), 1);
}

struct betanet_sink betanet_metrics__sink(struct betanet_metrics *bm)
{
	return (struct betanet_sink){
		.frame = on_frame,
		.message_latency = on_message_latency,
		.routing_latency = on_routing_latency,
		.routing_failure = on_routing_failure,
		.circuit_build = on_circuit,
		.failure = on_failure,
		.ctx = bm,
	};
}

void betanet_metrics__update(struct betanet_metrics *bm, const struct tcp_snapshot *s, bool l7,
			     size_t handshaken)
{
	uint64_t tcp[ARRAY_LEN(tcp_reasons)] = { 0 }, sum = 0, established = 0;
	uint64_t tx = 0, rx = 0, dropped = 0, active = 0;
	int svc, end, r;
	size_t i;

	for (svc = 0; svc < bm->cfg->n_services; svc++) {
		if (bm->cfg->services[svc].protocol != FP_PROTO_BETANET)
			continue;
		for (end = 0; end < TCP_ENDS; end++) {
			const struct tcp_service_stats *st = &s->stats[svc][end];

			/* Connect failures and retransmits are seen by the client end or the
			 * sender only; resets, timeouts and traffic of a same-host pair count
			 * once (server view). */
			tcp[0] += st->conn_fail[TCP_CONNFAIL_REFUSED];
			tcp[1] += st->conn_fail[TCP_CONNFAIL_TIMEOUT];
			tcp[2] += st->conn_fail[TCP_CONNFAIL_UNREACHABLE];
			dropped += st->retrans_segs;
			if ((1u << end) & TCP_END_MASK_ONCE) {
				tcp[1] += st->timeouts;
				tcp[3] += st->resets[TCP_TX] + st->resets[TCP_RX];
				established += s->open[svc][end];
				tx += st->bytes[TCP_TX];
				rx += st->bytes[TCP_RX];
			}
		}
		for (r = 0; r < TCP_DROP_REASONS; r++)
			dropped += s->drops[svc][r];
		active += s->listeners[svc];
	}
	for (i = 0; i < ARRAY_LEN(tcp_reasons); i++) {
		metrics__set(bm->failures, METRICS_LABELS(tcp_reasons[i]), tcp[i]);
		sum += tcp[i];
	}
	metrics__set(bm->total_failures, NULL, sum + bm->l7_failures);
	metrics__set(bm->peers, NULL, l7 ? handshaken : established);
	metrics__set(bm->tx, NULL, tx);
	metrics__set(bm->rx, NULL, rx);
	metrics__set(bm->dropped, NULL, dropped);
	metrics__set(bm->active, NULL, active);
}

uint64_t betanet_metrics__desyncs(const struct betanet_metrics *bm)
{
	return bm->desyncs;
}
