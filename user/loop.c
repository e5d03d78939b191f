// SPDX-License-Identifier: GPL-2.0-only
/*
 * The event loop: drain every collector's ring, tick the model's clocks, and every few
 * seconds look for what changed outside (service cgroups, new OpenSSL binaries).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "collect/l7.h"
#include "collect/proc.h"
#include "collect/tcp.h"
#include "daemon.h"
#include "lib/log.h"
#include "model/health.h"
#include "model/streams.h"

#define POLL_MS 100 /* ring buffer drain period: producers only wake us when it fills */
#define RESCAN_S 5 /* cgroup prefixes resolve to new cgroups */
#define WATCH_NS 1000000000ULL /* counters that make events (drop bursts, TLS hooks) */

static volatile sig_atomic_t stopping, reloading;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reloading = 1;
	else
		stopping = 1;
}

uint64_t daemon__now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
}

/* Every few seconds: service cgroups that appeared or went, binaries to hook. */
static void rescan(struct daemon *d, struct service_tables *fresh)
{
	struct tcp_collector *tcp = collectors__get(&d->collectors, &tcp_collector_ops);

	if (!services__build(&d->cfg, d->cgroot, fresh) &&
	    memcmp(fresh, &d->tables, sizeof(*fresh))) {
		pr_info("service cgroups changed, updating the kernel tables\n");
		memcpy(&d->tables, fresh, sizeof(*fresh));
		tcp__set_services(tcp, &d->tables);
	}
	/* OpenSSL binaries of processes started since (the list a scrape reads grows) */
	pthread_mutex_lock(&d->lock);
	collectors__rescan(&d->collectors);
	pthread_mutex_unlock(&d->lock);
}

void daemon__signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int daemon__loop(struct daemon *d)
{
	struct l7_collector *l7 = collectors__get(&d->collectors, &l7_collector_ops);
	struct service_tables *fresh = malloc(sizeof(*fresh));
	time_t last_scan = time(NULL);
	uint64_t last_tick = 0, last_alerts = daemon__now_ns(), last_watch = daemon__now_ns();
	int err = 0, epfd;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!fresh || epfd < 0 || (err = collectors__watch(&d->collectors, epfd))) {
		err = err ?: -errno;
		pr_warn("epoll: %s\n", strerror(-err));
		goto cleanup;
	}
	while (!stopping) {
		struct epoll_event ev[COLLECTORS_MAX];
		uint64_t since = (daemon__now_ns() - last_tick) / 1000000ULL;

		/* Producers only wake us when a ring fills up or an event cannot wait (a
		 * listen(), an exec): drain all then, and every POLL_MS. */
		epoll_wait(epfd, ev, COLLECTORS_MAX, since < POLL_MS ? (int)(POLL_MS - since) : 0);
		err = collectors__consume(&d->collectors);
		if (err)
			goto cleanup;
		if (reloading) {
			reloading = 0;
			daemon__reload(d);
		}
		/* woken early: the rings are drained, the clocks tick on their period */
		if (daemon__now_ns() - last_tick < POLL_MS * 1000000ULL)
			continue;
		last_tick = daemon__now_ns();
		pthread_mutex_lock(&d->lock);
		daemon__health_tick(d);
		pthread_mutex_unlock(&d->lock);
		if (d->streams) {
			uint64_t t = daemon__now_ns();

			/* the streams' time is that of the records they have been given:
			 * a close's grace runs out only when its connection's later bytes
			 * would have been handed over */
			if (l7 && l7__released_until(l7) < t)
				t = l7__released_until(l7);
			pthread_mutex_lock(&d->lock);
			streams__tick(d->streams, t);
			pthread_mutex_unlock(&d->lock);
		}
		if (d->alerts &&
		    daemon__now_ns() - last_alerts >= (uint64_t)(d->cfg.alerts.interval_s * 1e9)) {
			last_alerts += (uint64_t)(d->cfg.alerts.interval_s * 1e9);
			daemon__alerts_tick(d, last_alerts);
		}
		if (daemon__now_ns() - last_watch >= WATCH_NS) {
			last_watch += WATCH_NS;
			if (daemon__now_ns() - last_watch >= WATCH_NS) /* a stall: no catching up */
				last_watch = daemon__now_ns();
			daemon__watch(d);
		}
		if (time(NULL) - last_scan >= RESCAN_S) {
			last_scan = time(NULL);
			rescan(d, fresh);
		}
	}
	pr_info("stopping\n");
cleanup:
	if (epfd >= 0)
		close(epfd);
	free(fresh);
	return err;
}
