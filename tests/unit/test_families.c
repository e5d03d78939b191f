// SPDX-License-Identifier: GPL-2.0-only
/*
 * The family files of user/telemetry/ on one registry: every family of DESIGN.md's metric
 * contract is there with its type, none clashes with another, and the values that come
 * from a tcp_snapshot and from the probe's own state (roles, drop reasons, the Betanet
 * byte and drop counters, losses, series refused at a cap) are the sums they document.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/strbuf.h"
#include "model/losses.h"
#include "model/tcp_stats.h"
#include "telemetry/betanet_metrics.h"
#include "telemetry/host_metrics.h"
#include "telemetry/metrics.h"
#include "telemetry/probe_metrics.h"
#include "telemetry/proc_metrics.h"
#include "telemetry/tcp_metrics.h"
#include "telemetry/tls_metrics.h"
#include "telemetry/web_metrics.h"

static struct config cfg;
static struct tcp_snapshot snap;

static char *render(struct metrics *m)
{
	struct strbuf sb;

	strbuf__init(&sb);
	assert_int_equal(metrics__render(m, &sb, METRICS_TEXT_004), 0);
	return sb.buf;
}

/* The value of the sample `series` ("name{a=\"x\"}" or "name"), NAN if absent. */
static double value(struct metrics *m, const char *series)
{
	char *text = render(m), *p;
	size_t n = strlen(series);
	double v = NAN;

	for (p = strstr(text, series); p; p = strstr(p + 1, series))
		if ((p == text || p[-1] == '\n') && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(text);
	return v;
}

#define expect_sample(m, series, want)                                                     \
	do {                                                                               \
		double got_ = value(m, series);                                            \
		if (got_ != (double)(want))                                                \
			fail_msg("%s: %g, want %g", series, got_, (double)(want));        \
	} while (0)

#define BETANET "service=\"betanet\""
#define TCP_BYTES(service, role, dir)                                                      \
	"fogprobe_tcp_bytes_total{" service ",role=\"" role "\",direction=\"" dir "\"}"
#define RTT_BUCKET(le) "fogprobe_tcp_rtt_seconds_bucket{" BETANET ",role=\"server\",le=\"" le "\"}"
#define DROPPED(family) "fogprobe_series_dropped_total{family=\"" family "\"}"

/* Two services: a Betanet mixnode (0) and an HTTP backend (1). */
static void two_services(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_services = 2;
	strcpy(cfg.services[0].name, "betanet");
	cfg.services[0].protocol = FP_PROTO_BETANET;
	strcpy(cfg.services[1].name, "backend");
	cfg.services[1].protocol = FP_PROTO_HTTP;
	cfg.services[1].max_paths = 10;
	memset(&snap, 0, sizeof(snap));
}

struct found {
	const char *name;
	enum metric_type type;
	bool seen;
};

static void find_family(void *ctx, const struct metric_info *fi)
{
	struct found *f;

	for (f = ctx; f->name; f++)
		if (!strcmp(f->name, fi->name)) {
			if (fi->type != f->type)
				fail_msg("%s: type %d, want %d", f->name, fi->type, f->type);
			f->seen = true;
		}
}

static void count_family(void *ctx, const struct metric_info *fi)
{
	(void)fi;
	(*(size_t *)ctx)++;
}

static void contract(void **state)
{
	struct found want[] = {
		{ "fogcompute_betanet_connected_peers", METRIC_GAUGE },
		{ "fogcompute_betanet_messages_total", METRIC_COUNTER },
		{ "fogcompute_betanet_bytes_transmitted_total", METRIC_COUNTER },
		{ "fogcompute_betanet_bytes_received_total", METRIC_COUNTER },
		{ "fogcompute_betanet_packets_dropped_total", METRIC_COUNTER },
		{ "fogcompute_betanet_mixnode_failures_total", METRIC_COUNTER },
		{ "fogcompute_betanet_routing_failures_total", METRIC_COUNTER },
		{ "fogcompute_betanet_mixnode_active", METRIC_GAUGE },
		{ "fogcompute_betanet_message_latency_seconds", METRIC_HISTOGRAM },
		{ "fogcompute_betanet_routing_latency_seconds", METRIC_HISTOGRAM },
		{ "fogcompute_betanet_circuit_build_seconds", METRIC_HISTOGRAM },
		{ "fogcompute_bitchat_connected_clients", METRIC_GAUGE },
		{ "fogcompute_bitchat_active_rooms", METRIC_GAUGE },
		{ "fogcompute_bitchat_messages_total", METRIC_COUNTER },
		{ "fogcompute_bitchat_connections_dropped_total", METRIC_COUNTER },
		{ "fogcompute_bitchat_message_queue_size", METRIC_GAUGE },
		{ "fogcompute_bitchat_message_latency_seconds", METRIC_HISTOGRAM },
		{ "fogcompute_bitchat_room_size", METRIC_HISTOGRAM },
		{ "fogcompute_bitchat_p2p_latency_seconds", METRIC_HISTOGRAM },
		{ "http_requests_total", METRIC_COUNTER },
		{ "http_request_duration_seconds", METRIC_HISTOGRAM },
		{ "nextjs_page_render_duration_seconds", METRIC_HISTOGRAM },
		{ "nextjs_api_latency_seconds", METRIC_HISTOGRAM },
		{ "fogprobe_probe_attached", METRIC_GAUGE },
		{ "fogprobe_events_lost_total", METRIC_COUNTER },
		{ "fogprobe_series_dropped_total", METRIC_COUNTER },
		{ "fogprobe_build_info", METRIC_GAUGE },
		{ "fogprobe_flows_tracked", METRIC_GAUGE },
		{ "node_memory_MemAvailable_bytes", METRIC_GAUGE },
		{ "container_memory_working_set_bytes", METRIC_GAUGE },
		{ NULL },
	};
	struct metrics *m = metrics__new(0);
	struct tcp_metrics *tm, *again;
	struct betanet_metrics *bm;
	struct probe_metrics *pm;
	struct proc_metrics *prm;
	struct web_metrics *wm;
	struct tls_metrics *tls;
	struct host_metrics *hm;
	size_t n = 0, n_after = 0;
	struct found *f;

	(void)state;
	config__default(&cfg);
	tm = tcp_metrics__new(m, &cfg);
	bm = betanet_metrics__new(m, &cfg);
	pm = probe_metrics__new(m, "1.1");
	prm = proc_metrics__new(m, &cfg, NULL);
	wm = web_metrics__new(m, &cfg);
	tls = tls_metrics__new(m);
	hm = host_metrics__new(m, true, true);
	assert_non_null(tm);
	assert_non_null(bm);
	assert_non_null(pm);
	assert_non_null(prm);
	assert_non_null(wm);
	assert_non_null(tls);
	assert_non_null(hm);
	metrics__each_family(m, find_family, want);
	for (f = want; f->name; f++)
		if (!f->seen)
			fail_msg("no family %s", f->name);

	/* A second set of TCP families clashes; the registry keeps what it had. */
	metrics__each_family(m, count_family, &n);
	errno = 0;
	again = tcp_metrics__new(m, &cfg);
	assert_null(again);
	assert_int_equal(errno, EEXIST);
	metrics__each_family(m, count_family, &n_after);
	assert_int_equal(n_after, n);

	host_metrics__free(hm);
	tls_metrics__free(tls);
	web_metrics__free(wm);
	proc_metrics__free(prm);
	probe_metrics__free(pm);
	betanet_metrics__free(bm);
	tcp_metrics__free(tm);
	metrics__free(m);
}

static void tcp_roles_and_drops(void **state)
{
	static const char *names[TCP_DROP_REASONS] = { [2] = "NO_SOCKET" };
	struct metrics *m = metrics__new(0);
	struct tcp_metrics *tm;
	struct tcp_service_stats *st = snap.stats[0];

	(void)state;
	two_services();
	tm = tcp_metrics__new(m, &cfg);
	assert_non_null(tm);
	st[TCP_END_SERVER].bytes[TCP_TX] = 10;
	st[TCP_END_CLIENT].bytes[TCP_TX] = 20;
	st[TCP_END_CLIENT_LOCALPEER].bytes[TCP_TX] = 40;
	st[TCP_END_SERVER].rtt_bucket[0] = 2; /* <= 25 us */
	st[TCP_END_SERVER].rtt_bucket[TCP_LAT_BOUNDS] = 1; /* > 5 s */
	st[TCP_END_SERVER].rtt_sum_us = 7000040;
	st[TCP_END_CLIENT].conn_fail[TCP_CONNFAIL_REFUSED] = 3;
	st[TCP_END_CLIENT_LOCALPEER].conn_fail[TCP_CONNFAIL_REFUSED] = 1;
	snap.open[0][TCP_END_SERVER] = 4;
	snap.open[0][TCP_END_CLIENT_LOCALPEER] = 4;
	snap.listeners[0] = 3;
	snap.drops[0][2] = 5;
	snap.drops[0][7] = 3; /* a code the kernel has no name for */
	snap.drops[TCP_MAX_SERVICES][2] = 4; /* a packet of no service */
	snap.drop_reason_names = names;
	snap.flows_live = 9;
	tcp_metrics__update(tm, &snap);

	expect_sample(m, TCP_BYTES(BETANET, "server", "tx"), 10);
	expect_sample(m, TCP_BYTES(BETANET, "client", "tx"), 60);
	expect_sample(m, TCP_BYTES("service=\"backend\"", "client", "rx"), 0);
	expect_sample(m, RTT_BUCKET("2.5e-05"), 2);
	expect_sample(m, RTT_BUCKET("5"), 2);
	expect_sample(m, RTT_BUCKET("+Inf"), 3);
	expect_sample(m, "fogprobe_tcp_rtt_seconds_sum{" BETANET ",role=\"server\"}", 7.00004);
	expect_sample(m, "fogprobe_tcp_connect_failures_total{" BETANET ",reason=\"refused\"}", 4);
	expect_sample(m, "fogprobe_tcp_open_connections{" BETANET ",role=\"client\"}", 4);
	expect_sample(m, "fogprobe_tcp_listening_sockets{" BETANET "}", 3);
	expect_sample(m, "fogprobe_packet_drops_total{" BETANET ",reason=\"NO_SOCKET\"}", 5);
	expect_sample(m, "fogprobe_packet_drops_total{" BETANET ",reason=\"7\"}", 3);
	expect_sample(m, "fogprobe_host_packet_drops_total{reason=\"NO_SOCKET\"}", 9);
	expect_sample(m, "fogprobe_host_packet_drops_total{reason=\"7\"}", 3);
	expect_sample(m, "fogprobe_flows_tracked", 9);

	/* The next snapshot replaces the gauges; a reason without a name is its code. */
	snap.drop_reason_names = NULL;
	snap.open[0][TCP_END_SERVER] = 0;
	tcp_metrics__update(tm, &snap);
	expect_sample(m, "fogprobe_tcp_open_connections{" BETANET ",role=\"server\"}", 0);
	expect_sample(m, "fogprobe_host_packet_drops_total{reason=\"2\"}", 9);
	tcp_metrics__free(tm);
	tcp_metrics__free(NULL);
	metrics__free(m);
}

static void betanet_from_tcp(void **state)
{
	struct metrics *m = metrics__new(0);
	struct betanet_metrics *bm;
	struct tcp_service_stats *st = snap.stats[0], *web = snap.stats[1];
	int end;

	(void)state;
	two_services();
	bm = betanet_metrics__new(m, &cfg);
	assert_non_null(bm);
	for (end = 0; end < TCP_ENDS; end++) {
		st[end].bytes[TCP_TX] = 100 << end; /* 100, 200, 400 */
		st[end].bytes[TCP_RX] = 1000 << end;
		st[end].retrans_segs = 1 + end; /* 1 + 2 + 3, every end: the sender's view */
		st[end].resets[TCP_RX] = 10;
		st[end].conn_fail[TCP_CONNFAIL_TIMEOUT] = 1;
		st[end].timeouts = 5;
		web[end].bytes[TCP_TX] = 1u << 20; /* not Betanet */
		web[end].retrans_segs = 1000;
		snap.open[0][end] = 2;
	}
	snap.drops[0][3] = 7;
	snap.drops[0][200] = 1;
	snap.drops[1][3] = 50;
	snap.listeners[0] = 3;
	snap.listeners[1] = 8;
	betanet_metrics__update(bm, &snap, false, 11);

	/* Traffic and resets of a same-host pair once (the local-peer client left out). */
	expect_sample(m, "fogcompute_betanet_bytes_transmitted_total", 300);
	expect_sample(m, "fogcompute_betanet_bytes_received_total", 3000);
	expect_sample(m, "fogcompute_betanet_packets_dropped_total", 6 + 7 + 1);
	expect_sample(m, "fogcompute_betanet_mixnode_active", 3);
	expect_sample(m, "fogcompute_betanet_connected_peers", 4);
	expect_sample(m, "fogprobe_betanet_failures_total{reason=\"reset\"}", 20);
	expect_sample(m, "fogprobe_betanet_failures_total{reason=\"timeout\"}", 3 + 10);
	expect_sample(m, "fogprobe_betanet_failures_total{reason=\"idle_timeout\"}", 0);
	expect_sample(m, "fogcompute_betanet_mixnode_failures_total", 33);
	expect_sample(m, "fogcompute_betanet_messages_total", 0);

	/* With the L7 capture, peers are the connections past the handshake. */
	betanet_metrics__update(bm, &snap, true, 11);
	expect_sample(m, "fogcompute_betanet_connected_peers", 11);
	assert_int_equal(betanet_metrics__desyncs(bm), 0);
	betanet_metrics__free(bm);
	metrics__free(m);
}

static void probe_families(void **state)
{
	struct metrics *m = metrics__new(0);
	struct probe_metrics *pm;
	struct losses l = { 0 };
	struct utsname u;
	char series[512], *text, *p, *end;
	struct probe_status hooks[] = {
		{ "tcp_rtt", "tcp_rcv_btf", "tp_btf/tcp_rcv_space_adjust", true },
		{ "tcp_rtt", "tcp_rcv_tp", "tracepoint/tcp/tcp_rcv_space_adjust", false },
	};
	struct program_runtime rt[] = { { "tcp_rcv_btf", 2500000000ULL, 40, 3 } };

	(void)state;
	pm = probe_metrics__new(m, "1.1");
	assert_non_null(pm);
	/* The version is the build's (git describe), which this test need not share. */
	assert_int_equal(uname(&u), 0);
	snprintf(series, sizeof(series), "\",libbpf=\"1.1\",kernel=\"%s\"} 1", u.release);
	text = render(m);
	p = strstr(text, "\nfogprobe_build_info{version=\"");
	end = p ? strchr(p + 1, '\n') : NULL;
	if (!end || (size_t)(end - p) < strlen(series) ||
	    memcmp(end - strlen(series), series, strlen(series)))
		fail_msg("no fogprobe_build_info line ending with %s in:\n%s", series, text);
	free(text);

	probe_metrics__hooks(pm, hooks, 2);
	probe_metrics__hooks(pm, hooks, 1); /* replaces: the fallback is gone */
	expect_sample(m,
		      "fogprobe_probe_attached{feature=\"tcp_rtt\",program=\"tcp_rcv_btf\","
		      "hook=\"tp_btf/tcp_rcv_space_adjust\"}",
		      1);
	assert_true(isnan(value(m, "fogprobe_probe_attached{feature=\"tcp_rtt\","
				   "program=\"tcp_rcv_tp\","
				   "hook=\"tracepoint/tcp/tcp_rcv_space_adjust\"}")));
	probe_metrics__runtime(pm, rt, 1);
	expect_sample(m, "fogprobe_bpf_program_run_seconds_total{program=\"tcp_rcv_btf\"}", 2.5);
	expect_sample(m, "fogprobe_bpf_program_runs_total{program=\"tcp_rcv_btf\"}", 40);
	expect_sample(m, "fogprobe_bpf_program_misses_total{program=\"tcp_rcv_btf\"}", 3);

	/* Known reasons only, zeros included; a total that dips does not go back. */
	losses__set(&l, LOSS_RINGBUF_FULL, 0);
	losses__set(&l, LOSS_FLOW_EVICTED, 12);
	probe_metrics__losses(pm, &l);
	expect_sample(m, "fogprobe_events_lost_total{reason=\"ringbuf_full\"}", 0);
	expect_sample(m, "fogprobe_events_lost_total{reason=\"flow_evicted\"}", 12);
	assert_true(isnan(value(m, "fogprobe_events_lost_total{reason=\"l7_desync\"}")));
	losses__set(&l, LOSS_FLOW_EVICTED, 10);
	losses__set(&l, LOSS_L7_DESYNC, 1);
	probe_metrics__losses(pm, &l);
	expect_sample(m, "fogprobe_events_lost_total{reason=\"flow_evicted\"}", 12);
	expect_sample(m, "fogprobe_events_lost_total{reason=\"l7_desync\"}", 1);

	probe_metrics__update(pm);
	expect_sample(m, DROPPED("fogprobe_build_info"), 0);
	expect_sample(m, DROPPED("fogprobe_series_dropped_total"), 0);
	probe_metrics__free(pm);
	probe_metrics__free(NULL);
	metrics__free(m);
}

struct dropped {
	const char *name;
	uint64_t n;
};

static void find_dropped(void *ctx, const struct metric_info *fi)
{
	struct dropped *d = ctx;

	if (!strcmp(fi->name, d->name))
		d->n = fi->series_dropped;
}

static uint64_t dropped_of(struct metrics *m, const char *name)
{
	struct dropped d = { name, UINT64_MAX };

	metrics__each_family(m, find_dropped, &d);
	if (d.n == UINT64_MAX)
		fail_msg("no family %s", name);
	return d.n;
}

/* A registry whose cap of 4 series the TCP families reach: each family counts its own
 * refusals, fogprobe_series_dropped_total included. */
static void series_dropped(void **state)
{
	struct metrics *m = metrics__new(4);
	struct tcp_metrics *tm;
	struct probe_metrics *pm;
	size_t n = 0;

	(void)state;
	two_services();
	tm = tcp_metrics__new(m, &cfg);
	pm = probe_metrics__new(m, "1.1");
	assert_non_null(tm);
	assert_non_null(pm);
	metrics__each_family(m, count_family, &n);
	assert_int_equal(n, 16 + 9);
	tcp_metrics__update(tm, &snap);
	probe_metrics__update(pm);
	/* Registration order: the first four families get the four series. 2 services x 2
	 * roles x 2 directions = 8 series, 4 refused; 2 x 2 = 4 fit; no drops, no series. */
	expect_sample(m, DROPPED("fogprobe_tcp_bytes_total"), 4);
	expect_sample(m, DROPPED("fogprobe_tcp_segments_total"), 4);
	expect_sample(m, DROPPED("fogprobe_tcp_retransmits_total"), 0);
	expect_sample(m, DROPPED("fogprobe_tcp_retransmitted_bytes_total"), 0);
	assert_true(isnan(value(m, DROPPED("fogprobe_packet_drops_total"))));
	/* 2 services x 5 reasons */
	assert_int_equal(dropped_of(m, "fogprobe_tcp_connect_failures_total"), 6);
	assert_int_equal(dropped_of(m, "fogprobe_flows_tracked"), 0);
	assert_int_equal(dropped_of(m, "fogprobe_series_dropped_total"), 25 - 4);

	tcp_metrics__update(tm, &snap);
	probe_metrics__update(pm);
	expect_sample(m, DROPPED("fogprobe_tcp_bytes_total"), 8);
	assert_int_equal(dropped_of(m, "fogprobe_tcp_retransmits_total"), 0);
	assert_int_equal(dropped_of(m, "fogprobe_series_dropped_total"), 2 * (25 - 4));
	probe_metrics__free(pm);
	tcp_metrics__free(tm);
	metrics__free(m);
}

static void request(struct web_sink *sink, int svc, const char *path)
{
	struct http_exchange x = { .method = "GET", .status = 200, .start_ns = 1000,
				   .end_ns = 2000 };

	strcpy(x.path, path);
	sink->exchange(sink->ctx, svc, &x);
}

#define REQS(service, path)                                                                \
	"http_requests_total{service=\"" service "\",status=\"200\",method=\"GET\",path=\"" path \
	"\"}"
#define OVERFLOW(service) "fogprobe_http_path_overflow_total{service=\"" service "\"}"

/* A path's label is its route template, the same each time it comes (the service's recent
 * paths keep theirs), "other" past max_paths (each such request counted), and taken
 * afresh once a reload changed the routes. */
static void http_paths(void **state)
{
	struct metrics *m = metrics__new(0);
	struct web_metrics *wm;
	struct web_sink sink;
	char path[32];
	int i;

	(void)state;
	two_services();
	strcpy(cfg.services[0].name, "panel");
	cfg.services[0].protocol = FP_PROTO_HTTP;
	cfg.services[0].max_paths = 2;
	wm = web_metrics__new(m, &cfg);
	assert_non_null(wm);
	sink = web_metrics__sink(wm);
	for (i = 0; i < 3; i++)
		request(&sink, 0, "/nodes/4f1c2a9e-7b3d-4e8f-9a01-23456789abcd");
	request(&sink, 0, "/nodes/1234");
	request(&sink, 0, "/health");
	request(&sink, 0, "/metrics");
	request(&sink, 0, "/metrics");
	request(&sink, 0, "/nodes/77");
	expect_sample(m, REQS("panel", "/nodes/:id"), 5);
	expect_sample(m, REQS("panel", "/health"), 1);
	expect_sample(m, REQS("panel", "other"), 2);
	expect_sample(m, OVERFLOW("panel"), 2);
	/* more distinct paths than the service's recent ones, each asked twice */
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/nodes/%d", i);
		request(&sink, 0, path);
		request(&sink, 0, path);
		request(&sink, 0, "/metrics");
	}
	expect_sample(m, REQS("panel", "/nodes/:id"), 205);
	expect_sample(m, REQS("panel", "other"), 102);
	expect_sample(m, OVERFLOW("panel"), 102);
	/* the other service's paths are its own */
	request(&sink, 1, "/metrics");
	expect_sample(m, REQS("backend", "/metrics"), 1);
	expect_sample(m, OVERFLOW("backend"), 0);

	/* a reload: /nodes/[node] is a route of the backend now */
	request(&sink, 1, "/nodes/77");
	strcpy(cfg.services[1].routes[0], "/nodes/[node]");
	cfg.services[1].n_routes = 1;
	web_metrics__routes_changed(wm);
	request(&sink, 1, "/nodes/77");
	request(&sink, 1, "/nodes/4f1c2a9e-7b3d-4e8f-9a01-23456789abcd");
	expect_sample(m, REQS("backend", "/nodes/:node"), 2);
	expect_sample(m, REQS("backend", "/nodes/:id"), 1);
	web_metrics__free(wm);
	metrics__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(contract),
		cmocka_unit_test(tcp_roles_and_drops),
		cmocka_unit_test(betanet_from_tcp),
		cmocka_unit_test(probe_families),
		cmocka_unit_test(series_dropped),
		cmocka_unit_test(http_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
