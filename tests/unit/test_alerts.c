// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/telemetry/alerts.c over synthetic series and a fake clock: the state machine
 * (pending for `for`, firing, resolved with endsAt), rate and increase with Prometheus's
 * extrapolation, histogram_quantile's interpolation, ratios, sums by label, guards, the
 * merge of config entries over the default rules, templates; and the config errors of
 * alerts.rules with their positions (user/lib/config.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/config.h"
#include "lib/strbuf.h"
#include "telemetry/alerts.h"
#include "telemetry/metrics.h"

#define T0 1.7e9

struct sent {
	char *json[32];
	int n;
};

static void sink(void *ctx, const char *key, const char *alert_json, bool firing)
{
	(void)key, (void)firing;
	struct sent *s = ctx;

	if (s->n < 32)
		s->json[s->n++] = strdup(alert_json);
}

static void sent_free(struct sent *s)
{
	while (s->n)
		free(s->json[--s->n]);
}

static struct config *load(const char *rules_json)
{
	static struct config cfg;
	char text[4096], err[256];

	snprintf(text, sizeof(text),
		 "{\"services\": [{\"name\": \"betanet\", \"protocol\": \"tcp\", \"ports\": [9001]}],\n"
		 " \"alerts\": {\"instance\": \"node-1\", \"interval\": \"15s\", \"resend\": \"1m\",\n"
		 "  \"rules\": %s}}",
		 rules_json);
	if (config__load_string(text, "t.json", &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	return &cfg;
}

static struct alert_engine *engine(struct metrics *m, const char *rules, struct sent *s)
{
	struct alert_engine_opts o = { .cfg = &load(rules)->alerts, .reg = m,
				       .instance = "node-1", .sink = { sink, s } };
	char err[256] = "";
	struct alert_engine *e = alerts__new(&o, err, sizeof(err));

	if (!e)
		fprintf(stderr, "%s\n", err);
	assert_non_null(e);
	return e;
}

/* The alerts of /api/v1/alerts whose alertname is name: count, and the first's state
 * and value. */
static int api(struct alert_engine *e, const char *name, char *state, double *value,
	       char *labels, size_t lsize)
{
	struct strbuf sb;
	json_t *root, *a;
	size_t i;
	int n = 0;

	strbuf__init(&sb);
	assert_int_equal(alerts__render(e, &sb), 0);
	root = json_loads(sb.buf, 0, NULL);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "status")), "success");
	json_array_foreach(json_object_get(json_object_get(root, "data"), "alerts"), i, a) {
		json_t *l = json_object_get(a, "labels");

		if (strcmp(json_string_value(json_object_get(l, "alertname")), name))
			continue;
		if (!n++) {
			if (state)
				strcpy(state, json_string_value(json_object_get(a, "state")));
			if (value)
				*value = strtod(json_string_value(json_object_get(a, "value")), NULL);
			if (labels) {
				char *s = json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS);

				snprintf(labels, lsize, "%s", s);
				free(s);
			}
		}
	}
	json_decref(root);
	strbuf__free(&sb);
	return n;
}

/* Ticks 2 s apart, stamped from two clocks read microseconds apart: `for: 6s` is met at
 * the third tick after the first, as in Prometheus, though 6 s came out a hair short. */
static void for_over_whole_intervals(void **state)
{
	struct metrics *m = metrics__new(0);
	struct metric_family *f = metrics__family(m, "peers", "h", METRIC_GAUGE, NULL, 0, NULL, 0);
	struct sent s = { 0 };
	struct alert_engine *e;
	char st[16];

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"FewPeers\", \"for\": \"6s\",\n"
		   "  \"expr\": {\"fn\": \"gauge\", \"metric\": \"peers\", \"op\": \"<\", \"threshold\": 3}}]",
		   &s);
	metrics__set(f, NULL, 2);
	alerts__eval(e, T0 + 0.000012);
	alerts__eval(e, T0 + 2.000009);
	alerts__eval(e, T0 + 4.000011);
	api(e, "FewPeers", st, NULL, NULL, 0);
	assert_string_equal(st, "pending");
	alerts__eval(e, T0 + 6.000007); /* 5.999995 s after it became pending */
	api(e, "FewPeers", st, NULL, NULL, 0);
	assert_string_equal(st, "firing");
	alerts__free(e);
	metrics__free(m);
	sent_free(&s);
}

static void gauge_for_and_resolve(void **state)
{
	struct metrics *m = metrics__new(0);
	struct metric_family *f = metrics__family(m, "peers", "h", METRIC_GAUGE, NULL, 0, NULL, 0);
	struct sent s = { 0 };
	struct alert_engine *e;
	char st[16], labels[512];
	json_t *a;
	double v;
	int i;

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"FewPeers\", \"for\": \"30s\",\n"
		   "  \"expr\": {\"fn\": \"gauge\", \"metric\": \"peers\", \"op\": \"<\", \"threshold\": 3},\n"
		   "  \"labels\": {\"severity\": \"warning\", \"service\": \"betanet\"},\n"
		   "  \"annotations\": {\"summary\": \"{{ $labels.instance }} has {{ $value }} peers\"}}]",
		   &s);
	metrics__set(f, NULL, 2);
	alerts__eval(e, T0);
	assert_int_equal(api(e, "FewPeers", st, &v, labels, sizeof(labels)), 1);
	assert_string_equal(st, "pending");
	assert_true(v == 2);
	assert_string_equal(labels, "{\"alertname\":\"FewPeers\",\"instance\":\"node-1\","
				    "\"service\":\"betanet\",\"severity\":\"warning\"}");
	alerts__eval(e, T0 + 15);
	api(e, "FewPeers", st, NULL, NULL, 0);
	assert_string_equal(st, "pending");
	assert_int_equal(s.n, 0);
	alerts__eval(e, T0 + 30); /* for: 30s elapsed */
	api(e, "FewPeers", st, NULL, NULL, 0);
	assert_string_equal(st, "firing");
	assert_int_equal(s.n, 1);
	a = json_loads(s.json[0], 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "annotations"),
							      "summary")),
			    "node-1 has 2 peers");
	assert_string_equal(json_string_value(json_object_get(a, "startsAt")),
			    "2023-11-14T22:13:50.000Z");
	json_decref(a);
	alerts__eval(e, T0 + 45); /* resend is 1m: nothing new */
	assert_int_equal(s.n, 1);
	metrics__set(f, NULL, 3);
	alerts__eval(e, T0 + 60);
	assert_int_equal(api(e, "FewPeers", NULL, NULL, NULL, 0), 0);
	assert_int_equal(s.n, 2);
	a = json_loads(s.json[1], 0, NULL);
	assert_string_equal(json_string_value(json_object_get(a, "endsAt")),
			    "2023-11-14T22:14:20.000Z");
	json_decref(a);
	/* pending that clears never fires */
	metrics__set(f, NULL, 1);
	alerts__eval(e, T0 + 75);
	metrics__set(f, NULL, 4);
	alerts__eval(e, T0 + 90);
	assert_int_equal(s.n, 2);
	/* a resolved alert is resent on the resend interval, with its endsAt, for 15 min */
	alerts__eval(e, T0 + 120);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.json[1], s.json[2]);
	for (i = 135; i <= 1200; i += 15)
		alerts__eval(e, T0 + i);
	assert_int_equal(s.n, 3 + 14); /* once a minute until 15 min after */
	sent_free(&s);
	alerts__free(e);
	metrics__free(m);
}

/* An alert that fires again takes its resolved predecessor's place: only the new state
 * is resent under its fingerprint, never the old "resolved" between two "firing". */
static void refire_replaces_resolved(void **state)
{
	struct metrics *m = metrics__new(0);
	struct metric_family *f = metrics__family(m, "peers", "h", METRIC_GAUGE, NULL, 0, NULL, 0);
	struct sent s = { 0 };
	struct alert_engine *e;
	char st[16];
	int i;

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"FewPeers\", \"for\": \"15s\",\n"
		   "  \"expr\": {\"fn\": \"gauge\", \"metric\": \"peers\", \"op\": \"<\", \"threshold\": 3}}]",
		   &s);
	metrics__set(f, NULL, 2);
	alerts__eval(e, T0);
	alerts__eval(e, T0 + 15); /* firing */
	metrics__set(f, NULL, 3);
	alerts__eval(e, T0 + 30); /* resolved */
	assert_int_equal(s.n, 2);
	assert_non_null(strstr(s.json[1], "\"endsAt\":\"2023-11-14T22:13:50.000Z\""));
	metrics__set(f, NULL, 1);
	alerts__eval(e, T0 + 45); /* pending again */
	assert_int_equal(api(e, "FewPeers", st, NULL, NULL, 0), 1);
	assert_string_equal(st, "pending");
	for (i = 60; i <= 600; i += 15) /* firing, resent each minute */
		alerts__eval(e, T0 + i);
	assert_int_equal(api(e, "FewPeers", st, NULL, NULL, 0), 1);
	assert_string_equal(st, "firing");
	assert_true(s.n > 3);
	for (i = 2; i < s.n; i++) /* from the re-fire on: the new alert only */
		assert_non_null(strstr(s.json[i], "\"startsAt\":\"2023-11-14T22:14:20.000Z\""));
	sent_free(&s);
	alerts__free(e);
	metrics__free(m);
}

/* Every state change in the event log, and the fogprobe_alerts gauge. */
static void event_log(void **state)
{
	struct metrics *m = metrics__new(0);
	struct metric_family *f = metrics__family(m, "q", "h", METRIC_GAUGE, NULL, 0, NULL, 0);
	char err[256], states[128] = "";
	struct event_log *log = events__new(NULL, 0, err, sizeof(err));
	struct alert_engine_opts o = { .reg = m, .events = log, .instance = "n" };
	struct alert_engine *e;
	struct strbuf sb;
	json_t *root, *ev;
	size_t i;

	(void)state;
	o.cfg = &load("[{\"alert\": \"Q\", \"for\": \"30s\", \"labels\": {\"severity\": \"page\"},\n"
		      "  \"expr\": {\"fn\": \"gauge\", \"metric\": \"q\", \"op\": \">\", \"threshold\": 0}}]")
		      ->alerts;
	e = alerts__new(&o, err, sizeof(err));
	assert_non_null(e);
	metrics__set(f, NULL, 1);
	alerts__eval(e, T0); /* pending */
	metrics__set(f, NULL, 0);
	alerts__eval(e, T0 + 15); /* inactive: never fired */
	metrics__set(f, NULL, 1);
	alerts__eval(e, T0 + 30); /* pending */
	alerts__eval(e, T0 + 60); /* firing */
	strbuf__init(&sb);
	assert_int_equal(metrics__render(m, &sb, METRICS_TEXT_004), 0);
	assert_non_null(strstr(sb.buf, "fogprobe_alerts{alertname=\"Q\",alertstate=\"firing\","
					"severity=\"page\"} 1\n"));
	strbuf__reset(&sb);
	metrics__set(f, NULL, 0);
	alerts__eval(e, T0 + 75); /* resolved */
	assert_int_equal(metrics__render(m, &sb, METRICS_TEXT_004), 0);
	assert_null(strstr(sb.buf, "fogprobe_alerts{"));
	strbuf__reset(&sb);
	assert_int_equal(events__render(log, 0, &sb), 0);
	root = json_loads(sb.buf, 0, NULL);
	json_array_foreach(json_object_get(root, "events"), i, ev) {
		strcat(states, json_string_value(json_object_get(ev, "state")));
		strcat(states, " ");
	}
	assert_string_equal(states, "pending inactive pending firing resolved ");
	json_decref(root);
	strbuf__free(&sb);
	alerts__free(e);
	events__free(log);
	metrics__free(m);
}

static void rate_extrapolation(void **state)
{
	static const char *const lbl[] = { "svc" };
	struct metrics *m = metrics__new(0);
	struct metric_family *f =
		metrics__family(m, "c_total", "h", METRIC_COUNTER, lbl, 1, NULL, 0);
	struct sent s = { 0 };
	struct alert_engine *e;
	double v;
	int i;

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"Fast\", \"expr\": {\"fn\": \"rate\", \"metric\": \"c_total\",\n"
		   "  \"match\": {\"svc\": \"!=other\"}, \"window\": \"1m\", \"op\": \">\", \"threshold\": 0.01}},\n"
		   " {\"alert\": \"Many\", \"expr\": {\"fn\": \"increase\", \"metric\": \"c_total\",\n"
		   "  \"window\": \"1m\", \"sum_by\": [], \"op\": \">\", \"threshold\": 0}}]",
		   &s);
	/* 3 -> 6 in 15 s, window 60 s: Prometheus extrapolates the start back to where the
	 * counter would have been 0 (15 s before), the end not at all: 6 over 60 s */
	metrics__set(f, METRICS_LABELS("a"), 3);
	metrics__set(f, METRICS_LABELS("other"), 100);
	alerts__eval(e, T0);
	assert_int_equal(api(e, "Fast", NULL, NULL, NULL, 0), 0); /* one sample: no rate */
	metrics__set(f, METRICS_LABELS("a"), 6);
	metrics__set(f, METRICS_LABELS("other"), 200);
	alerts__eval(e, T0 + 15);
	assert_int_equal(api(e, "Fast", NULL, &v, NULL, 0), 1);
	assert_float_equal(v, 0.1, 1e-12);
	/* sum of both series' increases: a's 6, and other's 100 extrapolated likewise to 200 */
	assert_int_equal(api(e, "Many", NULL, &v, NULL, 0), 1);
	assert_float_equal(v, 6 + 200, 1e-9);
	/* steady 3 per 15 s over a full window: exactly 12 / 60 */
	for (i = 2; i <= 5; i++) {
		metrics__set(f, METRICS_LABELS("a"), 3 + 3 * i);
		alerts__eval(e, T0 + 15 * i);
	}
	api(e, "Fast", NULL, &v, NULL, 0);
	assert_float_equal(v, 0.2, 1e-12);
	/* a counter reset (restart) is not a negative rate: 18 -> 2 counts 18 + 2 */
	metrics__set(f, METRICS_LABELS("a"), 2);
	alerts__eval(e, T0 + 90);
	api(e, "Fast", NULL, &v, NULL, 0);
	assert_float_equal(v, (9.0 + 2) / 60, 1e-12); /* samples 9,12,15,18,2 in [30,90] */
	sent_free(&s);
	alerts__free(e);
	metrics__free(m);
}

/* Two windows over one series: its history grows to the longer one. */
static void two_windows(void **state)
{
	struct metrics *m = metrics__new(0);
	struct metric_family *f = metrics__family(m, "n_total", "h", METRIC_COUNTER, NULL, 0,
						  NULL, 0);
	struct sent s = { 0 };
	struct alert_engine *e;
	double v;
	int i;

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"Short\", \"expr\": {\"fn\": \"increase\", \"metric\": \"n_total\",\n"
		   "  \"window\": \"30s\", \"op\": \">\", \"threshold\": 0}},\n"
		   " {\"alert\": \"Long\", \"expr\": {\"fn\": \"increase\", \"metric\": \"n_total\",\n"
		   "  \"window\": \"2m\", \"op\": \">\", \"threshold\": 0}}]",
		   &s);
	for (i = 0; i <= 12; i++) {
		metrics__set(f, NULL, 100 + i);
		alerts__eval(e, T0 + 15 * i);
	}
	/* samples exactly at both ends of each window: no extrapolation */
	api(e, "Short", NULL, &v, NULL, 0);
	assert_float_equal(v, 2, 1e-12);
	api(e, "Long", NULL, &v, NULL, 0);
	assert_float_equal(v, 8, 1e-12);
	sent_free(&s);
	alerts__free(e);
	metrics__free(m);
}

static void quantile(void **state)
{
	static const double b[] = { 0.1, 0.5, 1 };
	uint64_t zero[4] = { 0 }, counts[4] = { 5, 4, 0, 1 };
	struct metrics *m = metrics__new(0);
	struct metric_family *f = metrics__family(m, "lat_seconds", "h", METRIC_HISTOGRAM, NULL,
						  0, b, 3);
	struct sent s = { 0 };
	struct alert_engine *e;
	double v;

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"Slow\", \"expr\": {\"fn\": \"histogram_quantile\", \"quantile\": 0.7,\n"
		   "  \"metric\": \"lat_seconds\", \"sum_by\": [], \"window\": \"1m\", \"op\": \">\",\n"
		   "  \"threshold\": 0.25}},\n"
		   " {\"alert\": \"Slow95\", \"expr\": {\"fn\": \"histogram_quantile\", \"quantile\": 0.95,\n"
		   "  \"metric\": \"lat_seconds\", \"window\": \"1m\", \"op\": \">\", \"threshold\": 0}}]",
		   &s);
	metrics__hist_set(f, NULL, zero, 0);
	alerts__eval(e, T0);
	metrics__hist_set(f, NULL, counts, 3.7);
	alerts__eval(e, T0 + 15);
	/* rank 7 of 10 falls in (0.1, 0.5] holding 4: 0.1 + 0.4 * 2/4 */
	assert_int_equal(api(e, "Slow", NULL, &v, NULL, 0), 1);
	assert_float_equal(v, 0.3, 1e-12);
	/* rank 9.5 falls in +Inf: the last finite bound */
	assert_int_equal(api(e, "Slow95", NULL, &v, NULL, 0), 1);
	assert_float_equal(v, 1, 1e-12);
	sent_free(&s);
	alerts__free(e);
	metrics__free(m);
}

static void ratio_guard(void **state)
{
	static const char *const lbl[] = { "mountpoint" };
	struct metrics *m = metrics__new(0);
	struct metric_family *av = metrics__family(m, "avail", "h", METRIC_GAUGE, lbl, 1, NULL, 0);
	struct metric_family *sz = metrics__family(m, "size", "h", METRIC_GAUGE, lbl, 1, NULL, 0);
	struct metric_family *ro = metrics__family(m, "ro", "h", METRIC_GAUGE, lbl, 1, NULL, 0);
	struct sent s = { 0 };
	struct alert_engine *e;
	char labels[512];
	double v;

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"Full\", \"expr\": {\"fn\": \"gauge\", \"metric\": \"avail\",\n"
		   "  \"denominator\": {\"metric\": \"size\"}, \"scale\": 100, \"op\": \"<\", \"threshold\": 10,\n"
		   "  \"and\": {\"metric\": \"ro\", \"op\": \"==\", \"threshold\": 0, \"on\": \"labels\"}}},\n"
		   " {\"alert\": \"Used\", \"expr\": {\"fn\": \"gauge\", \"metric\": \"avail\",\n"
		   "  \"denominator\": {\"metric\": \"size\"}, \"sum_by\": [], \"complement\": true,\n"
		   "  \"scale\": 100, \"op\": \">\", \"threshold\": 50}}]",
		   &s);
	metrics__set(av, METRICS_LABELS("/a"), 5);
	metrics__set(sz, METRICS_LABELS("/a"), 100);
	metrics__set(ro, METRICS_LABELS("/a"), 0);
	metrics__set(av, METRICS_LABELS("/b"), 5);
	metrics__set(sz, METRICS_LABELS("/b"), 100);
	metrics__set(ro, METRICS_LABELS("/b"), 1); /* read-only: full by design */
	metrics__set(av, METRICS_LABELS("/c"), 50);
	metrics__set(sz, METRICS_LABELS("/c"), 100);
	metrics__set(ro, METRICS_LABELS("/c"), 0);
	alerts__eval(e, T0);
	assert_int_equal(api(e, "Full", NULL, &v, labels, sizeof(labels)), 1);
	assert_float_equal(v, 5, 1e-12);
	assert_string_equal(labels, "{\"alertname\":\"Full\",\"instance\":\"node-1\","
				    "\"mountpoint\":\"/a\"}");
	/* (1 - 60/300) * 100 = 80 */
	assert_int_equal(api(e, "Used", NULL, &v, labels, sizeof(labels)), 1);
	assert_float_equal(v, 80, 1e-9);
	assert_string_equal(labels, "{\"alertname\":\"Used\",\"instance\":\"node-1\"}");
	sent_free(&s);
	alerts__free(e);
	metrics__free(m);
}

/* Entries naming a default rule override it; the rendered set shows the result. */
static void defaults_merge(void **state)
{
	struct metrics *m = metrics__new(0);
	struct sent s = { 0 };
	struct alert_engine *e;
	struct strbuf sb;
	json_t *rules, *r;
	size_t i;
	int peers = 0, disk = 0, loss = 0, total;

	(void)state;
	e = engine(m,
		   "[{\"alert\": \"BetanetLowPeerCount\", \"for\": \"1m\", \"threshold\": 2,\n"
		   "  \"labels\": {\"team\": \"mix\"}},\n"
		   " {\"alert\": \"DiskSpaceLow\", \"disabled\": true},\n"
		   " {\"alert\": \"BetanetHighPacketLoss\", \"window\": \"30s\"}]",
		   &s);
	strbuf__init(&sb);
	assert_int_equal(alerts__rules_json(e, &sb), 0);
	rules = json_loads(sb.buf, 0, NULL);
	assert_non_null(rules);
	total = (int)json_array_size(rules);
	json_array_foreach(rules, i, r) {
		const char *name = json_string_value(json_object_get(r, "alert"));
		json_t *x = json_object_get(r, "expr"), *l = json_object_get(r, "labels");

		if (!strcmp(name, "BetanetLowPeerCount")) {
			peers++;
			assert_string_equal(json_string_value(json_object_get(r, "for")), "1m");
			assert_true(json_number_value(json_object_get(x, "threshold")) == 2);
			assert_string_equal(json_string_value(json_object_get(l, "team")), "mix");
			assert_string_equal(json_string_value(json_object_get(l, "severity")),
					    "warning");
		}
		if (!strcmp(name, "DiskSpaceLow"))
			disk++;
		if (!strcmp(name, "BetanetHighPacketLoss")) {
			loss++;
			assert_string_equal(json_string_value(json_object_get(x, "window")), "30s");
		}
	}
	assert_int_equal(peers, 1);
	assert_int_equal(disk, 0);
	assert_int_equal(loss, 2); /* both forms */
	assert_int_equal(total, 24);
	json_decref(rules);
	strbuf__free(&sb);
	alerts__free(e);
	metrics__free(m);
}

static void config_errors(void **state)
{
	static const struct {
		const char *alerts;
		const char *err;
	} cases[] = {
		{ "{\"rules\": [{\"alert\": \"X\",\n \"expr\": {\"fn\": \"gauge\", \"metric\": \"m\", "
		  "\"op\": \"=>\", \"threshold\": 1}}]}",
		  "t.json:3:47: op must be one of" },
		{ "{\"rules\": [{\"alert\": \"X\", \"expr\": {\"fn\": \"rate\", \"metric\": \"m\", "
		  "\"op\": \">\", \"threshold\": 1}}]}",
		  "t.json:2:45: rate needs a window" },
		{ "{\"rules\": [{\"alert\": \"X\", \"expr\": {\"fn\": \"gauge\", \"metric\": \"m\",\n"
		  "\"match\": {\"a\": \"=~(\"}, \"op\": \">\", \"threshold\": 1}}]}",
		  "t.json:3:16: not a valid regex" },
		{ "{\"rules\": [{\"alert\": \"X\", \"for\": \"5 minutes\"}]}",
		  "t.json:2:44: for must be a duration" },
		{ "{\"rules\": [{\"alert\": \"X\", \"treshold\": 3}]}",
		  "t.json:2:37: unknown key \"treshold\" in rule" },
		{ "{\"alertmanagers\": [{\"url\": \"ftp://x\"}]}",
		  "t.json:2:38: url must start with http:// or https://" },
		{ "{\"alertmanagers\": [{\"url\": \"http://x\", \"username\": \"u\"}]}",
		  "t.json:2:30: alertmanager: username goes with password_file" },
	};
	char text[1024], err[256];
	static struct config cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"services\": [{\"name\": \"b\", \"protocol\": \"tcp\", \"ports\": [1]}],\n\"alerts\": %s}",
			 cases[i].alerts);
		assert_int_equal(config__load_string(text, "t.json", &cfg, err, sizeof(err)),
				 -EINVAL);
		if (strncmp(err, cases[i].err, strlen(cases[i].err)))
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, cases[i].err);
	}
	/* a rule that is no default needs an expr: refused at start with its index */
	{
		struct metrics *m = metrics__new(0);
		struct alert_engine_opts o = { .reg = m };
		struct config *c = load("[{\"alert\": \"NoSuchRule\", \"for\": \"1m\"}]");
		struct alert_engine *e;

		o.cfg = &c->alerts;
		e = alerts__new(&o, err, sizeof(err));
		assert_null(e);
		assert_string_equal(err, "alerts.rules[0]: NoSuchRule is no default rule, so it "
					 "needs an expr");
		metrics__free(m);
	}
	assert_true(config__duration("1h30m") == 5400);
	assert_true(config__duration("250ms") == 0.25);
	assert_true(config__duration("5") < 0);
}

static void templates(void **state)
{
	const char *names[] = { "instance", "service" }, *values[] = { "n1", "backend" };
	char out[256];

	(void)state;
	alerts__expand("{{ $labels.service }} on {{ $labels.instance }}: "
		       "{{ $value | printf \"%.3g\" }} / {{ $value | humanizePercentage }} / "
		       "{{ $value | humanize }}B/s{{ $labels.none }}",
		       names, values, 2, 0.123456, out, sizeof(out));
	assert_string_equal(out, "backend on n1: 0.123 / 12.35% / 123.5mB/s");
	alerts__expand("{{ $value | humanize }}", names, values, 2, 2500000, out, sizeof(out));
	assert_string_equal(out, "2.5M");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gauge_for_and_resolve),
		cmocka_unit_test(for_over_whole_intervals),
		cmocka_unit_test(refire_replaces_resolved),
		cmocka_unit_test(event_log),
		cmocka_unit_test(rate_extrapolation),
		cmocka_unit_test(two_windows),
		cmocka_unit_test(quantile),
		cmocka_unit_test(ratio_guard),
		cmocka_unit_test(defaults_merge),
		cmocka_unit_test(config_errors),
		cmocka_unit_test(templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
