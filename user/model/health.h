/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Service health: is each service up now, and for how long was it up out of the time it
 * was observed. The state is fed from events (listen, unlisten, process exits, check
 * results) and evaluated on demand; the model does no I/O: whether a process is alive is
 * a callback, and time is passed in. The synthetic check thread (the only I/O here) is
 * at the end of this header.
 *
 * Rule (README, "Service health"):
 *   up = 1 while the service has a listening socket on this host and at least one of its
 *   serving processes is alive (a listener whose process is not known yet counts); a
 *   process found listening by the start-up scan counts as listening while it lives (its
 *   socket predates the kernel's listen events). Every process that listens serves: with
 *   SO_REUSEPORT siblings (a socket each), the death of one leaves the service up while
 *   another lives.
 *   A service with no listener or process ever seen here is not hosted here: no series,
 *   unless it has a synthetic check, in which case up = the last check's result.
 */
#ifndef FOGPROBE_MODEL_HEALTH_H
#define FOGPROBE_MODEL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/config.h"

#define HEALTH_MAX_PROCS 256 /* listening processes remembered per service */

struct health;

/* Is the process alive (not a zombie)? */
typedef bool (*health_alive_fn)(void *ctx, uint32_t tgid);

struct health_stat {
	int up; /* 1, 0, or -1: not hosted here (export nothing) */
	double up_seconds; /* cumulative time evaluated up */
	double observed_seconds; /* cumulative time the service was hosted here */
	uint64_t changes; /* up <-> down transitions */
	int probe; /* -1 no check or no result yet, 0 failed, 1 succeeded */
	double probe_seconds; /* duration of the last check */
};

struct health *health__new(int n_services);
void health__free(struct health *h); /* accepts NULL */
/* Services up to svc exist (added by a reload), not yet observed. 0 or -EINVAL. */
int health__add_service(struct health *h, int svc);

/* The kernel saw a listening socket appear (listen) or go (unlisten) for service svc;
 * tgid is the process that called listen(). */
void health__listen(struct health *h, int svc, uint32_t tgid);
void health__unlisten(struct health *h, int svc);
/* The authoritative count of listening sockets, read from the kernel at refresh. */
void health__set_listeners(struct health *h, int svc, uint32_t n);
/* A process found holding a listening socket of svc when the probe started. */
void health__add_preexisting(struct health *h, int svc, uint32_t tgid);
/* Live processes of svc as the kernel counts them (listeners and what they forked);
 * n < 0: unknown, the pids of listen events decide. */
void health__set_processes(struct health *h, int svc, int n);
/* A process exited (any service). */
void health__exit(struct health *h, uint32_t tgid);
/* Result of a synthetic check; the service may have checks only (client-side view). */
void health__probe(struct health *h, int svc, bool ok, double seconds);
void health__set_checked(struct health *h, int svc); /* the service has a check */

/*
 * Evaluate every service at time now_ns (monotonic) and account the time since the
 * previous call: a hosted service's observed seconds grow by the interval, and its up
 * seconds too when it was up at the start of the interval. alive() is asked until a live
 * process answers; the dead ones it finds are pruned.
 */
void health__tick(struct health *h, uint64_t now_ns, health_alive_fn alive, void *ctx);
void health__read(const struct health *h, int svc, struct health_stat *out);

/* ---- synthetic check -------------------------------------------------------------- */

typedef void (*health_probe_fn)(void *ctx, int svc, bool ok, double seconds);

struct health_checker;

/* One thread runs every configured check in turn, each at most once per interval_s,
 * each bounded by its timeout_ms. Returns NULL if no service has a check or on error. */
struct health_checker *health_checker__start(const struct config *cfg, health_probe_fn cb,
					     void *ctx);
void health_checker__stop(struct health_checker *c); /* accepts NULL */

/* One non-blocking TCP connect to address:port, bounded by timeout_ms. 0 if it
 * connected, else -errno (-ETIMEDOUT on timeout); *seconds is how long it took. */
int health__connect(const char *address, uint16_t port, int timeout_ms, double *seconds);

#endif
