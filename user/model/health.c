// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "model/health.h"

struct svc_health {
	uint32_t listeners;
	/* the processes that listen (each SO_REUSEPORT sibling calls listen()), oldest first */
	uint32_t procs[HEALTH_MAX_PROCS];
	bool pre[HEALTH_MAX_PROCS]; /* found by the start-up scan */
	int n_procs;
	int n_pre; /* entries with pre set */
	bool hosted; /* a listener or process of it was seen here */
	bool had_procs; /* some serving process was known (they may all be gone) */
	int kprocs; /* live processes of the service by the kernel's count, -1: unknown */
	bool checked;
	int probe;
	double probe_s;
	int up; /* last evaluation */
	bool have_last;
	uint64_t last_ns;
	double up_s, observed_s;
	uint64_t changes;
};

struct health {
	int n;
	struct svc_health s[CONFIG_MAX_SERVICES];
};

struct health *health__new(int n_services)
{
	struct health *h;
	int i;

	if (n_services < 0 || n_services > CONFIG_MAX_SERVICES)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->n = n_services;
	for (i = 0; i < n_services; i++) {
		h->s[i].probe = -1;
		h->s[i].up = -1;
		h->s[i].kprocs = -1;
	}
	return h;
}

int health__add_service(struct health *h, int svc)
{
	if (svc < 0 || svc >= CONFIG_MAX_SERVICES)
		return -EINVAL;
	for (; h->n <= svc; h->n++) {
		memset(&h->s[h->n], 0, sizeof(h->s[h->n]));
		h->s[h->n].probe = -1;
		h->s[h->n].up = -1;
		h->s[h->n].kprocs = -1;
	}
	return 0;
}

void health__free(struct health *h)
{
	free(h);
}

static struct svc_health *svc_of(struct health *h, int svc)
{
	return svc >= 0 && svc < h->n ? &h->s[svc] : NULL;
}

static void remove_proc(struct svc_health *s, int i)
{
	s->n_pre -= s->pre[i];
	s->n_procs--;
	memmove(s->procs + i, s->procs + i + 1, (s->n_procs - i) * sizeof(s->procs[0]));
	memmove(s->pre + i, s->pre + i + 1, (s->n_procs - i) * sizeof(s->pre[0]));
}

static void add_proc(struct svc_health *s, uint32_t tgid, bool pre)
{
	int i;

	s->hosted = true;
	s->had_procs = true;
	for (i = 0; i < s->n_procs; i++)
		if (s->procs[i] == tgid) {
			s->n_pre += pre && !s->pre[i];
			s->pre[i] |= pre;
			return;
		}
	if (s->n_procs == HEALTH_MAX_PROCS) {
		/* The oldest goes, the newest listener being the one most likely still
		 * serving; one found by the scan only when every entry is (it alone may
		 * still hold a socket that predates the kernel's listener table). */
		for (i = 0; i < s->n_procs - 1 && s->pre[i]; i++)
			;
		remove_proc(s, i);
	}
	s->procs[s->n_procs] = tgid;
	s->pre[s->n_procs] = pre;
	s->n_pre += pre;
	s->n_procs++;
}

void health__listen(struct health *h, int svc, uint32_t tgid)
{
	struct svc_health *s = svc_of(h, svc);

	if (!s)
		return;
	s->listeners++;
	if (tgid)
		add_proc(s, tgid, false);
	s->hosted = true;
}

void health__unlisten(struct health *h, int svc)
{
	struct svc_health *s = svc_of(h, svc);

	if (s && s->listeners)
		s->listeners--;
}

void health__set_listeners(struct health *h, int svc, uint32_t n)
{
	struct svc_health *s = svc_of(h, svc);

	if (!s)
		return;
	s->listeners = n;
	if (n)
		s->hosted = true;
}

void health__add_preexisting(struct health *h, int svc, uint32_t tgid)
{
	struct svc_health *s = svc_of(h, svc);

	if (s && tgid)
		add_proc(s, tgid, true);
}

void health__exit(struct health *h, uint32_t tgid)
{
	int svc, i;

	for (svc = 0; svc < h->n; svc++)
		for (i = 0; i < h->s[svc].n_procs; i++)
			if (h->s[svc].procs[i] == tgid) {
				remove_proc(&h->s[svc], i);
				break;
			}
}

void health__set_processes(struct health *h, int svc, int n)
{
	struct svc_health *s = svc_of(h, svc);

	if (s)
		s->kprocs = n;
}

void health__probe(struct health *h, int svc, bool ok, double seconds)
{
	struct svc_health *s = svc_of(h, svc);

	if (!s)
		return;
	s->checked = true;
	s->probe = ok;
	s->probe_s = seconds;
}

void health__set_checked(struct health *h, int svc)
{
	struct svc_health *s = svc_of(h, svc);

	if (s)
		s->checked = true;
}

static int evaluate(struct svc_health *s, health_alive_fn alive, void *ctx)
{
	/* The kernel's count includes the children a listener forked (workers that inherit
	 * the socket and outlive their parent), which the pids do not: when it is known,
	 * the pids only say whether one found by the scan lives. */
	bool want_serving = s->kprocs < 0, want_pre = s->n_pre > 0;
	bool serving = s->kprocs > 0, pre = false;
	int i;

	/* One live process answers each question: stop at it. The dead ones met on the way
	 * go (exit records remove the others), so that a service with many listening
	 * processes (SO_REUSEPORT) costs one liveness read per tick, not one per process. */
	for (i = 0; i < s->n_procs && (want_serving || want_pre);) {
		if (!want_serving && !s->pre[i]) {
			i++;
			continue;
		}
		if (alive && !alive(ctx, s->procs[i])) {
			remove_proc(s, i);
			continue;
		}
		if (want_serving)
			serving = true, want_serving = false;
		if (s->pre[i])
			pre = true, want_pre = false;
		i++;
	}
	/* A listener whose process is not known yet (its listen event is still in the ring
	 * buffer when the kernel's table is read) is served by someone: up. Once processes
	 * were known and all died, a listener count not yet updated does not count. */
	if (s->hosted)
		return (s->listeners && (serving || !s->had_procs)) || pre;
	if (s->checked && s->probe >= 0)
		return s->probe;
	return -1;
}

void health__tick(struct health *h, uint64_t now_ns, health_alive_fn alive, void *ctx)
{
	int svc;

	for (svc = 0; svc < h->n; svc++) {
		struct svc_health *s = &h->s[svc];
		int up = evaluate(s, alive, ctx);

		if (up < 0) {
			s->have_last = false;
			s->up = up;
			continue;
		}
		if (s->have_last && now_ns > s->last_ns) {
			double dt = (now_ns - s->last_ns) / 1e9;

			s->observed_s += dt;
			if (s->up == 1)
				s->up_s += dt;
		}
		if (s->have_last && s->up >= 0 && s->up != up)
			s->changes++;
		if (!s->have_last || now_ns > s->last_ns)
			s->last_ns = now_ns;
		s->have_last = true;
		s->up = up;
	}
}

void health__read(const struct health *h, int svc, struct health_stat *out)
{
	const struct svc_health *s;

	memset(out, 0, sizeof(*out));
	out->up = -1;
	out->probe = -1;
	if (svc < 0 || svc >= h->n)
		return;
	s = &h->s[svc];
	out->up = s->up;
	out->up_seconds = s->up_s;
	out->observed_seconds = s->observed_s;
	out->changes = s->changes;
	out->probe = s->probe;
	out->probe_seconds = s->probe_s;
}

/* ---- synthetic check -------------------------------------------------------------- */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int health__connect(const char *address, uint16_t port, int timeout_ms, double *seconds)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	double start = mono_s();
	socklen_t len, elen = sizeof(int);
	struct pollfd pfd;
	int fd, err = 0, soerr = 0;

	*seconds = 0;
	if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		len = sizeof(*a6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = -errno;
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		int left = timeout_ms - (int)((mono_s() - start) * 1000);
		int n;

		if (left <= 0) {
			err = -ETIMEDOUT;
			goto out;
		}
		n = poll(&pfd, 1, left);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			err = -errno;
			goto out;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen))
		err = -errno;
	else if (soerr)
		err = -soerr;
out:
	*seconds = mono_s() - start;
	close(fd);
	return err;
}

struct health_checker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	const struct config *cfg;
	health_probe_fn cb;
	void *ctx;
};

static void *checker_main(void *arg)
{
	struct health_checker *c = arg;
	double next[CONFIG_MAX_SERVICES] = { 0 };
	int i;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		double now = mono_s(), wake = now + 3600;
		struct timespec until;

		for (i = 0; i < c->cfg->n_services && !c->stop; i++) {
			const struct service_check *k = &c->cfg->services[i].check;
			double secs;
			int err;

			if (!k->connect)
				continue;
			if (next[i] <= now) {
				/* not under the lock: stop() must not wait for a timeout */
				pthread_mutex_unlock(&c->lock);
				err = health__connect(k->address, k->port, k->timeout_ms, &secs);
				c->cb(c->ctx, i, !err, secs);
				pthread_mutex_lock(&c->lock);
				next[i] = now + k->interval_s;
			}
			if (next[i] < wake)
				wake = next[i];
		}
		if (c->stop)
			break;
		/* cond timed waits use CLOCK_REALTIME here: convert the monotonic deadline */
		clock_gettime(CLOCK_REALTIME, &until);
		wake -= mono_s();
		if (wake < 0)
			continue;
		until.tv_sec += (time_t)wake;
		until.tv_nsec += (long)((wake - (time_t)wake) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->cond, &c->lock, &until);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct health_checker *health_checker__start(const struct config *cfg, health_probe_fn cb,
					     void *ctx)
{
	struct health_checker *c;
	int i, any = 0;

	for (i = 0; i < cfg->n_services; i++)
		any |= cfg->services[i].check.connect;
	if (!any)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = cfg;
	c->cb = cb;
	c->ctx = ctx;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (pthread_create(&c->thread, NULL, checker_main, c)) {
		free(c);
		return NULL;
	}
	return c;
}

void health_checker__stop(struct health_checker *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}
