/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Processes of services as typed records: how one ended (collect/proc.c decodes the
 * kernel's exit and OOM records into struct proc_exit), and run-queue latency per
 * service.
 */
#ifndef FOGPROBE_MODEL_PROCESS_H
#define FOGPROBE_MODEL_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

/* log2 buckets of microseconds: slot i holds [2^(i-1), 2^i), the last one +Inf */
#define RUNQ_SLOTS 27

struct runq_hist {
	uint64_t slots[RUNQ_SLOTS];
	uint64_t sum_ns;
	uint64_t count;
};

enum proc_record { PROC_RECORD_EXIT, PROC_RECORD_OOM };

/* A decoded exit or OOM record. */
struct proc_exit {
	enum proc_record type;
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

#endif
