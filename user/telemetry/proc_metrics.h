/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Process and service-health families: run-queue latency, OOM kills, crashes and exits
 * per service (with crash/OOM/exit events in the event log), service up, availability
 * counters and synthetic check results.
 */
#ifndef FOGPROBE_TELEMETRY_PROC_METRICS_H
#define FOGPROBE_TELEMETRY_PROC_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>
#include "proc.h"
#include "tcp.h"
#include "lib/config.h"
#include "model/health.h"
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
const char *proc_metrics__class_name(enum proc_exit_class c);
/* "SIGSEGV" for 11; "SIG34" (in buf) for a signal without a name. buf >= 12 bytes. */
const char *proc_metrics__signal_name(int sig, char *buf, size_t len);

/* A decoded exit or OOM record (collect knows the kernel layout; main fills this). */
struct proc_exit {
	int svc; /* -1: a process of no service (labelled "none") */
	const char *comm;
	uint32_t pid;
	int exit_code; /* task->exit_code */
	int sig; /* fatal signal seen delivered, 0 if none */
	int si_code;
	bool oom;
	const char *cgroup; /* cgroup v2 path, or NULL if unknown */
	double unix_time;
	uint64_t anon_rss_bytes; /* OOM victims, when the kernel reports it */
	uint32_t sender_pid; /* who sent the fatal signal, 0 if unknown */
	const char *sender_comm;
};

struct proc_metrics;

struct proc_metrics *proc_metrics__new(struct metrics *reg, const struct config *cfg,
				       struct event_log *log);
void proc_metrics__free(struct proc_metrics *pm);

/* A process of a service exited, or any process crashed or was an OOM victim. */
void proc_metrics__exit(struct proc_metrics *pm, const struct proc_exit *e);
/* oom:mark_victim chose a process. */
void proc_metrics__oom(struct proc_metrics *pm, const struct proc_exit *e);
void proc_metrics__runq(struct proc_metrics *pm, const struct fp_runq_hist h[FP_MAX_SERVICES]);
void proc_metrics__health(struct proc_metrics *pm, const struct health *h);

#endif
