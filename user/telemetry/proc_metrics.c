// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "telemetry/proc_metrics.h"

#define NONE "none" /* the label of processes of no configured service */

struct proc_metrics {
	const struct config *cfg;
	struct event_log *log;
	struct metric_family *runq, *oom, *crashes, *exits, *up, *up_s, *observed_s, *changes,
		*probe_ok, *probe_s;
	/* RSS of the last OOM victims (oom:mark_victim), for their exit's event */
	struct {
		uint32_t pid;
		uint64_t rss;
	} victims[16];
	unsigned next_victim;
	pthread_mutex_t lock;
};

static const char *const class_names[PROC_EXIT_CLASSES] = { "ok", "error", "signal", "crash",
							     "oom" };

#define COREDUMP_SIGNALS                                                                   \
	((1U << 3) | (1U << 4) | (1U << 5) | (1U << 6) | (1U << 7) | (1U << 8) | (1U << 11) | \
	 (1U << 24) | (1U << 25) | (1U << 31))

enum proc_exit_class proc_metrics__classify(int exit_code, bool oom)
{
	int sig = exit_code & 0x7f;

	if (oom)
		return PROC_EXIT_OOM;
	if (sig && sig < 32 && (COREDUMP_SIGNALS & (1U << sig)))
		return PROC_EXIT_CRASH;
	if (sig)
		return PROC_EXIT_SIGNAL;
	return (exit_code >> 8) & 0xff ? PROC_EXIT_ERROR : PROC_EXIT_OK;
}

const char *proc_metrics__signal_name(int sig, char *buf, size_t len)
{
	static const char *const names[] = {
		[1] = "SIGHUP",	  [2] = "SIGINT",     [3] = "SIGQUIT",	[4] = "SIGILL",
		[5] = "SIGTRAP",  [6] = "SIGABRT",    [7] = "SIGBUS",	[8] = "SIGFPE",
		[9] = "SIGKILL",  [10] = "SIGUSR1",   [11] = "SIGSEGV", [12] = "SIGUSR2",
		[13] = "SIGPIPE", [14] = "SIGALRM",   [15] = "SIGTERM", [16] = "SIGSTKFLT",
		[17] = "SIGCHLD", [18] = "SIGCONT",   [19] = "SIGSTOP", [20] = "SIGTSTP",
		[21] = "SIGTTIN", [22] = "SIGTTOU",   [23] = "SIGURG",	[24] = "SIGXCPU",
		[25] = "SIGXFSZ", [26] = "SIGVTALRM", [27] = "SIGPROF", [28] = "SIGWINCH",
		[29] = "SIGIO",	  [30] = "SIGPWR",    [31] = "SIGSYS",
	};

	if (sig > 0 && sig < (int)ARRAY_LEN(names) && names[sig])
		return names[sig];
	snprintf(buf, len, "SIG%d", sig);
	return buf;
}

/* Upper bounds of the kernel's log2 slots in seconds (slot i holds [2^(i-1), 2^i) us),
 * filled before the families are registered; the last slot is +Inf. */
static double runq_bounds_s[RUNQ_SLOTS - 1];

#define AT(f) offsetof(struct proc_metrics, f)

static const struct metric_def proc_defs[] = {
	{ "fogprobe_runqueue_latency_seconds",
	  "Time threads of the service waited on a CPU run queue, from wakeup or preemption to running (power-of-2 buckets).",
	  METRIC_HISTOGRAM, { "service" }, .buckets = runq_bounds_s, .n_buckets = RUNQ_SLOTS - 1,
	  .offset = AT(runq) },
	{ "fogprobe_oom_kills_total",
	  "Processes the OOM killer chose (oom:mark_victim); service=\"none\": no service.",
	  METRIC_COUNTER, { "service" }, .offset = AT(oom) },
	{ "fogprobe_process_crashes_total",
	  "Processes killed by a core-dumping signal, by service (\"none\": no service) and signal.",
	  METRIC_COUNTER, { "service", "signal" }, .offset = AT(crashes) },
	{ "fogprobe_process_exits_total",
	  "Processes of the service that ended, by reason: ok, error (non-zero status), signal, crash, oom.",
	  METRIC_COUNTER, { "service", "reason" }, .offset = AT(exits) },
	{ "fogprobe_service_up", "1 while the service listens on this host and one of its listening processes is alive.",
	  METRIC_GAUGE, { "service" }, .offset = AT(up) },
	{ "fogprobe_service_up_seconds_total", "Seconds the service was up on this host.",
	  METRIC_COUNTER, { "service" }, .offset = AT(up_s) },
	{ "fogprobe_service_observed_seconds_total",
	  "Seconds the service's health was observed on this host.", METRIC_COUNTER,
	  { "service" }, .offset = AT(observed_s) },
	{ "fogprobe_service_state_changes_total",
	  "Transitions of fogprobe_service_up between 0 and 1.", METRIC_COUNTER, { "service" },
	  .offset = AT(changes) },
	{ "fogprobe_probe_success", "1 if the last synthetic TCP connect to the service succeeded.",
	  METRIC_GAUGE, { "service" }, .offset = AT(probe_ok) },
	{ "fogprobe_probe_duration_seconds",
	  "Duration of the last synthetic TCP connect to the service.", METRIC_GAUGE,
	  { "service" }, .offset = AT(probe_s) },
};

/* A service's OOM and crash counters exist from the start (or from the reload that adds
 * it), so that increase() sees the first kill and the first crash: a series born at 1 has
 * no increase. */
void proc_metrics__add_service(struct proc_metrics *pm, const char *name)
{
	int sig;

	metrics__add(pm->oom, METRICS_LABELS(name), 0);
	for (sig = 1; sig < 32; sig++) {
		char sbuf[16];

		if (COREDUMP_SIGNALS & (1U << sig))
			metrics__add(pm->crashes,
				     METRICS_LABELS(name, proc_metrics__signal_name(sig, sbuf,
										  sizeof(sbuf))),
				     0);
	}
}

struct proc_metrics *proc_metrics__new(struct metrics *reg, const struct config *cfg,
				       struct event_log *log)
{
	struct proc_metrics *pm = calloc(1, sizeof(*pm));
	int i, err;

	if (!pm)
		return NULL;
	pm->cfg = cfg;
	pm->log = log;
	for (i = 0; i < RUNQ_SLOTS - 1; i++)
		runq_bounds_s[i] = ldexp(1e-6, i);
	err = metrics__register(reg, pm, proc_defs, ARRAY_LEN(proc_defs));
	if (err) {
		free(pm);
		errno = -err;
		return NULL;
	}
	pthread_mutex_init(&pm->lock, NULL);
	for (i = 0; i < cfg->n_services; i++)
		proc_metrics__add_service(pm, cfg->services[i].name);
	metrics__add(pm->oom, METRICS_LABELS(NONE), 0);
	return pm;
}

void proc_metrics__free(struct proc_metrics *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

static const char *svc_name(const struct proc_metrics *pm, int svc)
{
	return svc >= 0 && svc < pm->cfg->n_services ? pm->cfg->services[svc].name : NONE;
}

static json_t *base_event(const struct proc_metrics *pm, const char *type,
			  const struct proc_exit *e)
{
	char ts[40], cid[72];
	json_t *ev = json_object();

	if (!ev)
		return NULL;
	json_object_set_new(ev, "time", json_string(events__rfc3339(e->unix_time, ts, sizeof(ts))));
	json_object_set_new(ev, "type", json_string(type));
	json_object_set_new(ev, "kind", json_string(type));
	json_object_set_new(ev, "service", json_string(svc_name(pm, e->svc)));
	json_object_set_new(ev, "comm", json_string(e->comm ? e->comm : ""));
	json_object_set_new(ev, "pid", json_integer(e->pid));
	if (e->cgroup) {
		json_object_set_new(ev, "cgroup", json_string(e->cgroup));
		if (events__container_id(e->cgroup, cid, sizeof(cid)))
			json_object_set_new(ev, "container_id", json_string(cid));
	}
	return ev;
}

void proc_metrics__exit(struct proc_metrics *pm, const struct proc_exit *e)
{
	enum proc_exit_class c = proc_metrics__classify(e->exit_code, e->oom);
	const char *name = svc_name(pm, e->svc), *type;
	int sig = e->exit_code & 0x7f;
	char sbuf[16];
	json_t *ev;

	if (e->svc >= 0)
		metrics__add(pm->exits, METRICS_LABELS(name, class_names[c]), 1);
	if (c == PROC_EXIT_CRASH) {
		const char *signal = proc_metrics__signal_name(sig, sbuf, sizeof(sbuf));

		metrics__add(pm->crashes, METRICS_LABELS(name, signal), 1);
	}
	/* events: what an operator looks into; a clean exit is not one */
	if (c == PROC_EXIT_OK || !pm->log)
		return;
	type = c == PROC_EXIT_CRASH ? "crash" : c == PROC_EXIT_OOM ? "oom" : "exit";
	ev = base_event(pm, type, e);
	if (!ev)
		return;
	json_object_set_new(ev, "reason", json_string(class_names[c]));
	if (c == PROC_EXIT_OOM) {
		unsigned i;

		pthread_mutex_lock(&pm->lock);
		for (i = 0; i < 16; i++)
			if (pm->victims[i].pid == e->pid && pm->victims[i].rss) {
				json_object_set_new(ev, "anon_rss_bytes",
						    json_integer((json_int_t)pm->victims[i].rss));
				pm->victims[i].pid = 0;
				break;
			}
		pthread_mutex_unlock(&pm->lock);
	}
	if (sig) {
		json_object_set_new(ev, "signal",
				    json_string(proc_metrics__signal_name(sig, sbuf, sizeof(sbuf))));
		json_object_set_new(ev, "core_dumped", json_boolean(e->exit_code & 0x80));
		/* The siginfo code tells a fault (SEGV_MAPERR 1, ...) from a signal sent by a
		 * process (SI_USER 0, SI_TKILL -6: raise(), abort()). */
		if (e->sig == sig)
			json_object_set_new(ev, "si_code", json_integer(e->si_code));
		/* kill(2) from another process: who sent it (a fault or raise() is the
		 * process itself, and the OOM killer runs in whichever task allocated) */
		if (e->sender_pid && e->sender_pid != e->pid && c != PROC_EXIT_OOM) {
			json_object_set_new(ev, "sender_pid", json_integer(e->sender_pid));
			json_object_set_new(ev, "sender_comm",
					    json_string(e->sender_comm ? e->sender_comm : ""));
		}
	} else {
		json_object_set_new(ev, "exit_status", json_integer((e->exit_code >> 8) & 0xff));
	}
	events__append(pm->log, ev);
}

void proc_metrics__oom(struct proc_metrics *pm, const struct proc_exit *e)
{
	metrics__add(pm->oom, METRICS_LABELS(svc_name(pm, e->svc)), 1);
	pthread_mutex_lock(&pm->lock);
	pm->victims[pm->next_victim % 16].pid = e->pid;
	pm->victims[pm->next_victim % 16].rss = e->anon_rss_bytes;
	pm->next_victim++;
	pthread_mutex_unlock(&pm->lock);
}

void proc_metrics__runq(struct proc_metrics *pm, const struct runq_hist h[CONFIG_MAX_SERVICES])
{
	int svc;

	for (svc = 0; svc < pm->cfg->n_services; svc++)
		metrics__hist_set(pm->runq, METRICS_LABELS(pm->cfg->services[svc].name),
				  h[svc].slots, h[svc].sum_ns / 1e9);
}

void proc_metrics__health(struct proc_metrics *pm, const struct health *h)
{
	int svc;

	metrics__clear(pm->up);
	for (svc = 0; svc < pm->cfg->n_services; svc++) {
		const char *const lv[] = { pm->cfg->services[svc].name };
		struct health_stat st;

		health__read(h, svc, &st);
		if (pm->cfg->services[svc].removed)
			continue; /* its counters stay, its state is no longer watched */
		if (st.up >= 0)
			metrics__set(pm->up, lv, st.up);
		if (st.observed_seconds > 0 || st.up >= 0) {
			metrics__set(pm->up_s, lv, st.up_seconds);
			metrics__set(pm->observed_s, lv, st.observed_seconds);
			metrics__set(pm->changes, lv, (double)st.changes);
		}
		if (st.probe >= 0) {
			metrics__set(pm->probe_ok, lv, st.probe);
			metrics__set(pm->probe_s, lv, st.probe_seconds);
		}
	}
}
