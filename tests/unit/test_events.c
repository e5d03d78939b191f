// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/telemetry/events.c and the exit classification of proc_metrics.c: the event ring
 * (sequence numbers, since=, what was dropped), RFC 3339 times, container ids in the
 * cgroup paths runtimes create, exit codes against the wait status the kernel gives for
 * real child processes (task->exit_code is what wait() returns), and what one exit
 * record becomes: its series and its event.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "lib/strbuf.h"
#include "telemetry/events.h"
#include "telemetry/tcp_metrics.h"
#include "telemetry/tls_metrics.h"
#include "telemetry/metrics.h"
#include "telemetry/proc_metrics.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static json_t *ev(int n)
{
	json_t *o = json_object();

	json_object_set_new(o, "n", json_integer(n));
	return o;
}

/* The "n" of every event in a rendered list, comma-separated, and next/dropped. */
static void parse(const char *text, char *ns, size_t len, long *next, long *dropped)
{
	json_error_t err;
	json_t *root = json_loads(text, 0, &err), *e;
	size_t i;

	assert_non_null(root);
	ns[0] = '\0';
	json_array_foreach(json_object_get(root, "events"), i, e)
	{
		char b[32];

		snprintf(b, sizeof(b), "%s%lld", i ? "," : "",
			 (long long)json_integer_value(json_object_get(e, "n")));
		strncat(ns, b, len - strlen(ns) - 1);
	}
	*next = (long)json_integer_value(json_object_get(root, "next"));
	*dropped = (long)json_integer_value(json_object_get(root, "dropped"));
	json_decref(root);
}

static void ring(void **state)
{
	char err[128], ns[256];
	struct event_log *l = events__new(NULL, 4, err, sizeof(err));
	struct strbuf sb;
	long next, dropped;
	int i;

	(void)state;
	assert_non_null(l);
	strbuf__init(&sb);
	assert_int_equal(events__render(l, 0, &sb), 0);
	parse(sb.buf, ns, sizeof(ns), &next, &dropped);
	assert_string_equal(ns, "");
	assert_int_equal(next, 0);
	for (i = 1; i <= 6; i++)
		assert_int_equal(events__append(l, ev(i)), 0);
	/* capacity 4: events 1 and 2 are gone */
	strbuf__reset(&sb);
	events__render(l, 0, &sb);
	parse(sb.buf, ns, sizeof(ns), &next, &dropped);
	assert_string_equal(ns, "3,4,5,6");
	assert_int_equal(next, 6);
	assert_int_equal(dropped, 2);
	strbuf__reset(&sb);
	events__render(l, 4, &sb);
	parse(sb.buf, ns, sizeof(ns), &next, &dropped);
	assert_string_equal(ns, "5,6");
	assert_int_equal(dropped, 0);
	strbuf__reset(&sb);
	events__render(l, 6, &sb);
	parse(sb.buf, ns, sizeof(ns), &next, &dropped);
	assert_string_equal(ns, "");
	assert_int_equal(next, 6);
	/* not an object: refused, and the reference is still released */
	assert_int_equal(events__append(l, json_integer(1)), -EINVAL);
	strbuf__free(&sb);
	events__free(l);
	events__free(NULL);
}

static void sink_file(void **state)
{
	char path[] = "/tmp/fogprobe-events-XXXXXX", err[128], line[256];
	int fd = mkstemp(path);
	struct event_log *l;
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	l = events__new(path, 0, err, sizeof(err));
	assert_non_null(l);
	events__append(l, ev(7));
	events__append(l, ev(8));
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "{\"n\":7,\"seq\":1}\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "{\"n\":8,\"seq\":2}\n");
	fclose(f);
	events__free(l);
	unlink(path);
	assert_null(events__new("/nonexistent-dir/x", 0, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
}

static void rfc3339(void **state)
{
	char b[40];

	(void)state;
	assert_string_equal(events__rfc3339(0, b, sizeof(b)), "1970-01-01T00:00:00.000Z");
	/* date -u -d @1795585800 = 2026-11-25T05:50:00 */
	assert_string_equal(events__rfc3339(1795585800.1234, b, sizeof(b)),
			    "2026-11-25T05:50:00.123Z");
}

static void container_ids(void **state)
{
	static const struct {
		const char *path, *want;
	} cases[] = {
		{ "/system.slice/docker-" ID64 ".scope", ID64 },
		{ "/docker/" ID64, ID64 },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c_3d4e.slice/"
		  "cri-containerd-" ID64 ".scope",
		  ID64 },
		{ "/kubepods/besteffort/pod12345678-aaaa-bbbb-cccc-1234567890ab/" ID64, ID64 },
		{ "/kubepods.slice/kubepods-pod1.slice/crio-" ID64 ".scope", ID64 },
		/* cri-o's monitor process, not the container */
		{ "/kubepods.slice/kubepods-pod1.slice/crio-conmon-" ID64 ".scope", NULL },
		{ "/user.slice/user-0.slice/session-1.scope", NULL },
		{ "/", NULL },
		/* 63 and 65 hex digits are no container id */
		{ "/docker/" ID64 "0", NULL },
		{ "/docker/123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL },
	};
	char b[72];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = events__container_id(cases[i].path, b, sizeof(b));

		if (!cases[i].want)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].want);
	}
	assert_null(events__container_id("/docker/" ID64, b, 64)); /* buffer too small */
}

/* Wait status of a child that ends by how(). */
static int child_status(void (*how)(void))
{
	int st = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		how();
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void do_abort(void)
{
	signal(SIGABRT, SIG_DFL);
	abort();
}

static void do_segv(void)
{
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
}

static void do_term(void)
{
	signal(SIGTERM, SIG_DFL);
	raise(SIGTERM);
}

static void do_exit3(void)
{
	_exit(3);
}

static void do_exit0(void)
{
	_exit(0);
}

static void classify_real_exits(void **state)
{
	char b[16];

	(void)state;
	assert_int_equal(proc_metrics__classify(child_status(do_abort), false), PROC_EXIT_CRASH);
	assert_int_equal(proc_metrics__classify(child_status(do_segv), false), PROC_EXIT_CRASH);
	assert_int_equal(proc_metrics__classify(child_status(do_term), false), PROC_EXIT_SIGNAL);
	assert_int_equal(proc_metrics__classify(child_status(do_exit3), false), PROC_EXIT_ERROR);
	assert_int_equal(proc_metrics__classify(child_status(do_exit0), false), PROC_EXIT_OK);
	/* an OOM victim dies of SIGKILL: counted as oom whatever the status */
	assert_int_equal(proc_metrics__classify(SIGKILL, true), PROC_EXIT_OOM);
	assert_int_equal(proc_metrics__classify(SIGKILL, false), PROC_EXIT_SIGNAL);
	/* the core-dumped flag (0x80) does not change the signal */
	assert_int_equal(proc_metrics__classify(SIGSEGV | 0x80, false), PROC_EXIT_CRASH);
	assert_string_equal(proc_metrics__signal_name(SIGSEGV, b, sizeof(b)), "SIGSEGV");
	assert_string_equal(proc_metrics__signal_name(SIGABRT, b, sizeof(b)), "SIGABRT");
	assert_string_equal(proc_metrics__signal_name(34, b, sizeof(b)), "SIG34");
}

/* text has this whole line */
static void expect_line(const char *text, const char *line)
{
	const char *p;
	size_t n = strlen(line);

	for (p = strstr(text, line); p; p = strstr(p + 1, line))
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("no line \"%s\" in:\n%s", line, text);
}

/* A child's real status through proc_metrics: exits_total, crashes_total, the event. */
static void exit_records(void **state)
{
	static struct config cfg; /* large */
	struct metrics *m = metrics__new(0);
	char err[128], ns[256];
	struct event_log *l = events__new(NULL, 8, err, sizeof(err));
	struct proc_metrics *pm;
	struct strbuf sb;
	long next, dropped;
	json_t *root, *ev;
	struct proc_exit x = {
		.type = PROC_RECORD_EXIT,
		.svc = 0,
		.comm = "mixnode",
		.pid = 4242,
		.exit_code = child_status(do_segv),
		.sig = SIGSEGV,
		.si_code = 1,
		.cgroup = "/kubepods/besteffort/pod1/" ID64,
		.unix_time = 1795585800.25,
	};

	(void)state;
	assert_non_null(m);
	assert_non_null(l);
	cfg.n_services = 1;
	strcpy(cfg.services[0].name, "betanet");
	pm = proc_metrics__new(m, &cfg, l);
	assert_non_null(pm);
	proc_metrics__exit(pm, &x);
	x.exit_code = child_status(do_exit0); /* counted, but no event */
	proc_metrics__exit(pm, &x);
	x.svc = -1; /* no service: only a crash is counted, under "none" */
	x.exit_code = child_status(do_exit3);
	proc_metrics__exit(pm, &x);

	strbuf__init(&sb);
	assert_int_equal(metrics__render(m, &sb, METRICS_TEXT_004), 0);
	expect_line(sb.buf, "fogprobe_process_exits_total{service=\"betanet\",reason=\"crash\"} 1");
	expect_line(sb.buf, "fogprobe_process_exits_total{service=\"betanet\",reason=\"ok\"} 1");
	expect_line(sb.buf,
		    "fogprobe_process_crashes_total{service=\"betanet\",signal=\"SIGSEGV\"} 1");
	expect_line(sb.buf, "fogprobe_oom_kills_total{service=\"none\"} 0");
	if (strstr(sb.buf, "service=\"none\",reason="))
		fail_msg("an exit of no service was counted:\n%s", sb.buf);

	/* Two events: the crash and the exit(3) of the process of no service. */
	strbuf__reset(&sb);
	assert_int_equal(events__render(l, 0, &sb), 0);
	parse(sb.buf, ns, sizeof(ns), &next, &dropped);
	assert_int_equal(next, 2);
	root = json_loads(sb.buf, 0, NULL);
	assert_non_null(root);
	ev = json_array_get(json_object_get(root, "events"), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "type")), "crash");
	assert_string_equal(json_string_value(json_object_get(ev, "reason")), "crash");
	assert_string_equal(json_string_value(json_object_get(ev, "service")), "betanet");
	assert_string_equal(json_string_value(json_object_get(ev, "signal")), "SIGSEGV");
	assert_string_equal(json_string_value(json_object_get(ev, "container_id")), ID64);
	assert_string_equal(json_string_value(json_object_get(ev, "time")),
			    "2026-11-25T05:50:00.250Z");
	ev = json_array_get(json_object_get(root, "events"), 1);
	assert_string_equal(json_string_value(json_object_get(ev, "type")), "exit");
	assert_string_equal(json_string_value(json_object_get(ev, "service")), "none");
	assert_int_equal(json_integer_value(json_object_get(ev, "exit_status")), 3);
	json_decref(root);
	strbuf__free(&sb);
	proc_metrics__free(pm);
	proc_metrics__free(NULL);
	events__free(l);
	metrics__free(m);
}

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* Per kind: 20 at once, then 10 a second; the next event says how many were held back. */
static void rate_limit(void **state)
{
	char err[128];
	struct event_log *l = events__new(NULL, 64, err, sizeof(err));
	static const uint8_t tid[16] = { 0xab }, sid[8] = { 0xcd };
	struct strbuf out;
	int i, ok = 0, held = 0;

	(void)state;
	assert_non_null(l);
	events__set_clock(l, fake_clock);
	fake_now = 1000000000ULL;
	for (i = 0; i < 25; i++) {
		int rc = events__emit(l, "connect_failure", "web",
				      json_pack("{s:s}", "reason", "refused"), NULL, NULL);

		ok += rc == 0;
		held += rc == -EAGAIN;
	}
	assert_int_equal(ok, 20);
	assert_int_equal(held, 5);
	assert_int_equal(events__suppressed(l, "connect_failure"), 5);
	/* another kind has its own bucket */
	assert_int_equal(events__emit(l, "betanet_failure", "betanet", NULL, tid, sid), 0);
	fake_now += 100000000ULL; /* 0.1 s: one token */
	assert_int_equal(events__emit(l, "connect_failure", "web", NULL, NULL, NULL), 0);
	assert_int_equal(events__emit(l, "connect_failure", "web", NULL, NULL, NULL), -EAGAIN);
	strbuf__init(&out);
	events__render(l, 20, &out);
	/* seq 21: the other kind with its ids; seq 22: the 5 held back reported */
	assert_non_null(strstr(out.buf, "\"kind\":\"betanet_failure\",\"service\":\"betanet\","
					"\"trace_id\":\"ab000000000000000000000000000000\","
					"\"span_id\":\"cd00000000000000\""));
	assert_non_null(strstr(out.buf, "\"kind\":\"connect_failure\",\"service\":\"web\","
					"\"suppressed\":5,\"seq\":22"));
	strbuf__free(&out);
	events__free(l);
}

/* tls_hook: one event per binary found or changed, none for the same state again */
static void tls_hook_events(void **state)
{
	char err[128];
	struct event_log *l = events__new(NULL, 64, err, sizeof(err));
	struct metrics *m = metrics__new(0);
	struct tls_metrics *tm = tls_metrics__new(m);
	struct tls_hook_status a[] = { { "/usr/lib/libssl.so.3", "hooked" } };
	struct tls_hook_status b[] = { { "/usr/lib/libssl.so.3", "failed" }, { "/opt/x", "no_symbols" } };
	struct strbuf out;

	(void)state;
	assert_non_null(tm);
	tls_metrics__set_events(tm, l);
	tls_metrics__update(tm, a, 1);
	tls_metrics__update(tm, a, 1);
	tls_metrics__update(tm, b, 2);
	tls_metrics__update(tm, b, 2);
	strbuf__init(&out);
	events__render(l, 0, &out);
	assert_non_null(strstr(out.buf, "\"kind\":\"tls_hook\",\"service\":\"none\",\"binary\":\"/usr/lib/libssl.so.3\",\"state\":\"hooked\",\"previous\":\"none\",\"seq\":1}"));
	assert_non_null(strstr(out.buf, "\"binary\":\"/usr/lib/libssl.so.3\",\"state\":\"failed\",\"previous\":\"hooked\",\"seq\":2}"));
	assert_non_null(strstr(out.buf, "\"binary\":\"/opt/x\",\"state\":\"no_symbols\",\"previous\":\"none\",\"seq\":3}"));
	assert_null(strstr(out.buf, "\"seq\":4"));
	strbuf__free(&out);
	tls_metrics__free(tm);
	metrics__free(m);
	events__free(l);
}

/* drop_burst: 100 or more drops of a service within one period */
static void drop_bursts(void **state)
{
	char err[128];
	struct event_log *l = events__new(NULL, 64, err, sizeof(err));
	struct metrics *m = metrics__new(0);
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct tcp_snapshot *snap = calloc(1, sizeof(*snap));
	struct tcp_metrics *tm;
	struct strbuf out;

	(void)state;
	cfg->n_services = 1;
	strcpy(cfg->services[0].name, "web");
	tm = tcp_metrics__new(m, cfg);
	assert_non_null(tm);
	tcp_metrics__set_events(tm, l);
	snap->drops[0][2] = 5000; /* drops before the first update: no burst */
	tcp_metrics__drop_bursts(tm, snap);
	snap->drops[0][2] += 99;
	tcp_metrics__drop_bursts(tm, snap);
	snap->drops[0][2] += 60;
	snap->drops[0][5] += 90;
	tcp_metrics__drop_bursts(tm, snap);
	tcp_metrics__drop_bursts(tm, snap);
	strbuf__init(&out);
	events__render(l, 0, &out);
	assert_non_null(strstr(out.buf, "\"kind\":\"drop_burst\",\"service\":\"web\",\"drops\":150,"));
	assert_null(strstr(out.buf, "\"seq\":2"));
	strbuf__free(&out);
	tcp_metrics__free(tm);
	metrics__free(m);
	events__free(l);
	free(snap);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ring),
		cmocka_unit_test(sink_file),
		cmocka_unit_test(rfc3339),
		cmocka_unit_test(container_ids),
		cmocka_unit_test(classify_real_exits),
		cmocka_unit_test(exit_records),
		cmocka_unit_test(rate_limit),
		cmocka_unit_test(tls_hook_events),
		cmocka_unit_test(drop_bursts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
