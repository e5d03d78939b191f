// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scrape-time refresh: before each /metrics render, read the kernel's counters and
 * the model's state into the families, like node_exporter and cAdvisor read at scrape.
 * Runs on the HTTP thread, under the daemon's lock (daemon.h).
 */
#include <string.h>

#include "collect/host.h"
#include "collect/l7.h"
#include "collect/proc.h"
#include "collect/tcp.h"
#include "collect/tls.h"
#include "daemon.h"
#include "model/health.h"
#include "model/streams.h"
#include "telemetry/betanet_metrics.h"
#include "telemetry/host_metrics.h"
#include "telemetry/probe_metrics.h"
#include "telemetry/proc_metrics.h"
#include "telemetry/spans.h"
#include "telemetry/tcp_metrics.h"
#include "telemetry/tls_metrics.h"
#include "telemetry/web_metrics.h"

#define PROGS_MAX 128 /* BPF programs of all objects, for bpf_stats */

static bool alive(void *ctx, uint32_t tgid)
{
	(void)ctx;
	return proc__alive(tgid);
}

void daemon__health_tick(struct daemon *d)
{
	struct proc_collector *proc = collectors__get(&d->collectors, &proc_collector_ops);
	__u32 counts[FP_MAX_SERVICES];
	int svc;

	if (proc && !proc__count_tasks(proc, counts))
		for (svc = 0; svc < d->cfg.n_services; svc++)
			health__set_processes(d->health, svc, counts[svc]);
	health__tick(d->health, daemon__now_ns(), alive, d);
}

static void on_sndq(void *ctx, uint64_t key, uint32_t sndq)
{
	streams__set_sndq(ctx, key, sndq);
}

static void refresh_tls(struct daemon *d, struct tls_collector *tls)
{
	static const char *const states[] = { "hooked", "no_symbols", "failed" };
	struct tls_hook_status st[TLS_MAX_BINARIES];
	struct tls_binary b[TLS_MAX_BINARIES]; /* the registry copies the labels */
	size_t n = tls__binaries(tls, b, TLS_MAX_BINARIES), i;

	for (i = 0; i < n; i++) {
		st[i].binary = b[i].path;
		st[i].state = states[b[i].state];
	}
	tls_metrics__update(d->tlsm, st, n);
}

static bool cgroup_alive(void *ctx, __u64 cgid)
{
	return host__cgroup_alive(ctx, cgid);
}

/* Host and container metrics, read at scrape time like node_exporter and cAdvisor. */
static void refresh_host(struct daemon *d, struct tcp_collector *tcp)
{
	const struct container_snapshot *cs;
	const struct host_snapshot *hs;
	const struct cgroup_net *cn = NULL;
	size_t n_cn = 0;

	if (d->cfg.host.enabled && !host__read(d->host, &hs))
		host_metrics__update(d->hm, hs);
	if (!d->cfg.containers.enabled)
		return;
	if (!tcp__counts_cgroups(tcp)) {
		if (!host__containers(d->host, CONTAINER_NET_NETNS, NULL, 0, &cs))
			host_metrics__containers(d->hm, cs);
		return;
	}
	/* Counters first, then the walk: a counter whose cgroup the later walk does not
	 * find belongs to a removed cgroup, and its entry can go. */
	if (tcp__read_cgroups(tcp, &cn, &n_cn))
		n_cn = 0;
	if (!host__containers(d->host, CONTAINER_NET_CGROUPS, cn, n_cn, &cs)) {
		host_metrics__containers(d->hm, cs);
		if (cs->complete)
			tcp__prune_cgroups(tcp, cgroup_alive, d->host);
	}
}

/* ps[] holds PROGS_MAX; returns how many were read */
static size_t refresh_programs(struct daemon *d, struct prog_stats *ps)
{
	struct program_runtime rt[PROGS_MAX];
	size_t n, i;

	n = collectors__prog_stats(&d->collectors, ps, PROGS_MAX);
	for (i = 0; i < n; i++) {
		rt[i].program = ps[i].program;
		rt[i].run_time_ns = ps[i].run_time_ns;
		rt[i].run_cnt = ps[i].run_cnt;
		rt[i].misses = ps[i].recursion_misses;
	}
	probe_metrics__runtime(d->probes, rt, n);
	return n;
}

/* Each second, whether or not anything scrapes: the events that come from counters and
 * lists the kernel and the collectors keep (drop bursts, OpenSSL binaries hooked), so
 * that they are logged when they happen rather than at the next scrape. */
void daemon__watch(struct daemon *d)
{
	struct tcp_collector *tcp;
	struct tls_collector *tls;

	pthread_mutex_lock(&d->lock);
	tcp = collectors__get(&d->collectors, &tcp_collector_ops);
	tls = collectors__get(&d->collectors, &tls_collector_ops);
	if (tcp && d->events && !tcp__read_drops(tcp, &d->snap))
		tcp_metrics__drop_bursts(d->tm, &d->snap);
	if (tls)
		refresh_tls(d, tls);
	pthread_mutex_unlock(&d->lock);
}

void daemon__refresh(void *ctx)
{
	struct daemon *d = ctx;
	struct tcp_collector *tcp;
	struct l7_collector *l7;
	struct proc_collector *proc;
	struct tls_collector *tls;
	struct prog_stats ps[PROGS_MAX];
	size_t n_progs;
	int svc;

	pthread_mutex_lock(&d->lock);
	tcp = collectors__get(&d->collectors, &tcp_collector_ops);
	l7 = collectors__get(&d->collectors, &l7_collector_ops);
	proc = collectors__get(&d->collectors, &proc_collector_ops);
	tls = collectors__get(&d->collectors, &tls_collector_ops);
	if (tcp && !tcp__read(tcp, &d->snap)) {
		tcp_metrics__update(d->tm, &d->snap);
		/* service_up from the kernel's listener table as of this scrape */
		for (svc = 0; svc < d->cfg.n_services; svc++)
			health__set_listeners(d->health, svc, d->snap.listeners[svc]);
		betanet_metrics__update(d->bm, &d->snap, l7 != NULL,
					d->streams ? streams__handshaken(d->streams) : 0);
	}
	if (l7) /* send queues drain with ACKs no syscall sees: read them now */
		l7__read_sndq(l7, on_sndq, d->streams);
	web_metrics__update(d->wm, streams__web(d->streams));
	spans__update(d->spans);
	daemon__health_tick(d);
	proc_metrics__health(d->pm, d->health);
	if (proc && !proc__read_runq(proc, d->runq))
		proc_metrics__runq(d->pm, d->runq);
	if (tls)
		refresh_tls(d, tls);
	n_progs = refresh_programs(d, ps);
	if (d->host && tcp)
		refresh_host(d, tcp);
	/* every loss by reason: the collectors', the model's, the parsers' */
	collectors__losses(&d->collectors, ps, n_progs, &d->losses);
	if (l7) {
		const struct web *w = streams__web(d->streams);

		losses__set(&d->losses, LOSS_L7_STREAM_TABLE_FULL, streams__evicted(d->streams));
		losses__set(&d->losses, LOSS_WS_INFLATE_EVICTED, web__inflate_evicted(w));
		losses__set(&d->losses, LOSS_WS_INFLATE_TOO_BIG, web__inflate_too_big(w));
	}
	losses__set(&d->losses, LOSS_L7_DESYNC, betanet_metrics__desyncs(d->bm));
	probe_metrics__losses(d->probes, &d->losses);
	probe_metrics__update(d->probes);
	pthread_mutex_unlock(&d->lock);
}
