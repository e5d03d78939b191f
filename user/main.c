// SPDX-License-Identifier: GPL-2.0-only
/*
 * fogprobe: wiring and the event loop. Modules do the work; this file connects
 * collect -> model -> telemetry -> export and owns signals.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include <sys/epoll.h>
#include <sys/statvfs.h>

#include "collect/host.h"
#include "collect/l7.h"
#include "collect/probe.h"
#include "collect/proc.h"
#include "collect/tcp.h"
#include "collect/tls.h"
#include "export/http.h"
#include "lib/config.h"
#include "lib/log.h"
#include "model/health.h"
#include "collect/services.h"
#include "model/streams.h"
#include "telemetry/betanet_metrics.h"
#include "telemetry/host_metrics.h"
#include "telemetry/events.h"
#include "telemetry/web_metrics.h"
#include "telemetry/metrics.h"
#include "telemetry/proc_metrics.h"
#include "telemetry/tcp_metrics.h"
#include "telemetry/tls_metrics.h"

#define POLL_MS 100 /* ring buffer drain period: producers only wake us when it fills */
#define PROGS_MAX 128 /* BPF programs of all objects, for bpf_stats */
#define RESCAN_S 5 /* cgroup prefixes resolve to new cgroups */

static volatile sig_atomic_t stopping;

struct daemon {
	struct config cfg;
	char cgroot[256];
	struct service_tables tables;
	struct tcp_collector *tcp;
	struct l7_collector *l7; /* NULL: no L7 service, or the capture is unavailable */
	struct tls_collector *tls; /* NULL: no L7 capture, or uprobes unavailable */
	struct tls_metrics *tlsm;
	struct streams *streams;
	bool capture[FP_MAX_SERVICES];
	__u32 capture_bytes;
	double routing_timeout;
	struct metrics *reg;
	struct tcp_metrics *tm;
	struct betanet_metrics *bm;
	struct host_collector *host; /* NULL: host and container metrics both off */
	struct host_metrics *hm;
	const char *host_root; /* --host-root, overrides the config */
	struct web_metrics *wm;
	struct tcp_snapshot snap;
	struct proc_collector *proc; /* NULL: the process signals are unavailable */
	struct proc_metrics *pm;
	struct health *health;
	struct health_checker *checker;
	struct event_log *events;
	const char *events_path;
	struct fp_runq_hist runq[FP_MAX_SERVICES];
	pthread_mutex_t refresh_lock;
	bool ready;
	const char *disable;
	bool sndq_keep; /* send queues kept by the kernel (no map iterator) */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: fogprobe [OPTIONS]          run the probe daemon\n"
		"       fogprobe check              report the hooks this kernel offers\n"
		"\n"
		"Zero-instrumentation eBPF probe for the Fog Compute services: TCP loss,\n"
		"latency and throughput, Betanet, HTTP(S) and BitChat messages, process and\n"
		"host signals per service, served as Prometheus metrics.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE        JSON config (default: built-in Fog Compute services)\n"
		"  -l, --listen HOST:PORT   metrics endpoint (default %s; overrides config)\n"
		"      --log-format FORMAT  text (default) or json\n"
		"      --capture-bytes N    L7 payload prefix captured per read/write for services\n"
		"                           without their own \"capture\" (default %d for Betanet,\n"
		"                           %d for HTTP/WebSocket, at most %d)\n"
		"      --routing-timeout S  Betanet request without a response after S seconds is\n"
		"                           a routing failure (default 5)\n"
		"      --events FILE        crash/OOM/exit events as JSON lines: - for stdout\n"
		"                           (default), none to keep them for /api/events only\n"
		"      --disable-hooks LIST comma-separated hook prefixes not to use, e.g.\n"
		"                           tp_btf (forces the tracepoint fallbacks), iter,\n"
		"                           uprobe, tracepoint/syscalls (see fogprobe check)\n"
		"      --host-root DIR      the host's / as mounted here (e.g. /host in a pod):\n"
		"                           host metrics read DIR/proc, DIR/sys and mounts under DIR\n"
		"  -v, --verbose            debug logging, libbpf's included\n"
		"  -V, --version            print the version and exit\n"
		"  -h, --help               print this help and exit\n"
		"\n"
		"Endpoints: /metrics (Prometheus text 0.0.4, OpenMetrics, gzip), /healthz, /readyz,\n"
		"/api/events (recent crash/OOM/exit events, JSON; ?since=SEQ).\n"
		"Exit codes: 0 ok, 1 runtime error or kernel unsupported, 2 usage or config error.\n",
		CONFIG_DEFAULT_LISTEN, FP_L7_CAP_DEFAULT, FP_L7_CAP_HTTP_DEFAULT, FP_L7_CAP_MAX);
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void print_tls_binary(void *ctx, const char *path, bool symbols)
{
	(void)ctx;
	printf("%-20s %s %s\n", "tls binary", path,
	       symbols ? "SSL_read/SSL_write found: hookable" : "no symbols: not hookable");
}

static int cmd_check(const char *disable)
{
	struct tcp_hook hooks[32];
	bool ok = true;
	size_t n, i;
	int j;
	char cg[256];

	n = tcp__plan(hooks, 31, disable);
	n += l7__plan(hooks + n, 32 - n, disable);
	n += proc__plan(hooks + n, 32 - n, disable);
	n += tls__plan(hooks + n, 32 - n, disable);
	printf("%-20s %-40s %-10s %s\n", "FEATURE", "HOOK", "AVAILABLE", "CHOSEN");
	for (i = 0; i < n; i++) {
		for (j = 0; j < hooks[i].n; j++)
			printf("%-20s %-40s %-10s %s\n", j ? "" : hooks[i].feature,
			       hooks[i].hook[j],
			       hooks[i].disabled[j] ? "disabled" :
			       hooks[i].available[j] ? "yes" :
						       "no",
			       j == hooks[i].chosen ? "<- chosen" : "");
		if (hooks[i].chosen < 0) {
			printf("%-20s %-40s %-10s %s\n", "", "(none)", "",
			       hooks[i].required ? "REQUIRED: cannot run" : "disabled");
			if (hooks[i].required)
				ok = false;
		}
	}
	printf("\n%-20s %s\n", "btf",
	       access("/sys/kernel/btf/vmlinux", R_OK) ? "missing: CO-RE cannot relocate" :
							 "/sys/kernel/btf/vmlinux");
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		ok = false;
	if (probe__cgroup2_root(cg, sizeof(cg)))
		ok = false;
	else
		printf("%-20s %s\n", "cgroup2", cg);
	tls__discover(print_tls_binary, NULL);
	printf("%-20s %s\n", "kprobes",
	       probe__kprobes_available() ? "available (not needed)" :
					    "not built in (not needed)");
	printf("\n%s\n", ok ? "ok: fogprobe can run on this kernel" :
			      "FAIL: fogprobe cannot run on this kernel");
	return ok ? 0 : 1;
}

static void on_event(void *ctx, const struct fp_conn_event *e)
{
	static const char *const names[] = { "?", "open", "close", "connect_fail",
					      "listen", "unlisten", "reset" };
	struct daemon *d = ctx;

	/* The process that listens on a service's port serves it: its crashes, run-queue
	 * latency and liveness are the service's. */
	if (e->svc < d->cfg.n_services && (e->type == FP_EV_LISTEN || e->type == FP_EV_UNLISTEN)) {
		pthread_mutex_lock(&d->refresh_lock);
		if (e->type == FP_EV_LISTEN) {
			health__listen(d->health, e->svc, e->pid);
			if (d->proc && e->pid)
				proc__add_task(d->proc, e->pid, e->svc);
		} else {
			health__unlisten(d->health, e->svc);
		}
		pthread_mutex_unlock(&d->refresh_lock);
	}
	/* Connections of L7 services: the local-peer client end is parsed from its
	 * server end (the kernel does not capture it). */
	if (d->streams && e->svc < FP_MAX_SERVICES && d->capture[e->svc]) {
		bool server = e->kind == FP_KIND_SERVER;
		bool closing = e->type == FP_EV_CLOSE || e->type == FP_EV_CONNECT_FAIL;

		pthread_mutex_lock(&d->refresh_lock);
		/* A client opens before its server end (if on this host) is established,
		 * so only its close says whether it was the local-peer end. */
		uint64_t key = streams__key(e->sk, e->conn_start);

		if (closing && e->kind == FP_KIND_CLIENT_LOCALPEER)
			streams__forget(d->streams, key);
		else if (closing)
			streams__close(d->streams, key, e->ts_ns);
		else if (e->type == FP_EV_RESET)
			streams__reset(d->streams, key);
		else if (e->type == FP_EV_OPEN && e->kind != FP_KIND_CLIENT_LOCALPEER)
			streams__open(d->streams, key, e->svc, server,
				      server ? e->ts_ns : e->ts_ns - e->duration_ns);
		pthread_mutex_unlock(&d->refresh_lock);
	}
	if (log__level() >= LOG_DEBUG)
		pr_debug("event %s service=%s comm=%s pid=%u netns=%u lport=%u rport=%u "
			 "duration_ns=%llu reason=%u err=%d sk=%llx conn_start=%llu ts=%llu\n",
			 e->type < 7 ? names[e->type] : "?",
			 e->svc < d->cfg.n_services ? d->cfg.services[e->svc].name : "-",
			 e->comm, e->pid, e->netns, e->lport, e->rport,
			 (unsigned long long)e->duration_ns, e->reason, e->sk_err,
			 (unsigned long long)e->sk, (unsigned long long)e->conn_start,
			 (unsigned long long)e->ts_ns);
}

static void on_l7(void *ctx, const struct fp_l7_event *e)
{
	struct daemon *d = ctx;

	/* metadata only: payload bytes never leave the daemon */
	if (log__level() >= LOG_DEBUG)
		pr_debug("l7 sk=%llx conn_start=%llu svc=%u kind=%u dir=%s len=%u cap=%u tail=%u "
			 "ts=%llu flags=%s\n",
			 (unsigned long long)e->sk, (unsigned long long)e->conn_start, e->svc,
			 e->kind, e->dir == FP_TX ? "tx" : "rx", e->len, e->cap, e->tail,
			 (unsigned long long)e->ts_ns, e->flags & FP_L7_F_TLS ? "tls" : "-");
	struct stream_snip snips[FP_L7_SNIPS];
	const struct fp_l7_snip *sn = (const void *)(e->data + e->cap + e->tail);
	size_t i;

	for (i = 0; i < e->nsnip && i < FP_L7_SNIPS; i++) {
		snips[i].off = sn[i].off;
		snips[i].len = e->len - sn[i].off < FP_L7_SNIP_BYTES ? e->len - sn[i].off :
								       FP_L7_SNIP_BYTES;
		snips[i].bytes = sn[i].bytes;
	}
	struct stream_chunk ch = {
		.is_server = e->kind == FP_KIND_SERVER,
		.tx = e->dir == FP_TX,
		.tls = e->flags & FP_L7_F_TLS,
		.sndq = e->sndq,
		.data = e->data,
		.captured = e->cap,
		.total = e->len,
		.snips = snips,
		.nsnip = i,
		.tail = e->tail ? e->data + e->cap : NULL,
		.tail_len = e->tail,
		.ts_ns = e->ts_ns,
	};

	pthread_mutex_lock(&d->refresh_lock);
	streams__data(d->streams, streams__key(e->sk, e->conn_start), e->svc, &ch);
	pthread_mutex_unlock(&d->refresh_lock);
}

static uint64_t mono_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
}

static void on_proc(void *ctx, const struct fp_proc_event *e)
{
	struct daemon *d = ctx;
	char comm[FP_COMM_LEN + 1], sender[FP_COMM_LEN + 1], cg[512];
	struct proc_exit x = {
		.svc = e->svc < d->cfg.n_services ? e->svc : -1,
		.comm = comm,
		.pid = e->pid,
		.exit_code = e->exit_code,
		.sig = e->sig,
		.si_code = e->si_code,
		.oom = e->oom,
		.anon_rss_bytes = e->anon_rss_kb * 1024,
		.sender_pid = e->sender_pid,
		.sender_comm = sender,
	};
	struct timespec wall;
	uint64_t now = mono_ns();

	memcpy(comm, e->comm, FP_COMM_LEN);
	comm[FP_COMM_LEN] = '\0';
	memcpy(sender, e->sender_comm, FP_COMM_LEN);
	sender[FP_COMM_LEN] = '\0';
	clock_gettime(CLOCK_REALTIME, &wall);
	x.unix_time = wall.tv_sec + wall.tv_nsec / 1e9 - (now > e->ts_ns ? (now - e->ts_ns) / 1e9 : 0);
	if (e->type == FP_PROC_OOM) {
		pr_info("OOM kill: pid %u service=%s\n", e->pid,
			x.svc >= 0 ? d->cfg.services[x.svc].name : "none");
		proc_metrics__oom(d->pm, &x);
		return;
	}
	/* The cgroup outlives its last process long enough to be found by id. */
	if (e->cgroup_id && !proc__cgroup_path(d->cgroot, e->cgroup_id, cg, sizeof(cg)))
		x.cgroup = cg;
	pthread_mutex_lock(&d->refresh_lock);
	health__exit(d->health, e->pid);
	pthread_mutex_unlock(&d->refresh_lock);
	proc_metrics__exit(d->pm, &x);
	if (log__level() >= LOG_DEBUG)
		pr_debug("exit pid=%u comm=%s service=%s code=0x%x sig=%d si_code=%d oom=%u\n",
			 e->pid, comm, x.svc >= 0 ? d->cfg.services[x.svc].name : "none",
			 e->exit_code, e->sig, e->si_code, e->oom);
}

static bool alive(void *ctx, uint32_t tgid)
{
	(void)ctx;
	return proc__alive(tgid);
}

/* Health of every service now (under refresh_lock). */
static void health_tick(struct daemon *d)
{
	__u32 counts[FP_MAX_SERVICES];
	int svc;

	if (d->proc && !proc__count_tasks(d->proc, counts))
		for (svc = 0; svc < d->cfg.n_services; svc++)
			health__set_processes(d->health, svc, counts[svc]);
	health__tick(d->health, mono_ns(), alive, d);
}

static void on_probe(void *ctx, int svc, bool ok, double seconds)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->refresh_lock);
	health__probe(d->health, svc, ok, seconds);
	pthread_mutex_unlock(&d->refresh_lock);
}

static int events_json(void *ctx, unsigned long long since, struct strbuf *out)
{
	return events__render(((struct daemon *)ctx)->events, since, out);
}

static void on_sndq(void *ctx, __u64 sk, __u64 conn_start, __u32 sndq)
{
	struct daemon *d = ctx; /* refresh_lock held */

	streams__set_sndq(d->streams, streams__key(sk, conn_start), sndq);
}

static const char *reason_name(void *ctx, unsigned reason)
{
	return tcp__drop_reason_name(ctx, reason);
}

static void refresh_tls(struct daemon *d)
{
	static const char *const states[] = { "hooked", "no_symbols", "failed" };
	struct tls_hook_status st[TLS_MAX_BINARIES];
	const struct tls_binary *b;
	size_t n = tls__binaries(d->tls, &b), i;

	for (i = 0; i < n; i++) {
		st[i].binary = b[i].path;
		st[i].state = states[b[i].state];
	}
	tls_metrics__update(d->tlsm, st, n);
	tcp_metrics__lost(d->tm, "tls_unknown_socket", tls__unknown_socket(d->tls));
}

static bool cgroup_alive(void *ctx, __u64 cgid)
{
	return host__cgroup_alive(ctx, cgid);
}

/* Host and container metrics, read at scrape time like node_exporter and cAdvisor. */
static void refresh_host(struct daemon *d)
{
	const struct container_snapshot *cs;
	const struct host_snapshot *hs;
	const struct cgroup_net *cn = NULL;
	size_t n_cn = 0;

	if (d->cfg.host.enabled && !host__read(d->host, &hs))
		host_metrics__update(d->hm, hs);
	if (!d->cfg.containers.enabled)
		return;
	/* Counters first, then the walk: a counter whose cgroup the later walk does not
	 * find belongs to a removed cgroup, and its entry can go. */
	if (tcp__read_cgroups(d->tcp, &cn, &n_cn))
		n_cn = 0;
	if (!host__containers(d->host, cn, n_cn, &cs)) {
		host_metrics__containers(d->hm, cs);
		if (cs->complete)
			tcp__prune_cgroups(d->tcp, cgroup_alive, d->host);
	}
	tcp_metrics__lost(d->tm, "cgroup_map_full", d->snap.lost[FP_LOST_CGROUP_MAP]);
}

static void refresh(void *ctx)
{
	struct daemon *d = ctx;
	struct tcp_prog_stats ps[PROGS_MAX];
	struct program_runtime rt[PROGS_MAX];
	__u64 misses = 0;
	size_t n, i;

	pthread_mutex_lock(&d->refresh_lock);
	if (!tcp__read(d->tcp, &d->snap)) {
		int svc;

		tcp_metrics__update(d->tm, &d->snap, reason_name, d->tcp);
		/* service_up from the kernel's listener table as of this scrape */
		for (svc = 0; svc < d->cfg.n_services; svc++)
			health__set_listeners(d->health, svc, d->snap.listeners[svc]);
		betanet_metrics__update(d->bm, &d->snap, d->l7,
					d->streams ? streams__handshaken(d->streams) : 0);
	}
	if (d->l7) /* send queues drain with ACKs no syscall sees: read them now */
		l7__read_sndq(d->l7, on_sndq, d);
	web_metrics__update(d->wm, streams__web(d->streams));
	if (d->l7) {
		__u64 st[2];

		if (!l7__stats(d->l7, st))
			tcp_metrics__lost(d->tm, "l7_ringbuf_full", st[0]);
		tcp_metrics__lost(d->tm, "l7_stream_table_full", streams__evicted(d->streams));
		tcp_metrics__lost(d->tm, "l7_malformed", l7__malformed(d->l7));
	}
	tcp_metrics__lost(d->tm, "l7_desync", betanet_metrics__desyncs(d->bm));
	health_tick(d);
	proc_metrics__health(d->pm, d->health);
	if (d->proc) {
		__u64 lost[FP_PROC_LOSTS + 1];

		if (!proc__read_runq(d->proc, d->runq))
			proc_metrics__runq(d->pm, d->runq);
		if (!proc__lost(d->proc, lost)) {
			tcp_metrics__lost(d->tm, "proc_ringbuf_full", lost[FP_PROC_LOST_RINGBUF]);
			tcp_metrics__lost(d->tm, "proc_task_map_full", lost[FP_PROC_LOST_TASKS]);
			tcp_metrics__lost(d->tm, "runqueue_start_map_full", lost[FP_PROC_LOST_START]);
			tcp_metrics__lost(d->tm, "proc_malformed", lost[FP_PROC_LOSTS]);
		}
	}
	if (d->tls)
		refresh_tls(d);
	n = tcp__prog_stats(d->tcp, ps, PROGS_MAX);
	if (d->l7)
		n += l7__prog_stats(d->l7, ps + n, PROGS_MAX - n);
	if (d->proc)
		n += proc__prog_stats(d->proc, ps + n, PROGS_MAX - n);
	if (d->tls)
		n += tls__prog_stats(d->tls, ps + n, PROGS_MAX - n);
	for (i = 0; i < n; i++) {
		rt[i].program = ps[i].program;
		rt[i].run_time_ns = ps[i].run_time_ns;
		rt[i].run_cnt = ps[i].run_cnt;
		misses += ps[i].recursion_misses;
	}
	tcp_metrics__runtime(d->tm, rt, n);
	/* A classic tracepoint program does not run while another tracing program runs on
	 * that CPU (an interrupt during a syscall hook): the kernel counts those runs. */
	tcp_metrics__lost(d->tm, "bpf_recursion", misses);
	if (d->host)
		refresh_host(d);
	pthread_mutex_unlock(&d->refresh_lock);
}

static bool is_ready(void *ctx)
{
	return ((struct daemon *)ctx)->ready;
}

static void publish_probes(struct daemon *d)
{
	const struct tcp_hook *h;
	struct probe_status ps[64];
	size_t n, i, k = 0;
	int j, src;

	for (src = 0; src < 4; src++) {
		if (src == 0)
			n = tcp__hooks(d->tcp, &h);
		else if (src == 1 && d->l7)
			n = l7__hooks(d->l7, &h);
		else if (src == 2 && d->proc)
			n = proc__hooks(d->proc, &h);
		else if (src == 3 && d->tls)
			n = tls__hooks(d->tls, &h);
		else
			continue;
		for (i = 0; i < n; i++)
			for (j = 0; j < h[i].n && k < 64; j++, k++) {
				ps[k].feature = h[i].feature;
				ps[k].program = h[i].program[j];
				ps[k].hook = h[i].hook[j];
				ps[k].attached = j == h[i].chosen && h[i].attached;
			}
	}
	tcp_metrics__probes(d->tm, ps, k);
}

static int epoll_watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* TLS plaintext from OpenSSL uprobes, into the L7 capture's ring: optional too. */
static void start_tls(struct daemon *d)
{
	struct tls_collector_opts o = {
		.flows_fd = l7__map_fd(d->l7, "flows"),
		.gone_flows_fd = l7__map_fd(d->l7, "gone_flows"),
		.sndq_fd = l7__map_fd(d->l7, "sndq_now"),
		.svc_fd = l7__map_fd(d->l7, "l7_svc"),
		.events_fd = l7__map_fd(d->l7, "l7_events"),
		.stats_fd = l7__map_fd(d->l7, "l7_stats"),
		.ssl_fd = l7__map_fd(d->l7, "l7_ssl"),
		.tasks_fd = l7__map_fd(d->l7, "l7_tasks"),
		.disable = d->disable,
	};
	struct tls_collector *tls;
	int err = tls__open(&o, &tls);

	if (err) {
		pr_warn("TLS plaintext capture unavailable (%s): HTTPS is seen as ciphertext\n",
			strerror(-err));
		return;
	}
	pr_info("tls: %d OpenSSL binaries hooked or reported\n", tls__scan(tls));
	pthread_mutex_lock(&d->refresh_lock); /* a scrape reads d->tls */
	d->tls = tls;
	pthread_mutex_unlock(&d->refresh_lock);
}

/* The L7 capture is optional: without it the TCP families still work and the Betanet
 * families that need payload stay at zero; the reason is logged and exported. */
static void start_l7(struct daemon *d)
{
	struct l7_collector_opts o = {
		.flows_fd = tcp__flows_fd(d->tcp),
		.gone_flows_fd = tcp__gone_flows_fd(d->tcp),
		.sndq_fd = tcp__sndq_fd(d->tcp),
		.sndq_iterator = !d->sndq_keep,
		.disable = d->disable,
		.on_event = on_l7,
		.ctx = d,
	};
	struct streams_opts so = {
		.routing_timeout_ns = (uint64_t)(d->routing_timeout * 1e9),
		.cfg = &d->cfg,
		.sink = betanet_metrics__sink(d->bm),
		.web_sink = web_metrics__sink(d->wm),
	};
	bool any = false;
	int i, err;

	/* the protocols with a parser; the prefix: the service's "capture", else
	 * --capture-bytes, else what the protocol needs (an HTTP head, a Betanet header) */
	for (i = 0; i < d->cfg.n_services; i++) {
		const struct service_config *sc = &d->cfg.services[i];
		bool web = sc->protocol == FP_PROTO_HTTP || sc->protocol == FP_PROTO_WEBSOCKET;

		d->capture[i] = web || sc->protocol == FP_PROTO_BETANET;
		if (!d->capture[i])
			continue;
		o.svc[i].mode = web ? FP_L7_TAIL : FP_L7_LENGTH_PREFIXED;
		if (sc->protocol == FP_PROTO_WEBSOCKET) /* message_queue_size */
			o.svc[i].sndq = FP_L7_SNDQ_EVENT | (d->sndq_keep ? FP_L7_SNDQ_KEEP : 0);
		/* a client may read a response before its request's write returns; a server
		 * reads a request before it can answer. WebSocket and Betanet are duplex. */
		o.server_in_order[i] = sc->protocol == FP_PROTO_HTTP;
		o.svc[i].cap = sc->capture	? sc->capture :
			       d->capture_bytes ? d->capture_bytes :
			       web		? FP_L7_CAP_HTTP_DEFAULT :
						  FP_L7_CAP_DEFAULT;
		any = true;
	}
	if (!any)
		return;
	d->streams = streams__new(&so);
	if (!d->streams)
		return;
	err = l7__open(&o, &d->l7);
	if (err) {
		pr_warn("L7 capture unavailable (%s): Betanet message, HTTP and BitChat metrics "
			"stay at zero\n",
			strerror(-err));
		d->l7 = NULL;
		return;
	}
	start_tls(d);
}

static int start_host(struct daemon *d)
{
	const struct host_config *hc = &d->cfg.host;
	const char *root = d->host_root ? d->host_root : hc->root;
	char procfs[256], sysfs[256], rootfs[256], err[256] = "";
	const char *extra[CONFIG_MAX_SERVICES];
	struct host_collector_opts o = {
		.procfs = procfs, .sysfs = sysfs, .rootfs = rootfs,
		.mounts_exclude = hc->mounts_exclude,
		.fstypes_exclude = hc->fstypes_exclude,
		.netdev_exclude = hc->netdev_exclude,
		.cgroup2_root = d->cgroot,
		.max_containers = d->cfg.containers.enabled ? d->cfg.containers.max : 0,
		.extra_cgroups = extra,
	};
	int i, e;

	if (!hc->enabled && !d->cfg.containers.enabled)
		return 0;
	if (root[0] && strcmp(root, "/")) {
		/* the node's / mounted at root */
		snprintf(procfs, sizeof(procfs), "%s/proc", root);
		snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
		snprintf(rootfs, sizeof(rootfs), "%s/", root);
	} else {
		struct statvfs sv;

		/* The host's procfs (/host/proc in the DaemonSet); the filesystems of pid 1's
		 * mountinfo are stat'ed through pid 1's root, which sees them as the host
		 * does even from a container or a sandboxed unit (ProtectHome, PrivateTmp
		 * hide some in our own mount namespace). Needs CAP_SYS_PTRACE; else our /. */
		snprintf(procfs, sizeof(procfs), "%s", proc__procfs());
		snprintf(sysfs, sizeof(sysfs), "/sys");
		snprintf(rootfs, sizeof(rootfs), "%s/1/root", proc__procfs());
		if (statvfs(rootfs, &sv)) {
			pr_info("host metrics: %s: %s, filesystems are stat'ed from our own /\n",
				rootfs, strerror(errno));
			snprintf(rootfs, sizeof(rootfs), "/");
		}
	}
	/* the cgroups of services are tracked like containers */
	for (i = 0; i < d->cfg.n_services; i++)
		if (d->cfg.services[i].cgroup[0] && strcmp(d->cfg.services[i].cgroup, "/"))
			extra[o.n_extra++] = d->cfg.services[i].cgroup;
	e = host__new(&o, &d->host, err, sizeof(err));
	if (e) {
		pr_warn("host metrics: %s\n", err[0] ? err : strerror(-e));
		return e;
	}
	d->hm = host_metrics__new(d->reg, hc->enabled, d->cfg.containers.enabled);
	return d->hm ? 0 : -ENOMEM;
}

static void add_preexisting(void *ctx, __u32 tgid, int svc)
{
	struct daemon *d = ctx;

	health__add_preexisting(d->health, svc, tgid);
	if (d->proc)
		proc__add_task(d->proc, tgid, (__u8)svc);
}

/* Process signals are optional: without them the TCP families still work, and service
 * health falls back on listeners alone (no process liveness from exits). */
static void start_proc(struct daemon *d)
{
	struct proc_collector_opts o = { .disable = d->disable, .on_event = on_proc, .ctx = d };
	int err, n, i;

	err = proc__open(&o, &d->proc);
	if (err) {
		pr_warn("process signals unavailable (%s): no run-queue, crash or OOM metrics\n",
			strerror(-err));
		d->proc = NULL;
	}
	/* Listeners opened before the probe: the kernel reported none of them. */
	n = proc__scan_listeners(proc__procfs(), d->cgroot, &d->tables, add_preexisting, d);
	if (n > 0)
		pr_info("%d processes already listening on service ports\n", n);
	for (i = 0; i < d->cfg.n_services; i++)
		if (d->cfg.services[i].check.connect)
			health__set_checked(d->health, i);
	d->checker = health_checker__start(&d->cfg, on_probe, d);
}

static int run(struct daemon *d)
{
	struct tcp_collector_opts opts = { .on_event = on_event, .ctx = d, .disable = d->disable,
					   .cgroup_net = d->cfg.containers.enabled };
	int k;
	struct http_handlers hh = {
		.before_scrape = refresh, .ready = is_ready, .events = events_json, .ctx = d,
	};
	struct http_server *http = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	struct service_tables *fresh = NULL;
	time_t last_scan = time(NULL);
	char err[256];
	int ret = 1, e, epfd = -1;

	pthread_mutex_init(&d->refresh_lock, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	e = probe__cgroup2_root(d->cgroot, sizeof(d->cgroot));
	if (e)
		return 1;
	e = services__build(&d->cfg, d->cgroot, &d->tables);
	if (e) {
		pr_warn("building service tables: %s\n", strerror(-e));
		return 1;
	}
	d->reg = metrics__new(0);
	d->tm = d->reg ? tcp_metrics__new(d->reg, &d->cfg) : NULL;
	d->bm = d->reg ? betanet_metrics__new(d->reg, &d->cfg) : NULL;
	d->events = events__new(d->events_path, 0, err, sizeof(err));
	if (!d->events) {
		pr_warn("%s\n", err);
		goto cleanup;
	}
	d->pm = d->reg ? proc_metrics__new(d->reg, &d->cfg, d->events) : NULL;
	d->health = health__new(d->cfg.n_services);
	d->wm = d->reg ? web_metrics__new(d->reg, &d->cfg) : NULL;
	d->tlsm = d->reg ? tls_metrics__new(d->reg) : NULL;
	fresh = malloc(sizeof(*fresh));
	if (!d->tm || !d->bm || !d->wm || !d->pm || !d->health || !d->tlsm || !fresh) {
		pr_warn("out of memory\n");
		goto cleanup;
	}
	if (start_host(d))
		goto cleanup;
	hh.registry = d->reg;
	/* Serve /healthz while loading; /readyz turns 200 once attached. */
	http = http__start(d->cfg.listen, &hh, err, sizeof(err));
	if (!http) {
		pr_warn("%s\n", err);
		goto cleanup;
	}
	/* send queues kept by the kernel only where no iterator reads them */
	d->sndq_keep = !l7__sndq_iterator(d->disable);
	for (k = 0; d->sndq_keep && k < d->cfg.n_services && k < FP_MAX_SERVICES; k++)
		if (d->cfg.services[k].protocol == FP_PROTO_WEBSOCKET) /* message_queue_size */
			opts.sndq_services |= 1u << k;
	e = tcp__open(&opts, &d->tables, &d->tcp);
	if (e) {
		pr_warn("cannot start the probe: %s (run `fogprobe check`)\n", strerror(-e));
		goto cleanup;
	}
	start_l7(d);
	start_proc(d);
	publish_probes(d);
	refresh(d);
	d->ready = true;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || epoll_watch(epfd, tcp__epoll_fd(d->tcp)) ||
	    (d->l7 && epoll_watch(epfd, l7__epoll_fd(d->l7))) ||
	    (d->proc && epoll_watch(epfd, proc__epoll_fd(d->proc)))) {
		pr_warn("epoll: %s\n", strerror(errno));
		goto cleanup;
	}
	pr_info("fogprobe %s ready: %d services, metrics on http://%s/metrics\n",
		FOGPROBE_VERSION, d->cfg.n_services, d->cfg.listen);

	while (!stopping) {
		struct epoll_event ev[3];
		struct timespec now;

		/* Producers only wake us when a ring fills up: drain both every POLL_MS.
		 * Lifecycle first: a connection's open precedes its first bytes. */
		epoll_wait(epfd, ev, 3, POLL_MS);
		e = tcp__poll(d->tcp, 0);
		if (e < 0 && e != -EINTR) {
			pr_warn("ring buffer: %s\n", strerror(-e));
			goto cleanup;
		}
		if (d->l7)
			l7__consume(d->l7);
		if (d->proc)
			proc__consume(d->proc);
		pthread_mutex_lock(&d->refresh_lock);
		health_tick(d);
		pthread_mutex_unlock(&d->refresh_lock);
		if (d->streams) {
			uint64_t t;

			clock_gettime(CLOCK_MONOTONIC, &now);
			t = (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
			/* the streams' time is that of the records they have been given:
			 * a close's grace runs out only when its connection's later bytes
			 * would have been handed over */
			if (d->l7 && l7__released_until(d->l7) < t)
				t = l7__released_until(d->l7);
			pthread_mutex_lock(&d->refresh_lock);
			streams__tick(d->streams, t);
			pthread_mutex_unlock(&d->refresh_lock);
		}
		if (time(NULL) - last_scan >= RESCAN_S) {
			last_scan = time(NULL);
			if (!services__build(&d->cfg, d->cgroot, fresh) &&
			    memcmp(fresh, &d->tables, sizeof(*fresh))) {
				pr_info("service cgroups changed, updating the kernel tables\n");
				memcpy(&d->tables, fresh, sizeof(*fresh));
				tcp__set_services(d->tcp, &d->tables);
			}
			/* OpenSSL binaries of processes started since (the list a scrape
			 * reads grows) */
			if (d->tls) {
				pthread_mutex_lock(&d->refresh_lock);
				tls__scan(d->tls);
				pthread_mutex_unlock(&d->refresh_lock);
			}
		}
	}
	pr_info("stopping\n");
	ret = 0;
cleanup:
	d->ready = false;
	http__stop(http);
	health_checker__stop(d->checker);
	d->checker = NULL;
	if (epfd >= 0)
		close(epfd);
	tls__close(d->tls);
	d->tls = NULL;
	l7__close(d->l7);
	d->l7 = NULL;
	proc__close(d->proc);
	d->proc = NULL;
	tcp__close(d->tcp);
	d->tcp = NULL;
	streams__free(d->streams);
	d->streams = NULL;
	betanet_metrics__free(d->bm);
	proc_metrics__free(d->pm);
	health__free(d->health);
	events__free(d->events);
	web_metrics__free(d->wm);
	tls_metrics__free(d->tlsm);
	tcp_metrics__free(d->tm);
	host_metrics__free(d->hm);
	host__free(d->host);
	metrics__free(d->reg);
	free(fresh);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "disable-hooks", required_argument, NULL, 'D' },
		{ "capture-bytes", required_argument, NULL, 'B' },
		{ "routing-timeout", required_argument, NULL, 'R' },
		{ "host-root", required_argument, NULL, 'H' },
		{ "events", required_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static struct daemon d = { .routing_timeout = 5, .events_path = "-" };
	const char *config_path = NULL, *listen = NULL;
	enum log_format fmt = LOG_FORMAT_TEXT;
	int verbose = 0, opt, e;
	char err[512];

	while ((opt = getopt_long(argc, argv, "c:l:vVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'F':
			if (!strcmp(optarg, "json")) {
				fmt = LOG_FORMAT_JSON;
			} else if (!strcmp(optarg, "text")) {
				fmt = LOG_FORMAT_TEXT;
			} else {
				fprintf(stderr, "fogprobe: --log-format must be text or json\n");
				return 2;
			}
			break;
		case 'D':
			d.disable = optarg;
			break;
		case 'E':
			d.events_path = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'B': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v < 1 || v > FP_L7_CAP_MAX) {
				fprintf(stderr, "fogprobe: --capture-bytes must be 1..%d\n",
					FP_L7_CAP_MAX);
				return 2;
			}
			d.capture_bytes = v;
			break;
		}
		case 'R': {
			char *end;
			double v = strtod(optarg, &end);

			if (*end || !(v > 0 && v <= 3600)) {
				fprintf(stderr, "fogprobe: --routing-timeout must be 0..3600 s\n");
				return 2;
			}
			d.routing_timeout = v;
			break;
		}
		case 'H':
			if (optarg[0] != '/' || strlen(optarg) >= CONFIG_ROOT_LEN) {
				fprintf(stderr, "fogprobe: --host-root must be an absolute path\n");
				return 2;
			}
			d.host_root = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("fogprobe %s (libbpf %u.%u)\n", FOGPROBE_VERSION,
			       libbpf_major_version(), libbpf_minor_version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log__setup(verbose ? LOG_DEBUG : LOG_INFO, fmt);
	if (optind < argc) {
		if (!strcmp(argv[optind], "check") && optind + 1 == argc)
			return cmd_check(d.disable);
		fprintf(stderr, "fogprobe: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (config_path) {
		e = config__load_file(config_path, &d.cfg, err, sizeof(err));
		if (e) {
			fprintf(stderr, "fogprobe: %s\n", err);
			return 2;
		}
	} else {
		config__default(&d.cfg);
	}
	if (listen) {
		if (strlen(listen) >= sizeof(d.cfg.listen)) {
			fprintf(stderr, "fogprobe: --listen value too long\n");
			return 2;
		}
		snprintf(d.cfg.listen, sizeof(d.cfg.listen), "%s", listen);
	}
	return run(&d);
}
