/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loads and attaches bpf/proc.bpf.c (run-queue latency, fatal signals, OOM kills and
 * exits of the processes of services), keeps its tgid -> service table and decodes its
 * ring buffer. Also finds, at start, the processes that already listen on a service's
 * port (/proc), since the kernel only reports listeners opened after it.
 */
#ifndef FOGPROBE_COLLECT_PROC_H
#define FOGPROBE_COLLECT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <proc.h> /* include/proc.h, not collect/proc.h */
#include <tcp.h>
#include "collect/collector.h"
#include "model/process.h"

struct proc_collector;
struct service_tables;

struct proc_collector_opts {
	const char *disable; /* hook prefixes not to use (see tcp__plan) */
	const struct config *cfg; /* service ids above its count are "none" */
	const char *cgroot; /* cgroup v2 mount: the exited process's cgroup path */
	struct collector_sinks sinks; /* process: each exit and OOM kill */
	/* The TCP object's proc_tasks, task_flags and lost_proc (FP_MAP_PROC_TASKS,
	 * FP_MAP_TASK_FLAGS, FP_MAP_LOST_PROC), which it fills at each listen(): used when
	 * share_maps, else the object's own. */
	bool share_maps;
	int tasks_fd, flags_fd, lost_fd;
};

/* Entries of task_flags (include/proc.h) for this host's pid_max. */
__u32 proc__task_flag_entries(void);

/* The hooks of the process features, for `fogprobe check`. Returns the count. */
size_t proc__plan(struct hook *hooks, size_t max, const char *disable);

/* 0 or -errno. Optional: the caller reports a failure and runs without it. */
int proc__open(const struct proc_collector_opts *opts, struct proc_collector **out);
void proc__close(struct proc_collector *c); /* accepts NULL */

int proc__epoll_fd(const struct proc_collector *c);
int proc__consume(struct proc_collector *c); /* events handled or -errno */

/* Mark process tgid as one of service svc (the start-up scan: the kernel adds those that
 * call listen() itself). Not kept if tgid is no longer alive. 0 or -errno; a full table
 * is counted as a loss (proc_task_map_full). */
int proc__add_task(struct proc_collector *c, __u32 tgid, __u8 svc);
/* Entries of the tgid -> service table per service: the live processes of each service
 * (threads a service process created count too, while they live). */
int proc__count_tasks(struct proc_collector *c, __u32 counts[FP_MAX_SERVICES]);
/* Run-queue histograms per service, summed over CPUs. */
int proc__read_runq(struct proc_collector *c, struct runq_hist out[FP_MAX_SERVICES]);
/* The kernel's losses (ring, task map, run-queue starts) and malformed records. */
void proc__losses(const struct proc_collector *c, struct losses *l);

size_t proc__hooks(const struct proc_collector *c, const struct hook **hooks);
size_t proc__prog_stats(const struct proc_collector *c, struct prog_stats *out, size_t max);

/*
 * Processes holding a listening TCP socket on a port of a service, by the same rule as
 * the kernel's classifier (port, comm, cgroup prefix), in every network namespace that
 * some process is in. cb(ctx, tgid, svc) once per (process, service). procfs and cgroot
 * are parameters so that tests can point them at a fixture. Returns processes found or
 * -errno.
 */
typedef void (*proc_listener_fn)(void *ctx, __u32 tgid, int svc);
int proc__scan_listeners(const char *procfs, const char *cgroot, const struct service_tables *t,
			 proc_listener_fn cb, void *ctx);

/*
 * The host's procfs: /host/proc when a procfs is mounted there (a container without the
 * host's pid namespace, deploy/kubernetes), else /proc. The kernel reports pids of the
 * initial pid namespace; only that procfs knows them.
 */
const char *proc__procfs(void);

/* Is tgid a live process (not a zombie)? Looked up in proc__procfs(). */
bool proc__alive(__u32 tgid);

/* Path of the cgroup v2 directory with inode id below cgroot ("/a/b"), or -ENOENT. */
int proc__cgroup_path(const char *cgroot, __u64 id, char *buf, size_t len);

#endif
