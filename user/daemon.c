// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's lifecycle: what starts, in which order, and the reverse at stop. Typed
 * events from the collectors arrive in the sinks below and go to the model.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "collect/host.h"
#include "collect/l7.h"
#include "collect/probe.h"
#include "collect/proc.h"
#include "collect/tcp.h"
#include "collect/tls.h"
#include "daemon.h"
#include "export/alertmanager.h"
#include "export/http.h"
#include "lib/caps.h"
#include "export/otlp.h"
#include "lib/log.h"
#include "model/health.h"
#include "model/streams.h"
#include "telemetry/alerts.h"
#include "telemetry/betanet_metrics.h"
#include "telemetry/events.h"
#include "telemetry/host_metrics.h"
#include "telemetry/l7_events.h"
#include "telemetry/metrics.h"
#include "telemetry/probe_metrics.h"
#include "telemetry/proc_metrics.h"
#include "telemetry/spans.h"
#include "telemetry/tcp_metrics.h"
#include "telemetry/tls_metrics.h"
#include "telemetry/web_metrics.h"

#define EVENTS_PER_LOCK 64

/* ---- sinks: typed events of the collectors, on the loop's thread ---- */

/* The loop's thread takes the lock once for up to EVENTS_PER_LOCK events of a drain
 * (connections' and L7 chunks), not once each: a scrape waits for that many at most. */
static void hold(struct daemon *d)
{
	if (!d->events_locked) {
		pthread_mutex_lock(&d->lock);
		d->events_locked = EVENTS_PER_LOCK;
	}
}

static void held(struct daemon *d)
{
	if (!--d->events_locked)
		pthread_mutex_unlock(&d->lock);
}

/* The drain is over (or a sink is about to take the lock itself). */
static void on_drained(void *ctx)
{
	struct daemon *d = ctx;

	if (d->events_locked) {
		d->events_locked = 0;
		pthread_mutex_unlock(&d->lock);
	}
}

static const char *const connfail_names[TCP_CONNFAILS] = {
	[TCP_CONNFAIL_REFUSED] = "refused", [TCP_CONNFAIL_TIMEOUT] = "timeout",
	[TCP_CONNFAIL_UNREACHABLE] = "unreachable", [TCP_CONNFAIL_ABORTED] = "aborted",
	[TCP_CONNFAIL_OTHER] = "other",
};

static void on_conn(void *ctx, const struct conn_event *e)
{
	struct daemon *d = ctx;
	bool svc = e->svc >= 0 && e->svc < d->cfg.n_services;

	if (svc && e->type == CONN_CLOSE && d->spans)
		spans__tcp(d->spans, e);
	/* the event log: no peer address, the service and why (written without the
	 * lock) */
	if (svc && e->type == CONN_CONNECT_FAIL && d->events) {
		on_drained(d);
		events__emit(d->events, "connect_failure", d->cfg.services[e->svc].name,
			     json_pack("{s:s}", "reason",
				       e->reason < TCP_CONNFAILS ? connfail_names[e->reason] :
								   "other"),
			     NULL, NULL);
	}

	/* Each process that listens on a service's port serves it (SO_REUSEPORT siblings
	 * each listen): its liveness is the service's. The kernel made it a process of the
	 * service at its listen() already (crashes, exits, run-queue latency); adding it
	 * here, up to 100 ms later, could bring back one that exited meanwhile. */
	if (svc && (e->type == CONN_LISTEN || e->type == CONN_UNLISTEN)) {
		on_drained(d);
		/* It is about to serve: the OpenSSL it maps is hooked now, not at the next
		 * periodic scan (the kernel woke us for this event), and before anything
		 * that waits for the lock (a scrape may hold it): its first clients race
		 * the hooks. */
		if (e->type == CONN_LISTEN && e->pid)
			tls__scan_pid(collectors__get(&d->collectors, &tls_collector_ops), e->pid,
				      e->ts_ns);
		pthread_mutex_lock(&d->lock);
		if (e->type == CONN_LISTEN)
			health__listen(d->health, e->svc, e->pid);
		else
			health__unlisten(d->health, e->svc);
		pthread_mutex_unlock(&d->lock);
	}
	/* Connections of L7 services: the local-peer client end is parsed from its
	 * server end (the kernel does not capture it). */
	if (d->streams && svc && config__l7(&d->cfg.services[e->svc])) {
		bool server = e->end == TCP_END_SERVER;
		bool closing = e->type == CONN_CLOSE || e->type == CONN_CONNECT_FAIL;

		hold(d);
		/* A client opens before its server end (if on this host) is established,
		 * so only its close says whether it was the local-peer end. */
		if (closing && e->end == TCP_END_CLIENT_LOCALPEER)
			streams__forget(d->streams, e->key);
		else if (closing)
			streams__close(d->streams, e->key, e->ts_ns,
				       e->type == CONN_CLOSE && !e->sk_err);
		else if (e->type == CONN_RESET)
			streams__reset(d->streams, e->key);
		else if (e->type == CONN_OPEN && e->end != TCP_END_CLIENT_LOCALPEER) {
			streams__open(d->streams, e->key, e->svc, server,
				      server ? e->ts_ns : e->ts_ns - e->duration_ns);
			if (d->spans) {
				struct conn_meta m = {
					.key = e->key, .cgroup_id = e->cgroup_id,
					.connect_ns = server ? 0 : e->duration_ns,
					.local_client = server && e->local_client,
					.client_cgroup_id = e->client_cgroup_id,
				};

				if (d->cfg.otlp.peer_address)
					m.peer = e->peer;
				streams__set_meta(d->streams, e->key, &m);
			}
		}
		if (e->type == CONN_CLOSE)
			spans__conn_close(d->spans, e);
		held(d);
	}
	if (log__level() >= LOG_DEBUG)
		pr_debug("event %s service=%s comm=%s pid=%u netns=%u lport=%u rport=%u "
			 "duration_ns=%llu reason=%u err=%d sk=%llx conn_start=%llu ts=%llu\n",
			 e->type < CONN_EVENT_TYPES ? conn_event_names[e->type] : "?",
			 svc ? d->cfg.services[e->svc].name : "-", e->comm, e->pid, e->netns,
			 e->lport, e->rport, (unsigned long long)e->duration_ns, e->reason,
			 e->sk_err, (unsigned long long)e->sk, (unsigned long long)e->conn_start,
			 (unsigned long long)e->ts_ns);
}

static void on_chunk(void *ctx, uint64_t key, int svc, const struct stream_chunk *ch)
{
	struct daemon *d = ctx;

	hold(d);
	streams__data(d->streams, key, svc, ch);
	held(d);
}

static void on_process(void *ctx, const struct proc_exit *x)
{
	struct daemon *d = ctx;
	const char *svc = x->svc >= 0 ? d->cfg.services[x->svc].name : "none";

	if (x->type == PROC_RECORD_OOM) {
		pr_info("OOM kill: pid %u service=%s\n", x->pid, svc);
		proc_metrics__oom(d->pm, x);
		return;
	}
	pthread_mutex_lock(&d->lock);
	health__exit(d->health, x->pid);
	pthread_mutex_unlock(&d->lock);
	proc_metrics__exit(d->pm, x);
	if (log__level() >= LOG_DEBUG)
		pr_debug("exit pid=%u comm=%s service=%s code=0x%x sig=%d si_code=%d oom=%u\n",
			 x->pid, x->comm, svc, x->exit_code, x->sig, x->si_code, x->oom);
}

static void on_probe(void *ctx, int svc, bool ok, double seconds)
{
	struct daemon *d = ctx;

	pthread_mutex_lock(&d->lock);
	health__probe(d->health, svc, ok, seconds);
	pthread_mutex_unlock(&d->lock);
}

void daemon__adopt_listener(struct daemon *d, uint32_t tgid, int svc, const char *when)
{
	struct proc_collector *proc = collectors__get(&d->collectors, &proc_collector_ops);
	int e;

	health__add_preexisting(d->health, svc, tgid);
	if (proc)
		proc__add_task(proc, tgid, (__u8)svc);
	e = l7__watch_process(collectors__get(&d->collectors, &l7_collector_ops), tgid, svc);
	if (e)
		pr_warn("%spid %u: its older connections are not parsed: %s\n", when, tgid,
			strerror(-e));
}

static void add_preexisting(void *ctx, __u32 tgid, int svc)
{
	daemon__adopt_listener(ctx, tgid, svc, "");
}

/* ---- HTTP handlers ---- */

static bool is_ready(void *ctx)
{
	return atomic_load(&((struct daemon *)ctx)->ready);
}

static int events_json(void *ctx, unsigned long long since, struct strbuf *out)
{
	return events__render(((struct daemon *)ctx)->events, since, out);
}

static int alerts_json(void *ctx, struct strbuf *out)
{
	return alerts__render(((struct daemon *)ctx)->alerts, out);
}

/* The alert rules and their delivery: families on the registry, no thread yet. */
static int daemon__alert_engine(struct daemon *d)
{
	struct alerts_config *ac = &d->cfg.alerts;
	char err[512], host[ALERT_VALUE_LEN] = "", url[CONFIG_LISTEN_LEN + 32];
	struct alert_engine_opts o = { .cfg = ac, .reg = d->reg, .events = d->events };

	d->notifier = notifier__new(d->reg, ac, err, sizeof(err));
	if (!d->notifier) {
		pr_warn("%s\n", err);
		return -ENOMEM;
	}
	if (ac->instance[0])
		snprintf(host, sizeof(host), "%s", ac->instance);
	else if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	snprintf(url, sizeof(url), "http://%s/api/v1/alerts", d->cfg.listen);
	o.instance = host;
	o.generator_url = url;
	o.sink.send = notifier__send;
	o.sink.ctx = d->notifier;
	d->alerts = alerts__new(&o, err, sizeof(err));
	if (!d->alerts) {
		pr_warn("%s\n", err);
		return -EINVAL;
	}
	return 0;
}

void daemon__alerts_tick(struct daemon *d, uint64_t scheduled_ns)
{
	struct timespec now;
	uint64_t mono;

	daemon__refresh(d);
	clock_gettime(CLOCK_REALTIME, &now);
	mono = daemon__now_ns();
	alerts__eval(d->alerts, (double)now.tv_sec + now.tv_nsec / 1e9 -
					(double)(mono > scheduled_ns ? mono - scheduled_ns : 0) / 1e9);
}

/* ---- lifecycle ---- */

void daemon__start_checker(struct daemon *d)
{
	d->checker = health_checker__start(&d->cfg, on_probe, d);
}

int daemon__metrics(struct daemon *d)
{
	const struct config *cfg = &d->cfg;
	char err[256], lib[32];

	snprintf(lib, sizeof(lib), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	d->reg = metrics__new(0);
	if (!d->reg)
		return -ENOMEM;
	d->events = events__new(d->opts.events_path, 0, err, sizeof(err));
	if (!d->events) {
		pr_warn("%s\n", err);
		return -EINVAL;
	}
	d->tm = tcp_metrics__new(d->reg, cfg);
	if (d->tm)
		tcp_metrics__set_events(d->tm, d->events);
	d->bm = betanet_metrics__new(d->reg, cfg);
	d->pm = proc_metrics__new(d->reg, cfg, d->events);
	d->wm = web_metrics__new(d->reg, cfg);
	d->tlsm = tls_metrics__new(d->reg);
	if (d->tlsm)
		tls_metrics__set_events(d->tlsm, d->events);
	d->probes = probe_metrics__new(d->reg, lib);
	if (cfg->host.enabled || cfg->containers.enabled)
		d->hm = host_metrics__new(d->reg, cfg->host.enabled, cfg->containers.enabled);
	if (!d->tm || !d->bm || !d->pm || !d->wm || !d->tlsm || !d->probes ||
	    ((cfg->host.enabled || cfg->containers.enabled) && !d->hm))
		return -ENOMEM;
	if (cfg->otlp.enabled) {
		struct spans_opts so = { .cfg = cfg, .reg = d->reg,
					 .tcp = tcp_metrics__exemplar_sink(d->tm) };

		/* the container and pod of a span's socket (resource attributes) */
		d->cgnames = cgroup_names__new(d->cgroot);
		if (d->cgnames) {
			so.cgroup_ref = cgroup_names__ref;
			so.cgroup_ctx = d->cgnames;
		} else {
			pr_info("spans: no container or pod ids (cgroup v2 at '%s': %s)\n",
				d->cgroot, strerror(errno));
		}
		d->spans = spans__new(&so);
		d->otlp_duration = otlp__register(d->reg);
		if (!d->spans || !d->otlp_duration)
			return -ENOMEM;
		web_metrics__set_spans(d->wm, d->spans);
		betanet_metrics__set_spans(d->bm, d->spans);
	}
	if (cfg->alerts.enabled)
		return daemon__alert_engine(d);
	return 0;
}

static int start_host(struct daemon *d)
{
	const struct host_config *hc = &d->cfg.host;
	const char *root = d->opts.host_root ? d->opts.host_root : hc->root;
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
	if (e)
		pr_warn("host metrics: %s\n", err[0] ? err : strerror(-e));
	return e;
}

struct hook_rows {
	struct probe_status ps[64];
	size_t n;
};

static void publish_hook(void *ctx, const struct hook *h)
{
	struct hook_rows *r = ctx;
	int j;

	for (j = 0; j < h->n && r->n < 64; j++, r->n++) {
		r->ps[r->n].feature = h->feature;
		r->ps[r->n].program = h->program[j];
		r->ps[r->n].hook = h->hook[j];
		r->ps[r->n].attached = j == h->chosen && h->attached;
	}
}

/* fogprobe_probe_attached: every candidate hook of every running collector */
static void publish_probes(struct daemon *d)
{
	struct hook_rows r = { .n = 0 };

	collectors__each_hook(&d->collectors, publish_hook, &r);
	probe_metrics__hooks(d->probes, r.ps, r.n);
}

/*
 * Everything that needed more has run (mounts, loading, attaching, BPF_ENABLE_STATS, the
 * bind, the start-up scans). What goes on needs only these (README.md, "Privileges"):
 *   CAP_BPF             every bpf() call: map reads at each drain and scrape, the service
 *                       tables at rescans and reloads, iterators (Debian's
 *                       kernel.unprivileged_bpf_disabled refuses all of bpf() without it)
 *   CAP_SYS_PTRACE      /proc/<pid>/fd of the processes listening on an added service's
 *                       ports at a reload, /proc/1/root where host metrics stat the
 *                       filesystems: ptrace read access to a process that holds
 *                       capabilities we no longer do
 *   CAP_DAC_READ_SEARCH the same /proc/<pid>/fd of another user's process (0500, its own)
 * with the TLS collector (an http or websocket service), which hooks OpenSSL in processes
 * started later, also /proc/<pid>/maps, /proc/<pid>/root and the binaries (the two above)
 * and:
 *   CAP_SYS_ADMIN       perf_event_open() of their uprobes: the kernel's uprobe PMU
 *                       refuses CAP_PERFMON alone (EACCES, measured on 6.18; it then
 *                       covers what CAP_PERFMON would)
 * and where the socket counters are read through sock_diag (kernels that refuse
 * iterators), CAP_SYS_ADMIN too: setns() into a network namespace that service sockets
 * are in, for a sock_diag socket of its own.
 */
static void drop_capabilities(struct daemon *d)
{
	uint64_t keep = CAP_BIT(CAP_BPF_BIT) | CAP_BIT(CAP_SYS_PTRACE_BIT) |
			CAP_BIT(CAP_DAC_READ_SEARCH_BIT),
		 kept = 0;
	char names[256], bounding[512];
	int e;

	struct tcp_collector *tcp = collectors__get(&d->collectors, &tcp_collector_ops);

	if (collectors__get(&d->collectors, &tls_collector_ops) ||
	    (tcp && tcp__enters_netns(tcp)))
		keep |= CAP_BIT(CAP_SYS_ADMIN_BIT);
	e = caps__limit(keep, &kept);
	if (e)
		pr_warn("capabilities: %s; kept %s\n", strerror(-e),
			caps__names(kept, names, sizeof(names)));
	else if (caps__bounding() == kept)
		pr_info("capabilities: kept %s; every other one dropped from the effective, "
			"permitted and bounding sets of every thread\n",
			caps__names(kept, names, sizeof(names)));
	else
		pr_info("capabilities: kept %s, every other one dropped from the effective and "
			"permitted sets of every thread; the bounding set stays as given (no "
			"CAP_SETPCAP): %s\n",
			caps__names(kept, names, sizeof(names)),
			caps__names(caps__bounding(), bounding, sizeof(bounding)));
}

int daemon__start(struct daemon *d)
{
	struct http_handlers hh = {
		.before_scrape = daemon__refresh, .ready = is_ready, .events = events_json,
		.alerts = alerts_json, .ctx = d,
	};
	struct collector_env env = {
		.cfg = &d->cfg,
		.tables = &d->tables,
		.disable = d->opts.disable,
		.cgroot = d->cgroot,
		.capture_bytes = d->opts.capture_bytes,
		.bpf_stats = d->opts.bpf_stats,
		.sinks = { .conn = on_conn, .chunk = on_chunk, .drained = on_drained,
			   .process = on_process, .ctx = d },
	};
	char err[256];
	int e, i, n;

	/* A fixed threshold: glibc's own rises to the largest mapped block freed (the
	 * kernel's BTF, parsed at each BPF load: several MB), after which each scrape's
	 * buffers come from the heap and leave it fragmented, its free chunks resident
	 * (12 MB of a 23 MB heap under connection churn). */
	mallopt(M_MMAP_THRESHOLD, DAEMON_MMAP_THRESHOLD);
	pthread_mutex_init(&d->lock, NULL);
	e = probe__cgroup2_root(d->cgroot, sizeof(d->cgroot));
	if (e)
		return e;
	e = services__build(&d->cfg, d->cgroot, &d->tables);
	if (e) {
		pr_warn("building service tables: %s\n", strerror(-e));
		return e;
	}
	e = daemon__metrics(d);
	if (e)
		goto fail;
	d->health = health__new(d->cfg.n_services);
	if (!d->health) {
		e = -ENOMEM;
		goto fail;
	}
	e = start_host(d);
	if (e)
		goto fail;
	hh.registry = d->reg;
	if (!d->alerts)
		hh.alerts = NULL;
	e = notifier__start(d->notifier);
	if (e) {
		pr_warn("starting alert delivery: %s\n", strerror(-e));
		goto fail;
	}
	/* Serve /healthz while loading; /readyz turns 200 once attached. */
	d->http = http__start(d->cfg.listen, &d->cfg.tls, &d->cfg.auth, &hh, err,
			      sizeof(err));
	if (!d->http) {
		pr_warn("%s\n", err);
		e = -EINVAL;
		goto fail;
	}
	d->l7ev = l7_events__new(&d->cfg, d->events, d->spans);
	if (!d->l7ev) {
		e = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < d->cfg.n_services && !d->streams; i++)
		if (config__l7(&d->cfg.services[i])) {
			struct streams_opts so = {
				.routing_timeout_ns = (uint64_t)(d->opts.routing_timeout * 1e9),
				.cfg = &d->cfg,
				.sink = betanet_metrics__sink(d->bm),
				.web_sink = web_metrics__sink(d->wm),
				.web_trace_sink = l7_events__web_sink(d->l7ev),
				.trace_sink = l7_events__betanet_sink(d->l7ev),
			};

			d->streams = streams__new(&so);
			if (!d->streams) {
				e = -ENOMEM;
				goto fail;
			}
		}
	if (d->spans) {
		d->otlp = otlp__start(&d->cfg, d->spans, d->reg, d->otlp_duration, err,
				      sizeof(err));
		if (!d->otlp) {
			pr_warn("%s\n", err);
			e = -EINVAL;
			goto fail;
		}
	}
	/* Namespaces are found through cgroup.procs, which names no process outside our
	 * pid namespace: in a pod, only with hostPID. */
	if (d->cfg.containers.enabled && d->cfg.containers.network != CONTAINER_NETWORK_CGROUP &&
	    !host__host_pids()) {
		if (d->cfg.containers.network == CONTAINER_NETWORK_AUTO) {
			d->cfg.containers.network = CONTAINER_NETWORK_CGROUP;
			pr_info("containers: not in the host's pid namespace (hostPID): network bytes "
				"per cgroup\n");
		} else {
			pr_warn("containers.network netns: not in the host's pid namespace (hostPID): "
				"cgroup.procs names no container process, no network series\n");
		}
	}
	collectors__probe(&env);
	pthread_mutex_lock(&d->lock); /* a scrape reads the set */
	e = collectors__open(&d->collectors, &env);
	pthread_mutex_unlock(&d->lock);
	if (e)
		goto fail;
	/* Listeners opened before the probe: the kernel reported none of them. */
	n = proc__scan_listeners(proc__procfs(), d->cgroot, &d->tables, add_preexisting, d);
	if (n > 0)
		pr_info("%d processes already listening on service ports\n", n);
	/* before the checker's thread, which needs none */
	drop_capabilities(d);
	for (i = 0; i < d->cfg.n_services; i++)
		if (d->cfg.services[i].check.connect)
			health__set_checked(d->health, i);
	daemon__start_checker(d);
	publish_probes(d);
	daemon__refresh(d);
	/* what the loads freed below the threshold, given back */
	malloc_trim(0);
	atomic_store(&d->ready, true);
	pr_info("fogprobe %s ready: %d services, metrics on %s://%s/metrics%s\n",
		FOGPROBE_VERSION, d->cfg.n_services, d->cfg.tls.cert_file[0] ? "https" : "http",
		d->cfg.listen,
		d->cfg.auth.type == AUTH_BASIC	? " (basic auth)" :
		d->cfg.auth.type == AUTH_BEARER ? " (bearer token)" :
						  "");
	return 0;
fail:
	daemon__stop(d);
	return e;
}

void daemon__stop(struct daemon *d)
{
	atomic_store(&d->ready, false);
	http__stop(d->http);
	d->http = NULL;
	health_checker__stop(d->checker);
	d->checker = NULL;
	collectors__close(&d->collectors);
	otlp__stop(d->otlp); /* no span comes after the collectors */
	d->otlp = NULL;
	streams__free(d->streams);
	d->streams = NULL;
	l7_events__free(d->l7ev);
	d->l7ev = NULL;
	host__free(d->host);
	d->host = NULL;
	health__free(d->health);
	d->health = NULL;
	alerts__free(d->alerts);
	notifier__free(d->notifier);
	d->alerts = NULL, d->notifier = NULL;
	host_metrics__free(d->hm);
	probe_metrics__free(d->probes);
	tls_metrics__free(d->tlsm);
	web_metrics__free(d->wm);
	proc_metrics__free(d->pm);
	betanet_metrics__free(d->bm);
	tcp_metrics__free(d->tm);
	events__free(d->events);
	spans__free(d->spans);
	cgroup_names__free(d->cgnames);
	d->spans = NULL;
	metrics__free(d->reg);
	d->hm = NULL, d->probes = NULL, d->tlsm = NULL, d->wm = NULL, d->pm = NULL;
	d->bm = NULL, d->tm = NULL, d->events = NULL, d->reg = NULL;
}

/* ---- subcommands ---- */

int cmd_run(struct daemon *d)
{
	int err;

	daemon__signals();
	err = daemon__start(d);

	if (err)
		return 1;
	err = daemon__loop(d);
	daemon__stop(d);
	return err ? 1 : 0;
}

static void print_family(void *ctx, const struct metric_info *fi)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	size_t i;

	(void)ctx;
	printf("%s\t%s\t", fi->name, types[fi->type]);
	for (i = 0; i < fi->n_labels; i++)
		printf("%s%s", i ? "," : "", fi->label_names[i]);
	printf("\t%s\n", fi->help);
}

/* The alert rules in effect, in the config's syntax. */
int cmd_rules(struct daemon *d)
{
	struct strbuf out;
	int err;

	d->opts.events_path = NULL;
	d->cfg.alerts.enabled = 1;
	err = daemon__metrics(d);
	strbuf__init(&out);
	if (!err)
		err = alerts__rules_json(d->alerts, &out);
	if (!err)
		fputs(out.buf, stdout);
	strbuf__free(&out);
	daemon__stop(d);
	return err ? 1 : 0;
}

/* Every family the daemon can register, host and container families included. */
int cmd_metrics(struct daemon *d)
{
	int err;

	d->cfg.host.enabled = 1;
	d->cfg.containers.enabled = 1;
	d->cfg.alerts.enabled = 1;
	d->cfg.otlp.enabled = 1;
	d->opts.events_path = NULL;
	err = daemon__metrics(d);
	if (!err)
		metrics__each_family(d->reg, print_family, NULL);
	daemon__stop(d);
	return err ? 1 : 0;
}
