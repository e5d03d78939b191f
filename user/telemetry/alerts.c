// SPDX-License-Identifier: GPL-2.0-only
/*
 * The alert rule engine.
 *
 * A label set is one canonical string: "name\x1fvalue\x1e" per label, sorted by name, empty
 * values left out (as Prometheus drops them). Grouping, one-to-one matching and alert
 * identity are then string comparisons.
 *
 * rate() and increase() follow Prometheus's extrapolatedRate() (promql/functions.go, as
 * documented for rate: extrapolated to the window's ends unless the series starts or
 * stops inside it, never below zero for a counter); histogram_quantile() follows its
 * bucketQuantile() (linear interpolation inside the bucket, the last finite bound when
 * the rank falls in +Inf). So where Prometheus would fire on the same samples, so does
 * the engine.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "telemetry/alerts.h"

#define LS_SEP_NV '\x1f'
#define LS_SEP_L '\x1e'
#define HASH_SLOTS 4096
#define MAX_LABELS 16
#define FOR_SLACK_S 0.001 /* see the pending -> firing test */

enum alert_state { ST_PENDING, ST_FIRING, ST_RESOLVED };
static const char *const state_names[] = { "pending", "firing", "inactive" };

struct sample {
	double t, v;
};

struct hseries {
	struct hseries *next;
	char *key; /* metric LS_SEP_L label set */
	struct sample *s; /* ring of cap: the longest window that reads it, at the interval */
	size_t start, n, cap;
	double last_seen;
};

struct elem {
	char *ls;
	double v;
};

struct vec {
	struct elem *e;
	size_t n, cap;
};

struct rule_rt {
	struct alert_rule r;
	regex_t re[3][ALERT_MAX_MATCHERS]; /* sel, den, guard */
};

struct alert {
	int rule;
	char *ls; /* full alert labels */
	double value;
	enum alert_state state;
	double active_at, fired_at, resolved_at, last_sent;
	bool seen;
	bool superseded; /* resolved, and the same labels fire again: no longer sent */
	char summary[ALERT_SUMMARY_LEN * 2];
	char description[ALERT_TEXT_LEN * 2];
};

struct alert_engine {
	pthread_mutex_t lock;
	struct metrics *reg;
	struct event_log *events;
	struct alert_sink sink;
	char instance[ALERT_VALUE_LEN];
	char generator_url[256];
	double interval_s, resend_s;
	struct rule_rt *rules;
	int n_rules;
	struct hseries *slots[HASH_SLOTS];
	size_t n_series, max_samples;
	double max_window;
	struct alert *alerts;
	size_t n_alerts;
	struct metric_family *f_alerts, *f_evals, *f_dropped, *f_rules, *f_eval_s;
	uint64_t history_full;
};

/* ---- label sets ---- */

/* Canonical label set of n pairs (any order; a later duplicate name wins). */
static char *ls_build(const char *const *names, const char *const *values, size_t n)
{
	const char *idx[MAX_LABELS * 2];
	size_t i, j, k = 0, len = 1;
	char *out, *o;

	if (n > MAX_LABELS)
		n = MAX_LABELS;
	for (i = 0; i < n; i++) {
		if (!values[i] || !values[i][0])
			continue;
		for (j = 0; j < k; j += 2)
			if (!strcmp(idx[j], names[i]))
				break;
		idx[j] = names[i];
		idx[j + 1] = values[i];
		if (j == k)
			k += 2;
	}
	/* sort pairs by name: insertion sort over at most MAX_LABELS pairs */
	for (i = 2; i < k; i += 2)
		for (j = i; j >= 2 && strcmp(idx[j - 2], idx[j]) > 0; j -= 2) {
			const char *tn = idx[j], *tv = idx[j + 1];

			idx[j] = idx[j - 2], idx[j + 1] = idx[j - 1];
			idx[j - 2] = tn, idx[j - 1] = tv;
		}
	for (i = 0; i < k; i++)
		len += strlen(idx[i]) + 1;
	out = o = malloc(len);
	if (!out)
		return NULL;
	for (i = 0; i < k; i += 2)
		o += sprintf(o, "%s%c%s%c", idx[i], LS_SEP_NV, idx[i + 1], LS_SEP_L);
	*o = '\0';
	return out;
}

/* Split a canonical set into names and values, in copies kept in buf. */
static size_t ls_split(const char *ls, char *buf, size_t size, const char **names,
		       const char **values)
{
	size_t n = 0;
	char *p;

	snprintf(buf, size, "%s", ls);
	for (p = buf; *p && n < MAX_LABELS;) {
		char *nv = strchr(p, LS_SEP_NV), *end;

		if (!nv)
			break;
		end = strchr(nv, LS_SEP_L);
		if (!end)
			break;
		*nv = *end = '\0';
		names[n] = p;
		values[n++] = nv + 1;
		p = end + 1;
	}
	return n;
}

static bool ls_get(const char *ls, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = ls;

	while (*p) {
		const char *nv = strchr(p, LS_SEP_NV), *end = nv ? strchr(nv, LS_SEP_L) : NULL;

		if (!end)
			break;
		if ((size_t)(nv - p) == nl && !strncmp(p, name, nl)) {
			snprintf(out, size, "%.*s", (int)(end - nv - 1), nv + 1);
			return true;
		}
		p = end + 1;
	}
	if (size)
		out[0] = '\0';
	return false;
}

/* Only the labels named in keep[] (without[] when keep is NULL: all but one). */
static char *ls_project(const char *ls, const char (*keep)[ALERT_NAME_LEN], int n_keep,
			const char *drop)
{
	const char *names[MAX_LABELS], *values[MAX_LABELS], *kn[MAX_LABELS], *kv[MAX_LABELS];
	char buf[2048];
	size_t n = ls_split(ls, buf, sizeof(buf), names, values), i, k = 0;
	int j;

	for (i = 0; i < n; i++) {
		bool in = !keep;

		for (j = 0; keep && j < n_keep; j++)
			if (!strcmp(names[i], keep[j]))
				in = true;
		if (drop && !strcmp(names[i], drop))
			in = false;
		if (in)
			kn[k] = names[i], kv[k++] = values[i];
	}
	return ls_build(kn, kv, k);
}

/* ---- vectors ---- */

static int vec_push(struct vec *v, char *ls, double x)
{
	if (!ls)
		return -ENOMEM;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct elem *e = realloc(v->e, cap * sizeof(*e));

		if (!e) {
			free(ls);
			return -ENOMEM;
		}
		v->e = e, v->cap = cap;
	}
	v->e[v->n].ls = ls;
	v->e[v->n++].v = x;
	return 0;
}

static void vec_free(struct vec *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->e[i].ls);
	free(v->e);
	memset(v, 0, sizeof(*v));
}

static struct elem *vec_find(struct vec *v, const char *ls)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->e[i].ls, ls))
			return &v->e[i];
	return NULL;
}

/* sum or avg by labels; ALERT_AGG_NONE returns v as it is */
static struct vec aggregate(struct vec *v, enum alert_agg agg,
			    const char (*by)[ALERT_NAME_LEN], int n_by)
{
	struct vec out = { 0 };
	size_t *counts = NULL, i;

	if (agg == ALERT_AGG_NONE) {
		out = *v;
		memset(v, 0, sizeof(*v));
		return out;
	}
	counts = calloc(v->n + 1, sizeof(*counts));
	for (i = 0; counts && i < v->n; i++) {
		char *key = ls_project(v->e[i].ls, by, n_by, NULL);
		struct elem *g;

		if (!key)
			continue;
		g = vec_find(&out, key);
		if (g) {
			g->v += v->e[i].v;
			counts[g - out.e]++;
			free(key);
		} else if (!vec_push(&out, key, v->e[i].v)) {
			counts[out.n - 1] = 1;
		}
	}
	if (agg == ALERT_AGG_AVG)
		for (i = 0; counts && i < out.n; i++)
			out.e[i].v /= (double)counts[i];
	free(counts);
	vec_free(v);
	return out;
}

/* ---- history ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct hseries *history(struct alert_engine *e, const char *metric, const char *ls,
			       double now, double v, double window)
{
	size_t need = (size_t)(window / e->interval_s) + 3;
	char key[2048];
	struct hseries **slot, *h;

	if (need > e->max_samples)
		need = e->max_samples;

	snprintf(key, sizeof(key), "%s%c%s", metric, LS_SEP_L, ls);
	slot = &e->slots[hash_str(key) % HASH_SLOTS];
	for (h = *slot; h; h = h->next)
		if (!strcmp(h->key, key))
			break;
	if (!h) {
		if (e->n_series >= ALERTS_MAX_SERIES) {
			e->history_full++; /* under the registry's lock: counted after */
			return NULL;
		}
		h = calloc(1, sizeof(*h));
		if (h) {
			h->key = strdup(key);
			h->s = calloc(need, sizeof(*h->s));
			h->cap = need;
		}
		if (!h || !h->key || !h->s) {
			if (h)
				free(h->key), free(h->s);
			free(h);
			return NULL;
		}
		h->next = *slot;
		*slot = h;
		e->n_series++;
	}
	if (h->cap < need) { /* a rule with a longer window reads it too */
		struct sample *s = calloc(need, sizeof(*s));
		size_t i;

		if (s) {
			for (i = 0; i < h->n; i++)
				s[i] = h->s[(h->start + i) % h->cap];
			free(h->s);
			h->s = s, h->start = 0, h->cap = need;
		}
	}
	/* two rules reading one series in one evaluation add one sample */
	if (!h->n || h->s[(h->start + h->n - 1) % h->cap].t < now) {
		if (h->n == h->cap) {
			h->start = (h->start + 1) % h->cap;
			h->n--;
		}
		h->s[(h->start + h->n) % h->cap] = (struct sample){ now, v };
		h->n++;
	}
	h->last_seen = now;
	return h;
}

/* Series gone for longer than any window: forget them. */
static void history_sweep(struct alert_engine *e, double now)
{
	size_t i;

	for (i = 0; i < HASH_SLOTS; i++) {
		struct hseries **pp = &e->slots[i], *h;

		while ((h = *pp)) {
			if (h->last_seen < now - e->max_window - 2 * e->interval_s) {
				*pp = h->next;
				free(h->key);
				free(h->s);
				free(h);
				e->n_series--;
			} else {
				pp = &h->next;
			}
		}
	}
}

/*
 * Prometheus's extrapolatedRate() over the samples in [now - window, now]: the counter's
 * increase (resets add the value before them), extrapolated to the window's ends when
 * the samples reach within 1.1 average intervals of them, else by half an interval, and
 * for a counter never back past the point where it would have been zero.
 */
static bool window_rate(const struct hseries *h, double now, double window, bool is_rate,
			double *out)
{
	double first_t = 0, first_v = 0, last_t = 0, prev = 0, result = 0;
	double sampled, avg, to_start, to_end, zero, extrap;
	size_t i, n = 0;

	for (i = 0; i < h->n; i++) {
		const struct sample *s = &h->s[(h->start + i) % h->cap];

		if (s->t < now - window || s->t > now)
			continue;
		if (!n) {
			first_t = s->t, first_v = s->v;
		} else if (s->v < prev) {
			result += prev;
		}
		prev = s->v;
		last_t = s->t;
		n++;
	}
	if (n < 2)
		return false;
	result += prev - first_v;
	sampled = last_t - first_t;
	avg = sampled / (double)(n - 1);
	to_start = first_t - (now - window);
	to_end = now - last_t;
	if (result > 0 && first_v >= 0) {
		zero = sampled * (first_v / result);
		if (zero < to_start)
			to_start = zero;
	}
	extrap = sampled;
	extrap += to_start < avg * 1.1 ? to_start : avg / 2;
	extrap += to_end < avg * 1.1 ? to_end : avg / 2;
	result *= extrap / sampled;
	if (is_rate)
		result /= window;
	*out = result;
	return true;
}

/* ---- selection ---- */

struct select_ctx {
	struct alert_engine *e;
	const struct alert_selector *sel;
	regex_t *re;
	const struct alert_expr *x;
	double now;
	struct vec *out;
	int err;
};

static bool matches(const struct select_ctx *c, const char *ls)
{
	char v[ALERT_VALUE_LEN * 2];
	int i;

	for (i = 0; i < c->sel->n_match; i++) {
		const struct alert_matcher *m = &c->sel->match[i];
		bool eq;

		ls_get(ls, m->label, v, sizeof(v));
		switch (m->op) {
		case ALERT_MATCH_EQ:
		case ALERT_MATCH_NE:
			eq = !strcmp(v, m->value);
			break;
		default:
			eq = !regexec(&c->re[i], v, 0, NULL, 0);
			break;
		}
		if (eq != (m->op == ALERT_MATCH_EQ || m->op == ALERT_MATCH_RE))
			return false;
	}
	return true;
}

static void select_series(void *ctx, const struct metric_info *fi, const struct metric_sample *s)
{
	struct select_ctx *c = ctx;
	const char *names[MAX_LABELS + 1], *values[MAX_LABELS + 1];
	size_t n = fi->n_labels < MAX_LABELS ? fi->n_labels : MAX_LABELS, i;
	struct hseries *h;
	char *ls;
	double v;

	memcpy(names, fi->label_names, n * sizeof(*names));
	memcpy(values, s->label_values, n * sizeof(*values));
	ls = ls_build(names, values, n);
	if (!ls || !matches(c, ls)) {
		free(ls);
		return;
	}
	if (fi->type == METRIC_HISTOGRAM) {
		uint64_t cum = 0;

		/* rate(x_bucket[w]) per bucket, as Prometheus sees the cumulative series */
		for (i = 0; c->x->fn == ALERT_FN_QUANTILE && i <= s->n_buckets; i++) {
			char le[40], *bls;

			cum += s->counts[i];
			if (i < s->n_buckets)
				snprintf(le, sizeof(le), "%.17g", s->buckets[i]);
			else
				strcpy(le, "+Inf");
			names[n] = "le", values[n] = le;
			bls = ls_build(names, values, n + 1);
			if (!bls)
				continue;
			h = history(c->e, fi->name, bls, c->now, (double)cum, c->x->window_s);
			if (h && window_rate(h, c->now, c->x->window_s, true, &v))
				vec_push(c->out, bls, v);
			else
				free(bls);
		}
		free(ls);
		return;
	}
	if (c->x->fn == ALERT_FN_GAUGE || c->x->fn == ALERT_FN_QUANTILE) {
		if (c->x->fn == ALERT_FN_GAUGE)
			vec_push(c->out, ls, s->value);
		else
			free(ls);
		return;
	}
	h = history(c->e, fi->name, ls, c->now, s->value, c->x->window_s);
	if (h && window_rate(h, c->now, c->x->window_s, c->x->fn == ALERT_FN_RATE, &v))
		vec_push(c->out, ls, v);
	else
		free(ls);
}

static void select_vec(struct alert_engine *e, const struct alert_selector *sel, regex_t *re,
		       const struct alert_expr *x, double now, struct vec *out)
{
	struct select_ctx c = { .e = e, .sel = sel, .re = re, .x = x, .now = now, .out = out };
	int i;

	for (i = 0; i < sel->n_metrics; i++)
		metrics__read(e->reg, sel->metric[i], select_series, &c);
}

/* ---- histogram_quantile ---- */

struct bucket {
	double le, count;
};

static int cmp_bucket(const void *a, const void *b)
{
	double x = ((const struct bucket *)a)->le, y = ((const struct bucket *)b)->le;

	return x < y ? -1 : x > y;
}

/* Prometheus's bucketQuantile() over cumulative counts. NaN where it has no answer. */
static double bucket_quantile(double q, struct bucket *b, size_t n)
{
	double rank, start, end, count;
	size_t i;

	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(b, n, sizeof(*b), cmp_bucket);
	if (n < 2 || !isinf(b[n - 1].le))
		return NAN;
	for (i = 1; i < n; i++) /* rates of separately extrapolated buckets may cross */
		if (b[i].count < b[i - 1].count)
			b[i].count = b[i - 1].count;
	if (b[n - 1].count == 0)
		return NAN;
	rank = q * b[n - 1].count;
	for (i = 0; i < n - 1 && b[i].count < rank; i++)
		;
	if (i == n - 1)
		return b[n - 2].le;
	if (i == 0 && b[0].le <= 0)
		return b[0].le;
	start = i ? b[i - 1].le : 0;
	end = b[i].le;
	count = b[i].count - (i ? b[i - 1].count : 0);
	if (i)
		rank -= b[i - 1].count;
	return start + (end - start) * (rank / count);
}

static struct vec quantiles(struct vec *buckets, const struct alert_expr *x)
{
	struct vec groups = { 0 }, out = { 0 };
	char (*by)[ALERT_NAME_LEN];
	size_t i, j;

	/* sum by (by..., le): keep le among the by labels */
	by = calloc(x->n_by + 1, ALERT_NAME_LEN);
	if (!by)
		return out;
	memcpy(by, x->by, x->n_by * ALERT_NAME_LEN);
	strcpy(by[x->n_by], "le");
	groups = aggregate(buckets, x->agg == ALERT_AGG_NONE ? ALERT_AGG_NONE : ALERT_AGG_SUM,
			   (const char(*)[ALERT_NAME_LEN])by, x->n_by + 1);
	free(by);
	for (i = 0; i < groups.n; i++) {
		char *key = ls_project(groups.e[i].ls, NULL, 0, "le");
		struct bucket *b;
		size_t nb = 0;

		if (!key || vec_find(&out, key)) {
			free(key);
			continue;
		}
		b = calloc(groups.n, sizeof(*b));
		for (j = 0; b && j < groups.n; j++) {
			char *k2 = ls_project(groups.e[j].ls, NULL, 0, "le"), le[48];

			if (k2 && !strcmp(k2, key) && ls_get(groups.e[j].ls, "le", le, sizeof(le))) {
				b[nb].le = strtod(le, NULL);
				b[nb++].count = groups.e[j].v;
			}
			free(k2);
		}
		vec_push(&out, key, b ? bucket_quantile(x->quantile, b, nb) : NAN);
		free(b);
	}
	vec_free(&groups);
	return out;
}

/* ---- evaluation ---- */

static bool compare(enum alert_cmp c, double v, double t)
{
	switch (c) {
	case ALERT_GT:
		return v > t;
	case ALERT_LT:
		return v < t;
	case ALERT_GE:
		return v >= t;
	case ALERT_LE:
		return v <= t;
	case ALERT_EQ:
		return v == t;
	case ALERT_NE:
		return v != t;
	}
	return false;
}

/* The rule's result: the elements whose value passes the comparison (and the guard). */
static struct vec eval_expr(struct alert_engine *e, struct rule_rt *rt, double now)
{
	const struct alert_expr *x = &rt->r.expr;
	struct vec num = { 0 }, den = { 0 }, out = { 0 }, guard = { 0 };
	size_t i;

	select_vec(e, &x->sel, rt->re[0], x, now, &num);
	if (x->fn == ALERT_FN_QUANTILE) {
		num = quantiles(&num, x);
	} else {
		num = aggregate(&num, x->agg, x->by, x->n_by);
		if (x->ratio) {
			select_vec(e, &x->den, rt->re[1], x, now, &den);
			den = aggregate(&den, x->agg, x->by, x->n_by);
		}
	}
	if (x->guard) {
		struct alert_expr gx = { .fn = ALERT_FN_GAUGE };

		select_vec(e, &x->guard_sel, rt->re[2], &gx, now, &guard);
	}
	for (i = 0; i < num.n; i++) {
		double v = num.e[i].v;
		bool pass = false;
		size_t j;

		if (x->ratio) {
			struct elem *d = vec_find(&den, num.e[i].ls);

			if (!d || d->v == 0)
				continue;
			v /= d->v;
		}
		if (x->complement)
			v = 1 - v;
		v *= x->scale ? x->scale : 1;
		if (isnan(v) || !compare(x->cmp, v, x->threshold))
			continue;
		for (j = 0; x->guard && j < guard.n && !pass; j++)
			pass = compare(x->guard_cmp, guard.e[j].v, x->guard_threshold) &&
			       (!x->guard_same || !strcmp(guard.e[j].ls, num.e[i].ls));
		if (x->guard && !pass)
			continue;
		vec_push(&out, strdup(num.e[i].ls), v);
	}
	vec_free(&num);
	vec_free(&den);
	vec_free(&guard);
	return out;
}

static const char *rfc3339(double t, char *buf, size_t len)
{
	return events__rfc3339(t, buf, len);
}

static json_t *labels_json(const char *ls)
{
	const char *names[MAX_LABELS], *values[MAX_LABELS];
	char buf[2048];
	size_t n = ls_split(ls, buf, sizeof(buf), names, values), i;
	json_t *o = json_object();

	for (i = 0; o && i < n; i++)
		json_object_set_new(o, names[i], json_string(values[i]));
	return o;
}

static json_t *annotations_json(const struct alert_engine *e, const struct alert *a)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (a->summary[0])
		json_object_set_new(o, "summary", json_string(a->summary));
	if (a->description[0])
		json_object_set_new(o, "description", json_string(a->description));
	if (e->rules[a->rule].r.runbook_url[0])
		json_object_set_new(o, "runbook_url", json_string(e->rules[a->rule].r.runbook_url));
	return o;
}

/* state: what the log says, "resolved" for a firing alert that ended, "inactive" for a
 * pending one that never fired */
static void log_change(struct alert_engine *e, const struct alert *a, double now,
		       const char *state)
{
	char ts[40], svc[128];
	json_t *ev;

	pr_info("alert %s %s value=%g\n", e->rules[a->rule].r.name, state, a->value);
	if (!e->events)
		return;
	ev = json_object();
	if (!ev)
		return;
	json_object_set_new(ev, "time", json_string(rfc3339(now, ts, sizeof(ts))));
	json_object_set_new(ev, "type", json_string("alert"));
	json_object_set_new(ev, "kind", json_string("alert"));
	json_object_set_new(ev, "service",
			    json_string(ls_get(a->ls, "service", svc, sizeof(svc)) ? svc : "none"));
	json_object_set_new(ev, "alertname", json_string(e->rules[a->rule].r.name));
	json_object_set_new(ev, "state", json_string(state));
	json_object_set_new(ev, "labels", labels_json(a->ls));
	json_object_set_new(ev, "value", json_real(a->value));
	events__append(e->events, ev);
}

static void send_alert(struct alert_engine *e, struct alert *a, double now)
{
	char ts[40];
	json_t *o;
	char *s;

	a->last_sent = now;
	if (!e->sink.send)
		return;
	o = json_object();
	if (!o)
		return;
	json_object_set_new(o, "labels", labels_json(a->ls));
	json_object_set_new(o, "annotations", annotations_json(e, a));
	json_object_set_new(o, "startsAt", json_string(rfc3339(a->fired_at, ts, sizeof(ts))));
	/* Like Prometheus: a firing alert ends by itself if it is not resent in time (the
	 * probe died), 4 resend intervals after now. */
	json_object_set_new(o, "endsAt",
			    json_string(rfc3339(a->state == ST_RESOLVED ?
							a->resolved_at :
							now + 4 * (e->resend_s > e->interval_s ?
									   e->resend_s :
									   e->interval_s),
						ts, sizeof(ts))));
	if (e->generator_url[0])
		json_object_set_new(o, "generatorURL", json_string(e->generator_url));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s)
		e->sink.send(e->sink.ctx, a->ls, s, a->state != ST_RESOLVED);
	free(s);
}

static void expand_annotations(struct alert_engine *e, struct alert *a)
{
	const struct alert_rule *r = &e->rules[a->rule].r;
	const char *names[MAX_LABELS], *values[MAX_LABELS];
	char buf[2048];
	size_t n = ls_split(a->ls, buf, sizeof(buf), names, values);

	alerts__expand(r->summary, names, values, n, a->value, a->summary, sizeof(a->summary));
	alerts__expand(r->description, names, values, n, a->value, a->description,
		       sizeof(a->description));
}

static void remove_alert(struct alert_engine *e, size_t i)
{
	free(e->alerts[i].ls);
	e->alerts[i] = e->alerts[--e->n_alerts];
}

static void eval_rule(struct alert_engine *e, int ri, double now)
{
	struct rule_rt *rt = &e->rules[ri];
	struct vec res = eval_expr(e, rt, now);
	size_t i, j;

	for (j = 0; j < e->n_alerts; j++)
		if (e->alerts[j].rule == ri)
			e->alerts[j].seen = false;
	for (i = 0; i < res.n; i++) {
		const char *names[MAX_LABELS + ALERT_MAX_LABELS + 2];
		const char *values[MAX_LABELS + ALERT_MAX_LABELS + 2];
		char buf[2048], *ls;
		size_t n = ls_split(res.e[i].ls, buf, sizeof(buf), names, values);
		struct alert *a = NULL;
		int k;

		for (k = 0; k < rt->r.n_labels && n < MAX_LABELS - 2; k++)
			names[n] = rt->r.label_names[k], values[n++] = rt->r.label_values[k];
		names[n] = "alertname", values[n++] = rt->r.name;
		names[n] = "instance", values[n++] = e->instance;
		ls = ls_build(names, values, n);
		if (!ls)
			continue;
		for (j = 0; j < e->n_alerts && !a; j++)
			if (e->alerts[j].rule == ri && e->alerts[j].state != ST_RESOLVED &&
			    !strcmp(e->alerts[j].ls, ls))
				a = &e->alerts[j];
		if (!a) {
			if (e->n_alerts == ALERTS_MAX_ACTIVE) {
				metrics__add(e->f_dropped, METRICS_LABELS("alerts_full"), 1);
				free(ls);
				continue;
			}
			a = &e->alerts[e->n_alerts++];
			memset(a, 0, sizeof(*a));
			a->rule = ri;
			a->ls = ls;
			a->state = ST_PENDING;
			a->active_at = now;
			a->value = res.e[i].v;
			expand_annotations(e, a);
			log_change(e, a, now, "pending");
		} else {
			free(ls);
		}
		a->seen = true;
		a->value = res.e[i].v;
		expand_annotations(e, a);
		/* Evaluation times are wall-clock seconds of scheduled ticks (a double near
		 * 1.8e9, read from two clocks): `for` elapsed over whole intervals can come
		 * out a few microseconds short, which would fire one interval late. */
		if (a->state == ST_PENDING && now - a->active_at >= rt->r.for_s - FOR_SLACK_S) {
			a->state = ST_FIRING;
			a->fired_at = now;
			log_change(e, a, now, "firing");
			/* One fingerprint, one alert in Alertmanager: the old "resolved" must
			 * not be resent between two "firing" of the new one. */
			for (j = 0; j < e->n_alerts; j++)
				if (e->alerts[j].rule == ri && e->alerts[j].state == ST_RESOLVED &&
				    !strcmp(e->alerts[j].ls, a->ls))
					e->alerts[j].superseded = true;
		}
	}
	vec_free(&res);
	for (j = 0; j < e->n_alerts;) {
		struct alert *a = &e->alerts[j];

		if (a->rule == ri && !a->seen && a->state == ST_PENDING) {
			log_change(e, a, now, "inactive"); /* never fired: dropped */
			remove_alert(e, j);
			continue;
		}
		if (a->rule == ri && !a->seen && a->state == ST_FIRING) {
			a->state = ST_RESOLVED;
			a->resolved_at = now;
			log_change(e, a, now, "resolved");
			send_alert(e, a, now);
		}
		if (a->rule == ri && a->state == ST_RESOLVED &&
		    (a->superseded || now - a->resolved_at > ALERTS_RESOLVED_KEEP_S)) {
			remove_alert(e, j);
			continue;
		}
		if (a->rule == ri && (a->state == ST_FIRING || a->state == ST_RESOLVED) &&
		    (!a->last_sent || now - a->last_sent >= e->resend_s))
			send_alert(e, a, now);
		j++;
	}
}

static void publish(struct alert_engine *e)
{
	size_t i, j;

	metrics__clear(e->f_alerts);
	for (i = 0; i < e->n_alerts; i++) {
		char sev[ALERT_VALUE_LEN], name[ALERT_NAME_LEN];
		size_t count = 0;

		if (e->alerts[i].state == ST_RESOLVED)
			continue;
		ls_get(e->alerts[i].ls, "severity", sev, sizeof(sev));
		snprintf(name, sizeof(name), "%s", e->rules[e->alerts[i].rule].r.name);
		for (j = 0; j < e->n_alerts; j++) {
			char s2[ALERT_VALUE_LEN];

			ls_get(e->alerts[j].ls, "severity", s2, sizeof(s2));
			if (e->alerts[j].state == e->alerts[i].state &&
			    !strcmp(e->rules[e->alerts[j].rule].r.name, name) && !strcmp(s2, sev))
				count++;
		}
		metrics__set(e->f_alerts,
			     METRICS_LABELS(name, state_names[e->alerts[i].state], sev),
			     (double)count);
	}
}

void alerts__eval(struct alert_engine *e, double now)
{
	struct timespec t0, t1;
	int i;

	if (!e)
		return;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->n_rules; i++)
		eval_rule(e, i, now);
	history_sweep(e, now);
	publish(e);
	if (e->history_full)
		metrics__add(e->f_dropped, METRICS_LABELS("history_full"), (double)e->history_full);
	e->history_full = 0;
	pthread_mutex_unlock(&e->lock);
	metrics__add(e->f_evals, NULL, 1);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	metrics__set(e->f_eval_s, NULL,
		     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* ---- templates ---- */

static void humanize(double v, char *out, size_t size)
{
	static const char *const big[] = { "", "k", "M", "G", "T", "P", "E" };
	static const char *const small[] = { "", "m", "u", "n", "p", "f", "a" };
	int i = 0;

	if (v == 0 || isnan(v) || isinf(v)) {
		snprintf(out, size, "%.4g", v);
		return;
	}
	if (fabs(v) >= 1) {
		while (fabs(v) >= 1000 && i < 6)
			v /= 1000, i++;
		snprintf(out, size, "%.4g%s", v, big[i]);
	} else {
		while (fabs(v) < 1 && i < 6)
			v *= 1000, i++;
		snprintf(out, size, "%.4g%s", v, small[i]);
	}
}

void alerts__expand(const char *tmpl, const char *const *names, const char *const *values,
		    size_t n, double value, char *out, size_t size)
{
	size_t o = 0;
	const char *p = tmpl;

	if (!size)
		return;
	while (*p && o + 1 < size) {
		const char *end;
		char expr[256], piece[256] = "", *t;
		size_t len, i;

		if (strncmp(p, "{{", 2) || !(end = strstr(p + 2, "}}"))) {
			out[o++] = *p++;
			continue;
		}
		len = (size_t)(end - p - 2);
		snprintf(expr, sizeof(expr), "%.*s", (int)(len < 255 ? len : 255), p + 2);
		p = end + 2;
		t = expr;
		while (*t == ' ')
			t++;
		if (!strncmp(t, "$labels.", 8)) {
			char name[ALERT_NAME_LEN];

			sscanf(t + 8, "%63[a-zA-Z0-9_]", name);
			for (i = 0; i < n; i++)
				if (!strcmp(names[i], name))
					snprintf(piece, sizeof(piece), "%s", values[i]);
		} else if (!strncmp(t, "$value", 6)) {
			char *pipe = strchr(t, '|'), fmt[32];

			if (!pipe) {
				snprintf(piece, sizeof(piece), "%g", value);
			} else {
				for (pipe++; *pipe == ' '; pipe++)
					;
				if (!strncmp(pipe, "printf", 6) &&
				    sscanf(pipe + 6, " \"%31[^\"]\"", fmt) == 1 &&
				    strspn(fmt, "%.0123456789fge") == strlen(fmt) && fmt[0] == '%')
					snprintf(piece, sizeof(piece), fmt, value);
				else if (!strncmp(pipe, "humanizePercentage", 18))
					snprintf(piece, sizeof(piece), "%.4g%%", value * 100);
				else if (!strncmp(pipe, "humanize", 8))
					humanize(value, piece, sizeof(piece));
				else
					snprintf(piece, sizeof(piece), "%g", value);
			}
		}
		for (i = 0; piece[i] && o + 1 < size; i++)
			out[o++] = piece[i];
	}
	out[o] = '\0';
}

/* ---- read back ---- */

int alerts__render(struct alert_engine *e, struct strbuf *out)
{
	json_t *root = json_object(), *data = json_object(), *arr = json_array();
	size_t i;
	char *s;
	int err = 0;

	if (!root || !data || !arr) {
		json_decref(root), json_decref(data), json_decref(arr);
		return -ENOMEM;
	}
	json_object_set_new(root, "status", json_string("success"));
	json_object_set_new(root, "data", data);
	json_object_set_new(data, "alerts", arr);
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->n_alerts; i++) {
		const struct alert *a = &e->alerts[i];
		char ts[40], v[40];
		json_t *o;

		if (a->state == ST_RESOLVED)
			continue;
		o = json_object();
		json_object_set_new(o, "labels", labels_json(a->ls));
		json_object_set_new(o, "annotations", annotations_json(e, a));
		json_object_set_new(o, "state", json_string(state_names[a->state]));
		json_object_set_new(o, "activeAt",
				    json_string(rfc3339(a->active_at, ts, sizeof(ts))));
		snprintf(v, sizeof(v), "%.17g", a->value);
		json_object_set_new(o, "value", json_string(v));
		json_array_append_new(arr, o);
	}
	pthread_mutex_unlock(&e->lock);
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!s)
		return -ENOMEM;
	err = strbuf__puts(out, s);
	free(s);
	return err;
}

static json_t *selector_json(const struct alert_selector *sel, json_t *o)
{
	static const char *const ops[] = { "", "!=", "=~", "!~" };
	int i;

	if (sel->n_metrics == 1) {
		json_object_set_new(o, "metric", json_string(sel->metric[0]));
	} else {
		json_t *a = json_array();

		for (i = 0; i < sel->n_metrics; i++)
			json_array_append_new(a, json_string(sel->metric[i]));
		json_object_set_new(o, "metric", a);
	}
	if (sel->n_match) {
		json_t *m = json_object();

		for (i = 0; i < sel->n_match; i++) {
			char v[ALERT_VALUE_LEN + 4];

			snprintf(v, sizeof(v), "%s%s", ops[sel->match[i].op], sel->match[i].value);
			json_object_set_new(m, sel->match[i].label, json_string(v));
		}
		json_object_set_new(o, "match", m);
	}
	return o;
}

static json_t *duration_json(double s)
{
	char b[32];

	if (s >= 3600 && fmod(s, 3600) == 0)
		snprintf(b, sizeof(b), "%.0fh", s / 3600);
	else if (s >= 60 && fmod(s, 60) == 0)
		snprintf(b, sizeof(b), "%.0fm", s / 60);
	else if (fmod(s, 1) == 0)
		snprintf(b, sizeof(b), "%.0fs", s);
	else
		snprintf(b, sizeof(b), "%.0fms", s * 1000);
	return json_string(b);
}

int alerts__rules_json(struct alert_engine *e, struct strbuf *out)
{
	json_t *arr = json_array();
	char *s;
	int i, j, err;

	if (!arr)
		return -ENOMEM;
	for (i = 0; i < e->n_rules; i++) {
		const struct alert_rule *r = &e->rules[i].r;
		const struct alert_expr *x = &r->expr;
		json_t *o = json_object(), *ex = json_object(), *l = json_object(),
		       *an = json_object();

		json_object_set_new(o, "alert", json_string(r->name));
		json_object_set_new(ex, "fn", json_string(alert_fn__name(x->fn)));
		selector_json(&x->sel, ex);
		if (x->fn != ALERT_FN_GAUGE)
			json_object_set_new(ex, "window", duration_json(x->window_s));
		if (x->fn == ALERT_FN_QUANTILE)
			json_object_set_new(ex, "quantile", json_real(x->quantile));
		if (x->ratio)
			json_object_set_new(ex, "denominator", selector_json(&x->den, json_object()));
		if (x->agg) {
			json_t *by = json_array();

			for (j = 0; j < x->n_by; j++)
				json_array_append_new(by, json_string(x->by[j]));
			json_object_set_new(ex, x->agg == ALERT_AGG_SUM ? "sum_by" : "avg_by", by);
		}
		if (x->complement)
			json_object_set_new(ex, "complement", json_true());
		if (x->scale != 1)
			json_object_set_new(ex, "scale", json_real(x->scale));
		json_object_set_new(ex, "op", json_string(alert_cmp__name(x->cmp)));
		json_object_set_new(ex, "threshold", json_real(x->threshold));
		if (x->guard) {
			json_t *g = selector_json(&x->guard_sel, json_object());

			json_object_set_new(g, "op", json_string(alert_cmp__name(x->guard_cmp)));
			json_object_set_new(g, "threshold", json_real(x->guard_threshold));
			json_object_set_new(g, "on", json_string(x->guard_same ? "labels" : "instance"));
			json_object_set_new(ex, "and", g);
		}
		json_object_set_new(o, "expr", ex);
		json_object_set_new(o, "for", duration_json(r->for_s));
		for (j = 0; j < r->n_labels; j++)
			json_object_set_new(l, r->label_names[j], json_string(r->label_values[j]));
		json_object_set_new(o, "labels", l);
		if (r->summary[0])
			json_object_set_new(an, "summary", json_string(r->summary));
		if (r->description[0])
			json_object_set_new(an, "description", json_string(r->description));
		if (r->runbook_url[0])
			json_object_set_new(an, "runbook_url", json_string(r->runbook_url));
		json_object_set_new(o, "annotations", an);
		json_array_append_new(arr, o);
	}
	s = json_dumps(arr, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
	json_decref(arr);
	if (!s)
		return -ENOMEM;
	err = strbuf__puts(out, s);
	strbuf__puts(out, "\n");
	free(s);
	return err;
}

/* ---- lifecycle ---- */

static const struct metric_def alert_defs[] = {
	{ "fogprobe_alerts",
	  "Alerts of the probe's own rule engine by name, state (pending, firing) and severity, "
	  "like Prometheus's ALERTS",
	  METRIC_GAUGE, { "alertname", "alertstate", "severity" }, NULL, 0,
	  offsetof(struct alert_engine, f_alerts) },
	{ "fogprobe_alert_evaluations_total", "Evaluations of the alert rules", METRIC_COUNTER,
	  { NULL }, NULL, 0, offsetof(struct alert_engine, f_evals) },
	{ "fogprobe_alert_series_dropped_total",
	  "Series or alerts the rule engine could not keep: history_full (series history at "
	  "its cap), alerts_full (active alerts at their cap)",
	  METRIC_COUNTER, { "reason" }, NULL, 0, offsetof(struct alert_engine, f_dropped) },
	{ "fogprobe_alert_rules", "Alert rules loaded (defaults and config, minus disabled)",
	  METRIC_GAUGE, { NULL }, NULL, 0, offsetof(struct alert_engine, f_rules) },
	{ "fogprobe_alert_evaluation_seconds",
	  "CPU time of the last evaluation of all rules (the registry's refresh before it "
	  "excluded)",
	  METRIC_GAUGE, { NULL }, NULL, 0, offsetof(struct alert_engine, f_eval_s) },
};

static void override(struct alert_rule *d, const struct alert_rule *o)
{
	if (o->set & ALERT_SET_EXPR)
		d->expr = o->expr;
	if (o->set & ALERT_SET_FOR)
		d->for_s = o->for_s;
	if (o->set & ALERT_SET_THRESHOLD)
		d->expr.threshold = o->expr.threshold;
	if (o->set & ALERT_SET_WINDOW)
		d->expr.window_s = o->expr.window_s;
	if (o->set & ALERT_SET_LABELS) {
		int i, j;

		/* labels given replace those of the same name, others are added */
		for (i = 0; i < o->n_labels; i++) {
			for (j = 0; j < d->n_labels; j++)
				if (!strcmp(d->label_names[j], o->label_names[i]))
					break;
			if (j == ALERT_MAX_LABELS)
				continue;
			strcpy(d->label_names[j], o->label_names[i]);
			strcpy(d->label_values[j], o->label_values[i]);
			if (j == d->n_labels)
				d->n_labels++;
		}
	}
	if (o->set & ALERT_SET_ANNOTATIONS) {
		if (o->summary[0])
			strcpy(d->summary, o->summary);
		if (o->description[0])
			strcpy(d->description, o->description);
		if (o->runbook_url[0])
			strcpy(d->runbook_url, o->runbook_url);
	}
	if (o->set & ALERT_SET_DISABLED)
		d->disabled = o->disabled;
}

static int compile(struct rule_rt *rt)
{
	const struct alert_selector *sels[3] = { &rt->r.expr.sel, &rt->r.expr.den,
						 &rt->r.expr.guard_sel };
	int i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < sels[i]->n_match; j++) {
			char re[ALERT_VALUE_LEN + 8];
			int op = sels[i]->match[j].op;

			if (op != ALERT_MATCH_RE && op != ALERT_MATCH_NRE)
				continue;
			snprintf(re, sizeof(re), "^(%s)$", sels[i]->match[j].value);
			if (regcomp(&rt->re[i][j], re, REG_EXTENDED | REG_NOSUB))
				return -EINVAL;
		}
	return 0;
}

static void free_regex(struct rule_rt *rt)
{
	const struct alert_selector *sels[3] = { &rt->r.expr.sel, &rt->r.expr.den,
						 &rt->r.expr.guard_sel };
	int i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < sels[i]->n_match; j++)
			if (sels[i]->match[j].op == ALERT_MATCH_RE ||
			    sels[i]->match[j].op == ALERT_MATCH_NRE)
				regfree(&rt->re[i][j]);
}

struct alert_engine *alerts__new(const struct alert_engine_opts *o, char *err, size_t errlen)
{
	struct alert_rule *defs = calloc(ALERT_MAX_RULES, sizeof(*defs));
	struct alert_engine *e = calloc(1, sizeof(*e));
	int n_defs = 0, i, j, ok;

	if (!defs || !e)
		goto nomem;
	if (config__load_alert_rules(alert_rules__default_json, "<default alert rules>", defs,
				     ALERT_MAX_RULES, &n_defs, err, errlen))
		goto fail;
	pthread_mutex_init(&e->lock, NULL);
	e->reg = o->reg;
	e->events = o->events;
	e->sink = o->sink;
	snprintf(e->instance, sizeof(e->instance), "%s", o->instance ? o->instance : "");
	snprintf(e->generator_url, sizeof(e->generator_url), "%s",
		 o->generator_url ? o->generator_url : "");
	e->interval_s = o->cfg->interval_s > 0 ? o->cfg->interval_s : CONFIG_DEFAULT_ALERT_INTERVAL_S;
	e->resend_s = o->cfg->resend_s > 0 ? o->cfg->resend_s : CONFIG_DEFAULT_ALERT_RESEND_S;
	/* config entries: override the defaults of that name, or add a rule */
	for (i = 0; i < o->cfg->n_rules; i++) {
		const struct alert_rule *c = &o->cfg->rules[i];

		for (ok = 0, j = 0; j < n_defs; j++)
			if (!strcmp(defs[j].name, c->name)) {
				override(&defs[j], c);
				ok = 1;
			}
		if (ok)
			continue;
		if (!(c->set & ALERT_SET_EXPR)) {
			snprintf(err, errlen, "alerts.rules[%d]: %s is no default rule, so it needs an expr",
				 i, c->name);
			goto fail;
		}
		if (n_defs == ALERT_MAX_RULES) {
			snprintf(err, errlen, "alerts.rules[%d]: more than %d rules", i,
				 ALERT_MAX_RULES);
			goto fail;
		}
		defs[n_defs++] = *c;
	}
	e->rules = calloc(n_defs ? n_defs : 1, sizeof(*e->rules));
	e->alerts = calloc(ALERTS_MAX_ACTIVE, sizeof(*e->alerts));
	if (!e->rules || !e->alerts)
		goto nomem;
	e->max_window = e->interval_s;
	for (i = 0; i < n_defs; i++) {
		if (defs[i].disabled)
			continue;
		e->rules[e->n_rules].r = defs[i];
		if (compile(&e->rules[e->n_rules])) {
			snprintf(err, errlen, "alert %s: a matcher's regex does not compile",
				 defs[i].name);
			goto fail;
		}
		if (defs[i].expr.window_s > e->max_window)
			e->max_window = defs[i].expr.window_s;
		e->n_rules++;
	}
	e->max_samples = (size_t)(e->max_window / e->interval_s) + 3;
	if (e->max_samples > ALERTS_MAX_SAMPLES)
		e->max_samples = ALERTS_MAX_SAMPLES;
	if (metrics__register(o->reg, e, alert_defs, ARRAY_LEN(alert_defs)))
		goto nomem;
	metrics__set(e->f_rules, NULL, e->n_rules);
	free(defs);
	return e;
nomem:
	snprintf(err, errlen, "alert engine: %s", strerror(ENOMEM));
fail:
	free(defs);
	alerts__free(e);
	return NULL;
}

void alerts__free(struct alert_engine *e)
{
	size_t i;
	int r;

	if (!e)
		return;
	for (i = 0; i < HASH_SLOTS; i++)
		while (e->slots[i]) {
			struct hseries *h = e->slots[i];

			e->slots[i] = h->next;
			free(h->key);
			free(h->s);
			free(h);
		}
	for (i = 0; i < e->n_alerts; i++)
		free(e->alerts[i].ls);
	for (r = 0; r < e->n_rules; r++)
		free_regex(&e->rules[r]);
	free(e->alerts);
	free(e->rules);
	free(e);
}
