// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/export/alertmanager.c's queue, without its thread: a newer state of a queued alert
 * replaces it in place, a full queue drops its oldest resolved alert before any firing
 * one, the length never passes the capacity, and every drop is counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export/alertmanager.h"
#include "lib/strbuf.h"
#include "telemetry/metrics.h"

/* The value of one sample line of the exposition, -1 if absent. */
static double sample(struct metrics *m, const char *line_start)
{
	struct strbuf sb;
	const char *p;
	double v = -1;

	strbuf__init(&sb);
	assert_int_equal(metrics__render(m, &sb, METRICS_TEXT_004), 0);
	p = strstr(sb.buf, line_start);
	if (p)
		v = strtod(p + strlen(line_start), NULL);
	strbuf__free(&sb);
	return v;
}

static void queue_bounds(void **state)
{
	struct alerts_config ac = { .queue = 3, .timeout_s = 1, .n_alertmanagers = 1 };
	struct metrics *m = metrics__new(0);
	struct notifier *n;
	char err[128];

	(void)state;
	strcpy(ac.alertmanagers[0].url, "http://127.0.0.1:1");
	n = notifier__new(m, &ac, err, sizeof(err));
	assert_non_null(n);
	assert_true(sample(m, "\nfogprobe_alert_queue_capacity ") == 3);
	notifier__send(n, "a", "{\"labels\":{\"alertname\":\"A\"}}", true);
	notifier__send(n, "b", "{\"labels\":{\"alertname\":\"B\"}}", false);
	notifier__send(n, "a", "{\"labels\":{\"alertname\":\"A\"},\"x\":1}", true); /* replaces */
	assert_true(sample(m, "\nfogprobe_alert_queue_length ") == 2);
	notifier__send(n, "c", "{\"labels\":{\"alertname\":\"C\"}}", true);
	assert_true(sample(m, "\nfogprobe_alert_queue_length ") == 3);
	assert_true(sample(m, "\nfogprobe_alert_notifications_dropped_total{reason=\"queue_full\"} ") == -1);
	/* full: b, the only resolved one, goes although a is older */
	notifier__send(n, "d", "{\"labels\":{\"alertname\":\"D\"}}", true);
	assert_true(sample(m, "\nfogprobe_alert_queue_length ") == 3);
	assert_true(sample(m, "\nfogprobe_alert_notifications_dropped_total{reason=\"queue_full\"} ") == 1);
	/* all firing: the oldest (a) goes */
	notifier__send(n, "e", "{\"labels\":{\"alertname\":\"E\"}}", true);
	assert_true(sample(m, "\nfogprobe_alert_queue_length ") == 3);
	assert_true(sample(m, "\nfogprobe_alert_notifications_dropped_total{reason=\"queue_full\"} ") == 2);
	/* a newer state of a queued one is no drop */
	notifier__send(n, "d", "{\"labels\":{\"alertname\":\"D\"},\"y\":2}", false);
	assert_true(sample(m, "\nfogprobe_alert_notifications_dropped_total{reason=\"queue_full\"} ") == 2);
	notifier__free(n);
	metrics__free(m);
}

/* Without receivers nothing is queued. */
static void no_receivers(void **state)
{
	struct alerts_config ac = { .queue = 3 };
	struct metrics *m = metrics__new(0);
	struct notifier *n;
	char err[128];

	(void)state;
	n = notifier__new(m, &ac, err, sizeof(err));
	notifier__send(n, "a", "{}", true);
	assert_true(sample(m, "\nfogprobe_alert_queue_length ") == 0);
	assert_int_equal(notifier__start(n), 0);
	notifier__free(n);
	notifier__free(NULL);
	metrics__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(queue_bounds),
		cmocka_unit_test(no_receivers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
