/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records and limits shared by bpf/proc.bpf.c and user/collect/proc.c: which processes
 * belong to which service, run-queue latency per service, and process exits (crashes,
 * OOM kills). Includes nothing; padding spelled out; userspace asserts sizes.
 */
#ifndef FOGPROBE_PROC_H
#define FOGPROBE_PROC_H

#define FP_MAX_PROC_TASKS 16384 /* processes of services (tgid -> service) */
#define FP_RUNQ_SLOTS 27 /* log2 buckets of microseconds: slot i holds [2^(i-1), 2^i) */
#define FP_PROC_RINGBUF_BYTES (256U << 10)
#define FP_PROC_PENDING 4096 /* fatal signals delivered, waiting for the exit */
#define FP_PROC_OOM_VICTIMS 1024
#define FP_PROC_SENDERS 4096 /* signals sent to processes of services, until they exit */
#define FP_PROC_EXITED 1024 /* LRU: processes reported exited (threads exit together) */

/* Maps bpf/tcp.bpf.c owns and shares with this object (bpf_map__reuse_fd), by name:
 * it adds each process that listens on a service's port at its listen(). */
#define FP_MAP_PROC_TASKS "proc_tasks"
#define FP_MAP_LOST_PROC "lost_proc"
#define FP_MAP_TASK_FLAGS "task_flags"

/*
 * task_flags: one byte per pid, 1 where proc_tasks may hold that id. The scheduler hooks,
 * which run at every context switch of the host, read it first (an array lookup the
 * verifier inlines) and look proc_tasks up only where it is set. A byte, not a bit: the
 * kernel and userspace (through mmap) store a pid's byte without touching its
 * neighbours'. Entries of FP_TASK_FLAGS_PER_ENTRY pids; userspace sizes the array to the
 * host's pid_max (32 KiB for 32,768 pids, 4 MiB at 4,194,304); a pid beyond it, where
 * pid_max was raised later, has no byte and is looked up.
 */
#define FP_TASK_FLAGS_PER_ENTRY 64
#define FP_TASK_FLAGS_DEFAULT_PIDS 4194304 /* PID_MAX_LIMIT on 64-bit */
struct fp_task_flags {
	__u8 b[FP_TASK_FLAGS_PER_ENTRY];
};

/* Slot of lost_proc (per-CPU array) */
enum fp_proc_lost {
	FP_PROC_LOST_RINGBUF = 0, /* exit/OOM record dropped: ring buffer full */
	FP_PROC_LOST_TASKS = 1, /* a process of a service (listener or fork) did not fit
				 * proc_tasks */
	FP_PROC_LOST_START = 2, /* run-queue start map (runq_start, runq_seen) full: one
				 * latency sample lost */
	FP_PROC_LOST_RUNQ_MERGED = 3, /* a thread arrived on a CPU more than once between
				       * two switches seen: its waits not sampled */
	FP_PROC_LOSTS = 4,
};

/* Value of runq_hist (per-CPU array indexed by service). */
struct fp_runq_hist {
	__u64 slots[FP_RUNQ_SLOTS];
	__u64 pad;
	__u64 sum_ns;
	__u64 count;
};

enum fp_proc_event_type {
	FP_PROC_EXIT = 1, /* last thread of a process exited */
	FP_PROC_OOM = 2, /* oom:mark_victim chose this process */
};

/* Ring buffer record. */
struct fp_proc_event {
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cgroup_id; /* v2 cgroup of the exiting task; 0 for FP_PROC_OOM */
	__u64 anon_rss_kb; /* FP_PROC_OOM: anonymous RSS when chosen (kB), 0 if unknown */
	__u32 type;
	__u32 pid; /* tgid */
	__s32 exit_code; /* task->exit_code: signal in bits 0-6, core dumped 0x80,
			  * exit status in bits 8-15 */
	__s32 sig; /* fatal signal seen by signal:signal_deliver, 0 if none */
	__s32 si_code; /* its siginfo code (SEGV_MAPERR, SI_TKILL, ...) */
	__u8 svc; /* FP_SVC_NONE: a process of no service */
	__u8 oom; /* FP_PROC_EXIT: the process was an OOM victim */
	__u8 pad[2];
	char comm[16];
	__u32 sender_pid; /* who sent the signal it died of (tgid), 0 if unknown */
	char sender_comm[16];
	__u8 pad2[4];
};

#endif /* FOGPROBE_PROC_H */
