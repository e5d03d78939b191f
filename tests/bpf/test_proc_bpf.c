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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crash_of_no_service),
		cmocka_unit_test(service_children),
		cmocka_unit_test(one_record_per_threaded_exit),
		cmocka_unit_test(runqueue_latency),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
