/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Process and service-health families: run-queue latency, OOM kills, crashes and exits
 * per service (with crash/OOM/exit events in the event log), service up, availability
 * counters and synthetic check results.
 */
#ifndef FOGPROBE_TELEMETRY_PROC_METRICS_H
#define FOGPROBE_TELEMETRY_PROC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include "lib/config.h"
#include "model/health.h"
#include "model/process.h"
#include "telemetry/events.h"
#include "telemetry/metrics.h"

/*
 * How a process ended, from task->exit_code and the OOM mark:
 *   oom     an OOM victim (whatever signal killed it)
 *   crash   killed by a signal whose default action dumps core (SIGSEGV, SIGABRT,
 *           SIGBUS, SIGFPE, SIGILL, SIGQUIT, SIGTRAP, SIGSYS, SIGXCPU, SIGXFSZ)
 *   signal  killed by another signal (SIGKILL, SIGTERM, SIGINT, ...)
 *   error   exit() with a non-zero status
 *   ok      exit(0)
 */
enum proc_exit_class {
	PROC_EXIT_OK = 0,
	PROC_EXIT_ERROR,
	PROC_EXIT_SIGNAL,
	PROC_EXIT_CRASH,
	PROC_EXIT_OOM,
	PROC_EXIT_CLASSES,
};

enum proc_exit_class proc_metrics__classify(int exit_code, bool oom);
/* "SIGSEGV" for 11; "SIG34" (in buf) for a signal without a name. buf >= 12 bytes. */
const char *proc_metrics__signal_name(int sig, char *buf, size_t len);

struct proc_metrics;

/* log: where crash, OOM and exit events go (may be NULL). NULL on error (errno set). */
struct proc_metrics *proc_metrics__new(struct metrics *reg, const struct config *cfg,
				       struct event_log *log);
void proc_metrics__free(struct proc_metrics *pm); /* accepts NULL */
/* Create a service's OOM and crash series at 0 (at start, and for a service a reload adds). */
void proc_metrics__add_service(struct proc_metrics *pm, const char *name);

/* A process of a service exited, or any process crashed or was an OOM victim. */
void proc_metrics__exit(struct proc_metrics *pm, const struct proc_exit *e);
/* oom:mark_victim chose a process. */
void proc_metrics__oom(struct proc_metrics *pm, const struct proc_exit *e);
void proc_metrics__runq(struct proc_metrics *pm, const struct runq_hist h[CONFIG_MAX_SERVICES]);
void proc_metrics__health(struct proc_metrics *pm, const struct health *h);

#endif
