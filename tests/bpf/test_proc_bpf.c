// SPDX-License-Identifier: GPL-2.0-only
/*
 * BPF tests for bpf/proc.bpf.c, trigger-then-read through user/collect/proc.c (the
 * daemon's own reader): children of this process crash, exit and wait on the run queue,
 * and the records must carry what wait() and the kernel's siginfo say.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect/probe.h"
#include "collect/proc.h"

#define SVC 3

static struct proc_collector *pc;
/* the typed records the collector delivered, their strings copied */
static struct seen {
	struct proc_exit x;
	char comm[FP_COMM_LEN + 1], sender[FP_COMM_LEN + 1];
} seen[256];
static int n_seen;

static void on_event(void *ctx, const struct proc_exit *e)
{
	struct seen *r = &seen[n_seen];

	(void)ctx;
	if (n_seen >= 256)
		return;
	r->x = *e;
	snprintf(r->comm, sizeof(r->comm), "%s", e->comm);
	snprintf(r->sender, sizeof(r->sender), "%s", e->sender_comm);
	r->x.comm = r->comm;
	r->x.sender_comm = r->sender;
	r->x.cgroup = NULL;
	n_seen++;
}

static const struct proc_exit *record_of(pid_t pid)
{
	int i;

	proc__consume(pc);
	for (i = 0; i < n_seen; i++)
		if (seen[i].x.pid == (__u32)pid)
			return &seen[i].x;
	return NULL;
}

/* Not a constant the compiler can see through: the store must reach the MMU. */
volatile int *volatile bad_address = (volatile int *)8;

static void no_core(void)
{
	struct rlimit r = { 0, 0 };

	setrlimit(RLIMIT_CORE, &r);
}

/* fork a child that ends by how; returns its pid, *status = wait status */
static pid_t run_child(int how, int *status)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		no_core();
		switch (how) {
		case 0:
			signal(SIGSEGV, SIG_DFL);
			raise(SIGSEGV);
			break;
		case 1:
			signal(SIGSEGV, SIG_DFL);
			*bad_address = 1; /* a real fault */
			break;
		case 2:
			_exit(3);
		case 3:
			signal(SIGABRT, SIG_DFL);
			abort();
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, status, 0), pid);
	return pid;
}

static int setup(void **state)
{
	struct proc_collector_opts o = { .sinks = { .process = on_event } };

	(void)state;
	if (geteuid()) {
		fprintf(stderr, "BPF tests need root\n");
		return -1;
	}
	return proc__open(&o, &pc);
}

static int teardown(void **state)
{
	(void)state;
	proc__close(pc);
	return 0;
}

/* Before this process is a service's: only a crash is reported, under no service. */
static void crash_of_no_service(void **state)
{
	const struct proc_exit *e;
	pid_t pid;
	int st;

	(void)state;
	pid = run_child(0, &st);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	e = record_of(pid);
	assert_non_null(e);
	assert_int_equal(e->type, PROC_RECORD_EXIT);
	assert_int_equal(e->svc, -1);
	assert_int_equal(e->exit_code & 0x7f, SIGSEGV);
	pid = run_child(2, &st);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	assert_null(record_of(pid)); /* a plain exit of no service: nothing */
}

static void service_children(void **state)
{
	const struct proc_exit *e;
	__u32 counts[FP_MAX_SERVICES];
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(proc__add_task(pc, getpid(), SVC), 0);
	assert_int_equal(proc__count_tasks(pc, counts), 0);
	assert_int_equal(counts[SVC], 1);

	/* raise(): SI_TKILL; the record's exit code is the wait status */
	pid = run_child(0, &st);
	e = record_of(pid);
	assert_non_null(e);
	assert_int_equal(e->svc, SVC);
	assert_int_equal(e->exit_code, st);
	assert_int_equal(e->sig, SIGSEGV);
	assert_int_equal(e->si_code, SI_TKILL);
	assert_int_equal(e->oom, 0);
	assert_string_equal(e->comm, "test_proc_bpf");

	/* a fault: SEGV_MAPERR */
	pid = run_child(1, &st);
	e = record_of(pid);
	assert_non_null(e);
	assert_int_equal(e->exit_code, st);
	assert_int_equal(e->sig, SIGSEGV);
	assert_int_equal(e->si_code, SEGV_MAPERR);

	pid = run_child(3, &st);
	e = record_of(pid);
	assert_non_null(e);
	assert_int_equal(e->exit_code, st);
	assert_int_equal(e->sig, SIGABRT);

	/* every exit of a service process is reported, a clean one too */
	pid = run_child(2, &st);
	e = record_of(pid);
	assert_non_null(e);
	assert_int_equal(e->exit_code, st);
	assert_int_equal(e->exit_code >> 8, 3);
	assert_int_equal(e->sig, 0);

	/* killed by this process: the record names the sender */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	usleep(100000);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	e = record_of(pid);
	assert_non_null(e);
	assert_int_equal(e->exit_code, SIGTERM);
	assert_int_equal(e->sender_pid, getpid());
	assert_string_equal(e->sender_comm, "test_proc_bpf");

		/* forked children left the table when they exited */
	assert_int_equal(proc__count_tasks(pc, counts), 0);
	assert_int_equal(counts[SVC], 1);
}

static int records_of(pid_t pid)
{
	int i, n = 0;

	proc__consume(pc);
	for (i = 0; i < n_seen; i++)
		n += seen[i].x.pid == (__u32)pid;
	return n;
}

static void *spin_thread(void *arg)
{
	volatile unsigned long *x = arg;

	for (;;)
		(*x)++;
	return NULL;
}

/*
 * A process whose threads all die at once (a crash kills the whole group) is one exit:
 * do_exit() drops signal->live well before the exit tracepoint, so two threads exiting
 * together on two CPUs can both find the count at zero there.
 */
static void one_record_per_threaded_exit(void **state)
{
	int i, k, st, twice = 0, n = 40;
	pid_t pid;

	(void)state;
	for (i = 0; i < n; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			static volatile unsigned long x[4];
			pthread_t t;

			no_core();
			for (k = 0; k < 4; k++)
				if (pthread_create(&t, NULL, spin_thread, (void *)&x[k]))
					_exit(1);
			while (!x[0] || !x[1] || !x[2] || !x[3])
				;
			signal(SIGSEGV, SIG_DFL);
			raise(SIGSEGV);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
		k = records_of(pid);
		assert_true(k >= 1);
		twice += k > 1;
	}
	print_message("%d of %d five-thread crashes reported more than once\n", twice, n);
	assert_int_equal(twice, 0);
}

/* Children spinning on more CPUs' worth of work than there are: they wait. */
static void runqueue_latency(void **state)
{
	struct runq_hist h[FP_MAX_SERVICES];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t pids[16];
	__u64 slots = 0;
	int i, n = (int)(ncpu * 2 > 16 ? 16 : ncpu * 2), st;

	(void)state;
	assert_int_equal(proc__read_runq(pc, h), 0);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct timespec t0, t;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			do
				clock_gettime(CLOCK_MONOTONIC, &t);
			while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec <
			       300000000L);
			_exit(0);
		}
	}
	for (i = 0; i < n; i++)
		waitpid(pids[i], &st, 0);
	assert_int_equal(proc__read_runq(pc, h), 0);
	for (i = 0; i < FP_RUNQ_SLOTS; i++)
		slots += h[SVC].slots[i];
	assert_true(h[SVC].count > 0);
	assert_int_equal(slots, h[SVC].count); /* every sample in exactly one bucket */
	assert_true(h[SVC].sum_ns > 0);
	assert_int_equal(h[0].count, 0); /* nothing in a service with no process */
}

/* /proc/<pid>/schedstat: run_delay and pcount of the process's (only) thread */
static void schedstat(pid_t pid, __u64 *run_delay, __u64 *pcount)
{
	unsigned long long run, delay, count;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu %llu %llu", &run, &delay, &count), 3);
	fclose(f);
	*run_delay = delay;
	*pcount = count;
}

static char task_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	assert_non_null(p);
	return p[2];
}

/* every child asleep and switched away: its schedstat steady for 20 ms while sleeping */
static void wait_quiescent(const pid_t *pids, size_t n, __u64 *delay, __u64 *count)
{
	size_t i;
	int tries;

	for (i = 0; i < n; i++) {
		for (tries = 0; tries < 500; tries++) {
			__u64 d0, c0;

			if (task_state(pids[i]) != 'S') {
				usleep(2000);
				continue;
			}
			schedstat(pids[i], &d0, &c0);
			usleep(20000);
			schedstat(pids[i], &delay[i], &count[i]);
			if (task_state(pids[i]) == 'S' && d0 == delay[i] && c0 == count[i])
				break;
		}
		assert_true(tries < 500);
	}
}

/*
 * Children of a service, more spinners than CPUs, each woken once to spin 200 ms: the
 * probe's waits against the kernel's own account of them (schedstat). From sched_info
 * they must be equal to the nanosecond; timed from wakeups, close.
 */
static void runq_vs_schedstat(const char *disable, const char *want_hook, bool exact)
{
	struct proc_collector_opts o = { .disable = disable };
	struct runq_hist h0[FP_MAX_SERVICES], h1[FP_MAX_SERVICES];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = ncpu < 1 ? 3 : ncpu * 2 + 1 > 16 ? 16 : (size_t)ncpu * 2 + 1;
	int i, st;
	__u64 d0[16], c0[16], d1[16], c1[16], waits = 0, delay = 0;
	int go[2], done[2], hold[2];
	struct proc_collector *c;
	struct hook hooks[8];
	pid_t pids[16] = { 0 };
	char b[16] = { 0 };

	proc__plan(hooks, 8, disable);
	assert_string_equal(hooks[0].feature, "runqueue_latency");
	assert_true(hooks[0].chosen >= 0);
	assert_string_equal(hooks[0].hook[hooks[0].chosen], want_hook);
	assert_int_equal(proc__open(&o, &c), 0);
	assert_int_equal(proc__add_task(c, getpid(), SVC), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	assert_int_equal(pipe(hold), 0);
	for (i = 0; i < (int)n; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct timespec t0, t;
			char x;

			close(go[1]);
			close(done[0]);
			close(hold[1]);
			if (read(go[0], &x, 1) != 1)
				_exit(1);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			do
				clock_gettime(CLOCK_MONOTONIC, &t);
			while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec <
			       200000000L);
			if (write(done[1], "x", 1) != 1)
				_exit(1);
			(void)!read(hold[0], &x, 1); /* EOF when the parent lets go */
			_exit(0);
		}
	}
	close(go[0]);
	close(done[1]);
	close(hold[0]);
	/* asleep before the window: their waits from now on are another service's */
	wait_quiescent(pids, n, d0, c0);
	for (i = 0; i < (int)n; i++)
		assert_int_equal(proc__add_task(c, pids[i], SVC + 1), 0);
	wait_quiescent(pids, n, d0, c0);
	assert_int_equal(proc__read_runq(c, h0), 0);
	assert_int_equal(write(go[1], b, n), (ssize_t)n);
	for (i = 0; i < (int)n; i++)
		assert_int_equal(read(done[0], b, 1), 1);
	wait_quiescent(pids, n, d1, c1);
	assert_int_equal(proc__read_runq(c, h1), 0);
	close(hold[1]);
	for (i = 0; i < (int)n; i++) {
		waitpid(pids[i], &st, 0);
		waits += c1[i] - c0[i];
		delay += d1[i] - d0[i];
	}
	close(go[1]);
	close(done[0]);
	proc__close(c);
	print_message("%s: schedstat %llu waits, %llu ns; probe %llu waits, %llu ns\n", want_hook,
		      (unsigned long long)waits, (unsigned long long)delay,
		      (unsigned long long)(h1[SVC + 1].count - h0[SVC + 1].count),
		      (unsigned long long)(h1[SVC + 1].sum_ns - h0[SVC + 1].sum_ns));
	assert_true(waits >= (__u64)n); /* each was woken once at least */
	assert_true(delay > 0);
	if (exact) {
		assert_int_equal(h1[SVC + 1].count - h0[SVC + 1].count, waits);
		assert_int_equal(h1[SVC + 1].sum_ns - h0[SVC + 1].sum_ns, delay);
	} else {
		__u64 got = h1[SVC + 1].sum_ns - h0[SVC + 1].sum_ns;

		assert_true(h1[SVC + 1].count > h0[SVC + 1].count);
		/* timed from the wakeup tracepoint, not the enqueue: within 10 % */
		assert_true(got * 10 >= delay * 9 && got * 10 <= delay * 11);
	}
}

static void runqueue_sched_info_tp_btf(void **state)
{
	(void)state;
	runq_vs_schedstat("", "tp_btf/sched_switch", true);
}

static void runqueue_sched_info_raw_tp(void **state)
{
	(void)state;
	runq_vs_schedstat("tp_btf", "raw_tp/sched_switch", true);
}

static void runqueue_wakeups_raw_tp(void **state)
{
	(void)state;
	runq_vs_schedstat("tp_btf,raw_tp/sched_switch", "raw_tp/sched_{wakeup,wakeup_new,switch}",
			  false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crash_of_no_service),
		cmocka_unit_test(service_children),
		cmocka_unit_test(one_record_per_threaded_exit),
		cmocka_unit_test(runqueue_latency),
		cmocka_unit_test(runqueue_sched_info_tp_btf),
		cmocka_unit_test(runqueue_sched_info_raw_tp),
		cmocka_unit_test(runqueue_wakeups_raw_tp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
