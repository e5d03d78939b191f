// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <bpf/libbpf.h>

#include "telemetry/tcp_metrics.h"

struct tcp_metrics {
	const struct config *cfg;
	struct metric_family *bytes, *segs, *retrans, *drops, *host_drops, *opened, *closed,
		*connfail, *resets, *timeouts, *open, *listening, *rtt, *connect, *lost,
		*attached, *run_seconds, *runs, *build, *flows;
	struct metric_family *bn_tx, *bn_rx, *bn_dropped, *bn_active;
	uint64_t evicted_max; /* flows__evicted() is read racily: keep it monotonic */
};

static const char *const role_names[FP_KINDS] = { "server", "client", "client" };
static const char *const dir_names[FP_DIRS] = { "tx", "rx" };
static const char *const connfail_names[FP_CONNFAILS] = { "refused", "timeout", "unreachable",
							   "aborted", "other" };
static const char *const lost_names[FP_LOSTS] = { "ringbuf_full", "listener_map_full",
						   "flow_map_update", "tuple_map_update" };

static double lat_bounds_s[FP_LAT_BOUNDS];

#define L(...)                                                                             \
	(const char *const[])                                                              \
	{                                                                                  \
		__VA_ARGS__                                                                \
	}
#define N(...) (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
#define FAM(reg, name, help, type, ...)                                                    \
	metrics__family(reg, name, help, type, L(__VA_ARGS__), N(__VA_ARGS__), NULL, 0)

struct tcp_metrics *tcp_metrics__new(struct metrics *reg, const struct config *cfg)
{
	static const __u64 bounds_us[FP_LAT_BOUNDS] = FP_LAT_BOUNDS_US;
	struct tcp_metrics *tm = calloc(1, sizeof(*tm));
	struct utsname u;
	int i;

	if (!tm)
		return NULL;
	for (i = 0; i < FP_LAT_BOUNDS; i++)
		lat_bounds_s[i] = bounds_us[i] / 1e6;
	tm->cfg = cfg;
	tm->bytes = FAM(reg, "fogprobe_tcp_bytes_total",
			"TCP payload bytes by service, socket role and direction (tx, rx).",
			METRIC_COUNTER, "service", "role", "direction");
	tm->segs = FAM(reg, "fogprobe_tcp_segments_total",
		       "TCP segments (GSO/GRO expanded) by service, role and direction.",
		       METRIC_COUNTER, "service", "role", "direction");
	tm->retrans = FAM(reg, "fogprobe_tcp_retransmits_total",
			  "Retransmitted TCP segments, SYN and SYN-ACK included (TcpRetransSegs).",
			  METRIC_COUNTER, "service", "role");
	tm->drops = FAM(reg, "fogprobe_packet_drops_total",
			"Kernel packet drops (skb:kfree_skb) attributed to a service, by reason.",
			METRIC_COUNTER, "service", "reason");
	tm->host_drops = FAM(reg, "fogprobe_host_packet_drops_total",
			     "Kernel packet drops on this host (all namespaces), by reason.",
			     METRIC_COUNTER, "reason");
	tm->opened = FAM(reg, "fogprobe_tcp_connections_opened_total",
			 "TCP connections that reached ESTABLISHED (client: active, server: passive).",
			 METRIC_COUNTER, "service", "role");
	tm->closed = FAM(reg, "fogprobe_tcp_connections_closed_total",
			 "Established TCP connections that closed.", METRIC_COUNTER, "service",
			 "role");
	tm->connfail = FAM(reg, "fogprobe_tcp_connect_failures_total",
			   "Active opens that never reached ESTABLISHED, by reason.",
			   METRIC_COUNTER, "service", "reason");
	tm->resets = FAM(reg, "fogprobe_tcp_resets_total",
			 "TCP resets sent (tx) and received (rx).", METRIC_COUNTER, "service",
			 "role", "direction");
	tm->timeouts = FAM(reg, "fogprobe_tcp_timeouts_total",
			   "Established connections closed by a retransmission timeout (ETIMEDOUT).",
			   METRIC_COUNTER, "service", "role");
	tm->open = FAM(reg, "fogprobe_tcp_open_connections", "Established TCP connections now.",
		       METRIC_GAUGE, "service", "role");
	tm->listening = FAM(reg, "fogprobe_tcp_listening_sockets",
			    "Listening TCP sockets of the service now.", METRIC_GAUGE, "service");
	tm->rtt = metrics__family(reg, "fogprobe_tcp_rtt_seconds",
				  "Smoothed RTT (srtt), sampled at most once per round trip per socket.",
				  METRIC_HISTOGRAM, L("service", "role"), 2, lat_bounds_s,
				  FP_LAT_BOUNDS);
	tm->connect = metrics__family(reg, "fogprobe_tcp_connect_duration_seconds",
				      "Active open latency, SYN_SENT to ESTABLISHED.",
				      METRIC_HISTOGRAM, L("service"), 1, lat_bounds_s,
				      FP_LAT_BOUNDS);
	tm->lost = FAM(reg, "fogprobe_events_lost_total",
		       "Events or state the probe could not keep, by reason.", METRIC_COUNTER,
		       "reason");
	tm->attached = FAM(reg, "fogprobe_probe_attached",
			   "1 if the program is attached at this hook, 0 if it is a fallback not in use or failed.",
			   METRIC_GAUGE, "feature", "program", "hook");
	tm->run_seconds = FAM(reg, "fogprobe_bpf_program_run_seconds_total",
			      "Time spent in the BPF program (bpf_stats run_time_ns).",
			      METRIC_COUNTER, "program");
	tm->runs = FAM(reg, "fogprobe_bpf_program_runs_total",
		       "Runs of the BPF program (bpf_stats run_cnt).", METRIC_COUNTER, "program");
	tm->build = FAM(reg, "fogprobe_build_info", "Build and runtime versions; value is 1.",
			METRIC_GAUGE, "version", "libbpf", "kernel");
	tm->flows = metrics__family(reg, "fogprobe_flows_tracked",
				    "Sockets in the kernel flow table.", METRIC_GAUGE, NULL, 0,
				    NULL, 0);

	tm->bn_tx = metrics__family(reg, "fogcompute_betanet_bytes_transmitted_total",
				    "TCP payload bytes sent on Betanet connections (server view when local).",
				    METRIC_COUNTER, NULL, 0, NULL, 0);
	tm->bn_rx = metrics__family(reg, "fogcompute_betanet_bytes_received_total",
				    "TCP payload bytes received on Betanet connections (server view when local).",
				    METRIC_COUNTER, NULL, 0, NULL, 0);
	tm->bn_dropped = metrics__family(
		reg, "fogcompute_betanet_packets_dropped_total",
		"Kernel drops of Betanet packets plus retransmitted Betanet segments.",
		METRIC_COUNTER, NULL, 0, NULL, 0);
	tm->bn_active = metrics__family(reg, "fogcompute_betanet_mixnode_active",
					"Listening Betanet mixnode sockets on this host.",
					METRIC_GAUGE, NULL, 0, NULL, 0);
	if (!tm->bytes || !tm->segs || !tm->retrans || !tm->drops || !tm->host_drops ||
	    !tm->opened || !tm->closed || !tm->connfail || !tm->resets || !tm->timeouts ||
	    !tm->open || !tm->listening || !tm->rtt || !tm->connect || !tm->lost ||
	    !tm->attached || !tm->run_seconds || !tm->runs || !tm->build || !tm->flows ||
	    !tm->bn_tx || !tm->bn_rx || !tm->bn_dropped || !tm->bn_active) {
		free(tm);
		return NULL;
	}
	uname(&u);
	{
		char lib[32];

		snprintf(lib, sizeof(lib), "%u.%u", libbpf_major_version(),
			 libbpf_minor_version());
		metrics__set(tm->build, L(FOGPROBE_VERSION, lib, u.release), 1);
	}
	return tm;
}

void tcp_metrics__free(struct tcp_metrics *tm)
{
	free(tm);
}

static void hist_of(const __u64 *buckets, __u64 sum_us, const char *const *labels,
		    struct metric_family *f)
{
	metrics__hist_set(f, labels, (const uint64_t *)buckets, sum_us / 1e6);
}

int tcp_metrics__update(struct tcp_metrics *tm, const struct tcp_snapshot *s,
			drop_reason_name_fn reason_name, void *reason_ctx)
{
	double bn_tx = 0, bn_rx = 0, bn_dropped = 0, bn_active = 0;
	uint64_t evicted;
	int svc, kind, d, r;

	metrics__clear(tm->open);
	metrics__clear(tm->listening);
	for (svc = 0; svc < tm->cfg->n_services; svc++) {
		const struct service_config *sc = &tm->cfg->services[svc];
		const char *name = sc->name;
		bool betanet = sc->protocol == FP_PROTO_BETANET;
		__u64 rtt[2][FP_LAT_BOUNDS + 1] = {}, rtt_sum[2] = {};
		__u64 conn[FP_LAT_BOUNDS + 1] = {}, conn_sum = 0;
		__u64 opened[2] = {}, closed[2] = {}, retrans[2] = {}, timeouts[2] = {};
		__u64 bytes[2][FP_DIRS] = {}, segs[2][FP_DIRS] = {}, resets[2][FP_DIRS] = {};
		__u64 open[2] = {}, fails[FP_CONNFAILS] = {};

		for (kind = 0; kind < FP_KINDS; kind++) {
			const struct fp_svc_stats *st = &s->stats[svc][kind];
			int role = kind == FP_KIND_SERVER ? 0 : 1;
			bool once = (1u << kind) & FP_KIND_MASK_ONCE;
			int b;

			for (d = 0; d < FP_DIRS; d++) {
				bytes[role][d] += st->bytes[d];
				segs[role][d] += st->segs[d];
				resets[role][d] += st->resets[d];
			}
			opened[role] += st->opens;
			closed[role] += st->closes;
			retrans[role] += st->retrans_segs;
			timeouts[role] += st->timeouts;
			open[role] += s->open[svc][kind];
			for (b = 0; b <= FP_LAT_BOUNDS; b++) {
				rtt[role][b] += st->rtt_bucket[b];
				conn[b] += st->conn_bucket[b];
			}
			rtt_sum[role] += st->rtt_sum_us;
			conn_sum += st->conn_sum_us;
			for (r = 0; r < FP_CONNFAILS; r++)
				fails[r] += st->conn_fail[r];
			if (betanet) {
				/* Retransmits are seen by the sender only; traffic is
				 * counted once (server view when both ends are here). */
				bn_dropped += st->retrans_segs;
				if (once) {
					bn_tx += st->bytes[FP_TX];
					bn_rx += st->bytes[FP_RX];
				}
			}
		}
		for (kind = 0; kind < 2; kind++) {
			const char *role = role_names[kind];

			for (d = 0; d < FP_DIRS; d++) {
				const char *const lv[] = { name, role, dir_names[d] };

				metrics__set(tm->bytes, lv, bytes[kind][d]);
				metrics__set(tm->segs, lv, segs[kind][d]);
				metrics__set(tm->resets, lv, resets[kind][d]);
			}
			metrics__set(tm->opened, L(name, role), opened[kind]);
			metrics__set(tm->closed, L(name, role), closed[kind]);
			metrics__set(tm->retrans, L(name, role), retrans[kind]);
			metrics__set(tm->timeouts, L(name, role), timeouts[kind]);
			metrics__set(tm->open, L(name, role), open[kind]);
			hist_of(rtt[kind], rtt_sum[kind], L(name, role), tm->rtt);
		}
		hist_of(conn, conn_sum, L(name), tm->connect);
		for (r = 0; r < FP_CONNFAILS; r++)
			metrics__set(tm->connfail, L(name, connfail_names[r]), fails[r]);
		metrics__set(tm->listening, L(name), s->listeners[svc]);
		for (r = 0; r < FP_DROP_REASONS; r++) {
			if (!s->drops[svc][r])
				continue;
			metrics__set(tm->drops, L(name, reason_name(reason_ctx, r)),
				     s->drops[svc][r]);
			if (betanet)
				bn_dropped += s->drops[svc][r];
		}
		if (betanet)
			bn_active += s->listeners[svc];
	}
	for (r = 0; r < FP_DROP_REASONS; r++) {
		__u64 total = 0;

		for (svc = 0; svc <= FP_MAX_SERVICES; svc++)
			total += s->drops[svc][r];
		if (total)
			metrics__set(tm->host_drops, L(reason_name(reason_ctx, r)), total);
	}
	for (r = 0; r < FP_LOSTS; r++)
		metrics__set(tm->lost, L(lost_names[r]), s->lost[r]);
	evicted = flows__evicted(s);
	if (evicted > tm->evicted_max)
		tm->evicted_max = evicted;
	metrics__set(tm->lost, L("flow_evicted"), tm->evicted_max);
	metrics__set(tm->flows, NULL, s->flows_live);

	metrics__set(tm->bn_tx, NULL, bn_tx);
	metrics__set(tm->bn_rx, NULL, bn_rx);
	metrics__set(tm->bn_dropped, NULL, bn_dropped);
	metrics__set(tm->bn_active, NULL, bn_active);
	return 0;
}

void tcp_metrics__probes(struct tcp_metrics *tm, const struct probe_status *p, size_t n)
{
	size_t i;

	metrics__clear(tm->attached);
	for (i = 0; i < n; i++)
		metrics__set(tm->attached, L(p[i].feature, p[i].program, p[i].hook),
			     p[i].attached);
}

void tcp_metrics__runtime(struct tcp_metrics *tm, const struct program_runtime *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		metrics__set(tm->run_seconds, L(r[i].program), r[i].run_time_ns / 1e9);
		metrics__set(tm->runs, L(r[i].program), r[i].run_cnt);
	}
}

void tcp_metrics__lost(struct tcp_metrics *tm, const char *reason, uint64_t total)
{
	metrics__set(tm->lost, L(reason), total);
}
