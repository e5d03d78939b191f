/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon: its state, its lifecycle (daemon.c: start in order, stop in reverse), its
 * event loop (loop.c), the scrape-time refresh (refresh.c) and the metric families it
 * registers. main.c parses the command line into struct daemon_opts.
 *
 * Threads: the event loop (main thread) and libmicrohttpd's thread, whose /metrics calls
 * daemon__refresh(). The rule, written once: every field below `lock` is read or written
 * only with `lock` held, by either thread; `ready` is atomic; everything above `lock` is
 * set before the HTTP server starts and only read after.
 */
#ifndef FOGPROBE_DAEMON_H
#define FOGPROBE_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "collect/collector.h"
#include "collect/services.h"
#include "lib/config.h"
#include "model/losses.h"
#include "model/process.h"
#include "model/tcp_stats.h"

/* malloc's M_MMAP_THRESHOLD, fixed at start (daemon__start): blocks this large are mapped
 * and unmapped at free, never left in the heap (make bench's render uses it too) */
#define DAEMON_MMAP_THRESHOLD (256 << 10)

struct daemon_opts {
	const char *config_path; /* --config, NULL: the built-in one */
	const char *listen; /* --listen, overrides the config's */
	const char *disable; /* --disable-hooks */
	const char *host_root; /* --host-root, overrides the config */
	const char *events_path; /* --events: "-" stdout, NULL none */
	uint32_t capture_bytes; /* --capture-bytes, 0: per protocol */
	double routing_timeout; /* --routing-timeout, seconds */
	bool bpf_stats; /* --bpf-stats */
};

struct daemon {
	struct config cfg;
	struct daemon_opts opts;
	char cgroot[256];
	struct service_tables tables;
	struct metrics *reg;
	struct tcp_metrics *tm;
	struct betanet_metrics *bm;
	struct web_metrics *wm;
	struct proc_metrics *pm;
	struct tls_metrics *tlsm;
	struct probe_metrics *probes;
	struct host_metrics *hm;
	struct host_collector *host; /* NULL: host and container metrics both off */
	struct event_log *events;
	struct alert_engine *alerts; /* NULL: alerts disabled */
	struct notifier *notifier;
	struct spans *spans; /* NULL: spans off */
	struct cgroup_names *cgnames; /* spans' container and pod ids; NULL: none */
	struct l7_events *l7ev;
	struct metric_family *otlp_duration;
	struct otlp_exporter *otlp;
	struct health_checker *checker;
	struct http_server *http;
	atomic_bool ready;

	pthread_mutex_t lock;
	unsigned int events_locked; /* the loop holds lock for this many more events */
	struct collector_set collectors;
	struct streams *streams; /* NULL: no service with a payload parser */
	struct health *health;
	struct tcp_snapshot snap;
	struct runq_hist runq[TCP_MAX_SERVICES];
	struct losses losses;
};

/* Register every metric family of this config on a new registry (also what
 * `fogprobe metrics` lists). 0 or -errno. */
int daemon__metrics(struct daemon *d);
/* Start everything in order; on failure, stop what started. 0 or -errno. */
int daemon__start(struct daemon *d);
/* Stop in reverse order; accepts a partly started daemon. */
void daemon__stop(struct daemon *d);

/* The event loop, until SIGINT or SIGTERM (SIGHUP: daemon__reload). 0, or -errno if a
 * required ring fails. */
int daemon__loop(struct daemon *d);
/* The loop's signal handlers, installed before the start: a SIGHUP while loading is a
 * reload once the loop runs, a SIGTERM a stop, neither kills the process half-way. */
void daemon__signals(void);
/* Read the config file again and apply it (reload.c); on the loop's thread. 0 or -errno:
 * the running config then stays, or was applied in part (logged). */
int daemon__reload(struct daemon *d);
/* A process found listening on service svc's port at start or reload (lock held): its
 * health, its tasks, its older connections' parsing. when prefixes the warning. */
void daemon__adopt_listener(struct daemon *d, uint32_t tgid, int svc, const char *when);
/* The synthetic checks of the config now (none configured: no thread). */
void daemon__start_checker(struct daemon *d);
/* Refresh every family from the kernel and the model (before each scrape). */
void daemon__refresh(void *ctx);
/* Each second from the event loop: events read off counters (drop bursts, TLS hooks). */
void daemon__watch(struct daemon *d);
/* Service health now: process counts and liveness (lock held). */
void daemon__health_tick(struct daemon *d);
/* Evaluate the alert rules: refresh the registry, then run the engine at the scheduled
 * time (CLOCK_MONOTONIC ns), not at the loop's late wakeup: as Prometheus evaluates at
 * its schedule's timestamps, so that `for:` counts whole intervals. */
void daemon__alerts_tick(struct daemon *d, uint64_t scheduled_ns);
/* CLOCK_MONOTONIC in ns, the kernel's bpf_ktime_get_ns() clock */
uint64_t daemon__now_ns(void);

/* Subcommands (main.c's table) */
int cmd_run(struct daemon *d);
int cmd_check(struct daemon *d);
int cmd_metrics(struct daemon *d);
int cmd_rules(struct daemon *d);

#endif
