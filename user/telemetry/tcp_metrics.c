// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "telemetry/tcp_metrics.h"

/* Roles are what the role label says: a local-peer client is a client too. */
enum { ROLE_SERVER, ROLE_CLIENT, ROLES };

struct tcp_metrics {
	const struct config *cfg;
	struct event_log *log; /* drop_burst events; NULL: none */
	uint64_t drops_seen[TCP_MAX_SERVICES]; /* a service's drops at the last update */
	bool drops_known;
	struct metric_family *bytes, *segs, *retrans, *retrans_bytes, *drops, *host_drops, *opened,
		*closed, *connfail, *resets, *timeouts, *open, *listening, *rtt, *connect, *flows;
};

static const char *const role_names[ROLES] = { "server", "client" };
static const char *const dir_names[TCP_DIRS] = { "tx", "rx" };
static const char *const connfail_names[TCP_CONNFAILS] = { "refused", "timeout", "unreachable",
							    "aborted", "other" };

/* tcp_lat_bounds_us in seconds, filled before the families are registered */
static double lat_bounds_s[TCP_LAT_BOUNDS];

#define AT(f) offsetof(struct tcp_metrics, f)

static const struct metric_def tcp_defs[] = {
	{ "fogprobe_tcp_bytes_total",
	  "TCP payload bytes by service, socket role and direction (tx, rx).", METRIC_COUNTER,
	  { "service", "role", "direction" }, .offset = AT(bytes) },
	{ "fogprobe_tcp_segments_total",
	  "TCP segments (GSO/GRO expanded) by service, role and direction.", METRIC_COUNTER,
	  { "service", "role", "direction" }, .offset = AT(segs) },
	{ "fogprobe_tcp_retransmits_total",
	  "Retransmitted TCP segments, SYN and SYN-ACK included (TcpRetransSegs).",
	  METRIC_COUNTER, { "service", "role" }, .offset = AT(retrans) },
	{ "fogprobe_tcp_retransmitted_bytes_total",
	  "Payload bytes of retransmitted TCP segments (tcp_info bytes_retrans).",
	  METRIC_COUNTER, { "service", "role" }, .offset = AT(retrans_bytes) },
	{ "fogprobe_packet_drops_total",
	  "Kernel packet drops (skb:kfree_skb) attributed to a service, by reason.",
	  METRIC_COUNTER, { "service", "reason" }, .offset = AT(drops) },
	{ "fogprobe_host_packet_drops_total",
	  "Kernel packet drops on this host (all namespaces), by reason.", METRIC_COUNTER,
	  { "reason" }, .offset = AT(host_drops) },
	{ "fogprobe_tcp_connections_opened_total",
	  "TCP connections that reached ESTABLISHED (client: active, server: passive).",
	  METRIC_COUNTER, { "service", "role" }, .offset = AT(opened) },
	{ "fogprobe_tcp_connections_closed_total", "Established TCP connections that closed.",
	  METRIC_COUNTER, { "service", "role" }, .offset = AT(closed) },
	{ "fogprobe_tcp_connect_failures_total",
	  "Active opens that never reached ESTABLISHED, by reason.", METRIC_COUNTER,
	  { "service", "reason" }, .offset = AT(connfail) },
	{ "fogprobe_tcp_resets_total", "TCP resets sent (tx) and received (rx).", METRIC_COUNTER,
	  { "service", "role", "direction" }, .offset = AT(resets) },
	{ "fogprobe_tcp_timeouts_total",
	  "Established connections closed by a retransmission timeout (ETIMEDOUT).",
	  METRIC_COUNTER, { "service", "role" }, .offset = AT(timeouts) },
	{ "fogprobe_tcp_open_connections", "Established TCP connections now.", METRIC_GAUGE,
	  { "service", "role" }, .offset = AT(open) },
	{ "fogprobe_tcp_listening_sockets", "Listening TCP sockets of the service now.",
	  METRIC_GAUGE, { "service" }, .offset = AT(listening) },
	{ "fogprobe_tcp_rtt_seconds",
	  "Smoothed RTT (srtt), sampled at most once per round trip per socket.",
	  METRIC_HISTOGRAM, { "service", "role" }, .buckets = lat_bounds_s,
	  .n_buckets = TCP_LAT_BOUNDS, .offset = AT(rtt) },
	{ "fogprobe_tcp_connect_duration_seconds", "Active open latency, SYN_SENT to ESTABLISHED.",
	  METRIC_HISTOGRAM, { "service" }, .buckets = lat_bounds_s, .n_buckets = TCP_LAT_BOUNDS,
	  .offset = AT(connect) },
	{ "fogprobe_flows_tracked", "Sockets in the kernel flow table.", METRIC_GAUGE,
	  .offset = AT(flows) },
};

struct tcp_metrics *tcp_metrics__new(struct metrics *reg, const struct config *cfg)
{
	struct tcp_metrics *tm = calloc(1, sizeof(*tm));
	int i, err;

	if (!tm)
		return NULL;
	for (i = 0; i < TCP_LAT_BOUNDS; i++)
		lat_bounds_s[i] = tcp_lat_bounds_us[i] / 1e6;
	tm->cfg = cfg;
	err = metrics__register(reg, tm, tcp_defs, ARRAY_LEN(tcp_defs));
	if (err) {
		free(tm);
		errno = -err;
		return NULL;
	}
	return tm;
}

void tcp_metrics__free(struct tcp_metrics *tm)
{
	free(tm);
}

/* The kernel's name of a drop reason, else its code: distinct codes keep distinct series. */
static const char *drop_reason(const struct tcp_snapshot *s, int r, char *buf, size_t len)
{
	if (s->drop_reason_names && s->drop_reason_names[r])
		return s->drop_reason_names[r];
	snprintf(buf, len, "%d", r);
	return buf;
}

void tcp_metrics__set_events(struct tcp_metrics *tm, struct event_log *log)
{
	tm->log = log;
}

/* drop_burst: a service's kernel drops grew by TCP_DROP_BURST or more since the last
 * period, reported with the count and the service's most frequent reason since start. */
static void drop_burst(struct tcp_metrics *tm, const struct tcp_snapshot *s, int svc)
{
	uint64_t total = 0, top = 0, prev = tm->drops_seen[svc];
	char code[12];
	int r, top_r = 0;

	for (r = 0; r < TCP_DROP_REASONS; r++) {
		total += s->drops[svc][r];
		if (s->drops[svc][r] > top) {
			top = s->drops[svc][r];
			top_r = r;
		}
	}
	tm->drops_seen[svc] = total;
	if (!tm->drops_known || total < prev || total - prev < TCP_DROP_BURST)
		return;
	events__emit(tm->log, "drop_burst", tm->cfg->services[svc].name,
		     json_pack("{s:I,s:s}", "drops", (json_int_t)(total - prev), "top_reason",
			       drop_reason(s, top_r, code, sizeof(code))),
		     NULL, NULL);
}

void tcp_metrics__drop_bursts(struct tcp_metrics *tm, const struct tcp_snapshot *s)
{
	int svc;

	for (svc = 0; tm->log && svc < tm->cfg->n_services && svc < TCP_MAX_SERVICES; svc++)
		drop_burst(tm, s, svc);
	tm->drops_known = true;
}

void tcp_metrics__update(struct tcp_metrics *tm, const struct tcp_snapshot *s)
{
	char code[12];
	int svc, end, role, d, r;

	metrics__clear(tm->open);
	metrics__clear(tm->listening);
	for (svc = 0; svc < tm->cfg->n_services; svc++) {
		const char *name = tm->cfg->services[svc].name;
		uint64_t rtt[ROLES][TCP_LAT_BOUNDS + 1] = {}, rtt_sum[ROLES] = {};
		uint64_t conn[TCP_LAT_BOUNDS + 1] = {}, conn_sum = 0;
		uint64_t opened[ROLES] = {}, closed[ROLES] = {}, retrans[ROLES] = {};
		uint64_t retrans_bytes[ROLES] = {};
		uint64_t timeouts[ROLES] = {}, open[ROLES] = {}, fails[TCP_CONNFAILS] = {};
		uint64_t bytes[ROLES][TCP_DIRS] = {}, segs[ROLES][TCP_DIRS] = {};
		uint64_t resets[ROLES][TCP_DIRS] = {};

		for (end = 0; end < TCP_ENDS; end++) {
			const struct tcp_service_stats *st = &s->stats[svc][end];
			int b;

			role = end == TCP_END_SERVER ? ROLE_SERVER : ROLE_CLIENT;
			for (d = 0; d < TCP_DIRS; d++) {
				bytes[role][d] += st->bytes[d];
				segs[role][d] += st->segs[d];
				resets[role][d] += st->resets[d];
			}
			opened[role] += st->opens;
			closed[role] += st->closes;
			retrans[role] += st->retrans_segs;
			retrans_bytes[role] += st->retrans_bytes;
			timeouts[role] += st->timeouts;
			open[role] += s->open[svc][end];
			for (b = 0; b <= TCP_LAT_BOUNDS; b++) {
				rtt[role][b] += st->rtt_bucket[b];
				conn[b] += st->conn_bucket[b];
			}
			rtt_sum[role] += st->rtt_sum_us;
			conn_sum += st->conn_sum_us;
			for (r = 0; r < TCP_CONNFAILS; r++)
				fails[r] += st->conn_fail[r];
		}
		for (role = 0; role < ROLES; role++) {
			const char *const lv[] = { name, role_names[role] };

			for (d = 0; d < TCP_DIRS; d++) {
				const char *const lvd[] = { name, role_names[role], dir_names[d] };

				metrics__set(tm->bytes, lvd, bytes[role][d]);
				metrics__set(tm->segs, lvd, segs[role][d]);
				metrics__set(tm->resets, lvd, resets[role][d]);
			}
			metrics__set(tm->opened, lv, opened[role]);
			metrics__set(tm->closed, lv, closed[role]);
			metrics__set(tm->retrans, lv, retrans[role]);
			metrics__set(tm->retrans_bytes, lv, retrans_bytes[role]);
			metrics__set(tm->timeouts, lv, timeouts[role]);
			metrics__set(tm->open, lv, open[role]);
			metrics__hist_set(tm->rtt, lv, rtt[role], rtt_sum[role] / 1e6);
		}
		metrics__hist_set(tm->connect, METRICS_LABELS(name), conn, conn_sum / 1e6);
		for (r = 0; r < TCP_CONNFAILS; r++) {
			const char *const lv[] = { name, connfail_names[r] };

			metrics__set(tm->connfail, lv, fails[r]);
		}
		metrics__set(tm->listening, METRICS_LABELS(name), s->listeners[svc]);
		for (r = 0; r < TCP_DROP_REASONS; r++) {
			if (!s->drops[svc][r])
				continue;
			metrics__set(tm->drops,
				     METRICS_LABELS(name, drop_reason(s, r, code, sizeof(code))),
				     s->drops[svc][r]);
		}
	}
	for (r = 0; r < TCP_DROP_REASONS; r++) {
		uint64_t total = 0;

		for (svc = 0; svc <= TCP_MAX_SERVICES; svc++)
			total += s->drops[svc][r];
		if (total)
			metrics__set(tm->host_drops,
				     METRICS_LABELS(drop_reason(s, r, code, sizeof(code))), total);
	}
	metrics__set(tm->flows, NULL, s->flows_live);
}

static void conn_exemplar(void *ctx, int svc, bool is_server, uint32_t srtt_us, uint64_t connect_ns,
			  const struct metrics_exemplar *ex, bool exported)
{
	struct tcp_metrics *tm = ctx;
	const char *name;

	if (svc < 0 || svc >= tm->cfg->n_services)
		return;
	name = tm->cfg->services[svc].name;
	if (srtt_us) {
		const char *const lv[] = { name, role_names[is_server ? ROLE_SERVER : ROLE_CLIENT] };

		metrics__hist_exemplar(tm->rtt, lv, srtt_us / 1e6, ex, exported);
	}
	if (connect_ns)
		metrics__hist_exemplar(tm->connect, METRICS_LABELS(name), connect_ns / 1e9, ex,
				       exported);
}

struct spans_tcp_sink tcp_metrics__exemplar_sink(struct tcp_metrics *tm)
{
	return (struct spans_tcp_sink){ .exemplar = tm ? conn_exemplar : NULL, .ctx = tm };
}
