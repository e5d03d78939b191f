// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process signals of services: run-queue latency, OOM kills, crashes and exits.
 *
 * proc_tasks (tgid -> service) says which processes belong to a service: tcp.bpf.c adds
 * every process that listens on a service's port (SO_REUSEPORT siblings each listen)
 * at its listen(), userspace the listeners a /proc scan finds at start; here the kernel
 * adds the children a service process forks and removes processes when they exit. Every
 * hot hook (the scheduler's) checks the task first and leaves at once for everything
 * else, after one byte of task_flags (proc_tasks.bpf.h) for a task of no service.
 *
 * Hooks: run-queue latency on sched_switch alone, from the kernel's own account of each
 * thread's waits (sched_info), tp_btf where the kernel allows it, else raw_tp; without
 * CONFIG_SCHED_INFO, raw_tp on sched_wakeup, sched_wakeup_new and sched_switch times each
 * wait (the classic sched tracepoints name the woken task by tid only, which cannot be
 * mapped to its process here). Exits, signals, forks and OOM on classic tracepoints:
 * they fire at process, not packet, rates.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "tcp.h"
#include "proc.h"
#include "maps.bpf.h"
#include "core_fixes.bpf.h"

#define TASK_RUNNING 0
#define SIG_DFL 0
/* The signals whose default action dumps core (kernel SIG_KERNEL_COREDUMP_MASK):
 * SIGQUIT 3, SIGILL 4, SIGTRAP 5, SIGABRT 6, SIGBUS 7, SIGFPE 8, SIGSEGV 11, SIGXCPU 24,
 * SIGXFSZ 25, SIGSYS 31. */
#define COREDUMP_MASK                                                                      \
	((1U << 3) | (1U << 4) | (1U << 5) | (1U << 6) | (1U << 7) | (1U << 8) | (1U << 11) | \
	 (1U << 24) | (1U << 25) | (1U << 31))

/* Signals whose default action ends the process: all of 1..31 but SIGCHLD 17, SIGCONT 18,
 * SIGSTOP 19, SIGTSTP 20, SIGTTIN 21, SIGTTOU 22, SIGURG 23, SIGWINCH 28. */
#define FATAL_MASK                                                                         \
	(0xfffffffeU & ~((1U << 17) | (1U << 18) | (1U << 19) | (1U << 20) | (1U << 21) |   \
			 (1U << 22) | (1U << 23) | (1U << 28)))

char LICENSE[] SEC("license") = "GPL";

#include "proc_tasks.bpf.h"

struct runq_start {
	__u64 ts_ns;
	__u8 svc;
	__u8 pad[7];
};

/* Threads of services waiting on a run queue, by tid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * FP_MAX_PROC_TASKS);
	__type(key, __u32);
	__type(value, struct runq_start);
} runq_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct fp_runq_hist);
} runq_hist SEC(".maps");

struct pending_sig {
	__s32 sig;
	__s32 code;
};

/* The fatal signal a process is dying of, by tgid, until its last thread exits. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_PROC_PENDING);
	__type(key, __u32);
	__type(value, struct pending_sig);
} pending_sig SEC(".maps");

/* OOM victims by pid (a tid when the chosen task was not the leader), until they exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_PROC_OOM_VICTIMS);
	__type(key, __u32);
	__type(value, __u8);
} oom_victims SEC(".maps");

struct sender_key {
	__u32 tgid;
	__s32 sig;
};

struct sender {
	__u32 tgid;
	char comm[16];
};

/* Who sent a signal to a process of a service, by (target, signal), until it exits. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_PROC_SENDERS);
	__type(key, struct sender_key);
	__type(value, struct sender);
} senders SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FP_PROC_RINGBUF_BYTES);
} proc_events SEC(".maps");

/* A process by its tgid and its start time (tgids are reused). */
struct exit_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns;
};

/* Processes already reported as exited: see handle_exit. LRU: only the last few matter. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FP_PROC_EXITED);
	__type(key, struct exit_key);
	__type(value, __u8);
} exited SEC(".maps");

/* floor(log2(v)) for v > 0, without a loop. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xffffffffULL) << 5;
	v >>= s;
	r |= s;
	s = (v > 0xffff) << 4;
	v >>= s;
	r |= s;
	s = (v > 0xff) << 3;
	v >>= s;
	r |= s;
	s = (v > 0xf) << 2;
	v >>= s;
	r |= s;
	s = (v > 0x3) << 1;
	v >>= s;
	r |= s;
	return r | (__u32)(v >> 1);
}

/* ---- run-queue latency ------------------------------------------------------------ */

/* true: run-queue waits come from the kernel's sched_info (runq_switch_btf/_raw), which
 * handle_exit then also closes for an exiting thread; set by userspace before load */
const volatile bool targ_runq_delay = false;

#define TASK_DEAD 0x80

static __always_inline void runq_sample(__u32 key, __u64 delta)
{
	struct fp_runq_hist *h = bpf_map_lookup_elem(&runq_hist, &key);
	__u32 slot;

	if (!h)
		return;
	slot = delta < 1000 ? 0 : log2_u64(delta / 1000) + 1;
	/* keep the bound check where the verifier sees it: clang folds a clamp away */
	asm volatile("" : "+r"(slot));
	if (slot >= FP_RUNQ_SLOTS)
		slot = FP_RUNQ_SLOTS - 1;
	asm volatile("" : "+r"(slot));
	if (slot >= FP_RUNQ_SLOTS)
		return;
	fp_add(&h->slots[slot], 1);
	fp_add(&h->sum_ns, delta);
	fp_add(&h->count, 1);
}

/*
 * With CONFIG_SCHED_INFO the kernel keeps, per thread, the time it waited on run queues
 * (sched_info.run_delay, the time from each enqueue to the switch that runs it, a wait
 * split by a migration included) and the number of such arrivals (pcount): the figures of
 * /proc/<pid>/task/<tid>/schedstat. Between two switches away from a thread it arrived
 * once, so the run_delay it gained is that one wait. Only the switch is hooked; wakeups
 * cost nothing.
 */
struct runq_seen {
	__u64 run_delay;
	__u64 pcount;
	__u64 start_ns; /* the thread's start: a reused tid starts again */
};

/* Threads of services: sched_info as of their last switch away, by tid. Preallocated:
 * nothing is allocated on the scheduler's path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * FP_MAX_PROC_TASKS);
	__type(key, __u32);
	__type(value, struct runq_seen);
} runq_seen SEC(".maps");

/*
 * Thread tid of a service's process (task) leaves a CPU, or exits: sample the wait it
 * had before this run, from its sched_info. A thread seen for the first time is sampled
 * only if this was its first run (a child a service process forked); an older one is
 * sampled from its next wait on. The reads go through BPF_CORE_READ for every caller:
 * the raw_tp and classic tracepoint ones hold no BTF-typed pointer.
 */
static __always_inline void runq_depart(__u8 svc, __u32 tid, struct task_struct *task,
					bool dead, bool exiting)
{
	__u64 run_delay = BPF_CORE_READ(task, sched_info.run_delay);
	__u64 pcount = BPF_CORE_READ(task, sched_info.pcount);
	__u64 start_ns = BPF_CORE_READ(task, start_time);
	struct runq_seen *s = bpf_map_lookup_elem(&runq_seen, &tid);
	bool known = s && s->start_ns == start_ns && pcount >= s->pcount;
	__u64 base_delay = known ? s->run_delay : 0, base_pcount = known ? s->pcount : 0;

	if (dead) {
		if (s)
			bpf_map_delete_elem(&runq_seen, &tid);
		/* at the final switch, a thread unknown here was sampled by its exit */
		if (!known && (!exiting || pcount > 1))
			return;
	} else if (known) {
		s->run_delay = run_delay;
		s->pcount = pcount;
	} else {
		struct runq_seen n = { .run_delay = run_delay, .pcount = pcount, .start_ns = start_ns };

		if (bpf_map_update_elem(&runq_seen, &tid, &n, BPF_ANY)) {
			map_inc(&lost_proc, FP_PROC_LOST_START);
			return;
		}
		if (pcount > 1)
			return;
	}
	if (pcount == base_pcount)
		return;
	if (pcount - base_pcount > 1) {
		map_inc(&lost_proc, FP_PROC_LOST_RUNQ_MERGED);
		return;
	}
	runq_sample(svc, run_delay - base_delay);
}

/*
 * Runs on every context switch of the host: for a thread of no service, a read of its
 * process's byte in task_flags. The outgoing thread is still current at this tracepoint
 * (__schedule traces before context_switch), so its ids come from a helper.
 */
static __always_inline void runq_switch_out(struct task_struct *prev)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 *svc = proc_task_lookup(id >> 32);

	if (svc)
		runq_depart(*svc, (__u32)id, prev, task_state(prev) == TASK_DEAD, false);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runq_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	runq_switch_out(prev);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(runq_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	runq_switch_out(prev);
	return 0;
}

/* handle_exit: the exiting thread's last wait (its process may leave proc_tasks before
 * its final switch), and no entry left behind */
static __always_inline void runq_exit(struct task_struct *task, __u32 tgid, __u32 tid)
{
	__u8 *svc;

	if (!targ_runq_delay || !bpf_core_field_exists(task->sched_info.run_delay))
		return;
	svc = bpf_map_lookup_elem(&proc_tasks, &tgid);
	if (svc)
		runq_depart(*svc, tid, task, true, true);
	else
		bpf_map_delete_elem(&runq_seen, &tid);
}

/*
 * Without CONFIG_SCHED_INFO: a wait is timed from the wakeup (or the preemption) to the
 * switch that runs the thread, in runq_start.
 */
static __always_inline void runq_enqueue(__u32 tgid, __u32 tid)
{
	struct runq_start st = {};
	__u8 *svc = proc_task_lookup(tgid);

	if (!svc)
		return;
	st.ts_ns = bpf_ktime_get_ns();
	st.svc = *svc;
	if (bpf_map_update_elem(&runq_start, &tid, &st, BPF_ANY))
		map_inc(&lost_proc, FP_PROC_LOST_START);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(runq_wakeup_raw, struct task_struct *p)
{
	runq_enqueue(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid));
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(runq_wakeup_new_raw, struct task_struct *p)
{
	runq_enqueue(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid));
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(runq_switch_wake_raw, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	__u32 next_tgid = BPF_CORE_READ(next, tgid), next_tid = BPF_CORE_READ(next, pid);
	struct runq_start *st;
	__u64 delta;
	__u32 key;

	if (task_state(prev) == TASK_RUNNING) {
		__u64 id = bpf_get_current_pid_tgid();

		runq_enqueue(id >> 32, (__u32)id);
	}
	/* a wait starts only for a task whose process was in proc_tasks, and is dropped
	 * at the task's exit, before its process leaves */
	if (!proc_task_maybe(next_tgid))
		return 0;
	st = bpf_map_lookup_elem(&runq_start, &next_tid);
	if (!st)
		return 0;
	delta = bpf_ktime_get_ns() - st->ts_ns;
	key = st->svc;
	bpf_map_delete_elem(&runq_start, &next_tid);
	runq_sample(key, delta);
	return 0;
}

/* ---- process membership ----------------------------------------------------------- */

/* A child of a service process serves the same service (pre-fork workers inherit the
 * listening socket without calling listen() again). Thread creation fires this too: the
 * entry of a thread's tid is removed when the thread exits. */
SEC("tracepoint/sched/sched_process_fork")
int handle_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, child;
	__u8 *svc = proc_task_lookup(tgid);
	__u8 v;

	if (!svc)
		return 0;
	v = *svc;
	child = BPF_CORE_READ(ctx, child_pid);
	proc_task_add(child, v);
	return 0;
}

/* ---- signals, OOM and exits ------------------------------------------------------- */

/*
 * get_signal() traces every signal it acts on, with the handler in place. A signal with
 * the default action that dumps core kills the whole process (do_group_exit): keep it,
 * with its siginfo code (a fault's SEGV_MAPERR vs. SI_TKILL from raise()), for the exit.
 * The first one wins: the other threads then see the SIGKILL of the group exit.
 */
SEC("tracepoint/signal/signal_deliver")
int handle_signal_deliver(struct trace_event_raw_signal_deliver *ctx)
{
	int sig = ctx->sig;
	struct pending_sig p;
	__u32 tgid;

	if (sig <= 0 || sig > 31 || !((1U << sig) & COREDUMP_MASK) || ctx->sa_handler != SIG_DFL)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	p.sig = sig;
	p.code = ctx->code;
	bpf_map_update_elem(&pending_sig, &tgid, &p, BPF_NOEXIST);
	return 0;
}

/*
 * The sender of a signal to a process of a service (kill(2) runs in the sender's
 * context), so that an exit by SIGTERM or SIGKILL says who sent it. Signals to threads
 * (tgkill by the process itself), to processes of no service and signals that do not
 * end a process by default (SIGCHLD, ...) are not kept. Keyed by signal too: a later
 * signal must not hide who sent the SIGTERM.
 */
SEC("tracepoint/signal/signal_generate")
int handle_signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	struct sender_key k = { .tgid = ctx->pid, .sig = ctx->sig };
	struct sender v;

	if (k.sig <= 0 || k.sig > 31 || !((1U << k.sig) & FATAL_MASK) ||
	    ctx->result != 0 /* TRACE_SIGNAL_DELIVERED */ ||
	    !proc_task_lookup(k.tgid))
		return 0;
	v.tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(v.comm, sizeof(v.comm));
	bpf_map_update_elem(&senders, &k, &v, BPF_ANY);
	return 0;
}

/* The task is chosen and already sent SIGKILL (__oom_kill_process). Its exit follows. */
SEC("tracepoint/oom/mark_victim")
int handle_mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	struct trace_event_raw_mark_victim___new *n = (void *)ctx;
	__u32 pid = BPF_CORE_READ(ctx, pid);
	struct fp_proc_event *e;
	__u8 one = 1, *svc;

	bpf_map_update_elem(&oom_victims, &pid, &one, BPF_ANY);
	e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		map_inc(&lost_proc, FP_PROC_LOST_RINGBUF);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = FP_PROC_OOM;
	e->pid = pid;
	svc = bpf_map_lookup_elem(&proc_tasks, &pid);
	e->svc = svc ? *svc : FP_SVC_NONE;
	/* in kB, as the kernel's "Killed process ... anon-rss" line; the anonymous memory
	 * is what the victim's memory cgroup was charged for (file pages may be charged
	 * to whoever read them first) */
	if (bpf_core_field_exists(n->anon_rss))
		e->anon_rss_kb = BPF_CORE_READ(n, anon_rss);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/*
 * do_exit() sets task->exit_code and drops signal->live before this tracepoint, so only
 * threads that see live == 0 are past the last one's decrement. Several can see it:
 * exit_mm() lies between the decrement and the tracepoint, so threads of a group exit
 * (a crash kills them all) on several CPUs reach it together. The first one to insert
 * the process into `exited` reports it: one record per process. Records go out for
 * processes of services (every exit, so that userspace knows the process is gone) and
 * for any process that crashed (a core-dump signal) or was an OOM victim.
 */
SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct exit_key ek = {};
	struct pending_sig *ps;
	struct fp_proc_event *e;
	__u8 *svc, *oom, s = FP_SVC_NONE, was_oom = 0, one = 1;
	int code, sig;

	/* a thread woken and gone before it ran again: its id may be reused by a task of
	 * no service, whose first run must not close this wait */
	if (!targ_runq_delay)
		bpf_map_delete_elem(&runq_start, &tid);
	runq_exit(task, tgid, tid);
	if (tid != tgid) {
		proc_task_del(tid); /* a thread that fork added */
		if (bpf_map_lookup_elem(&oom_victims, &tid)) {
			bpf_map_delete_elem(&oom_victims, &tid);
			bpf_map_update_elem(&oom_victims, &tgid, &one, BPF_ANY);
		}
	}
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	ek.tgid = tgid;
	ek.start_ns = BPF_CORE_READ(task, group_leader, start_time);
	if (bpf_map_update_elem(&exited, &ek, &one, BPF_NOEXIST))
		return 0;
	code = BPF_CORE_READ(task, exit_code);
	sig = code & 0x7f;
	svc = bpf_map_lookup_elem(&proc_tasks, &tgid);
	if (svc)
		s = *svc;
	oom = bpf_map_lookup_elem(&oom_victims, &tgid);
	if (oom) {
		was_oom = 1;
		bpf_map_delete_elem(&oom_victims, &tgid);
	}
	if (!svc && !was_oom && !(sig && ((1U << sig) & COREDUMP_MASK)))
		goto out;
	e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		map_inc(&lost_proc, FP_PROC_LOST_RINGBUF);
		goto out;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->type = FP_PROC_EXIT;
	e->pid = tgid;
	e->exit_code = code;
	e->svc = s;
	e->oom = was_oom;
	ps = bpf_map_lookup_elem(&pending_sig, &tgid);
	if (ps) {
		e->sig = ps->sig;
		e->si_code = ps->code;
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (sig) {
		struct sender_key k = { .tgid = tgid, .sig = sig };
		struct sender *from = bpf_map_lookup_elem(&senders, &k);

		if (from) {
			e->sender_pid = from->tgid;
			__builtin_memcpy(e->sender_comm, from->comm, sizeof(e->sender_comm));
			bpf_map_delete_elem(&senders, &k);
		}
	}
	bpf_ringbuf_submit(e, 0);
out:
	if (bpf_map_lookup_elem(&pending_sig, &tgid))
		bpf_map_delete_elem(&pending_sig, &tgid);
	if (svc)
		proc_task_del(tgid);
	return 0;
}
