// SPDX-License-Identifier: GPL-2.0-only
/*
 * SIGHUP: the config file read again and applied to the running daemon. Services are
 * matched by name. A service keeps its id (the index of the kernel's counters, of its
 * flows and of its metric series) for as long as the daemon runs, so the counters of an
 * unchanged service go on from their values; an added service takes an id never used;
 * a removed one keeps its id, and its series their last values, but the kernel tables
 * no longer classify a new socket into it. What the running daemon cannot change (the
 * listen address, TLS, host and container metrics, a service's protocol and parser
 * settings) is logged and waits for a restart. A config that does not load is rejected
 * with its file:line:column and the running one stays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/l7.h"
#include "collect/proc.h"
#include "collect/tcp.h"
#include "daemon.h"
#include "export/http.h"
#include "lib/log.h"
#include "model/health.h"
#include "telemetry/probe_metrics.h"
#include "telemetry/proc_metrics.h"
#include "telemetry/web_metrics.h"

/* Settings a running service cannot change: its parser and its families follow them. */
static void restart_fields(const struct service_config *a, const struct service_config *b,
			   char *buf, size_t len)
{
	size_t o = 0;

#define DIFF(cond, name) \
	if (cond)        \
	o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? ", " : "", name)
	buf[0] = '\0';
	DIFF(a->protocol != b->protocol, "protocol");
	DIFF(a->capture != b->capture, "capture");
	DIFF(a->framework != b->framework, "framework");
	DIFF(a->n_routes != b->n_routes || memcmp(a->routes, b->routes, sizeof(a->routes)),
	     "routes");
	DIFF(a->n_ws_paths != b->n_ws_paths ||
		 memcmp(a->ws_paths, b->ws_paths, sizeof(a->ws_paths)),
	     "paths");
	DIFF(a->max_paths != b->max_paths, "max_paths");
	DIFF(a->max_rooms != b->max_rooms, "max_rooms");
	DIFF(a->ws_idle_s != b->ws_idle_s, "idle_timeout_s");
	DIFF(a->ws_inflate_conns != b->ws_inflate_conns, "inflate_max_connections");
	DIFF(a->ws_inflate_message != b->ws_inflate_message, "inflate_max_message");
#undef DIFF
}

/* What the kernel tables match on, and the synthetic check: changed in place. */
static bool take_live_fields(struct service_config *run, const struct service_config *next)
{
	bool changed =
	    run->n_ports != next->n_ports || memcmp(run->ports, next->ports, sizeof(run->ports)) ||
	    run->n_comm != next->n_comm || memcmp(run->comm, next->comm, sizeof(run->comm)) ||
	    strcmp(run->cgroup, next->cgroup) ||
	    memcmp(&run->check, &next->check, sizeof(run->check));

	memcpy(run->ports, next->ports, sizeof(run->ports));
	run->n_ports = next->n_ports;
	memcpy(run->comm, next->comm, sizeof(run->comm));
	run->n_comm = next->n_comm;
	memcpy(run->cgroup, next->cgroup, sizeof(run->cgroup));
	run->check = next->check;
	return changed;
}

static bool shares_port(const struct service_config *a, const struct service_config *b)
{
	int i, j;

	for (i = 0; i < a->n_ports; i++)
		for (j = 0; j < b->n_ports; j++)
			if (a->ports[i] == b->ports[j])
				return true;
	return false;
}

/* Listeners of added services that were listening before the reload (the kernel counts
 * the listen() calls it sees): found as the start-up scan finds them. */
#define PREEXISTING_MAX 1024
struct preexisting {
	const bool *fresh;
	size_t n;
	struct {
		__u32 tgid;
		int svc;
	} p[PREEXISTING_MAX];
};

static void on_listener(void *ctx, __u32 tgid, int svc)
{
	struct preexisting *pe = ctx;

	if (svc >= 0 && svc < CONFIG_MAX_SERVICES && pe->fresh[svc] && pe->n < PREEXISTING_MAX) {
		pe->p[pe->n].tgid = tgid;
		pe->p[pe->n].svc = svc;
		pe->n++;
	}
}

static void rejected(struct daemon *d, const char *why)
{
	pr_warn("config reload rejected: %s; the running config stays\n", why);
	pthread_mutex_lock(&d->lock);
	probe_metrics__reload(d->probes, false);
	pthread_mutex_unlock(&d->lock);
}

/* Which services of next are which ids of the merged config m (built from the running
 * one). -ENOSPC when an added service finds no id. */
static int merge_services(struct daemon *d, const struct config *next, struct config *m,
			  int slot_of[CONFIG_MAX_SERVICES], bool fresh[CONFIG_MAX_SERVICES],
			  int counts[3])
{
	char why[256];
	int i, j;

	for (i = 0; i < m->n_services; i++) {
		if (m->services[i].removed)
			continue;
		for (j = 0; j < next->n_services; j++)
			if (!strcmp(m->services[i].name, next->services[j].name))
				break;
		if (j < next->n_services)
			continue;
		m->services[i].removed = 1;
		m->services[i].check.connect = 0;
		counts[2]++;
		pr_info("reload: service %s removed: its sockets are no longer classified, its "
			"series keep their last values until a restart\n",
			m->services[i].name);
	}
	for (j = 0; j < next->n_services; j++) {
		const struct service_config *n = &next->services[j];

		slot_of[j] = -1;
		for (i = 0; i < m->n_services; i++)
			if (!m->services[i].removed && !strcmp(m->services[i].name, n->name))
				break;
		if (i < m->n_services) {
			slot_of[j] = i;
			restart_fields(&m->services[i], n, why, sizeof(why));
			if (why[0])
				pr_warn("reload: service %s: %s change at a restart; the running "
					"values stay\n",
					n->name, why);
			if (take_live_fields(&m->services[i], n)) {
				counts[1]++;
				pr_info(
				    "reload: service %s: ports, comm, cgroup or check updated\n",
				    n->name);
			}
			continue;
		}
		/* A service removed earlier and back with the same settings: its id again,
		 * its counters go on. */
		for (i = 0; i < m->n_services; i++) {
			if (!m->services[i].removed || strcmp(m->services[i].name, n->name))
				continue;
			restart_fields(&m->services[i], n, why, sizeof(why));
			if (!why[0])
				break;
		}
		if (i == m->n_services) {
			if (m->n_services >= CONFIG_MAX_SERVICES)
				return -ENOSPC;
			i = m->n_services++;
		}
		m->services[i] = *n;
		slot_of[j] = i;
		fresh[i] = true;
		counts[0]++;
		pr_info("reload: service %s added\n", n->name);
	}
	(void)d;
	return 0;
}

int daemon__reload(struct daemon *d)
{
	struct tcp_collector *tcp = collectors__get(&d->collectors, &tcp_collector_ops);
	struct l7_collector *l7 = collectors__get(&d->collectors, &l7_collector_ops);
	struct config *next = malloc(sizeof(*next)), *m = malloc(sizeof(*m));
	struct service_tables *tables = malloc(sizeof(*tables));
	struct preexisting *pe = calloc(1, sizeof(*pe));
	bool fresh[CONFIG_MAX_SERVICES] = {false};
	int slot_of[CONFIG_MAX_SERVICES], counts[3] = {0}, i, j, e;
	char err[512];

	if (!next || !m || !tables || !pe) {
		e = -ENOMEM;
		rejected(d, strerror(ENOMEM));
		goto cleanup;
	}
	if (!d->opts.config_path) {
		pr_info("reload: no --config file, the built-in config has nothing to re-read\n");
		e = 0;
		goto cleanup;
	}
	pr_info("reload: reading %s\n", d->opts.config_path);
	e = config__load_file(d->opts.config_path, next, err, sizeof(err));
	if (e) {
		rejected(d, err);
		goto cleanup;
	}
	*m = d->cfg;
	if (!d->opts.listen && strcmp(next->listen, d->cfg.listen))
		pr_warn("reload: listen %s takes effect at a restart; serving on %s\n",
			next->listen, d->cfg.listen);
	if (memcmp(&next->tls, &d->cfg.tls, sizeof(next->tls)))
		pr_warn("reload: tls changes at a restart; the running certificate stays\n");
	if (memcmp(&next->host, &d->cfg.host, sizeof(next->host)) ||
	    memcmp(&next->containers, &d->cfg.containers, sizeof(next->containers)))
		pr_warn("reload: host and containers change at a restart\n");
	if (memcmp(&next->auth, &d->cfg.auth, sizeof(next->auth)))
		pr_info("reload: new endpoint credentials\n");
	m->auth = next->auth; /* the next request asks for them (a password_file re-read) */
	e = merge_services(d, next, m, slot_of, fresh, counts);
	if (e) {
		snprintf(err, sizeof(err),
			 "%s: more than %d services added since the start "
			 "(removed ones keep their ids): restart to apply it",
			 d->opts.config_path, CONFIG_MAX_SERVICES);
		rejected(d, err);
		goto cleanup;
	}
	/* The first matching service wins: ids give the kernel's order. */
	for (i = 0; i < next->n_services; i++)
		for (j = i + 1; j < next->n_services; j++)
			if (slot_of[i] > slot_of[j] &&
			    shares_port(&next->services[i], &next->services[j]))
				pr_warn("reload: %s now comes before %s, which shares a port: "
					"%s is matched first until a restart\n",
					next->services[i].name, next->services[j].name,
					next->services[j].name);
	e = services__build(m, d->cgroot, tables);
	if (e) {
		snprintf(err, sizeof(err), "building the service tables: %s", strerror(-e));
		rejected(d, err);
		goto cleanup;
	}

	/* the checker's thread reads the config: it stops while the config changes */
	health_checker__stop(d->checker);
	d->checker = NULL;
	pthread_mutex_lock(&d->lock);
	d->cfg = *m;
	d->tables = *tables;
	web_metrics__routes_changed(d->wm);
	e = tcp ? tcp__set_services(tcp, &d->tables) : 0;
	if (e)
		pr_warn("reload: updating the kernel's service tables: %s\n", strerror(-e));
	for (i = 0; i < d->cfg.n_services; i++) {
		const struct service_config *sc = &d->cfg.services[i];

		if (fresh[i]) {
			health__add_service(d->health, i);
			proc_metrics__add_service(d->pm, sc->name);
			if (web_metrics__add_service(d->wm, i))
				pr_warn("reload: service %s: no memory for its paths\n", sc->name);
			if (l7 && config__l7(sc))
				e = l7__set_service(l7, i, sc, d->opts.capture_bytes) ?: e;
			else if (config__l7(sc))
				pr_warn("reload: service %s: its %s messages are read after a "
					"restart (no payload capture runs now); TCP families "
					"count it already\n",
					sc->name, config__protocol_name(sc->protocol));
		}
		if (sc->check.connect && !sc->removed)
			health__set_checked(d->health, i);
	}
	http__set_auth(d->http, &d->cfg.auth);
	probe_metrics__reload(d->probes, e == 0);
	pthread_mutex_unlock(&d->lock);
	if (counts[0]) {
		/* /proc/<pid>/fd of other users' processes: CAP_SYS_PTRACE and
		 * CAP_DAC_READ_SEARCH, kept for this (daemon.c) */
		pe->fresh = fresh;
		proc__scan_listeners(proc__procfs(), d->cgroot, &d->tables, on_listener, pe);
		pthread_mutex_lock(&d->lock);
		for (i = 0; i < (int)pe->n; i++)
			daemon__adopt_listener(d, pe->p[i].tgid, pe->p[i].svc, "reload: ");
		pthread_mutex_unlock(&d->lock);
		if (pe->n)
			pr_info("reload: %zu processes already listening on added services' "
				"ports\n",
				pe->n);
	}
	daemon__start_checker(d);
	if (e)
		pr_warn("reload: applied in part: %s\n", strerror(-e));
	else
		pr_info("config reloaded: %d services (%d added, %d changed, %d removed)\n",
			next->n_services, counts[0], counts[1], counts[2]);
cleanup:
	free(pe);
	free(tables);
	free(m);
	free(next);
	return e;
}
