// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/model/health.c: the service-up rule, availability accounting over a timeline
 * whose time is given (no clocks, no sleeps), and the synthetic connect against real
 * sockets of this host (the kernel says whether a port listens).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "model/health.h"

#define S 1000000000ULL /* ns per second */

/* Fake process table: a tgid is alive while its entry says so. Counts the questions. */
struct procs {
	uint32_t tgid[64];
	bool alive[64];
	int asked;
};

static bool fake_alive(void *ctx, uint32_t tgid)
{
	struct procs *p = ctx;
	int i;

	p->asked++;
	for (i = 0; i < 64; i++)
		if (p->tgid[i] == tgid)
			return p->alive[i];
	return false;
}

static int up_of(struct health *h, int svc)
{
	struct health_stat st;

	health__read(h, svc, &st);
	return st.up;
}

static void not_hosted_has_no_series(void **state)
{
	struct health *h = health__new(2);
	struct procs p = { { 100 }, { true } };

	(void)state;
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), -1);
	assert_int_equal(up_of(h, 1), -1);
	health__free(h);
}

static void listener_and_process(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 100 }, { true } };

	(void)state;
	health__listen(h, 0, 100);
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	/* the listener closes, the process lives on: down */
	health__unlisten(h, 0);
	health__tick(h, 2 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	/* listens again */
	health__listen(h, 0, 100);
	health__tick(h, 3 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	/* killed: the process is gone before its unlisten event is read */
	p.alive[0] = false;
	health__tick(h, 4 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	/* the stale listener count alone does not bring it back */
	health__tick(h, 5 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	/* a new process listens */
	p.tgid[1] = 200;
	p.alive[1] = true;
	health__set_listeners(h, 0, 1);
	health__listen(h, 0, 200);
	health__tick(h, 6 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	health__free(h);
}

static void listener_before_its_process_is_known(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 100 }, { true } };
	struct health_stat st;

	(void)state;
	/* the kernel's table shows the listener; its listen event is not read yet */
	health__set_listeners(h, 0, 1);
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	health__listen(h, 0, 100);
	health__set_listeners(h, 0, 1);
	health__tick(h, 2 * S, fake_alive, &p);
	health__read(h, 0, &st);
	assert_int_equal(st.up, 1);
	assert_int_equal(st.changes, 0); /* no flap on the way in */
	health__free(h);
}

/* The listener's parent exits after forking a worker that keeps serving the socket: the
 * kernel's count of the service's processes still has the worker. */
static void kernel_count_covers_forked_workers(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 100 }, { true } };

	(void)state;
	health__listen(h, 0, 100);
	health__set_processes(h, 0, 2); /* parent and worker */
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	p.alive[0] = false; /* the parent exits; the socket stays open in the worker */
	health__exit(h, 100);
	health__set_processes(h, 0, 1);
	health__tick(h, 2 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	/* the worker dies: its socket closes, no process left */
	health__unlisten(h, 0);
	health__set_processes(h, 0, 0);
	health__tick(h, 3 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	/* a stale listener count with no process by the kernel's count is down */
	health__set_listeners(h, 0, 1);
	health__tick(h, 4 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	health__free(h);
}

static void exit_event_removes_process(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 100 }, { true } };

	(void)state;
	health__listen(h, 0, 100);
	health__exit(h, 100); /* the exit record arrives; /proc still shows a zombie-free pid */
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	health__free(h);
}

static void preexisting_listener(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 100 }, { true } };

	(void)state;
	/* found by the start-up scan; the kernel's listener table has nothing for it */
	health__add_preexisting(h, 0, 100);
	health__set_listeners(h, 0, 0);
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	p.alive[0] = false;
	health__tick(h, 2 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	health__free(h);
}

/* Three processes listen on one port with SO_REUSEPORT, a socket each: up until the last
 * one ends, whichever ends first; with the kernel's process count and without it. */
static void reuseport_siblings(void **state)
{
	struct procs p = { { 100, 101, 102 }, { true, true, true } };
	int round, i, order[3] = { 1, 0, 2 };

	(void)state;
	for (round = 0; round < 2; round++) {
		struct health *h = health__new(1);
		bool kernel = round == 0;

		for (i = 0; i < 3; i++) {
			p.alive[i] = true;
			health__listen(h, 0, p.tgid[i]);
		}
		if (kernel)
			health__set_processes(h, 0, 3);
		health__tick(h, 1 * S, fake_alive, &p);
		assert_int_equal(up_of(h, 0), 1);
		for (i = 0; i < 3; i++) {
			int k = order[i];

			/* it dies: its socket closes, its exit record comes */
			p.alive[k] = false;
			health__unlisten(h, 0);
			if (kernel) {
				health__exit(h, p.tgid[k]);
				health__set_processes(h, 0, 2 - i);
			}
			health__tick(h, (2 + i) * S, fake_alive, &p);
			assert_int_equal(up_of(h, 0), i < 2);
		}
		health__free(h);
	}
}

/* Listeners older than the probe (the scan found them, the kernel's listener table has
 * none of their sockets): up while one of them lives, however many there are, at one
 * liveness question per tick while the oldest lives. */
static void preexisting_siblings(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 0 } };
	int i, n = 40; /* a master and its workers, each holding the sockets */

	(void)state;
	for (i = 0; i < n; i++) {
		p.tgid[i] = 100 + i;
		p.alive[i] = true;
		health__add_preexisting(h, 0, p.tgid[i]);
	}
	health__set_processes(h, 0, n);
	health__set_listeners(h, 0, 0);
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	assert_int_equal(p.asked, 1);
	/* the workers are replaced (a reload): the new ones are forks the scan never saw;
	 * the master, the first one found, still holds the sockets */
	for (i = 1; i < n; i++) {
		p.alive[i] = false;
		health__exit(h, p.tgid[i]);
	}
	health__tick(h, 2 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	p.alive[0] = false;
	health__set_processes(h, 0, 0);
	health__tick(h, 3 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 0);
	health__free(h);
}

/* Many listening processes cost one liveness question per tick: the oldest first, the
 * dead ones met on the way pruned. */
static void liveness_questions_stop_at_a_live_one(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 0 } };
	int i, n = 40;

	(void)state;
	for (i = 0; i < n; i++) {
		p.tgid[i] = 100 + i;
		p.alive[i] = true;
		health__add_preexisting(h, 0, p.tgid[i]);
	}
	/* the first two died, their exit records not read yet */
	p.alive[0] = p.alive[1] = false;
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	assert_int_equal(p.asked, 3);
	p.asked = 0;
	health__tick(h, 2 * S, fake_alive, &p);
	assert_int_equal(p.asked, 1);
	health__free(h);
}

static void availability_accounting(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 100 }, { true } };
	struct health_stat st;

	(void)state;
	health__listen(h, 0, 100);
	health__tick(h, 10 * S, fake_alive, &p); /* observation starts: nothing yet */
	health__read(h, 0, &st);
	assert_true(st.observed_seconds == 0 && st.up_seconds == 0);
	health__tick(h, 40 * S, fake_alive, &p); /* up 10..40 */
	health__unlisten(h, 0);
	health__tick(h, 50 * S, fake_alive, &p); /* up 40..50, down from 50 */
	health__tick(h, 60 * S, fake_alive, &p); /* down 50..60 */
	health__listen(h, 0, 100);
	health__tick(h, 70 * S, fake_alive, &p); /* down 60..70, up from 70 */
	health__tick(h, 110 * S, fake_alive, &p); /* up 70..110 */
	health__read(h, 0, &st);
	/* observed 10..110 = 100 s; up 10..50 and 70..110 = 80 s */
	assert_true(st.observed_seconds > 99.999 && st.observed_seconds < 100.001);
	assert_true(st.up_seconds > 79.999 && st.up_seconds < 80.001);
	assert_int_equal(st.changes, 2);
	assert_int_equal(st.up, 1);
	health__free(h);
}

static void check_only_service(void **state)
{
	struct health *h = health__new(1);
	struct health_stat st;

	(void)state;
	health__set_checked(h, 0);
	health__tick(h, 1 * S, NULL, NULL);
	assert_int_equal(up_of(h, 0), -1); /* no result yet */
	health__probe(h, 0, true, 0.002);
	health__tick(h, 2 * S, NULL, NULL);
	health__read(h, 0, &st);
	assert_int_equal(st.up, 1);
	assert_int_equal(st.probe, 1);
	assert_true(st.probe_seconds == 0.002);
	health__probe(h, 0, false, 1.0);
	health__tick(h, 4 * S, NULL, NULL);
	health__read(h, 0, &st);
	assert_int_equal(st.up, 0);
	assert_true(st.up_seconds > 1.999 && st.up_seconds < 2.001);
	health__free(h);
}

static void bounded_process_list(void **state)
{
	struct health *h = health__new(1);
	struct procs p = { { 1000 + HEALTH_MAX_PROCS }, { true } };
	uint32_t t;

	(void)state;
	/* more listeners than remembered: the newest is kept */
	for (t = 1000; t <= 1000 + HEALTH_MAX_PROCS; t++)
		health__listen(h, 0, t);
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	health__free(h);

	/* one found by the scan outlives any number of later listeners in the list */
	h = health__new(1);
	p.tgid[1] = 500;
	p.alive[1] = true;
	health__add_preexisting(h, 0, 500);
	for (t = 1000; t <= 1000 + HEALTH_MAX_PROCS; t++)
		health__listen(h, 0, t);
	for (t = 1000; t <= 1000 + HEALTH_MAX_PROCS; t++)
		health__unlisten(h, 0);
	health__set_processes(h, 0, 1);
	health__tick(h, 1 * S, fake_alive, &p);
	assert_int_equal(up_of(h, 0), 1);
	health__free(h);
}

static void out_of_range_services_ignored(void **state)
{
	struct health *h = health__new(1);
	struct health_stat st;

	(void)state;
	health__listen(h, 5, 1);
	health__listen(h, -1, 1);
	health__probe(h, 7, true, 1);
	health__read(h, 5, &st);
	assert_int_equal(st.up, -1);
	assert_null(health__new(CONFIG_MAX_SERVICES + 1));
	health__free(h);
	health__free(NULL);
}

/* A port of this host that listens, then does not: the kernel answers the connect. */
static void connect_real_socket(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	double secs = -1;
	int fd, err;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	err = health__connect("127.0.0.1", ntohs(a.sin_port), 1000, &secs);
	assert_int_equal(err, 0);
	assert_true(secs >= 0);
	close(fd);
	err = health__connect("127.0.0.1", ntohs(a.sin_port), 1000, &secs);
	assert_int_equal(err, -ECONNREFUSED);
	assert_int_equal(health__connect("localhost", 80, 1000, &secs), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(not_hosted_has_no_series),
		cmocka_unit_test(listener_and_process),
		cmocka_unit_test(listener_before_its_process_is_known),
		cmocka_unit_test(kernel_count_covers_forked_workers),
		cmocka_unit_test(exit_event_removes_process),
		cmocka_unit_test(preexisting_listener),
		cmocka_unit_test(reuseport_siblings),
		cmocka_unit_test(preexisting_siblings),
		cmocka_unit_test(liveness_questions_stop_at_a_live_one),
		cmocka_unit_test(availability_accounting),
		cmocka_unit_test(check_only_service),
		cmocka_unit_test(bounded_process_list),
		cmocka_unit_test(out_of_range_services_ignored),
		cmocka_unit_test(connect_real_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
